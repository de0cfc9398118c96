// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The message loop: read each kernel request from the device fd, handle it
 * at once, write the answer. The kernel waits synchronously for every
 * answer (msg_timeout, 30 s by default, then the device is broken for good),
 * so nothing here waits for device I/O. Unknown request types are answered
 * FAILED so a newer kernel never stalls on us.
 */
#include <errno.h>
#include <sys/epoll.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <linux/virtio_config.h>
#include "internal.h"

/* Request types queued upstream after 7.0 (vduse-v1.md §7; unconfirmed). */
#define VDUSE_REQ_SET_VQ_READY	4
#define VDUSE_REQ_SUSPEND	5

void vduse_dev_stop_queues(struct vduse_dev *dev)
{
	uint32_t i;

	for (i = 0; i < dev->nvqs; i++) {
		vduse_vq_lock_msg(&dev->vqs[i]);
		if (dev->vqs[i].started)
			vduse_vq_stop(&dev->vqs[i]);
		vduse_vq_unlock(&dev->vqs[i]);
	}
}

/*
 * Every queue thread is outside the library or will see what the message
 * thread changed before this call: its queue lock is taken and released.
 */
static void vq_barrier(struct vduse_dev *dev)
{
	uint32_t i;

	for (i = 0; dev->threaded && i < dev->nvqs; i++) {
		vduse_vq_lock_msg(&dev->vqs[i]);
		vduse_vq_unlock(&dev->vqs[i]);
	}
}

/* A queue's started && !broken, read under its lock. */
static bool vq_ready(struct vduse_vq *vq)
{
	bool r;

	vduse_vq_lock_msg(vq);
	r = vq->started && !vq->broken;
	vduse_vq_unlock(vq);
	return r;
}

static int dev_start(struct vduse_dev *dev)
{
	struct vduse_vq_eventfd ev;
	struct vduse_vq_info info;
	uint32_t i;
	int err;

	if (vd_ioctl(dev, VDUSE_DEV_GET_FEATURES, &dev->features) < 0) {
		vd_err(dev, "DEV_GET_FEATURES: %s", strerror(errno));
		return -errno;
	}
	for (i = 0; i < dev->nvqs; i++) {
		struct vduse_vq *vq = &dev->vqs[i];

		/* every queue gets its kick fd: one enabled later kicks it too */
		ev.index = i;
		ev.fd = vq->kickfd;
		if (vd_ioctl(dev, VDUSE_VQ_SETUP_KICKFD, &ev) < 0) {
			vd_err(dev, "VQ_SETUP_KICKFD(%u): %s", i, strerror(errno));
			return -errno;
		}
		memset(&info, 0, sizeof(info));
		info.index = i;
		if (vd_ioctl(dev, VDUSE_VQ_GET_INFO, &info) < 0) {
			vd_err(dev, "VQ_GET_INFO(%u): %s", i, strerror(errno));
			return -errno;
		}
		if (info.ready) {
			vduse_vq_lock_msg(vq);
			err = vduse_vq_start(vq, &info);
			vduse_vq_unlock(vq);
			if (err == -ENOMEM)
				return -ENOMEM;
		}
		/* a queue with a bad ring is broken, not fatal for the device */
	}
	dev->running = true;
	if (dev->o.started) {
		err = dev->o.started(dev, dev->o.user);

		if (err) {
			vd_warn(dev, "device refused DRIVER_OK (%d)", err);
			dev->running = false;
			vduse_dev_stop_queues(dev);
			return err < 0 ? err : -EIO;
		}
	}
	for (i = 0; i < dev->nvqs && dev->o.queue_ready; i++)
		if (vq_ready(&dev->vqs[i]))
			dev->o.queue_ready(dev, &dev->vqs[i], dev->o.user);
	return 0;
}

/*
 * Ask the device to drain. Returns 0 or a negative errno (the answer), or
 * -EINPROGRESS when the device will call vduse_dev_drain_done() later.
 */
static int drain(struct vduse_dev *dev, const struct vduse_drain *d)
{
	int ret;

	if (!dev->o.drain)
		return 0;
	dev->drain_state = DRAIN_CALLING;
	ret = dev->o.drain(dev, d, dev->o.user);
	if (ret == VDUSE_DRAIN_PENDING && dev->drain_state == DRAIN_CALLING) {
		dev->drain_state = DRAIN_WAITING;
		vd_dbg(dev, "drain (reason %u) pending", d->reason);
		return -EINPROGRESS;
	}
	if (ret == VDUSE_DRAIN_PENDING)		/* done from inside the callback */
		ret = dev->drain_result;
	dev->drain_state = DRAIN_IDLE;
	if (ret > 0) {
		vd_warn(dev, "drain callback returned %d; answered FAILED", ret);
		ret = -EINVAL;
	}
	return ret;
}

/* The second half of SET_STATUS, once the drain (if any) is over. */
static int status_finish(struct vduse_dev *dev, uint8_t status, int ret)
{
	if (!(status & VIRTIO_CONFIG_S_DRIVER_OK) && dev->running) {
		dev->running = false;
		vduse_dev_stop_queues(dev);
		/*
		 * Only now: a queue thread whose queue is not stopped yet must
		 * keep finding nothing to pop (a stopped one returns 0 anyway).
		 */
		__atomic_store_n(&dev->stopping, false, __ATOMIC_RELAXED);
	}
	if (status == 0) {
		uint32_t i;

		/*
		 * Group bindings are the kernel's to change: our module returns
		 * groups to ASID 0 with SET_VQ_GROUP_ASID(g, 0) after this
		 * message, upstream 7.x keeps them and says nothing
		 * (docs/uapi.md §f). Either way the view stays right by
		 * following the messages only.
		 */
		for (i = 0; i < dev->nvqs; i++) {
			vduse_vq_lock_msg(&dev->vqs[i]);
			dev->vqs[i].broken = false;
			vduse_inflight_reset(&dev->vqs[i]);
			vduse_vq_unlock(&dev->vqs[i]);
		}
		/*
		 * The kernel virtio path frees its rings after a reset and the
		 * next driver gets their IOVAs again with other pages, and no
		 * UPDATE_IOTLB says so: a mapping kept across shows the freed
		 * ring (stock 6.12 and 7.x keep the page mapped; our module
		 * zaps it). Drop them all; the next use resolves again.
		 */
		for (i = 0; i < dev->nas; i++)
			vduse_dev_invalidate(dev, i, 0, UINT64_MAX);
		dev->features = 0;
		if (dev->o.reset)
			dev->o.reset(dev, dev->o.user);
	}
	/* a stop happened whatever the drain said; a refused start did not */
	if (!ret || !(status & VIRTIO_CONFIG_S_DRIVER_OK))
		dev->status = status;
	return ret;
}

static int handle_status(struct vduse_dev *dev, uint8_t status)
{
	int ret = 0;

	vd_dbg(dev, "SET_STATUS %#x", status);
	if (dev->o.status)
		dev->o.status(dev, status, dev->o.user);
	if (status & VIRTIO_CONFIG_S_DRIVER_OK) {
		if (!dev->running) {
			ret = dev_start(dev);
			if (ret)	/* nothing half-started stays behind */
				vduse_dev_stop_queues(dev);
		}
	} else if (dev->running) {
		struct vduse_drain d = { .reason = VDUSE_DRAIN_STOP, .last = UINT64_MAX,
					 .status = status };

		/*
		 * The callbacks run while the rings are still mapped: a device
		 * that drains (pushes what it holds) here has those buffers used
		 * before the driver's reset completes, which consumers without
		 * SUSPEND rely on to read the ring position
		 * (vhost-vdpa-cvq.md §6.1).
		 */
		/* pops in progress end first; later ones find nothing */
		__atomic_store_n(&dev->stopping, true, __ATOMIC_RELAXED);
		vq_barrier(dev);
		if (dev->o.stopped)
			dev->o.stopped(dev, dev->o.user);
		ret = drain(dev, &d);
		if (ret == -EINPROGRESS)
			return ret;
	}
	return status_finish(dev, status, ret);
}

static int handle_vq_state(struct vduse_dev *dev, const struct vduse_dev_request *req,
			   struct vduse_dev_response *resp)
{
	uint32_t idx = req->vq_state.index;
	struct vduse_vq *vq;

	if (idx >= dev->nvqs) {
		vd_warn(dev, "GET_VQ_STATE for vq %u of %u", idx, dev->nvqs);
		return -EINVAL;
	}
	vq = &dev->vqs[idx];
	resp->vq_state.index = idx;
	vduse_vq_lock_msg(vq);
	if (vq->packed) {
		resp->vq_state.packed.last_avail_counter = vq->avail_wrap;
		resp->vq_state.packed.last_avail_idx = vq->last_avail_idx;
		resp->vq_state.packed.last_used_counter = vq->used_wrap;
		resp->vq_state.packed.last_used_idx = vq->used_idx;
	} else {
		resp->vq_state.split.avail_index = vq->last_avail_idx;
	}
	vduse_vq_unlock(vq);
	return 0;
}

static int handle_update_iotlb(struct vduse_dev *dev, const struct vduse_dev_request *req)
{
	/* iova_v2 starts with the same {start, last} as iova */
	uint64_t start = req->iova.start, last = req->iova.last;
	uint32_t asid = dev->api >= 1 ? req->iova_v2.asid : 0;

	vd_dbg(dev, "UPDATE_IOTLB ASID %u [%#llx, %#llx]", asid,
	       (unsigned long long)start, (unsigned long long)last);
	if (asid >= dev->nas) {
		vd_warn(dev, "UPDATE_IOTLB for ASID %u of %u", asid, dev->nas);
		return -EINVAL;
	}
	if (start > last) {
		vd_warn(dev, "UPDATE_IOTLB with start %#llx > last %#llx",
			(unsigned long long)start, (unsigned long long)last);
		return -EINVAL;
	}
	/* Queues using that AS remap their rings lazily (as->gen moves). */
	vduse_dev_invalidate(dev, asid, start, last);
	if (dev->o.iotlb_update)
		dev->o.iotlb_update(dev, asid, start, last, dev->o.user);
	return drain(dev, &(struct vduse_drain){ .reason = VDUSE_DRAIN_IOTLB, .asid = asid,
						 .start = start, .last = last });
}

static int handle_group_asid(struct vduse_dev *dev, const struct vduse_dev_request *req)
{
	uint32_t group = req->vq_group_asid.group, asid = req->vq_group_asid.asid, old;
	int err;

	vd_dbg(dev, "SET_VQ_GROUP_ASID group %u -> ASID %u", group, asid);
	if (dev->api < 1 || group >= dev->ngroups || asid >= dev->nas) {
		vd_warn(dev, "SET_VQ_GROUP_ASID group %u ASID %u refused (%u groups, %u ASes, API v%d)",
			group, asid, dev->ngroups, dev->nas, dev->api);
		return -EINVAL;
	}
	if (dev->o.group_asid) {
		err = dev->o.group_asid(dev, group, asid, dev->o.user);
		if (err) {
			vd_info(dev, "device refused group %u -> ASID %u (%d)", group, asid, err);
			return err < 0 ? err : -EPERM;
		}
	}
	/* queues of the group see the new AS at their next ring access */
	old = dev->group_as[group];
	dev->group_as[group] = asid;
	vduse_dev_group_moved(dev, group);
	vduse_inflight_group(dev, group, asid);
	if (old == asid)
		return 0;
	return drain(dev, &(struct vduse_drain){ .reason = VDUSE_DRAIN_GROUP, .asid = old,
						 .last = UINT64_MAX, .group = group });
}

/*
 * Hooks for requests queued upstream after 7.0 (vduse-v1.md §7). They are
 * only sent after the device negotiates VDUSE_F_QUEUE_READY / VDUSE_F_SUSPEND
 * on the control fd, which this version does not do, so they are refused
 * like any unknown request. Their handlers belong here once the UAPI lands.
 */
static int handle_vq_ready(struct vduse_dev *dev, const struct vduse_dev_request *req)
{
	vd_warn(dev, "SET_VQ_READY request without VDUSE_F_QUEUE_READY; refused");
	return -EOPNOTSUPP;
}

static int handle_suspend(struct vduse_dev *dev, const struct vduse_dev_request *req)
{
	vd_warn(dev, "SUSPEND request without VDUSE_F_SUSPEND; refused");
	return -EOPNOTSUPP;
}

int vduse_msg_handle(struct vduse_dev *dev, const struct vduse_dev_request *req,
		     struct vduse_dev_response *resp)
{
	int err;

	memset(resp, 0, sizeof(*resp));
	resp->request_id = req->request_id;
	switch (req->type) {
	case VDUSE_GET_VQ_STATE:
		err = handle_vq_state(dev, req, resp);
		break;
	case VDUSE_SET_STATUS:
		err = handle_status(dev, req->s.status);
		break;
	case VDUSE_UPDATE_IOTLB:
		err = handle_update_iotlb(dev, req);
		break;
	case VDUSE_SET_VQ_GROUP_ASID:
		err = handle_group_asid(dev, req);
		break;
	case VDUSE_REQ_SET_VQ_READY:
		err = handle_vq_ready(dev, req);
		break;
	case VDUSE_REQ_SUSPEND:
		err = handle_suspend(dev, req);
		break;
	default:
		vd_warn(dev, "unknown request type %u; answered FAILED", req->type);
		err = -EOPNOTSUPP;
	}
	resp->result = err ? VDUSE_REQ_RESULT_FAILED : VDUSE_REQ_RESULT_OK;
	return err;
}

/* Write one answer; 0, or a negative errno if the channel is gone. */
static int msg_reply(struct vduse_dev *dev, const struct vduse_dev_response *resp)
{
	ssize_t n;

	do {
		n = write(dev->fd, resp, sizeof(*resp));
	} while (n < 0 && errno == EINTR);
	if (n < 0 && errno == ENOENT) {
		/* the kernel gave up on this request (timeout) */
		vd_warn(dev, "request %u expired before its answer", resp->request_id);
		return 0;
	}
	if (n != sizeof(*resp)) {
		vd_err(dev, "writing a response: %s", n < 0 ? strerror(errno) : "short");
		return n < 0 ? -errno : -EIO;
	}
	return 0;
}

/*
 * Handle and answer one message, unless its drain is left pending: then
 * it is kept, and answered by vduse_dev_drain_done(). Under the lock.
 */
static int msg_one(struct vduse_dev *dev, const struct vduse_dev_request *req)
{
	struct vduse_dev_response resp;

	if (vduse_msg_handle(dev, req, &resp) == -EINPROGRESS) {
		dev->pending = *req;
		return 0;
	}
	return msg_reply(dev, &resp);
}

/* Queue a message read while a drain is pending. Under the lock. */
static int backlog_add(struct vduse_dev *dev, const struct vduse_dev_request *req)
{
	if (dev->nbacklog == dev->backlog_cap) {
		unsigned int cap = dev->backlog_cap ? dev->backlog_cap * 2 : 8;
		struct vduse_dev_request *n = realloc(dev->backlog, cap * sizeof(*n));

		if (!n)
			return -ENOMEM;
		dev->backlog = n;
		dev->backlog_cap = cap;
	}
	dev->backlog[dev->nbacklog++] = *req;
	return 0;
}

void vduse_dev_free_backlog(struct vduse_dev *dev)
{
	free(dev->backlog);
	dev->backlog = NULL;
	dev->nbacklog = dev->backlog_cap = 0;
}

EXPORT int vduse_dev_handle_msgs(struct vduse_dev *dev)
{
	struct vduse_dev_request req;
	int handled = 0, err;

	for (;;) {
		ssize_t n = read(dev->fd, &req, sizeof(req));

		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN)
				return handled;
			vd_err(dev, "reading a request: %s", strerror(errno));
			return -errno;
		}
		if (n == 0)
			return handled;
		if (n != sizeof(req)) {
			vd_err(dev, "short request (%zd bytes)", n);
			return -EIO;
		}
		vduse_lock(dev);
		if (dev->drain_state == DRAIN_WAITING) {
			/* in order, after the pending one: read now so the fd goes quiet */
			err = backlog_add(dev, &req);
			if (err) {
				struct vduse_dev_response resp = { .request_id = req.request_id,
								   .result = VDUSE_REQ_RESULT_FAILED };

				vd_err(dev, "no memory to queue request %u; answered FAILED",
				       req.request_id);
				err = msg_reply(dev, &resp);
			}
		} else {
			err = msg_one(dev, &req);
		}
		vduse_unlock(dev);
		if (err)
			return err;
		handled++;
	}
}

/* The second half of a message whose drain was pending. */
static int msg_finish(struct vduse_dev *dev, const struct vduse_dev_request *req, int result)
{
	if (req->type == VDUSE_SET_STATUS)
		return status_finish(dev, req->s.status, result);
	return result;
}

EXPORT int vduse_dev_drain_done(struct vduse_dev *dev, int result)
{
	struct vduse_dev_response resp;
	int err;

	if (!dev)
		return -EINVAL;
	if (result > 0)
		result = -EINVAL;
	vduse_lock(dev);
	if (dev->drain_state == DRAIN_CALLING) {
		/* from inside the callback: it returns VDUSE_DRAIN_PENDING next */
		dev->drain_state = DRAIN_EARLY;
		dev->drain_result = result;
		vduse_unlock(dev);
		return 0;
	}
	if (dev->drain_state != DRAIN_WAITING) {
		vduse_unlock(dev);
		return -EINVAL;
	}
	dev->drain_state = DRAIN_IDLE;
	vd_dbg(dev, "drain of request %u done (%d)", dev->pending.request_id, result);
	memset(&resp, 0, sizeof(resp));
	resp.request_id = dev->pending.request_id;
	resp.result = msg_finish(dev, &dev->pending, result) ? VDUSE_REQ_RESULT_FAILED
							       : VDUSE_REQ_RESULT_OK;
	err = msg_reply(dev, &resp);
	/* what queued up meanwhile, in order, until one drains again */
	while (!err && dev->nbacklog && dev->drain_state == DRAIN_IDLE) {
		struct vduse_dev_request req = dev->backlog[0];

		memmove(dev->backlog, dev->backlog + 1, --dev->nbacklog * sizeof(req));
		err = msg_one(dev, &req);
	}
	vduse_unlock(dev);
	return err;
}

EXPORT bool vduse_dev_drain_pending(const struct vduse_dev *dev)
{
	bool p;

	vduse_lock((struct vduse_dev *)dev);
	p = dev->drain_state == DRAIN_WAITING;
	vduse_unlock((struct vduse_dev *)dev);
	return p;
}

#define RUN_EVENTS	64
#define MSG_EVENT	UINT32_MAX

/* The epoll set of vduse_dev_run_once(): the device fd and every kick fd. */
int vduse_dev_epoll_setup(struct vduse_dev *dev)
{
	struct epoll_event ev = { .events = EPOLLIN };
	uint32_t i;

	dev->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (dev->epfd < 0)
		return -errno;
	ev.data.u32 = MSG_EVENT;
	if (epoll_ctl(dev->epfd, EPOLL_CTL_ADD, dev->fd, &ev))
		return -errno;
	for (i = 0; i < dev->nvqs; i++) {
		ev.data.u32 = i;
		if (epoll_ctl(dev->epfd, EPOLL_CTL_ADD, dev->vqs[i].kickfd, &ev))
			return -errno;
	}
	return 0;
}

HOT_PATH EXPORT int vduse_dev_run_once(struct vduse_dev *dev, int timeout_ms)
{
	struct epoll_event ev[RUN_EVENTS];
	int n, i, events = 0, err;

	n = epoll_wait(dev->epfd, ev, RUN_EVENTS, timeout_ms);
	if (n <= 0)
		return n < 0 && errno != EINTR ? -errno : 0;
	/* messages first: a reset or an IOTLB change applies before the kicks */
	for (i = 0; i < n; i++) {
		if (ev[i].data.u32 != MSG_EVENT)
			continue;
		if (ev[i].events & EPOLLERR) {
			vd_err(dev, "device is broken (a message timed out)");
			return -EIO;
		}
		err = vduse_dev_handle_msgs(dev);
		if (err < 0)
			return err;
		events += err;
	}
	for (i = 0; i < n; i++) {
		struct vduse_vq *vq;

		if (ev[i].data.u32 == MSG_EVENT || ev[i].data.u32 >= dev->nvqs)
			continue;
		vq = &dev->vqs[ev[i].data.u32];
		vduse_vq_ack_kick(vq);
		events++;
		if (dev->o.queue_kick && vduse_vq_is_started(vq))
			dev->o.queue_kick(dev, vq, dev->o.user);
	}
	return events;
}
