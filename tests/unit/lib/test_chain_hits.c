// SPDX-License-Identifier: GPL-2.0
/*
 * libvduse: a chain's IOTLB lookups are counted once each in the queue's
 * statistics and the address space's hits and misses, whichever half of
 * the data path added the segment: the inline one (a buffer in the queue's
 * remembered region) counts its hits when the chain is built or dropped,
 * the out-of-line one its own lookups as it makes them. A chain rejected
 * halfway (a bad next index, a readable buffer after a writable one) still
 * counts the lookups it made.
 */
#include "fake_kernel.h"

#include <linux/virtio_ring.h>

#define RING	0x100000ull
#define BUF	0x200000ull
#define OTHER	0x300000ull	/* a mapping of its own: the out-of-line half */

static struct fake_kernel fk;
static struct fk_log lg;
static struct vduse_dev *dev;
static struct vduse_vq *vq;
static struct fk_split r;

static void counts(uint64_t *vq_lookups, uint64_t *as_lookups)
{
	struct vduse_vq_stats st;

	memset(&st, 0, sizeof(st));
	vduse_vq_get_stats(vq, &st, sizeof(st));
	*vq_lookups = st.iotlb_hits + st.iotlb_misses;
	*as_lookups = dev->as[0].hits + dev->as[0].misses;
}

/*
 * Pop the chain of descriptors 1..@n (@addr, @len, @flags; the last one's
 * next is @last_next, used only with F_N), push it if popped, and check
 * the return value and that @want lookups were counted.
 */
static void chain(const char *name, const uint64_t *addr, const uint32_t *len,
		  const uint16_t *flags, unsigned int n, uint16_t last_next, int want_ret,
		  uint64_t want)
{
	struct fk_desc *d = fk_split_desc(&r);
	struct vduse_req *req = NULL;
	uint64_t v0, a0, v1, a1;
	unsigned int i;
	int ret;

	for (i = 0; i < n; i++)
		fk_set_desc(&d[1 + i], addr[i], len[i], flags[i], i + 1 < n ? 2 + i : last_next);
	fk_split_publish(&r, 1);
	counts(&v0, &a0);
	ret = vduse_vq_pop(vq, &req);
	counts(&v1, &a1);
	TAP_OK(ret == want_ret && v1 - v0 == want && a1 - a0 == want, name,
	       "ret %d (want %d) lookups: queue %llu, AS %llu (want %llu) log '%s'", ret,
	       want_ret, (unsigned long long)(v1 - v0), (unsigned long long)(a1 - a0),
	       (unsigned long long)want, lg.last);
	if (ret == 1)
		vduse_vq_push(req, 0);
}

int main(void)
{
	LIBVDUSE_OPTS(vduse_dev_opts, o, .name = "chainhits", .device_id = 2, .num_queues = 1,
		      .queue_size = 16, .log = fk_logger, .user = &lg, .log_level = VDUSE_LOG_WARN);
	uint64_t a[4];
	uint32_t l[4] = { 16, 16, 16, 16 };
	uint16_t f[4];

	if (fk_dev_setup(&fk, &o, "create", &dev, &vq))
		return tap_done();
	fk_map(&fk, 0, RING, 0x100000, 0, VDUSE_ACCESS_RW);
	fk_map(&fk, 0, BUF, 0x10000, 0x100000, VDUSE_ACCESS_RW);
	fk_map(&fk, 0, OTHER, 0x10000, 0x300000, VDUSE_ACCESS_RW);
	fk.features = (1ull << 32) | (1ull << 33);
	fk_split_init(&fk, &r, 0, 0, RING, 16);
	TAP_EQ(fk_status(&fk, dev, 0x0f), 0, "DRIVER_OK");

	a[0] = BUF + 0x100; f[0] = 0;
	chain("one buffer (the first translation: out of line)", a, l, f, 1, 0, 1, 1);
	f[0] = F_N;
	a[1] = BUF + 0x200; f[1] = F_N | F_W;
	a[2] = BUF + 0x300; f[2] = F_W;
	chain("three buffers in the remembered region (inline)", a, l, f, 3, 0, 1, 3);
	a[1] = OTHER + 0x200;
	chain("inline, then out of line twice (the remembered region moves)", a, l, f, 3, 0, 1, 3);
	a[1] = BUF + 0x200;
	f[2] = F_N | F_W;
	a[3] = OTHER + 0x400; f[3] = F_W;
	chain("out of line, inline twice, out of line", a, l, f, 4, 0, 1, 4);
	/* rejected: the lookups made so far still count */
	f[2] = F_N;			/* readable after writable: refused out of line */
	a[3] = BUF + 0x400;
	chain("out of line, inline, then a readable buffer after a writable one", a, l, f, 4, 0,
	      -EIO, 2);
	vduse_dev_destroy(dev);
	fk_fini(&fk);

	/* a fresh device: the queue above is broken */
	if (fk_dev_setup(&fk, &o, "create again", &dev, &vq))
		return tap_done();
	fk_map(&fk, 0, RING, 0x100000, 0, VDUSE_ACCESS_RW);
	fk_map(&fk, 0, BUF, 0x10000, 0x100000, VDUSE_ACCESS_RW);
	fk.features = (1ull << 32) | (1ull << 33);
	fk_split_init(&fk, &r, 0, 0, RING, 16);
	TAP_EQ(fk_status(&fk, dev, 0x0f), 0, "DRIVER_OK");
	f[0] = F_N; f[1] = F_N | F_W; f[2] = F_W;
	chain("prime the remembered region", a, l, f, 3, 0, 1, 3);
	f[2] = F_N | F_W;
	chain("inline three times, then a next index out of range (dropped inline)", a, l, f, 3,
	      40, -EIO, 3);
	vduse_dev_destroy(dev);
	fk_fini(&fk);
	return tap_done();
}
