# SPDX-License-Identifier: GPL-2.0
# The in-VM ioctl and message fuzzer (tests/vm/guest/kfuzz.c) against a v1
# device bound to vhost-vdpa: control-fd, device-fd and vhost-vdpa ioctls,
# IOTLB messages and mutated replies to real messages. Bounded for
# make check (KFUZZ_SECONDS, 20 s by default here; the seed is printed and
# KFUZZ_SEED replays it); make check-long runs it longer (kfuzz_long).
# Our module only: stock kernels are not ours to fix, and a warning of
# theirs would fail the boot.
if [ "$VM_IMPL" != ours ]; then
	echo "ok 1 - kfuzz # SKIP our module only"
	return 0
fi
load_mod vduse && load_mod vdpa || return 0
unload_mod virtio_blk && unload_mod virtio_net && unload_mod virtio_vdpa || return 0
load_mod vhost_vdpa || return 0
KFUZZ_SECONDS=${KFUZZ_SECONDS:-20} KFUZZ_ITERS=${KFUZZ_ITERS:-300000} \
	run_prog $(( ${KFUZZ_SECONDS:-20} + 90 )) kfuzz
unload_mod vhost_vdpa
