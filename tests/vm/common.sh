# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=bash
# Shared helpers for the VM test harness (sourced, not run).

TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
CACHE=$("$TOP/tests/vm/cache-dir")
mkdir -p "$CACHE"

# What in the kernel's log fails a run: in dmesg at the end of the guest's
# suites (tests/vm/guest/init.sh), and on the console after that up to
# QEMU's exit (tests/vm/run).
# shellcheck disable=SC2034 # used by tests/vm/run, which sources this
VMTEST_KWARN_RE='BUG:|WARNING:|Oops|general protection|KASAN|hung_task|blocked for more than|soft lockup|Call Trace|Kernel panic'

log() { printf 'vmtest: %s\n' "$*" >&2; }
die() { printf 'vmtest: error: %s\n' "$*" >&2; exit 2; }

# Host packages the build and the harness need, as "package" or
# "package:command" (the command is checked where there is no dpkg).
HOST_PKGS="gcc:gcc make:make libc6-dev libelf-dev bc:bc dwarves:pahole
qemu-system-x86:qemu-system-x86_64 qemu-system-common:qemu-storage-daemon
busybox-static:busybox cpio:cpio kmod:insmod xz-utils:xz gzip:gzip
iproute2:vdpa e2fsprogs:mkfs.ext4 dpkg:dpkg-deb apt:apt-get
debian-archive-keyring clang:clang libclang-rt-dev liburing-dev
pkgconf:pkg-config systemd:systemd-analyze dkms:dkms
perl:perl shellcheck:shellcheck"
# gcc, make, libc6-dev: the library, the tests and the module (with
# libelf-dev, bc and pahole); clang and libclang-rt-dev (libFuzzer): the fuzz
# pass; liburing-dev: vduse-blk (linked statically); busybox-static: the
# guest's shell (a dynamic busybox cannot run in the initramfs); the rest:
# QEMU, the initramfs and the kernel downloads; pkgconf, systemd-analyze, dkms:
# the install tests (tests/install/install, tests/install/dkms); perl (the
# kernel's checkpatch.pl and kernel-doc) and shellcheck: tests/style.
# Newer than Debian 12 (tried on 13: tests/fresh-root --suite trixie):
# qemu-storage-daemon moved to qemu-utils, and gcc is no longer gcc-12, the
# compiler bookworm-backports' 6.12 was built with, which its headers name
# (CC = gcc-12) and DKMS therefore builds with.
if [ -r /etc/os-release ] && ! grep -q '^VERSION_CODENAME=bookworm$' /etc/os-release; then
	HOST_PKGS="$HOST_PKGS qemu-utils:qemu-storage-daemon gcc-12:gcc-12"
fi

# Installed according to dpkg ("install ok installed"), not just a command
# of that name on PATH: cc may be clang, busybox may be the dynamic one.
host_pkg_missing() { # package[:command]
	local pkg=${1%%:*} cmd=${1#*:}
	if command -v dpkg-query > /dev/null 2>&1; then
		[ "$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null)" != "install ok installed" ]
	else
		[ "$cmd" != "$1" ] && ! command -v "$cmd" > /dev/null 2>&1
	fi
}

# apt_progress TOTAL: condense apt-get install's output on stdin to a line
# per phase and one every 25 packages, plain text (it may go to a log).
apt_progress() {
	awk -v total="$1" '
	function say(s) { printf "vmtest:   %s\n", s; fflush() }
	/^Need to get / || /^After this operation/ { say($0) }
	/^Get:[0-9]+ / { g++; if (g == 1) say("downloading..."); if (g % 25 == 0) say(sprintf("downloaded %d of %d packages", g, total)) }
	/^Fetched / { say($0) }
	/^(Unpacking|Setting up) / { u++; if (u == 1) say("unpacking and configuring"); if (u % 50 == 0) say(sprintf("%d of %d package steps", u, 2 * total)) }
	/^E: / { say($0) }'
}

# Install whatever is missing with apt-get (Debian 12 or newer, as root),
# telling a first-time user what is being downloaded and how much.
setup_host() {
	local missing="" p n t0 log=$CACHE/host-apt.log
	for p in $HOST_PKGS; do
		host_pkg_missing "$p" && missing="$missing ${p%%:*}"
	done
	[ -n "$missing" ] || return 0
	command -v apt-get > /dev/null || die "missing host packages:$missing (and no apt-get to install them)"
	[ "$(id -u)" = 0 ] || die "missing host packages:$missing (run as root, or apt-get install them)"
	t0=$(date +%s)
	log "installing host packages:$missing"
	log "  apt-get update (the package lists of your apt sources; log in $log)"
	apt-get update > "$log" 2>&1 ||
		die "apt-get update failed: $(grep -E '^(E|W): ' "$log" | head -n 3 | tr '\n' ' ')(see $log)"
	# The plan first: how many packages, how many MB to fetch and to unpack.
	n=$(apt-get install -s --no-install-recommends $missing 2>> "$log" | grep -c '^Inst ') ||
		die "apt-get cannot install:$missing: $(grep -E '^(E|W): ' "$log" | tail -n 3 | tr '\n' ' ')(see $log)"
	log "  $n packages with their dependencies"
	# Keep-Downloaded-Packages=false: the .debs of this install (150 MB on a
	# fresh Debian 12) are deleted once installed, the rest of apt's cache is not.
	DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
		-o Dpkg::Use-Pty=0 -o APT::Keep-Downloaded-Packages=false $missing 2>&1 | tee -a "$log" | apt_progress "$n"
	[ "${PIPESTATUS[0]}" = 0 ] || die "apt-get install failed for:$missing (see $log)"
	log "host packages installed in $(( $(date +%s) - t0 )) s"
}

# The Debian archive of the host's apt sources (VMTEST_MIRROR overrides).
debian_mirror() {
	local m=${VMTEST_MIRROR:-}
	if [ -z "$m" ] && [ -r /etc/apt/sources.list.d/debian.sources ]; then
		m=$(awk '$1=="URIs:" && $2 ~ /debian\/?$/ {print $2; exit}' /etc/apt/sources.list.d/debian.sources)
	fi
	if [ -z "$m" ] && [ -r /etc/apt/sources.list ]; then
		m=$(awk '$1=="deb" && $0 !~ /security/ {for (i=2;i<=NF;i++) if ($i ~ /^https?:/) {print $i; exit}}' /etc/apt/sources.list)
	fi
	[ -n "$m" ] || die "no Debian mirror found in /etc/apt/sources.list{,.d/debian.sources}"
	echo "$m"
}

# need_debootstrap: install debootstrap on this host if it is missing (the
# roots of tests/fresh-root and make check-trixie); dies if apt cannot.
need_debootstrap() {
	command -v debootstrap > /dev/null && return 0
	log "installing debootstrap on this host"
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends debootstrap > /dev/null 2>&1 ||
		{ apt-get update -q > /dev/null &&
		  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends debootstrap > /dev/null; } ||
		die "cannot install debootstrap"
}

need_host_tools() {
	local c
	for c in "$@"; do
		PATH=$PATH:/usr/sbin:/sbin command -v "$c" > /dev/null 2>&1 ||
			die "missing host command '$c' (run tests/vm/setup-host)"
	done
}
export PATH=$PATH:/usr/sbin:/sbin

# build_oot DIR WHAT: build the Kbuild in DIR out of tree against the cached
# 6.12 headers ($HDR of k612.env) with the compiler Debian's kernel was
# built with (as the Makefile's module target); dies with the log's tail
# (DIR/build.log) if it fails.
build_oot() {
	need_host_tools make gcc
	if ! make -C "$HDR" M="$1" CC=gcc modules > "$1/build.log" 2>&1; then
		tail -n 20 "$1/build.log" >&2
		die "building $2 out of tree failed (log: $1/build.log)"
	fi
}
