# SPDX-License-Identifier: GPL-2.0
# libvduse with two groups and two address spaces, driven through
# vhost-vdpa like a CVQ-shadowing consumer (tests/vm/lib/libasid.c). On a
# v0-only kernel the library must refuse the device with -EOPNOTSUPP.
load_mod vduse && load_mod vdpa || return 0
if [ "$VM_IMPL" = stock612 ]; then
	run_prog 60 libasid --expect-v0-only libasid0
	return 0
fi
unload_mod virtio_blk && unload_mod virtio_vdpa || return 0
load_mod vhost_vdpa || return 0
run_prog 120 libasid --impl "$VM_IMPL" libasid0
unload_mod vhost_vdpa
