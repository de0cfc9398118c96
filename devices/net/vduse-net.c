// SPDX-License-Identifier: GPL-2.0
/*
 * vduse-net: a virtio-net device in userspace, backed by a TAP interface.
 *
 * One thread, one poll loop over the VDUSE device fd, every queue's kick
 * eventfd, the TAP queues, a signalfd and the control socket. See
 * docs/vduse-net.md and vduse-net(8).
 *
 * Queue layout (data queues: rx = 2k, tx = 2k + 1 for pair k):
 *   1 pair:  vq 0, 1 in group 0; the CVQ (vq 2) in group 1.
 *   N pairs: vq 0, 1 in group 0; vq 2 .. 2N-1 in group 1; vq 2N in group 2.
 * The CVQ is vq 2 when the driver negotiates neither MQ nor RSS and vq 2N
 * otherwise: each candidate is the lowest-numbered queue of its group, so no
 * data queue the driver uses with that CVQ shares its group and the CVQ can
 * be moved to an address space of its own (nas = 2).
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <net/if.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>
#include <linux/if_tun.h>
#include <linux/virtio_config.h>
#include <linux/virtio_ids.h>
#include <linux/virtio_net.h>
#include <linux/virtio_ring.h>
#include "vduse/libvduse.h"
#include "net.h"

#define F(bit)		(1ull << (bit))
#define HDR_LEN		12	/* virtio_net_hdr_v1: VERSION_1 is required */
#define FRAME_MAX	(HDR_LEN + 65536 + 64)
#define CTRL_MAX	65536	/* largest control command accepted */
#define DEFAULT_RUN_DIR	"/run/vduse-net"
/*
 * Frames a transmit queue sends per pass of the loop: a driver that keeps
 * its ring full must not starve the other queues, the messages, the
 * signals and the control socket. The rest is taken on the next pass,
 * without waiting for a kick (the driver sends none while buffers wait).
 */
#define TX_BUDGET	64
/* Control socket clients served at once; each has CTL_TIMEOUT_MS. */
#define CTL_CLIENTS	4
#define CTL_LINE	128
#define CTL_TIMEOUT_MS	1000

/* Features QEMU 10.0's shadow virtqueue accepts (vhost-vdpa-cvq.md §7.7). */
#define SVQ_TRANSPORT	(F(VIRTIO_F_VERSION_1) | F(VIRTIO_RING_F_EVENT_IDX))
#define OFFLOADS	(F(VIRTIO_NET_F_CSUM) | F(VIRTIO_NET_F_GUEST_CSUM) | \
			 F(VIRTIO_NET_F_HOST_TSO4) | F(VIRTIO_NET_F_HOST_TSO6) | \
			 F(VIRTIO_NET_F_HOST_ECN) | F(VIRTIO_NET_F_GUEST_TSO4) | \
			 F(VIRTIO_NET_F_GUEST_TSO6) | F(VIRTIO_NET_F_GUEST_ECN) | \
			 F(VIRTIO_NET_F_CTRL_GUEST_OFFLOADS))
#define CVQ_FEATURES	(F(VIRTIO_NET_F_CTRL_VQ) | F(VIRTIO_NET_F_CTRL_RX) | \
			 F(VIRTIO_NET_F_CTRL_VLAN) | F(VIRTIO_NET_F_CTRL_RX_EXTRA) | \
			 F(VIRTIO_NET_F_CTRL_MAC_ADDR) | F(VIRTIO_NET_F_CTRL_GUEST_OFFLOADS) | \
			 F(VIRTIO_NET_F_MQ) | F(VIRTIO_NET_F_RSS) | \
			 F(VIRTIO_NET_F_GUEST_ANNOUNCE))

struct pair {
	int fd;				/* TAP queue */
	bool attached;
	bool pending;			/* buf holds a frame not delivered yet */
	unsigned int target;		/* its receive pair */
	size_t len;
	uint8_t *buf;
	/* receive buffers popped from this pair's rx queue, not used yet */
	struct vduse_req **stash;
	unsigned int nstash;
};

/*
 * A control socket client: its command line, then the reply; non-blocking,
 * so that a slow client holds only its own slot (never the loop).
 */
struct ctl_conn {
	int fd;				/* -1: free */
	size_t in_len;
	char in[CTL_LINE];
	char *out;			/* the reply, while being written */
	size_t out_len, out_off;
	uint64_t deadline;		/* CLOCK_MONOTONIC ms */
};

static struct {
	const char *name;
	const char *run_dir;
	char sock_path[PATH_MAX], state_path[PATH_MAX], inflight_path[PATH_MAX];
	struct vduse_dev *dev;
	struct net_state *st;
	struct pair pairs[NET_MAX_PAIRS];
	unsigned int nvqs, ngroups;
	bool one_as;			/* --address-spaces 1 */
	uint64_t feat;			/* negotiated */
	bool running, attaching, quiet_lib, stopping;
	int verbose;
	int sig_fd, listen_fd;
	void *inflight;
	size_t inflight_size;
	uint8_t *ctrl_buf;
	unsigned int deferred;		/* NET_CHG_* to apply outside callbacks */
	uint64_t tx_more;		/* pairs whose tx queue has frames left (TX_BUDGET) */
	struct ctl_conn ctl[CTL_CLIENTS];
	int status;			/* exit status, set by serve_pass() */
} g = { .sig_fd = -1, .listen_fd = -1 };

static void say(enum vduse_log_level lvl, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void say(enum vduse_log_level lvl, const char *fmt, ...)
{
	static const char *const pfx[] = { "error: ", "warning: ", "", "debug: " };
	va_list ap;

	if ((int)lvl > VDUSE_LOG_INFO + g.verbose)
		return;
	fprintf(stderr, "vduse-net %s: %s", g.name ? g.name : "", pfx[lvl]);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static void lib_log(void *user, enum vduse_log_level lvl, const char *msg)
{
	if (g.quiet_lib && lvl <= VDUSE_LOG_WARN)
		lvl = VDUSE_LOG_DEBUG;	/* the failed probe is explained once */
	say(lvl, "libvduse: %s", msg);
}

static unsigned int max_pairs(void)
{
	return g.st->max_pairs;
}

static unsigned int cvq_index(void)
{
	return g.feat & (F(VIRTIO_NET_F_MQ) | F(VIRTIO_NET_F_RSS)) ? 2 * max_pairs() : 2;
}

/*
 * Role of a queue under the negotiated features: -1 the CVQ, -2 unused, else
 * the queue index (rx even, tx odd). Without MQ and RSS only pair 0 is used.
 */
static int vq_role(unsigned int i)
{
	unsigned int used = g.feat & (F(VIRTIO_NET_F_MQ) | F(VIRTIO_NET_F_RSS)) ? max_pairs() : 1;

	if (g.st->cvq && i == cvq_index())
		return -1;
	if (i < 2 * used)
		return (int)i;
	return -2;
}

/* ---- TAP ---------------------------------------------------------------- */

static int tap_open(const char *name, bool mq, bool *created)
{
	struct ifreq ifr;
	int fd, hdr = HDR_LEN, le = 1;

	fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0) {
		say(VDUSE_LOG_ERROR, "cannot open /dev/net/tun: %s (load the tun module?)",
		    strerror(errno));
		return -1;
	}
	if (created)
		*created = if_nametoindex(name) == 0;
	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
	ifr.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR | (mq ? IFF_MULTI_QUEUE : 0);
	if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
		say(VDUSE_LOG_ERROR, "TAP %s: %s%s", name, strerror(errno),
		    errno == EINVAL ? " (an existing interface of that name that is not a "
				      "TAP, or a TAP created without multi-queue/vnet-hdr "
				      "support, or with --queue-pairs 1 vs more)" :
		    errno == EBUSY ? " (another process has it open)" : "");
		close(fd);
		return -1;
	}
	if (ioctl(fd, TUNSETVNETHDRSZ, &hdr) < 0) {
		say(VDUSE_LOG_ERROR, "TAP %s: TUNSETVNETHDRSZ: %s", name, strerror(errno));
		close(fd);
		return -1;
	}
	/* virtio 1 headers are little-endian; only matters on big-endian hosts */
	if (ioctl(fd, TUNSETVNETLE, &le) < 0 && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__) {
		say(VDUSE_LOG_ERROR, "TAP %s: TUNSETVNETLE: %s", name, strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

static void tap_set_queues(unsigned int n)
{
	unsigned int k;

	if (max_pairs() < 2)
		return;
	for (k = 0; k < max_pairs(); k++) {
		struct pair *p = &g.pairs[k];
		bool want = k < n;
		struct ifreq ifr;

		if (p->attached == want)
			continue;
		memset(&ifr, 0, sizeof(ifr));
		ifr.ifr_flags = want ? IFF_ATTACH_QUEUE : IFF_DETACH_QUEUE;
		if (ioctl(p->fd, TUNSETQUEUE, &ifr) < 0) {
			say(VDUSE_LOG_WARN, "TAP queue %u: %s: %s", k,
			    want ? "attach" : "detach", strerror(errno));
			continue;
		}
		p->attached = want;
	}
}

/* What the TAP may hand us: the offloads the driver currently accepts. */
static void tap_set_offloads(uint64_t off)
{
	unsigned int flags = 0;

	if (off & F(VIRTIO_NET_F_GUEST_CSUM)) {
		flags |= TUN_F_CSUM;
		if (off & F(VIRTIO_NET_F_GUEST_TSO4))
			flags |= TUN_F_TSO4;
		if (off & F(VIRTIO_NET_F_GUEST_TSO6))
			flags |= TUN_F_TSO6;
		if ((off & F(VIRTIO_NET_F_GUEST_ECN)) && (flags & (TUN_F_TSO4 | TUN_F_TSO6)))
			flags |= TUN_F_TSO_ECN;
	}
	if (ioctl(g.pairs[0].fd, TUNSETOFFLOAD, flags) < 0)
		say(VDUSE_LOG_WARN, "TAP %s: TUNSETOFFLOAD %#x: %s", g.st->tap, flags,
		    strerror(errno));
	else
		say(VDUSE_LOG_DEBUG, "TAP offloads %#x", flags);
}

static void tap_set_carrier(bool up)
{
	int on = up;

	/* cosmetic: the TAP side sees the link too (Linux ≥ 5.0) */
	if (ioctl(g.pairs[0].fd, TUNSETCARRIER, &on) < 0)
		say(VDUSE_LOG_DEBUG, "TUNSETCARRIER: %s", strerror(errno));
}

static void tap_set_mtu(unsigned int mtu)
{
	struct ifreq ifr;
	int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	if (s < 0)
		return;
	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", g.st->tap);
	ifr.ifr_mtu = mtu;
	if (ioctl(s, SIOCSIFMTU, &ifr) < 0)
		say(VDUSE_LOG_WARN, "TAP %s: setting MTU %u: %s", g.st->tap, mtu, strerror(errno));
	close(s);
}

/* ---- config space --------------------------------------------------------- */

static void config_fill(struct virtio_net_config *c)
{
	memset(c, 0, sizeof(*c));
	memcpy(c->mac, g.st->mac, 6);
	c->status = htole16(g.st->status);
	c->max_virtqueue_pairs = htole16(max_pairs());
	c->mtu = htole16(g.st->mtu);
	c->speed = htole32(UINT32_MAX);	/* unknown */
	c->duplex = 0xff;
	if (g.st->features & F(VIRTIO_NET_F_RSS)) {
		c->rss_max_key_size = NET_RSS_KEY;
		c->rss_max_indirection_table_length = htole16(NET_RSS_TABLE);
		c->supported_hash_types = htole32(NET_RSS_HASH_TYPES);
	}
}

static void config_update(uint32_t off, uint32_t len)
{
	struct virtio_net_config c;
	int ret;

	config_fill(&c);
	/*
	 * No interrupt before DRIVER_OK (the kernel refuses it, e.g. when the
	 * MAC is restored right after a reset): the driver reads the config
	 * space when it starts.
	 */
	ret = vduse_dev_set_config(g.dev, off, (uint8_t *)&c + off, len);
	if (ret < 0)
		say(VDUSE_LOG_DEBUG, "config update at %u: %s", off, strerror(-ret));
}

static void set_link(bool up)
{
	g.st->link_up = up;
	if (up)
		g.st->status |= VIRTIO_NET_S_LINK_UP;
	else
		g.st->status &= ~VIRTIO_NET_S_LINK_UP;
	config_update(offsetof(struct virtio_net_config, status), 2);
	tap_set_carrier(up);
	say(VDUSE_LOG_INFO, "link %s", up ? "up" : "down");
}

/* ---- data path -------------------------------------------------------------- */

static struct vduse_vq *vq_of(unsigned int i)
{
	return vduse_dev_vq(g.dev, i);
}

static void rx_release_stash(struct pair *p)
{
	unsigned int i;

	/* drain: a buffer the device took is completed before the reset */
	for (i = 0; i < p->nstash; i++)
		vduse_vq_push(p->stash[i], 0);
	p->nstash = 0;
}

/*
 * Deliver the pending frame of @src to its receive queue. Returns false if
 * the queue has too few buffers (the TAP queue then waits for an rx kick).
 */
static bool rx_deliver(struct pair *src)
{
	struct pair *t = &g.pairs[src->target];
	unsigned int rxi = 2 * src->target;
	struct vduse_vq *vq = vq_of(rxi);
	bool mrg = g.feat & F(VIRTIO_NET_F_MRG_RXBUF);
	uint64_t room = 0;
	unsigned int i, used;
	size_t off;
	int ret;

	if (!vduse_vq_started(vq) || vduse_vq_broken(vq)) {
		g.st->q[rxi].dropped++;
		src->pending = false;
		return true;
	}
	for (i = 0; i < t->nstash; i++)
		room += t->stash[i]->writable_len;
	for (;;) {
		if (mrg ? room >= src->len : t->nstash > 0)
			break;
		if (t->nstash >= vduse_vq_size(vq)) {
			/* every buffer of the ring is too small together */
			g.st->q[rxi].dropped++;
			src->pending = false;
			return true;
		}
		ret = vduse_vq_pop(vq, &t->stash[t->nstash]);
		if (ret <= 0) {
			if (ret < 0) {
				g.st->q[rxi].dropped++;
				src->pending = false;
				return true;
			}
			return false;
		}
		room += t->stash[t->nstash++]->writable_len;
	}
	if (!mrg && t->stash[0]->writable_len < src->len) {
		/* the driver's buffers are smaller than the frame (no GSO) */
		g.st->q[rxi].dropped++;
		src->pending = false;
		return true;
	}
	/* num_buffers: how many buffers the frame spans */
	for (used = 0, off = 0; off < src->len; used++)
		off += t->stash[used]->writable_len;
	src->buf[10] = used & 0xff;
	src->buf[11] = used >> 8;
	for (i = 0, off = 0; i < used; i++) {
		size_t n = t->stash[i]->writable_len;

		if (n > src->len - off)
			n = src->len - off;
		vduse_req_write(t->stash[i], 0, src->buf + off, n);
		vduse_vq_push(t->stash[i], n);
		off += n;
	}
	memmove(t->stash, t->stash + used, (t->nstash - used) * sizeof(t->stash[0]));
	t->nstash -= used;
	g.st->q[rxi].packets++;
	g.st->q[rxi].bytes += src->len - HDR_LEN;
	src->pending = false;
	vduse_vq_notify(vq);
	return true;
}

/* Read frames from TAP queue @k until it is empty or a receive queue is full. */
static void tap_read(unsigned int k)
{
	struct pair *p = &g.pairs[k];
	int budget = 64, q;
	ssize_t n;

	while (!p->pending && budget-- > 0) {
		n = read(p->fd, p->buf, FRAME_MAX);
		if (n < 0) {
			if (errno != EAGAIN && errno != EINTR)
				say(VDUSE_LOG_WARN, "TAP queue %u: read: %s", k, strerror(errno));
			return;
		}
		if (n < HDR_LEN + 14 || !g.running || !g.st->link_up)
			continue;
		if (!net_rx_accept(g.st, g.feat, p->buf + HDR_LEN, n - HDR_LEN)) {
			g.st->rx_filtered++;
			continue;
		}
		q = net_rss_queue(g.st, p->buf + HDR_LEN, n - HDR_LEN);
		p->target = q >= 0 && q < (int)max_pairs() ? (unsigned int)q :
			    k < g.st->pairs ? k : 0;
		p->len = n;
		p->pending = true;
		if (!rx_deliver(p))
			return;
	}
}

static void rx_kicked(unsigned int pair)
{
	unsigned int k;

	for (k = 0; k < max_pairs(); k++)
		if (g.pairs[k].pending && g.pairs[k].target == pair && rx_deliver(&g.pairs[k]))
			tap_read(k);
}

/*
 * Send up to TX_BUDGET frames of pair @pair's transmit queue. If it stops
 * at the budget, the pair's bit in g.tx_more makes the loop come back to
 * it on its next pass (tx_resume()) without a kick.
 */
static void tx_kicked(unsigned int pair)
{
	unsigned int txi = 2 * pair + 1, budget = TX_BUDGET;
	struct vduse_vq *vq = vq_of(txi);
	struct pair *p = &g.pairs[pair < g.st->pairs && g.pairs[pair].attached ? pair : 0];
	struct vduse_req *req;
	int ret = 0;

	g.tx_more &= ~(1ull << pair);
	while (budget && (ret = vduse_vq_pop(vq, &req)) == 1) {
		budget--;
		if (req->readable_len < HDR_LEN + 14 || req->readable_len > FRAME_MAX ||
		    !g.st->link_up) {
			g.st->q[txi].dropped++;
		} else if (writev(p->fd, req->iov, req->nr_readable) < 0) {
			say(VDUSE_LOG_DEBUG, "TAP write: %s", strerror(errno));
			g.st->q[txi].dropped++;
		} else {
			g.st->q[txi].packets++;
			g.st->q[txi].bytes += req->readable_len - HDR_LEN;
		}
		vduse_vq_push(req, 0);
	}
	if (ret < 0)
		say(VDUSE_LOG_WARN, "tx queue %u: %s", txi, strerror(-ret));
	else if (!budget)
		g.tx_more |= 1ull << pair;
	vduse_vq_notify(vq);
}

/* The transmit queues left at their budget, but for those in @done. */
static void tx_resume(uint64_t done)
{
	uint64_t more = g.tx_more & ~done;
	unsigned int k;

	for (k = 0; more && k < NET_MAX_PAIRS; k++)
		if (more & (1ull << k)) {
			more &= ~(1ull << k);
			if (g.running && 2 * k + 1 < g.nvqs && vq_role(2 * k + 1) >= 0)
				tx_kicked(k);
			else
				g.tx_more &= ~(1ull << k);
		}
}

static void ctrl_apply(unsigned int chg)
{
	if (chg & NET_CHG_PAIRS) {
		tap_set_queues(g.st->pairs);
		say(VDUSE_LOG_INFO, "%u queue pair(s) active", g.st->pairs);
	}
	if (chg & NET_CHG_OFFLOADS)
		tap_set_offloads(g.st->guest_offloads);
	if (chg & NET_CHG_MAC)
		config_update(offsetof(struct virtio_net_config, mac), 6);
	if (chg & NET_CHG_STATUS)
		config_update(offsetof(struct virtio_net_config, status), 2);
}

static void ctrl_kicked(unsigned int i)
{
	struct vduse_vq *vq = vq_of(i);
	struct vduse_req *req;
	/* resubmitted requests (a restart) are popped first */
	unsigned int chg, all = 0, replay = vduse_vq_resubmit_count(vq);
	uint8_t ack;
	int ret;

	while ((ret = vduse_vq_pop(vq, &req)) == 1) {
		bool again = replay && replay--;

		if (req->writable_len < 1) {
			/* no room for the ack: nothing can be answered */
			g.st->cvq_err++;
			vduse_vq_push(req, 0);
			continue;
		}
		if (req->readable_len > CTRL_MAX) {
			g.st->cvq_err++;
			ack = VIRTIO_NET_ERR;
			chg = 0;
		} else {
			vduse_req_read(req, 0, g.ctrl_buf, req->readable_len);
			ack = (again ? net_ctrl_replay : net_ctrl_handle)(g.st, g.feat, g.ctrl_buf,
									req->readable_len, &chg);
		}
		say(VDUSE_LOG_DEBUG, "control %u/%u (%llu bytes): %s",
		    req->readable_len ? g.ctrl_buf[0] : 0xff,
		    req->readable_len > 1 ? g.ctrl_buf[1] : 0xff,
		    (unsigned long long)req->readable_len, ack ? "ERR" : "OK");
		vduse_req_write(req, 0, &ack, 1);
		vduse_vq_push(req, 1);
		all |= chg;
	}
	if (ret < 0)
		say(VDUSE_LOG_WARN, "control queue: %s", strerror(-ret));
	vduse_vq_notify(vq);
	/* after the answers: a driver may wait for them holding the RTNL */
	ctrl_apply(all);
}

static void vq_kicked(unsigned int i)
{
	int role = vq_role(i);

	if (!g.running)
		return;
	if (role == -1 && (g.feat & F(VIRTIO_NET_F_CTRL_VQ)))
		ctrl_kicked(i);
	else if (role >= 0 && role % 2 == 0)
		rx_kicked(role / 2);
	else if (role >= 0)
		tx_kicked(role / 2);
}

/* ---- libvduse callbacks ----------------------------------------------------- */

static int on_started(struct vduse_dev *dev, void *user)
{
	g.dev = dev;
	g.feat = vduse_dev_features(dev);
	g.running = true;
	if (!g.attaching) {
		/* a fresh start: every negotiated guest offload is on (§9.5) */
		g.st->guest_offloads = g.feat & NET_GUEST_OFFLOADS;
	}
	/*
	 * Not now: the kernel's virtio-net sets DRIVER_OK holding the RTNL,
	 * which the TAP ioctls take; the main loop applies them.
	 */
	g.deferred |= NET_CHG_OFFLOADS | NET_CHG_PAIRS;
	/*
	 * A daemon that died between a control command's store in the state
	 * file and its config write left the kernel's config space behind
	 * the state (a MAC, an announcement acknowledged): write it again.
	 */
	if (g.attaching)
		g.deferred |= NET_CHG_MAC | NET_CHG_STATUS;
	say(VDUSE_LOG_INFO, "driver started: features %#llx, %s, %u pair(s)%s",
	    (unsigned long long)g.feat,
	    g.feat & F(VIRTIO_NET_F_CTRL_VQ) ? "control queue" : "no control queue",
	    g.st->pairs, g.attaching ? " (re-attached)" : "");
	return 0;
}

static void on_stopped(struct vduse_dev *dev, void *user)
{
	unsigned int k;

	g.running = false;
	g.tx_more = 0;
	for (k = 0; k < max_pairs(); k++) {
		rx_release_stash(&g.pairs[k]);
		g.pairs[k].pending = false;
	}
}

static void on_reset(struct vduse_dev *dev, void *user)
{
	bool mac_changed = memcmp(g.st->mac, g.st->cfg_mac, 6) != 0;

	g.dev = dev;
	net_state_reset(g.st);
	g.feat = 0;
	g.deferred |= NET_CHG_PAIRS | (mac_changed ? NET_CHG_MAC : 0);
	say(VDUSE_LOG_INFO, "driver reset the device");
}

static void on_queue_ready(struct vduse_dev *dev, struct vduse_vq *vq, void *user)
{
	g.dev = dev;
	/* requests a crashed daemon left in flight are served right away */
	if (vduse_vq_inflight(vq) || g.attaching)
		vq_kicked(vduse_vq_index(vq));
}

static int on_group_asid(struct vduse_dev *dev, uint32_t group, uint32_t asid, void *user)
{
	say(VDUSE_LOG_INFO, "group %u -> address space %u", group, asid);
	return 0;
}

/* ---- the control socket ----------------------------------------------------- */

static void json_mac(FILE *f, const uint8_t *m)
{
	fprintf(f, "\"%02x:%02x:%02x:%02x:%02x:%02x\"", m[0], m[1], m[2], m[3], m[4], m[5]);
}

static const struct { int bit; const char *name; } feature_names[] = {
	{ VIRTIO_NET_F_CSUM, "CSUM" }, { VIRTIO_NET_F_GUEST_CSUM, "GUEST_CSUM" },
	{ VIRTIO_NET_F_CTRL_GUEST_OFFLOADS, "CTRL_GUEST_OFFLOADS" }, { VIRTIO_NET_F_MTU, "MTU" },
	{ VIRTIO_NET_F_MAC, "MAC" }, { VIRTIO_NET_F_GUEST_TSO4, "GUEST_TSO4" },
	{ VIRTIO_NET_F_GUEST_TSO6, "GUEST_TSO6" }, { VIRTIO_NET_F_GUEST_ECN, "GUEST_ECN" },
	{ VIRTIO_NET_F_GUEST_UFO, "GUEST_UFO" }, { VIRTIO_NET_F_HOST_TSO4, "HOST_TSO4" },
	{ VIRTIO_NET_F_HOST_TSO6, "HOST_TSO6" }, { VIRTIO_NET_F_HOST_ECN, "HOST_ECN" },
	{ VIRTIO_NET_F_HOST_UFO, "HOST_UFO" }, { VIRTIO_NET_F_MRG_RXBUF, "MRG_RXBUF" },
	{ VIRTIO_NET_F_STATUS, "STATUS" }, { VIRTIO_NET_F_CTRL_VQ, "CTRL_VQ" },
	{ VIRTIO_NET_F_CTRL_RX, "CTRL_RX" }, { VIRTIO_NET_F_CTRL_VLAN, "CTRL_VLAN" },
	{ VIRTIO_NET_F_CTRL_RX_EXTRA, "CTRL_RX_EXTRA" },
	{ VIRTIO_NET_F_GUEST_ANNOUNCE, "GUEST_ANNOUNCE" }, { VIRTIO_NET_F_MQ, "MQ" },
	{ VIRTIO_NET_F_CTRL_MAC_ADDR, "CTRL_MAC_ADDR" },
	{ VIRTIO_RING_F_INDIRECT_DESC, "INDIRECT_DESC" }, { VIRTIO_RING_F_EVENT_IDX, "EVENT_IDX" },
	{ VIRTIO_F_VERSION_1, "VERSION_1" }, { VIRTIO_F_ACCESS_PLATFORM, "ACCESS_PLATFORM" },
	{ VIRTIO_F_RING_PACKED, "RING_PACKED" }, { VIRTIO_NET_F_RSS, "RSS" },
};

static void json_features(FILE *f, const char *key, uint64_t v)
{
	const char *sep = "";
	size_t i;

	fprintf(f, "\"%s\":{\"bits\":\"%#llx\",\"names\":[", key, (unsigned long long)v);
	for (i = 0; i < sizeof(feature_names) / sizeof(feature_names[0]); i++)
		if (v & F(feature_names[i].bit)) {
			fprintf(f, "%s\"%s\"", sep, feature_names[i].name);
			sep = ",";
		}
	fputs("]}", f);
}

/*
 * Ring positions as libvduse sees them: the driver's avail index (split),
 * the device's next avail and used positions, buffers available and not
 * popped, requests still to resubmit from the in-flight log; null while the
 * queue is stopped or broken. Closes the queue's object.
 */
static void json_ring(FILE *f, struct vduse_vq *vq)
{
	struct vduse_vq_ring_state rs;
	int ret = vduse_vq_get_ring_state(vq, &rs, sizeof(rs));

	if (ret && ret != -EPROTO) {
		fputs(",\"ring\":null}", f);
		return;
	}
	fprintf(f, ",\"ring\":{\"avail_idx\":%u,\"last_avail_idx\":%u,\"used_idx\":%u,"
		"\"avail\":%u,\"resubmit\":%u,\"valid\":%s", rs.avail_idx, rs.last_avail_idx,
		rs.used_idx, rs.avail, rs.resubmit, ret ? "false" : "true");
	if (rs.packed)
		fprintf(f, ",\"avail_wrap\":%u,\"used_wrap\":%u", rs.avail_wrap, rs.used_wrap);
	fputs("}}", f);
}

static void json_state(FILE *f)
{
	struct net_state *st = g.st;
	unsigned int i, v;
	const char *sep;

	fprintf(f, "{\"name\":\"%s\",\"api_version\":%d,\"tap\":\"%s\",\"status\":%u,",
		g.name, vduse_dev_api_version(g.dev), st->tap, vduse_dev_status(g.dev));
	fprintf(f, "\"running\":%s,\"link\":\"%s\",\"mac\":", g.running ? "true" : "false",
		st->link_up ? "up" : "down");
	json_mac(f, st->mac);
	fputs(",\"config_mac\":", f);
	json_mac(f, st->cfg_mac);
	fprintf(f, ",\"mtu\":%u,\"config_status\":%u,\"max_queue_pairs\":%u,\"queue_pairs\":%u,",
		st->mtu, st->status, st->max_pairs, st->pairs);
	fprintf(f, "\"queue_size\":%u,", st->queue_size);
	json_features(f, "features_offered", st->features | F(VIRTIO_F_ACCESS_PLATFORM));
	fputc(',', f);
	json_features(f, "features_negotiated", g.feat);
	fprintf(f, ",\"cvq\":{\"present\":%s,\"negotiated\":%s,\"index\":%d,"
		"\"commands_ok\":%llu,\"commands_err\":%llu},",
		st->cvq ? "true" : "false", g.feat & F(VIRTIO_NET_F_CTRL_VQ) ? "true" : "false",
		st->cvq ? (int)cvq_index() : -1, (unsigned long long)st->cvq_ok,
		(unsigned long long)st->cvq_err);
	fprintf(f, "\"rx_mode\":{\"promisc\":%u,\"allmulti\":%u,\"alluni\":%u,\"nomulti\":%u,"
		"\"nouni\":%u,\"nobcast\":%u},", st->promisc, st->allmulti, st->alluni,
		st->nomulti, st->nouni, st->nobcast);
	fputs("\"mac_table\":{\"unicast\":[", f);
	for (i = 0; i < st->uni_count && i < NET_MAC_TABLE; i++) {
		fputs(i ? "," : "", f);
		json_mac(f, st->uni[i]);
	}
	fputs("],\"multicast\":[", f);
	for (i = 0; i < st->multi_count && i < NET_MAC_TABLE; i++) {
		fputs(i ? "," : "", f);
		json_mac(f, st->multi[i]);
	}
	fprintf(f, "],\"unicast_overflow\":%u,\"multicast_overflow\":%u},\"vlans\":[",
		st->uni_overflow, st->multi_overflow);
	for (v = 0, sep = ""; v < 4096; v++)
		if (st->vlans[v / 8] & (1u << (v % 8))) {
			fprintf(f, "%s%u", sep, v);
			sep = ",";
		}
	fprintf(f, "],\"guest_offloads\":\"%#llx\",", (unsigned long long)st->guest_offloads);
	fprintf(f, "\"rss\":{\"enabled\":%s,\"hash_types\":%u,\"unclassified_queue\":%u,"
		"\"key\":\"", st->rss_enabled ? "true" : "false", st->rss_hash_types,
		st->rss_unclassified);
	for (i = 0; i < st->rss_key_len; i++)
		fprintf(f, "%02x", st->rss_key[i]);
	fputs("\",\"indirection_table\":[", f);
	for (i = 0; i < st->rss_table_len; i++)
		fprintf(f, "%s%u", i ? "," : "", st->rss_table[i]);
	fprintf(f, "]},\"rx_filtered\":%llu,\"groups\":[", (unsigned long long)st->rx_filtered);
	for (i = 0; i < g.ngroups; i++)
		fprintf(f, "%s{\"group\":%u,\"asid\":%d}", i ? "," : "", i,
			vduse_dev_group_asid(g.dev, i));
	fputs("],\"queues\":[", f);
	for (i = 0; i < g.nvqs; i++) {
		struct vduse_vq *vq = vq_of(i);
		int role = vq_role(i);

		fprintf(f, "%s{\"index\":%u,\"role\":\"%s\",\"group\":%u,\"asid\":%u,"
			"\"started\":%s,\"broken\":%s,\"size\":%u,\"inflight\":%u,"
			"\"packets\":%llu,\"bytes\":%llu,\"dropped\":%llu",
			i ? "," : "", i, role == -1 ? "ctrl" : role == -2 ? "unused" :
			role % 2 ? "tx" : "rx", vduse_vq_group(vq), vduse_vq_asid(vq),
			vduse_vq_started(vq) ? "true" : "false",
			vduse_vq_broken(vq) ? "true" : "false", vduse_vq_size(vq),
			vduse_vq_inflight(vq), (unsigned long long)st->q[i].packets,
			(unsigned long long)st->q[i].bytes, (unsigned long long)st->q[i].dropped);
		json_ring(f, vq);
	}
	fputs("]}\n", f);
}

static uint64_t now_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

/* Run the control command @cmd, its reply to @f. */
static void ctl_command(const char *cmd, FILE *f)
{
	if (!strcmp(cmd, "state")) {
		json_state(f);
	} else if (!strcmp(cmd, "link up") || !strcmp(cmd, "link down")) {
		set_link(cmd[5] == 'u');
		fputs("ok\n", f);
	} else if (!strcmp(cmd, "announce")) {
		if (!(g.feat & F(VIRTIO_NET_F_GUEST_ANNOUNCE))) {
			fputs("error: the driver did not negotiate GUEST_ANNOUNCE "
			      "(start vduse-net with --offer announce)\n", f);
		} else {
			g.st->status |= VIRTIO_NET_S_ANNOUNCE;
			config_update(offsetof(struct virtio_net_config, status), 2);
			fputs("ok\n", f);
		}
	} else {
		fprintf(f, "error: unknown command '%s' (state, link up, link down, announce)\n",
			cmd);
	}
}

static void ctl_close(struct ctl_conn *c)
{
	close(c->fd);
	free(c->out);
	memset(c, 0, sizeof(*c));
	c->fd = -1;
}

/* Write what the socket takes of the reply; close the client once it is all out. */
static void ctl_write(struct ctl_conn *c)
{
	ssize_t n;

	while (c->out_off < c->out_len) {
		n = send(c->fd, c->out + c->out_off, c->out_len - c->out_off,
			 MSG_DONTWAIT | MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;		/* the loop polls for POLLOUT */
		if (n <= 0)
			break;
		c->out_off += n;
	}
	ctl_close(c);
}

/*
 * Input (or an error) on client @c. A command is one line of at most
 * CTL_LINE - 1 bytes, ended by a newline or by the client closing its
 * sending side; it is run as soon as it is complete, and the reply written.
 */
static void ctl_io(struct ctl_conn *c, short revents)
{
	char *nl;
	size_t rlen = 0;
	ssize_t n;
	FILE *f;

	if (c->out) {
		if (revents & (POLLOUT | POLLERR | POLLHUP))
			ctl_write(c);
		return;
	}
	if (!(revents & (POLLIN | POLLERR | POLLHUP)))
		return;
	n = recv(c->fd, c->in + c->in_len, sizeof(c->in) - 1 - c->in_len, MSG_DONTWAIT);
	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
		return;
	if (n < 0 || (n == 0 && !c->in_len)) {
		ctl_close(c);
		return;
	}
	c->in_len += n;
	c->in[c->in_len] = 0;
	nl = strchr(c->in, '\n');
	if (!nl && n && c->in_len < sizeof(c->in) - 1)
		return;		/* more to come */
	if (nl)
		*nl = 0;
	f = open_memstream(&c->out, &rlen);
	if (!f) {
		ctl_close(c);
		return;
	}
	ctl_command(c->in, f);
	fclose(f);
	c->out_len = rlen;
	ctl_write(c);
}

/* New clients, as many as there are free slots (the rest wait in the backlog). */
static void ctl_accept(void)
{
	unsigned int i;
	int fd;

	for (i = 0; i < CTL_CLIENTS; i++) {
		if (g.ctl[i].fd >= 0)
			continue;
		fd = accept4(g.listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
		if (fd < 0)
			return;
		g.ctl[i].fd = fd;
		g.ctl[i].deadline = now_ms() + CTL_TIMEOUT_MS;
	}
}

/*
 * Drop the clients that did not send a command or take their reply within
 * CTL_TIMEOUT_MS; the poll timeout (ms, -1 none) until the next deadline,
 * at most @timeout.
 */
static int ctl_expire(int timeout)
{
	uint64_t now = now_ms();
	unsigned int i;

	for (i = 0; i < CTL_CLIENTS; i++) {
		if (g.ctl[i].fd < 0)
			continue;
		if (g.ctl[i].deadline <= now) {
			say(VDUSE_LOG_DEBUG, "control client: nothing %s in %d ms; dropped",
			    g.ctl[i].out ? "taken" : "asked", CTL_TIMEOUT_MS);
			ctl_close(&g.ctl[i]);
			continue;
		}
		if (timeout < 0 || g.ctl[i].deadline - now < (uint64_t)timeout)
			timeout = g.ctl[i].deadline - now;
	}
	return timeout;
}

static int ctl_listen(void)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	int fd;

	if (strlen(g.sock_path) >= sizeof(a.sun_path)) {
		say(VDUSE_LOG_ERROR, "socket path %s is too long (use a shorter --run-dir)",
		    g.sock_path);
		return -1;
	}
	strcpy(a.sun_path, g.sock_path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -1;
	unlink(g.sock_path);	/* left by a daemon that was killed */
	if (bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(fd, 8) < 0) {
		say(VDUSE_LOG_ERROR, "control socket %s: %s", g.sock_path, strerror(errno));
		close(fd);
		return -1;
	}
	chmod(g.sock_path, 0600);
	return fd;
}

/* ---- files that survive a crash ----------------------------------------------- */

static void *map_file(const char *path, size_t size, bool fresh)
{
	void *p;
	int ret = vduse_inflight_open(path, size, fresh, &p);

	if (ret) {
		say(VDUSE_LOG_ERROR, "%s: %s", path, strerror(-ret));
		return NULL;
	}
	return p;
}

/* A state file describing this device, written by an earlier daemon? */
static struct net_state *state_load(void)
{
	struct net_state *st;
	struct stat sb;

	if (stat(g.state_path, &sb) < 0 || sb.st_size != sizeof(*st))
		return NULL;
	st = map_file(g.state_path, sizeof(*st), false);
	if (st && !net_state_valid(st)) {
		say(VDUSE_LOG_ERROR, "%s: not a vduse-net %u state, or a value in it is out of "
		    "range", g.state_path, NET_STATE_VERSION);
		munmap(st, sizeof(*st));
		return NULL;
	}
	return st;
}

/* ---- main ----------------------------------------------------------------------- */

static void usage(FILE *f)
{
	fputs("Usage: vduse-net [OPTIONS] --tap IFNAME NAME\n"
	      "A virtio-net device (VDUSE device NAME) whose frames go to and from a TAP.\n"
	      "Bind it with `vdpa dev add name NAME mgmtdev vduse`.\n\n"
	      "  --tap IFNAME          TAP interface (created if absent, removed at exit)\n"
	      "  --mac XX:XX:XX:XX:XX:XX  MAC address in config space (default: from NAME)\n"
	      "  --mtu N               MTU advertised to the driver, 68..65535 (and set on\n"
	      "                        a TAP vduse-net creates)\n"
	      "  --queue-pairs N       receive/transmit queue pairs, 1..64 (default 1;\n"
	      "                        more than 1 needs the control queue)\n"
	      "  --queue-size N        largest ring size, power of 2, 2..32768 (default 256)\n"
	      "  --link up|down        initial link state (default up)\n"
	      "  --no-cvq              offer no control queue\n"
	      "  --address-spaces N    2 (default) or 1: with 1 no VMM can move the CVQ\n"
	      "                        to an address space of its own (a test control)\n"
	      "  --no-offloads         offer no checksum or segmentation offloads\n"
	      "  --rss                 offer RSS (receive-side scaling)\n"
	      "  --offer LIST          also offer: indirect, packed, announce (comma\n"
	      "                        separated); QEMU's shadow virtqueue refuses them,\n"
	      "                        so a VM using the device cannot be live-migrated\n"
	      "  --run-dir DIR         control socket, state and in-flight log\n"
	      "                        (default " DEFAULT_RUN_DIR ")\n"
	      "  --destroy             destroy the VDUSE device NAME left by a killed\n"
	      "                        daemon, remove its files, and exit\n"
	      "  -v, --verbose         more messages (twice: debug)\n"
	      "  -h, --help            this text\n\n"
	      "If /dev/vduse/NAME exists and DIR/NAME.state describes it, vduse-net\n"
	      "re-attaches to it (restart after a crash) without a device reset.\n"
	      "Runtime control: vduse-netctl NAME state|link up|link down|announce\n", f);
}

static int parse_mac(const char *s, uint8_t *m)
{
	unsigned int b[6];
	char end;
	int i;

	if (sscanf(s, "%x:%x:%x:%x:%x:%x%c", &b[0], &b[1], &b[2], &b[3], &b[4], &b[5],
		   &end) != 6)
		return -1;
	for (i = 0; i < 6; i++) {
		if (b[i] > 255)
			return -1;
		m[i] = b[i];
	}
	return m[0] & 1 ? -1 : 0;
}

static long parse_num(const char *opt, const char *s, long lo, long hi)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 0);
	if (errno || *end || end == s || v < lo || v > hi) {
		fprintf(stderr, "vduse-net: %s must be a number from %ld to %ld, not '%s'\n",
			opt, lo, hi, s);
		exit(2);
	}
	return v;
}

/* Names end up in paths and in JSON: keep them plain. */
static bool plain_name(const char *s)
{
	if (!*s || !strcmp(s, ".") || !strcmp(s, ".."))
		return false;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		      (*s >= '0' && *s <= '9') || *s == '.' || *s == '_' || *s == '-'))
			return false;
	return true;
}

static bool device_exists(const char *name)
{
	char p[PATH_MAX];

	snprintf(p, sizeof(p), "/dev/vduse/%s", name);
	return access(p, F_OK) == 0;
}

static void remove_files(void)
{
	unlink(g.sock_path);
	unlink(g.state_path);
	unlink(g.inflight_path);
}

static int create_device(uint32_t *groups, struct vduse_dev_opts *o)
{
	unsigned int i, n = g.nvqs;

	for (i = 0; i < n; i++)
		groups[i] = 0;
	if (g.st->cvq) {
		/* see the layout at the top of this file */
		for (i = 2; i < n; i++)
			groups[i] = 1;
		if (max_pairs() > 1)
			groups[2 * max_pairs()] = 2;
	}
	o->num_queues = n;
	o->ngroups = g.ngroups;
	/* --address-spaces 1: the CVQ keeps its group but cannot leave AS 0 */
	o->nas = g.st->cvq && !g.one_as ? 2 : 1;
	o->queue_group = groups;
	o->features = g.st->features;
	return 0;
}

enum { SERVE_ON, SERVE_STOP, SERVE_LEAVE };

/*
 * One pass of the loop: wait (at most @cap ms, -1 for no limit) for
 * something to do, and do it. Returns SERVE_ON to go on, SERVE_STOP to shut
 * down (destroy the device, the TAP, the files) and SERVE_LEAVE to exit
 * leaving them; g.status is the exit status.
 */
static int serve_pass(int cap)
{
	struct pollfd pfd[3 + 2 * NET_MAX_PAIRS + 1 + NET_MAX_PAIRS + CTL_CLIENTS];
	unsigned int n = 0, i, k, kick0, tap0, ctl0, np = max_pairs();
	uint64_t kicked = 0;
	int timeout = cap, ret;

	pfd[n++] = (struct pollfd){ .fd = g.sig_fd, .events = POLLIN };
	pfd[n++] = (struct pollfd){ .fd = vduse_dev_fd(g.dev), .events = POLLIN };
	/* with every client slot taken, new clients wait in the backlog */
	pfd[n++] = (struct pollfd){ .fd = g.listen_fd, .events = POLLIN };
	kick0 = n;
	for (i = 0; i < g.nvqs; i++)
		pfd[n++] = (struct pollfd){ .fd = vduse_vq_kick_fd(vq_of(i)), .events = POLLIN };
	tap0 = n;
	for (k = 0; k < np; k++)
		pfd[n++] = (struct pollfd){ .fd = g.pairs[k].fd,
			.events = g.pairs[k].pending ? 0 : POLLIN };
	ctl0 = n;
	for (k = 0; k < CTL_CLIENTS; k++) {
		pfd[n++] = (struct pollfd){ .fd = g.ctl[k].fd,
			.events = g.ctl[k].out ? POLLOUT : POLLIN };
	}
	pfd[2].fd = -1;
	for (k = 0; k < CTL_CLIENTS; k++)
		if (g.ctl[k].fd < 0)
			pfd[2].fd = g.listen_fd;
	if (g.stopping && (timeout < 0 || timeout > 200))
		timeout = 200;
	if (g.tx_more)
		timeout = 0;	/* frames left over: come back at once */
	timeout = ctl_expire(timeout);
	ret = poll(pfd, n, timeout);
	if (ret < 0 && errno != EINTR) {
		say(VDUSE_LOG_ERROR, "poll: %s", strerror(errno));
		g.status = 1;
		return SERVE_STOP;
	}
	if (ret < 0)
		return SERVE_ON;
	if (pfd[0].revents & POLLIN) {
		struct signalfd_siginfo si;

		while (read(g.sig_fd, &si, sizeof(si)) == sizeof(si)) {
			if (g.stopping) {
				say(VDUSE_LOG_WARN, "second signal: leaving %s in the "
				    "kernel (remove it later: vduse-net --destroy %s)",
				    g.name, g.name);
				vduse_dev_close(g.dev);
				g.dev = NULL;
				return SERVE_LEAVE;
			}
			g.stopping = true;
			if (vduse_vdpa_dev_exists(g.name))
				say(VDUSE_LOG_INFO, "stopping: %s is still on the vDPA "
				    "bus; serving until `vdpa dev del %s` (a second "
				    "signal leaves it behind)", g.name, g.name);
		}
	}
	/*
	 * POLLERR: the kernel marked the device broken (a message was
	 * not answered within its timeout); it polls so for good with
	 * nothing to read. It cannot serve again: stop, or spin.
	 */
	if (pfd[1].revents & (POLLERR | POLLHUP | POLLNVAL)) {
		say(VDUSE_LOG_ERROR, "the kernel marked the device broken (a message was "
		    "not answered in time); exiting: remove it with `vdpa dev del %s` and "
		    "`vduse-net --destroy %s`", g.name, g.name);
		vduse_dev_close(g.dev);
		g.dev = NULL;
		g.status = 1;
		return SERVE_LEAVE;
	}
	if (pfd[1].revents & POLLIN) {
		ret = vduse_dev_handle_msgs(g.dev);
		if (ret < 0) {
			say(VDUSE_LOG_ERROR, "device messages: %s", strerror(-ret));
			g.status = 1;
			return SERVE_STOP;
		}
	}
	if (g.deferred) {
		ctrl_apply(g.deferred);
		g.deferred = 0;
	}
	for (i = 0; i < g.nvqs; i++)
		if (pfd[kick0 + i].revents & POLLIN) {
			vduse_vq_ack_kick(vq_of(i));
			vq_kicked(i);
			if (i % 2 && i / 2 < NET_MAX_PAIRS)
				kicked |= 1ull << (i / 2);
		}
	/* transmit queues left at their budget on the last pass, not kicked now */
	tx_resume(kicked);
	/*
	 * POLLERR on a TAP queue: the TAP is gone (ip link del, or its
	 * network namespace deleted); tun detached every queue and
	 * polls POLLERR for good. Exit, leaving the device and the
	 * files: a restarted daemon re-attaches and re-creates the TAP.
	 */
	for (k = 0; k < np; k++)
		if (pfd[tap0 + k].revents & (POLLERR | POLLHUP | POLLNVAL)) {
			say(VDUSE_LOG_ERROR, "TAP %s is gone (deleted, or its network "
			    "namespace was); exiting, leaving %s for a restarted daemon "
			    "(it re-creates the TAP) or `vduse-net --destroy %s`",
			    g.st->tap, g.name, g.name);
			vduse_dev_close(g.dev);
			g.dev = NULL;
			g.status = 1;
			return SERVE_LEAVE;
		}
	for (k = 0; k < np; k++)
		if (pfd[tap0 + k].revents & POLLIN)
			tap_read(k);
	for (k = 0; k < CTL_CLIENTS; k++)
		if (pfd[ctl0 + k].revents && g.ctl[k].fd == pfd[ctl0 + k].fd)
			ctl_io(&g.ctl[k], pfd[ctl0 + k].revents);
	if (pfd[2].revents & POLLIN)
		ctl_accept();
	if (g.stopping && !vduse_vdpa_dev_exists(g.name))
		return SERVE_STOP;
	return SERVE_ON;
}

int main(int argc, char **argv)
{
	static const struct option lopts[] = {
		{ "tap", required_argument, NULL, 't' },
		{ "mac", required_argument, NULL, 'm' },
		{ "mtu", required_argument, NULL, 'M' },
		{ "queue-pairs", required_argument, NULL, 'q' },
		{ "queue-size", required_argument, NULL, 's' },
		{ "link", required_argument, NULL, 'l' },
		{ "no-cvq", no_argument, NULL, 'C' },
		{ "address-spaces", required_argument, NULL, 'A' },
		{ "no-offloads", no_argument, NULL, 'O' },
		{ "rss", no_argument, NULL, 'R' },
		{ "offer", required_argument, NULL, 'o' },
		{ "run-dir", required_argument, NULL, 'd' },
		{ "destroy", no_argument, NULL, 'D' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	const char *tap = NULL, *offer = NULL;
	uint8_t mac[6];
	bool have_mac = false, link_up = true, no_cvq = false, no_off = false, rss = false;
	bool destroy = false, restart = false, created = false;
	unsigned int pairs = 1, qsize = 256, mtu = 0, k, i, resub;
	uint64_t extra = 0;
	struct virtio_net_config cfg;
	uint32_t groups[2 * NET_MAX_PAIRS + 1];
	struct net_state *st;
	sigset_t sigs;
	int c, ret, status = 0;

	while ((c = getopt_long(argc, argv, "vh", lopts, NULL)) != -1) {
		switch (c) {
		case 't': tap = optarg; break;
		case 'm':
			if (parse_mac(optarg, mac)) {
				fprintf(stderr, "vduse-net: --mac wants a unicast address like "
					"52:54:00:12:34:56, not '%s'\n", optarg);
				return 2;
			}
			have_mac = true;
			break;
		case 'M': mtu = parse_num("--mtu", optarg, 68, 65535); break;
		case 'q': pairs = parse_num("--queue-pairs", optarg, 1, NET_MAX_PAIRS); break;
		case 's':
			qsize = parse_num("--queue-size", optarg, 2, NET_QUEUE_SIZE_MAX);
			if (qsize & (qsize - 1)) {
				fprintf(stderr, "vduse-net: --queue-size must be a power of 2\n");
				return 2;
			}
			break;
		case 'l':
			if (strcmp(optarg, "up") && strcmp(optarg, "down")) {
				fprintf(stderr, "vduse-net: --link is up or down, not '%s'\n", optarg);
				return 2;
			}
			link_up = optarg[0] == 'u';
			break;
		case 'C': no_cvq = true; break;
		case 'A': g.one_as = parse_num("--address-spaces", optarg, 1, 2) == 1; break;
		case 'O': no_off = true; break;
		case 'R': rss = true; break;
		case 'o': offer = optarg; break;
		case 'd': g.run_dir = optarg; break;
		case 'D': destroy = true; break;
		case 'v': g.verbose++; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind != argc - 1) {
		fprintf(stderr, "vduse-net: give exactly one device NAME (see --help)\n");
		return 2;
	}
	g.name = argv[optind];
	if (!*g.name || strlen(g.name) > 200 || !plain_name(g.name)) {
		fprintf(stderr, "vduse-net: NAME must be 1..200 characters out of "
			"A-Z a-z 0-9 . _ -\n");
		return 2;
	}
	if (!g.run_dir)
		g.run_dir = DEFAULT_RUN_DIR;
	snprintf(g.sock_path, sizeof(g.sock_path), "%s/%s.sock", g.run_dir, g.name);
	snprintf(g.state_path, sizeof(g.state_path), "%s/%s.state", g.run_dir, g.name);
	snprintf(g.inflight_path, sizeof(g.inflight_path), "%s/%s.inflight", g.run_dir, g.name);

	if (destroy) {
		/* the kernel may hold the device for a moment after vdpa dev del */
		ret = vduse_destroy_by_name_wait(g.name, vduse_vdpa_dev_exists(g.name) ? 0 : 10000);
		if (ret < 0 && ret != -ENOENT) {
			say(VDUSE_LOG_ERROR, "destroying: %s%s", strerror(-ret),
			    ret == -EBUSY ? " (still bound or open: `vdpa dev del NAME` "
					    "first, and stop its daemon)" : "");
			return 1;
		}
		remove_files();
		return 0;
	}
	if (!tap) {
		fprintf(stderr, "vduse-net: --tap IFNAME is required (see --help)\n");
		return 2;
	}
	if (strlen(tap) >= IFNAMSIZ || !plain_name(tap)) {
		fprintf(stderr, "vduse-net: --tap: 1..%d characters out of A-Z a-z 0-9 . _ -\n",
			IFNAMSIZ - 1);
		return 2;
	}
	while (offer && *offer) {
		size_t n = strcspn(offer, ",");

		if (n == 8 && !strncmp(offer, "indirect", n))
			extra |= F(VIRTIO_RING_F_INDIRECT_DESC);
		else if (n == 6 && !strncmp(offer, "packed", n))
			extra |= F(VIRTIO_F_RING_PACKED);
		else if (n == 8 && !strncmp(offer, "announce", n))
			extra |= F(VIRTIO_NET_F_GUEST_ANNOUNCE);
		else {
			fprintf(stderr, "vduse-net: --offer knows indirect, packed, announce, "
				"not '%.*s'\n", (int)n, offer);
			return 2;
		}
		offer += n + (offer[n] == ',');
	}
	/* refused before anything is created (ctl_listen() would be too late) */
	if (strlen(g.sock_path) >= sizeof(((struct sockaddr_un *)NULL)->sun_path)) {
		fprintf(stderr, "vduse-net: control socket path %s is longer than %zu bytes: "
			"use a shorter NAME or --run-dir\n", g.sock_path,
			sizeof(((struct sockaddr_un *)NULL)->sun_path) - 1);
		return 2;
	}
	if (!have_mac) {
		uint32_t h = 2166136261u;

		for (const char *p = g.name; *p; p++)
			h = (h ^ (uint8_t)*p) * 16777619u;
		mac[0] = 0x52; mac[1] = 0x54; mac[2] = 0x00;
		mac[3] = h >> 16; mac[4] = h >> 8; mac[5] = h;
	}
	if (mkdir(g.run_dir, 0700) < 0 && errno != EEXIST) {
		fprintf(stderr, "vduse-net: cannot create --run-dir %s: %s\n", g.run_dir,
			strerror(errno));
		return 1;
	}
	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGINT);
	sigprocmask(SIG_BLOCK, &sigs, NULL);
	g.sig_fd = signalfd(-1, &sigs, SFD_CLOEXEC | SFD_NONBLOCK);
	g.ctrl_buf = malloc(CTRL_MAX);

	/* ---- restart, or a new device ---- */
	if (device_exists(g.name)) {
		st = state_load();
		if (!st) {
			say(VDUSE_LOG_ERROR, "a VDUSE device named %s exists, but %s does not "
			    "describe it (another program's device?); pick another NAME, or "
			    "remove it: vdpa dev del %s; vduse-net --destroy %s",
			    g.name, g.state_path, g.name, g.name);
			return 1;
		}
		restart = true;
		say(VDUSE_LOG_INFO, "%s exists: re-attaching with the layout in %s "
		    "(command-line layout options are ignored)", g.name, g.state_path);
	} else {
		st = map_file(g.state_path, sizeof(*st), true);
		if (!st)
			return 1;
		st->magic = NET_STATE_MAGIC;
		st->version = NET_STATE_VERSION;
		snprintf(st->tap, sizeof(st->tap), "%s", tap);
		memcpy(st->cfg_mac, mac, 6);
		st->mtu = mtu;
		st->queue_size = qsize;
		st->max_pairs = pairs;
		st->cvq = !no_cvq;
		st->features = SVQ_TRANSPORT | F(VIRTIO_NET_F_MAC) | F(VIRTIO_NET_F_STATUS) |
			       F(VIRTIO_NET_F_MRG_RXBUF) | (no_off ? 0 : OFFLOADS) |
			       (mtu ? F(VIRTIO_NET_F_MTU) : 0) | extra;
		if (st->cvq)
			st->features |= CVQ_FEATURES & ~F(VIRTIO_NET_F_MQ) &
					~F(VIRTIO_NET_F_RSS) & ~F(VIRTIO_NET_F_GUEST_ANNOUNCE);
		if (!st->cvq || no_off)
			st->features &= ~F(VIRTIO_NET_F_CTRL_GUEST_OFFLOADS);
		if (st->cvq && pairs > 1)
			st->features |= F(VIRTIO_NET_F_MQ);
		if (st->cvq && rss)
			st->features |= F(VIRTIO_NET_F_RSS);
		if (!st->cvq && (pairs > 1 || rss || (extra & F(VIRTIO_NET_F_GUEST_ANNOUNCE)))) {
			say(VDUSE_LOG_ERROR, "--queue-pairs > 1, --rss and --offer announce "
			    "need the control queue (drop --no-cvq)");
			return 2;
		}
		if (extra)
			say(VDUSE_LOG_WARN, "--offer: QEMU's shadow virtqueue refuses these "
			    "features, so a VM using this device cannot be live-migrated");
		st->link_up = link_up;
		st->status = link_up ? VIRTIO_NET_S_LINK_UP : 0;
		net_state_reset(st);
	}
	g.st = st;
	g.nvqs = 2 * st->max_pairs + (st->cvq ? 1 : 0);
	g.ngroups = !st->cvq ? 1 : st->max_pairs > 1 ? 3 : 2;
	for (k = 0; k < st->max_pairs; k++) {
		g.pairs[k].buf = malloc(FRAME_MAX);
		g.pairs[k].stash = calloc(st->queue_size, sizeof(struct vduse_req *));
		g.pairs[k].fd = -1;
		if (!g.pairs[k].buf || !g.pairs[k].stash || !g.ctrl_buf) {
			say(VDUSE_LOG_ERROR, "out of memory");
			return 1;
		}
	}

	config_fill(&cfg);
	LIBVDUSE_OPTS(vduse_dev_opts, o,
		.name = g.name,
		.device_id = VIRTIO_ID_NET,
		.config = &cfg,
		.config_size = sizeof(cfg),
		.queue_size = st->queue_size,
		.started = on_started,
		.stopped = on_stopped,
		.reset = on_reset,
		.queue_ready = on_queue_ready,
		.group_asid = on_group_asid,
		.log = lib_log,
		.log_level = VDUSE_LOG_DEBUG);
	create_device(groups, &o);
	/* sized for the layout with a control queue: the fallback needs less */
	g.inflight_size = vduse_inflight_size(g.nvqs, st->queue_size, g.ngroups);
	g.inflight = map_file(g.inflight_path, g.inflight_size, !restart);
	if (!g.inflight) {
		if (!restart)
			remove_files();
		return 1;
	}
	o.inflight = g.inflight;
	o.inflight_size = g.inflight_size;

	if (!restart) {
		g.quiet_lib = st->cvq;
		ret = vduse_dev_create(&o, &g.dev);
		g.quiet_lib = false;
		if ((ret == -EINVAL || ret == -EOPNOTSUPP) && st->cvq) {
			say(VDUSE_LOG_WARN, "this kernel refuses a virtio-net control queue for "
			    "VDUSE devices (upstream does; our module needs API v1): running "
			    "without one, so with one queue pair and no RX filtering");
			st->cvq = 0;
			st->features &= ~(CVQ_FEATURES | F(VIRTIO_NET_F_CTRL_GUEST_OFFLOADS));
			if (st->max_pairs > 1) {
				say(VDUSE_LOG_WARN, "using 1 queue pair instead of %u",
				    st->max_pairs);
				st->max_pairs = 1;
			}
			g.nvqs = 2;
			g.ngroups = 1;
			config_fill(&cfg);
			create_device(groups, &o);
			ret = vduse_dev_create(&o, &g.dev);
		}
		if (ret < 0) {
			say(VDUSE_LOG_ERROR, "creating VDUSE device %s: %s%s", g.name,
			    strerror(-ret), ret == -ENOENT || ret == -EACCES ?
			    " (is the vduse module loaded, and are you root?)" : "");
			unlink(g.state_path);
			return 1;
		}
		created = true;
		say(VDUSE_LOG_INFO, "created (VDUSE API v%d, %u queues, %u groups%s)",
		    vduse_dev_api_version(g.dev), g.nvqs, g.ngroups,
		    st->cvq ? ", control queue in its own group" : "");
	}

	/* the TAP: a crashed daemon's stays (persistent) for its successor */
	for (k = 0; k < st->max_pairs; k++) {
		bool new_tap;

		g.pairs[k].fd = tap_open(st->tap, st->max_pairs > 1, &new_tap);
		if (g.pairs[k].fd < 0)
			goto fail;
		g.pairs[k].attached = true;
		if (k == 0 && !restart)
			st->tap_created = new_tap;
	}
	if (st->tap_created) {
		ioctl(g.pairs[0].fd, TUNSETPERSIST, 1);
		if (st->mtu && !restart)
			tap_set_mtu(st->mtu);
	}
	tap_set_carrier(st->link_up);
	tap_set_queues(st->pairs);

	if (restart) {
		g.attaching = true;
		ret = vduse_dev_attach(&o, &g.dev);
		g.attaching = false;
		if (ret < 0) {
			say(VDUSE_LOG_ERROR, "re-attaching to %s: %s%s", g.name, strerror(-ret),
			    ret == -EBUSY ? " (another daemon is serving it)" : "");
			for (k = 0; k < st->max_pairs; k++)
				if (g.pairs[k].fd >= 0)
					close(g.pairs[k].fd);
			return 1;
		}
		for (i = 0, resub = 0; i < g.nvqs; i++)
			resub += vduse_vq_resubmit_count(vq_of(i));
		say(VDUSE_LOG_INFO, "re-attached (%s; %u buffer%s from the in-flight log to "
		    "serve again)", g.running ? "driver running" : "idle", resub,
		    resub == 1 ? "" : "s");
	}
	g.listen_fd = ctl_listen();
	if (g.listen_fd < 0)
		goto fail;
	say(VDUSE_LOG_INFO, "serving: TAP %s, MAC %02x:%02x:%02x:%02x:%02x:%02x, %u pair(s), "
	    "control socket %s; bind with: vdpa dev add name %s mgmtdev vduse",
	    st->tap, st->cfg_mac[0], st->cfg_mac[1], st->cfg_mac[2], st->cfg_mac[3],
	    st->cfg_mac[4], st->cfg_mac[5], st->max_pairs, g.sock_path, g.name);

	/* ---- the loop ---- */
	for (k = 0; k < CTL_CLIENTS; k++)
		g.ctl[k].fd = -1;
	while (!(ret = serve_pass(-1)))
		;
	status = g.status;
	if (ret == SERVE_LEAVE)
		goto out;
	/* shut down: the kernel device, then the TAP and the files */
	if (g.dev) {
		on_stopped(g.dev, NULL);
		vduse_dev_close(g.dev);
		g.dev = NULL;
		/* the vDPA device drops its last reference a moment after it is gone */
		ret = vduse_destroy_by_name_wait(g.name, 5000);
		if (ret < 0) {
			say(VDUSE_LOG_ERROR, "destroying %s: %s", g.name, strerror(-ret));
			status = 1;
		} else {
			say(VDUSE_LOG_INFO, "device destroyed");
		}
	}
	if (st->tap_created)
		ioctl(g.pairs[0].fd, TUNSETPERSIST, 0);	/* the last close removes it */
	remove_files();
out:
	for (k = 0; k < st->max_pairs; k++)
		close(g.pairs[k].fd);
	return status;

fail:
	if (g.dev) {
		if (created)
			vduse_dev_destroy(g.dev);
		else
			vduse_dev_close(g.dev);
	} else if (created) {
		vduse_destroy_by_name(g.name);
	}
	for (k = 0; k < st->max_pairs; k++)
		if (g.pairs[k].fd >= 0) {
			if (st->tap_created && !restart)
				ioctl(g.pairs[k].fd, TUNSETPERSIST, 0);
			close(g.pairs[k].fd);
		}
	if (!restart)
		remove_files();
	return 1;
}
