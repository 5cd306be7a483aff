/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Built-in test applications: echo (RFC 862) and discard (RFC 863) listeners, and a client
 * that opens connections to an echo server, sends a known byte pattern and checks every
 * byte comes back. They use only the public TCP interface (tcp.h), as the SMTP engine does.
 * Callbacks run on the connection's lcore; app_parse/app_start on the main lcore.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>

#include <rte_common.h>
#include <rte_malloc.h>
#include <rte_mbuf.h>

#include "app.h"
#include "lcore.h"
#include "proxy.h"
#include "stats.h"
#include "tcp.h"
#include "ndg_common.h"

static inline struct stats_lcore *
app_st(const struct tcp_conn *c)
{
	return &tcp_conn_stack(c)->ctx->stats;
}

/* ---- echo ---- */

static int
app_echo_accepted(struct tcp_conn *c)
{
	(void) c;
	return 0;
}

/* Move readable bytes to the send queue as far as it takes them; close after the peer did. */
static void
app_echo_pump(struct tcp_conn *c)
{
	for (;;) {
		uint32_t avail, moved = 0;
		struct rte_mbuf *m = tcp_conn_rx_peek(c, &avail);
		bool short_write = false;

		for (; m != NULL && moved < avail && !short_write; m = m->next) {
			int w;

			if (m->data_len == 0)
				continue;
			w = tcp_conn_write(c, rte_pktmbuf_mtod(m, const void *), m->data_len);
			if (w <= 0)
				break;
			moved += (uint32_t) w;
			short_write = (uint32_t) w < m->data_len;
		}
		if (moved == 0)
			break;
		tcp_conn_rx_consume(c, moved);
		stats_add(app_st(c), STATS_APP_ECHO_BYTES, moved);
		if (short_write)
			break;
	}
	if (tcp_conn_rx_eof(c))
		tcp_conn_close(c); /* FIN after what is still queued */
}

static const struct tcp_app app_echo = {
	.accepted = app_echo_accepted,
	.readable = app_echo_pump,
	.writable = app_echo_pump,
};

/* ---- discard ---- */

static void
app_discard_readable(struct tcp_conn *c)
{
	uint32_t avail;

	(void) tcp_conn_rx_peek(c, &avail);
	tcp_conn_rx_consume(c, avail);
	stats_add(app_st(c), STATS_APP_DISCARD_BYTES, avail);
	if (tcp_conn_rx_eof(c))
		tcp_conn_close(c);
}

static const struct tcp_app app_discard = {
	.accepted = app_echo_accepted,
	.readable = app_discard_readable,
};

/* ---- verifying client ---- */

struct app_client {
	struct app_cfg cfg;
	uint32_t started;
	uint32_t active;
	uint16_t port_id;
};

/* Byte <i> of every client stream: not periodic in any power of two. */
static inline uint8_t
app_pattern(uint32_t i)
{
	return (uint8_t) (i % 251u);
}

/* Per-connection progress lives in udata: sent in the low half, verified in the high. */
static inline uint32_t
app_client_sent(const struct tcp_conn *c)
{
	return (uint32_t) (uintptr_t) c->udata;
}

static inline uint32_t
app_client_rcvd(const struct tcp_conn *c)
{
	return (uint32_t) ((uintptr_t) c->udata >> 32);
}

static inline void
app_client_progress(struct tcp_conn *c, uint32_t sent, uint32_t rcvd)
{
	c->udata = (void *) (((uintptr_t) rcvd << 32) | sent);
}

static struct app_client *app_clients[RTE_MAX_LCORE];

static struct app_client *
app_client_of(const struct tcp_conn *c)
{
	return app_clients[tcp_conn_stack(c)->ctx->lcore_id];
}

static void
app_client_done(struct tcp_conn *c, bool ok)
{
	struct app_client *ac = app_client_of(c);

	ac->active--;
	stats_inc(app_st(c), ok ? STATS_APP_CLIENT_OK : STATS_APP_CLIENT_FAIL);
}

static void
app_client_send(struct tcp_conn *c)
{
	const struct app_client *ac = app_client_of(c);
	uint32_t sent = app_client_sent(c);
	uint8_t buf[2048];

	while (sent < ac->cfg.bytes) {
		uint32_t n = RTE_MIN((uint32_t) sizeof(buf), ac->cfg.bytes - sent);
		int w;

		for (uint32_t i = 0; i < n; i++)
			buf[i] = app_pattern(sent + i);
		w = tcp_conn_write(c, buf, n);
		if (w <= 0)
			break;
		sent += (uint32_t) w;
		if ((uint32_t) w < n)
			break;
	}
	app_client_progress(c, sent, app_client_rcvd(c));
	if (sent == ac->cfg.bytes)
		(void) tcp_conn_shutdown(c);
}

static void
app_client_connected(struct tcp_conn *c, int err)
{
	if (err != 0) {
		app_client_done(c, false);
		return;
	}
	app_client_progress(c, 0, 0);
	app_client_send(c);
}

static void
app_client_readable(struct tcp_conn *c)
{
	const struct app_client *ac = app_client_of(c);
	uint32_t avail, rcvd = app_client_rcvd(c);
	struct rte_mbuf *m = tcp_conn_rx_peek(c, &avail);

	for (; m != NULL; m = m->next) {
		const uint8_t *p = rte_pktmbuf_mtod(m, const uint8_t *);

		for (uint32_t i = 0; i < m->data_len; i++) {
			if (rcvd >= ac->cfg.bytes || p[i] != app_pattern(rcvd)) {
				tcp_conn_abort(c);
				app_client_done(c, false);
				return;
			}
			rcvd++;
		}
	}
	tcp_conn_rx_consume(c, avail);
	app_client_progress(c, app_client_sent(c), rcvd);
	if (tcp_conn_rx_eof(c)) {
		bool ok = rcvd == ac->cfg.bytes;

		tcp_conn_close(c);
		app_client_done(c, ok);
	}
}

static void
app_client_closed(struct tcp_conn *c, int err)
{
	(void) err;
	app_client_done(c, false);
}

static const struct tcp_app app_client_ops = {
	.connected = app_client_connected,
	.readable = app_client_readable,
	.writable = app_client_send,
	.closed = app_client_closed,
};

static void
app_client_tick(struct lcore_ctx *ctx, void *arg)
{
	struct app_client *ac = arg;

	while (ac->active < ac->cfg.parallel && ac->started < ac->cfg.n_conns) {
		struct tcp_conn *c;
		int ret = tcp_conn_connect(ctx->tcp, ac->port_id, ac->cfg.server,
			rte_cpu_to_be_16(ac->cfg.port), &app_client_ops, NULL, &c);

		ac->started++;
		if (ret != 0) {
			stats_inc(&ctx->stats, STATS_APP_CLIENT_FAIL);
			continue;
		}
		ac->active++;
	}
}

/* ---- setup ---- */

static int
app_parse_u32(const char *s, uint32_t max, uint32_t *out)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno != 0 || end == s || (*end != '\0' && *end != ':') || v > max)
		return -EINVAL;
	*out = (uint32_t) v;
	return 0;
}

int
app_parse(const char *s, struct app_cfg *out)
{
	const char *arg = strchr(s, ':');
	size_t n = arg ? (size_t) (arg - s) : strlen(s);
	struct app_cfg cfg = {0};
	uint32_t v;

	if (n == 4 && memcmp(s, "echo", 4) == 0) {
		cfg.kind = APP_ECHO;
		cfg.port = APP_ECHO_PORT;
	} else if (n == 7 && memcmp(s, "discard", 7) == 0) {
		cfg.kind = APP_DISCARD;
		cfg.port = APP_DISCARD_PORT;
	} else if (n == 4 && memcmp(s, "smtp", 4) == 0) {
		cfg.kind = APP_SMTP;
		cfg.port = APP_SMTP_PORT;
		cfg.n_conns = PROXY_SESSIONS_DEFAULT;
	} else if (n == 6 && memcmp(s, "client", 6) == 0) {
		char ip[INET_ADDRSTRLEN];
		const char *p;
		struct in_addr a;

		cfg.kind = APP_CLIENT;
		if (arg == NULL || (p = strchr(arg + 1, ':')) == NULL ||
			(size_t) (p - arg - 1) >= sizeof(ip))
			return -EINVAL;
		memcpy(ip, arg + 1, (size_t) (p - arg - 1));
		ip[p - arg - 1] = '\0';
		if (inet_pton(AF_INET, ip, &a) != 1)
			return -EINVAL;
		cfg.server = a.s_addr;
		arg = p; /* at ":PORT..." */
		cfg.n_conns = 1;
		cfg.parallel = 1;
		cfg.bytes = 1000;
	} else {
		return -EINVAL;
	}
	if (arg != NULL) {
		if (app_parse_u32(arg + 1, 65535, &v) != 0 || v == 0)
			return -EINVAL;
		cfg.port = (uint16_t) v;
		arg = strchr(arg + 1, ':');
	}
	if (cfg.kind == APP_SMTP && arg != NULL) {
		/* smtp:PORT:SESSIONS */
		if (app_parse_u32(arg + 1, 1u << 24, &cfg.n_conns) != 0 || cfg.n_conns < 16)
			return -EINVAL;
		arg = strchr(arg + 1, ':');
		if (arg != NULL)
			return -EINVAL;
	}
	if (cfg.kind == APP_CLIENT) {
		uint32_t *fields[] = {&cfg.n_conns, &cfg.parallel, &cfg.bytes};

		for (unsigned int i = 0; i < RTE_DIM(fields) && arg != NULL; i++) {
			if (app_parse_u32(arg + 1, UINT32_MAX, fields[i]) != 0)
				return -EINVAL;
			arg = strchr(arg + 1, ':');
		}
		if (cfg.parallel == 0)
			cfg.parallel = 1;
	}
	if (arg != NULL)
		return -EINVAL;
	*out = cfg;
	return 0;
}

int
app_start(struct lcore_ctx *ctx, const struct app_cfg *cfg)
{
	struct app_client *ac;

	switch (cfg->kind) {
	case APP_ECHO:
		return tcp_listen(ctx->tcp, cfg->port, &app_echo, NULL);
	case APP_DISCARD:
		return tcp_listen(ctx->tcp, cfg->port, &app_discard, NULL);
	case APP_SMTP:
		return proxy_start(ctx, cfg->port, cfg->n_conns);
	case APP_CLIENT:
		break;
	default:
		return -EINVAL;
	}
	if (ctx->tick != NULL)
		return -EBUSY;
	ac = rte_zmalloc("ndg_app_client", sizeof(*ac), 0);
	if (ac == NULL)
		return -ENOMEM;
	ac->cfg = *cfg;
	ac->port_id = UINT16_MAX;
	for (uint16_t p = 0; p < RTE_MAX_ETHPORTS; p++) {
		const struct net_if *nif = ctx->nif[p];

		if (nif == NULL)
			continue;
		for (unsigned int i = 0; i < nif->n_addrs; i++) {
			uint32_t mask =
				nif->addrs[i].plen ? htonl(~0u << (32 - nif->addrs[i].plen)) : 0;

			if (((nif->addrs[i].ip ^ cfg->server) & mask) == 0 &&
				ac->port_id == UINT16_MAX)
				ac->port_id = p;
		}
	}
	if (ac->port_id == UINT16_MAX) {
		rte_free(ac);
		return -ENETUNREACH;
	}
	/* Split the work between lcores: each makes its share. */
	app_clients[ctx->lcore_id] = ac;
	ctx->tick = app_client_tick;
	ctx->tick_arg = ac;
	return 0;
}
