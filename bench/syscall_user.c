// SPDX-License-Identifier: GPL-2.0
/*
 * User time between system calls, for the library bench: linked into a
 * null device with -Wl,--wrap=epoll_wait,--wrap=poll,--wrap=read,--wrap=ioctl
 * (bench/bench.mk, `make bench-lib-syscall-progs`: null-oursw, null-raww),
 * it timestamps each of those calls and adds up the time the process spent
 * between them (its user-space work per wake-up: the loop, the ring walk,
 * the answer; preemption included) and inside read() and ioctl() (the kick
 * read, the interrupt injection, IOTLB fetches). Printed at exit:
 *
 *   # nullblk syscalls PID: user_ns U in_read_ioctl_ns K segments S served
 *
 * to divide by the requests the daemon served (its own "served" line).
 * Two clock reads per call: a diagnostic, not for the headline figures.
 */
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>

static uint64_t t_out, user_ns, sys_ns, nseg;
static int armed;

static uint64_t now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1000000000ull + t.tv_nsec;
}

static uint64_t enter(void)
{
	uint64_t t = now();

	if (armed) {
		user_ns += t - t_out;
		nseg++;
	}
	return t;
}

static void leave(uint64_t t0, int waits)
{
	t_out = now();
	if (!waits)
		sys_ns += t_out - t0;
	armed = 1;
}

int __real_epoll_wait(int epfd, struct epoll_event *ev, int n, int ms);
int __wrap_epoll_wait(int epfd, struct epoll_event *ev, int n, int ms)
{
	uint64_t t = enter();
	int ret = __real_epoll_wait(epfd, ev, n, ms);

	leave(t, 1);
	return ret;
}

int __real_poll(struct pollfd *p, nfds_t n, int ms);
int __wrap_poll(struct pollfd *p, nfds_t n, int ms)
{
	uint64_t t = enter();
	int ret = __real_poll(p, n, ms);

	leave(t, 1);
	return ret;
}

ssize_t __real_read(int fd, void *buf, size_t len);
ssize_t __wrap_read(int fd, void *buf, size_t len)
{
	uint64_t t = enter();
	ssize_t ret = __real_read(fd, buf, len);

	leave(t, 0);
	return ret;
}

int __real_ioctl(int fd, unsigned long req, void *arg);
int __wrap_ioctl(int fd, unsigned long req, void *arg)
{
	uint64_t t = enter();
	int ret = __real_ioctl(fd, req, arg);

	leave(t, 0);
	return ret;
}

__attribute__((destructor)) static void report(void)
{
	printf("# nullblk syscalls %d: user_ns %llu in_read_ioctl_ns %llu segments %llu served\n",
	       (int)getpid(), (unsigned long long)user_ns, (unsigned long long)sys_ns,
	       (unsigned long long)nseg);
}
