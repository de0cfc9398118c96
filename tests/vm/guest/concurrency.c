// SPDX-License-Identifier: GPL-2.0
/*
 * concurrency: races between the users of a VDUSE device, each run for a
 * bounded time, with no failure and no kernel warning allowed.
 *
 *   concurrency --impl upstream|ours [--seconds S] [SCENARIO...]
 *
 *   create    4 threads create, open, set up and destroy 8 devices each in
 *             a loop while a fifth opens and closes their fds and reads
 *             their sysfs attributes
 *   iotlb     two vhost-vdpa threads map and unmap one IOVA in AS 0 and
 *             AS 1 while two device threads resolve it with GET_FD2, mmap
 *             and read it: each AS shows only its own buffer
 *   asid      VHOST_VDPA_SET_GROUP_ASID racing a device reset (SET_STATUS
 *             0) and "vdpa dev del"
 *   close     closing the vhost-vdpa fd racing closing the device fd
 *
 * Each scenario runs S seconds (default 2; make check-long gives 60) and
 * counts its rounds; every wait is bounded. The devices are bound to
 * vhost_vdpa (the suite does not load virtio_vdpa).
 */
#define _GNU_SOURCE
#include <sys/mman.h>
#include "tap.h"
#include "robust.h"
#include "vhost_vdpa_client.h"

static enum impl impl;
static double secs = 2;
#define SLACK 15000
#define BUFSZ 65536
#define IOVA 0x100000

static volatile int stop;

/* ---- create: parallel create/destroy ------------------------------------ */

#define CR_THREADS 4
#define CR_BATCH 8

struct crt {
	pthread_t th;
	int id;
	long rounds, errors;
	char why[400];
};

static void cr_fail(struct crt *t, const char *what, const char *name)
{
	if (!t->errors++)
		snprintf(t->why, sizeof(t->why), "%s %s: %s", what, name, strerror(errno));
}

static void *cr_main(void *arg)
{
	struct crt *t = arg;
	char names[CR_BATCH][32];
	struct devcfg cfg;
	int ctl = ctl_open(), k;

	if (ctl < 0 || ctl_set_version(ctl, 1)) {
		cr_fail(t, "control fd", "");
		return NULL;
	}
	while (!__atomic_load_n(&stop, __ATOMIC_ACQUIRE)) {
		for (k = 0; k < CR_BATCH; k++) {
			snprintf(names[k], sizeof(names[k]), "cc-%d-%d", t->id, k);
			blk_cfg(&cfg, names[k], 2, 2, 2);
			if (ioctl(ctl, VDUSE_CREATE_DEV, &cfg))
				cr_fail(t, "CREATE_DEV", names[k]);
		}
		for (k = 0; k < CR_BATCH; k++) {
			struct vduse_vq_config vq = { .index = 1, .max_size = 64, .group = 1 };
			double end = now_s() + 2;
			int fd;

			/* the prowler may hold it open for a moment */
			while ((fd = dev_open(names[k])) < 0 && errno == EBUSY && now_s() < end)
				msleep_(1);
			if (fd < 0) {
				cr_fail(t, "open", names[k]);
				continue;
			}
			if (ioctl(fd, VDUSE_VQ_SETUP, &vq))
				cr_fail(t, "VQ_SETUP", names[k]);
			close(fd);
		}
		for (k = 0; k < CR_BATCH; k++)
			if (dev_destroy(ctl, names[k]))
				cr_fail(t, "DESTROY_DEV", names[k]);
		t->rounds++;
	}
	close(ctl);
	return NULL;
}

/* Opens and closes the others' device fds, reads their attributes. */
static void *cr_prowl(void *arg)
{
	long *n = arg;
	char name[32];
	unsigned int seed = 1;

	while (!__atomic_load_n(&stop, __ATOMIC_ACQUIRE)) {
		char path[300];
		int fd;

		snprintf(name, sizeof(name), "cc-%d-%d", rand_r(&seed) % CR_THREADS, rand_r(&seed) % CR_BATCH);
		snprintf(path, sizeof(path), "/dev/vduse/%s", name);
		fd = open(path, O_RDWR | O_NONBLOCK | O_CLOEXEC);
		if (fd >= 0)
			close(fd);
		sysfs_read(name, "msg_timeout");
		(*n)++;
	}
	return NULL;
}

static void sc_create(void)
{
	struct crt t[CR_THREADS];
	pthread_t prowl;
	long prowls = 0, rounds = 0;
	int i, bad = 0;

	tap_diag("---- create: %d threads x %d devices, %.0f s", CR_THREADS, CR_BATCH, secs);
	stop = 0;
	for (i = 0; i < CR_THREADS; i++) {
		memset(&t[i], 0, sizeof(t[i]));
		t[i].id = i;
		pthread_create(&t[i].th, NULL, cr_main, &t[i]);
	}
	pthread_create(&prowl, NULL, cr_prowl, &prowls);
	msleep_(secs * 1000);
	__atomic_store_n(&stop, 1, __ATOMIC_RELEASE);
	for (i = 0; i < CR_THREADS; i++) {
		pthread_join(t[i].th, NULL);
		rounds += t[i].rounds;
		if (t[i].errors) {
			bad = 1;
			tap_diag("create: thread %d: %ld errors, first: %s", i, t[i].errors, t[i].why);
		}
	}
	pthread_join(prowl, NULL);
	tap_diag("create: %ld rounds (%ld devices created and destroyed), %ld prowler opens",
		 rounds, rounds * CR_BATCH, prowls);
	TAP_OK(!bad && rounds >= CR_THREADS, "create: parallel create/open/VQ_SETUP/destroy, no error",
	       "%ld rounds, errors in some thread", rounds);
	TAP_OK(access("/dev/vduse/cc-0-0", F_OK) != 0, "create: no device left behind", NULL);
}

/* ---- a v1 blk device on vhost-vdpa, answered by a responder --------------- */

struct vd {
	const char *name;
	int ctl, fd, vh;
	struct responder r;
	char vpath[300];
};

/* NAME: 2 vqs, vq 1 alone in group 1, 2 AS; with BIND, on vhost-vdpa and opened. */
static int vd_up(struct vd *d, const char *name, int bind)
{
	struct vduse_vq_config vq;
	struct devcfg cfg;
	uint32_t i;

	memset(d, 0, sizeof(*d));
	d->name = name;
	d->fd = d->vh = -1;
	d->ctl = ctl_open();
	if (d->ctl < 0 || ctl_set_version(d->ctl, 1))
		return -1;
	blk_cfg(&cfg, name, 2, 2, 2);
	if (ioctl(d->ctl, VDUSE_CREATE_DEV, &cfg))
		return -1;
	d->fd = dev_open(name);
	for (i = 0; d->fd >= 0 && i < 2; i++) {
		memset(&vq, 0, sizeof(vq));
		vq.index = i;
		vq.max_size = 64;
		vq.group = i;
		if (ioctl(d->fd, VDUSE_VQ_SETUP, &vq))
			return -1;
	}
	if (d->fd < 0 || sysfs_write(name, "msg_timeout", "10") || responder_start(&d->r, d->fd))
		return -1;
	if (!bind)
		return 0;
	if (vdpa_add(name) || vhost_path(name, d->vpath, sizeof(d->vpath)))
		return -1;
	d->vh = vh_open(d->vpath);
	return d->vh < 0 ? -1 : 0;
}

static int vd_down(struct vd *d)
{
	int r = 0;

	if (d->vh >= 0)
		close(d->vh);
	if (vdpa_exists(d->name))
		r |= run_cmd("timeout 30 vdpa dev del %s", d->name);
	responder_stop(&d->r);
	if (d->fd >= 0)
		close(d->fd);
	r |= dev_destroy(d->ctl, d->name);
	close(d->ctl);
	return r ? -1 : 0;
}

static void *memfd_buf(int fill)
{
	void *p = MAP_FAILED;
	int fd = memfd_create("concurrency", 0);

	if (fd >= 0 && ftruncate(fd, BUFSZ) == 0)
		p = mmap(NULL, BUFSZ, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (fd >= 0)
		close(fd);
	if (p == MAP_FAILED)
		return NULL;
	memset(p, fill, BUFSZ);
	return p;
}

/* ---- iotlb: set_map on two ASIDs against GET_FD2 + mmap ------------------- */

struct mapper {
	pthread_t th;
	struct vd *d;
	uint32_t asid;
	void *buf;
	long rounds, errors;
	int err;
};

static void *mapper_main(void *arg)
{
	struct mapper *m = arg;

	while (!__atomic_load_n(&stop, __ATOMIC_ACQUIRE)) {
		if (vh_iotlb(m->d->vh, m->asid, VHOST_IOTLB_UPDATE, IOVA, BUFSZ, m->buf,
			     VHOST_ACCESS_RW) != sizeof(struct vhost_msg_v2) ||
		    vh_iotlb(m->d->vh, m->asid, VHOST_IOTLB_INVALIDATE, IOVA, BUFSZ, NULL, 0) !=
			    sizeof(struct vhost_msg_v2)) {
			m->errors++;
			m->err = errno;
		}
		m->rounds++;
	}
	return NULL;
}

struct looker {
	pthread_t th;
	struct vd *d;
	uint32_t asid;
	uint8_t fill;
	long found, absent, wrong, errors;
	int err;
};

static void *looker_main(void *arg)
{
	struct looker *l = arg;

	while (!__atomic_load_n(&stop, __ATOMIC_ACQUIRE)) {
		struct vduse_iotlb_entry_v2 e;
		volatile uint8_t *p;
		size_t len;
		int gfd;

		memset(&e, 0, sizeof(e));
		e.start = e.last = IOVA;
		e.asid = l->asid;
		gfd = ioctl(l->d->fd, VDUSE_IOTLB_GET_FD2, &e);
		if (gfd < 0) {
			if (errno == EINVAL) {
				l->absent++;
			} else {
				l->errors++;
				l->err = errno;
			}
			continue;
		}
		len = e.last - e.start + 1;
		p = mmap(NULL, len, PROT_READ, MAP_SHARED, gfd, e.offset);
		close(gfd);
		if (p == MAP_FAILED) {
			l->errors++;
			l->err = errno;
			continue;
		}
		/* the memfd pages outlive the unmap: the data is still this AS's */
		if (p[IOVA - e.start] != l->fill || p[IOVA - e.start + BUFSZ - 1] != l->fill)
			l->wrong++;
		else
			l->found++;
		munmap((void *)p, len);
	}
	return NULL;
}

static void sc_iotlb(void)
{
	struct mapper m[2];
	struct looker l[2];
	struct vd d;
	int i, ok;

	tap_diag("---- iotlb: set_map on AS 0 and AS 1 against GET_FD2 + mmap, %.0f s", secs);
	if (vd_up(&d, "cc-as", 1)) {
		TAP_OK(0, "iotlb: set-up", "%s", strerror(errno));
		vd_down(&d);
		return;
	}
	stop = 0;
	for (i = 0; i < 2; i++) {
		memset(&m[i], 0, sizeof(m[i]));
		memset(&l[i], 0, sizeof(l[i]));
		m[i].d = l[i].d = &d;
		m[i].asid = l[i].asid = i;
		l[i].fill = 0xa0 + i;
		m[i].buf = memfd_buf(l[i].fill);
		pthread_create(&m[i].th, NULL, mapper_main, &m[i]);
		pthread_create(&l[i].th, NULL, looker_main, &l[i]);
	}
	msleep_(secs * 1000);
	__atomic_store_n(&stop, 1, __ATOMIC_RELEASE);
	for (i = 0; i < 2; i++) {
		pthread_join(m[i].th, NULL);
		pthread_join(l[i].th, NULL);
		tap_diag("iotlb: AS %d: %ld map/unmap rounds (%ld failed, last %s); device: %ld found, "
			 "%ld absent, %ld wrong data, %ld errors (last %s)", i, m[i].rounds, m[i].errors,
			 strerror(m[i].err), l[i].found, l[i].absent, l[i].wrong, l[i].errors,
			 strerror(l[i].err));
	}
	ok = m[0].rounds && m[1].rounds && !m[0].errors && !m[1].errors;
	TAP_OK(ok, "iotlb: every UPDATE and INVALIDATE on both ASIDs succeeds", "see above");
	TAP_OK(!l[0].wrong && !l[1].wrong && !l[0].errors && !l[1].errors,
	       "iotlb: GET_FD2 finds each AS's own buffer or nothing, never the other's", "see above");
	TAP_OK(l[0].found + l[1].found > 0, "iotlb: the device did see the mappings", "never found");
	TAP_EQ(vd_down(&d), 0, "iotlb: vdpa dev del, DESTROY_DEV");
}

/* ---- asid: SET_GROUP_ASID against reset and vdpa dev del ----------------- */

struct racer {
	pthread_t th;
	int vh, kind;
	long rounds, errors;
	int err;
	int stop;	/* __atomic */
};

static void *racer_main(void *arg)
{
	struct racer *r = arg;
	unsigned int i = 0;

	while (!__atomic_load_n(&r->stop, __ATOMIC_ACQUIRE)) {
		int ret;

		if (r->kind == 0)
			ret = vh_set_group_asid(r->vh, 1, i & 1);
		else
			ret = vh_set_status(r->vh, i & 1 ? VIRTIO_CONFIG_S_ACKNOWLEDGE : 0);
		if (ret) {
			r->errors++;
			r->err = errno;
		}
		r->rounds++;
		i++;
	}
	return NULL;
}

static long do_del(void *name)
{
	return run_cmd("vdpa dev del %s", (const char *)name);
}

static void sc_asid(void)
{
	struct racer rc[2];
	struct vd d;
	double end;
	long rounds[2] = { 0, 0 }, errors[2] = { 0, 0 };
	struct acall del;
	int cycles = 0, bad = 0, i, ev;

	tap_diag("---- asid: SET_GROUP_ASID against reset and vdpa dev del, %.0f s", secs);
	if (vd_up(&d, "cc-rs", 0)) {
		TAP_OK(0, "asid: set-up", "%s", strerror(errno));
		vd_down(&d);
		return;
	}
	end = now_s() + secs;
	do {
		if (vdpa_add(d.name) || vhost_path(d.name, d.vpath, sizeof(d.vpath)) ||
		    (d.vh = vh_open(d.vpath)) < 0) {
			TAP_OK(0, "asid: vdpa dev add, vhost-vdpa opens", "cycle %d: %s", cycles, strerror(errno));
			bad = 1;
			break;
		}
		for (i = 0; i < 2; i++) {
			memset(&rc[i], 0, sizeof(rc[i]));
			rc[i].vh = d.vh;
			rc[i].kind = i;
			pthread_create(&rc[i].th, NULL, racer_main, &rc[i]);
		}
		msleep_(200);
		acall_start(&del, do_del, (void *)d.name);
		msleep_(100 + cycles % 5 * 50);
		for (i = 0; i < 2; i++) {
			__atomic_store_n(&rc[i].stop, 1, __ATOMIC_RELEASE);
			pthread_join(rc[i].th, NULL);
			rounds[i] += rc[i].rounds;
			errors[i] += rc[i].errors;
			if (rc[i].errors)
				tap_diag("asid: cycle %d: %s: %ld of %ld failed, last %s", cycles,
					 i ? "SET_STATUS" : "SET_GROUP_ASID", rc[i].errors, rc[i].rounds,
					 strerror(rc[i].err));
		}
		close(d.vh);
		d.vh = -1;
		if (acall_wait(&del, SLACK) || del.ret || vdpa_exists(d.name)) {
			TAP_OK(0, "asid: vdpa dev del completes", "cycle %d: %s", cycles,
			       del.done ? "failed" : "still running");
			bad = 1;
			break;
		}
		cycles++;
	} while (now_s() < end);
	tap_diag("asid: %d cycles, %ld SET_GROUP_ASID (%ld failed), %ld SET_STATUS (%ld failed)",
		 cycles, rounds[0], errors[0], rounds[1], errors[1]);
	TAP_OK(!bad && cycles > 0 && rounds[0] > 0 && rounds[1] > 0,
	       "asid: SET_GROUP_ASID, reset and vdpa dev del race without a hang", "%d cycles", cycles);
	TAP_OK(!errors[0] && !errors[1], "asid: every SET_GROUP_ASID and SET_STATUS succeeds",
	       "%ld and %ld failed", errors[0], errors[1]);
	responder_pause(&d.r);
	ev = poll_wait(d.fd, POLLIN, 0);
	TAP_OK(!(ev & POLLERR), "asid: the device is not broken", "revents 0x%x", ev);
	responder_resume(&d.r, d.fd);
	TAP_EQ(vd_down(&d), 0, "asid: DESTROY_DEV");
}

/* ---- close: vhost-vdpa close against device fd close ---------------------- */

struct closer {
	pthread_t th;
	int fd;
	int *go;
	int done;	/* __atomic */
};

static void *closer_main(void *arg)
{
	struct closer *c = arg;

	while (!__atomic_load_n(c->go, __ATOMIC_ACQUIRE))
		;
	close(c->fd);
	__atomic_store_n(&c->done, 1, __ATOMIC_RELEASE);
	return NULL;
}

static int closer_wait(struct closer *c, int ms)
{
	double end = now_s() + ms / 1000.0;

	while (!__atomic_load_n(&c->done, __ATOMIC_ACQUIRE)) {
		if (now_s() > end)
			return -1;
		msleep_(1);
	}
	pthread_join(c->th, NULL);
	return 0;
}

static void sc_close(void)
{
	struct closer cv, cd;
	void *buf = memfd_buf(0x33);
	struct vd d;
	double end;
	int cycles = 0, bad = 0, go, ev;

	tap_diag("---- close: vhost-vdpa close against device fd close, %.0f s", secs);
	end = now_s() + secs;
	do {
		if (vd_up(&d, "cc-cl", 1) || vh_map(d.vh, 0, IOVA, BUFSZ, buf, VHOST_ACCESS_RW) ||
		    vh_map(d.vh, 1, IOVA, BUFSZ, buf, VHOST_ACCESS_RO) ||
		    vh_set_group_asid(d.vh, 1, 1)) {
			TAP_OK(0, "close: set-up with maps in AS 0 and AS 1", "cycle %d: %s", cycles,
			       strerror(errno));
			vd_down(&d);
			bad = 1;
			break;
		}
		go = 0;
		memset(&cv, 0, sizeof(cv));
		memset(&cd, 0, sizeof(cd));
		cv.fd = d.vh;
		cd.fd = d.fd;
		cv.go = cd.go = &go;
		pthread_create(&cv.th, NULL, closer_main, &cv);
		pthread_create(&cd.th, NULL, closer_main, &cd);
		__atomic_store_n(&go, 1, __ATOMIC_RELEASE);
		d.vh = -1;
		if (closer_wait(&cd, SLACK)) {
			TAP_OK(0, "close: the device fd's close returns", "cycle %d", cycles);
			bad = 1;
			break;
		}
		/* a new daemon takes over and answers what vhost-vdpa's release sent */
		responder_pause(&d.r);
		d.fd = dev_open(d.name);
		responder_resume(&d.r, d.fd);
		if (d.fd < 0 || closer_wait(&cv, SLACK)) {
			TAP_OK(0, "close: the device reopens and vhost-vdpa's close returns", "cycle %d: %s",
			       cycles, strerror(errno));
			bad = 1;
			break;
		}
		responder_pause(&d.r);
		ev = poll_wait(d.fd, POLLIN, 0);
		responder_resume(&d.r, d.fd);
		if (ev & POLLERR) {
			TAP_OK(0, "close: the device is not broken", "cycle %d", cycles);
			bad = 1;
		}
		if (vd_down(&d)) {
			TAP_OK(0, "close: vdpa dev del, DESTROY_DEV", "cycle %d", cycles);
			bad = 1;
			break;
		}
		cycles++;
	} while (now_s() < end);
	tap_diag("close: %d cycles", cycles);
	TAP_OK(!bad && cycles > 0, "close: both closes return, the device survives and goes", "%d cycles",
	       cycles);
}

int main(int argc, char **argv)
{
	const char *only[8];
	int i, n = 0;

	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--impl") && i + 1 < argc && !impl_parse(argv[i + 1], &impl))
			i++;
		else if (!strcmp(argv[i], "--seconds") && i + 1 < argc)
			secs = atof(argv[++i]);
		else if (argv[i][0] != '-' && n < 8)
			only[n++] = argv[i];
		else {
			fprintf(stderr, "usage: concurrency --impl upstream|ours [--seconds S] [SCENARIO...]\n");
			return 2;
		}
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (virtio_vdpa_loaded()) {
		TAP_OK(0, "concurrency: virtio_vdpa must not be loaded", NULL);
		return tap_done();
	}
#define WANT(s) (!n || ({ int w_ = 0; for (int j_ = 0; j_ < n; j_++) w_ |= !strcmp(only[j_], s); w_; }))
	if (WANT("create"))
		sc_create();
	if (WANT("iotlb"))
		sc_iotlb();
	if (WANT("asid"))
		sc_asid();
	if (WANT("close"))
		sc_close();
	return tap_done();
}
