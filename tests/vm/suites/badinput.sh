# SPDX-License-Identifier: GPL-2.0
# The bad-input table (tests/vm/guest/badinput.c): every invalid argument of
# the control fd, the device fd, message replies and vhost-vdpa, one TAP
# line each with the errno wanted and got. tests/vm/badinput-table turns
# the lines of the three kernels' runs into docs/robustness.md's table.
# virtio_vdpa must not be loaded, or it would claim the device on
# "vdpa dev add".
load_mod vduse && load_mod vdpa || return 0
unload_mod virtio_blk && unload_mod virtio_net && unload_mod virtio_vdpa || return 0
load_mod vhost_vdpa || return 0
run_prog 180 badinput --impl "$VM_IMPL"
unload_mod vhost_vdpa
