# SPDX-License-Identifier: GPL-2.0
# The VDUSE UAPI contract, rule by rule (tests/vm/guest/conformance.c), with
# the vDPA device driven through vhost-vdpa. virtio_vdpa must not be loaded,
# or it would claim the device on "vdpa dev add".
case "$VM_KERNEL/$VM_MODULE" in
7/*) impl=upstream ;;
6.12/stock) impl=stock612 ;;
6.12/ours) impl=ours ;;
*) echo "not ok 1 - conformance: unknown kernel $VM_KERNEL/$VM_MODULE"; return 0 ;;
esac
load_mod vduse && load_mod vdpa || return 0
unload_mod virtio_blk && unload_mod virtio_vdpa || return 0
load_mod vhost_vdpa || return 0
timeout 240 conformance --impl "$impl"
rc=$?
# exit 1 means failed checks, already reported; anything above is a crash or timeout
[ $rc -le 1 ]; tap_ok $? "conformance ran to completion" "exit $rc"
unload_mod vhost_vdpa || return 0

# The kernel virtio path: bounce maps, umem, CVQ policy (virtio-net binds).
load_mod virtio_vdpa && load_mod virtio_net || return 0
timeout 120 conformance --impl "$impl" --virtio
rc=$?
[ $rc -le 1 ]; tap_ok $? "conformance --virtio ran to completion" "exit $rc"
unload_mod virtio_net
