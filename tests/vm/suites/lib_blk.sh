# SPDX-License-Identifier: GPL-2.0
# libvduse: a RAM-backed virtio-blk built on the library's public API,
# driven by the kernel's virtio-blk through virtio-vdpa. The library picks
# API v1 where the kernel offers it and falls back to v0 on stock 6.12.
load_mod vduse && load_mod virtio_vdpa && load_mod virtio_blk || return 0
api=1
[ "$VM_IMPL" = stock612 ] && api=0
run_prog 120 libblk --expect-api $api --umem libblk0
run_prog 120 libblk --expect-api $api --indirect --event-idx libblk1
run_prog 120 libblk --expect-api $api --packed --indirect --event-idx libblk2

# The comparison must be able to fail: a device corrupting reads is caught.
timeout 120 libblk --corrupt libblk3 > /run/libcorrupt.log 2>&1
grep -q '^not ok [0-9]* - first daemon: read back matches the pattern' /run/libcorrupt.log
tap_ok $? "libblk: a device returning wrong data is detected" "$(grep -c '^not ok' /run/libcorrupt.log) failures"
