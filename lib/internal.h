/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * libvduse internals, shared by the library's files and its unit tests.
 * Nothing here is part of the public API or exported from libvduse.so.
 */
#ifndef LIBVDUSE_INTERNAL_H
#define LIBVDUSE_INTERNAL_H

#include <pthread.h>
#include <sched.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <endian.h>
#include <linux/vduse.h>
#include <linux/virtio_ring.h>
#include "vduse/libvduse.h"

#define HIDDEN __attribute__((visibility("hidden")))
#define EXPORT __attribute__((visibility("default")))
/* the data path: grouped in .text.hot, so a request touches few code pages */
#define HOT __attribute__((hot))
/*
 * What every request of a split-ring device runs (wait, pop, parse, push,
 * notify): one section of its own, which GNU ld's default scripts place
 * sorted by name right after .text.hot, i.e. contiguous whatever order the
 * consumer's link pulls the objects in (4.2 KiB: two code pages, not three).
 */
#define HOT_PATH __attribute__((hot, section(".text.sorted.libvduse_path")))

#ifndef ARRAY_SIZE
#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#endif

#define VDUSE_MAX_QUEUE_SIZE	32768u	/* virtio's largest ring */
#define VDUSE_MAX_INDIRECT	4096u	/* descriptors in one indirect table */
#define VDUSE_MAX_SEGS		8192u	/* iovecs in one request */
#define VDUSE_MAX_REGIONS	4096u	/* cached mappings per address space */
#define VDUSE_DEFAULT_QSIZE	256u

/* Feature bits the library itself interprets (virtio numbering). */
#define VF_INDIRECT_DESC	28
#define VF_EVENT_IDX		29
#define VF_VERSION_1		32
#define VF_ACCESS_PLATFORM	33
#define VF_RING_PACKED		34

/*
 * The kernel calls the library makes, as a table so that the unit tests can
 * put a fake kernel behind them (ioctls cannot travel over a socketpair).
 * read(2)/write(2)/poll(2)/mmap(2) stay real: the tests give the library a
 * socket as the device fd and memfds as the mapped memory.
 */
struct vduse_backend {
	int (*open)(void *ctx, const char *path, int flags);
	int (*ioctl)(void *ctx, int fd, unsigned long request, void *arg);
};

extern const struct vduse_backend vduse_sys_backend HIDDEN;

int vduse__dev_create(const struct vduse_dev_opts *opts, const struct vduse_backend *be,
		      void *ctx, struct vduse_dev **devp) HIDDEN;
int vduse__dev_attach(const struct vduse_dev_opts *opts, const struct vduse_backend *be,
		      void *ctx, struct vduse_dev **devp) HIDDEN;

/* One cached IOTLB mapping of one address space. */
struct vduse_region {
	uint64_t start, last;		/* IOVA range, inclusive */
	uint8_t *addr;			/* host address of @start */
	void *map;			/* what mmap returned (page aligned) */
	size_t len;			/* mapped length from @map */
	int prot;			/* PROT_READ and/or PROT_WRITE */
	unsigned int refs;		/* requests and rings using it */
	bool dead;			/* invalidated: unmap when refs hits 0 */
	bool external;			/* umem: memory is not ours to unmap */
	struct vduse_as *as;		/* owner */
	struct vduse_region *next_dead;
};

struct vduse_as {
	struct vduse_region **reg;	/* sorted by start, non-overlapping */
	unsigned int nr, cap;
	struct vduse_region *dead;	/* invalidated but still referenced */
	uint32_t gen;			/* bumped on each invalidation */
	void *umem;			/* registered umem, if any */
	uint64_t umem_iova, umem_len;
	uint64_t hits, misses;		/* statistics (tests) */
};

struct vduse_inflight_vq;

struct vduse_vq {
	struct vduse_dev *dev;
	bool threaded;			/* dev->threaded, one load less per call */
	unsigned int index;
	uint16_t max_size;
	uint32_t group;
	uint32_t asid;			/* its group's address space, kept in step */
	int kickfd;
	/*
	 * VDUSE_DEV_F_THREADS: the queue's own lock and IOTLB cache (for
	 * @asid), so queue threads share nothing on the data path. The
	 * message thread takes the lock to change the queue's state.
	 */
	pthread_mutex_t lock;
	unsigned int msg_waiting;	/* message thread wants @lock */
	struct vduse_as cache;

	bool started;
	bool broken;
	bool packed;
	bool event_idx;
	bool indirect;
	bool need_notify;		/* pushed since the last interrupt */
	bool notify_off;		/* device polls: no kick re-arming on empty */
	bool kick_off_set;		/* NO_NOTIFY / packed DISABLE is in ring memory */
	bool armed;			/* split: kick re-armed (and fenced) at armed_idx */
	uint16_t armed_idx;
	bool signalled_valid;

	uint32_t num;
	uint64_t desc_iova, driver_iova, device_iova;

	/* Ring mapping, valid while ring_asid/ring_gen match the AS. */
	bool ring_ok;
	uint32_t ring_asid, ring_gen;
	const uint32_t *ring_gen_src;	/* the gen of ring_asid's cache */
	struct vduse_region *ring_reg[3];
	void *desc, *driver, *device;

	uint16_t last_avail_idx;
	uint16_t used_idx;
	bool avail_wrap, used_wrap;	/* packed wrap counters */
	uint16_t signalled_used;
	unsigned int inflight;
	uint32_t generation;		/* bumped at each stop */

	/* In-flight log: requests to resubmit after a daemon restart. */
	struct vduse_inflight_vq *log;
	uint64_t *log_pending;		/* packed: the push in progress */
	uint16_t *resubmit;
	unsigned int nr_resubmit;

	struct vduse_req_int *outstanding;	/* freed if the device is closed */
	struct vduse_req_int *pool;	/* free requests with VDUSE_POOL_SEGS inline */
	struct vduse_vq_stats st;
	char broken_reason[256];

	/* Scratch for building a request. */
	struct iovec *seg;
	struct vduse_region **segreg;
	/*
	 * The region of the last translation, with a reference: a request's
	 * buffers are nearly always in the region of the previous one (the
	 * bounce area), so chains skip the lookup. Used only while in
	 * vduse_vq_as() and not invalidated (dead).
	 */
	struct vduse_region *xl_reg;
	uint8_t *indbuf;
};

/* Requests of up to this many segments come from the queue's pool. */
#define VDUSE_POOL_SEGS	8

/* The library's view of a popped request. */
struct vduse_req_int {
	struct vduse_req pub;
	struct vduse_req_int *prev, *next;	/* the queue's outstanding requests */
	uint32_t generation;
	bool pooled;			/* VDUSE_POOL_SEGS inline, back to vq->pool */
	bool batch_ok;			/* vduse_vq_push_many(): written to the ring */
	uint16_t ndesc;			/* packed: ring slots the chain used */
	uint16_t pos;			/* packed: ring slot of the head */
	unsigned int nseg;
	struct vduse_region **reg;
};

struct vduse_dev {
	struct vduse_dev_opts o;	/* copy, zero-extended to our size */
	char name[VDUSE_NAME_MAX];
	const struct vduse_backend *be;
	void *bctx;
	int fd;
	int epfd;			/* vduse_dev_run_once(): fd and kick fds */
	int api;
	uint32_t nvqs, ngroups, nas;
	uint64_t features;
	uint8_t status;
	bool running;			/* DRIVER_OK seen and accepted */
	bool attaching;			/* inside vduse_dev_attach() */
	bool groups_known;		/* group_as[] restored from an in-flight log */
	/*
	 * VDUSE_DEV_F_THREADS: @lock serializes message handling and the
	 * device-wide calls (recursive: callbacks run with it held and may
	 * call the library); each queue has its own lock for its data path.
	 * Order: device lock, then queue locks in index order.
	 */
	bool threaded;
	pthread_mutex_t lock;
	bool msg_failed_hooks;		/* spec §7: vq-ready / suspend not negotiated */
	/*
	 * Deferred replies: the message whose drain is pending (its answer
	 * not yet written) and the ones read meanwhile, handled in order
	 * once vduse_dev_drain_done() comes.
	 */
	enum { DRAIN_IDLE, DRAIN_CALLING, DRAIN_EARLY, DRAIN_WAITING } drain_state;
	int drain_result;		/* DRAIN_EARLY: done inside the callback */
	bool stopping;			/* STOP drain pending: pops find nothing */
	struct vduse_dev_request pending;
	struct vduse_dev_request *backlog;
	unsigned int nbacklog, backlog_cap;
	struct vduse_vq *vqs;
	uint32_t *group_as;		/* group -> ASID */
	struct vduse_as *as;
	uint16_t *queue_sizes;
	uint32_t *queue_group;
	struct vduse_inflight_hdr *log;
	/*
	 * Tests only: called before each store that must survive a crash (the
	 * in-flight log and the used ring), so a test can stop the daemon
	 * between any two of them and check what a restart makes of it.
	 */
	void (*crash_hook)(void *ctx);
	void *crash_ctx;
};

/*
 * VDUSE_DEV_F_THREADS: every public call that reads or changes the device's
 * shared state (IOTLB caches, region references, group bindings, queue
 * state) holds the device lock; the device's own work on a popped request
 * runs outside it.
 */
static inline void vduse_lock(struct vduse_dev *dev)
{
	if (dev->threaded)
		pthread_mutex_lock(&dev->lock);
}

static inline void vduse_unlock(struct vduse_dev *dev)
{
	if (dev->threaded)
		pthread_mutex_unlock(&dev->lock);
}

/*
 * Queue lock, data path side. A queue thread that polls would retake its
 * lock the moment it dropped it and starve the message thread (mutexes are
 * not fair; the kernel gives up after its message timeout), so it first
 * lets a waiting message thread through. One load of a line that is
 * written only around messages.
 */
static inline void vduse_vq_lock(struct vduse_vq *vq)
{
	if (!vq->threaded)
		return;
	while (__builtin_expect(__atomic_load_n(&vq->msg_waiting, __ATOMIC_ACQUIRE), 0))
		sched_yield();
	pthread_mutex_lock(&vq->lock);
}

/* Queue lock, message side (the device lock is held). */
static inline void vduse_vq_lock_msg(struct vduse_vq *vq)
{
	if (!vq->threaded)
		return;
	__atomic_fetch_add(&vq->msg_waiting, 1, __ATOMIC_ACQ_REL);
	pthread_mutex_lock(&vq->lock);
	__atomic_fetch_sub(&vq->msg_waiting, 1, __ATOMIC_RELEASE);
}

static inline void vduse_vq_unlock(struct vduse_vq *vq)
{
	if (vq->threaded)
		pthread_mutex_unlock(&vq->lock);
}

/* The IOTLB cache a queue translates through. */
static inline struct vduse_as *vduse_vq_as(struct vduse_vq *vq)
{
	return vq->threaded ? &vq->cache : &vq->dev->as[vq->asid];
}

/* The cache argument of the vduse_iotlb_*() calls for a queue. */
static inline struct vduse_as *vduse_vq_cache(struct vduse_vq *vq)
{
	return vq->threaded ? &vq->cache : NULL;
}

/* vduse_vq_started(), inline for the message loop */
static inline bool vduse_vq_is_started(struct vduse_vq *vq)
{
	bool started;

	vduse_vq_lock(vq);
	started = vq->started;
	vduse_vq_unlock(vq);
	return started;
}

static inline void vduse_crash_point(const struct vduse_dev *dev)
{
	if (__builtin_expect(dev->crash_hook != NULL, 0))
		dev->crash_hook(dev->crash_ctx);
}

/* log.c */
void vduse_log(const struct vduse_dev *dev, enum vduse_log_level lvl, const char *fmt, ...)
	__attribute__((format(printf, 3, 4))) HIDDEN;
#define vd_err(d, ...)	vduse_log(d, VDUSE_LOG_ERROR, __VA_ARGS__)
#define vd_warn(d, ...)	vduse_log(d, VDUSE_LOG_WARN, __VA_ARGS__)
#define vd_info(d, ...)	vduse_log(d, VDUSE_LOG_INFO, __VA_ARGS__)
#define vd_dbg(d, ...)	vduse_log(d, VDUSE_LOG_DEBUG, __VA_ARGS__)

static inline int vd_ioctl(struct vduse_dev *dev, unsigned long req, void *arg)
{
	return dev->be->ioctl(dev->bctx, dev->fd, req, arg);
}

/* iotlb.c */
int vduse_as_init(struct vduse_as *as) HIDDEN;
void vduse_as_release(struct vduse_as *as) HIDDEN;
struct vduse_region *vduse_iotlb_lookup(struct vduse_dev *dev, uint32_t asid, uint64_t iova) HIDDEN;
/*
 * The functions below with a @cache argument translate through that cache
 * (a queue's own with VDUSE_DEV_F_THREADS) or, if NULL, the device's cache
 * of @asid.
 */
void vduse_as_invalidate(struct vduse_as *as, uint64_t start, uint64_t last) HIDDEN;
void vduse_dev_invalidate(struct vduse_dev *dev, uint32_t asid, uint64_t start,
			  uint64_t last) HIDDEN;
int vduse_iotlb_translate(struct vduse_dev *dev, struct vduse_as *cache, uint32_t asid,
			  uint64_t iova, uint64_t len,
			  int prot, struct iovec *iov, struct vduse_region **reg,
			  unsigned int max, unsigned int *n) HIDDEN;
void *vduse_iotlb_map_contig(struct vduse_dev *dev, struct vduse_as *cache, uint32_t asid,
			     uint64_t iova, uint64_t len, int prot, struct vduse_region **reg) HIDDEN;
void *vduse_iotlb_map_stitched(struct vduse_dev *dev, struct vduse_as *cache, uint32_t asid,
			       uint64_t iova, uint64_t len, int prot, struct vduse_region **reg) HIDDEN;
int vduse_iotlb_copy_from(struct vduse_dev *dev, struct vduse_as *cache, uint32_t asid,
			  uint64_t iova, void *buf, uint64_t len) HIDDEN;
void vduse_region_release(struct vduse_region *r) HIDDEN;

static inline void vduse_region_get(struct vduse_region *r)
{
	r->refs++;
}

/* Drop a reference; a dead region goes with its last one. */
static inline void vduse_region_put(struct vduse_region *r)
{
	if (--r->refs || !r->dead)
		return;
	vduse_region_release(r);
}
void vduse_iotlb_invalidate(struct vduse_dev *dev, uint32_t asid, uint64_t start,
			    uint64_t last) HIDDEN;

/* vq.c */
int vduse_vq_start(struct vduse_vq *vq, const struct vduse_vq_info *info) HIDDEN;
void vduse_vq_stop(struct vduse_vq *vq) HIDDEN;
int vduse_vq_try_start(struct vduse_vq *vq) HIDDEN;
int vduse_vq_map_ring(struct vduse_vq *vq) HIDDEN;

/* The ring mapping is current: the common case, checked inline. */
static inline bool vduse_vq_ring_current(struct vduse_vq *vq)
{
	return vq->ring_ok && vq->ring_asid == vq->asid && vq->ring_gen == *vq->ring_gen_src;
}

static inline int vduse_vq_ring(struct vduse_vq *vq)
{
	return __builtin_expect(vduse_vq_ring_current(vq), 1) ? 0 : vduse_vq_map_ring(vq);
}
void vduse_vq_unmap_ring(struct vduse_vq *vq) HIDDEN;
void vduse_vq_set_broken(struct vduse_vq *vq, const char *fmt, ...)
	__attribute__((format(printf, 2, 3))) HIDDEN;
void vduse_req_release(struct vduse_req_int *r) HIDDEN;
void vduse_vq_free_outstanding(struct vduse_vq *vq) HIDDEN;
void vduse_vq_free_pool(struct vduse_vq *vq) HIDDEN;

/* Chain walking state shared by split.c and packed.c. */
/*
 * A chain being parsed. Its segments go straight into a pooled request
 * (no copy, no scratch page touched); past VDUSE_POOL_SEGS they move to
 * the queue's scratch (vq->seg, vq->segreg).
 */
struct vduse_chain {
	unsigned int nseg, nr_readable;
	uint64_t total;
	uint64_t readable_total;	/* of the readable segments (they come first) */
	bool writable_seen;
	unsigned int cap;		/* segments iov/reg can hold */
	struct vduse_as *as;		/* vduse_vq_as(): fixed while the queue lock is held */
	struct iovec *iov;
	struct vduse_region **reg;
	struct vduse_req_int *r;	/* the pooled request iov/reg belong to, or NULL */
};
void vduse_vq_forget_xlate(struct vduse_vq *vq) HIDDEN;
void vduse_vq_drop_dead_xlate(struct vduse_vq *vq) HIDDEN;
void vduse_chain_drop(struct vduse_vq *vq, struct vduse_chain *c) HIDDEN;
/*
 * The data path's common case is inline below, its other cases out of
 * line: under an emulator (QEMU TCG) every call and every code page a
 * request touches costs far more than the instructions themselves.
 */
void vduse_chain_init_slow(struct vduse_vq *vq, struct vduse_chain *c) HIDDEN;
int vduse_chain_add_slow(struct vduse_vq *vq, struct vduse_chain *c, uint64_t addr,
			 uint32_t len, bool writable) HIDDEN;
struct vduse_req_int *vduse_req_build_slow(struct vduse_vq *vq, struct vduse_chain *c) HIDDEN;

#define VDUSE_POOL_REQ_SIZE \
	(sizeof(struct vduse_req_int) + \
	 VDUSE_POOL_SEGS * (sizeof(struct iovec) + sizeof(struct vduse_region *)))

/* Start a chain in a pooled request (recycled: no allocation per request). */
static inline void vduse_chain_init(struct vduse_vq *vq, struct vduse_chain *c)
{
	struct vduse_req_int *r = vq->pool;

	if (__builtin_expect(!r, 0)) {
		vduse_chain_init_slow(vq, c);
		return;
	}
	vq->pool = r->next;
	memset(c, 0, sizeof(*c));
	c->as = vduse_vq_as(vq);
	c->r = r;
	c->iov = (struct iovec *)(r + 1);
	c->reg = (struct vduse_region **)(c->iov + VDUSE_POOL_SEGS);
	c->cap = VDUSE_POOL_SEGS;
}

/*
 * [@addr, @addr + @len) inside the region of the queue's last translation,
 * with @prot: its host address; NULL otherwise (also if it wraps). @len > 0.
 * The queue holds a reference on that region, so it stays mapped.
 */
static inline uint8_t *vduse_vq_xl_hit(struct vduse_vq *vq, struct vduse_as *as, uint64_t addr,
				       uint64_t len, int prot)
{
	struct vduse_region *r = vq->xl_reg;

	if (r && r->as == as && !r->dead && addr >= r->start &&
	    addr + (len - 1) >= addr && addr + (len - 1) <= r->last && (r->prot & prot) == prot)
		return r->addr + (addr - r->start);
	return NULL;
}

/*
 * Add a descriptor's buffer to the chain. Inline: a buffer in the region of
 * the last translation with room left in the chain (nearly every one); the
 * rest, and every error, in vduse_chain_add_slow(), which checks it all again.
 */
static inline int vduse_chain_add(struct vduse_vq *vq, struct vduse_chain *c, uint64_t addr,
				  uint32_t len, bool writable)
{
	struct vduse_region *r = vq->xl_reg;
	uint8_t *p;

	if (__builtin_expect(!len || (!writable && c->writable_seen) || c->nseg >= c->cap ||
			     c->total + len > UINT32_MAX, 0))
		return vduse_chain_add_slow(vq, c, addr, len, writable);
	p = vduse_vq_xl_hit(vq, c->as, addr, len, writable ? PROT_WRITE : PROT_READ);
	if (__builtin_expect(!p, 0))
		return vduse_chain_add_slow(vq, c, addr, len, writable);
	c->total += len;
	c->iov[c->nseg].iov_base = p;
	c->iov[c->nseg].iov_len = len;
	c->reg[c->nseg++] = r;
	r->refs++;
	c->as->hits++;
	vq->st.iotlb_hits++;
	if (writable) {
		c->writable_seen = true;
	} else {
		c->nr_readable = c->nseg;
		c->readable_total = c->total;
	}
	return 0;
}

/* The request of a parsed chain; NULL (the chain's references kept) if out of memory. */
static inline struct vduse_req_int *vduse_req_build(struct vduse_vq *vq, struct vduse_chain *c)
{
	struct vduse_req_int *r = c->r;

	if (__builtin_expect(!r || c->iov == vq->seg, 0))
		return vduse_req_build_slow(vq, c);
	c->r = NULL;
	memset(r, 0, sizeof(*r));
	r->pooled = true;
	r->pub.vq = vq;
	r->pub.iov = c->iov;
	r->reg = c->reg;
	r->nseg = c->nseg;
	r->generation = vq->generation;
	r->next = vq->outstanding;
	if (r->next)
		r->next->prev = r;
	vq->outstanding = r;
	r->pub.nr_readable = c->nr_readable;
	r->pub.nr_writable = c->nseg - c->nr_readable;
	r->pub.readable_len = c->readable_total;
	r->pub.writable_len = c->total - c->readable_total;
	return r;
}

/* split.c */
int vduse_split_pop_avail(struct vduse_vq *vq, uint16_t avail_idx, struct vduse_req **reqp) HIDDEN;
int vduse_split_enable_notify(struct vduse_vq *vq) HIDDEN;
void vduse_split_disable_notify(struct vduse_vq *vq) HIDDEN;
int vduse_split_ring_size(uint32_t num, uint64_t *desc, uint64_t *drv, uint64_t *devsz) HIDDEN;
int vduse_split_parse(struct vduse_vq *vq, uint16_t head, struct vduse_req **reqp) HIDDEN;

/* packed.c */
int vduse_packed_pop(struct vduse_vq *vq, struct vduse_req **reqp) HIDDEN;
int vduse_packed_push(struct vduse_vq *vq, struct vduse_req_int *r, uint32_t len) HIDDEN;
int vduse_packed_need_irq(struct vduse_vq *vq) HIDDEN;
int vduse_packed_enable_notify(struct vduse_vq *vq) HIDDEN;
void vduse_packed_disable_notify(struct vduse_vq *vq) HIDDEN;
int vduse_packed_parse(struct vduse_vq *vq, uint16_t pos, bool wrap, bool resubmit,
		       struct vduse_req **reqp) HIDDEN;
bool vduse_packed_chain_intact(struct vduse_vq *vq, uint16_t slot, bool wrap, uint16_t id) HIDDEN;
bool vduse_packed_finish(struct vduse_vq *vq, uint16_t slot, bool wrap, uint16_t id,
			 uint32_t len) HIDDEN;

/* msg.c */
int vduse_msg_handle(struct vduse_dev *dev, const struct vduse_dev_request *req,
		     struct vduse_dev_response *resp) HIDDEN;
void vduse_dev_stop_queues(struct vduse_dev *dev) HIDDEN;
void vduse_dev_free_backlog(struct vduse_dev *dev) HIDDEN;
void vduse_dev_group_moved(struct vduse_dev *dev, uint32_t group) HIDDEN;
int vduse_dev_epoll_setup(struct vduse_dev *dev) HIDDEN;

/* inflight.c */
#define VDUSE_INFLIGHT_MAGIC	0x6c667644u	/* "Dvfl" */
struct vduse_inflight_hdr {
	uint32_t magic;
	uint32_t version;
	uint32_t num_queues;
	uint32_t queue_size;
	uint32_t ngroups;
	uint32_t pad;
	/* uint32_t group_asid[ngroups]; then per queue: vduse_inflight_vq */
};
struct vduse_inflight_vq {
	uint16_t used;			/* used index; packed: slot | lap << 15 */
	uint8_t valid, pad[5];
	/*
	 * per descriptor head (split) or buffer id (packed):
	 * uint8_t state[queue_size]; (free, in flight, lost)
	 * uint16_t pos[queue_size]; (avail index; packed: slot | lap << 15)
	 * uint16_t ndesc[queue_size]; (packed: ring slots of the chain)
	 */
	uint8_t data[];
};
/*
 * Version 3: after the last queue's block, per queue, 64 bytes apart (a
 * cache line each), uint64_t pending = used position | id << 16 | written
 * length << 32: the packed push in progress while its used position equals
 * the queue's @used.
 */
_Static_assert(__atomic_always_lock_free(sizeof(uint64_t), 0),
	       "the pending completion word must be one store");
int vduse_inflight_setup(struct vduse_dev *dev, bool attach) HIDDEN;
int vduse_inflight_log_pop(struct vduse_vq *vq, uint16_t id, uint16_t pos, uint16_t ndesc) HIDDEN;
void vduse_inflight_log_push(struct vduse_vq *vq, uint16_t id) HIDDEN;
void vduse_inflight_log_commit(struct vduse_vq *vq) HIDDEN;

/* The in-flight log's hooks: one test inline when the device has no log. */
static inline int vduse_inflight_pop(struct vduse_vq *vq, uint16_t id, uint16_t pos,
				     uint16_t ndesc)
{
	return vq->log ? vduse_inflight_log_pop(vq, id, pos, ndesc) : 0;
}

static inline void vduse_inflight_push(struct vduse_vq *vq, uint16_t id)
{
	if (vq->log)
		vduse_inflight_log_push(vq, id);
}

static inline void vduse_inflight_commit(struct vduse_vq *vq)
{
	if (vq->log)
		vduse_inflight_log_commit(vq);
}

void vduse_inflight_log_pending(struct vduse_vq *vq, uint16_t id, uint32_t len) HIDDEN;

/* Packed push, before it writes the used descriptor (inflight.c). */
static inline void vduse_inflight_pending(struct vduse_vq *vq, uint16_t id, uint32_t len)
{
	if (vq->log)
		vduse_inflight_log_pending(vq, id, len);
}
void vduse_inflight_group(struct vduse_dev *dev, uint32_t group, uint32_t asid) HIDDEN;
void vduse_inflight_reset(struct vduse_vq *vq) HIDDEN;
int vduse_inflight_resume(struct vduse_vq *vq) HIDDEN;

static inline uint16_t ld16_acq(const void *p)
{
	return __atomic_load_n((const uint16_t *)p, __ATOMIC_ACQUIRE);
}

static inline void st16_rel(void *p, uint16_t v)
{
	__atomic_store_n((uint16_t *)p, v, __ATOMIC_RELEASE);
}

/* True if an interrupt is due: @event lies in (old, new] (mod 2^16). */
static inline bool vduse_need_event(uint16_t event, uint16_t new_idx, uint16_t old)
{
	return (uint16_t)(new_idx - event - 1) < (uint16_t)(new_idx - old);
}

/*
 * The split ring's completion side, inline into vq.c's push and notify
 * (a call each per request otherwise). Ring indexes are masked: a split
 * ring's size is a power of two (checked at start).
 */
#define VDUSE_AVAIL_RING(vq)	((uint16_t *)((uint8_t *)(vq)->driver + 4))
#define VDUSE_USED_RING(vq)	((struct vring_used_elem *)((uint8_t *)(vq)->device + 4))

/* Used element @k of a batch starting at the current used index. */
static inline void vduse_split_fill(struct vduse_vq *vq, struct vduse_req_int *r, uint32_t len,
				    unsigned int k)
{
	struct vring_used_elem *e = &VDUSE_USED_RING(vq)[(vq->used_idx + k) & (vq->num - 1)];

	vduse_crash_point(vq->dev);
	e->id = htole32(r->pub.id);
	e->len = htole32(len);
}

/* Make @n filled elements visible with one used index store. */
static inline void vduse_split_publish(struct vduse_vq *vq, unsigned int n)
{
	vq->used_idx += n;
	vduse_crash_point(vq->dev);
	st16_rel((uint8_t *)vq->device + 2, htole16(vq->used_idx));
}

static inline int vduse_split_push(struct vduse_vq *vq, struct vduse_req_int *r, uint32_t len)
{
	vduse_split_fill(vq, r, len, 0);
	vduse_split_publish(vq, 1);
	return 0;
}

/* Is an interrupt due for what was pushed since the last one? */
static inline int vduse_split_need_irq(struct vduse_vq *vq)
{
	uint16_t old = vq->signalled_used, used_event;
	bool valid = vq->signalled_valid;

	vq->signalled_used = vq->used_idx;
	vq->signalled_valid = true;
	if (!vq->event_idx)
		return !(le16toh(ld16_acq(vq->driver)) & VRING_AVAIL_F_NO_INTERRUPT);
	used_event = le16toh(ld16_acq(&VDUSE_AVAIL_RING(vq)[vq->num]));
	return !valid || vduse_need_event(used_event, vq->used_idx, old);
}

/*
 * Ask the driver to kick again (avail_event = our position, or clear
 * NO_NOTIFY), then look at the ring once more. The full fence pairs with
 * the driver's between its avail index store and its avail_event load
 * (virtqueue_kick_prepare): without it both sides can read the other's old
 * value, the driver skips the kick and, having passed avail_event, never
 * kicks this queue again. Returns the avail index seen after the fence.
 */
static inline __attribute__((always_inline)) uint16_t vduse_split_arm(struct vduse_vq *vq)
{
	/* armed at this position already: that fence made our store visible */
	if (vq->armed && vq->armed_idx == vq->last_avail_idx)
		return le16toh(ld16_acq((uint8_t *)vq->driver + 2));
	vq->armed = true;
	vq->armed_idx = vq->last_avail_idx;
	if (vq->event_idx)
		st16_rel(&VDUSE_USED_RING(vq)[vq->num], htole16(vq->last_avail_idx));
	else if (vq->kick_off_set)
		st16_rel(vq->device, 0);
	vq->kick_off_set = false;
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	return le16toh(ld16_acq((uint8_t *)vq->driver + 2));
}

/*
 * Pop a request: 1, 0 if the ring is empty (re-armed unless polled), or an
 * error. The empty case inline: a device pops until nothing is left, so
 * every pass ends with one.
 */
static inline int vduse_split_pop(struct vduse_vq *vq, struct vduse_req **reqp)
{
	uint16_t avail_idx = le16toh(ld16_acq((uint8_t *)vq->driver + 2));

	if (avail_idx == vq->last_avail_idx) {
		if (vq->notify_off)
			return 0;
		avail_idx = vduse_split_arm(vq);
		if (avail_idx == vq->last_avail_idx)
			return 0;
	}
	return vduse_split_pop_avail(vq, avail_idx, reqp);
}

#endif
