# SPDX-License-Identifier: GPL-2.0
#
# vduse-asid top-level build.
#
#   make            library, test programs, benchmarks and the kernel module
#   make check      unit tests, then the VM suites on every kernel
#   make check-fresh   make check in a fresh minimal Debian 12 root (tests/fresh-root)
#   make check-debug  the `6.12 ours` suites and a kmemleak scan on a KASAN,
#                   lockdep and kmemleak build of 6.12 (built once, cached)
#   make check-long  long robustness runs: hostile_dev and concurrency with
#                   60 s loops on 6.12 + ours and on 7.x, the kernel fuzzer
#                   for 10 min (docs/testing.md, docs/robustness.md)
#   make check-vmm  live migration under QEMU 10 inside the 6.12 VM (one boot)
#   make check-trixie  Debian 13: the packages built and installed in a trixie
#                   root (DKMS builds the module), then trixie's own kernel
#                   boots with that module and runs the `6.12 ours` suites
#   make demo       the main job, narrated: QEMU live-migrates a VM on vduse-net
#   make demo-kernels  VDUSE devices on each kernel (the earlier demo)
#   make bench      every benchmark, one after the other (bench/all, ~26 min)
#   make install    install library, headers, pkg-config file, man pages,
#                   tools, daemons and systemd units (PREFIX, DESTDIR, LIBDIR,
#                   SYSTEMDUNITDIR); builds only what it installs
#   make dkms-install  the module's source tree for DKMS under
#                   $(DESTDIR)/usr/src/vduse-asid-<version>/ (docs/getting-started.md)
#   make deb        Debian packages (debhelper) into build/deb/
#   make module_install KDIR=/lib/modules/$(uname -r)/build
#                   install kernel/vduse.ko under updates/ for that kernel
#   make clean

# make's built-in CC is "cc", which is clang when only clang is installed:
# take gcc unless the user chose a compiler (CC=clang works too).
ifeq ($(origin CC),default)
CC      := gcc
endif
CFLAGS  ?= -O2 -g
WARN    := -Wall -Wextra -Wshadow -Wno-unused-parameter -Werror=implicit-function-declaration
CPPFLAGS += -Iinclude/uapi -Itests/include
BUILD   ?= build
# Version of the project as a whole (packages, DKMS); lib/lib.mk has the
# library's own.
VDUSE_ASID_VERSION := 0.4.0
PREFIX  ?= /usr/local
LIBDIR  ?= $(PREFIX)/lib
INCLUDEDIR ?= $(PREFIX)/include
MANDIR  ?= $(PREFIX)/share/man
# /etc whatever the PREFIX: the units' configuration files are where the
# documentation says (/etc/vduse/{blk,net}/NAME.conf) after make install too.
SYSCONFDIR ?= /etc
SYSTEMDUNITDIR ?= $(PREFIX)/lib/systemd/system
DKMS_SRC = $(DESTDIR)/usr/src/vduse-asid-$(VDUSE_ASID_VERSION)

# Guest test programs: linked statically so the initramfs needs no libc.
VM_SRCS  := $(wildcard tests/vm/guest/*.c)
VM_PROGS := $(patsubst tests/vm/guest/%.c,$(BUILD)/vm/progs/%,$(VM_SRCS))
UNIT_SRCS  := $(wildcard tests/unit/*.c)
UNIT_PROGS := $(patsubst tests/unit/%.c,$(BUILD)/unit/%,$(UNIT_SRCS))

# The module is built against Debian's 6.12 headers, fetched into the cache
# unless KDIR names another tree (for example /lib/modules/$(uname -r)/build).
# per user, shared by every checkout (tests/vm/cache-dir)
VMTEST_CACHE ?= $(shell tests/vm/cache-dir)
export VMTEST_CACHE
KENV := $(VMTEST_CACHE)/k612.env
KDIR ?= $(shell [ -r $(KENV) ] || tests/vm/fetch-kernels 6.12 >&2; . $(KENV) && echo $$HDR)

.PHONY: all check check-fresh check-debug check-vmm check-trixie check-long demo demo-kernels bench install clean vm-progs unit-progs \
	module module_install fuzz userspace dkms-install deb module-debug

# Each part adds its targets to ALL_TARGETS (what install and the packages
# build: the installed programs and libraries only), INSTALL_TARGETS and
# CLEAN_FILES; bench/bench.mk its native benchmarks to BENCH_TARGETS (built by
# make, never by make install or make deb).
ALL_TARGETS :=
BENCH_TARGETS :=
INSTALL_TARGETS :=
CLEAN_FILES :=
FUZZ_TARGETS :=
-include lib/lib.mk devices/devices.mk tools/tools.mk bench/bench.mk dist/dist.mk

all: $(ALL_TARGETS) $(BENCH_TARGETS) unit-progs vm-progs module

$(BUILD)/vm/progs/%: tests/vm/guest/%.c include/uapi/linux/vduse.h $(wildcard tests/include/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(WARN) -Werror $(CPPFLAGS) -static -o $@ $<

$(BUILD)/unit/%: tests/unit/%.c include/uapi/linux/vduse.h tests/include/tap.h
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(WARN) -Werror $(CPPFLAGS) -o $@ $<

vm-progs: $(VM_PROGS)
unit-progs: $(UNIT_PROGS)

# The module is built with the compiler the kernel was built with (gcc for
# Debian's), whatever CC the rest of the tree uses: a CC=clang given to this
# make would otherwise reach kbuild through MAKEFLAGS.
KERNEL_CC ?= gcc

module:
	$(MAKE) -C "$(KDIR)" M=$(CURDIR)/kernel CC=$(KERNEL_CC) modules

check:
	tests/check

check-fresh:
	tests/fresh-root

check-debug:
	tests/vm/check-debug

check-trixie:
	tests/vm/check-trixie

# hostile_dev and concurrency with 60 s loops (robust_long): one boot of
# 6.12 + ours and one of 7.x, about 10 min of VM time in all.
check-long:
	tests/vm/run --kernel 6.12 --module ours --tag 6.12-long --timeout 1800 -- robust_long hostile_dev concurrency
	tests/vm/run --kernel 7 --module stock --tag 7-long --timeout 1800 -- robust_long hostile_dev concurrency
	tests/vm/run --kernel 6.12 --module ours --tag kfuzz-long --timeout 1500 -- kfuzz_long

# kernel/vduse.ko for the debug kernel (tests/vm/build-debug-kernel), built in
# a copy of kernel/ so that it never replaces the one for Debian's 6.12; with
# -g, so that its addresses in a KASAN or lockdep report resolve to lines
# (scripts/faddr2line in the kernel source).
# The env file of the debug kernel of this checkout's fragment (the cache is
# shared by checkouts whose fragments may differ): a shell expansion.
KDEBUG_ENV = "$$(tests/vm/build-debug-kernel --env 2>/dev/null)"
KDEBUG_MOD := $(BUILD)/kdebug/kernel
module-debug:
	@[ -r $(KDEBUG_ENV) ] || tests/vm/build-debug-kernel
	@. $(KDEBUG_ENV) && if [ "$$(cat $(KDEBUG_MOD)/.kbuild 2>/dev/null)" != "$$KBUILD" ]; then \
		rm -rf $(KDEBUG_MOD) && mkdir -p $(KDEBUG_MOD) && echo "$$KBUILD" > $(KDEBUG_MOD)/.kbuild; fi
	@cp -p kernel/Kbuild kernel/*.[ch] $(KDEBUG_MOD)/
	@ln -sfn $(CURDIR)/include $(BUILD)/kdebug/include
	. $(KDEBUG_ENV) && $(MAKE) -C "$$KBUILD" M=$(CURDIR)/$(KDEBUG_MOD) KCFLAGS=-g modules

demo:
	tests/demo

# the earlier demo: a VDUSE block device on each kernel, our module's suites
demo-kernels:
	tests/demo-kernels

# One boot of the 6.12 VM with our module: QEMU 10 inside migrates a guest
# (tests/vm/suites/migrate.sh). Nested TCG: several minutes on two cores.
check-vmm:
	tests/vm/check-vmm

# Every benchmark, one after the other (bench/all; about 26 min on two
# cores): the figures of bench/README.md and the README's Speed table.
bench:
	bench/all

# lib/lib.mk adds its fuzz targets (FUZZ_SECONDS bounds each run).
fuzz: $(FUZZ_TARGETS)

# The UAPI header goes to its own directory, so that it never overwrites the
# distribution's <linux/vduse.h>; build with -I$(PREFIX)/include/vduse/uapi to
# get API v1 on systems whose headers predate Linux 7.0.
# install builds only the installed parts (no module, no test programs), so
# that packaging needs neither kernel headers nor the VM cache.
userspace: $(ALL_TARGETS)

install: $(ALL_TARGETS) $(INSTALL_TARGETS)

# The module's source for DKMS: kernel/ next to include/uapi/, as in the
# repository, because kernel/vduse.h includes the UAPI header by path.
dkms-install:
	install -d $(DKMS_SRC)/kernel $(DKMS_SRC)/include/uapi/linux
	install -m 644 kernel/Kbuild $(wildcard kernel/*.c kernel/*.h) $(DKMS_SRC)/kernel/
	install -m 644 include/uapi/linux/vduse.h $(DKMS_SRC)/include/uapi/linux/
	sed 's/#MODULE_VERSION#/$(VDUSE_ASID_VERSION)/' kernel/dkms.conf > $(DKMS_SRC)/dkms.conf

# Debian packages (debian/, debhelper) into build/deb/; as root, installs
# the build dependencies first.
deb:
	dist/make-deb

# Install kernel/vduse.ko for the kernel KDIR belongs to, under updates/ so
# that it takes precedence over the in-tree module (then run depmod).
module_install: module
	$(MAKE) -C "$(KDIR)" M=$(CURDIR)/kernel CC=$(KERNEL_CC) INSTALL_MOD_DIR=updates modules_install

clean:
	rm -rf --one-file-system $(BUILD) $(CLEAN_FILES)
	@if [ -r $(KENV) ]; then $(MAKE) -C "$(KDIR)" M=$(CURDIR)/kernel CC=$(KERNEL_CC) clean; fi
