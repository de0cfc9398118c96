# SPDX-License-Identifier: GPL-2.0
# vmtest-needs: stockvduse perf
# Not in tests/vm/plan (bench/README.md section 3, "where the depth-32 time
# goes"): a system-wide cpu-clock profile (perf record -a, the host's perf)
# of one null virtio-blk (API v0) under random 4 KiB reads, then writes, at
# depth 32, on stock vduse and on ours in turn (stock, ours, ours, stock), in
# one boot. Per epoch and symbol: samples and microseconds of CPU per request
# (samples / frequency / requests, both vCPUs, idle included), so that the
# modules can be compared symbol by symbol:
#   # perf MODULE TEST SYMBOL SAMPLES us/req
# Samples under TCG land where interrupts are enabled again, so the time of
# a region run with interrupts off shows as _raw_spin_unlock_irqrestore (or
# _irq): for those the callers are counted too, from the call chains:
#   # perfcaller MODULE K TEST UNLOCK CALLER1<CALLER2 SAMPLES us/req
# Run: tests/vm/run --kernel 6.12 --module ours --timeout 1500 -v -- bench_kmod_perf
# (/etc/bench.conf: PERF_SECONDS, default 3; PERF_FREQ, default 1000;
# PERF_TESTS, default randread-qd32,randwrite-qd32; PERF_ORDER, default
# "stock ours ours stock")
echo "# benchinfo kernel $(uname -r) vduse $VM_MODULE impl $VM_IMPL (profiled: stock and ours)"
if [ ! -f /lib/modules/vduse_stock.ko ] || [ "$VM_IMPL" != ours ] || ! command -v perf > /dev/null; then
	echo "ok 1 - bench_kmod_perf # SKIP no stock vduse beside ours, or no perf, in this boot"
	return 0
fi
load_mod vdpa && load_mod vhost_iotlb && load_mod virtio_vdpa && load_mod virtio_blk || return 0
unload_mod vhost_vdpa && unload_mod vduse || return 0
PERF_SECONDS=3 PERF_FREQ=1000 PERF_TESTS=randread-qd32,randwrite-qd32
PERF_ORDER="stock ours ours stock"
[ -r /etc/bench.conf ] && . /etc/bench.conf
# mitigations decide what a kernel entry costs under TCG (PTI: a CR3 switch
# and so a softmmu TLB flush per entry)
grep . /sys/devices/system/cpu/vulnerabilities/* 2> /dev/null | sed 's|.*/|# vuln: |'
echo 0 > /proc/sys/kernel/kptr_restrict
echo -1 > /proc/sys/kernel/perf_event_paranoid

# perf_epoch stock|ours K TEST
perf_epoch() {
	local m=$1 k=$2 t=$3 name=pf$1 pid i dev ok=0 reqs
	swap_vduse "$m" || { echo "not ok 1 - load $m"; return 1; }
	null_up "$name" --v0 || ok=1
	pid=$NULL_PID dev=$NULL_DEV
	if [ $ok = 0 ]; then
		timeout 60 nullbench --seconds 0.1 --rounds 1 --tests "$t" "$name=$dev:$pid" > /dev/null
		timeout 300 perf record -q -a -g -F "$PERF_FREQ" -e cpu-clock -o /run/perf.data -- \
			nullbench --seconds "$PERF_SECONDS" --rounds 1 --tests "$t" "$name=$dev:$pid" \
			> /run/pf.out 2> /run/pf.err || { ok=1; tail -n 3 /run/pf.err | sed 's/^/# perf: /'; }
		grep '^# bench' /run/pf.out | sed "s/^# /# $m $k: /"
		# requests profiled = IOPS x seconds
		reqs=$(awk -v s="$PERF_SECONDS" '$2 == "bench" && $6 == "IOPS" { printf "%d", $5 * s; exit }' /run/pf.out)
		# before rmmod: the module's symbols come from /proc/kallsyms
		timeout 300 perf report -i /run/perf.data --stdio -n --no-children --sort sym \
			--percent-limit 0.3 2> /dev/null |
			awk -v m="$m" -v k="$k" -v t="$t" -v r="${reqs:-0}" -v f="$PERF_FREQ" '
			/^#/ || NF < 4 { next }
			{ s = $2; sym = $4; for (i = 5; i <= NF; i++) sym = sym "_" $i
			  printf "# perf %s %d %s %s %d %.3f\n", m, k, t, sym, s, r ? s / f / r * 1e6 : 0 }'
		# per process and symbol: who pays
		timeout 300 perf report -i /run/perf.data --stdio -n --no-children --sort comm,sym \
			--percent-limit 0.3 2> /dev/null |
			awk -v m="$m" -v k="$k" -v t="$t" -v r="${reqs:-0}" -v f="$PERF_FREQ" '
			/^#/ || NF < 5 { next }
			{ s = $2; w = $3 "/" $5; for (i = 6; i <= NF; i++) w = w "_" $i
			  printf "# perfcs %s %d %s %s %d %.3f\n", m, k, t, w, s, r ? s / f / r * 1e6 : 0 }'
		timeout 300 perf report -i /run/perf.data --stdio -n --no-children --sort comm,dso \
			--percent-limit 0.5 2> /dev/null |
			awk -v m="$m" -v k="$k" -v t="$t" -v r="${reqs:-0}" -v f="$PERF_FREQ" '
			/^#/ || NF < 4 { next }
			{ s = $2; w = $3 "/" $4
			  printf "# perfdso %s %d %s %s %d %.3f\n", m, k, t, w, s, r ? s / f / r * 1e6 : 0 }'
		# callers of the unlocks that enable interrupts again (see above)
		timeout 300 perf script -i /run/perf.data -F ip,sym 2> /dev/null |
			awk -v m="$m" -v k="$k" -v t="$t" -v r="${reqs:-0}" -v f="$PERF_FREQ" '
			NF == 0 { d = 0; next }
			{ d++; sym = $2; sub(/\+0x.*/, "", sym) }
			d == 1 { top = sym; c1 = "" }
			d == 2 { c1 = sym }
			d == 3 && top ~ /^_raw_spin_unlock_irq/ { n[top " " c1 "<" sym]++ }
			END { for (x in n) if (n[x] >= 5) {
				split(x, a, " ")
				printf "# perfcaller %s %d %s %s %s %d %.3f\n", m, k, t, a[1], a[2], n[x], r ? n[x] / f / r * 1e6 : 0 } }'
		echo "# perf $m $k $t requests $reqs"
		rm -f /run/perf.data
	fi
	vdpa dev del "$name" 2>/dev/null
	kill "$pid" 2>/dev/null
	wait "$pid"
	tap_ok $ok "profiled epoch $k: $m $t"
	return $ok
}

for t in $(echo "$PERF_TESTS" | tr , ' '); do
	k=0
	for m in $PERF_ORDER; do
		perf_epoch $m $k $t || break
		k=$((k + 1))
	done
done
grep -q '^vduse ' /proc/modules && grep -qx vduse /run/.loaded || swap_vduse ours
