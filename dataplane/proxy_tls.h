/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Inbound STARTTLS of the SMTP proxy (RFC 3207): the per-lcore TLS slot pool and handshake
 * rate limits, and the glue between a client connection's byte queues, the TLS state
 * (tls.h) and the SMTP engine. Every function runs on the lcore that owns the session,
 * except proxy_tls_set_slots() (main, before launch) and proxy_tls_stats_text() (any thread).
 */
#ifndef NDG_DATAPLANE_PROXY_TLS_H
#define NDG_DATAPLANE_PROXY_TLS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proxy-t.h"

struct ctl_log_rec;

/** TLS slots each lcore gets (0: STARTTLS always answered 454). Main, before proxy_start(). */
void proxy_tls_set_slots(uint32_t n);
/** The TLS slots each lcore gets, as set. Any thread. */
uint32_t proxy_tls_get_slots(void);

/**
 * Create <pl>'s slot pool and counters. @return 0, -ENOMEM. Main lcore, before launch.
 */
int proxy_tls_lcore_init(struct proxy_lcore *pl, unsigned int lcore_id, int socket);

/** Free what proxy_tls_lcore_init() made. Main lcore, after the workers returned. */
void proxy_tls_lcore_fini(struct proxy_lcore *pl);

/**
 * The engine accepted STARTTLS at <now>: apply the per-source and overall handshake rate
 * limits, take a slot and create the TLS state (the session's configuration's context).
 * @return 0; -ENOTSUP no context or pool; -EBUSY rate limited; -ENOMEM no slot. The
 * reply (220 or 454) is the engine's.
 */
int proxy_tls_begin(struct proxy_sess *ps, uint64_t now);

/**
 * The 220 is queued in plaintext: from here every byte is TLS. <discarded> plaintext bytes
 * the client pipelined after STARTTLS were dropped by the caller (CVE-2011-0411).
 */
void proxy_tls_switch(struct proxy_sess *ps, uint64_t now, uint32_t discarded);

/**
 * Move the client's ciphertext into TLS, advance the handshake, and feed decrypted bytes to
 * the engine as far as it (and the backend's send space during DATA) takes them. Sets
 * ps->close_pending or ps->abort_pending on failure.
 */
void proxy_tls_input(struct proxy_sess *ps, uint64_t now);

/** Engine reply bytes: batched, encrypted by proxy_tls_flush(). */
void proxy_tls_reply(struct proxy_sess *ps, const char *p, size_t n);

/** Encrypt the batched replies and send what the client connection takes. */
void proxy_tls_flush(struct proxy_sess *ps);

/** Before a graceful close: replies, close_notify (or a failed handshake's alert). */
void proxy_tls_end(struct proxy_sess *ps);

/** The session ends: TLS state freed, slot back to the pool. */
void proxy_tls_release(struct proxy_sess *ps);

/** Has the client ended its stream (close_notify or FIN) with TLS running? */
bool proxy_tls_eof(const struct proxy_sess *ps);

/** When the handshake times out, UINT64_MAX when nothing is due. */
uint64_t proxy_tls_deadline(const struct proxy_sess *ps);

/** Timer at <now>: @return true when the handshake timed out (ps->close_pending set). */
bool proxy_tls_tick(struct proxy_sess *ps, uint64_t now);

/**
 * The Received header line (RFC 5321 §4.4, "with ESMTPS" of RFC 3848) telling the backend
 * about the TLS hop, CRLF-terminated. @return its length, 0 when the session is not in TLS.
 */
size_t proxy_tls_trace(const struct proxy_sess *ps, char *buf, size_t size);

/** TLS version and cipher into a decision record ("" when not in TLS). */
void proxy_tls_record(const struct proxy_sess *ps, struct ctl_log_rec *rec);

/**
 * TLS counters of <n> lcores as "name value" lines. Any thread, relaxed reads.
 * @return bytes written.
 */
int proxy_tls_stats_text(struct proxy_lcore *const *lcores, unsigned int n, char *buf, size_t size);

#endif /* NDG_DATAPLANE_PROXY_TLS_H */
