# SPDX-License-Identifier: GPL-2.0
# A hostile driver against libvduse (docs/robustness.md, "Hostile
# drivers"): tests/vm/guest/hostile_drv.c drives vduse-net through
# vhost-vdpa with a libvdpacvq session and writes malformed chains into one
# transmit ring (loops, indices out of range, a length that wraps, nested
# indirect tables, tables at unmapped or other-ASID addresses, an avail
# index jump). The queue must be marked broken, the other queues, the
# control queue and the control socket must keep serving, and the daemon
# must live on. Needs the CVQ in its own group: our module only.
if [ "$VM_IMPL" != ours ]; then
	echo "ok 1 - hostile_drv # SKIP vduse-net has no control queue on $VM_IMPL (the session needs one)"
	return 0
fi
load_mod vduse && load_mod vdpa && load_mod tun || return 0
unload_mod virtio_net && unload_mod virtio_vdpa || return 0
load_mod vhost_vdpa || return 0

vduse-net --tap htap0 --queue-pairs 2 --offer indirect -v hnet0 > /run/hnet0.log 2>&1 &
hpid=$!
i=0
until grep -q 'serving: TAP' /run/hnet0.log; do
	kill -0 $hpid 2> /dev/null || break
	i=$((i + 1)); [ $i -gt 200 ] && break
	usleep 100000
done
grep -q 'serving: TAP' /run/hnet0.log
tap_ok $? "hostile_drv: vduse-net with 2 pairs and INDIRECT_DESC started" "$(tail -n 3 /run/hnet0.log)"
/usr/bin/ip link set htap0 up
vdpa dev add name hnet0 mgmtdev vduse
tap_ok $? "hostile_drv: vdpa dev add hnet0 (vhost-vdpa)"

run_prog 240 hostile_drv hnet0 /run/hnet0.log

kill -0 $hpid 2> /dev/null
tap_ok $? "hostile_drv: the daemon is still running" "$(tail -n 5 /run/hnet0.log)"
vduse-netctl hnet0 state > /dev/null
tap_ok $? "hostile_drv: the control socket still answers"
grep -c 'queue marked broken' /run/hnet0.log | sed 's/^/# hostile_drv: broken queues logged: /'
grep 'queue marked broken' /run/hnet0.log | sed 's/^/# /'
vdpa dev del hnet0
kill -TERM $hpid
i=0
while kill -0 $hpid 2> /dev/null && [ $i -lt 100 ]; do usleep 100000; i=$((i + 1)); done
! kill -0 $hpid 2> /dev/null && [ ! -e /dev/vduse/hnet0 ]
tap_ok $? "hostile_drv: SIGTERM: the daemon exits and destroys its device"
unload_mod vhost_vdpa
