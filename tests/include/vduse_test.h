/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Helpers shared by the raw-ioctl VDUSE guest tests (conformance, vhost_asid):
 * which implementation we judge, device creation, sysfs, the vDPA bus, and a
 * responder thread that plays the device's message loop and logs every
 * request it sees.
 *
 * Header-only: each guest test source is built into one static program.
 */
#ifndef VDUSE_TESTS_VDUSE_TEST_H
#define VDUSE_TESTS_VDUSE_TEST_H

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <stddef.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <linux/virtio_blk.h>
#include <linux/virtio_config.h>
#include <linux/virtio_ids.h>
#include <linux/virtio_net.h>
#include "linux/vduse.h"
#include "flex.h"

/* The three kernels the suites judge (the guest's /etc/vmtest.conf). */
enum impl { IMPL_UPSTREAM, IMPL_STOCK612, IMPL_OURS };

static inline int impl_parse(const char *s, enum impl *out)
{
	if (!strcmp(s, "upstream"))
		*out = IMPL_UPSTREAM;
	else if (!strcmp(s, "stock612"))
		*out = IMPL_STOCK612;
	else if (!strcmp(s, "ours"))
		*out = IMPL_OURS;
	else
		return -1;
	return 0;
}

/* The running kernel's 6.12 stable release (117 for 6.12.117), or -1. */
static inline int kernel_612_sublevel(void)
{
	struct utsname u;
	int a, b, c;

	if (uname(&u) || sscanf(u.release, "%d.%d.%d", &a, &b, &c) != 3 || a != 6 || b != 12)
		return -1;
	return c;
}

/*
 * Stock 6.12's vduse changed within the stable series: from 6.12.114
 * ("vduse: validate virtqueue alignment", Debian's changelog of linux
 * 6.12.117-1) CREATE_DEV refuses vq_align 0, a non-power of two and one
 * below 4, as ours and upstream do; 6.12.95 took them.
 */
static inline int stock612_checks_vq_align(void)
{
	return kernel_612_sublevel() >= 114;
}

static inline void msleep_(int ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

static inline double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* ---- device creation ---------------------------------------------------- */

/* CREATE_DEV's argument: blk or net overlays c.config[] (see flex.h). */
struct devcfg {
	union {
		struct vduse_dev_config c;
		struct {
			FLEX_HEAD(struct vduse_dev_config);
			union {
				struct virtio_blk_config blk;
				struct virtio_net_config net;
			};
		};
	};
};
_Static_assert(offsetof(struct devcfg, blk) == offsetof(struct vduse_dev_config, config),
	       "the device config must start at vduse_dev_config.config");

/* A valid virtio-blk configuration; tests then break one field at a time. */
static inline void blk_cfg(struct devcfg *cfg, const char *name, uint32_t vqs,
			   uint32_t ngroups, uint32_t nas)
{
	memset(cfg, 0, sizeof(*cfg));
	snprintf(cfg->c.name, sizeof(cfg->c.name), "%s", name);
	cfg->c.device_id = VIRTIO_ID_BLOCK;
	cfg->c.features = (1ull << VIRTIO_F_VERSION_1) | (1ull << VIRTIO_F_ACCESS_PLATFORM);
	cfg->c.vq_num = vqs;
	cfg->c.vq_align = 4096;
	cfg->c.ngroups = ngroups;
	cfg->c.nas = nas;
	cfg->c.config_size = sizeof(cfg->blk);
	cfg->blk.capacity = 2048;
}

static inline void net_cfg(struct devcfg *cfg, const char *name, uint32_t vqs,
			   uint32_t ngroups, uint32_t nas)
{
	memset(cfg, 0, sizeof(*cfg));
	snprintf(cfg->c.name, sizeof(cfg->c.name), "%s", name);
	cfg->c.device_id = VIRTIO_ID_NET;
	cfg->c.features = (1ull << VIRTIO_F_VERSION_1) | (1ull << VIRTIO_F_ACCESS_PLATFORM);
	cfg->c.vq_num = vqs;
	cfg->c.vq_align = 4096;
	cfg->c.ngroups = ngroups;
	cfg->c.nas = nas;
	cfg->c.config_size = sizeof(cfg->net);
	cfg->net.mtu = 1500;
}

static inline int ctl_open(void)
{
	return open("/dev/vduse/control", O_RDWR | O_CLOEXEC);
}

static inline int ctl_set_version(int ctl, uint64_t v)
{
	return ioctl(ctl, VDUSE_SET_API_VERSION, &v);
}

/* Open /dev/vduse/NAME (non-blocking), waiting for udev-less devtmpfs. */
static inline int dev_open(const char *name)
{
	char path[300];
	int i, fd = -1;

	snprintf(path, sizeof(path), "/dev/vduse/%s", name);
	for (i = 0; i < 50; i++) {
		fd = open(path, O_RDWR | O_NONBLOCK | O_CLOEXEC);
		if (fd >= 0 || errno != ENOENT)
			break;
		msleep_(50);
	}
	return fd;
}

/*
 * DESTROY_DEV, retrying EBUSY briefly: the kernel may drop the last reference
 * to a closed device fd a moment after close().
 */
static inline int dev_destroy(int ctl, const char *name)
{
	char n[VDUSE_NAME_MAX] = { 0 };
	int i, r = -1;

	snprintf(n, sizeof(n), "%s", name);
	for (i = 0; i < 40; i++) {
		r = ioctl(ctl, VDUSE_DESTROY_DEV, n);
		if (r == 0 || errno != EBUSY)
			break;
		msleep_(50);
	}
	return r;
}

/*
 * The API version a device was created with, seen from its fd: GET_FD2 is
 * ENOTTY on v0; on v1 without a domain it is EINVAL. Returns -1 otherwise.
 */
static inline int dev_api_version(int fd)
{
	struct vduse_iotlb_entry_v2 e;

	memset(&e, 0, sizeof(e));
	e.last = ~0ull;
	if (ioctl(fd, VDUSE_IOTLB_GET_FD2, &e) >= 0)
		return -1;
	if (errno == ENOTTY)
		return 0;
	if (errno == EINVAL)
		return 1;
	return -1;
}

/* ---- sysfs and the vDPA bus ---------------------------------------------- */

/* Write VALUE to /sys/class/vduse/NAME/ATTR; 0 or -errno. */
static inline int sysfs_write(const char *name, const char *attr, const char *value)
{
	char path[400];
	int fd, r = 0;

	snprintf(path, sizeof(path), "/sys/class/vduse/%s/%s", name, attr);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (write(fd, value, strlen(value)) < 0)
		r = -errno;
	close(fd);
	return r;
}

/* Read an unsigned number from /sys/class/vduse/NAME/ATTR; -1 on error. */
static inline long long sysfs_read(const char *name, const char *attr)
{
	char path[400], buf[64];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/sys/class/vduse/%s/%s", name, attr);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = 0;
	return strtoll(buf, NULL, 10);
}

static inline int run_cmd(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static inline int run_cmd(const char *fmt, ...)
{
	char cmd[512];
	va_list ap;
	int rc;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	fflush(stdout);
	rc = system(cmd);
	return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

static inline int vdpa_add(const char *name)
{
	return run_cmd("vdpa dev add name %s mgmtdev vduse 2>&1 | sed 's/^/# vdpa: /'; "
		       "test -e /sys/bus/vdpa/devices/%s", name, name);
}

static inline int vdpa_del(const char *name)
{
	return run_cmd("vdpa dev del %s 2>&1 | sed 's/^/# vdpa: /'; "
		       "test ! -e /sys/bus/vdpa/devices/%s", name, name);
}

/*
 * What a crashed earlier run left: unbind and destroy each of the N NAMES,
 * through the control fd CTL (-1: one opened here).
 */
static inline void cleanup_names(int ctl_fd, const char *const *names, size_t n)
{
	char path[300];
	size_t i;
	int ctl = ctl_fd >= 0 ? ctl_fd : ctl_open();

	for (i = 0; i < n; i++) {
		snprintf(path, sizeof(path), "/sys/bus/vdpa/devices/%s", names[i]);
		if (access(path, F_OK) == 0)
			vdpa_del(names[i]);
		snprintf(path, sizeof(path), "/dev/vduse/%s", names[i]);
		if (access(path, F_OK) == 0 && dev_destroy(ctl, names[i]))
			printf("# cleanup: cannot destroy %s: %s\n", names[i], strerror(errno));
	}
	if (ctl_fd < 0 && ctl >= 0)
		close(ctl);
}

/*
 * The tests bind their devices to vhost_vdpa; with virtio_vdpa loaded the
 * kernel's virtio driver would claim them instead (and may wait forever for
 * I/O the raw test device never completes).
 */
static inline int virtio_vdpa_loaded(void)
{
	return access("/sys/module/virtio_vdpa", F_OK) == 0;
}

/* Find /dev/vhost-vdpa-N of vDPA device NAME (bound to vhost_vdpa). */
static inline int vhost_path(const char *name, char *path, size_t len)
{
	char dir[300];
	struct dirent *de;
	DIR *d;
	int i;

	snprintf(dir, sizeof(dir), "/sys/bus/vdpa/devices/%s", name);
	for (i = 0; i < 50; i++) {
		d = opendir(dir);
		if (d) {
			while ((de = readdir(d))) {
				if (!strncmp(de->d_name, "vhost-vdpa-", 11)) {
					snprintf(path, len, "/dev/%s", de->d_name);
					closedir(d);
					if (access(path, F_OK) == 0)
						return 0;
					goto again;
				}
			}
			closedir(d);
		}
again:
		msleep_(50);
	}
	return -1;
}

/* ---- responder: the device's message loop, in a thread ------------------- */

/* REPLY_BOGUS answers with result 7, neither OK nor FAILED */
enum { REPLY_OK, REPLY_FAILED, REPLY_NONE, REPLY_BOGUS };
#define RLOG_MAX 512
#define AVAIL_BASE 0x1200	/* GET_VQ_STATE answer: AVAIL_BASE + vq index */

struct responder {
	pthread_t th;
	pthread_mutex_t lock;
	int fd;			/* changed only while paused */
	int stop, paused, idle;	/* accessed with __atomic */
	int policy[8];		/* per request type */
	int packed;		/* answer GET_VQ_STATE with packed_reply */
	struct vduse_vq_state_packed packed_reply;
	struct vduse_dev_request log[RLOG_MAX];
	int nlog;
	int write_errors;
};

static inline void *responder_main(void *arg)
{
	struct responder *r = arg;

	while (!__atomic_load_n(&r->stop, __ATOMIC_ACQUIRE)) {
		struct vduse_dev_request req;
		struct vduse_dev_response resp;
		struct pollfd p;
		int pol;

		if (__atomic_load_n(&r->paused, __ATOMIC_ACQUIRE)) {
			__atomic_store_n(&r->idle, 1, __ATOMIC_RELEASE);
			msleep_(2);
			continue;
		}
		p.fd = r->fd;
		p.events = POLLIN;
		p.revents = 0;
		if (poll(&p, 1, 20) <= 0 || !(p.revents & POLLIN)) {
			if (p.revents & (POLLERR | POLLNVAL))
				msleep_(20);
			continue;
		}
		pthread_mutex_lock(&r->lock);
		if (__atomic_load_n(&r->paused, __ATOMIC_ACQUIRE) ||
		    read(r->fd, &req, sizeof(req)) != sizeof(req)) {
			pthread_mutex_unlock(&r->lock);
			continue;
		}
		if (r->nlog < RLOG_MAX)
			r->log[r->nlog++] = req;
		pol = req.type < 8 ? r->policy[req.type] : REPLY_FAILED;
		if (pol != REPLY_NONE) {
			memset(&resp, 0, sizeof(resp));
			resp.request_id = req.request_id;
			resp.result = pol == REPLY_OK ? VDUSE_REQ_RESULT_OK :
				      pol == REPLY_BOGUS ? 7 : VDUSE_REQ_RESULT_FAILED;
			if (req.type == VDUSE_GET_VQ_STATE) {
				resp.vq_state.index = req.vq_state.index;
				if (r->packed)
					resp.vq_state.packed = r->packed_reply;
				else
					resp.vq_state.split.avail_index = AVAIL_BASE + req.vq_state.index;
			}
			if (write(r->fd, &resp, sizeof(resp)) != sizeof(resp))
				r->write_errors++;
		}
		pthread_mutex_unlock(&r->lock);
	}
	return NULL;
}

/* Start answering FD's requests: known types OK, unknown ones FAILED. */
static inline int responder_start(struct responder *r, int fd)
{
	int i;

	memset(r, 0, sizeof(*r));
	pthread_mutex_init(&r->lock, NULL);
	r->fd = fd;
	for (i = 0; i < 8; i++)
		r->policy[i] = i <= VDUSE_SET_VQ_GROUP_ASID ? REPLY_OK : REPLY_FAILED;
	return pthread_create(&r->th, NULL, responder_main, r);
}

static inline void responder_set_policy(struct responder *r, int type, int pol)
{
	pthread_mutex_lock(&r->lock);
	r->policy[type] = pol;
	pthread_mutex_unlock(&r->lock);
}

/* Stop touching the fd; on return the thread is idle until resumed. */
static inline void responder_pause(struct responder *r)
{
	__atomic_store_n(&r->idle, 0, __ATOMIC_RELEASE);
	__atomic_store_n(&r->paused, 1, __ATOMIC_RELEASE);
	while (!__atomic_load_n(&r->idle, __ATOMIC_ACQUIRE))
		msleep_(1);
}

static inline void responder_resume(struct responder *r, int fd)
{
	r->fd = fd;
	__atomic_store_n(&r->paused, 0, __ATOMIC_RELEASE);
}

static inline void responder_stop(struct responder *r)
{
	__atomic_store_n(&r->stop, 1, __ATOMIC_RELEASE);
	pthread_join(r->th, NULL);
}

/* Number of requests logged so far (a mark for responder_find). */
static inline int responder_mark(struct responder *r)
{
	int n;

	pthread_mutex_lock(&r->lock);
	n = r->nlog;
	pthread_mutex_unlock(&r->lock);
	return n;
}

/* Copy the first request of TYPE logged at or after MARK; 0 if found. */
static inline int responder_find(struct responder *r, int mark, uint32_t type,
				 struct vduse_dev_request *out)
{
	int i, found = -1;

	pthread_mutex_lock(&r->lock);
	for (i = mark; i < r->nlog; i++) {
		if (r->log[i].type == type) {
			*out = r->log[i];
			found = 0;
			break;
		}
	}
	pthread_mutex_unlock(&r->lock);
	return found;
}

/* Requests of TYPE logged at or after MARK. */
static inline int responder_count(struct responder *r, int mark, uint32_t type)
{
	int i, n = 0;

	pthread_mutex_lock(&r->lock);
	for (i = mark; i < r->nlog; i++)
		n += r->log[i].type == type;
	pthread_mutex_unlock(&r->lock);
	return n;
}

/* ---- an ioctl run in a thread (it blocks until the device answers) ------- */

struct async_ioctl {
	pthread_t th;
	int fd;
	unsigned long cmd;
	void *arg;
	long ret;
	int err;
	int done;	/* __atomic */
};

static inline void *async_ioctl_main(void *arg)
{
	struct async_ioctl *a = arg;

	errno = 0;
	a->ret = ioctl(a->fd, a->cmd, a->arg);
	a->err = errno;
	__atomic_store_n(&a->done, 1, __ATOMIC_RELEASE);
	return NULL;
}

static inline int async_ioctl_start(struct async_ioctl *a, int fd, unsigned long cmd, void *arg)
{
	memset(a, 0, sizeof(*a));
	a->fd = fd;
	a->cmd = cmd;
	a->arg = arg;
	return pthread_create(&a->th, NULL, async_ioctl_main, a);
}

/*
 * Wait up to MS for a thread that sets *DONE when its call returns; 0 if it
 * did (then joined), -1 if it still runs.
 */
static inline int thread_done_wait(const int *done, pthread_t th, int ms)
{
	double end = now_s() + ms / 1000.0;

	while (!__atomic_load_n(done, __ATOMIC_ACQUIRE)) {
		if (now_s() > end)
			return -1;
		msleep_(2);
	}
	pthread_join(th, NULL);
	return 0;
}

/* Wait up to MS for the call to return; 0 if it did (then joined). */
static inline int async_ioctl_wait(struct async_ioctl *a, int ms)
{
	return thread_done_wait(&a->done, a->th, ms);
}

/* Wait until FD polls with any of EVENTS (or an error bit); revents or 0. */
static inline int poll_wait(int fd, short events, int ms)
{
	struct pollfd p = { .fd = fd, .events = events };

	if (poll(&p, 1, ms) <= 0)
		return 0;
	return p.revents;
}

#endif
