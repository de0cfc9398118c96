/* SPDX-License-Identifier: GPL-2.0 */
/*
 * virtio-blk request handling shared by vduse-blk, bench/benchdev and the
 * VM test device tests/vm/lib/libblk: parse a request popped with libvduse
 * into a command, execute it (synchronously here; vduse-blk also has an
 * io_uring path), write the status byte.
 */
#ifndef VDUSE_BLK_REQ_H
#define VDUSE_BLK_REQ_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>
#include <linux/virtio_blk.h>
#include "vduse/libvduse.h"

/* Most discard / write-zeroes segments in one request (max_*_seg). */
#define BLK_MAX_RANGES	16

/* What the device exports. */
struct blk_disk {
	uint64_t size;			/* bytes, a multiple of @lbs */
	uint32_t lbs;			/* logical block size */
	uint32_t max_seg;		/* most data segments of a read or write
					 * (the offered seg_max); 0: no limit */
	bool read_only;
	uint32_t max_discard_sectors;	/* 0: no discard */
	uint32_t max_discard_seg;
	uint32_t max_wz_sectors;	/* 0: no write zeroes */
	uint32_t max_wz_seg;
	char serial[VIRTIO_BLK_ID_BYTES];	/* NUL-padded, not terminated at 20 */
};

/* The backing file. */
struct blk_file {
	int fd;
	bool bdev;			/* a block device (BLKDISCARD, ...) */
	int rw_flags;			/* pwritev2() flags: RWF_DSYNC for write-through */
};

enum blk_op {
	BLK_OP_NONE,		/* nothing to execute: status (and data) already set */
	BLK_OP_READ,
	BLK_OP_WRITE,
	BLK_OP_FLUSH,
	BLK_OP_DISCARD,
	BLK_OP_WRITE_ZEROES,
};

struct blk_range {
	uint64_t off, len;	/* bytes */
};

struct blk_cmd {
	enum blk_op op;
	uint8_t status;		/* VIRTIO_BLK_S_* */
	uint32_t written;	/* data bytes for the driver, on success */
	uint64_t off, len;	/* READ / WRITE */
	struct iovec *iov;	/* READ / WRITE data (the caller's array) */
	unsigned int niov;
	unsigned int nrange;	/* DISCARD / WRITE_ZEROES */
	bool unmap;		/* WRITE_ZEROES may deallocate */
	struct blk_range range[BLK_MAX_RANGES];
};

/*
 * Parse @req into @c. @iov must have room for req->nr_readable +
 * req->nr_writable entries; READ and WRITE point c->iov into it. Malformed
 * requests get IOERR, unknown types or flags UNSUPP (c->op is then NONE).
 * Returns -EINVAL only when the chain has no room for header and status:
 * such a request cannot be answered and is pushed with length 0.
 */
int blk_cmd_parse(const struct blk_disk *d, const struct vduse_req *req,
		  struct blk_cmd *c, struct iovec *iov);

/* Write the status byte; returns the used length for vduse_vq_push(). */
uint32_t blk_cmd_complete(const struct vduse_req *req, const struct blk_cmd *c);

/* Execute @c with blocking system calls; sets c->status. */
void blk_cmd_exec_sync(const struct blk_file *f, struct blk_cmd *c);

/*
 * One discard or write-zeroes range, blocking, with the fallbacks that
 * make it work on any file: 0 or a negative errno.
 */
int blk_range_exec_sync(const struct blk_file *f, enum blk_op op, const struct blk_range *r,
			bool unmap);

/* fallocate() mode for a range (io_uring path); -1 where only an ioctl works. */
int blk_range_falloc_mode(const struct blk_file *f, enum blk_op op, bool unmap);

/* Parse "4096", "64K", "1M", "2G", "1T" (binary units). 0 or -EINVAL. */
int blk_parse_size(const char *s, uint64_t *out);

#endif
