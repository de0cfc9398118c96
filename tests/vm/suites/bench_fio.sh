# SPDX-License-Identifier: GPL-2.0
# vmtest-needs: fio
# bench/run-fio (make bench-fio), not in tests/vm/plan: vduse-blk
# (devices/blk, io_uring) against qemu-storage-daemon's vduse-blk export
# (aio=io_uring), each with 1 and with 2 queues, on a 128 MiB file in /run
# (tmpfs, buffered on both sides), driven by the kernel's virtio-blk through
# virtio-vdpa and measured by Debian's fio (io_uring, O_DIRECT on /dev/vdX,
# one job per queue). Each test runs in rounds of one fio run per device,
# taking turns; "# bench" lines as in bench/stats.awk. The TAP lines test
# that every device attaches, that every fio run succeeds, and clean exits.
echo "# benchinfo kernel $(uname -r) vduse $VM_MODULE $(fio --version)"
load_mod vduse && load_mod virtio_vdpa && load_mod virtio_blk || return 0
unload_mod vhost_vdpa || return 0

BENCH_FIO_ROUNDS=1 BENCH_FIO_SECONDS=1
BENCH_FIO_TESTS="randread:4k:1 randread:4k:32 randwrite:4k:1 randwrite:4k:32 read:128k:4 write:128k:4"
[ -r /etc/bench.conf ] && . /etc/bench.conf


# attach NAME PID: vdpa dev add; prints the disk
attach() {
	kill -0 "$2" || return 1
	timeout 60 vdpa dev add name "$1" mgmtdev vduse || return 1
	wait_dev_of "$1"
}

pids="" disks=""
for q in 1 2; do
	dd if=/dev/zero of=/run/ours$q.img bs=1M count=128 2>/dev/null
	dd if=/dev/zero of=/run/qsd$q.img bs=1M count=128 2>/dev/null
	vduse-blk --num-queues $q --queue-size 256 fioours$q /run/ours$q.img > /run/fioours$q.log 2>&1 &
	pid=$!
	wait_for /dev/vduse/fioours$q 30 && d=$(attach fioours$q $pid)
	tap_ok $? "vduse-blk with $q queue(s) attached" "$(tail -n 3 /run/fioours$q.log | tr '\n' ' ')" || continue
	pids="$pids $pid" disks="$disks ours:$q:$d:fioours$q"
	qemu-storage-daemon \
		--blockdev driver=file,node-name=file$q,filename=/run/qsd$q.img,cache.direct=off,aio=io_uring \
		--blockdev driver=raw,node-name=disk$q,file=file$q \
		--export type=vduse-blk,id=vb$q,node-name=disk$q,name=fioqsd$q,num-queues=$q,queue-size=256,writable=on \
		> /run/fioqsd$q.log 2>&1 &
	pid=$!
	wait_for /dev/vduse/fioqsd$q 30 && d=$(attach fioqsd$q $pid)
	tap_ok $? "qemu-storage-daemon with $q queue(s) attached" "$(tail -n 3 /run/fioqsd$q.log | tr '\n' ' ')" || continue
	pids="$pids $pid" disks="$disks qsd:$q:$d:fioqsd$q"
done
for x in $disks; do
	set -- $(echo "$x" | tr ':' ' ')
	echo "# benchinfo $1 $2q $3 $(cat /sys/block/${3#/dev/}/device/features) hwq $(ls /sys/block/${3#/dev/}/mq | wc -l)"
	dd if=/dev/zero of="$3" bs=1M count=128 oflag=direct 2>/dev/null	# no read hits a hole
done

fails=0
for t in $BENCH_FIO_TESTS; do
	rw=${t%%:*} bs=${t#*:}; bs=${bs%%:*} qd=${t##*:}
	for q in 1 2; do
		name=$rw-$bs-qd$qd-${q}q
		r=0
		while [ $r -lt "$BENCH_FIO_ROUNDS" ]; do
			order=$disks	# odd rounds take the devices in reverse order
			[ $((r % 2)) = 1 ] && order=$(echo $disks | tr ' ' '\n' | sed '1!G;h;$!d')
			for x in $order; do
				set -- $(echo "$x" | tr ':' ' ')
				[ "$2" = $q ] || continue
				out=$(fio --name=b --filename="$3" --ioengine=io_uring --direct=1 --rw=$rw --bs=$bs \
					--iodepth=$qd --numjobs=$q --group_reporting --runtime=${BENCH_FIO_SECONDS}s \
					--time_based --output-format=terse --terse-version=3 2>/run/fio.err) ||
					{ fails=$((fails + 1)); echo "# fio $name on $1 failed: $(head -c 300 /run/fio.err)"; continue; }
				echo "$out" | awk -F';' -v dev=$1 -v name=$name -v rw=$rw '
					$1 == 3 {
						r = rw ~ /read/
						bw = r ? $7 : $48; iops = r ? $8 : $49
						if (name ~ /128k/) printf "# bench %s %s %.1f MB/s\n", dev, name, bw * 1024 / 1e6
						else printf "# bench %s %s %.1f IOPS\n", dev, name, iops
					}'
			done
			r=$((r + 1))
		done
	done
done
tap_ok $fails "every fio run succeeded" "$fails failed"

for x in $disks; do
	set -- $(echo "$x" | tr ':' ' ')
	vdpa dev del "$4"
done
for pid in $pids; do kill "$pid"; done
for pid in $pids; do wait "$pid"; done
i=0; while ls /dev/vduse/fio* > /dev/null 2>&1 && [ $i -lt 50 ]; do usleep 100000; i=$((i + 1)); done
! ls /dev/vduse/fio* > /dev/null 2>&1
tap_ok $? "every device destroyed on exit" "$(ls /dev/vduse/)"
