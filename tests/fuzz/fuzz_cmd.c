/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * libFuzzer harness: command-line collector and backend reply parser. The same input fed
 * whole, one byte at a time and in pseudo-random chunks must give the same lines, flags and
 * replies; stored lines stay within the RFC 5321 bound.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "smtp.h"
#include "ndg_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct trace {
	uint64_t h; /* running hash of everything parsed */
	unsigned int n;
};

static void
trace_add(struct trace *t, const void *p, size_t n, uint64_t x)
{
	const unsigned char *c = p;

	for (size_t i = 0; i < n; i++)
		t->h = (t->h ^ c[i]) * 0x100000001b3ULL;
	t->h = (t->h ^ x) * 0x100000001b3ULL;
	t->n++;
}

static size_t
chunk(uint64_t *rng, size_t left, int mode)
{
	size_t k;

	if (mode == 0)
		return left;
	if (mode == 1)
		return 1;
	*rng = *rng * 6364136223846793005ULL + 1442695040888963407ULL;
	k = 1 + (size_t) ((*rng >> 33) % 97);
	return k < left ? k : left;
}

static void
run_lines(const char *p, size_t n, int mode, struct trace *t)
{
	static struct smtp_line l;
	uint64_t rng = n;
	size_t off = 0;

	smtp_line_reset(&l);
	while (off < n) {
		size_t k = chunk(&rng, n - off, mode), c = 0;

		while (c < k) {
			int r = smtp_line_feed(&l, p + off + c, k - c);

			if (r < 0 || (size_t) r > k - c)
				abort();
			if (r == 0)
				break;
			if (l.len > SMTP_CMD_LINE_MAX - 2 || strlen(l.buf) > l.len)
				abort();
			trace_add(t, l.buf, l.len, l.flags);
			smtp_line_reset(&l);
			c += (size_t) r;
		}
		off += k;
	}
}

static void
run_replies(const char *p, size_t n, int mode, struct trace *t)
{
	static struct smtp_reply_parser rp;
	uint64_t rng = n * 7;
	size_t off = 0;

	smtp_reply_parser_reset(&rp);
	while (off < n) {
		size_t k = chunk(&rng, n - off, mode), c = 0;

		while (c < k) {
			int r = smtp_reply_parser_feed(&rp, p + off + c, k - c);

			if (r < 0 || (size_t) r > k - c)
				abort();
			if (r == 0)
				break;
			if (rp.text_len > sizeof(rp.text))
				abort();
			if (!rp.bad && (rp.text_len < 5 ||
					       memcmp(rp.text + rp.text_len - 2, "\r\n", 2) != 0))
				abort();
			trace_add(t, rp.text, rp.bad ? 0 : rp.text_len, rp.bad ? 1 : rp.code);
			smtp_reply_parser_reset(&rp);
			c += (size_t) r;
		}
		off += k;
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *p = (const char *) data;
	struct trace ref = {0}, t;

	run_lines(p, size, 0, &ref);
	for (int m = 1; m <= 2; m++) {
		memset(&t, 0, sizeof(t));
		run_lines(p, size, m, &t);
		if (t.h != ref.h || t.n != ref.n)
			abort();
	}
	memset(&ref, 0, sizeof(ref));
	run_replies(p, size, 0, &ref);
	for (int m = 1; m <= 2; m++) {
		memset(&t, 0, sizeof(t));
		run_replies(p, size, m, &t);
		if (t.h != ref.h || t.n != ref.n)
			abort();
	}
	return 0;
}
