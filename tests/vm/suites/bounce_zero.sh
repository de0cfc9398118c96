# SPDX-License-Identifier: GPL-2.0
# A read's buffer never receives an earlier request's data through a reused
# bounce page (docs/kernel-module.md, "The bounce domain"): our module zeroes
# the bounce bytes of every FROM_DEVICE mapping, so a device that writes less
# than the buffer leaves zeros there. The null virtio-blk (bench/nullblk.h)
# writes nothing for a read, the shortest write there is; each 4 KiB O_DIRECT
# read follows a 4 KiB write of 0xa5 bytes whose data went through the same,
# just freed, bounce page. Every read must return zeros, not the pattern.
# Stock 6.12 (no zeroing) returns the pattern: run this suite on the
# 6.12-stock line by hand to see it fail. About 5 s.
load_mod vduse && load_mod virtio_vdpa && load_mod virtio_blk || return 0
unload_mod vhost_vdpa || return 0

if ! null_up zero; then
	echo "not ok 1 - bounce_zero: null-ours attached as a virtio-blk disk"
	kill "$NULL_PID" 2>/dev/null
	return 0
fi
tap_ok 0 "bounce_zero: null-ours attached as a virtio-blk disk ($NULL_DEV)"
head -c 4096 /dev/zero > /run/zero4k
tr '\000' '\245' < /run/zero4k > /run/pat4k
rounds=32 failed=0 stale=0 other=0
for i in $(seq 0 $((rounds - 1))); do
	dd if=/run/pat4k of="$NULL_DEV" bs=4096 seek=$i count=1 oflag=direct 2>/dev/null &&
		dd if="$NULL_DEV" of=/run/rd4k bs=4096 skip=$i count=1 iflag=direct 2>/dev/null ||
		{ failed=$((failed + 1)); continue; }
	if cmp -s /run/rd4k /run/pat4k; then
		stale=$((stale + 1))
	elif ! cmp -s /run/rd4k /run/zero4k; then
		other=$((other + 1))
	fi
done
tap_ok $failed "bounce_zero: $rounds writes and reads of 4 KiB completed" "$failed failed"
[ $stale = 0 ] && [ $other = 0 ]
tap_ok $? "bounce_zero: every read the device did not write returned zeros" \
	"$stale of $rounds reads returned the previous write's data, $other other non-zero data"
vdev_down bounce_zero zero
