# SPDX-License-Identifier: GPL-2.0
# vduse-net bound to virtio-vdpa: the kernel's virtio-net netdev in network
# namespace "dut", the daemon and its TAP in namespace "peer". Ping and TCP
# with verified bytes both ways, the MAC from config space, link changes seen
# by the driver, the state over the control socket, a restart after kill -9
# (no reset, traffic resumes, a transfer across the crash completes), one
# with a corrupt state file (refused, then re-attached with the file back),
# and a clean shutdown. Stock 6.12 and 7.x refuse a net control queue: the daemon
# must start without one, saying so once; our module accepts it (API v1,
# the CVQ alone in its group) and hides it from virtio-vdpa.
load_mod vduse && load_mod virtio_vdpa && load_mod virtio_net && load_mod tun || return 0

# iproute2's ip (busybox's, which the shell prefers, has no netns)
ip() { /usr/bin/ip "$@"; }
MAC=52:54:00:12:34:56
D=10.9.0.1 P=10.9.0.2
dut() { ip netns exec dut "$@"; }
peer() { ip netns exec peer "$@"; }

# The netdev virtio-net made for vDPA device $1.

# start_daemon NAME LOG ARGS...: vduse-net in namespace peer, in the background.
start_daemon() {
	local name=$1 log=$2
	shift 2
	# nsenter execs the daemon itself: $dpid is the daemon
	nsenter --net=/run/netns/peer vduse-net "$@" "$name" > "$log" 2>&1 &
	dpid=$!
	wait_log "$log" 'serving: TAP' $dpid
}

# xfer FROM-NS TO-NS TO-ADDR PORT FILE: TCP from one namespace to the other;
# the received bytes must equal FILE.
xfer() {
	rm -f /run/recv
	ip netns exec "$2" timeout 120 nc -l -p "$4" -e /run/sink &
	local srv=$!
	sleep 1
	ip netns exec "$1" timeout 120 nc "$3" "$4" < "$5"
	wait $srv
	[ "$(sha256sum < /run/recv)" = "$(sha256sum < "$5")" ]
}

# The TCP server's program: the received bytes to /run/recv, until EOF.
printf '#!/bin/sh\nexec cat > /run/recv\n' > /run/sink
chmod +x /run/sink
operstate() { dut cat "/sys/class/net/$ifc/operstate"; }

ip netns add dut && ip netns add peer
tap_ok $? "namespaces dut and peer"
peer ip link set lo up
dut ip link set lo up

start_daemon vnet0 /run/vnet0.log --tap vtap0 --mac $MAC --mtu 1500 -v
tap_ok $? "vduse-net started (control socket up)" "$(tail -n 3 /run/vnet0.log)"
refusals=$(grep -c 'refuses a virtio-net control queue' /run/vnet0.log)
if [ "$VM_IMPL" = ours ]; then
	[ "$refusals" = 0 ] && grep -q 'control queue in its own group' /run/vnet0.log
	tap_ok $? "our module: created with a control queue in its own group" "$(cat /run/vnet0.log)"
else
	[ "$refusals" = 1 ] && grep -q 'created (VDUSE API' /run/vnet0.log
	tap_ok $? "$VM_IMPL: CVQ refused by the kernel, said once, started without it" \
		"$refusals times; $(head -n 3 /run/vnet0.log)"
fi
peer ip link show vtap0 > /dev/null 2>&1
tap_ok $? "TAP vtap0 created in namespace peer"

vdpa dev add name vnet0 mgmtdev vduse
tap_ok $? "vdpa dev add vnet0"
i=0
while ! ifc=$(netdev_of vnet0) && [ $i -lt 50 ]; do usleep 100000; i=$((i + 1)); done
[ -n "$ifc" ]
tap_ok $? "virtio-net made a netdev ($ifc)"
ip link set "$ifc" netns dut
dut ip addr add $D/24 dev "$ifc" && dut ip link set "$ifc" up &&
	peer ip addr add $P/24 dev vtap0 && peer ip link set vtap0 up
tap_ok $? "addresses: $ifc=$D in dut, vtap0=$P in peer"

dut ip -o link show "$ifc" | grep -q "link/ether $MAC"
tap_ok $? "the netdev has the MAC from config space" "$(dut ip -o link show "$ifc")"
[ "$(dut cat /sys/class/net/$ifc/mtu)" = 1500 ]
tap_ok $? "MTU 1500 from config space" "$(dut cat /sys/class/net/$ifc/mtu)"

i=0
until [ "$(operstate)" = up ] || [ $i -gt 50 ]; do usleep 100000; i=$((i + 1)); done
[ "$(operstate)" = up ]
tap_ok $? "operstate up" "$(operstate)"
dut ping -c 3 -W 5 $P > /run/ping1 2>&1
tap_ok $? "ping dut -> peer" "$(tail -n 2 /run/ping1)"
peer ping -c 3 -W 5 $D > /run/ping2 2>&1
tap_ok $? "ping peer -> dut" "$(tail -n 2 /run/ping2)"

dd if=/dev/urandom of=/run/data bs=64k count=32 2> /dev/null
xfer dut peer $P 5001 /run/data
tap_ok $? "TCP dut -> peer: 2 MiB, bytes verified" "$(wc -c < /run/recv) bytes"
xfer peer dut $D 5002 /run/data
tap_ok $? "TCP peer -> dut: 2 MiB, bytes verified" "$(wc -c < /run/recv) bytes"

# Link status through the control socket: a config interrupt each time.
vduse-netctl vnet0 link down
i=0
until [ "$(operstate)" = down ] || [ $i -gt 50 ]; do usleep 100000; i=$((i + 1)); done
[ "$(operstate)" = down ] && [ "$(dut cat /sys/class/net/$ifc/carrier)" = 0 ]
tap_ok $? "link down: the driver sees carrier off" "operstate $(operstate)"
dut ping -c 1 -W 2 $P > /dev/null 2>&1
[ $? != 0 ]
tap_ok $? "link down: no traffic"
vduse-netctl vnet0 link up
i=0
until [ "$(operstate)" = up ] || [ $i -gt 50 ]; do usleep 100000; i=$((i + 1)); done
[ "$(operstate)" = up ]
tap_ok $? "link up again: operstate up" "$(operstate)"
dut ping -c 2 -W 5 $P > /dev/null 2>&1
tap_ok $? "link up again: ping"

vduse-netctl vnet0 state > /run/state.json
grep -q '"link":"up"' /run/state.json && grep -q "\"mac\":\"$MAC\"" /run/state.json &&
	grep -q '"running":true' /run/state.json &&
	grep -q '"role":"rx","group":0,"asid":0,"started":true' /run/state.json
tap_ok $? "vduse-netctl state: JSON with link, MAC, queues" "$(head -c 300 /run/state.json)"
pk=$(sed 's/.*"index":1,"role":"tx"[^}]*"packets":\([0-9]*\).*/\1/' /run/state.json)
[ "${pk:-0}" -gt 100 ] 2> /dev/null
tap_ok $? "state: tx counters count the traffic ($pk packets)"
# Ring positions as libvduse sees them: the receive queue holds the buffers
# the driver posted (avail = avail_idx - last_avail_idx), the idle transmit
# queue has used every buffer it took.
ringf() {	# FILE QUEUE FIELD
	grep -o "\"index\":$2,[^{]*\"ring\":{[^}]*}" "$1" | sed "s/.*\"$3\":\([a-z0-9]*\).*/\1/"
}
ra=$(ringf /run/state.json 0 avail_idx) rl=$(ringf /run/state.json 0 last_avail_idx)
rn=$(ringf /run/state.json 0 avail) rv=$(ringf /run/state.json 0 valid)
[ "$rv" = true ] && [ "${rn:-0}" -gt 0 ] && [ $(( (ra - rl) & 65535 )) = "$rn" ]
tap_ok $? "state: rx ring avail_idx $ra, last_avail_idx $rl, $rn buffers posted" \
	"$(grep -o '"index":0,[^{]*"ring":{[^}]*}' /run/state.json)"
ta=$(ringf /run/state.json 1 avail_idx) tl=$(ringf /run/state.json 1 last_avail_idx)
tu=$(ringf /run/state.json 1 used_idx) tn=$(ringf /run/state.json 1 avail)
[ "$ta" = "$tl" ] && [ "$tl" = "$tu" ] && [ "$tn" = 0 ] && [ "${tu:-0}" -gt 100 ]
tap_ok $? "state: tx ring all used (avail_idx $ta = last_avail_idx $tl = used_idx $tu)" \
	"$(grep -o '"index":1,[^{]*"ring":{[^}]*}' /run/state.json)"
if [ "$VM_IMPL" = ours ]; then
	grep -q '"cvq":{"present":true,"negotiated":false,"index":2' /run/state.json &&
		grep -q '"groups":\[{"group":0,"asid":0},{"group":1,"asid":0}\]' /run/state.json
	tap_ok $? "state: CVQ present, hidden from virtio-vdpa, vq 2 in group 1" \
		"$(grep -o '"cvq":{[^}]*}' /run/state.json)"
fi
vduse-netctl vnet0 bogus > /dev/null 2>&1
[ $? = 1 ]
tap_ok $? "vduse-netctl: an unknown command fails"

# kill -9, restart: re-attached without a reset, traffic resumes; a transfer
# running across the crash completes with the right bytes.
dd if=/dev/urandom of=/run/data2 bs=64k count=64 2> /dev/null
idx=$(dut cat /sys/class/net/$ifc/ifindex)
rm -f /run/recv
peer timeout 180 nc -l -p 5003 -e /run/sink &
srv=$!
sleep 1
dut timeout 180 nc $P 5003 < /run/data2 &
cli=$!
sleep 1
kill -9 $dpid
wait $dpid 2> /dev/null
[ -e /dev/vduse/vnet0 ] && peer ip link show vtap0 > /dev/null 2>&1
tap_ok $? "after kill -9: the device and the TAP remain"
start_daemon vnet0 /run/vnet0b.log --tap vtap0 --mac $MAC --mtu 1500 -v
tap_ok $? "restarted daemon" "$(tail -n 3 /run/vnet0b.log)"
grep -q 're-attached (driver running;' /run/vnet0b.log
tap_ok $? "re-attached to the running driver" "$(cat /run/vnet0b.log)"
! grep -q 'driver reset the device' /run/vnet0b.log
tap_ok $? "the driver saw no reset"
wait $cli
wait $srv
[ "$(sha256sum < /run/recv)" = "$(sha256sum < /run/data2)" ]
tap_ok $? "4 MiB TCP transfer across the crash: bytes verified" "$(wc -c < /run/recv) bytes"
[ "$(dut cat /sys/class/net/$ifc/ifindex 2>&1)" = "$idx" ]
tap_ok $? "the same netdev ($ifc, ifindex $idx) after the restart"
dut ping -c 2 -W 5 $P > /dev/null 2>&1 && peer ping -c 2 -W 5 $D > /dev/null 2>&1
tap_ok $? "ping both ways after the restart"
xfer peer dut $D 5004 /run/data
tap_ok $? "TCP peer -> dut after the restart: bytes verified"

# A state file that fails its check on a restart (here: its magic) is refused
# with a reason naming it, and the device is left alone; with the file back,
# the next daemon re-attaches.
kill -9 $dpid
wait $dpid 2> /dev/null
cp /run/vduse-net/vnet0.state /run/state.good
printf 'XXXX' | dd of=/run/vduse-net/vnet0.state bs=1 count=4 conv=notrunc 2> /dev/null
nsenter --net=/run/netns/peer vduse-net --tap vtap0 --mac $MAC --mtu 1500 vnet0 > /run/vnet0c.log 2>&1
rc=$?
[ $rc != 0 ] && [ -e /dev/vduse/vnet0 ] &&
	grep -q 'vnet0.state: not a vduse-net 1 state, or a value in it is out of range' /run/vnet0c.log
tap_ok $? "restart with a corrupt state file: refused with a reason, the device left alone" \
	"exit $rc: $(cat /run/vnet0c.log)"
cp /run/state.good /run/vduse-net/vnet0.state
start_daemon vnet0 /run/vnet0d.log --tap vtap0 --mac $MAC --mtu 1500 -v
grep -q 're-attached (driver running;' /run/vnet0d.log
tap_ok $? "with the state file back: re-attached" "$(cat /run/vnet0d.log)"
dut ping -c 2 -W 5 $P > /dev/null 2>&1
tap_ok $? "ping after the second restart"

# SIGTERM while bound: the daemon serves until vdpa dev del, then destroys
# the device, removes its TAP and files.
kill -TERM $dpid
sleep 1
kill -0 $dpid 2> /dev/null
tap_ok $? "SIGTERM while bound: still serving"
vdpa dev del vnet0
tap_ok $? "vdpa dev del vnet0"
# `vdpa dev del` drops the bus link before the driver's remove resets the
# device: a daemon that stopped serving then left that reset unanswered (the
# kernel waits 30 s for it) and DESTROY_DEV said EBUSY meanwhile. It must
# serve until the driver has let go, then destroy the device itself.
i=0
while kill -0 $dpid 2> /dev/null && [ $i -lt 100 ]; do usleep 100000; i=$((i + 1)); done
wait $dpid
tap_ok $? "daemon exited with status 0 within 10 s" "$(tail -n 3 /run/vnet0b.log)"
[ ! -e /dev/vduse/vnet0 ] && ! peer ip link show vtap0 > /dev/null 2>&1 &&
	[ -z "$(ls /run/vduse-net)" ]
tap_ok $? "nothing left when the daemon exits: device, TAP, files" \
	"$(ls /dev/vduse /run/vduse-net; peer ip -o link)"

# Errors that say what to fix.
vduse-net --tap vtap1 --queue-pairs 99 x > /run/err 2>&1
[ $? = 2 ] && grep -q 'queue-pairs must be a number from 1 to 64' /run/err
tap_ok $? "a bad option is explained" "$(cat /run/err)"

# Several pairs: our module checks both CVQ candidates (vq 2 and vq 2N) are
# alone in their groups at vdpa dev add; virtio-vdpa gets one pair.
if [ "$VM_IMPL" = ours ]; then
	start_daemon vnet1 /run/vnet1.log --tap vtap1 --queue-pairs 4
	tap_ok $? "4 pairs: started" "$(cat /run/vnet1.log)"
	vdpa dev add name vnet1 mgmtdev vduse
	tap_ok $? "4 pairs: vdpa dev add accepts the group layout"
	vduse-netctl vnet1 state > /run/state1.json
	grep -q '"groups":\[{"group":0,"asid":0},{"group":1,"asid":0},{"group":2,"asid":0}\]' /run/state1.json &&
		grep -q '"index":8,"role":"unused","group":2' /run/state1.json &&
		grep -q '"index":2,"role":"ctrl","group":1' /run/state1.json &&
		grep -q '"index":3,"role":"unused","group":1' /run/state1.json
	tap_ok $? "4 pairs: vq 0-1 group 0, vq 2-7 group 1, vq 8 group 2" "$(head -c 400 /run/state1.json)"
	vdpa dev del vnet1
	kill -TERM $dpid
	wait $dpid
	tap_ok $? "4 pairs: clean exit"
fi

# --no-cvq works everywhere (the fallback path on purpose).
start_daemon vnet2 /run/vnet2.log --tap vtap2 --no-cvq --no-offloads --queue-size 64
tap_ok $? "--no-cvq --no-offloads: started" "$(cat /run/vnet2.log)"
# The link goes down before the driver starts: the config space says so,
# no interrupt is attempted (the kernel refuses one before DRIVER_OK), and
# the driver reads the status when it starts.
vduse-netctl vnet2 link down
vdpa dev add name vnet2 mgmtdev vduse
i=0
while ! ifc=$(netdev_of vnet2) && [ $i -lt 50 ]; do usleep 100000; i=$((i + 1)); done
ip link set "$ifc" up
usleep 300000
! grep -q 'INJECT_CONFIG_IRQ' /run/vnet2.log && [ "$(cat /sys/class/net/$ifc/carrier 2>&1)" = 0 ]
tap_ok $? "link down before DRIVER_OK: no refused interrupt, the driver starts with carrier off" \
	"$(grep INJECT /run/vnet2.log; cat /sys/class/net/$ifc/carrier 2>&1)"
vduse-netctl vnet2 link up
ip link set "$ifc" down
ip link set "$ifc" netns dut
dut ip addr add 10.9.1.1/24 dev "$ifc" && dut ip link set "$ifc" up &&
	peer ip addr add 10.9.1.2/24 dev vtap2 && peer ip link set vtap2 up
xfer dut peer 10.9.1.2 5005 /run/data
tap_ok $? "--no-offloads: TCP dut -> peer, bytes verified"
vdpa dev del vnet2
kill -TERM $dpid
wait $dpid
tap_ok $? "--no-cvq: clean exit"
# dn_exit NAME PID: wait up to 10 s for the daemon to exit (then kill -9);
# $rc is its exit status.
dn_exit() {
	local i=0
	while kill -0 "$2" 2>/dev/null && [ $i -lt 100 ]; do usleep 100000; i=$((i + 1)); done
	kill -0 "$2" 2>/dev/null && kill -9 "$2"
	wait "$2"
	rc=$?
}

# The TAP deleted under a running daemon: tun polls POLLERR for good; the
# daemon must exit 1 saying so (not spin), and leave the device behind.
start_daemon vnet3 /run/vnet3.log --tap vtap3 --no-cvq
tap_ok $? "TAP deleted: vduse-net started" "$(tail -n 3 /run/vnet3.log)"
peer ip link del vtap3
dn_exit vnet3 $dpid
[ $rc = 1 ] && grep -q 'TAP vtap3 is gone' /run/vnet3.log && [ -e /dev/vduse/vnet3 ]
tap_ok $? "TAP deleted: the daemon exits 1 with a reason, leaving the device" \
	"exit $rc; $(tail -n 3 /run/vnet3.log | tr '\n' ' ')"
vduse-net --destroy vnet3 > /run/err 2>&1
[ ! -e /dev/vduse/vnet3 ]
tap_ok $? "TAP deleted: vduse-net --destroy removes the device left" "$(cat /run/err)"

# A device broken by a message timeout (the daemon stopped while the driver
# probes, msg_timeout 1 s) polls POLLERR for good: exit 1 with a reason.
start_daemon vnet4 /run/vnet4.log --tap vtap4 --no-cvq
tap_ok $? "broken device: vduse-net started" "$(tail -n 3 /run/vnet4.log)"
if [ -w /sys/class/vduse/vnet4/msg_timeout ]; then
	echo 1 > /sys/class/vduse/vnet4/msg_timeout
	kill -STOP $dpid
	vdpa dev add name vnet4 mgmtdev vduse > /dev/null 2>&1 &
	add=$!
	sleep 3
	kill -CONT $dpid
	dn_exit vnet4 $dpid
	[ $rc = 1 ] && grep -q 'marked the device broken' /run/vnet4.log
	tap_ok $? "broken device: the daemon exits 1 with a reason" \
		"exit $rc; $(tail -n 3 /run/vnet4.log | tr '\n' ' ')"
	wait $add
	vdpa dev del vnet4 2>/dev/null
	usleep 500000
	vduse-net --destroy vnet4 > /run/err 2>&1
	[ ! -e /dev/vduse/vnet4 ]
	tap_ok $? "broken device: removed with vdpa dev del and --destroy" "$(cat /run/err)"
else
	echo "ok 1 - broken device # SKIP no msg_timeout attribute"
	kill -TERM $dpid
	wait $dpid
fi

ip netns del dut
ip netns del peer
for f in /run/vnet*.log; do
	echo "# ---- ${f##*/}"
	sed 's/^/# /' "$f"
done
