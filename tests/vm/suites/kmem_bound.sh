# SPDX-License-Identifier: GPL-2.0
# Kernel memory of an idle device (bench/kmem.c: Slab + VmallocUsed growth
# per device after vdpa dev add, no bus driver), against bounds that only an
# oversized allocation breaks. With the default 64 MiB bounce area:
#  * 1 address space: the slot table of the bounce area (24 bytes a page,
#    384 KiB) and the coherent range's bitmap (34 KiB) dominate; at most
#    480 000 bytes. kvcalloc() once rounded them up to 512 + 64 KiB
#    (595 000 bytes measured).
#  * 16 address spaces: only AS 0 bounces (4 MiB, 24 KiB of slots); the 15
#    others hold consumer maps only; at most 200 000 bytes. Each once got a
#    slot table of its own (595 000 bytes measured).
# Byte counts are those of the production kernel: the debug kernel's
# redzones and KASAN shadow change them, so the suite skips it (Debian 13's
# own 6.12, trixie, is the same production configuration).
if [ "$VM_KERNEL" != 6.12 ] && [ "$VM_KERNEL" != trixie ]; then
	echo "ok 1 - kmem_bound # SKIP the bounds are for Debian's 6.12 build, not $VM_KERNEL"
	return 0
fi
load_mod vduse || return 0
unload_mod vhost_vdpa && unload_mod virtio_blk && unload_mod virtio_vdpa || return 0

# kmem_check NAS N BOUND
kmem_check() {
	local out line
	out=$(timeout 120 kmem "$1" "$1" "$2")
	echo "$out"
	line=$(echo "$out" | grep -m1 '^# benchmem ')
	set -- "$@" $line
	# $4..: "#" benchmem vAPI groups nas n slab vmalloc percpu avail ($10, $11)
	[ -n "$line" ] || { echo "not ok 1 - kmem $1 address space(s): no measurement"; return; }
	[ $(( ${10} + ${11} )) -le "$3" ]
	tap_ok $? "kmem $1 address space(s): slab + vmalloc $(( ${10} + ${11} )) <= $3 bytes a device"
}
kmem_check 1 8 480000
kmem_check 16 8 200000
