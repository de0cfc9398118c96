// SPDX-License-Identifier: GPL-2.0
/*
 * lib/util.c: the in-flight log file (created, kept across a restart,
 * emptied for a new device, symlinks and non-files refused), a queue's ring
 * state and avail count (a lying avail index reported, not trusted), the
 * resubmit count after an attach with the log, the bounded destroy retry and
 * config writes that raise the interrupt only while the driver runs, and
 * the vDPA helpers' argument checks (the netlink path runs in the VM suites
 * dev_blk and dev_net).
 */
#include "fake_kernel.h"

#include <linux/virtio_ring.h>
#include <sys/stat.h>
#include <time.h>

#define RING	0x100000ull
#define BUF	0x200000ull

static struct fake_kernel fk;
static struct fk_log lg;

static void test_inflight_file(void)
{
	char dir[] = "/tmp/lib_util.XXXXXX", path[128], link[160];
	uint8_t *m = NULL;
	struct stat sb;
	int ret;

	if (!mkdtemp(dir))
		abort();
	snprintf(path, sizeof(path), "%s/log", dir);
	ret = vduse_inflight_open(path, 8192, false, (void **)&m);
	TAP_OK(ret == 0 && m && stat(path, &sb) == 0 && sb.st_size == 8192 &&
	       (sb.st_mode & 0777) == 0600 && m[0] == 0 && m[8191] == 0,
	       "inflight_open: creates a zeroed 0600 file of the size", "ret %d", ret);
	if (m) {
		m[0] = 0xab;
		m[8191] = 0xcd;
		munmap(m, 8192);
	}
	m = NULL;
	ret = vduse_inflight_open(path, 8192, false, (void **)&m);
	TAP_OK(ret == 0 && m && m[0] == 0xab && m[8191] == 0xcd,
	       "inflight_open: a restart finds the log as it was", "ret %d", ret);
	if (m)
		munmap(m, 8192);
	m = NULL;
	ret = vduse_inflight_open(path, 4096, true, (void **)&m);
	TAP_OK(ret == 0 && m && m[0] == 0 && stat(path, &sb) == 0 && sb.st_size == 4096,
	       "inflight_open: fresh empties it and sets the new size", "ret %d", ret);
	if (m)
		munmap(m, 4096);
	snprintf(link, sizeof(link), "%s/link", dir);
	if (symlink(path, link))
		abort();
	m = (void *)1;
	ret = vduse_inflight_open(link, 4096, false, (void **)&m);
	TAP_OK(ret == -ELOOP && !m, "inflight_open: a symlink is refused", "ret %d", ret);
	ret = vduse_inflight_open(dir, 4096, false, (void **)&m);
	TAP_OK(ret < 0 && !m, "inflight_open: a directory is refused", "ret %d", ret);
	TAP_EQ(vduse_inflight_open(path, 0, false, (void **)&m), -EINVAL, "inflight_open: size 0");
	TAP_EQ(vduse_inflight_open(NULL, 64, false, (void **)&m), -EINVAL, "inflight_open: no path");
	unlink(link);
	unlink(path);
	rmdir(dir);
}

static void test_names(void)
{
	struct timespec t0, t1;
	char buf[64];
	int ret;

	TAP_EQ(vduse_vdpa_dev_add("", NULL), -EINVAL, "vdpa_dev_add: empty name");
	TAP_EQ(vduse_vdpa_dev_add("a/b", NULL), -EINVAL, "vdpa_dev_add: a / in the name");
	TAP_EQ(vduse_vdpa_dev_add("x", "../x"), -EINVAL, "vdpa_dev_add: a / in the driver");
	TAP_EQ(vduse_vdpa_dev_del(".."), -EINVAL, "vdpa_dev_del: ..");
	TAP_EQ(vduse_vdpa_dev_driver("no-such-vdpa-dev-9", buf, sizeof(buf)), -ENOENT,
	       "vdpa_dev_driver: not on the bus");
	TAP_OK(!vduse_vdpa_dev_exists("no-such-vdpa-dev-9"), "vdpa_dev_exists: not on the bus", "%s", "exists");
	/* a final answer (not EBUSY) comes back at once, not after the timeout */
	clock_gettime(CLOCK_MONOTONIC, &t0);
	ret = vduse_destroy_by_name_wait("no-such-vduse-dev-9", 3000);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	TAP_OK(ret < 0 && ret != -EBUSY && t1.tv_sec - t0.tv_sec < 2,
	       "destroy_by_name_wait: a final error returns at once", "ret %d", ret);
	TAP_EQ(vduse_destroy_by_name_wait("", 10), -EINVAL, "destroy_by_name_wait: empty name");
}

static void test_ring_state(void)
{
	LIBVDUSE_OPTS(vduse_dev_opts, o, .name = "util", .device_id = 2, .num_queues = 2,
		      .queue_size = 8, .log = fk_logger, .user = &lg, .log_level = VDUSE_LOG_ERROR);
	size_t lsz = vduse_inflight_size(2, 8, 1);
	void *logmem = mmap(NULL, lsz, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	struct vduse_vq_ring_state rs;
	struct vduse_req *req[3];
	struct vduse_dev *dev;
	struct vduse_vq *vq;
	struct fk_split r;
	struct fk_desc *d;
	uint16_t *avail;
	unsigned int i;
	int ret;

	o.inflight = logmem;
	o.inflight_size = lsz;
	fk_init(&fk, 1);
	TAP_EQ(vduse__dev_create(&o, &fk_backend, &fk, &dev), 0, "create");
	if (!dev)
		return;
	vq = vduse_dev_vq(dev, 0);
	ret = vduse_vq_get_ring_state(vq, &rs, sizeof(rs));
	TAP_OK(ret == -EAGAIN && vduse_vq_avail_count(vq) == -EAGAIN,
	       "ring state: -EAGAIN before the queue starts", "ret %d", ret);
	fk_map(&fk, 0, RING, 0x100000, 0, VDUSE_ACCESS_RW);
	fk_map(&fk, 0, BUF, 0x10000, 0x100000, VDUSE_ACCESS_RW);
	fk.features = (1ull << 32) | (1ull << 33);
	fk_split_init(&fk, &r, 0, 0, RING, 8);
	fk_status(&fk, dev, 0x0f);
	d = fk_split_desc(&r);
	for (i = 0; i < 5; i++) {
		fk_set_desc(&d[i], BUF + 512 * i, 512, VRING_DESC_F_WRITE, 0);
		fk_split_publish(&r, i);
	}
	ret = vduse_vq_get_ring_state(vq, &rs, sizeof(rs));
	TAP_OK(ret == 0 && rs.num == 8 && rs.avail_idx == 5 && rs.last_avail_idx == 0 &&
	       rs.used_idx == 0 && rs.avail == 5 && !rs.packed && rs.resubmit == 0,
	       "ring state: five buffers made available", "ret %d avail_idx %u last %u avail %u",
	       ret, rs.avail_idx, rs.last_avail_idx, rs.avail);
	for (i = 0; i < 3; i++)
		vduse_vq_pop(vq, &req[i]);
	vduse_vq_push(req[0], 1);
	ret = vduse_vq_get_ring_state(vq, &rs, sizeof(rs));
	TAP_OK(ret == 0 && rs.avail_idx == 5 && rs.last_avail_idx == 3 && rs.used_idx == 1 &&
	       rs.avail == 2 && vduse_vq_avail_count(vq) == 2,
	       "ring state: three popped, one pushed", "avail_idx %u last %u used %u avail %u",
	       rs.avail_idx, rs.last_avail_idx, rs.used_idx, rs.avail);
	/* a short (older) struct gets its prefix */
	memset(&rs, 0xee, sizeof(rs));
	ret = vduse_vq_get_ring_state(vq, &rs, offsetof(struct vduse_vq_ring_state, packed));
	TAP_OK(ret == 0 && rs.avail == 2 && rs.packed == 0xee, "ring state: size-versioned",
	       "ret %d", ret);
	TAP_EQ(vduse_vq_get_ring_state(vq, &rs, 4), -EINVAL, "ring state: too small a struct");
	/* the driver's index is not trusted */
	avail = fk_split_avail(&r);
	__atomic_store_n(&avail[1], (uint16_t)(r.avail_idx + 100), __ATOMIC_RELEASE);
	ret = vduse_vq_get_ring_state(vq, &rs, sizeof(rs));
	TAP_OK(ret == -EPROTO && vduse_vq_avail_count(vq) == -EPROTO,
	       "ring state: an avail index more than a ring ahead is -EPROTO", "ret %d", ret);
	__atomic_store_n(&avail[1], r.avail_idx, __ATOMIC_RELEASE);

	/* the daemon dies with two requests in flight; the next one gets them back */
	vduse_dev_close(dev);
	ret = vduse__dev_attach(&o, &fk_backend, &fk, &dev);
	TAP_EQ(ret, 0, "attach with the in-flight log");
	if (ret)
		goto out;
	vq = vduse_dev_vq(dev, 0);
	ret = vduse_vq_get_ring_state(vq, &rs, sizeof(rs));
	TAP_OK(vduse_vq_resubmit_count(vq) == 2 && ret == 0 && rs.resubmit == 2 &&
	       rs.avail == 2 && rs.used_idx == 1,
	       "after attach: two requests to resubmit, two buffers still available",
	       "resubmit %u ret %d avail %u used %u", vduse_vq_resubmit_count(vq), ret,
	       rs.avail, rs.used_idx);
	for (i = 0; i < 2; i++)
		if (vduse_vq_pop(vq, &req[i]) == 1)
			vduse_vq_push(req[i], 1);
	TAP_OK(vduse_vq_resubmit_count(vq) == 0 && vduse_vq_avail_count(vq) == 2,
	       "resubmitted requests popped first: count 0, the two new ones still available",
	       "resubmit %u avail %d", vduse_vq_resubmit_count(vq), vduse_vq_avail_count(vq));
	vduse_dev_destroy(dev);
out:
	munmap(logmem, lsz);
	fk_fini(&fk);
}

/* Config space changes before DRIVER_OK, while running, during a reset. */
static void test_set_config(void)
{
	uint8_t cfg[16] = { 0 }, v[2] = { 1, 2 };
	LIBVDUSE_OPTS(vduse_dev_opts, o, .name = "cfg", .device_id = 1, .num_queues = 1,
		      .config = cfg, .config_size = sizeof(cfg), .log = fk_logger, .user = &lg,
		      .log_level = VDUSE_LOG_ERROR);
	struct vduse_dev *dev;
	unsigned int irqs;
	int ret;

	fk_init(&fk, 1);
	memset(&lg, 0, sizeof(lg));
	TAP_EQ(vduse__dev_create(&o, &fk_backend, &fk, &dev), 0, "config: create");
	if (!dev)
		return;
	ret = vduse_dev_set_config(dev, 6, v, 2);
	TAP_OK(ret == 0 && fk.config_irqs == 0 && fk.last_req == VDUSE_DEV_SET_CONFIG &&
	       !lg.errors, "set_config before DRIVER_OK: written, no interrupt",
	       "ret %d irqs %u errors %u", ret, fk.config_irqs, lg.errors);
	fk.features = (1ull << 32) | (1ull << 33);
	fk_status(&fk, dev, 0x0f);
	irqs = fk.config_irqs;
	ret = vduse_dev_set_config(dev, 6, v, 2);
	TAP_OK(ret == 0 && fk.config_irqs == irqs + 1, "set_config while running: interrupt",
	       "ret %d irqs %u", ret, fk.config_irqs);
	/* the driver is resetting: the kernel already refuses the interrupt */
	fk.fail_req = VDUSE_DEV_INJECT_CONFIG_IRQ;
	fk.fail_errno = EINVAL;
	ret = vduse_dev_set_config(dev, 6, v, 2);
	TAP_OK(ret == 0 && !lg.errors, "set_config: EINVAL after DRIVER_OK is retried, then not an error",
	       "ret %d errors %u", ret, lg.errors);
	fk.fail_errno = EIO;
	ret = vduse_dev_set_config(dev, 6, v, 2);
	TAP_OK(ret == -EIO && lg.errors == 1, "set_config: another failure is reported",
	       "ret %d errors %u", ret, lg.errors);
	fk.fail_req = 0;
	TAP_EQ(vduse_dev_set_config(dev, 4095, v, 2), -EINVAL, "set_config: past 4096 bytes");
	vduse_dev_destroy(dev);
	fk_fini(&fk);
}

int main(void)
{
	test_inflight_file();
	test_names();
	test_ring_state();
	test_set_config();
	return tap_done();
}
