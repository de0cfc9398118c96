# SPDX-License-Identifier: LGPL-2.1-or-later
#
# libvduse: included by the top-level Makefile.
#
#   build/lib/libvduse.a, build/lib/libvduse.so.0 (version script, hidden
#   visibility), build/lib/libvduse.pc; unit tests in build/unit/lib_*;
#   static VM test programs in build/vm/progs/; fuzz targets (clang).

LIBVDUSE_VERSION := 0.4.0
LIB_SRCS   := $(wildcard lib/*.c)
LIB_HDRS   := include/vduse/libvduse.h lib/internal.h include/uapi/linux/vduse.h
LIB_OBJS   := $(patsubst lib/%.c,$(BUILD)/lib/obj/%.o,$(LIB_SRCS))
LIB_CPPFLAGS := -Iinclude -Iinclude/uapi -Ilib
LIB_CFLAGS := $(CFLAGS) $(WARN) -Werror -fPIC -fvisibility=hidden -D_GNU_SOURCE
LIB_A      := $(BUILD)/lib/libvduse.a
LIB_SO     := $(BUILD)/lib/libvduse.so.$(LIBVDUSE_VERSION)
LIB_PC     := $(BUILD)/lib/libvduse.pc

LIB_UNIT_SRCS  := $(wildcard tests/unit/lib/test_*.c)
LIB_UNIT_PROGS := $(patsubst tests/unit/lib/test_%.c,$(BUILD)/unit/lib_%,$(LIB_UNIT_SRCS))
LIB_UNIT_HELP  := $(wildcard tests/unit/lib/*.h)
LIB_UNIT_CFLAGS := $(CFLAGS) $(WARN) -Werror -D_GNU_SOURCE $(LIB_CPPFLAGS) -Itests/include -Itests/unit/lib

LIB_VM_SRCS  := $(wildcard tests/vm/lib/*.c)
LIB_VM_PROGS := $(patsubst tests/vm/lib/%.c,$(BUILD)/vm/progs/%,$(LIB_VM_SRCS))

FUZZ_SECONDS ?= 60
# fuzz_cvq: vduse-net's control commands against libvdpacvq's model;
# fuzz_cvqtext: libvdpacvq's JSON and command readers;
# fuzz_blk: vduse-blk's request handling
FUZZ_EXTRA_fuzz_cvq := devices/net/cvq.c tools/vdpa-cvq/libvdpacvq.c
FUZZ_EXTRA_fuzz_cvqtext := tools/vdpa-cvq/libvdpacvq.c
FUZZ_EXTRA_fuzz_blk := devices/blk/blk_req.c
FUZZ_EXTRA_SRCS := $(sort $(FUZZ_EXTRA_fuzz_cvq) $(FUZZ_EXTRA_fuzz_cvqtext) $(FUZZ_EXTRA_fuzz_blk))
FUZZ_EXTRA_HDRS := devices/net/net.h tools/vdpa-cvq/libvdpacvq.h devices/blk/blk_req.h
FUZZ_EXTRA_INC  := -Idevices/net -Itools/vdpa-cvq -Idevices/blk
FUZZ_CC    ?= clang
LIB_FUZZ_SRCS := $(wildcard tests/fuzz/fuzz_*.c)
LIB_FUZZ_BINS := $(patsubst tests/fuzz/%.c,$(BUILD)/fuzz/%,$(LIB_FUZZ_SRCS))
LIB_FUZZ_RUNS := $(patsubst tests/fuzz/%.c,lib-run-%,$(LIB_FUZZ_SRCS))

ALL_TARGETS += $(LIB_A) $(BUILD)/lib/libvduse.so.0 $(BUILD)/lib/libvduse.so $(LIB_PC)
INSTALL_TARGETS += lib-install
FUZZ_TARGETS += $(LIB_FUZZ_RUNS)
CLEAN_FILES +=

.PHONY: lib-install $(LIB_FUZZ_RUNS)

$(BUILD)/lib/obj/%.o: lib/%.c $(LIB_HDRS)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(LIB_CFLAGS) $(LIB_CPPFLAGS) -c -o $@ $<

$(LIB_A): $(LIB_OBJS)
	@rm -f $@
	$(AR) rcs $@ $^

$(LIB_SO): $(LIB_OBJS) lib/libvduse.map
	$(CC) $(LDFLAGS) -shared -Wl,-soname,libvduse.so.0 -Wl,--version-script=lib/libvduse.map \
		-Wl,--no-undefined -o $@ $(LIB_OBJS) -pthread

$(BUILD)/lib/libvduse.so.0: $(LIB_SO)
	ln -sf $(notdir $<) $@

$(BUILD)/lib/libvduse.so: $(BUILD)/lib/libvduse.so.0
	ln -sf $(notdir $<) $@

$(LIB_PC): lib/libvduse.pc.in lib/lib.mk
	@mkdir -p $(dir $@)
	sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@LIBDIR@|$(LIBDIR)|' -e 's|@INCLUDEDIR@|$(INCLUDEDIR)|' \
		-e 's|@VERSION@|$(LIBVDUSE_VERSION)|' $< > $@

# Unit tests: one program per feature, linked with the static library and
# the fake kernel of tests/unit/lib/fake_kernel.h.
# lib_msg and lib_resume inject allocation failures by wrapping calloc
# (valgrind-proof).
LIB_UNIT_LDFLAGS_msg := -Wl,--wrap=calloc
LIB_UNIT_LDFLAGS_resume := -Wl,--wrap=calloc
LIB_UNIT_LDFLAGS_notify := -pthread
LIB_UNIT_LDFLAGS_threads := -pthread
LIB_UNIT_LDFLAGS_drain := -pthread

# lib_threads once more under ThreadSanitizer, the library built from source
# with clang (skipped without clang).
TSAN_CC ?= clang
HAVE_TSAN_CC := $(shell command -v $(TSAN_CC) 2>/dev/null)
$(BUILD)/unit/lib_threads_tsan: tests/unit/lib/test_threads.c $(LIB_UNIT_HELP) $(LIB_SRCS) $(LIB_HDRS)
	@mkdir -p $(dir $@)
	$(TSAN_CC) -g -O1 -fsanitize=thread -D_GNU_SOURCE $(WARN) -Werror $(LIB_CPPFLAGS) \
		-Itests/include -Itests/unit/lib -o $@ $< $(LIB_SRCS) -pthread
$(BUILD)/unit/lib_%: tests/unit/lib/test_%.c $(LIB_UNIT_HELP) $(LIB_A) tests/include/tap.h
	@mkdir -p $(dir $@)
	$(CC) $(LIB_UNIT_CFLAGS) -o $@ $< $(LIB_A) $(LIB_UNIT_LDFLAGS_$*)

# The bounded fuzz pass of make check: the fuzz targets built with the
# regular compiler, replaying the seed corpus plus a few seconds of random
# inputs (see tests/fuzz/replay.c).
$(BUILD)/unit/lib_fuzz_replay: tests/fuzz/replay.c $(LIB_FUZZ_SRCS) tests/fuzz/fuzz_common.h $(LIB_UNIT_HELP) $(LIB_A) \
		$(FUZZ_EXTRA_SRCS) $(FUZZ_EXTRA_HDRS)
	@mkdir -p $(dir $@)
	$(CC) $(LIB_UNIT_CFLAGS) -Itests/fuzz $(FUZZ_EXTRA_INC) -o $@ $< $(FUZZ_EXTRA_SRCS) $(LIB_A)

unit-progs: $(LIB_UNIT_PROGS) $(if $(wildcard tests/fuzz/replay.c),$(BUILD)/unit/lib_fuzz_replay) \
	$(if $(HAVE_TSAN_CC),$(BUILD)/unit/lib_threads_tsan)

# VM test programs: static, on the public API only.
$(BUILD)/vm/progs/%: tests/vm/lib/%.c $(LIB_A) include/vduse/libvduse.h tests/include/tap.h
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(WARN) -Werror -D_GNU_SOURCE -Iinclude -Iinclude/uapi -Itests/include \
		-static -pthread -o $@ $< $(LIB_A)

vm-progs: $(LIB_VM_PROGS)

# libFuzzer targets: the library rebuilt with clang and sanitizers; a target
# that tests code outside the library names it in FUZZ_EXTRA_<target>.
$(BUILD)/fuzz/%: tests/fuzz/%.c tests/fuzz/fuzz_common.h $(LIB_SRCS) $(LIB_HDRS)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) -g -O1 -D_GNU_SOURCE -fsanitize=fuzzer,address,undefined -Itests/unit/lib -Itests/include \
		-fno-sanitize-recover=undefined $(LIB_CPPFLAGS) -Itests/fuzz $(FUZZ_EXTRA_INC) -o $@ $< \
		$(LIB_SRCS) $(FUZZ_EXTRA_$*)

$(BUILD)/fuzz/fuzz_cvq: $(FUZZ_EXTRA_fuzz_cvq) $(FUZZ_EXTRA_HDRS)
$(BUILD)/fuzz/fuzz_blk: $(FUZZ_EXTRA_fuzz_blk) $(FUZZ_EXTRA_HDRS)
$(BUILD)/fuzz/fuzz_cvqtext: $(FUZZ_EXTRA_fuzz_cvqtext) $(FUZZ_EXTRA_HDRS)

$(LIB_FUZZ_RUNS): lib-run-%: $(BUILD)/fuzz/%
	@mkdir -p $(BUILD)/fuzz/corpus-$*
	$< -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 \
		$(BUILD)/fuzz/corpus-$* tests/fuzz/corpus/$*

# The dynamic linker finds a new library in /usr/local/lib only through its
# cache: lib-install refreshes it after an install into the running system (as
# root, who owns the cache), not into a DESTDIR (the packages' triggers do).
LDCONFIG ?= ldconfig
# LIBDIR, INCLUDEDIR and MANDIR come from the top-level Makefile (Debian
# packaging sets LIBDIR to /usr/lib/<multiarch>).
lib-install: $(LIB_A) $(BUILD)/lib/libvduse.so.0 $(BUILD)/lib/libvduse.so $(LIB_PC)
	install -d $(DESTDIR)$(LIBDIR)/pkgconfig $(DESTDIR)$(INCLUDEDIR)/vduse/uapi/linux \
		$(DESTDIR)$(MANDIR)/man3
	install -m 644 $(LIB_A) $(DESTDIR)$(LIBDIR)/
	install -m 755 $(LIB_SO) $(DESTDIR)$(LIBDIR)/
	ln -sf $(notdir $(LIB_SO)) $(DESTDIR)$(LIBDIR)/libvduse.so.0
	ln -sf libvduse.so.0 $(DESTDIR)$(LIBDIR)/libvduse.so
	install -m 644 include/vduse/libvduse.h $(DESTDIR)$(INCLUDEDIR)/vduse/
	install -m 644 include/uapi/linux/vduse.h $(DESTDIR)$(INCLUDEDIR)/vduse/uapi/linux/
	sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@LIBDIR@|$(LIBDIR)|' -e 's|@INCLUDEDIR@|$(INCLUDEDIR)|' \
		-e 's|@VERSION@|$(LIBVDUSE_VERSION)|' lib/libvduse.pc.in > $(DESTDIR)$(LIBDIR)/pkgconfig/libvduse.pc
	install -m 644 $(wildcard docs/man/man3/*.3) $(DESTDIR)$(MANDIR)/man3/
	@if [ -z "$(DESTDIR)" ] && [ "$$(id -u)" = 0 ]; then echo $(LDCONFIG); $(LDCONFIG); fi

# The ABI test opens the shared library.
$(BUILD)/unit/lib_abi: $(BUILD)/lib/libvduse.so.0
