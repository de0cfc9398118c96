// SPDX-License-Identifier: GPL-2.0
/*
 * vduse-net's event loop (serve_pass()) against the fake VDUSE kernel of
 * the libvduse unit tests, with a socketpair for the TAP and the real
 * control socket:
 *
 * - a transmit queue sends at most TX_BUDGET frames per pass, and the rest
 *   on the next passes without a new kick (no lost wakeup);
 * - a driver that keeps its transmit ring full (a thread re-posting every
 *   used buffer and kicking) does not starve the loop: every pass returns
 *   and a control command is answered meanwhile;
 * - a control client that connects and sends nothing, or half a line, does
 *   not hold a pass up; it is dropped after CTL_TIMEOUT_MS, and a command
 *   sent in pieces is answered once complete.
 *
 * A watchdog (SIGALRM) fails the run if a pass never returns.
 */
#define main vduse_net_main
#include "../vduse-net.c"
#undef main
#include <pthread.h>
#include <sys/eventfd.h>
#include "fake_kernel.h"

#define RING	0x100000ull
#define BUF	0x200000ull
#define NUM	256
#define FRAME	(HDR_LEN + 60)
#define TXQ	1

static struct fake_kernel fk;
static struct net_state nst;
static struct fk_split tx;
static int peer = -1;		/* the "TAP"'s other end */
static char run_dir[] = "/tmp/net-loop.XXXXXX";

static void watchdog(int sig)
{
	static const char m[] = "not ok - watchdog: a pass of the loop did not return in 30 s "
				"(starved by the transmit queue, or blocked on a client)\n";

	(void)sig;
	if (write(1, m, sizeof(m) - 1) < 0)
		_exit(2);
	_exit(1);
}

static uint64_t ms(void)
{
	return now_ms();
}

/* Frames the "TAP" received so far (drained). */
static unsigned int drain_peer(void)
{
	char b[FRAME_MAX];
	unsigned int n = 0;

	while (recv(peer, b, sizeof(b), MSG_DONTWAIT) > 0)
		n++;
	return n;
}

static void kick(void)
{
	if (eventfd_write(vduse_vq_kick_fd(vq_of(TXQ)), 1))
		abort();
}

static uint16_t used_idx(void)
{
	return __atomic_load_n(&fk_split_used(&tx)[1], __ATOMIC_ACQUIRE);
}

static void setup(void)
{
	struct virtio_net_config cfg;
	uint32_t groups[3];
	struct fk_desc *d;
	unsigned int i;
	int sp[2];

	if (!mkdtemp(run_dir))
		abort();
	g.name = "tl";
	g.run_dir = run_dir;
	snprintf(g.sock_path, sizeof(g.sock_path), "%s/tl.sock", run_dir);
	nst.magic = NET_STATE_MAGIC;
	nst.version = NET_STATE_VERSION;
	strcpy(nst.tap, "tl0");
	memcpy(nst.cfg_mac, "\x52\x54\x00\x01\x02\x03", 6);
	nst.queue_size = NUM;
	nst.max_pairs = 1;
	nst.cvq = 1;
	nst.features = SVQ_TRANSPORT | F(VIRTIO_NET_F_MAC) | F(VIRTIO_NET_F_STATUS) |
		       F(VIRTIO_NET_F_CTRL_VQ);
	nst.link_up = 1;
	nst.status = VIRTIO_NET_S_LINK_UP;
	net_state_reset(&nst);
	g.st = &nst;
	g.nvqs = 3;
	g.ngroups = 2;
	g.ctrl_buf = malloc(CTRL_MAX);
	g.pairs[0].buf = malloc(FRAME_MAX);
	g.pairs[0].stash = calloc(NUM, sizeof(struct vduse_req *));
	if (!g.ctrl_buf || !g.pairs[0].buf || !g.pairs[0].stash ||
	    socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sp))
		abort();
	g.pairs[0].fd = sp[0];
	g.pairs[0].attached = true;
	peer = sp[1];
	i = 1 << 20;
	setsockopt(peer, SOL_SOCKET, SO_RCVBUF, &i, sizeof(i));
	setsockopt(sp[0], SOL_SOCKET, SO_SNDBUF, &i, sizeof(i));

	config_fill(&cfg);
	LIBVDUSE_OPTS(vduse_dev_opts, o, .name = g.name, .device_id = VIRTIO_ID_NET,
		      .config = &cfg, .config_size = sizeof(cfg), .queue_size = NUM,
		      .started = on_started, .stopped = on_stopped, .reset = on_reset,
		      .queue_ready = on_queue_ready, .group_asid = on_group_asid,
		      .log = lib_log, .log_level = VDUSE_LOG_WARN);
	create_device(groups, &o);
	fk_init(&fk, 1);
	TAP_EQ(vduse__dev_create(&o, &fk_backend, &fk, &g.dev), 0, "device created (fake kernel)");
	if (!g.dev)
		exit(tap_done());
	fk_map(&fk, 0, RING, 0x100000, 0, VDUSE_ACCESS_RW);
	fk_map(&fk, 0, BUF, 0x100000, 0x100000, VDUSE_ACCESS_RW);
	fk_split_init(&fk, &tx, TXQ, 0, RING, NUM);
	d = fk_split_desc(&tx);
	for (i = 0; i < NUM; i++) {
		fk_set_desc(&d[i], BUF + i * 128, FRAME, 0, 0);
		memset(fk_ptr(&fk, 0, BUF + i * 128), 0, FRAME);
		memset(fk_ptr(&fk, 0, BUF + i * 128 + HDR_LEN), 0xff, 6);	/* broadcast */
	}
	fk.features = SVQ_TRANSPORT | F(VIRTIO_F_ACCESS_PLATFORM) | F(VIRTIO_NET_F_MAC) |
		      F(VIRTIO_NET_F_STATUS);
	TAP_EQ(fk_status(&fk, g.dev, 0x0f), 0, "driver started the device");
	TAP_OK(g.running, "on_started ran", NULL);
	g.listen_fd = ctl_listen();
	TAP_OK(g.listen_fd >= 0, "control socket", "%s", g.sock_path);
	for (i = 0; i < CTL_CLIENTS; i++)
		g.ctl[i].fd = -1;
}

/* One pass of the loop (it must go on); how long it took (ms). */
static uint64_t pass(int cap)
{
	uint64_t t0 = ms();
	int ret = serve_pass(cap);

	if (ret != SERVE_ON)
		TAP_OK(0, "a pass of the loop asked to stop", "%d", ret);
	return ms() - t0;
}

static void test_budget(void)
{
	unsigned int i, got, passes;
	uint64_t took;

	for (i = 0; i < 200; i++)
		fk_split_publish(&tx, i);
	kick();
	took = pass(1000);
	got = drain_peer();
	TAP_EQ(got, TX_BUDGET, "budget: one kick, 200 frames: the first pass sends TX_BUDGET");
	TAP_OK(g.tx_more & 1, "budget: the queue is marked for the next pass", NULL);
	for (passes = 0; passes < 10 && used_idx() != 200; passes++) {
		took = pass(1000);
		got += drain_peer();
		if (took > 500)
			break;
	}
	/* a pass that waited would take its whole 1000 ms: half is the bound */
	TAP_OK(took <= 500, "budget: the passes with frames left poll without waiting",
	       "%llu ms", (unsigned long long)took);
	TAP_EQ(got, 200, "budget: every frame sent without another kick (no lost wakeup)");
	TAP_EQ(used_idx(), 200, "budget: every buffer returned");
	TAP_EQ(nst.q[TXQ].packets, 200, "budget: counted");
	TAP_OK(passes >= 3 && passes <= 4, "budget: 200 frames take 4 passes", "%u more", passes);
	pass(10);
	TAP_OK(!g.tx_more, "budget: nothing left, nothing marked", NULL);
}

/* ---- a driver that keeps the transmit ring full ---- */

static volatile int flood_stop;
static uint16_t flood_seen;	/* used entries re-posted so far */

static void *flood(void *arg)
{
	uint16_t seen = flood_seen, u;
	uint32_t *ring;

	(void)arg;
	while (!flood_stop) {
		u = used_idx();
		ring = (uint32_t *)(fk_split_used(&tx) + 2);
		/* re-post every buffer the device returned, and kick */
		if (seen == u)
			continue;
		for (; seen != u; seen++)
			fk_split_publish(&tx, (uint16_t)ring[2 * (seen % NUM)]);
		kick();
	}
	return NULL;
}

static int client(void)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	strcpy(a.sun_path, g.sock_path);
	if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof(a)))
		abort();
	return fd;
}

/*
 * Run passes (up to @max_ms) until the daemon closes @fd or @size - 1 bytes
 * came; false if nothing came.
 */
static bool reply(int fd, char *buf, size_t size, unsigned int max_ms)
{
	uint64_t t0 = ms();
	size_t len = 0;
	ssize_t n;

	while (ms() - t0 < max_ms) {
		pass(50);
		n = recv(fd, buf + len, size - 1 - len, MSG_DONTWAIT);
		if (n > 0)
			len += n;
		if (n == 0 || len == size - 1)
			break;
	}
	buf[len] = 0;
	return len > 0;
}

static void test_flood(void)
{
	pthread_t t;
	unsigned int i;
	uint64_t worst = 0, took;
	unsigned long before = nst.q[TXQ].packets;
	char buf[256];
	int fd;

	/* the buffers left by the other tests are all used: post them all again */
	flood_seen = used_idx();
	for (i = 0; i < NUM; i++)
		fk_split_publish(&tx, i);
	kick();
	if (pthread_create(&t, NULL, flood, NULL))
		abort();
	for (i = 0; i < 20; i++) {
		took = pass(50);
		if (took > worst)
			worst = took;
	}
	TAP_OK(worst < 1000, "flood: a driver keeping its tx ring full: every pass returns",
	       "worst %llu ms", (unsigned long long)worst);
	fd = client();
	if (write(fd, "state\n", 6) != 6)
		abort();
	TAP_OK(reply(fd, buf, 64, 5000) && !strncmp(buf, "{\"name\":\"tl\"", 12),
	       "flood: the control socket is answered meanwhile", "'%.40s'", buf);
	close(fd);
	flood_stop = 1;
	pthread_join(t, NULL);
	TAP_OK(nst.q[TXQ].packets - before > 2 * NUM,
	       "flood: and the frames kept flowing", "%llu frames",
	       (unsigned long long)(nst.q[TXQ].packets - before));
	/* let the loop finish what was posted */
	for (i = 0; i < 20 && (g.tx_more || used_idx() != tx.avail_idx); i++)
		pass(10);
	drain_peer();
	TAP_EQ(used_idx(), tx.avail_idx, "flood: every buffer returned at the end");
}

static void test_silent_client(void)
{
	char buf[64];
	uint64_t took, worst = 0;
	unsigned int i, sent;
	int quiet, half, fd;

	quiet = client();	/* connects, sends nothing */
	half = client();
	if (write(half, "sta", 3) != 3)
		abort();
	for (i = 0; i < 4; i++) {
		took = pass(50);
		if (took > worst)
			worst = took;
	}
	/* a blocking read would hold a pass up for the client's whole second */
	TAP_OK(worst < 500, "silent client: a client sending nothing or half a line holds no pass up",
	       "worst %llu ms", (unsigned long long)worst);
	/* frames still flow while they are connected */
	for (i = 0; i < 10; i++)
		fk_split_publish(&tx, i);
	kick();
	pass(50);
	sent = drain_peer();
	TAP_EQ(sent, 10, "silent client: frames still flow");
	/* another client is answered at once */
	fd = client();
	if (write(fd, "link up\n", 8) != 8)
		abort();
	TAP_OK(reply(fd, buf, sizeof(buf), 900) && !strcmp(buf, "ok\n"),
	       "silent client: another client is answered within 900 ms", "'%s'", buf);
	close(fd);
	/* the half line, completed, is a command */
	if (write(half, "te\n", 3) != 3)
		abort();
	TAP_OK(reply(half, buf, sizeof(buf), 500) && !strncmp(buf, "{\"name\"", 7),
	       "silent client: a command sent in two pieces is answered once complete",
	       "'%.20s'", buf);
	close(half);
	/* the quiet one is dropped after CTL_TIMEOUT_MS */
	TAP_OK(reply(quiet, buf, sizeof(buf), CTL_TIMEOUT_MS + 1000) == false &&
	       recv(quiet, buf, 1, MSG_DONTWAIT) == 0,
	       "silent client: dropped (EOF) after CTL_TIMEOUT_MS", NULL);
	close(quiet);
	for (i = 0; i < CTL_CLIENTS; i++)
		if (g.ctl[i].fd >= 0)
			break;
	TAP_EQ(i, CTL_CLIENTS, "silent client: every slot free again");
}

/*
 * The old daemon stored a control command's effect in the state file (a
 * MAC, an ANNOUNCE_ACK) and died before writing the config space: the
 * re-attach writes both again.
 */
static void test_attach_config(void)
{
	struct virtio_net_config *c = (struct virtio_net_config *)fk.config;
	static const uint8_t mac[6] = { 0x52, 0x54, 0x00, 0xaa, 0xbb, 0xcc };

	memcpy(nst.mac, mac, 6);
	nst.status = VIRTIO_NET_S_LINK_UP;
	c->status = htole16(VIRTIO_NET_S_LINK_UP | VIRTIO_NET_S_ANNOUNCE);
	g.attaching = true;
	on_started(g.dev, NULL);
	pass(10);
	g.attaching = false;
	TAP_EQ(le16toh(c->status), VIRTIO_NET_S_LINK_UP,
	       "re-attach: the config space's status is the state's again (ANNOUNCE acknowledged)");
	TAP_OK(!memcmp(c->mac, mac, 6), "re-attach: the config space's MAC is the state's again",
	       "%02x:%02x:%02x:%02x:%02x:%02x", c->mac[0], c->mac[1], c->mac[2], c->mac[3],
	       c->mac[4], c->mac[5]);
}

int main(void)
{
	signal(SIGALRM, watchdog);
	signal(SIGPIPE, SIG_IGN);
	alarm(30);
	setup();
	test_budget();
	test_silent_client();
	test_flood();
	test_attach_config();
	close(g.listen_fd);
	unlink(g.sock_path);
	rmdir(run_dir);
	vduse_dev_destroy(g.dev);
	fk_fini(&fk);
	return tap_done();
}
