/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Log-linear histogram: index = shift * 32 + (v >> shift) where shift puts v >> shift in
 * [32, 64); values below 64 map to themselves. Single-threaded.
 */
#include <math.h>
#include <string.h>

#include "bench_hist.h"

void
bench_hist_init(struct bench_hist *h)
{
	memset(h, 0, sizeof(*h));
	h->min = UINT64_MAX;
}

unsigned int
bench_hist_index(uint64_t v)
{
	unsigned int e, shift;

	if (v < 2 * BENCH_HIST_SUB)
		return (unsigned int) v;
	e = 63u - (unsigned int) __builtin_clzll(v); /* v in [2^e, 2^(e+1)), e >= 6 */
	shift = e - BENCH_HIST_SUB_BITS;
	return shift * BENCH_HIST_SUB + (unsigned int) (v >> shift);
}

void
bench_hist_bounds(unsigned int idx, uint64_t *ret_lo, uint64_t *ret_hi)
{
	unsigned int shift;
	uint64_t sub;

	if (idx < 2 * BENCH_HIST_SUB) {
		*ret_lo = *ret_hi = idx;
		return;
	}
	shift = idx / BENCH_HIST_SUB - 1;
	sub = idx % BENCH_HIST_SUB + BENCH_HIST_SUB;
	*ret_lo = sub << shift;
	*ret_hi = *ret_lo + ((1ULL << shift) - 1);
}

void
bench_hist_add(struct bench_hist *h, uint64_t v)
{
	h->b[bench_hist_index(v)]++;
	h->count++;
	h->sum += (double) v;
	if (v < h->min)
		h->min = v;
	if (v > h->max)
		h->max = v;
}

void
bench_hist_merge(struct bench_hist *dst, const struct bench_hist *src)
{
	for (unsigned int i = 0; i < BENCH_HIST_BUCKETS; i++)
		dst->b[i] += src->b[i];
	dst->count += src->count;
	dst->sum += src->sum;
	if (src->min < dst->min)
		dst->min = src->min;
	if (src->max > dst->max)
		dst->max = src->max;
}

uint64_t
bench_hist_quantile(const struct bench_hist *h, double q)
{
	uint64_t rank, seen = 0, lo, hi;

	if (h->count == 0)
		return 0;
	if (q <= 0)
		return h->min;
	rank = (uint64_t) ceil(q * (double) h->count);
	if (rank < 1)
		rank = 1;
	if (rank > h->count)
		rank = h->count;
	for (unsigned int i = 0; i < BENCH_HIST_BUCKETS; i++) {
		seen += h->b[i];
		if (seen >= rank) {
			bench_hist_bounds(i, &lo, &hi);
			if (hi > h->max)
				hi = h->max;
			if (hi < h->min)
				hi = h->min;
			return hi;
		}
	}
	return h->max;
}
