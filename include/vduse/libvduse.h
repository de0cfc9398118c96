/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * libvduse - write virtio devices in userspace with VDUSE (API v0 and v1).
 *
 * Licensed LGPL-2.1-or-later, not GPL, so that device authors can link
 * proprietary devices against the library; changes to the library itself
 * stay free.
 *
 * Model: one opaque struct vduse_dev per device, created from an options
 * struct that carries its own size (new fields are only ever appended, so
 * a program built against an older header keeps working), functions that
 * return 0 or a negative errno, a log callback instead of printing, and no
 * global state and no threads inside the library.
 *
 * Event loop: poll vduse_dev_fd() (kernel messages) and each queue's
 * vduse_vq_kick_fd(), or let vduse_dev_run_once() do it. Messages are
 * answered at once, unless the drain callback holds an answer back until
 * the device's in-flight I/O is over (vduse_dev_drain_done()); the
 * device's I/O never runs inside the message handler.
 *
 * Threads: by default one device (and its queues and requests) must be used
 * by one thread at a time; separate devices are independent. The memory a
 * request's iovecs point to stays mapped until that request is pushed, even
 * if the kernel invalidates the mapping meanwhile, so another thread may
 * fill or read the buffers while the owning thread keeps handling messages.
 * With VDUSE_DEV_F_THREADS, one thread may handle the messages
 * (vduse_dev_handle_msgs() on vduse_dev_fd()) while each queue is served by
 * its own thread (kick fd, ack, pop/push/notify; one thread per queue at a
 * time). Queue calls take only their queue's lock (each queue has its own
 * IOTLB cache), so queues scale across cores; the message thread takes a
 * queue's lock when it changes that queue (start, stop, invalidation),
 * and device-wide calls and callbacks run under a device lock (recursive:
 * callbacks may call the library). A callback may wait for a queue thread,
 * as long as that thread does not wait for the callback's return in a
 * device-wide call. vduse_req_read/write take no lock. See
 * docs/library.md.
 */
#ifndef LIBVDUSE_H
#define LIBVDUSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/types.h>
#include <sys/uio.h>

#ifdef __cplusplus
extern "C" {
#endif

#define LIBVDUSE_MAJOR_VERSION 0
#define LIBVDUSE_MINOR_VERSION 4

struct vduse_dev;
struct vduse_vq;

/* Log levels, most severe first. */
enum vduse_log_level {
	VDUSE_LOG_ERROR = 0,
	VDUSE_LOG_WARN = 1,
	VDUSE_LOG_INFO = 2,
	VDUSE_LOG_DEBUG = 3,
};

/*
 * One formatted line (no trailing newline) for the device's log. It may be
 * called from inside any library call, including queue calls that hold the
 * queue's lock (a queue that breaks in vduse_vq_pop() or vduse_vq_push(), a
 * failed interrupt injection in vduse_vq_notify()): it must not call back
 * into the library. With VDUSE_DEV_F_THREADS a device getter there (which
 * takes the device lock) would take the locks queue first, against the
 * message thread's order, and deadlock with it; a call on the same queue
 * would deadlock at once. Record or print the line, nothing else.
 */
typedef void (*vduse_log_fn)(void *user, enum vduse_log_level level, const char *msg);

/* Why struct vduse_drain asks the device to drain. */
enum vduse_drain_reason {
	VDUSE_DRAIN_STOP = 1,		/* data path stops: all guest memory */
	VDUSE_DRAIN_IOTLB = 2,		/* [start, last] of @asid changed */
	VDUSE_DRAIN_GROUP = 3,		/* @group left address space @asid */
};

/*
 * What a drain callback must stop using. Requests popped before the call
 * keep their buffers mapped until they are pushed or freed; the point of
 * draining is that the kernel (and behind it the driver, which may reuse
 * the memory at once) hears OK only after the device's I/O on them is over.
 *
 * While a STOP drain is pending, vduse_vq_pop() returns 0 (no new work)
 * and vduse_vq_push() still reaches the driver: push what completes, then
 * call vduse_dev_drain_done(); the queues stop and @reset runs after that.
 * While an IOTLB or GROUP drain is pending the queues keep running (new
 * requests already translate through the new mappings). Messages arriving
 * meanwhile are read and queued, and handled in order once the drain is
 * done.
 */
struct vduse_drain {
	uint32_t reason;		/* enum vduse_drain_reason */
	uint32_t asid;			/* IOTLB, GROUP: the address space */
	uint64_t start, last;		/* IOTLB: the range; STOP: 0, UINT64_MAX */
	uint32_t group;			/* GROUP: the group */
	uint8_t status;			/* STOP: the status the driver wrote */
	uint8_t reserved[3];
};

/* Returned by the drain callback: the answer waits for vduse_dev_drain_done(). */
#define VDUSE_DRAIN_PENDING	1

/* vduse_dev_opts.flags */
#define VDUSE_DEV_F_API_V0	(1u << 0)	/* never use API v1, even if offered */
/*
 * Several threads may call the library for one device: one handles the
 * messages, others serve queues (each queue from one thread at a time).
 * See "Threads" below.
 */
#define VDUSE_DEV_F_THREADS	(1u << 1)

/**
 * struct vduse_dev_opts - how to create (or attach to) a device
 *
 * Declare it with LIBVDUSE_OPTS() so that @sz is set and the rest zeroed.
 * Zero means "default" for every field.
 */
struct vduse_dev_opts {
	size_t sz;			/* sizeof(struct vduse_dev_opts) */
	const char *name;		/* device name: /dev/vduse/NAME */
	uint32_t device_id;		/* virtio device ID (1 net, 2 block, ...) */
	uint32_t vendor_id;
	uint64_t features;		/* VIRTIO_F_ACCESS_PLATFORM is always added */
	const void *config;		/* initial config space */
	uint32_t config_size;
	uint32_t num_queues;
	uint16_t queue_size;		/* max size of every queue (default 256) */
	uint16_t reserved0;		/* zero: the struct has no implicit padding */
	uint32_t reserved1;
	const uint16_t *queue_sizes;	/* optional: per-queue max size */
	uint32_t ngroups;		/* virtqueue groups (default 1) */
	uint32_t nas;			/* address spaces (default 1) */
	const uint32_t *queue_group;	/* optional: group of each queue (default 0) */
	uint32_t vq_align;		/* default 4096 */
	uint32_t flags;			/* VDUSE_DEV_F_* */

	/*
	 * Callbacks, all optional, all called from vduse_dev_handle_msgs()
	 * or vduse_dev_run_once() in the caller's thread. None may block on
	 * device I/O: the kernel waits for the answer.
	 */
	/* DRIVER_OK: queues are mapped. Non-zero refuses (answers FAILED). */
	int (*started)(struct vduse_dev *dev, void *user);
	/*
	 * The data path is stopping (reset, or DRIVER_OK cleared). The rings
	 * are still mapped: requests pushed now reach the driver before the
	 * reset completes (drain); vduse_vq_pop() finds nothing any more;
	 * once the stop is answered vduse_vq_push() gives -ESTALE. See @drain
	 * for I/O that cannot finish inside this call.
	 */
	void (*stopped)(struct vduse_dev *dev, void *user);
	/* The driver reset the device (SET_STATUS 0). */
	void (*reset)(struct vduse_dev *dev, void *user);
	/* A queue became usable (at DRIVER_OK, or later when enabled). */
	void (*queue_ready)(struct vduse_dev *dev, struct vduse_vq *vq, void *user);
	/* The driver kicked a started queue (vduse_dev_run_once() only). */
	void (*queue_kick)(struct vduse_dev *dev, struct vduse_vq *vq, void *user);
	/*
	 * API v1: the driver moves @group to address space @asid. Return 0 to
	 * accept, a negative errno to refuse (the driver's call fails, and
	 * nothing changes).
	 */
	int (*group_asid)(struct vduse_dev *dev, uint32_t group, uint32_t asid, void *user);
	/* The driver wrote the status byte (any value), before the above. */
	void (*status)(struct vduse_dev *dev, uint8_t status, void *user);

	vduse_log_fn log;		/* nothing is logged without it */
	enum vduse_log_level log_level;	/* most verbose level passed to @log */
	uint32_t reserved2;		/* zero */
	void *user;			/* passed to every callback */

	/*
	 * Optional in-flight log (vduse_inflight_size() bytes, zeroed the
	 * first time, e.g. a memfd or file that survives the daemon): keeps
	 * group bindings and requests popped but not pushed, so that a
	 * restarted daemon (vduse_dev_attach()) resubmits them.
	 */
	void *inflight;
	size_t inflight_size;

	/* ---- libvduse 0.2 ---- */
	/*
	 * The kernel changed the mappings of [@start, @last] in address space
	 * @asid (UPDATE_IOTLB). The library has already dropped its cached
	 * mappings there (memory of requests still in flight stays mapped
	 * until they are pushed). For devices that keep their own view of
	 * guest memory, e.g. io_uring fixed buffers.
	 */
	void (*iotlb_update)(struct vduse_dev *dev, uint32_t asid, uint64_t start,
			     uint64_t last, void *user);

	/* ---- libvduse 0.3 ---- */
	/*
	 * Deferred replies. Called when the device must stop touching some
	 * memory before the kernel hears OK: the data path stops (DRIVER_OK
	 * cleared or reset; after @stopped, rings still mapped), an address
	 * space's mappings change (UPDATE_IOTLB; after @iotlb_update), or a
	 * group leaves an address space (SET_VQ_GROUP_ASID; after
	 * @group_asid). Return 0 when the device holds nothing there, a
	 * negative errno to answer FAILED, or VDUSE_DRAIN_PENDING while I/O
	 * is in flight (io_uring, thread pools): the answer then waits for
	 * vduse_dev_drain_done(), which must come within the kernel's message
	 * timeout (30 s by default; then the device is broken for good). See
	 * struct vduse_drain.
	 */
	int (*drain)(struct vduse_dev *dev, const struct vduse_drain *d, void *user);
};

/*
 * Declare an options struct with its size set and every other byte zero.
 * The library checks that a newer caller's fields it does not know are
 * zero, so padding must be zero too: the struct has none on LP64 (holes
 * are explicit reserved fields, and fields are only ever appended that
 * way), and the macro clears the whole object before the initialiser.
 */
#define LIBVDUSE_OPTS(TYPE, NAME, ...)						\
	struct TYPE NAME = ((void)memset(&NAME, 0, sizeof(struct TYPE)),	\
			    (struct TYPE){ .sz = sizeof(struct TYPE), __VA_ARGS__ })

/**
 * vduse_dev_create() - create a VDUSE device and open it
 *
 * Negotiates API v1 when the kernel offers it; falls back to v0 when the
 * device needs one group and one address space and the kernel is v0-only;
 * otherwise fails with -EOPNOTSUPP (reason logged). Sets up every queue.
 * The device exists in the kernel until vduse_dev_destroy().
 */
int vduse_dev_create(const struct vduse_dev_opts *opts, struct vduse_dev **devp);

/**
 * vduse_dev_attach() - reopen an existing device (daemon restart)
 *
 * @opts gives the name, the queue layout and the callbacks as at creation.
 * The API version is probed from the device. If the driver is running, the
 * queues are re-read with VQ_GET_INFO and resume where the rings say (or
 * where the in-flight log says, when one is given). A device with several
 * address spaces needs the in-flight log that recorded its group bindings
 * (the kernel cannot report them): -ENOTRECOVERABLE without it. A log that
 * is blank, mismatched or corrupt is started afresh: split rings then resume
 * at the used index, as without a log. Each restarted queue gets one
 * interrupt, whatever its event suppression says: the old daemon may have
 * pushed without notifying. -ENOMEM when a queue's resume from the log runs
 * out of memory; the log is left as it was for a later attach.
 */
int vduse_dev_attach(const struct vduse_dev_opts *opts, struct vduse_dev **devp);

/*
 * Close the device fd and free @dev; the kernel device stays. Requests not
 * yet pushed are abandoned: their memory is unmapped, do not touch them (a
 * restarted daemon gets them back through the in-flight log).
 */
void vduse_dev_close(struct vduse_dev *dev);

/*
 * Close and destroy the kernel device; @dev is freed in every case.
 * -EBUSY while the device is still on the vDPA bus.
 */
int vduse_dev_destroy(struct vduse_dev *dev);

/* Destroy a device by name (for example one left by a crashed daemon). */
int vduse_destroy_by_name(const char *name);

int vduse_dev_fd(const struct vduse_dev *dev);		/* poll for POLLIN */
const char *vduse_dev_name(const struct vduse_dev *dev);
int vduse_dev_api_version(const struct vduse_dev *dev);	/* 0 or 1 */
uint64_t vduse_dev_features(const struct vduse_dev *dev);	/* negotiated, once started */
uint8_t vduse_dev_status(const struct vduse_dev *dev);
void *vduse_dev_user(const struct vduse_dev *dev);
unsigned int vduse_dev_num_queues(const struct vduse_dev *dev);
struct vduse_vq *vduse_dev_vq(struct vduse_dev *dev, unsigned int index);
/* Current address space of a group (API v0: always 0); -EINVAL if none. */
int vduse_dev_group_asid(const struct vduse_dev *dev, uint32_t group);

/*
 * Read and answer every pending kernel message without blocking. Returns
 * the number handled, or a negative errno (-EIO: the device is broken).
 */
int vduse_dev_handle_msgs(struct vduse_dev *dev);

/*
 * Wait up to @timeout_ms (-1: forever) for a message or a kick, handle the
 * messages, clear the kicks and call queue_kick for each kicked queue.
 * Returns the number of events, 0 on timeout, or a negative errno.
 */
int vduse_dev_run_once(struct vduse_dev *dev, int timeout_ms);

/*
 * Finish the drain the drain callback left pending (VDUSE_DRAIN_PENDING):
 * @result 0 answers OK, a negative errno FAILED (a STOP drain stops the
 * queues either way). The library completes the message (a STOP: queues
 * stopped, @reset for status 0), writes the answer, then handles the
 * messages that queued up meanwhile, so their callbacks run in the
 * calling thread (with VDUSE_DEV_F_THREADS, under the device lock like
 * any callback). May be called from any thread, and from the drain
 * callback itself (it then returns VDUSE_DRAIN_PENDING as usual). Returns
 * 0, -EINVAL if no drain is pending, or a negative errno if writing an
 * answer failed (-EIO: the device is broken).
 */
int vduse_dev_drain_done(struct vduse_dev *dev, int result);

/* True while a drain is pending (its message not yet answered). */
bool vduse_dev_drain_pending(const struct vduse_dev *dev);

/* Write config space bytes, then raise the config interrupt. */
int vduse_dev_update_config(struct vduse_dev *dev, uint32_t offset,
			    const void *data, uint32_t len);

/*
 * Back the bounce region of address space @asid with @addr (page aligned,
 * vduse_dev_umem_size() bytes; pinned against RLIMIT_MEMLOCK), so that the
 * bounced data lives in memory the device owns. The kernel drops it when
 * the device fd is closed. With VDUSE_DEV_F_THREADS this and
 * vduse_dev_dereg_umem() hold every queue's lock around the switch (queue
 * threads wait in their next library call, as for UPDATE_IOTLB), then the
 * queues translate the bounce range anew. Buffers of requests popped
 * before keep the old mapping, whose pages the kernel revokes (SIGBUS on
 * ours; stale data upstream): push or free the requests of @asid's queues
 * whose buffers may lie in the bounce range first.
 */
int vduse_dev_reg_umem(struct vduse_dev *dev, uint32_t asid, void *addr, size_t len);
/*
 * Size the bounce region of @asid takes as umem (IOTLB_GET_INFO), in
 * *@size; -ENOENT while there is none (before the kernel's virtio driver
 * made its first mapping, or under vhost-vdpa).
 */
int vduse_dev_umem_size(struct vduse_dev *dev, uint32_t asid, uint64_t *size);
int vduse_dev_dereg_umem(struct vduse_dev *dev, uint32_t asid);

/*
 * Bytes needed for the in-flight log of a device with this layout. The log
 * format is the library's (docs/library.md): since libvduse 0.4 logs take 64
 * bytes per queue more than those of libvduse 0.2 and 0.3, which it reads
 * and upgrades when attached with memory of the new size (a file reopened
 * with vduse_inflight_open() and this size is grown, its contents kept).
 */
size_t vduse_inflight_size(unsigned int num_queues, unsigned int queue_size,
			   unsigned int ngroups);

/* ---- virtqueues ---- */

unsigned int vduse_vq_index(const struct vduse_vq *vq);
int vduse_vq_kick_fd(const struct vduse_vq *vq);	/* eventfd, always valid */
bool vduse_vq_started(const struct vduse_vq *vq);
bool vduse_vq_broken(const struct vduse_vq *vq);	/* malformed ring seen */
bool vduse_vq_packed(const struct vduse_vq *vq);
unsigned int vduse_vq_size(const struct vduse_vq *vq);	/* driver's ring size */
uint32_t vduse_vq_group(const struct vduse_vq *vq);
uint32_t vduse_vq_asid(const struct vduse_vq *vq);	/* via its group */
unsigned int vduse_vq_inflight(const struct vduse_vq *vq); /* popped, not pushed */

/* Clear the queue's kick eventfd (vduse_dev_run_once() does it). */
void vduse_vq_ack_kick(struct vduse_vq *vq);

/**
 * struct vduse_req - one buffer taken from a queue
 *
 * @iov holds @nr_readable device-readable segments (driver to device) first,
 * then @nr_writable device-writable ones, already translated through the
 * queue's current address space. The library owns the memory; @user is
 * the device's.
 */
struct vduse_req {
	struct vduse_vq *vq;
	struct iovec *iov;
	unsigned int nr_readable;
	unsigned int nr_writable;
	uint64_t readable_len;
	uint64_t writable_len;
	uint16_t id;			/* head (split) or buffer id (packed) */
	void *user;
};

/*
 * Take the next available buffer. Returns 1 and sets *@reqp, 0 if the
 * queue is empty or not started, -EIO if the queue is broken (a malformed
 * ring or chain; it stays broken until the driver resets), -ENOMEM.
 *
 * When it finds the queue empty (and kicks are on, the default) it first
 * asks the driver for a kick and looks once more, so "pop until 0, then
 * wait for the kick fd" never misses a buffer.
 */
int vduse_vq_pop(struct vduse_vq *vq, struct vduse_req **reqp);

/*
 * Return a buffer as used with @written bytes, and free @req. Returns 0;
 * -ESTALE if the queue was reset since the pop; -EIO if the queue is broken
 * or its ring can no longer be mapped (the reason is logged). On an error
 * the request is freed all the same, nothing is written to the ring and the
 * driver does not get the buffer back (a broken queue stays so until the
 * driver resets it); with an in-flight log its entry stays in flight, so a
 * daemon that attaches later resubmits it unless the driver reset first.
 */
int vduse_vq_push(struct vduse_req *req, uint32_t written);

/* Free a request without returning it (it stays in flight). */
void vduse_req_free(struct vduse_req *req);

/*
 * Raise the queue's interrupt if the driver wants one (event index or
 * flags). Returns 1 if injected, 0 if suppressed, or a negative errno.
 */
int vduse_vq_notify(struct vduse_vq *vq);

/*
 * Polling (vhost semantics). vduse_vq_disable_notify() tells the driver it
 * need not kick (split: VRING_USED_F_NO_NOTIFY, or simply no avail_event
 * update with EVENT_IDX; packed: event flags DISABLE) and stops
 * vduse_vq_pop() from re-arming kicks when empty. vduse_vq_enable_notify()
 * turns kicks back on and then checks the ring: it returns 1 if buffers
 * arrived meanwhile (pop them; they may have come without a kick), 0 if the
 * queue is empty and the driver will kick for the next one, -EIO if broken.
 * Kicks are on whenever a queue starts.
 */
void vduse_vq_disable_notify(struct vduse_vq *vq);
int vduse_vq_enable_notify(struct vduse_vq *vq);

/*
 * Batches. vduse_vq_pop_many() pops up to @max requests into @reqs and
 * returns how many (0 if none), or a negative errno if the first pop
 * failed. vduse_vq_push_many() returns @n requests of @vq to the driver
 * (@written[i] bytes each; @written may be NULL for 0). On a split ring they
 * become visible together, with one used index store; a packed ring takes
 * them one by one, as vduse_vq_push() does. Every request is freed. Returns
 * the number returned to the driver or, if none was, the first error
 * (-ESTALE, -EIO); -EINVAL, doing nothing, if one belongs to another queue.
 */
int vduse_vq_pop_many(struct vduse_vq *vq, struct vduse_req **reqs, unsigned int max);
int vduse_vq_push_many(struct vduse_vq *vq, struct vduse_req *const *reqs,
		       const uint32_t *written, unsigned int n);

/*
 * Per-queue counters since the device was created or attached (across
 * driver resets). Pass sizeof(struct vduse_vq_stats): fields are only ever
 * appended, and those the library does not know read as zero.
 */
struct vduse_vq_stats {
	uint64_t pops;			/* requests popped (resubmits included) */
	uint64_t pushes;		/* requests returned to the driver */
	uint64_t kicks;			/* kick eventfd reads that found a kick */
	uint64_t irqs;			/* interrupts injected */
	uint64_t irqs_suppressed;	/* notify calls the driver did not want */
	uint64_t iotlb_hits;		/* buffer translations found in the cache */
	uint64_t iotlb_misses;		/* ... fetched from the kernel (GET_FD) */
};
int vduse_vq_get_stats(const struct vduse_vq *vq, struct vduse_vq_stats *st, size_t size);

/* Why the queue is broken (the message also logged), or NULL if it is not. */
const char *vduse_vq_broken_reason(const struct vduse_vq *vq);

/* Copy between a flat buffer and the readable / writable parts. */
size_t vduse_req_read(const struct vduse_req *req, uint64_t offset, void *buf, size_t len);
size_t vduse_req_write(const struct vduse_req *req, uint64_t offset, const void *buf, size_t len);

/*
 * ======================================================================
 * Utilities for device daemons (lib/util.c, LIBVDUSE_UTIL_0.3): the vDPA
 * bus, the in-flight log file, destroying a device, ring positions. Not
 * for the data path. See docs/library.md §9.
 * ======================================================================
 */

/*
 * `vdpa dev add name NAME mgmtdev vduse` over generic netlink, then, with
 * @driver ("virtio_vdpa", "vhost_vdpa") not NULL, make sure that driver
 * serves it (driver_override, unbind, bind); a failed bind deletes the
 * device again. The call returns once the driver's probe has finished, and
 * that probe talks to the device: the daemon serving NAME must keep
 * answering its messages meanwhile (never call this from its only event
 * loop thread). The vdpa family is serialized behind the kernel's genl
 * mutex, and a virtio-net probe takes the RTNL: see docs/library.md §9.
 * Returns 0 or a negative errno (-ENOENT: vdpa or the driver not loaded).
 */
int vduse_vdpa_dev_add(const char *name, const char *driver);
/* `vdpa dev del NAME`: returns once the driver has let the device go. */
int vduse_vdpa_dev_del(const char *name);
/*
 * Does the vDPA device NAME exist? True until its driver has let it go:
 * during `vdpa dev del` the bus link goes before the driver's remove runs
 * (which resets the device: keep serving until this says false). Then
 * vduse_vdpa_dev_driver() returns 1 and the driver's name in @buf (@len
 * bytes) when bound, 0 (and "") when unbound, -ENOENT when not on the bus.
 */
bool vduse_vdpa_dev_exists(const char *name);
int vduse_vdpa_dev_driver(const char *name, char *buf, size_t len);

/*
 * Open or create the file @path (mode 0600, a regular file, not a symlink)
 * and map @size bytes of it shared into *@mem, for opts.inflight (or any
 * state that must outlive the daemon). @fresh empties it first (a new
 * device); otherwise its contents are kept (a restart). munmap() it.
 */
int vduse_inflight_open(const char *path, size_t size, bool fresh, void **mem);

/*
 * vduse_destroy_by_name(), retried while the kernel answers -EBUSY, for up
 * to @timeout_ms: right after `vdpa dev del` or a close the kernel may
 * still hold the device for a moment.
 */
int vduse_destroy_by_name_wait(const char *name, unsigned int timeout_ms);

/*
 * Write config space bytes and raise the config interrupt only while the
 * driver runs (DRIVER_OK seen): the kernel refuses the interrupt (EINVAL)
 * before DRIVER_OK, and records DRIVER_OK only once the answer to it has
 * arrived (a refusal then is retried for up to 50 ms); a driver reads the
 * config space when it starts. vduse_dev_update_config() always injects
 * (and fails then); use this one for changes that can happen at any time
 * (link status, MAC after a reset).
 */
int vduse_dev_set_config(struct vduse_dev *dev, uint32_t offset, const void *data, uint32_t len);

/* A queue's ring positions as the library sees them (size-versioned). */
struct vduse_vq_ring_state {
	uint16_t num;		/* ring size the driver set */
	uint16_t avail_idx;	/* split: the driver's avail index now; packed: = last_avail_idx */
	uint16_t last_avail_idx; /* the device's next avail position (packed: slot) */
	uint16_t used_idx;	/* the device's used index (packed: slot) */
	uint16_t avail;		/* buffers available and not popped yet */
	uint16_t resubmit;	/* from the in-flight log, not popped yet */
	uint8_t packed, avail_wrap, used_wrap, reserved;
};
/*
 * Fill @rs (@size = sizeof(*rs)). Returns 0; -EAGAIN (queue not started),
 * -EIO (broken) or -EPROTO (the driver's avail index is more than a ring
 * ahead) with the fields known so far. With VDUSE_DEV_F_THREADS it (and
 * the two below) takes the device lock, then the queue's, as the message
 * thread does: callable from any thread and from the device callbacks.
 */
int vduse_vq_get_ring_state(struct vduse_vq *vq, struct vduse_vq_ring_state *rs, size_t size);
/* Buffers the driver made available that the device has not popped, or -errno. */
int vduse_vq_avail_count(struct vduse_vq *vq);
/* Requests recovered from the in-flight log that vduse_vq_pop() still returns first. */
unsigned int vduse_vq_resubmit_count(const struct vduse_vq *vq);

#ifdef __cplusplus
}
#endif

#endif /* LIBVDUSE_H */
