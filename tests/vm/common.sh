# SPDX-License-Identifier: GPL-2.0
# Shared helpers for the VM test harness (sourced, not run).

TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
CACHE=${VMTEST_CACHE:-$TOP/.cache/vmtest}
mkdir -p "$CACHE"

log() { printf 'vmtest: %s\n' "$*" >&2; }
die() { printf 'vmtest: error: %s\n' "$*" >&2; exit 2; }

# Host packages the harness needs, as "command:package".
HOST_TOOLS="qemu-system-x86_64:qemu-system-x86 busybox:busybox-static cpio:cpio
insmod:kmod xz:xz-utils pahole:dwarves bc:bc vdpa:iproute2
qemu-storage-daemon:qemu-system-common mkfs.ext4:e2fsprogs gzip:gzip
dpkg-deb:dpkg apt-get:apt clang:clang pkg-config:pkgconf
systemd-analyze:systemd"

# Install whatever is missing with apt-get (Debian 12 or newer, as root).
setup_host() {
	local missing="" t cmd pkg
	for t in $HOST_TOOLS; do
		cmd=${t%%:*}; pkg=${t#*:}
		PATH=$PATH:/usr/sbin:/sbin command -v "$cmd" > /dev/null 2>&1 || missing="$missing $pkg"
	done
	dpkg -s libelf-dev > /dev/null 2>&1 || missing="$missing libelf-dev"
	# libFuzzer's runtime, for the bounded fuzz pass of make check
	dpkg -s libclang-rt-dev > /dev/null 2>&1 || missing="$missing libclang-rt-dev"
	[ -r /usr/share/keyrings/debian-archive-keyring.gpg ] || missing="$missing debian-archive-keyring"
	[ -n "$missing" ] || return 0
	command -v apt-get > /dev/null || die "missing host packages:$missing (and no apt-get to install them)"
	[ "$(id -u)" = 0 ] || die "missing host packages:$missing (run as root, or apt-get install them)"
	log "installing host packages:$missing"
	{ apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
		--no-install-recommends $missing; } > "$CACHE/host-apt.log" 2>&1 ||
		die "apt-get install failed for:$missing (see $CACHE/host-apt.log)"
}

need_host_tools() {
	local c
	for c in "$@"; do
		PATH=$PATH:/usr/sbin:/sbin command -v "$c" > /dev/null 2>&1 ||
			die "missing host command '$c' (run tests/vm/setup-host)"
	done
}
export PATH=$PATH:/usr/sbin:/sbin
