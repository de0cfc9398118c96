# SPDX-License-Identifier: GPL-2.0
# vmtest-needs: stockvduse
# bench/run-kmod (make bench-kmod), not in tests/vm/plan: our module against
# Debian's stock vduse in ONE boot of 6.12 (--module ours; the harness packs
# the stock module in as /lib/modules/vduse_stock.ko). Epochs alternate
# between the two modules, ABBA (stock, ours, ours, stock, stock, ...), so
# that drift of the machine cancels: each epoch loads its module, creates
# the null virtio-blk on libvduse (null-ours) and binds it to virtio-blk,
# runs nullbench slices, tears everything down and unloads the module.
#   stock epoch: stockv0 (API v0, the only one the stock module has)
#   ours epoch:  oursv0 (API v0: like for like), nas1 (API v1, 1 address
#                space), nas16 (API v1, 16 address spaces), taking turns
# The k-th stock epoch and the k-th ours epoch are adjacent in time, and so
# are slice j of each (bench/stats.awk pairs them). Then kernel memory per
# idle device (bench/kmem.c) on both modules in the same boot.
# Settings from /etc/bench.conf (bench/run-kmod); the defaults below are a
# smoke run.
echo "# benchinfo kernel $(uname -r) vduse $VM_MODULE impl $VM_IMPL (paired: stock and ours)"
if [ ! -f /lib/modules/vduse_stock.ko ] || [ "$VM_IMPL" != ours ]; then
	# the debug kernel of make check-debug has no vduse of its own
	echo "ok 1 - bench_kmod_pair # SKIP no stock vduse beside ours in this boot ($VM_KERNEL $VM_MODULE)"
	return 0
fi
load_mod vdpa && load_mod vhost_iotlb && load_mod virtio_vdpa && load_mod virtio_blk || return 0
unload_mod vhost_vdpa && unload_mod vduse || return 0

BENCH_KMOD_PAIRS=1 BENCH_KMOD_ROUNDS=1 BENCH_KMOD_SECONDS=0.1
BENCH_KMOD_TESTS=randread-qd1,randread-qd32 BENCH_KMOD_MEM=0
BENCH_KMOD_COUNTERS=0 BENCH_KMOD_LAYOUT=mixed
[ -r /etc/bench.conf ] && . /etc/bench.conf
# per-slice scheduler/interrupt/fault counters (nullbench --counters)
ctr=""
[ "$BENCH_KMOD_COUNTERS" = 1 ] && ctr=--counters

# use_mod stock|ours: swap_vduse (lib.sh) with a TAP line if it fails.
use_mod() {
	swap_vduse "$1" || { echo "not ok 1 - load vduse $1"; return 1; }
	echo "# benchinfo epoch $epoch: vduse $1, taint '$(cat /sys/module/vduse/taint)'"
}


# dev_view NAME /dev/vdX: what the guest's driver made of the device
# (virtio features, queue limits, hardware queues), to compare between modules
dev_view() {
	local b=/sys/block/${2#/dev/} a line=""
	for a in nr_requests max_segments max_segment_size max_sectors_kb \
		max_hw_sectors_kb logical_block_size rotational nomerges rq_affinity \
		scheduler write_cache; do
		line="$line $a=$(tr ' ' , < "$b/queue/$a" 2>/dev/null)"
	done
	echo "# devview $1 features=$(cat "$b/device/features" 2>/dev/null)" \
		"hwq=$(ls "$b/mq" 2>/dev/null | wc -l)$line"
}

# start_dev NAME NULL-OURS-OPTIONS...: appends NAME=DEV:PID to $args
start_dev() {
	local name=$1 r=0
	null_up "$@" || r=1
	pids="$pids $name:$NULL_PID"
	[ $r = 0 ] || return 1
	[ $epoch -lt 2 ] && head -n 1 "/run/$name.log" && dev_view "$name" "$NULL_DEV"
	args="$args $name=$NULL_DEV:$NULL_PID"
}

# stop_devs: deletes and destroys every device of $pids; 1 if one failed
stop_devs() {
	local p name pid rc=0
	for p in $pids; do
		name=${p%%:*} pid=${p#*:}
		[ -e "/sys/bus/vdpa/devices/$name" ] && { vdpa dev del "$name" || rc=1; }
		kill "$pid" 2>/dev/null
		wait "$pid" || { rc=1; echo "# $name: $(tail -n 2 /run/$name.log | tr '\n' ' ')"; }
		grep -h '^# nullblk .*served' "/run/$name.log" | sed "s/^/# epoch $epoch: /"
	done
	pids=""
	return $rc
}

# run_epoch stock|ours
run_epoch() {
	local ok=0
	args="" pids=""
	use_mod "$1" || return 1
	# devices per epoch (they take turns in nullbench's slices):
	#   mixed (default): stock stockv0; ours oursv0, nas1, nas16
	#   single: stock stockv0; ours oursv0
	#   three: stock stockv0 and two more v0 devices (stockv0b, stockv0c)
	#          that take turns like nas1 and nas16; ours as mixed
	if [ "$1" = stock ]; then
		start_dev stockv0 --v0 || ok=1
		[ "$BENCH_KMOD_LAYOUT" = three ] && [ $ok = 0 ] &&
			{ start_dev stockv0b --v0 && start_dev stockv0c --v0 || ok=1; }
	elif [ "$BENCH_KMOD_LAYOUT" = single ]; then
		start_dev oursv0 --v0 || ok=1
	else
		start_dev oursv0 --v0 && start_dev nas1 --nas 1 && start_dev nas16 --nas 16 || ok=1
	fi
	if [ $ok = 0 ]; then
		# warm-up, not counted: first touches of the bounce pages and mappings
		timeout 60 nullbench --seconds 0.05 --rounds 1 --tests "$BENCH_KMOD_TESTS" $args > /dev/null || ok=1
		timeout 600 nullbench --seconds "$BENCH_KMOD_SECONDS" --rounds "$BENCH_KMOD_ROUNDS" \
			--tests "$BENCH_KMOD_TESTS" $ctr $args || ok=1
	fi
	stop_devs || ok=1
	tap_ok $ok "epoch $epoch ($1 vduse): devices attached, every I/O completed, devices destroyed"
	return $ok
}

echo "# bench_kmod_pair: $BENCH_KMOD_PAIRS pairs of epochs, $BENCH_KMOD_ROUNDS rounds of $BENCH_KMOD_SECONDS s per device and test, layout $BENCH_KMOD_LAYOUT"
t0=$(cut -d' ' -f1 /proc/uptime)
epoch=0 k=0 failed=0
while [ $k -lt "$BENCH_KMOD_PAIRS" ]; do
	# ABBA: even pairs stock first, odd pairs ours first
	if [ $((k % 2)) = 0 ]; then order="stock ours"; else order="ours stock"; fi
	for m in $order; do
		run_epoch $m || failed=1
		epoch=$((epoch + 1))
		[ $failed = 0 ] || break
	done
	[ $failed = 0 ] || break
	k=$((k + 1))
done
echo "# bench_kmod_pair: $epoch epochs in $(awk -v t0="$t0" '{ printf "%.0f", $1 - t0 }' /proc/uptime) s"

epoch=mem
# kernel memory per idle device: no bus driver, so that nothing attaches
if [ "$BENCH_KMOD_MEM" = 1 ] && [ $failed = 0 ]; then
	unload_mod virtio_blk && unload_mod virtio_vdpa || return 0
	use_mod stock && timeout 300 kmem 1 1 16
	use_mod ours || return 0
	for x in 1:16 16:16 256:8 65535:2; do
		timeout 300 kmem ${x%%:*} ${x%%:*} ${x#*:}
	done
fi
# leave our module loaded, as the other suites of an ours boot expect
grep -q '^vduse ' /proc/modules && grep -qx vduse /run/.loaded || use_mod ours
