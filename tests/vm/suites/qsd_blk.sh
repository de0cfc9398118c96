# SPDX-License-Identifier: GPL-2.0
# A real VDUSE client: qemu-storage-daemon's vduse-blk export (QEMU's
# libvduse, API v0) driven by the kernel's virtio-blk through virtio-vdpa.
# Raw I/O must reach the backing file, and an ext4 file system made on the
# device must survive unmount, a forced fsck and a remount.
load_mod vduse && load_mod virtio_vdpa && load_mod virtio_blk || return 0
unload_mod vhost_vdpa || return 0

img=/run/qsd.img
mnt=/run/qsd-mnt
dd if=/dev/zero of=$img bs=1M count=64 2>/dev/null
qemu-storage-daemon \
	--blockdev driver=file,node-name=file0,filename=$img,cache.direct=off \
	--blockdev driver=raw,node-name=disk0,file=file0 \
	--export type=vduse-blk,id=vb0,node-name=disk0,name=qsd0,num-queues=1,writable=on \
	> /run/qsd.log 2>&1 &
qsd=$!

qsd_stop() {
	kill "$qsd" 2>/dev/null
	wait "$qsd" 2>/dev/null
}

wait_for /dev/vduse/qsd0 30
tap_ok $? "qemu-storage-daemon created /dev/vduse/qsd0" "$(tail -n 3 /run/qsd.log | tr '\n' ' ')" ||
	{ qsd_stop; return 0; }

# On our module a small bounce area (4 MiB) makes the kernel's DMA path wrap
# its IOVA allocator and run out of bounce space under load, which must only
# slow requests down.  (It must stay above the largest request,
# max_sectors_kb, 1280 KiB by default, or such a request can never be
# mapped.)  Stock 6.12, here only to prove the suite, keeps its default
# 64 MiB: with 4 MiB its ext4 journal writes were seen to stall for good
# (jbd2 blocked > 360 s) in one run of five.
bounce=67108864
[ "$VM_IMPL" = ours ] && bounce=4194304
echo $bounce > /sys/class/vduse/qsd0/bounce_size
tap_ok $? "bounce_size set to $((bounce >> 20)) MiB before vdpa dev add"
vdpa dev add name qsd0 mgmtdev vduse
tap_ok $? "vdpa dev add qsd0" || { qsd_stop; return 0; }
wait_for /dev/vda 30
tap_ok $? "virtio-blk attached as /dev/vda" || { vdpa dev del qsd0; qsd_stop; return 0; }

sectors=$(cat /sys/block/vda/size)
[ "$sectors" = 131072 ]
tap_ok $? "capacity is the backing file's 64 MiB" "size $sectors sectors"

# Raw I/O: 64 KiB of random data at 1 MiB, read back past the page cache,
# and found at the same offset of the backing file.
dd if=/dev/urandom of=/run/qsd.pat bs=4k count=16 2>/dev/null
dd if=/run/qsd.pat of=/dev/vda bs=4k seek=256 conv=fsync 2>/dev/null
tap_ok $? "write 64 KiB to /dev/vda"
echo 3 > /proc/sys/vm/drop_caches
blockdev --flushbufs /dev/vda 2>/dev/null
dd if=/dev/vda of=/run/qsd.back bs=4k skip=256 count=16 2>/dev/null
cmp -s /run/qsd.pat /run/qsd.back
tap_ok $? "read back through /dev/vda matches"
dd if=$img of=/run/qsd.file bs=4k skip=256 count=16 2>/dev/null
cmp -s /run/qsd.pat /run/qsd.file
tap_ok $? "data landed in the backing file"

# 16 MiB in one go: four times the bounce area.
dd if=/dev/urandom of=/run/qsd.big bs=1M count=16 2>/dev/null
dd if=/run/qsd.big of=/dev/vda bs=1M seek=8 conv=fsync 2>/dev/null
echo 3 > /proc/sys/vm/drop_caches
want=$(md5sum < /run/qsd.big)
got=$(dd if=/dev/vda bs=1M skip=8 count=16 2>/dev/null | md5sum)
[ "$want" = "$got" ]
tap_ok $? "16 MiB written and read back through /dev/vda"
got=$(dd if=$img bs=1M skip=8 count=16 2>/dev/null | md5sum)
[ "$want" = "$got" ]
tap_ok $? "16 MiB landed in the backing file"
rm -f /run/qsd.big

# ext4, first without the kernel's file system: mkfs.ext4 -d writes a tree
# of files through /dev/vda, and a forced fsck reads all metadata back.
src=/run/qsd-src
mkdir -p $src/dir/sub
for i in 1 2 3 4 5 6 7 8; do
	dd if=/dev/urandom of=$src/file$i bs=64k count=$((i * 4)) 2>/dev/null
done
echo "hello vduse" > $src/dir/sub/note
(cd $src && md5sum file* dir/sub/note > /run/qsd.sums)
mkfs.ext4 -q -F -d $src /dev/vda > /run/qsd.mkfs 2>&1
tap_ok $? "mkfs.ext4 -d (files written through /dev/vda)" "$(tail -n 2 /run/qsd.mkfs | tr '\n' ' ')"
e2fsck -f -n /dev/vda > /run/qsd.fsck 2>&1
tap_ok $? "e2fsck -f -n is clean after mkfs" "$(tail -n 3 /run/qsd.fsck | tr '\n' ' ')"

# Then through the kernel: mount, check, write more, unmount, fsck, remount.
# ext4 needs a crc32c driver (nothing loads modules on demand in the guest).
load_mod ext4
for m in crc32c_generic crc32c_intel crc32c_cryptoapi; do
	[ -f /lib/modules/$m.ko ] && load_mod $m
done
if grep -q crc32c /proc/crypto 2>/dev/null; then
	mkdir -p $mnt
	mount -t ext4 /dev/vda $mnt
	ok=$?
	tap_ok $ok "mount ext4"
	[ $ok = 0 ] && (cd $mnt && md5sum -c -s /run/qsd.sums)
	tap_ok $? "files made by mkfs read back through the kernel"
	if [ $ok = 0 ]; then
		for i in 1 2 3 4; do
			dd if=/dev/urandom of=$mnt/new$i bs=64k count=$((i * 8)) 2>/dev/null || ok=1
		done
		(cd $mnt && md5sum new* >> /run/qsd.sums) || ok=1
		sync
	fi
	tap_ok $ok "write files on the mounted ext4"
	umount $mnt
	tap_ok $? "unmount ext4"
	e2fsck -f -n /dev/vda > /run/qsd.fsck 2>&1
	tap_ok $? "e2fsck -f -n is clean after kernel writes" "$(tail -n 3 /run/qsd.fsck | tr '\n' ' ')"
	echo 3 > /proc/sys/vm/drop_caches
	mount -t ext4 -o ro /dev/vda $mnt && (cd $mnt && md5sum -c -s /run/qsd.sums)
	tap_ok $? "all files intact after remount"
	umount $mnt 2>/dev/null
else
	echo "not ok 1 - mount ext4 # no crc32c driver in the initramfs (ext4 needs one)"
fi

vdpa dev del qsd0
tap_ok $? "vdpa dev del qsd0"
i=0
while [ -e /dev/vda ] && [ $i -lt 50 ]; do usleep 100000; i=$((i + 1)); done
[ ! -e /dev/vda ]
tap_ok $? "/dev/vda gone after vdpa dev del"

# The daemon destroys its device on exit (EBUSY until the vDPA device is gone).
qsd_stop
[ ! -e /dev/vduse/qsd0 ]
tap_ok $? "qemu-storage-daemon removed its device on exit" "$(tail -n 3 /run/qsd.log | tr '\n' ' ')"
