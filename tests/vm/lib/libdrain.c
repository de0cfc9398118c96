// SPDX-License-Identifier: GPL-2.0
/*
 * libdrain: deferred replies (libvduse 0.3) on a real kernel. A libvduse
 * device, driven through vhost-vdpa, holds a request "in flight" (as a
 * device with io_uring or a thread pool would) when the consumer unmaps the
 * buffer's memory and later when it resets the device. The drain callback
 * answers VDUSE_DRAIN_PENDING; a worker thread finishes the I/O DELAY_MS
 * later, pushes the request and calls vduse_dev_drain_done().
 *
 *   libdrain [--span] NAME
 *
 * With --span the ring memory is two IOTLB entries (one page each, mapped
 * from the two pages of a memfd in swapped order, as a vIOMMU guest's
 * pages land anywhere) and the used ring straddles them: the library must
 * stitch the used area from both entries (libvduse 0.3).
 *
 * Checked from the consumer's side: the unmap and the reset return only
 * after the device's last write to that memory (the push happens before
 * the ioctl returns, and the ioctl takes at least about DELAY_MS), they
 * succeed, and the answer and the used element are in the consumer's
 * memory. A library that answered at once would return before the push.
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

#define DELAY_MS	300
#define QN		8
#define RING_IOVA	0x100000ull	/* desc at +0, avail at +0x100, used at +used_off */
#define RING_SZ		0x2000
#define USED_SPAN	0xfe0		/* --span: 70 bytes across the page boundary */
#define DATA_IOVA	0x200000ull	/* a separate IOTLB entry */
#define DATA_SZ		0x10000
#define CMD		DATA_IOVA
#define RESP		(DATA_IOVA + 0x1000)

static struct vduse_dev *dev;
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static struct vduse_req *held;		/* the request "in flight" */
static int want_drain, quit, drains, drains_pending, stop_loop;
static struct vduse_drain last_drain;
static double t_push;
static int push_ret, done_ret;
static unsigned int used_off = 0x200;

static void log_cb(void *user, enum vduse_log_level lvl, const char *msg)
{
	printf("# libvduse[%d]: %s\n", lvl, msg);
}

/* Take one request and keep it: the device's I/O is "in flight". */
static void on_kick(struct vduse_dev *d, struct vduse_vq *vq, void *user)
{
	struct vduse_req *req;

	pthread_mutex_lock(&mu);
	if (!held && vduse_vq_pop(vq, &req) == 1)
		held = req;
	pthread_mutex_unlock(&mu);
}

/* Runs in the message loop's thread, with the library's lock held. */
static int on_drain(struct vduse_dev *d, const struct vduse_drain *dr, void *user)
{
	int ret = 0;

	pthread_mutex_lock(&mu);
	drains++;
	last_drain = *dr;
	if (held) {
		want_drain = 1;
		drains_pending++;
		pthread_cond_signal(&cv);
		ret = VDUSE_DRAIN_PENDING;
	}
	pthread_mutex_unlock(&mu);
	return ret;
}

/* The device's I/O: completes DELAY_MS after a drain was asked for. */
static void *worker(void *arg)
{
	struct vduse_req *req;
	char out[64];
	int n;

	pthread_mutex_lock(&mu);
	for (;;) {
		while (!want_drain && !quit)
			pthread_cond_wait(&cv, &mu);
		if (quit)
			break;
		pthread_mutex_unlock(&mu);
		msleep_(DELAY_MS);
		pthread_mutex_lock(&mu);
		req = held;
		held = NULL;
		want_drain = 0;
		n = snprintf(out, sizeof(out), "drained %u", last_drain.reason);
		pthread_mutex_unlock(&mu);
		vduse_req_write(req, 0, out, n + 1);
		push_ret = vduse_vq_push(req, n + 1);
		vduse_vq_notify(vduse_dev_vq(dev, 0));
		pthread_mutex_lock(&mu);
		t_push = now_s();
		pthread_mutex_unlock(&mu);
		done_ret = vduse_dev_drain_done(dev, 0);
		pthread_mutex_lock(&mu);
	}
	pthread_mutex_unlock(&mu);
	return NULL;
}

static void *loop(void *arg)
{
	while (!__atomic_load_n(&stop_loop, __ATOMIC_ACQUIRE))
		if (vduse_dev_run_once(dev, 100) < 0)
			break;
	return NULL;
}

static uint8_t *mem_new(size_t sz)
{
	void *p = mmap(NULL, sz, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED) {
		perror("mmap");
		exit(2);
	}
	return p;
}

/* Post one command + response chain and kick. */
static void post(uint8_t *ring, uint8_t *data, uint16_t *avail_idx, int kick)
{
	struct vring_desc *d = (struct vring_desc *)ring;
	struct vring_avail *a = (struct vring_avail *)(ring + 0x100);
	uint16_t slot = (*avail_idx * 2) % QN;
	uint64_t one = 1;

	strcpy((char *)data, "command");
	memset(data + (RESP - DATA_IOVA), 0, 64);
	d[slot] = (struct vring_desc){ .addr = CMD, .len = 8, .flags = VRING_DESC_F_NEXT,
				       .next = slot + 1 };
	d[slot + 1] = (struct vring_desc){ .addr = RESP, .len = 64, .flags = VRING_DESC_F_WRITE };
	a->ring[*avail_idx % QN] = slot;
	__atomic_store_n(&a->idx, ++*avail_idx, __ATOMIC_RELEASE);
	if (write(kick, &one, 8) != 8)
		perror("kick");
}

static int wait_held(void)
{
	int i, h = 0;

	for (i = 0; i < 200 && !h; i++) {
		pthread_mutex_lock(&mu);
		h = held != NULL;
		pthread_mutex_unlock(&mu);
		if (!h)
			msleep_(10);
	}
	return h;
}

static int vring_setup(int vh, int kick, int call)
{
	struct vhost_vring_state num = { .index = 0, .num = QN };
	struct vhost_vring_state base = { .index = 0, .num = 0 };
	struct vhost_vring_addr addr = { .index = 0, .desc_user_addr = RING_IOVA,
					 .avail_user_addr = RING_IOVA + 0x100,
					 .used_user_addr = RING_IOVA + used_off };
	struct vhost_vring_file k = { .index = 0, .fd = kick }, c = { .index = 0, .fd = call };
	struct vhost_vring_state en = { .index = 0, .num = 1 };

	if (ioctl(vh, VHOST_SET_VRING_NUM, &num) || ioctl(vh, VHOST_SET_VRING_ADDR, &addr) ||
	    ioctl(vh, VHOST_SET_VRING_BASE, &base) || ioctl(vh, VHOST_SET_VRING_KICK, &k) ||
	    ioctl(vh, VHOST_SET_VRING_CALL, &c) || ioctl(vh, VHOST_VDPA_SET_VRING_ENABLE, &en))
		return -1;
	return 0;
}

/* The consumer's used index and the answer in its memory. */
static void check_done(uint8_t *ring, uint8_t *data, uint16_t want_used, double t0, double t1,
		       unsigned int reason, const char *what)
{
	struct vring_used *u = (struct vring_used *)(ring + used_off);
	char name[200], want[32];
	double tp;

	pthread_mutex_lock(&mu);
	tp = t_push;
	pthread_mutex_unlock(&mu);

	snprintf(name, sizeof(name), "%s: returned after the device's push (deferred answer)", what);
	TAP_OK(tp > t0 && tp <= t1, name, "push at %+.3f s, returned at %+.3f s", tp - t0, t1 - t0);
	snprintf(name, sizeof(name), "%s: took about the device's drain time", what);
	TAP_OK(t1 - t0 >= DELAY_MS / 1000.0 * 0.9, name, "%.3f s", t1 - t0);
	snprintf(name, sizeof(name), "%s: the push reached the driver", what);
	TAP_OK(push_ret == 0 && done_ret == 0, name, "push %d drain_done %d", push_ret, done_ret);
	snprintf(name, sizeof(name), "%s: used index moved", what);
	TAP_EQ(__atomic_load_n(&u->idx, __ATOMIC_ACQUIRE), want_used, name);
	snprintf(want, sizeof(want), "drained %u", reason);
	snprintf(name, sizeof(name), "%s: the device's last write is in the consumer's memory", what);
	TAP_OK(!strcmp((char *)data + (RESP - DATA_IOVA), want), name, "got '%.20s'",
	       (char *)data + (RESP - DATA_IOVA));
}

/*
 * The ring's memory: a memfd of two pages. The driver's view is contiguous
 * in IOVA order; with @swap the IOVA's first page is the file's second.
 * *@pg[i] is where IOVA page i is mapped for vhost-vdpa (its uaddr).
 */
static uint8_t *ring_new(bool swap, uint8_t *pg[2])
{
	int fd = memfd_create("libdrain-ring", 0);
	uint8_t *v;
	int i;

	if (fd < 0 || ftruncate(fd, RING_SZ))
		exit(2);
	v = mmap(NULL, RING_SZ, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	for (i = 0; i < 2; i++) {
		off_t off = (swap ? 1 - i : i) * 0x1000;

		if (v == MAP_FAILED ||
		    mmap(v + i * 0x1000, 0x1000, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, fd,
			 off) == MAP_FAILED)
			exit(2);
		pg[i] = mmap(NULL, 0x1000, PROT_READ | PROT_WRITE, MAP_SHARED, fd, off);
		if (pg[i] == MAP_FAILED)
			exit(2);
	}
	close(fd);
	memset(v, 0, RING_SZ);
	return v;
}

int main(int argc, char **argv)
{
	struct virtio_blk_config cfg = { .capacity = 2048 };
	const char *name = argv[argc - 1];
	int kick = eventfd(0, EFD_CLOEXEC), call = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	bool span = argc > 2 && !strcmp(argv[1], "--span");
	uint8_t *pg[2], *ring = ring_new(span, pg), *data = mem_new(DATA_SZ);
	uint16_t avail = 0;
	uint64_t features;
	pthread_t lt, wt;
	char vpath[300];
	double t0, t1;
	int vh, ret;

	setvbuf(stdout, NULL, _IOLBF, 0);
	LIBVDUSE_OPTS(vduse_dev_opts, o, .name = name, .device_id = VIRTIO_ID_BLOCK,
		      .features = 1ull << VIRTIO_F_VERSION_1, .config = &cfg,
		      .config_size = sizeof(cfg), .num_queues = 1, .queue_size = QN,
		      .queue_kick = on_kick, .drain = on_drain, .flags = VDUSE_DEV_F_THREADS,
		      .log = log_cb, .log_level = VDUSE_LOG_WARN);

	ret = vduse_dev_create(&o, &dev);
	TAP_EQ(ret, 0, "create a device with a drain callback and VDUSE_DEV_F_THREADS");
	if (ret)
		return tap_done();
	tap_diag("VDUSE API v%d", vduse_dev_api_version(dev));
	pthread_create(&lt, NULL, loop, NULL);
	pthread_create(&wt, NULL, worker, NULL);
	TAP_EQ(vdpa_add(name), 0, "vdpa dev add (bound to vhost-vdpa)");
	TAP_EQ(vhost_path(name, vpath, sizeof(vpath)), 0, "vhost-vdpa device node");
	vh = vh_open(vpath);
	TAP_SYS(vh, "open vhost-vdpa");
	if (vh < 0)
		goto out;
	vh_set_status(vh, VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER);
	TAP_SYS(ioctl(vh, VHOST_GET_FEATURES, &features), "GET_FEATURES");
	features &= (1ull << VIRTIO_F_VERSION_1) | (1ull << VIRTIO_F_ACCESS_PLATFORM);
	TAP_SYS(ioctl(vh, VHOST_SET_FEATURES, &features), "SET_FEATURES");
	vh_set_status(vh, VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER |
		      VIRTIO_CONFIG_S_FEATURES_OK);
	if (span) {
		used_off = USED_SPAN;
		TAP_EQ(vh_map(vh, 0, RING_IOVA, 0x1000, pg[0], VHOST_ACCESS_RW) |
		       vh_map(vh, 0, RING_IOVA + 0x1000, 0x1000, pg[1], VHOST_ACCESS_RW), 0,
		       "map the ring memory as two entries, pages swapped; used ring across both");
	} else {
		TAP_EQ(vh_map(vh, 0, RING_IOVA, 0x1000, pg[0], VHOST_ACCESS_RW), 0,
		       "map the ring memory (one page)");
	}
	TAP_EQ(vh_map(vh, 0, DATA_IOVA, DATA_SZ, data, VHOST_ACCESS_RW), 0,
	       "map the data memory (another IOTLB entry)");
	TAP_EQ(vring_setup(vh, kick, call), 0, "vq 0: ring, kick, call, enable");
	vh_set_status(vh, VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER |
		      VIRTIO_CONFIG_S_FEATURES_OK | VIRTIO_CONFIG_S_DRIVER_OK);
	TAP_OK(vh_get_status(vh) & VIRTIO_CONFIG_S_DRIVER_OK, "DRIVER_OK accepted", " ");

	/* 1. unmap the data memory while the device's I/O on it is in flight */
	post(ring, data, &avail, kick);
	TAP_OK(wait_held(), "the device took the request and holds it", " ");
	drains = drains_pending = 0;
	t0 = now_s();
	ret = vh_unmap(vh, 0, DATA_IOVA, DATA_SZ);
	t1 = now_s();
	TAP_EQ(ret, 0, "unmap: the consumer's IOTLB invalidation succeeds");
	TAP_OK(drains_pending == 1 && last_drain.reason == VDUSE_DRAIN_IOTLB &&
	       last_drain.asid == 0 && last_drain.start <= DATA_IOVA &&
	       last_drain.last >= DATA_IOVA + DATA_SZ - 1,
	       "unmap: drain callback for UPDATE_IOTLB over the range, left pending",
	       "%d pending of %d, reason %u [%#llx, %#llx]", drains_pending, drains,
	       last_drain.reason, (unsigned long long)last_drain.start,
	       (unsigned long long)last_drain.last);
	check_done(ring, data, 1, t0, t1, VDUSE_DRAIN_IOTLB, "unmap");
	TAP_OK(!vduse_dev_drain_pending(dev), "nothing pending afterwards", " ");

	/* 2. a reset while the device's I/O is in flight */
	TAP_EQ(vh_map(vh, 0, DATA_IOVA, DATA_SZ, data, VHOST_ACCESS_RW), 0, "map the data again");
	post(ring, data, &avail, kick);
	TAP_OK(wait_held(), "the device holds a second request", " ");
	drains = drains_pending = 0;
	t0 = now_s();
	ret = vh_set_status(vh, 0);
	t1 = now_s();
	TAP_EQ(ret, 0, "reset: SET_STATUS 0 succeeds");
	TAP_OK(drains_pending == 1 && last_drain.reason == VDUSE_DRAIN_STOP &&
	       last_drain.status == 0, "reset: drain callback for the stop, left pending",
	       "%d pending of %d, reason %u", drains_pending, drains, last_drain.reason);
	check_done(ring, data, 2, t0, t1, VDUSE_DRAIN_STOP, "reset");
	TAP_OK(!vduse_vq_started(vduse_dev_vq(dev, 0)), "queue stopped after the drain", " ");
	TAP_EQ(vh_get_status(vh), 0, "status 0");
	close(vh);
out:
	TAP_EQ(vdpa_del(name), 0, "vdpa dev del");
	pthread_mutex_lock(&mu);
	quit = 1;
	pthread_cond_signal(&cv);
	pthread_mutex_unlock(&mu);
	pthread_join(wt, NULL);
	__atomic_store_n(&stop_loop, 1, __ATOMIC_RELEASE);
	pthread_join(lt, NULL);
	TAP_EQ(vduse_dev_destroy(dev), 0, "vduse_dev_destroy");
	return tap_done();
}
