# SPDX-License-Identifier: GPL-2.0
# vmtest-needs: vmm mem=3072 cpu=default
#
# migrate_noiso: the control of the migration suite (issue 10, control 1): the
# same migration with a device whose control virtqueue cannot be isolated, to
# show that the checks of migrate.sh can fail and why the ASIDs matter.
#
# Our module never binds a net device whose CVQ shares a group with a data
# queue (cvq_policy=isolated, docs/kernel-module.md), so the non-isolated
# device that stays bindable is vduse-net --address-spaces 1: the CVQ alone in
# its group, one address space. QEMU 10.0.2's isolation probe looks at groups
# only (vhost_vdpa_probe_cvq_isolation), calls it isolated, and at the start
# asks for SET_VQ_GROUP_ASID(cvq group, 1), which vhost-vdpa refuses (asid >=
# nas): "Can't set vq group 2 asid 1", "unable to start vhost net: 1: falling
# back on userspace virtio". The guest's control commands then reach QEMU's
# own virtio-net model only, never the device: the migration completes, the
# destination QEMU believes the guest's MAC, and device B does not have it.
# (docs/migration.md, "The control".)

MIG=/run/noiso
INNER_MEM=192
MAC=52:54:00:ab:cd:01	# both devices' config-space MAC
MAC2=52:54:00:ab:cd:02	# what the inner guest sets (tests/vm/mk-inner)
mkdir -p $MIG
IPR=/usr/bin/ip
uptime_s() { cut -d' ' -f1 /proc/uptime; }
elapsed() { awk -v a="$1" -v b="${2:-$(uptime_s)}" 'BEGIN { printf "%.1f", b - a }'; }
t_suite=$(uptime_s)

wait_line() { # FILE REGEX SECONDS
	local i=0 n=$(($3 * 5))
	while ! grep -aqE "$2" "$1" 2>/dev/null; do
		i=$((i + 1)); [ $i -gt $n ] && return 1
		usleep 200000
	done
}
dev_start() { # NAME: vduse-net with one address space, bound to vhost_vdpa
	vduse-net --mac $MAC --queue-pairs 2 --address-spaces 1 --tap "t$1" "$1" > "$MIG/$1.log" 2>&1 &
	echo $! > "$MIG/$1.pid"
	wait_for "/dev/vduse/$1" 10 && $IPR link set "t$1" up &&
		vdpa dev add name "$1" mgmtdev vduse && vhost_of "$1" > "$MIG/$1.vhost"
}
qemu_start() { # ROLE VHOSTDEV [ARGS...]: as migrate.sh, x-svq=off
	local role=$1 vhost=$2
	shift 2
	qemu-system-x86_64 -machine pc,memory-backend=mem -accel tcg -smp 1 -m $INNER_MEM \
		-object memory-backend-memfd,id=mem,size=${INNER_MEM}M,share=on \
		-kernel /inner/vmlinux -initrd /inner/initrd.cpio \
		-append "console=ttyS0 panic=-1 quiet mitigations=off tsc=reliable nowatchdog audit=0" \
		-display none -nodefaults -no-reboot -serial "file:$MIG/$role.serial" \
		-qmp "unix:$MIG/$role.qmp,server=on,wait=off" \
		-netdev "type=vhost-vdpa,vhostdev=$vhost,id=n0,x-svq=off" \
		-device virtio-net-pci,netdev=n0,mq=on,vectors=6,romfile= \
		-trace vhost_vdpa_set_address_space_id -D "$MIG/$role.trace" "$@" > "$MIG/$role.out" 2>&1 &
	echo $! > "$MIG/$role.pid"
}
qmp_do() { local role=$1; shift; timeout 60 qmp "$MIG/$role.qmp" "$@"; }
qemu_quit() {
	local pid i
	pid=$(cat "$MIG/$1.pid")
	kill -0 "$pid" 2> /dev/null || return 0
	qmp_do "$1" '{"execute":"quit"}' > /dev/null 2>&1 || kill "$pid"
	for i in $(seq 1 50); do kill -0 "$pid" 2> /dev/null || break; usleep 100000; done
	kill -9 "$pid" 2> /dev/null
	wait "$pid" 2> /dev/null
	return 0
}
show() { sed "s/^/# $2: /" "$1" 2> /dev/null | tail -n "${3:-40}"; }

command -v vduse-net > /dev/null 2>&1 || { echo "ok 1 - migrate_noiso # SKIP no vduse-net in this VM"; return 0; }
load_mod vduse && load_mod vhost_vdpa && load_mod tun || return 0

# 1. devices: our module binds them (the CVQ is alone in its group)
for n in nA nB; do
	dev_start $n
	tap_ok $? "control: vduse-net $n (CVQ alone in group 2, one address space) bound to vhost_vdpa" \
		"$(tail -n 3 "$MIG/$n.log")"
done
VA=$(cat $MIG/nA.vhost 2> /dev/null) VB=$(cat $MIG/nB.vhost 2> /dev/null)
[ -n "$VA" ] && [ -n "$VB" ] || return 0
# our tool's probe is stricter than QEMU's (it asks GET_AS_NUM)
vdpa-cvq probe "$VA" > $MIG/probe 2>&1
[ $? = 1 ] && grep -q '1 address space' $MIG/probe
tap_ok $? "control: vdpa-cvq probe says not isolated (one address space)" "$(head -n 1 $MIG/probe)"

# 2. source on A, destination on B
t0=$(uptime_s)
qemu_start src "$VA"
qemu_start dst "$VB" -incoming "unix:$MIG/stream.sock"
wait_line "$MIG/src.serial" '^INNER: ready' 600
tap_ok $? "control: the inner guest booted on the source and ran its configuration steps" \
	"$(tail -n 3 "$MIG/src.serial")"
echo "# time: control inner boot to ready: $(elapsed "$t0")s"
grep -a '^INNER: \(step\|settings\)' "$MIG/src.serial" | sed 's/^/# control src-console: /'
grep -aq "^INNER: settings mac=$MAC2" "$MIG/src.serial"
tap_ok $? "control: the guest's NIC has its MAC $MAC2 (QEMU's model acknowledged it)"
show "$MIG/src.out" src-qemu 10
show "$MIG/src.trace" src-trace 5
grep -q 'vhost_vdpa_set_address_space_id.*asid: 1' "$MIG/src.trace" &&
	grep -q "Can't set vq group [0-9]* asid 1" "$MIG/src.out" &&
	grep -q 'unable to start vhost net.*falling back on userspace virtio' "$MIG/src.out"
tap_ok $? "control: QEMU 10.0.2 called the CVQ isolated, vhost-vdpa refused ASID 1, QEMU fell back to its own virtio-net"
vduse-netctl nA state > $MIG/A.json
! grep -q "\"mac\":\"$MAC2\"" $MIG/A.json
tap_ok $? "control: device A never received the guest's MAC" "$(head -c 300 $MIG/A.json)"

# 3. migrate
kill -0 "$(cat $MIG/dst.pid)" && wait_for "$MIG/stream.sock" 60
tap_ok $? "control: destination QEMU listening" "$(cat $MIG/dst.out)"
t1=$(uptime_s)
qmp_do src "{\"execute\":\"migrate\",\"arguments\":{\"uri\":\"unix:$MIG/stream.sock\"}}" > $MIG/migrate.out
status=none
for i in $(seq 1 600); do
	status=$(qmp_do src '{"execute":"query-migrate"}' | sed -n 's/.*"status": "\([a-z-]*\)".*/\1/p' | head -n 1)
	case $status in completed|failed|cancelled) break ;; esac
	sleep 1
done
echo "# time: control migration: $(elapsed "$t1")s"
[ "$status" = completed ]
tap_ok $? "control: QEMU migrates without error (query-migrate completed)" "status $status"
wait_line "$MIG/dst.serial" '^INNER: alive' 60
tap_ok $? "control: the guest runs on the destination"

# 4. the difference: QEMU's model has the MAC, device B does not
# (every NIC: the virtio-net device's own id is not n0, the netdev's is)
qmp_do dst '{"execute":"query-rx-filter"}' > $MIG/rx-filter.json 2>&1
show $MIG/rx-filter.json rx-filter 3 | cut -c1-300
show "$MIG/dst.out" dst-qemu 10
vduse-netctl nB state > $MIG/B.json
show $MIG/B.json B-state 1 | cut -c1-400
grep -q "\"main-mac\": \"$MAC2\"" $MIG/rx-filter.json
tap_ok $? "control: the destination QEMU's model has the guest's MAC $MAC2 (query-rx-filter)"
grep -q '"mac":"' $MIG/B.json && ! grep -q "\"mac\":\"$MAC2\"" $MIG/B.json
tap_ok $? "control: device B lacks the guest's MAC after the migration (no isolated CVQ: nothing shadowed, nothing replayed)" \
	"$(grep -o '"mac":"[^"]*"' $MIG/B.json)"

qemu_quit src
qemu_quit dst
for n in nA nB; do
	vdpa dev del $n
	kill "$(cat $MIG/$n.pid)"
	wait "$(cat $MIG/$n.pid)" 2> /dev/null
done
echo "# time: control suite total $(elapsed "$t_suite")s"
