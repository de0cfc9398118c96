// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Virtqueue life cycle and the parts shared by the split and packed rings:
 * ring mapping through the queue's current address space, request building,
 * pop/push/notify dispatch and the copy helpers.
 */
#include <endian.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>
#include "internal.h"

void vduse_vq_set_broken(struct vduse_vq *vq, const char *fmt, ...)
{
	char buf[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (!vq->broken) {
		vd_err(vq->dev, "vq %u: %s; queue marked broken until reset", vq->index, buf);
		memcpy(vq->broken_reason, buf, sizeof(buf));
	}
	vq->broken = true;
}

void vduse_vq_unmap_ring(struct vduse_vq *vq)
{
	unsigned int i;

	for (i = 0; i < 3; i++) {
		if (vq->ring_reg[i])
			vduse_region_put(vq->ring_reg[i]);
		vq->ring_reg[i] = NULL;
	}
	vq->desc = vq->driver = vq->device = NULL;
	vq->ring_ok = false;
}

static void ring_sizes(const struct vduse_vq *vq, uint64_t *d, uint64_t *dr, uint64_t *dv)
{
	if (vq->packed) {
		*d = 16ull * vq->num;
		*dr = 4;
		*dv = 4;
	} else {
		/* avail/used rings carry the event index words at their ends */
		*d = 16ull * vq->num;
		*dr = 6 + 2ull * vq->num;
		*dv = 6 + 8ull * vq->num;
	}
}

/* One ring area: in one cached mapping (the common case), or stitched. */
static void *ring_area(struct vduse_vq *vq, uint32_t asid, uint64_t iova, uint64_t len, int prot,
		       struct vduse_region **reg)
{
	void *p = vduse_iotlb_map_contig(vq->dev, vduse_vq_cache(vq), asid, iova, len, prot, reg);

	return p ? p : vduse_iotlb_map_stitched(vq->dev, vduse_vq_cache(vq), asid, iova, len, prot, reg);
}

/* (Re)resolve the ring areas through the queue's current address space. */
int vduse_vq_map_ring(struct vduse_vq *vq)
{
	uint32_t asid = vq->asid;
	uint64_t dsz, drsz, dvsz;

	if (vduse_vq_ring_current(vq))
		return 0;
	vduse_vq_unmap_ring(vq);
	vq->ring_asid = asid;
	vq->ring_gen = vduse_vq_as(vq)->gen;
	vq->ring_gen_src = &vduse_vq_as(vq)->gen;
	ring_sizes(vq, &dsz, &drsz, &dvsz);
	vq->desc = ring_area(vq, asid, vq->desc_iova, dsz,
			     vq->packed ? PROT_READ | PROT_WRITE : PROT_READ, &vq->ring_reg[0]);
	vq->driver = ring_area(vq, asid, vq->driver_iova, drsz, PROT_READ, &vq->ring_reg[1]);
	vq->device = ring_area(vq, asid, vq->device_iova, dvsz, PROT_READ | PROT_WRITE,
			       &vq->ring_reg[2]);
	if (!vq->desc || !vq->driver || !vq->device) {
		vduse_vq_unmap_ring(vq);
		vduse_vq_set_broken(vq, "ring at desc %#llx driver %#llx device %#llx (size %u) "
				    "is outside every mapping of ASID %u (or spans mappings whose "
				    "pages do not line up)",
				    (unsigned long long)vq->desc_iova,
				    (unsigned long long)vq->driver_iova,
				    (unsigned long long)vq->device_iova, vq->num, asid);
		return -EIO;
	}
	/*
	 * The rings are read and written with aligned (atomic) 16- and 32-bit
	 * accesses; a driver's misaligned ring would fault on strict-alignment
	 * CPUs. virtio: descriptors 16, avail 2, used 4, packed event areas 4.
	 */
	if (((uintptr_t)vq->desc & 15) || ((uintptr_t)vq->driver & (vq->packed ? 3 : 1)) ||
	    ((uintptr_t)vq->device & 3)) {
		vduse_vq_unmap_ring(vq);
		vduse_vq_set_broken(vq, "misaligned ring: desc %#llx driver %#llx device %#llx",
				    (unsigned long long)vq->desc_iova,
				    (unsigned long long)vq->driver_iova,
				    (unsigned long long)vq->device_iova);
		return -EIO;
	}
	vq->ring_ok = true;
	return 0;
}

int vduse_vq_start(struct vduse_vq *vq, const struct vduse_vq_info *info)
{
	struct vduse_dev *dev = vq->dev;
	size_t segs = VDUSE_MAX_SEGS;
	int err;

	/*
	 * Scratch first, each buffer on its own: a queue must never run (nor a
	 * later start skip the allocation) with one of them missing.
	 */
	if (!vq->seg)
		vq->seg = calloc(segs, sizeof(*vq->seg));
	if (!vq->segreg)
		vq->segreg = calloc(segs, sizeof(*vq->segreg));
	if (!vq->indbuf)
		vq->indbuf = malloc(16 * VDUSE_MAX_INDIRECT);
	if (!vq->seg || !vq->segreg || !vq->indbuf) {
		vd_err(dev, "vq %u: out of memory for the request scratch", vq->index);
		return -ENOMEM;
	}
	vq->packed = dev->features & (1ull << VF_RING_PACKED);
	vq->event_idx = dev->features & (1ull << VF_EVENT_IDX);
	vq->indirect = dev->features & (1ull << VF_INDIRECT_DESC);
	vq->num = info->num;
	vq->desc_iova = info->desc_addr;
	vq->driver_iova = info->driver_addr;
	vq->device_iova = info->device_addr;
	vq->broken = false;
	vq->need_notify = false;
	vq->notify_off = false;
	vq->kick_off_set = false;
	vq->armed = false;
	vq->signalled_valid = false;
	vq->inflight = 0;
	vq->started = true;
	if (!vq->num || vq->num > vq->max_size || vq->num > VDUSE_MAX_QUEUE_SIZE ||
	    (!vq->packed && (vq->num & (vq->num - 1)))) {
		vduse_vq_set_broken(vq, "bad ring size %u (max %u)", vq->num, vq->max_size);
		return -EIO;
	}
	if (vq->packed) {
		vq->last_avail_idx = info->packed.last_avail_idx & 0x7fff;
		vq->avail_wrap = !!info->packed.last_avail_counter;
		vq->used_idx = info->packed.last_used_idx & 0x7fff;
		vq->used_wrap = !!info->packed.last_used_counter;
		if (vq->last_avail_idx >= vq->num || vq->used_idx >= vq->num) {
			vduse_vq_set_broken(vq, "packed ring position beyond size %u", vq->num);
			return -EIO;
		}
	} else {
		vq->last_avail_idx = info->split.avail_index;
	}
	if (vduse_vq_map_ring(vq))
		return -EIO;
	if (!vq->packed)	/* the used index in memory is the truth on resume */
		vq->used_idx = le16toh(ld16_acq((uint8_t *)vq->device + 2));
	err = vduse_inflight_resume(vq);
	if (err < 0) {
		/*
		 * Out of memory for the resubmission list: running the queue
		 * would neither resubmit the requests in flight nor know where
		 * the driver is. Fail the start (the caller fails the attach or
		 * DRIVER_OK); the log still means what it did, so a later
		 * attach can resume from it.
		 */
		vduse_vq_set_broken(vq, "no memory to resume from the in-flight log");
		return err;
	}
	if (err == 0 && dev->attaching) {
		/*
		 * A restarted daemon without a usable in-flight log (none, or
		 * one that was blank, did not match or was corrupt): the
		 * kernel's avail index is where the driver started, not where
		 * the old daemon got to. Assume it completed everything it
		 * took.
		 */
		if (!vq->packed)
			vq->last_avail_idx = vq->used_idx;
		else
			vd_warn(dev, "vq %u: packed ring resumed without a usable in-flight "
				"log; position from VQ_GET_INFO", vq->index);
	}
	/* kicks on: a previous daemon may have left them off */
	if (vq->packed) {
		st16_rel((uint16_t *)vq->device + 1, 0);
	} else {
		st16_rel(vq->device, 0);
		if (vq->event_idx)	/* kick us at the next new buffer */
			st16_rel((uint8_t *)vq->device + 4 + 8ull * vq->num,
				 htole16(vq->last_avail_idx));
	}
	vd_dbg(dev, "vq %u started: %s size %u avail %u used %u ASID %u", vq->index,
	       vq->packed ? "packed" : "split", vq->num, vq->last_avail_idx, vq->used_idx,
	       vq->asid);
	return 0;
}

void vduse_vq_forget_xlate(struct vduse_vq *vq)
{
	if (vq->xl_reg)
		vduse_region_put(vq->xl_reg);
	vq->xl_reg = NULL;
}

/*
 * After an invalidation (queue lock held, message side): let go of a
 * remembered region it made dead, so that its mapping goes with the last
 * request using it rather than with the queue's next translation.
 */
void vduse_vq_drop_dead_xlate(struct vduse_vq *vq)
{
	if (vq->xl_reg && vq->xl_reg->dead)
		vduse_vq_forget_xlate(vq);
}

void vduse_vq_stop(struct vduse_vq *vq)
{
	vduse_vq_forget_xlate(vq);
	vduse_vq_unmap_ring(vq);
	vq->started = false;
	vq->broken = false;
	vq->generation++;
	vq->inflight = 0;
	vq->nr_resubmit = 0;
}

/*
 * Start a queue the driver enabled after DRIVER_OK (no message says so).
 * With the device lock held (not the queue's).
 */
int vduse_vq_try_start(struct vduse_vq *vq)
{
	struct vduse_dev *dev = vq->dev;
	struct vduse_vq_info info;
	int err;

	if (vduse_vq_started(vq) || !dev->running || dev->stopping)
		return 0;
	memset(&info, 0, sizeof(info));
	info.index = vq->index;
	if (vd_ioctl(dev, VDUSE_VQ_GET_INFO, &info) < 0) {
		err = -errno;
		vd_err(dev, "VQ_GET_INFO(%u): %s", vq->index, strerror(errno));
		return err;
	}
	if (!info.ready)
		return 0;
	vduse_vq_lock_msg(vq);
	err = vq->started ? -EALREADY : vduse_vq_start(vq, &info);
	vduse_vq_unlock(vq);
	if (err)
		return err == -EALREADY ? 0 : err;
	if (dev->o.queue_ready)
		dev->o.queue_ready(dev, vq, dev->o.user);
	return 1;
}

/* vduse_chain_init() with the pool empty: a new pooled request, or the scratch. */
void vduse_chain_init_slow(struct vduse_vq *vq, struct vduse_chain *c)
{
	struct vduse_req_int *r = malloc(VDUSE_POOL_REQ_SIZE);

	memset(c, 0, sizeof(*c));
	c->as = vduse_vq_as(vq);
	if (r) {
		c->r = r;
		c->iov = (struct iovec *)(r + 1);
		c->reg = (struct vduse_region **)(c->iov + VDUSE_POOL_SEGS);
		c->cap = VDUSE_POOL_SEGS;
	} else {
		/* vduse_req_build() tries again */
		c->iov = vq->seg;
		c->reg = vq->segreg;
		c->cap = VDUSE_MAX_SEGS;
	}
}

static void pool_put(struct vduse_vq *vq, struct vduse_req_int *r)
{
	r->next = vq->pool;
	vq->pool = r;
}

/* A rejected chain: drop its segments' references and its pooled request. */
void vduse_chain_drop(struct vduse_vq *vq, struct vduse_chain *c)
{
	while (c->nseg)
		vduse_region_put(c->reg[--c->nseg]);
	if (c->r)
		pool_put(vq, c->r);
	c->r = NULL;
}

int vduse_chain_add_slow(struct vduse_vq *vq, struct vduse_chain *c, uint64_t addr,
			 uint32_t len, bool writable)
{
	int prot = writable ? PROT_WRITE : PROT_READ;
	struct vduse_region *r;
	struct vduse_as *as;
	unsigned int nseg;
	uint64_t misses;
	int err;

	if (!writable && c->writable_seen) {
		vduse_vq_set_broken(vq, "readable descriptor after a writable one");
		return -EIO;
	}
	if (len && addr + (len - 1) < addr) {
		vduse_vq_set_broken(vq, "descriptor [%#llx + %u] wraps around",
				    (unsigned long long)addr, len);
		return -EIO;
	}
	c->total += len;
	if (c->total > UINT32_MAX) {
		vduse_vq_set_broken(vq, "chain longer than 4 GiB");
		return -EIO;
	}
	if (writable)
		c->writable_seen = true;
	if (!len)
		return 0;
	as = vduse_vq_as(vq);
	r = vq->xl_reg;
	if (r && r->as == as && !r->dead && addr >= r->start && addr + (len - 1) <= r->last &&
	    (r->prot & prot) == prot && c->nseg < c->cap) {
		/* in the region of the last translation: no lookup */
		c->iov[c->nseg].iov_base = r->addr + (addr - r->start);
		c->iov[c->nseg].iov_len = len;
		c->reg[c->nseg++] = r;
		r->refs++;
		as->hits++;
		vq->st.iotlb_hits++;
		if (!writable) {
			c->nr_readable = c->nseg;
			c->readable_total = c->total;
		}
		return 0;
	}
	misses = as->misses;
	nseg = c->nseg;
	err = vduse_iotlb_translate(vq->dev, vduse_vq_cache(vq), vq->asid, addr, len,
				    prot, c->iov, c->reg, c->cap, &c->nseg);
	if (err == -E2BIG && c->cap < VDUSE_MAX_SEGS) {
		/* more than a pooled request holds: go on in the queue's scratch */
		memcpy(vq->seg, c->iov, c->nseg * sizeof(*c->iov));
		memcpy(vq->segreg, c->reg, c->nseg * sizeof(*c->reg));
		c->iov = vq->seg;
		c->reg = vq->segreg;
		c->cap = VDUSE_MAX_SEGS;
		err = vduse_iotlb_translate(vq->dev, vduse_vq_cache(vq), vq->asid, addr,
					    len, prot, c->iov, c->reg, c->cap, &c->nseg);
	}
	/* one lookup per segment added (a fetch in the first try still counts) */
	misses = as->misses - misses;
	vq->st.iotlb_misses += misses;
	vq->st.iotlb_hits += c->nseg - nseg - (c->nseg - nseg < misses ? c->nseg - nseg : misses);
	if (err == -E2BIG) {
		vduse_vq_set_broken(vq, "chain needs more than %u segments", VDUSE_MAX_SEGS);
		return -EIO;
	}
	if (err) {
		vduse_vq_set_broken(vq, "%s buffer [%#llx + %u] is outside every mapping of ASID %u",
				    writable ? "writable" : "readable",
				    (unsigned long long)addr, len, vq->asid);
		return -EIO;
	}
	if (!writable) {
		c->nr_readable = c->nseg;
		c->readable_total = c->total;
	}
	r = c->reg[c->nseg - 1];
	/* a stitched area is dead from the start: not worth keeping mapped */
	if (r != vq->xl_reg && !r->dead) {
		vduse_vq_forget_xlate(vq);
		vduse_region_get(r);
		vq->xl_reg = r;
	}
	return 0;
}

/* vduse_req_build() of a chain in the scratch or without a pooled request. */
struct vduse_req_int *vduse_req_build_slow(struct vduse_vq *vq, struct vduse_chain *c)
{
	unsigned int nseg = c->nseg, nr_readable = c->nr_readable;
	bool pooled = c->r && c->iov != vq->seg;
	struct vduse_req_int *r = c->r;

	if (!pooled) {
		/* the segments are in the scratch: a request of their size */
		if (r)
			pool_put(vq, r);
		c->r = NULL;
		r = malloc(sizeof(*r) + nseg * (sizeof(struct iovec) + sizeof(struct vduse_region *)));
		if (!r)
			return NULL;
	}
	c->r = NULL;
	memset(r, 0, sizeof(*r));
	r->pooled = pooled;
	r->pub.vq = vq;
	r->pub.iov = (struct iovec *)(r + 1);
	r->reg = (struct vduse_region **)(r->pub.iov + (pooled ? VDUSE_POOL_SEGS : nseg));
	r->nseg = nseg;
	r->generation = vq->generation;
	if (!pooled) {
		memcpy(r->pub.iov, vq->seg, nseg * sizeof(struct iovec));
		memcpy(r->reg, vq->segreg, nseg * sizeof(struct vduse_region *));
	}
	r->next = vq->outstanding;
	if (r->next)
		r->next->prev = r;
	vq->outstanding = r;
	r->pub.nr_readable = nr_readable;
	r->pub.nr_writable = nseg - nr_readable;
	r->pub.readable_len = c->readable_total;
	r->pub.writable_len = c->total - c->readable_total;
	return r;
}

/* Drop the request's mapping references and free (or recycle) it. */
HOT_PATH void vduse_req_release(struct vduse_req_int *r)
{
	struct vduse_vq *vq = r->pub.vq;
	unsigned int i;

	for (i = 0; i < r->nseg; i++)
		vduse_region_put(r->reg[i]);
	if (r->prev)
		r->prev->next = r->next;
	else
		vq->outstanding = r->next;
	if (r->next)
		r->next->prev = r->prev;
	if (r->pooled)
		pool_put(vq, r);
	else
		free(r);
}

void vduse_vq_free_pool(struct vduse_vq *vq)
{
	while (vq->pool) {
		struct vduse_req_int *r = vq->pool;

		vq->pool = r->next;
		free(r);
	}
}

/* Device teardown: free abandoned requests; their mappings go with the ASes. */
void vduse_vq_free_outstanding(struct vduse_vq *vq)
{
	while (vq->outstanding) {
		struct vduse_req_int *r = vq->outstanding;

		vq->outstanding = r->next;
		free(r);
	}
}

static inline __attribute__((always_inline)) int vq_pop(struct vduse_vq *vq, struct vduse_req **reqp)
{
	int ret;

	*reqp = NULL;
	/* STOP drain: no new work */
	if (!vq->started || __atomic_load_n(&vq->dev->stopping, __ATOMIC_RELAXED))
		return 0;
	if (vq->broken)
		return -EIO;
	if (vduse_vq_ring(vq))
		return -EIO;
	if (vq->nr_resubmit) {
		uint16_t id = vq->resubmit[--vq->nr_resubmit];

		if (vq->packed)	/* slot | lap << 15, checked intact at resume */
			ret = vduse_packed_parse(vq, id & 0x7fff, id >> 15, true, reqp);
		else
			ret = vduse_split_parse(vq, id, reqp);
	} else {
		ret = vq->packed ? vduse_packed_pop(vq, reqp) : vduse_split_pop(vq, reqp);
	}
	if (ret > 0) {
		vq->inflight++;
		vq->st.pops++;
	}
	return ret;
}

HOT_PATH EXPORT int vduse_vq_pop(struct vduse_vq *vq, struct vduse_req **reqp)
{
	int ret;

	vduse_vq_lock(vq);
	ret = vq_pop(vq, reqp);
	vduse_vq_unlock(vq);
	return ret;
}

HOT EXPORT int vduse_vq_pop_many(struct vduse_vq *vq, struct vduse_req **reqs, unsigned int max)
{
	unsigned int n = 0;
	int ret = 0;

	vduse_vq_lock(vq);
	while (n < max && (ret = vq_pop(vq, &reqs[n])) == 1)
		n++;
	vduse_vq_unlock(vq);
	return n ? (int)n : ret;
}

/* Is @r still pushable? Releases it and returns the error if not. */
HOT_PATH static int push_check(struct vduse_vq *vq, struct vduse_req_int *r)
{
	if (r->generation != vq->generation || !vq->started) {
		vduse_req_release(r);
		return -ESTALE;
	}
	vq->inflight--;
	if (vq->broken || vduse_vq_ring(vq)) {
		vduse_req_release(r);
		return -EIO;
	}
	return 0;
}

HOT_PATH static int vq_push(struct vduse_req *req, uint32_t written)
{
	struct vduse_req_int *r = (struct vduse_req_int *)req;
	struct vduse_vq *vq = req->vq;
	int ret;

	ret = push_check(vq, r);
	if (ret)
		return ret;
	if (written > req->writable_len)
		written = req->writable_len;
	ret = vq->packed ? vduse_packed_push(vq, r, written) : vduse_split_push(vq, r, written);
	vduse_inflight_push(vq, req->id);
	vduse_inflight_commit(vq);
	vq->need_notify = true;
	vq->st.pushes++;
	vduse_req_release(r);
	return ret;
}

/*
 * Several requests of one queue at once. Split: the used elements first,
 * then one used index store makes them all visible. Packed: one used
 * descriptor after the other, each logged before the next, as
 * vduse_vq_push() does (each needs its own flags store anyway; holding back
 * the first one's would leave the later ones written but invisible if the
 * daemon died, which the in-flight log could not tell from buffers never
 * completed; and the log keeps one packed completion in progress).
 */
HOT_PATH EXPORT int vduse_vq_push(struct vduse_req *req, uint32_t written)
{
	struct vduse_vq *vq = req->vq;
	int ret;

	vduse_vq_lock(vq);
	ret = vq_push(req, written);
	vduse_vq_unlock(vq);
	return ret;
}

HOT static int vq_push_many(struct vduse_vq *vq, struct vduse_req *const *reqs,
			const uint32_t *written, unsigned int n)
{
	bool ring_ok = vq->started && !vq->broken && !vduse_vq_ring(vq);
	unsigned int i, done = 0;
	int err = 0;

	for (i = 0; i < n; i++) {
		if (!reqs[i] || reqs[i]->vq != vq)
			return -EINVAL;
	}
	for (i = 0; i < n; i++) {
		struct vduse_req_int *r = (struct vduse_req_int *)reqs[i];
		uint32_t w = written ? written[i] : 0;

		r->batch_ok = ring_ok && r->generation == vq->generation;
		if (!r->batch_ok)
			continue;
		if (w > r->pub.writable_len)
			w = r->pub.writable_len;
		if (vq->packed) {
			/* the log holds one pending packed completion: each on its own */
			vduse_packed_push(vq, r, w);
			vduse_inflight_push(vq, r->pub.id);
			vduse_inflight_commit(vq);
		} else {
			vduse_split_fill(vq, r, w, done);
		}
		done++;
	}
	if (done && !vq->packed)
		vduse_split_publish(vq, done);
	/* the log learns of the completions only once the driver can see them */
	for (i = 0; i < n; i++) {
		struct vduse_req_int *r = (struct vduse_req_int *)reqs[i];

		if (r->batch_ok && !vq->packed)
			vduse_inflight_push(vq, r->pub.id);
		else if (!err)
			err = r->generation != vq->generation || !vq->started ? -ESTALE : -EIO;
		if (r->generation == vq->generation && vq->started && vq->inflight)
			vq->inflight--;
		vduse_req_release(r);
	}
	if (done) {
		if (!vq->packed)
			vduse_inflight_commit(vq);
		vq->need_notify = true;
		vq->st.pushes += done;
	}
	return done ? (int)done : err;
}

HOT EXPORT int vduse_vq_push_many(struct vduse_vq *vq, struct vduse_req *const *reqs,
			      const uint32_t *written, unsigned int n)
{
	int ret;

	vduse_vq_lock(vq);
	ret = vq_push_many(vq, reqs, written, n);
	vduse_vq_unlock(vq);
	return ret;
}

EXPORT void vduse_req_free(struct vduse_req *req)
{
	struct vduse_req_int *r = (struct vduse_req_int *)req;
	struct vduse_vq *vq = req->vq;

	vduse_vq_lock(vq);
	if (r->generation == vq->generation && vq->inflight)
		vq->inflight--;
	vduse_req_release(r);
	vduse_vq_unlock(vq);
}

HOT_PATH static int vq_notify(struct vduse_vq *vq)
{
	uint32_t idx = vq->index;
	int need;

	if (!vq->started || !vq->need_notify)
		return 0;
	if (vq->broken || vduse_vq_ring(vq))
		return -EIO;
	/* The used index must be visible before we read the driver's wish. */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	need = vq->packed ? vduse_packed_need_irq(vq) : vduse_split_need_irq(vq);
	if (!need) {
		vq->need_notify = false;
		vq->st.irqs_suppressed++;
		return 0;
	}
	if (vd_ioctl(vq->dev, VDUSE_VQ_INJECT_IRQ, &idx) < 0) {
		int err = -errno;

		/* still owed: the next call injects whatever the event index says */
		vq->signalled_valid = false;
		vd_err(vq->dev, "VQ_INJECT_IRQ(%u): %s", idx, strerror(errno));
		return err;
	}
	vq->need_notify = false;
	vq->st.irqs++;
	return 1;
}

HOT_PATH EXPORT int vduse_vq_notify(struct vduse_vq *vq)
{
	int ret;

	vduse_vq_lock(vq);
	ret = vq_notify(vq);
	vduse_vq_unlock(vq);
	return ret;
}

static int vq_enable_notify(struct vduse_vq *vq)
{
	if (!vq->started || __atomic_load_n(&vq->dev->stopping, __ATOMIC_RELAXED))
		return 0;
	if (vq->broken || vduse_vq_map_ring(vq))
		return -EIO;
	vq->notify_off = false;
	if (vq->packed ? vduse_packed_enable_notify(vq) : vduse_split_enable_notify(vq))
		return 1;
	return vq->nr_resubmit ? 1 : 0;
}

EXPORT int vduse_vq_enable_notify(struct vduse_vq *vq)
{
	int ret;

	vduse_vq_lock(vq);
	ret = vq_enable_notify(vq);
	vduse_vq_unlock(vq);
	return ret;
}

static void vq_disable_notify(struct vduse_vq *vq)
{
	vq->notify_off = true;
	if (!vq->started || vq->broken || vduse_vq_map_ring(vq))
		return;
	if (vq->packed)
		vduse_packed_disable_notify(vq);
	else
		vduse_split_disable_notify(vq);
}

EXPORT void vduse_vq_disable_notify(struct vduse_vq *vq)
{
	vduse_vq_lock(vq);
	vq_disable_notify(vq);
	vduse_vq_unlock(vq);
}

HOT_PATH EXPORT void vduse_vq_ack_kick(struct vduse_vq *vq)
{
	uint64_t v;
	bool kicked, started;

	/* one read takes the whole count (not a semaphore eventfd) */
	kicked = read(vq->kickfd, &v, sizeof(v)) == sizeof(v);
	vduse_vq_lock(vq);
	if (kicked)
		vq->st.kicks++;
	started = vq->started;
	vduse_vq_unlock(vq);
	if (!started) {
		/* device state too: the device lock first, as the message thread */
		vduse_lock(vq->dev);
		vduse_vq_try_start(vq);
		vduse_unlock(vq->dev);
	}
}

EXPORT int vduse_vq_get_stats(const struct vduse_vq *vq, struct vduse_vq_stats *st, size_t size)
{
	if (!st || size > sizeof(*st) * 4)
		return -EINVAL;
	memset(st, 0, size);
	vduse_vq_lock((struct vduse_vq *)vq);
	memcpy(st, &vq->st, size < sizeof(vq->st) ? size : sizeof(vq->st));
	vduse_vq_unlock((struct vduse_vq *)vq);
	return 0;
}

/* Getters: snapshots, under the queue lock for VDUSE_DEV_F_THREADS. */
#define VQ_GETTER(type, name, expr)				\
EXPORT type name(const struct vduse_vq *vq)			\
{								\
	type v;							\
								\
	vduse_vq_lock((struct vduse_vq *)vq);			\
	v = (expr);						\
	vduse_vq_unlock((struct vduse_vq *)vq);			\
	return v;						\
}

EXPORT unsigned int vduse_vq_index(const struct vduse_vq *vq) { return vq->index; }
EXPORT int vduse_vq_kick_fd(const struct vduse_vq *vq) { return vq->kickfd; }
EXPORT uint32_t vduse_vq_group(const struct vduse_vq *vq) { return vq->group; }

EXPORT bool vduse_vq_started(const struct vduse_vq *vq)
{
	return vduse_vq_is_started((struct vduse_vq *)vq);
}
VQ_GETTER(bool, vduse_vq_broken, vq->broken)
VQ_GETTER(bool, vduse_vq_packed, vq->packed)
VQ_GETTER(unsigned int, vduse_vq_size, vq->started ? vq->num : 0)
VQ_GETTER(uint32_t, vduse_vq_asid, vq->asid)
VQ_GETTER(unsigned int, vduse_vq_inflight, vq->inflight)
VQ_GETTER(const char *, vduse_vq_broken_reason, vq->broken ? vq->broken_reason : NULL)

static size_t req_copy(const struct vduse_req *req, bool to, uint64_t offset, void *buf,
		       size_t len)
{
	unsigned int i = to ? req->nr_readable : 0;
	unsigned int end = to ? req->nr_readable + req->nr_writable : req->nr_readable;
	uint8_t *b = buf;
	size_t done = 0;

	for (; i < end && done < len; i++) {
		const struct iovec *v = &req->iov[i];
		size_t n;

		if (offset >= v->iov_len) {
			offset -= v->iov_len;
			continue;
		}
		n = v->iov_len - offset;
		if (n > len - done)
			n = len - done;
		if (to)
			memcpy((uint8_t *)v->iov_base + offset, b + done, n);
		else
			memcpy(b + done, (uint8_t *)v->iov_base + offset, n);
		done += n;
		offset = 0;
	}
	return done;
}

EXPORT size_t vduse_req_read(const struct vduse_req *req, uint64_t offset, void *buf, size_t len)
{
	return req_copy(req, false, offset, buf, len);
}

EXPORT size_t vduse_req_write(const struct vduse_req *req, uint64_t offset, const void *buf,
			      size_t len)
{
	return req_copy(req, true, offset, (void *)buf, len);
}
