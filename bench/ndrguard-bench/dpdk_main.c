/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * ndrguard-bench-dpdk: the DPDK engine of the load generator. It reuses the dataplane's own
 * port setup, L2/L3 and userspace TCP (libndrguarddp through tcp.h and the lcore loop), on
 * one lcore, so it can drive the appliance over net_memif at rates a kernel client cannot.
 * Two roles: `client` (closed loop, N concurrent SMTP sessions of a fixed kind, every reply
 * checked) and `sink` (the backend: accepts messages and checks their X-Bench-Digest).
 * Everything runs on the main lcore; the signal handler only sets the quit flag.
 * The TLS kinds upgrade each session with STARTTLS (RFC 3207) and run the OpenSSL client over
 * memory BIOs on the same lcore (the dataplane's own glue, tls.h): full handshakes, no
 * resumption, so handshakes/s is what the server's lcore can do.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <arpa/inet.h>

#include <rte_cycles.h>
#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_ethdev.h>
#include <rte_malloc.h>
#include <rte_mbuf.h>

#include "bench_hist.h"
#include "bench_smtp.h"
#include "lcore.h"
#include "port.h"
#include "tcp.h"
#include "tls.h"
#include "ndg_common.h"

#define BD_IN_MAX     2048
#define BD_MSG_BYTES  1024
#define BD_TIMEOUT_MS 10000
#define BD_SINK_SESS  16384
#define BD_MBUFS      65535

enum bd_kind {
	BD_ATTACK = 0, /* EHLO, MAIL FROM:<>, RCPT unknown (550), QUIT */
	BD_LEGIT,      /* EHLO, MAIL, RCPT valid, DATA, 1 KiB message, QUIT */
	BD_TLS_HS,     /* EHLO, STARTTLS, TLS handshake, EHLO, QUIT */
	BD_TLS_LEGIT,  /* EHLO, STARTTLS, TLS handshake, then the legit kind inside TLS */
	BD_KIND_MAX,
};

/* Replies each kind expects, in order; after reply i the client sends what bd_client_send
 * says. The TLS kinds' replies 0..2 are greeting, EHLO and STARTTLS; from 3 on they follow
 * the plaintext kinds' script shifted by two. */
static const uint16_t bd_expect[BD_KIND_MAX][10] = {
	[BD_ATTACK] = {220, 250, 250, 550, 221},
	[BD_LEGIT] = {220, 250, 250, 250, 354, 250, 221},
	[BD_TLS_HS] = {220, 250, 220, 250, 221},
	[BD_TLS_LEGIT] = {220, 250, 220, 250, 250, 250, 354, 250, 221},
};
static const uint8_t bd_n_expect[BD_KIND_MAX] = {5, 7, 5, 9};
static const uint8_t bd_rcpt_idx[BD_KIND_MAX] = {3, 3, 0xff, 5};   /* the RCPT reply */
static const uint8_t bd_msg_idx[BD_KIND_MAX] = {0xff, 5, 0xff, 7}; /* the message's reply */
static const char *const bd_kind_name[BD_KIND_MAX] = {"attack", "legit", "tls-handshake",
	"tls-legit"};
#define BD_IS_TLS(k)   ((k) == BD_TLS_HS || (k) == BD_TLS_LEGIT)
#define BD_IS_LEGIT(k) ((k) == BD_LEGIT || (k) == BD_TLS_LEGIT)

struct bd_sess {
	struct tcp_conn *c;
	uint8_t idx; /* next reply expected */
	bool measured;
	bool in_data; /* sink: inside DATA */
	bool in_body; /* sink: past the header */
	bool has_digest;
	uint16_t in_len;
	uint64_t t_start, t_sent;
	uint64_t want_digest, want_len, digest, len;
	uint64_t t_hs;	     /* TLS: when the handshake began */
	struct tls_conn tls; /* TLS kinds: state once STARTTLS got its 220 */
	char in[BD_IN_MAX];
};

static struct {
	bool sink;
	enum bd_kind kind;
	uint32_t addr, prefix, gateway;
	uint32_t server;
	uint16_t port;
	uint32_t concurrency;
	double duration, warmup;
	const char *stats;
	int server_pid;
	double flood; /* seconds of raw 64-byte frames out (packet-rate ceiling) */
	double drain; /* seconds of counting frames in */
} bd = {.port = 25, .concurrency = 256, .duration = 10, .kind = BD_ATTACK};

static volatile bool bd_quit;
static struct bd_sess *bd_pool;
static uint32_t *bd_free, bd_n_free;
static struct tcp_stack *bd_ts;
static uint64_t bd_hz, bd_t0, bd_t_warm, bd_t_end, bd_t_last, bd_seq;
static uint64_t bd_started, bd_done, bd_ok, bd_mismatch, bd_err_connect, bd_err_closed, bd_timeouts,
	bd_msgs, bd_legit_all;
static uint64_t bd_sink_sessions, bd_sink_ok, bd_sink_corrupt, bd_sink_plain, bd_sink_written;
static struct bench_hist bd_h_rcpt, bd_h_sess, bd_h_tls;
static struct tls_ctx *bd_tls_ctx;
static uint64_t bd_tls_hs, bd_tls_fail;
static char bd_tls_last[96];
static char bd_body[BD_MSG_BYTES + 128];
static size_t bd_body_len;
static uint64_t bd_body_digest;

static void
bd_signal(int sig)
{
	(void) sig;
	bd_quit = true;
}

static uint64_t
bd_ns(void)
{
	uint64_t t = rte_rdtsc();

	/* split so that t * 10^9 cannot overflow */
	return t / bd_hz * 1000000000ULL + t % bd_hz * 1000000000ULL / bd_hz;
}

static struct bd_sess *
bd_sess_get(void)
{
	struct bd_sess *s;

	if (bd_n_free == 0)
		return NULL;
	s = &bd_pool[bd_free[--bd_n_free]];
	memset(s, 0, offsetof(struct bd_sess, in));
	return s;
}

static void
bd_sess_put(struct bd_sess *s)
{
	bd_free[bd_n_free++] = (uint32_t) (s - bd_pool);
}

/* Move the TLS output (handshake flights, records) into the send queue, as far as it takes
 * it; the rest waits for writable(). @return 0, -1 when the connection refused bytes. */
static int
bd_tls_drain(struct bd_sess *s)
{
	uint8_t buf[4096];

	while (tls_conn_out_pending(&s->tls) > 0) {
		uint32_t room = tcp_conn_tx_space(s->c);
		size_t n = tls_conn_out_pending(&s->tls);

		if (room == 0) {
			tcp_conn_want_writable(s->c);
			return 0;
		}
		if (n > sizeof(buf))
			n = sizeof(buf);
		if (n > room)
			n = room;
		n = tls_conn_out_read(&s->tls, buf, n);
		if (tcp_conn_write(s->c, buf, (uint32_t) n) != (int) n)
			return -1;
	}
	return 0;
}

static int
bd_write(struct bd_sess *s, const char *p, size_t n)
{
	if (s->tls.state == TLS_CS_OPEN)
		return tls_conn_write(&s->tls, p, n) < 0 ? -1 : bd_tls_drain(s);
	int w = tcp_conn_write(s->c, p, (uint32_t) n);

	return w == (int) n ? 0 : -1;
}

#define BD_LIT(s, lit) bd_write((s), (lit), sizeof(lit) - 1)

/* ---- client ------------------------------------------------------------------------------ */

static void bd_client_connected(struct tcp_conn *c, int err);
static void bd_client_readable(struct tcp_conn *c);
static void bd_client_closed(struct tcp_conn *c, int err);
static void bd_timer(struct tcp_conn *c);

static void
bd_client_writable(struct tcp_conn *c)
{
	struct bd_sess *s = c->udata;

	if (s->tls.state != TLS_CS_NONE && bd_tls_drain(s) == 0)
		tcp_conn_flush(c);
}

static const struct tcp_app bd_client_app = {
	.connected = bd_client_connected,
	.readable = bd_client_readable,
	.writable = bd_client_writable,
	.closed = bd_client_closed,
	.timer = bd_timer,
};

/* The session ended (<ok>: every reply as expected and the server closed). */
static void
bd_client_end(struct bd_sess *s, bool ok, bool close)
{
	uint64_t now = bd_ns();

	if (s->measured) {
		bd_done++;
		if (ok) {
			bd_ok++;
			bench_hist_add(&bd_h_sess, now - s->t_start);
		}
		bd_t_last = now;
	}
	if (close && s->c != NULL)
		tcp_conn_close(s->c);
	tls_conn_fini(&s->tls);
	bd_sess_put(s);
}

static void
bd_client_connected(struct tcp_conn *c, int err)
{
	struct bd_sess *s = c->udata;

	if (err != 0) {
		if (s->measured)
			bd_err_connect++;
		s->c = NULL;
		bd_client_end(s, false, false);
		return;
	}
	tcp_conn_timer_set(c, BD_TIMEOUT_MS);
}

/* After reply <i> of a session: what to send next. @return 0 or -1 (write failed). */
static int
bd_client_send(struct bd_sess *s, unsigned int i)
{
	char buf[256];
	int n;

	if (BD_IS_TLS(bd.kind)) {
		if (i == 1) {
			s->t_sent = bd_ns();
			return BD_LIT(s, "STARTTLS\r\n");
		}
		if (i == 2) { /* 220: the client hello */
			s->t_hs = bd_ns();
			if (tls_conn_init(&s->tls, bd_tls_ctx, NULL) < 0 ||
				tls_conn_handshake(&s->tls) < 0)
				return -1;
			return bd_tls_drain(s);
		}
		if (i >= 3)
			i -= 2; /* the plaintext script from here */
	}
	if (i == 0 || i == 1 || (i == 4 && BD_IS_LEGIT(bd.kind)))
		s->t_sent = bd_ns(); /* a group leaves: later replies are timed from here */
	if (i == 0)
		return BD_LIT(s, "EHLO bench.example.net\r\n");
	if (i == 1 && bd.kind == BD_TLS_HS)
		return BD_LIT(s, "QUIT\r\n");
	if (i == 1 && bd.kind == BD_ATTACK) {
		/* RFC 2920: the envelope and QUIT in one group */
		n = snprintf(buf, sizeof(buf),
			"MAIL FROM:<>\r\nRCPT TO:<n%llx@example.com>\r\nQUIT\r\n",
			(unsigned long long) (bd_seq++ * 0x9e3779b97f4a7c15ULL));
		return bd_write(s, buf, (size_t) n);
	}
	if (i == 1 && BD_IS_LEGIT(bd.kind)) {
		static const char env[] = "MAIL FROM:<bench@example.net>\r\n"
					  "RCPT TO:<alice@example.com>\r\nDATA\r\n";

		return bd_write(s, env, sizeof(env) - 1);
	}
	if (i == 4 && BD_IS_LEGIT(bd.kind))
		return bd_write(s, bd_body, bd_body_len);
	return 0;
}

static void
bd_client_line(struct bd_sess *s, const char *line, size_t n)
{
	unsigned int code;

	if (n >= 4 && line[3] == '-')
		return;
	code = n >= 3 ? (unsigned int) ((line[0] - '0') * 100 + (line[1] - '0') * 10 +
					(line[2] - '0'))
		      : 0;
	if (s->idx >= bd_n_expect[bd.kind] || code != bd_expect[bd.kind][s->idx]) {
		if (s->measured)
			bd_mismatch++;
		if (bd_mismatch <= 5)
			fprintf(stderr, "mismatch: reply %u: expected %u, got '%.*s'\n", s->idx,
				s->idx < bd_n_expect[bd.kind] ? bd_expect[bd.kind][s->idx] : 0,
				(int) (n > 2 ? n - 2 : n), line);
		s->idx = 0xff;
		return;
	}
	if (s->idx == bd_rcpt_idx[bd.kind] && s->measured)
		bench_hist_add(&bd_h_rcpt, bd_ns() - s->t_sent);
	if (s->idx == bd_msg_idx[bd.kind]) {
		bd_msgs += s->measured;
		bd_legit_all++; /* warm-up included: what the sink must have received */
	}
	if (bd_client_send(s, s->idx) < 0)
		s->idx = 0xfe;
	else
		s->idx++;
}

/* Feed what <c> received to <line> one CRLF line at a time (lines longer than BD_IN_MAX are
 * cut), then consume it. */
static void
bd_feed_lines(struct bd_sess *s, const char *p, size_t n,
	void (*line)(struct bd_sess *s, const char *p, size_t n))
{
	for (size_t i = 0; i < n; i++) {
		if (s->in_len < BD_IN_MAX)
			s->in[s->in_len++] = p[i];
		if (p[i] == '\n') {
			line(s, s->in, s->in_len);
			s->in_len = 0;
		}
	}
}

static void
bd_read_lines(struct tcp_conn *c, struct bd_sess *s,
	void (*line)(struct bd_sess *s, const char *p, size_t n))
{
	uint32_t avail;
	struct rte_mbuf *m = tcp_conn_rx_peek(c, &avail);

	for (; m != NULL; m = m->next)
		bd_feed_lines(s, rte_pktmbuf_mtod(m, const char *), m->data_len, line);
	if (avail != 0)
		tcp_conn_rx_consume(c, avail);
}

/* A TLS session's input: ciphertext from the connection into the read BIO as far as it takes
 * it, the handshake driven, plaintext lines to the client. Sets s->idx 0xfe on failure. */
static void
bd_tls_read(struct tcp_conn *c, struct bd_sess *s)
{
	for (int rounds = 0; rounds < 64 && s->idx < 0xfe; rounds++) {
		uint32_t avail, took = 0;
		struct rte_mbuf *m = tcp_conn_rx_peek(c, &avail);

		for (; m != NULL && tls_conn_in_room(&s->tls) > 0; m = m->next) {
			size_t want = RTE_MIN((size_t) m->data_len, tls_conn_in_room(&s->tls));
			int r = tls_conn_in(&s->tls, rte_pktmbuf_mtod(m, const char *), want);

			if (r < 0) {
				s->idx = 0xfe;
				return;
			}
			took += (uint32_t) r;
			if ((size_t) r < m->data_len)
				break;
		}
		if (took != 0)
			tcp_conn_rx_consume(c, took);
		if (s->tls.state == TLS_CS_HANDSHAKE) {
			int r = tls_conn_handshake(&s->tls);

			if (r < 0) {
				if (s->measured)
					bd_tls_fail++;
				if (bd_tls_fail <= 5)
					fprintf(stderr, "TLS handshake failed: %s\n",
						tls_fail_name((enum tls_fail) s->tls.fail));
				s->idx = 0xfe;
				return;
			}
			if (bd_tls_drain(s) < 0) {
				s->idx = 0xfe;
				return;
			}
			if (r == 1) {
				uint64_t now = bd_ns();

				if (s->measured) {
					bd_tls_hs++;
					bench_hist_add(&bd_h_tls, now - s->t_hs);
				}
				snprintf(bd_tls_last, sizeof(bd_tls_last), "%s %s",
					tls_conn_version(&s->tls), tls_conn_cipher(&s->tls));
				if (bd_client_send(s, 0) < 0) { /* EHLO again, inside TLS */
					s->idx = 0xfe;
					return;
				}
			}
		}
		if (s->tls.state == TLS_CS_OPEN) {
			char buf[2048];
			int n;

			while ((n = tls_conn_peek(&s->tls, buf, sizeof(buf))) > 0) {
				(void) tls_conn_consume(&s->tls, (size_t) n);
				bd_feed_lines(s, buf, (size_t) n, bd_client_line);
				if (s->idx >= 0xfe)
					return;
			}
			if (n == -EPROTO) {
				s->idx = 0xfe;
				return;
			}
		}
		if (took == 0)
			break; /* nothing more the read BIO could take */
	}
}

static void
bd_client_readable(struct tcp_conn *c)
{
	struct bd_sess *s = c->udata;

	if (s->tls.state != TLS_CS_NONE)
		bd_tls_read(c, s);
	else
		bd_read_lines(c, s, bd_client_line);
	if (s->idx >= 0xfe) { /* mismatch or write failure: give up on it */
		bd_client_end(s, false, true);
		return;
	}
	tcp_conn_flush(c);
	if (tcp_conn_rx_eof(c)) {
		bool ok = s->idx == bd_n_expect[bd.kind];

		if (!ok && s->measured)
			bd_err_closed++;
		bd_client_end(s, ok, true);
	}
}

static void
bd_client_closed(struct tcp_conn *c, int err)
{
	struct bd_sess *s = c->udata;

	(void) err;
	if (s->measured)
		bd_err_closed++;
	s->c = NULL;
	bd_client_end(s, false, false);
}

static void
bd_timer(struct tcp_conn *c)
{
	struct bd_sess *s = c->udata;

	if (bd.sink) {
		tcp_conn_abort(c);
		bd_sess_put(s);
		return;
	}
	if (s->measured)
		bd_timeouts++;
	tcp_conn_abort(c);
	s->c = NULL;
	bd_client_end(s, false, false);
}

/* Open sessions up to the concurrency while the run lasts. */
static void
bd_client_tick(struct lcore_ctx *ctx, void *arg)
{
	uint64_t now = bd_ns();

	(void) ctx;
	(void) arg;
	if (now >= bd_t_end)
		return;
	while (bd_n_free > 0) {
		struct bd_sess *s = bd_sess_get();
		int r;

		s->t_start = now;
		s->measured = now >= bd_t_warm;
		bd_started += s->measured;
		r = tcp_conn_connect(bd_ts, 0, bd.server, htons(bd.port), &bd_client_app, s, &s->c);
		if (r != 0) {
			if (s->measured) {
				bd_started--;
				bd_err_connect++;
			}
			bd_sess_put(s);
			break; /* no port or mbuf now: next loop */
		}
	}
}

/* ---- sink -------------------------------------------------------------------------------- */

static int
bd_sink_accepted(struct tcp_conn *c)
{
	struct bd_sess *s = bd_sess_get();

	if (s == NULL)
		return -ENOMEM;
	s->c = c;
	c->udata = s;
	bd_sink_sessions++;
	tcp_conn_timer_set(c, 60000);
	return BD_LIT(s, "220 sink.ndrguard-bench.test ESMTP\r\n") == 0 ? 0 : -ENOBUFS;
}

static void
bd_sink_line(struct bd_sess *s, const char *p, size_t n)
{
	if (!s->in_data) {
		if (n >= 4 && strncasecmp(p, "EHLO", 4) == 0)
			(void) BD_LIT(s, "250-sink\r\n250-PIPELINING\r\n250 8BITMIME\r\n");
		else if (n >= 4 && strncasecmp(p, "DATA", 4) == 0) {
			(void) BD_LIT(s, "354 go ahead\r\n");
			s->in_data = true;
			s->in_body = false;
			s->has_digest = false;
			s->digest = BENCH_DIGEST_INIT;
			s->len = 0;
		} else if (n >= 4 && strncasecmp(p, "QUIT", 4) == 0) {
			(void) BD_LIT(s, "221 2.0.0 bye\r\n");
			tcp_conn_shutdown(s->c);
		} else {
			(void) BD_LIT(s, "250 2.0.0 ok\r\n");
		}
		return;
	}
	if (n == 3 && memcmp(p, ".\r\n", 3) == 0) {
		if (!s->has_digest)
			bd_sink_plain++;
		else if (s->digest == s->want_digest && s->len == s->want_len)
			bd_sink_ok++;
		else
			bd_sink_corrupt++;
		s->in_data = false;
		(void) BD_LIT(s, "250 2.0.0 queued\r\n");
		return;
	}
	if (n > 0 && p[0] == '.')
		p++, n--;
	if (!s->in_body) {
		size_t hl = sizeof(BENCH_DIGEST_HEADER) - 1;

		if (n <= 2) {
			s->in_body = true;
		} else if (n > hl && strncasecmp(p, BENCH_DIGEST_HEADER, hl) == 0) {
			unsigned long long d, l;
			char tmp[64];

			memcpy(tmp, p + hl, n - hl < sizeof(tmp) - 1 ? n - hl : sizeof(tmp) - 1);
			tmp[n - hl < sizeof(tmp) - 1 ? n - hl : sizeof(tmp) - 1] = '\0';
			if (sscanf(tmp, "%16llx %llu", &d, &l) == 2) {
				s->has_digest = true;
				s->want_digest = d;
				s->want_len = l;
			}
		}
		return;
	}
	s->digest = bench_digest_update(s->digest, p, n);
	s->len += n;
}

static void
bd_sink_readable(struct tcp_conn *c)
{
	struct bd_sess *s = c->udata;

	bd_read_lines(c, s, bd_sink_line);
	tcp_conn_flush(c);
	if (tcp_conn_rx_eof(c)) {
		tcp_conn_close(c);
		bd_sess_put(s);
	}
}

static void
bd_sink_closed(struct tcp_conn *c, int err)
{
	(void) err;
	bd_sess_put(c->udata);
}

static const struct tcp_app bd_sink_app = {
	.accepted = bd_sink_accepted,
	.readable = bd_sink_readable,
	.closed = bd_sink_closed,
	.timer = bd_timer,
};

static void
bd_sink_write_stats(void)
{
	char tmp[512];
	FILE *f;

	if (bd.stats == NULL)
		return;
	snprintf(tmp, sizeof(tmp), "%s.tmp", bd.stats);
	f = fopen(tmp, "w");
	if (f == NULL)
		return;
	fprintf(f, "sessions %llu\nmessages_ok %llu\nmessages_corrupt %llu\nmessages_plain %llu\n",
		(unsigned long long) bd_sink_sessions, (unsigned long long) bd_sink_ok,
		(unsigned long long) bd_sink_corrupt, (unsigned long long) bd_sink_plain);
	if (fclose(f) == 0)
		(void) rename(tmp, bd.stats);
}

static void
bd_sink_tick(struct lcore_ctx *ctx, void *arg)
{
	uint64_t now = bd_ns();

	(void) ctx;
	(void) arg;
	if (now - bd_sink_written > 200000000ULL) {
		bd_sink_write_stats();
		bd_sink_written = now;
	}
}

/* ---- setup ------------------------------------------------------------------------------- */

static double
bd_pid_cpu(int pid)
{
	char path[64], buf[1024], *p;
	unsigned long long ut = 0, st = 0;
	FILE *f;
	size_t n;

	if (pid <= 0)
		return -1;
	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	f = fopen(path, "r");
	if (f == NULL)
		return -1;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	p = strrchr(buf, ')');
	if (p == NULL || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut,
				 &st) != 2)
		return -1;
	return (double) (ut + st) / (double) sysconf(_SC_CLK_TCK);
}

static int
bd_parse(int argc, char **argv)
{
	static const struct option opts[] = {
		{"addr", required_argument, NULL, 'a'},
		{"gateway", required_argument, NULL, 'g'},
		{"server", required_argument, NULL, 'S'},
		{"kind", required_argument, NULL, 'k'},
		{"concurrency", required_argument, NULL, 'n'},
		{"duration", required_argument, NULL, 'd'},
		{"warmup", required_argument, NULL, 'w'},
		{"sink", required_argument, NULL, 'l'},
		{"stats", required_argument, NULL, 's'},
		{"server-pid", required_argument, NULL, 'p'},
		{"flood", required_argument, NULL, 'F'},
		{"drain", required_argument, NULL, 'D'},
		{NULL, 0, NULL, 0},
	};
	struct in_addr a;
	char *slash;
	int opt;

	while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (opt) {
		case 'a':
			slash = strchr(optarg, '/');
			if (slash == NULL)
				return -1;
			*slash = '\0';
			if (inet_pton(AF_INET, optarg, &a) != 1)
				return -1;
			bd.addr = a.s_addr;
			bd.prefix = (uint32_t) strtoul(slash + 1, NULL, 10);
			break;
		case 'g':
			if (inet_pton(AF_INET, optarg, &a) != 1)
				return -1;
			bd.gateway = a.s_addr;
			break;
		case 'S':
			slash = strchr(optarg, ':');
			if (slash != NULL) {
				*slash = '\0';
				bd.port = (uint16_t) strtoul(slash + 1, NULL, 10);
			}
			if (inet_pton(AF_INET, optarg, &a) != 1)
				return -1;
			bd.server = a.s_addr;
			break;
		case 'k':
			for (bd.kind = 0; bd.kind < BD_KIND_MAX; bd.kind++)
				if (strcmp(optarg, bd_kind_name[bd.kind]) == 0)
					break;
			if (bd.kind == BD_KIND_MAX)
				return -1;
			break;
		case 'n':
			bd.concurrency = (uint32_t) strtoul(optarg, NULL, 10);
			break;
		case 'd':
			bd.duration = strtod(optarg, NULL);
			break;
		case 'w':
			bd.warmup = strtod(optarg, NULL);
			break;
		case 'l':
			bd.sink = true;
			bd.port = (uint16_t) strtoul(optarg, NULL, 10);
			break;
		case 's':
			bd.stats = optarg;
			break;
		case 'p':
			bd.server_pid = (int) strtol(optarg, NULL, 10);
			break;
		case 'F':
			bd.flood = strtod(optarg, NULL);
			break;
		case 'D':
			bd.drain = strtod(optarg, NULL);
			break;
		default:
			return -1;
		}
	}
	if (bd.flood > 0 || bd.drain > 0)
		return 0;
	if (bd.addr == 0 || (!bd.sink && bd.server == 0) || bd.concurrency == 0)
		return -1;
	return 0;
}

static void
bd_report(double secs, double cpu)
{
	const struct bench_hist *hs[3] = {&bd_h_rcpt, &bd_h_sess, &bd_h_tls};
	static const char *const names[3] = {"rcpt", "session", "tls"};

	printf("%s over DPDK: %.2f s, %llu sessions (%.0f/s), ok %llu, mismatches %llu, "
	       "errors: connect %llu closed %llu timeout %llu\n",
		bd_kind_name[bd.kind], secs, (unsigned long long) bd_done, bd_done / secs,
		(unsigned long long) bd_ok, (unsigned long long) bd_mismatch,
		(unsigned long long) bd_err_connect, (unsigned long long) bd_err_closed,
		(unsigned long long) bd_timeouts);
	if (BD_IS_TLS(bd.kind))
		printf("tls: %llu handshakes (%.0f/s), %llu failed, last %s\n",
			(unsigned long long) bd_tls_hs, bd_tls_hs / secs,
			(unsigned long long) bd_tls_fail, bd_tls_last[0] ? bd_tls_last : "-");
	printf("{\"engine\":\"dpdk\",\"kind\":\"%s\",\"concurrency\":%u,\"seconds\":%.3f,"
	       "\"sessions\":%llu,\"sessions_per_sec\":%.1f,\"ok_sessions\":%llu,"
	       "\"mismatches\":%llu,\"errors\":%llu,\"timeouts\":%llu,\"messages\":%llu,"
	       "\"messages_per_sec\":%.1f,\"kinds\":{\"%s\":{\"ok\":%llu}},\"latency_us\":{",
		bd_kind_name[bd.kind], bd.concurrency, secs, (unsigned long long) bd_done,
		bd_done / secs, (unsigned long long) bd_ok, (unsigned long long) bd_mismatch,
		(unsigned long long) (bd_err_connect + bd_err_closed + bd_timeouts),
		(unsigned long long) bd_timeouts, (unsigned long long) bd_msgs, bd_msgs / secs,
		bd.kind == BD_ATTACK ? "backscatter" : bd_kind_name[bd.kind],
		(unsigned long long) bd_ok);
	for (int i = 0; i < 3; i++)
		printf("%s\"%s\":{\"count\":%llu,\"p50\":%.1f,\"p90\":%.1f,\"p99\":%.1f,"
		       "\"p99_9\":%.1f,\"max\":%.1f}",
			i ? "," : "", names[i], (unsigned long long) hs[i]->count,
			bench_hist_quantile(hs[i], 0.5) / 1e3,
			bench_hist_quantile(hs[i], 0.9) / 1e3,
			bench_hist_quantile(hs[i], 0.99) / 1e3,
			bench_hist_quantile(hs[i], 0.999) / 1e3, (double) hs[i]->max / 1e3);
	printf("},\"legit_accepted\":%llu", (unsigned long long) bd_legit_all);
	if (BD_IS_TLS(bd.kind))
		printf(",\"tls_handshakes\":%llu,\"tls_handshakes_per_sec\":%.1f,"
		       "\"tls_failures\":%llu,\"tls\":\"%s\"",
			(unsigned long long) bd_tls_hs, bd_tls_hs / secs,
			(unsigned long long) bd_tls_fail, bd_tls_last);
	if (cpu >= 0)
		printf(",\"server_cpu_s\":%.3f", cpu);
	printf("}\n");
}

/* The path's packet-rate ceiling: --flood sends minimum-size frames (a local experimental
 * EtherType, broadcast) as fast as the port takes them, --drain counts what arrives. */
static void
bd_pps(struct rte_mempool *mp)
{
	struct rte_mbuf *pkts[LCORE_BURST];
	uint64_t n = 0, t_first = 0, t_last = 0, now, end;
	bool tx = bd.flood > 0;
	uint8_t frame[60] = {0};

	memset(frame, 0xff, 6);	    /* broadcast */
	memset(frame + 6, 0x02, 6); /* a local MAC */
	frame[12] = 0x88;	    /* EtherType 0x88b5: IEEE local experimental */
	frame[13] = 0xb5;

	now = bd_ns();
	end = now + (uint64_t) ((tx ? bd.flood : bd.drain) * 1e9);
	while (!bd_quit && (now = bd_ns()) < end) {
		uint16_t k;

		if (tx) {
			if (rte_pktmbuf_alloc_bulk(mp, pkts, LCORE_BURST) != 0)
				continue;
			for (unsigned int i = 0; i < LCORE_BURST; i++) {
				pkts[i]->data_len = sizeof(frame);
				pkts[i]->pkt_len = sizeof(frame);
				memcpy(rte_pktmbuf_mtod(pkts[i], void *), frame, sizeof(frame));
			}
			k = rte_eth_tx_burst(0, 0, pkts, LCORE_BURST);
			if (k < LCORE_BURST)
				rte_pktmbuf_free_bulk(pkts + k, LCORE_BURST - k);
		} else {
			k = rte_eth_rx_burst(0, 0, pkts, LCORE_BURST);
			if (k != 0)
				rte_pktmbuf_free_bulk(pkts, k);
		}
		if (k != 0) {
			if (t_first == 0)
				t_first = now;
			t_last = now;
			n += k;
		}
	}
	printf("{\"%s_packets\":%llu,\"%s_pps\":%.0f}\n", tx ? "tx" : "rx", (unsigned long long) n,
		tx ? "tx" : "rx",
		t_last > t_first ? (double) n * 1e9 / (double) (t_last - t_first) : 0.0);
	fflush(stdout);
}

int
main(int argc, char **argv)
{
	static struct net_if nif;
	struct tcp_cfg cfg;
	struct rte_mempool *mp;
	struct lcore_ctx *ctx;
	double cpu0 = -1, cpu1 = -1;
	int ret;

	ret = rte_eal_init(argc, argv);
	if (ret < 0)
		rte_exit(EXIT_FAILURE, "EAL: %s\n", rte_strerror(rte_errno));
	argc -= ret;
	argv += ret;
	if (bd_parse(argc, argv) < 0)
		rte_exit(EXIT_FAILURE,
			"usage: ndrguard-bench-dpdk EAL-OPTIONS -- --addr A.B.C.D/N "
			"(--server A.B.C.D[:PORT] [--kind attack|legit|tls-handshake|tls-legit] "
			"[--concurrency N] "
			"[--duration S] [--warmup S] [--server-pid PID] | --sink PORT [--stats "
			"FILE])\n");
	if (rte_eth_dev_count_avail() != 1)
		rte_exit(EXIT_FAILURE, "give exactly one port (--vdev=net_memif0,...)\n");
	signal(SIGINT, bd_signal);
	signal(SIGTERM, bd_signal);
	bd_hz = rte_get_tsc_hz();
	bench_hist_init(&bd_h_rcpt);
	bench_hist_init(&bd_h_sess);
	bench_hist_init(&bd_h_tls);
	if (!bd.sink && BD_IS_TLS(bd.kind)) {
		/* No verification: a benchmark measures the server's work, not trust. */
		struct tls_client_conf tc = {.min_version = TLS_VERSION_TLS12};
		char err[256];

		bd_tls_ctx = tls_ctx_client_new(&tc, err, sizeof(err));
		if (bd_tls_ctx == NULL)
			rte_exit(EXIT_FAILURE, "TLS client context: %s\n", err);
	}

	tcp_cfg_defaults(&cfg);
	cfg.max_conns = 65536;
	cfg.max_per_src = 0;
	cfg.time_wait_ms = 1000;
	mp = rte_pktmbuf_pool_create("bd_mbuf", BD_MBUFS, 256, 0, RTE_MBUF_DEFAULT_BUF_SIZE,
		rte_socket_id());
	if (mp == NULL)
		rte_exit(EXIT_FAILURE, "mbuf pool: %s\n", rte_strerror(rte_errno));
	ret = port_init(0, 1, mp, &nif);
	if (ret != 0)
		rte_exit(EXIT_FAILURE, "port 0: %s\n", strerror(-ret));
	if (bd.flood > 0 || bd.drain > 0) {
		bd_pps(mp);
		port_fini(0);
		rte_eal_cleanup();
		return 0;
	}
	nif.addrs[0].ip = bd.addr;
	nif.addrs[0].plen = (uint8_t) bd.prefix;
	nif.n_addrs = 1;
	nif.gateway = bd.gateway;
	ctx = rte_zmalloc("bd_lcore", sizeof(*ctx), RTE_CACHE_LINE_SIZE);
	if (ctx == NULL)
		rte_exit(EXIT_FAILURE, "out of memory\n");
	ctx->lcore_id = rte_lcore_id();
	ctx->quit = &bd_quit;
	ctx->nif[0] = &nif;
	ctx->rxq[0] = (struct lcore_rxq){&nif, 0, 0};
	ctx->n_rxq = 1;
	if (lcore_ctx_add_tx(ctx, 0, 0, (int) rte_socket_id()) != 0)
		rte_exit(EXIT_FAILURE, "tx buffer\n");
	ctx->tcp = bd_ts = tcp_stack_create(&cfg, ctx, mp, 0, 1, (int) rte_socket_id());
	if (bd_ts == NULL)
		rte_exit(EXIT_FAILURE, "TCP stack: out of memory\n");
	tcp_stack_link(&bd_ts, 1);
	bd_pool = rte_zmalloc("bd_sess",
		sizeof(*bd_pool) * (bd.sink ? BD_SINK_SESS : bd.concurrency), 0);
	bd_free = rte_zmalloc("bd_free",
		sizeof(*bd_free) * (bd.sink ? BD_SINK_SESS : bd.concurrency), 0);
	if (bd_pool == NULL || bd_free == NULL)
		rte_exit(EXIT_FAILURE, "sessions: out of memory\n");
	for (uint32_t i = 0; i < (bd.sink ? BD_SINK_SESS : bd.concurrency); i++)
		bd_free[bd_n_free++] = i;
	{
		/* The one message of the legit kind: 1 KiB of body and its digest. */
		char body[BD_MSG_BYTES];
		size_t hl;

		for (size_t i = 0; i < sizeof(body); i++)
			body[i] = (i % 64 == 62)   ? '\r'
				  : (i % 64 == 63) ? '\n'
						   : (char) ('a' + i % 26);
		bd_body_digest = bench_digest_update(BENCH_DIGEST_INIT, body, sizeof(body));
		hl = (size_t) snprintf(bd_body, sizeof(bd_body),
			"Subject: ndrguard-bench-dpdk\r\n" BENCH_DIGEST_HEADER
			"%016llx %zu\r\n\r\n",
			(unsigned long long) bd_body_digest, sizeof(body));
		memcpy(bd_body + hl, body, sizeof(body));
		memcpy(bd_body + hl + sizeof(body), ".\r\nQUIT\r\n", 9);
		bd_body_len = hl + sizeof(body) + 9;
	}

	bd_t0 = bd_ns();
	if (bd.sink) {
		ret = tcp_listen(bd_ts, bd.port, &bd_sink_app, NULL);
		if (ret != 0)
			rte_exit(EXIT_FAILURE, "listen: %s\n", strerror(-ret));
		ctx->tick = bd_sink_tick;
		printf("ndrguard-bench-dpdk: sink on port %u\n", bd.port);
		fflush(stdout);
		while (!bd_quit)
			lcore_poll_once(ctx);
		bd_sink_write_stats();
		printf("{\"sessions\":%llu,\"messages_ok\":%llu,\"messages_corrupt\":%llu,"
		       "\"messages_plain\":%llu}\n",
			(unsigned long long) bd_sink_sessions, (unsigned long long) bd_sink_ok,
			(unsigned long long) bd_sink_corrupt, (unsigned long long) bd_sink_plain);
	} else {
		bool sampled = false;
		uint64_t drain_until;

		bd_t_warm = bd_t0 + (uint64_t) (bd.warmup * 1e9);
		bd_t_end = bd_t_warm + (uint64_t) (bd.duration * 1e9);
		drain_until = bd_t_end + (uint64_t) BD_TIMEOUT_MS * 1000000ULL + 1000000000ULL;
		ctx->tick = bd_client_tick;
		while (!bd_quit) {
			uint64_t now;

			lcore_poll_once(ctx);
			now = bd_ns();
			if (!sampled && now >= bd_t_warm) {
				cpu0 = bd_pid_cpu(bd.server_pid);
				sampled = true;
			}
			if (now >= bd_t_end && (bd_n_free == bd.concurrency || now >= drain_until))
				break;
		}
		cpu1 = bd_pid_cpu(bd.server_pid);
		if (bd_t_last <= bd_t_warm)
			bd_t_last = bd_t_warm + 1;
		bd_report((double) (bd_t_last - bd_t_warm) / 1e9,
			cpu0 >= 0 && cpu1 >= 0 ? cpu1 - cpu0 : -1);
	}
	fflush(stdout);
	tls_ctx_unref(bd_tls_ctx);
	tcp_stack_free(bd_ts);
	lcore_ctx_fini(ctx);
	port_fini(0);
	rte_eal_cleanup();
	return 0;
}
