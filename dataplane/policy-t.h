/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Types of the policy core (DESIGN.md §4): rules in evaluation order with enforce/observe
 * modes, the decision record, accepted domains, CIDR lists, BATV keys and the harvest state.
 * A struct policy is built by the control thread and read by every lcore; only the harvest
 * cells are written by lcores (lock-free CAS).
 */
#ifndef NDG_DATAPLANE_POLICY_T_H
#define NDG_DATAPLANE_POLICY_T_H

#include <stdbool.h>
#include <stdint.h>

#include "rcpt-t.h"

/* Rules, in the order DESIGN.md §4 evaluates them; each has a mode and counters. */
enum policy_rule {
	POLICY_RULE_NONE = 0,	  /* no rule (plain acceptance from the directory) */
	POLICY_RULE_BLOCKLIST,	  /* connect: source blocklisted → 554 5.7.1 */
	POLICY_RULE_CONN_LIMIT,	  /* connect: concurrency per source → 421 4.7.0 */
	POLICY_RULE_EARLY_TALKER, /* greeting: talked first → 554 5.5.1 */
	POLICY_RULE_RELAY_BYPASS, /* RCPT: %, !, source route, extra @ → 550 5.7.1 */
	POLICY_RULE_RELAY_DENIED, /* RCPT: domain not ours, client not a relay net → 554 5.7.1 */
	POLICY_RULE_RELAY_NET,	  /* RCPT: foreign domain from a relay network: accepted */
	POLICY_RULE_POSTMASTER,	  /* RCPT: postmaster@ accepted always (RFC 5321 §4.5.1) */
	POLICY_RULE_NULL_MULTI,	  /* RCPT: null sender, second recipient → 550 5.7.1 */
	POLICY_RULE_BATV,	  /* RCPT: null sender without a valid BATV tag → 550 5.7.1 */
	POLICY_RULE_NEVER_BOUNCE, /* RCPT: null sender to a never-bounce address → 550 5.7.1 */
	POLICY_RULE_UNKNOWN_USER, /* RCPT: not in the directory → 550 5.1.1 */
	POLICY_RULE_DIR_STALE,	  /* RCPT: directory stale → 450 4.1.1 instead of 550 */
	POLICY_RULE_CATCH_ALL,	  /* RCPT: accepted by a per-domain catch-all */
	POLICY_RULE_DIRECTORY,	  /* RCPT: found in the directory */
	POLICY_RULE_RCPT_LIMIT,	  /* RCPT: over the recipient limit → 452 4.5.3 */
	POLICY_RULE_HARVEST,	  /* any: invalid-recipient budget exceeded → tarpit, 421 */
	POLICY_RULE_OUT_RELAY_DENIED, /* outbound: source not internal nor a backend → 554 5.7.1 */
	POLICY_RULE_OUT_SENDER,	     /* outbound MAIL: sender not ours (or <> not from a backend) */
	POLICY_RULE_OUT_SENDER_RATE, /* outbound: sender address over its rate → 451 4.7.1 */
	POLICY_RULE_OUT_HOST_RATE,   /* outbound: source host over its rate → 451 4.7.1 */
	POLICY_RULE_OUT_NDR,	     /* outbound RCPT: null sender over the NDR limit or refused */
	POLICY_RULE_OUT_RELAY,	     /* outbound RCPT: relayed to the smarthost (accepted) */
	POLICY_RULE_MAX
};

/*
 * Mode of a rule. Observe on a rule means: count it, write its decision record with outcome
 * "observe", and evaluate the next rules as if it had not matched. Two rules always enforce:
 * relay_bypass (an address in a relay-bypass form cannot be looked up at all) and rcpt_limit
 * (RFC 5321 §4.5.3.1.10 bounds the transaction). Observing relay_denied accepts mail for
 * foreign domains from anyone: an open relay for as long as it is set.
 */
enum policy_mode {
	POLICY_ENFORCE = 0, /* reject as the table says */
	POLICY_OBSERVE,	    /* count and record what would be rejected, then accept */
	POLICY_MODE_MAX
};

enum policy_outcome {
	POLICY_OUT_ACCEPT = 0, /* recipient accepted (by this rule) */
	POLICY_OUT_REJECT,     /* rejected (enforce) */
	POLICY_OUT_OBSERVE,    /* would have been rejected (observe) */
	POLICY_OUTCOME_MAX
};

/* Client address: IPv4 in the first 4 bytes (family 4) or IPv6 (family 6). */
struct policy_peer {
	uint8_t family;
	uint8_t addr[16];
};

struct policy_cidr {
	uint8_t family; /* 4 or 6 */
	uint8_t plen;	/* prefix length */
	uint8_t addr[16];
};

/* One record per recipient decision, handed to the decision callback (DESIGN.md §4). */
struct policy_decision {
	uint64_t time_ms;
	const struct policy_peer *peer;
	const char *helo;   /* NUL-terminated, may be empty */
	const char *sender; /* "" for the null sender */
	const char *rcpt;   /* as given by the client, may be "" for session-level rules */
	uint8_t rule;	    /* enum policy_rule */
	uint8_t outcome;    /* enum policy_outcome */
	uint16_t code;	    /* reply code sent */
	const char *enh;    /* enhanced status code sent */
};

struct policy_domain {
	char name[256]; /* lowercase */
	bool catch_all; /* every local part exists */
	bool batv;	/* bounces to this domain need a valid BATV tag */
};

#define BATV_KEYS_MAX 10 /* key number is one decimal digit */
#define BATV_KEY_LEN  64
#define BATV_DAYS     7 /* validity of a signature */

struct batv_key {
	bool set;
	uint8_t len;
	uint8_t key[BATV_KEY_LEN];
};

struct batv_keys {
	uint8_t sign_id; /* key number used to sign */
	struct batv_key k[BATV_KEYS_MAX];
};

/* Harvest budget: a count-min sketch with exponential decay, 2 rows of 64-bit cells
 * (score 24.8 fixed point in the low 32 bits, time in 64 ms ticks in the high 32 bits),
 * updated with CAS from any lcore. Collisions only over-estimate a score. */
#define POLICY_HARVEST_ROWS 2

struct policy_harvest {
	uint32_t ncells;	 /* per row, power of two */
	uint32_t budget_host;	 /* invalid recipients per /32 (v6: /64) before the tarpit */
	uint32_t budget_net;	 /* per /24 (v6: /48) */
	uint32_t half_life_ms;	 /* score halves in this time */
	uint32_t tarpit_base_ms; /* first tarpit delay, doubled per unit over budget */
	uint32_t tarpit_max_ms;
	uint64_t seed[POLICY_HARVEST_ROWS];
	uint64_t *cells; /* ROWS * ncells */
};

struct policy {
	uint8_t mode[POLICY_RULE_MAX]; /* enum policy_mode */
	bool local_case_sensitive;     /* default false: local parts compared case-insensitively */
	bool batv_all;		       /* BATV required for bounces to every accepted domain */
	uint32_t max_conn_per_ip;      /* 0: no limit */
	uint32_t n_domains;
	struct policy_domain *domains; /* sorted by name */
	uint32_t n_relay;
	struct policy_cidr *relay_nets;
	uint32_t n_block;
	struct policy_cidr *blocklist;
	uint32_t n_never_bounce;
	struct rcpt_digest *never_bounce; /* sorted digests of normalised addresses */
	uint32_t n_batv_addr;
	struct rcpt_digest *batv_addr; /* sorted: addresses with BATV on */
	struct batv_keys batv;
	struct rcpt_tbl *dir;
	struct policy_harvest harvest;
};

#endif /* NDG_DATAPLANE_POLICY_T_H */
