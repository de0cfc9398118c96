// SPDX-License-Identifier: GPL-2.0
/*
 * kreset: regression tests of kernel/vduse.ko for issue 7 items 5 and 8
 * (item 4, reset re-binding groups, is in vhost_asid and libasid, where
 * each implementation's behaviour is recorded). One scenario per argument;
 * the suite (tests/vm/suites/kreset.sh) loads what each needs:
 *
 *   kreset --impl upstream|stock612|ours SCENARIO
 *
 *   kreset cvq      vhost_vdpa: the CVQ stays alone in its group while the
 *                   device is on the vDPA bus (VQ_SETUP, SET_CONFIG)
 *   kreset names    CREATE_DEV refuses names of the class device's sysfs
 *                   entries (the vDPA device is created beside them)
 *   kreset wakeup   vhost_vdpa: a request put back after a reader's failed
 *                   copy wakes the next reader
 *   kreset mem      the per-queue memory of a device with many queues is
 *                   small and charged to the creator's memory cgroup
 *
 * names and wakeup also run on upstream 7.x, to record its behaviour
 * (expect_tab); cvq and mem are about our module only.
 */
#define _GNU_SOURCE
#include <stddef.h>
#include <sys/mman.h>
#include "tap.h"
#include "vduse_test.h"
#include "vhost_vdpa_client.h"

#define BIT(n) (1ull << (n))

static const struct expect {
	const char *name;
	int names_refused;	/* CREATE_DEV refuses the sysfs entries' names */
	int wakeup_next;	/* a re-queued request wakes the next reader */
} expect_tab[] = {
	/* measured on 7.2.13 (docs/uapi.md) */
	[IMPL_UPSTREAM] = { "upstream", 0, 0 },
	[IMPL_STOCK612] = { "stock612", 0, 0 },
	[IMPL_OURS] = { "ours", 1, 1 },
};

static const struct expect *X;

static const char *const all_names[] = { "kr-cvq", "kr-mq", "kr-wake", "kr-mem", "vq", "powerx" };

static void cleanup_all(int ctl)
{
	char path[300];
	size_t i;

	for (i = 0; i < sizeof(all_names) / sizeof(all_names[0]); i++) {
		snprintf(path, sizeof(path), "/sys/bus/vdpa/devices/%s", all_names[i]);
		if (access(path, F_OK) == 0)
			vdpa_del(all_names[i]);
		snprintf(path, sizeof(path), "/dev/vduse/%s", all_names[i]);
		if (access(path, F_OK) == 0)
			dev_destroy(ctl, all_names[i]);
	}
}

static int setup_vqs(int fd, const uint32_t *groups, uint32_t n)
{
	struct vduse_vq_config vq;
	uint32_t i;

	for (i = 0; i < n; i++) {
		memset(&vq, 0, sizeof(vq));
		vq.index = i;
		vq.max_size = 64;
		vq.group = groups[i];
		if (ioctl(fd, VDUSE_VQ_SETUP, &vq))
			return -errno;
	}
	return 0;
}

static int vq_group(int fd, uint32_t idx, uint32_t group)
{
	struct vduse_vq_config vq = { .index = idx, .max_size = 64, .group = group };

	return ioctl(fd, VDUSE_VQ_SETUP, &vq);
}

/* SET_CONFIG of LEN bytes of DATA at OFF. */
static int set_config(int fd, uint32_t off, const void *data, uint32_t len)
{
	union {
		struct vduse_config_data d;
		struct {
			FLEX_HEAD(struct vduse_config_data);
			uint8_t buf[256];
		};
	} c;

	memset(&c, 0, sizeof(c));
	c.d.offset = off;
	c.d.length = len;
	memcpy(c.d.buffer, data, len);
	return ioctl(fd, VDUSE_DEV_SET_CONFIG, &c);
}

static int set_pairs(int fd, uint16_t pairs)
{
	return set_config(fd, offsetof(struct virtio_net_config, max_virtqueue_pairs), &pairs, 2);
}

/* A v1 net device with CTRL_VQ (and FEATURES) whose queues are in GROUPS. */
static int net_dev(int ctl, const char *name, uint32_t nvqs, const uint32_t *groups, uint64_t features,
		   uint16_t pairs, int *fd)
{
	struct devcfg cfg;

	net_cfg(&cfg, name, nvqs, 2, 2);
	cfg.c.features |= BIT(VIRTIO_NET_F_CTRL_VQ) | features;
	cfg.net.max_virtqueue_pairs = pairs;
	if (ioctl(ctl, VDUSE_CREATE_DEV, &cfg))
		return -errno;
	*fd = dev_open(name);
	if (*fd < 0)
		return -errno;
	return setup_vqs(*fd, groups, nvqs);
}

/*
 * Item 5: "a CVQ offered to vhost-vdpa is alone in its group" must hold for
 * as long as the vDPA device exists. VQ_SETUP and SET_CONFIG changes that
 * would break it are refused with EBUSY; changes that keep it are allowed.
 */
static void test_cvq(int ctl)
{
	static const uint32_t g3[3] = { 0, 0, 1 };
	/* vq 4 (the CVQ with 2 pairs) shares group 1 with vq 2 */
	static const uint32_t g5[5] = { 0, 0, 1, 0, 1 };
	struct responder r;
	uint16_t mtu = 9000;
	int fd = -1, fd2 = -1;

	TAP_EQ(net_dev(ctl, "kr-cvq", 3, g3, 0, 0, &fd), 0, "cvq: net device, vq 2 (the CVQ) alone in group 1");
	if (fd < 0)
		return;
	responder_start(&r, fd);
	TAP_EQ(vdpa_add("kr-cvq"), 0, "cvq: vdpa dev add");
	TAP_ERRNO(vq_group(fd, 1, 1), EBUSY, "cvq: on the bus, VQ_SETUP moving data vq 1 into the CVQ's group: EBUSY");
	TAP_ERRNO(vq_group(fd, 2, 0), EBUSY, "cvq: on the bus, VQ_SETUP moving the CVQ into group 0: EBUSY");
	TAP_SYS(vq_group(fd, 2, 1), "cvq: on the bus, VQ_SETUP keeping the CVQ's group: allowed");
	TAP_SYS(vq_group(fd, 0, 0), "cvq: on the bus, VQ_SETUP keeping a data vq's group: allowed");
	TAP_EQ(vdpa_del("kr-cvq"), 0, "cvq: vdpa dev del");
	TAP_SYS(vq_group(fd, 1, 1), "cvq: off the bus, VQ_SETUP may regroup freely");
	TAP_SYS(vq_group(fd, 1, 0), "cvq: ... and back");
	responder_stop(&r);
	close(fd);
	TAP_SYS(dev_destroy(ctl, "kr-cvq"), "cvq: DESTROY_DEV");

	TAP_EQ(net_dev(ctl, "kr-mq", 5, g5, BIT(VIRTIO_NET_F_MQ), 1, &fd2), 0,
	       "cvq: MQ net device, 1 pair: the CVQ is vq 2, alone among vqs 0-2");
	if (fd2 < 0)
		return;
	responder_start(&r, fd2);
	TAP_EQ(vdpa_add("kr-mq"), 0, "cvq: MQ device: vdpa dev add");
	TAP_ERRNO(set_pairs(fd2, 2), EBUSY,
		  "cvq: on the bus, SET_CONFIG max_virtqueue_pairs 2 (the CVQ would be vq 4, sharing group 1): EBUSY");
	TAP_ERRNO(set_pairs(fd2, 0), EBUSY, "cvq: on the bus, SET_CONFIG max_virtqueue_pairs 0: EBUSY");
	TAP_ERRNO(set_pairs(fd2, 3), EBUSY, "cvq: on the bus, SET_CONFIG max_virtqueue_pairs 3 (no vq 6): EBUSY");
	{
		struct virtio_net_config nc;

		memset(&nc, 0, sizeof(nc));
		nc.mtu = 1500;
		nc.max_virtqueue_pairs = 2;
		TAP_ERRNO(set_config(fd2, 0, &nc, sizeof(nc)), EBUSY,
			  "cvq: on the bus, a whole-config SET_CONFIG with 2 pairs: EBUSY");
		nc.max_virtqueue_pairs = 1;
		TAP_SYS(set_config(fd2, 0, &nc, sizeof(nc)), "cvq: ... the same with 1 pair: allowed");
	}
	TAP_SYS(set_pairs(fd2, 1), "cvq: on the bus, SET_CONFIG max_virtqueue_pairs 1 (unchanged): allowed");
	TAP_SYS(set_config(fd2, offsetof(struct virtio_net_config, mtu), &mtu, 2),
		"cvq: on the bus, SET_CONFIG of another field (mtu): allowed");
	TAP_SYS(vq_group(fd2, 3, 1), "cvq: on the bus, VQ_SETUP vq 3 into group 1 (above the CVQ at 1 pair): allowed");
	TAP_ERRNO(vq_group(fd2, 1, 1), EBUSY, "cvq: on the bus, VQ_SETUP vq 1 into group 1: EBUSY");
	TAP_EQ(vdpa_del("kr-mq"), 0, "cvq: MQ device: vdpa dev del");
	TAP_SYS(set_pairs(fd2, 2), "cvq: off the bus, SET_CONFIG max_virtqueue_pairs 2: allowed");
	TAP_OK(vdpa_add("kr-mq") != 0, "cvq: ... and then vdpa dev add refuses the device", " ");
	responder_stop(&r);
	close(fd2);
	TAP_SYS(dev_destroy(ctl, "kr-mq"), "cvq: MQ device: DESTROY_DEV");
}

/*
 * Item 8: the vDPA device "NAME" is created inside the class device
 * /sys/devices/virtual/vduse/NAME, beside its attributes and vqN
 * directories; a name equal to one of those is refused at CREATE_DEV.
 */
static void test_names(int ctl)
{
	static const char *const bad[] = {
		"vq0", "vq1", "vq65534", "power", "subsystem", "uevent", "dev", "msg_timeout", "bounce_size",
	};
	static const char *const good[] = { "vq", "powerx" };
	struct devcfg cfg;
	char nm[200];
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		blk_cfg(&cfg, bad[i], 2, 1, 1);
		if (X->names_refused) {
			snprintf(nm, sizeof(nm), "names: CREATE_DEV \"%s\" (a sysfs entry of the device): EINVAL",
				 bad[i]);
			TAP_ERRNO(ioctl(ctl, VDUSE_CREATE_DEV, &cfg), EINVAL, nm);
		} else {
			/* never added to the bus here: the collision would WARN */
			snprintf(nm, sizeof(nm), "names: CREATE_DEV \"%s\" is accepted by this implementation",
				 bad[i]);
			TAP_SYS(ioctl(ctl, VDUSE_CREATE_DEV, &cfg), nm);
		}
		snprintf(nm, sizeof(nm), "/dev/vduse/%s", bad[i]);
		if (access(nm, F_OK) == 0)
			dev_destroy(ctl, bad[i]);
	}
	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		blk_cfg(&cfg, good[i], 2, 1, 1);
		snprintf(nm, sizeof(nm), "names: CREATE_DEV \"%s\" is fine", good[i]);
		TAP_SYS(ioctl(ctl, VDUSE_CREATE_DEV, &cfg), nm);
		dev_destroy(ctl, good[i]);
	}
}

struct reader {
	pthread_t th;
	int fd;
	void *buf;
	ssize_t ret;
	int err;
	int done;	/* __atomic */
};

static void *reader_main(void *arg)
{
	struct reader *rd = arg;

	rd->ret = read(rd->fd, rd->buf, sizeof(struct vduse_dev_request));
	rd->err = errno;
	__atomic_store_n(&rd->done, 1, __ATOMIC_RELEASE);
	return NULL;
}

static int reader_wait(struct reader *rd, int ms)
{
	double end = now_s() + ms / 1000.0;

	while (!__atomic_load_n(&rd->done, __ATOMIC_ACQUIRE) && now_s() < end)
		msleep_(5);
	return __atomic_load_n(&rd->done, __ATOMIC_ACQUIRE);
}

/*
 * Item 8: two readers block on the device fd; the first one woken fails to
 * copy the request out (EFAULT: its buffer is not mapped) and the request
 * goes back in line. The second reader must get it, at once, not after the
 * sender's msg_timeout. Runs in a child: on a kernel with the defect the
 * second reader stays blocked for good.
 */
static void wakeup_child(const char *vpath)
{
	struct vhost_vring_state st = { .index = 0 };
	struct vduse_dev_request req;
	struct vduse_dev_response resp;
	struct reader a, b;
	struct async_ioctl call;
	struct responder r;
	void *bad;
	int fd, vh, fl;

	fd = dev_open("kr-wake");
	if (fd < 0) {
		TAP_OK(0, "wakeup: open the device", "%s", strerror(errno));
		return;
	}
	responder_start(&r, fd);
	vh = vh_open(vpath);
	TAP_SYS(vh, "wakeup: open vhost-vdpa");
	if (vh < 0)
		return;
	responder_pause(&r);
	fl = fcntl(fd, F_GETFL);
	fcntl(fd, F_SETFL, fl & ~O_NONBLOCK);
	bad = mmap(NULL, 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	memset(&a, 0, sizeof(a));
	memset(&b, 0, sizeof(b));
	a.fd = b.fd = fd;
	a.buf = bad;
	b.buf = &req;
	pthread_create(&a.th, NULL, reader_main, &a);
	msleep_(300);		/* a waits first, so a is woken first */
	pthread_create(&b.th, NULL, reader_main, &b);
	msleep_(300);
	async_ioctl_start(&call, vh, VHOST_GET_VRING_BASE, &st);
	TAP_OK(reader_wait(&a, 3000) && a.ret < 0 && a.err == EFAULT,
	       "wakeup: the first reader's copy fails with EFAULT", "done %d ret %zd errno %d",
	       a.done, a.ret, a.err);
	if (X->wakeup_next)
		TAP_OK(reader_wait(&b, 2000) && b.ret == sizeof(req) && req.type == VDUSE_GET_VQ_STATE,
		       "wakeup: the second reader gets the request put back, at once",
		       "done %d ret %zd type %u", b.done, b.ret, req.type);
	else
		TAP_OK(!reader_wait(&b, 2000), "wakeup: the second reader is not woken (this implementation)",
		       "done %d ret %zd type %u", b.done, b.ret, req.type);
	if (b.done) {
		memset(&resp, 0, sizeof(resp));
		resp.request_id = req.request_id;
		resp.vq_state.split.avail_index = 7;
		TAP_EQ(write(fd, &resp, sizeof(resp)), sizeof(resp), "wakeup: answer it");
		TAP_OK(async_ioctl_wait(&call, 3000) == 0 && call.ret == 0 && st.num == 7,
		       "wakeup: the consumer's call completes with the answer", "ret %ld errno %d num %u",
		       call.ret, call.err, st.num);
	}
	fcntl(fd, F_SETFL, fl);
	responder_resume(&r, fd);
	close(vh);
	fflush(stdout);
	/* with the defect, reader b is still blocked: leave without joining */
}

static void test_wakeup(int ctl)
{
	static const uint32_t g[1] = { 0 };
	struct devcfg cfg;
	char vpath[300];
	pid_t pid;
	int st, fd;

	blk_cfg(&cfg, "kr-wake", 1, 1, 1);
	TAP_SYS(ioctl(ctl, VDUSE_CREATE_DEV, &cfg), "wakeup: CREATE_DEV");
	fd = dev_open("kr-wake");
	TAP_EQ(setup_vqs(fd, g, 1), 0, "wakeup: VQ_SETUP");
	close(fd);
	sysfs_write("kr-wake", "msg_timeout", "4");
	TAP_EQ(vdpa_add("kr-wake"), 0, "wakeup: vdpa dev add (vhost_vdpa)");
	if (vhost_path("kr-wake", vpath, sizeof(vpath))) {
		TAP_OK(0, "wakeup: vhost-vdpa node", " ");
		return;
	}
	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		wakeup_child(vpath);
		_exit(tap_failed ? 1 : 0);
	}
	waitpid(pid, &st, 0);
	TAP_OK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "wakeup: every check of the child passed", "status 0x%x", st);
	TAP_EQ(vdpa_del("kr-wake"), 0, "wakeup: vdpa dev del");
	TAP_SYS(dev_destroy(ctl, "kr-wake"), "wakeup: DESTROY_DEV");
}

static long long meminfo(const char *key)
{
	char line[200];
	long long v = -1;
	size_t n = strlen(key);
	FILE *f = fopen("/proc/meminfo", "r");

	while (f && fgets(line, sizeof(line), f))
		if (!strncmp(line, key, n) && line[n] == ':')
			v = strtoll(line + n + 1, NULL, 10) * 1024;
	if (f)
		fclose(f);
	return v;
}

/* memory.current of this process's cgroup (v2), or -1. */
static long long cg_current(void)
{
	char line[300], path[400];
	long long v = -1;
	FILE *f = fopen("/proc/self/cgroup", "r");

	if (!f)
		return -1;
	path[0] = 0;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, "0::", 3)) {
			line[strcspn(line, "\n")] = 0;
			snprintf(path, sizeof(path), "/sys/fs/cgroup%s/memory.current", line + 3);
		}
	fclose(f);
	if (!path[0] || !(f = fopen(path, "r")))
		return -1;
	if (fscanf(f, "%lld", &v) != 1)
		v = -1;
	fclose(f);
	return v;
}

/*
 * Item 8: a queue used to embed a whole cpumask (1 KiB with NR_CPUS 8192),
 * so 0xffff queues took ~128 MiB that no cgroup was charged for. Now the
 * mask is allocated only when written, and the queues are charged.
 */
static void test_mem(int ctl)
{
	const uint32_t n = 16384;
	long long s0, s1, c0, c1;
	struct devcfg cfg;
	char mask[64];
	int fd, afd;
	ssize_t k;

	blk_cfg(&cfg, "kr-mem", n, 1, 1);
	s0 = meminfo("Slab");
	c0 = cg_current();
	TAP_SYS(ioctl(ctl, VDUSE_CREATE_DEV, &cfg), "mem: CREATE_DEV with 16384 queues");
	s1 = meminfo("Slab");
	c1 = cg_current();
	tap_diag("mem: slab +%lld bytes, cgroup +%lld bytes for %u queues", s1 - s0, c1 - c0, n);
	/*
	 * Measured on Debian's 6.12 (NR_CPUS 8192): 2372 bytes per queue with
	 * the embedded mask, 585 without (sysfs nodes included). The bound
	 * leaves room for a debug kernel's larger locks and KASAN redzones.
	 */
	TAP_OK(s0 > 0 && s1 - s0 < 1800ll * n, "mem: less than 1800 bytes of slab per queue",
	       "%lld bytes per queue", (s1 - s0) / n);
	/* measured: 0 before, 272 after (the queue and its pointer) */
	if (c0 < 0)
		tap_result(1, "mem: the queues are charged to the creator's cgroup # SKIP no memory cgroup", NULL);
	else
		TAP_OK(c1 - c0 >= 128ll * n,
		       "mem: the queues are charged to the creator's cgroup (128 bytes or more per queue)",
		       "%lld bytes per queue charged", (c1 - c0) / n);

	/* the affinity still reads all CPUs until written, and keeps what is written */
	afd = open("/sys/class/vduse/kr-mem/vq16383/irq_cb_affinity", O_RDWR);
	k = afd >= 0 ? pread(afd, mask, sizeof(mask) - 1, 0) : -1;
	mask[k > 0 ? k : 0] = 0;
	TAP_OK(k > 0 && mask[0] && strchr("13", mask[0]), "mem: vq16383/irq_cb_affinity reads every CPU by default",
	       "'%s'", mask);
	k = afd >= 0 ? pwrite(afd, "1\n", 2, 0) : -1;
	TAP_EQ(k, 2, "mem: write CPU 0 only to vq16383/irq_cb_affinity");
	k = afd >= 0 ? pread(afd, mask, sizeof(mask) - 1, 0) : -1;
	mask[k > 0 ? k : 0] = 0;
	TAP_OK(k > 0 && !strcmp(mask, "1\n"), "mem: ... and it reads back 1", "'%s'", mask);
	if (afd >= 0)
		close(afd);
	fd = dev_open("kr-mem");
	if (fd >= 0)
		close(fd);
	TAP_SYS(dev_destroy(ctl, "kr-mem"), "mem: DESTROY_DEV");
}

int main(int argc, char **argv)
{
	int ctl;

	enum impl impl;

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc != 4 || strcmp(argv[1], "--impl") || impl_parse(argv[2], &impl)) {
		fprintf(stderr, "usage: kreset --impl upstream|stock612|ours cvq|names|wakeup|mem\n");
		return 2;
	}
	X = &expect_tab[impl];
	argv += 2;
	ctl = ctl_open();
	TAP_SYS(ctl, "open /dev/vduse/control");
	if (ctl < 0)
		return tap_done();
	ctl_set_version(ctl, 1);
	cleanup_all(ctl);
	if (!strcmp(argv[1], "cvq"))
		test_cvq(ctl);
	else if (!strcmp(argv[1], "names"))
		test_names(ctl);
	else if (!strcmp(argv[1], "wakeup"))
		test_wakeup(ctl);
	else if (!strcmp(argv[1], "mem"))
		test_mem(ctl);
	else
		TAP_OK(0, "known scenario", "%s", argv[1]);
	cleanup_all(ctl);
	close(ctl);
	return tap_done();
}
