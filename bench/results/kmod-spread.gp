# SPDX-License-Identifier: GPL-2.0
# bench/results/kmod-spread.dat (bench/run-kmod spread): how many distinct
# bounce pages a null virtio-blk goes through with one reader per CPU at
# depth 1, against the number of CPUs, on Debian's stock vduse and on ours.
set terminal pngcairo size 900,500 font ",10"
set output outfile
set title "Bounce pages a busy device keeps, one 4 KiB reader per CPU at depth 1 (6.12, TCG)\n(each module keeps every bounce page it used until the device goes)" noenhanced
set grid
set key top left
set xlabel "virtual CPUs (= readers)"
set ylabel "distinct bounce pages"
set logscale y
set xtics 2
set yrange [1:*]
plot datafile using 1:2 with linespoints pointtype 7 title "stock vduse (kernel IOVA allocator, per-CPU caches)", \
     '' using 1:3 with linespoints pointtype 5 title "ours (first-fit bitmap)"
