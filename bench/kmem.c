// SPDX-License-Identifier: GPL-2.0
/*
 * kmem: kernel memory per VDUSE device, for bench/run-kmod. Creates N
 * virtio-blk devices with NGROUPS virtqueue groups and NAS address spaces
 * (API v1; API v0 when both are 1 and the kernel has no v1), adds each as a
 * vDPA device (no bus driver loaded: nothing attaches, no message is sent),
 * and prints how much Slab, VmallocUsed and Percpu grew and MemAvailable
 * shrank, per device, from /proc/meminfo after dropping caches. Then it
 * removes and destroys them and checks that the memory came back (within
 * the noise). The devices never serve anything: this is what the kernel
 * keeps for an idle device (its groups, address spaces, IOVA domains).
 *
 *   kmem NGROUPS NAS N
 *
 * Prints "# benchmem v<API> NGROUPS NAS N <slab> <vmalloc> <percpu> <avail>"
 * (bytes per device) and TAP lines for the create / add / del / destroy.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <unistd.h>
#include <linux/virtio_blk.h>
#include <linux/virtio_config.h>
#include "linux/vduse.h"
#include "flex.h"
#include "tap.h"

struct mem { long long slab, vmalloc, percpu, avail; };

static long long field(const char *buf, const char *key)
{
	const char *p = strstr(buf, key);

	return p ? strtoll(p + strlen(key), NULL, 10) * 1024 : 0;
}

static void meminfo(struct mem *m)
{
	char buf[8192];
	ssize_t n;
	int fd;

	sync();
	fd = open("/proc/sys/vm/drop_caches", O_WRONLY);
	if (fd >= 0) {
		if (write(fd, "3", 1) < 0)
			perror("drop_caches");
		close(fd);
	}
	usleep(200000);	/* RCU-freed objects */
	fd = open("/proc/meminfo", O_RDONLY);
	n = fd < 0 ? -1 : read(fd, buf, sizeof(buf) - 1);
	buf[n < 0 ? 0 : n] = 0;
	if (fd >= 0)
		close(fd);
	m->slab = field(buf, "\nSlab:");
	m->vmalloc = field(buf, "\nVmallocUsed:");
	m->percpu = field(buf, "\nPercpu:");
	m->avail = field(buf, "\nMemAvailable:");
}

static int run(const char *fmt, const char *name)
{
	char cmd[320];
	int rc;

	snprintf(cmd, sizeof(cmd), fmt, name);
	rc = system(cmd);
	return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
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
	unsigned int ngroups, nas, n, i, made = 0, added = 0, bad = 0;
	struct mem m0, m1, m2;
	char name[VDUSE_NAME_MAX], path[300];
	uint64_t ver = 1;
	int ctl, api = 1;

	if (argc != 4) {
		fprintf(stderr, "usage: kmem NGROUPS NAS N\n");
		return 2;
	}
	ngroups = strtoul(argv[1], NULL, 0);
	nas = strtoul(argv[2], NULL, 0);
	n = strtoul(argv[3], NULL, 0);
	setvbuf(stdout, NULL, _IOLBF, 0);
	ctl = open("/dev/vduse/control", O_RDWR);
	TAP_SYS(ctl, "open /dev/vduse/control");
	if (ctl < 0)
		return tap_done();
	if (ioctl(ctl, VDUSE_SET_API_VERSION, &ver)) {
		if (ngroups != 1 || nas != 1) {
			printf("# kmem: no API v1 here (%s): %u groups, %u address spaces not possible\n",
			       strerror(errno), ngroups, nas);
			return 0;
		}
		ver = 0;
		api = 0;
		TAP_SYS(ioctl(ctl, VDUSE_SET_API_VERSION, &ver), "SET_API_VERSION 0");
	}
	meminfo(&m0);
	for (i = 0; i < n; i++) {
		struct vduse_vq_config vq = { .max_size = 256 };
		int fd, q;

		memset(&cfg, 0, sizeof(cfg));
		snprintf(cfg.c.name, sizeof(cfg.c.name), "kmem%u", i);
		cfg.c.device_id = VIRTIO_ID_BLOCK;
		cfg.c.features = (1ull << VIRTIO_F_VERSION_1) | (1ull << VIRTIO_F_ACCESS_PLATFORM);
		cfg.c.vq_num = 2;
		cfg.c.vq_align = 4096;
		if (api) {
			cfg.c.ngroups = ngroups;
			cfg.c.nas = nas;
		}
		cfg.c.config_size = sizeof(cfg.blk);
		cfg.blk.capacity = 2048;
		if (ioctl(ctl, VDUSE_CREATE_DEV, &cfg)) {
			printf("# kmem: CREATE_DEV kmem%u: %s\n", i, strerror(errno));
			bad++;
			break;
		}
		made++;
		snprintf(path, sizeof(path), "/dev/vduse/kmem%u", i);
		fd = open(path, O_RDWR);
		for (q = 0; fd >= 0 && q < 2; q++) {
			vq.index = q;
			vq.group = api ? q % ngroups : 0;
			if (ioctl(fd, VDUSE_VQ_SETUP, &vq))
				bad++;
		}
		if (fd >= 0)
			close(fd);
		else
			bad++;
		if (run("vdpa dev add name %s mgmtdev vduse", cfg.c.name)) {
			bad++;
			break;
		}
		added++;
	}
	TAP_OK(made == n && added == n && !bad, "create and add the devices",
	       "%u of %u created, %u added, %u errors", made, n, added, bad);
	meminfo(&m1);
	if (made == n && added == n && n)
		printf("# benchmem v%d %u %u %u %lld %lld %lld %lld\n", api, ngroups, nas, n,
		       (m1.slab - m0.slab) / n, (m1.vmalloc - m0.vmalloc) / n,
		       (m1.percpu - m0.percpu) / n, (m0.avail - m1.avail) / n);
	bad = 0;
	for (i = 0; i < added; i++) {
		snprintf(name, sizeof(name), "kmem%u", i);
		bad += !!run("vdpa dev del %s", name);
	}
	for (i = 0; i < made; i++) {
		int t;

		snprintf(name, sizeof(name), "kmem%u", i);
		for (t = 0; t < 50 && ioctl(ctl, VDUSE_DESTROY_DEV, name) && errno == EBUSY; t++)
			usleep(100000);
		snprintf(path, sizeof(path), "/dev/vduse/%s", name);
		bad += access(path, F_OK) == 0;
	}
	TAP_OK(!bad, "delete and destroy the devices", "%u failures", bad);
	meminfo(&m2);
	printf("# kmem: after destroying: slab %+lld, vmalloc %+lld, MemAvailable %+lld bytes in all\n",
	       m2.slab - m0.slab, m2.vmalloc - m0.vmalloc, m2.avail - m0.avail);
	close(ctl);
	return tap_done();
}
