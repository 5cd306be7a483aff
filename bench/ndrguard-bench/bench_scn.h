/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Scenario files (bench/scenarios/README): weighted session kinds, each a list of steps with
 * the reply codes expected. Parsed once at start-up by the engine's thread.
 */
#ifndef NDG_BENCH_BENCH_SCN_H
#define NDG_BENCH_BENCH_SCN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "policy-t.h"

#define SCN_KINDS_MAX  16
#define SCN_STEPS_MAX  256
#define SCN_EXPECT_MAX 8
#define SCN_VALID_MAX  64
#define SCN_NAME_MAX   32

enum scn_step_type {
	SCN_STEP_CONNECT = 0, /* wait for the greeting */
	SCN_STEP_SEND,	      /* one command line */
	SCN_STEP_DATA,	      /* DATA, then (after 354) a generated message and "." */
	SCN_STEP_STARTTLS,    /* STARTTLS (RFC 3207); after its 220 the TLS handshake */
	SCN_STEP_MAX,
};

/* Latency classes, one histogram each. */
enum scn_verb {
	SCN_VERB_CONNECT = 0, /* connect() (or intended start) to the greeting */
	SCN_VERB_EHLO,	      /* EHLO or HELO */
	SCN_VERB_MAIL,	      /* MAIL FROM */
	SCN_VERB_RCPT,	      /* RCPT TO */
	SCN_VERB_DATA,	      /* DATA to its 354 (or refusal) */
	SCN_VERB_DOT,	      /* end of message data to the final reply */
	SCN_VERB_QUIT,	      /* QUIT */
	SCN_VERB_OTHER,	      /* RSET, NOOP, anything else */
	SCN_VERB_STARTTLS,    /* STARTTLS to its reply */
	SCN_VERB_TLS,	      /* the TLS handshake after 220 to its completion */
	SCN_VERB_SESSION,     /* intended start to the last reply of the session */
	SCN_VERB_MAX,
};

/* One accepted reply: <code> exactly, or a class (2xx: <code> = 2, <class> true). */
struct scn_expect {
	uint16_t code;
	bool class;
};

struct scn_step {
	enum scn_step_type type;
	enum scn_verb verb;
	char *text;	   /* command template (SEND) */
	uint32_t size_min; /* message size range in bytes (DATA) */
	uint32_t size_max;
	uint8_t n_exp[2]; /* [0]: the reply to the command, [1]: to the message (DATA) */
	struct scn_expect exp[2][SCN_EXPECT_MAX];
};

#define SCN_KIND_PIPELINED  (1u << 0) /* RFC 2920 groups: MAIL..DATA sent together */
#define SCN_KIND_ONE_SOURCE (1u << 1) /* always from the first source address */
#define SCN_KIND_LEGIT	    (1u << 2) /* its accepted messages must reach the sink intact */

struct scn_kind {
	char name[SCN_NAME_MAX];
	uint32_t weight;
	uint32_t flags;
	uint16_t n_steps;
	struct scn_step steps[SCN_STEPS_MAX];
};

struct scn {
	uint16_t n_kinds;
	uint32_t weight_total;
	struct scn_kind kinds[SCN_KINDS_MAX];
	uint16_t n_valid;
	char *valid[SCN_VALID_MAX]; /* {valid} picks one of these */
	struct batv_keys batv;	    /* {batv:ADDR} signs with this */
	bool batv_set;
};

/**
 * Parse scenario file <path> into <s> (zeroed first).
 * @return 0, or -1 with a message "FILE:LINE: what" in <err>.
 */
int scn_load(struct scn *s, const char *path, char *err, size_t errsz);

/** Free what scn_load allocated. */
void scn_free(struct scn *s);

/** @return true when <code> is one of step <st>'s expectations of phase <phase>. */
bool scn_expect_match(const struct scn_step *st, unsigned int phase, unsigned int code);

/** Expectations of <st> phase <phase> as text ("550,421") into <buf>. */
void scn_expect_str(const struct scn_step *st, unsigned int phase, char *buf, size_t sz);

/** Name of latency class <v> ("rcpt"). */
const char *scn_verb_name(enum scn_verb v);

#endif /* NDG_BENCH_BENCH_SCN_H */
