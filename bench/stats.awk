# SPDX-License-Identifier: GPL-2.0
#
# Medians and paired ratios of the in-VM benches (bench/run-lib, run-fio,
# run-net, run-kmod), the method of bench/run: every device is measured in
# short slices taking turns, so slice k of each device is adjacent in time;
# the ratio base/peer is the median over k of value(base, k) / value(peer, k),
# with its quartiles, flagged "noisy" when q3 > 1.3 x q1, and a 95 %
# confidence interval of that median (bench/quantile.awk's medci). Slices
# close in time share the host's load, so the interval is optimistic; the
# interval over pairs of epochs (bench/epoch-stats.awk) is the sounder one.
#
#   awk -f bench/quantile.awk -v base=ours [-v dat=FILE] -f bench/stats.awk LOG...
#
# Input lines (after an optional "[tag] " prefix):
#   # bench DEVICE TEST VALUE UNIT        higher is better (IOPS, MB/s, fps)
#   # benchcpu DEVICE TEST VALUE UNIT     lower is better (ns/req, us)
#   # benchlat DEVICE TEST VALUE UNIT     lower is better
# For the lower-is-better kinds the ratio is peer/base, so that a ratio > 1
# always means the base is better. dat gets one line per test and peer:
#   kind test peer base_median peer_median ratio q1 q3 slices ci_lo ci_hi
{ sub(/^\[[^]]*\] /, "") }
$1 == "#" && ($2 == "bench" || $2 == "benchcpu" || $2 == "benchlat") && NF >= 6 {
	k = $2; dev = $3; test = $4
	if (!((k, test) in seen)) { seen[k, test] = 1; order[++n] = k SUBSEP test }
	if (!(dev in devseen)) { devseen[dev] = 1; devs[++ndevs] = dev }
	unit[k, test] = $6
	cnt[k, dev, test]++
	vals[k, dev, test, cnt[k, dev, test]] = $5
}
END {
	if (!n) { print "  no measurements (see the log)"; exit 1 }
	if (base == "") base = "ours"
	printf "  %-9s %-20s %-7s %-6s %10s %10s %8s  %-13s %-15s %s\n", "kind", "test", "unit", "peer",
		base, "peer", base "/peer", "(q1 - q3)", "[95% CI]", "slices"
	for (i = 1; i <= n; i++) {
		split(order[i], kt, SUBSEP); k = kt[1]; t = kt[2]
		nb = cnt[k, base, t]
		for (j = 1; j <= nb; j++) b[j] = vals[k, base, t, j]
		for (d = 1; d <= ndevs; d++) {
			p = devs[d]
			if (p == base || !cnt[k, p, t]) continue
			np = cnt[k, p, t]; nr = 0
			for (j = 1; j <= np; j++) q[j] = vals[k, p, t, j]
			for (j = 1; j <= nb && j <= np; j++) {
				if (k == "bench" && q[j] > 0) r[++nr] = b[j] / q[j]
				if (k != "bench" && b[j] > 0) r[++nr] = q[j] / b[j]
			}
			for (j = 1; j <= nb; j++) bs[j] = b[j]
			sort(bs, nb); sort(q, np); sort(r, nr)
			printf "  %-9s %-20s %-7s %-6s %10.1f %10.1f %s\n", k, t, unit[k, t], p,
				quant(bs, nb, 0.5), quant(q, np, 0.5), ratiocols(r, nr)
			if (dat != "" && nr)
				printf "%s %s %s %.1f %.1f %s\n", k, t, p, quant(bs, nb, 0.5),
					quant(q, np, 0.5), ratiodat(r, nr) > dat
		}
	}
}
