# SPDX-License-Identifier: GPL-2.0
# vduse-blk (devices/blk), bound to virtio-vdpa and driven by the kernel's
# virtio-blk: raw I/O against the backing file, serial, discard and
# write-zeroes reaching the file, ext4 (mkfs, mount, write, unmount, fsck,
# image equal to the backing file) with 1 and 4 queues and with synchronous
# I/O, resize seen by the guest kernel, read-only, kill -9 during writes and
# a restart with the in-flight log, and a clean exit on SIGTERM (the daemon
# removes the vDPA device and destroys its VDUSE device), also when SIGTERM
# comes while --bind's vdpa dev add is under way.
load_mod vduse && load_mod virtio_vdpa && load_mod virtio_blk || return 0
unload_mod vhost_vdpa || return 0
load_mod ext4
for m in crc32c_generic crc32c_intel crc32c_cryptoapi; do
	[ -f /lib/modules/$m.ko ] && load_mod $m
done
have_ext4=0
grep -q crc32c /proc/crypto 2>/dev/null && have_ext4=1

DB_PID=
DB_DISK=

# db_start NAME FILE [OPTIONS]: start vduse-blk; its log is /run/db-NAME.log.
db_start() {
	local name=$1 file=$2
	shift 2
	vduse-blk "$@" "$name" "$file" >> /run/db-$name.log 2>&1 &
	DB_PID=$!
	wait_for /dev/vduse/$name 20
}

# db_bind NAME: vdpa dev add, then DB_DISK is the vdX the kernel made of it.
db_bind() {
	vdpa dev add name "$1" mgmtdev vduse || return 1
	db_wait_disk "$1"
}

# db_wait_log NAME PATTERN: wait (up to 20 s) for PATTERN in the daemon's log.
db_wait_log() {
	local i=0
	while ! grep -q "$2" /run/db-$1.log && [ $i -lt 200 ]; do
		usleep 100000
		i=$((i + 1))
	done
	grep -q "$2" /run/db-$1.log
}

# db_wait_disk NAME: DB_DISK is the vdX the kernel made of vDPA device NAME.
db_wait_disk() {
	local i=0 d
	DB_DISK=
	while [ $i -lt 300 ]; do
		for d in /sys/bus/vdpa/devices/$1/virtio*/block/vd*; do
			[ -e "$d" ] && DB_DISK=${d##*/}
		done
		[ -n "$DB_DISK" ] && [ -e /dev/$DB_DISK ] && return 0
		usleep 100000
		i=$((i + 1))
	done
	return 1
}

# db_stop NAME: SIGTERM, then the daemon must exit 0 with nothing left behind.
db_stop() {
	local name=$1 rc
	kill -TERM $DB_PID
	wait $DB_PID
	rc=$?
	tap_ok $rc "$name: vduse-blk exits 0 on SIGTERM" "exit $rc; $(tail -n 3 /run/db-$name.log | tr '\n' ' ')"
	[ ! -e /sys/bus/vdpa/devices/$name ] && [ ! -e /dev/vduse/$name ] &&
		[ ! -e /sys/class/vduse/$name ]
	tap_ok $? "$name: vDPA and VDUSE devices gone after SIGTERM"
}

# db_abort NAME: give up on a configuration after a failed step.
db_abort() {
	vdpa dev del "$1" 2>/dev/null
	kill -TERM $DB_PID 2>/dev/null
	wait $DB_PID 2>/dev/null
	sed 's/^/# /' /run/db-$1.log | tail -n 10
}

# fs_round NAME IMG: ext4 made, written and checked through /dev/$DB_DISK;
# the device's contents must equal the backing file afterwards.
fs_round() {
	local name=$1 img=$2 mnt=/run/db-mnt ok i
	mkfs.ext4 -q -F /dev/$DB_DISK > /run/db.mkfs 2>&1
	tap_ok $? "$name: mkfs.ext4" "$(tail -n 2 /run/db.mkfs | tr '\n' ' ')"
	if [ $have_ext4 = 1 ]; then
		mkdir -p $mnt
		mount -t ext4 /dev/$DB_DISK $mnt
		ok=$?
		tap_ok $ok "$name: mount ext4"
		if [ $ok = 0 ]; then
			for i in 1 2 3 4 5 6; do
				dd if=/dev/urandom of=$mnt/f$i bs=64k count=$((i * 6)) 2>/dev/null || ok=1
			done
			mkdir -p $mnt/d/e && echo "vduse-blk $name" > $mnt/d/e/note
			(cd $mnt && md5sum f* d/e/note > /run/db.sums) || ok=1
			sync
			tap_ok $ok "$name: files written on ext4 and synced"
			umount $mnt
			tap_ok $? "$name: unmount"
		fi
	else
		echo "not ok 1 - $name: mount ext4 # no crc32c driver in the initramfs"
	fi
	e2fsck -f -n /dev/$DB_DISK > /run/db.fsck 2>&1
	tap_ok $? "$name: e2fsck -f -n clean" "$(tail -n 3 /run/db.fsck | tr '\n' ' ')"
	echo 3 > /proc/sys/vm/drop_caches
	[ "$(md5sum < /dev/$DB_DISK)" = "$(md5sum < $img)" ]
	tap_ok $? "$name: device contents equal the backing file"
	if [ $have_ext4 = 1 ]; then
		mount -t ext4 -o ro /dev/$DB_DISK $mnt && (cd $mnt && md5sum -c -s /run/db.sums)
		tap_ok $? "$name: files intact after remount"
		umount $mnt 2>/dev/null
	fi
}

# range_is_zero FILE OFFSET_MIB: the MiB at OFFSET_MIB of FILE is all zero.
range_is_zero() {
	[ "$(dd if=$1 bs=1M skip=$2 count=1 2>/dev/null | md5sum)" = \
		"$(dd if=/dev/zero bs=1M count=1 2>/dev/null | md5sum)" ]
}

# ranges_round NAME IMG: discard and write-zeroes reach the backing file.
ranges_round() {
	local name=$1 img=$2 q=/sys/block/$DB_DISK/queue
	[ "$(cat $q/discard_max_bytes)" -gt 0 ] && [ "$(cat $q/write_zeroes_max_bytes)" -gt 0 ]
	tap_ok $? "$name: the kernel sees discard and write-zeroes" \
		"discard_max_bytes $(cat $q/discard_max_bytes) write_zeroes_max_bytes $(cat $q/write_zeroes_max_bytes)"
	dd if=/dev/urandom of=/dev/$DB_DISK bs=1M seek=20 count=2 conv=fsync 2>/dev/null
	! range_is_zero $img 20 && ! range_is_zero $img 21
	tap_ok $? "$name: data written at 20 MiB is in the backing file"
	blkioctl discard /dev/$DB_DISK $((20 << 20)) $((1 << 20)) && range_is_zero $img 20
	tap_ok $? "$name: BLKDISCARD of 1 MiB zeroes the backing file there"
	blkioctl zeroout /dev/$DB_DISK $((21 << 20)) $((1 << 20)) && range_is_zero $img 21
	tap_ok $? "$name: BLKZEROOUT of 1 MiB zeroes the backing file there"
}

# load_round NAME IMG: four writers at once on the raw device (the kernel
# spreads them over its queues, each served by its own daemon thread), then
# four readers at once; every region reads back and is in the backing file.
load_round() {
	local name=$1 img=$2 i ok=0 pids=
	for i in 0 1 2 3; do
		dd if=/dev/urandom of=/run/db-load$i bs=64k count=64 2>/dev/null
	done
	for i in 0 1 2 3; do
		dd if=/run/db-load$i of=/dev/$DB_DISK bs=64k seek=$((64 + i * 64)) conv=fsync 2>/dev/null &
		pids="$pids $!"
	done
	for i in $pids; do wait $i || ok=1; done
	tap_ok $ok "$name: four parallel writers of 4 MiB"
	echo 3 > /proc/sys/vm/drop_caches
	pids=
	for i in 0 1 2 3; do
		dd if=/dev/$DB_DISK of=/run/db-back$i bs=64k skip=$((64 + i * 64)) count=64 2>/dev/null &
		pids="$pids $!"
	done
	for i in $pids; do wait $i || ok=1; done
	for i in 0 1 2 3; do
		cmp -s /run/db-load$i /run/db-back$i || ok=1
		[ "$(dd if=$img bs=64k skip=$((64 + i * 64)) count=64 2>/dev/null | md5sum)" = \
			"$(md5sum < /run/db-load$i)" ] || ok=1
	done
	tap_ok $ok "$name: four parallel readers: every region as written, and in the backing file"
	rm -f /run/db-load* /run/db-back*
}

# ---- command line ----------------------------------------------------------
vduse-blk --help > /run/db.help 2>&1
[ $? = 0 ] && grep -q -- '--num-queues' /run/db.help
tap_ok $? "vduse-blk --help"
vduse-blk dbx /run/nonexistent.img > /run/db.err 2>&1
[ $? = 1 ] && grep -q 'cannot open /run/nonexistent.img' /run/db.err
tap_ok $? "vduse-blk: a missing backing file is refused with a reason" "$(cat /run/db.err)"
vduse-blk --queue-size 100 dbx /run/x > /run/db.err 2>&1
[ $? = 2 ] && grep -q 'power of 2' /run/db.err
tap_ok $? "vduse-blk: a bad queue size is refused with a reason" "$(cat /run/db.err)"

# ---- 1 queue, io_uring: raw I/O, serial, discard, write-zeroes, ext4 ----
img=/run/db1.img
dd if=/dev/zero of=$img bs=1M count=64 2>/dev/null
db_start db1 $img --serial db1-serial --inflight-log /run/db1.inflight
tap_ok $? "db1: vduse-blk created /dev/vduse/db1" "$(tail -n 3 /run/db-db1.log | tr '\n' ' ')"
grep -q 'io_uring I/O' /run/db-db1.log
tap_ok $? "db1: io_uring in use" "$(head -n 3 /run/db-db1.log | tr '\n' ' ')"
vduse-blk db1 $img > /run/db.err 2>&1
[ $? = 1 ] && grep -q -- '--destroy' /run/db.err
tap_ok $? "db1: a second daemon for the same name is refused with a hint" "$(cat /run/db.err)"
if db_bind db1; then
	tap_ok 0 "db1: bound to virtio-vdpa as $DB_DISK"
	[ "$(cat /sys/block/$DB_DISK/size)" = 131072 ]
	tap_ok $? "db1: capacity is the file's 64 MiB" "$(cat /sys/block/$DB_DISK/size) sectors"
	[ "$(cat /sys/block/$DB_DISK/serial 2>/dev/null)" = db1-serial ]
	tap_ok $? "db1: serial from GET_ID" "serial '$(cat /sys/block/$DB_DISK/serial 2>&1)'"
	dd if=/dev/urandom of=/run/db.pat bs=4k count=16 2>/dev/null
	dd if=/run/db.pat of=/dev/$DB_DISK bs=4k seek=256 conv=fsync 2>/dev/null
	echo 3 > /proc/sys/vm/drop_caches
	dd if=/dev/$DB_DISK bs=4k skip=256 count=16 2>/dev/null | cmp -s - /run/db.pat &&
		dd if=$img bs=4k skip=256 count=16 2>/dev/null | cmp -s - /run/db.pat
	tap_ok $? "db1: 64 KiB written, read back and found in the backing file"
	ranges_round db1 $img
	fs_round db1 $img
	want=$(md5sum < $img)
	db_stop db1
	grep -q 'served .* [1-9][0-9]* discards, [1-9][0-9]* write-zeroes' /run/db-db1.log
	tap_ok $? "db1: the daemon served discard and write-zeroes requests" \
		"$(grep served /run/db-db1.log)"
	[ ! -e /run/db1.inflight ]
	tap_ok $? "db1: in-flight log removed on a clean exit"
	[ "$(md5sum < $img)" = "$want" ]
	tap_ok $? "db1: backing file unchanged by the shutdown"
else
	tap_ok 1 "db1: bound to virtio-vdpa"
	db_abort db1
fi

# ---- 4 queues, io_uring: ext4 ------------------------------------------------
img=/run/db4.img
dd if=/dev/zero of=$img bs=1M count=64 2>/dev/null
db_start db4 $img --num-queues 4 --queue-size 128 --packed
tap_ok $? "db4: vduse-blk created /dev/vduse/db4" "$(tail -n 3 /run/db-db4.log | tr '\n' ' ')"
if db_bind db4; then
	# /sys/.../features: one character per feature bit, bit 34 is RING_PACKED
	[ "$(cut -c 35 /sys/block/$DB_DISK/device/features)" = 1 ]
	tap_ok $? "db4: --packed: the driver uses the packed ring" "$(cat /sys/block/$DB_DISK/device/features)"
	# virtio-blk uses at most one queue per CPU
	n=$(ls /sys/block/$DB_DISK/mq | wc -l)
	want=$(grep -c ^processor /proc/cpuinfo)
	[ "$want" -gt 4 ] && want=4
	[ "$n" = "$want" ] && [ "$n" -gt 1 ]
	tap_ok $? "db4: the kernel uses $want of the 4 queues (one per CPU)" "$n"
	# a thread per queue next to the one answering the kernel
	n=$(ls /proc/$DB_PID/task | wc -l)
	[ "$n" -ge 5 ]
	tap_ok $? "db4: vduse-blk runs a thread per queue ($n threads)"
	load_round db4 $img
	fs_round db4 $img
	db_stop db4
else
	tap_ok 1 "db4: bound to virtio-vdpa"
	db_abort db4
fi

# ---- synchronous fallback, 2 queues, 4 KiB blocks -----------------------------
img=/run/dbs.img
dd if=/dev/zero of=$img bs=1M count=64 2>/dev/null
# --bind: the daemon adds the vDPA device itself (libvduse's netlink helper)
db_start dbs $img --no-io-uring --num-queues 2 --logical-block-size 4096 --bind virtio_vdpa
tap_ok $? "dbs: vduse-blk --no-io-uring created /dev/vduse/dbs" "$(tail -n 3 /run/db-dbs.log | tr '\n' ' ')"
grep -q 'synchronous I/O' /run/db-dbs.log
tap_ok $? "dbs: synchronous I/O in use"
if db_wait_disk dbs; then
	db_wait_log dbs 'bound to virtio_vdpa' &&
		[ "$(basename "$(readlink /sys/bus/vdpa/devices/dbs/driver)")" = virtio_vdpa ]
	tap_ok $? "dbs: --bind virtio_vdpa: the daemon added the vDPA device" "$(tail -n 3 /run/db-dbs.log | tr '\n' ' ')"
	[ "$(cat /sys/block/$DB_DISK/queue/logical_block_size)" = 4096 ]
	tap_ok $? "dbs: logical block size 4096" "$(cat /sys/block/$DB_DISK/queue/logical_block_size)"
	ranges_round dbs $img
	fs_round dbs $img
	db_stop dbs
else
	tap_ok 1 "dbs: bound to virtio-vdpa"
	db_abort dbs
fi

# ---- --bind vhost_vdpa: moved off the driver that probed it first ------------
# (virtio_vdpa registered first and probes first: the helper unbinds it and
# binds vhost_vdpa, which makes a vhost-vdpa-N for a VMM)
if load_mod vhost_vdpa; then
	img=/run/dbv.img
	dd if=/dev/zero of=$img bs=1M count=8 2>/dev/null
	db_start dbv $img --bind vhost_vdpa
	db_wait_log dbv 'bound to vhost_vdpa' &&
		[ "$(basename "$(readlink /sys/bus/vdpa/devices/dbv/driver)")" = vhost_vdpa ] &&
		ls /sys/bus/vdpa/devices/dbv | grep -q '^vhost-vdpa-'
	tap_ok $? "dbv: --bind vhost_vdpa: the daemon added the device and moved it to vhost_vdpa" \
		"$(tail -n 3 /run/db-dbv.log | tr '\n' ' '); $(ls /sys/bus/vdpa/devices/dbv 2>&1 | tr '\n' ' ')"
	db_stop dbv
	unload_mod vhost_vdpa
fi

# ---- --bind, stopped while its vdpa dev add is under way -----------------------
# SIGTERM before the vDPA device is there: the daemon must go on answering
# the driver's probe that its add runs, then remove the vDPA device and
# destroy its own, promptly (it used to wait for the add with nobody
# answering the probe: the kernel's 30 s message timeout, a broken device,
# both devices left). The add is held open on purpose: another device's
# daemon (dbh) is stopped while its own vdpa dev add probes it, and the vdpa
# core holds its lock across an add, so dbq's add waits behind it.
dd if=/dev/zero of=/run/dbh.img bs=1M count=8 2>/dev/null
dd if=/dev/zero of=/run/dbq.img bs=1M count=8 2>/dev/null
db_start dbh /run/dbh.img
hpid=$DB_PID
kill -STOP $hpid
vdpa dev add name dbh mgmtdev vduse > /dev/null 2>&1 &
hadd=$!
wait_for /sys/bus/vdpa/devices/dbh 20
db_start dbq /run/dbq.img --bind virtio_vdpa
db_wait_log dbq 'adding the vDPA device' && usleep 500000 && [ ! -e /sys/bus/vdpa/devices/dbq ]
tap_ok $? "dbq: --bind's vdpa dev add is held open behind dbh's" \
	"$(tail -n 3 /run/db-dbq.log | tr '\n' ' ')"
kill -TERM $DB_PID
usleep 500000
kill -CONT $hpid
i=0
while kill -0 $DB_PID 2>/dev/null && [ $i -lt 150 ]; do usleep 100000; i=$((i + 1)); done
kill -0 $DB_PID 2>/dev/null && kill -9 $DB_PID
wait $DB_PID
rc=$?
[ $rc = 0 ] && grep -q 'stopping once the vDPA device being added is there' /run/db-dbq.log &&
	grep -q 'bound to virtio_vdpa' /run/db-dbq.log && grep -q 'destroyed /dev/vduse/dbq' /run/db-dbq.log
tap_ok $? "dbq: SIGTERM during --bind's add: the daemon serves the probe, then exits 0 within 15 s" \
	"exit $rc after ${i}00 ms; $(tail -n 4 /run/db-dbq.log | tr '\n' ' ')"
[ ! -e /sys/bus/vdpa/devices/dbq ] && [ ! -e /dev/vduse/dbq ] && [ ! -e /sys/class/vduse/dbq ]
tap_ok $? "dbq: vDPA and VDUSE devices gone"
if [ -e /dev/vduse/dbq ]; then
	vdpa dev del dbq 2>/dev/null
	usleep 500000
	vduse-blk --destroy dbq > /dev/null 2>&1
fi
wait $hadd
DB_PID=$hpid
if db_wait_disk dbh; then
	db_stop dbh
else
	tap_ok 1 "dbh: bound to virtio-vdpa once continued"
	db_abort dbh
fi
rm -f /run/dbh.img /run/dbq.img

# ---- resize while running -----------------------------------------------------
img=/run/dbr.img
dd if=/dev/zero of=$img bs=1M count=16 2>/dev/null
db_start dbr $img --size 32M
tap_ok $? "dbr: vduse-blk --size 32M started"
if db_bind dbr; then
	[ "$(cat /sys/block/$DB_DISK/size)" = 65536 ] && [ "$(stat -c %s $img)" = 33554432 ]
	tap_ok $? "dbr: --size 32M extended the file and is the capacity" \
		"$(cat /sys/block/$DB_DISK/size) sectors, file $(stat -c %s $img)"
	truncate -s 48M $img
	kill -HUP $DB_PID
	i=0
	while [ "$(cat /sys/block/$DB_DISK/size)" != 98304 ] && [ $i -lt 100 ]; do
		usleep 100000
		i=$((i + 1))
	done
	[ "$(cat /sys/block/$DB_DISK/size)" = 98304 ]
	tap_ok $? "dbr: SIGHUP after growing the file: the guest sees 48 MiB" \
		"$(cat /sys/block/$DB_DISK/size) sectors"
	dd if=/dev/urandom of=/run/db.pat bs=4k count=16 2>/dev/null
	dd if=/run/db.pat of=/dev/$DB_DISK bs=1M seek=40 conv=fsync 2>/dev/null &&
		dd if=$img bs=1M skip=40 count=1 2>/dev/null | head -c 65536 | cmp -s - /run/db.pat
	tap_ok $? "dbr: the new space takes writes"
	db_stop dbr
else
	tap_ok 1 "dbr: bound to virtio-vdpa"
	db_abort dbr
fi

# ---- re-probe with the daemon left running ------------------------------------
# vdpa dev del resets the device; vdpa dev add probes it again, served by the
# same daemon: the new disk must read what was written before and take new
# writes. Each I/O runs in the background and is waited for 30 s at most
# (db_bounded), so a hang fails the test instead of stalling the run (a
# process waiting for block I/O may not even die of SIGKILL); a request that
# never completes cannot be cancelled and vdpa dev del would wait for it
# forever, so then the daemon is killed and the device left in place.

# db_bounded CMD...: run CMD in the background; its status if it ends within
# 30 s, else 124 (it is left behind).
db_bounded() {
	local pid i=0
	"$@" &
	pid=$!
	while kill -0 $pid 2>/dev/null && [ $i -lt 300 ]; do usleep 100000; i=$((i + 1)); done
	kill -0 $pid 2>/dev/null && { kill -9 $pid 2>/dev/null; return 124; }
	wait $pid
}
img=/run/dbp.img
dd if=/dev/zero of=$img bs=1M count=16 2>/dev/null
db_start dbp $img
tap_ok $? "dbp: vduse-blk started"
if db_bind dbp; then
	dd if=/dev/urandom of=/run/db.pat bs=4k count=16 2>/dev/null
	dd if=/run/db.pat of=/dev/$DB_DISK bs=4k seek=128 conv=fsync 2>/dev/null
	tap_ok $? "dbp: 64 KiB written before the re-probe"
	vdpa dev del dbp
	i=0
	while [ -e /sys/bus/vdpa/devices/dbp ] && [ $i -lt 100 ]; do usleep 100000; i=$((i + 1)); done
	[ ! -e /sys/bus/vdpa/devices/dbp ] && kill -0 $DB_PID
	tap_ok $? "dbp: vdpa dev del: the disk is gone, the daemon still runs"
	if db_bind dbp; then
		tap_ok 0 "dbp: vdpa dev add again: bound as $DB_DISK"
		echo 3 > /proc/sys/vm/drop_caches
		db_bounded dd if=/dev/$DB_DISK of=/run/db.back bs=4k skip=128 count=16 iflag=direct 2>/dev/null &&
			cmp -s /run/db.back /run/db.pat
		ok=$?
		tap_ok $ok "dbp: after the re-probe the data written before reads back (30 s)"
		if [ $ok = 0 ]; then
			dd if=/dev/urandom of=/run/db.pat2 bs=4k count=16 2>/dev/null
			db_bounded dd if=/run/db.pat2 of=/dev/$DB_DISK bs=4k seek=256 oflag=direct conv=fsync 2>/dev/null &&
				dd if=$img bs=4k skip=256 count=16 2>/dev/null | cmp -s - /run/db.pat2
			ok=$?
			tap_ok $ok "dbp: after the re-probe a write reaches the backing file (30 s)"
		fi
		if [ $ok = 0 ]; then
			db_stop dbp
		else
			echo 1 > /sys/class/vduse/dbp/msg_timeout 2>/dev/null
			kill -9 $DB_PID
			wait $DB_PID 2>/dev/null
			sed 's/^/# /' /run/db-dbp.log | tail -n 10
			echo "# dbp: I/O hung after the re-probe: daemon killed, device left in place"
		fi
	else
		tap_ok 1 "dbp: vdpa dev add again: bound" "$(tail -n 5 /run/db-dbp.log | tr '\n' ' ')"
		db_abort dbp
	fi
else
	tap_ok 1 "dbp: bound to virtio-vdpa"
	db_abort dbp
fi
rm -f /run/db.back /run/db.pat2

# ---- a restart keeps --size: a prefix of a larger file stays the export -------
img=/run/dbz.img
dd if=/dev/zero of=$img bs=1M count=64 2>/dev/null
db_start dbz $img --size 32M --inflight-log /run/dbz.inflight
tap_ok $? "dbz: vduse-blk --size 32M of a 64 MiB file started"
if db_bind dbz; then
	[ "$(cat /sys/block/$DB_DISK/size)" = 65536 ]
	tap_ok $? "dbz: the capacity is --size, not the file" "$(cat /sys/block/$DB_DISK/size) sectors"
	kill -9 $DB_PID
	wait $DB_PID 2>/dev/null
	usleep 500000
	db_start dbz $img --size 32M --inflight-log /run/dbz.inflight
	db_wait_log dbz 'took over /dev/vduse/dbz'
	tap_ok $? "dbz: restarted with the same options, took the device over" \
		"$(tail -n 3 /run/db-dbz.log | tr '\n' ' ')"
	# a config interrupt with another capacity would reach the disk within this
	usleep 1000000
	[ "$(cat /sys/block/$DB_DISK/size)" = 65536 ] && grep -q 'took over .* 33554432 bytes' /run/db-dbz.log
	tap_ok $? "dbz: after the restart the capacity is still --size (32 MiB)" \
		"$(cat /sys/block/$DB_DISK/size) sectors; $(grep 'took over' /run/db-dbz.log)"
	db_stop dbz
else
	tap_ok 1 "dbz: bound to virtio-vdpa"
	db_abort dbz
fi

# ---- a broken device: the daemon exits with a reason instead of spinning ------
# Stopped (SIGSTOP) while the driver probes, the daemon misses a message's
# 1 s timeout and the kernel marks the device broken: its fd polls POLLERR
# for good. Continued, the daemon must say so and exit 1 within seconds.
img=/run/dbb.img
dd if=/dev/zero of=$img bs=1M count=8 2>/dev/null
db_start dbb $img
if [ -w /sys/class/vduse/dbb/msg_timeout ]; then
	echo 1 > /sys/class/vduse/dbb/msg_timeout
	kill -STOP $DB_PID
	vdpa dev add name dbb mgmtdev vduse > /dev/null 2>&1 &
	add=$!
	sleep 3
	kill -CONT $DB_PID
	i=0
	while kill -0 $DB_PID 2>/dev/null && [ $i -lt 100 ]; do usleep 100000; i=$((i + 1)); done
	kill -0 $DB_PID 2>/dev/null && kill -9 $DB_PID
	wait $DB_PID
	rc=$?
	[ $rc = 1 ] && grep -q 'marked /dev/vduse/dbb broken' /run/db-dbb.log
	tap_ok $? "dbb: a device broken by a message timeout: the daemon exits 1 with a reason" \
		"exit $rc; $(tail -n 3 /run/db-dbb.log | tr '\n' ' ')"
	wait $add
	vdpa dev del dbb 2>/dev/null
	vduse-blk --destroy dbb > /run/db.err 2>&1 || {
		usleep 500000
		vduse-blk --destroy dbb >> /run/db.err 2>&1
	}
	[ ! -e /dev/vduse/dbb ]
	tap_ok $? "dbb: the broken device is removed with vdpa dev del and --destroy" "$(cat /run/db.err)"
else
	echo "ok 1 - dbb: broken device # SKIP no msg_timeout attribute"
	db_abort dbb
fi

# ---- read-only -----------------------------------------------------------------
img=/run/dbro.img
dd if=/dev/urandom of=$img bs=1M count=8 2>/dev/null
want=$(md5sum < $img)
# with io_uring disabled by the kernel, the daemon falls back by itself
uring_sysctl=/proc/sys/kernel/io_uring_disabled
uring_was=$(cat $uring_sysctl 2>/dev/null)
[ -n "$uring_was" ] && echo 2 > $uring_sysctl
db_start dbro $img --read-only
tap_ok $? "dbro: vduse-blk --read-only started"
if [ -n "$uring_was" ]; then
	grep -q 'io_uring unavailable.*synchronous I/O instead' /run/db-dbro.log &&
		grep -q 'synchronous I/O' /run/db-dbro.log
	tap_ok $? "dbro: io_uring disabled by the kernel: synchronous I/O, said once" \
		"$(head -n 3 /run/db-dbro.log | tr '\n' ' ')"
	echo "$uring_was" > $uring_sysctl
fi
if db_bind dbro; then
	[ "$(cat /sys/block/$DB_DISK/ro)" = 1 ]
	tap_ok $? "dbro: the kernel sees a read-only disk"
	dd if=/dev/zero of=/dev/$DB_DISK bs=4k count=1 conv=fsync 2>/dev/null
	[ $? != 0 ]
	tap_ok $? "dbro: a write is refused"
	[ "$(md5sum < /dev/$DB_DISK)" = "$want" ] && [ "$(md5sum < $img)" = "$want" ]
	tap_ok $? "dbro: reads return the file, which is unchanged"
	db_stop dbro
else
	tap_ok 1 "dbro: bound to virtio-vdpa"
	db_abort dbro
fi

# ---- kill -9 during writes, restart with the in-flight log --------------------
img=/run/dbk.img
mnt=/run/dbk-mnt
dd if=/dev/zero of=$img bs=1M count=64 2>/dev/null
db_start dbk $img --num-queues 2 --inflight-log /run/dbk.inflight
tap_ok $? "dbk: vduse-blk started with an in-flight log"
if [ $have_ext4 = 1 ] && db_bind dbk; then
	mkfs.ext4 -q -F /dev/$DB_DISK > /run/db.mkfs 2>&1
	mkdir -p $mnt && mount -t ext4 /dev/$DB_DISK $mnt
	tap_ok $? "dbk: mkfs and mount"
	# the writer: files with known contents, synced one by one
	(
		for i in 1 2 3 4 5 6 7 8 9 10 11 12; do
			dd if=/dev/urandom of=/run/dbk-src$i bs=64k count=16 2>/dev/null
			cp /run/dbk-src$i $mnt/k$i && sync
		done
		echo done > /run/dbk.writer
	) &
	writer=$!
	i=0
	while [ ! -e $mnt/k3 ] && [ $i -lt 1200 ]; do usleep 50000; i=$((i + 1)); done
	kill -9 $DB_PID
	wait $DB_PID 2>/dev/null
	tap_ok 0 "dbk: vduse-blk killed with -9 during writes"
	[ -e /dev/vduse/dbk ]
	tap_ok $? "dbk: the device outlives its daemon"
	usleep 500000
	db_start dbk $img --num-queues 2 --inflight-log /run/dbk.inflight
	# /dev/vduse/dbk exists already: wait for the daemon's own word
	db_wait_log dbk 'took over /dev/vduse/dbk'
	tap_ok $? "dbk: the restarted daemon took the device over" "$(tail -n 3 /run/db-dbk.log | tr '\n' ' ')"
	grep -Eq '[0-9]+ requests? from the in-flight log to execute again' /run/db-dbk.log
	tap_ok $? "dbk: the restarted daemon says how many requests it executes again" \
		"$(grep -o '[0-9]* requests* from the in-flight log' /run/db-dbk.log)"
	i=0
	while [ ! -e /run/dbk.writer ] && [ $i -lt 1200 ]; do usleep 100000; i=$((i + 1)); done
	[ -e /run/dbk.writer ]
	tap_ok $? "dbk: the writes completed after the restart"
	wait $writer
	ok=0
	for i in 1 2 3 4 5 6 7 8 9 10 11 12; do cmp -s /run/dbk-src$i $mnt/k$i || ok=1; done
	tap_ok $ok "dbk: every file reads back as written"
	umount $mnt
	tap_ok $? "dbk: unmount"
	e2fsck -f -n /dev/$DB_DISK > /run/db.fsck 2>&1
	tap_ok $? "dbk: e2fsck -f -n clean after kill -9 and restart" "$(tail -n 3 /run/db.fsck | tr '\n' ' ')"
	echo 3 > /proc/sys/vm/drop_caches
	mount -t ext4 -o ro /dev/$DB_DISK $mnt
	ok=$?
	for i in 1 2 3 4 5 6 7 8 9 10 11 12; do cmp -s /run/dbk-src$i $mnt/k$i || ok=1; done
	tap_ok $ok "dbk: every file intact after remount"
	umount $mnt 2>/dev/null
	db_stop dbk
elif [ $have_ext4 = 1 ]; then
	tap_ok 1 "dbk: bound to virtio-vdpa"
	db_abort dbk
else
	echo "not ok 1 - dbk: kill -9 test # no ext4 in the initramfs"
	db_abort dbk
fi
rm -f /run/db*.img /run/dbk-src*
