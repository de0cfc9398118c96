# SPDX-License-Identifier: GPL-2.0
# API v1 basics: groups at CREATE_DEV and VQ_SETUP, GET_FD2 refused on v0.
load_mod vduse || return 0
run_prog 60 v1basic
