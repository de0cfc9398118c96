// SPDX-License-Identifier: GPL-2.0
/*
 * libasid: a libvduse device with two virtqueue groups and two address
 * spaces, driven through vhost-vdpa the way a CVQ-shadowing consumer drives
 * one (vhost-vdpa-cvq.md §4): vq 2 sits alone in group 1, which the consumer
 * binds to ASID 1 before DRIVER_OK; its ring and buffers live in ASID 1 at
 * the very IOVAs where vq 0's ring and buffers live in ASID 0.
 *
 *   libasid [--impl upstream|stock612|ours] [--expect-v0-only] NAME
 *
 * The device (public API only) answers each buffer with the bytes it read,
 * inverted, tagged with its queue index and the ASID the library says the
 * queue uses. The test checks that each answer lands in the right memory,
 * that remapping ASID 1 is followed, that a refused group change fails in
 * the consumer, what a reset does to the binding, and (with
 * --expect-v0-only, on a v0-only kernel) that the library refuses the
 * device with -EOPNOTSUPP.
 *
 * Reset, per implementation (vduse-v1.md §3.10, §5f; docs/uapi.md): ours
 * returns group 1 to ASID 0 and tells the device, so the library follows and
 * a consumer that maps the CVQ's ring in ASID 0 after the reset without
 * re-binding (QEMU's switch at migration start) is served; upstream keeps
 * the binding and sends nothing, and the library keeps its view too.
 */
#include <poll.h>
#include <pthread.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <linux/virtio_ring.h>
#include "vduse/libvduse.h"
#include "tap.h"
#include "vduse_test.h"
#include "vhost_vdpa_client.h"

#define MEMSZ	0x10000
#define IOVA	0x100000ull
#define RING	IOVA			/* desc 8*16, avail at +0x100, used at +0x200 */
#define CMD	(IOVA + 0x1000)
#define RESP	(IOVA + 0x2000)
#define QN	8

static volatile int stop;
static volatile int refuse_asid;
static int asid_calls, last_group = -1, last_asid = -1, stopped_calls;

static void log_cb(void *user, enum vduse_log_level lvl, const char *msg)
{
	printf("# libvduse[%d]: %s\n", lvl, msg);
}

static int on_group_asid(struct vduse_dev *dev, uint32_t group, uint32_t asid, void *user)
{
	asid_calls++;
	last_group = group;
	last_asid = asid;
	return refuse_asid ? -EBUSY : 0;
}

static void on_stopped(struct vduse_dev *dev, void *user)
{
	stopped_calls++;
}

/* Answer: "vqN asidA:" followed by the command bytes inverted. */
static void on_kick(struct vduse_dev *dev, struct vduse_vq *vq, void *user)
{
	struct vduse_req *req;
	uint8_t in[256], out[300];
	size_t n, i;
	int hdr;

	while (vduse_vq_pop(vq, &req) == 1) {
		n = vduse_req_read(req, 0, in, sizeof(in));
		hdr = snprintf((char *)out, sizeof(out), "vq%u asid%u:", vduse_vq_index(vq),
			       vduse_vq_asid(vq));
		for (i = 0; i < n && hdr + i < sizeof(out); i++)
			out[hdr + i] = ~in[i];
		vduse_vq_push(req, vduse_req_write(req, 0, out, hdr + i));
	}
	vduse_vq_notify(vq);
}

static void *loop(void *arg)
{
	while (!stop)
		if (vduse_dev_run_once(arg, 100) < 0)
			break;
	return NULL;
}

/* Consumer-side memory of one address space (a memfd, like guest RAM). */
static uint8_t *mem_new(void)
{
	int fd = memfd_create("libasid", 0);
	void *p = MAP_FAILED;

	if (fd >= 0 && ftruncate(fd, MEMSZ) == 0)
		p = mmap(NULL, MEMSZ, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (fd >= 0)
		close(fd);
	if (p == MAP_FAILED) {
		perror("mem");
		exit(2);
	}
	memset(p, 0, MEMSZ);
	return p;
}

#define AT(m, iova) ((m) + ((iova) - IOVA))

/* Driver side: post one command (readable) + response (writable) chain. */
static void post(uint8_t *m, uint16_t *avail_idx, const char *cmd)
{
	struct vring_desc *d = (struct vring_desc *)AT(m, RING);
	struct vring_avail *a = (struct vring_avail *)AT(m, RING + 0x100);
	uint16_t slot = (*avail_idx * 2) % QN;

	strcpy((char *)AT(m, CMD), cmd);
	memset(AT(m, RESP), 0, 300);
	d[slot] = (struct vring_desc){ .addr = CMD, .len = strlen(cmd), .flags = VRING_DESC_F_NEXT,
				       .next = slot + 1 };
	d[slot + 1] = (struct vring_desc){ .addr = RESP, .len = 300, .flags = VRING_DESC_F_WRITE };
	a->ring[*avail_idx % QN] = slot;
	__atomic_store_n(&a->idx, ++*avail_idx, __ATOMIC_RELEASE);
}

/* Kick, wait for the interrupt, check the used length and the answer. */
static void roundtrip(int kick, int call, uint8_t *m, uint16_t *avail_idx, const char *cmd,
		      const char *tag, const char *what)
{
	struct vring_used *u = (struct vring_used *)AT(m, RING + 0x200);
	uint8_t want[300];
	size_t hdr = strlen(tag), n = strlen(cmd), i;
	uint64_t one = 1;
	char name[200];
	int ok;

	post(m, avail_idx, cmd);
	if (write(kick, &one, 8) != 8)
		perror("kick");
	struct pollfd p = { .fd = call, .events = POLLIN };

	snprintf(name, sizeof(name), "%s: interrupt through vhost-vdpa", what);
	TAP_EQ(poll(&p, 1, 10000), 1, name);
	if (read(call, &one, 8) != 8)
		one = 0;
	memcpy(want, tag, hdr);
	for (i = 0; i < n; i++)
		want[hdr + i] = ~(uint8_t)cmd[i];
	ok = __atomic_load_n(&u->idx, __ATOMIC_ACQUIRE) == *avail_idx &&
	     u->ring[(*avail_idx - 1) % QN].len == hdr + n;
	snprintf(name, sizeof(name), "%s: used element with the answer's length", what);
	TAP_OK(ok, name, "used idx %u (want %u) len %u (want %zu)", u->idx, *avail_idx,
	       u->ring[(*avail_idx - 1) % QN].len, hdr + n);
	snprintf(name, sizeof(name), "%s: answer '%s...' in this address space's memory", what, tag);
	TAP_OK(!memcmp(AT(m, RESP), want, hdr + n), name, "got '%.*s'", (int)hdr,
	       (char *)AT(m, RESP));
}

static int vring_setup(int vh, unsigned int idx, int kick, int call)
{
	struct vhost_vring_state num = { .index = idx, .num = QN };
	struct vhost_vring_state base = { .index = idx, .num = 0 };
	struct vhost_vring_addr addr = { .index = idx, .desc_user_addr = RING,
					 .avail_user_addr = RING + 0x100,
					 .used_user_addr = RING + 0x200 };
	struct vhost_vring_file k = { .index = idx, .fd = kick }, c = { .index = idx, .fd = call };
	struct vhost_vring_state en = { .index = idx, .num = 1 };

	if (ioctl(vh, VHOST_SET_VRING_NUM, &num) || ioctl(vh, VHOST_SET_VRING_ADDR, &addr) ||
	    ioctl(vh, VHOST_SET_VRING_BASE, &base) || ioctl(vh, VHOST_SET_VRING_KICK, &k) ||
	    ioctl(vh, VHOST_SET_VRING_CALL, &c) || ioctl(vh, VHOST_VDPA_SET_VRING_ENABLE, &en))
		return -1;
	return 0;
}

/*
 * QEMU's switch at migration start (vhost-vdpa-cvq.md §6.1): after the reset
 * it maps the CVQ's shadow ring in ASID 0 and starts the device without
 * SET_GROUP_ASID. The library must serve vq 2 through ASID 0.
 */
static void restart_in_asid0(int vh, struct vduse_dev *dev, int kick2, int call2)
{
	uint8_t *sh = mem_new();
	uint64_t features = (1ull << VIRTIO_F_VERSION_1) | (1ull << VIRTIO_F_ACCESS_PLATFORM);
	uint16_t av = 0;

	vh_set_status(vh, VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER);
	TAP_SYS(ioctl(vh, VHOST_SET_FEATURES, &features), "restart: SET_FEATURES");
	vh_set_status(vh, VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER |
		      VIRTIO_CONFIG_S_FEATURES_OK);
	TAP_EQ(vh_unmap(vh, 0, IOVA, MEMSZ), 0, "restart: unmap the guest memory from ASID 0");
	TAP_EQ(vh_map(vh, 0, IOVA, MEMSZ, sh, VHOST_ACCESS_RW), 0,
	       "restart: map the CVQ's new shadow memory in ASID 0, no SET_GROUP_ASID");
	TAP_EQ(vring_setup(vh, 2, kick2, call2), 0, "restart: vq 2's ring in ASID 0");
	vh_set_status(vh, VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER |
		      VIRTIO_CONFIG_S_FEATURES_OK | VIRTIO_CONFIG_S_DRIVER_OK);
	TAP_OK(vh_get_status(vh) & VIRTIO_CONFIG_S_DRIVER_OK, "restart: DRIVER_OK accepted", " ");
	TAP_EQ(vduse_vq_asid(vduse_dev_vq(dev, 2)), 0, "restart: library: vq 2 resolves through ASID 0");
	roundtrip(kick2, call2, sh, &av, "shadow control command", "vq2 asid0:",
		  "restart: vq 2 served in ASID 0");
	munmap(sh, MEMSZ);
}

int main(int argc, char **argv)
{
	static const uint32_t groups[3] = { 0, 0, 1 };
	struct virtio_blk_config cfg = { .capacity = 2048 };
	struct vduse_dev *dev = NULL;
	const char *name = argv[argc - 1];
	int expect_v0_only = 0, rebinds = 0;
	int kick0 = eventfd(0, EFD_CLOEXEC), call0 = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	int kick2 = eventfd(0, EFD_CLOEXEC), call2 = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	uint8_t *guest = mem_new(), *shadow = mem_new(), *shadow2 = mem_new();
	uint16_t av0 = 0, av2 = 0;
	uint64_t features;
	char vpath[300];
	pthread_t th;
	int vh, ret;

	setvbuf(stdout, NULL, _IOLBF, 0);
	for (int i = 1; i < argc - 1; i++) {
		if (!strcmp(argv[i], "--expect-v0-only"))
			expect_v0_only = 1;
		else if (!strcmp(argv[i], "--impl") && i + 1 < argc - 1)
			rebinds = !strcmp(argv[++i], "ours");	/* §5f */
	}
	LIBVDUSE_OPTS(vduse_dev_opts, o, .name = name, .device_id = VIRTIO_ID_BLOCK,
		      .features = 1ull << VIRTIO_F_VERSION_1, .config = &cfg,
		      .config_size = sizeof(cfg), .num_queues = 3, .queue_size = 64,
		      .ngroups = 2, .nas = 2, .queue_group = groups, .queue_kick = on_kick,
		      .group_asid = on_group_asid, .stopped = on_stopped, .log = log_cb,
		      .log_level = VDUSE_LOG_WARN);

	ret = vduse_dev_create(&o, &dev);
	if (expect_v0_only) {
		TAP_EQ(ret, -EOPNOTSUPP, "2 groups / 2 ASes on a v0-only kernel: -EOPNOTSUPP");
		TAP_OK(access("/dev/vduse/", F_OK) != 0 || run_cmd("test ! -e /dev/vduse/%s", name) == 0,
		       "no device left behind", " ");
		return tap_done();
	}
	TAP_EQ(ret, 0, "create a 3-queue device, vq 2 alone in group 1, 2 ASes");
	if (ret)
		return tap_done();
	TAP_EQ(vduse_dev_api_version(dev), 1, "API v1");
	pthread_create(&th, NULL, loop, dev);

	TAP_EQ(vdpa_add(name), 0, "vdpa dev add (bound to vhost-vdpa)");
	TAP_EQ(vhost_path(name, vpath, sizeof(vpath)), 0, "vhost-vdpa device node");
	vh = vh_open(vpath);
	TAP_SYS(vh, "open vhost-vdpa, backend features MSG_V2|BATCH|ASID");
	if (vh < 0)
		goto out;
	TAP_EQ(vh_vring_group(vh, 2), 1, "GET_VRING_GROUP(vq 2) = 1");
	TAP_EQ(vh_vring_group(vh, 0), 0, "GET_VRING_GROUP(vq 0) = 0");

	/* status and features, as a consumer starts a device */
	vh_set_status(vh, VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER);
	TAP_SYS(ioctl(vh, VHOST_GET_FEATURES, &features), "GET_FEATURES");
	features &= (1ull << VIRTIO_F_VERSION_1) | (1ull << VIRTIO_F_ACCESS_PLATFORM);
	TAP_SYS(ioctl(vh, VHOST_SET_FEATURES, &features), "SET_FEATURES");
	vh_set_status(vh, VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER |
		      VIRTIO_CONFIG_S_FEATURES_OK);

	/* the same IOVA range means different memory in each ASID */
	TAP_EQ(vh_map(vh, 0, IOVA, MEMSZ, guest, VHOST_ACCESS_RW), 0, "map guest memory in ASID 0");
	TAP_EQ(vh_set_group_asid(vh, 1, 1), 0, "SET_GROUP_ASID(group 1 -> ASID 1) before DRIVER_OK");
	TAP_OK(asid_calls == 1 && last_group == 1 && last_asid == 1,
	       "the device's group_asid callback saw (1, 1)", "%d calls, (%d, %d)", asid_calls,
	       last_group, last_asid);
	TAP_EQ(vduse_dev_group_asid(dev, 1), 1, "library: group 1 on ASID 1");
	TAP_EQ(vduse_vq_asid(vduse_dev_vq(dev, 2)), 1, "library: vq 2 resolves through ASID 1");
	TAP_EQ(vh_map(vh, 1, IOVA, MEMSZ, shadow, VHOST_ACCESS_RW), 0,
	       "map the consumer's shadow memory in ASID 1 at the same IOVA");
	TAP_EQ(vring_setup(vh, 0, kick0, call0), 0, "vq 0: ring in ASID 0, kick, call, enable");
	TAP_EQ(vring_setup(vh, 2, kick2, call2), 0, "vq 2: ring in ASID 1, kick, call, enable");
	vh_set_status(vh, VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER |
		      VIRTIO_CONFIG_S_FEATURES_OK | VIRTIO_CONFIG_S_DRIVER_OK);
	TAP_OK(vh_get_status(vh) & VIRTIO_CONFIG_S_DRIVER_OK, "DRIVER_OK accepted", " ");

	roundtrip(kick0, call0, guest, &av0, "data-queue command", "vq0 asid0:", "vq 0 (ASID 0)");
	roundtrip(kick2, call2, shadow, &av2, "control command", "vq2 asid1:", "vq 2 (ASID 1)");
	TAP_OK(memcmp(AT(guest, RESP), "vq2", 3) != 0, "vq 2's answer did not touch ASID 0 memory",
	       " ");
	roundtrip(kick0, call0, guest, &av0, "second data command", "vq0 asid0:", "vq 0 again");

	/* the consumer moves its shadow area: unmap and map other memory in ASID 1 */
	memcpy(shadow2, shadow, MEMSZ);
	TAP_EQ(vh_unmap(vh, 1, IOVA, MEMSZ), 0, "unmap ASID 1");
	TAP_EQ(vh_map(vh, 1, IOVA, MEMSZ, shadow2, VHOST_ACCESS_RW), 0, "map new memory in ASID 1");
	memset(AT(shadow, RESP), 0, 300);
	roundtrip(kick2, call2, shadow2, &av2, "after remap", "vq2 asid1:", "vq 2 after ASID 1 remap");
	TAP_OK(AT(shadow, RESP)[0] == 0, "old ASID 1 memory no longer used", " ");
	roundtrip(kick0, call0, guest, &av0, "data after remap", "vq0 asid0:",
		  "vq 0 unaffected by the ASID 1 update");

	/* reset: where group 1 goes depends on the kernel (§3.10, §5f) */
	vh_set_status(vh, 0);
	TAP_OK(stopped_calls >= 1, "reset stops the data path", "%d", stopped_calls);
	if (rebinds) {
		TAP_OK(asid_calls == 2 && last_group == 1 && last_asid == 0,
		       "reset: the device's group_asid callback saw (1, 0)", "%d calls, (%d, %d)",
		       asid_calls, last_group, last_asid);
		TAP_EQ(vduse_dev_group_asid(dev, 1), 0, "library: group 1 back on ASID 0 after reset");
		restart_in_asid0(vh, dev, kick2, call2);
		vh_set_status(vh, 0);
		TAP_EQ(asid_calls, 2, "a reset with every group on ASID 0 re-binds nothing");
		TAP_EQ(vh_set_group_asid(vh, 1, 1), 0, "SET_GROUP_ASID(group 1 -> ASID 1) again");
	} else {
		TAP_EQ(asid_calls, 1, "reset: no group_asid callback (this kernel keeps bindings)");
		TAP_EQ(vduse_dev_group_asid(dev, 1), 1, "library: group 1 still on ASID 1 after reset");
	}

	/* a group change the device refuses fails in the consumer */
	refuse_asid = 1;
	errno = 0;
	ret = vh_set_group_asid(vh, 1, 0);
	TAP_OK(ret < 0 && errno == EIO, "SET_GROUP_ASID refused by the device: EIO",
	       "ret %d errno %d", ret, errno);
	TAP_EQ(vduse_dev_group_asid(dev, 1), 1, "binding unchanged after the refusal");
	refuse_asid = 0;
	TAP_EQ(vh_set_group_asid(vh, 1, 0), 0, "SET_GROUP_ASID(group 1 -> ASID 0) accepted");
	TAP_EQ(vduse_vq_asid(vduse_dev_vq(dev, 2)), 0, "library: vq 2 back on ASID 0");
	close(vh);
out:
	TAP_EQ(vdpa_del(name), 0, "vdpa dev del");
	stop = 1;
	pthread_join(th, NULL);
	TAP_EQ(vduse_dev_destroy(dev), 0, "vduse_dev_destroy");
	return tap_done();
}
