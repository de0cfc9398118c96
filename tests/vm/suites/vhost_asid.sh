# SPDX-License-Identifier: GPL-2.0
# VDUSE vq groups and ASIDs through vhost-vdpa (tests/vm/guest/vhost_asid.c),
# as a CVQ-shadowing consumer uses them. virtio_vdpa must not be loaded,
# or it would claim the device on "vdpa dev add".
load_mod vduse && load_mod vdpa || return 0
unload_mod virtio_blk && unload_mod virtio_vdpa || return 0
load_mod vhost_vdpa || return 0
run_prog 240 vhost_asid --impl "$VM_IMPL"
unload_mod vhost_vdpa
