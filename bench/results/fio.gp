# SPDX-License-Identifier: GPL-2.0
# bench/results/fio.dat (bench/run-fio): vduse-blk against
# qemu-storage-daemon, fio in the VM, ratio with its quartiles.
set terminal pngcairo size 900,500 font ",10"
set output outfile
set title "fio in one VM boot: vduse-blk (libvduse) / qemu-storage-daemon, both io_uring\n(median ratio of adjacent runs, bars q1-q3; > 1 = vduse-blk faster)" noenhanced
set style data histogram
set style histogram errorbars gap 1 lw 1
set style fill solid 0.6 border -1
set yrange [0:*]
set grid ytics
set key top left
set ylabel "vduse-blk / qsd"
set xtics rotate by -30 noenhanced
set rmargin 10
set bmargin 7
plot datafile using 4:5:6:xtic(1) title "IOPS or MB/s ratio", \
     1 with lines dt 2 lc rgb "black" title "parity"
