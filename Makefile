# SPDX-License-Identifier: GPL-2.0
#
# vduse-asid top-level build.
#
#   make            library, tools, devices and the kernel module
#   make check      unit tests, then the VM suites on every kernel
#   make check-vmm  live migration under QEMU 10 inside the 6.12 VM (one boot)
#   make demo       the main job, with readable output
#   make bench      benchmarks (bench/)
#   make install    install library, headers, man pages (PREFIX, DESTDIR)
#   make module_install KDIR=/lib/modules/$(uname -r)/build
#                   install kernel/vduse.ko under updates/ for that kernel
#   make clean

CC      ?= gcc
CFLAGS  ?= -O2 -g
WARN    := -Wall -Wextra -Wshadow -Wno-unused-parameter -Werror=implicit-function-declaration
CPPFLAGS += -Iinclude/uapi -Itests/include
PREFIX  ?= /usr/local
BUILD   := build

# Guest test programs: linked statically so the initramfs needs no libc.
VM_SRCS  := $(wildcard tests/vm/guest/*.c)
VM_PROGS := $(patsubst tests/vm/guest/%.c,$(BUILD)/vm/progs/%,$(VM_SRCS))
UNIT_SRCS  := $(wildcard tests/unit/*.c)
UNIT_PROGS := $(patsubst tests/unit/%.c,$(BUILD)/unit/%,$(UNIT_SRCS))

# The module is built against Debian's 6.12 headers, fetched into the cache
# unless KDIR names another tree (for example /lib/modules/$(uname -r)/build).
VMTEST_CACHE ?= $(CURDIR)/.cache/vmtest
export VMTEST_CACHE
KENV := $(VMTEST_CACHE)/k612.env
KDIR ?= $(shell [ -r $(KENV) ] || tests/vm/fetch-kernels 6.12 >&2; . $(KENV) && echo $$HDR)

.PHONY: all check check-vmm demo bench install clean vm-progs unit-progs module module_install fuzz

# Each part adds its targets to ALL_TARGETS, INSTALL_TARGETS and CLEAN_FILES.
ALL_TARGETS :=
INSTALL_TARGETS :=
CLEAN_FILES :=
FUZZ_TARGETS :=
-include lib/lib.mk devices/devices.mk tools/tools.mk bench/bench.mk

all: $(ALL_TARGETS) unit-progs vm-progs module

$(BUILD)/vm/progs/%: tests/vm/guest/%.c include/uapi/linux/vduse.h $(wildcard tests/include/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(WARN) -Werror $(CPPFLAGS) -static -o $@ $<

$(BUILD)/unit/%: tests/unit/%.c include/uapi/linux/vduse.h tests/include/tap.h
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(WARN) -Werror $(CPPFLAGS) -o $@ $<

vm-progs: $(VM_PROGS)
unit-progs: $(UNIT_PROGS)

module:
	$(MAKE) -C "$(KDIR)" M=$(CURDIR)/kernel modules

check:
	tests/check

demo:
	tests/demo

# One boot of the 6.12 VM with our module: QEMU 10 inside migrates a guest
# (tests/vm/suites/migrate.sh). Nested TCG: several minutes on two cores.
check-vmm:
	tests/vm/run --kernel 6.12 --module ours --tag vmm --timeout $${VMTEST_TIMEOUT:-1200} -v -- migrate

bench:
	@if [ -x bench/run ]; then bench/run; else echo "bench: nothing to measure yet"; fi

# lib/lib.mk adds its fuzz targets (FUZZ_SECONDS bounds each run).
fuzz: $(FUZZ_TARGETS)

# The UAPI header goes to its own directory, so that it never overwrites the
# distribution's <linux/vduse.h>; build with -I$(PREFIX)/include/vduse/uapi to
# get API v1 on systems whose headers predate Linux 7.0.
install: all $(INSTALL_TARGETS)
	install -d $(DESTDIR)$(PREFIX)/include/vduse/uapi/linux
	install -m 644 include/uapi/linux/vduse.h $(DESTDIR)$(PREFIX)/include/vduse/uapi/linux/vduse.h

# Install kernel/vduse.ko for the kernel KDIR belongs to, under updates/ so
# that it takes precedence over the in-tree module (then run depmod).
module_install: module
	$(MAKE) -C "$(KDIR)" M=$(CURDIR)/kernel INSTALL_MOD_DIR=updates modules_install

clean:
	rm -rf $(BUILD) $(CLEAN_FILES)
	@if [ -r $(KENV) ]; then $(MAKE) -C "$(KDIR)" M=$(CURDIR)/kernel clean; fi
