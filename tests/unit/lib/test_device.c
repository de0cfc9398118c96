// SPDX-License-Identifier: GPL-2.0
/*
 * libvduse device life cycle against the fake kernel: API negotiation (v1
 * when offered, v0 fallback, -EOPNOTSUPP with a logged reason), options
 * struct size handling, CREATE_DEV/VQ_SETUP contents, failure unwinding,
 * config updates, destroy, attach after a restart (API probe, queue state
 * from VQ_GET_INFO) and the in-flight log (resubmission, group bindings).
 */
#include "fake_kernel.h"
#include <linux/virtio_ring.h>

static struct fake_kernel fk;
static struct fk_log lg;

/* A log callback that, like many (syslog, stdio), does not preserve errno. */
static void errno_clobbering_logger(void *user, enum vduse_log_level lvl, const char *msg)
{
	fk_logger(user, lvl, msg);
	errno = 0;
}

static int create(struct vduse_dev_opts *o, struct vduse_dev **dev)
{
	*dev = NULL;
	return vduse__dev_create(o, &fk_backend, &fk, dev);
}

int main(void)
{
	static const uint32_t groups[2] = { 0, 1 };
	static const uint8_t cfg[8] = { 1, 2, 3, 4, 5, 6, 7, 8 };
	LIBVDUSE_OPTS(vduse_dev_opts, o, .name = "dev0", .device_id = 2, .vendor_id = 0x1af4,
		      .features = 1ull << 32, .config = cfg, .config_size = sizeof(cfg),
		      .num_queues = 2, .queue_size = 64, .log = fk_logger, .user = &lg,
		      .log_level = VDUSE_LOG_INFO);
	struct vduse_dev *dev;
	struct vduse_req *req[4];
	struct fk_split r;
	uint8_t big[sizeof(o) + 16];
	void *logmem;
	size_t logsz;
	int ret, i;

	/* v1 kernel, one group: v1 device */
	fk_init(&fk, 1);
	TAP_EQ(create(&o, &dev), 0, "create on a v1 kernel");
	TAP_EQ(vduse_dev_api_version(dev), 1, "API v1 negotiated");
	TAP_OK(fk.cfg.ngroups == 1 && fk.cfg.nas == 1 && fk.dev_api == 1,
	       "CREATE_DEV carried ngroups 1, nas 1", " ");
	TAP_OK(fk.cfg.features == ((1ull << 32) | (1ull << 33)),
	       "VIRTIO_F_ACCESS_PLATFORM added", "%llx", (unsigned long long)fk.cfg.features);
	TAP_OK(fk.cfg.vq_num == 2 && fk.cfg.vq_align == 4096 && fk.cfg.vendor_id == 0x1af4 &&
	       fk.cfg.config_size == 8 && !memcmp(fk.config, cfg, 8),
	       "CREATE_DEV config fields and config space", " ");
	TAP_OK(fk.vqcfg[0].max_size == 64 && fk.vqcfg[1].max_size == 64 && fk.vqcfg[1].index == 1,
	       "VQ_SETUP for every queue", " ");
	TAP_OK(!strcmp(vduse_dev_name(dev), "dev0") && vduse_dev_num_queues(dev) == 2 &&
	       vduse_dev_vq(dev, 2) == NULL && vduse_dev_user(dev) == &lg &&
	       vduse_dev_fd(dev) >= 0, "accessors", " ");
	TAP_EQ(vduse_dev_update_config(dev, 2, "xy", 2), 0, "update_config");
	TAP_OK(fk.config[2] == 'x' && fk.config[3] == 'y' && fk.config_irqs == 1,
	       "config bytes written and config interrupt raised", " ");
	TAP_EQ(vduse_dev_update_config(dev, 4095, "xy", 2), -EINVAL, "update past a page refused");
	fk.fail_req = VDUSE_DEV_SET_CONFIG;
	fk.fail_errno = EINVAL;
	TAP_EQ(vduse_dev_update_config(dev, 7, "xy", 2), -EINVAL, "kernel's SET_CONFIG error returned");
	TAP_EQ(fk.config_irqs, 1, "no interrupt after a failed update");
	fk.fail_req = 0;
	TAP_EQ(vduse_dev_destroy(dev), 0, "destroy");
	TAP_OK(!fk.created && fk.destroyed == 1, "DESTROY_DEV reached the kernel", " ");
	fk_fini(&fk);

	/* v0-only kernel (SET_API_VERSION(1) gives EINVAL), one group: v0 */
	fk_init(&fk, 0);
	lg.last[0] = 0;
	TAP_EQ(create(&o, &dev), 0, "create on a v0-only kernel");
	TAP_OK(vduse_dev_api_version(dev) == 0 && fk.dev_api == 0 && fk.cfg.ngroups == 0 &&
	       fk.cfg.nas == 0, "v0 fallback with ngroups = nas = 0", " ");
	vduse_dev_destroy(dev);
	fk_fini(&fk);

	/* v0-only kernel, device needing two address spaces: clear error */
	fk_init(&fk, 0);
	o.ngroups = 2;
	o.nas = 2;
	o.queue_group = groups;
	lg.last[0] = 0;
	TAP_EQ(create(&o, &dev), -EOPNOTSUPP, "2 groups / 2 ASes on a v0-only kernel: -EOPNOTSUPP");
	TAP_OK(strstr(lg.last, "API v1") && strstr(lg.last, "2 address spaces"),
	       "reason logged", "'%s'", lg.last);
	TAP_OK(!fk.created && dev == NULL, "nothing created", " ");
	fk_fini(&fk);

	/* v1 kernel, 2 groups: v1 with the groups */
	fk_init(&fk, 1);
	TAP_EQ(create(&o, &dev), 0, "2 groups / 2 ASes on a v1 kernel");
	TAP_OK(fk.cfg.ngroups == 2 && fk.cfg.nas == 2 && fk.vqcfg[1].group == 1,
	       "groups and address spaces reach the kernel", " ");
	vduse_dev_destroy(dev);
	/* VDUSE_DEV_F_API_V0 forbids v1 */
	o.flags = VDUSE_DEV_F_API_V0;
	TAP_EQ(create(&o, &dev), -EOPNOTSUPP, "VDUSE_DEV_F_API_V0 with 2 ASes: -EOPNOTSUPP");
	o.ngroups = o.nas = 1;
	o.queue_group = NULL;
	TAP_EQ(create(&o, &dev), 0, "VDUSE_DEV_F_API_V0 with 1 AS on a v1 kernel");
	TAP_OK(dev && vduse_dev_api_version(dev) == 0 && fk.dev_api == 0, "v0 device", " ");
	vduse_dev_destroy(dev);
	o.flags = 0;

	/* option validation */
	o.sz = 8;
	TAP_EQ(create(&o, &dev), -EINVAL, "options struct too small refused");
	o.sz = sizeof(o);
	memset(big, 0, sizeof(big));
	memcpy(big, &o, sizeof(o));
	((struct vduse_dev_opts *)big)->sz = sizeof(big);
	TAP_EQ(create((struct vduse_dev_opts *)big, &dev), 0,
	       "larger options struct with zero tail accepted (newer caller)");
	vduse_dev_destroy(dev);
	big[sizeof(o) + 3] = 1;
	TAP_EQ(create((struct vduse_dev_opts *)big, &dev), -E2BIG,
	       "larger options struct with unknown non-zero fields refused");
	{
		/* an older caller: struct ends before the callbacks */
		struct vduse_dev_opts small = o;

		small.sz = offsetof(struct vduse_dev_opts, started);
		TAP_EQ(create(&small, &dev), 0, "older (smaller) options struct accepted");
		vduse_dev_destroy(dev);
	}
	o.name = "";
	TAP_EQ(create(&o, &dev), -EINVAL, "empty name refused");
	o.name = "a/b";
	TAP_EQ(create(&o, &dev), -EINVAL, "name with '/' refused");
	o.name = "dev0";
	o.num_queues = 0;
	TAP_EQ(create(&o, &dev), -EINVAL, "zero queues refused");
	o.num_queues = 2;
	o.queue_group = groups;
	TAP_EQ(create(&o, &dev), -EINVAL, "queue group beyond ngroups refused");
	o.queue_group = NULL;
	o.queue_size = 40000;
	TAP_EQ(create(&o, &dev), -EINVAL, "queue size above 32768 refused");
	o.queue_size = 64;
	TAP_OK(!fk.created, "no device left behind by refused options", " ");

	/* kernel failures unwind */
	fk.fail_req = VDUSE_CREATE_DEV;
	fk.fail_errno = EEXIST;
	TAP_EQ(create(&o, &dev), -EEXIST, "CREATE_DEV error returned");
	fk.fail_req = VDUSE_VQ_SETUP;
	fk.fail_errno = EINVAL;
	TAP_EQ(create(&o, &dev), -EINVAL, "VQ_SETUP error returned");
	TAP_OK(!fk.created, "device destroyed again after a VQ_SETUP failure", " ");
	o.log = errno_clobbering_logger;
	fk.fail_errno = EPERM;
	ret = create(&o, &dev);
	TAP_EQ(ret, -EPERM, "VQ_SETUP error survives a log callback that clobbers errno");
	TAP_OK(!fk.created, "no device left behind then either", " ");
	if (!ret)
		vduse_dev_close(dev);
	o.log = fk_logger;
	fk.fail_req = 0;

	/* ---- attach with an in-flight log ---- */
	logsz = vduse_inflight_size(2, 64, 1);
	TAP_OK(logsz > 0, "vduse_inflight_size", " ");
	logmem = mmap(NULL, logsz, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	o.inflight = logmem;
	o.inflight_size = logsz - 1;
	TAP_EQ(create(&o, &dev), -EINVAL, "in-flight log too small refused");
	o.inflight_size = logsz;
	TAP_EQ(create(&o, &dev), 0, "create with an in-flight log");
	fk_map(&fk, 0, 0x100000, 0x100000, 0, VDUSE_ACCESS_RW);
	fk.features = (1ull << 32) | (1ull << 33);
	fk_split_init(&fk, &r, 0, 0, 0x100000, 8);
	fk.vqinfo[1].index = 1;
	for (i = 0; i < 4; i++)
		fk_set_desc(&fk_split_desc(&r)[i], 0x180000 + i * 16, 16, VRING_DESC_F_WRITE, 0);
	fk_status(&fk, dev, 0x0f);
	for (i = 0; i < 4; i++) {
		fk_split_publish(&r, i);
		vduse_vq_pop(vduse_dev_vq(dev, 0), &req[i]);
	}
	vduse_vq_push(req[1], 1);
	vduse_vq_push(req[3], 1);
	/* the daemon dies with requests 0 and 2 in flight */
	vduse_dev_close(dev);
	TAP_OK(fk.created, "close keeps the kernel device", " ");

	fk.vqinfo[0].split.avail_index = 0;	/* the kernel knows nothing newer */
	ret = vduse__dev_attach(&o, &fk_backend, &fk, &dev);
	TAP_EQ(ret, 0, "attach by name");
	if (ret)
		return tap_done();
	TAP_EQ(vduse_dev_api_version(dev), 1, "attach probed API v1");
	TAP_OK(vduse_vq_started(vduse_dev_vq(dev, 0)) && !vduse_vq_started(vduse_dev_vq(dev, 1)),
	       "ready queue resumed, other one not", " ");
	TAP_OK(fk.kickfd[0] == vduse_vq_kick_fd(vduse_dev_vq(dev, 0)), "new kick fd installed", " ");
	ret = vduse_vq_pop(vduse_dev_vq(dev, 0), &req[0]);
	TAP_OK(ret == 1 && req[0]->id == 0, "oldest unfinished request resubmitted first",
	       "ret %d id %d", ret, ret == 1 ? req[0]->id : -1);
	ret = vduse_vq_pop(vduse_dev_vq(dev, 0), &req[1]);
	TAP_OK(ret == 1 && req[1]->id == 2, "then the other one", "ret %d", ret);
	TAP_EQ(vduse_vq_pop(vduse_dev_vq(dev, 0), &req[2]), 0,
	       "completed requests are not popped again");
	vduse_vq_push(req[0], 1);
	vduse_vq_push(req[1], 1);
	TAP_EQ(fk_split_used(&r)[1], 4, "all four completed exactly once");
	fk_split_publish(&r, 3);
	ret = vduse_vq_pop(vduse_dev_vq(dev, 0), &req[0]);
	TAP_OK(ret == 1 && req[0]->id == 3, "new requests continue after the logged position", " ");
	if (ret == 1)
		vduse_vq_push(req[0], 1);
	vduse_dev_destroy(dev);
	fk_fini(&fk);

	/*
	 * A corrupted in-flight log is untrusted input too: attach must work
	 * and every pop must return a request of this ring, nothing, or -EIO
	 * with the queue marked broken; never crash or read out of bounds.
	 */
	fk_init(&fk, 1);
	TAP_EQ(create(&o, &dev), 0, "create with a log (corruption rounds)");
	fk_map(&fk, 0, 0x100000, 0x100000, 0, VDUSE_ACCESS_RW);
	fk.features = (1ull << 32) | (1ull << 33) | (1ull << 29);
	fk_split_init(&fk, &r, 0, 0, 0x100000, 8);
	fk.vqinfo[1].index = 1;
	for (i = 0; i < 8; i++)
		fk_set_desc(&fk_split_desc(&r)[i], 0x180000 + i * 16, 16, VRING_DESC_F_WRITE, 0);
	fk_status(&fk, dev, 0x0f);
	for (i = 0; i < 2; i++) {
		fk_split_publish(&r, i);
		vduse_vq_pop(vduse_dev_vq(dev, 0), &req[i]);
	}
	vduse_dev_close(dev);
	{
		size_t hdr = (sizeof(struct vduse_inflight_hdr) + 4 + 7) & ~(size_t)7;
		unsigned int round, attached = 0, bad = 0, pops = 0;
		uint32_t seed = 12345;

		for (round = 0; round < 64; round++) {
			uint8_t *b = (uint8_t *)logmem + sizeof(struct vduse_inflight_hdr);
			size_t k;

			for (k = 0; k < logsz - sizeof(struct vduse_inflight_hdr); k++) {
				seed = seed * 1103515245 + 12345;
				b[k] = seed >> 16;
			}
			if (round & 1)	/* make queue 0's entry claim to be valid */
				((struct vduse_inflight_vq *)((uint8_t *)logmem + hdr))->valid = 1;
			if (vduse__dev_attach(&o, &fk_backend, &fk, &dev))
				continue;
			attached++;
			for (i = 0; i < 20; i++) {
				struct vduse_vq *q = vduse_dev_vq(dev, 0);

				ret = vduse_vq_pop(q, &req[0]);
				if (ret == 1) {
					pops++;
					if (req[0]->id >= 8)
						bad++;
					vduse_vq_push(req[0], 1);
				} else if (ret < 0 && (ret != -EIO || !vduse_vq_broken(q))) {
					bad++;
				}
				if (ret <= 0)
					break;
			}
			vduse_dev_close(dev);
		}
		TAP_OK(attached == 64 && !bad, "64 corrupted logs: attach works, pops stay sane",
		       "attached %u bad %u", attached, bad);
		TAP_OK(pops > 0, "some corrupted logs resubmit requests", "pops %u", pops);
	}
	TAP_EQ(vduse__dev_attach(&o, &fk_backend, &fk, &dev), 0, "attach after the rounds");
	vduse_dev_destroy(dev);
	fk_fini(&fk);

	/* an unusable log entry: resume as without a log, after the used index */
	fk_init(&fk, 1);
	TAP_EQ(create(&o, &dev), 0, "create with a log (bad entry)");
	fk_map(&fk, 0, 0x100000, 0x100000, 0, VDUSE_ACCESS_RW);
	fk.features = (1ull << 32) | (1ull << 33);
	fk_split_init(&fk, &r, 0, 0, 0x100000, 8);
	fk.vqinfo[1].index = 1;
	for (i = 0; i < 4; i++)
		fk_set_desc(&fk_split_desc(&r)[i], 0x180000 + i * 16, 16, VRING_DESC_F_WRITE, 0);
	fk_status(&fk, dev, 0x0f);
	for (i = 0; i < 2; i++) {
		fk_split_publish(&r, i);
		vduse_vq_pop(vduse_dev_vq(dev, 0), &req[i]);
		vduse_vq_push(req[i], 1);
	}
	vduse_dev_close(dev);
	{
		size_t hdr = (sizeof(struct vduse_inflight_hdr) + 4 + 7) & ~(size_t)7;

		((struct vduse_inflight_vq *)((uint8_t *)logmem + hdr))->used += 100;
	}
	TAP_EQ(vduse__dev_attach(&o, &fk_backend, &fk, &dev), 0, "attach with a bad log entry");
	TAP_EQ(dev ? vduse_vq_pop(vduse_dev_vq(dev, 0), &req[0]) : -1, 0,
	       "completed requests are not popped again");
	fk_split_publish(&r, 2);
	ret = dev ? vduse_vq_pop(vduse_dev_vq(dev, 0), &req[0]) : -1;
	TAP_OK(ret == 1 && req[0]->id == 2, "new requests are", "ret %d", ret);
	if (ret == 1)
		vduse_vq_push(req[0], 1);
	vduse_dev_destroy(dev);
	fk_fini(&fk);

	/* attach without a log: resume where the used ring says */
	fk_init(&fk, 1);
	o.inflight = NULL;
	TAP_EQ(create(&o, &dev), 0, "create without a log");
	fk_map(&fk, 0, 0x100000, 0x100000, 0, VDUSE_ACCESS_RW);
	fk.features = (1ull << 32) | (1ull << 33);
	fk_split_init(&fk, &r, 0, 0, 0x100000, 8);
	fk.vqinfo[1].index = 1;
	for (i = 0; i < 4; i++)
		fk_set_desc(&fk_split_desc(&r)[i], 0x180000 + i * 16, 16, VRING_DESC_F_WRITE, 0);
	fk_status(&fk, dev, 0x0f);
	for (i = 0; i < 3; i++) {
		fk_split_publish(&r, i);
		vduse_vq_pop(vduse_dev_vq(dev, 0), &req[i]);
		vduse_vq_push(req[i], 1);
	}
	vduse_dev_close(dev);
	fk_split_publish(&r, 3);
	TAP_EQ(vduse__dev_attach(&o, &fk_backend, &fk, &dev), 0, "attach without a log");
	ret = dev ? vduse_vq_pop(vduse_dev_vq(dev, 0), &req[0]) : -1;
	TAP_OK(ret == 1 && req[0]->id == 3,
	       "resumes after the used index, not the kernel's stale avail index",
	       "ret %d id %d", ret, ret == 1 ? req[0]->id : -1);
	if (ret == 1)
		vduse_vq_push(req[0], 1);
	TAP_EQ(fk_split_used(&r)[1], 4, "no request completed twice");
	vduse_dev_destroy(dev);
	fk_fini(&fk);

	/* unknown flags are refused */
	fk_init(&fk, 1);
	o.inflight = NULL;
	o.flags = 1u << 7;
	TAP_EQ(create(&o, &dev), -EINVAL, "unknown flags refused");
	o.flags = VDUSE_DEV_F_THREADS;
	TAP_EQ(create(&o, &dev), 0, "VDUSE_DEV_F_THREADS accepted");
	vduse_dev_destroy(dev);
	o.flags = 0;
	fk_fini(&fk);

	/* attach to a v0 device; an in-flight log keeps group bindings */
	fk_init(&fk, 0);
	o.inflight = NULL;
	TAP_EQ(create(&o, &dev), 0, "create v0");
	vduse_dev_close(dev);
	TAP_EQ(vduse__dev_attach(&o, &fk_backend, &fk, &dev), 0, "attach to it");
	TAP_EQ(dev ? vduse_dev_api_version(dev) : -1, 0, "attach probed API v0");
	vduse_dev_destroy(dev);
	fk_fini(&fk);

	fk_init(&fk, 1);
	o.ngroups = 2;
	o.nas = 2;
	o.queue_group = groups;
	o.inflight = logmem;
	logsz = vduse_inflight_size(2, 64, 2);
	o.inflight_size = logsz;
	TAP_EQ(create(&o, &dev), 0, "create 2-AS device with a log");
	fk_group_asid(&fk, dev, 1, 1);
	vduse_dev_close(dev);
	TAP_EQ(vduse__dev_attach(&o, &fk_backend, &fk, &dev), 0, "attach");
	TAP_EQ(dev ? vduse_dev_group_asid(dev, 1) : -1, 1, "group 1 binding restored from the log");
	vduse_dev_close(dev);
	/* without the log (or with one that never saw it) the bindings are unknown */
	o.inflight = NULL;
	lg.last[0] = 0;
	TAP_EQ(vduse__dev_attach(&o, &fk_backend, &fk, &dev), -ENOTRECOVERABLE,
	       "2-AS device: attach without an in-flight log refused");
	TAP_OK(strstr(lg.last, "in-flight log"), "and the log says why", "%s", lg.last);
	o.inflight = logmem;
	memset(logmem, 0, logsz);
	TAP_EQ(vduse__dev_attach(&o, &fk_backend, &fk, &dev), -ENOTRECOVERABLE,
	       "2-AS device: attach with a blank in-flight log refused");
	fk.created = false;
	fk_fini(&fk);
	return tap_done();
}
