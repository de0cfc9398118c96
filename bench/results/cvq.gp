# SPDX-License-Identifier: GPL-2.0
# bench/results/cvq.dat (bench/run-cvq): the shadow-CVQ round trip on
# vdpa_sim_net and vduse-net, medians with quartiles of every command.
set terminal pngcairo size 900,500 font ",10"
set output outfile
set title "Shadow-CVQ command round trip through vhost-vdpa (CVQ in ASID 1), one VM boot\n(median of every command, bars q1-q3; @0: consumer and device on CPU 0, @any: the scheduler places them;\nvdpa_sim_net knows MAC ADDR_SET only)" noenhanced
set style data histogram
set style histogram errorbars gap 1 lw 1
set style fill solid 0.6 border -1
set yrange [0:*]
set grid ytics
set key top right
set ylabel "round trip (us)"
set xtics rotate by -30 noenhanced
set bmargin 6
plot datafile using 2:3:4:xtic(1) title "vdpa_sim_net (kernel worker)" noenhanced, \
     '' using 5:6:7 title "vduse-net (userspace, VDUSE)" noenhanced
