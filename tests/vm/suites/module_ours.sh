# SPDX-License-Identifier: GPL-2.0
# kernel/vduse.ko only (tests/vm/guest/module_ours.c): the cvq_policy
# parameter (docs/uapi.md §d) with both bus drivers and both values, a daemon
# restart and a timeout during the bus driver's probe, 0xffff groups and
# address spaces, a mapped ring that outlives its device, and what keeps the
# module loaded. It rmmods and insmods vduse, so it runs last on its boot.
if [ "$VM_IMPL" != ours ]; then
	echo "ok 1 - module_ours # SKIP kernel/vduse.ko is not loaded here"
	return 0
fi

# mo SCENARIO: one scenario of module_ours.
mo() {
	run_prog 300 module_ours "$1"
}

# reload_vduse [PARAM...]: insmod vduse again with PARAMs; /run/.loaded stays
# in step (its dependencies vdpa and vhost_iotlb stay loaded).
reload_vduse() {
	unload_mod vduse || return 1
	insmod /lib/modules/vduse.ko "$@" || return 1
	echo vduse >> /run/.loaded
}

policy() {
	cat /sys/module/vduse/parameters/cvq_policy 2>/dev/null
}

# The kernel's virtio-net drives the devices.
load_mod vduse && load_mod vdpa || return 0
unload_mod vhost_vdpa || return 0
load_mod virtio_vdpa && load_mod virtio_net || return 0
[ "$(policy)" = isolated ]
tap_ok $? "cvq_policy defaults to isolated" "reads '$(policy)'"
mo cvq-virtio
mo lifecycle
mo domfile
load_mod vhost_vdpa || return 0
mo rebind

# vhost-vdpa drives them.
unload_mod virtio_net && unload_mod virtio_vdpa || return 0
mo cvq-vhost
mo big
unload_mod vhost_vdpa || return 0

# What keeps the module loaded, and the parameter.
mo pin
echo off > /sys/module/vduse/parameters/cvq_policy 2>/dev/null
[ $? != 0 ] && [ "$(policy)" = isolated ]
tap_ok $? "cvq_policy is read-only once loaded" "reads '$(policy)' after a write"
unload_mod vduse
tap_ok $? "rmmod vduse once every device is gone and every mapping closed"
insmod /lib/modules/vduse.ko cvq_policy=bogus 2>/dev/null
rc=$?
grep -q '^vduse ' /proc/modules && rmmod vduse
[ $rc != 0 ]; tap_ok $? "insmod cvq_policy=bogus is refused" "insmod exit $rc"
insmod /lib/modules/vduse.ko cvq_policy=off
rc=$?
tap_ok $rc "insmod vduse.ko cvq_policy=off"
[ $rc = 0 ] || return 0
echo vduse >> /run/.loaded
[ "$(policy)" = off ]
tap_ok $? "cvq_policy reads off" "reads '$(policy)'"
mo cvq-off

# rmmod/insmod cycles, ending with the default policy in place and working.
ok=0
for i in 1 2 3; do
	reload_vduse || { ok=1; break; }
	wait_for /dev/vduse/control 5 || { ok=1; break; }
done
tap_ok $ok "three rmmod/insmod cycles" "cycle $i"
[ "$(policy)" = isolated ]
tap_ok $? "cvq_policy is isolated again after a plain insmod" "reads '$(policy)'"
mo pin
