/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Policy core API (DESIGN.md §4): configuration helpers (control thread, before publication),
 * evaluation (any lcore; reads only, except the harvest cells which are updated lock-free)
 * and BATV signing/verification (any thread).
 */
#ifndef NDG_DATAPLANE_POLICY_H
#define NDG_DATAPLANE_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "policy-t.h"
#include "smtp-t.h"

/** Defaults: every rule enforced, no domain, no list, harvest off. Control thread. */
void policy_init(struct policy *p);

/** Free what policy_* setters allocated (not the directory). Control thread. */
void policy_fini(struct policy *p);

/** Stable name of <rule> ("unknown_user"): counter and decision-record key. Thread-safe. */
const char *policy_rule_name(enum policy_rule rule);

/** Does <rule> accept the recipient when it matches? Thread-safe. */
bool policy_rule_accepts(enum policy_rule rule);

/**
 * Add an accepted domain (lowercased on copy).
 * @return 0, -EINVAL (empty or over 255 octets), -ENOMEM. Control thread, before use.
 */
int policy_domain_add(struct policy *p, const char *name, bool catch_all, bool batv);

/** Find accepted domain <name>[<n>] (lowercase). @return the entry or NULL. Any thread. */
const struct policy_domain *policy_domain_find(const struct policy *p, const char *name, size_t n);

/**
 * Parse "a.b.c.d/len" or an IPv6 prefix into <out>.
 * @return 0, -EINVAL on bad syntax. Thread-safe.
 */
int policy_cidr_parse(const char *s, struct policy_cidr *out);

/** Add a relay network (<relay> true) or a blocklisted network. @return 0, -EINVAL, -ENOMEM. */
int policy_cidr_add(struct policy *p, const char *cidr, bool relay);

/** Is <peer> inside one of the <n> prefixes of <list>? Any thread. */
bool policy_cidr_match(const struct policy_cidr *list, uint32_t n, const struct policy_peer *peer);

/**
 * Add a normalised address to the never-bounce list (<never_bounce>) or the BATV list.
 * @return 0, -ENOMEM. Control thread, before use; needs p->dir (the digest key).
 */
int policy_addr_add(struct policy *p, const char *norm, bool never_bounce);

/** Set BATV key number <id> (0-9). @return 0, -EINVAL. Control thread. */
int policy_batv_key_set(struct policy *p, unsigned int id, const void *key, size_t len);

/* Context of one RCPT decision. */
struct policy_rcpt_ctx {
	const struct policy_peer *peer;
	const struct smtp_addr *addr; /* parsed forward-path */
	const char *norm;	      /* normalised "local@domain" */
	size_t norm_len;
	bool null_sender;
	uint32_t nrcpt; /* recipients already accepted in this transaction */
	uint64_t now;	/* ms since the epoch (BATV day numbers) */
};

/* Called for every rule that matched in observe mode (then evaluation goes on). */
typedef void policy_observe_cb(void *arg, enum policy_rule rule);

/**
 * Evaluate the RCPT rules of DESIGN.md §4 in order.
 * @return the rule that decided: an accepting rule (policy_rule_accepts()), an enforced
 * rejecting rule, or POLICY_RULE_NONE when every matching rejection was only observed.
 * Any lcore registered with urcu-qsbr; lock-free.
 */
enum policy_rule policy_rcpt_eval(const struct policy *p, const struct policy_rcpt_ctx *ctx,
	policy_observe_cb *observe, void *arg);

/**
 * Set up the harvest sketch with 2^<log2_cells> cells per row, keyed by <seed>.
 * @return 0, -EINVAL, -ENOMEM. Control thread.
 */
int policy_harvest_init(struct policy_harvest *h, unsigned int log2_cells, uint64_t seed0,
	uint64_t seed1);

void policy_harvest_fini(struct policy_harvest *h);

/** Charge one invalid recipient to <peer>'s host and network. Any lcore; lock-free (CAS). */
void policy_harvest_charge(struct policy_harvest *h, const struct policy_peer *peer, uint64_t now);

/**
 * Where is <peer> against its budget?
 * @return 0 within budget, 1 over budget (*<ret_delay_ms> set: tarpit), 2 over twice the
 * budget (421 and close). Estimates never under-count (count-min). Any lcore; lock-free.
 */
int policy_harvest_check(struct policy_harvest *h, const struct policy_peer *peer, uint64_t now,
	uint32_t *ret_delay_ms);

/**
 * BATV sign (draft-levine-smtp-batv §4): "prvs=KDDDSSSSSS=<addr>", DDD the day number 7 days
 * ahead mod 1000, SSSSSS the first 3 octets of HMAC-SHA1(key K, "KDDD" + lowercased <addr>).
 * @return length written, -EINVAL (no signing key), -ENOSPC. Any thread.
 */
int batv_sign(const struct batv_keys *k, const char *addr, size_t n, uint64_t now_ms, char *out,
	size_t outsz);

/**
 * Verify the BATV tag of local part <local>[<ll>] at <domain>[<dl>] under any configured key,
 * valid when its expiry day is today or at most 7 days ahead.
 * @return true when valid. Any thread.
 */
bool batv_verify(const struct batv_keys *k, const char *local, size_t ll, const char *domain,
	size_t dl, uint64_t now_ms);

#endif /* NDG_DATAPLANE_POLICY_H */
