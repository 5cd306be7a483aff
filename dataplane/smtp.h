/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * SMTP engine API. A session is driven by exactly one thread (the lcore that owns the TCP
 * connection); the engine never blocks, never allocates and takes time as an input.
 * Parsers follow the resumable contract: <0 invalid, 0 all bytes absorbed and more needed,
 * >0 bytes consumed up to a complete unit.
 *
 * Transport contract (what the TCP side does):
 *  - accept: smtp_session_init(), smtp_session_start(now, connections of that source);
 *  - client bytes: n = smtp_session_feed(); keep the bytes past n (the session waits for the
 *    backend or the tarpit) and feed them again after the next event; send the replies
 *    collected through ops->reply once feed returns (RFC 2920 §3.1 batching);
 *  - timers: arm one at smtp_session_next_deadline(), call smtp_session_tick() when due;
 *  - ops->backend_open(): start connecting and return 0; later deliver the backend's bytes to
 *    smtp_session_backend_feed() and a connect failure, reset or close to
 *    smtp_session_backend_error(); ops->backend_close() tears the backend connection down;
 *  - ops->close(): flush the replies, then close the client connection;
 *  - ops->blk_get()/blk_put(): lend fixed-size blocks of smtp_blk_size(kind) bytes; the
 *    session holds none while idle; smtp_session_fini() when the connection is gone.
 */
#ifndef NDG_DATAPLANE_SMTP_H
#define NDG_DATAPLANE_SMTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "smtp-t.h"

/**
 * Parse an RFC 5321 path starting at <s>[0] == '<'. <allow_null>: "<>" is accepted (MAIL).
 * On success *<out> is filled and *<ret_end> is the offset after '>'.
 * @return 0; -EINVAL syntax; -ENAMETOOLONG over the local/domain/path limits;
 * -SMTP_ADDR_EROUTE relay-bypass form (%, !, source route, extra or quoted @).
 * Thread-safe.
 */
int smtp_addr_parse(const char *s, size_t n, bool allow_null, struct smtp_addr *out,
	size_t *ret_end);

/**
 * Lookup form of <a>: "local@domain", domain lowercased, local part lowercased unless
 * <case_sensitive>, BATV "prvs=KDDDSSSSSS=" prefix and "+tag" subaddress removed.
 * @return the length written to <out> (NUL-terminated), -EINVAL for the null path,
 * -ENOSPC when <outsz> is too small. Thread-safe.
 */
int smtp_addr_normalize(const struct smtp_addr *a, bool case_sensitive, char *out, size_t outsz);

/** Length of a BATV "prvs=KDDDSSSSSS=" prefix at the start of <local>, or 0. Thread-safe. */
size_t smtp_addr_batv_strip(const char *local, size_t n);

/** Reply table entry of <id> (SMTP_R_NONE for out-of-range ids). Thread-safe. */
const struct smtp_reply_def *smtp_reply_get(enum smtp_reply_id id);

/**
 * Format reply <id> as one CRLF-terminated line into <buf>.
 * @return the length, -EINVAL for SMTP_R_NONE, -ENOSPC when <sz> is too small. Thread-safe.
 */
int smtp_reply_format(enum smtp_reply_id id, const char *hostname, char *buf, size_t sz);

/** Prepare <l> for the next command line. Owner thread. */
void smtp_line_reset(struct smtp_line *l);

/**
 * Feed bytes of a command line.
 * @return >0 bytes consumed up to and including the line end (line in l->buf, NUL-terminated,
 * anomalies in l->flags); 0 when all <n> bytes were absorbed without reaching a line end.
 * Never fails: over-long lines are truncated and flagged. Owner thread.
 */
int smtp_line_feed(struct smtp_line *l, const char *p, size_t n);

/** Start decoding a message; <out> receives the canonical stream (may be NULL). Owner thread. */
void smtp_data_init(struct smtp_data *d, enum smtp_bare_mode mode, uint64_t max_size,
	smtp_data_out_fn *out, void *out_arg);

/**
 * Feed message bytes after the 354. Emits canonical CRLF, dot-stuffed text through d->out
 * (never the terminator); stops emitting once a flag is raised but keeps looking for the end.
 * @return >0 bytes consumed up to and including CRLF.CRLF; 0 all absorbed, more needed;
 * -1 when called after the end. Owner thread.
 */
int smtp_data_feed(struct smtp_data *d, const char *p, size_t n);

/** Defaults: SIZE 25 MiB, 100 recipients, RFC 5321 timeouts, bare CR/LF rejected. */
void smtp_conf_init(struct smtp_conf *c, const char *hostname);

/** Name of <st> ("MAIL"). Thread-safe. */
const char *smtp_strstate(enum smtp_state st);

/**
 * Prepare <s> for a new connection from <peer>. Nothing is sent until smtp_session_start().
 * <stats> is the calling lcore's counter block. Owner thread.
 */
void smtp_session_init(struct smtp_session *s, const struct smtp_conf *conf,
	const struct smtp_ops *ops, void *arg, struct policy *pol, struct smtp_stats *stats,
	const struct policy_peer *peer);

/* <peer_conns> when the host could not count the source's sessions (its table is full). */
#define SMTP_PEER_CONNS_UNKNOWN UINT32_MAX

/**
 * Connection accepted at <now> (ms); <peer_conns> is the number of connections the source
 * holds, this one included, or SMTP_PEER_CONNS_UNKNOWN (421 4.3.2: the box is short, the
 * source is not judged). Applies the connect stage of DESIGN.md §4, then greets at once or
 * arms the greeting delay. Owner thread.
 */
void smtp_session_start(struct smtp_session *s, uint64_t now, uint32_t peer_conns);

/**
 * Client bytes received at <now>.
 * @return bytes consumed. Less than <n> means the session waits (backend reply or tarpit):
 * keep the rest and feed it again after the next smtp_session_tick() or backend event.
 * After close every byte is consumed and ignored. Owner thread.
 */
size_t smtp_session_feed(struct smtp_session *s, uint64_t now, const char *p, size_t n);

/**
 * The transport finished the TLS handshake the STARTTLS command started, at <now>: the
 * session forgets everything the client said before (RFC 3207 §4.2: back to the state after
 * the greeting, the client must send EHLO again) and reads the decrypted stream. Owner thread.
 */
void smtp_session_tls_done(struct smtp_session *s, uint64_t now);

/** Timers: greeting delay, tarpit release, idle and backend timeouts. Owner thread. */
void smtp_session_tick(struct smtp_session *s, uint64_t now);

/** Earliest time smtp_session_tick() has work to do, UINT64_MAX when none. Owner thread. */
uint64_t smtp_session_next_deadline(const struct smtp_session *s);

/**
 * The connection is gone: return every block <s> borrows (ops->blk_put). The session must
 * not be used again without smtp_session_init(). Owner thread.
 */
void smtp_session_fini(struct smtp_session *s);

/** Size in bytes of a borrowed block of <kind> (0 for an unknown kind). Thread-safe. */
size_t smtp_blk_size(enum smtp_blk_kind kind);

/** Name of <kind> ("line", "txn", "relay"). Thread-safe. */
const char *smtp_blk_name(enum smtp_blk_kind kind);

/** Blocks <s> borrows now (0 to 3): 0 for an idle session. Owner thread. */
unsigned int smtp_session_blocks(const struct smtp_session *s);

/** State of the backend client of <s> (enum smtp_relay_state). Owner thread. */
static inline enum smtp_relay_state
smtp_relay_state(const struct smtp_session *s)
{
	if (s->relay != NULL)
		return (enum smtp_relay_state) s->relay->state;
	return s->relay_failed ? SMTP_RL_FAILED : SMTP_RL_IDLE;
}

/**
 * Malloc-backed block host for code without mempools (tests, fuzzers, the engine bench):
 * zero <h>, set h->limit and h->capped, h->recycle, then use smtp_blk_heap_get/put from the smtp_ops
 * callbacks. Never used by the dataplane. Single-threaded.
 * @return a block of smtp_blk_size(<kind>) bytes, NULL at a capped h->limit[<kind>] or when
 * malloc fails.
 */
void *smtp_blk_heap_get(struct smtp_blk_heap *h, uint8_t kind);

/** Return <blk> to <h> (freed unless h->recycle). Single-threaded. */
void smtp_blk_heap_put(struct smtp_blk_heap *h, uint8_t kind, void *blk);

/** Free the blocks kept on <h>'s free lists. Single-threaded. */
void smtp_blk_heap_fini(struct smtp_blk_heap *h);

/** Is the session waiting for something other than client bytes? Owner thread. */
bool smtp_session_is_waiting(const struct smtp_session *s);

/**
 * Backend bytes received at <now>. @return bytes consumed: <n>, or less when a 220 to
 * STARTTLS switched the backend to TLS (SMTP_RL_TLS): the rest came in plaintext after it
 * and must be dropped (RFC 3207 §4.2, response injection). Owner thread.
 */
size_t smtp_session_backend_feed(struct smtp_session *s, uint64_t now, const char *p, size_t n);

/** The backend connection failed or closed at <now>. Owner thread. */
void smtp_session_backend_error(struct smtp_session *s, uint64_t now);

/* Backend client (smtp_relay.c), called by the session; exported for unit tests. */

/** Reset <rp> for the next reply. */
void smtp_reply_parser_reset(struct smtp_reply_parser *rp);

/**
 * Feed backend reply bytes.
 * @return >0 bytes consumed up to the end of a complete (possibly multi-line) reply;
 * 0 all absorbed, more needed. A malformed reply completes with rp->bad set. Owner thread.
 */
int smtp_reply_parser_feed(struct smtp_reply_parser *rp, const char *p, size_t n);

/**
 * Send the current recipient (txn.rcpt) to the backend: opens the backend (greeting, EHLO,
 * then MAIL and RCPT) when none is open, starts a backend transaction when it is idle, or
 * adds the RCPT to the open one. The answer comes back through smtp_session_rcpt_done().
 * @return 0, or the -Exxx of ops->backend_open (nothing was sent), -EPROTO when the backend
 * is busy with something else. Owner thread.
 */
int smtp_relay_rcpt(struct smtp_session *s);

/**
 * Send DATA to the backend; its 354 starts streaming (smtp_session_data_go()).
 * @return 0, -EPIPE when no backend transaction is open. Owner thread.
 */
int smtp_relay_data(struct smtp_session *s);

/** End of data toward the backend (".\r\n"); its final reply is the client's. Owner thread. */
void smtp_relay_dot(struct smtp_session *s);

/** Reset the backend transaction (RSET, reply swallowed) so the connection can be reused. */
void smtp_relay_rset(struct smtp_session *s);

/** QUIT and close the backend connection, if any. Owner thread. */
void smtp_relay_quit(struct smtp_session *s);

/** Abort the backend transaction by closing the connection without the final dot. */
void smtp_relay_abort(struct smtp_session *s);

/** One complete backend reply is in s->relay.rp: act on it. Owner thread. */
void smtp_relay_reply(struct smtp_session *s);

/**
 * The backend failed (<timeout> false: 451 4.4.1 to a waiting command, the transaction
 * cannot continue once recipients were accepted) or timed out (421 4.4.2, session closed).
 * Owner thread.
 */
void smtp_relay_fail(struct smtp_session *s, bool timeout);

/**
 * The TLS handshake toward the backend that ops->backend_tls(SMTP_BTLS_EV_GO) started ended
 * at <now>: <err> 0, the relay says EHLO again inside TLS (RFC 3207 §4.2) and goes on; -Exxx
 * (the transport has dropped the connection), under 'may' the relay reconnects in plaintext,
 * under 'encrypt' the waiting recipient gets 451 4.7.5. Owner thread.
 */
void smtp_session_backend_tls(struct smtp_session *s, uint64_t now, int err);

/**
 * The relay's STARTTLS decision after an EHLO on a plaintext backend connection, for policy
 * <mode> when the backend does (<offered>) or does not advertise STARTTLS. Pure.
 */
enum smtp_btls_act smtp_relay_tls_act(enum smtp_btls_mode mode, bool offered);

/* Session internals the relay calls back (smtp_session.c). */
/** Borrow a block of <kind> (counted as smtp_no_mem when refused). @return it or NULL. */
void *smtp_session_blk_get(struct smtp_session *s, enum smtp_blk_kind kind);
/** An entry point begins. @return whether it is the outermost one (pass it to leave). */
bool smtp_session_enter(struct smtp_session *s);
/** An entry point ends: the outermost one returns the blocks no longer needed. */
void smtp_session_leave(struct smtp_session *s, bool outer);
void smtp_session_send(struct smtp_session *s, const char *p, size_t n);
void smtp_session_reply(struct smtp_session *s, enum smtp_reply_id id);
void smtp_session_rcpt_done(struct smtp_session *s, uint16_t code, const char *text, size_t n);
void smtp_session_rcpt_failed(struct smtp_session *s, enum smtp_reply_id id);
void smtp_session_data_go(struct smtp_session *s);
void smtp_session_txn_done(struct smtp_session *s);
void smtp_session_resume(struct smtp_session *s);
void smtp_enter_state(struct smtp_session *s, enum smtp_state st);
/** Count <rule>/<out> and write its decision record with reply <id> (<rcpt> may be NULL). */
void smtp_decide_reply(struct smtp_session *s, enum policy_rule rule, enum policy_outcome out,
	const char *rcpt, enum smtp_reply_id id);

/* Outbound sessions (smtp_outbound.c), called by the session when s->out is set. */

/**
 * Make <s> (after smtp_session_init) a session of the internal listener under <out>;
 * <from_backend>: the source is one of the backend MTAs. Owner thread.
 */
void smtp_out_session_set(struct smtp_session *s, const struct out_conf *out, bool from_backend);

/**
 * MAIL of an outbound session, txn.sender set: our domains only (the null sender from a
 * backend only), sender and host message rates, BATV signing into txn.sender_out.
 * @return SMTP_R_NONE to accept, or the reply refusing it (decision recorded). Owner thread.
 */
enum smtp_reply_id smtp_out_mail(struct smtp_session *s, const struct smtp_addr *a);

/**
 * RCPT of an outbound session: relay permission, NDR control, recipient rates.
 * @return POLICY_RULE_OUT_RELAY to accept, or the rule refusing it. Observed rules are
 * recorded here. Owner thread.
 */
enum policy_rule smtp_out_rcpt(struct smtp_session *s, const struct smtp_addr *a, const char *norm,
	size_t norm_len, const char *raw);

/** The reply of an outbound refusal <id> under the session's configuration (4xx NDR option). */
enum smtp_reply_id smtp_out_reply(const struct smtp_session *s, enum smtp_reply_id id);

#endif /* NDG_DATAPLANE_SMTP_H */
