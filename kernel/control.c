// SPDX-License-Identifier: GPL-2.0
/*
 * VDUSE control device /dev/vduse/control (API negotiation, device creation
 * and destruction), module parameters, module init and exit.
 */

#include <linux/capability.h>
#include <linux/cdev.h>
#include <linux/ctype.h>
#include <linux/fs.h>
#include <linux/log2.h>
#include <linux/module.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <linux/virtio_blk.h>
#include <linux/virtio_config.h>
#include <linux/virtio_ids.h>
#include <linux/virtio_net.h>
#include <linux/virtio_ring.h>

#include "vduse.h"

/* Device IDR, name lookup, control ioctls and the open path. */
DEFINE_MUTEX(vduse_lock);
DEFINE_IDR(vduse_idr);
struct workqueue_struct *vduse_irq_wq;
struct workqueue_struct *vduse_irq_bound_wq;
int vduse_cvq_policy = VDUSE_CVQ_ISOLATED;

static const char * const vduse_cvq_policy_names[] = {
	[VDUSE_CVQ_OFF] = "off",
	[VDUSE_CVQ_ISOLATED] = "isolated",
};

static int vduse_cvq_policy_set(const char *val, const struct kernel_param *kp)
{
	int i = sysfs_match_string(vduse_cvq_policy_names, val);

	if (i < 0)
		return -EINVAL;
	*(int *)kp->arg = i;
	return 0;
}

static int vduse_cvq_policy_get(char *buf, const struct kernel_param *kp)
{
	return scnprintf(buf, PAGE_SIZE, "%s\n",
			 vduse_cvq_policy_names[*(int *)kp->arg]);
}

static const struct kernel_param_ops vduse_cvq_policy_ops = {
	.set = vduse_cvq_policy_set,
	.get = vduse_cvq_policy_get,
};

/*
 * Read-only after load: a policy change under existing devices would leave
 * devices created under the other policy.
 */
module_param_cb(cvq_policy, &vduse_cvq_policy_ops, &vduse_cvq_policy, 0444);
MODULE_PARM_DESC(cvq_policy,
		 "virtio-net control virtqueue: \"off\" rejects CTRL_VQ as upstream; \"isolated\" (default) accepts it for API v1 net devices whose control queue is alone in its vq group, offered to vhost-vdpa only");

static dev_t vduse_devt;
static struct cdev vduse_ctrl_cdev;
static struct cdev vduse_dev_cdev;

static char *vduse_devnode(const struct device *dev, umode_t *mode)
{
	return kasprintf(GFP_KERNEL, "vduse/%s", dev_name(dev));
}

static const struct class vduse_class = {
	.name = "vduse",
	.devnode = vduse_devnode,
};

/**
 * struct vduse_control - state of one open of /dev/vduse/control
 * @api_version: version used by CREATE_DEV
 * @negotiated: SET_API_VERSION was called on this fd
 */
struct vduse_control {
	u64 api_version;
	bool negotiated;
};

/**
 * vduse_find_dev() - look a device up by name
 * @name: NUL-terminated name
 *
 * Caller holds vduse_lock.
 *
 * Return: the device or NULL.
 */
struct vduse_dev *vduse_find_dev(const char *name)
{
	struct vduse_dev *dev;
	int id;

	idr_for_each_entry(&vduse_idr, dev, id)
		if (!strcmp(dev->name, name))
			return dev;
	return NULL;
}

/**
 * vduse_features_valid() - step 11 of CREATE_DEV
 * @c: the configuration
 * @api_version: the control fd's version
 *
 * Return: false without ACCESS_PLATFORM, for block with CONFIG_WCE, for
 * net without VERSION_1, and for net with CTRL_VQ unless the CVQ policy is
 * "isolated" and the device uses API v1.
 */
static bool vduse_features_valid(const struct vduse_dev_config *c,
				 u64 api_version)
{
	if (!(c->features & BIT_ULL(VIRTIO_F_ACCESS_PLATFORM)))
		return false;
	/* The driver cannot write the config space, so no writable cache. */
	if (c->device_id == VIRTIO_ID_BLOCK &&
	    (c->features & BIT_ULL(VIRTIO_BLK_F_CONFIG_WCE)))
		return false;
	if (c->device_id != VIRTIO_ID_NET)
		return true;
	if (c->features & BIT_ULL(VIRTIO_NET_F_CTRL_VQ)) {
		if (vduse_cvq_policy != VDUSE_CVQ_ISOLATED ||
		    api_version < VDUSE_API_VERSION_1)
			return false;
	}
	return c->features & BIT_ULL(VIRTIO_F_VERSION_1);
}

/*
 * Steps 2-11 of CREATE_DEV (spec 3.1), in order; on success the effective
 * group and AS counts are returned (1 and 1 on API v0 and for the
 * compatibility default of spec 5a).
 */
static bool vduse_config_valid(const struct vduse_dev_config *c,
			       const struct vduse_control *ctl,
			       u32 *ngroups, u32 *nas)
{
	if (memchr_inv(c->reserved, 0, sizeof(c->reserved)))
		return false;
	if (ctl->api_version < VDUSE_API_VERSION_1) {
		if (c->ngroups || c->nas)
			return false;
		*ngroups = 1;
		*nas = 1;
	} else if (!ctl->negotiated && !c->ngroups && !c->nas) {
		*ngroups = 1;
		*nas = 1;
	} else {
		if (!c->ngroups || c->ngroups > VDUSE_MAX_GROUPS)
			return false;
		if (!c->nas || c->nas > VDUSE_MAX_AS)
			return false;
		*ngroups = c->ngroups;
		*nas = c->nas;
	}
	/*
	 * virtio_ring rounds the used ring up to vq_align: 0 would put it at
	 * address 0 and a non-power of two would misplace it.
	 */
	if (c->vq_align < VRING_USED_ALIGN_SIZE ||
	    !is_power_of_2(c->vq_align) ||
	    c->vq_align > PAGE_SIZE || c->config_size > PAGE_SIZE ||
	    c->vq_num > VDUSE_MAX_VQS || !c->name[0])
		return false;
	if (c->device_id != VIRTIO_ID_NET && c->device_id != VIRTIO_ID_BLOCK &&
	    c->device_id != VIRTIO_ID_FS)
		return false;
	return vduse_features_valid(c, ctl->api_version);
}

/*
 * Entries of the class device /sys/devices/virtual/vduse/$name; "vdpa dev
 * add" creates the vDPA device, also named $name, beside them, where an
 * equal name collides (a sysfs warning, and the add fails).
 */
static const char * const vduse_sysfs_names[] = {
	"dev", "uevent", "power", "subsystem", "msg_timeout", "bounce_size",
};

/**
 * vduse_name_reserved() - a name no device may have
 * @name: NUL-terminated device name
 *
 * The name becomes a sysfs directory and /dev/vduse/$name: a '/' would be
 * turned into '!' by the driver core (and collide with a device named
 * so), "." and ".." name entries no path lookup reaches.
 *
 * Return: true for those, for the names above and for "vq" followed by
 * digits only (the queues' directories).
 */
static bool vduse_name_reserved(const char *name)
{
	size_t i;

	if (strchr(name, '/') || !strcmp(name, ".") || !strcmp(name, ".."))
		return true;
	for (i = 0; i < ARRAY_SIZE(vduse_sysfs_names); i++)
		if (!strcmp(name, vduse_sysfs_names[i]))
			return true;
	if (strncmp(name, "vq", 2) || !name[2])
		return false;
	for (name += 2; *name; name++)
		if (!isdigit(*name))
			return false;
	return true;
}

/**
 * vduse_dev_free() - free a device's memory
 * @dev: a device no longer reachable
 */
static void vduse_dev_free(struct vduse_dev *dev)
{
	u32 i;

	if (dev->as)
		for (i = 0; i < dev->nas; i++)
			mutex_destroy(&dev->as[i].mem_lock);
	kvfree(dev->as);
	kvfree(dev->groups);
	kvfree(dev->config);
	kfree(dev->name);
	kfree(dev);
}

/* Steps 13-15 of CREATE_DEV. Caller holds vduse_lock. */
static int vduse_create_dev(const struct vduse_dev_config *c, void *config,
			    u64 api_version, u32 ngroups, u32 nas)
{
	struct vduse_dev *dev;
	int ret;
	u32 i;

	if (c->device_id == VIRTIO_ID_NET && !capable(CAP_NET_ADMIN))
		return -EPERM;
	/* "control" is taken by /dev/vduse/control itself. */
	if (!strcmp(c->name, "control") || vduse_find_dev(c->name))
		return -EEXIST;

	dev = kzalloc(sizeof(*dev), GFP_KERNEL);
	if (!dev)
		return -ENOMEM;
	mutex_init(&dev->lock);
	mutex_init(&dev->domain_lock);
	spin_lock_init(&dev->msg_lock);
	INIT_LIST_HEAD(&dev->send_list);
	INIT_LIST_HEAD(&dev->recv_list);
	init_waitqueue_head(&dev->waitq);
	init_rwsem(&dev->rwsem);
	spin_lock_init(&dev->irq_lock);
	mutex_init(&dev->group_lock);
	dev->api_version = api_version;
	dev->device_id = c->device_id;
	dev->vendor_id = c->vendor_id;
	dev->device_features = c->features;
	dev->vq_num = c->vq_num;
	dev->vq_align = c->vq_align;
	dev->ngroups = ngroups;
	dev->nas = nas;
	dev->config_size = c->config_size;
	dev->bounce_size = VDUSE_BOUNCE_DEFAULT;
	dev->msg_timeout = VDUSE_TIMEOUT_DEFAULT;

	/* Every group starts on AS 0 (kvcalloc zeroes the bindings). */
	dev->groups = kvcalloc(ngroups, sizeof(*dev->groups), GFP_KERNEL);
	dev->as = kvcalloc(nas, sizeof(*dev->as), GFP_KERNEL);
	dev->name = kstrdup(c->name, GFP_KERNEL);
	if (!dev->groups || !dev->as || !dev->name) {
		dev->config = NULL;
		vduse_dev_free(dev);
		return -ENOMEM;
	}
	for (i = 0; i < nas; i++)
		mutex_init(&dev->as[i].mem_lock);
	dev->config = config;

	ret = idr_alloc(&vduse_idr, dev, 1, VDUSE_MINORS, GFP_KERNEL);
	if (ret < 0)
		goto err_free;
	dev->minor = ret;
	dev->dev = device_create_with_groups(&vduse_class, NULL,
					     MKDEV(MAJOR(vduse_devt),
						   dev->minor),
					     dev, vduse_dev_groups, "%s",
					     dev->name);
	if (IS_ERR(dev->dev)) {
		ret = PTR_ERR(dev->dev);
		goto err_idr;
	}
	ret = vduse_dev_init_vqs(dev);
	if (ret)
		goto err_device;
	/* Devices pin the module until they are destroyed. */
	__module_get(THIS_MODULE);
	return 0;

err_device:
	device_destroy(&vduse_class, MKDEV(MAJOR(vduse_devt), dev->minor));
err_idr:
	idr_remove(&vduse_idr, dev->minor);
err_free:
	dev->config = NULL;	/* the caller frees it */
	vduse_dev_free(dev);
	return ret;
}

/* DESTROY_DEV. Caller holds vduse_lock. */
static int vduse_destroy_dev(const char *name)
{
	struct vduse_dev *dev = vduse_find_dev(name);

	if (!dev)
		return -EINVAL;
	mutex_lock(&dev->lock);
	/* pairs with the release store of the fd's release */
	if (READ_ONCE(dev->vdev) || smp_load_acquire(&dev->connected)) {
		mutex_unlock(&dev->lock);
		return -EBUSY;
	}
	/* Nobody can open it again: open also takes vduse_lock. */
	WRITE_ONCE(dev->connected, true);
	mutex_unlock(&dev->lock);

	vduse_dev_reset(dev);
	vduse_dev_free_vqs(dev);
	device_destroy(&vduse_class, MKDEV(MAJOR(vduse_devt), dev->minor));
	idr_remove(&vduse_idr, dev->minor);
	vduse_as_destroy_domains(dev);
	mutex_destroy(&dev->group_lock);
	mutex_destroy(&dev->domain_lock);
	mutex_destroy(&dev->lock);
	vduse_dev_free(dev);
	module_put(THIS_MODULE);
	return 0;
}

/**
 * vduse_ctrl_create() - VDUSE_CREATE_DEV
 * @ctl: the control fd's state
 * @argp: struct vduse_dev_config followed by the config space
 *
 * Return: 0 or the errno of the first failing step of spec section 3.1;
 * -EINVAL also for a name of the device's own sysfs entries
 * (vduse_name_reserved()).
 */
static long vduse_ctrl_create(struct vduse_control *ctl, void __user *argp)
{
	size_t fixed = offsetof(struct vduse_dev_config, config);
	struct vduse_dev_config c;
	u32 ngroups, nas;
	void *config;
	int ret;

	if (copy_from_user(&c, argp, fixed))
		return -EFAULT;
	c.name[VDUSE_NAME_MAX - 1] = '\0';
	if (!vduse_config_valid(&c, ctl, &ngroups, &nas) ||
	    vduse_name_reserved(c.name))
		return -EINVAL;
	config = vmemdup_user(argp + fixed, c.config_size);
	if (IS_ERR(config))
		return PTR_ERR(config);
	ret = vduse_create_dev(&c, config, ctl->api_version, ngroups, nas);
	if (ret)
		kvfree(config);
	return ret;
}

/**
 * vduse_ctrl_ioctl() - ioctls of /dev/vduse/control
 * @file: the control file
 * @cmd: ioctl number
 * @arg: its argument
 *
 * Return: per ioctl; -EINVAL for unknown numbers (as upstream).
 */
static long vduse_ctrl_ioctl(struct file *file, unsigned int cmd,
			     unsigned long arg)
{
	struct vduse_control *ctl = file->private_data;
	void __user *argp = (void __user *)arg;
	char name[VDUSE_NAME_MAX];
	u64 version;
	long ret;

	mutex_lock(&vduse_lock);
	switch (cmd) {
	case VDUSE_GET_API_VERSION:
		ret = put_user(ctl->api_version, (u64 __user *)argp);
		break;
	case VDUSE_SET_API_VERSION:
		ret = -EFAULT;
		if (get_user(version, (u64 __user *)argp))
			break;
		ret = -EINVAL;
		if (version > VDUSE_API_VERSION_1)
			break;
		ctl->api_version = version;
		ctl->negotiated = true;
		ret = 0;
		break;
	case VDUSE_CREATE_DEV:
		ret = vduse_ctrl_create(ctl, argp);
		break;
	case VDUSE_DESTROY_DEV:
		ret = -EFAULT;
		if (copy_from_user(name, argp, sizeof(name)))
			break;
		name[VDUSE_NAME_MAX - 1] = '\0';
		ret = vduse_destroy_dev(name);
		break;
	default:
		ret = -EINVAL;
		break;
	}
	mutex_unlock(&vduse_lock);
	return ret;
}

/**
 * vduse_ctrl_open() - open of /dev/vduse/control
 * @inode: its inode
 * @file: the file, given its own API version state
 *
 * Return: 0 or -ENOMEM.
 */
static int vduse_ctrl_open(struct inode *inode, struct file *file)
{
	struct vduse_control *ctl = kzalloc(sizeof(*ctl), GFP_KERNEL);

	if (!ctl)
		return -ENOMEM;
	/* Reports 1 like Linux 7.0; see vduse_config_valid() for v0 users. */
	ctl->api_version = VDUSE_API_VERSION_1;
	file->private_data = ctl;
	return 0;
}

static int vduse_ctrl_release(struct inode *inode, struct file *file)
{
	kfree(file->private_data);
	return 0;
}

static const struct file_operations vduse_ctrl_fops = {
	.owner = THIS_MODULE,
	.open = vduse_ctrl_open,
	.release = vduse_ctrl_release,
	.unlocked_ioctl = vduse_ctrl_ioctl,
	.compat_ioctl = compat_ptr_ioctl,
	.llseek = noop_llseek,
};

/**
 * vduse_init() - register the class, char devices, workqueues and the
 *	management device
 *
 * Return: 0 or a negative errno with everything undone.
 */
static int __init vduse_init(void)
{
	struct device *ctrl;
	int ret;

	/* Catch a build against the kernel's own, older vduse.h. */
	BUILD_BUG_ON(sizeof(struct vduse_iotlb_entry_v2) != 80);
	BUILD_BUG_ON(sizeof(struct vduse_dev_config) != 336);
	BUILD_BUG_ON(sizeof(struct vduse_dev_request) != 152);

	ret = class_register(&vduse_class);
	if (ret)
		return ret;
	ret = alloc_chrdev_region(&vduse_devt, 0, VDUSE_MINORS, "vduse");
	if (ret)
		goto err_class;

	cdev_init(&vduse_ctrl_cdev, &vduse_ctrl_fops);
	vduse_ctrl_cdev.owner = THIS_MODULE;
	ret = cdev_add(&vduse_ctrl_cdev, vduse_devt, 1);
	if (ret)
		goto err_region;
	ctrl = device_create(&vduse_class, NULL, vduse_devt, NULL, "control");
	if (IS_ERR(ctrl)) {
		ret = PTR_ERR(ctrl);
		goto err_ctrl_cdev;
	}

	cdev_init(&vduse_dev_cdev, &vduse_dev_fops);
	vduse_dev_cdev.owner = THIS_MODULE;
	ret = cdev_add(&vduse_dev_cdev, MKDEV(MAJOR(vduse_devt), 1),
		       VDUSE_MINORS - 1);
	if (ret)
		goto err_ctrl_dev;

	ret = -ENOMEM;
	vduse_irq_wq = alloc_workqueue("vduse-irq",
				       WQ_HIGHPRI | WQ_SYSFS | WQ_UNBOUND, 0);
	if (!vduse_irq_wq)
		goto err_dev_cdev;
	vduse_irq_bound_wq = alloc_workqueue("vduse-irq-bound", WQ_HIGHPRI, 0);
	if (!vduse_irq_bound_wq)
		goto err_wq;

	ret = vduse_mgmt_init();
	if (ret)
		goto err_bound_wq;
	return 0;

err_bound_wq:
	destroy_workqueue(vduse_irq_bound_wq);
err_wq:
	destroy_workqueue(vduse_irq_wq);
err_dev_cdev:
	cdev_del(&vduse_dev_cdev);
err_ctrl_dev:
	device_destroy(&vduse_class, vduse_devt);
err_ctrl_cdev:
	cdev_del(&vduse_ctrl_cdev);
err_region:
	unregister_chrdev_region(vduse_devt, VDUSE_MINORS);
err_class:
	class_unregister(&vduse_class);
	return ret;
}
module_init(vduse_init);

/**
 * vduse_exit() - undo vduse_init(); no device exists (each holds a
 *	module reference)
 */
static void __exit vduse_exit(void)
{
	vduse_mgmt_exit();
	destroy_workqueue(vduse_irq_bound_wq);
	destroy_workqueue(vduse_irq_wq);
	cdev_del(&vduse_dev_cdev);
	device_destroy(&vduse_class, vduse_devt);
	cdev_del(&vduse_ctrl_cdev);
	unregister_chrdev_region(vduse_devt, VDUSE_MINORS);
	class_unregister(&vduse_class);
	idr_destroy(&vduse_idr);
}
module_exit(vduse_exit);

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("vDPA Device in Userspace with virtqueue groups and address spaces");
MODULE_VERSION("1");
