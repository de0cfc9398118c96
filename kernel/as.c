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
 * Kernel entries (bounce area, coherent buffers) take precedence over the
 * entries of a vDPA bus driver wherever both overlap.
 *
 * Return: 0, or -EINVAL when start > last, the AS has no domain yet, or no
 * map overlaps.
 */
int vduse_as_lookup(struct vduse_dev *dev, u32 asid, u64 start, u64 last,
		    bool want_file, struct vduse_lookup *out)
{
	struct vduse_domain *d;
	int ret = -EINVAL;

	if (start > last || asid >= dev->nas)
		return -EINVAL;
	asid = array_index_nospec(asid, dev->nas);
	mutex_lock(&dev->domain_lock);
	d = dev->as[asid].domain;
	if (d)
		ret = vduse_domain_lookup(d, start, last, want_file, out);
	mutex_unlock(&dev->domain_lock);
	if (!ret)
		out->perm = vduse_perm(out->perm);
	return ret;
}

/**
 * vduse_umem_release() - unpin and free a umem registration
 * @umem: the registration, no longer used by its domain
 *
 * Called without domain_lock and mem_lock: unpinning may wait for page
 * locks of the daemon's memory.
 */
static void vduse_umem_release(struct vduse_umem *umem)
{
	unpin_user_pages_dirty_lock(umem->pages, umem->npages, true);
	atomic64_sub(umem->npages, &umem->mm->pinned_vm);
	mmdrop(umem->mm);
	kvfree(umem->pages);
	kfree(umem);
}

/*
 * Take the umem of AS @asid back from its domain; the caller releases it.
 * Return: 0, -ENOENT without registration, -EINVAL on mismatch.
 */
static int vduse_as_detach(struct vduse_dev *dev, u32 asid, u64 iova,
			   u64 size, struct vduse_umem **out)
{
	struct vduse_as *as = &dev->as[asid];
	struct vduse_domain *d;
	int ret;

	mutex_lock(&dev->domain_lock);
	mutex_lock(&as->mem_lock);
	d = as->domain;
	ret = -ENOENT;
	if (!as->umem)
		goto unlock;
	ret = -EINVAL;
	if (!d || as->umem->iova != iova || size != d->bounce_size)
		goto unlock;
	/* the switch waits for nobody but the DMA path: reset need not wait */
	mutex_unlock(&dev->domain_lock);
	vduse_domain_set_user_pages(d, NULL);
	*out = as->umem;
	as->umem = NULL;
	mutex_unlock(&as->mem_lock);
	return 0;
unlock:
	mutex_unlock(&as->mem_lock);
	mutex_unlock(&dev->domain_lock);
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
	struct vduse_umem *umem;
	int ret;

	asid = array_index_nospec(asid, dev->nas);
	ret = vduse_as_detach(dev, asid, iova, size, &umem);
	if (!ret)
		vduse_umem_release(umem);
	return ret;
}

/**
 * vduse_as_dereg_all() - deregister the umem of every AS (device fd closed)
 * @dev: the device
 */
void vduse_as_dereg_all(struct vduse_dev *dev)
{
	struct vduse_umem *umem;
	u64 iova, size;
	u32 i;

	for (i = 0; i < dev->nas; i++) {
		mutex_lock(&dev->as[i].mem_lock);
		iova = dev->as[i].umem ? dev->as[i].umem->iova : 0;
		size = dev->as[i].domain ? dev->as[i].domain->bounce_size : 0;
		mutex_unlock(&dev->as[i].mem_lock);
		/* nobody else can register: the device fd is being closed */
		if (!vduse_as_detach(dev, i, iova, size, &umem))
			vduse_umem_release(umem);
		cond_resched();
	}
}

/* Whether AS @as may get a umem of @size now; caller holds domain_lock. */
static int vduse_as_reg_check(struct vduse_as *as, u64 size)
{
	if (!as->domain || !READ_ONCE(as->domain->bounce_mapped) ||
	    size != as->domain->bounce_size)
		return -EINVAL;
	return 0;
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
 * The pages are pinned before any lock is taken: the daemon can stall the
 * pin for ever (a userfaultfd range nobody serves, FUSE), and a device reset
 * must not wait for it.  The state is checked again once the pages are in.
 *
 * Return: 0; -EINVAL on bad arguments or without a bounce area (also when a
 * reset withdrew it during the pin); -EEXIST if registered already;
 * -ENOMEM or the pin error otherwise.
 */
int vduse_as_reg_umem(struct vduse_dev *dev, u32 asid, u64 iova, u64 uaddr,
		      u64 size)
{
	struct vduse_as *as;
	struct vduse_umem *umem;
	struct page **pages;
	unsigned long npages, limit;
	long pinned;
	int ret;

	asid = array_index_nospec(asid, dev->nas);
	as = &dev->as[asid];
	if (!size || iova || (uaddr & ~PAGE_MASK) || size > VDUSE_BOUNCE_MAX)
		return -EINVAL;
	mutex_lock(&dev->domain_lock);
	mutex_lock(&as->mem_lock);
	ret = vduse_as_reg_check(as, size);
	if (!ret && as->umem)
		ret = -EEXIST;
	mutex_unlock(&as->mem_lock);
	mutex_unlock(&dev->domain_lock);
	if (ret)
		return ret;

	npages = size >> PAGE_SHIFT;
	umem = kzalloc(sizeof(*umem), GFP_KERNEL);
	pages = kvmalloc_array(npages, sizeof(*pages), GFP_KERNEL_ACCOUNT);
	ret = -ENOMEM;
	if (!pages || !umem)
		goto err_free;
	limit = rlimit(RLIMIT_MEMLOCK) >> PAGE_SHIFT;
	if (atomic64_add_return(npages, &current->mm->pinned_vm) > limit)
		goto err_account;
	/*
	 * Not the _fast variant: its lockless walk runs with interrupts off
	 * for the whole range (up to 1 GiB).  This one takes the mmap lock
	 * itself, reschedules, and waits for userfaultfd killably.
	 */
	pinned = pin_user_pages_unlocked(uaddr, npages, pages,
					 FOLL_LONGTERM | FOLL_WRITE);
	if (pinned != npages) {
		if (pinned > 0)
			unpin_user_pages(pages, pinned);
		ret = pinned < 0 ? pinned : -ENOMEM;
		goto err_account;
	}
	umem->iova = iova;
	umem->npages = npages;
	umem->pages = pages;
	umem->mm = current->mm;
	mmgrab(current->mm);

	mutex_lock(&dev->domain_lock);
	mutex_lock(&as->mem_lock);
	ret = vduse_as_reg_check(as, size);
	if (!ret && as->umem)
		ret = -EEXIST;
	mutex_unlock(&dev->domain_lock);
	if (!ret) {
		as->umem = umem;
		vduse_domain_set_user_pages(as->domain, pages);
	}
	mutex_unlock(&as->mem_lock);
	if (ret)
		vduse_umem_release(umem);
	return ret;

err_account:
	atomic64_sub(npages, &current->mm->pinned_vm);
err_free:
	kvfree(pages);
	kfree(umem);
	return ret;
}
