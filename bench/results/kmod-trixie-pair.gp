# SPDX-License-Identifier: GPL-2.0
# bench/results/kmod-trixie-pair.dat (bench/run-kmod trixie-pair): the plot
# of kmod-pair.gp for the paired boot of Debian 13's own 6.12.
boot = "Debian 13's 6.12"
load "kmod-pair.gp"
