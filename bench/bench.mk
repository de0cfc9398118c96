# SPDX-License-Identifier: GPL-2.0
#
# make bench: included by the top-level Makefile. The two guest programs
# are static and land in build/vm/progs/ with the VM test programs (so they
# are in every test initramfs, at /progs); bench/run boots the VMs.
#
#   benchdev   file-backed virtio-blk on libvduse's public API (ours)
#   blkbench   O_DIRECT measurements of /dev/vdX, taking turns between devices

BENCH_PROGS := $(BUILD)/vm/progs/benchdev $(BUILD)/vm/progs/blkbench

# benchdev serves requests with vduse-blk's blk_req.c (devices/blk/blk.mk).
$(BUILD)/vm/progs/benchdev: bench/benchdev.c $(BLK_REQ_O) devices/blk/blk_req.h $(LIB_A) include/vduse/libvduse.h
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(WARN) -Werror -D_GNU_SOURCE -Iinclude -Iinclude/uapi -Idevices/blk \
		-static -o $@ $< $(BLK_REQ_O) $(LIB_A)

$(BUILD)/vm/progs/blkbench: bench/blkbench.c tests/include/tap.h
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(WARN) -Werror -D_GNU_SOURCE -Itests/include \
		-static -pthread -o $@ $<

vm-progs: $(BENCH_PROGS)

# Native micro-benchmark of the library against the unit tests' fake kernel
# (bench/native.c; numbers in bench/README.md). `make bench-native` runs it.
$(BUILD)/bench/native: bench/native.c $(LIB_A) $(LIB_UNIT_HELP) tests/include/tap.h
	@mkdir -p $(dir $@)
	$(CC) $(LIB_UNIT_CFLAGS) -o $@ $< $(LIB_A) -pthread

BENCH_TARGETS += $(BUILD)/bench/native

.PHONY: bench-native bench-plot
# bench/rings.c (issue 12, item 2): rings and translation, natively; its data
# files go to bench/results/, which bench/plot turns into PNGs (gnuplot,
# installed by bench/setup-host).
$(BUILD)/bench/rings: bench/rings.c $(LIB_A) $(LIB_UNIT_HELP) tests/include/tap.h
	@mkdir -p $(dir $@)
	$(CC) $(LIB_UNIT_CFLAGS) -o $@ $< $(LIB_A)

# The same program as a unit test (make check): 10 ms per figure, TAP.
$(BUILD)/unit/bench_rings_smoke: $(BUILD)/bench/rings
	@mkdir -p $(dir $@)
	printf '#!/bin/sh\nexec "$$(dirname "$$0")/../bench/rings" --smoke\n' > $@
	chmod +x $@

BENCH_TARGETS += $(BUILD)/bench/rings
unit-progs: $(BUILD)/unit/bench_rings_smoke

bench-native: $(BUILD)/bench/native $(BUILD)/bench/rings
	$(BUILD)/bench/native
	@mkdir -p bench/results
	$(BUILD)/bench/rings --out bench/results
	bench/plot

bench-plot:
	bench/plot

# bench/reqcost (bench/README.md section 1): instructions and distinct pages
# per request of libvduse's serve loop against the raw UAPI loop, counted
# under valgrind (independent of the host's load). Static, like the VM's
# null-ours; a few seconds.
$(BUILD)/bench/reqcost: bench/reqcost.c bench/nullblk.h tests/include/rawvblk.h $(LIB_A) $(LIB_UNIT_HELP)
	@mkdir -p $(dir $@)
	$(CC) $(LIB_UNIT_CFLAGS) -Ibench -static -o $@ $< $(LIB_A)

BENCH_TARGETS += $(BUILD)/bench/reqcost

# The same program as a unit test (make check): both devices serve 2000
# requests right, natively (no valgrind), in milliseconds.
$(BUILD)/unit/bench_reqcost_smoke: $(BUILD)/bench/reqcost
	@mkdir -p $(dir $@)
	printf '#!/bin/sh\nd=$$(dirname "$$0")/../bench\nfor i in 1 2; do\n\tm=$$([ $$i = 1 ] && echo ours || echo raw)\n\tif "$$d/reqcost" $$m 2000 > /dev/null; then echo "ok $$i - reqcost $$m: 2000 requests served right"\n\telse echo "not ok $$i - reqcost $$m"; fi\ndone\n' > $@
	chmod +x $@

unit-progs: $(BUILD)/unit/bench_reqcost_smoke
.PHONY: bench-reqcost
bench-reqcost: $(BUILD)/bench/reqcost
	bench/setup-host
	bench/reqcost -p -c $<

# VM benchmarks of bench/README.md besides bench/run: the address-space
# control plane (bench/ctl, two boots, ~3 min; part of make bench) and the
# irqsoff tracer on the debug kernel (bench/irqsoff: one boot, ~5 min, plus
# 10-15 min for a first build of the debug kernel; not part of make bench).
.PHONY: bench-blk bench-ctl bench-irqsoff
# libvduse's vduse-blk against qemu-storage-daemon under blkbench (bench/run)
bench-blk: all
	bench/run
bench-ctl: all
	bench/ctl
bench-irqsoff:
	bench/irqsoff --before 282041c

# The library bench (bench/run-lib): one null virtio-blk on libvduse, on
# QEMU's libvduse and on the raw UAPI, loaded by nullbench (io_uring).
# null-qemu is built only once bench/fetch-qemu-libvduse has put QEMU's
# libvduse source into the cache (bench/run-lib does it); its code stays there.
NULL_DEPS := bench/nullblk.h
$(BUILD)/vm/progs/null-ours: bench/null_ours.c $(NULL_DEPS) $(LIB_A) include/vduse/libvduse.h
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(WARN) -Werror -D_GNU_SOURCE -Iinclude -Iinclude/uapi -Ibench \
		-static -o $@ $< $(LIB_A)

$(BUILD)/vm/progs/null-raw: bench/null_raw.c $(NULL_DEPS) include/uapi/linux/vduse.h tests/include/flex.h tests/include/rawvblk.h tests/include/vduse_test.h
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(WARN) -Werror -Iinclude/uapi -Itests/include -Ibench -static -o $@ $<

$(BUILD)/vm/progs/nullbench: bench/nullbench.c bench/proc_counters.h
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(WARN) -Werror -static -o $@ $< -luring

vm-progs: $(BUILD)/vm/progs/null-ours $(BUILD)/vm/progs/null-raw $(BUILD)/vm/progs/nullbench

# Not in vm-progs: null-ours and null-raw with bench/syscall_user.c wrapped
# around their system calls, for BENCH_IMPLS="oursw raww" (bench/README.md
# section 1). `make clean` or rm removes them from later initramfs images.
SYSCALL_WRAP := -Wl,--wrap=epoll_wait,--wrap=poll,--wrap=read,--wrap=ioctl
.PHONY: bench-lib-syscall-progs
bench-lib-syscall-progs: $(BUILD)/vm/progs/null-oursw $(BUILD)/vm/progs/null-raww
$(BUILD)/vm/progs/null-oursw: bench/null_ours.c bench/syscall_user.c $(NULL_DEPS) $(LIB_A)
	$(CC) $(CFLAGS) $(WARN) -Werror -D_GNU_SOURCE -Iinclude -Iinclude/uapi -Ibench \
		-static $(SYSCALL_WRAP) -o $@ bench/null_ours.c bench/syscall_user.c $(LIB_A)
$(BUILD)/vm/progs/null-raww: bench/null_raw.c bench/syscall_user.c $(NULL_DEPS) tests/include/rawvblk.h
	$(CC) $(CFLAGS) $(WARN) -Werror -Iinclude/uapi -Itests/include -Ibench \
		-static $(SYSCALL_WRAP) -o $@ bench/null_raw.c bench/syscall_user.c

QLIBVDUSE_SUBDIR := $(shell sed -n 's/^QLIBVDUSE_SUBDIR=//p' $(VMTEST_CACHE)/qemu-libvduse.env 2>/dev/null)
ifneq ($(QLIBVDUSE_SUBDIR),)
QLIBVDUSE := $(VMTEST_CACHE)/$(QLIBVDUSE_SUBDIR)/subprojects/libvduse
# built the way its meson.build does (-D_GNU_SOURCE, gnu99), at our -O level
$(BUILD)/bench/qemu-libvduse.o: $(QLIBVDUSE)/libvduse.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -std=gnu99 -D_GNU_SOURCE -I$(QLIBVDUSE) -c -o $@ $<

$(BUILD)/vm/progs/null-qemu: bench/null_qemu.c $(NULL_DEPS) $(BUILD)/bench/qemu-libvduse.o
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(WARN) -Werror -D_GNU_SOURCE -I$(QLIBVDUSE) -Ibench -static \
		-o $@ $< $(BUILD)/bench/qemu-libvduse.o

vm-progs: $(BUILD)/vm/progs/null-qemu
endif

# The in-VM comparisons of issue 12 (bench/README.md, "In the VM"):
#   make bench-lib   libvduse vs QEMU's libvduse vs the raw UAPI (~3 min)
.PHONY: bench-lib bench-vm
bench-lib: all
	bench/run-lib
bench-vm: bench-lib
#   make bench-fio   vduse-blk vs qemu-storage-daemon under fio (~6 min)
.PHONY: bench-fio
bench-fio: all
	bench/run-fio
bench-vm: bench-fio

# kernel memory per device (bench/run-kmod)
$(BUILD)/vm/progs/kmem: bench/kmem.c include/uapi/linux/vduse.h tests/include/flex.h tests/include/tap.h
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(WARN) -Werror -Iinclude/uapi -Itests/include -static -o $@ $<

vm-progs: $(BUILD)/vm/progs/kmem
#   make bench-kmod  our module vs stock 6.12 vduse in one boot, kernel memory vs Linux 7 (~5 min)
.PHONY: bench-kmod
bench-kmod: all
	bench/run-kmod
bench-vm: bench-kmod

# the network bench's load (bench/run-net)
$(BUILD)/vm/progs/netbench: bench/netbench.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(WARN) -Werror -static -pthread -o $@ $<

vm-progs: $(BUILD)/vm/progs/netbench
#   make bench-net   vduse-net vs a veth pair, UDP fps and round trips (~2 min)
.PHONY: bench-net
bench-net: all
	bench/run-net
bench-vm: bench-net

# the shadow-CVQ round trip (bench/run-cvq): libvdpacvq sessions on
# vdpa_sim_net and vduse-net, taking turns
$(BUILD)/vm/progs/cvqbench: bench/cvqbench.c $(VDPACVQ_SRCS) $(VDPACVQ_HDRS) tests/include/tap.h
	@mkdir -p $(dir $@)
	$(CC) $(VDPACVQ_CFLAGS) -Itests/include -static -o $@ $< $(VDPACVQ_SRCS)

vm-progs: $(BUILD)/vm/progs/cvqbench
#   make bench-cvq   shadow-CVQ round trip, vduse-net vs vdpa_sim_net (~2 min)
.PHONY: bench-cvq
bench-cvq: all
	bench/run-cvq
bench-vm: bench-cvq

# bench_dpdk's view into testpmd's VDUSE calls (preloaded; see the file)
$(BUILD)/vm/progs/vduse_ioctl_log.so: bench/vduse_ioctl_log.c include/uapi/linux/vduse.h
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(WARN) -Werror -Iinclude/uapi -shared -fPIC -o $@ $< -ldl

vm-progs: $(BUILD)/vm/progs/vduse_ioctl_log.so
#   make bench-dpdk  vduse-net vs DPDK's VDUSE net device (testpmd, Debian sid)
#                    and a veth pair (~2.5 min; bench/fetch-dpdk downloads 12 MB)
.PHONY: bench-dpdk
bench-dpdk: all
	bench/run-dpdk
bench-vm: bench-dpdk
