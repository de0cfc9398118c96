# SPDX-License-Identifier: GPL-2.0
# Device daemons: each adds its targets to ALL_TARGETS, INSTALL_TARGETS, CLEAN_FILES.
-include devices/net/net.mk devices/blk/blk.mk
