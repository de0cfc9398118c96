// SPDX-License-Identifier: GPL-2.0
/*
 * hostile_drv_blk: a hostile vDPA driver against vduse-blk (libvduse),
 * through vhost-vdpa, on split and on packed rings. Unlike hostile_drv
 * (vduse-net, libvdpacvq) it needs no control queue, so it runs on upstream
 * 7.x too. The test is the driver: it negotiates the features itself
 * (VIRTIO_F_RING_PACKED or not), maps one memfd region in ASID 0, sets up
 * the two request queues and writes their descriptors by hand.
 *
 * For each malformed chain below, a fresh session (reset, map, features,
 * rings, DRIVER_OK) reads a sector on vq 0, then publishes the malformed
 * chain on vq 0 and kicks. Then:
 *
 *   - the daemon's log says "vq 0: REASON; queue marked broken";
 *   - vq 1 still serves a read;
 *   - the control path still answers: VHOST_GET_VRING_BASE of vq 1 (a
 *     GET_VQ_STATE message the daemon must answer) and the reset;
 *   - after the reset vq 0 serves again (the next session's first read).
 *
 *   hostile_drv_blk NAME LOG split|packed
 *
 * NAME's daemon runs with --num-queues 2 --queue-size 64 --packed, writing
 * LOG; the disk's first sector holds "hostile-blk" (the reads compare it).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <linux/virtio_ring.h>
#include <linux/virtio_blk.h>
#include "tap.h"
#include "vduse_test.h"
#include "vhost_vdpa_client.h"

#define MEM_IOVA	0x100000ull
#define MEM_SIZE	0x100000ull
#define QSZ		64
#define RING(q)		((uint64_t)(q) * 0x1000)	/* ring page of vq q in the region */
#define REQ(q)		(0x10000 + (uint64_t)(q) * 0x4000)	/* request buffers of vq q */
#define SCRATCH		0x80000		/* indirect tables */
#define UNMAPPED	0x7f000000ull
#define WAIT_MS		5000
#define MAGIC		"hostile-blk"

static const char *name, *logpath;
static char vhpath[300];
static int packed;

/* One session: the vhost-vdpa fd, the memory, each vq's driver state. */
static struct sess {
	int vh;
	uint8_t *mem;
	uint64_t features;
	int kick[2], call[2];
	uint16_t avail[2], used[2];	/* split: next avail idx, used idx seen */
	uint16_t slot[2];		/* packed: next slot */
	int wrap[2];			/* packed: driver wrap counter */
} s = { .vh = -1 };

enum kind {
	K_LOOP, K_HEAD, K_NEXT, K_WRAP, K_HUGE, K_NESTED, K_IND_NEXT, K_IND_SIZE, K_UNMAPPED,
	K_TBL_UNMAPPED, K_JUMP, K_ID, K_UNAVAIL, K_NKINDS
};

/* What each kind does on each layout; NULL: not applicable there. */
static const struct {
	const char *split, *packed;	/* what */
	const char *rsplit, *rpacked;	/* the reason in the daemon's log */
} kinds[K_NKINDS] = {
	[K_LOOP] = { "a descriptor loop (10 -> 11 -> 10)", "every slot available and chained (a chain around the ring)",
		     "loops or exceeds", "exceeds the ring" },
	[K_HEAD] = { "a head index out of range (200 of 64)", NULL, "head index 200 out of range", NULL },
	[K_NEXT] = { "a next index out of range (99 of 64)", NULL, "next index 99 out of range", NULL },
	[K_WRAP] = { "a huge length that wraps the IOVA space", "a huge length that wraps the IOVA space",
		     "wraps around", "wraps around" },
	[K_HUGE] = { "a huge length (0xffffff00) past the mapping", "a huge length (0xffffff00) past the mapping",
		     "readable buffer [0x100000 + 4294967040] is outside every mapping of ASID 0",
		     "readable buffer [0x100000 + 4294967040] is outside every mapping of ASID 0" },
	[K_NESTED] = { "an indirect table inside an indirect table", "an indirect table inside an indirect table",
		       "indirect descriptor inside an indirect table", "indirect descriptor inside an indirect table" },
	[K_IND_NEXT] = { "a descriptor with both INDIRECT and NEXT", "a descriptor with both INDIRECT and NEXT",
			 "both INDIRECT and NEXT", "both INDIRECT and NEXT" },
	[K_IND_SIZE] = { "an indirect table of 24 bytes", "an indirect table of 24 bytes",
			 "indirect table of 24 bytes", "indirect table of 24 bytes" },
	[K_UNMAPPED] = { "a buffer at an unmapped IOVA", "a buffer at an unmapped IOVA",
			 "readable buffer [0x7f000000 + 16] is outside every mapping of ASID 0",
			 "readable buffer [0x7f000000 + 16] is outside every mapping of ASID 0" },
	[K_TBL_UNMAPPED] = { "an indirect table at an unmapped IOVA", "an indirect table at an unmapped IOVA",
			     "indirect table at 0x7f000000 is outside every mapping",
			     "indirect table at 0x7f000000 is outside every mapping" },
	[K_JUMP] = { "the avail index moved by 100 (> queue size)", NULL, "available index moved", NULL },
	[K_ID] = { NULL, "a buffer id out of range (200 of 64)", NULL, "buffer id 200 out of range" },
	[K_UNAVAIL] = { NULL, "a chain that runs into a slot of the wrong lap (a wrap counter jump)",
			NULL, "runs into an unavailable slot" },
};

static const char *what(enum kind k)
{
	return packed ? kinds[k].packed : kinds[k].split;
}

static const char *reason(enum kind k)
{
	return packed ? kinds[k].rpacked : kinds[k].rsplit;
}

/* How many lines of LOG contain S and, unless NULL, S2. */
static int log_count(const char *str, const char *s2)
{
	char line[1024];
	FILE *f = fopen(logpath, "r");
	int n = 0;

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (strstr(line, str) && (!s2 || strstr(line, s2)))
			n++;
	fclose(f);
	return n;
}

static void *memfd_region(size_t size)
{
	int fd = memfd_create("hostile-drv-blk", MFD_CLOEXEC);
	void *p = MAP_FAILED;

	if (fd >= 0 && ftruncate(fd, size) == 0)
		p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (fd >= 0)
		close(fd);
	return p == MAP_FAILED ? NULL : p;
}

static int set_status(uint8_t st)
{
	return ioctl(s.vh, VHOST_VDPA_SET_STATUS, &st);
}

static void sess_stop(void)
{
	int q;

	if (s.vh >= 0) {
		set_status(0);
		vh_unmap(s.vh, 0, MEM_IOVA, MEM_SIZE);
		close(s.vh);
	}
	for (q = 0; q < 2; q++) {
		if (s.kick[q] > 0)
			close(s.kick[q]);
		if (s.call[q] > 0)
			close(s.call[q]);
	}
	s.vh = -1;
	memset(s.kick, 0, sizeof(s.kick));
	memset(s.call, 0, sizeof(s.call));
}

/* A session: reset, memory in ASID 0, features, both vqs, DRIVER_OK. */
static int sess_start(char *err, size_t len)
{
	uint64_t offered, want;
	uint8_t st;
	int q;

	s.vh = vh_open(vhpath);
	if (s.vh < 0)
		return snprintf(err, len, "open %s: %s", vhpath, strerror(errno)), -1;
	if (set_status(0))
		return snprintf(err, len, "reset: %s", strerror(errno)), -1;
	memset(s.mem, 0, MEM_SIZE);
	if (vh_map(s.vh, 0, MEM_IOVA, MEM_SIZE, s.mem, VHOST_ACCESS_RW))
		return snprintf(err, len, "IOTLB UPDATE: %s", strerror(errno)), -1;
	if (ioctl(s.vh, VHOST_GET_FEATURES, &offered))
		return snprintf(err, len, "GET_FEATURES: %s", strerror(errno)), -1;
	want = (1ull << VIRTIO_F_VERSION_1) | (1ull << VIRTIO_F_ACCESS_PLATFORM) |
	       (1ull << VIRTIO_RING_F_INDIRECT_DESC) | (1ull << VIRTIO_BLK_F_MQ) |
	       (packed ? 1ull << VIRTIO_F_RING_PACKED : 0);
	s.features = offered & want;
	if (packed && !(s.features & (1ull << VIRTIO_F_RING_PACKED)))
		return snprintf(err, len, "the device does not offer RING_PACKED (0x%llx)",
				(unsigned long long)offered), -1;
	if (set_status(VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER) ||
	    ioctl(s.vh, VHOST_SET_FEATURES, &s.features) ||
	    set_status(VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER | VIRTIO_CONFIG_S_FEATURES_OK))
		return snprintf(err, len, "features 0x%llx: %s", (unsigned long long)s.features,
				strerror(errno)), -1;
	for (q = 0; q < 2; q++) {
		struct vhost_vring_state num = { .index = q, .num = QSZ };
		/* packed: avail and used at slot 0 of lap 1 (wrap counters set) */
		struct vhost_vring_state base = { .index = q, .num = packed ? 0x80008000u : 0 };
		struct vhost_vring_addr a = {
			.index = q,
			.desc_user_addr = MEM_IOVA + RING(q),
			.avail_user_addr = MEM_IOVA + RING(q) + 1024,
			.used_user_addr = MEM_IOVA + RING(q) + 2048,
		};
		struct vhost_vring_file f = { .index = q };

		s.kick[q] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		s.call[q] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		s.avail[q] = s.used[q] = s.slot[q] = 0;
		s.wrap[q] = 1;
		if (s.kick[q] < 0 || s.call[q] < 0 || ioctl(s.vh, VHOST_SET_VRING_NUM, &num) ||
		    ioctl(s.vh, VHOST_SET_VRING_ADDR, &a) || ioctl(s.vh, VHOST_SET_VRING_BASE, &base))
			return snprintf(err, len, "vq %d set-up: %s", q, strerror(errno)), -1;
		f.fd = s.kick[q];
		if (ioctl(s.vh, VHOST_SET_VRING_KICK, &f))
			return snprintf(err, len, "vq %d kick: %s", q, strerror(errno)), -1;
		f.fd = s.call[q];
		if (ioctl(s.vh, VHOST_SET_VRING_CALL, &f))
			return snprintf(err, len, "vq %d call: %s", q, strerror(errno)), -1;
	}
	if (set_status(VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER | VIRTIO_CONFIG_S_FEATURES_OK |
		       VIRTIO_CONFIG_S_DRIVER_OK) ||
	    ioctl(s.vh, VHOST_VDPA_GET_STATUS, &st) || !(st & VIRTIO_CONFIG_S_DRIVER_OK))
		return snprintf(err, len, "DRIVER_OK: %s", strerror(errno)), -1;
	for (q = 0; q < 2; q++) {
		struct vhost_vring_state en = { .index = q, .num = 1 };

		if (ioctl(s.vh, VHOST_VDPA_SET_VRING_ENABLE, &en))
			return snprintf(err, len, "vq %d enable: %s", q, strerror(errno)), -1;
	}
	return 0;
}

static void kick(int q)
{
	uint64_t one = 1;

	(void)!write(s.kick[q], &one, sizeof(one));
}

static uint8_t *at(uint64_t off)
{
	return s.mem + off;
}

/*
 * Publish a chain of N descriptors on vq Q (split: at descriptors 0..N-1,
 * one avail entry; packed: at the next slots, the head's flags last).
 */
static void publish(int q, const struct vring_packed_desc *d, unsigned int n, uint16_t id)
{
	unsigned int i;

	if (!packed) {
		struct vring_desc *desc = (struct vring_desc *)at(RING(q));
		struct vring_avail *avail = (struct vring_avail *)at(RING(q) + 1024);

		for (i = 0; i < n; i++)
			desc[i] = (struct vring_desc){ d[i].addr, d[i].len, d[i].flags & 7,
						       d[i].flags & VRING_DESC_F_NEXT ? i + 1 : 0 };
		avail->ring[s.avail[q] % QSZ] = 0;
		__atomic_store_n(&avail->idx, ++s.avail[q], __ATOMIC_RELEASE);
	} else {
		struct vring_packed_desc *ring = (struct vring_packed_desc *)at(RING(q));
		uint16_t head = s.slot[q], hflags = 0;

		for (i = 0; i < n; i++) {
			uint16_t f = (d[i].flags & 7) | (s.wrap[q] ? (1 << VRING_PACKED_DESC_F_AVAIL) : (1 << VRING_PACKED_DESC_F_USED));
			struct vring_packed_desc *r = &ring[s.slot[q]];

			r->addr = d[i].addr;
			r->len = d[i].len;
			r->id = id;
			if (i)
				__atomic_store_n(&r->flags, f, __ATOMIC_RELEASE);
			else
				hflags = f;
			if (++s.slot[q] == QSZ) {
				s.slot[q] = 0;
				s.wrap[q] = !s.wrap[q];
			}
		}
		__atomic_store_n(&ring[head].flags, hflags, __ATOMIC_RELEASE);
	}
	kick(q);
}

/* Wait for the request just published on vq Q to be used: 0, or -1 after WAIT_MS. */
static int wait_used(int q, uint16_t head_slot, int head_wrap)
{
	double end = now_s() + WAIT_MS / 1000.0;

	do {
		if (!packed) {
			struct vring_used *used = (struct vring_used *)at(RING(q) + 2048);

			if (__atomic_load_n(&used->idx, __ATOMIC_ACQUIRE) != s.used[q]) {
				s.used[q]++;
				return 0;
			}
		} else {
			struct vring_packed_desc *ring = (struct vring_packed_desc *)at(RING(q));
			uint16_t f = __atomic_load_n(&ring[head_slot].flags, __ATOMIC_ACQUIRE);

			if (!!(f & (1 << VRING_PACKED_DESC_F_USED)) == head_wrap && !!(f & (1 << VRING_PACKED_DESC_F_AVAIL)) == head_wrap)
				return 0;
		}
		poll(&(struct pollfd){ .fd = s.call[q], .events = POLLIN }, 1, 20);
	} while (now_s() < end);
	return -1;
}

/* Read sector 0 on vq Q; 0 if it completed with S_OK and the disk's magic. */
static int read_sector(int q, char *err, size_t len)
{
	struct virtio_blk_outhdr *h = (struct virtio_blk_outhdr *)at(REQ(q));
	uint8_t *data = at(REQ(q) + 0x1000), *status = at(REQ(q) + 0x2000);
	struct vring_packed_desc d[3] = {
		{ MEM_IOVA + REQ(q), sizeof(*h), 0, VRING_DESC_F_NEXT },
		{ MEM_IOVA + REQ(q) + 0x1000, 512, 0, VRING_DESC_F_NEXT | VRING_DESC_F_WRITE },
		{ MEM_IOVA + REQ(q) + 0x2000, 1, 0, VRING_DESC_F_WRITE },
	};
	uint16_t slot = s.slot[q];
	int wrap = s.wrap[q];

	h->type = VIRTIO_BLK_T_IN;
	h->ioprio = 0;
	h->sector = 0;
	memset(data, 0, 512);
	*status = 0xff;
	publish(q, d, 3, 0);
	if (wait_used(q, slot, wrap))
		return snprintf(err, len, "no completion within %d ms", WAIT_MS), -1;
	if (*status != VIRTIO_BLK_S_OK || memcmp(data, MAGIC, sizeof(MAGIC)))
		return snprintf(err, len, "status %u, data \"%.11s\"", *status, data), -1;
	return 0;
}

/* The malformed chain of kind K on vq 0, kicked. */
static void publish_hostile(enum kind k)
{
	struct vring_packed_desc *tbl = (struct vring_packed_desc *)at(SCRATCH);		/* a packed table */
	struct vring_desc *stbl = (struct vring_desc *)at(SCRATCH);	/* a split one */
	uint64_t hdr = MEM_IOVA + REQ(0), tblv = MEM_IOVA + SCRATCH;
	struct vring_packed_desc d[2] = { { hdr, 16, 0, 0 }, { 0 } };
	unsigned int n = 1;
	uint16_t id = 0;

	switch (k) {
	case K_LOOP:
		if (!packed) {
			struct vring_desc *desc = (struct vring_desc *)at(RING(0));
			struct vring_avail *avail = (struct vring_avail *)at(RING(0) + 1024);

			desc[10] = (struct vring_desc){ hdr, 16, VRING_DESC_F_NEXT, 11 };
			desc[11] = (struct vring_desc){ hdr, 16, VRING_DESC_F_NEXT, 10 };
			avail->ring[s.avail[0] % QSZ] = 10;
			__atomic_store_n(&avail->idx, ++s.avail[0], __ATOMIC_RELEASE);
			kick(0);
			return;
		} else {
			struct vring_packed_desc all[QSZ];
			unsigned int i;

			for (i = 0; i < QSZ; i++)
				all[i] = (struct vring_packed_desc){ hdr, 16, 0, VRING_DESC_F_NEXT };
			publish(0, all, QSZ, 0);
			return;
		}
	case K_HEAD: {
		struct vring_avail *avail = (struct vring_avail *)at(RING(0) + 1024);

		avail->ring[s.avail[0] % QSZ] = 200;	/* desc[] has 64 entries */
		__atomic_store_n(&avail->idx, ++s.avail[0], __ATOMIC_RELEASE);
		kick(0);
		return;
	}
	case K_NEXT: {
		struct vring_desc *desc = (struct vring_desc *)at(RING(0));
		struct vring_avail *avail = (struct vring_avail *)at(RING(0) + 1024);

		desc[0] = (struct vring_desc){ hdr, 16, VRING_DESC_F_NEXT, 99 };
		avail->ring[s.avail[0] % QSZ] = 0;
		__atomic_store_n(&avail->idx, ++s.avail[0], __ATOMIC_RELEASE);
		kick(0);
		return;
	}
	case K_JUMP: {
		struct vring_avail *avail = (struct vring_avail *)at(RING(0) + 1024);

		s.avail[0] += 100;
		__atomic_store_n(&avail->idx, s.avail[0], __ATOMIC_RELEASE);
		kick(0);
		return;
	}
	case K_WRAP:
		d[0] = (struct vring_packed_desc){ ~0ull - 100, 0xffffff00, 0, 0 };
		break;
	case K_HUGE:
		d[0] = (struct vring_packed_desc){ MEM_IOVA, 0xffffff00, 0, 0 };
		break;
	case K_NESTED:
		/* a table whose second entry is itself an indirect table */
		if (!packed) {
			stbl[0] = (struct vring_desc){ hdr, 16, VRING_DESC_F_NEXT, 1 };
			stbl[1] = (struct vring_desc){ tblv + 0x800, 32, VRING_DESC_F_INDIRECT, 0 };
		} else {
			tbl[0] = (struct vring_packed_desc){ hdr, 16, 0, 0 };
			tbl[1] = (struct vring_packed_desc){ tblv + 0x800, 32, 0, VRING_DESC_F_INDIRECT };
		}
		d[0] = (struct vring_packed_desc){ tblv, 32, 0, VRING_DESC_F_INDIRECT };
		break;
	case K_IND_NEXT:
		tbl[0] = (struct vring_packed_desc){ hdr, 16, 0, 0 };
		d[0] = (struct vring_packed_desc){ tblv, 16, 0, VRING_DESC_F_INDIRECT | VRING_DESC_F_NEXT };
		d[1] = (struct vring_packed_desc){ hdr, 16, 0, 0 };
		n = 2;
		break;
	case K_IND_SIZE:
		d[0] = (struct vring_packed_desc){ tblv, 24, 0, VRING_DESC_F_INDIRECT };
		break;
	case K_UNMAPPED:
		d[0] = (struct vring_packed_desc){ UNMAPPED, 16, 0, 0 };
		break;
	case K_TBL_UNMAPPED:
		d[0] = (struct vring_packed_desc){ UNMAPPED, 32, 0, VRING_DESC_F_INDIRECT };
		break;
	case K_ID:
		id = 200;
		break;
	case K_UNAVAIL: {
		/* the head says NEXT; the slot after it still belongs to the last lap */
		struct vring_packed_desc *ring = (struct vring_packed_desc *)at(RING(0));
		uint16_t next = (s.slot[0] + 1) % QSZ;
		int nwrap = next == 0 ? !s.wrap[0] : s.wrap[0];

		ring[next] = (struct vring_packed_desc){ hdr, 16, 0, nwrap ? (1 << VRING_PACKED_DESC_F_USED) : (1 << VRING_PACKED_DESC_F_AVAIL) };
		d[0].flags = VRING_DESC_F_NEXT;
		publish(0, d, 1, 0);
		return;
	}
	case K_NKINDS:
		return;
	}
	publish(0, d, n, id);
}

static void scenario(enum kind k)
{
	char nm[300], err[400] = "";
	int before, after = 0, rbefore, i, ok;
	struct vhost_vring_state vs = { .index = 1 };

	if (!what(k))
		return;
#define NM(fmt) (snprintf(nm, sizeof(nm), "hostile_drv_blk: %s: %s: " fmt, packed ? "packed" : "split", what(k)), nm)
	ok = sess_start(err, sizeof(err)) == 0;
	TAP_OK(ok, NM("a session starts (2 queues)"), "%s", err);
	if (!ok) {
		sess_stop();
		return;
	}
	TAP_OK(read_sector(0, err, sizeof(err)) == 0, NM("vq 0 reads sector 0 first"), "%s", err);
	before = log_count("queue marked broken", NULL);
	rbefore = log_count("vq 0: ", reason(k));
	publish_hostile(k);
	for (i = 0; i < WAIT_MS / 50; i++) {
		after = log_count("queue marked broken", NULL);
		if (after > before)
			break;
		msleep_(50);
	}
	TAP_OK(after == before + 1, NM("the daemon marks one queue broken"), "%d more", after - before);
	TAP_OK(log_count("vq 0: ", reason(k)) > rbefore, NM("the daemon logs the reason for vq 0"),
	       "no new \"vq 0: ...%s\" in %s", reason(k), logpath);
	TAP_OK(read_sector(1, err, sizeof(err)) == 0, NM("vq 1 still serves a read"), "%s", err);
	TAP_OK(ioctl(s.vh, VHOST_GET_VRING_BASE, &vs) == 0, NM("the control path answers (GET_VRING_BASE of vq 1)"),
	       "%s", strerror(errno));
	TAP_OK(set_status(0) == 0, NM("the reset is answered"), "%s", strerror(errno));
	sess_stop();
#undef NM
}

int main(int argc, char **argv)
{
	char err[400] = "";
	int k, ok;

	if (argc != 4 || (strcmp(argv[3], "split") && strcmp(argv[3], "packed"))) {
		fprintf(stderr, "usage: hostile_drv_blk NAME LOG split|packed\n");
		return 2;
	}
	name = argv[1];
	logpath = argv[2];
	packed = !strcmp(argv[3], "packed");
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (vhost_path(name, vhpath, sizeof(vhpath))) {
		TAP_OK(0, "hostile_drv_blk: the device is bound to vhost-vdpa", " ");
		return 1;
	}
	s.mem = memfd_region(MEM_SIZE);
	if (!s.mem) {
		TAP_OK(0, "hostile_drv_blk: guest memory", "%s", strerror(errno));
		return 1;
	}
	for (k = 0; k < K_NKINDS; k++)
		scenario(k);

	/* after the last reset the hostile queue serves again */
	ok = sess_start(err, sizeof(err)) == 0 && read_sector(0, err, sizeof(err)) == 0;
	TAP_OK(ok, packed ? "hostile_drv_blk: packed: after the last reset vq 0 reads again" :
	       "hostile_drv_blk: split: after the last reset vq 0 reads again", "%s", err);
	sess_stop();
	return tap_failed ? 1 : 0;
}
