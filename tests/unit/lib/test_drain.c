// SPDX-License-Identifier: GPL-2.0
/*
 * Deferred replies (libvduse 0.3): the drain callback may leave the answer
 * to SET_STATUS (stop), UPDATE_IOTLB and SET_VQ_GROUP_ASID pending until
 * vduse_dev_drain_done(). Checked against the fake kernel: no answer is
 * written while pending, the device can still push (stop: no new pops),
 * messages read meanwhile are answered in order afterwards (and may defer
 * in turn), results map to OK/FAILED, completion from inside the callback
 * and from another thread (VDUSE_DEV_F_THREADS); with threads, no queue pops
 * between the end of a STOP drain and its stop.
 */
#include "fake_kernel.h"
#include <poll.h>
#include <pthread.h>

static struct fake_kernel fk;
static struct fk_log lg;

static struct {
	int calls, resets, stops;
	struct vduse_drain last;
	int ret;		/* what the callback returns */
	bool done_inside;	/* call vduse_dev_drain_done() from the callback */
	int inside_result;
} dr;

static int cb_drain(struct vduse_dev *dev, const struct vduse_drain *d, void *u)
{
	dr.calls++;
	dr.last = *d;
	if (dr.done_inside)
		TAP_EQ(vduse_dev_drain_done(dev, dr.inside_result), 0,
		       "drain_done from inside the callback accepted");
	return dr.ret;
}

static void cb_reset(struct vduse_dev *d, void *u) { dr.resets++; }
static void cb_stopped(struct vduse_dev *d, void *u) { dr.stops++; }

/* Send a request without expecting an answer yet. */
static uint32_t send_req(struct vduse_dev *dev, struct vduse_dev_request *rq)
{
	rq->request_id = ++fk_req_id;
	if (write(fk.peer, rq, sizeof(*rq)) != sizeof(*rq))
		abort();
	TAP_EQ(vduse_dev_handle_msgs(dev), 1, "message read by handle_msgs");
	return rq->request_id;
}

static uint32_t send_status(struct vduse_dev *dev, uint8_t s)
{
	struct vduse_dev_request rq = { .type = VDUSE_SET_STATUS };

	rq.s.status = s;
	return send_req(dev, &rq);
}

static uint32_t send_iotlb(struct vduse_dev *dev, uint32_t asid, uint64_t start, uint64_t last)
{
	struct vduse_dev_request rq = { .type = VDUSE_UPDATE_IOTLB };

	rq.iova_v2.start = start;
	rq.iova_v2.last = last;
	rq.iova_v2.asid = asid;
	return send_req(dev, &rq);
}

/* The next answer, if one is there (-1 if none). */
static int answer(uint32_t *id)
{
	struct vduse_dev_response rs;

	if (recv(fk.peer, &rs, sizeof(rs), MSG_DONTWAIT) != sizeof(rs))
		return -1;
	*id = rs.request_id;
	return rs.result;
}

static uint16_t used_idx(struct fk_split *r)
{
	return __atomic_load_n(&fk_split_used(r)[1], __ATOMIC_ACQUIRE);
}

struct completer {
	struct vduse_dev *dev;
	struct vduse_req *req;
	int push_ret, done_ret;
};

/* Another thread finishes the I/O, pushes, and completes the drain. */
static void *complete_main(void *arg)
{
	struct completer *c = arg;

	usleep(20000);
	vduse_req_write(c->req, 0, "late", 4);
	c->push_ret = vduse_vq_push(c->req, 4);
	c->done_ret = vduse_dev_drain_done(c->dev, 0);
	return NULL;
}

static void run(bool threads)
{
	static const uint32_t groups[2] = { 0, 1 };
	LIBVDUSE_OPTS(vduse_dev_opts, o, .name = "drain", .device_id = 2, .num_queues = 2,
		      .queue_size = 8, .ngroups = 2, .nas = 2, .queue_group = groups,
		      .reset = cb_reset, .stopped = cb_stopped, .drain = cb_drain,
		      .log = fk_logger, .user = &lg, .log_level = VDUSE_LOG_DEBUG,
		      .flags = threads ? VDUSE_DEV_F_THREADS : 0);
	struct vduse_dev_request rq;
	struct vduse_dev_response rs;
	struct vduse_req *req, *req2;
	struct vduse_dev *dev;
	struct vduse_vq *vq;
	struct fk_split r;
	uint32_t id, id1, id2;
	int ret;

	tap_diag("---- %s", threads ? "VDUSE_DEV_F_THREADS" : "one thread");
	memset(&dr, 0, sizeof(dr));
	fk_init(&fk, 1);
	TAP_EQ(vduse__dev_create(&o, &fk_backend, &fk, &dev), 0, "create");
	if (!dev)
		return;
	vq = vduse_dev_vq(dev, 0);
	fk_map(&fk, 0, 0x100000, 0x10000, 0, VDUSE_ACCESS_RW);
	fk_map(&fk, 0, 0x200000, 0x10000, 0x100000, VDUSE_ACCESS_RW);
	fk_map(&fk, 1, 0x100000, 0x10000, 0x200000, VDUSE_ACCESS_RW);
	fk.features = (1ull << 32) | (1ull << 33);
	fk_split_init(&fk, &r, 0, 0, 0x100000, 8);
	fk.vqinfo[1].index = 1;
	TAP_EQ(vduse_dev_drain_done(dev, 0), -EINVAL, "drain_done without a pending drain: -EINVAL");
	TAP_EQ(fk_status(&fk, dev, 0x0f), VDUSE_REQ_RESULT_OK, "DRIVER_OK (no drain on start)");
	TAP_EQ(dr.calls, 0, "no drain callback for DRIVER_OK");

	/* ---- UPDATE_IOTLB with a request in flight in the range ---- */
	fk_set_desc(&fk_split_desc(&r)[0], 0x200000, 64, 2 /* WRITE */, 0);
	fk_set_desc(&fk_split_desc(&r)[1], 0x200100, 64, 2, 0);
	fk_split_publish(&r, 0);
	TAP_EQ(vduse_vq_pop(vq, &req), 1, "request popped (I/O in flight)");
	dr.ret = VDUSE_DRAIN_PENDING;
	id1 = send_iotlb(dev, 0, 0x200000, 0x20ffff);
	TAP_OK(dr.calls == 1 && dr.last.reason == VDUSE_DRAIN_IOTLB && dr.last.asid == 0 &&
	       dr.last.start == 0x200000 && dr.last.last == 0x20ffff,
	       "drain callback: IOTLB, ASID 0, the range", "calls %d reason %u asid %u",
	       dr.calls, dr.last.reason, dr.last.asid);
	TAP_EQ(answer(&id), -1, "no answer while the drain is pending");
	TAP_OK(vduse_dev_drain_pending(dev), "vduse_dev_drain_pending() says so", " ");
	/* the queue keeps running: new work translates through the new map */
	fk_split_publish(&r, 1);
	ret = vduse_vq_pop(vq, &req2);
	TAP_EQ(ret, 1, "IOTLB drain pending: the queue still pops");
	if (ret == 1)
		vduse_vq_push(req2, 0);
	/* a message arriving meanwhile is read (the fd goes quiet) and queued */
	memset(&rq, 0, sizeof(rq));
	rq.type = VDUSE_GET_VQ_STATE;
	id2 = send_req(dev, &rq);
	TAP_EQ(answer(&id), -1, "a later message waits behind the pending one");
	{
		struct pollfd p = { .fd = vduse_dev_fd(dev), .events = POLLIN };

		TAP_EQ(poll(&p, 1, 0), 0, "device fd not readable while the drain is pending");
	}
	vduse_req_write(req, 0, "done", 4);
	TAP_EQ(vduse_vq_push(req, 4), 0, "the drained request is pushed into the old mapping");
	TAP_EQ(memcmp(fk.mem + 0x100000, "done", 4), 0, "its data reached the old memory");
	TAP_EQ(used_idx(&r), 2, "both requests used");
	TAP_EQ(vduse_dev_drain_done(dev, -EIO), 0, "drain_done(-EIO)");
	TAP_EQ(answer(&id), VDUSE_REQ_RESULT_FAILED, "a failed drain answers FAILED");
	TAP_EQ(id, id1, "... for the UPDATE_IOTLB");
	TAP_EQ(answer(&id), VDUSE_REQ_RESULT_OK, "the queued message answered next");
	TAP_EQ(id, id2, "... in order");
	TAP_OK(!vduse_dev_drain_pending(dev), "nothing pending any more", " ");
	TAP_EQ(vduse_dev_drain_done(dev, 0), -EINVAL, "a second drain_done: -EINVAL");

	/* ---- completion from inside the callback ---- */
	dr.done_inside = true;
	dr.inside_result = 0;
	TAP_EQ(fk_iotlb(&fk, dev, 0, 0x200000, 0x20ffff), VDUSE_REQ_RESULT_OK,
	       "drain done inside the callback: answered at once");
	dr.done_inside = false;
	dr.ret = 0;
	TAP_EQ(fk_iotlb(&fk, dev, 0, 0x200000, 0x20ffff), VDUSE_REQ_RESULT_OK,
	       "callback returning 0: answered at once");
	dr.ret = -EBUSY;
	TAP_EQ(fk_iotlb(&fk, dev, 0, 0x200000, 0x20ffff), VDUSE_REQ_RESULT_FAILED,
	       "callback returning an errno: FAILED");

	/* ---- SET_VQ_GROUP_ASID ---- */
	dr.calls = 0;
	dr.ret = VDUSE_DRAIN_PENDING;
	memset(&rq, 0, sizeof(rq));
	rq.type = VDUSE_SET_VQ_GROUP_ASID;
	rq.vq_group_asid.group = 1;
	rq.vq_group_asid.asid = 0;
	TAP_EQ(fk_msg(&fk, dev, &rq, &rs), VDUSE_REQ_RESULT_OK,
	       "group to the ASID it is on: no drain, answered at once");
	TAP_EQ(dr.calls, 0, "no drain callback then");
	rq.vq_group_asid.asid = 1;
	id1 = send_req(dev, &rq);
	TAP_OK(dr.calls == 1 && dr.last.reason == VDUSE_DRAIN_GROUP && dr.last.group == 1 &&
	       dr.last.asid == 0, "drain callback: GROUP, group 1 leaving ASID 0", "reason %u",
	       dr.last.reason);
	TAP_EQ(vduse_dev_group_asid(dev, 1), 1, "the group is already rebound for new work");
	TAP_EQ(answer(&id), -1, "no answer while pending");
	/* a message queued behind it defers in turn */
	id2 = send_iotlb(dev, 1, 0x100000, 0x10ffff);
	TAP_EQ(dr.calls, 1, "the queued UPDATE_IOTLB is not handled yet");
	TAP_EQ(vduse_dev_drain_done(dev, 0), 0, "group drain done");
	TAP_OK(answer(&id) == VDUSE_REQ_RESULT_OK && id == id1, "group change answered OK", " ");
	TAP_OK(dr.calls == 2 && dr.last.reason == VDUSE_DRAIN_IOTLB && dr.last.asid == 1,
	       "then the queued UPDATE_IOTLB drains in turn", "calls %d", dr.calls);
	TAP_EQ(answer(&id), -1, "... and waits");
	TAP_EQ(vduse_dev_drain_done(dev, 0), 0, "second drain done");
	TAP_OK(answer(&id) == VDUSE_REQ_RESULT_OK && id == id2, "UPDATE_IOTLB answered", " ");

	/* ---- stop (reset) with a request in flight ---- */
	fk_set_desc(&fk_split_desc(&r)[2], 0x200200, 64, 2, 0);
	fk_split_publish(&r, 2);
	TAP_EQ(vduse_vq_pop(vq, &req), 1, "request popped before the reset");
	fk_split_publish(&r, 1);	/* offered, not yet popped */
	dr.calls = dr.stops = dr.resets = 0;
	id1 = send_status(dev, 0);
	TAP_OK(dr.stops == 1 && dr.calls == 1 && dr.last.reason == VDUSE_DRAIN_STOP &&
	       dr.last.status == 0 && dr.last.last == UINT64_MAX,
	       "stopped, then drain callback: STOP, status 0", "stops %d calls %d", dr.stops,
	       dr.calls);
	TAP_EQ(answer(&id), -1, "no answer to SET_STATUS 0 while pending");
	TAP_EQ(dr.resets, 0, "reset callback waits for the drain");
	TAP_OK(vduse_vq_started(vq), "queue still started (rings mapped) while draining", " ");
	TAP_EQ(vduse_vq_pop(vq, &req2), 0, "STOP drain pending: no new work popped");
	TAP_EQ(vduse_vq_enable_notify(vq), 0, "enable_notify reports nothing either");
	memset(&rq, 0, sizeof(rq));
	rq.type = VDUSE_GET_VQ_STATE;
	id2 = send_req(dev, &rq);
	if (threads) {
		struct completer c = { .dev = dev, .req = req };
		pthread_t t;

		pthread_create(&t, NULL, complete_main, &c);
		pthread_join(t, NULL);
		TAP_EQ(c.push_ret, 0, "another thread pushed the drained request");
		TAP_EQ(c.done_ret, 0, "... and completed the drain");
	} else {
		vduse_req_write(req, 0, "late", 4);
		TAP_EQ(vduse_vq_push(req, 4), 0, "the drained request is pushed before the answer");
		TAP_EQ(answer(&id), -1, "still no answer after the push");
		TAP_EQ(vduse_dev_drain_done(dev, 0), 0, "drain done");
	}
	TAP_EQ(used_idx(&r), 3, "its used element is in the ring");
	TAP_EQ(memcmp(fk.mem + 0x100200, "late", 4), 0, "its data is in memory");
	TAP_OK(answer(&id) == VDUSE_REQ_RESULT_OK && id == id1, "SET_STATUS 0 answered OK", " ");
	TAP_OK(answer(&id) == VDUSE_REQ_RESULT_OK && id == id2, "queued GET_VQ_STATE answered", " ");
	TAP_OK(!vduse_vq_started(vq) && dr.resets == 1 && vduse_dev_status(dev) == 0,
	       "after the drain: queues stopped, reset called, status 0", "resets %d",
	       dr.resets);

	/* a stop with nothing running does not ask to drain */
	dr.calls = 0;
	dr.resets = 0;
	TAP_EQ(fk_status(&fk, dev, 0), VDUSE_REQ_RESULT_OK, "reset of a stopped device");
	TAP_EQ(dr.calls, 0, "no drain callback for it");

	/* DRIVER_OK again; a stop whose drain fails still stops */
	TAP_EQ(fk_status(&fk, dev, 0x0f), VDUSE_REQ_RESULT_OK, "DRIVER_OK again");
	TAP_OK(vduse_vq_started(vq), "queue restarted", " ");
	dr.ret = VDUSE_DRAIN_PENDING;
	id1 = send_status(dev, 0x0b);
	TAP_EQ(dr.last.status, 0x0b, "DRIVER_OK cleared (not a reset): STOP drain with status");
	TAP_EQ(vduse_dev_drain_done(dev, -ETIMEDOUT), 0, "drain done with an error");
	TAP_OK(answer(&id) == VDUSE_REQ_RESULT_FAILED && id == id1, "answered FAILED", " ");
	TAP_OK(!vduse_vq_started(vq) && dr.resets == 1,
	       "queues stopped anyway; no reset callback (status not 0)", "resets %d",
	       dr.resets);
	vduse_dev_close(dev);
	fk_fini(&fk);
}

static void *drain_done_main(void *arg)
{
	return (void *)(intptr_t)vduse_dev_drain_done(arg, 0);
}

/*
 * VDUSE_DEV_F_THREADS: the end of a STOP drain stops the queues one after
 * the other, each under its lock. A queue not stopped yet must still find
 * nothing to pop: its buffers were offered during the drain, the device
 * said it was done, and the stop is being answered. Deterministic: the
 * test holds queue 0's lock, so the thread finishing the drain waits for
 * it (seen through msg_waiting) inside the stop, before it reaches queue 1;
 * queue 1 is popped then.
 */
static void stop_window(void)
{
	LIBVDUSE_OPTS(vduse_dev_opts, o, .name = "stopwin", .device_id = 2, .num_queues = 2,
		      .queue_size = 8, .drain = cb_drain, .log = fk_logger, .user = &lg,
		      .log_level = VDUSE_LOG_ERROR, .flags = VDUSE_DEV_F_THREADS);
	struct vduse_req *req = NULL;
	struct vduse_dev *dev;
	struct vduse_vq *vq0, *vq1;
	struct fk_split r0, r1;
	void *done_ret;
	pthread_t t;
	uint32_t id, id1;
	int i, ret;

	tap_diag("---- the end of a STOP drain (VDUSE_DEV_F_THREADS)");
	memset(&dr, 0, sizeof(dr));
	fk_init(&fk, 1);
	TAP_EQ(vduse__dev_create(&o, &fk_backend, &fk, &dev), 0, "create, 2 queues, threads");
	if (!dev)
		return;
	vq0 = vduse_dev_vq(dev, 0);
	vq1 = vduse_dev_vq(dev, 1);
	fk_map(&fk, 0, 0x100000, 0x10000, 0, VDUSE_ACCESS_RW);
	fk_map(&fk, 0, 0x200000, 0x10000, 0x100000, VDUSE_ACCESS_RW);
	fk.features = (1ull << 32) | (1ull << 33);
	fk_split_init(&fk, &r0, 0, 0, 0x100000, 8);
	fk_split_init(&fk, &r1, 1, 0, 0x108000, 8);
	for (i = 0; i < 8; i++)
		fk_set_desc(&fk_split_desc(&r1)[i], 0x200000 + 64 * i, 64, 2 /* WRITE */, 0);
	TAP_EQ(fk_status(&fk, dev, 0x0f), VDUSE_REQ_RESULT_OK, "DRIVER_OK");
	dr.ret = VDUSE_DRAIN_PENDING;
	id1 = send_status(dev, 0);
	TAP_OK(dr.calls == 1 && dr.last.reason == VDUSE_DRAIN_STOP, "STOP drain pending",
	       "calls %d", dr.calls);
	fk_split_publish(&r1, 0);	/* offered during the drain */
	TAP_EQ(vduse_vq_pop(vq1, &req), 0, "queue 1: nothing popped during the drain");

	vduse_vq_lock(vq0);
	pthread_create(&t, NULL, drain_done_main, dev);
	for (i = 0; i < 5000 && !__atomic_load_n(&vq0->msg_waiting, __ATOMIC_ACQUIRE); i++)
		usleep(1000);
	TAP_OK(__atomic_load_n(&vq0->msg_waiting, __ATOMIC_ACQUIRE),
	       "the drain's end waits for queue 0's lock", " ");
	TAP_OK(vduse_vq_started(vq1), "queue 1 not stopped yet", " ");
	ret = vduse_vq_pop(vq1, &req);
	vduse_vq_unlock(vq0);
	pthread_join(t, &done_ret);
	TAP_EQ(ret, 0, "queue 1: nothing popped between the drain's end and its stop");
	if (ret == 1)
		tap_diag("push of the request popped too late: %d", vduse_vq_push(req, 0));
	TAP_EQ((intptr_t)done_ret, 0, "drain done");
	TAP_OK(answer(&id) == VDUSE_REQ_RESULT_OK && id == id1, "SET_STATUS 0 answered OK", " ");
	TAP_OK(!vduse_vq_started(vq0) && !vduse_vq_started(vq1), "both queues stopped", " ");
	vduse_dev_close(dev);
	fk_fini(&fk);
}

int main(void)
{
	run(false);
	run(true);
	stop_window();
	return tap_done();
}
