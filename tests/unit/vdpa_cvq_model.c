// SPDX-License-Identifier: GPL-2.0
/*
 * Unit tests of libvdpacvq's pure part (tools/vdpa-cvq/libvdpacvq.c):
 * command encoding and text parsing, the state model, the restore plan in
 * QEMU's order, and the JSON writer/reader.
 */
#include <stdlib.h>
#include <linux/virtio_net.h>
#include "tap.h"
#include "libvdpacvq.h"

#define BIT(n) (1ull << (n))
#define ALLF (BIT(VIRTIO_NET_F_CTRL_VQ) | BIT(VIRTIO_NET_F_CTRL_RX) | BIT(VIRTIO_NET_F_CTRL_VLAN) | \
	      BIT(VIRTIO_NET_F_CTRL_RX_EXTRA) | BIT(VIRTIO_NET_F_MQ) | BIT(VIRTIO_NET_F_CTRL_MAC_ADDR) | \
	      BIT(VIRTIO_NET_F_CTRL_GUEST_OFFLOADS) | BIT(VIRTIO_NET_F_GUEST_CSUM) | \
	      BIT(VIRTIO_NET_F_GUEST_TSO4) | BIT(VIRTIO_NET_F_RSS) | BIT(VIRTIO_NET_F_HASH_REPORT) | \
	      BIT(VIRTIO_NET_F_MAC))

static const uint8_t mac0[6] = { 0x52, 0x54, 0, 0, 0, 1 };

static int bytes_eq(const struct vdpacvq_cmd *c, const uint8_t *want, uint32_t len)
{
	return c->len == len && !memcmp(c->buf, want, len);
}

static void test_encoding(void)
{
	struct vdpacvq_cmd c, p;
	const uint8_t uni[2][6] = { { 2, 0, 0, 0, 0, 1 }, { 2, 0, 0, 0, 0, 2 } };
	const uint8_t multi[1][6] = { { 1, 0, 0x5e, 0, 0, 1 } };
	char err[128];

	TAP_EQ(vdpacvq_enc_rx(&c, VIRTIO_NET_CTRL_RX_ALLMULTI, 1), 0, "enc: RX ALLMULTI");
	TAP_OK(bytes_eq(&c, (const uint8_t[]){ 0, 1, 1 }, 3), "enc: RX ALLMULTI 1 is 00 01 01", NULL);
	TAP_EQ(vdpacvq_enc_rx(&c, 6, 1), -EINVAL, "enc: RX command 6 does not exist");
	TAP_EQ(vdpacvq_enc_mac_addr(&c, mac0), 0, "enc: MAC ADDR_SET");
	TAP_OK(bytes_eq(&c, (const uint8_t[]){ 1, 1, 0x52, 0x54, 0, 0, 0, 1 }, 8), "enc: MAC ADDR_SET bytes", NULL);
	TAP_EQ(vdpacvq_enc_vlan(&c, 1, 0x123), 0, "enc: VLAN ADD");
	TAP_OK(bytes_eq(&c, (const uint8_t[]){ 2, 0, 0x23, 0x01 }, 4), "enc: VLAN ADD 0x123 is little-endian", NULL);
	TAP_EQ(vdpacvq_enc_vlan(&c, 0, 4096), -EINVAL, "enc: VLAN id 4096 refused");
	TAP_EQ(vdpacvq_enc_mq_pairs(&c, 0), -EINVAL, "enc: 0 queue pairs refused");
	TAP_EQ(vdpacvq_enc_mq_pairs(&c, 0x102), 0, "enc: MQ VQ_PAIRS_SET");
	TAP_OK(bytes_eq(&c, (const uint8_t[]){ 4, 0, 2, 1 }, 4), "enc: MQ VQ_PAIRS_SET 0x102 bytes", NULL);
	TAP_EQ(vdpacvq_enc_offloads(&c, 0x182), 0, "enc: GUEST_OFFLOADS_SET");
	TAP_OK(bytes_eq(&c, (const uint8_t[]){ 5, 0, 0x82, 1, 0, 0, 0, 0, 0, 0 }, 10), "enc: offloads le64", NULL);
	TAP_EQ(vdpacvq_enc_mac_table(&c, 2, uni, 1, multi), 0, "enc: MAC TABLE_SET");
	TAP_OK(bytes_eq(&c, (const uint8_t[]){ 1, 0, 2, 0, 0, 0, 2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2,
					       1, 0, 0, 0, 1, 0, 0x5e, 0, 0, 1 }, 28),
	       "enc: MAC TABLE_SET is le32 count + entries, twice", NULL);

	/* text syntax gives the same bytes */
	TAP_EQ(vdpacvq_cmd_parse(&p, "mac-table=02:00:00:00:00:01,02:00:00:00:00:02/01:00:5e:00:00:01", err, sizeof(err)),
	       0, "parse: mac-table");
	TAP_OK(p.len == c.len && !memcmp(p.buf, c.buf, c.len), "parse: mac-table encodes as enc_mac_table", NULL);
	TAP_EQ(vdpacvq_cmd_parse(&p, "mac-table=/", err, sizeof(err)), 0, "parse: empty mac-table");
	TAP_OK(bytes_eq(&p, (const uint8_t[]){ 1, 0, 0, 0, 0, 0, 0, 0, 0, 0 }, 10), "parse: empty tables", NULL);
	TAP_EQ(vdpacvq_cmd_parse(&p, "vlan-del=4095", err, sizeof(err)), 0, "parse: vlan-del=4095");
	TAP_OK(bytes_eq(&p, (const uint8_t[]){ 2, 1, 0xff, 0x0f }, 4), "parse: vlan-del bytes", NULL);
	TAP_EQ(vdpacvq_cmd_parse(&p, "nobcast=1", err, sizeof(err)), 0, "parse: nobcast=1");
	TAP_OK(bytes_eq(&p, (const uint8_t[]){ 0, 5, 1 }, 3), "parse: nobcast bytes", NULL);
	TAP_EQ(vdpacvq_cmd_parse(&p, "rss=7:0102:0,1,1,0", err, sizeof(err)), 0, "parse: rss");
	TAP_OK(bytes_eq(&p, (const uint8_t[]){ 4, 1, 7, 0, 0, 0, 3, 0, 0, 0, 0, 0, 1, 0, 1, 0, 0, 0,
					       2, 0, 2, 1, 2 }, 23),
	       "parse: rss encodes hash types, mask, table, max_tx_vq, key", "len %u", p.len);
	TAP_EQ(vdpacvq_cmd_parse(&p, "hash=3:aabb", err, sizeof(err)), 0, "parse: hash");
	TAP_OK(bytes_eq(&p, (const uint8_t[]){ 4, 2, 3, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2, 0xaa, 0xbb }, 17),
	       "parse: hash encodes HASH_CONFIG", NULL);
	TAP_EQ(vdpacvq_cmd_parse(&p, "rss=7:01:0,1,1", err, sizeof(err)), -EINVAL,
	       "parse: rss table of 3 entries (not a power of two) refused");
	TAP_EQ(vdpacvq_cmd_parse(&p, "vlan-add=4096", err, sizeof(err)), -EINVAL, "parse: vlan 4096 refused");
	TAP_EQ(vdpacvq_cmd_parse(&p, "mac=52:54:00:00:00", err, sizeof(err)), -EINVAL, "parse: short MAC refused");
	TAP_EQ(vdpacvq_cmd_parse(&p, "mac=52:54:00:00:00:01x", err, sizeof(err)), -EINVAL, "parse: trailing junk refused");
	TAP_EQ(vdpacvq_cmd_parse(&p, "promisc=2", err, sizeof(err)), -EINVAL, "parse: promisc=2 refused");
	TAP_EQ(vdpacvq_cmd_parse(&p, "mq=0", err, sizeof(err)), -EINVAL, "parse: mq=0 refused");
	/* strict numbers and hex bytes */
	TAP_EQ(vdpacvq_cmd_parse(&p, "mq=010", err, sizeof(err)), -EINVAL, "parse: mq=010 (octal) refused");
	TAP_EQ(vdpacvq_cmd_parse(&p, "vlan-add=010", err, sizeof(err)), -EINVAL, "parse: vlan-add=010 (octal) refused");
	TAP_EQ(vdpacvq_cmd_parse(&p, "vlan-add=0", err, sizeof(err)), 0, "parse: vlan-add=0 is decimal 0");
	TAP_EQ(vdpacvq_cmd_parse(&p, "vlan-add=0x10", err, sizeof(err)), 0, "parse: vlan-add=0x10");
	TAP_OK(bytes_eq(&p, (const uint8_t[]){ 2, 0, 0x10, 0 }, 4), "parse: 0x10 is 16", NULL);
	TAP_EQ(vdpacvq_cmd_parse(&p, "vlan-add=0x", err, sizeof(err)), -EINVAL, "parse: 0x without digits refused");
	TAP_EQ(vdpacvq_cmd_parse(&p, "vlan-add=0x0x1", err, sizeof(err)), -EINVAL, "parse: 0x0x1 refused");
	TAP_EQ(vdpacvq_cmd_parse(&p, "offloads=0x-1", err, sizeof(err)), -EINVAL, "parse: 0x-1 refused");
	TAP_EQ(vdpacvq_cmd_parse(&p, "offloads=18446744073709551616", err, sizeof(err)), -EINVAL,
	       "parse: 2^64 refused");
	TAP_EQ(vdpacvq_cmd_parse(&p, "offloads=0xffffffffffffffff", err, sizeof(err)), 0, "parse: 0xffffffffffffffff");
	TAP_EQ(vdpacvq_cmd_parse(&p, "mac=-1:02:03:04:05:06", err, sizeof(err)), -EINVAL, "parse: MAC byte -1 refused");
	TAP_EQ(vdpacvq_cmd_parse(&p, "mac=+1:02:03:04:05:06", err, sizeof(err)), -EINVAL, "parse: MAC byte +1 refused");
	TAP_EQ(vdpacvq_cmd_parse(&p, "mac= 1:02:03:04:05:06", err, sizeof(err)), -EINVAL, "parse: MAC byte ' 1' refused");
	TAP_EQ(vdpacvq_cmd_parse(&p, "mac=1:02:03:04:05:06:", err, sizeof(err)), -EINVAL, "parse: one-digit MAC byte refused");
	TAP_EQ(vdpacvq_cmd_parse(&p, "mac=0A:0b:0C:0d:0E:ff", err, sizeof(err)), 0, "parse: MAC hex in both cases");
	TAP_EQ(vdpacvq_cmd_parse(&p, "hash=3:-1bb", err, sizeof(err)), -EINVAL, "parse: hash key byte -1 refused");
	TAP_EQ(vdpacvq_cmd_parse(&p, "rss=7: 1bb:0,1", err, sizeof(err)), -EINVAL, "parse: rss key byte ' 1' refused");
	TAP_EQ(vdpacvq_cmd_parse(&p, "rss=7:aab:0,1", err, sizeof(err)), -EINVAL, "parse: odd-length key refused");
	TAP_EQ(vdpacvq_cmd_parse(&p, "bogus=1", err, sizeof(err)), -EINVAL, "parse: unknown command refused");
	TAP_OK(strstr(err, "bogus") != NULL, "parse: the error names the command", "err '%s'", err);
}

static void test_model(void)
{
	struct vdpacvq_state s, t;
	struct vdpacvq_cmd c;
	char err[128];

	vdpacvq_state_init(&s, ALLF, mac0, 4);
	TAP_OK(s.promisc == 1 && !s.allmulti && s.pairs == 1 && s.max_pairs == 4 && !s.n_uni &&
	       s.offloads == (BIT(VIRTIO_NET_F_GUEST_CSUM) | BIT(VIRTIO_NET_F_GUEST_TSO4)) &&
	       !memcmp(s.mac, mac0, 6), "model: reset defaults (promisc on, 1 pair, negotiated offloads on)", NULL);
	vdpacvq_state_init(&t, ALLF & ~BIT(VIRTIO_NET_F_MQ) & ~BIT(VIRTIO_NET_F_RSS), mac0, 4);
	TAP_EQ(t.max_pairs, 1, "model: max_pairs is 1 without MQ/RSS");
	TAP_EQ(vdpacvq_cvq_index(ALLF, 4), 8, "cvq index: 2 * max pairs with MQ");
	TAP_EQ(vdpacvq_cvq_index(BIT(VIRTIO_NET_F_RSS), 3), 6, "cvq index: 2 * max pairs with RSS alone");
	TAP_EQ(vdpacvq_cvq_index(BIT(VIRTIO_NET_F_CTRL_VQ), 4), 2, "cvq index: 2 without MQ/RSS");

	vdpacvq_cmd_parse(&c, "mq=3", err, sizeof(err));
	TAP_EQ(vdpacvq_model_apply(&s, c.buf, c.len), 0, "model: mq=3 of 4");
	TAP_EQ(s.pairs, 3, "model: 3 pairs");
	vdpacvq_cmd_parse(&c, "mq=5", err, sizeof(err));
	t = s;
	TAP_EQ(vdpacvq_model_apply(&s, c.buf, c.len), -EINVAL, "model: mq=5 beyond max_virtqueue_pairs refused");
	TAP_OK(vdpacvq_state_equal(&s, &t), "model: unchanged after a refused command", NULL);
	vdpacvq_cmd_parse(&c, "vlan-add=100", err, sizeof(err));
	TAP_EQ(vdpacvq_model_apply(&s, c.buf, c.len), 0, "model: vlan-add=100");
	TAP_OK(s.vlans[100 / 8] & (1 << (100 % 8)), "model: vlan 100 set", NULL);
	vdpacvq_cmd_parse(&c, "vlan-del=100", err, sizeof(err));
	TAP_EQ(vdpacvq_model_apply(&s, c.buf, c.len), 0, "model: vlan-del=100");
	TAP_OK(!(s.vlans[100 / 8] & (1 << (100 % 8))), "model: vlan 100 cleared", NULL);
	TAP_EQ(vdpacvq_model_apply(&s, (const uint8_t[]){ 2, 0, 0x00, 0x10 }, 4), -EINVAL, "model: VLAN 4096 refused");
	TAP_EQ(vdpacvq_model_apply(&s, (const uint8_t[]){ 2, 0, 1 }, 3), -EINVAL, "model: short VLAN payload refused");
	TAP_EQ(vdpacvq_model_apply(&s, (const uint8_t[]){ 1, 0, 5, 0, 0, 0, 1, 2, 3 }, 9), -EINVAL,
	       "model: MAC table claiming 5 entries in 3 bytes refused");
	TAP_EQ(vdpacvq_model_apply(&s, (const uint8_t[]){ 1, 0, 0xff, 0xff, 0xff, 0xff }, 6), -EINVAL,
	       "model: MAC table with a huge count (overflow check) refused");
	TAP_EQ(vdpacvq_model_apply(&s, (const uint8_t[]){ 9, 0 }, 2), -EINVAL, "model: unknown class refused");
	TAP_EQ(vdpacvq_model_apply(&s, (const uint8_t[]){ 0 }, 1), -EINVAL, "model: one byte refused");
	vdpacvq_cmd_parse(&c, "offloads=0x80", err, sizeof(err));
	TAP_EQ(vdpacvq_model_apply(&s, c.buf, c.len), 0, "model: offloads = TSO4 only");
	vdpacvq_cmd_parse(&c, "offloads=0x100", err, sizeof(err));
	TAP_EQ(vdpacvq_model_apply(&s, c.buf, c.len), -EINVAL, "model: offload TSO6 not negotiated refused");
	vdpacvq_cmd_parse(&c, "rss=7:0102:0,1,2,3", err, sizeof(err));
	TAP_EQ(vdpacvq_model_apply(&s, c.buf, c.len), 0, "model: RSS over 4 queues");
	TAP_OK(s.rss.enabled && s.rss.redirect && s.rss.table_len == 4 && s.pairs == 4 && s.rss.key_len == 2,
	       "model: RSS enabled, table 4, pairs = max_tx_vq", "pairs %u", s.pairs);
	vdpacvq_cmd_parse(&c, "rss=7:01:0,8", err, sizeof(err));
	TAP_EQ(vdpacvq_model_apply(&s, c.buf, c.len), -EINVAL, "model: RSS steering to queue 8 of 4 pairs refused");
	/* table and unclassified_queue name queue pairs, not virtqueues */
	vdpacvq_cmd_parse(&c, "rss=7:01:0,1", err, sizeof(err));
	/* class, command, hash types, mask, unclassified_queue, then the table */
	c.buf[12] = 4;
	TAP_EQ(vdpacvq_model_apply(&s, c.buf, c.len), -EINVAL, "model: RSS steering to pair 4 of 4 refused");
	c.buf[12] = 1;
	c.buf[8] = 4;
	TAP_EQ(vdpacvq_model_apply(&s, c.buf, c.len), -EINVAL, "model: RSS unclassified queue pair 4 of 4 refused");
	c.buf[8] = 3;
	TAP_EQ(vdpacvq_model_apply(&s, c.buf, c.len), 0, "model: RSS unclassified queue pair 3 of 4");
	TAP_EQ(vdpacvq_model_apply(&s, (const uint8_t[]){ 4, 1, 7, 0, 0, 0, 0, 0, 0, 0, 0, 0, 4, 0, 0 }, 15),
	       -EINVAL, "model: RSS hash types without a key refused (as QEMU)");
	vdpacvq_cmd_parse(&c, "mq=2", err, sizeof(err));
	TAP_EQ(vdpacvq_model_apply(&s, c.buf, c.len), 0, "model: mq=2 after RSS");
	TAP_OK(!s.rss.enabled && s.pairs == 2, "model: VQ_PAIRS_SET turns RSS off (as QEMU)", NULL);
	TAP_EQ(vdpacvq_model_apply(&s, (const uint8_t[]){ 4, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 4, 0, 0 }, 15),
	       0, "model: RSS off (no hash types, no key)");
	TAP_OK(!s.rss.enabled && s.pairs == 4, "model: RSS off, 4 pairs", NULL);

	vdpacvq_state_init(&s, BIT(VIRTIO_NET_F_CTRL_VQ), mac0, 1);
	vdpacvq_cmd_parse(&c, "promisc=0", err, sizeof(err));
	TAP_EQ(vdpacvq_model_apply(&s, c.buf, c.len), -EOPNOTSUPP, "model: RX without CTRL_RX: not negotiated");
	vdpacvq_cmd_parse(&c, "mac=02:00:00:00:00:09", err, sizeof(err));
	TAP_EQ(vdpacvq_model_apply(&s, c.buf, c.len), -EOPNOTSUPP, "model: MAC without CTRL_MAC_ADDR: not negotiated");
	vdpacvq_cmd_parse(&c, "announce", err, sizeof(err));
	TAP_EQ(vdpacvq_model_apply(&s, c.buf, c.len), -EOPNOTSUPP, "model: announce without GUEST_ANNOUNCE");
}

/* A state with everything away from the defaults. */
static void busy_state(struct vdpacvq_state *s)
{
	static const char *const cmds[] = {
		"mac=02:11:22:33:44:55", "mac-table=02:00:00:00:00:01/01:00:5e:00:00:01,01:00:5e:00:00:02",
		"mq=2", "rss=5:00112233:0,1", "offloads=0x2", "promisc=0", "allmulti=1", "alluni=1",
		"nomulti=1", "nouni=1", "nobcast=1", "vlan-add=4095", "vlan-add=1", "vlan-add=200",
	};
	struct vdpacvq_cmd c;
	char err[128];

	vdpacvq_state_init(s, ALLF, mac0, 4);
	for (unsigned int i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		if (vdpacvq_cmd_parse(&c, cmds[i], err, sizeof(err)) || vdpacvq_model_apply(s, c.buf, c.len))
			TAP_OK(0, "busy state", "command %s", cmds[i]);
	s->nvqs = 8;
	for (int i = 0; i < 8; i++)
		s->ring_pos[i] = 100 + i;
}

static void test_plan(void)
{
	struct vdpacvq_cmd plan[64];
	struct vdpacvq_state s, t;
	/* QEMU's order: MAC, table, MQ, RSS, offloads, RX, RX extra, VLANs */
	static const uint8_t order[][2] = { { 1, 1 }, { 1, 0 }, { 4, 0 }, { 4, 1 }, { 5, 0 }, { 0, 0 }, { 0, 1 },
					    { 0, 2 }, { 0, 3 }, { 0, 4 }, { 0, 5 }, { 2, 0 }, { 2, 0 }, { 2, 0 } };
	int n, i, ok = 1;

	vdpacvq_state_init(&s, ALLF, mac0, 4);
	n = vdpacvq_restore_plan(&s, plan, 64);
	TAP_EQ(n, 2, "plan: defaults need only the MAC and the pair count");
	TAP_OK(n == 2 && plan[0].buf[0] == 1 && plan[0].buf[1] == 1 && plan[1].buf[0] == 4 && plan[1].buf[1] == 0,
	       "plan: MAC ADDR_SET then MQ VQ_PAIRS_SET", NULL);
	vdpacvq_state_init(&s, BIT(VIRTIO_NET_F_CTRL_VQ) | BIT(VIRTIO_NET_F_CTRL_RX), mac0, 1);
	TAP_EQ(vdpacvq_restore_plan(&s, plan, 64), 0, "plan: nothing for a default state without MAC_ADDR/MQ");

	busy_state(&s);
	n = vdpacvq_restore_plan(&s, plan, 64);
	TAP_EQ(n, 14, "plan: 14 commands for the busy state");
	for (i = 0; i < n && i < 14; i++)
		ok &= plan[i].buf[0] == order[i][0] && plan[i].buf[1] == order[i][1];
	TAP_OK(ok, "plan: QEMU's order (MAC, table, MQ, RSS, offloads, RX, RX extra, VLANs)", NULL);
	TAP_OK(n == 14 && plan[11].buf[2] == 1 && plan[12].buf[2] == 200 && plan[13].buf[2] == 0xff &&
	       plan[13].buf[3] == 0x0f, "plan: VLANs ascending", NULL);
	TAP_EQ(vdpacvq_restore_plan(&s, plan, 13), -ENOSPC, "plan: -ENOSPC when it does not fit");

	/* replaying the plan on a reset device gives the same state */
	vdpacvq_state_init(&t, ALLF, mac0, 4);
	for (i = 0; i < n; i++)
		if (vdpacvq_model_apply(&t, plan[i].buf, plan[i].len))
			TAP_OK(0, "plan: replay", "command %d refused", i);
	t.nvqs = s.nvqs;
	memcpy(t.ring_pos, s.ring_pos, sizeof(t.ring_pos));
	/* the 4-byte RSS key comes back as QEMU sends it: 40 bytes, zero-padded */
	TAP_OK(t.rss.key_len == 40 && !memcmp(t.rss.key, s.rss.key, 4), "plan: the RSS key is sent as 40 bytes",
	       NULL);
	t.rss.key_len = s.rss.key_len;
	TAP_OK(vdpacvq_state_equal(&s, &t), "plan: replayed on the reset model, the states are equal but the key",
	       NULL);

	/* every VLAN */
	{
		struct vdpacvq_cmd *big = calloc(4200, sizeof(*big));

		vdpacvq_state_init(&s, ALLF, mac0, 4);
		memset(s.vlans, 0xff, sizeof(s.vlans));
		TAP_EQ(vdpacvq_restore_plan(&s, big, 4200), 2 + 4096, "plan: 4096 VLANs, one command each");
		free(big);
	}
}

static void test_json(void)
{
	static char buf[1 << 17];
	struct vdpacvq_state s, t;
	char err[200], *bad;
	int n;

	busy_state(&s);
	n = vdpacvq_state_to_json(&s, buf, sizeof(buf));
	TAP_OK(n > 0, "json: written", "%d", n);
	TAP_OK(strstr(buf, "\"mac\": \"02:11:22:33:44:55\"") && strstr(buf, "\"vlans\": [1, 200, 4095]") &&
	       strstr(buf, "\"pairs\": 2") && strstr(buf, "\"promisc\": false"), "json: fields as documented", "%s", buf);
	memset(&t, 0x5a, sizeof(t));
	TAP_EQ(vdpacvq_state_from_json(&t, buf, err, sizeof(err)), 0, "json: read back");
	TAP_OK(vdpacvq_state_equal(&s, &t), "json: round trip gives the same state", "%s", err);
	TAP_EQ(vdpacvq_state_to_json(&s, buf, 100), -ENOSPC, "json: -ENOSPC for a short buffer");

	n = vdpacvq_state_to_json(&s, buf, sizeof(buf));
	bad = malloc(n + 64);
#define MUTATE(from, to, name) do { \
		char *p_ = strstr(buf, from); \
		if (!p_) { TAP_OK(0, name, "pattern %s", from); break; } \
		snprintf(bad, n + 64, "%.*s%s%s", (int)(p_ - buf), buf, to, p_ + strlen(from)); \
		memset(&t, 0, sizeof(t)); \
		err[0] = 0; \
		TAP_EQ(vdpacvq_state_from_json(&t, bad, err, sizeof(err)), -EINVAL, name); \
	} while (0)
	MUTATE("\"version\": 1", "\"version\": 2", "json: version 2 refused");
	MUTATE("\"pairs\": 2", "\"pairs\": 5", "json: pairs above max_pairs refused");
	MUTATE("\"pairs\": 2", "\"pairs\": 2, \"extra\": 1", "json: unknown member refused");
	TAP_OK(strstr(err, "extra") != NULL, "json: the error names the unknown member", "err '%s'", err);
	MUTATE("4095]", "4096]", "json: VLAN 4096 refused");
	MUTATE("\"mac\": \"02:11:22:33:44:55\"", "\"mac\": \"02:11:22:33:44\"", "json: short MAC refused");
	MUTATE("\"mac\": \"02", "\"mac\": \"\\u0030", "json: escapes refused");
	MUTATE("\"promisc\": false", "\"promisc\": 0", "json: a number for a boolean refused");
	MUTATE("{\"vq\": 1,", "{\"vq\": 2,", "json: ring entries out of order refused");
	MUTATE("\"key\": \"00112233\"", "\"key\": \"0011223\"", "json: odd-length key refused");
	MUTATE("\"key\": \"00112233\"", "\"key\": \"0x112233\"", "json: non-hex key refused");
	MUTATE("\"hash_types\": 5", "\"hash_types\": 5.5", "json: fractions refused");
	MUTATE("\n}\n", "\n}\n}", "json: trailing characters refused");
	MUTATE("\"pairs\": 2", "\"pairs\": 2, \"pairs\": 1", "json: a duplicate member refused");
	TAP_OK(strstr(err, "duplicate") && strstr(err, "pairs"), "json: the error names the duplicate member",
	       "err '%s'", err);
	MUTATE("\"promisc\": false", "\"promisc\": false, \"promisc\": true", "json: a duplicate rx member refused");
	TAP_OK(strstr(err, "promisc") != NULL, "json: the error names promisc", "err '%s'", err);
	MUTATE("\"mac\": \"02:11:22:33:44:55\"", "\"mac\": \"-1:+2: 3:44:55:66\"", "json: MAC bytes with signs refused");
	MUTATE("\"key\": \"00112233\"", "\"key\": \"00-12233\"", "json: key byte with a sign refused");
	MUTATE("\"features\": \"0x", "\"features\": \"1x", "json: features not 0x... refused");
	/* well-formed, but no command sequence reaches it: the restore could not */
	MUTATE("\"offloads\": \"0x0000000000000002\"", "\"offloads\": \"0x0000000000000004\"",
	       "json: an offload that was not negotiated refused");
	TAP_OK(strstr(err, "offloads") != NULL, "json: the error names offloads", "err '%s'", err);
	MUTATE("\"key\": \"00112233\"", "\"key\": \"\"", "json: RSS enabled without a key refused");
	MUTATE("\"max_tx_vq\": 2", "\"max_tx_vq\": 3", "json: RSS with pairs != max_tx_vq refused");
	MUTATE("\"indirection_table\": [0, 1]", "\"indirection_table\": [0, 4]",
	       "json: RSS steering beyond max_pairs refused");
	MUTATE("\"indirection_table\": [0, 1]", "\"indirection_table\": [0, 1, 1]",
	       "json: RSS table of 3 (not a power of two) refused");
	MUTATE("\"unicast_overflow\": false", "\"unicast_overflow\": true",
	       "json: unicast entries and a unicast overflow refused");
	free(bad);
	TAP_EQ(vdpacvq_state_from_json(&t, "", err, sizeof(err)), -EINVAL, "json: empty input refused");
	TAP_EQ(vdpacvq_state_from_json(&t, "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]",
				       err, sizeof(err)), -EINVAL, "json: deep nesting refused");
	TAP_EQ(vdpacvq_state_from_json(&t, "{\"version\": 1", err, sizeof(err)), -EINVAL, "json: truncated refused");
}

/*
 * S -> JSON -> read back -> restore plan -> replayed on a reset model: the
 * model ends in vdpacvq_state_restored(S) exactly (what vdpacvq_start()
 * checks). 1 when it does; *APPROX when that differs from S.
 */
static int replay_is_restored(const struct vdpacvq_state *s, int *approx)
{
	static char buf[1 << 17];
	struct vdpacvq_cmd *plan = calloc(4200, sizeof(*plan));
	struct vdpacvq_state r, m, want;
	char err[200];
	int n, i, ok = 0;

	if (!plan || vdpacvq_state_to_json(s, buf, sizeof(buf)) < 0 ||
	    vdpacvq_state_from_json(&r, buf, err, sizeof(err)))
		goto out;
	n = vdpacvq_restore_plan(&r, plan, 4200);
	if (n < 0)
		goto out;
	vdpacvq_state_init(&m, r.features, r.mac, r.max_pairs);
	for (i = 0; i < n; i++)
		if (vdpacvq_model_apply(&m, plan[i].buf, plan[i].len))
			goto out;
	m.nvqs = r.nvqs;
	memcpy(m.ring_pos, r.ring_pos, sizeof(m.ring_pos));
	vdpacvq_state_restored(&r, &want);
	*approx = !vdpacvq_state_equal(&want, s);
	ok = vdpacvq_state_equal(&m, &want);
out:
	free(plan);
	return ok;
}

static void apply_text(struct vdpacvq_state *s, const char *text)
{
	struct vdpacvq_cmd c;
	char err[128];

	if (vdpacvq_cmd_parse(&c, text, err, sizeof(err)) || vdpacvq_model_apply(s, c.buf, c.len))
		TAP_OK(0, "restored: command", "%s refused", text);
}

static void test_restored(void)
{
	static const char key[] = "6d5a56da255b0ec24167253d43a38fb0d0ca2bcbae7b30b477cb2da38030f20c6a42b73bbeac01fa";
	struct vdpacvq_state s, w;
	char cmd[300], mt[2048];
	int approx = -1, o = 0;

	/* Linux's "ethtool -K eth0 rxhash off": RSS_CONFIG, no hash types, its key and table */
	vdpacvq_state_init(&s, ALLF, mac0, 4);
	snprintf(cmd, sizeof(cmd), "rss=0x3f:%s:0,1,0,1", key);
	apply_text(&s, cmd);
	snprintf(cmd, sizeof(cmd), "rss=0:%s:0,1,0,1", key);
	apply_text(&s, cmd);
	TAP_OK(!s.rss.enabled && s.rss.key_len == 40 && s.rss.table_len == 4 && s.pairs == 2,
	       "restored: rxhash off keeps the key and table, disabled, 2 pairs", NULL);
	vdpacvq_state_restored(&s, &w);
	TAP_OK(w.pairs == 2 && !w.rss.enabled && !w.rss.key_len && !w.rss.table_len && !w.rss.max_tx_vq,
	       "restored: a disabled RSS comes back all zero, the pairs kept", NULL);
	TAP_OK(replay_is_restored(&s, &approx), "restored: rxhash off through JSON, plan, replay = restored()", NULL);
	TAP_EQ(approx, 1, "restored: rxhash off is restored approximately");

	/* 65 unicast addresses: an overflow */
	vdpacvq_state_init(&s, ALLF, mac0, 4);
	o = snprintf(mt, sizeof(mt), "mac-table=");
	for (int i = 0; i < 65; i++)
		o += snprintf(mt + o, sizeof(mt) - o, "%s02:00:00:00:01:%02x", i ? "," : "", i);
	snprintf(mt + o, sizeof(mt) - o, "/01:00:5e:00:00:01");
	apply_text(&s, mt);
	apply_text(&s, "promisc=0");
	TAP_OK(s.uni_overflow && !s.n_uni && s.n_multi == 1 && !s.promisc, "restored: unicast overflow, promisc off",
	       NULL);
	vdpacvq_state_restored(&s, &w);
	TAP_OK(w.promisc && !w.uni_overflow && w.n_multi == 1, "restored: a unicast overflow comes back promiscuous",
	       NULL);
	TAP_OK(replay_is_restored(&s, &approx), "restored: unicast overflow through JSON, plan, replay = restored()",
	       NULL);
	TAP_EQ(approx, 1, "restored: a unicast overflow is restored approximately");
	/* and a multicast one */
	vdpacvq_state_init(&s, ALLF, mac0, 4);
	o = snprintf(mt, sizeof(mt), "mac-table=02:00:00:00:00:01/");
	for (int i = 0; i < 65; i++)
		o += snprintf(mt + o, sizeof(mt) - o, "%s01:00:5e:00:01:%02x", i ? "," : "", i);
	apply_text(&s, mt);
	vdpacvq_state_restored(&s, &w);
	TAP_OK(s.multi_overflow && w.allmulti && !w.multi_overflow && w.n_uni == 1,
	       "restored: a multicast overflow comes back all-multicast", NULL);
	TAP_OK(replay_is_restored(&s, &approx), "restored: multicast overflow through JSON, plan, replay = restored()",
	       NULL);

	/* RSS negotiated without MQ */
	vdpacvq_state_init(&s, ALLF & ~BIT(VIRTIO_NET_F_MQ), mac0, 4);
	snprintf(cmd, sizeof(cmd), "rss=5:%s:0,1,2,1", key);
	apply_text(&s, cmd);
	TAP_OK(s.rss.enabled && s.pairs == 3, "restored: RSS without MQ, 3 pairs", NULL);
	vdpacvq_state_restored(&s, &w);
	TAP_OK(w.pairs == 1 && !w.rss.enabled && !w.rss.table_len, "restored: RSS without MQ comes back off, one pair",
	       NULL);
	TAP_OK(replay_is_restored(&s, &approx), "restored: RSS without MQ through JSON, plan, replay = restored()",
	       NULL);
	TAP_EQ(approx, 1, "restored: RSS without MQ is restored approximately");

	/* an exact one: the busy state, with a 40-byte key */
	busy_state(&s);
	snprintf(cmd, sizeof(cmd), "rss=5:%s:0,1", key);
	apply_text(&s, cmd);
	TAP_OK(replay_is_restored(&s, &approx), "restored: busy state through JSON, plan, replay = restored()", NULL);
	TAP_EQ(approx, 0, "restored: the busy state is restored exactly");
}

/* The plan's command of class CLS, command CMD, or NULL. */
static const struct vdpacvq_cmd *plan_find(const struct vdpacvq_cmd *plan, int n, uint8_t cls, uint8_t cmd)
{
	for (int i = 0; i < n; i++)
		if (plan[i].buf[0] == cls && plan[i].buf[1] == cmd)
			return &plan[i];
	return NULL;
}

static int is_zero(const uint8_t *p, size_t n)
{
	while (n--)
		if (*p++)
			return 0;
	return 1;
}

/*
 * What QEMU 10.0.2's vhost_vdpa_net_load_* send, read in net/vhost-vdpa.c
 * (docs/migration.md, "QEMU 10.0.2 facts"): each case failed before the
 * plan and vdpacvq_state_restored() followed it.
 */
static void test_qemu_restore(void)
{
	static const char key40[] = "6d5a56da255b0ec24167253d43a38fb0d0ca2bcbae7b30b477cb2da38030f20c6a42b73bbeac01fa";
	const uint64_t rss_only = ALLF & ~BIT(VIRTIO_NET_F_HASH_REPORT);
	const uint64_t hash_only = ALLF & ~BIT(VIRTIO_NET_F_RSS);
	struct vdpacvq_cmd plan[64];
	const struct vdpacvq_cmd *c;
	struct vdpacvq_state s, w;
	char cmd[2048];
	int n, o, approx = -1;

	/* load_rss: hash_key_length is sizeof(rss_data.key), 40, whatever the guest sent */
	vdpacvq_state_init(&s, rss_only, mac0, 4);
	apply_text(&s, "rss=5:00112233445566ff:0,1");
	n = vdpacvq_restore_plan(&s, plan, 64);
	c = plan_find(plan, n, VIRTIO_NET_CTRL_MQ, VIRTIO_NET_CTRL_MQ_RSS_CONFIG);
	/* hash types 4, mask 2, unclassified 2, 2 entries 4, max_tx_vq 2, then the key length */
	TAP_OK(c && c->len == 2 + 14 + 1 + 40 && c->buf[16] == 40 &&
	       !memcmp(c->buf + 17, "\x00\x11\x22\x33\x44\x55\x66\xff", 8) && is_zero(c->buf + 25, 32),
	       "qemu: an 8-byte RSS key is restored with hash_key_length 40, zero-padded",
	       "len %u klen %u", c ? c->len : 0, c ? c->buf[16] : 0);
	vdpacvq_state_restored(&s, &w);
	TAP_OK(w.rss.enabled && w.rss.key_len == 40 && !memcmp(w.rss.key, s.rss.key, 8) &&
	       is_zero(w.rss.key + 8, 32), "qemu: restored() has the key padded to 40 bytes", NULL);
	TAP_OK(replay_is_restored(&s, &approx), "qemu: short key through JSON, plan, replay = restored()", NULL);
	TAP_EQ(approx, 1, "qemu: a short key is restored approximately (as 40 bytes)");
	/* a 40-byte key (Linux sends rss_max_key_size bytes) comes back as it was */
	vdpacvq_state_init(&s, rss_only, mac0, 4);
	snprintf(cmd, sizeof(cmd), "rss=5:%s:0,1,1,0", key40);
	apply_text(&s, cmd);
	TAP_OK(replay_is_restored(&s, &approx) && approx == 0, "qemu: a 40-byte key is restored exactly", NULL);

	/* load_mq: RSS negotiated, so RSS_CONFIG even for a HASH_CONFIG state */
	vdpacvq_state_init(&s, ALLF, mac0, 4);
	apply_text(&s, "mq=3");
	snprintf(cmd, sizeof(cmd), "hash=5:%s", key40);
	apply_text(&s, cmd);
	TAP_OK(s.rss.enabled && !s.rss.redirect && s.pairs == 3, "qemu: a HASH_CONFIG state with RSS negotiated",
	       NULL);
	n = vdpacvq_restore_plan(&s, plan, 64);
	c = plan_find(plan, n, VIRTIO_NET_CTRL_MQ, VIRTIO_NET_CTRL_MQ_RSS_CONFIG);
	/* mask 0, unclassified 0, table { 0 }, max_tx_vq = the pairs (3), key length 40 */
	TAP_OK(c && !plan_find(plan, n, VIRTIO_NET_CTRL_MQ, VIRTIO_NET_CTRL_MQ_HASH_CONFIG) &&
	       c->len == 2 + 12 + 1 + 40 && is_zero(c->buf + 6, 6) && c->buf[12] == 3 && !c->buf[13] &&
	       c->buf[14] == 40, "qemu: sent as RSS_CONFIG: one-entry table { 0 }, max_tx_vq = pairs, key 40", NULL);
	vdpacvq_state_restored(&s, &w);
	TAP_OK(w.rss.enabled && w.rss.redirect && w.rss.table_len == 1 && !w.rss.table[0] &&
	       !w.rss.unclassified && w.rss.max_tx_vq == 3 && w.pairs == 3 && w.rss.key_len == 40,
	       "qemu: restored() says RSS with a one-entry table", NULL);
	TAP_OK(replay_is_restored(&s, &approx), "qemu: HASH_CONFIG under RSS through JSON, plan, replay = restored()",
	       NULL);
	TAP_EQ(approx, 1, "qemu: a HASH_CONFIG state under RSS is restored approximately");
	/* HASH_REPORT without RSS: HASH_CONFIG, reserved zero, key length 40 */
	vdpacvq_state_init(&s, hash_only, mac0, 4);
	apply_text(&s, "hash=5:0011");
	n = vdpacvq_restore_plan(&s, plan, 64);
	c = plan_find(plan, n, VIRTIO_NET_CTRL_MQ, VIRTIO_NET_CTRL_MQ_HASH_CONFIG);
	TAP_OK(c && c->len == 2 + 12 + 1 + 40 && is_zero(c->buf + 6, 8) && c->buf[14] == 40 &&
	       c->buf[15] == 0x00 && c->buf[16] == 0x11 && is_zero(c->buf + 17, 38),
	       "qemu: HASH_REPORT alone: HASH_CONFIG with key length 40", NULL);
	TAP_OK(replay_is_restored(&s, &approx), "qemu: HASH_CONFIG through JSON, plan, replay = restored()", NULL);

	/* load_rx returns before the RX_EXTRA modes without CTRL_RX */
	vdpacvq_state_init(&s, ALLF & ~BIT(VIRTIO_NET_F_CTRL_RX), mac0, 4);
	apply_text(&s, "alluni=1");
	apply_text(&s, "nobcast=1");
	n = vdpacvq_restore_plan(&s, plan, 64);
	TAP_OK(!plan_find(plan, n, VIRTIO_NET_CTRL_RX, VIRTIO_NET_CTRL_RX_ALLUNI) &&
	       !plan_find(plan, n, VIRTIO_NET_CTRL_RX, VIRTIO_NET_CTRL_RX_NOBCAST),
	       "qemu: no RX_EXTRA command without CTRL_RX", NULL);
	vdpacvq_state_restored(&s, &w);
	TAP_OK(!w.alluni && !w.nobcast, "qemu: restored() drops the RX_EXTRA modes without CTRL_RX", NULL);
	TAP_OK(replay_is_restored(&s, &approx), "qemu: RX_EXTRA without CTRL_RX through JSON, plan, replay",
	       NULL);

	/* virtio_net_handle_mac keeps 64 entries in all: 40 + 30 is a multicast overflow */
	vdpacvq_state_init(&s, ALLF, mac0, 4);
	o = snprintf(cmd, sizeof(cmd), "mac-table=");
	for (int i = 0; i < 40; i++)
		o += snprintf(cmd + o, sizeof(cmd) - o, "%s02:00:00:00:01:%02x", i ? "," : "", i);
	o += snprintf(cmd + o, sizeof(cmd) - o, "/");
	for (int i = 0; i < 30; i++)
		o += snprintf(cmd + o, sizeof(cmd) - o, "%s01:00:5e:00:01:%02x", i ? "," : "", i);
	apply_text(&s, cmd);
	TAP_OK(s.n_uni == 40 && s.n_multi == 30 && !s.multi_overflow, "qemu: 40 + 30 entries in the model", NULL);
	n = vdpacvq_restore_plan(&s, plan, 64);
	c = plan_find(plan, n, VIRTIO_NET_CTRL_MAC, VIRTIO_NET_CTRL_MAC_TABLE_SET);
	TAP_OK(c && c->len == 2 + 4 + 240 + 4 && c->buf[2] == 40 && is_zero(c->buf + 2 + 4 + 240, 4) &&
	       plan_find(plan, n, VIRTIO_NET_CTRL_RX, VIRTIO_NET_CTRL_RX_ALLMULTI),
	       "qemu: TABLE_SET with the 40 unicast entries alone, then ALLMULTI 1", NULL);
	vdpacvq_state_restored(&s, &w);
	TAP_OK(w.n_uni == 40 && !w.n_multi && w.allmulti && !w.multi_overflow,
	       "qemu: restored() says all-multicast, no multicast entries", NULL);
	TAP_OK(replay_is_restored(&s, &approx), "qemu: 40 + 30 through JSON, plan, replay = restored()", NULL);
	TAP_EQ(approx, 1, "qemu: 40 + 30 entries are restored approximately");
	/* 34 + 30 fit */
	vdpacvq_state_init(&s, ALLF, mac0, 4);
	o = snprintf(cmd, sizeof(cmd), "mac-table=");
	for (int i = 0; i < 34; i++)
		o += snprintf(cmd + o, sizeof(cmd) - o, "%s02:00:00:00:01:%02x", i ? "," : "", i);
	o += snprintf(cmd + o, sizeof(cmd) - o, "/");
	for (int i = 0; i < 30; i++)
		o += snprintf(cmd + o, sizeof(cmd) - o, "%s01:00:5e:00:01:%02x", i ? "," : "", i);
	apply_text(&s, cmd);
	TAP_OK(replay_is_restored(&s, &approx) && approx == 0, "qemu: 34 + 30 entries are restored exactly", NULL);
}

/*
 * Random commands (device bytes are untrusted): the model never crashes,
 * is unchanged by what it refuses, and whatever it accepted still makes a
 * valid JSON state and a restore plan that rebuilds it.
 */
static void test_random(void)
{
	static char buf[1 << 17];
	struct vdpacvq_cmd *plan = calloc(4200, sizeof(*plan));
	struct vdpacvq_state s, t, u;
	uint8_t cmd[80];
	unsigned int seed = 12345, accepted = 0, bad_ret = 0, changed = 0, broken = 0;
	int i, k, n, r;

	vdpacvq_state_init(&s, ALLF, mac0, 4);
	for (i = 0; i < 200000; i++) {
		int len = rand_r(&seed) % sizeof(cmd);

		for (k = 0; k < len; k++)
			cmd[k] = rand_r(&seed);
		if (len)
			cmd[0] %= 7;
		if (len > 1)
			cmd[1] %= 4;
		/* short payloads of plausible sizes hit the accepted paths too */
		if (len > 5 && cmd[0] == 1 && cmd[1] == 0) {
			cmd[2] = rand_r(&seed) % 3;
			cmd[3] = cmd[4] = cmd[5] = 0;
		}
		t = s;
		r = vdpacvq_model_apply(&s, cmd, len);
		if (r && r != -EINVAL && r != -EOPNOTSUPP)
			bad_ret++;
		if (r && !vdpacvq_state_equal(&s, &t))
			changed++;
		if (r)
			continue;
		accepted++;
		if (s.pairs < 1 || s.pairs > s.max_pairs || s.n_uni > 64 || s.n_multi > 64)
			broken++;
		if (accepted % 50)
			continue;
		n = vdpacvq_state_to_json(&s, buf, sizeof(buf));
		if (n < 0 || vdpacvq_state_from_json(&u, buf, NULL, 0) || !vdpacvq_state_equal(&s, &u))
			broken++;
		n = vdpacvq_restore_plan(&s, plan, 4200);
		vdpacvq_state_init(&u, ALLF, mac0, 4);
		for (k = 0; k < n; k++)
			if (vdpacvq_model_apply(&u, plan[k].buf, plan[k].len))
				break;
		u.nvqs = s.nvqs;
		memcpy(u.ring_pos, s.ring_pos, sizeof(u.ring_pos));
		vdpacvq_state_restored(&s, &t);
		if (n < 0 || k != n || !vdpacvq_state_equal(&t, &u))
			broken++;
	}
	tap_diag("random: %u of 200000 commands accepted", accepted);
	TAP_OK(accepted > 100, "random: some random commands are accepted", "%u", accepted);
	TAP_EQ(bad_ret, 0, "random: only 0, -EINVAL or -EOPNOTSUPP");
	TAP_EQ(changed, 0, "random: a refused command never changes the state");
	TAP_EQ(broken, 0, "random: accepted states stay valid, round-trip through JSON and replay");
	free(plan);
}

int main(void)
{
	test_encoding();
	test_model();
	test_plan();
	test_json();
	test_restored();
	test_qemu_restore();
	test_random();
	return tap_done();
}
