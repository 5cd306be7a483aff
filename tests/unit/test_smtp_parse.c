/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Unit tests of the resumable command-line collector and the DATA decoder: each input is fed
 * whole, one byte at a time and split at every single position, with the same result.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "smtp.h"
#include "ndg_common.h"

struct line_case {
	const char *in;
	size_t in_len;
	int consumed; /* expected consumption of the first line, 0 when incomplete */
	const char *line;
	uint16_t flags;
};

#define LC(s, c, l, f)                                                                             \
	{                                                                                          \
		s, sizeof(s) - 1, c, l, f                                                          \
	}

static const struct line_case line_cases[] = {
	LC("NOOP\r\n", 6, "NOOP", 0),
	LC("NOOP\r\nQUIT\r\n", 6, "NOOP", 0),
	LC("NOOP", 0, NULL, 0),
	LC("NOOP\r", 0, NULL, 0),
	LC("NOOP\n", 5, "NOOP", SMTP_LINE_BARE_LF),
	LC("NO\rOP\r\n", 7, "NOOP", SMTP_LINE_BARE_CR),
	LC("NO\0OP\r\n", 7, "NOOP", SMTP_LINE_NUL),
	LC("\r\n", 2, "", 0),
};

static int
line_feed_split(const char *p, size_t n, size_t step, struct smtp_line *l)
{
	size_t off = 0;

	smtp_line_reset(l);
	while (off < n) {
		size_t k = n - off < step ? n - off : step;
		int r = smtp_line_feed(l, p + off, k);

		if (r > 0)
			return (int) (off + (size_t) r);
		off += k;
	}
	return 0;
}

static void
test_line_table(void **state)
{
	struct smtp_line *l = malloc(sizeof(*l));

	(void) state;
	for (size_t i = 0; i < NDG_ARRAY_SIZE(line_cases); i++) {
		const struct line_case *c = &line_cases[i];

		for (size_t step = 1; step <= c->in_len; step++) {
			int r = line_feed_split(c->in, c->in_len, step, l);

			if (r != c->consumed)
				fail_msg("case %zu step %zu: got %d want %d", i, step, r,
					c->consumed);
			if (r > 0) {
				assert_string_equal(l->buf, c->line);
				assert_int_equal(l->flags, c->flags);
			}
		}
	}
	free(l);
}

static void
test_line_too_long(void **state)
{
	char buf[2000];
	struct smtp_line *l = malloc(sizeof(*l));

	(void) state;
	/* 510 octets + CRLF = 512: the limit itself is fine. */
	memset(buf, 'x', 510);
	memcpy(buf + 510, "\r\n", 2);
	assert_int_equal(line_feed_split(buf, 512, 7, l), 512);
	assert_int_equal(l->flags, 0);
	assert_int_equal(l->len, 510);
	/* one more octet: flagged, storage stays bounded */
	memset(buf, 'x', 1998);
	memcpy(buf + 1998, "\r\n", 2);
	assert_int_equal(line_feed_split(buf, 2000, 13, l), 2000);
	assert_true(l->flags & SMTP_LINE_TOO_LONG);
	assert_int_equal(l->len, 510);
	free(l);
}

struct out_buf {
	char p[4096];
	size_t n;
};

static void
data_out(void *arg, const char *p, size_t n)
{
	struct out_buf *o = arg;

	assert_true(o->n + n <= sizeof(o->p));
	memcpy(o->p + o->n, p, n);
	o->n += n;
}

struct data_case {
	const char *in;
	size_t in_len;
	uint8_t mode;
	int consumed; /* total consumed when the end is found, 0 when it is not */
	const char *out;
	size_t out_len;
	uint8_t flags;
};

#define DC(i, m, c, o, f)                                                                          \
	{                                                                                          \
		i, sizeof(i) - 1, m, c, o, sizeof(o) - 1, f                                        \
	}

/* DCE: the end of data is the end of the input. */
#define DCE(i, m, o, f)                                                                            \
	{                                                                                          \
		i, sizeof(i) - 1, m, sizeof(i) - 1, o, sizeof(o) - 1, f                            \
	}

static const struct data_case data_cases[] = {
	DC("hello\r\n.\r\n", SMTP_BARE_REJECT, 10, "hello\r\n", 0),
	DC(".\r\n", SMTP_BARE_REJECT, 3, "", 0),
	DC("..x\r\n.\r\nQUIT\r\n", SMTP_BARE_REJECT, 8, "..x\r\n", 0),
	DC(".x\r\n.\r\n", SMTP_BARE_REJECT, 7, "x\r\n", 0),
	DC("a\r\n..\r\n.\r\n", SMTP_BARE_REJECT, 10, "a\r\n..\r\n", 0),
	DC("a\r\n.\r", SMTP_BARE_REJECT, 0, "a\r\n", 0),
	/* smuggling: only CRLF.CRLF ends; in reject mode nothing after the anomaly is emitted */
	DCE("a\n.\nb\r\n.\r\n", SMTP_BARE_REJECT, "a", SMTP_DATA_BARE),
	DCE("a\n.\r\nb\r\n.\r\n", SMTP_BARE_REJECT, "a", SMTP_DATA_BARE),
	DCE("a\r.\nb\r\n.\r\n", SMTP_BARE_REJECT, "a", SMTP_DATA_BARE),
	DCE("a\r.\rb\r\n.\r\n", SMTP_BARE_REJECT, "a", SMTP_DATA_BARE),
	DCE("a\r\n.\nb\r\n.\r\n", SMTP_BARE_REJECT, "a\r\n", SMTP_DATA_BARE),
	DCE("a\r\n.\rb\r\n.\r\n", SMTP_BARE_REJECT, "a\r\n", SMTP_DATA_BARE),
	DCE("a\r\n\0b\r\n.\r\n", SMTP_BARE_REJECT, "a\r\n", SMTP_DATA_BARE),
	/* normalise: bare CR/LF become CRLF, a dot after them is stuffed, NUL dropped */
	DCE("a\n.\nb\r\n.\r\n", SMTP_BARE_NORMALIZE, "a\r\n..\r\nb\r\n", 0),
	DCE("a\n.\r\nb\r\n.\r\n", SMTP_BARE_NORMALIZE, "a\r\n..\r\nb\r\n", 0),
	DCE("a\r.\nb\r\n.\r\n", SMTP_BARE_NORMALIZE, "a\r\n..\r\nb\r\n", 0),
	DCE("a\r.\rb\r\n.\r\n", SMTP_BARE_NORMALIZE, "a\r\n..\r\nb\r\n", 0),
	/* a "." line ended by a bare LF or CR holds a dot: kept, stuffed (issue 19 item 7) */
	DCE("a\r\n.\nb\r\n.\r\n", SMTP_BARE_NORMALIZE, "a\r\n..\r\nb\r\n", 0),
	DCE("a\r\n.\rb\r\n.\r\n", SMTP_BARE_NORMALIZE, "a\r\n..\r\nb\r\n", 0),
	DCE("a\r\n\0b\r\n.\r\n", SMTP_BARE_NORMALIZE, "a\r\nb\r\n", 0),
	DCE("a\r\r\n.\r\n", SMTP_BARE_NORMALIZE, "a\r\n\r\n", 0),
};

static void
test_data_table(void **state)
{
	struct smtp_data d;
	struct out_buf *o = malloc(sizeof(*o));

	(void) state;
	for (size_t i = 0; i < NDG_ARRAY_SIZE(data_cases); i++) {
		const struct data_case *c = &data_cases[i];

		for (size_t step = 1; step <= c->in_len; step++) {
			size_t off = 0;
			int got = 0;

			o->n = 0;
			smtp_data_init(&d, (enum smtp_bare_mode) c->mode, 0, data_out, o);
			while (off < c->in_len) {
				size_t k = c->in_len - off < step ? c->in_len - off : step;
				int r = smtp_data_feed(&d, c->in + off, k);

				assert_true(r >= 0);
				if (r > 0) {
					got = (int) (off + (size_t) r);
					break;
				}
				off += k;
			}
			if (got != c->consumed)
				fail_msg("case %zu step %zu: consumed %d want %d", i, step, got,
					c->consumed);
			if (o->n != c->out_len || memcmp(o->p, c->out, o->n) != 0)
				fail_msg("case %zu step %zu: output differs (%zu bytes)", i, step,
					o->n);
			assert_int_equal(d.flags, c->flags);
		}
	}
	free(o);
}

static void
test_data_limits(void **state)
{
	struct smtp_data d;
	struct out_buf *o = malloc(sizeof(*o));
	char line[1100];

	(void) state;
	/* SIZE: 10 octets allowed; "0123456789\r\n" is 12 */
	o->n = 0;
	smtp_data_init(&d, SMTP_BARE_REJECT, 10, data_out, o);
	assert_int_equal(smtp_data_feed(&d, "0123456789\r\nmore\r\n.\r\n", 21), 21);
	assert_int_equal(d.flags, SMTP_DATA_TOO_BIG);
	assert_int_equal(o->n, 10);
	/* text line: 998 + CRLF accepted, 999 refused */
	memset(line, 'y', 998);
	memcpy(line + 998, "\r\n.\r\n", 5);
	o->n = 0;
	smtp_data_init(&d, SMTP_BARE_REJECT, 0, data_out, o);
	assert_int_equal(smtp_data_feed(&d, line, 1003), 1003);
	assert_int_equal(d.flags, 0);
	memset(line, 'y', 999);
	memcpy(line + 999, "\r\n.\r\n", 5);
	o->n = 0;
	smtp_data_init(&d, SMTP_BARE_REJECT, 0, data_out, o);
	assert_int_equal(smtp_data_feed(&d, line, 1004), 1004);
	assert_int_equal(d.flags, SMTP_DATA_LONG_LINE);
	assert_int_equal(o->n, 998);
	/* after the end the decoder refuses more */
	assert_int_equal(smtp_data_feed(&d, "x", 1), -1);
	free(o);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_line_table),
		cmocka_unit_test(test_line_too_long),
		cmocka_unit_test(test_data_table),
		cmocka_unit_test(test_data_limits),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
