// SPDX-License-Identifier: GPL-2.0
/*
 * VDUSE device file /dev/vduse/$name: ioctls, the message channel's file
 * operations, device reset, interrupt injection and sysfs attributes.
 */

#include <linux/cpumask.h>
#include <linux/file.h>
#include <linux/fs.h>
#include <linux/nospec.h>
#include <linux/poll.h>
#include <linux/slab.h>
#include <linux/uio.h>
#include <linux/virtio_config.h>

#include "vduse.h"

static bool vduse_all_zero(const void *p, size_t len)
{
	return !memchr_inv(p, 0, len);
}

/**
 * vduse_dev_ready() - every virtqueue has been set up
 * @dev: the device
 *
 * Return: true when "vdpa dev add" may proceed.
 */
bool vduse_dev_ready(struct vduse_dev *dev)
{
	u32 i;

	for (i = 0; i < dev->vq_num; i++)
		if (!dev->vqs[i]->num_max)
			return false;
	return true;
}

/**
 * vduse_dev_reset() - return the device to its initial driver-facing state
 * @dev: the device
 *
 * Withdraws every AS's bounce area and the daemon's mappings of its rings
 * (vduse_domain_reset()), clears status, features, callbacks and queue
 * state, and bumps the config generation.  The vq-to-group assignment is
 * kept (spec section 3.10).  Group bindings are not touched
 * here: the vDPA reset op returns them to AS 0 and tells the device
 * (spec section 5f); DESTROY_DEV, which also calls this, has no device to
 * tell.
 */
void vduse_dev_reset(struct vduse_dev *dev)
{
	unsigned long flags;
	u32 i;

	mutex_lock(&dev->domain_lock);
	for (i = 0; i < dev->nas; i++)
		if (dev->as[i].domain)
			vduse_domain_reset(dev->as[i].domain);
	mutex_unlock(&dev->domain_lock);

	down_write(&dev->rwsem);
	dev->status = 0;
	dev->driver_features = 0;
	dev->generation++;
	spin_lock_bh(&dev->irq_lock);
	dev->config_cb.callback = NULL;
	dev->config_cb.private = NULL;
	spin_unlock_bh(&dev->irq_lock);
	flush_work(&dev->inject);

	for (i = 0; i < dev->vq_num; i++) {
		struct vduse_vq *vq = dev->vqs[i];

		vq->desc_addr = 0;
		vq->driver_addr = 0;
		vq->device_addr = 0;
		vq->num = 0;
		memset(&vq->state, 0, sizeof(vq->state));

		spin_lock_irqsave(&vq->kick_lock, flags);
		vq->ready = false;
		vq->kicked = false;
		if (vq->kickfd)
			eventfd_ctx_put(vq->kickfd);
		vq->kickfd = NULL;
		spin_unlock_irqrestore(&vq->kick_lock, flags);

		spin_lock_bh(&vq->irq_lock);
		vq->cb.callback = NULL;
		vq->cb.private = NULL;
		/* read without the lock by vduse_vq_signal_trigger() */
		WRITE_ONCE(vq->cb.trigger, NULL);
		spin_unlock_bh(&vq->irq_lock);
		flush_work(&vq->inject);
		flush_work(&vq->kick);
	}
	up_write(&dev->rwsem);
}

/**
 * vduse_kickfd_setup() - VDUSE_VQ_SETUP_KICKFD
 * @dev: the device
 * @efd: queue index and eventfd (VDUSE_EVENTFD_DEASSIGN removes it)
 *
 * Return: 0, -EINVAL for a bad index, or the eventfd lookup error.
 */
static int vduse_kickfd_setup(struct vduse_dev *dev,
			      struct vduse_vq_eventfd *efd)
{
	struct eventfd_ctx *ctx = NULL;
	unsigned long flags;
	struct vduse_vq *vq;

	if (efd->index >= dev->vq_num)
		return -EINVAL;
	vq = dev->vqs[array_index_nospec(efd->index, dev->vq_num)];
	if (efd->fd >= 0) {
		ctx = eventfd_ctx_fdget(efd->fd);
		if (IS_ERR(ctx))
			return PTR_ERR(ctx);
	} else if (efd->fd != VDUSE_EVENTFD_DEASSIGN) {
		return 0;
	}

	spin_lock_irqsave(&vq->kick_lock, flags);
	if (vq->kickfd)
		eventfd_ctx_put(vq->kickfd);
	vq->kickfd = ctx;
	/* Deliver a kick that arrived while no eventfd was set. */
	if (vq->ready && vq->kicked && vq->kickfd) {
		eventfd_signal(vq->kickfd);
		vq->kicked = false;
	}
	spin_unlock_irqrestore(&vq->kick_lock, flags);
	return 0;
}

/**
 * vduse_config_inject_work() - run the driver's config-change callback
 * @work: dev->inject
 */
static void vduse_config_inject_work(struct work_struct *work)
{
	struct vduse_dev *dev = container_of(work, struct vduse_dev, inject);

	spin_lock_bh(&dev->irq_lock);
	if (dev->config_cb.callback)
		dev->config_cb.callback(dev->config_cb.private);
	spin_unlock_bh(&dev->irq_lock);
}

/**
 * vduse_vq_inject_work() - run a queue's used-buffer callback
 * @work: vq->inject
 */
static void vduse_vq_inject_work(struct work_struct *work)
{
	struct vduse_vq *vq = container_of(work, struct vduse_vq, inject);

	spin_lock_bh(&vq->irq_lock);
	if (vq->ready && vq->cb.callback)
		vq->cb.callback(vq->cb.private);
	spin_unlock_bh(&vq->irq_lock);
}

/**
 * vduse_vq_kick() - pass a driver kick to the daemon
 * @vq: the queue
 *
 * Signals the kick eventfd, or remembers the kick until one is set up. The
 * caller must be allowed to signal an eventfd (eventfd_signal_allowed()).
 */
void vduse_vq_kick(struct vduse_vq *vq)
{
	unsigned long flags;

	spin_lock_irqsave(&vq->kick_lock, flags);
	if (vq->ready) {
		if (vq->kickfd)
			eventfd_signal(vq->kickfd);
		else
			vq->kicked = true;
	}
	spin_unlock_irqrestore(&vq->kick_lock, flags);
}

/**
 * vduse_vq_kick_work() - deferred kick, from a context allowed to signal
 * @work: vq->kick
 */
static void vduse_vq_kick_work(struct work_struct *work)
{
	vduse_vq_kick(container_of(work, struct vduse_vq, kick));
}

/*
 * vhost-vdpa passes an irqfd: signal it directly, without a work item.
 *
 * Without one (virtio-vdpa) irq_lock is not taken: the injection work holds
 * it across the driver's whole callback (all completions of the batch and
 * their unmaps), and the device's next INJECT_IRQ would spin on it with
 * bottom halves off until that work is done, on every batch.  The unlocked
 * look may miss a trigger being set at that moment; the injection then goes
 * through the work item, like one made just before the trigger was set.
 */
static bool vduse_vq_signal_trigger(struct vduse_vq *vq)
{
	bool done = false;

	if (!READ_ONCE(vq->cb.trigger))
		return false;
	spin_lock_bh(&vq->irq_lock);
	if (vq->ready && vq->cb.trigger) {
		eventfd_signal(vq->cb.trigger);
		done = true;
	}
	spin_unlock_bh(&vq->irq_lock);
	return done;
}

/**
 * vduse_vq_affinity() - CPUs allowed to run a queue's callback
 * @vq: the queue
 *
 * Return: the mask written last, or every possible CPU if none was.
 */
const struct cpumask *vduse_vq_affinity(struct vduse_vq *vq)
{
	const struct cpumask *mask;

	/* Pairs with the release in vduse_vq_set_affinity(): mask filled. */
	mask = smp_load_acquire(&vq->irq_affinity);
	return mask ?: cpu_possible_mask;
}

/**
 * vduse_vq_set_affinity() - set the CPUs allowed to run a queue's callback
 * @vq: the queue
 * @mask: the CPUs, or NULL for all
 *
 * The mask is allocated on the first write only (1 KiB with NR_CPUS 8192,
 * per queue, up to 0xffff queues), charged to the caller's memory cgroup,
 * and kept until the queue is freed, so readers never see it go away.
 * Concurrent writers may mix their masks, as an unlocked cpumask_copy()
 * always could; the injection path tolerates any mask.
 *
 * Return: 0 or -ENOMEM.
 */
int vduse_vq_set_affinity(struct vduse_vq *vq, const struct cpumask *mask)
{
	struct cpumask *cur, *new;

	/* Pairs with the cmpxchg_release() below, of another writer. */
	cur = smp_load_acquire(&vq->irq_affinity);
	if (!cur) {
		if (!mask)
			return 0;
		new = kzalloc(cpumask_size(), GFP_KERNEL_ACCOUNT);
		if (!new)
			return -ENOMEM;
		cpumask_copy(new, mask);
		cur = cmpxchg_release(&vq->irq_affinity, NULL, new);
		if (!cur)
			return 0;
		kfree(new);
	}
	if (mask)
		cpumask_copy(cur, mask);
	else
		cpumask_copy(cur, cpu_possible_mask);
	return 0;
}

/* Rotate the injection CPU through the online CPUs of the affinity mask. */
static void vduse_vq_next_cpu(struct vduse_vq *vq)
{
	const struct cpumask *mask = vduse_vq_affinity(vq);
	int cpu = vq->irq_cpu, pass;

	for (pass = 0; pass < 2; pass++) {
		cpu = cpumask_next(cpu, mask);
		while (cpu < nr_cpu_ids && !cpu_online(cpu))
			cpu = cpumask_next(cpu, mask);
		if (cpu < nr_cpu_ids) {
			vq->irq_cpu = cpu;
			return;
		}
		cpu = -1;
	}
	vq->irq_cpu = VDUSE_CPU_UNBOUND;
}

/**
 * vduse_queue_irq() - queue an interrupt injection
 * @dev: the device
 * @work: injection work item
 * @cpu: CPU to run it on, or VDUSE_CPU_UNBOUND
 *
 * Return: 0, or -EINVAL before DRIVER_OK.
 */
static int vduse_queue_irq(struct vduse_dev *dev, struct work_struct *work,
			   int cpu)
{
	int ret = -EINVAL;

	down_read(&dev->rwsem);
	if (dev->status & VIRTIO_CONFIG_S_DRIVER_OK) {
		if (cpu == VDUSE_CPU_UNBOUND)
			queue_work(vduse_irq_wq, work);
		else
			queue_work_on(cpu, vduse_irq_bound_wq, work);
		ret = 0;
	}
	up_read(&dev->rwsem);
	return ret;
}

/**
 * vduse_ioctl_get_fd() - VDUSE_IOTLB_GET_FD and VDUSE_IOTLB_GET_FD2
 * @dev: the device
 * @argp: struct vduse_iotlb_entry (ASID 0) or struct vduse_iotlb_entry_v2
 * @v2: the GET_FD2 form (API v1 only, else -ENOTTY)
 *
 * The fd is close-on-exec: a daemon's helpers must not inherit its view of
 * the driver's memory.  Its access mode is the backing file's; the map's
 * permission is reported in @perm.
 *
 * Return: a new fd for the first map overlapping [start, last], or a
 * negative errno (-EINVAL also for non-zero padding or reserved words of
 * GET_FD2).
 */
static long vduse_ioctl_get_fd(struct vduse_dev *dev, void __user *argp,
			       bool v2)
{
	struct vduse_iotlb_entry_v2 e2;
	struct vduse_iotlb_entry e1;
	struct vduse_lookup lk;
	int ret;

	if (v2) {
		if (dev->api_version < VDUSE_API_VERSION_1)
			return -ENOTTY;
		if (copy_from_user(&e2, argp, sizeof(e2)))
			return -EFAULT;
		if (!vduse_all_zero(e2.padding, sizeof(e2.padding)) ||
		    !vduse_all_zero(e2.reserved, sizeof(e2.reserved)))
			return -EINVAL;
	} else {
		if (copy_from_user(&e1, argp, sizeof(e1)))
			return -EFAULT;
		memset(&e2, 0, sizeof(e2));
		e2.start = e1.start;
		e2.last = e1.last;
	}
	ret = vduse_as_lookup(dev, e2.asid, e2.start, e2.last, true, &lk);
	if (ret)
		return ret;

	if (v2) {
		e2.offset = lk.offset;
		e2.start = lk.start;
		e2.last = lk.last;
		e2.perm = lk.perm;
		ret = copy_to_user(argp, &e2, sizeof(e2));
	} else {
		e1.offset = lk.offset;
		e1.start = lk.start;
		e1.last = lk.last;
		e1.perm = lk.perm;
		ret = copy_to_user(argp, &e1, sizeof(e1));
	}
	if (ret) {
		fput(lk.file);
		return -EFAULT;
	}
	ret = receive_fd(lk.file, NULL, O_CLOEXEC);
	fput(lk.file);
	return ret;
}

/**
 * vduse_ioctl_get_info() - VDUSE_IOTLB_GET_INFO
 * @dev: the device
 * @argp: struct vduse_iova_info
 *
 * Return: 0 with start, last, capability filled and asid echoed; -EINVAL
 * for bad arguments or no map; -EFAULT on copy failures.
 */
static long vduse_ioctl_get_info(struct vduse_dev *dev, void __user *argp)
{
	struct vduse_iova_info info;
	struct vduse_lookup lk;
	int ret;

	if (copy_from_user(&info, argp, sizeof(info)))
		return -EFAULT;
	/* Argument errors are EINVAL here, unlike upstream (spec 5b). */
	if (!vduse_all_zero(info.reserved, sizeof(info.reserved)) ||
	    (dev->api_version < VDUSE_API_VERSION_1 && info.asid) ||
	    info.asid >= dev->nas)
		return -EINVAL;
	ret = vduse_as_lookup(dev, info.asid, info.start, info.last, false,
			      &lk);
	if (ret)
		return ret;
	info.start = lk.start;
	info.last = lk.last;
	info.capability = lk.umem_capable ? VDUSE_IOVA_CAP_UMEM : 0;
	if (copy_to_user(argp, &info, sizeof(info)))
		return -EFAULT;
	return 0;
}

/**
 * vduse_ioctl_umem() - VDUSE_IOTLB_REG_UMEM and VDUSE_IOTLB_DEREG_UMEM
 * @dev: the device
 * @argp: struct vduse_iova_umem
 * @reg: register (else deregister)
 *
 * Return: 0 or a negative errno (see vduse_as_reg_umem()).
 */
static long vduse_ioctl_umem(struct vduse_dev *dev, void __user *argp,
			     bool reg)
{
	struct vduse_iova_umem umem;

	if (copy_from_user(&umem, argp, sizeof(umem)))
		return -EFAULT;
	if (!vduse_all_zero(umem.reserved, sizeof(umem.reserved)) ||
	    (dev->api_version < VDUSE_API_VERSION_1 && umem.asid) ||
	    umem.asid >= dev->nas)
		return -EINVAL;
	if (reg)
		return vduse_as_reg_umem(dev, umem.asid, umem.iova, umem.uaddr,
					 umem.size);
	return vduse_as_dereg_umem(dev, umem.asid, umem.iova, umem.size);
}

/**
 * vduse_ioctl_set_config() - VDUSE_DEV_SET_CONFIG
 * @dev: the device
 * @argp: struct vduse_config_data followed by the bytes
 *
 * The bytes are copied in before the config space changes, so a faulting
 * copy leaves it untouched, and the change is checked against the CVQ
 * isolation rule while a vDPA device exists (vduse_cvq_may_change()).
 *
 * Return: 0, -EINVAL for an empty or out-of-range write, -EFAULT, -ENOMEM,
 * -EBUSY if the new max_virtqueue_pairs would leave the CVQ in a shared
 * group.
 */
static long vduse_ioctl_set_config(struct vduse_dev *dev, void __user *argp)
{
	size_t hdr = offsetof(struct vduse_config_data, buffer);
	struct vduse_config_data cfg;
	void *data, *cand = NULL;
	int ret;

	if (copy_from_user(&cfg, argp, hdr))
		return -EFAULT;
	if (cfg.offset > dev->config_size || !cfg.length ||
	    cfg.length > dev->config_size - cfg.offset)
		return -EINVAL;
	data = memdup_user(argp + hdr, cfg.length);
	if (IS_ERR(data))
		return PTR_ERR(data);

	mutex_lock(&dev->lock);
	if (dev->vdev) {
		ret = -ENOMEM;
		cand = kmemdup(dev->config, dev->config_size, GFP_KERNEL);
		if (!cand)
			goto unlock;
		memcpy(cand + cfg.offset, data, cfg.length);
		ret = vduse_cvq_may_change(dev, cand, U32_MAX, 0);
		if (ret)
			goto unlock;
	}
	memcpy(dev->config + cfg.offset, data, cfg.length);
	ret = 0;
unlock:
	mutex_unlock(&dev->lock);
	kfree(cand);
	kfree(data);
	return ret;
}

/**
 * vduse_ioctl_vq_setup() - VDUSE_VQ_SETUP
 * @dev: the device
 * @argp: struct vduse_vq_config
 *
 * Checks in the spec's order: index, group (0 on v0, < ngroups on v1),
 * not after DRIVER_OK (v1), reserved words; then, while a vDPA device
 * exists, the CVQ isolation rule (vduse_cvq_may_change()).
 *
 * Return: 0, -EINVAL, -EFAULT, or -EBUSY if the new group would leave the
 * CVQ in a shared group.
 */
static long vduse_ioctl_vq_setup(struct vduse_dev *dev, void __user *argp)
{
	struct vduse_vq_config cfg;
	struct vduse_vq *vq;
	int ret;

	if (copy_from_user(&cfg, argp, sizeof(cfg)))
		return -EFAULT;
	if (cfg.index >= dev->vq_num)
		return -EINVAL;
	if (dev->api_version < VDUSE_API_VERSION_1) {
		if (cfg.group)
			return -EINVAL;
	} else {
		if (cfg.group >= dev->ngroups)
			return -EINVAL;
		if (dev->status & VIRTIO_CONFIG_S_DRIVER_OK)
			return -EINVAL;
	}
	if (cfg.reserved1 ||
	    !vduse_all_zero(cfg.reserved2, sizeof(cfg.reserved2)))
		return -EINVAL;
	cfg.index = array_index_nospec(cfg.index, dev->vq_num);
	vq = dev->vqs[cfg.index];
	mutex_lock(&dev->lock);
	ret = vduse_cvq_may_change(dev, dev->config, cfg.index, cfg.group);
	if (!ret) {
		vq->num_max = cfg.max_size;
		vq->group = cfg.group;
	}
	mutex_unlock(&dev->lock);
	return ret;
}

/**
 * vduse_ioctl_vq_info() - VDUSE_VQ_GET_INFO
 * @dev: the device
 * @argp: struct vduse_vq_info
 *
 * Return: 0, -EINVAL for a bad index, -EFAULT.
 */
static long vduse_ioctl_vq_info(struct vduse_dev *dev, void __user *argp)
{
	struct vduse_vq_info info;
	struct vduse_vq *vq;

	if (copy_from_user(&info, argp, sizeof(info)))
		return -EFAULT;
	if (info.index >= dev->vq_num)
		return -EINVAL;
	vq = dev->vqs[array_index_nospec(info.index, dev->vq_num)];
	info.desc_addr = vq->desc_addr;
	info.driver_addr = vq->driver_addr;
	info.device_addr = vq->device_addr;
	info.num = vq->num;
	if (dev->driver_features & BIT_ULL(VIRTIO_F_RING_PACKED)) {
		info.packed.last_avail_counter =
			vq->state.packed.last_avail_counter;
		info.packed.last_avail_idx = vq->state.packed.last_avail_idx;
		info.packed.last_used_counter =
			vq->state.packed.last_used_counter;
		info.packed.last_used_idx = vq->state.packed.last_used_idx;
	} else {
		info.split.avail_index = vq->state.split.avail_index;
	}
	info.ready = vq->ready;
	if (copy_to_user(argp, &info, sizeof(info)))
		return -EFAULT;
	return 0;
}

/**
 * vduse_ioctl_vq_irq() - VDUSE_VQ_INJECT_IRQ
 * @dev: the device
 * @argp: __u32 queue index
 *
 * Signals the irqfd directly when vhost-vdpa set one, else queues the
 * callback on the next CPU of the queue's affinity.
 *
 * Return: 0, -EINVAL for a bad index or before DRIVER_OK, -EFAULT.
 */
static long vduse_ioctl_vq_irq(struct vduse_dev *dev, void __user *argp)
{
	struct vduse_vq *vq;
	u32 index;

	if (get_user(index, (u32 __user *)argp))
		return -EFAULT;
	if (index >= dev->vq_num)
		return -EINVAL;
	vq = dev->vqs[array_index_nospec(index, dev->vq_num)];
	if (vduse_vq_signal_trigger(vq))
		return 0;
	vduse_vq_next_cpu(vq);
	return vduse_queue_irq(dev, &vq->inject, vq->irq_cpu);
}

/**
 * vduse_dev_ioctl() - ioctls of the device fd
 * @file: the device file
 * @cmd: ioctl number
 * @arg: its argument
 *
 * Return: per ioctl; -EPERM once the device is broken; -ENOTTY for unknown
 * numbers.
 */
static long vduse_dev_ioctl(struct file *file, unsigned int cmd,
			    unsigned long arg)
{
	struct vduse_dev *dev = file->private_data;
	void __user *argp = (void __user *)arg;
	struct vduse_vq_eventfd efd;

	if (READ_ONCE(dev->broken))
		return -EPERM;

	switch (cmd) {
	case VDUSE_IOTLB_GET_FD:
		return vduse_ioctl_get_fd(dev, argp, false);
	case VDUSE_IOTLB_GET_FD2:
		return vduse_ioctl_get_fd(dev, argp, true);
	case VDUSE_DEV_GET_FEATURES:
		/* What the driver wrote; it still has to set FEATURES_OK. */
		return put_user(dev->driver_features, (u64 __user *)argp);
	case VDUSE_DEV_SET_CONFIG:
		return vduse_ioctl_set_config(dev, argp);
	case VDUSE_DEV_INJECT_CONFIG_IRQ:
		return vduse_queue_irq(dev, &dev->inject, VDUSE_CPU_UNBOUND);
	case VDUSE_VQ_SETUP:
		return vduse_ioctl_vq_setup(dev, argp);
	case VDUSE_VQ_GET_INFO:
		return vduse_ioctl_vq_info(dev, argp);
	case VDUSE_VQ_SETUP_KICKFD:
		if (copy_from_user(&efd, argp, sizeof(efd)))
			return -EFAULT;
		return vduse_kickfd_setup(dev, &efd);
	case VDUSE_VQ_INJECT_IRQ:
		return vduse_ioctl_vq_irq(dev, argp);
	case VDUSE_IOTLB_REG_UMEM:
		return vduse_ioctl_umem(dev, argp, true);
	case VDUSE_IOTLB_DEREG_UMEM:
		return vduse_ioctl_umem(dev, argp, false);
	case VDUSE_IOTLB_GET_INFO:
		return vduse_ioctl_get_info(dev, argp);
	default:
		return -ENOTTY;
	}
}

static ssize_t vduse_dev_read_iter(struct kiocb *iocb, struct iov_iter *to)
{
	return vduse_msg_read(iocb->ki_filp->private_data, iocb->ki_filp, to);
}

static ssize_t vduse_dev_write_iter(struct kiocb *iocb, struct iov_iter *from)
{
	return vduse_msg_write(iocb->ki_filp->private_data, from);
}

static __poll_t vduse_dev_poll(struct file *file, poll_table *wait)
{
	return vduse_msg_poll(file->private_data, file, wait);
}

/* One opener at a time; the IDR lookup and the claim are under vduse_lock. */
static int vduse_dev_open(struct inode *inode, struct file *file)
{
	struct vduse_dev *dev;
	int ret = -ENODEV;

	mutex_lock(&vduse_lock);
	dev = idr_find(&vduse_idr, iminor(inode));
	if (dev) {
		mutex_lock(&dev->lock);
		ret = READ_ONCE(dev->connected) ? -EBUSY : 0;
		if (!ret) {
			WRITE_ONCE(dev->connected, true);
			file->private_data = dev;
		}
		mutex_unlock(&dev->lock);
	}
	mutex_unlock(&vduse_lock);
	return ret;
}

/**
 * vduse_dev_release() - close of the device fd
 * @inode: its inode
 * @file: the file
 *
 * Deregisters the umem of every AS and re-queues unanswered requests for
 * the next opener.  Clearing @connected lets DESTROY_DEV free the device,
 * so it is the last access to it, a release store and not under dev->lock:
 * mutex_unlock() may still touch the mutex after a waiter has taken it.
 *
 * Return: 0.
 */
static int vduse_dev_release(struct inode *inode, struct file *file)
{
	struct vduse_dev *dev = file->private_data;

	vduse_as_dereg_all(dev);
	vduse_msg_requeue_all(dev);
	/* pairs with destroy's acquire: the above is done before @dev may go */
	smp_store_release(&dev->connected, false);
	return 0;
}

const struct file_operations vduse_dev_fops = {
	.owner = THIS_MODULE,
	.open = vduse_dev_open,
	.release = vduse_dev_release,
	.read_iter = vduse_dev_read_iter,
	.write_iter = vduse_dev_write_iter,
	.poll = vduse_dev_poll,
	.unlocked_ioctl = vduse_dev_ioctl,
	.compat_ioctl = compat_ptr_ioctl,
	.llseek = noop_llseek,
};

/* Device attributes: msg_timeout and bounce_size. */

static ssize_t msg_timeout_show(struct device *d, struct device_attribute *a,
				char *buf)
{
	struct vduse_dev *dev = dev_get_drvdata(d);

	return sysfs_emit(buf, "%u\n", READ_ONCE(dev->msg_timeout));
}

/**
 * msg_timeout_store() - set the message timeout in seconds (0 = forever)
 * @d: class device
 * @a: attribute
 * @buf: decimal value
 * @count: its length
 *
 * Return: @count or -EINVAL.
 */
static ssize_t msg_timeout_store(struct device *d, struct device_attribute *a,
				 const char *buf, size_t count)
{
	struct vduse_dev *dev = dev_get_drvdata(d);
	unsigned int val;
	int ret;

	ret = kstrtouint(buf, 10, &val);
	if (ret)
		return ret;
	WRITE_ONCE(dev->msg_timeout, val);
	return count;
}
static DEVICE_ATTR_RW(msg_timeout);

static ssize_t bounce_size_show(struct device *d, struct device_attribute *a,
				char *buf)
{
	struct vduse_dev *dev = dev_get_drvdata(d);

	return sysfs_emit(buf, "%u\n", READ_ONCE(dev->bounce_size));
}

/**
 * bounce_size_store() - set the total bounce size before the first add
 * @d: class device
 * @a: attribute
 * @buf: decimal bytes in [1 MiB, 1 GiB], rounded down to pages
 * @count: its length
 *
 * Return: @count; -EPERM once the domains exist; -EINVAL out of range.
 */
static ssize_t bounce_size_store(struct device *d, struct device_attribute *a,
				 const char *buf, size_t count)
{
	struct vduse_dev *dev = dev_get_drvdata(d);
	unsigned int val;
	int ret;

	mutex_lock(&dev->domain_lock);
	ret = -EPERM;
	if (dev->as[0].domain)
		goto unlock;
	ret = kstrtouint(buf, 10, &val);
	if (ret)
		goto unlock;
	ret = -EINVAL;
	if (val < VDUSE_BOUNCE_MIN || val > VDUSE_BOUNCE_MAX)
		goto unlock;
	WRITE_ONCE(dev->bounce_size, val & PAGE_MASK);
	ret = count;
unlock:
	mutex_unlock(&dev->domain_lock);
	return ret;
}
static DEVICE_ATTR_RW(bounce_size);

static struct attribute *vduse_dev_attrs[] = {
	&dev_attr_msg_timeout.attr,
	&dev_attr_bounce_size.attr,
	NULL
};

static const struct attribute_group vduse_dev_group = {
	.attrs = vduse_dev_attrs,
};

const struct attribute_group *vduse_dev_groups[] = {
	&vduse_dev_group,
	NULL
};

/* Per-queue sysfs directory vqN with irq_cb_affinity. */

struct vduse_vq_attr {
	struct attribute attr;
	ssize_t (*show)(struct vduse_vq *vq, char *buf);
	ssize_t (*store)(struct vduse_vq *vq, const char *buf, size_t count);
};

static ssize_t irq_cb_affinity_show(struct vduse_vq *vq, char *buf)
{
	return sysfs_emit(buf, "%*pb\n", cpumask_pr_args(vduse_vq_affinity(vq)));
}

/**
 * irq_cb_affinity_store() - set the CPUs that run a queue's callback
 * @vq: the queue
 * @buf: CPU mask
 * @count: its length
 *
 * Return: @count; -EINVAL without an online CPU in the mask.
 */
static ssize_t irq_cb_affinity_store(struct vduse_vq *vq, const char *buf,
				     size_t count)
{
	cpumask_var_t mask;
	int ret;

	if (!zalloc_cpumask_var(&mask, GFP_KERNEL))
		return -ENOMEM;
	ret = cpumask_parse(buf, mask);
	if (!ret && !cpumask_intersects(mask, cpu_online_mask))
		ret = -EINVAL;
	if (!ret)
		ret = vduse_vq_set_affinity(vq, mask) ?: count;
	free_cpumask_var(mask);
	return ret;
}

static struct vduse_vq_attr vduse_vq_affinity_attr =
	__ATTR(irq_cb_affinity, 0644, irq_cb_affinity_show,
	       irq_cb_affinity_store);

static struct attribute *vduse_vq_attrs[] = {
	&vduse_vq_affinity_attr.attr,
	NULL
};
ATTRIBUTE_GROUPS(vduse_vq);

static ssize_t vduse_vq_attr_show(struct kobject *kobj, struct attribute *attr,
				  char *buf)
{
	struct vduse_vq_attr *a = container_of(attr, struct vduse_vq_attr, attr);

	return a->show(container_of(kobj, struct vduse_vq, kobj), buf);
}

static ssize_t vduse_vq_attr_store(struct kobject *kobj,
				   struct attribute *attr, const char *buf,
				   size_t count)
{
	struct vduse_vq_attr *a = container_of(attr, struct vduse_vq_attr, attr);

	return a->store(container_of(kobj, struct vduse_vq, kobj), buf, count);
}

static const struct sysfs_ops vduse_vq_sysfs_ops = {
	.show = vduse_vq_attr_show,
	.store = vduse_vq_attr_store,
};

static void vduse_vq_release(struct kobject *kobj)
{
	struct vduse_vq *vq = container_of(kobj, struct vduse_vq, kobj);

	kfree(vq->irq_affinity);
	kfree(vq);
}

static const struct kobj_type vduse_vq_ktype = {
	.release = vduse_vq_release,
	.sysfs_ops = &vduse_vq_sysfs_ops,
	.default_groups = vduse_vq_groups,
};

/**
 * vduse_dev_init_vqs() - allocate the virtqueues and their sysfs entries
 * @dev: the device, with vq_num set and its class device created
 *
 * Return: 0 or a negative errno, with nothing left allocated.
 */
int vduse_dev_init_vqs(struct vduse_dev *dev)
{
	struct vduse_vq *vq;
	u32 i;
	int ret;

	INIT_WORK(&dev->inject, vduse_config_inject_work);
	/* Up to 0xffff queues: charged to the creator's memory cgroup. */
	dev->vqs = kvcalloc(dev->vq_num, sizeof(*dev->vqs), GFP_KERNEL_ACCOUNT);
	if (!dev->vqs)
		return -ENOMEM;
	for (i = 0; i < dev->vq_num; i++) {
		vq = kzalloc(sizeof(*vq), GFP_KERNEL_ACCOUNT);
		if (!vq) {
			ret = -ENOMEM;
			goto err;
		}
		vq->index = i;
		vq->irq_cpu = VDUSE_CPU_UNBOUND;
		spin_lock_init(&vq->kick_lock);
		spin_lock_init(&vq->irq_lock);
		INIT_WORK(&vq->inject, vduse_vq_inject_work);
		INIT_WORK(&vq->kick, vduse_vq_kick_work);
		ret = kobject_init_and_add(&vq->kobj, &vduse_vq_ktype,
					   &dev->dev->kobj, "vq%u", i);
		if (ret) {
			kobject_put(&vq->kobj);
			goto err;
		}
		dev->vqs[i] = vq;
	}
	return 0;
err:
	while (i--)
		kobject_put(&dev->vqs[i]->kobj);
	kvfree(dev->vqs);
	dev->vqs = NULL;
	return ret;
}

/**
 * vduse_dev_free_vqs() - release the virtqueues
 * @dev: the device being destroyed, already reset
 */
void vduse_dev_free_vqs(struct vduse_dev *dev)
{
	u32 i;

	if (!dev->vqs)
		return;
	for (i = 0; i < dev->vq_num; i++)
		kobject_put(&dev->vqs[i]->kobj);
	kvfree(dev->vqs);
	dev->vqs = NULL;
}
