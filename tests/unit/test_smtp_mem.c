/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Unit tests of the session's borrowed blocks (smtp_ops.blk_get/blk_put): an idle session
 * holds none, a transaction borrows and returns them, exhaustion answers 451 4.3.0 or
 * 421 4.3.2 and counts smtp_no_mem, and pipelined input split anywhere behaves as when whole.
 * The fixture lends from a malloc-backed heap that frees on return, so a block used after
 * its return is a use-after-free the sanitizers see.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <urcu/urcu-qsbr.h>

#include "smtp_fixture.h"
#include "ndg_common.h"

static size_t
feed_str(struct fix *f, const char *s)
{
	return smtp_session_feed(&f->s, f->now, s, strlen(s));
}

/* Deliver the fake backend's pending replies to the engine. */
static void
drain_backend(struct fix *f)
{
	while (f->to_engine.len != 0)
		(void) fix_backend_feed(f, NULL);
}

static uint32_t
lent(const struct fix *f)
{
	return f->heap.in_use[SMTP_BLK_LINE] + f->heap.in_use[SMTP_BLK_TXN] +
	       f->heap.in_use[SMTP_BLK_RELAY];
}

static void
test_idle_holds_nothing(void **state)
{
	struct fix f;

	(void) state;
	assert_int_equal(fix_init(&f, NULL), 0);
	assert_int_equal(fix_start(&f), 0);
	/* Greeted, nothing read yet. */
	assert_int_equal(smtp_session_blocks(&f.s), 0);
	feed_str(&f, "EHLO client.example.net\r\n");
	assert_non_null(strstr(f.client.p, "250 8BITMIME"));
	assert_int_equal(f.s.state, SMTP_ST_HELO);
	assert_string_equal(f.s.helo, "client.example.net");
	assert_int_equal(smtp_session_blocks(&f.s), 0);
	assert_int_equal(lent(&f), 0);
	assert_int_equal(f.heap.lent[SMTP_BLK_LINE], 1);
	/* A command line in progress holds the line block, its end returns it. */
	feed_str(&f, "NO");
	assert_non_null(f.s.line);
	assert_int_equal(f.heap.in_use[SMTP_BLK_LINE], 1);
	feed_str(&f, "OP\r");
	assert_int_equal(f.heap.in_use[SMTP_BLK_LINE], 1);
	feed_str(&f, "\n");
	assert_non_null(strstr(f.client.p, "250 2.0.0 OK"));
	assert_int_equal(lent(&f), 0);
	/* Commands that open no transaction leave nothing behind either. */
	feed_str(&f, "HELP\r\nVRFY x\r\nRSET\r\nBOGUS\r\nMAIL FROM:<bad\r\n");
	assert_non_null(strstr(f.client.p, "501 5.1.7"));
	assert_int_equal(f.s.state, SMTP_ST_HELO);
	assert_int_equal(lent(&f), 0);
	assert_null(f.s.txn);
	assert_null(f.s.relay);
	/* The HELO name stays with the session for the decision records. */
	feed_str(&f, "MAIL FROM:<>\r\nRCPT TO:<ghost@example.test>\r\nRSET\r\n");
	assert_non_null(strstr(f.client.p, "550 5.1.1 User unknown"));
	assert_non_null(strstr(f.decisions.p, "helo=client.example.net"));
	assert_int_equal(lent(&f), 0);
	assert_int_equal(f.stats.c[SMTP_STAT_NO_MEM], 0);
	fix_fini(&f);
}

static void
test_transaction_borrows_and_returns(void **state)
{
	struct fix f;

	(void) state;
	assert_int_equal(fix_init(&f, NULL), 0);
	assert_int_equal(fix_start(&f), 0);
	feed_str(&f, "EHLO c.test\r\nMAIL FROM:<a@remote.test>\r\n");
	assert_non_null(strstr(f.client.p, "250 2.1.0 Sender OK"));
	assert_int_equal(f.heap.in_use[SMTP_BLK_TXN], 1);
	assert_int_equal(f.heap.in_use[SMTP_BLK_LINE], 0);
	assert_int_equal(f.heap.in_use[SMTP_BLK_RELAY], 0);
	/* The first recipient opens the backend: the relay block comes with it. */
	feed_str(&f, "RCPT TO:<alice@example.test>\r\n");
	assert_int_equal(f.heap.in_use[SMTP_BLK_RELAY], 1);
	assert_int_equal(smtp_relay_state(&f.s), SMTP_RL_CONNECTING);
	drain_backend(&f);
	assert_non_null(strstr(f.client.p, "250 2.1.5 Ok"));
	feed_str(&f, "DATA\r\n");
	drain_backend(&f);
	assert_int_equal(f.s.state, SMTP_ST_DATA);
	feed_str(&f, "Subject: t\r\n\r\n..leading dot\r\nbody\r\n.\r\n");
	drain_backend(&f);
	assert_non_null(strstr(f.client.p, "250 2.0.0 Ok: queued as 4F2A"));
	assert_non_null(strstr(f.backend.p, "..leading dot"));
	/* Transaction over: its block is back; the backend stays open for the next one. */
	assert_int_equal(f.s.state, SMTP_ST_HELO);
	assert_int_equal(f.heap.in_use[SMTP_BLK_TXN], 0);
	assert_int_equal(f.heap.in_use[SMTP_BLK_LINE], 0);
	assert_int_equal(f.heap.in_use[SMTP_BLK_RELAY], 1);
	assert_int_equal(smtp_relay_state(&f.s), SMTP_RL_READY);
	/* A second transaction reuses the backend, RSET returns the transaction block. */
	feed_str(&f, "MAIL FROM:<b@remote.test>\r\nRCPT TO:<bob@example.test>\r\n");
	drain_backend(&f);
	assert_int_equal(f.heap.in_use[SMTP_BLK_TXN], 1);
	feed_str(&f, "RSET\r\n");
	drain_backend(&f);
	assert_int_equal(f.heap.in_use[SMTP_BLK_TXN], 0);
	assert_int_equal(f.heap.lent[SMTP_BLK_TXN], 2);
	assert_int_equal(f.heap.lent[SMTP_BLK_RELAY], 1);
	/* QUIT closes the backend: nothing is held any more. */
	feed_str(&f, "QUIT\r\n");
	assert_true(f.closed);
	assert_int_equal(lent(&f), 0);
	fix_fini(&f);

	/* A backend lost mid-transaction returns the relay block; the next RCPT borrows one. */
	assert_int_equal(fix_init(&f, NULL), 0);
	assert_int_equal(fix_directive(&f, "backend drop RCPT"), 0);
	assert_int_equal(fix_start(&f), 0);
	feed_str(&f,
		"EHLO c.test\r\nMAIL FROM:<a@remote.test>\r\nRCPT TO:<alice@example.test>\r\n");
	drain_backend(&f);
	assert_true(smtp_session_is_waiting(&f.s));
	smtp_session_backend_error(&f.s, f.now);
	assert_non_null(strstr(f.client.p, "451 4.4.1"));
	assert_int_equal(smtp_relay_state(&f.s), SMTP_RL_FAILED);
	assert_null(f.s.relay);
	assert_int_equal(f.heap.in_use[SMTP_BLK_RELAY], 0);
	assert_int_equal(f.heap.in_use[SMTP_BLK_TXN], 1);
	feed_str(&f, "RSET\r\n");
	assert_int_equal(lent(&f), 0);
	fix_fini(&f);
}

/* The host's pool is shared by every session of a thread: a second session on the same
 * fixture (callbacks and heap) takes the one transaction block there is. */
static void
test_exhaustion(void **state)
{
	struct fix f;
	struct smtp_session other;
	const char *ok = "250 2.1.0 Sender OK";
	const char *other_in = "EHLO o.test\r\nMAIL FROM:<o@remote.test>\r\n";

	(void) state;
	assert_int_equal(fix_init(&f, NULL), 0);
	assert_int_equal(fix_directive(&f, "blocks txn 1"), 0);
	assert_int_equal(fix_start(&f), 0);
	smtp_session_init(&other, &f.conf, &f.ops, &f, &f.pol, &f.stats, &f.peer);
	smtp_session_start(&other, f.now, 1);
	(void) smtp_session_feed(&other, f.now, other_in, strlen(other_in));
	assert_int_equal(f.heap.in_use[SMTP_BLK_TXN], 1);
	fix_buf_consume(&f.client, f.client.len);
	feed_str(&f, "EHLO c.test\r\nMAIL FROM:<a@remote.test>\r\n");
	assert_non_null(strstr(f.client.p, "451 4.3.0 Insufficient system resources"));
	assert_null(strstr(f.client.p, ok));
	assert_int_equal(f.stats.c[SMTP_STAT_NO_MEM], 1);
	assert_int_equal(f.s.state, SMTP_ST_HELO);
	assert_false(f.closed);
	/* The session carries on: out of transaction, then a MAIL once the block is free. */
	feed_str(&f, "RCPT TO:<alice@example.test>\r\nNOOP\r\n");
	assert_non_null(strstr(f.client.p, "503 5.5.1 Need MAIL before RCPT"));
	assert_non_null(strstr(f.client.p, "250 2.0.0 OK"));
	(void) smtp_session_feed(&other, f.now, "RSET\r\n", 6);
	assert_int_equal(f.heap.in_use[SMTP_BLK_TXN], 0);
	feed_str(&f, "MAIL FROM:<a@remote.test>\r\nRCPT TO:<alice@example.test>\r\n");
	assert_non_null(strstr(f.client.p, ok));
	drain_backend(&f);
	assert_non_null(strstr(f.client.p, "250 2.1.5 Ok"));
	feed_str(&f, "DATA\r\n");
	drain_backend(&f);
	feed_str(&f, "hello\r\n.\r\n");
	drain_backend(&f);
	assert_non_null(strstr(f.client.p, "queued as 4F2A"));
	assert_int_equal(f.stats.c[SMTP_STAT_NO_MEM], 1);
	smtp_session_fini(&other);
	fix_fini(&f);

	/* No relay block: the recipient gets 451 4.3.0 (recorded), not a backend failure. */
	assert_int_equal(fix_init(&f, NULL), 0);
	assert_int_equal(fix_directive(&f, "blocks relay 0"), 0);
	assert_int_equal(fix_start(&f), 0);
	feed_str(&f,
		"EHLO c.test\r\nMAIL FROM:<a@remote.test>\r\nRCPT TO:<alice@example.test>\r\n");
	assert_non_null(strstr(f.client.p, "451 4.3.0"));
	assert_null(strstr(f.client.p, "~backend-open"));
	assert_non_null(strstr(f.decisions.p, "reject 451 4.3.0"));
	assert_int_equal(f.stats.c[SMTP_STAT_NO_MEM], 1);
	assert_int_equal(f.stats.c[SMTP_STAT_BACKEND_FAIL], 0);
	feed_str(&f, "DATA\r\n");
	assert_non_null(strstr(f.client.p, "554 5.5.1 No valid recipients"));
	feed_str(&f, "QUIT\r\n");
	assert_true(f.closed);
	assert_int_equal(lent(&f), 0);
	fix_fini(&f);

	/* No line block: commands cannot be read at all, 421 4.3.2 and close. */
	assert_int_equal(fix_init(&f, NULL), 0);
	assert_int_equal(fix_directive(&f, "blocks line 0"), 0);
	assert_int_equal(fix_start(&f), 0);
	assert_int_equal(feed_str(&f, "EHLO c.test\r\n"), 13);
	assert_non_null(strstr(f.client.p, "421 4.3.2 Insufficient system resources, closing"));
	assert_true(f.closed);
	assert_int_equal(f.s.state, SMTP_ST_CLOSED);
	assert_int_equal(f.stats.c[SMTP_STAT_NO_MEM], 1);
	assert_int_equal(lent(&f), 0);
	fix_fini(&f);
}

/* The tarpit holds the command in its line block until the release. */
static void
test_tarpit_holds_line(void **state)
{
	struct fix f;

	(void) state;
	assert_int_equal(fix_init(&f, NULL), 0);
	assert_int_equal(fix_directive(&f, "policy harvest 2 100"), 0);
	assert_int_equal(fix_start(&f), 0);
	feed_str(&f, "EHLO c.test\r\nMAIL FROM:<a@remote.test>\r\nRCPT TO:<u1@example.test>\r\n"
		     "RCPT TO:<u2@example.test>\r\nRCPT TO:<u3@example.test>\r\n");
	assert_int_equal(f.s.wait, SMTP_WAIT_TARPIT);
	assert_true(f.s.line_held);
	assert_int_equal(f.heap.in_use[SMTP_BLK_LINE], 1);
	assert_string_equal(f.s.line->buf, "RCPT TO:<u3@example.test>");
	f.now = smtp_session_next_deadline(&f.s);
	smtp_session_tick(&f.s, f.now);
	assert_int_equal(f.s.wait, SMTP_WAIT_NONE);
	assert_int_equal(f.heap.in_use[SMTP_BLK_LINE], 0);
	assert_int_equal(f.heap.in_use[SMTP_BLK_TXN], 1);
	fix_fini(&f);
}

/* Run <in> through a fresh session in the pieces <cuts> (offsets, ascending) delimit, the
 * transport's way: keep what the engine did not take, give the backend's replies back. */
static void
run_split(const char *in, const size_t *cuts, size_t ncuts, struct fix_buf *client,
	struct fix_buf *backend, uint32_t *left)
{
	struct fix f;
	struct fix_buf pending = {0};
	size_t n = strlen(in), at = 0;

	assert_int_equal(fix_init(&f, NULL), 0);
	assert_int_equal(fix_start(&f), 0);
	for (size_t k = 0; k <= ncuts; k++) {
		size_t end = k < ncuts ? cuts[k] : n;

		fix_buf_add(&pending, in + at, end - at);
		at = end;
		for (int guard = 0; guard < 1000 && pending.len != 0; guard++) {
			size_t used = smtp_session_feed(&f.s, f.now, pending.p, pending.len);

			fix_buf_consume(&pending, used);
			if (f.to_engine.len == 0)
				break;
			drain_backend(&f);
		}
		drain_backend(&f);
	}
	fix_buf_add(client, f.client.p, f.client.len);
	fix_buf_add(backend, f.backend.p, f.backend.len);
	*left = lent(&f) + (uint32_t) smtp_session_blocks(&f.s);
	free(pending.p);
	fix_fini(&f);
}

static void
test_pipelined_any_split(void **state)
{
	const char *in = "EHLO c.test\r\nMAIL FROM:<a@remote.test> SIZE=100\r\n"
			 "RCPT TO:<alice@example.test>\r\nRCPT TO:<ghost@example.test>\r\n"
			 "RCPT TO:<bob@example.test>\r\nDATA\r\nSubject: x\r\n\r\n.dot\r\nline\r\n"
			 ".\r\nNOOP\r\nMAIL FROM:<>\r\nRCPT TO:<carol@example.test>\r\nRSET\r\n"
			 "QUIT\r\n";
	struct fix_buf wc = {0}, wb = {0};
	size_t n = strlen(in), *cuts = calloc(n, sizeof(*cuts));
	uint32_t left;

	(void) state;
	assert_non_null(cuts);
	run_split(in, NULL, 0, &wc, &wb, &left);
	assert_non_null(strstr(wc.p, "queued as 4F2A"));
	assert_non_null(strstr(wc.p, "221 2.0.0 Bye"));
	assert_int_equal(left, 0);
	/* Every single cut point. */
	for (size_t i = 1; i < n; i++) {
		struct fix_buf c = {0}, b = {0};

		cuts[0] = i;
		run_split(in, cuts, 1, &c, &b, &left);
		assert_string_equal(c.p, wc.p);
		assert_string_equal(b.p, wb.p);
		assert_int_equal(left, 0);
		free(c.p);
		free(b.p);
	}
	/* One byte at a time. */
	{
		struct fix_buf c = {0}, b = {0};

		for (size_t i = 0; i + 1 < n; i++)
			cuts[i] = i + 1;
		run_split(in, cuts, n - 1, &c, &b, &left);
		assert_string_equal(c.p, wc.p);
		assert_string_equal(b.p, wb.p);
		assert_int_equal(left, 0);
		free(c.p);
		free(b.p);
	}
	free(cuts);
	free(wc.p);
	free(wb.p);
}

static void
test_blk_sizes(void **state)
{
	(void) state;
	assert_int_equal(smtp_blk_size(SMTP_BLK_LINE), sizeof(struct smtp_line));
	assert_int_equal(smtp_blk_size(SMTP_BLK_TXN), sizeof(struct smtp_txn));
	assert_int_equal(smtp_blk_size(SMTP_BLK_RELAY), sizeof(struct smtp_relay));
	assert_int_equal(smtp_blk_size(SMTP_BLK_MAX), 0);
	assert_string_equal(smtp_blk_name(SMTP_BLK_TXN), "txn");
	/* The resident session keeps none of the big parts inline. */
	assert_true(
		sizeof(struct smtp_session) < sizeof(struct smtp_line) + sizeof(struct smtp_txn));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_idle_holds_nothing),
		cmocka_unit_test(test_transaction_borrows_and_returns),
		cmocka_unit_test(test_exhaustion),
		cmocka_unit_test(test_tarpit_holds_line),
		cmocka_unit_test(test_pipelined_any_split),
		cmocka_unit_test(test_blk_sizes),
	};
	int r;

	urcu_qsbr_register_thread();
	r = cmocka_run_group_tests(tests, NULL, NULL);
	urcu_qsbr_unregister_thread();
	return r;
}
