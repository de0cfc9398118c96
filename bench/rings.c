// SPDX-License-Identifier: GPL-2.0
/*
 * Native ring and translation benchmark of libvduse (issue 12, item 2): no
 * VM; the unit tests' fake kernel stands in for VDUSE, and the driver is
 * simulated in the same thread, so each figure is what one core does when
 * it is both the driver and the device.
 *
 *   rings   descriptors per second on a 256-entry split and packed ring,
 *           chains of 1 or 4 descriptors of 512 bytes, or one indirect
 *           descriptor pointing at a table of 4: per round the driver makes
 *           64 chains available (split: avail ring entries over a fixed
 *           descriptor table; packed: every descriptor rewritten with the
 *           lap's flags, the head last), the device pops and pushes each with
 *           vduse_vq_pop()/vduse_vq_push() and notifies once
 *   xlate   translation cost with 1, 2, 4 ... 4096 mapped regions in the
 *           address space (the library caches up to 4096 per ASID): the
 *           library's lookup alone (one 512-byte range at a random region,
 *           reference taken and dropped) and a whole 1-descriptor request
 *           whose buffer lies in a random region (split ring as above)
 *
 * Each figure: median and quartiles of 5 runs of --seconds (0.2). Output:
 * bench/results-style data files in --out DIR (native-rings.dat,
 * native-xlate.dat; bench/plot turns them into PNGs) and a table on stdout.
 * --smoke: 10 ms runs, TAP output, no files (a unit test of the benchmark
 * itself, run by make check: every round must complete every chain).
 */
#include <stdio.h>
#include <time.h>
#include <linux/virtio_ring.h>

/* up to 4096 regions in ASID 0, the library's cache size */
#define FK_MAPS 4100
#include "fake_kernel.h"

#define QSZ	256
#define ROUND	64		/* chains per round */
#define BUFLEN	512
#define RING	0x100000ull	/* desc / split rings; packed events after it */
#define TABLES	0x110000ull	/* indirect tables, 64 bytes each */
#define BUF	0x200000ull
#define RUNS	5

static struct fake_kernel fk;
static double run_s = 0.2;
static int smoke;
static unsigned int tap_bad;	/* rounds that did not complete */

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static int cmp_d(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* median, q1, q3 of RUNS values (sorted in place) */
struct stat3 {
	double med, q1, q3;
};

static struct stat3 stat5(double v[RUNS])
{
	qsort(v, RUNS, sizeof(v[0]), cmp_d);
	return (struct stat3){ v[2], v[1], v[3] };
}

static struct vduse_dev *make_dev(bool packed)
{
	LIBVDUSE_OPTS(vduse_dev_opts, o, .name = "rings", .device_id = 2, .num_queues = 1,
		      .queue_size = QSZ);
	struct vduse_dev *dev;

	fk_init(&fk, 1);
	if (vduse__dev_create(&o, &fk_backend, &fk, &dev))
		abort();
	fk.features = (1ull << 32) | (1ull << 33) | (1ull << VIRTIO_RING_F_EVENT_IDX) |
		      (1ull << VIRTIO_RING_F_INDIRECT_DESC) | (packed ? 1ull << 34 : 0);
	return dev;
}

/* ---- the simulated driver ---------------------------------------------------- */

enum kind { K_1SEG, K_4SEG, K_INDIRECT };
static const char *const kind_name[] = { "1seg", "4seg", "indirect" };
static const unsigned int kind_descs[] = { 1, 4, 4 };	/* buffer descriptors per chain */

struct drv {
	bool packed;
	enum kind kind;
	struct fk_split r;		/* split */
	struct vring_packed_desc *pring;		/* packed */
	uint16_t slot;
	bool wrap;
	uint64_t (*addr)(unsigned int c, unsigned int i);	/* buffer of chain c, desc i */
};

static uint64_t addr_fixed(unsigned int c, unsigned int i)
{
	return BUF + (c * 4 + i) * BUFLEN;
}

static void drv_setup(struct drv *d, struct vduse_dev *dev)
{
	unsigned int c, i, segs = kind_descs[d->kind];

	if (!d->packed) {
		struct fk_desc *t;

		fk_split_init(&fk, &d->r, 0, 0, RING, QSZ);
		t = fk_split_desc(&d->r);
		for (c = 0; c < ROUND; c++) {
			if (d->kind == K_INDIRECT) {
				struct fk_desc *it = fk_ptr(&fk, 0, TABLES + c * 64);

				fk_set_desc(&t[c], TABLES + c * 64, 64, VRING_DESC_F_INDIRECT, 0);
				for (i = 0; i < 4; i++)
					fk_set_desc(&it[i], d->addr(c, i), BUFLEN,
						    VRING_DESC_F_WRITE | (i < 3 ? VRING_DESC_F_NEXT : 0),
						    i + 1);
				continue;
			}
			for (i = 0; i < segs; i++)
				fk_set_desc(&t[c * segs + i], d->addr(c, i), BUFLEN,
					    VRING_DESC_F_WRITE | (i + 1 < segs ? VRING_DESC_F_NEXT : 0),
					    c * segs + i + 1);
		}
	} else {
		d->pring = fk_ptr(&fk, 0, RING);
		memset(d->pring, 0, 0x3000);
		fk.vqinfo[0] = (struct vduse_vq_info){ .index = 0, .num = QSZ, .desc_addr = RING,
			.driver_addr = RING + 0x1000, .device_addr = RING + 0x2000, .ready = 1 };
		fk.vqinfo[0].packed.last_avail_counter = 1;
		fk.vqinfo[0].packed.last_used_counter = 1;
		d->slot = 0;
		d->wrap = true;
		if (d->kind == K_INDIRECT)
			for (c = 0; c < ROUND; c++) {
				struct vring_packed_desc *it = fk_ptr(&fk, 0, TABLES + c * 64);

				for (i = 0; i < 4; i++)
					it[i] = (struct vring_packed_desc){ d->addr(c, i), BUFLEN, 0, VRING_DESC_F_WRITE };
			}
	}
	if (fk_status(&fk, dev, 0x0f))
		abort();
}

/* Make ROUND chains available. */
static void drv_post(struct drv *d)
{
	unsigned int c, i, segs = kind_descs[d->kind];

	if (!d->packed) {
		uint16_t *avail = fk_split_avail(&d->r), a = d->r.avail_idx;

		for (c = 0; c < ROUND; c++)
			avail[2 + (uint16_t)(a + c) % QSZ] = d->kind == K_4SEG ? c * 4 : c;
		d->r.avail_idx = a + ROUND;
		__atomic_store_n(&avail[1], d->r.avail_idx, __ATOMIC_RELEASE);
		return;
	}
	for (c = 0; c < ROUND; c++) {
		uint16_t head = d->slot, hflags = 0, av = d->wrap ? (1 << VRING_PACKED_DESC_F_AVAIL) : (1 << VRING_PACKED_DESC_F_USED);
		unsigned int n = d->kind == K_INDIRECT ? 1 : segs;

		for (i = 0; i < n; i++) {
			struct vring_packed_desc *p = &d->pring[d->slot];
			uint16_t f;

			if (d->kind == K_INDIRECT) {
				p->addr = TABLES + c * 64;
				p->len = 64;
				f = VRING_DESC_F_INDIRECT | av;
			} else {
				p->addr = d->addr(c, i);
				p->len = BUFLEN;
				f = VRING_DESC_F_WRITE | (i + 1 < n ? VRING_DESC_F_NEXT : 0) | av;
			}
			p->id = c;
			if (i)
				p->flags = f;
			else
				hflags = f;
			if (++d->slot == QSZ) {
				d->slot = 0;
				d->wrap = !d->wrap;
			}
		}
		__atomic_store_n(&d->pring[head].flags, hflags, __ATOMIC_RELEASE);
	}
}

/* One round: post, serve (the device), check. Returns false if short. */
static bool round_trip(struct drv *d, struct vduse_vq *vq)
{
	struct vduse_req *req;
	unsigned int n = 0;

	drv_post(d);
	while (vduse_vq_pop(vq, &req) == 1) {
		if (req->nr_writable != kind_descs[d->kind])
			return false;
		vduse_vq_push(req, BUFLEN);
		n++;
	}
	vduse_vq_notify(vq);
	if (!d->packed && fk_split_used(&d->r)[1] != d->r.avail_idx)
		return false;
	return n == ROUND;
}

/* ns per chain, median and quartiles over RUNS runs */
static struct stat3 measure(struct drv *d, struct vduse_vq *vq)
{
	double runs[RUNS];
	unsigned int run, k;

	for (run = 0; run < RUNS; run++) {
		unsigned long n = 0;
		double t0 = now(), t;

		do {
			for (k = 0; k < 20; k++) {
				if (!round_trip(d, vq))
					tap_bad++;
				n += ROUND;
			}
			t = now() - t0;
		} while (t < run_s);
		runs[run] = t * 1e9 / n;
	}
	return stat5(runs);
}

static struct stat3 bench_ring(bool packed, enum kind kind)
{
	struct vduse_dev *dev = make_dev(packed);
	struct drv d = { .packed = packed, .kind = kind, .addr = addr_fixed };
	struct stat3 s;

	fk_map(&fk, 0, RING, 0x100000, 0, VDUSE_ACCESS_RW);
	fk_map(&fk, 0, BUF, 0x100000, 0x100000, VDUSE_ACCESS_RW);
	drv_setup(&d, dev);
	s = measure(&d, vduse_dev_vq(dev, 0));
	vduse_dev_destroy(dev);
	fk_fini(&fk);
	return s;
}

/* ---- translation against the number of regions ----------------------------- */

/*
 * Region k: IOVA REG_BASE + k * REG_STRIDE, REG_LEN long (gaps between, so
 * each is its own mapping). Region 0 also holds the ring (first half);
 * buffers are in the second half of each region.
 */
#define REG_BASE	0x1000000ull
#define REG_STRIDE	0x20000ull
#define REG_LEN		0x10000ull
#define PICKS		8192

static unsigned int nreg;
static uint32_t pick[PICKS];	/* random region per slot */

static uint64_t addr_random(unsigned int c, unsigned int i)
{
	static unsigned int p;

	(void)i;
	p = (p + 1) % PICKS;
	return REG_BASE + pick[p] * REG_STRIDE + REG_LEN / 2 + (c % 64) * BUFLEN;
}

static void xlate_setup(unsigned int n)
{
	uint32_t x = 2463534242u;
	unsigned int k;

	nreg = n;
	for (k = 0; k < PICKS; k++) {
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		pick[k] = x % n;
	}
	/* 256 distinct 64 KiB pieces of guest memory (16 MiB), shared round-robin */
	for (k = 0; k < n; k++)
		fk_map(&fk, 0, REG_BASE + k * REG_STRIDE, REG_LEN, (k % 256) * REG_LEN,
		       VDUSE_ACCESS_RW);
}

/* The library's lookup alone: ns per 512-byte translation. */
static struct stat3 bench_lookup(struct vduse_dev *dev)
{
	double runs[RUNS];
	unsigned int run, k, p = 0;

	for (run = 0; run < RUNS; run++) {
		unsigned long n = 0;
		double t0 = now(), t;

		do {
			for (k = 0; k < 4096; k++) {
				struct vduse_region *reg;
				struct iovec iov;
				unsigned int got = 0;

				p = (p + 1) % PICKS;
				if (vduse_iotlb_translate(dev, NULL, 0, REG_BASE + pick[p] * REG_STRIDE + REG_LEN / 2 +
							  (k % 64) * BUFLEN, BUFLEN, PROT_WRITE, &iov,
							  &reg, 1, &got) || got != 1) {
					tap_bad++;
					continue;
				}
				vduse_region_put(reg);
			}
			n += 4096;
			t = now() - t0;
		} while (t < run_s);
		runs[run] = t * 1e9 / n;
	}
	return stat5(runs);
}

static void bench_xlate(unsigned int n, struct stat3 *lookup, struct stat3 *req, unsigned int *cached)
{
	struct vduse_dev *dev = make_dev(false);
	struct drv d = { .packed = false, .kind = K_1SEG, .addr = addr_random };
	struct vduse_vq *vq = vduse_dev_vq(dev, 0);
	unsigned int k;

	xlate_setup(n);
	/* ring in the first half of region 0 */
	fk_split_init(&fk, &d.r, 0, 0, REG_BASE, QSZ);
	if (fk_status(&fk, dev, 0x0f))
		abort();
	/* warm the cache: every region once */
	for (k = 0; k < n; k++) {
		struct vduse_region *reg;
		struct iovec iov;
		unsigned int got = 0;

		if (vduse_iotlb_translate(dev, NULL, 0, REG_BASE + k * REG_STRIDE, 1, PROT_READ, &iov, &reg, 1, &got))
			tap_bad++;
		else
			vduse_region_put(reg);
	}
	*lookup = bench_lookup(dev);
	/* requests: the descriptor table is rewritten with random buffers each round */
	{
		double runs[RUNS];
		unsigned int run, c, i;

		for (run = 0; run < RUNS; run++) {
			unsigned long cnt = 0;
			double t0 = now(), t;

			do {
				for (i = 0; i < 20; i++) {
					struct fk_desc *dt = fk_split_desc(&d.r);

					for (c = 0; c < ROUND; c++)
						fk_set_desc(&dt[c], addr_random(c, 0), BUFLEN, VRING_DESC_F_WRITE, 0);
					if (!round_trip(&d, vq))
						tap_bad++;
					cnt += ROUND;
				}
				t = now() - t0;
			} while (t < run_s);
			runs[run] = t * 1e9 / cnt;
		}
		*req = stat5(runs);
	}
	*cached = dev->as[0].nr;
	vduse_dev_destroy(dev);
	fk_fini(&fk);
}

/* ---- output ------------------------------------------------------------------ */

static FILE *open_dat(const char *dir, const char *name)
{
	char path[4096];
	FILE *f;

	if (!dir)
		return NULL;
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "w");
	if (!f) {
		perror(path);
		exit(1);
	}
	return f;
}

static void header(FILE *f, const char *host)
{
	time_t t = time(NULL);
	char buf[64];

	strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%MZ", gmtime(&t));
	fprintf(f, "# made by bench/rings (make bench-native) %s on %s, %.2f s x %d runs per point\n",
		buf, host, run_s, RUNS);
}

int main(int argc, char **argv)
{
	const char *out = NULL;
	char host[256] = "?";
	struct stat3 r[2][3];
	FILE *f, *cpu;
	unsigned int k, p, n, cached;
	int i;

	setvbuf(stdout, NULL, _IOLBF, 0);
	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--out") && i + 1 < argc)
			out = argv[++i];
		else if (!strcmp(argv[i], "--seconds") && i + 1 < argc)
			run_s = atof(argv[++i]);
		else if (!strcmp(argv[i], "--smoke"))
			smoke = 1;
		else {
			fprintf(stderr, "usage: rings [--out DIR] [--seconds S] [--smoke]\n");
			return 2;
		}
	}
	if (smoke) {
		run_s = 0.01;
		out = NULL;
	}
	cpu = fopen("/proc/cpuinfo", "r");
	if (cpu) {
		char line[512];

		while (fgets(line, sizeof(line), cpu))
			if (!strncmp(line, "model name", 10) && strchr(line, ':')) {
				snprintf(host, sizeof(host), "%s", strchr(line, ':') + 2);
				host[strcspn(host, "\n")] = 0;
				break;
			}
		fclose(cpu);
	}

	for (p = 0; p < 2; p++)
		for (k = 0; k < 3; k++) {
			unsigned int bad = tap_bad;

			r[p][k] = bench_ring(p, k);
			if (smoke)
				TAP_OK(tap_bad == bad, "rings: every round completes every chain",
				       "%s %s: %u short rounds", p ? "packed" : "split", kind_name[k],
				       tap_bad - bad);
			printf("# %-6s %-8s %7.1f ns/chain  %6.2f Mdesc/s (q1 %.2f, q3 %.2f)\n",
			       p ? "packed" : "split", kind_name[k], r[p][k].med,
			       kind_descs[k] * 1e3 / r[p][k].med, kind_descs[k] * 1e3 / r[p][k].q3,
			       kind_descs[k] * 1e3 / r[p][k].q1);
		}
	f = open_dat(out, "native-rings.dat");
	if (f) {
		header(f, host);
		fprintf(f, "# title: libvduse rings, natively: one core plays driver and device\n"
			   "# xlabel: chain (512-byte buffers)\n"
			   "# ylabel: million descriptors per second (median, q1-q3)\n"
			   "# style: bars\n"
			   "# plot: 2:3:4 5:6:7\n"
			   "# columns: chain split split_q1 split_q3 packed packed_q1 packed_q3 split_ns_per_chain packed_ns_per_chain\n");
		for (k = 0; k < 3; k++) {
			fprintf(f, "%s", kind_name[k]);
			for (p = 0; p < 2; p++)
				fprintf(f, " %.3f %.3f %.3f", kind_descs[k] * 1e3 / r[p][k].med,
					kind_descs[k] * 1e3 / r[p][k].q3, kind_descs[k] * 1e3 / r[p][k].q1);
			fprintf(f, " %.1f %.1f\n", r[0][k].med, r[1][k].med);
		}
		fclose(f);
	}

	f = open_dat(out, "native-xlate.dat");
	if (f) {
		header(f, host);
		fprintf(f, "# title: libvduse address translation against the number of mapped regions\n"
			   "# xlabel: mapped regions in the address space\n"
			   "# ylabel: ns (median, q1-q3)\n"
			   "# style: lines\n"
			   "# logx: 2\n"
			   "# plot: 2:3:4 5:6:7\n"
			   "# columns: regions lookup lookup_q1 lookup_q3 request request_q1 request_q3\n");
	}
	for (n = 1; n <= 4096; n *= 2) {
		struct stat3 lk, rq;
		unsigned int bad = tap_bad;

		bench_xlate(n, &lk, &rq, &cached);
		if (smoke)
			TAP_OK(tap_bad == bad && cached == n, "xlate: every lookup and request served",
			       "%u regions: %u failures, %u cached", n, tap_bad - bad, cached);
		printf("# xlate %4u regions: lookup %6.1f ns (q1 %.1f, q3 %.1f), request %6.1f ns (q1 %.1f, q3 %.1f)\n",
		       n, lk.med, lk.q1, lk.q3, rq.med, rq.q1, rq.q3);
		if (f)
			fprintf(f, "%u %.2f %.2f %.2f %.2f %.2f %.2f\n", n, lk.med, lk.q1, lk.q3,
				rq.med, rq.q1, rq.q3);
	}
	if (f)
		fclose(f);
	return smoke ? tap_done() : tap_bad != 0;
}
