// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * libvduse utilities for device daemons: what vduse-blk and vduse-net both
 * need around the device itself (the vDPA bus over generic netlink, the
 * in-flight log file, destroying a device the kernel still holds for a
 * moment, a queue's ring positions). None of it touches the data path.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <linux/genetlink.h>
#include <linux/netlink.h>
#include <linux/vdpa.h>
#include <linux/virtio_config.h>

#include "internal.h"

/* ---- the vDPA bus: generic netlink family "vdpa" ---- */

#define VDPA_SYSFS	"/sys/bus/vdpa"
#define NL_BUF		4096

struct nl_req {
	struct nlmsghdr n;
	struct genlmsghdr g;
	char attrs[512];
};

static int nl_put_str(struct nl_req *r, uint16_t type, const char *s)
{
	size_t len = strlen(s) + 1, off = NLMSG_ALIGN(r->n.nlmsg_len);
	struct nlattr *a = (struct nlattr *)((char *)r + off);

	if (off + NLA_HDRLEN + NLA_ALIGN(len) > sizeof(*r))
		return -ENAMETOOLONG;
	a->nla_type = type;
	a->nla_len = NLA_HDRLEN + len;
	memcpy((char *)a + NLA_HDRLEN, s, len);
	r->n.nlmsg_len = off + NLA_ALIGN(a->nla_len);
	return 0;
}

/*
 * Send @r, read one answer into @ans. Returns the kernel's error (negative),
 * 0 for an ACK or a reply, -EPROTO for anything malformed.
 */
static int nl_talk(int fd, struct nl_req *r, char *ans, size_t *anslen)
{
	struct nlmsghdr *h = (struct nlmsghdr *)ans;
	ssize_t n;

	r->n.nlmsg_seq = (uint32_t)time(NULL);
	if (send(fd, r, r->n.nlmsg_len, 0) < 0)
		return -errno;
	do
		n = recv(fd, ans, NL_BUF, 0);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	if ((size_t)n < sizeof(*h) || !NLMSG_OK(h, (size_t)n))
		return -EPROTO;
	*anslen = (size_t)n;
	if (h->nlmsg_type == NLMSG_ERROR) {
		if (h->nlmsg_len < NLMSG_LENGTH(sizeof(struct nlmsgerr)))
			return -EPROTO;
		return ((struct nlmsgerr *)NLMSG_DATA(h))->error;
	}
	return 0;
}

static void nl_init(struct nl_req *r, uint16_t type, uint16_t flags, uint8_t cmd, uint8_t ver)
{
	memset(r, 0, sizeof(*r));
	r->n.nlmsg_len = NLMSG_LENGTH(GENL_HDRLEN);
	r->n.nlmsg_type = type;
	r->n.nlmsg_flags = NLM_F_REQUEST | flags;
	r->g.cmd = cmd;
	r->g.version = ver;
}

/* The id of the "vdpa" family: -ENOENT when the vdpa module is not loaded. */
static int vdpa_family(int fd)
{
	char ans[NL_BUF] __attribute__((aligned(4)));
	struct nlmsghdr *h = (struct nlmsghdr *)ans;
	struct nl_req r;
	size_t len, off;
	int ret;

	nl_init(&r, GENL_ID_CTRL, 0, CTRL_CMD_GETFAMILY, 1);
	nl_put_str(&r, CTRL_ATTR_FAMILY_NAME, VDPA_GENL_NAME);
	ret = nl_talk(fd, &r, ans, &len);
	if (ret)
		return ret;
	if (h->nlmsg_len > len)
		return -EPROTO;
	for (off = NLMSG_LENGTH(GENL_HDRLEN); off + NLA_HDRLEN <= h->nlmsg_len;) {
		struct nlattr *a = (struct nlattr *)(ans + off);

		if (a->nla_len < NLA_HDRLEN || off + a->nla_len > h->nlmsg_len)
			return -EPROTO;
		if ((a->nla_type & NLA_TYPE_MASK) == CTRL_ATTR_FAMILY_ID &&
		    a->nla_len >= NLA_HDRLEN + 2) {
			uint16_t id;

			memcpy(&id, (char *)a + NLA_HDRLEN, sizeof(id));
			return id;
		}
		off += NLA_ALIGN(a->nla_len);
	}
	return -EPROTO;
}

/* One vdpa command with the device's name (and the vduse mgmtdev for NEW). */
static int vdpa_cmd(uint8_t cmd, const char *name)
{
	char ans[NL_BUF] __attribute__((aligned(4)));
	struct nl_req r;
	size_t len;
	int fd, fam, ret;

	fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_GENERIC);
	if (fd < 0)
		return -errno;
	fam = vdpa_family(fd);
	if (fam < 0) {
		ret = fam;
		goto out;
	}
	nl_init(&r, (uint16_t)fam, NLM_F_ACK, cmd, 0);
	ret = nl_put_str(&r, VDPA_ATTR_DEV_NAME, name);
	if (!ret && cmd == VDPA_CMD_DEV_NEW)
		ret = nl_put_str(&r, VDPA_ATTR_MGMTDEV_DEV_NAME, "vduse");
	if (!ret)
		ret = nl_talk(fd, &r, ans, &len);
out:
	close(fd);
	return ret;
}

static bool name_ok(const char *name)
{
	return name && name[0] && strlen(name) < VDUSE_NAME_MAX && !strchr(name, '/') &&
	       strcmp(name, ".") && strcmp(name, "..");
}

static int write_sysfs(const char *path, const char *val)
{
	ssize_t n;
	int fd = open(path, O_WRONLY | O_CLOEXEC);

	if (fd < 0)
		return -errno;
	n = write(fd, val, strlen(val));
	if (n < 0) {
		n = -errno;
		close(fd);
		return (int)n;
	}
	close(fd);
	return 0;
}

EXPORT int vduse_vdpa_dev_driver(const char *name, char *buf, size_t len)
{
	char path[PATH_MAX], link[PATH_MAX];
	const char *base;
	ssize_t n;

	if (!name_ok(name) || (len && !buf))
		return -EINVAL;
	snprintf(path, sizeof(path), VDPA_SYSFS "/devices/%s", name);
	if (access(path, F_OK))
		return -errno;
	snprintf(path, sizeof(path), VDPA_SYSFS "/devices/%s/driver", name);
	n = readlink(path, link, sizeof(link) - 1);
	if (n < 0) {
		if (errno != ENOENT)
			return -errno;
		if (len)
			buf[0] = 0;
		return 0;		/* on the bus, no driver */
	}
	link[n] = 0;
	base = strrchr(link, '/');
	base = base ? base + 1 : link;
	if (len) {
		if (strlen(base) >= len)
			return -ENAMETOOLONG;
		strcpy(buf, base);
	}
	return 1;
}

/*
 * `vdpa dev del` removes the bus link first and runs the driver's remove
 * after it, and that remove resets the device: a message the daemon must
 * still answer. The vDPA device's own directory, under its VDUSE parent,
 * goes only once the driver has let go.
 */
EXPORT bool vduse_vdpa_dev_exists(const char *name)
{
	char path[PATH_MAX];

	if (vduse_vdpa_dev_driver(name, NULL, 0) >= 0)
		return true;
	if (!name_ok(name))
		return false;
	snprintf(path, sizeof(path), "/sys/class/vduse/%s/%s", name, name);
	return access(path, F_OK) == 0;
}

/* Move the vDPA device @name to @driver (driver_override, unbind, bind). */
static int vdpa_rebind(const char *name, const char *driver)
{
	char cur[NAME_MAX + 1], path[PATH_MAX];
	int ret = vduse_vdpa_dev_driver(name, cur, sizeof(cur));

	if (ret < 0)
		return ret;
	if (ret == 1 && !strcmp(cur, driver))
		return 0;
	snprintf(path, sizeof(path), VDPA_SYSFS "/drivers/%s", driver);
	if (access(path, F_OK))
		return -ENOENT;		/* that driver's module is not loaded */
	/* keeps a later probe (drivers_probe, a reload) from picking another */
	snprintf(path, sizeof(path), VDPA_SYSFS "/devices/%s/driver_override", name);
	ret = write_sysfs(path, driver);
	if (ret && ret != -ENOENT)
		return ret;
	if (cur[0]) {
		snprintf(path, sizeof(path), VDPA_SYSFS "/drivers/%s/unbind", cur);
		ret = write_sysfs(path, name);
		if (ret)
			return ret;
	}
	snprintf(path, sizeof(path), VDPA_SYSFS "/drivers/%s/bind", driver);
	ret = write_sysfs(path, name);
	if (ret)
		return ret;
	ret = vduse_vdpa_dev_driver(name, cur, sizeof(cur));
	return ret == 1 && !strcmp(cur, driver) ? 0 : -EIO;
}

EXPORT int vduse_vdpa_dev_add(const char *name, const char *driver)
{
	int ret;

	if (!name_ok(name) || (driver && (!driver[0] || strchr(driver, '/') ||
					  strlen(driver) > NAME_MAX)))
		return -EINVAL;
	ret = vdpa_cmd(VDPA_CMD_DEV_NEW, name);
	if (ret || !driver)
		return ret;
	ret = vdpa_rebind(name, driver);
	if (ret)
		vdpa_cmd(VDPA_CMD_DEV_DEL, name);	/* not left bound elsewhere */
	return ret;
}

EXPORT int vduse_vdpa_dev_del(const char *name)
{
	if (!name_ok(name))
		return -EINVAL;
	return vdpa_cmd(VDPA_CMD_DEV_DEL, name);
}

/* ---- the in-flight log file ---- */

EXPORT int vduse_inflight_open(const char *path, size_t size, bool fresh, void **mem)
{
	struct stat sb;
	void *p;
	int fd, ret;

	if (!path || !size || !mem)
		return -EINVAL;
	*mem = NULL;
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &sb)) {
		ret = -errno;
		goto out;
	}
	ret = -EINVAL;
	if (!S_ISREG(sb.st_mode))
		goto out;
	/* a new device starts from a zeroed log; a restart keeps it */
	if ((fresh && ftruncate(fd, 0)) || ((off_t)size != sb.st_size && ftruncate(fd, size))) {
		ret = -errno;
		goto out;
	}
	p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED) {
		ret = -errno;
		goto out;
	}
	*mem = p;
	ret = 0;
out:
	close(fd);
	return ret;
}

/* ---- destroying a device ---- */

EXPORT int vduse_destroy_by_name_wait(const char *name, unsigned int timeout_ms)
{
	struct timespec step = { 0, 50 * 1000 * 1000 }, t0, t;
	int ret;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		ret = vduse_destroy_by_name(name);
		if (ret != -EBUSY)
			return ret;
		clock_gettime(CLOCK_MONOTONIC, &t);
		if ((t.tv_sec - t0.tv_sec) * 1000 + (t.tv_nsec - t0.tv_nsec) / 1000000 >=
		    (long)timeout_ms)
			return ret;
		nanosleep(&step, NULL);
	}
}

/* ---- config space ---- */

EXPORT int vduse_dev_set_config(struct vduse_dev *dev, uint32_t offset, const void *data,
				uint32_t len)
{
	uint8_t raw[sizeof(struct vduse_config_data) + 4096] __attribute__((aligned(8)));
	struct vduse_config_data *c = (struct vduse_config_data *)raw;
	struct timespec ms = { 0, 1000 * 1000 };
	unsigned int tries;
	int err = 0;

	if (!dev || !len || !data || offset > 4096 || len > 4096 - offset)
		return -EINVAL;
	memset(c, 0, sizeof(*c));
	c->offset = offset;
	c->length = len;
	memcpy(raw + sizeof(*c), data, len);
	vduse_lock(dev);
	if (vd_ioctl(dev, VDUSE_DEV_SET_CONFIG, c) < 0) {
		err = -errno;
		vd_err(dev, "DEV_SET_CONFIG(%u, %u): %s", offset, len, strerror(errno));
		goto out;
	}
	/*
	 * The kernel refuses the interrupt (EINVAL) unless its status has
	 * DRIVER_OK, which it records only once our answer to SET_STATUS has
	 * arrived: right after DRIVER_OK give it a moment. Before DRIVER_OK
	 * nothing is sent; the driver reads the config space when it starts.
	 */
	for (tries = 0; dev->status & VIRTIO_CONFIG_S_DRIVER_OK; tries++) {
		if (!vd_ioctl(dev, VDUSE_DEV_INJECT_CONFIG_IRQ, NULL))
			break;
		if (errno != EINVAL) {
			err = -errno;
			vd_err(dev, "DEV_INJECT_CONFIG_IRQ: %s", strerror(errno));
			break;
		}
		if (tries == 50) {
			vd_dbg(dev, "config interrupt refused: the driver is not running");
			break;
		}
		nanosleep(&ms, NULL);
	}
out:
	vduse_unlock(dev);
	return err;
}

/* ---- a queue's ring positions ---- */

/* Packed: buffers the driver made available from the device's position on. */
static unsigned int packed_avail(struct vduse_vq *vq)
{
	const uint8_t *ring = vq->desc;
	unsigned int slot = vq->last_avail_idx, i, n = 0;
	bool wrap = vq->avail_wrap;

	for (i = 0; i < vq->num; i++) {
		uint16_t flags = ld16_acq(ring + 16 * slot + 14);
		bool avail = flags & (1u << 7), used = flags & (1u << 15);

		if (avail != wrap || used == wrap)
			break;
		if (!(flags & 1u))	/* no NEXT: the end of a buffer */
			n++;
		if (++slot == vq->num) {
			slot = 0;
			wrap = !wrap;
		}
	}
	return n;
}

EXPORT int vduse_vq_get_ring_state(struct vduse_vq *vq, struct vduse_vq_ring_state *rs,
				   size_t size)
{
	struct vduse_vq_ring_state s;
	int ret = 0;

	if (!vq || !rs || size < offsetof(struct vduse_vq_ring_state, resubmit) + sizeof(s.resubmit))
		return -EINVAL;
	memset(&s, 0, sizeof(s));
	/* queue state, maybe remapped: locked as the message thread does */
	vduse_lock(vq->dev);
	vduse_vq_lock_msg(vq);
	s.resubmit = vq->nr_resubmit;
	if (!vq->started) {
		ret = -EAGAIN;
		goto out;
	}
	if (vq->broken) {
		ret = -EIO;
		goto out;
	}
	ret = vduse_vq_ring(vq);
	if (ret)
		goto out;
	s.num = vq->num;
	s.last_avail_idx = vq->last_avail_idx;
	s.used_idx = vq->used_idx;
	s.packed = vq->packed;
	if (vq->packed) {
		s.avail_wrap = vq->avail_wrap;
		s.used_wrap = vq->used_wrap;
		s.avail_idx = s.last_avail_idx;
		s.avail = packed_avail(vq);
	} else {
		s.avail_idx = ld16_acq((const uint8_t *)vq->driver + 2);
		/* the driver's index is untrusted: more than a ring is a lie */
		s.avail = (uint16_t)(s.avail_idx - s.last_avail_idx);
		if (s.avail > vq->num)
			ret = -EPROTO;
	}
out:
	vduse_vq_unlock(vq);
	vduse_unlock(vq->dev);
	memcpy(rs, &s, size < sizeof(s) ? size : sizeof(s));
	if (size > sizeof(s))
		memset((char *)rs + sizeof(s), 0, size - sizeof(s));
	return ret;
}

EXPORT int vduse_vq_avail_count(struct vduse_vq *vq)
{
	struct vduse_vq_ring_state s;
	int ret = vduse_vq_get_ring_state(vq, &s, sizeof(s));

	return ret ? ret : (int)s.avail;
}

EXPORT unsigned int vduse_vq_resubmit_count(const struct vduse_vq *vq)
{
	unsigned int n;

	vduse_lock(vq->dev);
	vduse_vq_lock_msg((struct vduse_vq *)vq);
	n = vq->nr_resubmit;
	vduse_vq_unlock((struct vduse_vq *)vq);
	vduse_unlock(vq->dev);
	return n;
}
