// SPDX-License-Identifier: GPL-2.0
/*
 * Fuzz target: the virtio-net control plane, device against consumer.
 *
 * vduse-net answers control commands with devices/net/cvq.c; a consumer that
 * shadows the CVQ applies every command the device acknowledged to its own
 * model (libvdpacvq here, QEMU's virtio-net in a migration). If the two
 * disagree, the state the migration stream carries is not the device's
 * (vhost-vdpa-cvq.md §5: "bad CVQ processing in model"). So, whatever the
 * driver sends:
 *  - the device acknowledges a command exactly when the model accepts it,
 *    and both then hold the same control state;
 *  - RSS steers every frame to a queue pair that exists, and every state
 *    the device reaches passes the check a restarted daemon makes;
 *  - the consumer's restore plan (QEMU's load order) brings a freshly reset
 *    device to a state that filters the same frames, every command
 *    acknowledged: what a migration destination does;
 *  - the state survives its JSON form (vdpa-cvq --save / --restore).
 * A violation aborts with the two states on stderr.
 *
 * Input: byte 0 the negotiated control features, byte 1 the queue pairs,
 * byte 2 the guest offloads, then commands, each a 16-bit little-endian
 * length and that many bytes (class, command, data).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/virtio_net.h>
#include "net.h"
#include "libvdpacvq.h"

#define F(b)		(1ull << (b))
#define FZ_PLAN_MAX	4200	/* one VLAN command per id, and the rest */

static const uint8_t fz_cfg_mac[6] = { 0x52, 0x54, 0x00, 0x12, 0x34, 0x56 };
/* control features picked by the bits of byte 0 */
static const uint8_t fz_ctrl_bits[8] = {
	VIRTIO_NET_F_CTRL_RX, VIRTIO_NET_F_CTRL_RX_EXTRA, VIRTIO_NET_F_CTRL_VLAN,
	VIRTIO_NET_F_CTRL_MAC_ADDR, VIRTIO_NET_F_MQ, VIRTIO_NET_F_RSS,
	VIRTIO_NET_F_CTRL_GUEST_OFFLOADS, VIRTIO_NET_F_GUEST_ANNOUNCE,
};
/* guest offloads picked by the bits of byte 2 (USO4, USO6: 54, 55) */
static const uint8_t fz_off_bits[7] = { 1, 7, 8, 9, 10, 54, 55 };

/* Seeds that reach an acknowledged command (the replay checks it). */
static unsigned long cvq_acks;

static struct vdpacvq_cmd fz_plan[FZ_PLAN_MAX];

static void fz_dev_init(struct net_state *d, uint64_t f, uint16_t pairs, bool announce)
{
	memset(d, 0, sizeof(*d));
	d->magic = NET_STATE_MAGIC;
	d->version = NET_STATE_VERSION;
	d->queue_size = 256;
	memcpy(d->cfg_mac, fz_cfg_mac, 6);
	d->max_pairs = pairs;
	d->cvq = 1;
	d->features = f;
	net_state_reset(d);
	/* what vduse-net does at DRIVER_OK */
	d->guest_offloads = f & NET_GUEST_OFFLOADS;
	d->status = VIRTIO_NET_S_LINK_UP | (announce ? VIRTIO_NET_S_ANNOUNCE : 0);
}

static void fz_dump(const char *why, const struct net_state *d, const struct vdpacvq_state *m,
		    const uint8_t *cmd, size_t len)
{
	static char json[1 << 16];
	size_t i;

	fprintf(stderr, "fuzz_cvq: %s\ncommand (%zu bytes):", why, len);
	for (i = 0; i < len && i < 64; i++)
		fprintf(stderr, " %02x", cmd[i]);
	fprintf(stderr, "\ndevice: mac %02x:%02x:%02x:%02x:%02x:%02x promisc %u allmulti %u "
		"alluni %u nomulti %u nouni %u nobcast %u uni %u%s multi %u%s pairs %u "
		"offloads %#llx rss %u types %#x table %u uncl %u key %u\n",
		d->mac[0], d->mac[1], d->mac[2], d->mac[3], d->mac[4], d->mac[5], d->promisc,
		d->allmulti, d->alluni, d->nomulti, d->nouni, d->nobcast, d->uni_count,
		d->uni_overflow ? "+" : "", d->multi_count, d->multi_overflow ? "+" : "", d->pairs,
		(unsigned long long)d->guest_offloads, d->rss_enabled, d->rss_hash_types,
		d->rss_table_len, d->rss_unclassified, d->rss_key_len);
	if (vdpacvq_state_to_json(m, json, sizeof(json)) > 0)
		fprintf(stderr, "model: %s\n", json);
	abort();
}

/* The control state both keep, field by field. */
static bool fz_same(const struct net_state *d, const struct vdpacvq_state *m)
{
	if (memcmp(d->mac, m->mac, 6) || d->promisc != m->promisc || d->allmulti != m->allmulti ||
	    d->alluni != m->alluni || d->nomulti != m->nomulti || d->nouni != m->nouni ||
	    d->nobcast != m->nobcast || d->uni_overflow != m->uni_overflow ||
	    d->multi_overflow != m->multi_overflow || d->uni_count != m->n_uni ||
	    d->multi_count != m->n_multi || memcmp(d->uni, m->uni, 6 * m->n_uni) ||
	    memcmp(d->multi, m->multi, 6 * m->n_multi) || memcmp(d->vlans, m->vlans, sizeof(d->vlans)) ||
	    d->pairs != m->pairs || d->guest_offloads != m->offloads ||
	    d->rss_enabled != m->rss.enabled)
		return false;
	/* a device may keep a disabled configuration; only a live one counts */
	return !d->rss_enabled ||
	       (d->rss_hash_types == m->rss.hash_types && d->rss_table_len == m->rss.table_len &&
		!memcmp(d->rss_table, m->rss.table, 2 * m->rss.table_len) &&
		d->rss_unclassified == m->rss.unclassified && d->rss_key_len == m->rss.key_len &&
		!memcmp(d->rss_key, m->rss.key, m->rss.key_len));
}

/*
 * Frames that probe the RX filter: to the device's MAC, every table entry,
 * broadcast, an unknown unicast and multicast address, each untagged and
 * tagged with a VLAN from the table and one that is not.
 */
static unsigned int fz_probes(const struct net_state *d, uint8_t (*dst)[6], int *vid)
{
	static const uint8_t other_uni[6] = { 0x02, 0, 0, 0, 0xee, 0xee };
	static const uint8_t other_multi[6] = { 0x01, 0, 0x5e, 0, 0xee, 0xee };
	static const uint8_t bcast[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
	uint8_t macs[3 + 2 * NET_MAC_TABLE + 1][6];
	unsigned int n = 0, k = 0, i, j;
	int tagged = -1, v;

	memcpy(macs[n++], d->mac, 6);
	memcpy(macs[n++], bcast, 6);
	memcpy(macs[n++], other_uni, 6);
	memcpy(macs[n++], other_multi, 6);
	for (i = 0; i < d->uni_count && i < NET_MAC_TABLE; i++)
		memcpy(macs[n++], d->uni[i], 6);
	for (i = 0; i < d->multi_count && i < NET_MAC_TABLE; i++)
		memcpy(macs[n++], d->multi[i], 6);
	for (v = 0; v < 4096 && tagged < 0; v++)
		if (d->vlans[v / 8] & (1u << (v % 8)))
			tagged = v;
	for (i = 0; i < n; i++) {
		const int vids[3] = { -1, tagged, 4095 };

		for (j = 0; j < 3; j++) {
			memcpy(dst[k], macs[i], 6);
			vid[k++] = vids[j];
		}
	}
	return k;
}

static bool fz_accept(const struct net_state *d, uint64_t f, const uint8_t *mac, int vid)
{
	uint8_t fr[64] = { 0 };
	size_t n = 12;

	memcpy(fr, mac, 6);
	memcpy(fr + 6, "\x02\x00\x00\x00\x00\x01", 6);
	if (vid >= 0) {
		fr[n++] = 0x81;
		fr[n++] = 0x00;
		fr[n++] = vid >> 8;
		fr[n++] = vid & 0xff;
	}
	fr[n++] = 0x08;
	fr[n++] = 0x00;
	return net_rx_accept(d, f, fr, sizeof(fr));
}

/*
 * The restored device @r must let through every frame the original @d did;
 * it may let through more only where QEMU's restore turns on promiscuous or
 * all-multicast mode instead of a table: an overflow, or more than 64
 * entries in all (vdpacvq_state_restored()).
 */
static void fz_same_filter(const struct net_state *d, const struct net_state *r, uint64_t f,
			   const struct vdpacvq_state *m)
{
	static uint8_t dst[3 * (4 + 2 * NET_MAC_TABLE)][6];
	static int vid[3 * (4 + 2 * NET_MAC_TABLE)];
	unsigned int n = fz_probes(d, dst, vid), i;
	struct vdpacvq_state w;
	bool wider;

	/* QEMU's restore widens the filter for an overflow, or 64 entries in all */
	vdpacvq_state_restored(m, &w);
	wider = m->uni_overflow || m->multi_overflow || w.promisc != m->promisc || w.allmulti != m->allmulti;

	for (i = 0; i < n; i++) {
		bool a = fz_accept(d, f, dst[i], vid[i]), b = fz_accept(r, f, dst[i], vid[i]);

		if (a && !b)
			fz_dump("the restored device drops a frame the original passed", r, m,
				dst[i], 6);
		if (!a && b && !wider)
			fz_dump("the restored device passes a frame the original dropped", r, m,
				dst[i], 6);
	}
}

/*
 * A refusal the model cannot foresee: it knows the negotiated features, not
 * the device's configuration space, whose supported_hash_types bounds RSS.
 */
static bool fz_config_limit(const uint8_t *cmd, size_t len)
{
	return len >= 6 && cmd[0] == VIRTIO_NET_CTRL_MQ && cmd[1] == VIRTIO_NET_CTRL_MQ_RSS_CONFIG &&
	       ((uint32_t)cmd[2] | cmd[3] << 8 | cmd[4] << 16 | (uint32_t)cmd[5] << 24) &
	       ~(uint32_t)NET_RSS_HASH_TYPES;
}

/* A migration destination: reset, DRIVER_OK, the restore plan. */
static void fz_restore(const struct net_state *d, const struct vdpacvq_state *m, uint64_t f,
		       uint16_t pairs)
{
	static struct net_state r;
	static char json[1 << 16];
	struct vdpacvq_state back, m2, want;
	unsigned int chg;
	bool no_mq_rss = (f & F(VIRTIO_NET_F_RSS)) && !(f & F(VIRTIO_NET_F_MQ));
	char err[128];
	int n, i;

	n = vdpacvq_restore_plan(m, fz_plan, FZ_PLAN_MAX);
	if (n < 0)
		fz_dump("no restore plan for the model's state", d, m, NULL, 0);
	fz_dev_init(&r, f, pairs, false);
	vdpacvq_state_init(&m2, f, fz_cfg_mac, pairs);
	for (i = 0; i < n; i++) {
		if (net_ctrl_handle(&r, f, fz_plan[i].buf, fz_plan[i].len, &chg) != VIRTIO_NET_OK)
			fz_dump("the device refuses a command of the restore plan", &r, m,
				fz_plan[i].buf, fz_plan[i].len);
		if (vdpacvq_model_apply(&m2, fz_plan[i].buf, fz_plan[i].len))
			fz_dump("the model refuses a command of its own restore plan", &r, m,
				fz_plan[i].buf, fz_plan[i].len);
	}
	/*
	 * Everything but the RX filter's overflow form and the RSS key's
	 * length (40, zero-padded) comes back as it was; without MQ, QEMU
	 * 10.0.2 restores neither the pairs nor RSS (vhost_vdpa_net_load_mq()
	 * returns first), and nor does the plan.
	 */
	if ((no_mq_rss ? 0 : r.pairs != d->pairs || r.rss_enabled != d->rss_enabled) ||
	    memcmp(r.mac, d->mac, 6) || r.guest_offloads != d->guest_offloads ||
	    memcmp(r.vlans, d->vlans, sizeof(r.vlans)) || r.alluni != d->alluni ||
	    r.nomulti != d->nomulti || r.nouni != d->nouni || r.nobcast != d->nobcast)
		fz_dump("the restored device differs from the original", &r, m, NULL, 0);
	/* and exactly as vdpacvq_state_restored() says, with no exception */
	vdpacvq_state_restored(m, &want);
	if (!fz_same(&r, &want))
		fz_dump("the restored device differs from vdpacvq_state_restored() of the model", &r, m, NULL, 0);
	if (!vdpacvq_state_equal(&m2, &want))
		fz_dump("the model replaying its plan differs from vdpacvq_state_restored()", &r, m, NULL, 0);
	fz_same_filter(d, &r, f, m);
	if (vdpacvq_state_to_json(m, json, sizeof(json)) < 0 ||
	    vdpacvq_state_from_json(&back, json, err, sizeof(err)) || !vdpacvq_state_equal(&back, m))
		fz_dump("the model's state does not survive its JSON form", d, m, NULL, 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct net_state d;
	struct vdpacvq_state m, t;
	uint64_t f = F(VIRTIO_NET_F_CTRL_VQ) | F(VIRTIO_NET_F_MAC) | F(32);
	uint16_t pairs = 1;
	size_t off = 3;
	unsigned int i, chg;

	if (size < 3)
		return 0;
	for (i = 0; i < 8; i++)
		if (data[0] & (1u << i))
			f |= F(fz_ctrl_bits[i]);
	for (i = 0; i < 7; i++)
		if (data[2] & (1u << i))
			f |= F(fz_off_bits[i]);
	/* a set a driver may negotiate: CTRL_RX_EXTRA needs CTRL_RX (virtio 1.2 §5.1.3.1) */
	if (!(f & F(VIRTIO_NET_F_CTRL_RX)))
		f &= ~F(VIRTIO_NET_F_CTRL_RX_EXTRA);
	if (f & (F(VIRTIO_NET_F_MQ) | F(VIRTIO_NET_F_RSS)))
		pairs = 1 + data[1] % (VDPACVQ_MAX_VQS / 2);
	fz_dev_init(&d, f, pairs, data[2] & 0x80);
	vdpacvq_state_init(&m, f, fz_cfg_mac, pairs);

	while (off + 2 <= size) {
		size_t len = data[off] | data[off + 1] << 8;
		const uint8_t *cmd = data + off + 2;
		uint8_t ack;
		int q, r;

		off += 2;
		if (len > size - off)
			len = size - off;
		off += len;
		ack = net_ctrl_handle(&d, f, cmd, len, &chg);
		/* the consumer answers ANNOUNCE itself (vhost-vdpa-cvq.md §5) */
		if (len >= 1 && cmd[0] == VIRTIO_NET_CTRL_ANNOUNCE)
			continue;
		/* as a consumer: the model takes only what the device acknowledged */
		t = m;
		r = vdpacvq_model_apply(&t, cmd, len);
		if (ack == VIRTIO_NET_OK && r)
			fz_dump("the device acknowledged what the model refuses", &d, &m, cmd, len);
		if (ack != VIRTIO_NET_OK && !r && !fz_config_limit(cmd, len))
			fz_dump("the device refused what the model accepts", &d, &m, cmd, len);
		if (ack == VIRTIO_NET_OK)
			m = t;
		if (!fz_same(&d, &m))
			fz_dump("device and model hold different states", &d, &m, cmd, len);
		/* what a restarted daemon reads back must pass its own check */
		if (!net_state_valid(&d))
			fz_dump("a state the device reached fails net_state_valid()", &d, &m, cmd, len);
		cvq_acks += ack == VIRTIO_NET_OK;
		/* the command's bytes as a received frame */
		(void)net_rx_accept(&d, f, cmd, len);
		q = net_rss_queue(&d, cmd, len);
		if (q < -1 || q >= (int)pairs)
			fz_dump("RSS steers a frame to a queue pair that does not exist", &d, &m, cmd, len);
	}
	fz_restore(&d, &m, f, pairs);
	return 0;
}
