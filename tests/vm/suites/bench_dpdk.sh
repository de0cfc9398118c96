# SPDX-License-Identifier: GPL-2.0
# bench/run-dpdk (make bench-dpdk), not in tests/vm/plan: vduse-net
# against DPDK's VDUSE net device (Debian sid's dpdk-testpmd, API v0),
# taking turns in one boot, each with the kernel's virtio-net over
# virtio-vdpa in namespace "dut" and a TAP in namespace "peer":
#   vduse   devices/net's daemon, its TAP (as bench_net)
#   dpdk    testpmd, io forwarding between its net_vhost port (the VDUSE
#           device) and a net_tap port (its TAP); started only for its
#           own turns (netbench --switch), it busy-polls one CPU (1);
#           the device's queue callbacks on CPU 0
#   dpdk_defirq  the same with the callbacks on the kernel's default CPUs
#   veth    the kernel-only reference
# Then testpmd with 2 queue pairs: what the kernel says.
# vmtest-needs: dpdk
load_mod vduse && load_mod virtio_vdpa && load_mod virtio_net && load_mod tun || return 0
load_mod veth 2>/dev/null
ip() { /usr/bin/ip "$@"; }
BENCH_NET_ROUNDS=1 BENCH_NET_SECONDS=0.1
[ -r /etc/bench.conf ] && . /etc/bench.conf
. /opt/dpdk/env
dut() { ip netns exec dut "$@"; }
peer() { ip netns exec peer "$@"; }
# bind NAME: the vDPA device on virtio-vdpa, its netdev in dut as vNAME ($ifc)
bind() {
	local i=0
	ifc=""
	vdpa dev add name $1 mgmtdev vduse || return 1
	while ! ifc=$(netdev_of $1) && [ $i -lt 50 ]; do usleep 100000; i=$((i + 1)); done
	[ -n "$ifc" ] && ip link set "$ifc" name "v$1" && ip link set "v$1" netns dut && ifc=v$1
}
# sid's testpmd through sid's loader: bookworm's libc stays out of its way;
# vduse_ioctl_log.so logs its VDUSE_SET_API_VERSION and VDUSE_CREATE_DEV
DL=/opt/dpdk/usr/lib/x86_64-linux-gnu
# start_pmd NAME QUEUES: testpmd in namespace peer, interactive on a FIFO;
# waits for its prompt (the VDUSE device exists by then, or it failed)
start_pmd() {
	rm -f /run/$1.in; mkfifo /run/$1.in
	exec 7<> /run/$1.in
	nsenter --net=/run/netns/peer "$DL/ld-linux-x86-64.so.2" --library-path "$DL:$DPDK_PMDS" \
		--preload /progs/vduse_ioctl_log.so /opt/dpdk/usr/bin/dpdk-testpmd --no-huge -m 256 --no-pci --in-memory -l 0-1 \
		-d "$DPDK_PMDS/librte_mempool_ring.so.$DPDK_ABI" -d "$DPDK_PMDS/librte_net_vhost.so.$DPDK_ABI" \
		-d "$DPDK_PMDS/librte_net_tap.so.$DPDK_ABI" \
		--vdev "net_vhost0,iface=/dev/vduse/$1,queues=$2" --vdev "net_tap0,iface=d$1" \
		-- -i --forward-mode=io --nb-cores=1 --rxq=$2 --txq=$2 --total-num-mbufs=16384 \
		< /run/$1.in > /run/$1.log 2>&1 &
	ppid=$!
	wait_log /run/$1.log 'testpmd> ' $ppid 600 || return 1
	[ -e /dev/vduse/$1 ]
}
stop_pmd() {
	echo quit >&7
	local i=0
	while kill -0 $ppid 2> /dev/null && [ $i -lt 100 ]; do usleep 100000; i=$((i + 1)); done
	kill $ppid 2> /dev/null
	wait $ppid
	local rc=$?
	exec 7>&-
	return $rc
}

# DPDK keeps its VDUSE reconnection state in /var/run/vduse
[ -e /var/run ] || { mkdir -p /var && ln -s /run /var/run; }
ip netns add dut && ip netns add peer && dut ip link set lo up && peer ip link set lo up

# -- DPDK's VDUSE device
echo "# benchinfo dpdk: Debian $DPDK_SUITE dpdk-testpmd $DPDK_VERSION"
start_pmd dpdk0 1
tap_ok $? "testpmd starts and creates VDUSE device dpdk0" "$(tail -n 5 /run/dpdk0.log | tr '\n' ' ')" ||
	{ sed 's/^/# testpmd: /' /run/dpdk0.log; return 0; }
grep -E 'VDUSE|vduse|Port [0-9]:' /run/dpdk0.log | grep -v '^testpmd> '  | sed 's/^/# benchinfo testpmd: /'
bind dpdk0
tap_ok $? "DPDK's device bound to virtio-vdpa, netdev $ifc" || { sed 's/^/# testpmd: /' /run/dpdk0.log; return 0; }
difc=$ifc
echo "# benchinfo dpdk netdev $difc: features $(cat /sys/bus/vdpa/devices/dpdk0/virtio*/features 2>/dev/null); queues $(dut ls /sys/class/net/$difc/queues | tr '\n' ' ')"
dut ip addr add 10.7.0.1/24 dev "$difc" && dut ip link set "$difc" up &&
	peer ip addr add 10.7.0.2/24 dev ddpdk0 && peer ip link set ddpdk0 up
tap_ok $? "addresses on the DPDK path"
# forward only during DPDK's turns (and for this first ping)
# testpmd's own output is block-buffered into its log, but its prompt is
# written at once, after the command is done: count prompts
cat > /run/switch <<'EOF'
#!/bin/sh
# /run/switch CMD: one testpmd command, waits until it is done (2 s at most)
n=$(grep -o 'testpmd> ' /run/dpdk0.log | wc -l)
echo "$1" >&7
i=0
until [ "$(grep -o 'testpmd> ' /run/dpdk0.log | wc -l)" -gt "$n" ]; do
	i=$((i + 1)); [ $i -gt 100 ] && exit 1
	usleep 20000
done
EOF
chmod +x /run/switch
# Queue callbacks (the kernel work that injects the device's interrupts, and
# virtio-net's NAPI after it) of DPDK's device: the kernel's default CPUs
# include CPU 1, where testpmd's forwarding lcore spins; "dpdk" turns move
# them to CPU 0 (what a DPDK user does: keep the kernel off the poller's
# CPU), "dpdk_defirq" turns keep the default.
for f in /sys/class/vduse/dpdk0/vq*/irq_cb_affinity; do echo "$f $(cat $f)"; done > /run/aff.orig
sed 's/^/# benchinfo dpdk0 default callback CPUs: /' /run/aff.orig
cat > /run/fwd <<'EOF'
#!/bin/sh
# netbench --switch NAME: forwarding on for the dpdk paths, off for the others
case $1 in
dpdk) want=start; while read -r f m; do echo 1 > $f || exit 1; done < /run/aff.orig ;;
dpdk_defirq) want=start; while read -r f m; do echo $m > $f || exit 1; done < /run/aff.orig ;;
*) want=stop ;;
esac
[ "$(cat /run/fwd.state 2>/dev/null)" = $want ] && exit 0
/run/switch $want || exit 1
echo $want > /run/fwd.state
EOF
chmod +x /run/fwd
/run/fwd dpdk
i=0; until dut ping -c 1 -W 1 10.7.0.2 > /dev/null 2>&1 || [ $i -gt 20 ]; do i=$((i + 1)); done
dut ping -c 3 -i 0.2 10.7.0.2 > /run/ping.log 2>&1
tap_ok $? "ping through DPDK's device (virtio-net -> testpmd -> TAP)" "$(tail -n 2 /run/ping.log | tr '\n' ' ')" ||
	{ sed 's/^/# testpmd: /' /run/dpdk0.log | tail -n 60; }
/run/fwd stop

# -- vduse-net
nsenter --net=/run/netns/peer vduse-net --tap tbnet0 --mtu 1500 --queue-pairs 1 bnet0 > /run/bnet0.log 2>&1 &
dpid=$!
wait_log /run/bnet0.log 'serving: TAP' $dpid
bind bnet0
tap_ok $? "vduse-net with 1 queue pair bound, netdev $ifc" "$(tail -n 3 /run/bnet0.log | tr '\n' ' ')" || return 0
echo "# benchinfo vduse-net: $(head -n 2 /run/bnet0.log | tr '\n' ' ')"
for f in /sys/class/vduse/bnet0/vq*/irq_cb_affinity; do echo "# benchinfo bnet0 callback CPUs: $f $(cat $f)"; done
dut ip addr add 10.9.0.1/24 dev "$ifc" && dut ip link set "$ifc" up &&
	peer ip addr add 10.9.0.2/24 dev tbnet0 && peer ip link set tbnet0 up
ip link add bvetha type veth peer name bvethb && ip link set bvetha netns dut && ip link set bvethb netns peer &&
	dut ip addr add 10.8.0.1/24 dev bvetha && dut ip link set bvetha up &&
	peer ip addr add 10.8.0.2/24 dev bvethb && peer ip link set bvethb up
tap_ok $? "veth pair dut <-> peer (the kernel-only reference)"
i=0; until dut ping -c 1 -W 1 10.9.0.2 > /dev/null 2>&1 || [ $i -gt 20 ]; do i=$((i + 1)); done

timeout 1200 netbench --seconds "$BENCH_NET_SECONDS" --rounds "$BENCH_NET_ROUNDS" --switch /run/fwd \
	vduse=dut/10.9.0.1,peer/10.9.0.2 dpdk=dut/10.7.0.1,peer/10.7.0.2 \
	dpdk_defirq=dut/10.7.0.1,peer/10.7.0.2 veth=dut/10.8.0.1,peer/10.8.0.2
tap_ok $? "netbench: frames delivered both ways on all paths"
/run/fwd vduse > /dev/null 2>&1	# stop forwarding if the last turn was DPDK's
# where frames were lost: the TAPs (tx_dropped: the device did not read them
# in time) and the virtio-net netdevs, over the whole run
for x in "peer ddpdk0" "peer tbnet0" "dut vdpdk0" "dut vbnet0"; do
	set -- $x
	echo "# benchinfo counters $2 (rx_packets rx_dropped tx_packets tx_dropped):" \
		$(ip netns exec $1 cat /sys/class/net/$2/statistics/rx_packets /sys/class/net/$2/statistics/rx_dropped \
			/sys/class/net/$2/statistics/tx_packets /sys/class/net/$2/statistics/tx_dropped)
done
vdpa dev del bnet0
kill $dpid; wait $dpid
tap_ok $? "vduse-net exited cleanly" "$(tail -n 2 /run/bnet0.log | tr '\n' ' ')"
vdpa dev del dpdk0
/run/switch "show port stats all"	# what the ports counted over all dpdk turns
stop_pmd
tap_ok $? "testpmd quit cleanly" "$(tail -n 3 /run/dpdk0.log | tr '\n' ' ')"
grep -A 4 'Accumulated forward statistics' /run/dpdk0.log | tail -n 5 | sed 's/^/# testpmd (last dpdk turn): /'
grep -E 'NIC statistics for port|RX-packets|RX-errors|TX-packets' /run/dpdk0.log | tail -n 8 |
	sed 's/^/# benchinfo testpmd all turns: /'
[ -e /dev/vduse/dpdk0 ] && echo "# benchinfo /dev/vduse/dpdk0 still exists after testpmd quit"

# -- 2 queue pairs: DPDK offers the control queue (and MQ) then
if start_pmd dpdk1 2; then
	echo "# benchinfo dpdk 2 queue pairs on $VM_IMPL: device created"
	if bind dpdk1; then
		echo "# benchinfo dpdk 2 queue pairs on $VM_IMPL: netdev has $(dut ls /sys/class/net/$ifc/queues | tr '\n' ' ')"
		vdpa dev del dpdk1
	else
		echo "# benchinfo dpdk 2 queue pairs on $VM_IMPL: vdpa dev add or bind failed"
	fi
	stop_pmd
else
	echo "# benchinfo dpdk 2 queue pairs on $VM_IMPL: not available:"
	grep -iE 'vduse|error|fail' /run/dpdk1.log | grep -v multiq | head -n 8 | sed 's/^/# benchinfo   /'
	stop_pmd 2> /dev/null
fi
ip netns del dut; ip netns del peer
