# SPDX-License-Identifier: GPL-2.0
# libvduse deferred replies (tests/vm/lib/libdrain.c): a device with I/O in
# flight leaves the answer to an unmap (UPDATE_IOTLB) and to a reset pending
# until its I/O is over; the consumer's vhost-vdpa calls return only then.
# --span: the same with the used ring straddling two IOTLB entries whose
# pages are swapped (rings across entries, as with a vIOMMU).
load_mod vduse && load_mod vdpa || return 0
unload_mod virtio_blk && unload_mod virtio_vdpa || return 0
load_mod vhost_vdpa || return 0
run_prog 60 libdrain libdrain0
run_prog 60 libdrain --span libdrain1
unload_mod vhost_vdpa
