// SPDX-License-Identifier: GPL-2.0
/*
 * reqcost: one device-loop pass per request, natively, for counting what
 * a request costs the device's user space independently of the host's load
 * (bench/reqcost runs it under valgrind; bench/README.md section 1).
 *
 *   reqcost ours|raw [N]
 *
 * The library bench's null virtio-blk at depth 1, over the unit tests' fake
 * kernel: a driver (this program) makes one read request available in a
 * split ring of 256 the way Linux's virtio-blk does (an indirect table of
 * three descriptors: the 16-byte header, 4 KiB of data, the status byte,
 * each in its own bounce page, slots rotating over 16 requests), asks for
 * an interrupt (used_event) and kicks the eventfd; then one pass of the
 * device's loop serves it:
 *   ours  bench/null_ours.c's: vduse_dev_run_once() (epoll_wait, the kick
 *         read, the queue_kick callback: pop, nullblk_serve, push, pop
 *         until empty, notify and its VQ_INJECT_IRQ: the library's backend
 *         makes the system call on a socket, ENOTTY, then the fake kernel
 *         handles it)
 *   raw   bench/null_raw.c's: rvb_wait() (poll, the kick read) and
 *         rvb_serve() of tests/include/rawvblk.h (VQ_INJECT_IRQ on a socket:
 *         ENOTTY, the same system call)
 *
 * Each pass stores to reqcost_mark[0] before and reqcost_mark[1] after; the
 * fake kernel's ioctl handler (the library's backend) runs between stores
 * to [2] and [3]. bench/reqcost.awk cuts lackey's memory trace at those
 * stores, so what it counts is the device's user space only: instructions,
 * distinct code pages and distinct data pages (stack included) per pass.
 * Under callgrind, --toggle-collect=reqcost_pass gives the same passes per
 * function (fk_ioctl is the fake kernel's). REQCOST_ADDRS=1 also prints
 * where the library's device, queue, pool and regions are (heap pages).
 */
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include "fake_kernel.h"
#include "rawvblk.h"
#include "nullblk.h"

#define RING	0x100000ull
#define BUF	0x400000ull
#define QSZ	NULLBLK_QUEUE_SIZE
#define SLOTS	16

/* one page each: the trace shows which store is which by its page */
volatile uint8_t reqcost_mark[4][4096] __attribute__((aligned(4096)));

static struct fake_kernel fk;
static struct fk_split ring;
static unsigned long served, bad;

static int sysfd = -1;	/* ours: a socket for the real VQ_INJECT_IRQ system call */

static int marked_ioctl(void *ctx, int fd, unsigned long req, void *arg)
{
	int ret;

	/* the system call the library makes on a real device (ENOTTY here), as raw does */
	if (req == VDUSE_VQ_INJECT_IRQ && ioctl(sysfd, req, arg) != -1)
		abort();
	reqcost_mark[2][0] = 1;
	ret = fk_ioctl(ctx, fd, req, arg);
	reqcost_mark[3][0] = 1;
	return ret;
}

static const struct vduse_backend marked_backend = { .open = fk_open, .ioctl = marked_ioctl };

/* null_ours.c's callback, without its timing */
static void on_kick(struct vduse_dev *dev, struct vduse_vq *vq, void *user)
{
	nullblk_serve_ours(vq, &served, &bad);
	vduse_vq_notify(vq);
}

static struct vduse_dev *dev;
static struct rvb d = { .fd = -1, .kickfd = -1 };
static int kickfd;

/* One pass of the device's loop; not inlined, so callgrind can toggle on it. */
__attribute__((noinline)) void reqcost_pass(int raw)
{
	reqcost_mark[0][0] = 1;
	if (raw) {
		int ev = rvb_wait(&d, 0);

		if (ev & RVB_EV_KICK) {
			rvb_serve(&d, nullblk_serve_chain, NULL);
			served = d.served;
			bad = d.bad;
		}
	} else {
		vduse_dev_run_once(dev, 0);
	}
	reqcost_mark[1][0] = 1;
}

/* The driver: request @i (read, sector i) in slot i % SLOTS, then the kick. */
static void driver_post(unsigned long i)
{
	uint64_t base = BUF + (i % SLOTS) * 0x10000, one = 1;
	struct fk_desc *tab = fk_ptr(&fk, 0, base);
	struct virtio_blk_outhdr *h = fk_ptr(&fk, 0, base + 0x1000);
	uint16_t head = 0, *avail = fk_split_avail(&ring), *used = fk_split_used(&ring);

	h->type = VIRTIO_BLK_T_IN;
	h->ioprio = 0;
	h->sector = i * 8 % (NULLBLK_CAPACITY >> 9);
	fk_set_desc(&tab[0], base + 0x1000, sizeof(*h), VRING_DESC_F_NEXT, 1);
	fk_set_desc(&tab[1], base + 0x2000, 4096, VRING_DESC_F_NEXT | VRING_DESC_F_WRITE, 2);
	fk_set_desc(&tab[2], base + 0x3000, 1, VRING_DESC_F_WRITE, 0);
	/* depth 1: the head freed last is reused, as virtio_ring's free list does */
	fk_set_desc(&fk_split_desc(&ring)[head], base, 3 * 16, VRING_DESC_F_INDIRECT, 0);
	/* used_event: interrupt at the next completion */
	avail[2 + QSZ] = used[1];
	fk_split_publish(&ring, head);
	if (write(kickfd, &one, 8) != 8)
		abort();
}

static void driver_reap(unsigned long i)
{
	uint16_t *used = fk_split_used(&ring);
	uint32_t *elem = (uint32_t *)&used[2] + 2 * ((uint16_t)(used[1] - 1) % QSZ);
	uint8_t *st = fk_ptr(&fk, 0, BUF + (i % SLOTS) * 0x10000 + 0x3000);

	if (used[1] != ring.avail_idx || elem[0] != 0 || elem[1] != 4097 || *st != VIRTIO_BLK_S_OK) {
		fprintf(stderr, "reqcost: request %lu not served right (used %u avail %u len %u)\n",
			i, used[1], ring.avail_idx, elem[1]);
		exit(1);
	}
	*st = 0xff;
}

static void setup_ours(void)
{
	struct virtio_blk_config cfg;

	sysfd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (sysfd < 0)
		abort();
	nullblk_config(&cfg);
	LIBVDUSE_OPTS(vduse_dev_opts, o, .name = "reqcost", .device_id = VIRTIO_ID_BLOCK,
		      .features = NULLBLK_FEATURES, .config = &cfg, .config_size = sizeof(cfg),
		      .num_queues = 1, .queue_size = QSZ, .queue_kick = on_kick,
		      .queue_ready = on_kick);
	if (vduse__dev_create(&o, &marked_backend, &fk, &dev))
		abort();
	fk.features = NULLBLK_FEATURES;
	if (fk_status(&fk, dev, 0x0f))
		abort();
	kickfd = fk.kickfd[0];
}

static void setup_raw(void)
{
	int sp[2];

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sp))
		abort();
	/* nothing ever arrives on the message fd; ioctls on it fail (ENOTTY) */
	d.fd = sp[0];
	d.kickfd = kickfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	d.num = QSZ;
	d.max_num = QSZ;
	d.event_idx = 1;
	d.desc = fk_ptr(&fk, 0, ring.desc);
	d.avail = fk_ptr(&fk, 0, ring.avail);
	d.used = fk_ptr(&fk, 0, ring.used);
	/* the two mappings rvb_xlate() would have fetched on first use */
	d.reg[0] = (struct rvb_region){ RING, RING + 0x100000 - 1, fk_ptr(&fk, 0, RING) };
	d.reg[1] = (struct rvb_region){ BUF, BUF + 0x100000 - 1, fk_ptr(&fk, 0, BUF) };
	d.nreg = 2;
	d.ready = 1;
}

int main(int argc, char **argv)
{
	unsigned long i, n = argc > 2 ? strtoul(argv[2], NULL, 0) : 1000;
	int raw;

	if (argc < 2 || (strcmp(argv[1], "ours") && strcmp(argv[1], "raw"))) {
		fprintf(stderr, "usage: reqcost ours|raw [N]\n");
		return 2;
	}
	raw = !strcmp(argv[1], "raw");
	fk_init(&fk, 1);
	fk_map(&fk, 0, RING, 0x100000, 0, VDUSE_ACCESS_RW);
	fk_map(&fk, 0, BUF, 0x100000, 0x100000, VDUSE_ACCESS_RW);
	fk_split_init(&fk, &ring, 0, 0, RING, QSZ);
	if (raw)
		setup_raw();
	else
		setup_ours();
	printf("# reqcost %s marks %p %p %p %p\n", argv[1], (void *)reqcost_mark[0],
	       (void *)reqcost_mark[1], (void *)reqcost_mark[2], (void *)reqcost_mark[3]);
	if (!raw && getenv("REQCOST_ADDRS")) {
		/* where the library's objects are, to name the data pages */
		struct vduse_vq *vq = vduse_dev_vq(dev, 0);

		printf("# dev %p vq %p as %p ring_reg %p %p %p indbuf %p\n", (void *)dev, (void *)vq,
		       (void *)dev->as, (void *)vq->ring_reg[0], (void *)vq->ring_reg[1],
		       (void *)vq->ring_reg[2], (void *)vq->indbuf);
	}
	fflush(stdout);
	for (i = 0; i < n; i++) {
		driver_post(i);
		reqcost_pass(raw);
		driver_reap(i);
	}
	if (!raw && getenv("REQCOST_ADDRS")) {
		struct vduse_vq *vq = vduse_dev_vq(dev, 0);

		printf("# pool %p xl_reg %p as->reg %p\n", (void *)vq->pool, (void *)vq->xl_reg,
		       (void *)dev->as[0].reg);
	}
	printf("# reqcost %s served %lu bad %lu\n", argv[1], served, bad);
	return served != n || bad;
}
