# SPDX-License-Identifier: GPL-2.0
# make check-debug, first suite: have kmemleak forget what it suspects after
# boot, so that the scan of kmemleak.sh (the last suite) reports only what the
# suites leaked.
km=/sys/kernel/debug/kmemleak
grep -q ' /sys/kernel/debug ' /proc/mounts || mount -t debugfs debugfs /sys/kernel/debug
if [ ! -e $km ]; then
	echo "ok 1 - kmemleak baseline # SKIP this kernel has no kmemleak"
	return 0
fi
rc=0
{ echo scan > $km && echo clear > $km; } || rc=1
tap_ok $rc "kmemleak: scan and clear the boot-time suspects" "kmemleak refused the write (disabled?)"
