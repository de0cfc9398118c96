// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Split virtqueue: descriptor chains (direct and indirect), used ring and
 * interrupt suppression (flags or event index).
 *
 * Everything the driver wrote is read once into local copies and checked:
 * head and next indexes, chain length (loops), indirect tables (size, no
 * nesting, no NEXT alongside INDIRECT), address wrap-around and the total
 * length. A bad chain marks the queue broken; nothing is read outside a
 * mapping the kernel handed us.
 */
#include <endian.h>
#include <errno.h>
#include <string.h>
#include <linux/virtio_ring.h>
#include "internal.h"

HOT_PATH int vduse_split_parse(struct vduse_vq *vq, uint16_t head, struct vduse_req **reqp)
{
	/* small indirect tables (a block request's 3 - 4) stay on the hot stack */
	struct vring_desc small[16];
	const struct vring_desc *table = vq->desc;
	struct vduse_region *treg = NULL;	/* holds a table read in place */
	struct vduse_chain c;
	struct vduse_req_int *r;
	uint32_t tnum = vq->num, count = 0;
	bool in_indirect = false;
	uint16_t i = head;

	if (head >= vq->num) {
		vduse_vq_set_broken(vq, "head index %u out of range (size %u)", head, vq->num);
		return -EIO;
	}
	vduse_chain_init(vq, &c);
	for (;;) {
		struct vring_desc d;
		uint16_t flags;

		if (++count > tnum) {
			vduse_vq_set_broken(vq, "descriptor chain at head %u loops or exceeds %u",
					    head, tnum);
			goto bad;
		}
		memcpy(&d, &table[i], sizeof(d));
		flags = le16toh(d.flags);
		if (flags & VRING_DESC_F_INDIRECT) {
			uint32_t len = le32toh(d.len);

			if (in_indirect) {
				vduse_vq_set_broken(vq, "indirect descriptor inside an indirect table");
				goto bad;
			}
			if (!vq->indirect) {
				vduse_vq_set_broken(vq, "indirect descriptor without INDIRECT_DESC");
				goto bad;
			}
			if (flags & VRING_DESC_F_NEXT) {
				vduse_vq_set_broken(vq, "descriptor has both INDIRECT and NEXT");
				goto bad;
			}
			if (!len || len % 16 || len / 16 > VDUSE_MAX_INDIRECT) {
				vduse_vq_set_broken(vq, "indirect table of %u bytes", len);
				goto bad;
			}
			/*
			 * In the region of the last translation (the bounce
			 * area, nearly always): read in place like the ring's
			 * own table, each descriptor once into d, if aligned as
			 * the ring is (checked at its mapping). Else copied.
			 * The queue lets go of that region when a buffer lies
			 * elsewhere, and a full cache then evicts it: the
			 * chain holds it until the table is read.
			 */
			table = (const struct vring_desc *)vduse_vq_xl_hit(vq, c.as, le64toh(d.addr), len,
									    PROT_READ);
			if (table && !((uintptr_t)table & 15)) {
				treg = vq->xl_reg;
				vduse_region_get(treg);
			} else {
				table = len <= sizeof(small) ? small
							     : (const struct vring_desc *)vq->indbuf;
				if (vduse_iotlb_copy_from(vq->dev, vduse_vq_cache(vq),
							  vq->asid, le64toh(d.addr),
							  (void *)table, len)) {
					vduse_vq_set_broken(vq, "indirect table at %#llx is outside "
							    "every mapping",
							    (unsigned long long)le64toh(d.addr));
					goto bad;
				}
			}
			tnum = len / 16;
			count = 0;
			i = 0;
			in_indirect = true;
			continue;
		}
		if (vduse_chain_add(vq, &c, le64toh(d.addr), le32toh(d.len),
				    flags & VRING_DESC_F_WRITE))
			goto bad;
		if (!(flags & VRING_DESC_F_NEXT))
			break;
		i = le16toh(d.next);
		if (i >= tnum) {
			vduse_vq_set_broken(vq, "next index %u out of range (%u)", i, tnum);
			goto bad;
		}
	}
	if (treg)
		vduse_region_put(treg);
	r = vduse_req_build(vq, &c);
	if (!r) {
		vduse_chain_drop(vq, &c);
		return -ENOMEM;
	}
	r->pub.id = head;
	*reqp = &r->pub;
	return 1;
bad:
	if (treg)
		vduse_region_put(treg);
	vduse_chain_drop(vq, &c);
	return -EIO;
}

int vduse_split_enable_notify(struct vduse_vq *vq)
{
	return vduse_split_arm(vq) != vq->last_avail_idx;
}

void vduse_split_disable_notify(struct vduse_vq *vq)
{
	/* with EVENT_IDX a stale avail_event already means "no more kicks" */
	vq->armed = false;
	if (!vq->event_idx && !vq->kick_off_set) {
		st16_rel(vq->device, htole16(VRING_USED_F_NO_NOTIFY));
		vq->kick_off_set = true;
	}
}

/* vduse_split_pop() with @avail_idx, the driver's, ahead of ours. */
HOT_PATH int vduse_split_pop_avail(struct vduse_vq *vq, uint16_t avail_idx, struct vduse_req **reqp)
{
	uint16_t head;
	int ret;

	if ((uint16_t)(avail_idx - vq->last_avail_idx) > vq->num) {
		vduse_vq_set_broken(vq, "available index moved from %u to %u (size %u)",
				    vq->last_avail_idx, avail_idx, vq->num);
		return -EIO;
	}
	head = le16toh(__atomic_load_n(&VDUSE_AVAIL_RING(vq)[vq->last_avail_idx & (vq->num - 1)],
				       __ATOMIC_RELAXED));
	ret = vduse_split_parse(vq, head, reqp);
	if (ret <= 0)
		return ret;
	if (vduse_inflight_pop(vq, head, vq->last_avail_idx, 1)) {
		vduse_req_release((struct vduse_req_int *)*reqp);
		*reqp = NULL;
		return -EIO;
	}
	vq->last_avail_idx++;
	return 1;
}
