// SPDX-License-Identifier: GPL-2.0
/*
 * benchdev: the libvduse side of `make bench`. A file-backed virtio-blk
 * device built only on libvduse's public API, shaped like
 * qemu-storage-daemon's vduse-blk export so that the two can be compared
 * (split rings, indirect descriptors, event index, one queue of 256,
 * seg_max = queue size - 2, 512-byte blocks, flush).
 *
 *   benchdev [--queue-size N] NAME FILE
 *
 * Requests are served synchronously in the event loop thread by vduse-blk's
 * request code (devices/blk/blk_req.c): preadv2() or pwritev2() between the
 * backing file and the request's buffers, which the library has already
 * translated. SIGTERM or SIGINT ends the loop; the
 * device is destroyed on the way out (after "vdpa dev del"). The last line
 * printed is a summary ("# benchdev NAME: ..."). SIGUSR1 makes every later
 * read return one wrong byte, to show that the bench's data checks work.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>
#include <linux/virtio_blk.h>
#include <linux/virtio_config.h>
#include <linux/virtio_ring.h>
#include "vduse/libvduse.h"
#include "blk_req.h"

static struct blk_disk disk = { .lbs = 512, .serial = "libvduse-bench" };
static struct blk_file file;
static uint64_t disk_size;
static volatile sig_atomic_t stop, corrupt;
static unsigned long served, io_errors, bad_requests, kicks, irqs;

static void on_signal(int sig)
{
	if (sig == SIGUSR1)
		corrupt = 1;
	else
		stop = 1;
}

static void log_cb(void *user, enum vduse_log_level lvl, const char *msg)
{
	fprintf(stderr, "# benchdev: libvduse[%d]: %s\n", lvl, msg);
}

/*
 * One virtio-blk request, through vduse-blk's device code
 * (devices/blk/blk_req.c), executed synchronously. Returns the used length.
 */
static uint32_t blk_request(struct vduse_req *req)
{
	struct iovec *iov = calloc(req->nr_readable + req->nr_writable + 1, sizeof(*iov));
	struct blk_cmd c;
	uint8_t *first;
	uint32_t used;

	if (!iov || blk_cmd_parse(&disk, req, &c, iov)) {
		bad_requests++;
		free(iov);
		return 0;
	}
	if (c.status == VIRTIO_BLK_S_IOERR)
		bad_requests++;		/* out of range or malformed */
	first = c.op == BLK_OP_READ && c.niov ? c.iov[0].iov_base : NULL;
	blk_cmd_exec_sync(&file, &c);
	if (c.op != BLK_OP_NONE && c.status != VIRTIO_BLK_S_OK)
		io_errors++;
	if (corrupt && first && c.status == VIRTIO_BLK_S_OK)
		*first ^= 0x01;
	used = blk_cmd_complete(req, &c);
	served++;
	free(iov);
	return used;
}

static void on_kick(struct vduse_dev *dev, struct vduse_vq *vq, void *user)
{
	struct vduse_req *req;
	int ret;

	kicks++;
	while ((ret = vduse_vq_pop(vq, &req)) == 1)
		vduse_vq_push(req, blk_request(req));
	if (ret < 0)
		fprintf(stderr, "# benchdev: vq %u: pop: %s\n", vduse_vq_index(vq), strerror(-ret));
	if (vduse_vq_notify(vq) == 1)
		irqs++;
}

static void on_ready(struct vduse_dev *dev, struct vduse_vq *vq, void *user)
{
	on_kick(dev, vq, user);
}

int main(int argc, char **argv)
{
	struct virtio_blk_config cfg;
	struct vduse_dev *dev;
	struct sigaction sa;
	unsigned int qsize = 256;
	struct stat st;
	int i, ret;

	for (i = 1; i < argc - 2; i++) {
		if (!strcmp(argv[i], "--queue-size") && i + 1 < argc - 2) {
			qsize = strtoul(argv[++i], NULL, 0);
		} else {
			fprintf(stderr, "benchdev: unknown option %s\n", argv[i]);
			return 2;
		}
	}
	if (argc < 3 || qsize < 4 || qsize > 32768 || (qsize & (qsize - 1))) {
		fprintf(stderr, "usage: benchdev [--queue-size POW2] NAME FILE\n");
		return 2;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	file.fd = open(argv[argc - 1], O_RDWR);
	if (file.fd < 0 || fstat(file.fd, &st)) {
		fprintf(stderr, "benchdev: %s: %s\n", argv[argc - 1], strerror(errno));
		return 1;
	}
	disk_size = st.st_size & ~511ull;
	disk.size = disk_size;

	memset(&cfg, 0, sizeof(cfg));
	cfg.capacity = disk_size >> 9;
	cfg.seg_max = qsize - 2;
	cfg.blk_size = 512;
	LIBVDUSE_OPTS(vduse_dev_opts, o, .name = argv[argc - 2], .device_id = VIRTIO_ID_BLOCK,
		      .features = (1ull << VIRTIO_F_VERSION_1) |
				  (1ull << VIRTIO_RING_F_INDIRECT_DESC) |
				  (1ull << VIRTIO_RING_F_EVENT_IDX) |
				  (1ull << VIRTIO_BLK_F_SEG_MAX) |
				  (1ull << VIRTIO_BLK_F_BLK_SIZE) |
				  (1ull << VIRTIO_BLK_F_FLUSH),
		      .config = &cfg, .config_size = sizeof(cfg),
		      .num_queues = 1, .queue_size = qsize,
		      .queue_kick = on_kick, .queue_ready = on_ready,
		      .log = log_cb, .log_level = VDUSE_LOG_WARN);
	ret = vduse_dev_create(&o, &dev);
	if (ret) {
		fprintf(stderr, "benchdev: vduse_dev_create: %s\n", strerror(-ret));
		return 1;
	}
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGUSR1, &sa, NULL);
	printf("# benchdev %s: created, VDUSE API v%d, %llu bytes\n", vduse_dev_name(dev),
	       vduse_dev_api_version(dev), (unsigned long long)disk_size);

	while (!stop) {
		ret = vduse_dev_run_once(dev, 200);
		if (ret < 0 && ret != -EINTR) {
			fprintf(stderr, "benchdev: run_once: %s\n", strerror(-ret));
			break;
		}
	}
	printf("# benchdev %s: served %lu requests, %lu I/O errors, %lu bad requests\n",
	       vduse_dev_name(dev), served, io_errors, bad_requests);
	/* how well kicks and interrupts were batched (event index) */
	printf("# benchdev %s: %lu wake-ups (kicks or ready), %lu interrupts injected\n",
	       vduse_dev_name(dev), kicks, irqs);
	/* the vDPA device may take a moment to go after "vdpa dev del" */
	vduse_dev_close(dev);
	for (i = 0; i < 50 && (ret = vduse_destroy_by_name(argv[argc - 2])) == -EBUSY; i++)
		usleep(100000);
	if (ret) {
		fprintf(stderr, "benchdev: destroy: %s\n", strerror(-ret));
		return 1;
	}
	return io_errors || bad_requests ? 1 : 0;
}
