/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Backend client of the proxy (MTA-facing side): opens the backend on the first accepted
 * recipient, replays the envelope pipelined (EHLO, then MAIL with SIZE/BODY when offered, and
 * RCPT), parses single- and multi-line replies (RFC 5321 §4.2.1) and maps them back to the
 * client: the backend's own reply for recipients and for the end of data, 451 4.4.1 on
 * failure and 421 4.4.2 on timeout. STARTTLS toward the backend (RFC 3207) per the policy the
 * transport gives (ops->backend_tls_mode): after the EHLO, STARTTLS when offered (or 451 4.7.4
 * when required and not offered), the handshake run by the transport, EHLO again inside TLS.
 * Runs on the thread that owns the session.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "smtp.h"
#include "ndg_common.h"

#define SMTP_RELAY_ANSWERS 0x80 /* ring entry flag: its reply goes to the client */

void
smtp_reply_parser_reset(struct smtp_reply_parser *rp)
{
	rp->code = 0;
	rp->text_len = 0;
	rp->line_len = 0;
	rp->nlines = 0;
	rp->cr = false;
	rp->bad = false;
	rp->last = false;
}

/* Where the current line is written: lines that do not fit leave room for the last one. */
static uint16_t
smtp_reply_line_start(const struct smtp_reply_parser *rp)
{
	return rp->text_len;
}

static void
smtp_reply_parser_eol(struct smtp_reply_parser *rp)
{
	uint16_t code;
	size_t kept = rp->line_len < 512 ? rp->line_len : 512;

	if (rp->line_len < 3 || rp->line_head[0] < '2' || rp->line_head[0] > '5' ||
		rp->line_head[1] < '0' || rp->line_head[1] > '9' || rp->line_head[2] < '0' ||
		rp->line_head[2] > '9' ||
		(rp->line_len > 3 && rp->line_head[3] != ' ' && rp->line_head[3] != '-')) {
		rp->bad = true;
		rp->last = true;
		return;
	}
	code = (uint16_t) ((rp->line_head[0] - '0') * 100 + (rp->line_head[1] - '0') * 10 +
			   (rp->line_head[2] - '0'));
	if (rp->nlines == 0)
		rp->code = code;
	else if (code != rp->code)
		rp->bad = true;
	rp->nlines++;
	rp->last = rp->line_len == 3 || rp->line_head[3] == ' ';
	/* Commit the line (already copied at text_len) and its CRLF when there is room for one
	 * more full line after it; otherwise the next line overwrites it. */
	if (rp->last || (size_t) rp->text_len + kept + 2 + 514 <= sizeof(rp->text)) {
		rp->text[rp->text_len + kept] = '\r';
		rp->text[rp->text_len + kept + 1] = '\n';
		rp->text_len = (uint16_t) (rp->text_len + kept + 2);
	}
}

int
smtp_reply_parser_feed(struct smtp_reply_parser *rp, const char *p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		char c = p[i];

		if (rp->cr) {
			rp->cr = false;
			if (c != '\n')
				rp->bad = true;
		}
		if (c == '\r') {
			rp->cr = true;
			continue;
		}
		if (c == '\n') {
			smtp_reply_parser_eol(rp);
			rp->line_len = 0;
			if (rp->last)
				return (int) (i + 1);
			continue;
		}
		if (rp->line_len < 4)
			rp->line_head[rp->line_len] = c;
		if (rp->line_len < 512) {
			uint16_t at = (uint16_t) (smtp_reply_line_start(rp) + rp->line_len);

			if ((size_t) at + 2 < sizeof(rp->text))
				rp->text[at] = c;
		}
		if (rp->line_len < UINT16_MAX)
			rp->line_len++;
	}
	return 0;
}

static void
smtp_relay_push(struct smtp_session *s, enum smtp_relay_cmd cmd, bool answers)
{
	struct smtp_relay *r = s->relay;
	uint32_t t =
		cmd == SMTP_RC_DOT ? s->conf->timeout_backend_dot_ms : s->conf->timeout_backend_ms;

	if (r == NULL)
		return; /* the backend connection is gone: nothing will answer */
	/* At most MAIL + RCPT + one trailing command are ever in flight. */
	if (r->count < SMTP_RELAY_PIPE) {
		r->pipe[(r->head + r->count) % SMTP_RELAY_PIPE] =
			(uint8_t) (cmd | (answers ? SMTP_RELAY_ANSWERS : 0));
		r->count++;
	}
	r->deadline = s->now + t;
}

static __attribute__((format(printf, 4, 5))) void
smtp_relay_cmd(struct smtp_session *s, enum smtp_relay_cmd cmd, bool answers, const char *fmt, ...)
{
	char buf[SMTP_PATH_MAX + SMTP_DOMAIN_MAX + 64];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t) n >= sizeof(buf))
		return;
	s->ops->backend_send(s->arg, buf, (size_t) n);
	smtp_relay_push(s, cmd, answers);
}

static void
smtp_relay_reset(struct smtp_relay *r, enum smtp_relay_state st)
{
	r->state = (uint8_t) st;
	r->head = 0;
	r->count = 0;
	r->deadline = 0;
	r->rcpt_pending = false;
	r->tls = false;
	r->tls_off = false;
	r->tls_mode = SMTP_BTLS_NONE;
	smtp_reply_parser_reset(&r->rp);
}

static void
smtp_relay_send_rcpt(struct smtp_session *s)
{
	smtp_relay_cmd(s, SMTP_RC_RCPT, true, "RCPT TO:<%s>\r\n", s->txn->rcpt + s->txn->rcpt_skip);
}

/* MAIL (with SIZE/BODY when the backend offers them) and, pipelined when allowed, RCPT. */
static void
smtp_relay_start_txn(struct smtp_session *s)
{
	struct smtp_relay *r = s->relay;
	char size[40] = "";

	if ((r->caps & SMTP_RCAP_SIZE) && s->txn->size_decl != 0)
		(void) snprintf(size, sizeof(size), " SIZE=%llu",
			(unsigned long long) s->txn->size_decl);
	smtp_relay_cmd(s, SMTP_RC_MAIL, false, "MAIL FROM:<%s>%s%s\r\n",
		s->txn->sender_out_len != 0 ? s->txn->sender_out : s->txn->sender, size,
		((r->caps & SMTP_RCAP_8BITMIME) && s->txn->body_8bit) ? " BODY=8BITMIME" : "");
	r->state = SMTP_RL_TXN;
	if (r->caps & SMTP_RCAP_PIPELINING)
		smtp_relay_send_rcpt(s); /* RFC 2920 §3.1: MAIL and RCPT may be grouped */
	else
		r->rcpt_pending = true;
}

int
smtp_relay_rcpt(struct smtp_session *s)
{
	struct smtp_relay *r = s->relay;
	int ret;

	switch (smtp_relay_state(s)) {
	case SMTP_RL_IDLE:
	case SMTP_RL_FAILED:
		if (r == NULL) {
			r = smtp_session_blk_get(s, SMTP_BLK_RELAY);
			if (r == NULL)
				return -SMTP_ENOBLK;
			s->relay = r;
		}
		s->relay_failed = false;
		smtp_relay_reset(r, SMTP_RL_IDLE);
		ret = s->ops->backend_open(s->arg);
		if (ret < 0)
			return ret;
		r->state = SMTP_RL_CONNECTING;
		r->caps = 0;
		smtp_relay_push(s, SMTP_RC_GREETING, false);
		return 0;
	case SMTP_RL_READY:
		smtp_relay_start_txn(s);
		return 0;
	case SMTP_RL_TXN:
		smtp_relay_send_rcpt(s);
		return 0;
	default:
		return -EPROTO;
	}
}

int
smtp_relay_data(struct smtp_session *s)
{
	if (smtp_relay_state(s) != SMTP_RL_TXN)
		return -EPIPE;
	smtp_relay_cmd(s, SMTP_RC_DATA, true, "DATA\r\n");
	return 0;
}

void
smtp_relay_dot(struct smtp_session *s)
{
	if (s->relay == NULL)
		return;
	s->ops->backend_send(s->arg, ".\r\n", 3);
	smtp_relay_push(s, SMTP_RC_DOT, true);
}

void
smtp_relay_rset(struct smtp_session *s)
{
	struct smtp_relay *r = s->relay;

	if (r == NULL || r->state != SMTP_RL_TXN)
		return;
	smtp_relay_cmd(s, SMTP_RC_RSET, false, "RSET\r\n");
	r->state = SMTP_RL_READY;
}

void
smtp_relay_quit(struct smtp_session *s)
{
	struct smtp_relay *r = s->relay;

	if (r == NULL || r->state == SMTP_RL_IDLE || r->state == SMTP_RL_FAILED)
		return;
	if (r->state == SMTP_RL_READY || r->state == SMTP_RL_TXN)
		s->ops->backend_send(s->arg, "QUIT\r\n", 6);
	s->ops->backend_close(s->arg);
	smtp_relay_reset(r, SMTP_RL_IDLE);
}

void
smtp_relay_abort(struct smtp_session *s)
{
	if (s->relay == NULL || s->relay->state == SMTP_RL_IDLE ||
		s->relay->state == SMTP_RL_FAILED)
		return;
	s->ops->backend_close(s->arg);
	smtp_relay_reset(s->relay, SMTP_RL_IDLE);
}

/* The backend failed: <id> (451) to the waiting command, or 421 4.4.2 on <timeout>. */
static void
smtp_relay_fail_id(struct smtp_session *s, bool timeout, enum smtp_reply_id id)
{
	struct smtp_relay *r = s->relay;

	if (r != NULL) {
		if (r->state != SMTP_RL_IDLE && r->state != SMTP_RL_FAILED)
			s->ops->backend_close(s->arg);
		smtp_relay_reset(r, SMTP_RL_FAILED);
	} else {
		s->relay_failed = true;
	}
	if (s->state == SMTP_ST_DATA && s->wait == SMTP_WAIT_NONE) {
		/* Streaming: keep reading the client's data, answer 451 at its end. */
		s->txn->backend_failed = true;
		s->txn->data.discard = true;
		return;
	}
	if (s->wait != SMTP_WAIT_BACKEND) {
		/* Nothing waits (the backend's idle timeout, a restart, a reset between
		 * commands): recipients already accepted lived on the lost connection. A new one
		 * would carry only the later ones, and the first would lose the message with no
		 * bounce (there is no queue), so the rest of this transaction gets 451 and the
		 * client retries the whole message (DESIGN §3, the proxying invariant). */
		if (s->txn != NULL && s->state >= SMTP_ST_MAIL && s->txn->nrcpt != 0)
			s->txn->backend_failed = true;
		return;
	}
	if (timeout) {
		smtp_session_reply(s, SMTP_R_BACKEND_TIMEOUT);
		return;
	}
	if ((s->state == SMTP_ST_MAIL || s->state == SMTP_ST_RCPT) && s->txn->rcpt_len != 0)
		smtp_session_rcpt_failed(s, id);
	/* Recipients already accepted live on the lost backend: the transaction cannot go on. */
	if (s->txn != NULL)
		s->txn->backend_failed = s->state == SMTP_ST_RCPT && s->txn->nrcpt != 0;
	smtp_session_resume(s);
	if (s->state == SMTP_ST_DATA)
		smtp_session_txn_done(s);
	smtp_session_reply(s, id);
}

void
smtp_relay_fail(struct smtp_session *s, bool timeout)
{
	smtp_relay_fail_id(s, timeout, SMTP_R_BACKEND_FAIL);
}

enum smtp_btls_act
smtp_relay_tls_act(enum smtp_btls_mode mode, bool offered)
{
	if (mode != SMTP_BTLS_MAY && mode != SMTP_BTLS_ENCRYPT)
		return SMTP_BTLS_ACT_PLAIN;
	if (offered)
		return SMTP_BTLS_ACT_STARTTLS;
	/* RFC 3207 §4.1: a client that requires TLS must not send mail without it. */
	return mode == SMTP_BTLS_ENCRYPT ? SMTP_BTLS_ACT_FAIL : SMTP_BTLS_ACT_PLAIN;
}

static int
smtp_relay_tls_event(struct smtp_session *s, enum smtp_btls_ev ev)
{
	if (s->ops->backend_tls == NULL)
		return -ENOTSUP;
	return s->ops->backend_tls(s->arg, (uint8_t) ev);
}

static void
smtp_relay_caps_parse(struct smtp_relay *r)
{
	const char *t = r->rp.text, *end = t + r->rp.text_len;

	r->caps = 0;
	while (t < end) {
		const char *eol = memchr(t, '\r', (size_t) (end - t));
		size_t n;

		if (eol == NULL)
			eol = end;
		n = (size_t) (eol - t);
		if (n > 4) {
			const char *k = t + 4;
			size_t kl = n - 4;

			if (kl >= 10 && strncasecmp(k, "PIPELINING", 10) == 0 &&
				(kl == 10 || k[10] == ' '))
				r->caps |= SMTP_RCAP_PIPELINING;
			else if (kl >= 4 && strncasecmp(k, "SIZE", 4) == 0 &&
				 (kl == 4 || k[4] == ' '))
				r->caps |= SMTP_RCAP_SIZE;
			else if (kl >= 8 && strncasecmp(k, "8BITMIME", 8) == 0 &&
				 (kl == 8 || k[8] == ' '))
				r->caps |= SMTP_RCAP_8BITMIME;
			else if (kl == 8 && strncasecmp(k, "STARTTLS", 8) == 0)
				r->caps |= SMTP_RCAP_STARTTLS;
		}
		t = eol + 2;
	}
}

static void
smtp_relay_ready(struct smtp_session *s)
{
	s->relay->state = SMTP_RL_READY;
	if (s->wait == SMTP_WAIT_BACKEND &&
		(s->state == SMTP_ST_MAIL || s->state == SMTP_ST_RCPT) && s->txn->rcpt_len != 0)
		smtp_relay_start_txn(s);
}

/* EHLO (or HELO, caps 0) answered on a connection that is not in TLS yet, or is. */
static void
smtp_relay_ehlo_done(struct smtp_session *s)
{
	struct smtp_relay *r = s->relay;
	enum smtp_btls_mode mode = SMTP_BTLS_NONE;

	if (r->tls) {
		smtp_relay_ready(s);
		return;
	}
	if (!r->tls_off && s->ops->backend_tls_mode != NULL)
		mode = (enum smtp_btls_mode) s->ops->backend_tls_mode(s->arg);
	r->tls_mode = (uint8_t) mode;
	switch (smtp_relay_tls_act(mode, (r->caps & SMTP_RCAP_STARTTLS) != 0)) {
	case SMTP_BTLS_ACT_STARTTLS:
		smtp_relay_cmd(s, SMTP_RC_STARTTLS, false, "STARTTLS\r\n");
		return;
	case SMTP_BTLS_ACT_FAIL:
		(void) smtp_relay_tls_event(s, SMTP_BTLS_EV_NOT_OFFERED);
		s->ops->backend_send(s->arg, "QUIT\r\n", 6);
		smtp_relay_fail_id(s, false, SMTP_R_BTLS_NEEDED);
		return;
	default:
		(void) smtp_relay_tls_event(s, SMTP_BTLS_EV_PLAIN);
		smtp_relay_ready(s);
		return;
	}
}

/* The handshake failed or could not start: plaintext retry under 'may', else 451 4.7.5. */
static void
smtp_relay_tls_failed(struct smtp_session *s)
{
	struct smtp_relay *r = s->relay;

	if (r->tls_mode == SMTP_BTLS_MAY && s->wait == SMTP_WAIT_BACKEND &&
		(s->state == SMTP_ST_MAIL || s->state == SMTP_ST_RCPT) && s->txn->rcpt_len != 0) {
		(void) smtp_relay_tls_event(s, SMTP_BTLS_EV_FALLBACK);
		s->ops->backend_close(s->arg);
		smtp_relay_reset(r, SMTP_RL_IDLE);
		if (s->ops->backend_open(s->arg) == 0) {
			r->state = SMTP_RL_CONNECTING;
			r->caps = 0;
			r->tls_off = true; /* RFC 7435: opportunistic falls back to cleartext */
			smtp_relay_push(s, SMTP_RC_GREETING, false);
			return;
		}
		smtp_relay_fail_id(s, false, SMTP_R_BACKEND_FAIL);
		return;
	}
	smtp_relay_fail_id(s, false, SMTP_R_BTLS_FAIL);
}

void
smtp_session_backend_tls(struct smtp_session *s, uint64_t now, int err)
{
	struct smtp_relay *r = s->relay;
	bool outer;

	s->now = now;
	if (r == NULL || r->state != SMTP_RL_TLS)
		return;
	outer = smtp_session_enter(s);
	if (err != 0) {
		smtp_relay_tls_failed(s);
	} else {
		/* RFC 3207 §4.2: discard what the server said before TLS and ask again. */
		r->tls = true;
		r->state = SMTP_RL_CONNECTING;
		r->caps = 0;
		smtp_relay_cmd(s, SMTP_RC_EHLO, false, "EHLO %s\r\n", s->conf->hostname);
	}
	smtp_session_leave(s, outer);
}

void
smtp_relay_reply(struct smtp_session *s)
{
	struct smtp_relay *r = s->relay;
	struct smtp_reply_parser *rp = &r->rp;
	uint8_t e;
	bool answers, ok;

	/* A reply nobody asked for, garbage, or 421 (the backend is closing, RFC 5321 §3.8):
	 * the backend is gone for this session. Its 421 is never passed on, since to our client
	 * it would announce the end of a session that goes on. */
	if (r->count == 0 || rp->bad || rp->code == 421) {
		smtp_session_backend_error(s, s->now);
		return;
	}
	e = r->pipe[r->head];
	r->head = (uint8_t) ((r->head + 1) % SMTP_RELAY_PIPE);
	r->count--;
	r->deadline = r->count != 0 ? s->now + s->conf->timeout_backend_ms : 0;
	answers = (e & SMTP_RELAY_ANSWERS) != 0;
	ok = rp->code >= 200 && rp->code < 400;

	switch ((enum smtp_relay_cmd)(e & ~SMTP_RELAY_ANSWERS)) {
	case SMTP_RC_GREETING:
		if (rp->code != 220) {
			smtp_session_backend_error(s, s->now);
			return;
		}
		smtp_relay_cmd(s, SMTP_RC_EHLO, false, "EHLO %s\r\n", s->conf->hostname);
		return;
	case SMTP_RC_EHLO:
		if (rp->code == 250) {
			smtp_relay_caps_parse(r);
			smtp_relay_ehlo_done(s);
			return;
		}
		smtp_relay_cmd(s, SMTP_RC_HELO, false, "HELO %s\r\n", s->conf->hostname);
		return;
	case SMTP_RC_HELO:
		if (rp->code != 250) {
			smtp_session_backend_error(s, s->now);
			return;
		}
		r->caps = 0;
		smtp_relay_ehlo_done(s);
		return;
	case SMTP_RC_STARTTLS:
		if (rp->code == 220) {
			/* Bounded like any backend round trip: 421 4.4.2 when it stalls. */
			r->state = SMTP_RL_TLS;
			r->deadline = s->now + s->conf->timeout_backend_ms;
			if (smtp_relay_tls_event(s, SMTP_BTLS_EV_GO) != 0)
				smtp_relay_tls_failed(s);
			return;
		}
		(void) smtp_relay_tls_event(s, SMTP_BTLS_EV_REFUSED);
		if (r->tls_mode == SMTP_BTLS_ENCRYPT) {
			smtp_relay_fail_id(s, false, SMTP_R_BTLS_NEEDED);
			return;
		}
		smtp_relay_ready(s);
		return;
	case SMTP_RC_MAIL:
		if (rp->code == 250) {
			if (r->rcpt_pending) {
				r->rcpt_pending = false;
				smtp_relay_send_rcpt(s);
			}
			return;
		}
		/* Sender refused: the recipient waiting gets the backend's reason; a pipelined
		 * RCPT's own answer (503) is swallowed. The next RCPT retries MAIL. */
		r->state = SMTP_RL_READY;
		r->rcpt_pending = false;
		for (uint8_t i = 0; i < r->count; i++)
			r->pipe[(r->head + i) % SMTP_RELAY_PIPE] &= (uint8_t) ~SMTP_RELAY_ANSWERS;
		if (s->wait == SMTP_WAIT_BACKEND)
			smtp_session_rcpt_done(s, rp->code, rp->text, rp->text_len);
		return;
	case SMTP_RC_RCPT:
		if (answers)
			smtp_session_rcpt_done(s, rp->code, rp->text, rp->text_len);
		return;
	case SMTP_RC_DATA:
		if (rp->code == 354) {
			r->state = SMTP_RL_DATA;
			smtp_session_data_go(s);
			return;
		}
		smtp_session_resume(s);
		smtp_session_send(s, rp->text, rp->text_len);
		return;
	case SMTP_RC_DOT:
		/* The backend's final reply is the client's (DESIGN.md §3 Proxying). */
		if (rp->code >= 200 && rp->code < 300 && s->stats != NULL)
			__atomic_store_n(&s->stats->c[SMTP_STAT_DELIVERED],
				s->stats->c[SMTP_STAT_DELIVERED] + 1, __ATOMIC_RELAXED);
		r->state = SMTP_RL_READY;
		smtp_session_txn_done(s);
		smtp_session_resume(s);
		smtp_session_send(s, rp->text, rp->text_len);
		return;
	case SMTP_RC_RSET:
		if (!ok)
			smtp_session_backend_error(s, s->now);
		return;
	case SMTP_RC_QUIT:
	default:
		return;
	}
}
