# SPDX-License-Identifier: GPL-2.0
#
# vduse-net: included through devices/devices.mk.
#
#   build/devices/vduse-net, vduse-netctl   (linked with build/lib/libvduse.a)
#   build/vm/progs/vduse-net, vduse-netctl  (static, for the VM suites)
#   build/unit/net_cvq                      (control commands, RX filter, RSS)
#   build/unit/net_loop                     (the loop against libvduse's fake kernel)

NET_SRCS    := devices/net/vduse-net.c devices/net/cvq.c
NET_HDRS    := devices/net/net.h include/vduse/libvduse.h
NET_CFLAGS  := $(CFLAGS) $(CPPFLAGS) $(WARN) -Werror -D_GNU_SOURCE -Iinclude -Idevices/net
NET_BINS    := $(BUILD)/devices/vduse-net $(BUILD)/devices/vduse-netctl
NET_VM      := $(BUILD)/vm/progs/vduse-net $(BUILD)/vm/progs/vduse-netctl

ALL_TARGETS += $(NET_BINS)
INSTALL_TARGETS += net-install
.PHONY: net-install

$(BUILD)/devices/vduse-net: $(NET_SRCS) $(NET_HDRS) $(LIB_A)
	@mkdir -p $(dir $@)
	$(CC) $(NET_CFLAGS) $(LDFLAGS) -o $@ $(NET_SRCS) $(LIB_A)

$(BUILD)/devices/vduse-netctl: devices/net/vduse-netctl.c
	@mkdir -p $(dir $@)
	$(CC) $(NET_CFLAGS) $(LDFLAGS) -o $@ $<

$(BUILD)/vm/progs/vduse-net: $(NET_SRCS) $(NET_HDRS) $(LIB_A)
	@mkdir -p $(dir $@)
	$(CC) $(NET_CFLAGS) -static -o $@ $(NET_SRCS) $(LIB_A)

$(BUILD)/vm/progs/vduse-netctl: devices/net/vduse-netctl.c
	@mkdir -p $(dir $@)
	$(CC) $(NET_CFLAGS) -static -o $@ $<

$(BUILD)/unit/net_cvq: devices/net/tests/test_cvq.c devices/net/cvq.c devices/net/net.h tests/include/tap.h
	@mkdir -p $(dir $@)
	$(CC) $(NET_CFLAGS) -Itests/include -o $@ devices/net/tests/test_cvq.c devices/net/cvq.c

# vduse-net's loop against the fake kernel of the libvduse unit tests
$(BUILD)/unit/net_loop: devices/net/tests/test_loop.c $(NET_SRCS) $(NET_HDRS) $(LIB_A) \
		$(LIB_UNIT_HELP) tests/include/tap.h
	@mkdir -p $(dir $@)
	$(CC) $(NET_CFLAGS) -Iinclude/uapi -Ilib -Itests/include -Itests/unit/lib -pthread \
		-o $@ $< devices/net/cvq.c $(LIB_A)

vm-progs: $(NET_VM)
unit-progs: $(BUILD)/unit/net_cvq $(BUILD)/unit/net_loop

net-install: $(NET_BINS)
	install -d $(DESTDIR)$(PREFIX)/sbin $(DESTDIR)$(MANDIR)/man8
	install -m 755 $(NET_BINS) $(DESTDIR)$(PREFIX)/sbin/
	install -m 644 docs/man/man8/vduse-net.8 docs/man/man8/vduse-netctl.8 \
		$(DESTDIR)$(MANDIR)/man8/
