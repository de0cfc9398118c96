// SPDX-License-Identifier: GPL-2.0
/*
 * libvduse: an indirect table read in place (it lies in the region of the
 * queue's last translation) must stay mapped until its chain is parsed.
 * The queue lets go of that region as soon as a buffer of the chain lies
 * elsewhere, and with the cache full (VDUSE_MAX_REGIONS mappings) every
 * new mapping evicts the lowest idle one: the table's, if nothing else
 * holds it. The table's remaining descriptors must still come from it.
 */
#define FK_MAPS		4200
#include "fake_kernel.h"

#include <linux/virtio_ring.h>

#define TABLE_REG	0x10000ull		/* the table's region: the lowest IOVA */
#define X(i)		(0x100000ull + (uint64_t)(i) * 0x1000)	/* one-page regions */
#define RING		0x2000000ull
#define NX		(VDUSE_MAX_REGIONS + 4)

static struct fake_kernel fk;
static struct fk_log lg;
static struct vduse_dev *dev;
static struct vduse_vq *vq;
static struct fk_split r;

/* One direct buffer at @addr, popped and pushed: its region gets cached and remembered. */
static int touch(uint64_t addr)
{
	struct vduse_req *req = NULL;

	fk_set_desc(&fk_split_desc(&r)[1], addr, 64, F_W, 0);
	fk_split_publish(&r, 1);
	if (vduse_vq_pop(vq, &req) != 1 || vduse_vq_push(req, 0))
		return -1;
	return 0;
}

int main(void)
{
	LIBVDUSE_OPTS(vduse_dev_opts, o, .name = "evict", .device_id = 2, .num_queues = 1,
		      .queue_size = 16, .log = fk_logger, .user = &lg, .log_level = VDUSE_LOG_WARN);
	struct fk_desc *t;
	struct vduse_req *req = NULL;
	unsigned int i, bad = 0, want[4];
	int ret;

	if (fk_dev_setup(&fk, &o, "create", &dev, &vq))
		return tap_done();
	fk_map(&fk, 0, TABLE_REG, 0x1000, 0x10000, VDUSE_ACCESS_RW);
	for (i = 0; i < NX; i++)
		fk_map(&fk, 0, X(i), 0x1000, 0x100000 + (uint64_t)i * 0x1000, VDUSE_ACCESS_RW);
	fk_map(&fk, 0, RING, 0x10000, 0x1800000, VDUSE_ACCESS_RW);
	fk.features = (1ull << 32) | (1ull << 33) | (1ull << VIRTIO_RING_F_INDIRECT_DESC);
	fk_split_init(&fk, &r, 0, 0, RING, 16);
	TAP_EQ(fk_status(&fk, dev, 0x0f), 0, "DRIVER_OK");

	/* fill the cache to its limit with idle one-page regions */
	for (i = 0; i + 4 < NX && dev->as[0].nr < VDUSE_MAX_REGIONS; i++)
		bad += touch(X(i)) != 0;
	TAP_OK(!bad && dev->as[0].nr == VDUSE_MAX_REGIONS, "the cache is full",
	       "%u failed, %u cached, log '%s'", bad, dev->as[0].nr, lg.last);
	/* the table's region becomes the remembered one (evicting an idle one) */
	TAP_EQ(touch(TABLE_REG + 0x800), 0, "the table's region remembered");

	/*
	 * A table of four writable buffers, each in a region not cached: the
	 * first moves the queue's remembered region away from the table's,
	 * the next evicts the lowest idle region, which is then the table's.
	 */
	t = fk_ptr(&fk, 0, TABLE_REG);
	for (i = 0; i < 4; i++) {
		want[i] = 0x60 + i;
		fk_set_desc(&t[i], X(NX - 4 + i), 32 + i, F_W | (i < 3 ? F_N : 0), i + 1);
		*(uint8_t *)fk_ptr(&fk, 0, X(NX - 4 + i)) = want[i];
	}
	fk_set_desc(&fk_split_desc(&r)[0], TABLE_REG, 64, F_I, 0);
	fk_split_publish(&r, 0);
	ret = vduse_vq_pop(vq, &req);
	bad = 0;
	if (ret == 1)
		for (i = 0; i < 4 && i < req->nr_writable; i++)
			bad += req->iov[i].iov_len != 32 + i ||
			       *(uint8_t *)req->iov[i].iov_base != want[i];
	TAP_OK(ret == 1 && req->nr_readable == 0 && req->nr_writable == 4 && !bad &&
	       req->writable_len == 32 + 33 + 34 + 35,
	       "every descriptor read from the table, though other regions were mapped meanwhile",
	       "ret %d segs %u bad %u log '%s'", ret, ret == 1 ? req->nr_writable : 0, bad, lg.last);
	if (ret == 1)
		TAP_EQ(vduse_vq_push(req, 0), 0, "pushed");
	TAP_OK(dev->as[0].nr <= VDUSE_MAX_REGIONS, "the cache stays within its limit", "%u",
	       dev->as[0].nr);
	TAP_EQ(touch(TABLE_REG + 0x800), 0, "the table's region is usable again");
	vduse_dev_destroy(dev);
	return tap_done();
}
