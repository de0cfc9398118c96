// SPDX-License-Identifier: GPL-2.0
/*
 * VDUSE IOVA domains and the DMA ops of the kernel virtio path.
 *
 * Layout of one domain's IOVA space:
 *
 *   0 ............. bounce_size - 1   bounce area: streaming DMA mappings are
 *                                     copied into pages userspace can map
 *   bounce_size ... VDUSE_IOVA_SIZE-1 coherent buffers (rings), mapped 1:1
 *
 * Userspace reaches both through the domain's anonymous file: the file
 * offset of a page is its IOVA.  For vhost-vdpa, set_map() fills the IOTLB
 * with the consumer's own file-backed memory instead and no bounce is used.
 *
 * On Linux 6.12 there is one DMA device per vDPA device, so the DMA ops
 * always use address space 0 (spec section 5e).
 */

#include <linux/anon_inodes.h>
#include <linux/bitmap.h>
#include <linux/dma-map-ops.h>
#include <linux/file.h>
#include <linux/highmem.h>
#include <linux/mm.h>
#include <linux/nospec.h>
#include <linux/pagemap.h>
#include <linux/scatterlist.h>
#include <linux/slab.h>
#include <linux/vmalloc.h>

#include "vduse.h"

#define VDUSE_NO_ORIG	((phys_addr_t)-1)

/*
 * A zeroed table of @n entries of @size bytes, freed with kvfree(); NULL
 * when @n is 0.  Beyond a page, kvcalloc() would take a power-of-two block
 * from the page allocator (the 384 KiB slot table of the default 64 MiB
 * bounce area became an order-7 block of 512 KiB), so larger tables are
 * vmalloc'ed, which costs whole pages only and needs no contiguous memory.
 */
static void *vduse_table_alloc(size_t n, size_t size)
{
	if (!n)
		return NULL;
	if (size_mul(n, size) <= PAGE_SIZE)
		return kcalloc(n, size, GFP_KERNEL);
	return vcalloc(n, size);
}

/*
 * An IOTLB tree without a limit of its own.  Within 6.12.y the meaning of a
 * zero limit changed: up to 6.12.113 it meant "none"; from 6.12.114 on
 * (Debian 13's 6.12.117) every entry of such a tree is refused (-EINVAL),
 * and only those releases enforce a non-zero limit on a tree without
 * VHOST_IOTLB_FLAG_RETIRE; UINT_MAX means "none" to both.  What bounds
 * these trees: the kernel DMA path's own mappings, and the consumer's
 * IOTLB, which set_map() copies.
 */
static struct vhost_iotlb *vduse_iotlb_alloc(void)
{
	return vhost_iotlb_alloc(UINT_MAX, 0);
}

static int vduse_range_init(struct vduse_range *r, unsigned long base,
			    unsigned long npages)
{
	spin_lock_init(&r->lock);
	r->base = base;
	r->npages = npages;
	r->map = NULL;
	if (!npages)
		return 0;
	r->map = vduse_table_alloc(BITS_TO_LONGS(npages), sizeof(long));
	return r->map ? 0 : -ENOMEM;
}

/*
 * Allocate @npages contiguous pages of IOVA; returns 0 when full.  First
 * fit: the lowest free pages are handed out again and again, so the bounce
 * pages of the few mappings in flight stay warm and the domain allocates
 * only as many bounce pages as are ever in flight at once.  (Next fit walked
 * the whole bounce area: every request bounced through a page not touched
 * for a long time, and every one of the area's pages ended up allocated.)
 */
static dma_addr_t vduse_range_alloc(struct vduse_range *r,
				    unsigned long npages)
{
	unsigned long flags, start;

	if (!npages || npages > r->npages)
		return 0;
	spin_lock_irqsave(&r->lock, flags);
	start = bitmap_find_next_zero_area(r->map, r->npages, 0, npages, 0);
	if (start >= r->npages) {
		spin_unlock_irqrestore(&r->lock, flags);
		return 0;
	}
	bitmap_set(r->map, start, npages);
	spin_unlock_irqrestore(&r->lock, flags);
	return (dma_addr_t)(r->base + start) << PAGE_SHIFT;
}

/* Release what vduse_range_alloc() returned; bad input is ignored. */
static void vduse_range_free(struct vduse_range *r, dma_addr_t iova,
			     unsigned long npages)
{
	unsigned long flags, pfn = iova >> PAGE_SHIFT;

	if (pfn < r->base || pfn - r->base >= r->npages ||
	    npages > r->npages - (pfn - r->base))
		return;
	spin_lock_irqsave(&r->lock, flags);
	bitmap_clear(r->map, pfn - r->base, npages);
	spin_unlock_irqrestore(&r->lock, flags);
}

static bool vduse_range_contains(struct vduse_range *r, dma_addr_t iova)
{
	unsigned long pfn = iova >> PAGE_SHIFT;

	return pfn >= r->base && pfn - r->base < r->npages;
}

/*
 * Two IOTLBs per domain: @iotlb holds the kernel's own entries (the bounce
 * area and coherent buffers, whose address is physical and which the fault
 * handler hands out), @user_iotlb the entries a vDPA bus driver loaded with
 * set_map (the consumer's memory files, referenced).  Keeping them apart
 * means a consumer entry can never be taken for a kernel page, can never
 * shadow a kernel entry in a lookup, and can be replaced wholesale: a new
 * consumer tree is built outside any lock and swapped in under iotlb_lock.
 */

/* Free a consumer tree built by vduse_user_tree_build(); process context. */
static void vduse_user_tree_free(struct vhost_iotlb *t)
{
	struct vhost_iotlb_map *map;
	unsigned int n = 0;

	if (!t)
		return;
	while ((map = vhost_iotlb_itree_first(t, 0, ULLONG_MAX))) {
		struct vduse_map_ref *ref = map->opaque;

		fput(ref->file);
		kfree(ref);
		vhost_iotlb_map_free(t, map);
		if (!(++n % 256))
			cond_resched();
	}
	vhost_iotlb_free(t);
}

/*
 * Copy a bus driver's IOTLB (every opaque a vdpa_map_file) into a new tree
 * of referenced files.  Return: the tree, NULL when @iotlb is empty, or an
 * ERR_PTR.
 */
static struct vhost_iotlb *vduse_user_tree_build(struct vhost_iotlb *iotlb)
{
	struct vhost_iotlb_map *map;
	struct vduse_map_ref *ref;
	struct vhost_iotlb *t;
	struct vdpa_map_file *mf;
	unsigned int n = 0;
	int ret;

	if (!vhost_iotlb_itree_first(iotlb, 0, ULLONG_MAX))
		return NULL;
	t = vduse_iotlb_alloc();
	if (!t)
		return ERR_PTR(-ENOMEM);
	for (map = vhost_iotlb_itree_first(iotlb, 0, ULLONG_MAX); map;
	     map = vhost_iotlb_itree_next(map, 0, ULLONG_MAX)) {
		mf = map->opaque;
		ret = -EINVAL;
		if (!mf || !mf->file)
			goto err;
		ret = -ENOMEM;
		ref = kmalloc(sizeof(*ref), GFP_KERNEL_ACCOUNT);
		if (!ref)
			goto err;
		ref->file = get_file(mf->file);
		ref->offset = mf->offset;
		ret = vhost_iotlb_add_range_ctx(t, map->start, map->last,
						map->addr, map->perm, ref);
		if (ret) {
			fput(ref->file);
			kfree(ref);
			goto err;
		}
		if (!(++n % 256))
			cond_resched();
	}
	return t;
err:
	vduse_user_tree_free(t);
	return ERR_PTR(ret);
}

/* Install consumer tree @t (may be NULL); returns the one it replaces. */
static struct vhost_iotlb *vduse_user_tree_swap(struct vduse_domain *d,
						struct vhost_iotlb *t)
{
	struct vhost_iotlb *old;
	unsigned long flags;

	spin_lock_irqsave(&d->iotlb_lock, flags);
	old = d->user_iotlb;
	d->user_iotlb = t;
	spin_unlock_irqrestore(&d->iotlb_lock, flags);
	return old;
}

/**
 * vduse_domain_set_map() - replace the translations set by a vDPA bus driver
 * @domain: the domain of the address space
 * @iotlb: the bus driver's IOTLB; every entry's opaque is a vdpa_map_file
 *
 * The copy is made in process context, outside every lock; only the swap of
 * the tree pointer runs with interrupts off.  Entries made by the kernel DMA
 * path (bounce, coherent) live in their own tree and are not touched.
 *
 * Return: 0 or -ENOMEM/-EINVAL, in which case no consumer entry is left.
 */
int vduse_domain_set_map(struct vduse_domain *domain,
			 struct vhost_iotlb *iotlb)
{
	struct vhost_iotlb *t = vduse_user_tree_build(iotlb);
	int ret = 0;

	if (IS_ERR(t)) {
		ret = PTR_ERR(t);
		t = NULL;
	}
	vduse_user_tree_free(vduse_user_tree_swap(domain, t));
	return ret;
}

/**
 * vduse_domain_clear_map() - drop the translations of the vDPA bus driver
 * @domain: the domain
 *
 * The references to the consumer's files go with them.
 *
 * Return: whether there were any.
 */
bool vduse_domain_clear_map(struct vduse_domain *domain)
{
	struct vhost_iotlb *old = vduse_user_tree_swap(domain, NULL);

	vduse_user_tree_free(old);
	return old != NULL;
}

/**
 * vduse_domain_lookup() - the first map overlapping [start, last]
 * @d: the domain
 * @start: first IOVA
 * @last: last IOVA
 * @want_file: take a reference on the backing file into @out->file
 * @out: the map found
 *
 * A consumer entry is returned only when it ends before the first kernel
 * entry of the range starts: where both overlap, the kernel entry wins.
 *
 * Return: 0, or -EINVAL when no map overlaps.
 */
int vduse_domain_lookup(struct vduse_domain *d, u64 start, u64 last,
			bool want_file, struct vduse_lookup *out)
{
	struct vhost_iotlb_map *k, *c = NULL, *map;
	struct file *file;
	unsigned long flags;
	u64 offset;

	spin_lock_irqsave(&d->iotlb_lock, flags);
	k = vhost_iotlb_itree_first(d->iotlb, start, last);
	if (d->user_iotlb)
		c = vhost_iotlb_itree_first(d->user_iotlb, start, last);
	if (c && (!k || c->last < k->start)) {
		struct vduse_map_ref *ref = c->opaque;

		map = c;
		file = ref->file;
		offset = ref->offset;
		out->umem_capable = false;
	} else if (k) {
		map = k;
		file = d->file;
		offset = k->start;
		out->umem_capable = d->bounce_mapped && k->start == 0 &&
				    k->last == d->bounce_size - 1;
	} else {
		spin_unlock_irqrestore(&d->iotlb_lock, flags);
		return -EINVAL;
	}
	out->start = map->start;
	out->last = map->last;
	out->offset = offset;
	out->perm = map->perm;
	out->file = want_file ? get_file(file) : NULL;
	spin_unlock_irqrestore(&d->iotlb_lock, flags);
	return 0;
}

/* Publish the bounce area in the IOTLB on first use. */
static int vduse_domain_bounce_publish(struct vduse_domain *d)
{
	unsigned long flags;
	int ret = 0;

	if (READ_ONCE(d->bounce_mapped))
		return 0;
	spin_lock_irqsave(&d->iotlb_lock, flags);
	if (!d->bounce_mapped) {
		ret = vhost_iotlb_add_range(d->iotlb, 0, d->bounce_size - 1, 0,
					    VHOST_MAP_RW);
		if (!ret)
			WRITE_ONCE(d->bounce_mapped, true);
	}
	spin_unlock_irqrestore(&d->iotlb_lock, flags);
	return ret;
}

/**
 * vduse_domain_reset() - the domain's part of a device reset
 * @domain: the domain
 *
 * Withdraws the bounce area from the IOTLB (the next streaming mapping
 * publishes it again) and zaps what userspace has mapped of the coherent
 * range.  The rings of the driver being reset are freed after it, and the
 * next driver (a re-probe, a rebind, a resume) gets their IOVAs again,
 * first fit, with other pages: a daemon mapping kept across would show it
 * the freed ring.  Zapped, an access faults through the IOTLB again, to the
 * page at that IOVA now, or SIGBUS.  Bounce pages stay the domain's for its
 * lifetime, so their mappings stay.  Process context.
 */
void vduse_domain_reset(struct vduse_domain *domain)
{
	unsigned long flags;
	struct vhost_iotlb_map *map;

	spin_lock_irqsave(&domain->iotlb_lock, flags);
	if (domain->bounce_mapped) {
		map = vhost_iotlb_itree_first(domain->iotlb, 0, 0);
		if (map && map->start == 0)
			vhost_iotlb_map_free(domain->iotlb, map);
		domain->bounce_mapped = false;
	}
	spin_unlock_irqrestore(&domain->iotlb_lock, flags);
	if (domain->dma)
		unmap_mapping_range(domain->file->f_mapping,
				    (loff_t)domain->coherent.base << PAGE_SHIFT,
				    (loff_t)domain->coherent.npages << PAGE_SHIFT,
				    1);
}

/* Copy between a bounce buffer and physical memory that may span pages. */
static void vduse_copy_phys(phys_addr_t phys, void *buf, size_t len,
			    bool to_phys)
{
	while (len) {
		struct page *page = pfn_to_page(PHYS_PFN(phys));
		unsigned int off = offset_in_page(phys);
		size_t n = min_t(size_t, len, PAGE_SIZE - off);

		if (to_phys)
			memcpy_to_page(page, off, buf, n);
		else
			memcpy_from_page(buf, page, off, n);
		phys += n;
		buf += n;
		len -= n;
	}
}

enum vduse_bounce_op {
	VDUSE_TO_BOUNCE,	/* original -> bounce page */
	VDUSE_FROM_BOUNCE,	/* bounce page -> original */
	VDUSE_ZERO_BOUNCE,	/* zero the bounce page */
	VDUSE_NO_BOUNCE,	/* leave the bytes alone */
};

/*
 * Pages bounced per hold of bounce_lock (read): a mapping of up to this
 * many pages takes it once, and a backing switch, which takes it for
 * writing with interrupts off, waits for this many page copies at most.
 */
#define VDUSE_BOUNCE_BATCH	16

/* Apply @op to @n bytes at @off in slot @s if mapped; bounce_lock held. */
static void vduse_slot_bounce(struct vduse_slot *s, unsigned int off,
			      size_t n, enum vduse_bounce_op op)
{
	void *va;

	if (op == VDUSE_NO_BOUNCE || !s->page || s->orig == VDUSE_NO_ORIG)
		return;
	va = kmap_local_page(s->page);
	if (op == VDUSE_ZERO_BOUNCE)
		memset(va + off, 0, n);
	else
		vduse_copy_phys(s->orig + off, va + off, n,
				op == VDUSE_FROM_BOUNCE);
	kunmap_local(va);
}

/*
 * Apply @op to @size bytes at @iova (a sync: any offset), skipping slots
 * not mapped, VDUSE_BOUNCE_BATCH pages per hold of bounce_lock.
 */
static void vduse_bounce(struct vduse_domain *d, dma_addr_t iova,
			 size_t size, enum vduse_bounce_op op)
{
	unsigned int pages;

	while (size) {
		read_lock(&d->bounce_lock);
		for (pages = 0; size && pages < VDUSE_BOUNCE_BATCH; pages++) {
			unsigned long i = iova >> PAGE_SHIFT;
			unsigned int off = offset_in_page(iova);
			size_t n = min_t(size_t, size, PAGE_SIZE - off);

			if (i >= d->nslots) {
				size = 0;
				break;
			}
			vduse_slot_bounce(&d->slots[i], off, n, op);
			iova += n;
			size -= n;
		}
		read_unlock(&d->bounce_lock);
	}
}

/*
 * Give slot @s its kernel page (kept until the domain goes) if it has none.
 * Every slot ever mapped has one, so DEREG_UMEM can always move mappings in
 * flight back.  Only the mapping that owns the slot's IOVA gets here, so
 * the cmpxchg() is for safety, not for a race the allocator allows.
 */
static int vduse_slot_kpage(struct vduse_slot *s)
{
	struct page *page;

	if (likely(READ_ONCE(s->kpage)))
		return 0;
	page = alloc_page(GFP_ATOMIC | __GFP_ZERO);
	if (!page)
		return -ENOMEM;
	if (cmpxchg(&s->kpage, NULL, page))
		__free_page(page);
	return 0;
}

/*
 * Mark @npages slots from @first mapped to the buffer at @pa and apply @op
 * to its @size bytes, one hold of bounce_lock per VDUSE_BOUNCE_BATCH pages.
 * A slot no switch has given a page yet is backed by its kernel page.
 */
static void vduse_slots_map(struct vduse_domain *d, unsigned long first,
			    phys_addr_t pa, size_t size,
			    enum vduse_bounce_op op)
{
	unsigned long i = 0, npages = PFN_UP(size), end;

	while (i < npages) {
		end = min(npages, i + VDUSE_BOUNCE_BATCH);
		read_lock(&d->bounce_lock);
		for (; i < end; i++) {
			struct vduse_slot *s = &d->slots[first + i];

			if (!s->page)
				s->page = s->kpage;
			s->orig = pa + i * PAGE_SIZE;
			vduse_slot_bounce(s, 0, min_t(size_t, PAGE_SIZE,
						      size - i * PAGE_SIZE), op);
		}
		read_unlock(&d->bounce_lock);
	}
}

/*
 * Apply @op to the @size bytes mapped from slot @first and mark the slots
 * not mapped, one hold of bounce_lock per VDUSE_BOUNCE_BATCH pages.
 *
 * Return: false, doing nothing, if @first is not mapped (an unmap of
 * something never mapped, or a second unmap): its IOVA must not be freed.
 */
static bool vduse_slots_unmap(struct vduse_domain *d, unsigned long first,
			      size_t size, enum vduse_bounce_op op)
{
	unsigned long i = 0, npages = PFN_UP(size), end;

	while (i < npages) {
		end = min(npages, i + VDUSE_BOUNCE_BATCH);
		read_lock(&d->bounce_lock);
		if (!i && d->slots[first].orig == VDUSE_NO_ORIG) {
			read_unlock(&d->bounce_lock);
			return false;
		}
		for (; i < end; i++) {
			struct vduse_slot *s = &d->slots[first + i];

			vduse_slot_bounce(s, 0, min_t(size_t, PAGE_SIZE,
						      size - i * PAGE_SIZE), op);
			s->orig = VDUSE_NO_ORIG;
		}
		read_unlock(&d->bounce_lock);
	}
	return true;
}

/**
 * vduse_domain_map() - streaming mapping through the bounce area
 * @d: the domain (AS 0)
 * @pa: physical address of the buffer
 * @size: its length
 * @dir: DMA direction
 * @attrs: DMA attributes (DMA_ATTR_SKIP_CPU_SYNC skips the copy)
 *
 * The original is copied into the bounce pages for DMA_TO_DEVICE and
 * DMA_BIDIRECTIONAL.  For DMA_FROM_DEVICE (and when the copy is skipped) the
 * mapped bytes are zeroed instead: the driver's buffer may hold kernel data
 * that the userspace device must not read, and a device that writes less
 * than the buffer then leaves zeros, never an earlier request's data.
 *
 * Return: the IOVA, or DMA_MAPPING_ERROR when the area is full or a bounce
 * page cannot be allocated.
 */
static dma_addr_t vduse_domain_map(struct vduse_domain *d, phys_addr_t pa,
				   size_t size, enum dma_data_direction dir,
				   unsigned long attrs)
{
	unsigned long i, first, npages = PFN_UP(size);
	dma_addr_t iova;

	if (!d || !d->dma || !size || !d->nslots ||
	    vduse_domain_bounce_publish(d))
		return DMA_MAPPING_ERROR;
	iova = vduse_range_alloc(&d->stream, npages);
	if (!iova)
		return DMA_MAPPING_ERROR;

	first = iova >> PAGE_SHIFT;
	for (i = 0; i < npages; i++)
		if (vduse_slot_kpage(&d->slots[first + i]))
			goto err;
	vduse_slots_map(d, first, pa, size,
			!(attrs & DMA_ATTR_SKIP_CPU_SYNC) &&
			(dir == DMA_TO_DEVICE || dir == DMA_BIDIRECTIONAL) ?
			VDUSE_TO_BOUNCE : VDUSE_ZERO_BOUNCE);
	return iova;
err:
	/* nothing was marked mapped; the kernel pages stay with their slots */
	vduse_range_free(&d->stream, iova, npages);
	return DMA_MAPPING_ERROR;
}

/**
 * vduse_domain_unmap() - end a streaming mapping
 * @d: the domain
 * @iova: IOVA from vduse_domain_map()
 * @size: its length, as mapped
 * @dir: DMA direction; device-to-memory data is copied back
 * @attrs: DMA attributes
 *
 * An IOVA outside the bounce area or not mapped is ignored.
 */
static void vduse_domain_unmap(struct vduse_domain *d, dma_addr_t iova,
			       size_t size, enum dma_data_direction dir,
			       unsigned long attrs)
{
	unsigned long first = iova >> PAGE_SHIFT, npages = PFN_UP(size);

	if (!d || !d->dma || !size || !vduse_range_contains(&d->stream, iova) ||
	    npages > d->nslots - first)
		return;
	if (!vduse_slots_unmap(d, first, size,
			       !(attrs & DMA_ATTR_SKIP_CPU_SYNC) &&
			       (dir == DMA_FROM_DEVICE ||
				dir == DMA_BIDIRECTIONAL) ?
			       VDUSE_FROM_BOUNCE : VDUSE_NO_BOUNCE))
		return;
	vduse_range_free(&d->stream, iova & PAGE_MASK, npages);
}

/**
 * vduse_domain_sync() - copy a streaming mapping one way
 * @d: the domain
 * @iova: IOVA inside a mapping
 * @size: bytes
 * @to_dev: original to bounce (else back)
 */
static void vduse_domain_sync(struct vduse_domain *d, dma_addr_t iova,
			      size_t size, bool to_dev)
{
	if (!d || !d->dma || iova >= d->bounce_size)
		return;
	vduse_bounce(d, iova, size,
		     to_dev ? VDUSE_TO_BOUNCE : VDUSE_FROM_BOUNCE);
}

/**
 * vduse_domain_alloc_coherent() - coherent buffer above the bounce area
 * @d: the domain
 * @size: bytes
 * @handle: returns the IOVA
 * @gfp: allocation flags
 *
 * The pages are mapped 1:1 for userspace through a kernel IOTLB entry whose
 * file offset is the IOVA.
 *
 * Return: kernel address or NULL.
 */
static void *vduse_domain_alloc_coherent(struct vduse_domain *d, size_t size,
					 dma_addr_t *handle, gfp_t gfp)
{
	unsigned long flags;
	unsigned long npages = PFN_UP(size);
	dma_addr_t iova;
	void *va;
	int ret;

	*handle = DMA_MAPPING_ERROR;
	if (!d || !d->dma || !size)
		return NULL;
	va = alloc_pages_exact(npages << PAGE_SHIFT, gfp | __GFP_ZERO);
	if (!va)
		return NULL;
	iova = vduse_range_alloc(&d->coherent, npages);
	if (!iova)
		goto err_free;
	spin_lock_irqsave(&d->iotlb_lock, flags);
	ret = vhost_iotlb_add_range(d->iotlb, iova,
				    iova + (npages << PAGE_SHIFT) - 1,
				    virt_to_phys(va), VHOST_MAP_RW);
	spin_unlock_irqrestore(&d->iotlb_lock, flags);
	if (ret)
		goto err_iova;
	*handle = iova;
	return va;
err_iova:
	vduse_range_free(&d->coherent, iova, npages);
err_free:
	free_pages_exact(va, npages << PAGE_SHIFT);
	return NULL;
}

/**
 * vduse_domain_free_coherent() - free a coherent buffer
 * @d: the domain
 * @size: bytes
 * @va: kernel address
 * @iova: its IOVA; unknown IOVAs are ignored
 */
static void vduse_domain_free_coherent(struct vduse_domain *d, size_t size,
				       void *va, dma_addr_t iova)
{
	unsigned long flags;
	unsigned long npages = PFN_UP(size);
	struct vhost_iotlb_map *map;

	if (!d || !d->dma || !vduse_range_contains(&d->coherent, iova))
		return;
	spin_lock_irqsave(&d->iotlb_lock, flags);
	map = vhost_iotlb_itree_first(d->iotlb, iova, iova);
	if (map && map->start == iova)
		vhost_iotlb_map_free(d->iotlb, map);
	else
		map = NULL;
	spin_unlock_irqrestore(&d->iotlb_lock, flags);
	if (!map)
		return;
	vduse_range_free(&d->coherent, iova, npages);
	free_pages_exact(va, npages << PAGE_SHIFT);
}

/*
 * Fault in the bounce range.  Only the domain's own kernel pages are ever
 * mapped: pages of a REG_UMEM registration belong to the daemon's anonymous
 * (or other) memory and must not appear in a file mapping, so the range gets
 * SIGBUS while user memory is registered (as upstream).  The page is
 * returned locked, taken under bounce_lock: REG_UMEM, after it marks the
 * domain user-backed, locks each kernel page once, which waits for every
 * fault that found one to finish installing its PTE, and then zaps them all.
 */
static vm_fault_t vduse_domain_bounce_fault(struct vduse_domain *d,
					    struct vm_fault *vmf,
					    unsigned long i)
{
	struct page *page;

	read_lock(&d->bounce_lock);
	page = d->user ? NULL : READ_ONCE(d->slots[i].kpage);
	if (page && !trylock_page(page)) {
		/* a REG_UMEM drain holds it: retry the access */
		read_unlock(&d->bounce_lock);
		return VM_FAULT_NOPAGE;
	}
	if (page)
		get_page(page);
	read_unlock(&d->bounce_lock);
	if (!page)
		return VM_FAULT_SIGBUS;
	vmf->page = page;
	return VM_FAULT_LOCKED;
}

/**
 * vduse_domain_fault() - fault handler of a domain file mapping
 * @vmf: the fault; the file offset is the IOVA
 *
 * Only kernel entries are served: a kernel bounce page, or a coherent page.
 * Consumer entries are never backed by the domain file.
 *
 * Return: 0 or VM_FAULT_LOCKED with vmf->page referenced, VM_FAULT_NOPAGE
 * to retry, or VM_FAULT_SIGBUS.
 */
static vm_fault_t vduse_domain_fault(struct vm_fault *vmf)
{
	struct vduse_domain *d = vmf->vma->vm_private_data;
	u64 iova = (u64)vmf->pgoff << PAGE_SHIFT;
	struct vhost_iotlb_map *map;
	struct page *page = NULL;
	unsigned long flags;

	if (!d)
		return VM_FAULT_SIGBUS;
	if (iova < d->bounce_size)
		return vduse_domain_bounce_fault(d, vmf,
				array_index_nospec(vmf->pgoff, d->nslots));
	spin_lock_irqsave(&d->iotlb_lock, flags);
	map = vhost_iotlb_itree_first(d->iotlb, iova, iova);
	if (map) {
		page = pfn_to_page(PHYS_PFN(map->addr + (iova - map->start)));
		get_page(page);
	}
	spin_unlock_irqrestore(&d->iotlb_lock, flags);
	if (!page)
		return VM_FAULT_SIGBUS;
	vmf->page = page;
	return 0;
}

static const struct vm_operations_struct vduse_domain_vm_ops = {
	.fault = vduse_domain_fault,
};

/**
 * vduse_domain_mmap() - mmap of a domain file
 * @file: the domain file
 * @vma: the mapping; pages come from vduse_domain_fault()
 *
 * Return: 0.
 */
static int vduse_domain_mmap(struct file *file, struct vm_area_struct *vma)
{
	vm_flags_set(vma, VM_DONTDUMP | VM_DONTEXPAND);
	vma->vm_private_data = file->private_data;
	vma->vm_ops = &vduse_domain_vm_ops;
	return 0;
}

/* Last reference to the domain file: free the domain. */
static int vduse_domain_release(struct inode *inode, struct file *file)
{
	struct vduse_domain *d = file->private_data;
	unsigned long i;

	vduse_user_tree_free(d->user_iotlb);
	vhost_iotlb_free(d->iotlb);
	for (i = 0; i < d->nslots; i++)
		if (d->slots[i].kpage)
			put_page(d->slots[i].kpage);
	kvfree(d->slots);
	kvfree(d->stream.map);
	kvfree(d->coherent.map);
	kfree(d);
	return 0;
}

static const struct file_operations vduse_domain_fops = {
	.owner = THIS_MODULE,
	.mmap = vduse_domain_mmap,
	.release = vduse_domain_release,
};

/**
 * vduse_domain_create() - create the domain of one address space
 * @bounce_size: bytes of bounce area (rounded down to pages)
 * @dma: the kernel DMA path uses this domain, so set up its allocators
 *
 * The file of a DMA domain gets an inode of its own, so that REG_UMEM can
 * zap the mappings of this domain (and of no other anonymous file); the
 * others, which never get user bounce pages, share the anonymous inode.
 * Only a DMA domain ever bounces, so only it gets the bounce area and its
 * slot table: the others have none (their IOVA space holds consumer maps
 * only), whatever @bounce_size says.
 *
 * Return: the domain or NULL.
 */
struct vduse_domain *vduse_domain_create(u64 bounce_size, bool dma)
{
	unsigned long total = VDUSE_IOVA_SIZE >> PAGE_SHIFT, i;
	struct vduse_domain *d;
	struct file *file;

	d = kzalloc(sizeof(*d), GFP_KERNEL);
	if (!d)
		return NULL;
	d->bounce_size = dma ? bounce_size & PAGE_MASK : 0;
	d->nslots = d->bounce_size >> PAGE_SHIFT;
	d->dma = dma;
	spin_lock_init(&d->iotlb_lock);
	rwlock_init(&d->bounce_lock);
	d->iotlb = vduse_iotlb_alloc();
	if (!d->iotlb)
		goto err;
	d->slots = vduse_table_alloc(d->nslots, sizeof(*d->slots));
	if (d->nslots && !d->slots)
		goto err;
	for (i = 0; i < d->nslots; i++)
		d->slots[i].orig = VDUSE_NO_ORIG;
	/* IOVA 0 is never handed out, so no valid mapping looks like NULL. */
	if (dma && (vduse_range_init(&d->stream, 1,
				     d->nslots ? d->nslots - 1 : 0) ||
		    vduse_range_init(&d->coherent, max(d->nslots, 1UL),
				     total - max(d->nslots, 1UL))))
		goto err;
	/* only a domain of the DMA path can get user bounce pages */
	if (dma)
		file = anon_inode_create_getfile("[vduse-domain]",
						 &vduse_domain_fops, d, O_RDWR,
						 NULL);
	else
		file = anon_inode_getfile("[vduse-domain]", &vduse_domain_fops,
					  d, O_RDWR);
	if (IS_ERR(file))
		goto err;
	d->file = file;
	return d;
err:
	kvfree(d->stream.map);
	kvfree(d->coherent.map);
	kvfree(d->slots);
	if (d->iotlb)
		vhost_iotlb_free(d->iotlb);
	kfree(d);
	return NULL;
}

/**
 * vduse_domain_destroy() - drop the device's reference to a domain
 * @domain: the domain
 *
 * Foreign files are released now; the domain itself goes when userspace
 * drops its last fd or mapping of the domain file.  No driver is bound any
 * more (DESTROY_DEV refuses while a vDPA device exists), so every streaming
 * IOVA must be back: the bitmap is empty, or a mapping leaked.
 */
void vduse_domain_destroy(struct vduse_domain *domain)
{
	struct vduse_range *r = &domain->stream;

	if (r->map)
		WARN(!bitmap_empty(r->map, r->npages),
		     "vduse: %u streaming IOVA pages not returned\n",
		     bitmap_weight(r->map, r->npages));
	vduse_domain_clear_map(domain);
	fput(domain->file);
}

/* Slots switched per hold of bounce_lock, and page copies at most. */
#define VDUSE_SWITCH_SLOTS	512
#define VDUSE_SWITCH_COPIES	8

/*
 * Back every slot with @pages[i] (or, with @pages NULL, its kernel page
 * again), a batch at a time with interrupts off for a bounded time: only
 * slots in flight (mapped by the driver) have their data copied, since the
 * contents of the others are never read before the next mapping rewrites
 * them.  A slot in flight always has a kernel page (vduse_slot_kpage()).
 */
static void vduse_domain_switch(struct vduse_domain *d, struct page **pages)
{
	unsigned long i = 0, end, flags;
	unsigned int copies;

	while (i < d->nslots) {
		end = min(d->nslots, i + VDUSE_SWITCH_SLOTS);
		copies = 0;
		write_lock_irqsave(&d->bounce_lock, flags);
		for (; i < end && copies < VDUSE_SWITCH_COPIES; i++) {
			struct vduse_slot *s = &d->slots[i];
			struct page *to = pages ? pages[i] : s->kpage;

			if (s->orig != VDUSE_NO_ORIG && s->page && to &&
			    s->page != to) {
				copy_highpage(to, s->page);
				copies++;
			}
			s->page = to;
		}
		write_unlock_irqrestore(&d->bounce_lock, flags);
		cond_resched();
	}
}

/**
 * vduse_domain_set_user_pages() - switch the bounce area to user pages or back
 * @domain: the domain
 * @pages: pinned user pages covering the whole bounce area, or NULL to go
 *	   back to kernel pages
 *
 * Data of mappings in flight is copied across so the switch is invisible to
 * the kernel driver.  Registering user pages first makes the bounce range of
 * the domain file fault with SIGBUS and zaps what userspace has mapped of it,
 * so no mapping can reach a kernel page whose data moved away; going back
 * zaps the range again before kernel pages can be mapped anew.  Process
 * context; the caller serialises switches (the AS's mem_lock).
 */
void vduse_domain_set_user_pages(struct vduse_domain *domain,
				 struct page **pages)
{
	unsigned long flags, i;

	if (!pages) {
		vduse_domain_switch(domain, NULL);
		/* nothing can be mapped (SIGBUS so far); keep it an invariant */
		unmap_mapping_range(domain->file->f_mapping, 0,
				    domain->bounce_size, 1);
		write_lock_irqsave(&domain->bounce_lock, flags);
		domain->user = false;
		write_unlock_irqrestore(&domain->bounce_lock, flags);
		return;
	}
	write_lock_irqsave(&domain->bounce_lock, flags);
	domain->user = true;
	write_unlock_irqrestore(&domain->bounce_lock, flags);
	/* wait for faults that found a kernel page before that to install it */
	for (i = 0; i < domain->nslots; i++) {
		struct page *page = READ_ONCE(domain->slots[i].kpage);

		if (page) {
			lock_page(page);
			unlock_page(page);
		}
		if (!(i % 1024))
			cond_resched();
	}
	unmap_mapping_range(domain->file->f_mapping, 0, domain->bounce_size, 1);
	vduse_domain_switch(domain, pages);
}

/* DMA ops of the vDPA device, used by virtio-vdpa through virtio_ring. */

static struct vduse_domain *vduse_dma_domain(struct device *dev)
{
	struct vdpa_device *vdpa = dev_to_vdpa(dev);

	return vdpa_to_vduse(vdpa)->as[0].domain;
}

static dma_addr_t vduse_dma_map_page(struct device *dev, struct page *page,
				     unsigned long offset, size_t size,
				     enum dma_data_direction dir,
				     unsigned long attrs)
{
	return vduse_domain_map(vduse_dma_domain(dev),
				page_to_phys(page) + offset, size, dir, attrs);
}

static void vduse_dma_unmap_page(struct device *dev, dma_addr_t addr,
				 size_t size, enum dma_data_direction dir,
				 unsigned long attrs)
{
	vduse_domain_unmap(vduse_dma_domain(dev), addr, size, dir, attrs);
}

/**
 * vduse_dma_map_sg() - map_sg op: map each entry through the bounce area
 * @dev: the vDPA device
 * @sgl: scatterlist
 * @nents: entries
 * @dir: DMA direction
 * @attrs: DMA attributes
 *
 * Return: @nents, or -ENOMEM with nothing left mapped.
 */
static int vduse_dma_map_sg(struct device *dev, struct scatterlist *sgl,
			    int nents, enum dma_data_direction dir,
			    unsigned long attrs)
{
	struct vduse_domain *d = vduse_dma_domain(dev);
	struct scatterlist *sg;
	int i;

	for_each_sg(sgl, sg, nents, i) {
		sg->dma_address = vduse_domain_map(d, sg_phys(sg), sg->length,
						   dir, attrs);
		if (sg->dma_address == DMA_MAPPING_ERROR)
			goto err;
		sg_dma_len(sg) = sg->length;
	}
	return nents;
err:
	nents = i;
	for_each_sg(sgl, sg, nents, i)
		vduse_domain_unmap(d, sg->dma_address, sg->length, dir,
				   attrs | DMA_ATTR_SKIP_CPU_SYNC);
	return -ENOMEM;
}

static void vduse_dma_unmap_sg(struct device *dev, struct scatterlist *sgl,
			       int nents, enum dma_data_direction dir,
			       unsigned long attrs)
{
	struct vduse_domain *d = vduse_dma_domain(dev);
	struct scatterlist *sg;
	int i;

	for_each_sg(sgl, sg, nents, i)
		vduse_domain_unmap(d, sg->dma_address, sg_dma_len(sg), dir,
				   attrs);
}

static void vduse_dma_sync_for_cpu(struct device *dev, dma_addr_t addr,
				   size_t size, enum dma_data_direction dir)
{
	if (dir == DMA_FROM_DEVICE || dir == DMA_BIDIRECTIONAL)
		vduse_domain_sync(vduse_dma_domain(dev), addr, size, false);
}

static void vduse_dma_sync_for_device(struct device *dev, dma_addr_t addr,
				      size_t size,
				      enum dma_data_direction dir)
{
	if (dir == DMA_TO_DEVICE || dir == DMA_BIDIRECTIONAL)
		vduse_domain_sync(vduse_dma_domain(dev), addr, size, true);
}

static void *vduse_dma_alloc(struct device *dev, size_t size,
			     dma_addr_t *handle, gfp_t gfp,
			     unsigned long attrs)
{
	return vduse_domain_alloc_coherent(vduse_dma_domain(dev), size,
					   handle, gfp);
}

static void vduse_dma_free(struct device *dev, size_t size, void *va,
			   dma_addr_t handle, unsigned long attrs)
{
	vduse_domain_free_coherent(vduse_dma_domain(dev), size, va, handle);
}

/**
 * vduse_dma_max_mapping_size() - max_mapping_size op
 * @dev: the vDPA device
 *
 * Return: the largest streaming mapping AS 0's bounce area can hold.
 */
static size_t vduse_dma_max_mapping_size(struct device *dev)
{
	struct vduse_domain *d = vduse_dma_domain(dev);

	return d && d->bounce_size > PAGE_SIZE ? d->bounce_size - PAGE_SIZE :
						 PAGE_SIZE;
}

const struct dma_map_ops vduse_dma_ops = {
	.map_page = vduse_dma_map_page,
	.unmap_page = vduse_dma_unmap_page,
	.map_sg = vduse_dma_map_sg,
	.unmap_sg = vduse_dma_unmap_sg,
	.sync_single_for_cpu = vduse_dma_sync_for_cpu,
	.sync_single_for_device = vduse_dma_sync_for_device,
	.alloc = vduse_dma_alloc,
	.free = vduse_dma_free,
	.max_mapping_size = vduse_dma_max_mapping_size,
};
