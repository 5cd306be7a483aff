/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * TLS glue over memory BIOs (OpenSSL 3): transport-agnostic, no sockets, never blocks.
 *
 * A struct tls_ctx is built once (control thread) from PEM bytes and shared by reference:
 * tls_ctx_server_new() for the inbound listener, tls_ctx_client_new() for STARTTLS toward a
 * backend. Each connection that enters TLS gets a struct tls_conn (tls_conn_init(), which
 * takes a context reference so a context swapped out by a reload lives until its last
 * connection ends) and drives it with bytes:
 *
 *   ciphertext in:  while (tls_conn_in_room(t) > 0 && bytes) tls_conn_in(t, p, n);
 *   handshake:      r = tls_conn_handshake(t);  1 done, 0 more input needed, <0 failed
 *                   (client role: call it once first, it produces the ClientHello);
 *   plaintext in:   n = tls_conn_peek(t, buf, sz); give buf[0..n) to the consumer, then
 *                   tls_conn_consume(t, used): what the consumer did not take stays in
 *                   OpenSSL's record buffer, so no plaintext buffer of our own is needed;
 *   plaintext out:  tls_conn_write(t, p, n) (one record per call: batch before calling);
 *   ciphertext out: while (tls_conn_out_pending(t)) tls_conn_out_read(t, buf, room) and send;
 *   end:            tls_conn_shutdown(t) queues close_notify; tls_conn_fini(t) frees.
 *
 * After any call, pending output (handshake flights, alerts, records) waits in the write BIO
 * until the caller drains it into its transport. Every function on a tls_conn runs on the
 * thread that owns it; contexts are reference-counted with atomics and usable from any
 * thread. tls_bucket_take() is the handshake rate limiter (token bucket, time as input).
 */
#ifndef NDG_DATAPLANE_TLS_H
#define NDG_DATAPLANE_TLS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tls-t.h"

/**
 * Build a server context: the certificates of <c> (each chain checked against its key; one
 * per key type, chosen per handshake by the client's signature algorithms), TLS 1.2 or 1.3
 * minimum, AEAD ciphers with forward secrecy by default, server cipher preference, no
 * compression, no renegotiation, no session cache or tickets (no state shared across lcores).
 * @return the context with one reference, or NULL with a message in <err>. Any thread.
 */
struct tls_ctx *tls_ctx_server_new(const struct tls_server_conf *c, char *err, size_t errsz);

/**
 * Build a client context (backend side): same protocol and cipher defaults; with
 * <c>->verify the peer chain is checked against <c>->ca (or the system store).
 * @return the context with one reference, or NULL with a message in <err>. Any thread.
 */
struct tls_ctx *tls_ctx_client_new(const struct tls_client_conf *c, char *err, size_t errsz);

/** Take a reference on <ctx>. Any thread. */
void tls_ctx_ref(struct tls_ctx *ctx);

/** Drop a reference; the last one frees the context. NULL is fine. Any thread. */
void tls_ctx_unref(struct tls_ctx *ctx);

/**
 * Start TLS on a connection with context <ctx> (its role decides accept or connect).
 * <peer_name>: client role with verification, the name the certificate must carry (and SNI);
 * NULL otherwise. @return 0, -ENOMEM. Owner thread.
 */
int tls_conn_init(struct tls_conn *t, struct tls_ctx *ctx, const char *peer_name);

/** Free the connection's TLS state and its context reference. Safe twice. Owner thread. */
void tls_conn_fini(struct tls_conn *t);

/** Ciphertext bytes tls_conn_in() takes now (TLS_IN_MAX bounds the read BIO). */
size_t tls_conn_in_room(const struct tls_conn *t);

/** Ciphertext received. @return bytes taken (at most tls_conn_in_room()), -ENOMEM. */
int tls_conn_in(struct tls_conn *t, const void *p, size_t n);

/** Ciphertext received and not yet processed. */
size_t tls_conn_in_pending(const struct tls_conn *t);

/**
 * Advance the handshake with the input so far.
 * @return 1 finished (t->state TLS_CS_OPEN); 0 more input needed; -EPROTO failed
 * (t->fail says why; an alert may wait in the output). Owner thread.
 */
int tls_conn_handshake(struct tls_conn *t);

/**
 * Plaintext available, without consuming it (at most one record's worth).
 * @return >0 bytes copied to <buf>; 0 more input needed; -EPIPE the peer sent close_notify;
 * -EPROTO fatal error. Owner thread.
 */
int tls_conn_peek(struct tls_conn *t, void *buf, size_t n);

/** Consume <n> plaintext bytes returned by tls_conn_peek(). @return 0, -EPROTO. */
int tls_conn_consume(struct tls_conn *t, size_t n);

/** Encrypt <n> bytes as one record or more. @return 0, -EPROTO. Owner thread. */
int tls_conn_write(struct tls_conn *t, const void *p, size_t n);

/** Ciphertext waiting to be sent. */
size_t tls_conn_out_pending(const struct tls_conn *t);

/** Move up to <n> bytes of pending ciphertext to <buf>. @return bytes moved. */
size_t tls_conn_out_read(struct tls_conn *t, void *buf, size_t n);

/**
 * Pending ciphertext without consuming it: *<p> points at the next <return> contiguous bytes,
 * valid until the next call on <t>. Send what the transport takes, then tls_conn_out_skip().
 */
size_t tls_conn_out_peek(const struct tls_conn *t, const void **p);

/** Drop <n> bytes of pending ciphertext (sent after tls_conn_out_peek()). */
void tls_conn_out_skip(struct tls_conn *t, size_t n);

/** Queue close_notify (RFC 8446 §6.1) after what is pending. Owner thread. */
void tls_conn_shutdown(struct tls_conn *t);

/** Negotiated protocol ("TLSv1.3"), cipher ("TLS_AES_256_GCM_SHA384") and its bits. */
const char *tls_conn_version(const struct tls_conn *t);
uint16_t tls_conn_version_num(const struct tls_conn *t);
const char *tls_conn_cipher(const struct tls_conn *t);
int tls_conn_cipher_bits(const struct tls_conn *t);

/** Signature key type of the certificate served ("ECDSA", "RSA"), "" before it is known. */
const char *tls_conn_cert_type(const struct tls_conn *t);

/** Stable name of <f> ("protocol", "malformed", ...). Thread-safe. */
const char *tls_fail_name(enum tls_fail f);

/**
 * Take one token at <now_ms> from <b>, refilled at <rate> tokens/s up to <burst>.
 * <rate> 0: unlimited. @return true when a token was taken. Owner thread.
 */
bool tls_bucket_take(struct tls_bucket *b, uint64_t now_ms, uint32_t rate, uint32_t burst);

#endif /* NDG_DATAPLANE_TLS_H */
