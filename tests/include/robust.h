/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Helpers of the robustness suites (hostile_dev, concurrency): binding a
 * vDPA device to a chosen bus driver, bounded waits on children and calls,
 * a per-scenario count of kernel warnings, and O_DIRECT I/O on the
 * virtio-blk disk of a vDPA device, run in a child so that a hung disk
 * costs a time-out, never the test. Header-only, on top of vduse_test.h.
 */
#ifndef VDUSE_TESTS_ROBUST_H
#define VDUSE_TESTS_ROBUST_H

#include <glob.h>
#include <signal.h>
#include <sys/mman.h>
#include "vduse_test.h"

/*
 * Bind every new vDPA device by hand: with both virtio_vdpa and vhost_vdpa
 * loaded, "vdpa dev add" would give it to whichever driver came first.
 */
static inline void vdpa_autoprobe(int on)
{
	run_cmd("echo %d > /sys/bus/vdpa/drivers_autoprobe", on ? 1 : 0);
}

/* "vdpa dev add" NAME and bind it to DRV (virtio_vdpa or vhost_vdpa); 0 if bound. */
static inline int vdpa_add_to(const char *name, const char *drv)
{
	return run_cmd("vdpa dev add name %s mgmtdev vduse 2>&1 | sed 's/^/# vdpa: /'; "
		       "d=/sys/bus/vdpa/devices/%s; test -e $d && echo %s > $d/driver_override && "
		       "echo %s > /sys/bus/vdpa/drivers/%s/bind && "
		       "[ \"$(basename \"$(readlink $d/driver)\")\" = %s ]",
		       name, name, drv, name, drv, drv);
}

static inline int vdpa_exists(const char *name)
{
	char path[300];

	snprintf(path, sizeof(path), "/sys/bus/vdpa/devices/%s", name);
	return access(path, F_OK) == 0;
}

/* Wait up to MS for PID; its wait status, or -1 (still running: not reaped). */
static inline int wait_pid_ms(pid_t pid, int ms)
{
	double end = now_s() + ms / 1000.0;
	int st;

	do {
		pid_t r = waitpid(pid, &st, WNOHANG);

		if (r == pid)
			return st;
		if (r < 0)
			return -1;
		msleep_(5);
	} while (now_s() < end);
	return -1;
}

/* SIGKILL PID and reap it within MS; 0 if reaped. */
static inline int kill_reap(pid_t pid, int ms)
{
	if (pid <= 0)
		return 0;
	kill(pid, SIGKILL);
	return wait_pid_ms(pid, ms) < 0 ? -1 : 0;
}

/* ---- a function run in a thread, with a bounded wait --------------------- */

struct acall {
	pthread_t th;
	long (*fn)(void *arg);
	void *arg;
	long ret;
	int err;
	int done;	/* __atomic */
};

static inline void *acall_main(void *p)
{
	struct acall *a = p;

	errno = 0;
	a->ret = a->fn(a->arg);
	a->err = errno;
	__atomic_store_n(&a->done, 1, __ATOMIC_RELEASE);
	return NULL;
}

static inline int acall_start(struct acall *a, long (*fn)(void *), void *arg)
{
	memset(a, 0, sizeof(*a));
	a->fn = fn;
	a->arg = arg;
	return pthread_create(&a->th, NULL, acall_main, a);
}

/* 0 once the call returned within MS (then joined); -1 if it still runs. */
static inline int acall_wait(struct acall *a, int ms)
{
	return thread_done_wait(&a->done, a->th, ms);
}

/* ---- kernel warnings ------------------------------------------------------ */

/*
 * Lines of the kernel log that the harness counts as a failure (the same
 * patterns as tests/vm/guest/init.sh), so that a scenario can be blamed.
 */
static inline int kwarn_count(void)
{
	return run_cmd("exit $(dmesg | grep -cE 'BUG:|WARNING:|Oops|general protection|KASAN|"
		       "hung_task|blocked for more than|soft lockup|Call Trace')");
}

/* ---- I/O on the virtio-blk disk of a vDPA device ------------------------- */

/* /dev/vdX of vDPA device NAME, waiting up to MS for it; 0 if found. */
static inline int vd_path(const char *name, char *out, size_t len, int ms)
{
	char pat[300];
	double end = now_s() + ms / 1000.0;
	glob_t g;

	snprintf(pat, sizeof(pat), "/sys/bus/vdpa/devices/%s/virtio*/block/vd*", name);
	do {
		if (glob(pat, 0, NULL, &g) == 0) {
			const char *b = strrchr(g.gl_pathv[0], '/') + 1;

			snprintf(out, len, "/dev/%s", b);
			globfree(&g);
			if (access(out, F_OK) == 0)
				return 0;
		} else {
			globfree(&g);
		}
		msleep_(50);
	} while (now_s() < end);
	return -1;
}

#define BLKIO_LEN 65536

/* Results of blk_io(), kept in memory shared with its child. */
struct blkio_res {
	long rounds, errors, mismatches;
	int last_errno;
};

/*
 * O_DIRECT write/read/compare rounds of 64 KiB on /dev/vdX of NAME for
 * SECS seconds (at least one round), in a child, waiting at most LIMIT_MS.
 * Returns 0 when the child finished (see RES), -1 if it hung (it is
 * killed, and may stay in D state: the disk is then unusable).
 */
static inline int blk_io(const char *name, double secs, int limit_ms, struct blkio_res *res)
{
	struct blkio_res *sh;
	char path[300];
	pid_t pid;
	int r = 0;

	memset(res, 0, sizeof(*res));
	if (vd_path(name, path, sizeof(path), 5000)) {
		res->errors = 1;
		res->last_errno = ENODEV;
		return 0;
	}
	sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (sh == MAP_FAILED)
		return -1;
	memset(sh, 0, sizeof(*sh));
	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		uint8_t *buf = aligned_alloc(4096, BLKIO_LEN), *pat = malloc(BLKIO_LEN);
		double end = now_s() + secs;
		int fd = open(path, O_RDWR | O_DIRECT);
		unsigned int seed = getpid();

		if (fd < 0 || !buf || !pat) {
			sh->errors++;
			sh->last_errno = errno;
			_exit(0);
		}
		do {
			off_t at = (off_t)(rand_r(&seed) % 128) * BLKIO_LEN;
			int i;

			for (i = 0; i < BLKIO_LEN; i++)
				pat[i] = rand_r(&seed);
			memcpy(buf, pat, BLKIO_LEN);
			if (pwrite(fd, buf, BLKIO_LEN, at) != BLKIO_LEN) {
				sh->errors++;
				sh->last_errno = errno;
			} else {
				memset(buf, 0, BLKIO_LEN);
				if (pread(fd, buf, BLKIO_LEN, at) != BLKIO_LEN) {
					sh->errors++;
					sh->last_errno = errno;
				} else if (memcmp(buf, pat, BLKIO_LEN)) {
					sh->mismatches++;
				}
			}
			sh->rounds++;
		} while (now_s() < end);
		close(fd);
		_exit(0);
	}
	if (pid < 0 || wait_pid_ms(pid, limit_ms) < 0) {
		if (pid > 0)
			kill(pid, SIGKILL);
		r = -1;
	}
	*res = *sh;
	munmap(sh, sizeof(*sh));
	return r;
}

#endif
