# SPDX-License-Identifier: GPL-2.0
# The VDUSE UAPI contract, rule by rule (tests/vm/guest/conformance.c), with
# the vDPA device driven through vhost-vdpa. virtio_vdpa must not be loaded,
# or it would claim the device on "vdpa dev add".
load_mod vduse && load_mod vdpa || return 0
unload_mod virtio_blk && unload_mod virtio_vdpa || return 0
load_mod vhost_vdpa || return 0
run_prog 240 conformance --impl "$VM_IMPL"
unload_mod vhost_vdpa || return 0

# The kernel virtio path: bounce maps, umem, CVQ policy (virtio-net binds).
load_mod virtio_vdpa && load_mod virtio_net || return 0
run_prog 120 conformance --impl "$VM_IMPL" --virtio
unload_mod virtio_net
