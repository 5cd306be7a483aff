/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * STARTTLS toward the backend for the SMTP proxy (RFC 3207, client side). The relay in the
 * engine decides per the backend's policy (none, may, encrypt) whether to send STARTTLS; on
 * the 220 the backend connection takes a slot from its lcore's pool (sized at start) and runs
 * the client handshake over memory BIOs (tls.h), then every byte to and from that backend goes
 * through TLS: the engine's commands and data are batched into records, the backend's replies
 * decrypted and fed to the engine. A plaintext backend connection never holds TLS state.
 * Session functions run on the lcore that owns the session; the configuration part runs on
 * the control thread, the stats text on any thread.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rte_common.h>
#include <rte_cycles.h>
#include <rte_log.h>
#include <rte_malloc.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>

#include "ctl_proto-t.h"
#include "dp_ctl.h"
#include "proxy_btls.h"
#include "smtp.h"
#include "stats.h"
#include "tcp.h"
#include "tls.h"
#include "ndg_common.h"

#define PROXY_BTLS_CA_MAX (1024u * 1024u) /* CA bundle bytes of one policy */

RTE_LOG_REGISTER(ndg_logtype_btls, user.ndg.btls, INFO);
#define BTLS_LOG(level, fmt, ...)                                                                  \
	rte_log(RTE_LOG_##level, ndg_logtype_btls, "btls: " fmt "\n", ##__VA_ARGS__)

/* ---- configuration (control thread) ---- */

static struct tls_ctx *
proxy_btls_ctx(bool verify, const char *ca, size_t ca_len, uint16_t min_version)
{
	struct tls_client_conf tc;
	struct tls_ctx *ctx;
	char err[256];

	memset(&tc, 0, sizeof(tc));
	tc.min_version = min_version != 0 ? min_version : TLS_VERSION_TLS12;
	tc.verify = verify;
	tc.ca = ca_len != 0 ? ca : NULL;
	tc.ca_len = ca_len;
	ctx = tls_ctx_client_new(&tc, err, sizeof(err));
	if (ctx == NULL)
		BTLS_LOG(WARNING, "client context: %s", err);
	return ctx;
}

int
proxy_btls_cfg_build(struct dp_cfg *c, const struct ctl_config *h, const uint8_t **pp,
	const uint8_t *end)
{
	const uint8_t *p = *pp;
	uint32_t n = h->n_backend_tls;

	if (n > CTL_CONFIG_BACKEND_TLS_MAX)
		return -EINVAL;
	c->btls = calloc(n + 1, sizeof(*c->btls));
	if (c->btls == NULL)
		return -ENOMEM;
	c->n_btls = n + 1;
	/* Entry 0, for backends without a 'tls' clause: opportunistic, unauthenticated. */
	c->btls[0].mode = SMTP_BTLS_MAY;
	c->btls[0].ctx = proxy_btls_ctx(false, NULL, 0, 0);
	if (c->btls[0].ctx == NULL)
		return -EINVAL;
	for (uint32_t i = 0; i < n; i++) {
		struct ctl_config_backend_tls bt;
		struct dp_btls *d = &c->btls[i + 1];

		if ((size_t) (end - p) < sizeof(bt))
			return -EINVAL;
		memcpy(&bt, p, sizeof(bt));
		p += sizeof(bt);
		if (bt.mode >= SMTP_BTLS_MODE_MAX || bt.ca_len > PROXY_BTLS_CA_MAX ||
			(size_t) (end - p) < bt.ca_len ||
			memchr(bt.name, '\0', sizeof(bt.name)) == NULL ||
			(bt.verify && bt.name[0] == '\0') ||
			(bt.min_version != 0 && bt.min_version != TLS_VERSION_TLS12 &&
				bt.min_version != TLS_VERSION_TLS13))
			return -EINVAL;
		d->mode = (uint8_t) bt.mode;
		d->verify = bt.verify != 0;
		memcpy(d->name, bt.name, sizeof(d->name));
		if (d->mode != SMTP_BTLS_NONE) {
			d->ctx = proxy_btls_ctx(d->verify, (const char *) p, bt.ca_len,
				(uint16_t) bt.min_version);
			if (d->ctx == NULL)
				return -EINVAL;
		}
		p += bt.ca_len;
	}
	for (uint32_t i = 0; i < c->n_domains; i++)
		for (uint32_t b = 0; b < c->domains[i].n; b++)
			if (c->domains[i].b[b].tls >= c->n_btls)
				return -EINVAL;
	*pp = p;
	return 0;
}

void
proxy_btls_cfg_free(struct dp_cfg *c)
{
	if (c->btls == NULL)
		return;
	/* Backend connections in TLS hold their own context references. */
	for (uint32_t i = 0; i < c->n_btls; i++)
		tls_ctx_unref(c->btls[i].ctx);
	free(c->btls);
	c->btls = NULL;
	c->n_btls = 0;
}

/* ---- per-lcore pool ---- */

int
proxy_btls_lcore_init(struct proxy_lcore *pl, unsigned int lcore_id, int socket)
{
	struct proxy_btls_lcore *bl;
	char name[RTE_MEMPOOL_NAMESIZE];

	bl = rte_zmalloc_socket("ndg_btls", sizeof(*bl), RTE_CACHE_LINE_SIZE, socket);
	if (bl == NULL)
		return -ENOMEM;
	snprintf(name, sizeof(name), "ndg_btls_%u", lcore_id);
	/* Single producer and consumer: only this lcore takes and returns slots. */
	bl->pool = rte_mempool_create(name, PROXY_BTLS_SLOTS_DEFAULT, sizeof(struct proxy_btls), 0,
		0, NULL, NULL, NULL, NULL, socket, RTE_MEMPOOL_F_SP_PUT | RTE_MEMPOOL_F_SC_GET);
	if (bl->pool == NULL) {
		rte_free(bl);
		return -ENOMEM;
	}
	bl->slots = PROXY_BTLS_SLOTS_DEFAULT;
	pl->btls = bl;
	return 0;
}

void
proxy_btls_lcore_fini(struct proxy_lcore *pl)
{
	if (pl->btls == NULL)
		return;
	rte_mempool_free(pl->btls->pool);
	rte_free(pl->btls);
	pl->btls = NULL;
}

static inline void
proxy_btls_count(uint64_t *c)
{
	__atomic_store_n(c, *c + 1, __ATOMIC_RELAXED);
}

/* The policy of the backend the session is connected (or connecting) to. */
static const struct dp_btls *
proxy_btls_policy(const struct proxy_sess *ps)
{
	const struct dp_domain_backends *d = &ps->cfg->domains[ps->dom];

	if (ps->cfg->btls == NULL || ps->backend_try >= d->n)
		return NULL;
	return &ps->cfg->btls[d->b[ps->backend_try].tls];
}

uint8_t
proxy_btls_mode(void *arg)
{
	const struct dp_btls *b = proxy_btls_policy(arg);

	return b != NULL ? b->mode : SMTP_BTLS_NONE;
}

/* ---- session ---- */

void
proxy_btls_release(struct proxy_sess *ps)
{
	struct proxy_btls *pt = ps->btls;
	struct proxy_btls_lcore *bl = ps->pl->btls;

	if (pt == NULL)
		return;
	tls_conn_fini(&pt->t);
	ps->btls = NULL;
	rte_mempool_put(bl->pool, pt);
	__atomic_store_n(&bl->active, bl->active - 1, __ATOMIC_RELAXED);
}

/* The backend connection cannot go on (record error, peer not reading): drop it. */
static void
proxy_btls_drop(struct proxy_sess *ps, uint64_t now)
{
	if (ps->backend != NULL)
		tcp_conn_abort(ps->backend);
	ps->backend = NULL;
	proxy_btls_release(ps);
	smtp_session_backend_error(&ps->s, now);
}

/* Send pending ciphertext as far as the backend's send queue takes it. @return 0, -ENOBUFS
 * when the backend leaves too much unread. */
static int
proxy_btls_drain(struct proxy_sess *ps)
{
	struct proxy_btls *pt = ps->btls;
	struct tcp_conn *c = ps->backend;

	while (c != NULL) {
		const void *p;
		size_t n = tls_conn_out_peek(&pt->t, &p);
		uint32_t room;
		int w;

		if (n == 0)
			break;
		room = tcp_conn_tx_space(c);
		if (room == 0) {
			tcp_conn_want_writable(c); /* the backend's writable() drains again */
			break;
		}
		w = tcp_conn_write(c, p, (uint32_t) RTE_MIN(n, (size_t) room));
		if (w <= 0) {
			tcp_conn_want_writable(c);
			break;
		}
		tls_conn_out_skip(&pt->t, (size_t) w);
	}
	if (tls_conn_out_pending(&pt->t) > PROXY_BTLS_OUT_MAX) {
		ps->pl->backend_overflow++;
		return -ENOBUFS;
	}
	return 0;
}

/* Encrypt the batched plaintext as one record. @return 0, -EPROTO. */
static int
proxy_btls_encrypt(struct proxy_sess *ps)
{
	struct proxy_btls *pt = ps->btls;
	int ret = 0;

	if (pt->out_len == 0)
		return 0;
	if (tls_conn_write(&pt->t, pt->out, pt->out_len) != 0) {
		proxy_btls_count(&ps->pl->btls->record_errors);
		ret = -EPROTO;
	}
	pt->out_len = 0;
	return ret;
}

int
proxy_btls_event(void *arg, uint8_t ev)
{
	struct proxy_sess *ps = arg;
	struct proxy_btls_lcore *bl = ps->pl->btls;
	const struct dp_btls *b = proxy_btls_policy(ps);
	struct proxy_btls *pt;

	if (ev != SMTP_BTLS_EV_GO) {
		if (bl != NULL && ev < SMTP_BTLS_EV_MAX)
			proxy_btls_count(&bl->ev[ev]);
		return 0;
	}
	if (bl == NULL || b == NULL || b->ctx == NULL || ps->backend == NULL || ps->btls != NULL)
		return -ENOTSUP;
	if (rte_mempool_get(bl->pool, (void **) &pt) != 0) {
		proxy_btls_count(&bl->fail[TLS_FAIL_NO_SLOT]);
		return -ENOMEM;
	}
	/* The name is the SNI, and with verification what the certificate must carry. */
	if (tls_conn_init(&pt->t, b->ctx, b->name[0] != '\0' ? b->name : NULL) != 0) {
		rte_mempool_put(bl->pool, pt);
		proxy_btls_count(&bl->fail[TLS_FAIL_INTERNAL]);
		return -ENOMEM;
	}
	pt->state = PROXY_BTLS_HANDSHAKE;
	pt->peer_eof = false;
	pt->broken = false;
	pt->out_len = 0;
	pt->hs_tsc = rte_rdtsc();
	ps->btls = pt;
	proxy_btls_count(&bl->started);
	proxy_btls_count(&bl->active);
	/* The client speaks first: the ClientHello goes out now. */
	if (tls_conn_handshake(&pt->t) < 0 || proxy_btls_drain(ps) != 0) {
		proxy_btls_count(&bl->fail[TLS_FAIL_INTERNAL]);
		proxy_btls_release(ps);
		return -EPROTO;
	}
	return 0;
}

void
proxy_btls_switched(struct proxy_sess *ps, uint32_t discarded)
{
	struct proxy_btls_lcore *bl = ps->pl->btls;

	if (bl != NULL && discarded != 0)
		__atomic_store_n(&bl->discarded, bl->discarded + discarded, __ATOMIC_RELAXED);
}

void
proxy_btls_send(struct proxy_sess *ps, const char *p, size_t n)
{
	struct proxy_btls *pt = ps->btls;

	if (pt->state != PROXY_BTLS_OPEN)
		return; /* the relay sends nothing during the handshake */
	while (n != 0) {
		size_t k;

		if (pt->out_len == sizeof(pt->out) && proxy_btls_encrypt(ps) != 0) {
			pt->broken = true; /* the next flush drops the connection */
			return;
		}
		k = RTE_MIN(n, sizeof(pt->out) - pt->out_len);
		memcpy(pt->out + pt->out_len, p, k);
		pt->out_len = (uint16_t) (pt->out_len + k);
		p += k;
		n -= k;
	}
}

void
proxy_btls_flush(struct proxy_sess *ps)
{
	struct proxy_btls *pt = ps->btls;

	if (pt == NULL)
		return;
	if (pt->broken || proxy_btls_encrypt(ps) != 0 || proxy_btls_drain(ps) != 0)
		proxy_btls_drop(ps, rte_get_timer_cycles() / ps->pl->tsc_per_ms);
}

/* The handshake failed for <why>: the alert goes out, the connection is dropped, and the
 * engine decides (plaintext retry under 'may', 451 4.7.5 under 'encrypt'). */
static void
proxy_btls_hs_fail(struct proxy_sess *ps, enum tls_fail why, uint64_t now)
{
	proxy_btls_count(&ps->pl->btls->fail[why]);
	(void) proxy_btls_drain(ps);
	if (ps->backend != NULL)
		tcp_conn_abort(ps->backend);
	ps->backend = NULL;
	proxy_btls_release(ps);
	smtp_session_backend_tls(&ps->s, now, -EPROTO);
}

static void
proxy_btls_established(struct proxy_sess *ps, uint64_t now)
{
	struct proxy_btls *pt = ps->btls;
	struct proxy_btls_lcore *bl = ps->pl->btls;
	uint64_t ns =
		(uint64_t) ((double) (rte_rdtsc() - pt->hs_tsc) * 1e9 / (double) ps->pl->tsc_hz);

	pt->state = PROXY_BTLS_OPEN;
	proxy_btls_count(&bl->handshakes);
	proxy_btls_count(
		tls_conn_version_num(&pt->t) == TLS_VERSION_TLS13 ? &bl->tls13 : &bl->tls12);
	__atomic_store_n(&bl->hs_ns_sum, bl->hs_ns_sum + ns, __ATOMIC_RELAXED);
	smtp_session_backend_tls(&ps->s, now, 0); /* EHLO again, inside TLS */
}

/* Ciphertext from the backend's receive queue into the read BIO. @return bytes moved. */
static uint32_t
proxy_btls_fill(struct proxy_sess *ps, bool *err)
{
	struct proxy_btls *pt = ps->btls;
	uint32_t avail, moved = 0;
	struct rte_mbuf *m = tcp_conn_rx_peek(ps->backend, &avail);

	for (; m != NULL && moved < avail; m = m->next) {
		int w;

		if (m->data_len == 0)
			continue;
		w = tls_conn_in(&pt->t, rte_pktmbuf_mtod(m, const void *), m->data_len);
		if (w < 0) {
			*err = true;
			break;
		}
		moved += (uint32_t) w;
		if ((uint32_t) w < m->data_len)
			break; /* the BIO is full: the rest stays in the TCP queue */
	}
	if (moved != 0)
		tcp_conn_rx_consume(ps->backend, moved);
	return moved;
}

void
proxy_btls_input(struct proxy_sess *ps, uint64_t now)
{
	struct proxy_btls *pt = ps->btls;
	char buf[4096];

	/* Bounded: each round moves input or stops. */
	for (unsigned int round = 0; round < 64 && ps->btls == pt; round++) {
		bool err = false, progress = false;
		uint32_t moved = proxy_btls_fill(ps, &err);

		if (err) {
			proxy_btls_hs_fail(ps, TLS_FAIL_INTERNAL, now);
			return;
		}
		if (pt->state == PROXY_BTLS_HANDSHAKE) {
			int r = tls_conn_handshake(&pt->t);

			if (r < 0) {
				proxy_btls_hs_fail(ps, (enum tls_fail) pt->t.fail, now);
				return;
			}
			if (r == 0) {
				if (tcp_conn_rx_eof(ps->backend)) {
					proxy_btls_hs_fail(ps, TLS_FAIL_PEER_CLOSED, now);
					return;
				}
				if (proxy_btls_drain(ps) != 0)
					proxy_btls_hs_fail(ps, TLS_FAIL_INTERNAL, now);
				return;
			}
			proxy_btls_established(ps, now);
			if (ps->btls != pt)
				return;
			proxy_btls_flush(ps);
			if (ps->btls != pt)
				return;
		}
		for (;;) {
			int n = tls_conn_peek(&pt->t, buf, sizeof(buf));

			if (n == 0)
				break; /* more ciphertext needed */
			if (n == -EPIPE) {
				pt->peer_eof = true;
				return;
			}
			if (n < 0 || tls_conn_consume(&pt->t, (size_t) n) != 0) {
				proxy_btls_count(&ps->pl->btls->record_errors);
				proxy_btls_drop(ps, now);
				return;
			}
			/* Consumed first: the engine may close this connection while it reads. */
			(void) smtp_session_backend_feed(&ps->s, now, buf, (size_t) n);
			progress = true;
			if (ps->btls != pt)
				return;
		}
		if (moved == 0 && !progress)
			return;
	}
}

bool
proxy_btls_eof(const struct proxy_sess *ps)
{
	return ps->btls != NULL && ps->btls->peer_eof;
}

void
proxy_btls_close(struct proxy_sess *ps)
{
	struct proxy_btls *pt = ps->btls;

	if (pt == NULL)
		return;
	if (pt->state == PROXY_BTLS_OPEN) {
		/* QUIT, then close_notify (RFC 8446 §6.1) ahead of the FIN. */
		(void) proxy_btls_encrypt(ps);
		tls_conn_shutdown(&pt->t);
		(void) proxy_btls_drain(ps);
	} else {
		/* Only the relay's timeout ends a handshake this way. */
		proxy_btls_count(&ps->pl->btls->fail[TLS_FAIL_TIMEOUT]);
	}
	proxy_btls_release(ps);
}

void
proxy_btls_record(const struct proxy_sess *ps, struct ctl_log_rec *rec)
{
	const struct proxy_btls *pt = ps->btls;

	memset(rec->backend_tls, 0, sizeof(rec->backend_tls));
	if (pt != NULL && pt->state == PROXY_BTLS_OPEN)
		snprintf(rec->backend_tls, sizeof(rec->backend_tls), "%s",
			tls_conn_version(&pt->t));
}

int
proxy_btls_stats_text(struct proxy_lcore *const *lcores, unsigned int n, char *buf, size_t size)
{
	static const char *const ev_names[SMTP_BTLS_EV_MAX] = {
		[SMTP_BTLS_EV_GO] = "starttls",
		[SMTP_BTLS_EV_PLAIN] = "plaintext",
		[SMTP_BTLS_EV_NOT_OFFERED] = "required_not_offered",
		[SMTP_BTLS_EV_REFUSED] = "starttls_refused",
		[SMTP_BTLS_EV_FALLBACK] = "fallback_plaintext",
	};
	uint64_t fail[TLS_FAIL_MAX] = {0}, ev[SMTP_BTLS_EV_MAX] = {0}, v[8] = {0};
	uint32_t slots = 0, free_slots = 0;
	size_t used = 0;

	for (unsigned int l = 0; l < n; l++) {
		const struct proxy_btls_lcore *bl = lcores[l] != NULL ? lcores[l]->btls : NULL;

		if (bl == NULL)
			continue;
		slots += bl->slots;
		free_slots += rte_mempool_avail_count(bl->pool);
		v[0] += __atomic_load_n(&bl->started, __ATOMIC_RELAXED);
		v[1] += __atomic_load_n(&bl->handshakes, __ATOMIC_RELAXED);
		v[2] += __atomic_load_n(&bl->tls12, __ATOMIC_RELAXED);
		v[3] += __atomic_load_n(&bl->tls13, __ATOMIC_RELAXED);
		v[4] += __atomic_load_n(&bl->active, __ATOMIC_RELAXED);
		v[5] += __atomic_load_n(&bl->hs_ns_sum, __ATOMIC_RELAXED);
		v[6] += __atomic_load_n(&bl->record_errors, __ATOMIC_RELAXED);
		v[7] += __atomic_load_n(&bl->discarded, __ATOMIC_RELAXED);
		for (unsigned int f = 1; f < TLS_FAIL_MAX; f++)
			fail[f] += __atomic_load_n(&bl->fail[f], __ATOMIC_RELAXED);
		for (unsigned int e = 1; e < SMTP_BTLS_EV_MAX; e++)
			ev[e] += __atomic_load_n(&bl->ev[e], __ATOMIC_RELAXED);
	}
	(void) stats_appendf(buf, size, &used,
		"backend_tls_slots %u\nbackend_tls_slots_free %u\nbackend_tls_sessions_active "
		"%" PRIu64 "\nbackend_tls_starttls %" PRIu64 "\nbackend_tls_handshakes %" PRIu64
		"\nbackend_tls_handshakes_tls1_2 %" PRIu64
		"\nbackend_tls_handshakes_tls1_3 %" PRIu64 "\nbackend_tls_handshake_ns_sum %" PRIu64
		"\nbackend_tls_record_errors %" PRIu64
		"\nbackend_tls_plaintext_discarded_bytes %" PRIu64 "\n",
		slots, free_slots, v[4], v[0], v[1], v[2], v[3], v[5], v[6], v[7]);
	for (unsigned int e = 1; e < SMTP_BTLS_EV_MAX; e++)
		(void) stats_appendf(buf, size, &used, "backend_tls_%s %" PRIu64 "\n", ev_names[e],
			ev[e]);
	for (unsigned int f = 1; f < TLS_FAIL_MAX; f++)
		(void) stats_appendf(buf, size, &used,
			"backend_tls_handshake_failures_%s %" PRIu64 "\n",
			tls_fail_name((enum tls_fail) f), fail[f]);
	return (int) used;
}
