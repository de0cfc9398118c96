// SPDX-License-Identifier: GPL-2.0
/*
 * libvduse: a split ring's indirect table that lies, aligned, in the region
 * of the queue's last translation (the bounce area, where the kernel puts
 * every table) is read in place, without a lookup or a copy; any other
 * table (misaligned, in another mapping, across two mappings, in a mapping
 * since invalidated, read-only where the remembered region is write-only)
 * is copied as before. Either way the request must be the same: every
 * segment at its address, the lengths, the statistics; and a table behind
 * an invalidated IOVA is read from its new backing, never the old one.
 * The inline fast path of a chain's buffers is checked against the slow
 * one the same way (lengths with zero-length and spanning descriptors).
 */
#include "fake_kernel.h"

#include <linux/virtio_ring.h>

#define RING	0x100000ull
#define BUF	0x200000ull	/* 64 KiB, then an adjacent 64 KiB mapping */
#define OTHER	0x300000ull	/* a mapping of its own */

static struct fake_kernel fk;
static struct fk_log lg;
static struct vduse_dev *dev;
static struct vduse_vq *vq;
static struct fk_split r;

/* IOTLB lookups of AS 0 so far (hits and misses of its cache) */
static uint64_t lookups(void)
{
	return dev->as[0].hits + dev->as[0].misses;
}

/* A direct one-buffer chain at @addr: makes its region the remembered one. */
static void prime(uint64_t addr)
{
	struct vduse_req *req = NULL;

	fk_set_desc(&fk_split_desc(&r)[1], addr, 64, F_W, 0);
	fk_split_publish(&r, 1);
	if (vduse_vq_pop(vq, &req) != 1 || vduse_vq_push(req, 0))
		tap_diag("prime %#llx failed: %s", (unsigned long long)addr, lg.last);
}

/*
 * The block request's table at @table (header 16 readable at BUF + 0x1000,
 * data 4 KiB writable at BUF + 0x2000, status 1 at BUF + 0x3000), popped
 * and pushed; @lookups_want the IOTLB lookups it should cost (-1: any).
 */
static void table_req(const char *name, uint64_t table, int lookups_want)
{
	/* each descriptor on its own: the table may span two mappings */
	struct fk_desc *t0 = fk_ptr(&fk, 0, table), *t1 = fk_ptr(&fk, 0, table + 16);
	struct fk_desc *t2 = fk_ptr(&fk, 0, table + 32);
	uint8_t *hdr = fk_ptr(&fk, 0, BUF + 0x1000), *st = fk_ptr(&fk, 0, BUF + 0x3000);
	struct vduse_req *req = NULL;
	uint64_t before;
	int ret;

	fk_set_desc(t0, BUF + 0x1000, 16, F_N, 1);
	fk_set_desc(t1, BUF + 0x2000, 4096, F_N | F_W, 2);
	fk_set_desc(t2, BUF + 0x3000, 1, F_W, 0);
	hdr[0] = 0x5a;
	*st = 0xa5;
	fk_set_desc(&fk_split_desc(&r)[0], table, 48, F_I, 0);
	fk_split_publish(&r, 0);
	before = lookups();
	ret = vduse_vq_pop(vq, &req);
	TAP_OK(ret == 1 && req && req->nr_readable == 1 && req->nr_writable == 2 &&
	       req->readable_len == 16 && req->writable_len == 4097 &&
	       req->iov[0].iov_len == 16 && *(uint8_t *)req->iov[0].iov_base == 0x5a &&
	       req->iov[1].iov_len == 4096 && req->iov[2].iov_len == 1 &&
	       *(uint8_t *)req->iov[2].iov_base == 0xa5,
	       name, "ret %d log '%s'", ret, lg.last);
	if (lookups_want >= 0)
		TAP_EQ(lookups() - before, (uint64_t)lookups_want, "  its IOTLB lookups");
	/* the table changes after the pop: the request does not */
	fk_set_desc(t0, OTHER, 16, F_N, 1);
	if (ret == 1) {
		TAP_OK(*(uint8_t *)req->iov[0].iov_base == 0x5a, "  request kept after the table changed",
		       " ");
		TAP_EQ(vduse_vq_push(req, 4097), 0, "  pushed");
	}
}

/*
 * A direct chain of the given descriptors (lengths and addresses), the
 * first @nrd readable; checks the request's counts and lengths.
 */
static void direct(const char *name, const uint64_t *addr, const uint32_t *len, unsigned int n,
		   unsigned int nrd, unsigned int nseg)
{
	struct fk_desc *d = fk_split_desc(&r);
	struct vduse_req *req = NULL;
	uint64_t rl = 0, wl = 0, got_r = 0, got_w = 0;
	unsigned int i;
	int ret;

	for (i = 0; i < n; i++) {
		fk_set_desc(&d[2 + i], addr[i], len[i], (i + 1 < n ? F_N : 0) | (i >= nrd ? F_W : 0),
			    3 + i);
		if (i < nrd)
			rl += len[i];
		else
			wl += len[i];
	}
	fk_split_publish(&r, 2);
	ret = vduse_vq_pop(vq, &req);
	if (ret == 1) {
		for (i = 0; i < req->nr_readable + req->nr_writable; i++)
			*(i < req->nr_readable ? &got_r : &got_w) += req->iov[i].iov_len;
	}
	TAP_OK(ret == 1 && req->nr_readable + req->nr_writable == nseg &&
	       req->readable_len == rl && req->writable_len == wl && got_r == rl && got_w == wl,
	       name, "ret %d segs %u len %llu/%llu iov %llu/%llu", ret,
	       ret == 1 ? req->nr_readable + req->nr_writable : 0,
	       ret == 1 ? (unsigned long long)req->readable_len : 0,
	       ret == 1 ? (unsigned long long)req->writable_len : 0,
	       (unsigned long long)got_r, (unsigned long long)got_w);
	if (ret == 1)
		vduse_vq_push(req, 0);
}

int main(void)
{
	LIBVDUSE_OPTS(vduse_dev_opts, o, .name = "inplace", .device_id = 2, .num_queues = 1,
		      .queue_size = 16, .log = fk_logger, .user = &lg, .log_level = VDUSE_LOG_WARN);
	struct vduse_vq_stats st;
	uint64_t a[4];
	uint32_t l[4];

	if (fk_dev_setup(&fk, &o, "create", &dev, &vq))
		return tap_done();
	fk_map(&fk, 0, RING, 0x100000, 0, VDUSE_ACCESS_RW);
	fk_map(&fk, 0, BUF, 0x10000, 0x100000, VDUSE_ACCESS_RW);
	fk_map(&fk, 0, BUF + 0x10000, 0x10000, 0x200000, VDUSE_ACCESS_RW);	/* adjacent */
	fk_map(&fk, 0, OTHER, 0x10000, 0x300000, VDUSE_ACCESS_RW);
	fk.features = (1ull << 32) | (1ull << 33) | (1ull << VIRTIO_RING_F_INDIRECT_DESC);
	fk_split_init(&fk, &r, 0, 0, RING, 16);
	TAP_EQ(fk_status(&fk, dev, 0x0f), 0, "DRIVER_OK");

	prime(BUF + 0x8000);
	/* the table read in place: only the three buffers' lookups (all hits) */
	table_req("table in the remembered region, aligned: read in place", BUF + 0x4000, 3);
	table_req("once more", BUF + 0x4400, 3);
	table_req("table misaligned (8): copied", BUF + 0x4808, 4);
	table_req("table in another mapping: copied", OTHER + 0x100, -1);
	prime(BUF + 0x8000);
	table_req("table across two mappings: copied, stitched", BUF + 0xfff0, -1);
	prime(BUF + 0x8000);
	table_req("back in the remembered region", BUF + 0x4000, 3);

	/* the inline and the out-of-line halves of a chain, mixed */
	prime(BUF + 0x8000);
	a[0] = BUF + 0x100; l[0] = 16;
	a[1] = OTHER + 0x200; l[1] = 100;	/* another region: slow path */
	a[2] = BUF + 0x300; l[2] = 0;		/* zero length: no segment */
	a[3] = BUF + 0x400; l[3] = 512;
	direct("lengths across fast, slow and empty descriptors", a, l, 4, 2, 3);
	a[0] = BUF + 0xff00; l[0] = 0x200;	/* spans two mappings: two segments */
	a[1] = BUF + 0x100; l[1] = 8;
	a[2] = BUF + 0x11000; l[2] = 1;
	direct("lengths with a descriptor across two mappings", a, l, 3, 1, 4);
	a[0] = BUF + 0x100; l[0] = 0;
	a[1] = BUF + 0x200; l[1] = 0;
	direct("only empty readable descriptors then one writable", a, l, 3, 2, 1);

	/* the table's IOVA backed elsewhere after an invalidation: read from there */
	prime(BUF + 0x8000);
	memset(fk_ptr(&fk, 0, BUF + 0x4000), 0xee, 48);	/* the old backing: garbage */
	fk_unmap_all(&fk, 0);
	fk_map(&fk, 0, RING, 0x100000, 0, VDUSE_ACCESS_RW);
	fk_map(&fk, 0, BUF, 0x20000, 0xa00000, VDUSE_ACCESS_RW);
	fk_map(&fk, 0, OTHER, 0x10000, 0x300000, VDUSE_ACCESS_RW);
	TAP_EQ(fk_iotlb(&fk, dev, 0, BUF, BUF + 0x1ffff), VDUSE_REQ_RESULT_OK,
	       "IOTLB update over the buffers and the table");
	table_req("table after the update: from the new backing", BUF + 0x4000, -1);
	table_req("and in place again", BUF + 0x4000, 3);

	/* the remembered region write-only: the table (read) is copied through a lookup */
	fk_unmap_all(&fk, 0);
	fk_map(&fk, 0, RING, 0x100000, 0, VDUSE_ACCESS_RW);
	fk_map(&fk, 0, BUF, 0x10000, 0xa00000, VDUSE_ACCESS_RW);
	fk_map(&fk, 0, OTHER, 0x10000, 0x300000, VDUSE_ACCESS_WO);
	TAP_EQ(fk_iotlb(&fk, dev, 0, 0, ~0ull), VDUSE_REQ_RESULT_OK, "IOTLB update: OTHER write-only");
	prime(OTHER + 0x8000);
	{
		struct vduse_req *req = NULL;

		fk_set_desc(&fk_split_desc(&r)[0], OTHER + 0x4000, 48, F_I, 0);
		fk_split_publish(&r, 0);
		TAP_OK(vduse_vq_pop(vq, &req) == -EIO && !req && vduse_vq_broken(vq) &&
		       strstr(lg.last, "indirect table"),
		       "table in a write-only remembered region: refused", "log '%s'", lg.last);
	}
	memset(&st, 0, sizeof(st));
	vduse_vq_get_stats(vq, &st, sizeof(st));
	TAP_OK(st.pops == st.pushes + 0 && st.iotlb_hits + st.iotlb_misses >= st.pops,
	       "statistics consistent", "pops %llu pushes %llu hits %llu misses %llu",
	       (unsigned long long)st.pops, (unsigned long long)st.pushes,
	       (unsigned long long)st.iotlb_hits, (unsigned long long)st.iotlb_misses);
	vduse_dev_destroy(dev);
	return tap_done();
}
