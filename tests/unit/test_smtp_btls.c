/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Unit tests of STARTTLS toward the backend in the relay (smtp_relay.c): the decision table,
 * and the engine driven against the fixture's fake backend taught STARTTLS: STARTTLS sent
 * when offered, plaintext after the 220 left to the caller, EHLO again inside TLS, 451 4.7.4
 * when required and not offered, 451 4.7.5 or a plaintext retry when the handshake fails, and
 * the relay timeout while the handshake hangs. The TLS handshake itself is tls.c's (test_tls).
 */
#include <errno.h>
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

static void
test_tls_act_table(void **state)
{
	static const struct {
		enum smtp_btls_mode mode;
		bool offered;
		enum smtp_btls_act want;
	} cases[] = {
		{SMTP_BTLS_NONE, false, SMTP_BTLS_ACT_PLAIN},
		{SMTP_BTLS_NONE, true, SMTP_BTLS_ACT_PLAIN},
		{SMTP_BTLS_MAY, false, SMTP_BTLS_ACT_PLAIN},
		{SMTP_BTLS_MAY, true, SMTP_BTLS_ACT_STARTTLS},
		{SMTP_BTLS_ENCRYPT, false, SMTP_BTLS_ACT_FAIL},
		{SMTP_BTLS_ENCRYPT, true, SMTP_BTLS_ACT_STARTTLS},
		{SMTP_BTLS_MODE_MAX, true, SMTP_BTLS_ACT_PLAIN},
	};

	(void) state;
	for (size_t i = 0; i < NDG_ARRAY_SIZE(cases); i++)
		if (smtp_relay_tls_act(cases[i].mode, cases[i].offered) != cases[i].want)
			fail_msg("case %zu: mode %d offered %d", i, cases[i].mode,
				cases[i].offered);
}

/* The fake backend of the fixture, with STARTTLS in front of it. */
struct bt {
	struct fix f;
	void (*send)(void *arg, const char *p, size_t n); /* the fixture's backend */
	uint8_t mode;					  /* policy the transport answers */
	bool offer;					  /* EHLO advertises STARTTLS */
	bool refuse;					  /* STARTTLS answered 454 */
	const char *inject; /* plaintext the backend sends right after its 220 */
	bool in_tls;	    /* the "handshake" finished: the next EHLO is inside TLS */
	int go_ret;	    /* what backend_tls(GO) returns */
	unsigned int ev[SMTP_BTLS_EV_MAX];
	unsigned int opens, ehlos, starttls;
	struct fix_buf line;
};

static struct bt *
bt_of(void *arg)
{
	return (struct bt *) arg;
}

static uint8_t
bt_mode(void *arg)
{
	return bt_of(arg)->mode;
}

static int
bt_event(void *arg, uint8_t ev)
{
	struct bt *b = bt_of(arg);

	b->ev[ev]++;
	return ev == SMTP_BTLS_EV_GO ? b->go_ret : 0;
}

static int
bt_open(void *arg)
{
	struct bt *b = bt_of(arg);

	b->opens++;
	b->in_tls = false;
	fix_buf_add(&b->f.to_engine, "220 backend.test ESMTP\r\n", 24);
	b->f.be.open = true;
	b->f.be.in_data = false;
	return 0;
}

static void
bt_line(struct bt *b, const char *l, size_t n)
{
	if (!b->f.be.in_data && n >= 6 && strncasecmp(l, "EHLO ", 5) == 0) {
		const char *caps = "250-backend.test\r\n250-PIPELINING\r\n250-SIZE 10000000\r\n";

		b->ehlos++;
		fix_buf_add(&b->f.to_engine, caps, strlen(caps));
		if (b->offer && !b->in_tls)
			fix_buf_add(&b->f.to_engine, "250-STARTTLS\r\n", 14);
		fix_buf_add(&b->f.to_engine, "250 8BITMIME\r\n", 14);
		return;
	}
	if (!b->f.be.in_data && n == 10 && strncasecmp(l, "STARTTLS\r\n", 10) == 0) {
		b->starttls++;
		if (b->refuse) {
			fix_buf_add(&b->f.to_engine, "454 4.7.0 TLS not available\r\n", 29);
			return;
		}
		fix_buf_add(&b->f.to_engine, "220 2.0.0 Ready to start TLS\r\n", 30);
		if (b->inject != NULL)
			fix_buf_add(&b->f.to_engine, b->inject, strlen(b->inject));
		return;
	}
	b->send(&b->f, l, n);
}

/* Split what the engine sends into lines: EHLO and STARTTLS are ours, the rest the fixture's. */
static void
bt_send(void *arg, const char *p, size_t n)
{
	struct bt *b = bt_of(arg);

	for (size_t i = 0; i < n; i++) {
		fix_buf_add(&b->line, &p[i], 1);
		if (b->line.len >= 2 && b->line.p[b->line.len - 1] == '\n') {
			bt_line(b, b->line.p, b->line.len);
			fix_buf_consume(&b->line, b->line.len);
		}
	}
}

static void
bt_init(struct bt *b, uint8_t mode, bool offer)
{
	memset(b, 0, sizeof(*b));
	assert_int_equal(fix_init(&b->f, NULL), 0);
	b->send = b->f.ops.backend_send;
	b->f.ops.backend_send = bt_send;
	b->f.ops.backend_open = bt_open;
	b->f.ops.backend_tls_mode = bt_mode;
	b->f.ops.backend_tls = bt_event;
	b->mode = mode;
	b->offer = offer;
	assert_int_equal(fix_start(&b->f), 0);
}

static void
bt_fini(struct bt *b)
{
	free(b->line.p);
	fix_fini(&b->f);
}

/* Deliver the backend's replies. @return the bytes the engine did not take (after a 220 to
 * STARTTLS: what the transport must drop). */
static size_t
bt_pump(struct bt *b)
{
	size_t left = 0;

	while (b->f.to_engine.len != 0) {
		struct fix_buf x = {0};
		size_t used;

		fix_buf_add(&x, b->f.to_engine.p, b->f.to_engine.len);
		fix_buf_consume(&b->f.to_engine, b->f.to_engine.len);
		used = smtp_session_backend_feed(&b->f.s, b->f.now, x.p, x.len);
		left += x.len - used;
		free(x.p);
		if (used < x.len)
			break;
	}
	return left;
}

static const char *const txn =
	"EHLO c.test\r\nMAIL FROM:<a@r.test>\r\nRCPT TO:<alice@example.test>\r\n";

static void
bt_client(struct bt *b, const char *s)
{
	(void) smtp_session_feed(&b->f.s, b->f.now, s, strlen(s));
}

static void
test_opportunistic_offered(void **state)
{
	struct bt b;
	const char *inj = "250 2.1.5 injected\r\n";

	(void) state;
	bt_init(&b, SMTP_BTLS_MAY, true);
	b.inject = inj;
	bt_client(&b, txn);
	/* Greeting, EHLO, STARTTLS, 220: the injected reply is left over, never parsed. */
	assert_int_equal(bt_pump(&b), strlen(inj));
	assert_int_equal(b.starttls, 1);
	assert_int_equal(b.ev[SMTP_BTLS_EV_GO], 1);
	assert_int_equal(smtp_relay_state(&b.f.s), SMTP_RL_TLS);
	assert_true(smtp_session_is_waiting(&b.f.s));
	assert_null(strstr(b.f.client.p, "250 2.1.5"));
	/* The relay waits for the handshake, bounded by the backend timeout. */
	assert_true(smtp_session_next_deadline(&b.f.s) == b.f.now + b.f.conf.timeout_backend_ms);
	/* Handshake done: EHLO again inside TLS, then MAIL and RCPT. */
	b.in_tls = true;
	smtp_session_backend_tls(&b.f.s, b.f.now, 0);
	assert_int_equal(bt_pump(&b), 0);
	assert_int_equal(b.ehlos, 2);
	assert_true(b.f.s.relay != NULL && b.f.s.relay->tls);
	assert_int_equal(b.starttls, 1); /* not again inside TLS */
	assert_non_null(strstr(b.f.client.p, "250 2.1.5 Ok"));
	assert_false(smtp_session_is_waiting(&b.f.s));
	/* The message goes through the same connection. */
	bt_client(&b, "DATA\r\n");
	assert_int_equal(bt_pump(&b), 0);
	bt_client(&b, "Subject: t\r\n\r\nhello\r\n.\r\n");
	assert_int_equal(bt_pump(&b), 0);
	assert_non_null(strstr(b.f.client.p, "250 2.0.0 Ok: queued"));
	assert_int_equal(b.opens, 1);
	bt_fini(&b);
}

static void
test_opportunistic_not_offered_and_none(void **state)
{
	struct bt b;

	(void) state;
	for (int k = 0; k < 2; k++) {
		bt_init(&b, k == 0 ? SMTP_BTLS_MAY : SMTP_BTLS_NONE, k != 0);
		bt_client(&b, txn);
		assert_int_equal(bt_pump(&b), 0);
		assert_int_equal(b.starttls, 0);
		assert_int_equal(b.ev[SMTP_BTLS_EV_PLAIN], 1);
		assert_int_equal(b.ev[SMTP_BTLS_EV_GO], 0);
		assert_true(b.f.s.relay == NULL || !b.f.s.relay->tls);
		assert_non_null(strstr(b.f.client.p, "250 2.1.5 Ok"));
		bt_fini(&b);
	}
}

static void
test_required_not_offered(void **state)
{
	struct bt b;

	(void) state;
	bt_init(&b, SMTP_BTLS_ENCRYPT, false);
	bt_client(&b, txn);
	assert_int_equal(bt_pump(&b), 0);
	assert_int_equal(b.ev[SMTP_BTLS_EV_NOT_OFFERED], 1);
	assert_non_null(strstr(b.f.client.p, "451 4.7.4"));
	assert_null(strstr(b.f.backend.p, "MAIL FROM")); /* nothing of the envelope left us */
	assert_non_null(strstr(b.f.decisions.p, "451 4.7.4"));
	assert_int_equal(smtp_relay_state(&b.f.s), SMTP_RL_FAILED);
	assert_false(smtp_session_is_waiting(&b.f.s));
	bt_fini(&b);

	/* Offered but refused (454): required means no plaintext either. */
	bt_init(&b, SMTP_BTLS_ENCRYPT, true);
	b.refuse = true;
	bt_client(&b, txn);
	assert_int_equal(bt_pump(&b), 0);
	assert_int_equal(b.ev[SMTP_BTLS_EV_REFUSED], 1);
	assert_non_null(strstr(b.f.client.p, "451 4.7.4"));
	bt_fini(&b);

	/* Refused under 'may': plaintext. */
	bt_init(&b, SMTP_BTLS_MAY, true);
	b.refuse = true;
	bt_client(&b, txn);
	assert_int_equal(bt_pump(&b), 0);
	assert_non_null(strstr(b.f.client.p, "250 2.1.5 Ok"));
	assert_true(b.f.s.relay == NULL || !b.f.s.relay->tls);
	bt_fini(&b);
}

static void
test_handshake_failure(void **state)
{
	struct bt b;

	(void) state;
	/* encrypt: 451 4.7.5, no retry. */
	bt_init(&b, SMTP_BTLS_ENCRYPT, true);
	bt_client(&b, txn);
	assert_int_equal(bt_pump(&b), 0);
	smtp_session_backend_tls(&b.f.s, b.f.now, -EPROTO);
	assert_non_null(strstr(b.f.client.p, "451 4.7.5"));
	assert_non_null(strstr(b.f.decisions.p, "451 4.7.5"));
	assert_int_equal(b.opens, 1);
	assert_int_equal(b.ev[SMTP_BTLS_EV_FALLBACK], 0);
	bt_fini(&b);

	/* may: one plaintext retry on a new connection, which never tries TLS. */
	bt_init(&b, SMTP_BTLS_MAY, true);
	bt_client(&b, txn);
	assert_int_equal(bt_pump(&b), 0);
	smtp_session_backend_tls(&b.f.s, b.f.now, -EPROTO);
	assert_int_equal(b.ev[SMTP_BTLS_EV_FALLBACK], 1);
	assert_int_equal(b.opens, 2);
	assert_int_equal(bt_pump(&b), 0);
	assert_int_equal(b.starttls, 1);
	assert_true(b.f.s.relay == NULL || !b.f.s.relay->tls);
	assert_non_null(strstr(b.f.client.p, "250 2.1.5 Ok"));
	bt_fini(&b);

	/* The transport cannot start TLS (no slot): the same as a failed handshake. */
	bt_init(&b, SMTP_BTLS_ENCRYPT, true);
	b.go_ret = -ENOMEM;
	bt_client(&b, txn);
	assert_int_equal(bt_pump(&b), 0);
	assert_non_null(strstr(b.f.client.p, "451 4.7.5"));
	bt_fini(&b);
}

static void
test_handshake_timeout(void **state)
{
	struct bt b;
	uint64_t d;

	(void) state;
	bt_init(&b, SMTP_BTLS_ENCRYPT, true);
	bt_client(&b, txn);
	assert_int_equal(bt_pump(&b), 0);
	d = smtp_session_next_deadline(&b.f.s);
	smtp_session_tick(&b.f.s, d - 1);
	assert_int_equal(smtp_relay_state(&b.f.s), SMTP_RL_TLS);
	smtp_session_tick(&b.f.s, d);
	assert_non_null(strstr(b.f.client.p, "421 4.4.2"));
	assert_true(b.f.closed);
	/* A late end of handshake changes nothing. */
	smtp_session_backend_tls(&b.f.s, d + 1, 0);
	assert_int_equal(b.ehlos, 1);
	bt_fini(&b);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tls_act_table),
		cmocka_unit_test(test_opportunistic_offered),
		cmocka_unit_test(test_opportunistic_not_offered_and_none),
		cmocka_unit_test(test_required_not_offered),
		cmocka_unit_test(test_handshake_failure),
		cmocka_unit_test(test_handshake_timeout),
	};
	int r;

	urcu_qsbr_register_thread();
	r = cmocka_run_group_tests(tests, NULL, NULL);
	urcu_qsbr_unregister_thread();
	return r;
}
