// SPDX-License-Identifier: GPL-2.0
/*
 * vhost_asid: VDUSE virtqueue groups and address spaces as a vhost-vdpa
 * consumer (QEMU's CVQ shadowing) sees them.
 *
 *   vhost_asid --impl upstream|stock612|ours
 *
 * A raw-ioctl block device with 3 vqs in 2 groups (vq 2 alone in group 1,
 * where a virtio-net CVQ would be) and 2 address spaces is bound to
 * vhost_vdpa. The test is at once the consumer (ioctls and IOTLB v2 messages
 * on /dev/vhost-vdpa-N) and, through a responder thread, the device's
 * message loop: every request the kernel sends is logged and checked, and
 * the device resolves the consumer's mappings per ASID with GET_FD2.
 *
 * A v0 device runs on every kernel; the v1 part is skipped where API v1 does
 * not exist (Debian 6.12's own vduse).
 */
#define _GNU_SOURCE
#include <signal.h>
#include <sys/mman.h>
#include "tap.h"
#include "vduse_test.h"
#include "vhost_vdpa_client.h"

static const struct expect {
	const char *name;
	int has_v1;
	/* GET_VRING_GROUP on a v0 device: the group (0) or -errno */
	int v0_vring_group;
	/* SET_GROUP_ASID(0, 0) on a v0 device: errno */
	int v0_set_group_asid_errno;
	/* a v1 net device with CTRL_VQ alone in its group exists (§5d) */
	int net_cvq;
	/*
	 * Reset returns each group off AS 0 to AS 0 and sends the device one
	 * SET_VQ_GROUP_ASID(group, 0) for it, after SET_STATUS 0 (§5f,
	 * docs/uapi.md); 0: bindings survive reset and no message comes.
	 */
	int reset_rebinds;
} expect_tab[] = {
	/* §3.3: v0 -> EINVAL, no message; CTRL_VQ refused since 56e71885b034; §3.10 measured */
	[IMPL_UPSTREAM] = { "upstream", 1, 0, EINVAL, 0, 0 },
	/* 6.12's vduse has no get_vq_group/set_group_asid ops: vhost-vdpa says EOPNOTSUPP */
	[IMPL_STOCK612] = { "stock612", 0, -EOPNOTSUPP, EOPNOTSUPP, 0, 0 },
	/* §5c check 1; §5d cvq_policy=isolated (the default); §5f */
	[IMPL_OURS] = { "ours", 1, 0, EINVAL, 1, 1 },
};

static enum impl impl;
static const struct expect *X;

#define BUFSZ 65536

struct dev {
	const char *name;
	int ver;
	int ctl, fd, vh;
	struct responder r;
	int r_started;
	char vpath[300];
};

static void *membuf(int fill)
{
	void *p = MAP_FAILED;
	int fd = memfd_create("vhost-asid", 0);

	if (fd >= 0 && ftruncate(fd, BUFSZ) == 0)
		p = mmap(NULL, BUFSZ, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (fd >= 0)
		close(fd);	/* the mapping keeps the file */
	if (p == MAP_FAILED)
		return NULL;
	for (int i = 0; i < BUFSZ; i++)
		((uint8_t *)p)[i] = (uint8_t)(fill + i * 13);
	return p;
}

/*
 * Resolve IOVA in ASID like a device: GET_FD2 (GET_FD if LEGACY), then map
 * the whole region. Returns the mapping of IOVA, or NULL with errno.
 */
static uint8_t *dev_map(int fd, uint32_t asid, uint64_t iova, int legacy, size_t *len, void **base)
{
	struct vduse_iotlb_entry_v2 e;
	struct vduse_iotlb_entry le;
	uint64_t start, last, off;
	uint8_t perm;
	int gfd, prot;
	void *p;

	if (legacy) {
		memset(&le, 0, sizeof(le));
		le.start = le.last = iova;
		gfd = ioctl(fd, VDUSE_IOTLB_GET_FD, &le);
		start = le.start;
		last = le.last;
		off = le.offset;
		perm = le.perm;
	} else {
		memset(&e, 0, sizeof(e));
		e.start = e.last = iova;
		e.asid = asid;
		gfd = ioctl(fd, VDUSE_IOTLB_GET_FD2, &e);
		start = e.start;
		last = e.last;
		off = e.offset;
		perm = e.perm;
	}
	if (gfd < 0)
		return NULL;
	prot = (perm & VDUSE_ACCESS_RO ? PROT_READ : 0) | (perm & VDUSE_ACCESS_WO ? PROT_WRITE : 0);
	*len = last - start + 1;
	p = mmap(NULL, *len, prot, MAP_SHARED, gfd, off);
	close(gfd);
	if (p == MAP_FAILED)
		return NULL;
	*base = p;
	return (uint8_t *)p + (iova - start);
}

/* The device reads WANT (BUFSZ bytes) at IOVA in ASID. */
static void check_read(struct dev *d, uint32_t asid, uint64_t iova, int legacy, const void *want, const char *what)
{
	size_t len = 0;
	void *base = NULL;
	uint8_t *p = dev_map(d->fd, asid, iova, legacy, &len, &base);

	TAP_OK(p && len == BUFSZ && !memcmp(p, want, BUFSZ), what, "%s",
	       !p ? strerror(errno) : len != BUFSZ ? "wrong length" : "data differs");
	if (base)
		munmap(base, len);
}

static void check_absent(struct dev *d, uint32_t asid, uint64_t iova, const char *what)
{
	struct vduse_iotlb_entry_v2 e;

	memset(&e, 0, sizeof(e));
	e.start = iova;
	e.last = iova + BUFSZ - 1;
	e.asid = asid;
	TAP_ERRNO(ioctl(d->fd, VDUSE_IOTLB_GET_FD2, &e), EINVAL, what);
}

/* The UPDATE_IOTLB logged since MARK names ASID (v1) and the full range. */
static void check_update_msg(struct dev *d, int mark, uint32_t asid, const char *what)
{
	struct vduse_dev_request q;
	int n = responder_count(&d->r, mark, VDUSE_UPDATE_IOTLB);

	memset(&q, 0, sizeof(q));
	responder_find(&d->r, mark, VDUSE_UPDATE_IOTLB, &q);
	if (d->ver == 0)
		TAP_OK(n == 1 && q.iova.start == 0 && q.iova.last == ~0ull, what,
		       "%d messages, start 0x%llx last 0x%llx", n,
		       (unsigned long long)q.iova.start, (unsigned long long)q.iova.last);
	else
		TAP_OK(n == 1 && q.iova_v2.asid == asid && q.iova_v2.start == 0 && q.iova_v2.last == ~0ull,
		       what, "%d messages, asid %u start 0x%llx last 0x%llx", n, q.iova_v2.asid,
		       (unsigned long long)q.iova_v2.start, (unsigned long long)q.iova_v2.last);
}

/* A block device, or with NET a v1 virtio-net device whose CVQ (vq 2) is alone in group 1. */
static int dev_up(struct dev *d, const char *name, int ver, int net)
{
	uint32_t nvqs = ver ? 3 : 2;
	struct vduse_vq_config vq;
	struct devcfg cfg;
	char nm[200];
	uint32_t i;

	memset(d, 0, sizeof(*d));
	d->name = name;
	d->ver = ver;
	d->fd = d->vh = -1;
	d->ctl = ctl_open();
	ctl_set_version(d->ctl, ver);
	blk_cfg(&cfg, name, nvqs, ver ? 2 : 0, ver ? 2 : 0);
	if (net) {
		net_cfg(&cfg, name, nvqs, 2, 2);
		cfg.c.features |= (1ull << VIRTIO_NET_F_CTRL_VQ) | (1ull << VIRTIO_NET_F_CTRL_RX);
	}
	if (ioctl(d->ctl, VDUSE_CREATE_DEV, &cfg)) {
		TAP_OK(0, "CREATE_DEV", "v%d: %s", ver, strerror(errno));
		return -1;
	}
	d->fd = dev_open(name);
	if (d->fd < 0) {
		TAP_OK(0, "open the device", "%s", strerror(errno));
		return -1;
	}
	for (i = 0; i < nvqs; i++) {
		memset(&vq, 0, sizeof(vq));
		vq.index = i;
		vq.max_size = 64;
		vq.group = ver && i == 2 ? 1 : 0;	/* vq 2 alone in group 1 */
		if (ioctl(d->fd, VDUSE_VQ_SETUP, &vq)) {
			TAP_OK(0, "VQ_SETUP", "vq %u: %s", i, strerror(errno));
			return -1;
		}
	}
	sysfs_write(name, "msg_timeout", "5");	/* a lost reply must not stall the run */
	if (responder_start(&d->r, d->fd))
		return -1;
	d->r_started = 1;
	if (vdpa_add(name) || vhost_path(name, d->vpath, sizeof(d->vpath))) {
		TAP_OK(0, "vdpa dev add, bound to vhost_vdpa", "v%d", ver);
		return -1;
	}
	d->vh = vh_open(d->vpath);
	snprintf(nm, sizeof(nm), "%s: open vhost-vdpa, SET_OWNER, backend features MSG_V2|BATCH|ASID", name);
	TAP_SYS(d->vh, nm);
	return d->vh < 0 ? -1 : 0;
}

static void dev_down(struct dev *d)
{
	char path[300], nm[100];

	if (d->vh >= 0)
		close(d->vh);
	snprintf(path, sizeof(path), "/sys/bus/vdpa/devices/%s", d->name);
	if (access(path, F_OK) == 0 && vdpa_del(d->name))
		tap_diag("vdpa dev del %s failed", d->name);
	if (d->r_started)
		responder_stop(&d->r);
	if (d->fd >= 0)
		close(d->fd);
	snprintf(nm, sizeof(nm), "%s: DESTROY_DEV", d->name);
	TAP_SYS(dev_destroy(d->ctl, d->name), nm);
	close(d->ctl);
}

/*
 * msg_timeout with no answer: the call fails with EIO and the device is
 * broken for good (§3.9). CALL provokes one message of TYPE.
 */
static void check_timeout(struct dev *d, uint32_t type, int (*call)(struct dev *), const char *what)
{
	struct vhost_vring_state st = { .index = 0 };
	struct vduse_vq_info info = { .index = 0 };
	struct vduse_iotlb_entry e;
	const char *pfx = d->ver ? "v1" : "v0";
	char nm[200];
	double t0, dt;
	int r, ev, mark;

	snprintf(nm, sizeof(nm), "%s: msg_timeout set to 1 s", pfx);
	TAP_EQ(sysfs_write(d->name, "msg_timeout", "1"), 0, nm);
	responder_set_policy(&d->r, type, REPLY_NONE);
	mark = responder_mark(&d->r);
	t0 = now_s();
	errno = 0;
	r = call(d);
	dt = now_s() - t0;
	snprintf(nm, sizeof(nm), "%s, never answered: EIO after msg_timeout", what);
	TAP_OK(r < 0 && errno == EIO && dt > 0.5, nm, "returned %d errno %d after %.1f s", r, errno, dt);
	snprintf(nm, sizeof(nm), "%s: the unanswered message did reach the device", pfx);
	TAP_EQ(responder_count(&d->r, mark, type), 1, nm);
	responder_pause(&d->r);
	ev = poll_wait(d->fd, POLLIN, 0);
	snprintf(nm, sizeof(nm), "%s: a timed-out device polls POLLERR", pfx);
	TAP_OK(ev & POLLERR, nm, "revents 0x%x", ev);
	snprintf(nm, sizeof(nm), "%s: a broken device's ioctls: EPERM (VQ_GET_INFO)", pfx);
	TAP_ERRNO(ioctl(d->fd, VDUSE_VQ_GET_INFO, &info), EPERM, nm);
	memset(&e, 0, sizeof(e));
	e.last = ~0ull;
	snprintf(nm, sizeof(nm), "%s: a broken device's ioctls: EPERM (GET_FD)", pfx);
	TAP_ERRNO(ioctl(d->fd, VDUSE_IOTLB_GET_FD, &e), EPERM, nm);
	mark = responder_mark(&d->r);
	t0 = now_s();
	errno = 0;
	r = ioctl(d->vh, VHOST_GET_VRING_BASE, &st);
	dt = now_s() - t0;
	snprintf(nm, sizeof(nm), "%s: later messages fail at once with EIO", pfx);
	TAP_OK(r < 0 && errno == EIO && dt < 0.9, nm,
	       "returned %d errno %d after %.1f s", r, errno, dt);
	snprintf(nm, sizeof(nm), "%s: no message is sent to a broken device", pfx);
	TAP_EQ(responder_count(&d->r, mark, VDUSE_GET_VQ_STATE), 0, nm);
	responder_resume(&d->r, d->fd);
}

static int call_get_vring_base(struct dev *d)
{
	struct vhost_vring_state st = { .index = 1 };

	return ioctl(d->vh, VHOST_GET_VRING_BASE, &st);
}

static int call_set_group_asid(struct dev *d)
{
	return vh_set_group_asid(d->vh, 1, 0);
}

static int call_bind_group1(struct dev *d)
{
	return vh_set_group_asid(d->vh, 1, 1);
}

static int call_map_asid1(struct dev *d)
{
	static uint8_t buf[BUFSZ] __attribute__((aligned(4096)));

	return vh_map(d->vh, 1, 0x800000, BUFSZ, buf, VHOST_ACCESS_RW);
}

/* Index in the log of the first request of TYPE at or after MARK, or -1. */
static int responder_index(struct responder *r, int mark, uint32_t type)
{
	int i, found = -1;

	pthread_mutex_lock(&r->lock);
	for (i = mark; i < r->nlog && found < 0; i++)
		if (r->log[i].type == type)
			found = i;
	pthread_mutex_unlock(&r->lock);
	return found;
}

/*
 * After a SET_VQ_GROUP_ASID(1, 1) abandoned by its killed caller (logged at
 * or after MARK): the reset of the caller's release reaches the device, and
 * on ours a SET_VQ_GROUP_ASID(1, 0) follows it.
 */
static void check_killed_group(struct dev *d, int mark, const char *what)
{
	struct vduse_dev_request q;
	int ia, is, ig, n;
	char nm[200];
	double end = now_s() + 5;

	ia = responder_index(&d->r, mark, VDUSE_SET_VQ_GROUP_ASID);
	do {
		is = responder_index(&d->r, ia + 1, VDUSE_SET_STATUS);
		ig = responder_index(&d->r, ia + 1, VDUSE_SET_VQ_GROUP_ASID);
		if (is >= 0 && (ig >= 0 || !X->reset_rebinds))
			break;
		msleep_(10);
	} while (now_s() < end);
	n = responder_count(&d->r, ia + 1, VDUSE_SET_VQ_GROUP_ASID);
	memset(&q, 0, sizeof(q));
	responder_find(&d->r, ia + 1, VDUSE_SET_VQ_GROUP_ASID, &q);
	snprintf(nm, sizeof(nm), "%s, caller killed: its release resets the device", what);
	TAP_OK(is > ia, nm, "SET_STATUS at log %d, the abandoned request at %d", is, ia);
	if (X->reset_rebinds) {
		snprintf(nm, sizeof(nm),
			 "%s, caller killed: the reset tells the device group 1 is on ASID 0 (it read the move)", what);
		TAP_OK(n == 1 && q.vq_group_asid.group == 1 && q.vq_group_asid.asid == 0 && ig > is, nm,
		       "%d messages, first {%u, %u} at log %d, SET_STATUS at %d", n, q.vq_group_asid.group,
		       q.vq_group_asid.asid, ig, is);
	} else {
		snprintf(nm, sizeof(nm), "%s, caller killed: no SET_VQ_GROUP_ASID (bindings kept)", what);
		TAP_EQ(n, 0, nm);
	}
}

/*
 * After an UPDATE_IOTLB for ASID 1 abandoned by its killed caller (logged
 * at or after MARK): the kernel withdrew the new map, but the device may
 * have read the message and mapped it. On ours the release's reset_map
 * tells it again, although no entry is left to drop.
 */
static void check_killed_map(struct dev *d, int mark, const char *what)
{
	struct vduse_dev_request q;
	int ia, iu = -1, n;
	char nm[200];
	double end = now_s() + 5;

	ia = responder_index(&d->r, mark, VDUSE_UPDATE_IOTLB);
	while ((iu = responder_index(&d->r, ia + 1, VDUSE_UPDATE_IOTLB)) < 0 && impl == IMPL_OURS &&
	       now_s() < end)
		msleep_(10);
	n = responder_count(&d->r, ia + 1, VDUSE_UPDATE_IOTLB);
	memset(&q, 0, sizeof(q));
	responder_find(&d->r, ia + 1, VDUSE_UPDATE_IOTLB, &q);
	if (impl != IMPL_OURS) {
		printf("# %s, caller killed: %d UPDATE_IOTLB after the abandoned one on %s\n", what, n, X->name);
		return;
	}
	snprintf(nm, sizeof(nm), "%s, caller killed: its release's reset_map tells the device about ASID 1 again",
		 what);
	TAP_OK(iu > ia && q.iova_v2.asid == 1 && q.iova_v2.start == 0 && q.iova_v2.last == UINT64_MAX, nm,
	       "%d messages after the abandoned one, first asid %u [0x%llx, 0x%llx]", n, q.iova_v2.asid,
	       (unsigned long long)q.iova_v2.start, (unsigned long long)q.iova_v2.last);
}

/*
 * A fatal signal while the kernel waits for the device's answer: the call
 * fails, the device is not marked broken (§3.5), and a late answer to the
 * abandoned request is ENOENT. A child process owns the vhost-vdpa fd for
 * the call (vhost-vdpa allows one opener). The device has read the
 * request, so for SET_VQ_GROUP_ASID it may have moved the group: on ours
 * the reset of the dying consumer's release tells it the group is on
 * ASID 0 (§5f), although the kernel never bound it elsewhere.
 */
static void check_killed(struct dev *d, uint32_t type, int (*call)(struct dev *), const char *what)
{
	struct vduse_vq_info info = { .index = 0 };
	struct vduse_dev_request q;
	struct vduse_dev_response resp;
	char nm[200];
	int mark, st, ev, got;
	double end;
	pid_t pid;

	close(d->vh);
	d->vh = -1;
	responder_set_policy(&d->r, type, REPLY_NONE);
	mark = responder_mark(&d->r);
	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		d->vh = vh_open(d->vpath);
		if (d->vh >= 0)
			call(d);
		_exit(0);
	}
	end = now_s() + 10;
	while (!(got = responder_count(&d->r, mark, type)) && now_s() < end)
		msleep_(5);
	snprintf(nm, sizeof(nm), "%s: the request reaches the device", what);
	TAP_OK(got == 1, nm, "%d requests", got);
	/* the release's reset may send this type again: answer it */
	responder_set_policy(&d->r, type, REPLY_OK);
	if (pid > 0) {
		kill(pid, SIGKILL);
		waitpid(pid, &st, 0);
	}
	if (type == VDUSE_SET_VQ_GROUP_ASID)
		check_killed_group(d, mark, what);
	if (type == VDUSE_UPDATE_IOTLB)
		check_killed_map(d, mark, what);
	responder_pause(&d->r);
	ev = poll_wait(d->fd, POLLIN, 0);
	snprintf(nm, sizeof(nm), "%s, caller killed: the device is not broken (no POLLERR)", what);
	TAP_OK(!(ev & POLLERR), nm, "revents 0x%x", ev);
	snprintf(nm, sizeof(nm), "%s, caller killed: device ioctls still work", what);
	TAP_SYS(ioctl(d->fd, VDUSE_VQ_GET_INFO, &info), nm);
	memset(&q, 0, sizeof(q));
	responder_find(&d->r, mark, type, &q);
	memset(&resp, 0, sizeof(resp));
	resp.request_id = q.request_id;
	snprintf(nm, sizeof(nm), "%s, caller killed: a late answer is ENOENT", what);
	TAP_ERRNO(write(d->fd, &resp, sizeof(resp)), ENOENT, nm);
	responder_resume(&d->r, d->fd);
	d->vh = vh_open(d->vpath);
	snprintf(nm, sizeof(nm), "%s, caller killed: vhost-vdpa opens again", what);
	TAP_SYS(d->vh, nm);
}

/*
 * The device refuses an UPDATE_IOTLB: the update fails (vhost-vdpa reports
 * EFAULT) and the map is not in the device's domain (§3.6 step 3), while
 * the other AS keeps its maps.
 */
static void check_update_refused(struct dev *d, uint32_t asid, const void *buf, const char *what)
{
	char nm[200];
	ssize_t r;
	int mark;

	responder_set_policy(&d->r, VDUSE_UPDATE_IOTLB, REPLY_FAILED);
	mark = responder_mark(&d->r);
	errno = 0;
	r = vh_iotlb(d->vh, asid, VHOST_IOTLB_UPDATE, 0x500000, BUFSZ, buf, VHOST_ACCESS_RW);
	snprintf(nm, sizeof(nm), "%s: UPDATE refused by the device: the write fails (EFAULT)", what);
	TAP_OK(r < 0 && errno == EFAULT, nm, "returned %zd errno %d", r, errno);
	/* vhost-vdpa then rolls its own IOTLB back with one more set_map */
	snprintf(nm, sizeof(nm), "%s: the refused UPDATE_IOTLB did reach the device", what);
	TAP_OK(responder_count(&d->r, mark, VDUSE_UPDATE_IOTLB) >= 1, nm, "no message");
	responder_set_policy(&d->r, VDUSE_UPDATE_IOTLB, REPLY_OK);
	if (d->ver) {
		snprintf(nm, sizeof(nm), "%s: the refused map is not in the domain", what);
		check_absent(d, asid, 0x500000, nm);
	} else {
		struct vduse_iotlb_entry e;

		memset(&e, 0, sizeof(e));
		e.start = 0x500000;
		e.last = 0x500000 + BUFSZ - 1;
		snprintf(nm, sizeof(nm), "%s: the refused map is not in the domain", what);
		TAP_ERRNO(ioctl(d->fd, VDUSE_IOTLB_GET_FD, &e), EINVAL, nm);
	}
}

/*
 * GET_FD2 reports the map's permission. (The returned fd shares the
 * consumer's file, so its access mode is that file's: the kernel passes the
 * permission-derived flags to receive_fd(), where only O_CLOEXEC matters.)
 */
static void check_perm(struct dev *d, uint32_t asid, uint64_t iova, uint8_t vperm, const char *what)
{
	struct vduse_iotlb_entry_v2 e;
	int fd;

	memset(&e, 0, sizeof(e));
	e.start = e.last = iova;
	e.asid = asid;
	fd = ioctl(d->fd, VDUSE_IOTLB_GET_FD2, &e);
	if (fd >= 0)
		close(fd);
	TAP_OK(fd >= 0 && e.perm == vperm && e.start == iova && e.last == iova + BUFSZ - 1, what,
	       "fd %d perm %u start 0x%llx", fd, e.perm, (unsigned long long)e.start);
}

/*
 * Reset with group 1 on ASID 1 (group 0 on 0). On ours (§5f) the device is
 * told SET_VQ_GROUP_ASID(1, 0) after SET_STATUS 0, and only for group 1; a
 * second reset sends nothing, which shows the kernel's own binding is 0 as
 * well. A device that refuses the message cannot keep the group on ASID 1.
 * Upstream keeps the binding and sends nothing (docs/uapi.md).
 */
static void check_reset_groups(struct dev *d)
{
	struct vduse_dev_request q;
	int mark, n, is, ig;

	mark = responder_mark(&d->r);
	TAP_SYS(vh_set_status(d->vh, 0), "v1: reset (SET_STATUS 0) with group 1 on ASID 1");
	TAP_EQ(responder_count(&d->r, mark, VDUSE_SET_STATUS), 1, "v1: the reset reaches the device as SET_STATUS");
	n = responder_count(&d->r, mark, VDUSE_SET_VQ_GROUP_ASID);
	memset(&q, 0, sizeof(q));
	responder_find(&d->r, mark, VDUSE_SET_VQ_GROUP_ASID, &q);
	is = responder_index(&d->r, mark, VDUSE_SET_STATUS);
	ig = responder_index(&d->r, mark, VDUSE_SET_VQ_GROUP_ASID);
	if (X->reset_rebinds)
		TAP_OK(n == 1 && q.vq_group_asid.group == 1 && q.vq_group_asid.asid == 0 && ig > is,
		       "v1: the reset re-binds group 1: one SET_VQ_GROUP_ASID {1, 0}, after SET_STATUS 0",
		       "%d messages, first {%u, %u}, at log %d (SET_STATUS at %d)", n,
		       q.vq_group_asid.group, q.vq_group_asid.asid, ig, is);
	else
		TAP_EQ(n, 0, "v1: the reset sends no SET_VQ_GROUP_ASID (this implementation keeps bindings)");
	mark = responder_mark(&d->r);
	TAP_SYS(vh_set_status(d->vh, 0), "v1: a second reset");
	TAP_EQ(responder_count(&d->r, mark, VDUSE_SET_VQ_GROUP_ASID), 0,
	       X->reset_rebinds ? "v1: ... sends no SET_VQ_GROUP_ASID: the kernel has every group on ASID 0"
				: "v1: ... sends no SET_VQ_GROUP_ASID either");
	if (!X->reset_rebinds)
		return;

	/* the device refuses the reset's message: the reset still completes */
	TAP_SYS(vh_set_group_asid(d->vh, 1, 1), "v1: group 1 back to ASID 1");
	responder_set_policy(&d->r, VDUSE_SET_VQ_GROUP_ASID, REPLY_FAILED);
	mark = responder_mark(&d->r);
	TAP_SYS(vh_set_status(d->vh, 0), "v1: reset while the device refuses SET_VQ_GROUP_ASID: succeeds");
	TAP_EQ(responder_count(&d->r, mark, VDUSE_SET_VQ_GROUP_ASID), 1, "v1: ... the refused message was sent");
	responder_set_policy(&d->r, VDUSE_SET_VQ_GROUP_ASID, REPLY_OK);
	TAP_EQ(vh_get_status(d->vh), 0, "v1: ... and the status is 0");
	mark = responder_mark(&d->r);
	TAP_SYS(vh_set_status(d->vh, 0), "v1: another reset");
	TAP_EQ(responder_count(&d->r, mark, VDUSE_SET_VQ_GROUP_ASID), 0,
	       "v1: ... sends nothing: the refusal did not keep group 1 on ASID 1");
}

/*
 * The consumer is killed (QEMU crashing): vhost-vdpa resets the device when
 * the dying process's fd is released, and on ours that reset still re-binds
 * group 1 and tells the device.
 */
static void check_killed_reset(struct dev *d)
{
	struct vduse_dev_request q;
	int pfd[2], mark, n = 0, ok = 0;
	double end;
	char c;
	pid_t pid;

	close(d->vh);
	d->vh = -1;
	if (pipe(pfd))
		return;
	mark = responder_mark(&d->r);
	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		int vh = vh_open(d->vpath);

		if (vh >= 0 && vh_set_group_asid(vh, 1, 1) == 0 && write(pfd[1], "x", 1) == 1)
			pause();
		_exit(1);
	}
	close(pfd[1]);
	TAP_OK(read(pfd[0], &c, 1) == 1, "v1: a consumer process moves group 1 to ASID 1", " ");
	close(pfd[0]);
	mark = responder_mark(&d->r);
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	end = now_s() + 5;
	while (now_s() < end) {
		n = responder_count(&d->r, mark, VDUSE_SET_VQ_GROUP_ASID);
		ok = responder_count(&d->r, mark, VDUSE_SET_STATUS) >= 1;
		if (ok && (!X->reset_rebinds || n))
			break;
		msleep_(10);
	}
	TAP_OK(ok, "v1: consumer killed: the device is reset (SET_STATUS)", " ");
	memset(&q, 0, sizeof(q));
	responder_find(&d->r, mark, VDUSE_SET_VQ_GROUP_ASID, &q);
	if (X->reset_rebinds)
		TAP_OK(n == 1 && q.vq_group_asid.group == 1 && q.vq_group_asid.asid == 0,
		       "v1: consumer killed: the reset re-binds group 1 and tells the device",
		       "%d messages, first {%u, %u}", n, q.vq_group_asid.group, q.vq_group_asid.asid);
	else
		TAP_EQ(n, 0, "v1: consumer killed: no SET_VQ_GROUP_ASID (this implementation keeps bindings)");
	d->vh = vh_open(d->vpath);
	TAP_SYS(d->vh, "v1: vhost-vdpa opens again");
}

static void test_v0(void)
{
	struct dev d;
	uint64_t bf = 0;
	uint32_t n;
	uint8_t *a;
	long g;
	int mark, r;

	if (dev_up(&d, "va-v0", 0, 0))
		goto out;
	n = 99;
	TAP_SYS(ioctl(d.vh, VHOST_VDPA_GET_GROUP_NUM, &n), "v0: GET_GROUP_NUM");
	TAP_EQ(n, 1, "v0: one vq group");
	n = 99;
	TAP_SYS(ioctl(d.vh, VHOST_VDPA_GET_AS_NUM, &n), "v0: GET_AS_NUM");
	TAP_EQ(n, 1, "v0: one address space");
	errno = 0;
	g = vh_vring_group(d.vh, 1);
	TAP_EQ(g >= 0 ? g : -errno, X->v0_vring_group, "v0: GET_VRING_GROUP(1): this implementation's answer");
	TAP_SYS(ioctl(d.vh, VHOST_GET_BACKEND_FEATURES, &bf), "v0: GET_BACKEND_FEATURES");
	TAP_OK(bf & (1ull << VHOST_BACKEND_F_IOTLB_ASID), "v0: IOTLB_ASID is offered (always, even with one AS)",
	       "features 0x%llx", (unsigned long long)bf);

	mark = responder_mark(&d.r);
	TAP_ERRNO(vh_set_group_asid(d.vh, 0, 0), X->v0_set_group_asid_errno,
		  "v0: SET_GROUP_ASID(0, 0): this implementation's errno");
	TAP_EQ(responder_count(&d.r, mark, VDUSE_SET_VQ_GROUP_ASID), 0, "v0: never a SET_VQ_GROUP_ASID message");

	a = membuf(0x11);
	if (!a) {
		TAP_OK(0, "v0: memfd buffer", "%s", strerror(errno));
		goto out;
	}
	mark = responder_mark(&d.r);
	errno = 0;
	r = vh_iotlb(d.vh, 1, VHOST_IOTLB_UPDATE, 0x100000, BUFSZ, a, VHOST_ACCESS_RW);
	TAP_OK(r < 0 && errno == EFAULT, "v0: IOTLB UPDATE in ASID 1 (>= nas): EFAULT",
	       "returned %d errno %d", r, errno);
	TAP_EQ(responder_count(&d.r, mark, VDUSE_UPDATE_IOTLB), 0, "v0: ... and no UPDATE_IOTLB message");
	mark = responder_mark(&d.r);
	TAP_EQ(vh_map(d.vh, 0, 0x100000, BUFSZ, a, VHOST_ACCESS_RW), 0, "v0: IOTLB batch UPDATE in ASID 0");
	check_update_msg(&d, mark, 0, "v0: one UPDATE_IOTLB (iova) for the batch");
	check_read(&d, 0, 0x100000, 1, a, "v0: the device reads the consumer's bytes with GET_FD");
	check_update_refused(&d, 0, a, "v0");
	munmap(a, BUFSZ);

	/* a result that is neither OK nor FAILED is a failure, not a crash */
	{
		struct vduse_vq_info info = { .index = 0 };

		responder_set_policy(&d.r, VDUSE_GET_VQ_STATE, REPLY_BOGUS);
		TAP_ERRNO(call_get_vring_base(&d), EIO, "v0: GET_VQ_STATE answered with result 7: EIO");
		responder_set_policy(&d.r, VDUSE_GET_VQ_STATE, REPLY_OK);
		TAP_SYS(ioctl(d.fd, VDUSE_VQ_GET_INFO, &info), "v0: ... and the device is not broken");
		TAP_SYS(call_get_vring_base(&d), "v0: ... and the next GET_VQ_STATE answered OK works");
	}

	check_killed(&d, VDUSE_GET_VQ_STATE, call_get_vring_base, "v0: GET_VQ_STATE");
	check_timeout(&d, VDUSE_GET_VQ_STATE, call_get_vring_base, "v0: GET_VQ_STATE");
out:
	dev_down(&d);
}

static void test_v1(void)
{
	struct vduse_dev_request q;
	struct vduse_iova_info ii;
	struct vduse_iova_umem um;
	struct dev d;
	uint64_t bf = 0;
	uint8_t *a = NULL, *b = NULL, *c = NULL, *dd = NULL, *p;
	void *base = NULL;
	size_t len;
	uint32_t n;
	int mark, r;

	if (dev_up(&d, "va-v1", 1, 0))
		goto out;
	n = 99;
	TAP_SYS(ioctl(d.vh, VHOST_VDPA_GET_GROUP_NUM, &n), "v1: GET_GROUP_NUM");
	TAP_EQ(n, 2, "v1: GET_GROUP_NUM is the device's ngroups (2)");
	n = 99;
	TAP_SYS(ioctl(d.vh, VHOST_VDPA_GET_AS_NUM, &n), "v1: GET_AS_NUM");
	TAP_EQ(n, 2, "v1: GET_AS_NUM is the device's nas (2)");
	n = 99;
	TAP_SYS(ioctl(d.vh, VHOST_VDPA_GET_VQS_COUNT, &n), "v1: GET_VQS_COUNT");
	TAP_EQ(n, 3, "v1: three vqs");
	TAP_EQ(vh_vring_group(d.vh, 0), 0, "v1: GET_VRING_GROUP(0) = 0");
	TAP_EQ(vh_vring_group(d.vh, 1), 0, "v1: GET_VRING_GROUP(1) = 0");
	TAP_EQ(vh_vring_group(d.vh, 2), 1, "v1: GET_VRING_GROUP(2) = 1 (its VQ_SETUP group)");
	{
		struct vhost_vring_state s = { .index = 3 };

		TAP_ERRNO(ioctl(d.vh, VHOST_VDPA_GET_VRING_GROUP, &s), ENOBUFS, "v1: GET_VRING_GROUP(3 = nvqs): ENOBUFS");
	}
	TAP_SYS(ioctl(d.vh, VHOST_GET_BACKEND_FEATURES, &bf), "v1: GET_BACKEND_FEATURES");
	TAP_OK(bf & (1ull << VHOST_BACKEND_F_IOTLB_ASID), "v1: IOTLB_ASID is offered", "features 0x%llx",
	       (unsigned long long)bf);
	TAP_SYS(vh_set_status(d.vh, VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER | VIRTIO_CONFIG_S_FEATURES_OK),
		"v1: status ACK|DRIVER|FEATURES_OK");

	/* SET_GROUP_ASID argument checks: nothing reaches the device */
	mark = responder_mark(&d.r);
	TAP_ERRNO(vh_set_group_asid(d.vh, 2, 0), EINVAL, "v1: SET_GROUP_ASID group 2 (>= ngroups, < nvqs): EINVAL");
	TAP_ERRNO(vh_set_group_asid(d.vh, 3, 0), ENOBUFS, "v1: SET_GROUP_ASID group 3 (>= nvqs): ENOBUFS");
	TAP_ERRNO(vh_set_group_asid(d.vh, 1, 2), EINVAL, "v1: SET_GROUP_ASID asid 2 (>= nas): EINVAL");
	TAP_EQ(responder_count(&d.r, mark, VDUSE_SET_VQ_GROUP_ASID), 0, "v1: refused requests send no message");

	/* accepted, refused by the device */
	mark = responder_mark(&d.r);
	TAP_SYS(vh_set_group_asid(d.vh, 1, 1), "v1: SET_GROUP_ASID(1, 1) answered OK: 0");
	memset(&q, 0, sizeof(q));
	TAP_OK(responder_count(&d.r, mark, VDUSE_SET_VQ_GROUP_ASID) == 1 &&
	       !responder_find(&d.r, mark, VDUSE_SET_VQ_GROUP_ASID, &q) &&
	       q.vq_group_asid.group == 1 && q.vq_group_asid.asid == 1,
	       "v1: one SET_VQ_GROUP_ASID message {group 1, asid 1}",
	       "%d messages, group %u asid %u", responder_count(&d.r, mark, VDUSE_SET_VQ_GROUP_ASID),
	       q.vq_group_asid.group, q.vq_group_asid.asid);
	responder_set_policy(&d.r, VDUSE_SET_VQ_GROUP_ASID, REPLY_FAILED);
	mark = responder_mark(&d.r);
	TAP_ERRNO(vh_set_group_asid(d.vh, 0, 1), EIO, "v1: SET_GROUP_ASID(0, 1) answered FAILED: EIO");
	memset(&q, 0, sizeof(q));
	responder_find(&d.r, mark, VDUSE_SET_VQ_GROUP_ASID, &q);
	TAP_OK(q.type == VDUSE_SET_VQ_GROUP_ASID && q.vq_group_asid.group == 0 && q.vq_group_asid.asid == 1,
	       "v1: the refused request reached the device as {group 0, asid 1}", "type %u group %u asid %u",
	       q.type, q.vq_group_asid.group, q.vq_group_asid.asid);
	responder_set_policy(&d.r, VDUSE_SET_VQ_GROUP_ASID, REPLY_OK);

	/* IOTLB per ASID: the same IOVA means different memory in AS 0 and 1 */
	a = membuf(0x20);
	b = membuf(0x40);
	c = membuf(0x60);
	dd = membuf(0x80);
	if (!a || !b || !c || !dd) {
		TAP_OK(0, "v1: memfd buffers", "%s", strerror(errno));
		goto out;
	}
	mark = responder_mark(&d.r);
	r = vh_iotlb(d.vh, 0, VHOST_IOTLB_BATCH_BEGIN, 0, 0, NULL, 0) == 72 &&
	    vh_iotlb(d.vh, 0, VHOST_IOTLB_UPDATE, 0x100000, BUFSZ, a, VHOST_ACCESS_RW) == 72 &&
	    vh_iotlb(d.vh, 0, VHOST_IOTLB_UPDATE, 0x300000, BUFSZ, dd, VHOST_ACCESS_RW) == 72 &&
	    vh_iotlb(d.vh, 0, VHOST_IOTLB_BATCH_END, 0, 0, NULL, 0) == 72;
	TAP_OK(r, "v1: ASID 0 batch: 0x100000 -> A, 0x300000 -> D", "%s", strerror(errno));
	check_update_msg(&d, mark, 0, "v1: one UPDATE_IOTLB iova_v2 with asid 0 for the ASID 0 batch");
	mark = responder_mark(&d.r);
	r = vh_iotlb(d.vh, 1, VHOST_IOTLB_BATCH_BEGIN, 0, 0, NULL, 0) == 72 &&
	    vh_iotlb(d.vh, 1, VHOST_IOTLB_UPDATE, 0x100000, BUFSZ, b, VHOST_ACCESS_RW) == 72 &&
	    vh_iotlb(d.vh, 1, VHOST_IOTLB_UPDATE, 0x200000, BUFSZ, c, VHOST_ACCESS_RW) == 72 &&
	    vh_iotlb(d.vh, 1, VHOST_IOTLB_BATCH_END, 0, 0, NULL, 0) == 72;
	TAP_OK(r, "v1: ASID 1 batch: 0x100000 -> B, 0x200000 -> C", "%s", strerror(errno));
	check_update_msg(&d, mark, 1, "v1: one UPDATE_IOTLB iova_v2 with asid 1 for the ASID 1 batch");

	check_read(&d, 0, 0x100000, 0, a, "v1: GET_FD2 asid 0 at 0x100000 reads A");
	check_read(&d, 1, 0x100000, 0, b, "v1: GET_FD2 asid 1 at 0x100000 reads B");
	check_read(&d, 0, 0x100000, 1, a, "v1: legacy GET_FD means ASID 0 (reads A)");
	check_read(&d, 1, 0x200000, 0, c, "v1: GET_FD2 asid 1 at 0x200000 reads C");
	check_read(&d, 0, 0x300000, 0, dd, "v1: GET_FD2 asid 0 at 0x300000 reads D");
	{
		struct vduse_iotlb_entry_v2 e;
		int gfd;

		memset(&e, 0, sizeof(e));
		e.start = 0x100001;
		e.last = ~0ull;
		gfd = ioctl(d.fd, VDUSE_IOTLB_GET_FD2, &e);
		if (gfd >= 0)
			close(gfd);
		TAP_OK(gfd >= 0 && e.start == 0x100000 && e.last == 0x100000 + BUFSZ - 1,
		       "v1: GET_FD2 over two maps returns the first one overlapping the range",
		       "fd %d start 0x%llx", gfd, (unsigned long long)e.start);
	}
	check_absent(&d, 0, 0x200000, "v1: ASID 1's map at 0x200000 is not visible in ASID 0: EINVAL");
	check_absent(&d, 1, 0x300000, "v1: ASID 0's map at 0x300000 is not visible in ASID 1: EINVAL");

	/* the device writes through ASID 1: the consumer's buffer B changes, A does not */
	p = dev_map(d.fd, 1, 0x100000, 0, &len, &base);
	if (p) {
		memcpy(p + 100, "asid-one", 8);
		munmap(base, len);
	}
	TAP_OK(p && !memcmp(b + 100, "asid-one", 8) && memcmp(a + 100, "asid-one", 8),
	       "v1: a device write through ASID 1 lands in the ASID 1 buffer only", "%s",
	       p ? "wrong buffer" : strerror(errno));

	memset(&ii, 0, sizeof(ii));
	ii.start = 0x100000;
	ii.last = 0x100000;
	ii.asid = 1;
	TAP_SYS(ioctl(d.fd, VDUSE_IOTLB_GET_INFO, &ii), "v1: GET_INFO asid 1");
	TAP_OK(ii.start == 0x100000 && ii.last == 0x100000 + BUFSZ - 1 && ii.asid == 1 && ii.capability == 0,
	       "v1: GET_INFO asid 1 reports the map and echoes the asid", "start 0x%llx last 0x%llx asid %u cap %llu",
	       (unsigned long long)ii.start, (unsigned long long)ii.last, ii.asid,
	       (unsigned long long)ii.capability);
	memset(&ii, 0, sizeof(ii));
	ii.start = 0x200000;
	ii.last = 0x200000;
	ii.asid = 0;
	TAP_ERRNO(ioctl(d.fd, VDUSE_IOTLB_GET_INFO, &ii), EINVAL, "v1: GET_INFO asid 0 at ASID 1's IOVA: EINVAL");

	mark = responder_mark(&d.r);
	errno = 0;
	r = vh_iotlb(d.vh, 2, VHOST_IOTLB_UPDATE, 0x100000, BUFSZ, a, VHOST_ACCESS_RW);
	TAP_OK(r < 0 && errno == EFAULT, "v1: IOTLB UPDATE in ASID 2 (>= nas): EFAULT", "returned %d errno %d", r, errno);
	TAP_EQ(responder_count(&d.r, mark, VDUSE_UPDATE_IOTLB), 0, "v1: ... and no UPDATE_IOTLB message");

	mark = responder_mark(&d.r);
	TAP_EQ(vh_unmap(d.vh, 1, 0x200000, BUFSZ), 0, "v1: INVALIDATE 0x200000 in ASID 1 (batch)");
	check_update_msg(&d, mark, 1, "v1: the invalidation sends UPDATE_IOTLB asid 1");
	check_absent(&d, 1, 0x200000, "v1: the invalidated map is gone from ASID 1");
	check_read(&d, 1, 0x100000, 0, b, "v1: ASID 1's other map is still there");
	check_read(&d, 0, 0x300000, 0, dd, "v1: ASID 0 is untouched by ASID 1's invalidation");

	/* the map's permission is reported per ASID */
	TAP_EQ(vh_map(d.vh, 1, 0x600000, BUFSZ, c, VHOST_ACCESS_RO), 0, "v1: map read-only in ASID 1");
	TAP_EQ(vh_map(d.vh, 0, 0x700000, BUFSZ, c, VHOST_ACCESS_WO), 0, "v1: map write-only in ASID 0");
	check_perm(&d, 1, 0x600000, VDUSE_ACCESS_RO, "v1: GET_FD2 of a read-only map reports perm RO");
	check_perm(&d, 0, 0x700000, VDUSE_ACCESS_WO, "v1: GET_FD2 of a write-only map reports perm WO");
	check_perm(&d, 1, 0x100000, VDUSE_ACCESS_RW, "v1: GET_FD2 of a read-write map reports perm RW");


	/* umem per ASID: no bounce map under vhost-vdpa */
	memset(&um, 0, sizeof(um));
	um.uaddr = (uintptr_t)a;
	um.size = (64 << 20) / 2;
	um.asid = 1;
	TAP_ERRNO(ioctl(d.fd, VDUSE_IOTLB_REG_UMEM, &um), EINVAL, "v1: REG_UMEM asid 1 without a bounce map: EINVAL");
	TAP_ERRNO(ioctl(d.fd, VDUSE_IOTLB_DEREG_UMEM, &um), ENOENT, "v1: DEREG_UMEM asid 1 with nothing registered: ENOENT");
	um.asid = 2;
	TAP_ERRNO(ioctl(d.fd, VDUSE_IOTLB_REG_UMEM, &um), EINVAL, "v1: REG_UMEM asid 2 (>= nas): EINVAL");
	TAP_ERRNO(ioctl(d.fd, VDUSE_IOTLB_DEREG_UMEM, &um), EINVAL, "v1: DEREG_UMEM asid 2 (>= nas): EINVAL");

	/* reset with group 1 on ASID 1 (§3.10, §5f) */
	check_reset_groups(&d);
	TAP_EQ(vh_vring_group(d.vh, 2), 1, "v1: the vq -> group assignment survives reset");
	check_read(&d, 0, 0x100000, 0, a, "v1: ASID 0's maps survive reset");
	check_read(&d, 1, 0x100000, 0, b, "v1: ASID 1's maps survive reset");
	TAP_SYS(vh_set_group_asid(d.vh, 1, 1), "v1: SET_GROUP_ASID again after reset, before DRIVER_OK");

	/* after DRIVER_OK: EBUSY (§5c check 3 on ours, vhost-vdpa on 7.x) */
	TAP_SYS(vh_set_status(d.vh, 0xf), "v1: status ...|DRIVER_OK");
	TAP_EQ(vh_get_status(d.vh), 0xf, "v1: the device accepted DRIVER_OK");
	mark = responder_mark(&d.r);
	TAP_ERRNO(vh_set_group_asid(d.vh, 1, 0), EBUSY, "v1: SET_GROUP_ASID after DRIVER_OK: EBUSY");
	TAP_ERRNO(vh_set_group_asid(d.vh, 1, 1), EBUSY, "v1: SET_GROUP_ASID to the bound ASID after DRIVER_OK: EBUSY");
	TAP_EQ(responder_count(&d.r, mark, VDUSE_SET_VQ_GROUP_ASID), 0, "v1: no message after DRIVER_OK");
	TAP_SYS(vh_set_status(d.vh, 0), "v1: reset");

	check_update_refused(&d, 1, c, "v1 ASID 1");
	check_read(&d, 0, 0x100000, 0, a, "v1: ASID 0 keeps its map when ASID 1's update is refused");

	check_killed_reset(&d);
	check_killed(&d, VDUSE_SET_VQ_GROUP_ASID, call_bind_group1, "v1: SET_GROUP_ASID(1, 1)");
	check_killed(&d, VDUSE_UPDATE_IOTLB, call_map_asid1, "v1: UPDATE_IOTLB of ASID 1");
	check_timeout(&d, VDUSE_SET_VQ_GROUP_ASID, call_set_group_asid, "v1: SET_GROUP_ASID");
out:
	if (a)
		munmap(a, BUFSZ);
	if (b)
		munmap(b, BUFSZ);
	if (c)
		munmap(c, BUFSZ);
	if (dd)
		munmap(dd, BUFSZ);
	dev_down(&d);
}

/*
 * §5d: an isolated CVQ is offered to vhost-vdpa, which sees CTRL_VQ and the
 * groups QEMU's isolation probe needs (vhost-vdpa-cvq.md §3).
 */
static void test_net_cvq(void)
{
	struct dev d;
	uint64_t f = 0;

	if (dev_up(&d, "va-net", 1, 1))
		goto out;
	TAP_SYS(ioctl(d.vh, VHOST_GET_FEATURES, &f), "net: VHOST_GET_FEATURES");
	TAP_OK((f & (1ull << VIRTIO_NET_F_CTRL_VQ)) && (f & (1ull << VIRTIO_NET_F_CTRL_RX)),
	       "net: vhost-vdpa is offered CTRL_VQ and CTRL_RX", "features 0x%llx", (unsigned long long)f);
	TAP_OK(vh_vring_group(d.vh, 2) == 1 && vh_vring_group(d.vh, 0) == 0 && vh_vring_group(d.vh, 1) == 0,
	       "net: the CVQ (vq 2) is alone in its group", "groups %ld %ld %ld", vh_vring_group(d.vh, 0),
	       vh_vring_group(d.vh, 1), vh_vring_group(d.vh, 2));
	TAP_SYS(vh_set_group_asid(d.vh, 1, 1), "net: the CVQ group moves to ASID 1");
out:
	dev_down(&d);
}

int main(int argc, char **argv)
{
	int ctl;

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc != 3 || strcmp(argv[1], "--impl") || impl_parse(argv[2], &impl)) {
		fprintf(stderr, "usage: vhost_asid --impl upstream|stock612|ours\n");
		return 2;
	}
	X = &expect_tab[impl];
	tap_diag("vhost_asid against %s", X->name);
	if (virtio_vdpa_loaded()) {
		TAP_OK(0, "virtio_vdpa is not loaded (devices must bind to vhost_vdpa)", "unload it first");
		return tap_done();
	}
	ctl = ctl_open();
	TAP_SYS(ctl, "open /dev/vduse/control");
	if (ctl < 0)
		return tap_done();
	/* leftovers of an earlier failed run */
	if (access("/sys/bus/vdpa/devices/va-v0", F_OK) == 0)
		vdpa_del("va-v0");
	if (access("/sys/bus/vdpa/devices/va-v1", F_OK) == 0)
		vdpa_del("va-v1");
	if (access("/dev/vduse/va-v0", F_OK) == 0)
		dev_destroy(ctl, "va-v0");
	if (access("/dev/vduse/va-v1", F_OK) == 0)
		dev_destroy(ctl, "va-v1");
	if (access("/sys/bus/vdpa/devices/va-net", F_OK) == 0)
		vdpa_del("va-net");
	if (access("/dev/vduse/va-net", F_OK) == 0)
		dev_destroy(ctl, "va-net");

	test_v0();
	if (X->has_v1)
		test_v1();
	else
		tap_result(1, "v1: groups, address spaces and SET_GROUP_ASID through vhost-vdpa # SKIP no API v1", NULL);
	if (X->net_cvq)
		test_net_cvq();
	else
		tap_result(1, "net: isolated CVQ offered to vhost-vdpa # SKIP VDUSE CTRL_VQ not supported here", NULL);
	close(ctl);
	return tap_done();
}
