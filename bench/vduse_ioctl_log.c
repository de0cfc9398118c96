// SPDX-License-Identifier: GPL-2.0
/*
 * vduse_ioctl_log.so: preloaded into a VDUSE device that we only have as a
 * binary (DPDK's testpmd in bench_dpdk), it logs to stderr what the device
 * asks of /dev/vduse/control: the API version it sets and the features,
 * queue count and config size of VDUSE_CREATE_DEV, with the kernel's answer.
 * Built against bookworm's glibc; newer glibc (sid's) loads it too.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <linux/ioctl.h>
#include <linux/types.h>
#include "linux/vduse.h"

int ioctl(int fd, unsigned long req, ...)
{
	static int (*real)(int, unsigned long, ...);
	va_list ap;
	void *arg;
	int rc, err;

	va_start(ap, req);
	arg = va_arg(ap, void *);
	va_end(ap);
	if (!real)
		real = (int (*)(int, unsigned long, ...))dlsym(RTLD_NEXT, "ioctl");
	rc = real(fd, req, arg);
	err = errno;
	if (req == VDUSE_SET_API_VERSION) {
		fprintf(stderr, "vduse-ioctl: SET_API_VERSION %llu -> %d (%d)\n",
			(unsigned long long)*(__u64 *)arg, rc, rc ? err : 0);
	} else if (req == VDUSE_CREATE_DEV) {
		const struct vduse_dev_config *c = arg;

		fprintf(stderr, "vduse-ioctl: CREATE_DEV %.32s device_id %u features 0x%llx vq_num %u vq_align %u config_size %u -> %d (%d)\n",
			c->name, c->device_id, (unsigned long long)c->features, c->vq_num, c->vq_align,
			c->config_size, rc, rc ? err : 0);
	}
	errno = err;
	return rc;
}
