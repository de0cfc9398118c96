# SPDX-License-Identifier: GPL-2.0
# kernel/vduse.ko only (tests/vm/guest/kreset.c): issue 7 item 5 — the CVQ
# stays alone in its group while on the vDPA bus. Item 4 (reset returns
# groups to AS 0) is in vhost_asid and lib_asid.
if [ "$VM_IMPL" != ours ]; then
	echo "ok 1 - kreset # SKIP kernel/vduse.ko is not loaded here"
	return 0
fi
load_mod vduse && load_mod vdpa || return 0
unload_mod virtio_blk && unload_mod virtio_net && unload_mod virtio_vdpa || return 0
load_mod vhost_vdpa || return 0
run_prog 120 kreset cvq
unload_mod vhost_vdpa
