// SPDX-License-Identifier: GPL-2.0
/*
 * libvduse ABI: libvduse.so.0 exports every public function at version
 * LIBVDUSE_0.1 (LIBVDUSE_0.2 for the later ones) and nothing else; in
 * particular the internal kernel-call table the unit tests use stays hidden.
 * Also checks LIBVDUSE_OPTS() and the
 * library's handling of the options size.
 */
#include <dlfcn.h>
#include <stddef.h>
#include "vduse/libvduse.h"
#include "tap.h"

static const char *const public_fns[] = {
	"vduse_dev_create", "vduse_dev_attach", "vduse_dev_close", "vduse_dev_destroy",
	"vduse_destroy_by_name", "vduse_dev_fd", "vduse_dev_name", "vduse_dev_api_version",
	"vduse_dev_features", "vduse_dev_status", "vduse_dev_user", "vduse_dev_num_queues",
	"vduse_dev_vq", "vduse_dev_group_asid", "vduse_dev_handle_msgs", "vduse_dev_run_once",
	"vduse_dev_update_config", "vduse_dev_reg_umem", "vduse_dev_dereg_umem",
	"vduse_dev_umem_size", "vduse_inflight_size", "vduse_vq_index", "vduse_vq_kick_fd",
	"vduse_vq_started", "vduse_vq_broken", "vduse_vq_packed", "vduse_vq_size",
	"vduse_vq_group", "vduse_vq_asid", "vduse_vq_inflight", "vduse_vq_ack_kick",
	"vduse_vq_pop", "vduse_vq_push", "vduse_vq_notify", "vduse_req_free", "vduse_req_read",
	"vduse_req_write",
};

/* added in LIBVDUSE_0.2 */
static const char *const public_fns_02[] = {
	"vduse_vq_enable_notify", "vduse_vq_disable_notify", "vduse_vq_pop_many",
	"vduse_vq_push_many", "vduse_vq_get_stats", "vduse_vq_broken_reason",
};

/* added in LIBVDUSE_0.3 */
static const char *const public_fns_03[] = {
	"vduse_dev_drain_done", "vduse_dev_drain_pending",
};

static const char *const internal_syms[] = {
	"vduse_sys_backend", "vduse__dev_create", "vduse__dev_attach", "vduse_log",
	"vduse_iotlb_lookup", "vduse_iotlb_translate", "vduse_msg_handle", "vduse_split_pop_avail",
	"vduse_packed_pop", "vduse_region_release", "vduse_chain_add_slow", "vduse_inflight_setup",
};

/*
 * Bytes of struct vduse_dev_opts not covered by a member. A newer library
 * only checks that fields an older one does not know are zero; a hole there
 * could hold garbage (LIBVDUSE_OPTS is not guaranteed to clear padding).
 */
#define FIELD(f) { offsetof(struct vduse_dev_opts, f), sizeof(((struct vduse_dev_opts *)0)->f) }
static size_t opts_holes(void)
{
	static const struct { size_t off, len; } f[] = {
		FIELD(sz), FIELD(name), FIELD(device_id), FIELD(vendor_id), FIELD(features),
		FIELD(config), FIELD(config_size), FIELD(num_queues), FIELD(queue_size),
		FIELD(reserved0), FIELD(reserved1), FIELD(queue_sizes), FIELD(ngroups), FIELD(nas),
		FIELD(queue_group), FIELD(vq_align), FIELD(flags), FIELD(started), FIELD(stopped),
		FIELD(reset), FIELD(queue_ready), FIELD(queue_kick), FIELD(group_asid),
		FIELD(status), FIELD(log), FIELD(log_level), FIELD(reserved2), FIELD(user),
		FIELD(inflight), FIELD(inflight_size), FIELD(iotlb_update), FIELD(drain),
	};
	size_t i, end = 0, holes = 0;

	for (i = 0; i < sizeof(f) / sizeof(f[0]); i++) {
		holes += f[i].off - end;
		end = f[i].off + f[i].len;
	}
	return holes + sizeof(struct vduse_dev_opts) - end;
}

static void __attribute__((noinline)) dirty_stack(void)
{
	volatile unsigned char junk[4096];
	size_t i;

	for (i = 0; i < sizeof(junk); i++)
		junk[i] = 0xa5;
}

static size_t __attribute__((noinline)) opts_dirty_bytes(void)
{
	LIBVDUSE_OPTS(vduse_dev_opts, o, .num_queues = 1);
	const unsigned char *b = (const unsigned char *)&o;
	size_t i, n = 0;

	for (i = 0; i < sizeof(o); i++)
		n += i >= sizeof(o.sz) && i != offsetof(struct vduse_dev_opts, num_queues) && b[i];
	return n;
}

int main(int argc, char **argv)
{
	const char *path = argc > 1 ? argv[1] : "build/lib/libvduse.so.0";
	unsigned int i, ok;
	void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);

	dirty_stack();
	TAP_OK(h != NULL, "dlopen libvduse.so.0", "%s", dlerror());
	if (!h)
		return tap_done();
	for (i = 0, ok = 0; i < sizeof(public_fns) / sizeof(public_fns[0]); i++) {
		if (dlvsym(h, public_fns[i], "LIBVDUSE_0.1"))
			ok++;
		else
			tap_diag("missing: %s@LIBVDUSE_0.1", public_fns[i]);
	}
	TAP_EQ(ok, sizeof(public_fns) / sizeof(public_fns[0]),
	       "every public function exported at LIBVDUSE_0.1");
	for (i = 0, ok = 0; i < sizeof(public_fns_02) / sizeof(public_fns_02[0]); i++) {
		if (dlvsym(h, public_fns_02[i], "LIBVDUSE_0.2"))
			ok++;
		else
			tap_diag("missing: %s@LIBVDUSE_0.2", public_fns_02[i]);
	}
	TAP_EQ(ok, sizeof(public_fns_02) / sizeof(public_fns_02[0]),
	       "functions added later exported at LIBVDUSE_0.2");
	for (i = 0, ok = 0; i < sizeof(public_fns_03) / sizeof(public_fns_03[0]); i++) {
		if (dlvsym(h, public_fns_03[i], "LIBVDUSE_0.3"))
			ok++;
		else
			tap_diag("missing: %s@LIBVDUSE_0.3", public_fns_03[i]);
	}
	TAP_EQ(ok, sizeof(public_fns_03) / sizeof(public_fns_03[0]),
	       "drain functions exported at LIBVDUSE_0.3");
	for (i = 0, ok = 0; i < sizeof(internal_syms) / sizeof(internal_syms[0]); i++) {
		if (!dlsym(h, internal_syms[i]))
			ok++;
		else
			tap_diag("exported but internal: %s", internal_syms[i]);
	}
	TAP_EQ(ok, sizeof(internal_syms) / sizeof(internal_syms[0]),
	       "internal symbols (backend table, helpers) not exported");

	/* options: size carried, unknown tail must be zero, too small refused */
	{
		int (*create)(const struct vduse_dev_opts *, struct vduse_dev **) =
			(int (*)(const struct vduse_dev_opts *, struct vduse_dev **))
			dlsym(h, "vduse_dev_create");
		LIBVDUSE_OPTS(vduse_dev_opts, o, .name = "x", .num_queues = 1);
		struct vduse_dev *dev = NULL;

		TAP_EQ(o.sz, sizeof(struct vduse_dev_opts), "LIBVDUSE_OPTS sets sz");
		TAP_EQ(opts_holes(), 0, "struct vduse_dev_opts has no implicit padding");
		TAP_EQ(opts_dirty_bytes(), 0, "LIBVDUSE_OPTS leaves no byte of the struct unset");
		TAP_OK(o.ngroups == 0 && o.log == NULL && o.inflight == NULL,
		       "LIBVDUSE_OPTS zeroes the other fields", " ");
		o.sz = 4;
		TAP_EQ(create(&o, &dev), -EINVAL, "options smaller than the mandatory part refused");
		TAP_EQ(create(NULL, &dev), -EINVAL, "NULL options refused");
	}
	TAP_EQ(((size_t (*)(unsigned int, unsigned int, unsigned int))
		dlsym(h, "vduse_inflight_size"))(0, 8, 1), 0, "vduse_inflight_size(0 queues) = 0");
	dlclose(h);
	return tap_done();
}
