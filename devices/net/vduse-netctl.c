// SPDX-License-Identifier: GPL-2.0
/*
 * vduse-netctl: talk to a running vduse-net over its control socket.
 *
 *   vduse-netctl [--run-dir DIR] NAME state|link up|link down|announce
 *
 * Sends one command line, prints the daemon's answer (JSON for "state"),
 * exits 1 if the daemon answered "error: ...".
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

static void usage(FILE *f)
{
	fputs("Usage: vduse-netctl [--run-dir DIR] NAME COMMAND\n"
	      "Commands:\n"
	      "  state        the device state as JSON\n"
	      "  link up      set the link up (config interrupt)\n"
	      "  link down    set the link down (config interrupt)\n"
	      "  announce     ask the driver to announce itself (GUEST_ANNOUNCE)\n"
	      "DIR defaults to /run/vduse-net, as for vduse-net.\n", f);
}

int main(int argc, char **argv)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	const char *dir = "/run/vduse-net";
	char cmd[128] = "", buf[65536];
	int i = 1, fd, err = 0, first = 1;
	ssize_t n;

	if (argc > 1 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"))) {
		usage(stdout);
		return 0;
	}
	if (argc > 2 && !strcmp(argv[1], "--run-dir")) {
		dir = argv[2];
		i = 3;
	}
	if (argc - i < 2) {
		usage(stderr);
		return 2;
	}
	if ((size_t)snprintf(a.sun_path, sizeof(a.sun_path), "%s/%s.sock", dir, argv[i]) >=
	    sizeof(a.sun_path)) {
		fprintf(stderr, "vduse-netctl: socket path too long\n");
		return 2;
	}
	for (i++; i < argc; i++) {
		if (strlen(cmd) + strlen(argv[i]) + 2 >= sizeof(cmd)) {
			fprintf(stderr, "vduse-netctl: command too long\n");
			return 2;
		}
		if (cmd[0])
			strcat(cmd, " ");
		strcat(cmd, argv[i]);
	}
	strcat(cmd, "\n");
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
		fprintf(stderr, "vduse-netctl: %s: %s (is vduse-net running for that NAME?)\n",
			a.sun_path, strerror(errno));
		return 1;
	}
	if (write(fd, cmd, strlen(cmd)) != (ssize_t)strlen(cmd)) {
		fprintf(stderr, "vduse-netctl: write: %s\n", strerror(errno));
		return 1;
	}
	while ((n = read(fd, buf, sizeof(buf))) > 0) {
		if (first && n >= 6 && !strncmp(buf, "error:", 6))
			err = 1;
		first = 0;
		fwrite(buf, 1, n, err ? stderr : stdout);
	}
	close(fd);
	return err;
}
