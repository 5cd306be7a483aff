/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Unit tests: the loss-recovery and close rules the lab runs exposed (issue 5). Fast
 * retransmit only past <recover> (RFC 6582 §3.2), across sequence wrap, after an RTO and
 * after a recovery; a reset in LAST-ACK or CLOSING is a clean close only when every byte
 * was acknowledged and just our FIN is outstanding. EAL-free.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "tcp.h"

static struct tcp_conn c;

static int
setup(void **state)
{
	(void) state;
	memset(&c, 0, sizeof(c));
	return 0;
}

/* A fresh connection: recover at the ISS, as tcp_conn_init_seq() sets it. */
static void
fresh(uint32_t iss)
{
	c.iss = c.snd_una = c.snd_nxt = c.snd_max = c.recover = iss;
}

static void
test_fast_rxmt_fresh(void **state)
{
	(void) state;
	/* Nothing acknowledged yet (SYN outstanding): no fast retransmit. */
	fresh(1000);
	assert_false(tcp_conn_may_fast_rxmt(&c));
	/* SYN acknowledged, data in flight: three duplicate ACKs may retransmit. */
	c.snd_una = 1001;
	c.snd_max = 1001 + 14600;
	assert_true(tcp_conn_may_fast_rxmt(&c));
}

static void
test_fast_rxmt_wrap(void **state)
{
	(void) state;
	/* An ISS just below 2^32: the comparison is in sequence space, not as integers. */
	fresh(UINT32_MAX - 10);
	c.snd_una = UINT32_MAX - 10 + 1;
	assert_true(tcp_conn_may_fast_rxmt(&c));
	c.snd_una = 20; /* wrapped past zero */
	assert_true(tcp_conn_may_fast_rxmt(&c));
	/* An ISS that looks "negative" from 0 (the old uninitialised recover) still works. */
	fresh(0x80000005u);
	c.snd_una = 0x80000006u;
	assert_true(tcp_conn_may_fast_rxmt(&c));
}

static void
test_fast_rxmt_after_rto(void **state)
{
	(void) state;
	fresh(5000);
	c.snd_una = 6000;
	c.snd_max = 20000;
	/* The RTO resends from snd_una and sets recover = snd_max: duplicate ACKs caused by
	 * those resends (snd_una still at or below 20000) start no fast retransmit. */
	c.recover = c.snd_max;
	assert_false(tcp_conn_may_fast_rxmt(&c));
	c.snd_una = 20000;
	assert_false(tcp_conn_may_fast_rxmt(&c));
	/* New data acknowledged past recover: a new loss event may be recovered fast. */
	c.snd_una = 20001;
	assert_true(tcp_conn_may_fast_rxmt(&c));
}

static void
test_rst_clean_states(void **state)
{
	(void) state;
	fresh(100);
	c.state = TCP_ST_TIME_WAIT;
	assert_true(tcp_conn_rst_is_clean(&c));
	c.state = TCP_ST_ESTABLISHED;
	assert_false(tcp_conn_rst_is_clean(&c));
	c.state = TCP_ST_FIN_WAIT_1;
	c.flags = TCP_F_FIN_SENT;
	c.snd_una = 200;
	c.snd_max = 201;
	assert_false(tcp_conn_rst_is_clean(&c)); /* the peer has not closed: it resets us */
}

static void
test_rst_clean_last_ack(void **state)
{
	(void) state;
	fresh(100);
	c.state = TCP_ST_LAST_ACK;
	c.flags = TCP_F_FIN_SENT;
	/* Every byte acknowledged, only the FIN outstanding: clean. */
	c.snd_una = 5000;
	c.snd_max = 5001;
	assert_true(tcp_conn_rst_is_clean(&c));
	c.state = TCP_ST_CLOSING;
	assert_true(tcp_conn_rst_is_clean(&c));
	/* Data still unacknowledged: the peer lost it, an abort. */
	c.state = TCP_ST_LAST_ACK;
	c.snd_una = 4000;
	c.sndq.bytes = 1000;
	assert_false(tcp_conn_rst_is_clean(&c));
	/* FIN not sent yet (still queued behind data): an abort. */
	c.snd_una = 5000;
	c.snd_max = 5000;
	c.sndq.bytes = 0;
	c.flags = TCP_F_FIN_PENDING;
	assert_false(tcp_conn_rst_is_clean(&c));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_fast_rxmt_fresh, setup),
		cmocka_unit_test_setup(test_fast_rxmt_wrap, setup),
		cmocka_unit_test_setup(test_fast_rxmt_after_rto, setup),
		cmocka_unit_test_setup(test_rst_clean_states, setup),
		cmocka_unit_test_setup(test_rst_clean_last_ack, setup),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
