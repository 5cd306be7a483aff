/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The SMTP proxy: glue between the TCP stack (tcp.h) and the SMTP engine (smtp.h). Each
 * accepted connection gets a session from the lcore's pool and a reference on the
 * configuration in force; the engine's replies go to the client connection, its backend
 * commands and data to a backend connection opened when the first recipient passes policy,
 * with failover through the domain's backends. Client bytes are fed no faster than the
 * backend's send queue drains, so nothing is ever buffered without bound. Every callback runs
 * on the lcore that owns the connections; nothing here blocks or allocates from the heap.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <arpa/inet.h>

#include <rte_cycles.h>
#include <rte_jhash.h>
#include <rte_lcore.h>
#include <rte_malloc.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>
#include <rte_random.h>
#include <rte_ring.h>
#include <rte_ring_elem.h>

#include "ctl_proto-t.h"
#include "dp_ctl.h"
#include "lcore.h"
#include "policy.h"
#include "proxy.h"
#include "proxy_btls.h"
#include "proxy_mem.h"
#include "proxy_tls.h"
#include "tls_mem.h"
#include "smtp.h"
#include "stats.h"
#include "tcp.h"
#include "ndg_common.h"

static struct proxy_lcore *proxy_lcores[RTE_MAX_LCORE];
static uint16_t proxy_port; /* the SMTP listener's port, 0: no proxy */
static bool proxy_log_on;

static inline uint64_t
proxy_now(const struct proxy_lcore *pl)
{
	return rte_get_timer_cycles() / pl->tsc_per_ms;
}

static void proxy_pump(struct proxy_sess *ps);
static void proxy_backend_health(struct proxy_lcore *pl, uint32_t ip, uint16_t port, bool ok);

/* ---- live sessions per source (the concurrency rule counts sessions, not TIME-WAITs) ---- */

static inline uint32_t
proxy_src_slot(const struct proxy_lcore *pl, uint32_t addr)
{
	return rte_jhash_1word(addr, pl->src_seed) & pl->src_mask;
}

/* Count one more session of <addr>. @return the sessions it holds now, 0 when full. */
static uint32_t
proxy_src_inc(struct proxy_lcore *pl, uint32_t addr)
{
	uint32_t i = proxy_src_slot(pl, addr);

	for (uint32_t k = 0; k <= pl->src_mask; k++, i = (i + 1) & pl->src_mask) {
		if (pl->src[i].addr == addr)
			return ++pl->src[i].n;
		if (pl->src[i].addr == 0) {
			pl->src[i].addr = addr;
			pl->src[i].n = 1;
			return 1;
		}
	}
	return 0;
}

static void
proxy_src_dec(struct proxy_lcore *pl, uint32_t addr)
{
	uint32_t i = proxy_src_slot(pl, addr), j;

	while (pl->src[i].addr != addr) {
		if (pl->src[i].addr == 0)
			return;
		i = (i + 1) & pl->src_mask;
	}
	if (--pl->src[i].n != 0)
		return;
	/* Backward-shift deletion keeps every probe chain unbroken without tombstones. */
	for (j = (i + 1) & pl->src_mask; pl->src[j].addr != 0; j = (j + 1) & pl->src_mask) {
		uint32_t home = proxy_src_slot(pl, pl->src[j].addr);

		if (((j - home) & pl->src_mask) >= ((j - i) & pl->src_mask)) {
			pl->src[i] = pl->src[j];
			i = j;
		}
	}
	pl->src[i].addr = 0;
	pl->src[i].n = 0;
}

/* ---- engine → transport ---- */

static void
proxy_op_reply(void *arg, const char *p, size_t n)
{
	struct proxy_sess *ps = arg;
	int w;

	if (ps->client == NULL || ps->abort_pending)
		return;
	if (ps->tls != NULL && ps->tls->state != PROXY_TLS_PENDING) {
		proxy_tls_reply(ps, p, n);
		return;
	}
	w = tcp_conn_write(ps->client, p, (uint32_t) n);
	if (w < 0 || (size_t) w != n) {
		/* A client that does not read its replies: cut it off rather than buffer. */
		ps->pl->reply_overflow++;
		ps->abort_pending = true;
	}
}

static void
proxy_op_close(void *arg)
{
	struct proxy_sess *ps = arg;

	ps->close_pending = true;
}

/* The first port whose connected subnet holds <ip>, else (<via_gw>) the first port with a
 * gateway (the outbound smarthost is usually beyond the external router). */
static int
proxy_port_for_ctx(const struct lcore_ctx *ctx, uint32_t ip, bool via_gw, uint16_t *port_id)
{
	for (uint16_t p = 0; p < RTE_MAX_ETHPORTS; p++) {
		const struct net_if *nif = ctx->nif[p];

		if (nif == NULL)
			continue;
		for (unsigned int i = 0; i < nif->n_addrs; i++) {
			uint32_t mask =
				nif->addrs[i].plen ? htonl(~0u << (32 - nif->addrs[i].plen)) : 0;

			if (((nif->addrs[i].ip ^ ip) & mask) == 0) {
				*port_id = p;
				return 0;
			}
		}
	}
	for (uint16_t p = 0; via_gw && p < RTE_MAX_ETHPORTS; p++) {
		if (ctx->nif[p] != NULL && ctx->nif[p]->gateway != 0) {
			*port_id = p;
			return 0;
		}
	}
	return -ENETUNREACH;
}

static int
proxy_port_for(const struct proxy_sess *ps, uint32_t ip, uint16_t *port_id)
{
	return proxy_port_for_ctx(ps->pl->ts->ctx, ip, true, port_id);
}

/* Where this session's transactions go: the smarthost (outbound) or the domain's backends. */
static const struct dp_domain_backends *
proxy_backends(const struct proxy_sess *ps)
{
	return ps->s.out != NULL ? &ps->cfg->smarthost : &ps->cfg->domains[ps->dom];
}

static const struct tcp_app proxy_backend_app;
static const struct tcp_app proxy_client_app;

/* Connect to backend <ps->backend_try> of the session's domain. */
static int
proxy_backend_connect(struct proxy_sess *ps)
{
	const struct dp_domain_backends *d = proxy_backends(ps);
	int ret = -EHOSTUNREACH;

	while (ps->backend_try < d->n) {
		const struct dp_backend *b = &d->b[ps->backend_try];
		uint16_t port_id;

		ret = proxy_port_for(ps, b->ip, &port_id);
		if (ret == 0)
			ret = tcp_conn_connect(ps->pl->ts, port_id, b->ip,
				rte_cpu_to_be_16(b->port), &proxy_backend_app, ps, &ps->backend);
		if (ret == 0)
			return 0;
		proxy_backend_health(ps->pl, b->ip, b->port, false);
		ps->backend = NULL;
		ps->backend_try++;
		ps->pl->backend_failover++;
	}
	return ret;
}

static int
proxy_op_backend_open(void *arg)
{
	struct proxy_sess *ps = arg;
	const char *rcpt = ps->s.txn->rcpt;
	const char *at = memrchr(rcpt, '@', ps->s.txn->rcpt_len);
	const struct dp_cfg *cfg = ps->cfg;

	ps->backend_try = 0;
	if (ps->s.out != NULL)
		return proxy_backend_connect(ps); /* outbound: the smarthost, whatever the domain */
	if (cfg->n_domains == 0)
		return -EHOSTUNREACH;
	/* The first recipient's domain picks the backends; a relay network's foreign
	 * recipient goes to the first domain's servers, which relay it. */
	ps->dom = 0;
	if (at != NULL) {
		size_t dl = ps->s.txn->rcpt_len - (size_t) (at + 1 - rcpt);

		for (uint32_t i = 0; i < cfg->n_domains; i++) {
			if (strlen(cfg->domains[i].name) == dl &&
				strncasecmp(cfg->domains[i].name, at + 1, dl) == 0) {
				ps->dom = (uint16_t) i;
				break;
			}
		}
	}
	ps->backend_try = 0;
	return proxy_backend_connect(ps);
}

static void
proxy_op_backend_send(void *arg, const char *p, size_t n)
{
	struct proxy_sess *ps = arg;
	int w;

	if (ps->backend == NULL)
		return;
	if (ps->btls != NULL) {
		proxy_btls_send(ps, p, n);
		return;
	}
	w = tcp_conn_write(ps->backend, p, (uint32_t) n);
	if (w < 0 || (size_t) w != n) {
		/* proxy_pump() feeds within the backend's send space: this is a bug or a
		 * peer that stopped reading; the engine answers 451 and nothing is lost. */
		ps->pl->backend_overflow++;
		tcp_conn_abort(ps->backend);
		ps->backend = NULL;
		smtp_session_backend_error(&ps->s, proxy_now(ps->pl));
	}
}

/* Close after QUIT: half-close now, read the 221, close at its end of stream. A reset
 * here would make the backend log a lost connection. */
static void
proxy_op_backend_close(void *arg)
{
	struct proxy_sess *ps = arg;

	if (ps->backend == NULL)
		return;
	proxy_btls_close(ps); /* QUIT and close_notify go out first */
	if (ps->backend_quit != NULL)
		tcp_conn_abort(ps->backend_quit);
	ps->backend_quit = ps->backend;
	ps->backend = NULL;
	(void) tcp_conn_shutdown(ps->backend_quit);
}

/* Drop the draining backend connection: gracefully when nothing is left unread. */
static void
proxy_backend_quit_done(struct proxy_sess *ps)
{
	struct tcp_conn *c = ps->backend_quit;
	uint32_t avail;

	if (c == NULL)
		return;
	ps->backend_quit = NULL;
	(void) tcp_conn_rx_peek(c, &avail);
	tcp_conn_rx_consume(c, avail);
	tcp_conn_close(c);
}

static void
proxy_copy_str(char *dst, size_t size, const char *src)
{
	size_t n = src != NULL ? strnlen(src, size - 1) : 0;

	memcpy(dst, src, n);
	dst[n] = '\0';
}

/* Bucket of <ns> in the log-linear layout of ctl_proto-t.h. */
static inline unsigned int
proxy_hist_bucket(uint64_t ns)
{
	unsigned int e;

	if (ns < (1ull << CTL_HIST_MIN_LOG2))
		return 0;
	e = 63u - (unsigned int) __builtin_clzll(ns);
	return 1u + (e - CTL_HIST_MIN_LOG2) * 2u + (unsigned int) ((ns >> (e - 1)) & 1u);
}

/* One RCPT reply took <cycles> TSC cycles from the arrival of the client's bytes. */
static void
proxy_rcpt_latency(struct proxy_lcore *pl, uint64_t cycles)
{
	uint64_t ns = (uint64_t) ((double) cycles * 1e9 / (double) pl->tsc_hz);
	unsigned int b = proxy_hist_bucket(ns);

	if (b < CTL_HIST_BUCKETS)
		pl->obs.rcpt_hist[b]++;
	pl->obs.rcpt_count++;
	pl->obs.rcpt_sum_ns += ns;
}

/* Record a connect outcome toward <ip>:<port> (backend health). */
static void
proxy_backend_health(struct proxy_lcore *pl, uint32_t ip, uint16_t port, bool ok)
{
	struct proxy_backend_health *h = NULL;

	for (unsigned int i = 0; i < PROXY_BACKEND_SLOTS; i++) {
		struct proxy_backend_health *x = &pl->obs.backends[i];

		if ((x->ip == ip && x->port == port) || x->ip == 0) {
			h = x;
			break;
		}
	}
	if (h == NULL)
		return; /* more backends than slots: the first ones are tracked */
	if (h->ip == 0) {
		h->port = port;
		__atomic_store_n(&h->ip, ip, __ATOMIC_RELEASE);
	}
	if (ok)
		h->ok++;
	else
		h->fail++;
	h->up = ok;
	h->last_ms = proxy_now(pl);
}

/* One record per decision (DESIGN.md §4), queued for the control thread when it listens. */
static void
proxy_op_decision(void *arg, const struct policy_decision *d)
{
	struct proxy_sess *ps = arg;
	struct proxy_lcore *pl = ps->pl;
	struct ctl_log_rec rec;

	pl->decisions++;
	if (d->outcome != POLICY_OUT_OBSERVE) {
		pl->obs.codes[d->code < PROXY_REPLY_CODES ? d->code : 0]++;
		/* Every RCPT gets exactly one final decision, made as its reply goes out. */
		if (d->rcpt[0] != '\0' && ps->rx_tsc != 0)
			proxy_rcpt_latency(pl, rte_rdtsc() - ps->rx_tsc);
	}
	if (!__atomic_load_n(&proxy_log_on, __ATOMIC_RELAXED))
		return;
	rec.time_ms = (uint64_t) ((int64_t) d->time_ms + pl->wall_offset_ms);
	memcpy(&rec.client_ip, d->peer->addr, sizeof(rec.client_ip));
	rec.outcome = d->outcome;
	/* Whether the client is who it claims to be: control blocks only such clients at XDP. */
	rec.flags = ps->client != NULL && tcp_conn_peer_acked_data(ps->client)
			    ? CTL_LOG_F_PEER_ACKED
			    : 0;
	rec.code = d->code;
	proxy_copy_str(rec.enh, sizeof(rec.enh), d->enh);
	proxy_copy_str(rec.rule, sizeof(rec.rule), policy_rule_name(d->rule));
	proxy_tls_record(ps, &rec);
	proxy_btls_record(ps, &rec);
	proxy_copy_str(rec.helo, sizeof(rec.helo), d->helo);
	proxy_copy_str(rec.sender, sizeof(rec.sender), d->sender);
	proxy_copy_str(rec.rcpt, sizeof(rec.rcpt), d->rcpt);
	if (rte_ring_sp_enqueue_elem(pl->log_ring, &rec, sizeof(rec)) != 0)
		pl->log_dropped++;
}

uint16_t
proxy_listen_port(void)
{
	return proxy_port;
}

void
proxy_log_enable(bool on)
{
	__atomic_store_n(&proxy_log_on, on, __ATOMIC_RELAXED);
}

unsigned int
proxy_log_drain(struct ctl_log_rec *out, unsigned int max)
{
	unsigned int n = 0;

	for (unsigned int l = 0; l < RTE_MAX_LCORE && n < max; l++) {
		if (proxy_lcores[l] == NULL)
			continue;
		n += rte_ring_sc_dequeue_burst_elem(proxy_lcores[l]->log_ring, out + n,
			sizeof(*out), max - n, NULL);
	}
	return n;
}

static int
proxy_op_starttls(void *arg)
{
	struct proxy_sess *ps = arg;

	return proxy_tls_begin(ps, proxy_now(ps->pl));
}

/* The Received line of the TLS hop goes first in the message the backend gets. */
static void
proxy_op_data_begin(void *arg)
{
	struct proxy_sess *ps = arg;
	char buf[SMTP_DOMAIN_MAX * 2 + 256];
	size_t n;

	if (ps->tls == NULL)
		return;
	n = proxy_tls_trace(ps, buf, sizeof(buf));
	if (n != 0)
		proxy_op_backend_send(ps, buf, n);
}

static const struct smtp_ops proxy_ops = {
	.reply = proxy_op_reply,
	.close = proxy_op_close,
	.backend_open = proxy_op_backend_open,
	.backend_send = proxy_op_backend_send,
	.backend_close = proxy_op_backend_close,
	.decision = proxy_op_decision,
	.starttls = proxy_op_starttls,
	.data_begin = proxy_op_data_begin,
	.backend_tls_mode = proxy_btls_mode,
	.backend_tls = proxy_btls_event,
	.blk_get = proxy_mem_get,
	.blk_put = proxy_mem_put,
};

/* ---- session life ---- */

static void
proxy_sess_free(struct proxy_sess *ps)
{
	struct proxy_lcore *pl = ps->pl;

	if (ps->backend != NULL) {
		/* The client is gone: the backend transaction must not complete. */
		tcp_conn_abort(ps->backend);
		ps->backend = NULL;
	}
	proxy_btls_release(ps);
	if (ps->backend_quit != NULL) {
		/* Let the backend's 221 and FIN arrive on their own; bounded by a timer. */
		ps->backend_quit->udata = NULL;
		tcp_conn_timer_set(ps->backend_quit, PROXY_QUIT_DRAIN_MS);
		ps->backend_quit = NULL;
	}
	proxy_tls_release(ps);
	smtp_session_fini(&ps->s); /* the borrowed blocks go back to the lcore's pools */
	if (ps->counted)
		proxy_src_dec(pl, ps->peer_addr);
	pl->obs.sess_closed++;
	dp_cfg_release(ps->cfg);
	rte_mempool_put(pl->pool, ps);
}

static void
proxy_arm_timer(struct proxy_sess *ps, uint64_t now)
{
	uint64_t next = RTE_MIN(smtp_session_next_deadline(&ps->s), proxy_tls_deadline(ps));
	uint64_t ms;

	if (next == UINT64_MAX) {
		ms = PROXY_TIMER_MAX_MS;
	} else {
		ms = next > now ? next - now : 1;
		if (ms > PROXY_TIMER_MAX_MS)
			ms = PROXY_TIMER_MAX_MS;
	}
	tcp_conn_timer_set(ps->client, (uint32_t) ms);
}

/* Act on what the engine decided while it ran: reset, or close after the replies. */
static bool
proxy_settle(struct proxy_sess *ps)
{
	if (ps->abort_pending) {
		tcp_conn_abort(ps->client);
		proxy_sess_free(ps);
		return true;
	}
	if (ps->close_pending) {
		proxy_tls_end(ps); /* replies, close_notify or the handshake alert */
		tcp_conn_close(ps->client);
		proxy_sess_free(ps);
		return true;
	}
	return false;
}

/* Feed the client's readable bytes to the engine as far as it and the backend take them. */
static void
proxy_pump(struct proxy_sess *ps)
{
	uint64_t now = proxy_now(ps->pl);
	struct rte_mbuf *m;
	uint32_t avail, fed = 0;

	if (ps->in_pump)
		return;
	ps->in_pump = true;
	if (ps->tls != NULL) {
		proxy_tls_input(ps, now);
		goto fed;
	}
	m = tcp_conn_rx_peek(ps->client, &avail);
	for (; m != NULL && fed < avail && !ps->close_pending && !ps->abort_pending; m = m->next) {
		const char *p = rte_pktmbuf_mtod(m, const char *);
		size_t len = m->data_len, n;

		if (len == 0)
			continue;
		if (ps->backend != NULL && ps->s.state == SMTP_ST_DATA) {
			/* Dot-stuffing and CRLF repair at most double the bytes. */
			uint32_t room = tcp_conn_tx_space(ps->backend) / 2;

			if (room < RTE_MIN(len, (size_t) 1024)) {
				tcp_conn_want_writable(ps->backend); /* writable() resumes us */
				break;
			}
			if (len > room) {
				len = room;
				/* The rest of this segment waits for send space. */
				tcp_conn_want_writable(ps->backend);
			}
		}
		n = smtp_session_feed(&ps->s, now, p, len);
		fed += (uint32_t) n;
		if (n < m->data_len)
			break; /* the engine waits, or the backend is full: keep the rest */
	}
	if (ps->tls != NULL) {
		/* STARTTLS was accepted in this batch (its 220 is queued in plaintext): what
		 * the client pipelined behind it is dropped unread (RFC 3207 §4.2,
		 * CVE-2011-0411); every later byte is TLS. */
		proxy_tls_switch(ps, now, avail - fed);
		fed = avail;
	}
	if (fed != 0)
		tcp_conn_rx_consume(ps->client, fed);
fed:
	ps->in_pump = false;
	proxy_btls_flush(ps);
	/* The stack sends for the connection whose callback runs; the other one's new bytes
	 * (data to the backend, a reply caused by the backend) go out now. */
	if (ps->backend != NULL)
		tcp_conn_flush(ps->backend);
	if (!ps->abort_pending) {
		proxy_tls_flush(ps);
		tcp_conn_flush(ps->client);
	}
	if (proxy_settle(ps))
		return;
	if ((ps->tls != NULL ? proxy_tls_eof(ps) : tcp_conn_rx_eof(ps->client)) &&
		!smtp_session_is_waiting(&ps->s)) {
		/* The client closed its side and every command it sent has its answer. */
		proxy_tls_end(ps);
		tcp_conn_close(ps->client);
		proxy_sess_free(ps);
		return;
	}
	proxy_arm_timer(ps, now);
}

/* ---- client connection ---- */

/*
 * Is <c> a connection to the internal (outbound) listener of <cfg>: an outbound port at the
 * configured address, or, without one, at an address of the port facing the first backend?
 * *<from_backend>: the source is one of the backend MTAs.
 */
static bool
proxy_out_classify(const struct proxy_lcore *pl, const struct dp_cfg *cfg, const struct tcp_conn *c,
	bool *from_backend)
{
	const struct out_conf *o = &cfg->out;
	uint16_t lport = rte_be_to_cpu_16(c->lport), port_id;
	bool port_ok = false;

	*from_backend = false;
	if (!o->enabled)
		return false;
	for (unsigned int i = 0; i < o->n_ports; i++)
		port_ok |= o->ports[i] == lport;
	if (!port_ok)
		return false;
	if (o->addr != 0) {
		if (c->laddr != o->addr)
			return false;
	} else {
		if (cfg->n_domains == 0 || cfg->domains[0].n == 0 ||
			proxy_port_for_ctx(pl->ts->ctx, cfg->domains[0].b[0].ip, false, &port_id) !=
				0 ||
			port_id != c->port_id)
			return false;
	}
	for (uint32_t d = 0; d < cfg->n_domains && !*from_backend; d++)
		for (uint32_t b = 0; b < cfg->domains[d].n; b++)
			if (cfg->domains[d].b[b].ip == c->raddr)
				*from_backend = true;
	return true;
}

/* Listen on the outbound ports of the configuration in force (they can change at reload;
 * a port no longer configured keeps its listener and refuses connections). */
static void
proxy_tick(struct lcore_ctx *ctx, void *arg)
{
	struct proxy_lcore *pl = arg;
	const struct dp_cfg *c = dp_cfg_get();

	(void) ctx;
	if (c == NULL || c->gen == pl->listen_gen)
		return;
	pl->listen_gen = c->gen;
	if (!c->out.enabled)
		return;
	for (unsigned int i = 0; i < c->out.n_ports; i++)
		(void) tcp_listen(pl->ts, c->out.ports[i], &proxy_client_app, pl);
}

static int
proxy_accepted(struct tcp_conn *c)
{
	struct proxy_lcore *pl = c->udata;
	struct policy_peer peer = {.family = 4};
	struct proxy_sess *ps;
	struct dp_cfg *cfg;
	uint64_t now = proxy_now(pl);
	bool outbound, from_backend;
	uint32_t n;

	cfg = dp_cfg_acquire();
	if (cfg == NULL) {
		pl->no_config++;
		return -EAGAIN;
	}
	outbound = proxy_out_classify(pl, cfg, c, &from_backend);
	if (!outbound && rte_be_to_cpu_16(c->lport) != proxy_port) {
		/* An outbound-only port (587) reached at another address. */
		dp_cfg_release(cfg);
		pl->out_refused++;
		return -ECONNREFUSED;
	}
	if (rte_mempool_get(pl->pool, (void **) &ps) != 0) {
		dp_cfg_release(cfg);
		pl->no_session++;
		return -ENOMEM;
	}
	ps->pl = pl;
	ps->client = c;
	ps->backend = NULL;
	ps->cfg = cfg;
	ps->backend_quit = NULL;
	ps->dom = 0;
	ps->backend_try = 0;
	ps->close_pending = ps->abort_pending = ps->in_pump = false;
	ps->peer_addr = c->raddr;
	ps->rx_tsc = 0;
	ps->tls = NULL;
	ps->btls = NULL;
	pl->obs.sess_open++;
	n = proxy_src_inc(pl, c->raddr);
	ps->counted = n != 0;
	memcpy(peer.addr, &c->raddr, 4);
	c->udata = ps;
	smtp_session_init(&ps->s, &cfg->smtp, &proxy_ops, ps, &cfg->pol, &pl->stats, &peer);
	if (outbound)
		smtp_out_session_set(&ps->s, &cfg->out, from_backend);
	ps->s.wall_offset_ms = pl->wall_offset_ms;
	/* Twice the sessions: it cannot fill. If it ever did, that is ours to say (421 4.3.2),
	 * not a verdict on the sender. */
	smtp_session_start(&ps->s, now, n != 0 ? n : SMTP_PEER_CONNS_UNKNOWN);
	if (proxy_settle(ps))
		return 0; /* refused at connect (blocklist, limit): replies queued, closing */
	proxy_arm_timer(ps, now);
	return 0;
}

static void
proxy_readable(struct tcp_conn *c)
{
	struct proxy_sess *ps = c->udata;

	/* Latency counts from the arrival of a command; bytes that arrive while the engine
	 * waits for the backend are pipelined behind the one being answered. */
	if (!smtp_session_is_waiting(&ps->s))
		ps->rx_tsc = rte_rdtsc();
	proxy_pump(ps);
}

static void
proxy_client_writable(struct tcp_conn *c)
{
	struct proxy_sess *ps = c->udata;

	/* Plaintext replies are small and never wait for space; TLS flights may. */
	if (ps != NULL && ps->tls != NULL && !ps->abort_pending)
		proxy_tls_flush(ps);
}

static void
proxy_client_closed(struct tcp_conn *c, int err)
{
	struct proxy_sess *ps = c->udata;

	(void) err;
	ps->client = NULL;
	proxy_sess_free(ps);
}

static void
proxy_client_timer(struct tcp_conn *c)
{
	struct proxy_sess *ps = c->udata;
	uint64_t now = proxy_now(ps->pl);

	if (!proxy_tls_tick(ps, now))
		smtp_session_tick(&ps->s, now);
	if (proxy_settle(ps))
		return;
	proxy_pump(ps);
}

static const struct tcp_app proxy_client_app = {
	.accepted = proxy_accepted,
	.readable = proxy_readable,
	.writable = proxy_client_writable,
	.closed = proxy_client_closed,
	.timer = proxy_client_timer,
};

/* ---- backend connection ---- */

static void
proxy_backend_failed(struct proxy_sess *ps)
{
	proxy_btls_release(ps);
	ps->backend = NULL;
	smtp_session_backend_error(&ps->s, proxy_now(ps->pl));
	if (ps->client != NULL && !proxy_settle(ps))
		proxy_pump(ps);
}

static void
proxy_backend_connected(struct tcp_conn *c, int err)
{
	struct proxy_sess *ps = c->udata;
	const struct dp_domain_backends *d = proxy_backends(ps);

	if (ps->backend_try < d->n)
		proxy_backend_health(ps->pl, d->b[ps->backend_try].ip, d->b[ps->backend_try].port,
			err == 0);
	if (err == 0)
		return; /* the engine waits for the backend's greeting */
	ps->backend = NULL;
	ps->backend_try++;
	ps->pl->backend_failover++;
	if (proxy_backend_connect(ps) != 0)
		proxy_backend_failed(ps);
}

/* A backend connection whose session ended while it drained after QUIT. */
static void
proxy_detached_drain(struct tcp_conn *c)
{
	uint32_t avail;

	(void) tcp_conn_rx_peek(c, &avail);
	tcp_conn_rx_consume(c, avail);
	if (tcp_conn_rx_eof(c))
		tcp_conn_close(c);
}

static void
proxy_backend_timer(struct tcp_conn *c)
{
	if (c->udata == NULL)
		tcp_conn_abort(c); /* the backend never closed after QUIT */
}

static void
proxy_backend_readable(struct tcp_conn *c)
{
	struct proxy_sess *ps = c->udata;

	if (ps == NULL) {
		proxy_detached_drain(c);
		return;
	}
	uint64_t now = proxy_now(ps->pl);
	uint32_t avail, fed = 0;
	struct rte_mbuf *m = tcp_conn_rx_peek(c, &avail);

	if (c == ps->backend_quit) {
		/* The 221 to our QUIT, then the end of stream. */
		tcp_conn_rx_consume(c, avail);
		if (tcp_conn_rx_eof(c))
			proxy_backend_quit_done(ps);
		return;
	}
	if (ps->btls != NULL) {
		proxy_btls_input(ps, now);
		if (ps->backend == c && (proxy_btls_eof(ps) || tcp_conn_rx_eof(c))) {
			tcp_conn_close(c);
			proxy_backend_failed(ps);
			return;
		}
		goto settle;
	}
	for (; m != NULL && fed < avail; m = m->next) {
		size_t used;

		if (m->data_len == 0)
			continue;
		used = smtp_session_backend_feed(&ps->s, now, rte_pktmbuf_mtod(m, const char *),
			m->data_len);
		fed += m->data_len;
		if (ps->backend != c)
			break; /* the engine closed it while reading */
		if (ps->btls != NULL) {
			/* 220 to STARTTLS: what came after it is plaintext injected ahead of the
			 * handshake (RFC 3207 §4.2) and is dropped unread. */
			proxy_btls_switched(ps, (uint32_t) (m->data_len - used) + avail - fed);
			fed = avail;
			break;
		}
	}
	if (ps->backend == c) {
		tcp_conn_rx_consume(c, fed);
		if (tcp_conn_rx_eof(c)) {
			tcp_conn_close(c);
			proxy_backend_failed(ps);
			return;
		}
	}
settle:
	if (!proxy_settle(ps))
		proxy_pump(ps);
}

static void
proxy_backend_writable(struct tcp_conn *c)
{
	struct proxy_sess *ps = c->udata;

	if (ps != NULL && c == ps->backend) {
		proxy_btls_flush(ps); /* ciphertext that waited for send space */
		proxy_pump(ps);
	}
}

static void
proxy_backend_closed(struct tcp_conn *c, int err)
{
	struct proxy_sess *ps = c->udata;

	(void) err;
	if (ps == NULL)
		return;
	if (ps->backend_quit == c) {
		ps->backend_quit = NULL;
		return;
	}
	if (ps->backend == c)
		proxy_backend_failed(ps);
}

static const struct tcp_app proxy_backend_app = {
	.connected = proxy_backend_connected,
	.readable = proxy_backend_readable,
	.writable = proxy_backend_writable,
	.closed = proxy_backend_closed,
	.timer = proxy_backend_timer,
};

/* ---- setup and counters ---- */

int
proxy_start(struct lcore_ctx *ctx, uint16_t port, uint32_t n_sessions)
{
	struct proxy_lcore *pl;
	char name[RTE_MEMPOOL_NAMESIZE];
	int socket = (int) rte_lcore_to_socket_id(ctx->lcore_id);
	int ret;

	if (ctx->tcp == NULL)
		return -EINVAL;
	pl = rte_zmalloc_socket("ndg_proxy", sizeof(*pl), RTE_CACHE_LINE_SIZE, socket);
	if (pl == NULL)
		return -ENOMEM;
	pl->src_mask = rte_align32pow2(RTE_MAX(2 * n_sessions, (uint32_t) PROXY_SRC_SLOTS_MIN)) - 1;
	pl->src_seed = (uint32_t) rte_rand();
	pl->src = rte_zmalloc_socket("ndg_proxy_src", sizeof(*pl->src) * (pl->src_mask + 1),
		RTE_CACHE_LINE_SIZE, socket);
	if (pl->src == NULL) {
		rte_free(pl);
		return -ENOMEM;
	}
	snprintf(name, sizeof(name), "ndg_sess_%u", ctx->lcore_id);
	/* Single producer and consumer: only this lcore takes and returns sessions. */
	pl->pool = rte_mempool_create(name, n_sessions, sizeof(struct proxy_sess), 0, 0, NULL, NULL,
		NULL, NULL, socket, RTE_MEMPOOL_F_SP_PUT | RTE_MEMPOOL_F_SC_GET);
	if (pl->pool == NULL) {
		rte_free(pl->src);
		rte_free(pl);
		return -ENOMEM;
	}
	snprintf(name, sizeof(name), "ndg_log_%u", ctx->lcore_id);
	pl->log_ring = rte_ring_create_elem(name, sizeof(struct ctl_log_rec), PROXY_LOG_RING,
		socket, RING_F_SP_ENQ | RING_F_SC_DEQ);
	if (pl->log_ring == NULL) {
		rte_mempool_free(pl->pool);
		rte_free(pl->src);
		rte_free(pl);
		return -ENOMEM;
	}
	pl->ts = ctx->tcp;
	pl->tsc_per_ms = rte_get_timer_hz() / 1000;
	pl->tsc_hz = rte_get_tsc_hz();
	{
		struct timespec ts;

		clock_gettime(CLOCK_REALTIME, &ts);
		pl->wall_offset_ms =
			(int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000 - (int64_t) proxy_now(pl);
	}
	ret = proxy_mem_lcore_init(pl, ctx->lcore_id, socket, n_sessions);
	if (ret == 0)
		ret = proxy_tls_lcore_init(pl, ctx->lcore_id, socket);
	if (ret == 0)
		ret = proxy_btls_lcore_init(pl, ctx->lcore_id, socket);
	if (ret == 0)
		ret = tcp_listen(ctx->tcp, port, &proxy_client_app, pl);
	if (ret != 0) {
		proxy_btls_lcore_fini(pl);
		proxy_tls_lcore_fini(pl);
		proxy_mem_lcore_fini(pl);
		rte_ring_free(pl->log_ring);
		rte_mempool_free(pl->pool);
		rte_free(pl->src);
		rte_free(pl);
		return ret;
	}
	proxy_lcores[ctx->lcore_id] = pl;
	proxy_port = port;
	if (ctx->tick == NULL) {
		ctx->tick = proxy_tick;
		ctx->tick_arg = pl;
	}
	return 0;
}

void
proxy_stop(void)
{
	for (unsigned int i = 0; i < RTE_MAX_LCORE; i++) {
		if (proxy_lcores[i] == NULL)
			continue;
		/* Sessions still open hold configuration references and pool entries; the
		 * process is exiting and the TCP stack frees the connections. */
		proxy_tls_lcore_fini(proxy_lcores[i]);
		proxy_btls_lcore_fini(proxy_lcores[i]);
		proxy_mem_lcore_fini(proxy_lcores[i]);
		rte_ring_free(proxy_lcores[i]->log_ring);
		rte_mempool_free(proxy_lcores[i]->pool);
		rte_free(proxy_lcores[i]->src);
		rte_free(proxy_lcores[i]);
		proxy_lcores[i] = NULL;
	}
}

static const char *const proxy_smtp_stat_names[SMTP_STAT_MAX] = {
	[SMTP_STAT_SESSIONS] = "smtp_sessions",
	[SMTP_STAT_COMMANDS] = "smtp_commands",
	[SMTP_STAT_LINE_TOO_LONG] = "smtp_line_too_long",
	[SMTP_STAT_BARE_CMD] = "smtp_bare_cmd",
	[SMTP_STAT_UNKNOWN_CMD] = "smtp_unknown_cmd",
	[SMTP_STAT_ERRORS_CLOSE] = "smtp_errors_close",
	[SMTP_STAT_TIMEOUTS] = "smtp_timeouts",
	[SMTP_STAT_MESSAGES] = "smtp_messages",
	[SMTP_STAT_DATA_BARE] = "smtp_data_bare",
	[SMTP_STAT_DATA_TOO_BIG] = "smtp_data_too_big",
	[SMTP_STAT_BACKEND_OPEN] = "smtp_backend_open",
	[SMTP_STAT_BACKEND_FAIL] = "smtp_backend_fail",
	[SMTP_STAT_BACKEND_TIMEOUT] = "smtp_backend_timeout",
	[SMTP_STAT_BACKEND_REFUSED] = "smtp_backend_refused",
	[SMTP_STAT_DELIVERED] = "smtp_delivered",
	[SMTP_STAT_OUT_SESSIONS] = "out_sessions",
	[SMTP_STAT_OUT_BATV_SIGNED] = "out_batv_signed",
	[SMTP_STAT_OUT_NDR_PASSED] = "out_ndr_passed",
	[SMTP_STAT_NO_MEM] = "smtp_no_mem",
	[SMTP_STAT_LINE_TIMEOUT] = "smtp_line_timeout",
	[SMTP_STAT_SRC_TABLE_FULL] = "smtp_src_table_full",
};

static const char *const proxy_outcome_names[POLICY_OUTCOME_MAX] = {
	[POLICY_OUT_ACCEPT] = "accept",
	[POLICY_OUT_REJECT] = "reject",
	[POLICY_OUT_OBSERVE] = "observe",
};

/* Sessions, RCPT latency, reply codes and backend health, summed over lcores. */
static int
proxy_obs_text(char *buf, size_t size)
{
	uint64_t hist[CTL_HIST_BUCKETS] = {0}, codes[PROXY_REPLY_CODES] = {0};
	struct proxy_backend_health be[PROXY_BACKEND_SLOTS];
	uint64_t open = 0, closed = 0, count = 0, sum = 0;
	unsigned int nbe = 0;
	size_t used = 0;

	memset(be, 0, sizeof(be));
	for (unsigned int l = 0; l < RTE_MAX_LCORE; l++) {
		const struct proxy_obs *o;

		if (proxy_lcores[l] == NULL)
			continue;
		o = &proxy_lcores[l]->obs;
		open += __atomic_load_n(&o->sess_open, __ATOMIC_RELAXED);
		closed += __atomic_load_n(&o->sess_closed, __ATOMIC_RELAXED);
		count += __atomic_load_n(&o->rcpt_count, __ATOMIC_RELAXED);
		sum += __atomic_load_n(&o->rcpt_sum_ns, __ATOMIC_RELAXED);
		for (unsigned int i = 0; i < CTL_HIST_BUCKETS; i++)
			hist[i] += __atomic_load_n(&o->rcpt_hist[i], __ATOMIC_RELAXED);
		for (unsigned int i = 0; i < PROXY_REPLY_CODES; i++)
			codes[i] += __atomic_load_n(&o->codes[i], __ATOMIC_RELAXED);
		for (unsigned int i = 0; i < PROXY_BACKEND_SLOTS; i++) {
			const struct proxy_backend_health *h = &o->backends[i];
			uint32_t ip = __atomic_load_n(&h->ip, __ATOMIC_ACQUIRE);
			unsigned int k;

			if (ip == 0)
				break;
			for (k = 0; k < nbe; k++)
				if (be[k].ip == ip && be[k].port == h->port)
					break;
			if (k == nbe) {
				if (nbe == PROXY_BACKEND_SLOTS)
					continue;
				be[nbe].ip = ip;
				be[nbe].port = h->port;
				nbe++;
			}
			be[k].ok += __atomic_load_n(&h->ok, __ATOMIC_RELAXED);
			be[k].fail += __atomic_load_n(&h->fail, __ATOMIC_RELAXED);
			/* The most recent outcome on any lcore says whether it is up. */
			if (h->last_ms >= be[k].last_ms) {
				be[k].last_ms = h->last_ms;
				be[k].up = h->up;
			}
		}
	}
	(void) stats_appendf(buf, size, &used, "sessions_active %" PRIu64 "\n",
		open >= closed ? open - closed : 0);
	(void) stats_appendf(buf, size, &used,
		"rcpt_reply_count %" PRIu64 "\nrcpt_reply_sum_ns %" PRIu64 "\n", count, sum);
	for (unsigned int i = 0; i < CTL_HIST_BUCKETS; i++)
		if (hist[i] != 0)
			(void) stats_appendf(buf, size, &used, "rcpt_reply_bucket_%u %" PRIu64 "\n",
				i, hist[i]);
	for (unsigned int i = 0; i < PROXY_REPLY_CODES; i++)
		if (codes[i] != 0)
			(void) stats_appendf(buf, size, &used, "reply_code_%03u %" PRIu64 "\n", i,
				codes[i]);
	for (unsigned int k = 0; k < nbe; k++) {
		char ip[INET_ADDRSTRLEN];
		struct in_addr a = {.s_addr = be[k].ip};

		inet_ntop(AF_INET, &a, ip, sizeof(ip));
		(void) stats_appendf(buf, size, &used,
			"backend_up_%s:%u %u\nbackend_connects_ok_%s:%u %" PRIu64
			"\nbackend_connects_failed_%s:%u %" PRIu64 "\n",
			ip, be[k].port, be[k].up, ip, be[k].port, be[k].ok, ip, be[k].port,
			be[k].fail);
	}
	return (int) used;
}

int
proxy_stats_text(char *buf, size_t size)
{
	uint64_t c[SMTP_STAT_MAX] = {0}, rule[POLICY_RULE_MAX][POLICY_OUTCOME_MAX] = {{0}};
	uint64_t ev[8] = {0};
	size_t used = 0;

	for (unsigned int l = 0; l < RTE_MAX_LCORE; l++) {
		const struct proxy_lcore *pl = proxy_lcores[l];

		if (pl == NULL)
			continue;
		for (unsigned int i = 0; i < SMTP_STAT_MAX; i++)
			c[i] += __atomic_load_n(&pl->stats.c[i], __ATOMIC_RELAXED);
		for (unsigned int r = 0; r < POLICY_RULE_MAX; r++)
			for (unsigned int o = 0; o < POLICY_OUTCOME_MAX; o++)
				rule[r][o] +=
					__atomic_load_n(&pl->stats.rule[r][o], __ATOMIC_RELAXED);
		ev[0] += __atomic_load_n(&pl->no_config, __ATOMIC_RELAXED);
		ev[1] += __atomic_load_n(&pl->no_session, __ATOMIC_RELAXED);
		ev[2] += __atomic_load_n(&pl->reply_overflow, __ATOMIC_RELAXED);
		ev[3] += __atomic_load_n(&pl->backend_overflow, __ATOMIC_RELAXED);
		ev[4] += __atomic_load_n(&pl->backend_failover, __ATOMIC_RELAXED);
		ev[5] += __atomic_load_n(&pl->decisions, __ATOMIC_RELAXED);
		ev[6] += __atomic_load_n(&pl->log_dropped, __ATOMIC_RELAXED);
		ev[7] += __atomic_load_n(&pl->out_refused, __ATOMIC_RELAXED);
	}
	used += (size_t) proxy_obs_text(buf + used, size - used);
	used += (size_t) proxy_mem_stats_text(proxy_lcores, RTE_MAX_LCORE, buf + used, size - used);
	used += (size_t) proxy_tls_stats_text(proxy_lcores, RTE_MAX_LCORE, buf + used, size - used);
	used += (size_t) tls_mem_stats_text(buf + used, size - used);
	used += (size_t) proxy_btls_stats_text(proxy_lcores, RTE_MAX_LCORE, buf + used,
		size - used);
	for (unsigned int i = 0; i < SMTP_STAT_MAX; i++)
		(void) stats_appendf(buf, size, &used, "%s %" PRIu64 "\n", proxy_smtp_stat_names[i],
			c[i]);
	for (unsigned int r = 1; r < POLICY_RULE_MAX; r++)
		for (unsigned int o = 0; o < POLICY_OUTCOME_MAX; o++)
			(void) stats_appendf(buf, size, &used, "policy_%s_%s %" PRIu64 "\n",
				policy_rule_name(r), proxy_outcome_names[o], rule[r][o]);
	(void) stats_appendf(buf, size, &used,
		"proxy_refused_no_config %" PRIu64 "\nproxy_refused_no_session %" PRIu64
		"\nproxy_reply_overflow %" PRIu64 "\nproxy_backend_overflow %" PRIu64
		"\nproxy_backend_failover %" PRIu64 "\nproxy_decisions %" PRIu64
		"\nproxy_decisions_dropped %" PRIu64 "\nproxy_out_refused %" PRIu64 "\n",
		ev[0], ev[1], ev[2], ev[3], ev[4], ev[5], ev[6], ev[7]);
	return (int) used;
}
