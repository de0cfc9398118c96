/* SPDX-License-Identifier: GPL-2.0 */
/*
 * A minimal vhost-vdpa client for the guest tests: raw ioctls on
 * /dev/vhost-vdpa-N and IOTLB v2 messages written to it, as a consumer such
 * as QEMU drives a vDPA device.
 */
#ifndef VDUSE_TESTS_VHOST_VDPA_CLIENT_H
#define VDUSE_TESTS_VHOST_VDPA_CLIENT_H

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>
#include <linux/vhost.h>
#include <linux/vhost_types.h>

#define VH_BACKEND_WANT ((1ull << VHOST_BACKEND_F_IOTLB_MSG_V2) | \
			 (1ull << VHOST_BACKEND_F_IOTLB_BATCH) | \
			 (1ull << VHOST_BACKEND_F_IOTLB_ASID))

/* Open PATH, become its owner and negotiate IOTLB v2 + batching + ASID. */
static inline int vh_open(const char *path)
{
	uint64_t f = VH_BACKEND_WANT;
	int fd = open(path, O_RDWR | O_CLOEXEC);

	if (fd < 0)
		return -1;
	if (ioctl(fd, VHOST_SET_OWNER) || ioctl(fd, VHOST_SET_BACKEND_FEATURES, &f)) {
		int e = errno;

		close(fd);
		errno = e;
		return -1;
	}
	return fd;
}

/* One IOTLB v2 message; returns write(2)'s result (72 on success). */
static inline ssize_t vh_iotlb(int fd, uint32_t asid, uint8_t type, uint64_t iova,
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
	return write(fd, &m, sizeof(m));
}

/* A batch holding one UPDATE in ASID: one set_map, one device round trip. */
static inline int vh_map(int fd, uint32_t asid, uint64_t iova, uint64_t size,
			 const void *uaddr, uint8_t perm)
{
	if (vh_iotlb(fd, asid, VHOST_IOTLB_BATCH_BEGIN, 0, 0, NULL, 0) != sizeof(struct vhost_msg_v2))
		return -1;
	if (vh_iotlb(fd, asid, VHOST_IOTLB_UPDATE, iova, size, uaddr, perm) != sizeof(struct vhost_msg_v2)) {
		int e = errno;

		vh_iotlb(fd, asid, VHOST_IOTLB_BATCH_END, 0, 0, NULL, 0);
		errno = e;
		return -1;
	}
	if (vh_iotlb(fd, asid, VHOST_IOTLB_BATCH_END, 0, 0, NULL, 0) != sizeof(struct vhost_msg_v2))
		return -1;
	return 0;
}

static inline int vh_unmap(int fd, uint32_t asid, uint64_t iova, uint64_t size)
{
	if (vh_iotlb(fd, asid, VHOST_IOTLB_BATCH_BEGIN, 0, 0, NULL, 0) != sizeof(struct vhost_msg_v2) ||
	    vh_iotlb(fd, asid, VHOST_IOTLB_INVALIDATE, iova, size, NULL, 0) != sizeof(struct vhost_msg_v2) ||
	    vh_iotlb(fd, asid, VHOST_IOTLB_BATCH_END, 0, 0, NULL, 0) != sizeof(struct vhost_msg_v2))
		return -1;
	return 0;
}

static inline int vh_set_status(int fd, uint8_t s)
{
	return ioctl(fd, VHOST_VDPA_SET_STATUS, &s);
}

static inline int vh_get_status(int fd)
{
	uint8_t s = 0;

	if (ioctl(fd, VHOST_VDPA_GET_STATUS, &s))
		return -1;
	return s;
}

/* SET_GROUP_ASID: .index is the group, .num the ASID. */
static inline int vh_set_group_asid(int fd, unsigned int group, unsigned int asid)
{
	struct vhost_vring_state s = { .index = group, .num = asid };

	return ioctl(fd, VHOST_VDPA_SET_GROUP_ASID, &s);
}

/* GET_VRING_GROUP: the group of vq IDX, or -1. */
static inline long vh_vring_group(int fd, unsigned int idx)
{
	struct vhost_vring_state s = { .index = idx };

	if (ioctl(fd, VHOST_VDPA_GET_VRING_GROUP, &s))
		return -1;
	return s.num;
}

#endif
