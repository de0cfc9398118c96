/* SPDX-License-Identifier: GPL-2.0 */
/*
 * rawvblk.h: a one-queue virtio-blk device on the raw VDUSE UAPI, no library.
 *
 * The programs that must not depend on libvduse (the guest tests that check
 * the kernel with their own device, and bench/null_raw.c which measures what
 * the raw UAPI allows) share this file: device creation, VQ set-up, the
 * IOTLB translation (GET_FD or GET_FD2 in AS 0, mmap of the domain file,
 * mappings cached), the control messages, the split-ring serve loop (direct
 * and indirect chains, event index, one interrupt per batch) and a
 * virtio-blk request served from a memory disk. Each program keeps its own
 * behaviour in the per-chain handler it passes to rvb_serve() and in the
 * few fields marked as options. Everything is static inline: rvb_serve()
 * is always inlined, so a constant handler becomes a direct call.
 *
 * Trust: indexes are masked, chains bounded, every address translated with
 * its length checked. A device with several threads serializes calls on one
 * struct rvb itself.
 */
#ifndef VDUSE_TESTS_RAWVBLK_H
#define VDUSE_TESTS_RAWVBLK_H

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/uio.h>
#include <unistd.h>
#include <linux/virtio_blk.h>
#include <linux/virtio_config.h>
#include <linux/virtio_ids.h>
#include <linux/virtio_ring.h>
#include "linux/vduse.h"
#include "vduse_test.h"	/* struct devcfg, blk_cfg(): no library either */

#define RVB_MAX_REGIONS	64
#define RVB_MAX_QUEUE	256	/* largest queue (and indirect table) served */

struct rvb_region {
	uint64_t start, last;
	uint8_t *addr;
};

struct rvb {
	int fd, kickfd;
	uint32_t max_num;		/* queue size given to VQ_SETUP */
	/* options, set before the device starts */
	int get_fd2;			/* translate with GET_FD2 in AS 0 (API v1) */
	int unknown_ok;			/* answer unknown messages OK, not FAILED */
	int resume;			/* taking over a started device whose I/O
					 * waits: VQ_SETUP may fail, start at used->idx */
	uint8_t *disk;			/* rvb_blk_chain(): the disk's memory */
	uint64_t disk_size;
	const char *id;			/* VIRTIO_BLK_T_GET_ID's answer */
	/* called on each device-writable data buffer of a read, before (done
	 * 0) and after (done 1) the disk is copied into it */
	void (*on_read)(struct rvb *r, uint8_t *buf, size_t len, int done);
	/* rvb_chain(): called on each buffer and indirect table it walks */
	void (*on_buf)(struct rvb *r, uint64_t iova, uint32_t len);
	/* user bounce memory: an IOVA from umem_start to umem_last is read at umem */
	uint8_t *umem;
	uint64_t umem_start, umem_last;
	/* state */
	int ready, event_idx;
	uint32_t num;
	struct vring_desc *desc;
	struct vring_avail *avail;
	struct vring_used *used;
	uint16_t last_avail, used_idx, signalled;
	uint64_t last_iova;		/* the last descriptor's address walked */
	unsigned long served, bad;	/* requests; malformed ones among them */
	int nreg;
	struct rvb_region reg[RVB_MAX_REGIONS];
};

/*
 * CREATE_DEV of a one-queue virtio-blk NAME on control fd CTL: FEATURES,
 * the config BLK, and one VQ group and address space if V1. 0 or -1 (errno).
 */
static inline int rvb_create(int ctl, const char *name, uint64_t features,
			     const struct virtio_blk_config *blk, int v1)
{
	struct devcfg cfg;

	blk_cfg(&cfg, name, 1, !!v1, !!v1);
	cfg.c.features = features;
	cfg.blk = *blk;
	return ioctl(ctl, VDUSE_CREATE_DEV, &cfg);
}

/*
 * Open /dev/vduse/NAME (waiting up to 5 s for it to appear), VQ_SETUP of
 * queue 0 with MAX_NUM entries, and the kick eventfd. 0 or -1 (errno).
 */
static inline int rvb_open(struct rvb *r, const char *name, uint32_t max_num)
{
	struct vduse_vq_config vq;
	char path[300];
	int i;

	r->kickfd = -1;
	snprintf(path, sizeof(path), "/dev/vduse/%s", name);
	for (i = 0; i < 50; i++) {
		r->fd = open(path, O_RDWR | O_NONBLOCK | O_CLOEXEC);
		if (r->fd >= 0 || errno != ENOENT)
			break;
		usleep(100000);
	}
	if (r->fd < 0)
		return -1;
	if (max_num > RVB_MAX_QUEUE) {
		errno = EINVAL;
		return -1;
	}
	r->max_num = max_num;
	memset(&vq, 0, sizeof(vq));
	vq.max_size = max_num;
	if (ioctl(r->fd, VDUSE_VQ_SETUP, &vq) && !r->resume)
		return -1;
	r->kickfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	return r->kickfd < 0 ? -1 : 0;
}

/* Unmap the cached mappings that overlap [start, last]. */
static inline void rvb_drop(struct rvb *r, uint64_t start, uint64_t last)
{
	int i;

	for (i = 0; i < r->nreg; ) {
		struct rvb_region *g = &r->reg[i];

		if (g->last < start || g->start > last) {
			i++;
			continue;
		}
		munmap(g->addr, g->last - g->start + 1);
		*g = r->reg[--r->nreg];
	}
}

/* IOTLB lookup of [start, last] in AS 0: the domain file's fd and entry E, or -1. */
static inline int rvb_get_fd(struct rvb *r, uint64_t start, uint64_t last,
			     struct vduse_iotlb_entry_v2 *e)
{
	struct vduse_iotlb_entry e1;
	int fd;

	memset(e, 0, sizeof(*e));
	e->start = start;
	e->last = last;
	if (r->get_fd2)
		return ioctl(r->fd, VDUSE_IOTLB_GET_FD2, e);
	memset(&e1, 0, sizeof(e1));
	e1.start = start;
	e1.last = last;
	fd = ioctl(r->fd, VDUSE_IOTLB_GET_FD, &e1);
	e->offset = e1.offset;
	e->start = e1.start;
	e->last = e1.last;
	e->perm = e1.perm;
	return fd;
}

/* [iova, iova + len) as a pointer, mapping its region on first use; NULL if not mapped. */
static inline void *rvb_xlate(struct rvb *r, uint64_t iova, uint64_t len)
{
	struct vduse_iotlb_entry_v2 e;
	struct rvb_region *g;
	void *p;
	int i, fd, prot;

	if (!len || iova + len - 1 < iova)
		return NULL;
	if (r->umem && iova >= r->umem_start && iova <= r->umem_last)
		return len - 1 <= r->umem_last - iova ? r->umem + (iova - r->umem_start) : NULL;
	for (i = 0; i < r->nreg; i++) {
		g = &r->reg[i];
		if (iova >= g->start && iova + len - 1 <= g->last)
			return g->addr + (iova - g->start);
	}
	if (r->nreg == RVB_MAX_REGIONS)
		return NULL;
	fd = rvb_get_fd(r, iova, iova + len - 1, &e);
	if (fd < 0)
		return NULL;
	if (iova < e.start || iova + len - 1 > e.last) {
		close(fd);
		return NULL;
	}
	prot = (e.perm & VDUSE_ACCESS_RO ? PROT_READ : 0) |
	       (e.perm & VDUSE_ACCESS_WO ? PROT_WRITE : 0);
	p = mmap(NULL, e.last - e.start + 1, prot, MAP_SHARED, fd, e.offset);
	close(fd);
	if (p == MAP_FAILED)
		return NULL;
	g = &r->reg[r->nreg++];
	g->start = e.start;
	g->last = e.last;
	g->addr = p;
	return g->addr + (iova - g->start);
}

/*
 * More than half of the mapping cache in use: unmap all but the rings'
 * mappings, between two chains (no pointer into them is held then), so
 * that the next chain's translations find room.
 */
static inline void rvb_trim(struct rvb *r)
{
	int i;

	for (i = 0; i < r->nreg; ) {
		struct rvb_region *g = &r->reg[i];
		uint8_t *end = g->addr + (g->last - g->start);

		if (((uint8_t *)r->desc >= g->addr && (uint8_t *)r->desc <= end) ||
		    ((uint8_t *)r->avail >= g->addr && (uint8_t *)r->avail <= end) ||
		    ((uint8_t *)r->used >= g->addr && (uint8_t *)r->used <= end)) {
			i++;
			continue;
		}
		munmap(g->addr, g->last - g->start + 1);
		*g = r->reg[--r->nreg];
	}
}

/* Queue 0 from VQ_GET_INFO: map its rings, set the kick fd. 0 (maybe not ready) or -1. */
static inline int rvb_vq_start(struct rvb *r)
{
	struct vduse_vq_info info = { .index = 0 };
	struct vduse_vq_eventfd ev = { .index = 0 };
	uint64_t features = 0;

	if (ioctl(r->fd, VDUSE_VQ_GET_INFO, &info) ||
	    ioctl(r->fd, VDUSE_DEV_GET_FEATURES, &features))
		return -1;
	if (!info.ready)
		return 0;
	if (!info.num || info.num > r->max_num || (info.num & (info.num - 1)))
		return -1;
	r->num = info.num;
	r->event_idx = !!(features & (1ull << VIRTIO_RING_F_EVENT_IDX));
	/* the event index words after the rings are mapped whether used or not */
	r->desc = rvb_xlate(r, info.desc_addr, 16ull * r->num);
	r->avail = rvb_xlate(r, info.driver_addr, 6 + 2ull * r->num);
	r->used = rvb_xlate(r, info.device_addr, 6 + 8ull * r->num);
	if (!r->desc || !r->avail || !r->used)
		return -1;
	/* in-order completion: on a take-over, what lies past used->idx waits */
	r->last_avail = r->resume ? r->used->idx : info.split.avail_index;
	r->used_idx = r->signalled = r->used->idx;
	ev.fd = r->kickfd;
	if (ioctl(r->fd, VDUSE_VQ_SETUP_KICKFD, &ev))
		return -1;
	r->ready = 1;
	return 0;
}

/* Forget the queue (reset) and every mapping. */
static inline void rvb_reset(struct rvb *r)
{
	r->ready = 0;
	r->last_avail = 0;
	rvb_drop(r, 0, ~0ull);
}

/*
 * Read one control message and answer it. 0 (also when none was there),
 * or -1 (errno) when reading or answering failed.
 */
static inline int rvb_msg(struct rvb *r)
{
	struct vduse_dev_request req;
	struct vduse_dev_response resp;
	ssize_t n = read(r->fd, &req, sizeof(req));

	if (n < 0 && errno == EAGAIN)
		return 0;
	if (n != sizeof(req)) {
		if (n >= 0)
			errno = EIO;
		return -1;
	}
	memset(&resp, 0, sizeof(resp));
	resp.request_id = req.request_id;
	resp.result = VDUSE_REQ_RESULT_OK;
	switch (req.type) {
	case VDUSE_GET_VQ_STATE:
		resp.vq_state.index = req.vq_state.index;
		resp.vq_state.split.avail_index = r->last_avail;
		break;
	case VDUSE_SET_STATUS:
		if (req.s.status & VIRTIO_CONFIG_S_DRIVER_OK) {
			if (!r->ready && rvb_vq_start(r))
				resp.result = VDUSE_REQ_RESULT_FAILED;
		} else if (req.s.status == 0) {
			rvb_reset(r);	/* the rings are freed, the bounce map withdrawn */
		}
		break;
	case VDUSE_UPDATE_IOTLB:
		rvb_drop(r, req.iova.start, req.iova.last);
		if (r->ready) {	/* the rings may have moved */
			r->ready = 0;
			if (rvb_vq_start(r))
				resp.result = VDUSE_REQ_RESULT_FAILED;
		}
		break;
	default:
		if (!r->unknown_ok)
			resp.result = VDUSE_REQ_RESULT_FAILED;
	}
	return write(r->fd, &resp, sizeof(resp)) == sizeof(resp) ? 0 : -1;
}

enum { RVB_EV_MSG = 1, RVB_EV_KICK = 2 };

/*
 * Wait up to MS ms (-1: for ever) for a message or a kick; the kick is
 * consumed. RVB_EV_* bits (0 on a timeout or a signal), or -1 (errno) if
 * the device fd is broken.
 */
static inline int rvb_wait(struct rvb *r, int ms)
{
	struct pollfd p[2] = {
		{ .fd = r->fd, .events = POLLIN },
		{ .fd = r->kickfd, .events = POLLIN },
	};
	uint64_t v;
	int ev = 0;

	if (poll(p, 2, ms) < 0)
		return errno == EINTR ? 0 : -1;
	if (p[0].revents & (POLLERR | POLLNVAL)) {
		errno = EIO;
		return -1;
	}
	if (p[0].revents & POLLIN)
		ev |= RVB_EV_MSG;
	if (p[1].revents & POLLIN) {
		(void)!read(r->kickfd, &v, sizeof(v));
		ev |= RVB_EV_KICK;
	}
	return ev;
}

/*
 * Walk the chain at HEAD (direct, or one indirect table) into RD readable
 * then WR writable buffers (at most RVB_MAX_QUEUE each). 0, or -1 if
 * malformed.
 */
static inline int rvb_chain(struct rvb *r, uint16_t head, struct iovec *rd, unsigned int *nrd,
			    struct iovec *wr, unsigned int *nwr)
{
	const struct vring_desc *tab = r->desc;
	unsigned int n = 0, max = r->num;
	uint32_t i = head;

	*nrd = *nwr = 0;
	if (i >= r->num)
		return -1;
	if (r->desc[i].flags & VRING_DESC_F_INDIRECT) {
		struct vring_desc ind = r->desc[i];

		if (ind.len % 16 || !ind.len || ind.len / 16 > RVB_MAX_QUEUE)
			return -1;
		max = ind.len / 16;
		tab = rvb_xlate(r, ind.addr, ind.len);
		if (!tab)
			return -1;
		if (r->on_buf)
			r->on_buf(r, ind.addr, ind.len);
		i = 0;
	}
	for (;;) {
		struct vring_desc de = tab[i];
		void *p;

		if (++n > max)
			return -1;
		r->last_iova = de.addr;
		p = rvb_xlate(r, de.addr, de.len);
		if (!p)
			return -1;
		if (r->on_buf)
			r->on_buf(r, de.addr, de.len);
		if (de.flags & VRING_DESC_F_WRITE) {
			wr[*nwr].iov_base = p;
			wr[(*nwr)++].iov_len = de.len;
		} else {
			if (*nwr)
				return -1;
			rd[*nrd].iov_base = p;
			rd[(*nrd)++].iov_len = de.len;
		}
		if (!(de.flags & VRING_DESC_F_NEXT))
			return 0;
		i = de.next;
		if (i >= max)
			return -1;
	}
}

/* Copy LEN bytes between the disk at OFF and the iovecs from byte SKIP on. */
static inline void rvb_disk_copy(struct rvb *r, uint64_t off, const struct iovec *iov,
				 unsigned int n, size_t skip, size_t len, int to_iov)
{
	unsigned int i;

	for (i = 0; i < n && len; i++) {
		uint8_t *p = iov[i].iov_base;
		size_t k = iov[i].iov_len;

		if (skip >= k) {
			skip -= k;
			continue;
		}
		p += skip;
		k -= skip;
		skip = 0;
		if (k > len)
			k = len;
		if (to_iov) {
			if (r->on_read)
				r->on_read(r, p, k, 0);
			memcpy(p, r->disk + off, k);
			if (r->on_read)
				r->on_read(r, p, k, 1);
		} else {
			memcpy(r->disk + off, p, k);
		}
		off += k;
		len -= k;
	}
}

static inline size_t rvb_iov_len(const struct iovec *iov, unsigned int n)
{
	size_t len = 0;
	unsigned int i;

	for (i = 0; i < n; i++)
		len += iov[i].iov_len;
	return len;
}

/*
 * Serve the virtio-blk request at HEAD from r->disk: the used length (data
 * written and the status byte), or 0 if malformed.
 */
static inline uint32_t rvb_blk_chain(struct rvb *r, uint16_t head)
{
	struct iovec rd[RVB_MAX_QUEUE], wr[RVB_MAX_QUEUE];
	struct virtio_blk_outhdr hdr;
	unsigned int nrd, nwr;
	size_t in, out;
	uint32_t written = 0;
	uint8_t status = VIRTIO_BLK_S_OK, *st;
	uint64_t off;

	if (rvb_chain(r, head, rd, &nrd, wr, &nwr) || !nrd || rd[0].iov_len < sizeof(hdr) ||
	    !nwr || !wr[nwr - 1].iov_len)
		return 0;
	memcpy(&hdr, rd[0].iov_base, sizeof(hdr));
	st = (uint8_t *)wr[nwr - 1].iov_base + wr[nwr - 1].iov_len - 1;
	in = rvb_iov_len(wr, nwr) - 1;
	out = rvb_iov_len(rd, nrd) - sizeof(hdr);
	off = hdr.sector * 512;
	switch (hdr.type) {
	case VIRTIO_BLK_T_IN:
	case VIRTIO_BLK_T_OUT:
		if (hdr.sector > r->disk_size / 512 ||
		    (hdr.type == VIRTIO_BLK_T_IN ? in : out) > r->disk_size - off) {
			status = VIRTIO_BLK_S_IOERR;
		} else if (hdr.type == VIRTIO_BLK_T_IN) {
			rvb_disk_copy(r, off, wr, nwr, 0, in, 1);
			written = in;
		} else {
			rvb_disk_copy(r, off, rd, nrd, sizeof(hdr), out, 0);
		}
		break;
	case VIRTIO_BLK_T_FLUSH:
		break;
	case VIRTIO_BLK_T_GET_ID:
		if (!r->id || !in) {
			status = VIRTIO_BLK_S_UNSUPP;
			break;
		}
		written = strlen(r->id) + 1;	/* with its NUL, in the first buffer */
		if (written > in)
			written = in;
		if (written > wr[0].iov_len)
			written = wr[0].iov_len;
		memcpy(wr[0].iov_base, r->id, written);
		break;
	default:
		status = VIRTIO_BLK_S_UNSUPP;
	}
	*st = status;
	return written + 1;
}

/* The event index words after the rings (VIRTIO_RING_F_EVENT_IDX). */
static inline uint16_t *rvb_avail_event(struct rvb *r)
{
	return (uint16_t *)((uint8_t *)r->used + 4 + 8 * r->num);
}

static inline uint16_t *rvb_used_event(struct rvb *r)
{
	return (uint16_t *)((uint8_t *)r->avail + 4 + 2 * r->num);
}

typedef uint32_t rvb_handler(struct rvb *r, uint16_t head);

/*
 * Serve every available chain with HANDLE (the used length, 0 if
 * malformed), publish the used entries once per batch and interrupt the
 * driver unless it asked not to be. BEFORE, if not NULL, runs when new
 * chains are seen, before they are served. The number served, or -1
 * (errno) if the interrupt could not be injected.
 */
static inline __attribute__((always_inline)) int
rvb_serve(struct rvb *r, rvb_handler *handle, void (*before)(struct rvb *r))
{
	uint16_t avail, old, ev, mask = r->num - 1;
	uint32_t len;
	int n = 0;

	if (!r->ready)
		return 0;
	old = r->used_idx;
	for (;;) {
		avail = __atomic_load_n(&r->avail->idx, __ATOMIC_ACQUIRE);
		if (avail == r->last_avail) {
			if (!r->event_idx)
				break;
			/* ask for a kick at the next buffer, then look again */
			__atomic_store_n(rvb_avail_event(r), r->last_avail, __ATOMIC_RELAXED);
			__atomic_thread_fence(__ATOMIC_SEQ_CST);
			if (__atomic_load_n(&r->avail->idx, __ATOMIC_ACQUIRE) == r->last_avail)
				break;
			continue;
		}
		if (before)
			before(r);
		while (r->last_avail != avail) {
			uint16_t head = r->avail->ring[r->last_avail & mask];

			if (__builtin_expect(r->nreg > RVB_MAX_REGIONS / 2, 0))
				rvb_trim(r);
			len = handle(r, head);
			r->bad += !len;
			r->served++;
			n++;
			r->used->ring[r->used_idx & mask].id = head;
			r->used->ring[r->used_idx & mask].len = len;
			r->used_idx++;
			r->last_avail++;
		}
		__atomic_store_n(&r->used->idx, r->used_idx, __ATOMIC_RELEASE);
	}
	if (r->used_idx == old)
		return 0;
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (r->event_idx) {
		ev = __atomic_load_n(rvb_used_event(r), __ATOMIC_RELAXED);
		/* vring_need_event(): did used_idx pass the driver's used_event? */
		if ((uint16_t)(r->used_idx - ev - 1) >= (uint16_t)(r->used_idx - r->signalled))
			return n;
	} else if (r->avail->flags & VRING_AVAIL_F_NO_INTERRUPT) {
		return n;
	}
	r->signalled = r->used_idx;
	return ioctl(r->fd, VDUSE_VQ_INJECT_IRQ, &(uint32_t){ 0 }) ? -1 : n;
}

/* Unmap everything and close the device's fds (the device itself stays). */
static inline void rvb_close(struct rvb *r)
{
	rvb_drop(r, 0, ~0ull);
	if (r->fd >= 0)
		close(r->fd);
	if (r->kickfd >= 0)
		close(r->kickfd);
	r->fd = r->kickfd = -1;
	r->ready = 0;
}

#endif
