# SPDX-License-Identifier: GPL-2.0
# make check-debug, last suite: unload the vDPA stack, so that whatever only
# its modules still pointed to becomes unreferenced, then scan for leaks twice
# (an object is reported once it is 5 s old and unreferenced at a scan).
# Any suspect fails; its backtrace is printed.
km=/sys/kernel/debug/kmemleak
grep -q ' /sys/kernel/debug ' /proc/mounts || mount -t debugfs debugfs /sys/kernel/debug
if [ ! -e $km ]; then
	echo "ok 1 - kmemleak # SKIP this kernel has no kmemleak"
	return 0
fi
for m in virtio_net virtio_blk virtio_vdpa vhost_vdpa vduse vdpa vhost vhost_iotlb; do
	grep -q "^$m " /proc/modules || continue
	rmmod $m || echo "# kmemleak: could not unload $m; its objects stay referenced"
done
t0=$(date +%s)
rc=0
{ echo scan > $km && sleep 6 && echo scan > $km; } || rc=1
tap_ok $rc "kmemleak: two scans" "kmemleak refused the write (disabled?)"
echo "# kmemleak: two scans took $(( $(date +%s) - t0 ))s"
cat $km > /run/kmemleak
n=$(grep -c '^unreferenced object' /run/kmemleak)
[ "$n" = 0 ]
tap_ok $? "kmemleak: no unreferenced object" "$n suspects: $(grep -m1 -A12 backtrace /run/kmemleak | tr -s ' \n' ' ')"
[ "$n" = 0 ] || sed 's/^/# /' /run/kmemleak | head -n 400

# The check above must be able to fail: samples/kmemleak's module leaks on
# purpose (orphans at load, a list it drops at unload), and the same scans
# have to report it.
ko=/lib/modules/kmemleak_test.ko
if [ ! -f $ko ]; then
	echo "ok 1 - kmemleak reports a module that leaks on purpose # SKIP no $ko"
	return 0
fi
insmod $ko && rmmod kmemleak_test && sleep 6 &&
	echo scan > $km && sleep 6 && echo scan > $km
grep -c '^unreferenced object' $km > /run/kmemleak.n
n2=$(( $(cat /run/kmemleak.n) - n ))
[ $n2 -ge 10 ]
tap_ok $? "kmemleak reports a module that leaks on purpose" "$n2 new suspects, want at least 10"
