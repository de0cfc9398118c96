# SPDX-License-Identifier: GPL-2.0
# bench/results/dpdk.dat (bench/run-dpdk): vduse-net against DPDK's VDUSE
# net device (testpmd) and against a veth pair, in one boot.
set terminal pngcairo size 900,500 font ",10"
set output outfile
set title "UDP in one VM boot: vduse-net / DPDK testpmd's VDUSE device, vduse-net / veth\n(median ratio of adjacent slices, bars q1-q3; fps: vduse-net / peer, rtt: peer / vduse-net; > 1: vduse-net ahead)" noenhanced
set style data histogram
set style histogram errorbars gap 1 lw 1
set style fill solid 0.6 border -1
set yrange [0:*]
set grid ytics
set key top right
set ylabel "vduse-net against the peer"
set xtics noenhanced
plot datafile using 4:5:6:xtic(1) title "vs DPDK (VDUSE v0)", \
     '' using 8:9:10 title "vs veth", \
     1 with lines dt 2 lc rgb "black" title "parity"
