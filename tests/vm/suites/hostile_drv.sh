# SPDX-License-Identifier: GPL-2.0
# A hostile driver against libvduse (docs/robustness.md, "Hostile
# drivers"). Part 1, on every kernel with vhost-vdpa for VDUSE:
# tests/vm/guest/hostile_drv_blk.c is a vhost-vdpa driver of vduse-blk (two
# queues) that writes malformed chains into vq 0, on split and on packed
# rings. Part 2, our module only (it needs the net CVQ in its own group):
# tests/vm/guest/hostile_drv.c drives vduse-net with a libvdpacvq session
# and writes malformed chains into one transmit ring. Either way: loops,
# indices and ids out of range, lengths that wrap, nested indirect tables,
# tables at unmapped (or other-ASID) addresses, avail index or wrap jumps.
# The queue must be marked broken, the other queues and the control path
# must keep serving, and the daemon must live on.
load_mod vduse && load_mod vdpa || return 0
unload_mod virtio_vdpa || return 0
load_mod vhost_vdpa || return 0

printf 'hostile-blk' > /run/hblk.img
truncate -s 1M /run/hblk.img
vduse-blk --num-queues 2 --queue-size 64 --packed --bind vhost_vdpa -v hblk0 /run/hblk.img \
	> /run/hblk0.log 2>&1 &
bpid=$!
wait_log /run/hblk0.log 'bound to vhost_vdpa' $bpid
tap_ok $? "hostile_drv: vduse-blk with 2 queues (split and packed offered) on vhost-vdpa" \
	"$(tail -n 3 /run/hblk0.log)"
run_prog 120 hostile_drv_blk hblk0 /run/hblk0.log split
run_prog 120 hostile_drv_blk hblk0 /run/hblk0.log packed
kill -0 $bpid 2> /dev/null
tap_ok $? "hostile_drv: vduse-blk is still running" "$(tail -n 5 /run/hblk0.log)"
grep -c 'queue marked broken' /run/hblk0.log | sed 's/^/# hostile_drv: vduse-blk: broken queues logged: /'
grep 'queue marked broken' /run/hblk0.log | sed 's/^/# /'
kill -TERM $bpid
i=0
while kill -0 $bpid 2> /dev/null && [ $i -lt 100 ]; do usleep 100000; i=$((i + 1)); done
! kill -0 $bpid 2> /dev/null && [ ! -e /dev/vduse/hblk0 ]
tap_ok $? "hostile_drv: vduse-blk: SIGTERM: the daemon exits and destroys its device"

if [ "$VM_IMPL" != ours ]; then
	echo "ok 1 - hostile_drv: vduse-net # SKIP vduse-net has no control queue on $VM_IMPL (the session needs one)"
	unload_mod vhost_vdpa
	return 0
fi
load_mod vduse && load_mod vdpa && load_mod tun || return 0
unload_mod virtio_net && unload_mod virtio_vdpa || return 0
load_mod vhost_vdpa || return 0

vduse-net --tap htap0 --queue-pairs 2 --offer indirect -v hnet0 > /run/hnet0.log 2>&1 &
hpid=$!
wait_log /run/hnet0.log 'serving: TAP' $hpid
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
