// SPDX-License-Identifier: GPL-2.0
/*
 * Rings whose areas span several IOTLB entries, as a guest behind a vIOMMU
 * maps them: every page of the ring and of the buffers is its own entry, at
 * scattered offsets of guest memory. Split (with indirect tables and event
 * index words across page boundaries) and packed rings must work through
 * many laps, after an invalidation, and after the pages moved elsewhere;
 * a hole in a ring area or pieces that do not line up with pages break the
 * queue instead of crashing.
 */
#include "fake_kernel.h"
#include <linux/virtio_ring.h>

#define PG	4096u
#define RING	0x100000ull		/* 8 pages, one entry each */
#define RPAGES	8
#define BUF	0x200000ull		/* 32 pages, one entry each */
#define BPAGES	32
#define NUM	256
#define ROUNDS	700			/* more than two laps */

static struct fake_kernel fk;
static struct fk_log lg;
static uint8_t *rview, *bview;		/* the driver's contiguous views */
static unsigned int moved;		/* layout generation: where the pages sit */

/* Page k of a range sits at a scattered offset; a new layout moves them all. */
static uint64_t page_off(uint64_t base, unsigned int npages, unsigned int k, unsigned int gen)
{
	unsigned int slot = (k * 5 + 3 + gen * 11) % npages;	/* 5, 11 coprime to 8 and 32 */

	return (base == RING ? 0x400000 : 0x800000) + gen * 0x100000 + slot * (uint64_t)PG;
}

/* The driver maps its pages (the fake kernel's table) and builds a view. */
static uint8_t *layout(uint64_t base, unsigned int npages, unsigned int gen, uint8_t *old)
{
	uint8_t *v = mmap(NULL, npages * PG, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	unsigned int k;

	for (k = 0; k < npages; k++) {
		uint64_t off = page_off(base, npages, k, gen);

		fk_map(&fk, 0, base + k * PG, PG, off, VDUSE_ACCESS_RW);
		if (mmap(v + k * PG, PG, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, fk.memfd,
			 off) == MAP_FAILED)
			abort();
		if (old)	/* the pages moved: their contents go along */
			memcpy(v + k * PG, old + k * PG, PG);
	}
	if (old)
		munmap(old, npages * PG);
	return v;
}

static void map_all(unsigned int gen)
{
	fk_unmap_all(&fk, 0);
	rview = layout(RING, RPAGES, gen, rview);
	bview = layout(BUF, BPAGES, gen, bview);
}

static uint8_t pat(unsigned int i, unsigned int j) { return (uint8_t)(i * 7 + j * 13 + 1); }

static struct vduse_dev *make_dev(bool packed)
{
	LIBVDUSE_OPTS(vduse_dev_opts, o, .name = "span", .device_id = 2, .num_queues = 1,
		      .queue_size = NUM, .log = fk_logger, .user = &lg,
		      .log_level = VDUSE_LOG_WARN);
	struct vduse_dev *dev = NULL;

	fk_init(&fk, 1);
	rview = bview = NULL;
	map_all(0);
	fk.features = (1ull << 32) | (1ull << 33) | (1ull << 28) | (1ull << 29) |
		      (packed ? 1ull << 34 : 0);
	TAP_EQ(vduse__dev_create(&o, &fk_backend, &fk, &dev), 0, "create");
	return dev;
}

static void drop_dev(struct vduse_dev *dev)
{
	vduse_dev_close(dev);
	munmap(rview, RPAGES * PG);
	munmap(bview, BPAGES * PG);
	fk_fini(&fk);
}

/* Device side: read the request, check it, answer with a pattern. */
static int serve(struct vduse_vq *vq, unsigned int i, uint32_t rlen, uint32_t wlen)
{
	static uint8_t buf[16384];
	struct vduse_req *req;
	unsigned int j;
	int ret = vduse_vq_pop(vq, &req);

	if (ret != 1) {
		tap_diag("round %u: pop %d (%s)", i, ret, vduse_vq_broken_reason(vq) ?: "");
		return -1;
	}
	if (req->readable_len != rlen || req->writable_len != wlen ||
	    vduse_req_read(req, 0, buf, rlen) != rlen) {
		tap_diag("round %u: lengths %llu/%llu", i, (unsigned long long)req->readable_len,
			 (unsigned long long)req->writable_len);
		vduse_vq_push(req, 0);
		return -1;
	}
	for (j = 0; j < rlen; j++)
		if (buf[j] != pat(i, j)) {
			tap_diag("round %u: byte %u read wrong", i, j);
			vduse_vq_push(req, 0);
			return -1;
		}
	for (j = 0; j < wlen; j++)
		buf[j] = ~pat(i, j);
	vduse_req_write(req, 0, buf, wlen);
	vduse_vq_push(req, wlen);
	return 0;
}

static bool check_written(unsigned int i, uint64_t iova, uint32_t len)
{
	unsigned int j;

	for (j = 0; j < len; j++) {
		uint8_t want = 0xff ^ pat(i, j);

		if (bview[iova - BUF + j] != want)
			return false;
	}
	return true;
}

/* ---- split ---- */

/* Areas that cross page (= entry) boundaries, each correctly aligned. */
#define S_DESC	(RING + 0x800)		/* 4096 bytes: pages 0-1 */
#define S_AVAIL	(RING + 0x2f00)		/* 518 bytes: pages 2-3 */
#define S_USED	(RING + 0x4c00)		/* 2054 bytes: pages 4-5 */

static void split_ring(void)
{
	struct vring_desc *desc;
	struct vring_avail *avail;
	struct vring_used *used;
	struct vduse_dev *dev;
	struct vduse_vq *vq;
	unsigned int i, j, ok = 0, ind_ok = 0;
	uint16_t used_seen = 0;

	tap_diag("---- split ring, every page its own IOTLB entry");
	dev = make_dev(false);
	if (!dev)
		return;
	vq = vduse_dev_vq(dev, 0);
	desc = (struct vring_desc *)(rview + (S_DESC - RING));
	avail = (struct vring_avail *)(rview + (S_AVAIL - RING));
	used = (struct vring_used *)(rview + (S_USED - RING));
	fk.vqinfo[0] = (struct vduse_vq_info){ .index = 0, .num = NUM, .desc_addr = S_DESC,
					       .driver_addr = S_AVAIL, .device_addr = S_USED,
					       .ready = 1 };
	TAP_EQ(fk_status(&fk, dev, 0x0f), VDUSE_REQ_RESULT_OK, "DRIVER_OK");
	TAP_OK(vduse_vq_started(vq) && !vduse_vq_broken(vq),
	       "queue started although each ring area spans two entries", "%s",
	       vduse_vq_broken_reason(vq) ?: "");
	for (i = 0; i < ROUNDS; i++) {
		/* a readable buffer across 2-3 pages, a writable one, sometimes indirect */
		uint64_t r = BUF + ((i * 3000) % (BPAGES * PG - 20000));
		uint64_t w = r + 9000;
		uint32_t rlen = 6000 + i % 97, wlen = 5000;
		uint16_t head = (i * 2) % NUM;
		bool ind = i % 5 == 0;

		for (j = 0; j < rlen; j++)
			bview[r - BUF + j] = pat(i, j);
		memset(bview + (w - BUF), 0, wlen);
		if (ind) {
			/* the table itself straddles a page boundary */
			uint64_t t = BUF + PG * (1 + i % (BPAGES - 8)) - 16;
			struct vring_desc *td = (struct vring_desc *)(bview + (t - BUF));

			/* keep the table clear of the data */
			if (t + 32 > r && t < w + wlen)
				t = BUF + (BPAGES - 1) * PG - 16, td = (struct vring_desc *)(bview + (t - BUF));
			td[0] = (struct vring_desc){ .addr = r, .len = rlen, .flags = VRING_DESC_F_NEXT,
						     .next = 1 };
			td[1] = (struct vring_desc){ .addr = w, .len = wlen, .flags = VRING_DESC_F_WRITE };
			desc[head] = (struct vring_desc){ .addr = t, .len = 32,
							  .flags = VRING_DESC_F_INDIRECT };
		} else {
			desc[head] = (struct vring_desc){ .addr = r, .len = rlen,
							  .flags = VRING_DESC_F_NEXT, .next = head + 1 };
			desc[head + 1] = (struct vring_desc){ .addr = w, .len = wlen,
							      .flags = VRING_DESC_F_WRITE };
		}
		avail->ring[i % NUM] = head;
		__atomic_store_n(&avail->idx, (uint16_t)(i + 1), __ATOMIC_RELEASE);
		if (serve(vq, i, rlen, wlen))
			break;
		used_seen = __atomic_load_n(&used->idx, __ATOMIC_ACQUIRE);
		if (used_seen == (uint16_t)(i + 1) && used->ring[i % NUM].id == head &&
		    used->ring[i % NUM].len == wlen && check_written(i, w, wlen)) {
			ok++;
			ind_ok += ind;
		}
		if (i == ROUNDS / 2) {
			/* the whole AS invalidated (what set_map sends): same pages */
			TAP_EQ(fk_iotlb(&fk, dev, 0, 0, UINT64_MAX), VDUSE_REQ_RESULT_OK,
			       "UPDATE_IOTLB [0, ~0] mid-run");
		}
		if (i == ROUNDS * 3 / 4) {
			/* the guest's pages moved: new offsets, contents copied */
			map_all(++moved);
			desc = (struct vring_desc *)(rview + (S_DESC - RING));
			avail = (struct vring_avail *)(rview + (S_AVAIL - RING));
			used = (struct vring_used *)(rview + (S_USED - RING));
			TAP_EQ(fk_iotlb(&fk, dev, 0, 0, UINT64_MAX), VDUSE_REQ_RESULT_OK,
			       "UPDATE_IOTLB after the pages moved");
		}
	}
	TAP_EQ(ok, ROUNDS, "every request round-tripped (buffers, used ring, data)");
	TAP_EQ(ind_ok, (ROUNDS + 4) / 5, "indirect tables across an entry boundary");
	/* event index words sit at the far ends of the areas, across pages */
	uint16_t ev;
	struct vduse_req *none;

	TAP_EQ(vduse_vq_pop(vq, &none), 0, "queue empty");
	memcpy(&ev, &used->ring[NUM], sizeof(ev));
	TAP_EQ(ev, (uint16_t)ROUNDS,
	       "avail_event written at the end of the used area (queue empty: armed at our position)");

	/* a hole in the used area: the queue breaks, nothing is touched */
	fk_unmap_all(&fk, 0);
	for (i = 0; i < RPAGES; i++)
		if (i != 5)
			fk_map(&fk, 0, RING + i * PG, PG, page_off(RING, RPAGES, i, moved),
			       VDUSE_ACCESS_RW);
	fk_iotlb(&fk, dev, 0, 0, UINT64_MAX);
	avail->ring[ROUNDS % NUM] = 0;
	__atomic_store_n(&avail->idx, (uint16_t)(ROUNDS + 1), __ATOMIC_RELEASE);
	{
		struct vduse_req *req;

		TAP_EQ(vduse_vq_pop(vq, &req), -EIO, "a hole in a ring area: pop fails");
		TAP_OK(vduse_vq_broken(vq) && strstr(vduse_vq_broken_reason(vq), "outside"),
		       "... the queue is broken, with the reason", "%s",
		       vduse_vq_broken_reason(vq) ?: "");
	}
	drop_dev(dev);
}

/* Two entries meeting mid-page, at file offsets that do not line up. */
static void misaligned_pieces(void)
{
	struct vduse_dev *dev;
	struct vduse_vq *vq;

	tap_diag("---- pieces that do not line up with pages");
	dev = make_dev(false);
	if (!dev)
		return;
	vq = vduse_dev_vq(dev, 0);
	fk_unmap_all(&fk, 0);
	fk_map(&fk, 0, RING, 0x800, 0x400000, VDUSE_ACCESS_RW);
	fk_map(&fk, 0, RING + 0x800, 0x7800, 0x500000, VDUSE_ACCESS_RW);
	fk.vqinfo[0] = (struct vduse_vq_info){ .index = 0, .num = NUM, .desc_addr = RING,
					       .driver_addr = RING + 0x3000,
					       .device_addr = RING + 0x4000, .ready = 1 };
	TAP_EQ(fk_status(&fk, dev, 0x0f), VDUSE_REQ_RESULT_OK, "DRIVER_OK");
	TAP_OK(vduse_vq_broken(vq) && strstr(vduse_vq_broken_reason(vq), "mapping"),
	       "descriptor area split mid-page at unrelated offsets: queue broken", "%s",
	       vduse_vq_broken_reason(vq) ?: "(not broken)");
	drop_dev(dev);
}

/* ---- packed ---- */

struct pd {
	uint64_t addr;
	uint32_t len;
	uint16_t id;
	uint16_t flags;
};
#define PN	1
#define PW	2
#define PA	(1 << 7)
#define PU	(1 << 15)
#define P_DESC	(RING + 0x1800)		/* 4096 bytes: pages 1-2 */
#define P_DRV	(RING + 0x5000)
#define P_DEV	(RING + 0x6ffc)

static void packed_ring(void)
{
	struct vduse_dev *dev;
	struct vduse_vq *vq;
	struct pd *ring;
	unsigned int i, j, ok = 0;
	uint16_t slot = 0, uslot = 0;
	bool wrap = true, uwrap = true;

	tap_diag("---- packed ring, every page its own IOTLB entry");
	dev = make_dev(true);
	if (!dev)
		return;
	vq = vduse_dev_vq(dev, 0);
	ring = (struct pd *)(rview + (P_DESC - RING));
	fk.vqinfo[0] = (struct vduse_vq_info){ .index = 0, .num = NUM, .desc_addr = P_DESC,
					       .driver_addr = P_DRV, .device_addr = P_DEV,
					       .ready = 1 };
	fk.vqinfo[0].packed.last_avail_counter = 1;
	fk.vqinfo[0].packed.last_used_counter = 1;
	TAP_EQ(fk_status(&fk, dev, 0x0f), VDUSE_REQ_RESULT_OK, "DRIVER_OK");
	TAP_OK(vduse_vq_started(vq) && !vduse_vq_broken(vq),
	       "packed queue started although its descriptor area spans two entries", "%s",
	       vduse_vq_broken_reason(vq) ?: "");
	for (i = 0; i < ROUNDS; i++) {
		uint64_t r = BUF + ((i * 2500) % (BPAGES * PG - 20000)), w = r + 8000;
		uint32_t rlen = 5000 + i % 89, wlen = 4500;
		uint16_t id = i % NUM, head = slot, f;
		bool hw = wrap;
		uint32_t ulen;

		for (j = 0; j < rlen; j++)
			bview[r - BUF + j] = pat(i, j);
		memset(bview + (w - BUF), 0, wlen);
		/* two descriptors; the head's flags last */
		ring[head].addr = r;
		ring[head].len = rlen;
		ring[head].id = id;
		if (++slot == NUM) {
			slot = 0;
			wrap = !wrap;
		}
		ring[slot].addr = w;
		ring[slot].len = wlen;
		ring[slot].id = id;
		__atomic_store_n(&ring[slot].flags, PW | (wrap ? PA : PU), __ATOMIC_RELEASE);
		f = PN | (hw ? PA : PU);
		if (++slot == NUM) {
			slot = 0;
			wrap = !wrap;
		}
		__atomic_store_n(&ring[head].flags, f, __ATOMIC_RELEASE);
		if (serve(vq, i, rlen, wlen))
			break;
		f = __atomic_load_n(&ring[uslot].flags, __ATOMIC_ACQUIRE);
		ulen = ring[uslot].len;
		if (!!(f & PA) == uwrap && !!(f & PU) == uwrap && ring[uslot].id == id &&
		    ulen == wlen && check_written(i, w, wlen))
			ok++;
		uslot += 2;
		if (uslot >= NUM) {
			uslot -= NUM;
			uwrap = !uwrap;
		}
		if (i == ROUNDS / 2) {
			map_all(++moved);
			ring = (struct pd *)(rview + (P_DESC - RING));
			TAP_EQ(fk_iotlb(&fk, dev, 0, 0, UINT64_MAX), VDUSE_REQ_RESULT_OK,
			       "UPDATE_IOTLB after the pages moved");
		}
	}
	TAP_EQ(ok, ROUNDS, "every packed request round-tripped across laps");
	drop_dev(dev);
}

int main(void)
{
	split_ring();
	misaligned_pieces();
	packed_ring();
	return tap_done();
}
