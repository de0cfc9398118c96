// SPDX-License-Identifier: GPL-2.0
/*
 * tapsteer IFACE QUEUE: send every frame the kernel transmits on the
 * multi-queue TAP IFACE to its queue QUEUE (modulo the queues attached),
 * whatever tun's flow table says; tapsteer IFACE off removes that again.
 *
 * Without a steering program tun picks the queue of the flow the frame
 * belongs to (the queue that last wrote a frame of the same hash), or, for
 * a flow it does not know, hash % queues: it records a flow only after
 * delivering the frame that starts it (a quick answer can beat that) and
 * forgets it after 3 s idle. The device behind the TAP (vduse-net) hands a
 * frame read from TAP queue k to the receive queue of pair k, so this
 * makes the device deliver on pair QUEUE, every time, what it otherwise
 * delivers on pair 0 only most of the time: a consumer must take frames
 * from every active pair (virtio-net without RSS promises nothing else).
 *
 * The program is a two-instruction socket filter (r0 = QUEUE; exit) set
 * with TUNSETSTEERINGEBPF, which needs an attached queue: one is attached
 * for the call and closed again; the program stays with the TAP. Exits 0,
 * 1 on error, 3 when the kernel has no bpf() (a test should skip).
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/bpf.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <unistd.h>

static int prog_load(int queue)
{
	struct bpf_insn insn[2];
	union bpf_attr a;

	memset(insn, 0, sizeof(insn));
	insn[0].code = BPF_ALU64 | BPF_MOV | BPF_K;	/* r0 = queue */
	insn[0].dst_reg = BPF_REG_0;
	insn[0].imm = queue;
	insn[1].code = BPF_JMP | BPF_EXIT;
	memset(&a, 0, sizeof(a));
	a.prog_type = BPF_PROG_TYPE_SOCKET_FILTER;
	a.insn_cnt = 2;
	a.insns = (uintptr_t)insn;
	a.license = (uintptr_t)"GPL";
	return (int)syscall(SYS_bpf, BPF_PROG_LOAD, &a, sizeof(a));
}

int main(int argc, char **argv)
{
	struct ifreq ifr;
	int fd, prog = -1;
	char *end;
	long q = 0;

	if (argc != 3) {
		fprintf(stderr, "usage: tapsteer IFACE QUEUE|off\n");
		return 2;
	}
	if (strcmp(argv[2], "off")) {
		q = strtol(argv[2], &end, 0);
		if (*end || q < 0 || q > 255) {
			fprintf(stderr, "tapsteer: bad queue '%s'\n", argv[2]);
			return 2;
		}
		prog = prog_load((int)q);
		if (prog < 0) {
			fprintf(stderr, "tapsteer: bpf(BPF_PROG_LOAD): %s\n", strerror(errno));
			return errno == ENOSYS ? 3 : 1;
		}
	}
	fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		fprintf(stderr, "tapsteer: /dev/net/tun: %s\n", strerror(errno));
		return 1;
	}
	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", argv[1]);
	ifr.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR | IFF_MULTI_QUEUE;
	if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
		fprintf(stderr, "tapsteer: attach a queue to %s: %s\n", argv[1], strerror(errno));
		return 1;
	}
	if (ioctl(fd, TUNSETSTEERINGEBPF, &prog) < 0) {
		fprintf(stderr, "tapsteer: TUNSETSTEERINGEBPF: %s\n", strerror(errno));
		return 1;
	}
	close(fd);
	if (prog >= 0)
		close(prog);
	if (prog >= 0)
		printf("tapsteer: %s: every frame to queue %ld (modulo the queues)\n", argv[1], q);
	else
		printf("tapsteer: %s: steering program removed\n", argv[1]);
	return 0;
}
