/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Script syntax of the TCP conformance runner: header options, timed lines, segments in the
 * packetdrill notation, application calls and assertions (tests/tcp/README), and the one
 * formatter both the expected and the actual segments are printed with. EAL-free.
 */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>

#include <rte_tcp.h>

#include "tcp_script.h"
#include "ndg_common.h"

struct tsc_cur {
	const char *p;
	const char *err;
};

static void
tsc_skip_ws(struct tsc_cur *c)
{
	while (*c->p == ' ' || *c->p == '\t')
		c->p++;
}

/* Next whitespace-delimited word into <w>; false at end of line. */
static bool
tsc_word(struct tsc_cur *c, char *w, size_t size)
{
	size_t n = 0;

	tsc_skip_ws(c);
	if (*c->p == '\0')
		return false;
	while (*c->p != '\0' && *c->p != ' ' && *c->p != '\t' && *c->p != '<' && *c->p != '"') {
		if (n + 1 < size)
			w[n++] = *c->p;
		c->p++;
	}
	if (n == 0 && (*c->p == '<' || *c->p == '"')) {
		w[0] = *c->p++;
		n = 1;
	}
	w[n] = '\0';
	return true;
}

static bool
tsc_u32(const char *s, uint32_t *out)
{
	char *end;
	unsigned long long v;

	if (!isdigit((unsigned char) *s))
		return false;
	errno = 0;
	v = strtoull(s, &end, 0);
	if (errno != 0 || *end != '\0' || v > UINT32_MAX)
		return false;
	*out = (uint32_t) v;
	return true;
}

/* "1.25" seconds → 1250 ms; three decimals at most. */
static bool
tsc_seconds(const char *s, int64_t *ms)
{
	int64_t whole = 0, frac = 0;
	int digits = 0;

	if (!isdigit((unsigned char) *s))
		return false;
	while (isdigit((unsigned char) *s))
		whole = whole * 10 + (*s++ - '0');
	if (*s == '.') {
		s++;
		while (isdigit((unsigned char) *s)) {
			if (++digits > 3)
				return false;
			frac = frac * 10 + (*s++ - '0');
		}
	}
	if (*s != '\0')
		return false;
	while (digits++ < 3)
		frac *= 10;
	*ms = whole * 1000 + frac;
	return true;
}

/* Quoted string with C escapes at c->p (on the opening quote) into a new buffer. */
static uint8_t *
tsc_quoted(struct tsc_cur *c, uint32_t *len)
{
	uint8_t *buf = malloc(TSC_MAX_PAYLOAD);
	uint32_t n = 0;

	if (buf == NULL)
		return NULL;
	c->p++;
	while (*c->p != '"') {
		int ch = (unsigned char) *c->p++;

		if (ch == '\0' || n >= TSC_MAX_PAYLOAD) {
			c->err = "unterminated or too long string";
			free(buf);
			return NULL;
		}
		if (ch == '\\') {
			ch = (unsigned char) *c->p++;
			switch (ch) {
			case 'r':
				ch = '\r';
				break;
			case 'n':
				ch = '\n';
				break;
			case 't':
				ch = '\t';
				break;
			case '0':
				ch = '\0';
				break;
			case '\\':
			case '"':
				break;
			case 'x': {
				char hex[3] = {c->p[0], c->p[0] ? c->p[1] : '\0', '\0'};
				char *end;

				ch = (int) strtol(hex, &end, 16);
				if (end != hex + 2) {
					c->err = "bad \\x escape";
					free(buf);
					return NULL;
				}
				c->p += 2;
				break;
			}
			default:
				c->err = "unknown escape";
				free(buf);
				return NULL;
			}
		}
		buf[n++] = (uint8_t) ch;
	}
	c->p++;
	*len = n;
	return buf;
}

static bool
tsc_addr(const char *s, uint32_t *addr, uint16_t *port)
{
	char a[INET_ADDRSTRLEN];
	const char *colon = strchr(s, ':');
	size_t n = colon ? (size_t) (colon - s) : strlen(s);
	struct in_addr ia;
	uint32_t p = 0;

	if (n == 0 || n >= sizeof(a))
		return false;
	memcpy(a, s, n);
	a[n] = '\0';
	if (inet_pton(AF_INET, a, &ia) != 1)
		return false;
	if (colon != NULL && (!tsc_u32(colon + 1, &p) || p == 0 || p > 65535))
		return false;
	*addr = ia.s_addr;
	*port = (uint16_t) p;
	return true;
}

static bool
tsc_flags(const char *s, uint8_t *out)
{
	uint8_t f = 0;

	for (; *s; s++) {
		switch (*s) {
		case 'S':
			f |= RTE_TCP_SYN_FLAG;
			break;
		case 'F':
			f |= RTE_TCP_FIN_FLAG;
			break;
		case 'R':
			f |= RTE_TCP_RST_FLAG;
			break;
		case 'P':
			f |= RTE_TCP_PSH_FLAG;
			break;
		case 'U':
			f |= RTE_TCP_URG_FLAG;
			break;
		case '.':
			f |= RTE_TCP_ACK_FLAG;
			break;
		default:
			return false;
		}
	}
	*out = f;
	return f != 0;
}

/* "<mss 1460,sackOK,nop,wscale 7>" at c->p (on '<'). */
static bool
tsc_opts(struct tsc_cur *c, struct tsc_seg *s)
{
	const char *end = strchr(c->p, '>');
	char buf[TSC_MAX_LINE];
	char *save = NULL, *item;

	if (end == NULL || (size_t) (end - c->p) >= sizeof(buf)) {
		c->err = "unterminated <options>";
		return false;
	}
	memcpy(buf, c->p + 1, (size_t) (end - c->p - 1));
	buf[end - c->p - 1] = '\0';
	c->p = end + 1;
	s->has_opts = true;
	for (item = strtok_r(buf, ",", &save); item != NULL; item = strtok_r(NULL, ",", &save)) {
		struct tsc_opt *o;
		char *w[10], *ws = NULL;
		unsigned int nw = 0;

		for (char *t = strtok_r(item, " \t", &ws); t != NULL && nw < 10;
			t = strtok_r(NULL, " \t", &ws))
			w[nw++] = t;
		if (nw == 0)
			continue;
		if (s->n_opts >= TSC_MAX_OPTS) {
			c->err = "too many options";
			return false;
		}
		o = &s->opts[s->n_opts++];
		memset(o, 0, sizeof(*o));
		if (strcmp(w[0], "nop") == 0 && nw == 1) {
			o->kind = 1;
		} else if (strcmp(w[0], "eol") == 0 && nw == 1) {
			o->kind = 0;
		} else if (strcmp(w[0], "sackOK") == 0 && nw == 1) {
			o->kind = 4;
		} else if (strcmp(w[0], "mss") == 0 && nw == 2 && tsc_u32(w[1], &o->v[0])) {
			o->kind = 2;
			o->n = 1;
		} else if (strcmp(w[0], "wscale") == 0 && nw == 2 && tsc_u32(w[1], &o->v[0])) {
			o->kind = 3;
			o->n = 1;
		} else if (strcmp(w[0], "TS") == 0 && nw == 5 && strcmp(w[1], "val") == 0 &&
			   strcmp(w[3], "ecr") == 0 && tsc_u32(w[2], &o->v[0]) &&
			   tsc_u32(w[4], &o->v[1])) {
			o->kind = 8;
			o->n = 2;
		} else if (strcmp(w[0], "sack") == 0 && nw >= 2 && nw <= 5) {
			o->kind = 5;
			for (unsigned int i = 1; i < nw; i++) {
				char *colon = strchr(w[i], ':');

				if (colon == NULL)
					goto bad;
				*colon = '\0';
				if (!tsc_u32(w[i], &o->v[o->n]) ||
					!tsc_u32(colon + 1, &o->v[o->n + 1]))
					goto bad;
				o->n += 2;
			}
		} else {
			goto bad;
		}
	}
	return true;
bad:
	c->err = "bad option (mss N, wscale N, sackOK, sack L:R..., TS val N ecr N, nop, eol)";
	return false;
}

/* FLAGS SEQ:END(LEN) [ack N] [win N] [<opts>] ["payload"] [from|to ADDR[:PORT]] */
static bool
tsc_seg_parse(struct tsc_cur *c, struct tsc_seg *s)
{
	char w[TSC_MAX_LINE];
	uint32_t end;
	char *colon, *paren;

	if (!tsc_word(c, w, sizeof(w)) || !tsc_flags(w, &s->flags)) {
		c->err = "flags expected (S . P F R, e.g. S. or P.)";
		return false;
	}
	if (!tsc_word(c, w, sizeof(w))) {
		c->err = "SEQ:END(LEN) expected";
		return false;
	}
	{
		char *p = w;

		if (*p == '=') {
			s->abs_seq = true;
			p++;
		}
		colon = strchr(p, ':');
		paren = strchr(p, '(');
		if (colon == NULL || paren == NULL || paren < colon || p[strlen(p) - 1] != ')') {
			c->err = "SEQ:END(LEN) expected";
			return false;
		}
		*colon = '\0';
		*paren = '\0';
		p[strlen(p)] = '\0';
		paren[1 + strcspn(paren + 1, ")")] = '\0';
		if (!tsc_u32(p, &s->seq) || !tsc_u32(colon + 1, &end) ||
			!tsc_u32(paren + 1, &s->len) || end - s->seq != s->len) {
			c->err = "SEQ:END(LEN) with END = SEQ + LEN expected";
			return false;
		}
	}
	for (;;) {
		tsc_skip_ws(c);
		if (*c->p == '\0')
			break;
		if (*c->p == '<') {
			if (!tsc_opts(c, s))
				return false;
			continue;
		}
		if (*c->p == '"') {
			uint32_t n;

			s->payload = tsc_quoted(c, &n);
			if (s->payload == NULL)
				return false;
			if (n != s->len) {
				c->err = "payload string length differs from (LEN)";
				return false;
			}
			s->has_payload = true;
			continue;
		}
		tsc_word(c, w, sizeof(w));
		if (strcmp(w, "ack") == 0 || strcmp(w, "win") == 0) {
			bool is_ack = w[0] == 'a';
			char v[64];
			const char *p = v;
			uint32_t x;

			if (!tsc_word(c, v, sizeof(v)))
				goto bad;
			if (is_ack && *p == '=') {
				s->abs_ack = true;
				p++;
			}
			if (!tsc_u32(p, &x))
				goto bad;
			if (is_ack) {
				s->has_ack = true;
				s->ack = x;
			} else {
				s->has_win = true;
				s->win = x;
			}
		} else if (strcmp(w, "from") == 0 || strcmp(w, "to") == 0) {
			char v[64];

			if (!tsc_word(c, v, sizeof(v)) || !tsc_addr(v, &s->addr, &s->port))
				goto bad;
			s->has_addr = true;
		} else if (strcmp(w, "chain") == 0) {
			char v[64];
			uint32_t x;

			if (!tsc_word(c, v, sizeof(v)) || !tsc_u32(v, &x) || x < 1 || x > 8)
				goto bad;
			s->chain = (uint8_t) x;
		} else {
			goto bad;
		}
	}
	if ((s->flags & RTE_TCP_ACK_FLAG) && !s->has_ack) {
		c->err = "'.' (ACK) needs 'ack N'";
		return false;
	}
	return true;
bad:
	c->err = "unexpected word in a segment";
	return false;
}

static const struct {
	const char *name;
	int err;
} tsc_errs[] = {
	{"ECONNRESET", ECONNRESET},
	{"ECONNREFUSED", ECONNREFUSED},
	{"ECONNABORTED", ECONNABORTED},
	{"ETIMEDOUT", ETIMEDOUT},
	{"EHOSTUNREACH", EHOSTUNREACH},
	{"ENOBUFS", ENOBUFS},
	{"EPIPE", EPIPE},
	{"ENOTCONN", ENOTCONN},
};

const char *
tsc_errname(int err)
{
	for (size_t i = 0; i < NDG_ARRAY_SIZE(tsc_errs); i++)
		if (tsc_errs[i].err == err)
			return tsc_errs[i].name;
	return err == 0 ? "0" : "E?";
}

static bool
tsc_errparse(const char *s, int *err)
{
	for (size_t i = 0; i < NDG_ARRAY_SIZE(tsc_errs); i++)
		if (strcmp(tsc_errs[i].name, s) == 0) {
			*err = tsc_errs[i].err;
			return true;
		}
	return false;
}

static bool
tsc_app_parse(struct tsc_cur *c, struct tsc_line *l)
{
	static const char *const ops[TSC_APP_OP_MAX] = {
		[TSC_APP_ACCEPT] = "accept",
		[TSC_APP_CONNECT] = "connect",
		[TSC_APP_CONNECTED] = "connected",
		[TSC_APP_READ] = "read",
		[TSC_APP_READ_EOF] = "eof",
		[TSC_APP_AVAIL] = "avail",
		[TSC_APP_WRITE] = "write",
		[TSC_APP_SHUTDOWN] = "shutdown",
		[TSC_APP_CLOSE] = "close",
		[TSC_APP_ABORT] = "abort",
		[TSC_APP_CLOSED] = "closed",
		[TSC_APP_REFUSE] = "refuse",
	};
	char w[TSC_MAX_LINE];
	unsigned int i;

	if (!tsc_word(c, w, sizeof(w)))
		goto bad;
	for (i = 0; i < TSC_APP_OP_MAX; i++)
		if (strcmp(w, ops[i]) == 0)
			break;
	if (i == TSC_APP_OP_MAX)
		goto bad;
	l->app = (enum tsc_app_op) i;
	switch (l->app) {
	case TSC_APP_CONNECT:
		if (!tsc_word(c, w, sizeof(w)) || !tsc_addr(w, &l->addr, &l->port) || l->port == 0)
			goto bad;
		break;
	case TSC_APP_CONNECTED:
	case TSC_APP_CLOSED:
		if (tsc_word(c, w, sizeof(w)) && !tsc_errparse(w, &l->err))
			goto bad;
		break;
	case TSC_APP_READ:
	case TSC_APP_WRITE:
	case TSC_APP_AVAIL:
		tsc_skip_ws(c);
		if (*c->p == '"' && l->app != TSC_APP_AVAIL) {
			l->str = tsc_quoted(c, &l->n);
			if (l->str == NULL)
				return false;
			l->has_str = true;
		} else if (!tsc_word(c, w, sizeof(w)) || !tsc_u32(w, &l->n)) {
			goto bad;
		}
		if (l->app == TSC_APP_WRITE && tsc_word(c, w, sizeof(w))) {
			if (strcmp(w, "=>") != 0 || !tsc_word(c, w, sizeof(w)) ||
				!tsc_u32(w, &l->expect))
				goto bad;
			l->has_expect = true;
		}
		break;
	default:
		break;
	}
	if (tsc_word(c, w, sizeof(w)))
		goto bad;
	return true;
bad:
	if (c->err == NULL)
		c->err = "app: accept | connect A:P | connected [E] | read N|\"s\" | eof | avail N "
			 "| "
			 "write N|\"s\" [=> N] | shutdown | close | abort | closed [E] | refuse";
	return false;
}

static bool
tsc_check_parse(struct tsc_cur *c, struct tsc_line *l)
{
	char w[TSC_MAX_LINE], v[64];
	uint32_t x;

	if (!tsc_word(c, w, sizeof(w)))
		goto bad;
	if (strcmp(w, "%state") == 0) {
		l->check = TSC_CHECK_STATE;
		if (!tsc_word(c, l->name, sizeof(l->name)))
			goto bad;
	} else if (strcmp(w, "%conns") == 0) {
		l->check = TSC_CHECK_CONNS;
		if (!tsc_word(c, v, sizeof(v)) || !tsc_u32(v, &x))
			goto bad;
		l->value = x;
	} else if (strcmp(w, "%stat") == 0 || strcmp(w, "%conn") == 0) {
		l->check = strcmp(w, "%stat") == 0 ? TSC_CHECK_STAT : TSC_CHECK_CONN;
		if (!tsc_word(c, l->name, sizeof(l->name)) || !tsc_word(c, v, sizeof(v)) ||
			strcmp(v, "==") != 0 || !tsc_word(c, v, sizeof(v)) || !tsc_u32(v, &x))
			goto bad;
		l->value = x;
	} else if (strcmp(w, "%quiet") == 0) {
		l->check = TSC_CHECK_QUIET;
	} else {
		goto bad;
	}
	if (tsc_word(c, w, sizeof(w)))
		goto bad;
	return true;
bad:
	c->err = "%state NAME | %stat NAME == N | %conn FIELD == N | %conns N | %quiet";
	return false;
}

static const char *const tsc_icmp_codes[] = {
	"net",
	"host",
	"proto",
	"port",
	"frag-needed",
	NULL,
	NULL,
	NULL,
	NULL,
	NULL,
	NULL,
	NULL,
	NULL,
	"admin",
};

/* icmp unreach CODE [mtu N] for SEQ[:END(LEN)] [from ADDR] */
static bool
tsc_icmp_parse(struct tsc_cur *c, struct tsc_line *l)
{
	char w[TSC_MAX_LINE];
	uint32_t x;
	bool have_seq = false;

	if (!tsc_word(c, w, sizeof(w)) || strcmp(w, "unreach") != 0 || !tsc_word(c, w, sizeof(w)))
		goto bad;
	for (x = 0; x < NDG_ARRAY_SIZE(tsc_icmp_codes); x++)
		if (tsc_icmp_codes[x] != NULL && strcmp(tsc_icmp_codes[x], w) == 0)
			break;
	if (x == NDG_ARRAY_SIZE(tsc_icmp_codes))
		goto bad;
	l->icmp_code = (uint8_t) x;
	while (tsc_word(c, w, sizeof(w))) {
		if (strcmp(w, "mtu") == 0) {
			if (!tsc_word(c, w, sizeof(w)) || !tsc_u32(w, &x) || x > 65535)
				goto bad;
			l->icmp_mtu = (uint16_t) x;
		} else if (strcmp(w, "for") == 0) {
			if (!tsc_word(c, w, sizeof(w)))
				goto bad;
			w[strcspn(w, ":")] = '\0';
			if (!tsc_u32(w, &l->seg.seq))
				goto bad;
			have_seq = true;
		} else if (strcmp(w, "from") == 0) {
			if (!tsc_word(c, w, sizeof(w)) || !tsc_addr(w, &l->seg.addr, &l->seg.port))
				goto bad;
			l->seg.has_addr = true;
		} else {
			goto bad;
		}
	}
	if (have_seq)
		return true;
bad:
	c->err = "icmp unreach net|host|proto|port|frag-needed|admin [mtu N] for SEQ [from A]";
	return false;
}

/* Header option "--name value" over the stack configuration and the runner's. */
static bool
tsc_option(struct tsc_script *sc, const char *name, const char *val, const char **err)
{
	static const struct {
		const char *name;
		size_t off;
	} u32s[] = {
		{"max-conns", offsetof(struct tcp_cfg, max_conns)},
		{"synq-max", offsetof(struct tcp_cfg, synq_max)},
		{"max-per-src", offsetof(struct tcp_cfg, max_per_src)},
		{"rcvbuf", offsetof(struct tcp_cfg, rcvbuf)},
		{"sndbuf", offsetof(struct tcp_cfg, sndbuf)},
		{"time-wait-ms", offsetof(struct tcp_cfg, time_wait_ms)},
		{"fin-wait2-ms", offsetof(struct tcp_cfg, fin_wait2_ms)},
		{"orphan-ms", offsetof(struct tcp_cfg, orphan_ms)},
		{"connect-ms", offsetof(struct tcp_cfg, connect_ms)},
		{"rto-min-ms", offsetof(struct tcp_cfg, rto_min_ms)},
		{"rto-max-ms", offsetof(struct tcp_cfg, rto_max_ms)},
		{"rto-init-ms", offsetof(struct tcp_cfg, rto_init_ms)},
		{"delack-ms", offsetof(struct tcp_cfg, delack_ms)},
		{"max-rxmt", offsetof(struct tcp_cfg, max_rxmt)},
		{"synack-retries", offsetof(struct tcp_cfg, synack_retries)},
		{"ooo-max", offsetof(struct tcp_cfg, ooo_max)},
#ifdef TCP_F_ORPHAN_Q /* the stack's hostile-peer limits (issue 18) */
		{"ooo-ms", offsetof(struct tcp_cfg, ooo_ms)},
		{"max-orphans", offsetof(struct tcp_cfg, max_orphans)},
		{"orphans-per-src", offsetof(struct tcp_cfg, max_orphans_per_src)},
		{"orphan-retries", offsetof(struct tcp_cfg, orphan_retries)},
		{"invalid-ratelimit-ms", offsetof(struct tcp_cfg, invalid_ratelimit_ms)},
		{"challenge-ack-limit", offsetof(struct tcp_cfg, challenge_ack_limit)},
#endif
	};
	if (strcmp(name, "tail-ms") == 0)
		return tsc_u32(val, &sc->tail_ms) || (*err = "bad value", false);
	if (strcmp(name, "clock-base-ms") == 0)
		return tsc_u32(val, &sc->clock_base_ms) || (*err = "bad value", false);
	uint32_t x;

	for (size_t i = 0; i < NDG_ARRAY_SIZE(u32s); i++) {
		if (strcmp(name, u32s[i].name) != 0)
			continue;
		if (!tsc_u32(val, &x))
			goto bad;
		memcpy((char *) &sc->cfg + u32s[i].off, &x, sizeof(x));
		return true;
	}
	if (strcmp(name, "mss") == 0 && tsc_u32(val, &x) && x >= 88 && x <= 9000) {
		sc->cfg.mss = (uint16_t) x;
	} else if (strcmp(name, "sack") == 0 && (!strcmp(val, "on") || !strcmp(val, "off"))) {
		sc->cfg.sack = strcmp(val, "on") == 0;
	} else if (strcmp(name, "syncookies") == 0) {
		if (strcmp(val, "auto") == 0)
			sc->cfg.syncookies = TCP_SYNCOOKIE_AUTO;
		else if (strcmp(val, "always") == 0)
			sc->cfg.syncookies = TCP_SYNCOOKIE_ALWAYS;
		else if (strcmp(val, "never") == 0)
			sc->cfg.syncookies = TCP_SYNCOOKIE_NEVER;
		else
			goto bad;
	} else if (strcmp(name, "listen") == 0 && tsc_u32(val, &x) && x <= 65535) {
		sc->listen_port = (uint16_t) x;
	} else if (strcmp(name, "local-port") == 0 && tsc_u32(val, &x) && x > 0 && x <= 65535) {
		sc->local_port = (uint16_t) x;
	} else if (strcmp(name, "peer") == 0) {
		uint16_t port = 0;

		if (!tsc_addr(val, &sc->peer_addr, &port))
			goto bad;
		if (port != 0)
			sc->peer_port = port;
	} else {
		goto bad;
	}
	return true;
bad:
	*err = "unknown option or bad value";
	return false;
}

static int
tsc_parse_line(struct tsc_script *sc, char *text, int lineno, bool *seen_event)
{
	struct tsc_line *l;
	struct tsc_cur c = {text, NULL};
	char w[TSC_MAX_LINE];
	char *p;

	text[strcspn(text, "\r\n")] = '\0';
	/* Comments: '//' to the end of the line, outside strings. */
	for (p = text; *p; p++) {
		if (*p == '"') {
			for (p++; *p && *p != '"'; p++)
				if (*p == '\\' && p[1])
					p++;
			if (*p == '\0')
				break;
		} else if (p[0] == '/' && p[1] == '/') {
			*p = '\0';
			break;
		}
	}
	tsc_skip_ws(&c);
	if (*c.p == '\0')
		return 0;
	if (c.p[0] == '-' && c.p[1] == '-') {
		char name[64], *eq;
		const char *err = NULL;

		if (*seen_event) {
			c.err = "options go before the first timed line";
			goto fail;
		}
		tsc_word(&c, w, sizeof(w));
		eq = strchr(w, '=');
		if (eq != NULL) {
			*eq = '\0';
			snprintf(name, sizeof(name), "%.63s", w + 2);
			if (!tsc_option(sc, name, eq + 1, &err))
				c.err = err;
		} else {
			snprintf(name, sizeof(name), "%.63s", w + 2);
			if (!tsc_word(&c, w, sizeof(w)) || !tsc_option(sc, name, w, &err))
				c.err = err ? err : "option value expected";
		}
		if (c.err != NULL)
			goto fail;
		return 0;
	}
	*seen_event = true;
	l = realloc(sc->lines, (sc->n_lines + 1) * sizeof(*l));
	if (l == NULL)
		return -ENOMEM;
	sc->lines = l;
	l = &sc->lines[sc->n_lines];
	memset(l, 0, sizeof(*l));
	l->lineno = lineno;
	snprintf(l->text, sizeof(l->text), "%s", c.p);
	tsc_word(&c, w, sizeof(w));
	{
		char *t = w, *tilde = strchr(w, '~');

		if (tilde != NULL) {
			int64_t tol;

			*tilde = '\0';
			if (!tsc_seconds(tilde + 1, &tol)) {
				c.err = "bad ~tolerance";
				goto fail;
			}
			l->tol_ms = (uint32_t) tol;
		}
		if (*t == '+') {
			l->rel = true;
			t++;
		}
		if (!tsc_seconds(t, &l->t_ms)) {
			c.err = "time expected (+0.100 relative or 1.5 absolute, seconds)";
			goto fail;
		}
	}
	tsc_skip_ws(&c);
	if (c.p[0] == '<' && (c.p[1] == ' ' || c.p[1] == '\t')) {
		c.p++;
		tsc_skip_ws(&c);
		if (strncmp(c.p, "icmp", 4) == 0 && (c.p[4] == ' ' || c.p[4] == '\t')) {
			c.p += 4;
			l->kind = TSC_ICMP;
			if (!tsc_icmp_parse(&c, l))
				goto fail;
		} else {
			l->kind = TSC_IN;
			if (!tsc_seg_parse(&c, &l->seg))
				goto fail;
		}
	} else if (c.p[0] == '>' && (c.p[1] == ' ' || c.p[1] == '\t')) {
		c.p++;
		l->kind = TSC_OUT;
		if (!tsc_seg_parse(&c, &l->seg))
			goto fail;
	} else if (strncmp(c.p, "app", 3) == 0 && (c.p[3] == ' ' || c.p[3] == '\t')) {
		c.p += 3;
		l->kind = TSC_APP;
		if (!tsc_app_parse(&c, l))
			goto fail;
	} else if (c.p[0] == '%') {
		l->kind = TSC_CHECK;
		if (!tsc_check_parse(&c, l))
			goto fail;
	} else {
		c.err = "'<', '>', 'app' or '%' expected after the time";
		goto fail;
	}
	sc->n_lines++;
	return 0;
fail:
	fprintf(stderr, "%s:%d: %s\n    %s\n", sc->path, lineno, c.err ? c.err : "syntax error",
		text);
	return -EINVAL;
}

int
tsc_parse_file(const char *path, struct tsc_script *sc)
{
	char buf[TSC_MAX_LINE];
	bool seen_event = false;
	int lineno = 0, ret = 0;
	FILE *f = fopen(path, "r");

	if (f == NULL) {
		ret = -errno;
		fprintf(stderr, "%s: %s\n", path, strerror(errno));
		return ret;
	}
	sc->path = path;
	while (fgets(buf, sizeof(buf), f) != NULL) {
		lineno++;
		ret = tsc_parse_line(sc, buf, lineno, &seen_event);
		if (ret != 0)
			break;
	}
	fclose(f);
	return ret;
}

static size_t
tsc_opt_format(const struct tsc_opt *o, char *buf, size_t size)
{
	switch (o->kind) {
	case 0:
		return (size_t) snprintf(buf, size, "eol");
	case 1:
		return (size_t) snprintf(buf, size, "nop");
	case 2:
		return (size_t) snprintf(buf, size, "mss %" PRIu32, o->v[0]);
	case 3:
		return (size_t) snprintf(buf, size, "wscale %" PRIu32, o->v[0]);
	case 4:
		return (size_t) snprintf(buf, size, "sackOK");
	case 8:
		return (size_t) snprintf(buf, size, "TS val %" PRIu32 " ecr %" PRIu32, o->v[0],
			o->v[1]);
	case 5: {
		size_t n = (size_t) snprintf(buf, size, "sack");

		for (unsigned int i = 0; i + 1 < o->n && n < size; i += 2)
			n += (size_t) snprintf(buf + n, size - n, " %" PRIu32 ":%" PRIu32, o->v[i],
				o->v[i + 1]);
		return n;
	}
	default:
		return (size_t) snprintf(buf, size, "opt%u", o->kind);
	}
}

char *
tsc_seg_format(const struct tsc_seg *s, char dir, char *buf, size_t size)
{
	static const struct {
		uint8_t flag;
		char c;
	} order[] = {
		{RTE_TCP_FIN_FLAG, 'F'},
		{RTE_TCP_SYN_FLAG, 'S'},
		{RTE_TCP_RST_FLAG, 'R'},
		{RTE_TCP_PSH_FLAG, 'P'},
		{RTE_TCP_URG_FLAG, 'U'},
		{RTE_TCP_ACK_FLAG, '.'},
	};
	char fl[8];
	size_t n = 0, k = 0;

	for (size_t i = 0; i < NDG_ARRAY_SIZE(order); i++)
		if (s->flags & order[i].flag)
			fl[k++] = order[i].c;
	fl[k] = '\0';
	n += (size_t) snprintf(buf + n, size - n, "%c %s %s%" PRIu32 ":%" PRIu32 "(%" PRIu32 ")",
		dir, fl, s->abs_seq ? "=" : "", s->seq, s->seq + s->len, s->len);
	if (s->has_ack && n < size)
		n += (size_t) snprintf(buf + n, size - n, " ack %s%" PRIu32, s->abs_ack ? "=" : "",
			s->ack);
	if (s->has_win && n < size)
		n += (size_t) snprintf(buf + n, size - n, " win %" PRIu32, s->win);
	if (s->has_opts && n < size) {
		n += (size_t) snprintf(buf + n, size - n, " <");
		for (unsigned int i = 0; i < s->n_opts && n < size; i++) {
			if (i > 0)
				n += (size_t) snprintf(buf + n, size - n, ",");
			if (n < size)
				n += tsc_opt_format(&s->opts[i], buf + n, size - n);
		}
		if (n < size)
			n += (size_t) snprintf(buf + n, size - n, ">");
	}
	if (s->has_addr && n < size) {
		char a[INET_ADDRSTRLEN];

		inet_ntop(AF_INET, &s->addr, a, sizeof(a));
		n += (size_t) snprintf(buf + n, size - n, " %s %s", dir == '<' ? "from" : "to", a);
		if (s->port != 0 && n < size)
			snprintf(buf + n, size - n, ":%u", s->port);
	}
	return buf;
}
