# SPDX-License-Identifier: GPL-2.0
# bench/ctl.awk: the "# bench ctl TEST VARIANT VALUE UNIT" lines of
# tests/vm/suites/bench_ctl.sh (bench/ctl). Every test alternates two
# variants, A and B, in slices; slice k of each is a pair. Needs
# bench/quantile.awk (sort, quant, medci).
#   awk -f bench/quantile.awk -f bench/ctl.awk LOG
#       the table: medians of A and B, the median of the ratios A/B of
#       pairs with its quartiles, "noisy" when q3 > 1.3 x q1, and the 95 %
#       interval of that median
#   awk -v kind=latency|rate -f bench/quantile.awk -f bench/ctl.awk LOG
#       data lines "TEST:VARIANT MEDIAN Q1 Q3" of the tests in us (latency)
#       or of the others (rate), for bench/ctl's plots
{ sub(/^\[[^]]*\] /, "") }
/^# benchinfo kernel / { guest = $4 }
/device on VDUSE API/ { api = $0; sub(/.*device on /, "", api) }
/^# bench ctl / {
	t = $4; v = $5
	if (!(t in seen)) { seen[t] = 1; order[++ntests] = t }
	if (!((t, v) in vseen)) { vseen[t, v] = 1; var[t, ++nvar[t]] = v }
	unit[t] = $7
	vals[t, v] = vals[t, v] " " $6
}
function table(    i, t, a, b, na, nb, np, k, x, y, r) {
	if (!ntests) { print "  no measurements (see the log)"; return }
	printf "  guest kernel %s; %s\n", guest, api
	printf "  %-15s %-10s %-15s %10s %-15s %10s %8s  %-13s %-15s %s\n", "test", "unit", "A", "",
		"B", "", "A/B", "(q1 - q3)", "[95% CI]", "slices"
	for (i = 1; i <= ntests; i++) {
		t = order[i]; a = var[t, 1]; b = var[t, 2]
		na = split(vals[t, a], x, " "); nb = split(vals[t, b], y, " ")
		np = 0
		for (k = 1; k <= na && k <= nb; k++)
			if (y[k] > 0)
				r[++np] = x[k] / y[k]
		sort(x, na); sort(y, nb); sort(r, np)
		printf "  %-15s %-10s %-15s %10.1f %-15s %10.1f %s\n", t, unit[t],
			a, quant(x, na, 0.5), b, quant(y, nb, 0.5), ratiocols(r, np)
	}
}
function datlines(    i, j, t, n, x) {
	for (i = 1; i <= ntests; i++) {
		t = order[i]
		if ((kind == "latency") != (unit[t] == "us"))
			continue
		for (j = 1; j <= nvar[t]; j++) {
			n = split(vals[t, var[t, j]], x, " "); sort(x, n)
			printf "%s:%s %.2f %.2f %.2f\n", t, var[t, j], quant(x, n, 0.5),
				quant(x, n, 0.25), quant(x, n, 0.75)
		}
	}
}
END { if (kind == "") table(); else datlines() }
