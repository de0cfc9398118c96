# SPDX-License-Identifier: GPL-2.0
# bench/counters.awk: the "# benchctr DEV TEST KEY PER-REQ" lines of
# nullbench --counters (bench/proc_counters.h), as one table per test:
# per counter, the median over the slices of each device, then ours (oursv0)
# minus stock (stockv0). Counters whose medians are all below 0.005 per
# request are left out. Needs bench/quantile.awk (sort, quant).
#   awk -f bench/quantile.awk -f bench/counters.awk LOG
{ sub(/^\[[^]]*\] /, "") }
$1 == "#" && $2 == "benchctr" {
	d = $3; t = $4; k = $5
	if (!(d in devs)) { devs[d] = 1; dorder[++nd] = d }
	if (!(t in tests)) { tests[t] = 1; torder[++nt] = t }
	if (!((t, k) in keys)) { keys[t, k] = 1; korder[t, ++nk[t]] = k }
	v[t, k, d, ++n[t, k, d]] = $6
}
function med(t, k, d,    m, i, a) {
	m = n[t, k, d]
	if (!m)
		return ""
	for (i = 1; i <= m; i++)
		a[i] = v[t, k, d, i]
	sort(a, m)
	return quant(a, m, 0.5)
}
END {
	for (i = 1; i <= nt; i++) {
		t = torder[i]
		printf "  %s, per request (median over slices):\n", t
		printf "    %-22s", "counter"
		for (j = 1; j <= nd; j++)
			printf " %10s", dorder[j]
		printf " %14s\n", "oursv0-stockv0"
		for (j = 1; j <= nk[t]; j++) {
			k = korder[t, j]
			big = 0
			for (l = 1; l <= nd; l++) {
				mm[l] = med(t, k, dorder[l])
				if (mm[l] != "" && (mm[l] >= 0.005 || mm[l] <= -0.005))
					big = 1
			}
			if (!big)
				continue
			printf "    %-22s", k
			for (l = 1; l <= nd; l++)
				printf " %10s", mm[l] == "" ? "-" : sprintf("%.4g", mm[l])
			s = med(t, k, "stockv0"); o = med(t, k, "oursv0")
			printf " %14s\n", s != "" && o != "" ? sprintf("%+.4g", o - s) : "-"
		}
	}
}
