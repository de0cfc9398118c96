// SPDX-License-Identifier: GPL-2.0
/*
 * vdpa-cvq: drive a vhost-vdpa net device as QEMU does with a shadowed
 * control virtqueue, one observable step at a time (vdpa-cvq(8)).
 *
 *   vdpa-cvq probe DEV
 *   vdpa-cvq save DEV [OPTIONS] [CMD...]
 *   vdpa-cvq restore DEV FILE [OPTIONS] [CMD...]
 *   vdpa-cvq vduse-check
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>
#include <linux/virtio_config.h>
#include <linux/virtio_ids.h>
#include <linux/virtio_net.h>
#include "linux/vduse.h"
#include "libvdpacvq.h"

enum { EX_OK = 0, EX_NOT_ISOLATED = 1, EX_ERROR = 2, EX_NO_CVQ = 3, EX_USAGE = 64 };

static void usage(void)
{
	fprintf(stderr,
		"usage: vdpa-cvq probe /dev/vhost-vdpa-N [--features MASK]\n"
		"       vdpa-cvq save /dev/vhost-vdpa-N [-o FILE] [OPTIONS] [CMD...]\n"
		"       vdpa-cvq restore /dev/vhost-vdpa-N FILE [-o FILE] [OPTIONS] [CMD...]\n"
		"       vdpa-cvq vduse-check\n"
		"options: --features MASK  --timeout MS  --migration-start  --loopback N  --tap-echo N  --hold PATH\n"
		"commands: mac=XX:XX:XX:XX:XX:XX promisc=0|1 allmulti=0|1 alluni=0|1 nomulti=0|1\n"
		"          nouni=0|1 nobcast=0|1 vlan-add=ID vlan-del=ID mq=PAIRS offloads=MASK\n"
		"          mac-table=U1,U2/M1,M2 rss=TYPES:KEYHEX:Q,Q,.. hash=TYPES:KEYHEX announce\n"
		"see vdpa-cvq(8)\n");
}

/*
 * An option's number, by the rules of the control commands: decimal, or
 * hexadecimal after 0x; no sign, no leading 0 before digits, nothing after,
 * within MIN..MAX.  A usage message and -1 otherwise.
 */
static int opt_num(const char *opt, const char *s, unsigned long long min, unsigned long long max,
		   unsigned long long *v)
{
	int hex = s[0] == '0' && (s[1] == 'x' || s[1] == 'X');
	const char *p = s + (hex ? 2 : 0);
	char *end;

	if (hex ? !isxdigit((unsigned char)*p) : (!isdigit((unsigned char)*p) || (p[0] == '0' && p[1])))
		goto bad;
	errno = 0;
	*v = strtoull(p, &end, hex ? 16 : 10);
	if (!errno && !*end && *v >= min && *v <= max)
		return 0;
bad:
	if (max == ~0ull)
		fprintf(stderr, "vdpa-cvq: %s wants a non-zero mask (decimal, or hexadecimal after 0x), "
			"not '%s'\n", opt, s);
	else
		fprintf(stderr, "vdpa-cvq: %s wants a number from %llu to %llu (decimal, or hexadecimal "
			"after 0x), not '%s'\n", opt, min, max, s);
	return -1;
}

static int cmd_probe(int argc, char **argv)
{
	struct vdpacvq_probe p;
	struct vdpacvq_dev *d;
	unsigned long long n;
	uint64_t mask = 0;
	char line[512];
	int r, k;

	if (argc == 3 && !strcmp(argv[1], "--features")) {
		/* 0 is no mask at all in vdpacvq_probe(): refused */
		if (opt_num("--features", argv[2], 1, ~0ull, &n))
			return EX_USAGE;
		mask = n;
		argc = 1;
	}
	if (argc != 1) {
		usage();
		return EX_USAGE;
	}
	r = vdpacvq_open(argv[0], &d);
	if (!r)
		r = vdpacvq_probe(d, mask, &p);
	if (r) {
		fprintf(stderr, "vdpa-cvq: %s: %s\n", argv[0], d ? vdpacvq_error(d) : strerror(-r));
		vdpacvq_close(d);
		return EX_ERROR;
	}
	vdpacvq_close(d);
	vdpacvq_probe_describe(&p, line, sizeof(line));
	printf("%s: %s\n", argv[0], line);
	printf("# backend features offered 0x%llx, acked 0x%llx; device id %u, %u vqs, %u groups, %u address spaces; "
	       "features 0x%llx; max_virtqueue_pairs %u\n",
	       (unsigned long long)p.backend_offered, (unsigned long long)p.backend_acked, p.device_id, p.nvqs,
	       p.ngroups, p.nas, (unsigned long long)p.offered, p.max_pairs);
	for (k = 0; k < p.nsets; k++)
		printf("# features 0x%llx%s: CVQ vq %u in group %u, %s\n", (unsigned long long)p.set[k].features,
		       k == 0 ? " (all offered, QEMU's CVQ index)" : k == 1 ? " (without MQ/RSS)" :
		       " (all offered, RSS's CVQ index)", p.set[k].cvq, p.set[k].group,
		       p.set[k].shared_vq < 0 ? "no data vq in that group" : "shared with a data vq");
	if (p.verdict == VDPACVQ_NO_CVQ)
		return EX_NO_CVQ;
	return p.verdict == VDPACVQ_ISOLATED ? EX_OK : EX_NOT_ISOLATED;
}

static char *read_file(const char *path)
{
	FILE *f = fopen(path, "r");
	char *buf;
	size_t n;

	if (!f)
		return NULL;
	buf = malloc(1 << 20);
	if (!buf) {
		fclose(f);
		return NULL;
	}
	n = fread(buf, 1, (1 << 20) - 1, f);
	if (ferror(f) || !feof(f)) {
		free(buf);
		fclose(f);
		errno = EFBIG;
		return NULL;
	}
	buf[n] = 0;
	fclose(f);
	return buf;
}

static int write_state(const struct vdpacvq_state *s, const char *path)
{
	static char buf[1 << 17];
	int n = vdpacvq_state_to_json(s, buf, sizeof(buf));
	FILE *f;

	if (n < 0)
		return -1;
	f = path ? fopen(path, "w") : stdout;
	if (!f)
		return -1;
	if (fwrite(buf, 1, n, f) != (size_t)n || (path ? fclose(f) : fflush(f))) {
		if (path)
			fclose(f);
		return -1;
	}
	return 0;
}

/*
 * Test frames, sent on pair 0: broadcast, local experimental ethertype
 * 0x88b5, byte 14 the frame's number and every later byte derived from it,
 * so the other end can check each byte. --loopback N expects each frame back
 * unchanged (a device that echoes its TX queue into its RX queue: the suite's
 * test device, vdpa_sim_net); --tap-echo N expects the answer of
 * tests/vm/guest/tapecho on the device's TAP (vduse-net): the same payload
 * with every byte inverted, from 02:ee:ee:ee:ee:ee, to broadcast. The answer
 * is taken from the RX queue of whichever pair the device delivers it on:
 * without RSS any active pair is legal (vduse-net uses the pair of the TAP
 * queue tun chose); the pairs are reported.
 */
static int frames_exchange(struct vdpacvq_dev *d, int n, int echo)
{
	static const uint8_t peer[6] = { 0x02, 0xee, 0xee, 0xee, 0xee, 0xee };
	uint8_t f[128], g[2048], want[128];
	char pairs[256];
	size_t len, o = 0;
	int i, r, other = 0;
	uint16_t pair;

	pairs[0] = 0;
	for (i = 0; i < n; i++) {
		memset(f, 0xff, 6);
		memcpy(f + 6, (uint8_t[]){ 0x02, 0, 0, 0, 0, 0x01 }, 6);
		f[12] = 0x88;
		f[13] = 0xb5;
		f[14] = (uint8_t)i;
		for (size_t k = 15; k < sizeof(f); k++)
			f[k] = (uint8_t)(i * 31 + k);
		memcpy(want, f, sizeof(f));
		if (echo) {
			memcpy(want + 6, peer, 6);
			for (size_t k = 14; k < sizeof(f); k++)
				want[k] = (uint8_t)~f[k];
		}
		r = vdpacvq_frame_send(d, 0, f, sizeof(f));
		if (!r)
			r = vdpacvq_frame_recv_any(d, g, sizeof(g), &len, &pair);
		if (r)
			return r;
		if (len != sizeof(want) || memcmp(want, g, len)) {
			fprintf(stderr, "vdpa-cvq: frame %d: the answer on pair %u differs (%zu bytes)\n", i, pair,
				len);
			return -EPROTO;
		}
		other |= pair != 0;
		if (o < sizeof(pairs))
			o += snprintf(pairs + o, sizeof(pairs) - o, " %u", pair);
	}
	if (n && !other)
		fprintf(stderr, "vdpa-cvq: %d frames %s through pair 0\n", n,
			echo ? "answered by the TAP's peer" : "looped back");
	else if (n)
		fprintf(stderr, "vdpa-cvq: %d frames %s: sent on pair 0, received on pairs%s\n", n,
			echo ? "answered by the TAP's peer" : "looped back", pairs);
	return 0;
}

/*
 * --hold PATH: the model as JSON in PATH, then wait (up to 120 s) until PATH
 * is removed, so a test can compare it with the device's own state while the
 * session runs (a reset would return the device to its defaults).
 */
static int hold(struct vdpacvq_dev *d, const char *path)
{
	int i;

	if (!path)
		return 0;
	if (write_state(vdpacvq_model(d), path))
		return -errno;
	for (i = 0; i < 2400 && access(path, F_OK) == 0; i++)
		usleep(50000);
	return access(path, F_OK) == 0 ? -ETIMEDOUT : 0;
}

/*
 * The parts of the control state where A and B differ, by their JSON names,
 * comma-separated in OUT ("" when none).
 */
static void state_diff(const struct vdpacvq_state *a, const struct vdpacvq_state *b, char *out, size_t len)
{
	const struct {
		int differs;
		const char *name;
	} f[] = {
		{ a->features != b->features, "features" },
		{ a->max_pairs != b->max_pairs, "max_pairs" },
		{ a->pairs != b->pairs, "pairs" },
		{ memcmp(a->mac, b->mac, 6) != 0, "mac" },
		{ a->promisc != b->promisc, "rx.promisc" },
		{ a->allmulti != b->allmulti, "rx.allmulti" },
		{ a->alluni != b->alluni || a->nomulti != b->nomulti || a->nouni != b->nouni ||
		  a->nobcast != b->nobcast, "rx (alluni, nomulti, nouni, nobcast)" },
		{ a->n_uni != b->n_uni || memcmp(a->uni, b->uni, 6 * (a->n_uni < b->n_uni ? a->n_uni : b->n_uni)),
		  "mac_table.unicast" },
		{ a->n_multi != b->n_multi ||
		  memcmp(a->multi, b->multi, 6 * (a->n_multi < b->n_multi ? a->n_multi : b->n_multi)),
		  "mac_table.multicast" },
		{ a->uni_overflow != b->uni_overflow, "mac_table.unicast_overflow" },
		{ a->multi_overflow != b->multi_overflow, "mac_table.multicast_overflow" },
		{ memcmp(a->vlans, b->vlans, sizeof(a->vlans)) != 0, "vlans" },
		{ a->offloads != b->offloads, "offloads" },
		{ a->rss.enabled != b->rss.enabled || a->rss.redirect != b->rss.redirect ||
		  a->rss.hash_types != b->rss.hash_types || a->rss.table_len != b->rss.table_len ||
		  memcmp(a->rss.table, b->rss.table, sizeof(a->rss.table)) ||
		  a->rss.unclassified != b->rss.unclassified || a->rss.max_tx_vq != b->rss.max_tx_vq ||
		  a->rss.key_len != b->rss.key_len || memcmp(a->rss.key, b->rss.key, sizeof(a->rss.key)), "rss" },
	};
	size_t o = 0;

	out[0] = 0;
	for (unsigned int i = 0; i < sizeof(f) / sizeof(f[0]) && o < len; i++)
		if (f[i].differs)
			o += snprintf(out + o, len - o, "%s%s", o ? ", " : "", f[i].name);
}

/*
 * save and restore: one session. Start (replaying FILE for restore), send
 * the guest's commands, optionally go through QEMU's migration start
 * (reset, everything shadowed in ASID 0, replay), stop, write the model.
 */
static int cmd_session(int argc, char **argv, int restore)
{
	struct vdpacvq_start_opts o = { .size = sizeof(o), .mode = VDPACVQ_MODE_ISOLATED };
	struct vdpacvq_state saved, snapshot;
	struct vdpacvq_dev *d = NULL;
	const char *dev, *out = NULL;
	char err[256], what[160];
	int i, r, migrate = 0, ncmd = 0, frames = 0, echo = 0;
	const char *holdpath = NULL;
	unsigned long long n;
	char **cmds;

	if (argc < 1 + restore) {
		usage();
		return EX_USAGE;
	}
	dev = argv[0];
	cmds = calloc(argc, sizeof(*cmds));
	if (!cmds)
		return EX_ERROR;
	if (restore) {
		char *text = read_file(argv[1]);

		if (!text) {
			fprintf(stderr, "vdpa-cvq: %s: %s\n", argv[1], strerror(errno));
			return EX_ERROR;
		}
		r = vdpacvq_state_from_json(&saved, text, err, sizeof(err));
		free(text);
		if (r) {
			fprintf(stderr, "vdpa-cvq: %s: %s\n", argv[1], err);
			return EX_ERROR;
		}
		o.restore = &saved;
	}
	for (i = 1 + restore; i < argc; i++) {
		if (!strcmp(argv[i], "-o") && i + 1 < argc) {
			out = argv[++i];
		} else if (!strcmp(argv[i], "--features") && i + 1 < argc) {
			/* 0 is no mask at all in vdpacvq_start(): refused */
			if (opt_num(argv[i], argv[i + 1], 1, ~0ull, &n))
				return EX_USAGE;
			o.features_mask = n;
			i++;
		} else if (!strcmp(argv[i], "--timeout") && i + 1 < argc) {
			if (opt_num(argv[i], argv[i + 1], 1, 3600000, &n))
				return EX_USAGE;
			o.timeout_ms = (int)n;
			i++;
		} else if ((!strcmp(argv[i], "--loopback") || !strcmp(argv[i], "--tap-echo")) && i + 1 < argc) {
			if (opt_num(argv[i], argv[i + 1], 1, 65536, &n))
				return EX_USAGE;
			frames = (int)n;
			echo = !strcmp(argv[i], "--tap-echo");
			i++;
		} else if (!strcmp(argv[i], "--hold") && i + 1 < argc) {
			holdpath = argv[++i];
		} else if (!strcmp(argv[i], "--migration-start")) {
			migrate = 1;
		} else if (argv[i][0] == '-') {
			usage();
			return EX_USAGE;
		} else {
			struct vdpacvq_cmd c;

			if (vdpacvq_cmd_parse(&c, argv[i], err, sizeof(err))) {
				fprintf(stderr, "vdpa-cvq: %s\n", err);
				return EX_USAGE;
			}
			cmds[ncmd++] = argv[i];
		}
	}
	r = vdpacvq_open(dev, &d);
	if (r)
		goto fail;
	r = vdpacvq_start(d, &o);
	if (r)
		goto fail;
	if (restore) {
		struct vdpacvq_state got;
		char diff[256];

		fprintf(stderr, "vdpa-cvq: restored %s on %s\n", argv[1], dev);
		vdpacvq_state_restored(&saved, &got);
		state_diff(&saved, &got, diff, sizeof(diff));
		if (diff[0])
			fprintf(stderr, "vdpa-cvq: restored as QEMU 10.0.2 restores it, approximately: differs in %s\n",
				diff);
	}
	r = frames_exchange(d, frames, echo);
	if (r)
		goto fail;
	for (i = 0; i < ncmd; i++) {
		struct vdpacvq_cmd c;
		uint8_t ack = 0xff;

		vdpacvq_cmd_parse(&c, cmds[i], err, sizeof(err));
		vdpacvq_cmd_describe(&c, what, sizeof(what));
		r = vdpacvq_send(d, &c, &ack);
		if (r)
			goto fail;
		fprintf(stderr, "vdpa-cvq: %s: %s\n", what, ack == VDPACVQ_ACK ? "OK" : "ERR (model unchanged)");
	}
	if (migrate) {
		/* QEMU at migration start: reset, every vq shadowed in ASID 0, no re-bind, replay */
		snapshot = *vdpacvq_model(d);
		r = vdpacvq_stop(d);
		if (r)
			goto fail;
		snapshot.nvqs = vdpacvq_model(d)->nvqs;
		memcpy(snapshot.ring_pos, vdpacvq_model(d)->ring_pos, sizeof(snapshot.ring_pos));
		o.mode = VDPACVQ_MODE_SHADOW_ALL;
		o.restore = &snapshot;
		r = vdpacvq_start(d, &o);
		if (r)
			goto fail;
		fprintf(stderr, "vdpa-cvq: migration start: restarted with every vq in ASID 0, state replayed\n");
		r = frames_exchange(d, frames, echo);
		if (r)
			goto fail;
	}
	r = hold(d, holdpath);
	if (r)
		goto fail;
	r = vdpacvq_stop(d);
	if (r)
		goto fail;
	if ((!restore || out) && write_state(vdpacvq_model(d), out)) {
		fprintf(stderr, "vdpa-cvq: writing %s: %s\n", out ? out : "stdout", strerror(errno));
		vdpacvq_close(d);
		return EX_ERROR;
	}
	vdpacvq_close(d);
	free(cmds);
	return EX_OK;
fail:
	fprintf(stderr, "vdpa-cvq: %s: %s\n", dev, d && vdpacvq_error(d)[0] ? vdpacvq_error(d) : strerror(-r));
	vdpacvq_close(d);
	free(cmds);
	return EX_ERROR;
}

/*
 * Whether this kernel's VDUSE accepts a virtio-net device with a control
 * queue: upstream refuses CTRL_VQ at CREATE_DEV, so no VDUSE net device can
 * have its CVQ shadowed there.
 */
static int cmd_vduse_check(void)
{
	uint64_t raw[(sizeof(struct vduse_dev_config) + sizeof(struct virtio_net_config) + 7) / 8];
	struct vduse_dev_config *cfg = (struct vduse_dev_config *)raw;
	uint64_t ver = VDUSE_API_VERSION_1;
	char name[VDUSE_NAME_MAX];
	int ctl, r, e;

	ctl = open("/dev/vduse/control", O_RDWR | O_CLOEXEC);
	if (ctl < 0) {
		fprintf(stderr, "vdpa-cvq: /dev/vduse/control: %s (is vduse loaded?)\n", strerror(errno));
		return EX_ERROR;
	}
	if (ioctl(ctl, VDUSE_SET_API_VERSION, &ver)) {
		printf("VDUSE has no API v1 here (SET_API_VERSION 1: %s): no vq groups, no address spaces, "
		       "no control queue for net devices\n", strerror(errno));
		close(ctl);
		return EX_NOT_ISOLATED;
	}
	memset(raw, 0, sizeof(raw));
	snprintf(name, sizeof(name), "vdpa-cvq-check-%d", (int)getpid());
	snprintf(cfg->name, sizeof(cfg->name), "%s", name);
	cfg->device_id = VIRTIO_ID_NET;
	cfg->features = (1ull << VIRTIO_F_VERSION_1) | (1ull << VIRTIO_F_ACCESS_PLATFORM) |
			(1ull << VIRTIO_NET_F_CTRL_VQ);
	cfg->vq_num = 3;
	cfg->vq_align = 4096;
	cfg->ngroups = 2;
	cfg->nas = 2;
	cfg->config_size = sizeof(struct virtio_net_config);
	r = ioctl(ctl, VDUSE_CREATE_DEV, cfg);
	e = errno;
	if (r == 0) {
		ioctl(ctl, VDUSE_DESTROY_DEV, name);
		printf("VDUSE accepts virtio-net devices with a control queue (API v1, CTRL_VQ)\n");
		close(ctl);
		return EX_OK;
	}
	printf("VDUSE refuses the virtio-net control queue on this kernel: CREATE_DEV with CTRL_VQ failed (%s); "
	       "no VDUSE net device can have its CVQ shadowed here\n", strerror(e));
	close(ctl);
	return EX_NO_CVQ;
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc < 2) {
		usage();
		return EX_USAGE;
	}
	if (!strcmp(argv[1], "probe"))
		return cmd_probe(argc - 2, argv + 2);
	if (!strcmp(argv[1], "save"))
		return cmd_session(argc - 2, argv + 2, 0);
	if (!strcmp(argv[1], "restore"))
		return cmd_session(argc - 2, argv + 2, 1);
	if (!strcmp(argv[1], "vduse-check") && argc == 2)
		return cmd_vduse_check();
	usage();
	return EX_USAGE;
}
