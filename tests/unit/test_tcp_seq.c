/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Unit tests: TCP sequence-number arithmetic (RFC 9293 §3.4, modulo 2^32) and option
 * parsing (MSS, window scale, SACK-permitted and timestamps ignored, truncated options).
 * EAL-free.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "tcp.h"

static void
test_seq_compare(void **state)
{
	static const struct {
		uint32_t a, b;
		bool lt, leq, gt, geq;
	} tc[] = {
		{1, 2, true, true, false, false},
		{2, 2, false, true, false, true},
		{0xffffffffu, 0, true, true, false, false}, /* wraps */
		{0, 0xffffffffu, false, false, true, true},
		{0x7fffffffu, 0, false, false, true, true},
		{0x80000001u, 0, true, true, false, false}, /* more than half-way round */
		{100, 0xfffffff0u, false, false, true, true},
	};

	(void) state;
	for (size_t i = 0; i < sizeof(tc) / sizeof(tc[0]); i++) {
		assert_int_equal(tcp_seq_lt(tc[i].a, tc[i].b), tc[i].lt);
		assert_int_equal(tcp_seq_leq(tc[i].a, tc[i].b), tc[i].leq);
		assert_int_equal(tcp_seq_gt(tc[i].a, tc[i].b), tc[i].gt);
		assert_int_equal(tcp_seq_geq(tc[i].a, tc[i].b), tc[i].geq);
	}
	assert_int_equal(tcp_seq_max(0xfffffff0u, 5), 5);
}

static void
test_seq_in(void **state)
{
	(void) state;
	assert_true(tcp_seq_in(10, 10, 20));
	assert_false(tcp_seq_in(20, 10, 20));
	assert_false(tcp_seq_in(9, 10, 20));
	/* window across the wrap */
	assert_true(tcp_seq_in(0xfffffffeu, 0xfffffff0u, 0x10));
	assert_true(tcp_seq_in(5, 0xfffffff0u, 0x10));
	assert_false(tcp_seq_in(0x10, 0xfffffff0u, 0x10));
	/* empty window */
	assert_false(tcp_seq_in(7, 7, 7));
}

static void
test_opts(void **state)
{
	static const struct {
		const char *name;
		uint8_t o[40];
		unsigned int len;
		int ret;
		uint16_t mss;
		bool has_ws;
		uint8_t ws;
		bool sack, ts, malformed;
	} tc[] = {
		{"linux syn", {2, 4, 0x05, 0xb4, 4, 2, 8, 10, 1, 2, 3, 4, 0, 0, 0, 0, 1, 3, 3, 7},
			20, 0, 1460, true, 7, true, true, false},
		{"mss only", {2, 4, 0x02, 0x18}, 4, 0, 536, false, 0, false, false, false},
		{"nops and eol", {1, 1, 1, 0, 2, 4, 1, 1}, 8, 0, 0, false, 0, false, false, false},
		{"ws clamped to 14", {3, 3, 20}, 3, 0, 0, true, 14, false, false, false},
		{"truncated mss", {2, 4, 0x05}, 3, -EINVAL, 0, false, 0, false, false, true},
		{"zero length", {1, 8, 0, 3, 3, 7}, 6, -EINVAL, 0, false, 0, false, false, true},
		{"length past end", {3, 3, 7, 2, 9, 0}, 6, -EINVAL, 0, true, 7, false, false, true},
		{"kind without length", {3, 3, 7, 30}, 4, -EINVAL, 0, true, 7, false, false, true},
		{"bad mss length", {2, 3, 5}, 3, -EINVAL, 0, false, 0, false, false, true},
		{"unknown skipped", {30, 4, 1, 1, 2, 4, 0x04, 0x00}, 8, 0, 1024, false, 0, false,
			false, false},
	};

	(void) state;
	for (size_t i = 0; i < sizeof(tc) / sizeof(tc[0]); i++) {
		struct tcp_opts o;
		int ret = tcp_opts_parse(tc[i].o, tc[i].len, &o);

		print_message("opts: %s\n", tc[i].name);
		assert_int_equal(ret, tc[i].ret);
		assert_int_equal(o.mss, tc[i].mss);
		assert_int_equal(o.has_ws, tc[i].has_ws);
		if (tc[i].has_ws)
			assert_int_equal(o.wscale, tc[i].ws);
		assert_int_equal(o.sack_ok, tc[i].sack);
		assert_int_equal(o.has_ts, tc[i].ts);
		assert_int_equal(o.malformed, tc[i].malformed);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_seq_compare),
		cmocka_unit_test(test_seq_in),
		cmocka_unit_test(test_opts),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
