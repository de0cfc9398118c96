// SPDX-License-Identifier: GPL-2.0
/*
 * The bounded fuzz pass of make check: the libFuzzer targets built with the
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
#define LLVMFuzzerTestOneInput fuzz_cvq_one
#include "fuzz_cvq.c"
#undef LLVMFuzzerTestOneInput
#define LLVMFuzzerTestOneInput fuzz_blk_one
#include "fuzz_blk.c"
#undef LLVMFuzzerTestOneInput
#define LLVMFuzzerTestOneInput fuzz_cvqtext_one
#include "fuzz_cvqtext.c"
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

static unsigned long fz_irqs(struct fz *z)
{
	unsigned long n = 0;
	unsigned int i;

	for (i = 0; i < FK_VQS; i++)
		n += z->fk.irqs[i];
	return n;
}

static unsigned long ring_irqs(void)
{
	return fz_irqs(&ring_z);
}

static unsigned long msg_irqs(void)
{
	return fz_irqs(&msg_z);
}

static unsigned long cvq_acked(void)
{
	return cvq_acks;
}

static unsigned long blk_reached(void)
{
	return blk_executed;
}

static unsigned long text_reached(void)
{
	return text_accepted;
}

/*
 * @reached counts what proves the seeds get deep: interrupts (requests that
 * reached the used ring) for the library's targets, acknowledged commands
 * for the control plane.
 */
static void run(const char *name, target_fn fn, unsigned long (*reached)(void), const char *what,
		const char *root, double budget)
{
	static struct seed seeds[256];
	static uint8_t buf[1 << 16];
	char dir[512], label[256];
	unsigned int nseeds, i, mutated = 0, random = 0;
	unsigned long seed_reached;
	double t0;

	snprintf(dir, sizeof(dir), "%s/%s", root, name);
	nseeds = load(dir, seeds, 256);
	for (i = 0; i < nseeds; i++)
		fn(seeds[i].data, seeds[i].len);
	seed_reached = reached();
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
	/* the seeds must get deep, or the fuzzing proves little */
	snprintf(label, sizeof(label), "%s: seeds reach %lu %s, fuzzing %lu more",
		 name, seed_reached, what, reached() - seed_reached);
	TAP_OK(seed_reached > 0, label, "no seed got that far");
	for (i = 0; i < nseeds; i++)
		free(seeds[i].data);
}

int main(int argc, char **argv)
{
	const char *root = argc > 1 ? argv[1] : "tests/fuzz/corpus";
	const char *b = getenv("FUZZ_REPLAY_SECONDS");
	double budget = b ? atof(b) : 4;

	run("fuzz_ring", fuzz_ring_one, ring_irqs, "interrupts", root, budget);
	run("fuzz_msg", fuzz_msg_one, msg_irqs, "interrupts", root, budget);
	run("fuzz_cvq", fuzz_cvq_one, cvq_acked, "acknowledged commands", root, budget);
	run("fuzz_blk", fuzz_blk_one, blk_reached, "executed requests", root, budget);
	run("fuzz_cvqtext", fuzz_cvqtext_one, text_reached, "accepted texts", root, budget);
	return tap_done();
}
