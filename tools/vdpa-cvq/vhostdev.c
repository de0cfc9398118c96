// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * libvdpacvq, device part: a vhost-vdpa net device driven as QEMU drives it
 * with a shadowed control virtqueue (docs/vdpa-cvq.md,
 * vhost-vdpa-cvq.md §3, §4, §6, §10).
 *
 * The session owns two memfd regions:
 *  - "guest memory", mapped in ASID 0 at GUEST_IOVA: the data vq rings;
 *  - the shadow area, mapped in ASID 1 (ASID 0 when every vq is shadowed at
 *    migration start) at SHADOW_IOVA: the shadow CVQ ring, the command-out
 *    area and the status bytes.
 * The two IOVA ranges never overlap, so a device that looks up a CVQ buffer
 * in the wrong address space finds nothing.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>
#include <linux/vhost.h>
#include <linux/vhost_types.h>
#include <linux/virtio_config.h>
#include <linux/virtio_ids.h>
#include <linux/virtio_net.h>
#include <linux/virtio_ring.h>
#include "libvdpacvq.h"

#define BIT(n) (1ull << (n))
#define QSZ 64			/* every ring: 64 entries */
#define RING_PAGE 4096		/* desc at 0, avail at 1024, used at 2048 */
#define GUEST_IOVA 0x100000ull
#define GUEST_SIZE (1ull << 20)
#define SHADOW_IOVA 0x40000000ull
#define SH_OUT 0x1000		/* command-out area: 64 KiB */
#define SH_OUT_SIZE 0x10000
#define SH_STATUS 0x11000	/* one status byte per command of a batch */
#define SHADOW_SIZE 0x12000
#define BATCH_MAX (QSZ / 2)
#define DATA_BUFS 0x40000	/* per data vq: 6 buffers of 2 KiB at + vq * 0x3000 */
#define NBUF 6
#define BUFSZ 2048
#define NET_HDR 12		/* virtio_net_hdr_v1 */
#define CVQ_ASID 1
#define WANT_BACKEND (BIT(VHOST_BACKEND_F_IOTLB_MSG_V2) | BIT(VHOST_BACKEND_F_IOTLB_BATCH) | \
		      BIT(VHOST_BACKEND_F_IOTLB_ASID))

struct vdpacvq_dev {
	int fd;
	char err[512];
	uint64_t backend_offered, backend;
	uint32_t device_id, nvqs, ngroups, nas;
	uint64_t offered;
	uint16_t max_pairs;
	uint8_t mac[6];

	/* session */
	int started;
	enum vdpacvq_mode mode;
	uint64_t features;
	uint32_t cvq, cvq_group, ndata, shadow_asid;
	uint8_t *guest, *shadow;
	int guest_mapped, shadow_mapped;
	int kick[VDPACVQ_MAX_VQS], call[VDPACVQ_MAX_VQS];
	uint16_t cvq_avail;		/* next avail index of the shadow CVQ */
	uint16_t avail[VDPACVQ_MAX_VQS];	/* next avail index of each data vq */
	uint16_t used[VDPACVQ_MAX_VQS];		/* used entries consumed */
	uint32_t tx_next[VDPACVQ_MAX_VQS];
	int timeout_ms;
	struct vdpacvq_state model;
};

static int fail(struct vdpacvq_dev *d, int err, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail(struct vdpacvq_dev *d, int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(d->err, sizeof(d->err), fmt, ap);
	va_end(ap);
	return err < 0 ? err : -err;
}

const char *vdpacvq_error(const struct vdpacvq_dev *d)
{
	return d->err;
}

int vdpacvq_fd(const struct vdpacvq_dev *d)
{
	return d->fd;
}

const struct vdpacvq_state *vdpacvq_model(const struct vdpacvq_dev *d)
{
	return &d->model;
}

/* ---- vhost-vdpa calls ------------------------------------------------------ */

static int set_status(struct vdpacvq_dev *d, uint8_t s)
{
	if (ioctl(d->fd, VHOST_VDPA_SET_STATUS, &s))
		return fail(d, errno, "SET_STATUS 0x%x: %s", s, strerror(errno));
	return 0;
}

static int get_status(struct vdpacvq_dev *d)
{
	uint8_t s = 0;

	if (ioctl(d->fd, VHOST_VDPA_GET_STATUS, &s))
		return fail(d, errno, "GET_STATUS: %s", strerror(errno));
	return s;
}

static int set_features(struct vdpacvq_dev *d, uint64_t f)
{
	int st;

	if (set_status(d, VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER))
		return -EIO;
	if (ioctl(d->fd, VHOST_SET_FEATURES, &f))
		return fail(d, errno, "SET_FEATURES 0x%llx: %s", (unsigned long long)f, strerror(errno));
	if (set_status(d, VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER | VIRTIO_CONFIG_S_FEATURES_OK))
		return -EIO;
	st = get_status(d);
	if (st < 0)
		return st;
	if (!(st & VIRTIO_CONFIG_S_FEATURES_OK))
		return fail(d, EIO, "the device refused features 0x%llx (FEATURES_OK not kept)",
			    (unsigned long long)f);
	return 0;
}

/* GET_VRING_GROUP; the group or -errno. */
static long vring_group(struct vdpacvq_dev *d, uint32_t vq)
{
	struct vhost_vring_state s = { .index = vq };

	if (ioctl(d->fd, VHOST_VDPA_GET_VRING_GROUP, &s))
		return -errno;
	return s.num;
}

static ssize_t iotlb(struct vdpacvq_dev *d, uint32_t asid, uint8_t type, uint64_t iova,
		     uint64_t size, const void *uaddr, uint8_t perm)
{
	struct vhost_msg_v2 m;

	memset(&m, 0, sizeof(m));
	m.type = VHOST_IOTLB_MSG_V2;
	m.asid = asid;
	m.iotlb.iova = iova;
	m.iotlb.size = size;
	m.iotlb.uaddr = (uint64_t)(uintptr_t)uaddr;
	m.iotlb.perm = perm;
	m.iotlb.type = type;
	return write(d->fd, &m, sizeof(m));
}

/*
 * One batch per ASID (one set_map, so one UPDATE_IOTLB round trip for a
 * VDUSE device). EFAULT from write() means "rejected" (§2.4).
 */
static int iotlb_batch(struct vdpacvq_dev *d, uint32_t asid, int n, const uint64_t *iova,
		       const uint64_t *size, void *const *uaddr, uint8_t type)
{
	int i, e;

	if (iotlb(d, asid, VHOST_IOTLB_BATCH_BEGIN, 0, 0, NULL, 0) != sizeof(struct vhost_msg_v2))
		return fail(d, errno, "IOTLB BATCH_BEGIN asid %u: %s", asid, strerror(errno));
	for (i = 0; i < n; i++)
		if (iotlb(d, asid, type, iova[i], size[i], uaddr ? uaddr[i] : NULL,
			  VHOST_ACCESS_RW) != sizeof(struct vhost_msg_v2)) {
			e = errno;
			iotlb(d, asid, VHOST_IOTLB_BATCH_END, 0, 0, NULL, 0);
			return fail(d, e, "IOTLB %s iova 0x%llx in asid %u rejected: %s",
				    type == VHOST_IOTLB_UPDATE ? "UPDATE" : "INVALIDATE",
				    (unsigned long long)iova[i], asid, strerror(e));
		}
	if (iotlb(d, asid, VHOST_IOTLB_BATCH_END, 0, 0, NULL, 0) != sizeof(struct vhost_msg_v2))
		return fail(d, errno, "IOTLB BATCH_END asid %u (the device refused the map?): %s", asid,
			    strerror(errno));
	return 0;
}

static int read_config(struct vdpacvq_dev *d)
{
	uint64_t raw[(sizeof(struct vhost_vdpa_config) + 16 + 7) / 8];
	struct vhost_vdpa_config *c = (struct vhost_vdpa_config *)raw;
	uint32_t size = 0;

	memset(raw, 0, sizeof(raw));
	if (ioctl(d->fd, VHOST_VDPA_GET_CONFIG_SIZE, &size))
		return fail(d, errno, "GET_CONFIG_SIZE: %s", strerror(errno));
	c->off = 0;
	c->len = size < 10 ? size : 10;
	if (c->len && ioctl(d->fd, VHOST_VDPA_GET_CONFIG, c))
		return fail(d, errno, "GET_CONFIG: %s", strerror(errno));
	if (d->offered & BIT(VIRTIO_NET_F_MAC) && c->len >= 6)
		memcpy(d->mac, c->buf, 6);
	d->max_pairs = 1;
	if (d->offered & (BIT(VIRTIO_NET_F_MQ) | BIT(VIRTIO_NET_F_RSS))) {
		if (c->len < 10)
			return fail(d, EINVAL, "MQ/RSS offered but the config space has no max_virtqueue_pairs");
		d->max_pairs = c->buf[8] | c->buf[9] << 8;
		if (!d->max_pairs || 2u * d->max_pairs >= VDPACVQ_MAX_VQS)
			return fail(d, EINVAL, "max_virtqueue_pairs %u is not supported (1..%d)", d->max_pairs,
				    (VDPACVQ_MAX_VQS - 1) / 2);
	}
	return 0;
}

int vdpacvq_open(const char *path, struct vdpacvq_dev **out)
{
	struct vdpacvq_dev *d = calloc(1, sizeof(*d));
	uint64_t bf;
	int i, r;

	*out = d;
	if (!d)
		return -ENOMEM;
	for (i = 0; i < VDPACVQ_MAX_VQS; i++)
		d->kick[i] = d->call[i] = -1;
	d->fd = open(path, O_RDWR | O_CLOEXEC);
	if (d->fd < 0)
		return fail(d, errno, "open %s: %s", path, strerror(errno));
	if (ioctl(d->fd, VHOST_SET_OWNER))
		return fail(d, errno, "SET_OWNER: %s", strerror(errno));
	if (ioctl(d->fd, VHOST_GET_BACKEND_FEATURES, &d->backend_offered))
		return fail(d, errno, "GET_BACKEND_FEATURES: %s", strerror(errno));
	bf = d->backend_offered & (WANT_BACKEND | BIT(VHOST_BACKEND_F_SUSPEND));
	if (ioctl(d->fd, VHOST_SET_BACKEND_FEATURES, &bf))
		return fail(d, errno, "SET_BACKEND_FEATURES 0x%llx: %s", (unsigned long long)bf, strerror(errno));
	d->backend = bf;
	if (ioctl(d->fd, VHOST_VDPA_GET_DEVICE_ID, &d->device_id))
		return fail(d, errno, "GET_DEVICE_ID: %s", strerror(errno));
	if (ioctl(d->fd, VHOST_GET_FEATURES, &d->offered))
		return fail(d, errno, "GET_FEATURES: %s", strerror(errno));
	if (ioctl(d->fd, VHOST_VDPA_GET_VQS_COUNT, &d->nvqs))
		return fail(d, errno, "GET_VQS_COUNT: %s", strerror(errno));
	if (ioctl(d->fd, VHOST_VDPA_GET_GROUP_NUM, &d->ngroups))
		return fail(d, errno, "GET_GROUP_NUM: %s", strerror(errno));
	if (ioctl(d->fd, VHOST_VDPA_GET_AS_NUM, &d->nas))
		return fail(d, errno, "GET_AS_NUM: %s", strerror(errno));
	if (d->device_id == VIRTIO_ID_NET) {
		r = read_config(d);
		if (r)
			return r;
	}
	return 0;
}

static void session_free(struct vdpacvq_dev *d)
{
	for (int i = 0; i < VDPACVQ_MAX_VQS; i++) {
		if (d->kick[i] >= 0)
			close(d->kick[i]);
		if (d->call[i] >= 0)
			close(d->call[i]);
		d->kick[i] = d->call[i] = -1;
	}
	if (d->guest)
		munmap(d->guest, GUEST_SIZE);
	if (d->shadow)
		munmap(d->shadow, SHADOW_SIZE);
	d->guest = d->shadow = NULL;
	d->started = 0;
}

void vdpacvq_close(struct vdpacvq_dev *d)
{
	if (!d)
		return;
	if (d->started)
		vdpacvq_stop(d);
	session_free(d);
	if (d->fd >= 0)
		close(d->fd);
	free(d);
}

/* ---- probe ----------------------------------------------------------------- */

static int probe_set(struct vdpacvq_dev *d, struct vdpacvq_probe *p, int k, uint64_t features, uint32_t cvq,
		     int *nogroups)
{
	struct vdpacvq_probe_set *s = &p->set[k];
	long g, h;
	uint32_t i;
	int r;

	s->features = features;
	s->cvq = cvq;
	s->shared_vq = -1;
	r = set_features(d, features);
	if (r)
		return r;
	if (s->cvq >= d->nvqs)
		return fail(d, EINVAL, "the CVQ index %u is beyond the device's %u vqs", s->cvq, d->nvqs);
	g = vring_group(d, s->cvq);
	if (g == -EOPNOTSUPP) {
		*nogroups = 1;
		return 0;
	}
	if (g < 0)
		return fail(d, -g, "GET_VRING_GROUP(%u): %s", s->cvq, strerror(-g));
	s->group = g;
	for (i = 0; i < s->cvq; i++) {
		h = vring_group(d, i);
		if (h < 0)
			return fail(d, -h, "GET_VRING_GROUP(%u): %s", i, strerror(-h));
		if (h == g) {
			s->shared_vq = i;
			break;
		}
	}
	return set_status(d, 0);
}

int vdpacvq_probe(struct vdpacvq_dev *d, uint64_t features_mask, struct vdpacvq_probe *p)
{
	uint64_t mqrss = BIT(VIRTIO_NET_F_MQ) | BIT(VIRTIO_NET_F_RSS);
	uint64_t offered = d->offered & (features_mask ? features_mask : ~0ull), feats[3];
	uint32_t cvqs[3];
	int nogroups = 0, r, k;

	memset(p, 0, sizeof(*p));
	p->bad_set = -1;
	p->backend_offered = d->backend_offered;
	p->backend_acked = d->backend;
	p->device_id = d->device_id;
	p->nvqs = d->nvqs;
	p->ngroups = d->ngroups;
	p->nas = d->nas;
	p->offered = offered;
	p->max_pairs = d->max_pairs;
	if (d->device_id != VIRTIO_ID_NET) {
		p->verdict = VDPACVQ_NO_CVQ;
		p->reason = VDPACVQ_R_NOT_NET;
		return 0;
	}
	if (!(offered & BIT(VIRTIO_NET_F_CTRL_VQ))) {
		p->verdict = VDPACVQ_NO_CVQ;
		p->reason = VDPACVQ_R_NO_CTRL_VQ;
		return 0;
	}
	p->verdict = VDPACVQ_NOT_ISOLATED;
	/* §3 step 1 */
	if (!(d->backend & BIT(VHOST_BACKEND_F_IOTLB_ASID))) {
		p->reason = VDPACVQ_R_NO_IOTLB_ASID;
		return 0;
	}
	/*
	 * §3 steps 2-8 with every offered feature, at QEMU's CVQ index (2 x
	 * max_virtqueue_pairs only with MQ offered, §3 step 0); then (§6.1a,
	 * §10) without MQ/RSS; and, for RSS without MQ, every offered feature
	 * at the index a driver that negotiates RSS uses (2 x max pairs)
	 */
	feats[0] = offered;
	cvqs[0] = offered & BIT(VIRTIO_NET_F_MQ) ? 2u * d->max_pairs : 2;
	p->nsets = 1;
	if (offered & mqrss) {
		feats[1] = offered & ~mqrss;
		cvqs[1] = 2;
		p->nsets = 2;
	}
	if (vdpacvq_cvq_index(offered, d->max_pairs) != cvqs[0]) {
		feats[2] = offered;
		cvqs[2] = vdpacvq_cvq_index(offered, d->max_pairs);
		p->nsets = 3;
	}
	for (k = 0; k < p->nsets; k++) {
		set_status(d, 0);
		r = probe_set(d, p, k, feats[k], cvqs[k], &nogroups);
		if (r) {
			set_status(d, 0);
			return r;
		}
		if (nogroups) {
			set_status(d, 0);
			p->reason = VDPACVQ_R_NO_GROUPS;
			return 0;
		}
		if (k == 0)
			p->qemu_isolated = p->set[0].shared_vq < 0;
		if (p->set[k].shared_vq >= 0 && p->bad_set < 0)
			p->bad_set = k;
	}
	if (p->bad_set >= 0)
		p->reason = VDPACVQ_R_SHARED_GROUP;
	else if (d->ngroups < 2)
		p->reason = VDPACVQ_R_ONE_GROUP;
	else if (d->nas < 2)
		p->reason = VDPACVQ_R_ONE_AS;
	else
		p->verdict = VDPACVQ_ISOLATED;
	return 0;
}

static void feature_names(uint64_t f, char *out, size_t len)
{
	static const struct { int bit; const char *name; } n[] = {
		{ VIRTIO_NET_F_CTRL_VQ, "CTRL_VQ" }, { VIRTIO_NET_F_MQ, "MQ" }, { VIRTIO_NET_F_RSS, "RSS" },
	};
	size_t o = 0;

	o += snprintf(out, len, "0x%llx", (unsigned long long)f);
	for (unsigned int i = 0; i < sizeof(n) / sizeof(n[0]) && o < len; i++)
		o += snprintf(out + o, len - o, " %s%s", f & BIT(n[i].bit) ? "+" : "-", n[i].name);
}

void vdpacvq_probe_describe(const struct vdpacvq_probe *p, char *out, size_t len)
{
	const struct vdpacvq_probe_set *s;
	char fn[128];

	switch (p->reason) {
	case VDPACVQ_R_NONE:
		snprintf(out, len, "isolated: the CVQ (vq %u, group %u) is alone in its group%s; %u groups, %u address spaces",
			 p->set[0].cvq, p->set[0].group,
			 p->nsets > 1 ? " with and without MQ/RSS negotiated" : "", p->ngroups, p->nas);
		break;
	case VDPACVQ_R_NOT_NET:
		snprintf(out, len, "no CVQ: not a virtio-net device (device id %u)", p->device_id);
		break;
	case VDPACVQ_R_NO_CTRL_VQ:
		snprintf(out, len, "no CVQ: the device does not offer VIRTIO_NET_F_CTRL_VQ (features 0x%llx)",
			 (unsigned long long)p->offered);
		break;
	case VDPACVQ_R_NO_IOTLB_ASID:
		snprintf(out, len, "not isolated: backend feature IOTLB_ASID missing (offered 0x%llx)",
			 (unsigned long long)p->backend_offered);
		break;
	case VDPACVQ_R_NO_GROUPS:
		snprintf(out, len, "not isolated: the parent has no vq groups (GET_VRING_GROUP: EOPNOTSUPP)");
		break;
	case VDPACVQ_R_SHARED_GROUP:
		s = &p->set[p->bad_set];
		feature_names(s->features, fn, sizeof(fn));
		snprintf(out, len, "not isolated: data vq %d shares group %u with the CVQ (vq %u) for features %s%s",
			 s->shared_vq, s->group, s->cvq, fn,
			 p->qemu_isolated ? " (QEMU's probe, with every offered feature, would say isolated)" :
			 p->bad_set == 0 && p->nsets == 3 ?
			 " (QEMU's probe: without MQ it looks for the CVQ at vq 2, although RSS puts it at 2 x max pairs)" :
			 "");
		break;
	case VDPACVQ_R_ONE_GROUP:
		snprintf(out, len, "not isolated: the device has %u vq group (GET_GROUP_NUM), 2 needed", p->ngroups);
		break;
	case VDPACVQ_R_ONE_AS:
		snprintf(out, len, "not isolated: the device has %u address space (GET_AS_NUM), 2 needed%s", p->nas,
			 p->qemu_isolated ? " (QEMU's probe would say isolated and fail later at SET_GROUP_ASID)" : "");
		break;
	}
}

/* ---- session --------------------------------------------------------------- */

static struct vring_desc *ring_desc(uint8_t *page)
{
	return (struct vring_desc *)page;
}

static struct vring_avail *ring_avail(uint8_t *page)
{
	return (struct vring_avail *)(page + 1024);
}

static struct vring_used *ring_used(uint8_t *page)
{
	return (struct vring_used *)(page + 2048);
}

/*
 * With EVENT_IDX the device interrupts only when its used index passes the
 * avail ring's used_event (left at 0 the consumer would get no interrupt
 * after the first and wait out its poll timeout each time): ask for the
 * interrupt of used entry IDX. The fence orders the store before the caller
 * reads the used index, so either the device sees the request or we see its
 * entry.
 */
static void want_used_irq(struct vdpacvq_dev *d, uint8_t *page, uint16_t idx)
{
	if (!(d->features & BIT(VIRTIO_RING_F_EVENT_IDX)))
		return;
	__atomic_store_n(&ring_avail(page)->ring[QSZ], idx, __ATOMIC_RELAXED);
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
}

static void *memfd_region(const char *name, size_t size)
{
	int fd = memfd_create(name, MFD_CLOEXEC);
	void *p = MAP_FAILED;

	if (fd < 0)
		return NULL;
	if (ftruncate(fd, size) == 0)
		p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	close(fd);	/* the mapping keeps the file */
	return p == MAP_FAILED ? NULL : p;
}

static uint64_t buf_off(uint32_t vq, uint32_t j)
{
	return DATA_BUFS + (uint64_t)vq * 0x3000 + (uint64_t)j * BUFSZ;
}

static int setup_vring(struct vdpacvq_dev *d, uint32_t vq, uint64_t iova, uint16_t base)
{
	struct vhost_vring_state num = { .index = vq, .num = QSZ };
	struct vhost_vring_state st = { .index = vq, .num = base };
	struct vhost_vring_addr a = {
		.index = vq,
		.desc_user_addr = iova,
		.avail_user_addr = iova + 1024,
		.used_user_addr = iova + 2048,
	};
	struct vhost_vring_file f = { .index = vq };

	d->kick[vq] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	d->call[vq] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (d->kick[vq] < 0 || d->call[vq] < 0)
		return fail(d, errno, "eventfd: %s", strerror(errno));
	if (ioctl(d->fd, VHOST_SET_VRING_NUM, &num))
		return fail(d, errno, "SET_VRING_NUM(%u): %s", vq, strerror(errno));
	if (ioctl(d->fd, VHOST_SET_VRING_ADDR, &a))
		return fail(d, errno, "SET_VRING_ADDR(%u): %s", vq, strerror(errno));
	if (ioctl(d->fd, VHOST_SET_VRING_BASE, &st))
		return fail(d, errno, "SET_VRING_BASE(%u): %s", vq, strerror(errno));
	f.fd = d->kick[vq];
	if (ioctl(d->fd, VHOST_SET_VRING_KICK, &f))
		return fail(d, errno, "SET_VRING_KICK(%u): %s", vq, strerror(errno));
	f.fd = d->call[vq];
	if (ioctl(d->fd, VHOST_SET_VRING_CALL, &f))
		return fail(d, errno, "SET_VRING_CALL(%u): %s", vq, strerror(errno));
	return 0;
}

static int vring_enable(struct vdpacvq_dev *d, uint32_t vq)
{
	struct vhost_vring_state s = { .index = vq, .num = 1 };

	if (ioctl(d->fd, VHOST_VDPA_SET_VRING_ENABLE, &s))
		return fail(d, errno, "SET_VRING_ENABLE(%u): %s", vq, strerror(errno));
	return 0;
}

/* What SET_GROUP_ASID's errno means (vhost-vdpa-cvq.md §2.2). */
static const char *group_asid_errno(int e)
{
	switch (e) {
	case ENOBUFS:
		return "group >= number of vqs";
	case EINVAL:
		return "group >= number of groups, or asid >= number of address spaces";
	case EBUSY:
		return "DRIVER_OK is already set";
	case EOPNOTSUPP:
		return "the parent cannot bind groups";
	case EIO:
		return "the device refused it or did not answer";
	default:
		return "unexpected";
	}
}

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/*
 * One batch on the shadow CVQ: command i in descriptors 2i (out) and 2i+1
 * (status), all made available, one kick, then poll until every one is
 * used. The used ring is the device's: ids and lengths are checked.
 */
static int cvq_batch(struct vdpacvq_dev *d, const struct vdpacvq_cmd *cmds, int n, uint8_t *acks)
{
	uint8_t *ring = d->shadow;
	struct vring_desc *desc = ring_desc(ring);
	struct vring_avail *avail = ring_avail(ring);
	struct vring_used *used = ring_used(ring);
	uint8_t *status = d->shadow + SH_STATUS;
	uint16_t start = d->cvq_avail, u;
	uint32_t off = 0;
	uint8_t seen[BATCH_MAX] = { 0 };
	uint64_t one = 1;
	double end;
	int i, done = 0;

	for (i = 0; i < n; i++) {
		if (cmds[i].len < 2 || cmds[i].len > VDPACVQ_CMD_MAX || off + cmds[i].len > SH_OUT_SIZE)
			return fail(d, EINVAL, "command %d does not fit the shadow area", i);
		/* copied out: the device never reads the caller's buffer */
		memcpy(d->shadow + SH_OUT + off, cmds[i].buf, cmds[i].len);
		desc[2 * i].addr = SHADOW_IOVA + SH_OUT + off;
		desc[2 * i].len = cmds[i].len;
		desc[2 * i].flags = VRING_DESC_F_NEXT;
		desc[2 * i].next = 2 * i + 1;
		desc[2 * i + 1].addr = SHADOW_IOVA + SH_STATUS + i;
		desc[2 * i + 1].len = 1;
		desc[2 * i + 1].flags = VRING_DESC_F_WRITE;
		desc[2 * i + 1].next = 0;
		status[i] = 0xff;
		off += (cmds[i].len + 7) & ~7u;
		avail->ring[(uint16_t)(start + i) % QSZ] = 2 * i;
	}
	d->cvq_avail = start + n;
	/* one interrupt, when the batch's last command is used */
	want_used_irq(d, ring, (uint16_t)(start + n - 1));
	__atomic_store_n(&avail->idx, d->cvq_avail, __ATOMIC_RELEASE);
	if (write(d->kick[d->cvq], &one, sizeof(one)) != sizeof(one))
		return fail(d, errno, "kick the CVQ: %s", strerror(errno));
	end = now_ms() + d->timeout_ms;
	u = start;
	while (done < n) {
		uint16_t uidx = __atomic_load_n(&used->idx, __ATOMIC_ACQUIRE);

		if ((uint16_t)(uidx - start) > n)
			return fail(d, EPROTO, "the device moved the CVQ used index to %u (batch %u..%u)", uidx,
				    start, (uint16_t)(start + n));
		for (; u != uidx; u++) {
			struct vring_used_elem e = used->ring[u % QSZ];

			if (e.id % 2 || e.id / 2 >= (uint32_t)n || seen[e.id / 2])
				return fail(d, EPROTO, "the device returned CVQ descriptor %u, never made available (or twice)",
					    e.id);
			if (e.len < 1)
				return fail(d, EPROTO, "the device returned command %u with no status byte written",
					    e.id / 2);
			seen[e.id / 2] = 1;
			done++;
		}
		if (done == n)
			break;
		if (now_ms() > end)
			return fail(d, ETIMEDOUT, "no answer on the CVQ after %d ms (%d of %d commands used)",
				    d->timeout_ms, done, n);
		{
			struct pollfd pf = { .fd = d->call[d->cvq], .events = POLLIN };
			uint64_t x;

			if (poll(&pf, 1, 1) > 0 && read(d->call[d->cvq], &x, sizeof(x)) < 0)
				(void)0;
		}
	}
	for (i = 0; i < n; i++)
		acks[i] = __atomic_load_n(&status[i], __ATOMIC_ACQUIRE);
	return 0;
}

/* Send N commands in batches; stop at the first NACK if STOP_ON_NACK. */
static int cvq_send(struct vdpacvq_dev *d, const struct vdpacvq_cmd *cmds, int n, uint8_t *acks, int stop_on_nack)
{
	char what[128];
	int i, k, r;

	for (i = 0; i < n; i += BATCH_MAX) {
		k = n - i < BATCH_MAX ? n - i : BATCH_MAX;
		r = cvq_batch(d, cmds + i, k, acks + i);
		if (r)
			return r;
		for (int j = i; j < i + k; j++) {
			/* described only on error: the round trip is measured (bench/cvqbench.c) */
			if (acks[j] == VDPACVQ_ACK) {
				r = vdpacvq_model_apply(&d->model, cmds[j].buf, cmds[j].len);
				if (r) {
					vdpacvq_cmd_describe(&cmds[j], what, sizeof(what));
					return fail(d, EPROTO, "bad CVQ processing in model: the device acknowledged %s, the model rejects it (%s)",
						    what, strerror(-r));
				}
			} else if (acks[j] != VDPACVQ_NACK) {
				vdpacvq_cmd_describe(&cmds[j], what, sizeof(what));
				return fail(d, EPROTO, "the device answered %s with status %u (neither OK nor ERR)",
					    what, acks[j]);
			} else if (stop_on_nack) {
				vdpacvq_cmd_describe(&cmds[j], what, sizeof(what));
				return fail(d, EPROTO, "the device refused %s (VIRTIO_NET_ERR)", what);
			}
		}
	}
	return 0;
}

int vdpacvq_send(struct vdpacvq_dev *d, const struct vdpacvq_cmd *c, uint8_t *ack)
{
	if (!d->started)
		return fail(d, EINVAL, "the device is not started");
	if (c->len < 2 || c->len > VDPACVQ_CMD_MAX)
		return fail(d, EINVAL, "bad command length %u", c->len);
	/* QEMU answers the announce itself and does not forward it (§5) */
	if (c->buf[0] == VIRTIO_NET_CTRL_ANNOUNCE) {
		*ack = d->model.features & BIT(VIRTIO_NET_F_GUEST_ANNOUNCE) ? VDPACVQ_ACK : VDPACVQ_NACK;
		return 0;
	}
	return cvq_send(d, c, 1, ack, 0);
}

int vdpacvq_send_batch(struct vdpacvq_dev *d, const struct vdpacvq_cmd *cmds, int n, uint8_t *acks)
{
	int i;

	if (!d->started)
		return fail(d, EINVAL, "the device is not started");
	if (n < 0)
		return fail(d, EINVAL, "bad command count %d", n);
	for (i = 0; i < n; i++) {
		if (cmds[i].len < 2 || cmds[i].len > VDPACVQ_CMD_MAX)
			return fail(d, EINVAL, "command %d: bad length %u", i, cmds[i].len);
		if (cmds[i].buf[0] == VIRTIO_NET_CTRL_ANNOUNCE)
			return fail(d, EINVAL, "command %d: announce is answered by the VMM, not batched", i);
	}
	return cvq_send(d, cmds, n, acks, 0);
}

static int kick(struct vdpacvq_dev *d, uint32_t vq)
{
	uint64_t one = 1;

	if (write(d->kick[vq], &one, sizeof(one)) != sizeof(one))
		return fail(d, errno, "kick vq %u: %s", vq, strerror(errno));
	return 0;
}

/*
 * Wait for the next used element of any of the NVQ data vqs VQS (checked in
 * that order); the vq's place in VQS, the element's id and length.
 */
static int data_used_any(struct vdpacvq_dev *d, const uint32_t *vqs, unsigned int nvq, unsigned int *which,
			 uint32_t *id, uint32_t *len)
{
	struct pollfd pf[VDPACVQ_MAX_VQS];
	double end = now_ms() + d->timeout_ms;
	struct vring_used *u = NULL;
	unsigned int k = 0;
	uint32_t vq = 0;
	uint16_t idx = 0;

	for (k = 0; k < nvq; k++) {
		want_used_irq(d, d->guest + (size_t)vqs[k] * RING_PAGE, d->used[vqs[k]]);
		pf[k] = (struct pollfd){ .fd = d->call[vqs[k]], .events = POLLIN };
	}
	for (;;) {
		for (k = 0; k < nvq; k++) {
			vq = vqs[k];
			u = ring_used(d->guest + (size_t)vq * RING_PAGE);
			idx = __atomic_load_n(&u->idx, __ATOMIC_ACQUIRE);
			if (idx != d->used[vq])
				break;
		}
		if (k < nvq)
			break;
		if (now_ms() > end) {
			if (nvq == 1)
				return fail(d, ETIMEDOUT, "vq %u: nothing used after %d ms", vqs[0], d->timeout_ms);
			return fail(d, ETIMEDOUT, "vqs %u..%u: nothing used on any of the %u after %d ms", vqs[0],
				    vqs[nvq - 1], nvq, d->timeout_ms);
		}
		if (poll(pf, nvq, 1) > 0)
			for (k = 0; k < nvq; k++) {
				uint64_t x;

				if (pf[k].revents & POLLIN && read(pf[k].fd, &x, sizeof(x)) < 0)
					(void)0;
			}
	}
	if ((uint16_t)(idx - d->used[vq]) > NBUF)
		return fail(d, EPROTO, "vq %u: the device moved the used index from %u to %u", vq, d->used[vq], idx);
	*which = k;
	*id = u->ring[d->used[vq] % QSZ].id;
	*len = u->ring[d->used[vq] % QSZ].len;
	d->used[vq]++;
	if (*id >= NBUF)
		return fail(d, EPROTO, "vq %u: the device returned descriptor %u, never made available", vq, *id);
	return 0;
}

/* Wait for the next used element of data vq VQ; its id and length. */
static int data_used(struct vdpacvq_dev *d, uint32_t vq, uint32_t *id, uint32_t *len)
{
	unsigned int which;

	return data_used_any(d, &vq, 1, &which, id, len);
}

int vdpacvq_frame_send(struct vdpacvq_dev *d, uint16_t pair, const void *frame, size_t len)
{
	uint32_t vq = 2u * pair + 1, j, id, ulen;
	uint8_t *page;
	int r;

	if (!d->started || vq >= d->ndata || len + NET_HDR > BUFSZ)
		return fail(d, EINVAL, "cannot send %zu bytes on pair %u", len, pair);
	page = d->guest + (size_t)vq * RING_PAGE;
	j = d->tx_next[vq]++ % NBUF;
	memset(d->guest + buf_off(vq, j), 0, NET_HDR);
	memcpy(d->guest + buf_off(vq, j) + NET_HDR, frame, len);
	ring_desc(page)[j] = (struct vring_desc){ GUEST_IOVA + buf_off(vq, j), len + NET_HDR, 0, 0 };
	ring_avail(page)->ring[d->avail[vq]++ % QSZ] = j;
	__atomic_store_n(&ring_avail(page)->idx, d->avail[vq], __ATOMIC_RELEASE);
	r = kick(d, vq);
	if (!r)
		r = data_used(d, vq, &id, &ulen);
	if (!r && id != j)
		r = fail(d, EPROTO, "vq %u: the device completed descriptor %u, %u was outstanding", vq, id, j);
	return r;
}

/* Copy out the frame in RX buffer ID of VQ and post the buffer again. */
static int rx_take(struct vdpacvq_dev *d, uint32_t vq, uint32_t id, uint32_t ulen, void *buf, size_t cap,
		   size_t *len)
{
	uint8_t *page = d->guest + (size_t)vq * RING_PAGE;

	if (ulen < NET_HDR || ulen > BUFSZ)
		return fail(d, EPROTO, "vq %u: used length %u (header %d, buffer %d)", vq, ulen, NET_HDR, BUFSZ);
	*len = ulen - NET_HDR < cap ? ulen - NET_HDR : cap;
	memcpy(buf, d->guest + buf_off(vq, id) + NET_HDR, *len);
	ring_avail(page)->ring[d->avail[vq]++ % QSZ] = id;
	__atomic_store_n(&ring_avail(page)->idx, d->avail[vq], __ATOMIC_RELEASE);
	return kick(d, vq);
}

int vdpacvq_frame_recv(struct vdpacvq_dev *d, uint16_t pair, void *buf, size_t cap, size_t *len)
{
	uint32_t vq = 2u * pair, id, ulen;
	int r;

	if (!d->started || vq >= d->ndata)
		return fail(d, EINVAL, "pair %u is not in use", pair);
	r = data_used(d, vq, &id, &ulen);
	if (r)
		return r;
	return rx_take(d, vq, id, ulen, buf, cap, len);
}

int vdpacvq_frame_recv_any(struct vdpacvq_dev *d, void *buf, size_t cap, size_t *len, uint16_t *pair)
{
	uint32_t vqs[VDPACVQ_MAX_VQS / 2 + 1], id, ulen;
	unsigned int n, which;
	int r;

	if (!d->started)
		return fail(d, EINVAL, "the device is not started");
	for (n = 0; 2 * n < d->ndata; n++)
		vqs[n] = 2 * n;
	r = data_used_any(d, vqs, n, &which, &id, &ulen);
	if (r)
		return r;
	*pair = (uint16_t)which;
	return rx_take(d, vqs[which], id, ulen, buf, cap, len);
}

/* Feature bits F as "34 (RING_PACKED), 57 (HASH_REPORT)". */
static void bit_list(uint64_t f, char *out, size_t len)
{
	static const struct { int bit; const char *name; } n[] = {
		{ 20, "CTRL_RX_EXTRA, without CTRL_RX" },
		{ 24, "NOTIFY_ON_EMPTY" }, { 34, "RING_PACKED" }, { 35, "IN_ORDER" }, { 36, "ORDER_PLATFORM" },
		{ 37, "SR_IOV" }, { 38, "NOTIFICATION_DATA" }, { 39, "NOTIF_CONFIG_DATA" }, { 40, "RING_RESET" },
		{ 41, "ADMIN_VQ" }, { 50, "DEVICE_STATS" }, { 52, "VQ_NOTF_COAL" }, { 53, "NOTF_COAL" },
		{ 57, "HASH_REPORT" },
	};
	size_t o = 0;

	out[0] = 0;
	for (int b = 0; b < 64 && o < len; b++) {
		const char *name = NULL;

		if (!(f & BIT(b)))
			continue;
		for (unsigned int i = 0; i < sizeof(n) / sizeof(n[0]); i++)
			if (n[i].bit == b)
				name = n[i].name;
		o += snprintf(out + o, len - o, "%s%d%s%s%s", o ? ", " : "", b, name ? " (" : "",
			      name ? name : "", name ? ")" : "");
	}
}

int vdpacvq_start(struct vdpacvq_dev *d, const struct vdpacvq_start_opts *o)
{
	const struct vdpacvq_state *rs = o && o->size >= sizeof(*o) ? o->restore : NULL;
	struct vdpacvq_state want;
	uint64_t mask = o && o->features_mask ? o->features_mask : ~0ull;
	uint64_t iova[2], size[2];
	void *ua[2];
	struct vdpacvq_cmd *plan = NULL;
	uint8_t *acks = NULL;
	uint32_t i;
	long g;
	int r, n = 0;

	if (!o || o->size < sizeof(*o))
		return fail(d, EINVAL, "bad start options");
	if (d->started)
		return fail(d, EBUSY, "already started");
	if (d->device_id != VIRTIO_ID_NET || !(d->offered & BIT(VIRTIO_NET_F_CTRL_VQ)))
		return fail(d, ENODEV, "not a virtio-net device with a control virtqueue");
	d->mode = o->mode;
	d->timeout_ms = o->timeout_ms > 0 ? o->timeout_ms : 10000;
	d->features = vdpacvq_session_features(d->offered & mask);
	if (rs) {
		uint64_t bad = rs->features & ~vdpacvq_session_features(rs->features);
		char bits[256];

		if (bad) {
			bit_list(bad, bits, sizeof(bits));
			return fail(d, EINVAL, "the saved state has features the session does not negotiate: %s", bits);
		}
		if ((rs->features & d->offered) != rs->features)
			return fail(d, EINVAL, "the device lacks features of the saved state (missing 0x%llx)",
				    (unsigned long long)(rs->features & ~d->offered));
		d->features = rs->features;
		/* without MQ/RSS negotiated there is one pair, whatever the device offers */
		if (rs->max_pairs != (d->features & (BIT(VIRTIO_NET_F_MQ) | BIT(VIRTIO_NET_F_RSS)) ? d->max_pairs : 1))
			return fail(d, EINVAL, "the saved state has %u queue pairs at most, the device %u",
				    rs->max_pairs, d->max_pairs);
		if (rs->nvqs != vdpacvq_cvq_index(d->features, d->max_pairs))
			return fail(d, EINVAL, "the saved state has %u data vq positions, the device %u data vqs",
				    rs->nvqs, vdpacvq_cvq_index(d->features, d->max_pairs));
	}
	if (!(d->features & BIT(VIRTIO_NET_F_CTRL_VQ)))
		return fail(d, EINVAL, "CTRL_VQ (bit %d) is not negotiated (%s): no control virtqueue to shadow",
			    VIRTIO_NET_F_CTRL_VQ, rs ? "not in the saved state's features" : "masked off by --features");
	if (o->mode == VDPACVQ_MODE_ISOLATED && !(d->backend & BIT(VHOST_BACKEND_F_IOTLB_ASID)))
		return fail(d, EOPNOTSUPP, "backend feature IOTLB_ASID is not available");
	d->cvq = vdpacvq_cvq_index(d->features, d->max_pairs);
	d->ndata = d->cvq;
	if (d->cvq >= d->nvqs || d->cvq >= VDPACVQ_MAX_VQS)
		return fail(d, EINVAL, "the CVQ index %u is beyond the device's %u vqs", d->cvq, d->nvqs);
	vdpacvq_state_init(&d->model, d->features, d->mac, d->max_pairs);
	d->model.nvqs = d->ndata;

	d->guest = memfd_region("vdpa-cvq-guest", GUEST_SIZE);
	d->shadow = memfd_region("vdpa-cvq-shadow", SHADOW_SIZE);
	if (!d->guest || !d->shadow) {
		/* not started yet: vdpacvq_stop() would leave the other region mapped */
		r = fail(d, errno, "memfd: %s", strerror(errno));
		session_free(d);
		return r;
	}
	d->started = 1;
	d->cvq_avail = 0;
	r = set_status(d, 0);
	if (r)
		goto err;

	/* §4.2: guest memory in ASID 0, in one batch (with the shadow area at migration start) */
	iova[0] = GUEST_IOVA;
	size[0] = GUEST_SIZE;
	ua[0] = d->guest;
	iova[1] = SHADOW_IOVA;
	size[1] = SHADOW_SIZE;
	ua[1] = d->shadow;
	d->shadow_asid = o->mode == VDPACVQ_MODE_ISOLATED ? CVQ_ASID : 0;
	r = iotlb_batch(d, 0, d->shadow_asid ? 1 : 2, iova, size, ua, VHOST_IOTLB_UPDATE);
	if (r)
		goto err;
	d->guest_mapped = 1;
	d->shadow_mapped = !d->shadow_asid;

	/* §4.3 */
	r = set_features(d, d->features);
	if (r)
		goto err;

	/* §4.4 and §10: re-query the group, check it, bind it, map the shadow in ASID 1 */
	g = vring_group(d, d->cvq);
	if (g < 0 && o->mode == VDPACVQ_MODE_ISOLATED) {
		r = fail(d, -g, "GET_VRING_GROUP(%u): %s", d->cvq, strerror(-g));
		goto err;
	}
	d->cvq_group = g < 0 ? 0 : g;
	if (o->mode == VDPACVQ_MODE_ISOLATED) {
		struct vhost_vring_state s = { .index = d->cvq_group, .num = CVQ_ASID };

		for (i = 0; i < d->cvq; i++) {
			long h = vring_group(d, i);

			/* an error is fatal, as in the probe (and QEMU's, §3 step 6) */
			if (h < 0) {
				r = fail(d, -h, "GET_VRING_GROUP(%u): %s", i, strerror(-h));
				goto err;
			}
			if (h == g) {
				r = fail(d, EINVAL, "data vq %u shares group %ld with the CVQ (vq %u): cannot isolate it",
					 i, g, d->cvq);
				goto err;
			}
		}
		if (d->nas < 2) {
			r = fail(d, EINVAL, "the device has %u address space: cannot isolate the CVQ", d->nas);
			goto err;
		}
		if (ioctl(d->fd, VHOST_VDPA_SET_GROUP_ASID, &s)) {
			r = fail(d, errno, "SET_GROUP_ASID(group %u, asid 1): %s (%s)", d->cvq_group, strerror(errno),
				 group_asid_errno(errno));
			goto err;
		}
		r = iotlb_batch(d, CVQ_ASID, 1, &iova[1], &size[1], &ua[1], VHOST_IOTLB_UPDATE);
		if (r)
			goto err;
		d->shadow_mapped = 1;
	}

	/* §4.5: vrings; the data rings at their saved positions */
	for (i = 0; i < d->ndata; i++) {
		uint16_t pos = rs && i < rs->nvqs ? rs->ring_pos[i] : 0;
		uint8_t *page = d->guest + (size_t)i * RING_PAGE;

		ring_used(page)->idx = pos;
		d->used[i] = pos;
		d->avail[i] = pos;
		d->tx_next[i] = 0;
		if (i % 2 == 0)
			for (uint16_t j = 0; j < NBUF; j++) {
				struct vring_desc *dd = &ring_desc(page)[j];

				dd->addr = GUEST_IOVA + buf_off(i, j);
				dd->len = BUFSZ;
				dd->flags = VRING_DESC_F_WRITE;
				ring_avail(page)->ring[d->avail[i]++ % QSZ] = j;
			}
		ring_avail(page)->idx = d->avail[i];
		r = setup_vring(d, i, GUEST_IOVA + (uint64_t)i * RING_PAGE, pos);
		if (r)
			goto err;
	}
	r = setup_vring(d, d->cvq, SHADOW_IOVA, 0);
	if (r)
		goto err;

	/* §4.6, §4.7: DRIVER_OK, the CVQ alone, the state, then the data vqs */
	r = set_status(d, VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER |
		       VIRTIO_CONFIG_S_FEATURES_OK | VIRTIO_CONFIG_S_DRIVER_OK);
	if (r)
		goto err;
	r = get_status(d);
	if (r >= 0 && !(r & VIRTIO_CONFIG_S_DRIVER_OK))
		r = fail(d, EIO, "the device did not accept DRIVER_OK (status 0x%x)", r);
	if (r < 0)
		goto err;
	r = vring_enable(d, d->cvq);
	if (r)
		goto err;
	if (rs) {
		plan = calloc(4096 + 32, sizeof(*plan));
		acks = calloc(4096 + 32, 1);
		if (!plan || !acks) {
			r = -ENOMEM;
			goto err;
		}
		n = vdpacvq_restore_plan(rs, plan, 4096 + 32);
		if (n < 0) {
			r = fail(d, -n, "the saved state cannot be encoded");
			goto err;
		}
		r = cvq_send(d, plan, n, acks, 1);
		if (r)
			goto err;
		/* ring positions are not control state: carry them over */
		for (i = 0; i < d->ndata; i++)
			d->model.ring_pos[i] = i < rs->nvqs ? rs->ring_pos[i] : 0;
		/* what QEMU's order restores, which is the saved state or close to it */
		vdpacvq_state_restored(rs, &want);
		if (!vdpacvq_state_equal(&d->model, &want)) {
			r = fail(d, EPROTO, "after the replay the model differs from the state the plan restores");
			goto err;
		}
	}
	for (i = 0; i < d->ndata; i++) {
		r = vring_enable(d, i);
		if (r)
			goto err;
	}
	free(plan);
	free(acks);
	return 0;
err:
	free(plan);
	free(acks);
	{
		char keep[sizeof(d->err)];

		memcpy(keep, d->err, sizeof(keep));
		vdpacvq_stop(d);
		memcpy(d->err, keep, sizeof(keep));
	}
	return r < 0 ? r : -EIO;
}

int vdpacvq_stop(struct vdpacvq_dev *d)
{
	uint64_t iova = GUEST_IOVA, size = GUEST_SIZE;
	uint64_t siova = SHADOW_IOVA, ssize = SHADOW_SIZE;
	int r = 0, r2;
	uint32_t i;

	if (!d->started)
		return 0;
	/* without SUSPEND the position is the guest-visible used index (§6.1) */
	r = set_status(d, 0);
	if (d->guest)
		for (i = 0; i < d->ndata; i++)
			d->model.ring_pos[i] = __atomic_load_n(&ring_used(d->guest + (size_t)i * RING_PAGE)->idx,
							       __ATOMIC_ACQUIRE);
	/* vhost-vdpa keeps its IOTLB across reset: remove what we mapped */
	if (d->shadow_mapped) {
		r2 = iotlb_batch(d, d->shadow_asid, 1, &siova, &ssize, NULL, VHOST_IOTLB_INVALIDATE);
		r = r ? r : r2;
	}
	if (d->guest_mapped) {
		r2 = iotlb_batch(d, 0, 1, &iova, &size, NULL, VHOST_IOTLB_INVALIDATE);
		r = r ? r : r2;
	}
	d->shadow_mapped = d->guest_mapped = 0;
	session_free(d);
	return r;
}

void vdpacvq_get_layout(const struct vdpacvq_dev *d, struct vdpacvq_layout *l)
{
	l->guest_iova = GUEST_IOVA;
	l->guest_size = GUEST_SIZE;
	l->shadow_iova = SHADOW_IOVA;
	l->shadow_size = SHADOW_SIZE;
	l->shadow_asid = d->shadow_asid;
	l->cvq = d->cvq;
	l->cvq_group = d->cvq_group;
}

int vdpacvq_raw_ring(struct vdpacvq_dev *d, uint32_t vq, struct vdpacvq_raw_ring *r)
{
	uint8_t *page;

	if (!d->started || vq >= d->ndata)
		return fail(d, EINVAL, "vq %u is not a data vq of a started session", vq);
	page = d->guest + (size_t)vq * RING_PAGE;
	r->desc = ring_desc(page);
	r->avail = ring_avail(page);
	r->used = ring_used(page);
	r->num = QSZ;
	r->guest = d->guest;
	return 0;
}

int vdpacvq_raw_kick(struct vdpacvq_dev *d, uint32_t vq)
{
	/* the session's vqs are 0 .. cvq (cvq < VDPACVQ_MAX_VQS): the kick array's */
	if (!d->started || vq > d->cvq || vq >= VDPACVQ_MAX_VQS)
		return fail(d, EINVAL, "vq %u is not a vq of a started session", vq);
	return kick(d, vq);
}
