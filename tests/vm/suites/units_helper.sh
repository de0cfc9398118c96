# SPDX-License-Identifier: GPL-2.0
# dist/systemd/vduse-vdpa, the vDPA half of the vduse-blk@/vduse-net@ units,
# against a real VDUSE daemon (qemu-storage-daemon's vduse-blk export, which
# creates /dev/vduse/NAME and waits, as the unit's daemon does): add and
# bind to virtio_vdpa, add again after a "restart" (kept as is), rebind to
# vhost_vdpa, stop after a failure (devices kept for the restarted daemon),
# clean stop (vdpa dev del, then the daemon's --destroy), and refusals.
load_mod vduse && load_mod virtio_vdpa && load_mod virtio_blk && load_mod vhost_vdpa || return 0
helper=/usr/bin/vduse-vdpa
[ -x $helper ] || { echo "not ok 1 - vduse-vdpa copied into the guest"; return 0; }

img=/run/unit.img
dd if=/dev/zero of=$img bs=1M count=16 2>/dev/null
qemu-storage-daemon \
	--blockdev driver=file,node-name=file0,filename=$img \
	--blockdev driver=raw,node-name=disk0,file=file0 \
	--export type=vduse-blk,id=vb0,node-name=disk0,name=unit0,num-queues=1,writable=on \
	> /run/unit-qsd.log 2>&1 &
qsd=$!
unit_end() {
	vdpa dev del unit0 2>/dev/null
	kill "$qsd" 2>/dev/null
	wait "$qsd" 2>/dev/null
}
drv() { basename "$(readlink -f /sys/bus/vdpa/devices/unit0/driver 2>/dev/null)" 2>/dev/null; }

wait_for /dev/vduse/unit0 30
tap_ok $? "daemon created /dev/vduse/unit0" || { unit_end; return 0; }

$helper add unit0 virtio_vdpa > /run/unit.log 2>&1 && [ "$(drv)" = virtio_vdpa ] && wait_for /dev/vda 30
tap_ok $? "add: vdpa dev add, bound to virtio_vdpa, /dev/vda" "$(drv) $(cat /run/unit.log)"

$helper add unit0 virtio_vdpa > /run/unit.log 2>&1 && [ "$(drv)" = virtio_vdpa ] && [ -e /dev/vda ]
tap_ok $? "add after a restart: the existing vDPA device is kept as it is" "$(drv) $(cat /run/unit.log)"

$helper add unit0 vhost_vdpa > /run/unit.log 2>&1 && [ "$(drv)" = vhost_vdpa ] &&
	wait_for /dev/vhost-vdpa-0 10 && [ ! -e /dev/vda ]
tap_ok $? "add with another driver: rebound to vhost_vdpa (driver_override)" "$(drv) $(cat /run/unit.log)"

SERVICE_RESULT=exit-code $helper stop blk unit0 > /run/unit.log 2>&1 &&
	[ -e /sys/bus/vdpa/devices/unit0 ] && [ -e /dev/vduse/unit0 ]
tap_ok $? "stop after a failure: both devices kept for the restarted daemon" "$(cat /run/unit.log)"

VDUSE_WAIT=1 $helper add nosuch0 virtio_vdpa > /run/unit.log 2>&1
[ $? != 0 ] && grep -q 'did not appear' /run/unit.log
tap_ok $? "add for a device the daemon never created fails after VDUSE_WAIT" "$(cat /run/unit.log)"
$helper add unit0 virtio-vdpa > /run/unit.log 2>&1
[ $? != 0 ] && grep -q 'must be virtio_vdpa or vhost_vdpa' /run/unit.log
tap_ok $? "an unknown driver is refused" "$(cat /run/unit.log)"

# A stand-in for vduse-blk --destroy (the daemon is not in this tree yet);
# the helper's PATH looks in /usr/local/sbin first.
mkdir -p /usr/local/sbin
printf '#!/bin/sh\necho "$*" > /run/unit-destroy.args\n' > /usr/local/sbin/vduse-blk
chmod +x /usr/local/sbin/vduse-blk
SERVICE_RESULT=success $helper stop blk unit0 > /run/unit.log 2>&1 &&
	[ ! -e /sys/bus/vdpa/devices/unit0 ] && [ "$(cat /run/unit-destroy.args)" = "--destroy unit0" ]
tap_ok $? "clean stop: vdpa dev del, then vduse-blk --destroy unit0" "$(cat /run/unit.log)"
rm -f /usr/local/sbin/vduse-blk
unit_end
