// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * In-flight log: optional memory supplied by the device (a memfd or file
 * that survives the daemon) where the library records, per queue, which
 * buffers are popped but not yet used, plus each group's address space
 * (which the kernel cannot be asked for). After a restart,
 * vduse_dev_attach() resumes from it and resubmits the requests the old
 * daemon never completed, oldest first.
 *
 * Layout (version 3): the header, the group words, one block per queue
 * (used position, valid byte, then state[], pos[] and ndesc[] per entry),
 * then one 64-bit pending completion word per queue (packed rings), 64
 * bytes apart so that no two queues' words share a cache line. Version
 * 2 is the same without the pending words, which follow everything else:
 * a version-2 log (in memory of the version-3 size, e.g. a file grown by
 * vduse_inflight_open()) is upgraded on attach by invalidating them.
 *
 * Crash consistency: the daemon may die between any two stores, so every
 * store leaves the log meaning exactly one thing.
 *  - Pop: the entry's position (and packed chain length) first, then its
 *    state byte: setting the state is the one store that makes the buffer
 *    "ours". The avail position is never logged; it follows from the rest:
 *    what was popped is either used or in flight, so
 *      split:  last_avail = used + number of in-flight entries
 *      packed: last_avail = used + sum of their chain lengths
 *  - Push: the used element and index (split) or used descriptor (packed)
 *    go to the ring first, then the entry's state is cleared, then the
 *    logged used position (one 16-bit store: slot | lap << 15 on packed
 *    rings) moves. On resume, completions the ring has but the log's used
 *    position has not reached yet are found in the ring itself (used
 *    elements between the logged and the ring's used index; used
 *    descriptors of the current lap at the logged slot on), their entries
 *    cleared, and the used position caught up; all of it idempotent, so a
 *    crash during resume is fine too.
 *  - Packed push, first of all: one 64-bit store of the pending completion
 *    (used position | id << 16 | written length << 32). It is the push in
 *    progress while its used position equals the logged one (a finished
 *    push moves the logged position past it), and it lets resume finish
 *    that push whatever the driver did with the slot meanwhile: the driver
 *    may have seen the used descriptor and refilled the slot, which then
 *    no longer shows the completion. If the slot still holds the available
 *    descriptor of the used position's lap, the driver never saw it and
 *    resume writes it; either way the entry is cleared and the used
 *    position moves past it. Before writing, the word must name an entry
 *    in flight and a length its chain can take (where the ring still holds
 *    the chain); one that does not is corrupt, and ignored as a version-2
 *    log would (nothing written, the buffers in flight resubmitted). Each
 *    used descriptor of a packed batch is logged before the next one
 *    (at most one pending per queue).
 *
 * Packed rings log the ring slot and lap of each in-flight buffer. A chain
 * can be rebuilt only if its slots still hold it: used descriptors written
 * for buffers completed out of order may have overwritten them. Such
 * entries are kept as "lost" (they still count for the avail position)
 * and reported.
 */
#include <endian.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "internal.h"

#define LOG_VERSION 3
#define LOG_VERSION_V2 2	/* libvduse 0.2 and 0.3: no pending words */
/*
 * A cache line per pending word: each packed push stores its queue's, and
 * with VDUSE_DEV_F_THREADS neighbours would bounce one line between the
 * queue threads.
 */
#define PENDING_STRIDE 64

enum { ENTRY_FREE, ENTRY_INFLIGHT, ENTRY_LOST };

static size_t vq_stride(unsigned int qs)
{
	/* state[qs], pos[qs], ndesc[qs] */
	return (sizeof(struct vduse_inflight_vq) + 5ull * qs + 7) & ~7ull;
}

static size_t hdr_size(unsigned int ngroups)
{
	return (sizeof(struct vduse_inflight_hdr) + 4ull * ngroups + 7) & ~7ull;
}

EXPORT size_t vduse_inflight_size(unsigned int num_queues, unsigned int queue_size,
				  unsigned int ngroups)
{
	if (!num_queues || num_queues > 0xffff || !queue_size ||
	    queue_size > VDUSE_MAX_QUEUE_SIZE || ngroups > 0xffff)
		return 0;
	return hdr_size(ngroups ? ngroups : 1) +
	       num_queues * (vq_stride(queue_size) + PENDING_STRIDE);
}

/* Queue @i's pending completion word, after the last queue's block. */
static uint64_t *log_pending(struct vduse_inflight_hdr *h, uint32_t i)
{
	return (uint64_t *)((uint8_t *)h + hdr_size(h->ngroups) +
			    (size_t)h->num_queues * vq_stride(h->queue_size) +
			    (size_t)i * PENDING_STRIDE);
}

static uint32_t *log_groups(struct vduse_inflight_hdr *h)
{
	return (uint32_t *)(h + 1);
}

static uint8_t *log_state(struct vduse_vq *vq)
{
	return vq->log->data;
}

static uint16_t *log_pos(struct vduse_vq *vq)
{
	return (uint16_t *)(vq->log->data + vq->dev->log->queue_size);
}

static uint16_t *log_ndesc(struct vduse_vq *vq)
{
	return log_pos(vq) + vq->dev->log->queue_size;
}

static void put8(struct vduse_vq *vq, uint8_t *p, uint8_t v)
{
	vduse_crash_point(vq->dev);
	__atomic_store_n(p, v, __ATOMIC_RELEASE);
}

static void put16(struct vduse_vq *vq, uint16_t *p, uint16_t v)
{
	vduse_crash_point(vq->dev);
	__atomic_store_n(p, v, __ATOMIC_RELEASE);
}

static uint16_t used_word(const struct vduse_vq *vq)
{
	return vq->packed ? vq->used_idx | (vq->used_wrap ? 0x8000 : 0) : vq->used_idx;
}

int vduse_inflight_setup(struct vduse_dev *dev, bool attach)
{
	struct vduse_inflight_hdr *h = dev->o.inflight;
	uint32_t qs = 0, i;
	size_t need;
	bool valid;

	if (!h)
		return 0;
	for (i = 0; i < dev->nvqs; i++)
		if (dev->vqs[i].max_size > qs)
			qs = dev->vqs[i].max_size;
	need = vduse_inflight_size(dev->nvqs, qs, dev->ngroups);
	if (dev->o.inflight_size < need || ((uintptr_t)h & 7)) {
		vd_err(dev, "in-flight log of %zu bytes, need %zu (8-byte aligned)",
		       dev->o.inflight_size, need);
		return -EINVAL;
	}
	valid = h->magic == VDUSE_INFLIGHT_MAGIC &&
		(h->version == LOG_VERSION || h->version == LOG_VERSION_V2) &&
		h->num_queues == dev->nvqs && h->queue_size == qs && h->ngroups == dev->ngroups;
	if (attach && h->magic && !valid)
		vd_warn(dev, "in-flight log does not match this device (or this library "
			"version); starting a new one");
	if (attach && valid && h->version == LOG_VERSION_V2) {
		/*
		 * The previous format: the same without the pending words,
		 * whose memory holds anything (zeros, which could pass for a
		 * push in progress at slot 0). Invalidate each against its
		 * queue's used position, then the version store makes it a
		 * version-3 log; a crash before that upgrades it again.
		 */
		for (i = 0; i < dev->nvqs; i++) {
			const struct vduse_inflight_vq *e = (const void *)((uint8_t *)h +
				hdr_size(dev->ngroups) + i * vq_stride(qs));

			__atomic_store_n(log_pending(h, i), (uint64_t)(e->used ^ 0x8000),
					 __ATOMIC_RELAXED);
		}
		__atomic_store_n(&h->version, LOG_VERSION, __ATOMIC_RELEASE);
		vd_info(dev, "in-flight log of the previous format (version %u) upgraded",
			LOG_VERSION_V2);
	}
	if (!attach || !valid) {
		memset(h, 0, need);
		h->num_queues = dev->nvqs;
		h->queue_size = qs;
		h->ngroups = dev->ngroups;
		h->version = LOG_VERSION;
		__atomic_store_n(&h->magic, VDUSE_INFLIGHT_MAGIC, __ATOMIC_RELEASE);
	} else {
		for (i = 0; i < dev->ngroups; i++) {
			uint32_t a = log_groups(h)[i];

			if (a >= dev->nas) {
				vd_warn(dev, "in-flight log: group %u on ASID %u of %u; using 0",
					i, a, dev->nas);
				a = 0;
			}
			dev->group_as[i] = a;
			vduse_dev_group_moved(dev, i);
		}
		dev->groups_known = true;
	}
	dev->log = h;
	for (i = 0; i < dev->nvqs; i++) {
		dev->vqs[i].log = (struct vduse_inflight_vq *)((uint8_t *)h + hdr_size(dev->ngroups) +
							      i * vq_stride(qs));
		dev->vqs[i].log_pending = log_pending(h, i);
	}
	return 0;
}

int vduse_inflight_log_pop(struct vduse_vq *vq, uint16_t id, uint16_t pos, uint16_t ndesc)
{
	/*
	 * A driver may not offer a buffer again before it is used; the log
	 * (and the avail position derived from it) relies on that.
	 */
	if (log_state(vq)[id] != ENTRY_FREE) {
		vduse_vq_set_broken(vq, "%s %u made available again while in flight",
				    vq->packed ? "buffer id" : "head", id);
		return -EIO;
	}
	put16(vq, &log_pos(vq)[id], pos);
	if (vq->packed)
		put16(vq, &log_ndesc(vq)[id], ndesc);
	put8(vq, &log_state(vq)[id], ENTRY_INFLIGHT);
	return 0;
}

void vduse_inflight_log_push(struct vduse_vq *vq, uint16_t id)
{
	if (id >= vq->dev->log->queue_size)
		return;
	put8(vq, &log_state(vq)[id], ENTRY_FREE);
}

/*
 * Packed push, before it writes the used descriptor: which completion is in
 * progress at the used position (one 64-bit store). The signal fence keeps
 * the compiler from moving the ring stores that follow above it (were this
 * call inlined).
 */
void vduse_inflight_log_pending(struct vduse_vq *vq, uint16_t id, uint32_t len)
{
	vduse_crash_point(vq->dev);
	__atomic_store_n(vq->log_pending, (uint64_t)len << 32 | (uint32_t)id << 16 |
			 vq->used_idx | (uint32_t)vq->used_wrap << 15, __ATOMIC_RELAXED);
	__atomic_signal_fence(__ATOMIC_SEQ_CST);
}

/* After the used ring (and the states) were written: move the used position. */
void vduse_inflight_log_commit(struct vduse_vq *vq)
{
	put16(vq, &vq->log->used, used_word(vq));
}

void vduse_inflight_group(struct vduse_dev *dev, uint32_t group, uint32_t asid)
{
	if (dev->log)
		__atomic_store_n(&log_groups(dev->log)[group], asid, __ATOMIC_RELEASE);
}

void vduse_inflight_reset(struct vduse_vq *vq)
{
	if (!vq->log)
		return;
	put8(vq, &vq->log->valid, 0);
	memset(log_state(vq), 0, vq->dev->log->queue_size);
}

/* No push in progress at used position @used: a word whose position differs. */
static void pending_clear(struct vduse_vq *vq, uint16_t used)
{
	vduse_crash_point(vq->dev);
	__atomic_store_n(vq->log_pending, (uint64_t)(uint16_t)(used ^ 0x8000), __ATOMIC_RELAXED);
}

/* A fresh log entry for a queue starting at its current positions. */
static void log_init(struct vduse_vq *vq)
{
	put8(vq, &vq->log->valid, 0);
	memset(log_state(vq), 0, vq->dev->log->queue_size);
	put16(vq, &vq->log->used, used_word(vq));
	pending_clear(vq, used_word(vq));
	put8(vq, &vq->log->valid, 1);
}

/* How long ago an entry was popped, in ring positions (larger: older). */
static uint32_t resubmit_age(const struct vduse_vq *vq, const uint16_t *pos, uint16_t e)
{
	uint32_t slot, cur;

	if (!vq->packed)	/* e is a head; pos[] holds its avail index */
		return (uint16_t)(vq->last_avail_idx - pos[e]);
	/* e is slot | lap << 15; unfold both onto a 2 * num line */
	slot = (e & 0x7fff) + ((e >> 15) == vq->avail_wrap ? vq->num : 0);
	cur = vq->last_avail_idx + vq->num;
	return cur >= slot ? cur - slot : cur + 2 * vq->num - slot;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* Newest first in the array (vduse_vq_pop() takes from the end): O(n log n). */
static int order_resubmit(struct vduse_vq *vq)
{
	const uint16_t *pos = log_pos(vq);
	uint64_t *keys;
	uint32_t k;

	if (vq->nr_resubmit < 2)
		return 0;
	keys = malloc(vq->nr_resubmit * sizeof(*keys));
	if (!keys)
		return -ENOMEM;
	for (k = 0; k < vq->nr_resubmit; k++)
		keys[k] = (uint64_t)resubmit_age(vq, pos, vq->resubmit[k]) << 16 |
			  vq->resubmit[k];
	qsort(keys, vq->nr_resubmit, sizeof(*keys), cmp_u64);
	for (k = 0; k < vq->nr_resubmit; k++)
		vq->resubmit[k] = (uint16_t)keys[k];
	free(keys);
	return 0;
}

/* Split: completions in the used ring the log has not caught up with. */
static int resume_split(struct vduse_vq *vq)
{
	uint8_t *st = log_state(vq);
	uint16_t logged = vq->log->used, i;
	uint32_t k, n = 0;

	if ((uint16_t)(vq->used_idx - logged) > vq->num) {
		vd_warn(vq->dev, "vq %u: in-flight log used index %u far from the ring's %u; "
			"log ignored", vq->index, logged, vq->used_idx);
		return -EINVAL;
	}
	for (i = logged; i != vq->used_idx; i++) {
		const struct { uint32_t id, len; } *ue =
			(const void *)((uint8_t *)vq->device + 4 + 8 * (i % vq->num));
		uint32_t id = le32toh(ue->id);

		if (id < vq->num && st[id] == ENTRY_INFLIGHT)
			put8(vq, &st[id], ENTRY_FREE);
	}
	put16(vq, &vq->log->used, vq->used_idx);
	for (k = 0; k < vq->num; k++) {
		if (st[k] == ENTRY_INFLIGHT)
			vq->resubmit[n++] = k;
	}
	vq->nr_resubmit = n;
	vq->last_avail_idx = vq->used_idx + n;
	return 0;
}

static void packed_advance(const struct vduse_vq *vq, uint16_t *slot, bool *wrap, uint32_t by)
{
	uint32_t s = *slot + by;

	if (s >= vq->num) {
		s -= vq->num;
		*wrap = !*wrap;
	}
	*slot = s;
}

/* Packed: used descriptors written after the log's used slot, then the sum. */
static int resume_packed(struct vduse_vq *vq)
{
	const struct { uint64_t addr; uint32_t len; uint16_t id, flags; } *ring = vq->desc;
	uint8_t *st = log_state(vq);
	uint16_t *pos = log_pos(vq), *nd = log_ndesc(vq), slot = vq->log->used & 0x7fff;
	bool wrap = vq->log->used >> 15;
	uint32_t k, sum = 0, lost = 0, steps;
	uint64_t pend;

	if (slot >= vq->num) {
		vd_warn(vq->dev, "vq %u: in-flight log used slot %u beyond the ring; log ignored",
			vq->index, slot);
		return -EINVAL;
	}
	pend = __atomic_load_n(vq->log_pending, __ATOMIC_RELAXED);
	if ((uint16_t)pend == vq->log->used) {
		/*
		 * The old daemon died in the push of this used position: it
		 * may or may not have written the used descriptor, and the
		 * driver may have taken it and refilled the slot since.
		 * Finish it: write it if the driver cannot have seen it, then
		 * log it as any completion the walk below finds.
		 */
		uint16_t id = pend >> 16;
		uint32_t len = pend >> 32;

		if (id >= vq->num || !nd[id] || nd[id] > vq->num) {
			vd_warn(vq->dev, "vq %u: in-flight log pending completion of id %u "
				"is corrupt; log ignored", vq->index, id);
			return -EINVAL;
		}
		/*
		 * Before resume writes to the ring: a genuine push whose used
		 * descriptor is not written yet still has its entry in flight
		 * (the state is cleared after the flags store) and wrote no
		 * more than its chain takes, where the ring still holds the
		 * chain. A word that fails either is corrupt: ignore it, as a
		 * version-2 log would (the walk stops at the available slot,
		 * the buffers in flight are resubmitted).
		 */
		if (vduse_packed_slot_avail(vq, slot, wrap) &&
		    (st[id] != ENTRY_INFLIGHT ||
		     len > vduse_packed_chain_room(vq, pos[id] & 0x7fff, pos[id] >> 15, id))) {
			vd_warn(vq->dev, "vq %u: in-flight log pending completion of id %u "
				"(%u bytes) at slot %u matches no buffer in flight; ignored",
				vq->index, id, len, slot);
		} else {
			if (vduse_packed_finish(vq, slot, wrap, id, len))
				vd_info(vq->dev, "vq %u: completion of id %u at slot %u finished",
					vq->index, id, slot);
			if (st[id] == ENTRY_INFLIGHT)
				put8(vq, &st[id], ENTRY_FREE);
			packed_advance(vq, &slot, &wrap, nd[id]);
		}
	}
	for (steps = 0; steps < vq->num; steps++) {
		uint16_t f = le16toh(ld16_acq(&ring[slot].flags)), id = le16toh(ring[slot].id);
		bool used = !!(f & (1 << 7)) == wrap && !!(f & (1 << 15)) == wrap;

		if (!used || id >= vq->num || !nd[id] || nd[id] > vq->num)
			break;
		if (st[id] == ENTRY_INFLIGHT)
			put8(vq, &st[id], ENTRY_FREE);
		packed_advance(vq, &slot, &wrap, nd[id]);
	}
	put16(vq, &vq->log->used, slot | (wrap ? 0x8000 : 0));
	/* the walk may end where an old pending word points: it is no push in progress */
	if ((uint16_t)__atomic_load_n(vq->log_pending, __ATOMIC_RELAXED) == vq->log->used)
		pending_clear(vq, vq->log->used);
	for (k = 0; k < vq->num; k++) {
		if (st[k] == ENTRY_FREE)
			continue;
		if (!nd[k] || nd[k] > vq->num || (pos[k] & 0x7fff) >= vq->num) {
			vd_warn(vq->dev, "vq %u: in-flight log entry %u is corrupt; log ignored",
				vq->index, k);
			return -EINVAL;
		}
		sum += nd[k];
	}
	if (sum > vq->num) {
		vd_warn(vq->dev, "vq %u: in-flight log holds %u descriptors of %u; log ignored",
			vq->index, sum, vq->num);
		return -EINVAL;
	}
	vq->used_idx = slot;
	vq->used_wrap = wrap;
	vq->last_avail_idx = slot;
	vq->avail_wrap = wrap;
	packed_advance(vq, &vq->last_avail_idx, &vq->avail_wrap, sum);
	vq->nr_resubmit = 0;
	for (k = 0; k < vq->num; k++) {
		if (st[k] != ENTRY_INFLIGHT)
			continue;
		if (vduse_packed_chain_intact(vq, pos[k] & 0x7fff, pos[k] >> 15, k)) {
			vq->resubmit[vq->nr_resubmit++] = pos[k];
		} else {
			put8(vq, &st[k], ENTRY_LOST);
			lost++;
		}
	}
	if (lost)
		vd_warn(vq->dev, "vq %u: %u in-flight packed buffers were overwritten "
			"by used descriptors and cannot be resubmitted", vq->index, lost);
	return 0;
}

/*
 * Called when a queue starts. A valid entry means the daemon restarted while
 * the driver kept the queue running: continue from the log and queue the
 * unfinished buffers for resubmission (returns 1: the ring positions are
 * the log's). Otherwise (no log, a blank, mismatched or unusable entry)
 * start a fresh entry at the positions the caller set and return 0: the
 * caller resumes exactly as without a log. A negative errno (-ENOMEM) leaves
 * the log as it was, still meaning the same thing, for a later attempt.
 */
int vduse_inflight_resume(struct vduse_vq *vq)
{
	int err;

	if (!vq->log)
		return 0;
	vq->nr_resubmit = 0;
	if (!vq->log->valid || vq->num > vq->dev->log->queue_size) {
		log_init(vq);
		return 0;
	}
	if (!vq->resubmit) {
		vq->resubmit = calloc(vq->dev->log->queue_size, sizeof(*vq->resubmit));
		if (!vq->resubmit)
			return -ENOMEM;
	}
	err = vq->packed ? resume_packed(vq) : resume_split(vq);
	if (!err)
		err = order_resubmit(vq);
	if (err) {
		vq->nr_resubmit = 0;
		if (err == -ENOMEM)
			return err;
		/* unusable: positions untouched (resume_*() set them last) */
		log_init(vq);
		return 0;
	}
	vq->inflight = 0;
	if (vq->nr_resubmit)
		vd_info(vq->dev, "vq %u: resubmitting %u in-flight requests", vq->index,
			vq->nr_resubmit);
	return 1;
}
