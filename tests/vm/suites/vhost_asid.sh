# SPDX-License-Identifier: GPL-2.0
# VDUSE vq groups and ASIDs through vhost-vdpa (tests/vm/guest/vhost_asid.c),
# as a CVQ-shadowing consumer uses them. virtio_vdpa must not be loaded,
# or it would claim the device on "vdpa dev add".
case "$VM_KERNEL/$VM_MODULE" in
7/*) impl=upstream ;;
6.12/stock) impl=stock612 ;;
6.12/ours) impl=ours ;;
*) echo "not ok 1 - vhost_asid: unknown kernel $VM_KERNEL/$VM_MODULE"; return 0 ;;
esac
load_mod vduse && load_mod vdpa || return 0
unload_mod virtio_blk && unload_mod virtio_vdpa || return 0
load_mod vhost_vdpa || return 0
timeout 240 vhost_asid --impl "$impl"
rc=$?
# exit 1 means failed checks, already reported; anything above is a crash or timeout
[ $rc -le 1 ]; tap_ok $? "vhost_asid ran to completion" "exit $rc"
unload_mod vhost_vdpa
