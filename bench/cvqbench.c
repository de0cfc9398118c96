// SPDX-License-Identifier: GPL-2.0
/*
 * cvqbench: the shadow-CVQ command round trip as a VMM sees it (bench/run-cvq,
 * issue 12 item 5). Each device is a vhost-vdpa virtio-net device started by
 * libvdpacvq as QEMU starts it (guest memory in ASID 0, the CVQ's group bound
 * to ASID 1, the shadow CVQ ring and buffers mapped there); a round trip is
 * one command written to the shadow area, made available, the kick, the
 * device's answer, until the consumer sees the used entry and the status
 * byte (vdpacvq_send()). Devices take turns in short slices (round r starts
 * with device r mod N), so drift hits them alike.
 *
 *   cvqbench [--seconds S] [--rounds R] [--batch N] [--tests T1,T2..]
 *            [--label SUFFIX] NAME=/dev/vhost-vdpa-X...
 *
 * Tests (each run on every device whose negotiated features have it):
 *   mac       MAC ADDR_SET, two addresses in turn      (CTRL_MAC_ADDR)
 *   promisc   RX PROMISC 1/0 in turn                   (CTRL_RX)
 *   mq        MQ VQ_PAIRS_SET 2/1 in turn              (MQ, 2 pairs or more)
 *   vlan      VLAN ADD, ids 1..4094 in turn            (CTRL_VLAN)
 *   mactable  MAC TABLE_SET, 2 unicast + 2 multicast   (CTRL_RX)
 * Per slice (TEST followed by SUFFIX, e.g. "mac@0"):
 *   # benchlat NAME TEST MEDIAN us        one command per kick
 *   # bench NAME TEST-xN RATE cmd/s       N commands per kick (--batch N > 1)
 * and at the end, over every single-command round trip of a device and test:
 *   # benchsum NAME TEST COUNT Q1 MEDIAN Q3 us
 * TAP lines: every session starts, every command is acknowledged (no
 * timing is checked); exit 1 if a check failed.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <linux/virtio_net.h>
#include "libvdpacvq.h"
#include "tap.h"

#define BIT(n)		(1ull << (n))
#define MAX_DEVS	4
#define BATCH_MAX	32

enum { T_MAC, T_PROMISC, T_MQ, T_VLAN, T_MACTABLE, NTESTS };

static const char *const test_names[NTESTS] = { "mac", "promisc", "mq", "vlan", "mactable" };
static const char *label = "";	/* appended to the test names of the output */

struct samples {
	double *v;
	size_t n, cap;
};

struct dev {
	const char *name, *path;
	struct vdpacvq_dev *d;
	uint64_t features;
	uint16_t max_pairs;
	unsigned long sent[NTESTS], nacks[NTESTS];
	int failed[NTESTS];
	struct samples rtt[NTESTS];
};

static double now_us(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1e6 + t.tv_nsec / 1e3;
}

static int supports(const struct dev *v, int t)
{
	switch (t) {
	case T_MAC:
		return !!(v->features & BIT(VIRTIO_NET_F_CTRL_MAC_ADDR));
	case T_PROMISC:
	case T_MACTABLE:
		return !!(v->features & BIT(VIRTIO_NET_F_CTRL_RX));
	case T_MQ:
		return (v->features & BIT(VIRTIO_NET_F_MQ)) && v->max_pairs >= 2;
	case T_VLAN:
		return !!(v->features & BIT(VIRTIO_NET_F_CTRL_VLAN));
	}
	return 0;
}

/* Command I of test T; consecutive commands change the device's state. */
static int encode(struct vdpacvq_cmd *c, int t, unsigned long i)
{
	uint8_t mac[6] = { 0x02, 0, 0, 0, 0x10, (uint8_t)(1 + (i & 1)) };
	uint8_t uni[2][6], multi[2][6];
	int k;

	switch (t) {
	case T_MAC:
		return vdpacvq_enc_mac_addr(c, mac);
	case T_PROMISC:
		return vdpacvq_enc_rx(c, VIRTIO_NET_CTRL_RX_PROMISC, !(i & 1));
	case T_MQ:
		return vdpacvq_enc_mq_pairs(c, i & 1 ? 1 : 2);
	case T_VLAN:
		return vdpacvq_enc_vlan(c, 1, (uint16_t)(1 + i % 4094));
	case T_MACTABLE:
		for (k = 0; k < 2; k++) {
			memcpy(uni[k], (uint8_t[]){ 0x02, 0, 0, 0x77, (uint8_t)k, (uint8_t)i }, 6);
			memcpy(multi[k], (uint8_t[]){ 0x01, 0, 0x5e, 0, (uint8_t)k, (uint8_t)i }, 6);
		}
		return vdpacvq_enc_mac_table(c, 2, (const uint8_t (*)[6])uni, 2, (const uint8_t (*)[6])multi);
	}
	return -EINVAL;
}

static int push(struct samples *s, double x)
{
	if (s->n == s->cap) {
		size_t cap = s->cap ? 2 * s->cap : 4096;
		double *v = realloc(s->v, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		s->v = v;
		s->cap = cap;
	}
	s->v[s->n++] = x;
	return 0;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* Quantile Q of the sorted V[0..N-1], interpolated as bench/stats.awk does. */
static double quant(const double *v, size_t n, double q)
{
	double x = (n - 1) * q;
	size_t i = (size_t)x;

	if (!n)
		return 0;
	return i + 1 >= n ? v[n - 1] : v[i] + (x - i) * (v[i + 1] - v[i]);
}

/* One slice of single commands on V for SECONDS; the median, or < 0. */
static double slice_single(struct dev *v, int t, double seconds)
{
	struct samples s = { 0 };
	struct vdpacvq_cmd c;
	double end = now_us() + seconds * 1e6, t0, t1, med;
	uint8_t ack;
	int r;

	do {
		encode(&c, t, v->sent[t]);
		t0 = now_us();
		r = vdpacvq_send(v->d, &c, &ack);
		t1 = now_us();
		if (r) {
			printf("# %s %s%s: %s\n", v->name, test_names[t], label, vdpacvq_error(v->d));
			free(s.v);
			return -1;
		}
		v->sent[t]++;
		if (ack != VDPACVQ_ACK)
			v->nacks[t]++;
		if (push(&s, t1 - t0) || push(&v->rtt[t], t1 - t0)) {
			free(s.v);
			return -1;
		}
	} while (t1 < end);
	qsort(s.v, s.n, sizeof(double), cmp_double);
	med = quant(s.v, s.n, 0.5);
	free(s.v);
	return med;
}

/* One slice of batches of N commands per kick; commands per second, or < 0. */
static double slice_batch(struct dev *v, int t, int n, double seconds)
{
	struct vdpacvq_cmd c[BATCH_MAX];
	uint8_t acks[BATCH_MAX];
	double start = now_us(), end = start + seconds * 1e6, t1;
	unsigned long done = 0;
	int i;

	do {
		for (i = 0; i < n; i++)
			encode(&c[i], t, v->sent[t] + i);
		if (vdpacvq_send_batch(v->d, c, n, acks)) {
			printf("# %s %s%s-x%d: %s\n", v->name, test_names[t], label, n, vdpacvq_error(v->d));
			return -1;
		}
		for (i = 0; i < n; i++)
			if (acks[i] != VDPACVQ_ACK)
				v->nacks[t]++;
		v->sent[t] += n;
		done += n;
		t1 = now_us();
	} while (t1 < end);
	return done / ((t1 - start) / 1e6);
}

static void usage(void)
{
	fprintf(stderr, "usage: cvqbench [--seconds S] [--rounds R] [--batch N] [--tests T,..] [--label SUFFIX]\n"
		"                NAME=/dev/vhost-vdpa-X...\n"
		"tests: mac promisc mq vlan mactable (default: all)\n");
	exit(64);
}

int main(int argc, char **argv)
{
	struct vdpacvq_start_opts o = { .size = sizeof(o), .mode = VDPACVQ_MODE_ISOLATED };
	struct dev devs[MAX_DEVS];
	int ndev = 0, rounds = 4, batch = 8, want[NTESTS], i, t, r, k;
	double seconds = 0.25;
	char name[160];

	setvbuf(stdout, NULL, _IOLBF, 0);
	memset(devs, 0, sizeof(devs));
	for (t = 0; t < NTESTS; t++)
		want[t] = 1;
	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--seconds") && i + 1 < argc) {
			seconds = atof(argv[++i]);
		} else if (!strcmp(argv[i], "--rounds") && i + 1 < argc) {
			rounds = atoi(argv[++i]);
		} else if (!strcmp(argv[i], "--label") && i + 1 < argc) {
			label = argv[++i];
		} else if (!strcmp(argv[i], "--batch") && i + 1 < argc) {
			batch = atoi(argv[++i]);
		} else if (!strcmp(argv[i], "--tests") && i + 1 < argc) {
			char *list = argv[++i], *tok, *save = NULL;

			for (t = 0; t < NTESTS; t++)
				want[t] = 0;
			for (tok = strtok_r(list, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
				for (t = 0; t < NTESTS && strcmp(tok, test_names[t]); t++)
					;
				if (t == NTESTS)
					usage();
				want[t] = 1;
			}
		} else if (argv[i][0] != '-' && strchr(argv[i], '=') && ndev < MAX_DEVS) {
			devs[ndev].name = argv[i];
			devs[ndev].path = strchr(argv[i], '=') + 1;
			*strchr(argv[i], '=') = 0;
			ndev++;
		} else {
			usage();
		}
	}
	if (!ndev || rounds < 1 || seconds <= 0 || batch < 1 || batch > BATCH_MAX)
		usage();

	for (k = 0; k < ndev; k++) {
		struct dev *v = &devs[k];
		struct vdpacvq_layout l;

		r = vdpacvq_open(v->path, &v->d);
		if (!r)
			r = vdpacvq_start(v->d, &o);
		snprintf(name, sizeof(name), "%s: session started on %s, CVQ group in ASID 1", v->name, v->path);
		TAP_OK(!r, name, "%s", v->d ? vdpacvq_error(v->d) : strerror(-r));
		if (r)
			return 1;
		v->features = vdpacvq_model(v->d)->features;
		v->max_pairs = vdpacvq_model(v->d)->max_pairs;
		vdpacvq_get_layout(v->d, &l);
		printf("# benchinfo %s %s: features 0x%llx, %u pair(s), CVQ vq %u in group %u, shadow area in ASID %u\n",
		       v->name, v->path, (unsigned long long)v->features, v->max_pairs, l.cvq, l.cvq_group,
		       l.shadow_asid);
	}

	for (t = 0; t < NTESTS; t++) {
		int any = 0;

		if (!want[t])
			continue;
		for (k = 0; k < ndev; k++) {
			if (!supports(&devs[k], t))
				printf("# benchinfo %s: %s not negotiated, skipped\n", devs[k].name, test_names[t]);
			any |= supports(&devs[k], t);
		}
		if (!any)
			continue;
		for (int round = 0; round < rounds; round++)
			for (i = 0; i < ndev; i++) {
				struct dev *v = &devs[(round + i) % ndev];
				double x;

				if (!supports(v, t) || v->failed[t])
					continue;
				x = slice_single(v, t, seconds);
				if (x < 0) {
					v->failed[t] = 1;
					continue;
				}
				printf("# benchlat %s %s%s %.1f us\n", v->name, test_names[t], label, x);
				if (batch < 2)
					continue;
				x = slice_batch(v, t, batch, seconds);
				if (x < 0) {
					v->failed[t] = 1;
					continue;
				}
				printf("# bench %s %s%s-x%d %.0f cmd/s\n", v->name, test_names[t], label, batch, x);
			}
		for (k = 0; k < ndev; k++) {
			struct dev *v = &devs[k];
			struct samples *s = &v->rtt[t];

			if (!supports(v, t))
				continue;
			snprintf(name, sizeof(name), "%s %s%s: %lu commands, every one acknowledged", v->name,
				 test_names[t], label, v->sent[t]);
			TAP_OK(!v->failed[t] && !v->nacks[t] && v->sent[t], name, "%s, %lu refused",
			       v->failed[t] ? "the session failed" : "no session error", v->nacks[t]);
			qsort(s->v, s->n, sizeof(double), cmp_double);
			if (s->n)
				printf("# benchsum %s %s%s %zu %.1f %.1f %.1f us\n", v->name, test_names[t], label, s->n,
				       quant(s->v, s->n, 0.25), quant(s->v, s->n, 0.5), quant(s->v, s->n, 0.75));
		}
	}
	for (k = 0; k < ndev; k++) {
		struct dev *v = &devs[k];

		r = vdpacvq_stop(v->d);
		snprintf(name, sizeof(name), "%s: session stopped, mappings removed", v->name);
		TAP_OK(!r, name, "%s", vdpacvq_error(v->d));
		vdpacvq_close(v->d);
		for (t = 0; t < NTESTS; t++)
			free(v->rtt[t].v);
	}
	return tap_failed ? 1 : 0;
}
