// SPDX-License-Identifier: GPL-2.0
/*
 * hostile_drv: a hostile vDPA driver against vduse-net (libvduse), through
 * vhost-vdpa (issue 13). For each malformed ring below, a fresh session of
 * libvdpacvq (tools/vdpa-cvq: the shadow CVQ in ASID 1, two queue pairs)
 * sends a good frame on pair 0, then writes the malformed chain into the
 * transmit ring of pair 0 (vq 1) behind the session's back and kicks. Then:
 *
 *   - vduse-netctl state shows vq 1 broken, the daemon's log the reason;
 *   - pair 1's transmit queue (vq 3) still carries a frame;
 *   - the control queue still answers a command (the control path), and
 *     the control socket a state query;
 *   - after the session's reset vq 1 works again.
 *
 * The daemon must survive all of it (the suite checks its pid and log).
 *
 *   hostile_drv NAME LOG     (NAME's daemon runs with --queue-pairs 2
 *                             --offer indirect, writing LOG)
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <linux/virtio_ring.h>
#include "tap.h"
#include "vduse_test.h"
#include "libvdpacvq.h"

#define SCRATCH 0x80000		/* offset in guest memory no session uses */
#define HOSTILE_VQ 1

static const char *name, *logpath;
static char vhpath[300];

enum kind {
	K_LOOP, K_HEAD, K_NEXT, K_WRAP, K_HUGE, K_NESTED, K_UNMAPPED, K_TBL_UNMAPPED, K_WRONG_ASID,
	K_BUF_WRONG_ASID, K_JUMP, K_NKINDS
};

static const struct {
	const char *what;
	const char *reason;	/* in the daemon's log */
} kinds[K_NKINDS] = {
	[K_LOOP] = { "a descriptor loop (0 -> 1 -> 0)", "loops or exceeds" },
	[K_HEAD] = { "a head index out of range (200 of 64)", "head index 200 out of range" },
	[K_NEXT] = { "a next index out of range (99 of 64)", "next index 99 out of range" },
	[K_WRAP] = { "a huge length that wraps the IOVA space", "wraps around" },
	[K_NESTED] = { "an indirect table inside an indirect table", "indirect descriptor inside an indirect table" },
	[K_HUGE] = { "a huge length (0xffffff00) past the mapping", "readable buffer [0x100000 + 4294967040] is outside every mapping of ASID 0" },
	[K_UNMAPPED] = { "a buffer at an unmapped IOVA", "readable buffer [0x7f000000 + 64] is outside every mapping of ASID 0" },
	[K_TBL_UNMAPPED] = { "an indirect table at an unmapped IOVA", "indirect table at 0x7f000000 is outside every mapping" },
	[K_WRONG_ASID] = { "an indirect table in ASID 1 (the CVQ's)", "indirect table at 0x40000000 is outside every mapping" },
	[K_BUF_WRONG_ASID] = { "a buffer in ASID 1 (the CVQ's)", "readable buffer [0x40000000 + 64] is outside every mapping of ASID 0" },
	[K_JUMP] = { "the avail index moved by 100 (> queue size)", "available index moved" },
};

/* vduse-netctl NAME state: is vq Q broken? 1, 0, or -1 (no answer). */
static int vq_broken(int q)
{
	char cmd[300], buf[16384], pat[64], *p;
	FILE *f;
	size_t n;

	snprintf(cmd, sizeof(cmd), "vduse-netctl %s state 2>&1", name);
	f = popen(cmd, "r");
	if (!f)
		return -1;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	if (pclose(f) != 0 || !n)
		return -1;
	buf[n] = 0;
	snprintf(pat, sizeof(pat), "{\"index\":%d,", q);
	p = strstr(buf, pat);
	if (!p)
		return -1;
	p = strstr(p, "\"broken\":");
	return p ? !strncmp(p + 9, "true", 4) : -1;
}

static int log_has(const char *s)
{
	char cmd[400];

	snprintf(cmd, sizeof(cmd), "grep -qF '%s' %s", s, logpath);
	return run_cmd("%s", cmd) == 0;
}

static const uint8_t frame[60] = {
	0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x52, 0x54, 0x00, 0xaa, 0xbb, 0xcc, 0x88, 0xb5, 'h', 'o', 's', 't',
};

static struct vdpacvq_dev *start(void)
{
	struct vdpacvq_start_opts o = { .size = sizeof(o), .mode = VDPACVQ_MODE_ISOLATED, .timeout_ms = 5000 };
	struct vdpacvq_dev *d = NULL;
	struct vdpacvq_cmd c;
	uint8_t ack = 0xff;

	if (vdpacvq_open(vhpath, &d) < 0)
		return NULL;
	if (vdpacvq_start(d, &o) < 0 || vdpacvq_enc_mq_pairs(&c, 2) || vdpacvq_send(d, &c, &ack) || ack) {
		tap_diag("start: %s (ack %u)", vdpacvq_error(d), ack);
		vdpacvq_close(d);
		return NULL;
	}
	return d;
}

/* Publish the malformed chain of kind K on vq HOSTILE_VQ and kick. */
static void publish(struct vdpacvq_dev *d, enum kind k)
{
	struct vdpacvq_layout l;
	struct vdpacvq_raw_ring r;
	struct vring_desc *desc, *tbl;
	struct vring_avail *avail;
	uint16_t idx, head = 10;

	vdpacvq_get_layout(d, &l);
	vdpacvq_raw_ring(d, HOSTILE_VQ, &r);
	desc = r.desc;
	avail = r.avail;
	tbl = (struct vring_desc *)(r.guest + SCRATCH);
	idx = __atomic_load_n(&avail->idx, __ATOMIC_ACQUIRE);
	memset(&desc[10], 0, 2 * sizeof(*desc));
	desc[10].addr = l.guest_iova + SCRATCH + 0x1000;
	desc[10].len = 64;
	switch (k) {
	case K_LOOP:
		desc[head] = (struct vring_desc){ l.guest_iova + SCRATCH + 0x1000, 64, VRING_DESC_F_NEXT, head + 1 };
		desc[head + 1] = (struct vring_desc){ l.guest_iova + SCRATCH + 0x1000, 64, VRING_DESC_F_NEXT, head };
		break;
	case K_HEAD:
		head = 200;	/* only in the avail ring: desc[] has 64 entries */
		break;
	case K_NEXT:
		desc[head].flags = VRING_DESC_F_NEXT;
		desc[head].next = 99;
		break;
	case K_WRAP:
		desc[head].addr = ~0ull - 100;
		desc[head].len = 0xffffff00;
		break;
	case K_NESTED:
		tbl[0] = (struct vring_desc){ l.guest_iova + SCRATCH + 0x800, 32, VRING_DESC_F_INDIRECT, 0 };
		tbl[1] = (struct vring_desc){ 0 };
		desc[head] = (struct vring_desc){ l.guest_iova + SCRATCH, 32, VRING_DESC_F_INDIRECT, 0 };
		break;
	case K_HUGE:
		desc[head].addr = l.guest_iova;
		desc[head].len = 0xffffff00;
		break;
	case K_UNMAPPED:
		desc[head].addr = 0x7f000000ull;
		break;
	case K_TBL_UNMAPPED:
		desc[head] = (struct vring_desc){ 0x7f000000ull, 32, VRING_DESC_F_INDIRECT, 0 };
		break;
	case K_WRONG_ASID:
		desc[head] = (struct vring_desc){ l.shadow_iova, 32, VRING_DESC_F_INDIRECT, 0 };
		break;
	case K_BUF_WRONG_ASID:
		desc[head].addr = l.shadow_iova;
		break;
	case K_JUMP:
		break;
	case K_NKINDS:
		break;
	}
	avail->ring[idx % r.num] = head;
	__atomic_store_n(&avail->idx, (uint16_t)(idx + (k == K_JUMP ? 100 : 1)), __ATOMIC_RELEASE);
	vdpacvq_raw_kick(d, HOSTILE_VQ);
}

static void scenario(enum kind k)
{
	struct vdpacvq_dev *d = start();
	struct vdpacvq_cmd c;
	char nm[200];
	uint8_t ack = 0xff;
	int i, b = -1;

	snprintf(nm, sizeof(nm), "hostile_drv: %s: a session starts (2 pairs, CVQ in ASID 1)", kinds[k].what);
	TAP_OK(d, nm, " ");
	if (!d)
		return;
	snprintf(nm, sizeof(nm), "hostile_drv: %s: vq 1 is not broken at the start", kinds[k].what);
	TAP_EQ(vq_broken(HOSTILE_VQ), 0, nm);
	snprintf(nm, sizeof(nm), "hostile_drv: %s: a good frame on pair 0 first", kinds[k].what);
	TAP_OK(vdpacvq_frame_send(d, 0, frame, sizeof(frame)) == 0, nm, "%s", vdpacvq_error(d));

	publish(d, k);
	for (i = 0; i < 100 && (b = vq_broken(HOSTILE_VQ)) != 1; i++)
		msleep_(50);
	snprintf(nm, sizeof(nm), "hostile_drv: %s: vduse-netctl shows vq 1 broken", kinds[k].what);
	TAP_EQ(b, 1, nm);
	snprintf(nm, sizeof(nm), "hostile_drv: %s: the daemon logs \"%s\"", kinds[k].what, kinds[k].reason);
	TAP_OK(log_has(kinds[k].reason), nm, " ");
	snprintf(nm, sizeof(nm), "hostile_drv: %s: pair 1 still transmits", kinds[k].what);
	TAP_OK(vdpacvq_frame_send(d, 1, frame, sizeof(frame)) == 0, nm, "%s", vdpacvq_error(d));
	vdpacvq_enc_rx(&c, VIRTIO_NET_CTRL_RX_PROMISC, 1);
	snprintf(nm, sizeof(nm), "hostile_drv: %s: the control queue still answers (ACK)", kinds[k].what);
	TAP_OK(vdpacvq_send(d, &c, &ack) == 0 && ack == VDPACVQ_ACK, nm, "%s (ack %u)", vdpacvq_error(d), ack);
	snprintf(nm, sizeof(nm), "hostile_drv: %s: vq 0 and pair 1 are not broken", kinds[k].what);
	TAP_OK(vq_broken(0) == 0 && vq_broken(2) == 0 && vq_broken(3) == 0, nm, " ");
	vdpacvq_stop(d);
	vdpacvq_close(d);
}

int main(int argc, char **argv)
{
	struct vdpacvq_dev *d;
	int k;

	if (argc != 3) {
		fprintf(stderr, "usage: hostile_drv NAME LOG\n");
		return 2;
	}
	name = argv[1];
	logpath = argv[2];
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (vhost_path(name, vhpath, sizeof(vhpath))) {
		TAP_OK(0, "hostile_drv: the device is bound to vhost-vdpa", " ");
		return 1;
	}
	for (k = 0; k < K_NKINDS; k++)
		scenario(k);

	/* after every reset the hostile queue serves again */
	d = start();
	TAP_OK(d && vdpacvq_frame_send(d, 0, frame, sizeof(frame)) == 0 && vq_broken(HOSTILE_VQ) == 0,
	       "hostile_drv: after the last reset, pair 0 transmits again", "%s", d ? vdpacvq_error(d) : "no session");
	if (d) {
		vdpacvq_stop(d);
		vdpacvq_close(d);
	}
	return tap_failed ? 1 : 0;
}
