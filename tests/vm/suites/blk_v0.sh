# SPDX-License-Identifier: GPL-2.0
# A raw-ioctl API v0 virtio-blk device, driven by the kernel's virtio-blk
# through virtio-vdpa: I/O through /dev/vda lands in the device's memory.
load_mod vduse && load_mod virtio_vdpa && load_mod virtio_blk || return 0
run_prog 120 rawblk --api 0 rawblk0

# The check above must be able to fail: a device that flips a byte on every
# read has to be caught by it.
timeout 120 rawblk --api 0 --corrupt rawblk1 > /run/corrupt.log 2>&1
grep -q '^not ok [0-9]* - read back matches the pattern' /run/corrupt.log
tap_ok $? "a device returning wrong data is detected" "$(grep -c '^not ok' /run/corrupt.log) failures seen"
