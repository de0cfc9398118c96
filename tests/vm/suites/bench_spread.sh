# SPDX-License-Identifier: GPL-2.0
# How many bounce pages a busy device goes through as CPUs are added
# (bench/run-kmod spread; booted with VMTEST_SMP=N): one reader per CPU,
# each pinned to its CPU, 4 KiB random reads at depth 1, all at once for
# BENCH_SPREAD_SECONDS, on a null virtio-blk (null-raw with
# NULL_RAW_PAGES=1 counts the distinct IOVA pages of the request buffers).
# Both modules keep every bounce page they ever used until the device goes,
# so the count is also the device's bounce memory. Prints
#   # benchspread IMPL CPUS REQUESTS PAGES
# The TAP lines test that the device attached, every reader succeeded and
# the device served every request and was destroyed; no limit on the pages.
echo "# benchinfo kernel $(uname -r) vduse $VM_MODULE impl $VM_IMPL cpus $(nproc)"
load_mod vduse && load_mod virtio_vdpa && load_mod virtio_blk || return 0
unload_mod vhost_vdpa || return 0
BENCH_SPREAD_SECONDS=1
[ -r /etc/bench.conf ] && . /etc/bench.conf

nullraw_up bench_spread spread || return 0
cpus=$(nproc) rc=0 pids=""
for c in $(seq 0 $((cpus - 1))); do
	taskset -c "$c" timeout 120 nullbench --seconds "$BENCH_SPREAD_SECONDS" --rounds 1 \
		--tests randread-qd1 "r$c=$NULL_DEV:$NULL_PID" > "/run/spread-$c.log" 2>&1 &
	pids="$pids $!"
done
for p in $pids; do wait "$p" || rc=1; done
tap_ok $rc "bench_spread: $cpus readers, one pinned to each CPU, 4 KiB at depth 1" \
	"$(cat /run/spread-*.log | grep -v '^# bench' | tail -n 3 | tr '\n' ' ')"
vdev_down bench_spread spread
nullraw_counts spread
echo "# benchspread $VM_IMPL $cpus ${NULL_SERVED:-0} ${NULL_PAGES:-0}"
