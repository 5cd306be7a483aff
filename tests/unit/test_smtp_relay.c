/* SPDX-License-Identifier: BSD-3-Clause */
/* Unit tests of the backend reply parser and the reply table. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "smtp.h"
#include "ndg_common.h"

struct rp_case {
	const char *in;
	int consumed; /* first reply */
	uint16_t code;
	bool bad;
	uint8_t nlines;
	const char *text;
};

static const struct rp_case rp_cases[] = {
	{"250 ok\r\n", 8, 250, false, 1, "250 ok\r\n"},
	{"250-a\r\n250-b\r\n250 c\r\n354 go\r\n", 21, 250, false, 3, "250-a\r\n250-b\r\n250 c\r\n"},
	{"220\r\n", 5, 220, false, 1, "220\r\n"},
	{"250-a\r\n251 b\r\n", 14, 250, true, 2, NULL},
	{"25\r\n", 4, 0, true, 0, NULL},
	{"250xok\r\n", 8, 0, true, 0, NULL},
	{"abc ok\r\n", 8, 0, true, 0, NULL},
	{"250 ok\n", 7, 250, false, 1, "250 ok\r\n"},
	{"250-a", 0, 0, false, 0, NULL},
};

static void
test_reply_parser_table(void **state)
{
	struct smtp_reply_parser *rp = malloc(sizeof(*rp));

	(void) state;
	for (size_t i = 0; i < NDG_ARRAY_SIZE(rp_cases); i++) {
		const struct rp_case *c = &rp_cases[i];
		size_t n = strlen(c->in);

		for (size_t step = 1; step <= n; step++) {
			size_t off = 0;
			int got = 0;

			smtp_reply_parser_reset(rp);
			while (off < n) {
				size_t k = n - off < step ? n - off : step;
				int r = smtp_reply_parser_feed(rp, c->in + off, k);

				if (r > 0) {
					got = (int) (off + (size_t) r);
					break;
				}
				off += k;
			}
			if (got != c->consumed)
				fail_msg("case %zu step %zu: consumed %d want %d", i, step, got,
					c->consumed);
			if (got == 0)
				continue;
			assert_int_equal(rp->bad, c->bad);
			if (c->bad)
				continue;
			assert_int_equal(rp->code, c->code);
			assert_int_equal(rp->nlines, c->nlines);
			assert_int_equal(rp->text_len, strlen(c->text));
			assert_memory_equal(rp->text, c->text, rp->text_len);
		}
	}
	free(rp);
}

static void
test_reply_parser_bounded(void **state)
{
	struct smtp_reply_parser *rp = malloc(sizeof(*rp));
	char line[700];
	int r = 0;

	(void) state;
	/* 40 continuation lines of 600 octets, then a last line: the kept text stays within
	 * the buffer, every kept line is CRLF-terminated and the last one is the final line. */
	smtp_reply_parser_reset(rp);
	memset(line, 'x', sizeof(line));
	memcpy(line, "250-", 4);
	memcpy(line + 600, "\r\n", 2);
	for (int i = 0; i < 40; i++)
		assert_int_equal(smtp_reply_parser_feed(rp, line, 602), 0);
	r = smtp_reply_parser_feed(rp, "250 last\r\n", 10);
	assert_int_equal(r, 10);
	assert_false(rp->bad);
	assert_true(rp->text_len <= sizeof(rp->text));
	assert_true(rp->text_len >= 10);
	assert_memory_equal(rp->text + rp->text_len - 10, "250 last\r\n", 10);
	assert_int_equal(rp->nlines, 41);
	free(rp);
}

static void
test_reply_table(void **state)
{
	char buf[512];

	(void) state;
	for (int id = 1; id < SMTP_R_MAX; id++) {
		const struct smtp_reply_def *r = smtp_reply_get((enum smtp_reply_id) id);
		int n = smtp_reply_format((enum smtp_reply_id) id, "mx.test", buf, sizeof(buf));

		if (r->code < 200 || r->code > 559)
			fail_msg("reply %d has code %u", id, r->code);
		assert_true(n > 6);
		assert_memory_equal(buf + n - 2, "\r\n", 2);
		/* RFC 3463: the class of the enhanced code matches the reply's first digit */
		if (r->enh != NULL)
			assert_int_equal(r->enh[0], '0' + r->code / 100);
		/* 4xx/5xx replies carry an enhanced code (ENHANCEDSTATUSCODES is advertised) */
		if (r->code >= 400)
			assert_non_null(r->enh);
		/* 421 always closes (RFC 5321 §3.8) */
		if (r->code == 421)
			assert_true(r->close);
	}
	assert_int_equal(smtp_reply_format(SMTP_R_NONE, "mx", buf, sizeof(buf)), -EINVAL);
	assert_int_equal(smtp_reply_format(SMTP_R_UNKNOWN_USER, "mx", buf, 8), -ENOSPC);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_reply_parser_table),
		cmocka_unit_test(test_reply_parser_bounded),
		cmocka_unit_test(test_reply_table),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
