// SPDX-License-Identifier: GPL-2.0
/*
 * Queue start on attach when the in-flight log cannot be used: a log that
 * is blank, from another library version, made for another queue size, or
 * whose queue entry is blank or corrupt resumes a split ring exactly as an
 * attach without a log does, at the ring's used index: nothing the old
 * daemon completed is run again. And a resume that runs out of memory
 * (calloc wrapped: -Wl,--wrap=calloc) fails the attach and leaves the log
 * for the next one. Every attach interrupts the driver once: the old daemon
 * may have died between its pushes and its notify.
 */
#include <stdio.h>
#include "fake_kernel.h"

#define RING	0x100000ull
#define BUF	0x200000ull
#define QN	16

static struct fake_kernel fk;
static struct fk_log lg;
static struct fk_split sr;

/* With fail_resubmit set, the allocation of a queue's resubmission list fails. */
void *__real_calloc(size_t n, size_t sz);
void *__wrap_calloc(size_t n, size_t sz);
static int fail_resubmit;

void *__wrap_calloc(size_t n, size_t sz)
{
	if (fail_resubmit && n == QN && sz == sizeof(uint16_t))
		return NULL;
	return __real_calloc(n, sz);
}

/* A device on the fake kernel with queue 0's split ring of QN 64-byte buffers, started. */
static struct vduse_dev *dev_up(const struct vduse_dev_opts *o)
{
	struct vduse_dev *dev;
	int i;

	fk_init(&fk, 1);
	if (vduse__dev_create(o, &fk_backend, &fk, &dev))
		abort();
	fk_map(&fk, 0, RING, 0x100000, 0, VDUSE_ACCESS_RW);
	fk_map(&fk, 0, BUF, 0x100000, 0x100000, VDUSE_ACCESS_RW);
	fk.features = (1ull << 32) | (1ull << 33);
	fk_split_init(&fk, &sr, 0, 0, RING, QN);
	for (i = 0; i < QN; i++)
		fk_set_desc(&fk_split_desc(&sr)[i], BUF + i * 64, 64, VRING_DESC_F_WRITE, 0);
	if (fk_status(&fk, dev, 0x0f))
		abort();
	return dev;
}

enum spoil {
	NO_LOG,		/* attach without a log */
	LOG_OK,		/* the log as the old daemon left it */
	HDR_BLANK,	/* the whole header zeroed: a lost or recreated log file */
	HDR_VERSION,	/* an older library's log */
	HDR_QSIZE,	/* made for another queue size */
	VQ_BLANK,	/* the queue's entry not valid */
	VQ_FAR,		/* the queue's used index far from the ring's: ignored */
};

static const char *const spoil_name[] = {
	"no log", "the log as left", "a blank log", "a log of another version",
	"a log of another queue size", "a blank queue entry", "a corrupt queue entry",
};

/*
 * The old daemon pops and completes 3 requests, closes; the log is spoilt;
 * a new daemon attaches. Returns how many buffers it popped before the
 * driver made a new one available, and checks that the new one is popped.
 */
static int reattach(enum spoil how)
{
	LIBVDUSE_OPTS(vduse_dev_opts, o, .name = "resume", .device_id = 2, .num_queues = 1,
		      .queue_size = QN, .log = fk_logger, .user = &lg,
		      .log_level = VDUSE_LOG_ERROR);
	size_t lsz = vduse_inflight_size(1, QN, 1);
	uint8_t *logmem = calloc(1, lsz);
	struct vduse_inflight_hdr *h = (struct vduse_inflight_hdr *)logmem;
	struct vduse_dev *dev;
	struct vduse_vq *vq;
	struct vduse_req *req;
	int i, again = 0, late = 0;
	unsigned int irqs;
	char name[160];

	if (how != NO_LOG) {
		o.inflight = logmem;
		o.inflight_size = lsz;
	}
	dev = dev_up(&o);
	vq = vduse_dev_vq(dev, 0);
	for (i = 0; i < 3; i++)
		fk_split_publish(&sr, i);
	while (vduse_vq_pop(vq, &req) == 1)
		vduse_vq_push(req, 8);
	if (fk_split_used(&sr)[1] != 3)
		abort();
	vduse_dev_close(dev);
	switch (how) {
	case HDR_BLANK:
		memset(h, 0, sizeof(*h));
		break;
	case HDR_VERSION:
		h->version = 1;
		break;
	case HDR_QSIZE:
		h->queue_size = 2 * QN;
		break;
	case VQ_BLANK:
	case VQ_FAR: {
		/* the one queue's entry follows the header and the group word */
		struct vduse_inflight_vq *e = (void *)(logmem + ((sizeof(*h) + 4 + 7) & ~7ul));

		if (how == VQ_BLANK)
			e->valid = 0;
		else
			e->used = 3 + 2 * QN;
		break;
	}
	default:
		break;
	}
	/* the kernel's VQ_GET_INFO still says avail index 0 */
	irqs = fk.irqs[0];
	if (vduse__dev_attach(&o, &fk_backend, &fk, &dev))
		abort();
	/*
	 * The old daemon pushed 3 but never notified (it died before): the
	 * attach must interrupt the driver once, or an idle one waits forever.
	 */
	snprintf(name, sizeof(name), "attach with %s: one interrupt for the old daemon's "
		 "unsignalled used entries", spoil_name[how]);
	TAP_OK(irqs == 0 && fk.irqs[0] == 1, name, "%u interrupts before the attach, %u after",
	       irqs, fk.irqs[0]);
	vq = vduse_dev_vq(dev, 0);
	while (vduse_vq_pop(vq, &req) == 1) {
		again++;
		vduse_vq_push(req, 8);
	}
	fk_split_publish(&sr, 7);
	while (vduse_vq_pop(vq, &req) == 1) {
		if (req->id == 7)
			late++;
		vduse_vq_push(req, 8);
	}
	snprintf(name, sizeof(name), "attach with %s: a buffer made available afterwards "
		 "is popped once", spoil_name[how]);
	TAP_OK(late == 1 && !vduse_vq_broken(vq) && fk_split_used(&sr)[1] == 4, name,
	       "%d pops of it, broken %d (%s), used index %u", late, vduse_vq_broken(vq),
	       lg.last, fk_split_used(&sr)[1]);
	vduse_dev_destroy(dev);
	fk_fini(&fk);
	free(logmem);
	return again;
}

/*
 * 3 popped, 1 pushed; the attach's resume runs out of memory: the attach
 * fails (as it did before the queue ran with nothing to resubmit, at
 * VQ_GET_INFO's avail index 0); the next attach resubmits heads 1 and 2
 * and nothing else.
 */
static void resume_enomem(void)
{
	LIBVDUSE_OPTS(vduse_dev_opts, o, .name = "resume", .device_id = 2, .num_queues = 1,
		      .queue_size = QN, .log = fk_logger, .user = &lg,
		      .log_level = VDUSE_LOG_ERROR);
	size_t lsz = vduse_inflight_size(1, QN, 1);
	void *logmem = calloc(1, lsz);
	struct vduse_dev *dev = NULL;
	struct vduse_vq *vq;
	struct vduse_req *req, *held[3];
	int i, n, err, got = 0;

	o.inflight = logmem;
	o.inflight_size = lsz;
	dev = dev_up(&o);
	vq = vduse_dev_vq(dev, 0);
	for (i = 0; i < 3; i++) {
		fk_split_publish(&sr, i);
		if (vduse_vq_pop(vq, &held[i]) != 1)
			abort();
	}
	vduse_vq_push(held[0], 8);
	vduse_dev_close(dev);

	fail_resubmit = 1;
	dev = NULL;
	err = vduse__dev_attach(&o, &fk_backend, &fk, &dev);
	fail_resubmit = 0;
	TAP_OK(err == -ENOMEM && !dev, "attach whose resume runs out of memory fails with -ENOMEM",
	       "returned %d", err);
	if (!err) {
		/* what the old code did: the queue runs anyway */
		vq = vduse_dev_vq(dev, 0);
		while ((n = vduse_vq_pop(vq, &req)) == 1) {
			got++;
			vduse_vq_push(req, 8);
		}
		tap_diag("the queue ran after the failed resume: %d popped", got);
		vduse_dev_destroy(dev);
		TAP_OK(0, "the next attach resubmits heads 1 and 2 only", "not reached");
		goto out;
	}
	TAP_EQ(vduse__dev_attach(&o, &fk_backend, &fk, &dev), 0, "the next attach succeeds");
	vq = vduse_dev_vq(dev, 0);
	while (vduse_vq_pop(vq, &req) == 1) {
		got |= 1 << req->id;
		vduse_vq_push(req, 8);
	}
	TAP_OK(got == 6 && fk_split_used(&sr)[1] == 3,
	       "the next attach resubmits heads 1 and 2 only",
	       "heads popped %#x, used index %u", got, fk_split_used(&sr)[1]);
	vduse_dev_destroy(dev);
out:
	fk_fini(&fk);
	free(logmem);
}

int main(void)
{
	enum spoil how;

	char name[160];

	for (how = NO_LOG; how <= VQ_FAR; how++) {
		snprintf(name, sizeof(name), "attach with %s: no buffer the old daemon "
			 "completed is popped again", spoil_name[how]);
		TAP_EQ(reattach(how), 0, name);
	}
	resume_enomem();
	return tap_done();
}
