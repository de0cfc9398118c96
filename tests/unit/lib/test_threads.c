// SPDX-License-Identifier: GPL-2.0
/*
 * VDUSE_DEV_F_THREADS: one message thread and one thread per queue. Four
 * queue threads each play driver and device for their own queue (publish
 * chains, pop them in batches, check what the driver wrote, answer, push,
 * notify, check the answers), while the main thread keeps sending
 * UPDATE_IOTLB for the buffers and the rings and moves group 1 between two
 * address spaces that map the same memory; every third UPDATE_IOTLB is
 * left pending by the drain callback and completed by whichever queue
 * thread sees it first. Every request must come back
 * with the right data, no queue may break, and the run must be clean under
 * ThreadSanitizer (the lib_threads_tsan build; the regular build checks the
 * data only). The ring-state getters, called meanwhile, take the queue
 * lock.
 */
#include <pthread.h>
#include <time.h>
#include <linux/virtio_ring.h>
#include "fake_kernel.h"

#define NQ	4
#define QSZ	64
#define RING	0x100000ull	/* + q * 0x10000 */
#define BUF	0x200000ull	/* + q * 0x10000 + chain * 64 */
#define RUN_MS	1500

static struct fake_kernel fk;
static struct fk_log lg;
static struct vduse_dev *dev;
static struct fk_split rings[NQ];
static int stop;

struct qres {
	unsigned long requests;
	char failure[160];
};
static struct qres res[NQ];
static int drain_wanted, drains_asked, drains_done;

/* Every third invalidation drains: a queue thread completes it. */
static int on_drain(struct vduse_dev *d, const struct vduse_drain *dr, void *user)
{
	if (dr->reason != VDUSE_DRAIN_IOTLB || ++drains_asked % 3)
		return 0;
	__atomic_store_n(&drain_wanted, 1, __ATOMIC_RELEASE);
	return VDUSE_DRAIN_PENDING;
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000ull + ts.tv_nsec / 1000000;
}

static void *queue_thread(void *arg)
{
	unsigned int q = (unsigned int)(uintptr_t)arg, i, n, round = 0;
	struct vduse_vq *vq = vduse_dev_vq(dev, q);
	struct fk_split *r = &rings[q];
	struct qres *out = &res[q];
	uint64_t seq = (uint64_t)q << 48;

	while (!__atomic_load_n(&stop, __ATOMIC_ACQUIRE)) {
		struct vduse_req *reqs[8];
		uint16_t used0 = fk_split_used(r)[1];
		int got, total = 0;

		if (__atomic_exchange_n(&drain_wanted, 0, __ATOMIC_ACQ_REL) &&
		    vduse_dev_drain_done(dev, 0) == 0)
			__atomic_fetch_add(&drains_done, 1, __ATOMIC_RELAXED);

		/* driver: 1..8 chains: 16 readable bytes (a sequence number), 16 writable */
		n = 1 + round++ % 8;
		for (i = 0; i < n; i++) {
			uint64_t *b = fk_ptr(&fk, 0, BUF + q * 0x10000 + i * 64);

			b[0] = seq + i;
			b[1] = ~(seq + i);
			b[2] = b[3] = 0;
			fk_split_publish(r, 2 * i);
		}
		/* device */
		while (total < (int)n) {
			got = vduse_vq_pop_many(vq, reqs, 8);
			if (got <= 0) {
				snprintf(out->failure, sizeof(out->failure),
					 "pop_many returned %d after %d of %u (%s)", got, total, n,
					 vduse_vq_broken_reason(vq) ? vduse_vq_broken_reason(vq) : "");
				return NULL;
			}
			for (i = 0; i < (unsigned int)got; i++) {
				uint64_t in[2], ans[2];

				if (vduse_req_read(reqs[i], 0, in, 16) != 16 || in[1] != ~in[0] ||
				    in[0] != seq + reqs[i]->id / 2) {
					snprintf(out->failure, sizeof(out->failure),
						 "request %u read %#llx", reqs[i]->id,
						 (unsigned long long)in[0]);
					return NULL;
				}
				ans[0] = in[0] * 3;
				ans[1] = in[1];
				vduse_req_write(reqs[i], 0, ans, 16);
			}
			if (vduse_vq_push_many(vq, reqs, NULL, got) != got) {
				snprintf(out->failure, sizeof(out->failure), "push_many failed");
				return NULL;
			}
			total += got;
		}
		vduse_vq_notify(vq);
		/* driver: every answer back */
		if (fk_split_used(r)[1] != (uint16_t)(used0 + n)) {
			snprintf(out->failure, sizeof(out->failure), "used index %u, want %u",
				 fk_split_used(r)[1], (uint16_t)(used0 + n));
			return NULL;
		}
		for (i = 0; i < n; i++) {
			uint64_t *b = fk_ptr(&fk, 0, BUF + q * 0x10000 + i * 64);

			if (b[2] != (seq + i) * 3) {
				snprintf(out->failure, sizeof(out->failure), "answer %u wrong", i);
				return NULL;
			}
		}
		seq += n;
		out->requests += n;
	}
	return NULL;
}

struct getter {
	struct vduse_vq *vq;
	bool resubmit;		/* vduse_vq_resubmit_count(), else get_ring_state */
	int done;
};

static void *getter_main(void *arg)
{
	struct getter *g = arg;
	struct vduse_vq_ring_state rs;

	if (g->resubmit)
		vduse_vq_resubmit_count(g->vq);
	else
		vduse_vq_get_ring_state(g->vq, &rs, sizeof(rs));
	__atomic_store_n(&g->done, 1, __ATOMIC_RELEASE);
	return NULL;
}

/*
 * The ring-state getters read (and remap) queue state: they must take the
 * queue's lock as the message thread does (device lock, then the queue's,
 * announced in msg_waiting). With queue 0's lock held here, a getter in
 * another thread must wait for it, never finish without it.
 */
static void getter_locks(bool resubmit, const char *name)
{
	struct getter g = { .vq = vduse_dev_vq(dev, 0), .resubmit = resubmit };
	pthread_t t;
	bool waited;
	int i;

	vduse_vq_lock(g.vq);
	pthread_create(&t, NULL, getter_main, &g);
	for (i = 0; i < 5000; i++) {
		if (__atomic_load_n(&g.done, __ATOMIC_ACQUIRE) ||
		    __atomic_load_n(&g.vq->msg_waiting, __ATOMIC_ACQUIRE))
			break;
		usleep(1000);
	}
	waited = !__atomic_load_n(&g.done, __ATOMIC_ACQUIRE) &&
		 __atomic_load_n(&g.vq->msg_waiting, __ATOMIC_ACQUIRE);
	vduse_vq_unlock(g.vq);
	pthread_join(t, NULL);
	TAP_OK(waited && g.done, name, "done %d without the queue lock", g.done);
}

/*
 * REG_UMEM / DEREG_UMEM swap the bounce pages under the queues' cached
 * mappings: while the kernel does it, no queue thread may be inside the
 * library. The fake kernel's hook asks, from another thread, whether each
 * queue's lock is free (it must not be).
 */
static unsigned int umem_calls, umem_unlocked;

static void *try_queue_locks(void *arg)
{
	unsigned int q, *free_locks = arg;

	for (q = 0; q < NQ; q++) {
		struct vduse_vq *vq = vduse_dev_vq(dev, q);

		if (pthread_mutex_trylock(&vq->lock) == 0) {
			(*free_locks)++;
			pthread_mutex_unlock(&vq->lock);
		}
	}
	return NULL;
}

static void umem_hook(struct fake_kernel *k, unsigned long req, void *arg)
{
	unsigned int free_locks = 0;
	pthread_t t;

	if (req != VDUSE_IOTLB_REG_UMEM && req != VDUSE_IOTLB_DEREG_UMEM)
		return;
	umem_calls++;
	pthread_create(&t, NULL, try_queue_locks, &free_locks);
	pthread_join(t, NULL);
	umem_unlocked += free_locks;
}

static void umem_quiesces(void)
{
	void *um = mmap(NULL, 0x10000, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	uint64_t usz = 0;

	/* a bounce region in ASID 1 (queues 2 and 3) */
	fk_map(&fk, 1, 0, 0x10000, 0x600000, VDUSE_ACCESS_RW);
	fk.bounce_size[1] = 0x10000;
	fk.ioctl_hook = umem_hook;
	TAP_OK(vduse_dev_umem_size(dev, 1, &usz) == 0 && usz == 0x10000 &&
	       vduse_dev_reg_umem(dev, 1, um, usz) == 0 && vduse_dev_dereg_umem(dev, 1) == 0,
	       "threaded: REG_UMEM and DEREG_UMEM", "size %#llx", (unsigned long long)usz);
	TAP_OK(umem_calls == 2 && umem_unlocked == 0,
	       "threaded: every queue lock held while the kernel switches the bounce pages",
	       "%u of %u queue locks free in %u calls", umem_unlocked, NQ * umem_calls,
	       umem_calls);
	fk.ioctl_hook = NULL;
	munmap(um, 0x10000);
}

int main(void)
{
	static const uint32_t groups[NQ] = { 0, 0, 1, 1 };
	LIBVDUSE_OPTS(vduse_dev_opts, o, .name = "threads", .device_id = 2, .num_queues = NQ,
		      .queue_size = QSZ, .ngroups = 2, .nas = 2, .queue_group = groups,
		      .flags = VDUSE_DEV_F_THREADS, .drain = on_drain, .log = fk_logger, .user = &lg,
		      .log_level = VDUSE_LOG_WARN);
	pthread_t th[NQ];
	unsigned long msgs = 0, moves = 0, total = 0;
	uint64_t end;
	unsigned int q, a, i;
	uint32_t seed = 1;
	bool ok = true;

	fk_init(&fk, 1);
	TAP_EQ(vduse__dev_create(&o, &fk_backend, &fk, &dev), 0, "create with VDUSE_DEV_F_THREADS");
	if (!dev)
		return tap_done();
	/* both address spaces map the same memory, in several pieces */
	for (a = 0; a < 2; a++) {
		fk_map(&fk, a, RING, NQ * 0x10000, 0, VDUSE_ACCESS_RW);
		for (q = 0; q < NQ; q++)
			fk_map(&fk, a, BUF + q * 0x10000, 0x10000, 0x100000 + q * 0x10000,
			       VDUSE_ACCESS_RW);
	}
	fk.features = (1ull << 32) | (1ull << 33) | (1ull << VIRTIO_RING_F_EVENT_IDX);
	for (q = 0; q < NQ; q++) {
		fk_split_init(&fk, &rings[q], q, 0, RING + q * 0x10000, QSZ);
		for (i = 0; i < QSZ / 2; i++) {
			fk_set_desc(&fk_split_desc(&rings[q])[2 * i], BUF + q * 0x10000 + i * 64, 16,
				    VRING_DESC_F_NEXT, 2 * i + 1);
			fk_set_desc(&fk_split_desc(&rings[q])[2 * i + 1],
				    BUF + q * 0x10000 + i * 64 + 16, 16, VRING_DESC_F_WRITE, 0);
		}
	}
	TAP_EQ(fk_status(&fk, dev, 0x0f), 0, "DRIVER_OK");
	{
		/* a deferred answer no queue thread completes fails, not hangs */
		struct timeval tv = { .tv_sec = 10 };

		setsockopt(fk.peer, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	}
	for (q = 0; q < NQ; q++)
		pthread_create(&th[q], NULL, queue_thread, (void *)(uintptr_t)q);
	/* the message thread: invalidations and group moves, all the time */
	end = now_ms() + RUN_MS;
	while (now_ms() < end) {
		uint64_t start, len;

		seed = seed * 1103515245 + 12345;
		switch ((seed >> 16) % 4) {
		case 0:		/* one queue's buffers */
			start = BUF + ((seed >> 8) % NQ) * 0x10000;
			len = 0x10000;
			break;
		case 1:		/* the rings */
			start = RING;
			len = NQ * 0x10000;
			break;
		case 2:		/* everything */
			start = 0;
			len = UINT64_MAX;
			break;
		default: {
			struct vduse_vq_ring_state rs;

			/* a daemon's status query meanwhile (TSan: under the queue lock) */
			vduse_vq_get_ring_state(vduse_dev_vq(dev, (seed >> 8) % NQ), &rs,
						sizeof(rs));
			if (fk_group_asid(&fk, dev, 1, moves % 2 ? 0 : 1) != 0)
				ok = false;
			moves++;
			continue;
		}
		}
		if (fk_iotlb(&fk, dev, (seed >> 4) % 2, start, len == UINT64_MAX ? UINT64_MAX :
			     start + len - 1) != 0)
			ok = false;
		msgs++;
	}
	__atomic_store_n(&stop, 1, __ATOMIC_RELEASE);
	for (q = 0; q < NQ; q++)
		pthread_join(th[q], NULL);
	TAP_OK(ok, "every message answered OK while the queues ran", " ");
	TAP_OK(drains_done > 0 && drains_done == drains_asked / 3,
	       "every deferred answer completed by a queue thread", "%d of %d", drains_done,
	       drains_asked / 3);
	for (q = 0; q < NQ; q++) {
		char name[64];

		snprintf(name, sizeof(name), "queue %u: every request came back right", q);
		TAP_OK(!res[q].failure[0] && res[q].requests > 0, name, "%s (%lu requests)",
		       res[q].failure, res[q].requests);
		TAP_OK(!vduse_vq_broken(vduse_dev_vq(dev, q)), "and the queue is not broken", "%s",
		       vduse_vq_broken_reason(vduse_dev_vq(dev, q)));
		total += res[q].requests;
	}
	getter_locks(false, "vduse_vq_get_ring_state() takes the queue lock (message side)");
	getter_locks(true, "vduse_vq_resubmit_count() takes the queue lock (message side)");
	umem_quiesces();
	tap_diag("%lu requests on %u queue threads, %lu UPDATE_IOTLB (%d deferred) and %lu group "
		 "moves meanwhile", total, NQ, msgs, drains_done, moves);
	vduse_dev_destroy(dev);
	fk_fini(&fk);
	return tap_done();
}
