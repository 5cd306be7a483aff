/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Inbound STARTTLS for the SMTP proxy (RFC 3207). A session that sends STARTTLS takes a TLS
 * slot from its lcore's pool (sized at start; none left: 454 4.7.0), after per-source and
 * overall token buckets allowed the handshake. Once the 220 is queued, the client's bytes go
 * into the TLS read BIO (bounded: the rest waits in the TCP queue, whose window closes), the
 * engine reads decrypted bytes by peek/consume, and its replies are batched into one record
 * per flush. A plaintext connection never holds TLS state: only the pointer in proxy_sess.
 * Runs on the lcore that owns the session; the stats text is read by the control thread.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <arpa/inet.h>

#include <rte_common.h>
#include <rte_cycles.h>
#include <rte_malloc.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>

#include "ctl_proto-t.h"
#include "dp_ctl.h"
#include "proxy_tls.h"
#include "smtp.h"
#include "stats.h"
#include "tcp.h"
#include "tls.h"
#include "ndg_common.h"

#define PROXY_TLS_OUT_MAX (256u << 10) /* ciphertext a client leaves unread before a reset */

static uint32_t proxy_tls_slots = PROXY_TLS_SLOTS_DEFAULT;

void
proxy_tls_set_slots(uint32_t n)
{
	proxy_tls_slots = n;
}

uint32_t
proxy_tls_get_slots(void)
{
	return proxy_tls_slots;
}

int
proxy_tls_lcore_init(struct proxy_lcore *pl, unsigned int lcore_id, int socket)
{
	struct proxy_tls_lcore *tl;
	char name[RTE_MEMPOOL_NAMESIZE];

	pl->tls = NULL;
	if (proxy_tls_slots == 0)
		return 0;
	tl = rte_zmalloc_socket("ndg_tls", sizeof(*tl), RTE_CACHE_LINE_SIZE, socket);
	if (tl == NULL)
		return -ENOMEM;
	snprintf(name, sizeof(name), "ndg_tls_%u", lcore_id);
	/* Single producer and consumer: only this lcore takes and returns slots. */
	tl->pool = rte_mempool_create(name, proxy_tls_slots, sizeof(struct proxy_tls), 0, 0, NULL,
		NULL, NULL, NULL, socket, RTE_MEMPOOL_F_SP_PUT | RTE_MEMPOOL_F_SC_GET);
	if (tl->pool == NULL) {
		rte_free(tl);
		return -ENOMEM;
	}
	tl->slots = proxy_tls_slots;
	pl->tls = tl;
	return 0;
}

void
proxy_tls_lcore_fini(struct proxy_lcore *pl)
{
	if (pl->tls == NULL)
		return;
	rte_mempool_free(pl->tls->pool);
	rte_free(pl->tls);
	pl->tls = NULL;
}

static inline void
proxy_tls_count(uint64_t *c)
{
	__atomic_store_n(c, *c + 1, __ATOMIC_RELAXED);
}

static struct proxy_tls_src *
proxy_tls_src_of(struct proxy_tls_lcore *tl, uint32_t addr)
{
	struct proxy_tls_src *s =
		&tl->src[((addr * 2654435761u) >> 20) & (PROXY_TLS_SRC_SLOTS - 1)];

	/* A colliding source takes the slot over with a full bucket: the overall bucket still
	 * bounds what many sources can do together. */
	if (s->addr != addr) {
		s->addr = addr;
		memset(&s->b, 0, sizeof(s->b));
	}
	return s;
}

int
proxy_tls_begin(struct proxy_sess *ps, uint64_t now)
{
	struct proxy_tls_lcore *tl = ps->pl->tls;
	const struct dp_tls *cfg = &ps->cfg->tls;
	struct proxy_tls *pt;

	if (tl == NULL || cfg->ctx == NULL || ps->tls != NULL)
		return -ENOTSUP;
	/* The source's own bucket first: a flooding source does not drain the shared one. */
	if (!tls_bucket_take(&proxy_tls_src_of(tl, ps->peer_addr)->b, now, cfg->src_rate,
		    cfg->src_burst) ||
		!tls_bucket_take(&tl->all, now, cfg->rate, cfg->burst)) {
		proxy_tls_count(&tl->fail[TLS_FAIL_RATE]);
		return -EBUSY;
	}
	if (rte_mempool_get(tl->pool, (void **) &pt) != 0) {
		proxy_tls_count(&tl->fail[TLS_FAIL_NO_SLOT]);
		return -ENOMEM;
	}
	if (tls_conn_init(&pt->t, cfg->ctx, NULL) != 0) {
		rte_mempool_put(tl->pool, pt);
		proxy_tls_count(&tl->fail[TLS_FAIL_INTERNAL]);
		return -ENOMEM;
	}
	pt->state = PROXY_TLS_PENDING;
	pt->peer_eof = false;
	pt->counted = false;
	pt->out_len = 0;
	pt->hs_deadline = now + cfg->handshake_timeout_ms;
	pt->hs_tsc = rte_rdtsc();
	ps->tls = pt;
	proxy_tls_count(&tl->started);
	proxy_tls_count(&tl->active);
	return 0;
}

void
proxy_tls_switch(struct proxy_sess *ps, uint64_t now, uint32_t discarded)
{
	struct proxy_tls *pt = ps->tls;
	struct proxy_tls_lcore *tl = ps->pl->tls;

	pt->state = PROXY_TLS_HANDSHAKE;
	pt->hs_deadline = now + ps->cfg->tls.handshake_timeout_ms;
	pt->hs_tsc = rte_rdtsc();
	if (discarded != 0)
		__atomic_store_n(&tl->discarded, tl->discarded + discarded, __ATOMIC_RELAXED);
}

/* A handshake failed for <why>: its alert (if any) goes out at the close. */
static void
proxy_tls_fail(struct proxy_sess *ps, enum tls_fail why)
{
	struct proxy_tls *pt = ps->tls;

	proxy_tls_count(&ps->pl->tls->fail[why]);
	pt->state = PROXY_TLS_FAILED;
	pt->counted = true;
	ps->close_pending = true;
}

/* Send pending ciphertext as far as the client's send queue takes it. */
static void
proxy_tls_drain(struct proxy_sess *ps)
{
	struct proxy_tls *pt = ps->tls;
	struct tcp_conn *c = ps->client;

	while (c != NULL) {
		const void *p;
		size_t n = tls_conn_out_peek(&pt->t, &p);
		uint32_t room;
		int w;

		if (n == 0)
			return;
		room = tcp_conn_tx_space(c);
		if (room == 0) {
			tcp_conn_want_writable(c); /* the client writable() drains again */
			break;
		}
		w = tcp_conn_write(c, p, (uint32_t) RTE_MIN(n, (size_t) room));
		if (w <= 0) {
			tcp_conn_want_writable(c);
			break;
		}
		tls_conn_out_skip(&pt->t, (size_t) w);
	}
	if (tls_conn_out_pending(&pt->t) > PROXY_TLS_OUT_MAX) {
		/* A client that does not read: cut it off rather than buffer. */
		ps->pl->reply_overflow++;
		ps->abort_pending = true;
	}
}

static void
proxy_tls_encrypt(struct proxy_sess *ps)
{
	struct proxy_tls *pt = ps->tls;

	if (pt->out_len == 0)
		return;
	if (pt->state == PROXY_TLS_OPEN && tls_conn_write(&pt->t, pt->out, pt->out_len) != 0) {
		proxy_tls_count(&ps->pl->tls->record_errors);
		ps->abort_pending = true;
	}
	pt->out_len = 0;
}

void
proxy_tls_reply(struct proxy_sess *ps, const char *p, size_t n)
{
	struct proxy_tls *pt = ps->tls;

	if (pt->state != PROXY_TLS_OPEN)
		return; /* a failed session gets no more replies */
	if ((size_t) pt->out_len + n > sizeof(pt->out))
		proxy_tls_encrypt(ps);
	if (n > sizeof(pt->out)) {
		if (tls_conn_write(&pt->t, p, n) != 0) {
			proxy_tls_count(&ps->pl->tls->record_errors);
			ps->abort_pending = true;
		}
		return;
	}
	memcpy(pt->out + pt->out_len, p, n);
	pt->out_len = (uint16_t) (pt->out_len + n);
}

void
proxy_tls_flush(struct proxy_sess *ps)
{
	if (ps->tls == NULL || ps->tls->state == PROXY_TLS_PENDING)
		return;
	proxy_tls_encrypt(ps);
	proxy_tls_drain(ps);
}

void
proxy_tls_end(struct proxy_sess *ps)
{
	struct proxy_tls *pt = ps->tls;

	if (pt == NULL || pt->state == PROXY_TLS_PENDING)
		return;
	proxy_tls_encrypt(ps);
	if (pt->state == PROXY_TLS_OPEN)
		tls_conn_shutdown(&pt->t); /* close_notify, RFC 8446 §6.1 */
	proxy_tls_drain(ps);
}

/* One more handshake with cipher <name>; a name past the table's end is not counted. */
static void
proxy_tls_count_cipher(struct proxy_tls_lcore *tl, const char *name)
{
	for (unsigned int i = 0; i < PROXY_TLS_CIPHERS; i++) {
		const char *n = __atomic_load_n(&tl->cipher_name[i], __ATOMIC_RELAXED);

		if (n == NULL) {
			__atomic_store_n(&tl->cipher_name[i], name, __ATOMIC_RELEASE);
			n = name;
		}
		if (n == name || strcmp(n, name) == 0) {
			proxy_tls_count(&tl->cipher_count[i]);
			return;
		}
	}
}

static void
proxy_tls_established(struct proxy_sess *ps, uint64_t now)
{
	struct proxy_tls *pt = ps->tls;
	struct proxy_tls_lcore *tl = ps->pl->tls;
	const char *ct = tls_conn_cert_type(&pt->t);
	uint64_t ns =
		(uint64_t) ((double) (rte_rdtsc() - pt->hs_tsc) * 1e9 / (double) ps->pl->tsc_hz);

	pt->state = PROXY_TLS_OPEN;
	pt->counted = true;
	proxy_tls_count(&tl->handshakes);
	proxy_tls_count(
		tls_conn_version_num(&pt->t) == TLS_VERSION_TLS13 ? &tl->tls13 : &tl->tls12);
	if (strcmp(ct, "ECDSA") == 0)
		proxy_tls_count(&tl->cert_ecdsa);
	else if (strcmp(ct, "RSA") == 0)
		proxy_tls_count(&tl->cert_rsa);
	__atomic_store_n(&tl->hs_ns_sum, tl->hs_ns_sum + ns, __ATOMIC_RELAXED);
	proxy_tls_count_cipher(tl, tls_conn_cipher(&pt->t));
	smtp_session_tls_done(&ps->s, now);
}

/* Ciphertext from the client's receive queue into the read BIO. @return bytes moved. */
static uint32_t
proxy_tls_fill(struct proxy_sess *ps, bool *err)
{
	struct proxy_tls *pt = ps->tls;
	uint32_t avail, moved = 0;
	struct rte_mbuf *m = tcp_conn_rx_peek(ps->client, &avail);

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
		tcp_conn_rx_consume(ps->client, moved);
	return moved;
}

void
proxy_tls_input(struct proxy_sess *ps, uint64_t now)
{
	struct proxy_tls *pt = ps->tls;
	char buf[4096];

	/* Bounded: each round moves input or stops. */
	for (unsigned int round = 0; round < 64; round++) {
		bool err = false, progress = false;
		uint32_t moved = proxy_tls_fill(ps, &err);

		if (err) {
			proxy_tls_fail(ps, TLS_FAIL_INTERNAL);
			return;
		}
		if (pt->state == PROXY_TLS_HANDSHAKE) {
			int r = tls_conn_handshake(&pt->t);

			if (r < 0) {
				proxy_tls_fail(ps, (enum tls_fail) pt->t.fail);
				return;
			}
			if (r == 0) {
				if (tcp_conn_rx_eof(ps->client))
					proxy_tls_fail(ps, TLS_FAIL_PEER_CLOSED);
				return;
			}
			proxy_tls_established(ps, now);
		}
		if (pt->state != PROXY_TLS_OPEN)
			return;
		for (;;) {
			size_t lim = sizeof(buf), used;
			int n;

			if (ps->close_pending || ps->abort_pending ||
				smtp_session_is_waiting(&ps->s))
				return;
			if (ps->backend != NULL && ps->s.state == SMTP_ST_DATA) {
				/* Dot-stuffing and CRLF repair at most double the bytes. */
				uint32_t room = tcp_conn_tx_space(ps->backend) / 2;

				if (room < 1024) {
					tcp_conn_want_writable(ps->backend);
					return;
				}
				lim = RTE_MIN(lim, (size_t) room);
			}
			n = tls_conn_peek(&pt->t, buf, lim);
			if (n == 0)
				break; /* more ciphertext needed */
			if (n == -EPIPE) {
				pt->peer_eof = true;
				return;
			}
			if (n < 0) {
				proxy_tls_count(&ps->pl->tls->record_errors);
				ps->abort_pending = true;
				return;
			}
			used = smtp_session_feed(&ps->s, now, buf, (size_t) n);
			if (tls_conn_consume(&pt->t, used) != 0) {
				proxy_tls_count(&ps->pl->tls->record_errors);
				ps->abort_pending = true;
				return;
			}
			progress = true;
			if (used < (size_t) n)
				return; /* the engine waits: the rest stays in OpenSSL */
		}
		if (moved == 0 && !progress)
			return;
	}
}

void
proxy_tls_release(struct proxy_sess *ps)
{
	struct proxy_tls *pt = ps->tls;
	struct proxy_tls_lcore *tl = ps->pl->tls;

	if (pt == NULL)
		return;
	/* A handshake the client abandoned (reset, or gone while we waited). */
	if (!pt->counted && pt->state == PROXY_TLS_HANDSHAKE)
		proxy_tls_count(&tl->fail[TLS_FAIL_PEER_CLOSED]);
	tls_conn_fini(&pt->t);
	ps->tls = NULL;
	rte_mempool_put(tl->pool, pt);
	__atomic_store_n(&tl->active, tl->active - 1, __ATOMIC_RELAXED);
}

bool
proxy_tls_eof(const struct proxy_sess *ps)
{
	return ps->tls->peer_eof || tcp_conn_rx_eof(ps->client);
}

uint64_t
proxy_tls_deadline(const struct proxy_sess *ps)
{
	if (ps->tls == NULL || ps->tls->state != PROXY_TLS_HANDSHAKE)
		return UINT64_MAX;
	return ps->tls->hs_deadline;
}

bool
proxy_tls_tick(struct proxy_sess *ps, uint64_t now)
{
	if (ps->tls == NULL || ps->tls->state != PROXY_TLS_HANDSHAKE || now < ps->tls->hs_deadline)
		return false;
	proxy_tls_fail(ps, TLS_FAIL_TIMEOUT);
	return true;
}

size_t
proxy_tls_trace(const struct proxy_sess *ps, char *buf, size_t size)
{
	const struct proxy_tls *pt = ps->tls;
	char ip[INET_ADDRSTRLEN], date[64];
	struct in_addr a = {.s_addr = ps->peer_addr};
	time_t t = time(NULL);
	struct tm tm;
	int n;

	if (pt == NULL || pt->state != PROXY_TLS_OPEN)
		return 0;
	inet_ntop(AF_INET, &a, ip, sizeof(ip));
	gmtime_r(&t, &tm);
	strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S +0000", &tm);
	/* RFC 5321 §4.4 trace; the TLS clause in the form MTAs write it. */
	n = snprintf(buf, size,
		"Received: from %s ([%s])\r\n\tby %s (ndrguard) with ESMTPS\r\n"
		"\t(using %s with cipher %s (%d/%d bits));\r\n\t%s\r\n",
		ps->s.helo[0] ? ps->s.helo : ip, ip, ps->cfg->smtp.hostname,
		tls_conn_version(&pt->t), tls_conn_cipher(&pt->t), tls_conn_cipher_bits(&pt->t),
		tls_conn_cipher_bits(&pt->t), date);
	return n > 0 && (size_t) n < size ? (size_t) n : 0;
}

void
proxy_tls_record(const struct proxy_sess *ps, struct ctl_log_rec *rec)
{
	const struct proxy_tls *pt = ps->tls;

	memset(rec->tls_version, 0, sizeof(rec->tls_version));
	memset(rec->tls_cipher, 0, sizeof(rec->tls_cipher));
	if (pt == NULL || pt->state != PROXY_TLS_OPEN)
		return;
	snprintf(rec->tls_version, sizeof(rec->tls_version), "%s", tls_conn_version(&pt->t));
	snprintf(rec->tls_cipher, sizeof(rec->tls_cipher), "%s", tls_conn_cipher(&pt->t));
}

int
proxy_tls_stats_text(struct proxy_lcore *const *lcores, unsigned int n, char *buf, size_t size)
{
	uint64_t fail[TLS_FAIL_MAX] = {0}, v[10] = {0};
	struct {
		const char *name;
		uint64_t n;
	} ciphers[2 * PROXY_TLS_CIPHERS] = {{NULL, 0}};
	unsigned int n_ciphers = 0;
	uint32_t slots = 0, free_slots = 0;
	size_t used = 0;

	for (unsigned int l = 0; l < n; l++) {
		const struct proxy_tls_lcore *tl = lcores[l] != NULL ? lcores[l]->tls : NULL;

		if (tl == NULL)
			continue;
		slots += tl->slots;
		free_slots += rte_mempool_avail_count(tl->pool);
		v[0] += __atomic_load_n(&tl->started, __ATOMIC_RELAXED);
		v[1] += __atomic_load_n(&tl->handshakes, __ATOMIC_RELAXED);
		v[2] += __atomic_load_n(&tl->tls12, __ATOMIC_RELAXED);
		v[3] += __atomic_load_n(&tl->tls13, __ATOMIC_RELAXED);
		v[4] += __atomic_load_n(&tl->cert_ecdsa, __ATOMIC_RELAXED);
		v[5] += __atomic_load_n(&tl->cert_rsa, __ATOMIC_RELAXED);
		v[6] += __atomic_load_n(&tl->discarded, __ATOMIC_RELAXED);
		v[7] += __atomic_load_n(&tl->active, __ATOMIC_RELAXED);
		v[8] += __atomic_load_n(&tl->hs_ns_sum, __ATOMIC_RELAXED);
		v[9] += __atomic_load_n(&tl->record_errors, __ATOMIC_RELAXED);
		for (unsigned int f = 1; f < TLS_FAIL_MAX; f++)
			fail[f] += __atomic_load_n(&tl->fail[f], __ATOMIC_RELAXED);
	}
	(void) stats_appendf(buf, size, &used,
		"tls_slots %u\ntls_slots_free %u\ntls_sessions_active %" PRIu64
		"\ntls_starttls %" PRIu64 "\ntls_handshakes %" PRIu64
		"\ntls_handshakes_tls1_2 %" PRIu64 "\ntls_handshakes_tls1_3 %" PRIu64
		"\ntls_handshakes_cert_ecdsa %" PRIu64 "\ntls_handshakes_cert_rsa %" PRIu64
		"\ntls_handshake_ns_sum %" PRIu64 "\ntls_plaintext_discarded_bytes %" PRIu64
		"\ntls_record_errors %" PRIu64 "\n",
		slots, free_slots, v[7], v[0], v[1], v[2], v[3], v[4], v[5], v[8], v[6], v[9]);
	for (unsigned int f = 1; f < TLS_FAIL_MAX; f++)
		(void) stats_appendf(buf, size, &used, "tls_handshake_failures_%s %" PRIu64 "\n",
			tls_fail_name((enum tls_fail) f), fail[f]);
	/* By cipher, summed over lcores (each has its own table of names). */
	for (unsigned int l = 0; l < n; l++) {
		const struct proxy_tls_lcore *tl = lcores[l] != NULL ? lcores[l]->tls : NULL;

		for (unsigned int i = 0; tl != NULL && i < PROXY_TLS_CIPHERS; i++) {
			const char *name = __atomic_load_n(&tl->cipher_name[i], __ATOMIC_ACQUIRE);
			uint64_t c = __atomic_load_n(&tl->cipher_count[i], __ATOMIC_RELAXED);
			unsigned int k;

			if (name == NULL)
				break;
			for (k = 0; k < n_ciphers && strcmp(ciphers[k].name, name) != 0; k++)
				;
			if (k == n_ciphers) {
				if (n_ciphers == RTE_DIM(ciphers))
					continue;
				ciphers[n_ciphers++].name = name;
			}
			ciphers[k].n += c;
		}
	}
	for (unsigned int k = 0; k < n_ciphers; k++)
		(void) stats_appendf(buf, size, &used, "tls_cipher_%s %" PRIu64 "\n",
			ciphers[k].name, ciphers[k].n);
	return (int) used;
}
