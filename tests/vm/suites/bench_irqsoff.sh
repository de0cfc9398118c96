# SPDX-License-Identifier: GPL-2.0
# Not part of tests/vm/plan: bench/irqsoff boots it on the debug kernel
# (bench/README.md, "IRQ-off windows of the domain"). The kdomain bench
# scenarios of bench_kdomain.sh with the kernel's irqsoff tracer, which
# tests/vm/debug.config enables: kdomain resets tracing_max_latency before
# each operation and prints the worst IRQ-off section after it
# ("# bench: irqsoff:" lines), with the largest bounce area that fits.
# 512 unbatched updates, not 1024 as in bench_kdomain: with KASAN and
# kmemleak 1024 take 3.5 minutes (O(n^2) entry copies).
echo "# benchinfo kernel $(uname -r) vduse $VM_MODULE"
grep -q irqsoff /sys/kernel/tracing/available_tracers 2>/dev/null ||
	mount -t tracefs tracefs /sys/kernel/tracing 2>/dev/null
if ! grep -q irqsoff /sys/kernel/tracing/available_tracers 2>/dev/null; then
	echo "ok 1 - # SKIP no irqsoff tracer in $(uname -r) (the debug kernel has it)"
	return 0
fi
load_mod vduse && load_mod vdpa || return 0
load_mod virtio_vdpa && load_mod virtio_blk || return 0
kd() {
	run_prog 1200 kdomain --impl "$VM_IMPL" "$@"
}
kd bench-switch max
load_mod vhost_vdpa || return 0
kd bench-setmap 4096 batched
kd bench-setmap 16384 batched
kd bench-setmap 512 unbatched
echo nop > /sys/kernel/tracing/current_tracer
