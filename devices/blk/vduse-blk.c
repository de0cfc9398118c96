// SPDX-License-Identifier: GPL-2.0
/*
 * vduse-blk: a virtio-blk device backed by a file or a block device, served
 * through VDUSE with libvduse. See vduse-blk(8) and docs/vduse-blk.md.
 *
 * Structure: one context per queue (struct blkq) with its own io_uring,
 * completion eventfd and thread (libvduse's VDUSE_DEV_F_THREADS); the main
 * thread answers the kernel's messages and the signals. Without io_uring
 * (--no-io-uring, or a kernel that refuses it) a queue's thread executes its
 * requests synchronously.
 */
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <linux/fs.h>
#include <linux/virtio_config.h>
#include <linux/virtio_ring.h>
#include <liburing.h>
#include "blk_req.h"

/* the project's version (Makefile's VDUSE_ASID_VERSION), for --version */
#ifndef VDUSE_ASID_VERSION
#error "build with -DVDUSE_ASID_VERSION=\"X.Y.Z\" (devices/blk/blk.mk does)"
#endif
#define VERSION		VDUSE_ASID_VERSION
#define MAX_QUEUES	64
/*
 * One preadv/pwritev per request: keep a request's segments under IOV_MAX
 * (io_uring refuses a readv/writev of more than UIO_MAXIOV). Offered as
 * seg_max; blk_cmd_parse() refuses a request with more.
 */
#define MAX_SEG		510

/* One request being executed. Aligned so that user_data has tag bits. */
struct blk_io {
	struct blkq *q;
	struct blk_io *next;		/* the queue's done list */
	struct vduse_req *req;
	unsigned int pending;		/* SQEs not completed yet */
	int err;			/* first error */
	bool synced;			/* write-through write-zeroes: fdatasync queued */
	struct blk_cmd cmd;
	struct iovec iov[];		/* cmd.iov */
};
#define IO_ALIGN	64		/* user_data = io | tag, tag < IO_ALIGN */
#define TAG_RW		0		/* read, write or flush */
#define TAG_RANGE	1		/* range i has tag TAG_RANGE + i */
#define TAG_SYNC	(IO_ALIGN - 1)	/* the fdatasync of a write-through write-zeroes */

/*
 * A queue, served by its own thread (libvduse's VDUSE_DEV_F_THREADS). @mtx
 * guards the io_uring and the request accounting; it is never held across a
 * libvduse call, because the message thread runs on_stopped() with the
 * library's lock held and takes @mtx to drain the queue.
 */
struct blkq {
	struct blkd *bd;
	unsigned int index;
	struct vduse_vq *vq;
	pthread_t thread;
	bool thread_running;
	int wake_efd;			/* resubmissions to pop, or exit */
	pthread_mutex_t mtx;
	bool uring;
	struct io_uring ring;
	int efd;			/* io_uring completions */
	unsigned int inflight;		/* requests being executed */
	bool unsubmitted;		/* SQEs prepared, not taken by the kernel */
	struct blk_io *done;		/* executed, to push (outside @mtx) */
	/*
	 * Odd while the queue is started: bumped by on_queue_ready() and
	 * on_stopped(), both under the library's lock, so a pop can be placed
	 * before or after a reset (a request popped before it is stale).
	 */
	unsigned int gen;
	bool broken_logged;
};

/*
 * RUNNING; BINDING_STOP: a stop signal came while --bind's vdpa dev add was
 * under way, serving until it ends (then UNBINDING, or FINISHING if it
 * failed); UNBINDING: vdpa dev del under way, serving until it ends;
 * FINISHING: leave the loop.
 */
enum state { RUNNING, BINDING_STOP, UNBINDING, FINISHING };

struct blkd {
	const char *name;
	const char *path;
	struct vduse_dev *dev;
	struct blk_disk disk;
	struct blk_file file;
	bool writethrough;		/* --writethrough */
	bool verbose, quiet;
	unsigned int nq;
	struct blkq q[MAX_QUEUES];
	enum state state;
	bool stop_threads;
	int unbind_efd;			/* the vdpa dev del thread is done */
	int unbind_err;
	pthread_t unbind_thread;
	const char *bind_driver;	/* --bind: vdpa dev add from bind_thread */
	int bind_efd;
	int bind_err;
	pthread_t bind_thread;
	unsigned long io_errors;
	unsigned long ops[BLK_OP_WRITE_ZEROES + 1];	/* requests by kind */
};

static struct blkd *g_bd;	/* for msg() only */

__attribute__((format(printf, 2, 3)))
static void msg(int level, const char *fmt, ...)
{
	va_list ap;

	if (level == VDUSE_LOG_DEBUG && !(g_bd && g_bd->verbose))
		return;
	if (level >= VDUSE_LOG_INFO && g_bd && g_bd->quiet)
		return;
	fprintf(stderr, "vduse-blk%s%s%s: %s", g_bd && g_bd->name ? "[" : "",
		g_bd && g_bd->name ? g_bd->name : "", g_bd && g_bd->name ? "]" : "",
		level == VDUSE_LOG_ERROR ? "error: " : level == VDUSE_LOG_WARN ? "warning: " : "");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static void lib_log(void *user, enum vduse_log_level level, const char *m)
{
	msg(level, "libvduse: %s", m);
}

/* ---- requests ------------------------------------------------------------ */

/* @io has been executed: on the done list (q->mtx held). */
static void io_done(struct blk_io *io)
{
	struct blkq *q = io->q;

	if (io->err) {
		io->cmd.status = VIRTIO_BLK_S_IOERR;
		if (__atomic_fetch_add(&q->bd->io_errors, 1, __ATOMIC_RELAXED) < 10)
			msg(VDUSE_LOG_WARN, "queue %u: I/O error on %s: %s", q->index, q->bd->path,
			    strerror(-io->err));
	}
	q->inflight--;
	io->next = q->done;
	q->done = io;
}

static void io_finish(struct blk_io *io);

/*
 * Run the part of a request an SQE describes now, synchronously, as if the
 * SQE had completed (q->mtx held): for an SQE the kernel will never see.
 */
static void sqe_exec_sync(struct blkq *q, uint64_t data)
{
	struct blk_io *io = (struct blk_io *)(uintptr_t)(data & ~(uint64_t)(IO_ALIGN - 1));
	unsigned int tag = data & (IO_ALIGN - 1);
	struct blk_cmd *c = &io->cmd;
	int err;

	if (tag == TAG_RW) {
		blk_cmd_exec_sync(&q->bd->file, c);
	} else if (tag == TAG_SYNC) {
		if (fdatasync(q->bd->file.fd) && !io->err)
			io->err = -errno;
	} else {
		err = tag - TAG_RANGE < c->nrange ?
		      blk_range_exec_sync(&q->bd->file, c->op, &c->range[tag - TAG_RANGE], c->unmap) :
		      -EIO;
		if (err && !io->err)
			io->err = err;
	}
	if (!--io->pending)
		io_finish(io);
}

/*
 * Take back the SQEs the kernel has not consumed and run them synchronously
 * (q->mtx held). Without SQPOLL the kernel reads the SQ ring's tail only in
 * io_uring_enter(), so moving it back to the head withdraws them. Their
 * user data is copied out first: running them can queue new SQEs (a
 * write-zeroes' fdatasync) into the freed slots.
 */
static void q_unqueue(struct blkq *q)
{
	struct io_uring_sq *sq = &q->ring.sq;
	unsigned int head = *sq->khead, n = sq->sqe_tail - head, i;
	uint64_t data[n];

	for (i = 0; i < n; i++)
		data[i] = sq->sqes[sq->array[(head + i) & sq->ring_mask]].user_data;
	io_uring_smp_store_release(sq->ktail, head);
	sq->sqe_head = head;
	sq->sqe_tail = head;
	for (i = 0; i < n; i++)
		sqe_exec_sync(q, data[i]);
}

/*
 * Submit the prepared SQEs (q->mtx held). io_uring_submit() can take fewer
 * than were queued: the kernel stops after an SQE it refuses at prep time
 * (that one gets a CQE with the error, which fails its request), and the
 * rest stay in the SQ ring, so it is called again until the ring is empty.
 * -EAGAIN and -EBUSY (short of memory, completions to reap first) leave
 * them queued with q->unsubmitted set: the queue's thread retries after
 * reaping, and polls with a timeout meanwhile. Any other error means this
 * ring submits nothing: its SQEs are run synchronously instead, so that no
 * request waits for an SQE the kernel never sees.
 */
static void q_submit(struct blkq *q)
{
	int ret;

	while (io_uring_sq_ready(&q->ring)) {
		ret = io_uring_submit(&q->ring);
		if (ret > 0 || ret == -EINTR)
			continue;
		if (ret == -EAGAIN || ret == -EBUSY)
			break;
		msg(VDUSE_LOG_ERROR, "queue %u: io_uring submission: %s; executing its %u queued operations synchronously",
		    q->index, ret ? strerror(-ret) : "nothing taken", io_uring_sq_ready(&q->ring));
		q_unqueue(q);
	}
	q->unsubmitted = io_uring_sq_ready(&q->ring) > 0;
}

/* Take the done list (q->mtx held); push it with q_push() after unlocking. */
static struct blk_io *q_take_done(struct blkq *q)
{
	struct blk_io *l;

	if (q->unsubmitted)
		q_submit(q);	/* may complete requests: before taking the list */
	l = q->done;
	q->done = NULL;
	return l;
}

/* Push executed requests and notify the driver once (q->mtx not held). */
static void q_push(struct blkq *q, struct blk_io *l)
{
	struct blk_io *io;
	int ret;

	if (!l)
		return;
	while ((io = l)) {
		l = io->next;
		ret = vduse_vq_push(io->req, blk_cmd_complete(io->req, &io->cmd));
		/* -ESTALE: executed before a reset, the driver has forgotten it */
		if (ret && ret != -ESTALE)
			msg(VDUSE_LOG_WARN, "queue %u: push: %s", q->index, strerror(-ret));
		free(io);
	}
	vduse_vq_notify(q->vq);
}

static struct io_uring_sqe *get_sqe(struct blkq *q)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&q->ring);

	if (!sqe) {
		q_submit(q);
		sqe = io_uring_get_sqe(&q->ring);
	}
	if (sqe)
		q->unsubmitted = true;
	return sqe;
}

/* Queue (the rest of) a read or write, or a flush. */
static int submit_rw(struct blk_io *io)
{
	struct blkq *q = io->q;
	struct blk_cmd *c = &io->cmd;
	struct io_uring_sqe *sqe = get_sqe(q);

	if (!sqe)
		return -EBUSY;
	if (c->op == BLK_OP_READ)
		io_uring_prep_readv(sqe, q->bd->file.fd, c->iov, c->niov, c->off);
	else if (c->op == BLK_OP_WRITE)
		io_uring_prep_writev2(sqe, q->bd->file.fd, c->iov, c->niov, c->off,
				      q->bd->file.rw_flags);
	else
		io_uring_prep_fsync(sqe, q->bd->file.fd, IORING_FSYNC_DATASYNC);
	io_uring_sqe_set_data64(sqe, (uintptr_t)io | TAG_RW);
	io->pending++;
	return 0;
}

static int submit_range(struct blk_io *io, unsigned int i, int mode)
{
	struct io_uring_sqe *sqe = get_sqe(io->q);

	if (!sqe)
		return -EBUSY;
	io_uring_prep_fallocate(sqe, io->q->bd->file.fd, mode, io->cmd.range[i].off,
				io->cmd.range[i].len);
	io_uring_sqe_set_data64(sqe, (uintptr_t)io | (TAG_RANGE + i));
	io->pending++;
	return 0;
}

static int submit_sync(struct blk_io *io)
{
	struct io_uring_sqe *sqe = get_sqe(io->q);

	if (!sqe)
		return -EBUSY;
	io_uring_prep_fsync(sqe, io->q->bd->file.fd, IORING_FSYNC_DATASYNC);
	io_uring_sqe_set_data64(sqe, (uintptr_t)io | TAG_SYNC);
	io->pending++;
	return 0;
}

/*
 * Every part of @io has run (q->mtx held). In write-through mode a
 * write-zeroes must be stable before it completes, as in
 * blk_cmd_exec_sync(): an fdatasync after its ranges (whichever way each
 * ran: fallocate on the ring, or a synchronous fallback), queued on the
 * ring or, without room, run now; @io completes when it does.
 */
static void io_finish(struct blk_io *io)
{
	const struct blk_file *f = &io->q->bd->file;

	if (io->cmd.op == BLK_OP_WRITE_ZEROES && !io->synced && !io->err &&
	    io->cmd.status == VIRTIO_BLK_S_OK &&
	    (__atomic_load_n(&f->rw_flags, __ATOMIC_RELAXED) & RWF_DSYNC)) {
		io->synced = true;
		if (!submit_sync(io))
			return;
		if (fdatasync(f->fd))
			io->err = -errno;
	}
	io_done(io);
}

/* Start @io on the queue's io_uring; parts that find no room run now. */
static void io_start_uring(struct blk_io *io)
{
	struct blk_cmd *c = &io->cmd;
	const struct blk_file *f = &io->q->bd->file;
	unsigned int i;
	int mode, err;

	io->pending++;		/* held until everything is queued */
	switch (c->op) {
	case BLK_OP_READ:
	case BLK_OP_WRITE:
	case BLK_OP_FLUSH:
		if (submit_rw(io))
			blk_cmd_exec_sync(f, c);
		break;
	case BLK_OP_DISCARD:
	case BLK_OP_WRITE_ZEROES:
		mode = blk_range_falloc_mode(f, c->op, c->unmap);
		for (i = 0; i < c->nrange; i++) {
			if (mode >= 0 && !submit_range(io, i, mode))
				continue;
			err = blk_range_exec_sync(f, c->op, &c->range[i], c->unmap);
			if (err && !io->err)
				io->err = err;
		}
		break;
	default:
		break;
	}
	if (!--io->pending)
		io_finish(io);
}

static void io_complete_cqe(struct blkq *q, struct io_uring_cqe *cqe)
{
	uint64_t data = io_uring_cqe_get_data64(cqe);
	struct blk_io *io = (struct blk_io *)(uintptr_t)(data & ~(uint64_t)(IO_ALIGN - 1));
	unsigned int tag = data & (IO_ALIGN - 1);
	struct blk_cmd *c = &io->cmd;
	int res = cqe->res;

	io->pending--;
	if (tag == TAG_RW) {
		if (res == -EAGAIN || res == -EINTR) {
			if (!submit_rw(io))
				return;
			blk_cmd_exec_sync(&q->bd->file, c);
		} else if (res < 0) {
			io->err = res;
		} else if (c->op != BLK_OP_FLUSH && (uint64_t)res < c->len) {
			/* short transfer: go on with the rest */
			uint64_t r = res;

			if (!res) {
				io->err = -EIO;	/* the file shrank under us */
				goto out;
			}
			c->off += r;
			c->len -= r;
			while (c->niov && r >= c->iov->iov_len) {
				r -= c->iov->iov_len;
				c->iov++;
				c->niov--;
			}
			if (c->niov) {
				c->iov->iov_base = (uint8_t *)c->iov->iov_base + r;
				c->iov->iov_len -= r;
			}
			if (!submit_rw(io))
				return;
			blk_cmd_exec_sync(&q->bd->file, c);
		}
	} else if (tag == TAG_SYNC) {
		if (res == -EAGAIN || res == -EINTR) {
			if (!submit_sync(io))
				return;
			res = fdatasync(q->bd->file.fd) ? -errno : 0;
		}
		if (res < 0 && !io->err)
			io->err = res;
	} else if (res < 0) {
		/* ranges: the blocking path has the fallbacks (no ZERO_RANGE on tmpfs...) */
		unsigned int i = tag - TAG_RANGE;
		int err = i < c->nrange ? blk_range_exec_sync(&q->bd->file, c->op, &c->range[i],
							      c->unmap) : -EIO;

		if (err && !io->err)
			io->err = err;
	}
out:
	if (!io->pending)
		io_finish(io);
}

/* Completions of @q's io_uring (q->mtx held). */
static void q_reap_locked(struct blkq *q)
{
	struct io_uring_cqe *cqe;
	uint64_t v;

	if (!q->uring)
		return;
	if (read(q->efd, &v, sizeof(v)) < 0 && errno != EAGAIN)
		msg(VDUSE_LOG_WARN, "queue %u: eventfd: %s", q->index, strerror(errno));
	while (io_uring_peek_cqe(&q->ring, &cqe) == 0) {
		io_complete_cqe(q, cqe);
		io_uring_cqe_seen(&q->ring, cqe);
	}
}

static void q_reap(struct blkq *q)
{
	struct blk_io *l;

	pthread_mutex_lock(&q->mtx);
	q_reap_locked(q);
	l = q_take_done(q);
	pthread_mutex_unlock(&q->mtx);
	q_push(q, l);
}

/*
 * Wait for every request of @q to complete and push it: reset (from the
 * message thread, in on_stopped(), while the rings are still mapped) and
 * exit (the queue threads are gone).
 */
static void q_drain(struct blkq *q)
{
	struct io_uring_cqe *cqe;
	struct blk_io *l;
	int ret;

	pthread_mutex_lock(&q->mtx);
	if (q->gen & 1)
		__atomic_store_n(&q->gen, q->gen + 1, __ATOMIC_RELEASE);
	while (q->uring && q->inflight) {
		if (q->unsubmitted)
			q_submit(q);
		if (!q->inflight)
			break;
		if (q->unsubmitted) {
			/* the kernel takes no SQE now: reap, or wait a little and retry */
			if (io_uring_peek_cqe(&q->ring, &cqe)) {
				nanosleep(&(struct timespec){ 0, 10 * 1000 * 1000 }, NULL);
				continue;
			}
			ret = 0;
		} else {
			ret = io_uring_wait_cqe(&q->ring, &cqe);
		}
		if (ret == -EINTR)
			continue;
		if (ret) {
			msg(VDUSE_LOG_ERROR, "queue %u: waiting for I/O: %s", q->index, strerror(-ret));
			break;
		}
		io_complete_cqe(q, cqe);
		io_uring_cqe_seen(&q->ring, cqe);
	}
	l = q_take_done(q);
	pthread_mutex_unlock(&q->mtx);
	q_push(q, l);
}

static void drain_all(struct blkd *bd)
{
	unsigned int i;

	for (i = 0; i < bd->nq; i++)
		q_drain(&bd->q[i]);
}

/*
 * Start a popped request (q->mtx held). Returns false when out of memory:
 * the status byte is IOERR already, and the caller pushes the request after
 * unlocking (a library call), so the driver is not left waiting.
 */
static bool q_start(struct blkq *q, struct vduse_req *req, const struct blk_disk *disk)
{
	struct blkd *bd = q->bd;
	struct blk_io *io;
	size_t sz;

	sz = sizeof(*io) + (req->nr_readable + req->nr_writable) * sizeof(struct iovec);
	io = aligned_alloc(IO_ALIGN, (sz + IO_ALIGN - 1) & ~(size_t)(IO_ALIGN - 1));
	if (!io) {
		/* answer it anyway, so the driver is not left waiting */
		struct blk_cmd c = { .status = VIRTIO_BLK_S_IOERR };

		vduse_req_write(req, req->writable_len - 1, &c.status, req->writable_len ? 1 : 0);
		msg(VDUSE_LOG_ERROR, "queue %u: out of memory; a request is answered IOERR", q->index);
		return false;
	}
	io->q = q;
	io->req = req;
	io->pending = 0;
	io->err = 0;
	io->synced = false;
	q->inflight++;
	if (blk_cmd_parse(disk, req, &io->cmd, io->iov)) {
		msg(VDUSE_LOG_WARN, "queue %u: request without header or status byte", q->index);
		io_done(io);
		return true;
	}
	__atomic_fetch_add(&bd->ops[io->cmd.op], 1, __ATOMIC_RELAXED);
	if (io->cmd.op == BLK_OP_NONE) {
		io_done(io);
	} else if (q->uring) {
		io_start_uring(io);
	} else {
		blk_cmd_exec_sync(&bd->file, &io->cmd);
		io_done(io);
	}
	return true;
}

/*
 * The started period a pop that returned requests fell in, from q->gen read
 * before and after it (odd while started), or 0 if it cannot be told (two
 * resets during one pop).
 */
static unsigned int pop_gen(unsigned int before, unsigned int after)
{
	if (after & 1)
		return after - before <= 1 ? after : 0;
	return after - before == 1 ? before : 0;
}

#define POP_BATCH	32

/* Pop and start everything the driver made available on @q (its thread). */
static void q_kick(struct blkq *q)
{
	struct vduse_req *reqs[POP_BATCH], *drop[POP_BATCH], *fail[POP_BATCH];
	struct blk_disk disk;
	struct blk_io *l;
	unsigned int before, after, g;
	int n, i, ndrop, nfail, ret;

	for (;;) {
		before = __atomic_load_n(&q->gen, __ATOMIC_ACQUIRE);
		n = vduse_vq_pop_many(q->vq, reqs, POP_BATCH);
		after = __atomic_load_n(&q->gen, __ATOMIC_ACQUIRE);
		if (n <= 0)
			break;
		g = pop_gen(before, after);
		disk = q->bd->disk;
		disk.size = __atomic_load_n(&q->bd->disk.size, __ATOMIC_RELAXED);
		ndrop = nfail = 0;
		pthread_mutex_lock(&q->mtx);
		if (!g || g != q->gen) {
			/*
			 * Popped before a reset that on_stopped() has drained
			 * already: the driver has forgotten them, and their
			 * buffers must not be written any more.
			 */
			for (i = 0; i < n; i++)
				drop[ndrop++] = reqs[i];
		} else {
			for (i = 0; i < n; i++)
				if (!q_start(q, reqs[i], &disk))
					fail[nfail++] = reqs[i];
		}
		l = q_take_done(q);
		pthread_mutex_unlock(&q->mtx);
		for (i = 0; i < ndrop; i++)
			vduse_req_free(drop[i]);
		for (i = 0; i < nfail; i++) {
			ret = vduse_vq_push(fail[i], fail[i]->writable_len ? 1 : 0);
			if (ret && ret != -ESTALE)
				msg(VDUSE_LOG_WARN, "queue %u: push: %s", q->index, strerror(-ret));
		}
		if (nfail && !l)
			vduse_vq_notify(q->vq);
		q_push(q, l);
	}
	if (n < 0 && !q->broken_logged) {
		q->broken_logged = true;
		msg(VDUSE_LOG_ERROR, "queue %u: %s; the queue stays stopped until the driver resets it",
		    q->index, strerror(-n));
	}
}

/* A queue's thread: its kick fd, its io_uring completions, its wake fd. */
static void *q_thread(void *arg)
{
	struct blkq *q = arg;
	struct pollfd p[3] = {
		{ .fd = vduse_vq_kick_fd(q->vq), .events = POLLIN },
		{ .fd = q->wake_efd, .events = POLLIN },
		{ .fd = q->uring ? q->efd : -1, .events = POLLIN },
	};
	uint64_t v;
	bool retry;
	int ret;

	for (;;) {
		/* SQEs the kernel could not take yet (q_submit()): retry soon */
		pthread_mutex_lock(&q->mtx);
		retry = q->unsubmitted;
		pthread_mutex_unlock(&q->mtx);
		ret = poll(p, 3, retry ? 10 : -1);
		if (ret < 0) {
			if (errno == EINTR)
				continue;
			msg(VDUSE_LOG_ERROR, "queue %u: poll: %s", q->index, strerror(errno));
			break;
		}
		if (!ret) {
			q_reap(q);
			continue;
		}
		if (p[1].revents) {
			if (read(q->wake_efd, &v, sizeof(v)) < 0 && errno != EAGAIN)
				break;
			if (__atomic_load_n(&q->bd->stop_threads, __ATOMIC_ACQUIRE))
				break;
		}
		/* completions first: they free ring space the kicks may need */
		if (p[2].revents)
			q_reap(q);
		if (p[0].revents)
			vduse_vq_ack_kick(q->vq);
		if (p[0].revents || p[1].revents)
			q_kick(q);
	}
	return NULL;
}

static void q_wake(struct blkq *q)
{
	uint64_t one = 1;

	if (write(q->wake_efd, &one, sizeof(one)) < 0)
		abort();	/* an eventfd write fails only on overflow */
}

static void stop_threads(struct blkd *bd)
{
	unsigned int i;

	__atomic_store_n(&bd->stop_threads, true, __ATOMIC_RELEASE);
	for (i = 0; i < bd->nq; i++)
		if (bd->q[i].thread_running) {
			q_wake(&bd->q[i]);
			pthread_join(bd->q[i].thread, NULL);
			bd->q[i].thread_running = false;
		}
}

/* ---- libvduse callbacks ---------------------------------------------------- */

static struct blkq *vq_ctx(struct blkd *bd, struct vduse_vq *vq)
{
	unsigned int i = vduse_vq_index(vq);

	return i < bd->nq ? &bd->q[i] : NULL;
}

static int on_started(struct vduse_dev *dev, void *user)
{
	struct blkd *bd = user;
	uint64_t f = vduse_dev_features(dev);
	int fl;

	/* without FLUSH the driver expects every completed write to be stable */
	fl = bd->writethrough || !(f & (1ull << VIRTIO_BLK_F_FLUSH)) ? RWF_DSYNC : 0;
	__atomic_store_n(&bd->file.rw_flags, fl, __ATOMIC_RELAXED);
	msg(VDUSE_LOG_INFO, "driver started the device (features %#llx%s)", (unsigned long long)f,
	    fl ? ", write-through" : "");
	return 0;
}

static void on_stopped(struct vduse_dev *dev, void *user)
{
	/* complete what is in flight while the rings are still mapped */
	drain_all(user);
}

static void on_queue_ready(struct vduse_dev *dev, struct vduse_vq *vq, void *user)
{
	struct blkq *q = vq_ctx(user, vq);

	if (!q)
		return;
	pthread_mutex_lock(&q->mtx);
	if (!(q->gen & 1))
		__atomic_store_n(&q->gen, q->gen + 1, __ATOMIC_RELEASE);
	q->broken_logged = false;
	pthread_mutex_unlock(&q->mtx);
	q_wake(q);	/* requests resubmitted from the in-flight log */
}

/* ---- the backing file -------------------------------------------------------- */

static int backing_size(struct blkd *bd, uint64_t *size)
{
	struct stat st;

	if (fstat(bd->file.fd, &st))
		return -errno;
	if (S_ISBLK(st.st_mode))
		return ioctl(bd->file.fd, BLKGETSIZE64, size) ? -errno : 0;
	*size = st.st_size;
	return 0;
}

/*
 * Export @size bytes: the config space's capacity (an interrupt if the
 * driver runs; it reads the capacity when it starts) and the limit the
 * queue threads check requests against. Growing, the limit goes first and
 * shrinking, last, so that the driver never sees blocks the queues refuse.
 */
static int set_capacity(struct blkd *bd, uint64_t size)
{
	uint64_t old = bd->disk.size, cap = htole64(size >> 9);
	int ret;

	if (size > old)
		__atomic_store_n(&bd->disk.size, size, __ATOMIC_RELAXED);
	ret = vduse_dev_set_config(bd->dev, offsetof(struct virtio_blk_config, capacity),
				   &cap, sizeof(cap));
	/* read by the queue threads */
	__atomic_store_n(&bd->disk.size, ret ? old : size, __ATOMIC_RELAXED);
	return ret;
}

/* SIGHUP: export the backing file's current size. */
static void resize(struct blkd *bd)
{
	uint64_t size, old = bd->disk.size;
	int ret = backing_size(bd, &size);

	if (ret) {
		msg(VDUSE_LOG_ERROR, "resize: %s: %s", bd->path, strerror(-ret));
		return;
	}
	size -= size % bd->disk.lbs;
	if (size == bd->disk.size) {
		msg(VDUSE_LOG_INFO, "resize: size unchanged (%llu bytes)", (unsigned long long)size);
		return;
	}
	ret = set_capacity(bd, size);
	if (ret) {
		msg(VDUSE_LOG_ERROR, "resize: updating the config space: %s", strerror(-ret));
		return;
	}
	msg(VDUSE_LOG_INFO, "resized from %llu to %llu bytes", (unsigned long long)old,
	    (unsigned long long)size);
}

/* ---- removing the vDPA device (vdpa dev del) ------------------------------- */

/*
 * The kernel's driver still does I/O (and resets the device) while the vDPA
 * device goes away, so the deletion runs in a thread and the loop keeps
 * serving.
 */
static void *unbind_thread(void *arg)
{
	struct blkd *bd = arg;
	uint64_t one = 1;
	struct timespec t = { 0, 50 * 1000 * 1000 };
	unsigned int i;

	bd->unbind_err = vduse_vdpa_dev_del(bd->name);
	/* someone else's `vdpa dev del` may be under way: wait for its reset too */
	if (bd->unbind_err == -ENODEV)
		bd->unbind_err = 0;
	for (i = 0; i < 1200 && vduse_vdpa_dev_exists(bd->name); i++)
		nanosleep(&t, NULL);
	if (write(bd->unbind_efd, &one, sizeof(one)) < 0)
		abort();
	return NULL;
}

/*
 * --bind: `vdpa dev add` and the driver's probe talk to the device, so they
 * run here while the main thread answers the kernel (see libvduse(3),
 * vduse_vdpa_dev_add()).
 */
static void *bind_thread(void *arg)
{
	struct blkd *bd = arg;
	uint64_t one = 1;

	bd->bind_err = vduse_vdpa_dev_add(bd->name, bd->bind_driver);
	if (write(bd->bind_efd, &one, sizeof(one)) < 0)
		abort();
	return NULL;
}

static void begin_bind(struct blkd *bd)
{
	bd->bind_efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (bd->bind_efd < 0 || pthread_create(&bd->bind_thread, NULL, bind_thread, bd)) {
		msg(VDUSE_LOG_ERROR, "cannot start adding the vDPA device");
		if (bd->bind_efd >= 0)
			close(bd->bind_efd);
		bd->bind_efd = -1;
		return;
	}
	msg(VDUSE_LOG_INFO, "adding the vDPA device %s for %s", bd->name, bd->bind_driver);
}

static void end_bind(struct blkd *bd)
{
	pthread_join(bd->bind_thread, NULL);
	close(bd->bind_efd);
	bd->bind_efd = -1;
	if (bd->bind_err)
		msg(VDUSE_LOG_ERROR, "vdpa dev add %s for %s: %s%s", bd->name, bd->bind_driver,
		    strerror(-bd->bind_err), bd->bind_err == -ENOENT ?
		    " (modprobe vdpa and the driver's module)" : "");
	else
		msg(VDUSE_LOG_INFO, "bound to %s", bd->bind_driver);
}

static void begin_shutdown(struct blkd *bd)
{
	if (bd->state != RUNNING)
		return;
	/*
	 * --bind's vdpa dev add is under way: the driver's probe it runs
	 * needs this thread's answers, and the vDPA device may not be there
	 * yet to remove. Serve until the add ends (end_bind()), then remove
	 * what it made. Stopping now would leave the probe unanswered for
	 * the kernel's message timeout, and the devices behind.
	 */
	if (bd->bind_efd >= 0) {
		msg(VDUSE_LOG_INFO, "stopping once the vDPA device being added is there (then removing it)");
		bd->state = BINDING_STOP;
		return;
	}
	if (!vduse_vdpa_dev_exists(bd->name)) {
		bd->state = FINISHING;
		return;
	}
	msg(VDUSE_LOG_INFO, "removing the vDPA device (vdpa dev del %s); this waits for its users",
	    bd->name);
	bd->unbind_efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (bd->unbind_efd < 0 || pthread_create(&bd->unbind_thread, NULL, unbind_thread, bd)) {
		msg(VDUSE_LOG_ERROR, "cannot start removing the vDPA device");
		bd->state = FINISHING;
		return;
	}
	bd->state = UNBINDING;
}

/* ---- set-up ---------------------------------------------------------------- */

static void usage(FILE *f)
{
	fprintf(f,
"Usage: vduse-blk [OPTIONS] NAME FILE\n"
"Serve FILE (a regular file or a block device) as the virtio-blk device\n"
"/dev/vduse/NAME. Bind it with: vdpa dev add name NAME mgmtdev vduse\n"
"\n"
"  -q, --num-queues N          request queues (1..%d, default 1)\n"
"  -s, --queue-size N          entries per queue, a power of 2 (2..32768, default 256)\n"
"  -b, --logical-block-size N  512..65536, a power of 2 (default 512)\n"
"      --physical-block-size N a power of 2 >= the logical block size\n"
"                              (default: the block device's, or the logical one)\n"
"      --min-io-size N         preferred minimum I/O size in bytes\n"
"      --opt-io-size N         optimal I/O size in bytes\n"
"  -S, --serial STRING         device serial (GET_ID), at most 20 bytes (default NAME)\n"
"  -r, --read-only             export read-only (writes fail; FILE opened read-only)\n"
"      --size SIZE             export SIZE bytes (K, M, G, T suffixes); a shorter\n"
"                              regular file is extended; SIGHUP re-reads FILE's size\n"
"      --no-discard            do not offer DISCARD\n"
"      --no-write-zeroes       do not offer WRITE_ZEROES\n"
"      --writethrough          every write is stable before it completes\n"
"      --direct                open FILE with O_DIRECT (bypass the host page cache)\n"
"      --no-io-uring           synchronous I/O in the event loop instead of io_uring\n"
"      --packed                also offer the packed ring layout\n"
"      --inflight-log FILE     keep the in-flight log in FILE; a daemon restarted with\n"
"                              the same options after a crash takes the device over\n"
"      --bounce-size SIZE      the kernel's bounce area for virtio-vdpa (before binding)\n"
"      --bind DRIVER           add the vDPA device at start and bind it to DRIVER\n"
"                              (virtio_vdpa or vhost_vdpa)\n"
"      --destroy               destroy a device named NAME left behind, and exit\n"
"  -v, --verbose               log debugging messages\n"
"      --quiet                 log errors and warnings only\n"
"  -h, --help                  this text\n"
"      --version\n"
"\n"
"SIGTERM or SIGINT: remove the vDPA device, complete and flush every request,\n"
"destroy the VDUSE device, exit. SIGHUP: export the backing file's current size.\n",
		MAX_QUEUES);
}

enum {
	O_PBS = 256, O_MINIO, O_OPTIO, O_SIZE, O_NODISCARD, O_NOWZ, O_WT, O_DIRECT_, O_NOURING,
	O_PACKED, O_INFLIGHT, O_BOUNCE, O_DESTROY, O_QUIET, O_VERSION, O_BIND,
};

static const struct option longopts[] = {
	{ "num-queues", required_argument, NULL, 'q' },
	{ "queue-size", required_argument, NULL, 's' },
	{ "logical-block-size", required_argument, NULL, 'b' },
	{ "physical-block-size", required_argument, NULL, O_PBS },
	{ "min-io-size", required_argument, NULL, O_MINIO },
	{ "opt-io-size", required_argument, NULL, O_OPTIO },
	{ "serial", required_argument, NULL, 'S' },
	{ "read-only", no_argument, NULL, 'r' },
	{ "size", required_argument, NULL, O_SIZE },
	{ "no-discard", no_argument, NULL, O_NODISCARD },
	{ "no-write-zeroes", no_argument, NULL, O_NOWZ },
	{ "writethrough", no_argument, NULL, O_WT },
	{ "direct", no_argument, NULL, O_DIRECT_ },
	{ "no-io-uring", no_argument, NULL, O_NOURING },
	{ "packed", no_argument, NULL, O_PACKED },
	{ "inflight-log", required_argument, NULL, O_INFLIGHT },
	{ "bounce-size", required_argument, NULL, O_BOUNCE },
	{ "destroy", no_argument, NULL, O_DESTROY },
	{ "bind", required_argument, NULL, O_BIND },
	{ "verbose", no_argument, NULL, 'v' },
	{ "quiet", no_argument, NULL, O_QUIET },
	{ "help", no_argument, NULL, 'h' },
	{ "version", no_argument, NULL, O_VERSION },
	{ NULL, 0, NULL, 0 },
};

struct cfg {
	unsigned long nq, qsize, lbs, pbs, min_io, opt_io;
	uint64_t size, bounce;
	const char *serial, *inflight, *bind;
	bool ro, no_discard, no_wz, direct, no_uring, packed, destroy;
};

static int die_usage(const char *fmt, const char *arg)
{
	fprintf(stderr, "vduse-blk: ");
	fprintf(stderr, fmt, arg);
	fprintf(stderr, "\nTry 'vduse-blk --help'.\n");
	return 2;
}

static bool pow2(unsigned long v)
{
	return v && !(v & (v - 1));
}

static int num_arg(const char *s, unsigned long *v)
{
	uint64_t x;

	if (blk_parse_size(s, &x) || x > UINT32_MAX)
		return -1;
	*v = x;
	return 0;
}

static int parse_args(int argc, char **argv, struct cfg *c, const char **name, const char **path)
{
	int opt;

	while ((opt = getopt_long(argc, argv, "q:s:b:S:rvh", longopts, NULL)) != -1) {
		switch (opt) {
		case 'q':
			if (num_arg(optarg, &c->nq) || c->nq < 1 || c->nq > MAX_QUEUES)
				return die_usage("--num-queues must be 1 to 64, not '%s'", optarg);
			break;
		case 's':
			if (num_arg(optarg, &c->qsize) || c->qsize < 2 || c->qsize > 32768 ||
			    !pow2(c->qsize))
				return die_usage("--queue-size must be a power of 2 from 2 to 32768, not '%s'",
						 optarg);
			break;
		case 'b':
			if (num_arg(optarg, &c->lbs) || c->lbs < 512 || c->lbs > 65536 || !pow2(c->lbs))
				return die_usage("--logical-block-size must be a power of 2 from 512 to 65536, not '%s'",
						 optarg);
			break;
		case O_PBS:
			if (num_arg(optarg, &c->pbs) || !pow2(c->pbs) || c->pbs > (1u << 24))
				return die_usage("--physical-block-size must be a power of 2, not '%s'", optarg);
			break;
		case O_MINIO:
			if (num_arg(optarg, &c->min_io))
				return die_usage("--min-io-size: '%s' is not a size in bytes", optarg);
			break;
		case O_OPTIO:
			if (num_arg(optarg, &c->opt_io))
				return die_usage("--opt-io-size: '%s' is not a size in bytes", optarg);
			break;
		case 'S':
			if (strlen(optarg) > VIRTIO_BLK_ID_BYTES)
				return die_usage("--serial '%s' is longer than 20 bytes", optarg);
			c->serial = optarg;
			break;
		case 'r': c->ro = true; break;
		case O_SIZE:
			if (blk_parse_size(optarg, &c->size) || !c->size)
				return die_usage("--size: '%s' is not a size (e.g. 1G, 512M, 4096)", optarg);
			break;
		case O_NODISCARD: c->no_discard = true; break;
		case O_NOWZ: c->no_wz = true; break;
		case O_WT: g_bd->writethrough = true; break;
		case O_DIRECT_: c->direct = true; break;
		case O_NOURING: c->no_uring = true; break;
		case O_PACKED: c->packed = true; break;
		case O_INFLIGHT: c->inflight = optarg; break;
		case O_BOUNCE:
			if (blk_parse_size(optarg, &c->bounce) || !c->bounce)
				return die_usage("--bounce-size: '%s' is not a size (e.g. 64M)", optarg);
			break;
		case O_DESTROY: c->destroy = true; break;
		case O_BIND: c->bind = optarg; break;
		case 'v': g_bd->verbose = true; break;
		case O_QUIET: g_bd->quiet = true; break;
		case 'h': usage(stdout); exit(0);
		case O_VERSION: printf("vduse-blk " VERSION "\n"); exit(0);
		default:
			fprintf(stderr, "Try 'vduse-blk --help'.\n");
			return 2;
		}
	}
	if (c->destroy) {
		if (argc - optind != 1)
			return die_usage("--destroy takes the device NAME only%s", "");
		*name = argv[optind];
		return 0;
	}
	if (argc - optind != 2)
		return die_usage("expected NAME and FILE%s", "");
	*name = argv[optind];
	*path = argv[optind + 1];
	if (!**name || strchr(*name, '/') || strlen(*name) >= 256)
		return die_usage("'%s' is not a usable device name (1..255 bytes, no '/')", *name);
	if (c->pbs && c->pbs < c->lbs)
		return die_usage("--physical-block-size is smaller than the logical block size%s", "");
	if (c->min_io % c->lbs || c->opt_io % c->lbs || c->min_io / c->lbs > 0xffff)
		return die_usage("--min-io-size and --opt-io-size must be multiples of the logical block size%s",
				 "");
	if (c->size % c->lbs)
		return die_usage("--size must be a multiple of the logical block size%s", "");
	return 0;
}

static int open_backing(struct blkd *bd, struct cfg *c)
{
	struct stat st;
	uint64_t size;
	int ret, flags = (c->ro ? O_RDONLY : O_RDWR) | O_CLOEXEC | (c->direct ? O_DIRECT : 0);

	bd->file.fd = open(bd->path, flags);
	if (bd->file.fd < 0) {
		ret = errno;
		msg(VDUSE_LOG_ERROR, "cannot open %s: %s%s", bd->path, strerror(ret),
		    ret == EROFS || ret == EACCES ? " (try --read-only)" :
		    ret == ENOENT ? " (create it first, e.g. truncate -s 1G FILE)" :
		    ret == EINVAL && c->direct ? " (its file system has no O_DIRECT: drop --direct)" : "");
		return -1;
	}
	if (fstat(bd->file.fd, &st)) {
		msg(VDUSE_LOG_ERROR, "%s: %s", bd->path, strerror(errno));
		return -1;
	}
	if (!S_ISREG(st.st_mode) && !S_ISBLK(st.st_mode)) {
		msg(VDUSE_LOG_ERROR, "%s is neither a regular file nor a block device", bd->path);
		return -1;
	}
	bd->file.bdev = S_ISBLK(st.st_mode);
	if (bd->file.bdev) {
		unsigned int v;

		if (!c->pbs && !ioctl(bd->file.fd, BLKPBSZGET, &v) && pow2(v) && v >= c->lbs)
			c->pbs = v;
		if (!c->min_io && !ioctl(bd->file.fd, BLKIOMIN, &v) && v % c->lbs == 0 &&
		    v / c->lbs <= 0xffff)
			c->min_io = v;
		if (!c->opt_io && !ioctl(bd->file.fd, BLKIOOPT, &v) && v % c->lbs == 0)
			c->opt_io = v;
		if (!ioctl(bd->file.fd, BLKSSZGET, &v) && v > c->lbs)
			msg(VDUSE_LOG_WARN, "%s has %u-byte sectors: consider --logical-block-size %u",
			    bd->path, v, v);
	}
	ret = backing_size(bd, &size);
	if (ret) {
		msg(VDUSE_LOG_ERROR, "%s: size: %s", bd->path, strerror(-ret));
		return -1;
	}
	if (c->size && c->size > size) {
		if (bd->file.bdev || c->ro) {
			msg(VDUSE_LOG_ERROR, "--size %llu is larger than %s (%llu bytes)",
			    (unsigned long long)c->size, bd->path, (unsigned long long)size);
			return -1;
		}
		if (ftruncate(bd->file.fd, c->size)) {
			msg(VDUSE_LOG_ERROR, "extending %s to %llu bytes: %s", bd->path,
			    (unsigned long long)c->size, strerror(errno));
			return -1;
		}
		size = c->size;
	}
	if (c->size)
		size = c->size;
	size -= size % c->lbs;
	if (!size) {
		msg(VDUSE_LOG_ERROR, "%s is smaller than one block (use --size to extend a file)",
		    bd->path);
		return -1;
	}
	bd->disk.size = size;
	bd->disk.lbs = c->lbs;
	bd->disk.read_only = c->ro;
	return 0;
}

static const char *create_hint(int err)
{
	switch (err) {
	case -ENOENT:
	case -ENODEV:
		return " (is the vduse module loaded? modprobe vduse)";
	case -EPERM:
	case -EACCES:
		return " (VDUSE needs root, or CAP_SYS_ADMIN)";
	case -EEXIST:
		return " (a device of that name exists: vduse-blk --destroy NAME, or restart the crashed daemon with its --inflight-log)";
	case -EBUSY:
		return " (another process serves this device)";
	case -EOPNOTSUPP:
		return " (the kernel refused the device layout; see the messages above)";
	default:
		return "";
	}
}

static int set_bounce(const char *name, uint64_t size)
{
	char p[300];
	FILE *f;
	int ret;

	snprintf(p, sizeof(p), "/sys/class/vduse/%s/bounce_size", name);
	f = fopen(p, "w");
	if (!f)
		return -errno;
	ret = fprintf(f, "%llu\n", (unsigned long long)size) < 0;
	ret |= fclose(f);
	return ret ? -EINVAL : 0;
}

int main(int argc, char **argv)
{
	static struct blkd bdstore;
	struct blkd *bd = &bdstore;
	struct cfg c = { .nq = 1, .qsize = 256, .lbs = 512 };
	struct virtio_blk_config cfg;
	const char *name = NULL, *path = NULL;
	void *inflight = NULL;
	size_t inflight_size = 0;
	uint64_t features;
	bool attach = false, uring_warned = false, broken = false;
	char devpath[300];
	sigset_t sigs;
	int sfd, ret, i, forced = 0;

	g_bd = bd;
	ret = parse_args(argc, argv, &c, &name, &path);
	if (ret)
		return ret;
	setvbuf(stderr, NULL, _IOLBF, 0);
	bd->name = name;
	if (c.destroy) {
		ret = vduse_destroy_by_name(name);
		if (ret)
			msg(VDUSE_LOG_ERROR, "destroying /dev/vduse/%s: %s%s", name, strerror(-ret),
			    ret == -EBUSY ? " (still bound, or served: vdpa dev del NAME, stop its daemon)" :
			    create_hint(ret));
		return ret ? 1 : 0;
	}
	bd->path = path;
	bd->nq = c.nq;
	bd->file.fd = -1;
	if (open_backing(bd, &c))
		return 1;

	/* config space and features, as qemu-storage-daemon's vduse-blk export */
	memset(&cfg, 0, sizeof(cfg));
	cfg.capacity = htole64(bd->disk.size >> 9);
	/* header and status take 2 descriptors of a ring; indirect tables have room */
	bd->disk.max_seg = c.qsize - 2 < MAX_SEG ? c.qsize - 2 : MAX_SEG;
	if (!bd->disk.max_seg)
		bd->disk.max_seg = 1;
	cfg.seg_max = htole32(bd->disk.max_seg);
	cfg.size_max = htole32(1u << 30);
	cfg.blk_size = htole32(c.lbs);
	cfg.physical_block_exp = c.pbs > c.lbs ? __builtin_ctzl(c.pbs / c.lbs) : 0;
	cfg.min_io_size = htole16(c.min_io / c.lbs);
	cfg.opt_io_size = htole32(c.opt_io / c.lbs);
	cfg.num_queues = htole16(c.nq);
	features = (1ull << VIRTIO_F_VERSION_1) | (1ull << VIRTIO_RING_F_INDIRECT_DESC) |
		   (1ull << VIRTIO_RING_F_EVENT_IDX) | (1ull << VIRTIO_BLK_F_SIZE_MAX) |
		   (1ull << VIRTIO_BLK_F_SEG_MAX) | (1ull << VIRTIO_BLK_F_BLK_SIZE) |
		   (1ull << VIRTIO_BLK_F_TOPOLOGY) | (1ull << VIRTIO_BLK_F_FLUSH);
	if (c.nq > 1)
		features |= 1ull << VIRTIO_BLK_F_MQ;
	if (c.packed)
		features |= 1ull << VIRTIO_F_RING_PACKED;
	if (c.ro)
		features |= 1ull << VIRTIO_BLK_F_RO;
	if (!c.ro && !c.no_discard) {
		features |= 1ull << VIRTIO_BLK_F_DISCARD;
		bd->disk.max_discard_sectors = (1u << 30) >> 9;
		bd->disk.max_discard_seg = BLK_MAX_RANGES;
		cfg.max_discard_sectors = htole32(bd->disk.max_discard_sectors);
		cfg.max_discard_seg = htole32(bd->disk.max_discard_seg);
		cfg.discard_sector_alignment = htole32(c.lbs >> 9);
	}
	if (!c.ro && !c.no_wz) {
		features |= 1ull << VIRTIO_BLK_F_WRITE_ZEROES;
		bd->disk.max_wz_sectors = (1u << 30) >> 9;
		bd->disk.max_wz_seg = BLK_MAX_RANGES;
		cfg.max_write_zeroes_sectors = htole32(bd->disk.max_wz_sectors);
		cfg.max_write_zeroes_seg = htole32(bd->disk.max_wz_seg);
		cfg.write_zeroes_may_unmap = 1;
	}
	strncpy(bd->disk.serial, c.serial ? c.serial : name, sizeof(bd->disk.serial));

	/* per-queue contexts, before the device exists: attach calls back at once */
	for (i = 0; i < (int)c.nq; i++) {
		struct blkq *q = &bd->q[i];

		q->bd = bd;
		q->index = i;
		q->efd = -1;
		pthread_mutex_init(&q->mtx, NULL);
		q->wake_efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (q->wake_efd < 0) {
			msg(VDUSE_LOG_ERROR, "eventfd: %s", strerror(errno));
			return 1;
		}
		if (c.no_uring)
			continue;
		/* a full ring is submitted and reused (get_sqe), so it needs no more */
		ret = io_uring_queue_init(c.qsize * 2 < 1024 ? c.qsize * 2 : 1024, &q->ring, 0);
		if (!ret) {
			q->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
			ret = q->efd < 0 ? -errno : io_uring_register_eventfd(&q->ring, q->efd);
			if (ret)
				io_uring_queue_exit(&q->ring);
		}
		if (ret) {
			if (!uring_warned)
				msg(VDUSE_LOG_WARN, "io_uring unavailable (%s): synchronous I/O instead",
				    strerror(-ret));
			uring_warned = true;
			c.no_uring = true;
			while (--i >= 0) {
				io_uring_queue_exit(&bd->q[i].ring);
				close(bd->q[i].efd);
				bd->q[i].efd = -1;
				bd->q[i].uring = false;
			}
			break;
		}
		q->uring = true;
	}

	snprintf(devpath, sizeof(devpath), "/dev/vduse/%s", name);
	attach = c.inflight && access(devpath, F_OK) == 0;
	if (c.inflight) {
		inflight_size = vduse_inflight_size(c.nq, c.qsize, 1);
		/* a new device starts from an empty log */
		ret = vduse_inflight_open(c.inflight, inflight_size, !attach, &inflight);
		if (ret) {
			msg(VDUSE_LOG_ERROR, "in-flight log %s: %s", c.inflight, strerror(-ret));
			return 1;
		}
	}

	LIBVDUSE_OPTS(vduse_dev_opts, o, .name = name, .device_id = VIRTIO_ID_BLOCK,
		      .features = features, .config = &cfg, .config_size = sizeof(cfg),
		      .num_queues = c.nq, .queue_size = c.qsize,
		      .started = on_started, .stopped = on_stopped, .queue_ready = on_queue_ready,
		      .log = lib_log, .log_level = bd->verbose ? VDUSE_LOG_DEBUG : VDUSE_LOG_WARN,
		      .user = bd, .inflight = inflight, .inflight_size = inflight_size,
		      .flags = VDUSE_DEV_F_THREADS);

	/* signals are read from a signalfd in the loop */
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGHUP);
	sigprocmask(SIG_BLOCK, &sigs, NULL);
	sfd = signalfd(-1, &sigs, SFD_CLOEXEC | SFD_NONBLOCK);
	if (sfd < 0) {
		msg(VDUSE_LOG_ERROR, "signalfd: %s", strerror(errno));
		return 1;
	}

	ret = attach ? vduse_dev_attach(&o, &bd->dev) : vduse_dev_create(&o, &bd->dev);
	if (ret) {
		msg(VDUSE_LOG_ERROR, "%s %s: %s%s", attach ? "attaching to" : "creating", devpath,
		    strerror(-ret), create_hint(ret));
		return 1;
	}
	for (i = 0; i < (int)c.nq; i++)
		bd->q[i].vq = vduse_dev_vq(bd->dev, i);
	if (attach) {
		unsigned int resub = 0;

		for (i = 0; i < (int)c.nq; i++)
			resub += vduse_vq_resubmit_count(bd->q[i].vq);
		msg(VDUSE_LOG_INFO, "%u request%s from the in-flight log to execute again",
		    resub, resub == 1 ? "" : "s");
		/*
		 * The config space is the previous daemon's, resizes included,
		 * and cannot be read back: write the size this one exports
		 * (--size, or the backing file's now), so that both agree.
		 */
		ret = set_capacity(bd, bd->disk.size);
		if (ret)
			msg(VDUSE_LOG_WARN, "writing the capacity (%llu bytes) into the config space: %s",
			    (unsigned long long)bd->disk.size, strerror(-ret));
		on_started(bd->dev, bd);
	}
	if (c.bounce && !attach) {
		ret = set_bounce(name, c.bounce);
		if (ret)
			msg(VDUSE_LOG_WARN, "setting the bounce area to %llu bytes: %s",
			    (unsigned long long)c.bounce, strerror(-ret));
	}
	msg(VDUSE_LOG_INFO, "%s %s: %s, %llu bytes, %lu queue%s of %lu, VDUSE API v%d, %s I/O%s",
	    attach ? "took over" : "created", devpath, path, (unsigned long long)bd->disk.size,
	    c.nq, c.nq > 1 ? "s" : "", c.qsize, vduse_dev_api_version(bd->dev),
	    c.no_uring ? "synchronous" : "io_uring", c.ro ? ", read-only" : "");
	if (!attach && !c.bind)
		msg(VDUSE_LOG_INFO, "bind it with: vdpa dev add name %s mgmtdev vduse", name);

	/* one thread per queue; this one answers the kernel and the signals */
	for (i = 0; i < (int)c.nq; i++) {
		ret = pthread_create(&bd->q[i].thread, NULL, q_thread, &bd->q[i]);
		if (ret) {
			msg(VDUSE_LOG_ERROR, "starting the thread of queue %d: %s", i, strerror(ret));
			stop_threads(bd);
			drain_all(bd);
			vduse_dev_close(bd->dev);
			return 1;
		}
		bd->q[i].thread_running = true;
	}
	bd->unbind_efd = -1;
	bd->bind_efd = -1;
	bd->bind_driver = c.bind;
	if (c.bind && !attach)
		begin_bind(bd);
	while (bd->state != FINISHING) {
		struct pollfd pfd[4] = {
			{ .fd = vduse_dev_fd(bd->dev), .events = POLLIN },
			{ .fd = sfd, .events = POLLIN },
			{ .fd = bd->unbind_efd, .events = POLLIN },
			{ .fd = bd->bind_efd, .events = POLLIN },
		};

		if (poll(pfd, 4, -1) < 0) {
			if (errno == EINTR)
				continue;
			msg(VDUSE_LOG_ERROR, "poll: %s", strerror(errno));
			break;
		}
		/*
		 * POLLERR: the kernel marked the device broken (a message was
		 * not answered within its timeout). It stays so and polls
		 * POLLERR for good, with nothing to read: stop, or spin.
		 */
		if (pfd[0].revents & (POLLERR | POLLHUP | POLLNVAL)) {
			msg(VDUSE_LOG_ERROR, "the kernel marked %s broken (a message was not answered in time); exiting",
			    devpath);
			broken = true;
			break;
		}
		if (pfd[0].revents) {
			ret = vduse_dev_handle_msgs(bd->dev);
			if (ret < 0 && ret != -EAGAIN && ret != -EINTR) {
				msg(VDUSE_LOG_ERROR, "the device is broken (%s); exiting", strerror(-ret));
				break;
			}
		}
		if (pfd[1].revents) {
			struct signalfd_siginfo si;

			while (read(sfd, &si, sizeof(si)) == sizeof(si)) {
				if (si.ssi_signo == SIGHUP) {
					resize(bd);
				} else if (bd->state == RUNNING) {
					begin_shutdown(bd);
				} else {
					msg(VDUSE_LOG_WARN, "second %s: not waiting for the vDPA device to %s",
					    strsignal(si.ssi_signo),
					    bd->state == BINDING_STOP ? "be added" : "go");
					forced = 1;
					bd->state = FINISHING;
				}
			}
		}
		if (pfd[3].revents) {
			end_bind(bd);
			if (bd->state == BINDING_STOP) {
				bd->state = RUNNING;
				begin_shutdown(bd);
			}
		}
		if (pfd[2].revents) {
			if (bd->unbind_err)
				msg(VDUSE_LOG_ERROR, "vdpa dev del %s: %s", name, strerror(-bd->unbind_err));
			pthread_join(bd->unbind_thread, NULL);
			close(bd->unbind_efd);
			bd->unbind_efd = -1;
			bd->state = FINISHING;
		}
	}

	/* complete what is in flight, make completed writes stable, go */
	if (bd->bind_efd >= 0 && !forced)
		end_bind(bd);
	stop_threads(bd);
	drain_all(bd);
	msg(VDUSE_LOG_INFO, "served %lu reads, %lu writes, %lu flushes, %lu discards, "
	    "%lu write-zeroes, %lu others; %lu I/O errors", bd->ops[BLK_OP_READ],
	    bd->ops[BLK_OP_WRITE], bd->ops[BLK_OP_FLUSH], bd->ops[BLK_OP_DISCARD],
	    bd->ops[BLK_OP_WRITE_ZEROES], bd->ops[BLK_OP_NONE], bd->io_errors);
	if (!c.ro && fdatasync(bd->file.fd))
		msg(VDUSE_LOG_ERROR, "flushing %s: %s", path, strerror(errno));
	if (broken) {
		vduse_dev_close(bd->dev);
		msg(VDUSE_LOG_ERROR, "%s cannot serve again; remove it: vdpa dev del %s; vduse-blk --destroy %s",
		    devpath, name, name);
		return 1;
	}
	if (forced || bd->state != FINISHING) {
		vduse_dev_close(bd->dev);
		msg(VDUSE_LOG_WARN, "left %s in place (a restarted daemon can take it over)%s", devpath,
		    bd->bind_efd >= 0 ? "; the vDPA device being added may appear, unserved: vdpa dev del it" : "");
		return 1;
	}
	vduse_dev_close(bd->dev);
	/* the vDPA device may take a moment to release it */
	ret = vduse_destroy_by_name_wait(name, 5000);
	if (ret) {
		msg(VDUSE_LOG_ERROR, "destroying %s: %s%s", devpath, strerror(-ret),
		    ret == -EBUSY ? " (still bound: vdpa dev del it, then vduse-blk --destroy NAME)" : "");
		return 1;
	}
	if (c.inflight)
		unlink(c.inflight);
	msg(VDUSE_LOG_INFO, "destroyed %s", devpath);
	return 0;
}
