// SPDX-License-Identifier: GPL-2.0
/*
 * libvduse split virtqueue: chains as iovecs (readable then writable),
 * indirect tables, used ring, interrupt suppression (flags, event index),
 * every kind of malformed chain (the queue is marked broken, never a crash
 * or a read outside a mapping), reset, stale pushes and lazy ring remapping
 * after an IOTLB update.
 */
#include "fake_kernel.h"

#define RING	0x100000ull
#define BUF	0x200000ull

#include <linux/virtio_ring.h>

static struct fake_kernel fk;
static struct fk_log lg;
static struct vduse_dev *dev;
static struct vduse_vq *vq;
static struct fk_split r;

static uint64_t feat(bool indirect, bool event_idx)
{
	return (1ull << 32) | (1ull << 33) | (indirect ? 1ull << 28 : 0) |
	       (event_idx ? 1ull << 29 : 0);
}

/* Reset the device and start it again with a fresh ring. */
static void restart(uint64_t features)
{
	fk_status(&fk, dev, 0);
	fk.features = features;
	fk_split_init(&fk, &r, 0, 0, RING, 8);
	memset(fk_ptr(&fk, 0, BUF), 0, 0x10000);
	fk_status(&fk, dev, 0x0f);
}

static int pop(struct vduse_req **req)
{
	return vduse_vq_pop(vq, req);
}

/* Publish a one-off chain in slots from 0 and expect the queue to break. */
static void expect_broken(const char *name, const char *why)
{
	struct vduse_req *req = NULL;
	int ret = pop(&req);

	TAP_OK(ret == -EIO && !req && vduse_vq_broken(vq) && strstr(lg.last, why) &&
	       vduse_vq_broken_reason(vq) && strstr(vduse_vq_broken_reason(vq), why),
	       name, "ret %d broken %d log '%s'", ret, vduse_vq_broken(vq), lg.last);
	ret = pop(&req);
	TAP_OK(ret == -EIO, "broken queue stays broken", "ret %d", ret);
	lg.last[0] = 0;
}

int main(void)
{
	LIBVDUSE_OPTS(vduse_dev_opts, o, .name = "split", .device_id = 2, .num_queues = 2,
		      .queue_size = 8, .log = fk_logger, .user = &lg, .log_level = VDUSE_LOG_WARN);
	struct fk_desc *d, *ind;
	struct vduse_req *req, *req2;
	uint16_t *used;
	uint8_t *buf;
	int ret;

	if (fk_dev_setup(&fk, &o, "create", &dev, &vq))
		return tap_done();
	fk_map(&fk, 0, RING, 0x100000, 0, VDUSE_ACCESS_RW);
	fk_map(&fk, 0, BUF, 0x10000, 0x100000, VDUSE_ACCESS_RW);
	fk_map(&fk, 0, BUF + 0x10000, 0x10000, 0x800000, VDUSE_ACCESS_RW);	/* adjacent */
	fk_map(&fk, 0, 0x400000, 0x1000, 0x900000, VDUSE_ACCESS_RO);
	restart(feat(true, false));
	TAP_OK(vduse_vq_started(vq) && !vduse_vq_packed(vq) && vduse_vq_size(vq) == 8,
	       "queue started at DRIVER_OK", " ");
	TAP_EQ(pop(&req), 0, "empty queue pops nothing");

	/* readable header, writable data + status */
	d = fk_split_desc(&r);
	buf = fk_ptr(&fk, 0, BUF);
	memcpy(buf, "HEADER!!", 8);
	fk_set_desc(&d[3], BUF, 8, F_N, 5);
	fk_set_desc(&d[5], BUF + 0x100, 512, F_N | F_W, 1);
	fk_set_desc(&d[1], BUF + 0x400, 1, F_W, 0);
	fk_split_publish(&r, 3);
	ret = pop(&req);
	TAP_OK(ret == 1 && req && req->id == 3 && req->nr_readable == 1 && req->nr_writable == 2 &&
	       req->readable_len == 8 && req->writable_len == 513 &&
	       !memcmp(req->iov[0].iov_base, "HEADER!!", 8) && req->iov[2].iov_len == 1,
	       "chain popped as readable then writable iovecs", "ret %d", ret);
	if (ret != 1)
		return tap_done();
	TAP_EQ(vduse_vq_inflight(vq), 1, "one request in flight");
	{
		char hdr[8];

		TAP_OK(vduse_req_read(req, 0, hdr, 8) == 8 && !memcmp(hdr, "HEADER!!", 8),
		       "vduse_req_read", " ");
		TAP_EQ(vduse_req_write(req, 510, "abc", 3), 3, "vduse_req_write across iovecs");
		TAP_OK(buf[0x100 + 510] == 'a' && buf[0x100 + 511] == 'b' && buf[0x400] == 'c',
		       "written bytes land in guest memory", " ");
	}
	TAP_EQ(vduse_vq_push(req, 513), 0, "push");
	used = fk_split_used(&r);
	TAP_OK(used[1] == 1 && *(uint32_t *)&used[2] == 3 && *(uint32_t *)&used[4] == 513,
	       "used ring holds id 3, len 513, idx 1", "idx %u id %u len %u", used[1],
	       *(uint32_t *)&used[2], *(uint32_t *)&used[4]);
	TAP_EQ(vduse_vq_notify(vq), 1, "interrupt injected (flags allow)");
	TAP_EQ(fk.irqs[0], 1, "kernel saw VQ_INJECT_IRQ for vq 0");
	TAP_EQ(vduse_vq_notify(vq), 0, "no second interrupt without a new used buffer");

	/* NO_INTERRUPT suppresses */
	fk_split_avail(&r)[0] = VRING_AVAIL_F_NO_INTERRUPT;
	fk_set_desc(&d[0], BUF, 16, 0, 0);
	fk_split_publish(&r, 0);
	TAP_EQ(pop(&req), 1, "pop readable-only chain");
	TAP_OK(req->nr_writable == 0 && req->readable_len == 16, "no writable part", " ");
	vduse_vq_push(req, 100);
	TAP_EQ(*(uint32_t *)&used[2 + 4 * 1 + 2], 0, "written length clamped to the writable size");
	TAP_EQ(vduse_vq_notify(vq), 0, "VRING_AVAIL_F_NO_INTERRUPT suppresses the interrupt");
	TAP_EQ(fk.irqs[0], 1, "no injection");

	/* a buffer across two adjacent mappings: two iovecs */
	fk_set_desc(&d[2], BUF + 0xff00, 0x200, F_W, 0);
	fk_split_publish(&r, 2);
	TAP_OK(pop(&req) == 1 && req->nr_writable == 2 && req->iov[0].iov_len == 0x100 &&
	       req->iov[1].iov_len == 0x100, "buffer spanning two mappings gives two iovecs", " ");
	vduse_vq_push(req, 0);

	/* indirect */
	ind = fk_ptr(&fk, 0, BUF + 0x1000);
	fk_set_desc(&ind[0], BUF, 8, F_N, 1);
	fk_set_desc(&ind[1], BUF + 0x100, 64, F_N | F_W, 2);
	fk_set_desc(&ind[2], BUF + 0x400, 1, F_W, 0);
	fk_set_desc(&d[4], BUF + 0x1000, 48, F_I, 0);
	fk_split_publish(&r, 4);
	ret = pop(&req);
	TAP_OK(ret == 1 && req->id == 4 && req->nr_readable == 1 && req->nr_writable == 2 &&
	       req->writable_len == 65, "indirect chain", "ret %d", ret);
	if (ret == 1)
		vduse_vq_push(req, 1);

	/* GET_VQ_STATE reports the next avail index */
	{
		struct vduse_dev_request rq = { .type = VDUSE_GET_VQ_STATE };
		struct vduse_dev_response rs;

		rq.vq_state.index = 0;
		ret = fk_msg(&fk, dev, &rq, &rs);
		TAP_OK(ret == 0 && rs.vq_state.split.avail_index == 4, "GET_VQ_STATE avail index 4",
		       "ret %d idx %u", ret, rs.vq_state.split.avail_index);
	}

	/* invalidation while a request is in flight: its memory stays mapped */
	fk_set_desc(&d[6], BUF + 0x2000, 32, F_W, 0);
	fk_split_publish(&r, 6);
	TAP_EQ(pop(&req), 1, "pop before invalidation");
	TAP_EQ(fk_iotlb(&fk, dev, 0, 0, UINT64_MAX), 0, "UPDATE_IOTLB of ASID 0 answered OK");
	TAP_EQ(dev->as[0].nr, 0, "ASID 0 cache dropped");
	memset(req->iov[0].iov_base, 0x5a, 32);
	TAP_OK(((uint8_t *)fk_ptr(&fk, 0, BUF + 0x2000))[31] == 0x5a,
	       "in-flight buffer still writable after invalidation", " ");
	TAP_EQ(vduse_vq_push(req, 32), 0, "push after invalidation remaps the ring");
	TAP_EQ(used[1], 5, "used index advanced through the remapped ring");

	/* event index */
	restart(feat(true, true));
	d = fk_split_desc(&r);
	used = fk_split_used(&r);
	fk_split_avail(&r)[2 + 8] = 1;	/* used_event: interrupt once used idx passes 1 */
	fk_set_desc(&d[0], BUF, 16, F_W, 0);
	fk_split_publish(&r, 0);
	TAP_EQ(pop(&req), 1, "pop with event index");
	TAP_EQ(pop(&req2), 0, "then empty");
	TAP_EQ(used[2 + 4 * 8], 1, "avail_event re-armed at the next avail index when empty");
	vduse_vq_push(req, 16);
	TAP_EQ(vduse_vq_notify(vq), 1, "first interrupt always sent");
	fk_split_publish(&r, 0);
	pop(&req);
	vduse_vq_push(req, 16);
	TAP_EQ(vduse_vq_notify(vq), 1, "used idx 0->2 crosses used_event 1: interrupt");
	fk_split_publish(&r, 0);
	pop(&req);
	vduse_vq_push(req, 16);
	TAP_EQ(vduse_vq_notify(vq), 0, "used idx 2->3 does not cross used_event 1: suppressed");
	fk_split_avail(&r)[2 + 8] = 3;
	fk_split_publish(&r, 0);
	pop(&req);
	vduse_vq_push(req, 16);
	TAP_EQ(vduse_vq_notify(vq), 1, "used idx 3->4 crosses used_event 3: interrupt");

	/* polling: with EVENT_IDX, kicks off means avail_event stays behind */
	vduse_vq_disable_notify(vq);
	ret = used[2 + 4 * 8];
	fk_split_publish(&r, 0);
	TAP_EQ(pop(&req), 1, "pop while polling");
	vduse_vq_push(req, 16);
	TAP_EQ(pop(&req), 0, "empty while polling");
	TAP_EQ(used[2 + 4 * 8], ret, "avail_event not re-armed while kicks are off");
	fk_split_publish(&r, 0);
	TAP_EQ(vduse_vq_enable_notify(vq), 1, "enable_notify reports a buffer that came meanwhile");
	TAP_EQ(used[2 + 4 * 8], 5, "avail_event re-armed at the current position");
	TAP_EQ(pop(&req), 1, "pop it");
	vduse_vq_push(req, 16);
	TAP_EQ(vduse_vq_enable_notify(vq), 0, "enable_notify on an empty queue: 0");
	fk_split_avail(&r)[2 + 8] = 5;
	TAP_EQ(vduse_vq_notify(vq), 1, "interrupt for the polled buffers");

	/* a failed VQ_INJECT_IRQ keeps the interrupt owed */
	fk_split_publish(&r, 0);
	pop(&req);
	vduse_vq_push(req, 16);
	fk_split_avail(&r)[2 + 8] = 6;
	fk.fail_req = VDUSE_VQ_INJECT_IRQ;
	fk.fail_errno = EIO;
	TAP_EQ(vduse_vq_notify(vq), -EIO, "VQ_INJECT_IRQ failure returned");
	fk.fail_req = 0;
	TAP_EQ(vduse_vq_notify(vq), 1, "the interrupt is injected on the next call");
	TAP_EQ(vduse_vq_notify(vq), 0, "and only once");

	/* batches, statistics */
	{
		struct vduse_req *b[4];
		struct vduse_vq_stats st0, st;
		uint32_t w[3] = { 1, 2, 3 };
		uint16_t u0 = used[1];
		int k;

		vduse_vq_get_stats(vq, &st0, sizeof(st0));
		for (k = 0; k < 3; k++) {
			fk_set_desc(&d[k], BUF + k * 16, 16, F_W, 0);
			fk_split_publish(&r, k);
		}
		TAP_EQ(vduse_vq_pop_many(vq, b, 4), 3, "pop_many takes the three available");
		TAP_EQ(vduse_vq_pop_many(vq, b + 3, 1), 0, "then none");
		TAP_EQ(vduse_vq_push_many(vq, b, w, 3), 3, "push_many returns three");
		TAP_OK(used[1] == (uint16_t)(u0 + 3) &&
		       *(uint32_t *)&used[2 + 4 * (u0 % 8)] == 0 &&
		       *(uint32_t *)&used[2 + 4 * ((u0 + 2) % 8) + 2] == 3,
		       "used index moved by 3, elements in order with their lengths",
		       "used %u", used[1]);
		vduse_vq_get_stats(vq, &st, sizeof(st));
		TAP_OK(st.pops == st0.pops + 3 && st.pushes == st0.pushes + 3 &&
		       st.iotlb_hits + st.iotlb_misses >= st0.iotlb_hits + st0.iotlb_misses + 3,
		       "statistics count pops, pushes and translations", "pops %llu pushes %llu",
		       (unsigned long long)(st.pops - st0.pops),
		       (unsigned long long)(st.pushes - st0.pushes));
		memset(&st, 0xff, sizeof(st));
		TAP_OK(vduse_vq_get_stats(vq, &st, 8) == 0 && st.pushes == UINT64_MAX,
		       "an older caller's smaller stats struct is filled only as far as it goes",
		       " ");
		fk_split_publish(&r, 0);
		vduse_vq_pop(vq, &b[0]);
		TAP_EQ(vduse_vq_push_many(vduse_dev_vq(dev, 1), b, NULL, 1), -EINVAL,
		       "push_many of another queue's request refused");
		TAP_EQ(vduse_vq_push_many(vq, b, NULL, 1), 1, "then pushed on its own queue");
		TAP_OK(vduse_vq_broken_reason(vq) == NULL, "no broken reason while healthy", " ");
	}

	/* without EVENT_IDX, kicks off is VRING_USED_F_NO_NOTIFY */
	restart(feat(true, false));
	used = fk_split_used(&r);
	vduse_vq_disable_notify(vq);
	TAP_EQ(used[0], VRING_USED_F_NO_NOTIFY, "disable_notify sets NO_NOTIFY");
	fk_split_publish(&r, 0);
	TAP_EQ(vduse_vq_enable_notify(vq), 1, "enable_notify clears it and sees the buffer");
	TAP_EQ(used[0], 0, "NO_NOTIFY cleared");
	pop(&req);
	vduse_vq_push(req, 0);
	vduse_vq_disable_notify(vq);
	restart(feat(true, false));
	TAP_EQ(fk_split_used(&r)[0], 0, "a queue starts with kicks on");

	/* stale push after reset */
	fk_split_publish(&r, 0);
	TAP_EQ(pop(&req), 1, "pop before reset");
	restart(feat(true, false));
	TAP_EQ(vduse_vq_push(req, 0), -ESTALE, "push after reset is refused as stale");
	TAP_EQ(fk_split_used(&r)[1], 0, "stale push wrote nothing");

	/* ---- malformed chains ---- */
	d = fk_split_desc(&r);
	fk_split_publish(&r, 8);
	expect_broken("head index beyond the ring", "head index");
	restart(feat(true, false));
	TAP_OK(!vduse_vq_broken(vq), "reset clears broken", " ");
	d = fk_split_desc(&r);
	fk_set_desc(&d[0], BUF, 16, F_N, 9);
	fk_split_publish(&r, 0);
	expect_broken("next index beyond the ring", "next index");

	restart(feat(true, false));
	d = fk_split_desc(&r);
	fk_set_desc(&d[0], BUF, 16, F_N, 1);
	fk_set_desc(&d[1], BUF, 16, F_N, 0);
	fk_split_publish(&r, 0);
	expect_broken("descriptor loop", "loops");

	restart(feat(true, false));
	d = fk_split_desc(&r);
	fk_set_desc(&d[0], BUF, 16, F_N | F_W, 1);
	fk_set_desc(&d[1], BUF, 16, 0, 0);
	fk_split_publish(&r, 0);
	expect_broken("readable after writable", "readable descriptor after");

	restart(feat(true, false));
	d = fk_split_desc(&r);
	fk_set_desc(&d[0], 0x7000000, 16, 0, 0);
	fk_split_publish(&r, 0);
	expect_broken("address outside every mapping", "outside every mapping");

	restart(feat(true, false));
	d = fk_split_desc(&r);
	fk_set_desc(&d[0], UINT64_MAX - 4, 16, 0, 0);
	fk_split_publish(&r, 0);
	expect_broken("address range wrapping around", "wraps around");

	restart(feat(true, false));
	d = fk_split_desc(&r);
	fk_set_desc(&d[0], 0x400000, 16, F_W, 0);	/* read-only mapping */
	fk_split_publish(&r, 0);
	expect_broken("writable buffer in a read-only mapping", "outside every mapping");

	restart(feat(true, false));
	d = fk_split_desc(&r);
	ind = fk_ptr(&fk, 0, BUF + 0x1000);
	fk_set_desc(&ind[0], BUF + 0x2000, 16, F_I, 0);
	fk_set_desc(&d[0], BUF + 0x1000, 16, F_I, 0);
	fk_split_publish(&r, 0);
	expect_broken("indirect inside indirect", "inside an indirect");

	restart(feat(true, false));
	d = fk_split_desc(&r);
	fk_set_desc(&d[0], BUF + 0x1000, 16, F_I | F_N, 1);
	fk_split_publish(&r, 0);
	expect_broken("INDIRECT with NEXT", "both INDIRECT and NEXT");

	restart(feat(true, false));
	d = fk_split_desc(&r);
	fk_set_desc(&d[0], BUF + 0x1000, 20, F_I, 0);
	fk_split_publish(&r, 0);
	expect_broken("indirect table size not a multiple of 16", "indirect table of 20");

	restart(feat(true, false));
	d = fk_split_desc(&r);
	fk_set_desc(&d[0], BUF + 0x1000, 16 * 4097, F_I, 0);
	fk_split_publish(&r, 0);
	expect_broken("indirect table with too many descriptors", "indirect table of");

	restart(feat(true, false));
	d = fk_split_desc(&r);
	fk_set_desc(&d[0], 0x7000000, 32, F_I, 0);
	fk_split_publish(&r, 0);
	expect_broken("indirect table outside every mapping", "indirect table at");

	restart(feat(true, false));
	d = fk_split_desc(&r);
	ind = fk_ptr(&fk, 0, BUF + 0x1000);
	fk_set_desc(&ind[0], BUF, 16, F_N, 0);		/* loops inside the table */
	fk_set_desc(&d[0], BUF + 0x1000, 16, F_I, 0);
	fk_split_publish(&r, 0);
	expect_broken("loop inside an indirect table", "loops");

	restart(feat(false, false));
	d = fk_split_desc(&r);
	fk_set_desc(&d[0], BUF + 0x1000, 32, F_I, 0);
	fk_split_publish(&r, 0);
	expect_broken("indirect without the feature", "without INDIRECT_DESC");

	restart(feat(true, false));
	{
		uint16_t *a = fk_split_avail(&r);

		__atomic_store_n(&a[1], 9, __ATOMIC_RELEASE);
	}
	expect_broken("available index jumping beyond the ring size", "available index moved");

	/* more than 4 GiB in one chain; the huge mapping is never touched */
	fk_map(&fk, 0, 0x100000000ull, 0x100000000ull, 0, VDUSE_ACCESS_RW);
	restart(feat(true, false));
	d = fk_split_desc(&r);
	fk_set_desc(&d[0], 0x100000000ull, 0xffffffffu, F_N, 1);
	fk_set_desc(&d[1], BUF, 16, 0, 0);
	fk_split_publish(&r, 0);
	expect_broken("chain length above 4 GiB", "longer than 4 GiB");

	/* the ring itself outside every mapping */
	fk_status(&fk, dev, 0);
	fk.vqinfo[0].desc_addr = 0x7000000;
	fk_status(&fk, dev, 0x0f);
	TAP_OK(vduse_vq_broken(vq) && strstr(lg.last, "outside every mapping"),
	       "ring outside every mapping: queue broken at start", "%s", lg.last);
	TAP_EQ(pop(&req), -EIO, "pop on it fails");

	/* bad ring size */
	fk_status(&fk, dev, 0);
	fk_split_init(&fk, &r, 0, 0, RING, 8);
	fk.vqinfo[0].num = 6;
	fk_status(&fk, dev, 0x0f);
	TAP_OK(vduse_vq_broken(vq) && strstr(lg.last, "bad ring size"),
	       "non power-of-two split ring size refused", "%s", lg.last);

	/* misaligned rings (atomic 16/32-bit accesses would fault on arm64) */
	fk_status(&fk, dev, 0);
	fk_split_init(&fk, &r, 0, 0, RING, 8);
	fk.vqinfo[0].device_addr += 2;
	lg.last[0] = 0;
	fk_status(&fk, dev, 0x0f);
	TAP_OK(vduse_vq_broken(vq) && strstr(lg.last, "misaligned ring"),
	       "used ring not 4-byte aligned: queue broken at start", "%s", lg.last);
	TAP_EQ(pop(&req), -EIO, "pop on it fails");
	fk_status(&fk, dev, 0);
	fk_split_init(&fk, &r, 0, 0, RING, 8);
	fk.vqinfo[0].driver_addr += 1;
	lg.last[0] = 0;
	fk_status(&fk, dev, 0x0f);
	TAP_OK(vduse_vq_broken(vq) && strstr(lg.last, "misaligned ring"),
	       "odd avail ring address: queue broken at start", "%s", lg.last);
	fk_status(&fk, dev, 0);
	fk_split_init(&fk, &r, 0, 0, RING + 8, 8);
	fk.vqinfo[0].device_addr = RING + 0x2000;
	lg.last[0] = 0;
	fk_status(&fk, dev, 0x0f);
	TAP_OK(vduse_vq_broken(vq) && strstr(lg.last, "misaligned ring"),
	       "descriptor table not 16-byte aligned: queue broken at start", "%s", lg.last);

	/* two requests in flight, completed out of order */
	restart(feat(true, false));
	d = fk_split_desc(&r);
	fk_set_desc(&d[0], BUF, 16, F_W, 0);
	fk_set_desc(&d[1], BUF + 16, 16, F_W, 0);
	fk_split_publish(&r, 0);
	fk_split_publish(&r, 1);
	ret = pop(&req) == 1 && pop(&req2) == 1;
	TAP_OK(ret && req->id == 0 && req2->id == 1, "two requests popped", " ");
	if (!ret)
		goto out;
	vduse_vq_push(req2, 1);
	vduse_vq_push(req, 2);
	used = fk_split_used(&r);
	TAP_OK(used[1] == 2 && *(uint32_t *)&used[2] == 1 && *(uint32_t *)&used[6] == 0,
	       "out-of-order completion recorded in completion order", " ");
	TAP_EQ(vduse_vq_inflight(vq), 0, "nothing in flight");

out:
	vduse_dev_destroy(dev);
	fk_fini(&fk);
	return tap_done();
}
