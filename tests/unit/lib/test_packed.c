// SPDX-License-Identifier: GPL-2.0
/*
 * libvduse packed virtqueue: chains in ring order with wrap counters,
 * buffer ids, indirect tables, used descriptors and ring skipping, event
 * suppression (enable, disable, descriptor event with wrap), GET_VQ_STATE,
 * and malformed rings (bad ids, chains longer than the ring, unavailable
 * slots in a chain, indirect misuse, unmapped addresses).
 */
#include "fake_kernel.h"

#define RING	0x100000ull
#define DRV	0x101000ull
#define DEVA	0x102000ull
#define BUF	0x200000ull
#define N	8

#define PN	1
#define PW	2
#define PI	4
#define PA	(1 << 7)
#define PU	(1 << 15)

struct pd {
	uint64_t addr;
	uint32_t len;
	uint16_t id;
	uint16_t flags;
};

static struct fake_kernel fk;
static struct fk_log lg;
static struct vduse_dev *dev;
static struct vduse_vq *vq;
static uint16_t slot;	/* driver's next slot */
static bool wrap;	/* driver's wrap counter */

static struct pd *ring(void) { return fk_ptr(&fk, 0, RING); }
static uint16_t *drv_evt(void) { return fk_ptr(&fk, 0, DRV); }

/* Driver: post a chain of @n descriptors with buffer id @id. */
static void post(uint16_t id, unsigned int n, const uint64_t *addr, const uint32_t *len,
		 const uint16_t *flags)
{
	uint16_t head = slot, head_flags = 0;
	unsigned int i;

	for (i = 0; i < n; i++) {
		struct pd *d = &ring()[slot];
		uint16_t f = flags[i] | (i + 1 < n ? PN : 0) | (wrap ? PA : PU);

		d->addr = addr[i];
		d->len = len[i];
		d->id = id;
		if (slot == head)
			head_flags = f;
		else
			d->flags = f;
		if (++slot == N) {
			slot = 0;
			wrap = !wrap;
		}
	}
	/* the head goes last, as a driver does */
	__atomic_store_n(&ring()[head].flags, head_flags, __ATOMIC_RELEASE);
}

static void post1(uint16_t id, uint64_t addr, uint32_t len, uint16_t flags)
{
	post(id, 1, &addr, &len, &flags);
}

static void restart(uint64_t extra)
{
	fk_status(&fk, dev, 0);
	memset(fk_ptr(&fk, 0, RING), 0, 0x3000);
	fk.features = (1ull << 32) | (1ull << 33) | (1ull << 34) | extra;
	fk.vqinfo[0].index = 0;
	fk.vqinfo[0].num = N;
	fk.vqinfo[0].desc_addr = RING;
	fk.vqinfo[0].driver_addr = DRV;
	fk.vqinfo[0].device_addr = DEVA;
	fk.vqinfo[0].packed.last_avail_counter = 1;
	fk.vqinfo[0].packed.last_avail_idx = 0;
	fk.vqinfo[0].packed.last_used_counter = 1;
	fk.vqinfo[0].packed.last_used_idx = 0;
	fk.vqinfo[0].ready = 1;
	slot = 0;
	wrap = true;
	fk_status(&fk, dev, 0x0f);
	lg.last[0] = 0;
}

static void expect_broken(const char *name, const char *why)
{
	struct vduse_req *req = NULL;
	int ret = vduse_vq_pop(vq, &req);

	TAP_OK(ret == -EIO && !req && vduse_vq_broken(vq) && strstr(lg.last, why),
	       name, "ret %d log '%s'", ret, lg.last);
}

/* Device's used descriptor at @s: returns its id, or -1 if not used in lap @w. */
static int used_id(uint16_t s, bool w, uint32_t *len)
{
	struct pd *d = &ring()[s];
	uint16_t f = __atomic_load_n(&d->flags, __ATOMIC_ACQUIRE);

	if (!!(f & PA) != w || !!(f & PU) != w)
		return -1;
	*len = d->len;
	return d->id;
}

/*
 * The in-flight log of a 1-queue device of N (tests/unit/lib is allowed the
 * layout): the queue's block after the header and the group word, and its
 * pending completion word, at the start of the log's last 64 bytes.
 */
static struct vduse_inflight_vq *log_vq(void *logmem)
{
	return (void *)((uint8_t *)logmem +
			((sizeof(struct vduse_inflight_hdr) + 4 + 7) & ~(size_t)7));
}

static uint64_t *log_pending_word(void *logmem, size_t lsz)
{
	return (uint64_t *)((uint8_t *)logmem + lsz - 64);
}

/* A device on the fake kernel with its in-flight log in @logmem, started. */
static void log_dev_up(struct vduse_dev_opts *o, void *logmem, size_t lsz)
{
	o->inflight = logmem;
	o->inflight_size = lsz;
	fk_init(&fk, 1);
	if (vduse__dev_create(o, &fk_backend, &fk, &dev))
		abort();
	vq = vduse_dev_vq(dev, 0);
	fk_map(&fk, 0, RING, 0x100000, 0, VDUSE_ACCESS_RW);
	fk_map(&fk, 0, BUF, 0x10000, 0x100000, VDUSE_ACCESS_RW);
	restart(0);
}

static void log_dev_down(struct vduse_dev_opts *o, void *logmem)
{
	fk_fini(&fk);
	free(logmem);
	o->inflight = NULL;
	o->inflight_size = 0;
}

enum pend_case {
	PEND_REUSED,	/* used descriptor seen and its slot refilled, log behind */
	PEND_UNSEEN,	/* died between logging the push and its flags store */
	PEND_V2,	/* a version-2 log: no pending word yet */
};

/*
 * Ids 0 (slot 0) and 1 (slot 1) popped with the log on; the old daemon
 * dies in the push of id 0 as @how says; a new daemon attaches.
 */
static void pending_case(struct vduse_dev_opts *o, enum pend_case how)
{
	static const char *const what[] = {
		"used descriptor seen and its slot refilled before the restart",
		"push logged, used descriptor not written",
		"a version-2 log",
	};
	size_t lsz = vduse_inflight_size(1, N, 1);
	void *logmem = calloc(1, lsz);
	struct vduse_inflight_hdr *h = logmem;
	struct vduse_req *a = NULL, *b = NULL, *got[N];
	unsigned int ngot = 0, i;
	char name[200];
	uint32_t len = 0;
	unsigned int irqs;
	int id0;

	log_dev_up(o, logmem, lsz);
	post1(0, BUF, 16, PW);
	post1(1, BUF + 16, 16, PW);
	if (vduse_vq_pop(vq, &a) != 1 || vduse_vq_pop(vq, &b) != 1 || a->id != 0 || b->id != 1)
		abort();
	switch (how) {
	case PEND_REUSED:
		/*
		 * The push of id 0 (5 bytes) to used slot 0, then the log
		 * rolled back to right after its flags store: entry still
		 * in flight, used position still slot 0 of lap 1. The driver
		 * takes id 0 and refills the whole ring: ids 2..7 in slots
		 * 2..7, id 0 again in slot 0 of the next lap.
		 */
		vduse_vq_push(a, 5);
		log_vq(logmem)->data[0] = 1;
		log_vq(logmem)->used = 0x8000;
		for (i = 2; i < N; i++)
			post1(i, BUF + 16 * i, 16, PW);
		post1(0, BUF, 16, PW);
		break;
	case PEND_UNSEEN:
		/*
		 * push of id 0, all its 16 writable bytes (the most a valid
		 * word may say), at slot 0 of lap 1: logged, nothing in the ring
		 */
		*log_pending_word(logmem, lsz) = 0x8000 | 0ull << 16 | 16ull << 32;
		break;
	case PEND_V2:
		/* what lies where version 3 has the pending word: here, a push of id 0 */
		*log_pending_word(logmem, lsz) = 0x8000 | 5ull << 32;
		h->version = 2;
		break;
	}
	vduse_dev_close(dev);	/* the crash */
	lg.warnings = 0;
	irqs = fk.irqs[0];
	snprintf(name, sizeof(name), "packed, %s: attach", what[how]);
	TAP_EQ(vduse__dev_attach(o, &fk_backend, &fk, &dev), 0, name);
	if (!dev)
		goto out;
	/* nothing the old daemon pushed was signalled; resume may have pushed id 0 */
	snprintf(name, sizeof(name), "packed, %s: the attach interrupts the driver once",
		 what[how]);
	TAP_OK(irqs == 0 && fk.irqs[0] == 1, name, "%u interrupts before, %u after", irqs,
	       fk.irqs[0]);
	vq = vduse_dev_vq(dev, 0);
	while (ngot < N && vduse_vq_pop(vq, &got[ngot]) == 1)
		ngot++;
	id0 = used_id(0, true, &len);
	for (i = 0; i < ngot; i++)
		vduse_vq_push(got[i], 1);
	switch (how) {
	case PEND_REUSED: {
		static const uint16_t want[N] = { 1, 2, 3, 4, 5, 6, 7, 0 };
		bool order = ngot == N;

		for (i = 0; order && i < N; i++)
			order = got[i]->id == want[i];
		TAP_OK(order && lg.warnings == 0, "packed, refilled slot: id 1 resubmitted, then "
		       "the driver's 7 new buffers, nothing lost", "%u popped, first id %d, %u "
		       "warnings (%s)", ngot, ngot ? got[0]->id : -1, lg.warnings, lg.last);
		TAP_OK(used_id(1, true, &len) == 1 && used_id(7, true, &len) == 7 &&
		       used_id(0, false, &len) == 0, "packed, refilled slot: used descriptors "
		       "continue at slot 1, where the driver looks", "slot 1 has %d",
		       used_id(1, true, &len));
		break;
	}
	case PEND_UNSEEN:
		TAP_OK(id0 == 0 && len == 16, "packed, push logged only: resume writes its used "
		       "descriptor (id 0, 16 bytes) at slot 0", "slot 0: id %d len %u", id0, len);
		TAP_OK(ngot == 1 && got[0]->id == 1 && used_id(1, true, &len) == 1,
		       "packed, push logged only: id 1 alone resubmitted, used at slot 1",
		       "%u popped", ngot);
		break;
	case PEND_V2:
		TAP_OK(h->version == 3, "packed, version-2 log: upgraded to version 3",
		       "version %u", h->version);
		TAP_OK(id0 == -1 && ngot == 2 && got[0]->id == 0 && got[1]->id == 1,
		       "packed, version-2 log: read, not started afresh; its stale pending "
		       "word ignored (ids 0 and 1 resubmitted)", "%u popped, slot 0 id %d",
		       ngot, id0);
		break;
	}
	vduse_dev_destroy(dev);
out:
	log_dev_down(o, logmem);
}

enum corrupt_case {
	CORRUPT_FREE,	/* the id of a buffer completed before */
	CORRUPT_LONG,	/* more bytes than the buffer's writable descriptors */
};

/*
 * A pending word at the logged used position whose slot still holds an
 * available descriptor, but which no push of the old daemon can have left:
 * resume must not write it to the ring (the driver would get a buffer it
 * does not have in flight, or a length past the buffer), but ignore it and
 * resubmit what is in flight.
 */
static void pending_corrupt(struct vduse_dev_opts *o, enum corrupt_case how)
{
	static const char *const what[] = {
		"pending word of a buffer not in flight",
		"pending word longer than its buffer",
	};
	size_t lsz = vduse_inflight_size(1, N, 1);
	void *logmem = calloc(1, lsz);
	struct vduse_req *a = NULL, *b = NULL, *got[N];
	unsigned int ngot = 0, i;
	uint16_t s0;
	char name[200];
	uint32_t len = 0;
	int untouched;

	log_dev_up(o, logmem, lsz);
	if (how == CORRUPT_FREE) {
		/* id 2 in slot 0, completed and logged: its ndesc stays 1, its state free */
		post1(2, BUF + 32, 16, PW);
		if (vduse_vq_pop(vq, &a) != 1 || a->id != 2)
			abort();
		vduse_vq_push(a, 3);
	}
	s0 = slot;		/* the logged used slot: ids 0 and 1 go from here */
	post1(0, BUF, 16, PW);
	post1(1, BUF + 16, 16, PW);
	if (vduse_vq_pop(vq, &a) != 1 || vduse_vq_pop(vq, &b) != 1 || a->id != 0 || b->id != 1)
		abort();
	if (how == CORRUPT_FREE)	/* "push of id 2, 5 bytes, at the used slot" */
		*log_pending_word(logmem, lsz) = (0x8000 | s0) | 2ull << 16 | 5ull << 32;
	else				/* "push of id 0 (16 writable bytes), 17 bytes" */
		*log_pending_word(logmem, lsz) = (0x8000 | s0) | 0ull << 16 | 17ull << 32;
	vduse_dev_close(dev);	/* the crash */
	lg.warnings = 0;
	lg.last[0] = 0;
	snprintf(name, sizeof(name), "packed, %s: attach", what[how]);
	TAP_EQ(vduse__dev_attach(o, &fk_backend, &fk, &dev), 0, name);
	if (!dev)
		goto out;
	vq = vduse_dev_vq(dev, 0);
	/* the driver's view: slot s0 still the available descriptor of id 0 */
	untouched = used_id(s0, true, &len) == -1 && ring()[s0].id == 0 && ring()[s0].len == 16;
	snprintf(name, sizeof(name), "packed, %s: ignored (warned), the ring untouched",
		 what[how]);
	TAP_OK(untouched && lg.warnings == 1 && strstr(lg.last, "matches no buffer in flight"),
	       name, "slot %u: id %u len %u flags %#x; %u warnings (%s)", s0, ring()[s0].id,
	       ring()[s0].len, ring()[s0].flags, lg.warnings, lg.last);
	while (ngot < N && vduse_vq_pop(vq, &got[ngot]) == 1)
		ngot++;
	for (i = 0; i < ngot; i++)
		vduse_vq_push(got[i], 1);
	snprintf(name, sizeof(name), "packed, %s: ids 0 and 1 resubmitted and used in "
		 "their slots", what[how]);
	TAP_OK(ngot == 2 && got[0]->id == 0 && got[1]->id == 1 &&
	       used_id(s0, true, &len) == 0 && len == 1 && used_id(s0 + 1, true, &len) == 1,
	       name, "%u popped, first id %d", ngot, ngot ? got[0]->id : -1);
	vduse_dev_destroy(dev);
out:
	log_dev_down(o, logmem);
}

int main(void)
{
	LIBVDUSE_OPTS(vduse_dev_opts, o, .name = "packed", .device_id = 2, .num_queues = 1,
		      .queue_size = N, .log = fk_logger, .user = &lg, .log_level = VDUSE_LOG_WARN);
	struct vduse_req *req, *reqs[N];
	struct vduse_dev_request rq;
	struct vduse_dev_response rs;
	uint32_t len;
	int ret, i;

	if (fk_dev_setup(&fk, &o, "create", &dev, &vq))
		return tap_done();
	fk_map(&fk, 0, RING, 0x100000, 0, VDUSE_ACCESS_RW);
	fk_map(&fk, 0, BUF, 0x10000, 0x100000, VDUSE_ACCESS_RW);
	restart(1ull << 28);
	TAP_OK(vduse_vq_started(vq) && vduse_vq_packed(vq), "packed queue started", " ");
	TAP_EQ(vduse_vq_pop(vq, &req), 0, "empty ring pops nothing");

	/* polling: the device event flags say DISABLE, then ENABLE again */
	{
		uint16_t *devevt = fk_ptr(&fk, 0, DEVA);

		vduse_vq_disable_notify(vq);
		TAP_EQ(devevt[1], 1, "disable_notify writes RING_EVENT_FLAGS_DISABLE");
		TAP_EQ(vduse_vq_pop(vq, &req), 0, "empty while polling");
		TAP_EQ(devevt[1], 1, "kicks stay off while polling");
		post1(5, BUF, 16, PW);
		TAP_EQ(vduse_vq_enable_notify(vq), 1, "enable_notify sees the buffer that came meanwhile");
		TAP_EQ(devevt[1], 0, "kicks enabled again");
		TAP_OK(vduse_vq_pop(vq, &req) == 1 && req->id == 5, "pop it", " ");
		vduse_vq_push(req, 0);
		TAP_EQ(vduse_vq_enable_notify(vq), 0, "enable_notify on an empty ring: 0");
		vduse_vq_disable_notify(vq);
		fk_status(&fk, dev, 0);
		fk.vqinfo[0].packed.last_avail_idx = 1;
		fk.vqinfo[0].packed.last_used_idx = 1;
		fk_status(&fk, dev, 0x0f);
		TAP_EQ(devevt[1], 0, "a queue starts with kicks on");
		restart(1ull << 28);
	}

	/* batches: used descriptors in the order given */
	{
		struct vduse_req *b[4];
		uint32_t w[3] = { 4, 5, 6 };

		post1(0, BUF, 16, PW);
		post1(1, BUF + 16, 16, PW);
		post1(2, BUF + 32, 16, PW);
		TAP_EQ(vduse_vq_pop_many(vq, b, 4), 3, "packed pop_many takes three");
		TAP_EQ(vduse_vq_push_many(vq, b, w, 3), 3, "packed push_many returns three");
		TAP_OK(used_id(0, true, &len) == 0 && len == 4 && used_id(1, true, &len) == 1 &&
		       len == 5 && used_id(2, true, &len) == 2 && len == 6,
		       "three used descriptors with their ids and lengths", " ");
		restart(1ull << 28);
	}

	{
		uint64_t a[3] = { BUF, BUF + 0x100, BUF + 0x400 };
		uint32_t l[3] = { 16, 512, 1 };
		uint16_t f[3] = { 0, PW, PW };

		memcpy(fk_ptr(&fk, 0, BUF), "packed-header!!!", 16);
		post(5, 3, a, l, f);
	}
	ret = vduse_vq_pop(vq, &req);
	TAP_OK(ret == 1 && req->id == 5 && req->nr_readable == 1 && req->nr_writable == 2 &&
	       req->writable_len == 513 && !memcmp(req->iov[0].iov_base, "packed-header!!!", 16),
	       "3-descriptor chain popped with buffer id 5", "ret %d", ret);
	if (ret != 1)
		return tap_done();
	TAP_EQ(vduse_vq_pop(vq, &reqs[0]), 0, "nothing more");
	vduse_vq_push(req, 100);
	TAP_OK(used_id(0, true, &len) == 5 && len == 100, "used descriptor at slot 0: id 5, len 100",
	       " ");
	TAP_OK(ring()[0].flags & PW, "used descriptor flags WRITE when len > 0", " ");
	drv_evt()[1] = 0;	/* enable */
	TAP_EQ(vduse_vq_notify(vq), 1, "interrupt with events enabled");
	TAP_EQ(fk.irqs[0], 1, "VQ_INJECT_IRQ");

	/* next used descriptor goes to slot 3 (the chain took three) */
	post1(6, BUF, 8, 0);
	TAP_EQ(vduse_vq_pop(vq, &req), 1, "pop id 6");
	vduse_vq_push(req, 0);
	TAP_OK(used_id(3, true, &len) == 6 && len == 0 && !(ring()[3].flags & PW),
	       "used descriptor for id 6 at slot 3 (ring skipped by chain length)", " ");
	drv_evt()[1] = 1;	/* disable */
	TAP_EQ(vduse_vq_notify(vq), 0, "events disabled: no interrupt");

	/* indirect */
	{
		struct pd *t = fk_ptr(&fk, 0, BUF + 0x1000);

		t[0] = (struct pd){ .addr = BUF, .len = 16 };
		t[1] = (struct pd){ .addr = BUF + 0x100, .len = 64, .flags = PW };
		post1(2, BUF + 0x1000, 32, PI);
	}
	ret = vduse_vq_pop(vq, &req);
	TAP_OK(ret == 1 && req->id == 2 && req->nr_readable == 1 && req->writable_len == 64,
	       "indirect table", "ret %d", ret);
	if (ret == 1)
		vduse_vq_push(req, 64);

	/* wrap around the ring: post 6 single descriptors (slots 5..7, 0..2) */
	for (i = 0; i < 6; i++)
		post1(i, BUF + i * 16, 16, PW);
	for (i = 0, ret = 0; i < 6; i++)
		ret += vduse_vq_pop(vq, &reqs[i]) == 1 && reqs[i]->id == i;
	TAP_EQ(ret, 6, "six buffers popped across the wrap");
	memset(&rq, 0, sizeof(rq));
	rq.type = VDUSE_GET_VQ_STATE;
	ret = fk_msg(&fk, dev, &rq, &rs);
	TAP_OK(ret == 0 && rs.vq_state.packed.last_avail_idx == 3 &&
	       rs.vq_state.packed.last_avail_counter == 0 && rs.vq_state.packed.last_used_idx == 5 &&
	       rs.vq_state.packed.last_used_counter == 1, "GET_VQ_STATE packed positions and counters",
	       "avail %u/%u used %u/%u", rs.vq_state.packed.last_avail_idx,
	       rs.vq_state.packed.last_avail_counter, rs.vq_state.packed.last_used_idx,
	       rs.vq_state.packed.last_used_counter);
	/* complete out of order: 3 first */
	vduse_vq_push(reqs[3], 1);
	TAP_OK(used_id(5, true, &len) == 3, "out-of-order completion: id 3 in slot 5", " ");
	for (i = 0; i < 6; i++)
		if (i != 3)
			vduse_vq_push(reqs[i], 1);
	TAP_OK(used_id(2, false, &len) == 5, "used descriptors wrap with the used counter", " ");

	/* descriptor event: interrupt only when the used index passes off_wrap */
	drv_evt()[1] = 2;
	restart((1ull << 28) | (1ull << 29));
	drv_evt()[1] = 2;
	drv_evt()[0] = 2 | 0x8000;	/* slot 2, wrap 1 */
	post1(0, BUF, 8, 0);
	vduse_vq_pop(vq, &req);
	vduse_vq_push(req, 0);
	TAP_EQ(vduse_vq_notify(vq), 1, "first interrupt always sent");
	post1(1, BUF, 8, 0);
	vduse_vq_pop(vq, &req);
	vduse_vq_push(req, 0);
	TAP_EQ(vduse_vq_notify(vq), 0, "used 1->2 does not pass event slot 2: suppressed");
	post1(2, BUF, 8, 0);
	vduse_vq_pop(vq, &req);
	vduse_vq_push(req, 0);
	TAP_EQ(vduse_vq_notify(vq), 1, "used 2->3 passes event slot 2: interrupt");
	drv_evt()[0] = 1 | 0x0000;	/* slot 1 of the next lap (wrap 0) */
	for (i = 3; i < 8; i++) {
		post1(i, BUF, 8, 0);
		vduse_vq_pop(vq, &req);
		vduse_vq_push(req, 0);
	}
	TAP_EQ(vduse_vq_notify(vq), 0, "used 3->0 (wrapped) has not reached next-lap slot 1");
	post1(0, BUF, 8, 0);
	vduse_vq_pop(vq, &req);
	vduse_vq_push(req, 0);
	post1(1, BUF, 8, 0);
	vduse_vq_pop(vq, &req);
	vduse_vq_push(req, 0);
	TAP_EQ(vduse_vq_notify(vq), 1, "used 0->2 in the new lap passes slot 1: interrupt");

	/* ---- malformed ---- */
	restart(1ull << 28);
	post1(N, BUF, 8, 0);
	expect_broken("buffer id beyond the ring size", "buffer id");

	restart(1ull << 28);
	{
		/* every slot chained with NEXT: the chain never ends */
		for (i = 0; i < N; i++) {
			ring()[i] = (struct pd){ .addr = BUF, .len = 8, .id = 0, .flags = PN | PA };
		}
	}
	expect_broken("chain longer than the ring", "exceeds the ring");

	restart(1ull << 28);
	ring()[1] = (struct pd){ .addr = BUF, .len = 8, .flags = 0 };	/* not available */
	__atomic_store_n(&ring()[0].flags, 0, __ATOMIC_RELAXED);
	ring()[0] = (struct pd){ .addr = BUF, .len = 8, .flags = PN | PA };
	expect_broken("chain running into an unavailable slot", "unavailable slot");

	restart(1ull << 28);
	post1(0, BUF + 0x1000, 32, PI | PN);
	expect_broken("INDIRECT with NEXT", "both INDIRECT and NEXT");

	restart(1ull << 28);
	{
		struct pd *t = fk_ptr(&fk, 0, BUF + 0x1000);

		t[0] = (struct pd){ .addr = BUF + 0x2000, .len = 16, .flags = PI };
		post1(0, BUF + 0x1000, 16, PI);
	}
	expect_broken("indirect inside indirect", "inside an indirect");

	restart(1ull << 28);
	post1(0, BUF + 0x1000, 24, PI);
	expect_broken("indirect table size not a multiple of 16", "indirect table of 24");

	restart(0);
	post1(0, BUF + 0x1000, 32, PI);
	expect_broken("indirect without the feature", "without INDIRECT_DESC");

	restart(1ull << 28);
	post1(0, 0x9000000, 32, 0);
	expect_broken("address outside every mapping", "outside every mapping");

	restart(1ull << 28);
	post1(0, UINT64_MAX - 7, 32, 0);
	expect_broken("address wrapping around", "wraps around");

	restart(1ull << 28);
	{
		uint64_t a[2] = { BUF, BUF };
		uint32_t l[2] = { 8, 8 };
		uint16_t f[2] = { PW, 0 };

		post(0, 2, a, l, f);
	}
	expect_broken("readable after writable", "readable descriptor after");

	/* packed state beyond the ring at start */
	fk_status(&fk, dev, 0);
	fk.vqinfo[0].packed.last_avail_idx = N;
	fk_status(&fk, dev, 0x0f);
	TAP_OK(vduse_vq_broken(vq), "start position beyond the ring refused", " ");
	fk.vqinfo[0].packed.last_avail_idx = 0;

	/* driver event area only 2-byte aligned (32-bit area, 4 required) */
	fk_status(&fk, dev, 0);
	fk.vqinfo[0].driver_addr = DRV + 2;
	lg.last[0] = 0;
	fk_status(&fk, dev, 0x0f);
	TAP_OK(vduse_vq_broken(vq) && strstr(lg.last, "misaligned ring"),
	       "misaligned driver event area: queue broken at start", "%s", lg.last);
	fk.vqinfo[0].driver_addr = DRV;

	/* packed ring size need not be a power of two */
	fk_status(&fk, dev, 0);
	fk.vqinfo[0].num = 6;
	fk_status(&fk, dev, 0x0f);
	TAP_OK(!vduse_vq_broken(vq) && vduse_vq_size(vq) == 6, "packed ring of 6 accepted", " ");

	vduse_dev_destroy(dev);
	fk_fini(&fk);

	/* ---- daemon restart with an in-flight log ---- */
	{
		size_t lsz = vduse_inflight_size(1, N, 1);
		void *logmem = calloc(1, lsz);
		struct vduse_req *a = NULL, *b = NULL, *c = NULL;

		o.inflight = logmem;
		o.inflight_size = lsz;
		fk_init(&fk, 1);
		TAP_EQ(vduse__dev_create(&o, &fk_backend, &fk, &dev), 0, "create with a log");
		vq = vduse_dev_vq(dev, 0);
		fk_map(&fk, 0, RING, 0x100000, 0, VDUSE_ACCESS_RW);
		fk_map(&fk, 0, BUF, 0x10000, 0x100000, VDUSE_ACCESS_RW);
		restart(0);
		post1(0, BUF, 16, PW);
		post1(1, BUF + 16, 16, PW);
		post1(2, BUF + 32, 16, PW);
		post1(3, BUF + 48, 16, PW);
		ret = vduse_vq_pop(vq, &a) == 1 && vduse_vq_pop(vq, &b) == 1 &&
		      vduse_vq_pop(vq, &c) == 1 && vduse_vq_pop(vq, &req) == 1;
		TAP_OK(ret, "four buffers popped", " ");
		if (!ret)	/* nothing below means anything without them */
			goto out_log;
		/* id 1 completes first: its used descriptor lands in slot 0 (id 0's) */
		vduse_vq_push(b, 1);
		vduse_dev_close(dev);	/* crash with ids 0, 2 and 3 in flight */
		lg.warnings = 0;
		TAP_EQ(vduse__dev_attach(&o, &fk_backend, &fk, &dev), 0, "attach with the log");
		vq = dev ? vduse_dev_vq(dev, 0) : NULL;
		TAP_OK(lg.warnings == 1 && strstr(lg.last, "overwritten"),
		       "the overwritten chain (id 0) reported lost", "%s", lg.last);
		ret = vq ? vduse_vq_pop(vq, &a) : -1;
		TAP_OK(ret == 1 && a->id == 2, "id 2 resubmitted first (oldest intact)",
		       "ret %d id %d", ret, ret == 1 ? a->id : -1);
		ret = vq ? vduse_vq_pop(vq, &b) : -1;
		TAP_OK(ret == 1 && b->id == 3, "then id 3", "ret %d", ret);
		TAP_EQ(vq ? vduse_vq_pop(vq, &c) : -1, 0, "nothing else");
		if (vq) {
			vduse_vq_push(a, 1);
			vduse_vq_push(b, 1);
		}
		TAP_OK(used_id(1, true, &len) == 2 && used_id(2, true, &len) == 3,
		       "resubmitted buffers used after the pre-crash one", " ");
		post1(4, BUF, 16, PW);
		ret = vq ? vduse_vq_pop(vq, &a) : -1;
		TAP_OK(ret == 1 && a->id == 4, "new buffers continue at the logged position", " ");
		if (ret == 1)
			vduse_vq_push(a, 1);
out_log:
		vduse_dev_destroy(dev);
		fk_fini(&fk);
		free(logmem);
	}
	pending_case(&o, PEND_REUSED);
	pending_case(&o, PEND_UNSEEN);
	pending_case(&o, PEND_V2);
	pending_corrupt(&o, CORRUPT_FREE);
	pending_corrupt(&o, CORRUPT_LONG);
	return tap_done();
}
