// SPDX-License-Identifier: GPL-2.0
/*
 * Fuzz target: split and packed ring parsing. The input becomes the ring
 * memory (descriptors, avail/driver area, used/device area, indirect tables
 * and buffers) of vq 0; byte 0 picks the layout and features, bytes 1-2 the
 * ring size and position. The library must never crash, read outside its
 * mappings or loop, whatever the driver wrote.
 */
#include "fuzz_common.h"

static struct fz ring_z;
static bool ring_inited;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fz *z = fz_get(&ring_z, &ring_inited);
	struct vduse_vq_info *vi = &z->fk.vqinfo[0];
	uint8_t mode, *win;
	uint32_t num;

	if (size < 4)
		return 0;
	mode = data[0];
	fz_msg(z->dev, VDUSE_SET_STATUS, 0, 0);
	z->fk.features = (1ull << 32) | (1ull << 33) | (mode & 1 ? 1ull << 34 : 0) |
			 (mode & 2 ? 1ull << 28 : 0) | (mode & 4 ? 1ull << 29 : 0);
	win = fk_ptr(&z->fk, 0, FZ_WIN);
	memset(win, 0, FZ_WIN_SIZE);
	memcpy(win, data + 4, size - 4 < FZ_WIN_SIZE ? size - 4 : FZ_WIN_SIZE);
	num = mode & 1 ? (data[1] % 64) + 1u : 1u << (data[1] % 9);
	memset(vi, 0, sizeof(*vi));
	vi->num = num;
	vi->ready = 1;
	/* rings at fuzzer-chosen offsets inside the window (or just outside) */
	vi->desc_addr = FZ_WIN + (mode & 8 ? (data[2] & 0xf) * 0x100 : 0);
	vi->driver_addr = FZ_WIN + 0x1000 + (mode & 16 ? data[3] * 2 : 0);
	vi->device_addr = FZ_WIN + 0x2000 + (mode & 32 ? 0xf000 : 0);
	if (mode & 1) {
		vi->packed.last_avail_idx = data[2] % (num + 1);
		vi->packed.last_avail_counter = data[3] & 1;
		vi->packed.last_used_idx = data[2] % (num + 1);
		vi->packed.last_used_counter = (data[3] >> 1) & 1;
	} else {
		vi->split.avail_index = data[2] | (data[3] << 8);
	}
	if (mode & 64)	/* ring through ASID 1 instead */
		fz_msg(z->dev, VDUSE_SET_VQ_GROUP_ASID, 0, 1);
	fz_msg(z->dev, VDUSE_SET_STATUS, 0x0f, 0);
	fz_drain(vduse_dev_vq(z->dev, 0), 300);
	if (mode & 128) {
		/* the driver rewrites the ring while requests are in flight */
		struct vduse_req *req = NULL;

		if (vduse_vq_pop(vduse_dev_vq(z->dev, 0), &req) == 1) {
			fz_msg(z->dev, VDUSE_UPDATE_IOTLB, 0, 0);
			memset(win, data[1], 0x100);
			vduse_vq_push(req, 0);
		}
		fz_drain(vduse_dev_vq(z->dev, 0), 300);
	}
	fz_msg(z->dev, VDUSE_SET_STATUS, 0, 0);
	fz_msg(z->dev, VDUSE_SET_VQ_GROUP_ASID, 0, 0);
	return 0;
}
