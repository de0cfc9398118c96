// SPDX-License-Identifier: GPL-2.0
/*
 * ctlbench: the control plane of address spaces through vhost-vdpa, timed
 * (issue 12, item 6; bench/README.md, "Control plane").
 *
 *   ctlbench [--smoke] [--slices N] [--slice-ms MS]
 *
 * A raw-ioctl virtio-blk device (3 vqs, vq 2 alone in group 1, 2 address
 * spaces on API v1; API v0 where v1 does not exist) is bound to vhost_vdpa.
 * This program is the consumer (tests/include/vhost_vdpa_client.h) and, in a
 * responder thread (tests/include/vduse_test.h), the device's message loop.
 * Each test alternates two variants in short slices (A, B, A, B, ...) and
 * prints one line per slice:
 *
 *   # bench ctl <test> <variant> <value> <unit>
 *
 *   group-asid      set_group_asid: VHOST_VDPA_SET_GROUP_ASID moving group 1
 *                   between AS 1 and AS 0 (each call sends the device one
 *                   SET_VQ_GROUP_ASID and waits for its answer), against
 *                   get_vring_base: VHOST_GET_VRING_BASE (one GET_VQ_STATE
 *                   round trip): the same message path without the ASID
 *                   work; us per call
 *   update-refetch  update+getfd2: the consumer maps a 64 KiB memfd page
 *                   range in AS 1 (one batch: the device gets UPDATE_IOTLB),
 *                   then the device re-resolves it (GET_FD2, mmap, read a
 *                   byte, munmap) and the consumer unmaps it again; against
 *                   getfd2: the re-resolution alone of a stable mapping; us
 *   map-asN         consumer map updates in AS N (0 and 1): 64 UPDATEs of
 *                   4 KiB at distinct IOVAs and one INVALIDATE of them all,
 *                   batched (BATCH_BEGIN ... END: one set_map, one message)
 *                   against unbatched (each message its own set_map and
 *                   device message); updates per second
 *
 * Correctness is checked (TAP): every call succeeds, the device receives
 * the messages the consumer caused, and the device reads back what the
 * consumer mapped. --smoke: one short slice per variant (make check).
 */
#define _GNU_SOURCE
#include <sched.h>
#include <sys/mman.h>
#include "tap.h"
#include "vduse_test.h"
#include "vhost_vdpa_client.h"

#define NAME	"ctlbench"
#define BUFSZ	65536
#define NMAP	64

static struct {
	int ver, ctl, fd, vh;
	struct responder r;
	int r_started;
	char vpath[300];
	uint8_t *buf;		/* consumer memory: memfd, BUFSZ */
	uint8_t *mapbuf;	/* NMAP pages for map-asN */
} d = { .ctl = -1, .fd = -1, .vh = -1 };

static int nslices = 12, slice_ms = 250;
static unsigned int errors;

static uint8_t *memfd_buf(size_t len)
{
	int fd = memfd_create("ctlbench", MFD_CLOEXEC);
	void *p = MAP_FAILED;

	if (fd >= 0 && ftruncate(fd, len) == 0)
		p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd, 0);
	if (fd >= 0)
		close(fd);
	return p == MAP_FAILED ? NULL : p;
}

static int dev_up(void)
{
	uint32_t nvqs = 3, i;
	struct vduse_vq_config vq;
	struct devcfg cfg;

	d.ctl = ctl_open();
	if (d.ctl < 0) {
		TAP_OK(0, "open /dev/vduse/control", "%s", strerror(errno));
		return -1;
	}
	d.ver = ctl_set_version(d.ctl, 1) == 0;
	if (!d.ver)
		ctl_set_version(d.ctl, 0);
	blk_cfg(&cfg, NAME, nvqs, d.ver ? 2 : 0, d.ver ? 2 : 0);
	if (ioctl(d.ctl, VDUSE_CREATE_DEV, &cfg)) {
		TAP_OK(0, "CREATE_DEV", "v%d: %s", d.ver, strerror(errno));
		return -1;
	}
	d.fd = dev_open(NAME);
	if (d.fd < 0) {
		TAP_OK(0, "open the device", "%s", strerror(errno));
		return -1;
	}
	for (i = 0; i < nvqs; i++) {
		memset(&vq, 0, sizeof(vq));
		vq.index = i;
		vq.max_size = 64;
		vq.group = d.ver && i == 2 ? 1 : 0;
		if (ioctl(d.fd, VDUSE_VQ_SETUP, &vq)) {
			TAP_OK(0, "VQ_SETUP", "vq %u: %s", i, strerror(errno));
			return -1;
		}
	}
	sysfs_write(NAME, "msg_timeout", "10");
	if (responder_start(&d.r, d.fd))
		return -1;
	d.r_started = 1;
	if (vdpa_add(NAME) || vhost_path(NAME, d.vpath, sizeof(d.vpath))) {
		TAP_OK(0, "vdpa dev add, bound to vhost_vdpa", "v%d", d.ver);
		return -1;
	}
	d.vh = vh_open(d.vpath);
	TAP_SYS(d.vh, "open vhost-vdpa, SET_OWNER, backend features MSG_V2|BATCH|ASID");
	d.buf = memfd_buf(BUFSZ);
	d.mapbuf = memfd_buf(NMAP * 4096);
	TAP_OK(d.buf && d.mapbuf, "consumer memory (memfd)", "%s", strerror(errno));
	if (d.vh < 0 || !d.buf || !d.mapbuf)
		return -1;
	for (i = 0; i < BUFSZ; i++)
		d.buf[i] = (uint8_t)(i * 7 + 3);
	tap_diag("device on VDUSE API v%d, %s", d.ver, d.ver ? "2 groups, 2 address spaces" : "ASID 0 only");
	return 0;
}

static void dev_down(void)
{
	char path[300];

	if (d.vh >= 0)
		close(d.vh);
	snprintf(path, sizeof(path), "/sys/bus/vdpa/devices/%s", NAME);
	if (access(path, F_OK) == 0 && vdpa_del(NAME))
		tap_diag("vdpa dev del failed");
	if (d.r_started)
		responder_stop(&d.r);
	if (d.fd >= 0)
		close(d.fd);
	if (d.ctl >= 0) {
		TAP_SYS(dev_destroy(d.ctl, NAME), "DESTROY_DEV");
		close(d.ctl);
	}
}

/* ---- the operations: each returns the units it did (calls, updates), or -1 */

static unsigned int flip;

static int op_set_group_asid(void)
{
	flip ^= 1;
	return vh_set_group_asid(d.vh, 1, flip) ? -1 : 1;
}

static int op_get_vring_base(void)
{
	struct vhost_vring_state st = { .index = 0 };

	return ioctl(d.vh, VHOST_GET_VRING_BASE, &st) ? -1 : 1;
}

/* The device's view of IOVA in ASID: GET_FD2 (GET_FD on v0), mmap, one byte. */
static int refetch(uint32_t asid, uint64_t iova, uint8_t *byte)
{
	struct vduse_iotlb_entry_v2 e;
	size_t len;
	void *p;
	int fd;

	memset(&e, 0, sizeof(e));
	e.start = e.last = iova;
	e.asid = asid;
	if (d.ver)
		fd = ioctl(d.fd, VDUSE_IOTLB_GET_FD2, &e);
	else
		fd = ioctl(d.fd, VDUSE_IOTLB_GET_FD, &e);	/* the v0 prefix of the v2 entry */
	if (fd < 0)
		return -1;
	len = e.last - e.start + 1;
	p = mmap(NULL, len, PROT_READ, MAP_SHARED, fd, e.offset);
	close(fd);
	if (p == MAP_FAILED)
		return -1;
	*byte = *((volatile uint8_t *)p + (iova - e.start));
	munmap(p, len);
	return 0;
}

#define REF_IOVA	0x40000000ull	/* stable mapping for the getfd2 variant */
#define UPD_IOVA	0x80000000ull

static uint32_t bench_as(void)
{
	return d.ver ? 1 : 0;
}

static int op_update_refetch(void)
{
	uint8_t b = 0;

	if (vh_map(d.vh, bench_as(), UPD_IOVA, BUFSZ, d.buf, VHOST_ACCESS_RW) ||
	    refetch(bench_as(), UPD_IOVA + 4096 + 5, &b) || b != d.buf[4096 + 5] ||
	    vh_unmap(d.vh, bench_as(), UPD_IOVA, BUFSZ))
		return -1;
	return 1;
}

static int op_refetch(void)
{
	uint8_t b = 0;

	if (refetch(bench_as(), REF_IOVA + 4096 + 5, &b) || b != d.buf[4096 + 5])
		return -1;
	return 1;
}

static uint32_t map_asid;

static int map_updates(int batched)
{
	const ssize_t ok = sizeof(struct vhost_msg_v2);
	int i, bad = 0;

	if (batched && vh_iotlb(d.vh, map_asid, VHOST_IOTLB_BATCH_BEGIN, 0, 0, NULL, 0) != ok)
		return -1;
	for (i = 0; i < NMAP; i++)
		if (vh_iotlb(d.vh, map_asid, VHOST_IOTLB_UPDATE, 0x10000000ull + (uint64_t)i * 8192, 4096,
			     d.mapbuf + (size_t)i * 4096, VHOST_ACCESS_RW) != ok)
			bad++;
	if (vh_iotlb(d.vh, map_asid, VHOST_IOTLB_INVALIDATE, 0x10000000ull, (uint64_t)NMAP * 8192,
		     NULL, 0) != ok)
		bad++;
	if (batched && vh_iotlb(d.vh, map_asid, VHOST_IOTLB_BATCH_END, 0, 0, NULL, 0) != ok)
		bad++;
	return bad ? -1 : NMAP;
}

static int op_map_batched(void)
{
	return map_updates(1);
}

static int op_map_unbatched(void)
{
	return map_updates(0);
}

/* ---- slices ------------------------------------------------------------------ */

/* Run OP for about slice_ms; returns units per second (0 on a failure). */
static double slice(int (*op)(void), unsigned long *units)
{
	double t0 = now_s(), t;
	unsigned long n = 0;
	int r;

	do {
		r = op();
		if (r < 0) {
			errors++;
			return 0;
		}
		n += r;
		t = now_s() - t0;
	} while (t < slice_ms / 1000.0);
	*units += n;
	return n / t;
}

/*
 * Alternate A and B, one line per slice each. PER_CALL: print us per unit
 * (latency) instead of units per second (rate).
 */
static void paired(const char *test, const char *na, int (*a)(void), const char *nb,
		   int (*b)(void), int per_call)
{
	unsigned long ua = 0, ub = 0;
	unsigned int e0 = errors;
	char nm[200];
	int i;

	for (i = 0; i < nslices; i++) {
		double ra = slice(a, &ua), rb = slice(b, &ub);

		if (per_call) {
			printf("# bench ctl %s %s %.2f us\n", test, na, ra ? 1e6 / ra : 0);
			printf("# bench ctl %s %s %.2f us\n", test, nb, rb ? 1e6 / rb : 0);
		} else {
			printf("# bench ctl %s %s %.0f updates/s\n", test, na, ra);
			printf("# bench ctl %s %s %.0f updates/s\n", test, nb, rb);
		}
	}
	snprintf(nm, sizeof(nm), "%s: every call of both variants succeeded (%lu + %lu)", test, ua, ub);
	TAP_EQ(errors - e0, 0u, nm);
}

int main(int argc, char **argv)
{
	int i, mark, smoke = 0;
	char nm[200];
	uint8_t b;

	setvbuf(stdout, NULL, _IOLBF, 0);
	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--smoke"))
			smoke = 1;
		else if (!strcmp(argv[i], "--slices") && i + 1 < argc)
			nslices = atoi(argv[++i]);
		else if (!strcmp(argv[i], "--slice-ms") && i + 1 < argc)
			slice_ms = atoi(argv[++i]);
		else {
			fprintf(stderr, "usage: ctlbench [--smoke] [--slices N] [--slice-ms MS]\n");
			return 2;
		}
	}
	if (smoke) {
		nslices = 1;
		slice_ms = 50;
	}
	/*
	 * The consumer and the device's responder thread (created later, it
	 * inherits this) share CPU 0: every round trip is then two context
	 * switches on one CPU. Across vCPUs, a TCG guest adds the wake-up of an
	 * idle vCPU, up to a timer tick, to some round trips and not to others.
	 */
	{
		cpu_set_t set;

		CPU_ZERO(&set);
		CPU_SET(0, &set);
		sched_setaffinity(0, sizeof(set), &set);
	}
	if (virtio_vdpa_loaded()) {
		TAP_OK(0, "virtio_vdpa is not loaded (it would claim the device)", " ");
		return tap_done();
	}
	if (dev_up())
		goto out;

	/* the messages reach the device: checked before the responder's log fills */
	if (d.ver) {
		mark = responder_mark(&d.r);
		TAP_EQ(op_set_group_asid(), 1, "SET_GROUP_ASID(1, 1)");
		TAP_EQ(op_set_group_asid(), 1, "SET_GROUP_ASID(1, 0)");
		TAP_EQ(responder_count(&d.r, mark, VDUSE_SET_VQ_GROUP_ASID), 2,
		       "each SET_GROUP_ASID sent the device one SET_VQ_GROUP_ASID");
	}
	TAP_EQ(vh_map(d.vh, bench_as(), REF_IOVA, BUFSZ, d.buf, VHOST_ACCESS_RW), 0,
	       "the consumer maps 64 KiB (the stable mapping)");
	mark = responder_mark(&d.r);
	TAP_EQ(op_update_refetch(), 1, "map, the device re-resolves and reads it, unmap");
	snprintf(nm, sizeof(nm), "the device got UPDATE_IOTLB for the map and the unmap%s",
		 d.ver ? " (ASID 1)" : "");
	TAP_OK(responder_count(&d.r, mark, VDUSE_UPDATE_IOTLB) == 2, nm, "%d messages",
	       responder_count(&d.r, mark, VDUSE_UPDATE_IOTLB));
	b = 0;
	TAP_OK(refetch(bench_as(), UPD_IOVA + 4096, &b) < 0, "after the unmap, the range is gone for the device",
	       "still mapped");
	fflush(stdout);

	if (d.ver)
		paired("group-asid", "set_group_asid", op_set_group_asid, "get_vring_base",
		       op_get_vring_base, 1);
	paired("update-refetch", "update+getfd2", op_update_refetch, "getfd2", op_refetch, 1);
	for (map_asid = 0; map_asid <= (d.ver ? 1u : 0u); map_asid++) {
		snprintf(nm, sizeof(nm), "map-as%u", map_asid);
		paired(nm, "batched", op_map_batched, "unbatched", op_map_unbatched, 0);
	}
	vh_unmap(d.vh, bench_as(), REF_IOVA, BUFSZ);
out:
	dev_down();
	return tap_done();
}
