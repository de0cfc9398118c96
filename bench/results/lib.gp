# SPDX-License-Identifier: GPL-2.0
# bench/results/lib.dat (bench/run-lib): libvduse against QEMU's libvduse
# and against the raw UAPI loop, ratios with their quartiles as error bars.
set terminal pngcairo size 900,500 font ",10"
set output outfile
set title "Null virtio-blk in one VM boot: libvduse against QEMU's libvduse and the raw UAPI loop\n(median ratio of adjacent slices, bars q1-q3; > 1 = libvduse better)" noenhanced
set style data histogram
set style histogram errorbars gap 2 lw 1
set style fill solid 0.6 border -1
set boxwidth 0.9
set yrange [0:*]
set grid ytics
set key below
set ylabel "ratio"
set xtics noenhanced
plot datafile using 2:3:4:xtic(1) title "IOPS ours / QEMU libvduse", \
     '' using 5:6:7 title "IOPS ours / raw loop", \
     '' using 8:9:10 title "CPU per request QEMU / ours", \
     '' using 11:12:13 title "CPU per request raw / ours", \
     1.5 with lines dt 2 lc rgb "black" title "goal vs QEMU (1.5)", \
     0.95 with lines dt 3 lc rgb "gray40" title "goal vs raw (0.95)"
