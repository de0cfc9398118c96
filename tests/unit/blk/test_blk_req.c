// SPDX-License-Identifier: GPL-2.0
/*
 * devices/blk/blk_req.c without a kernel: requests are built by hand as the
 * library would hand them over (struct vduse_req with its iovecs), parsed,
 * executed on a temporary file and completed. Covers what a driver can get
 * wrong on purpose: short chains, ranges past the end or overflowing, bad
 * alignment, discard flags, too many segments, writes to a read-only disk.
 */
#include <endian.h>
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>
#include <sys/stat.h>
#include "blk_req.h"
#include "tap.h"

#define DISK	(1u << 20)

static struct blk_disk disk = {
	.size = DISK, .lbs = 512, .max_discard_sectors = 256, .max_discard_seg = 2,
	.max_wz_sectors = 256, .max_wz_seg = 2, .serial = "unit-serial",
};
static struct blk_file file;

/* A request of up to 5 segments; seg[] lengths given, buffers allocated. */
struct treq {
	struct vduse_req req;
	struct iovec iov[5];
	uint8_t buf[5][8192];
	struct iovec scratch[5];
	struct blk_cmd cmd;
};

static void mk(struct treq *t, unsigned int nr, unsigned int nw, const size_t *lens)
{
	unsigned int i;

	memset(t, 0, sizeof(*t));
	for (i = 0; i < nr + nw; i++) {
		t->iov[i].iov_base = t->buf[i];
		t->iov[i].iov_len = lens[i];
		if (i < nr)
			t->req.readable_len += lens[i];
		else
			t->req.writable_len += lens[i];
	}
	t->req.iov = t->iov;
	t->req.nr_readable = nr;
	t->req.nr_writable = nw;
}

static void hdr(struct treq *t, uint32_t type, uint64_t sector)
{
	struct virtio_blk_outhdr h = { .type = htole32(type), .sector = htole64(sector) };

	vduse_req_write(&(struct vduse_req){ .iov = t->iov, .nr_writable = t->req.nr_readable },
			0, &h, sizeof(h));
}

/* Parse, execute, complete; returns the status byte the driver would see. */
static int run(struct treq *t, uint32_t *used)
{
	uint8_t st = 0xee;
	int ret = blk_cmd_parse(&disk, &t->req, &t->cmd, t->scratch);

	if (ret)
		return ret;
	blk_cmd_exec_sync(&file, &t->cmd);
	*used = blk_cmd_complete(&t->req, &t->cmd);
	vduse_req_read(&(struct vduse_req){ .iov = t->iov + t->req.nr_readable,
					    .nr_readable = t->req.nr_writable },
		       t->req.writable_len - 1, &st, 1);
	return st;
}

static void seg(struct treq *t, unsigned int i, uint64_t sector, uint32_t n, uint32_t flags)
{
	struct virtio_blk_discard_write_zeroes s = {
		.sector = htole64(sector), .num_sectors = htole32(n), .flags = htole32(flags),
	};

	memcpy(t->buf[1] + i * sizeof(s), &s, sizeof(s));
}

static int all(const uint8_t *p, int v, size_t n)
{
	while (n--)
		if (*p++ != v)
			return 0;
	return 1;
}

int main(void)
{
	static struct treq t;
	static uint8_t fbuf[8192];
	char path[] = "/tmp/test_blk_req.XXXXXX";
	uint32_t used;
	unsigned int i;

	file.fd = mkstemp(path);
	if (file.fd < 0 || ftruncate(file.fd, DISK)) {
		perror("temporary file");
		return 1;
	}
	unlink(path);

	/* write then read, header and data sharing the first segment */
	mk(&t, 1, 1, (size_t[]){ 16 + 4096, 1 });
	hdr(&t, VIRTIO_BLK_T_OUT, 8);
	memset(t.buf[0] + 16, 0xa5, 4096);
	TAP_EQ(run(&t, &used), VIRTIO_BLK_S_OK, "write 4 KiB at sector 8 (header and data in one segment)");
	TAP_EQ(used, 1, "a write's used length is the status byte");
	TAP_EQ(pread(file.fd, fbuf, 4096, 4096), 4096, "read the file");
	TAP_OK(all(fbuf, 0xa5, 4096), "the data is in the file", " ");

	mk(&t, 1, 3, (size_t[]){ 16, 1000, 3095, 2 });	/* status shares the last segment */
	hdr(&t, VIRTIO_BLK_T_IN, 8);
	TAP_EQ(run(&t, &used), VIRTIO_BLK_S_OK, "read 4 KiB split over odd segments");
	TAP_EQ(used, 4097, "a read's used length is data plus status");
	TAP_OK(all(t.buf[1], 0xa5, 1000) && all(t.buf[2], 0xa5, 3095) && t.buf[3][0] == 0xa5,
	       "the read returns the data", " ");

	/* more data segments than the offered seg_max: refused before any I/O */
	disk.max_seg = 2;
	mk(&t, 1, 3, (size_t[]){ 16, 1000, 3095, 2 });
	hdr(&t, VIRTIO_BLK_T_IN, 8);
	memset(t.buf[1], 0xee, 1000);
	TAP_EQ(run(&t, &used), VIRTIO_BLK_S_IOERR, "a read in 3 data segments with seg_max 2 gets IOERR");
	TAP_OK(used == 1 && all(t.buf[1], 0xee, 1000), "the refused read returns no data",
	       "used %u", used);
	mk(&t, 4, 1, (size_t[]){ 16, 512, 512, 512, 1 });
	hdr(&t, VIRTIO_BLK_T_OUT, 64);
	memset(t.buf[1], 0x77, 512);
	memset(t.buf[2], 0x77, 512);
	memset(t.buf[3], 0x77, 512);
	TAP_EQ(run(&t, &used), VIRTIO_BLK_S_IOERR, "a write in 3 data segments with seg_max 2 gets IOERR");
	TAP_EQ(pread(file.fd, fbuf, 1536, 64 * 512), 1536, "read the file");
	TAP_OK(all(fbuf, 0, 1536), "the refused write did not reach the file", " ");
	mk(&t, 1, 2, (size_t[]){ 16, 2048, 2049 });	/* status shares the last segment */
	hdr(&t, VIRTIO_BLK_T_IN, 8);
	TAP_EQ(run(&t, &used), VIRTIO_BLK_S_OK, "a read in exactly seg_max data segments");
	disk.max_seg = 0;

	/* malformed and hostile requests */
	mk(&t, 1, 1, (size_t[]){ 15, 1 });
	TAP_EQ(blk_cmd_parse(&disk, &t.req, &t.cmd, t.scratch), -EINVAL, "a short header is refused");
	mk(&t, 1, 0, (size_t[]){ 16 });
	TAP_EQ(blk_cmd_parse(&disk, &t.req, &t.cmd, t.scratch), -EINVAL, "no status byte is refused");

	mk(&t, 1, 2, (size_t[]){ 16, 512, 1 });
	hdr(&t, VIRTIO_BLK_T_IN, DISK / 512);
	TAP_EQ(run(&t, &used), VIRTIO_BLK_S_IOERR, "a read past the end gets IOERR");
	TAP_EQ(used, 1, "a failed read returns no data");
	hdr(&t, VIRTIO_BLK_T_IN, DISK / 512 - 1);
	TAP_EQ(run(&t, &used), VIRTIO_BLK_S_OK, "the last sector reads");
	hdr(&t, VIRTIO_BLK_T_IN, UINT64_MAX / 256);
	TAP_EQ(run(&t, &used), VIRTIO_BLK_S_IOERR, "a sector whose byte offset overflows gets IOERR");
	mk(&t, 1, 2, (size_t[]){ 16, 100, 1 });
	hdr(&t, VIRTIO_BLK_T_IN, 0);
	TAP_EQ(run(&t, &used), VIRTIO_BLK_S_IOERR, "a length that is not a block multiple gets IOERR");
	disk.lbs = 4096;
	mk(&t, 1, 2, (size_t[]){ 16, 4096, 1 });
	hdr(&t, VIRTIO_BLK_T_IN, 1);
	TAP_EQ(run(&t, &used), VIRTIO_BLK_S_IOERR, "an offset not aligned to a 4 KiB block gets IOERR");
	disk.lbs = 512;

	mk(&t, 1, 1, (size_t[]){ 16, 1 });
	hdr(&t, 42, 0);
	TAP_EQ(run(&t, &used), VIRTIO_BLK_S_UNSUPP, "an unknown type gets UNSUPP");
	hdr(&t, VIRTIO_BLK_T_FLUSH, 0);
	TAP_EQ(run(&t, &used), VIRTIO_BLK_S_OK, "flush");

	mk(&t, 1, 2, (size_t[]){ 16, 20, 1 });
	hdr(&t, VIRTIO_BLK_T_GET_ID, 0);
	memset(t.buf[1], 0xff, 20);
	TAP_EQ(run(&t, &used), VIRTIO_BLK_S_OK, "GET_ID");
	TAP_OK(!memcmp(t.buf[1], "unit-serial", 12) && all(t.buf[1] + 11, 0, 9) && used == 21,
	       "GET_ID returns the serial, NUL-padded to 20 bytes", "used %u", used);
	mk(&t, 1, 2, (size_t[]){ 16, 4, 1 });
	hdr(&t, VIRTIO_BLK_T_GET_ID, 0);
	TAP_EQ(run(&t, &used), VIRTIO_BLK_S_OK, "GET_ID into a 4-byte buffer");
	TAP_OK(!memcmp(t.buf[1], "unit", 4) && used == 5, "GET_ID is cut to the buffer", "used %u", used);

	/* read-only */
	disk.read_only = true;
	mk(&t, 2, 1, (size_t[]){ 16, 512, 1 });
	hdr(&t, VIRTIO_BLK_T_OUT, 0);
	memset(t.buf[1], 0x11, 512);
	TAP_EQ(run(&t, &used), VIRTIO_BLK_S_IOERR, "a write to a read-only disk gets IOERR");
	TAP_EQ(pread(file.fd, fbuf, 512, 0), 512, "read the file");
	TAP_OK(all(fbuf, 0, 512), "the read-only disk was not written", " ");
	mk(&t, 2, 1, (size_t[]){ 16, 16, 1 });
	hdr(&t, VIRTIO_BLK_T_DISCARD, 0);
	seg(&t, 0, 0, 8, 0);
	TAP_EQ(run(&t, &used), VIRTIO_BLK_S_IOERR, "a discard on a read-only disk gets IOERR");
	disk.read_only = false;

	/* discard and write-zeroes */
	memset(fbuf, 0x5a, sizeof(fbuf));
	TAP_EQ(pwrite(file.fd, fbuf, 8192, 65536), 8192, "fill 8 KiB at 64 KiB");
	mk(&t, 2, 1, (size_t[]){ 16, 32, 1 });
	hdr(&t, VIRTIO_BLK_T_DISCARD, 0);
	seg(&t, 0, 128, 8, 0);
	seg(&t, 1, 136, 8, 0);
	TAP_EQ(run(&t, &used), VIRTIO_BLK_S_OK, "discard of two 4 KiB segments");
	TAP_EQ(pread(file.fd, fbuf, 8192, 65536), 8192, "read the file");
	TAP_OK(all(fbuf, 0, 8192), "the discarded range of the file reads zero", " ");

	memset(fbuf, 0x5a, sizeof(fbuf));
	TAP_EQ(pwrite(file.fd, fbuf, 8192, 65536), 8192, "fill 8 KiB at 64 KiB again");
	mk(&t, 2, 1, (size_t[]){ 16, 16, 1 });
	hdr(&t, VIRTIO_BLK_T_WRITE_ZEROES, 0);
	seg(&t, 0, 130, 4, 0);
	TAP_EQ(run(&t, &used), VIRTIO_BLK_S_OK, "write-zeroes of 2 KiB");
	TAP_EQ(pread(file.fd, fbuf, 8192, 65536), 8192, "read the file");
	TAP_OK(all(fbuf, 0x5a, 1024) && all(fbuf + 1024, 0, 2048) && all(fbuf + 3072, 0x5a, 5120),
	       "exactly the range is zero", " ");
	hdr(&t, VIRTIO_BLK_T_WRITE_ZEROES, 0);
	seg(&t, 0, 144, 2, VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP);
	TAP_EQ(run(&t, &used), VIRTIO_BLK_S_OK, "write-zeroes with the unmap flag");
	TAP_EQ(pread(file.fd, fbuf, 1024, 144 * 512), 1024, "read the file");
	TAP_OK(all(fbuf, 0, 1024), "the unmapped range reads zero", " ");

	hdr(&t, VIRTIO_BLK_T_DISCARD, 0);
	seg(&t, 0, 0, 8, VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP);
	TAP_EQ(run(&t, &used), VIRTIO_BLK_S_UNSUPP, "a discard with the unmap flag gets UNSUPP");
	hdr(&t, VIRTIO_BLK_T_WRITE_ZEROES, 0);
	seg(&t, 0, 0, 8, 1u << 5);
	TAP_EQ(run(&t, &used), VIRTIO_BLK_S_UNSUPP, "an unknown flag gets UNSUPP");
	hdr(&t, VIRTIO_BLK_T_DISCARD, 0);
	seg(&t, 0, 0, 257, 0);
	TAP_EQ(run(&t, &used), VIRTIO_BLK_S_IOERR, "a segment above max_discard_sectors gets IOERR");
	seg(&t, 0, DISK / 512 - 4, 8, 0);
	TAP_EQ(run(&t, &used), VIRTIO_BLK_S_IOERR, "a segment past the end gets IOERR");
	seg(&t, 0, UINT64_MAX - 2, 8, 0);
	TAP_EQ(run(&t, &used), VIRTIO_BLK_S_IOERR, "a segment whose end overflows gets IOERR");
	mk(&t, 2, 1, (size_t[]){ 16, 48, 1 });
	hdr(&t, VIRTIO_BLK_T_DISCARD, 0);
	for (i = 0; i < 3; i++)
		seg(&t, i, 0, 8, 0);
	TAP_EQ(run(&t, &used), VIRTIO_BLK_S_IOERR, "more segments than max_discard_seg get IOERR");
	mk(&t, 2, 1, (size_t[]){ 16, 20, 1 });
	hdr(&t, VIRTIO_BLK_T_DISCARD, 0);
	TAP_EQ(run(&t, &used), VIRTIO_BLK_S_IOERR, "a payload that is not whole segments gets IOERR");
	disk.max_discard_sectors = 0;
	mk(&t, 2, 1, (size_t[]){ 16, 16, 1 });
	hdr(&t, VIRTIO_BLK_T_DISCARD, 0);
	seg(&t, 0, 0, 8, 0);
	TAP_EQ(run(&t, &used), VIRTIO_BLK_S_UNSUPP, "discard when not offered gets UNSUPP");

	{
		uint64_t v;

		TAP_OK(!blk_parse_size("64M", &v) && v == 64ull << 20, "parse 64M", " ");
		TAP_OK(!blk_parse_size("1GiB", &v) && v == 1ull << 30, "parse 1GiB", " ");
		TAP_OK(blk_parse_size("17179869184T", &v) == -EINVAL, "an overflowing size is refused", " ");
		TAP_OK(blk_parse_size("-1", &v) == -EINVAL && blk_parse_size("4x", &v) == -EINVAL,
		       "junk is refused", " ");
	}
	close(file.fd);
	return tap_done();
}
