/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * libvdpacvq: shadow the virtio-net control virtqueue of a vhost-vdpa device
 * in its own address space, as QEMU does (docs/vdpa-cvq.md).
 *
 * Two layers:
 *  - a pure part (no system calls): the device-state model, control command
 *    encoding, the model's reaction to an acknowledged command, the restore
 *    plan in QEMU's order, and the state as JSON;
 *  - a device part on /dev/vhost-vdpa-N: backend features, the CVQ isolation
 *    probe, and a session that owns a "guest" memory region in ASID 0 and the
 *    shadow CVQ in ASID 1.
 *
 * Errors are negative errno values; nothing is printed. A failing call leaves
 * a human-readable reason in vdpacvq_error() of the session, or in the
 * caller's buffer for the pure functions that take one.
 */
#ifndef VDPACVQ_H
#define VDPACVQ_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define VDPACVQ_MAC_TABLE_MAX	64	/* entries per table (QEMU: 64 in all, unicast first) */
#define VDPACVQ_RSS_TABLE_MAX	128	/* indirection table entries */
#define VDPACVQ_RSS_KEY_MAX	40
#define VDPACVQ_MAX_VQS		65	/* 32 pairs and the CVQ */
#define VDPACVQ_CMD_MAX		1024	/* class, command and data bytes */

/*
 * The features a session negotiates at most: the one allow-list of the
 * session (vdpacvq_session_features() applies it). The session drives split
 * rings only, with a fixed 12-byte virtio_net_hdr_v1, 2 KiB receive buffers
 * and kicks without data, so of the transport features only ANY_LAYOUT (27),
 * INDIRECT_DESC (28), EVENT_IDX (29), VERSION_1 (32) and ACCESS_PLATFORM
 * (33); never NOTIFY_ON_EMPTY (24), RING_PACKED (34), IN_ORDER (35),
 * ORDER_PLATFORM (36), SR_IOV (37), NOTIFICATION_DATA (38),
 * NOTIF_CONFIG_DATA (39), RING_RESET (40), ADMIN_VQ (41) or any other bit
 * of 24-49. Of the net features bits 0-3 and 5-23, GUEST_USO4/6 and
 * HOST_USO (54-56), GUEST_HDRLEN (59), RSS (60), RSC_EXT (61), STANDBY (62)
 * and SPEED_DUPLEX (63); never HASH_REPORT (57: a 20-byte header), nor the
 * statistics and coalescing classes (50, 52, 53) it does not implement.
 */
#define VDPACVQ_SESSION_FEATURES \
	((0xffffffull & ~(1ull << 4)) | /* net 0-3, 5-23 */ \
	 (1ull << 27) | (1ull << 28) | (1ull << 29) | (1ull << 32) | (1ull << 33) | \
	 (1ull << 54) | (1ull << 55) | (1ull << 56) | (1ull << 59) | (1ull << 60) | \
	 (1ull << 61) | (1ull << 62) | (1ull << 63))

/* Virtio status bits used by the session. */
#define VDPACVQ_ACK	0	/* VIRTIO_NET_OK */
#define VDPACVQ_NACK	1	/* VIRTIO_NET_ERR */

/*
 * The control state of a virtio-net device, as the consumer shadowed it.
 * Plain data: copy it, compare it with vdpacvq_state_equal().
 */
struct vdpacvq_state {
	uint64_t features;		/* negotiated */
	uint16_t max_pairs;		/* config space, 1 without MQ/RSS */
	uint16_t pairs;
	uint8_t mac[6];
	uint8_t promisc, allmulti, alluni, nomulti, nouni, nobcast;
	uint8_t uni_overflow, multi_overflow;
	uint32_t n_uni, n_multi;
	uint8_t uni[VDPACVQ_MAC_TABLE_MAX][6];
	uint8_t multi[VDPACVQ_MAC_TABLE_MAX][6];
	uint64_t offloads;
	uint8_t vlans[4096 / 8];	/* bitmap of VLAN ids */
	struct {
		uint8_t enabled;	/* RSS_CONFIG or HASH_CONFIG accepted */
		uint8_t redirect;	/* 1: RSS_CONFIG, 0: HASH_CONFIG */
		uint32_t hash_types;
		uint16_t table_len;	/* indirection_table_mask + 1 */
		uint16_t table[VDPACVQ_RSS_TABLE_MAX];
		uint16_t unclassified;
		uint16_t max_tx_vq;
		uint8_t key_len;
		uint8_t key[VDPACVQ_RSS_KEY_MAX];
	} rss;
	uint32_t nvqs;			/* data vqs whose positions are below */
	uint16_t ring_pos[VDPACVQ_MAX_VQS];
};

/* One control command: class, command and data, as the device reads them. */
struct vdpacvq_cmd {
	uint32_t len;			/* bytes in buf, >= 2 */
	uint8_t buf[VDPACVQ_CMD_MAX];
};

/* ---- pure part ----------------------------------------------------------- */

/*
 * The state right after a device reset (spec §9.5 of vhost-vdpa-cvq.md):
 * MAC from config space, promiscuous on, other RX modes off, empty tables,
 * one pair, every negotiated guest offload on, RSS off.
 */
void vdpacvq_state_init(struct vdpacvq_state *s, uint64_t features,
			const uint8_t mac[6], uint16_t max_pairs);

/* The guest offloads a device turns on at reset for these features. */
uint64_t vdpacvq_guest_offloads(uint64_t features);

/* Index of the CVQ for the negotiated features (2 * pairs with MQ or RSS). */
uint32_t vdpacvq_cvq_index(uint64_t features, uint16_t max_pairs);

int vdpacvq_state_equal(const struct vdpacvq_state *a, const struct vdpacvq_state *b);

/*
 * The features a session negotiates of OFFERED: OFFERED masked with
 * VDPACVQ_SESSION_FEATURES, and CTRL_RX_EXTRA dropped without CTRL_RX (the
 * virtio spec's dependency). vdpacvq_start() requires CTRL_VQ in the result,
 * and refuses a saved state whose features this would change.
 */
uint64_t vdpacvq_session_features(uint64_t offered);


/* Command encoders; 0 or -EINVAL (argument out of range for the command). */
int vdpacvq_enc_rx(struct vdpacvq_cmd *c, uint8_t rx_cmd, int on);
int vdpacvq_enc_mac_addr(struct vdpacvq_cmd *c, const uint8_t mac[6]);
int vdpacvq_enc_mac_table(struct vdpacvq_cmd *c, uint32_t n_uni, const uint8_t (*uni)[6],
			  uint32_t n_multi, const uint8_t (*multi)[6]);
int vdpacvq_enc_vlan(struct vdpacvq_cmd *c, int add, uint16_t vid);
int vdpacvq_enc_mq_pairs(struct vdpacvq_cmd *c, uint16_t pairs);
int vdpacvq_enc_offloads(struct vdpacvq_cmd *c, uint64_t offloads);
int vdpacvq_enc_announce(struct vdpacvq_cmd *c);
/* RSS_CONFIG (redirect) or HASH_CONFIG from the rss part of S. */
int vdpacvq_enc_rss(struct vdpacvq_cmd *c, const struct vdpacvq_state *s, int redirect);

/*
 * Parse a command given as text (the CLI's and the tests' syntax, see
 * vdpa-cvq(8)): "mac=52:54:00:12:34:56", "promisc=0", "allmulti=1",
 * "alluni=1", "nomulti=1", "nouni=1", "nobcast=1", "vlan-add=100",
 * "vlan-del=100", "mq=4", "offloads=0x...", "mac-table=U1,U2/M1,M2",
 * "rss=HASHTYPES:KEYHEX:Q0,Q1,...", "hash=HASHTYPES:KEYHEX", "announce".
 * Numbers are decimal or 0x-hex (a leading 0 before digits is refused, not
 * octal); MAC and key bytes are exactly two hex digits.
 * Returns 0, or -EINVAL with a reason in ERR.
 */
int vdpacvq_cmd_parse(struct vdpacvq_cmd *c, const char *text, char *err, size_t errlen);

/* A readable one-line description of a command, e.g. "MQ VQ_PAIRS_SET 4". */
void vdpacvq_cmd_describe(const struct vdpacvq_cmd *c, char *out, size_t len);

/*
 * Apply an acknowledged command to the model, as a virtio-net device would.
 * Returns 0; -EOPNOTSUPP when its feature is not negotiated; -EINVAL when
 * the command is malformed or out of range (the device should not have
 * acknowledged it). S is unchanged on error.
 */
int vdpacvq_model_apply(struct vdpacvq_state *s, const uint8_t *buf, size_t len);

/*
 * The commands QEMU 10.0.2's restore (vhost_vdpa_net_cvq_load) sends for
 * state S to a freshly reset device, in its order (§6.2): MAC, MAC table,
 * MQ pairs, RSS/hash, offloads, RX modes, VLANs; only values that differ
 * from the post-reset defaults, except the MAC and the pair count; with
 * QEMU's values where they are not S's (see vdpacvq_state_restored()).
 * Returns the number of commands written (at most MAX), or -ENOSPC.
 */
int vdpacvq_restore_plan(const struct vdpacvq_state *s, struct vdpacvq_cmd *out, int max);

/*
 * The state the restore plan of S brings a freshly reset device to, which
 * is S except where QEMU 10.0.2's load functions restore only approximately
 * (docs/migration.md, "QEMU 10.0.2 facts"):
 *  - RSS or hash configuration disabled (no hash types, e.g. Linux's
 *    "ethtool -K ethX rxhash off"): not sent, so all zero after the restore;
 *  - MQ not negotiated (RSS alone): neither the pairs nor RSS are sent,
 *    so one pair and RSS all zero;
 *  - the RSS key: always 40 bytes (hash_key_length 40), a shorter saved key
 *    zero-padded;
 *  - RSS negotiated and a HASH_CONFIG state: sent as RSS_CONFIG with a
 *    one-entry table { 0 }, unclassified queue 0, max_tx_vq the pair count;
 *  - a unicast table overflow: promiscuous mode on, no overflow flag;
 *  - a multicast table overflow, or more than 64 table entries in all
 *    (QEMU's model holds 64, unicast first): all-multicast mode on, no
 *    multicast entries, no overflow flag;
 *  - CTRL_RX_EXTRA without CTRL_RX: the ALLUNI, NOMULTI, NOUNI and NOBCAST
 *    modes are not sent, so off.
 * Ring positions (nvqs, ring_pos) are copied. OUT may be S.
 */
void vdpacvq_state_restored(const struct vdpacvq_state *s, struct vdpacvq_state *out);

/* JSON (one object, see docs/vdpa-cvq.md); length written or -ENOSPC. */
int vdpacvq_state_to_json(const struct vdpacvq_state *s, char *buf, size_t len);
/*
 * Strict reader of that format (no unknown or duplicate members); 0 or
 * -EINVAL with a reason in ERR.
 */
int vdpacvq_state_from_json(struct vdpacvq_state *s, const char *json, char *err, size_t errlen);

/* ---- device part --------------------------------------------------------- */

enum vdpacvq_verdict {
	VDPACVQ_ISOLATED = 0,
	VDPACVQ_NOT_ISOLATED = 1,	/* see reason */
	VDPACVQ_NO_CVQ = 3,		/* not a net device with CTRL_VQ */
};

enum vdpacvq_reason {
	VDPACVQ_R_NONE,
	VDPACVQ_R_NO_IOTLB_ASID,	/* backend feature missing */
	VDPACVQ_R_NO_GROUPS,		/* GET_VRING_GROUP: EOPNOTSUPP */
	VDPACVQ_R_SHARED_GROUP,		/* a data vq shares the CVQ's group */
	VDPACVQ_R_ONE_AS,		/* GET_AS_NUM < 2 */
	VDPACVQ_R_ONE_GROUP,		/* GET_GROUP_NUM < 2 */
	VDPACVQ_R_NOT_NET,
	VDPACVQ_R_NO_CTRL_VQ,
};

/* One feature set's view of the CVQ (QEMU probes all offered features). */
struct vdpacvq_probe_set {
	uint64_t features;
	uint32_t cvq;			/* CVQ index */
	uint32_t group;			/* its group */
	int shared_vq;			/* first data vq in that group, or -1 */
};

struct vdpacvq_probe {
	enum vdpacvq_verdict verdict;
	enum vdpacvq_reason reason;
	int qemu_isolated;		/* QEMU's probe alone (§3, set[0]) would say isolated */
	uint64_t backend_offered, backend_acked;
	uint32_t device_id, nvqs, ngroups, nas;
	uint64_t offered;		/* device features */
	uint16_t max_pairs;
	int nsets;			/* 1, 2 with MQ/RSS offered, 3 with RSS without MQ */
	/*
	 * [0]: all offered at QEMU's CVQ index (2 x max pairs only with MQ
	 * offered, else 2: QEMU's probe, §3); [1]: without MQ/RSS (index 2);
	 * [2]: RSS without MQ, all offered at the index a driver negotiating
	 * RSS uses (2 x max pairs)
	 */
	struct vdpacvq_probe_set set[3];
	int bad_set;			/* set whose check failed, or -1 */
};

struct vdpacvq_dev;

/* Open PATH, SET_OWNER, negotiate MSG_V2|BATCH|IOTLB_ASID (+SUSPEND). */
int vdpacvq_open(const char *path, struct vdpacvq_dev **out);
void vdpacvq_close(struct vdpacvq_dev *d);
const char *vdpacvq_error(const struct vdpacvq_dev *d);
int vdpacvq_fd(const struct vdpacvq_dev *d);

/*
 * QEMU's isolation probe (§3) followed by our stricter checks (§10):
 * GET_AS_NUM >= 2, GET_GROUP_NUM >= 2, and the CVQ alone for each feature
 * set a driver may negotiate. FEATURES_MASK (0 = all) restricts the offered
 * features, as a VMM that never negotiates some (e.g. mq=off). Ends with a
 * reset. 0 (see P->verdict) or -errno when an ioctl failed in a way QEMU
 * treats as fatal.
 */
int vdpacvq_probe(struct vdpacvq_dev *d, uint64_t features_mask, struct vdpacvq_probe *p);
/* "isolated", or why not, on one line. */
void vdpacvq_probe_describe(const struct vdpacvq_probe *p, char *out, size_t len);

enum vdpacvq_mode {
	VDPACVQ_MODE_ISOLATED,		/* CVQ group -> ASID 1 (normal start) */
	VDPACVQ_MODE_SHADOW_ALL,	/* migration start: everything in ASID 0 */
};

struct vdpacvq_start_opts {
	size_t size;			/* sizeof(struct vdpacvq_start_opts) */
	enum vdpacvq_mode mode;
	uint64_t features_mask;		/* vdpacvq_session_features(offered & mask) is
					 * negotiated; 0 = no mask */
	const struct vdpacvq_state *restore;	/* replay this state, or NULL */
	int timeout_ms;			/* per command batch; 0 = 10000 */
};

/*
 * Start the device as QEMU does (§4): guest memory in ASID 0, features,
 * CVQ group to ASID 1 and the shadow CVQ there (MODE_ISOLATED), vrings,
 * DRIVER_OK, CVQ enabled, the restore plan replayed, then the data vqs
 * enabled. Any NACK during the replay fails the start (-EPROTO).
 */
int vdpacvq_start(struct vdpacvq_dev *d, const struct vdpacvq_start_opts *o);

/*
 * Send one guest command through the shadow CVQ. *ACK gets the device's
 * answer; on ACK the model is updated. 0, -ETIMEDOUT, -EPROTO (the device
 * answered something the model rejects, or an invalid used element).
 */
int vdpacvq_send(struct vdpacvq_dev *d, const struct vdpacvq_cmd *c, uint8_t *ack);

/*
 * Send N guest commands through the shadow CVQ, up to 32 per kick: each
 * group of 32 is made available at once, kicked once, and its used entries
 * awaited, as a VMM replaying a state does. ACKS[i] gets each answer; the
 * model follows every ACK. A NACK does not stop the rest. announce (answered
 * by the VMM itself) is refused here with -EINVAL. Errors as vdpacvq_send().
 */
int vdpacvq_send_batch(struct vdpacvq_dev *d, const struct vdpacvq_cmd *cmds, int n, uint8_t *acks);

/*
 * Data path (guest memory, ASID 0): each RX queue has 6 buffers of 2 KiB
 * posted at start; a frame carries a 12-byte virtio_net_hdr_v1 (zeroed).
 * frame_send puts LEN bytes on PAIR's TX queue and waits until the device
 * has used them; frame_recv takes the next frame from PAIR's RX queue and
 * posts the buffer again. 0, -ETIMEDOUT, -EPROTO (bad used element),
 * -EINVAL (pair not in use, frame too big).
 *
 * Which RX queue a frame arrives on is the device's choice: without RSS a
 * virtio-net device may use any active pair's (vduse-net hands a frame from
 * TAP queue k to pair k, and tun picks the TAP queue by flow, or by hash for
 * a flow it does not know or forgot). frame_recv_any waits on the RX queue
 * of every pair of the session (all are enabled at start) and takes the
 * first frame any of them has, its pair in *PAIR; a consumer that does not
 * choose the pair itself (no RSS steering) should use it.
 */
int vdpacvq_frame_send(struct vdpacvq_dev *d, uint16_t pair, const void *frame, size_t len);
int vdpacvq_frame_recv(struct vdpacvq_dev *d, uint16_t pair, void *buf, size_t cap, size_t *len);
int vdpacvq_frame_recv_any(struct vdpacvq_dev *d, void *buf, size_t cap, size_t *len, uint16_t *pair);

/* The model as it stands (valid after start). */
const struct vdpacvq_state *vdpacvq_model(const struct vdpacvq_dev *d);

/*
 * Stop: reset the device (SET_STATUS 0), record the ring positions of the
 * data vqs in the model (the guest-visible used index, as QEMU does without
 * SUSPEND), and remove every mapping.
 */
int vdpacvq_stop(struct vdpacvq_dev *d);

/* Layout facts, for tests that check what the device can see. */
struct vdpacvq_layout {
	uint64_t guest_iova, guest_size;	/* ASID 0 */
	uint64_t shadow_iova, shadow_size;	/* ASID 1, or 0 in SHADOW_ALL */
	uint32_t shadow_asid;
	uint32_t cvq, cvq_group;
};
void vdpacvq_get_layout(const struct vdpacvq_dev *d, struct vdpacvq_layout *l);

/*
 * For tests that play a hostile driver (tests/vm/guest/hostile_drv.c):
 * data vq VQ's split ring as the session keeps it in guest memory (the
 * whole region, at guest_iova in ASID 0), and a kick. Writing the ring
 * behind the session's back desynchronises it: stop the session after.
 */
struct vdpacvq_raw_ring {
	void *desc, *avail, *used;	/* struct vring_desc/avail/used */
	uint16_t num;
	uint8_t *guest;			/* guest memory, guest_size bytes */
};
int vdpacvq_raw_ring(struct vdpacvq_dev *d, uint32_t vq, struct vdpacvq_raw_ring *r);
int vdpacvq_raw_kick(struct vdpacvq_dev *d, uint32_t vq);

#ifdef __cplusplus
}
#endif
#endif
