/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Recipient directory API. Lookups are lock-free and safe from any thread registered with
 * urcu-qsbr and online; every other function is writer-side (one thread, itself registered
 * with urcu-qsbr), never called on an lcore.
 */
#ifndef NDG_DATAPLANE_RCPT_H
#define NDG_DATAPLANE_RCPT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <urcu/pointer.h>
#include <urcu/uatomic.h>

#include "rcpt-t.h"

/**
 * Keyed digest of a normalised address (SipHash-2-4, 128-bit output, RFC-less but public:
 * Aumasson & Bernstein 2012). The lowest bit is forced to 1 so no digest is all-zero.
 * Pure function: thread-safe.
 */
void rcpt_digest_compute(const struct rcpt_key *key, const char *s, size_t n,
	struct rcpt_digest *out);

/**
 * Create an empty directory (generation 0, nothing accepted).
 * @return the table, or NULL when memory is short. Writer thread.
 */
struct rcpt_tbl *rcpt_tbl_create(const struct rcpt_key *key);

/**
 * Free the table and everything it holds. No reader may use it any more. Writer thread.
 */
void rcpt_tbl_destroy(struct rcpt_tbl *t);

/**
 * Start building a full snapshot sized for <expected> digests (it grows past that if needed).
 * @return 0, -EBUSY when a build is already open, -ENOMEM. Writer thread.
 */
int rcpt_tbl_snapshot_begin(struct rcpt_tbl *t, uint64_t expected);

/**
 * Add one digest to the snapshot being built; duplicates are ignored.
 * @return 0, -EINVAL when no build is open, -ENOMEM when growing failed. Writer thread.
 */
int rcpt_tbl_snapshot_add(struct rcpt_tbl *t, const struct rcpt_digest *d);

/**
 * Publish the built snapshot by pointer swap; the previous one and the deltas made against
 * it are freed after a grace period (call_rcu). Never blocks on readers.
 * @return 0, -EINVAL when no build is open. Writer thread.
 */
int rcpt_tbl_snapshot_commit(struct rcpt_tbl *t);

/** Drop the snapshot being built. Writer thread. */
void rcpt_tbl_snapshot_abort(struct rcpt_tbl *t);

/**
 * Add (<present> true) or delete (false) one address in place, between snapshots.
 * @return 0, -ENOMEM. Writer thread.
 */
int rcpt_tbl_delta(struct rcpt_tbl *t, const struct rcpt_digest *d, bool present);

/**
 * Delta lookup (slow path of rcpt_tbl_lookup()).
 * @return 1 added, 0 deleted, -ENOENT no delta for <d> in snapshot <s>'s generation.
 * Safe from any lcore registered with urcu-qsbr; lock-free.
 */
int rcpt_tbl_delta_lookup(const struct rcpt_tbl *t, const struct rcpt_snap *s,
	const struct rcpt_digest *d);

/**
 * Batched lookup of <n> digests (any number) with a software-pipelined prefetch of their
 * buckets. <hit>[i] tells whether <d>[i] is in the directory.
 * Safe from any lcore registered with urcu-qsbr; lock-free.
 */
void rcpt_tbl_lookup_burst(const struct rcpt_tbl *t, const struct rcpt_digest *d, unsigned int n,
	bool *hit);

/** Digests in the published snapshot (deltas not counted). Any thread. */
uint64_t rcpt_tbl_count(const struct rcpt_tbl *t);

/* Two candidate buckets per digest (bucketized cuckoo hashing, 2 choices x 4 slots): a
 * lookup reads at most two cache lines, hit or miss. */
static inline uint64_t
rcpt_snap_index1(const struct rcpt_snap *s, const struct rcpt_digest *d)
{
	return (uint64_t) (((unsigned __int128) d->hi * s->nbuckets) >> 64);
}

static inline uint64_t
rcpt_snap_index2(const struct rcpt_snap *s, const struct rcpt_digest *d, uint64_t i1)
{
	uint64_t i2 = (uint64_t) (((unsigned __int128) ((d->lo >> 1) * 0x9e3779b97f4a7c15ULL) *
					  s->nbuckets) >>
				  64);

	return i2 != i1 ? i2 : (i1 + 1 == s->nbuckets ? 0 : i1 + 1);
}

static inline bool
rcpt_bucket_has(const struct rcpt_bucket *b, const struct rcpt_digest *d)
{
	bool found = false;

	/* Branch-free over the four slots: the compiler keeps it to a few compares. */
	for (unsigned int j = 0; j < RCPT_BUCKET_SLOTS; j++)
		found |= (b->d[j].lo == d->lo) & (b->d[j].hi == d->hi);
	return found;
}

static inline bool
rcpt_snap_probe(const struct rcpt_snap *s, uint64_t i1, uint64_t i2, const struct rcpt_digest *d)
{
	return rcpt_bucket_has(&s->b[i1], d) || rcpt_bucket_has(&s->b[i2], d);
}

/**
 * Is <d> in the directory? Looks in the published snapshot, then in the deltas when any.
 * Safe from any lcore registered with urcu-qsbr and online; lock-free, wait-free on the
 * snapshot path.
 */
static inline bool
rcpt_tbl_lookup(const struct rcpt_tbl *t, const struct rcpt_digest *d)
{
	const struct rcpt_snap *s = rcu_dereference(t->snap);

	if (uatomic_read(&t->n_delta) != 0) {
		int r = rcpt_tbl_delta_lookup(t, s, d);

		if (r >= 0)
			return r == 1;
	}
	uint64_t i1 = rcpt_snap_index1(s, d);

	return rcpt_snap_probe(s, i1, rcpt_snap_index2(s, d, i1), d);
}

/** The control thread marks the directory stale (450 instead of 550). Any thread. */
static inline void
rcpt_tbl_set_stale(struct rcpt_tbl *t, bool stale)
{
	uatomic_set(&t->stale, stale);
}

static inline bool
rcpt_tbl_is_stale(const struct rcpt_tbl *t)
{
	return uatomic_read(&t->stale);
}

#endif /* NDG_DATAPLANE_RCPT_H */
