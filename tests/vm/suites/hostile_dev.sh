# SPDX-License-Identifier: GPL-2.0
# A VDUSE device that misbehaves (tests/vm/guest/hostile_dev.c): 22
# behaviours, each checked for a bounded outcome on the vhost-vdpa or
# virtio-blk side, no kernel warning, its name reusable, and a healthy device
# that keeps doing I/O. Needs API v1 (ours, upstream 7.x). The loops under
# I/O run the seconds in /run/robust-seconds (written by the robust_long
# suite for make check-long; 2 s otherwise).
if [ "$VM_IMPL" = stock612 ]; then
	echo "ok 1 - hostile_dev # SKIP no API v1 here"
	return 0
fi
secs=$(cat /run/robust-seconds 2>/dev/null || echo 2)
load_mod vduse && load_mod vdpa || return 0
load_mod virtio_vdpa && load_mod virtio_blk && load_mod vhost_vdpa || return 0
run_prog $((200 + secs * 8)) hostile_dev --impl "$VM_IMPL" --seconds "$secs"
# the program binds devices by hand; later suites expect autoprobe
echo 1 > /sys/bus/vdpa/drivers_autoprobe
# a device left bound with hung I/O would block rmmod for ever
if [ -e /sys/bus/vdpa/devices/hd-bad ]; then
	echo "not ok 1 - hostile_dev: hd-bad is still bound (hung I/O); the modules stay loaded"
	return 0
fi
unload_mod vhost_vdpa
unload_mod virtio_blk
unload_mod virtio_vdpa
