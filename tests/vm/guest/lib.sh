# SPDX-License-Identifier: GPL-2.0
# Helpers for guest suites (sourced by /init).

# load_mod NAME: insmod NAME and its dependencies (from /etc/modules.dep).
load_mod() {
	local m=$1 d
	grep -qx "$m" /run/.loaded 2>/dev/null && return 0
	for d in $(sed -n "s/^$m: //p" /etc/modules.dep); do load_mod "$d" || return 1; done
	if [ -f "/lib/modules/$m.ko" ]; then
		insmod "/lib/modules/$m.ko" || { echo "not ok 1 - insmod $m"; return 1; }
	fi
	echo "$m" >> /run/.loaded
}

# unload_mod NAME: rmmod if loaded.
unload_mod() {
	if grep -q "^$1 " /proc/modules; then
		rmmod "$1" || { echo "not ok 1 - rmmod $1"; return 1; }
	fi
	sed -i "/^$1\$/d" /run/.loaded 2>/dev/null
	return 0
}

# tap_ok COND-EXIT-STATUS NAME [DETAIL]: print one TAP line for a shell check.
tap_ok() {
	if [ "$1" = 0 ]; then echo "ok 1 - $2"; else echo "not ok 1 - $2 # ${3:-exit $1}"; fi
}

# wait_for PATH [SECONDS]: wait until PATH exists.
wait_for() {
	local i=0 n=$(( ${2:-20} * 10 ))
	while [ ! -e "$1" ]; do
		i=$((i + 1)); [ $i -gt $n ] && return 1
		usleep 100000
	done
}

# run_prog SECONDS PROG [ARGS...]: run a test program that prints TAP, under a
# time limit. Exit 0 or 1 (its failed checks are reported already) is fine; a
# crash, a time-out or any other status is one more failed test.
run_prog() {
	local secs=$1 rc
	shift
	timeout "$secs" "$@"
	rc=$?
	[ $rc -le 1 ] && return 0
	echo "not ok 1 - $* ran to completion # exit status $rc (crash or ${secs}s time-out)"
	return 1
}

# vhost_of NAME: /dev/vhost-vdpa-N of a vDPA device bound to vhost_vdpa (waits 5 s).
vhost_of() {
	local i d
	for i in $(seq 1 50); do
		for d in /sys/bus/vdpa/devices/$1/vhost-vdpa-*; do
			[ -e "/dev/${d##*/}" ] && echo "/dev/${d##*/}" && return 0
		done
		usleep 100000
	done
	return 1
}

# dev_of NAME: /dev/vdX of the virtio-blk disk of vDPA device NAME.
dev_of() {
	local b p
	for b in /sys/block/vd*; do
		p=$(readlink -f "$b/device"); p=${p%/virtio*}
		[ "${p##*/}" = "$1" ] && { echo "/dev/${b##*/}"; return 0; }
	done
	return 1
}

# wait_dev_of NAME: dev_of NAME once the disk has appeared (up to 30 s); 1
# if it did not.
wait_dev_of() {
	local i=0
	while ! dev_of "$1" > /dev/null && [ $i -lt 300 ]; do usleep 100000; i=$((i + 1)); done
	dev_of "$1"
}

# netdev_of NAME: the netdev of vDPA device NAME bound to virtio-vdpa.
netdev_of() {
	local n
	for n in /sys/bus/vdpa/devices/$1/virtio*/net/*; do
		[ -e "$n" ] && { basename "$n"; return 0; }
	done
	return 1
}

# wait_log FILE PATTERN PID [TENTHS]: wait until FILE has a line matching
# PATTERN (0), or PID has died or TENTHS tenths of a second (200) passed (1).
wait_log() {
	local i=0
	until grep -q "$2" "$1"; do
		kill -0 "$3" 2> /dev/null || return 1
		i=$((i + 1)); [ $i -gt "${4:-200}" ] && return 1
		usleep 100000
	done
}

# swap_vduse stock|ours: unload whichever vduse is loaded and insmod that one
# (the bench suites with "# vmtest-needs: stockvduse": both modules depend
# only on vdpa and vhost_iotlb). Only ours is recorded in /run/.loaded, the
# module later suites' load_mod vduse expects. Says what failed on stdout.
swap_vduse() {
	local f=/lib/modules/vduse.ko
	[ "$1" = stock ] && f=/lib/modules/vduse_stock.ko
	if grep -q '^vduse ' /proc/modules; then
		rmmod vduse || { echo "# rmmod vduse (before loading $1) failed"; return 1; }
	fi
	sed -i '/^vduse$/d' /run/.loaded
	insmod "$f" || { echo "# insmod $f failed"; return 1; }
	[ "$1" = ours ] && echo vduse >> /run/.loaded
	return 0
}

# vdev_up NAME CMD...: start CMD, a daemon that creates the VDUSE device
# NAME, add it as a vDPA device and wait for its virtio-blk disk; sets
# NULL_PID and NULL_DEV (/dev/vdX). 1, with a diagnostic line, if a step
# failed (the daemon may be running: NULL_PID is set as soon as it is).
# Its output goes to /run/NAME.log.
vdev_up() {
	local name=$1
	shift
	NULL_DEV=""
	"$@" > "/run/$name.log" 2>&1 &
	NULL_PID=$!
	wait_for "/dev/vduse/$name" 30 || { echo "# $name: $(tail -n 2 /run/$name.log | tr '\n' ' ')"; return 1; }
	timeout 60 vdpa dev add name "$name" mgmtdev vduse || return 1
	NULL_DEV=$(wait_dev_of "$name")
}

# nullraw_up LABEL NAME: vdev_up for bench/null_raw.c's null virtio-blk
# NAME counting the distinct IOVA pages of its request buffers; prints the
# TAP line "LABEL: null-raw attached ..."; 1 (null-raw stopped) if it failed.
nullraw_up() {
	vdev_up "$2" env NULL_RAW_PAGES=1 null-raw "$2"
	tap_ok $([ -n "$NULL_DEV" ]; echo $?) "$1: null-raw attached as a virtio-blk disk" ||
		{ kill "$NULL_PID"; return 1; }
}

# nullraw_counts NAME: after vdev_down, print null-raw NAME's "# nullblk"
# lines and set NULL_SERVED (requests) and NULL_PAGES (distinct bounce
# pages), empty if it did not print them.
nullraw_counts() {
	grep '^# nullblk' "/run/$1.log"
	NULL_SERVED=$(sed -n "s/^# nullblk $1: served \([0-9]*\) .*/\1/p" "/run/$1.log")
	NULL_PAGES=$(sed -n "s/^# nullblk $1: request buffers in \([0-9]*\) .*/\1/p" "/run/$1.log")
}

# null_up NAME [null-ours ARGS...]: vdev_up for bench/null_ours.c's null
# virtio-blk NAME.
null_up() {
	local name=$1
	shift
	vdev_up "$name" null-ours "$@" "$name"
}

# vdev_down LABEL NAME: remove vDPA device NAME, stop its daemon (NULL_PID)
# and print the TAP line "LABEL: ..." for its clean exit, which for our
# daemons means every request served and the device destroyed.
vdev_down() {
	vdpa dev del "$2"
	kill "$NULL_PID"
	wait "$NULL_PID"
	tap_ok $? "$1: the daemon served every request and destroyed its device (DESTROY_DEV)" \
		"$(tail -n 3 "/run/$2.log" | tr '\n' ' ')"
}
