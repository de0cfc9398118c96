// SPDX-License-Identifier: GPL-2.0
/*
 * The bounded fuzz pass of make check: both libFuzzer targets built with the
 * regular compiler, run over the seed corpus (tests/fuzz/corpus/TARGET/),
 * then over mutations of the seeds and random inputs from a fixed-seed
 * generator for at most FUZZ_REPLAY_SECONDS (default 4) per target. A crash
 * kills the program, which make check reports as a failure.
 *
 *   lib_fuzz_replay [CORPUS_ROOT]
 */
#include <dirent.h>
#include <stdio.h>
#include <time.h>

#define LLVMFuzzerTestOneInput fuzz_ring_one
#include "fuzz_ring.c"
#undef LLVMFuzzerTestOneInput
#define LLVMFuzzerTestOneInput fuzz_msg_one
#include "fuzz_msg.c"
#undef LLVMFuzzerTestOneInput

typedef int (*target_fn)(const uint8_t *, size_t);

struct seed {
	uint8_t *data;
	size_t len;
};

static uint64_t rng = 0x9e3779b97f4a7c15ull;

static uint64_t next_rand(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static unsigned int load(const char *dir, struct seed *seeds, unsigned int max)
{
	unsigned int n = 0;
	struct dirent *de;
	DIR *d = opendir(dir);

	if (!d)
		return 0;
	while ((de = readdir(d)) && n < max) {
		char path[1024];
		FILE *f;
		long len;

		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		f = fopen(path, "rb");
		if (!f)
			continue;
		fseek(f, 0, SEEK_END);
		len = ftell(f);
		rewind(f);
		if (len > 0 && len < (1 << 20)) {
			seeds[n].data = malloc(len);
			seeds[n].len = fread(seeds[n].data, 1, len, f);
			n++;
		}
		fclose(f);
	}
	closedir(d);
	return n;
}

static unsigned int irqs(struct fz *z)
{
	unsigned int i, n = 0;

	for (i = 0; i < FK_VQS; i++)
		n += z->fk.irqs[i];
	return n;
}

static void run(const char *name, target_fn fn, struct fz *z, const char *root, double budget)
{
	static struct seed seeds[256];
	static uint8_t buf[1 << 16];
	char dir[512], label[256];
	unsigned int nseeds, i, mutated = 0, random = 0, seed_irqs;
	double t0;

	snprintf(dir, sizeof(dir), "%s/%s", root, name);
	nseeds = load(dir, seeds, 256);
	for (i = 0; i < nseeds; i++)
		fn(seeds[i].data, seeds[i].len);
	seed_irqs = irqs(z);
	t0 = now();
	while (now() - t0 < budget) {
		size_t len;

		if (nseeds && (next_rand() & 1)) {
			struct seed *s = &seeds[next_rand() % nseeds];
			unsigned int flips = 1 + next_rand() % 8;

			len = s->len;
			memcpy(buf, s->data, len);
			while (flips--)
				buf[next_rand() % len] ^= 1u << (next_rand() % 8);
			if (next_rand() % 4 == 0)
				buf[next_rand() % len] = (uint8_t)next_rand();
			mutated++;
		} else {
			len = next_rand() % 2048;
			for (i = 0; i < len; i++)
				buf[i] = (uint8_t)next_rand();
			random++;
		}
		fn(buf, len);
	}
	snprintf(label, sizeof(label), "%s: %u seeds, %u mutated and %u random inputs, no crash",
		 name, nseeds, mutated, random);
	TAP_OK(nseeds > 0 && mutated + random > 100, label, "seed corpus %s missing or too slow", dir);
	/* the seeds must reach the used ring, or the fuzzing proves little */
	snprintf(label, sizeof(label), "%s: seeds complete requests (%u interrupts), fuzzing %u more",
		 name, seed_irqs, irqs(z) - seed_irqs);
	TAP_OK(seed_irqs > 0, label, "no seed reached the used ring");
	for (i = 0; i < nseeds; i++)
		free(seeds[i].data);
}

int main(int argc, char **argv)
{
	const char *root = argc > 1 ? argv[1] : "tests/fuzz/corpus";
	const char *b = getenv("FUZZ_REPLAY_SECONDS");
	double budget = b ? atof(b) : 4;

	run("fuzz_ring", fuzz_ring_one, &ring_z, root, budget);
	run("fuzz_msg", fuzz_msg_one, &msg_z, root, budget);
	return tap_done();
}
