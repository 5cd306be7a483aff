/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * libFuzzer harness: the DATA decoder. Whatever the client sends and however it is split,
 * the stream toward the backend is canonical (every CR followed by LF, every LF preceded by
 * CR, no NUL), holds no end-of-data line (a second message could not be smuggled), and is
 * identical for every segmentation.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "smtp.h"
#include "ndg_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct out {
	char *p;
	size_t n;
	size_t cap;
};

static void
out_fn(void *arg, const char *p, size_t n)
{
	struct out *o = arg;

	if (o->n + n > o->cap)
		abort(); /* output is never larger than twice the input */
	memcpy(o->p + o->n, p, n);
	o->n += n;
}

static int
run(const char *p, size_t n, int mode, uint8_t bare, uint64_t max, struct out *o, uint8_t *flags)
{
	struct smtp_data d;
	uint64_t rng = n + 1;
	size_t off = 0;

	o->n = 0;
	smtp_data_init(&d, (enum smtp_bare_mode) bare, max, out_fn, o);
	while (off < n) {
		size_t k = n - off;
		int r;

		if (mode == 1) {
			k = 1;
		} else if (mode == 2) {
			rng = rng * 6364136223846793005ULL + 1442695040888963407ULL;
			k = 1 + (size_t) ((rng >> 33) % 61);
			if (k > n - off)
				k = n - off;
		}
		r = smtp_data_feed(&d, p + off, k);
		if (r < 0 || (size_t) r > k)
			abort();
		if (r > 0) {
			*flags = d.flags;
			return (int) (off + (size_t) r);
		}
		off += k;
	}
	*flags = d.flags;
	return 0;
}

static void
check_canonical(const struct out *o)
{
	for (size_t i = 0; i < o->n; i++) {
		if (o->p[i] == '\0')
			abort();
		if (o->p[i] == '\r' && (i + 1 >= o->n || o->p[i + 1] != '\n'))
			abort();
		if (o->p[i] == '\n' && (i == 0 || o->p[i - 1] != '\r'))
			abort();
	}
	if (o->n >= 3 && memcmp(o->p, ".\r\n", 3) == 0)
		abort();
	for (size_t i = 0; i + 5 <= o->n; i++)
		if (memcmp(o->p + i, "\r\n.\r\n", 5) == 0)
			abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct out ref, o;
	uint8_t rf, f;
	uint64_t max;
	int rc, c;

	if (size < 1)
		return 0;
	max = data[0] & 0x80 ? (uint64_t) (data[0] & 0x3f) * 8 : 0;
	ref.cap = o.cap = 2 * size + 16;
	ref.p = malloc(ref.cap);
	o.p = malloc(o.cap);
	for (uint8_t bare = 0; bare < SMTP_BARE_MAX; bare++) {
		rc = run((const char *) data + 1, size - 1, 0, bare, max, &ref, &rf);
		check_canonical(&ref);
		for (int m = 1; m <= 2; m++) {
			c = run((const char *) data + 1, size - 1, m, bare, max, &o, &f);
			if (c != rc || f != rf || o.n != ref.n || memcmp(o.p, ref.p, o.n) != 0)
				abort();
		}
	}
	free(ref.p);
	free(o.p);
	return 0;
}
