# SPDX-License-Identifier: GPL-2.0
# vmtest-needs: vdpa_sim
# bench/run-cvq (make bench-cvq); in tests/vm/plan as a smoke of a few
# seconds (its defaults: 2 slices of 50 ms, one placement): the shadow-CVQ
# command round trip as a VMM sees it (bench/cvqbench.c on libvdpacvq: the
# CVQ's group in ASID 1, the shadow ring and buffers mapped there, a command
# made available, the kick, the answer, the used entry), on the kernel's
# vdpa_sim_net (answers in its kernel worker) and on vduse-net (devices/net:
# a userspace process behind VDUSE, our module), both bound to vhost_vdpa,
# taking turns in one boot. MAC ADDR_SET on both (the paired ratio); RX
# PROMISC, MQ VQ_PAIRS_SET, VLAN ADD and MAC TABLE_SET on vduse-net alone
# (the simulator's CVQ knows MAC ADDR_SET only). The TAP lines test that
# both sessions start, every command is acknowledged, and vduse-net counted
# exactly the commands cvqbench saw acknowledged; no timing is checked.
case $VM_KERNEL-$VM_IMPL in 6.12-ours) ;; *)
	echo "ok 1 - bench_cvq # SKIP needs 6.12 (vdpa_sim) and our module (the net CVQ over VDUSE)"
	return 0 ;;
esac
unload_mod virtio_net && unload_mod virtio_vdpa || return 0
load_mod vduse && load_mod vdpa && load_mod vhost_vdpa && load_mod vdpa_sim_net && load_mod tun || return 0
ip() { /usr/bin/ip "$@"; }
BENCH_CVQ_ROUNDS=2 BENCH_CVQ_SECONDS=0.05 BENCH_CVQ_BATCH=8 BENCH_CVQ_PLACEMENTS=any
[ -r /etc/bench.conf ] && . /etc/bench.conf
B=/run/bcvq
mkdir -p $B
MAC=02:00:00:00:00:0b
# place WHERE TASK-PID...: every thread of each on CPU WHERE, or on any ("any")
place() {
	local m=ffffffff p t
	[ "$1" = any ] || m=$(printf %x $((1 << $1)))
	shift
	for p in "$@"; do
		for t in /proc/$p/task/*; do taskset -p "$m" "${t##*/}" > /dev/null || return 1; done
	done
}

vdpa dev add name bsim mgmtdev vdpasim_net mac $MAC mtu 1500 && vhost_of bsim > $B/sim.vhost
tap_ok $? "vdpa_sim_net bound to vhost_vdpa ($(cat $B/sim.vhost 2> /dev/null))"
ip netns add bcvq
# nothing but the bench on the data queues: no IPv6 chatter, the TAP left down
ip netns exec bcvq sh -c 'echo 1 > /proc/sys/net/ipv6/conf/default/disable_ipv6; echo 1 > /proc/sys/net/ipv6/conf/all/disable_ipv6'
nsenter --net=/run/netns/bcvq vduse-net --tap tbcvq --mac $MAC --mtu 1500 --queue-pairs 2 bvnet > $B/vnet.log 2>&1 &
dpid=$!
i=0
until grep -q 'serving: TAP' $B/vnet.log || ! kill -0 $dpid 2> /dev/null || [ $i -gt 200 ]; do
	usleep 100000; i=$((i + 1))
done
vdpa dev add name bvnet mgmtdev vduse && vhost_of bvnet > $B/vnet.vhost
tap_ok $? "vduse-net (2 pairs) bound to vhost_vdpa ($(cat $B/vnet.vhost 2> /dev/null))" "$(tail -n 3 $B/vnet.log | tr '\n' ' ')"
simw=$(grep -l '^vDPA sim worker' /proc/[0-9]*/comm 2> /dev/null | cut -d/ -f3 | tr '\n' ' ')
simw=${simw% }
echo "# benchinfo kernel $(uname -r) vduse $VM_MODULE; vdpa_sim_net (worker $simw) and vduse-net (pid $dpid); rounds $BENCH_CVQ_ROUNDS x ${BENCH_CVQ_SECONDS} s, batch $BENCH_CVQ_BATCH, placements $BENCH_CVQ_PLACEMENTS"

# Placement N: the consumer, the daemon and the simulator's kthread worker
# on CPU N, so a round trip is two context switches on one CPU on either
# path; "any": the scheduler's choice, where a TCG guest adds the wake-up of
# an idle vCPU to some round trips.
for where in $BENCH_CVQ_PLACEMENTS; do
	[ -n "$simw" ] && place "$where" $simw $dpid
	tap_ok $? "the daemon (pid $dpid) and the simulator's worker (pid $simw) placed on CPU $where"
	timeout 900 taskset "$([ "$where" = any ] && echo ffffffff || printf %x $((1 << where)))" \
		cvqbench --seconds "$BENCH_CVQ_SECONDS" --rounds "$BENCH_CVQ_ROUNDS" --batch "$BENCH_CVQ_BATCH" \
		--label "@$where" sim="$(cat $B/sim.vhost)" vduse="$(cat $B/vnet.vhost)" > $B/out 2>&1
	rc=$?
	cat $B/out
	cat $B/out >> $B/all
	[ $rc -le 1 ] && grep -q ' - vduse: session stopped' $B/out
	tap_ok $? "cvqbench (CPU $where) ran to its end" "exit $rc"
done
# the device's own count: every command the consumer saw acknowledged, no error
sent=$(sed -n 's/^ok [0-9]* - vduse [a-z]*@[a-z0-9]*: \([0-9]*\) commands.*/\1/p' $B/all | awk '{ s += $1 } END { print s + 0 }')
vduse-netctl bvnet state > $B/state.json 2>&1
cvq=$(grep -o '"cvq":{[^}]*}' $B/state.json)
[ "$sent" -gt 0 ] && echo "$cvq" | grep -q "\"commands_ok\":$sent,\"commands_err\":0}"
tap_ok $? "vduse-net answered OK to each of the $sent commands cvqbench counted, and to nothing else" "$cvq"

vdpa dev del bvnet
kill $dpid
wait $dpid
tap_ok $? "vduse-net exited cleanly" "$(tail -n 2 $B/vnet.log | tr '\n' ' ')"
vdpa dev del bsim
ip netns del bcvq
unload_mod vdpa_sim_net && unload_mod vdpa_sim && unload_mod vringh
unload_mod vhost_vdpa
