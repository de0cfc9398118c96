// SPDX-License-Identifier: GPL-2.0
/*
 * A driver goes and another comes (vdpa dev del / add, a rebind, a resume)
 * while the daemon runs: the kernel virtio path frees its rings after the
 * reset and the next driver gets the same IOVAs back with other memory, and
 * no UPDATE_IOTLB says so. The library must not serve the new driver
 * through its mappings of the old memory: the rings and buffers of the
 * second driver are read where the kernel says they are now.
 */
#include <stdio.h>
#include "fake_kernel.h"

#define RING	0x100000ull
#define BUF	0x200000ull
#define QN	16
#define OLD	0x000000ull	/* guest memory offsets behind the IOVAs */
#define NEW	0x400000ull

static struct fake_kernel fk;
static struct fk_log lg;
static struct fk_split sr;

/* Make NLEN-byte heads 0..N-1 of the ring available, behind RING and BUF. */
static void driver_up(struct vduse_dev *dev, uint64_t mem, uint32_t len, int n)
{
	int i;

	fk_unmap_all(&fk, 0);
	fk_map(&fk, 0, RING, 0x100000, mem, VDUSE_ACCESS_RW);
	fk_map(&fk, 0, BUF, 0x100000, mem + 0x100000, VDUSE_ACCESS_RW);
	fk_split_init(&fk, &sr, 0, 0, RING, QN);
	for (i = 0; i < QN; i++)
		fk_set_desc(&fk_split_desc(&sr)[i], BUF + i * 256, len, 0, 0);
	fk.features = (1ull << 32) | (1ull << 33);
	if (fk_status(&fk, dev, 0x0f))
		abort();
	for (i = 0; i < n; i++)
		fk_split_publish(&sr, i);
}

int main(void)
{
	LIBVDUSE_OPTS(vduse_dev_opts, o, .name = "reprobe", .device_id = 2, .num_queues = 1,
		      .queue_size = QN, .log = fk_logger, .user = &lg, .log_level = VDUSE_LOG_ERROR);
	struct vduse_dev *dev;
	struct vduse_vq *vq;
	struct vduse_req *req;
	int n = 0, lens_ok = 1, data_ok = 1;

	fk_init(&fk, 1);
	if (vduse__dev_create(&o, &fk_backend, &fk, &dev))
		abort();
	vq = vduse_dev_vq(dev, 0);

	/* the first driver: 5 requests of 64 bytes, served */
	driver_up(dev, OLD, 64, 5);
	while (vduse_vq_pop(vq, &req) == 1)
		vduse_vq_push(req, 0);
	TAP_EQ(fk_split_used(&sr)[1], 5, "first driver: its 5 requests served");

	/* it goes: reset; the next one's rings and buffers lie elsewhere */
	TAP_EQ(fk_status(&fk, dev, 0), 0, "reset");
	memset(fk.mem + NEW + 0x100000, 0xa5, 0x1000);
	driver_up(dev, NEW, 77, 2);
	while (vduse_vq_pop(vq, &req) == 1) {
		n++;
		lens_ok &= req->readable_len == 77;
		data_ok &= req->nr_readable == 1 && ((uint8_t *)req->iov[0].iov_base)[0] == 0xa5;
		vduse_vq_push(req, 0);
	}
	TAP_OK(n == 2 && lens_ok, "second driver, same IOVAs, other memory: its 2 requests popped from its own ring",
	       "%d popped, lengths %s", n, lens_ok ? "77" : "not 77");
	TAP_OK(n && data_ok, "... with the data of its own buffers", "not the new buffer's bytes");
	TAP_EQ(fk_split_used(&sr)[1], 2, "... and completed in its own used ring");
	TAP_OK(!vduse_vq_broken(vq), "the queue is not broken", "%s", vduse_vq_broken_reason(vq));
	vduse_dev_destroy(dev);
	fk_fini(&fk);
	return tap_done();
}
