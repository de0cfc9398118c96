// SPDX-License-Identifier: GPL-2.0
/*
 * Fuzz target: libvdpacvq's readers of text a user hands to vdpa-cvq, the
 * state JSON (--restore FILE) and the command syntax ("mac=...", "rss=...").
 * Whatever the text:
 *  - the readers never crash, read past the text or leak;
 *  - a state the JSON reader accepts can be restored: it has a restore plan,
 *    a freshly reset model takes every command of it (vdpa-cvq would
 *    otherwise accept a file and then fail half-way through a restore) and
 *    ends in exactly vdpacvq_state_restored() of the state (what the start
 *    checks after its replay);
 *  - it survives being written and read again;
 *  - a command the text parser accepts can be described.
 * A violation aborts with the reason on stderr.
 *
 * Input: byte 0 even for JSON, odd for a command; the rest is the text.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "libvdpacvq.h"

#define FZT_PLAN_MAX	4200

static struct vdpacvq_cmd fzt_plan[FZT_PLAN_MAX];

/* Inputs the readers accepted (the replay checks that seeds are). */
static unsigned long text_accepted;

static void fzt_fail(const char *why, const char *text)
{
	fprintf(stderr, "fuzz_cvqtext: %s\ninput: %.400s\n", why, text);
	abort();
}

static void fzt_json(const char *text)
{
	static char out[1 << 16];
	struct vdpacvq_state s, back, m;
	char err[256];
	int n, i;

	if (vdpacvq_state_from_json(&s, text, err, sizeof(err))) {
		if (!err[0])
			fzt_fail("a refused state without a reason", text);
		return;
	}
	text_accepted++;
	n = vdpacvq_restore_plan(&s, fzt_plan, FZT_PLAN_MAX);
	if (n < 0)
		fzt_fail("an accepted state without a restore plan", text);
	vdpacvq_state_init(&m, s.features, s.mac, s.max_pairs);
	for (i = 0; i < n; i++)
		if (vdpacvq_model_apply(&m, fzt_plan[i].buf, fzt_plan[i].len))
			fzt_fail("a command of an accepted state's plan refused by a fresh model", text);
	/*
	 * and brings a device to exactly the state vdpacvq_state_restored()
	 * says (the saved one, or QEMU's approximation of it), as the start
	 * checks after its replay
	 */
	vdpacvq_state_restored(&s, &back);
	m.nvqs = s.nvqs;
	memcpy(m.ring_pos, s.ring_pos, sizeof(m.ring_pos));
	if (!vdpacvq_state_equal(&m, &back))
		fzt_fail("the restore plan brings a fresh model to another state than vdpacvq_state_restored()", text);
	if (vdpacvq_state_to_json(&s, out, sizeof(out)) < 0 ||
	    vdpacvq_state_from_json(&back, out, err, sizeof(err)) || !vdpacvq_state_equal(&s, &back))
		fzt_fail("an accepted state does not survive being written and read again", text);
}

static void fzt_cmd(const char *text)
{
	struct vdpacvq_cmd c;
	char err[256], desc[512];

	if (vdpacvq_cmd_parse(&c, text, err, sizeof(err))) {
		if (!err[0])
			fzt_fail("a refused command without a reason", text);
		return;
	}
	text_accepted++;
	if (c.len < 2 || c.len > VDPACVQ_CMD_MAX)
		fzt_fail("a parsed command of impossible length", text);
	desc[0] = 0;
	vdpacvq_cmd_describe(&c, desc, sizeof(desc));
	if (!desc[0] || strlen(desc) >= sizeof(desc))
		fzt_fail("a parsed command without a description", text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text;

	if (size < 1)
		return 0;
	/* the readers take C strings: an exact-size copy lets ASan see overreads */
	text = malloc(size);
	if (!text)
		return 0;
	memcpy(text, data + 1, size - 1);
	text[size - 1] = 0;
	if (data[0] & 1)
		fzt_cmd(text);
	else
		fzt_json(text);
	free(text);
	return 0;
}
