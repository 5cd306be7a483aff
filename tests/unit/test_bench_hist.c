/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Unit tests of the load generator's log-linear histogram (bench/ndrguard-bench/bench_hist.c):
 * bucket layout, quantiles against exact order statistics, merge, extremes.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "bench_hist.h"

static struct bench_hist h, h2;

/* Every value lands in a bucket whose bounds hold it; buckets are contiguous and at most
 * 1/32 of their lower bound wide. */
static void
test_bounds(void **state)
{
	uint64_t prev_hi = 0;

	(void) state;
	for (unsigned int i = 0; i < BENCH_HIST_BUCKETS; i++) {
		uint64_t lo, hi;

		bench_hist_bounds(i, &lo, &hi);
		if (i > 0)
			assert_int_equal(lo, prev_hi + 1);
		assert_true(hi >= lo);
		if (lo >= 64)
			assert_true((hi - lo + 1) * 32 <= lo);
		assert_int_equal(bench_hist_index(lo), i);
		assert_int_equal(bench_hist_index(hi), i);
		prev_hi = hi;
	}
	assert_int_equal(prev_hi, UINT64_MAX);
	for (uint64_t v = 0; v < 100000; v += 7) {
		uint64_t lo, hi;

		bench_hist_bounds(bench_hist_index(v), &lo, &hi);
		assert_true(lo <= v && v <= hi);
	}
}

static void
test_exact_small(void **state)
{
	(void) state;
	bench_hist_init(&h);
	assert_int_equal(bench_hist_quantile(&h, 0.5), 0);
	for (uint64_t v = 1; v <= 50; v++)
		bench_hist_add(&h, v);
	assert_int_equal(h.count, 50);
	assert_int_equal(bench_hist_quantile(&h, 0.5), 25);
	assert_int_equal(bench_hist_quantile(&h, 0.9), 45);
	assert_int_equal(bench_hist_quantile(&h, 1.0), 50);
	assert_int_equal(h.min, 1);
	assert_int_equal(h.max, 50);
}

static int
cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *) a, y = *(const uint64_t *) b;

	return x < y ? -1 : x > y;
}

/* Quantiles of a skewed random sample agree with the exact order statistic within one bucket
 * (3.1 %) and never undershoot it. */
static void
test_quantiles_random(void **state)
{
	static const double qs[] = {0.5, 0.9, 0.99, 0.999, 1.0};
	enum { N = 200000 };
	uint64_t *v = malloc(N * sizeof(*v)), s = 12345;

	(void) state;
	assert_non_null(v);
	bench_hist_init(&h);
	for (unsigned int i = 0; i < N; i++) {
		s ^= s << 13, s ^= s >> 7, s ^= s << 17;
		/* latency-like: 10 us to ~10 ms, heavy tail */
		v[i] = 10000 + (s % 1000) * (s % 1000) * ((s >> 20) % 10 + 1);
		bench_hist_add(&h, v[i]);
	}
	qsort(v, N, sizeof(*v), cmp_u64);
	for (size_t i = 0; i < sizeof(qs) / sizeof(qs[0]); i++) {
		size_t rank = (size_t) (qs[i] * N + 0.999999);
		uint64_t exact = v[rank - 1], got = bench_hist_quantile(&h, qs[i]);

		assert_true(got >= exact);
		assert_true((double) got <= (double) exact * (1.0 + 1.0 / 32));
	}
	assert_int_equal(bench_hist_quantile(&h, 1.0), v[N - 1]);
	assert_int_equal(h.max, v[N - 1]);
	assert_int_equal(h.min, v[0]);
	free(v);
}

static void
test_merge_and_extremes(void **state)
{
	(void) state;
	bench_hist_init(&h);
	bench_hist_init(&h2);
	for (int i = 0; i < 99; i++)
		bench_hist_add(&h, 1000);
	bench_hist_add(&h2, 0);
	bench_hist_add(&h2, UINT64_MAX);
	bench_hist_merge(&h, &h2);
	assert_int_equal(h.count, 101);
	assert_int_equal(h.min, 0);
	assert_int_equal(h.max, UINT64_MAX);
	assert_int_equal(bench_hist_quantile(&h, 0.005), 0);
	/* 1000 sits in [992, 1007]: the upper bound is reported */
	assert_int_equal(bench_hist_quantile(&h, 0.5), 1007);
	assert_int_equal(bench_hist_quantile(&h, 1.0), UINT64_MAX);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bounds),
		cmocka_unit_test(test_exact_small),
		cmocka_unit_test(test_quantiles_random),
		cmocka_unit_test(test_merge_and_extremes),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
