// SPDX-License-Identifier: GPL-2.0
/*
 * blkbench: the guest side of `make bench`. Measures block devices with
 * O_DIRECT I/O, taking turns between them so that drift in the (emulated)
 * machine hits every device alike.
 *
 *   blkbench [--seconds S] [--rounds R] [--threads N] LABEL=/dev/vdX...
 *   blkbench --check-only LABEL=/dev/vdX...
 *
 * Tests, each run for S seconds, R rounds; in every round each device runs
 * once, in the order given (ours, peer, ours, peer, ...):
 *
 *   seqread-64k     sequential 64 KiB reads            MB/s (10^6 bytes)
 *   seqwrite-64k    sequential 64 KiB writes           MB/s
 *   randread-4k-qd1 random 4 KiB reads, one at a time  IOPS
 *   randread-4k-qdN the same from N threads (own fds)  IOPS
 *   randwrite-4k-qd1 random 4 KiB writes               IOPS
 *
 * Each measurement is printed as "# bench LABEL TEST VALUE UNIT" (a
 * comment for the TAP harness). Speed is never asserted: the TAP lines only
 * check that the data is right. Every 4 KiB block carries its block number
 * and the generation of its last write; reads during the runs check the
 * tag, and a full read-back at the end checks every byte of every disk.
 * --check-only reads a disk left by an earlier run and checks that every
 * block is one this program wrote (whatever its generation).
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>
#include <linux/fs.h>
#include "tap.h"

#define BLK		4096u
#define WORDS		(BLK / 8)
#define SEQ_IO		(64u << 10)
#define FILL_IO		(1u << 20)
#define MAGIC		0x7664757365626e63ull	/* "vdusebnc" */
#define MAX_DISKS	8
#define MAX_THREADS	16

struct disk {
	const char *label;
	const char *path;
	int fd;
	uint64_t size;
	uint64_t nblocks;
	uint32_t *gen;		/* generation of the last write of each block */
	uint32_t next_gen;
	unsigned long checked, bad, ioerr, noprogress;
};

struct job {
	struct disk *d;
	int test;
	int fd;
	uint64_t seed;
	double deadline;
	unsigned long ops, bad, checked, ioerr;
};

enum { SEQREAD, SEQWRITE, RANDREAD, RANDREAD_QD, RANDWRITE, NTESTS };

static int nthreads = 4;

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static uint64_t xorshift(uint64_t *s)
{
	uint64_t x = *s;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return *s = x;
}

static uint64_t mix(uint64_t blk, uint32_t gen)
{
	uint64_t x = blk * 0x9e3779b97f4a7c15ull ^ ((uint64_t)gen << 32 | gen);

	x ^= x >> 31;
	x *= 0xbf58476d1ce4e5b9ull;
	return x ^ (x >> 29);
}

/* The contents of block @blk written in generation @gen. */
static void fill_block(uint64_t *w, uint64_t blk, uint32_t gen)
{
	uint64_t v = mix(blk, gen);
	unsigned int i;

	w[0] = MAGIC ^ blk;
	w[1] = (uint64_t)gen << 32 | (blk & 0xffffffff);
	for (i = 2; i < WORDS; i++)
		w[i] = v + i * 0x100000001b3ull;
}

/* The tag (first two words) and the last word; @full checks every word. */
static int check_block(const uint64_t *w, uint64_t blk, uint32_t gen, int full)
{
	uint64_t v = mix(blk, gen);
	unsigned int i;

	if (w[0] != (MAGIC ^ blk) || w[1] != ((uint64_t)gen << 32 | (blk & 0xffffffff)) ||
	    w[WORDS - 1] != v + (WORDS - 1) * 0x100000001b3ull)
		return 0;
	for (i = 2; full && i < WORDS - 1; i++)
		if (w[i] != v + i * 0x100000001b3ull)
			return 0;
	return 1;
}

static void *worker(void *arg)
{
	struct job *j = arg;
	struct disk *d = j->d;
	size_t io = j->test == SEQREAD || j->test == SEQWRITE ? SEQ_IO : BLK;
	uint64_t pos = 0, nb = io / BLK, blk, k;
	uint32_t gen = 0;
	uint64_t *buf;
	ssize_t r;

	if (posix_memalign((void **)&buf, 4096, io))
		return NULL;
	if (j->test == SEQWRITE || j->test == RANDWRITE)
		gen = ++d->next_gen;
	while (now() < j->deadline) {
		switch (j->test) {
		case SEQREAD:
		case SEQWRITE:
			if (pos + io > d->size)
				pos = 0;
			break;
		default:
			pos = xorshift(&j->seed) % d->nblocks * BLK;
		}
		blk = pos / BLK;
		if (j->test == SEQWRITE || j->test == RANDWRITE) {
			for (k = 0; k < nb; k++)
				fill_block(buf + k * WORDS, blk + k, gen);
			r = pwrite(j->fd, buf, io, pos);
			if (r != (ssize_t)io) {
				j->ioerr++;
				break;
			}
			for (k = 0; k < nb; k++)
				d->gen[blk + k] = gen;
		} else {
			r = pread(j->fd, buf, io, pos);
			if (r != (ssize_t)io) {
				j->ioerr++;
				break;
			}
			for (k = 0; k < nb; k++) {
				j->checked++;
				if (!check_block(buf + k * WORDS, blk + k, d->gen[blk + k], 0))
					j->bad++;
			}
		}
		j->ops++;
		pos += io;
	}
	free(buf);
	return NULL;
}

static const char *const test_name[NTESTS] = {
	"seqread-64k", "seqwrite-64k", "randread-4k-qd1", "randread-4k-qd%d", "randwrite-4k-qd1",
};

/* One measurement: test @t on @d for @seconds; prints its "# bench" line. */
static void measure(struct disk *d, int t, double seconds, uint64_t seed)
{
	struct job jobs[MAX_THREADS];
	pthread_t th[MAX_THREADS];
	int n = t == RANDREAD_QD ? nthreads : 1, i;
	unsigned long ops = 0;
	double start, elapsed, value;
	char name[32];

	start = now();
	for (i = 0; i < n; i++) {
		jobs[i] = (struct job){ .d = d, .test = t, .fd = d->fd,
					.seed = seed * 7919 + i + 1, .deadline = start + seconds };
		if (n > 1) {
			jobs[i].fd = open(d->path, O_RDWR | O_DIRECT);
			if (jobs[i].fd < 0) {
				jobs[i].ioerr++;
				continue;
			}
			pthread_create(&th[i], NULL, worker, &jobs[i]);
		}
	}
	if (n == 1)
		worker(&jobs[0]);
	for (i = 0; i < n; i++) {
		if (n > 1 && jobs[i].fd >= 0) {
			pthread_join(th[i], NULL);
			close(jobs[i].fd);
		}
		ops += jobs[i].ops;
		d->checked += jobs[i].checked;
		d->bad += jobs[i].bad;
		d->ioerr += jobs[i].ioerr;
	}
	elapsed = now() - start;
	if (!ops)
		d->noprogress++;
	snprintf(name, sizeof(name), test_name[t], nthreads);
	if (t == SEQREAD || t == SEQWRITE)
		value = ops * (double)SEQ_IO / elapsed / 1e6;
	else
		value = ops / elapsed;
	printf("# bench %s %s %.1f %s\n", d->label, name, value,
	       t == SEQREAD || t == SEQWRITE ? "MB/s" : "IOPS");
}

/* Write every block (generation 1), or read every block and check it all. */
static int whole_disk(struct disk *d, int write, unsigned long *bad)
{
	uint64_t *buf, pos, k, nb = FILL_IO / BLK;
	uint32_t gen = write ? ++d->next_gen : 0;
	size_t io;

	if (posix_memalign((void **)&buf, 4096, FILL_IO))
		return -ENOMEM;
	for (pos = 0; pos < d->nblocks * BLK; pos += io) {
		io = d->nblocks * BLK - pos < FILL_IO ? d->nblocks * BLK - pos : FILL_IO;
		nb = io / BLK;
		if (write) {
			for (k = 0; k < nb; k++) {
				fill_block(buf + k * WORDS, pos / BLK + k, gen);
				d->gen[pos / BLK + k] = gen;
			}
			if (pwrite(d->fd, buf, io, pos) != (ssize_t)io)
				break;
		} else {
			if (pread(d->fd, buf, io, pos) != (ssize_t)io)
				break;
			for (k = 0; k < nb; k++) {
				const uint64_t *w = buf + k * WORDS;
				/* check-only: trust the generation in the tag */
				uint32_t want = d->next_gen ? d->gen[pos / BLK + k] : w[1] >> 32;

				if (!check_block(w, pos / BLK + k, want, 1))
					++*bad;
			}
		}
	}
	free(buf);
	if (pos < d->nblocks * BLK)
		return -errno;
	return write ? fsync(d->fd) ? -errno : 0 : 0;
}

/* Print what the guest's virtio-blk negotiated, for the report. */
static void describe(const struct disk *d)
{
	const char *base = strrchr(d->path, '/') ? strrchr(d->path, '/') + 1 : d->path;
	static const char *const files[] = { "device/features", "serial", "queue/max_sectors_kb",
					     "queue/nr_requests", "mq" };
	char path[256], line[256];
	unsigned int i;
	FILE *f;

	printf("# benchinfo %s %s size %llu", d->label, d->path, (unsigned long long)d->size);
	for (i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		if (!strcmp(files[i], "mq")) {
			int q;

			for (q = 0; q < 256; q++) {
				snprintf(path, sizeof(path), "/sys/block/%s/mq/%d", base, q);
				if (access(path, F_OK))
					break;
			}
			printf(" hwqueues %d", q);
			continue;
		}
		snprintf(path, sizeof(path), "/sys/block/%s/%s", base, files[i]);
		f = fopen(path, "r");
		if (!f || !fgets(line, sizeof(line), f))
			strcpy(line, "?");
		if (f)
			fclose(f);
		line[strcspn(line, "\n")] = 0;
		printf(" %s %s", strrchr(files[i], '/') ? strrchr(files[i], '/') + 1 : files[i],
		       line[0] ? line : "-");
	}
	printf("\n");
}

int main(int argc, char **argv)
{
	struct disk disks[MAX_DISKS];
	double seconds = 2;
	int rounds = 3, ndisks = 0, check_only = 0, i, t, r;
	char name[160];

	setvbuf(stdout, NULL, _IOLBF, 0);
	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--seconds") && i + 1 < argc) {
			seconds = atof(argv[++i]);
		} else if (!strcmp(argv[i], "--rounds") && i + 1 < argc) {
			rounds = atoi(argv[++i]);
		} else if (!strcmp(argv[i], "--check-only")) {
			check_only = 1;
		} else if (!strcmp(argv[i], "--threads") && i + 1 < argc) {
			nthreads = atoi(argv[++i]);
		} else if (strchr(argv[i], '=') && ndisks < MAX_DISKS) {
			disks[ndisks] = (struct disk){ .label = argv[i], .path = strchr(argv[i], '=') + 1 };
			*strchr(argv[i], '=') = 0;
			ndisks++;
		} else {
			fprintf(stderr, "usage: blkbench [--seconds S] [--rounds R] [--threads N] "
				"[--check-only] LABEL=/dev/vdX...\n");
			return 2;
		}
	}
	if (!ndisks || seconds <= 0 || rounds < 1 || nthreads < 2 || nthreads > MAX_THREADS) {
		fprintf(stderr, "blkbench: need LABEL=DEV, seconds > 0, rounds >= 1, 2..%d threads\n",
			MAX_THREADS);
		return 2;
	}

	for (i = 0; i < ndisks; i++) {
		struct disk *d = &disks[i];
		unsigned long long size = 0;

		d->fd = open(d->path, O_RDWR | O_DIRECT);
		snprintf(name, sizeof(name), "%s: open %s with O_DIRECT", d->label, d->path);
		TAP_SYS(d->fd, name);
		if (d->fd < 0)
			return tap_done();
		TAP_SYS(ioctl(d->fd, BLKGETSIZE64, &size), "BLKGETSIZE64");
		d->size = size;
		d->nblocks = size / BLK;
		d->gen = calloc(d->nblocks ? d->nblocks : 1, sizeof(*d->gen));
		if (!d->gen || !d->nblocks || size < FILL_IO) {
			TAP_OK(0, "disk of at least 1 MiB", "%s: %llu bytes", d->label, size);
			return tap_done();
		}
		describe(d);
	}
	if (check_only) {
		for (i = 0; i < ndisks; i++) {
			unsigned long bad = 0;
			int ret = whole_disk(&disks[i], 0, &bad);

			snprintf(name, sizeof(name), "%s: every block holds data blkbench wrote",
				 disks[i].label);
			TAP_OK(!ret && !bad, name, "%s, %lu of %llu blocks wrong",
			       ret ? strerror(-ret) : "read ok", bad,
			       (unsigned long long)disks[i].nblocks);
		}
		return tap_done();
	}
	for (i = 1; i < ndisks; i++) {
		snprintf(name, sizeof(name), "%s and %s have the same size", disks[0].label,
			 disks[i].label);
		TAP_OK(disks[i].size == disks[0].size, name, "%llu vs %llu",
		       (unsigned long long)disks[i].size, (unsigned long long)disks[0].size);
	}
	/* Every block written once, so every later read has a known answer. */
	for (i = 0; i < ndisks; i++) {
		double start = now();
		int ret = whole_disk(&disks[i], 1, NULL);

		snprintf(name, sizeof(name), "%s: every block written before the runs", disks[i].label);
		TAP_OK(!ret, name, "%s", strerror(-ret));
		if (ret)
			return tap_done();
		printf("# benchinfo %s filled %llu MiB in %.1f s\n", disks[i].label,
		       (unsigned long long)(disks[i].size >> 20), now() - start);
	}

	for (t = 0; t < NTESTS; t++)
		for (r = 0; r < rounds; r++)
			for (i = 0; i < ndisks; i++)
				measure(&disks[i], t, seconds, (uint64_t)r * NTESTS + t);

	for (i = 0; i < ndisks; i++) {
		struct disk *d = &disks[i];
		unsigned long bad = 0;
		int ret;

		snprintf(name, sizeof(name), "%s: no I/O errors during the runs", d->label);
		TAP_EQ(d->ioerr, 0, name);
		snprintf(name, sizeof(name), "%s: every run completed I/O", d->label);
		TAP_EQ(d->noprogress, 0, name);
		snprintf(name, sizeof(name), "%s: every block read during the runs held its last write",
			 d->label);
		TAP_OK(d->checked && !d->bad, name, "%lu of %lu blocks wrong", d->bad, d->checked);
		ret = whole_disk(d, 0, &bad);
		snprintf(name, sizeof(name), "%s: full read-back after the runs matches every write",
			 d->label);
		TAP_OK(!ret && !bad, name, "%s, %lu of %llu blocks wrong", ret ? strerror(-ret) : "read ok",
		       bad, (unsigned long long)d->nblocks);
		close(d->fd);
		free(d->gen);
	}
	return tap_done();
}
