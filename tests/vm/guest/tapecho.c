// SPDX-License-Identifier: GPL-2.0
/*
 * tapecho IFACE COUNT SECONDS [DELAY_MS]: the far end of vdpa-cvq --tap-echo, on the
 * TAP of a vduse-net device. Each frame of ethertype 0x88b5 the device writes
 * to the TAP is checked byte for byte (broadcast, byte 14 the frame's number,
 * byte k > 14 = number * 31 + k) and answered with the payload inverted, from
 * 02:ee:ee:ee:ee:ee, to broadcast. Prints "tapecho: ready" once the socket is
 * bound, one line per frame, and exits 0 after COUNT good frames; 1 on a bad
 * frame or when SECONDS pass first.
 *
 * Each line says how long after the frame reached the TAP it was answered:
 * tun steers the answer to the TAP queue that wrote the frame only once it
 * has recorded the flow (after delivering the frame) and while the flow
 * lives (3 s without traffic), so an answer may go to any queue, that is
 * to any receive queue of the device (docs/vdpa-cvq.md). DELAY_MS holds
 * each answer back that long.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#define ETYPE 0x88b5
#define FLEN 128

static long now_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1000L + t.tv_nsec / 1000000;
}

static int check(const unsigned char *f, ssize_t len, char *why, size_t wlen)
{
	static const unsigned char bcast[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
	int k;

	if (len != FLEN) {
		snprintf(why, wlen, "%zd bytes, %d expected", len, FLEN);
		return -1;
	}
	if (memcmp(f, bcast, 6)) {
		snprintf(why, wlen, "destination is not broadcast");
		return -1;
	}
	for (k = 15; k < FLEN; k++)
		if (f[k] != (unsigned char)(f[14] * 31 + k)) {
			snprintf(why, wlen, "byte %d is 0x%02x, 0x%02x expected", k, f[k],
				 (unsigned char)(f[14] * 31 + k));
			return -1;
		}
	return 0;
}

int main(int argc, char **argv)
{
	static const unsigned char me[6] = { 0x02, 0xee, 0xee, 0xee, 0xee, 0xee };
	struct sockaddr_ll a = { .sll_family = AF_PACKET, .sll_protocol = htons(ETYPE) };
	unsigned char f[2048], r[FLEN];
	int fd, count, good = 0, k, on = 1;
	long deadline, delay = 0;
	char why[96];

	if (argc != 4 && argc != 5) {
		fprintf(stderr, "usage: tapecho IFACE COUNT SECONDS [DELAY_MS]\n");
		return 2;
	}
	count = atoi(argv[2]);
	if (argc == 5)
		delay = atol(argv[4]);
	deadline = now_ms() + atol(argv[3]) * 1000L;
	a.sll_ifindex = (int)if_nametoindex(argv[1]);
	if (!a.sll_ifindex) {
		fprintf(stderr, "tapecho: %s: %s\n", argv[1], strerror(errno));
		return 1;
	}
	fd = socket(AF_PACKET, SOCK_RAW, htons(ETYPE));
	if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) ||
	    setsockopt(fd, SOL_SOCKET, SO_TIMESTAMPNS, &on, sizeof(on))) {
		fprintf(stderr, "tapecho: packet socket on %s: %s\n", argv[1], strerror(errno));
		return 1;
	}
	printf("tapecho: ready\n");
	fflush(stdout);
	while (good < count) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		struct sockaddr_ll from;
		long left = deadline - now_ms();
		union {
			struct cmsghdr h;
			char b[CMSG_SPACE(sizeof(struct timespec))];
		} cb;
		struct iovec iov = { .iov_base = f, .iov_len = sizeof(f) };
		struct msghdr m = { .msg_name = &from, .msg_namelen = sizeof(from), .msg_iov = &iov,
				    .msg_iovlen = 1, .msg_control = cb.b, .msg_controllen = sizeof(cb.b) };
		struct timespec arrived = { 0, 0 }, t;
		struct cmsghdr *c;
		ssize_t n;

		if (left <= 0 || poll(&p, 1, (int)left) <= 0)
			break;
		n = recvmsg(fd, &m, 0);
		if (n < 0)
			break;
		for (c = CMSG_FIRSTHDR(&m); c; c = CMSG_NXTHDR(&m, c))
			if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SO_TIMESTAMPNS)
				memcpy(&arrived, CMSG_DATA(c), sizeof(arrived));
		if (from.sll_pkttype == PACKET_OUTGOING)	/* our own answers */
			continue;
		if (check(f, n, why, sizeof(why))) {
			printf("tapecho: bad frame: %s\n", why);
			return 1;
		}
		memcpy(r, f, 6);
		memcpy(r + 6, me, 6);
		memcpy(r + 12, f + 12, 2);
		for (k = 14; k < FLEN; k++)
			r[k] = (unsigned char)~f[k];
		if (delay > 0)
			usleep((useconds_t)delay * 1000);
		clock_gettime(CLOCK_REALTIME, &t);
		if (sendto(fd, r, sizeof(r), 0, (struct sockaddr *)&a, sizeof(a)) != sizeof(r)) {
			printf("tapecho: send: %s\n", strerror(errno));
			return 1;
		}
		good++;
		printf("tapecho: frame %u from %02x:%02x:%02x:%02x:%02x:%02x checked, answered %ld ms after it reached the TAP\n",
		       f[14], f[6], f[7], f[8], f[9], f[10], f[11],
		       arrived.tv_sec ? (t.tv_sec - arrived.tv_sec) * 1000L + (t.tv_nsec - arrived.tv_nsec) / 1000000 : -1L);
		fflush(stdout);
	}
	printf("tapecho: %d of %d frames checked and answered\n", good, count);
	return good == count ? 0 : 1;
}
