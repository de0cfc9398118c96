# SPDX-License-Identifier: GPL-2.0
# bench/results/kmod-pair.dat (bench/run-kmod 6.12-pair): our module against
# Debian's stock vduse in one boot of 6.12 (or of the kernel named by boot),
# ratios of paired slices with their quartiles as error bars.
set terminal pngcairo size 900,500 font ",10"
set output outfile
# kmod-trixie-pair.gp names its kernel and loads this one
if (!exists("boot")) boot = "6.12"
set title sprintf("Null virtio-blk on libvduse, one boot of %s, modules swapped ABBA: our vduse against the stock one\n(median ratio of paired epochs, bars q1-q3; > 1 = the first is better)", boot) noenhanced
set style data histogram
set style histogram errorbars gap 2 lw 1
set style fill solid 0.6 border -1
set boxwidth 0.9
set yrange [0:*]
set grid ytics
set key below
set ylabel "ratio"
set xtics noenhanced
plot datafile using 2:3:4:xtic(1) title "IOPS ours (API v0) / stock", \
     '' using 5:6:7 title "IOPS ours (API v1, 1 AS) / stock", \
     '' using 8:9:10 title "IOPS ours 16 AS / 1 AS", \
     '' using 11:12:13 title "CPU per request stock / ours (API v0)", \
     0.98 with lines dt 2 lc rgb "black" title "goal (0.98)"
