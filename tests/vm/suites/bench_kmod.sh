# SPDX-License-Identifier: GPL-2.0
# bench/run-kmod (make bench-kmod), not in tests/vm/plan: our module against
# the stock one, one boot per kernel/module. (1) The null virtio-blk on
# libvduse (null-ours) with 1 address space and, where API v1 exists, a
# second one with 16, taking turns under nullbench; bench/run-kmod compares
# the medians across boots. (2) Kernel memory per idle device (bench/kmem.c)
# with 1, 16, 256 and 0xffff groups and address spaces.
echo "# benchinfo kernel $(uname -r) vduse $VM_MODULE impl $VM_IMPL"
load_mod vduse && load_mod virtio_vdpa && load_mod virtio_blk || return 0
unload_mod vhost_vdpa || return 0

BENCH_KMOD_ROUNDS=2 BENCH_KMOD_SECONDS=0.1 BENCH_KMOD_TESTS=randread-qd1,randread-qd32
[ -r /etc/bench.conf ] && . /etc/bench.conf


args="" pids=""
for nas in 1 16; do
	null-ours --nas $nas nas$nas > /run/nas$nas.log 2>&1 &
	pid=$!
	if ! wait_for /dev/vduse/nas$nas 10; then
		echo "# bench_kmod: no device with $nas address spaces here: $(tail -n 2 /run/nas$nas.log | tr '\n' ' ')"
		kill $pid 2>/dev/null
		continue
	fi
	timeout 60 vdpa dev add name nas$nas mgmtdev vduse
	dev=$(wait_dev_of nas$nas)
	tap_ok $? "null-ours with $nas address space(s) attached" "$(tail -n 3 /run/nas$nas.log | tr '\n' ' ')" ||
		{ kill $pid; continue; }
	head -n 1 /run/nas$nas.log
	args="$args nas$nas=$dev:$pid" pids="$pids $nas:$pid"
done
timeout 900 nullbench --seconds "$BENCH_KMOD_SECONDS" --rounds "$BENCH_KMOD_ROUNDS" \
	--tests "$BENCH_KMOD_TESTS" $args
tap_ok $? "nullbench: every I/O completed"
for p in $pids; do
	nas=${p%%:*} pid=${p#*:}
	vdpa dev del nas$nas
	kill "$pid"
	wait "$pid"
	tap_ok $? "null-ours with $nas address space(s) exited cleanly" "$(tail -n 2 /run/nas$nas.log | tr '\n' ' ')"
done

# kernel memory: no bus driver, so that nothing attaches to the devices
unload_mod virtio_blk && unload_mod virtio_vdpa || return 0
# Upstream builds an IOVA domain for every address space at vdpa dev add
# (13 MB per device with 256 of them, measured): 0xffff would need about
# 3.4 GB and ends in an OOM panic of this 2 GiB guest, so it is left out there.
sizes="1:16 16:16 256:8 65535:2"
[ "$VM_IMPL" = upstream ] && sizes="1:16 16:16 256:8"
for x in $sizes; do
	timeout 300 kmem ${x%%:*} ${x%%:*} ${x#*:}
done
