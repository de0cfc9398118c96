// SPDX-License-Identifier: GPL-2.0
/*
 * qmp: send QMP commands to a QEMU monitor socket and print the replies
 * (busybox nc cannot connect to a unix socket).
 *
 *   qmp SOCKET 'JSON-COMMAND'...
 *
 * Negotiates capabilities, sends each command in turn and prints its reply
 * (the "return" or "error" object line, events skipped) on one line of
 * stdout. Exit status: 0 if every command returned, 1 if one answered with
 * an error, 2 on a connection or protocol failure or after 30 s without a
 * reply.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define LINE_MAX_ (1 << 20)

static char buf[LINE_MAX_];
static size_t have;

/* Next '\n'-terminated line from FD into buf (NUL-terminated); length or -1. */
static long read_line(int fd, int timeout_ms)
{
	static size_t consumed;
	char *nl;

	if (consumed) {
		memmove(buf, buf + consumed, have - consumed);
		have -= consumed;
		consumed = 0;
	}
	for (;;) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		ssize_t n;

		nl = memchr(buf, '\n', have);
		if (nl) {
			*nl = 0;
			consumed = nl - buf + 1;
			return nl - buf;
		}
		if (have >= sizeof(buf) - 1)
			return -1;	/* one reply larger than 1 MiB: give up */
		if (poll(&p, 1, timeout_ms) <= 0)
			return -1;
		n = read(fd, buf + have, sizeof(buf) - 1 - have);
		if (n <= 0)
			return -1;
		have += n;
	}
}

/* Send CMD and wait for its reply (a line with "return" or "error"). */
static int command(int fd, const char *cmd, int print)
{
	size_t len = strlen(cmd);
	long n;

	if (write(fd, cmd, len) != (ssize_t)len || write(fd, "\n", 1) != 1)
		return 2;
	for (;;) {
		n = read_line(fd, 30000);
		if (n < 0)
			return 2;
		if (strstr(buf, "\"event\"") && !strstr(buf, "\"return\""))
			continue;
		if (print)
			printf("%s\n", buf);
		if (strncmp(buf, "{\"return\"", 9) == 0)
			return 0;
		if (strncmp(buf, "{\"error\"", 8) == 0)
			return 1;
	}
}

int main(int argc, char **argv)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd, i, rc = 0, r;

	if (argc < 3) {
		fprintf(stderr, "usage: qmp SOCKET JSON-COMMAND...\n");
		return 2;
	}
	if (strlen(argv[1]) >= sizeof(sa.sun_path)) {
		fprintf(stderr, "qmp: socket path too long\n");
		return 2;
	}
	strcpy(sa.sun_path, argv[1]);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		fprintf(stderr, "qmp: %s: %s\n", argv[1], strerror(errno));
		return 2;
	}
	/* the greeting, then capabilities negotiation */
	if (read_line(fd, 30000) < 0 || !strstr(buf, "\"QMP\"")) {
		fprintf(stderr, "qmp: %s: no QMP greeting\n", argv[1]);
		return 2;
	}
	if (command(fd, "{\"execute\":\"qmp_capabilities\"}", 0)) {
		fprintf(stderr, "qmp: %s: qmp_capabilities refused\n", argv[1]);
		return 2;
	}
	for (i = 2; i < argc; i++) {
		r = command(fd, argv[i], 1);
		if (r == 2) {
			fprintf(stderr, "qmp: %s: no reply to %s\n", argv[1], argv[i]);
			return 2;
		}
		if (r)
			rc = 1;
	}
	close(fd);
	return rc;
}
