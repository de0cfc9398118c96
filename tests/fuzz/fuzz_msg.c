// SPDX-License-Identifier: GPL-2.0
/*
 * Fuzz target: the message handler. The input is a sequence of raw
 * 152-byte struct vduse_dev_request (any type, any payload) fed to the
 * handler of a v1 device with 3 queues, 2 groups and 2 address spaces,
 * with rings laid out in its memory; after each message every queue is
 * drained. Every request must get an answer and nothing may crash.
 */
#include "fuzz_common.h"

static struct fz msg_z;
static bool msg_inited;

static void msg_rings(struct fz *z)
{
	unsigned int q;

	for (q = 0; q < 3; q++) {
		struct vduse_vq_info *vi = &z->fk.vqinfo[q];

		memset(vi, 0, sizeof(*vi));
		vi->index = q;
		vi->num = 16;
		vi->ready = q != 1;
		vi->desc_addr = FZ_WIN + q * 0x1000;
		vi->driver_addr = FZ_WIN + 0x4000 + q * 0x100;
		vi->device_addr = FZ_WIN + 0x5000 + q * 0x200;
		vi->packed.last_avail_counter = 1;
		vi->packed.last_used_counter = 1;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fz *z = fz_get(&msg_z, &msg_inited);
	struct vduse_dev_request rq;
	struct vduse_dev_response rs;
	uint8_t *w0, *w1;
	size_t off, n;
	unsigned int q;

	fz_msg(z->dev, VDUSE_SET_STATUS, 0, 0);
	fz_msg(z->dev, VDUSE_SET_VQ_GROUP_ASID, 0, 0);
	fz_msg(z->dev, VDUSE_SET_VQ_GROUP_ASID, 1, 0);
	if (size < 8)
		return 0;
	z->fk.features = (1ull << 32) | (1ull << 33) | ((uint64_t)(data[0] & 7) << 28);
	if (data[0] & 8)
		z->fk.features |= 1ull << 34;
	msg_rings(z);
	/* ring memory: the first part of the input, repeated in both ASIDs */
	w0 = fk_ptr(&z->fk, 0, FZ_WIN);
	w1 = fk_ptr(&z->fk, 1, FZ_WIN);
	memset(w0, 0, 0x6000);
	n = data[1] * 128u;
	if (n > size - 8)
		n = size - 8;
	memcpy(w0, data + 8, n);
	memcpy(w1, w0, 0x6000);
	for (off = 8 + n; off < size; off += sizeof(rq)) {
		size_t len = size - off < sizeof(rq) ? size - off : sizeof(rq);

		memset(&rq, 0, sizeof(rq));
		memcpy(&rq, data + off, len);
		/* mostly known types, so the interesting paths get exercised */
		if (!(data[2] & 1))
			rq.type %= 8;
		vduse_msg_handle(z->dev, &rq, &rs);
		if (rs.request_id != rq.request_id || rs.result > 1)
			abort();
		if (rq.type == VDUSE_GET_VQ_STATE && rq.vq_state.index < 3 && rs.result)
			abort();
		for (q = 0; q < 3; q++)
			fz_drain(vduse_dev_vq(z->dev, q), 64);
	}
	return 0;
}
