// SPDX-License-Identifier: GPL-2.0
/*
 * nullbench: the load of the library bench (bench/run-lib). 4 KiB random
 * O_DIRECT reads and writes through io_uring at a fixed depth on several
 * virtio-blk disks, taking turns in short slices (round k starts with disk
 * k mod N, so that none always goes first) so that drift in the machine
 * hits every device alike. For
 * each slice it prints the IOPS and the CPU time the device's process used
 * per request (from /proc/PID/task/<tid>/schedstat, which counts
 * nanoseconds; utime + stime of /proc/PID/stat in clock ticks when the
 * kernel has no schedstat):
 *
 *   # bench NAME TEST IOPS IOPS
 *   # benchcpu NAME TEST NS ns/req
 *
 *   nullbench [--seconds S] [--rounds N] [--tests LIST] [--counters]
 *             NAME=DEV:PID...
 *
 * --counters adds, per slice, the guest's context switches, interrupts (per
 * CPU, IPIs included), softirqs, faults and the device process's context
 * switches and faults, per request (bench/proc_counters.h):
 *
 *   # benchctr NAME TEST KEY PER-REQ
 *
 * LIST is comma-separated, e.g. randread-qd1,randread-qd32 (rw: randread
 * or randwrite; any depth up to 256). Exit status 1 if an I/O failed.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <liburing.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "proc_counters.h"

#define BS		4096
#define MAX_DISKS	8
#define MAX_DEPTH	256

struct disk {
	const char *name;
	int fd;
	pid_t pid;
	uint64_t blocks;
};

static double now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec + t.tv_nsec / 1e9;
}

/* CPU time of every thread of @pid so far, in ns; -1 if unreadable. */
static double cpu_ns(pid_t pid)
{
	char path[64], buf[512];
	struct dirent *de;
	double sum = 0;
	int any = 0;
	FILE *f;
	DIR *dir;

	snprintf(path, sizeof(path), "/proc/%d/task", pid);
	dir = opendir(path);
	while (dir && (de = readdir(dir))) {
		unsigned long long ns;

		if (de->d_name[0] == '.')
			continue;
		snprintf(buf, sizeof(buf), "/proc/%d/task/%s/schedstat", pid, de->d_name);
		f = fopen(buf, "r");
		if (!f)
			continue;
		if (fscanf(f, "%llu", &ns) == 1) {
			sum += ns;
			any = 1;
		}
		fclose(f);
	}
	if (dir)
		closedir(dir);
	if (any)
		return sum;
	/* no schedstat: utime and stime, fields 14 and 15, after "(comm)" */
	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	f = fopen(path, "r");
	if (!f)
		return -1;
	if (fgets(buf, sizeof(buf), f)) {
		char *p = strrchr(buf, ')');
		unsigned long ut, st;

		if (p && sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu",
				&ut, &st) == 2) {
			fclose(f);
			return (ut + st) * 1e9 / sysconf(_SC_CLK_TCK);
		}
	}
	fclose(f);
	return -1;
}

static uint64_t rnd(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

static void prep(struct io_uring *ring, struct disk *d, int write, void *buf, uint64_t *seed)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(ring);
	uint64_t off = rnd(seed) % d->blocks * BS;

	if (write)
		io_uring_prep_write(sqe, d->fd, buf, BS, off);
	else
		io_uring_prep_read(sqe, d->fd, buf, BS, off);
	io_uring_sqe_set_data(sqe, buf);
}

/* One slice: keep @depth requests in flight for @secs; returns completions. */
static long slice(struct io_uring *ring, struct disk *d, int write, int depth,
		  double secs, char *bufs, uint64_t *seed, int *err)
{
	double end = now() + secs;
	long done = 0;
	int i, inflight = 0, stopping = 0;

	for (i = 0; i < depth; i++)
		prep(ring, d, write, bufs + (size_t)i * BS, seed);
	inflight = depth;
	io_uring_submit(ring);
	while (inflight) {
		struct io_uring_cqe *cqe;
		int ret = io_uring_wait_cqe(ring, &cqe);

		if (ret < 0) {
			if (ret == -EINTR)
				continue;
			fprintf(stderr, "nullbench: wait: %s\n", strerror(-ret));
			*err = 1;
			return done;
		}
		if (cqe->res != BS) {
			fprintf(stderr, "nullbench: %s: I/O result %d\n", d->name, cqe->res);
			*err = 1;
		}
		done++;
		inflight--;
		if (!stopping && (done & 7) == 0 && now() >= end)
			stopping = 1;
		if (!stopping) {
			prep(ring, d, write, io_uring_cqe_get_data(cqe), seed);
			inflight++;
		}
		io_uring_cqe_seen(ring, cqe);
		if (!stopping)
			io_uring_submit(ring);
	}
	return done;
}

int main(int argc, char **argv)
{
	const char *tests = "randread-qd1,randread-qd32";
	struct disk disks[MAX_DISKS];
	double secs = 0.25;
	int rounds = 16, ndisks = 0, err = 0, counters = 0, i, r;
	static struct pc_snap snap0, snap1;
	uint64_t seed = 0x9e3779b97f4a7c15ull;
	struct io_uring ring;
	char *bufs, *list, *t;

	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--seconds") && i + 1 < argc) {
			secs = atof(argv[++i]);
		} else if (!strcmp(argv[i], "--rounds") && i + 1 < argc) {
			rounds = atoi(argv[++i]);
		} else if (!strcmp(argv[i], "--tests") && i + 1 < argc) {
			tests = argv[++i];
		} else if (!strcmp(argv[i], "--counters")) {
			counters = 1;
		} else {
			char *eq = strchr(argv[i], '='), *colon = strrchr(argv[i], ':');
			struct disk *d = &disks[ndisks];
			off_t size;

			if (!eq || !colon || colon < eq || ndisks == MAX_DISKS) {
				fprintf(stderr, "usage: nullbench [--seconds S] [--rounds N] "
					"[--tests LIST] [--counters] NAME=DEV:PID...\n");
				return 2;
			}
			*eq = *colon = 0;
			d->name = argv[i];
			d->pid = atoi(colon + 1);
			d->fd = open(eq + 1, O_RDWR | O_DIRECT);
			size = d->fd < 0 ? -1 : lseek(d->fd, 0, SEEK_END);
			if (size < BS) {
				fprintf(stderr, "nullbench: %s: %s\n", eq + 1, strerror(errno));
				return 1;
			}
			d->blocks = size / BS;
			ndisks++;
		}
	}
	if (!ndisks || secs <= 0 || rounds < 1)
		return 2;
	setvbuf(stdout, NULL, _IOLBF, 0);
	bufs = aligned_alloc(BS, (size_t)MAX_DEPTH * BS);
	if (!bufs || io_uring_queue_init(MAX_DEPTH, &ring, 0)) {
		fprintf(stderr, "nullbench: io_uring: %s\n", strerror(errno));
		return 1;
	}
	memset(bufs, 0x5a, (size_t)MAX_DEPTH * BS);
	list = strdup(tests);
	for (t = strtok(list, ","); t; t = strtok(NULL, ",")) {
		int write = !strncmp(t, "randwrite-qd", 12);
		int depth = atoi(t + (write ? 12 : 11));

		if ((!write && strncmp(t, "randread-qd", 11)) || depth < 1 || depth > MAX_DEPTH) {
			fprintf(stderr, "nullbench: unknown test %s\n", t);
			return 2;
		}
		for (i = 0; i < ndisks; i++)	/* warm up: first mappings, caches */
			slice(&ring, &disks[i], write, depth, secs / 4, bufs, &seed, &err);
		for (r = 0; r < rounds; r++) {
			for (i = 0; i < ndisks; i++) {
				/* each round starts with the next disk: no fixed order */
				struct disk *d = &disks[(i + r) % ndisks];
				double c0, t0, c1, t1;
				long n;

				if (counters)
					pc_take(&snap0, d->pid);
				c0 = cpu_ns(d->pid);
				t0 = now();
				n = slice(&ring, d, write, depth, secs, bufs, &seed, &err);
				t1 = now();
				c1 = cpu_ns(d->pid);
				if (counters) {
					pc_take(&snap1, d->pid);
					pc_dmn_cpu(&snap1, d->pid);
					pc_print(&snap0, &snap1, d->name, t, n);
				}
				printf("# bench %s %s-4k %.1f IOPS\n", d->name, t, n / (t1 - t0));
				if (c0 >= 0 && c1 >= 0 && n)
					printf("# benchcpu %s %s-4k %.0f ns/req\n", d->name, t,
					       (c1 - c0) / n);
			}
		}
	}
	io_uring_queue_exit(&ring);
	return err;
}
