// SPDX-License-Identifier: GPL-2.0
/*
 * VDUSE on the vDPA bus: the vdpa_config_ops of a VDUSE device, the "vduse"
 * management device behind "vdpa dev add/del", and the virtio-net control
 * virtqueue policy (spec section 5d).
 */

#include <linux/dma-map-ops.h>
#include <linux/nospec.h>
#include <linux/slab.h>
#include <linux/virtio_config.h>
#include <linux/virtio_ids.h>
#include <linux/virtio_net.h>

#include "vduse.h"

/* Features that need the control virtqueue (spec section 5d). */
#define VDUSE_CVQ_FEATURES (BIT_ULL(VIRTIO_NET_F_CTRL_VQ) |		\
			    BIT_ULL(VIRTIO_NET_F_CTRL_RX) |		\
			    BIT_ULL(VIRTIO_NET_F_CTRL_VLAN) |		\
			    BIT_ULL(VIRTIO_NET_F_CTRL_RX_EXTRA) |	\
			    BIT_ULL(VIRTIO_NET_F_GUEST_ANNOUNCE) |	\
			    BIT_ULL(VIRTIO_NET_F_MQ) |			\
			    BIT_ULL(VIRTIO_NET_F_CTRL_MAC_ADDR) |	\
			    BIT_ULL(VIRTIO_NET_F_CTRL_GUEST_OFFLOADS) |	\
			    BIT_ULL(VIRTIO_NET_F_VQ_NOTF_COAL) |	\
			    BIT_ULL(VIRTIO_NET_F_NOTF_COAL) |		\
			    BIT_ULL(VIRTIO_NET_F_HASH_REPORT) |		\
			    BIT_ULL(VIRTIO_NET_F_RSS))

static struct vduse_vq *vduse_vq_get(struct vduse_dev *dev, u16 idx)
{
	if (idx >= dev->vq_num)
		return NULL;
	return dev->vqs[array_index_nospec(idx, dev->vq_num)];
}

static bool vduse_has_cvq(struct vduse_dev *dev)
{
	return dev->device_id == VIRTIO_ID_NET &&
	       (dev->device_features & BIT_ULL(VIRTIO_NET_F_CTRL_VQ));
}

/*
 * Whether vhost-vdpa drives the device.  On 6.12 the bus driver is the only
 * way to tell it from virtio-vdpa: the driver core sets dev->driver before
 * calling probe, and both bus drivers read the features only while bound.
 */
static bool vduse_bound_to_vhost(struct vdpa_device *vdpa)
{
	struct device_driver *drv = READ_ONCE(vdpa->dev.driver);

	return drv && !strcmp(drv->name, "vhost_vdpa");
}

/* Group of queue @i, as if queue @vq were in @group. */
static u32 vduse_vq_group_if(struct vduse_dev *dev, u32 i, u32 vq, u32 group)
{
	return i == vq ? group : dev->vqs[i]->group;
}

/*
 * CVQ isolation with config space @config and queue @vq in @group (@vq may
 * be U32_MAX: no change): the control queue sits at index 2 without MQ/RSS
 * and at 2 * max_virtqueue_pairs with them, so both candidates must be in a
 * group no lower-numbered queue (a data queue in that configuration) shares.
 */
static bool vduse_cvq_isolated_if(struct vduse_dev *dev, const void *config,
				  u32 vq, u32 group)
{
	size_t off = offsetof(struct virtio_net_config, max_virtqueue_pairs);
	u32 cand[2], n = 0, i, k, g;
	u16 pairs = 1;

	if (vduse_cvq_policy != VDUSE_CVQ_ISOLATED ||
	    dev->api_version < VDUSE_API_VERSION_1)
		return false;
	cand[n++] = 2;
	if (dev->device_features & (BIT_ULL(VIRTIO_NET_F_MQ) |
				    BIT_ULL(VIRTIO_NET_F_RSS))) {
		if (dev->config_size < off + sizeof(pairs))
			return false;
		memcpy(&pairs, config + off, sizeof(pairs));
		pairs = le16_to_cpu((__force __le16)pairs);
		if (!pairs)
			return false;
		if (pairs > 1)
			cand[n++] = 2 * (u32)pairs;
	}
	for (k = 0; k < n; k++) {
		if (cand[k] >= dev->vq_num)
			return false;
		g = vduse_vq_group_if(dev, cand[k], vq, group);
		for (i = 0; i < cand[k]; i++)
			if (vduse_vq_group_if(dev, i, vq, group) == g)
				return false;
	}
	return true;
}

/* The isolation check of "vdpa dev add", on the current state. */
static bool vduse_cvq_isolated(struct vduse_dev *dev)
{
	return vduse_cvq_isolated_if(dev, dev->config, U32_MAX, 0);
}

/**
 * vduse_cvq_may_change() - may the device change its groups or config now?
 * @dev: the device; the caller holds dev->lock
 * @config: the config space as it would be after the change
 * @vq: queue whose group would change, or U32_MAX
 * @group: its new group
 *
 * A control queue offered to vhost-vdpa must stay alone in its group for as
 * long as a driver can see the device, whatever the driver negotiates; the
 * check of "vdpa dev add" is therefore repeated on every VQ_SETUP and
 * SET_CONFIG while the vDPA device exists.
 *
 * Return: 0, or -EBUSY if the change would put the CVQ (at either of its
 * possible indices) in a group with a data queue.
 */
int vduse_cvq_may_change(struct vduse_dev *dev, const void *config, u32 vq,
			 u32 group)
{
	lockdep_assert_held(&dev->lock);
	if (!READ_ONCE(dev->vdev) || !vduse_has_cvq(dev))
		return 0;
	return vduse_cvq_isolated_if(dev, config, vq, group) ? 0 : -EBUSY;
}

/**
 * vduse_set_vq_address() - set_vq_address op
 * @vdpa: the vDPA device
 * @idx: queue index
 * @desc: descriptor area
 * @driver: driver area
 * @device: device area
 *
 * Return: 0, or -EINVAL for a bad index.
 */
static int vduse_set_vq_address(struct vdpa_device *vdpa, u16 idx, u64 desc,
				u64 driver, u64 device)
{
	struct vduse_vq *vq = vduse_vq_get(vdpa_to_vduse(vdpa), idx);

	if (!vq)
		return -EINVAL;
	vq->desc_addr = desc;
	vq->driver_addr = driver;
	vq->device_addr = device;
	return 0;
}

/**
 * vduse_kick_vq() - kick_vq op: signal the queue's kick eventfd
 * @vdpa: the vDPA device
 * @idx: queue index
 *
 * Where eventfds may not be signalled (nested in another eventfd's wakeup)
 * the kick is deferred to a work item.
 */
static void vduse_kick_vq(struct vdpa_device *vdpa, u16 idx)
{
	struct vduse_vq *vq = vduse_vq_get(vdpa_to_vduse(vdpa), idx);

	if (!vq)
		return;
	if (!eventfd_signal_allowed()) {
		schedule_work(&vq->kick);
		return;
	}
	vduse_vq_kick(vq);
}

/**
 * vduse_set_vq_cb() - set_vq_cb op
 * @vdpa: the vDPA device
 * @idx: queue index
 * @cb: callback (and irqfd trigger) for used-buffer notifications
 */
static void vduse_set_vq_cb(struct vdpa_device *vdpa, u16 idx,
			    struct vdpa_callback *cb)
{
	struct vduse_vq *vq = vduse_vq_get(vdpa_to_vduse(vdpa), idx);

	if (!vq)
		return;
	spin_lock_bh(&vq->irq_lock);
	vq->cb.callback = cb->callback;
	vq->cb.private = cb->private;
	/* read without the lock by vduse_vq_signal_trigger() */
	WRITE_ONCE(vq->cb.trigger, cb->trigger);
	spin_unlock_bh(&vq->irq_lock);
}

/**
 * vduse_set_vq_num() - set_vq_num op
 * @vdpa: the vDPA device
 * @idx: queue index
 * @num: ring size chosen by the driver
 */
static void vduse_set_vq_num(struct vdpa_device *vdpa, u16 idx, u32 num)
{
	struct vduse_vq *vq = vduse_vq_get(vdpa_to_vduse(vdpa), idx);

	if (vq)
		vq->num = num;
}

/**
 * vduse_get_vq_size() - get_vq_size op
 * @vdpa: the vDPA device
 * @idx: queue index
 *
 * Return: the size set by the driver, else the device's maximum.
 */
static u16 vduse_get_vq_size(struct vdpa_device *vdpa, u16 idx)
{
	struct vduse_vq *vq = vduse_vq_get(vdpa_to_vduse(vdpa), idx);

	if (!vq)
		return 0;
	return vq->num ? vq->num : vq->num_max;
}

/**
 * vduse_set_vq_ready() - set_vq_ready op
 * @vdpa: the vDPA device
 * @idx: queue index
 * @ready: enable or disable
 *
 * A queue enabled after DRIVER_OK gets a kick. VDUSE has no message for a
 * late enable (QEMU enables the data queues only after its CVQ commands, on
 * start and on a migration destination), and a daemon that found the queue
 * disabled at DRIVER_OK would otherwise not look at it until the driver
 * kicks it, which it may never do: receive buffers were posted long before
 * the migration. A spurious kick costs the daemon one look at the ring.
 */
static void vduse_set_vq_ready(struct vdpa_device *vdpa, u16 idx, bool ready)
{
	struct vduse_dev *dev = vdpa_to_vduse(vdpa);
	struct vduse_vq *vq = vduse_vq_get(dev, idx);
	unsigned long flags;
	bool enabled;

	if (!vq)
		return;
	spin_lock_irqsave(&vq->kick_lock, flags);
	enabled = ready && !vq->ready;
	vq->ready = ready;
	spin_unlock_irqrestore(&vq->kick_lock, flags);
	if (enabled && (READ_ONCE(dev->status) & VIRTIO_CONFIG_S_DRIVER_OK))
		vduse_kick_vq(vdpa, idx);
}

/**
 * vduse_get_vq_ready() - get_vq_ready op
 * @vdpa: the vDPA device
 * @idx: queue index
 *
 * Return: whether the queue is enabled.
 */
static bool vduse_get_vq_ready(struct vdpa_device *vdpa, u16 idx)
{
	struct vduse_vq *vq = vduse_vq_get(vdpa_to_vduse(vdpa), idx);

	return vq && vq->ready;
}

/**
 * vduse_set_vq_state() - set_vq_state op: store the avail position
 * @vdpa: the vDPA device
 * @idx: queue index
 * @state: split or packed position, by the negotiated ring format
 *
 * Return: 0, or -EINVAL for a bad index.
 */
static int vduse_set_vq_state(struct vdpa_device *vdpa, u16 idx,
			      const struct vdpa_vq_state *state)
{
	struct vduse_dev *dev = vdpa_to_vduse(vdpa);
	struct vduse_vq *vq = vduse_vq_get(dev, idx);

	if (!vq)
		return -EINVAL;
	if (dev->driver_features & BIT_ULL(VIRTIO_F_RING_PACKED))
		vq->state.packed = state->packed;
	else
		vq->state.split.avail_index = state->split.avail_index;
	return 0;
}

/**
 * vduse_get_vq_state() - get_vq_state op: ask userspace for the position
 * @vdpa: the vDPA device
 * @idx: queue index
 * @state: filled from the GET_VQ_STATE response
 *
 * Return: 0, -EINVAL for a bad index, -EIO if the message failed.
 */
static int vduse_get_vq_state(struct vdpa_device *vdpa, u16 idx,
			      struct vdpa_vq_state *state)
{
	struct vduse_dev *dev = vdpa_to_vduse(vdpa);
	struct vduse_msg msg = {};
	int ret;

	if (!vduse_vq_get(dev, idx))
		return -EINVAL;
	msg.req.type = VDUSE_GET_VQ_STATE;
	msg.req.vq_state.index = idx;
	ret = vduse_msg_sync(dev, &msg);
	if (ret)
		return ret;
	if (dev->driver_features & BIT_ULL(VIRTIO_F_RING_PACKED)) {
		struct vduse_vq_state_packed *p = &msg.resp.vq_state.packed;

		state->packed.last_avail_counter = p->last_avail_counter & 1;
		state->packed.last_avail_idx = p->last_avail_idx & 0x7fff;
		state->packed.last_used_counter = p->last_used_counter & 1;
		state->packed.last_used_idx = p->last_used_idx & 0x7fff;
	} else {
		state->split.avail_index =
			msg.resp.vq_state.split.avail_index;
	}
	return 0;
}

/**
 * vduse_get_vq_align() - get_vq_align op
 * @vdpa: the vDPA device
 *
 * Return: ring alignment given at creation.
 */
static u32 vduse_get_vq_align(struct vdpa_device *vdpa)
{
	return vdpa_to_vduse(vdpa)->vq_align;
}

/**
 * vduse_get_vq_group() - get_vq_group op
 * @vdpa: the vDPA device
 * @idx: queue index
 *
 * Return: the group given by VQ_SETUP (always 0 on API v0).
 */
static u32 vduse_get_vq_group(struct vdpa_device *vdpa, u16 idx)
{
	struct vduse_dev *dev = vdpa_to_vduse(vdpa);
	struct vduse_vq *vq = vduse_vq_get(dev, idx);

	if (!vq || dev->api_version < VDUSE_API_VERSION_1)
		return 0;
	return vq->group;
}

/**
 * vduse_get_device_features() - get_device_features op
 * @vdpa: the vDPA device
 *
 * A net device with a control queue offers the CVQ-dependent features only
 * to vhost-vdpa; virtio-vdpa (the kernel virtio-net driver) never sees them.
 *
 * Return: the offered features.
 */
static u64 vduse_get_device_features(struct vdpa_device *vdpa)
{
	struct vduse_dev *dev = vdpa_to_vduse(vdpa);
	u64 features = dev->device_features;

	if (vduse_has_cvq(dev) && !vduse_bound_to_vhost(vdpa))
		features &= ~VDUSE_CVQ_FEATURES;
	return features;
}

/**
 * vduse_set_driver_features() - set_driver_features op
 * @vdpa: the vDPA device
 * @features: features accepted by the driver
 *
 * Return: 0.
 */
static int vduse_set_driver_features(struct vdpa_device *vdpa, u64 features)
{
	struct vduse_dev *dev = vdpa_to_vduse(vdpa);

	dev->driver_features = features & vduse_get_device_features(vdpa);
	return 0;
}

/**
 * vduse_get_driver_features() - get_driver_features op
 * @vdpa: the vDPA device
 *
 * Return: features accepted by the driver.
 */
static u64 vduse_get_driver_features(struct vdpa_device *vdpa)
{
	return vdpa_to_vduse(vdpa)->driver_features;
}

/**
 * vduse_set_config_cb() - set_config_cb op
 * @vdpa: the vDPA device
 * @cb: callback run by VDUSE_DEV_INJECT_CONFIG_IRQ
 */
static void vduse_set_config_cb(struct vdpa_device *vdpa,
				struct vdpa_callback *cb)
{
	struct vduse_dev *dev = vdpa_to_vduse(vdpa);

	spin_lock_bh(&dev->irq_lock);
	dev->config_cb.callback = cb->callback;
	dev->config_cb.private = cb->private;
	spin_unlock_bh(&dev->irq_lock);
}

/**
 * vduse_get_vq_num_max() - get_vq_num_max op
 * @vdpa: the vDPA device
 *
 * Return: the largest max_size of all queues.
 */
static u16 vduse_get_vq_num_max(struct vdpa_device *vdpa)
{
	struct vduse_dev *dev = vdpa_to_vduse(vdpa);
	u16 max = 0;
	u32 i;

	for (i = 0; i < dev->vq_num; i++)
		max = max(max, dev->vqs[i]->num_max);
	return max;
}

/**
 * vduse_get_device_id() - get_device_id op
 * @vdpa: the vDPA device
 *
 * Return: virtio device id.
 */
static u32 vduse_get_device_id(struct vdpa_device *vdpa)
{
	return vdpa_to_vduse(vdpa)->device_id;
}

/**
 * vduse_get_vendor_id() - get_vendor_id op
 * @vdpa: the vDPA device
 *
 * Return: virtio vendor id.
 */
static u32 vduse_get_vendor_id(struct vdpa_device *vdpa)
{
	return vdpa_to_vduse(vdpa)->vendor_id;
}

/**
 * vduse_get_status() - get_status op
 * @vdpa: the vDPA device
 *
 * Return: last status userspace accepted.
 */
static u8 vduse_get_status(struct vdpa_device *vdpa)
{
	return vdpa_to_vduse(vdpa)->status;
}

/**
 * vduse_set_status() - set_status op: forward to userspace
 * @vdpa: the vDPA device
 * @status: new status
 *
 * The status only changes if userspace answered OK.
 */
static void vduse_set_status(struct vdpa_device *vdpa, u8 status)
{
	struct vduse_dev *dev = vdpa_to_vduse(vdpa);
	struct vduse_msg msg = {};

	msg.req.type = VDUSE_SET_STATUS;
	msg.req.s.status = status;
	if (!vduse_msg_sync(dev, &msg))
		dev->status = status;
}

/**
 * vduse_get_config_size() - get_config_size op
 * @vdpa: the vDPA device
 *
 * Return: config space size.
 */
static size_t vduse_get_config_size(struct vdpa_device *vdpa)
{
	return vdpa_to_vduse(vdpa)->config_size;
}

/**
 * vduse_get_config() - get_config op
 * @vdpa: the vDPA device
 * @offset: offset in config space
 * @buf: destination; bytes beyond the config space read as zero
 * @len: bytes to read
 */
static void vduse_get_config(struct vdpa_device *vdpa, unsigned int offset,
			     void *buf, unsigned int len)
{
	struct vduse_dev *dev = vdpa_to_vduse(vdpa);

	memset(buf, 0, len);
	if (offset >= dev->config_size)
		return;
	len = min(len, dev->config_size - offset);
	memcpy(buf, dev->config + offset, len);
}

/**
 * vduse_set_config() - set_config op
 * @vdpa: the vDPA device
 * @offset: offset in config space
 * @buf: data
 * @len: bytes
 *
 * The config space is read-only for the driver; writes are dropped.
 */
static void vduse_set_config(struct vdpa_device *vdpa, unsigned int offset,
			     const void *buf, unsigned int len)
{
}

/**
 * vduse_group_tell() - send SET_VQ_GROUP_ASID and track whether it was heard
 * @dev: the device
 * @group: the group, in range
 * @asid: its new address space, in range
 *
 * A request can end without an answer after the device read it (a fatal
 * signal abandons it, a timeout breaks the device), and the device may
 * already have moved the group: such a group is marked unsure so that
 * the next reset tells the device again.  An answer, even a refusal, is
 * the device's word on its view.  Caller holds dev->group_lock.
 *
 * Return: 0 on the device's OK, -EIO otherwise.
 */
static int vduse_group_tell(struct vduse_dev *dev, u32 group, u32 asid)
{
	struct vduse_msg msg = {};
	int ret;

	lockdep_assert_held(&dev->group_lock);
	msg.req.type = VDUSE_SET_VQ_GROUP_ASID;
	msg.req.vq_group_asid.group = group;
	msg.req.vq_group_asid.asid = asid;
	ret = vduse_msg_sync(dev, &msg);
	/* a broken device reads nothing more: there is nobody left to tell */
	dev->groups[group].unsure = !msg.completed && !READ_ONCE(dev->broken);
	return ret;
}

/**
 * vduse_groups_reset() - return every group to address space 0
 * @dev: the device, reset already (status 0)
 *
 * Spec section 5f: after a reset every group is on AS 0, as on vdpa_sim and
 * mlx5_vdpa; QEMU maps a shadowed CVQ in ASID 0 after a reset without
 * re-binding it.  Each group that is elsewhere, or whose device view is
 * unsure (vduse_group_tell()), is re-bound and the device is told with
 * SET_VQ_GROUP_ASID(group, 0), after SET_STATUS 0 so that it is stopped
 * already, as for any re-binding before DRIVER_OK.  A reset cannot fail: a
 * refusal, a timeout or a broken device leaves the group on AS 0 all the
 * same (a broken device is sent nothing, and the first timeout breaks it,
 * so the loop waits msg_timeout at most once).
 */
static void vduse_groups_reset(struct vduse_dev *dev)
{
	u32 group, refused = 0;

	mutex_lock(&dev->group_lock);
	for (group = 0; group < dev->ngroups; group++) {
		if (!dev->groups[group].asid && !dev->groups[group].unsure)
			continue;
		dev->groups[group].asid = 0;
		if (vduse_group_tell(dev, group, 0))
			refused++;
	}
	mutex_unlock(&dev->group_lock);
	if (refused)
		dev_warn(dev->dev,
			 "reset: %u group(s) returned to AS 0 without the device's consent\n",
			 refused);
}

/**
 * vduse_reset() - reset op
 * @vdpa: the vDPA device
 *
 * Tells userspace (SET_STATUS 0), then resets the kernel state whatever
 * the answer, and returns every group to AS 0 (vduse_groups_reset()).
 *
 * Return: 0, or -EIO if userspace did not accept the reset.
 */
static int vduse_reset(struct vdpa_device *vdpa)
{
	struct vduse_dev *dev = vdpa_to_vduse(vdpa);
	struct vduse_msg msg = {};
	int ret;

	msg.req.type = VDUSE_SET_STATUS;
	msg.req.s.status = 0;
	ret = vduse_msg_sync(dev, &msg);
	vduse_dev_reset(dev);
	vduse_groups_reset(dev);
	return ret;
}

/**
 * vduse_get_generation() - get_generation op
 * @vdpa: the vDPA device
 *
 * Return: config generation.
 */
static u32 vduse_get_generation(struct vdpa_device *vdpa)
{
	return vdpa_to_vduse(vdpa)->generation;
}

/**
 * vduse_set_vq_affinity() - set_vq_affinity op
 * @vdpa: the vDPA device
 * @idx: queue index
 * @mask: CPUs for interrupt injection, NULL for all
 *
 * Return: 0, -EINVAL for a bad index, or -ENOMEM.
 */
static int vduse_set_vq_affinity(struct vdpa_device *vdpa, u16 idx,
				 const struct cpumask *mask)
{
	struct vduse_vq *vq = vduse_vq_get(vdpa_to_vduse(vdpa), idx);

	if (!vq)
		return -EINVAL;
	return vduse_vq_set_affinity(vq, mask);
}

/**
 * vduse_get_vq_affinity() - get_vq_affinity op
 * @vdpa: the vDPA device
 * @idx: queue index
 *
 * Return: CPUs for interrupt injection, or NULL for a bad index.
 */
static const struct cpumask *vduse_get_vq_affinity(struct vdpa_device *vdpa,
						   u16 idx)
{
	struct vduse_vq *vq = vduse_vq_get(vdpa_to_vduse(vdpa), idx);

	return vq ? vduse_vq_affinity(vq) : NULL;
}

/* Tell the device that every translation of AS @asid may have changed. */
static int vduse_update_iotlb(struct vduse_dev *dev, u32 asid)
{
	struct vduse_msg msg = {};

	msg.req.type = VDUSE_UPDATE_IOTLB;
	if (dev->api_version < VDUSE_API_VERSION_1) {
		msg.req.iova.start = 0;
		msg.req.iova.last = ULLONG_MAX;
	} else {
		msg.req.iova_v2.start = 0;
		msg.req.iova_v2.last = ULLONG_MAX;
		msg.req.iova_v2.asid = asid;
	}
	return vduse_msg_sync(dev, &msg);
}

/**
 * vduse_set_map() - set_map op: new translations for one address space
 * @vdpa: the vDPA device
 * @asid: address space
 * @iotlb: the bus driver's IOTLB
 *
 * Loads the IOTLB, then sends UPDATE_IOTLB for the whole range (iova on
 * API v0, iova_v2 with the ASID on API v1).  If the copy fails, the old
 * translations are gone all the same, so the device is still told; if the
 * message fails, the translations are withdrawn again and the AS is marked
 * unsynced, for reset_map to tell the device once more.
 *
 * Return: 0 or a negative errno.
 */
static int vduse_set_map(struct vdpa_device *vdpa, unsigned int asid,
			 struct vhost_iotlb *iotlb)
{
	struct vduse_dev *dev = vdpa_to_vduse(vdpa);
	struct vduse_domain *d;
	int ret, sent;

	if (asid >= dev->nas)
		return -EINVAL;
	asid = array_index_nospec(asid, dev->nas);
	d = dev->as[asid].domain;
	if (!d)
		return -EINVAL;
	ret = vduse_domain_set_map(d, iotlb);
	sent = vduse_update_iotlb(dev, asid);
	if (sent)
		vduse_domain_clear_map(d);
	dev->as[asid].unsynced = sent != 0;
	return ret ?: sent;
}

/**
 * vduse_reset_map() - reset_map op: drop a bus driver's translations
 * @vdpa: the vDPA device
 * @asid: address space
 *
 * vhost-vdpa calls it for every address space it used when its file is
 * released (the consumer closed it or was killed), after the device reset.
 * The consumer's entries and their references to its memory files go; the
 * kernel's own entries stay.  If there were any, or the device may still
 * map some (the AS is unsynced), the device is told with UPDATE_IOTLB so
 * that it drops its mappings of that memory too; the entries are gone
 * whatever it answers.
 *
 * Return: 0, or -EINVAL for a bad ASID.
 */
static int vduse_reset_map(struct vdpa_device *vdpa, unsigned int asid)
{
	struct vduse_dev *dev = vdpa_to_vduse(vdpa);
	struct vduse_domain *d;
	bool had;

	if (asid >= dev->nas)
		return -EINVAL;
	asid = array_index_nospec(asid, dev->nas);
	d = dev->as[asid].domain;
	if (!d)
		return 0;
	had = vduse_domain_clear_map(d);
	if (had || dev->as[asid].unsynced)
		dev->as[asid].unsynced = vduse_update_iotlb(dev, asid) != 0;
	return 0;
}

/**
 * vduse_set_group_asid() - set_group_asid op
 * @vdpa: the vDPA device
 * @group: virtqueue group
 * @asid: address space to bind it to
 *
 * Checks the arguments itself (spec section 5c), then asks userspace with
 * SET_VQ_GROUP_ASID; the binding changes only after an OK.  On 6.12 the
 * binding steers no kernel DMA (spec section 5e); it is what reset returns
 * to AS 0 (vduse_groups_reset()).
 *
 * Return: 0; -EINVAL on API v0 or out-of-range arguments; -EBUSY after
 * DRIVER_OK; -EIO if the message failed.
 */
static int vduse_set_group_asid(struct vdpa_device *vdpa, unsigned int group,
				unsigned int asid)
{
	struct vduse_dev *dev = vdpa_to_vduse(vdpa);
	int ret;

	if (dev->api_version < VDUSE_API_VERSION_1)
		return -EINVAL;
	if (group >= dev->ngroups || asid >= dev->nas)
		return -EINVAL;
	if (dev->status & VIRTIO_CONFIG_S_DRIVER_OK)
		return -EBUSY;
	group = array_index_nospec(group, dev->ngroups);
	asid = array_index_nospec(asid, dev->nas);

	/* Held across the message: the device sees bindings change in order. */
	mutex_lock(&dev->group_lock);
	ret = vduse_group_tell(dev, group, asid);
	if (!ret)
		dev->groups[group].asid = asid;
	mutex_unlock(&dev->group_lock);
	return ret ? -EIO : 0;
}

/**
 * vduse_vdpa_free() - free op: the vDPA device's last reference is gone
 * @vdpa: the vDPA device
 */
static void vduse_vdpa_free(struct vdpa_device *vdpa)
{
	struct vduse_dev *dev = vdpa_to_vduse(vdpa);

	WRITE_ONCE(dev->vdev, NULL);
}

static const struct vdpa_config_ops vduse_vdpa_ops = {
	.set_vq_address = vduse_set_vq_address,
	.kick_vq = vduse_kick_vq,
	.set_vq_cb = vduse_set_vq_cb,
	.set_vq_num = vduse_set_vq_num,
	.get_vq_size = vduse_get_vq_size,
	.set_vq_ready = vduse_set_vq_ready,
	.get_vq_ready = vduse_get_vq_ready,
	.set_vq_state = vduse_set_vq_state,
	.get_vq_state = vduse_get_vq_state,
	.get_vq_align = vduse_get_vq_align,
	.get_vq_group = vduse_get_vq_group,
	.get_device_features = vduse_get_device_features,
	.set_driver_features = vduse_set_driver_features,
	.get_driver_features = vduse_get_driver_features,
	.set_config_cb = vduse_set_config_cb,
	.get_vq_num_max = vduse_get_vq_num_max,
	.get_device_id = vduse_get_device_id,
	.get_vendor_id = vduse_get_vendor_id,
	.get_status = vduse_get_status,
	.set_status = vduse_set_status,
	.get_config_size = vduse_get_config_size,
	.get_config = vduse_get_config,
	.set_config = vduse_set_config,
	.get_generation = vduse_get_generation,
	.set_vq_affinity = vduse_set_vq_affinity,
	.get_vq_affinity = vduse_get_vq_affinity,
	.reset = vduse_reset,
	.set_map = vduse_set_map,
	.reset_map = vduse_reset_map,
	.set_group_asid = vduse_set_group_asid,
	.free = vduse_vdpa_free,
};

/**
 * struct vduse_mgmt - the "vduse" vDPA management device
 * @mgmt: vDPA management device
 * @dev: its struct device
 */
struct vduse_mgmt {
	struct vdpa_mgmt_dev mgmt;
	struct device dev;
};

static struct vduse_mgmt *vduse_mgmt;

static struct virtio_device_id vduse_id_table[] = {
	{ VIRTIO_ID_NET, VIRTIO_DEV_ANY_ID },
	{ VIRTIO_ID_BLOCK, VIRTIO_DEV_ANY_ID },
	{ VIRTIO_ID_FS, VIRTIO_DEV_ANY_ID },
	{ 0 },
};

/* Allocate the vDPA device of @dev. Caller holds vduse_lock and dev->lock. */
static int vduse_vdpa_alloc(struct vduse_dev *dev, const char *name)
{
	struct vduse_vdpa *vdev;
	int ret;

	if (dev->vdev)
		return -EEXIST;
	vdev = vdpa_alloc_device(struct vduse_vdpa, vdpa, dev->dev,
				 &vduse_vdpa_ops, dev->ngroups, dev->nas,
				 name, true);
	if (IS_ERR(vdev))
		return PTR_ERR(vdev);
	vdev->dev = dev;
	vdev->vdpa.dev.dma_mask = &vdev->vdpa.dev.coherent_dma_mask;
	ret = dma_set_mask_and_coherent(&vdev->vdpa.dev, DMA_BIT_MASK(64));
	if (ret) {
		put_device(&vdev->vdpa.dev);
		return ret;
	}
	set_dma_ops(&vdev->vdpa.dev, &vduse_dma_ops);
	vdev->vdpa.dma_dev = &vdev->vdpa.dev;
	vdev->vdpa.mdev = &vduse_mgmt->mgmt;
	dev->vdev = vdev;
	return 0;
}

/**
 * vduse_dev_add() - "vdpa dev add name $NAME mgmtdev vduse"
 * @mdev: the management device
 * @name: name of an existing VDUSE device
 * @config: attributes from netlink (none are supported)
 *
 * Return: 0; -EINVAL if no such device, a queue is not set up, or the CVQ
 * policy refuses it; -EEXIST if attached already; -ENOMEM or the vDPA
 * core's error otherwise.
 */
static int vduse_dev_add(struct vdpa_mgmt_dev *mdev, const char *name,
			 const struct vdpa_dev_set_config *config)
{
	struct vduse_dev *dev;
	int ret;

	mutex_lock(&vduse_lock);
	dev = vduse_find_dev(name);
	ret = -EINVAL;
	if (!dev)
		goto unlock;
	/* dev->lock: no VQ_SETUP or SET_CONFIG between the check and vdev. */
	mutex_lock(&dev->lock);
	if (!vduse_dev_ready(dev))
		goto unlock_dev;
	if (vduse_has_cvq(dev) && !vduse_cvq_isolated(dev)) {
		dev_info(dev->dev,
			 "control queue is not alone in its group: not added\n");
		goto unlock_dev;
	}
	ret = vduse_vdpa_alloc(dev, name);
unlock_dev:
	mutex_unlock(&dev->lock);
unlock:
	mutex_unlock(&vduse_lock);
	if (ret)
		return ret;

	ret = vduse_as_create_domains(dev);
	if (ret)
		goto err_put;
	ret = _vdpa_register_device(&dev->vdev->vdpa, dev->vq_num);
	if (ret)
		goto err_put;
	return 0;
err_put:
	put_device(&dev->vdev->vdpa.dev);
	return ret;
}

/**
 * vduse_dev_del() - "vdpa dev del"
 * @mdev: the management device
 * @vdpa: the vDPA device
 */
static void vduse_dev_del(struct vdpa_mgmt_dev *mdev, struct vdpa_device *vdpa)
{
	_vdpa_unregister_device(vdpa);
}

static const struct vdpa_mgmtdev_ops vduse_mgmt_ops = {
	.dev_add = vduse_dev_add,
	.dev_del = vduse_dev_del,
};

static void vduse_mgmt_release(struct device *dev)
{
	kfree(container_of(dev, struct vduse_mgmt, dev));
}

/**
 * vduse_mgmt_init() - register the "vduse" management device
 *
 * Return: 0 or a negative errno.
 */
int vduse_mgmt_init(void)
{
	int ret;

	vduse_mgmt = kzalloc(sizeof(*vduse_mgmt), GFP_KERNEL);
	if (!vduse_mgmt)
		return -ENOMEM;
	vduse_mgmt->dev.release = vduse_mgmt_release;
	device_initialize(&vduse_mgmt->dev);
	ret = dev_set_name(&vduse_mgmt->dev, "vduse");
	if (ret)
		goto err_put;
	ret = device_add(&vduse_mgmt->dev);
	if (ret)
		goto err_put;
	vduse_mgmt->mgmt.device = &vduse_mgmt->dev;
	vduse_mgmt->mgmt.ops = &vduse_mgmt_ops;
	vduse_mgmt->mgmt.id_table = vduse_id_table;
	ret = vdpa_mgmtdev_register(&vduse_mgmt->mgmt);
	if (ret) {
		device_del(&vduse_mgmt->dev);
		goto err_put;
	}
	return 0;
err_put:
	put_device(&vduse_mgmt->dev);
	return ret;
}

/**
 * vduse_mgmt_exit() - unregister the management device
 */
void vduse_mgmt_exit(void)
{
	vdpa_mgmtdev_unregister(&vduse_mgmt->mgmt);
	device_unregister(&vduse_mgmt->dev);
}
