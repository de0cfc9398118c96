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
 * Requests are served synchronously in the event loop thread: preadv() or
 * pwritev() between the backing file and the request's buffers, which the
 * library has already translated. SIGTERM or SIGINT ends the loop; the
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

#define SERIAL	"libvduse-bench"
#define MAX_SEGS 1024

static int disk_fd;
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
 * Describe bytes [off, off + len) of the segments @iov[0..n) in @out.
 * Returns the number of segments, or -1 if they do not fit.
 */
static int sub_iov(const struct iovec *iov, unsigned int n, uint64_t off,
		   uint64_t len, struct iovec *out)
{
	unsigned int i;
	int k = 0;

	for (i = 0; i < n && len; i++) {
		uint64_t seg = iov[i].iov_len;

		if (off >= seg) {
			off -= seg;
			continue;
		}
		if (k == MAX_SEGS)
			return -1;
		seg -= off;
		if (seg > len)
			seg = len;
		out[k].iov_base = (uint8_t *)iov[i].iov_base + off;
		out[k].iov_len = seg;
		k++;
		len -= seg;
		off = 0;
	}
	return len ? -1 : k;
}

/* preadv/pwritev the whole range, continuing after short transfers. */
static int file_io(int write, struct iovec *iov, int n, uint64_t off)
{
	while (n > 0) {
		ssize_t r = write ? pwritev(disk_fd, iov, n, off) : preadv(disk_fd, iov, n, off);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return -1;
		off += r;
		while (n > 0 && (size_t)r >= iov->iov_len) {
			r -= iov->iov_len;
			iov++;
			n--;
		}
		if (n > 0) {
			iov->iov_base = (uint8_t *)iov->iov_base + r;
			iov->iov_len -= r;
		}
	}
	return 0;
}

/* One virtio-blk request: header, data, status byte. Returns bytes written. */
static uint32_t blk_request(struct vduse_req *req)
{
	static struct iovec seg[MAX_SEGS];
	struct virtio_blk_outhdr hdr;
	uint8_t status = VIRTIO_BLK_S_OK;
	uint32_t written = 0;
	uint64_t off, len;
	uint8_t *first;
	int n;

	if (req->readable_len < sizeof(hdr) || req->writable_len < 1) {
		bad_requests++;
		return 0;
	}
	vduse_req_read(req, 0, &hdr, sizeof(hdr));
	off = hdr.sector << 9;
	switch (hdr.type) {
	case VIRTIO_BLK_T_IN:
	case VIRTIO_BLK_T_OUT:
		if (hdr.type == VIRTIO_BLK_T_IN) {
			len = req->writable_len - 1;
			n = sub_iov(req->iov + req->nr_readable, req->nr_writable, 0, len, seg);
		} else {
			len = req->readable_len - sizeof(hdr);
			n = sub_iov(req->iov, req->nr_readable, sizeof(hdr), len, seg);
		}
		if (hdr.sector > disk_size >> 9 || off > disk_size || len > disk_size - off ||
		    n < 0) {
			bad_requests++;
			status = VIRTIO_BLK_S_IOERR;
			break;
		}
		first = n ? seg[0].iov_base : NULL;
		if (file_io(hdr.type == VIRTIO_BLK_T_OUT, seg, n, off)) {
			io_errors++;
			status = VIRTIO_BLK_S_IOERR;
			break;
		}
		if (hdr.type == VIRTIO_BLK_T_IN) {
			if (corrupt && first)
				*first ^= 0x01;
			written = len;
		}
		break;
	case VIRTIO_BLK_T_FLUSH:
		if (fdatasync(disk_fd)) {
			io_errors++;
			status = VIRTIO_BLK_S_IOERR;
		}
		break;
	case VIRTIO_BLK_T_GET_ID:
		len = req->writable_len - 1;
		if (len > VIRTIO_BLK_ID_BYTES)
			len = VIRTIO_BLK_ID_BYTES;
		written = vduse_req_write(req, 0, SERIAL, len < sizeof(SERIAL) ? len : sizeof(SERIAL));
		break;
	default:
		status = VIRTIO_BLK_S_UNSUPP;
	}
	vduse_req_write(req, req->writable_len - 1, &status, 1);
	served++;
	return written + 1;
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
	disk_fd = open(argv[argc - 1], O_RDWR);
	if (disk_fd < 0 || fstat(disk_fd, &st)) {
		fprintf(stderr, "benchdev: %s: %s\n", argv[argc - 1], strerror(errno));
		return 1;
	}
	disk_size = st.st_size & ~511ull;

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
