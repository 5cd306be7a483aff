/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * STARTTLS toward the backend (RFC 3207, client side) for the SMTP proxy: the backend TLS
 * policy built from CONFIG (control thread), and the glue between a backend connection's byte
 * queues, its TLS state (tls.h, client role) and the SMTP engine's relay. Every proxy_btls_*
 * function on a session runs on the lcore that owns it; proxy_btls_cfg_*() run on the control
 * thread; proxy_btls_stats_text() on any thread.
 */
#ifndef NDG_DATAPLANE_PROXY_BTLS_H
#define NDG_DATAPLANE_PROXY_BTLS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proxy-t.h"
#include "proxy_btls-t.h"

struct ctl_config;
struct ctl_log_rec;
struct dp_cfg;

/**
 * Parse the n_backend_tls policies at *<p> (not past <end>) into <c>->btls (entry 0: the
 * default, opportunistic without verification) with a client context each, and check every
 * backend's policy index. Advances *<p>. @return 0, -EINVAL, -ENOMEM. Control thread.
 */
int proxy_btls_cfg_build(struct dp_cfg *c, const struct ctl_config *h, const uint8_t **p,
	const uint8_t *end);

/** Drop the contexts and the table proxy_btls_cfg_build() made. Control thread. */
void proxy_btls_cfg_free(struct dp_cfg *c);

/**
 * Create <pl>'s backend TLS slot pool and counters. @return 0, -ENOMEM. Main lcore, before
 * launch.
 */
int proxy_btls_lcore_init(struct proxy_lcore *pl, unsigned int lcore_id, int socket);

/** Free what proxy_btls_lcore_init() made. Main lcore, after the workers returned. */
void proxy_btls_lcore_fini(struct proxy_lcore *pl);

/** ops->backend_tls_mode (<arg> a proxy_sess): the policy of the backend in use. */
uint8_t proxy_btls_mode(void *arg);

/**
 * ops->backend_tls (<arg> a proxy_sess): count <ev>; on SMTP_BTLS_EV_GO take a slot and send the ClientHello.
 * @return 0; -ENOMEM no slot or no TLS state; -ENOTSUP no context.
 */
int proxy_btls_event(void *arg, uint8_t ev);

/** The backend switched to TLS in a read: <discarded> plaintext bytes after the 220 dropped. */
void proxy_btls_switched(struct proxy_sess *ps, uint32_t discarded);

/** Engine bytes for the backend while it runs over TLS: batched, see proxy_btls_flush(). */
void proxy_btls_send(struct proxy_sess *ps, const char *p, size_t n);

/** Encrypt the batched bytes and send what the backend connection takes. No-op without TLS. */
void proxy_btls_flush(struct proxy_sess *ps);

/**
 * The backend connection in TLS is readable at <now>: ciphertext into TLS, the handshake
 * advanced (its end reported to the engine), decrypted replies fed to the engine. A failed
 * handshake or record drops the backend connection and tells the engine.
 */
void proxy_btls_input(struct proxy_sess *ps, uint64_t now);

/** Has the backend ended its TLS stream (close_notify)? */
bool proxy_btls_eof(const struct proxy_sess *ps);

/** Graceful close of the backend connection: batched bytes, close_notify, slot returned. */
void proxy_btls_close(struct proxy_sess *ps);

/** The backend connection is gone: TLS state freed, slot back to the pool. */
void proxy_btls_release(struct proxy_sess *ps);

/** Backend TLS version into a decision record ("" when the backend hop is plaintext). */
void proxy_btls_record(const struct proxy_sess *ps, struct ctl_log_rec *rec);

/**
 * Backend TLS counters of <n> lcores as "name value" lines. Any thread, relaxed reads.
 * @return bytes written.
 */
int proxy_btls_stats_text(struct proxy_lcore *const *lcores, unsigned int n, char *buf,
	size_t size);

#endif /* NDG_DATAPLANE_PROXY_BTLS_H */
