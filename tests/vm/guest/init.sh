#!/bin/busybox sh
# SPDX-License-Identifier: GPL-2.0
# /init of the test guest: run the suites, scan dmesg, power off.
/bin/busybox --install -s /bin
export PATH=/progs:/usr/bin:/usr/sbin:/bin:/sbin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mount -t tmpfs tmpfs /run
mount -t tmpfs tmpfs /tmp
mount -t securityfs securityfs /sys/kernel/security 2>/dev/null
ip link set lo up 2>/dev/null
# Under TCG a vCPU can run a stale copy of kernel text another vCPU is
# patching ("Oops: int3" at a static-key site). The first TCP connection
# flips such keys (the hash secrets' DO_ONCE, patched from a kworker while
# packets flow: seen once in inet_ehashfn during a suite's transfer); flip
# them here, on an idle guest, with one loopback connection.
timeout 2 nc -l -p 9 > /dev/null 2>&1 < /dev/null &
sleep 0.1
timeout 1 nc 127.0.0.1 9 > /dev/null 2>&1 < /dev/null
wait
. /etc/vmtest.conf
. /etc/lib.sh

echo "# guest: $(uname -r), vduse: $VM_MODULE"
for s in $SUITES; do
	echo "# suite $s"
	# shellcheck disable=SC1090 # the suite named on the command line
	( cd /run && . "/suites/$s.sh" ) 2>&1
done
for e in /extra/*; do
	[ -x "$e" ] || continue
	load_mod vduse	# extras get the VDUSE stack; bus drivers are theirs to load
	echo "# extra ${e##*/}"
	( cd /run && timeout 300 "$e" ) 2>&1 || true
done

# Any kernel warning during the run fails it. What the kernel says after
# this dump (teardown, poweroff) goes to the console at every level from
# here on, where the harness looks for the same patterns (VMTEST_KWARN_RE).
dmesg -n 8
echo "# guest: kernel messages go to the console from here"
dmesg > /run/dmesg
bad=$(grep -E "$VMTEST_KWARN_RE" /run/dmesg | head -n 3 | tr '\n' '|')
if [ -n "$bad" ]; then
	echo "not ok 1 - dmesg clean # $bad"
	echo "# ---- dmesg ----"
	sed 's/^/# /' /run/dmesg | tail -n 80
else
	echo "ok 1 - dmesg clean"
fi
echo "VMTEST-END"
# the harness's own negative test (docs/testing.md): misbehave after the marker
[ -n "${VMTEST_AFTER_END:-}" ] && sh -c "$VMTEST_AFTER_END"
poweroff -f
