# SPDX-License-Identifier: GPL-2.0
# The bounce area is reused, not walked: with one request in flight at a
# time, virtio-blk's streaming mappings (header, data, status, indirect
# table) must keep going through the same few bounce pages. The stock
# driver's IOVA allocator reuses freed ranges at once; ours once handed out
# the next free pages after the last ones (next fit), so 1 s of 4 KiB reads
# at depth 1 went through thousands of bounce pages (each cold, each
# allocated on first use and kept: up to the whole 64 MiB per device).
# null-raw (bench/null_raw.c, NULL_RAW_PAGES=1) counts the distinct IOVA pages of the request
# buffers; at depth 1 a few suffice, so more than 128 fails.
load_mod vduse && load_mod virtio_vdpa && load_mod virtio_blk || return 0
unload_mod vhost_vdpa || return 0

nullraw_up bounce_reuse reuse || return 0
timeout 60 nullbench --seconds 1 --rounds 1 --tests randread-qd1 "raw=$NULL_DEV:$NULL_PID" | grep '^# bench '
tap_ok $? "bounce_reuse: 1 s of 4 KiB reads at depth 1"
vdev_down bounce_reuse reuse
nullraw_counts reuse
[ "${NULL_SERVED:-0}" -ge 100 ] && [ "${NULL_PAGES:-99999}" -le 128 ]
tap_ok $? "bounce_reuse: ${NULL_SERVED:-?} requests at depth 1 went through ${NULL_PAGES:-?} bounce pages (at most 128)"
