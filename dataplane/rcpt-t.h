/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Types of the recipient directory: a keyed 128-bit digest per normalised address, held in
 * an immutable bucketized cuckoo snapshot (2 candidate buckets of 4 digests, 64 bytes each) plus a small cds_lfht
 * of in-place deltas. Readers: any thread registered with urcu-qsbr. Writer: one thread.
 */
#ifndef NDG_DATAPLANE_RCPT_T_H
#define NDG_DATAPLANE_RCPT_T_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <urcu/urcu-qsbr.h>
#include <urcu/rculfhash.h>

#define RCPT_BUCKET_SLOTS   4  /* 4 x 16 B = one cache line */
#define RCPT_LOAD_PCT	    90 /* snapshot load factor, percent of slots (cuckoo 2x4 holds ~98) */
#define RCPT_BURST_MAX	    32 /* lookups a caller typically batches (one rx burst of RCPTs) */
#define RCPT_PREFETCH_AHEAD 8  /* digests between prefetch and probe */
#define RCPT_PREFETCH_RING  16 /* power of two >= RCPT_PREFETCH_AHEAD */

/* SipHash-2-4 with 128-bit output of the normalised address; never all-zero (empty slot). */
struct rcpt_digest {
	uint64_t lo;
	uint64_t hi;
};

/* 128-bit SipHash key: secret per appliance so digests cannot be precomputed. */
struct rcpt_key {
	uint64_t k0;
	uint64_t k1;
};

struct rcpt_bucket {
	struct rcpt_digest d[RCPT_BUCKET_SLOTS];
} __attribute__((aligned(64)));

/* Immutable once published; freed by call_rcu after it is replaced. */
struct rcpt_snap {
	uint64_t gen;	   /* deltas apply only to the snapshot of their generation */
	uint64_t nbuckets; /* any value >= 1: index = (h * nbuckets) >> 64 */
	uint64_t count;	   /* digests held */
	size_t map_len;	   /* bytes mapped for b */
	struct rcpt_bucket *b;
	struct rcu_head rcu;
};

/* One in-place change since the snapshot of generation <gen>. */
struct rcpt_delta {
	struct cds_lfht_node node;
	struct rcpt_digest d;
	uint64_t gen;
	bool present; /* true: added; false: deleted */
	struct rcu_head rcu;
};

struct rcpt_tbl {
	struct rcpt_snap *snap; /* RCU-protected */
	struct cds_lfht *delta; /* RCU hash table of struct rcpt_delta */
	unsigned long n_delta;	/* live deltas of the current generation (relaxed) */
	struct rcpt_key key;
	bool stale;		 /* set by the control thread: answer 450 instead of 550 */
	uint64_t gen;		 /* writer-side: generation of the published snapshot */
	struct rcpt_snap *build; /* writer-side: snapshot being built */
};

#endif /* NDG_DATAPLANE_RCPT_T_H */
