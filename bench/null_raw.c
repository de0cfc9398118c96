// SPDX-License-Identifier: GPL-2.0
/*
 * null-raw: the null virtio-blk (bench/nullblk.h) as a minimal loop on the
 * raw VDUSE UAPI (API v0), no library: the upper bound for the library
 * bench (bench/run-lib). Same features as the library devices (split ring,
 * indirect descriptors, event index), one queue of 256. It trusts the
 * driver only as far as a bench needs: indexes are masked, chains bounded,
 * every address translated through the IOTLB with its length checked. The
 * device is tests/include/rawvblk.h's (inlined: no library, no indirect
 * call), only the answers are the null device's.
 *
 *   null-raw NAME
 *
 * With NULL_RAW_PAGES=1 in its environment it also prints at exit in how
 * many distinct IOVA pages (below 2 GiB) the driver's request buffers and
 * indirect tables were: how many bounce pages the kernel's streaming
 * mappings went through (suite bounce_reuse). Off by default: the bench
 * measures the loop without that bookkeeping. SIGUSR1 prints its counters
 * (bench_lib's BENCH_LIB_COUNTERS).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <stdint.h>
#include <sys/ioctl.h>
#include <time.h>
#include "linux/vduse.h"

/*
 * NULL_TIMING=1 (a diagnostic): ns from the kick to the VQ_INJECT_IRQ
 * ioctl (the ring work: user space only) and in rvb_serve() as a whole;
 * the ioctl is timestamped through this wrapper.
 */
static int timing;
static uint64_t t_start, t_work, t_serve_all;
static uint64_t ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1000000000ull + t.tv_nsec;
}

static int timed_ioctl(int fd, unsigned long req, void *arg)
{
	if (req == VDUSE_VQ_INJECT_IRQ && timing && t_start) {
		t_work += ns() - t_start;
		t_start = 0;
	}
	return ioctl(fd, req, arg);
}
#define ioctl timed_ioctl
#include "rawvblk.h"
#undef ioctl
#include "nullblk.h"

_Static_assert(NULLBLK_QUEUE_SIZE >= RVB_MAX_QUEUE, "a chain fits the iovecs");

/* IOVA pages request buffers were seen in, below 2 GiB */
#define SEEN_PAGES	(1ul << 19)
static uint64_t seen[SEEN_PAGES / 64];
static unsigned long nseen;

static void note_pages(struct rvb *r, uint64_t iova, uint32_t len)
{
	uint64_t pg, last = (iova + (len ? len - 1 : 0)) >> 12;

	for (pg = iova >> 12; pg <= last && pg < SEEN_PAGES; pg++) {
		if (!(seen[pg / 64] & (1ull << (pg % 64))))
			nseen++;
		seen[pg / 64] |= 1ull << (pg % 64);
	}
}

static struct rvb d = { .fd = -1, .kickfd = -1 };
static volatile sig_atomic_t stop, dump;
static unsigned long wakes, kicks, irqs;


static void on_signal(int sig)
{
	if (sig == SIGUSR1)
		dump = 1;
	else
		stop = 1;
}

int main(int argc, char **argv)
{
	struct virtio_blk_config blk;
	struct sigaction sa;
	uint64_t ver = 0;
	int ctl, ev, ret = 0;

	if (argc != 2 || strlen(argv[1]) >= VDUSE_NAME_MAX) {
		fprintf(stderr, "usage: null-raw NAME\n");
		return 2;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	ctl = open("/dev/vduse/control", O_RDWR);
	if (ctl < 0 || ioctl(ctl, VDUSE_SET_API_VERSION, &ver)) {
		fprintf(stderr, "null-raw: /dev/vduse/control: %s\n", strerror(errno));
		return 1;
	}
	nullblk_config(&blk);
	if (rvb_create(ctl, argv[1], NULLBLK_FEATURES, &blk, 0)) {
		fprintf(stderr, "null-raw: CREATE_DEV: %s\n", strerror(errno));
		return 1;
	}
	timing = !!getenv("NULL_TIMING");
	if (getenv("NULL_RAW_PAGES"))
		d.on_buf = note_pages;
	if (rvb_open(&d, argv[1], NULLBLK_QUEUE_SIZE)) {
		fprintf(stderr, "null-raw: /dev/vduse/%s: %s\n", argv[1], strerror(errno));
		return 1;
	}
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGUSR1, &sa, NULL);
	printf("# nullblk %s: raw UAPI loop, VDUSE API v0\n", argv[1]);
	while (!stop) {
		ev = rvb_wait(&d, 200);
		if (ev < 0) {
			ret = 1;
			break;
		}
		wakes += ev > 0;
		if ((ev & RVB_EV_MSG) && rvb_msg(&d))
			fprintf(stderr, "null-raw: control message: %s\n", strerror(errno));
		if (ev & RVB_EV_KICK) {
			uint16_t sig = d.signalled;

			uint64_t t0 = timing ? ns() : 0;

			kicks++;
			t_start = t0;
			rvb_serve(&d, nullblk_serve_chain, NULL);
			if (timing) {
				/* no interrupt: the ring work ended here */
				if (t_start)
					t_work += ns() - t_start;
				t_start = 0;
				t_serve_all += ns() - t0;
			}
			irqs += d.signalled != sig;
		}
		if (dump) {
			dump = 0;
			printf("# nullctr %s wakes %lu kicks %lu irqs %lu served %lu", argv[1],
			       wakes, kicks, irqs, d.served);
			if (timing)
				printf(" work_ns %llu kick_ns %llu", (unsigned long long)t_work,
				       (unsigned long long)t_serve_all);
			printf("\n");
		}
	}
	printf("# nullblk %s: served %lu requests, %lu malformed\n", argv[1], d.served, d.bad);
	if (d.on_buf)
		printf("# nullblk %s: request buffers in %lu distinct IOVA pages\n", argv[1], nseen);
	rvb_close(&d);
	/* not argv[1] itself: the kernel reads VDUSE_NAME_MAX bytes (EFAULT near the stack's end) */
	if (dev_destroy(ctl, argv[1])) {
		fprintf(stderr, "null-raw: DESTROY_DEV %s: %s\n", argv[1], strerror(errno));
		ret = 1;
	}
	return ret || d.bad ? 1 : 0;
}
