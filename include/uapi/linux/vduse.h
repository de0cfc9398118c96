/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * VDUSE: vDPA Device in Userspace - userspace API.
 *
 * Written by the vduse-asid project from docs/uapi.md (the Linux 7.0 UAPI,
 * API v0 and v1). Layout, names and numbers are identical to the kernel's
 * <linux/vduse.h> so that either header may be used; tests/unit/uapi_layout
 * checks every size, offset and ioctl number.
 *
 * Two file types carry the API:
 *  - /dev/vduse/control: API negotiation, device creation and destruction;
 *  - /dev/vduse/$NAME: one per device, carrying the message channel
 *    (read(2) requests, write(2) responses) and the device ioctls.
 */
#ifndef _UAPI_VDUSE_H_
#define _UAPI_VDUSE_H_

#include <linux/types.h>

#define VDUSE_BASE	0x81

/* The original API: one virtqueue group, one address space. */
#define VDUSE_API_VERSION	0

/* API v1: virtqueue groups and address space IDs (ASIDs). */
#define VDUSE_API_VERSION_1	1

/*
 * Return the API version of this open control file. A file that never set a
 * version reports VDUSE_API_VERSION_1 (Linux 7.0 and later).
 */
#define VDUSE_GET_API_VERSION	_IOR(VDUSE_BASE, 0x00, __u64)

/*
 * Choose the API version for devices created through this open control file.
 * Any version up to VDUSE_API_VERSION_1 is accepted, and may be changed again.
 */
#define VDUSE_SET_API_VERSION	_IOW(VDUSE_BASE, 0x01, __u64)

#define VDUSE_NAME_MAX	256

/**
 * struct vduse_dev_config - arguments of VDUSE_CREATE_DEV
 * @name: device name, NUL-terminated (the kernel forces the last byte to 0)
 * @vendor_id: virtio vendor ID
 * @device_id: virtio device ID (1 net, 2 block, 26 fs)
 * @features: virtio features the device offers
 * @vq_num: number of virtqueues
 * @vq_align: ring alignment in bytes, at most the page size
 * @ngroups: number of virtqueue groups (API v1, 1..0xffff; 0 on API v0)
 * @nas: number of address spaces (API v1, 1..0xffff; 0 on API v0)
 * @reserved: must be zero
 * @config_size: size of @config in bytes, at most the page size
 * @config: initial virtio config space
 */
struct vduse_dev_config {
	char name[VDUSE_NAME_MAX];
	__u32 vendor_id;
	__u32 device_id;
	__u64 features;
	__u32 vq_num;
	__u32 vq_align;
	__u32 ngroups;
	__u32 nas;
	__u32 reserved[11];
	__u32 config_size;
	__u8 config[];
};

/* Create a device; the version of the control file at this call is kept. */
#define VDUSE_CREATE_DEV	_IOW(VDUSE_BASE, 0x02, struct vduse_dev_config)

/* Destroy a device by name; EBUSY while it is on the vDPA bus or open. */
#define VDUSE_DESTROY_DEV	_IOW(VDUSE_BASE, 0x03, char[VDUSE_NAME_MAX])

/**
 * struct vduse_iotlb_entry - one IOTLB mapping (VDUSE_IOTLB_GET_FD)
 * @offset: out: offset into the returned file at which to mmap the range
 * @start: in/out: first IOVA of the range (in: lookup start)
 * @last: in/out: last IOVA of the range, inclusive (in: lookup end)
 * @perm: out: VDUSE_ACCESS_RO, VDUSE_ACCESS_WO or VDUSE_ACCESS_RW
 */
struct vduse_iotlb_entry {
	__u64 offset;
	__u64 start;
	__u64 last;
#define VDUSE_ACCESS_RO 0x1
#define VDUSE_ACCESS_WO 0x2
#define VDUSE_ACCESS_RW 0x3
	__u8 perm;
};

/*
 * Find the first mapping of address space 0 that overlaps [start, last] and
 * return a file descriptor backing it (mmap it MAP_SHARED at @offset, length
 * last - start + 1).
 */
#define VDUSE_IOTLB_GET_FD	_IOWR(VDUSE_BASE, 0x10, struct vduse_iotlb_entry)

/* Return the virtio features the driver negotiated. */
#define VDUSE_DEV_GET_FEATURES	_IOR(VDUSE_BASE, 0x11, __u64)

/**
 * struct vduse_config_data - a write into the device's config space
 * @offset: byte offset into the config space
 * @length: number of bytes in @buffer
 * @buffer: the bytes to write
 */
struct vduse_config_data {
	__u32 offset;
	__u32 length;
	__u8 buffer[];
};

/* Update part of the config space kept by the kernel. */
#define VDUSE_DEV_SET_CONFIG	_IOW(VDUSE_BASE, 0x12, struct vduse_config_data)

/* Raise a config-change interrupt to the virtio driver. */
#define VDUSE_DEV_INJECT_CONFIG_IRQ	_IO(VDUSE_BASE, 0x13)

/**
 * struct vduse_vq_config - arguments of VDUSE_VQ_SETUP
 * @index: virtqueue index, below vduse_dev_config.vq_num
 * @max_size: largest ring size the device supports
 * @reserved1: must be zero
 * @group: virtqueue group of this queue (API v1; must be 0 on API v0)
 * @reserved2: must be zero
 */
struct vduse_vq_config {
	__u32 index;
	__u16 max_size;
	__u16 reserved1;
	__u32 group;
	__u16 reserved2[10];
};

/* Describe one virtqueue; every queue needs one before vdpa dev add. */
#define VDUSE_VQ_SETUP		_IOW(VDUSE_BASE, 0x14, struct vduse_vq_config)

/**
 * struct vduse_vq_state_split - split virtqueue position
 * @avail_index: next available ring index the device will read
 */
struct vduse_vq_state_split {
	__u16 avail_index;
};

/**
 * struct vduse_vq_state_packed - packed virtqueue position
 * @last_avail_counter: driver ring wrap counter the device expects next
 * @last_avail_idx: next descriptor index the device will read
 * @last_used_counter: device ring wrap counter
 * @last_used_idx: next descriptor index the device will write as used
 */
struct vduse_vq_state_packed {
	__u16 last_avail_counter;
	__u16 last_avail_idx;
	__u16 last_used_counter;
	__u16 last_used_idx;
};

/**
 * struct vduse_vq_group_asid - payload of VDUSE_SET_VQ_GROUP_ASID (API v1)
 * @group: virtqueue group being re-bound
 * @asid: address space the group uses from now on
 */
struct vduse_vq_group_asid {
	__u32 group;
	__u32 asid;
};

/**
 * struct vduse_vq_info - arguments of VDUSE_VQ_GET_INFO
 * @index: in: virtqueue index
 * @num: ring size the driver chose
 * @desc_addr: IOVA of the descriptor area
 * @driver_addr: IOVA of the driver (available) area
 * @device_addr: IOVA of the device (used) area
 * @split: start position of a split ring
 * @packed: start position of a packed ring
 * @ready: non-zero once the driver enabled the queue
 */
struct vduse_vq_info {
	__u32 index;
	__u32 num;
	__u64 desc_addr;
	__u64 driver_addr;
	__u64 device_addr;
	union {
		struct vduse_vq_state_split split;
		struct vduse_vq_state_packed packed;
	};
	__u8 ready;
};

/* Read what the driver configured for one virtqueue. */
#define VDUSE_VQ_GET_INFO	_IOWR(VDUSE_BASE, 0x15, struct vduse_vq_info)

/**
 * struct vduse_vq_eventfd - arguments of VDUSE_VQ_SETUP_KICKFD
 * @index: virtqueue index
 * @fd: eventfd signalled on each kick, or VDUSE_EVENTFD_DEASSIGN
 */
struct vduse_vq_eventfd {
	__u32 index;
#define VDUSE_EVENTFD_DEASSIGN -1
	int fd;
};

/* Attach (or detach) the eventfd that the kernel signals on a kick. */
#define VDUSE_VQ_SETUP_KICKFD	_IOW(VDUSE_BASE, 0x16, struct vduse_vq_eventfd)

/* Raise the used-buffer interrupt of one virtqueue (argument: its index). */
#define VDUSE_VQ_INJECT_IRQ	_IOW(VDUSE_BASE, 0x17, __u32)

/**
 * struct vduse_iova_umem - arguments of VDUSE_IOTLB_REG_UMEM/DEREG_UMEM
 * @uaddr: page-aligned userspace memory that backs the bounce region
 * @iova: first IOVA of the region (0)
 * @size: size of the region (the address space's share of bounce_size)
 * @asid: address space of the region (API v1; must be 0 on API v0)
 * @reserved: must be zero
 */
struct vduse_iova_umem {
	__u64 uaddr;
	__u64 iova;
	__u64 size;
	__u32 asid;
	__u32 reserved[5];
};

/* Back an address space's bounce region with userspace memory. */
#define VDUSE_IOTLB_REG_UMEM	_IOW(VDUSE_BASE, 0x18, struct vduse_iova_umem)

/* Undo VDUSE_IOTLB_REG_UMEM. */
#define VDUSE_IOTLB_DEREG_UMEM	_IOW(VDUSE_BASE, 0x19, struct vduse_iova_umem)

/**
 * struct vduse_iova_info - arguments of VDUSE_IOTLB_GET_INFO
 * @start: in/out: lookup start, then first IOVA of the found region
 * @last: in/out: lookup end, then last IOVA of the found region
 * @capability: out: VDUSE_IOVA_CAP_UMEM if the region can take umem
 * @asid: in (echoed back): address space to look in (0 on API v0)
 * @reserved: must be zero
 */
struct vduse_iova_info {
	__u64 start;
	__u64 last;
#define VDUSE_IOVA_CAP_UMEM (1 << 0)
	__u64 capability;
	__u32 asid;
	__u32 reserved[5];
};

/* Describe the first region of an address space overlapping [start, last]. */
#define VDUSE_IOTLB_GET_INFO	_IOWR(VDUSE_BASE, 0x1a, struct vduse_iova_info)

/**
 * struct vduse_iotlb_entry_v2 - arguments of VDUSE_IOTLB_GET_FD2 (API v1)
 * @offset: out: offset into the returned file at which to mmap the range
 * @start: in/out: lookup start, then first IOVA of the mapping
 * @last: in/out: lookup end, then last IOVA of the mapping (inclusive)
 * @perm: out: VDUSE_ACCESS_RO, VDUSE_ACCESS_WO or VDUSE_ACCESS_RW
 * @padding: write zeros
 * @asid: in: address space to look in
 * @reserved: must be zero
 *
 * Flat on purpose: 80 bytes on every ABI. The first 25 bytes match
 * struct vduse_iotlb_entry.
 */
struct vduse_iotlb_entry_v2 {
	__u64 offset;
	__u64 start;
	__u64 last;
	__u8 perm;
	__u8 padding[7];
	__u32 asid;
	__u32 reserved[11];
};

/* VDUSE_IOTLB_GET_FD for any address space; ENOTTY on an API v0 device. */
#define VDUSE_IOTLB_GET_FD2	_IOWR(VDUSE_BASE, 0x1b, struct vduse_iotlb_entry_v2)

/*
 * Messages: read(2) on /dev/vduse/$NAME returns one struct vduse_dev_request;
 * each is answered by write(2) of one struct vduse_dev_response with the same
 * request_id.
 */

/**
 * enum vduse_req_type - message types
 * @VDUSE_GET_VQ_STATE: report a virtqueue's position (vq_state.index)
 * @VDUSE_SET_STATUS: the driver wrote the status byte (s.status; 0 = reset)
 * @VDUSE_UPDATE_IOTLB: mappings in a range changed: drop cached mappings
 *	overlapping it (iova on API v0; iova_v2, for that ASID only, on API v1)
 * @VDUSE_SET_VQ_GROUP_ASID: a group now uses another address space
 *	(vq_group_asid; API v1 only). Answer OK to accept, FAILED to refuse.
 */
enum vduse_req_type {
	VDUSE_GET_VQ_STATE,
	VDUSE_SET_STATUS,
	VDUSE_UPDATE_IOTLB,
	VDUSE_SET_VQ_GROUP_ASID,
};

/**
 * struct vduse_vq_state - virtqueue position in a message
 * @index: virtqueue index
 * @split: position of a split ring
 * @packed: position of a packed ring
 */
struct vduse_vq_state {
	__u32 index;
	union {
		struct vduse_vq_state_split split;
		struct vduse_vq_state_packed packed;
	};
};

/**
 * struct vduse_dev_status - payload of VDUSE_SET_STATUS
 * @status: the new virtio device status byte
 */
struct vduse_dev_status {
	__u8 status;
};

/**
 * struct vduse_iova_range - an inclusive IOVA range (API v0 UPDATE_IOTLB)
 * @start: first IOVA
 * @last: last IOVA
 */
struct vduse_iova_range {
	__u64 start;
	__u64 last;
};

/**
 * struct vduse_iova_range_v2 - an inclusive IOVA range of one address space
 * @start: first IOVA (same offset as in struct vduse_iova_range)
 * @last: last IOVA (same offset as in struct vduse_iova_range)
 * @asid: address space the range belongs to
 * @padding: zero
 */
struct vduse_iova_range_v2 {
	__u64 start;
	__u64 last;
	__u32 asid;
	__u32 padding;
};

/**
 * struct vduse_dev_request - a message from the kernel
 * @type: one of enum vduse_req_type
 * @request_id: echo this in the response
 * @reserved: zero
 * @vq_state: VDUSE_GET_VQ_STATE: only @vq_state.index is set
 * @s: VDUSE_SET_STATUS
 * @iova: VDUSE_UPDATE_IOTLB on an API v0 device
 * @iova_v2: VDUSE_UPDATE_IOTLB on an API v1 device (every ASID, 0 included)
 * @vq_group_asid: VDUSE_SET_VQ_GROUP_ASID (API v1)
 * @padding: fixes the union at 128 bytes
 */
struct vduse_dev_request {
	__u32 type;
	__u32 request_id;
	__u32 reserved[4];
	union {
		struct vduse_vq_state vq_state;
		struct vduse_dev_status s;
		struct vduse_iova_range iova;
		struct vduse_iova_range_v2 iova_v2;
		struct vduse_vq_group_asid vq_group_asid;
		__u32 padding[32];
	};
};

/**
 * struct vduse_dev_response - the answer to one request
 * @request_id: the request's @request_id
 * @result: VDUSE_REQ_RESULT_OK or VDUSE_REQ_RESULT_FAILED
 * @reserved: must be zero
 * @vq_state: for VDUSE_GET_VQ_STATE, the queue's position
 * @padding: fixes the union at 128 bytes
 */
struct vduse_dev_response {
	__u32 request_id;
#define VDUSE_REQ_RESULT_OK	0x00
#define VDUSE_REQ_RESULT_FAILED	0x01
	__u32 result;
	__u32 reserved[4];
	union {
		struct vduse_vq_state vq_state;
		__u32 padding[32];
	};
};

#endif /* _UAPI_VDUSE_H_ */
