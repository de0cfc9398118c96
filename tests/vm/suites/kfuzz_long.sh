# SPDX-License-Identifier: GPL-2.0
# make check-long: the kernel fuzzer of the kfuzz suite for 10 minutes
# (KFUZZ_SECONDS from the host's environment overrides it; KFUZZ_SEED
# replays a run). Our module only.
load_mod vduse && load_mod vdpa || return 0
unload_mod virtio_blk && unload_mod virtio_net && unload_mod virtio_vdpa || return 0
load_mod vhost_vdpa || return 0
KFUZZ_SECONDS=${KFUZZ_SECONDS:-600} KFUZZ_ITERS=${KFUZZ_ITERS:-100000000} \
	run_prog $(( ${KFUZZ_SECONDS:-600} + 300 )) kfuzz
unload_mod vhost_vdpa
