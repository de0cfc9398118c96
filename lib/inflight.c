// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * In-flight log: optional memory supplied by the device (a memfd or file
 * that survives the daemon) where the library records, per queue, the ring
 * positions and which split-ring heads are popped but not yet used, plus
 * each group's address space (which the kernel cannot be asked for). After
 * a restart, vduse_dev_attach() resumes from it and resubmits the requests
 * the old daemon never completed, oldest first.
 *
 * Packed rings log the ring slot and lap of each in-flight buffer. A chain
 * can be rebuilt only if its slots still hold it: used descriptors written
 * for buffers completed out of order may have overwritten them, and such
 * requests are reported as lost.
 */
#include <endian.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "internal.h"

#define LOG_VERSION 1

static size_t vq_stride(unsigned int qs)
{
	return (sizeof(struct vduse_inflight_vq) + 3ull * qs + 7) & ~7ull;
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
	return hdr_size(ngroups ? ngroups : 1) + num_queues * vq_stride(queue_size);
}

static uint32_t *log_groups(struct vduse_inflight_hdr *h)
{
	return (uint32_t *)(h + 1);
}

static uint8_t *log_flags(struct vduse_vq *vq)
{
	return vq->log->data;
}

static uint16_t *log_pos(struct vduse_vq *vq)
{
	return (uint16_t *)(vq->log->data + vq->dev->log->queue_size);
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
	valid = h->magic == VDUSE_INFLIGHT_MAGIC && h->version == LOG_VERSION &&
		h->num_queues == dev->nvqs && h->queue_size == qs && h->ngroups == dev->ngroups;
	if (attach && h->magic && !valid)
		vd_warn(dev, "in-flight log does not match this device; starting a new one");
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
		}
	}
	dev->log = h;
	for (i = 0; i < dev->nvqs; i++)
		dev->vqs[i].log = (struct vduse_inflight_vq *)((uint8_t *)h + hdr_size(dev->ngroups) +
							      i * vq_stride(qs));
	return 0;
}

static void log_positions(struct vduse_vq *vq)
{
	vq->log->last_avail_idx = vq->last_avail_idx;
	vq->log->avail_wrap = vq->avail_wrap;
	vq->log->used_idx = vq->used_idx;
	vq->log->used_wrap = vq->used_wrap;
}

void vduse_inflight_pop(struct vduse_vq *vq, uint16_t id, uint16_t pos)
{
	if (!vq->log)
		return;
	log_pos(vq)[id] = pos;
	/* the flag is set before the position that makes the head "ours" */
	__atomic_store_n(&log_flags(vq)[id], 1, __ATOMIC_RELEASE);
	log_positions(vq);
}

void vduse_inflight_push(struct vduse_vq *vq, uint16_t id)
{
	if (!vq->log || id >= vq->dev->log->queue_size)
		return;
	log_positions(vq);
	__atomic_store_n(&log_flags(vq)[id], 0, __ATOMIC_RELEASE);
}

void vduse_inflight_group(struct vduse_dev *dev, uint32_t group, uint32_t asid)
{
	if (dev->log)
		log_groups(dev->log)[group] = asid;
}

void vduse_inflight_reset(struct vduse_vq *vq)
{
	if (!vq->log)
		return;
	vq->log->valid = 0;
	memset(log_flags(vq), 0, vq->dev->log->queue_size);
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

/*
 * Called when a queue starts. A valid entry means the daemon restarted while
 * the driver kept the queue running: continue from the logged positions and
 * queue the unfinished heads for resubmission.
 */
int vduse_inflight_resume(struct vduse_vq *vq)
{
	uint16_t *pos, used, i, n;
	uint32_t k;
	uint8_t *fl;

	if (!vq->log)
		return 0;
	if (vq->log->valid && vq->packed &&
	    (vq->log->last_avail_idx >= vq->num || vq->log->used_idx >= vq->num)) {
		vd_warn(vq->dev, "vq %u: in-flight log positions beyond the ring; ignored", vq->index);
		vq->log->valid = 0;
	}
	if (!vq->log->valid || vq->num > vq->dev->log->queue_size) {
		memset(log_flags(vq), 0, vq->dev->log->queue_size);
		log_positions(vq);
		vq->log->valid = 1;
		return 0;
	}
	fl = log_flags(vq);
	pos = log_pos(vq);
	vq->last_avail_idx = vq->log->last_avail_idx;
	vq->avail_wrap = vq->log->avail_wrap;
	if (!vq->resubmit) {
		vq->resubmit = calloc(vq->dev->log->queue_size, sizeof(*vq->resubmit));
		if (!vq->resubmit)
			return -ENOMEM;
	}
	vq->nr_resubmit = 0;
	if (vq->packed) {
		vq->used_idx = vq->log->used_idx;
		vq->used_wrap = vq->log->used_wrap;
		for (k = 0, n = 0; k < vq->num; k++) {
			if (!fl[k])
				continue;
			if (vduse_packed_chain_intact(vq, pos[k] & 0x7fff, pos[k] >> 15, k)) {
				vq->resubmit[vq->nr_resubmit++] = pos[k];
			} else {
				fl[k] = 0;
				n++;
			}
		}
		if (n)
			vd_warn(vq->dev, "vq %u: %u in-flight packed buffers were overwritten "
				"by used descriptors and cannot be resubmitted", vq->index, n);
		goto order;
	}
	/* heads the old daemon made used but had not yet cleared */
	used = vq->used_idx;
	for (i = vq->log->used_idx; i != used; i++) {
		const struct { uint32_t id, len; } *ue =
			(const void *)((uint8_t *)vq->device + 4 + 8 * (i % vq->num));
		uint32_t id = le32toh(ue->id);

		if (id < vq->num)
			fl[id] = 0;
	}
	for (k = 0; k < vq->num; k++) {
		if (fl[k])
			vq->resubmit[vq->nr_resubmit++] = k;
	}
order:
	/* newest first in the array: vduse_vq_pop() takes from the end */
	for (k = 1; k < vq->nr_resubmit; k++) {
		uint16_t h = vq->resubmit[k], age = resubmit_age(vq, pos, h);
		uint32_t j = k;

		while (j > 0 && resubmit_age(vq, pos, vq->resubmit[j - 1]) > age) {
			vq->resubmit[j] = vq->resubmit[j - 1];
			j--;
		}
		vq->resubmit[j] = h;
	}
	vq->inflight = 0;
	log_positions(vq);
	if (vq->nr_resubmit)
		vd_info(vq->dev, "vq %u: resubmitting %u in-flight requests", vq->index,
			vq->nr_resubmit);
	return 0;
}
