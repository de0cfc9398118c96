// SPDX-License-Identifier: GPL-2.0
/*
 * kdomain: the IOVA domain of a VDUSE device (issue 7, items 1, 2, 3, 6, 7).
 * A raw-ioctl API v0 virtio-blk device, served by a thread of this program,
 * is driven by the kernel's virtio-blk through virtio-vdpa (and, for one
 * scenario, by a vhost-vdpa client first). One scenario per argument:
 *
 *   kdomain leak        a read's destination buffer, pre-filled by the
 *                       driver, never reaches the device (bounce pages of a
 *                       device-to-memory mapping hold no kernel data)
 *   kdomain umem        REG_UMEM zaps the daemon's mappings of the bounce
 *                       range; I/O stays correct while the bounce area is
 *                       switched to user memory and back with requests in
 *                       flight
 *   kdomain umem-write  with user memory registered, a write through a
 *                       MAP_SHARED mapping of the domain file's bounce range
 *                       gets SIGBUS (it crashed the kernel before)
 *   kdomain vhost       a vhost-vdpa client killed without unmapping: its
 *                       entries and its memfd go with it, and virtio-vdpa
 *                       then works on the same device
 *   kdomain uffd        REG_UMEM stalled on a userfaultfd range never served
 *                       does not hold up "vdpa dev del"
 *   kdomain bench-switch MIB|max    (bench) REG_UMEM/DEREG_UMEM with MIB of
 *                       bounce area populated (max: the largest that fits
 *                       the guest's memory): ioctl time and the worst
 *                       lateness of a timer thread on the same CPU, and with
 *                       the kernel's irqsoff tracer (debug kernel) the worst
 *                       IRQ-off section and where it was
 *   kdomain bench-setmap N batched|unbatched  (bench) N vhost-vdpa entries
 *
 * Expectations differ per implementation only where docs/uapi.md says so.
 */
#define _GNU_SOURCE
#include <linux/userfaultfd.h>
#include <linux/virtio_ring.h>
#include <setjmp.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sched.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include "rawvblk.h"
#include "tap.h"
#include "vduse_test.h"
#include "vhost_vdpa_client.h"

#define DISK_SIZE	(16u << 20)
#define QUEUE_SIZE	128
#define MARKER		0x6b64306d61726b21ull	/* "!kram0dk" */

static enum impl impl = IMPL_OURS;

/* ---- the device (tests/include/rawvblk.h) --------------------------------- */

static struct blkdev {
	char name[32];
	int ctl;
	uint64_t bounce;		/* bytes of bounce area (AS 0) */
	pthread_t th;
	int started, stop;		/* stop: __atomic */
	pthread_mutex_t lock;		/* everything below */
	struct rvb r;			/* r.umem: registered user bounce memory, or NULL */
	uint8_t *umem_buf;		/* what REG_UMEM is given when toggling */
	int toggle;			/* switch umem on every kick */
	unsigned long toggles, toggle_errors;
	int check_marker;
	unsigned long marker_hits, reads_seen;
} d;

/* Whether the driver's marker shows in a device-writable buffer (before the read). */
static void check_marker(struct rvb *r, uint8_t *p, size_t len, int done)
{
	size_t i;
	uint64_t v;

	if (done || !d.check_marker)
		return;
	d.reads_seen++;
	for (i = 0; i + 8 <= len; i += 8) {
		memcpy(&v, p + i, 8);
		if (v == MARKER) {
			d.marker_hits++;
			return;
		}
	}
}

static int umem_ioctl(unsigned long cmd, void *buf)
{
	struct vduse_iova_umem u;

	memset(&u, 0, sizeof(u));
	u.uaddr = (uint64_t)(uintptr_t)buf;
	u.iova = 0;
	u.size = d.bounce;
	return ioctl(d.r.fd, cmd, &u);
}

/* Move the bounce area to user memory or back (caller holds d.lock). */
static void umem_toggle(void)
{
	if (!d.r.umem) {
		if (umem_ioctl(VDUSE_IOTLB_REG_UMEM, d.umem_buf) == 0)
			d.r.umem = d.umem_buf;
		else
			d.toggle_errors++;
	} else {
		if (umem_ioctl(VDUSE_IOTLB_DEREG_UMEM, d.r.umem) == 0)
			d.r.umem = NULL;
		else
			d.toggle_errors++;
	}
	d.toggles++;
}

/* the requests just made available are mapped: switch under them */
static void toggle_before(struct rvb *r)
{
	if (d.toggle)
		umem_toggle();
}

static void *device_main(void *arg)
{
	(void)arg;
	while (!__atomic_load_n(&d.stop, __ATOMIC_ACQUIRE)) {
		int ev = rvb_wait(&d.r, 20);

		pthread_mutex_lock(&d.lock);
		if (ev > 0 && (ev & RVB_EV_MSG) && rvb_msg(&d.r))
			tap_diag("device: control message: %s", strerror(errno));
		/* completed, maybe not unmapped yet by the driver: switch again */
		if (rvb_serve(&d.r, rvb_blk_chain, toggle_before) > 0 && d.toggle)
			umem_toggle();
		pthread_mutex_unlock(&d.lock);
		if (ev < 0)
			msleep_(20);
	}
	return NULL;
}

/* Create NAME (API v0 virtio-blk, BOUNCE bytes of bounce area) and serve it. */
static int dev_up(const char *name, uint64_t bounce)
{
	struct virtio_blk_config blk;
	char val[32];
	uint64_t ver = 0;

	memset(&d, 0, sizeof(d));
	pthread_mutex_init(&d.lock, NULL);
	snprintf(d.name, sizeof(d.name), "%s", name);
	d.bounce = bounce;
	d.r.fd = d.r.kickfd = -1;
	d.r.umem_last = bounce - 1;	/* user memory, when registered, is at IOVA 0 */
	d.r.disk_size = DISK_SIZE;
	d.r.id = "kdomain";
	d.r.on_read = check_marker;
	d.ctl = ctl_open();
	if (d.ctl < 0 || ctl_set_version(d.ctl, ver)) {
		TAP_OK(0, "device: open control, API v0", "%s", strerror(errno));
		return -1;
	}
	memset(&blk, 0, sizeof(blk));
	blk.capacity = DISK_SIZE / 512;
	blk.seg_max = QUEUE_SIZE - 2;
	if (rvb_create(d.ctl, name, (1ull << VIRTIO_F_VERSION_1) | (1ull << VIRTIO_F_ACCESS_PLATFORM) |
		       (1ull << VIRTIO_BLK_F_FLUSH) | (1ull << VIRTIO_BLK_F_SEG_MAX), &blk, 0)) {
		TAP_OK(0, "device: CREATE_DEV", "%s", strerror(errno));
		return -1;
	}
	snprintf(val, sizeof(val), "%llu", (unsigned long long)bounce);
	if (rvb_open(&d.r, name, QUEUE_SIZE) || sysfs_write(name, "bounce_size", val)) {
		TAP_OK(0, "device: open, VQ_SETUP, bounce_size", "%s", strerror(errno));
		return -1;
	}
	d.r.disk = mmap(NULL, DISK_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (d.r.disk == MAP_FAILED || pthread_create(&d.th, NULL, device_main, NULL)) {
		TAP_OK(0, "device: set up", "%s", strerror(errno));
		return -1;
	}
	d.started = 1;
	return 0;
}

static void dev_down(void)
{
	char path[300];

	snprintf(path, sizeof(path), "/sys/bus/vdpa/devices/%s", d.name);
	if (access(path, F_OK) == 0)
		TAP_EQ(vdpa_del(d.name), 0, "vdpa dev del");
	if (d.started) {
		__atomic_store_n(&d.stop, 1, __ATOMIC_RELEASE);
		pthread_join(d.th, NULL);
	}
	pthread_mutex_lock(&d.lock);
	if (d.r.umem && d.r.fd >= 0)
		umem_ioctl(VDUSE_IOTLB_DEREG_UMEM, d.r.umem);
	d.r.umem = NULL;
	rvb_close(&d.r);
	pthread_mutex_unlock(&d.lock);
	if (d.ctl >= 0) {
		TAP_SYS(dev_destroy(d.ctl, d.name), "DESTROY_DEV");
		close(d.ctl);
	}
	if (d.r.disk && d.r.disk != MAP_FAILED)
		munmap(d.r.disk, DISK_SIZE);
}

/* Rebind vDPA device NAME to bus driver DRV (driver_override); 0 on success. */
static int bind_to(const char *name, const char *drv)
{
	return run_cmd("d=/sys/bus/vdpa/devices/%s; echo %s > $d/driver_override && "
		       "{ [ ! -e $d/driver ] || echo %s > $d/driver/unbind; } && "
		       "echo %s > /sys/bus/vdpa/drivers/%s/bind && "
		       "[ \"$(basename \"$(readlink $d/driver)\")\" = %s ]",
		       name, drv, name, name, drv, drv);
}

/* The virtio-blk disk of vDPA device NAME, opened O_DIRECT; waits up to 30 s. */
static int disk_open(const char *name)
{
	char path[300];
	FILE *f;
	int i;

	for (i = 0; i < 300; i++) {
		snprintf(path, sizeof(path), "ls -d /sys/bus/vdpa/devices/%s/virtio*/block/* 2>/dev/null", name);
		f = popen(path, "r");
		if (f && fgets(path, sizeof(path), f)) {
			char dev[64];

			pclose(f);
			path[strcspn(path, "\n")] = 0;
			snprintf(dev, sizeof(dev), "/dev/%s", strrchr(path, '/') + 1);
			if (access(dev, F_OK) == 0)
				return open(dev, O_RDWR | O_DIRECT | O_CLOEXEC);
		} else if (f) {
			pclose(f);
		}
		msleep_(100);
	}
	errno = ENOENT;
	return -1;
}

static void fill(uint8_t *p, size_t len, unsigned int seed)
{
	size_t i;

	for (i = 0; i < len; i++)
		p[i] = (uint8_t)((i * 131 + seed * 7 + (i >> 9)) ^ seed);
}

/* O_DIRECT write LEN bytes at OFF and read them back; 0 if they match. */
static int io_roundtrip(int fd, size_t len, off_t off, unsigned int seed)
{
	uint8_t *w = aligned_alloc(4096, len), *r = aligned_alloc(4096, len);
	int ret = -1;

	if (!w || !r)
		goto out;
	fill(w, len, seed);
	memset(r, 0, len);
	if (pwrite(fd, w, len, off) != (ssize_t)len || pread(fd, r, len, off) != (ssize_t)len)
		goto out;
	ret = memcmp(w, r, len) ? -1 : 0;
out:
	free(w);
	free(r);
	return ret;
}

static sigjmp_buf bus_jmp;

static void on_sigbus(int sig)
{
	(void)sig;
	siglongjmp(bus_jmp, 1);
}

/* Access P[0] (WRITE: store); 0 if it worked, -1 on SIGBUS. */
static int touch(volatile uint8_t *p, int write)
{
	struct sigaction sa, old;
	int r = 0;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_sigbus;
	sigaction(SIGBUS, &sa, &old);
	if (sigsetjmp(bus_jmp, 1))
		r = -1;
	else if (write)
		p[0] = 0x5a;
	else
		(void)p[0];
	sigaction(SIGBUS, &old, NULL);
	return r;
}

/* Bring the device up under virtio-vdpa; the disk fd or -1 (reported). */
static int up_virtio(const char *name, uint64_t bounce)
{
	int fd;

	if (dev_up(name, bounce))
		return -1;
	TAP_EQ(vdpa_add(name), 0, "vdpa dev add");
	fd = disk_open(name);
	TAP_SYS(fd, "virtio-blk disk appears and opens O_DIRECT");
	return fd;
}

/* ---- item 2: no kernel data in device-writable bounce pages ---------------- */

static void cmd_leak(void)
{
	static const struct { size_t len; size_t boff; off_t off; } cases[] = {
		{ 4096, 0, 0 }, { 65536, 0, 1 << 20 }, { 512, 512, 4096 },
		{ 12288, 1024, 8192 }, { 1 << 20, 0, 2 << 20 },
	};
	uint8_t *buf;
	size_t i, j;
	int fd, bad = 0;

	fd = up_virtio("kd-leak", 4 << 20);
	if (fd < 0)
		goto out;
	buf = aligned_alloc(4096, 2 << 20);
	TAP_EQ(io_roundtrip(fd, 65536, 1 << 20, 1), 0, "leak: data written reads back");
	pthread_mutex_lock(&d.lock);
	d.check_marker = 1;
	pthread_mutex_unlock(&d.lock);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		uint64_t *q = (uint64_t *)buf;

		for (j = 0; j < (2u << 20) / 8; j++)
			q[j] = MARKER;
		if (pread(fd, buf + cases[i].boff, cases[i].len, cases[i].off) != (ssize_t)cases[i].len)
			bad++;
	}
	TAP_EQ(bad, 0, "leak: O_DIRECT reads into marker-filled buffers");
	pthread_mutex_lock(&d.lock);
	d.check_marker = 0;
	TAP_OK(d.reads_seen >= sizeof(cases) / sizeof(cases[0]), "leak: the device saw the reads",
	       "%lu read buffers", d.reads_seen);
	TAP_EQ(d.marker_hits, 0, "leak: no read buffer reached the device with the driver's old contents");
	pthread_mutex_unlock(&d.lock);
	TAP_EQ(io_roundtrip(fd, 4096, 0, 2), 0, "leak: I/O still correct");
	free(buf);
	close(fd);
out:
	dev_down();
}

/* ---- item 1: user bounce pages never reach a mapping of the domain file ---- */

static void *umem_alloc(uint64_t size)
{
	struct rlimit rl = { RLIM_INFINITY, RLIM_INFINITY };
	void *p;

	setrlimit(RLIMIT_MEMLOCK, &rl);
	p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
	return p == MAP_FAILED ? NULL : p;
}

/* GET_FD at IOVA 0 and map the whole bounce area shared, read-write. */
static uint8_t *map_bounce(int *dfd)
{
	struct vduse_iotlb_entry e;
	uint8_t *p;

	memset(&e, 0, sizeof(e));
	*dfd = ioctl(d.r.fd, VDUSE_IOTLB_GET_FD, &e);
	if (*dfd < 0)
		return NULL;
	if (e.start != 0 || e.last != d.bounce - 1) {
		tap_diag("GET_FD(0): [0x%llx, 0x%llx], not the bounce area",
			 (unsigned long long)e.start, (unsigned long long)e.last);
		return NULL;
	}
	p = mmap(NULL, d.bounce, PROT_READ | PROT_WRITE, MAP_SHARED, *dfd, e.offset);
	return p == MAP_FAILED ? NULL : p;
}

struct io_thread {
	pthread_t th;
	int fd, id, rounds, errors;
};

static void *io_main(void *arg)
{
	struct io_thread *t = arg;
	static const size_t sizes[] = { 4096, 65536, 8192, 262144, 512, 131072 };
	int i;

	for (i = 0; i < t->rounds; i++) {
		size_t len = sizes[(i + t->id) % 6];
		off_t off = (off_t)(t->id * 4 + i % 4) << 20;

		if (io_roundtrip(t->fd, len, off, i * 2 + t->id))
			t->errors++;
	}
	return NULL;
}

static void cmd_umem(void)
{
	struct io_thread t[2];
	uint8_t *p = NULL;
	uint64_t pg;
	int fd, dfd = -1, r, i, errors = 0;

	fd = up_virtio("kd-umem", 4 << 20);
	if (fd < 0)
		goto out;
	TAP_EQ(io_roundtrip(fd, 65536, 0, 3), 0, "umem: I/O through the kernel bounce pages");
	d.umem_buf = umem_alloc(d.bounce);
	p = map_bounce(&dfd);
	TAP_OK(p, "umem: the daemon maps the bounce area through GET_FD(0)", "%s", strerror(errno));
	if (!p || !d.umem_buf)
		goto out_fd;
	/* a page some streaming mapping used (ours: from the bottom; upstream: top) */
	for (pg = 0; pg < d.bounce && touch(p + pg, 0); pg += 4096)
		;
	TAP_OK(pg < d.bounce, "umem: a used bounce page is readable through the mapping", "none is");
	if (pg >= d.bounce)
		pg = 4096;
	pthread_mutex_lock(&d.lock);
	r = umem_ioctl(VDUSE_IOTLB_REG_UMEM, d.umem_buf);
	if (!r)
		d.r.umem = d.umem_buf;
	pthread_mutex_unlock(&d.lock);
	TAP_SYS(r, "umem: REG_UMEM on AS 0");
	if (impl == IMPL_OURS)
		TAP_EQ(touch(p + pg, 0), -1, "umem: REG_UMEM zapped the mapping (the page now gets SIGBUS)");
	else
		tap_diag("umem: after REG_UMEM the page mapped before %s",
			 touch(p + pg, 0) ? "gets SIGBUS (zapped)" : "still reads (not zapped)");
	TAP_EQ(io_roundtrip(fd, 65536, 1 << 20, 4), 0, "umem: I/O through the user bounce pages");
	pthread_mutex_lock(&d.lock);
	r = umem_ioctl(VDUSE_IOTLB_DEREG_UMEM, d.r.umem);
	if (!r)
		d.r.umem = NULL;
	pthread_mutex_unlock(&d.lock);
	TAP_SYS(r, "umem: DEREG_UMEM");
	TAP_EQ(touch(p + pg, 0), 0, "umem: after DEREG_UMEM the kernel page is mapped again");
	TAP_EQ(io_roundtrip(fd, 65536, 2 << 20, 5), 0, "umem: I/O through the kernel bounce pages again");

	/* switch on every kick, with requests of two threads in flight */
	pthread_mutex_lock(&d.lock);
	d.toggle = 1;
	pthread_mutex_unlock(&d.lock);
	for (i = 0; i < 2; i++) {
		t[i] = (struct io_thread){ .fd = fd, .id = i, .rounds = 60 };
		pthread_create(&t[i].th, NULL, io_main, &t[i]);
	}
	for (i = 0; i < 2; i++) {
		pthread_join(t[i].th, NULL);
		errors += t[i].errors;
	}
	pthread_mutex_lock(&d.lock);
	d.toggle = 0;
	if (d.r.umem)
		umem_toggle();
	TAP_OK(d.toggles >= 60 && !d.toggle_errors, "umem: the bounce area switched under I/O in flight",
	       "%lu switches, %lu failed", d.toggles, d.toggle_errors);
	pthread_mutex_unlock(&d.lock);
	TAP_EQ(errors, 0, "umem: every request of the switching run read back what was written");
	TAP_EQ(d.r.bad, 0, "umem: the device found every request well-formed");
	munmap(p, d.bounce);
out_fd:
	if (dfd >= 0)
		close(dfd);
	close(fd);
out:
	dev_down();
}

/* The reproducer: it crashed the kernel on our module. */
static void cmd_umem_write(void)
{
	uint8_t *p = NULL;
	int fd, dfd = -1, r;

	fd = up_virtio("kd-umw", 4 << 20);
	if (fd < 0)
		goto out;
	TAP_EQ(io_roundtrip(fd, 65536, 0, 6), 0, "umem-write: I/O, so the bounce area exists");
	d.umem_buf = umem_alloc(d.bounce);
	pthread_mutex_lock(&d.lock);
	r = d.umem_buf ? umem_ioctl(VDUSE_IOTLB_REG_UMEM, d.umem_buf) : -1;
	if (!r)
		d.r.umem = d.umem_buf;
	pthread_mutex_unlock(&d.lock);
	TAP_SYS(r, "umem-write: REG_UMEM on AS 0");
	p = map_bounce(&dfd);
	TAP_OK(p, "umem-write: GET_FD(0) and mmap MAP_SHARED of the bounce area", "%s", strerror(errno));
	if (p) {
		TAP_EQ(touch(p + 4096, 1), -1, "umem-write: a write to bounce page 1 gets SIGBUS");
		TAP_EQ(touch(p, 1), -1, "umem-write: a write to page 0 gets SIGBUS");
		TAP_EQ(touch(p + 8192, 0), -1, "umem-write: a read gets SIGBUS");
		munmap(p, d.bounce);
	}
	if (dfd >= 0)
		close(dfd);
	TAP_EQ(io_roundtrip(fd, 65536, 1 << 20, 7), 0, "umem-write: I/O still correct");
	close(fd);
out:
	dev_down();
}

/* ---- item 3: a killed vhost-vdpa client leaves nothing behind --------------- */

/* Shmem of /proc/meminfo in KiB, or -1. */
static long shmem_kb(void)
{
	char line[128];
	long v = -1;
	FILE *f = fopen("/proc/meminfo", "r");

	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "Shmem: %ld kB", &v) == 1)
			break;
	if (f)
		fclose(f);
	return v;
}

#define VH_MEMFD	(64u << 20)
#define VH_MAPPED	(2u << 20)

/* The client: map 2 MiB of a 64 MiB memfd at IOVA 0 of AS 0, then wait. */
static void vhost_client(const char *vpath, int wfd)
{
	int vh = vh_open(vpath), mfd = memfd_create("kdomain-guest-ram", MFD_CLOEXEC);
	uint8_t *m;
	char c = 'F';

	if (vh >= 0 && mfd >= 0 && ftruncate(mfd, VH_MEMFD) == 0) {
		m = mmap(NULL, VH_MEMFD, PROT_READ | PROT_WRITE, MAP_SHARED, mfd, 0);
		if (m != MAP_FAILED) {
			memset(m, 0x42, VH_MEMFD);
			if (vh_map(vh, 0, 0, VH_MAPPED, m, VHOST_ACCESS_RW) == 0)
				c = 'R';
		}
	}
	(void)!write(wfd, &c, 1);
	for (;;)
		pause();
}

static void cmd_vhost(void)
{
	struct vduse_iotlb_entry e;
	char vpath[300], link[300], c = 0;
	long before, now = -1;
	double end;
	int p[2], fd = -1, gfd, st;
	pid_t pid;
	ssize_t n;

	if (dev_up("kd-vh", 4 << 20))
		goto out;
	TAP_EQ(vdpa_add("kd-vh"), 0, "vhost: vdpa dev add");
	TAP_EQ(bind_to("kd-vh", "vhost_vdpa"), 0, "vhost: bound to vhost_vdpa");
	if (vhost_path("kd-vh", vpath, sizeof(vpath)) || pipe(p)) {
		TAP_OK(0, "vhost: /dev/vhost-vdpa-N", NULL);
		goto out;
	}
	before = shmem_kb();
	pid = fork();
	if (pid == 0) {
		close(p[0]);
		vhost_client(vpath, p[1]);
		_exit(0);
	}
	close(p[1]);
	n = read(p[0], &c, 1);
	close(p[0]);
	TAP_OK(n == 1 && c == 'R', "vhost: the client mapped 2 MiB of its 64 MiB memfd at IOVA 0 of AS 0",
	       "client said %c", n == 1 ? c : '?');
	now = shmem_kb();
	TAP_OK(now - before >= (VH_MEMFD >> 10) - 1024, "vhost: the memfd's pages are resident",
	       "Shmem %ld -> %ld kB", before, now);
	kill(pid, SIGKILL);
	waitpid(pid, &st, 0);
	/* the client is gone: the memfd's last reference must go with it */
	end = now_s() + 10;
	while ((now = shmem_kb()) - before >= 8192 && now_s() < end)
		msleep_(100);
	if (impl == IMPL_OURS)
		TAP_OK(now - before < 8192, "vhost: the killed client's memfd is freed (no entry keeps it)",
		       "Shmem still %ld kB above the start", now - before);
	else
		tap_diag("vhost: Shmem %ld kB above the start after the kill", now - before);

	TAP_EQ(bind_to("kd-vh", "virtio_vdpa"), 0, "vhost: rebound to virtio_vdpa");
	fd = disk_open("kd-vh");
	TAP_SYS(fd, "vhost: virtio-blk disk appears");
	if (fd < 0)
		goto out;
	memset(&e, 0, sizeof(e));
	gfd = ioctl(d.r.fd, VDUSE_IOTLB_GET_FD, &e);
	link[0] = 0;
	if (gfd >= 0) {
		char pp[64];

		snprintf(pp, sizeof(pp), "/proc/self/fd/%d", gfd);
		n = readlink(pp, link, sizeof(link) - 1);
		link[n > 0 ? n : 0] = 0;
		close(gfd);
	}
	if (impl == IMPL_OURS) {
		TAP_OK(gfd >= 0 && e.start == 0 && e.last == d.bounce - 1,
		       "vhost: GET_FD(0) finds the bounce area, not the dead client's entry",
		       "fd %d [0x%llx, 0x%llx]", gfd, (unsigned long long)e.start, (unsigned long long)e.last);
		TAP_OK(strstr(link, "vduse-domain") != NULL, "vhost: GET_FD(0) returns the domain file", "%s", link);
		TAP_EQ(io_roundtrip(fd, 65536, 1 << 20, 8), 0, "vhost: I/O under virtio-vdpa is correct");
		TAP_EQ(io_roundtrip(fd, 1 << 20, 4 << 20, 9), 0, "vhost: a 1 MiB request is correct");
	} else {
		/* docs/uapi.md: upstream keeps the consumer's entries */
		TAP_OK(gfd >= 0 && e.last == VH_MAPPED - 1 && strstr(link, "memfd"),
		       "vhost: upstream's GET_FD(0) still returns the dead client's memfd (known defect)",
		       "fd %d [0x%llx, 0x%llx] %s", gfd, (unsigned long long)e.start,
		       (unsigned long long)e.last, link);
	}
	close(fd);
out:
	dev_down();
}

/* ---- item 6: a stalled REG_UMEM never holds up a reset ---------------------- */

static void cmd_uffd(void)
{
	struct uffdio_api api = { .api = UFFD_API };
	struct uffdio_register reg;
	struct vduse_iova_umem u;
	struct async_ioctl a;
	double t0, t1;
	void *buf;
	int fd, uffd, st, done = 0;
	pid_t pid;

	fd = up_virtio("kd-uffd", 4 << 20);
	if (fd < 0)
		goto out;
	TAP_EQ(io_roundtrip(fd, 65536, 0, 10), 0, "uffd: I/O, so the bounce area exists");
	close(fd);
	uffd = syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK);
	TAP_SYS(uffd, "uffd: userfaultfd");
	if (uffd < 0)
		goto out;
	buf = mmap(NULL, d.bounce, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	memset(&reg, 0, sizeof(reg));
	reg.range.start = (uintptr_t)buf;
	reg.range.len = d.bounce;
	reg.mode = UFFDIO_REGISTER_MODE_MISSING;
	TAP_OK(ioctl(uffd, UFFDIO_API, &api) == 0 && ioctl(uffd, UFFDIO_REGISTER, &reg) == 0,
	       "uffd: the umem buffer is a userfaultfd range nobody serves", "%s", strerror(errno));
	{
		struct rlimit rl = { RLIM_INFINITY, RLIM_INFINITY };

		setrlimit(RLIMIT_MEMLOCK, &rl);
	}
	memset(&u, 0, sizeof(u));
	u.uaddr = (uintptr_t)buf;
	u.size = d.bounce;
	async_ioctl_start(&a, d.r.fd, VDUSE_IOTLB_REG_UMEM, &u);
	if (!(poll_wait(uffd, POLLIN, 10000) & POLLIN) && impl != IMPL_OURS) {
		/*
		 * docs/uapi.md: upstream pins with pin_user_pages(), which
		 * cannot wait for userfaultfd (SIGBUS: EFAULT); its stall needs
		 * memory whose fault blocks without a retry.
		 */
		async_ioctl_wait(&a, 5000);
		tap_diag("uffd: this implementation's REG_UMEM does not wait: returned %ld errno %d",
			 a.ret, a.err);
		close(uffd);
		goto out;
	}
	TAP_OK(!__atomic_load_n(&a.done, __ATOMIC_ACQUIRE), "uffd: REG_UMEM waits in the page fault", "returned %ld errno %d", a.ret, a.err);

	/* "vdpa dev del" resets the device: it must not wait for the pin */
	t0 = now_s();
	pid = fork();
	if (pid == 0) {
		execlp("vdpa", "vdpa", "dev", "del", "kd-uffd", (char *)NULL);
		_exit(127);
	}
	while (now_s() - t0 < 20) {
		if (waitpid(pid, &st, WNOHANG) == pid) {
			done = 1;
			break;
		}
		msleep_(20);
	}
	t1 = now_s();
	TAP_OK(done && WIFEXITED(st) && WEXITSTATUS(st) == 0,
	       "uffd: vdpa dev del completes while REG_UMEM is stalled", "%s after %.1f s",
	       done ? "failed" : "still waiting", t1 - t0);
	tap_diag("uffd: vdpa dev del took %.2f s", t1 - t0);
	/* release the stall: the pin then completes and REG_UMEM returns */
	close(uffd);
	if (!done)
		waitpid(pid, &st, 0);
	TAP_EQ(async_ioctl_wait(&a, 20000), 0, "uffd: REG_UMEM returns once the range is served");
	if (impl == IMPL_OURS)
		TAP_OK(a.ret < 0 && a.err == EINVAL, "uffd: REG_UMEM after the reset: EINVAL (no bounce map any more)",
		       "returned %ld errno %d", a.ret, a.err);
	if (a.ret == 0) {
		pthread_mutex_lock(&d.lock);
		d.r.umem = buf;
		pthread_mutex_unlock(&d.lock);
	}
out:
	dev_down();
}

/* ---- item 7 (bench): latency while the bounce area or the IOTLB switches -- */

/*
 * A cyclictest-like sampler: a SCHED_FIFO thread on CPU 0 wakes every
 * 200 us from an absolute hrtimer and records how late it ran.  While
 * interrupts are off on CPU 0 its timer cannot fire, so its worst lateness
 * during an operation run on CPU 0 bounds the longest IRQ-off (and
 * non-preemptible) window of that operation from above.  A userspace proxy:
 * Debian's kernel has no irqsoff tracer.
 */
/* the kernel's irqsoff tracer is on (see irqsoff_probe); -1: not probed yet */
static int irqsoff = -1;

static struct sampler {
	pthread_t th;
	int stop;		/* __atomic */
	long max_ns;		/* __atomic, reset by the measurer */
} smp;

static void pin_cpu0(void)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(0, &set);
	sched_setaffinity(0, sizeof(set), &set);
}

static void *sampler_main(void *arg)
{
	struct sched_param sp = { .sched_priority = 50 };
	struct timespec next, now;
	long late;

	(void)arg;
	pin_cpu0();
	sched_setscheduler(0, SCHED_FIFO, &sp);
	clock_gettime(CLOCK_MONOTONIC, &next);
	while (!__atomic_load_n(&smp.stop, __ATOMIC_ACQUIRE)) {
		next.tv_nsec += 200000;
		if (next.tv_nsec >= 1000000000) {
			next.tv_nsec -= 1000000000;
			next.tv_sec++;
		}
		clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &next, NULL);
		clock_gettime(CLOCK_MONOTONIC, &now);
		late = (now.tv_sec - next.tv_sec) * 1000000000L + now.tv_nsec - next.tv_nsec;
		if (late > __atomic_load_n(&smp.max_ns, __ATOMIC_RELAXED))
			__atomic_store_n(&smp.max_ns, late, __ATOMIC_RELAXED);
		if (late > 1000000)	/* fell behind: restart the period */
			next = now;
	}
	return NULL;
}

/*
 * With the irqsoff tracer there is no sampler: its timer interrupts every
 * 200 us on CPU 0 would only add IRQ-off sections of their own.
 */
static void sampler_start(void)
{
	pin_cpu0();
	if (irqsoff > 0)
		return;
	pthread_create(&smp.th, NULL, sampler_main, NULL);
	msleep_(50);
}

static void sampler_stop(void)
{
	if (irqsoff > 0)
		return;
	__atomic_store_n(&smp.stop, 1, __ATOMIC_RELEASE);
	pthread_join(smp.th, NULL);
}

/* Worst sampler lateness in ms over the idle interval MS (noise floor). */
static double sampler_idle(int ms)
{
	__atomic_store_n(&smp.max_ns, 0, __ATOMIC_RELAXED);
	msleep_(ms);
	return __atomic_load_n(&smp.max_ns, __ATOMIC_RELAXED) / 1e6;
}

/*
 * The kernel's irqsoff tracer, where the kernel has one (the debug kernel of
 * make check-debug, tests/vm/debug.config): the longest IRQ-off section since
 * tracing_max_latency was reset, measured by the kernel itself, and where it
 * started and ended. Traced on CPU 0 only, where the operations run, but
 * everything running there counts (interrupts, softirqs, the console): an
 * operation's figure is the worst section on CPU 0 while it ran, and the
 * idle figure before it says what CPU 0 does on its own.
 */
#define TRACING "/sys/kernel/tracing"

static int tr_write(const char *file, const char *val)
{
	char path[128];
	int fd, r = -1;

	snprintf(path, sizeof(path), TRACING "/%s", file);
	fd = open(path, O_WRONLY | O_TRUNC | O_CLOEXEC);
	if (fd >= 0) {
		r = write(fd, val, strlen(val)) == (ssize_t)strlen(val) ? 0 : -1;
		close(fd);
	}
	return r;
}

static int irqsoff_probe(void)
{
	char buf[512] = "";
	FILE *f;

	if (irqsoff >= 0)
		return irqsoff;
	irqsoff = 0;
	if (access(TRACING "/available_tracers", R_OK))
		mount("tracefs", TRACING, "tracefs", 0, NULL);
	f = fopen(TRACING "/available_tracers", "r");
	if (f) {
		if (!fgets(buf, sizeof(buf), f))
			buf[0] = 0;
		fclose(f);
	}
	/* CPU 0 only, where the operations run (pin_cpu0) */
	if (strstr(buf, "irqsoff") && !tr_write("current_tracer", "irqsoff") &&
	    !tr_write("tracing_cpumask", "1") && !tr_write("tracing_on", "1"))
		irqsoff = 1;
	tap_diag("irqsoff tracer: %s", irqsoff ? "on, CPU 0" : "not in this kernel (timer lateness only)");
	return irqsoff;
}

/*
 * Let the serial console drain what was printed (its interrupts would count)
 * and start a new maximum.
 */
static void irqsoff_reset(void)
{
	if (irqsoff <= 0)
		return;
	msleep_(300);
	tr_write("tracing_max_latency", "0");
}

/*
 * The worst IRQ-off section since the reset, in us (-1 without the tracer),
 * and in WHERE its start, end and the innermost frames of the stack at its end.
 */
static long irqsoff_read(char *where, size_t len)
{
	char line[512], start[128] = "?", end[128] = "?", stack[384] = "";
	long us = -1;
	FILE *f;
	int frames = 0;

	where[0] = 0;
	if (irqsoff <= 0)
		return -1;
	f = fopen(TRACING "/tracing_max_latency", "r");
	if (f) {
		if (fscanf(f, "%ld", &us) != 1)
			us = -1;
		fclose(f);
	}
	f = fopen(TRACING "/trace", "r");
	while (f && fgets(line, sizeof(line), f)) {
		char *p;

		line[strcspn(line, "\n")] = 0;
		if ((p = strstr(line, "=> started at:")))
			snprintf(start, sizeof(start), "%.100s", p + 15 + strspn(p + 15, " "));
		else if ((p = strstr(line, "=> ended at:")))
			snprintf(end, sizeof(end), "%.100s", p + 13 + strspn(p + 13, " "));
		else if (!strncmp(line, " => ", 4) && frames < 6) {
			size_t n = strlen(stack);

			snprintf(stack + n, sizeof(stack) - n, "%s%.56s", frames++ ? " < " : "", line + 4);
		}
	}
	if (f)
		fclose(f);
	snprintf(where, len, "started at %s, ended at %s; stack at its end: %s", start, end,
		 stack[0] ? stack : "?");
	return us;
}

/* Print the irqsoff figure of WHAT, if the kernel has the tracer. */
static void irqsoff_print(const char *what)
{
	char where[768];
	long us = irqsoff_read(where, sizeof(where));

	if (us >= 0)
		printf("# bench: irqsoff: %s: worst IRQ-off section %ld us (%s)\n", what, us, where);
}

/* Run REG or DEREG; its duration and the sampler's worst lateness, in ms. */
static int timed_umem(unsigned long cmd, void *buf, double *ms, double *late)
{
	double t;
	int r;

	__atomic_store_n(&smp.max_ns, 0, __ATOMIC_RELAXED);
	irqsoff_reset();
	t = now_s();
	r = umem_ioctl(cmd, buf);
	*ms = (now_s() - t) * 1000;
	msleep_(2);	/* let the sampler run once after the call */
	*late = __atomic_load_n(&smp.max_ns, __ATOMIC_RELAXED) / 1e6;
	return r;
}

/* Idle for MS: the sampler's noise floor, and the tracer's if there is one. */
static void idle_floor(int ms)
{
	double late;

	irqsoff_reset();
	late = sampler_idle(ms);
	if (irqsoff <= 0)
		printf("# bench: idle: worst timer lateness %.3f ms\n", late);
	irqsoff_print("idle");
}

/*
 * The largest bounce area (MiB, a multiple of 64, at most 1 GiB) whose
 * kernel pages plus the pinned user copy leave 256 MiB of MemAvailable.
 */
static int max_bounce_mib(void)
{
	char line[256];
	long kib = 0;
	FILE *f = fopen("/proc/meminfo", "r");
	int mib;

	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "MemAvailable: %ld kB", &kib) == 1)
			break;
	if (f)
		fclose(f);
	mib = (int)((kib / 1024 - 256) / 2) / 64 * 64;
	mib = mib > 1024 ? 1024 : mib < 64 ? 64 : mib;
	printf("# bench: MemAvailable %ld MiB: bounce area %d MiB\n", kib / 1024, mib);
	return mib;
}

static void cmd_bench_switch(int mib)
{
	uint64_t bounce = (uint64_t)mib << 20, off;
	size_t chunk = 1 << 20;
	double ms, late;
	int fd, i;
	uint8_t *buf = aligned_alloc(4096, chunk);

	fd = up_virtio("kd-bench", bounce);
	if (fd < 0 || !buf)
		goto out;
	/* every bounce page gets a kernel page: 1 MiB writes walk the area */
	fill(buf, chunk, 1);
	for (off = 0; off < bounce + bounce / 8; off += chunk)
		if (pwrite(fd, buf, chunk, off % (DISK_SIZE - chunk)) != (ssize_t)chunk)
			break;
	d.umem_buf = umem_alloc(bounce);
	TAP_OK(d.umem_buf, "bench: user bounce memory", NULL);
	sampler_start();
	idle_floor(1000);
	for (i = 0; i < 3 && d.umem_buf; i++) {
		char what[64];

		pthread_mutex_lock(&d.lock);
		if (!timed_umem(VDUSE_IOTLB_REG_UMEM, d.umem_buf, &ms, &late)) {
			printf("# bench: bounce %d MiB: REG_UMEM %.2f ms, worst timer lateness %.3f ms\n",
			       mib, ms, late);
			snprintf(what, sizeof(what), "REG_UMEM, bounce %d MiB", mib);
			irqsoff_print(what);
		}
		if (!timed_umem(VDUSE_IOTLB_DEREG_UMEM, d.umem_buf, &ms, &late)) {
			printf("# bench: bounce %d MiB: DEREG_UMEM %.2f ms, worst timer lateness %.3f ms\n",
			       mib, ms, late);
			snprintf(what, sizeof(what), "DEREG_UMEM, bounce %d MiB", mib);
			irqsoff_print(what);
		}
		pthread_mutex_unlock(&d.lock);
	}
	sampler_stop();
	close(fd);
out:
	free(buf);
	dev_down();
}

/* N consumer entries (4 KiB each, every other page) in one batch or N. */
static void cmd_bench_setmap(int n, int batched)
{
	char vpath[300];
	uint8_t *mem = MAP_FAILED;
	double t, ms, worst = 0;
	int vh = -1, i, bad = 0;
	size_t len = (size_t)n * 8192;

	if (dev_up("kd-bench", 4 << 20))
		goto out;
	TAP_EQ(vdpa_add("kd-bench"), 0, "bench: vdpa dev add");
	TAP_EQ(bind_to("kd-bench", "vhost_vdpa"), 0, "bench: bound to vhost_vdpa");
	if (vhost_path("kd-bench", vpath, sizeof(vpath)) == 0)
		vh = vh_open(vpath);
	mem = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
	if (vh < 0 || mem == MAP_FAILED) {
		TAP_OK(0, "bench: vhost-vdpa client", "%s", strerror(errno));
		goto out;
	}
	sampler_start();
	idle_floor(1000);
	__atomic_store_n(&smp.max_ns, 0, __ATOMIC_RELAXED);
	irqsoff_reset();
	t = now_s();
	if (batched && vh_iotlb(vh, 0, VHOST_IOTLB_BATCH_BEGIN, 0, 0, NULL, 0) != sizeof(struct vhost_msg_v2))
		bad++;
	for (i = 0; i < n; i++) {
		double t1 = now_s();

		if (vh_iotlb(vh, 0, VHOST_IOTLB_UPDATE, (uint64_t)i * 8192, 4096, mem + (size_t)i * 8192,
			     VHOST_ACCESS_RW) != sizeof(struct vhost_msg_v2))
			bad++;
		if (now_s() - t1 > worst)
			worst = now_s() - t1;
	}
	if (batched) {
		double t1 = now_s();

		if (vh_iotlb(vh, 0, VHOST_IOTLB_BATCH_END, 0, 0, NULL, 0) != sizeof(struct vhost_msg_v2))
			bad++;
		worst = now_s() - t1;
	}
	ms = (now_s() - t) * 1000;
	msleep_(2);
	TAP_EQ(bad, 0, "bench: every IOTLB message accepted");
	printf("# bench: %d entries %s: total %.1f ms, slowest set_map %.2f ms, worst timer lateness %.3f ms\n",
	       n, batched ? "in one batch" : "unbatched", ms, worst * 1000,
	       __atomic_load_n(&smp.max_ns, __ATOMIC_RELAXED) / 1e6);
	{
		char what[64];

		snprintf(what, sizeof(what), "set_map, %d entries %s", n, batched ? "in one batch" : "unbatched");
		irqsoff_print(what);
	}
	sampler_stop();
out:
	if (vh >= 0)
		close(vh);
	if (mem != MAP_FAILED)
		munmap(mem, len);
	dev_down();
}

static void cleanup_all(void)
{
	static const char *const names[] = { "kd-leak", "kd-umem", "kd-umw", "kd-vh", "kd-uffd", "kd-bench" };

	cleanup_names(-1, names, sizeof(names) / sizeof(names[0]));
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc > 2 && !strcmp(argv[1], "--impl")) {
		if (impl_parse(argv[2], &impl))
			return 2;
		argc -= 2;
		argv += 2;
	}
	if (argc < 2) {
		fprintf(stderr, "usage: kdomain [--impl IMPL] leak|umem|umem-write|vhost|uffd|bench-switch MIB|bench-setmap N batched|unbatched\n");
		return 2;
	}
	tap_diag("kdomain %s", argv[1]);
	cleanup_all();
	if (!strncmp(argv[1], "bench-", 6))
		irqsoff_probe();
	if (!strcmp(argv[1], "leak"))
		cmd_leak();
	else if (!strcmp(argv[1], "umem"))
		cmd_umem();
	else if (!strcmp(argv[1], "umem-write"))
		cmd_umem_write();
	else if (!strcmp(argv[1], "vhost"))
		cmd_vhost();
	else if (!strcmp(argv[1], "uffd"))
		cmd_uffd();
	else if (!strcmp(argv[1], "bench-switch") && argc == 3)
		cmd_bench_switch(!strcmp(argv[2], "max") ? max_bounce_mib() : atoi(argv[2]));
	else if (!strcmp(argv[1], "bench-setmap") && argc == 4)
		cmd_bench_setmap(atoi(argv[2]), !strcmp(argv[3], "batched"));
	else
		return 2;
	cleanup_all();
	return tap_done();
}
