/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * libFuzzer harness: a whole session through the engine with the fake backend of the test
 * fixture. The input is a sequence of client segments (first byte of each: length and flags),
 * with time advancing between them. Invariants: the engine never crashes or leaks, the byte
 * stream toward the backend is canonical CRLF without NUL, and it carries exactly one
 * end-of-data line per message the engine relayed (no smuggled second message).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <urcu/urcu-qsbr.h>

#include "smtp_fixture.h"
#include "ndg_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

/* One directory for every input, built once (its owner fixture is never torn down). */
static struct fix dir_owner;

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void) argc;
	(void) argv;
	urcu_qsbr_register_thread();
	if (fix_init(&dir_owner, NULL) < 0 || fix_start(&dir_owner) < 0)
		abort();
	return 0;
}

static void
pump(struct fix *f, struct fix_buf *pending)
{
	for (int guard = 0; guard < 10000; guard++) {
		bool progress = false;
		size_t used = pending->len
				      ? smtp_session_feed(&f->s, f->now, pending->p, pending->len)
				      : 0;

		if (used > pending->len)
			abort();
		fix_buf_consume(pending, used);
		progress = used != 0;
		if (f->to_engine.len != 0) {
			(void) fix_backend_feed(f, NULL);
			progress = true;
		}
		if (f->be.dropped && f->be.open) {
			f->be.open = false;
			smtp_session_backend_error(&f->s, f->now);
			progress = true;
		}
		if (!progress)
			return;
	}
	abort(); /* the engine and the fake backend must reach a fixed point */
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fix f;
	struct fix_buf pending = {0};
	size_t off = 1, ends = 0;
	const struct fix_buf *raw;

	if (size < 1)
		return 0;
	if (fix_init(&f, dir_owner.dir) < 0)
		abort();
	f.keep_raw = true;
	f.conf.bare_mode = data[0] & 1 ? SMTP_BARE_NORMALIZE : SMTP_BARE_REJECT;
	f.conf.max_size = data[0] & 2 ? 64 : 0;
	f.conf.greet_delay_ms = data[0] & 4 ? 1000 : 0;
	f.conf.max_rcpt = data[0] & 8 ? 2 : 100;
	if (data[0] & 16)
		(void) fix_directive(&f, "policy harvest 2 4");
	if (data[0] & 32)
		(void) fix_directive(&f, "backend drop .");
	if (data[0] & 64)
		(void) fix_directive(&f, "backend reject_rcpt bob@example.test");
	if (data[0] & 128)
		(void) fix_directive(&f, "backend no_pipelining");
	if (fix_start(&f) < 0)
		abort();
	while (off < size && !f.closed) {
		uint8_t h = data[off++];
		size_t n = (size_t) (h & 0x3f) + 1;

		if (n > size - off)
			n = size - off;
		fix_buf_add(&pending, data + off, n);
		off += n;
		pump(&f, &pending);
		if (h & 0x40) {
			f.now += (h & 0x80) ? 700000 : 1500;
			smtp_session_tick(&f.s, f.now);
			pump(&f, &pending);
		}
	}
	/* Let every held reply and timer fire. */
	for (int i = 0; i < 8 && !f.closed; i++) {
		f.now += 700000;
		smtp_session_tick(&f.s, f.now);
		pump(&f, &pending);
	}
	raw = &f.backend_raw;
	for (size_t i = 0; i < raw->len; i++) {
		if (raw->p[i] == '\0')
			abort();
		if (raw->p[i] == '\r' && (i + 1 >= raw->len || raw->p[i + 1] != '\n'))
			abort();
		if (raw->p[i] == '\n' && (i == 0 || raw->p[i - 1] != '\r'))
			abort();
		if (i + 5 <= raw->len && memcmp(raw->p + i, "\r\n.\r\n", 5) == 0)
			ends++;
	}
	if (ends != f.stats.c[SMTP_STAT_MESSAGES])
		abort();
	free(pending.p);
	fix_fini(&f);
	return 0;
}
