# SPDX-License-Identifier: GPL-2.0
# A seconds-long run of the control-plane benchmark (bench/ctl), so that its
# code keeps working: its TAP checks count, its figures do not.
load_mod vduse && load_mod vdpa || return 0
unload_mod virtio_blk && unload_mod virtio_vdpa || return 0
load_mod vhost_vdpa || return 0
run_prog 60 ctlbench --smoke
unload_mod vhost_vdpa
