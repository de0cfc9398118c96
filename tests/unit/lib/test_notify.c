// SPDX-License-Identifier: GPL-2.0
/*
 * Lost-wakeup stress test: a device thread in the documented loop (poll the
 * kick fd, ack, pop/push until empty, notify) against a driver thread that
 * decides kicks exactly as Linux's virtqueue_kick_prepare() does (split:
 * vring_need_event() on avail_event; packed: the device event suppression
 * structure). If the device's "kick me" store and its last look at the ring
 * are not separated by a full fence, both sides can miss each other's store:
 * the device sleeps, the driver does not kick, and the queue never moves
 * again. The driver detects that state exactly (device asleep in poll, no
 * kick pending, buffers outstanding, nothing completed) and the test fails.
 * Each ring type runs for a bounded time (STRESS_MS).
 *
 * The race window is a few tens of nanoseconds per trip to "empty", so the
 * driver aims at it: the device thread bumps a counter before each pop, and
 * the driver publishes its next buffer a varying moment after seeing it,
 * i.e. while the device is finishing its batch.
 */
#include <poll.h>
#include <pthread.h>
#include <time.h>
#include <sys/eventfd.h>
#include <linux/virtio_ring.h>
#include "fake_kernel.h"

#define RING	0x100000ull
#define BUF	0x200000ull
#define NUM	256
#define STRESS_MS 1000
#define W	16	/* buffers the driver keeps outstanding at most */

static struct fake_kernel fk;
static struct fk_log lg;
static struct vduse_dev *dev;
static struct vduse_vq *vq;
static int stopfd;
static int dev_sleeping;	/* device is (about to be) in poll */
static unsigned long dev_popping;	/* bumped before each pop */
static unsigned long dev_wakeups;
static int mode;		/* 0 pop/push, 1 pop all then push, 2 poll with kicks off */

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000ull + ts.tv_nsec / 1000000;
}

static void *device_thread(void *arg)
{
	struct pollfd p[2] = {
		{ .fd = vduse_vq_kick_fd(vq), .events = POLLIN },
		{ .fd = stopfd, .events = POLLIN },
	};
	struct vduse_req *req, *batch[NUM];
	unsigned int n;

	for (;;) {
		__atomic_store_n(&dev_sleeping, 1, __ATOMIC_SEQ_CST);
		if (poll(p, 2, -1) < 0)
			continue;
		__atomic_store_n(&dev_sleeping, 0, __ATOMIC_SEQ_CST);
		if (p[1].revents)
			return NULL;
		dev_wakeups++;
		vduse_vq_ack_kick(vq);
		if (mode == 2) {
			unsigned int idle = 0;

			/* poll with kicks off until idle for a while, then re-enable */
			vduse_vq_disable_notify(vq);
			for (;;) {
				__atomic_store_n(&dev_popping, dev_popping + 1, __ATOMIC_RELAXED);
				if (vduse_vq_pop(vq, &req) == 1) {
					vduse_vq_push(req, 0);
					idle = 0;
					continue;
				}
				if (++idle < 64)
					continue;
				if (vduse_vq_enable_notify(vq) != 1)
					break;
				vduse_vq_disable_notify(vq);
				idle = 0;
			}
			vduse_vq_notify(vq);
			continue;
		}
		n = 0;
		for (;;) {
			__atomic_store_n(&dev_popping, dev_popping + 1, __ATOMIC_RELAXED);
			if (vduse_vq_pop(vq, &req) != 1)
				break;
			if (mode == 1)
				batch[n++] = req;	/* e.g. to submit them together */
			else
				vduse_vq_push(req, 0);
		}
		while (n)
			vduse_vq_push(batch[--n], 0);
		vduse_vq_notify(vq);
	}
}

static bool kick_pending(void)
{
	struct pollfd p = { .fd = fk.kickfd[0], .events = POLLIN };

	return poll(&p, 1, 0) == 1;
}

static void kick(void)
{
	uint64_t one = 1;

	if (write(fk.kickfd[0], &one, sizeof(one)) != sizeof(one))
		abort();
}

/* One ring type, seen from the driver. */
struct drv {
	void (*publish)(void);		/* make one buffer available */
	unsigned int (*reap)(void);	/* consume used buffers, return how many */
	bool (*need_kick)(void);	/* after publishing, after virtio_mb() */
	void (*describe)(char *buf, size_t len);
};

/*
 * Drive the device for STRESS_MS. A stall is certain when the device sleeps
 * in poll with no kick pending while buffers are outstanding and nothing
 * completed since it went to sleep: nobody will ever wake it. Returns the
 * rounds done, and a reason in @why on a stall.
 */
static unsigned long drive(const struct drv *d, unsigned long *kicks, char *why, size_t whylen)
{
	unsigned long rounds = 0, last_pop = 0, idle = 0, seed = 1;
	unsigned int outstanding = 0;
	uint64_t deadline = now_ms() + STRESS_MS, asleep_since = 0;

	why[0] = 0;
	*kicks = 0;
	while (now_ms() < deadline || !rounds) {
		unsigned long pop = __atomic_load_n(&dev_popping, __ATOMIC_RELAXED);

		outstanding -= d->reap();
		if (outstanding < W && (!outstanding || pop != last_pop)) {
			volatile unsigned int i;

			/* aim at a varying point of the device's batch */
			seed = seed * 6364136223846793005ul + 1442695040888963407ul;
			for (i = 0; i < (seed >> 58); i++)
				;
			last_pop = pop;
			d->publish();
			outstanding++;
			__atomic_thread_fence(__ATOMIC_SEQ_CST);	/* virtio_mb() */
			if (d->need_kick()) {
				kick();
				(*kicks)++;
			}
			rounds++;
			idle = 0;
			asleep_since = 0;
			continue;
		}
		if (++idle % 1024)
			continue;
		if (__atomic_load_n(&dev_sleeping, __ATOMIC_SEQ_CST) && !kick_pending() &&
		    !(outstanding -= d->reap(), outstanding < W && !outstanding)) {
			if (!asleep_since) {
				asleep_since = now_ms();
			} else if (now_ms() - asleep_since > 100) {
				int n = snprintf(why, whylen, "device asleep 100 ms, no kick pending, "
						 "%u buffers outstanding; ", outstanding);

				d->describe(why + n, whylen - n);
				return rounds;
			}
		} else {
			asleep_since = 0;
		}
		sched_yield();
	}
	return rounds;
}

/* ---- split ring, EVENT_IDX: Linux's virtqueue_kick_prepare_split() ---- */

static struct fk_split sr;
static uint16_t s_avail, s_used, s_old;

static void setup_split(void)
{
	struct fk_desc *d;
	unsigned int i;

	fk_split_init(&fk, &sr, 0, 0, RING, NUM);
	d = fk_split_desc(&sr);
	for (i = 0; i < NUM; i++)
		fk_set_desc(&d[i], BUF + i * 64, 64, VRING_DESC_F_WRITE, 0);
	fk.features = (1ull << 32) | (1ull << 33) | (1ull << VIRTIO_RING_F_EVENT_IDX);
	fk_status(&fk, dev, 0x0f);
	s_avail = s_used = 0;
}

static void split_publish(void)
{
	uint16_t *avail = fk_split_avail(&sr);

	s_old = s_avail;
	avail[2 + s_avail % NUM] = s_avail % NUM;
	s_avail++;
	__atomic_store_n(&avail[1], s_avail, __ATOMIC_RELEASE);
}

static unsigned int split_reap(void)
{
	uint16_t u = __atomic_load_n(&fk_split_used(&sr)[1], __ATOMIC_ACQUIRE), n = u - s_used;

	s_used = u;
	return n;
}

static uint16_t split_avail_event(void)
{
	return __atomic_load_n((uint16_t *)((uint8_t *)fk_split_used(&sr) + 4 + 8 * NUM),
			       __ATOMIC_RELAXED);
}

static bool split_need_kick(void)
{
	return vring_need_event(split_avail_event(), s_avail, s_old);
}

static void split_describe(char *buf, size_t len)
{
	snprintf(buf, len, "avail idx %u, used idx %u, avail_event %u", s_avail,
		 fk_split_used(&sr)[1], split_avail_event());
}

/* ---- packed ring: Linux's virtqueue_kick_prepare_packed() ---- */

struct pdesc {
	uint64_t addr;
	uint32_t len;
	uint16_t id;
	uint16_t flags;
};

#define P_DEVEVT (RING + 0x2000)
static uint16_t p_avail, p_used, p_old;
static bool p_avail_wrap, p_used_wrap;

static void setup_packed(void)
{
	memset(fk_ptr(&fk, 0, RING), 0, 0x3000);
	fk.vqinfo[0].index = 0;
	fk.vqinfo[0].num = NUM;
	fk.vqinfo[0].desc_addr = RING;
	fk.vqinfo[0].driver_addr = RING + 0x1000;
	fk.vqinfo[0].device_addr = P_DEVEVT;
	fk.vqinfo[0].ready = 1;
	fk.vqinfo[0].packed.last_avail_counter = 1;
	fk.vqinfo[0].packed.last_used_counter = 1;
	fk.vqinfo[0].packed.last_avail_idx = 0;
	fk.vqinfo[0].packed.last_used_idx = 0;
	fk.features = (1ull << 32) | (1ull << 33) | (1ull << 34) |
		      (1ull << VIRTIO_RING_F_EVENT_IDX);
	fk_status(&fk, dev, 0x0f);
	p_avail = p_used = 0;
	p_avail_wrap = p_used_wrap = true;
}

static void packed_publish(void)
{
	struct pdesc *d = (struct pdesc *)fk_ptr(&fk, 0, RING) + p_avail;

	p_old = p_avail;
	d->addr = BUF + p_avail * 64;
	d->len = 64;
	d->id = p_avail;
	__atomic_store_n(&d->flags, (uint16_t)(2 | (p_avail_wrap ? 1 << 7 : 1 << 15)),
			 __ATOMIC_RELEASE);
	if (++p_avail == NUM) {
		p_avail = 0;
		p_avail_wrap = !p_avail_wrap;
	}
}

static unsigned int packed_reap(void)
{
	struct pdesc *ring = fk_ptr(&fk, 0, RING);
	unsigned int n = 0;

	for (;;) {
		uint16_t f = __atomic_load_n(&ring[p_used].flags, __ATOMIC_ACQUIRE);

		if (!!(f & (1 << 7)) != p_used_wrap || !!(f & (1 << 15)) != p_used_wrap)
			return n;
		n++;
		if (++p_used == NUM) {
			p_used = 0;
			p_used_wrap = !p_used_wrap;
		}
	}
}

static bool packed_need_kick(void)
{
	uint16_t *evt = fk_ptr(&fk, 0, P_DEVEVT);	/* { off_wrap, flags } */
	uint16_t off_wrap = __atomic_load_n(&evt[0], __ATOMIC_RELAXED);
	uint16_t flags = __atomic_load_n(&evt[1], __ATOMIC_RELAXED), event;

	if (flags != 2)			/* not RING_EVENT_FLAGS_DESC */
		return flags != 1;	/* RING_EVENT_FLAGS_DISABLE */
	event = off_wrap & 0x7fff;
	if (!!(off_wrap >> 15) != p_avail_wrap)
		event -= NUM;
	return vring_need_event(event, p_avail, p_old);
}

static void packed_describe(char *buf, size_t len)
{
	uint16_t *evt = fk_ptr(&fk, 0, P_DEVEVT);

	snprintf(buf, len, "next avail %u, next used %u, device event %#x/%#x", p_avail, p_used,
		 evt[0], evt[1]);
}

static void run(bool packed, int m)
{
	static const char *const how[] = {
		"popping and pushing in turn", "popping all then pushing",
		"polling with kicks off, then enable_notify",
	};
	static const struct drv split = { split_publish, split_reap, split_need_kick,
					  split_describe };
	static const struct drv pk = { packed_publish, packed_reap, packed_need_kick,
				       packed_describe };
	unsigned long rounds, kicks;
	pthread_t th;
	char why[256], name[128];
	uint64_t one = 1;

	stopfd = eventfd(0, EFD_CLOEXEC);
	dev_wakeups = 0;
	mode = m;
	if (packed)
		setup_packed();
	else
		setup_split();
	if (pthread_create(&th, NULL, device_thread, NULL))
		abort();
	rounds = drive(packed ? &pk : &split, &kicks, why, sizeof(why));
	if (write(stopfd, &one, sizeof(one)) != sizeof(one))
		abort();
	pthread_join(th, NULL);
	close(stopfd);

	tap_diag("%s, %s: %lu buffers, %lu kicks, %lu device wake-ups",
		 packed ? "packed" : "split", how[m], rounds, kicks, dev_wakeups);
	snprintf(name, sizeof(name), "%s, device %s: no lost wake-up under stress",
		 packed ? "packed ring" : "split ring with EVENT_IDX", how[m]);
	TAP_OK(!why[0], name, "stalled after %lu buffers: %s", rounds, why);
	fk_status(&fk, dev, 0);
}

int main(void)
{
	LIBVDUSE_OPTS(vduse_dev_opts, o, .name = "notify", .device_id = 2, .num_queues = 1,
		      .queue_size = NUM, .log = fk_logger, .user = &lg,
		      .log_level = VDUSE_LOG_WARN);

	if (fk_dev_setup(&fk, &o, "create", &dev, &vq))
		return tap_done();
	fk_map(&fk, 0, RING, 0x100000, 0, VDUSE_ACCESS_RW);
	fk_map(&fk, 0, BUF, 0x100000, 0x100000, VDUSE_ACCESS_RW);
	run(false, 0);
	run(false, 1);
	run(false, 2);
	run(true, 0);
	run(true, 1);
	run(true, 2);
	vduse_dev_destroy(dev);
	fk_fini(&fk);
	return tap_done();
}
