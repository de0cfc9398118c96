// SPDX-License-Identifier: GPL-2.0
/*
 * conformance: the VDUSE UAPI contract (docs: vduse-v1.md) checked rule by
 * rule with raw ioctls, against whichever implementation the guest runs:
 *
 *   conformance --impl upstream|stock612|ours
 *
 * upstream = Linux 7.x's vduse (API v1, the reference), stock612 = Debian
 * 6.12's own vduse (API v0 only), ours = kernel/vduse.ko on 6.12. Where they
 * may differ, the expected behaviour is in one table (expect_tab) with the
 * reason; everything else is the same rule for all three.
 *
 * The vDPA device is bound to vhost_vdpa (the suite loads it, not
 * virtio_vdpa) and driven through /dev/vhost-vdpa-N, so that every message
 * type can be provoked and its payload checked. A responder thread is the
 * device's message loop; it is paused where the test reads and writes the
 * message channel by hand.
 */
#define _GNU_SOURCE
#include <linux/capability.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include "tap.h"
#include "vduse_test.h"
#include "vhost_vdpa_client.h"

static const struct expect {
	const char *name;
	int has_v1;		/* SET_API_VERSION(1) works, v1 devices exist */
	int default_version;	/* GET_API_VERSION on a fresh control fd */
	/*
	 * CREATE_DEV with ngroups = nas = 0 on an fd that never called
	 * SET_API_VERSION: the version of the device made, or -1 for EINVAL.
	 * "untouched": the fd never called GET either; "asked": it called GET.
	 */
	int untouched_zero;
	int asked_zero;
	int getinfo_arg_errno;	/* GET_INFO bad reserved/asid (§3.7, §5b) */
	int v1_net_ctrl_vq_ok;	/* CREATE_DEV of a v1 net device with CTRL_VQ (§5d) */
	/*
	 * CREATE_DEV refuses a vq_align the kernel's virtio_ring cannot use
	 * (0, not a power of two, below the used ring's 4): 0 lets virtio-vdpa
	 * place the used ring at address 0.
	 */
	int vq_align_checked;
	/* the fds of GET_FD/GET_FD2 are close-on-exec (docs/uapi.md) */
	int getfd_cloexec;
	/* GET_FD2 with a non-zero padding byte: errno, or 0 if ignored */
	int getfd2_padding_errno;
} expect_tab[] = {
	[IMPL_UPSTREAM] = {
		.name = "upstream",
		.has_v1 = 1,
		.default_version = 1,
		/*
		 * 7.x keeps an fd that neither GET nor SET the version at 0
		 * (VDUSE_API_VERSION_NOT_ASKED becomes VDUSE_API_VERSION at
		 * CREATE_DEV): old userspace gets a v0 device. Only after GET
		 * reported 1 do zero ngroups/nas fail (the §5a "upstream" column).
		 */
		.untouched_zero = 0,
		.asked_zero = -1,
		.getinfo_arg_errno = EFAULT,	/* upstream quirk, §3.7 */
		.v1_net_ctrl_vq_ok = 0,		/* 56e71885b034 kept */
		.vq_align_checked = 1,
		.getfd_cloexec = 0,
		.getfd2_padding_errno = 0,
	},
	[IMPL_STOCK612] = {
		.name = "stock612",
		.has_v1 = 0,
		.default_version = 0,	/* before 12e0043d335f */
		.untouched_zero = 0,
		.asked_zero = 0,
		/* asid overlays 6.12's reserved[], checked with EINVAL */
		.getinfo_arg_errno = EINVAL,
		.v1_net_ctrl_vq_ok = 0,
		/* only vq_align > PAGE_SIZE before 6.12.114: vq_align_checked() */
		.vq_align_checked = 0,
	},
	[IMPL_OURS] = {
		.name = "ours",
		.has_v1 = 1,
		.default_version = 1,
		/* §5a: a never-negotiated fd gets a one-group, one-AS v1 device */
		.untouched_zero = 1,
		.asked_zero = 1,
		.getinfo_arg_errno = EINVAL,	/* §5b */
		.v1_net_ctrl_vq_ok = 1,		/* §5d, cvq_policy=isolated */
		.vq_align_checked = 1,
		.getfd_cloexec = 1,
		.getfd2_padding_errno = EINVAL,	/* the header says zero */
	},
};

static enum impl impl;
static const struct expect *X;

#define PAGE 4096

static int vq_align_checked(void)
{
	return X->vq_align_checked || (impl == IMPL_STOCK612 && stock612_checks_vq_align());
}

/* Names this run may leave behind on a failure; destroyed at exit. */
static const char *const all_names[] = {
	"cf-untouched", "cf-asked", "cf-asked22", "cf-set0", "cf-val", "cf-net1",
	"cf-nocap", "cf-v0", "cf-v1", "cf-pk", "cf-keep", "cf-vnet0", "cf-vnet1", "cf-vcvq",
};

static void cleanup_all(int ctl)
{
	cleanup_names(ctl, all_names, sizeof(all_names) / sizeof(all_names[0]));
}

static int create(int ctl, struct devcfg *cfg)
{
	return ioctl(ctl, VDUSE_CREATE_DEV, cfg);
}

/* Expect CREATE_DEV to make a device of version WANT (-1: fail with EINVAL). */
static void expect_create(int ctl, struct devcfg *cfg, int want, const char *what)
{
	char name[200];
	int r, fd, v;

	errno = 0;
	r = create(ctl, cfg);
	if (want < 0) {
		snprintf(name, sizeof(name), "%s: EINVAL", what);
		TAP_OK(r < 0 && errno == EINVAL, name, "returned %d errno %d (%s)", r,
		       r < 0 ? errno : 0, strerror(errno));
		if (r == 0)
			dev_destroy(ctl, cfg->c.name);
		return;
	}
	snprintf(name, sizeof(name), "%s: created as an API v%d device", what, want);
	if (r < 0) {
		TAP_OK(0, name, "CREATE_DEV errno %d (%s)", errno, strerror(errno));
		return;
	}
	fd = dev_open(cfg->c.name);
	v = fd >= 0 ? dev_api_version(fd) : -1;
	TAP_OK(v == want, name, "device version %d (open errno %d)", v, fd < 0 ? errno : 0);
	if (fd >= 0 && v == 1) {
		/* the device has exactly the groups it was created with */
		struct vduse_vq_config vq = { .index = 0, .max_size = 16, .group = cfg->c.ngroups ? cfg->c.ngroups : 1 };

		snprintf(name, sizeof(name), "%s: ngroups is %u", what, cfg->c.ngroups ? cfg->c.ngroups : 1);
		errno = 0;
		r = ioctl(fd, VDUSE_VQ_SETUP, &vq);
		TAP_OK(r < 0 && errno == EINVAL, name, "VQ_SETUP group %u: returned %d errno %d",
		       vq.group, r, errno);
	}
	if (fd >= 0)
		close(fd);
	snprintf(name, sizeof(name), "%s: DESTROY_DEV", what);
	TAP_SYS(dev_destroy(ctl, cfg->c.name), name);
}

/* ---- API negotiation ---------------------------------------------------- */

static void test_version(void)
{
	struct devcfg cfg;
	uint64_t v;
	int a, b;

	a = ctl_open();
	TAP_SYS(a, "open /dev/vduse/control");
	v = 99;
	TAP_SYS(ioctl(a, VDUSE_GET_API_VERSION, &v), "GET_API_VERSION on a fresh fd");
	TAP_EQ(v, X->default_version, "a fresh control fd reports the default version");

	if (X->has_v1) {
		TAP_SYS(ctl_set_version(a, 1), "SET_API_VERSION(1) accepted");
	} else {
		TAP_ERRNO(ctl_set_version(a, 1), EINVAL, "SET_API_VERSION(1) is EINVAL on an API v0 kernel");
	}
	TAP_ERRNO(ctl_set_version(a, 2), EINVAL, "SET_API_VERSION(2) (> max): EINVAL");
	TAP_ERRNO(ctl_set_version(a, ~0ull), EINVAL, "SET_API_VERSION(~0): EINVAL");
	v = 99;
	ioctl(a, VDUSE_GET_API_VERSION, &v);
	TAP_EQ(v, X->has_v1 ? 1 : X->default_version, "a refused SET leaves the version unchanged");
	TAP_SYS(ctl_set_version(a, 0), "SET_API_VERSION(0) after a higher version");
	v = 99;
	ioctl(a, VDUSE_GET_API_VERSION, &v);
	TAP_EQ(v, 0, "the version reads back as 0 after going back");

	b = ctl_open();
	v = 99;
	ioctl(b, VDUSE_GET_API_VERSION, &v);
	TAP_EQ(v, X->default_version, "the version is per open fd (a second fd keeps the default)");
	close(b);

	TAP_ERRNO(ioctl(a, _IO(VDUSE_BASE, 0x7f)), EINVAL, "unknown control ioctl: EINVAL (not ENOTTY)");
	TAP_ERRNO(ioctl(a, _IOR(0x54, 0x01, int)), EINVAL, "foreign ioctl on the control fd: EINVAL");
	TAP_ERRNO(ioctl(a, VDUSE_GET_API_VERSION, (void *)8), EFAULT, "GET_API_VERSION to a bad pointer: EFAULT");
	TAP_ERRNO(ioctl(a, VDUSE_SET_API_VERSION, (void *)8), EFAULT, "SET_API_VERSION from a bad pointer: EFAULT");
	TAP_ERRNO(ioctl(a, VDUSE_CREATE_DEV, (void *)8), EFAULT, "CREATE_DEV from a bad pointer: EFAULT");
	TAP_ERRNO(ioctl(a, VDUSE_DESTROY_DEV, (void *)8), EFAULT, "DESTROY_DEV from a bad pointer: EFAULT");
	close(a);

	/* §5a: userspace that never negotiates */
	a = ctl_open();
	blk_cfg(&cfg, "cf-untouched", 1, 0, 0);
	expect_create(a, &cfg, X->untouched_zero,
		      "CREATE_DEV 0/0 on an fd that never called GET or SET");
	close(a);

	a = ctl_open();
	ioctl(a, VDUSE_GET_API_VERSION, &v);
	blk_cfg(&cfg, "cf-asked", 1, 0, 0);
	expect_create(a, &cfg, X->asked_zero, "CREATE_DEV 0/0 after GET only (no SET)");
	blk_cfg(&cfg, "cf-asked", 1, 1, 0);
	expect_create(a, &cfg, -1, "CREATE_DEV ngroups=1 nas=0 without SET");
	blk_cfg(&cfg, "cf-asked", 1, 0, 1);
	expect_create(a, &cfg, -1, "CREATE_DEV ngroups=0 nas=1 without SET");
	blk_cfg(&cfg, "cf-asked22", 2, 2, 2);
	expect_create(a, &cfg, X->has_v1 ? 1 : -1, "CREATE_DEV ngroups=2 nas=2 after GET only");
	close(a);

	a = ctl_open();
	if (X->has_v1) {
		ctl_set_version(a, 1);
		blk_cfg(&cfg, "cf-asked", 1, 0, 0);
		expect_create(a, &cfg, -1, "CREATE_DEV 0/0 after an explicit SET(1)");
	} else {
		tap_result(1, "CREATE_DEV 0/0 after an explicit SET(1) # SKIP no API v1", NULL);
	}
	ctl_set_version(a, 0);
	blk_cfg(&cfg, "cf-set0", 1, 0, 0);
	expect_create(a, &cfg, 0, "CREATE_DEV 0/0 after SET(0)");
	close(a);

	if (X->has_v1) {
		a = ctl_open();
		ctl_set_version(a, 1);
		blk_cfg(&cfg, "cf-keep", 2, 2, 2);
		TAP_SYS(create(a, &cfg), "CREATE_DEV v1, then SET(0) on the same fd");
		ctl_set_version(a, 0);
		b = dev_open("cf-keep");
		TAP_EQ(b >= 0 ? dev_api_version(b) : -1, 1, "the device keeps the version it was created with");
		if (b >= 0)
			close(b);
		dev_destroy(a, "cf-keep");
		close(a);
	}
}

/* ---- CREATE_DEV validation ---------------------------------------------- */

/* Expect EINVAL from CREATE_DEV and no device left behind. */
static void create_einval(int ctl, struct devcfg *cfg, const char *what)
{
	char name[200];

	snprintf(name, sizeof(name), "CREATE_DEV %s: EINVAL", what);
	TAP_ERRNO(create(ctl, cfg), EINVAL, name);
	if (access("/dev/vduse/cf-val", F_OK) == 0)
		dev_destroy(ctl, "cf-val");
}

/* Results of the no-CAP_NET_ADMIN child, as errnos (0 = success). */
struct nocap_res {
	int net_create, net_dup, net_invalid, blk_create;
};

static void nocap_child(int ctl, int wfd)
{
	struct __user_cap_header_struct h = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct d[2];
	struct nocap_res res = { -1, -1, -1, -1 };
	struct devcfg cfg;

	if (syscall(SYS_capget, &h, d) == 0) {
		d[0].effective &= ~(1u << CAP_NET_ADMIN);
		if (syscall(SYS_capset, &h, d) == 0) {
			net_cfg(&cfg, "cf-nocap", 2, 0, 0);
			res.net_create = create(ctl, &cfg) ? errno : 0;
			/* cf-val exists (a block device): EPERM comes before EEXIST */
			net_cfg(&cfg, "cf-val", 2, 0, 0);
			res.net_dup = create(ctl, &cfg) ? errno : 0;
			net_cfg(&cfg, "cf-nocap", 2, 0, 0);
			cfg.c.features &= ~(1ull << VIRTIO_F_VERSION_1);
			res.net_invalid = create(ctl, &cfg) ? errno : 0;
			blk_cfg(&cfg, "cf-nocap", 1, 0, 0);
			res.blk_create = create(ctl, &cfg) ? errno : 0;
		}
	}
	if (write(wfd, &res, sizeof(res)) != sizeof(res))
		_exit(1);
	_exit(0);
}

static void test_create(void)
{
	struct devcfg cfg, *edge;
	struct nocap_res nr;
	uint8_t *pages;
	char longname[VDUSE_NAME_MAX + 1], path[300];
	int c0, c1 = -1, p[2] = { -1, -1 }, st;
	pid_t pid = -1;

	c0 = ctl_open();
	ctl_set_version(c0, 0);
	if (X->has_v1) {
		c1 = ctl_open();
		ctl_set_version(c1, 1);
	}

	/* v0 rules */
	blk_cfg(&cfg, "cf-val", 1, 0, 0);
	cfg.c.reserved[0] = 1;
	create_einval(c0, &cfg, "v0, reserved[0] != 0");
	blk_cfg(&cfg, "cf-val", 1, 0, 0);
	cfg.c.reserved[10] = 1;
	create_einval(c0, &cfg, "v0, reserved[10] != 0");
	blk_cfg(&cfg, "cf-val", 1, 1, 0);
	create_einval(c0, &cfg, "v0 with ngroups != 0");
	blk_cfg(&cfg, "cf-val", 1, 0, 1);
	create_einval(c0, &cfg, "v0 with nas != 0");

	/* v1 rules */
	if (X->has_v1) {
		blk_cfg(&cfg, "cf-val", 2, 2, 2);
		cfg.c.reserved[5] = 1;
		create_einval(c1, &cfg, "v1, reserved[5] != 0");
		blk_cfg(&cfg, "cf-val", 2, 0, 2);
		create_einval(c1, &cfg, "v1 with ngroups 0");
		blk_cfg(&cfg, "cf-val", 2, 0x10000, 2);
		create_einval(c1, &cfg, "v1 with ngroups 0x10000");
		blk_cfg(&cfg, "cf-val", 2, 2, 0);
		create_einval(c1, &cfg, "v1 with nas 0");
		blk_cfg(&cfg, "cf-val", 2, 2, 0x10000);
		create_einval(c1, &cfg, "v1 with nas 0x10000");
	} else {
		tap_result(1, "CREATE_DEV v1 ngroups/nas limits # SKIP no API v1", NULL);
	}

	/* rules common to both versions (checked on the v0 fd) */
	blk_cfg(&cfg, "cf-val", 1, 0, 0);
	cfg.c.vq_align = 2 * PAGE;
	create_einval(c0, &cfg, "vq_align > PAGE_SIZE");
	blk_cfg(&cfg, "cf-val", 1, 0, 0);
	cfg.c.vq_align = 0;
	expect_create(c0, &cfg, vq_align_checked() ? -1 : 0, "CREATE_DEV vq_align 0");
	blk_cfg(&cfg, "cf-val", 1, 0, 0);
	cfg.c.vq_align = 3 * 512;
	expect_create(c0, &cfg, vq_align_checked() ? -1 : 0, "CREATE_DEV vq_align 1536 (not a power of two)");
	blk_cfg(&cfg, "cf-val", 1, 0, 0);
	cfg.c.vq_align = 2;
	expect_create(c0, &cfg, vq_align_checked() ? -1 : 0, "CREATE_DEV vq_align 2 (below the used ring's 4)");
	blk_cfg(&cfg, "cf-val", 1, 0, 0);
	cfg.c.vq_align = 4;
	expect_create(c0, &cfg, 0, "CREATE_DEV vq_align 4 (the smallest usable)");
	blk_cfg(&cfg, "cf-val", 1, 0, 0);
	cfg.c.config_size = PAGE + 1;
	create_einval(c0, &cfg, "config_size > PAGE_SIZE");
	blk_cfg(&cfg, "cf-val", 1, 0, 0);
	cfg.c.vq_num = 0x10000;
	create_einval(c0, &cfg, "vq_num > 0xffff");
	blk_cfg(&cfg, "", 1, 0, 0);
	create_einval(c0, &cfg, "empty name");
	blk_cfg(&cfg, "cf-val", 1, 0, 0);
	cfg.c.device_id = 3;
	create_einval(c0, &cfg, "device_id 3 (console)");
	blk_cfg(&cfg, "cf-val", 1, 0, 0);
	cfg.c.device_id = 0;
	create_einval(c0, &cfg, "device_id 0");
	blk_cfg(&cfg, "cf-val", 1, 0, 0);
	cfg.c.features &= ~(1ull << VIRTIO_F_ACCESS_PLATFORM);
	create_einval(c0, &cfg, "without VIRTIO_F_ACCESS_PLATFORM");
	blk_cfg(&cfg, "cf-val", 1, 0, 0);
	cfg.c.features |= 1ull << VIRTIO_BLK_F_CONFIG_WCE;
	create_einval(c0, &cfg, "block with CONFIG_WCE");
	net_cfg(&cfg, "cf-val", 2, 0, 0);
	cfg.c.features &= ~(1ull << VIRTIO_F_VERSION_1);
	create_einval(c0, &cfg, "net without VIRTIO_F_VERSION_1");
	net_cfg(&cfg, "cf-val", 3, 0, 0);
	cfg.c.features |= 1ull << VIRTIO_NET_F_CTRL_VQ;
	create_einval(c0, &cfg, "v0 net with CTRL_VQ");

	if (X->has_v1) {
		net_cfg(&cfg, "cf-net1", 3, 2, 2);
		cfg.c.features |= 1ull << VIRTIO_NET_F_CTRL_VQ;
		expect_create(c1, &cfg, X->v1_net_ctrl_vq_ok ? 1 : -1, "v1 net with CTRL_VQ");
	} else {
		tap_result(1, "v1 net with CTRL_VQ # SKIP no API v1", NULL);
	}

	/*
	 * Order: validation (steps 2-11) before the config copy (12), which
	 * comes before the EEXIST check (14). The config area of EDGE ends the
	 * mapping: the page after the fixed part is PROT_NONE.
	 */
	pages = mmap(NULL, 2 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (pages == MAP_FAILED || mprotect(pages + PAGE, PAGE, PROT_NONE)) {
		TAP_OK(0, "map a fault page for CREATE_DEV", "%s", strerror(errno));
		return;
	}
	edge = (struct devcfg *)(pages + PAGE - sizeof(struct vduse_dev_config));
	blk_cfg(&cfg, "cf-val", 1, 0, 0);
	memcpy(edge, &cfg, sizeof(struct vduse_dev_config));
	edge->c.reserved[0] = 1;
	TAP_ERRNO(create(c0, edge), EINVAL, "CREATE_DEV invalid and config unreadable: EINVAL (validation first)");
	edge->c.reserved[0] = 0;
	TAP_ERRNO(create(c0, edge), EFAULT, "CREATE_DEV valid but config unreadable: EFAULT");
	TAP_OK(access("/dev/vduse/cf-val", F_OK) != 0, "no device left after the EFAULT", "it exists");

	blk_cfg(&cfg, "cf-val", 1, 0, 0);
	TAP_SYS(create(c0, &cfg), "CREATE_DEV valid block device");
	TAP_ERRNO(create(c0, &cfg), EEXIST, "CREATE_DEV same name again: EEXIST");
	TAP_ERRNO(create(c0, edge), EFAULT, "CREATE_DEV same name, config unreadable: EFAULT (copy before EEXIST)");
	cfg.c.vq_num = 0x10000;
	TAP_ERRNO(create(c0, &cfg), EINVAL, "CREATE_DEV same name, invalid: EINVAL (validation before EEXIST)");
	munmap(pages, 2 * PAGE);

	/* CAP_NET_ADMIN, in a child that dropped it (step 13 before 14) */
	memset(&nr, 0xff, sizeof(nr));
	if (pipe(p) == 0 && (pid = fork()) == 0) {
		close(p[0]);
		nocap_child(c0, p[1]);
	}
	if (p[1] >= 0)
		close(p[1]);
	if (pid < 0 || read(p[0], &nr, sizeof(nr)) != sizeof(nr))
		tap_diag("no result from the no-CAP_NET_ADMIN child");
	if (p[0] >= 0)
		close(p[0]);
	if (pid > 0)
		waitpid(pid, &st, 0);
	TAP_EQ(nr.net_create, EPERM, "CREATE_DEV net without CAP_NET_ADMIN: EPERM");
	TAP_EQ(nr.net_dup, EPERM, "CREATE_DEV net, taken name, without CAP_NET_ADMIN: EPERM before EEXIST");
	TAP_EQ(nr.net_invalid, EINVAL, "CREATE_DEV invalid net without CAP_NET_ADMIN: EINVAL before EPERM");
	TAP_EQ(nr.blk_create, 0, "CREATE_DEV block without CAP_NET_ADMIN is allowed");
	if (nr.blk_create == 0)
		dev_destroy(c0, "cf-nocap");

	TAP_SYS(dev_destroy(c0, "cf-val"), "DESTROY_DEV");
	TAP_OK(access("/dev/vduse/cf-val", F_OK) != 0, "device node gone after DESTROY_DEV", "still there");
	TAP_ERRNO(ioctl(c0, VDUSE_DESTROY_DEV, "cf-val"), EINVAL, "DESTROY_DEV of a destroyed name: EINVAL");
	TAP_ERRNO(ioctl(c0, VDUSE_DESTROY_DEV, "cf-never-was"), EINVAL, "DESTROY_DEV unknown name: EINVAL");
	blk_cfg(&cfg, "cf-val", 1, 0, 0);
	TAP_SYS(create(c0, &cfg), "a destroyed name can be reused");
	dev_destroy(c0, "cf-val");

	/* the kernel terminates the name at byte 255 */
	blk_cfg(&cfg, "x", 1, 0, 0);
	memset(cfg.c.name, 'n', VDUSE_NAME_MAX);
	TAP_SYS(create(c0, &cfg), "CREATE_DEV with an unterminated 256-byte name");
	memset(longname, 'n', VDUSE_NAME_MAX - 1);
	longname[VDUSE_NAME_MAX - 1] = 0;
	snprintf(path, sizeof(path), "/dev/vduse/%s", longname);
	TAP_OK(access(path, F_OK) == 0, "the name is cut to 255 bytes", "no %.20s... node", path);
	TAP_SYS(dev_destroy(c0, longname), "DESTROY_DEV by the 255-byte name");

	close(c0);
	if (c1 >= 0)
		close(c1);
}

/* ---- device fd, unbound ------------------------------------------------- */

static void name_fmt(char *buf, size_t len, int ver, const char *what)
{
	snprintf(buf, len, "v%d: %s", ver, what);
}

#define N(what) (name_fmt(nm, sizeof(nm), ver, what), nm)

static void test_devfd_unbound(int ctl, int fd, int ver, const char *name, uint32_t nvqs, uint32_t nas)
{
	struct vduse_vq_config vq;
	struct vduse_vq_info info;
	struct vduse_iotlb_entry e;
	struct vduse_iotlb_entry_v2 e2;
	struct vduse_iova_info ii;
	struct vduse_iova_umem um;
	char nm[200];
	uint32_t i;

	TAP_ERRNO(dev_open(name), EBUSY, N("a second open of the device: EBUSY"));
	TAP_ERRNO(ioctl(ctl, VDUSE_DESTROY_DEV, name), EBUSY, N("DESTROY_DEV while the fd is open: EBUSY"));
	TAP_ERRNO(ioctl(fd, _IO(VDUSE_BASE, 0x7f)), ENOTTY, N("unknown device ioctl: ENOTTY"));

	/* VQ_SETUP, §3.2 */
	memset(&vq, 0, sizeof(vq));
	vq.index = nvqs;
	vq.max_size = 64;
	TAP_ERRNO(ioctl(fd, VDUSE_VQ_SETUP, &vq), EINVAL, N("VQ_SETUP index == vq_num: EINVAL"));
	vq.index = 0xffffffff;
	TAP_ERRNO(ioctl(fd, VDUSE_VQ_SETUP, &vq), EINVAL, N("VQ_SETUP index 0xffffffff: EINVAL"));
	vq.index = 0;
	if (ver == 0) {
		vq.group = 1;
		TAP_ERRNO(ioctl(fd, VDUSE_VQ_SETUP, &vq), EINVAL, N("VQ_SETUP group 1 on v0: EINVAL"));
	} else {
		vq.group = 2;
		TAP_ERRNO(ioctl(fd, VDUSE_VQ_SETUP, &vq), EINVAL, N("VQ_SETUP group == ngroups: EINVAL"));
		vq.group = 0xffffffff;
		TAP_ERRNO(ioctl(fd, VDUSE_VQ_SETUP, &vq), EINVAL, N("VQ_SETUP group 0xffffffff: EINVAL"));
	}
	vq.group = 0;
	vq.reserved1 = 1;
	TAP_ERRNO(ioctl(fd, VDUSE_VQ_SETUP, &vq), EINVAL, N("VQ_SETUP reserved1 != 0: EINVAL"));
	vq.reserved1 = 0;
	vq.reserved2[9] = 1;
	TAP_ERRNO(ioctl(fd, VDUSE_VQ_SETUP, &vq), EINVAL, N("VQ_SETUP reserved2[9] != 0: EINVAL"));
	vq.reserved2[9] = 0;
	TAP_ERRNO(ioctl(fd, VDUSE_VQ_SETUP, (void *)8), EFAULT, N("VQ_SETUP from a bad pointer: EFAULT"));

	/* vq 0 and 1 now; the last vq only after a failed vdpa dev add */
	for (i = 0; i + 1 < nvqs; i++) {
		vq.index = i;
		vq.group = ver == 1 ? i % 2 : 0;
		TAP_SYS(ioctl(fd, VDUSE_VQ_SETUP, &vq), N("VQ_SETUP a valid vq"));
	}

	{
		struct vduse_vq_eventfd ev = { .index = nvqs, .fd = VDUSE_EVENTFD_DEASSIGN };
		uint32_t idx = nvqs;
		union {
			struct vduse_config_data d;
			struct {
				FLEX_HEAD(struct vduse_config_data);
				uint8_t b[8];
			};
		} cd;

		TAP_ERRNO(ioctl(fd, VDUSE_VQ_SETUP_KICKFD, &ev), EINVAL, N("VQ_SETUP_KICKFD index == vq_num: EINVAL"));
		TAP_ERRNO(ioctl(fd, VDUSE_VQ_INJECT_IRQ, &idx), EINVAL, N("VQ_INJECT_IRQ index == vq_num: EINVAL"));
		idx = 0xffffffff;
		TAP_ERRNO(ioctl(fd, VDUSE_VQ_INJECT_IRQ, &idx), EINVAL, N("VQ_INJECT_IRQ index 0xffffffff: EINVAL"));
		ev.index = 0xffffffff;
		TAP_ERRNO(ioctl(fd, VDUSE_VQ_SETUP_KICKFD, &ev), EINVAL, N("VQ_SETUP_KICKFD index 0xffffffff: EINVAL"));
		TAP_ERRNO(ioctl(fd, VDUSE_DEV_INJECT_CONFIG_IRQ), EINVAL, N("INJECT_CONFIG_IRQ before DRIVER_OK: EINVAL"));
		memset(&cd, 0, sizeof(cd));
		cd.d.offset = sizeof(struct virtio_blk_config) + 1;
		cd.d.length = 1;
		TAP_ERRNO(ioctl(fd, VDUSE_DEV_SET_CONFIG, &cd), EINVAL, N("SET_CONFIG offset beyond config_size: EINVAL"));
		cd.d.offset = 0;
		cd.d.length = 0;
		TAP_ERRNO(ioctl(fd, VDUSE_DEV_SET_CONFIG, &cd), EINVAL, N("SET_CONFIG length 0: EINVAL"));
		cd.d.offset = sizeof(struct virtio_blk_config) - 4;
		cd.d.length = 8;
		TAP_ERRNO(ioctl(fd, VDUSE_DEV_SET_CONFIG, &cd), EINVAL, N("SET_CONFIG past the end: EINVAL"));
	}

	memset(&info, 0, sizeof(info));
	info.index = nvqs;
	TAP_ERRNO(ioctl(fd, VDUSE_VQ_GET_INFO, &info), EINVAL, N("VQ_GET_INFO index == vq_num: EINVAL"));
	info.index = 0xffffffff;
	TAP_ERRNO(ioctl(fd, VDUSE_VQ_GET_INFO, &info), EINVAL, N("VQ_GET_INFO index 0xffffffff: EINVAL"));
	info.index = 0;
	TAP_SYS(ioctl(fd, VDUSE_VQ_GET_INFO, &info), N("VQ_GET_INFO vq 0"));
	TAP_OK(info.num == 0 && !info.ready && !info.desc_addr, N("VQ_GET_INFO before binding: not ready, no ring"),
	       "num %u ready %u desc 0x%llx", info.num, info.ready, (unsigned long long)info.desc_addr);

	/* IOTLB lookups before a domain exists */
	memset(&e, 0, sizeof(e));
	e.last = ~0ull;
	TAP_ERRNO(ioctl(fd, VDUSE_IOTLB_GET_FD, &e), EINVAL, N("GET_FD before vdpa dev add (no domain): EINVAL"));
	e.start = 2;
	e.last = 1;
	TAP_ERRNO(ioctl(fd, VDUSE_IOTLB_GET_FD, &e), EINVAL, N("GET_FD start > last: EINVAL"));
	memset(&e2, 0, sizeof(e2));
	e2.last = ~0ull;
	if (ver == 0) {
		TAP_ERRNO(ioctl(fd, VDUSE_IOTLB_GET_FD2, &e2), ENOTTY, N("GET_FD2 on a v0 device: ENOTTY"));
	} else {
		TAP_ERRNO(ioctl(fd, VDUSE_IOTLB_GET_FD2, &e2), EINVAL, N("GET_FD2 with no domain: EINVAL"));
		e2.reserved[10] = 1;
		TAP_ERRNO(ioctl(fd, VDUSE_IOTLB_GET_FD2, &e2), EINVAL, N("GET_FD2 reserved != 0: EINVAL"));
		e2.reserved[10] = 0;
		e2.asid = nas;
		TAP_ERRNO(ioctl(fd, VDUSE_IOTLB_GET_FD2, &e2), EINVAL, N("GET_FD2 asid == nas: EINVAL"));
		e2.asid = 0xffffffff;
		TAP_ERRNO(ioctl(fd, VDUSE_IOTLB_GET_FD2, &e2), EINVAL, N("GET_FD2 asid 0xffffffff: EINVAL"));
		e2.asid = 0;
		e2.start = 2;
		e2.last = 1;
		TAP_ERRNO(ioctl(fd, VDUSE_IOTLB_GET_FD2, &e2), EINVAL, N("GET_FD2 start > last: EINVAL"));
		TAP_ERRNO(ioctl(fd, VDUSE_IOTLB_GET_FD2, (void *)8), EFAULT, N("GET_FD2 from a bad pointer: EFAULT"));
	}

	memset(&ii, 0, sizeof(ii));
	ii.last = ~0ull;
	TAP_ERRNO(ioctl(fd, VDUSE_IOTLB_GET_INFO, &ii), EINVAL, N("GET_INFO with no domain: EINVAL"));
	ii.reserved[4] = 1;
	TAP_ERRNO(ioctl(fd, VDUSE_IOTLB_GET_INFO, &ii), X->getinfo_arg_errno,
		  N("GET_INFO reserved != 0: this implementation's errno"));
	ii.reserved[4] = 0;
	ii.asid = ver == 0 ? 1 : nas;
	TAP_ERRNO(ioctl(fd, VDUSE_IOTLB_GET_INFO, &ii), X->getinfo_arg_errno,
		  N(ver == 0 ? "GET_INFO asid 1 on v0: this implementation's errno"
			     : "GET_INFO asid == nas: this implementation's errno"));
	ii.asid = 0xffffffff;
	TAP_ERRNO(ioctl(fd, VDUSE_IOTLB_GET_INFO, &ii), X->getinfo_arg_errno,
		  N("GET_INFO asid 0xffffffff: this implementation's errno"));
	ii.asid = 0;
	ii.start = 2;
	ii.last = 1;
	TAP_ERRNO(ioctl(fd, VDUSE_IOTLB_GET_INFO, &ii), EINVAL, N("GET_INFO start > last: EINVAL"));

	memset(&um, 0, sizeof(um));
	um.size = 1 << 20;
	um.reserved[0] = 1;
	TAP_ERRNO(ioctl(fd, VDUSE_IOTLB_REG_UMEM, &um), EINVAL, N("REG_UMEM reserved != 0: EINVAL"));
	TAP_ERRNO(ioctl(fd, VDUSE_IOTLB_DEREG_UMEM, &um), EINVAL, N("DEREG_UMEM reserved != 0: EINVAL"));
	um.reserved[0] = 0;
	um.asid = ver == 0 ? 1 : nas;
	TAP_ERRNO(ioctl(fd, VDUSE_IOTLB_REG_UMEM, &um), EINVAL,
		  N(ver == 0 ? "REG_UMEM asid 1 on v0: EINVAL" : "REG_UMEM asid == nas: EINVAL"));
	TAP_ERRNO(ioctl(fd, VDUSE_IOTLB_DEREG_UMEM, &um), EINVAL,
		  N(ver == 0 ? "DEREG_UMEM asid 1 on v0: EINVAL" : "DEREG_UMEM asid == nas: EINVAL"));
	um.asid = 0xffffffff;
	TAP_ERRNO(ioctl(fd, VDUSE_IOTLB_REG_UMEM, &um), EINVAL, N("REG_UMEM asid 0xffffffff: EINVAL"));
	TAP_ERRNO(ioctl(fd, VDUSE_IOTLB_DEREG_UMEM, &um), EINVAL, N("DEREG_UMEM asid 0xffffffff: EINVAL"));
	um.asid = 0;
	TAP_ERRNO(ioctl(fd, VDUSE_IOTLB_REG_UMEM, &um), EINVAL, N("REG_UMEM with no domain: EINVAL"));
	TAP_ERRNO(ioctl(fd, VDUSE_IOTLB_DEREG_UMEM, &um), ENOENT, N("DEREG_UMEM with no umem: ENOENT"));

	/* sysfs */
	TAP_EQ(sysfs_read(name, "msg_timeout"), 30, N("msg_timeout defaults to 30 s"));
	TAP_EQ(sysfs_write(name, "msg_timeout", "abc"), -EINVAL, N("msg_timeout 'abc': EINVAL"));
	TAP_EQ(sysfs_write(name, "msg_timeout", "-1"), -EINVAL, N("msg_timeout -1: EINVAL"));
	TAP_EQ(sysfs_write(name, "msg_timeout", "5"), 0, N("msg_timeout set to 5"));
	TAP_EQ(sysfs_read(name, "msg_timeout"), 5, N("msg_timeout reads back 5"));
	TAP_EQ(sysfs_read(name, "bounce_size"), 64 << 20, N("bounce_size defaults to 64 MiB"));
	TAP_EQ(sysfs_write(name, "bounce_size", "1048575"), -EINVAL, N("bounce_size below 1 MiB: EINVAL"));
	TAP_EQ(sysfs_write(name, "bounce_size", "1073741825"), -EINVAL, N("bounce_size above 1 GiB: EINVAL"));
	TAP_EQ(sysfs_write(name, "bounce_size", "2101247"), 0, N("bounce_size 2 MiB + 4095 accepted"));
	TAP_EQ(sysfs_read(name, "bounce_size"), 2 << 20, N("bounce_size is rounded down to pages"));
}

/* ---- bound to vhost-vdpa ------------------------------------------------ */

static int check_status_msg(struct responder *r, int mark, uint8_t status)
{
	struct vduse_dev_request q;

	if (responder_find(r, mark, VDUSE_SET_STATUS, &q))
		return -1;
	return q.s.status == status ? 0 : q.s.status;
}

static void test_channel(struct responder *r, int *fdp, int vh, const char *name, int ver)
{
	struct vduse_dev_request req, again;
	struct vduse_dev_response resp;
	struct vhost_vring_state st = { .index = 1 };
	struct async_ioctl a;
	uint8_t *bad;
	char nm[200], small[100];
	int fd = *fdp, ev, nfd;
	ssize_t n;

	responder_pause(r);
	ev = poll_wait(fd, POLLIN | POLLOUT, 0);
	TAP_OK(!(ev & (POLLIN | POLLOUT)), N("poll with nothing queued: neither POLLIN nor POLLOUT"), "revents 0x%x", ev);
	TAP_ERRNO(read(fd, &req, sizeof(req)), EAGAIN, N("O_NONBLOCK read with nothing queued: EAGAIN"));

	if (async_ioctl_start(&a, vh, VHOST_GET_VRING_BASE, &st)) {
		TAP_OK(0, N("start a blocking vhost call"), "pthread_create");
		responder_resume(r, fd);
		return;
	}
	ev = poll_wait(fd, POLLIN, 5000);
	TAP_OK((ev & POLLIN) && !(ev & POLLOUT), N("poll with a request queued: POLLIN, not POLLOUT"), "revents 0x%x", ev);
	TAP_ERRNO(read(fd, small, sizeof(small)), EINVAL, N("read with a 100-byte buffer: EINVAL"));
	bad = mmap(NULL, PAGE, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	TAP_ERRNO(read(fd, bad, sizeof(req)), EFAULT, N("read to an unwritable buffer: EFAULT"));
	munmap(bad, PAGE);
	ev = poll_wait(fd, POLLIN, 0);
	TAP_OK(ev & POLLIN, N("the request is still queued after EINVAL and EFAULT reads"), "revents 0x%x", ev);

	memset(&req, 0, sizeof(req));
	n = read(fd, &req, sizeof(req));
	TAP_EQ(n, sizeof(req), N("read one request (152 bytes)"));
	TAP_OK(req.type == VDUSE_GET_VQ_STATE && req.vq_state.index == 1,
	       N("VHOST_GET_VRING_BASE(1) arrives as GET_VQ_STATE for vq 1"),
	       "type %u index %u", req.type, req.vq_state.index);
	ev = poll_wait(fd, POLLIN | POLLOUT, 0);
	TAP_OK((ev & POLLOUT) && !(ev & POLLIN), N("poll with a reply awaited: POLLOUT, not POLLIN"), "revents 0x%x", ev);

	memset(&resp, 0, sizeof(resp));
	resp.request_id = req.request_id;
	resp.vq_state.split.avail_index = 0x4321;
	TAP_ERRNO(write(fd, &resp, 100), EINVAL, N("write of a short response: EINVAL"));
	resp.reserved[3] = 1;
	TAP_ERRNO(write(fd, &resp, sizeof(resp)), EINVAL, N("write with reserved != 0: EINVAL"));
	resp.reserved[3] = 0;
	resp.request_id = req.request_id + 1000;
	TAP_ERRNO(write(fd, &resp, sizeof(resp)), ENOENT, N("write for an unknown request_id: ENOENT"));
	TAP_OK(!__atomic_load_n(&a.done, __ATOMIC_ACQUIRE), N("the caller still waits after bad replies"), "it returned");

	/* msg_timeout 0: no timeout at all */
	TAP_EQ(sysfs_write(name, "msg_timeout", "0"), 0, N("msg_timeout set to 0 (wait forever)"));
	msleep_(1500);
	ev = poll_wait(fd, POLLIN | POLLOUT, 0);
	TAP_OK(!__atomic_load_n(&a.done, __ATOMIC_ACQUIRE) && !(ev & POLLERR),
	       N("with msg_timeout 0 the request outlives 1.5 s and the device is not broken"),
	       "done %d revents 0x%x", a.done, ev);

	/* reconnection: a request read but not answered goes to the next opener */
	close(fd);
	nfd = dev_open(name);
	*fdp = fd = nfd;
	TAP_SYS(nfd, N("reopen the device fd with a reply outstanding"));
	ev = poll_wait(fd, POLLIN, 2000);
	memset(&again, 0, sizeof(again));
	n = read(fd, &again, sizeof(again));
	TAP_OK(n == sizeof(again) && again.request_id == req.request_id && again.type == VDUSE_GET_VQ_STATE,
	       N("the unanswered request is re-queued for the next opener"),
	       "read %zd, id %u (want %u), type %u", n, again.request_id, req.request_id, again.type);
	resp.request_id = again.request_id;
	TAP_EQ(write(fd, &resp, sizeof(resp)), sizeof(resp), N("write the reply (152 bytes)"));
	TAP_OK(async_ioctl_wait(&a, 5000) == 0 && a.ret == 0 && st.num == 0x4321,
	       N("the reply's avail_index reaches VHOST_GET_VRING_BASE"),
	       "done %d ret %ld errno %d num 0x%x", a.done, a.ret, a.err, st.num);
	sysfs_write(name, "msg_timeout", "5");
	responder_resume(r, fd);
}

static void test_bound(int ctl, int *fdp, int ver, const char *name, uint32_t nvqs)
{
	struct responder r;
	struct vduse_vq_config vq = { .index = nvqs - 1, .max_size = 64, .group = ver ? 1 : 0 };
	struct vduse_vq_info info;
	struct vduse_dev_request q;
	struct vduse_iotlb_entry e;
	struct vduse_iotlb_entry_v2 e2;
	struct vduse_iova_info ii;
	struct vduse_iova_umem um;
	struct vhost_vring_state st;
	struct vhost_vring_addr va;
	char nm[200], vpath[300];
	uint8_t *buf, *m;
	int vh, mark, mfd, gfd, fd = *fdp, dkick = -1, vkick = -1, vcall = -1, vcfg = -1;

	memset(&q, 0, sizeof(q));
	TAP_OK(vdpa_add(name) != 0, N("vdpa dev add fails while a vq has no max_size"), "it worked");
	TAP_SYS(ioctl(fd, VDUSE_VQ_SETUP, &vq), N("VQ_SETUP the last vq"));
	if (responder_start(&r, fd)) {
		TAP_OK(0, N("start the responder"), "pthread_create");
		return;
	}
	TAP_EQ(vdpa_add(name), 0, N("vdpa dev add"));
	TAP_EQ(vhost_path(name, vpath, sizeof(vpath)), 0, N("bound to vhost_vdpa: /dev/vhost-vdpa-N exists"));
	TAP_EQ(sysfs_write(name, "bounce_size", "4194304"), -EPERM, N("bounce_size once the domain exists: EPERM"));

	/* bound, fd closed: still EBUSY */
	responder_pause(&r);
	close(fd);
	TAP_ERRNO(ioctl(ctl, VDUSE_DESTROY_DEV, name), EBUSY, N("DESTROY_DEV while bound to vDPA (fd closed): EBUSY"));
	*fdp = fd = dev_open(name);
	TAP_SYS(fd, N("reopen the device fd"));
	responder_resume(&r, fd);

	mark = responder_mark(&r);
	vh = vh_open(vpath);
	TAP_SYS(vh, N("open /dev/vhost-vdpa-N, SET_OWNER, backend features"));
	if (vh < 0)
		goto out;
	TAP_EQ(check_status_msg(&r, mark, 0), 0, N("opening vhost-vdpa resets: SET_STATUS 0 reaches the device"));

	mark = responder_mark(&r);
	TAP_SYS(vh_set_status(vh, VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER),
		N("VHOST_VDPA_SET_STATUS ACK|DRIVER"));
	TAP_EQ(check_status_msg(&r, mark, 3), 0, N("SET_STATUS message carries status 3"));
	TAP_EQ(vh_get_status(vh), 3, N("the status the device accepted reads back"));

	{
		uint64_t want = (1ull << VIRTIO_F_VERSION_1) | (1ull << VIRTIO_F_ACCESS_PLATFORM), f = 0;

		TAP_SYS(ioctl(vh, VHOST_GET_FEATURES, &f), N("VHOST_GET_FEATURES"));
		TAP_EQ(f, want, N("the driver sees the features given at CREATE_DEV"));
		TAP_SYS(ioctl(vh, VHOST_SET_FEATURES, &want), N("VHOST_SET_FEATURES"));
		f = 0;
		TAP_SYS(ioctl(fd, VDUSE_DEV_GET_FEATURES, &f), N("VDUSE_DEV_GET_FEATURES"));
		TAP_EQ(f, want, N("DEV_GET_FEATURES mirrors what the driver set"));
	}

	st.index = 0;
	st.num = 32;
	TAP_SYS(ioctl(vh, VHOST_SET_VRING_NUM, &st), N("VHOST_SET_VRING_NUM vq 0 = 32"));
	st.num = 7;
	TAP_SYS(ioctl(vh, VHOST_SET_VRING_BASE, &st), N("VHOST_SET_VRING_BASE vq 0 = 7"));
	memset(&va, 0, sizeof(va));
	va.index = 0;
	va.desc_user_addr = 0x10000;
	va.avail_user_addr = 0x11000;
	va.used_user_addr = 0x12000;
	TAP_SYS(ioctl(vh, VHOST_SET_VRING_ADDR, &va), N("VHOST_SET_VRING_ADDR vq 0"));
	st.num = 1;
	TAP_SYS(ioctl(vh, VHOST_VDPA_SET_VRING_ENABLE, &st), N("VHOST_VDPA_SET_VRING_ENABLE vq 0"));
	memset(&info, 0, sizeof(info));
	TAP_SYS(ioctl(fd, VDUSE_VQ_GET_INFO, &info), N("VQ_GET_INFO vq 0 after vhost setup"));
	TAP_OK(info.num == 32 && info.desc_addr == 0x10000 && info.driver_addr == 0x11000 &&
	       info.device_addr == 0x12000 && info.ready == 1 && info.split.avail_index == 7,
	       N("VQ_GET_INFO reports what the driver set (num, addresses, base, ready)"),
	       "num %u desc 0x%llx drv 0x%llx dev 0x%llx ready %u avail %u", info.num,
	       (unsigned long long)info.desc_addr, (unsigned long long)info.driver_addr,
	       (unsigned long long)info.device_addr, info.ready, info.split.avail_index);

	/* notifications: a driver kick reaches the device's kickfd */
	{
		struct vduse_vq_eventfd ev = { .index = 0 };
		struct vhost_vring_file vf = { .index = 0 };
		uint64_t one = 1;

		dkick = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
		vkick = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
		vcall = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
		vcfg = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
		ev.fd = dkick;
		TAP_SYS(ioctl(fd, VDUSE_VQ_SETUP_KICKFD, &ev), N("VQ_SETUP_KICKFD vq 0"));
		vf.fd = vkick;
		TAP_SYS(ioctl(vh, VHOST_SET_VRING_KICK, &vf), N("VHOST_SET_VRING_KICK vq 0"));
		vf.fd = vcall;
		TAP_SYS(ioctl(vh, VHOST_SET_VRING_CALL, &vf), N("VHOST_SET_VRING_CALL vq 0"));
		TAP_SYS(ioctl(vh, VHOST_VDPA_SET_CONFIG_CALL, &vcfg), N("VHOST_VDPA_SET_CONFIG_CALL"));
		if (write(vkick, &one, sizeof(one)) != sizeof(one))
			tap_diag("kick write failed");
		TAP_OK(poll_wait(dkick, POLLIN, 3000) & POLLIN, N("a vhost kick signals the device's kickfd"), "no kick");
	}

	/* config space written by the device is what the driver reads */
	{
		union {
			struct vduse_config_data d;
			struct {
				FLEX_HEAD(struct vduse_config_data);
				uint64_t cap;
			};
		} cd;
		union {
			struct vhost_vdpa_config c;
			struct {
				FLEX_HEAD(struct vhost_vdpa_config);
				uint64_t cap;
			};
		} vc;

		memset(&cd, 0, sizeof(cd));
		cd.d.length = 8;
		cd.cap = 0x123456;
		memset(&vc, 0, sizeof(vc));
		vc.c.len = 8;
		TAP_SYS(ioctl(fd, VDUSE_DEV_SET_CONFIG, &cd), N("SET_CONFIG capacity"));
		TAP_SYS(ioctl(vh, VHOST_VDPA_GET_CONFIG, &vc), N("VHOST_VDPA_GET_CONFIG capacity"));
		TAP_EQ(vc.cap, 0x123456, N("the driver reads the config the device wrote"));
	}

	mark = responder_mark(&r);
	st.index = 1;
	st.num = 0;
	TAP_SYS(ioctl(vh, VHOST_GET_VRING_BASE, &st), N("VHOST_GET_VRING_BASE vq 1"));
	TAP_EQ(st.num, AVAIL_BASE + 1, N("GET_VQ_STATE reply reaches the driver"));
	TAP_OK(responder_find(&r, mark, VDUSE_GET_VQ_STATE, &q) == 0 && q.vq_state.index == 1,
	       N("GET_VQ_STATE names vq 1"), "index %u", q.vq_state.index);

	/* IOTLB: a consumer mapping reaches the device and is readable there */
	mfd = memfd_create("cf-buf", 0);
	buf = MAP_FAILED;
	if (mfd >= 0 && ftruncate(mfd, 65536) == 0)
		buf = mmap(NULL, 65536, PROT_READ | PROT_WRITE, MAP_SHARED, mfd, 0);
	if (buf == MAP_FAILED) {
		TAP_OK(0, N("memfd buffer"), "%s", strerror(errno));
		goto out_vh;
	}
	for (int i = 0; i < 65536; i++)
		buf[i] = (uint8_t)(i * 7 + ver);
	mark = responder_mark(&r);
	TAP_EQ(vh_map(vh, 0, 0x100000, 65536, buf, VHOST_ACCESS_RW), 0, N("IOTLB batch: UPDATE 64 KiB at 0x100000, ASID 0"));
	TAP_EQ(responder_count(&r, mark, VDUSE_UPDATE_IOTLB), 1, N("one UPDATE_IOTLB message per batch"));
	memset(&q, 0, sizeof(q));
	responder_find(&r, mark, VDUSE_UPDATE_IOTLB, &q);
	if (ver == 0)
		TAP_OK(q.iova.start == 0 && q.iova.last == ~0ull, N("UPDATE_IOTLB iova covers [0, ULLONG_MAX]"),
		       "start 0x%llx last 0x%llx", (unsigned long long)q.iova.start, (unsigned long long)q.iova.last);
	else
		TAP_OK(q.iova_v2.start == 0 && q.iova_v2.last == ~0ull && q.iova_v2.asid == 0,
		       N("UPDATE_IOTLB iova_v2 [0, ULLONG_MAX] with asid 0"),
		       "start 0x%llx last 0x%llx asid %u", (unsigned long long)q.iova_v2.start,
		       (unsigned long long)q.iova_v2.last, q.iova_v2.asid);

	memset(&e, 0, sizeof(e));
	e.start = 0x100010;
	e.last = 0x100010;
	gfd = ioctl(fd, VDUSE_IOTLB_GET_FD, &e);
	TAP_SYS(gfd, N("GET_FD finds the mapping"));
	TAP_EQ(gfd >= 0 && (fcntl(gfd, F_GETFD) & FD_CLOEXEC), X->getfd_cloexec,
	       N("GET_FD's fd is close-on-exec: this implementation's answer"));
	TAP_OK(e.start == 0x100000 && e.last == 0x10ffff && e.perm == VDUSE_ACCESS_RW,
	       N("GET_FD reports the map's range and permission"), "start 0x%llx last 0x%llx perm %u",
	       (unsigned long long)e.start, (unsigned long long)e.last, e.perm);
	m = gfd >= 0 ? mmap(NULL, 65536, PROT_READ, MAP_SHARED, gfd, e.offset) : MAP_FAILED;
	TAP_OK(m != MAP_FAILED && !memcmp(m, buf, 65536), N("the device reads the consumer's bytes through GET_FD"),
	       "%s", m == MAP_FAILED ? strerror(errno) : "data differs");
	if (m != MAP_FAILED)
		munmap(m, 65536);
	if (gfd >= 0)
		close(gfd);
	memset(&e, 0, sizeof(e));
	e.start = 0x200000;
	e.last = 0x2fffff;
	TAP_ERRNO(ioctl(fd, VDUSE_IOTLB_GET_FD, &e), EINVAL, N("GET_FD with no overlapping map: EINVAL"));
	{
		/* the entry is readable but not writable: the copy-out fails */
		struct vduse_iotlb_entry *ro = mmap(NULL, PAGE, PROT_READ | PROT_WRITE,
						    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		int probe, before, after;

		if (ro != MAP_FAILED) {
			memset(ro, 0, sizeof(*ro));
			ro->start = 0x100000;
			ro->last = 0x100000;
			mprotect(ro, PAGE, PROT_READ);
			probe = dup(0);
			close(probe);
			before = probe;
			TAP_ERRNO(ioctl(fd, VDUSE_IOTLB_GET_FD, ro), EFAULT, N("GET_FD whose copy-out fails: EFAULT"));
			after = dup(0);
			close(after);
			TAP_EQ(after, before, N("... and no file descriptor is left installed"));
			munmap(ro, PAGE);
		}
	}
	if (ver == 1) {
		memset(&e2, 0, sizeof(e2));
		e2.start = 0x10fff0;
		e2.last = 0x200000;
		gfd = ioctl(fd, VDUSE_IOTLB_GET_FD2, &e2);
		TAP_OK(gfd >= 0 && e2.start == 0x100000 && e2.last == 0x10ffff,
		       N("GET_FD2 asid 0 finds the same map"), "fd %d start 0x%llx", gfd, (unsigned long long)e2.start);
		TAP_EQ(gfd >= 0 && (fcntl(gfd, F_GETFD) & FD_CLOEXEC), X->getfd_cloexec,
		       N("GET_FD2's fd is close-on-exec: this implementation's answer"));
		if (gfd >= 0)
			close(gfd);
		for (int i = 0; i < 7; i += 6) {
			memset(&e2, 0, sizeof(e2));
			e2.start = 0x100000;
			e2.last = 0x100000;
			e2.padding[i] = 0x5a;
			errno = 0;
			gfd = ioctl(fd, VDUSE_IOTLB_GET_FD2, &e2);
			TAP_EQ(gfd >= 0 ? 0 : errno, X->getfd2_padding_errno,
			       i ? N("GET_FD2 with padding[6] != 0: this implementation's errno (0: ignored)")
				 : N("GET_FD2 with padding[0] != 0: this implementation's errno (0: ignored)"));
			if (gfd >= 0)
				close(gfd);
		}
	}
	memset(&ii, 0, sizeof(ii));
	ii.start = 0;
	ii.last = ~0ull;
	TAP_SYS(ioctl(fd, VDUSE_IOTLB_GET_INFO, &ii), N("GET_INFO finds the map"));
	TAP_OK(ii.start == 0x100000 && ii.last == 0x10ffff && ii.capability == 0,
	       N("GET_INFO range, and no UMEM capability without a bounce map"),
	       "start 0x%llx last 0x%llx cap 0x%llx", (unsigned long long)ii.start,
	       (unsigned long long)ii.last, (unsigned long long)ii.capability);
	memset(&um, 0, sizeof(um));
	um.uaddr = (uintptr_t)buf;
	um.size = 1 << 20;
	TAP_ERRNO(ioctl(fd, VDUSE_IOTLB_REG_UMEM, &um), EINVAL, N("REG_UMEM under vhost-vdpa (no bounce map): EINVAL"));
	TAP_ERRNO(ioctl(fd, VDUSE_IOTLB_DEREG_UMEM, &um), ENOENT, N("DEREG_UMEM with nothing registered: ENOENT"));

	test_channel(&r, fdp, vh, name, ver);
	fd = *fdp;

	/* DRIVER_OK, then VQ_SETUP (refused on v1, §3.2) */
	mark = responder_mark(&r);
	TAP_SYS(vh_set_status(vh, 0xf), N("VHOST_VDPA_SET_STATUS ...|FEATURES_OK|DRIVER_OK"));
	TAP_EQ(check_status_msg(&r, mark, 0xf), 0, N("SET_STATUS message carries status 0xf"));
	{
		uint32_t idx = 0;

		TAP_SYS(ioctl(fd, VDUSE_VQ_INJECT_IRQ, &idx), N("VQ_INJECT_IRQ vq 0 after DRIVER_OK"));
		TAP_OK(poll_wait(vcall, POLLIN, 3000) & POLLIN, N("the vq interrupt signals the driver's call eventfd"),
		       "no call");
		TAP_SYS(ioctl(fd, VDUSE_DEV_INJECT_CONFIG_IRQ), N("INJECT_CONFIG_IRQ after DRIVER_OK"));
		TAP_OK(poll_wait(vcfg, POLLIN, 3000) & POLLIN, N("the config interrupt signals the driver's config eventfd"),
		       "no config call");
	}
	vq.index = 0;
	vq.group = 0;
	if (ver == 1)
		TAP_ERRNO(ioctl(fd, VDUSE_VQ_SETUP, &vq), EINVAL, N("VQ_SETUP after DRIVER_OK: EINVAL"));
	else
		TAP_SYS(ioctl(fd, VDUSE_VQ_SETUP, &vq), N("VQ_SETUP after DRIVER_OK is allowed on v0"));

	/* reset */
	mark = responder_mark(&r);
	TAP_SYS(vh_set_status(vh, 0), N("VHOST_VDPA_SET_STATUS 0 (reset)"));
	TAP_EQ(check_status_msg(&r, mark, 0), 0, N("reset sends SET_STATUS 0"));
	TAP_EQ(vh_get_status(vh), 0, N("status reads 0 after reset"));
	memset(&info, 0, sizeof(info));
	ioctl(fd, VDUSE_VQ_GET_INFO, &info);
	TAP_OK(info.num == 0 && !info.ready && !info.desc_addr && !info.driver_addr && !info.device_addr &&
	       !info.split.avail_index, N("reset clears the vq state"),
	       "num %u ready %u desc 0x%llx avail %u", info.num, info.ready,
	       (unsigned long long)info.desc_addr, info.split.avail_index);
	vq.index = 0;
	vq.group = 0;
	TAP_SYS(ioctl(fd, VDUSE_VQ_SETUP, &vq), N("VQ_SETUP allowed again after reset"));

	munmap(buf, 65536);
	close(mfd);
out_vh:
	mark = responder_mark(&r);
	close(vh);
	TAP_EQ(check_status_msg(&r, mark, 0), 0, N("closing vhost-vdpa resets: SET_STATUS 0"));
	close(dkick);
	close(vkick);
	close(vcall);
	close(vcfg);
out:
	TAP_EQ(vdpa_del(name), 0, N("vdpa dev del"));
	TAP_ERRNO(ioctl(ctl, VDUSE_DESTROY_DEV, name), EBUSY, N("DESTROY_DEV after unbind, fd still open: EBUSY"));
	responder_stop(&r);
	TAP_EQ(r.write_errors, 0, N("every reply was accepted"));
}

/*
 * Packed rings: GET_VQ_STATE is answered in vq_state.packed (the kernel keeps
 * the 15-bit index and 1-bit counter of each), and a driver-set packed base
 * reaches VQ_GET_INFO.
 */
static void test_packed(void)
{
	const char *name = "cf-pk";
	struct vduse_vq_config vq = { .max_size = 64 };
	struct vduse_vq_info info;
	struct vhost_vring_state st;
	struct responder r;
	struct devcfg cfg;
	uint64_t f = (1ull << VIRTIO_F_VERSION_1) | (1ull << VIRTIO_F_ACCESS_PLATFORM) |
		     (1ull << VIRTIO_F_RING_PACKED);
	char vpath[300];
	int ctl, fd, vh = -1;

	ctl = ctl_open();
	ctl_set_version(ctl, 0);
	blk_cfg(&cfg, name, 1, 0, 0);
	cfg.c.features = f;
	TAP_SYS(create(ctl, &cfg), "packed: CREATE_DEV with VIRTIO_F_RING_PACKED");
	fd = dev_open(name);
	if (fd < 0 || ioctl(fd, VDUSE_VQ_SETUP, &vq) || responder_start(&r, fd)) {
		TAP_OK(0, "packed: device set up", "%s", strerror(errno));
		goto out;
	}
	/* garbage in the unused bits must not reach the driver */
	r.packed_reply.last_avail_counter = 0xfe;
	r.packed_reply.last_avail_idx = 0x9234;
	r.packed_reply.last_used_counter = 3;
	r.packed_reply.last_used_idx = 0x8555;
	r.packed = 1;
	if (vdpa_add(name) || vhost_path(name, vpath, sizeof(vpath)) || (vh = vh_open(vpath)) < 0) {
		TAP_OK(0, "packed: bound and opened through vhost-vdpa", "%s", strerror(errno));
		goto out_r;
	}
	vh_set_status(vh, VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER);
	TAP_SYS(ioctl(vh, VHOST_SET_FEATURES, &f), "packed: driver negotiates RING_PACKED");
	st.index = 0;
	st.num = 0;
	TAP_SYS(ioctl(vh, VHOST_GET_VRING_BASE, &st), "packed: VHOST_GET_VRING_BASE");
	/* avail: idx 0x1234, counter 0; used: idx 0x0555, counter 1 */
	TAP_EQ(st.num, 0x85551234u, "packed: GET_VQ_STATE's packed reply, 15-bit indices and 1-bit counters");
	st.num = 0x80070003;	/* avail idx 3 counter 0, used idx 7 counter 1 */
	TAP_SYS(ioctl(vh, VHOST_SET_VRING_BASE, &st), "packed: VHOST_SET_VRING_BASE");
	memset(&info, 0, sizeof(info));
	ioctl(fd, VDUSE_VQ_GET_INFO, &info);
	TAP_OK(info.packed.last_avail_idx == 3 && info.packed.last_avail_counter == 0 &&
	       info.packed.last_used_idx == 7 && info.packed.last_used_counter == 1,
	       "packed: VQ_GET_INFO reports the packed base the driver set",
	       "avail %u/%u used %u/%u", info.packed.last_avail_idx, info.packed.last_avail_counter,
	       info.packed.last_used_idx, info.packed.last_used_counter);
	close(vh);
	vdpa_del(name);
out_r:
	responder_stop(&r);
out:
	if (fd >= 0)
		close(fd);
	TAP_SYS(dev_destroy(ctl, name), "packed: DESTROY_DEV");
	close(ctl);
}

static void test_device(int ver)
{
	const char *name = ver ? "cf-v1" : "cf-v0";
	uint32_t nvqs = ver ? 3 : 2, nas = ver ? 2 : 1;
	struct devcfg cfg;
	char nm[200];
	int ctl, fd;

	ctl = ctl_open();
	ctl_set_version(ctl, ver);
	blk_cfg(&cfg, name, nvqs, ver ? 2 : 0, ver ? nas : 0);
	TAP_SYS(create(ctl, &cfg), N("CREATE_DEV test device"));
	fd = dev_open(name);
	TAP_SYS(fd, N("open the device fd"));
	if (fd < 0) {
		close(ctl);
		return;
	}
	test_devfd_unbound(ctl, fd, ver, name, nvqs, nas);
	test_bound(ctl, &fd, ver, name, nvqs);
	close(fd);
	TAP_SYS(dev_destroy(ctl, name), N("DESTROY_DEV after unbind and close"));
	close(ctl);
}

/* ---- bound to virtio-vdpa (the kernel's virtio-net) ----------------------- */

/*
 * Bind a net device NAME to virtio-vdpa, bring its netdev up and wait for
 * virtio-net to map its receive buffers: the first streaming mapping creates
 * AS 0's bounce map at IOVA 0. Returns 0 when GET_INFO sees it.
 */
static int virtio_bind(struct responder *r, int fd, const char *name, struct vduse_iova_info *ii)
{
	double end;

	if (vdpa_add(name))
		return -1;
	/* virtio-net posts (maps) its receive buffers when the link goes up */
	if (run_cmd("for n in /sys/bus/vdpa/devices/%s/virtio*/net/*; do "
		    "ip link set dev ${n##*/} up || exit 1; done", name))
		tap_diag("cannot bring %s's netdev up", name);
	end = now_s() + 20;
	do {
		/* the rings are coherent allocations above the bounce area */
		memset(ii, 0, sizeof(*ii));
		if (ioctl(fd, VDUSE_IOTLB_GET_INFO, ii) == 0)
			return 0;
		msleep_(50);
	} while (now_s() < end);
	return -1;
}

static int net_dev(int ctl, struct devcfg *cfg, uint32_t nvqs, int ver, struct responder *r)
{
	struct vduse_vq_config vq = { .max_size = 64 };
	int fd;
	uint32_t i;

	if (create(ctl, cfg))
		return -1;
	fd = dev_open(cfg->c.name);
	if (fd < 0)
		return -1;
	for (i = 0; i < nvqs; i++) {
		vq.index = i;
		vq.group = ver && i == 2 ? 1 : 0;
		if (ioctl(fd, VDUSE_VQ_SETUP, &vq))
			return -1;
	}
	if (responder_start(r, fd))
		return -1;
	return fd;
}

/*
 * §3.4 and §3.7: the bounce area is split across the address spaces, the
 * kernel virtio path uses AS 0 (§5e), and umem can replace AS 0's bounce
 * pages; closing the fd deregisters it.
 */
static void test_virtio(int ver)
{
	const char *name = ver ? "cf-vnet1" : "cf-vnet0";
	uint64_t bounce = ver ? 4 << 20 : 2 << 20, per_as = bounce / (ver ? 2 : 1);
	struct vduse_iova_info ii;
	struct vduse_iova_umem um;
	struct responder r;
	struct devcfg cfg;
	char nm[200], val[32];
	void *mem;
	int ctl, fd;

	ctl = ctl_open();
	ctl_set_version(ctl, ver);
	net_cfg(&cfg, name, 2, ver ? 2 : 0, ver ? 2 : 0);
	fd = net_dev(ctl, &cfg, 2, ver, &r);
	if (fd < 0) {
		TAP_OK(0, N("virtio: net device set up"), "%s", strerror(errno));
		goto out;
	}
	snprintf(val, sizeof(val), "%llu", (unsigned long long)bounce);
	TAP_EQ(sysfs_write(name, "bounce_size", val), 0, N("virtio: bounce_size set before binding"));
	TAP_EQ(virtio_bind(&r, fd, name, &ii), 0, N("virtio: virtio-net probes and a bounce map appears"));
	TAP_OK(ii.start == 0 && ii.last == per_as - 1 && (ii.capability & VDUSE_IOVA_CAP_UMEM),
	       N(ver ? "virtio: AS 0's bounce map is bounce_size / nas, with the UMEM capability"
		     : "virtio: the bounce map is [0, bounce_size - 1], with the UMEM capability"),
	       "start 0x%llx last 0x%llx cap %llu", (unsigned long long)ii.start,
	       (unsigned long long)ii.last, (unsigned long long)ii.capability);
	if (ver) {
		memset(&ii, 0, sizeof(ii));
		ii.last = ~0ull;
		ii.asid = 1;
		TAP_ERRNO(ioctl(fd, VDUSE_IOTLB_GET_INFO, &ii), EINVAL,
			  N("virtio: nothing is mapped in AS 1 (the kernel path uses AS 0)"));
	}

	mem = mmap(NULL, per_as, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (mem == MAP_FAILED) {
		TAP_OK(0, N("virtio: umem buffer"), "%s", strerror(errno));
		goto unbind;
	}
	memset(&um, 0, sizeof(um));
	um.uaddr = (uintptr_t)mem;
	um.size = per_as - PAGE;
	TAP_ERRNO(ioctl(fd, VDUSE_IOTLB_REG_UMEM, &um), EINVAL, N("virtio: REG_UMEM size != the AS's bounce size: EINVAL"));
	um.size = per_as;
	um.iova = PAGE;
	TAP_ERRNO(ioctl(fd, VDUSE_IOTLB_REG_UMEM, &um), EINVAL, N("virtio: REG_UMEM iova != 0: EINVAL"));
	um.iova = 0;
	um.uaddr = (uintptr_t)mem + 1;
	TAP_ERRNO(ioctl(fd, VDUSE_IOTLB_REG_UMEM, &um), EINVAL, N("virtio: REG_UMEM unaligned uaddr: EINVAL"));
	um.uaddr = (uintptr_t)mem;
	if (ver) {
		um.asid = 1;
		TAP_ERRNO(ioctl(fd, VDUSE_IOTLB_REG_UMEM, &um), EINVAL, N("virtio: REG_UMEM in AS 1 (no bounce map): EINVAL"));
		um.asid = 0;
	}
	TAP_SYS(ioctl(fd, VDUSE_IOTLB_REG_UMEM, &um), N("virtio: REG_UMEM of AS 0's bounce area"));
	TAP_ERRNO(ioctl(fd, VDUSE_IOTLB_REG_UMEM, &um), EEXIST, N("virtio: REG_UMEM again: EEXIST"));
	um.size = per_as - PAGE;
	TAP_ERRNO(ioctl(fd, VDUSE_IOTLB_DEREG_UMEM, &um), EINVAL, N("virtio: DEREG_UMEM with the wrong size: EINVAL"));
	um.size = per_as;
	TAP_SYS(ioctl(fd, VDUSE_IOTLB_DEREG_UMEM, &um), N("virtio: DEREG_UMEM"));
	TAP_ERRNO(ioctl(fd, VDUSE_IOTLB_DEREG_UMEM, &um), ENOENT, N("virtio: DEREG_UMEM again: ENOENT"));

	/* closing the device fd deregisters it */
	TAP_SYS(ioctl(fd, VDUSE_IOTLB_REG_UMEM, &um), N("virtio: REG_UMEM again after DEREG"));
	responder_pause(&r);
	close(fd);
	fd = dev_open(name);
	TAP_SYS(fd, N("virtio: reopen the device fd"));
	TAP_ERRNO(ioctl(fd, VDUSE_IOTLB_DEREG_UMEM, &um), ENOENT, N("virtio: closing the fd deregistered the umem"));
	responder_resume(&r, fd);
	munmap(mem, per_as);
unbind:
	TAP_EQ(vdpa_del(name), 0, N("virtio: vdpa dev del"));
	responder_stop(&r);
	close(fd);
out:
	TAP_SYS(dev_destroy(ctl, name), N("virtio: DESTROY_DEV"));
	close(ctl);
}

/* §5d: a v1 net device's isolated CVQ is not offered to the kernel's virtio-net. */
static void test_cvq_withheld(void)
{
	const char *name = "cf-vcvq";
	uint64_t f = 0, cvq_bits = (1ull << VIRTIO_NET_F_CTRL_VQ) | (1ull << VIRTIO_NET_F_CTRL_RX);
	struct vduse_iova_info ii;
	struct responder r;
	struct devcfg cfg;
	int ctl, fd;

	ctl = ctl_open();
	ctl_set_version(ctl, 1);
	net_cfg(&cfg, name, 3, 2, 2);
	cfg.c.features |= cvq_bits;
	fd = net_dev(ctl, &cfg, 3, 1, &r);
	if (fd < 0) {
		TAP_OK(0, "virtio: CVQ net device set up", "%s", strerror(errno));
		goto out;
	}
	TAP_EQ(virtio_bind(&r, fd, name, &ii), 0, "virtio: the CVQ device probes as a virtio-net");
	TAP_SYS(ioctl(fd, VDUSE_DEV_GET_FEATURES, &f), "virtio: DEV_GET_FEATURES");
	TAP_OK((f & (1ull << VIRTIO_F_VERSION_1)) && !(f & cvq_bits),
	       "virtio: the driver negotiated no CVQ feature (withheld from virtio-vdpa)",
	       "driver features 0x%llx", (unsigned long long)f);
	TAP_EQ(vdpa_del(name), 0, "virtio: vdpa dev del (CVQ device)");
	responder_stop(&r);
	close(fd);
out:
	TAP_SYS(dev_destroy(ctl, name), "virtio: DESTROY_DEV (CVQ device)");
	close(ctl);
}

int main(int argc, char **argv)
{
	int ctl, virtio = argc == 4 && !strcmp(argv[3], "--virtio");

	setvbuf(stdout, NULL, _IOLBF, 0);
	if ((argc != 3 && !virtio) || strcmp(argv[1], "--impl") || impl_parse(argv[2], &impl)) {
		fprintf(stderr, "usage: conformance --impl upstream|stock612|ours [--virtio]\n");
		return 2;
	}
	X = &expect_tab[impl];
	tap_diag("conformance%s against %s", virtio ? " (virtio-vdpa part)" : "", X->name);
	if (virtio ? access("/sys/module/vhost_vdpa", F_OK) == 0 : virtio_vdpa_loaded()) {
		TAP_OK(0, virtio ? "vhost_vdpa is not loaded (devices must bind to virtio_vdpa)"
				 : "virtio_vdpa is not loaded (devices must bind to vhost_vdpa)", "unload it first");
		return tap_done();
	}
	ctl = ctl_open();
	if (ctl < 0) {
		TAP_SYS(ctl, "open /dev/vduse/control");
		return tap_done();
	}
	cleanup_all(ctl);

	if (virtio) {
		test_virtio(0);
		if (X->has_v1) {
			test_virtio(1);
			if (X->v1_net_ctrl_vq_ok)
				test_cvq_withheld();
			else
				tap_result(1, "virtio: CVQ features withheld from virtio-vdpa # SKIP VDUSE CTRL_VQ not supported here", NULL);
		} else {
			tap_result(1, "virtio: v1 bounce split across address spaces # SKIP no API v1", NULL);
		}
	} else {
		test_version();
		test_create();
		test_device(0);
		test_packed();
		if (X->has_v1)
			test_device(1);
		else
			tap_result(1, "v1 device fd and vhost-vdpa checks # SKIP no API v1", NULL);
	}

	cleanup_all(ctl);
	close(ctl);
	return tap_done();
}
