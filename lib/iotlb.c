// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Per-address-space IOTLB cache.
 *
 * Each address space keeps a sorted array of the mappings it has mmapped, so
 * a lookup is a binary search. A miss asks the kernel (IOTLB_GET_FD2 with the
 * ASID, or GET_FD on API v0 where only ASID 0 exists) for the mapping that
 * holds the address and mmaps it with the permission the kernel reports.
 *
 * Invalidation (UPDATE_IOTLB) removes the mappings of that address space
 * only. A mapping still used by an in-flight request or a ring is kept
 * mapped on a "dead" list and unmapped when its last reference goes, so a
 * device that is still copying into a buffer never faults.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>
#include "internal.h"

int vduse_as_init(struct vduse_as *as)
{
	memset(as, 0, sizeof(*as));
	return 0;
}

static void region_unmap(struct vduse_region *r)
{
	if (!r->external)
		munmap(r->map, r->len);
	free(r);
}

void vduse_as_release(struct vduse_as *as)
{
	struct vduse_region *r, *n;
	unsigned int i;

	for (i = 0; i < as->nr; i++)
		region_unmap(as->reg[i]);
	for (r = as->dead; r; r = n) {
		n = r->next_dead;
		region_unmap(r);
	}
	free(as->reg);
	memset(as, 0, sizeof(*as));
}

/* The last reference of a dead region is gone (vduse_region_put()). */
void vduse_region_release(struct vduse_region *r)
{
	struct vduse_as *as = r->as;
	struct vduse_region **pp;

	for (pp = &as->dead; *pp; pp = &(*pp)->next_dead) {
		if (*pp == r) {
			*pp = r->next_dead;
			break;
		}
	}
	region_unmap(r);
}

/* Index of the first region whose last >= iova (nr if none). */
HOT static unsigned int as_search(const struct vduse_as *as, uint64_t iova)
{
	unsigned int lo = 0, hi = as->nr;

	while (lo < hi) {
		unsigned int mid = lo + (hi - lo) / 2;

		if (as->reg[mid]->last < iova)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static void as_remove_at(struct vduse_as *as, unsigned int i)
{
	struct vduse_region *r = as->reg[i];

	memmove(&as->reg[i], &as->reg[i + 1], (as->nr - i - 1) * sizeof(as->reg[0]));
	as->nr--;
	if (r->refs) {
		r->dead = true;
		r->next_dead = as->dead;
		as->dead = r;
	} else {
		region_unmap(r);
	}
}

static int as_insert(struct vduse_dev *dev, struct vduse_as *as, struct vduse_region *r)
{
	unsigned int i;

	if (as->nr == as->cap) {
		unsigned int cap = as->cap ? as->cap * 2 : 16;
		struct vduse_region **n;

		if (as->nr >= VDUSE_MAX_REGIONS) {
			/* Make room by dropping an idle mapping; it is refetched on use. */
			for (i = 0; i < as->nr && as->reg[i]->refs; i++)
				;
			if (i == as->nr) {
				vd_err(dev, "iotlb: %u mappings in use, cannot cache more", as->nr);
				return -ENOSPC;
			}
			as_remove_at(as, i);
		} else {
			n = realloc(as->reg, cap * sizeof(*n));
			if (!n)
				return -ENOMEM;
			as->reg = n;
			as->cap = cap;
		}
	}
	i = as_search(as, r->start);
	if ((i < as->nr && as->reg[i]->start <= r->last)) {
		vd_err(dev, "iotlb: kernel mapping [%#llx, %#llx] overlaps a cached one",
		       (unsigned long long)r->start, (unsigned long long)r->last);
		return -EIO;
	}
	memmove(&as->reg[i + 1], &as->reg[i], (as->nr - i) * sizeof(as->reg[0]));
	as->reg[i] = r;
	as->nr++;
	return 0;
}

/*
 * Ask the kernel for the entry holding @iova of @asid; checks its answer
 * like any other input. Returns the fd to mmap, or -1 (logged).
 */
static int iotlb_get_fd(struct vduse_dev *dev, uint32_t asid, uint64_t iova,
			struct vduse_iotlb_entry_v2 *e, int *prot)
{
	uint64_t len, delta;
	int fd;

	memset(e, 0, sizeof(*e));
	e->start = iova;
	e->last = iova;
	e->asid = asid;
	if (dev->api >= 1)
		fd = vd_ioctl(dev, VDUSE_IOTLB_GET_FD2, e);
	else
		fd = vd_ioctl(dev, VDUSE_IOTLB_GET_FD, e);
	if (fd < 0) {
		vd_dbg(dev, "iotlb: no mapping for %#llx in ASID %u: %s",
		       (unsigned long long)iova, asid, strerror(errno));
		return -1;
	}
	len = e->last - e->start + 1;
	/* mmap wants a page-aligned offset; a consumer may map from mid-page */
	delta = e->offset & (getpagesize() - 1);
	if (e->start > iova || e->last < iova || len == 0 || len > SIZE_MAX - delta ||
	    e->offset + len < e->offset ||
	    !(e->perm & VDUSE_ACCESS_RW) || (e->perm & ~VDUSE_ACCESS_RW)) {
		vd_err(dev, "iotlb: bad entry for %#llx: [%#llx, %#llx] offset %#llx perm %u",
		       (unsigned long long)iova, (unsigned long long)e->start,
		       (unsigned long long)e->last, (unsigned long long)e->offset, e->perm);
		close(fd);
		return -1;
	}
	*prot = (e->perm & VDUSE_ACCESS_RO ? PROT_READ : 0) |
		(e->perm & VDUSE_ACCESS_WO ? PROT_WRITE : 0);
	return fd;
}

static struct vduse_region *as_fetch(struct vduse_dev *dev, struct vduse_as *as, uint32_t asid,
				     uint64_t iova)
{
	struct vduse_as *um = &dev->as[asid];	/* umem is per address space */
	struct vduse_iotlb_entry_v2 e;
	struct vduse_region *r;
	uint64_t len, delta;
	int fd, prot, err;
	void *p;

	r = calloc(1, sizeof(*r));
	if (!r)
		return NULL;
	r->as = as;
	if (um->umem && iova - um->umem_iova < um->umem_len) {
		r->start = um->umem_iova;
		r->last = um->umem_iova + um->umem_len - 1;
		r->addr = um->umem;
		r->map = um->umem;
		r->len = um->umem_len;
		r->prot = PROT_READ | PROT_WRITE;
		r->external = true;
		goto insert;
	}
	fd = iotlb_get_fd(dev, asid, iova, &e, &prot);
	if (fd < 0) {
		free(r);
		return NULL;
	}
	len = e.last - e.start + 1;
	delta = e.offset & (getpagesize() - 1);
	p = mmap(NULL, len + delta, prot, MAP_SHARED, fd, e.offset - delta);
	err = errno;
	close(fd);
	if (p == MAP_FAILED) {
		vd_err(dev, "iotlb: mmap of [%#llx, %#llx] failed: %s",
		       (unsigned long long)e.start, (unsigned long long)e.last, strerror(err));
		free(r);
		return NULL;
	}
	r->start = e.start;
	r->last = e.last;
	r->map = p;
	r->addr = (uint8_t *)p + delta;
	r->len = len + delta;
	r->prot = prot;
insert:
	if (as_insert(dev, as, r)) {
		region_unmap(r);
		return NULL;
	}
	return r;
}

HOT static struct vduse_region *as_lookup(struct vduse_dev *dev, struct vduse_as *as, uint32_t asid,
				      uint64_t iova)
{
	unsigned int i;

	if (asid >= dev->nas)
		return NULL;
	if (!as)
		as = &dev->as[asid];
	i = as_search(as, iova);
	if (i < as->nr && as->reg[i]->start <= iova) {
		as->hits++;
		return as->reg[i];
	}
	as->misses++;
	return as_fetch(dev, as, asid, iova);
}

struct vduse_region *vduse_iotlb_lookup(struct vduse_dev *dev, uint32_t asid, uint64_t iova)
{
	return as_lookup(dev, NULL, asid, iova);
}

/*
 * Translate [iova, iova + len) into at most @max segments, each with a
 * reference on its region. Returns 0, -EFAULT (unmapped, wrapping or
 * forbidden range) or -E2BIG (more than @max segments).
 */
HOT int vduse_iotlb_translate(struct vduse_dev *dev, struct vduse_as *cache, uint32_t asid,
			  uint64_t iova, uint64_t len,
			  int prot, struct iovec *iov, struct vduse_region **reg,
			  unsigned int max, unsigned int *n)
{
	unsigned int start_n = *n;

	if (len && iova + (len - 1) < iova)
		return -EFAULT;
	while (len) {
		struct vduse_region *r = as_lookup(dev, cache, asid, iova);
		uint64_t chunk;

		if (!r || (r->prot & prot) != prot)
			goto fail;
		if (*n >= max) {
			while (*n > start_n) {
				--*n;
				vduse_region_put(reg[*n]);
			}
			return -E2BIG;
		}
		chunk = r->last - iova;
		if (chunk >= len - 1)
			chunk = len;
		else
			chunk++;
		iov[*n].iov_base = r->addr + (iova - r->start);
		iov[*n].iov_len = chunk;
		reg[*n] = r;
		vduse_region_get(r);
		++*n;
		iova += chunk;
		len -= chunk;
	}
	return 0;
fail:
	while (*n > start_n) {
		--*n;
		vduse_region_put(reg[*n]);
	}
	return -EFAULT;
}

/* A pointer to [iova, iova + len) if one mapping holds all of it; takes a ref. */
void *vduse_iotlb_map_contig(struct vduse_dev *dev, struct vduse_as *cache, uint32_t asid,
			     uint64_t iova, uint64_t len, int prot, struct vduse_region **reg)
{
	struct vduse_region *r;

	if (!len || iova + (len - 1) < iova)
		return NULL;
	r = as_lookup(dev, cache, asid, iova);
	if (!r || (r->prot & prot) != prot || r->last - iova < len - 1)
		return NULL;
	vduse_region_get(r);
	*reg = r;
	return r->addr + (iova - r->start);
}

/*
 * [iova, iova + len) spans several IOTLB entries (a guest behind a vIOMMU
 * maps page by page): map the pieces next to each other in one reserved
 * range, so that the ring accessors see one contiguous area, as fast as
 * any other. The same file pages are also mapped by the cache, MAP_SHARED,
 * so both views are coherent. Each boundary between pieces must fall on a
 * page boundary of both the IOVA (relative to the first piece) and the file
 * offset, which mappings made page by page always satisfy. Returns a
 * private region (not in the cache, freed by its last vduse_region_put()),
 * or NULL.
 */
void *vduse_iotlb_map_stitched(struct vduse_dev *dev, struct vduse_as *cache, uint32_t asid,
			       uint64_t iova, uint64_t len, int prot, struct vduse_region **reg)
{
	uint64_t pg = getpagesize(), pos = iova, left = len, phase = 0, total = 0;
	struct vduse_as *as, *um;
	struct vduse_region *r = NULL;
	uint8_t *base = MAP_FAILED;
	unsigned int pieces = 0;

	if (!len || iova + (len - 1) < iova || asid >= dev->nas)
		return NULL;
	um = &dev->as[asid];
	as = cache ? cache : um;
	while (left) {
		struct vduse_iotlb_entry_v2 e;
		uint64_t chunk, off, target, maplen;
		int fd, eprot;
		void *p;

		if (um->umem && pos - um->umem_iova < um->umem_len)
			goto fail;	/* the bounce region is one entry; not ours to remap */
		fd = iotlb_get_fd(dev, asid, pos, &e, &eprot);
		if (fd < 0)
			goto fail;
		chunk = e.last - pos;
		chunk = chunk >= left - 1 ? left : chunk + 1;
		off = e.offset + (pos - e.start);
		if (!pieces) {
			/* the whole area, in the first piece's page phase */
			phase = off & (pg - 1);
			total = (phase + len + pg - 1) & ~(pg - 1);
			if (total < len) {
				close(fd);
				goto fail;
			}
			base = mmap(NULL, total, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
				    -1, 0);
			if (base == MAP_FAILED) {
				close(fd);
				goto fail;
			}
		}
		target = phase + (pos - iova);
		if ((eprot & prot) != prot || (pieces && ((target | off) & (pg - 1)))) {
			vd_dbg(dev, "iotlb: piece at %#llx (offset %#llx) of a ring area does not "
			       "line up with pages", (unsigned long long)pos,
			       (unsigned long long)off);
			close(fd);
			goto fail;
		}
		maplen = ((target + chunk + pg - 1) & ~(pg - 1)) - (target & ~(pg - 1));
		p = mmap(base + (target & ~(pg - 1)), maplen, prot, MAP_SHARED | MAP_FIXED, fd,
			 off & ~(pg - 1));
		close(fd);
		if (p == MAP_FAILED) {
			vd_err(dev, "iotlb: mmap of a ring piece at %#llx failed: %s",
			       (unsigned long long)pos, strerror(errno));
			goto fail;
		}
		pieces++;
		pos += chunk;
		left -= chunk;
	}
	r = calloc(1, sizeof(*r));
	if (!r)
		goto fail;
	r->start = iova;
	r->last = iova + len - 1;
	r->map = base;
	r->addr = base + phase;
	r->len = total;
	r->prot = prot;
	r->as = as;
	/* not in the cache: unmapped by the last put, like an invalidated one */
	r->dead = true;
	r->refs = 1;
	*reg = r;
	vd_dbg(dev, "iotlb: area [%#llx + %#llx] of ASID %u stitched from %u entries",
	       (unsigned long long)iova, (unsigned long long)len, asid, pieces);
	return r->addr;
fail:
	if (base != MAP_FAILED)
		munmap(base, total);
	return NULL;
}

/* Copy guest memory out (indirect tables: read once, no double fetch). */
HOT int vduse_iotlb_copy_from(struct vduse_dev *dev, struct vduse_as *cache, uint32_t asid,
			  uint64_t iova, void *buf, uint64_t len)
{
	uint8_t *out = buf;

	if (len && iova + (len - 1) < iova)
		return -EFAULT;
	while (len) {
		struct vduse_region *r = as_lookup(dev, cache, asid, iova);
		uint64_t chunk;

		if (!r || !(r->prot & PROT_READ))
			return -EFAULT;
		chunk = r->last - iova;
		chunk = chunk >= len - 1 ? len : chunk + 1;
		memcpy(out, r->addr + (iova - r->start), chunk);
		out += chunk;
		iova += chunk;
		len -= chunk;
	}
	return 0;
}

void vduse_as_invalidate(struct vduse_as *as, uint64_t start, uint64_t last)
{
	unsigned int i = as_search(as, start);

	while (i < as->nr && as->reg[i]->start <= last)
		as_remove_at(as, i);
	as->gen++;
}

void vduse_iotlb_invalidate(struct vduse_dev *dev, uint32_t asid, uint64_t start, uint64_t last)
{
	if (asid >= dev->nas || start > last)
		return;
	vduse_as_invalidate(&dev->as[asid], start, last);
}

/*
 * An address space changed: the device's cache and, with
 * VDUSE_DEV_F_THREADS, the caches of the queues translating through it,
 * each under its queue's lock (the queue thread is then outside the
 * library or waits). Called with the device lock held.
 */
void vduse_dev_invalidate(struct vduse_dev *dev, uint32_t asid, uint64_t start, uint64_t last)
{
	uint32_t i;

	vduse_iotlb_invalidate(dev, asid, start, last);
	if (asid >= dev->nas || start > last)
		return;
	for (i = 0; i < dev->nvqs; i++) {
		struct vduse_vq *vq = &dev->vqs[i];

		vduse_vq_lock_msg(vq);
		if (dev->threaded && vq->asid == asid)
			vduse_as_invalidate(&vq->cache, start, last);
		vduse_vq_drop_dead_xlate(vq);
		vduse_vq_unlock(vq);
	}
}

/*
 * Group @group now points to group_as[@group]: its queues follow (with
 * VDUSE_DEV_F_THREADS each drops its own cache, which held the old address
 * space). Called with the device lock held, or before any thread runs.
 */
void vduse_dev_group_moved(struct vduse_dev *dev, uint32_t group)
{
	uint32_t i;

	for (i = 0; i < dev->nvqs; i++) {
		struct vduse_vq *vq = &dev->vqs[i];

		if (vq->group != group)
			continue;
		vduse_vq_lock_msg(vq);
		if (vq->asid != dev->group_as[group] && dev->threaded)
			vduse_as_invalidate(&vq->cache, 0, UINT64_MAX);
		vduse_vq_drop_dead_xlate(vq);
		vq->asid = dev->group_as[group];
		vduse_vq_unlock(vq);
	}
}
