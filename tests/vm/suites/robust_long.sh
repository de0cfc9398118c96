# SPDX-License-Identifier: GPL-2.0
# make check-long: the loops of hostile_dev and concurrency that follow run
# 60 s each instead of 2.
echo 60 > /run/robust-seconds
echo "ok 1 - robust_long: loops of 60 s"
