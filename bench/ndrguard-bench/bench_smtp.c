/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * `ndrguard-bench smtp`: the kernel-socket SMTP load generator. One thread, one epoll set,
 * thousands of concurrent sessions, each a kind drawn from the scenario by weight. Every reply
 * is checked against the scenario's expectation; latency per command goes to log-linear
 * histograms. Closed loop (--concurrency N) or open loop (--rate R: sessions start on a fixed
 * schedule and latency is measured from the intended start, so a slow server cannot hide its
 * queueing: no coordinated omission).
 * A `starttls` step upgrades the session (RFC 3207): after the 220 the TLS handshake runs
 * non-blocking on the same socket (OpenSSL), and every later byte goes through the TLS session.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <math.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <arpa/inet.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "bench.h"
#include "bench_hist.h"
#include "bench_scn.h"
#include "bench_smtp.h"
#include "policy.h"
#include "ndg_common.h"

#define SMTPB_IN_MAX	   2048
#define SMTPB_SOURCES_MAX  4096
#define SMTPB_LINE	   74 /* generated body line: 72 characters and CRLF */
#define SMTPB_BODY_OFFSETS 1024
#define SMTPB_MISMATCH_LOG 10
#define SMTPB_SERIES_MAX   3600

enum smtpb_state {
	SMTPB_FREE = 0,	  /* slot unused */
	SMTPB_CONNECTING, /* connect() in progress */
	SMTPB_ACTIVE,	  /* speaking SMTP */
	SMTPB_DRAINING,	  /* all steps done, waiting for the server's close */
};

struct smtpb_pend {
	uint16_t step;
	uint8_t phase; /* 0: reply to the command, 1: reply to the message */
};

struct smtpb_conn {
	int fd;
	enum smtpb_state state;
	uint16_t kind;
	uint16_t next;	      /* next step to send */
	uint16_t p_head, p_n; /* pending replies */
	bool measured;	      /* started after the warm-up */
	bool closing;	      /* a 221/421 came: the server closes */
	bool bad;	      /* a mismatch or error in this session */
	uint32_t src;	      /* source address, host order (0: kernel's choice) */
	uint64_t seq;	      /* session number */
	uint64_t rng;	      /* per-session random stream */
	uint64_t t_intended;  /* when the session should have started */
	uint64_t t_sent;      /* when the current group left completely */
	uint64_t deadline;    /* give up then */
	struct smtpb_pend *pend;
	uint32_t in_len;
	char in[SMTPB_IN_MAX];
	char *obuf;
	size_t ocap, olen;
	struct iovec iov[3];
	int niov;
	SSL *ssl;	/* the TLS session after STARTTLS, else NULL */
	bool handshake; /* the TLS handshake is under way */
	uint64_t t_hs;	/* when it began */
};

struct smtpb_kstats {
	uint64_t started, completed, ok, mismatches, errors, msgs_accepted, msgs_refused;
};

struct smtpb {
	struct scn scn;
	const char *scn_path;
	struct sockaddr_in server;
	uint32_t sources[SMTPB_SOURCES_MAX];
	unsigned int n_sources, src_next;
	unsigned int concurrency;
	double rate;
	unsigned int max_conns;
	uint64_t count;
	double duration, warmup, timeout;
	uint64_t seed;
	int epfd;
	struct smtpb_conn *conns;
	int *free_list;
	unsigned int n_free, active;
	char *pattern;
	size_t pattern_len;
	/* run clock */
	uint64_t t0, t_warm, t_stop_start, t_last_done, t_hard_stop;
	uint64_t started_all, started_measured;
	uint64_t seq;
	uint64_t rng;
	/* results (measured sessions only, except *_all) */
	struct smtpb_kstats ks[SCN_KINDS_MAX];
	uint64_t replies[1000];
	uint64_t errors_connect, errors_timeout, errors_closed, errors_proto;
	uint64_t legit_accepted_all;
	uint64_t mismatch_logged;
	struct bench_hist hist[SCN_VERB_MAX];
	uint64_t series[SMTPB_SERIES_MAX]; /* completed sessions per second since t0 */
	/* server under test */
	int server_pids[16];
	unsigned int n_server_pids;
	const char *server_cgroup;
	const char *sink_stats;
	const char *plot;
	bool quiet;
	bool cpu_sampled;
	uint64_t sink_ok0, sink_bad0; /* the sink's counters before the run */
	double cpu0;		      /* server CPU seconds when the measurement started */
	/* TLS (starttls steps) */
	SSL_CTX *tls_ctx;
	const char *tls_ca;	 /* verify the server's chain against this file */
	const char *tls_ciphers; /* TLS 1.2 cipher list */
	int tls_max;		 /* highest version (TLS1_2_VERSION..), 0: the library's */
	uint64_t tls_handshakes, tls_failures;
	char tls_last[96]; /* version and cipher of the last handshake */
};

static volatile sig_atomic_t smtpb_stop;

static void
smtpb_on_signal(int sig)
{
	(void) sig;
	smtpb_stop = 1;
}

static uint64_t
smtpb_rand(uint64_t *s)
{
	/* splitmix64: good enough spread for names and choices */
	uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

/* ---- server CPU ------------------------------------------------------------------------- */

/* CPU seconds of the server under test: its cgroup's usage (v2 cpu.stat or v1 cpuacct),
 * or the sum over its pids
 * (every thread; children only once they are reaped). <0 when unknown. */
static double
smtpb_server_cpu(const struct smtpb *b)
{
	double total = 0;

	if (b->server_cgroup != NULL) {
		char path[512], key[64];
		unsigned long long v;
		FILE *f;

		snprintf(path, sizeof(path), "%s/cpu.stat", b->server_cgroup);
		f = fopen(path, "r");
		if (f == NULL) { /* cgroup v1: cpuacct.usage in ns */
			snprintf(path, sizeof(path), "%s/cpuacct.usage", b->server_cgroup);
			f = fopen(path, "r");
			if (f == NULL)
				return -1;
			if (fscanf(f, "%llu", &v) != 1)
				v = 0;
			fclose(f);
			return (double) v / 1e9;
		}
		while (fscanf(f, "%63s %llu", key, &v) == 2)
			if (strcmp(key, "usage_usec") == 0)
				total = (double) v / 1e6;
		fclose(f);
		return total;
	}
	if (b->n_server_pids == 0)
		return -1;
	for (unsigned int i = 0; i < b->n_server_pids; i++) {
		char path[64], buf[1024], *p;
		unsigned long long ut = 0, st = 0, cut = 0, cst = 0;
		ssize_t n;
		int fd;

		snprintf(path, sizeof(path), "/proc/%d/stat", b->server_pids[i]);
		fd = open(path, O_RDONLY);
		if (fd < 0)
			return -1;
		n = read(fd, buf, sizeof(buf) - 1);
		close(fd);
		if (n <= 0)
			return -1;
		buf[n] = '\0';
		p = strrchr(buf, ')'); /* the command name may hold blanks */
		if (p == NULL || sscanf(p + 2,
					 "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu "
					 "%llu %llu",
					 &ut, &st, &cut, &cst) != 4)
			return -1;
		total += (double) (ut + st + cut + cst) / (double) sysconf(_SC_CLK_TCK);
	}
	return total;
}

/* The sink's counters ("key value" lines), 0 when absent. */
static int
smtpb_sink_read(const char *path, uint64_t *ret_ok, uint64_t *ret_corrupt, uint64_t *ret_plain)
{
	char key[64];
	unsigned long long v;
	FILE *f = fopen(path, "r");

	if (f == NULL)
		return -errno;
	*ret_ok = *ret_corrupt = *ret_plain = 0;
	while (fscanf(f, "%63s %llu", key, &v) == 2) {
		if (strcmp(key, "messages_ok") == 0)
			*ret_ok = v;
		else if (strcmp(key, "messages_corrupt") == 0)
			*ret_corrupt = v;
		else if (strcmp(key, "messages_plain") == 0)
			*ret_plain = v;
	}
	fclose(f);
	return 0;
}

/* ---- output buffer ---------------------------------------------------------------------- */

static int
smtpb_ob_reserve(struct smtpb_conn *c, size_t more)
{
	if (c->olen + more <= c->ocap)
		return 0;
	size_t cap = c->ocap ? c->ocap : 512;
	while (cap < c->olen + more)
		cap *= 2;
	char *p = realloc(c->obuf, cap);
	if (p == NULL)
		return -ENOMEM;
	c->obuf = p;
	c->ocap = cap;
	return 0;
}

static void
smtpb_ob_put(struct smtpb_conn *c, const char *p, size_t n)
{
	if (smtpb_ob_reserve(c, n) < 0)
		return; /* the line is cut; the server's reply will tell */
	memcpy(c->obuf + c->olen, p, n);
	c->olen += n;
}

static void
smtpb_rand_word(struct smtpb_conn *c, char *out, size_t n)
{
	static const char a[] = "abcdefghijklmnopqrstuvwxyz0123456789";

	for (size_t i = 0; i < n; i++)
		out[i] = a[smtpb_rand(&c->rng) % (sizeof(a) - 1)];
}

/* Expand the template <t> of a send step into the output buffer, with CRLF. */
static void
smtpb_expand(struct smtpb *b, struct smtpb_conn *c, const char *t)
{
	char tmp[512];

	while (*t != '\0') {
		const char *open = strchr(t, '{'), *close;

		if (open == NULL || (close = strchr(open, '}')) == NULL) {
			smtpb_ob_put(c, t, strlen(t));
			break;
		}
		smtpb_ob_put(c, t, (size_t) (open - t));
		size_t nl = (size_t) (close - open - 1);
		const char *name = open + 1;
		if (nl == 4 && memcmp(name, "rand", 4) == 0) {
			smtpb_rand_word(c, tmp, 10);
			smtpb_ob_put(c, tmp, 10);
		} else if (nl == 5 && memcmp(name, "valid", 5) == 0 && b->scn.n_valid > 0) {
			const char *v = b->scn.valid[smtpb_rand(&c->rng) % b->scn.n_valid];

			smtpb_ob_put(c, v, strlen(v));
		} else if (nl == 3 && memcmp(name, "seq", 3) == 0) {
			int n = snprintf(tmp, sizeof(tmp), "%llu", (unsigned long long) c->seq);

			smtpb_ob_put(c, tmp, (size_t) n);
		} else if (nl == 3 && memcmp(name, "src", 3) == 0) {
			struct in_addr a = {htonl(c->src)};

			inet_ntop(AF_INET, &a, tmp, sizeof(tmp));
			smtpb_ob_put(c, tmp, strlen(tmp));
		} else if ((nl > 5 && memcmp(name, "batv:", 5) == 0) ||
			   (nl > 8 && memcmp(name, "badbatv:", 8) == 0)) {
			bool bad = name[0] == 'b' && name[1] == 'a' && name[2] == 'd';
			const char *addr = name + (bad ? 8 : 5);
			struct timespec ts;
			int n;

			clock_gettime(CLOCK_REALTIME, &ts);
			n = batv_sign(&b->scn.batv, addr, (size_t) (close - addr),
				(uint64_t) ts.tv_sec * 1000 + (uint64_t) ts.tv_nsec / 1000000, tmp,
				sizeof(tmp));
			if (n > 0) {
				if (bad) /* a tag that looks right and is not: flip the HMAC */
					for (int i = 9; i < 15; i++)
						tmp[i] = tmp[i] == '0' ? '1' : '0';
				smtpb_ob_put(c, tmp, (size_t) n);
			}
		} else {
			smtpb_ob_put(c, open, (size_t) (close - open + 1));
		}
		t = close + 1;
	}
	smtpb_ob_put(c, "\r\n", 2);
}

/* ---- statistics --------------------------------------------------------------------------- */

static void
smtpb_mismatch(struct smtpb *b, struct smtpb_conn *c, const struct scn_step *st, unsigned int phase,
	const char *line, size_t n)
{
	char exp[64];

	c->bad = true;
	if (c->measured)
		b->ks[c->kind].mismatches++;
	if (b->mismatch_logged++ >= SMTPB_MISMATCH_LOG)
		return;
	scn_expect_str(st, phase, exp, sizeof(exp));
	while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
		n--;
	fprintf(stderr, "mismatch: kind %s step %u (%s%s): expected %s, got '%.*s'\n",
		b->scn.kinds[c->kind].name, (unsigned int) (st - b->scn.kinds[c->kind].steps) + 1,
		scn_verb_name(phase ? SCN_VERB_DOT : st->verb), st->text ? "" : "", exp, (int) n,
		line);
}

static void
smtpb_error(struct smtpb *b, struct smtpb_conn *c, uint64_t *counter, const char *what)
{
	c->bad = true;
	if (c->measured) {
		b->ks[c->kind].errors++;
		(*counter)++;
	}
	if (b->mismatch_logged++ < SMTPB_MISMATCH_LOG)
		fprintf(stderr, "error: kind %s session %llu: %s\n", b->scn.kinds[c->kind].name,
			(unsigned long long) c->seq, what);
}

/* ---- sessions ----------------------------------------------------------------------------- */

static void
smtpb_conn_end(struct smtpb *b, struct smtpb_conn *c, uint64_t now)
{
	if (c->ssl != NULL) {
		if (!c->handshake)
			(void) SSL_shutdown(c->ssl); /* close_notify, no waiting for the peer's */
		SSL_free(c->ssl);
		c->ssl = NULL;
		c->handshake = false;
	}
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	if (c->measured) {
		struct smtpb_kstats *k = &b->ks[c->kind];

		k->completed++;
		if (!c->bad)
			k->ok++;
		bench_hist_add(&b->hist[SCN_VERB_SESSION], now - c->t_intended);
		uint64_t sec = (now - b->t0) / 1000000000ULL;
		if (sec < SMTPB_SERIES_MAX)
			b->series[sec]++;
		if (now > b->t_last_done)
			b->t_last_done = now;
	}
	c->state = SMTPB_FREE;
	c->olen = 0;
	c->niov = 0;
	b->free_list[b->n_free++] = (int) (c - b->conns);
	b->active--;
}

static void
smtpb_push(struct smtpb_conn *c, uint16_t step, uint8_t phase)
{
	c->pend[(c->p_head + c->p_n) % (SCN_STEPS_MAX + 1)] = (struct smtpb_pend){step, phase};
	c->p_n++;
}

/* Write what is queued. @return 0, or -1 when the connection failed. */
static int
smtpb_flush(struct smtpb_conn *c)
{
	if (c->niov == 0)
		return 0; /* nothing queued: keep t_sent of the last group */
	if (c->handshake)
		return 0; /* written once the TLS session is up */
	while (c->niov > 0) {
		ssize_t w;

		if (c->ssl != NULL) {
			/* Partial writes are on: a record at a time, at most the first iovec. */
			int r = SSL_write(c->ssl, c->iov[0].iov_base,
				c->iov[0].iov_len > INT32_MAX ? INT32_MAX
							      : (int) c->iov[0].iov_len);

			if (r <= 0) {
				int e = SSL_get_error(c->ssl, r);

				return e == SSL_ERROR_WANT_WRITE || e == SSL_ERROR_WANT_READ ? 0
											     : -1;
			}
			w = r;
		} else {
			w = writev(c->fd, c->iov, c->niov);
			if (w < 0)
				return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR
					       ? 0
					       : -1;
		}
		size_t left = (size_t) w;
		int i = 0;
		while (i < c->niov && left >= c->iov[i].iov_len)
			left -= c->iov[i++].iov_len;
		if (i > 0) {
			memmove(c->iov, c->iov + i, sizeof(c->iov[0]) * (size_t) (c->niov - i));
			c->niov -= i;
		}
		if (c->niov > 0) {
			c->iov[0].iov_base = (char *) c->iov[0].iov_base + left;
			c->iov[0].iov_len -= left;
		}
	}
	c->t_sent = bench_now_ns();
	return 0;
}

/* Build and queue the message of a data step, after its 354. */
static void
smtpb_message(struct smtpb *b, struct smtpb_conn *c, const struct scn_step *st)
{
	static const char dot[] = ".\r\n";
	double u = (double) (smtpb_rand(&c->rng) >> 11) / 9007199254740992.0;
	double lo = st->size_min > 0 ? st->size_min : 1, hi = st->size_max > 0 ? st->size_max : 1;
	size_t size = (size_t) (lo * pow(hi / lo, u)); /* log-uniform over [min, max] */
	size_t lines = size / SMTPB_LINE + 1;
	size_t off = (size_t) (smtpb_rand(&c->rng) % SMTPB_BODY_OFFSETS) * SMTPB_LINE;
	size_t blen = lines * SMTPB_LINE;
	const char *body = b->pattern + off;
	uint64_t dg = bench_digest_update(BENCH_DIGEST_INIT, body, blen);
	char hdr[512], id[10];
	int n;

	smtpb_rand_word(c, id, sizeof(id));
	n = snprintf(hdr, sizeof(hdr),
		"From: <bench@ndrguard-bench.test>\r\n"
		"Subject: ndrguard-bench %s %llu\r\n"
		"Message-ID: <%llu.%.10s@ndrguard-bench.test>\r\n" BENCH_DIGEST_HEADER
		"%016llx %zu\r\n\r\n",
		b->scn.kinds[c->kind].name, (unsigned long long) c->seq,
		(unsigned long long) c->seq, id, (unsigned long long) dg, blen);
	c->olen = 0;
	smtpb_ob_put(c, hdr, (size_t) n);
	c->iov[0] = (struct iovec){c->obuf, c->olen};
	c->iov[1] = (struct iovec){(void *) body, blen};
	c->iov[2] = (struct iovec){(void *) dot, 3};
	c->niov = 3;
	smtpb_push(c, (uint16_t) (st - b->scn.kinds[c->kind].steps), 1);
}

/* Queue the next group of steps: one step, or with pipelining (RFC 2920 §3.1) every step up
 * to and including the next DATA, EHLO or the last. Ends the session when none is left. */
static int
smtpb_advance(struct smtpb *b, struct smtpb_conn *c, uint64_t now)
{
	const struct scn_kind *k = &b->scn.kinds[c->kind];

	if (c->p_n > 0 || c->niov > 0)
		return 0;
	if (c->next >= k->n_steps || c->closing) {
		if (c->closing) {
			c->state = SMTPB_DRAINING; /* the server closes; wait for its FIN */
			return 0;
		}
		smtpb_conn_end(b, c, now);
		return 1;
	}
	c->olen = 0;
	do {
		const struct scn_step *st = &k->steps[c->next];

		if (st->type == SCN_STEP_DATA)
			smtpb_ob_put(c, "DATA\r\n", 6);
		else
			smtpb_expand(b, c, st->text);
		smtpb_push(c, c->next, 0);
		c->next++;
		if (!(k->flags & SCN_KIND_PIPELINED) || st->type == SCN_STEP_DATA ||
			st->type == SCN_STEP_STARTTLS || st->verb == SCN_VERB_EHLO)
			break; /* RFC 2920 §3.1, RFC 3207 §4: STARTTLS ends a group */
	} while (c->next < k->n_steps && k->steps[c->next].verb != SCN_VERB_EHLO);
	c->iov[0] = (struct iovec){c->obuf, c->olen};
	c->niov = 1;
	if (smtpb_flush(c) < 0) {
		smtpb_error(b, c, &b->errors_closed, "write failed");
		smtpb_conn_end(b, c, now);
		return 1;
	}
	return 0;
}

/* ---- TLS (RFC 3207) ---------------------------------------------------------------------- */

/* Read plaintext: from the socket, or from the TLS session. @return bytes, 0 at the end, -1 with
 * errno (EAGAIN: nothing now). */
static ssize_t
smtpb_recv(struct smtpb_conn *c, char *buf, size_t n)
{
	if (c->ssl == NULL)
		return read(c->fd, buf, n);
	ERR_clear_error();
	int r = SSL_read(c->ssl, buf, n > INT32_MAX ? INT32_MAX : (int) n);
	if (r > 0)
		return r;
	switch (SSL_get_error(c->ssl, r)) {
	case SSL_ERROR_ZERO_RETURN:
		return 0;
	case SSL_ERROR_WANT_READ:
	case SSL_ERROR_WANT_WRITE:
		errno = EAGAIN;
		return -1;
	default:
		errno = EPROTO;
		return -1;
	}
}

/* 220 to STARTTLS came: a TLS client session on the socket. @return 0, or -1 (counted). */
static int
smtpb_tls_start(struct smtpb *b, struct smtpb_conn *c, uint64_t now)
{
	c->ssl = SSL_new(b->tls_ctx);
	if (c->ssl == NULL || SSL_set_fd(c->ssl, c->fd) != 1) {
		if (c->measured)
			b->tls_failures++;
		smtpb_error(b, c, &b->errors_proto, "SSL_new failed");
		return -1;
	}
	SSL_set_connect_state(c->ssl);
	c->handshake = true;
	c->t_hs = now;
	return 0;
}

/* Drive the handshake; once it is done the session goes on with the next steps. */
static void
smtpb_handshake(struct smtpb *b, struct smtpb_conn *c, uint64_t now)
{
	ERR_clear_error();
	int r = SSL_do_handshake(c->ssl);

	if (r != 1) {
		int e = SSL_get_error(c->ssl, r);

		if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
			return; /* epoll says when to go on */
		char why[160];
		unsigned long ec = ERR_peek_error();

		snprintf(why, sizeof(why), "TLS handshake failed: %s",
			ec != 0 ? ERR_reason_error_string(ec) : "connection closed");
		if (c->measured)
			b->tls_failures++;
		smtpb_error(b, c, &b->errors_proto, why);
		smtpb_conn_end(b, c, now);
		return;
	}
	c->handshake = false;
	if (c->measured) {
		b->tls_handshakes++;
		bench_hist_add(&b->hist[SCN_VERB_TLS], now > c->t_hs ? now - c->t_hs : 0);
	}
	snprintf(b->tls_last, sizeof(b->tls_last), "%s %s", SSL_get_version(c->ssl),
		SSL_get_cipher_name(c->ssl));
	c->t_sent = now;
	(void) smtpb_advance(b, c, now);
}

/* The client context of every session: no session reuse, so each handshake is a full one. */
static int
smtpb_tls_init(struct smtpb *b)
{
	b->tls_ctx = SSL_CTX_new(TLS_client_method());
	if (b->tls_ctx == NULL)
		return -1;
	SSL_CTX_set_min_proto_version(b->tls_ctx, TLS1_2_VERSION);
	if (b->tls_max != 0 && SSL_CTX_set_max_proto_version(b->tls_ctx, b->tls_max) != 1)
		return -1;
	SSL_CTX_set_session_cache_mode(b->tls_ctx, SSL_SESS_CACHE_OFF);
	SSL_CTX_set_options(b->tls_ctx, SSL_OP_NO_TICKET | SSL_OP_IGNORE_UNEXPECTED_EOF);
	SSL_CTX_set_mode(b->tls_ctx,
		SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	if (b->tls_ciphers != NULL && SSL_CTX_set_cipher_list(b->tls_ctx, b->tls_ciphers) != 1)
		return -1;
	if (b->tls_ca != NULL) {
		if (SSL_CTX_load_verify_locations(b->tls_ctx, b->tls_ca, NULL) != 1)
			return -1;
		SSL_CTX_set_verify(b->tls_ctx, SSL_VERIFY_PEER, NULL);
	} else {
		SSL_CTX_set_verify(b->tls_ctx, SSL_VERIFY_NONE, NULL); /* a benchmark, not trust */
	}
	return 0;
}

/* One complete reply (final line <line>[<n>], code <code>). @return 1 when the session ended. */
static int
smtpb_reply(struct smtpb *b, struct smtpb_conn *c, unsigned int code, const char *line, size_t n,
	uint64_t now)
{
	const struct scn_kind *k = &b->scn.kinds[c->kind];

	if (c->measured && code < 1000)
		b->replies[code]++;
	if (c->p_n == 0) {
		smtpb_error(b, c, &b->errors_proto, "reply nobody asked for");
		smtpb_conn_end(b, c, now);
		return 1;
	}
	struct smtpb_pend p = c->pend[c->p_head];
	c->p_head = (uint16_t) ((c->p_head + 1) % (SCN_STEPS_MAX + 1));
	c->p_n--;
	const struct scn_step *st = &k->steps[p.step];
	uint64_t from = st->type == SCN_STEP_CONNECT ? c->t_intended : c->t_sent;
	if (c->measured)
		bench_hist_add(&b->hist[p.phase ? SCN_VERB_DOT : st->verb],
			now > from ? now - from : 0);
	if (!scn_expect_match(st, p.phase, code))
		smtpb_mismatch(b, c, st, p.phase, line, n);
	if (code == 221 || code == 421)
		c->closing = true;
	if (st->type == SCN_STEP_STARTTLS && code == 220 && !c->closing) {
		if (smtpb_tls_start(b, c, now) < 0) {
			smtpb_conn_end(b, c, now);
			return 1;
		}
		return 0; /* smtpb_read hands over to the handshake */
	}
	if (st->type == SCN_STEP_DATA) {
		if (p.phase == 1) {
			if (code / 100 == 2) {
				if (c->measured)
					b->ks[c->kind].msgs_accepted++;
				if (k->flags & SCN_KIND_LEGIT)
					b->legit_accepted_all++;
			} else if (c->measured) {
				b->ks[c->kind].msgs_refused++;
			}
		} else if (code == 354) {
			smtpb_message(b, c, st);
			if (smtpb_flush(c) < 0) {
				smtpb_error(b, c, &b->errors_closed, "write failed");
				smtpb_conn_end(b, c, now);
				return 1;
			}
		}
	}
	return smtpb_advance(b, c, now);
}

static void
smtpb_read(struct smtpb *b, struct smtpb_conn *c, uint64_t now)
{
	for (;;) {
		ssize_t r = smtpb_recv(c, c->in + c->in_len, sizeof(c->in) - c->in_len);

		if (r == 0) {
			if (c->state == SMTPB_DRAINING ||
				(c->closing && c->niov == 0)) { /* after 221/421: fine */
				smtpb_conn_end(b, c, now);
			} else {
				smtpb_error(b, c, &b->errors_closed,
					"server closed the connection");
				smtpb_conn_end(b, c, now);
			}
			return;
		}
		if (r < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return;
			if (errno == EINTR)
				continue;
			if (c->state == SMTPB_DRAINING) { /* a reset after QUIT: still done */
				smtpb_conn_end(b, c, now);
			} else {
				smtpb_error(b, c, &b->errors_closed, strerror(errno));
				smtpb_conn_end(b, c, now);
			}
			return;
		}
		c->in_len += (uint32_t) r;
		size_t start = 0;
		for (;;) {
			char *nl = memchr(c->in + start, '\n', c->in_len - start);

			if (nl == NULL)
				break;
			const char *line = c->in + start;
			size_t n = (size_t) (nl - line) + 1;
			start += n;
			if (n >= 4 && line[3] == '-')
				continue; /* continuation line of a multi-line reply */
			unsigned int code = 0;
			if (n >= 4 && line[0] >= '1' && line[0] <= '5' && line[1] >= '0' &&
				line[1] <= '9' && line[2] >= '0' && line[2] <= '9')
				code = (unsigned int) ((line[0] - '0') * 100 +
						       (line[1] - '0') * 10 + (line[2] - '0'));
			if (smtpb_reply(b, c, code, line, n, now))
				return;
			if (c->handshake) {
				/* Plaintext after the 220 to STARTTLS would be injected into the
				 * TLS session (the CVE-2011-0411 class): refuse it. */
				if (start < c->in_len) {
					smtpb_error(b, c, &b->errors_proto,
						"plaintext after 220 to STARTTLS");
					smtpb_conn_end(b, c, now);
					return;
				}
				c->in_len = 0;
				smtpb_handshake(b, c, now);
				return;
			}
		}
		if (start > 0) {
			memmove(c->in, c->in + start, c->in_len - start);
			c->in_len -= (uint32_t) start;
		} else if (c->in_len == sizeof(c->in)) {
			smtpb_error(b, c, &b->errors_proto, "reply line too long");
			smtpb_conn_end(b, c, now);
			return;
		}
	}
}

static void
smtpb_event(struct smtpb *b, struct smtpb_conn *c, uint32_t ev, uint64_t now)
{
	if (c->state == SMTPB_CONNECTING) {
		int err = 0;
		socklen_t l = sizeof(err);

		if (!(ev & (EPOLLOUT | EPOLLERR | EPOLLHUP)))
			return;
		if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &l) < 0 || err != 0) {
			smtpb_error(b, c, &b->errors_connect, strerror(err ? err : errno));
			smtpb_conn_end(b, c, now);
			return;
		}
		c->state = SMTPB_ACTIVE;
	}
	if (c->handshake) {
		smtpb_handshake(b, c, now);
		return;
	}
	if (ev & EPOLLOUT) {
		if (smtpb_flush(c) < 0) {
			smtpb_error(b, c, &b->errors_closed, "write failed");
			smtpb_conn_end(b, c, now);
			return;
		}
		if (c->niov == 0 && c->p_n == 0 && smtpb_advance(b, c, now))
			return;
	}
	if (ev & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR))
		smtpb_read(b, c, now);
}

static unsigned int
smtpb_pick_kind(struct smtpb *b)
{
	uint64_t r = smtpb_rand(&b->rng) % b->scn.weight_total;

	for (unsigned int i = 0; i < b->scn.n_kinds; i++) {
		if (r < b->scn.kinds[i].weight)
			return i;
		r -= b->scn.kinds[i].weight;
	}
	return 0;
}

static int
smtpb_start(struct smtpb *b, uint64_t intended, uint64_t now)
{
	struct smtpb_conn *c;
	unsigned int kind = smtpb_pick_kind(b);
	int one = 1, fd;

	if (b->n_free == 0)
		return -EBUSY;
	c = &b->conns[b->free_list[--b->n_free]];
	b->active++;
	c->state = SMTPB_CONNECTING;
	c->kind = (uint16_t) kind;
	c->next = 1; /* step 0 is the greeting */
	c->p_head = 0;
	c->p_n = 0;
	c->closing = false;
	c->bad = false;
	c->in_len = 0;
	c->olen = 0;
	c->niov = 0;
	c->seq = b->seq++;
	c->rng = b->seed ^ (c->seq * 0x9e3779b97f4a7c15ULL);
	c->t_intended = intended;
	c->t_sent = now;
	c->deadline = now + (uint64_t) (b->timeout * 1e9);
	c->measured = intended >= b->t_warm;
	b->started_all++;
	if (c->measured) {
		b->started_measured++;
		b->ks[kind].started++;
	}
	smtpb_push(c, 0, 0);
	c->src = 0;
	/* A one-source kind (harvest) owns the first address; the others share the rest, so a
	 * per-source defence it trips does not spill over onto them. */
	if (b->n_sources == 1 ||
		(b->n_sources > 1 && (b->scn.kinds[kind].flags & SCN_KIND_ONE_SOURCE)))
		c->src = b->sources[0];
	else if (b->n_sources > 1)
		c->src = b->sources[1 + b->src_next++ % (b->n_sources - 1)];
	fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	c->fd = fd;
	if (fd < 0) {
		smtpb_error(b, c, &b->errors_connect, strerror(errno));
		smtpb_conn_end(b, c, now);
		return 0;
	}
	(void) setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (c->src != 0) {
		struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr = {htonl(c->src)}};

		/* Many sessions per source: let connect() pick the port per 4-tuple. */
		(void) setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof(one));
		if (bind(fd, (struct sockaddr *) &sa, sizeof(sa)) < 0) {
			smtpb_error(b, c, &b->errors_connect, strerror(errno));
			smtpb_conn_end(b, c, now);
			return 0;
		}
	}
	if (connect(fd, (struct sockaddr *) &b->server, sizeof(b->server)) < 0 &&
		errno != EINPROGRESS) {
		smtpb_error(b, c, &b->errors_connect, strerror(errno));
		smtpb_conn_end(b, c, now);
		return 0;
	}
	struct epoll_event ev = {
		.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET,
		.data.ptr = c,
	};
	if (epoll_ctl(b->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
		smtpb_error(b, c, &b->errors_connect, strerror(errno));
		smtpb_conn_end(b, c, now);
	}
	return 0;
}

static bool
smtpb_may_start(const struct smtpb *b, uint64_t now)
{
	if (smtpb_stop || now >= b->t_hard_stop)
		return false;
	if (b->count > 0)
		return now < b->t_warm || b->started_measured < b->count;
	return now < b->t_stop_start;
}

/* ---- the run ------------------------------------------------------------------------------ */

static void
smtpb_timeouts(struct smtpb *b, uint64_t now, bool all)
{
	for (unsigned int i = 0; i < b->max_conns; i++) {
		struct smtpb_conn *c = &b->conns[i];

		if (c->state == SMTPB_FREE || (!all && now < c->deadline))
			continue;
		if (c->state == SMTPB_DRAINING) {
			smtpb_conn_end(b, c, now); /* all replies came; only the FIN is late */
			continue;
		}
		smtpb_error(b, c, &b->errors_timeout, "timeout");
		smtpb_conn_end(b, c, now);
	}
}

static int
smtpb_run(struct smtpb *b)
{
	struct epoll_event evs[512];
	uint64_t next_check = 0, i_open = 0;
	double period = b->rate > 0 ? 1e9 / b->rate : 0;

	b->t0 = bench_now_ns();
	b->t_warm = b->t0 + (uint64_t) (b->warmup * 1e9);
	b->t_stop_start = b->t_warm + (uint64_t) (b->duration * 1e9);
	b->t_hard_stop = (b->count > 0 ? b->t0 + 3600ULL * 1000000000ULL : b->t_stop_start) +
			 (uint64_t) (b->timeout * 1e9) + 1000000000ULL;
	for (;;) {
		uint64_t now = bench_now_ns();
		int timeout_ms = 100;

		if (b->rate > 0) {
			for (;;) {
				uint64_t due = b->t0 + (uint64_t) ((double) i_open * period);

				if (due > now || !smtpb_may_start(b, due < b->t_warm ? now : due))
					break;
				if (b->count > 0 && due >= b->t_warm &&
					b->started_measured >= b->count)
					break;
				if (smtpb_start(b, due, now) == -EBUSY)
					break; /* at the cap: it starts later, still timed from due */
				i_open++;
			}
			uint64_t due = b->t0 + (uint64_t) ((double) i_open * period);
			timeout_ms = due > now ? (int) ((due - now) / 1000000) : 0;
		} else {
			while (b->active < b->concurrency && smtpb_may_start(b, now))
				if (smtpb_start(b, now, now) == -EBUSY)
					break;
		}
		if (b->active == 0 && !smtpb_may_start(b, now))
			break;
		if (now >= b->t_hard_stop) {
			smtpb_timeouts(b, now, true);
			break;
		}
		if (!b->cpu_sampled && now >= b->t_warm) {
			b->cpu0 = smtpb_server_cpu(b);
			b->cpu_sampled = true;
		}
		if (now >= next_check) {
			smtpb_timeouts(b, now, false);
			next_check = now + 100000000ULL;
		}
		if (timeout_ms > 100)
			timeout_ms = 100;
		int n = epoll_wait(b->epfd, evs, 512, timeout_ms);
		if (n < 0 && errno != EINTR)
			return -errno;
		now = bench_now_ns();
		for (int i = 0; i < n; i++)
			smtpb_event(b, evs[i].data.ptr, evs[i].events, now);
	}
	if (b->t_last_done == 0)
		b->t_last_done = bench_now_ns();
	return 0;
}

/* ---- report -------------------------------------------------------------------------------- */

static void
smtpb_plot(const struct smtpb *b, double secs)
{
	char dat[512];
	FILE *f;

	snprintf(dat, sizeof(dat), "%s.dat", b->plot);
	f = fopen(dat, "w");
	if (f == NULL)
		return;
	for (unsigned int s = 0; s < SMTPB_SERIES_MAX && s <= (unsigned int) (secs + b->warmup);
		s++)
		fprintf(f, "%u %llu\n", s, (unsigned long long) b->series[s]);
	fprintf(f, "\n\n");
	const struct bench_hist *h = &b->hist[SCN_VERB_SESSION];
	uint64_t seen = 0;
	for (unsigned int i = 0; i < BENCH_HIST_BUCKETS && h->count > 0; i++) {
		uint64_t lo, hi;

		if (h->b[i] == 0)
			continue;
		seen += h->b[i];
		bench_hist_bounds(i, &lo, &hi);
		fprintf(f, "%.3f %.6f\n", (double) hi / 1000.0, (double) seen / (double) h->count);
	}
	fclose(f);
	f = popen("gnuplot", "w");
	if (f == NULL)
		return;
	fprintf(f,
		"set terminal png size 1000,800\nset output '%s'\nset multiplot layout 2,1\n"
		"set title 'completed sessions per second'\nset xlabel 's'\n"
		"plot '%s' index 0 with lines title 'sessions/s'\n"
		"set title 'session latency (CDF)'\nset logscale x\nset xlabel 'us'\n"
		"plot '%s' index 1 with lines title 'CDF'\nunset multiplot\n",
		b->plot, dat, dat);
	pclose(f);
}

static void
smtpb_report(struct smtpb *b, double cpu0, double cpu1, uint64_t client_cpu)
{
	double secs = (double) (b->t_last_done - b->t_warm) / 1e9;
	uint64_t completed = 0, ok = 0, mism = 0, errs = 0, msgs = 0;
	uint64_t sink_ok = 0, sink_bad = 0, sink_plain = 0, lost = 0;
	bool have_sink = false;
	double server_cpu = cpu0 >= 0 && cpu1 >= 0 ? cpu1 - cpu0 : -1;

	if (secs <= 0)
		secs = 1e-9;
	if (b->sink_stats != NULL) {
		/* The sink counts what arrived; wait a little for deliveries still under way. */
		for (int t = 0; t < 100; t++) {
			if (smtpb_sink_read(b->sink_stats, &sink_ok, &sink_bad, &sink_plain) == 0) {
				have_sink = true;
				if (sink_ok + sink_bad >=
					b->legit_accepted_all + b->sink_ok0 + b->sink_bad0)
					break;
			}
			usleep(100000);
		}
		sink_ok -= sink_ok >= b->sink_ok0 ? b->sink_ok0 : sink_ok;
		sink_bad -= sink_bad >= b->sink_bad0 ? b->sink_bad0 : sink_bad;
		lost = b->legit_accepted_all > sink_ok + sink_bad
			       ? b->legit_accepted_all - sink_ok - sink_bad
			       : 0;
	}
	for (unsigned int i = 0; i < b->scn.n_kinds; i++) {
		completed += b->ks[i].completed;
		ok += b->ks[i].ok;
		mism += b->ks[i].mismatches;
		errs += b->ks[i].errors;
		msgs += b->ks[i].msgs_accepted;
	}
	if (!b->quiet) {
		printf("scenario %s: %s, %.2f s measured\n", b->scn_path,
			b->rate > 0 ? "open loop" : "closed loop", secs);
		printf("%-16s %10s %10s %10s %10s %10s %8s\n", "kind", "sessions", "per_sec", "ok",
			"messages", "mismatch", "errors");
		for (unsigned int i = 0; i < b->scn.n_kinds; i++) {
			const struct smtpb_kstats *k = &b->ks[i];

			printf("%-16s %10llu %10.0f %10llu %10llu %10llu %8llu\n",
				b->scn.kinds[i].name, (unsigned long long) k->completed,
				(double) k->completed / secs, (unsigned long long) k->ok,
				(unsigned long long) k->msgs_accepted,
				(unsigned long long) k->mismatches, (unsigned long long) k->errors);
		}
		printf("%-16s %10llu %10.0f %10llu %10llu %10llu %8llu\n", "total",
			(unsigned long long) completed, (double) completed / secs,
			(unsigned long long) ok, (unsigned long long) msgs,
			(unsigned long long) mism, (unsigned long long) errs);
		printf("\n%-8s %10s %10s %10s %10s %10s %10s\n", "latency", "count", "p50_us",
			"p90_us", "p99_us", "p99.9_us", "max_us");
		for (unsigned int v = 0; v < SCN_VERB_MAX; v++) {
			const struct bench_hist *h = &b->hist[v];

			if (h->count == 0)
				continue;
			printf("%-8s %10llu %10.1f %10.1f %10.1f %10.1f %10.1f\n", scn_verb_name(v),
				(unsigned long long) h->count,
				(double) bench_hist_quantile(h, 0.5) / 1e3,
				(double) bench_hist_quantile(h, 0.9) / 1e3,
				(double) bench_hist_quantile(h, 0.99) / 1e3,
				(double) bench_hist_quantile(h, 0.999) / 1e3,
				(double) h->max / 1e3);
		}
		printf("\nreplies:");
		for (unsigned int c = 0; c < 1000; c++)
			if (b->replies[c])
				printf(" %u=%llu", c, (unsigned long long) b->replies[c]);
		printf("\nerrors: connect %llu, timeout %llu, closed %llu, protocol %llu\n",
			(unsigned long long) b->errors_connect,
			(unsigned long long) b->errors_timeout,
			(unsigned long long) b->errors_closed,
			(unsigned long long) b->errors_proto);
		if (b->tls_ctx != NULL)
			printf("tls: %llu handshakes (%.1f/s), %llu failed, last %s\n",
				(unsigned long long) b->tls_handshakes,
				(double) b->tls_handshakes / secs,
				(unsigned long long) b->tls_failures,
				b->tls_last[0] ? b->tls_last : "-");
		if (have_sink)
			printf("sink: legit accepted %llu, arrived intact %llu, corrupt %llu, lost "
			       "%llu\n",
				(unsigned long long) b->legit_accepted_all,
				(unsigned long long) sink_ok, (unsigned long long) sink_bad,
				(unsigned long long) lost);
		if (server_cpu >= 0)
			printf("server CPU %.2f s: %.0f sessions per server CPU second\n",
				server_cpu, server_cpu > 0 ? (double) completed / server_cpu : 0);
		printf("client CPU %.2f s\n", (double) client_cpu / 1e9);
	}
	if (b->plot != NULL)
		smtpb_plot(b, secs);

	/* The last line: one JSON object. */
	printf("{\"scenario\":\"%s\",\"mode\":\"%s\",\"concurrency\":%u,\"rate\":%.1f,"
	       "\"seconds\":%.3f,\"sessions\":%llu,\"sessions_per_sec\":%.1f,\"ok_sessions\":%llu,"
	       "\"mismatches\":%llu,\"errors\":%llu,\"timeouts\":%llu,\"messages\":%llu,"
	       "\"messages_per_sec\":%.1f,\"kinds\":{",
		b->scn_path, b->rate > 0 ? "open" : "closed", b->concurrency, b->rate, secs,
		(unsigned long long) completed, (double) completed / secs, (unsigned long long) ok,
		(unsigned long long) mism, (unsigned long long) errs,
		(unsigned long long) b->errors_timeout, (unsigned long long) msgs,
		(double) msgs / secs);
	for (unsigned int i = 0; i < b->scn.n_kinds; i++) {
		const struct smtpb_kstats *k = &b->ks[i];

		printf("%s\"%s\":{\"started\":%llu,\"sessions\":%llu,\"per_sec\":%.1f,\"ok\":%llu,"
		       "\"messages\":%llu,\"messages_per_sec\":%.1f,\"messages_refused\":%llu,"
		       "\"mismatches\":%llu,\"errors\":%llu}",
			i ? "," : "", b->scn.kinds[i].name, (unsigned long long) k->started,
			(unsigned long long) k->completed, (double) k->completed / secs,
			(unsigned long long) k->ok, (unsigned long long) k->msgs_accepted,
			(double) k->msgs_accepted / secs, (unsigned long long) k->msgs_refused,
			(unsigned long long) k->mismatches, (unsigned long long) k->errors);
	}
	printf("},\"replies\":{");
	bool first = true;
	for (unsigned int c = 0; c < 1000; c++)
		if (b->replies[c]) {
			printf("%s\"%u\":%llu", first ? "" : ",", c,
				(unsigned long long) b->replies[c]);
			first = false;
		}
	printf("},\"latency_us\":{");
	first = true;
	for (unsigned int v = 0; v < SCN_VERB_MAX; v++) {
		const struct bench_hist *h = &b->hist[v];

		if (h->count == 0)
			continue;
		printf("%s\"%s\":{\"count\":%llu,\"p50\":%.1f,\"p90\":%.1f,\"p99\":%.1f,"
		       "\"p99_9\":%.1f,\"max\":%.1f}",
			first ? "" : ",", scn_verb_name(v), (unsigned long long) h->count,
			(double) bench_hist_quantile(h, 0.5) / 1e3,
			(double) bench_hist_quantile(h, 0.9) / 1e3,
			(double) bench_hist_quantile(h, 0.99) / 1e3,
			(double) bench_hist_quantile(h, 0.999) / 1e3, (double) h->max / 1e3);
		first = false;
	}
	printf("},\"errors_by_kind\":{\"connect\":%llu,\"timeout\":%llu,\"closed\":%llu,"
	       "\"protocol\":%llu}",
		(unsigned long long) b->errors_connect, (unsigned long long) b->errors_timeout,
		(unsigned long long) b->errors_closed, (unsigned long long) b->errors_proto);
	if (have_sink)
		printf(",\"legit_accepted\":%llu,\"sink_ok\":%llu,\"corrupt\":%llu,\"lost\":%llu",
			(unsigned long long) b->legit_accepted_all, (unsigned long long) sink_ok,
			(unsigned long long) sink_bad, (unsigned long long) lost);
	if (b->tls_ctx != NULL)
		printf(",\"tls_handshakes\":%llu,\"tls_handshakes_per_sec\":%.1f,"
		       "\"tls_failures\":%llu,\"tls\":\"%s\"",
			(unsigned long long) b->tls_handshakes, (double) b->tls_handshakes / secs,
			(unsigned long long) b->tls_failures, b->tls_last);
	if (server_cpu >= 0)
		printf(",\"server_cpu_s\":%.3f,\"sessions_per_server_cpu_s\":%.1f", server_cpu,
			server_cpu > 0 ? (double) completed / server_cpu : 0);
	printf(",\"client_cpu_s\":%.3f}\n", (double) client_cpu / 1e9);
}

/* "198.18.1.5-198.18.1.20,198.18.1.1" */
static int
smtpb_parse_sources(struct smtpb *b, char *s)
{
	for (char *save = NULL, *tok = strtok_r(s, ",", &save); tok != NULL;
		tok = strtok_r(NULL, ",", &save)) {
		char *dash = strchr(tok, '-');
		struct in_addr a, z;

		if (dash != NULL)
			*dash = '\0';
		if (inet_pton(AF_INET, tok, &a) != 1 ||
			(dash != NULL && inet_pton(AF_INET, dash + 1, &z) != 1))
			return -1;
		uint32_t lo = ntohl(a.s_addr), hi = dash ? ntohl(z.s_addr) : lo;
		for (uint32_t ip = lo; ip <= hi && ip >= lo; ip++) {
			if (b->n_sources == SMTPB_SOURCES_MAX)
				return -1;
			b->sources[b->n_sources++] = ip;
		}
	}
	return 0;
}

static void
smtpb_usage(FILE *f)
{
	fprintf(f,
		"usage: ndrguard-bench smtp --server IP[:PORT] --scenario FILE\n"
		"         [--concurrency N | --rate SESSIONS_PER_S [--max-conns N]]\n"
		"         [--count N | --duration S] [--warmup S] [--timeout S]\n"
		"         [--source IP[-IP][,...]] [--server-pid PID[,PID...]]\n"
		"         [--server-cgroup DIR] [--sink-stats FILE] [--seed N] [--plot FILE.png]\n"
		"         [--cpu C] [--quiet] [--tls-ca FILE] [--tls-max 1.2|1.3]\n"
		"         [--tls-ciphers LIST]\n");
}

int
bench_smtp_main(int argc, char **argv)
{
	static const struct option opts[] = {
		{"server", required_argument, NULL, 'S'},
		{"scenario", required_argument, NULL, 'f'},
		{"concurrency", required_argument, NULL, 'n'},
		{"rate", required_argument, NULL, 'r'},
		{"max-conns", required_argument, NULL, 'm'},
		{"count", required_argument, NULL, 'N'},
		{"duration", required_argument, NULL, 'd'},
		{"warmup", required_argument, NULL, 'w'},
		{"timeout", required_argument, NULL, 't'},
		{"source", required_argument, NULL, 's'},
		{"server-pid", required_argument, NULL, 'p'},
		{"server-cgroup", required_argument, NULL, 'g'},
		{"sink-stats", required_argument, NULL, 'k'},
		{"seed", required_argument, NULL, 'e'},
		{"plot", required_argument, NULL, 'P'},
		{"cpu", required_argument, NULL, 'c'},
		{"quiet", no_argument, NULL, 'q'},
		{"tls-ca", required_argument, NULL, 'A'},
		{"tls-max", required_argument, NULL, 'V'},
		{"tls-ciphers", required_argument, NULL, 'C'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	struct smtpb *b = calloc(1, sizeof(*b));
	char err[512], *server = NULL;
	int opt, cpu = -1, rc = 1;

	if (b == NULL)
		return 1;
	b->concurrency = 0;
	b->max_conns = 0;
	b->duration = 0;
	b->timeout = 30;
	b->seed = 0x6e6472677561ULL;
	b->epfd = -1;
	optind = 1;
	while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (opt) {
		case 'S':
			server = optarg;
			break;
		case 'f':
			b->scn_path = optarg;
			break;
		case 'n':
			b->concurrency = (unsigned int) strtoul(optarg, NULL, 10);
			break;
		case 'r':
			b->rate = strtod(optarg, NULL);
			break;
		case 'm':
			b->max_conns = (unsigned int) strtoul(optarg, NULL, 10);
			break;
		case 'N':
			b->count = strtoull(optarg, NULL, 10);
			break;
		case 'd':
			b->duration = strtod(optarg, NULL);
			break;
		case 'w':
			b->warmup = strtod(optarg, NULL);
			break;
		case 't':
			b->timeout = strtod(optarg, NULL);
			break;
		case 's':
			if (smtpb_parse_sources(b, optarg) < 0) {
				fprintf(stderr, "smtp: bad --source\n");
				goto out;
			}
			break;
		case 'p':
			for (char *save = NULL, *t = strtok_r(optarg, ",", &save);
				t != NULL && b->n_server_pids < 16; t = strtok_r(NULL, ",", &save))
				b->server_pids[b->n_server_pids++] = (int) strtol(t, NULL, 10);
			break;
		case 'g':
			b->server_cgroup = optarg;
			break;
		case 'k':
			b->sink_stats = optarg;
			break;
		case 'e':
			b->seed = strtoull(optarg, NULL, 0);
			break;
		case 'P':
			b->plot = optarg;
			break;
		case 'c':
			cpu = (int) strtol(optarg, NULL, 10);
			break;
		case 'q':
			b->quiet = true;
			break;
		case 'A':
			b->tls_ca = optarg;
			break;
		case 'V':
			if (strcmp(optarg, "1.2") == 0) {
				b->tls_max = TLS1_2_VERSION;
			} else if (strcmp(optarg, "1.3") == 0) {
				b->tls_max = TLS1_3_VERSION;
			} else {
				fprintf(stderr, "smtp: --tls-max is 1.2 or 1.3\n");
				rc = 2;
				goto out;
			}
			break;
		case 'C':
			b->tls_ciphers = optarg;
			break;
		case 'h':
			smtpb_usage(stdout);
			rc = 0;
			goto out;
		default:
			smtpb_usage(stderr);
			rc = 2;
			goto out;
		}
	}
	if (server == NULL || b->scn_path == NULL || (b->count == 0 && b->duration <= 0) ||
		b->timeout <= 0) {
		smtpb_usage(stderr);
		rc = 2;
		goto out;
	}
	{
		char *colon = strrchr(server, ':');
		unsigned long port = 25;

		if (colon != NULL) {
			*colon = '\0';
			port = strtoul(colon + 1, NULL, 10);
		}
		b->server.sin_family = AF_INET;
		b->server.sin_port = htons((uint16_t) port);
		if (inet_pton(AF_INET, server, &b->server.sin_addr) != 1 || port == 0 ||
			port > 65535) {
			fprintf(stderr, "smtp: bad --server\n");
			rc = 2;
			goto out;
		}
	}
	if (b->rate <= 0 && b->concurrency == 0)
		b->concurrency = 100;
	if (b->max_conns == 0)
		b->max_conns = b->rate > 0 ? 20000 : b->concurrency;
	if (b->rate <= 0 && b->max_conns < b->concurrency)
		b->max_conns = b->concurrency;
	if (scn_load(&b->scn, b->scn_path, err, sizeof(err)) < 0) {
		fprintf(stderr, "smtp: %s\n", err);
		goto out;
	}
	for (unsigned int i = 0; i < b->scn.n_kinds; i++)
		for (unsigned int j = 0; j < b->scn.kinds[i].n_steps; j++) {
			const struct scn_step *st = &b->scn.kinds[i].steps[j];

			if (st->text != NULL && strstr(st->text, "batv:") != NULL &&
				!b->scn.batv_set) {
				fprintf(stderr, "smtp: %s uses {batv:...} but sets no batv-key\n",
					b->scn_path);
				goto out;
			}
			if (st->type == SCN_STEP_DATA && st->size_max + SMTPB_LINE > b->pattern_len)
				b->pattern_len = st->size_max + SMTPB_LINE;
			if (st->type == SCN_STEP_STARTTLS && b->tls_ctx == NULL &&
				smtpb_tls_init(b) < 0) {
				fprintf(stderr,
					"smtp: TLS set-up failed (--tls-ca, --tls-ciphers?)\n");
				ERR_print_errors_fp(stderr);
				goto out;
			}
		}
	b->pattern_len += (size_t) SMTPB_BODY_OFFSETS * SMTPB_LINE + SMTPB_LINE;
	b->pattern = malloc(b->pattern_len);
	b->conns = calloc(b->max_conns, sizeof(*b->conns));
	b->free_list = calloc(b->max_conns, sizeof(*b->free_list));
	if (b->pattern == NULL || b->conns == NULL || b->free_list == NULL)
		goto out;
	/* Lines of 72 letters and digits: never a leading '.', so no dot-stuffing is needed and
	 * the body arrives byte for byte as sent. */
	for (size_t i = 0; i < b->pattern_len; i++) {
		size_t col = i % SMTPB_LINE;

		b->pattern[i] =
			col == SMTPB_LINE - 2 ? '\r'
			: col == SMTPB_LINE - 1
				? '\n'
				: "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
					  [(i * 7 + i / SMTPB_LINE) % 62];
	}
	for (unsigned int i = 0; i < b->max_conns; i++) {
		b->conns[i].fd = -1;
		b->conns[i].pend = calloc(SCN_STEPS_MAX + 1, sizeof(struct smtpb_pend));
		if (b->conns[i].pend == NULL)
			goto out;
		b->free_list[b->max_conns - 1 - i] = (int) i;
	}
	b->n_free = b->max_conns;
	for (unsigned int v = 0; v < SCN_VERB_MAX; v++)
		bench_hist_init(&b->hist[v]);
	b->rng = b->seed;
	b->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (b->epfd < 0)
		goto out;
	if (bench_pin(cpu) < 0)
		fprintf(stderr, "smtp: cannot pin to CPU %d, ignoring\n", cpu);
	signal(SIGINT, smtpb_on_signal);
	signal(SIGTERM, smtpb_on_signal);
	signal(SIGPIPE, SIG_IGN);
	{
		/* The server's CPU is read when the warm-up ends (smtpb_run) and at the end. */
		uint64_t c0 = bench_cpu_ns();
		double cpu1;

		if (b->sink_stats != NULL) {
			uint64_t plain;

			if (smtpb_sink_read(b->sink_stats, &b->sink_ok0, &b->sink_bad0, &plain) <
				0) {
				fprintf(stderr, "smtp: cannot read %s\n", b->sink_stats);
				goto out;
			}
		}
		if (smtpb_run(b) < 0)
			goto out;
		cpu1 = smtpb_server_cpu(b);
		smtpb_report(b, b->cpu_sampled ? b->cpu0 : -1, cpu1, bench_cpu_ns() - c0);
	}
	rc = 0;
	for (unsigned int i = 0; i < b->scn.n_kinds; i++)
		if (b->ks[i].completed == 0 && b->ks[i].started > 0)
			rc = 1;
out:
	if (b->epfd >= 0)
		close(b->epfd);
	if (b->conns != NULL)
		for (unsigned int i = 0; i < b->max_conns; i++) {
			free(b->conns[i].pend);
			free(b->conns[i].obuf);
		}
	free(b->conns);
	free(b->free_list);
	free(b->pattern);
	if (b->tls_ctx != NULL)
		SSL_CTX_free(b->tls_ctx);
	scn_free(&b->scn);
	free(b);
	return rc;
}
