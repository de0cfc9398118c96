# SPDX-License-Identifier: GPL-2.0
# The bounce domain's streaming mappings from both CPUs at once
# (kernel/domain.c): vduse-blk with two queues and a 1 MiB bounce area (so it
# runs full and virtio-blk retries), driven by 16 threads on both CPUs
# writing and reading back 512 B - 24 KiB at varying offsets
# (tests/vm/guest/bouncestress.c). An IOVA handed out twice shows as data
# that differs (or worse); an IOVA not returned makes DESTROY_DEV warn
# ("streaming IOVA pages not returned", a kernel warning, which the harness
# also fails). About 10 s.
load_mod vduse && load_mod virtio_vdpa && load_mod virtio_blk || return 0
unload_mod vhost_vdpa || return 0

img=/run/bs.img
dd if=/dev/zero of=$img bs=1M count=16 2>/dev/null
warned=$(dmesg | grep -c 'streaming IOVA pages not returned')
vduse-blk -q 2 --bounce-size 1M bs $img > /run/bs.log 2>&1 &
pid=$!
disk=""
wait_for /dev/vduse/bs 20 && timeout 60 vdpa dev add name bs mgmtdev vduse &&
	disk=$(wait_dev_of bs)
tap_ok $([ -n "$disk" ]; echo $?) "bounce_stress: vduse-blk (2 queues, 1 MiB bounce area) attached as a virtio-blk disk" \
	"$(tail -n 2 /run/bs.log | tr '\n' ' ')"
[ -n "$disk" ] && run_prog 120 bouncestress --seconds 5 --threads 16 $disk
vdpa dev del bs 2>/dev/null
kill -TERM $pid
wait $pid
tap_ok $? "bounce_stress: vduse-blk removed and destroyed its device" "$(tail -n 3 /run/bs.log | tr '\n' ' ')"
rm -f $img
[ "$(dmesg | grep -c 'streaming IOVA pages not returned')" = "$warned" ]
tap_ok $? "bounce_stress: every streaming IOVA was back when the device was destroyed" \
	"$(dmesg | grep 'streaming IOVA pages not returned' | tail -n 1)"
