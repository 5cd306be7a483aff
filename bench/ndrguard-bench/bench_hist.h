/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Log-linear latency histogram (the HdrHistogram layout with 32 linear sub-buckets per power
 * of two): values below 64 are exact, larger ones land in a bucket at most 1/32 (3.1 %) wide
 * relative to its lower bound. Fixed size, no allocation; one owner thread, no locking.
 */
#ifndef NDG_BENCH_BENCH_HIST_H
#define NDG_BENCH_BENCH_HIST_H

#include <stdint.h>

#define BENCH_HIST_SUB_BITS 5
#define BENCH_HIST_SUB	    (1u << BENCH_HIST_SUB_BITS)
/* shift 0..58 (values up to 2^64 - 1), 32 sub-buckets each, plus the exact [0, 32) row */
#define BENCH_HIST_BUCKETS ((64 - BENCH_HIST_SUB_BITS + 1) * BENCH_HIST_SUB)

struct bench_hist {
	uint64_t count;
	uint64_t min;
	uint64_t max;
	double sum;
	uint64_t b[BENCH_HIST_BUCKETS];
};

/** Empty <h>. */
void bench_hist_init(struct bench_hist *h);

/** Count one value <v>. */
void bench_hist_add(struct bench_hist *h, uint64_t v);

/** Add every count of <src> to <dst>. */
void bench_hist_merge(struct bench_hist *dst, const struct bench_hist *src);

/** Bucket index of <v> (exposed for the unit test). */
unsigned int bench_hist_index(uint64_t v);

/** Smallest and largest value that fall in bucket <idx>. */
void bench_hist_bounds(unsigned int idx, uint64_t *ret_lo, uint64_t *ret_hi);

/**
 * The value at quantile <q> (0 < q <= 1): the upper bound of the bucket holding the
 * ceil(q * count)-th smallest value, never above the exact maximum.
 * @return 0 when the histogram is empty.
 */
uint64_t bench_hist_quantile(const struct bench_hist *h, double q);

#endif /* NDG_BENCH_BENCH_HIST_H */
