# SPDX-License-Identifier: GPL-2.0
# Sorting and quantiles for bench/stats.awk and bench/epoch-stats.awk: load
# it first (awk -f bench/quantile.awk -f bench/stats.awk ...).

# sort(A, N): A[1..N] in increasing numeric order (insertion sort: N is small)
function sort(a, n,    i, j, t) {
	for (i = 2; i <= n; i++)
		for (j = i; j > 1 && a[j - 1] + 0 > a[j] + 0; j--) {
			t = a[j]; a[j] = a[j - 1]; a[j - 1] = t
		}
}
# quant(A, N, Q): the Q-quantile of sorted A[1..N], linearly interpolated
function quant(a, n, q,    x, i) {
	x = 1 + (n - 1) * q; i = int(x)
	return i >= n ? a[n] : a[i] + (x - i) * (a[i + 1] - a[i])
}
# medci_k(N): the rank k of a distribution-free confidence interval of at
# least 95 % for the median of N independent values, [a[k], a[N + 1 - k]]
# of the sorted values: the largest k with P(B < k) <= 0.025 for B the
# binomial count of N fair coins (so each end misses the median with at
# most that chance). 0 when N is too small (N < 6) for any such interval.
# In logs, so that 2^-N does not underflow for thousands of values.
function medci_k(n,    i, lt, cum, k) {
	k = 0; cum = 0; lt = -n * log(2)
	for (i = 0; i < n; i++) {
		cum += exp(lt)
		if (cum > 0.025) break
		k = i + 1
		lt += log(n - i) - log(i + 1)
	}
	return k
}
# medci(A, N, FMT, NONE): that interval of sorted A[1..N] as
# sprintf(FMT, lo, hi), or NONE when N is too small for one
function medci(a, n, fmt, none,    k) {
	k = medci_k(n)
	return k ? sprintf(fmt, a[k], a[n + 1 - k]) : none
}
# ratiocols(R, N): the columns every ratio table prints for the sorted
# ratios R[1..N] of N pairs: "MEDIAN  (Q1 - Q3) [LO - HI] N", with "  noisy"
# after them when q3 > 1.3 x q1 (the host was busy)
function ratiocols(r, n) {
	if (!n)
		return sprintf("%8s  %-13s %-15s %d", "-", "", "", 0)
	return sprintf("%8.2f  %-13s %-15s %d%s", quant(r, n, 0.5),
		sprintf("(%.2f - %.2f)", quant(r, n, 0.25), quant(r, n, 0.75)),
		"[" medci(r, n, "%.2f - %.2f", "-") "]", n,
		n >= 4 && quant(r, n, 0.75) > 1.3 * quant(r, n, 0.25) ? "  noisy" : "")
}
# ratiodat(R, N): the same for a .dat line: "MEDIAN Q1 Q3 N LO HI"
function ratiodat(r, n) {
	return sprintf("%.4f %.4f %.4f %d %s", quant(r, n, 0.5), quant(r, n, 0.25),
		quant(r, n, 0.75), n, medci(r, n, "%.4f %.4f", "- -"))
}
