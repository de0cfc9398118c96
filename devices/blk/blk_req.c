// SPDX-License-Identifier: GPL-2.0
/*
 * virtio-blk requests: parsing, synchronous execution, completion.
 * See blk_req.h. Everything in a request comes from the driver and is
 * checked here before it is used as an offset or a length.
 */
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <linux/falloc.h>
#include <linux/fs.h>
#include "blk_req.h"

/*
 * Describe bytes [off, off + len) of @iov[0..n) in @out; returns the number
 * of entries, or -1 if the segments are shorter than that.
 */
static int sub_iov(const struct iovec *iov, unsigned int n, uint64_t off, uint64_t len,
		   struct iovec *out)
{
	unsigned int i;
	int k = 0;

	for (i = 0; i < n && len; i++) {
		uint64_t seg = iov[i].iov_len;

		if (off >= seg) {
			off -= seg;
			continue;
		}
		seg -= off;
		if (seg > len)
			seg = len;
		out[k].iov_base = (uint8_t *)iov[i].iov_base + off;
		out[k].iov_len = seg;
		k++;
		len -= seg;
		off = 0;
	}
	return len ? -1 : k;
}

static bool range_ok(const struct blk_disk *d, uint64_t off, uint64_t len)
{
	return off <= d->size && len <= d->size - off && !(off % d->lbs) && !(len % d->lbs);
}

/* DISCARD / WRITE_ZEROES: an array of struct virtio_blk_discard_write_zeroes. */
static void parse_ranges(const struct blk_disk *d, const struct vduse_req *req,
			 struct blk_cmd *c, uint32_t type)
{
	bool discard = type == VIRTIO_BLK_T_DISCARD;
	uint32_t max_sectors = discard ? d->max_discard_sectors : d->max_wz_sectors;
	uint32_t max_seg = discard ? d->max_discard_seg : d->max_wz_seg;
	uint64_t payload = req->readable_len - sizeof(struct virtio_blk_outhdr);
	struct virtio_blk_discard_write_zeroes seg;
	unsigned int i, n;

	c->status = VIRTIO_BLK_S_UNSUPP;
	if (!max_sectors)
		return;			/* not offered */
	c->status = VIRTIO_BLK_S_IOERR;
	if (d->read_only)
		return;
	if (!payload || payload % sizeof(seg) || payload / sizeof(seg) > max_seg)
		return;
	n = payload / sizeof(seg);
	if (n > BLK_MAX_RANGES)
		return;
	c->unmap = true;
	for (i = 0; i < n; i++) {
		uint64_t sector, nsec;
		uint32_t flags;

		vduse_req_read(req, sizeof(struct virtio_blk_outhdr) + i * sizeof(seg), &seg,
			       sizeof(seg));
		sector = le64toh(seg.sector);
		nsec = le32toh(seg.num_sectors);
		flags = le32toh(seg.flags);
		if (flags & ~VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP ||
		    (discard && (flags & VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP))) {
			c->status = VIRTIO_BLK_S_UNSUPP;
			return;
		}
		if (nsec > max_sectors || sector > UINT64_MAX >> 9 ||
		    !range_ok(d, sector << 9, nsec << 9))
			return;
		/* one flag per request is all a file can honour */
		if (!(flags & VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP))
			c->unmap = false;
		c->range[i].off = sector << 9;
		c->range[i].len = nsec << 9;
	}
	c->nrange = n;
	c->op = discard ? BLK_OP_DISCARD : BLK_OP_WRITE_ZEROES;
	c->status = VIRTIO_BLK_S_OK;
}

int blk_cmd_parse(const struct blk_disk *d, const struct vduse_req *req,
		  struct blk_cmd *c, struct iovec *iov)
{
	struct virtio_blk_outhdr hdr;
	uint64_t sector, avail;
	uint32_t type;
	int n;

	memset(c, 0, offsetof(struct blk_cmd, range));
	c->op = BLK_OP_NONE;
	c->status = VIRTIO_BLK_S_IOERR;
	if (req->readable_len < sizeof(hdr) || req->writable_len < 1)
		return -EINVAL;
	vduse_req_read(req, 0, &hdr, sizeof(hdr));
	type = le32toh(hdr.type);
	sector = le64toh(hdr.sector);

	switch (type) {
	case VIRTIO_BLK_T_IN:
	case VIRTIO_BLK_T_OUT:
		if (type == VIRTIO_BLK_T_OUT && d->read_only)
			return 0;
		if (type == VIRTIO_BLK_T_IN) {
			/* the status byte is the last writable byte */
			c->len = req->writable_len - 1;
			n = sub_iov(req->iov + req->nr_readable, req->nr_writable, 0, c->len, iov);
		} else {
			c->len = req->readable_len - sizeof(hdr);
			n = sub_iov(req->iov, req->nr_readable, sizeof(hdr), c->len, iov);
		}
		/*
		 * More data segments than seg_max: the driver broke the limit
		 * it was offered, and one preadv (or io_uring readv, which
		 * refuses more than UIO_MAXIOV) could not take the request.
		 */
		if (n < 0 || (d->max_seg && (unsigned int)n > d->max_seg) ||
		    sector > UINT64_MAX >> 9 || !range_ok(d, sector << 9, c->len))
			return 0;
		c->off = sector << 9;
		c->iov = iov;
		c->niov = n;
		c->op = type == VIRTIO_BLK_T_IN ? BLK_OP_READ : BLK_OP_WRITE;
		c->status = VIRTIO_BLK_S_OK;
		if (type == VIRTIO_BLK_T_IN)
			c->written = c->len;
		if (!c->len)
			c->op = BLK_OP_NONE;
		return 0;
	case VIRTIO_BLK_T_FLUSH:
		c->op = d->read_only ? BLK_OP_NONE : BLK_OP_FLUSH;
		c->status = VIRTIO_BLK_S_OK;
		return 0;
	case VIRTIO_BLK_T_GET_ID: {
		char id[VIRTIO_BLK_ID_BYTES];

		avail = req->writable_len - 1;
		if (avail > sizeof(id))
			avail = sizeof(id);
		memcpy(id, d->serial, sizeof(id));
		c->written = vduse_req_write(req, 0, id, avail);
		c->status = VIRTIO_BLK_S_OK;
		return 0;
	}
	case VIRTIO_BLK_T_DISCARD:
	case VIRTIO_BLK_T_WRITE_ZEROES:
		parse_ranges(d, req, c, type);
		return 0;
	default:
		c->status = VIRTIO_BLK_S_UNSUPP;
		return 0;
	}
}

uint32_t blk_cmd_complete(const struct vduse_req *req, const struct blk_cmd *c)
{
	uint32_t written = c->status == VIRTIO_BLK_S_OK ? c->written : 0;

	if (req->writable_len < 1)
		return 0;
	vduse_req_write(req, req->writable_len - 1, &c->status, 1);
	return written + 1;
}

/* preadv2/pwritev2 the whole range, continuing after short transfers. */
static int rw_sync(const struct blk_file *f, bool write, struct iovec *iov, int n, uint64_t off)
{
	while (n > 0) {
		ssize_t r = write ? pwritev2(f->fd, iov, n, off, f->rw_flags) :
				    preadv2(f->fd, iov, n, off, 0);

		if (r < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (r < 0)
			return -errno;
		if (r == 0)
			return -EIO;	/* the file shrank under us */
		off += r;
		while (n > 0 && (size_t)r >= iov->iov_len) {
			r -= iov->iov_len;
			iov++;
			n--;
		}
		if (n > 0) {
			iov->iov_base = (uint8_t *)iov->iov_base + r;
			iov->iov_len -= r;
		}
	}
	return 0;
}

int blk_range_falloc_mode(const struct blk_file *f, enum blk_op op, bool unmap)
{
	if (op == BLK_OP_DISCARD)
		return f->bdev ? -1 : FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE;
	if (unmap)
		return FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE;
	return FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE;
}

static int write_zeroes(const struct blk_file *f, uint64_t off, uint64_t len)
{
	/* aligned for O_DIRECT */
	static const uint8_t zero[65536] __attribute__((aligned(4096)));

	while (len) {
		size_t n = len < sizeof(zero) ? len : sizeof(zero);
		ssize_t r = pwrite(f->fd, zero, n, off);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return r < 0 ? -errno : -EIO;
		off += r;
		len -= r;
	}
	return 0;
}

static bool unsupported(int err)
{
	return err == -EOPNOTSUPP || err == -EINVAL || err == -ENOTTY || err == -ENOSYS;
}

int blk_range_exec_sync(const struct blk_file *f, enum blk_op op, const struct blk_range *r,
			bool unmap)
{
	int mode = blk_range_falloc_mode(f, op, unmap), err;

	if (!r->len)
		return 0;
	if (mode < 0) {
		uint64_t arg[2] = { r->off, r->len };

		err = ioctl(f->fd, BLKDISCARD, arg) ? -errno : 0;
	} else {
		err = fallocate(f->fd, mode, r->off, r->len) ? -errno : 0;
	}
	if (op == BLK_OP_DISCARD)
		return unsupported(err) ? 0 : err;	/* discard is only a hint */
	if (!unsupported(err))
		return err;
	/* tmpfs has no ZERO_RANGE; a hole reads as zeroes too */
	if (!(mode & FALLOC_FL_PUNCH_HOLE) && !f->bdev) {
		err = fallocate(f->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, r->off, r->len) ?
		      -errno : 0;
		if (!unsupported(err))
			return err;
	}
	return write_zeroes(f, r->off, r->len);
}

void blk_cmd_exec_sync(const struct blk_file *f, struct blk_cmd *c)
{
	unsigned int i;
	int err = 0;

	switch (c->op) {
	case BLK_OP_NONE:
		return;
	case BLK_OP_READ:
	case BLK_OP_WRITE:
		err = rw_sync(f, c->op == BLK_OP_WRITE, c->iov, c->niov, c->off);
		break;
	case BLK_OP_FLUSH:
		err = fdatasync(f->fd) ? -errno : 0;
		break;
	case BLK_OP_DISCARD:
	case BLK_OP_WRITE_ZEROES:
		for (i = 0; i < c->nrange && !err; i++)
			err = blk_range_exec_sync(f, c->op, &c->range[i], c->unmap);
		if (!err && c->op == BLK_OP_WRITE_ZEROES && (f->rw_flags & RWF_DSYNC))
			err = fdatasync(f->fd) ? -errno : 0;
		break;
	}
	if (err)
		c->status = VIRTIO_BLK_S_IOERR;
}

int blk_parse_size(const char *s, uint64_t *out)
{
	unsigned long long v;
	unsigned int shift = 0;
	char *end;

	errno = 0;
	if (!s || *s < '0' || *s > '9')
		return -EINVAL;
	v = strtoull(s, &end, 0);
	if (errno)
		return -EINVAL;
	switch (*end) {
	case 'k': case 'K': shift = 10; end++; break;
	case 'm': case 'M': shift = 20; end++; break;
	case 'g': case 'G': shift = 30; end++; break;
	case 't': case 'T': shift = 40; end++; break;
	}
	if (*end == 'i' && shift)
		end++;
	if (*end == 'B' || *end == 'b')
		end++;
	if (*end || (shift && v > UINT64_MAX >> shift))
		return -EINVAL;
	*out = (uint64_t)v << shift;
	return 0;
}
