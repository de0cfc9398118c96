// SPDX-License-Identifier: GPL-2.0
/*
 * null-raw: the null virtio-blk (bench/nullblk.h) as a minimal loop on the
 * raw VDUSE UAPI (API v0), no library: the upper bound for the library
 * bench (bench/run-lib). Same features as the library devices (split ring,
 * indirect descriptors, event index), one queue of 256. It trusts the
 * driver only as far as a bench needs: indexes are masked, chains bounded,
 * every address translated through the IOTLB with its length checked.
 *
 *   null-raw NAME
 *
 * At exit it also prints in how many distinct IOVA pages (below 2 GiB) the
 * driver's request buffers and indirect tables were: how many bounce pages
 * the kernel's streaming mappings went through (suite bounce_reuse).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>
#include "linux/vduse.h"
#include "flex.h"
#include "nullblk.h"

#define MAX_REGIONS	64
#define QSZ		NULLBLK_QUEUE_SIZE

static struct {
	int fd, kickfd;
	struct { uint64_t start, last; uint8_t *addr; } reg[MAX_REGIONS];
	int nreg;
	int ready, event_idx;
	uint32_t num;
	struct vring_desc *desc;
	struct vring_avail *avail;
	struct vring_used *used;
	uint16_t last_avail, used_idx, signalled;
} d = { .fd = -1, .kickfd = -1 };

static volatile sig_atomic_t stop;
static unsigned long served, bad;

/* IOVA pages request buffers were seen in, below 2 GiB */
#define SEEN_PAGES	(1ul << 19)
static uint64_t seen[SEEN_PAGES / 64];
static unsigned long nseen;

static void note_pages(uint64_t iova, uint32_t len)
{
	uint64_t pg, last = (iova + (len ? len - 1 : 0)) >> 12;

	for (pg = iova >> 12; pg <= last && pg < SEEN_PAGES; pg++) {
		if (!(seen[pg / 64] & (1ull << (pg % 64))))
			nseen++;
		seen[pg / 64] |= 1ull << (pg % 64);
	}
}

static void on_signal(int sig)
{
	stop = 1;
}

static void drop_regions(uint64_t start, uint64_t last)
{
	int i;

	for (i = 0; i < d.nreg; ) {
		if (d.reg[i].last < start || d.reg[i].start > last) {
			i++;
			continue;
		}
		munmap(d.reg[i].addr, d.reg[i].last - d.reg[i].start + 1);
		d.reg[i] = d.reg[--d.nreg];
	}
}

/* [iova, iova + len) as a pointer; the region is mapped on first use. */
static void *xlate(uint64_t iova, uint64_t len)
{
	struct vduse_iotlb_entry e;
	void *p;
	int i, fd, prot;

	if (!len || iova + len - 1 < iova)
		return NULL;
	for (i = 0; i < d.nreg; i++)
		if (iova >= d.reg[i].start && iova + len - 1 <= d.reg[i].last)
			return d.reg[i].addr + (iova - d.reg[i].start);
	if (d.nreg == MAX_REGIONS)
		return NULL;
	memset(&e, 0, sizeof(e));
	e.start = iova;
	e.last = iova + len - 1;
	fd = ioctl(d.fd, VDUSE_IOTLB_GET_FD, &e);
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
	d.reg[d.nreg].start = e.start;
	d.reg[d.nreg].last = e.last;
	d.reg[d.nreg].addr = p;
	return (uint8_t *)d.reg[d.nreg++].addr + (iova - e.start);
}

static int vq_start(void)
{
	struct vduse_vq_info info = { .index = 0 };
	struct vduse_vq_eventfd ev = { .index = 0 };
	uint64_t features = 0;

	if (ioctl(d.fd, VDUSE_VQ_GET_INFO, &info) ||
	    ioctl(d.fd, VDUSE_DEV_GET_FEATURES, &features))
		return -1;
	if (!info.ready)
		return 0;
	if (!info.num || info.num > QSZ || (info.num & (info.num - 1)))
		return -1;
	d.num = info.num;
	d.event_idx = !!(features & (1ull << VIRTIO_RING_F_EVENT_IDX));
	d.desc = xlate(info.desc_addr, 16ull * d.num);
	d.avail = xlate(info.driver_addr, 6 + 2ull * d.num);
	d.used = xlate(info.device_addr, 6 + 8ull * d.num);
	if (!d.desc || !d.avail || !d.used)
		return -1;
	d.last_avail = info.split.avail_index;
	d.used_idx = d.signalled = d.used->idx;
	ev.fd = d.kickfd;
	if (ioctl(d.fd, VDUSE_VQ_SETUP_KICKFD, &ev))
		return -1;
	d.ready = 1;
	return 0;
}

/* Walk one chain (direct or one indirect table) into iovecs and serve it. */
static uint32_t serve_chain(uint16_t head)
{
	struct iovec rd[QSZ], wr[QSZ];
	const struct vring_desc *tab = d.desc;
	unsigned int nrd = 0, nwr = 0, n = 0, max = d.num;
	uint32_t i = head;

	if (i >= d.num)
		return 0;
	if (d.desc[i].flags & VRING_DESC_F_INDIRECT) {
		if (d.desc[i].len % 16 || !d.desc[i].len || d.desc[i].len / 16 > QSZ)
			return 0;
		max = d.desc[i].len / 16;
		tab = xlate(d.desc[i].addr, d.desc[i].len);
		if (!tab)
			return 0;
		note_pages(d.desc[i].addr, d.desc[i].len);
		i = 0;
	}
	for (;;) {
		struct vring_desc de = tab[i];
		void *p;

		if (++n > max)
			return 0;
		p = xlate(de.addr, de.len);
		if (!p)
			return 0;
		note_pages(de.addr, de.len);
		if (de.flags & VRING_DESC_F_WRITE) {
			wr[nwr].iov_base = p;
			wr[nwr++].iov_len = de.len;
		} else {
			if (nwr)
				return 0;
			rd[nrd].iov_base = p;
			rd[nrd++].iov_len = de.len;
		}
		if (!(de.flags & VRING_DESC_F_NEXT))
			break;
		i = de.next;
		if (i >= max)
			return 0;
	}
	return nullblk_serve(rd, nrd, wr, nwr);
}

/* The event index fields after the rings (EVENT_IDX). */
static uint16_t *avail_event(void)
{
	return (uint16_t *)((uint8_t *)d.used + 4 + 8 * d.num);
}

static uint16_t *used_event(void)
{
	return (uint16_t *)((uint8_t *)d.avail + 4 + 2 * d.num);
}

static void vq_serve(void)
{
	uint16_t avail, old, ev, mask = d.num - 1;
	uint32_t len;

	if (!d.ready)
		return;
	old = d.used_idx;
	for (;;) {
		avail = __atomic_load_n(&d.avail->idx, __ATOMIC_ACQUIRE);
		if (avail == d.last_avail) {
			if (!d.event_idx)
				break;
			/* ask for a kick at the next buffer, then look again */
			__atomic_store_n(avail_event(), d.last_avail, __ATOMIC_RELAXED);
			__atomic_thread_fence(__ATOMIC_SEQ_CST);
			if (__atomic_load_n(&d.avail->idx, __ATOMIC_ACQUIRE) == d.last_avail)
				break;
			continue;
		}
		while (d.last_avail != avail) {
			uint16_t head = d.avail->ring[d.last_avail & mask];

			len = serve_chain(head);
			bad += !len;
			served++;
			d.used->ring[d.used_idx & mask].id = head;
			d.used->ring[d.used_idx & mask].len = len;
			d.used_idx++;
			d.last_avail++;
		}
		__atomic_store_n(&d.used->idx, d.used_idx, __ATOMIC_RELEASE);
	}
	if (d.used_idx == old)
		return;
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (d.event_idx) {
		ev = __atomic_load_n(used_event(), __ATOMIC_RELAXED);
		/* vring_need_event(): did used_idx pass the driver's used_event? */
		if ((uint16_t)(d.used_idx - ev - 1) >= (uint16_t)(d.used_idx - d.signalled))
			return;
	} else if (d.avail->flags & VRING_AVAIL_F_NO_INTERRUPT) {
		return;
	}
	d.signalled = d.used_idx;
	ioctl(d.fd, VDUSE_VQ_INJECT_IRQ, &(uint32_t){0});
}

static void handle_msg(void)
{
	struct vduse_dev_request req;
	struct vduse_dev_response resp;
	ssize_t n = read(d.fd, &req, sizeof(req));

	if (n != sizeof(req))
		return;
	memset(&resp, 0, sizeof(resp));
	resp.request_id = req.request_id;
	resp.result = VDUSE_REQ_RESULT_OK;
	switch (req.type) {
	case VDUSE_GET_VQ_STATE:
		resp.vq_state.index = req.vq_state.index;
		resp.vq_state.split.avail_index = d.last_avail;
		break;
	case VDUSE_SET_STATUS:
		if (req.s.status & VIRTIO_CONFIG_S_DRIVER_OK) {
			if (!d.ready && vq_start())
				resp.result = VDUSE_REQ_RESULT_FAILED;
		} else if (req.s.status == 0) {
			d.ready = 0;
			d.last_avail = 0;
			drop_regions(0, ~0ull);
		}
		break;
	case VDUSE_UPDATE_IOTLB:
		drop_regions(req.iova.start, req.iova.last);
		if (d.ready) {	/* the rings may have moved */
			d.ready = 0;
			if (vq_start())
				resp.result = VDUSE_REQ_RESULT_FAILED;
		}
		break;
	default:
		resp.result = VDUSE_REQ_RESULT_FAILED;
	}
	if (write(d.fd, &resp, sizeof(resp)) != sizeof(resp))
		fprintf(stderr, "null-raw: write response: %s\n", strerror(errno));
}

int main(int argc, char **argv)
{
	union {
		struct vduse_dev_config c;
		struct {
			FLEX_HEAD(struct vduse_dev_config);
			struct virtio_blk_config blk;
		};
	} cfg;
	struct vduse_vq_config vq = { .index = 0, .max_size = QSZ };
	struct sigaction sa;
	char path[300];
	uint64_t ver = 0;
	int ctl, i, ret = 0, dret;

	if (argc != 2 || strlen(argv[1]) >= VDUSE_NAME_MAX) {
		fprintf(stderr, "usage: null-raw NAME\n");
		return 2;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	ctl = open("/dev/vduse/control", O_RDWR);
	if (ctl < 0 || ioctl(ctl, VDUSE_SET_API_VERSION, &ver)) {
		fprintf(stderr, "null-raw: /dev/vduse/control: %s\n", strerror(errno));
		return 1;
	}
	memset(&cfg, 0, sizeof(cfg));
	snprintf(cfg.c.name, sizeof(cfg.c.name), "%s", argv[1]);
	cfg.c.device_id = VIRTIO_ID_BLOCK;
	cfg.c.features = NULLBLK_FEATURES;
	cfg.c.vq_num = 1;
	cfg.c.vq_align = 4096;
	cfg.c.config_size = sizeof(cfg.blk);
	nullblk_config(&cfg.blk);
	if (ioctl(ctl, VDUSE_CREATE_DEV, &cfg)) {
		fprintf(stderr, "null-raw: CREATE_DEV: %s\n", strerror(errno));
		return 1;
	}
	snprintf(path, sizeof(path), "/dev/vduse/%s", argv[1]);
	for (i = 0; i < 50 && (d.fd = open(path, O_RDWR | O_NONBLOCK)) < 0; i++)
		usleep(100000);
	d.kickfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (d.fd < 0 || d.kickfd < 0 || ioctl(d.fd, VDUSE_VQ_SETUP, &vq)) {
		fprintf(stderr, "null-raw: %s: %s\n", path, strerror(errno));
		return 1;
	}
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	printf("# nullblk %s: raw UAPI loop, VDUSE API v0\n", argv[1]);
	while (!stop) {
		struct pollfd p[2] = {
			{ .fd = d.fd, .events = POLLIN },
			{ .fd = d.kickfd, .events = POLLIN },
		};
		uint64_t v;

		if (poll(p, 2, 200) < 0) {
			if (errno == EINTR)
				continue;
			ret = 1;
			break;
		}
		if (p[0].revents & POLLERR) {
			ret = 1;
			break;
		}
		if (p[0].revents & POLLIN)
			handle_msg();
		if (p[1].revents & POLLIN) {
			if (read(d.kickfd, &v, sizeof(v)) < 0 && errno != EAGAIN)
				ret = 1;
			vq_serve();
		}
	}
	printf("# nullblk %s: served %lu requests, %lu malformed\n", argv[1], served, bad);
	printf("# nullblk %s: request buffers in %lu distinct IOVA pages\n", argv[1], nseen);
	drop_regions(0, ~0ull);
	close(d.fd);
	/* the kernel reads VDUSE_NAME_MAX bytes: argv[1] may end the stack */
	for (i = 0; (dret = ioctl(ctl, VDUSE_DESTROY_DEV, cfg.c.name)) && errno == EBUSY && i < 50; i++)
		usleep(100000);
	if (dret)
		fprintf(stderr, "null-raw: DESTROY_DEV %s: %s\n", argv[1], strerror(errno));
	return ret || bad || dret ? 1 : 0;
}
