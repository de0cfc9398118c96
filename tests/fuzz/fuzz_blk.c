// SPDX-License-Identifier: GPL-2.0
/*
 * Fuzz target: vduse-blk's request handling (devices/blk/blk_req.c), the
 * code every virtio-blk request of a driver goes through before it becomes
 * an offset and a length on the backing file. Whatever the driver put in
 * the chain:
 *  - a chain without room for header and status is refused, any other gets
 *    an answer;
 *  - data goes only to or from the request's own buffers, exactly as many
 *    bytes as the command says, and only inside the disk, block-aligned, in
 *    no more segments than the seg_max offered;
 *  - discard and write-zeroes ranges stay inside the disk and the limits the
 *    device offered; a read-only disk is never changed;
 *  - the status byte lands on the chain's last writable byte and the used
 *    length counts no byte the device did not write;
 *  - executed on a disk in memory, the disk keeps its size.
 * A violation aborts with the reason on stderr.
 *
 * Input: byte 0 the disk (read-only, discard and write zeroes offered, 4 KiB
 * blocks, seg_max 2), byte 1 the readable and writable segment counts (1 - 4 and 0 - 4),
 * then one 16-bit little-endian length per segment (at most 8 KiB), then the
 * readable bytes (header and payload), zero-padded.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include "blk_req.h"

#define FZB_DISK	(64u << 10)
#define FZB_SEG_MAX	8192
#define FZB_SEGS	8

static int fzb_fd = -1;
static uint8_t fzb_buf[FZB_SEGS][FZB_SEG_MAX];

/* Requests that reached the disk (the replay checks that seeds do). */
static unsigned long blk_executed;

static void fzb_fail(const char *why, const struct blk_cmd *c)
{
	fprintf(stderr, "fuzz_blk: %s (op %d status %u off %llu len %llu niov %u nrange %u written %u)\n",
		why, c->op, c->status, (unsigned long long)c->off, (unsigned long long)c->len,
		c->niov, c->nrange, c->written);
	abort();
}

/* Is [p, p + len) inside one of the request's segments of that direction? */
static bool fzb_inside(const struct vduse_req *req, bool writable, const void *p, size_t len)
{
	unsigned int i = writable ? req->nr_readable : 0;
	unsigned int end = writable ? req->nr_readable + req->nr_writable : req->nr_readable;

	for (; i < end; i++) {
		const uint8_t *b = req->iov[i].iov_base;

		if ((const uint8_t *)p >= b && len <= req->iov[i].iov_len &&
		    (size_t)((const uint8_t *)p - b) <= req->iov[i].iov_len - len)
			return true;
	}
	return false;
}

static void fzb_check(const struct blk_disk *d, const struct vduse_req *req, const struct blk_cmd *c)
{
	uint64_t sum = 0;
	unsigned int i;

	if (c->written > req->writable_len - 1)
		fzb_fail("more data written than the chain holds", c);
	switch (c->op) {
	case BLK_OP_READ:
	case BLK_OP_WRITE:
		if (c->status != VIRTIO_BLK_S_OK || !c->len || c->off % d->lbs || c->len % d->lbs ||
		    c->off > d->size || c->len > d->size - c->off)
			fzb_fail("a data command outside the disk or not block-aligned", c);
		if (c->op == BLK_OP_WRITE && d->read_only)
			fzb_fail("a write to a read-only disk", c);
		if (c->niov > req->nr_readable + req->nr_writable)
			fzb_fail("more data segments than the chain has", c);
		if (d->max_seg && c->niov > d->max_seg)
			fzb_fail("more data segments than seg_max", c);
		for (i = 0; i < c->niov; i++) {
			if (!fzb_inside(req, c->op == BLK_OP_READ, c->iov[i].iov_base, c->iov[i].iov_len))
				fzb_fail("a data segment outside the request's buffers", c);
			sum += c->iov[i].iov_len;
		}
		if (sum != c->len)
			fzb_fail("the data segments do not add up to the length", c);
		if (c->op == BLK_OP_READ && c->written != c->len)
			fzb_fail("a read that does not report its length", c);
		break;
	case BLK_OP_DISCARD:
	case BLK_OP_WRITE_ZEROES:
		if (d->read_only || c->status != VIRTIO_BLK_S_OK || !c->nrange ||
		    c->nrange > BLK_MAX_RANGES ||
		    c->nrange > (c->op == BLK_OP_DISCARD ? d->max_discard_seg : d->max_wz_seg))
			fzb_fail("a range command the device did not offer so", c);
		for (i = 0; i < c->nrange; i++) {
			uint64_t max = (uint64_t)(c->op == BLK_OP_DISCARD ? d->max_discard_sectors :
						  d->max_wz_sectors) << 9;

			if (c->range[i].off > d->size || c->range[i].len > d->size - c->range[i].off ||
			    c->range[i].len > max || c->range[i].off % d->lbs || c->range[i].len % d->lbs)
				fzb_fail("a range outside the disk or its limits", c);
		}
		break;
	case BLK_OP_FLUSH:
		if (d->read_only)
			fzb_fail("a flush on a read-only disk", c);
		break;
	case BLK_OP_NONE:
		break;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct blk_disk d = {
		.size = FZB_DISK, .lbs = 512, .max_discard_sectors = 16, .max_discard_seg = 2,
		.max_wz_sectors = 32, .max_wz_seg = 3, .serial = "fuzz-serial-0123456",
	};
	struct iovec seg[FZB_SEGS], scratch[FZB_SEGS];
	struct blk_file f = { 0 };
	struct vduse_req req = { 0 };
	struct blk_cmd c;
	unsigned int nr, nw, i;
	size_t off, k, used;
	struct stat sb;
	int r;

	if (size < 2)
		return 0;
	if (fzb_fd < 0) {
		fzb_fd = memfd_create("fuzz_blk", 0);
		if (fzb_fd < 0 || ftruncate(fzb_fd, FZB_DISK))
			abort();
	}
	d.read_only = data[0] & 1;
	if (!(data[0] & 2))
		d.max_discard_sectors = 0;
	if (!(data[0] & 4))
		d.max_wz_sectors = 0;
	if (data[0] & 8)
		d.lbs = 4096;
	if (data[0] & 16)
		d.max_seg = 2;
	nr = 1 + (data[1] & 3);
	nw = (data[1] >> 2) % 5;
	off = 2;
	for (i = 0; i < nr + nw; i++) {
		size_t len = 0;

		if (off + 2 <= size)
			len = (data[off] | data[off + 1] << 8) % (FZB_SEG_MAX + 1);
		off += 2;
		seg[i].iov_base = fzb_buf[i];
		seg[i].iov_len = len;
		memset(fzb_buf[i], 0xee, FZB_SEG_MAX);
		if (i < nr)
			req.readable_len += len;
		else
			req.writable_len += len;
	}
	/* the readable segments in order get the rest of the input */
	for (i = 0; i < nr; i++) {
		k = off < size ? size - off : 0;
		if (k > seg[i].iov_len)
			k = seg[i].iov_len;
		memset(fzb_buf[i], 0, seg[i].iov_len);
		if (k)
			memcpy(fzb_buf[i], data + off, k);
		off += k;
	}
	req.iov = seg;
	req.nr_readable = nr;
	req.nr_writable = nw;

	r = blk_cmd_parse(&d, &req, &c, scratch);
	if ((r == -EINVAL) != (req.readable_len < sizeof(struct virtio_blk_outhdr) ||
			       req.writable_len < 1) || (r && r != -EINVAL))
		fzb_fail("a chain refused or answered against its room", &c);
	if (r)
		return 0;
	fzb_check(&d, &req, &c);
	f.fd = fzb_fd;
	blk_cmd_exec_sync(&f, &c);
	blk_executed += c.op != BLK_OP_NONE;
	if (fstat(fzb_fd, &sb) || sb.st_size != FZB_DISK)
		fzb_fail("the disk changed its size", &c);
	used = blk_cmd_complete(&req, &c);
	if (used > req.writable_len || used < 1)
		fzb_fail("a used length outside the writable part", &c);
	/* the status is the chain's last writable byte */
	for (i = nr + nw; i-- > nr;)
		if (seg[i].iov_len) {
			if (fzb_buf[i][seg[i].iov_len - 1] != c.status)
				fzb_fail("the status byte is not the last writable byte", &c);
			break;
		}
	return 0;
}
