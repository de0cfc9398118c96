// SPDX-License-Identifier: GPL-2.0
/*
 * Native micro-benchmark of libvduse's data path against the unit tests'
 * fake kernel (no VM): what the library itself costs per request and per
 * kick, on one core.
 *
 *   req-1seg, req-4seg  ns per request on a 256-entry split ring: the
 *                       driver makes 128 chains available, the device pops
 *                       and pushes each (in turn), then notifies once;
 *                       1-descriptor or 4-descriptor chains
 *   batch-1seg, -4seg   the same with vduse_vq_pop_many/push_many by 32
 *                       (libvduse >= 0.2; HAVE_BATCH)
 *   kick-Nq             ns per kick through vduse_dev_run_once() with N
 *                       queues: eventfd write, the loop's wait, ack, the
 *                       queue_kick callback (which finds the queue empty)
 *   threads-N           VDUSE_DEV_F_THREADS, N queues each served by its own
 *                       thread (driver and device of that queue; 64 chains
 *                       of one 4 KiB buffer at a time, popped and pushed by
 *                       32, the device writing 4 KiB into each outside the
 *                       library): wall-clock ns per request over all
 *                       threads, i.e. 1e9 / aggregate rate
 *
 * Each figure is the median of 5 runs of about 0.2 s. Usage: native [TEST...]
 * Built by `make bench-native` (bench/bench.mk), which also runs it.
 */
#include <pthread.h>
#include <stdio.h>
#include <time.h>
#include <linux/virtio_ring.h>
#include "fake_kernel.h"

#ifdef LIBVDUSE_MINOR_VERSION
#if LIBVDUSE_MAJOR_VERSION > 0 || LIBVDUSE_MINOR_VERSION >= 2
#define HAVE_BATCH 1
#endif
#endif

#define RING	0x100000ull
#define BUF	0x200000ull
#define QSZ	256
#define BATCH	128

static struct fake_kernel fk;

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

static double median5(double v[5])
{
	qsort(v, 5, sizeof(v[0]), cmp_d);
	return v[2];
}

static void kicked(struct vduse_dev *dev, struct vduse_vq *vq, void *user)
{
	struct vduse_req *req;

	while (vduse_vq_pop(vq, &req) == 1)
		vduse_vq_push(req, 0);
	vduse_vq_notify(vq);
}

static struct vduse_dev *make(unsigned int nq)
{
	LIBVDUSE_OPTS(vduse_dev_opts, o, .name = "bench", .device_id = 2, .num_queues = nq,
		      .queue_size = QSZ, .queue_kick = kicked);
	struct vduse_dev *dev;

	fk_init(&fk, 1);
	if (vduse__dev_create(&o, &fk_backend, &fk, &dev))
		abort();
	fk_map(&fk, 0, RING, 0x100000, 0, VDUSE_ACCESS_RW);
	fk_map(&fk, 0, BUF, 0x100000, 0x100000, VDUSE_ACCESS_RW);
	fk.features = (1ull << 32) | (1ull << 33) | (1ull << VIRTIO_RING_F_EVENT_IDX);
	return dev;
}

static double bench_req(unsigned int segs, bool batch)
{
	struct vduse_dev *dev = make(1);
	struct vduse_vq *vq = vduse_dev_vq(dev, 0);
	struct fk_split r;
	struct vduse_req *req;
	double runs[5];
	unsigned int i, k, run;
	uint16_t *avail, *used;

	fk_split_init(&fk, &r, 0, 0, RING, QSZ);
	/* chain h: descriptors h*segs .. in a table of 256; heads 0, segs, 2*segs ... */
	for (i = 0; i < QSZ; i++)
		fk_set_desc(&fk_split_desc(&r)[i], BUF + i * 512, 512,
			    VRING_DESC_F_WRITE | ((i + 1) % segs ? VRING_DESC_F_NEXT : 0),
			    (i + 1) % QSZ);
	if (fk_status(&fk, dev, 0x0f))
		abort();
	avail = fk_split_avail(&r);
	used = fk_split_used(&r);
	for (run = 0; run < 5; run++) {
		unsigned long n = 0;
		double t0 = now(), t;

		do {
			for (k = 0; k < 200; k++) {
				uint16_t a = r.avail_idx;

				/* 128 chains available at once (the ring holds QSZ / segs) */
				for (i = 0; i < BATCH; i++)
					avail[2 + (uint16_t)(a + i) % QSZ] = (i * segs) % QSZ;
				r.avail_idx = a + BATCH;
				__atomic_store_n(&avail[1], r.avail_idx, __ATOMIC_RELEASE);
#ifdef HAVE_BATCH
				if (batch) {
					struct vduse_req *b[32];
					int got;

					while ((got = vduse_vq_pop_many(vq, b, 32)) > 0)
						vduse_vq_push_many(vq, b, NULL, got);
				} else
#endif
				while (vduse_vq_pop(vq, &req) == 1)
					vduse_vq_push(req, 512);
				vduse_vq_notify(vq);
				if (used[1] != r.avail_idx)
					abort();
				n += BATCH;
			}
			t = now() - t0;
		} while (t < 0.2);
		runs[run] = t * 1e9 / n;
	}
	vduse_dev_destroy(dev);
	fk_fini(&fk);
	return median5(runs);
}

static double bench_kick(unsigned int nq)
{
	struct vduse_dev *dev = make(nq);
	struct fk_split r;
	double runs[5];
	unsigned int q, run;
	uint64_t one = 1;

	for (q = 0; q < nq; q++)
		fk_split_init(&fk, &r, q, 0, RING + (q % 16) * 0x8000, 8);
	if (fk_status(&fk, dev, 0x0f))
		abort();
	for (run = 0; run < 5; run++) {
		unsigned long n = 0;
		double t0 = now(), t;

		do {
			for (q = 0; q < 1000; q++) {
				if (write(fk.kickfd[n % nq], &one, 8) != 8)
					abort();
				if (vduse_dev_run_once(dev, 0) != 1)
					abort();
				n++;
			}
			t = now() - t0;
		} while (t < 0.2);
		runs[run] = t * 1e9 / n;
	}
	vduse_dev_destroy(dev);
	fk_fini(&fk);
	return median5(runs);
}

#ifdef VDUSE_DEV_F_THREADS
struct mq {
	struct vduse_dev *dev;
	struct fk_split r;
	unsigned int q;
	unsigned long n;
	int *stop;
};

static void *mq_thread(void *arg)
{
	static const uint8_t data[4096];
	struct mq *m = arg;
	struct vduse_vq *vq = vduse_dev_vq(m->dev, m->q);
	uint16_t *avail = fk_split_avail(&m->r);
	struct vduse_req *b[32];
	unsigned int i;
	int got;

	while (!__atomic_load_n(m->stop, __ATOMIC_ACQUIRE)) {
		for (i = 0; i < 64; i++)
			avail[2 + (uint16_t)(m->r.avail_idx + i) % QSZ] = i;
		m->r.avail_idx += 64;
		__atomic_store_n(&avail[1], m->r.avail_idx, __ATOMIC_RELEASE);
		while ((got = vduse_vq_pop_many(vq, b, 32)) > 0) {
			/* the device's work, outside the library: fill 4 KiB */
			for (i = 0; i < (unsigned int)got; i++)
				vduse_req_write(b[i], 0, data, sizeof(data));
			vduse_vq_push_many(vq, b, NULL, got);
		}
		vduse_vq_notify(vq);
		m->n += 64;
	}
	return NULL;
}

static double bench_threads(unsigned int nt)
{
	LIBVDUSE_OPTS(vduse_dev_opts, o, .name = "bench", .device_id = 2, .num_queues = nt,
		      .queue_size = QSZ, .flags = VDUSE_DEV_F_THREADS);
	struct mq m[4];
	pthread_t th[4];
	double runs[5];
	unsigned int i, q, run;

	fk_init(&fk, 1);
	if (vduse__dev_create(&o, &fk_backend, &fk, &m[0].dev))
		abort();
	fk_map(&fk, 0, RING, 0x100000, 0, VDUSE_ACCESS_RW);
	fk_map(&fk, 0, BUF, 0x100000, 0x100000, VDUSE_ACCESS_RW);
	fk.features = (1ull << 32) | (1ull << 33) | (1ull << VIRTIO_RING_F_EVENT_IDX);
	for (q = 0; q < nt; q++) {
		m[q].dev = m[0].dev;
		m[q].q = q;
		fk_split_init(&fk, &m[q].r, q, 0, RING + q * 0x8000, QSZ);
		for (i = 0; i < 64; i++)
			fk_set_desc(&fk_split_desc(&m[q].r)[i], BUF + q * 0x40000 + i * 4096, 4096,
				    VRING_DESC_F_WRITE, 0);
	}
	if (fk_status(&fk, m[0].dev, 0x0f))
		abort();
	for (run = 0; run < 5; run++) {
		int stop = 0;
		unsigned long n = 0;
		double t0 = now();

		for (q = 0; q < nt; q++) {
			m[q].n = 0;
			m[q].stop = &stop;
			pthread_create(&th[q], NULL, mq_thread, &m[q]);
		}
		while (now() - t0 < 0.2)
			usleep(1000);
		__atomic_store_n(&stop, 1, __ATOMIC_RELEASE);
		for (q = 0; q < nt; q++) {
			pthread_join(th[q], NULL);
			n += m[q].n;
		}
		runs[run] = (now() - t0) * 1e9 / n;
	}
	vduse_dev_destroy(m[0].dev);
	fk_fini(&fk);
	return median5(runs);
}
#endif

static bool wanted(int argc, char **argv, const char *name)
{
	int i;

	if (argc < 2)
		return true;
	for (i = 1; i < argc; i++)
		if (!strcmp(argv[i], name))
			return true;
	return false;
}

int main(int argc, char **argv)
{
	static const unsigned int nqs[] = { 1, 16, 256 };
	char name[32];
	unsigned int i;

	if (wanted(argc, argv, "req-1seg"))
		printf("req-1seg  %8.1f ns/request\n", bench_req(1, false));
	if (wanted(argc, argv, "req-4seg"))
		printf("req-4seg  %8.1f ns/request\n", bench_req(4, false));
#ifdef HAVE_BATCH
	if (wanted(argc, argv, "batch-1seg"))
		printf("batch-1seg %7.1f ns/request\n", bench_req(1, true));
	if (wanted(argc, argv, "batch-4seg"))
		printf("batch-4seg %7.1f ns/request\n", bench_req(4, true));
#endif
	for (i = 0; i < 3; i++) {
		snprintf(name, sizeof(name), "kick-%uq", nqs[i]);
		if (wanted(argc, argv, name))
			printf("%-9s %8.1f ns/kick\n", name, bench_kick(nqs[i]));
	}
#ifdef VDUSE_DEV_F_THREADS
	for (i = 1; i <= 4; i *= 2) {
		snprintf(name, sizeof(name), "threads-%u", i);
		if (wanted(argc, argv, name))
			printf("%-9s %8.1f ns/request (all threads)\n", name, bench_threads(i));
	}
#endif
	return 0;
}
