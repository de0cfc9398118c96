// SPDX-License-Identifier: GPL-2.0
/*
 * module_ours: behaviour of kernel/vduse.ko that only our module has (the
 * CVQ policy, docs/uapi.md §d), or that needs the module loaded and
 * unloaded around it. One scenario per argument; the suite
 * (tests/vm/suites/module_ours.sh) loads the bus drivers each one needs:
 *
 *   module_ours cvq-virtio   virtio_vdpa + virtio_net: CVQ isolation checks
 *                            at "vdpa dev add", CVQ features withheld
 *   module_ours cvq-vhost    vhost_vdpa: the same features offered
 *   module_ours rebind       both bus drivers: one device moved between them
 *   module_ours cvq-off      module loaded with cvq_policy=off
 *   module_ours lifecycle    virtio_vdpa + virtio_net: a daemon restart and
 *                            a timeout while the bus driver probes
 *   module_ours pin          a device with no fd open keeps the module
 *   module_ours big          vhost_vdpa: 0xffff groups and address spaces
 *   module_ours domfile      virtio_vdpa + virtio_net: a ring mapped by the
 *                            daemon follows a re-probe, outlives the device
 *                            and pins the module
 *
 * What conformance and vhost_asid check already (exclusive open, re-queue
 * on close, timeout under vhost-vdpa, CTRL_VQ/CTRL_RX offered to vhost-vdpa,
 * ngroups/nas limits) is not repeated here.
 */
#define _GNU_SOURCE
#include <setjmp.h>
#include <signal.h>
#include <stddef.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include "tap.h"
#include "vduse_test.h"
#include "vhost_vdpa_client.h"

#ifndef VIRTIO_NET_F_VQ_NOTF_COAL
#define VIRTIO_NET_F_VQ_NOTF_COAL 52
#endif

#define BIT(n) (1ull << (n))

/* The features that need the control virtqueue (spec §5d). */
#define CVQ_FEATURES (BIT(VIRTIO_NET_F_CTRL_VQ) | BIT(VIRTIO_NET_F_CTRL_RX) | \
		      BIT(VIRTIO_NET_F_CTRL_VLAN) | BIT(VIRTIO_NET_F_CTRL_RX_EXTRA) | \
		      BIT(VIRTIO_NET_F_GUEST_ANNOUNCE) | BIT(VIRTIO_NET_F_MQ) | \
		      BIT(VIRTIO_NET_F_CTRL_MAC_ADDR) | BIT(VIRTIO_NET_F_CTRL_GUEST_OFFLOADS) | \
		      BIT(VIRTIO_NET_F_VQ_NOTF_COAL) | BIT(VIRTIO_NET_F_NOTF_COAL) | \
		      BIT(VIRTIO_NET_F_HASH_REPORT) | BIT(VIRTIO_NET_F_RSS))

/* Plain net features the kernel's virtio-net negotiates whenever offered. */
#define NET_BASE (BIT(VIRTIO_NET_F_MAC) | BIT(VIRTIO_NET_F_STATUS) | BIT(VIRTIO_NET_F_MTU))

#define BUFSZ 65536

/* Names a failed run may leave behind; destroyed at start and exit. */
static const char *const all_names[] = {
	"mo-cvq", "mo-fb", "mo-mq", "mo-rss", "mo-vh", "mo-rb", "mo-off", "mo-offnet",
	"mo-rst", "mo-tmo", "mo-pin", "mo-big", "mo-dom",
};

static void cleanup_all(void)
{
	cleanup_names(-1, all_names, sizeof(all_names) / sizeof(all_names[0]));
}

/* A net device config: MAC, link up, MTU 1500, PAIRS queue pairs. */
static void netdev_cfg(struct devcfg *cfg, const char *name, uint64_t features, uint32_t vqs,
		       uint32_t ngroups, uint32_t nas, uint16_t pairs)
{
	static const uint8_t mac[6] = { 0x02, 0, 0, 0, 0x5d, 0x01 };

	net_cfg(cfg, name, vqs, ngroups, nas);
	cfg->c.features |= NET_BASE | features;
	memcpy(cfg->net.mac, mac, sizeof(mac));
	cfg->net.status = VIRTIO_NET_S_LINK_UP;
	cfg->net.max_virtqueue_pairs = pairs;
}

/* VQ_SETUP of every vq, vq i in group GROUPS[i]; 0 or -errno. */
static int setup_vqs(int fd, const uint32_t *groups, uint32_t n)
{
	struct vduse_vq_config vq;
	uint32_t i;

	for (i = 0; i < n; i++) {
		memset(&vq, 0, sizeof(vq));
		vq.index = i;
		vq.max_size = 64;
		vq.group = groups ? groups[i] : 0;
		if (ioctl(fd, VDUSE_VQ_SETUP, &vq))
			return -errno;
	}
	return 0;
}

/* Create CFG, open it and set its vqs up; the fd or -1 (reported). */
static int dev_make(int ctl, struct devcfg *cfg, const uint32_t *groups, const char *what)
{
	int fd, r;

	if (ioctl(ctl, VDUSE_CREATE_DEV, cfg)) {
		TAP_OK(0, what, "CREATE_DEV %s: %s", cfg->c.name, strerror(errno));
		return -1;
	}
	fd = dev_open(cfg->c.name);
	if (fd < 0) {
		TAP_OK(0, what, "open %s: %s", cfg->c.name, strerror(errno));
		return -1;
	}
	r = setup_vqs(fd, groups, cfg->c.vq_num);
	if (r) {
		TAP_OK(0, what, "VQ_SETUP: %s", strerror(-r));
		close(fd);
		return -1;
	}
	TAP_OK(1, what, NULL);
	return fd;
}

/*
 * "vdpa dev add" and why it failed: 0 when the device exists afterwards,
 * -EINVAL when the kernel answered EINVAL, -1 otherwise.
 */
static int vdpa_add_err(const char *name)
{
	char buf[512];
	FILE *f;
	int r, einval = 0;

	r = run_cmd("vdpa dev add name %s mgmtdev vduse > /run/mo-vdpa.log 2>&1; "
		    "test -e /sys/bus/vdpa/devices/%s", name, name);
	f = fopen("/run/mo-vdpa.log", "r");
	while (f && fgets(buf, sizeof(buf), f)) {
		buf[strcspn(buf, "\n")] = 0;
		tap_diag("vdpa: %s", buf);
		einval |= strstr(buf, strerror(EINVAL)) != NULL;
	}
	if (f)
		fclose(f);
	if (r == 0)
		return 0;
	return einval ? -EINVAL : -1;
}

/* The virtio-net netdev of vDPA device NAME appears within 20 s. */
static int wait_netdev(const char *name)
{
	return run_cmd("i=0; while ! ls /sys/bus/vdpa/devices/%s/virtio*/net/* >/dev/null 2>&1; do "
		       "i=$((i+1)); [ $i -gt 200 ] && exit 1; usleep 100000; done", name);
}

static int has_netdev(const char *name)
{
	return run_cmd("ls /sys/bus/vdpa/devices/%s/virtio*/net/* >/dev/null 2>&1", name) == 0;
}

/* DEV_GET_FEATURES once the driver has set FEATURES_OK (0 before). */
static uint64_t driver_features(int fd)
{
	uint64_t f = 0;

	if (ioctl(fd, VDUSE_DEV_GET_FEATURES, &f))
		return 0;
	return f;
}

static int delete_module(const char *name)
{
	return syscall(SYS_delete_module, name, O_NONBLOCK);
}

/* The vduse line of /proc/modules: its reference count, or -1. */
static int module_refs(void)
{
	char line[512], name[64];
	unsigned long size;
	int refs;
	FILE *f = fopen("/proc/modules", "r");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%63s %lu %d", name, &size, &refs) == 3 && !strcmp(name, "vduse")) {
			fclose(f);
			return refs;
		}
	}
	fclose(f);
	return -1;
}

/* ---- cvq_policy=isolated --------------------------------------------------- */

/*
 * §d on the kernel virtio path: an accepted device probes as virtio-net, which
 * negotiates the plain net features offered but none of the CVQ-dependent ones.
 */
static void check_withheld(int fd, const char *name, const char *what)
{
	char nm[200];
	uint64_t f;

	snprintf(nm, sizeof(nm), "%s: virtio-net binds (a netdev appears)", what);
	TAP_EQ(wait_netdev(name), 0, nm);
	f = driver_features(fd);
	snprintf(nm, sizeof(nm), "%s: virtio-net negotiates VERSION_1, MAC, STATUS and MTU", what);
	TAP_OK((f & (NET_BASE | BIT(VIRTIO_F_VERSION_1))) == (NET_BASE | BIT(VIRTIO_F_VERSION_1)), nm,
	       "driver features 0x%llx", (unsigned long long)f);
	snprintf(nm, sizeof(nm), "%s: none of the 12 CVQ-dependent features reaches virtio-net", what);
	TAP_OK(!(f & CVQ_FEATURES), nm, "driver features 0x%llx, CVQ bits 0x%llx",
	       (unsigned long long)f, (unsigned long long)(f & CVQ_FEATURES));
}

/*
 * Single-queue device: the CVQ is vq 2 and must not share a group with vq 0
 * or vq 1. A refused "vdpa dev add" loses nothing: regrouped, the same device
 * is accepted.
 */
static void test_cvq_single(void)
{
	static const uint32_t shared[3] = { 0, 0, 0 }, vq0_joins[3] = { 1, 0, 1 }, alone[3] = { 0, 0, 1 };
	struct responder r;
	struct devcfg cfg;
	int ctl, fd;

	ctl = ctl_open();
	ctl_set_version(ctl, 1);
	netdev_cfg(&cfg, "mo-cvq", CVQ_FEATURES & ~(BIT(VIRTIO_NET_F_MQ) | BIT(VIRTIO_NET_F_RSS)), 3, 2, 2, 1);
	fd = dev_make(ctl, &cfg, shared, "single queue: v1 net device with CTRL_VQ, all vqs in group 0");
	if (fd < 0)
		goto out;
	if (responder_start(&r, fd)) {
		TAP_OK(0, "single queue: responder", "pthread_create");
		goto out_fd;
	}
	TAP_EQ(vdpa_add_err("mo-cvq"), -EINVAL, "single queue: vdpa dev add refused (EINVAL): the CVQ shares group 0");
	TAP_EQ(run_cmd("dmesg | grep -q 'mo-cvq: control queue is not alone in its group'"), 0,
	       "single queue: the refusal is logged with the device's name");
	TAP_EQ(setup_vqs(fd, vq0_joins, 3), 0, "single queue: regroup: vq 0 joins the CVQ's group 1");
	TAP_EQ(vdpa_add_err("mo-cvq"), -EINVAL, "single queue: vdpa dev add refused (EINVAL): data vq 0 in the CVQ's group");
	TAP_EQ(setup_vqs(fd, alone, 3), 0, "single queue: regroup: the CVQ alone in group 1");
	TAP_EQ(vdpa_add_err("mo-cvq"), 0, "single queue: the same device is accepted once its CVQ is alone");
	check_withheld(fd, "mo-cvq", "single queue");
	TAP_EQ(vdpa_del("mo-cvq"), 0, "single queue: vdpa dev del");
	responder_stop(&r);
out_fd:
	close(fd);
out:
	TAP_SYS(dev_destroy(ctl, "mo-cvq"), "single queue: DESTROY_DEV");
	close(ctl);
}

/* §5a's fallback device has one group, so its CVQ can never be alone. */
static void test_cvq_fallback(void)
{
	struct devcfg cfg;
	int ctl, fd;

	ctl = ctl_open();	/* never negotiated: ngroups = nas = 0 gives one of each */
	netdev_cfg(&cfg, "mo-fb", BIT(VIRTIO_NET_F_CTRL_VQ), 3, 0, 0, 1);
	fd = dev_make(ctl, &cfg, NULL, "fallback: CTRL_VQ net device created on a never-negotiated fd");
	if (fd >= 0) {
		TAP_EQ(dev_api_version(fd), 1, "fallback: the device is an API v1 device");
		TAP_EQ(vdpa_add_err("mo-fb"), -EINVAL, "fallback: vdpa dev add refused (EINVAL): one group cannot isolate the CVQ");
		close(fd);
	}
	TAP_SYS(dev_destroy(ctl, "mo-fb"), "fallback: DESTROY_DEV");
	close(ctl);
}

struct layout {
	uint32_t groups[5];
	int ok;
	const char *what;
};

/*
 * Multiqueue (2 pairs, vqs 0-3 data, CVQ at 4 with MQ or RSS negotiated and
 * at 2 without): both candidate indices must be out of every lower data
 * vq's group, whatever the driver negotiates. FEATURE is MQ or RSS.
 */
static void test_cvq_multi(const char *name, uint64_t feature, const char *tag,
			   const struct layout *lay, int nlay)
{
	union {
		struct vduse_config_data d;
		struct {
			FLEX_HEAD(struct vduse_config_data);
			uint16_t pairs;
		};
	} cd;
	struct responder r;
	struct devcfg cfg;
	char nm[300];
	int ctl, fd, i, added;

	ctl = ctl_open();
	ctl_set_version(ctl, 1);
	netdev_cfg(&cfg, name, BIT(VIRTIO_NET_F_CTRL_VQ) | BIT(VIRTIO_NET_F_CTRL_RX) | feature, 5, 3, 2, 2);
	snprintf(nm, sizeof(nm), "%s: v1 net device, CTRL_VQ, 2 pairs, 5 vqs, 3 groups", tag);
	fd = dev_make(ctl, &cfg, lay[0].groups, nm);
	if (fd < 0)
		goto out;
	if (responder_start(&r, fd)) {
		TAP_OK(0, "multiqueue: responder", "pthread_create");
		goto out_fd;
	}
	for (i = 0; i < nlay; i++) {
		snprintf(nm, sizeof(nm), "%s: VQ_SETUP groups %u %u %u %u %u", tag, lay[i].groups[0],
			 lay[i].groups[1], lay[i].groups[2], lay[i].groups[3], lay[i].groups[4]);
		TAP_EQ(setup_vqs(fd, lay[i].groups, 5), 0, nm);
		snprintf(nm, sizeof(nm), "%s: vdpa dev add %s: %s", tag, lay[i].ok ? "accepted" : "refused (EINVAL)",
			 lay[i].what);
		added = vdpa_add_err(name);
		TAP_EQ(added, lay[i].ok ? 0 : -EINVAL, nm);
		if (added == 0) {
			snprintf(nm, sizeof(nm), "%s, layout %d", tag, i);
			check_withheld(fd, name, nm);
		}
		snprintf(nm, sizeof(nm), "/sys/bus/vdpa/devices/%s", name);
		if (access(nm, F_OK) == 0 && vdpa_del(name))
			tap_diag("vdpa dev del %s failed", name);
	}

	/*
	 * The second candidate comes from max_virtqueue_pairs in the config
	 * space, which the device may rewrite: a value naming no vq is refused.
	 */
	if (feature == BIT(VIRTIO_NET_F_MQ)) {
		memset(&cd, 0, sizeof(cd));
		cd.d.offset = offsetof(struct virtio_net_config, max_virtqueue_pairs);
		cd.d.length = sizeof(cd.pairs);
		TAP_EQ(setup_vqs(fd, lay[0].groups, 5), 0, "multiqueue (MQ): back to an accepted layout");
		cd.pairs = 3;
		TAP_SYS(ioctl(fd, VDUSE_DEV_SET_CONFIG, &cd), "multiqueue (MQ): SET_CONFIG max_virtqueue_pairs = 3");
		TAP_EQ(vdpa_add_err(name), -EINVAL, "multiqueue (MQ): vdpa dev add refused (EINVAL): CVQ index 6 beyond vq_num 5");
		cd.pairs = 0;
		TAP_SYS(ioctl(fd, VDUSE_DEV_SET_CONFIG, &cd), "multiqueue (MQ): SET_CONFIG max_virtqueue_pairs = 0");
		TAP_EQ(vdpa_add_err(name), -EINVAL, "multiqueue (MQ): vdpa dev add refused (EINVAL): 0 queue pairs");
		cd.pairs = 2;
		TAP_SYS(ioctl(fd, VDUSE_DEV_SET_CONFIG, &cd), "multiqueue (MQ): SET_CONFIG max_virtqueue_pairs = 2");
		TAP_EQ(vdpa_add_err(name), 0, "multiqueue (MQ): accepted again with 2 pairs");
		snprintf(nm, sizeof(nm), "/sys/bus/vdpa/devices/%s", name);
		if (access(nm, F_OK) == 0)
			TAP_EQ(vdpa_del(name), 0, "multiqueue (MQ): vdpa dev del");
	}
	responder_stop(&r);
out_fd:
	close(fd);
out:
	snprintf(nm, sizeof(nm), "%s: DESTROY_DEV", tag);
	TAP_SYS(dev_destroy(ctl, name), nm);
	close(ctl);
}

static const struct layout mq_layouts[] = {
	{ { 0, 0, 2, 0, 1 }, 1, "both CVQ candidates (2, 4) each alone" },
	{ { 0, 0, 0, 0, 1 }, 0, "candidate 2 in the data group (vq 2 is the CVQ without MQ)" },
	{ { 0, 0, 2, 0, 0 }, 0, "candidate 4 in the data group" },
	{ { 0, 0, 2, 0, 2 }, 0, "candidate 4 shares vq 2's group (vq 2 carries data with MQ)" },
	{ { 0, 0, 2, 2, 1 }, 1, "vq 3 in candidate 2's group (vq 3 is unused without MQ)" },
};

static const struct layout rss_layouts[] = {
	{ { 0, 0, 2, 0, 1 }, 1, "both CVQ candidates alone" },
	{ { 0, 0, 2, 0, 0 }, 0, "with RSS the CVQ may be vq 4: it must not share a data group" },
};

static void cmd_cvq_virtio(void)
{
	test_cvq_single();
	test_cvq_fallback();
	test_cvq_multi("mo-mq", BIT(VIRTIO_NET_F_MQ), "multiqueue (MQ)", mq_layouts,
		       sizeof(mq_layouts) / sizeof(mq_layouts[0]));
	test_cvq_multi("mo-rss", BIT(VIRTIO_NET_F_RSS), "multiqueue (RSS)", rss_layouts,
		       sizeof(rss_layouts) / sizeof(rss_layouts[0]));
}

/* §d: vhost-vdpa is offered every feature the device has, CVQ ones included. */
static void cmd_cvq_vhost(void)
{
	static const uint32_t groups[5] = { 0, 0, 2, 0, 1 };
	struct responder r;
	struct devcfg cfg;
	char vpath[300];
	uint64_t f = 0;
	int ctl, fd, vh = -1;

	ctl = ctl_open();
	ctl_set_version(ctl, 1);
	netdev_cfg(&cfg, "mo-vh", CVQ_FEATURES, 5, 3, 2, 2);
	fd = dev_make(ctl, &cfg, groups, "vhost: v1 multiqueue net device with all 12 CVQ-dependent features");
	if (fd < 0)
		goto out;
	if (responder_start(&r, fd)) {
		TAP_OK(0, "vhost: responder", "pthread_create");
		goto out_fd;
	}
	TAP_EQ(vdpa_add_err("mo-vh"), 0, "vhost: vdpa dev add");
	if (vhost_path("mo-vh", vpath, sizeof(vpath)) == 0)
		vh = vh_open(vpath);
	TAP_SYS(vh, "vhost: bound to vhost_vdpa, opened");
	if (vh >= 0) {
		TAP_SYS(ioctl(vh, VHOST_GET_FEATURES, &f), "vhost: VHOST_GET_FEATURES");
		TAP_EQ(f, cfg.c.features, "vhost: offered exactly the device's features, all CVQ-dependent ones included");
		f = cfg.c.features & ~BIT(VIRTIO_NET_F_GUEST_ANNOUNCE);
		TAP_SYS(ioctl(vh, VHOST_SET_FEATURES, &f), "vhost: the driver takes CTRL_VQ and MQ");
		TAP_EQ(driver_features(fd), f, "vhost: DEV_GET_FEATURES shows the CVQ features the driver set");
		close(vh);
	}
	TAP_EQ(vdpa_del("mo-vh"), 0, "vhost: vdpa dev del");
	responder_stop(&r);
out_fd:
	close(fd);
out:
	TAP_SYS(dev_destroy(ctl, "mo-vh"), "vhost: DESTROY_DEV");
	close(ctl);
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

/*
 * Open the device's vhost-vdpa node and read the features it offers into F;
 * with SEEN, also set them all and read what the device FD was given (before
 * the close resets it). 0 or -1.
 */
static int vhost_features(const char *name, uint64_t *f, int fd, uint64_t *seen)
{
	char vpath[300];
	int vh, r = -1;

	if (vhost_path(name, vpath, sizeof(vpath)))
		return -1;
	vh = vh_open(vpath);
	if (vh < 0)
		return -1;
	if (ioctl(vh, VHOST_GET_FEATURES, f) == 0)
		r = seen ? ioctl(vh, VHOST_SET_FEATURES, f) : 0;
	if (r == 0 && seen)
		*seen = driver_features(fd);
	close(vh);
	return r;
}

/*
 * The offer follows the bound driver, not the device's history: one device
 * moved between vhost-vdpa and virtio-vdpa (both loaded) shows the CVQ
 * features to the first every time and never to the second, even after
 * vhost-vdpa's driver took them.
 */
static void check_foreign_domain_map(int fd);

static void cmd_rebind(void)
{
	static const uint32_t groups[5] = { 0, 0, 2, 0, 1 };
	struct responder r;
	struct devcfg cfg;
	uint64_t f, seen = 0;
	int ctl, fd;

	ctl = ctl_open();
	ctl_set_version(ctl, 1);
	netdev_cfg(&cfg, "mo-rb", CVQ_FEATURES, 5, 3, 2, 2);
	fd = dev_make(ctl, &cfg, groups, "rebind: v1 multiqueue net device with all 12 CVQ-dependent features");
	if (fd < 0)
		goto out;
	if (responder_start(&r, fd)) {
		TAP_OK(0, "rebind: responder", "pthread_create");
		goto out_fd;
	}
	TAP_EQ(vdpa_add_err("mo-rb"), 0, "rebind: vdpa dev add");
	TAP_EQ(bind_to("mo-rb", "vhost_vdpa"), 0, "rebind: bound to vhost_vdpa");
	f = 0;
	TAP_EQ(vhost_features("mo-rb", &f, fd, NULL), 0, "rebind: vhost-vdpa reads the features");
	TAP_EQ(f, cfg.c.features, "rebind: vhost-vdpa is offered every feature");
	TAP_EQ(bind_to("mo-rb", "virtio_vdpa"), 0, "rebind: moved to virtio_vdpa");
	check_withheld(fd, "mo-rb", "rebind: after vhost-vdpa");
	TAP_EQ(bind_to("mo-rb", "vhost_vdpa"), 0, "rebind: back to vhost_vdpa");
	f = 0;
	TAP_EQ(vhost_features("mo-rb", &f, fd, &seen), 0, "rebind: vhost-vdpa's driver takes every feature");
	TAP_EQ(f, cfg.c.features, "rebind: vhost-vdpa is offered every feature again");
	TAP_EQ(seen & CVQ_FEATURES, CVQ_FEATURES, "rebind: the device was given the CVQ features");
	TAP_EQ(bind_to("mo-rb", "virtio_vdpa"), 0, "rebind: moved to virtio_vdpa again");
	check_withheld(fd, "mo-rb", "rebind: after vhost-vdpa took the CVQ");
	check_foreign_domain_map(fd);
	TAP_EQ(vdpa_del("mo-rb"), 0, "rebind: vdpa dev del");
	responder_stop(&r);
out_fd:
	close(fd);
out:
	TAP_SYS(dev_destroy(ctl, "mo-rb"), "rebind: DESTROY_DEV");
	close(ctl);
}

/* cvq_policy=off: upstream's rule, CTRL_VQ refused at CREATE_DEV on any version. */
static void cmd_cvq_off(void)
{
	struct devcfg cfg;
	int ctl, fd;

	ctl = ctl_open();
	ctl_set_version(ctl, 1);
	netdev_cfg(&cfg, "mo-off", BIT(VIRTIO_NET_F_CTRL_VQ), 3, 2, 2, 1);
	TAP_ERRNO(ioctl(ctl, VDUSE_CREATE_DEV, &cfg), EINVAL, "off: v1 net device with CTRL_VQ: EINVAL at CREATE_DEV");
	TAP_OK(access("/dev/vduse/mo-off", F_OK) != 0, "off: no device left behind", "/dev/vduse/mo-off exists");
	netdev_cfg(&cfg, "mo-offnet", 0, 2, 1, 1, 1);
	fd = dev_make(ctl, &cfg, NULL, "off: v1 net device without CTRL_VQ created");
	if (fd >= 0) {
		TAP_EQ(vdpa_add_err("mo-offnet"), 0, "off: and added to vDPA (no CVQ, nothing to isolate)");
		TAP_EQ(vdpa_del("mo-offnet"), 0, "off: vdpa dev del");
		close(fd);
	}
	TAP_SYS(dev_destroy(ctl, "mo-offnet"), "off: DESTROY_DEV");
	close(ctl);
}

/* ---- lifecycle under the kernel virtio path -------------------------------- */

static pid_t spawn_vdpa_add(const char *name)
{
	pid_t pid;

	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		int null = open("/dev/null", O_WRONLY);

		if (null >= 0) {
			dup2(null, 1);
			dup2(null, 2);
		}
		execlp("vdpa", "vdpa", "dev", "add", "name", name, "mgmtdev", "vduse", (char *)NULL);
		_exit(127);
	}
	return pid;
}

/* waitpid with a limit: the exit status, or -1 (child killed) on timeout. */
static int wait_child(pid_t pid, int ms)
{
	double end = now_s() + ms / 1000.0;
	int st;

	while (now_s() < end) {
		if (waitpid(pid, &st, WNOHANG) == pid)
			return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
		msleep_(20);
	}
	kill(pid, SIGKILL);
	waitpid(pid, &st, 0);
	return -1;
}

/* Read one request off FD within MS; 0 on success. */
static int read_request(int fd, struct vduse_dev_request *req, int ms)
{
	if (!(poll_wait(fd, POLLIN, ms) & POLLIN))
		return -1;
	return read(fd, req, sizeof(*req)) == sizeof(*req) ? 0 : -1;
}

/*
 * The daemon restarts while the bus driver probes: the request it read but
 * never answered is handed to the next opener, and answering it there lets
 * the probe complete.
 */
static void test_restart(void)
{
	struct vduse_dev_request req, again;
	struct vduse_dev_response resp;
	struct responder r;
	struct devcfg cfg;
	int ctl, fd, rc, started = 0;
	pid_t pid;

	ctl = ctl_open();
	ctl_set_version(ctl, 1);
	netdev_cfg(&cfg, "mo-rst", 0, 2, 1, 1, 1);
	fd = dev_make(ctl, &cfg, NULL, "restart: v1 net device");
	if (fd < 0)
		goto out;
	pid = spawn_vdpa_add("mo-rst");
	TAP_EQ(read_request(fd, &req, 10000), 0, "restart: virtio-vdpa's probe sends a request");
	close(fd);	/* the daemon goes away without answering */
	fd = dev_open("mo-rst");
	TAP_SYS(fd, "restart: the device fd opens again");
	memset(&again, 0, sizeof(again));
	TAP_EQ(read_request(fd, &again, 5000), 0, "restart: the new opener reads a request");
	TAP_OK(again.request_id == req.request_id && again.type == req.type,
	       "restart: it is the unanswered request (same id and type)",
	       "got id %u type %u, want id %u type %u", again.request_id, again.type, req.request_id, req.type);
	memset(&resp, 0, sizeof(resp));
	resp.request_id = again.request_id;
	resp.result = VDUSE_REQ_RESULT_OK;
	TAP_EQ(write(fd, &resp, sizeof(resp)), sizeof(resp), "restart: the new opener answers it");
	started = responder_start(&r, fd) == 0;
	rc = wait_child(pid, 30000);
	TAP_EQ(rc, 0, "restart: vdpa dev add completes");
	TAP_EQ(wait_netdev("mo-rst"), 0, "restart: virtio-net binds the device");
	TAP_EQ(vdpa_del("mo-rst"), 0, "restart: vdpa dev del");
	if (started)
		responder_stop(&r);
	close(fd);
out:
	TAP_SYS(dev_destroy(ctl, "mo-rst"), "restart: DESTROY_DEV");
	close(ctl);
}

/*
 * The daemon never answers the probe's request: after msg_timeout the device
 * is broken for good (§3.9), the probe fails instead of hanging, and the
 * device can still be removed and its name reused.
 */
static void test_timeout(void)
{
	struct vduse_dev_request req;
	struct vduse_dev_response resp;
	struct devcfg cfg;
	uint64_t f;
	double t0;
	int ctl, fd, rc, ev;
	pid_t pid;

	ctl = ctl_open();
	ctl_set_version(ctl, 1);
	netdev_cfg(&cfg, "mo-tmo", 0, 2, 1, 1, 1);
	fd = dev_make(ctl, &cfg, NULL, "timeout: v1 net device");
	if (fd < 0)
		goto out;
	TAP_EQ(sysfs_write("mo-tmo", "msg_timeout", "2"), 0, "timeout: msg_timeout 2 s");
	t0 = now_s();
	pid = spawn_vdpa_add("mo-tmo");
	TAP_EQ(read_request(fd, &req, 10000), 0, "timeout: virtio-vdpa's probe sends a request (never answered)");
	rc = wait_child(pid, 60000);
	tap_diag("vdpa dev add exit %d after %.1f s", rc, now_s() - t0);
	TAP_OK(rc >= 0, "timeout: vdpa dev add returns (the probe does not hang)", "killed after 60 s");
	TAP_OK(now_s() - t0 > 1.5, "timeout: ... but only after msg_timeout", "%.1f s", now_s() - t0);
	TAP_OK(!has_netdev("mo-tmo"), "timeout: virtio-net did not bind the broken device", "a netdev exists");
	ev = poll_wait(fd, POLLIN, 0);
	TAP_OK(ev & POLLERR, "timeout: the device fd polls EPOLLERR", "revents 0x%x", ev);
	TAP_ERRNO(ioctl(fd, VDUSE_DEV_GET_FEATURES, &f), EPERM, "timeout: device ioctls fail with EPERM");
	memset(&resp, 0, sizeof(resp));
	resp.request_id = req.request_id;
	resp.result = VDUSE_REQ_RESULT_OK;
	TAP_ERRNO(write(fd, &resp, sizeof(resp)), ENOENT, "timeout: the late answer to the timed-out request: ENOENT");
	close(fd);
	fd = dev_open("mo-tmo");
	TAP_SYS(fd, "timeout: the broken device opens again");
	TAP_ERRNO(ioctl(fd, VDUSE_DEV_GET_FEATURES, &f), EPERM, "timeout: still broken after reopening (EPERM)");
	close(fd);
	TAP_EQ(vdpa_del("mo-tmo"), 0, "timeout: vdpa dev del of the broken device");
	TAP_SYS(dev_destroy(ctl, "mo-tmo"), "timeout: DESTROY_DEV of the broken device");

	/* destroy and recreate is the way out: the new device is healthy */
	fd = dev_make(ctl, &cfg, NULL, "timeout: the name is created again");
	if (fd >= 0) {
		TAP_SYS(ioctl(fd, VDUSE_DEV_GET_FEATURES, &f), "timeout: the recreated device is not broken");
		close(fd);
	}
out:
	TAP_SYS(dev_destroy(ctl, "mo-tmo"), "timeout: DESTROY_DEV");
	close(ctl);
}

static void cmd_lifecycle(void)
{
	test_restart();
	test_timeout();
}

/*
 * A device holds a module reference of its own: with no fd open at all,
 * rmmod is refused, and the device is intact afterwards.
 */
static void cmd_pin(void)
{
	struct devcfg cfg;
	int ctl, fd;

	ctl = ctl_open();
	ctl_set_version(ctl, 0);
	/* the name of the control node is in use (the dmesg check sees a clash) */
	blk_cfg(&cfg, "control", 1, 0, 0);
	TAP_ERRNO(ioctl(ctl, VDUSE_CREATE_DEV, &cfg), EEXIST, "pin: CREATE_DEV named \"control\"");
	blk_cfg(&cfg, "mo-pin", 1, 0, 0);
	TAP_SYS(ioctl(ctl, VDUSE_CREATE_DEV, &cfg), "pin: CREATE_DEV");
	close(ctl);
	TAP_ERRNO(delete_module("vduse"), EWOULDBLOCK, "pin: rmmod refused while a device exists (no fd open)");
	fd = dev_open("mo-pin");
	TAP_SYS(fd, "pin: the device is still there and opens");
	TAP_EQ(fd >= 0 ? setup_vqs(fd, NULL, 1) : -1, 0, "pin: and works (VQ_SETUP)");
	if (fd >= 0)
		close(fd);
	ctl = ctl_open();
	TAP_SYS(dev_destroy(ctl, "mo-pin"), "pin: DESTROY_DEV");
	close(ctl);
}

/* ---- 0xffff groups and address spaces ------------------------------------- */

static void *membuf(void)
{
	void *p = MAP_FAILED;
	int fd = memfd_create("module-ours", 0);

	if (fd >= 0 && ftruncate(fd, BUFSZ) == 0)
		p = mmap(NULL, BUFSZ, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (fd >= 0)
		close(fd);
	if (p == MAP_FAILED)
		return NULL;
	for (int i = 0; i < BUFSZ; i++)
		((uint8_t *)p)[i] = (uint8_t)(i * 7 + 3);
	return p;
}

static void cmd_big(void)
{
	const uint32_t top = 0xfffe;	/* the last group and ASID of 0xffff */
	struct vduse_iotlb_entry_v2 e;
	struct vduse_iova_info ii;
	struct vduse_dev_request q = { 0 };
	struct vduse_vq_config vq;
	struct responder r;
	struct devcfg cfg;
	char vpath[300];
	uint32_t n;
	double t0, dt;
	int ctl, fd, vh = -1, mark, gfd, started = 0;
	void *buf = membuf(), *m;

	ctl = ctl_open();
	ctl_set_version(ctl, 1);
	blk_cfg(&cfg, "mo-big", 2, 0xffff, 0xffff);
	TAP_SYS(ioctl(ctl, VDUSE_CREATE_DEV, &cfg), "big: CREATE_DEV with 0xffff groups and 0xffff address spaces");
	fd = dev_open("mo-big");
	TAP_SYS(fd, "big: open the device");
	if (fd < 0)
		goto out;
	memset(&vq, 0, sizeof(vq));
	vq.max_size = 64;
	vq.group = 0xffff;
	TAP_ERRNO(ioctl(fd, VDUSE_VQ_SETUP, &vq), EINVAL, "big: VQ_SETUP group 0xffff (== ngroups): EINVAL");
	vq.group = top;
	TAP_SYS(ioctl(fd, VDUSE_VQ_SETUP, &vq), "big: VQ_SETUP vq 0 in group 0xfffe");
	vq.index = 1;
	vq.group = 0;
	TAP_SYS(ioctl(fd, VDUSE_VQ_SETUP, &vq), "big: VQ_SETUP vq 1 in group 0");
	started = responder_start(&r, fd) == 0;
	t0 = now_s();
	TAP_EQ(vdpa_add_err("mo-big"), 0, "big: vdpa dev add (a domain for each of the 0xffff ASes)");
	dt = now_s() - t0;
	tap_diag("vdpa dev add took %.2f s", dt);
	/*
	 * Against a hang or a cost per address space out of bounds (upstream
	 * builds an IOVA domain for each), not a speed check: 0.3 s on Debian's
	 * kernel, 34 s on the KASAN/lockdep kernel with another guest busy on
	 * the same two host cores.
	 */
	TAP_OK(dt < 120, "big: vdpa dev add within 120 s", "%.1f s", dt);
	if (vhost_path("mo-big", vpath, sizeof(vpath)) == 0)
		vh = vh_open(vpath);
	TAP_SYS(vh, "big: bound to vhost_vdpa, opened");
	if (vh < 0 || !started || !buf)
		goto del;
	n = 0;
	TAP_SYS(ioctl(vh, VHOST_VDPA_GET_GROUP_NUM, &n), "big: GET_GROUP_NUM");
	TAP_EQ(n, 0xffff, "big: GET_GROUP_NUM is 0xffff");
	n = 0;
	TAP_SYS(ioctl(vh, VHOST_VDPA_GET_AS_NUM, &n), "big: GET_AS_NUM");
	TAP_EQ(n, 0xffff, "big: GET_AS_NUM is 0xffff");
	TAP_EQ(vh_vring_group(vh, 0), top, "big: GET_VRING_GROUP(0) is 0xfffe");

	/*
	 * 6.12's vhost-vdpa refuses a group index >= the number of vqs
	 * (ENOBUFS), so group 0xfffe is reached through VQ_SETUP and
	 * GET_VRING_GROUP only; SET_GROUP_ASID takes the top ASID.
	 */
	mark = responder_mark(&r);
	memset(&q, 0, sizeof(q));
	TAP_SYS(vh_set_group_asid(vh, 0, top), "big: SET_GROUP_ASID group 0 -> ASID 0xfffe");
	TAP_OK(responder_find(&r, mark, VDUSE_SET_VQ_GROUP_ASID, &q) == 0 &&
	       q.vq_group_asid.group == 0 && q.vq_group_asid.asid == top,
	       "big: the SET_VQ_GROUP_ASID message carries group 0, ASID 0xfffe",
	       "group %u asid %u", q.vq_group_asid.group, q.vq_group_asid.asid);
	TAP_ERRNO(vh_set_group_asid(vh, 0, 0xffff), EINVAL, "big: SET_GROUP_ASID ASID 0xffff (== nas): EINVAL");

	/* the last AS works like the first: a map lands in its own domain */
	memset(&ii, 0, sizeof(ii));
	ii.last = ~0ull;
	ii.asid = top;
	TAP_ERRNO(ioctl(fd, VDUSE_IOTLB_GET_INFO, &ii), EINVAL, "big: GET_INFO ASID 0xfffe before any map: EINVAL");
	mark = responder_mark(&r);
	memset(&q, 0, sizeof(q));
	TAP_EQ(vh_map(vh, top, 0x100000, BUFSZ, buf, VHOST_ACCESS_RW), 0, "big: IOTLB map 64 KiB in ASID 0xfffe");
	TAP_OK(responder_find(&r, mark, VDUSE_UPDATE_IOTLB, &q) == 0 && q.iova_v2.asid == top,
	       "big: UPDATE_IOTLB names ASID 0xfffe", "asid %u", q.iova_v2.asid);
	memset(&e, 0, sizeof(e));
	e.start = e.last = 0x100000;
	e.asid = top;
	gfd = ioctl(fd, VDUSE_IOTLB_GET_FD2, &e);
	TAP_OK(gfd >= 0 && e.start == 0x100000 && e.last == 0x100000 + BUFSZ - 1,
	       "big: GET_FD2 ASID 0xfffe finds the map", "fd %d [0x%llx, 0x%llx]", gfd,
	       (unsigned long long)e.start, (unsigned long long)e.last);
	if (gfd >= 0) {
		m = mmap(NULL, BUFSZ, PROT_READ, MAP_SHARED, gfd, e.offset);
		TAP_OK(m != MAP_FAILED && !memcmp(m, buf, BUFSZ), "big: the device reads the consumer's bytes in ASID 0xfffe",
		       "%s", m == MAP_FAILED ? strerror(errno) : "data differs");
		if (m != MAP_FAILED)
			munmap(m, BUFSZ);
		close(gfd);
	}
	e.asid = 0;
	TAP_ERRNO(ioctl(fd, VDUSE_IOTLB_GET_FD2, &e), EINVAL, "big: ... and not in ASID 0");
	e.asid = 0xffff;
	TAP_ERRNO(ioctl(fd, VDUSE_IOTLB_GET_FD2, &e), EINVAL, "big: GET_FD2 ASID 0xffff (== nas): EINVAL");
	ii.asid = 0xffff;
	TAP_ERRNO(ioctl(fd, VDUSE_IOTLB_GET_INFO, &ii), EINVAL, "big: GET_INFO ASID 0xffff (== nas): EINVAL");
	mark = responder_mark(&r);
	errno = 0;
	TAP_OK(vh_iotlb(vh, 0xffff, VHOST_IOTLB_UPDATE, 0x100000, BUFSZ, buf, VHOST_ACCESS_RW) < 0 && errno == EFAULT,
	       "big: IOTLB update in ASID 0xffff (== nas): EFAULT", "errno %d", errno);
	TAP_EQ(responder_count(&r, mark, VDUSE_UPDATE_IOTLB), 0, "big: ... and no UPDATE_IOTLB message");
del:
	if (vh >= 0)
		close(vh);
	TAP_EQ(vdpa_del("mo-big"), 0, "big: vdpa dev del");
	if (started)
		responder_stop(&r);
	close(fd);
	t0 = now_s();
	TAP_SYS(dev_destroy(ctl, "mo-big"), "big: DESTROY_DEV frees 0xffff domains");
	dt = now_s() - t0;
	tap_diag("DESTROY_DEV took %.2f s", dt);
	/*
	 * A bound against a hang or a quadratic teardown, not a speed check:
	 * about 1 s on Debian's kernel, 37 s once on the KASAN/kmemleak kernel
	 * with another guest busy on the same two host cores.
	 */
	TAP_OK(dt < 120, "big: DESTROY_DEV within 120 s", "%.1f s", dt);
out:
	if (buf)
		munmap(buf, BUFSZ);
	close(ctl);
}

/* ---- a ring mapped by the daemon outlives the device ---------------------- */

static sigjmp_buf bus_jmp;

static void on_sigbus(int sig)
{
	(void)sig;
	siglongjmp(bus_jmp, 1);
}

/* Read P[0]; 0 if it could be read, -1 on SIGBUS. */
static int touch(volatile const uint8_t *p)
{
	struct sigaction sa, old;
	int r = 0;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_sigbus;
	sigaction(SIGBUS, &sa, &old);
	if (sigsetjmp(bus_jmp, 1))
		r = -1;
	else
		(void)p[0];
	sigaction(SIGBUS, &old, NULL);
	return r;
}

/*
 * A vhost-vdpa consumer may map the domain file itself as its memory (here:
 * the daemon's mapping of virtio-net's ring page, kept across the rebind).
 * set_map then loads an entry naming the domain's own file whose address is
 * the consumer's user address: it must stay a consumer entry.  Taken for a
 * kernel entry, the fault handler turned that user address into a struct
 * page and mapped it.  The device is bound to virtio_vdpa on entry and to
 * vhost_vdpa on return.
 */
static void check_foreign_domain_map(int fd)
{
	const uint64_t iova = 1ull << 30;	/* above AS 0's bounce area */
	struct vduse_iotlb_entry e, f;
	struct vduse_vq_info vi;
	uint8_t *ring = MAP_FAILED, *p = MAP_FAILED;
	char vpath[300];
	size_t len = 0;
	int dfd = -1, ffd = -1, vh = -1;
	double end = now_s() + 20;

	do {
		memset(&vi, 0, sizeof(vi));
		if (ioctl(fd, VDUSE_VQ_GET_INFO, &vi) == 0 && vi.desc_addr)
			break;
		msleep_(50);
	} while (now_s() < end);
	memset(&e, 0, sizeof(e));
	e.start = e.last = vi.desc_addr;
	dfd = vi.desc_addr ? ioctl(fd, VDUSE_IOTLB_GET_FD, &e) : -1;
	TAP_SYS(dfd, "rebind: GET_FD of virtio-net's vq 0 ring (the AS 0 domain file)");
	if (dfd < 0)
		return;
	len = e.last - e.start + 1;
	ring = mmap(NULL, len, PROT_READ, MAP_SHARED, dfd, e.offset);
	TAP_OK(ring != MAP_FAILED, "rebind: the daemon maps the ring", "%s", strerror(errno));
	if (ring == MAP_FAILED)
		goto out;
	TAP_EQ(bind_to("mo-rb", "vhost_vdpa"), 0, "rebind: to vhost_vdpa with the domain file still mapped");
	if (vhost_path("mo-rb", vpath, sizeof(vpath)) == 0)
		vh = vh_open(vpath);
	TAP_SYS(vh, "rebind: vhost-vdpa opened");
	if (vh < 0)
		goto out;
	TAP_SYS(vh_map(vh, 0, iova, len, ring, VHOST_ACCESS_RO),
		"rebind: vhost-vdpa maps IOVA 1 GiB of AS 0 to the domain file mapping");
	memset(&f, 0, sizeof(f));
	f.start = f.last = iova;
	ffd = ioctl(fd, VDUSE_IOTLB_GET_FD, &f);
	TAP_SYS(ffd, "rebind: GET_FD finds the consumer's entry");
	TAP_OK(ffd >= 0 && f.start == iova && f.offset == e.offset, "rebind: it names the consumer's file offset",
	       "start 0x%llx offset 0x%llx, want 0x%llx 0x%llx", (unsigned long long)f.start,
	       (unsigned long long)f.offset, (unsigned long long)iova, (unsigned long long)e.offset);
	p = mmap(NULL, len, PROT_READ, MAP_SHARED, dfd, iova);
	TAP_OK(p != MAP_FAILED && touch(p) == -1,
	       "rebind: the domain file at that IOVA is no kernel page (SIGBUS)", "%s",
	       p == MAP_FAILED ? strerror(errno) : "readable");
	TAP_SYS(vh_unmap(vh, 0, iova, len), "rebind: vhost-vdpa unmaps it");
out:
	if (p != MAP_FAILED)
		munmap(p, len);
	if (vh >= 0)
		close(vh);
	if (ffd >= 0)
		close(ffd);
	if (ring != MAP_FAILED)
		munmap(ring, len);
	close(dfd);
}

/* The page frame behind ADDR (touched already), from /proc/self/pagemap; 0 if none. */
static uint64_t pfn_of(const void *addr)
{
	uint64_t ent = 0;
	int fd = open("/proc/self/pagemap", O_RDONLY);

	if (fd < 0)
		return 0;
	if (pread(fd, &ent, sizeof(ent), (uintptr_t)addr / 4096 * sizeof(ent)) != sizeof(ent))
		ent = 0;
	close(fd);
	return ent >> 63 ? ent & ((1ull << 55) - 1) : 0;
}

/* Wait for virtio-net's vq 0 ring; fills VI, returns its desc_addr or 0. */
static uint64_t wait_ring(int fd, struct vduse_vq_info *vi)
{
	double end = now_s() + 20;

	do {
		memset(vi, 0, sizeof(*vi));
		if (ioctl(fd, VDUSE_VQ_GET_INFO, vi) == 0 && vi->desc_addr)
			break;
		msleep_(50);
	} while (now_s() < end);
	return vi->desc_addr;
}

/*
 * The daemon keeps its mapping of vq 0's ring while virtio-net goes away and
 * comes back (vdpa dev del / add: the driver frees its rings, the next one
 * gets the same IOVAs, first fit, with other pages). The reset zaps it: an
 * access in between faults (SIGBUS: nothing at that IOVA), and after the
 * re-probe it reaches the new ring's page, as a fresh GET_FD mapping does;
 * kept, it showed the freed ring, and a device resumed on it served nothing.
 */
static void check_reprobe(int fd, uint8_t *p, const struct vduse_iotlb_entry *e, uint64_t old)
{
	struct vduse_vq_info vi;
	struct vduse_iotlb_entry f;
	uint8_t *q = MAP_FAILED;
	uint64_t a, b;
	size_t len = 0;
	int dfd;

	TAP_EQ(touch(p + (old - e->start)), -1,
	       "domfile: after vdpa dev del the daemon's mapping of the freed ring faults (SIGBUS)");
	TAP_EQ(vdpa_add_err("mo-dom"), 0, "domfile: vdpa dev add again (virtio-net probes anew)");
	if (!wait_ring(fd, &vi) || vi.desc_addr < e->start || vi.desc_addr > e->last) {
		TAP_OK(0, "domfile: the new vq 0 ring lies in the old entry's IOVA range",
		       "desc_addr 0x%llx, old entry 0x%llx - 0x%llx", (unsigned long long)vi.desc_addr,
		       (unsigned long long)e->start, (unsigned long long)e->last);
		return;
	}
	memset(&f, 0, sizeof(f));
	f.start = f.last = vi.desc_addr;
	dfd = ioctl(fd, VDUSE_IOTLB_GET_FD, &f);
	if (dfd >= 0) {
		len = f.last - f.start + 1;
		q = mmap(NULL, len, PROT_READ, MAP_SHARED, dfd, f.offset);
		close(dfd);
	}
	TAP_OK(q != MAP_FAILED && touch(q + (vi.desc_addr - f.start)) == 0 &&
	       touch(p + (vi.desc_addr - e->start)) == 0,
	       "domfile: re-probed: the new ring is readable through a fresh mapping and the old one", "%s",
	       q == MAP_FAILED ? strerror(errno) : "SIGBUS");
	if (q == MAP_FAILED)
		return;
	a = pfn_of(p + (vi.desc_addr - e->start));
	b = pfn_of(q + (vi.desc_addr - f.start));
	TAP_OK(a && a == b, "domfile: re-probed: the old mapping reaches the new ring's page, not the freed one",
	       "pfn 0x%llx through the old mapping, 0x%llx through a fresh one", (unsigned long long)a,
	       (unsigned long long)b);
	munmap(q, len);
	TAP_EQ(vdpa_del("mo-dom"), 0, "domfile: vdpa dev del again");
}

static void cmd_domfile(void)
{
	struct vduse_vq_info vi;
	struct vduse_iotlb_entry e;
	struct responder r;
	struct devcfg cfg;
	size_t len = 0;
	uint8_t *p = MAP_FAILED;
	double end;
	int ctl, fd, dfd = -1, refs, started = 0;

	ctl = ctl_open();
	ctl_set_version(ctl, 0);
	netdev_cfg(&cfg, "mo-dom", 0, 2, 0, 0, 1);
	fd = dev_make(ctl, &cfg, NULL, "domfile: v0 net device");
	if (fd < 0)
		goto out;
	started = responder_start(&r, fd) == 0;
	TAP_EQ(vdpa_add_err("mo-dom"), 0, "domfile: vdpa dev add (virtio-net binds)");
	/* virtio-net's rings are coherent allocations in the bounce domain */
	TAP_OK(wait_ring(fd, &vi), "domfile: vq 0 has a ring", "desc_addr 0");
	memset(&e, 0, sizeof(e));
	e.start = e.last = vi.desc_addr;
	dfd = ioctl(fd, VDUSE_IOTLB_GET_FD, &e);
	TAP_SYS(dfd, "domfile: GET_FD of vq 0's ring");
	if (dfd >= 0) {
		len = e.last - e.start + 1;
		p = mmap(NULL, len, PROT_READ, MAP_SHARED, dfd, e.offset);
	}
	TAP_OK(p != MAP_FAILED && touch(p + (vi.desc_addr - e.start)) == 0, "domfile: the ring is mapped and readable",
	       "%s", p == MAP_FAILED ? strerror(errno) : "SIGBUS");
	TAP_EQ(vdpa_del("mo-dom"), 0, "domfile: vdpa dev del while the ring is mapped");
	if (p != MAP_FAILED)
		check_reprobe(fd, p, &e, vi.desc_addr);
	if (started)
		responder_stop(&r);
	close(fd);
	TAP_SYS(dev_destroy(ctl, "mo-dom"), "domfile: DESTROY_DEV while the ring is mapped");
	close(ctl);
	ctl = -1;
	if (p == MAP_FAILED)
		goto out;
	/* the mapping outlives the device: it faults, and holds the domain file */
	TAP_EQ(touch(p + (vi.desc_addr - e.start)), -1, "domfile: the mapping is still there, faulting (SIGBUS)");
	close(dfd);
	dfd = -1;
	TAP_ERRNO(delete_module("vduse"), EWOULDBLOCK, "domfile: rmmod refused while the mapping exists");
	TAP_EQ(touch(p + (vi.desc_addr - e.start)), -1, "domfile: still faulting cleanly after the refused rmmod");
	munmap(p, len);
	p = MAP_FAILED;
	end = now_s() + 5;
	while ((refs = module_refs()) > 0 && now_s() < end)
		msleep_(50);
	TAP_EQ(refs, 0, "domfile: unmapping drops the last module reference");
out:
	if (p != MAP_FAILED)
		munmap(p, len);
	if (dfd >= 0)
		close(dfd);
	if (ctl >= 0) {
		TAP_SYS(dev_destroy(ctl, "mo-dom"), "domfile: DESTROY_DEV");
		close(ctl);
	}
}

static const struct {
	const char *name;
	void (*fn)(void);
} cmds[] = {
	{ "cvq-virtio", cmd_cvq_virtio },
	{ "cvq-vhost", cmd_cvq_vhost },
	{ "rebind", cmd_rebind },
	{ "cvq-off", cmd_cvq_off },
	{ "lifecycle", cmd_lifecycle },
	{ "pin", cmd_pin },
	{ "big", cmd_big },
	{ "domfile", cmd_domfile },
};

int main(int argc, char **argv)
{
	size_t i;

	setvbuf(stdout, NULL, _IOLBF, 0);
	for (i = 0; argc == 2 && i < sizeof(cmds) / sizeof(cmds[0]); i++)
		if (!strcmp(argv[1], cmds[i].name))
			break;
	if (argc != 2 || i == sizeof(cmds) / sizeof(cmds[0])) {
		fprintf(stderr, "usage: module_ours cvq-virtio|cvq-vhost|rebind|cvq-off|lifecycle|pin|big|domfile\n");
		return 2;
	}
	tap_diag("module_ours %s", cmds[i].name);
	cleanup_all();
	cmds[i].fn();
	cleanup_all();
	return tap_done();
}
