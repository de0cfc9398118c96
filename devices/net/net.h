/* SPDX-License-Identifier: GPL-2.0 */
/*
 * vduse-net: the device model shared by the daemon and its unit tests.
 *
 * struct net_state is everything the driver can change through the control
 * virtqueue plus the link state and the counters. The daemon keeps it in a
 * file mapping (NAME.state) so that a daemon restarted after a crash serves
 * the driver with the state it set up, without a reset.
 */
#ifndef VDUSE_NET_H
#define VDUSE_NET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define NET_MAX_PAIRS		64
#define NET_QUEUE_SIZE_MAX	32768	/* largest ring (--queue-size) */
#define NET_MAC_TABLE		64	/* entries per table (unicast, multicast) */
#define NET_RSS_KEY		40
#define NET_RSS_TABLE		128	/* indirection table entries */
#define NET_STATE_MAGIC		0x56444e53u	/* "VDNS" */
#define NET_STATE_VERSION	1

struct net_qstats {
	uint64_t packets, bytes, dropped;
};

struct net_state {
	uint32_t magic, version;

	/* layout, fixed at creation (a restarted daemon reuses it) */
	uint64_t features;		/* offered */
	uint8_t cfg_mac[6];		/* --mac: config space after reset */
	uint16_t mtu;
	uint16_t max_pairs;
	uint16_t queue_size;
	uint8_t cvq;			/* a control queue exists */
	uint8_t tap_created;		/* the daemon created the TAP */
	char tap[16];

	/* driver-visible state: what the CVQ changed (defaults after reset) */
	uint8_t mac[6];
	uint8_t promisc, allmulti, alluni, nomulti, nouni, nobcast;
	uint8_t uni_overflow, multi_overflow;
	uint32_t uni_count, multi_count;
	uint8_t uni[NET_MAC_TABLE][6];
	uint8_t multi[NET_MAC_TABLE][6];
	uint8_t vlans[4096 / 8];
	uint16_t pairs;			/* active queue pairs */
	uint64_t guest_offloads;
	uint8_t rss_enabled;
	uint8_t rss_key_len;
	uint16_t rss_table_len;		/* indirection_table_mask + 1 */
	uint32_t rss_hash_types;
	uint16_t rss_unclassified;
	uint16_t rss_table[NET_RSS_TABLE];
	uint8_t rss_key[NET_RSS_KEY];
	uint16_t status;		/* config status: LINK_UP, ANNOUNCE */
	uint8_t link_up;		/* wanted by the administrator */

	/* counters */
	uint64_t cvq_ok, cvq_err;
	uint64_t rx_filtered;		/* frames the RX filter dropped */
	struct net_qstats q[2 * NET_MAX_PAIRS + 1];
};

/* What a control command changed, so that the daemon applies it. */
enum {
	NET_CHG_PAIRS = 1 << 0,
	NET_CHG_OFFLOADS = 1 << 1,
	NET_CHG_MAC = 1 << 2,
	NET_CHG_STATUS = 1 << 3,
	NET_CHG_RSS = 1 << 4,
};

/* The hash types the device offers (config supported_hash_types). */
#define NET_RSS_HASH_TYPES (VIRTIO_NET_RSS_HASH_TYPE_IPv4 | VIRTIO_NET_RSS_HASH_TYPE_TCPv4 | \
			    VIRTIO_NET_RSS_HASH_TYPE_UDPv4 | VIRTIO_NET_RSS_HASH_TYPE_IPv6 | \
			    VIRTIO_NET_RSS_HASH_TYPE_TCPv6 | VIRTIO_NET_RSS_HASH_TYPE_UDPv6)

/* The guest offload features (CTRL_GUEST_OFFLOADS bits). */
#define NET_GUEST_OFFLOADS ((1ull << 1) | (1ull << 7) | (1ull << 8) | (1ull << 9) | \
			    (1ull << 10) | (1ull << 54) | (1ull << 55))

/*
 * Is @st one the daemon can serve from: its layout, and every index and
 * count the data path uses, in bounds? (A state file read back on a restart
 * is input like any other.)
 */
bool net_state_valid(const struct net_state *st);

/* Set the layout-independent part of @st to the post-reset defaults (§9.5). */
void net_state_reset(struct net_state *st);

/*
 * Handle one control command: @cmd, @len are the device-readable bytes of
 * the chain (class, command, data), @features the negotiated features.
 * Returns VIRTIO_NET_OK or VIRTIO_NET_ERR; *@changed gets NET_CHG_* bits.
 */
uint8_t net_ctrl_handle(struct net_state *st, uint64_t features,
			const uint8_t *cmd, size_t len, unsigned int *changed);

/*
 * Handle a control command resubmitted from the in-flight log after a
 * restart: as net_ctrl_handle(), but an ANNOUNCE_ACK that finds no
 * announcement pending is answered OK (it cleared it before the crash).
 */
uint8_t net_ctrl_replay(struct net_state *st, uint64_t features,
			const uint8_t *cmd, size_t len, unsigned int *changed);

/*
 * The RX filter: should a frame (starting at its Ethernet header) reach
 * the driver? @features are the negotiated features.
 */
bool net_rx_accept(const struct net_state *st, uint64_t features,
		   const uint8_t *frame, size_t len);

/* Receive queue pair for a frame under RSS, or -1 when RSS is off. */
int net_rss_queue(const struct net_state *st, const uint8_t *frame, size_t len);

/* The Toeplitz hash of @in with @key (exported for the tests). */
uint32_t net_toeplitz(const uint8_t *key, size_t keylen, const uint8_t *in, size_t len);

#endif
