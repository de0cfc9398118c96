# SPDX-License-Identifier: GPL-2.0
# bench/run-lib (make bench-lib; 16 rounds of 0.25 s from its
# /etc/bench.conf), and a few seconds of it in make check (the defaults
# below: 2 rounds of 0.1 s): the same null virtio-blk (bench/nullblk.h) on
# libvduse (null-ours), on QEMU's libvduse (null-qemu, when it was built)
# and on the raw UAPI (null-raw), all driven by the kernel's virtio-blk
# through virtio-vdpa; nullbench takes turns between them in short slices
# and prints "# bench" and "# benchcpu" lines. Only the TAP lines are
# tested: every device attaches, serves every request well, goes away.
echo "# benchinfo kernel $(uname -r) vduse $VM_MODULE"
load_mod vduse && load_mod virtio_vdpa && load_mod virtio_blk || return 0
unload_mod vhost_vdpa || return 0

BENCH_LIB_ROUNDS=2 BENCH_LIB_SECONDS=0.1
BENCH_LIB_TESTS=randread-qd1,randread-qd32,randwrite-qd1,randwrite-qd32
[ -r /etc/bench.conf ] && . /etc/bench.conf

args="" pids=""
for impl in ours qemu raw; do
	command -v "null-$impl" > /dev/null || { echo "# bench_lib: no null-$impl in this initramfs"; continue; }
	"null-$impl" "null$impl" > "/run/null-$impl.log" 2>&1 &
	pid=$!
	wait_for "/dev/vduse/null$impl" 30
	tap_ok $? "null-$impl created /dev/vduse/null$impl" "$(tail -n 3 /run/null-$impl.log | tr '\n' ' ')" ||
		{ kill $pid; continue; }
	kill -0 $pid
	tap_ok $? "null-$impl is running" "$(cat /run/null-$impl.log | tr '\n' ' ')" || continue
	timeout 60 vdpa dev add name "null$impl" mgmtdev vduse
	i=0; while ! dev_of "null$impl" > /dev/null && [ $i -lt 300 ]; do usleep 100000; i=$((i + 1)); done
	dev=$(dev_of "null$impl")
	tap_ok $? "null$impl attached as a virtio-blk disk" "$(tail -n 5 /run/null-$impl.log | tr '\n' ' ')" ||
		{ kill $pid; continue; }
	echo "# benchinfo $impl $dev $(cat /sys/block/${dev#/dev/}/device/features)"
	args="$args $impl=$dev:$pid" pids="$pids $impl:$pid"
done
head -n 1 /run/null-*.log

timeout 900 nullbench --seconds "$BENCH_LIB_SECONDS" --rounds "$BENCH_LIB_ROUNDS" \
	--tests "$BENCH_LIB_TESTS" $args
tap_ok $? "nullbench: every I/O on every null device completed"

for p in $pids; do
	impl=${p%%:*} pid=${p#*:}
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
