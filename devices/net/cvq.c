// SPDX-License-Identifier: GPL-2.0
/*
 * vduse-net: control virtqueue commands, RX filter and RSS steering.
 *
 * Pure functions over struct net_state, so that the unit tests feed them
 * command buffers directly. Validation follows virtio 1.2 §5.1.6.5 and QEMU's
 * model where the spec leaves room: a command is acknowledged only if its
 * feature was negotiated and its payload has exactly the right size and
 * valid values; a refused command changes nothing.
 */
#include <string.h>
#include <endian.h>
#include <linux/virtio_net.h>
#include "net.h"

#define F(bit)	(1ull << (bit))

void net_state_reset(struct net_state *st)
{
	memcpy(st->mac, st->cfg_mac, 6);
	/* QEMU's model after reset: promiscuous, nothing else (spec §9.5) */
	st->promisc = 1;
	st->allmulti = st->alluni = st->nomulti = st->nouni = st->nobcast = 0;
	st->uni_overflow = st->multi_overflow = 0;
	st->uni_count = st->multi_count = 0;
	memset(st->uni, 0, sizeof(st->uni));
	memset(st->multi, 0, sizeof(st->multi));
	memset(st->vlans, 0, sizeof(st->vlans));
	st->pairs = 1;
	st->guest_offloads = 0;	/* set to the negotiated ones at DRIVER_OK */
	st->rss_enabled = 0;
	st->rss_key_len = 0;
	st->rss_table_len = 0;
	st->rss_hash_types = 0;
	st->rss_unclassified = 0;
	memset(st->rss_table, 0, sizeof(st->rss_table));
	memset(st->rss_key, 0, sizeof(st->rss_key));
	st->status &= ~VIRTIO_NET_S_ANNOUNCE;
}

bool net_state_valid(const struct net_state *st)
{
	uint16_t i;

	if (st->magic != NET_STATE_MAGIC || st->version != NET_STATE_VERSION ||
	    !st->max_pairs || st->max_pairs > NET_MAX_PAIRS || st->queue_size < 2 ||
	    st->queue_size > NET_QUEUE_SIZE_MAX || (st->queue_size & (st->queue_size - 1)) ||
	    !memchr(st->tap, 0, sizeof(st->tap)))
		return false;
	if (!st->pairs || st->pairs > st->max_pairs || st->uni_count > NET_MAC_TABLE ||
	    st->multi_count > NET_MAC_TABLE || st->rss_key_len > NET_RSS_KEY ||
	    st->rss_table_len > NET_RSS_TABLE || (st->rss_table_len & (st->rss_table_len - 1)) ||
	    (st->rss_enabled && !st->rss_table_len) || st->rss_unclassified >= st->max_pairs)
		return false;
	for (i = 0; i < st->rss_table_len; i++)
		if (st->rss_table[i] >= st->max_pairs)
			return false;
	return true;
}

static uint16_t ld16(const uint8_t *p)
{
	return p[0] | p[1] << 8;
}

static uint32_t ld32(const uint8_t *p)
{
	return (uint32_t)ld16(p) | (uint32_t)ld16(p + 2) << 16;
}

static uint8_t ctrl_rx(struct net_state *st, uint64_t f, uint8_t cmd,
		       const uint8_t *d, size_t n)
{
	uint8_t *mode;

	if (!(f & F(VIRTIO_NET_F_CTRL_RX)) || n != 1)
		return VIRTIO_NET_ERR;
	switch (cmd) {
	case VIRTIO_NET_CTRL_RX_PROMISC: mode = &st->promisc; break;
	case VIRTIO_NET_CTRL_RX_ALLMULTI: mode = &st->allmulti; break;
	case VIRTIO_NET_CTRL_RX_ALLUNI: mode = &st->alluni; break;
	case VIRTIO_NET_CTRL_RX_NOMULTI: mode = &st->nomulti; break;
	case VIRTIO_NET_CTRL_RX_NOUNI: mode = &st->nouni; break;
	case VIRTIO_NET_CTRL_RX_NOBCAST: mode = &st->nobcast; break;
	default: return VIRTIO_NET_ERR;
	}
	if (cmd > VIRTIO_NET_CTRL_RX_ALLMULTI && !(f & F(VIRTIO_NET_F_CTRL_RX_EXTRA)))
		return VIRTIO_NET_ERR;
	*mode = !!d[0];
	return VIRTIO_NET_OK;
}

/* One virtio_net_ctrl_mac at @d; its size in *@used, or 0 if malformed. */
static size_t mac_table_len(const uint8_t *d, size_t n)
{
	uint32_t entries;

	if (n < 4)
		return 0;
	entries = ld32(d);
	if (entries > (n - 4) / 6)
		return 0;
	return 4 + (size_t)entries * 6;
}

static void mac_table_set(const uint8_t *d, uint8_t (*tab)[6], uint32_t *count,
			  uint8_t *overflow)
{
	uint32_t entries = ld32(d);

	memset(tab, 0, NET_MAC_TABLE * 6);
	if (entries > NET_MAC_TABLE) {
		/* more than we filter on: accept every such address (as QEMU) */
		*count = 0;
		*overflow = 1;
		return;
	}
	memcpy(tab, d + 4, entries * 6);
	*count = entries;
	*overflow = 0;
}

static uint8_t ctrl_mac(struct net_state *st, uint64_t f, uint8_t cmd,
			const uint8_t *d, size_t n, unsigned int *chg)
{
	size_t a, b;

	switch (cmd) {
	case VIRTIO_NET_CTRL_MAC_TABLE_SET:
		if (!(f & F(VIRTIO_NET_F_CTRL_RX)))
			return VIRTIO_NET_ERR;
		a = mac_table_len(d, n);
		if (!a)
			return VIRTIO_NET_ERR;
		b = mac_table_len(d + a, n - a);
		if (!b || a + b != n)
			return VIRTIO_NET_ERR;
		mac_table_set(d, st->uni, &st->uni_count, &st->uni_overflow);
		mac_table_set(d + a, st->multi, &st->multi_count, &st->multi_overflow);
		return VIRTIO_NET_OK;
	case VIRTIO_NET_CTRL_MAC_ADDR_SET:
		if (!(f & F(VIRTIO_NET_F_CTRL_MAC_ADDR)) || n != 6)
			return VIRTIO_NET_ERR;
		memcpy(st->mac, d, 6);
		*chg |= NET_CHG_MAC;
		return VIRTIO_NET_OK;
	}
	return VIRTIO_NET_ERR;
}

static uint8_t ctrl_vlan(struct net_state *st, uint64_t f, uint8_t cmd,
			 const uint8_t *d, size_t n)
{
	uint16_t vid;

	if (!(f & F(VIRTIO_NET_F_CTRL_VLAN)) || n != 2)
		return VIRTIO_NET_ERR;
	vid = ld16(d);
	if (vid >= 4096)
		return VIRTIO_NET_ERR;
	if (cmd == VIRTIO_NET_CTRL_VLAN_ADD)
		st->vlans[vid / 8] |= 1u << (vid % 8);
	else if (cmd == VIRTIO_NET_CTRL_VLAN_DEL)
		st->vlans[vid / 8] &= ~(1u << (vid % 8));
	else
		return VIRTIO_NET_ERR;
	return VIRTIO_NET_OK;
}

static uint8_t ctrl_rss(struct net_state *st, const uint8_t *d, size_t n,
			unsigned int *chg)
{
	uint32_t types;
	uint16_t tlen, uncl, pairs, i;
	uint8_t klen;
	size_t off;

	if (n < 8)
		return VIRTIO_NET_ERR;
	types = ld32(d);
	tlen = ld16(d + 4) + 1;		/* mask + 1: wraps to 0 for 0xffff */
	uncl = ld16(d + 6);
	if (types & ~NET_RSS_HASH_TYPES || !tlen || tlen > NET_RSS_TABLE || (tlen & (tlen - 1)))
		return VIRTIO_NET_ERR;
	off = 8 + 2 * (size_t)tlen;
	if (n < off + 3)
		return VIRTIO_NET_ERR;
	pairs = ld16(d + off);
	klen = d[off + 2];
	/*
	 * Hashing with no key is refused as QEMU 10.0.2's model does ("No key
	 * provided"): it is the model a shadowing VMM migrates, and a command
	 * the device takes and the model refuses leaves the two apart.
	 */
	if (n != off + 3 + klen || klen > NET_RSS_KEY || (types && !klen) || !pairs ||
	    pairs > st->max_pairs || uncl >= st->max_pairs)
		return VIRTIO_NET_ERR;
	for (i = 0; i < tlen; i++)
		if (ld16(d + 8 + 2 * i) >= st->max_pairs)
			return VIRTIO_NET_ERR;
	st->rss_hash_types = types;
	st->rss_table_len = tlen;
	st->rss_unclassified = uncl;
	for (i = 0; i < tlen; i++)
		st->rss_table[i] = ld16(d + 8 + 2 * i);
	st->rss_key_len = klen;
	memset(st->rss_key, 0, sizeof(st->rss_key));
	memcpy(st->rss_key, d + off + 3, klen);
	st->rss_enabled = types != 0;
	if (st->pairs != pairs)
		*chg |= NET_CHG_PAIRS;
	st->pairs = pairs;
	*chg |= NET_CHG_RSS;
	return VIRTIO_NET_OK;
}

static uint8_t ctrl_mq(struct net_state *st, uint64_t f, uint8_t cmd,
		       const uint8_t *d, size_t n, unsigned int *chg)
{
	uint16_t pairs;

	switch (cmd) {
	case VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET:
		if (!(f & F(VIRTIO_NET_F_MQ)) || n != 2)
			return VIRTIO_NET_ERR;
		pairs = ld16(d);
		if (pairs < VIRTIO_NET_CTRL_MQ_VQ_PAIRS_MIN || pairs > st->max_pairs)
			return VIRTIO_NET_ERR;
		if (st->pairs != pairs)
			*chg |= NET_CHG_PAIRS;
		st->pairs = pairs;
		/* the spec: VQ_PAIRS_SET turns RSS off */
		if (st->rss_enabled)
			*chg |= NET_CHG_RSS;
		st->rss_enabled = 0;
		return VIRTIO_NET_OK;
	case VIRTIO_NET_CTRL_MQ_RSS_CONFIG:
		if (!(f & F(VIRTIO_NET_F_RSS)))
			return VIRTIO_NET_ERR;
		return ctrl_rss(st, d, n, chg);
	case VIRTIO_NET_CTRL_MQ_HASH_CONFIG:
		/* HASH_REPORT is never offered (it needs the 20-byte header) */
		return VIRTIO_NET_ERR;
	}
	return VIRTIO_NET_ERR;
}

static uint8_t ctrl_offloads(struct net_state *st, uint64_t f, uint8_t cmd,
			     const uint8_t *d, size_t n, unsigned int *chg)
{
	uint64_t off;

	if (!(f & F(VIRTIO_NET_F_CTRL_GUEST_OFFLOADS)) || cmd != VIRTIO_NET_CTRL_GUEST_OFFLOADS_SET ||
	    n != 8)
		return VIRTIO_NET_ERR;
	off = (uint64_t)ld32(d) | (uint64_t)ld32(d + 4) << 32;
	/* only offloads the driver negotiated may be turned on */
	if (off & ~(f & NET_GUEST_OFFLOADS))
		return VIRTIO_NET_ERR;
	st->guest_offloads = off;
	*chg |= NET_CHG_OFFLOADS;
	return VIRTIO_NET_OK;
}

uint8_t net_ctrl_handle(struct net_state *st, uint64_t features,
			const uint8_t *cmd, size_t len, unsigned int *changed)
{
	const uint8_t *d = cmd + 2;
	uint8_t ack = VIRTIO_NET_ERR;
	size_t n;

	*changed = 0;
	if (len < 2 || !(features & F(VIRTIO_NET_F_CTRL_VQ)))
		goto out;
	n = len - 2;
	switch (cmd[0]) {
	case VIRTIO_NET_CTRL_RX:
		ack = ctrl_rx(st, features, cmd[1], d, n);
		break;
	case VIRTIO_NET_CTRL_MAC:
		ack = ctrl_mac(st, features, cmd[1], d, n, changed);
		break;
	case VIRTIO_NET_CTRL_VLAN:
		ack = ctrl_vlan(st, features, cmd[1], d, n);
		break;
	case VIRTIO_NET_CTRL_ANNOUNCE:
		if ((features & F(VIRTIO_NET_F_GUEST_ANNOUNCE)) &&
		    cmd[1] == VIRTIO_NET_CTRL_ANNOUNCE_ACK && n == 0 &&
		    (st->status & VIRTIO_NET_S_ANNOUNCE)) {
			st->status &= ~VIRTIO_NET_S_ANNOUNCE;
			*changed |= NET_CHG_STATUS;
			ack = VIRTIO_NET_OK;
		}
		break;
	case VIRTIO_NET_CTRL_MQ:
		ack = ctrl_mq(st, features, cmd[1], d, n, changed);
		break;
	case VIRTIO_NET_CTRL_GUEST_OFFLOADS:
		ack = ctrl_offloads(st, features, cmd[1], d, n, changed);
		break;
	default:
		/* NOTF_COAL (6) and later classes: never offered */
		break;
	}
out:
	if (ack == VIRTIO_NET_OK)
		st->cvq_ok++;
	else
		st->cvq_err++;
	return ack;
}

/*
 * The state is shared memory, so a command resubmitted after a crash may
 * have taken effect already. Every command but ANNOUNCE_ACK sets a value:
 * running it again gives the same answer. An ANNOUNCE_ACK finds the
 * announcement it acknowledged cleared: that is its effect, so OK (QEMU's
 * ERR for an ACK with nothing pending stays for commands not resubmitted).
 * The crash may have come before the config space was rewritten, so the
 * status is reported changed: the daemon writes it again.
 */
uint8_t net_ctrl_replay(struct net_state *st, uint64_t features,
			const uint8_t *cmd, size_t len, unsigned int *changed)
{
	if (len == 2 && cmd[0] == VIRTIO_NET_CTRL_ANNOUNCE &&
	    cmd[1] == VIRTIO_NET_CTRL_ANNOUNCE_ACK &&
	    (features & F(VIRTIO_NET_F_CTRL_VQ)) && (features & F(VIRTIO_NET_F_GUEST_ANNOUNCE)) &&
	    !(st->status & VIRTIO_NET_S_ANNOUNCE)) {
		*changed = NET_CHG_STATUS;
		st->cvq_ok++;
		return VIRTIO_NET_OK;
	}
	return net_ctrl_handle(st, features, cmd, len, changed);
}

static bool mac_in(const uint8_t (*tab)[6], uint32_t count, const uint8_t *mac)
{
	uint32_t i;

	for (i = 0; i < count && i < NET_MAC_TABLE; i++)
		if (!memcmp(tab[i], mac, 6))
			return true;
	return false;
}

bool net_rx_accept(const struct net_state *st, uint64_t features,
		   const uint8_t *frame, size_t len)
{
	static const uint8_t bcast[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
	const uint8_t *dst = frame;

	if (len < 14)
		return false;
	if (st->promisc)
		return true;
	if ((features & F(VIRTIO_NET_F_CTRL_VLAN)) && frame[12] == 0x81 && frame[13] == 0x00) {
		uint16_t vid;

		if (len < 18)
			return false;
		vid = (frame[14] << 8 | frame[15]) & 0xfff;
		if (!(st->vlans[vid / 8] & (1u << (vid % 8))))
			return false;
	}
	if (dst[0] & 1) {
		if (!memcmp(dst, bcast, 6))
			return !st->nobcast;
		if (st->nomulti)
			return false;
		return st->allmulti || st->multi_overflow ||
		       mac_in((const uint8_t (*)[6])st->multi, st->multi_count, dst);
	}
	if (st->nouni)
		return false;
	return st->alluni || st->uni_overflow || !memcmp(dst, st->mac, 6) ||
	       mac_in((const uint8_t (*)[6])st->uni, st->uni_count, dst);
}

uint32_t net_toeplitz(const uint8_t *key, size_t keylen, const uint8_t *in, size_t len)
{
	uint32_t hash = 0, window;
	size_t i, kbit = 32;
	int b;

	if (keylen < 4)
		return 0;
	window = (uint32_t)key[0] << 24 | key[1] << 16 | key[2] << 8 | key[3];
	for (i = 0; i < len; i++) {
		for (b = 7; b >= 0; b--) {
			if (in[i] & (1u << b))
				hash ^= window;
			/* slide the 32-bit window one key bit to the left */
			window <<= 1;
			if (kbit < keylen * 8 && (key[kbit / 8] & (0x80u >> (kbit % 8))))
				window |= 1;
			kbit++;
		}
	}
	return hash;
}

int net_rss_queue(const struct net_state *st, const uint8_t *frame, size_t len)
{
	uint8_t in[36];
	size_t off = 14, n = 0;
	uint32_t t = st->rss_hash_types;
	uint16_t proto;
	int l4 = -1;
	bool tcp = false, udp = false;

	if (!st->rss_enabled || !st->rss_table_len)
		return -1;
	if (len < 14)
		goto unclassified;
	proto = frame[12] << 8 | frame[13];
	if (proto == 0x8100 && len >= 18) {
		proto = frame[16] << 8 | frame[17];
		off = 18;
	}
	if (proto == 0x0800 && len >= off + 20 && (frame[off] >> 4) == 4) {
		size_t ihl = (frame[off] & 15) * 4;
		bool frag = (frame[off + 6] & 0x3f) || frame[off + 7];

		if (ihl < 20)
			goto unclassified;
		memcpy(in, frame + off + 12, 8);
		n = 8;
		if (!frag && len >= off + ihl + 4) {
			tcp = frame[off + 9] == 6 && (t & VIRTIO_NET_RSS_HASH_TYPE_TCPv4);
			udp = frame[off + 9] == 17 && (t & VIRTIO_NET_RSS_HASH_TYPE_UDPv4);
			l4 = off + ihl;
		}
		if (!tcp && !udp && !(t & VIRTIO_NET_RSS_HASH_TYPE_IPv4))
			goto unclassified;
	} else if (proto == 0x86dd && len >= off + 40) {
		memcpy(in, frame + off + 8, 32);
		n = 32;
		if (len >= off + 44) {
			tcp = frame[off + 6] == 6 && (t & VIRTIO_NET_RSS_HASH_TYPE_TCPv6);
			udp = frame[off + 6] == 17 && (t & VIRTIO_NET_RSS_HASH_TYPE_UDPv6);
			l4 = off + 40;
		}
		if (!tcp && !udp && !(t & VIRTIO_NET_RSS_HASH_TYPE_IPv6))
			goto unclassified;
	} else {
		goto unclassified;
	}
	if ((tcp || udp) && l4 >= 0) {
		memcpy(in + n, frame + l4, 4);	/* source port, destination port */
		n += 4;
	}
	return st->rss_table[net_toeplitz(st->rss_key, st->rss_key_len, in, n) &
			     (st->rss_table_len - 1)];
unclassified:
	return st->rss_unclassified;
}
