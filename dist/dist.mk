# SPDX-License-Identifier: GPL-2.0
#
# Operating on a host: systemd template units, their helper, the example
# configurations (dist/systemd/), and the Debian packages (make deb).

LIBEXECDIR ?= $(PREFIX)/libexec
UNIT_SRCS := $(wildcard dist/systemd/*.service.in)

INSTALL_TARGETS += dist-install

.PHONY: dist-install

# Paths in the units follow PREFIX (/usr/local by default, /usr for packages).
dist-install:
	install -d $(DESTDIR)$(SYSTEMDUNITDIR) $(DESTDIR)$(LIBEXECDIR)/vduse-asid \
		$(DESTDIR)$(SYSCONFDIR)/vduse/blk $(DESTDIR)$(SYSCONFDIR)/vduse/net
	install -m 755 dist/systemd/vduse-vdpa $(DESTDIR)$(LIBEXECDIR)/vduse-asid/
	for u in $(UNIT_SRCS); do \
		sed -e 's|@SBINDIR@|$(PREFIX)/sbin|g' -e 's|@LIBEXECDIR@|$(LIBEXECDIR)|g' \
		    -e 's|@SYSCONFDIR@|$(SYSCONFDIR)|g' $$u \
		    > $(DESTDIR)$(SYSTEMDUNITDIR)/$$(basename $$u .in) || exit 1; \
		chmod 644 $(DESTDIR)$(SYSTEMDUNITDIR)/$$(basename $$u .in); \
	done
	install -m 644 dist/systemd/blk.conf.example $(DESTDIR)$(SYSCONFDIR)/vduse/blk/example.conf.sample
	install -m 644 dist/systemd/net.conf.example $(DESTDIR)$(SYSCONFDIR)/vduse/net/example.conf.sample
