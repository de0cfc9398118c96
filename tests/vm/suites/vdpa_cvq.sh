# SPDX-License-Identifier: GPL-2.0
# tools/vdpa-cvq (the consumer, /progs/vdpa-cvq) against the raw test devices
# of tests/vm/guest/vdpa_cvq.c: the isolation probe, the shadow CVQ in
# ASID 1, save/restore in QEMU's order, QEMU's migration start. On upstream
# VDUSE refuses the net CVQ: the tool must say so. virtio_vdpa must not be
# loaded, or it would claim the devices on "vdpa dev add".
if [ "$VM_IMPL" = stock612 ]; then
	echo "ok 1 - vdpa_cvq # SKIP no VDUSE API v1 on Debian's 6.12 vduse"
	return 0
fi
load_mod vduse && load_mod vdpa || return 0
unload_mod virtio_net && unload_mod virtio_vdpa || return 0
load_mod vhost_vdpa || return 0
run_prog 600 vdpa_cvq --impl "$VM_IMPL"
unload_mod vhost_vdpa
