// SPDX-License-Identifier: GPL-2.0
/*
 * null-ours: the null virtio-blk (bench/nullblk.h) on libvduse's public
 * API, for the library bench (bench/run-lib). One queue of 256, served in
 * the single thread of vduse_dev_run_once(): pop every request, push each,
 * one notify. SIGTERM ends it; the device is destroyed on the way out.
 *
 *   null-ours [--nas N] [--v0] NAME
 *
 * --nas N: N address spaces (API v1; one group, its queue in AS 0), to show
 * what the address-space support costs the data path (bench/run-kmod).
 * --v0: API v0 even where v1 is offered, to compare our module with the
 * stock one like for like (bench/run-kmod).
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
	unsigned int nas = 1, flags = 0;
	const char *name;
	int i, ret;

	for (i = 1; i < argc - 1; i++) {
		if (!strcmp(argv[i], "--nas") && i + 1 < argc - 1)
			nas = strtoul(argv[++i], NULL, 0);
		else if (!strcmp(argv[i], "--v0"))
			flags |= VDUSE_DEV_F_API_V0;
		else
			break;
	}
	if (argc < 2 || i != argc - 1 || argv[i][0] == '-') {
		fprintf(stderr, "usage: null-ours [--nas N] [--v0] NAME\n");
		return 2;
	}
	name = argv[argc - 1];
	setvbuf(stdout, NULL, _IOLBF, 0);
	nullblk_config(&cfg);
	LIBVDUSE_OPTS(vduse_dev_opts, o, .name = name, .device_id = VIRTIO_ID_BLOCK,
		      .ngroups = 1, .nas = nas, .flags = flags,
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
	printf("# nullblk %s: libvduse, VDUSE API v%d, %u address spaces\n", name,
	       vduse_dev_api_version(dev), nas);
	while (!stop) {
		ret = vduse_dev_run_once(dev, 200);
		if (ret < 0 && ret != -EINTR) {
			fprintf(stderr, "null-ours: run_once: %s\n", strerror(-ret));
			break;
		}
	}
	printf("# nullblk %s: served %lu requests, %lu malformed\n", name, served, bad);
	vduse_dev_close(dev);
	for (i = 0; i < 50 && (ret = vduse_destroy_by_name(name)) == -EBUSY; i++)
		usleep(100000);
	return ret || bad ? 1 : 0;
}
