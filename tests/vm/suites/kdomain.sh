# SPDX-License-Identifier: GPL-2.0
# The IOVA domain of a VDUSE device (tests/vm/guest/kdomain.c): no kernel
# data in device-writable bounce pages, user bounce memory never mapped
# through the domain file (and old mappings zapped when it is registered),
# a killed vhost-vdpa client's entries dropped, a stalled REG_UMEM never
# holding up a reset. Expectations per implementation are in the program.
load_mod vduse && load_mod vdpa || return 0
load_mod virtio_vdpa && load_mod virtio_blk || return 0
kd() {
	run_prog 240 kdomain --impl "$VM_IMPL" "$@"
}
kd leak
kd umem
kd uffd
load_mod vhost_vdpa || return 0
kd vhost
unload_mod vhost_vdpa
# last: on a module with the defect it crashed the kernel
kd umem-write
