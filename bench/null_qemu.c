// SPDX-License-Identifier: GPL-2.0
/*
 * null-qemu: the null virtio-blk (bench/nullblk.h) on QEMU's libvduse
 * (subprojects/libvduse of Debian's qemu source, built by bench/bench.mk
 * from the cache that bench/fetch-qemu-libvduse fills; never part of this
 * repository). The loop is qemu-storage-daemon's vduse-blk loop without
 * the block layer: on a kick, read the eventfd, pop every request, push
 * each, one notify. SIGTERM ends it and destroys the device. Like qsd it
 * keeps the library's in-flight log (for reconnection) in a file, here in
 * the guest's /run: part of what QEMU's library costs per request.
 *
 *   null-qemu NAME
 *
 * SIGUSR1 prints its counters (bench_lib's BENCH_LIB_COUNTERS).
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <unistd.h>
#include "libvduse.h"
#include "nullblk.h"

static volatile sig_atomic_t stop, dump;
static unsigned long served, bad, wakes, kicks;
static VduseVirtq *ready_vq;

static void on_signal(int sig)
{
	if (sig == SIGUSR1)
		dump = 1;
	else
		stop = 1;
}

static void enable_queue(VduseDev *dev, VduseVirtq *vq)
{
	ready_vq = vq;
}

static void disable_queue(VduseDev *dev, VduseVirtq *vq)
{
	ready_vq = NULL;
}

static void serve(VduseVirtq *vq)
{
	VduseVirtqElement *e;
	uint32_t len;

	while ((e = vduse_queue_pop(vq, sizeof(*e)))) {
		len = nullblk_serve(e->out_sg, e->out_num, e->in_sg, e->in_num);
		bad += !len;
		served++;
		vduse_queue_push(vq, e, len);
		free(e);
	}
	vduse_queue_notify(vq);
}

int main(int argc, char **argv)
{
	static const VduseOps ops = {
		.enable_queue = enable_queue,
		.disable_queue = disable_queue,
	};
	struct virtio_blk_config cfg;
	struct sigaction sa;
	char logpath[128];
	VduseDev *dev;
	int ret = 0;

	if (argc != 2) {
		fprintf(stderr, "usage: null-qemu NAME\n");
		return 2;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	nullblk_config(&cfg);
	dev = vduse_dev_create(argv[1], VIRTIO_ID_BLOCK, 0, NULLBLK_FEATURES, 1,
			       sizeof(cfg), (char *)&cfg, &ops, NULL);
	/*
	 * QEMU 10's library needs its in-flight log (it dereferences it when
	 * a queue starts); qemu-storage-daemon always gives it one. A file in
	 * the guest's tmpfs, like qsd's default under /run.
	 */
	snprintf(logpath, sizeof(logpath), "/run/null-qemu-%s.inflight", argv[1]);
	if (!dev || vduse_set_reconnect_log_file(dev, logpath) ||
	    vduse_dev_setup_queue(dev, 0, NULLBLK_QUEUE_SIZE)) {
		fprintf(stderr, "null-qemu: cannot create %s\n", argv[1]);
		return 1;
	}
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGUSR1, &sa, NULL);
	printf("# nullblk %s: QEMU's libvduse, VDUSE API v0\n", argv[1]);
	while (!stop) {
		struct pollfd p[2] = {
			{ .fd = vduse_dev_get_fd(dev), .events = POLLIN },
			{ .fd = ready_vq ? vduse_queue_get_fd(ready_vq) : -1, .events = POLLIN },
		};
		eventfd_t v;

		int n = poll(p, 2, 200);

		if (dump) {
			/* the library counts no interrupts: wake-ups and kicks only */
			dump = 0;
			printf("# nullctr %s wakes %lu kicks %lu served %lu\n", argv[1], wakes, kicks,
			       served);
		}
		if (n < 0) {
			if (errno == EINTR)
				continue;
			ret = 1;
			break;
		}
		wakes += n > 0;
		if (p[0].revents & POLLIN)
			vduse_dev_handler(dev);
		if (ready_vq && (p[1].revents & POLLIN)) {
			eventfd_read(vduse_queue_get_fd(ready_vq), &v);
			kicks++;
			serve(ready_vq);
		}
	}
	printf("# nullblk %s: served %lu requests, %lu malformed\n", argv[1], served, bad);
	/* frees dev whatever happens: one try, after "vdpa dev del" */
	usleep(200000);
	if (vduse_dev_destroy(dev))
		ret = 1;
	return ret || bad ? 1 : 0;
}
