/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The null virtio-blk of the library bench (bench/null_*.c): one request
 * served from its iovecs without any backing I/O, so that what is measured
 * is the library (or the raw loop) and the kernel path, not a disk. The
 * three devices share this file, the configuration below and the event loop
 * structure (pop every available request, push each, one notify).
 */
#ifndef VDUSE_BENCH_NULLBLK_H
#define VDUSE_BENCH_NULLBLK_H

#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/uio.h>
#include <linux/virtio_blk.h>
#include <linux/virtio_config.h>
#include <linux/virtio_ring.h>

#define NULLBLK_QUEUE_SIZE	256
#define NULLBLK_CAPACITY	(1ull << 30)	/* bytes; nothing is stored */

/* The features every null device offers (libraries add ACCESS_PLATFORM). */
#define NULLBLK_FEATURES ((1ull << VIRTIO_F_VERSION_1) | \
			  (1ull << VIRTIO_F_ACCESS_PLATFORM) | \
			  (1ull << VIRTIO_RING_F_INDIRECT_DESC) | \
			  (1ull << VIRTIO_RING_F_EVENT_IDX) | \
			  (1ull << VIRTIO_BLK_F_SEG_MAX) | \
			  (1ull << VIRTIO_BLK_F_BLK_SIZE) | \
			  (1ull << VIRTIO_BLK_F_FLUSH))

static inline void nullblk_config(struct virtio_blk_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->capacity = NULLBLK_CAPACITY >> 9;
	cfg->seg_max = NULLBLK_QUEUE_SIZE - 2;
	cfg->blk_size = 512;
}

/*
 * Serve one request: @rd readable iovecs (header first), then @wr writable
 * ones (status byte last). Returns the used length, 0 for a malformed
 * request (no room for a header or a status).
 */
static inline uint32_t nullblk_serve(const struct iovec *rd, unsigned int nrd,
				     const struct iovec *wr, unsigned int nwr)
{
	struct virtio_blk_outhdr hdr;
	const struct iovec *st;
	uint32_t in = 0;
	unsigned int i;
	uint8_t status;

	if (!nrd || rd[0].iov_len < sizeof(hdr) || !nwr || !wr[nwr - 1].iov_len)
		return 0;
	memcpy(&hdr, rd[0].iov_base, sizeof(hdr));
	for (i = 0; i < nwr; i++)
		in += wr[i].iov_len;
	st = &wr[nwr - 1];
	switch (hdr.type) {
	case VIRTIO_BLK_T_IN:
		/* the data is whatever the buffers hold: a null device */
		status = VIRTIO_BLK_S_OK;
		break;
	case VIRTIO_BLK_T_OUT:
	case VIRTIO_BLK_T_FLUSH:
		status = VIRTIO_BLK_S_OK;
		in = 1;
		break;
	case VIRTIO_BLK_T_GET_ID:
		if (nwr > 1)
			snprintf(wr[0].iov_base, wr[0].iov_len, "nullblk");
		status = VIRTIO_BLK_S_OK;
		break;
	default:
		status = VIRTIO_BLK_S_UNSUPP;
		in = 1;
	}
	((uint8_t *)st->iov_base)[st->iov_len - 1] = status;
	return in;
}

#ifdef LIBVDUSE_MAJOR_VERSION
/*
 * libvduse's pass (null_ours.c; bench/reqcost.c counts this very loop):
 * pop every available request, serve and push each.
 */
static inline void nullblk_serve_ours(struct vduse_vq *vq, unsigned long *served,
				      unsigned long *bad)
{
	struct vduse_req *req;
	uint32_t len;

	while (vduse_vq_pop(vq, &req) == 1) {
		len = nullblk_serve(req->iov, req->nr_readable,
				    req->iov + req->nr_readable, req->nr_writable);
		*bad += !len;
		(*served)++;
		vduse_vq_push(req, len);
	}
}
#endif

#ifdef VDUSE_TESTS_RAWVBLK_H
/* The raw loop's chain (null_raw.c, bench/reqcost.c): walked into iovecs and answered. */
static inline uint32_t nullblk_serve_chain(struct rvb *r, uint16_t head)
{
	struct iovec rd[NULLBLK_QUEUE_SIZE], wr[NULLBLK_QUEUE_SIZE];
	unsigned int nrd, nwr;

	if (rvb_chain(r, head, rd, &nrd, wr, &nwr))
		return 0;
	return nullblk_serve(rd, nrd, wr, nwr);
}
#endif

#endif
