// SPDX-License-Identifier: GPL-2.0
/*
 * isolation: the address-space isolation proofs of issue 13, seen from the
 * device (tests/vm/suites/isolation.sh collects them with libasid's):
 *
 *  1. every lookup a device can make (GET_FD, GET_FD2, GET_INFO) returns
 *     only entries of the ASID it names: a walk over the whole 64-bit IOVA
 *     space of each ASID finds exactly the maps made into it, and the bytes
 *     behind each fd are those of that ASID's memory;
 *  2. a vhost-vdpa client cannot map into an ASID >= nas (UPDATE and
 *     BATCH_BEGIN fail, and no walk finds the IOVA afterwards);
 *  3. after SET_GROUP_ASID the device is told the group's new ASID, and the
 *     group's ring address resolves only there;
 *  4. after a reset the group is back on ASID 0 (ours tells the device;
 *     upstream keeps the binding: recorded, docs/robustness.md).
 *
 *   isolation --impl upstream|ours
 *
 * Needs vduse, vdpa and vhost_vdpa loaded, virtio_vdpa not.
 */
#define _GNU_SOURCE
#include <sys/mman.h>
#include "tap.h"
#include "vduse_test.h"
#include "vhost_vdpa_client.h"

#define PAGE 4096
#define X_IOVA 0x100000ull	/* in both ASIDs, different memory */
#define Y_IOVA 0x200000ull	/* ASID 1 only: vq 2's ring */
#define Z_IOVA 0x300000ull	/* the client tries ASID >= nas here */
#define MAXE 16

static enum impl impl;

struct ent {
	uint64_t start, last;
	uint8_t byte;		/* first byte behind the fd at start */
};

/* A shared page filled with C (vhost-vdpa maps only shared file pages). */
static uint8_t *page_of(int c)
{
	int fd = memfd_create("isolation", 0);
	void *p = MAP_FAILED;

	if (fd >= 0 && ftruncate(fd, PAGE) == 0)
		p = mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (fd >= 0)
		close(fd);
	if (p == MAP_FAILED)
		return NULL;
	memset(p, c, PAGE);
	return p;
}

static uint8_t byte_at(int mfd, uint64_t off)
{
	uint8_t *p = mmap(NULL, PAGE, PROT_READ, MAP_SHARED, mfd, off & ~(uint64_t)(PAGE - 1));
	uint8_t b;

	if (p == MAP_FAILED)
		return 0;
	b = p[off & (PAGE - 1)];
	munmap(p, PAGE);
	return b;
}

/*
 * Walk ASID's whole IOVA space with CMD (VDUSE_IOTLB_GET_FD2, GET_FD or
 * GET_INFO): the entries found, in order, or -1 if a call failed otherwise
 * than with EINVAL (nothing more).
 */
static int walk(int fd, unsigned long cmd, uint32_t asid, struct ent *out)
{
	uint64_t cur = 0;
	int n = 0;

	while (n < MAXE) {
		uint64_t s, l;
		long r;

		if (cmd == VDUSE_IOTLB_GET_FD2) {
			struct vduse_iotlb_entry_v2 e = { .start = cur, .last = ~0ull, .asid = asid };

			r = ioctl(fd, cmd, &e);
			if (r < 0)
				break;
			s = e.start;
			l = e.last;
			out[n].byte = byte_at(r, e.offset);
			close(r);
		} else if (cmd == VDUSE_IOTLB_GET_FD) {
			struct vduse_iotlb_entry e = { .start = cur, .last = ~0ull };

			r = ioctl(fd, cmd, &e);
			if (r < 0)
				break;
			s = e.start;
			l = e.last;
			out[n].byte = byte_at(r, e.offset);
			close(r);
		} else {
			struct vduse_iova_info ii = { .start = cur, .last = ~0ull, .asid = asid };

			r = ioctl(fd, cmd, &ii);
			if (r < 0)
				break;
			s = ii.start;
			l = ii.last;
			out[n].byte = 0;
		}
		out[n].start = s;
		out[n].last = l;
		n++;
		if (l == ~0ull || l < cur)
			break;
		cur = l + 1;
	}
	if (n < MAXE && errno != EINVAL)
		return -1;
	return n;
}

static void check_walk(int fd, unsigned long cmd, const char *cname, uint32_t asid, int want_n,
		       const uint64_t *want_start, const uint8_t *want_byte)
{
	struct ent e[MAXE];
	char name[200], got[300] = "";
	int n = walk(fd, cmd, asid, e), ok = n == want_n;

	for (int i = 0; i < n; i++) {
		snprintf(got + strlen(got), sizeof(got) - strlen(got), " [%#llx-%#llx]'%c'",
			 (unsigned long long)e[i].start, (unsigned long long)e[i].last,
			 e[i].byte ? e[i].byte : '-');
		if (i < want_n && (e[i].start != want_start[i] || e[i].last != want_start[i] + PAGE - 1 ||
				   (want_byte && e[i].byte != want_byte[i])))
			ok = 0;
	}
	snprintf(name, sizeof(name), "isolation: %s walk of ASID %u finds exactly its %d map%s", cname, asid,
		 want_n, want_n == 1 ? "" : "s");
	TAP_OK(ok, name, "%d entries:%s", n, got);
}

/* The first SET_VQ_GROUP_ASID at or after MARK: "{group, asid}" or none. */
static int group_msg(struct responder *r, int mark, uint32_t *g, uint32_t *a)
{
	struct vduse_dev_request q;

	if (responder_find(r, mark, VDUSE_SET_VQ_GROUP_ASID, &q))
		return -1;
	*g = q.vq_group_asid.group;
	*a = q.vq_group_asid.asid;
	return 0;
}

/* Resolve IOVA in ASID with GET_FD2: its first byte, or -errno. */
static int resolve(int fd, uint32_t asid, uint64_t iova)
{
	struct vduse_iotlb_entry_v2 e = { .start = iova, .last = iova, .asid = asid };
	long r = ioctl(fd, VDUSE_IOTLB_GET_FD2, &e);
	uint8_t b;

	if (r < 0)
		return -errno;
	b = byte_at(r, e.offset + (iova - e.start));
	close(r);
	return b;
}

int main(int argc, char **argv)
{
	static const uint64_t s0[] = { X_IOVA }, s1[] = { X_IOVA, Y_IOVA };
	static const uint8_t b0[] = { 'A' }, b1[] = { 'B', 'C' };
	struct vduse_vq_config vq = { .max_size = 256 };
	struct vhost_vring_state num = { .index = 2, .num = 64 };
	struct vhost_vring_addr ra = { .index = 2 };
	struct vduse_vq_info info = { .index = 2 };
	struct responder r;
	struct devcfg cfg;
	uint8_t *pa, *pb, *pc, *pz;
	uint32_t g = 0, a = 0, bad[] = { 2, 3, 0xffffffff };
	char path[300];
	int ctl, fd, vh, mark;

	if (argc != 3 || strcmp(argv[1], "--impl") || impl_parse(argv[2], &impl) || impl == IMPL_STOCK612) {
		fprintf(stderr, "usage: isolation --impl upstream|ours\n");
		return 2;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	pa = page_of('A');
	pb = page_of('B');
	pc = page_of('C');
	pz = page_of('Z');
	ctl = ctl_open();
	ctl_set_version(ctl, 1);
	blk_cfg(&cfg, "iso-dev", 3, 2, 2);
	if (!pa || !pb || !pc || !pz || ioctl(ctl, VDUSE_CREATE_DEV, &cfg) || (fd = dev_open("iso-dev")) < 0) {
		TAP_OK(0, "isolation: create a device with 2 groups and 2 ASIDs", "%s", strerror(errno));
		return 1;
	}
	for (vq.index = 0; vq.index < 3; vq.index++) {
		vq.group = vq.index == 2;
		ioctl(fd, VDUSE_VQ_SETUP, &vq);
	}
	responder_start(&r, fd);
	if (vdpa_add("iso-dev") || vhost_path("iso-dev", path, sizeof(path)) || (vh = vh_open(path)) < 0) {
		TAP_OK(0, "isolation: bind it to vhost-vdpa", "%s", strerror(errno));
		return 1;
	}

	/* 1: X in both ASIDs (A in 0, B in 1), Y in ASID 1 only (C) */
	TAP_SYS(vh_map(vh, 0, X_IOVA, PAGE, pa, VHOST_ACCESS_RW), "isolation: map page A at X in ASID 0");
	TAP_SYS(vh_map(vh, 1, X_IOVA, PAGE, pb, VHOST_ACCESS_RW), "isolation: map page B at X in ASID 1");
	TAP_SYS(vh_map(vh, 1, Y_IOVA, PAGE, pc, VHOST_ACCESS_RW), "isolation: map page C at Y in ASID 1");
	check_walk(fd, VDUSE_IOTLB_GET_INFO, "GET_INFO", 0, 1, s0, NULL);
	check_walk(fd, VDUSE_IOTLB_GET_INFO, "GET_INFO", 1, 2, s1, NULL);
	check_walk(fd, VDUSE_IOTLB_GET_FD2, "GET_FD2 (bytes behind the fds)", 0, 1, s0, b0);
	check_walk(fd, VDUSE_IOTLB_GET_FD2, "GET_FD2 (bytes behind the fds)", 1, 2, s1, b1);
	check_walk(fd, VDUSE_IOTLB_GET_FD, "GET_FD (API v0's, on a v1 device: ASID 0)", 0, 1, s0, b0);
	for (unsigned int i = 0; i < 3; i++) {
		struct vduse_iotlb_entry_v2 e = { .last = ~0ull, .asid = bad[i] };
		struct vduse_iova_info ii = { .last = ~0ull, .asid = bad[i] };
		char nm[120];

		snprintf(nm, sizeof(nm), "isolation: GET_FD2 in ASID %#x (>= nas) finds nothing: EINVAL", bad[i]);
		TAP_ERRNO(ioctl(fd, VDUSE_IOTLB_GET_FD2, &e), EINVAL, nm);
		snprintf(nm, sizeof(nm), "isolation: GET_INFO in ASID %#x (>= nas) finds nothing", bad[i]);
		TAP_OK(ioctl(fd, VDUSE_IOTLB_GET_INFO, &ii) < 0, nm, "found [%#llx-%#llx]",
		       (unsigned long long)ii.start, (unsigned long long)ii.last);
	}

	/* 2: the client cannot map into ASID >= nas */
	for (unsigned int i = 0; i < 3; i++) {
		char nm[120];

		snprintf(nm, sizeof(nm), "isolation: vhost-vdpa UPDATE in ASID %#x (>= nas) fails", bad[i]);
		TAP_OK(vh_iotlb(vh, bad[i], VHOST_IOTLB_UPDATE, Z_IOVA, PAGE, pz, VHOST_ACCESS_RW) < 0, nm, " ");
		snprintf(nm, sizeof(nm), "isolation: vhost-vdpa BATCH_BEGIN in ASID %#x (>= nas) fails", bad[i]);
		TAP_OK(vh_iotlb(vh, bad[i], VHOST_IOTLB_BATCH_BEGIN, 0, 0, NULL, 0) < 0, nm, " ");
		vh_iotlb(vh, bad[i], VHOST_IOTLB_BATCH_END, 0, 0, NULL, 0);
	}
	check_walk(fd, VDUSE_IOTLB_GET_INFO, "after the refused maps, GET_INFO", 0, 1, s0, NULL);
	check_walk(fd, VDUSE_IOTLB_GET_INFO, "after the refused maps, GET_INFO", 1, 2, s1, NULL);

	/* 3: vq 2 (group 1) has its ring at Y, which only ASID 1 maps */
	ioctl(vh, VHOST_SET_VRING_NUM, &num);
	ra.desc_user_addr = Y_IOVA;
	ra.avail_user_addr = Y_IOVA + 1024;
	ra.used_user_addr = Y_IOVA + 2048;
	TAP_SYS(ioctl(vh, VHOST_SET_VRING_ADDR, &ra), "isolation: vq 2's ring at Y");
	TAP_EQ(resolve(fd, 0, Y_IOVA), -EINVAL, "isolation: group 1 on ASID 0: its ring does not resolve in ASID 0");
	mark = responder_mark(&r);
	TAP_SYS(vh_set_group_asid(vh, 1, 1), "isolation: SET_GROUP_ASID group 1 -> ASID 1");
	TAP_OK(group_msg(&r, mark, &g, &a) == 0 && g == 1 && a == 1,
	       "isolation: the device is told {group 1, ASID 1}", "got {%u, %u}", g, a);
	TAP_OK(ioctl(fd, VDUSE_VQ_GET_INFO, &info) == 0 && info.desc_addr == Y_IOVA,
	       "isolation: VQ_GET_INFO gives vq 2's ring at Y", "%#llx", (unsigned long long)info.desc_addr);
	TAP_EQ(resolve(fd, 1, info.desc_addr), 'C', "isolation: the ring resolves in the new ASID (page C)");
	TAP_EQ(resolve(fd, 0, info.desc_addr), -EINVAL, "isolation: ... and not in the old one");
	TAP_EQ(resolve(fd, 1, X_IOVA), 'B', "isolation: X in ASID 1 is B, not ASID 0's A");

	/* 4: reset */
	mark = responder_mark(&r);
	TAP_SYS(vh_set_status(vh, 0), "isolation: reset (SET_STATUS 0) with group 1 on ASID 1");
	if (impl == IMPL_OURS)
		TAP_OK(group_msg(&r, mark, &g, &a) == 0 && g == 1 && a == 0,
		       "isolation: after the reset the device is told {group 1, ASID 0}", "got {%u, %u}", g, a);
	else
		TAP_OK(group_msg(&r, mark, &g, &a) != 0,
		       "isolation: upstream keeps group 1 on ASID 1 across a reset, no message (docs/uapi.md)",
		       "got {%u, %u}", g, a);
	check_walk(fd, VDUSE_IOTLB_GET_INFO, "after the reset, GET_INFO", 0, 1, s0, NULL);
	check_walk(fd, VDUSE_IOTLB_GET_INFO, "after the reset, GET_INFO", 1, 2, s1, NULL);

	close(vh);
	vdpa_del("iso-dev");
	responder_stop(&r);
	close(fd);
	TAP_SYS(dev_destroy(ctl, "iso-dev"), "isolation: destroy the device");
	close(ctl);
	return tap_failed ? 1 : 0;
}
