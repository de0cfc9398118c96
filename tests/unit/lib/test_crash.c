// SPDX-License-Identifier: GPL-2.0
/*
 * In-flight log crash consistency. A daemon pops and pushes through a
 * fixed script with the in-flight log on; the library's crash hook kills
 * it (in a forked child, _exit) just before its Nth store to the log or the
 * used ring, for every N until the script completes (single and batched
 * pushes). A new daemon then
 * attaches with the log, resumes, completes whatever it gets and takes new
 * buffers. The driver checks, as Linux does, that every used id is a
 * buffer it has outstanding ("id N is not a head" otherwise) and, at the
 * end, that every buffer it made available came back exactly once.
 * Split and packed rings; and each again with a driver that, before the
 * restart, takes what the dead daemon completed and refills every free
 * slot at once (a virtio-net RX queue): on a packed ring the slot of a
 * used descriptor the log had not caught up with then holds the next
 * lap's buffer, and only the log's pending completion tells the new
 * daemon where the driver is.
 */
#include <sys/wait.h>
#include <linux/virtio_ring.h>
#include "fake_kernel.h"

#define RING	0x100000ull
#define BUF	0x200000ull
#define QN	16
#define NBUF	6	/* made available before the crash */
#define NLATE	2	/* made available after the restart */

static struct fake_kernel fk;
static struct fk_log lg;	/* @user of every log callback */
static struct fk_split sr;
static unsigned long crash_at, stores;

/* driver state */
static bool outstanding[QN];
static uint16_t used_seen;
static bool p_used_wrap, p_avail_wrap;
static uint16_t p_avail;
static char failure[256];

static unsigned long finished;	/* completions a resume wrote for the dead daemon */

static void logger(void *user, enum vduse_log_level lvl, const char *msg)
{
	if (strstr(msg, "finished"))
		finished++;
	if (lvl <= VDUSE_LOG_ERROR)
		fk_logger(user, lvl, msg);
}

static void crash_hook(void *ctx)
{
	if (++stores == crash_at)
		_exit(3);
}

struct pdesc {
	uint64_t addr;
	uint32_t len;
	uint16_t id;
	uint16_t flags;
};

static struct pdesc *pring(void)
{
	return fk_ptr(&fk, 0, RING);
}

static void publish(bool packed, uint16_t id)
{
	outstanding[id] = true;
	if (!packed) {
		fk_split_publish(&sr, id);
		return;
	}
	pring()[p_avail].addr = BUF + id * 64;
	pring()[p_avail].len = 64;
	pring()[p_avail].id = id;
	__atomic_store_n(&pring()[p_avail].flags,
			 (uint16_t)(2 | (p_avail_wrap ? 1 << 7 : 1 << 15)), __ATOMIC_RELEASE);
	if (++p_avail == QN) {
		p_avail = 0;
		p_avail_wrap = !p_avail_wrap;
	}
}

/* The lowest buffer id the driver does not have outstanding (QN if none). */
static uint16_t free_id(void)
{
	uint16_t id = 0;

	while (id < QN && outstanding[id])
		id++;
	return id;
}

/* Fill every slot the driver has free with a new buffer; how many. */
static unsigned int refill(bool packed)
{
	unsigned int n = 0;

	for (;;) {
		uint16_t id = free_id();

		if (id == QN)
			return n;
		publish(packed, id);
		n++;
	}
}

/* Consume used buffers as the driver; false (and @failure) on a bad id. */
static bool reap(bool packed)
{
	for (;;) {
		uint32_t id;

		if (!packed) {
			uint16_t u = __atomic_load_n(&fk_split_used(&sr)[1], __ATOMIC_ACQUIRE);

			if (u == used_seen)
				return true;
			if ((uint16_t)(u - used_seen) > QN) {
				snprintf(failure, sizeof(failure), "used index jumped %u -> %u",
					 used_seen, u);
				return false;
			}
			id = *(uint32_t *)((uint8_t *)fk_split_used(&sr) + 4 + 8 * (used_seen % QN));
		} else {
			struct pdesc *d = &pring()[used_seen];
			uint16_t f = __atomic_load_n(&d->flags, __ATOMIC_ACQUIRE);

			if (!!(f & (1 << 7)) != p_used_wrap || !!(f & (1 << 15)) != p_used_wrap)
				return true;
			id = d->id;
		}
		if (id >= QN || !outstanding[id]) {
			snprintf(failure, sizeof(failure), "used id %u is not outstanding "
				 "(completed twice or never made available)", id);
			return false;
		}
		outstanding[id] = false;
		used_seen++;
		if (packed && used_seen == QN) {
			used_seen = 0;
			p_used_wrap = !p_used_wrap;
		}
	}
}

static struct vduse_dev *make_dev(struct vduse_dev_opts *o, bool packed)
{
	struct vduse_dev *dev;
	unsigned int i;

	fk_init(&fk, 1);
	if (vduse__dev_create(o, &fk_backend, &fk, &dev))
		abort();
	fk_map(&fk, 0, RING, 0x100000, 0, VDUSE_ACCESS_RW);
	fk_map(&fk, 0, BUF, 0x100000, 0x100000, VDUSE_ACCESS_RW);
	fk.features = (1ull << 32) | (1ull << 33) | (packed ? 1ull << 34 : 0);
	memset(outstanding, 0, sizeof(outstanding));
	used_seen = 0;
	if (packed) {
		memset(fk_ptr(&fk, 0, RING), 0, 0x3000);
		fk.vqinfo[0].index = 0;
		fk.vqinfo[0].num = QN;
		fk.vqinfo[0].desc_addr = RING;
		fk.vqinfo[0].driver_addr = RING + 0x1000;
		fk.vqinfo[0].device_addr = RING + 0x2000;
		fk.vqinfo[0].ready = 1;
		fk.vqinfo[0].packed.last_avail_counter = 1;
		fk.vqinfo[0].packed.last_used_counter = 1;
		p_avail = 0;
		p_avail_wrap = p_used_wrap = true;
	} else {
		fk_split_init(&fk, &sr, 0, 0, RING, QN);
		for (i = 0; i < QN; i++)
			fk_set_desc(&fk_split_desc(&sr)[i], BUF + i * 64, 64, VRING_DESC_F_WRITE, 0);
	}
	if (fk_status(&fk, dev, 0x0f))
		abort();
	return dev;
}

/*
 * The old daemon's script (POP, or push the buffer with that id): out of
 * order completion on the split ring; in order on the packed one, where a
 * used descriptor written out of order overwrites an in-flight chain (a
 * documented loss, not tested here).
 */
#define POP	-1
#define END	-2
#define PUSHMANY -3	/* push every held buffer with one vduse_vq_push_many() */

static void script(struct vduse_dev *dev, bool packed)
{
	static const int split_ops[] = { POP, POP, POP, 1, POP, 0, 3, POP, POP, 5, PUSHMANY, END };
	static const int packed_ops[] = { POP, POP, POP, 0, POP, 1, 2, POP, POP, 3, PUSHMANY, END };
	const int *op = packed ? packed_ops : split_ops;
	struct vduse_vq *vq = vduse_dev_vq(dev, 0);
	struct vduse_req *held[QN] = { 0 }, *req;

	for (; *op != END; op++) {
		if (*op == PUSHMANY) {
			struct vduse_req *batch[QN];
			unsigned int i, n = 0;

			for (i = 0; i < QN; i++) {
				if (held[i])
					batch[n++] = held[i];
				held[i] = NULL;
			}
			if (vduse_vq_push_many(vq, batch, NULL, n) != (int)n)
				_exit(6);
		} else if (*op == POP) {
			if (vduse_vq_pop(vq, &req) != 1 || req->id >= QN)
				_exit(4);
			held[req->id] = req;
		} else {
			if (!held[*op] || vduse_vq_push(held[*op], 64))
				_exit(5);
			held[*op] = NULL;
		}
	}
}

/*
 * Crash before store @n, restart, finish. Returns false with @failure set
 * if the driver saw something wrong; *@ran_out if the script completed
 * before store @n (no more crash points).
 */
static bool crash_once(struct vduse_dev_opts *o, bool packed, bool refilled, unsigned long n,
		       bool *ran_out, unsigned long *resubmitted)
{
	struct vduse_dev *dev;
	struct vduse_vq *vq;
	struct vduse_req *req, *got[2 * QN];
	unsigned int i, k, ngot = 0;
	bool ok = false;
	int status;
	pid_t pid;

	memset(o->inflight, 0, o->inflight_size);
	dev = make_dev(o, packed);
	for (i = 0; i < NBUF; i++)
		publish(packed, i);
	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		dev->crash_hook = crash_hook;
		crash_at = n;
		stores = 0;
		script(dev, packed);
		_exit(0);
	}
	waitpid(pid, &status, 0);
	vduse_dev_close(dev);
	*ran_out = WIFEXITED(status) && WEXITSTATUS(status) == 0;
	failure[0] = 0;
	if (!WIFEXITED(status) || (WEXITSTATUS(status) != 0 && WEXITSTATUS(status) != 3)) {
		snprintf(failure, sizeof(failure), "the script failed (status %#x)", status);
		goto out;
	}
	/* the driver sees what the dead daemon completed */
	if (!reap(packed))
		goto out;
	/* and, refilling, gives the ring's free slots new buffers at once */
	if (refilled)
		refill(packed);
	/* the kernel's VQ_GET_INFO still says "start": only the log knows more */
	if (vduse__dev_attach(o, &fk_backend, &fk, &dev)) {
		snprintf(failure, sizeof(failure), "attach failed");
		goto out;
	}
	vq = vduse_dev_vq(dev, 0);
	for (k = 0; k < 2; k++) {
		while (ngot < 2 * QN && vduse_vq_pop(vq, &req) == 1)
			got[ngot++] = req;
		if (k == 0 && !refilled) {
			*resubmitted += ngot;
			for (i = NBUF; i < NBUF + NLATE; i++)
				publish(packed, i);
		} else if (k == 0) {
			/* a full ring: the driver makes room first */
			for (i = 0; i < ngot; i++)
				vduse_vq_push(got[i], 64);
			ngot = 0;
			if (!reap(packed))
				goto out_dev;
			for (i = 0; i < NLATE; i++)
				publish(packed, free_id());
		}
	}
	for (i = 0; i < ngot; i++)
		vduse_vq_push(got[i], 64);
	vduse_dev_destroy(dev);
	dev = NULL;
	if (!reap(packed))
		goto out;
	for (i = 0; i < QN; i++) {
		if (outstanding[i]) {
			snprintf(failure, sizeof(failure), "buffer %u never came back", i);
			goto out;
		}
	}
	ok = true;
out_dev:
	if (dev)
		vduse_dev_destroy(dev);
out:
	fk_fini(&fk);
	return ok;
}

static void run(bool packed, bool refilled)
{
	LIBVDUSE_OPTS(vduse_dev_opts, o, .name = "crash", .device_id = 2, .num_queues = 1,
		      .queue_size = QN, .log = logger, .user = &lg,
		      .log_level = VDUSE_LOG_INFO);
	size_t lsz = vduse_inflight_size(1, QN, 1);
	void *logmem = mmap(NULL, lsz, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	unsigned long n, bad = 0, resubmitted = 0;
	char first_bad[320] = "", name[160];
	bool ran_out = false;

	o.inflight = logmem;
	o.inflight_size = lsz;
	finished = 0;
	for (n = 1; n < 1000 && !ran_out; n++) {
		if (crash_once(&o, packed, refilled, n, &ran_out, &resubmitted))
			continue;
		if (!bad++)
			snprintf(first_bad, sizeof(first_bad), "crash before store %lu: %s", n,
				 failure);
	}
	munmap(logmem, lsz);
	snprintf(name, sizeof(name), "%s ring%s: a restart after a crash at any store loses "
		 "no buffer and completes none twice", packed ? "packed" : "split",
		 refilled ? ", free slots refilled before it" : "");
	if (!refilled)
		tap_diag("%s: %lu crash points, %lu requests resubmitted in all",
			 packed ? "packed" : "split", n - 1, resubmitted);
	TAP_OK(n > 10 && ran_out && !bad, name, "%lu of %lu crash points bad; first: %s", bad,
	       n - 1, first_bad);
	/* a crash between the pending word and the flags store: resume writes it */
	if (packed)
		TAP_OK(finished > 0, refilled ? "packed ring, refilled: some restarts finished "
		       "the used descriptor the dead daemon was writing" : "packed ring: some "
		       "restarts finished the used descriptor the dead daemon was writing",
		       "%lu", finished);
}

/*
 * Many requests in flight, popped in a shuffled head order: a restart
 * resubmits them oldest first (the sort is O(n log n); it was quadratic).
 * And a driver offering a head again while it is in flight breaks the queue.
 */
static void many_and_duplicate(void)
{
	enum { BIG = 4096 };
	LIBVDUSE_OPTS(vduse_dev_opts, o, .name = "many", .device_id = 2, .num_queues = 1,
		      .queue_size = BIG, .log = fk_logger, .user = &lg,
		      .log_level = VDUSE_LOG_ERROR);
	size_t lsz = vduse_inflight_size(1, BIG, 1);
	void *logmem = calloc(1, lsz);
	static uint16_t order[BIG];
	struct vduse_dev *dev;
	struct vduse_vq *vq;
	struct vduse_req *req;
	struct fk_split r;
	unsigned int i, bad = 0;
	uint32_t seed = 7;

	o.inflight = logmem;
	o.inflight_size = lsz;
	fk_init(&fk, 1);
	TAP_EQ(vduse__dev_create(&o, &fk_backend, &fk, &dev), 0, "create a 4096-entry queue");
	fk_map(&fk, 0, RING, 0x100000, 0, VDUSE_ACCESS_RW);
	fk_map(&fk, 0, BUF, 0x100000, 0x100000, VDUSE_ACCESS_RW);
	fk.features = (1ull << 32) | (1ull << 33);
	fk_split_init(&fk, &r, 0, 0, RING, BIG);
	for (i = 0; i < BIG; i++) {
		fk_set_desc(&fk_split_desc(&r)[i], BUF + (i % 256) * 64, 64, VRING_DESC_F_WRITE, 0);
		order[i] = i;
	}
	for (i = BIG - 1; i > 0; i--) {
		uint16_t t;
		uint32_t j;

		seed = seed * 1103515245 + 12345;
		j = (seed >> 8) % (i + 1);
		t = order[i];
		order[i] = order[j];
		order[j] = t;
	}
	fk_status(&fk, dev, 0x0f);
	vq = vduse_dev_vq(dev, 0);
	for (i = 0; i < BIG; i++) {
		fk_split_publish(&r, order[i]);
		if (vduse_vq_pop(vq, &req) != 1)
			bad++;
	}
	TAP_EQ(bad, 0, "4096 requests popped");
	vduse_dev_close(dev);
	TAP_EQ(vduse__dev_attach(&o, &fk_backend, &fk, &dev), 0, "attach");
	vq = vduse_dev_vq(dev, 0);
	for (i = 0, bad = 0; i < BIG; i++) {
		if (vduse_vq_pop(vq, &req) != 1 || req->id != order[i])
			bad++;
		else
			vduse_vq_push(req, 0);
	}
	TAP_EQ(bad, 0, "all 4096 resubmitted in the order they were popped");

	/* the driver offers head 3 twice before it is used */
	fk_set_desc(&fk_split_desc(&r)[3], BUF, 64, VRING_DESC_F_WRITE, 0);
	fk_split_publish(&r, 3);
	fk_split_publish(&r, 3);
	TAP_EQ(vduse_vq_pop(vq, &req), 1, "pop head 3");
	TAP_OK(vduse_vq_pop(vq, &req) == -EIO && vduse_vq_broken(vq) &&
	       strstr(lg.last, "again while in flight"),
	       "head 3 offered again while in flight: queue broken", "%s", lg.last);
	vduse_dev_destroy(dev);
	fk_fini(&fk);
	free(logmem);
}

int main(void)
{
	run(false, false);
	run(true, false);
	run(false, true);
	run(true, true);
	many_and_duplicate();
	return tap_done();
}
