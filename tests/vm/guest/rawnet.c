// SPDX-License-Identifier: GPL-2.0
/*
 * rawnet: a raw VDUSE API v1 virtio-net device for the migration suite while
 * there is no vduse-net daemon: rx and tx in group 0, the CVQ alone in group 1,
 * two address spaces (or, with --shared-cvq, every vq in group 0). It has no
 * data path and never processes the CVQ; it answers every message (OK) and
 * logs it, so a VMM can probe, bind the CVQ to ASID 1, start, reset and
 * migrate it. Because it offers no CTRL_RX/CTRL_MAC_ADDR/MQ, neither the guest
 * nor QEMU's restore sends it a control command.
 *
 *   rawnet NAME [--mac XX:XX:XX:XX:XX:XX] [--shared-cvq]
 *
 * Prints "rawnet NAME: vhost /dev/vhost-vdpa-N" once bound to vhost_vdpa, then
 * one line per message ("rawnet NAME: SET_STATUS 0xc", "... GROUP_ASID 1 1",
 * "... UPDATE_IOTLB asid 1 0x...-0x...", "... VQ_STATE 2 0"), and removes the
 * device on SIGTERM or SIGINT.
 */
#define _GNU_SOURCE
#include <signal.h>
#include "vduse_test.h"

static volatile sig_atomic_t done;

static void on_signal(int sig)
{
	done = 1;
}

static int parse_mac(const char *s, uint8_t mac[6])
{
	unsigned int b[6];
	int i;

	if (sscanf(s, "%x:%x:%x:%x:%x:%x", &b[0], &b[1], &b[2], &b[3], &b[4], &b[5]) != 6)
		return -1;
	for (i = 0; i < 6; i++) {
		if (b[i] > 255)
			return -1;
		mac[i] = b[i];
	}
	return 0;
}

/* A device that consumed nothing is where the driver set it: report that. */
static uint16_t vq_position(int fd, uint32_t index)
{
	struct vduse_vq_info info;

	memset(&info, 0, sizeof(info));
	info.index = index;
	if (ioctl(fd, VDUSE_VQ_GET_INFO, &info) < 0)
		return 0;
	return info.split.avail_index;
}

static void answer(const char *name, int fd, const struct vduse_dev_request *req)
{
	struct vduse_dev_response resp;

	memset(&resp, 0, sizeof(resp));
	resp.request_id = req->request_id;
	resp.result = VDUSE_REQ_RESULT_OK;
	switch (req->type) {
	case VDUSE_GET_VQ_STATE:
		resp.vq_state.index = req->vq_state.index;
		resp.vq_state.split.avail_index = vq_position(fd, req->vq_state.index);
		printf("rawnet %s: VQ_STATE %u %u\n", name, req->vq_state.index,
		       resp.vq_state.split.avail_index);
		break;
	case VDUSE_SET_STATUS:
		printf("rawnet %s: SET_STATUS 0x%x\n", name, req->s.status);
		break;
	case VDUSE_UPDATE_IOTLB:
		printf("rawnet %s: UPDATE_IOTLB asid %u 0x%llx-0x%llx\n", name, req->iova_v2.asid,
		       (unsigned long long)req->iova_v2.start, (unsigned long long)req->iova_v2.last);
		break;
	case VDUSE_SET_VQ_GROUP_ASID:
		printf("rawnet %s: GROUP_ASID %u %u\n", name, req->vq_group_asid.group,
		       req->vq_group_asid.asid);
		break;
	default:
		printf("rawnet %s: unknown request %u (refused)\n", name, req->type);
		resp.result = VDUSE_REQ_RESULT_FAILED;
		break;
	}
	fflush(stdout);
	if (write(fd, &resp, sizeof(resp)) != sizeof(resp))
		printf("rawnet %s: reply failed: %s\n", name, strerror(errno));
}

int main(int argc, char **argv)
{
	uint8_t mac[6] = { 0x52, 0x54, 0x00, 0xab, 0xcd, 0x01 };
	struct vduse_vq_config vq;
	struct sigaction sa;
	struct devcfg cfg;
	const char *name;
	char path[300];
	int ctl, fd, i, shared = 0, rc = 1;

	if (argc < 2) {
		fprintf(stderr, "usage: rawnet NAME [--mac MAC] [--shared-cvq]\n");
		return 2;
	}
	name = argv[1];
	for (i = 2; i < argc; i++) {
		if (!strcmp(argv[i], "--mac") && i + 1 < argc) {
			if (parse_mac(argv[++i], mac)) {
				fprintf(stderr, "rawnet: bad MAC %s\n", argv[i]);
				return 2;
			}
		} else if (!strcmp(argv[i], "--shared-cvq")) {
			shared = 1;
		} else {
			fprintf(stderr, "rawnet: unknown argument %s\n", argv[i]);
			return 2;
		}
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);

	ctl = ctl_open();
	if (ctl < 0 || ctl_set_version(ctl, 1) < 0) {
		printf("rawnet %s: /dev/vduse/control API v1: %s\n", name, strerror(errno));
		return 1;
	}
	net_cfg(&cfg, name, 3, shared ? 1 : 2, 2);
	cfg.c.features |= (1ull << VIRTIO_NET_F_MAC) | (1ull << VIRTIO_NET_F_STATUS) |
			  (1ull << VIRTIO_NET_F_CTRL_VQ) | (1ull << VIRTIO_NET_F_MTU);
	memcpy(cfg.net.mac, mac, 6);
	cfg.net.status = VIRTIO_NET_S_LINK_UP;
	if (ioctl(ctl, VDUSE_CREATE_DEV, &cfg) < 0) {
		printf("rawnet %s: CREATE_DEV: %s\n", name, strerror(errno));
		return 1;
	}
	fd = dev_open(name);
	if (fd < 0) {
		printf("rawnet %s: open: %s\n", name, strerror(errno));
		goto destroy;
	}
	for (i = 0; i < 3; i++) {
		memset(&vq, 0, sizeof(vq));
		vq.index = i;
		vq.max_size = 256;
		vq.group = (i == 2 && !shared) ? 1 : 0;
		if (ioctl(fd, VDUSE_VQ_SETUP, &vq) < 0) {
			printf("rawnet %s: VQ_SETUP %d: %s\n", name, i, strerror(errno));
			goto close_fd;
		}
	}
	if (vdpa_add(name) != 0 || vhost_path(name, path, sizeof(path)) < 0) {
		printf("rawnet %s: not bound to vhost_vdpa\n", name);
		goto del;
	}
	printf("rawnet %s: vhost %s\n", name, path);
	while (!done) {
		struct vduse_dev_request req;
		struct pollfd p = { .fd = fd, .events = POLLIN };

		if (poll(&p, 1, 200) <= 0 || !(p.revents & POLLIN))
			continue;
		if (read(fd, &req, sizeof(req)) != sizeof(req))
			continue;
		answer(name, fd, &req);
	}
	rc = 0;
del:
	vdpa_del(name);
close_fd:
	close(fd);
destroy:
	if (dev_destroy(ctl, name) < 0) {
		printf("rawnet %s: DESTROY_DEV: %s\n", name, strerror(errno));
		rc = 1;
	}
	printf("rawnet %s: removed\n", name);
	return rc;
}
