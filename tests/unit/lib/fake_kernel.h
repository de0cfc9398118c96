/* SPDX-License-Identifier: GPL-2.0 */
/*
 * A fake VDUSE kernel side for the libvduse unit tests.
 *
 * The library's device fd is one end of a SOCK_SEQPACKET socketpair: the
 * test writes struct vduse_dev_request on the other end and reads the
 * answers. Its ioctls go through the library's internal backend table to
 * fk_ioctl() below, which behaves like the kernel (API negotiation, device
 * creation checks, per-ASID IOTLB lookups returning a memfd, queue info,
 * interrupts). "Guest memory" is one memfd; each address space maps IOVA
 * ranges to offsets in it, so one IOVA can mean different memory in
 * different ASIDs.
 */
#ifndef FAKE_KERNEL_H
#define FAKE_KERNEL_H

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <linux/virtio_ring.h>
#include "internal.h"
#include "tap.h"

/* descriptor flags, short, for the tests' chains */
#define F_W		VRING_DESC_F_WRITE
#define F_N		VRING_DESC_F_NEXT
#define F_I		VRING_DESC_F_INDIRECT

#define FK_NAS		4
#ifndef FK_MAPS
#define FK_MAPS		256
#endif
#define FK_VQS		256
#define FK_MEM		(32u << 20)

struct fk_map {
	uint64_t start, last, offset;
	uint8_t perm;
};

struct fake_kernel {
	int api_max;			/* highest version SET_API_VERSION accepts */
	uint64_t ctl_api;
	bool created;
	uint8_t config[4096];
	uint32_t dev_api;
	struct vduse_vq_config vqcfg[FK_VQS];
	struct vduse_vq_info vqinfo[FK_VQS];
	int kickfd[FK_VQS];
	unsigned int irqs[FK_VQS];
	unsigned int config_irqs;
	uint64_t features;
	int memfd;
	uint8_t *mem;
	struct fk_map maps[FK_NAS][FK_MAPS];
	unsigned int nmaps[FK_NAS];
	unsigned int getfd_calls;
	int dev_open;			/* library end, while open */
	int peer;			/* test end */
	int destroyed;
	struct vduse_iova_umem umem[FK_NAS];
	unsigned long fail_req;		/* ioctl to fail with fail_errno */
	int fail_errno;
	unsigned long last_req;
	int bogus;			/* GET_FD answers: 1 wrong range, 2 no perm, 3 huge */
	uint64_t bounce_size[FK_NAS];	/* a map [0, bounce_size - 1] takes umem */
	/* called at the start of every ioctl, in the caller's thread */
	void (*ioctl_hook)(struct fake_kernel *fk, unsigned long req, void *arg);
	struct vduse_dev_config cfg;	/* last: it ends in a flexible array */
};

static inline int fk_open(void *ctx, const char *path, int flags)
{
	struct fake_kernel *fk = ctx;
	int sp[2];

	if (!strcmp(path, "/dev/vduse/control"))
		return open("/dev/null", O_RDWR | O_CLOEXEC);
	if (strncmp(path, "/dev/vduse/", 11) || !fk->created || strcmp(path + 11, fk->cfg.name)) {
		errno = ENOENT;
		return -1;
	}
	if (fk->peer >= 0) {
		/* exclusive open: the library's end is open unless we see EOF */
		char c;

		if (recv(fk->peer, &c, 1, MSG_DONTWAIT | MSG_PEEK) != 0) {
			errno = EBUSY;
			return -1;
		}
	}
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sp))
		return -1;
	fcntl(sp[0], F_SETFL, O_NONBLOCK);
	if (fk->peer >= 0)
		close(fk->peer);
	fk->peer = sp[1];
	fk->dev_open = sp[0];
	return sp[0];
}

static inline struct fk_map *fk_find(struct fake_kernel *fk, uint32_t asid, uint64_t start, uint64_t last)
{
	unsigned int i;

	for (i = 0; i < fk->nmaps[asid]; i++) {
		struct fk_map *m = &fk->maps[asid][i];

		if (m->start <= last && m->last >= start)
			return m;
	}
	return NULL;
}

static inline int fk_getfd(struct fake_kernel *fk, uint32_t asid, struct vduse_iotlb_entry_v2 *e)
{
	struct fk_map *m;

	/* queue threads fetch mappings concurrently (VDUSE_DEV_F_THREADS) */
	__atomic_fetch_add(&fk->getfd_calls, 1, __ATOMIC_RELAXED);
	if (e->start > e->last || asid >= FK_NAS || asid >= (fk->dev_api ? fk->cfg.nas : 1)) {
		errno = EINVAL;
		return -1;
	}
	m = fk_find(fk, asid, e->start, e->last);
	if (!m) {
		errno = EINVAL;
		return -1;
	}
	e->start = m->start;
	e->last = m->last;
	e->offset = m->offset;
	e->perm = m->perm;
	if (fk->bogus == 1)
		e->start = e->last + 1;
	if (fk->bogus == 2)
		e->perm = 0;
	if (fk->bogus == 3) {
		e->start = 0;
		e->last = UINT64_MAX;
	}
	return fcntl(fk->memfd, F_DUPFD_CLOEXEC, 0);
}

static inline int fk_ioctl(void *ctx, int fd, unsigned long req, void *arg)
{
	struct fake_kernel *fk = ctx;
	struct vduse_iotlb_entry_v2 e2;
	unsigned int i;

	__atomic_store_n(&fk->last_req, req, __ATOMIC_RELAXED);
	if (fk->ioctl_hook)
		fk->ioctl_hook(fk, req, arg);
	if (fk->fail_req == req) {
		errno = fk->fail_errno;
		return -1;
	}
	switch (req) {
	case VDUSE_GET_API_VERSION:
		*(uint64_t *)arg = fk->ctl_api;
		return 0;
	case VDUSE_SET_API_VERSION:
		if (*(uint64_t *)arg > (uint64_t)fk->api_max) {
			errno = EINVAL;
			return -1;
		}
		fk->ctl_api = *(uint64_t *)arg;
		return 0;
	case VDUSE_CREATE_DEV: {
		struct vduse_dev_config *c = arg;

		for (i = 0; i < 11; i++)
			if (c->reserved[i])
				goto inval;
		if (fk->ctl_api < 1 && (c->ngroups || c->nas))
			goto inval;
		if (fk->ctl_api >= 1 && (!c->ngroups || c->ngroups > 0xffff || !c->nas ||
					 c->nas > 0xffff))
			goto inval;
		if (c->config_size > 4096 || !c->name[0] || c->vq_num > FK_VQS ||
		    !(c->features & (1ull << 33)))
			goto inval;
		if (fk->created) {
			errno = EEXIST;
			return -1;
		}
		memcpy(&fk->cfg, c, sizeof(*c));
		memcpy(fk->config, c->config, c->config_size);
		fk->dev_api = fk->ctl_api;
		fk->created = true;
		return 0;
	}
	case VDUSE_DESTROY_DEV:
		if (!fk->created || strcmp(arg, fk->cfg.name))
			goto inval;
		fk->created = false;
		fk->destroyed++;
		return 0;
	case VDUSE_VQ_SETUP: {
		struct vduse_vq_config *c = arg;

		if (c->index >= fk->cfg.vq_num || (!fk->dev_api && c->group) ||
		    (fk->dev_api && c->group >= fk->cfg.ngroups) || c->reserved1)
			goto inval;
		fk->vqcfg[c->index] = *c;
		return 0;
	}
	case VDUSE_IOTLB_GET_FD:
		memset(&e2, 0, sizeof(e2));
		memcpy(&e2, arg, sizeof(struct vduse_iotlb_entry));
		i = fk_getfd(fk, 0, &e2);
		memcpy(arg, &e2, sizeof(struct vduse_iotlb_entry));
		return (int)i;
	case VDUSE_IOTLB_GET_FD2: {
		struct vduse_iotlb_entry_v2 *e = arg;

		if (!fk->dev_api) {
			errno = ENOTTY;
			return -1;
		}
		for (i = 0; i < 11; i++)
			if (e->reserved[i])
				goto inval;
		return fk_getfd(fk, e->asid, e);
	}
	case VDUSE_DEV_GET_FEATURES:
		*(uint64_t *)arg = fk->features;
		return 0;
	case VDUSE_DEV_SET_CONFIG: {
		struct vduse_config_data *c = arg;

		if (c->offset > fk->cfg.config_size || c->length > fk->cfg.config_size - c->offset)
			goto inval;
		memcpy(fk->config + c->offset, c->buffer, c->length);
		return 0;
	}
	case VDUSE_DEV_INJECT_CONFIG_IRQ:
		fk->config_irqs++;
		return 0;
	case VDUSE_VQ_GET_INFO: {
		struct vduse_vq_info *v = arg;

		if (v->index >= fk->cfg.vq_num)
			goto inval;
		*v = fk->vqinfo[v->index];
		return 0;
	}
	case VDUSE_VQ_SETUP_KICKFD: {
		struct vduse_vq_eventfd *ev = arg;

		if (ev->index >= fk->cfg.vq_num)
			goto inval;
		fk->kickfd[ev->index] = ev->fd;
		return 0;
	}
	case VDUSE_VQ_INJECT_IRQ:
		if (*(uint32_t *)arg >= fk->cfg.vq_num)
			goto inval;
		fk->irqs[*(uint32_t *)arg]++;
		return 0;
	case VDUSE_IOTLB_GET_INFO: {
		struct vduse_iova_info *v = arg;
		struct fk_map *m;

		if (v->asid >= FK_NAS || (!fk->dev_api && v->asid) || v->start > v->last)
			goto inval;
		m = fk_find(fk, v->asid, v->start, v->last);
		if (!m)
			goto inval;
		v->start = m->start;
		v->last = m->last;
		v->capability = fk->bounce_size[v->asid] && m->start == 0 &&
				m->last == fk->bounce_size[v->asid] - 1 ? VDUSE_IOVA_CAP_UMEM : 0;
		return 0;
	}
	case VDUSE_IOTLB_REG_UMEM:
	case VDUSE_IOTLB_DEREG_UMEM: {
		struct vduse_iova_umem *u = arg;

		if (u->asid >= FK_NAS || (!fk->dev_api && u->asid))
			goto inval;
		if (req == VDUSE_IOTLB_REG_UMEM) {
			if (fk->umem[u->asid].size) {
				errno = EEXIST;
				return -1;
			}
			fk->umem[u->asid] = *u;
		} else {
			if (!fk->umem[u->asid].size) {
				errno = ENOENT;
				return -1;
			}
			memset(&fk->umem[u->asid], 0, sizeof(*u));
		}
		return 0;
	}
	}
	errno = ENOTTY;
	return -1;
inval:
	errno = EINVAL;
	return -1;
}

static const struct vduse_backend fk_backend = { .open = fk_open, .ioctl = fk_ioctl };

static inline void fk_init(struct fake_kernel *fk, int api_max)
{
	memset(fk, 0, sizeof(*fk));
	fk->api_max = api_max;
	fk->ctl_api = api_max;
	fk->dev_open = -1;
	fk->peer = -1;
	fk->memfd = memfd_create("fk-guest", MFD_CLOEXEC);
	if (fk->memfd < 0 || ftruncate(fk->memfd, FK_MEM))
		abort();
	fk->mem = mmap(NULL, FK_MEM, PROT_READ | PROT_WRITE, MAP_SHARED, fk->memfd, 0);
	if (fk->mem == MAP_FAILED)
		abort();
}

/*
 * The set-up most tests share: fk_init() with API v1, a device created from
 * @o (one TAP line called @name) and its queue 0. Returns -1 if the device
 * could not be created.
 */
static inline int fk_dev_setup(struct fake_kernel *fk, const struct vduse_dev_opts *o,
			       const char *name, struct vduse_dev **dev, struct vduse_vq **vq)
{
	fk_init(fk, 1);
	TAP_EQ(vduse__dev_create(o, &fk_backend, fk, dev), 0, name);
	if (!*dev)
		return -1;
	*vq = vduse_dev_vq(*dev, 0);
	return 0;
}

static inline void fk_fini(struct fake_kernel *fk)
{
	munmap(fk->mem, FK_MEM);
	close(fk->memfd);
	if (fk->peer >= 0)
		close(fk->peer);
}

/* Map [iova, iova + len) of @asid to @offset of guest memory. */
static inline void fk_map(struct fake_kernel *fk, uint32_t asid, uint64_t iova, uint64_t len,
		   uint64_t offset, uint8_t perm)
{
	struct fk_map *m;

	if (fk->nmaps[asid] >= FK_MAPS)
		abort();
	m = &fk->maps[asid][fk->nmaps[asid]++];

	m->start = iova;
	m->last = iova + len - 1;
	m->offset = offset;
	m->perm = perm;
}

static inline void fk_unmap_all(struct fake_kernel *fk, uint32_t asid)
{
	fk->nmaps[asid] = 0;
}

/* The test's (driver's) view of an IOVA of @asid. */
static inline void *fk_ptr(struct fake_kernel *fk, uint32_t asid, uint64_t iova)
{
	struct fk_map *m = fk_find(fk, asid, iova, iova);

	if (!m)
		abort();
	return fk->mem + m->offset + (iova - m->start);
}

static uint32_t fk_req_id;

/* Send one request, let the library handle it, return its answer. */
static inline int fk_msg(struct fake_kernel *fk, struct vduse_dev *dev, struct vduse_dev_request *req,
		  struct vduse_dev_response *resp)
{
	int n;

	req->request_id = ++fk_req_id;
	if (write(fk->peer, req, sizeof(*req)) != sizeof(*req))
		return -1;
	n = vduse_dev_handle_msgs(dev);
	if (n != 1)
		return -100 + n;
	if (read(fk->peer, resp, sizeof(*resp)) != sizeof(*resp))
		return -2;
	if (resp->request_id != req->request_id)
		return -3;
	return resp->result;
}

static inline int fk_status(struct fake_kernel *fk, struct vduse_dev *dev, uint8_t status)
{
	struct vduse_dev_request req = { .type = VDUSE_SET_STATUS };
	struct vduse_dev_response resp;

	req.s.status = status;
	return fk_msg(fk, dev, &req, &resp);
}

static inline int fk_iotlb(struct fake_kernel *fk, struct vduse_dev *dev, uint32_t asid,
		    uint64_t start, uint64_t last)
{
	struct vduse_dev_request req = { .type = VDUSE_UPDATE_IOTLB };
	struct vduse_dev_response resp;

	req.iova_v2.start = start;
	req.iova_v2.last = last;
	req.iova_v2.asid = asid;
	return fk_msg(fk, dev, &req, &resp);
}

static inline int fk_group_asid(struct fake_kernel *fk, struct vduse_dev *dev, uint32_t group,
			 uint32_t asid)
{
	struct vduse_dev_request req = { .type = VDUSE_SET_VQ_GROUP_ASID };
	struct vduse_dev_response resp;

	req.vq_group_asid.group = group;
	req.vq_group_asid.asid = asid;
	return fk_msg(fk, dev, &req, &resp);
}

/* Log callback collecting the last error line, for tests that expect one. */
struct fk_log {
	char last[512];
	unsigned int errors, warnings;
};

static inline void fk_logger(void *user, enum vduse_log_level lvl, const char *msg)
{
	struct fk_log *l = user;

	if (!l)
		return;
	if (lvl == VDUSE_LOG_ERROR)
		l->errors++;
	if (lvl == VDUSE_LOG_WARN)
		l->warnings++;
	if (lvl <= VDUSE_LOG_WARN)
		snprintf(l->last, sizeof(l->last), "%s", msg);
	if (getenv("FK_VERBOSE"))
		printf("# lib[%d]: %s\n", lvl, msg);
}

/* ---- a split ring written by the "driver" ---- */

struct fk_split {
	struct fake_kernel *fk;
	uint32_t asid;
	uint32_t num;
	uint64_t desc, avail, used;	/* IOVAs */
	uint16_t avail_idx;
};

struct fk_desc {
	uint64_t addr;
	uint32_t len;
	uint16_t flags;
	uint16_t next;
};

static inline struct fk_desc *fk_split_desc(struct fk_split *r)
{
	return fk_ptr(r->fk, r->asid, r->desc);
}

static inline uint16_t *fk_split_avail(struct fk_split *r)
{
	return fk_ptr(r->fk, r->asid, r->avail);
}

static inline uint16_t *fk_split_used(struct fk_split *r)
{
	return fk_ptr(r->fk, r->asid, r->used);
}

/* Lay out a ring at @base (IOVA) of @asid and describe it as vq @idx. */
static inline void fk_split_init(struct fake_kernel *fk, struct fk_split *r, unsigned int idx,
			  uint32_t asid, uint64_t base, uint32_t num)
{
	memset(r, 0, sizeof(*r));
	r->fk = fk;
	r->asid = asid;
	r->num = num;
	r->desc = base;
	r->avail = base + 16 * num;
	r->used = (r->avail + 6 + 2 * num + 4095) & ~4095ull;
	memset(fk_ptr(fk, asid, r->desc), 0, 16 * num);
	memset(fk_ptr(fk, asid, r->avail), 0, 6 + 2 * num);
	memset(fk_ptr(fk, asid, r->used), 0, 6 + 8 * num);
	fk->vqinfo[idx].index = idx;
	fk->vqinfo[idx].num = num;
	fk->vqinfo[idx].desc_addr = r->desc;
	fk->vqinfo[idx].driver_addr = r->avail;
	fk->vqinfo[idx].device_addr = r->used;
	fk->vqinfo[idx].ready = 1;
}

/* Make head @head available. */
static inline void fk_split_publish(struct fk_split *r, uint16_t head)
{
	uint16_t *a = fk_split_avail(r);

	a[2 + r->avail_idx % r->num] = head;
	r->avail_idx++;
	__atomic_store_n(&a[1], r->avail_idx, __ATOMIC_RELEASE);
}

static inline void fk_set_desc(struct fk_desc *d, uint64_t addr, uint32_t len, uint16_t flags,
			uint16_t next)
{
	d->addr = addr;
	d->len = len;
	d->flags = flags;
	d->next = next;
}

#endif
