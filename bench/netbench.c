// SPDX-License-Identifier: GPL-2.0
/*
 * netbench: the load of the network bench (bench/run-net). UDP between two
 * network namespaces over a given path, in short slices taking turns
 * between paths (e.g. vduse-net's virtio-vdpa netdev <-> its TAP, and a
 * veth pair as the kernel-only reference):
 *   frames per second delivered one way (the sender blasts with sendmmsg,
 *   the receiver counts what arrives), both directions, and the round
 *   trip of one datagram at a time (median of the slice).
 * Frame sizes: 64 bytes (60 + FCS: 18 bytes of UDP payload) and 1500-byte
 * IP packets (1472 bytes of payload).
 *
 *   netbench [--seconds S] [--rounds N] [--switch CMD] NAME=NSA/IPA,NSB/IPB...
 *
 * --switch: "CMD NAME" runs (through the shell) before each turn of path
 * NAME, e.g. to start a busy-polling forwarder (DPDK's testpmd) only for
 * its own turns so that it does not take a CPU from the other paths; a
 * non-zero status is fatal.
 * NSA/NSB are names under /run/netns. Prints, per slice:
 *   # bench NAME fps-SIZE-a2b FPS fps     (and -b2a)
 *   # benchlat NAME rtt-SIZE US us
 * Exit status 1 if a path delivered nothing at all.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define PORT	9000
#define BATCH	32
#define MAX_PATHS 4

struct path {
	const char *name;
	char ns[2][64];
	struct sockaddr_in addr[2];
};

static double now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec + t.tv_nsec / 1e9;
}

/* A UDP socket created in namespace @ns, bound to @a (port PORT + @off). */
static int ns_socket(const char *ns, struct sockaddr_in a, int off)
{
	char p[128];
	int self, fd, s, one = 1, buf = 4 << 20;

	snprintf(p, sizeof(p), "/run/netns/%s", ns);
	self = open("/proc/self/ns/net", O_RDONLY);
	fd = open(p, O_RDONLY);
	if (self < 0 || fd < 0 || setns(fd, CLONE_NEWNET)) {
		fprintf(stderr, "netbench: netns %s: %s\n", ns, strerror(errno));
		exit(2);
	}
	s = socket(AF_INET, SOCK_DGRAM, 0);
	setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	setsockopt(s, SOL_SOCKET, SO_RCVBUF, &buf, sizeof(buf));
	setsockopt(s, SOL_SOCKET, SO_SNDBUF, &buf, sizeof(buf));
	a.sin_port = htons(PORT + off);
	if (s < 0 || bind(s, (struct sockaddr *)&a, sizeof(a))) {
		fprintf(stderr, "netbench: bind in %s: %s\n", ns, strerror(errno));
		exit(2);
	}
	if (setns(self, CLONE_NEWNET))
		exit(2);
	close(fd);
	close(self);
	return s;
}

struct rx { int fd; volatile int stop; long n; };

static void *receiver(void *arg)
{
	struct rx *r = arg;
	static char bufs[BATCH][2048];
	struct mmsghdr m[BATCH];
	struct iovec iov[BATCH];
	struct timespec to = { 0, 20000000 };
	int i, k;

	for (i = 0; i < BATCH; i++) {
		iov[i].iov_base = bufs[i];
		iov[i].iov_len = sizeof(bufs[i]);
		memset(&m[i], 0, sizeof(m[i]));
		m[i].msg_hdr.msg_iov = &iov[i];
		m[i].msg_hdr.msg_iovlen = 1;
	}
	setsockopt(r->fd, SOL_SOCKET, SO_RCVTIMEO, &(struct timeval){ 0, 20000 },
		   sizeof(struct timeval));
	while (!r->stop) {
		k = recvmmsg(r->fd, m, BATCH, MSG_WAITFORONE, &to);
		if (k > 0)
			r->n += k;
	}
	return NULL;
}

static void drain(int fd)
{
	char b[2048];

	while (recv(fd, b, sizeof(b), MSG_DONTWAIT) > 0)
		;
}

/* Frames per second from @tx to @rx's address over @secs. */
static double stream(int tx, int rxfd, struct sockaddr_in to, size_t len, double secs)
{
	static char payload[1500];
	struct mmsghdr m[BATCH];
	struct iovec iov = { payload, len };
	struct rx r = { .fd = rxfd };
	pthread_t t;
	double end, t0;
	int i;

	drain(rxfd);
	for (i = 0; i < BATCH; i++) {
		memset(&m[i], 0, sizeof(m[i]));
		m[i].msg_hdr.msg_name = &to;
		m[i].msg_hdr.msg_namelen = sizeof(to);
		m[i].msg_hdr.msg_iov = &iov;
		m[i].msg_hdr.msg_iovlen = 1;
	}
	pthread_create(&t, NULL, receiver, &r);
	t0 = now();
	end = t0 + secs;
	while (now() < end)
		if (sendmmsg(tx, m, BATCH, 0) < 0 && errno != ENOBUFS && errno != EAGAIN)
			break;
	usleep(50000);	/* what is still in flight counts */
	r.stop = 1;
	pthread_join(t, NULL);
	return r.n / secs;	/* sent for secs; the tail counts */
}

struct echo { int fd; volatile int stop; };

static void *echoer(void *arg)
{
	struct echo *e = arg;
	struct sockaddr_in from;
	socklen_t fl;
	char b[2048];
	ssize_t n;

	setsockopt(e->fd, SOL_SOCKET, SO_RCVTIMEO, &(struct timeval){ 0, 20000 },
		   sizeof(struct timeval));
	while (!e->stop) {
		fl = sizeof(from);
		n = recvfrom(e->fd, b, sizeof(b), 0, (struct sockaddr *)&from, &fl);
		if (n > 0)
			sendto(e->fd, b, n, 0, (struct sockaddr *)&from, fl);
	}
	return NULL;
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* Median round trip in microseconds, one datagram at a time; -1 if none. */
static double rtt(int a, int b, struct sockaddr_in to, size_t len, double secs)
{
	static char payload[1500], back[2048];
	static double t[100000];
	struct echo e = { .fd = b };
	pthread_t th;
	double end = now() + secs, t0;
	int n = 0;

	drain(a);
	drain(b);
	pthread_create(&th, NULL, echoer, &e);
	setsockopt(a, SOL_SOCKET, SO_RCVTIMEO, &(struct timeval){ 0, 200000 },
		   sizeof(struct timeval));
	while (now() < end && n < 100000) {
		t0 = now();
		if (sendto(a, payload, len, 0, (struct sockaddr *)&to, sizeof(to)) < 0)
			break;
		if (recv(a, back, sizeof(back), 0) <= 0)
			continue;	/* lost: not counted */
		t[n++] = (now() - t0) * 1e6;
	}
	e.stop = 1;
	pthread_join(th, NULL);
	if (!n)
		return -1;
	qsort(t, n, sizeof(t[0]), cmp);
	return t[n / 2];
}

/* Runs "@cmd @name"; path names are checked to be [A-Za-z0-9_-] at parse time. */
static int switch_to(const char *cmd, const char *name)
{
	char line[512];
	int rc;

	snprintf(line, sizeof(line), "%s %s", cmd, name);
	fflush(stdout);
	rc = system(line);
	if (rc)
		fprintf(stderr, "netbench: '%s' failed (status %d)\n", line, rc);
	return rc;
}

int main(int argc, char **argv)
{
	static const size_t sizes[] = { 18, 1472 };
	static const char *const names[] = { "64", "1500" };
	struct path paths[MAX_PATHS];
	int np = 0, rounds = 8, i, r, s, bad = 0;
	int sock[MAX_PATHS][2];
	double secs = 0.25;
	const char *sw = NULL;

	for (i = 1; i < argc; i++) {
		char *eq, *sl1, *c, *sl2;
		struct path *p = &paths[np];

		if (!strcmp(argv[i], "--seconds") && i + 1 < argc) {
			secs = atof(argv[++i]);
			continue;
		}
		if (!strcmp(argv[i], "--rounds") && i + 1 < argc) {
			rounds = atoi(argv[++i]);
			continue;
		}
		if (!strcmp(argv[i], "--switch") && i + 1 < argc) {
			sw = argv[++i];
			continue;
		}
		eq = strchr(argv[i], '=');
		sl1 = eq ? strchr(eq, '/') : NULL;
		c = sl1 ? strchr(sl1, ',') : NULL;
		sl2 = c ? strchr(c, '/') : NULL;
		if (!sl2 || np == MAX_PATHS) {
			fprintf(stderr, "usage: netbench [--seconds S] [--rounds N] [--switch CMD] NAME=NSA/IPA,NSB/IPB...\n");
			return 2;
		}
		*eq = *sl1 = *c = *sl2 = 0;
		p->name = argv[i];
		if (!*p->name || strspn(p->name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-") !=
		    strlen(p->name)) {
			fprintf(stderr, "netbench: path names are [A-Za-z0-9_-]\n");
			return 2;
		}
		snprintf(p->ns[0], sizeof(p->ns[0]), "%s", eq + 1);
		snprintf(p->ns[1], sizeof(p->ns[1]), "%s", c + 1);
		memset(p->addr, 0, sizeof(p->addr));
		p->addr[0].sin_family = p->addr[1].sin_family = AF_INET;
		if (inet_pton(AF_INET, sl1 + 1, &p->addr[0].sin_addr) != 1 ||
		    inet_pton(AF_INET, sl2 + 1, &p->addr[1].sin_addr) != 1)
			return 2;
		np++;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	for (i = 0; i < np; i++) {
		sock[i][0] = ns_socket(paths[i].ns[0], paths[i].addr[0], i * 2);
		sock[i][1] = ns_socket(paths[i].ns[1], paths[i].addr[1], i * 2 + 1);
		paths[i].addr[0].sin_port = htons(PORT + i * 2);
		paths[i].addr[1].sin_port = htons(PORT + i * 2 + 1);
	}
	for (s = 0; s < 2; s++) {
		for (r = 0; r < rounds; r++) {
			for (int k = 0; k < np; k++) {
				/* each round starts with the next path */
				int p = (k + r) % np;

				if (sw && switch_to(sw, paths[p].name))
					return 2;
				double a2b = stream(sock[p][0], sock[p][1], paths[p].addr[1], sizes[s], secs);
				double b2a = stream(sock[p][1], sock[p][0], paths[p].addr[0], sizes[s], secs);
				double us = rtt(sock[p][0], sock[p][1], paths[p].addr[1], sizes[s], secs);

				printf("# bench %s fps-%s-a2b %.0f fps\n", paths[p].name, names[s], a2b);
				printf("# bench %s fps-%s-b2a %.0f fps\n", paths[p].name, names[s], b2a);
				if (us > 0)
					printf("# benchlat %s rtt-%s %.1f us\n", paths[p].name, names[s], us);
				bad |= a2b <= 0 || b2a <= 0 || us <= 0;
			}
		}
	}
	return bad;
}
