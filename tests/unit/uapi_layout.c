// SPDX-License-Identifier: GPL-2.0
/*
 * The UAPI header must stay byte-compatible with Linux 7.0: every struct size,
 * field offset and ioctl number of the VDUSE API v0 and v1 is checked here.
 */
#include <stddef.h>
#include <sys/ioctl.h>
#include "linux/vduse.h"
#include "tap.h"

#define SIZE(t, n) TAP_EQ(sizeof(struct t), n, "sizeof(struct " #t ") == " #n)
#define OFF(t, f, n) TAP_EQ(offsetof(struct t, f), n, "offsetof(" #t ", " #f ") == " #n)
#define FSIZE(t, f, n) TAP_EQ(sizeof(((struct t *)0)->f), n, "sizeof(" #t "." #f ") == " #n)
#define NR(i, n) TAP_EQ((unsigned long)(i), n##UL, #i " == " #n)
#define VAL(v, n) TAP_EQ(v, n, #v " == " #n)

int main(void)
{
	VAL(VDUSE_BASE, 0x81);
	VAL(VDUSE_API_VERSION, 0);
	VAL(VDUSE_API_VERSION_1, 1);
	VAL(VDUSE_NAME_MAX, 256);

	NR(VDUSE_GET_API_VERSION, 0x80088100);
	NR(VDUSE_SET_API_VERSION, 0x40088101);
	NR(VDUSE_CREATE_DEV, 0x41508102);
	NR(VDUSE_DESTROY_DEV, 0x41008103);
	NR(VDUSE_IOTLB_GET_FD, 0xc0208110);
	NR(VDUSE_DEV_GET_FEATURES, 0x80088111);
	NR(VDUSE_DEV_SET_CONFIG, 0x40088112);
	NR(VDUSE_DEV_INJECT_CONFIG_IRQ, 0x00008113);
	NR(VDUSE_VQ_SETUP, 0x40208114);
	NR(VDUSE_VQ_GET_INFO, 0xc0308115);
	NR(VDUSE_VQ_SETUP_KICKFD, 0x40088116);
	NR(VDUSE_VQ_INJECT_IRQ, 0x40048117);
	NR(VDUSE_IOTLB_REG_UMEM, 0x40308118);
	NR(VDUSE_IOTLB_DEREG_UMEM, 0x40308119);
	NR(VDUSE_IOTLB_GET_INFO, 0xc030811a);
	NR(VDUSE_IOTLB_GET_FD2, 0xc050811b);

	SIZE(vduse_dev_config, 336);
	OFF(vduse_dev_config, name, 0);
	FSIZE(vduse_dev_config, name, 256);
	OFF(vduse_dev_config, vendor_id, 256);
	OFF(vduse_dev_config, device_id, 260);
	OFF(vduse_dev_config, features, 264);
	OFF(vduse_dev_config, vq_num, 272);
	OFF(vduse_dev_config, vq_align, 276);
	OFF(vduse_dev_config, ngroups, 280);
	OFF(vduse_dev_config, nas, 284);
	OFF(vduse_dev_config, reserved, 288);
	FSIZE(vduse_dev_config, reserved, 44);
	OFF(vduse_dev_config, config_size, 332);
	OFF(vduse_dev_config, config, 336);

	SIZE(vduse_vq_config, 32);
	OFF(vduse_vq_config, index, 0);
	OFF(vduse_vq_config, max_size, 4);
	OFF(vduse_vq_config, reserved1, 6);
	OFF(vduse_vq_config, group, 8);
	OFF(vduse_vq_config, reserved2, 12);
	FSIZE(vduse_vq_config, reserved2, 20);

	SIZE(vduse_vq_group_asid, 8);
	OFF(vduse_vq_group_asid, group, 0);
	OFF(vduse_vq_group_asid, asid, 4);

	SIZE(vduse_iova_umem, 48);
	OFF(vduse_iova_umem, uaddr, 0);
	OFF(vduse_iova_umem, iova, 8);
	OFF(vduse_iova_umem, size, 16);
	OFF(vduse_iova_umem, asid, 24);
	OFF(vduse_iova_umem, reserved, 28);
	FSIZE(vduse_iova_umem, reserved, 20);

	SIZE(vduse_iova_info, 48);
	OFF(vduse_iova_info, start, 0);
	OFF(vduse_iova_info, last, 8);
	OFF(vduse_iova_info, capability, 16);
	OFF(vduse_iova_info, asid, 24);
	OFF(vduse_iova_info, reserved, 28);
	FSIZE(vduse_iova_info, reserved, 20);
	VAL(VDUSE_IOVA_CAP_UMEM, 1);

	SIZE(vduse_iotlb_entry, 32);
	OFF(vduse_iotlb_entry, offset, 0);
	OFF(vduse_iotlb_entry, start, 8);
	OFF(vduse_iotlb_entry, last, 16);
	OFF(vduse_iotlb_entry, perm, 24);
	VAL(VDUSE_ACCESS_RO, 1);
	VAL(VDUSE_ACCESS_WO, 2);
	VAL(VDUSE_ACCESS_RW, 3);

	SIZE(vduse_iotlb_entry_v2, 80);
	OFF(vduse_iotlb_entry_v2, offset, 0);
	OFF(vduse_iotlb_entry_v2, start, 8);
	OFF(vduse_iotlb_entry_v2, last, 16);
	OFF(vduse_iotlb_entry_v2, perm, 24);
	OFF(vduse_iotlb_entry_v2, padding, 25);
	FSIZE(vduse_iotlb_entry_v2, padding, 7);
	OFF(vduse_iotlb_entry_v2, asid, 32);
	OFF(vduse_iotlb_entry_v2, reserved, 36);
	FSIZE(vduse_iotlb_entry_v2, reserved, 44);

	SIZE(vduse_config_data, 8);
	OFF(vduse_config_data, offset, 0);
	OFF(vduse_config_data, length, 4);
	OFF(vduse_config_data, buffer, 8);

	SIZE(vduse_vq_state_split, 2);
	SIZE(vduse_vq_state_packed, 8);
	OFF(vduse_vq_state_packed, last_avail_counter, 0);
	OFF(vduse_vq_state_packed, last_avail_idx, 2);
	OFF(vduse_vq_state_packed, last_used_counter, 4);
	OFF(vduse_vq_state_packed, last_used_idx, 6);

	SIZE(vduse_vq_info, 48);
	OFF(vduse_vq_info, index, 0);
	OFF(vduse_vq_info, num, 4);
	OFF(vduse_vq_info, desc_addr, 8);
	OFF(vduse_vq_info, driver_addr, 16);
	OFF(vduse_vq_info, device_addr, 24);
	OFF(vduse_vq_info, split, 32);
	OFF(vduse_vq_info, packed, 32);
	OFF(vduse_vq_info, ready, 40);

	SIZE(vduse_vq_eventfd, 8);
	OFF(vduse_vq_eventfd, index, 0);
	OFF(vduse_vq_eventfd, fd, 4);
	VAL(VDUSE_EVENTFD_DEASSIGN, -1);

	VAL(VDUSE_GET_VQ_STATE, 0);
	VAL(VDUSE_SET_STATUS, 1);
	VAL(VDUSE_UPDATE_IOTLB, 2);
	VAL(VDUSE_SET_VQ_GROUP_ASID, 3);

	SIZE(vduse_vq_state, 12);
	OFF(vduse_vq_state, index, 0);
	OFF(vduse_vq_state, split, 4);
	SIZE(vduse_dev_status, 1);
	SIZE(vduse_iova_range, 16);
	SIZE(vduse_iova_range_v2, 24);
	OFF(vduse_iova_range_v2, start, 0);
	OFF(vduse_iova_range_v2, last, 8);
	OFF(vduse_iova_range_v2, asid, 16);
	OFF(vduse_iova_range_v2, padding, 20);

	SIZE(vduse_dev_request, 152);
	OFF(vduse_dev_request, type, 0);
	OFF(vduse_dev_request, request_id, 4);
	OFF(vduse_dev_request, reserved, 8);
	FSIZE(vduse_dev_request, reserved, 16);
	OFF(vduse_dev_request, vq_state, 24);
	OFF(vduse_dev_request, s, 24);
	OFF(vduse_dev_request, iova, 24);
	OFF(vduse_dev_request, iova_v2, 24);
	OFF(vduse_dev_request, iova_v2.asid, 40);
	OFF(vduse_dev_request, vq_group_asid, 24);
	OFF(vduse_dev_request, padding, 24);
	FSIZE(vduse_dev_request, padding, 128);

	SIZE(vduse_dev_response, 152);
	OFF(vduse_dev_response, request_id, 0);
	OFF(vduse_dev_response, result, 4);
	OFF(vduse_dev_response, reserved, 8);
	OFF(vduse_dev_response, vq_state, 24);
	OFF(vduse_dev_response, padding, 24);
	VAL(VDUSE_REQ_RESULT_OK, 0);
	VAL(VDUSE_REQ_RESULT_FAILED, 1);

	return tap_done();
}
