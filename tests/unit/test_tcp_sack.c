/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Unit tests: the SACK option a receiver builds from its out-of-order queue (RFC 2018 §3-4).
 * Contiguous segments merge into one block; the block holding the latest arrival comes
 * first, the others follow in sequence order, at most four; none without SACK-permitted.
 * The mbufs are plain structs (only seq, length, marks and links are read): EAL-free.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <rte_byteorder.h>

#include "tcp.h"

#define NSEG 8

static struct tcp_conn c;
static struct rte_mbuf seg[NSEG];

/* Out-of-order queue of <n> segments [l[i], r[i]), the latest arrival at index <last>. */
static void
queue(const uint32_t *l, const uint32_t *r, unsigned int n, unsigned int last)
{
	memset(&c, 0, sizeof(c));
	memset(seg, 0, sizeof(seg));
	c.flags = TCP_F_SACK_OK;
	for (unsigned int i = 0; i < n; i++) {
		seg[i].hash.usr = l[i];
		seg[i].data_len = (uint16_t) (r[i] - l[i]);
		seg[i].hash.fdir.hi = i == last ? TCP_OOO_LAST : 0;
		seg[i].next = i + 1 < n ? &seg[i + 1] : NULL;
	}
	c.ooo = n ? &seg[0] : NULL;
	c.n_ooo = (uint8_t) n;
}

/* Block <i> of option <opt>, host order. */
static void
block(const uint8_t *opt, unsigned int i, uint32_t *l, uint32_t *r)
{
	uint32_t a, b;

	memcpy(&a, opt + 4 + 8 * i, 4);
	memcpy(&b, opt + 8 + 8 * i, 4);
	*l = rte_be_to_cpu_32(a);
	*r = rte_be_to_cpu_32(b);
}

static void
expect(const uint8_t *opt, uint16_t len, const uint32_t (*want)[2], unsigned int n)
{
	assert_int_equal(len, 4 + 8 * n);
	assert_int_equal(opt[0], 1);
	assert_int_equal(opt[1], 1);
	assert_int_equal(opt[2], 5);
	assert_int_equal(opt[3], 2 + 8 * n);
	for (unsigned int i = 0; i < n; i++) {
		uint32_t l, r;

		block(opt, i, &l, &r);
		assert_int_equal(l, want[i][0]);
		assert_int_equal(r, want[i][1]);
	}
}

static void
test_merge_and_latest_first(void **state)
{
	static const uint32_t l[] = {100, 200, 500, 700, 900, 1100};
	static const uint32_t r[] = {200, 300, 600, 800, 1000, 1200};
	static const uint32_t want[][2] = {{700, 800}, {100, 300}, {500, 600}, {900, 1000}};
	uint8_t opt[TCP_SACK_ROOM];

	(void) state;
	queue(l, r, 6, 3);
	assert_int_equal(tcp_sack_room(&c), TCP_SACK_ROOM);
	/* Six segments, five blocks: four fit, the latest first, then in order. */
	expect(opt, tcp_sack_fill(&c, opt), want, 4);
}

static void
test_latest_inside_merged_block(void **state)
{
	static const uint32_t l[] = {100, 200, 300, 1000};
	static const uint32_t r[] = {200, 300, 400, 1500};
	static const uint32_t want[][2] = {{100, 400}, {1000, 1500}};
	uint8_t opt[TCP_SACK_ROOM];

	(void) state;
	queue(l, r, 4, 1); /* the middle of the first run arrived last */
	expect(opt, tcp_sack_fill(&c, opt), want, 2);
}

static void
test_wrap(void **state)
{
	static const uint32_t l[] = {UINT32_MAX - 999, UINT32_MAX - 499, 1000};
	static const uint32_t r[] = {UINT32_MAX - 499, 500, 2000};
	static const uint32_t want[][2] = {{1000, 2000}, {UINT32_MAX - 999, 500}};
	uint8_t opt[TCP_SACK_ROOM];

	(void) state;
	/* Sequence numbers wrap through zero inside the first block. */
	queue(l, r, 3, 2);
	expect(opt, tcp_sack_fill(&c, opt), want, 2);
}

static void
test_none(void **state)
{
	static const uint32_t l[] = {100};
	static const uint32_t r[] = {200};
	uint8_t opt[TCP_SACK_ROOM];

	(void) state;
	/* An empty queue: no option, no room taken from the payload. */
	queue(l, r, 0, 0);
	assert_int_equal(tcp_sack_fill(&c, opt), 0);
	assert_int_equal(tcp_sack_room(&c), 0);
	/* A peer that did not send SACK-permitted gets no blocks. */
	queue(l, r, 1, 0);
	c.flags = 0;
	assert_int_equal(tcp_sack_fill(&c, opt), 0);
	assert_int_equal(tcp_sack_room(&c), 0);
	/* Without a latest mark (queue filled before the mark existed) blocks still go. */
	queue(l, r, 1, 9);
	assert_int_equal(tcp_sack_fill(&c, opt), 12);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_merge_and_latest_first),
		cmocka_unit_test(test_latest_inside_merged_block),
		cmocka_unit_test(test_wrap),
		cmocka_unit_test(test_none),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
