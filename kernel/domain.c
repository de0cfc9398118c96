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
#include <linux/scatterlist.h>
#include <linux/slab.h>
#include <linux/vmalloc.h>

#include "vduse.h"

#define VDUSE_NO_ORIG	((phys_addr_t)-1)

static int vduse_range_init(struct vduse_range *r, unsigned long base,
			    unsigned long npages)
{
	spin_lock_init(&r->lock);
	r->base = base;
	r->npages = npages;
	r->hint = 0;
	r->map = NULL;
	if (!npages)
		return 0;
	r->map = kvcalloc(BITS_TO_LONGS(npages), sizeof(long), GFP_KERNEL);
	return r->map ? 0 : -ENOMEM;
}

/* Allocate @npages contiguous pages of IOVA; returns 0 when full. */
static dma_addr_t vduse_range_alloc(struct vduse_range *r,
				    unsigned long npages)
{
	unsigned long flags, start;

	if (!npages || npages > r->npages)
		return 0;
	spin_lock_irqsave(&r->lock, flags);
	start = bitmap_find_next_zero_area(r->map, r->npages, r->hint,
					   npages, 0);
	if (start >= r->npages)
		start = bitmap_find_next_zero_area(r->map, r->npages, 0,
						   npages, 0);
	if (start >= r->npages) {
		spin_unlock_irqrestore(&r->lock, flags);
		return 0;
	}
	bitmap_set(r->map, start, npages);
	r->hint = start + npages;
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
 * Add [start, last] -> @addr to the IOTLB: a kernel entry of the domain's own
 * file when @file is NULL (@addr is then a physical address the fault handler
 * hands out), else an entry of a bus driver's @file, which is referenced.
 * Only the caller decides which: a bus driver's entry may name the domain's
 * own file (its consumer mmapped it) but carries a user address.  Caller
 * holds iotlb_lock.
 */
static int vduse_iotlb_add(struct vduse_domain *d, u64 start, u64 last,
			   u64 addr, u32 perm, struct file *file, u64 offset)
{
	struct vduse_map_ref *ref;
	int ret;

	ref = kmalloc(sizeof(*ref), GFP_ATOMIC);
	if (!ref)
		return -ENOMEM;
	ref->own = !file;
	ref->file = ref->own ? d->file : get_file(file);
	ref->offset = offset;
	ret = vhost_iotlb_add_range_ctx(d->iotlb, start, last, addr, perm, ref);
	if (ret) {
		if (!ref->own)
			fput(ref->file);
		kfree(ref);
	}
	return ret;
}

static void vduse_iotlb_remove(struct vduse_domain *d,
			       struct vhost_iotlb_map *map)
{
	struct vduse_map_ref *ref = map->opaque;

	if (!ref->own)
		fput(ref->file);
	kfree(ref);
	vhost_iotlb_map_free(d->iotlb, map);
}

/* Remove the entries backed by foreign files. Caller holds iotlb_lock. */
static void vduse_iotlb_remove_foreign(struct vduse_domain *d)
{
	struct vhost_iotlb_map *map, *next;

	map = vhost_iotlb_itree_first(d->iotlb, 0, ULLONG_MAX);
	while (map) {
		next = vhost_iotlb_itree_next(map, 0, ULLONG_MAX);
		if (!((struct vduse_map_ref *)map->opaque)->own)
			vduse_iotlb_remove(d, map);
		map = next;
	}
}

/**
 * vduse_domain_set_map() - replace the translations set by a vDPA bus driver
 * @domain: the domain of the address space
 * @iotlb: the bus driver's IOTLB; every entry's opaque is a vdpa_map_file
 *
 * Entries made by the kernel DMA path (bounce, coherent) are kept.
 *
 * Return: 0 or -ENOMEM/-EINVAL, in which case no foreign entry is left.
 */
int vduse_domain_set_map(struct vduse_domain *domain,
			 struct vhost_iotlb *iotlb)
{
	unsigned long flags;
	struct vhost_iotlb_map *map;
	struct vdpa_map_file *mf;
	int ret = 0;

	spin_lock_irqsave(&domain->iotlb_lock, flags);
	vduse_iotlb_remove_foreign(domain);
	for (map = vhost_iotlb_itree_first(iotlb, 0, ULLONG_MAX); map;
	     map = vhost_iotlb_itree_next(map, 0, ULLONG_MAX)) {
		mf = map->opaque;
		if (!mf || !mf->file) {
			ret = -EINVAL;
			break;
		}
		ret = vduse_iotlb_add(domain, map->start, map->last, map->addr,
				      map->perm, mf->file, mf->offset);
		if (ret)
			break;
	}
	if (ret)
		vduse_iotlb_remove_foreign(domain);
	spin_unlock_irqrestore(&domain->iotlb_lock, flags);
	return ret;
}

/**
 * vduse_domain_clear_map() - drop the translations of the vDPA bus driver
 * @domain: the domain
 */
void vduse_domain_clear_map(struct vduse_domain *domain)
{
	unsigned long flags;

	spin_lock_irqsave(&domain->iotlb_lock, flags);
	vduse_iotlb_remove_foreign(domain);
	spin_unlock_irqrestore(&domain->iotlb_lock, flags);
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
		ret = vduse_iotlb_add(d, 0, d->bounce_size - 1, 0,
				      VHOST_MAP_RW, NULL, 0);
		if (!ret)
			WRITE_ONCE(d->bounce_mapped, true);
	}
	spin_unlock_irqrestore(&d->iotlb_lock, flags);
	return ret;
}

/**
 * vduse_domain_reset_bounce() - withdraw the bounce area from the IOTLB
 * @domain: the domain
 *
 * Called on device reset; the next streaming mapping publishes it again.
 */
void vduse_domain_reset_bounce(struct vduse_domain *domain)
{
	unsigned long flags;
	struct vhost_iotlb_map *map;

	spin_lock_irqsave(&domain->iotlb_lock, flags);
	if (domain->bounce_mapped) {
		map = vhost_iotlb_itree_first(domain->iotlb, 0,
					      domain->bounce_size - 1);
		while (map) {
			struct vhost_iotlb_map *next;

			next = vhost_iotlb_itree_next(map, 0,
						      domain->bounce_size - 1);
			if (((struct vduse_map_ref *)map->opaque)->own)
				vduse_iotlb_remove(domain, map);
			map = next;
		}
		domain->bounce_mapped = false;
	}
	spin_unlock_irqrestore(&domain->iotlb_lock, flags);
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

/*
 * Copy @size bytes at @iova between the bounce area and the original
 * buffers.  @to_dev copies original -> bounce.  Caller holds bounce_lock.
 */
static void vduse_bounce(struct vduse_domain *d, dma_addr_t iova,
			 size_t size, bool to_dev)
{
	while (size) {
		unsigned long i = iova >> PAGE_SHIFT;
		unsigned int off = offset_in_page(iova);
		size_t n = min_t(size_t, size, PAGE_SIZE - off);
		struct vduse_slot *s;
		struct page *page;
		void *va;

		if (i >= d->nslots)
			return;
		s = &d->slots[i];
		if (!s->kpage || s->orig == VDUSE_NO_ORIG)
			return;
		page = d->upages ? d->upages[i] : s->kpage;
		va = kmap_local_page(page);
		vduse_copy_phys(s->orig + off, va + off, n, !to_dev);
		kunmap_local(va);
		iova += n;
		size -= n;
	}
}

/**
 * vduse_domain_map() - streaming mapping through the bounce area
 * @d: the domain (AS 0)
 * @pa: physical address of the buffer
 * @size: its length
 * @dir: DMA direction
 * @attrs: DMA attributes (DMA_ATTR_SKIP_CPU_SYNC skips the copy)
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
	read_lock(&d->bounce_lock);
	for (i = 0; i < npages; i++) {
		struct vduse_slot *s = &d->slots[first + i];

		if (!s->kpage)
			WRITE_ONCE(s->kpage, alloc_page(GFP_ATOMIC | __GFP_ZERO));
		if (!s->kpage)
			goto err;
		s->orig = pa + i * PAGE_SIZE;
	}
	/*
	 * Bounce in every direction: a device-to-memory buffer must not expose
	 * stale bounce data, nor write it back where the device wrote less.
	 */
	if (!(attrs & DMA_ATTR_SKIP_CPU_SYNC))
		vduse_bounce(d, iova, size, true);
	read_unlock(&d->bounce_lock);
	return iova;
err:
	while (i--)
		d->slots[first + i].orig = VDUSE_NO_ORIG;
	read_unlock(&d->bounce_lock);
	vduse_range_free(&d->stream, iova, npages);
	return DMA_MAPPING_ERROR;
}

/**
 * vduse_domain_unmap() - end a streaming mapping
 * @d: the domain
 * @iova: IOVA from vduse_domain_map()
 * @size: its length
 * @dir: DMA direction; device-to-memory data is copied back
 * @attrs: DMA attributes
 */
static void vduse_domain_unmap(struct vduse_domain *d, dma_addr_t iova,
			       size_t size, enum dma_data_direction dir,
			       unsigned long attrs)
{
	unsigned long i, first = iova >> PAGE_SHIFT, npages = PFN_UP(size);

	if (!d || !d->dma || !size || !vduse_range_contains(&d->stream, iova) ||
	    first + npages > d->nslots)
		return;
	read_lock(&d->bounce_lock);
	if (!(attrs & DMA_ATTR_SKIP_CPU_SYNC) &&
	    (dir == DMA_FROM_DEVICE || dir == DMA_BIDIRECTIONAL))
		vduse_bounce(d, iova, size, false);
	for (i = 0; i < npages; i++)
		d->slots[first + i].orig = VDUSE_NO_ORIG;
	read_unlock(&d->bounce_lock);
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
	read_lock(&d->bounce_lock);
	vduse_bounce(d, iova, size, to_dev);
	read_unlock(&d->bounce_lock);
}

/**
 * vduse_domain_alloc_coherent() - coherent buffer above the bounce area
 * @d: the domain
 * @size: bytes
 * @handle: returns the IOVA
 * @gfp: allocation flags
 *
 * The pages are mapped 1:1 for userspace through an IOTLB entry whose file
 * offset is the IOVA.
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
	ret = vduse_iotlb_add(d, iova, iova + (npages << PAGE_SHIFT) - 1,
			      virt_to_phys(va), VHOST_MAP_RW, NULL, iova);
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
	if (map && map->start == iova &&
	    ((struct vduse_map_ref *)map->opaque)->own)
		vduse_iotlb_remove(d, map);
	else
		map = NULL;
	spin_unlock_irqrestore(&d->iotlb_lock, flags);
	if (!map)
		return;
	vduse_range_free(&d->coherent, iova, npages);
	free_pages_exact(va, npages << PAGE_SHIFT);
}

/*
 * Page backing @iova for a userspace mapping of the domain file, with a
 * reference taken, or NULL.
 */
static struct page *vduse_domain_page(struct vduse_domain *d, u64 iova)
{
	unsigned long flags;
	struct vhost_iotlb_map *map;
	struct page *page = NULL;

	if (iova < d->bounce_size) {
		unsigned long i = iova >> PAGE_SHIFT;

		read_lock(&d->bounce_lock);
		page = d->upages ? d->upages[i] : READ_ONCE(d->slots[i].kpage);
		if (page)
			get_page(page);
		read_unlock(&d->bounce_lock);
		return page;
	}
	spin_lock_irqsave(&d->iotlb_lock, flags);
	map = vhost_iotlb_itree_first(d->iotlb, iova, iova);
	if (map && ((struct vduse_map_ref *)map->opaque)->own) {
		page = pfn_to_page(PHYS_PFN(map->addr + (iova - map->start)));
		get_page(page);
	}
	spin_unlock_irqrestore(&d->iotlb_lock, flags);
	return page;
}

/**
 * vduse_domain_fault() - fault handler of a domain file mapping
 * @vmf: the fault; the file offset is the IOVA
 *
 * Return: 0 with vmf->page referenced, or VM_FAULT_SIGBUS.
 */
static vm_fault_t vduse_domain_fault(struct vm_fault *vmf)
{
	struct vduse_domain *d = vmf->vma->vm_private_data;
	struct page *page;

	if (!d)
		return VM_FAULT_SIGBUS;
	page = vduse_domain_page(d, (u64)vmf->pgoff << PAGE_SHIFT);
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
	unsigned long flags;
	struct vduse_domain *d = file->private_data;
	struct vhost_iotlb_map *map;
	unsigned long i;

	spin_lock_irqsave(&d->iotlb_lock, flags);
	while ((map = vhost_iotlb_itree_first(d->iotlb, 0, ULLONG_MAX)))
		vduse_iotlb_remove(d, map);
	spin_unlock_irqrestore(&d->iotlb_lock, flags);
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
	d->bounce_size = bounce_size & PAGE_MASK;
	d->nslots = d->bounce_size >> PAGE_SHIFT;
	d->dma = dma;
	spin_lock_init(&d->iotlb_lock);
	rwlock_init(&d->bounce_lock);
	d->iotlb = vhost_iotlb_alloc(0, 0);
	if (!d->iotlb)
		goto err;
	d->slots = kvcalloc(d->nslots, sizeof(*d->slots), GFP_KERNEL);
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
	file = anon_inode_getfile("[vduse-domain]", &vduse_domain_fops, d,
				  O_RDWR);
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
 * drops its last fd or mapping of the domain file.
 */
void vduse_domain_destroy(struct vduse_domain *domain)
{
	vduse_domain_clear_map(domain);
	fput(domain->file);
}

/**
 * vduse_domain_set_upages() - switch the bounce area to user pages or back
 * @domain: the domain
 * @pages: pinned user pages covering the whole bounce area, or NULL to go
 *	   back to kernel pages
 *
 * Data of mappings in flight is copied across so the switch is invisible to
 * the kernel driver.
 */
void vduse_domain_set_upages(struct vduse_domain *domain, struct page **pages)
{
	unsigned long flags;
	struct page *from, *to;
	unsigned long i;

	write_lock_irqsave(&domain->bounce_lock, flags);
	for (i = 0; i < domain->nslots; i++) {
		struct vduse_slot *s = &domain->slots[i];

		if (!s->kpage)
			continue;
		from = domain->upages ? domain->upages[i] : s->kpage;
		to = pages ? pages[i] : s->kpage;
		if (from != to)
			copy_highpage(to, from);
	}
	domain->upages = pages;
	write_unlock_irqrestore(&domain->bounce_lock, flags);
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
