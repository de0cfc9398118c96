# SPDX-License-Identifier: GPL-2.0
# bench/results/net.dat (bench/run-net): vduse-net against a veth pair.
set terminal pngcairo size 900,500 font ",10"
set output outfile
set title "UDP in one VM boot: vduse-net (virtio-vdpa <-> TAP) / veth pair\n(median ratio of adjacent slices, bars q1-q3; rtt: veth / vduse-net)" noenhanced
set style data histogram
set style histogram errorbars gap 1 lw 1
set style fill solid 0.6 border -1
set yrange [0:1.2]
set grid ytics
set key top right
set ylabel "vduse-net / veth"
set xtics noenhanced
plot datafile using 4:5:6:xtic(1) title "ratio", 1 with lines dt 2 lc rgb "black" title "parity"
