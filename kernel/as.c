// SPDX-License-Identifier: GPL-2.0
/*
 * VDUSE address spaces: creation of the per-AS domains, the IOTLB lookup
 * shared by IOTLB_GET_FD, IOTLB_GET_FD2 and IOTLB_GET_INFO, and user memory
 * registered as bounce area (IOTLB_REG_UMEM / IOTLB_DEREG_UMEM).
 */

#include <linux/file.h>
#include <linux/mm.h>
#include <linux/nospec.h>
#include <linux/sched/mm.h>
#include <linux/sched/signal.h>
#include <linux/slab.h>
#include <linux/vmalloc.h>

#include "vduse.h"

/**
 * vduse_as_bounce_size() - bounce area of each address space
 * @dev: the device
 *
 * The device's bounce_size is split equally among its address spaces and
 * rounded down to whole pages, so REG_UMEM sizes are always page multiples.
 *
 * Return: bytes of bounce area per AS.
 */
u64 vduse_as_bounce_size(struct vduse_dev *dev)
{
	return ((u64)dev->bounce_size / dev->nas) & PAGE_MASK;
}

/**
 * vduse_as_create_domains() - create every AS's domain if not done yet
 * @dev: the device
 *
 * Called by "vdpa dev add".  The domains then live until the device is
 * destroyed.  Only AS 0 gets the kernel DMA allocators: on 6.12 the kernel
 * virtio path uses AS 0 alone.
 *
 * Return: 0 or -ENOMEM, in which case no domain was left behind.
 */
int vduse_as_create_domains(struct vduse_dev *dev)
{
	u64 size;
	u32 i;

	mutex_lock(&dev->domain_lock);
	if (dev->as[0].domain) {
		mutex_unlock(&dev->domain_lock);
		return 0;
	}
	size = vduse_as_bounce_size(dev);
	for (i = 0; i < dev->nas; i++) {
		dev->as[i].domain = vduse_domain_create(size, i == 0);
		if (!dev->as[i].domain)
			goto err;
	}
	mutex_unlock(&dev->domain_lock);
	return 0;
err:
	while (i--) {
		vduse_domain_destroy(dev->as[i].domain);
		dev->as[i].domain = NULL;
	}
	mutex_unlock(&dev->domain_lock);
	return -ENOMEM;
}

/**
 * vduse_as_destroy_domains() - drop all domains of a device being destroyed
 * @dev: the device; its fd is closed, so no umem is registered
 */
void vduse_as_destroy_domains(struct vduse_dev *dev)
{
	u32 i;

	mutex_lock(&dev->domain_lock);
	for (i = 0; i < dev->nas; i++) {
		if (dev->as[i].domain)
			vduse_domain_destroy(dev->as[i].domain);
		dev->as[i].domain = NULL;
	}
	mutex_unlock(&dev->domain_lock);
}

static u8 vduse_perm(u32 perm)
{
	switch (perm) {
	case VHOST_MAP_RO:
		return VDUSE_ACCESS_RO;
	case VHOST_MAP_WO:
		return VDUSE_ACCESS_WO;
	default:
		return VDUSE_ACCESS_RW;
	}
}

/**
 * vduse_as_lookup() - find the first map of an AS overlapping [start, last]
 * @dev: the device
 * @asid: address space, already checked against nas by the caller
 * @start: first IOVA
 * @last: last IOVA
 * @want_file: take a reference on the backing file into @out->file
 * @out: the map found
 *
 * Return: 0, or -EINVAL when start > last, the AS has no domain yet, or no
 * map overlaps.
 */
int vduse_as_lookup(struct vduse_dev *dev, u32 asid, u64 start, u64 last,
		    bool want_file, struct vduse_lookup *out)
{
	unsigned long flags;
	struct vduse_domain *d;
	struct vhost_iotlb_map *map;
	struct vduse_map_ref *ref;
	int ret = -EINVAL;

	if (start > last || asid >= dev->nas)
		return -EINVAL;
	asid = array_index_nospec(asid, dev->nas);
	mutex_lock(&dev->domain_lock);
	d = dev->as[asid].domain;
	if (!d)
		goto out;
	spin_lock_irqsave(&d->iotlb_lock, flags);
	map = vhost_iotlb_itree_first(d->iotlb, start, last);
	if (map) {
		ref = map->opaque;
		out->start = map->start;
		out->last = map->last;
		out->offset = ref->offset;
		out->perm = vduse_perm(map->perm);
		out->umem_capable = d->bounce_mapped && map->start == 0 &&
				    map->last == d->bounce_size - 1;
		out->file = want_file ? get_file(ref->file) : NULL;
		ret = 0;
	}
	spin_unlock_irqrestore(&d->iotlb_lock, flags);
out:
	mutex_unlock(&dev->domain_lock);
	return ret;
}

/**
 * vduse_umem_release() - unpin and free a umem registration
 * @umem: the registration, no longer used by its domain
 */
static void vduse_umem_release(struct vduse_umem *umem)
{
	unpin_user_pages_dirty_lock(umem->pages, umem->npages, true);
	atomic64_sub(umem->npages, &umem->mm->pinned_vm);
	mmdrop(umem->mm);
	vfree(umem->pages);
	kfree(umem);
}

/* Caller holds domain_lock. */
static int __vduse_as_dereg(struct vduse_dev *dev, u32 asid, u64 iova,
			    u64 size)
{
	struct vduse_as *as = &dev->as[asid];
	int ret;

	mutex_lock(&as->mem_lock);
	ret = -ENOENT;
	if (!as->umem)
		goto unlock;
	ret = -EINVAL;
	if (!as->domain || as->umem->iova != iova ||
	    size != as->domain->bounce_size)
		goto unlock;
	vduse_domain_set_upages(as->domain, NULL);
	vduse_umem_release(as->umem);
	as->umem = NULL;
	ret = 0;
unlock:
	mutex_unlock(&as->mem_lock);
	return ret;
}

/**
 * vduse_as_dereg_umem() - IOTLB_DEREG_UMEM
 * @dev: the device
 * @asid: address space, already checked against nas
 * @iova: must match the registration
 * @size: must be the AS's bounce size
 *
 * Return: 0, -ENOENT without registration, -EINVAL on mismatch.
 */
int vduse_as_dereg_umem(struct vduse_dev *dev, u32 asid, u64 iova, u64 size)
{
	int ret;

	asid = array_index_nospec(asid, dev->nas);
	mutex_lock(&dev->domain_lock);
	ret = __vduse_as_dereg(dev, asid, iova, size);
	mutex_unlock(&dev->domain_lock);
	return ret;
}

/**
 * vduse_as_dereg_all() - deregister the umem of every AS (device fd closed)
 * @dev: the device
 */
void vduse_as_dereg_all(struct vduse_dev *dev)
{
	u32 i;

	mutex_lock(&dev->domain_lock);
	for (i = 0; i < dev->nas; i++)
		if (dev->as[i].domain && dev->as[i].umem)
			__vduse_as_dereg(dev, i, dev->as[i].umem->iova,
					 dev->as[i].domain->bounce_size);
	mutex_unlock(&dev->domain_lock);
}

/**
 * vduse_as_reg_umem() - IOTLB_REG_UMEM: back an AS's bounce area with
 *	user memory
 * @dev: the device
 * @asid: address space, already checked against nas
 * @iova: must be 0
 * @uaddr: page-aligned user address
 * @size: must equal the AS's bounce size
 *
 * Return: 0; -EINVAL on bad arguments or before the bounce area exists;
 * -EEXIST if registered already; -ENOMEM or the pin error otherwise.
 */
int vduse_as_reg_umem(struct vduse_dev *dev, u32 asid, u64 iova, u64 uaddr,
		      u64 size)
{
	struct vduse_as *as;
	struct vduse_umem *umem = NULL;
	struct page **pages = NULL;
	unsigned long npages, limit;
	long pinned = 0;
	int ret = -EINVAL;

	asid = array_index_nospec(asid, dev->nas);
	as = &dev->as[asid];
	mutex_lock(&dev->domain_lock);
	if (!as->domain || !READ_ONCE(as->domain->bounce_mapped) || !size ||
	    size != as->domain->bounce_size || iova || (uaddr & ~PAGE_MASK))
		goto out_domain;

	mutex_lock(&as->mem_lock);
	ret = -EEXIST;
	if (as->umem)
		goto out_mem;
	ret = -ENOMEM;
	npages = size >> PAGE_SHIFT;
	pages = vmalloc_array(npages, sizeof(*pages));
	umem = kzalloc(sizeof(*umem), GFP_KERNEL);
	if (!pages || !umem)
		goto out_free;

	mmap_read_lock(current->mm);
	limit = rlimit(RLIMIT_MEMLOCK) >> PAGE_SHIFT;
	if (npages + atomic64_read(&current->mm->pinned_vm) > limit)
		goto out_unlock_mm;
	pinned = pin_user_pages(uaddr, npages, FOLL_LONGTERM | FOLL_WRITE,
				pages);
	if (pinned != npages) {
		ret = pinned < 0 ? pinned : -ENOMEM;
		goto out_unlock_mm;
	}
	atomic64_add(npages, &current->mm->pinned_vm);
	mmap_read_unlock(current->mm);

	umem->iova = iova;
	umem->npages = npages;
	umem->pages = pages;
	umem->mm = current->mm;
	mmgrab(current->mm);
	vduse_domain_set_upages(as->domain, pages);
	as->umem = umem;
	mutex_unlock(&as->mem_lock);
	mutex_unlock(&dev->domain_lock);
	return 0;

out_unlock_mm:
	if (pinned > 0)
		unpin_user_pages(pages, pinned);
	mmap_read_unlock(current->mm);
out_free:
	vfree(pages);
	kfree(umem);
out_mem:
	mutex_unlock(&as->mem_lock);
out_domain:
	mutex_unlock(&dev->domain_lock);
	return ret;
}
