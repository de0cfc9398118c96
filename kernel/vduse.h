/* SPDX-License-Identifier: GPL-2.0 */
/*
 * VDUSE (vDPA Device in Userspace) with virtqueue groups and address spaces:
 * internal types shared by the files of the module.
 *
 * Objects
 *   struct vduse_dev     one per VDUSE_CREATE_DEV; owns its queues, groups,
 *                        address spaces and the message channel.  Lives from
 *                        CREATE_DEV to DESTROY_DEV.
 *   struct vduse_vdpa    the vDPA device wrapping a vduse_dev between
 *                        "vdpa dev add" and the final put of "vdpa dev del".
 *   struct vduse_as      one per address space (ASID): its domain and umem.
 *   struct vduse_domain  IOTLB + bounce area + coherent IOVA range of one AS;
 *                        refcounted by its anonymous file, which userspace
 *                        can keep mapped after the device is gone.
 *
 * Locking order (outer to inner)
 *   vduse_lock            (global mutex) IDR of devices, create, destroy,
 *                         open, vdpa dev add lookup
 *   dev->lock             (mutex) connected flag (set by open, checked by
 *                         destroy; cleared by release without it), vdev
 *                         pointer checks;
 *                         the CVQ isolation check of "vdpa dev add" against
 *                         VQ_SETUP and SET_CONFIG
 *   dev->domain_lock      (mutex) creation and use of the per-AS domains,
 *                         bounce_size
 *     as->mem_lock        (mutex) umem of one AS; taken under domain_lock,
 *                         which is then dropped while the bounce area is
 *                         switched (pins are taken before either lock)
 *       domain->bounce_lock (rwlock) which pages back the bounce area and
 *                         which slots are mapped; readers (DMA path, once
 *                         per mapping of up to VDUSE_BOUNCE_BATCH pages;
 *                         fault) may run in any context, the writer (the
 *                         switch, a bounded batch) disables interrupts
 *       page lock of a kernel bounce page (fault vs. REG_UMEM's zap)
 *     domain->iotlb_lock  (spinlock, irqsave) the domain's two IOTLB trees;
 *                         only pointer swaps and single entries under it
 *     range->lock         (spinlock, irqsave) an IOVA allocator's bitmap
 *   dev->group_lock       (mutex) group -> AS bindings; held across the
 *                         SET_VQ_GROUP_ASID messages of set_group_asid and
 *                         reset, and under no other lock of this module
 *   dev->rwsem            (rw_semaphore) status vs. interrupt injection
 *   dev->msg_lock         (spinlock) message lists, broken flag
 *   vq->kick_lock, vq->irq_lock, dev->irq_lock (spinlocks, leaves)
 *
 * Messages are never sent with a spinlock held; domain_lock and mem_lock are
 * never held while waiting for userspace (nor while pinning its memory, which
 * userspace can stall: userfaultfd, FUSE); group_lock is, for msg_timeout at
 * most per message.
 */
#ifndef _VDUSE_INTERNAL_H
#define _VDUSE_INTERNAL_H

#include <linux/cdev.h>
#include <linux/device.h>
#include <linux/dma-mapping.h>
#include <linux/eventfd.h>
#include <linux/idr.h>
#include <linux/kobject.h>
#include <linux/mutex.h>
#include <linux/rwsem.h>
#include <linux/sizes.h>
#include <linux/spinlock.h>
#include <linux/vdpa.h>
#include <linux/vhost_iotlb.h>
#include <linux/wait.h>
#include <linux/workqueue.h>

/*
 * The project's UAPI header (API v0 + v1).  It is included by path so that
 * the kernel tree's older linux/vduse.h, which lacks the v1 fields, can never
 * be picked up instead.
 */
#include "../include/uapi/linux/vduse.h"

/*
 * The kernel virtio path maps through the bounce domain by per-device DMA
 * ops; without them set_dma_ops() is a no-op and every mapping fails.
 */
#ifndef CONFIG_ARCH_HAS_DMA_OPS
#error "vduse needs CONFIG_ARCH_HAS_DMA_OPS (per-device DMA ops)"
#endif

#define VDUSE_MINORS		BIT(MINORBITS)
#define VDUSE_BOUNCE_MIN	SZ_1M
#define VDUSE_BOUNCE_MAX	SZ_1G
#define VDUSE_BOUNCE_DEFAULT	(64 * SZ_1M)
#define VDUSE_IOVA_SIZE		(VDUSE_BOUNCE_MAX + 128 * SZ_1M)
#define VDUSE_MAX_GROUPS	0xffff
#define VDUSE_MAX_AS		0xffff
#define VDUSE_MAX_VQS		0xffff
#define VDUSE_TIMEOUT_DEFAULT	30
#define VDUSE_CPU_UNBOUND	(-1)

/* Values of the cvq_policy module parameter. */
enum vduse_cvq_policy {
	VDUSE_CVQ_OFF,
	VDUSE_CVQ_ISOLATED,
};

extern int vduse_cvq_policy;
extern struct mutex vduse_lock;
extern struct idr vduse_idr;
extern struct workqueue_struct *vduse_irq_wq;
extern struct workqueue_struct *vduse_irq_bound_wq;

/**
 * struct vduse_range - page-granular IOVA allocator (bitmap, first fit)
 * @lock: protects @map; taken with interrupts off because DMA mappings can
 *	  be made from any context
 * @map: one bit per page of the range
 * @base: first page frame number of the range
 * @npages: size of the range in pages
 */
struct vduse_range {
	spinlock_t lock;		/* bitmap */
	unsigned long *map;
	unsigned long base;
	unsigned long npages;
};

/**
 * struct vduse_slot - one page of a domain's bounce area
 * @kpage: kernel page, allocated on first use and kept (set once, with
 *	   cmpxchg(), outside bounce_lock); the only page the domain file ever
 *	   maps for this slot
 * @page: page backing the slot now (under bounce_lock): @kpage, a pinned
 *	  user page of a REG_UMEM registration, or NULL before first use
 * @orig: physical address of the original buffer bounced through this page,
 *	  or ~0 when the slot is not mapped (under bounce_lock)
 */
struct vduse_slot {
	struct page *kpage;
	struct page *page;
	phys_addr_t orig;
};

/**
 * struct vduse_domain - the IOVA space of one address space
 * @file: anonymous file (with an inode of its own) that userspace mmaps to
 *	  reach bounce and coherent pages; its release frees the domain
 * @iotlb: the kernel's entries (bounce area, coherent buffers; physical
 *	   addresses, no opaque), served by GET_FD(2) and the fault handler
 * @user_iotlb: the entries a vDPA bus driver loaded with set_map (opaque: a
 *		struct vduse_map_ref), or NULL; replaced as a whole
 * @iotlb_lock: protects @iotlb, @user_iotlb and @bounce_mapped
 * @bounce_size: bytes of bounce area at IOVA 0 (a page multiple)
 * @nslots: @bounce_size in pages
 * @slots: per-page bounce state
 * @bounce_lock: protects the slots' @page and @orig against the bounce
 *		 copies, and @user; the DMA path takes its read side once
 *		 per mapping (per VDUSE_BOUNCE_BATCH pages of a large one)
 * @user: user memory backs (or is being switched in to back) the bounce
 *	  area; the domain file's bounce range then faults with SIGBUS
 * @bounce_mapped: the [0, @bounce_size) entry is present in @iotlb
 * @dma: the kernel DMA path may use this domain (@stream and @coherent set)
 * @stream: allocator for streaming mappings inside the bounce area
 * @coherent: allocator for coherent buffers above the bounce area
 */
struct vduse_domain {
	struct file *file;
	struct vhost_iotlb *iotlb;
	struct vhost_iotlb *user_iotlb;
	spinlock_t iotlb_lock;		/* iotlb, user_iotlb, bounce_mapped */
	u64 bounce_size;
	unsigned long nslots;
	struct vduse_slot *slots;
	rwlock_t bounce_lock;
	bool user;
	bool bounce_mapped;
	bool dma;
	struct vduse_range stream;
	struct vduse_range coherent;
};

/**
 * struct vduse_map_ref - opaque data of one consumer entry of a domain
 * @file: the consumer's file userspace maps for this entry (referenced)
 * @offset: file offset of the entry's first IOVA
 */
struct vduse_map_ref {
	struct file *file;
	u64 offset;
};

/**
 * struct vduse_umem - user memory registered as bounce area of one AS
 * @iova: IOVA it backs (always 0)
 * @npages: number of pinned pages
 * @pages: the pinned pages
 * @mm: address space the pages were pinned in (for pinned_vm accounting)
 */
struct vduse_umem {
	u64 iova;
	unsigned long npages;
	struct page **pages;
	struct mm_struct *mm;
};

/**
 * struct vduse_as - one address space
 * @domain: its domain, created by the first "vdpa dev add"
 * @umem: registered user bounce memory, or NULL
 * @mem_lock: protects @umem
 * @unsynced: the last UPDATE_IOTLB for this AS went without the device's
 *	OK (set_map failed): the device may still map entries the kernel no
 *	longer has, so reset_map tells it even when it finds none.  Used by
 *	set_map and reset_map only, which the bus driver serialises.
 */
struct vduse_as {
	struct vduse_domain *domain;
	struct vduse_umem *umem;
	struct mutex mem_lock;		/* umem */
	bool unsynced;
};

/**
 * struct vduse_group - one virtqueue group
 * @asid: address space the group is bound to (under dev->group_lock): set
 *	  by set_group_asid after the device's OK, back to 0 at reset.  6.12
 *	  steers no kernel DMA by it (AS 0 only); reset reads it to tell the
 *	  device which groups it re-binds.
 * @unsure: (under dev->group_lock) the last SET_VQ_GROUP_ASID for the
 *	  group went unanswered (its sender was killed, or it timed out): the
 *	  device may have read it and moved the group, so its view may differ
 *	  from @asid; the next reset tells it AS 0 even if @asid is 0 already.
 */
struct vduse_group {
	u32 asid;
	bool unsure;
};

/**
 * struct vduse_vq - one virtqueue
 * @index: its index
 * @num_max: largest size, from VQ_SETUP (0 = not set up)
 * @group: group, from VQ_SETUP
 * @num: size chosen by the driver
 * @desc_addr: descriptor area IOVA
 * @driver_addr: driver (avail) area IOVA
 * @device_addr: device (used) area IOVA
 * @state: last avail position set by the driver
 * @ready: the driver enabled the queue
 * @kicked: a kick arrived before a kick eventfd was set
 * @kick_lock: protects @kickfd, @kicked and the kick path's view of @ready
 * @irq_lock: protects @cb; @cb.trigger is written with WRITE_ONCE() under
 *	it and may be read without it (only to skip the lock when NULL)
 * @kickfd: eventfd signalled on kicks
 * @cb: driver callback for used-buffer notifications
 * @inject: work that runs @cb
 * @kick: work that kicks from a context where eventfds may be signalled
 * @irq_cpu: CPU the next injection runs on, or VDUSE_CPU_UNBOUND
 * @irq_affinity: CPUs allowed for injections, allocated on the first
 *		  write (NULL: all); see vduse_vq_affinity()
 * @kobj: sysfs directory vqN below the device
 */
struct vduse_vq {
	u32 index;
	u16 num_max;
	u32 group;
	u32 num;
	u64 desc_addr;
	u64 driver_addr;
	u64 device_addr;
	struct vdpa_vq_state state;
	bool ready;
	bool kicked;
	spinlock_t kick_lock;		/* kickfd, kicked, ready */
	spinlock_t irq_lock;		/* cb */
	struct eventfd_ctx *kickfd;
	struct vdpa_callback cb;
	struct work_struct inject;
	struct work_struct kick;
	int irq_cpu;
	struct cpumask *irq_affinity;
	struct kobject kobj;
};

struct vduse_dev;

/**
 * struct vduse_vdpa - vDPA device of a VDUSE device
 * @vdpa: the vDPA device; its struct device is also the DMA device
 * @dev: the VDUSE device
 */
struct vduse_vdpa {
	struct vdpa_device vdpa;
	struct vduse_dev *dev;
};

/**
 * struct vduse_msg - one synchronous request to the userspace device
 * @req: request as read by userspace
 * @resp: response as written by userspace
 * @list: entry in send_list or recv_list
 * @waitq: the sender waits here
 * @completed: a response arrived (or the device broke)
 */
struct vduse_msg {
	struct vduse_dev_request req;
	struct vduse_dev_response resp;
	struct list_head list;
	wait_queue_head_t waitq;
	bool completed;
};

/**
 * struct vduse_dev - a VDUSE device
 * @vdev: vDPA device while attached, else NULL
 * @dev: class device /dev/vduse/$name
 * @name: device name
 * @minor: minor number
 * @api_version: VDUSE API version fixed at creation
 * @device_id: virtio device id
 * @vendor_id: virtio vendor id
 * @device_features: features offered by userspace
 * @driver_features: features accepted by the driver
 * @vq_num: number of virtqueues
 * @vq_align: ring alignment
 * @vqs: the virtqueues
 * @ngroups: number of groups (1 on API v0)
 * @groups: the groups
 * @nas: number of address spaces (1 on API v0)
 * @as: the address spaces
 * @group_lock: serialises changes of the bindings in @groups with their
 *	messages
 * @config: config space
 * @config_size: its size
 * @status: virtio status accepted by userspace
 * @generation: config generation, bumped on reset
 * @lock: protects @connected and the @vdev checks of destroy; serialises
 *	VQ_SETUP's groups and SET_CONFIG with the CVQ isolation check
 * @connected: the device fd is open; set under @lock and vduse_lock,
 *	cleared by the fd's release with a release store (its last access)
 * @domain_lock: protects domain creation/lookup and @bounce_size
 * @bounce_size: total bounce area, split equally among the ASes
 * @msg_lock: protects @send_list, @recv_list, @msg_next and @broken
 * @send_list: requests waiting to be read
 * @recv_list: requests read and waiting for a response
 * @msg_next: next request id
 * @msg_timeout: seconds to wait for a response, 0 = forever
 * @broken: a request timed out; the device is unusable
 * @waitq: readers and pollers wait here
 * @rwsem: serialises reset against interrupt injection
 * @irq_lock: protects @config_cb
 * @config_cb: driver callback for config changes
 * @inject: work that runs @config_cb
 */
struct vduse_dev {
	struct vduse_vdpa *vdev;
	struct device *dev;
	char *name;
	int minor;
	u64 api_version;
	u32 device_id;
	u32 vendor_id;
	u64 device_features;
	u64 driver_features;
	u32 vq_num;
	u32 vq_align;
	struct vduse_vq **vqs;
	u32 ngroups;
	struct vduse_group *groups;
	u32 nas;
	struct vduse_as *as;
	struct mutex group_lock;	/* groups[].asid */
	void *config;
	u32 config_size;
	u8 status;
	u32 generation;
	struct mutex lock;		/* connected, vdev, CVQ checks */
	bool connected;
	struct mutex domain_lock;	/* as[].domain, bounce_size */
	unsigned int bounce_size;
	spinlock_t msg_lock;		/* lists, msg_next, broken */
	struct list_head send_list;
	struct list_head recv_list;
	u32 msg_next;
	unsigned int msg_timeout;
	bool broken;
	wait_queue_head_t waitq;
	struct rw_semaphore rwsem;	/* status vs. injection */
	spinlock_t irq_lock;		/* config_cb */
	struct vdpa_callback config_cb;
	struct work_struct inject;
};

static inline struct vduse_dev *vdpa_to_vduse(struct vdpa_device *vdpa)
{
	return container_of(vdpa, struct vduse_vdpa, vdpa)->dev;
}

/* msg.c */
int vduse_msg_sync(struct vduse_dev *dev, struct vduse_msg *msg);
void vduse_msg_requeue_all(struct vduse_dev *dev);
ssize_t vduse_msg_read(struct vduse_dev *dev, struct file *file,
		       struct iov_iter *to);
ssize_t vduse_msg_write(struct vduse_dev *dev, struct iov_iter *from);
__poll_t vduse_msg_poll(struct vduse_dev *dev, struct file *file,
			poll_table *wait);

/* domain.c */
struct vduse_domain *vduse_domain_create(u64 bounce_size, bool dma);
void vduse_domain_destroy(struct vduse_domain *domain);
int vduse_domain_set_map(struct vduse_domain *domain,
			 struct vhost_iotlb *iotlb);
bool vduse_domain_clear_map(struct vduse_domain *domain);
void vduse_domain_reset(struct vduse_domain *domain);
void vduse_domain_set_user_pages(struct vduse_domain *domain,
				 struct page **pages);
extern const struct dma_map_ops vduse_dma_ops;

/**
 * struct vduse_lookup - result of an IOTLB lookup for GET_FD(2)/GET_INFO
 * @start: first IOVA of the map
 * @last: last IOVA of the map
 * @offset: file offset of @start
 * @perm: VDUSE_ACCESS_* permission
 * @umem_capable: the map is this AS's whole bounce area
 * @file: referenced backing file (only when asked for)
 */
struct vduse_lookup {
	u64 start;
	u64 last;
	u64 offset;
	u8 perm;
	bool umem_capable;
	struct file *file;
};

int vduse_domain_lookup(struct vduse_domain *d, u64 start, u64 last,
			bool want_file, struct vduse_lookup *out);

/* as.c */

int vduse_as_create_domains(struct vduse_dev *dev);
void vduse_as_destroy_domains(struct vduse_dev *dev);
int vduse_as_lookup(struct vduse_dev *dev, u32 asid, u64 start, u64 last,
		    bool want_file, struct vduse_lookup *out);
int vduse_as_reg_umem(struct vduse_dev *dev, u32 asid, u64 iova, u64 uaddr,
		      u64 size);
int vduse_as_dereg_umem(struct vduse_dev *dev, u32 asid, u64 iova, u64 size);
void vduse_as_dereg_all(struct vduse_dev *dev);
u64 vduse_as_bounce_size(struct vduse_dev *dev);

/* dev.c */
extern const struct file_operations vduse_dev_fops;
extern const struct attribute_group *vduse_dev_groups[];
int vduse_dev_init_vqs(struct vduse_dev *dev);
void vduse_dev_free_vqs(struct vduse_dev *dev);
void vduse_dev_reset(struct vduse_dev *dev);
bool vduse_dev_ready(struct vduse_dev *dev);
void vduse_vq_kick(struct vduse_vq *vq);
const struct cpumask *vduse_vq_affinity(struct vduse_vq *vq);
int vduse_vq_set_affinity(struct vduse_vq *vq, const struct cpumask *mask);

/* vdpa.c */
int vduse_cvq_may_change(struct vduse_dev *dev, const void *config, u32 vq,
			 u32 group);
int vduse_mgmt_init(void);
void vduse_mgmt_exit(void);

/* control.c */
struct vduse_dev *vduse_find_dev(const char *name);

#endif /* _VDUSE_INTERNAL_H */
