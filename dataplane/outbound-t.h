/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Types of the outbound path (shared/DESIGN.md §4 "Outbound"): mail from the backend MTAs and
 * internal hosts through the internal listener to the upstream smarthost. The configuration
 * is built by the control thread and read by every lcore; the rate state (GCRA token
 * buckets) lives longer than any configuration and is updated by lcores with CAS.
 */
#ifndef NDG_DATAPLANE_OUTBOUND_T_H
#define NDG_DATAPLANE_OUTBOUND_T_H

#include <stdbool.h>
#include <stdint.h>

#include "policy-t.h"

#define OUT_PORTS_MAX	4 /* internal listener ports (25 and 587 by default) */
#define OUT_BUCKET_ROWS 2 /* count-min style: a key is limited by the fuller of its cells */
#define OUT_BUCKET_LOG2 14
#define OUT_EXEMPT_MAX	(64 + 1 + 255 + 1) /* local@domain + NUL */

/* Rate-limited quantities; each has its own cells. */
enum out_bucket_kind {
	OUT_B_SENDER_MSG = 0, /* messages per sender address */
	OUT_B_SENDER_RCPT,    /* recipients per sender address */
	OUT_B_HOST_MSG,	      /* messages per source host */
	OUT_B_HOST_RCPT,      /* recipients per source host */
	OUT_B_NDR_DOMAIN,     /* null-sender recipients per destination domain */
	OUT_B_NDR_TOTAL,      /* null-sender recipients in total (one key) */
	OUT_B_MAX
};

/*
 * A rate as the generic cell rate algorithm sees it (a token bucket in one 64-bit word: the
 * theoretical arrival time): <interval_us> per unit, <burst> units at once.
 */
struct out_rate {
	uint64_t interval_us; /* 0: no limit */
	uint64_t tau_us;      /* (burst - 1) * interval */
};

/* Shared bucket cells: ROWS x ncells per kind, each a TAT in microseconds. */
struct out_buckets {
	uint32_t ncells; /* per row, power of two */
	uint64_t seed[2];
	uint64_t *cells; /* OUT_B_MAX * OUT_BUCKET_ROWS * ncells */
};

/* What happens to null-sender mail leaving (the appliance's SuppressNDROptions). */
enum out_ndr_mode {
	OUT_NDR_LIMIT = 0, /* per destination domain and in total, over the limit refused */
	OUT_NDR_REFUSE,	   /* every null-sender recipient refused */
	OUT_NDR_MAX
};

struct out_conf {
	bool enabled;
	bool batv_sign;	   /* sign the envelope sender (prvs=) toward the smarthost */
	bool ndr_tempfail; /* over the NDR limit: 451 4.7.1 instead of 550 5.7.1 */
	uint8_t ndr_mode;  /* enum out_ndr_mode */
	uint8_t n_ports;
	uint16_t ports[OUT_PORTS_MAX]; /* host byte order */
	uint32_t addr; /* listener address (network order), 0: backend-facing port */
	struct out_rate rate[OUT_B_MAX];
	uint32_t n_nets;
	struct policy_cidr *nets; /* internal networks allowed to relay */
	uint32_t n_exempt;
	char (*exempt)[OUT_EXEMPT_MAX]; /* never signed: "user@dom" or "@dom", lowercase */
	struct out_buckets *buckets;	/* shared, not owned */
};

#endif /* NDG_DATAPLANE_OUTBOUND_T_H */
