// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Packed virtqueue: descriptors are consumed in ring order and returned as
 * used descriptors carrying the buffer id; wrap counters tell which lap a
 * slot belongs to. Event suppression uses the driver's event structure.
 */
#include <endian.h>
#include <errno.h>
#include <string.h>
#include "internal.h"

struct pdesc {
	uint64_t addr;
	uint32_t len;
	uint16_t id;
	uint16_t flags;
};

#define PD_NEXT		1
#define PD_WRITE	2
#define PD_INDIRECT	4
#define PD_AVAIL	(1 << 7)
#define PD_USED		(1 << 15)

#define EVT_ENABLE	0
#define EVT_DISABLE	1
#define EVT_DESC	2

static bool desc_avail(uint16_t flags, bool wrap)
{
	return !!(flags & PD_AVAIL) == wrap && !!(flags & PD_USED) != wrap;
}

static int add_indirect(struct vduse_vq *vq, struct vduse_chain *c, const struct pdesc *d)
{
	uint32_t len = le32toh(d->len), n, i;
	const struct pdesc *t;

	if (!vq->indirect) {
		vduse_vq_set_broken(vq, "indirect descriptor without INDIRECT_DESC");
		return -EIO;
	}
	if (!len || len % 16 || len / 16 > VDUSE_MAX_INDIRECT) {
		vduse_vq_set_broken(vq, "indirect table of %u bytes", len);
		return -EIO;
	}
	if (vduse_iotlb_copy_from(vq->dev, vduse_vq_cache(vq), vq->asid, le64toh(d->addr),
				  vq->indbuf, len)) {
		vduse_vq_set_broken(vq, "indirect table at %#llx is outside every mapping",
				    (unsigned long long)le64toh(d->addr));
		return -EIO;
	}
	t = (const struct pdesc *)vq->indbuf;
	n = len / 16;
	for (i = 0; i < n; i++) {
		uint16_t f = le16toh(t[i].flags);

		if (f & PD_INDIRECT) {
			vduse_vq_set_broken(vq, "indirect descriptor inside an indirect table");
			return -EIO;
		}
		if (vduse_chain_add(vq, c, le64toh(t[i].addr), le32toh(t[i].len), f & PD_WRITE))
			return -EIO;
	}
	return 0;
}

/*
 * Parse the chain starting at ring slot @pos of lap @wrap. On a resubmit
 * (daemon restart) the slots are known to be ours, so their avail bits are
 * not checked again. Returns 1 with *reqp, 0 if nothing is available.
 */
HOT int vduse_packed_parse(struct vduse_vq *vq, uint16_t pos, bool wrap, bool resubmit,
		       struct vduse_req **reqp)
{
	struct pdesc *ring = vq->desc;
	struct vduse_chain c;
	struct vduse_req_int *r;
	uint16_t p = pos, id = 0, flags;
	uint32_t count = 0;
	bool w = wrap;

	if (pos >= vq->num) {
		vduse_vq_set_broken(vq, "packed slot %u out of range (size %u)", pos, vq->num);
		return -EIO;
	}
	flags = le16toh(ld16_acq(&ring[pos].flags));
	if (!resubmit && !desc_avail(flags, wrap))
		return 0;
	vduse_chain_init(vq, &c);
	for (;;) {
		struct pdesc d;

		if (++count > vq->num) {
			vduse_vq_set_broken(vq, "packed chain at slot %u exceeds the ring (%u)",
					    pos, vq->num);
			goto bad;
		}
		memcpy(&d, &ring[p], sizeof(d));
		flags = le16toh(d.flags);
		if (count > 1 && !resubmit && !desc_avail(flags, w)) {
			vduse_vq_set_broken(vq, "packed chain at slot %u runs into an unavailable slot",
					    pos);
			goto bad;
		}
		if (flags & PD_INDIRECT) {
			if (flags & PD_NEXT) {
				vduse_vq_set_broken(vq, "descriptor has both INDIRECT and NEXT");
				goto bad;
			}
			if (add_indirect(vq, &c, &d))
				goto bad;
		} else if (vduse_chain_add(vq, &c, le64toh(d.addr), le32toh(d.len),
					   flags & PD_WRITE)) {
			goto bad;
		}
		id = le16toh(d.id);
		if (++p == vq->num) {
			p = 0;
			w = !w;
		}
		if (!(flags & PD_NEXT))
			break;
	}
	if (id >= vq->num) {
		vduse_vq_set_broken(vq, "buffer id %u out of range (size %u)", id, vq->num);
		goto bad;
	}
	r = vduse_req_build(vq, &c);
	if (!r) {
		vduse_chain_drop(vq, &c);
		return -ENOMEM;
	}
	r->pub.id = id;
	r->ndesc = count;
	r->pos = pos;
	if (!resubmit) {
		if (vduse_inflight_pop(vq, id, pos | (wrap ? 0x8000 : 0), count)) {
			vduse_req_release(r);
			return -EIO;
		}
		vq->last_avail_idx = p;
		vq->avail_wrap = w;
	}
	*reqp = &r->pub;
	return 1;
bad:
	vduse_chain_drop(vq, &c);
	return -EIO;
}

/*
 * Kicks: the device event structure says ENABLE from the queue's start on,
 * so the driver kicks for every batch, unless the device polls with
 * vduse_vq_disable_notify(). Turning it back on stores ENABLE, then (full
 * fence, pairing with the driver's between publishing and reading our
 * flags) looks at the ring again: a buffer made available meanwhile may
 * have come without a kick.
 */
int vduse_packed_enable_notify(struct vduse_vq *vq)
{
	uint16_t *evt = vq->device;	/* { off_wrap, flags } */
	uint16_t f;

	if (vq->kick_off_set) {
		st16_rel(&evt[1], htole16(EVT_ENABLE));
		vq->kick_off_set = false;
	}
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	f = le16toh(ld16_acq(&((struct pdesc *)vq->desc)[vq->last_avail_idx].flags));
	return desc_avail(f, vq->avail_wrap);
}

void vduse_packed_disable_notify(struct vduse_vq *vq)
{
	if (!vq->kick_off_set) {
		st16_rel(&((uint16_t *)vq->device)[1], htole16(EVT_DISABLE));
		vq->kick_off_set = true;
	}
}

HOT int vduse_packed_pop(struct vduse_vq *vq, struct vduse_req **reqp)
{
	int ret = vduse_packed_parse(vq, vq->last_avail_idx, vq->avail_wrap, false, reqp);

	/* empty after polling with kicks off: turn them on and look again */
	if (!ret && vq->kick_off_set && !vq->notify_off && vduse_packed_enable_notify(vq))
		ret = vduse_packed_parse(vq, vq->last_avail_idx, vq->avail_wrap, false, reqp);
	return ret;
}

HOT int vduse_packed_push(struct vduse_vq *vq, struct vduse_req_int *r, uint32_t len)
{
	struct pdesc *d = (struct pdesc *)vq->desc + vq->used_idx;
	uint16_t flags = vq->used_wrap ? PD_AVAIL | PD_USED : 0;
	uint32_t next;

	if (len)
		flags |= PD_WRITE;
	vduse_inflight_pending(vq, r->pub.id, len);
	vduse_crash_point(vq->dev);
	d->id = htole16(r->pub.id);
	d->len = htole32(len);
	vduse_crash_point(vq->dev);
	st16_rel(&d->flags, htole16(flags));
	next = vq->used_idx + (r->ndesc ? r->ndesc : 1);
	if (next >= vq->num) {
		next -= vq->num;
		vq->used_wrap = !vq->used_wrap;
	}
	vq->used_idx = next;
	return 0;
}

HOT int vduse_packed_need_irq(struct vduse_vq *vq)
{
	const uint16_t *evt = vq->driver;	/* { off_wrap, flags } */
	uint16_t flags = le16toh(ld16_acq(&evt[1]));
	uint16_t old = vq->signalled_used, new_idx = vq->used_idx, off_wrap, event;
	bool valid = vq->signalled_valid;

	vq->signalled_used = new_idx;
	vq->signalled_valid = true;
	if (flags == EVT_DISABLE)
		return 0;
	if (flags != EVT_DESC || !vq->event_idx)
		return 1;
	if (!valid)
		return 1;
	off_wrap = le16toh(ld16_acq(&evt[0]));
	event = off_wrap & 0x7fff;
	/*
	 * Positions are ring slots; unfold the lap so that old < new and the
	 * event sit on one 16-bit line, then use the usual window test.
	 */
	if (new_idx <= old)
		old -= vq->num;
	if (!!(off_wrap >> 15) != vq->used_wrap)
		event -= vq->num;
	return vduse_need_event(event, new_idx, old);
}

/*
 * After a restart: is the chain of buffer @id still in the ring at @slot of
 * lap @wrap? Used descriptors written for buffers completed out of order
 * may have overwritten it; then it cannot be rebuilt.
 */
bool vduse_packed_chain_intact(struct vduse_vq *vq, uint16_t slot, bool wrap, uint16_t id)
{
	const struct pdesc *ring = vq->desc;
	uint32_t count;

	if (slot >= vq->num)
		return false;
	for (count = 0; count < vq->num; count++) {
		uint16_t f = le16toh(ld16_acq(&ring[slot].flags));

		if (!desc_avail(f, wrap))
			return false;
		if (!(f & PD_NEXT))
			return le16toh(ring[slot].id) == id;
		if (++slot == vq->num) {
			slot = 0;
			wrap = !wrap;
		}
	}
	return false;
}

/*
 * After a restart, the push of buffer @id (@len bytes written) at used slot
 * @slot of lap @wrap was in progress. If the slot still holds an available
 * descriptor of that lap, the driver never saw the used descriptor (which
 * would have made the slot the driver's again): write it, as the push
 * would have, and return true. Otherwise it was written (and maybe the
 * slot refilled since): leave the ring alone.
 */
bool vduse_packed_finish(struct vduse_vq *vq, uint16_t slot, bool wrap, uint16_t id, uint32_t len)
{
	struct pdesc *d = (struct pdesc *)vq->desc + slot;

	if (slot >= vq->num || !desc_avail(le16toh(ld16_acq(&d->flags)), wrap))
		return false;
	d->id = htole16(id);
	d->len = htole32(len);
	vduse_crash_point(vq->dev);
	st16_rel(&d->flags, htole16((wrap ? PD_AVAIL | PD_USED : 0) | (len ? PD_WRITE : 0)));
	return true;
}
