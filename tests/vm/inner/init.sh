#!/bin/busybox sh
# SPDX-License-Identifier: GPL-2.0
# /init of the inner guest of the migration suite (runs under the VMM inside
# the test VM). It configures its NIC through the virtio-net control queue,
# one marker per step, then stays up answering ping and printing heartbeats.
# Markers (read on the serial console by suites/migrate.sh):
#   INNER: init            /init started
#   INNER: step NAME ok UPTIME | fail DETAIL
#   INNER: ready           every step tried
#   INNER: alive N         every 2 s afterwards (N counts up)
/bin/busybox --install -s /bin
export PATH=/usr/sbin:/usr/bin:/sbin:/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
echo "INNER: init $(cut -d' ' -f1 /proc/uptime)"
for m in failover net_failover virtio_net llc stp garp mrp 8021q; do
	insmod "/lib/modules/$m.ko" 2>/dev/null || echo "INNER: insmod $m failed"
done
echo "INNER: modules $(cut -d' ' -f1 /proc/uptime)"
. /etc/inner.conf	# MAC2, IP, VLAN, MCAST
# busybox prefers its own applets: name iproute2 and ethtool by path
IPR=/usr/sbin/ip ETHTOOL=/usr/sbin/ethtool

step() { # NAME CMD...: run CMD, print one marker
	local n=$1 out
	shift
	if out=$("$@" 2>&1); then
		echo "INNER: step $n ok $(cut -d' ' -f1 /proc/uptime)"
	else
		echo "INNER: step $n fail $(echo "$out" | tr '\n' ' ')"
	fi
}

nic=""
for _ in $(seq 1 50); do
	for d in /sys/class/net/*; do
		[ -e "$d/device" ] && nic=${d##*/} && break 2
	done
	usleep 100000
done
[ -n "$nic" ] || { echo "INNER: step nic fail no virtio NIC"; nic=eth0; }
ip link set lo up
step mac $IPR link set "$nic" address "$MAC2"
step up $IPR link set "$nic" up
step channels $ETHTOOL -L "$nic" combined 2
step promisc $IPR link set "$nic" promisc on
step allmulti $IPR link set "$nic" allmulticast on
step mcast $IPR maddress add "$MCAST" dev "$nic"
step vlan $IPR link add link "$nic" name "$nic.$VLAN" type vlan id "$VLAN"
step vlan-up $IPR link set "$nic.$VLAN" up
step addr $IPR addr add "$IP" dev "$nic"
echo "INNER: settings mac=$(cat /sys/class/net/$nic/address) channels=$($ETHTOOL -l $nic 2>/dev/null | awk '/Combined/{c=$2} END{print c}') flags=$(cat /sys/class/net/$nic/flags)"
echo "INNER: ready $(cut -d' ' -f1 /proc/uptime)"
n=0
while :; do
	n=$((n + 1))
	echo "INNER: alive $n"
	sleep 2
done
