// SPDX-License-Identifier: GPL-2.0
/*
 * Unit tests of libvdpacvq's device part (tools/vdpa-cvq/vhostdev.c) against
 * a fake vhost-vdpa device: the test links with -Wl,--wrap for ioctl,
 * memfd_create, mmap and munmap (tools/tools.mk). The "device" is /dev/null
 * (the IOTLB messages written to it are taken whole); every ioctl is
 * answered here, from the knobs of struct fake. No CVQ command is answered,
 * so the sessions here start without a state to restore.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <linux/vhost.h>
#include <linux/virtio_config.h>
#include <linux/virtio_net.h>
#include <linux/virtio_ring.h>
#include "tap.h"
#include "libvdpacvq.h"

#define BIT(n) (1ull << (n))
#define BASE_F (BIT(VIRTIO_F_VERSION_1) | BIT(VIRTIO_F_ACCESS_PLATFORM) | BIT(VIRTIO_NET_F_MAC) | \
		BIT(VIRTIO_NET_F_CTRL_VQ))

static struct fake {
	uint64_t offered;
	uint16_t max_pairs;
	uint32_t nvqs, ngroups, nas;
	int group_err_vq;		/* GET_VRING_GROUP of this vq: EIO; -1 none */
	int memfd_fail_at;		/* the Nth memfd_create fails (1-based); 0 never */
	/* observed */
	uint8_t status;
	uint64_t set_features;		/* the last SET_FEATURES */
	int memfds, live_maps;
} fk;

static void fake_reset(uint64_t offered, uint16_t max_pairs, uint32_t nvqs)
{
	memset(&fk, 0, sizeof(fk));
	fk.offered = offered;
	fk.max_pairs = max_pairs;
	fk.nvqs = nvqs;
	fk.ngroups = 2;
	fk.nas = 2;
	fk.group_err_vq = -1;
}

/* The CVQ of the negotiated features (virtio 1.3: 2N with MQ or RSS) is in group 1, the rest in 0. */
static uint32_t fake_cvq(void)
{
	uint64_t f = fk.set_features;

	return f & (BIT(VIRTIO_NET_F_MQ) | BIT(VIRTIO_NET_F_RSS)) ? 2u * fk.max_pairs : 2;
}

int __real_ioctl(int fd, unsigned long req, ...);
int __wrap_ioctl(int fd, unsigned long req, ...)
{
	va_list ap;
	void *arg;

	va_start(ap, req);
	arg = va_arg(ap, void *);
	va_end(ap);
	switch (req) {
	case VHOST_SET_OWNER:
	case VHOST_SET_BACKEND_FEATURES:
	case VHOST_VDPA_SET_GROUP_ASID:
	case VHOST_SET_VRING_NUM:
	case VHOST_SET_VRING_ADDR:
	case VHOST_SET_VRING_BASE:
	case VHOST_SET_VRING_KICK:
	case VHOST_SET_VRING_CALL:
	case VHOST_VDPA_SET_VRING_ENABLE:
		return 0;
	case VHOST_GET_BACKEND_FEATURES:
		*(uint64_t *)arg = BIT(VHOST_BACKEND_F_IOTLB_MSG_V2) | BIT(VHOST_BACKEND_F_IOTLB_BATCH) |
				   BIT(VHOST_BACKEND_F_IOTLB_ASID);
		return 0;
	case VHOST_VDPA_GET_DEVICE_ID:
		*(uint32_t *)arg = 1;	/* VIRTIO_ID_NET */
		return 0;
	case VHOST_GET_FEATURES:
		*(uint64_t *)arg = fk.offered;
		return 0;
	case VHOST_SET_FEATURES:
		fk.set_features = *(uint64_t *)arg;
		return 0;
	case VHOST_VDPA_GET_VQS_COUNT:
		*(uint32_t *)arg = fk.nvqs;
		return 0;
	case VHOST_VDPA_GET_GROUP_NUM:
		*(uint32_t *)arg = fk.ngroups;
		return 0;
	case VHOST_VDPA_GET_AS_NUM:
		*(uint32_t *)arg = fk.nas;
		return 0;
	case VHOST_VDPA_GET_CONFIG_SIZE:
		*(uint32_t *)arg = 12;
		return 0;
	case VHOST_VDPA_GET_CONFIG: {
		struct vhost_vdpa_config *c = arg;
		uint8_t cfg[12] = { 0x02, 0, 0, 0, 0, 0x0a, 1, 0, fk.max_pairs & 0xff, fk.max_pairs >> 8, 0xdc, 5 };

		memcpy(c->buf, cfg + c->off, c->len);
		return 0;
	}
	case VHOST_VDPA_SET_STATUS:
		fk.status = *(uint8_t *)arg;
		return 0;
	case VHOST_VDPA_GET_STATUS:
		*(uint8_t *)arg = fk.status;
		return 0;
	case VHOST_VDPA_GET_VRING_GROUP: {
		struct vhost_vring_state *s = arg;

		if ((int)s->index == fk.group_err_vq) {
			errno = EIO;
			return -1;
		}
		s->num = s->index == fake_cvq() ? 1 : 0;
		return 0;
	}
	}
	return __real_ioctl(fd, req, arg);
}

int __real_memfd_create(const char *name, unsigned int flags);
int __wrap_memfd_create(const char *name, unsigned int flags)
{
	if (++fk.memfds == fk.memfd_fail_at) {
		errno = EMFILE;
		return -1;
	}
	return __real_memfd_create(name, flags);
}

void *__real_mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off);
void *__wrap_mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
	void *p = __real_mmap(addr, len, prot, flags, fd, off);

	if (p != MAP_FAILED)
		fk.live_maps++;
	return p;
}

int __real_munmap(void *addr, size_t len);
int __wrap_munmap(void *addr, size_t len)
{
	fk.live_maps--;
	return __real_munmap(addr, len);
}

static struct vdpacvq_dev *dev_open(void)
{
	struct vdpacvq_dev *d = NULL;
	int r = vdpacvq_open("/dev/null", &d);

	TAP_EQ(r, 0, "fake device opened");
	return d;
}

static int start(struct vdpacvq_dev *d, uint64_t mask, const struct vdpacvq_state *rs)
{
	struct vdpacvq_start_opts o = { .size = sizeof(o), .mode = VDPACVQ_MODE_ISOLATED,
					.features_mask = mask, .restore = rs, .timeout_ms = 50 };

	return vdpacvq_start(d, &o);
}

/* Finding 2: the session negotiates only what it implements. */
static void test_features(void)
{
	static const uint64_t never = BIT(34) | BIT(35) | BIT(38) | BIT(40) | BIT(41) | BIT(24) |
				      BIT(VIRTIO_NET_F_HASH_REPORT);
	struct vdpacvq_dev *d;
	struct vdpacvq_state s;
	uint64_t f;
	int r;

	f = vdpacvq_session_features(~0ull);
	TAP_OK(!(f & never), "features: the allow-list has no packed ring, in-order, notification data, ring reset, admin vq, hash report",
	       "0x%llx", (unsigned long long)f);
	TAP_OK((f & (BASE_F | BIT(VIRTIO_RING_F_EVENT_IDX) | BIT(VIRTIO_NET_F_MQ) | BIT(VIRTIO_NET_F_RSS) |
		     BIT(VIRTIO_NET_F_CTRL_RX_EXTRA))) ==
	       (BASE_F | BIT(VIRTIO_RING_F_EVENT_IDX) | BIT(VIRTIO_NET_F_MQ) | BIT(VIRTIO_NET_F_RSS) |
		BIT(VIRTIO_NET_F_CTRL_RX_EXTRA)),
	       "features: VERSION_1, ACCESS_PLATFORM, EVENT_IDX, MQ, RSS, CTRL_RX_EXTRA (with CTRL_RX) kept", NULL);
	f = vdpacvq_session_features(BASE_F | BIT(VIRTIO_NET_F_CTRL_RX_EXTRA));
	TAP_EQ(f, BASE_F, "features: CTRL_RX_EXTRA dropped without CTRL_RX");
	TAP_OK(!(vdpacvq_session_features(BIT(4) | BIT(42) | BIT(46) | BIT(50) | BIT(53))),
	       "features: reserved and unimplemented bits dropped", NULL);

	/* a device that offers everything it can */
	fake_reset(BASE_F | never | BIT(VIRTIO_NET_F_CTRL_RX_EXTRA) | BIT(VIRTIO_RING_F_EVENT_IDX), 1, 3);
	d = dev_open();
	r = start(d, 0, NULL);
	TAP_EQ(r, 0, "features: a device offering a packed ring etc. starts");
	TAP_EQ(fk.set_features, BASE_F | BIT(VIRTIO_RING_F_EVENT_IDX),
	       "features: SET_FEATURES without packed ring, in-order, ring reset, hash report, CTRL_RX_EXTRA alone");
	vdpacvq_close(d);

	/* CTRL_VQ masked off */
	fake_reset(BASE_F, 1, 3);
	d = dev_open();
	r = start(d, ~BIT(VIRTIO_NET_F_CTRL_VQ), NULL);
	TAP_EQ(r, -EINVAL, "features: CTRL_VQ masked off: the start refuses");
	TAP_OK(strstr(vdpacvq_error(d), "CTRL_VQ"), "features: the error names CTRL_VQ", "'%s'", vdpacvq_error(d));
	TAP_EQ(fk.status, 0, "features: nothing negotiated");
	vdpacvq_close(d);

	/* a saved state with a packed ring and hash reports */
	fake_reset(BASE_F | never, 1, 3);
	d = dev_open();
	vdpacvq_state_init(&s, BASE_F | BIT(VIRTIO_F_RING_PACKED) | BIT(VIRTIO_NET_F_HASH_REPORT), NULL, 1);
	s.nvqs = 2;
	r = start(d, 0, &s);
	TAP_EQ(r, -EINVAL, "features: a saved state with RING_PACKED and HASH_REPORT refused");
	TAP_OK(strstr(vdpacvq_error(d), "34 (RING_PACKED)") && strstr(vdpacvq_error(d), "57 (HASH_REPORT)"),
	       "features: the error names bits 34 and 57", "'%s'", vdpacvq_error(d));
	vdpacvq_close(d);
}

/* Finding 3: a failed region allocation leaves nothing mapped. */
static void test_memfd_fail(void)
{
	struct vdpacvq_dev *d;

	for (int at = 1; at <= 2; at++) {
		fake_reset(BASE_F, 1, 3);
		fk.memfd_fail_at = at;
		d = dev_open();
		TAP_EQ(start(d, 0, NULL), -EMFILE, "memfd: the start fails when memfd_create fails");
		TAP_EQ(fk.live_maps, 0, at == 1 ? "memfd: the first region failing: nothing left mapped" :
		       "memfd: the second region failing: the first one unmapped");
		/* and a retry works */
		fk.memfd_fail_at = 0;
		TAP_EQ(start(d, 0, NULL), 0, "memfd: a retry starts");
		vdpacvq_close(d);
		TAP_EQ(fk.live_maps, 0, "memfd: nothing mapped after the close");
	}
}

/* Finding 4: a GET_VRING_GROUP error on a data vq stops the start. */
static void test_group_error(void)
{
	struct vdpacvq_dev *d;

	fake_reset(BASE_F | BIT(VIRTIO_NET_F_MQ), 2, 5);
	fk.group_err_vq = 1;
	d = dev_open();
	TAP_EQ(start(d, 0, NULL), -EIO, "group: GET_VRING_GROUP(1) failing with EIO fails the start");
	TAP_OK(strstr(vdpacvq_error(d), "GET_VRING_GROUP(1)"), "group: the error names the vq", "'%s'",
	       vdpacvq_error(d));
	TAP_OK(!(fk.status & VIRTIO_CONFIG_S_DRIVER_OK), "group: no DRIVER_OK", "status 0x%x", fk.status);
	TAP_EQ(fk.live_maps, 0, "group: nothing left mapped");
	vdpacvq_close(d);
}

/* Finding 5: raw_kick is bounded by the session's vqs (its kick array). */
static void test_raw_kick(void)
{
	struct vdpacvq_dev *d;

	fake_reset(BASE_F, 1, 200);	/* a VDUSE device may report many vqs */
	d = dev_open();
	TAP_EQ(start(d, 0, NULL), 0, "raw_kick: started, CVQ vq 2 of 200");
	TAP_EQ(vdpacvq_raw_kick(d, 0), 0, "raw_kick: vq 0 kicked");
	TAP_EQ(vdpacvq_raw_kick(d, 2), 0, "raw_kick: the CVQ kicked");
	TAP_EQ(vdpacvq_raw_kick(d, 3), -EINVAL, "raw_kick: vq 3, beyond the session's, refused");
	TAP_EQ(vdpacvq_raw_kick(d, 100), -EINVAL, "raw_kick: vq 100 (past the kick array) refused");
	TAP_EQ(vdpacvq_raw_kick(d, 199), -EINVAL, "raw_kick: vq 199 refused");
	vdpacvq_close(d);
}

/* Finding 6: QEMU's probe looks at 2 x max pairs only with MQ offered. */
static void test_probe_index(void)
{
	struct vdpacvq_probe p;
	struct vdpacvq_dev *d;
	char line[512];

	fake_reset(BASE_F | BIT(VIRTIO_NET_F_MQ), 4, 9);
	d = dev_open();
	TAP_EQ(vdpacvq_probe(d, 0, &p), 0, "probe: MQ offered");
	TAP_OK(p.nsets == 2 && p.set[0].cvq == 8 && p.set[1].cvq == 2 && p.verdict == VDPACVQ_ISOLATED &&
	       p.qemu_isolated, "probe: MQ: QEMU's set at vq 8, without MQ at vq 2, isolated",
	       "nsets %d cvq %u %u verdict %d", p.nsets, p.set[0].cvq, p.set[1].cvq, p.verdict);
	vdpacvq_close(d);

	fake_reset(BASE_F | BIT(VIRTIO_NET_F_RSS), 4, 9);
	d = dev_open();
	TAP_EQ(vdpacvq_probe(d, 0, &p), 0, "probe: RSS offered without MQ");
	TAP_EQ(p.set[0].cvq, 2, "probe: RSS without MQ: QEMU's set looks at vq 2 (spec §3 step 0)");
	TAP_OK(p.nsets == 3 && p.set[2].cvq == 8 && p.set[2].shared_vq < 0 && p.set[2].features == p.offered,
	       "probe: RSS without MQ: every offered feature checked at vq 8 as well, alone there",
	       "nsets %d cvq %u", p.nsets, p.set[2].cvq);
	TAP_OK(!p.qemu_isolated && p.verdict == VDPACVQ_NOT_ISOLATED && p.bad_set == 0,
	       "probe: RSS without MQ: QEMU's probe finds data vq 0 beside vq 2: not isolated, as QEMU says",
	       "qemu %d verdict %d bad %d", p.qemu_isolated, p.verdict, p.bad_set);
	vdpacvq_probe_describe(&p, line, sizeof(line));
	TAP_OK(strstr(line, "(vq 2)") && strstr(line, "QEMU's probe: without MQ"), "probe: the reason says why",
	       "'%s'", line);
	vdpacvq_close(d);
}

int main(void)
{
	test_features();
	test_memfd_fail();
	test_group_error();
	test_raw_kick();
	test_probe_index();
	return tap_done();
}
