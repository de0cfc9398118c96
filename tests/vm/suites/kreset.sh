# SPDX-License-Identifier: GPL-2.0
# Issue 7 items 5 and 8 (tests/vm/guest/kreset.c): the CVQ stays alone in its
# group while on the vDPA bus, names that collide with the device's sysfs
# entries, a re-queued request wakes the next reader, and the per-queue
# memory is small and charged to the creator's cgroup. Item 4 (reset returns
# groups to AS 0) is in vhost_asid and lib_asid. On upstream 7.x only names
# and wakeup run, to record its behaviour; stock 6.12 has no API v1.
if [ "$VM_IMPL" = stock612 ]; then
	echo "ok 1 - kreset # SKIP no API v1 here"
	return 0
fi
load_mod vduse && load_mod vdpa || return 0
unload_mod virtio_blk && unload_mod virtio_net && unload_mod virtio_vdpa || return 0
load_mod vhost_vdpa || return 0
kr() {
	run_prog "$1" kreset --impl "$VM_IMPL" "$2"
}
[ "$VM_IMPL" = ours ] && kr 120 cvq
kr 60 names
kr 120 wakeup
unload_mod vhost_vdpa
[ "$VM_IMPL" = ours ] || return 0

# The queues' memory, in a memory cgroup of its own.
cg=/sys/fs/cgroup
if ! grep -q " $cg cgroup2 " /proc/mounts; then
	mkdir -p $cg && mount -t cgroup2 none $cg
fi
echo +memory > $cg/cgroup.subtree_control 2>/dev/null
mkdir -p $cg/kreset
run_prog 300 sh -c "echo \$\$ > $cg/kreset/cgroup.procs && exec kreset --impl ours mem"
rmdir $cg/kreset 2>/dev/null
