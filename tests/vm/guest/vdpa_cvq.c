// SPDX-License-Identifier: GPL-2.0
/*
 * vdpa_cvq: tools/vdpa-cvq against small raw-UAPI virtio-net devices.
 *
 *   vdpa_cvq --impl upstream|stock612|ours
 *
 * Each test device is a VDUSE API v1 net device with a control queue, served
 * by a thread of this program: it answers the kernel's messages, and after
 * DRIVER_OK it serves the CVQ through the IOTLB of the CVQ group's address
 * space (GET_FD2), applies what it acknowledges to its own copy of the state
 * model (its "JSON state"), and logs every command, the ASID it was read
 * through and what it could see through the other address space. The
 * program then runs /progs/vdpa-cvq (the consumer) and compares. vduse-net
 * (devices/net/) will replace this device later.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <sys/mman.h>
#include <linux/virtio_ring.h>
#include "tap.h"
#include "vduse_test.h"
#include "libvdpacvq.h"

#define BIT(n) (1ull << (n))
#define TOOL "/progs/vdpa-cvq"
#define MAXVQ 9
#define MAXLOG 256
#define NCACHE 8

#define BASE_F (BIT(VIRTIO_F_VERSION_1) | BIT(VIRTIO_F_ACCESS_PLATFORM) | BIT(VIRTIO_NET_F_MAC) | \
		BIT(VIRTIO_NET_F_CTRL_VQ))
#define FULL_F (BASE_F | BIT(VIRTIO_NET_F_CTRL_RX) | BIT(VIRTIO_NET_F_CTRL_VLAN) | \
		BIT(VIRTIO_NET_F_CTRL_RX_EXTRA) | BIT(VIRTIO_NET_F_CTRL_MAC_ADDR) | \
		BIT(VIRTIO_NET_F_CTRL_GUEST_OFFLOADS) | BIT(VIRTIO_NET_F_GUEST_CSUM) | \
		BIT(VIRTIO_NET_F_GUEST_TSO4) | BIT(VIRTIO_NET_F_MQ) | BIT(VIRTIO_NET_F_RSS) | \
		BIT(VIRTIO_RING_F_EVENT_IDX))

static enum impl impl;
static int ctl = -1;

struct map {
	uint32_t asid;
	uint64_t start, last;
	uint8_t *p;
	size_t len;
};

struct logged {
	struct vdpacvq_cmd c;
	uint32_t asid;		/* the address space it was read through */
	uint8_t ack;
	int data_ready;		/* a data vq was enabled when it arrived */
};

struct tdev {
	char name[32];
	int fd, added, th_started;
	char vpath[300];
	uint32_t nvqs, ngroups, nas, group[MAXVQ];
	uint64_t features;
	uint16_t max_pairs;
	uint8_t mac[6];
	pthread_t th;
	pthread_mutex_t lock;
	int stop;			/* __atomic */
	/* behaviour */
	int ack_all;			/* acknowledge without consulting the model */
	int nack_vlan;			/* refuse VLAN ADD of this id (-1: none) */
	int keep_bindings;		/* group -> AS survives reset (upstream 7.x) */
	int refuse_bind;		/* answer SET_VQ_GROUP_ASID with FAILED */
	int bad_used;			/* return the chain's second descriptor as used */
	/* device view */
	uint32_t gasid[4];
	int running;
	uint32_t cvq;
	uint16_t last_avail;
	int event_idx;			/* negotiated: interrupt only where used_event asks */
	int cvq_passes, cvq_irq_unasked;	/* CVQ passes that used entries; of those, not asked for */
	struct map cache[NCACHE];
	struct vdpacvq_state model;
	/* logs */
	struct logged cmd[MAXLOG];
	int ncmd;
	struct { int type; uint32_t a, b; } ev[MAXLOG];	/* messages, in order */
	int nev;
	uint16_t start_avail[MAXVQ];	/* data vq positions seen at DRIVER_OK */
	uint16_t dlast[MAXVQ];		/* next avail entry of each data vq */
	int frames, frame_iso_checks, frame_iso_fail, frame_asid_bad;
	int iso_checks, iso_fail;	/* CVQ buffer lookups through the other AS */
	char iso_detail[200];
	int ring_checks, ring_fail;	/* ring lookups at DRIVER_OK */
	char ring_detail[200];
	int bad_chain;
};

/* ---- IOTLB through GET_FD2, cached per AS until the AS is updated -------- */

static void cache_flush(struct tdev *t, int asid)
{
	for (int i = 0; i < NCACHE; i++)
		if (t->cache[i].p && (asid < 0 || t->cache[i].asid == (uint32_t)asid)) {
			munmap(t->cache[i].p, t->cache[i].len);
			t->cache[i].p = NULL;
		}
}

/* Look IOVA..IOVA+LEN-1 up in ASID without caching; 0 if it resolves. */
static int lookup(struct tdev *t, uint32_t asid, uint64_t iova, uint64_t len)
{
	struct vduse_iotlb_entry_v2 e;
	int fd;

	memset(&e, 0, sizeof(e));
	e.start = iova;
	e.last = iova + (len ? len : 1) - 1;
	e.asid = asid;
	fd = ioctl(t->fd, VDUSE_IOTLB_GET_FD2, &e);
	if (fd < 0)
		return -errno;
	close(fd);
	return e.start <= iova && e.last >= iova + (len ? len : 1) - 1 ? 0 : -ERANGE;
}

static uint8_t *xlate(struct tdev *t, uint32_t asid, uint64_t iova, uint64_t len)
{
	struct vduse_iotlb_entry_v2 e;
	int i, fd, prot, slot = -1;
	void *p;

	if (!len || iova + len < iova)
		return NULL;
	for (i = 0; i < NCACHE; i++) {
		struct map *m = &t->cache[i];

		if (m->p && m->asid == asid && iova >= m->start && iova + len - 1 <= m->last)
			return m->p + (iova - m->start);
		if (!m->p && slot < 0)
			slot = i;
	}
	if (slot < 0) {
		cache_flush(t, -1);
		slot = 0;
	}
	memset(&e, 0, sizeof(e));
	e.start = iova;
	e.last = iova + len - 1;
	e.asid = asid;
	fd = ioctl(t->fd, VDUSE_IOTLB_GET_FD2, &e);
	if (fd < 0)
		return NULL;
	if (e.start > iova || e.last < iova + len - 1) {
		close(fd);
		return NULL;
	}
	prot = (e.perm & VDUSE_ACCESS_RO ? PROT_READ : 0) | (e.perm & VDUSE_ACCESS_WO ? PROT_WRITE : 0);
	p = mmap(NULL, e.last - e.start + 1, prot, MAP_SHARED, fd, e.offset);
	close(fd);
	if (p == MAP_FAILED)
		return NULL;
	t->cache[slot] = (struct map){ asid, e.start, e.last, p, e.last - e.start + 1 };
	return (uint8_t *)p + (iova - e.start);
}

/* ---- the device ---------------------------------------------------------- */

static void log_ev(struct tdev *t, int type, uint32_t a, uint32_t b)
{
	if (t->nev < MAXLOG)
		t->ev[t->nev++] = (typeof(t->ev[0])){ type, a, b };
}

static int vq_info(struct tdev *t, uint32_t vq, struct vduse_vq_info *info)
{
	memset(info, 0, sizeof(*info));
	info->index = vq;
	return ioctl(t->fd, VDUSE_VQ_GET_INFO, info);
}

/* At DRIVER_OK: each ring resolves in its group's AS only. */
static void check_rings(struct tdev *t)
{
	struct vduse_vq_info info;
	uint32_t vq, a, other;

	for (vq = 0; vq <= t->cvq && vq < t->nvqs; vq++) {
		if (vq_info(t, vq, &info))
			continue;
		if (vq < t->cvq)
			t->start_avail[vq] = t->dlast[vq] = info.split.avail_index;
		a = t->gasid[t->group[vq]];
		other = !a;
		t->ring_checks++;
		if (lookup(t, a, info.desc_addr, 16 * info.num) ||
		    (t->nas > 1 && t->gasid[t->group[t->cvq]] != t->gasid[t->group[0]] &&
		     !lookup(t, other, info.desc_addr, 16 * info.num))) {
			t->ring_fail++;
			snprintf(t->ring_detail, sizeof(t->ring_detail),
				 "vq %u ring 0x%llx: AS %u lookup %d, AS %u lookup %d", vq,
				 (unsigned long long)info.desc_addr, a, lookup(t, a, info.desc_addr, 16),
				 other, lookup(t, other, info.desc_addr, 16));
		}
	}
}

static int data_ready(struct tdev *t)
{
	struct vduse_vq_info info;

	for (uint32_t vq = 0; vq < t->cvq; vq++)
		if (!vq_info(t, vq, &info) && info.ready)
			return 1;
	return 0;
}

/* Serve the CVQ: every available chain is one command. */
static void serve_cvq(struct tdev *t)
{
	struct vduse_vq_info info;
	uint32_t asid = t->gasid[t->group[t->cvq]];
	struct vring_avail *avail;
	struct vring_used *used;
	struct vring_desc *desc;
	uint16_t aidx, old_used;

	if (vq_info(t, t->cvq, &info) || !info.ready || !info.num || info.num > 1024)
		return;
	desc = (void *)xlate(t, asid, info.desc_addr, 16ull * info.num);
	avail = (void *)xlate(t, asid, info.driver_addr, 6 + 2ull * info.num);	/* with used_event */
	used = (void *)xlate(t, asid, info.device_addr, 4 + 8ull * info.num);
	if (!desc || !avail || !used)
		return;
	old_used = used->idx;
	aidx = __atomic_load_n(&avail->idx, __ATOMIC_ACQUIRE);
	while (t->last_avail != aidx) {
		uint16_t head = avail->ring[t->last_avail % info.num], i = head;
		struct logged l;
		uint8_t *status = NULL, *p;
		int n = 0, r;

		memset(&l, 0, sizeof(l));
		l.asid = asid;
		l.data_ready = data_ready(t);
		while (n++ < 8 && i < info.num) {
			struct vring_desc dd = desc[i];

			p = xlate(t, asid, dd.addr, dd.len);
			/* isolation: the same address through the other AS */
			if (t->nas > 1 && t->gasid[t->group[0]] != asid) {
				t->iso_checks++;
				r = lookup(t, t->gasid[t->group[0]], dd.addr, dd.len);
				if (r != -EINVAL) {
					t->iso_fail++;
					snprintf(t->iso_detail, sizeof(t->iso_detail),
						 "CVQ buffer 0x%llx also resolves through AS %u (%d)",
						 (unsigned long long)dd.addr, t->gasid[t->group[0]], r);
				}
			}
			if (!p) {
				t->bad_chain++;
				break;
			}
			if (dd.flags & VRING_DESC_F_WRITE) {
				status = p;
			} else if (l.c.len + dd.len <= VDPACVQ_CMD_MAX) {
				memcpy(l.c.buf + l.c.len, p, dd.len);
				l.c.len += dd.len;
			}
			if (!(dd.flags & VRING_DESC_F_NEXT))
				break;
			i = dd.next;
		}
		l.ack = VDPACVQ_NACK;
		if (l.c.len >= 2 && !(t->nack_vlan >= 0 && l.c.buf[0] == VIRTIO_NET_CTRL_VLAN &&
				      l.c.buf[1] == VIRTIO_NET_CTRL_VLAN_ADD && l.c.len == 4 &&
				      (l.c.buf[2] | l.c.buf[3] << 8) == t->nack_vlan)) {
			if (t->ack_all || !vdpacvq_model_apply(&t->model, l.c.buf, l.c.len))
				l.ack = VDPACVQ_ACK;
		}
		if (status)
			*status = l.ack;
		else
			t->bad_chain++;
		used->ring[used->idx % info.num].id = t->bad_used ? desc[head].next : head;
		used->ring[used->idx % info.num].len = status ? 1 : 0;
		__atomic_store_n(&used->idx, used->idx + 1, __ATOMIC_RELEASE);
		if (t->ncmd < MAXLOG)
			t->cmd[t->ncmd++] = l;
		t->last_avail++;
	}
	if (used->idx != old_used) {
		uint32_t q = t->cvq;
		uint16_t ev = 0;
		int ask = 1;

		/* as a device with EVENT_IDX: interrupt only if the driver asked */
		__atomic_thread_fence(__ATOMIC_SEQ_CST);
		if (t->event_idx) {
			ev = __atomic_load_n(&avail->ring[info.num], __ATOMIC_RELAXED);
			ask = vring_need_event(ev, used->idx, old_used);
		}
		t->cvq_passes++;
		/*
		 * Not asked for is a consumer defect unless the consumer saw
		 * this pass's entries by polling and already posted its next
		 * batch, asking for that one's interrupt (used_event ahead of
		 * this pass, more commands available): a slow pass, seen on the
		 * debug kernel. Left at 0 or one too far, used_event still counts.
		 */
		if (!ask && ((uint16_t)(ev - used->idx) >= 0x8000 ||
			     __atomic_load_n(&avail->idx, __ATOMIC_ACQUIRE) == t->last_avail))
			t->cvq_irq_unasked++;
		if (ask)
			ioctl(t->fd, VDUSE_VQ_INJECT_IRQ, &q);
	}
}

/* One chain of data vq VQ through its group's AS: its first buffer. */
static uint8_t *data_buf(struct tdev *t, uint32_t vq, struct vduse_vq_info *info, uint16_t *head, uint32_t *len)
{
	uint32_t asid = t->gasid[t->group[vq]];
	struct vring_desc *desc = (void *)xlate(t, asid, info->desc_addr, 16ull * info->num);
	struct vring_avail *avail = (void *)xlate(t, asid, info->driver_addr, 4 + 2ull * info->num);

	if (!desc || !avail || t->dlast[vq] == __atomic_load_n(&avail->idx, __ATOMIC_ACQUIRE))
		return NULL;
	*head = avail->ring[t->dlast[vq] % info->num];
	if (*head >= info->num)
		return NULL;
	*len = desc[*head].len;
	if (asid)
		t->frame_asid_bad++;
	/* isolation: guest memory must not be visible through the CVQ's AS */
	if (t->nas > 1 && t->gasid[t->group[t->cvq]] != asid) {
		t->frame_iso_checks++;
		if (lookup(t, t->gasid[t->group[t->cvq]], desc[*head].addr, *len) != -EINVAL)
			t->frame_iso_fail++;
	}
	return xlate(t, asid, desc[*head].addr, *len);
}

static void push_used(struct tdev *t, uint32_t vq, struct vduse_vq_info *info, uint16_t head, uint32_t len)
{
	struct vring_used *used = (void *)xlate(t, t->gasid[t->group[vq]], info->device_addr, 4 + 8ull * info->num);

	if (!used)
		return;
	used->ring[used->idx % info->num].id = head;
	used->ring[used->idx % info->num].len = len;
	__atomic_store_n(&used->idx, used->idx + 1, __ATOMIC_RELEASE);
	ioctl(t->fd, VDUSE_VQ_INJECT_IRQ, &vq);
	t->dlast[vq]++;
}

/* Loopback: every TX frame of a pair goes back into that pair's RX queue. */
static void serve_data(struct tdev *t)
{
	struct vduse_vq_info tx, rx;
	uint16_t th, rh;
	uint32_t tl, rl;
	uint8_t *tp, *rp;

	for (uint32_t k = 0; 2 * k + 1 < t->cvq; k++) {
		if (vq_info(t, 2 * k + 1, &tx) || !tx.ready || vq_info(t, 2 * k, &rx) || !rx.ready ||
		    !tx.num || tx.num > 1024 || !rx.num || rx.num > 1024)
			continue;
		while ((tp = data_buf(t, 2 * k + 1, &tx, &th, &tl))) {
			rp = data_buf(t, 2 * k, &rx, &rh, &rl);
			if (!rp)
				break;		/* no RX buffer yet: keep the frame */
			if (tl > rl)
				tl = rl;
			memcpy(rp, tp, tl);
			push_used(t, 2 * k, &rx, rh, tl);
			push_used(t, 2 * k + 1, &tx, th, 0);
			t->frames++;
		}
	}
}

static void handle_msg(struct tdev *t, struct vduse_dev_request *q)
{
	struct vduse_dev_response resp;

	memset(&resp, 0, sizeof(resp));
	resp.request_id = q->request_id;
	resp.result = VDUSE_REQ_RESULT_OK;
	switch (q->type) {
	case VDUSE_SET_STATUS:
		log_ev(t, VDUSE_SET_STATUS, q->s.status, 0);
		if (!q->s.status) {
			/*
			 * Serve nothing more. The bindings are left alone: our
			 * module returns each group to AS 0 with a
			 * SET_VQ_GROUP_ASID(g, 0) right after (vduse-v1.md
			 * §3.10), so the migration start below passes only if
			 * the kernel says so.
			 */
			t->running = 0;
			t->last_avail = 0;
			cache_flush(t, -1);
		} else if ((q->s.status & VIRTIO_CONFIG_S_DRIVER_OK) && !t->running) {
			uint64_t f = 0;

			ioctl(t->fd, VDUSE_DEV_GET_FEATURES, &f);
			t->cvq = vdpacvq_cvq_index(f, t->max_pairs);
			t->event_idx = !!(f & BIT(VIRTIO_RING_F_EVENT_IDX));
			vdpacvq_state_init(&t->model, f, t->mac, t->max_pairs);
			check_rings(t);
			t->running = 1;
		}
		break;
	case VDUSE_UPDATE_IOTLB:
		log_ev(t, VDUSE_UPDATE_IOTLB, q->iova_v2.asid, 0);
		cache_flush(t, q->iova_v2.asid);
		break;
	case VDUSE_SET_VQ_GROUP_ASID:
		log_ev(t, VDUSE_SET_VQ_GROUP_ASID, q->vq_group_asid.group, q->vq_group_asid.asid);
		if (t->refuse_bind) {
			resp.result = VDUSE_REQ_RESULT_FAILED;
		} else if (t->keep_bindings && !q->vq_group_asid.asid) {
			/* as upstream: nothing returns a group to AS 0 */
		} else if (q->vq_group_asid.group < 4 && q->vq_group_asid.asid < t->nas) {
			t->gasid[q->vq_group_asid.group] = q->vq_group_asid.asid;
			cache_flush(t, -1);
		} else {
			resp.result = VDUSE_REQ_RESULT_FAILED;
		}
		break;
	case VDUSE_GET_VQ_STATE:
		resp.vq_state.index = q->vq_state.index;
		break;
	default:
		resp.result = VDUSE_REQ_RESULT_FAILED;
	}
	if (write(t->fd, &resp, sizeof(resp)) != sizeof(resp))
		log_ev(t, -1, errno, 0);
}

static void *tdev_main(void *arg)
{
	struct tdev *t = arg;

	while (!__atomic_load_n(&t->stop, __ATOMIC_ACQUIRE)) {
		struct vduse_dev_request q;
		struct pollfd p = { .fd = t->fd, .events = POLLIN };

		if (poll(&p, 1, 2) > 0 && (p.revents & POLLIN) && read(t->fd, &q, sizeof(q)) == sizeof(q)) {
			pthread_mutex_lock(&t->lock);
			handle_msg(t, &q);
			pthread_mutex_unlock(&t->lock);
		}
		pthread_mutex_lock(&t->lock);
		if (t->running) {
			serve_cvq(t);
			serve_data(t);
		}
		pthread_mutex_unlock(&t->lock);
	}
	return NULL;
}

/* Create, set up, start serving and add to vDPA (bound to vhost_vdpa). */
static int tdev_up(struct tdev *t, const char *name, uint64_t features, uint16_t max_pairs, uint32_t nvqs,
		   uint32_t ngroups, uint32_t nas, const uint32_t *groups)
{
	struct vduse_vq_config vq;
	struct devcfg cfg;
	uint32_t i;

	memset(t, 0, sizeof(*t));
	snprintf(t->name, sizeof(t->name), "%s", name);
	t->fd = -1;
	t->nack_vlan = -1;
	t->nvqs = nvqs;
	t->ngroups = ngroups;
	t->nas = nas;
	t->features = features;
	t->max_pairs = max_pairs;
	memcpy(t->mac, (uint8_t[]){ 0x52, 0x54, 0, 0xcc, 0, (uint8_t)name[strlen(name) - 1] }, 6);
	pthread_mutex_init(&t->lock, NULL);
	net_cfg(&cfg, name, nvqs, ngroups, nas);
	cfg.c.features = features;
	memcpy(cfg.net.mac, t->mac, 6);
	cfg.net.max_virtqueue_pairs = max_pairs;
	if (access("/sys/bus/vdpa/devices/", F_OK) == 0) {
		char path[300];

		snprintf(path, sizeof(path), "/sys/bus/vdpa/devices/%s", name);
		if (access(path, F_OK) == 0)
			vdpa_del(name);
		snprintf(path, sizeof(path), "/dev/vduse/%s", name);
		if (access(path, F_OK) == 0)
			dev_destroy(ctl, name);
	}
	if (ioctl(ctl, VDUSE_CREATE_DEV, &cfg))
		return -errno;
	t->fd = dev_open(name);
	if (t->fd < 0)
		return -errno;
	for (i = 0; i < nvqs; i++) {
		memset(&vq, 0, sizeof(vq));
		vq.index = i;
		vq.max_size = 64;
		vq.group = groups[i];
		t->group[i] = groups[i];
		if (ioctl(t->fd, VDUSE_VQ_SETUP, &vq))
			return -errno;
	}
	sysfs_write(name, "msg_timeout", "10");
	if (pthread_create(&t->th, NULL, tdev_main, t))
		return -EAGAIN;
	t->th_started = 1;
	if (vdpa_add(name) || vhost_path(name, t->vpath, sizeof(t->vpath)))
		return -ENODEV;
	t->added = 1;
	return 0;
}

/* Regroup a vq after "vdpa dev add" (our module refuses one that breaks the CVQ's isolation). */
static int tdev_regroup(struct tdev *t, uint32_t vq, uint32_t group)
{
	struct vduse_vq_config c = { .index = vq, .max_size = 64, .group = group };

	if (ioctl(t->fd, VDUSE_VQ_SETUP, &c))
		return -errno;
	pthread_mutex_lock(&t->lock);
	t->group[vq] = group;
	pthread_mutex_unlock(&t->lock);
	return 0;
}

static void tdev_down(struct tdev *t)
{
	if (t->added)
		vdpa_del(t->name);
	if (t->th_started) {
		__atomic_store_n(&t->stop, 1, __ATOMIC_RELEASE);
		pthread_join(t->th, NULL);
	}
	cache_flush(t, -1);
	if (t->fd >= 0)
		close(t->fd);
	if (t->fd >= 0 && dev_destroy(ctl, t->name))
		tap_diag("DESTROY_DEV %s: %s", t->name, strerror(errno));
}

static void tdev_reset_logs(struct tdev *t)
{
	pthread_mutex_lock(&t->lock);
	t->ncmd = t->nev = 0;
	t->iso_checks = t->iso_fail = t->ring_checks = t->ring_fail = t->bad_chain = 0;
	t->frames = t->frame_iso_checks = t->frame_iso_fail = t->frame_asid_bad = 0;
	pthread_mutex_unlock(&t->lock);
}

/* ---- running the tool ------------------------------------------------------ */

static char tool_out[8192];

/* Run the tool with ARGS (a shell word list); its exit status, output in tool_out. */
static int tool(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int tool(const char *fmt, ...)
{
	char args[2048];
	va_list ap;
	FILE *f;
	size_t n;
	int rc;

	va_start(ap, fmt);
	vsnprintf(args, sizeof(args), fmt, ap);
	va_end(ap);
	tap_diag("vdpa-cvq %s", args);
	rc = run_cmd(TOOL " %s > /tmp/vdpa-cvq.out 2>&1", args);
	tool_out[0] = 0;
	f = fopen("/tmp/vdpa-cvq.out", "r");
	if (f) {
		n = fread(tool_out, 1, sizeof(tool_out) - 1, f);
		tool_out[n] = 0;
		fclose(f);
	}
	{
		char *copy = strdup(tool_out), *save = NULL;

		for (char *l = copy ? strtok_r(copy, "\n", &save) : NULL; l; l = strtok_r(NULL, "\n", &save))
			tap_diag("  %s", l);
		free(copy);
	}
	return rc;
}

static int load_state(const char *path, struct vdpacvq_state *s)
{
	char buf[1 << 16], err[200];
	FILE *f = fopen(path, "r");
	size_t n;

	if (!f)
		return -1;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = 0;
	if (vdpacvq_state_from_json(s, buf, err, sizeof(err))) {
		tap_diag("%s: %s", path, err);
		return -1;
	}
	return 0;
}

static int save_state(const char *path, const struct vdpacvq_state *s)
{
	static char buf[1 << 17];
	int n = vdpacvq_state_to_json(s, buf, sizeof(buf));
	FILE *f = fopen(path, "w");

	if (n < 0 || !f)
		return -1;
	fwrite(buf, 1, n, f);
	return fclose(f);
}

/* The control state only: ring positions are not the device's model. */
static int same_control(const struct vdpacvq_state *a, const struct vdpacvq_state *b)
{
	struct vdpacvq_state x = *a, y = *b;

	x.nvqs = y.nvqs = 0;
	return vdpacvq_state_equal(&x, &y);
}

/* ---- probe ------------------------------------------------------------------ */

static const uint32_t g1[3] = { 0, 0, 1 };
/* 4 pairs: CVQ at 8 with MQ (group 1), at 2 without (group 2), data in 0 and 2 */
static const uint32_t g4[9] = { 0, 0, 2, 0, 0, 0, 0, 0, 1 };

static void probe_case(const char *name, uint64_t f, uint16_t pairs, uint32_t nvqs, uint32_t ngroups, uint32_t nas,
		       const uint32_t *groups, int regroup_vq, uint32_t regroup_to, const char *opt, int want_rc,
		       const char *want_text, const char *what)
{
	struct tdev t;
	char nm[300];
	int r, rc;

	r = tdev_up(&t, name, f, pairs, nvqs, ngroups, nas, groups);
	snprintf(nm, sizeof(nm), "%s: device up", what);
	TAP_EQ(r, 0, nm);
	if (r)
		goto out;
	if (regroup_vq >= 0) {
		/*
		 * Our module keeps a bound CVQ alone in its group: the move
		 * is refused and the device stays isolated. A device whose
		 * CVQ shares a group cannot be put on the bus here at all.
		 */
		snprintf(nm, sizeof(nm), "%s: moving vq %d to group %u after vdpa dev add is refused (EBUSY)", what,
			 regroup_vq, regroup_to);
		TAP_EQ(tdev_regroup(&t, regroup_vq, regroup_to), -EBUSY, nm);
	}
	rc = tool("probe %s %s", t.vpath, opt);
	snprintf(nm, sizeof(nm), "%s: probe exit status %d", what, want_rc);
	TAP_EQ(rc, want_rc, nm);
	snprintf(nm, sizeof(nm), "%s: probe says \"%s\"", what, want_text);
	TAP_OK(strstr(tool_out, want_text) != NULL, nm, "output: %s", tool_out);
	pthread_mutex_lock(&t.lock);
	r = t.nev && t.ev[t.nev - 1].type == VDUSE_SET_STATUS && t.ev[t.nev - 1].a == 0;
	pthread_mutex_unlock(&t.lock);
	if (want_rc == 0 || want_rc == 1) {
		snprintf(nm, sizeof(nm), "%s: the probe ends with a reset", what);
		TAP_OK(r, nm, "last message type %d", t.nev ? t.ev[t.nev - 1].type : -1);
	}
out:
	tdev_down(&t);
}

static void test_probe(void)
{
	uint64_t nomq = ~BIT(VIRTIO_NET_F_MQ) & ~BIT(VIRTIO_NET_F_RSS);
	char opt[64];

	probe_case("cq-p1", BASE_F, 1, 3, 2, 2, g1, -1, 0, "", 0, "isolated: the CVQ (vq 2, group 1)",
		   "1 pair, no MQ");
	probe_case("cq-p2", BASE_F | BIT(VIRTIO_NET_F_MQ), 1, 3, 2, 2, g1, -1, 0, "", 0,
		   "isolated: the CVQ (vq 2, group 1) is alone in its group with and without MQ", "1 pair, MQ");
	probe_case("cq-p3", BASE_F | BIT(VIRTIO_NET_F_MQ), 4, 9, 3, 2, g4, -1, 0, "", 0,
		   "isolated: the CVQ (vq 8, group 1) is alone in its group with and without MQ", "4 pairs, MQ");
	snprintf(opt, sizeof(opt), "--features 0x%llx", (unsigned long long)nomq);
	probe_case("cq-p4", BASE_F | BIT(VIRTIO_NET_F_MQ), 4, 9, 3, 2, g4, -1, 0, opt, 0,
		   "isolated: the CVQ (vq 2, group 2)", "4 pairs, MQ not negotiated");
	probe_case("cq-p5", BASE_F, 1, 3, 2, 2, g1, 0, 1, "", 0,
		   "isolated: the CVQ (vq 2, group 1)", "a data vq into the CVQ's group");
	probe_case("cq-p6", BASE_F | BIT(VIRTIO_NET_F_MQ), 4, 9, 3, 2, g4, 2, 0, "", 0,
		   "isolated: the CVQ (vq 8, group 1) is alone in its group with and without MQ",
		   "the non-MQ CVQ into the data group");
	probe_case("cq-p7", BASE_F, 1, 3, 2, 1, g1, -1, 0, "", 1,
		   "not isolated: the device has 1 address space (GET_AS_NUM), 2 needed", "nas = 1");
	probe_case("cq-p8", BASE_F & ~BIT(VIRTIO_NET_F_CTRL_VQ), 1, 3, 2, 2, g1, -1, 0, "", 3,
		   "no CVQ: the device does not offer VIRTIO_NET_F_CTRL_VQ", "no CTRL_VQ");
}

/* ---- sessions ---------------------------------------------------------------- */

static const char *const guest_cmds[] = {
	"mac=02:aa:bb:cc:dd:01", "mac-table=02:00:00:00:00:01,02:00:00:00:00:02/01:00:5e:00:00:fb",
	"mq=3", "rss=5:6d5a56da255b0ec2:0,1,2,0", "offloads=0x2", "promisc=0", "allmulti=1", "nobcast=1",
	"vlan-add=10", "vlan-add=20", "vlan-add=4000", "vlan-del=10", "announce",
};

static void join_cmds(char *out, size_t len)
{
	size_t o = 0;

	for (unsigned int i = 0; i < sizeof(guest_cmds) / sizeof(guest_cmds[0]) && o < len; i++)
		o += snprintf(out + o, len - o, " %s", guest_cmds[i]);
}

/* The commands that reach the device (announce is answered by the consumer). */
static int expected_cmds(struct vdpacvq_cmd *out)
{
	char err[100];
	int n = 0;

	for (unsigned int i = 0; i < sizeof(guest_cmds) / sizeof(guest_cmds[0]); i++)
		if (strcmp(guest_cmds[i], "announce"))
			vdpacvq_cmd_parse(&out[n++], guest_cmds[i], err, sizeof(err));
	return n;
}

/* SET_VQ_GROUP_ASID messages to ASID (a kernel may also send its own to 0 at reset). */
static int count_bind(struct tdev *t, uint32_t asid)
{
	int n = 0;

	for (int i = 0; i < t->nev; i++)
		n += t->ev[i].type == VDUSE_SET_VQ_GROUP_ASID && t->ev[i].b == asid;
	return n;
}

static void test_session(void)
{
	struct vdpacvq_cmd want[32], *plan;
	struct vdpacvq_state sa, sb, sc, dev_a, ra, rsa;
	struct tdev a, b;
	char cmds[1024];
	int n, i, ok, rc, first_dok, bind;

	if (tdev_up(&a, "cq-a", FULL_F, 4, 9, 3, 2, g4) || tdev_up(&b, "cq-b", FULL_F, 4, 9, 3, 2, g4)) {
		TAP_OK(0, "session: devices A and B up", "%s", strerror(errno));
		goto out;
	}
	a.nack_vlan = 4000;	/* the device refuses one guest command */
	join_cmds(cmds, sizeof(cmds));
	rc = tool("save %s -o /tmp/a.json --loopback 3%s", a.vpath, cmds);
	TAP_EQ(rc, 0, "save on A: exit 0");
	TAP_OK(strstr(tool_out, "3 frames looped back through pair 0"), "save on A: 3 frames through the data queues",
	       "%s", tool_out);
	pthread_mutex_lock(&a.lock);
	TAP_OK(a.frames == 3 && !a.frame_asid_bad && a.frame_iso_checks == 6 && !a.frame_iso_fail,
	       "A: the frames were read and written through ASID 0, and are not visible through ASID 1",
	       "%d frames, %d through another AS, %d/%d isolation failures", a.frames, a.frame_asid_bad,
	       a.frame_iso_fail, a.frame_iso_checks);
	pthread_mutex_unlock(&a.lock);
	TAP_OK(strstr(tool_out, "VLAN ADD 4000: ERR (model unchanged)"), "save on A: the refused command is reported",
	       "%s", tool_out);
	pthread_mutex_lock(&a.lock);
	/* start order: SET_VQ_GROUP_ASID {cvq group, 1} before DRIVER_OK */
	first_dok = bind = -1;
	for (i = 0; i < a.nev; i++) {
		if (a.ev[i].type == VDUSE_SET_STATUS && (a.ev[i].a & VIRTIO_CONFIG_S_DRIVER_OK) && first_dok < 0)
			first_dok = i;
		if (a.ev[i].type == VDUSE_SET_VQ_GROUP_ASID && a.ev[i].a == 1 && a.ev[i].b == 1 && bind < 0)
			bind = i;
	}
	TAP_OK(bind >= 0 && first_dok > bind, "A: the CVQ's group 1 was bound to ASID 1 before DRIVER_OK",
	       "bind at %d, DRIVER_OK at %d", bind, first_dok);
	TAP_EQ(count_bind(&a, 1), 1, "A: one SET_VQ_GROUP_ASID to ASID 1");
	n = expected_cmds(want);
	ok = a.ncmd == n;
	for (i = 0; ok && i < n; i++)
		ok = a.cmd[i].c.len == want[i].len && !memcmp(a.cmd[i].c.buf, want[i].buf, want[i].len);
	TAP_OK(ok, "A: the device received the guest's commands in order, byte for byte (announce not forwarded)",
	       "%d commands, want %d", a.ncmd, n);
	ok = a.ncmd > 0;
	for (i = 0; i < a.ncmd; i++)
		ok &= a.cmd[i].asid == 1;
	TAP_OK(ok, "A: every command was read through ASID 1", NULL);
	TAP_OK(a.iso_checks >= 2 * n && !a.iso_fail,
	       "A: isolation: no CVQ buffer address resolves through ASID 0", "%d checks, %d failed: %s",
	       a.iso_checks, a.iso_fail, a.iso_detail);
	TAP_OK(a.ring_checks == 9 && !a.ring_fail,
	       "A: isolation: data rings resolve in ASID 0 only, the CVQ ring in ASID 1 only",
	       "%d checks, %d failed: %s", a.ring_checks, a.ring_fail, a.ring_detail);
	TAP_EQ(a.bad_chain, 0, "A: every chain was well formed");
	/* the consumer waits for each batch: it must ask for that interrupt */
	TAP_OK(a.event_idx && a.cvq_passes > 0 && !a.cvq_irq_unasked,
	       "A: EVENT_IDX negotiated, and the consumer's used_event asked for the interrupt of every CVQ batch",
	       "event_idx %d, %d of %d passes not asked for", a.event_idx, a.cvq_irq_unasked, a.cvq_passes);
	dev_a = a.model;
	pthread_mutex_unlock(&a.lock);
	TAP_EQ(load_state("/tmp/a.json", &sa), 0, "save on A: the JSON state reads back");
	TAP_OK(same_control(&sa, &dev_a), "save on A: the tool's model equals the device's own state", NULL);
	TAP_OK(sa.pairs == 3 && sa.rss.enabled && !sa.promisc && sa.allmulti && sa.nobcast &&
	       (sa.vlans[20 / 8] & (1 << 20 % 8)) && !(sa.vlans[10 / 8] & (1 << 10 % 8)) &&
	       !(sa.vlans[4000 / 8] & (1 << 4000 % 8)) && sa.n_uni == 2 && sa.n_multi == 1 && sa.offloads == 2 &&
	       sa.mac[5] == 1 && sa.nvqs == 8, "save on A: the JSON holds what was ACKed, not what was refused",
	       "pairs %u", sa.pairs);
	TAP_OK(sa.ring_pos[0] == 3 && sa.ring_pos[1] == 3 && sa.ring_pos[2] == 0,
	       "save on A: ring positions are the used indices (3 frames on pair 0)", "%u %u %u", sa.ring_pos[0],
	       sa.ring_pos[1], sa.ring_pos[2]);

	/* a device acknowledging what the model refuses: the consumer stops */
	tdev_reset_logs(&a);
	a.ack_all = 1;
	rc = tool("save %s mq=9", a.vpath);
	TAP_EQ(rc, 2, "A acknowledges mq=9 of 4 pairs: exit 2");
	TAP_OK(strstr(tool_out, "bad CVQ processing in model"), "... reported as a device/model disagreement", "%s",
	       tool_out);
	a.ack_all = 0;

	/* a used ring naming a descriptor that was never made available */
	a.bad_used = 1;
	rc = tool("save %s promisc=0", a.vpath);
	TAP_EQ(rc, 2, "A returns a bogus used element: exit 2");
	TAP_OK(strstr(tool_out, "the device returned CVQ descriptor 1, never made available"),
	       "... reported as such", "%s", tool_out);
	a.bad_used = 0;

	/* the device refuses the binding: the start fails and says why */
	tdev_reset_logs(&a);
	a.refuse_bind = 1;
	rc = tool("save %s", a.vpath);
	TAP_EQ(rc, 2, "A refuses SET_VQ_GROUP_ASID: exit 2");
	TAP_OK(strstr(tool_out, "SET_GROUP_ASID(group 1, asid 1): Input/output error (the device refused it"),
	       "... the error names the call and what EIO means", "%s", tool_out);
	pthread_mutex_lock(&a.lock);
	TAP_EQ(a.ncmd, 0, "... and no command reached the CVQ");
	pthread_mutex_unlock(&a.lock);
	a.refuse_bind = 0;

	/* restore on B, at given ring positions */
	for (i = 0; i < 8; i++)
		sa.ring_pos[i] = 10 + i;
	save_state("/tmp/a2.json", &sa);
	rc = tool("restore %s /tmp/a2.json -o /tmp/b.json --loopback 2", b.vpath);
	TAP_EQ(rc, 0, "restore on B: exit 0");
	TAP_OK(strstr(tool_out, "2 frames looped back through pair 0"), "restore on B: frames pass after the restore",
	       "%s", tool_out);
	plan = calloc(64, sizeof(*plan));
	n = vdpacvq_restore_plan(&sa, plan, 64);
	pthread_mutex_lock(&b.lock);
	ok = n > 0 && b.ncmd == n;
	for (i = 0; ok && i < n; i++)
		ok = b.cmd[i].c.len == plan[i].len && !memcmp(b.cmd[i].c.buf, plan[i].buf, plan[i].len);
	TAP_OK(ok, "B: the replay arrived in QEMU's order, non-default state only", "%d commands, want %d", b.ncmd, n);
	ok = 1;
	for (i = 0; i < b.ncmd; i++)
		ok &= !b.cmd[i].data_ready && b.cmd[i].asid == 1;
	TAP_OK(ok, "B: every replayed command came through ASID 1 with the data vqs still disabled", NULL);
	TAP_OK(b.cvq_passes > 0 && !b.cvq_irq_unasked,
	       "B: the replay (one batch per kick) asked for its interrupt through used_event",
	       "%d of %d passes not asked for", b.cvq_irq_unasked, b.cvq_passes);
	ok = 1;
	for (i = 0; i < 8; i++)
		ok &= b.start_avail[i] == 10 + i;
	TAP_OK(ok, "B: the data vqs started at the saved ring positions", "vq 0 at %u", b.start_avail[0]);
	/* as QEMU 10.0.2 restores it: the 8-byte RSS key as 40 bytes, zero-padded */
	vdpacvq_state_restored(&dev_a, &ra);
	vdpacvq_state_restored(&sa, &rsa);
	TAP_OK(same_control(&b.model, &ra), "B's own state equals A's as QEMU restores it", NULL);
	TAP_OK(b.model.rss.key_len == 40 && dev_a.rss.key_len == 8 && !memcmp(b.model.rss.key, dev_a.rss.key, 8) &&
	       !b.model.rss.key[8] && !b.model.rss.key[39],
	       "B: A's 8-byte RSS key came back with QEMU's hash_key_length 40, zero-padded", "key_len %u",
	       b.model.rss.key_len);
	pthread_mutex_unlock(&b.lock);
	TAP_OK(!load_state("/tmp/b.json", &sb) && same_control(&sb, &rsa) && sb.ring_pos[0] == 12 &&
	       sb.ring_pos[1] == 13 && sb.ring_pos[2] == 12,
	       "restore on B: the model after the session equals the saved one as restored, positions advanced by 2 frames",
	       "positions %u %u %u", sb.ring_pos[0], sb.ring_pos[1], sb.ring_pos[2]);

	/* any NACK fails the restore */
	tdev_reset_logs(&b);
	b.nack_vlan = 20;
	rc = tool("restore %s /tmp/a.json", b.vpath);
	TAP_EQ(rc, 2, "restore on a device refusing VLAN 20: exit 2");
	TAP_OK(strstr(tool_out, "refused VLAN ADD 20"), "... the error names the refused command", "%s", tool_out);
	pthread_mutex_lock(&b.lock);
	ok = b.ncmd > 0;
	for (i = 0; i < b.ncmd; i++)
		ok &= !b.cmd[i].data_ready;
	pthread_mutex_unlock(&b.lock);
	TAP_OK(ok, "... and the data vqs were never enabled", NULL);
	b.nack_vlan = -1;

	/* QEMU's migration start: reset, everything in ASID 0, no re-bind, replay */
	tdev_reset_logs(&b);
	rc = tool("restore %s /tmp/a.json --migration-start -o /tmp/c.json --loopback 2", b.vpath);
	TAP_EQ(rc, 0, "migration start on B: exit 0");
	pthread_mutex_lock(&b.lock);
	TAP_EQ(b.frames, 4, "migration start on B: frames pass before and after (2 + 2)");
	pthread_mutex_unlock(&b.lock);
	pthread_mutex_lock(&b.lock);
	{
		int dok = 0, reset_after = -1, bind_after = 0, second = -1;

		for (i = 0; i < b.nev; i++) {
			if (b.ev[i].type == VDUSE_SET_STATUS && (b.ev[i].a & VIRTIO_CONFIG_S_DRIVER_OK)) {
				if (++dok == 2)
					second = i;
			} else if (b.ev[i].type == VDUSE_SET_STATUS && !b.ev[i].a && dok == 1 && reset_after < 0) {
				reset_after = i;
			} else if (b.ev[i].type == VDUSE_SET_VQ_GROUP_ASID && b.ev[i].b && reset_after >= 0 &&
				   second < 0) {
				bind_after++;
			}
		}
		TAP_OK(reset_after >= 0 && second > reset_after && !bind_after,
		       "B: reset after the first start, then a second DRIVER_OK with no SET_VQ_GROUP_ASID in between",
		       "reset at %d, second DRIVER_OK at %d, %d binds", reset_after, second, bind_after);
	}
	n = vdpacvq_restore_plan(&sa, plan, 64);
	ok = b.ncmd == 2 * n;
	for (i = 0; ok && i < n; i++)
		ok = b.cmd[i].asid == 1 && b.cmd[n + i].asid == 0 && b.cmd[n + i].c.len == plan[i].len &&
		     !memcmp(b.cmd[n + i].c.buf, plan[i].buf, plan[i].len);
	TAP_OK(ok, "B: the state was replayed twice, through ASID 1 and then (after the reset) through ASID 0",
	       "%d commands, want %d", b.ncmd, 2 * n);
	TAP_OK(same_control(&b.model, &ra), "B's state after the migration start equals A's as QEMU restores it",
	       NULL);
	pthread_mutex_unlock(&b.lock);
	TAP_OK(!load_state("/tmp/c.json", &sc) && same_control(&sc, &rsa),
	       "migration start: the tool's model still equals the saved state", NULL);

	/* a guest that never negotiated MQ: the CVQ at 2, one pair, on devices offering 4 */
	{
		char opt[64];

		snprintf(opt, sizeof(opt), "--features 0x%llx",
			 (unsigned long long)(~BIT(VIRTIO_NET_F_MQ) & ~BIT(VIRTIO_NET_F_RSS)));
		rc = tool("save %s -o /tmp/d.json %s --loopback 1 mac=02:aa:bb:cc:dd:05 vlan-add=7", a.vpath, opt);
		TAP_EQ(rc, 0, "MQ not negotiated: save on A: exit 0");
		rc = tool("restore %s /tmp/d.json -o /tmp/e.json --loopback 1", b.vpath);
		TAP_EQ(rc, 0, "MQ not negotiated: restore on B (a device offering 4 pairs): exit 0");
		TAP_OK(!load_state("/tmp/d.json", &sb) && !load_state("/tmp/e.json", &sc) && same_control(&sb, &sc) &&
		       sb.max_pairs == 1 && sb.nvqs == 2, "MQ not negotiated: one pair, two data vqs, same state after restore",
		       "max_pairs %u nvqs %u", sb.max_pairs, sb.nvqs);
	}

	/* a device whose bindings survive reset looks for the CVQ in ASID 1 (§6.1) */
	tdev_reset_logs(&b);
	b.keep_bindings = 1;
	rc = tool("restore %s /tmp/a.json --migration-start --timeout 2000", b.vpath);
	TAP_EQ(rc, 2, "migration start on a device keeping its bindings across reset: exit 2");
	TAP_OK(strstr(tool_out, "no answer on the CVQ after 2000 ms"), "... the replay times out", "%s", tool_out);
	b.keep_bindings = 0;
	free(plan);
out:
	tdev_down(&a);
	tdev_down(&b);
}

/* ---- upstream: no net CVQ in VDUSE ------------------------------------------ */

static void test_upstream(void)
{
	struct devcfg cfg;
	struct tdev t;
	int rc, r;

	net_cfg(&cfg, "cq-up", 3, 2, 2);
	cfg.c.features |= BIT(VIRTIO_NET_F_CTRL_VQ);
	TAP_ERRNO(ioctl(ctl, VDUSE_CREATE_DEV, &cfg), EINVAL, "upstream: CREATE_DEV of a net device with CTRL_VQ: EINVAL");
	rc = tool("vduse-check");
	TAP_EQ(rc, 3, "upstream: vduse-check exit 3");
	TAP_OK(strstr(tool_out, "VDUSE refuses the virtio-net control queue on this kernel"),
	       "upstream: vduse-check says VDUSE refuses the net CVQ", "%s", tool_out);
	r = tdev_up(&t, "cq-up2", BASE_F & ~BIT(VIRTIO_NET_F_CTRL_VQ), 1, 3, 2, 2, g1);
	TAP_EQ(r, 0, "upstream: a v1 net device without CTRL_VQ (2 groups, 2 ASes) is up");
	if (!r) {
		rc = tool("probe %s", t.vpath);
		TAP_EQ(rc, 3, "upstream: probe exit 3 (no CVQ)");
		TAP_OK(strstr(tool_out, "no CVQ: the device does not offer VIRTIO_NET_F_CTRL_VQ") &&
		       strstr(tool_out, "2 groups, 2 address spaces"),
		       "upstream: probe reports no CVQ, and sees the groups and address spaces", "%s", tool_out);
		rc = tool("save %s", t.vpath);
		TAP_EQ(rc, 2, "upstream: save refuses a device without a CVQ (exit 2)");
		TAP_OK(strstr(tool_out, "not a virtio-net device with a control virtqueue"),
		       "upstream: ... and says why", "%s", tool_out);
	}
	tdev_down(&t);
}

int main(int argc, char **argv)
{
	int rc;

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc != 3 || strcmp(argv[1], "--impl") || impl_parse(argv[2], &impl)) {
		fprintf(stderr, "usage: vdpa_cvq --impl upstream|stock612|ours\n");
		return 2;
	}
	if (virtio_vdpa_loaded()) {
		TAP_OK(0, "virtio_vdpa is not loaded (devices must bind to vhost_vdpa)", "unload it first");
		return tap_done();
	}
	ctl = ctl_open();
	TAP_SYS(ctl, "open /dev/vduse/control");
	if (ctl < 0 || ctl_set_version(ctl, 1)) {
		TAP_OK(impl == IMPL_STOCK612, "API v1 available", "%s", strerror(errno));
		return tap_done();
	}
	if (impl == IMPL_OURS) {
		rc = tool("vduse-check");
		TAP_EQ(rc, 0, "ours: vduse-check exit 0");
		TAP_OK(strstr(tool_out, "VDUSE accepts virtio-net devices with a control queue"),
		       "ours: vduse-check says VDUSE accepts the net CVQ", "%s", tool_out);
		test_probe();
		test_session();
	} else {
		test_upstream();
	}
	close(ctl);
	return tap_done();
}
