// SPDX-License-Identifier: GPL-2.0
/*
 * null-ours: the null virtio-blk (bench/nullblk.h) on libvduse's public
 * API, for the library bench (bench/run-lib). One queue of 256, served in
 * the single thread of vduse_dev_run_once(): pop every request, push each,
 * one notify. SIGTERM ends it; the device is destroyed on the way out.
 *
 *   null-ours NAME
 */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <unistd.h>
#include "vduse/libvduse.h"
#include "nullblk.h"

static volatile sig_atomic_t stop;
static unsigned long served, bad;

static void on_signal(int sig)
{
	stop = 1;
}

static void log_cb(void *user, enum vduse_log_level lvl, const char *msg)
{
	fprintf(stderr, "# null-ours: libvduse[%d]: %s\n", lvl, msg);
}

static void on_kick(struct vduse_dev *dev, struct vduse_vq *vq, void *user)
{
	struct vduse_req *req;
	uint32_t len;

	while (vduse_vq_pop(vq, &req) == 1) {
		len = nullblk_serve(req->iov, req->nr_readable,
				    req->iov + req->nr_readable, req->nr_writable);
		bad += !len;
		served++;
		vduse_vq_push(req, len);
	}
	vduse_vq_notify(vq);
}

int main(int argc, char **argv)
{
	struct virtio_blk_config cfg;
	struct vduse_dev *dev;
	struct sigaction sa;
	int i, ret;

	if (argc != 2) {
		fprintf(stderr, "usage: null-ours NAME\n");
		return 2;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	nullblk_config(&cfg);
	LIBVDUSE_OPTS(vduse_dev_opts, o, .name = argv[1], .device_id = VIRTIO_ID_BLOCK,
		      .features = NULLBLK_FEATURES,
		      .config = &cfg, .config_size = sizeof(cfg),
		      .num_queues = 1, .queue_size = NULLBLK_QUEUE_SIZE,
		      .queue_kick = on_kick, .queue_ready = on_kick,
		      .log = log_cb, .log_level = VDUSE_LOG_WARN);
	ret = vduse_dev_create(&o, &dev);
	if (ret) {
		fprintf(stderr, "null-ours: vduse_dev_create: %s\n", strerror(-ret));
		return 1;
	}
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	printf("# nullblk %s: libvduse, VDUSE API v%d\n", argv[1], vduse_dev_api_version(dev));
	while (!stop) {
		ret = vduse_dev_run_once(dev, 200);
		if (ret < 0 && ret != -EINTR) {
			fprintf(stderr, "null-ours: run_once: %s\n", strerror(-ret));
			break;
		}
	}
	printf("# nullblk %s: served %lu requests, %lu malformed\n", argv[1], served, bad);
	vduse_dev_close(dev);
	for (i = 0; i < 50 && (ret = vduse_destroy_by_name(argv[1])) == -EBUSY; i++)
		usleep(100000);
	return ret || bad ? 1 : 0;
}
