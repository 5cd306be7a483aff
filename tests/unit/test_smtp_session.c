/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Unit tests of the session API contracts the transport relies on: partial consumption while
 * waiting, deadlines, close semantics, per-rule counters and decision records. Behaviour on
 * the wire is pinned by the golden transcripts; these check the interface around it.
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

static void
test_greeting_delay_and_deadline(void **state)
{
	struct fix f;

	(void) state;
	assert_int_equal(fix_init(&f, NULL), 0);
	f.conf.greet_delay_ms = 2000;
	assert_int_equal(fix_start(&f), 0);
	assert_int_equal(f.client.len, 0); /* nothing before the delay ends */
	assert_true(smtp_session_next_deadline(&f.s) == FIX_EPOCH_MS + 2000);
	smtp_session_tick(&f.s, FIX_EPOCH_MS + 1999);
	assert_int_equal(f.client.len, 0);
	f.now = FIX_EPOCH_MS + 2000;
	smtp_session_tick(&f.s, f.now);
	assert_non_null(strstr(f.client.p, "220 mx.example.test"));
	assert_int_equal(f.s.state, SMTP_ST_CONNECTED);
	/* idle deadline: RFC 5321 §4.5.3.2.7 five minutes by default */
	assert_true(smtp_session_next_deadline(&f.s) == f.now + 300000);
	fix_fini(&f);
}

static void
test_wait_backend_partial_consumption(void **state)
{
	struct fix f;
	const char *in = "EHLO c.test\r\nMAIL FROM:<a@r.test>\r\nRCPT TO:<alice@example.test>\r\n"
			 "NOOP\r\nQUIT\r\n";
	size_t used, upto_rcpt = strstr(in, "NOOP") - in;

	(void) state;
	assert_int_equal(fix_init(&f, NULL), 0);
	assert_int_equal(fix_start(&f), 0);
	/* The RCPT needs the backend: the engine stops right after it. */
	used = feed_str(&f, in);
	assert_int_equal(used, upto_rcpt);
	assert_true(smtp_session_is_waiting(&f.s));
	assert_int_equal(f.s.wait, SMTP_WAIT_BACKEND);
	/* Feeding again while waiting consumes nothing. */
	assert_int_equal(feed_str(&f, in + used), 0);
	/* The backend's replies arrive: the RCPT is answered, the rest can be fed. */
	while (f.to_engine.len != 0) {
		size_t offered, fed = fix_backend_feed(&f, &offered);

		assert_int_equal(fed, offered);
	}
	assert_false(smtp_session_is_waiting(&f.s));
	assert_non_null(strstr(f.client.p, "250 2.1.5 Ok"));
	assert_int_equal(f.s.state, SMTP_ST_RCPT);
	assert_int_equal(feed_str(&f, in + used), strlen(in + used));
	assert_true(f.closed);
	/* After close every byte is consumed and ignored. */
	assert_int_equal(feed_str(&f, "NOOP\r\n"), 6);
	assert_true(smtp_session_next_deadline(&f.s) == UINT64_MAX);
	fix_fini(&f);
}

static int tls_starttls_ret;
static unsigned int tls_starttls_calls;

static int
tls_op_starttls(void *arg)
{
	(void) arg;
	tls_starttls_calls++;
	return tls_starttls_ret;
}

/* RFC 3207: offered in EHLO, 220 then no more plaintext consumed (CVE-2011-0411), reset to
 * the pre-EHLO state after the handshake, never offered or accepted twice, 454 when the
 * transport has no TLS to give, and the checks of sequence. */
static void
test_starttls(void **state)
{
	struct fix f;
	const char *in = "EHLO c.test\r\nSTARTTLS\r\nRSET\r\nMAIL FROM:<a@r.test>\r\n";
	size_t used, upto = strstr(in, "RSET") - in;

	(void) state;
	assert_int_equal(fix_init(&f, NULL), 0);
	f.ops.starttls = tls_op_starttls;
	f.conf.starttls = true;
	tls_starttls_ret = 0;
	tls_starttls_calls = 0;
	assert_int_equal(fix_start(&f), 0);
	/* Before EHLO: 503, the transport is not asked. */
	assert_int_equal(feed_str(&f, "STARTTLS\r\n"), 10);
	assert_non_null(strstr(f.client.p, "503 5.5.1 Send HELO/EHLO first"));
	assert_int_equal(tls_starttls_calls, 0);
	used = feed_str(&f, in);
	assert_int_equal(used, upto); /* the pipelined RSET is left to the transport to drop */
	assert_non_null(strstr(f.client.p, "250-STARTTLS"));
	assert_non_null(strstr(f.client.p, "220 2.0.0 Ready to start TLS"));
	assert_null(strstr(f.client.p, "250 2.0.0 OK")); /* RSET not executed */
	assert_int_equal(tls_starttls_calls, 1);
	assert_int_equal(f.s.wait, SMTP_WAIT_TLS);
	assert_true(smtp_session_is_waiting(&f.s));
	assert_int_equal(feed_str(&f, in + used), 0);
	/* Handshake done: back to the state after the greeting, no new greeting. */
	f.client.len = 0;
	smtp_session_tls_done(&f.s, f.now);
	assert_int_equal(f.client.len, 0);
	assert_true(f.s.tls);
	assert_int_equal(f.s.state, SMTP_ST_CONNECTED);
	assert_int_equal(f.s.helo[0], '\0');
	assert_false(smtp_session_is_waiting(&f.s));
	feed_str(&f, "MAIL FROM:<a@r.test>\r\nEHLO c.test\r\nSTARTTLS\r\n");
	assert_non_null(strstr(f.client.p, "503 5.5.1 Send HELO/EHLO first"));
	assert_null(strstr(f.client.p, "STARTTLS\n")); /* not offered again */
	assert_non_null(strstr(f.client.p, "503 5.5.1 TLS already active"));
	assert_int_equal(tls_starttls_calls, 1);
	fix_fini(&f);

	/* No slot or rate limited: 454 4.7.0, the session goes on in plaintext. */
	assert_int_equal(fix_init(&f, NULL), 0);
	f.ops.starttls = tls_op_starttls;
	f.conf.starttls = true;
	tls_starttls_ret = -12;
	assert_int_equal(fix_start(&f), 0);
	assert_int_equal(feed_str(&f, "EHLO c.test\r\nSTARTTLS\r\nMAIL FROM:<a@r.test>\r\n"),
		strlen("EHLO c.test\r\nSTARTTLS\r\nMAIL FROM:<a@r.test>\r\n"));
	assert_non_null(strstr(f.client.p, "454 4.7.0 TLS not available"));
	assert_non_null(strstr(f.client.p, "250 2.1.0"));
	/* Inside a transaction: bad sequence. */
	feed_str(&f, "STARTTLS\r\n");
	assert_non_null(strstr(f.client.p, "503 5.5.1 Bad sequence"));
	fix_fini(&f);

	/* Not configured: 502 and not in EHLO. */
	assert_int_equal(fix_init(&f, NULL), 0);
	assert_int_equal(fix_start(&f), 0);
	feed_str(&f, "EHLO c.test\r\nSTARTTLS\r\n");
	assert_null(strstr(f.client.p, "STARTTLS\n"));
	assert_non_null(strstr(f.client.p, "502 5.5.1 STARTTLS not available"));
	fix_fini(&f);
}

struct rec {
	unsigned int n;
	struct policy_decision last;
	char rcpt[SMTP_ADDR_BUF];
	char helo[64];
};

static struct rec rec;

static void
rec_decision(void *arg, const struct policy_decision *d)
{
	(void) arg;
	rec.n++;
	rec.last = *d;
	snprintf(rec.rcpt, sizeof(rec.rcpt), "%s", d->rcpt);
	snprintf(rec.helo, sizeof(rec.helo), "%s", d->helo);
}

static void
test_counters_and_records(void **state)
{
	struct fix f;

	(void) state;
	memset(&rec, 0, sizeof(rec));
	assert_int_equal(fix_init(&f, NULL), 0);
	f.ops.decision = rec_decision;
	f.pol.mode[POLICY_RULE_RELAY_DENIED] = POLICY_OBSERVE;
	assert_int_equal(fix_start(&f), 0);
	f.now += 1234;
	feed_str(&f, "EHLO bot.test\r\nMAIL FROM:<>\r\nRCPT TO:<ghost@example.test>\r\n");
	assert_int_equal(rec.n, 1);
	assert_int_equal(rec.last.rule, POLICY_RULE_UNKNOWN_USER);
	assert_int_equal(rec.last.outcome, POLICY_OUT_REJECT);
	assert_int_equal(rec.last.code, 550);
	assert_string_equal(rec.last.enh, "5.1.1");
	assert_true(rec.last.time_ms == FIX_EPOCH_MS + 1234);
	assert_int_equal(rec.last.peer->addr[0], 198);
	assert_string_equal(rec.last.sender, "");
	assert_string_equal(rec.rcpt, "ghost@example.test");
	assert_string_equal(rec.helo, "bot.test");
	assert_int_equal(f.stats.rule[POLICY_RULE_UNKNOWN_USER][POLICY_OUT_REJECT], 1);
	/* observe mode: counted as observed, then the recipient goes on (to the backend) */
	feed_str(&f, "RCPT TO:<x@elsewhere.test>\r\n");
	assert_int_equal(f.stats.rule[POLICY_RULE_RELAY_DENIED][POLICY_OUT_OBSERVE], 1);
	assert_int_equal(f.stats.rule[POLICY_RULE_RELAY_DENIED][POLICY_OUT_REJECT], 0);
	assert_int_equal(rec.n, 2);
	assert_int_equal(rec.last.outcome, POLICY_OUT_OBSERVE);
	assert_int_equal(f.stats.c[SMTP_STAT_SESSIONS], 1);
	assert_int_equal(f.stats.c[SMTP_STAT_COMMANDS], 4);
	assert_int_equal(f.stats.c[SMTP_STAT_BACKEND_OPEN], 1);
	fix_fini(&f);
}

/*
 * Issue 19 item 3: a host that cannot count the source's sessions (its per-source table is
 * full) says so with SMTP_PEER_CONNS_UNKNOWN. That is the box's shortage, not the sender's
 * fault: 421 4.3.2 and its own counter, never the conn_limit rule (whose verdict may block the
 * source at XDP).
 */
static void
test_source_table_full(void **state)
{
	struct fix f;

	(void) state;
	memset(&rec, 0, sizeof(rec));
	assert_int_equal(fix_init(&f, NULL), 0);
	f.ops.decision = rec_decision;
	f.peer_conns = SMTP_PEER_CONNS_UNKNOWN;
	assert_int_equal(fix_start(&f), 0);
	assert_non_null(strstr(f.client.p, "421 4.3.2"));
	assert_null(strstr(f.client.p, "4.7.0"));
	assert_int_equal(f.s.state, SMTP_ST_CLOSED);
	assert_int_equal(rec.n, 0);
	assert_int_equal(f.stats.rule[POLICY_RULE_CONN_LIMIT][POLICY_OUT_REJECT], 0);
	assert_int_equal(f.stats.c[SMTP_STAT_SRC_TABLE_FULL], 1);
	fix_fini(&f);
}

static void
test_strstate(void **state)
{
	(void) state;
	for (int st = 0; st < SMTP_ST_MAX; st++)
		assert_string_not_equal(smtp_strstate((enum smtp_state) st), "INVALID");
	assert_string_equal(smtp_strstate(SMTP_ST_MAX), "INVALID");
	assert_string_equal(smtp_strstate(SMTP_ST_DATA), "DATA");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_greeting_delay_and_deadline),
		cmocka_unit_test(test_wait_backend_partial_consumption),
		cmocka_unit_test(test_counters_and_records),
		cmocka_unit_test(test_source_table_full),
		cmocka_unit_test(test_strstate),
		cmocka_unit_test(test_starttls),
	};
	int r;

	urcu_qsbr_register_thread();
	r = cmocka_run_group_tests(tests, NULL, NULL);
	urcu_qsbr_unregister_thread();
	return r;
}
