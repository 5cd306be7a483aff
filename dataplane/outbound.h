/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Outbound path API: configuration helpers (control thread, before publication), the shared
 * rate buckets (any lcore, lock-free) and BATV signing of envelope senders (any thread).
 */
#ifndef NDG_DATAPLANE_OUTBOUND_H
#define NDG_DATAPLANE_OUTBOUND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "outbound-t.h"
#include "policy-t.h"

/**
 * Allocate <b> with 2^<log2_cells> cells per row and kind, keyed by <seed0>/<seed1>.
 * @return 0, -EINVAL, -ENOMEM. Control thread, before any lcore uses it.
 */
int out_buckets_init(struct out_buckets *b, unsigned int log2_cells, uint64_t seed0,
	uint64_t seed1);

/** Free the cells of <b>. Control thread, once no lcore uses them. */
void out_buckets_fini(struct out_buckets *b);

/**
 * Set <r> to <count> units per <per_ms> with bursts of <burst> (0: <count>); <count> 0
 * means no limit. @return 0, -EINVAL (per_ms 0 with a count). Thread-safe.
 */
int out_rate_set(struct out_rate *r, uint32_t count, uint32_t per_ms, uint32_t burst);

/**
 * Take one unit for <key>[<n>] of <kind> at <now_ms> (any monotonic ms clock shared by the
 * lcores) when the rate <r> allows it. A key has one cell per row and is over the limit
 * only when every one of them is (count-min): a collision in all rows at once is needed to
 * make a limit stricter than configured, and collisions never loosen one. The check and the charge are two steps:
 * concurrent takes on one key from several lcores can overshoot by one unit per lcore.
 * @return true when allowed (and charged), false over the limit (nothing charged).
 * Any lcore; lock-free (CAS).
 */
bool out_bucket_take(struct out_buckets *b, enum out_bucket_kind kind, const struct out_rate *r,
	const void *key, size_t n, uint64_t now_ms);

/** Defaults: disabled, ports 25 and 587, BATV signing on, NDRs limited (no rate set). */
void out_conf_init(struct out_conf *c);

/** Free what the out_conf_add_* setters allocated. Control thread. */
void out_conf_fini(struct out_conf *c);

/** Add an internal network "A.B.C.D/LEN". @return 0, -EINVAL, -ENOMEM. Control thread. */
int out_conf_add_net(struct out_conf *c, const char *cidr);

/**
 * Add a BATV exemption: "user@domain" or "@domain" (lowercased on copy).
 * @return 0, -EINVAL (empty, too long, no '@'), -ENOMEM. Control thread.
 */
int out_conf_add_exempt(struct out_conf *c, const char *addr);

/** Is <addr>[<n>] ("user@domain") exempt from signing? Case-insensitive. Any thread. */
bool out_conf_is_exempt(const struct out_conf *c, const char *addr, size_t n);

/** Is <peer> inside one of the internal networks? Any thread. */
bool out_conf_is_internal(const struct out_conf *c, const struct policy_peer *peer);

/**
 * The envelope sender to send upstream for <sender>[<n>] at Unix time <unix_ms>: BATV-signed
 * "prvs=KDDDSSSSSS=<sender>" into <out> unless signing is off, the sender is null, already
 * tagged, exempt, or no signing key is set.
 * @return the length written (> 0), 0 when the sender goes unsigned, -ENOSPC. Any thread.
 */
int out_sender_sign(const struct out_conf *c, const struct batv_keys *k, const char *sender,
	size_t n, uint64_t unix_ms, char *out, size_t outsz);

#endif /* NDG_DATAPLANE_OUTBOUND_H */
