// SPDX-License-Identifier: GPL-2.0
/*
 * kfuzz: a seeded ioctl and message fuzzer for the VDUSE kernel side
 * (issue 13). One v1 device (3 vqs, 2 groups, 2 address spaces) is bound
 * to vhost-vdpa; then, iteration by iteration, the main thread picks one of
 *
 *   - a control-fd ioctl (CREATE_DEV of random configurations under a few
 *     scratch names, DESTROY_DEV, API versions, unknown numbers);
 *   - a device-fd ioctl with a random argument (indices, ASIDs and ranges
 *     biased to the edges), GET_FD/GET_FD2 results mapped and read;
 *   - a vhost-vdpa ioctl (status, features, vrings, groups, ASIDs, config,
 *     suspend/resume) with random arguments;
 *   - IOTLB v2 messages (UPDATE, INVALIDATE, BATCH_BEGIN/END, junk) in
 *     random ASIDs over a small IOVA window backed by a local buffer;
 *   - a write() of random response bytes on the device fd;
 *
 * while a responder thread answers every request the device gets, each
 * reply mutated at random first (garbage, wrong request_id, non-zero
 * reserved words, a random result, random vq state, a second copy, a
 * delay). Every request is answered in the end, so no call waits for the
 * message timeout.
 *
 *   kfuzz [--seed N] [--iters N] [--seconds N]
 *
 * or KFUZZ_SEED, KFUZZ_ITERS, KFUZZ_SECONDS. The seed is printed first;
 * with the same seed (and build) the main thread makes the same calls in
 * the same order: no draw depends on a kernel answer (the responder's
 * timing is not reproducible). It stops at whichever
 * limit comes first, then checks that the device still answers, can be
 * unbound and destroyed, and that its name can be reused. Any kernel
 * warning is caught by the dmesg scan of the boot.
 *
 * Needs vduse, vdpa and vhost_vdpa loaded, virtio_vdpa not.
 */
#define _GNU_SOURCE
#include <sys/eventfd.h>
#include <sys/mman.h>
#include "tap.h"
#include "vduse_test.h"
#include "vhost_vdpa_client.h"

#define PAGE 4096
#define NVQS 3
#define WIN_IOVA 0x100000ull	/* the IOVA window IOTLB messages map into */
#define WIN_PAGES 16
#define NSCRATCH 3
#ifndef VHOST_VDPA_RESUME
#define VHOST_VDPA_RESUME _IO(VHOST_VIRTIO, 0x7E)
#endif

static const char *const scratch[NSCRATCH] = { "kf-s0", "kf-s1", "kf-s2" };
static const char *const devname = "kf-dev";

/* ---- a reproducible PRNG (splitmix64) --------------------------------------- */

static uint64_t rnd_next(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static uint64_t rs;	/* the main thread's state */

static uint64_t R(uint64_t n)
{
	return n ? rnd_next(&rs) % n : 0;
}

/* A 32-bit value biased to the edges that checks compare against. */
static uint32_t edge32(uint32_t lim)
{
	switch (R(8)) {
	case 0: return lim;
	case 1: return lim ? lim - 1 : 0;
	case 2: return lim + 1;
	case 3: return 0xffffffffu;
	case 4: return 0x80000000u;
	case 5: return (uint32_t)rnd_next(&rs);
	default: return R(lim + 2);
	}
}

static uint64_t edge64(void)
{
	switch (R(6)) {
	case 0: return 0;
	case 1: return ~0ull;
	case 2: return WIN_IOVA + R(WIN_PAGES + 2) * PAGE;
	case 3: return WIN_IOVA + R(WIN_PAGES * PAGE);
	case 4: return rnd_next(&rs);
	default: return 1ull << R(64);
	}
}

static void fill(void *p, size_t n)
{
	uint8_t *b = p;
	size_t i;

	switch (R(3)) {
	case 0:
		memset(p, 0, n);
		break;
	case 1:
		for (i = 0; i < n; i++)
			b[i] = rnd_next(&rs);
		break;
	default:	/* mostly zero, a few random bytes */
		memset(p, 0, n);
		for (i = R(4); i > 0; i--)
			b[R(n)] = rnd_next(&rs);
	}
}

/* ---- the responder ---------------------------------------------------------- */

struct fuzz_resp {
	pthread_t th;
	int fd;
	int stop;		/* __atomic */
	int calm;		/* __atomic: answer OK, unmutated */
	uint64_t seed;
	long answered, mutated;
};

static void *fuzz_resp_main(void *arg)
{
	struct fuzz_resp *f = arg;
	uint64_t s = f->seed;

	while (!__atomic_load_n(&f->stop, __ATOMIC_ACQUIRE)) {
		struct vduse_dev_request req;
		struct vduse_dev_response resp, junk;
		struct pollfd p = { .fd = f->fd, .events = POLLIN };
		uint64_t x;
		size_t i;

		if (poll(&p, 1, 20) <= 0 || read(f->fd, &req, sizeof(req)) != sizeof(req))
			continue;
		x = rnd_next(&s);
		if (__atomic_load_n(&f->calm, __ATOMIC_ACQUIRE))
			x = 1 | 1u << 3 | 2u << 6 | 1u << 10 | 1u << 13 | 1u << 17;	/* see below: no mutation, OK */
		if (x % 8 == 0) {	/* garbage of a random length first */
			for (i = 0; i < sizeof(junk); i++)
				((uint8_t *)&junk)[i] = rnd_next(&s);
			if (write(f->fd, &junk, 1 + rnd_next(&s) % sizeof(junk)) < 0)
				(void)0;
			f->mutated++;
		}
		memset(&resp, 0, sizeof(resp));
		resp.request_id = req.request_id;
		if ((x >> 3) % 8 == 0) {	/* wrong id, then bad reserved */
			resp.request_id = req.request_id ^ (1u << (rnd_next(&s) % 32));
			if (write(f->fd, &resp, sizeof(resp)) < 0)
				(void)0;
			resp.request_id = req.request_id;
			resp.reserved[rnd_next(&s) % 4] = 1;
			if (write(f->fd, &resp, sizeof(resp)) < 0)
				(void)0;
			resp.reserved[0] = resp.reserved[1] = resp.reserved[2] = resp.reserved[3] = 0;
			f->mutated++;
		}
		switch ((x >> 6) % 10) {
		case 0: resp.result = VDUSE_REQ_RESULT_FAILED; break;
		case 1: resp.result = rnd_next(&s); break;
		default: resp.result = VDUSE_REQ_RESULT_OK;
		}
		if (req.type == VDUSE_GET_VQ_STATE) {
			resp.vq_state.index = (x >> 10) % 4 ? req.vq_state.index : rnd_next(&s);
			if ((x >> 12) % 2)
				resp.vq_state.split.avail_index = rnd_next(&s);
			else
				for (i = 0; i < sizeof(resp.vq_state.packed); i++)
					((uint8_t *)&resp.vq_state.packed)[i] = rnd_next(&s);
		}
		if ((x >> 13) % 16 == 0)
			msleep_(rnd_next(&s) % 20);
		if (write(f->fd, &resp, sizeof(resp)) == sizeof(resp))
			f->answered++;
		if ((x >> 17) % 16 == 0 && write(f->fd, &resp, sizeof(resp)) < 0)
			(void)0;	/* answered twice: ENOENT */
	}
	return NULL;
}

/* ---- the calls -------------------------------------------------------------- */

static int ctl, dfd = -1, vh = -1;
static uint8_t *win;			/* WIN_PAGES of local memory */
static long calls, errs, mapped_reads;
static int efd[2];

/* Close or read an fd an ioctl returned (GET_FD / GET_FD2). */
static void use_fd(long r, uint64_t off, uint64_t start, uint64_t last, uint8_t perm)
{
	volatile uint8_t *p;
	size_t len;

	if (r < 0)
		return;
	(void)start;
	(void)last;
	len = PAGE;
	if (perm && !(off & (PAGE - 1))) {
		p = mmap(NULL, len, PROT_READ, MAP_SHARED, r, off);
		if (p != MAP_FAILED) {
			(void)p[R(len)];
			mapped_reads++;
			munmap((void *)p, len);
		}
	}
	close(r);
}

static long fuzz_control(void)
{
	struct devcfg cfg;
	uint64_t v;
	int k = R(NSCRATCH);

	switch (R(6)) {
	case 0:
		return ioctl(ctl, VDUSE_GET_API_VERSION, &v);
	case 1:
		v = R(4);
		return ioctl(ctl, VDUSE_SET_API_VERSION, &v);
	case 2:
	case 3:
		if (R(2))
			blk_cfg(&cfg, scratch[k], 1 + R(4), R(4), R(4));
		else
			net_cfg(&cfg, scratch[k], 1 + R(4), R(4), R(4));
		if (R(3) == 0)	/* the fields after the name */
			fill((uint8_t *)&cfg.c + VDUSE_NAME_MAX, sizeof(cfg.c) - VDUSE_NAME_MAX);
		if (R(4) == 0)
			cfg.c.features ^= 1ull << R(64);
		if (R(4) == 0)
			cfg.c.vq_num = edge32(VDUSE_NAME_MAX);
		if (R(6) == 0)
			cfg.c.config_size = edge32(sizeof(cfg.net));
		if (cfg.c.config_size > sizeof(cfg.net))
			cfg.c.config_size = sizeof(cfg.net);
		snprintf(cfg.c.name, sizeof(cfg.c.name), "%s", scratch[k]);
		return ioctl(ctl, VDUSE_CREATE_DEV, &cfg);
	case 4:
		return ioctl(ctl, VDUSE_DESTROY_DEV, scratch[k]);
	default:
		return ioctl(ctl, _IOC(R(4), VDUSE_BASE, R(256), R(300)), win);
	}
}

static long fuzz_device(void)
{
	union {
		struct vduse_vq_config vq;
		struct vduse_vq_info info;
		struct vduse_vq_eventfd ev;
		struct vduse_config_data cd;
		struct vduse_iotlb_entry e;
		struct vduse_iotlb_entry_v2 e2;
		struct vduse_iova_info ii;
		struct vduse_iova_umem um;
		uint32_t idx;
		uint64_t f;
		uint8_t raw[512];
	} a;
	long r;

	fill(&a, sizeof(a));
	switch (R(14)) {
	case 0:
		a.vq.index = edge32(NVQS);
		a.vq.group = edge32(2);
		a.vq.max_size = 1u << R(17);
		return ioctl(dfd, VDUSE_VQ_SETUP, &a);
	case 1:
		a.info.index = edge32(NVQS);
		return ioctl(dfd, VDUSE_VQ_GET_INFO, &a);
	case 2:
		a.ev.index = edge32(NVQS);
		a.ev.fd = R(3) ? efd[R(2)] : (int)edge32(20) - 2;
		return ioctl(dfd, VDUSE_VQ_SETUP_KICKFD, &a);
	case 3:
		a.idx = edge32(NVQS);
		return ioctl(dfd, VDUSE_VQ_INJECT_IRQ, &a);
	case 4:
		return ioctl(dfd, VDUSE_DEV_INJECT_CONFIG_IRQ);
	case 5:
		a.cd.offset = edge32(sizeof(struct virtio_blk_config));
		a.cd.length = edge32(16);
		if (a.cd.length > sizeof(a) - offsetof(struct vduse_config_data, buffer))
			a.cd.length = R(2) ? 8 : a.cd.length;
		if (a.cd.length > sizeof(a) - offsetof(struct vduse_config_data, buffer))
			return 0;	/* the kernel would read past our buffer */
		return ioctl(dfd, VDUSE_DEV_SET_CONFIG, &a);
	case 6:
		return ioctl(dfd, VDUSE_DEV_GET_FEATURES, &a);
	case 7:
		a.e.start = edge64();
		a.e.last = R(2) ? a.e.start + R(4 * PAGE) : edge64();
		r = ioctl(dfd, VDUSE_IOTLB_GET_FD, &a);
		use_fd(r, a.e.offset, a.e.start, a.e.last, a.e.perm);
		return r;
	case 8:
	case 9:
		a.e2.start = edge64();
		a.e2.last = R(2) ? a.e2.start + R(4 * PAGE) : edge64();
		a.e2.asid = edge32(2);
		if (R(2)) {
			memset(a.e2.padding, 0, sizeof(a.e2.padding));
			memset(a.e2.reserved, 0, sizeof(a.e2.reserved));
		}
		r = ioctl(dfd, VDUSE_IOTLB_GET_FD2, &a);
		use_fd(r, a.e2.offset, a.e2.start, a.e2.last, a.e2.perm);
		return r;
	case 10:
		a.ii.start = edge64();
		a.ii.last = edge64();
		a.ii.asid = edge32(2);
		if (R(2))
			memset(a.ii.reserved, 0, sizeof(a.ii.reserved));
		return ioctl(dfd, VDUSE_IOTLB_GET_INFO, &a);
	case 11:
	case 12:
		a.um.uaddr = R(2) ? (uintptr_t)win : edge64();
		a.um.iova = R(2) ? 0 : edge64();
		a.um.size = R(2) ? PAGE * (1 + R(WIN_PAGES)) : edge64();
		a.um.asid = edge32(2);
		if (R(2))
			memset(a.um.reserved, 0, sizeof(a.um.reserved));
		return ioctl(dfd, R(2) ? VDUSE_IOTLB_REG_UMEM : VDUSE_IOTLB_DEREG_UMEM, &a);
	default:
		/* a response of random bytes and length */
		return write(dfd, &a, 1 + R(sizeof(struct vduse_dev_response) + 8));
	}
}

static long fuzz_vhost(void)
{
	union {
		struct vhost_vring_state s;
		struct vhost_vring_addr a;
		struct vhost_vring_file f;
		struct vhost_vdpa_iova_range ir;
		/* struct vhost_vdpa_config and 64 bytes of buf[] */
		uint8_t c[sizeof(struct vhost_vdpa_config) + 64];
		uint64_t u64;
		uint32_t u32;
		uint8_t u8;
	} a;

	fill(&a, sizeof(a));
	switch (R(18)) {
	case 0:
	case 1:
		/* mostly forward through the status bits, sometimes a reset */
		a.u8 = R(4) == 0 ? 0 : (uint8_t)(R(2) ? (vh_get_status(vh) | (1u << R(8))) : rnd_next(&rs));
		return ioctl(vh, VHOST_VDPA_SET_STATUS, &a);
	case 2:
		return ioctl(vh, VHOST_VDPA_GET_STATUS, &a);
	case 3:
		a.u64 = R(2) ? (1ull << VIRTIO_F_VERSION_1) | (1ull << VIRTIO_F_ACCESS_PLATFORM) |
			(R(2) ? 1ull << VIRTIO_F_RING_PACKED : 0) : rnd_next(&rs);
		return ioctl(vh, VHOST_SET_FEATURES, &a);
	case 4:
		a.s.index = edge32(NVQS);
		a.s.num = R(2) ? 1u << R(10) : edge32(256);
		return ioctl(vh, VHOST_SET_VRING_NUM, &a);
	case 5:
		a.a.index = edge32(NVQS);
		a.a.flags = R(4) ? 0 : a.a.flags;
		a.a.desc_user_addr = edge64();
		a.a.avail_user_addr = edge64();
		a.a.used_user_addr = edge64();
		return ioctl(vh, VHOST_SET_VRING_ADDR, &a);
	case 6:
		a.s.index = edge32(NVQS);
		return ioctl(vh, R(2) ? VHOST_SET_VRING_BASE : VHOST_GET_VRING_BASE, &a);
	case 7:
		a.f.index = edge32(NVQS);
		a.f.fd = R(4) ? efd[R(2)] : (R(2) ? -1 : (int)edge32(20));
		return ioctl(vh, R(2) ? VHOST_SET_VRING_KICK : VHOST_SET_VRING_CALL, &a);
	case 8:
		a.s.index = edge32(NVQS);
		a.s.num = R(3);
		return ioctl(vh, VHOST_VDPA_SET_VRING_ENABLE, &a);
	case 9:
	case 10:
		a.s.index = edge32(2);
		a.s.num = edge32(2);
		return ioctl(vh, VHOST_VDPA_SET_GROUP_ASID, &a);
	case 11:
		a.s.index = edge32(NVQS);
		return ioctl(vh, VHOST_VDPA_GET_VRING_GROUP, &a);
	case 12: {
		struct vhost_vdpa_config *c = (struct vhost_vdpa_config *)a.c;

		c->off = edge32(sizeof(struct virtio_blk_config));
		c->len = edge32(64);
		if (c->len > 64)
			c->len = 64;
		return ioctl(vh, R(2) ? VHOST_VDPA_GET_CONFIG : VHOST_VDPA_SET_CONFIG, c);
	}
	case 13:
		return ioctl(vh, VHOST_VDPA_GET_IOVA_RANGE, &a);
	case 14:
		a.u64 = R(2) ? VH_BACKEND_WANT | (R(2) ? 1ull << VHOST_BACKEND_F_SUSPEND : 0) : rnd_next(&rs);
		return ioctl(vh, VHOST_SET_BACKEND_FEATURES, &a);
	case 15:
		return ioctl(vh, R(2) ? VHOST_VDPA_SUSPEND : VHOST_VDPA_RESUME);
	case 16: {
		static const unsigned long ro[] = {
			VHOST_VDPA_GET_DEVICE_ID, VHOST_GET_FEATURES, VHOST_VDPA_GET_VRING_NUM,
			VHOST_VDPA_GET_CONFIG_SIZE, VHOST_VDPA_GET_VQS_COUNT, VHOST_VDPA_GET_GROUP_NUM,
			VHOST_VDPA_GET_AS_NUM, VHOST_GET_BACKEND_FEATURES,
		};

		return ioctl(vh, ro[R(sizeof(ro) / sizeof(ro[0]))], &a);
	}
	default:
		a.u32 = R(2) ? efd[0] : -1;
		return ioctl(vh, VHOST_VDPA_SET_CONFIG_CALL, &a);
	}
}

static long fuzz_iotlb(void)
{
	static const uint8_t types[] = {
		VHOST_IOTLB_UPDATE, VHOST_IOTLB_INVALIDATE, VHOST_IOTLB_BATCH_BEGIN,
		VHOST_IOTLB_BATCH_END, VHOST_IOTLB_MISS, VHOST_IOTLB_ACCESS_FAIL, 0, 99,
	};
	uint64_t iova, size, n;
	uint32_t asid = R(5) ? R(2) : edge32(2);
	uint8_t type = R(4) ? types[R(2)] : types[R(sizeof(types))];
	long r = 0;

	if (R(8) == 0) {	/* a raw message of random bytes and length */
		struct vhost_msg_v2 m;

		fill(&m, sizeof(m));
		if (R(2))
			m.type = VHOST_IOTLB_MSG_V2;
		return write(vh, &m, R(sizeof(m) + 8));
	}
	iova = R(4) ? WIN_IOVA + R(WIN_PAGES) * PAGE : edge64();
	size = R(4) ? PAGE * (1 + R(4)) : edge64();
	n = (iova - WIN_IOVA) / PAGE;
	if (R(3) == 0) {	/* a whole batch */
		r = vh_iotlb(vh, asid, VHOST_IOTLB_BATCH_BEGIN, 0, 0, NULL, 0);
		/* the draws never depend on the kernel's answers: replayable */
		for (int i = R(4); i >= 0; i--) {
			uint32_t as = R(5) ? asid : edge32(2);
			uint8_t t = R(3) ? VHOST_IOTLB_UPDATE : VHOST_IOTLB_INVALIDATE;
			uint8_t perm = 1 + R(3);
			long x;

			n = R(WIN_PAGES);
			x = vh_iotlb(vh, as, t, WIN_IOVA + n * PAGE, PAGE, win + n * PAGE, perm);
			if (r >= 0)
				r = x;
		}
		vh_iotlb(vh, asid, VHOST_IOTLB_BATCH_END, 0, 0, NULL, 0);
		return r;
	}
	return vh_iotlb(vh, asid, type, iova, size,
			R(8) ? win + (n < WIN_PAGES ? n : 0) * PAGE : (void *)(uintptr_t)edge64(), R(5));
}

/* ---- setup and teardown ------------------------------------------------------ */

static int bind_device(struct fuzz_resp *fr)
{
	struct devcfg cfg;
	struct vduse_vq_config vq = { .max_size = 256 };
	char path[300];

	blk_cfg(&cfg, devname, NVQS, 2, 2);
	if (ioctl(ctl, VDUSE_CREATE_DEV, &cfg) || (dfd = dev_open(devname)) < 0)
		return -1;
	for (vq.index = 0; vq.index < NVQS; vq.index++) {
		vq.group = vq.index == NVQS - 1;
		ioctl(dfd, VDUSE_VQ_SETUP, &vq);
	}
	/* no call may wait long for a lost answer */
	sysfs_write(devname, "msg_timeout", "3");
	fr->fd = dfd;
	if (pthread_create(&fr->th, NULL, fuzz_resp_main, fr))
		return -1;
	if (vdpa_add(devname) || vhost_path(devname, path, sizeof(path)))
		return -1;
	vh = vh_open(path);
	return vh < 0 ? -1 : 0;
}

static uint64_t env_or(const char *name, uint64_t def)
{
	const char *v = getenv(name);

	return v && *v ? strtoull(v, NULL, 0) : def;
}

int main(int argc, char **argv)
{
	struct fuzz_resp fr;
	uint64_t seed, iters, secs, it;
	double t0, el;
	char path[300];
	int i, k;

	seed = env_or("KFUZZ_SEED", 0);
	iters = env_or("KFUZZ_ITERS", 20000);
	secs = env_or("KFUZZ_SECONDS", 30);
	for (i = 1; i + 1 < argc; i += 2) {
		if (!strcmp(argv[i], "--seed"))
			seed = strtoull(argv[i + 1], NULL, 0);
		else if (!strcmp(argv[i], "--iters"))
			iters = strtoull(argv[i + 1], NULL, 0);
		else if (!strcmp(argv[i], "--seconds"))
			secs = strtoull(argv[i + 1], NULL, 0);
		else
			break;
	}
	if (i < argc) {
		fprintf(stderr, "usage: kfuzz [--seed N] [--iters N] [--seconds N]\n");
		return 2;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (!seed)
		seed = (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32);
	printf("# kfuzz seed %llu iters %llu seconds %llu (KFUZZ_SEED=%llu reproduces it)\n",
	       (unsigned long long)seed, (unsigned long long)iters, (unsigned long long)secs,
	       (unsigned long long)seed);
	if (virtio_vdpa_loaded()) {
		printf("not ok 1 - kfuzz: virtio_vdpa is loaded (it would claim the device)\n");
		return 1;
	}
	rs = seed;
	memset(&fr, 0, sizeof(fr));
	fr.seed = seed ^ 0x5eed;
	/* set-up is not under test: vhost-vdpa's open resets the device */
	fr.calm = 1;
	win = mmap(NULL, WIN_PAGES * PAGE, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	efd[0] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	efd[1] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	ctl = ctl_open();
	ctl_set_version(ctl, 1);
	if (win == MAP_FAILED || ctl < 0 || bind_device(&fr)) {
		TAP_OK(0, "kfuzz: set up a v1 device bound to vhost-vdpa", "%s", strerror(errno));
		return 1;
	}
	TAP_OK(1, "kfuzz: set up a v1 device bound to vhost-vdpa", NULL);
	__atomic_store_n(&fr.calm, 0, __ATOMIC_RELEASE);

	t0 = now_s();
	for (it = 0; it < iters && now_s() - t0 < secs; it++) {
		long r;

		switch (R(10)) {
		case 0: r = fuzz_control(); break;
		case 1: case 2: case 3: r = fuzz_device(); break;
		case 4: case 5: case 6: r = fuzz_vhost(); break;
		default: r = fuzz_iotlb();
		}
		calls++;
		errs += r < 0;
		/* the control fd's version may have been changed: back to 1 */
		if (R(64) == 0)
			ctl_set_version(ctl, 1);
		if (R(512) == 0) {	/* a new vhost-vdpa session */
			/*
			 * open resets the device: a device that answers the
			 * reset FAILED makes it fail with EIO, rightly
			 */
			__atomic_store_n(&fr.calm, 1, __ATOMIC_RELEASE);
			close(vh);
			vh = -1;
			if (vhost_path(devname, path, sizeof(path)) == 0)
				vh = vh_open(path);
			__atomic_store_n(&fr.calm, 0, __ATOMIC_RELEASE);
			if (vh < 0) {
				TAP_OK(0, "kfuzz: reopen vhost-vdpa", "iteration %llu: %s",
				       (unsigned long long)it, strerror(errno));
				break;
			}
		}
	}
	el = now_s() - t0;
	printf("# kfuzz: %llu iterations in %.1f s, %ld calls failed, %ld mapped reads; "
	       "responder: %ld answers, %ld mutated (seed %llu)\n", (unsigned long long)it, el, errs,
	       mapped_reads, fr.answered, fr.mutated, (unsigned long long)seed);
	TAP_OK(it > 0, "kfuzz: iterations ran", "none");

	/* the device still works: a reset reaches it and is answered */
	__atomic_store_n(&fr.calm, 1, __ATOMIC_RELEASE);
	TAP_OK(vh_set_status(vh, 0) == 0 && vh_get_status(vh) == 0,
	       "kfuzz: after the run a vhost-vdpa reset is answered", "%s", strerror(errno));
	close(vh);
	TAP_OK(vdpa_del(devname) == 0, "kfuzz: vdpa dev del after the run", NULL);
	__atomic_store_n(&fr.stop, 1, __ATOMIC_RELEASE);
	pthread_join(fr.th, NULL);
	close(dfd);
	TAP_OK(dev_destroy(ctl, devname) == 0, "kfuzz: the device can be destroyed", "%s", strerror(errno));
	for (k = 0; k < NSCRATCH; k++)
		dev_destroy(ctl, scratch[k]);
	{
		struct devcfg cfg;

		blk_cfg(&cfg, devname, NVQS, 2, 2);
		ctl_set_version(ctl, 1);	/* the run may have left it at 0 */
		TAP_OK(ioctl(ctl, VDUSE_CREATE_DEV, &cfg) == 0 && dev_destroy(ctl, devname) == 0,
		       "kfuzz: its name can be reused", "%s", strerror(errno));
	}
	close(ctl);
	return tap_failed ? 1 : 0;
}
