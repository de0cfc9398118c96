# SPDX-License-Identifier: GPL-2.0
#
# tools/: included by the top-level Makefile.
#
#   build/tools/vdpa-cvq          the CLI (docs/vdpa-cvq.md, vdpa-cvq(8))
#   build/tools/libvdpacvq.a      the part a VMM can embed (libvdpacvq.h)
#   build/vm/progs/vdpa-cvq       the CLI, static, for the VM suites
#   build/vm/progs/vdpa_cvq       the suite's test device, with the model
#   build/unit/vdpa_cvq_model     unit tests of the pure part
#   build/unit/vdpa_cvq_dev       unit tests of the device part (a fake device)

VDPACVQ_DIR  := tools/vdpa-cvq
VDPACVQ_SRCS := $(VDPACVQ_DIR)/libvdpacvq.c $(VDPACVQ_DIR)/vhostdev.c
VDPACVQ_HDRS := $(VDPACVQ_DIR)/libvdpacvq.h
VDPACVQ_CFLAGS := $(CFLAGS) $(CPPFLAGS) $(WARN) -Werror -D_GNU_SOURCE -Iinclude/uapi -I$(VDPACVQ_DIR)
VDPACVQ_OBJS := $(patsubst $(VDPACVQ_DIR)/%.c,$(BUILD)/tools/obj/%.o,$(VDPACVQ_SRCS))
VDPACVQ_A    := $(BUILD)/tools/libvdpacvq.a

ALL_TARGETS += $(BUILD)/tools/vdpa-cvq $(VDPACVQ_A)
INSTALL_TARGETS += tools-install

.PHONY: tools-install

$(BUILD)/tools/obj/%.o: $(VDPACVQ_DIR)/%.c $(VDPACVQ_HDRS)
	@mkdir -p $(dir $@)
	$(CC) $(VDPACVQ_CFLAGS) -c -o $@ $<

$(VDPACVQ_A): $(VDPACVQ_OBJS)
	@rm -f $@
	$(AR) rcs $@ $^

$(BUILD)/tools/vdpa-cvq: $(VDPACVQ_DIR)/vdpa-cvq.c $(VDPACVQ_A) $(VDPACVQ_HDRS)
	$(CC) $(VDPACVQ_CFLAGS) $(LDFLAGS) -o $@ $< $(VDPACVQ_A)

$(BUILD)/vm/progs/vdpa-cvq: $(VDPACVQ_DIR)/vdpa-cvq.c $(VDPACVQ_SRCS) $(VDPACVQ_HDRS)
	@mkdir -p $(dir $@)
	$(CC) $(VDPACVQ_CFLAGS) -static -o $@ $< $(VDPACVQ_SRCS)

# The suite's device program shares the state model (to compare states).
$(BUILD)/vm/progs/vdpa_cvq: tests/vm/guest/vdpa_cvq.c $(VDPACVQ_DIR)/libvdpacvq.c $(VDPACVQ_HDRS) \
		include/uapi/linux/vduse.h $(wildcard tests/include/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(VDPACVQ_CFLAGS) $(CPPFLAGS) -static -pthread -o $@ $< $(VDPACVQ_DIR)/libvdpacvq.c

$(BUILD)/unit/vdpa_cvq_model: tests/unit/vdpa_cvq_model.c $(VDPACVQ_DIR)/libvdpacvq.c $(VDPACVQ_HDRS) tests/include/tap.h
	@mkdir -p $(dir $@)
	$(CC) $(VDPACVQ_CFLAGS) -Itests/include -o $@ $< $(VDPACVQ_DIR)/libvdpacvq.c

# The device part against a fake vhost-vdpa device (the test's own ioctl,
# memfd_create, mmap and munmap, through the linker's --wrap).
$(BUILD)/unit/vdpa_cvq_dev: tests/unit/vdpa_cvq_dev.c $(VDPACVQ_SRCS) $(VDPACVQ_HDRS) tests/include/tap.h
	@mkdir -p $(dir $@)
	$(CC) $(VDPACVQ_CFLAGS) -Itests/include -o $@ $< $(VDPACVQ_SRCS) \
		-Wl,--wrap=ioctl,--wrap=memfd_create,--wrap=mmap,--wrap=munmap

vm-progs: $(BUILD)/vm/progs/vdpa-cvq
unit-progs: $(BUILD)/unit/vdpa_cvq_model $(BUILD)/unit/vdpa_cvq_dev

tools-install: $(BUILD)/tools/vdpa-cvq $(VDPACVQ_A)
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(LIBDIR) $(DESTDIR)$(INCLUDEDIR)/vduse \
		$(DESTDIR)$(MANDIR)/man8
	install -m 755 $(BUILD)/tools/vdpa-cvq $(DESTDIR)$(PREFIX)/bin/
	install -m 644 $(VDPACVQ_A) $(DESTDIR)$(LIBDIR)/
	install -m 644 $(VDPACVQ_HDRS) $(DESTDIR)$(INCLUDEDIR)/vduse/
	install -m 644 docs/man/man8/vdpa-cvq.8 $(DESTDIR)$(MANDIR)/man8/

# The hostile driver of tests/vm/suites/hostile_drv.sh drives vduse-net
# through a libvdpacvq session.
$(BUILD)/vm/progs/hostile_drv: tests/vm/guest/hostile_drv.c $(VDPACVQ_SRCS) $(VDPACVQ_HDRS) \
		include/uapi/linux/vduse.h $(wildcard tests/include/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(VDPACVQ_CFLAGS) $(CPPFLAGS) -static -pthread -o $@ $< $(VDPACVQ_SRCS)
