# SPDX-License-Identifier: GPL-2.0
# Not part of tests/vm/plan: bench/ctl boots it (bench/README.md, "Control
# plane"). vhost-vdpa's address-space control path timed in paired slices by
# tests/vm/guest/ctlbench.c; only "# bench ctl" lines are figures. virtio_vdpa
# must not be loaded, or it would claim the device on "vdpa dev add".
echo "# benchinfo kernel $(uname -r) vduse $VM_MODULE"
load_mod vduse && load_mod vdpa || return 0
unload_mod virtio_blk && unload_mod virtio_vdpa || return 0
load_mod vhost_vdpa || return 0
run_prog 300 ctlbench
unload_mod vhost_vdpa
