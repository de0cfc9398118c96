// SPDX-License-Identifier: GPL-2.0
/*
 * vduse-net's control commands, RX filter and RSS steering, fed command
 * buffers directly: every class of vhost-vdpa-cvq.md §9 with its ACK and NACK
 * cases, the post-reset defaults of §9.5, and the data-path effects.
 */
#include <stdlib.h>
#include <string.h>
#include <linux/virtio_net.h>
#include "net.h"
#include "tap.h"

#define F(b)	(1ull << (b))
#define ALL	(F(VIRTIO_NET_F_CTRL_VQ) | F(VIRTIO_NET_F_CTRL_RX) | F(VIRTIO_NET_F_CTRL_VLAN) | \
		 F(VIRTIO_NET_F_CTRL_RX_EXTRA) | F(VIRTIO_NET_F_GUEST_ANNOUNCE) | \
		 F(VIRTIO_NET_F_MQ) | F(VIRTIO_NET_F_CTRL_MAC_ADDR) | \
		 F(VIRTIO_NET_F_CTRL_GUEST_OFFLOADS) | F(VIRTIO_NET_F_RSS) | \
		 F(VIRTIO_NET_F_GUEST_CSUM) | F(VIRTIO_NET_F_GUEST_TSO4) | \
		 F(VIRTIO_NET_F_GUEST_TSO6) | F(VIRTIO_F_VERSION_1))

static struct net_state st;
static const uint8_t cfg_mac[6] = { 0x52, 0x54, 0, 1, 2, 3 };

static void fresh(void)
{
	memset(&st, 0, sizeof(st));
	memcpy(st.cfg_mac, cfg_mac, 6);
	st.max_pairs = 4;
	net_state_reset(&st);
}

/* Send class/cmd with @n data bytes; returns the ack. */
static uint8_t cmd(uint64_t f, uint8_t cls, uint8_t c, const void *data, size_t n,
		   unsigned int *chg)
{
	uint8_t buf[4096];
	unsigned int dummy;

	buf[0] = cls;
	buf[1] = c;
	memcpy(buf + 2, data, n);
	return net_ctrl_handle(&st, f, buf, n + 2, chg ? chg : &dummy);
}

static uint8_t rx(uint64_t f, uint8_t c, uint8_t on)
{
	return cmd(f, VIRTIO_NET_CTRL_RX, c, &on, 1, NULL);
}

/* An Ethernet frame to @dst (optionally VLAN-tagged) for the RX filter. */
static size_t frame(uint8_t *b, const uint8_t *dst, int vid)
{
	size_t n = 0;

	memset(b, 0, 64);
	memcpy(b, dst, 6);
	memcpy(b + 6, "\x02\0\0\0\0\x01", 6);
	n = 12;
	if (vid >= 0) {
		b[n++] = 0x81; b[n++] = 0;
		b[n++] = vid >> 8; b[n++] = vid & 0xff;
	}
	b[n++] = 0x08; b[n++] = 0x00;
	return 60;
}

static bool accept(uint64_t f, const uint8_t *dst, int vid)
{
	uint8_t b[64];
	size_t n = frame(b, dst, vid);

	return net_rx_accept(&st, f, b, n);
}

static void test_defaults(void)
{
	fresh();
	st.promisc = 0; st.allmulti = 1; st.pairs = 3; st.uni_count = 2;
	st.vlans[1] = 1; st.rss_enabled = 1; st.mac[0] = 0x66;
	st.status = VIRTIO_NET_S_LINK_UP | VIRTIO_NET_S_ANNOUNCE;
	net_state_reset(&st);
	TAP_EQ(st.promisc, 1, "reset: promiscuous on (QEMU's model)");
	TAP_OK(!st.allmulti && !st.alluni && !st.nomulti && !st.nouni && !st.nobcast,
	       "reset: the other RX modes off", NULL);
	TAP_EQ(st.uni_count + st.multi_count + st.uni_overflow + st.multi_overflow, 0,
	       "reset: empty MAC table");
	TAP_EQ(st.vlans[1], 0, "reset: empty VLAN table");
	TAP_EQ(st.pairs, 1, "reset: one queue pair");
	TAP_EQ(st.rss_enabled, 0, "reset: RSS off");
	TAP_OK(!memcmp(st.mac, cfg_mac, 6), "reset: MAC back to the config space's", NULL);
	TAP_EQ(st.status, VIRTIO_NET_S_LINK_UP, "reset: ANNOUNCE cleared, link kept");
}

static void test_framing(void)
{
	unsigned int chg;

	fresh();
	TAP_EQ(net_ctrl_handle(&st, ALL, (const uint8_t *)"\0", 1, &chg), VIRTIO_NET_ERR,
	       "a 1-byte command is refused");
	TAP_EQ(rx(ALL & ~F(VIRTIO_NET_F_CTRL_VQ), VIRTIO_NET_CTRL_RX_PROMISC, 0),
	       VIRTIO_NET_ERR, "nothing is accepted without CTRL_VQ");
	TAP_EQ(cmd(ALL, 9, 0, NULL, 0, NULL), VIRTIO_NET_ERR, "unknown class refused");
	TAP_EQ(cmd(ALL, 6, 0, "\1\0\0\0\1\0\0\0", 8, NULL), VIRTIO_NET_ERR,
	       "NOTF_COAL (never offered) refused");
	TAP_OK(st.cvq_err == 4 && st.cvq_ok == 0, "refusals are counted", "ok %llu err %llu",
	       (unsigned long long)st.cvq_ok, (unsigned long long)st.cvq_err);
}

static void test_rx_modes(void)
{
	uint64_t norx = ALL & ~F(VIRTIO_NET_F_CTRL_RX);
	uint64_t noextra = ALL & ~F(VIRTIO_NET_F_CTRL_RX_EXTRA);
	uint8_t two[2] = { 1, 1 };

	fresh();
	TAP_EQ(rx(ALL, VIRTIO_NET_CTRL_RX_PROMISC, 0), VIRTIO_NET_OK, "RX PROMISC 0: OK");
	TAP_EQ(st.promisc, 0, "RX PROMISC 0: off");
	TAP_EQ(rx(ALL, VIRTIO_NET_CTRL_RX_ALLMULTI, 1), VIRTIO_NET_OK, "RX ALLMULTI 1: OK");
	TAP_EQ(st.allmulti, 1, "RX ALLMULTI: on");
	TAP_EQ(rx(norx, VIRTIO_NET_CTRL_RX_PROMISC, 1), VIRTIO_NET_ERR,
	       "RX PROMISC without CTRL_RX: ERR");
	TAP_EQ(st.promisc, 0, "a refused command changes nothing");
	TAP_EQ(rx(noextra, VIRTIO_NET_CTRL_RX_ALLUNI, 1), VIRTIO_NET_ERR,
	       "RX ALLUNI without CTRL_RX_EXTRA: ERR");
	TAP_EQ(rx(ALL, VIRTIO_NET_CTRL_RX_ALLUNI, 1), VIRTIO_NET_OK, "RX ALLUNI: OK");
	TAP_EQ(rx(ALL, VIRTIO_NET_CTRL_RX_NOMULTI, 1), VIRTIO_NET_OK, "RX NOMULTI: OK");
	TAP_EQ(rx(ALL, VIRTIO_NET_CTRL_RX_NOUNI, 1), VIRTIO_NET_OK, "RX NOUNI: OK");
	TAP_EQ(rx(ALL, VIRTIO_NET_CTRL_RX_NOBCAST, 7), VIRTIO_NET_OK, "RX NOBCAST 7: OK");
	TAP_OK(st.alluni && st.nomulti && st.nouni && st.nobcast == 1, "RX EXTRA modes set", NULL);
	TAP_EQ(rx(ALL, 6, 1), VIRTIO_NET_ERR, "RX command 6: ERR");
	TAP_EQ(cmd(ALL, VIRTIO_NET_CTRL_RX, 0, two, 2, NULL), VIRTIO_NET_ERR,
	       "RX with 2 data bytes: ERR");
	TAP_EQ(cmd(ALL, VIRTIO_NET_CTRL_RX, 0, NULL, 0, NULL), VIRTIO_NET_ERR,
	       "RX with no data: ERR");
}

static void test_mac(void)
{
	uint8_t b[2048], *p = b;
	uint32_t i;
	unsigned int chg;

	fresh();
	/* 2 unicast, 1 multicast */
	memcpy(p, "\2\0\0\0", 4); p += 4;
	memcpy(p, "\x02\0\0\0\0\xaa", 6); p += 6;
	memcpy(p, "\x02\0\0\0\0\xbb", 6); p += 6;
	memcpy(p, "\1\0\0\0", 4); p += 4;
	memcpy(p, "\x01\0\x5e\0\0\x01", 6); p += 6;
	TAP_EQ(cmd(ALL, VIRTIO_NET_CTRL_MAC, VIRTIO_NET_CTRL_MAC_TABLE_SET, b, p - b, NULL),
	       VIRTIO_NET_OK, "MAC TABLE_SET 2+1: OK");
	TAP_OK(st.uni_count == 2 && st.multi_count == 1 && st.uni[1][5] == 0xbb &&
	       st.multi[0][0] == 1, "MAC table stored", "uni %u multi %u", st.uni_count,
	       st.multi_count);
	TAP_EQ(cmd(ALL, VIRTIO_NET_CTRL_MAC, VIRTIO_NET_CTRL_MAC_TABLE_SET, b, p - b - 1, NULL),
	       VIRTIO_NET_ERR, "MAC TABLE_SET one byte short: ERR");
	TAP_EQ(st.uni_count, 2, "the short table changed nothing");
	b[p - b] = 0;
	TAP_EQ(cmd(ALL, VIRTIO_NET_CTRL_MAC, VIRTIO_NET_CTRL_MAC_TABLE_SET, b, p - b + 1, NULL),
	       VIRTIO_NET_ERR, "MAC TABLE_SET with trailing bytes: ERR");
	TAP_EQ(cmd(ALL, VIRTIO_NET_CTRL_MAC, VIRTIO_NET_CTRL_MAC_TABLE_SET, b, 16, NULL),
	       VIRTIO_NET_ERR, "MAC TABLE_SET without the multicast table: ERR");
	memcpy(b, "\xff\xff\xff\xff", 4);
	TAP_EQ(cmd(ALL, VIRTIO_NET_CTRL_MAC, VIRTIO_NET_CTRL_MAC_TABLE_SET, b, 30, NULL),
	       VIRTIO_NET_ERR, "MAC TABLE_SET with a huge entry count: ERR");
	TAP_EQ(cmd(ALL & ~F(VIRTIO_NET_F_CTRL_RX), VIRTIO_NET_CTRL_MAC,
		   VIRTIO_NET_CTRL_MAC_TABLE_SET, "\0\0\0\0\0\0\0\0", 8, NULL),
	       VIRTIO_NET_ERR, "MAC TABLE_SET without CTRL_RX: ERR");
	/* more entries than the table: overflow, every unicast accepted */
	p = b;
	i = NET_MAC_TABLE + 1;
	memcpy(p, &i, 4); p += 4;
	for (i = 0; i < NET_MAC_TABLE + 1; i++, p += 6)
		memcpy(p, "\x02\0\0\0\1\0", 6);
	memcpy(p, "\0\0\0\0", 4); p += 4;
	TAP_EQ(cmd(ALL, VIRTIO_NET_CTRL_MAC, VIRTIO_NET_CTRL_MAC_TABLE_SET, b, p - b, NULL),
	       VIRTIO_NET_OK, "MAC TABLE_SET over the table size: OK");
	TAP_OK(st.uni_overflow && !st.multi_overflow && !st.multi_count,
	       "unicast overflow recorded", NULL);

	TAP_EQ(cmd(ALL, VIRTIO_NET_CTRL_MAC, VIRTIO_NET_CTRL_MAC_ADDR_SET,
		   "\x02\x11\x22\x33\x44\x55", 6, &chg), VIRTIO_NET_OK, "MAC ADDR_SET: OK");
	TAP_OK(st.mac[5] == 0x55 && (chg & NET_CHG_MAC), "MAC ADDR_SET: new MAC, config update",
	       NULL);
	TAP_EQ(cmd(ALL, VIRTIO_NET_CTRL_MAC, VIRTIO_NET_CTRL_MAC_ADDR_SET, "\2\0\0\0\0", 5, NULL),
	       VIRTIO_NET_ERR, "MAC ADDR_SET with 5 bytes: ERR");
	TAP_EQ(cmd(ALL & ~F(VIRTIO_NET_F_CTRL_MAC_ADDR), VIRTIO_NET_CTRL_MAC,
		   VIRTIO_NET_CTRL_MAC_ADDR_SET, "\2\0\0\0\0\1", 6, NULL), VIRTIO_NET_ERR,
	       "MAC ADDR_SET without CTRL_MAC_ADDR: ERR");
	TAP_EQ(cmd(ALL, VIRTIO_NET_CTRL_MAC, 2, "\2\0\0\0\0\1", 6, NULL), VIRTIO_NET_ERR,
	       "MAC command 2: ERR");
	net_state_reset(&st);
	TAP_OK(!st.uni_overflow && !memcmp(st.mac, cfg_mac, 6),
	       "reset: MAC table and address back to defaults", NULL);
}

static void test_vlan(void)
{
	fresh();
	TAP_EQ(cmd(ALL, VIRTIO_NET_CTRL_VLAN, VIRTIO_NET_CTRL_VLAN_ADD, "\x64\0", 2, NULL),
	       VIRTIO_NET_OK, "VLAN ADD 100: OK");
	TAP_OK(st.vlans[100 / 8] & (1 << (100 % 8)), "VLAN 100 in the table", NULL);
	TAP_EQ(cmd(ALL, VIRTIO_NET_CTRL_VLAN, VIRTIO_NET_CTRL_VLAN_ADD, "\0\x10", 2, NULL),
	       VIRTIO_NET_ERR, "VLAN ADD 4096: ERR");
	TAP_EQ(cmd(ALL, VIRTIO_NET_CTRL_VLAN, VIRTIO_NET_CTRL_VLAN_ADD, "\x64", 1, NULL),
	       VIRTIO_NET_ERR, "VLAN ADD with 1 byte: ERR");
	TAP_EQ(cmd(ALL & ~F(VIRTIO_NET_F_CTRL_VLAN), VIRTIO_NET_CTRL_VLAN,
		   VIRTIO_NET_CTRL_VLAN_ADD, "\x65\0", 2, NULL), VIRTIO_NET_ERR,
	       "VLAN ADD without CTRL_VLAN: ERR");
	TAP_EQ(cmd(ALL, VIRTIO_NET_CTRL_VLAN, 2, "\x64\0", 2, NULL), VIRTIO_NET_ERR,
	       "VLAN command 2: ERR");
	TAP_EQ(cmd(ALL, VIRTIO_NET_CTRL_VLAN, VIRTIO_NET_CTRL_VLAN_DEL, "\x64\0", 2, NULL),
	       VIRTIO_NET_OK, "VLAN DEL 100: OK");
	TAP_EQ(st.vlans[100 / 8], 0, "VLAN 100 gone");
}

static void test_announce(void)
{
	unsigned int chg;

	fresh();
	st.status = VIRTIO_NET_S_LINK_UP;
	TAP_EQ(cmd(ALL, VIRTIO_NET_CTRL_ANNOUNCE, VIRTIO_NET_CTRL_ANNOUNCE_ACK, NULL, 0, NULL),
	       VIRTIO_NET_ERR, "ANNOUNCE ACK with nothing announced: ERR");
	st.status |= VIRTIO_NET_S_ANNOUNCE;
	TAP_EQ(cmd(ALL & ~F(VIRTIO_NET_F_GUEST_ANNOUNCE), VIRTIO_NET_CTRL_ANNOUNCE,
		   VIRTIO_NET_CTRL_ANNOUNCE_ACK, NULL, 0, NULL), VIRTIO_NET_ERR,
	       "ANNOUNCE ACK without GUEST_ANNOUNCE: ERR");
	TAP_EQ(cmd(ALL, VIRTIO_NET_CTRL_ANNOUNCE, VIRTIO_NET_CTRL_ANNOUNCE_ACK, "x", 1, NULL),
	       VIRTIO_NET_ERR, "ANNOUNCE ACK with data: ERR");
	TAP_EQ(cmd(ALL, VIRTIO_NET_CTRL_ANNOUNCE, VIRTIO_NET_CTRL_ANNOUNCE_ACK, NULL, 0, &chg),
	       VIRTIO_NET_OK, "ANNOUNCE ACK: OK");
	TAP_OK(st.status == VIRTIO_NET_S_LINK_UP && (chg & NET_CHG_STATUS),
	       "ANNOUNCE ACK clears S_ANNOUNCE only", "status %u", st.status);
}

/*
 * A command resubmitted from the in-flight log after a crash may have taken
 * effect already (the state file is shared memory): every command but
 * ANNOUNCE_ACK sets a value, so running it again gives the same answer;
 * ANNOUNCE_ACK would find ANNOUNCE clear, and must be answered OK again.
 */
static void test_replay(void)
{
	static const uint8_t ack[2] = { VIRTIO_NET_CTRL_ANNOUNCE, VIRTIO_NET_CTRL_ANNOUNCE_ACK };
	static const uint8_t promisc[3] = { VIRTIO_NET_CTRL_RX, VIRTIO_NET_CTRL_RX_PROMISC, 0 };
	unsigned int chg;

	fresh();
	st.status = VIRTIO_NET_S_LINK_UP | VIRTIO_NET_S_ANNOUNCE;
	TAP_EQ(net_ctrl_handle(&st, ALL, ack, 2, &chg), VIRTIO_NET_OK,
	       "replay: the ANNOUNCE ACK before the crash: OK");
	TAP_EQ(net_ctrl_replay(&st, ALL, ack, 2, &chg), VIRTIO_NET_OK,
	       "replay: the same ANNOUNCE ACK resubmitted after the restart: OK again");
	TAP_OK(st.status == VIRTIO_NET_S_LINK_UP && chg == NET_CHG_STATUS,
	       "replay: the resubmitted ACK keeps the status and has the config space's status rewritten",
	       "status %u chg %#x", st.status, chg);
	TAP_EQ(net_ctrl_handle(&st, ALL, ack, 2, &chg), VIRTIO_NET_ERR,
	       "replay: a new ANNOUNCE ACK with nothing announced is still ERR (QEMU's rule)");
	st.status |= VIRTIO_NET_S_ANNOUNCE;
	TAP_EQ(net_ctrl_replay(&st, ALL, ack, 2, &chg), VIRTIO_NET_OK,
	       "replay: a resubmitted ACK the crash came before takes effect");
	TAP_OK(st.status == VIRTIO_NET_S_LINK_UP && (chg & NET_CHG_STATUS),
	       "replay: ... and clears S_ANNOUNCE", "status %u", st.status);
	TAP_EQ(net_ctrl_replay(&st, ALL & ~F(VIRTIO_NET_F_GUEST_ANNOUNCE), ack, 2, &chg),
	       VIRTIO_NET_ERR, "replay: ANNOUNCE ACK without GUEST_ANNOUNCE: still ERR");
	TAP_EQ(net_ctrl_replay(&st, ALL, promisc, 3, &chg), VIRTIO_NET_OK,
	       "replay: other commands run as usual (RX PROMISC off)");
	TAP_EQ(st.promisc, 0, "replay: ... and take effect");
}

static void test_mq(void)
{
	unsigned int chg;

	fresh();
	TAP_EQ(cmd(ALL, VIRTIO_NET_CTRL_MQ, VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET, "\3\0", 2, &chg),
	       VIRTIO_NET_OK, "MQ VQ_PAIRS_SET 3 (of 4): OK");
	TAP_OK(st.pairs == 3 && (chg & NET_CHG_PAIRS), "3 pairs active", "pairs %u", st.pairs);
	TAP_EQ(cmd(ALL, VIRTIO_NET_CTRL_MQ, VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET, "\5\0", 2, NULL),
	       VIRTIO_NET_ERR, "MQ VQ_PAIRS_SET 5 (max 4): ERR");
	TAP_EQ(cmd(ALL, VIRTIO_NET_CTRL_MQ, VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET, "\0\0", 2, NULL),
	       VIRTIO_NET_ERR, "MQ VQ_PAIRS_SET 0: ERR");
	TAP_EQ(cmd(ALL & ~F(VIRTIO_NET_F_MQ), VIRTIO_NET_CTRL_MQ,
		   VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET, "\2\0", 2, NULL), VIRTIO_NET_ERR,
	       "MQ VQ_PAIRS_SET without MQ: ERR");
	TAP_EQ(st.pairs, 3, "refused pair counts changed nothing");
	TAP_EQ(cmd(ALL, VIRTIO_NET_CTRL_MQ, VIRTIO_NET_CTRL_MQ_HASH_CONFIG, "\0\0\0\0\0\0\0\0\0\0\0\0\0",
		   13, NULL), VIRTIO_NET_ERR, "MQ HASH_CONFIG (HASH_REPORT never offered): ERR");
	TAP_EQ(cmd(ALL, VIRTIO_NET_CTRL_MQ, 3, "\1\0", 2, NULL), VIRTIO_NET_ERR,
	       "MQ command 3: ERR");
}

static const uint8_t ms_key[40] = {
	0x6d, 0x5a, 0x56, 0xda, 0x25, 0x5b, 0x0e, 0xc2, 0x41, 0x67, 0x25, 0x3d, 0x43, 0xa3,
	0x8f, 0xb0, 0xd0, 0xca, 0x2b, 0xcb, 0xae, 0x7b, 0x30, 0xb4, 0x77, 0xcb, 0x2d, 0xa3,
	0x80, 0x30, 0xf2, 0x0c, 0x6a, 0x42, 0xb7, 0x3b, 0xbe, 0xac, 0x01, 0xfa,
};

/* An RSS_CONFIG payload: table of @tlen entries (entry i = i % 4), key above. */
static size_t rss_cfg(uint8_t *b, uint32_t types, uint16_t tlen, uint16_t uncl,
		      uint16_t max_tx, uint8_t klen)
{
	size_t n = 0;
	uint16_t i;

	memcpy(b, &types, 4); n += 4;
	i = tlen - 1;
	memcpy(b + n, &i, 2); n += 2;
	memcpy(b + n, &uncl, 2); n += 2;
	for (i = 0; i < tlen; i++, n += 2) {
		uint16_t e = i % 4;

		memcpy(b + n, &e, 2);
	}
	memcpy(b + n, &max_tx, 2); n += 2;
	b[n++] = klen;
	memcpy(b + n, ms_key, klen);
	return n + klen;
}

/* A TCP/IPv4 frame 66.9.149.187:2794 -> 161.142.100.80:1766. */
static size_t tcp4(uint8_t *b)
{
	static const uint8_t ip[] = {
		0x45, 0, 0, 40, 0, 0, 0x40, 0, 64, 6, 0, 0,
		66, 9, 149, 187, 161, 142, 100, 80,
		2794 >> 8, 2794 & 0xff, 1766 >> 8, 1766 & 0xff,
	};

	memset(b, 0, 80);
	memcpy(b, "\x02\0\0\0\0\2\x02\0\0\0\0\1\x08\x00", 14);
	memcpy(b + 14, ip, sizeof(ip));
	return 14 + 40;
}

static void test_rss(void)
{
	uint8_t b[512], f[80];
	size_t n, fl;
	unsigned int chg;
	uint32_t types = VIRTIO_NET_RSS_HASH_TYPE_IPv4 | VIRTIO_NET_RSS_HASH_TYPE_TCPv4;
	static const uint8_t v4[12] = { 66, 9, 149, 187, 161, 142, 100, 80,
					2794 >> 8, 2794 & 0xff, 1766 >> 8, 1766 & 0xff };

	/* the verification vectors of Microsoft's RSS documentation */
	TAP_EQ(net_toeplitz(ms_key, 40, v4, 8), 0x323e8fc2, "Toeplitz: IPv4 vector");
	TAP_EQ(net_toeplitz(ms_key, 40, v4, 12), 0x51ccc178, "Toeplitz: TCP/IPv4 vector");

	fresh();
	fl = tcp4(f);
	TAP_EQ(net_rss_queue(&st, f, fl), -1, "RSS off: no steering");
	n = rss_cfg(b, types, 8, 1, 4, 40);
	TAP_EQ(cmd(ALL & ~F(VIRTIO_NET_F_RSS), VIRTIO_NET_CTRL_MQ, VIRTIO_NET_CTRL_MQ_RSS_CONFIG,
		   b, n, NULL), VIRTIO_NET_ERR, "RSS_CONFIG without RSS: ERR");
	TAP_EQ(cmd(ALL, VIRTIO_NET_CTRL_MQ, VIRTIO_NET_CTRL_MQ_RSS_CONFIG, b, n, &chg),
	       VIRTIO_NET_OK, "RSS_CONFIG: OK");
	TAP_OK(st.rss_enabled && st.pairs == 4 && st.rss_table_len == 8 && (chg & NET_CHG_PAIRS),
	       "RSS on, 4 pairs, 8-entry table", "pairs %u len %u", st.pairs, st.rss_table_len);
	/* 0x51ccc178 & 7 = 0 -> table[0] = 0 */
	TAP_EQ(net_rss_queue(&st, f, fl), (0x51ccc178 & 7) % 4, "RSS: TCP/IPv4 steered by hash");
	f[14 + 9] = 17;	/* UDP: not a hashed type, falls back to the IPv4 hash */
	TAP_EQ(net_rss_queue(&st, f, fl), (0x323e8fc2 & 7) % 4, "RSS: UDP/IPv4 by the IPv4 hash");
	f[12] = 0x88;	/* not IP */
	TAP_EQ(net_rss_queue(&st, f, fl), 1, "RSS: unclassified frames to unclassified_queue");

	n = rss_cfg(b, types, 6, 0, 4, 40);
	TAP_EQ(cmd(ALL, VIRTIO_NET_CTRL_MQ, VIRTIO_NET_CTRL_MQ_RSS_CONFIG, b, n, NULL),
	       VIRTIO_NET_ERR, "RSS_CONFIG table of 6 (not a power of 2): ERR");
	n = rss_cfg(b, types, 8, 4, 4, 40);
	TAP_EQ(cmd(ALL, VIRTIO_NET_CTRL_MQ, VIRTIO_NET_CTRL_MQ_RSS_CONFIG, b, n, NULL),
	       VIRTIO_NET_ERR, "RSS_CONFIG unclassified queue 4 (of 4): ERR");
	n = rss_cfg(b, types, 8, 0, 5, 40);
	TAP_EQ(cmd(ALL, VIRTIO_NET_CTRL_MQ, VIRTIO_NET_CTRL_MQ_RSS_CONFIG, b, n, NULL),
	       VIRTIO_NET_ERR, "RSS_CONFIG max_tx_vq 5 (of 4): ERR");
	n = rss_cfg(b, types | (1u << 9), 8, 0, 4, 40);
	TAP_EQ(cmd(ALL, VIRTIO_NET_CTRL_MQ, VIRTIO_NET_CTRL_MQ_RSS_CONFIG, b, n, NULL),
	       VIRTIO_NET_ERR, "RSS_CONFIG unsupported hash type: ERR");
	n = rss_cfg(b, types, 8, 0, 4, 40);
	TAP_EQ(cmd(ALL, VIRTIO_NET_CTRL_MQ, VIRTIO_NET_CTRL_MQ_RSS_CONFIG, b, n - 1, NULL),
	       VIRTIO_NET_ERR, "RSS_CONFIG one key byte short: ERR");
	n = rss_cfg(b, types, 8, 0, 4, 40);
	b[8 + 2 * 3] = 9;
	TAP_EQ(cmd(ALL, VIRTIO_NET_CTRL_MQ, VIRTIO_NET_CTRL_MQ_RSS_CONFIG, b, n, NULL),
	       VIRTIO_NET_ERR, "RSS_CONFIG table entry 9 (of 4 pairs): ERR");
	n = rss_cfg(b, types, 8, 0, 4, 0);
	TAP_EQ(cmd(ALL, VIRTIO_NET_CTRL_MQ, VIRTIO_NET_CTRL_MQ_RSS_CONFIG, b, n, NULL),
	       VIRTIO_NET_ERR, "RSS_CONFIG hash types without a key: ERR (QEMU's model refuses it)");
	TAP_OK(st.rss_unclassified == 1, "refused RSS configs changed nothing", NULL);
	TAP_EQ(cmd(ALL, VIRTIO_NET_CTRL_MQ, VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET, "\2\0", 2, NULL),
	       VIRTIO_NET_OK, "VQ_PAIRS_SET after RSS: OK");
	TAP_EQ(st.rss_enabled, 0, "VQ_PAIRS_SET turns RSS off");
}

static void test_offloads(void)
{
	uint64_t off = F(VIRTIO_NET_F_GUEST_CSUM) | F(VIRTIO_NET_F_GUEST_TSO4);
	unsigned int chg;

	fresh();
	TAP_EQ(cmd(ALL, VIRTIO_NET_CTRL_GUEST_OFFLOADS, VIRTIO_NET_CTRL_GUEST_OFFLOADS_SET,
		   &off, 8, &chg), VIRTIO_NET_OK, "GUEST_OFFLOADS_SET CSUM|TSO4: OK");
	TAP_OK(st.guest_offloads == off && (chg & NET_CHG_OFFLOADS), "offloads applied", NULL);
	off = F(VIRTIO_NET_F_GUEST_UFO);
	TAP_EQ(cmd(ALL, VIRTIO_NET_CTRL_GUEST_OFFLOADS, VIRTIO_NET_CTRL_GUEST_OFFLOADS_SET,
		   &off, 8, NULL), VIRTIO_NET_ERR, "GUEST_OFFLOADS_SET of a non-negotiated UFO: ERR");
	off = F(VIRTIO_NET_F_MQ);
	TAP_EQ(cmd(ALL, VIRTIO_NET_CTRL_GUEST_OFFLOADS, VIRTIO_NET_CTRL_GUEST_OFFLOADS_SET,
		   &off, 8, NULL), VIRTIO_NET_ERR, "GUEST_OFFLOADS_SET of a non-offload bit: ERR");
	off = 0;
	TAP_EQ(cmd(ALL, VIRTIO_NET_CTRL_GUEST_OFFLOADS, VIRTIO_NET_CTRL_GUEST_OFFLOADS_SET,
		   &off, 4, NULL), VIRTIO_NET_ERR, "GUEST_OFFLOADS_SET with 4 bytes: ERR");
	TAP_EQ(cmd(ALL & ~F(VIRTIO_NET_F_CTRL_GUEST_OFFLOADS), VIRTIO_NET_CTRL_GUEST_OFFLOADS,
		   VIRTIO_NET_CTRL_GUEST_OFFLOADS_SET, &off, 8, NULL), VIRTIO_NET_ERR,
	       "GUEST_OFFLOADS_SET without CTRL_GUEST_OFFLOADS: ERR");
	TAP_EQ(st.guest_offloads, F(VIRTIO_NET_F_GUEST_CSUM) | F(VIRTIO_NET_F_GUEST_TSO4),
	       "refused offload changes changed nothing");
	TAP_EQ(cmd(ALL, VIRTIO_NET_CTRL_GUEST_OFFLOADS, VIRTIO_NET_CTRL_GUEST_OFFLOADS_SET,
		   &off, 8, NULL), VIRTIO_NET_OK, "GUEST_OFFLOADS_SET 0: OK");
}

static void test_filter(void)
{
	static const uint8_t me[6] = { 0x52, 0x54, 0, 1, 2, 3 };
	static const uint8_t other[6] = { 0x02, 0, 0, 0, 0, 0x99 };
	static const uint8_t listed[6] = { 0x02, 0, 0, 0, 0, 0xaa };
	static const uint8_t bc[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
	static const uint8_t mc[6] = { 0x01, 0, 0x5e, 0, 0, 1 };
	static const uint8_t mc2[6] = { 0x01, 0, 0x5e, 0, 0, 2 };
	uint8_t tab[26];

	fresh();
	TAP_OK(accept(ALL, other, -1) && accept(ALL, mc2, 7), "promiscuous: everything passes",
	       NULL);
	rx(ALL, VIRTIO_NET_CTRL_RX_PROMISC, 0);
	memcpy(tab, "\1\0\0\0", 4);
	memcpy(tab + 4, listed, 6);
	memcpy(tab + 10, "\1\0\0\0", 4);
	memcpy(tab + 14, mc, 6);
	cmd(ALL, VIRTIO_NET_CTRL_MAC, VIRTIO_NET_CTRL_MAC_TABLE_SET, tab, 20, NULL);
	TAP_OK(accept(ALL, me, -1), "filter: own MAC passes", NULL);
	TAP_OK(accept(ALL, listed, -1), "filter: MAC in the unicast table passes", NULL);
	TAP_OK(!accept(ALL, other, -1), "filter: other unicast dropped", NULL);
	TAP_OK(accept(ALL, bc, -1), "filter: broadcast passes", NULL);
	TAP_OK(accept(ALL, mc, -1), "filter: listed multicast passes", NULL);
	TAP_OK(!accept(ALL, mc2, -1), "filter: unlisted multicast dropped", NULL);
	rx(ALL, VIRTIO_NET_CTRL_RX_ALLMULTI, 1);
	TAP_OK(accept(ALL, mc2, -1), "filter: allmulti passes any multicast", NULL);
	rx(ALL, VIRTIO_NET_CTRL_RX_NOMULTI, 1);
	TAP_OK(!accept(ALL, mc, -1), "filter: nomulti drops multicast", NULL);
	rx(ALL, VIRTIO_NET_CTRL_RX_NOBCAST, 1);
	TAP_OK(!accept(ALL, bc, -1), "filter: nobcast drops broadcast", NULL);
	rx(ALL, VIRTIO_NET_CTRL_RX_ALLUNI, 1);
	TAP_OK(accept(ALL, other, -1), "filter: alluni passes any unicast", NULL);
	rx(ALL, VIRTIO_NET_CTRL_RX_NOUNI, 1);
	TAP_OK(!accept(ALL, me, -1), "filter: nouni drops unicast", NULL);
	rx(ALL, VIRTIO_NET_CTRL_RX_NOUNI, 0);
	/* VLANs: with CTRL_VLAN only tagged frames of listed VLANs pass */
	TAP_OK(!accept(ALL, me, 100), "filter: unlisted VLAN dropped", NULL);
	cmd(ALL, VIRTIO_NET_CTRL_VLAN, VIRTIO_NET_CTRL_VLAN_ADD, "\x64\0", 2, NULL);
	TAP_OK(accept(ALL, me, 100), "filter: listed VLAN passes", NULL);
	TAP_OK(accept(ALL & ~F(VIRTIO_NET_F_CTRL_VLAN), me, 101),
	       "filter: no VLAN filtering without CTRL_VLAN", NULL);
	TAP_OK(accept(ALL, me, -1), "filter: untagged frames pass", NULL);
	{
		uint8_t shortf[10] = { 0 };

		TAP_OK(!net_rx_accept(&st, ALL, shortf, sizeof(shortf)),
		       "filter: runt frame dropped", NULL);
	}
}

/* A state file read back on a restart: every bound the data path relies on. */
static void test_state_valid(void)
{
	static const struct {
		const char *what;
		size_t off, size;
		uint32_t val;
	} bad[] = {
#define BAD(field, v, what) { what, offsetof(struct net_state, field), \
			      sizeof(((struct net_state *)0)->field), v }
		BAD(magic, 0x12345678, "wrong magic"),
		BAD(version, NET_STATE_VERSION + 1, "another version"),
		BAD(max_pairs, 0, "max_pairs 0"),
		BAD(max_pairs, NET_MAX_PAIRS + 1, "max_pairs above the daemon's limit"),
		BAD(queue_size, 0, "queue size 0"),
		BAD(queue_size, 384, "queue size not a power of two"),
		BAD(pairs, 0, "no active pair"),
		BAD(pairs, 5, "more active pairs than max_pairs"),
		BAD(uni_count, NET_MAC_TABLE + 1, "unicast count above the table"),
		BAD(multi_count, 0xffffffff, "multicast count above the table"),
		BAD(rss_key_len, NET_RSS_KEY + 1, "RSS key longer than its array"),
		BAD(rss_table_len, 256, "RSS table longer than its array"),
		BAD(rss_table_len, 3, "RSS table length not a power of two"),
		BAD(rss_unclassified, 4, "RSS unclassified queue beyond max_pairs"),
		BAD(rss_table[1], 4, "RSS table entry beyond max_pairs"),
#undef BAD
	};
	struct net_state good;
	unsigned int i;

	fresh();
	st.magic = NET_STATE_MAGIC;
	st.version = NET_STATE_VERSION;
	st.queue_size = 256;
	TAP_OK(net_state_valid(&st), "state file: a fresh device's state is valid", NULL);
	TAP_EQ(cmd(ALL, VIRTIO_NET_CTRL_MQ, VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET, "\4\0", 2, NULL),
	       VIRTIO_NET_OK, "state file: 4 pairs");
	st.rss_table_len = 2;
	good = st;
	TAP_OK(net_state_valid(&st), "state file: 4 pairs and a 2-entry table are valid", NULL);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char name[128];

		st = good;
		if (bad[i].size == 1)
			*((uint8_t *)&st + bad[i].off) = bad[i].val;
		else if (bad[i].size == 2)
			memcpy((uint8_t *)&st + bad[i].off, &(uint16_t){ bad[i].val }, 2);
		else
			memcpy((uint8_t *)&st + bad[i].off, &bad[i].val, 4);
		snprintf(name, sizeof(name), "state file: %s refused", bad[i].what);
		TAP_OK(!net_state_valid(&st), name, NULL);
	}
	st = good;
	memset(st.tap, 'x', sizeof(st.tap));
	TAP_OK(!net_state_valid(&st), "state file: a TAP name without its NUL refused", NULL);
}

int main(void)
{
	test_defaults();
	test_framing();
	test_rx_modes();
	test_mac();
	test_vlan();
	test_announce();
	test_replay();
	test_mq();
	test_rss();
	test_offloads();
	test_filter();
	test_state_valid();
	return tap_done();
}
