// SPDX-License-Identifier: GPL-2.0
/*
 * bouncestress: streaming DMA mappings from every CPU at once, checked byte
 * for byte (tests/vm/suites/bounce_stress.sh).
 *
 *   bouncestress [--seconds N] [--min-ios M] [--threads T] DISK
 *
 * T threads, pinned round-robin to the online CPUs, each own a slice of
 * DISK (a virtio-blk disk of a VDUSE device) and, with O_DIRECT, write
 * patterns into it and read it back, comparing with what they wrote. Sizes
 * and buffer offsets vary so that virtio-blk maps 1 to 7 pages per data
 * buffer (the buffers are huge pages where the kernel has THP), reads
 * (FROM_DEVICE: zeroed bounce pages, copied back) and writes (TO_DEVICE)
 * mixed. An IOVA handed out twice puts two requests in
 * flight on one bounce page: one of them then reads or writes the other's
 * bytes, which a comparison catches. A leaked IOVA is caught when the
 * device is destroyed (the module warns; the suite checks).
 *
 * The run lasts N seconds (5) but goes on until the threads have done M
 * I/Os in all (1000), so that a slow machine (a debug kernel under TCG
 * beside another VM) still puts the same load through the domain: the
 * number of I/Os is the test's, not the machine's speed. Only a run that
 * has not done them after CAP seconds (60) fails for it.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>
#include <linux/fs.h>
#include "tap.h"

#define SLICE		(512u << 10)	/* bytes of disk per thread */
#define MAXIO		(24u << 10)	/* 6 pages if aligned; 7 if not */
#define MAXTHREADS	64
#define HUGE		(2u << 20)
#define CAP		60.0	/* seconds a run may take to do its I/Os */

struct worker {
	pthread_t tid;
	int fd;
	int cpu;
	unsigned int idx;
	uint64_t base;			/* first byte of its slice */
	uint8_t *shadow;		/* what the slice should hold */
	uint8_t *buf;			/* HUGE bytes, HUGE-aligned */
	double deadline;		/* after this once min_ios are done */
	double cap;			/* and no later than this */
	unsigned long min_ios;
	unsigned long ios, bytes;
	unsigned long bad;		/* mismatching reads */
	unsigned long errs;		/* failed I/O */
	char detail[160];
};

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* past the deadline with its share of the I/Os done, or past the cap */
static int done(const struct worker *w)
{
	double t = now();

	return t >= w->cap || (t >= w->deadline && w->ios >= w->min_ios);
}

/* xorshift64*, per worker */
static uint64_t rnd(uint64_t *s)
{
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * 0x2545f4914f6cdd1dull;
}

static void fill(uint8_t *p, size_t len, uint64_t *s)
{
	size_t i;

	for (i = 0; i + 8 <= len; i += 8) {
		uint64_t v = rnd(s);

		memcpy(p + i, &v, 8);
	}
	for (; i < len; i++)
		p[i] = (uint8_t)rnd(s);
}

static void note(struct worker *w, const char *fmt, unsigned long a,
		 unsigned long b)
{
	if (!w->detail[0])
		snprintf(w->detail, sizeof(w->detail), fmt, a, b);
}

static int io(struct worker *w, int wr, uint8_t *p, size_t len, uint64_t off)
{
	ssize_t n = wr ? pwrite(w->fd, p, len, w->base + off) :
			 pread(w->fd, p, len, w->base + off);

	if (n == (ssize_t)len)
		return 0;
	w->errs++;
	note(w, "I/O error at %lu (errno %lu)", (unsigned long)(w->base + off),
	     (unsigned long)(n < 0 ? errno : 0));
	return -1;
}

static void *work(void *arg)
{
	struct worker *w = arg;
	uint64_t s = 0x9e3779b97f4a7c15ull * (w->idx + 1);
	cpu_set_t set;
	uint64_t off;

	CPU_ZERO(&set);
	CPU_SET(w->cpu, &set);
	sched_setaffinity(0, sizeof(set), &set);

	/* the whole slice first, so every later read has a known value */
	for (off = 0; off < SLICE; off += MAXIO) {
		size_t len = SLICE - off < MAXIO ? SLICE - off : MAXIO;

		fill(w->buf, len, &s);
		memcpy(w->shadow + off, w->buf, len);
		if (io(w, 1, w->buf, len, off))
			return NULL;
	}
	while (!done(w)) {
		/* 512 B to MAXIO, at a 512-byte buffer offset in its page */
		size_t len = 512 * (1 + rnd(&s) % (MAXIO / 512));
		size_t boff = 512 * (rnd(&s) % 8);
		uint8_t *p = w->buf + boff;

		off = 512 * (rnd(&s) % ((SLICE - len) / 512 + 1));
		if (rnd(&s) & 1) {
			fill(p, len, &s);
			memcpy(w->shadow + off, p, len);
			if (io(w, 1, p, len, off))
				break;
		} else {
			memset(p, 0xa5, len);
			if (io(w, 0, p, len, off))
				break;
			if (memcmp(p, w->shadow + off, len)) {
				size_t i = 0;

				while (p[i] == w->shadow[off + i])
					i++;
				w->bad++;
				note(w, "read of %lu bytes differs at byte %lu",
				     len, i);
			}
		}
		w->ios++;
		w->bytes += len;
	}
	return NULL;
}

int main(int argc, char **argv)
{
	unsigned long ios = 0, bytes = 0, bad = 0, errs = 0;
	struct worker *w;
	double secs = 5, t0;
	unsigned long min_ios = 1000;
	unsigned int nthreads = 16, i;
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	uint64_t disk = 0;
	char name[96];
	int fd;

	while (argc > 2 && argv[1][0] == '-') {
		if (!strcmp(argv[1], "--seconds"))
			secs = atof(argv[2]);
		else if (!strcmp(argv[1], "--min-ios"))
			min_ios = strtoul(argv[2], NULL, 0);
		else if (!strcmp(argv[1], "--threads"))
			nthreads = atoi(argv[2]);
		else
			break;
		argc -= 2;
		argv += 2;
	}
	if (argc != 2 || !nthreads || nthreads > MAXTHREADS || ncpu < 1) {
		fprintf(stderr, "usage: bouncestress [--seconds N] [--min-ios M] [--threads 1..%d] DISK\n",
			MAXTHREADS);
		return 2;
	}
	fd = open(argv[1], O_RDWR | O_DIRECT);
	TAP_OK(fd >= 0, "bouncestress: open the disk with O_DIRECT", "%s: %s",
	       argv[1], strerror(errno));
	if (fd < 0)
		return 1;
	ioctl(fd, BLKGETSIZE64, &disk);
	TAP_OK(disk >= (uint64_t)nthreads * SLICE,
	       "bouncestress: the disk holds a slice per thread",
	       "%llu bytes for %u threads", (unsigned long long)disk, nthreads);
	if (disk < (uint64_t)nthreads * SLICE)
		return 1;

	w = calloc(nthreads, sizeof(*w));
	for (i = 0; w && i < nthreads; i++) {
		w[i].fd = fd;
		w[i].idx = i;
		w[i].cpu = i % ncpu;
		w[i].base = (uint64_t)i * SLICE;
		w[i].deadline = now() + secs;
		w[i].cap = now() + (secs > CAP ? secs : CAP);
		w[i].min_ios = (min_ios + nthreads - 1) / nthreads;
		w[i].shadow = malloc(SLICE);
		if (!w[i].shadow ||
		    posix_memalign((void **)&w[i].buf, HUGE, HUGE))
			break;
		/*
		 * A data buffer is mapped as one piece only where its pages
		 * are physically contiguous: a huge page makes them so.
		 */
		madvise(w[i].buf, HUGE, MADV_HUGEPAGE);
		memset(w[i].buf, 0, HUGE);
	}
	TAP_OK(w && i == nthreads, "bouncestress: buffers", "out of memory");
	if (!w || i != nthreads)
		return 1;
	t0 = now();
	for (i = 0; i < nthreads; i++)
		if (pthread_create(&w[i].tid, NULL, work, &w[i]))
			break;
	nthreads = i;
	for (i = 0; i < nthreads; i++) {
		pthread_join(w[i].tid, NULL);
		ios += w[i].ios;
		bytes += w[i].bytes;
		bad += w[i].bad;
		errs += w[i].errs;
		if (w[i].detail[0])
			printf("# thread %u on CPU %d: %s\n", i, w[i].cpu,
			       w[i].detail);
	}
	printf("# bouncestress: %u threads on %ld CPUs, %lu I/Os, %lu MiB in %.1f s\n",
	       nthreads, ncpu, ios, bytes >> 20, now() - t0);
	snprintf(name, sizeof(name),
		 "bouncestress: %lu I/Os from %u threads, no I/O error", ios,
		 nthreads);
	TAP_OK(!errs && ios >= min_ios, name, "%lu errors, %lu I/Os (%lu wanted)",
	       errs, ios, min_ios);
	snprintf(name, sizeof(name),
		 "bouncestress: every read returned what was written");
	TAP_OK(!bad, name, "%lu reads differed", bad);
	close(fd);
	return tap_failed ? 1 : 0;
}
