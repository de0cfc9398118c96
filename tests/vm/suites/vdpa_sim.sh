# SPDX-License-Identifier: GPL-2.0
# vmtest-needs: vdpa_sim
#
# The kernel's reference vDPA net device, vdpa_sim_net (built out of tree by
# tests/vm/build-vdpa-sim: Debian's 6.12 does not build it), as the oracle of
# tools/vdpa-cvq: its probe, the shadow CVQ in ASID 1, save, restore on a
# second simulator and QEMU's migration start, with frames looped back through
# pair 0 (the simulator echoes TX into RX). vdpa_sim does not depend on VDUSE:
# it runs on both 6.12 boots. On our module the same commands go to vduse-net
# too, with the same negotiated features, and the tool's results on the two
# devices must be the same (the ACK/NACK of each command, the state files),
# and each device's saved state must restore on the other.
case $VM_KERNEL in 6.12) ;; *)
	echo "ok 1 - vdpa_sim # SKIP vdpa_sim is built for Debian's 6.12 only"
	return 0 ;;
esac
unload_mod virtio_net && unload_mod virtio_vdpa || return 0
load_mod vdpa && load_mod vhost_vdpa && load_mod vdpa_sim_net || return 0

ip() { /usr/bin/ip "$@"; }
S=/run/vsim
mkdir -p $S
MAC=02:00:00:00:00:0a

offered() { sed -n 's/.*; features \(0x[0-9a-f]*\); max_virtqueue_pairs.*/\1/p' "$1"; }
# acks FILE: the tool's verdict on each command, in order
acks() { grep -E ': (OK|ERR)' "$1" | sed 's/^vdpa-cvq: //'; }

for n in sim0 sim1; do
	vdpa dev add name $n mgmtdev vdpasim_net mac $MAC mtu 1500 && vhost_of $n > $S/$n.vhost
	tap_ok $? "vdpa_sim_net $n bound to vhost_vdpa ($(cat $S/$n.vhost 2> /dev/null))"
done
V0=$(cat $S/sim0.vhost) V1=$(cat $S/sim1.vhost)

# ---- probe ----------------------------------------------------------------
vdpa-cvq probe "$V0" > $S/probe 2>&1
tap_ok $? "probe: vdpa_sim_net is isolated" "$(head -n 1 $S/probe)"
sed 's/^/# sim: /' $S/probe
grep -q ' 2 groups, 2 address spaces' $S/probe
tap_ok $? "probe: vdpa_sim_net has 2 groups and 2 address spaces"

# ---- save, restore, migration start ---------------------------------------
# The simulator's CVQ knows MAC ADDR_SET only: promisc and the VLAN are refused
# (no CTRL_RX, no CTRL_VLAN offered), and the model must stay unchanged. They
# go first: vdpa_sim_net (6.12.95 and 6.12.117) sets its status to ERR once
# per pass of its worker, not per command, so a refused command the worker
# takes in the same pass as an accepted MAC gets the MAC's OK (seen once under
# load: "the device acknowledged RX PROMISC 0, the model rejects it"); after
# refusals the leftover status is ERR, which is their answer anyway.
CMDS="promisc=0 vlan-add=20 mac=02:aa:bb:cc:dd:01"
# shellcheck disable=SC2086
vdpa-cvq save "$V0" --loopback 3 --hold $S/save.hold -o $S/A.json $CMDS > $S/save.out 2> $S/save.err &
tpid=$!
i=0
until [ -s $S/save.hold ] || ! kill -0 $tpid 2> /dev/null || [ $i -gt 300 ]; do usleep 100000; i=$((i + 1)); done
usleep 100000
vdpa dev config show sim0 > $S/sim0.config 2>&1
rm -f $S/save.hold
wait $tpid; rc=$?
sed 's/^/# sim save: /' $S/save.err
[ $rc = 0 ] && grep -q '3 frames looped back' $S/save.err
tap_ok $? "save on sim0: 3 frames looped through pair 0 in ASID 0, the session ended cleanly" "exit $rc"
[ "$(acks $S/save.err | tr '\n' '|')" = "RX PROMISC 0: ERR (model unchanged)|VLAN ADD 20: ERR (model unchanged)|MAC ADDR_SET 02:aa:bb:cc:dd:01: OK|" ]
tap_ok $? "save on sim0: the MAC acknowledged, promisc and the VLAN refused" "$(acks $S/save.err | tr '\n' '|')"
grep -q 'mac 02:aa:bb:cc:dd:01' $S/sim0.config
tap_ok $? "save on sim0: the simulator's config space has the new MAC while the session runs" "$(head -n 2 $S/sim0.config)"
grep -q '"mac": "02:aa:bb:cc:dd:01"' $S/A.json && grep -q '"promisc": true' $S/A.json &&
	grep -q '"vlans": \[\]' $S/A.json && grep -q '"rings": \[{"vq": 0, "pos": 3}, {"vq": 1, "pos": 3}\]' $S/A.json
tap_ok $? "save on sim0: the saved state has the MAC, the defaults otherwise, ring positions 3" "$(tr -d '\n' < $S/A.json)"

vdpa-cvq restore "$V1" $S/A.json --loopback 3 --hold $S/rest.hold -o $S/B.json > $S/rest.out 2> $S/rest.err &
tpid=$!
i=0
until [ -s $S/rest.hold ] || ! kill -0 $tpid 2> /dev/null || [ $i -gt 300 ]; do usleep 100000; i=$((i + 1)); done
usleep 100000
vdpa dev config show sim1 > $S/sim1.config 2>&1
rm -f $S/rest.hold
wait $tpid; rc=$?
sed 's/^/# sim restore: /' $S/rest.err
[ $rc = 0 ] && grep -q '3 frames looped back' $S/rest.err
tap_ok $? "restore on sim1: replayed, 3 frames looped back afterwards" "exit $rc"
grep -q 'mac 02:aa:bb:cc:dd:01' $S/sim1.config
tap_ok $? "restore on sim1: sim1's config space has A's MAC" "$(head -n 2 $S/sim1.config)"
sed 's/"pos": 6/"pos": 3/g' $S/B.json | cmp -s - $S/A.json
tap_ok $? "restore on sim1: the state after the restore equals the saved one (rings 3 frames further)"

vdpa-cvq restore "$V1" $S/A.json --migration-start --loopback 2 -o $S/M.json > $S/mig.out 2> $S/mig.err
rc=$?
sed 's/^/# sim migration start: /' $S/mig.err
[ $rc = 0 ] && grep -q 'migration start: restarted' $S/mig.err && [ "$(grep -c '2 frames looped back' $S/mig.err)" = 2 ]
tap_ok $? "migration start on sim1: reset, every vq in ASID 0 without re-binding, state replayed, frames before and after" "exit $rc"
grep -q '"mac": "02:aa:bb:cc:dd:01"' $S/M.json
tap_ok $? "migration start on sim1: the MAC is still A's"

# ---- the same on vduse-net (our module) -----------------------------------
if [ "$VM_IMPL" != ours ] || ! command -v vduse-net > /dev/null 2>&1; then
	echo "# vdpa_sim: no comparison with vduse-net on $VM_IMPL (VDUSE refuses the net CVQ)"
else
	load_mod vduse && load_mod tun || return 0
	ip netns add simpeer
	ip netns exec simpeer sh -c 'echo 1 > /proc/sys/net/ipv6/conf/default/disable_ipv6; echo 1 > /proc/sys/net/ipv6/conf/all/disable_ipv6'
	nsenter --net=/run/netns/simpeer vduse-net --tap tsim --mac $MAC --mtu 1500 vsim > $S/vsim.log 2>&1 &
	dpid=$!
	i=0
	until grep -q 'serving: TAP' $S/vsim.log || [ $i -gt 200 ]; do usleep 100000; i=$((i + 1)); done
	ip netns exec simpeer ip link set tsim up && vdpa dev add name vsim mgmtdev vduse && vhost_of vsim > $S/vsim.vhost
	tap_ok $? "vduse-net vsim (1 pair, MTU 1500, the same MAC) bound to vhost_vdpa" "$(tail -n 2 $S/vsim.log)"
	VN=$(cat $S/vsim.vhost)
	vdpa-cvq probe "$VN" > $S/nprobe 2>&1
	# the features both offer: the simulator's ANY_LAYOUT, vduse-net's offloads,
	# CTRL_RX, CTRL_VLAN... stay out
	mask=$(printf '0x%x' $(( $(offered $S/probe) & $(offered $S/nprobe) )))
	echo "# features: vdpa_sim_net $(offered $S/probe), vduse-net $(offered $S/nprobe), both $mask"
	# shellcheck disable=SC2086
	vdpa-cvq save "$V0" --features $mask --loopback 3 -o $S/cs.json $CMDS > /dev/null 2> $S/cs.err
	rs=$?
	ip netns exec simpeer tapecho tsim 3 30 > $S/cn.echo 2>&1 &
	epid=$!
	i=0
	until grep -q ready $S/cn.echo || [ $i -gt 50 ]; do usleep 100000; i=$((i + 1)); done
	# shellcheck disable=SC2086
	vdpa-cvq save "$VN" --features $mask --tap-echo 3 -o $S/cn.json $CMDS > /dev/null 2> $S/cn.err
	rn=$?
	wait $epid
	[ $rs = 0 ] && [ $rn = 0 ] && [ "$(acks $S/cs.err)" = "$(acks $S/cn.err)" ]
	tap_ok $? "oracle: the same commands, the same answers on vdpa_sim_net and vduse-net" \
		"sim $rs: $(acks $S/cs.err | tr '\n' '|'); vduse-net $rn: $(acks $S/cn.err | tr '\n' '|')"
	cmp -s $S/cs.json $S/cn.json
	tap_ok $? "oracle: the tool's saved state is the same on both (features, MAC, modes, tables, rings)" \
		"$(diff $S/cs.json $S/cn.json | tr '\n' '|')"
	vdpa-cvq restore "$VN" $S/cs.json -o $S/x1.json > /dev/null 2> $S/x1.err &&
		vdpa-cvq restore "$V1" $S/cn.json -o $S/x2.json > /dev/null 2> $S/x2.err &&
		cmp -s $S/x1.json $S/cs.json && cmp -s $S/x2.json $S/cn.json
	tap_ok $? "oracle: the simulator's state restores on vduse-net and vduse-net's on the simulator, unchanged" \
		"$(tail -n 1 $S/x1.err) $(tail -n 1 $S/x2.err)"
	vdpa dev del vsim
	kill $dpid
	wait $dpid
	ip netns del simpeer
fi
vdpa dev del sim0
vdpa dev del sim1
unload_mod vdpa_sim_net && unload_mod vdpa_sim && unload_mod vringh
unload_mod vhost_vdpa
