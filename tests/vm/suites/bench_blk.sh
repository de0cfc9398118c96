# SPDX-License-Identifier: GPL-2.0
# make bench-blk (bench/run; a step of make bench), not part of
# tests/vm/plan: libvduse's bench device (bench/benchdev.c) against
# qemu-storage-daemon's vduse-blk export (QEMU's libvduse), both backing a
# file of the same size in /run (tmpfs), one queue of 256 each, both
# driven by the kernel's virtio-blk through virtio-vdpa.
# blkbench takes turns between them in short slices (16 x 0.25 s per test
# and device) and prints "# bench ..." lines; its TAP lines only check data.
echo "# benchinfo kernel $(uname -r) vduse $VM_MODULE"
load_mod vduse && load_mod virtio_vdpa && load_mod virtio_blk || return 0
unload_mod vhost_vdpa || return 0

bench_mb=64
bench_seconds=0.25
bench_rounds=16
dd if=/dev/zero of=/run/bench-ours.img bs=1M count=$bench_mb 2>/dev/null
dd if=/dev/zero of=/run/bench-qsd.img bs=1M count=$bench_mb 2>/dev/null

# vdpa_name DEV: the vDPA device behind /dev/DEV (a directory on its sysfs path).
vdpa_name() {
	local p
	p=$(readlink -f "/sys/block/$1/device")
	p=${p%/virtio*}
	echo "${p##*/}"
}

benchdev --queue-size 256 benchours /run/bench-ours.img > /run/benchdev.log 2>&1 &
ours=$!
wait_for /dev/vduse/benchours 30
tap_ok $? "benchdev created /dev/vduse/benchours" "$(tail -n 3 /run/benchdev.log | tr '\n' ' ')" ||
	{ kill $ours; return 0; }
vdpa dev add name benchours mgmtdev vduse && wait_for /dev/vda 30 &&
	[ "$(vdpa_name vda)" = benchours ]
tap_ok $? "benchours attached as /dev/vda" "$(vdpa_name vda)" || { kill $ours; return 0; }

qemu-storage-daemon \
	--blockdev driver=file,node-name=file0,filename=/run/bench-qsd.img,cache.direct=off \
	--blockdev driver=raw,node-name=disk0,file=file0 \
	--export type=vduse-blk,id=vb0,node-name=disk0,name=benchqsd,num-queues=1,queue-size=256,writable=on \
	> /run/bench-qsd.log 2>&1 &
qsd=$!
wait_for /dev/vduse/benchqsd 30
tap_ok $? "qemu-storage-daemon created /dev/vduse/benchqsd" "$(tail -n 3 /run/bench-qsd.log | tr '\n' ' ')" ||
	{ kill $ours $qsd; return 0; }
vdpa dev add name benchqsd mgmtdev vduse && wait_for /dev/vdb 30 &&
	[ "$(vdpa_name vdb)" = benchqsd ]
tap_ok $? "benchqsd attached as /dev/vdb" "$(vdpa_name vdb)"

timeout 900 blkbench --seconds $bench_seconds --rounds $bench_rounds --threads 4 \
	ours=/dev/vda qsd=/dev/vdb

# The data checks must be able to fail: from now on benchdev flips a bit in
# every read, and blkbench --check-only must notice (and not on qsd).
blkbench --check-only qsd=/dev/vdb | grep -E '^(not )?ok .*every block'
kill -USR1 $ours
blkbench --check-only ours=/dev/vda > /run/bench-corrupt.log 2>&1
grep -q '^not ok [0-9]* - ours: every block holds data blkbench wrote' /run/bench-corrupt.log
tap_ok $? "blkbench detects a device returning wrong data" "$(grep '^not ok' /run/bench-corrupt.log | head -n 1)"

vdpa dev del benchours
tap_ok $? "vdpa dev del benchours"
vdpa dev del benchqsd
tap_ok $? "vdpa dev del benchqsd"
kill $ours $qsd
wait $ours
tap_ok $? "benchdev served every request without error" "$(tail -n 3 /run/benchdev.log | tr '\n' ' ')"
grep '^# benchdev' /run/benchdev.log
wait $qsd
[ ! -e /dev/vduse/benchqsd ] && [ ! -e /dev/vduse/benchours ]
tap_ok $? "both devices destroyed on exit" "$(tail -n 3 /run/bench-qsd.log | tr '\n' ' ')"
