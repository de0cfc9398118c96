# SPDX-License-Identifier: GPL-2.0
#
# Paired ratios per epoch for bench/run-kmod 6.12-pair: the log is divided
# into epochs ("# benchinfo epoch N: ..." lines; one module loaded in each).
# An epoch's value of a device is the median of its slices there; the k-th
# epoch that has BASE is paired with the k-th that has PEER (adjacent in
# time with the ABBA order of bench_kmod_pair, or the same epoch when both
# devices are in it), and the ratio is reported as median (q1 - q3) over the
# pairs, flagged "noisy" when q3 > 1.3 x q1, as bench/stats.awk does for
# slices, with a 95 % confidence interval of that median (bench/quantile.awk's
# medci: pairs of epochs are taken as independent). A difference whose
# interval holds 1.00 is not resolved by the run.
#
#   awk -f bench/quantile.awk -v base=oursv0 -v peer=stockv0 [-v dat=FILE] -f bench/epoch-stats.awk LOG
#
# dat gets bench/stats.awk's data lines (appended):
#   kind test peer base_median peer_median ratio q1 q3 pairs ci_lo ci_hi
# median of the slices of (epoch e, kind k, device d, test t)
function emed(e, k, d, t,    j, a) {
	for (j = 1; j <= cnt[e, k, d, t]; j++) a[j] = vals[e, k, d, t, j]
	sort(a, cnt[e, k, d, t])
	return quant(a, cnt[e, k, d, t], 0.5)
}
{ sub(/^\[[^]]*\] /, "") }
$1 == "#" && $2 == "benchinfo" && $3 == "epoch" { ep = $4 + 0; next }
$1 == "#" && ($2 == "bench" || $2 == "benchcpu") && NF >= 6 && ($3 == base || $3 == peer) {
	k = $2; d = $3; t = $4
	if (!((k, t) in seen)) { seen[k, t] = 1; order[++n] = k SUBSEP t; unit[k, t] = $6 }
	if (!((ep, k, d, t) in cnt)) eps[k, d, t, ++neps[k, d, t]] = ep
	cnt[ep, k, d, t]++
	vals[ep, k, d, t, cnt[ep, k, d, t]] = $5
}
END {
	if (!n) { print "  no measurements (see the log)"; exit 1 }
	printf "  %-9s %-20s %-7s %-8s %10s %10s %8s  %-13s %-15s %s\n", "kind", "test", "unit", "peer",
		base, "peer", "ratio", "(q1 - q3)", "[95% CI]", "epoch pairs"
	for (i = 1; i <= n; i++) {
		split(order[i], kt, SUBSEP); k = kt[1]; t = kt[2]
		np = neps[k, base, t] < neps[k, peer, t] ? neps[k, base, t] : neps[k, peer, t]
		for (j = 1; j <= np; j++) {
			b[j] = emed(eps[k, base, t, j], k, base, t)
			p[j] = emed(eps[k, peer, t, j], k, peer, t)
			r[j] = k == "bench" ? b[j] / p[j] : p[j] / b[j]
		}
		if (!np) continue
		sort(b, np); sort(p, np); sort(r, np)
		printf "  %-9s %-20s %-7s %-8s %10.1f %10.1f %s\n", k, t, unit[k, t], peer,
			quant(b, np, 0.5), quant(p, np, 0.5), ratiocols(r, np)
		if (dat != "")
			printf "%s %s %s %.1f %.1f %s\n", k, t, peer, quant(b, np, 0.5),
				quant(p, np, 0.5), ratiodat(r, np) >> dat
	}
}
