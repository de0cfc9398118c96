/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Shared set-up of the libvduse fuzz targets: one fake kernel and device
 * per process (tests/unit/lib/fake_kernel.h), reused across inputs; each
 * input resets the device through the message handler itself.
 */
#ifndef FUZZ_COMMON_H
#define FUZZ_COMMON_H

#include "fake_kernel.h"

#define FZ_WIN		0x100000ull	/* IOVA of the fuzzed window */
#define FZ_WIN_SIZE	0x10000u	/* mapped RW in both ASIDs */
#define FZ_RO		(FZ_WIN + FZ_WIN_SIZE)	/* 4 KiB read-only after it */

struct fz {
	struct vduse_dev *dev;
	struct fake_kernel fk;		/* last: ends in a flexible array */
};

static inline void fz_quiet(void *u, enum vduse_log_level l, const char *m)
{
	(void)u;
	if (getenv("FUZZ_VERBOSE"))
		fprintf(stderr, "lib[%d]: %s\n", l, m);
}

/* Create the device once: 3 queues, 2 groups (vq 2 alone), 2 ASes. */
static inline struct fz *fz_get(struct fz *z, bool *inited)
{
	static const uint32_t groups[3] = { 0, 0, 1 };
	LIBVDUSE_OPTS(vduse_dev_opts, o, .name = "fuzz", .device_id = 1, .num_queues = 3,
		      .queue_size = 256, .ngroups = 2, .nas = 2, .queue_group = groups,
		      .log = fz_quiet, .log_level = VDUSE_LOG_DEBUG);

	if (*inited)
		return z;
	fk_init(&z->fk, 1);
	fk_map(&z->fk, 0, FZ_WIN, FZ_WIN_SIZE, 0, VDUSE_ACCESS_RW);
	fk_map(&z->fk, 0, FZ_RO, 0x1000, 0x20000, VDUSE_ACCESS_RO);
	fk_map(&z->fk, 1, FZ_WIN, FZ_WIN_SIZE, 0x40000, VDUSE_ACCESS_RW);
	fk_map(&z->fk, 1, FZ_RO, 0x1000, 0x60000, VDUSE_ACCESS_WO);
	if (vduse__dev_create(&o, &fk_backend, &z->fk, &z->dev))
		abort();
	*inited = true;
	return z;
}

static inline int fz_msg(struct vduse_dev *dev, uint32_t type, uint32_t a, uint32_t b)
{
	struct vduse_dev_request rq;
	struct vduse_dev_response rs;

	memset(&rq, 0, sizeof(rq));
	rq.type = type;
	if (type == VDUSE_SET_STATUS)
		rq.s.status = a;
	else if (type == VDUSE_UPDATE_IOTLB) {
		rq.iova_v2.start = 0;
		rq.iova_v2.last = UINT64_MAX;
		rq.iova_v2.asid = a;
	} else {
		rq.vq_group_asid.group = a;
		rq.vq_group_asid.asid = b;
	}
	return vduse_msg_handle(dev, &rq, &rs);
}

/* Pop everything a queue offers, touch every byte, push it back. */
static inline void fz_drain(struct vduse_vq *vq, unsigned int max)
{
	struct vduse_req *held[8];
	unsigned int nheld = 0, i, k;

	for (i = 0; i < max; i++) {
		struct vduse_req *req;
		volatile uint8_t sink = 0;

		if (vduse_vq_pop(vq, &req) != 1)
			break;
		for (k = 0; k < req->nr_readable; k++) {
			const uint8_t *p = req->iov[k].iov_base;
			size_t j;

			for (j = 0; j < req->iov[k].iov_len; j += 512)
				sink ^= p[j];
			if (req->iov[k].iov_len)
				sink ^= p[req->iov[k].iov_len - 1];
		}
		for (k = req->nr_readable; k < req->nr_readable + req->nr_writable; k++) {
			uint8_t *p = req->iov[k].iov_base;

			if (req->iov[k].iov_len) {
				p[0] = sink;
				p[req->iov[k].iov_len - 1] = 0xa5;
			}
		}
		/* keep a few in flight to complete out of order */
		if (nheld < 8 && (i & 1))
			held[nheld++] = req;
		else
			vduse_vq_push(req, (uint32_t)req->writable_len);
	}
	while (nheld)
		vduse_vq_push(held[--nheld], 1);
	vduse_vq_notify(vq);
}

#endif
