# bench/reqcost.awk: lackey's memory trace (valgrind --tool=lackey
# --trace-mem=yes) of bench/reqcost cut into device passes; see bench/reqcost.
#   -v m0=.. m1=.. m2=.. m3=..  the pages of reqcost_mark[0..3] (hex, no 0x)
#   -v skip=N                   warm-up passes left out (default 50)
#   -v pages=1                  also list every page touched, with the share of
#                               passes that touch it (code I, data D)
# Prints passes, instructions / code pages / data pages per pass (mean, min, max).
function pg(a) {
	a = substr(a, 1, index(a, ",") - 1)
	sub(/^0+/, "", a)
	return length(a) > 3 ? substr(a, 1, length(a) - 3) : "0"
}
BEGIN { if (skip == "") skip = 50 }
/^(I|  *[LSM]) / {
	p = pg($2)
	if ($1 != "I") {
		if (p == m0) { inp = 1; kern = 0; ni = 0; split("", code); split("", data); next }
		if (p == m2) { kern = 1; next }
		if (p == m3) { kern = 0; next }
		if (p == m1 && inp) {
			inp = 0
			if (++np <= skip)
				next
			nc = 0; for (k in code) { nc++; if (pages) pc[k]++ }
			nd = 0; for (k in data) { nd++; if (pages) pd[k]++ }
			n++; si += ni; sc += nc; sd += nd
			if (n == 1 || ni < mini) mini = ni; if (ni > maxi) maxi = ni
			if (n == 1 || nc < minc) minc = nc; if (nc > maxc) maxc = nc
			if (n == 1 || nd < mind) mind = nd; if (nd > maxd) maxd = nd
			next
		}
	}
	if (!inp || kern)
		next
	if ($1 == "I") { ni++; code[p] = 1 } else data[p] = 1
}
END {
	if (!n) { print "reqcost.awk: no pass found" > "/dev/stderr"; exit 1 }
	printf "passes %d insns %.1f (%d - %d) code_pages %.2f (%d - %d) data_pages %.2f (%d - %d)\n",
	       n, si / n, mini, maxi, sc / n, minc, maxc, sd / n, mind, maxd
	if (pages) {
		for (k in pc) printf "I %s000 %.2f\n", k, pc[k] / n
		for (k in pd) printf "D %s000 %.2f\n", k, pd[k] / n
	}
}
