// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * libvdpacvq, pure part: the virtio-net control state model, command
 * encoding and parsing, the restore plan, and the state as JSON. No system
 * calls here, so all of it is unit-tested natively (tests/unit/vdpa_cvq.c).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/virtio_net.h>
#include "libvdpacvq.h"

#define BIT(n) (1ull << (n))
#define HAS(s, f) (!!((s)->features & BIT(VIRTIO_NET_F_##f)))

/* virtio_net.h of older hosts may lack the newer offloads. */
#define F_GUEST_USO4 54
#define F_GUEST_USO6 55

static void seterr(char *err, size_t len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void seterr(char *err, size_t len, const char *fmt, ...)
{
	va_list ap;

	if (!err || !len)
		return;
	va_start(ap, fmt);
	vsnprintf(err, len, fmt, ap);
	va_end(ap);
}

static uint16_t get16(const uint8_t *p)
{
	return p[0] | (uint16_t)p[1] << 8;
}

static uint32_t get32(const uint8_t *p)
{
	return get16(p) | (uint32_t)get16(p + 2) << 16;
}

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = v;
	p[1] = v >> 8;
}

static void put32(uint8_t *p, uint32_t v)
{
	put16(p, v);
	put16(p + 2, v >> 16);
}

static void put64(uint8_t *p, uint64_t v)
{
	put32(p, v);
	put32(p + 4, v >> 32);
}

/* ---- state ---------------------------------------------------------------- */

uint64_t vdpacvq_guest_offloads(uint64_t features)
{
	return features & (BIT(VIRTIO_NET_F_GUEST_CSUM) | BIT(VIRTIO_NET_F_GUEST_TSO4) |
			   BIT(VIRTIO_NET_F_GUEST_TSO6) | BIT(VIRTIO_NET_F_GUEST_ECN) |
			   BIT(VIRTIO_NET_F_GUEST_UFO) | BIT(F_GUEST_USO4) | BIT(F_GUEST_USO6));
}

uint32_t vdpacvq_cvq_index(uint64_t features, uint16_t max_pairs)
{
	if (features & (BIT(VIRTIO_NET_F_MQ) | BIT(VIRTIO_NET_F_RSS)))
		return 2u * (max_pairs ? max_pairs : 1);
	return 2;
}

uint64_t vdpacvq_session_features(uint64_t offered)
{
	uint64_t f = offered & VDPACVQ_SESSION_FEATURES;

	if (!(f & BIT(VIRTIO_NET_F_CTRL_RX)))
		f &= ~BIT(VIRTIO_NET_F_CTRL_RX_EXTRA);
	return f;
}

void vdpacvq_state_init(struct vdpacvq_state *s, uint64_t features,
			const uint8_t mac[6], uint16_t max_pairs)
{
	memset(s, 0, sizeof(*s));
	s->features = features;
	s->max_pairs = (features & (BIT(VIRTIO_NET_F_MQ) | BIT(VIRTIO_NET_F_RSS))) && max_pairs ?
		       max_pairs : 1;
	s->pairs = 1;
	if (mac)
		memcpy(s->mac, mac, 6);
	s->promisc = 1;
	s->offloads = vdpacvq_guest_offloads(features);
}

int vdpacvq_state_equal(const struct vdpacvq_state *a, const struct vdpacvq_state *b)
{
	return a->features == b->features && a->max_pairs == b->max_pairs &&
	       a->pairs == b->pairs && !memcmp(a->mac, b->mac, 6) &&
	       a->promisc == b->promisc && a->allmulti == b->allmulti &&
	       a->alluni == b->alluni && a->nomulti == b->nomulti &&
	       a->nouni == b->nouni && a->nobcast == b->nobcast &&
	       a->uni_overflow == b->uni_overflow && a->multi_overflow == b->multi_overflow &&
	       a->n_uni == b->n_uni && a->n_multi == b->n_multi &&
	       !memcmp(a->uni, b->uni, 6 * a->n_uni) && !memcmp(a->multi, b->multi, 6 * a->n_multi) &&
	       a->offloads == b->offloads && !memcmp(a->vlans, b->vlans, sizeof(a->vlans)) &&
	       a->rss.enabled == b->rss.enabled && a->rss.redirect == b->rss.redirect &&
	       a->rss.hash_types == b->rss.hash_types && a->rss.table_len == b->rss.table_len &&
	       !memcmp(a->rss.table, b->rss.table, 2 * a->rss.table_len) &&
	       a->rss.unclassified == b->rss.unclassified && a->rss.max_tx_vq == b->rss.max_tx_vq &&
	       a->rss.key_len == b->rss.key_len && !memcmp(a->rss.key, b->rss.key, a->rss.key_len) &&
	       a->nvqs == b->nvqs && !memcmp(a->ring_pos, b->ring_pos, 2 * a->nvqs);
}

/* ---- encoding ------------------------------------------------------------- */

static int enc(struct vdpacvq_cmd *c, uint8_t cls, uint8_t cmd, const void *data, uint32_t len)
{
	if (len > VDPACVQ_CMD_MAX - 2)
		return -EINVAL;
	c->buf[0] = cls;
	c->buf[1] = cmd;
	if (len)
		memcpy(c->buf + 2, data, len);
	c->len = 2 + len;
	return 0;
}

int vdpacvq_enc_rx(struct vdpacvq_cmd *c, uint8_t rx_cmd, int on)
{
	uint8_t v = !!on;

	if (rx_cmd > VIRTIO_NET_CTRL_RX_NOBCAST)
		return -EINVAL;
	return enc(c, VIRTIO_NET_CTRL_RX, rx_cmd, &v, 1);
}

int vdpacvq_enc_mac_addr(struct vdpacvq_cmd *c, const uint8_t mac[6])
{
	return enc(c, VIRTIO_NET_CTRL_MAC, VIRTIO_NET_CTRL_MAC_ADDR_SET, mac, 6);
}

int vdpacvq_enc_mac_table(struct vdpacvq_cmd *c, uint32_t n_uni, const uint8_t (*uni)[6],
			  uint32_t n_multi, const uint8_t (*multi)[6])
{
	uint8_t d[VDPACVQ_CMD_MAX];
	uint32_t off = 0;

	if ((uint64_t)8 + 6ull * n_uni + 6ull * n_multi > VDPACVQ_CMD_MAX - 2)
		return -EINVAL;
	put32(d, n_uni);
	off = 4;
	if (n_uni)
		memcpy(d + off, uni, 6 * n_uni);
	off += 6 * n_uni;
	put32(d + off, n_multi);
	off += 4;
	if (n_multi)
		memcpy(d + off, multi, 6 * n_multi);
	off += 6 * n_multi;
	return enc(c, VIRTIO_NET_CTRL_MAC, VIRTIO_NET_CTRL_MAC_TABLE_SET, d, off);
}

int vdpacvq_enc_vlan(struct vdpacvq_cmd *c, int add, uint16_t vid)
{
	uint8_t d[2];

	if (vid >= 4096)
		return -EINVAL;
	put16(d, vid);
	return enc(c, VIRTIO_NET_CTRL_VLAN, add ? VIRTIO_NET_CTRL_VLAN_ADD : VIRTIO_NET_CTRL_VLAN_DEL, d, 2);
}

int vdpacvq_enc_mq_pairs(struct vdpacvq_cmd *c, uint16_t pairs)
{
	uint8_t d[2];

	if (pairs < VIRTIO_NET_CTRL_MQ_VQ_PAIRS_MIN || pairs > VIRTIO_NET_CTRL_MQ_VQ_PAIRS_MAX)
		return -EINVAL;
	put16(d, pairs);
	return enc(c, VIRTIO_NET_CTRL_MQ, VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET, d, 2);
}

int vdpacvq_enc_offloads(struct vdpacvq_cmd *c, uint64_t offloads)
{
	uint8_t d[8];

	put64(d, offloads);
	return enc(c, VIRTIO_NET_CTRL_GUEST_OFFLOADS, VIRTIO_NET_CTRL_GUEST_OFFLOADS_SET, d, 8);
}

int vdpacvq_enc_announce(struct vdpacvq_cmd *c)
{
	return enc(c, VIRTIO_NET_CTRL_ANNOUNCE, VIRTIO_NET_CTRL_ANNOUNCE_ACK, NULL, 0);
}

int vdpacvq_enc_rss(struct vdpacvq_cmd *c, const struct vdpacvq_state *s, int redirect)
{
	uint8_t d[VDPACVQ_CMD_MAX];
	uint32_t off = 0, i;

	if (s->rss.key_len > VDPACVQ_RSS_KEY_MAX)
		return -EINVAL;
	put32(d, s->rss.hash_types);
	off = 4;
	if (redirect) {
		if (!s->rss.table_len || s->rss.table_len > VDPACVQ_RSS_TABLE_MAX ||
		    (s->rss.table_len & (s->rss.table_len - 1)))
			return -EINVAL;
		put16(d + off, s->rss.table_len - 1);
		put16(d + off + 2, s->rss.unclassified);
		off += 4;
		for (i = 0; i < s->rss.table_len; i++, off += 2)
			put16(d + off, s->rss.table[i]);
		put16(d + off, s->rss.max_tx_vq);
		off += 2;
	} else {
		memset(d + off, 0, 8);	/* reserved[4] */
		off += 8;
	}
	d[off++] = s->rss.key_len;
	memcpy(d + off, s->rss.key, s->rss.key_len);
	off += s->rss.key_len;
	return enc(c, VIRTIO_NET_CTRL_MQ, redirect ? VIRTIO_NET_CTRL_MQ_RSS_CONFIG :
		   VIRTIO_NET_CTRL_MQ_HASH_CONFIG, d, off);
}

/* ---- the model ------------------------------------------------------------ */

static int apply_mac_table(struct vdpacvq_state *s, const uint8_t *d, size_t len)
{
	uint32_t nu, nm;
	size_t off;

	if (len < 4)
		return -EINVAL;
	nu = get32(d);
	if (nu > (len - 4) / 6)
		return -EINVAL;
	off = 4 + 6 * (size_t)nu;
	if (len - off < 4)
		return -EINVAL;
	nm = get32(d + off);
	if (nm > (len - off - 4) / 6 || len != off + 4 + 6 * (size_t)nm)
		return -EINVAL;
	/* more entries than the model holds: the filter is off for that kind */
	s->uni_overflow = nu > VDPACVQ_MAC_TABLE_MAX;
	s->n_uni = s->uni_overflow ? 0 : nu;
	if (s->n_uni)
		memcpy(s->uni, d + 4, 6 * s->n_uni);
	s->multi_overflow = nm > VDPACVQ_MAC_TABLE_MAX;
	s->n_multi = s->multi_overflow ? 0 : nm;
	if (s->n_multi)
		memcpy(s->multi, d + off + 4, 6 * s->n_multi);
	return 0;
}

static int apply_rss(struct vdpacvq_state *s, const uint8_t *d, size_t len, int redirect)
{
	uint32_t hash_types;
	uint16_t mask = 0, uncl = 0, max_tx = 0, table[VDPACVQ_RSS_TABLE_MAX];
	size_t off, n = 0, i;
	uint8_t klen;

	if (len < 4)
		return -EINVAL;
	hash_types = get32(d);
	off = 4;
	if (redirect) {
		if (len - off < 4)
			return -EINVAL;
		mask = get16(d + off);
		uncl = get16(d + off + 2);
		off += 4;
		n = (size_t)mask + 1;
		if (n > VDPACVQ_RSS_TABLE_MAX || (n & (n - 1)) || len - off < 2 * n + 2)
			return -EINVAL;
		/* queue pair numbers (virtio 1.3: bits 1 - 15 of a receiveq's index) */
		for (i = 0; i < n; i++) {
			table[i] = get16(d + off + 2 * i);
			if (table[i] >= s->max_pairs)
				return -EINVAL;
		}
		off += 2 * n;
		max_tx = get16(d + off);
		off += 2;
		if (!max_tx || max_tx > s->max_pairs || uncl >= s->max_pairs)
			return -EINVAL;
	} else {
		if (len - off < 8)
			return -EINVAL;
		off += 8;
	}
	if (len - off < 1)
		return -EINVAL;
	klen = d[off++];
	/* hash types without a key: QEMU 10.0.2 refuses it ("No key provided") */
	if (klen > VDPACVQ_RSS_KEY_MAX || len - off != klen || (hash_types && !klen))
		return -EINVAL;
	memset(&s->rss, 0, sizeof(s->rss));
	s->rss.enabled = hash_types != 0;
	s->rss.redirect = !!redirect;
	s->rss.hash_types = hash_types;
	s->rss.table_len = n;
	if (n)
		memcpy(s->rss.table, table, 2 * n);
	s->rss.unclassified = uncl;
	s->rss.max_tx_vq = max_tx;
	s->rss.key_len = klen;
	memcpy(s->rss.key, d + off, klen);
	if (redirect)
		s->pairs = max_tx;
	return 0;
}

int vdpacvq_model_apply(struct vdpacvq_state *s, const uint8_t *buf, size_t len)
{
	struct vdpacvq_state t;
	const uint8_t *d = buf + 2;
	size_t dl;
	int r = 0;

	if (!buf || len < 2)
		return -EINVAL;
	dl = len - 2;
	t = *s;
	switch (buf[0]) {
	case VIRTIO_NET_CTRL_RX: {
		uint8_t *field[] = { &t.promisc, &t.allmulti, &t.alluni, &t.nomulti, &t.nouni, &t.nobcast };

		if (buf[1] > VIRTIO_NET_CTRL_RX_NOBCAST || dl != 1)
			return -EINVAL;
		if (buf[1] <= VIRTIO_NET_CTRL_RX_ALLMULTI ? !HAS(s, CTRL_RX) : !HAS(s, CTRL_RX_EXTRA))
			return -EOPNOTSUPP;
		*field[buf[1]] = !!d[0];
		break;
	}
	case VIRTIO_NET_CTRL_MAC:
		if (buf[1] == VIRTIO_NET_CTRL_MAC_ADDR_SET) {
			if (!HAS(s, CTRL_MAC_ADDR))
				return -EOPNOTSUPP;
			if (dl != 6)
				return -EINVAL;
			memcpy(t.mac, d, 6);
		} else if (buf[1] == VIRTIO_NET_CTRL_MAC_TABLE_SET) {
			if (!HAS(s, CTRL_RX))
				return -EOPNOTSUPP;
			r = apply_mac_table(&t, d, dl);
		} else {
			return -EINVAL;
		}
		break;
	case VIRTIO_NET_CTRL_VLAN: {
		uint16_t vid;

		if (buf[1] > VIRTIO_NET_CTRL_VLAN_DEL || dl != 2)
			return -EINVAL;
		if (!HAS(s, CTRL_VLAN))
			return -EOPNOTSUPP;
		vid = get16(d);
		if (vid >= 4096)
			return -EINVAL;
		if (buf[1] == VIRTIO_NET_CTRL_VLAN_ADD)
			t.vlans[vid / 8] |= 1u << (vid % 8);
		else
			t.vlans[vid / 8] &= ~(1u << (vid % 8));
		break;
	}
	case VIRTIO_NET_CTRL_ANNOUNCE:
		if (buf[1] != VIRTIO_NET_CTRL_ANNOUNCE_ACK || dl)
			return -EINVAL;
		if (!HAS(s, GUEST_ANNOUNCE))
			return -EOPNOTSUPP;
		break;
	case VIRTIO_NET_CTRL_MQ:
		if (buf[1] == VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET) {
			uint16_t p;

			if (!HAS(s, MQ))
				return -EOPNOTSUPP;
			if (dl != 2)
				return -EINVAL;
			p = get16(d);
			if (p < VIRTIO_NET_CTRL_MQ_VQ_PAIRS_MIN || p > s->max_pairs)
				return -EINVAL;
			t.pairs = p;
			/* as QEMU: plain pair steering turns RSS off */
			memset(&t.rss, 0, sizeof(t.rss));
		} else if (buf[1] == VIRTIO_NET_CTRL_MQ_RSS_CONFIG) {
			if (!HAS(s, RSS))
				return -EOPNOTSUPP;
			r = apply_rss(&t, d, dl, 1);
		} else if (buf[1] == VIRTIO_NET_CTRL_MQ_HASH_CONFIG) {
			if (!HAS(s, HASH_REPORT))
				return -EOPNOTSUPP;
			r = apply_rss(&t, d, dl, 0);
		} else {
			return -EINVAL;
		}
		break;
	case VIRTIO_NET_CTRL_GUEST_OFFLOADS: {
		uint64_t o;

		if (buf[1] != VIRTIO_NET_CTRL_GUEST_OFFLOADS_SET || dl != 8)
			return -EINVAL;
		if (!HAS(s, CTRL_GUEST_OFFLOADS))
			return -EOPNOTSUPP;
		o = get32(d) | (uint64_t)get32(d + 4) << 32;
		if (o & ~vdpacvq_guest_offloads(s->features))
			return -EINVAL;
		t.offloads = o;
		break;
	}
	default:
		return -EINVAL;
	}
	if (r)
		return r;
	*s = t;
	return 0;
}

/* ---- restore plan --------------------------------------------------------- */

/*
 * The device state QEMU 10.0.2's restore (vhost_vdpa_net_load_*) brings a
 * freshly reset device to, field by field; docs/migration.md, "QEMU 10.0.2
 * facts", names the functions. The plan sends the commands that reach it,
 * so vdpacvq_state_restored() is this, and the start compares the two.
 */
static void qemu_restored(const struct vdpacvq_state *s, struct vdpacvq_state *t)
{
	*t = *s;
	/*
	 * virtio_net_handle_mac: 64 entries in all, unicast first; a multicast
	 * list that does not fit after the unicast one is an overflow, and
	 * vhost_vdpa_net_load_mac sends the unicast entries alone
	 */
	if (!t->uni_overflow && t->n_uni + t->n_multi > VDPACVQ_MAC_TABLE_MAX) {
		t->n_multi = 0;
		memset(t->multi, 0, sizeof(t->multi));
		t->multi_overflow = 1;
	}
	/*
	 * vhost_vdpa_net_load_mac sends the table without its overflow flags;
	 * vhost_vdpa_net_load_rx leaves promiscuous mode on for a unicast
	 * overflow and turns all-multicast on for a multicast one
	 */
	if (t->uni_overflow) {
		t->promisc = 1;
		t->uni_overflow = 0;
	}
	if (t->multi_overflow) {
		t->allmulti = 1;
		t->multi_overflow = 0;
	}
	/* vhost_vdpa_net_load_rx returns before the RX_EXTRA modes without CTRL_RX */
	if (!HAS(s, CTRL_RX))
		t->alluni = t->nomulti = t->nouni = t->nobcast = 0;
	/*
	 * vhost_vdpa_net_load_mq: nothing without MQ (the reset's one pair, no
	 * RSS); RSS only when enabled with hash types, as RSS_CONFIG whenever
	 * RSS is negotiated (a HASH_CONFIG state too: a one-entry table
	 * { 0 }, unclassified 0), else as HASH_CONFIG with HASH_REPORT;
	 * max_tx_vq is the pair count; vhost_vdpa_net_load_rss sends
	 * hash_key_length 40 (sizeof(rss_data.key)) and 40 key bytes
	 */
	if (!HAS(s, MQ))
		t->pairs = 1;
	memset(&t->rss, 0, sizeof(t->rss));
	if (!HAS(s, MQ) || !s->rss.enabled || !s->rss.hash_types || !(HAS(s, RSS) || HAS(s, HASH_REPORT)))
		return;
	t->rss.enabled = 1;
	t->rss.hash_types = s->rss.hash_types;
	t->rss.key_len = VDPACVQ_RSS_KEY_MAX;
	memcpy(t->rss.key, s->rss.key, s->rss.key_len < VDPACVQ_RSS_KEY_MAX ? s->rss.key_len : VDPACVQ_RSS_KEY_MAX);
	if (!HAS(s, RSS))
		return;
	t->rss.redirect = 1;
	t->rss.max_tx_vq = s->pairs;
	if (s->rss.redirect) {
		t->rss.table_len = s->rss.table_len <= VDPACVQ_RSS_TABLE_MAX ? s->rss.table_len : 0;
		memcpy(t->rss.table, s->rss.table, 2 * t->rss.table_len);
		t->rss.unclassified = s->rss.unclassified;
	} else {
		t->rss.table_len = 1;
	}
}

int vdpacvq_restore_plan(const struct vdpacvq_state *s, struct vdpacvq_cmd *out, int max)
{
	static const uint8_t extra[] = { VIRTIO_NET_CTRL_RX_ALLUNI, VIRTIO_NET_CTRL_RX_NOMULTI,
					 VIRTIO_NET_CTRL_RX_NOUNI, VIRTIO_NET_CTRL_RX_NOBCAST };
	struct vdpacvq_state t;
	const uint8_t extra_on[] = { s->alluni, s->nomulti, s->nouni, s->nobcast };
	int n = 0;
	unsigned int i;

#define EMIT(call) do { \
		if (n >= max) \
			return -ENOSPC; \
		if (call) \
			return -EINVAL; \
		n++; \
	} while (0)

	/* the values QEMU's load functions send, in their order */
	qemu_restored(s, &t);
	if (HAS(s, CTRL_MAC_ADDR))
		EMIT(vdpacvq_enc_mac_addr(&out[n], t.mac));
	if (HAS(s, CTRL_RX) && (t.n_uni || t.n_multi))
		EMIT(vdpacvq_enc_mac_table(&out[n], t.n_uni, (const uint8_t (*)[6])t.uni,
					   t.n_multi, (const uint8_t (*)[6])t.multi));
	if (HAS(s, MQ)) {
		EMIT(vdpacvq_enc_mq_pairs(&out[n], t.pairs));
		if (t.rss.enabled)
			EMIT(vdpacvq_enc_rss(&out[n], &t, t.rss.redirect));
	}
	if (HAS(s, CTRL_GUEST_OFFLOADS) && s->offloads != vdpacvq_guest_offloads(s->features))
		EMIT(vdpacvq_enc_offloads(&out[n], s->offloads));
	if (HAS(s, CTRL_RX)) {
		if (!t.promisc)
			EMIT(vdpacvq_enc_rx(&out[n], VIRTIO_NET_CTRL_RX_PROMISC, 0));
		if (t.allmulti)
			EMIT(vdpacvq_enc_rx(&out[n], VIRTIO_NET_CTRL_RX_ALLMULTI, 1));
		if (HAS(s, CTRL_RX_EXTRA))
			for (i = 0; i < sizeof(extra); i++)
				if (extra_on[i])
					EMIT(vdpacvq_enc_rx(&out[n], extra[i], 1));
	}
	if (HAS(s, CTRL_VLAN))
		for (i = 0; i < 4096; i++)
			if (s->vlans[i / 8] & (1u << (i % 8)))
				EMIT(vdpacvq_enc_vlan(&out[n], 1, i));
#undef EMIT
	return n;
}

void vdpacvq_state_restored(const struct vdpacvq_state *s, struct vdpacvq_state *out)
{
	struct vdpacvq_state t;

	qemu_restored(s, &t);
	*out = t;
}

/* ---- text commands -------------------------------------------------------- */

/* The value of hex digit C, or -1. */
static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* One byte as exactly two hex digits at P (no sign, no blank), or -1. */
static int hexbyte(const char *p)
{
	int h = hexval(p[0]), l = h < 0 ? -1 : hexval(p[1]);

	return l < 0 ? -1 : h << 4 | l;
}

static int parse_mac(const char *p, uint8_t mac[6], const char **end)
{
	for (int i = 0; i < 6; i++, p += 3) {
		int b = hexbyte(p);

		if (b < 0 || (i < 5 && p[2] != ':'))
			return -EINVAL;
		mac[i] = b;
	}
	if (end)
		*end = p - 1;
	return 0;
}

/*
 * Decimal, or hexadecimal after 0x; a leading 0 before digits (octal in
 * strtoull's base 0) refused, and no sign or blank.
 */
static int parse_u64(const char *p, uint64_t max, uint64_t *out, const char **end)
{
	unsigned int base = p[0] == '0' && (p[1] == 'x' || p[1] == 'X') ? 16 : 10;
	uint64_t v = 0;
	int dig, n = 0;

	if (base == 16)
		p += 2;
	else if (p[0] == '0' && p[1] >= '0' && p[1] <= '9')
		return -EINVAL;
	for (; (dig = hexval(*p)) >= 0 && (unsigned int)dig < base; p++, n++) {
		if ((uint64_t)dig > max || v > (max - dig) / base)
			return -EINVAL;	/* beyond MAX (and never wraps) */
		v = v * base + dig;
	}
	if (!n)
		return -EINVAL;
	*out = v;
	if (end)
		*end = p;
	else if (*p)
		return -EINVAL;
	return 0;
}

/* A comma-separated MAC list ending at STOP or NUL. */
static int parse_mac_list(const char **pp, char stop, uint8_t (*macs)[6], uint32_t *n, uint32_t max)
{
	const char *p = *pp;

	*n = 0;
	while (*p && *p != stop) {
		if (*n >= max || parse_mac(p, macs[*n], &p))
			return -EINVAL;
		(*n)++;
		if (*p == ',')
			p++;
		else if (*p && *p != stop)
			return -EINVAL;
	}
	*pp = p;
	return 0;
}

static int parse_hex(const char **pp, uint8_t *out, uint32_t max, uint8_t *n)
{
	const char *p = *pp;
	int v;

	*n = 0;
	while (p[0] && p[0] != ':') {
		v = hexbyte(p);
		if (*n >= max || v < 0)
			return -EINVAL;
		out[(*n)++] = v;
		p += 2;
	}
	*pp = p;
	return 0;
}

int vdpacvq_cmd_parse(struct vdpacvq_cmd *c, const char *text, char *err, size_t errlen)
{
	static const char *const rx[] = { "promisc", "allmulti", "alluni", "nomulti", "nouni", "nobcast" };
	const char *eq = strchr(text, '=');
	const char *v = eq ? eq + 1 : "";
	size_t kl = eq ? (size_t)(eq - text) : strlen(text);
	uint64_t x;
	unsigned int i;

#define KEY(k) (kl == strlen(k) && !strncmp(text, k, kl))
	for (i = 0; i < 6; i++)
		if (KEY(rx[i])) {
			if (parse_u64(v, 1, &x, NULL))
				goto bad;
			return vdpacvq_enc_rx(c, i, x);
		}
	if (KEY("mac")) {
		uint8_t mac[6];
		const char *e;

		if (parse_mac(v, mac, &e) || *e)
			goto bad;
		return vdpacvq_enc_mac_addr(c, mac);
	}
	if (KEY("vlan-add") || KEY("vlan-del")) {
		if (parse_u64(v, 4095, &x, NULL))
			goto bad;
		return vdpacvq_enc_vlan(c, KEY("vlan-add"), x);
	}
	if (KEY("mq")) {
		if (parse_u64(v, VIRTIO_NET_CTRL_MQ_VQ_PAIRS_MAX, &x, NULL) || !x)
			goto bad;
		return vdpacvq_enc_mq_pairs(c, x);
	}
	if (KEY("offloads")) {
		if (parse_u64(v, ~0ull, &x, NULL))
			goto bad;
		return vdpacvq_enc_offloads(c, x);
	}
	if (KEY("announce") && !eq)
		return vdpacvq_enc_announce(c);
	if (KEY("mac-table")) {
		uint8_t (*uni)[6] = malloc(2 * 6 * 80);
		uint8_t (*multi)[6] = uni ? uni + 80 : NULL;
		const char *p = v;
		uint32_t nu, nm;
		int r = -EINVAL;

		if (uni && !parse_mac_list(&p, '/', uni, &nu, 80) && *p == '/') {
			p++;
			if (!parse_mac_list(&p, 0, multi, &nm, 80))
				r = vdpacvq_enc_mac_table(c, nu, (const uint8_t (*)[6])uni, nm,
							  (const uint8_t (*)[6])multi);
		}
		free(uni);
		if (r)
			goto bad;
		return 0;
	}
	if (KEY("rss") || KEY("hash")) {
		struct vdpacvq_state s;
		const char *p = v;

		memset(&s, 0, sizeof(s));
		if (parse_u64(p, 0xffffffffu, &x, &p) || *p++ != ':')
			goto bad;
		s.rss.hash_types = x;
		if (parse_hex(&p, s.rss.key, VDPACVQ_RSS_KEY_MAX, &s.rss.key_len))
			goto bad;
		if (KEY("hash")) {
			if (*p)
				goto bad;
			return vdpacvq_enc_rss(c, &s, 0);
		}
		if (*p++ != ':')
			goto bad;
		while (*p) {
			if (s.rss.table_len >= VDPACVQ_RSS_TABLE_MAX || parse_u64(p, 0xffff, &x, &p))
				goto bad;
			s.rss.table[s.rss.table_len++] = x;
			if (*p == ',')
				p++;
			else if (*p)
				goto bad;
		}
		/* transmit on as many queues as the table steers to */
		for (i = 0; i < s.rss.table_len; i++)
			if (s.rss.table[i] + 1u > s.rss.max_tx_vq)
				s.rss.max_tx_vq = s.rss.table[i] + 1;
		if (vdpacvq_enc_rss(c, &s, 1))
			goto bad;
		return 0;
	}
#undef KEY
bad:
	seterr(err, errlen, "bad command '%s'", text);
	return -EINVAL;
}

void vdpacvq_cmd_describe(const struct vdpacvq_cmd *c, char *out, size_t len)
{
	static const char *const cls[] = { "RX", "MAC", "VLAN", "ANNOUNCE", "MQ", "GUEST_OFFLOADS" };
	static const char *const cmds[][6] = {
		{ "PROMISC", "ALLMULTI", "ALLUNI", "NOMULTI", "NOUNI", "NOBCAST" },
		{ "TABLE_SET", "ADDR_SET" },
		{ "ADD", "DEL" },
		{ "ACK" },
		{ "VQ_PAIRS_SET", "RSS_CONFIG", "HASH_CONFIG" },
		{ "SET" },
	};
	const uint8_t *d = c->buf + 2;
	uint32_t dl = c->len >= 2 ? c->len - 2 : 0;
	const char *cn = NULL;
	int o;

	if (c->len < 2) {
		snprintf(out, len, "(empty)");
		return;
	}
	if (c->buf[0] < 6 && c->buf[1] < 6)
		cn = cmds[c->buf[0]][c->buf[1]];
	if (cn)
		o = snprintf(out, len, "%s %s", cls[c->buf[0]], cn);
	else
		o = snprintf(out, len, "class %u command %u", c->buf[0], c->buf[1]);
	if (o < 0 || (size_t)o >= len)
		return;
	if (c->buf[0] == VIRTIO_NET_CTRL_RX && dl == 1)
		snprintf(out + o, len - o, " %u", d[0]);
	else if (c->buf[0] == VIRTIO_NET_CTRL_MAC && c->buf[1] == 1 && dl == 6)
		snprintf(out + o, len - o, " %02x:%02x:%02x:%02x:%02x:%02x", d[0], d[1], d[2], d[3], d[4], d[5]);
	else if ((c->buf[0] == VIRTIO_NET_CTRL_VLAN || (c->buf[0] == VIRTIO_NET_CTRL_MQ && c->buf[1] == 0)) && dl == 2)
		snprintf(out + o, len - o, " %u", get16(d));
	else if (c->buf[0] == VIRTIO_NET_CTRL_GUEST_OFFLOADS && dl == 8)
		snprintf(out + o, len - o, " 0x%llx",
			 (unsigned long long)(get32(d) | (uint64_t)get32(d + 4) << 32));
	else if (dl)
		snprintf(out + o, len - o, " (%u bytes)", dl);
}

/* ---- JSON writer ---------------------------------------------------------- */

struct jw {
	char *buf;
	size_t len, off;
	int overflow;
};

static void jp(struct jw *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void jp(struct jw *w, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (w->overflow)
		return;
	va_start(ap, fmt);
	n = vsnprintf(w->buf + w->off, w->len - w->off, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= w->len - w->off)
		w->overflow = 1;
	else
		w->off += n;
}

static void jmac(struct jw *w, const uint8_t *m)
{
	jp(w, "\"%02x:%02x:%02x:%02x:%02x:%02x\"", m[0], m[1], m[2], m[3], m[4], m[5]);
}

static void jmacs(struct jw *w, const uint8_t (*m)[6], uint32_t n)
{
	jp(w, "[");
	for (uint32_t i = 0; i < n; i++) {
		jp(w, i ? ", " : "");
		jmac(w, m[i]);
	}
	jp(w, "]");
}

#define JB(v) ((v) ? "true" : "false")

int vdpacvq_state_to_json(const struct vdpacvq_state *s, char *buf, size_t len)
{
	struct jw w = { buf, len, 0, 0 };
	unsigned int i, first = 1;

	if (!len)
		return -ENOSPC;
	jp(&w, "{\n  \"version\": 1,\n  \"features\": \"0x%016llx\",\n  \"max_pairs\": %u,\n  \"pairs\": %u,\n  \"mac\": ",
	   (unsigned long long)s->features, s->max_pairs, s->pairs);
	jmac(&w, s->mac);
	jp(&w, ",\n  \"rx\": {\"promisc\": %s, \"allmulti\": %s, \"alluni\": %s, \"nomulti\": %s, \"nouni\": %s, \"nobcast\": %s},\n",
	   JB(s->promisc), JB(s->allmulti), JB(s->alluni), JB(s->nomulti), JB(s->nouni), JB(s->nobcast));
	jp(&w, "  \"mac_table\": {\"unicast\": ");
	jmacs(&w, (const uint8_t (*)[6])s->uni, s->n_uni);
	jp(&w, ", \"multicast\": ");
	jmacs(&w, (const uint8_t (*)[6])s->multi, s->n_multi);
	jp(&w, ", \"unicast_overflow\": %s, \"multicast_overflow\": %s},\n  \"vlans\": [",
	   JB(s->uni_overflow), JB(s->multi_overflow));
	for (i = 0; i < 4096; i++)
		if (s->vlans[i / 8] & (1u << (i % 8))) {
			jp(&w, "%s%u", first ? "" : ", ", i);
			first = 0;
		}
	jp(&w, "],\n  \"offloads\": \"0x%016llx\",\n", (unsigned long long)s->offloads);
	jp(&w, "  \"rss\": {\"enabled\": %s, \"redirect\": %s, \"hash_types\": %u, \"indirection_table\": [",
	   JB(s->rss.enabled), JB(s->rss.redirect), s->rss.hash_types);
	for (i = 0; i < s->rss.table_len && i < VDPACVQ_RSS_TABLE_MAX; i++)
		jp(&w, "%s%u", i ? ", " : "", s->rss.table[i]);
	jp(&w, "], \"unclassified_queue\": %u, \"max_tx_vq\": %u, \"key\": \"", s->rss.unclassified,
	   s->rss.max_tx_vq);
	for (i = 0; i < s->rss.key_len && i < VDPACVQ_RSS_KEY_MAX; i++)
		jp(&w, "%02x", s->rss.key[i]);
	jp(&w, "\"},\n  \"rings\": [");
	for (i = 0; i < s->nvqs && i < VDPACVQ_MAX_VQS; i++)
		jp(&w, "%s{\"vq\": %u, \"pos\": %u}", i ? ", " : "", i, s->ring_pos[i]);
	jp(&w, "]\n}\n");
	return w.overflow ? -ENOSPC : (int)w.off;
}

/* ---- JSON reader: a small DOM over the input text ------------------------- */

enum jt { J_NULL, J_BOOL, J_NUM, J_STR, J_ARR, J_OBJ };

struct jn {
	enum jt t;
	const char *key, *s;	/* key and string: into the text, unescaped only if plain */
	size_t klen, slen;
	uint64_t num;
	int bool_;
	int child, next;	/* node indices, -1 = none */
};

struct jr {
	const char *p;
	struct jn *n;
	int nn, cap, depth;
	char *err;
	size_t errlen;
};

static void skipws(struct jr *r)
{
	while (*r->p == ' ' || *r->p == '\n' || *r->p == '\t' || *r->p == '\r')
		r->p++;
}

static int jstr(struct jr *r, const char **s, size_t *len)
{
	const char *b;

	if (*r->p != '"')
		return -1;
	b = ++r->p;
	/* our format has no escapes: refuse them rather than mis-read */
	while (*r->p && *r->p != '"') {
		if (*r->p == '\\' || (unsigned char)*r->p < 0x20)
			return -1;
		r->p++;
	}
	if (*r->p != '"')
		return -1;
	*s = b;
	*len = r->p - b;
	r->p++;
	return 0;
}

static int jval(struct jr *r)
{
	int me, prev = -1, c;

	skipws(r);
	if (r->nn >= r->cap || r->depth > 8)
		return -1;
	me = r->nn++;
	memset(&r->n[me], 0, sizeof(r->n[me]));
	r->n[me].child = r->n[me].next = -1;
	if (*r->p == '{' || *r->p == '[') {
		int obj = *r->p == '{';

		r->n[me].t = obj ? J_OBJ : J_ARR;
		r->p++;
		skipws(r);
		if (*r->p == (obj ? '}' : ']')) {
			r->p++;
			return me;
		}
		r->depth++;
		for (;;) {
			const char *k = NULL;
			size_t kl = 0;

			skipws(r);
			if (obj) {
				if (jstr(r, &k, &kl))
					return -1;
				skipws(r);
				if (*r->p != ':')
					return -1;
				r->p++;
			}
			c = jval(r);
			if (c < 0)
				return -1;
			r->n[c].key = k;
			r->n[c].klen = kl;
			if (prev < 0)
				r->n[me].child = c;
			else
				r->n[prev].next = c;
			prev = c;
			skipws(r);
			if (*r->p == ',') {
				r->p++;
				continue;
			}
			if (*r->p != (obj ? '}' : ']'))
				return -1;
			r->p++;
			break;
		}
		r->depth--;
		return me;
	}
	if (*r->p == '"') {
		r->n[me].t = J_STR;
		return jstr(r, &r->n[me].s, &r->n[me].slen) ? -1 : me;
	}
	if (!strncmp(r->p, "true", 4) || !strncmp(r->p, "false", 5)) {
		r->n[me].t = J_BOOL;
		r->n[me].bool_ = *r->p == 't';
		r->p += r->n[me].bool_ ? 4 : 5;
		return me;
	}
	if (!strncmp(r->p, "null", 4)) {
		r->p += 4;
		return me;
	}
	if (*r->p >= '0' && *r->p <= '9') {
		char *e;

		errno = 0;
		r->n[me].t = J_NUM;
		r->n[me].num = strtoull(r->p, &e, 10);
		if (errno || *e == '.' || *e == 'e' || *e == 'E')
			return -1;
		r->p = e;
		return me;
	}
	return -1;
}

/* Member KEY of object O, or -1. */
static int jget(struct jr *r, int o, const char *key)
{
	for (int c = r->n[o].child; c >= 0; c = r->n[c].next)
		if (r->n[c].klen == strlen(key) && !strncmp(r->n[c].key, key, r->n[c].klen))
			return c;
	return -1;
}

/* Every member of O is one of the NULL-terminated KEYS, once (strict format). */
static int jonly(struct jr *r, int o, const char *const *keys)
{
	for (int c = r->n[o].child; c >= 0; c = r->n[c].next) {
		int ok = 0;

		/* readers differ on duplicates (first or last wins): refuse them */
		for (int x = r->n[c].next; x >= 0; x = r->n[x].next)
			if (r->n[x].klen == r->n[c].klen && !strncmp(r->n[x].key, r->n[c].key, r->n[c].klen)) {
				seterr(r->err, r->errlen, "duplicate member \"%.*s\"", (int)r->n[c].klen,
				       r->n[c].key);
				return -1;
			}

		for (int i = 0; keys[i]; i++)
			ok |= r->n[c].klen == strlen(keys[i]) && !strncmp(r->n[c].key, keys[i], r->n[c].klen);
		if (!ok) {
			seterr(r->err, r->errlen, "unknown member \"%.*s\"", (int)r->n[c].klen, r->n[c].key);
			return -1;
		}
	}
	return 0;
}

static int jnum(struct jr *r, int o, const char *key, uint64_t max, uint64_t *out)
{
	int c = jget(r, o, key);

	if (c < 0 || r->n[c].t != J_NUM || r->n[c].num > max) {
		seterr(r->err, r->errlen, "\"%s\": missing, not a number or out of range", key);
		return -1;
	}
	*out = r->n[c].num;
	return 0;
}

static int jbool(struct jr *r, int o, const char *key, uint8_t *out)
{
	int c = jget(r, o, key);

	if (c < 0 || r->n[c].t != J_BOOL) {
		seterr(r->err, r->errlen, "\"%s\": missing or not true/false", key);
		return -1;
	}
	*out = r->n[c].bool_;
	return 0;
}

static int jhex64(struct jr *r, int o, const char *key, uint64_t *out)
{
	int c = jget(r, o, key);
	char tmp[24], *e;

	if (c < 0 || r->n[c].t != J_STR || r->n[c].slen < 3 || r->n[c].slen > 18 ||
	    strncmp(r->n[c].s, "0x", 2)) {
		seterr(r->err, r->errlen, "\"%s\": missing or not a \"0x...\" string", key);
		return -1;
	}
	memcpy(tmp, r->n[c].s, r->n[c].slen);
	tmp[r->n[c].slen] = 0;
	*out = strtoull(tmp, &e, 16);
	if (*e) {
		seterr(r->err, r->errlen, "\"%s\": not hexadecimal", key);
		return -1;
	}
	return 0;
}

static int jmacstr(struct jr *r, int c, uint8_t mac[6])
{
	char tmp[18];
	const char *e;

	if (c < 0 || r->n[c].t != J_STR || r->n[c].slen != 17)
		return -1;
	memcpy(tmp, r->n[c].s, 17);
	tmp[17] = 0;
	return parse_mac(tmp, mac, &e);
}

static int jmaclist(struct jr *r, int o, const char *key, uint8_t (*macs)[6], uint32_t *n)
{
	int a = jget(r, o, key);

	*n = 0;
	if (a < 0 || r->n[a].t != J_ARR)
		goto bad;
	for (int c = r->n[a].child; c >= 0; c = r->n[c].next) {
		if (*n >= VDPACVQ_MAC_TABLE_MAX || jmacstr(r, c, macs[*n]))
			goto bad;
		(*n)++;
	}
	return 0;
bad:
	seterr(r->err, r->errlen, "\"%s\": not a list of at most %d MAC addresses", key, VDPACVQ_MAC_TABLE_MAX);
	return -1;
}

static int memchr_nonzero(const uint8_t *p, size_t n)
{
	while (n--)
		if (*p++)
			return 1;
	return 0;
}

/*
 * A state read from a file must be one a device can be brought to by its
 * restore plan: what no command sequence reaches would be restored as
 * something else, or fail half-way through the restore.
 */
static int json_consistent(struct jr *r, const struct vdpacvq_state *s)
{
	const char *why = NULL;
	uint32_t i;

	if (s->offloads & ~vdpacvq_guest_offloads(s->features))
		why = "\"offloads\": an offload whose feature was not negotiated";
	else if (!(s->features & (BIT(VIRTIO_NET_F_MQ) | BIT(VIRTIO_NET_F_RSS))) &&
		 (s->max_pairs != 1 || s->pairs != 1))
		why = "\"pairs\"/\"max_pairs\": more than 1 without MQ or RSS";
	else if ((s->uni_overflow && s->n_uni) || (s->multi_overflow && s->n_multi))
		why = "\"mac_table\": entries and an overflow of the same kind";
	else if (!HAS(s, CTRL_RX) && (!s->promisc || s->allmulti || s->n_uni || s->n_multi ||
				      s->uni_overflow || s->multi_overflow))
		why = "\"rx\"/\"mac_table\": changed without CTRL_RX";
	else if (!HAS(s, CTRL_RX_EXTRA) && (s->alluni || s->nomulti || s->nouni || s->nobcast))
		why = "\"rx\": alluni, nomulti, nouni or nobcast without CTRL_RX_EXTRA";
	else if (!HAS(s, CTRL_VLAN) && memchr_nonzero(s->vlans, sizeof(s->vlans)))
		why = "\"vlans\": VLANs without CTRL_VLAN";
	else if (!HAS(s, CTRL_GUEST_OFFLOADS) && s->offloads != vdpacvq_guest_offloads(s->features))
		why = "\"offloads\": changed without CTRL_GUEST_OFFLOADS";
	if (why || !s->rss.enabled)
		goto out;
	if (!s->rss.hash_types || !s->rss.key_len)
		why = "\"rss\": enabled without hash types or without a key";
	else if (!(s->rss.redirect ? HAS(s, RSS) : HAS(s, HASH_REPORT)))
		why = "\"rss\": enabled without its feature";
	else if (!s->rss.redirect && (s->rss.table_len || s->rss.max_tx_vq || s->rss.unclassified))
		why = "\"rss\": a hash configuration with an indirection table";
	else if (s->rss.redirect &&
		 (!s->rss.table_len || (s->rss.table_len & (s->rss.table_len - 1)) ||
		  s->rss.unclassified >= s->max_pairs || !s->rss.max_tx_vq ||
		  s->rss.max_tx_vq > s->max_pairs || s->pairs != s->rss.max_tx_vq))
		why = "\"rss\": table length not a power of two, a queue beyond max_pairs, or pairs != max_tx_vq";
	for (i = 0; !why && s->rss.redirect && i < s->rss.table_len; i++)
		if (s->rss.table[i] >= s->max_pairs)
			why = "\"rss\": an indirection table entry beyond max_pairs";
out:
	if (why)
		seterr(r->err, r->errlen, "%s", why);
	return why ? -1 : 0;
}

static int json_state(struct jr *r, int root, struct vdpacvq_state *s)
{
	static const char *const top[] = { "version", "features", "max_pairs", "pairs", "mac", "rx", "mac_table",
					   "vlans", "offloads", "rss", "rings", NULL };
	static const char *const rxk[] = { "promisc", "allmulti", "alluni", "nomulti", "nouni", "nobcast", NULL };
	static const char *const mtk[] = { "unicast", "multicast", "unicast_overflow", "multicast_overflow", NULL };
	static const char *const rssk[] = { "enabled", "redirect", "hash_types", "indirection_table",
					    "unclassified_queue", "max_tx_vq", "key", NULL };
	uint64_t v;
	int o, c;

	if (r->n[root].t != J_OBJ) {
		seterr(r->err, r->errlen, "not a JSON object");
		return -1;
	}
	if (jonly(r, root, top))
		return -1;
	if (jnum(r, root, "version", 1, &v) || v != 1) {
		seterr(r->err, r->errlen, "\"version\" must be 1");
		return -1;
	}
	if (jhex64(r, root, "features", &s->features) || jhex64(r, root, "offloads", &s->offloads))
		return -1;
	if (jnum(r, root, "max_pairs", 0x8000, &v) || !v)
		goto range;
	s->max_pairs = v;
	if (jnum(r, root, "pairs", s->max_pairs, &v) || !v)
		goto range;
	s->pairs = v;
	if (jmacstr(r, jget(r, root, "mac"), s->mac)) {
		seterr(r->err, r->errlen, "\"mac\": not a MAC address");
		return -1;
	}
	o = jget(r, root, "rx");
	if (o < 0 || r->n[o].t != J_OBJ || jonly(r, o, rxk) ||
	    jbool(r, o, "promisc", &s->promisc) || jbool(r, o, "allmulti", &s->allmulti) ||
	    jbool(r, o, "alluni", &s->alluni) || jbool(r, o, "nomulti", &s->nomulti) ||
	    jbool(r, o, "nouni", &s->nouni) || jbool(r, o, "nobcast", &s->nobcast))
		goto obj;
	o = jget(r, root, "mac_table");
	if (o < 0 || r->n[o].t != J_OBJ || jonly(r, o, mtk) ||
	    jmaclist(r, o, "unicast", s->uni, &s->n_uni) || jmaclist(r, o, "multicast", s->multi, &s->n_multi) ||
	    jbool(r, o, "unicast_overflow", &s->uni_overflow) || jbool(r, o, "multicast_overflow", &s->multi_overflow))
		goto obj;
	o = jget(r, root, "vlans");
	if (o < 0 || r->n[o].t != J_ARR)
		goto obj;
	for (c = r->n[o].child; c >= 0; c = r->n[c].next) {
		if (r->n[c].t != J_NUM || r->n[c].num >= 4096) {
			seterr(r->err, r->errlen, "\"vlans\": a VLAN id is not a number below 4096");
			return -1;
		}
		s->vlans[r->n[c].num / 8] |= 1u << (r->n[c].num % 8);
	}
	o = jget(r, root, "rss");
	if (o < 0 || r->n[o].t != J_OBJ || jonly(r, o, rssk) ||
	    jbool(r, o, "enabled", &s->rss.enabled) || jbool(r, o, "redirect", &s->rss.redirect))
		goto obj;
	if (jnum(r, o, "hash_types", 0xffffffffu, &v))
		return -1;
	s->rss.hash_types = v;
	if (jnum(r, o, "unclassified_queue", 0xffff, &v))
		return -1;
	s->rss.unclassified = v;
	if (jnum(r, o, "max_tx_vq", 0xffff, &v))
		return -1;
	s->rss.max_tx_vq = v;
	c = jget(r, o, "indirection_table");
	if (c < 0 || r->n[c].t != J_ARR)
		goto obj;
	for (c = r->n[c].child; c >= 0; c = r->n[c].next) {
		if (r->n[c].t != J_NUM || r->n[c].num > 0xffff || s->rss.table_len >= VDPACVQ_RSS_TABLE_MAX) {
			seterr(r->err, r->errlen, "\"indirection_table\": bad entry or too long");
			return -1;
		}
		s->rss.table[s->rss.table_len++] = r->n[c].num;
	}
	c = jget(r, o, "key");
	if (c < 0 || r->n[c].t != J_STR || r->n[c].slen % 2 || r->n[c].slen > 2 * VDPACVQ_RSS_KEY_MAX)
		goto obj;
	for (size_t i = 0; i < r->n[c].slen; i += 2) {
		int b = hexbyte(r->n[c].s + i);	/* both within the string: slen is even */

		if (b < 0) {
			seterr(r->err, r->errlen, "\"key\": not hexadecimal");
			return -1;
		}
		s->rss.key[s->rss.key_len++] = b;
	}
	o = jget(r, root, "rings");
	if (o < 0 || r->n[o].t != J_ARR)
		goto obj;
	for (c = r->n[o].child; c >= 0; c = r->n[c].next) {
		static const char *const rk[] = { "vq", "pos", NULL };
		uint64_t vq, pos;

		if (r->n[c].t != J_OBJ || jonly(r, c, rk) || jnum(r, c, "vq", VDPACVQ_MAX_VQS - 1, &vq) ||
		    jnum(r, c, "pos", 0xffff, &pos) || vq != s->nvqs) {
			seterr(r->err, r->errlen, "\"rings\": entries must be {\"vq\": 0, 1, ... in order, \"pos\": N}");
			return -1;
		}
		s->ring_pos[s->nvqs++] = pos;
	}
	return json_consistent(r, s);
range:
	seterr(r->err, r->errlen, "\"max_pairs\"/\"pairs\": missing or out of range (1 <= pairs <= max_pairs)");
	return -1;
obj:
	if (r->err && !r->err[0])
		seterr(r->err, r->errlen, "a member is missing or has the wrong type");
	return -1;
}

int vdpacvq_state_from_json(struct vdpacvq_state *s, const char *json, char *err, size_t errlen)
{
	struct jr r = { .p = json, .cap = 4096 + 512, .err = err, .errlen = errlen };
	struct vdpacvq_state t;
	int root, ret = -EINVAL;

	if (err && errlen)
		err[0] = 0;
	r.n = calloc(r.cap, sizeof(*r.n));
	if (!r.n)
		return -ENOMEM;
	root = jval(&r);
	skipws(&r);
	if (root < 0 || *r.p) {
		seterr(err, errlen, "not valid JSON near offset %ld", (long)(r.p - json));
		goto out;
	}
	memset(&t, 0, sizeof(t));
	if (json_state(&r, root, &t))
		goto out;
	*s = t;
	ret = 0;
out:
	free(r.n);
	return ret;
}
