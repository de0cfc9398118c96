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
#include <signal.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include "rawvblk.h"
#include "tap.h"

#define DISK_SIZE	(16u << 20)
#define QUEUE_SIZE	128

static struct rvb d = { .fd = -1, .kickfd = -1 };
static int corrupt;

static void die(const char *what)
{
	printf("# rawblk device: %s: %s\n", what, strerror(errno));
	fflush(stdout);
	_exit(3);
}

/* --corrupt: flip the first byte of what a read returns */
static void corrupt_read(struct rvb *r, uint8_t *buf, size_t len, int done)
{
	if (done && corrupt)
		buf[0] ^= 0xff;
}

static uint32_t handle_chain(struct rvb *r, uint16_t head)
{
	uint32_t len = rvb_blk_chain(r, head);

	if (!len)
		printf("# rawblk device: malformed chain at head %u\n", head);
	return len;
}

static void device_loop(void)
{
	for (;;) {
		int ev = rvb_wait(&d, -1);

		if (ev < 0)
			die("device broken");
		if ((ev & RVB_EV_MSG) && rvb_msg(&d))
			die("control message");
		if (rvb_serve(&d, handle_chain, NULL) < 0)
			die("VQ_INJECT_IRQ");
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
	struct virtio_blk_config blk;
	char path[300], cmd[400], name[VDUSE_NAME_MAX];
	const char *api = "0";
	uint8_t *buf, *pat;
	pid_t pid;
	int ctl, fd, i, st, api_v, rc;
	uint64_t ver;

	for (i = 1; i < argc - 1; i++) {
		if (!strcmp(argv[i], "--corrupt"))
			corrupt = 1;
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

	memset(&blk, 0, sizeof(blk));
	blk.capacity = DISK_SIZE / 512;
	blk.seg_max = QUEUE_SIZE - 2;
	TAP_SYS(rvb_create(ctl, name, (1ull << VIRTIO_F_VERSION_1) | (1ull << VIRTIO_F_ACCESS_PLATFORM) |
			   (1ull << VIRTIO_BLK_F_FLUSH) | (1ull << VIRTIO_BLK_F_SEG_MAX), &blk, api_v == 1),
		"CREATE_DEV virtio-blk");

	snprintf(path, sizeof(path), "/dev/vduse/%s", name);
	if (wait_path(path, 5))
		printf("# %s did not appear\n", path);
	rc = rvb_open(&d, name, QUEUE_SIZE);
	TAP_SYS(d.fd, "open device fd");
	if (d.fd < 0)
		return tap_done();
	TAP_SYS(rc, "VQ_SETUP vq 0");

	d.disk = mmap(NULL, DISK_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (d.disk == MAP_FAILED || d.kickfd < 0)
		die("setup");
	d.disk_size = DISK_SIZE;
	d.id = "rawblk";
	d.on_read = corrupt_read;

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
