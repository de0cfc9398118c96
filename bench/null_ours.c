// SPDX-License-Identifier: GPL-2.0
/*
 * null-ours: the null virtio-blk (bench/nullblk.h) on libvduse's public
 * API, for the library bench (bench/run-lib). One queue of 256, served in
 * the single thread of vduse_dev_run_once(): pop every request, push each,
 * one notify. SIGTERM ends it; the device is destroyed on the way out.
 *
 *   null-ours [--nas N] [--v0] [--poll] [--fill BYTE] NAME
 *
 * --nas N: N address spaces (API v1; one group, its queue in AS 0), to show
 * what the address-space support costs the data path (bench/run-kmod).
 * --v0: API v0 even where v1 is offered, to compare our module with the
 * stock one like for like (bench/run-kmod).
 * --poll: the application's own poll() loop on vduse_dev_fd() and the kick
 * fd instead of vduse_dev_run_once()'s epoll, as the raw loop waits.
 * --fill BYTE: a read of an odd 4 KiB block gets BYTE in every data byte;
 * the others still get nothing written, so that the bounce_zero suite can
 * follow a read the device wrote with one it did not write.
 * SIGUSR1 prints its counters (bench_lib's BENCH_LIB_COUNTERS).
 * SIGUSR2 registers user memory full of 0x77 bytes as the bounce area of
 * AS 0 (REG_UMEM), or deregisters it, and prints "# umem N on|off" or the
 * error, N counting the signals (bounce_zero: a switch must not let a read
 * see those bytes).
 */
#include <endian.h>
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>
#include "vduse/libvduse.h"
#include "nullblk.h"

static volatile sig_atomic_t stop, dump, umem_flip;
static unsigned long served, bad, wakes;
static struct vduse_vq *the_vq;
/*
 * NULL_TIMING=1 (a diagnostic): ns from the kick's callback to the notify
 * (every pop, serve and push: user space only) and in the notify
 */
static int timing;
static uint64_t t_work, t_notify;

static uint64_t ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1000000000ull + t.tv_nsec;
}

static void on_signal(int sig)
{
	if (sig == SIGUSR1)
		dump = 1;
	else if (sig == SIGUSR2)
		umem_flip = 1;
	else
		stop = 1;
}

/* SIGUSR1: the counters so far, for the bench suite's per-test deltas. */
static void print_counters(const char *name)
{
	struct vduse_vq_stats st = { 0 };

	if (the_vq)
		vduse_vq_get_stats(the_vq, &st, sizeof(st));
	printf("# nullctr %s wakes %lu kicks %llu irqs %llu served %lu", name, wakes,
	       (unsigned long long)st.kicks, (unsigned long long)st.irqs, served);
	if (timing)
		printf(" work_ns %llu notify_ns %llu", (unsigned long long)t_work,
		       (unsigned long long)t_notify);
	printf("\n");
}

/* SIGUSR2: user bounce memory full of 0x77 bytes, registered or dropped. */
static void umem_toggle(struct vduse_dev *dev)
{
	static struct rlimit unlimited = { RLIM_INFINITY, RLIM_INFINITY };
	static unsigned int flips;
	static uint64_t size;
	static void *mem;
	int ret;

	flips++;

	if (mem) {
		ret = vduse_dev_dereg_umem(dev, 0);
		if (!ret) {
			munmap(mem, size);
			mem = NULL;
		}
		printf("# umem %u %s\n", flips, ret ? strerror(-ret) : "off");
		return;
	}
	ret = vduse_dev_umem_size(dev, 0, &size);
	if (!ret && setrlimit(RLIMIT_MEMLOCK, &unlimited))
		ret = -errno;
	if (!ret) {
		mem = mmap(NULL, size, PROT_READ | PROT_WRITE,
			   MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
		if (mem == MAP_FAILED) {
			mem = NULL;
			ret = -errno;
		}
	}
	if (!ret) {
		memset(mem, 0x77, size);
		ret = vduse_dev_reg_umem(dev, 0, mem, size);
		if (ret) {
			munmap(mem, size);
			mem = NULL;
		}
	}
	printf("# umem %u %s\n", flips, ret ? strerror(-ret) : "on");
}

static void log_cb(void *user, enum vduse_log_level lvl, const char *msg)
{
	fprintf(stderr, "# null-ours: libvduse[%d]: %s\n", lvl, msg);
}

static int fill = -1;

/* --fill: the data buffers of a read of an odd 4 KiB block get @fill. */
static void fill_read(struct vduse_req *req)
{
	struct virtio_blk_outhdr hdr;
	unsigned int i;

	if (!req->nr_readable || req->iov[0].iov_len < sizeof(hdr))
		return;
	memcpy(&hdr, req->iov[0].iov_base, sizeof(hdr));
	if (le32toh(hdr.type) != VIRTIO_BLK_T_IN || !(le64toh(hdr.sector) >> 3 & 1))
		return;
	/* every writable buffer but the last, which ends with the status */
	for (i = 0; i + 1 < req->nr_writable; i++)
		memset(req->iov[req->nr_readable + i].iov_base, fill,
		       req->iov[req->nr_readable + i].iov_len);
}

/* nullblk_serve_ours() with --fill's writes, kept out of the bench's loop. */
static void serve_filling(struct vduse_vq *vq)
{
	struct vduse_req *req;
	uint32_t len;

	while (vduse_vq_pop(vq, &req) == 1) {
		fill_read(req);
		len = nullblk_serve(req->iov, req->nr_readable,
				    req->iov + req->nr_readable, req->nr_writable);
		bad += !len;
		served++;
		vduse_vq_push(req, len);
	}
}

static void on_kick(struct vduse_dev *dev, struct vduse_vq *vq, void *user)
{
	uint64_t t0 = 0, t1 = 0;

	the_vq = vq;
	if (timing)
		t0 = ns();
	if (fill >= 0)
		serve_filling(vq);
	else
		nullblk_serve_ours(vq, &served, &bad);
	if (timing) {
		t1 = ns();
		t_work += t1 - t0;
	}
	vduse_vq_notify(vq);
	if (timing)
		t_notify += ns() - t1;
}

/* One pass of --poll's loop: what vduse_dev_run_once() does, with poll(). */
static int poll_once(struct vduse_dev *dev, int ms)
{
	struct vduse_vq *vq = vduse_dev_vq(dev, 0);
	struct pollfd p[2] = {
		{ .fd = vduse_dev_fd(dev), .events = POLLIN },
		{ .fd = vduse_vq_kick_fd(vq), .events = POLLIN },
	};
	int n, err;

	n = poll(p, 2, ms);
	if (n <= 0)
		return n < 0 && errno != EINTR ? -errno : 0;
	if (p[0].revents & (POLLERR | POLLNVAL))
		return -EIO;
	if (p[0].revents & POLLIN) {
		err = vduse_dev_handle_msgs(dev);
		if (err < 0)
			return err;
	}
	if (p[1].revents & POLLIN) {
		vduse_vq_ack_kick(vq);
		if (vduse_vq_started(vq))
			on_kick(dev, vq, NULL);
	}
	return n;
}

int main(int argc, char **argv)
{
	struct virtio_blk_config cfg;
	struct vduse_dev *dev;
	struct sigaction sa;
	unsigned int nas = 1, flags = 0;
	bool use_poll = false;
	const char *name;
	int i, ret;

	for (i = 1; i < argc - 1; i++) {
		if (!strcmp(argv[i], "--nas") && i + 1 < argc - 1)
			nas = strtoul(argv[++i], NULL, 0);
		else if (!strcmp(argv[i], "--v0"))
			flags |= VDUSE_DEV_F_API_V0;
		else if (!strcmp(argv[i], "--poll"))
			use_poll = true;
		else if (!strcmp(argv[i], "--fill") && i + 1 < argc - 1)
			fill = strtoul(argv[++i], NULL, 0) & 0xff;
		else
			break;
	}
	if (argc < 2 || i != argc - 1 || argv[i][0] == '-') {
		fprintf(stderr, "usage: null-ours [--nas N] [--v0] [--poll] [--fill BYTE] NAME\n");
		return 2;
	}
	name = argv[argc - 1];
	timing = !!getenv("NULL_TIMING");
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
	sigaction(SIGUSR1, &sa, NULL);
	sigaction(SIGUSR2, &sa, NULL);
	printf("# nullblk %s: libvduse, VDUSE API v%d, %u address spaces\n", name,
	       vduse_dev_api_version(dev), nas);
	while (!stop) {
		ret = use_poll ? poll_once(dev, 200) : vduse_dev_run_once(dev, 200);
		wakes += ret > 0;
		if (dump) {
			dump = 0;
			print_counters(name);
		}
		if (umem_flip) {
			umem_flip = 0;
			umem_toggle(dev);
		}
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
