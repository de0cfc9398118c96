// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Device life cycle: options, API negotiation, creation, attach after a
 * restart, destruction, config space and umem.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include "internal.h"

#define CONTROL_PATH	"/dev/vduse/control"

static int sys_open(void *ctx, const char *path, int flags)
{
	return open(path, flags);
}

static int sys_ioctl(void *ctx, int fd, unsigned long request, void *arg)
{
	return ioctl(fd, request, arg);
}

const struct vduse_backend vduse_sys_backend = {
	.open = sys_open,
	.ioctl = sys_ioctl,
};

static void sleep_ms(unsigned int ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

/*
 * Copy the caller's options into ours. A caller built against an older
 * header passes a smaller struct: the rest stays zero. A newer caller may
 * pass a larger one only if the fields we do not know are all zero.
 */
static int opts_copy(struct vduse_dev_opts *dst, const struct vduse_dev_opts *src)
{
	size_t sz, i;

	if (!src)
		return -EINVAL;
	sz = src->sz;
	if (sz < offsetof(struct vduse_dev_opts, started))
		return -EINVAL;
	for (i = sizeof(*dst); i < sz; i++)
		if (((const uint8_t *)src)[i])
			return -E2BIG;
	memset(dst, 0, sizeof(*dst));
	memcpy(dst, src, sz < sizeof(*dst) ? sz : sizeof(*dst));
	dst->sz = sizeof(*dst);
	/* reserved for later fields: a caller setting them means something */
	if (dst->reserved0 || dst->reserved1 || dst->reserved2)
		return -EINVAL;
	return 0;
}

static void dev_free(struct vduse_dev *dev)
{
	uint32_t i;

	if (!dev)
		return;
	for (i = 0; dev->vqs && i < dev->nvqs; i++) {
		struct vduse_vq *vq = &dev->vqs[i];

		vduse_vq_forget_xlate(vq);
		vduse_vq_unmap_ring(vq);
		vduse_vq_free_outstanding(vq);
		vduse_vq_free_pool(vq);
		if (vq->kickfd >= 0)
			close(vq->kickfd);
		free(vq->seg);
		free(vq->segreg);
		free(vq->indbuf);
		free(vq->resubmit);
		vduse_as_release(&vq->cache);
		if (dev->threaded)
			pthread_mutex_destroy(&vq->lock);
	}
	for (i = 0; dev->as && i < dev->nas; i++)
		vduse_as_release(&dev->as[i]);
	if (dev->fd >= 0)
		close(dev->fd);
	if (dev->epfd >= 0)
		close(dev->epfd);
	free(dev->vqs);
	free(dev->as);
	free(dev->group_as);
	free(dev->queue_sizes);
	free(dev->queue_group);
	vduse_dev_free_backlog(dev);
	if (dev->threaded)
		pthread_mutex_destroy(&dev->lock);
	free(dev);
}

/* Validate the options and build the library's device (no kernel calls). */
static int dev_alloc(const struct vduse_dev_opts *opts, const struct vduse_backend *be,
		     void *ctx, struct vduse_dev **devp)
{
	struct vduse_dev *dev;
	uint32_t i;
	int err;

	*devp = NULL;
	dev = calloc(1, sizeof(*dev));
	if (!dev)
		return -ENOMEM;
	dev->fd = -1;
	dev->epfd = -1;
	dev->be = be;
	dev->bctx = ctx;
	err = opts_copy(&dev->o, opts);
	if (err)
		goto fail;
	err = -EINVAL;
	if (!dev->o.name || !dev->o.name[0] || strlen(dev->o.name) >= VDUSE_NAME_MAX ||
	    strchr(dev->o.name, '/')) {
		vd_err(dev, "device name missing, too long or containing '/'");
		goto fail;
	}
	strcpy(dev->name, dev->o.name);
	dev->o.name = dev->name;
	if (dev->o.flags & ~(VDUSE_DEV_F_API_V0 | VDUSE_DEV_F_THREADS)) {
		vd_err(dev, "unknown flags %#x", dev->o.flags);
		goto fail;
	}
	if (dev->o.flags & VDUSE_DEV_F_THREADS) {
		pthread_mutexattr_t a;

		if (pthread_mutexattr_init(&a) ||
		    pthread_mutexattr_settype(&a, PTHREAD_MUTEX_RECURSIVE) ||
		    pthread_mutex_init(&dev->lock, &a)) {
			err = -ENOMEM;
			goto fail;
		}
		pthread_mutexattr_destroy(&a);
		dev->threaded = true;
	}
	dev->nvqs = dev->o.num_queues;
	dev->ngroups = dev->o.ngroups ? dev->o.ngroups : 1;
	dev->nas = dev->o.nas ? dev->o.nas : 1;
	if (!dev->nvqs || dev->nvqs > 0xffff || dev->ngroups > 0xffff || dev->nas > 0xffff) {
		vd_err(dev, "%u queues, %u groups, %u address spaces: out of range",
		       dev->nvqs, dev->ngroups, dev->nas);
		goto fail;
	}
	if (dev->o.config_size && !dev->o.config) {
		vd_err(dev, "config_size without config");
		goto fail;
	}
	err = -ENOMEM;
	dev->vqs = calloc(dev->nvqs, sizeof(*dev->vqs));
	dev->queue_sizes = calloc(dev->nvqs, sizeof(*dev->queue_sizes));
	dev->queue_group = calloc(dev->nvqs, sizeof(*dev->queue_group));
	dev->group_as = calloc(dev->ngroups, sizeof(*dev->group_as));
	dev->as = calloc(dev->nas, sizeof(*dev->as));
	if (!dev->vqs || !dev->queue_sizes || !dev->queue_group || !dev->group_as || !dev->as)
		goto fail;
	for (i = 0; i < dev->nvqs; i++) {
		dev->vqs[i].kickfd = -1;
		vduse_as_init(&dev->vqs[i].cache);
	}
	/* queue locks: plain mutexes, no callback runs with one held */
	for (i = 0; dev->threaded && i < dev->nvqs; i++) {
		if (pthread_mutex_init(&dev->vqs[i].lock, NULL)) {
			/* dev_free destroys nvqs locks: only as many as exist */
			dev->nvqs = i;
			goto fail;
		}
	}
	for (i = 0; i < dev->nas; i++)
		vduse_as_init(&dev->as[i]);
	err = -EINVAL;
	for (i = 0; i < dev->nvqs; i++) {
		struct vduse_vq *vq = &dev->vqs[i];
		uint32_t qs = dev->o.queue_sizes ? dev->o.queue_sizes[i] : dev->o.queue_size;

		if (!qs)
			qs = VDUSE_DEFAULT_QSIZE;
		if (qs > VDUSE_MAX_QUEUE_SIZE) {
			vd_err(dev, "queue %u: size %u above %u", i, qs, VDUSE_MAX_QUEUE_SIZE);
			goto fail;
		}
		vq->dev = dev;
		vq->threaded = dev->threaded;
		vq->index = i;
		vq->max_size = qs;
		vq->group = dev->o.queue_group ? dev->o.queue_group[i] : 0;
		if (vq->group >= dev->ngroups) {
			vd_err(dev, "queue %u: group %u of %u", i, vq->group, dev->ngroups);
			goto fail;
		}
		dev->queue_sizes[i] = qs;
		dev->queue_group[i] = vq->group;
		vq->kickfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
		if (vq->kickfd < 0) {
			err = -errno;
			goto fail;
		}
	}
	/* the arrays in the caller's options need not outlive this call */
	dev->o.queue_sizes = dev->queue_sizes;
	dev->o.queue_group = dev->queue_group;
	dev->o.config = NULL;
	*devp = dev;
	return 0;
fail:
	dev_free(dev);
	return err;
}

static int open_dev_fd(struct vduse_dev *dev)
{
	char path[sizeof("/dev/vduse/") + VDUSE_NAME_MAX];
	int i, fd = -1, err;

	strcpy(path, "/dev/vduse/");
	strcat(path, dev->name);
	/* the node appears asynchronously (devtmpfs/udev) after CREATE_DEV */
	for (i = 0; i < 200; i++) {
		fd = dev->be->open(dev->bctx, path, O_RDWR | O_NONBLOCK | O_CLOEXEC);
		if (fd >= 0 || errno != ENOENT)
			break;
		sleep_ms(10);
	}
	if (fd < 0) {
		err = -errno;
		vd_err(dev, "open %s: %s", path, strerror(errno));
		return err;
	}
	dev->fd = fd;
	err = vduse_dev_epoll_setup(dev);
	if (err)
		vd_err(dev, "epoll set: %s", strerror(-err));
	return err;
}

/* Pick the API version on the control fd; returns 0 or 1, or -errno. */
static int negotiate(struct vduse_dev *dev, int ctl)
{
	bool need_v1 = dev->ngroups > 1 || dev->nas > 1;
	uint64_t ver;

	if (!(dev->o.flags & VDUSE_DEV_F_API_V0)) {
		ver = VDUSE_API_VERSION_1;
		if (dev->be->ioctl(dev->bctx, ctl, VDUSE_SET_API_VERSION, &ver) == 0)
			return 1;
		if (errno != EINVAL) {
			vd_err(dev, "SET_API_VERSION(1): %s", strerror(errno));
			return -errno;
		}
		vd_info(dev, "kernel refused VDUSE API v1 (v0 only)");
	}
	if (need_v1) {
		vd_err(dev, "device needs %u vq groups and %u address spaces: that takes VDUSE "
		       "API v1, which %s", dev->ngroups, dev->nas,
		       dev->o.flags & VDUSE_DEV_F_API_V0 ? "VDUSE_DEV_F_API_V0 forbids"
							: "this kernel does not offer");
		return -EOPNOTSUPP;
	}
	ver = VDUSE_API_VERSION;
	if (dev->be->ioctl(dev->bctx, ctl, VDUSE_SET_API_VERSION, &ver) < 0) {
		vd_err(dev, "SET_API_VERSION(0): %s", strerror(errno));
		return -errno;
	}
	return 0;
}

static int setup_queues(struct vduse_dev *dev)
{
	uint32_t i;

	for (i = 0; i < dev->nvqs; i++) {
		struct vduse_vq_config c;

		memset(&c, 0, sizeof(c));
		c.index = i;
		c.max_size = dev->vqs[i].max_size;
		c.group = dev->api >= 1 ? dev->vqs[i].group : 0;
		if (vd_ioctl(dev, VDUSE_VQ_SETUP, &c) < 0) {
			vd_err(dev, "VQ_SETUP(%u, size %u, group %u): %s", i, c.max_size, c.group,
			       strerror(errno));
			return -errno;
		}
	}
	return 0;
}

static int ctl_destroy(const struct vduse_backend *be, void *ctx, const char *name)
{
	char buf[VDUSE_NAME_MAX];
	int ctl, ret = 0, i;

	ctl = be->open(ctx, CONTROL_PATH, O_RDWR | O_CLOEXEC);
	if (ctl < 0)
		return -errno;
	memset(buf, 0, sizeof(buf));
	strncpy(buf, name, sizeof(buf) - 1);
	/* the kernel may drop the last reference to the fd a moment late */
	for (i = 0; i < 20; i++) {
		ret = be->ioctl(ctx, ctl, VDUSE_DESTROY_DEV, buf) < 0 ? -errno : 0;
		if (ret != -EBUSY)
			break;
		sleep_ms(10);
	}
	close(ctl);
	return ret;
}

int vduse__dev_create(const struct vduse_dev_opts *opts, const struct vduse_backend *be,
		      void *ctx, struct vduse_dev **devp)
{
	struct vduse_dev_config *cfg;
	struct vduse_dev *dev;
	bool created = false;
	int ctl = -1, err;

	if (!devp)
		return -EINVAL;
	err = dev_alloc(opts, be, ctx, &dev);
	if (err)
		return err;
	err = -EINVAL;
	if (opts->config_size > 4096) {
		vd_err(dev, "config space of %u bytes (max one page)", opts->config_size);
		goto fail;
	}
	cfg = calloc(1, sizeof(*cfg) + opts->config_size);
	if (!cfg) {
		err = -ENOMEM;
		goto fail;
	}
	ctl = be->open(ctx, CONTROL_PATH, O_RDWR | O_CLOEXEC);
	if (ctl < 0) {
		err = -errno;
		vd_err(dev, "open %s: %s", CONTROL_PATH, strerror(errno));
		free(cfg);
		goto fail;
	}
	err = negotiate(dev, ctl);
	if (err < 0) {
		free(cfg);
		goto fail;
	}
	dev->api = err;
	strcpy(cfg->name, dev->name);
	cfg->device_id = dev->o.device_id;
	cfg->vendor_id = dev->o.vendor_id;
	cfg->features = dev->o.features | (1ull << VF_ACCESS_PLATFORM);
	cfg->vq_num = dev->nvqs;
	cfg->vq_align = dev->o.vq_align ? dev->o.vq_align : 4096;
	if (dev->api >= 1) {
		cfg->ngroups = dev->ngroups;
		cfg->nas = dev->nas;
	}
	cfg->config_size = opts->config_size;
	if (opts->config_size)
		memcpy(cfg->config, opts->config, opts->config_size);
	if (be->ioctl(ctx, ctl, VDUSE_CREATE_DEV, cfg) < 0) {
		err = -errno;
		vd_err(dev, "CREATE_DEV %s: %s", dev->name, strerror(errno));
		free(cfg);
		goto fail;
	}
	free(cfg);
	created = true;
	vd_info(dev, "created %s with VDUSE API v%d (%u queues, %u groups, %u ASes)",
		dev->name, dev->api, dev->nvqs, dev->ngroups, dev->nas);
	err = open_dev_fd(dev);
	if (err)
		goto fail;
	err = setup_queues(dev);
	if (err)
		goto fail;
	err = vduse_inflight_setup(dev, false);
	if (err)
		goto fail;
	close(ctl);
	*devp = dev;
	return 0;
fail:
	if (dev->fd >= 0) {
		close(dev->fd);
		dev->fd = -1;
	}
	if (created)
		ctl_destroy(be, ctx, dev->name);
	if (ctl >= 0)
		close(ctl);
	dev_free(dev);
	return err;
}

int vduse__dev_attach(const struct vduse_dev_opts *opts, const struct vduse_backend *be,
		      void *ctx, struct vduse_dev **devp)
{
	struct vduse_iotlb_entry_v2 probe;
	struct vduse_dev *dev;
	uint32_t i;
	int err;

	if (!devp)
		return -EINVAL;
	err = dev_alloc(opts, be, ctx, &dev);
	if (err)
		return err;
	err = open_dev_fd(dev);
	if (err)
		goto fail;
	/*
	 * Which API was the device created with? GET_FD2 with a non-zero
	 * reserved word is refused with ENOTTY on a v0 device and EINVAL on a
	 * v1 one, without side effects.
	 */
	memset(&probe, 0, sizeof(probe));
	probe.reserved[0] = 1;
	if (vd_ioctl(dev, VDUSE_IOTLB_GET_FD2, &probe) >= 0 || errno == EINVAL) {
		dev->api = 1;
	} else if (errno == ENOTTY) {
		dev->api = 0;
	} else {
		err = -errno;
		vd_err(dev, "probing the API version of %s: %s", dev->name, strerror(errno));
		goto fail;
	}
	if (dev->api == 0 && (dev->ngroups > 1 || dev->nas > 1)) {
		vd_err(dev, "%s is an API v0 device; options ask for %u groups, %u ASes",
		       dev->name, dev->ngroups, dev->nas);
		err = -EINVAL;
		goto fail;
	}
	err = vduse_inflight_setup(dev, true);
	if (err)
		goto fail;
	if (dev->nas > 1 && !dev->groups_known) {
		/*
		 * The kernel cannot report which address space each group is
		 * bound to; guessing ASID 0 would, for instance, read a control
		 * queue bound to ASID 1 from guest memory.
		 */
		vd_err(dev, "%s has %u address spaces: attaching needs the in-flight log that "
		       "recorded its group bindings", dev->name, dev->nas);
		err = -ENOTRECOVERABLE;
		goto fail;
	}
	/* The driver may be running: resume the queues it enabled. */
	dev->attaching = true;
	for (i = 0; i < dev->nvqs; i++) {
		struct vduse_vq_info info;

		memset(&info, 0, sizeof(info));
		info.index = i;
		if (vd_ioctl(dev, VDUSE_VQ_GET_INFO, &info) < 0) {
			err = -errno;
			vd_err(dev, "VQ_GET_INFO(%u): %s", i, strerror(errno));
			goto fail;
		}
		if (!info.ready)
			continue;
		if (!dev->running) {
			if (vd_ioctl(dev, VDUSE_DEV_GET_FEATURES, &dev->features) < 0) {
				err = -errno;
				goto fail;
			}
			dev->running = true;
			dev->status = 0x0f;	/* ACK | DRIVER | DRIVER_OK | FEATURES_OK */
		}
		struct vduse_vq_eventfd ev = { .index = i, .fd = dev->vqs[i].kickfd };

		if (vd_ioctl(dev, VDUSE_VQ_SETUP_KICKFD, &ev) < 0) {
			err = -errno;
			goto fail;
		}
		err = vduse_vq_start(&dev->vqs[i], &info);
		if (err == -ENOMEM)
			goto fail;
	}
	dev->attaching = false;
	if (dev->running) {
		/* queues not yet enabled get their kick fd too */
		for (i = 0; i < dev->nvqs; i++) {
			struct vduse_vq_eventfd ev = { .index = i, .fd = dev->vqs[i].kickfd };

			if (!dev->vqs[i].started)
				vd_ioctl(dev, VDUSE_VQ_SETUP_KICKFD, &ev);
		}
		vd_info(dev, "attached to running %s (API v%d)", dev->name, dev->api);
		if (dev->o.started)
			dev->o.started(dev, dev->o.user);
		for (i = 0; i < dev->nvqs && dev->o.queue_ready; i++)
			if (dev->vqs[i].started && !dev->vqs[i].broken)
				dev->o.queue_ready(dev, &dev->vqs[i], dev->o.user);
	}
	*devp = dev;
	return 0;
fail:
	dev_free(dev);
	return err;
}

EXPORT int vduse_dev_create(const struct vduse_dev_opts *opts, struct vduse_dev **devp)
{
	return vduse__dev_create(opts, &vduse_sys_backend, NULL, devp);
}

EXPORT int vduse_dev_attach(const struct vduse_dev_opts *opts, struct vduse_dev **devp)
{
	return vduse__dev_attach(opts, &vduse_sys_backend, NULL, devp);
}

EXPORT void vduse_dev_close(struct vduse_dev *dev)
{
	dev_free(dev);
}

EXPORT int vduse_dev_destroy(struct vduse_dev *dev)
{
	const struct vduse_backend *be;
	char name[VDUSE_NAME_MAX];
	void *ctx;
	int err;

	if (!dev)
		return -EINVAL;
	be = dev->be;
	ctx = dev->bctx;
	strcpy(name, dev->name);
	dev_free(dev);
	err = ctl_destroy(be, ctx, name);
	return err;
}

EXPORT int vduse_destroy_by_name(const char *name)
{
	if (!name || !name[0] || strlen(name) >= VDUSE_NAME_MAX)
		return -EINVAL;
	return ctl_destroy(&vduse_sys_backend, NULL, name);
}

EXPORT int vduse_dev_fd(const struct vduse_dev *dev) { return dev->fd; }
EXPORT const char *vduse_dev_name(const struct vduse_dev *dev) { return dev->name; }
EXPORT int vduse_dev_api_version(const struct vduse_dev *dev) { return dev->api; }
EXPORT uint64_t vduse_dev_features(const struct vduse_dev *dev)
{
	uint64_t f;

	vduse_lock((struct vduse_dev *)dev);
	f = dev->features;
	vduse_unlock((struct vduse_dev *)dev);
	return f;
}

EXPORT uint8_t vduse_dev_status(const struct vduse_dev *dev)
{
	uint8_t st;

	vduse_lock((struct vduse_dev *)dev);
	st = dev->status;
	vduse_unlock((struct vduse_dev *)dev);
	return st;
}
EXPORT void *vduse_dev_user(const struct vduse_dev *dev) { return dev->o.user; }
EXPORT unsigned int vduse_dev_num_queues(const struct vduse_dev *dev) { return dev->nvqs; }

EXPORT struct vduse_vq *vduse_dev_vq(struct vduse_dev *dev, unsigned int index)
{
	return index < dev->nvqs ? &dev->vqs[index] : NULL;
}

EXPORT int vduse_dev_group_asid(const struct vduse_dev *dev, uint32_t group)
{
	int asid;

	if (group >= dev->ngroups)
		return -EINVAL;
	vduse_lock((struct vduse_dev *)dev);
	asid = (int)dev->group_as[group];
	vduse_unlock((struct vduse_dev *)dev);
	return asid;
}

EXPORT int vduse_dev_update_config(struct vduse_dev *dev, uint32_t offset, const void *data,
				   uint32_t len)
{
	struct vduse_config_data *c;
	int err = 0;

	if (!len || !data || offset > 4096 || len > 4096 - offset)
		return -EINVAL;
	c = calloc(1, sizeof(*c) + len);
	if (!c)
		return -ENOMEM;
	c->offset = offset;
	c->length = len;
	memcpy(c->buffer, data, len);
	if (vd_ioctl(dev, VDUSE_DEV_SET_CONFIG, c) < 0) {
		err = -errno;
		vd_err(dev, "DEV_SET_CONFIG(%u, %u): %s", offset, len, strerror(errno));
	} else if (vd_ioctl(dev, VDUSE_DEV_INJECT_CONFIG_IRQ, NULL) < 0) {
		err = -errno;
		vd_err(dev, "DEV_INJECT_CONFIG_IRQ: %s", strerror(errno));
	}
	free(c);
	return err;
}

/*
 * VDUSE_DEV_F_THREADS: every queue thread out of the library (or waiting at
 * its next call) while the kernel swaps @asid's bounce pages: it zaps the
 * range's mappings and copies the data across, so a queue reading an
 * indirect table or a ring through its cached mapping meanwhile would fault
 * or miss the copy. Device lock held; queue locks in index order.
 */
static void umem_quiesce(struct vduse_dev *dev)
{
	uint32_t i;

	for (i = 0; dev->threaded && i < dev->nvqs; i++)
		vduse_vq_lock_msg(&dev->vqs[i]);
}

static void umem_resume(struct vduse_dev *dev)
{
	uint32_t i;

	for (i = 0; dev->threaded && i < dev->nvqs; i++)
		vduse_vq_unlock(&dev->vqs[i]);
}

/*
 * Switch @asid's bounce range [iova, iova + len) to @addr (or back to the
 * kernel's pages). Queue threads read the umem fields when they fetch a
 * mapping: called between umem_quiesce() and umem_resume().
 */
static void umem_set(struct vduse_dev *dev, uint32_t asid, void *addr, uint64_t iova,
		     uint64_t len)
{
	struct vduse_as *as = &dev->as[asid];
	uint32_t i;

	vduse_iotlb_invalidate(dev, asid, iova, iova + len - 1);
	for (i = 0; i < dev->nvqs; i++) {
		if (dev->threaded && dev->vqs[i].asid == asid)
			vduse_as_invalidate(&dev->vqs[i].cache, iova, iova + len - 1);
		vduse_vq_drop_dead_xlate(&dev->vqs[i]);
	}
	as->umem = addr;
	as->umem_iova = iova;
	as->umem_len = addr ? len : 0;
}

static int reg_umem(struct vduse_dev *dev, uint32_t asid, void *addr, size_t len)
{
	struct vduse_iova_umem u;
	struct vduse_as *as;
	int err = 0;

	if (asid >= dev->nas || !addr || !len || ((uintptr_t)addr & (getpagesize() - 1)))
		return -EINVAL;
	as = &dev->as[asid];
	if (as->umem)
		return -EEXIST;
	memset(&u, 0, sizeof(u));
	u.uaddr = (uintptr_t)addr;
	u.iova = 0;
	u.size = len;
	u.asid = asid;
	umem_quiesce(dev);
	if (vd_ioctl(dev, VDUSE_IOTLB_REG_UMEM, &u) < 0)
		err = -errno;
	else	/* cached mappings of the bounce range now point at stale pages */
		umem_set(dev, asid, addr, 0, len);
	umem_resume(dev);
	/* logged without the queue locks: the log callback may call the library */
	if (err)
		vd_err(dev, "IOTLB_REG_UMEM(ASID %u, %zu bytes): %s%s", asid, len, strerror(-err),
		       err == -ENOMEM ? " (the pages count against RLIMIT_MEMLOCK)" : "");
	return err;
}

EXPORT int vduse_dev_reg_umem(struct vduse_dev *dev, uint32_t asid, void *addr, size_t len)
{
	int err;

	vduse_lock(dev);
	err = reg_umem(dev, asid, addr, len);
	vduse_unlock(dev);
	return err;
}

EXPORT int vduse_dev_umem_size(struct vduse_dev *dev, uint32_t asid, uint64_t *size)
{
	struct vduse_iova_info info;

	if (asid >= dev->nas || !size)
		return -EINVAL;
	memset(&info, 0, sizeof(info));
	info.start = 0;
	info.last = 0;
	info.asid = asid;
	if (vd_ioctl(dev, VDUSE_IOTLB_GET_INFO, &info) < 0)
		return errno == EINVAL ? -ENOENT : -errno;
	if (!(info.capability & VDUSE_IOVA_CAP_UMEM) || info.start != 0 || info.last == UINT64_MAX)
		return -ENOENT;
	*size = info.last + 1;
	return 0;
}

static int dereg_umem(struct vduse_dev *dev, uint32_t asid)
{
	struct vduse_iova_umem u;
	struct vduse_as *as;
	int err = 0;

	if (asid >= dev->nas)
		return -EINVAL;
	as = &dev->as[asid];
	if (!as->umem)
		return -ENOENT;
	memset(&u, 0, sizeof(u));
	u.uaddr = (uintptr_t)as->umem;
	u.iova = as->umem_iova;
	u.size = as->umem_len;
	u.asid = asid;
	umem_quiesce(dev);
	if (vd_ioctl(dev, VDUSE_IOTLB_DEREG_UMEM, &u) < 0)
		err = -errno;
	else
		umem_set(dev, asid, NULL, as->umem_iova, as->umem_len);
	umem_resume(dev);
	if (err)
		vd_err(dev, "IOTLB_DEREG_UMEM(ASID %u): %s", asid, strerror(-err));
	return err;
}

EXPORT int vduse_dev_dereg_umem(struct vduse_dev *dev, uint32_t asid)
{
	int err;

	vduse_lock(dev);
	err = dereg_umem(dev, asid);
	vduse_unlock(dev);
	return err;
}
