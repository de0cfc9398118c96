# SPDX-License-Identifier: GPL-2.0
#
# vduse-blk: included through devices/devices.mk.
#
#   build/devices/vduse-blk      the daemon (libvduse and liburing linked in)
#   build/vm/progs/vduse-blk     the same, fully static, for the test guest
#   build/devices/blk/blk_req.o  virtio-blk request handling, also linked by
#                                bench/benchdev and tests/vm/lib/libblk

BLK_CFLAGS := $(CFLAGS) $(CPPFLAGS) $(WARN) -Werror -D_GNU_SOURCE -Iinclude -Iinclude/uapi -Idevices/blk
# --version prints the project's version
BLK_VERSION := -DVDUSE_ASID_VERSION='"$(VDUSE_ASID_VERSION)"'
BLK_DEPS   := devices/blk/vduse-blk.c devices/blk/blk_req.h $(BUILD)/devices/blk/blk_req.o \
	      $(LIB_A) include/vduse/libvduse.h
BLK_REQ_O  := $(BUILD)/devices/blk/blk_req.o

ALL_TARGETS += $(BUILD)/devices/vduse-blk
INSTALL_TARGETS += blk-install

.PHONY: blk-install

$(BLK_REQ_O): devices/blk/blk_req.c devices/blk/blk_req.h include/vduse/libvduse.h
	@mkdir -p $(dir $@)
	$(CC) $(BLK_CFLAGS) -c -o $@ $<

$(BUILD)/devices/vduse-blk: $(BLK_DEPS)
	@mkdir -p $(dir $@)
	$(CC) $(BLK_CFLAGS) $(BLK_VERSION) $(LDFLAGS) -pthread -o $@ $< $(BLK_REQ_O) $(LIB_A) -l:liburing.a

$(BUILD)/vm/progs/vduse-blk: $(BLK_DEPS)
	@mkdir -p $(dir $@)
	$(CC) $(BLK_CFLAGS) $(BLK_VERSION) -static -pthread -o $@ $< $(BLK_REQ_O) $(LIB_A) -luring

vm-progs: $(BUILD)/vm/progs/vduse-blk

blk-install: $(BUILD)/devices/vduse-blk
	install -d $(DESTDIR)$(PREFIX)/sbin $(DESTDIR)$(MANDIR)/man8
	install -m 755 $(BUILD)/devices/vduse-blk $(DESTDIR)$(PREFIX)/sbin/
	install -m 644 docs/man/man8/vduse-blk.8 $(DESTDIR)$(MANDIR)/man8/

# tests/vm/lib/libblk serves its RAM disk with blk_req.c: this explicit rule
# takes precedence over lib/lib.mk's pattern rule for tests/vm/lib/*.c.
$(BUILD)/vm/progs/libblk: tests/vm/lib/libblk.c $(BLK_REQ_O) devices/blk/blk_req.h $(LIB_A) \
		include/vduse/libvduse.h tests/include/tap.h
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(WARN) -Werror -D_GNU_SOURCE -Iinclude -Iinclude/uapi -Itests/include \
		-Idevices/blk -static -pthread -o $@ $< $(BLK_REQ_O) $(LIB_A)

# Native unit test of blk_req.c (run by make check with the other build/unit/*).
$(BUILD)/unit/blk_req: tests/unit/blk/test_blk_req.c $(BLK_REQ_O) devices/blk/blk_req.h $(LIB_A) \
		tests/include/tap.h
	@mkdir -p $(dir $@)
	$(CC) $(BLK_CFLAGS) -Itests/include -o $@ $< $(BLK_REQ_O) $(LIB_A)

unit-progs: $(BUILD)/unit/blk_req
