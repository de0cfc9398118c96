// SPDX-License-Identifier: GPL-2.0
/*
 * libvduse message handling, one kernel request type at a time, through a
 * socketpair standing in for the device fd: GET_VQ_STATE, SET_STATUS
 * (start/stop, callbacks, kick fds), UPDATE_IOTLB (v1 per ASID, v0 range),
 * SET_VQ_GROUP_ASID (rebinding, refusal, bounds), the future types 4/5 and
 * unknown types (answered FAILED), queues enabled after DRIVER_OK and the
 * run_once loop.
 */
#include "fake_kernel.h"
#include <poll.h>
#include <linux/virtio_ring.h>

static struct fake_kernel fk;
static struct fk_log lg;

/*
 * Allocation failure injection (linked with -Wl,--wrap=calloc): with
 * fail_scratch set, the allocation of a queue's segment-region scratch
 * array (VDUSE_MAX_SEGS pointers) fails.
 */
void *__real_calloc(size_t n, size_t sz);
void *__wrap_calloc(size_t n, size_t sz);
static int fail_scratch;

void *__wrap_calloc(size_t n, size_t sz)
{
	if (fail_scratch && n == VDUSE_MAX_SEGS && sz == sizeof(struct vduse_region *))
		return NULL;
	return __real_calloc(n, sz);
}

static struct ev {
	int started, stopped, reset, ready[4], kicks[4], status_calls;
	int refuse_start, refuse_asid;
	uint32_t last_group, last_asid;
	uint8_t last_status;
	int iotlb_calls;
	uint32_t iotlb_asid;
	uint64_t iotlb_start, iotlb_last;
} ev;

static void cb_iotlb(struct vduse_dev *d, uint32_t asid, uint64_t start, uint64_t last, void *u)
{
	ev.iotlb_calls++;
	ev.iotlb_asid = asid;
	ev.iotlb_start = start;
	ev.iotlb_last = last;
}

static int cb_started(struct vduse_dev *d, void *u)
{
	ev.started++;
	return ev.refuse_start;
}
static struct vduse_req *held;	/* pushed by the stopped callback (drain) */
static int drain_ret = 1;

static void cb_stopped(struct vduse_dev *d, void *u)
{
	ev.stopped++;
	if (held) {
		drain_ret = vduse_vq_push(held, 7);
		held = NULL;
	}
}
static void cb_reset(struct vduse_dev *d, void *u) { ev.reset++; }
static void cb_ready(struct vduse_dev *d, struct vduse_vq *q, void *u)
{
	ev.ready[vduse_vq_index(q)]++;
}
static void cb_kick(struct vduse_dev *d, struct vduse_vq *q, void *u)
{
	ev.kicks[vduse_vq_index(q)]++;
}
static void cb_status(struct vduse_dev *d, uint8_t s, void *u)
{
	ev.status_calls++;
	ev.last_status = s;
}
static int cb_asid(struct vduse_dev *d, uint32_t g, uint32_t a, void *u)
{
	ev.last_group = g;
	ev.last_asid = a;
	return ev.refuse_asid;
}

static int send_type(struct vduse_dev *dev, uint32_t type, struct vduse_dev_response *rs)
{
	struct vduse_dev_request rq;

	memset(&rq, 0, sizeof(rq));
	rq.type = type;
	return fk_msg(&fk, dev, &rq, rs);
}

int main(void)
{
	static const uint32_t groups[3] = { 0, 0, 1 };
	LIBVDUSE_OPTS(vduse_dev_opts, o, .name = "msg", .device_id = 1, .num_queues = 3,
		      .queue_size = 8, .ngroups = 2, .nas = 2, .queue_group = groups,
		      .started = cb_started, .stopped = cb_stopped, .reset = cb_reset,
		      .queue_ready = cb_ready, .queue_kick = cb_kick, .status = cb_status,
		      .group_asid = cb_asid, .log = fk_logger, .user = &lg,
		      .log_level = VDUSE_LOG_DEBUG, .iotlb_update = cb_iotlb);
	struct vduse_dev_request rq;
	struct vduse_dev_response rs;
	struct vduse_dev *dev;
	struct fk_split r0, r2;
	struct vduse_req *req;
	struct vduse_vq *q2;
	unsigned int calls;
	int ret, i;

	fk_init(&fk, 1);
	TAP_EQ(vduse__dev_create(&o, &fk_backend, &fk, &dev), 0, "create v1 device, 2 groups, 2 ASes");
	if (!dev)
		return tap_done();
	TAP_OK(fk.vqcfg[2].group == 1 && fk.vqcfg[0].group == 0 && fk.cfg.ngroups == 2 &&
	       fk.cfg.nas == 2, "VQ_SETUP carried the queue groups", " ");
	q2 = vduse_dev_vq(dev, 2);

	/* ASID 0: the driver's memory; ASID 1: other memory at the same IOVAs */
	fk_map(&fk, 0, 0x100000, 0x100000, 0, VDUSE_ACCESS_RW);
	fk_map(&fk, 1, 0x100000, 0x100000, 0x400000, VDUSE_ACCESS_RW);
	fk.features = (1ull << 32) | (1ull << 33);

	/* unknown and future request types */
	TAP_EQ(send_type(dev, 99, &rs), VDUSE_REQ_RESULT_FAILED, "unknown type 99 answered FAILED");
	TAP_EQ(send_type(dev, 4, &rs), VDUSE_REQ_RESULT_FAILED,
	       "type 4 (future SET_VQ_READY, not negotiated) answered FAILED");
	TAP_EQ(send_type(dev, 5, &rs), VDUSE_REQ_RESULT_FAILED,
	       "type 5 (future SUSPEND, not negotiated) answered FAILED");
	TAP_OK(strstr(lg.last, "SUSPEND") != NULL, "refusal logged", "%s", lg.last);

	/* SET_VQ_GROUP_ASID before DRIVER_OK */
	TAP_EQ(fk_group_asid(&fk, dev, 1, 1), VDUSE_REQ_RESULT_OK, "group 1 -> ASID 1 accepted");
	TAP_OK(ev.last_group == 1 && ev.last_asid == 1, "group_asid callback saw (1, 1)", " ");
	TAP_EQ(vduse_dev_group_asid(dev, 1), 1, "group 1 now on ASID 1");
	TAP_EQ(vduse_vq_asid(q2), 1, "vq 2 (group 1) resolves through ASID 1");
	TAP_EQ(vduse_vq_asid(vduse_dev_vq(dev, 0)), 0, "vq 0 (group 0) still on ASID 0");
	TAP_EQ(fk_group_asid(&fk, dev, 2, 0), VDUSE_REQ_RESULT_FAILED, "group 2 of 2 refused");
	TAP_EQ(fk_group_asid(&fk, dev, 0, 2), VDUSE_REQ_RESULT_FAILED, "ASID 2 of 2 refused");
	ev.refuse_asid = -EBUSY;
	TAP_EQ(fk_group_asid(&fk, dev, 0, 1), VDUSE_REQ_RESULT_FAILED,
	       "group change refused by the device's callback answered FAILED");
	TAP_EQ(vduse_dev_group_asid(dev, 0), 0, "refused change left group 0 on ASID 0");
	ev.refuse_asid = 0;

	/* rings: vq 0 in ASID 0, vq 2 in ASID 1 at the same IOVA */
	fk_split_init(&fk, &r0, 0, 0, 0x100000, 8);
	fk_split_init(&fk, &r2, 2, 1, 0x100000, 8);
	fk.vqinfo[1].ready = 0;
	fk.vqinfo[1].index = 1;
	fk_set_desc(&fk_split_desc(&r0)[0], 0x180000, 4, 0, 0);
	fk_set_desc(&fk_split_desc(&r2)[0], 0x180000, 4, 0, 0);
	memcpy(fk_ptr(&fk, 0, 0x180000), "AS-0", 4);
	memcpy(fk_ptr(&fk, 1, 0x180000), "AS-1", 4);

	/* SET_STATUS DRIVER_OK */
	fail_scratch = 1;
	TAP_EQ(fk_status(&fk, dev, 0x0f), VDUSE_REQ_RESULT_FAILED,
	       "DRIVER_OK without memory for a queue's scratch answered FAILED");
	TAP_OK(!vduse_vq_started(vduse_dev_vq(dev, 0)) && !ev.started,
	       "queue not started without its scratch", " ");
	fail_scratch = 0;
	ev.refuse_start = -EIO;
	TAP_EQ(fk_status(&fk, dev, 0x0f), VDUSE_REQ_RESULT_FAILED,
	       "DRIVER_OK refused by the started callback answered FAILED");
	TAP_OK(!vduse_vq_started(vduse_dev_vq(dev, 0)), "refused start leaves queues stopped", " ");
	ev.refuse_start = 0;
	fk.fail_req = VDUSE_VQ_SETUP_KICKFD;
	fk.fail_errno = EINVAL;
	TAP_EQ(fk_status(&fk, dev, 0x0f), VDUSE_REQ_RESULT_FAILED,
	       "DRIVER_OK with a failing VQ_SETUP_KICKFD answered FAILED");
	TAP_OK(!vduse_vq_started(vduse_dev_vq(dev, 0)) && ev.started == 1,
	       "nothing half-started stays behind", " ");
	fk.fail_req = 0;
	ev.started = 0;
	TAP_EQ(fk_status(&fk, dev, 0x0f), VDUSE_REQ_RESULT_OK, "DRIVER_OK answered OK");
	TAP_OK(ev.started == 1 && ev.status_calls >= 2 && ev.last_status == 0x0f,
	       "started and status callbacks called", "started %d", ev.started);
	TAP_OK(ev.ready[0] == 1 && ev.ready[1] == 0 && ev.ready[2] == 1,
	       "queue_ready for the ready queues only", "%d %d %d", ev.ready[0], ev.ready[1],
	       ev.ready[2]);
	TAP_OK(fk.kickfd[0] == vduse_vq_kick_fd(vduse_dev_vq(dev, 0)) &&
	       fk.kickfd[1] == vduse_vq_kick_fd(vduse_dev_vq(dev, 1)) &&
	       fk.kickfd[2] == vduse_vq_kick_fd(q2), "kick fd set up for every queue", " ");
	TAP_EQ(vduse_dev_features(dev), fk.features, "negotiated features read at DRIVER_OK");

	fk_split_publish(&r0, 0);
	fk_split_publish(&r2, 0);
	ret = vduse_vq_pop(vduse_dev_vq(dev, 0), &req);
	TAP_OK(ret == 1 && !memcmp(req->iov[0].iov_base, "AS-0", 4),
	       "vq 0 translates its ring and buffer through ASID 0", "ret %d", ret);
	if (ret == 1)
		vduse_vq_push(req, 0);
	ret = vduse_vq_pop(q2, &req);
	TAP_OK(ret == 1 && !memcmp(req->iov[0].iov_base, "AS-1", 4),
	       "vq 2 translates its ring and buffer through ASID 1", "ret %d", ret);
	if (ret == 1)
		vduse_vq_push(req, 0);

	/* GET_VQ_STATE */
	memset(&rq, 0, sizeof(rq));
	rq.type = VDUSE_GET_VQ_STATE;
	rq.vq_state.index = 2;
	ret = fk_msg(&fk, dev, &rq, &rs);
	TAP_OK(ret == 0 && rs.vq_state.index == 2 && rs.vq_state.split.avail_index == 1,
	       "GET_VQ_STATE vq 2: avail index 1", "ret %d idx %u", ret, rs.vq_state.split.avail_index);
	rq.vq_state.index = 3;
	TAP_EQ(fk_msg(&fk, dev, &rq, &rs), VDUSE_REQ_RESULT_FAILED, "GET_VQ_STATE of vq 3 of 3 FAILED");

	/* UPDATE_IOTLB v2: only the named ASID */
	calls = fk.getfd_calls;
	TAP_EQ(fk_iotlb(&fk, dev, 1, 0, UINT64_MAX), VDUSE_REQ_RESULT_OK, "UPDATE_IOTLB ASID 1");
	TAP_OK(dev->as[1].nr == 0 && dev->as[0].nr > 0, "only ASID 1's cache was dropped",
	       "as0 %u as1 %u", dev->as[0].nr, dev->as[1].nr);
	fk_split_publish(&r0, 0);
	vduse_vq_pop(vduse_dev_vq(dev, 0), &req);
	vduse_vq_push(req, 0);
	TAP_EQ(fk.getfd_calls, calls, "vq 0 (ASID 0) needed no new lookup");
	fk_split_publish(&r2, 0);
	ret = vduse_vq_pop(q2, &req);
	TAP_OK(ret == 1 && fk.getfd_calls > calls && !memcmp(req->iov[0].iov_base, "AS-1", 4),
	       "vq 2 re-resolved its ring in ASID 1", "ret %d", ret);
	if (ret == 1)
		vduse_vq_push(req, 0);
	TAP_OK(ev.iotlb_calls == 1 && ev.iotlb_asid == 1 && ev.iotlb_start == 0 &&
	       ev.iotlb_last == UINT64_MAX, "iotlb_update callback told ASID 1, whole range",
	       "calls %d asid %u", ev.iotlb_calls, ev.iotlb_asid);
	TAP_EQ(fk_iotlb(&fk, dev, 2, 0, UINT64_MAX), VDUSE_REQ_RESULT_FAILED,
	       "UPDATE_IOTLB for ASID 2 of 2 FAILED");
	TAP_EQ(ev.iotlb_calls, 1, "no iotlb_update callback for a refused UPDATE_IOTLB");
	TAP_EQ(fk_iotlb(&fk, dev, 0, 10, 5), VDUSE_REQ_RESULT_FAILED,
	       "UPDATE_IOTLB with start > last FAILED");

	/* a queue enabled after DRIVER_OK, found through its kick */
	fk_split_init(&fk, &r0, 1, 0, 0x140000, 8);
	fk_set_desc(&fk_split_desc(&r0)[0], 0x180000, 4, 0, 0);
	fk_split_publish(&r0, 0);
	{
		uint64_t one = 1;

		if (write(vduse_vq_kick_fd(vduse_dev_vq(dev, 1)), &one, 8) != 8)
			abort();
	}
	ret = vduse_dev_run_once(dev, 1000);
	TAP_OK(ret == 1 && ev.ready[1] == 1 && ev.kicks[1] == 1 &&
	       vduse_vq_started(vduse_dev_vq(dev, 1)),
	       "kick on a queue enabled later: queue_ready then queue_kick", "ret %d", ret);
	ret = vduse_vq_pop(vduse_dev_vq(dev, 1), &req);
	TAP_EQ(ret, 1, "late queue pops");
	if (ret == 1)
		vduse_vq_push(req, 0);
	TAP_EQ(vduse_dev_run_once(dev, 10), 0, "run_once times out with nothing ready");

	/* messages through run_once */
	memset(&rq, 0, sizeof(rq));
	rq.type = 77;
	rq.request_id = 4242;
	if (write(fk.peer, &rq, sizeof(rq)) != sizeof(rq))
		abort();
	ret = vduse_dev_run_once(dev, 1000);
	TAP_OK(ret == 1 && read(fk.peer, &rs, sizeof(rs)) == sizeof(rs) && rs.request_id == 4242 &&
	       rs.result == VDUSE_REQ_RESULT_FAILED, "run_once answers a pending message", "ret %d", ret);

	/* reset: queues stop, bindings survive; a held request is drained */
	fk_split_publish(&r2, 0);
	TAP_EQ(vduse_vq_pop(q2, &held), 1, "request held across the reset");
	ev.stopped = ev.reset = 0;
	TAP_EQ(fk_status(&fk, dev, 0), VDUSE_REQ_RESULT_OK, "SET_STATUS 0 answered OK");
	TAP_OK(ev.stopped == 1 && ev.reset == 1, "stopped and reset callbacks", "%d %d",
	       ev.stopped, ev.reset);
	{
		uint16_t *u = fk_split_used(&r2);

		TAP_OK(drain_ret == 0 && u[1] == 3,
		       "request pushed from the stopped callback reached the used ring",
		       "ret %d used idx %u", drain_ret, u[1]);
	}
	for (i = 0, ret = 0; i < 3; i++)
		ret |= vduse_vq_started(vduse_dev_vq(dev, i));
	TAP_OK(!ret, "every queue stopped", " ");
	TAP_EQ(vduse_dev_group_asid(dev, 1), 1, "group 1 stays on ASID 1 across reset");
	TAP_EQ(vduse_vq_pop(q2, &req), 0, "stopped queue pops nothing");

	/* DRIVER_OK cleared without a reset (e.g. FAILED status) also stops */
	fk_status(&fk, dev, 0x0f);
	ev.stopped = 0;
	fk_status(&fk, dev, 0x80 | 0x0b);
	TAP_OK(ev.stopped == 1 && !vduse_vq_started(q2), "status without DRIVER_OK stops the data path",
	       " ");

	/* a queue that starts broken is not announced as ready */
	fk_status(&fk, dev, 0);
	fk.vqinfo[2].num = 6;	/* split rings are powers of two */
	ev.ready[0] = ev.ready[2] = 0;
	fk_status(&fk, dev, 0x0f);
	TAP_OK(vduse_vq_broken(q2) && ev.ready[2] == 0 && ev.ready[0] == 1,
	       "no queue_ready for a queue that started broken", "broken %d ready %d",
	       vduse_vq_broken(q2), ev.ready[2]);
	fk.vqinfo[2].num = 8;
	fk_status(&fk, dev, 0);

	/* many messages queued at once are all answered */
	for (i = 0; i < 5; i++) {
		memset(&rq, 0, sizeof(rq));
		rq.type = VDUSE_GET_VQ_STATE;
		rq.request_id = 100 + i;
		if (write(fk.peer, &rq, sizeof(rq)) != sizeof(rq))
			abort();
	}
	TAP_EQ(vduse_dev_handle_msgs(dev), 5, "five queued messages handled in one call");
	for (i = 0, ret = 0; i < 5; i++)
		ret += read(fk.peer, &rs, sizeof(rs)) == sizeof(rs) && rs.request_id == 100u + i;
	TAP_EQ(ret, 5, "five answers in order");
	TAP_EQ(vduse_dev_handle_msgs(dev), 0, "nothing left: handle_msgs returns 0 without blocking");
	vduse_dev_destroy(dev);
	fk_fini(&fk);

	/* v0 device: UPDATE_IOTLB uses the v0 range, SET_VQ_GROUP_ASID is refused */
	fk_init(&fk, 0);
	o.ngroups = o.nas = 0;
	o.queue_group = NULL;
	TAP_EQ(vduse__dev_create(&o, &fk_backend, &fk, &dev), 0, "create v0 device");
	if (!dev)
		return tap_done();
	fk_map(&fk, 0, 0x100000, 0x1000, 0, VDUSE_ACCESS_RW);
	fk_map(&fk, 0, 0x200000, 0x1000, 0x1000, VDUSE_ACCESS_RW);
	vduse_iotlb_lookup(dev, 0, 0x100000);
	vduse_iotlb_lookup(dev, 0, 0x200000);
	memset(&rq, 0, sizeof(rq));
	rq.type = VDUSE_UPDATE_IOTLB;
	rq.iova.start = 0x200000;
	rq.iova.last = 0x200fff;
	rq.iova_v2.asid = 7;	/* beyond the v0 payload: ignored */
	TAP_EQ(fk_msg(&fk, dev, &rq, &rs), VDUSE_REQ_RESULT_OK, "v0 UPDATE_IOTLB answered OK");
	TAP_OK(dev->as[0].nr == 1 && dev->as[0].reg[0]->start == 0x100000,
	       "v0 UPDATE_IOTLB dropped exactly its range", "nr %u", dev->as[0].nr);
	TAP_EQ(fk_group_asid(&fk, dev, 0, 0), VDUSE_REQ_RESULT_FAILED,
	       "SET_VQ_GROUP_ASID on a v0 device FAILED");
	vduse_dev_destroy(dev);
	fk_fini(&fk);
	return tap_done();
}
