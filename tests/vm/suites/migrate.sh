# SPDX-License-Identifier: GPL-2.0
# vmtest-needs: vmm mem=3072 cpu=default
#
# migrate: QEMU 10 (inside this VM) runs an inner guest whose NIC is a VDUSE
# virtio-net device A through vhost-vdpa, with the control virtqueue shadowed
# in ASID 1 (x-svq=off), and live-migrates it to a second QEMU on device B.
#
# The devices are vduse-net (devices/net) when it is in the VM, otherwise the
# raw test device /progs/rawnet (no data path, no CVQ processing): with it the
# suite proves the VMM/QMP/migration machinery and times each phase, and the
# checks that need a real device are reported as comments.
#
# Phases and their markers (the inner guest's are printed by
# tests/vm/inner/init.sh on its serial console):
#   1. devices A and B, bound to vhost_vdpa
#   2. source QEMU on A, destination QEMU on B (-incoming), both with QMP
#   3. the inner guest reaches /init ("INNER: init"), configures its NIC
#      ("INNER: step ..."), then "INNER: ready"
#   4. checks before migrating: CVQ group bound to ASID 1 (trace and device)
#   5. migrate, poll query-migrate until completed
#   6. checks after: the guest runs on B ("INNER: alive" on B's console),
#      query-rx-filter on B, A idle, B's state = the guest's settings
#   7. the way back: a third QEMU on A receives the guest from B
#   8. x-svq=on: a fourth QEMU on B, shadowing every vq, receives it again

MIG=/run/mig
INNER_MEM=192
MAC=52:54:00:ab:cd:01	# both devices' config-space MAC
MAC2=52:54:00:ab:cd:02	# what the inner guest sets (tests/vm/mk-inner)
INNER_VLAN=10 INNER_MCAST=01:00:5e:00:00:fb INNER_IP=10.99.0.2 OUTER_IP=10.99.0.1
mkdir -p $MIG
IPR=/usr/bin/ip	# iproute2 (busybox prefers its own applet for a bare "ip")
[ -x $IPR ] || IPR="busybox ip"
t_suite=$(cut -d' ' -f1 /proc/uptime)
echo "# time: outer VM reached the suite at ${t_suite}s of its uptime"
echo "# vmm: $(cat /inner/versions)"

uptime_s() { cut -d' ' -f1 /proc/uptime; }
# elapsed T0 [T1]: seconds between two uptime stamps (T1 defaults to now)
elapsed() { awk -v a="$1" -v b="${2:-$(uptime_s)}" 'BEGIN { printf "%.1f", b - a }'; }

# wait_line FILE REGEX SECONDS: wait until a line of FILE matches
wait_line() {
	local i=0 n=$(($3 * 5))
	while ! grep -aqE "$2" "$1" 2>/dev/null; do
		i=$((i + 1)); [ $i -gt $n ] && return 1
		usleep 200000
	done
}

# ---- devices: vduse-net (devices/net) ------------------------------------
# Used as soon as vduse-net is in the VM. Each device gets a TAP on bridge br0,
# where the outer VM has $OUTER_IP, so it can ping the inner guest.
have_vduse_net() { command -v vduse-net > /dev/null 2>&1 && command -v vduse-netctl > /dev/null 2>&1; }
vnet_start() { # NAME: start it and bind it to vhost_vdpa; $MIG/NAME.vhost names its node
	load_mod tun && load_mod bridge || return 1
	if [ ! -e /sys/class/net/br0 ]; then
		$IPR link add br0 type bridge && $IPR link set br0 up &&
			$IPR addr add $OUTER_IP/24 dev br0 || return 1
	fi
	vduse-net --mac $MAC --queue-pairs 2 --tap "tap$1" "$1" > "$MIG/$1.log" 2>&1 &
	echo $! > "$MIG/$1.pid"
	wait_for "/dev/vduse/$1" 10 || return 1
	$IPR link set "tap$1" master br0 && $IPR link set "tap$1" up || return 1
	vdpa dev add name "$1" mgmtdev vduse || return 1
	vhost_of "$1" > "$MIG/$1.vhost"
}
vnet_state() { vduse-netctl "$1" state; }	# NAME: the JSON state
vnet_stop() { vdpa dev del "$1" && kill "$(cat "$MIG/$1.pid")" && gone "$(cat "$MIG/$1.pid")"; }

# ---- devices: the raw test device ------------------------------------------
raw_start() { # NAME: start it (it binds itself); $MIG/NAME.vhost names its node
	rawnet "$1" --mac $MAC > "$MIG/$1.log" 2>&1 &
	echo $! > "$MIG/$1.pid"
	wait_line "$MIG/$1.log" "^rawnet $1: [A-Za-z_ ]*(vhost|:)" 15 || return 1
	sed -n "s/^rawnet $1: vhost //p" "$MIG/$1.log" | grep . > "$MIG/$1.vhost"
}
raw_stop() { kill "$(cat "$MIG/$1.pid")" && gone "$(cat "$MIG/$1.pid")" && grep -q "^rawnet $1: removed" "$MIG/$1.log"; }

gone() { # PID: wait up to 10 s for it to exit
	local i
	for i in $(seq 1 100); do
		kill -0 "$1" 2> /dev/null || { wait "$1" 2> /dev/null; return 0; }
		usleep 100000
	done
	return 1
}


# migrate_run FROM TO SOCKET: migrate ROLE FROM to the QEMU ROLE TO that listens
# on $MIG/SOCKET; poll query-migrate until it ends; report it as tests.
migrate_run() {
	local from=$1 to=$2 sock=$3 t status=none i
	# the listening socket appears a moment after the QMP one
	kill -0 "$(cat "$MIG/$to.pid")" && wait_for "$MIG/$sock" 60
	tap_ok $? "migrate: $to QEMU is up and listening on $sock" "$(cat "$MIG/$to.out")"
	t=$(uptime_s)
	qmp_do "$from" "{\"execute\":\"migrate\",\"arguments\":{\"uri\":\"unix:$MIG/$sock\"}}" \
		> "$MIG/$from.migrate"
	tap_ok $? "migrate: QMP migrate $from -> $to accepted" "$(cat "$MIG/$from.migrate")"
	for i in $(seq 1 600); do
		status=$(qmp_do "$from" '{"execute":"query-migrate"}' |
			sed -n 's/.*"status": "\([a-z-]*\)".*/\1/p' | head -n 1)
		case $status in completed|failed|cancelled) break ;; esac
		sleep 1
	done
	echo "# time: migration $from -> $to, QMP migrate to completed: $(elapsed "$t")s"
	qmp_do "$from" '{"execute":"query-migrate"}' | sed 's/^/# query-migrate: /' | cut -c1-400
	[ "$status" = completed ]
	tap_ok $? "migrate: query-migrate $from -> $to reached completed" "status $status"
}

# ---- QEMU ----------------------------------------------------------------------
# qemu_start ROLE VHOSTDEV SVQ [ARGS...]: SVQ on or off (x-svq); console in $MIG/ROLE.serial,
# QMP on $MIG/ROLE.qmp, trace in $MIG/ROLE.trace.
qemu_start() {
	local role=$1 vhost=$2 svq=$3
	shift 3
	qemu-system-x86_64 -machine pc,memory-backend=mem -accel tcg -smp 1 -m $INNER_MEM \
		-object memory-backend-memfd,id=mem,size=${INNER_MEM}M,share=on \
		-kernel /inner/vmlinux -initrd /inner/initrd.cpio \
		-append "console=ttyS0 panic=-1 quiet mitigations=off tsc=reliable nowatchdog audit=0" \
		-display none -nodefaults -no-reboot -serial "file:$MIG/$role.serial" \
		-qmp "unix:$MIG/$role.qmp,server=on,wait=off" \
		-netdev "type=vhost-vdpa,vhostdev=$vhost,id=n0,x-svq=$svq" \
		-device virtio-net-pci,netdev=n0,mq=on,vectors=6,romfile= \
		-trace vhost_vdpa_set_address_space_id -trace vhost_vdpa_net_load_cmd \
		-D "$MIG/$role.trace" "$@" > "$MIG/$role.out" 2>&1 &
	echo $! > "$MIG/$role.pid"
}
qmp_do() { # ROLE JSON...: one QMP session; replies on stdout
	local role=$1
	shift
	timeout 60 qmp "$MIG/$role.qmp" "$@"
}
qemu_quit() { # ROLE: quit over QMP, else kill
	local pid
	pid=$(cat "$MIG/$1.pid")
	kill -0 "$pid" 2> /dev/null || return 0
	qmp_do "$1" '{"execute":"quit"}' > /dev/null 2>&1 || kill "$pid"
	for i in $(seq 1 50); do kill -0 "$pid" 2> /dev/null || break; usleep 100000; done
	kill -9 "$pid" 2> /dev/null
	wait "$pid" 2> /dev/null
	return 0
}
show() { # FILE LABEL: the file as comments
	sed "s/^/# $2: /" "$1" 2> /dev/null | tail -n "${3:-40}"
}

load_mod vduse || return 0
load_mod vhost_vdpa || return 0
if have_vduse_net; then
	kind=vduse-net dev_start=vnet_start dev_stop=vnet_stop
else
	kind=rawnet dev_start=raw_start dev_stop=raw_stop
	echo "# migrate: vduse-net is not in this VM; using the raw test device (no data path)"
fi

# 1. devices
$dev_start A; rc=$?; VA=$(cat "$MIG/A.vhost" 2> /dev/null)
tap_ok $rc "migrate: $kind device A bound to vhost_vdpa (${VA:-no node})"
$dev_start B; rc=$?; VB=$(cat "$MIG/B.vhost" 2> /dev/null)
tap_ok $rc "migrate: $kind device B bound to vhost_vdpa (${VB:-no node})"
if [ -z "$VA" ] || [ -z "$VB" ]; then
	show "$MIG/A.log" A; show "$MIG/B.log" B
	return 0
fi

# 2. both QEMUs: the destination waits for the stream while the source boots
t0=$(uptime_s)
qemu_start src "$VA" off
qemu_start dst "$VB" off -incoming "unix:$MIG/stream.sock"
wait_line "$MIG/src.serial" '^INNER: init' 600
tap_ok $? "migrate: inner guest reached /init on the source QEMU" "no marker in 600 s"
echo "# time: inner boot, QEMU start to /init: $(elapsed "$t0")s"
wait_line "$MIG/src.serial" '^INNER: ready' 120
rc=$?
echo "# time: inner /init to ready (NIC configured): $(elapsed "$t0")s since QEMU start"
tap_ok $rc "migrate: inner guest configured its NIC" "no INNER: ready"
show "$MIG/src.serial" src-console 30
if ! grep -aq '^INNER: ready' "$MIG/src.serial"; then
	show "$MIG/src.out" src-qemu; show "$MIG/dst.out" dst-qemu
	qemu_quit src; qemu_quit dst; $dev_stop A; $dev_stop B
	return 0
fi
# the steps that need the device's CVQ
for s in mac up channels promisc allmulti mcast vlan vlan-up addr; do
	grep -aq "^INNER: step $s ok" "$MIG/src.serial" && continue
	if [ $kind = vduse-net ]; then
		echo "not ok 1 - migrate: inner guest step $s # $(grep -a "^INNER: step $s " "$MIG/src.serial")"
	else
		echo "# migrate: step $s failed, as expected without a CVQ-capable device"
	fi
done

# 4. before migrating: QEMU bound the CVQ's group to ASID 1 (rawnet: group 1;
# vduse-net with 2 pairs: group 2, see docs/vduse-net.md)
cvq_group=1
if [ $kind = vduse-net ]; then
	vnet_state A > "$MIG/A.before.json"
	cvq_group=$(sed -n 's/.*"role":"ctrl","group":\([0-9]*\).*/\1/p' "$MIG/A.before.json")
fi
grep -q "vhost_vdpa_set_address_space_id.*vq_group: ${cvq_group:-?} asid: 1" "$MIG/src.trace"
tap_ok $? "migrate: source QEMU traced vhost_vdpa_set_address_space_id vq_group ${cvq_group:-?} asid 1"
if [ $kind = vduse-net ]; then
	grep -q "\"groups\":\[[^]]*{\"group\":${cvq_group:-?},\"asid\":1}" "$MIG/A.before.json"
	tap_ok $? "migrate: device A shows the CVQ group $cvq_group bound to ASID 1"
	ping -c 3 -W 2 $INNER_IP > "$MIG/ping.before" 2>&1
	tap_ok $? "migrate: the outer VM pings the inner guest through A"
else
	grep -q "^rawnet A: GROUP_ASID 1 1" "$MIG/A.log"
	tap_ok $? "migrate: device A received SET_VQ_GROUP_ASID(1, 1)"
fi
mark_a=$(wc -l < "$MIG/A.log")

# 5. migrate (with vduse-net: while the outer VM pings the guest)
# (a count, not a kill: busybox ping prints its totals only when it ends by
# itself or on SIGINT, which a background job of a script ignores)
[ $kind = vduse-net ] && { ping -c 150 -i 0.2 -W 1 $INNER_IP > "$MIG/ping.during" 2>&1 & echo $! > "$MIG/ping.pid"; }
t1=$(uptime_s)
migrate_run src dst stream.sock

# 6. after: the guest runs on B
wait_line "$MIG/dst.serial" '^INNER: alive' 60
tap_ok $? "migrate: the inner guest runs on the destination (heartbeat on B's console)"
echo "# time: migrate to first heartbeat on B: $(elapsed "$t1")s"
qmp_do dst '{"execute":"query-status"}' | grep -q '"status": "running"'
tap_ok $? "migrate: destination QEMU is running"
qmp_do dst '{"execute":"query-rx-filter","arguments":{"name":"n0"}}' > "$MIG/rx-filter.json" 2>&1 ||
	qmp_do dst '{"execute":"query-rx-filter"}' > "$MIG/rx-filter.json" 2>&1
grep -q '"main-mac"' "$MIG/rx-filter.json"
tap_ok $? "migrate: query-rx-filter answers on the destination" "$(head -c 300 "$MIG/rx-filter.json")"
show "$MIG/rx-filter.json" rx-filter | cut -c1-400
show "$MIG/dst.trace" dst-trace 10
if [ $kind = vduse-net ]; then
	wait "$(cat "$MIG/ping.pid")" 2> /dev/null
	tx=$(sed -n 's/^\([0-9]*\) packets transmitted.*/\1/p' "$MIG/ping.during")
	rx=$(sed -n 's/.* \([0-9]*\) packets received.*/\1/p' "$MIG/ping.during")
	echo "# ping during migration: ${tx:-?} sent, ${rx:-?} received, $(( ${tx:-0} - ${rx:-0} )) lost"
	ping -c 3 -W 2 $INNER_IP > "$MIG/ping.after" 2>&1
	tap_ok $? "migrate: the outer VM pings the inner guest through B"
	vnet_state B > "$MIG/B.after.json"
	j=$MIG/B.after.json
	grep -q "\"mac\":\"$MAC2\"" "$j"; tap_ok $? "migrate: B has the guest's MAC $MAC2"
	grep -q '"queue_pairs":2' "$j"; tap_ok $? "migrate: B has 2 queue pairs"
	grep -q '"promisc":1,"allmulti":1' "$j"; tap_ok $? "migrate: B has promisc and allmulti on"
	grep -q "\"multicast\":\[[^]]*\"$INNER_MCAST\"" "$j"; tap_ok $? "migrate: B has the multicast address"
	grep -q "\"vlans\":\[\([0-9]*,\)*${INNER_VLAN}[],]" "$j"; tap_ok $? "migrate: B has VLAN $INNER_VLAN"
	grep -q "\"main-mac\": \"$MAC2\"" "$MIG/rx-filter.json"; tap_ok $? "migrate: query-rx-filter on B has $MAC2"
	show "$j" B-state 5
else
	echo "# migrate: no device state or ping with the raw test device"
fi
if [ $kind = rawnet ]; then
	sed -n "$((mark_a + 1)),\$p" "$MIG/A.log" > "$MIG/A.since"
	# A is idle: reset after the migration, DRIVER_OK not set again (QEMU's
	# stop leaves ACKNOWLEDGE|DRIVER)
	last=$(sed -n 's/^rawnet A: SET_STATUS //p' "$MIG/A.since" | tail -n 1)
	grep -q '^rawnet A: SET_STATUS 0x0$' "$MIG/A.since" && [ -n "$last" ] && [ $((last & 4)) = 0 ]
	tap_ok $? "migrate: device A is idle after the migration (reset, no DRIVER_OK)" "last status ${last:-none}"
	# QEMU's migration start (spec vhost-vdpa-cvq.md 6.1): reset, restart with
	# every vq shadowed in ASID 0, no SET_VQ_GROUP_ASID
	grep -qE '^rawnet A: SET_STATUS 0x[cdef]$' "$MIG/A.since" && ! grep -q GROUP_ASID "$MIG/A.since"
	tap_ok $? "migrate: the source restarted A for migration without re-binding the CVQ group (spec 6.1)"
	grep -q '^rawnet B: GROUP_ASID 1 1' "$MIG/B.log"
	tap_ok $? "migrate: device B received SET_VQ_GROUP_ASID(1, 1) on the destination's start"
fi
sed -n "$((mark_a + 1)),\$p" "$MIG/A.log" | uniq -c | sed 's/^/# A since migrate: /' | head -n 40
uniq -c "$MIG/B.log" | sed 's/^/# B: /' | tail -n 30

# 7. and back: a new QEMU on A receives the guest from B
qemu_quit src
qemu_start back "$VA" off -incoming "unix:$MIG/back.sock"
wait_for "$MIG/back.qmp" 30
migrate_run dst back back.sock
wait_line "$MIG/back.serial" '^INNER: alive' 60
tap_ok $? "migrate: the inner guest runs on A again (heartbeat on the third QEMU's console)"
if [ $kind = vduse-net ]; then
	ping -c 3 -W 2 $INNER_IP > "$MIG/ping.back" 2>&1
	tap_ok $? "migrate: the outer VM pings the inner guest through A after the way back"
	vnet_state A > "$MIG/A.back.json"
	grep -q "\"mac\":\"$MAC2\"" "$MIG/A.back.json"
	tap_ok $? "migrate: A has the guest's MAC $MAC2 after the way back"
fi

# 8. x-svq=on: B again, under a QEMU that shadows every vq in ASID 0 (the
# migration stream does not depend on the netdev's x-svq)
qemu_quit dst
mark_b=$(wc -l < "$MIG/B.log")
qemu_start svq "$VB" on -incoming "unix:$MIG/svq.sock"
migrate_run back svq svq.sock
wait_line "$MIG/svq.serial" '^INNER: alive' 60
tap_ok $? "migrate: the inner guest runs on B under x-svq=on (heartbeat on the fourth QEMU's console)"
! grep -q vhost_vdpa_set_address_space_id "$MIG/svq.trace"
tap_ok $? "migrate: with x-svq=on QEMU binds no group to another ASID"
if [ $kind = rawnet ]; then
	sed -n "$((mark_b + 1)),\$p" "$MIG/B.log" > "$MIG/B.svq"
	grep -qE '^rawnet B: SET_STATUS 0x[cdef]$' "$MIG/B.svq" && ! grep -q GROUP_ASID "$MIG/B.svq"
	tap_ok $? "migrate: under x-svq=on B was started (DRIVER_OK) with no SET_VQ_GROUP_ASID"
else
	vnet_state B > "$MIG/B.svq.json"
	grep -q "\"mac\":\"$MAC2\"" "$MIG/B.svq.json"
	tap_ok $? "migrate: B has the guest's MAC $MAC2 under x-svq=on"
fi
qemu_quit back
qemu_quit svq
$dev_stop A; tap_ok $? "migrate: device A removed"
$dev_stop B; tap_ok $? "migrate: device B removed"
echo "# time: suite total $(elapsed "$t_suite")s"
