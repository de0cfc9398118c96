// SPDX-License-Identifier: GPL-2.0
/*
 * rawblk: a VDUSE virtio-blk device written with raw ioctls (API v0), used to
 * prove that the VM harness drives a real kernel end to end.
 *
 *   rawblk [--api 0|1|none] [--corrupt] NAME
 *
 * It creates the device, binds it with "vdpa dev add" so that the kernel's
 * virtio-blk (through virtio-vdpa) attaches it, writes a pattern through
 * /dev/vda with O_DIRECT, reads it back, checks that the device's backing
 * memory holds it, then unbinds and destroys the device. --corrupt makes the
 * device return wrong data on reads (the test must then fail).
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <linux/virtio_blk.h>
#include <linux/virtio_config.h>
#include <linux/virtio_ring.h>
#include "linux/vduse.h"
#include "flex.h"
#include "tap.h"

#define DISK_SIZE	(16u << 20)
#define QUEUE_SIZE	128
#define MAX_REGIONS	32

struct region {
	uint64_t start, last;
	uint8_t *addr;
};

static struct dev {
	int fd;
	int kickfd;
	uint8_t *disk;
	int corrupt;
	struct region reg[MAX_REGIONS];
	int nreg;
	/* virtqueue 0 */
	int ready;
	uint32_t num;
	struct vring_desc *desc;
	struct vring_avail *avail;
	struct vring_used *used;
	uint16_t last_avail;
} d;

static void die(const char *what)
{
	printf("# rawblk device: %s: %s\n", what, strerror(errno));
	fflush(stdout);
	_exit(3);
}

static void drop_regions(uint64_t start, uint64_t last)
{
	int i;

	for (i = 0; i < d.nreg; ) {
		struct region *r = &d.reg[i];

		if (r->last < start || r->start > last) {
			i++;
			continue;
		}
		munmap(r->addr, r->last - r->start + 1);
		*r = d.reg[--d.nreg];
	}
}

/* Translate [iova, iova + len) to a pointer, mapping it on first use. */
static void *iova_to_va(uint64_t iova, uint64_t len)
{
	struct vduse_iotlb_entry e;
	struct region *r;
	void *p;
	int i, fd, prot;

	if (!len || iova + len - 1 < iova)
		return NULL;
	for (i = 0; i < d.nreg; i++) {
		r = &d.reg[i];
		if (iova >= r->start && iova + len - 1 <= r->last)
			return r->addr + (iova - r->start);
	}
	if (d.nreg == MAX_REGIONS)
		return NULL;
	memset(&e, 0, sizeof(e));
	e.start = iova;
	e.last = iova + len - 1;
	fd = ioctl(d.fd, VDUSE_IOTLB_GET_FD, &e);
	if (fd < 0)
		return NULL;
	if (iova < e.start || iova + len - 1 > e.last) {
		close(fd);
		return NULL;
	}
	prot = (e.perm & VDUSE_ACCESS_RO ? PROT_READ : 0) |
	       (e.perm & VDUSE_ACCESS_WO ? PROT_WRITE : 0);
	p = mmap(NULL, e.last - e.start + 1, prot, MAP_SHARED, fd, e.offset);
	close(fd);
	if (p == MAP_FAILED)
		return NULL;
	r = &d.reg[d.nreg++];
	r->start = e.start;
	r->last = e.last;
	r->addr = p;
	return r->addr + (iova - r->start);
}

static int vq_start(void)
{
	struct vduse_vq_info info = { .index = 0 };
	struct vduse_vq_eventfd ev = { .index = 0 };

	if (ioctl(d.fd, VDUSE_VQ_GET_INFO, &info))
		die("VQ_GET_INFO");
	if (!info.ready)
		return 0;
	d.num = info.num;
	d.desc = iova_to_va(info.desc_addr, 16ull * d.num);
	d.avail = iova_to_va(info.driver_addr, 4 + 2ull * d.num);
	d.used = iova_to_va(info.device_addr, 4 + 8ull * d.num);
	if (!d.desc || !d.avail || !d.used || !d.num || d.num > QUEUE_SIZE) {
		printf("# rawblk device: cannot map vq 0\n");
		return -1;
	}
	d.last_avail = info.split.avail_index;
	ev.fd = d.kickfd;
	if (ioctl(d.fd, VDUSE_VQ_SETUP_KICKFD, &ev))
		die("VQ_SETUP_KICKFD");
	d.ready = 1;
	return 0;
}

static uint8_t blk_rw(uint32_t type, uint64_t sector, struct iovec *iov, int n, uint32_t *written)
{
	uint64_t off = sector * 512;
	int i;

	for (i = 0; i < n; i++) {
		if (off > DISK_SIZE || iov[i].iov_len > DISK_SIZE - off)
			return VIRTIO_BLK_S_IOERR;
		if (type == VIRTIO_BLK_T_IN) {
			memcpy(iov[i].iov_base, d.disk + off, iov[i].iov_len);
			if (d.corrupt)
				((uint8_t *)iov[i].iov_base)[0] ^= 0xff;
			*written += iov[i].iov_len;
		} else {
			memcpy(d.disk + off, iov[i].iov_base, iov[i].iov_len);
		}
		off += iov[i].iov_len;
	}
	return VIRTIO_BLK_S_OK;
}

/* Handle one descriptor chain; returns bytes written, or -1 if malformed. */
static int handle_chain(uint16_t head)
{
	struct iovec data[QUEUE_SIZE];
	struct virtio_blk_outhdr hdr;
	uint8_t *status = NULL;
	uint32_t written = 0;
	uint16_t i = head;
	int n = 0, seen = 0, got_hdr = 0;

	for (;;) {
		struct vring_desc *desc;
		void *p;

		if (i >= d.num || ++seen > (int)d.num)
			return -1;
		desc = &d.desc[i];
		p = iova_to_va(desc->addr, desc->len);
		if (!p)
			return -1;
		if (!got_hdr) {
			if (desc->len != sizeof(hdr) || (desc->flags & VRING_DESC_F_WRITE))
				return -1;
			memcpy(&hdr, p, sizeof(hdr));
			got_hdr = 1;
		} else if (!(desc->flags & VRING_DESC_F_NEXT)) {
			if (!(desc->flags & VRING_DESC_F_WRITE) || desc->len < 1)
				return -1;
			status = (uint8_t *)p + desc->len - 1;
			if (desc->len > 1) {
				data[n].iov_base = p;
				data[n++].iov_len = desc->len - 1;
			}
		} else {
			data[n].iov_base = p;
			data[n++].iov_len = desc->len;
		}
		if (!(desc->flags & VRING_DESC_F_NEXT))
			break;
		i = desc->next;
	}
	if (!status)
		return -1;
	switch (hdr.type) {
	case VIRTIO_BLK_T_IN:
	case VIRTIO_BLK_T_OUT:
		*status = blk_rw(hdr.type, hdr.sector, data, n, &written);
		break;
	case VIRTIO_BLK_T_FLUSH:
		*status = VIRTIO_BLK_S_OK;
		break;
	case VIRTIO_BLK_T_GET_ID:
		if (n)
			written = snprintf(data[0].iov_base, data[0].iov_len, "rawblk");
		*status = VIRTIO_BLK_S_OK;
		break;
	default:
		*status = VIRTIO_BLK_S_UNSUPP;
	}
	return written + 1;
}

static void vq_process(void)
{
	uint16_t avail_idx;
	int any = 0;

	if (!d.ready)
		return;
	for (;;) {
		avail_idx = __atomic_load_n(&d.avail->idx, __ATOMIC_ACQUIRE);
		if (avail_idx == d.last_avail)
			break;
		while (d.last_avail != avail_idx) {
			uint16_t head = d.avail->ring[d.last_avail % d.num];
			uint16_t u = d.used->idx;
			int len = handle_chain(head);

			if (len < 0) {
				printf("# rawblk device: malformed chain at head %u\n", head);
				len = 0;
			}
			d.used->ring[u % d.num].id = head;
			d.used->ring[u % d.num].len = len;
			__atomic_store_n(&d.used->idx, (uint16_t)(u + 1), __ATOMIC_RELEASE);
			d.last_avail++;
			any = 1;
		}
	}
	if (any && ioctl(d.fd, VDUSE_VQ_INJECT_IRQ, &(uint32_t){0}))
		die("VQ_INJECT_IRQ");
}

static void handle_msg(void)
{
	struct vduse_dev_request req;
	struct vduse_dev_response resp;
	ssize_t n = read(d.fd, &req, sizeof(req));

	if (n < 0 && errno == EAGAIN)
		return;
	if (n != sizeof(req))
		die("read request");
	memset(&resp, 0, sizeof(resp));
	resp.request_id = req.request_id;
	resp.result = VDUSE_REQ_RESULT_OK;
	switch (req.type) {
	case VDUSE_GET_VQ_STATE:
		resp.vq_state.index = req.vq_state.index;
		resp.vq_state.split.avail_index = d.last_avail;
		break;
	case VDUSE_SET_STATUS:
		if (req.s.status & VIRTIO_CONFIG_S_DRIVER_OK) {
			if (!d.ready && vq_start())
				resp.result = VDUSE_REQ_RESULT_FAILED;
		} else if (req.s.status == 0) {
			d.ready = 0;
			d.last_avail = 0;
		}
		break;
	case VDUSE_UPDATE_IOTLB:
		drop_regions(req.iova.start, req.iova.last);
		if (d.ready) {
			/* the rings may have moved: look them up again */
			d.ready = 0;
			if (vq_start())
				resp.result = VDUSE_REQ_RESULT_FAILED;
		}
		break;
	default:
		resp.result = VDUSE_REQ_RESULT_FAILED;
	}
	if (write(d.fd, &resp, sizeof(resp)) != sizeof(resp))
		die("write response");
}

static void device_loop(void)
{
	for (;;) {
		struct pollfd p[2] = {
			{ .fd = d.fd, .events = POLLIN },
			{ .fd = d.kickfd, .events = POLLIN },
		};
		uint64_t v;

		if (poll(p, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			die("poll");
		}
		if (p[0].revents & POLLERR)
			die("device broken");
		if (p[0].revents & POLLIN)
			handle_msg();
		if (p[1].revents & POLLIN) {
			if (read(d.kickfd, &v, sizeof(v)) < 0 && errno != EAGAIN)
				die("read kickfd");
		}
		vq_process();
	}
}

static int run(const char *cmd)
{
	int rc = system(cmd);

	return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

static int wait_path(const char *path, int seconds)
{
	int i;

	for (i = 0; i < seconds * 10; i++) {
		if (access(path, F_OK) == 0)
			return 0;
		usleep(100000);
	}
	return -1;
}

int main(int argc, char **argv)
{
	union {
		struct vduse_dev_config c;
		struct {
			FLEX_HEAD(struct vduse_dev_config);
			struct virtio_blk_config blk;
		};
	} cfg;
	struct vduse_vq_config vq;
	char path[300], cmd[400], name[VDUSE_NAME_MAX];
	const char *api = "0";
	uint8_t *buf, *pat;
	pid_t pid;
	int ctl, fd, i, st, api_v;
	uint64_t ver;

	for (i = 1; i < argc - 1; i++) {
		if (!strcmp(argv[i], "--corrupt"))
			d.corrupt = 1;
		else if (!strcmp(argv[i], "--api") && i + 1 < argc - 1)
			api = argv[++i];
	}
	if (argc < 2) {
		fprintf(stderr, "usage: rawblk [--api 0|1|none] [--corrupt] NAME\n");
		return 2;
	}
	snprintf(name, sizeof(name), "%s", argv[argc - 1]);
	setvbuf(stdout, NULL, _IOLBF, 0);

	ctl = open("/dev/vduse/control", O_RDWR);
	TAP_SYS(ctl, "open /dev/vduse/control");
	if (ctl < 0)
		return tap_done();
	api_v = strcmp(api, "none") ? atoi(api) : -1;
	if (api_v >= 0) {
		ver = api_v;
		TAP_SYS(ioctl(ctl, VDUSE_SET_API_VERSION, &ver), "SET_API_VERSION");
	}

	memset(&cfg, 0, sizeof(cfg));
	snprintf(cfg.c.name, sizeof(cfg.c.name), "%s", name);
	cfg.c.device_id = VIRTIO_ID_BLOCK;
	cfg.c.vendor_id = 0;
	cfg.c.features = (1ull << VIRTIO_F_VERSION_1) | (1ull << VIRTIO_F_ACCESS_PLATFORM) |
			 (1ull << VIRTIO_BLK_F_FLUSH) | (1ull << VIRTIO_BLK_F_SEG_MAX);
	cfg.c.vq_num = 1;
	cfg.c.vq_align = 4096;
	if (api_v == 1)
		cfg.c.ngroups = cfg.c.nas = 1;
	cfg.c.config_size = sizeof(cfg.blk);
	cfg.blk.capacity = DISK_SIZE / 512;
	cfg.blk.seg_max = QUEUE_SIZE - 2;
	TAP_SYS(ioctl(ctl, VDUSE_CREATE_DEV, &cfg), "CREATE_DEV virtio-blk");

	memset(&vq, 0, sizeof(vq));
	vq.index = 0;
	vq.max_size = QUEUE_SIZE;
	snprintf(path, sizeof(path), "/dev/vduse/%s", name);
	if (wait_path(path, 5))
		printf("# %s did not appear\n", path);
	d.fd = open(path, O_RDWR | O_NONBLOCK);
	TAP_SYS(d.fd, "open device fd");
	if (d.fd < 0)
		return tap_done();
	TAP_SYS(ioctl(d.fd, VDUSE_VQ_SETUP, &vq), "VQ_SETUP vq 0");

	d.disk = mmap(NULL, DISK_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	d.kickfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (d.disk == MAP_FAILED || d.kickfd < 0)
		die("setup");

	pid = fork();
	if (pid == 0) {
		close(ctl);
		device_loop();
		_exit(0);
	}
	close(d.fd);	/* the child owns the device fd from here on */

	snprintf(cmd, sizeof(cmd), "vdpa dev add name %s mgmtdev vduse", name);
	TAP_EQ(run(cmd), 0, "vdpa dev add");
	TAP_EQ(wait_path("/dev/vda", 30), 0, "virtio-blk attached as /dev/vda");

	buf = aligned_alloc(4096, 65536);
	pat = malloc(65536);
	srand(getpid());
	for (i = 0; i < 65536; i++)
		pat[i] = rand();
	fd = open("/dev/vda", O_RDWR | O_DIRECT);
	TAP_SYS(fd, "open /dev/vda O_DIRECT");
	memcpy(buf, pat, 65536);
	TAP_EQ(pwrite(fd, buf, 65536, 1 << 20), 65536, "O_DIRECT write 64 KiB at 1 MiB");
	TAP_SYS(fsync(fd), "fsync /dev/vda");
	memset(buf, 0, 65536);
	TAP_EQ(pread(fd, buf, 65536, 1 << 20), 65536, "O_DIRECT read 64 KiB at 1 MiB");
	TAP_OK(!memcmp(buf, pat, 65536), "read back matches the pattern", "data differs");
	TAP_OK(!memcmp(d.disk + (1 << 20), pat, 65536),
	       "pattern found in the device's backing memory", "backing memory differs");
	close(fd);

	snprintf(cmd, sizeof(cmd), "vdpa dev del %s", name);
	TAP_EQ(run(cmd), 0, "vdpa dev del");
	TAP_OK(access("/dev/vda", F_OK) != 0, "/dev/vda gone after vdpa dev del", "still there");

	kill(pid, SIGKILL);
	waitpid(pid, &st, 0);
	/* the kernel may release the device fd a moment after the process dies */
	for (i = 0; i < 50; i++) {
		if (ioctl(ctl, VDUSE_DESTROY_DEV, name) == 0 || errno != EBUSY)
			break;
		usleep(100000);
	}
	TAP_OK(i < 50 && access(path, F_OK) != 0, "DESTROY_DEV", "errno %d (%s)", errno, strerror(errno));
	close(ctl);
	return tap_done();
}
