// SPDX-License-Identifier: GPL-2.0
/*
 * libvduse: a chain's segments are translated straight into a pooled
 * request (VDUSE_POOL_SEGS of them) and move to the queue's scratch when
 * there are more. Around that boundary (8, 9, 12 segments, the 9th coming
 * from one descriptor that spans two mappings, an indirect table larger
 * than the parser's stack copy) every iovec must be right and in order, the
 * requests recycled or freed, and a chain rejected after the move must
 * leave nothing behind (the queue works again after a reset; run under
 * valgrind or ASan for the references and memory). The queue remembers the
 * region of its last translation: after an IOTLB invalidation it must not
 * translate through the old mapping.
 */
#include "fake_kernel.h"

#define RING	0x100000ull
#define BUF	0x200000ull
#define TABLE	(BUF + 0x8000)

#include <linux/virtio_ring.h>

static struct fake_kernel fk;
static struct fk_log lg;
static struct vduse_dev *dev;
static struct vduse_vq *vq;
static struct fk_split r;
static void *last_base;		/* where the last chain's first segment was mapped */

static void restart(void)
{
	fk_status(&fk, dev, 0);
	fk.features = (1ull << 32) | (1ull << 33) | (1ull << 28);
	fk_split_init(&fk, &r, 0, 0, RING, 8);
	fk_status(&fk, dev, 0x0f);
}

/*
 * An indirect chain of @n descriptors: n - 1 readable ones of 100 bytes at
 * BUF + 0x100 * i, then one writable of @wlen at @waddr. Expects it popped
 * as @nseg segments with the right addresses; pushes it.
 */
static void chain(const char *name, unsigned int n, uint64_t waddr, uint32_t wlen,
		  unsigned int nseg)
{
	struct fk_desc *d = fk_split_desc(&r), *t = fk_ptr(&fk, 0, TABLE);
	uint8_t *base = fk_ptr(&fk, 0, BUF);
	struct vduse_req *req = NULL;
	uint8_t mark = 0x40 + n;
	unsigned int i, bad = 0;
	size_t wtotal = 0;
	int ret;

	/* each buffer starts with its index, the writable one with the mark */
	for (i = 0; i + 1 < n; i++) {
		fk_set_desc(&t[i], BUF + 0x100 * i, 100, F_N, i + 1);
		base[0x100 * i] = i;
	}
	fk_set_desc(&t[n - 1], waddr, wlen, F_W, 0);
	*(uint8_t *)fk_ptr(&fk, 0, waddr) = mark;
	fk_set_desc(&d[0], TABLE, 16 * n, F_I, 0);
	fk_split_publish(&r, 0);
	ret = vduse_vq_pop(vq, &req);
	TAP_OK(ret == 1 && req && req->nr_readable == n - 1 && req->nr_writable == nseg - (n - 1) &&
	       req->readable_len == 100 * (n - 1) && req->writable_len == wlen,
	       name, "ret %d nr %u/%u len %zu/%zu", ret, req ? req->nr_readable : 0,
	       req ? req->nr_writable : 0, req ? req->readable_len : 0, req ? req->writable_len : 0);
	if (ret != 1)
		return;
	last_base = req->iov[0].iov_base;
	for (i = 0; i + 1 < n; i++)
		bad += *(uint8_t *)req->iov[i].iov_base != i || req->iov[i].iov_len != 100;
	for (i = n - 1; i < nseg; i++)
		wtotal += req->iov[i].iov_len;
	TAP_OK(!bad && *(uint8_t *)req->iov[n - 1].iov_base == mark && wtotal == wlen,
	       "every segment in order, at its address", "%u readable wrong", bad);
	TAP_EQ(vduse_vq_push(req, wlen), 0, "pushed");
}

int main(void)
{
	LIBVDUSE_OPTS(vduse_dev_opts, o, .name = "segs", .device_id = 2, .num_queues = 1,
		      .queue_size = 8, .log = fk_logger, .user = &lg, .log_level = VDUSE_LOG_WARN);
	struct vduse_vq_stats st;
	struct vduse_req *req = NULL;
	struct fk_desc *t;
	unsigned int i;

	if (fk_dev_setup(&fk, &o, "create", &dev, &vq))
		return tap_done();
	fk_map(&fk, 0, RING, 0x100000, 0, VDUSE_ACCESS_RW);
	fk_map(&fk, 0, BUF, 0x10000, 0x100000, VDUSE_ACCESS_RW);
	fk_map(&fk, 0, BUF + 0x10000, 0x10000, 0x800000, VDUSE_ACCESS_RW);	/* adjacent */
	restart();

	chain("3 segments (a block request)", 3, BUF + 0x4000, 512, 3);
	chain("8 segments: a pooled request's capacity", 8, BUF + 0x4000, 512, 8);
	chain("9 segments: moved to the scratch at the 9th", 9, BUF + 0x4000, 512, 9);
	chain("9th segment from a descriptor across two mappings", 8, BUF + 0xff00, 0x200, 9);
	chain("12 segments", 12, BUF + 0x4000, 512, 12);
	chain("20 descriptors: indirect table past the stack copy", 20, BUF + 0x4000, 512, 20);
	chain("3 segments again (pooled request reused)", 3, BUF + 0x4000, 512, 3);
	memset(&st, 0, sizeof(st));
	vduse_vq_get_stats(vq, &st, sizeof(st));
	TAP_OK(st.pops == 7 && st.pushes == 7 &&
	       st.iotlb_misses + st.iotlb_hits == 3 + 8 + 9 + 9 + 12 + 20 + 3,
	       "one translation counted per segment", "pops %llu hits %llu misses %llu",
	       (unsigned long long)st.pops, (unsigned long long)st.iotlb_hits,
	       (unsigned long long)st.iotlb_misses);

	/* rejected after the move: 10 good segments, then a readable after a writable */
	t = fk_ptr(&fk, 0, TABLE);
	for (i = 0; i < 10; i++)
		fk_set_desc(&t[i], BUF + 0x100 * i, 100, F_N | (i >= 5 ? F_W : 0), i + 1);
	fk_set_desc(&t[10], BUF + 0x2000, 100, 0, 0);
	fk_set_desc(&fk_split_desc(&r)[0], TABLE, 16 * 11, F_I, 0);
	fk_split_publish(&r, 0);
	TAP_OK(vduse_vq_pop(vq, &req) == -EIO && !req && vduse_vq_broken(vq),
	       "chain rejected after 10 segments: queue broken", "log '%s'", lg.last);
	TAP_EQ(vduse_vq_inflight(vq), 0, "nothing in flight");
	lg.last[0] = 0;
	restart();
	chain("after a reset: 9 segments", 9, BUF + 0x4000, 512, 9);
	chain("after a reset: 3 segments", 3, BUF + 0x4000, 512, 3);

	/* the buffers' IOVA now backed elsewhere: the next chain must see it */
	memset(fk_ptr(&fk, 0, BUF), 0xee, 0x10000);	/* the old backing */
	fk_unmap_all(&fk, 0);
	fk_map(&fk, 0, RING, 0x100000, 0, VDUSE_ACCESS_RW);
	fk_map(&fk, 0, BUF, 0x20000, 0xa00000, VDUSE_ACCESS_RW);
	TAP_EQ(fk_iotlb(&fk, dev, 0, BUF, BUF + 0x1ffff), VDUSE_REQ_RESULT_OK,
	       "IOTLB update over the buffers");
	{
		/* no request holds the old mapping: it goes now, not at the next pop */
		uintptr_t pg = (uintptr_t)last_base & ~(uintptr_t)(sysconf(_SC_PAGESIZE) - 1);
		unsigned char v;

		TAP_OK(last_base && mincore((void *)pg, 1, &v) == -1 && errno == ENOMEM,
		       "the invalidated mapping is unmapped at the update", "still mapped at %p",
		       last_base);
	}
	chain("after the update: 3 segments through the new mapping", 3, BUF + 0x4000, 512, 3);
	fk_unmap_all(&fk, 0);
	fk_map(&fk, 0, RING, 0x100000, 0, VDUSE_ACCESS_RW);
	fk_map(&fk, 0, BUF, 0x20000, 0xa00000, VDUSE_ACCESS_RO);
	TAP_EQ(fk_iotlb(&fk, dev, 0, BUF, BUF + 0x1ffff), VDUSE_REQ_RESULT_OK,
	       "IOTLB update: the buffers read-only");
	{
		struct fk_desc *d = fk_split_desc(&r);

		t = fk_ptr(&fk, 0, TABLE);
		fk_set_desc(&t[0], BUF, 100, F_N, 1);
		fk_set_desc(&t[1], BUF + 0x4000, 512, F_W, 0);
		fk_set_desc(&d[0], TABLE, 32, F_I, 0);
		fk_split_publish(&r, 0);
		req = NULL;
		TAP_OK(vduse_vq_pop(vq, &req) == -EIO && !req && vduse_vq_broken(vq),
		       "writable buffer in a now read-only mapping refused", "log '%s'", lg.last);
	}
	vduse_dev_destroy(dev);
	return tap_done();
}
