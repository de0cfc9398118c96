// SPDX-License-Identifier: GPL-2.0
/*
 * libvduse translation cache: per-ASID lookups through GET_FD2 (GET_FD on
 * API v0), hits and misses, ranges spanning mappings, overflow and
 * permission checks, invalidation of one address space only, deferred
 * unmapping while a reference is held, checks on the kernel's answers, umem.
 */
#include "fake_kernel.h"

static bool mapped(void *p)
{
	unsigned char v;

	/* mincore fails with ENOMEM on an unmapped page */
	return mincore((void *)((uintptr_t)p & ~4095ul), 4096, &v) == 0;
}

static struct vduse_dev *mkdev(struct fake_kernel *fk, int api, uint32_t nas, struct fk_log *log)
{
	LIBVDUSE_OPTS(vduse_dev_opts, o, .name = "iotlb", .device_id = 2, .num_queues = 2,
		      .ngroups = nas > 1 ? 2 : 1, .nas = nas, .log = fk_logger, .user = log,
		      .log_level = VDUSE_LOG_DEBUG);
	struct vduse_dev *dev = NULL;

	fk_init(fk, api);
	if (vduse__dev_create(&o, &fk_backend, fk, &dev))
		return NULL;
	return dev;
}

int main(void)
{
	struct fake_kernel fk;
	struct fk_log log = { 0 };
	struct vduse_dev *dev = mkdev(&fk, 1, 2, &log);
	struct vduse_region *r0, *r1, *reg[8];
	struct iovec iov[8];
	unsigned int n, calls, i;
	int ret;

	TAP_OK(dev != NULL, "v1 device with 2 address spaces created", "%s", log.last);
	if (!dev)
		return tap_done();

	/* same IOVA, different memory in ASID 0 and ASID 1 */
	fk_map(&fk, 0, 0x100000, 0x10000, 0x0, VDUSE_ACCESS_RW);
	fk_map(&fk, 1, 0x100000, 0x10000, 0x200000, VDUSE_ACCESS_RW);
	memcpy(fk.mem + 0x10, "asid-zero", 10);
	memcpy(fk.mem + 0x200010, "asid-one!", 10);

	r0 = vduse_iotlb_lookup(dev, 0, 0x100010);
	TAP_OK(r0 && !memcmp(r0->addr + 0x10, "asid-zero", 10), "ASID 0 lookup maps ASID 0 memory", " ");
	TAP_EQ(fk.last_req, VDUSE_IOTLB_GET_FD2, "v1 device resolves with IOTLB_GET_FD2");
	r1 = vduse_iotlb_lookup(dev, 1, 0x100010);
	TAP_OK(r1 && r1 != r0 && !memcmp(r1->addr + 0x10, "asid-one!", 10),
	       "ASID 1 lookup of the same IOVA maps ASID 1 memory", " ");
	calls = fk.getfd_calls;
	for (i = 0; i < 100; i++)
		vduse_iotlb_lookup(dev, 0, 0x100000 + i * 100);
	TAP_EQ(fk.getfd_calls, calls, "repeated lookups hit the cache (no kernel call)");
	TAP_OK(dev->as[0].hits >= 100 && dev->as[0].misses == 1, "hit and miss counters",
	       "hits %llu misses %llu", (unsigned long long)dev->as[0].hits,
	       (unsigned long long)dev->as[0].misses);
	TAP_OK(vduse_iotlb_lookup(dev, 0, 0x90000) == NULL, "unmapped IOVA misses", " ");
	TAP_OK(vduse_iotlb_lookup(dev, 2, 0x100000) == NULL, "ASID beyond nas refused", " ");

	/* many regions: binary search must find each */
	for (i = 0; i < 200; i++)
		fk_map(&fk, 0, 0x1000000 + i * 0x2000, 0x1000, 0x400000 + i * 0x1000,
		       VDUSE_ACCESS_RW);
	for (i = 0; i < 200; i++)
		fk.mem[0x400000 + i * 0x1000 + 7] = (uint8_t)i;
	for (i = 0, ret = 0; i < 200; i++) {
		struct vduse_region *r = vduse_iotlb_lookup(dev, 0, 0x1000000 + i * 0x2000 + 7);

		ret += r && r->addr[7] == (uint8_t)i;
	}
	for (i = 199; i < 200; i--) {	/* reverse order, all hits now */
		struct vduse_region *r = vduse_iotlb_lookup(dev, 0, 0x1000000 + i * 0x2000 + 7);

		ret += r && r->addr[7] == (uint8_t)i;
	}
	TAP_EQ(ret, 400, "200 regions found in both orders");
	TAP_EQ(dev->as[0].nr, 201, "201 regions cached, sorted array");
	for (i = 1, ret = 1; i < dev->as[0].nr; i++)
		ret &= dev->as[0].reg[i - 1]->last < dev->as[0].reg[i]->start;
	TAP_OK(ret, "cached regions sorted and disjoint", " ");

	/* a range across two adjacent mappings gives two segments */
	fk_map(&fk, 1, 0x110000, 0x1000, 0x300000, VDUSE_ACCESS_RW);
	n = 0;
	ret = vduse_iotlb_translate(dev, NULL, 1, 0x10f800, 0x1000, PROT_READ, iov, reg, 8, &n);
	TAP_OK(ret == 0 && n == 2 && iov[0].iov_len == 0x800 && iov[1].iov_len == 0x800 &&
	       reg[0]->start == 0x100000 && reg[1]->start == 0x110000 &&
	       iov[1].iov_base == reg[1]->addr, "range over two mappings: two segments",
	       "ret %d n %u", ret, n);
	TAP_EQ(reg[0]->refs + reg[1]->refs, 2, "each segment holds one reference");
	vduse_region_put(reg[0]);
	vduse_region_put(reg[1]);

	/* overflow and partial ranges */
	n = 0;
	calls = fk.getfd_calls;
	ret = vduse_iotlb_translate(dev, NULL, 0, UINT64_MAX - 10, 100, PROT_READ, iov, reg, 8, &n);
	TAP_OK(ret == -EFAULT && n == 0 && fk.getfd_calls == calls,
	       "wrapping range refused before any lookup", "ret %d", ret);
	ret = vduse_iotlb_translate(dev, NULL, 0, 0x10fff0, 0x20, PROT_READ, iov, reg, 8, &n);
	TAP_OK(ret == -EFAULT && n == 0, "range running past the mapping refused", "ret %d n %u", ret, n);
	TAP_EQ(r0->refs, 0, "refused range leaves no reference behind");
	ret = vduse_iotlb_translate(dev, NULL, 1, 0x10f800, 0x1000, PROT_READ, iov, reg, 1, &n);
	TAP_OK(ret == -E2BIG && n == 0, "too many segments refused and unwound", "ret %d n %u", ret, n);
	TAP_OK(vduse_iotlb_map_contig(dev, NULL, 1, 0x10f800, 0x1000, PROT_READ, &reg[0]) == NULL,
	       "contiguous map over two mappings refused", " ");
	TAP_OK(vduse_iotlb_map_contig(dev, NULL, 0, UINT64_MAX, 2, PROT_READ, &reg[0]) == NULL,
	       "contiguous map wrapping refused", " ");

	/* permissions */
	fk_map(&fk, 0, 0x2000000, 0x1000, 0x500000, VDUSE_ACCESS_RO);
	fk_map(&fk, 0, 0x2001000, 0x1000, 0x501000, VDUSE_ACCESS_WO);
	n = 0;
	ret = vduse_iotlb_translate(dev, NULL, 0, 0x2000000, 16, PROT_WRITE, iov, reg, 8, &n);
	TAP_EQ(ret, -EFAULT, "write to a read-only mapping refused");
	ret = vduse_iotlb_translate(dev, NULL, 0, 0x2000000, 16, PROT_READ, iov, reg, 8, &n);
	TAP_OK(ret == 0 && n == 1 && reg[0]->prot == PROT_READ, "read of a read-only mapping", " ");
	vduse_region_put(reg[0]);
	n = 0;
	ret = vduse_iotlb_translate(dev, NULL, 0, 0x2001000, 16, PROT_READ, iov, reg, 8, &n);
	TAP_EQ(ret, -EFAULT, "read of a write-only mapping refused");

	/* a mapping whose file offset is not page aligned (consumer mapped mid-page) */
	fk_map(&fk, 0, 0x3000000, 0x100, 0x700010, VDUSE_ACCESS_RW);
	memcpy(fk.mem + 0x700010, "mid-page", 8);
	{
		struct vduse_region *r = vduse_iotlb_lookup(dev, 0, 0x3000000);

		TAP_OK(r && !memcmp(r->addr, "mid-page", 8), "unaligned file offset mapped correctly",
		       " ");
	}

	/* invalidation of ASID 1 leaves ASID 0 cached */
	r1 = vduse_iotlb_lookup(dev, 1, 0x100000);
	calls = fk.getfd_calls;
	vduse_iotlb_invalidate(dev, 1, 0, UINT64_MAX);
	TAP_EQ(dev->as[1].nr, 0, "ASID 1 cache emptied");
	vduse_iotlb_lookup(dev, 0, 0x100000);
	TAP_EQ(fk.getfd_calls, calls, "ASID 0 still cached after ASID 1 invalidation");
	vduse_iotlb_lookup(dev, 1, 0x100000);
	TAP_EQ(fk.getfd_calls, calls + 1, "ASID 1 refetched after its invalidation");

	/* partial invalidation */
	n = dev->as[0].nr;
	vduse_iotlb_invalidate(dev, 0, 0x1000000 + 10 * 0x2000, 0x1000000 + 19 * 0x2000);
	TAP_EQ(dev->as[0].nr, n - 10, "range invalidation drops exactly the overlapping regions");

	/* deferred unmap while a reference is held */
	n = 0;
	ret = vduse_iotlb_translate(dev, NULL, 0, 0x100000, 64, PROT_READ | PROT_WRITE, iov, reg, 8, &n);
	vduse_iotlb_invalidate(dev, 0, 0x100000, 0x100000);
	TAP_OK(ret == 0 && reg[0]->dead && mapped(iov[0].iov_base) &&
	       !memcmp((uint8_t *)iov[0].iov_base + 0x10, "asid-zero", 10),
	       "invalidated region stays mapped while referenced", " ");
	{
		void *p = iov[0].iov_base;

		vduse_region_put(reg[0]);
		TAP_OK(!mapped(p), "unmapped when the last reference goes", " ");
	}

	/* the kernel's answers are checked */
	fk.bogus = 1;
	TAP_OK(vduse_iotlb_lookup(dev, 1, 0x110000) == NULL, "entry not covering the IOVA rejected", " ");
	fk.bogus = 2;
	TAP_OK(vduse_iotlb_lookup(dev, 1, 0x110000) == NULL, "entry without permission rejected", " ");
	fk.bogus = 3;
	TAP_OK(vduse_iotlb_lookup(dev, 1, 0x110000) == NULL, "entry covering all 2^64 rejected", " ");
	fk.bogus = 0;
	TAP_OK(vduse_iotlb_lookup(dev, 1, 0x110000) != NULL, "good entry accepted again", " ");

	/* copy helper across mappings */
	{
		char buf[0x2000];

		memset(fk_ptr(&fk, 1, 0x10f800), 'a', 0x800);
		memset(fk_ptr(&fk, 1, 0x110000), 'b', 0x800);
		ret = vduse_iotlb_copy_from(dev, NULL, 1, 0x10f800, buf, 0x1000);
		TAP_OK(ret == 0 && buf[0] == 'a' && buf[0x7ff] == 'a' && buf[0x800] == 'b' &&
		       buf[0xfff] == 'b', "copy across two mappings", "ret %d", ret);
		TAP_EQ(vduse_iotlb_copy_from(dev, NULL, 1, 0x10f800, buf, 0x1801), -EFAULT,
		       "copy past the mappings refused");
	}

	/* umem: lookups in the bounce range resolve to the registered memory */
	{
		void *um = mmap(NULL, 0x10000, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		struct vduse_region *r;

		uint64_t usz = 0;

		TAP_EQ(vduse_dev_umem_size(dev, 1, &usz), -ENOENT, "no bounce region yet: -ENOENT");
		fk_map(&fk, 1, 0, 0x10000, 0x600000, VDUSE_ACCESS_RW);
		TAP_EQ(vduse_dev_umem_size(dev, 1, &usz), -ENOENT,
		       "a map without the UMEM capability: -ENOENT");
		fk.bounce_size[1] = 0x10000;
		TAP_OK(vduse_dev_umem_size(dev, 1, &usz) == 0 && usz == 0x10000,
		       "umem size of ASID 1 from IOTLB_GET_INFO", "size %llx", (unsigned long long)usz);
		TAP_EQ(fk.last_req, VDUSE_IOTLB_GET_INFO, "asked with IOTLB_GET_INFO");
		TAP_EQ(vduse_dev_reg_umem(dev, 1, um, 0x10000), 0, "REG_UMEM on ASID 1");
		TAP_EQ(fk.umem[1].size, 0x10000, "kernel saw the umem for ASID 1");
		calls = fk.getfd_calls;
		r = vduse_iotlb_lookup(dev, 1, 0x1234);
		TAP_OK(r && r->addr == um && r->external && fk.getfd_calls == calls,
		       "bounce IOVA of ASID 1 resolves to umem without the kernel", " ");
		TAP_EQ(vduse_dev_reg_umem(dev, 1, um, 0x10000), -EEXIST, "second REG_UMEM refused");
		TAP_EQ(vduse_dev_dereg_umem(dev, 1), 0, "DEREG_UMEM");
		r = vduse_iotlb_lookup(dev, 1, 0x1234);
		TAP_OK(r && r->addr != um && fk.getfd_calls == calls + 1,
		       "after DEREG_UMEM the kernel mapping is used", " ");
		TAP_EQ(vduse_dev_dereg_umem(dev, 1), -ENOENT, "DEREG_UMEM without umem");
		TAP_EQ(vduse_dev_reg_umem(dev, 1, (uint8_t *)um + 1, 0x1000), -EINVAL,
		       "unaligned umem refused");
		munmap(um, 0x10000);
	}
	vduse_dev_destroy(dev);
	fk_fini(&fk);

	/* API v0: GET_FD, ASID 0 only */
	dev = mkdev(&fk, 0, 1, &log);
	TAP_OK(dev && vduse_dev_api_version(dev) == 0, "v0-only kernel: v0 device", " ");
	if (dev) {
		fk_map(&fk, 0, 0x100000, 0x1000, 0, VDUSE_ACCESS_RW);
		TAP_OK(vduse_iotlb_lookup(dev, 0, 0x100000) != NULL &&
		       fk.last_req == VDUSE_IOTLB_GET_FD, "v0 device resolves with IOTLB_GET_FD", " ");
		vduse_dev_destroy(dev);
	}
	fk_fini(&fk);
	return tap_done();
}
