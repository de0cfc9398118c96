# SPDX-License-Identifier: GPL-2.0
# A read's buffer never receives an earlier request's data through a reused
# bounce page (docs/kernel-module.md, "The bounce domain"): our module zeroes
# the bounce bytes of every FROM_DEVICE mapping, so a device that writes
# less than the buffer leaves zeros there. The null virtio-blk
# (bench/nullblk.h) writes nothing for a read, the shortest write there is,
# except that --fill makes it fill reads of odd 4 KiB blocks. Each round, at
# depth 1 (so the data goes through the same, just freed, bounce page):
# a read the device fills (its data must arrive), a read it does not write
# (zeros, not the filled read's data), a 4 KiB write of 0xa5 bytes, and a
# read it does not write (zeros, not the write's data). Stock 6.12 and 7.2
# (no zeroing) return earlier data: run this suite on their lines by hand to
# see it fail. About 10 s.
load_mod vduse && load_mod virtio_vdpa && load_mod virtio_blk || return 0
unload_mod vhost_vdpa || return 0

if ! null_up zero --fill 0x5a; then
	echo "not ok 1 - bounce_zero: null-ours attached as a virtio-blk disk"
	kill "$NULL_PID" 2>/dev/null
	return 0
fi
tap_ok 0 "bounce_zero: null-ours attached as a virtio-blk disk ($NULL_DEV)"
head -c 4096 /dev/zero > /run/zero4k
tr '\000' '\245' < /run/zero4k > /run/pat4k
tr '\000' '\132' < /run/zero4k > /run/fill4k
# rd4k BLOCK: O_DIRECT read of 4 KiB block BLOCK into /run/rd4k
rd4k() {
	dd if="$NULL_DEV" of=/run/rd4k bs=4096 skip="$1" count=1 iflag=direct 2>/dev/null
}
# wr4k BLOCK: O_DIRECT write of the 0xa5 pattern to 4 KiB block BLOCK
wr4k() {
	dd if=/run/pat4k of="$NULL_DEV" bs=4096 seek="$1" count=1 oflag=direct 2>/dev/null
}
# zeros4k: 0 if /run/rd4k holds zeros; counts stale (the pattern) or other
zeros4k() {
	cmp -s /run/rd4k /run/zero4k && return 0
	if cmp -s /run/rd4k /run/pat4k || cmp -s /run/rd4k /run/fill4k; then
		stale=$((stale + 1))
	else
		other=$((other + 1))
	fi
	return 1
}
# rdzero BLOCK: rd4k and zeros4k; a failed read counts in failed
rdzero() {
	if rd4k "$1"; then
		zeros4k
	else
		failed=$((failed + 1))
		return 1
	fi
}
rounds=32 failed=0 stale=0 other=0 filled=0 stale_rr=0
for i in $(seq 0 $((rounds - 1))); do
	rd4k $((2 * i + 1)) || { failed=$((failed + 1)); continue; }
	cmp -s /run/rd4k /run/fill4k && filled=$((filled + 1))
	rd4k $((2 * i)) || { failed=$((failed + 1)); continue; }
	zeros4k || stale_rr=$((stale_rr + 1))
	wr4k $((2 * i)) && rd4k $((2 * i)) || { failed=$((failed + 1)); continue; }
	zeros4k
done
tap_ok $failed "bounce_zero: $rounds rounds of 3 reads and a write of 4 KiB completed" "$failed failed"
[ $filled = $rounds ]
tap_ok $? "bounce_zero: every read the device filled returned its data" \
	"$filled of $rounds filled reads returned the device's bytes"
[ $stale = 0 ] && [ $other = 0 ]
tap_ok $? "bounce_zero: every read the device did not write returned zeros" \
	"$stale of $((2 * rounds)) reads returned an earlier request's data ($stale_rr after a filled read), $other other non-zero data"
# umem_flip WANT: SIGUSR2 to null-ours (REG_UMEM of 0x77-filled memory, or
# DEREG_UMEM) and wait for its answer, "# umem N WANT" (N: the signal's
# number); 0 if that came
flips=0
umem_flip() {
	flips=$((flips + 1))
	kill -USR2 "$NULL_PID"
	wait_log /run/zero.log "^# umem $flips " "$NULL_PID" 50 &&
		grep -qx "# umem $flips $1" /run/zero.log
}
# The same across switches of the bounce area to user memory and back:
# after REG_UMEM the user pages hold 0x77 bytes; after DEREG_UMEM the kernel
# pages hold what they held at the switch (here the 0xa5 write). A module
# that remembered which bytes of a page its last unmap zeroed, to skip them
# at the next map (tried and measured, bench/README.md section 3), would have
# to forget it at every switch: each direction failed here when it did not.
stale=0 other=0 failed=0 flipped=0
rd4k 1 || failed=$((failed + 1))
umem_flip on && flipped=$((flipped + 1))
rdzero 0
umem_flip off && flipped=$((flipped + 1))
wr4k 0 || failed=$((failed + 1))
umem_flip on && flipped=$((flipped + 1))
rdzero 0
rd4k 1 || failed=$((failed + 1))
umem_flip off && flipped=$((flipped + 1))
rdzero 0
tap_ok $((4 - flipped)) "bounce_zero: REG_UMEM of memory full of 0x77 bytes and DEREG_UMEM, twice" \
	"$(grep '^# umem' /run/zero.log | tr '\n' ' ')"
[ $failed = 0 ] && [ $stale = 0 ] && [ $other = 0 ]
tap_ok $? "bounce_zero: reads the device did not write returned zeros across REG_UMEM and DEREG_UMEM" \
	"$failed failed, $stale returned an earlier request's data, $other other non-zero data (0x77: user memory)"
vdev_down bounce_zero zero
