# SPDX-License-Identifier: GPL-2.0
# bench/run-lib (make bench-lib; 16 rounds of 0.25 s from its
# /etc/bench.conf), and a few seconds of it in make check (the defaults
# below: 2 rounds of 0.1 s): the same null virtio-blk (bench/nullblk.h) on
# libvduse (null-ours), on QEMU's libvduse (null-qemu, when it was built)
# and on the raw UAPI (null-raw), all driven by the kernel's virtio-blk
# through virtio-vdpa; nullbench takes turns between them in short slices
# and prints "# bench" and "# benchcpu" lines. Only the TAP lines are
# tested: every device attaches, serves every request well, goes away.
# BENCH_LIB_IMPLS adds devices (oursv0: null-ours --v0, ourspoll:
# null-ours --poll); with
# BENCH_LIB_COUNTERS=1 nullbench runs once per test and "# benchctr" lines
# give each device's counters per request over that test (bench/README.md
# section 1). The devices named in BENCH_LIB_TIMING also time their phases
# (NULL_TIMING=1: a diagnostic, it slows them).
echo "# benchinfo kernel $(uname -r) vduse $VM_MODULE"
echo "# benchinfo clocksource $(cat /sys/devices/system/clocksource/clocksource0/current_clocksource)," \
	"meltdown: $(cat /sys/devices/system/cpu/vulnerabilities/meltdown 2>/dev/null)"
load_mod vduse && load_mod virtio_vdpa && load_mod virtio_blk || return 0
unload_mod vhost_vdpa || return 0

BENCH_LIB_ROUNDS=2 BENCH_LIB_SECONDS=0.1
BENCH_LIB_TESTS=randread-qd1,randread-qd32,randwrite-qd1,randwrite-qd32
BENCH_LIB_IMPLS="ours qemu raw" BENCH_LIB_COUNTERS=0 BENCH_LIB_TIMING=
[ -r /etc/bench.conf ] && . /etc/bench.conf

# ctr_snap IMPL PID DEV: one line of the device process's counters so far
# (all threads), its disk's completed I/Os and the daemon's own (SIGUSR1).
ctr_snap() {
	local n0 i=0
	n0=$(grep -c '^# nullctr' "/run/null-$1.log")
	kill -USR1 "$2"
	while [ "$(grep -c '^# nullctr' "/run/null-$1.log")" = "$n0" ] && [ $i -lt 50 ]; do
		usleep 20000; i=$((i + 1))
	done
	{
		cat /proc/$2/task/*/schedstat | awk '{ r += $1; w += $2; s += $3 }
			END { printf "cpu_ns %.0f runq_ns %.0f slices %.0f ", r, w, s }'
		cat /proc/$2/task/*/status | awk '/^voluntary_ctxt/ { v += $2 } /^nonvoluntary_ctxt/ { n += $2 }
			END { printf "vcsw %d ivcsw %d ", v, n }'
		awk '/^syscr/ { r = $2 } /^syscw/ { w = $2 } END { printf "syscr %d syscw %d ", r, w }' /proc/$2/io
		# utime, stime in clock ticks (100 Hz here): as ns
		awk '{ printf "minflt %.0f utime_ns %.0f stime_ns %.0f threads %d ", $10, $14 * 1e7,
			$15 * 1e7, $20 }' /proc/$2/stat
		awk '{ printf "reqs %d ", $1 + $5 }' "/sys/block/${3#/dev/}/stat"
		grep '^# nullctr' "/run/null-$1.log" | tail -n 1 | cut -d' ' -f4-
	} | tr -s ' \n' '  '
	echo
}

# ctr_delta TEST IMPL BEFORE AFTER: "# benchctr TEST IMPL reqs N key per-request..."
ctr_delta() {
	echo "$3 | $4" | awk -v t="$1" -v d="$2" '{
		for (i = 1; $i != "|"; i += 2) b[$i] = $(i + 1)
		for (i++; i < NF; i += 2) { k[++n] = $i; a[$i] = $(i + 1) }
		r = a["reqs"] - b["reqs"]; line = "# benchctr " t " " d " reqs " r
		for (j = 1; j <= n; j++)
			if (k[j] != "reqs" && k[j] != "served" && k[j] != "threads" && r > 0)
				line = line sprintf(" %s %.3f", k[j], (a[k[j]] - b[k[j]]) / r)
		print line " threads " a["threads"] " served " a["served"] - b["served"] }'
}

args="" pids=""
for impl in $BENCH_LIB_IMPLS; do
	case $impl in
	*v0) prog=null-${impl%v0} opt=--v0 ;;
	*poll) prog=null-${impl%poll} opt=--poll ;;
	*) prog=null-$impl opt="" ;;
	esac
	command -v "$prog" > /dev/null || { echo "# bench_lib: no $prog in this initramfs"; continue; }
	case " $BENCH_LIB_TIMING " in
	*" $impl "*) NULL_TIMING=1 "$prog" $opt "null$impl" > "/run/null-$impl.log" 2>&1 & ;;
	*) "$prog" $opt "null$impl" > "/run/null-$impl.log" 2>&1 & ;;
	esac
	pid=$!
	wait_for "/dev/vduse/null$impl" 30
	tap_ok $? "null-$impl created /dev/vduse/null$impl" "$(tail -n 3 /run/null-$impl.log | tr '\n' ' ')" ||
		{ kill $pid; continue; }
	kill -0 $pid
	tap_ok $? "null-$impl is running" "$(cat /run/null-$impl.log | tr '\n' ' ')" || continue
	timeout 60 vdpa dev add name "null$impl" mgmtdev vduse
	dev=$(wait_dev_of "null$impl")
	tap_ok $? "null$impl attached as a virtio-blk disk" "$(tail -n 5 /run/null-$impl.log | tr '\n' ' ')" ||
		{ kill $pid; continue; }
	echo "# benchinfo $impl $dev $(cat /sys/block/${dev#/dev/}/device/features)"
	args="$args $impl=$dev:$pid" pids="$pids $impl:$pid:$dev"
done
head -n 1 /run/null-*.log

if [ "$BENCH_LIB_COUNTERS" = 1 ]; then
	rc=0
	for t in $(echo "$BENCH_LIB_TESTS" | tr ',' ' '); do
		for p in $pids; do
			set -- $(echo "$p" | tr ':' ' ')
			ctr_snap "$1" "$2" "$3" > "/run/ctr-$1"
		done
		timeout 900 nullbench --seconds "$BENCH_LIB_SECONDS" --rounds "$BENCH_LIB_ROUNDS" \
			--tests "$t" $args || rc=1
		for p in $pids; do
			set -- $(echo "$p" | tr ':' ' ')
			ctr_delta "$t" "$1" "$(cat "/run/ctr-$1")" "$(ctr_snap "$1" "$2" "$3")"
		done
	done
	tap_ok $rc "nullbench: every I/O on every null device completed"
else
	timeout 900 nullbench --seconds "$BENCH_LIB_SECONDS" --rounds "$BENCH_LIB_ROUNDS" \
		--tests "$BENCH_LIB_TESTS" $args
	tap_ok $? "nullbench: every I/O on every null device completed"
fi

for p in $pids; do
	impl=${p%%:*} pid=${p#*:} pid=${pid%%:*}
	vdpa dev del "null$impl"
	tap_ok $? "vdpa dev del null$impl"
	kill "$pid"
	wait "$pid"
	rc=$?
	# whatever its exit status says, the device must be gone
	[ -e "/dev/vduse/null$impl" ] && rc="/dev/vduse/null$impl is still there"
	tap_ok "$rc" "null-$impl served every request well and destroyed its device" \
		"$rc: $(tail -n 2 /run/null-$impl.log | tr '\n' ' ')"
	grep '^# nullblk .*served' "/run/null-$impl.log"
done
