# SPDX-License-Identifier: GPL-2.0
# bench/run-net (make bench-net), not in tests/vm/plan: UDP frames per
# second and round trips through vduse-net (devices/net): the kernel's
# virtio-net over virtio-vdpa in namespace "dut" <-> the daemon's TAP in
# namespace "peer", taking turns (netbench) with a veth pair between the
# same namespaces, the kernel-only reference. Then vduse-net with 2 queue
# pairs: how many queues the driver gets.
load_mod vduse && load_mod virtio_vdpa && load_mod virtio_net && load_mod tun || return 0
load_mod veth 2>/dev/null
ip() { /usr/bin/ip "$@"; }
BENCH_NET_ROUNDS=1 BENCH_NET_SECONDS=0.1
[ -r /etc/bench.conf ] && . /etc/bench.conf
dut() { ip netns exec dut "$@"; }
peer() { ip netns exec peer "$@"; }
# start NAME PAIRS: vduse-net in namespace peer, bound, its netdev in dut ($ifc)
start() {
	nsenter --net=/run/netns/peer vduse-net --tap t$1 --mtu 1500 --queue-pairs $2 $1 > /run/$1.log 2>&1 &
	dpid=$!
	wait_log /run/$1.log 'serving: TAP' $dpid || return 1
	vdpa dev add name $1 mgmtdev vduse || return 1
	local i=0
	while ! ifc=$(netdev_of $1) && [ $i -lt 50 ]; do usleep 100000; i=$((i + 1)); done
	[ -n "$ifc" ] && ip link set "$ifc" netns dut
}

ip netns add dut && ip netns add peer && dut ip link set lo up && peer ip link set lo up
start bnet0 1
tap_ok $? "vduse-net with 1 queue pair bound, netdev $ifc" "$(tail -n 3 /run/bnet0.log | tr '\n' ' ')" || return 0
echo "# benchinfo vduse-net: $(head -n 2 /run/bnet0.log | tr '\n' ' ')"
dut ip addr add 10.9.0.1/24 dev "$ifc" && dut ip link set "$ifc" up &&
	peer ip addr add 10.9.0.2/24 dev tbnet0 && peer ip link set tbnet0 up
ip link add bvetha type veth peer name bvethb && ip link set bvetha netns dut && ip link set bvethb netns peer &&
	dut ip addr add 10.8.0.1/24 dev bvetha && dut ip link set bvetha up &&
	peer ip addr add 10.8.0.2/24 dev bvethb && peer ip link set bvethb up
tap_ok $? "veth pair dut <-> peer (the kernel-only reference)"
i=0; until dut ping -c 1 -W 1 10.9.0.2 > /dev/null 2>&1 || [ $i -gt 20 ]; do i=$((i + 1)); done
echo "# benchinfo netdev $ifc: $(ls /sys/class/net 2>/dev/null | wc -l) host ifs; queues $(dut ls /sys/class/net/$ifc/queues | tr '\n' ' ')"
timeout 900 netbench --seconds "$BENCH_NET_SECONDS" --rounds "$BENCH_NET_ROUNDS" \
	vduse=dut/10.9.0.1,peer/10.9.0.2 veth=dut/10.8.0.1,peer/10.8.0.2
tap_ok $? "netbench: frames delivered both ways on both paths"
vdpa dev del bnet0
kill $dpid; wait $dpid
tap_ok $? "vduse-net exited cleanly" "$(tail -n 2 /run/bnet0.log | tr '\n' ' ')"

# 2 pairs need MQ, which needs the control queue: what does the driver get?
if start bnet1 2; then
	echo "# benchinfo 2 queue pairs on $VM_IMPL: the netdev has $(dut ls /sys/class/net/$ifc/queues | tr '\n' ' ')"
	vdpa dev del bnet1
	kill $dpid; wait $dpid
else
	echo "# benchinfo 2 queue pairs on $VM_IMPL: not available: $(tail -n 3 /run/bnet1.log | tr '\n' ' ')"
	kill $dpid 2>/dev/null; wait $dpid 2>/dev/null
fi
ip netns del dut; ip netns del peer
