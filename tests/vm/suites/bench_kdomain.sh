# SPDX-License-Identifier: GPL-2.0
# Not part of tests/vm/plan (bench/README.md, "IRQ-off windows of the
# domain"): how long REG_UMEM/DEREG_UMEM and vhost-vdpa's set_map keep CPU 0
# from serving a timer, with a populated bounce area and with many consumer
# entries. Only "# bench:" lines matter; speed is never asserted.
echo "# benchinfo kernel $(uname -r) vduse $VM_MODULE"
load_mod vduse && load_mod vdpa || return 0
load_mod virtio_vdpa && load_mod virtio_blk || return 0
kd() {
	run_prog 600 kdomain --impl "$VM_IMPL" "$@"
}
kd bench-switch 512
load_mod vhost_vdpa || return 0
kd bench-setmap 4096 batched
kd bench-setmap 16384 batched
kd bench-setmap 1024 unbatched
