// SPDX-License-Identifier: GPL-2.0
/*
 * badinput: the bad-input table (issue 13). Every invalid argument we know
 * of, across the control fd's ioctls, the device fd's ioctls, the device's
 * read()/write() of messages (replies to real messages included) and the
 * vhost-vdpa ioctls and IOTLB messages of a VDUSE device, each with the
 * errno each implementation gives. One TAP line per case:
 *
 *   ok N - badinput: CALL | ARGUMENT | want ERRNO | got ERRNO
 *
 * ("want -" marks a case that does not apply on this kernel: SKIP).
 * tests/vm/badinput-table turns the lines of the three kernels' runs into
 * the table of docs/robustness.md. conformance.c checks many of these cases
 * in context (orders of checks, side effects); this program is the flat
 * list, and adds the cases conformance does not have.
 *
 *   badinput --impl upstream|stock612|ours
 *
 * Needs vduse, vdpa and vhost_vdpa loaded, virtio_vdpa not.
 */
#define _GNU_SOURCE
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/uio.h>
#include "tap.h"
#include "vduse_test.h"
#include "vhost_vdpa_client.h"

#define PAGE 4096
#define NA (-1)		/* the case does not apply to this kernel */
#define OK 0

static enum impl impl;
static int has_v1;
static void *volatile badp = (void *)8;	/* an address no process maps */

static const char *ename(int e)
{
	static char buf[16];

	switch (e) {
	case 0: return "0";
	case EINVAL: return "EINVAL";
	case EFAULT: return "EFAULT";
	case ENOTTY: return "ENOTTY";
	case EPERM: return "EPERM";
	case EEXIST: return "EEXIST";
	case ENOENT: return "ENOENT";
	case EBUSY: return "EBUSY";
	case EBADF: return "EBADF";
	case ENOBUFS: return "ENOBUFS";
	case EAGAIN: return "EAGAIN";
	case EOPNOTSUPP: return "EOPNOTSUPP";
	case E2BIG: return "E2BIG";
	case EIO: return "EIO";
	case ENOSPC: return "ENOSPC";
	case ERANGE: return "ERANGE";
	case ENOMEM: return "ENOMEM";
	case ENODEV: return "ENODEV";
	}
	snprintf(buf, sizeof(buf), "%d", e);
	return buf;
}

/* One row: WANT is the errno for this kernel (OK for success, NA: skip). */
static void row(const char *call, const char *arg, int want, long ret, int err)
{
	char d[400];
	int got = ret < 0 ? err : 0;

	if (want == NA) {
		snprintf(d, sizeof(d), "badinput: %s | %s | want - | got - # SKIP not on %s", call, arg,
			 impl == IMPL_OURS ? "ours" : impl == IMPL_UPSTREAM ? "upstream" : "stock612");
		tap_result(1, d, NULL);
		return;
	}
	snprintf(d, sizeof(d), "badinput: %s | %s | want %s", call, arg, ename(want));
	snprintf(d + strlen(d), sizeof(d) - strlen(d), " | got %s", ename(got));
	tap_result(got == want, d, NULL);
}

/* W(ours, upstream, stock612): the errno this kernel should give */
#define W(o, u, s) (impl == IMPL_OURS ? (o) : impl == IMPL_UPSTREAM ? (u) : (s))
/* stock 6.12 checks vq_align from 6.12.114 on */
#define STOCK_ALIGN (stock612_checks_vq_align() ? EINVAL : OK)
#define ROW(call, arg, want, expr) do {			\
		long r_;				\
		int w_ = (want);			\
		if (w_ == NA) {				\
			row(call, arg, NA, 0, 0);	\
			break;				\
		}					\
		errno = 0;				\
		r_ = (long)(expr);			\
		row(call, arg, w_, r_, errno);		\
	} while (0)
/* a v1-only case: NA on stock 6.12 */
#define V1(e) (has_v1 ? (e) : NA)

static int create(int ctl, struct devcfg *cfg)
{
	return ioctl(ctl, VDUSE_CREATE_DEV, cfg);
}

/* CREATE_DEV of CFG; a device made by a case that should have failed goes. */
static long create_case(int ctl, struct devcfg *cfg)
{
	char name[VDUSE_NAME_MAX];
	long r = create(ctl, cfg);
	int e = errno;

	if (r == 0) {
		memcpy(name, cfg->c.name, sizeof(name));
		name[VDUSE_NAME_MAX - 1] = 0;
		dev_destroy(ctl, name);
	}
	errno = e;
	return r;
}

/* ---- the control fd ---------------------------------------------------------- */

static void control_cases(void)
{
	struct devcfg cfg, *edge;
	uint64_t v;
	uint8_t *pages;
	int c0, c1, ctl;

	ctl = ctl_open();
	ROW("VDUSE_GET_API_VERSION", "bad pointer", EFAULT, ioctl(ctl, VDUSE_GET_API_VERSION, badp));
	ROW("VDUSE_SET_API_VERSION", "bad pointer", EFAULT, ioctl(ctl, VDUSE_SET_API_VERSION, badp));
	v = 2;
	ROW("VDUSE_SET_API_VERSION", "2 (above the maximum)", EINVAL, ioctl(ctl, VDUSE_SET_API_VERSION, &v));
	v = ~0ull;
	ROW("VDUSE_SET_API_VERSION", "~0", EINVAL, ioctl(ctl, VDUSE_SET_API_VERSION, &v));
	v = 1;
	ROW("VDUSE_SET_API_VERSION", "1 on a kernel without API v1", has_v1 ? NA : EINVAL,
	    ioctl(ctl, VDUSE_SET_API_VERSION, &v));
	ROW("control ioctl", "unknown number (VDUSE type, nr 0x7f)", EINVAL, ioctl(ctl, _IO(VDUSE_BASE, 0x7f)));
	ROW("control ioctl", "a device ioctl (VDUSE_VQ_SETUP)", EINVAL, ioctl(ctl, VDUSE_VQ_SETUP, badp));
	ROW("control ioctl", "foreign type (TCGETS)", EINVAL, ioctl(ctl, _IOR(0x54, 0x01, int), &v));
	ROW("VDUSE_CREATE_DEV", "bad pointer", EFAULT, ioctl(ctl, VDUSE_CREATE_DEV, badp));
	ROW("VDUSE_DESTROY_DEV", "bad pointer", EFAULT, ioctl(ctl, VDUSE_DESTROY_DEV, badp));
	ROW("VDUSE_DESTROY_DEV", "unknown name", EINVAL, ioctl(ctl, VDUSE_DESTROY_DEV, "bi-never-was"));
	ROW("VDUSE_DESTROY_DEV", "empty name", EINVAL, ioctl(ctl, VDUSE_DESTROY_DEV, ""));
	ROW("VDUSE_DESTROY_DEV", "\"control\"", EINVAL, ioctl(ctl, VDUSE_DESTROY_DEV, "control"));
	close(ctl);

	c0 = ctl_open();
	ctl_set_version(c0, 0);
	c1 = ctl_open();
	if (has_v1)
		ctl_set_version(c1, 1);

#define CV0(arg, want, tweak) do { blk_cfg(&cfg, "bi-val", 1, 0, 0); tweak; \
		ROW("VDUSE_CREATE_DEV v0", arg, want, create_case(c0, &cfg)); } while (0)
#define CV1(arg, want, tweak) do { blk_cfg(&cfg, "bi-val", 2, 2, 2); tweak; \
		ROW("VDUSE_CREATE_DEV v1", arg, V1(want), create_case(c1, &cfg)); } while (0)
	CV0("reserved[0] != 0", EINVAL, cfg.c.reserved[0] = 1);
	CV0("reserved[10] != 0", EINVAL, cfg.c.reserved[10] = 1);
	CV0("ngroups != 0", EINVAL, cfg.c.ngroups = 1);
	CV0("nas != 0", EINVAL, cfg.c.nas = 1);
	CV0("vq_align 8192 (> PAGE_SIZE)", EINVAL, cfg.c.vq_align = 2 * PAGE);
	CV0("vq_align 0", W(EINVAL, EINVAL, STOCK_ALIGN), cfg.c.vq_align = 0);
	CV0("vq_align 1536 (not a power of two)", W(EINVAL, EINVAL, STOCK_ALIGN), cfg.c.vq_align = 1536);
	CV0("vq_align 2 (below the used ring's 4)", W(EINVAL, EINVAL, STOCK_ALIGN), cfg.c.vq_align = 2);
	CV0("config_size 4097 (> PAGE_SIZE)", EINVAL, cfg.c.config_size = PAGE + 1);
	CV0("vq_num 0x10000", EINVAL, cfg.c.vq_num = 0x10000);
	CV0("vq_num 0xffffffff", EINVAL, cfg.c.vq_num = 0xffffffff);
	CV0("empty name", EINVAL, cfg.c.name[0] = 0);
	CV0("device_id 0", EINVAL, cfg.c.device_id = 0);
	CV0("device_id 3 (console)", EINVAL, cfg.c.device_id = 3);
	CV0("device_id 0xffffffff", EINVAL, cfg.c.device_id = 0xffffffff);
	CV0("without VIRTIO_F_ACCESS_PLATFORM", EINVAL,
	    cfg.c.features &= ~(1ull << VIRTIO_F_ACCESS_PLATFORM));
	CV0("block with CONFIG_WCE", EINVAL, cfg.c.features |= 1ull << VIRTIO_BLK_F_CONFIG_WCE);
	CV0("net without VIRTIO_F_VERSION_1", EINVAL,
	    (net_cfg(&cfg, "bi-val", 2, 0, 0), cfg.c.features &= ~(1ull << VIRTIO_F_VERSION_1)));
	CV0("net with CTRL_VQ", EINVAL,
	    (net_cfg(&cfg, "bi-val", 3, 0, 0), cfg.c.features |= 1ull << VIRTIO_NET_F_CTRL_VQ));
	/*
	 * Names: the kernel makes /sys/devices/virtual/vduse/NAME and
	 * /dev/vduse/NAME of it. kobject names turn '/' into '!', so "a/b"
	 * would become "a!b" (and collide with a device of that name); "."
	 * and ".." name directory entries no lookup can reach.
	 */
	CV0("name with '/' (\"bi/x\")", W(EINVAL, NA, NA), snprintf(cfg.c.name, sizeof(cfg.c.name), "bi/x"));
	CV0("name \".\"", W(EINVAL, NA, NA), snprintf(cfg.c.name, sizeof(cfg.c.name), "."));
	CV0("name \"..\"", W(EINVAL, NA, NA), snprintf(cfg.c.name, sizeof(cfg.c.name), ".."));
	CV0("name \"control\" (the control device's)", W(EEXIST, NA, NA),
	    snprintf(cfg.c.name, sizeof(cfg.c.name), "control"));
	CV1("reserved[5] != 0", EINVAL, cfg.c.reserved[5] = 1);
	CV1("ngroups 0", EINVAL, cfg.c.ngroups = 0);
	CV1("ngroups 0x10000", EINVAL, cfg.c.ngroups = 0x10000);
	CV1("nas 0", EINVAL, cfg.c.nas = 0);
	CV1("nas 0x10000", EINVAL, cfg.c.nas = 0x10000);
	CV1("ngroups 0xffffffff", EINVAL, cfg.c.ngroups = 0xffffffff);
	CV1("nas 0xffffffff", EINVAL, cfg.c.nas = 0xffffffff);
#undef CV0
#undef CV1

	/* the config space is read after validation, before the name check */
	pages = mmap(NULL, 2 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (pages != MAP_FAILED && !mprotect(pages + PAGE, PAGE, PROT_NONE)) {
		edge = (struct devcfg *)(pages + PAGE - sizeof(struct vduse_dev_config));
		blk_cfg(&cfg, "bi-val", 1, 0, 0);
		memcpy(edge, &cfg, sizeof(struct vduse_dev_config));
		ROW("VDUSE_CREATE_DEV v0", "config space unreadable", EFAULT, create_case(c0, edge));
		blk_cfg(&cfg, "bi-val", 1, 0, 0);
		if (create(c0, &cfg) == 0) {
			ROW("VDUSE_CREATE_DEV v0", "name taken", EEXIST, create_case(c0, &cfg));
			ROW("VDUSE_CREATE_DEV v0", "name taken, config unreadable", EFAULT, create_case(c0, edge));
			dev_destroy(c0, "bi-val");
		}
		munmap(pages, 2 * PAGE);
	}
	close(c0);
	close(c1);
}

/* ---- the device fd, before the vDPA device exists ---------------------------- */

static void devfd_cases(int ctl, int fd, int ver, const char *name)
{
	struct vduse_vq_config vq;
	struct vduse_vq_info info;
	struct vduse_vq_eventfd ev;
	struct vduse_config_data cd;
	struct vduse_iotlb_entry e;
	struct vduse_iotlb_entry_v2 e2;
	struct vduse_iova_info ii;
	struct vduse_iova_umem um;
	struct vduse_dev_request req;
	struct vduse_dev_response resp;
	char c[120], small[100];
	uint32_t idx;
	int efd = eventfd(0, EFD_CLOEXEC);
	int v1 = ver == 1;

#define C(s) (snprintf(c, sizeof(c), "%s (v%d device)", s, ver), c)
	ROW("second open of /dev/vduse/NAME", C("-"), EBUSY, dev_open(name));
	ROW("VDUSE_DESTROY_DEV", C("the device fd is open"), EBUSY, ioctl(ctl, VDUSE_DESTROY_DEV, name));
	ROW("device ioctl", C("unknown number (VDUSE type, nr 0x7f)"), ENOTTY, ioctl(fd, _IO(VDUSE_BASE, 0x7f)));
	ROW("device ioctl", C("a control ioctl (VDUSE_CREATE_DEV)"), ENOTTY, ioctl(fd, VDUSE_CREATE_DEV, badp));
	ROW("VDUSE_DEV_GET_FEATURES", C("bad pointer"), EFAULT, ioctl(fd, VDUSE_DEV_GET_FEATURES, badp));

#define VQ(arg, want, tweak) do { memset(&vq, 0, sizeof(vq)); vq.max_size = 256; tweak; \
		ROW("VDUSE_VQ_SETUP", C(arg), want, ioctl(fd, VDUSE_VQ_SETUP, &vq)); } while (0)
	VQ("index == vq_num", EINVAL, vq.index = 2);
	VQ("index 0xffffffff", EINVAL, vq.index = 0xffffffff);
	VQ("group 1 on v0", v1 ? NA : EINVAL, vq.group = 1);
	VQ("group == ngroups", v1 ? EINVAL : NA, vq.group = 2);
	VQ("group 0xffffffff", v1 ? EINVAL : NA, vq.group = 0xffffffff);
	VQ("reserved1 != 0", EINVAL, vq.reserved1 = 1);
	VQ("reserved2[0] != 0", EINVAL, vq.reserved2[0] = 1);
	VQ("reserved2[9] != 0", EINVAL, vq.reserved2[9] = 1);
#undef VQ
	ROW("VDUSE_VQ_SETUP", C("bad pointer"), EFAULT, ioctl(fd, VDUSE_VQ_SETUP, badp));

	memset(&info, 0, sizeof(info));
	info.index = 2;
	ROW("VDUSE_VQ_GET_INFO", C("index == vq_num"), EINVAL, ioctl(fd, VDUSE_VQ_GET_INFO, &info));
	info.index = 0x80000000;
	ROW("VDUSE_VQ_GET_INFO", C("index 0x80000000"), EINVAL, ioctl(fd, VDUSE_VQ_GET_INFO, &info));
	ROW("VDUSE_VQ_GET_INFO", C("bad pointer"), EFAULT, ioctl(fd, VDUSE_VQ_GET_INFO, badp));

	ev.index = 2;
	ev.fd = efd;
	ROW("VDUSE_VQ_SETUP_KICKFD", C("index == vq_num"), EINVAL, ioctl(fd, VDUSE_VQ_SETUP_KICKFD, &ev));
	ev.index = 0xffffffff;
	ROW("VDUSE_VQ_SETUP_KICKFD", C("index 0xffffffff"), EINVAL, ioctl(fd, VDUSE_VQ_SETUP_KICKFD, &ev));
	ev.index = 0;
	ev.fd = 12345;
	ROW("VDUSE_VQ_SETUP_KICKFD", C("fd not open"), EBADF, ioctl(fd, VDUSE_VQ_SETUP_KICKFD, &ev));
	ev.fd = ctl;
	ROW("VDUSE_VQ_SETUP_KICKFD", C("fd not an eventfd"), EINVAL, ioctl(fd, VDUSE_VQ_SETUP_KICKFD, &ev));
	ev.fd = -5;
	ROW("VDUSE_VQ_SETUP_KICKFD", C("fd -5 (neither an fd nor VDUSE_EVENTFD_DEASSIGN): ignored"), OK,
	    ioctl(fd, VDUSE_VQ_SETUP_KICKFD, &ev));
	ROW("VDUSE_VQ_SETUP_KICKFD", C("bad pointer"), EFAULT, ioctl(fd, VDUSE_VQ_SETUP_KICKFD, badp));

	idx = 2;
	ROW("VDUSE_VQ_INJECT_IRQ", C("index == vq_num"), EINVAL, ioctl(fd, VDUSE_VQ_INJECT_IRQ, &idx));
	idx = 0xffffffff;
	ROW("VDUSE_VQ_INJECT_IRQ", C("index 0xffffffff"), EINVAL, ioctl(fd, VDUSE_VQ_INJECT_IRQ, &idx));
	idx = 0;
	ROW("VDUSE_VQ_INJECT_IRQ", C("valid index, before DRIVER_OK"), EINVAL, ioctl(fd, VDUSE_VQ_INJECT_IRQ, &idx));
	ROW("VDUSE_VQ_INJECT_IRQ", C("bad pointer"), EFAULT, ioctl(fd, VDUSE_VQ_INJECT_IRQ, badp));
	ROW("VDUSE_DEV_INJECT_CONFIG_IRQ", C("before DRIVER_OK"), EINVAL, ioctl(fd, VDUSE_DEV_INJECT_CONFIG_IRQ));

#define CD(arg, want, o, l) do { memset(&cd, 0, sizeof(cd)); cd.offset = (o); cd.length = (l); \
		ROW("VDUSE_DEV_SET_CONFIG", C(arg), want, ioctl(fd, VDUSE_DEV_SET_CONFIG, &cd)); } while (0)
	CD("offset == config_size", EINVAL, sizeof(struct virtio_blk_config), 1);
	CD("length 0", EINVAL, 0, 0);
	CD("offset + length past the end", EINVAL, 8, sizeof(struct virtio_blk_config));
	CD("offset 0xffffffff, length 2 (wraps)", EINVAL, 0xffffffff, 2);
	CD("length 0xffffffff", EINVAL, 0, 0xffffffff);
#undef CD
	ROW("VDUSE_DEV_SET_CONFIG", C("bad pointer"), EFAULT, ioctl(fd, VDUSE_DEV_SET_CONFIG, badp));

	memset(&e, 0, sizeof(e));
	e.last = ~0ull;
	ROW("VDUSE_IOTLB_GET_FD", C("no vDPA device yet (no domain)"), EINVAL, ioctl(fd, VDUSE_IOTLB_GET_FD, &e));
	e.start = 2;
	e.last = 1;
	ROW("VDUSE_IOTLB_GET_FD", C("start > last"), EINVAL, ioctl(fd, VDUSE_IOTLB_GET_FD, &e));
	ROW("VDUSE_IOTLB_GET_FD", C("bad pointer"), EFAULT, ioctl(fd, VDUSE_IOTLB_GET_FD, badp));

#define E2(arg, want, tweak) do { memset(&e2, 0, sizeof(e2)); e2.last = ~0ull; tweak; \
		ROW("VDUSE_IOTLB_GET_FD2", C(arg), want, ioctl(fd, VDUSE_IOTLB_GET_FD2, &e2)); } while (0)
	E2("on a v0 device", v1 ? NA : (has_v1 ? ENOTTY : NA), (void)0);
	E2("no domain", v1 ? EINVAL : NA, (void)0);
	E2("reserved[0] != 0", v1 ? EINVAL : NA, e2.reserved[0] = 1);
	E2("asid == nas", v1 ? EINVAL : NA, e2.asid = 2);
	E2("asid 0xffffffff", v1 ? EINVAL : NA, e2.asid = 0xffffffff);
	E2("start > last", v1 ? EINVAL : NA, (e2.start = 2, e2.last = 1));
#undef E2
	ROW("VDUSE_IOTLB_GET_FD2", C("bad pointer"), v1 ? EFAULT : NA, ioctl(fd, VDUSE_IOTLB_GET_FD2, badp));

#define GI(arg, want, tweak) do { memset(&ii, 0, sizeof(ii)); ii.last = ~0ull; tweak; \
		ROW("VDUSE_IOTLB_GET_INFO", C(arg), want, ioctl(fd, VDUSE_IOTLB_GET_INFO, &ii)); } while (0)
	GI("no domain", EINVAL, (void)0);
	GI("reserved[0] != 0", W(EINVAL, EFAULT, EINVAL), ii.reserved[0] = 1);
	GI("asid == nas", W(EINVAL, EFAULT, EINVAL), ii.asid = v1 ? 2 : 1);
	GI("start > last", EINVAL, (ii.start = 2, ii.last = 1));
#undef GI
	ROW("VDUSE_IOTLB_GET_INFO", C("bad pointer"), EFAULT, ioctl(fd, VDUSE_IOTLB_GET_INFO, badp));

#define UM(call, cmd, arg, want, tweak) do { memset(&um, 0, sizeof(um)); um.size = PAGE; tweak; \
		ROW(call, C(arg), want, ioctl(fd, cmd, &um)); } while (0)
	UM("VDUSE_IOTLB_REG_UMEM", VDUSE_IOTLB_REG_UMEM, "reserved[0] != 0", EINVAL, um.reserved[0] = 1);
	UM("VDUSE_IOTLB_REG_UMEM", VDUSE_IOTLB_REG_UMEM, "asid == nas", EINVAL, um.asid = v1 ? 2 : 1);
	UM("VDUSE_IOTLB_REG_UMEM", VDUSE_IOTLB_REG_UMEM, "no domain", EINVAL, (void)0);
	UM("VDUSE_IOTLB_DEREG_UMEM", VDUSE_IOTLB_DEREG_UMEM, "reserved[0] != 0", EINVAL, um.reserved[0] = 1);
	UM("VDUSE_IOTLB_DEREG_UMEM", VDUSE_IOTLB_DEREG_UMEM, "asid == nas", EINVAL, um.asid = v1 ? 2 : 1);
	UM("VDUSE_IOTLB_DEREG_UMEM", VDUSE_IOTLB_DEREG_UMEM, "nothing registered", ENOENT, (void)0);
#undef UM
	ROW("VDUSE_IOTLB_REG_UMEM", C("bad pointer"), EFAULT, ioctl(fd, VDUSE_IOTLB_REG_UMEM, badp));

	ROW("read() of a request", C("nothing queued, O_NONBLOCK"), EAGAIN, read(fd, &req, sizeof(req)));
	ROW("read() of a request", C("100-byte buffer"), EINVAL, read(fd, small, sizeof(small)));
	memset(&resp, 0, sizeof(resp));
	ROW("write() of a response", C("100 bytes"), EINVAL, write(fd, &resp, 100));
	ROW("write() of a response", C("0 bytes"), W(EINVAL, EINVAL, EINVAL), write(fd, &resp, 0));
	resp.reserved[0] = 1;
	ROW("write() of a response", C("reserved[0] != 0"), EINVAL, write(fd, &resp, sizeof(resp)));
	memset(&resp, 0, sizeof(resp));
	resp.reserved[3] = 1;
	ROW("write() of a response", C("reserved[3] != 0"), EINVAL, write(fd, &resp, sizeof(resp)));
	resp.reserved[3] = 0;
	resp.request_id = 0xdeadbeef;
	ROW("write() of a response", C("unknown request_id"), ENOENT, write(fd, &resp, sizeof(resp)));
	ROW("write() of a response", C("from a bad pointer"), EINVAL, write(fd, badp, sizeof(resp)));
	close(efd);
#undef C
}

/* ---- replies to real messages --------------------------------------------- */

/* Read the next request of FD (the responder paused), waiting up to 5 s. */
static int next_request(int fd, struct vduse_dev_request *req)
{
	int i;

	for (i = 0; i < 500; i++) {
		if (read(fd, req, sizeof(*req)) == sizeof(*req))
			return 0;
		if (errno != EAGAIN)
			return -1;
		msleep_(10);
	}
	return -1;
}

static void reply_cases(struct responder *r, int fd, int vh)
{
	struct vduse_dev_request req;
	struct vduse_dev_response resp;
	struct vhost_vring_state st = { .index = 0 };
	struct async_ioctl a;
	struct iovec iov[2];
	int got;

	/* GET_VRING_BASE asks the device for the queue's state: GET_VQ_STATE */
	responder_pause(r);
	async_ioctl_start(&a, vh, VHOST_GET_VRING_BASE, &st);
	got = next_request(fd, &req) == 0 && req.type == VDUSE_GET_VQ_STATE;
	TAP_OK(got, "badinput: a real GET_VQ_STATE request to answer", "type %u", req.type);
	if (got) {
		memset(&resp, 0, sizeof(resp));
		resp.request_id = req.request_id + 1;
		ROW("write() of a response", "request_id of no pending request (real one pending)", ENOENT,
		    write(fd, &resp, sizeof(resp)));
		resp.request_id = req.request_id;
		resp.reserved[2] = 7;
		ROW("write() of a response", "pending request_id, reserved[2] != 0", EINVAL,
		    write(fd, &resp, sizeof(resp)));
		resp.reserved[2] = 0;
		ROW("write() of a response", "pending request_id, 64 bytes", EINVAL, write(fd, &resp, 64));
		/* a response split over two iovecs is one response */
		resp.result = 7;	/* neither OK nor FAILED */
		iov[0].iov_base = &resp;
		iov[0].iov_len = 16;
		iov[1].iov_base = (char *)&resp + 16;
		iov[1].iov_len = sizeof(resp) - 16;
		ROW("writev() of a response", "pending request_id, result 7, in two iovecs", OK, writev(fd, iov, 2));
		ROW("write() of a response", "the same request_id again (answered)", ENOENT,
		    write(fd, &resp, sizeof(resp)));
	}
	if (async_ioctl_wait(&a, 10000) == 0)
		ROW("VHOST_GET_VRING_BASE", "the device answered result 7", EIO, a.ret < 0 ? (errno = a.err, -1) : 0);
	else
		TAP_OK(0, "badinput: GET_VRING_BASE returned after the answer", "still blocked");
	responder_resume(r, fd);
}

/* ---- vhost-vdpa ------------------------------------------------------------- */

static void vhost_cases(int vh, int ver)
{
	struct vhost_vring_state s;
	struct vhost_vring_addr a;
	struct vhost_vdpa_config *cfg;
	struct vhost_msg_v2 m;
	uint64_t f;
	uint8_t st;
	char c[120], *mem;
	int v1 = ver == 1;

	mem = mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
#define C(s) (snprintf(c, sizeof(c), "%s (v%d device)", s, ver), c)
#define SA(arg, want, g, as) ROW("VHOST_VDPA_SET_GROUP_ASID", C(arg), want, vh_set_group_asid(vh, g, as))
	SA("group == ngroups (< nvqs)", v1 ? EINVAL : NA, 2, 0);
	SA("group >= nvqs", v1 ? ENOBUFS : NA, 3, 0);
	SA("group 0xffffffff", v1 ? ENOBUFS : NA, 0xffffffff, 0);
	SA("asid == nas", v1 ? EINVAL : NA, 1, 2);
	SA("asid 0xffffffff", v1 ? EINVAL : NA, 1, 0xffffffff);
#undef SA
	s.index = 3;
	ROW("VHOST_VDPA_GET_VRING_GROUP", C("index == nvqs"), ENOBUFS, ioctl(vh, VHOST_VDPA_GET_VRING_GROUP, &s));
	s.index = 3;
	s.num = 64;
	ROW("VHOST_SET_VRING_NUM", C("index == nvqs"), ENOBUFS, ioctl(vh, VHOST_SET_VRING_NUM, &s));
	s.index = 0;
	s.num = 0;
	ROW("VHOST_SET_VRING_NUM", C("num 0"), EINVAL, ioctl(vh, VHOST_SET_VRING_NUM, &s));
	s.num = 48;
	ROW("VHOST_SET_VRING_NUM", C("num 48 (not a power of two)"), EINVAL, ioctl(vh, VHOST_SET_VRING_NUM, &s));
	s.num = 0x10000;
	ROW("VHOST_SET_VRING_NUM", C("num 0x10000"), EINVAL, ioctl(vh, VHOST_SET_VRING_NUM, &s));
	memset(&a, 0, sizeof(a));
	a.index = 3;
	ROW("VHOST_SET_VRING_ADDR", C("index == nvqs"), ENOBUFS, ioctl(vh, VHOST_SET_VRING_ADDR, &a));
	s.index = 3;
	ROW("VHOST_GET_VRING_BASE", C("index == nvqs"), ENOBUFS, ioctl(vh, VHOST_GET_VRING_BASE, &s));
	s.num = 1;
	ROW("VHOST_VDPA_SET_VRING_ENABLE", C("index == nvqs"), ENOBUFS, ioctl(vh, VHOST_VDPA_SET_VRING_ENABLE, &s));
	f = 1ull << 63;
	ROW("VHOST_SET_BACKEND_FEATURES", C("unknown bit 63"), EOPNOTSUPP, ioctl(vh, VHOST_SET_BACKEND_FEATURES, &f));
	cfg = calloc(1, sizeof(*cfg) + 64);
	cfg->off = 0;
	cfg->len = sizeof(struct virtio_blk_config) + 1;
	ROW("VHOST_VDPA_GET_CONFIG", C("len > config size"), EINVAL, ioctl(vh, VHOST_VDPA_GET_CONFIG, cfg));
	cfg->off = 0xfffffff0;
	cfg->len = 32;
	ROW("VHOST_VDPA_GET_CONFIG", C("off + len wraps"), EINVAL, ioctl(vh, VHOST_VDPA_GET_CONFIG, cfg));
	free(cfg);
	s.index = 0;
	ROW("vhost-vdpa ioctl", C("unknown number (VHOST type, nr 0xff)"), ENOTTY,
	    ioctl(vh, _IO(VHOST_VIRTIO, 0xff), &s));

	/* IOTLB messages */
#define IO(arg, want, asid, type, iova, size, ua, perm) \
	ROW("IOTLB message (write)", C(arg), want, vh_iotlb(vh, asid, type, iova, size, ua, perm))
	IO("UPDATE asid == nas", v1 ? EFAULT : NA, 2, VHOST_IOTLB_UPDATE, 0x100000, PAGE, mem, VHOST_ACCESS_RW);
	IO("UPDATE asid 0xffffffff", v1 ? EFAULT : NA, 0xffffffff, VHOST_IOTLB_UPDATE, 0x100000, PAGE, mem,
	   VHOST_ACCESS_RW);
	IO("UPDATE asid 1 on a one-AS device", v1 ? NA : EFAULT, 1, VHOST_IOTLB_UPDATE, 0x100000, PAGE, mem,
	   VHOST_ACCESS_RW);
	IO("UPDATE size 0", EINVAL, 0, VHOST_IOTLB_UPDATE, 0x100000, 0, mem, VHOST_ACCESS_RW);
	IO("UPDATE iova + size wraps", EFAULT, 0, VHOST_IOTLB_UPDATE, ~0ull - 10, PAGE, mem, VHOST_ACCESS_RW);
	IO("UPDATE uaddr 8 (unmapped): accepted, nothing mapped", OK, 0, VHOST_IOTLB_UPDATE, 0x100000, PAGE, badp, VHOST_ACCESS_RW);
	IO("UPDATE perm 0: accepted", OK, 0, VHOST_IOTLB_UPDATE, 0x100000, PAGE, mem, 0);
	IO("unknown type 0x7f", EFAULT, 0, 0x7f, 0x100000, PAGE, mem, VHOST_ACCESS_RW);
	IO("INVALIDATE asid == nas", v1 ? EFAULT : NA, 2, VHOST_IOTLB_INVALIDATE, 0x100000, PAGE, NULL, 0);
	memset(&m, 0, sizeof(m));
	m.type = VHOST_IOTLB_MSG_V2;
	ROW("IOTLB message (write)", C("10 bytes"), EINVAL, write(vh, &m, 10));
	m.type = 0x77;
	ROW("IOTLB message (write)", C("unknown message type 0x77"), EINVAL, write(vh, &m, sizeof(m)));
#undef IO
	/* status may only move forward, or to 0 (reset) */
	st = VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER;
	vh_set_status(vh, st);
	st = VIRTIO_CONFIG_S_ACKNOWLEDGE;
	ROW("VHOST_VDPA_SET_STATUS", C("clears a bit without a reset"), EINVAL, ioctl(vh, VHOST_VDPA_SET_STATUS, &st));
	vh_set_status(vh, 0);
	munmap(mem, PAGE);
#undef C
}

/* ---- a device of each version ------------------------------------------------ */

static void device_cases(int ver)
{
	struct devcfg cfg;
	struct responder r;
	char path[300];
	const char *name = ver ? "bi-dev1" : "bi-dev0";
	int ctl, fd, vh;

	ctl = ctl_open();
	ctl_set_version(ctl, ver);
	if (ver)
		blk_cfg(&cfg, name, 2, 2, 2);
	else
		blk_cfg(&cfg, name, 2, 0, 0);
	if (create(ctl, &cfg)) {
		TAP_OK(0, "badinput: create the test device", "v%d: %s", ver, strerror(errno));
		close(ctl);
		return;
	}
	fd = dev_open(name);
	devfd_cases(ctl, fd, ver, name);
	close(fd);
	dev_destroy(ctl, name);

	/* bound to vhost-vdpa: one more queue so groups 2 < vqs 3 */
	if (ver)
		blk_cfg(&cfg, name, 3, 2, 2);
	else
		blk_cfg(&cfg, name, 3, 0, 0);
	if (create(ctl, &cfg) || (fd = dev_open(name)) < 0) {
		TAP_OK(0, "badinput: create the bound test device", "v%d: %s", ver, strerror(errno));
		close(ctl);
		return;
	}
	{
		struct vduse_vq_config vq = { .max_size = 256 };

		for (vq.index = 0; vq.index < 3; vq.index++) {
			vq.group = ver && vq.index == 2;
			ioctl(fd, VDUSE_VQ_SETUP, &vq);
		}
	}
	responder_start(&r, fd);
	if (vdpa_add(name) || vhost_path(name, path, sizeof(path)) || (vh = vh_open(path)) < 0) {
		TAP_OK(0, "badinput: bind the device to vhost-vdpa", "v%d", ver);
	} else {
		vhost_cases(vh, ver);
		reply_cases(&r, fd, vh);
		close(vh);
	}
	vdpa_del(name);
	responder_stop(&r);
	close(fd);
	dev_destroy(ctl, name);
	close(ctl);
}

/*
 * --probe-names (by hand, not in make check: on upstream it may warn): what
 * a kernel makes of names with '/', "." and "..", as diagnostics.
 */
static void probe_names(void)
{
	static const char *const names[] = { "bi/x", "bi!x", ".", ".." };
	struct devcfg cfg;
	int ctl = ctl_open();

	for (unsigned int i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		blk_cfg(&cfg, names[i], 1, 0, 0);
		errno = 0;
		printf("# probe: CREATE_DEV \"%s\": %s\n", names[i],
		       ioctl(ctl, VDUSE_CREATE_DEV, &cfg) ? strerror(errno) : "created");
		run_cmd("ls -la /dev/vduse/ /sys/class/vduse/ 2>&1 | sed 's/^/# probe:   /'");
	}
	for (int i = 3; i >= 0; i--)
		printf("# probe: DESTROY_DEV \"%s\": %s\n", names[i],
		       ioctl(ctl, VDUSE_DESTROY_DEV, names[i]) ? strerror(errno) : "destroyed");
	close(ctl);
}

int main(int argc, char **argv)
{
	if (argc == 2 && !strcmp(argv[1], "--probe-names")) {
		probe_names();
		return 0;
	}
	if (argc != 3 || strcmp(argv[1], "--impl") || impl_parse(argv[2], &impl)) {
		fprintf(stderr, "usage: badinput --impl upstream|stock612|ours\n");
		return 2;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	has_v1 = impl != IMPL_STOCK612;
	if (virtio_vdpa_loaded()) {
		printf("not ok 1 - badinput: virtio_vdpa is loaded (it would claim the test devices)\n");
		return 1;
	}
	printf("# badinput impl %s\n", argv[2]);
	control_cases();
	device_cases(0);
	if (has_v1)
		device_cases(1);
	return tap_failed ? 1 : 0;
}
