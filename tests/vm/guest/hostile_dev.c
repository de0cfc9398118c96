// SPDX-License-Identifier: GPL-2.0
/*
 * hostile_dev: a VDUSE device that misbehaves, and what the kernel's other
 * side (vhost-vdpa, or virtio-blk through virtio-vdpa) makes of it.
 *
 *   hostile_dev --impl upstream|ours [--seconds S] [--umem-only]
 *
 * Each behaviour (B01..) runs on a fresh device named "hd-bad" and checks,
 * besides its own rule: the other side gets an error or a broken device
 * within a bound, never a hang (every wait is timed); no kernel warning
 * appears in dmesg during it; the device can be destroyed and its name
 * reused at once; and "hd-ok", a healthy virtio-blk device created before
 * the first behaviour and served by its own process, still does correct
 * O_DIRECT I/O afterwards. S (default 2) is how long each loop under I/O
 * runs; --umem-only runs hd-ok and B22 alone. If the I/O of a behaviour
 * hangs (its daemon died), a plain daemon takes the device over so the
 * I/O ends and the boot goes on (a failure all the same). The suite
 * loads virtio_vdpa, virtio_blk and vhost_vdpa; the program turns the vDPA
 * bus's autoprobe off and binds each device by hand.
 * Per-implementation differences are in expect_tab, with the reason.
 */
#define _GNU_SOURCE
#include <setjmp.h>
#include <sys/resource.h>
#include <sys/eventfd.h>
#include <linux/virtio_ring.h>
#include "rawvblk.h"
#include "tap.h"
#include "robust.h"
#include "vhost_vdpa_client.h"

static const struct expect {
	const char *name;
	/*
	 * VHOST_VDPA_SET_STATUS when the device dies on the SET_STATUS
	 * message: the call's errno, 0 if it reports success (set_status
	 * cannot fail in the vDPA ops; vhost-vdpa only checks a reset).
	 */
	int set_status_dead_errno;
	/*
	 * B22: a bounce page the daemon mapped (and faulted in) before
	 * REG_UMEM, read while umem is registered: 1 SIGBUS (ours zaps the
	 * bounce fd's mappings, so no mapping reaches a page the kernel no
	 * longer uses), 0 it still reads (upstream leaves the old kernel page
	 * mapped; what the daemon writes there is lost).
	 */
	int umem_old_bus;
} expect_tab[] = {
	[IMPL_UPSTREAM] = { "upstream", 0, 0 },
	[IMPL_STOCK612] = { "stock612", 0, 0 },
	[IMPL_OURS] = { "ours", 0, 1 },
};

static enum impl impl;
static const struct expect *X;
static double loop_secs = 2;
static int umem_only;	/* B22 alone (--umem-only, to study it) */
static int ctl = -1;
static int nbeh;

#define BAD "hd-bad"
#define OK_NAME "hd-ok"
#define BUFSZ 65536
#define DISK_SIZE (16u << 20)
#define QSIZE 128
/* Time a bounded wait may take on a loaded TCG guest, in ms. */
#define SLACK 15000

/* ---- a raw virtio-blk device served by a child process ------------------- */

enum { H_MAPS = 1, H_UMEM = 2, H_IRQ = 4, H_CFG = 8 };

/* Counters of the serving child, in memory shared with the test. */
struct srv_stats {
	long served, hostile_ok, hostile_err;
	long umem_fd_ok, umem_fd_bus, sigbus;	/* bounce fd reads with umem in place: fine / SIGBUS */
	uint64_t bus_iova;	/* IOVA of the daemon's last SIGBUS in its data path, or ~0 */
	int bus_umem;		/* umem was registered then */
	/* a bounce page mapped before REG_UMEM, read while registered: fine / SIGBUS */
	long umem_old_ok, umem_old_bus;
	int ready, last_err;
	uint64_t data_iova;
};

/* The serving child's state (one device per child): tests/include/rawvblk.h's. */
static struct srv {
	struct rvb r;
	int fd, flags;			/* fd: r.fd */
	int resume;	/* a new daemon for a device whose I/O waits: start at used->idx */
	struct srv_stats *st;
	/*
	 * H_UMEM: while umem backs AS 0's bounce area [ub_start, ub_last],
	 * the daemon reads and writes it there (upstream's bounce fd gives
	 * SIGBUS meanwhile); umem_lock keeps a request and a (de)registration
	 * apart, as a real daemon must.
	 */
	pthread_mutex_t umem_lock;
	int umem_on;
	uint8_t *umem;
	uint64_t ub_start, ub_last;
} S = { .umem_lock = PTHREAD_MUTEX_INITIALIZER };

/* One DESTROY_DEV, no retry (dev_destroy() retries EBUSY for 2 s). */
static int destroy_once(const char *name)
{
	char n[VDUSE_NAME_MAX] = { 0 };

	snprintf(n, sizeof(n), "%s", name);
	return ioctl(ctl, VDUSE_DESTROY_DEV, n);
}

static void srv_die(const char *what)
{
	printf("# hd device %d: %s: %s\n", getpid(), what, strerror(errno));
	fflush(stdout);
	_exit(3);
}

/* volatile: a plain store before the guarded read would be dropped as dead */
static __thread sigjmp_buf *volatile bus_jmp;
static __thread uintptr_t bus_addr;

/* Note where the daemon's last SIGBUS hit (an IOVA of its regions). */
static void srv_note_bus(void)
{
	int i;

	S.st->bus_iova = ~0ull;
	S.st->bus_umem = S.umem_on;
	for (i = 0; i < S.r.nreg; i++)
		if (bus_addr >= (uintptr_t)S.r.reg[i].addr &&
		    bus_addr - (uintptr_t)S.r.reg[i].addr <= S.r.reg[i].last - S.r.reg[i].start)
			S.st->bus_iova = S.r.reg[i].start + (bus_addr - (uintptr_t)S.r.reg[i].addr);
}

/*
 * rvb_blk_chain(), but a SIGBUS on the daemon's own mappings fails the request
 * (counted) instead of killing the daemon, which would leave the I/O
 * waiting for ever; the mappings but the rings' (the serve loop goes on
 * with them) are then dropped and looked up again.
 */
static __attribute__((noinline)) uint32_t srv_chain_guarded(struct rvb *r, uint16_t head)
{
	sigjmp_buf j, *volatile outer = bus_jmp;
	uint32_t len = 0;

	if (!sigsetjmp(j, 1)) {
		bus_jmp = &j;
		len = rvb_blk_chain(r, head);
		__atomic_store_n(&S.st->data_iova, r->last_iova, __ATOMIC_RELAXED);
	} else {
		S.st->sigbus++;
		srv_note_bus();
		rvb_trim(r);
	}
	bus_jmp = outer;
	S.st->served++;
	return len;
}

/* The serve loop; a SIGBUS on the rings is counted and the rings looked up again. */
static __attribute__((noinline)) void srv_process_guarded(void)
{
	sigjmp_buf j;

	/* the user memory the hostile thread put in place (caller holds umem_lock) */
	S.r.umem = S.umem_on ? S.umem : NULL;
	S.r.umem_start = S.ub_start;
	S.r.umem_last = S.ub_last;
	if (!sigsetjmp(j, 1)) {
		bus_jmp = &j;
		rvb_serve(&S.r, srv_chain_guarded, NULL);
	} else {
		S.st->sigbus++;
		srv_note_bus();
		rvb_reset(&S.r);
		rvb_vq_start(&S.r);
	}
	bus_jmp = NULL;
}

/* SIGBUS: expected only inside touch(); anywhere else the daemon says so and dies. */
static void on_sigbus(int sig, siginfo_t *si, void *uc)
{
	static const char msg[] = "# hd device: SIGBUS outside touch()\n";

	bus_addr = (uintptr_t)si->si_addr;
	if (bus_jmp)
		siglongjmp(*bus_jmp, 1);
	(void)!write(1, msg, sizeof(msg) - 1);
	_exit(4);
}

/* Read one byte; 0, or -1 on SIGBUS (a bounce page never filled, or umem in place). */
static __attribute__((noinline)) int touch(volatile const uint8_t *p)
{
	sigjmp_buf j;
	int r = -1;

	if (!sigsetjmp(j, 1)) {
		bus_jmp = &j;
		(void)*p;
		r = 0;
	}
	bus_jmp = NULL;
	return r;
}

/* Map IOVA's page through the bounce fd (GET_FD2): its address, or NULL. */
static volatile uint8_t *map_iova(uint64_t iova, void **base, size_t *len)
{
	struct vduse_iotlb_entry_v2 e;
	void *p;
	int gfd;

	gfd = rvb_get_fd(&S.r, iova, iova, &e);
	if (gfd < 0)
		return NULL;
	*len = e.last - e.start + 1;
	p = mmap(NULL, *len, PROT_READ, MAP_SHARED, gfd, e.offset);
	close(gfd);
	if (p == MAP_FAILED)
		return NULL;
	*base = p;
	return (uint8_t *)p + (iova - e.start);
}

/* Map IOVA's page through the bounce fd (GET_FD2) and read it: 0, -1 SIGBUS, -2 no map. */
static int touch_iova(uint64_t iova)
{
	volatile uint8_t *p;
	void *base;
	size_t len;
	int r;

	p = map_iova(iova, &base, &len);
	if (!p)
		return -2;
	r = touch(p);
	munmap(base, len);
	return r;
}

/*
 * The hostile thread of a serving child: until killed, one of the loops of
 * flags (H_MAPS, H_UMEM, H_IRQ, H_CFG) against the device it serves.
 */
static void *srv_hostile(void *arg)
{
	union {
		struct vduse_config_data d;
		struct {
			FLEX_HEAD(struct vduse_config_data);
			uint64_t capacity;
		};
	} c;
	struct vduse_iova_info ii;
	struct vduse_iova_umem um;
	void *mem = NULL, *old_base = NULL;
	volatile uint8_t *old = NULL;
	size_t old_len = 0;
	unsigned long it = 0;

	for (;; it++) {
		int r = 0;

		if (S.flags & H_MAPS) {
			/* the bounce page of the last buffer seen, mapped, read and unmapped */
			r = touch_iova(__atomic_load_n(&S.st->data_iova, __ATOMIC_RELAXED) & ~4095ull);
			r = r == -2 ? -1 : 0;
		} else if (S.flags & H_UMEM) {
			memset(&ii, 0, sizeof(ii));
			ii.last = ~0ull;
			r = ioctl(S.fd, VDUSE_IOTLB_GET_INFO, &ii);
			if (!r && !(ii.capability & VDUSE_IOVA_CAP_UMEM)) {
				errno = ENXIO;	/* the bounce area is not there yet */
				r = -1;
			}
			if (!r && !mem) {
				mem = mmap(NULL, ii.last - ii.start + 1, PROT_READ | PROT_WRITE,
					   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
				if (mem == MAP_FAILED)
					srv_die("umem buffer");
			}
			if (!r) {
				/* a bounce page mapped and faulted in before the registration */
				old = map_iova(__atomic_load_n(&S.st->data_iova, __ATOMIC_RELAXED) & ~4095ull,
					       &old_base, &old_len);
				if (old && touch(old)) {
					munmap(old_base, old_len);
					old = NULL;
				}
				memset(&um, 0, sizeof(um));
				um.uaddr = (uintptr_t)mem;
				um.iova = ii.start;
				um.size = ii.last - ii.start + 1;
				pthread_mutex_lock(&S.umem_lock);
				r = ioctl(S.fd, VDUSE_IOTLB_REG_UMEM, &um);
				if (!r) {
					S.umem = mem;
					S.ub_start = ii.start;
					S.ub_last = ii.last;
					S.umem_on = 1;
				}
				pthread_mutex_unlock(&S.umem_lock);
				if (!r) {
					/* what the bounce fd gives while umem is in place */
					int t = touch_iova(__atomic_load_n(&S.st->data_iova, __ATOMIC_RELAXED) & ~4095ull);

					if (t == 0)
						S.st->umem_fd_ok++;
					else if (t == -1)
						S.st->umem_fd_bus++;
					/* and the page mapped before: reached, or zapped */
					if (old && touch(old) == 0)
						S.st->umem_old_ok++;
					else if (old)
						S.st->umem_old_bus++;
					msleep_(it % 5);
					pthread_mutex_lock(&S.umem_lock);
					r = ioctl(S.fd, VDUSE_IOTLB_DEREG_UMEM, &um);
					if (!r)
						S.umem_on = 0;
					pthread_mutex_unlock(&S.umem_lock);
				}
				if (old)
					munmap(old_base, old_len);
				old = NULL;
			}
		} else if (S.flags & H_IRQ) {
			r = ioctl(S.fd, VDUSE_VQ_INJECT_IRQ, &(uint32_t){ 0 });
			if (it % 16 == 0 && !r)
				r = ioctl(S.fd, VDUSE_DEV_INJECT_CONFIG_IRQ);
		} else if (S.flags & H_CFG) {
			memset(&c, 0, sizeof(c));
			c.d.offset = offsetof(struct virtio_blk_config, capacity);
			c.d.length = sizeof(c.capacity);
			c.capacity = DISK_SIZE / 512;
			r = ioctl(S.fd, VDUSE_DEV_SET_CONFIG, &c);
			if (it % 16 == 0 && !r)
				r = ioctl(S.fd, VDUSE_DEV_INJECT_CONFIG_IRQ);
		}
		if (r < 0) {
			__atomic_add_fetch(&S.st->hostile_err, 1, __ATOMIC_RELAXED);
			S.st->last_err = errno;
			msleep_(1);
		} else {
			__atomic_add_fetch(&S.st->hostile_ok, 1, __ATOMIC_RELAXED);
		}
	}
	return NULL;
}

static void srv_main(const char *name)
{
	pthread_t th;

	S.r.get_fd2 = 1;
	S.r.unknown_ok = 1;
	S.r.resume = S.resume;
	if (rvb_open(&S.r, name, QSIZE))
		srv_die("open the device, VQ_SETUP");
	S.fd = S.r.fd;
	/* umem pins the whole bounce area (64 MiB) */
	if ((S.flags & H_UMEM) && setrlimit(RLIMIT_MEMLOCK, &(struct rlimit){ RLIM_INFINITY, RLIM_INFINITY }))
		srv_die("RLIMIT_MEMLOCK");
	S.r.disk = mmap(NULL, DISK_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	S.r.disk_size = DISK_SIZE;
	if (S.r.disk == MAP_FAILED)
		srv_die("set-up");
	sigaction(SIGBUS, &(struct sigaction){ .sa_sigaction = on_sigbus, .sa_flags = SA_SIGINFO }, NULL);
	if (S.resume && rvb_vq_start(&S.r))
		srv_die("resume the vq");
	if (S.flags && pthread_create(&th, NULL, srv_hostile, NULL))
		srv_die("hostile thread");
	__atomic_store_n(&S.st->ready, 1, __ATOMIC_RELEASE);
	for (;;) {
		int ev = rvb_wait(&S.r, 50);

		if (ev < 0)
			srv_die("device broken");
		if ((ev & RVB_EV_MSG) && rvb_msg(&S.r))
			srv_die("control message");
		pthread_mutex_lock(&S.umem_lock);
		srv_process_guarded();
		pthread_mutex_unlock(&S.umem_lock);
	}
}

/* A served blk device NAME (created here) with hostile FLAGS. */
struct blkdev {
	const char *name;
	pid_t pid;
	struct srv_stats *st;
};

static struct {
	const char *name, *drv;
} add_args;

static long do_add(void *arg)
{
	return vdpa_add_to(add_args.name, add_args.drv);
}

static int blkdev_up(struct blkdev *b, const char *name, int flags, const char *drv)
{
	struct acall add;
	struct devcfg cfg;
	double end;

	memset(b, 0, sizeof(*b));
	b->name = name;
	b->st = mmap(NULL, sizeof(*b->st), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (b->st == MAP_FAILED)
		return -1;
	memset(b->st, 0, sizeof(*b->st));
	blk_cfg(&cfg, name, 1, 1, 1);
	cfg.c.features |= 1ull << VIRTIO_BLK_F_SEG_MAX;
	cfg.blk.capacity = DISK_SIZE / 512;
	cfg.blk.seg_max = QSIZE - 2;
	if (ioctl(ctl, VDUSE_CREATE_DEV, &cfg)) {
		tap_diag("CREATE_DEV %s: %s", name, strerror(errno));
		return -1;
	}
	sysfs_write(name, "msg_timeout", "2");	/* a dead device costs seconds, not 30 */
	fflush(stdout);
	b->pid = fork();
	if (b->pid == 0) {
		close(ctl);
		S.flags = flags;
		S.st = b->st;
		srv_main(name);
	}
	end = now_s() + 10;
	while (!__atomic_load_n(&b->st->ready, __ATOMIC_ACQUIRE) && now_s() < end)
		msleep_(5);
	if (!b->st->ready)
		return -1;
	/* a daemon that dies during the probe's first I/O hangs the probe for ever */
	add_args.name = name;
	add_args.drv = drv;
	if (acall_start(&add, do_add, &add_args))
		return -1;
	if (acall_wait(&add, 30000)) {
		TAP_OK(0, "vdpa dev add returns", "%s: the bus driver's probe hangs (its daemon died?): "
		       "the vDPA bus is locked, stopping here", name);
		exit(tap_done());
	}
	return add.ret ? -1 : 0;
}

/*
 * Replace B's daemon (dead, or wedged: it is killed) by a plain one that
 * takes the device over where the driver waits (VDUSE's reconnection).
 * Its disk is blank: this only lets waiting I/O end, so the device can go.
 */
static int blkdev_resume(struct blkdev *b)
{
	double end;

	kill_reap(b->pid, SLACK);
	__atomic_store_n(&b->st->ready, 0, __ATOMIC_RELEASE);
	fflush(stdout);
	b->pid = fork();
	if (b->pid == 0) {
		close(ctl);
		S.resume = 1;
		S.st = b->st;
		srv_main(b->name);
	}
	end = now_s() + 10;
	while (!__atomic_load_n(&b->st->ready, __ATOMIC_ACQUIRE) && now_s() < end)
		msleep_(5);
	return b->pid > 0 && b->st->ready ? 0 : -1;
}

/* Unbind, stop the child, destroy; 0 if all went well. */
static int blkdev_down(struct blkdev *b)
{
	int r = 0;

	if (vdpa_exists(b->name))
		r |= vdpa_del(b->name);
	r |= kill_reap(b->pid, SLACK);
	r |= dev_destroy(ctl, b->name);
	if (b->st && b->st != MAP_FAILED)
		munmap(b->st, sizeof(*b->st));
	b->st = NULL;
	return r ? -1 : 0;
}

/* ---- the frame around each behaviour -------------------------------------- */

static struct blkdev healthy;
static int warn_mark;
static char cur[160];

static void beh_begin(const char *what)
{
	nbeh++;
	snprintf(cur, sizeof(cur), "B%02d %s", nbeh, what);
	tap_diag("---- %s", cur);
	warn_mark = kwarn_count();
}

/* NAME prefixed with the current behaviour, for TAP lines. */
static const char *N(const char *name)
{
	static char buf[8][400];
	static int i;

	i = (i + 1) % 8;
	snprintf(buf[i], sizeof(buf[i]), "%s: %s", cur, name);
	return buf[i];
}

/*
 * The common checks after a behaviour: its device is gone already (the
 * behaviour destroyed it); the name can be taken again; hd-ok still serves
 * I/O; no kernel warning appeared.
 */
static void beh_end(void)
{
	struct devcfg cfg;
	struct blkio_res res;
	int r, w;

	blk_cfg(&cfg, BAD, 1, 1, 1);
	r = ioctl(ctl, VDUSE_CREATE_DEV, &cfg);
	TAP_OK(r == 0 && dev_destroy(ctl, BAD) == 0, N("the name is free again (CREATE_DEV + DESTROY_DEV)"),
	       "%s", strerror(errno));
	r = blk_io(OK_NAME, 0, SLACK, &res);
	TAP_OK(r == 0 && res.rounds > 0 && !res.errors && !res.mismatches,
	       N("the healthy device still does correct I/O"),
	       "%s, %ld rounds, %ld errors (last %s), %ld mismatches", r ? "hung" : "finished",
	       res.rounds, res.errors, strerror(res.last_errno), res.mismatches);
	w = kwarn_count();
	TAP_EQ(w - warn_mark, 0, N("no kernel warning"));
}

/* ---- vhost-vdpa side: a raw device whose answers the test writes -------- */

struct vdev {
	int fd, vh;
	struct responder r;
	int r_on;
	char vpath[300];
};

/* hd-bad: v1 blk, 2 vqs, vq 1 alone in group 1, 2 AS, on vhost-vdpa. */
static int vdev_up(struct vdev *d, const char *tmo)
{
	struct vduse_vq_config vq;
	struct devcfg cfg;
	uint32_t i;

	memset(d, 0, sizeof(*d));
	d->fd = d->vh = -1;
	blk_cfg(&cfg, BAD, 2, 2, 2);
	if (ioctl(ctl, VDUSE_CREATE_DEV, &cfg)) {
		TAP_OK(0, N("set-up: CREATE_DEV"), "%s", strerror(errno));
		return -1;
	}
	d->fd = dev_open(BAD);
	for (i = 0; d->fd >= 0 && i < 2; i++) {
		memset(&vq, 0, sizeof(vq));
		vq.index = i;
		vq.max_size = 64;
		vq.group = i;
		if (ioctl(d->fd, VDUSE_VQ_SETUP, &vq))
			break;
	}
	if (d->fd < 0 || i < 2 || sysfs_write(BAD, "msg_timeout", tmo) ||
	    responder_start(&d->r, d->fd)) {
		TAP_OK(0, N("set-up: open, VQ_SETUP, msg_timeout, responder"), "%s", strerror(errno));
		return -1;
	}
	d->r_on = 1;
	if (vdpa_add_to(BAD, "vhost_vdpa") || vhost_path(BAD, d->vpath, sizeof(d->vpath))) {
		TAP_OK(0, N("set-up: bound to vhost_vdpa"), NULL);
		return -1;
	}
	d->vh = vh_open(d->vpath);
	if (d->vh < 0) {
		TAP_OK(0, N("set-up: open vhost-vdpa"), "%s", strerror(errno));
		return -1;
	}
	return 0;
}

/* Close everything and destroy hd-bad, checking that it goes. */
static void vdev_down(struct vdev *d)
{
	int r = 0;

	if (d->vh >= 0)
		close(d->vh);
	if (d->r_on)
		responder_resume(&d->r, d->fd);
	if (vdpa_exists(BAD))
		r = run_cmd("timeout 20 vdpa dev del " BAD);
	TAP_OK(r == 0 && !vdpa_exists(BAD), N("vdpa dev del"), "exit %d", r);
	if (d->r_on)
		responder_stop(&d->r);
	if (d->fd >= 0)
		close(d->fd);
	TAP_SYS(dev_destroy(ctl, BAD), N("DESTROY_DEV"));
}

static long do_vring_base(void *arg)
{
	struct vhost_vring_state s = { .index = 0 };

	return ioctl(*(int *)arg, VHOST_GET_VRING_BASE, &s);
}

static long do_group_asid(void *arg)
{
	return vh_set_group_asid(*(int *)arg, 1, 1);
}

static void *membuf(void)
{
	void *p = mmap(NULL, BUFSZ, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		return NULL;
	memset(p, 0x5a, BUFSZ);
	return p;
}

static void *vbuf;

/*
 * One UPDATE outside a batch: vhost-vdpa calls set_map at once and reports
 * its failure (at BATCH_END it drops set_map's result, on every kernel).
 */
static long do_map(void *arg)
{
	ssize_t r = vh_iotlb(*(int *)arg, 0, VHOST_IOTLB_UPDATE, 0x100000, BUFSZ, vbuf, VHOST_ACCESS_RW);

	return r == sizeof(struct vhost_msg_v2) ? 0 : -1;
}

static long do_status(void *arg)
{
	return vh_set_status(*(int *)arg, VIRTIO_CONFIG_S_ACKNOWLEDGE);
}

/* Read the next request of the (paused) responder's fd within MS; 0 if read. */
static int read_req(int fd, struct vduse_dev_request *q, int ms)
{
	if (!(poll_wait(fd, POLLIN, ms) & POLLIN))
		return -1;
	return read(fd, q, sizeof(*q)) == sizeof(*q) ? 0 : -1;
}

static ssize_t answer(int fd, uint32_t id, uint32_t result)
{
	struct vduse_dev_response a;

	memset(&a, 0, sizeof(a));
	a.request_id = id;
	a.result = result;
	return write(fd, &a, sizeof(a));
}

/* The device is broken: POLLERR, and a vhost-vdpa call fails at once. */
static void check_broken(struct vdev *d)
{
	struct vhost_vring_state s = { .index = 0 };
	double t0;
	int r, e, ev = poll_wait(d->fd, POLLIN, 0);

	TAP_OK(ev & POLLERR, N("the device is broken (POLLERR)"), "revents 0x%x", ev);
	t0 = now_s();
	r = ioctl(d->vh, VHOST_GET_VRING_BASE, &s);
	e = errno;
	TAP_OK(r < 0 && e == EIO && now_s() - t0 < 1, N("vhost-vdpa's next call fails at once with EIO"),
	       "returned %d errno %d after %.1f s", r, r < 0 ? e : 0, now_s() - t0);
}

static void check_not_broken(struct vdev *d)
{
	struct vduse_vq_info info = { .index = 0 };
	int ev = poll_wait(d->fd, POLLIN, 0);

	TAP_OK(!(ev & POLLERR), N("the device is not broken (no POLLERR)"), "revents 0x%x", ev);
	TAP_SYS(ioctl(d->fd, VDUSE_VQ_GET_INFO, &info), N("the device's ioctls still work"));
}

/* B: never answers, msg_timeout = 1 s. */
static void beh_no_answer(void)
{
	struct vdev d;
	struct acall a;
	double t0;

	beh_begin("never answers (msg_timeout 1 s)");
	if (vdev_up(&d, "1") == 0) {
		responder_set_policy(&d.r, VDUSE_GET_VQ_STATE, REPLY_NONE);
		t0 = now_s();
		acall_start(&a, do_vring_base, &d.vh);
		if (acall_wait(&a, SLACK)) {
			TAP_OK(0, N("GET_VRING_BASE returns"), "still blocked after %d ms", SLACK);
		} else {
			TAP_OK(a.ret < 0 && a.err == EIO && now_s() - t0 > 0.5,
			       N("GET_VRING_BASE fails with EIO after msg_timeout"),
			       "returned %ld errno %d after %.1f s", a.ret, a.err, now_s() - t0);
			responder_pause(&d.r);
			check_broken(&d);
			TAP_ERRNO(ioctl(d.fd, VDUSE_VQ_SETUP_KICKFD, &(struct vduse_vq_eventfd){ .fd = -1 }),
				  EPERM, N("device-fd ioctls: EPERM"));
		}
	}
	vdev_down(&d);
	beh_end();
}

/*
 * msg_timeout = 0 waits for ever: the caller blocks (killably) and the
 * device is not marked broken; a fatal signal ends the wait.
 */
static void beh_no_answer_forever(void)
{
	struct vdev d;
	pid_t pid;
	int st, mark;

	beh_begin("never answers (msg_timeout 0: wait for ever)");
	if (vdev_up(&d, "0") == 0) {
		close(d.vh);
		d.vh = -1;
		responder_set_policy(&d.r, VDUSE_GET_VQ_STATE, REPLY_NONE);
		mark = responder_mark(&d.r);
		fflush(stdout);
		pid = fork();
		if (pid == 0) {
			int vh = vh_open(d.vpath);

			if (vh >= 0)
				do_vring_base(&vh);
			_exit(0);
		}
		msleep_(2500);
		TAP_EQ(responder_count(&d.r, mark, VDUSE_GET_VQ_STATE), 1, N("the request reached the device"));
		TAP_OK(waitpid(pid, &st, WNOHANG) == 0, N("the caller still waits after 2.5 s"), NULL);
		TAP_EQ(kill_reap(pid, SLACK), 0, N("SIGKILL ends the caller's wait"));
		responder_set_policy(&d.r, VDUSE_GET_VQ_STATE, REPLY_OK);
		responder_pause(&d.r);
		check_not_broken(&d);
		responder_resume(&d.r, d.fd);
		d.vh = vh_open(d.vpath);
		TAP_SYS(d.vh >= 0 ? do_vring_base(&d.vh) : -1, N("the next call is answered"));
	}
	vdev_down(&d);
	beh_end();
}

/* B: answers RESULT (FAILED or 7) to TYPE, provoked by FN: the call fails, not broken. */
static void beh_refuses(uint32_t type, const char *what, long (*fn)(void *), uint32_t result)
{
	struct vdev d;
	struct acall a;
	char nm[200];

	beh_begin(what);
	if (vdev_up(&d, "5") == 0) {
		responder_set_policy(&d.r, type, result == VDUSE_REQ_RESULT_FAILED ? REPLY_FAILED : REPLY_BOGUS);
		acall_start(&a, fn, &d.vh);
		if (acall_wait(&a, SLACK)) {
			TAP_OK(0, N("the call returns"), "blocked");
		} else {
			snprintf(nm, sizeof(nm), "the call fails (errno %d)", a.ret < 0 ? a.err : 0);
			TAP_OK(a.ret < 0, N(nm), "returned %ld", a.ret);
			tap_diag("%s: errno %d (%s)", cur, a.err, strerror(a.err));
		}
		responder_set_policy(&d.r, type, REPLY_OK);
		responder_pause(&d.r);
		check_not_broken(&d);
		responder_resume(&d.r, d.fd);
		TAP_SYS(fn(&d.vh), N("the same call succeeds once the device answers OK"));
	}
	vdev_down(&d);
	beh_end();
}

enum garbage { G_UNKNOWN_ID, G_RESERVED, G_SHORT, G_WRONG_TYPE, G_TWICE, G_LATE };

/*
 * B: the device reads a GET_VQ_STATE request itself and answers it badly,
 * then (except G_LATE) properly; the caller's result follows the proper
 * answer, the bad one is refused with its errno.
 */
static void beh_garbage(enum garbage g, const char *what)
{
	struct vduse_dev_request q;
	struct vduse_dev_response a;
	struct vdev d;
	struct acall ac;

	beh_begin(what);
	if (vdev_up(&d, g == G_LATE ? "1" : "5") == 0) {
		responder_pause(&d.r);
		acall_start(&ac, do_vring_base, &d.vh);
		if (read_req(d.fd, &q, SLACK) || q.type != VDUSE_GET_VQ_STATE) {
			TAP_OK(0, N("the device reads the GET_VQ_STATE request"), "type %u", q.type);
		} else {
			memset(&a, 0, sizeof(a));
			a.request_id = q.request_id;
			a.result = VDUSE_REQ_RESULT_OK;
			a.vq_state.index = q.vq_state.index;
			a.vq_state.split.avail_index = 0x1234;
			switch (g) {
			case G_UNKNOWN_ID:
				TAP_ERRNO(answer(d.fd, q.request_id + 1000, VDUSE_REQ_RESULT_OK), ENOENT,
					  N("an answer to an unknown request_id: ENOENT"));
				break;
			case G_RESERVED:
				a.reserved[2] = 1;
				TAP_ERRNO(write(d.fd, &a, sizeof(a)), EINVAL, N("an answer with reserved != 0: EINVAL"));
				a.reserved[2] = 0;
				break;
			case G_SHORT:
				TAP_ERRNO(write(d.fd, &a, sizeof(a) - 1), EINVAL, N("a short answer: EINVAL"));
				break;
			case G_WRONG_TYPE:
				/* the right id, a payload for another vq, junk in it */
				a.vq_state.index = 99;
				memset(&a.vq_state.packed, 0xff, sizeof(a.vq_state.packed));
				TAP_EQ(write(d.fd, &a, sizeof(a)), sizeof(a),
				       N("an answer carrying another vq's junk state is taken"));
				TAP_EQ(acall_wait(&ac, SLACK), 0, N("the caller returns"));
				TAP_OK(ac.ret == 0, N("the caller gets the device's word, whatever it is"),
				       "returned %ld errno %d", ac.ret, ac.err);
				break;
			case G_TWICE:
				break;
			case G_LATE:
				msleep_(1000);
				TAP_EQ(acall_wait(&ac, SLACK), 0, N("the caller gives up after msg_timeout"));
				TAP_OK(ac.ret < 0 && ac.err == EIO, N("the caller's error is EIO"),
				       "returned %ld errno %d", ac.ret, ac.err);
				TAP_ERRNO(write(d.fd, &a, sizeof(a)), ENOENT, N("the late answer: ENOENT"));
				check_broken(&d);
				break;
			}
			if (g != G_LATE && g != G_WRONG_TYPE) {
				TAP_EQ(write(d.fd, &a, sizeof(a)), sizeof(a), N("the proper answer is taken"));
				TAP_EQ(acall_wait(&ac, SLACK), 0, N("the caller returns"));
				TAP_OK(ac.ret == 0, N("the caller gets the proper answer"),
				       "returned %ld errno %d", ac.ret, ac.err);
			}
			if (g == G_TWICE)
				TAP_ERRNO(write(d.fd, &a, sizeof(a)), ENOENT, N("the same answer again: ENOENT"));
			if (g != G_LATE)
				check_not_broken(&d);
		}
		if (!__atomic_load_n(&ac.done, __ATOMIC_ACQUIRE) && acall_wait(&ac, SLACK))
			TAP_OK(0, N("the caller returns"), "blocked");
	}
	vdev_down(&d);
	beh_end();
}

/*
 * B: the device's process dies (exit, its fd closed by the kernel) while it
 * holds a request of TYPE, provoked by FN. Nobody answers: the caller gets
 * an error after msg_timeout, the device is broken; with REOPEN another
 * process opens the fd, reads the re-queued request and answers it, and
 * the caller succeeds.
 */
static void beh_dies(uint32_t type, const char *what, long (*fn)(void *), int reopen)
{
	struct vdev d;
	struct acall a;
	pid_t pid;
	int p[2], st;
	char c;

	beh_begin(what);
	if (vdev_up(&d, reopen ? "10" : "1") == 0) {
		responder_stop(&d.r);
		d.r_on = 0;
		close(d.fd);
		d.fd = -1;
		if (pipe(p))
			p[0] = p[1] = -1;
		fflush(stdout);
		pid = fork();
		if (pid == 0) {
			/* the dying device: answers OK until TYPE, then exits holding it */
			int fd = dev_open(BAD);
			struct vduse_dev_request q;

			(void)!write(p[1], "r", 1);
			for (;;) {
				if (fd < 0 || read_req(fd, &q, 30000))
					_exit(1);
				if (q.type == type)
					_exit(0);
				answer(fd, q.request_id, VDUSE_REQ_RESULT_OK);
			}
		}
		close(p[1]);
		(void)!read(p[0], &c, 1);
		close(p[0]);
		acall_start(&a, fn, &d.vh);
		st = wait_pid_ms(pid, SLACK);
		TAP_OK(st >= 0 && WIFEXITED(st) && WEXITSTATUS(st) == 0,
		       N("the device process got the request and exited"), "status 0x%x", st);
		if (reopen) {
			struct vduse_dev_request q;
			int fd = dev_open(BAD);

			TAP_SYS(fd, N("another process opens the device fd"));
			TAP_OK(fd >= 0 && read_req(fd, &q, SLACK) == 0 && q.type == type,
			       N("it reads the re-queued request"), "type %u", q.type);
			TAP_EQ(fd >= 0 ? answer(fd, q.request_id, VDUSE_REQ_RESULT_OK) : -1,
			       sizeof(struct vduse_dev_response), N("and answers it"));
			TAP_EQ(acall_wait(&a, SLACK), 0, N("the caller returns"));
			TAP_OK(a.ret == 0, N("the caller succeeds"), "returned %ld errno %d", a.ret, a.err);
			d.fd = fd;
			if (fd >= 0 && !responder_start(&d.r, fd))
				d.r_on = 1;
		} else {
			TAP_EQ(acall_wait(&a, SLACK), 0, N("the caller returns (msg_timeout 1 s)"));
			if (type == VDUSE_SET_STATUS)
				TAP_OK(a.ret < 0 ? a.err == X->set_status_dead_errno : X->set_status_dead_errno == 0,
				       N("SET_STATUS's result is as expected for this implementation"),
				       "returned %ld errno %d", a.ret, a.err);
			else
				TAP_OK(a.ret < 0, N("the caller fails"), "returned %ld", a.ret);
			tap_diag("%s: the call returned %ld errno %d (%s)", cur, a.ret, a.err, strerror(a.err));
			d.fd = dev_open(BAD);
			TAP_SYS(d.fd, N("the device fd opens again"));
			if (d.fd >= 0) {
				struct vhost_vring_state s = { .index = 0 };
				int ev = poll_wait(d.fd, POLLIN, 0);

				TAP_OK(ev & POLLERR, N("the device is broken (POLLERR)"), "revents 0x%x", ev);
				TAP_ERRNO(ioctl(d.vh, VHOST_GET_VRING_BASE, &s), EIO,
					  N("vhost-vdpa's next call: EIO"));
			}
		}
	}
	vdev_down(&d);
	beh_end();
}

/*
 * B: DESTROY_DEV while vhost-vdpa is bound and open: EBUSY; "vdpa dev del"
 * waits for vhost-vdpa's opener and completes once it closes.
 */
static long do_del(void *arg)
{
	return run_cmd("vdpa dev del " BAD);
}

static void beh_destroy_vhost(void)
{
	struct vdev d;
	struct acall del;
	int r;

	beh_begin("destroyed while vhost-vdpa is bound and open");
	if (vdev_up(&d, "5") == 0) {
		TAP_ERRNO(destroy_once(BAD), EBUSY, N("DESTROY_DEV: EBUSY"));
		/* in a thread: a forked child would hold vhost-vdpa open itself */
		acall_start(&del, do_del, NULL);
		msleep_(1000);
		tap_diag("%s: vdpa dev del %s with vhost-vdpa open", cur,
			 __atomic_load_n(&del.done, __ATOMIC_ACQUIRE) ? "returned" : "waits");
		close(d.vh);
		d.vh = -1;
		r = acall_wait(&del, SLACK);
		TAP_OK(!r && del.ret == 0 && !vdpa_exists(BAD), N("vdpa dev del completes once vhost-vdpa is closed"),
		       "%s, exit %ld", r ? "still running" : "returned", del.ret);
		TAP_ERRNO(destroy_once(BAD), EBUSY, N("DESTROY_DEV with the fd open: EBUSY"));
	}
	vdev_down(&d);
	beh_end();
}

/* ---- virtio-vdpa side: virtio-blk on a hostile device --------------------- */

/*
 * B: DESTROY_DEV while virtio-blk is bound: EBUSY; then the daemon dies
 * (no I/O in flight): still EBUSY; "vdpa dev del" completes (the reset
 * message times out) and the device goes.
 */
static void beh_destroy_virtio(void)
{
	struct blkdev b;
	struct blkio_res res;
	double t0;
	int r;

	beh_begin("destroyed while virtio-vdpa is bound; its daemon dies");
	if (blkdev_up(&b, BAD, 0, "virtio_vdpa") == 0) {
		r = blk_io(BAD, 0, SLACK, &res);
		TAP_OK(!r && res.rounds && !res.errors && !res.mismatches, N("I/O works first"),
		       "%ld errors %ld mismatches", res.errors, res.mismatches);
		TAP_ERRNO(destroy_once(BAD), EBUSY, N("DESTROY_DEV while bound: EBUSY"));
		TAP_EQ(kill_reap(b.pid, SLACK), 0, N("the daemon is killed"));
		b.pid = 0;
		TAP_ERRNO(destroy_once(BAD), EBUSY, N("DESTROY_DEV while bound, daemon gone: EBUSY"));
		t0 = now_s();
		r = run_cmd("timeout 30 vdpa dev del " BAD);
		TAP_OK(r == 0 && !vdpa_exists(BAD), N("vdpa dev del completes"), "exit %d after %.1f s", r,
		       now_s() - t0);
		tap_diag("%s: vdpa dev del took %.1f s", cur, now_s() - t0);
	} else {
		TAP_OK(0, N("set-up"), NULL);
	}
	TAP_EQ(blkdev_down(&b), 0, N("DESTROY_DEV"));
	beh_end();
}

/*
 * B: I/O on hd-bad while its daemon runs one hostile loop (FLAGS). STRICT:
 * the data must be right; otherwise errors are allowed (the daemon spoils
 * its own data path) but the I/O must end.
 */
static void beh_under_io(int flags, const char *what, int strict)
{
	struct blkdev b;
	struct blkio_res res;
	int r = 0;

	beh_begin(what);
	if (blkdev_up(&b, BAD, flags, "virtio_vdpa") == 0) {
		r = blk_io(BAD, loop_secs, SLACK + loop_secs * 1000 * 4, &res);
		TAP_EQ(r, 0, N("I/O ends (no hang)"));
		TAP_OK(res.rounds > 0, N("I/O rounds done"), "%ld", res.rounds);
		if (strict)
			TAP_OK(!res.errors && !res.mismatches, N("every round reads back what it wrote"),
			       "%ld errors (last %s), %ld mismatches", res.errors,
			       strerror(res.last_errno), res.mismatches);
		TAP_OK(b.st->hostile_ok > 0, N("the hostile loop ran"), "%ld ok, %ld failed (last %s)",
		       b.st->hostile_ok, b.st->hostile_err, strerror(b.st->last_err));
		tap_diag("%s: %ld I/O rounds (%ld errors, %ld mismatches), %ld requests served, "
			 "%ld SIGBUS in the daemon's data path, hostile loop %ld ok / %ld failed (last: %s)",
			 cur, res.rounds, res.errors, res.mismatches, b.st->served, b.st->sigbus,
			 b.st->hostile_ok, b.st->hostile_err, b.st->hostile_err ? strerror(b.st->last_err) : "-");
		if (b.st->sigbus)
			tap_diag("%s: the last SIGBUS: IOVA %#llx, umem %s", cur,
				 (unsigned long long)b.st->bus_iova, b.st->bus_umem ? "registered" : "not registered");
		TAP_EQ(b.st->sigbus, 0, N("the daemon's bounce mappings never SIGBUS"));
		if (flags & H_UMEM) {
			TAP_OK(b.st->umem_fd_bus > 0 && !b.st->umem_fd_ok,
			       N("the bounce fd gives SIGBUS while umem is registered"), "%ld reads fine, %ld SIGBUS",
			       b.st->umem_fd_ok, b.st->umem_fd_bus);
			TAP_OK(X->umem_old_bus ? b.st->umem_old_bus > 0 && !b.st->umem_old_ok :
			       b.st->umem_old_ok > 0 && !b.st->umem_old_bus,
			       N(X->umem_old_bus ? "a bounce page mapped before REG_UMEM gives SIGBUS meanwhile (zapped)" :
				 "a bounce page mapped before REG_UMEM still reads meanwhile (the old kernel page)"),
			       "%ld reads fine, %ld SIGBUS", b.st->umem_old_ok, b.st->umem_old_bus);
		}
		if (r == 0) {
			/* a plain daemon again: the disk must work */
			r = blk_io(BAD, 0, SLACK, &res);
			tap_diag("%s: one more round: %s, %ld errors %ld mismatches", cur,
				 r ? "hung" : "done", res.errors, res.mismatches);
		}
	} else {
		TAP_OK(0, N("set-up"), NULL);
	}
	if (r) {
		/* what an operator does: a new daemon takes over and serves the waiting I/O */
		r = blkdev_resume(&b) ? -1 : blk_io(BAD, 0, SLACK, &res);
		TAP_EQ(r, 0, N("the hung I/O completes with a new daemon"));
	}
	if (r) {
		/* "vdpa dev del" would wait for the hung I/O, holding the vDPA bus lock */
		tap_diag("%s: I/O hung: the device is left bound", cur);
		return;
	}
	TAP_EQ(blkdev_down(&b), 0, N("vdpa dev del, daemon stopped, DESTROY_DEV"));
	beh_end();
}

static void cleanup(void)
{
	const char *names[] = { BAD, OK_NAME };
	size_t i;

	for (i = 0; i < 2; i++) {
		if (vdpa_exists(names[i]))
			vdpa_del(names[i]);
		dev_destroy(ctl, names[i]);
	}
}

int main(int argc, char **argv)
{
	struct blkio_res res;
	int i, r;

	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--impl") && i + 1 < argc && !impl_parse(argv[i + 1], &impl))
			i++;
		else if (!strcmp(argv[i], "--seconds") && i + 1 < argc)
			loop_secs = atof(argv[++i]);
		else if (!strcmp(argv[i], "--umem-only"))
			umem_only = 1;
		else {
			fprintf(stderr, "usage: hostile_dev --impl upstream|ours [--seconds S] [--umem-only]\n");
			return 2;
		}
	}
	X = &expect_tab[impl];
	setvbuf(stdout, NULL, _IOLBF, 0);
	signal(SIGPIPE, SIG_IGN);
	ctl = ctl_open();
	if (ctl < 0 || ctl_set_version(ctl, 1)) {
		TAP_OK(0, "hostile_dev: control fd with API v1", "%s", strerror(errno));
		return tap_done();
	}
	vbuf = membuf();
	cleanup();
	vdpa_autoprobe(0);

	/* the healthy device, served for the whole run */
	r = blkdev_up(&healthy, OK_NAME, 0, "virtio_vdpa");
	TAP_EQ(r, 0, "hd-ok: a healthy virtio-blk device, bound to virtio_vdpa");
	r = blk_io(OK_NAME, 0, SLACK, &res);
	TAP_OK(r == 0 && res.rounds && !res.errors && !res.mismatches, "hd-ok: I/O works", "%ld errors",
	       res.errors);

	if (umem_only)
		goto umem;

	/* the message channel, seen from vhost-vdpa */
	beh_no_answer();
	beh_no_answer_forever();
	beh_refuses(VDUSE_GET_VQ_STATE, "answers FAILED to GET_VQ_STATE", do_vring_base,
		    VDUSE_REQ_RESULT_FAILED);
	beh_refuses(VDUSE_SET_VQ_GROUP_ASID, "answers FAILED to SET_VQ_GROUP_ASID", do_group_asid,
		    VDUSE_REQ_RESULT_FAILED);
	beh_refuses(VDUSE_UPDATE_IOTLB, "answers FAILED to UPDATE_IOTLB", do_map, VDUSE_REQ_RESULT_FAILED);
	beh_refuses(VDUSE_GET_VQ_STATE, "answers with result 7 (neither OK nor FAILED)", do_vring_base, 7);
	beh_garbage(G_UNKNOWN_ID, "answers with an unknown request_id");
	beh_garbage(G_RESERVED, "answers with non-zero reserved words");
	beh_garbage(G_SHORT, "answers with a short write");
	beh_garbage(G_WRONG_TYPE, "answers with a request (wrong type)");
	beh_garbage(G_TWICE, "answers twice");
	beh_garbage(G_LATE, "answers after the message timed out");
	beh_dies(VDUSE_SET_VQ_GROUP_ASID, "dies during SET_VQ_GROUP_ASID", do_group_asid, 0);
	beh_dies(VDUSE_UPDATE_IOTLB, "dies during UPDATE_IOTLB", do_map, 0);
	beh_dies(VDUSE_SET_STATUS, "dies during SET_STATUS", do_status, 0);
	beh_dies(VDUSE_GET_VQ_STATE, "closes its fd with a message pending, reopens", do_vring_base, 1);
	beh_destroy_vhost();

	/* the data path, seen from virtio-blk */
	beh_destroy_virtio();
	beh_under_io(H_MAPS, "maps and unmaps bounce pages in a loop under I/O", 1);
	beh_under_io(H_IRQ, "injects interrupts in a tight loop under I/O", 1);
	beh_under_io(H_CFG, "writes its config in a loop under I/O", 1);
umem:
	beh_under_io(H_UMEM, "registers and deregisters umem in a loop under I/O", 1);

	tap_diag("hostile behaviours: %d", nbeh);
	if (!umem_only)
		TAP_OK(nbeh >= 20, "hostile_dev: at least 20 behaviours", "%d", nbeh);
	TAP_EQ(blkdev_down(&healthy), 0, "hd-ok: vdpa dev del, daemon stopped, DESTROY_DEV");
	vdpa_autoprobe(1);
	close(ctl);
	return tap_done();
}
