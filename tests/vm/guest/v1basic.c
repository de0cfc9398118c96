// SPDX-License-Identifier: GPL-2.0
/*
 * v1basic: the smallest proof that a kernel speaks VDUSE API v1 as our header
 * describes it: groups at CREATE_DEV and VQ_SETUP, GET_FD2 refused on v0.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdint.h>
#include <sys/ioctl.h>
#include <unistd.h>
#include <linux/virtio_blk.h>
#include <linux/virtio_config.h>
#include "linux/vduse.h"
#include "flex.h"
#include "tap.h"

static int create(int ctl, const char *name, uint32_t vqs, uint32_t ngroups, uint32_t nas)
{
	union {
		struct vduse_dev_config c;
		struct {
			FLEX_HEAD(struct vduse_dev_config);
			struct virtio_blk_config blk;
		};
	} cfg;

	memset(&cfg, 0, sizeof(cfg));
	snprintf(cfg.c.name, sizeof(cfg.c.name), "%s", name);
	cfg.c.device_id = VIRTIO_ID_BLOCK;
	cfg.c.features = (1ull << VIRTIO_F_VERSION_1) | (1ull << VIRTIO_F_ACCESS_PLATFORM);
	cfg.c.vq_num = vqs;
	cfg.c.vq_align = 4096;
	cfg.c.ngroups = ngroups;
	cfg.c.nas = nas;
	cfg.c.config_size = sizeof(cfg.blk);
	cfg.blk.capacity = 2048;
	return ioctl(ctl, VDUSE_CREATE_DEV, &cfg);
}

static int open_dev(const char *name)
{
	char path[300];
	int i, fd = -1;

	snprintf(path, sizeof(path), "/dev/vduse/%s", name);
	for (i = 0; i < 50 && fd < 0; i++) {
		fd = open(path, O_RDWR);
		if (fd < 0)
			usleep(100000);
	}
	return fd;
}

int main(void)
{
	struct vduse_vq_config vq;
	struct vduse_iotlb_entry_v2 e2;
	uint64_t ver = 1;
	int ctl, fd;

	ctl = open("/dev/vduse/control", O_RDWR);
	TAP_SYS(ctl, "open /dev/vduse/control");
	TAP_SYS(ioctl(ctl, VDUSE_SET_API_VERSION, &ver), "SET_API_VERSION(1)");
	ver = 0;
	TAP_SYS(ioctl(ctl, VDUSE_GET_API_VERSION, &ver), "GET_API_VERSION");
	TAP_EQ(ver, 1, "API version reads back as 1");
	TAP_SYS(create(ctl, "v1grp", 2, 2, 2), "CREATE_DEV ngroups=2 nas=2");
	fd = open_dev("v1grp");
	TAP_SYS(fd, "open v1 device");

	memset(&vq, 0, sizeof(vq));
	vq.index = 1;
	vq.max_size = 64;
	vq.group = 2;
	TAP_ERRNO(ioctl(fd, VDUSE_VQ_SETUP, &vq), EINVAL, "VQ_SETUP group == ngroups: EINVAL");
	vq.group = 1;
	TAP_SYS(ioctl(fd, VDUSE_VQ_SETUP, &vq), "VQ_SETUP group 1");
	close(fd);
	TAP_SYS(ioctl(ctl, VDUSE_DESTROY_DEV, "v1grp"), "DESTROY_DEV v1 device");

	ver = 0;
	TAP_SYS(ioctl(ctl, VDUSE_SET_API_VERSION, &ver), "SET_API_VERSION(0)");
	TAP_SYS(create(ctl, "v0dev", 1, 0, 0), "CREATE_DEV v0 device");
	fd = open_dev("v0dev");
	TAP_SYS(fd, "open v0 device");
	memset(&e2, 0, sizeof(e2));
	e2.last = ~0ull;
	TAP_ERRNO(ioctl(fd, VDUSE_IOTLB_GET_FD2, &e2), ENOTTY, "GET_FD2 on a v0 device: ENOTTY");
	close(fd);
	TAP_SYS(ioctl(ctl, VDUSE_DESTROY_DEV, "v0dev"), "DESTROY_DEV v0 device");
	close(ctl);
	return tap_done();
}
