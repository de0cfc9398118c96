# SPDX-License-Identifier: GPL-2.0
# Address-space isolation proofs (docs/robustness.md, "Isolation"):
# tests/vm/guest/isolation.c walks every ASID with each lookup a device has
# (GET_FD, GET_FD2, GET_INFO), tries vhost-vdpa maps into ASIDs >= nas,
# moves a group and resets; tests/vm/lib/libasid.c shows libvduse
# translating a group's ring and buffers only in the group's ASID, before
# and after SET_GROUP_ASID and reset. Stock 6.12 has one address space.
if [ "$VM_IMPL" = stock612 ]; then
	echo "ok 1 - isolation # SKIP no address spaces on Debian's 6.12 vduse"
	return 0
fi
load_mod vduse && load_mod vdpa || return 0
unload_mod virtio_blk && unload_mod virtio_net && unload_mod virtio_vdpa || return 0
load_mod vhost_vdpa || return 0
run_prog 120 isolation --impl "$VM_IMPL"
run_prog 120 libasid --impl "$VM_IMPL" iso-lib
unload_mod vhost_vdpa
