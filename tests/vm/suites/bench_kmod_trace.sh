# SPDX-License-Identifier: GPL-2.0
# vmtest-needs: stockvduse
# Not in tests/vm/plan (bench/README.md section 3, "where the depth-32 time
# goes"): the function_graph tracer times every function of the loaded vduse
# module while one null virtio-blk (API v0) runs random 4 KiB reads, then
# writes, at depth 32, on stock vduse and on ours in turn (stock, ours, ours,
# stock), in one boot. Per function: calls per request, median and mean
# duration. Each traced call costs about 1.5 us of its own under TCG, so by
# default only the entry points are traced (TRACE_ALL=1 in /etc/bench.conf:
# every function of the module); compare the modules, don't add up.
# Run: VMTEST_LOCK=... tests/vm/run --kernel 6.12 --module ours -v -- bench_kmod_trace
# Under TCG with 2 vCPUs, switching the tracer patches kernel text while the
# other vCPU runs it, and the guest sometimes dies of an int3 Oops at a
# jump-label site (seen in ttwu_do_activate, no vduse frame): a QEMU TCG
# cross-modifying-code hazard, not the module's. Rerun when that happens.
echo "# benchinfo kernel $(uname -r) vduse $VM_MODULE impl $VM_IMPL (traced: stock and ours)"
if [ ! -f /lib/modules/vduse_stock.ko ] || [ "$VM_IMPL" != ours ]; then
	echo "ok 1 - bench_kmod_trace # SKIP no stock vduse beside ours in this boot"
	return 0
fi
T=/sys/kernel/tracing
grep -q function_graph $T/available_tracers 2>/dev/null ||
	mount -t tracefs tracefs $T 2>/dev/null
if ! grep -q function_graph $T/available_tracers 2>/dev/null; then
	echo "ok 1 - bench_kmod_trace # SKIP no function_graph tracer"
	return 0
fi
load_mod vdpa && load_mod vhost_iotlb && load_mod virtio_vdpa && load_mod virtio_blk || return 0
unload_mod vhost_vdpa && unload_mod vduse || return 0
[ -r /etc/bench.conf ] && . /etc/bench.conf

# trace_epoch stock|ours TEST
trace_epoch() {
	local m=$1 t=$2 name=tr$1 pid i dev ok=0 reqs
	swap_vduse "$m" || { echo "not ok 1 - load $m"; return 1; }
	null_up "$name" --v0 || ok=1
	pid=$NULL_PID dev=$NULL_DEV
	if [ $ok = 0 ]; then
		timeout 60 nullbench --seconds 0.1 --rounds 1 --tests "$t" "$name=$dev:$pid" > /dev/null
		echo 0 > $T/tracing_on
		# the filter first: a tracer set with none patches every function
		# each traced call adds its own overhead: by default only the
		# entry points (DMA ops, kick, ioctl, injection work), so that
		# both modules carry one traced level; TRACE_ALL=1: every function
		if [ "${TRACE_ALL:-0}" = 1 ]; then
			f=':mod:vduse'
		elif [ "$m" = stock ]; then
			f='vduse_dev_map_page vduse_dev_unmap_page vduse_vdpa_kick_vq vduse_dev_ioctl vduse_vq_irq_inject'
		else
			f='vduse_dma_map_page vduse_dma_unmap_page vduse_kick_vq vduse_dev_ioctl vduse_vq_inject_work'
		fi
		echo "$f" > $T/set_ftrace_filter ||
			{ echo "# set_ftrace_filter refused $f"; ok=1; }
		[ $ok = 0 ] && echo function_graph > $T/current_tracer
		echo 1 > $T/options/funcgraph-tail
		echo 8192 > $T/buffer_size_kb
		echo "# trace: $(wc -l < $T/set_ftrace_filter) functions of vduse ($m) filtered"
		echo > $T/trace
		echo 1 > $T/tracing_on
		timeout 120 nullbench --seconds 0.5 --rounds 1 --tests "$t" "$name=$dev:$pid" > /run/tr.out || ok=1
		echo 0 > $T/tracing_on
		# "# bench NAME TEST IOPS IOPS": requests traced = IOPS x 0.5 s
		reqs=$(awk '$2 == "bench" && $6 == "IOPS" { printf "%d", $5 * 0.5; exit }' /run/tr.out)
		head -n 3 /run/tr.out | sed 's/^/# out: /'
		# "dur us | name();" (leaf) or "dur us | } /* name */" (with children)
		awk '{
			d = ""; n = ""
			for (i = 1; i < NF; i++) if ($(i + 1) == "us") { d = $i; break }
			if (d == "") next
			if (match($0, /\/\* [A-Za-z0-9_.]+ \[vduse\] \*\//)) { n = substr($0, RSTART + 3, RLENGTH - 14) }
			else if (match($0, /[A-Za-z0-9_.]+ \[vduse\]\(\);/)) { n = substr($0, RSTART, RLENGTH - 11) }
			if (n != "") print n, d
		}' $T/trace > /run/tr.dat
		echo "# trace: $(wc -l < /run/tr.dat) timed calls"
		[ -s /run/tr.dat ] || grep -m 5 -v '^#' $T/trace | sed 's/^/# raw: /'
		echo > $T/trace
		echo nop > $T/current_tracer
		for f in $(cut -d' ' -f1 /run/tr.dat | sort | uniq -c | sort -rn | awk '$1 >= 50 { print $2 }' | head -n 25); do
			awk -v f="$f" '$1 == f { print $2 }' /run/tr.dat | sort -n | awk -v f="$f" -v m="$m" -v t="$t" -v r="${reqs:-0}" '
				{ a[NR] = $1; s += $1 }
				END { printf "# trace %-5s %-18s %-32s calls %7d per-req %5.2f median %8.3f us mean %8.3f us total-per-req %8.3f us\n",
					m, t, f, NR, r ? NR / r : 0, a[int((NR + 1) / 2)], s / NR, r ? s / r : 0 }'
		done
	fi
	vdpa dev del "$name" 2>/dev/null
	kill "$pid" 2>/dev/null
	wait "$pid"
	tap_ok $ok "traced epoch $m $t"
	return $ok
}

for t in randread-qd32 randwrite-qd32; do
	for m in stock ours ours stock; do
		trace_epoch $m $t || break
	done
done
grep -q '^vduse ' /proc/modules && grep -qx vduse /run/.loaded || swap_vduse ours
