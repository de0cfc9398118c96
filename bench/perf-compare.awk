# SPDX-License-Identifier: GPL-2.0
# bench/perf-compare.awk: the lines of tests/vm/suites/bench_kmod_perf.sh
#   # KIND MODULE EPOCH TEST KEY... SAMPLES US-PER-REQ
# (KIND perf, perfcs, perfcaller or perfdso; -v kind=... picks one) as one
# table per test: per key, the median over the epochs of each module of the
# microseconds per request (0 where an epoch did not list the key), and ours
# minus stock; keys whose medians are both below -v min (0.3) are left out.
# Needs bench/quantile.awk.
#   awk -v kind=perfcs -f bench/quantile.awk -f bench/perf-compare.awk LOG
BEGIN { if (kind == "") kind = "perf"; if (min == "") min = 0.3 }
{ sub(/^\[[^]]*\] /, "") }
$1 == "#" && $2 == kind && $6 != "requests" {
	m = $3; e = $4; t = $5
	key = $6
	for (i = 7; i <= NF - 2; i++)
		key = key " " $i
	if (!(t in tests)) { tests[t] = 1; torder[++nt] = t }
	if (!((t, key) in keys)) { keys[t, key] = 1; korder[t, ++nk[t]] = key }
	if (!((t, m, e) in ep)) { ep[t, m, e] = 1; epl[t, m, ++ne[t, m]] = e }
	v[t, key, m, e] = $NF
}
function med(t, key, m,    i, a, n) {
	n = ne[t, m]
	for (i = 1; i <= n; i++)
		a[i] = v[t, key, m, epl[t, m, i]] + 0
	sort(a, n)
	return n ? quant(a, n, 0.5) : 0
}
END {
	for (i = 1; i <= nt; i++) {
		t = torder[i]
		printf "  %s (%s, us per request, median of %d stock and %d ours epochs):\n", t, kind, ne[t, "stock"], ne[t, "ours"]
		printf "    %-60s %8s %8s %8s\n", "key", "stock", "ours", "diff"
		for (j = 1; j <= nk[t]; j++) {
			key = korder[t, j]
			s = med(t, key, "stock"); o = med(t, key, "ours")
			if (s < min && o < min)
				continue
			printf "    %-60s %8.2f %8.2f %+8.2f\n", key, s, o, o - s
		}
	}
}
