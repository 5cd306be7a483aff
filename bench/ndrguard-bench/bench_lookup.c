/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * `ndrguard-bench lookup --addresses N`: builds a directory snapshot of N addresses the way
 * the control thread does, measures its memory as the RSS delta divided by N, then runs
 * 50/50 hit/miss lookups on one core: batched and prefetched (the lcore path), one at a
 * time, and digest + lookup (what one RCPT costs).
 */
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <urcu/urcu-qsbr.h>

#include "bench.h"
#include "rcpt.h"
#include "ndg_common.h"

#define BENCH_STREAM 1024 /* lookups per call in the streaming measurement */

static int
bench_addr(char *buf, size_t sz, bool hit, uint64_t i)
{
	return snprintf(buf, sz, "%s%llu@example%llu.test", hit ? "user" : "nobody",
		(unsigned long long) i, (unsigned long long) (i % 97));
}

static uint64_t
bench_rng(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

int
bench_lookup_main(int argc, char **argv)
{
	static const struct option opts[] = {
		{"addresses", required_argument, NULL, 'a'},
		{"queries", required_argument, NULL, 'q'},
		{"seconds", required_argument, NULL, 's'},
		{"cpu", required_argument, NULL, 'c'},
		{NULL, 0, NULL, 0},
	};
	struct rcpt_key key = {0x243f6a8885a308d3ULL, 0x13198a2e03707344ULL};
	uint64_t n = 1000000, nq = 1u << 22, rng = 88172645463325252ULL;
	double secs = 2.0;
	int cpu = -1, opt;
	struct rcpt_tbl *t;
	struct rcpt_digest *q, d;
	uint64_t rss0, rss1, t0, t1, hits = 0, done = 0;
	double build_s, burst_rate, burst_hits, stream_rate, stream_cpu_rate, single_rate,
		full_rate, bpa;
	uint64_t c0;
	char addr[96];

	optind = 1;
	while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (opt) {
		case 'a':
			n = strtoull(optarg, NULL, 10);
			break;
		case 'q':
			nq = strtoull(optarg, NULL, 10);
			break;
		case 's':
			secs = strtod(optarg, NULL);
			break;
		case 'c':
			cpu = (int) strtol(optarg, NULL, 10);
			break;
		default:
			return 2;
		}
	}
	if (n == 0 || nq < RCPT_BURST_MAX || secs <= 0) {
		fprintf(stderr, "lookup: --addresses, --queries and --seconds must be positive\n");
		return 2;
	}
	nq -= nq % RCPT_BURST_MAX;
	if (bench_pin(cpu) < 0)
		fprintf(stderr, "lookup: cannot pin to cpu %d, running unpinned\n", cpu);
	urcu_qsbr_register_thread();

	/* Build: memory is the RSS growth across the build (the table, nothing else). */
	rss0 = bench_rss_bytes();
	t0 = bench_now_ns();
	t = rcpt_tbl_create(&key);
	if (t == NULL || rcpt_tbl_snapshot_begin(t, n) < 0)
		return 1;
	for (uint64_t i = 0; i < n; i++) {
		int l = bench_addr(addr, sizeof(addr), true, i);

		rcpt_digest_compute(&key, addr, (size_t) l, &d);
		if (rcpt_tbl_snapshot_add(t, &d) < 0)
			return 1;
	}
	if (rcpt_tbl_snapshot_commit(t) < 0)
		return 1;
	urcu_qsbr_barrier(); /* the empty initial snapshot is freed */
	t1 = bench_now_ns();
	rss1 = bench_rss_bytes();
	build_s = (double) (t1 - t0) / 1e9;
	bpa = (double) (rss1 - rss0) / (double) n;

	/* Queries: half present, half absent, in random order, digested up front. */
	q = malloc(nq * sizeof(*q));
	if (q == NULL)
		return 1;
	for (uint64_t i = 0; i < nq; i++) {
		bool hit = (bench_rng(&rng) & 1) != 0;
		int l = bench_addr(addr, sizeof(addr), hit, bench_rng(&rng) % n);

		rcpt_digest_compute(&key, addr, (size_t) l, &q[i]);
	}

	/* Batched, prefetched: the lcore path for a burst of RCPTs (one rx burst: 32). */
	t0 = bench_now_ns();
	do {
		for (uint64_t i = 0; i < nq; i += RCPT_BURST_MAX) {
			bool hit[RCPT_BURST_MAX];

			rcpt_tbl_lookup_burst(t, q + i, RCPT_BURST_MAX, hit);
			for (unsigned int j = 0; j < RCPT_BURST_MAX; j++)
				hits += hit[j];
		}
		done += nq;
		urcu_qsbr_quiescent_state();
		t1 = bench_now_ns();
	} while ((double) (t1 - t0) < secs * 1e9);
	burst_rate = (double) done / ((double) (t1 - t0) / 1e9);
	burst_hits = (double) hits / (double) done;

	/* Streaming: the same pipeline never drained (batches of BENCH_STREAM). */
	done = 0;
	hits = 0;
	c0 = bench_cpu_ns();
	t0 = bench_now_ns();
	do {
		for (uint64_t i = 0; i + BENCH_STREAM <= nq; i += BENCH_STREAM) {
			static bool hit[BENCH_STREAM];

			rcpt_tbl_lookup_burst(t, q + i, BENCH_STREAM, hit);
			for (unsigned int j = 0; j < BENCH_STREAM; j++)
				hits += hit[j];
		}
		done += nq - nq % BENCH_STREAM;
		urcu_qsbr_quiescent_state();
		t1 = bench_now_ns();
	} while ((double) (t1 - t0) < secs * 1e9);
	stream_rate = (double) done / ((double) (t1 - t0) / 1e9);
	stream_cpu_rate = (double) done / ((double) (bench_cpu_ns() - c0) / 1e9);
	printf("directory: %llu addresses, built in %.2f s, snapshot %llu digests\n",
		(unsigned long long) n, build_s, (unsigned long long) rcpt_tbl_count(t));
	printf("memory:    RSS +%.1f MiB = %.1f bytes/address (budget 48)\n",
		(double) (rss1 - rss0) / 1048576.0, bpa);
	printf("lookups:   %.2f M/s batched+prefetched (bursts of %d), hit ratio %.3f\n",
		burst_rate / 1e6, RCPT_BURST_MAX, burst_hits);
	printf("lookups:   %.2f M/s batched+prefetched (stream of %d), hit ratio %.3f"
	       " (%.2f M per CPU-second)\n",
		stream_rate / 1e6, BENCH_STREAM, (double) hits / (double) done,
		stream_cpu_rate / 1e6);

	/* One at a time. */
	done = 0;
	hits = 0;
	t0 = bench_now_ns();
	do {
		for (uint64_t i = 0; i < nq; i++)
			hits += rcpt_tbl_lookup(t, &q[i]);
		done += nq;
		urcu_qsbr_quiescent_state();
		t1 = bench_now_ns();
	} while ((double) (t1 - t0) < secs * 1e9);
	single_rate = (double) done / ((double) (t1 - t0) / 1e9);
	printf("lookups:   %.2f M/s one at a time, hit ratio %.3f\n", single_rate / 1e6,
		(double) hits / (double) done);

	/* Digest of the normalised address + lookup: the full per-RCPT directory cost. */
	done = 0;
	hits = 0;
	t0 = bench_now_ns();
	do {
		for (uint64_t i = 0; i < 1u << 20; i++) {
			int l = bench_addr(addr, sizeof(addr), i & 1, (i * 2654435761u) % n);

			rcpt_digest_compute(&key, addr, (size_t) l, &d);
			hits += rcpt_tbl_lookup(t, &d);
		}
		done += 1u << 20;
		urcu_qsbr_quiescent_state();
		t1 = bench_now_ns();
	} while ((double) (t1 - t0) < secs * 1e9);
	full_rate = (double) done / ((double) (t1 - t0) / 1e9);
	printf("lookups:   %.2f M/s including formatting and SipHash of the address\n",
		full_rate / 1e6);
	printf("{\"bench\":\"lookup\",\"addresses\":%llu,\"lookups_per_sec\":%.0f,"
	       "\"lookups_per_cpu_sec\":%.0f,\"lookups_per_sec_burst32\":%.0f,\"lookups_per_sec_"
	       "single\":%.0f,\"lookups_per_sec_"
	       "with_digest\":%.0f,"
	       "\"bytes_per_address\":%.2f,\"build_seconds\":%.2f}\n",
		(unsigned long long) n, stream_rate, stream_cpu_rate, burst_rate, single_rate,
		full_rate, bpa, build_s);
	free(q);
	rcpt_tbl_destroy(t);
	urcu_qsbr_unregister_thread();
	return 0;
}
