// SPDX-License-Identifier: GPL-2.0
/*
 * libblk: a RAM-backed virtio-blk device built only on libvduse's public
 * API, driven by the kernel's virtio-blk through virtio-vdpa.
 *
 *   libblk [--expect-api 0|1] [--packed] [--indirect] [--event-idx]
 *          [--umem] [--corrupt] NAME
 *
 * Creates the device (the library negotiates v1, or v0 on a v0-only
 * kernel), binds it with "vdpa dev add", writes a pattern through /dev/vda
 * with O_DIRECT, reads it back and compares it with the device's memory;
 * with --umem, registers userspace memory as the bounce region and checks
 * that I/O goes through it; then closes the device and reattaches to it
 * (daemon restart) and does it again; then drops a write in flight and
 * restarts, so the in-flight log must resubmit it; finally
 * "vdpa dev del" and destroy. --corrupt flips a byte on every read, so the
 * comparison must fail.
 */
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>
#include <linux/virtio_blk.h>
#include <linux/virtio_config.h>
#include <linux/virtio_ring.h>
#include "vduse/libvduse.h"
#include "blk_req.h"
#include "tap.h"

#define DISK_SIZE	(16u << 20)
#define QSIZE		128

static uint8_t *disk;
static int corrupt;
static volatile int stop;
static unsigned long served, bad_chains;
static void *inflight_log;
static struct vduse_dev_opts *gopts;
static volatile int crash_armed, crashed;
static uint64_t crash_sector = ~0ull;
static int restarts, restart_ret, crash_served;
static size_t inflight_size;
static struct blk_disk blk_disk = { .size = DISK_SIZE, .lbs = 512, .serial = "libblk" };
static struct blk_file blk_file;

static void log_cb(void *user, enum vduse_log_level lvl, const char *msg)
{
	printf("# libvduse[%d]: %s\n", lvl, msg);
}

/*
 * One virtio-blk request, through the device code of vduse-blk
 * (devices/blk/blk_req.c) on the memfd that backs the RAM disk.
 */
static uint32_t blk_request(struct vduse_req *req)
{
	struct iovec *iov = calloc(req->nr_readable + req->nr_writable + 1, sizeof(*iov));
	struct blk_cmd c;
	uint32_t used;

	if (!iov || blk_cmd_parse(&blk_disk, req, &c, iov)) {
		bad_chains++;
		free(iov);
		return 0;
	}
	blk_cmd_exec_sync(&blk_file, &c);
	if (corrupt && c.op == BLK_OP_READ && c.status == VIRTIO_BLK_S_OK)
		vduse_req_write(req, 0, &(uint8_t){ disk[c.off] ^ 0xff }, 1);
	used = blk_cmd_complete(req, &c);
	served++;
	free(iov);
	return used;
}

static void on_kick(struct vduse_dev *dev, struct vduse_vq *vq, void *user)
{
	struct vduse_req *req;
	int ret;

	while ((ret = vduse_vq_pop(vq, &req)) == 1) {
		struct virtio_blk_outhdr hdr = { 0 };

		vduse_req_read(req, 0, &hdr, sizeof(hdr));
		if (hdr.type == VIRTIO_BLK_T_OUT && hdr.sector == crash_sector) {
			if (crash_armed) {
				/* "crash": keep the request, never answer it */
				crash_armed = 0;
				crashed = 1;
				return;
			}
			crash_served++;
		}
		vduse_vq_push(req, blk_request(req));
	}
	if (ret < 0)
		printf("# libblk: vq %u: pop failed: %s\n", vduse_vq_index(vq), strerror(-ret));
	vduse_vq_notify(vq);
}

/* Requests resubmitted after attach are served without waiting for a kick. */
static void on_ready(struct vduse_dev *dev, struct vduse_vq *vq, void *user)
{
	on_kick(dev, vq, user);
}

/*
 * The device thread. *arg is the device; after a simulated crash (a request
 * taken and never returned) it closes the device and attaches again, as a
 * restarted daemon would, and the in-flight log brings the request back.
 */
static void *loop(void *arg)
{
	struct vduse_dev **devp = arg;
	int ret;

	while (!stop) {
		ret = vduse_dev_run_once(*devp, 100);
		if (ret < 0) {
			printf("# libblk: run_once: %s\n", strerror(-ret));
			break;
		}
		if (crashed) {
			crashed = 0;
			vduse_dev_close(*devp);	/* the popped request is lost with it */
			*devp = NULL;
			restart_ret = vduse_dev_attach(gopts, devp);
			if (restart_ret)
				break;
			restarts++;
		}
	}
	return NULL;
}

static int run(const char *cmd)
{
	int rc = system(cmd);

	return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

static int wait_path(const char *path, int seconds, int present)
{
	int i;

	for (i = 0; i < seconds * 10; i++) {
		if ((access(path, F_OK) == 0) == present)
			return 0;
		usleep(100000);
	}
	return -1;
}

/* Write a pattern at @at through /dev/vda, read it back, compare. */
static void io_round(const char *what, off_t at)
{
	uint8_t *buf = aligned_alloc(4096, 65536), *pat = malloc(65536);
	char name[128];
	int fd, i;

	for (i = 0; i < 65536; i++)
		pat[i] = rand();
	fd = open("/dev/vda", O_RDWR | O_DIRECT);
	snprintf(name, sizeof(name), "%s: open /dev/vda O_DIRECT", what);
	TAP_SYS(fd, name);
	memcpy(buf, pat, 65536);
	snprintf(name, sizeof(name), "%s: O_DIRECT write 64 KiB", what);
	TAP_EQ(pwrite(fd, buf, 65536, at), 65536, name);
	snprintf(name, sizeof(name), "%s: fsync", what);
	TAP_SYS(fsync(fd), name);
	memset(buf, 0, 65536);
	snprintf(name, sizeof(name), "%s: O_DIRECT read 64 KiB", what);
	TAP_EQ(pread(fd, buf, 65536, at), 65536, name);
	snprintf(name, sizeof(name), "%s: read back matches the pattern", what);
	TAP_OK(!memcmp(buf, pat, 65536), name, "data differs");
	snprintf(name, sizeof(name), "%s: pattern found in the device's memory", what);
	TAP_OK(!memcmp(disk + at, pat, 65536), name, "backing memory differs");
	close(fd);
	free(buf);
	free(pat);
}

int main(int argc, char **argv)
{
	struct virtio_blk_config cfg;
	struct vduse_dev *dev = NULL;
	uint64_t features = (1ull << VIRTIO_F_VERSION_1) | (1ull << VIRTIO_BLK_F_FLUSH) |
			    (1ull << VIRTIO_BLK_F_SEG_MAX);
	int expect_api = -1, umem = 0, i, ret;
	pthread_t th;
	char cmd[400];
	const char *name;

	for (i = 1; i < argc - 1; i++) {
		if (!strcmp(argv[i], "--expect-api") && i + 1 < argc - 1)
			expect_api = atoi(argv[++i]);
		else if (!strcmp(argv[i], "--packed"))
			features |= 1ull << VIRTIO_F_RING_PACKED;
		else if (!strcmp(argv[i], "--indirect"))
			features |= 1ull << VIRTIO_RING_F_INDIRECT_DESC;
		else if (!strcmp(argv[i], "--event-idx"))
			features |= 1ull << VIRTIO_RING_F_EVENT_IDX;
		else if (!strcmp(argv[i], "--corrupt"))
			corrupt = 1;
		else if (!strcmp(argv[i], "--umem"))
			umem = 1;
	}
	if (argc < 2) {
		fprintf(stderr, "usage: libblk [--expect-api N] [--packed] [--indirect] "
			"[--event-idx] [--corrupt] NAME\n");
		return 2;
	}
	name = argv[argc - 1];
	setvbuf(stdout, NULL, _IOLBF, 0);
	srand(getpid());
	/* the disk is a memfd: the device code does file I/O, the checks read the mapping */
	blk_file.fd = memfd_create("libblk", MFD_CLOEXEC);
	if (blk_file.fd < 0 || ftruncate(blk_file.fd, DISK_SIZE)) {
		perror("libblk: memfd");
		return 2;
	}
	disk = mmap(NULL, DISK_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, blk_file.fd, 0);
	inflight_size = vduse_inflight_size(1, QSIZE, 1);
	inflight_log = mmap(NULL, inflight_size, PROT_READ | PROT_WRITE,
			    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	memset(&cfg, 0, sizeof(cfg));
	cfg.capacity = DISK_SIZE / 512;
	cfg.seg_max = QSIZE - 2;

	LIBVDUSE_OPTS(vduse_dev_opts, o, .name = name, .device_id = VIRTIO_ID_BLOCK,
		      .features = features, .config = &cfg, .config_size = sizeof(cfg),
		      .num_queues = 1, .queue_size = QSIZE, .queue_kick = on_kick,
		      .queue_ready = on_ready, .log = log_cb, .log_level = VDUSE_LOG_WARN,
		      .inflight = inflight_log, .inflight_size = inflight_size);

	gopts = &o;
	ret = vduse_dev_create(&o, &dev);
	TAP_EQ(ret, 0, "vduse_dev_create virtio-blk");
	if (ret)
		return tap_done();
	if (expect_api >= 0)
		TAP_EQ(vduse_dev_api_version(dev), expect_api, "negotiated VDUSE API version");
	else
		tap_diag("negotiated VDUSE API v%d", vduse_dev_api_version(dev));
	pthread_create(&th, NULL, loop, &dev);

	snprintf(cmd, sizeof(cmd), "vdpa dev add name %s mgmtdev vduse", name);
	TAP_EQ(run(cmd), 0, "vdpa dev add");
	TAP_EQ(wait_path("/dev/vda", 30, 1), 0, "virtio-blk attached as /dev/vda");
	TAP_OK(vduse_dev_status(dev) & VIRTIO_CONFIG_S_DRIVER_OK, "device saw DRIVER_OK",
	       "status %#x", vduse_dev_status(dev));
	TAP_OK(!!(vduse_dev_features(dev) & (1ull << VIRTIO_F_RING_PACKED)) ==
	       !!(features & (1ull << VIRTIO_F_RING_PACKED)), "ring layout negotiated as offered",
	       "features %#llx", (unsigned long long)vduse_dev_features(dev));
	io_round("first daemon", 1 << 20);

	if (umem) {
		uint64_t usz = 0;
		uint8_t *ub, *pat;

		/* the device is single-threaded: stop the loop while we touch it */
		stop = 1;
		pthread_join(th, NULL);
		ret = vduse_dev_umem_size(dev, 0, &usz);
		TAP_OK(ret == 0 && usz >= (1 << 20), "umem size of ASID 0 from the kernel",
		       "ret %d size %llu", ret, (unsigned long long)usz);
		/* the kernel pins umem against RLIMIT_MEMLOCK (8 MiB by default) */
		TAP_SYS(setrlimit(RLIMIT_MEMLOCK, &(struct rlimit){ RLIM_INFINITY, RLIM_INFINITY }),
			"raise RLIMIT_MEMLOCK for umem");
		ub = mmap(NULL, usz, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
		ret = ub == MAP_FAILED ? -ENOMEM : vduse_dev_reg_umem(dev, 0, ub, usz);
		TAP_EQ(ret, 0, "vduse_dev_reg_umem: bounce region in our memory");
		stop = 0;
		pthread_create(&th, NULL, loop, &dev);
		io_round("umem", 3 << 20);
		/* the last pattern written passed through the bounce pages */
		pat = disk + (3 << 20);
		TAP_OK(ret == 0 && memmem(ub, usz, pat, 4096) != NULL,
		       "written data went through the registered umem", "pattern not found");
		stop = 1;
		pthread_join(th, NULL);
		TAP_EQ(vduse_dev_dereg_umem(dev, 0), 0, "vduse_dev_dereg_umem");
		stop = 0;
		pthread_create(&th, NULL, loop, &dev);
		io_round("after umem", 4 << 20);
	}

	/* daemon restart: close, attach by name, serve again */
	stop = 1;
	pthread_join(th, NULL);
	vduse_dev_close(dev);
	dev = NULL;
	ret = vduse_dev_attach(&o, &dev);
	TAP_EQ(ret, 0, "vduse_dev_attach after close");
	if (ret)
		return tap_done();
	TAP_OK(vduse_vq_started(vduse_dev_vq(dev, 0)), "queue resumed from VQ_GET_INFO", " ");
	stop = 0;
	pthread_create(&th, NULL, loop, &dev);
	io_round("reattached daemon", 5 << 20);

	/*
	 * Crash with a write in flight: the device thread takes the request
	 * for sector 7 MiB / 512, drops it and restarts; the in-flight log
	 * resubmits it and the write completes.
	 */
	{
		crash_sector = (7 << 20) / 512;
		crash_armed = 1;
		io_round("restart with a request in flight", 7 << 20);
		TAP_OK(restarts == 1 && restart_ret == 0 && dev, "device thread restarted once",
		       "restarts %d ret %d", restarts, restart_ret);
		TAP_EQ(crash_served, 1, "the dropped write was resubmitted and served once");
		if (!dev)
			return tap_done();
	}
	TAP_EQ(bad_chains, 0, "no malformed request seen");
	TAP_OK(!vduse_vq_broken(vduse_dev_vq(dev, 0)), "queue not broken", " ");

	snprintf(cmd, sizeof(cmd), "vdpa dev del %s", name);
	TAP_EQ(run(cmd), 0, "vdpa dev del");
	TAP_EQ(wait_path("/dev/vda", 10, 0), 0, "/dev/vda gone after vdpa dev del");
	stop = 1;
	pthread_join(th, NULL);
	tap_diag("%lu requests served", served);
	TAP_EQ(vduse_dev_destroy(dev), 0, "vduse_dev_destroy");
	snprintf(cmd, sizeof(cmd), "/dev/vduse/%s", name);
	TAP_EQ(wait_path(cmd, 5, 0), 0, "device node gone");
	return tap_done();
}
