# SPDX-License-Identifier: GPL-2.0
# Races between the users of a VDUSE device (tests/vm/guest/concurrency.c):
# parallel create/destroy, set_map on two ASIDs against GET_FD2 + mmap,
# SET_GROUP_ASID against reset and "vdpa dev del", vhost-vdpa close against
# device fd close. Each runs the seconds in /run/robust-seconds (robust_long,
# make check-long) or 2 s. Needs API v1 (ours, upstream 7.x).
if [ "$VM_IMPL" = stock612 ]; then
	echo "ok 1 - concurrency # SKIP no API v1 here"
	return 0
fi
secs=$(cat /run/robust-seconds 2>/dev/null || echo 2)
load_mod vduse && load_mod vdpa || return 0
unload_mod virtio_blk && unload_mod virtio_net && unload_mod virtio_vdpa || return 0
load_mod vhost_vdpa || return 0
run_prog $((150 + secs * 8)) concurrency --impl "$VM_IMPL" --seconds "$secs"
unload_mod vhost_vdpa
