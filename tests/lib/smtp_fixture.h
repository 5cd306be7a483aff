/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Test fixture for the SMTP engine: a session wired to in-memory capture buffers, a scripted
 * fake backend MTA and a policy/directory built from text directives. Shared by the golden
 * driver, the session fuzzer and the unit tests. Single-threaded.
 */
#ifndef NDG_TESTS_SMTP_FIXTURE_H
#define NDG_TESTS_SMTP_FIXTURE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "outbound.h"
#include "policy.h"
#include "rcpt.h"
#include "smtp.h"

#define FIX_EPOCH_MS 1700000000000ULL /* fixed "now" at start: deterministic BATV days */

struct fix_buf {
	char *p;
	size_t len;
	size_t cap;
};

/* Scripted backend behaviour. */
struct fix_backend {
	bool down;			    /* backend_open fails */
	bool no_pipelining;		    /* EHLO reply without PIPELINING */
	bool no_ehlo;			    /* EHLO → 502, HELO → 250 */
	uint16_t greeting;		    /* 220 by default */
	bool reject_mail;		    /* MAIL → 553 */
	char reject_rcpt[8][SMTP_ADDR_BUF]; /* RCPT TO:<x> → 550 */
	unsigned int n_reject_rcpt;
	char silent[8];	 /* verb the backend never answers ("DATA", "."), "" none */
	char drop[8];	 /* verb at which the backend connection fails */
	char final[128]; /* reply to the end of data */
	/* runtime */
	bool open;
	bool in_data;
	bool dropped;
	struct fix_buf line;
};

struct fix {
	struct smtp_conf conf;
	struct smtp_ops ops;
	struct policy pol;
	struct rcpt_tbl *dir;
	struct smtp_stats stats;
	struct smtp_session s;
	struct policy_peer peer;
	uint32_t peer_conns;
	uint64_t now;
	bool closed;
	bool started;
	struct fix_backend be;
	struct fix_buf client;	    /* rendered replies and events */
	struct fix_buf backend;	    /* rendered bytes the engine sent to the backend */
	struct fix_buf backend_raw; /* the same bytes, raw (fuzzer invariants) */
	bool keep_raw;		    /* fill backend_raw */
	struct fix_buf decisions;   /* one line per decision record */
	struct fix_buf to_engine;   /* backend replies not yet fed to the engine */
	struct fix_buf dir_add;	    /* pending directory entries (NUL-separated) */
	bool dir_stale;
	bool dir_shared;  /* f->dir belongs to someone else */
	bool out_on;	  /* an outbound (internal listener) session */
	bool out_backend; /* ... whose peer is a backend MTA */
	struct out_conf out;
	struct out_buckets out_b;
	struct smtp_blk_heap heap; /* the session's borrowed blocks (malloc, freed on return) */
};

/**
 * Set up defaults: example.test accepted, directory with a few users, proxy on. With
 * <shared_dir> (a directory another, started fixture built), that one is used as it is and
 * outlives <f> (fuzzers: no per-input table build and grace period).
 */
int fix_init(struct fix *f, struct rcpt_tbl *shared_dir);
void fix_fini(struct fix *f);

/**
 * Apply one configuration directive ("set ...", "blocks line|txn|relay N" (at most N lent at
 * once), "policy ...", "backend ...", "peer ...",
 * "out on|backend|net CIDR|rate KIND COUNT PER_MS BURST|ndr refuse|ndr tempfail|exempt A|
 * sign 0|1"; KIND: sender_msg sender_rcpt host_msg host_rcpt ndr_domain ndr_total).
 * @return 0, 1 when the line is not a configuration directive, -EINVAL on a bad one.
 */
int fix_directive(struct fix *f, const char *line);

/** Build the directory and start the session (idempotent). */
int fix_start(struct fix *f);

/** Append raw bytes to a buffer (grows; aborts on OOM: test code). */
void fix_buf_add(struct fix_buf *b, const void *p, size_t n);
void fix_buf_consume(struct fix_buf *b, size_t n);

/**
 * Feed the backend replies queued for the engine (to_engine) to it in one piece; feeding may
 * queue more. @return what the engine consumed; *offered (may be NULL) what was fed.
 */
size_t fix_backend_feed(struct fix *f, size_t *offered);

/** Render <p>[<n>] readably: CRLF → newline, other controls escaped. */
void fix_render(struct fix_buf *out, const char *p, size_t n);

/**
 * Decode a C-style escaped line (\r \n \0 \t \\ \xHH) and ${batv:ADDR} into <out>.
 * @return 0 or -EINVAL.
 */
int fix_unescape(struct fix *f, const char *s, struct fix_buf *out);

#endif /* NDG_TESTS_SMTP_FIXTURE_H */
