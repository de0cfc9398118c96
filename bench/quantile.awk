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
