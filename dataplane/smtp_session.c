/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The inbound SMTP session: state machine, the command table, the policy calls and the
 * decision records. Transport-agnostic: bytes in (any split), replies and actions out through
 * struct smtp_ops; time is an argument. Every function runs on the thread that owns <s>.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy.h"
#include "smtp.h"
#include "ndg_common.h"

/* Command flags (RFC-cited where the RFC decides). */
enum smtp_cmd_flags {
	SMTP_CMDF_NOARG =
		1u << 0, /* takes no argument (RFC 5321 §4.1.1.4 DATA, .5 RSET, .10 QUIT) */
	SMTP_CMDF_NEED_ARG = 1u << 1, /* argument required (HELO/EHLO domain, MAIL, RCPT) */
	SMTP_CMDF_LAST_IN_PIPE = 1u
				 << 2, /* RFC 2920 §3.1: may change state, ends a pipeline group */
};

struct smtp_cmd {
	const char *name;
	uint32_t key; /* first four letters, uppercase, little-endian: one compare per entry */
	uint8_t len;
	uint8_t flags;
	void (*proceed)(struct smtp_session *s, const char *arg, size_t n);
};

static const char *const smtp_state_names[SMTP_ST_MAX] = {
	[SMTP_ST_INIT] = "INIT",
	[SMTP_ST_CONNECTED] = "CONNECTED",
	[SMTP_ST_HELO] = "HELO",
	[SMTP_ST_MAIL] = "MAIL",
	[SMTP_ST_RCPT] = "RCPT",
	[SMTP_ST_DATA] = "DATA",
	[SMTP_ST_CLOSED] = "CLOSED",
};

const char *
smtp_strstate(enum smtp_state st)
{
	return (unsigned int) st < SMTP_ST_MAX ? smtp_state_names[st] : "INVALID";
}

void
smtp_enter_state(struct smtp_session *s, enum smtp_state st)
{
#ifdef SMTP_TRACE
	fprintf(stderr, "smtp %p: %s -> %s\n", (void *) s, smtp_strstate(s->state),
		smtp_strstate(st));
#endif
	s->state = (uint8_t) st;
}

void
smtp_conf_init(struct smtp_conf *c, const char *hostname)
{
	memset(c, 0, sizeof(*c));
	(void) snprintf(c->hostname, sizeof(c->hostname), "%s", hostname);
	c->max_size = 25u << 20;
	c->max_rcpt = SMTP_RCPT_MIN;
	c->max_errors = 20;
	c->max_junk = 5;
	c->greet_delay_ms = 0;
	c->timeout_cmd_ms = 300000;
	c->timeout_data_ms = 180000;
	c->timeout_backend_ms = 30000;
	c->timeout_backend_dot_ms = 600000;
	c->bare_mode = SMTP_BARE_REJECT;
	c->proxy = true;
}

static void
smtp_stat_inc(struct smtp_session *s, enum smtp_stat_id id)
{
	if (s->stats != NULL)
		__atomic_store_n(&s->stats->c[id], s->stats->c[id] + 1, __ATOMIC_RELAXED);
}

static void
smtp_rule_count(struct smtp_session *s, enum policy_rule rule, enum policy_outcome out)
{
	if (s->stats != NULL)
		__atomic_store_n(&s->stats->rule[rule][out], s->stats->rule[rule][out] + 1,
			__ATOMIC_RELAXED);
}

/* One decision record (DESIGN.md §4) and its counter. */
static void
smtp_decide(struct smtp_session *s, enum policy_rule rule, enum policy_outcome out,
	const char *rcpt, uint16_t code, const char *enh)
{
	struct policy_decision d;

	smtp_rule_count(s, rule, out);
	if (s->ops->decision == NULL)
		return;
	d.time_ms = s->now;
	d.peer = &s->peer;
	d.helo = s->helo;
	d.sender = s->txn != NULL ? s->txn->sender : "";
	d.rcpt = rcpt != NULL ? rcpt : "";
	d.rule = (uint8_t) rule;
	d.outcome = (uint8_t) out;
	d.code = code;
	d.enh = enh != NULL ? enh : "";
	s->ops->decision(s->arg, &d);
}

void
smtp_decide_reply(struct smtp_session *s, enum policy_rule rule, enum policy_outcome out,
	const char *rcpt, enum smtp_reply_id id)
{
	const struct smtp_reply_def *r = smtp_reply_get(id);

	smtp_decide(s, rule, out, rcpt, r->code, r->enh);
}

void
smtp_session_send(struct smtp_session *s, const char *p, size_t n)
{
	s->ops->reply(s->arg, p, n);
}

static void
smtp_session_close(struct smtp_session *s)
{
	if (s->state == SMTP_ST_CLOSED)
		return;
	smtp_enter_state(s, SMTP_ST_CLOSED);
	s->wait = SMTP_WAIT_NONE;
	smtp_relay_quit(s);
	s->ops->close(s->arg);
}

/* Count an error reply; past the limits, end the session (RFC 5321 §4.1.4 allows 421). */
static void
smtp_session_error(struct smtp_session *s, bool junk)
{
	char buf[128];
	int n;

	s->errors++;
	if (junk)
		s->junk++;
	if (s->errors <= s->conf->max_errors && s->junk <= s->conf->max_junk)
		return;
	smtp_stat_inc(s, SMTP_STAT_ERRORS_CLOSE);
	n = smtp_reply_format(SMTP_R_TOO_MANY_ERRORS, s->conf->hostname, buf, sizeof(buf));
	if (n > 0)
		smtp_session_send(s, buf, (size_t) n);
	smtp_session_close(s);
}

void
smtp_session_reply(struct smtp_session *s, enum smtp_reply_id id)
{
	const struct smtp_reply_def *r = smtp_reply_get(id);
	char buf[SMTP_DOMAIN_MAX + 128];

	if (r->line != NULL) {
		smtp_session_send(s, r->line, r->line_len);
	} else {
		int n = smtp_reply_format(id, s->conf->hostname, buf, sizeof(buf));

		if (n <= 0)
			return;
		smtp_session_send(s, buf, (size_t) n);
	}
	if (r->close)
		smtp_session_close(s);
	else if (r->code >= 400 && !s->out_backend) /* a backend's refused mail is no abuse */
		smtp_session_error(s, id == SMTP_R_SYNTAX);
}

/* ---- borrowed blocks ---- */

void *
smtp_session_blk_get(struct smtp_session *s, enum smtp_blk_kind kind)
{
	void *b = s->ops->blk_get != NULL ? s->ops->blk_get(s->arg, (uint8_t) kind) : NULL;

	if (b == NULL)
		smtp_stat_inc(s, SMTP_STAT_NO_MEM);
	return b;
}

static void
smtp_session_blk_put(struct smtp_session *s, enum smtp_blk_kind kind, void *b)
{
	s->ops->blk_put(s->arg, (uint8_t) kind, b);
}

/* Forget the transaction's content; the block stays until smtp_session_settle(). */
static void
smtp_txn_reset(struct smtp_session *s)
{
	struct smtp_txn *t = s->txn;

	if (t == NULL)
		return;
	t->nrcpt = 0;
	t->nrcpt_seen = 0;
	t->size_decl = 0;
	t->null_sender = false;
	t->body_8bit = false;
	t->backend_failed = false;
	t->rcpt_rule = 0;
	t->sender_len = 0;
	t->sender[0] = '\0';
	t->sender_out_len = 0;
	t->rcpt_skip = 0;
	t->rcpt_len = 0;
	t->rcpt[0] = '\0';
	memset(&t->data, 0, sizeof(t->data));
}

/* A transaction starts (MAIL): borrow its block. @return false when none is free. */
static bool
smtp_txn_begin(struct smtp_session *s)
{
	if (s->txn == NULL) {
		s->txn = smtp_session_blk_get(s, SMTP_BLK_TXN);
		if (s->txn == NULL)
			return false;
	}
	smtp_txn_reset(s);
	return true;
}

/*
 * Return the blocks the session does not need any more: the line block between commands, the
 * transaction block outside MAIL..DATA, the relay block once the backend connection is gone.
 * Called when the outermost entry point ends (a transport callback may re-enter the engine,
 * e.g. backend_send failing into smtp_session_backend_error()), so callees may keep pointers
 * to the blocks while they run.
 */
static void
smtp_session_settle(struct smtp_session *s)
{
	bool closed = s->state == SMTP_ST_CLOSED;

	if (s->line != NULL && (closed || (!s->line_held && s->line->total == 0 && !s->line->cr))) {
		smtp_session_blk_put(s, SMTP_BLK_LINE, s->line);
		s->line = NULL;
	}
	if (s->txn != NULL && (closed || s->state < SMTP_ST_MAIL)) {
		smtp_session_blk_put(s, SMTP_BLK_TXN, s->txn);
		s->txn = NULL;
	}
	if (s->relay != NULL &&
		(s->relay->state == SMTP_RL_IDLE || s->relay->state == SMTP_RL_FAILED)) {
		s->relay_failed = s->relay->state == SMTP_RL_FAILED;
		smtp_session_blk_put(s, SMTP_BLK_RELAY, s->relay);
		s->relay = NULL;
	}
}

/* Entering an entry point. @return whether it is the outermost one. */
bool
smtp_session_enter(struct smtp_session *s)
{
	bool outer = !s->busy;

	s->busy = true;
	return outer;
}

/* Leaving an entry point entered with <outer>: the outermost one settles the blocks. */
void
smtp_session_leave(struct smtp_session *s, bool outer)
{
	if (!outer)
		return;
	s->busy = false;
	smtp_session_settle(s);
}

void
smtp_session_fini(struct smtp_session *s)
{
	if (s->line != NULL)
		smtp_session_blk_put(s, SMTP_BLK_LINE, s->line);
	if (s->txn != NULL)
		smtp_session_blk_put(s, SMTP_BLK_TXN, s->txn);
	if (s->relay != NULL)
		smtp_session_blk_put(s, SMTP_BLK_RELAY, s->relay);
	s->line = NULL;
	s->txn = NULL;
	s->relay = NULL;
}

unsigned int
smtp_session_blocks(const struct smtp_session *s)
{
	return (s->line != NULL) + (s->txn != NULL) + (s->relay != NULL);
}

void
smtp_session_init(struct smtp_session *s, const struct smtp_conf *conf, const struct smtp_ops *ops,
	void *arg, struct policy *pol, struct smtp_stats *stats, const struct policy_peer *peer)
{
	memset(s, 0, sizeof(*s));
	s->conf = conf;
	s->ops = ops;
	s->arg = arg;
	s->pol = pol;
	s->stats = stats;
	s->peer = *peer;
	s->deadline = UINT64_MAX;
}

static void
smtp_session_greet(struct smtp_session *s)
{
	smtp_session_reply(s, SMTP_R_GREETING);
	smtp_enter_state(s, SMTP_ST_CONNECTED);
	s->deadline = s->now + s->conf->timeout_cmd_ms;
}

void
smtp_session_start(struct smtp_session *s, uint64_t now, uint32_t peer_conns)
{
	const struct policy *p = s->pol;

	s->now = now;
	smtp_stat_inc(s, SMTP_STAT_SESSIONS);
	if (s->out != NULL)
		smtp_stat_inc(s, SMTP_STAT_OUT_SESSIONS);
	if (peer_conns == SMTP_PEER_CONNS_UNKNOWN) {
		/* Our shortage, not the sender's doing: no rule, no record, no verdict. */
		smtp_stat_inc(s, SMTP_STAT_SRC_TABLE_FULL);
		smtp_session_reply(s, SMTP_R_NO_MEM_CLOSE);
		return;
	}
	if (policy_cidr_match(p->blocklist, p->n_block, &s->peer)) {
		if (p->mode[POLICY_RULE_BLOCKLIST] == POLICY_ENFORCE) {
			smtp_decide_reply(s, POLICY_RULE_BLOCKLIST, POLICY_OUT_REJECT, NULL,
				SMTP_R_BLOCKED);
			smtp_session_reply(s, SMTP_R_BLOCKED);
			return;
		}
		smtp_decide_reply(s, POLICY_RULE_BLOCKLIST, POLICY_OUT_OBSERVE, NULL,
			SMTP_R_BLOCKED);
	}
	/* The backend MTAs sending out open as many connections as their queues need. */
	if (p->max_conn_per_ip != 0 && peer_conns > p->max_conn_per_ip && !s->out_backend) {
		if (p->mode[POLICY_RULE_CONN_LIMIT] == POLICY_ENFORCE) {
			smtp_decide_reply(s, POLICY_RULE_CONN_LIMIT, POLICY_OUT_REJECT, NULL,
				SMTP_R_TOO_MANY_CONN);
			smtp_session_reply(s, SMTP_R_TOO_MANY_CONN);
			return;
		}
		smtp_decide_reply(s, POLICY_RULE_CONN_LIMIT, POLICY_OUT_OBSERVE, NULL,
			SMTP_R_TOO_MANY_CONN);
	}
	if (s->conf->greet_delay_ms == 0) {
		smtp_session_greet(s);
		return;
	}
	s->deadline = now + s->conf->greet_delay_ms;
}

/* ---- commands ---- */

static bool
smtp_is_space(char c)
{
	return c == ' ' || c == '\t';
}

/* Append <n> bytes of <p> at <*o> when they fit. */
static void
smtp_put(char *buf, size_t sz, size_t *o, const char *p, size_t n)
{
	if (*o + n <= sz) {
		memcpy(buf + *o, p, n);
		*o += n;
	}
}

#define SMTP_PUT_LIT(buf, sz, o, lit) smtp_put(buf, sz, o, lit, sizeof(lit) - 1)

/* The EHLO reply (RFC 5321 §4.1.1.1) with our extensions, without printf: it is on the
 * path of every session. */
static size_t
smtp_ehlo_render(const struct smtp_conf *c, bool tls, char *buf, size_t sz)
{
	char num[24];
	size_t o = 0, nl = 0;
	uint64_t v = c->max_size;

	SMTP_PUT_LIT(buf, sz, &o, "250-");
	smtp_put(buf, sz, &o, c->hostname, strnlen(c->hostname, SMTP_DOMAIN_MAX));
	SMTP_PUT_LIT(buf, sz, &o, "\r\n250-PIPELINING\r\n250-SIZE");
	if (v != 0) {
		do {
			num[sizeof(num) - 1 - nl++] = (char) ('0' + v % 10);
			v /= 10;
		} while (v != 0);
		SMTP_PUT_LIT(buf, sz, &o, " ");
		smtp_put(buf, sz, &o, num + sizeof(num) - nl, nl);
	}
	SMTP_PUT_LIT(buf, sz, &o, "\r\n250-ENHANCEDSTATUSCODES\r\n");
	/* RFC 3207 §4.2: not offered again once TLS is running. */
	if (c->starttls && !tls)
		SMTP_PUT_LIT(buf, sz, &o, "250-STARTTLS\r\n");
	SMTP_PUT_LIT(buf, sz, &o, "250 8BITMIME\r\n");
	return o;
}

/*
 * Is <arg>[<n>] a hostname (letters, digits, '-', '.', '_' as Postfix tolerates) or an
 * address literal ('[' digits, hex, '.', ':' and an "IPv6:" tag ']')? Anything else, a tab,
 * an escape, 8-bit bytes, a space, would end up in the Received line the proxy writes.
 */
static bool
smtp_helo_is_valid(const char *arg, size_t n)
{
	size_t i = 0;

	if (n == 0)
		return false;
	if (arg[0] == '[') {
		if (n < 3 || arg[n - 1] != ']')
			return false;
		i = 1;
		if (n > 6 && (arg[1] | 0x20) == 'i' && (arg[2] | 0x20) == 'p' &&
			(arg[3] | 0x20) == 'v' && arg[4] == '6' && arg[5] == ':')
			i = 6;
		for (; i < n - 1; i++) {
			char c = arg[i];
			char l = (char) (c | 0x20);

			if (!(c >= '0' && c <= '9') && !(l >= 'a' && l <= 'f') && c != '.' &&
				c != ':')
				return false;
		}
		return true;
	}
	for (; i < n; i++) {
		char c = arg[i];
		char l = (char) (c | 0x20);

		if (!(c >= '0' && c <= '9') && !(l >= 'a' && l <= 'z') && c != '-' && c != '.' &&
			c != '_')
			return false;
	}
	return true;
}

static void
smtp_proceed_helo_common(struct smtp_session *s, const char *arg, size_t n, bool esmtp)
{
	char buf[SMTP_DOMAIN_MAX + 160];

	while (n > 0 && smtp_is_space(arg[n - 1]))
		n--;
	if (!smtp_helo_is_valid(arg, n)) {
		smtp_session_reply(s, SMTP_R_HELO_SYNTAX);
		return;
	}
	if (n > SMTP_DOMAIN_MAX)
		n = SMTP_DOMAIN_MAX;
	memcpy(s->helo, arg, n);
	s->helo[n] = '\0';
	s->helo_len = (uint16_t) n;
	s->esmtp = esmtp;
	/* RFC 5321 §4.1.4: HELO/EHLO resets any transaction. */
	if (s->state >= SMTP_ST_MAIL)
		smtp_relay_rset(s);
	smtp_txn_reset(s);
	smtp_enter_state(s, SMTP_ST_HELO);
	if (!esmtp) {
		smtp_session_reply(s, SMTP_R_HELO);
		return;
	}
	smtp_session_send(s, buf, smtp_ehlo_render(s->conf, s->tls, buf, sizeof(buf)));
}

static void
smtp_proceed_helo(struct smtp_session *s, const char *arg, size_t n)
{
	smtp_proceed_helo_common(s, arg, n, false);
}

static void
smtp_proceed_ehlo(struct smtp_session *s, const char *arg, size_t n)
{
	smtp_proceed_helo_common(s, arg, n, true);
}

/* "FROM:" / "TO:" prefix, one optional space after the colon (common client deviation). */
static bool
smtp_strip_prefix(const char **arg, size_t *n, const char *pfx)
{
	size_t l = strlen(pfx);

	if (*n < l || strncasecmp(*arg, pfx, l) != 0)
		return false;
	*arg += l;
	*n -= l;
	if (*n > 0 && **arg == ' ') {
		(*arg)++;
		(*n)--;
	}
	return true;
}

/* Parse "SIZE=" digits (RFC 1870 §5). @return 0 or -EINVAL. */
static int
smtp_parse_size(const char *v, size_t n, uint64_t *out)
{
	uint64_t x = 0;

	if (n == 0 || n > 20)
		return -EINVAL;
	for (size_t i = 0; i < n; i++) {
		if (v[i] < '0' || v[i] > '9')
			return -EINVAL;
		if (x > (UINT64_MAX - 9) / 10)
			return -EINVAL;
		x = x * 10 + (uint64_t) (v[i] - '0');
	}
	*out = x;
	return 0;
}

static void
smtp_proceed_mail(struct smtp_session *s, const char *arg, size_t n)
{
	struct smtp_addr a;
	size_t end, i;
	bool seen_size = false, seen_body = false;
	uint64_t size = 0;
	bool body8 = false;
	int r;

	if (s->state == SMTP_ST_CONNECTED) {
		smtp_session_reply(s, SMTP_R_NEED_HELO);
		return;
	}
	if (s->state != SMTP_ST_HELO) {
		smtp_session_reply(s, SMTP_R_NESTED_MAIL);
		return;
	}
	if (!smtp_strip_prefix(&arg, &n, "FROM:")) {
		smtp_session_reply(s, SMTP_R_PARAM_SYNTAX);
		return;
	}
	r = smtp_addr_parse(arg, n, true, &a, &end);
	if (r < 0) {
		smtp_session_reply(s, SMTP_R_MAIL_SYNTAX);
		return;
	}
	/* Mail-parameters (RFC 5321 §4.1.2): SP esmtp-keyword["=" esmtp-value] ... */
	for (i = end; i < n;) {
		size_t ks, ke, ve;

		if (arg[i] != ' ') {
			smtp_session_reply(s, SMTP_R_MAIL_SYNTAX);
			return;
		}
		while (i < n && arg[i] == ' ')
			i++;
		if (i == n)
			break;
		ks = i;
		while (i < n && arg[i] != ' ' && arg[i] != '=')
			i++;
		ke = i;
		if (i < n && arg[i] == '=')
			i++;
		while (i < n && arg[i] != ' ')
			i++;
		ve = i;
		if (ke - ks == 4 && strncasecmp(arg + ks, "SIZE", 4) == 0 && !seen_size &&
			ve > ke + 1) {
			if (smtp_parse_size(arg + ke + 1, ve - ke - 1, &size) < 0) {
				smtp_session_reply(s, SMTP_R_PARAM_SYNTAX);
				return;
			}
			seen_size = true;
		} else if (ke - ks == 4 && strncasecmp(arg + ks, "BODY", 4) == 0 && !seen_body &&
			   ve > ke + 1) {
			const char *v = arg + ke + 1;
			size_t vl = ve - ke - 1;

			/* RFC 6152 §2: BODY=7BIT / BODY=8BITMIME */
			if (vl == 8 && strncasecmp(v, "8BITMIME", 8) == 0) {
				body8 = true;
			} else if (!(vl == 4 && strncasecmp(v, "7BIT", 4) == 0)) {
				smtp_session_reply(s, SMTP_R_MAIL_PARAM);
				return;
			}
			seen_body = true;
		} else {
			smtp_session_reply(s, SMTP_R_MAIL_PARAM);
			return;
		}
	}
	/* RFC 1870 §6.1: a declared size over the limit is refused at MAIL. */
	if (s->conf->max_size != 0 && size > s->conf->max_size) {
		smtp_session_reply(s, SMTP_R_SIZE_EXCEEDED);
		return;
	}
	/* No memory for a transaction: 451 (RFC 5321 §4.2.3, local error), the session goes on. */
	if (!smtp_txn_begin(s)) {
		smtp_session_reply(s, SMTP_R_NO_MEM);
		return;
	}
	s->txn->null_sender = (a.flags & SMTP_ADDR_NULL) != 0;
	s->txn->size_decl = size;
	s->txn->body_8bit = body8;
	/* The path as sent, without the brackets: what the backend and the record see. */
	s->txn->sender_len = (uint16_t) (end - 2);
	memcpy(s->txn->sender, arg + 1, end - 2);
	s->txn->sender[end - 2] = '\0';
	if (s->out != NULL) {
		/* Outbound: our senders only, rates, BATV signing (smtp_outbound.c). */
		enum smtp_reply_id id = smtp_out_mail(s, &a);

		if (id != SMTP_R_NONE) {
			smtp_txn_reset(s);
			smtp_session_reply(s, id);
			return;
		}
	}
	smtp_enter_state(s, SMTP_ST_MAIL);
	smtp_session_reply(s, SMTP_R_MAIL_OK);
}

static enum smtp_reply_id
smtp_rule_reply(enum policy_rule rule)
{
	switch (rule) {
	case POLICY_RULE_RELAY_BYPASS:
		return SMTP_R_RELAY_BYPASS;
	case POLICY_RULE_RELAY_DENIED:
		return SMTP_R_RELAY_DENIED;
	case POLICY_RULE_NULL_MULTI:
		return SMTP_R_NULL_MULTI;
	case POLICY_RULE_BATV:
		return SMTP_R_BATV_INVALID;
	case POLICY_RULE_NEVER_BOUNCE:
		return SMTP_R_NEVER_BOUNCE;
	case POLICY_RULE_UNKNOWN_USER:
		return SMTP_R_UNKNOWN_USER;
	case POLICY_RULE_DIR_STALE:
		return SMTP_R_DIR_STALE;
	case POLICY_RULE_RCPT_LIMIT:
		return SMTP_R_TOO_MANY_RCPT;
	case POLICY_RULE_HARVEST:
		return SMTP_R_HARVEST;
	case POLICY_RULE_OUT_RELAY_DENIED:
		return SMTP_R_RELAY_DENIED;
	case POLICY_RULE_OUT_SENDER:
		return SMTP_R_OUT_SENDER;
	case POLICY_RULE_OUT_SENDER_RATE:
	case POLICY_RULE_OUT_HOST_RATE:
		return SMTP_R_OUT_RATE;
	case POLICY_RULE_OUT_NDR:
		return SMTP_R_OUT_NDR;
	default:
		return SMTP_R_RCPT_OK;
	}
}

struct smtp_observe_arg {
	struct smtp_session *s;
	const char *rcpt;
};

static void
smtp_observe(void *arg, enum policy_rule rule)
{
	struct smtp_observe_arg *o = arg;

	smtp_decide_reply(o->s, rule, POLICY_OUT_OBSERVE, o->rcpt, smtp_rule_reply(rule));
}

static void
smtp_proceed_rcpt(struct smtp_session *s, const char *arg, size_t n)
{
	const struct policy *p = s->pol;
	struct smtp_observe_arg oa;
	struct policy_rcpt_ctx ctx;
	enum policy_rule rule;
	enum smtp_reply_id id;
	struct smtp_addr a;
	char norm[SMTP_ADDR_BUF], raw[SMTP_PATH_MAX + 1];
	uint32_t tarpit = 0;
	size_t end;
	int r, hv;

	if (s->state == SMTP_ST_CONNECTED) {
		smtp_session_reply(s, SMTP_R_NEED_HELO);
		return;
	}
	if (s->state != SMTP_ST_MAIL && s->state != SMTP_ST_RCPT) {
		smtp_session_reply(s, SMTP_R_NEED_MAIL);
		return;
	}
	if (!smtp_strip_prefix(&arg, &n, "TO:")) {
		smtp_session_reply(s, SMTP_R_PARAM_SYNTAX);
		return;
	}
	/* Raw path for the record: bounded copy of what the client sent. */
	{
		size_t rl = n < SMTP_PATH_MAX ? n : SMTP_PATH_MAX;

		memcpy(raw, arg, rl);
		raw[rl] = '\0';
	}
	/* "any" stage: the source's invalid-recipient budget (DESIGN.md §4). */
	hv = policy_harvest_check((struct policy_harvest *) &p->harvest, &s->peer, s->now, &tarpit);
	if (hv != 0 && p->mode[POLICY_RULE_HARVEST] == POLICY_OBSERVE) {
		smtp_decide_reply(s, POLICY_RULE_HARVEST, POLICY_OUT_OBSERVE, raw, SMTP_R_HARVEST);
		hv = 0;
		tarpit = 0;
	}
	if (hv == 2) {
		smtp_decide_reply(s, POLICY_RULE_HARVEST, POLICY_OUT_REJECT, raw, SMTP_R_HARVEST);
		smtp_session_reply(s, SMTP_R_HARVEST);
		return;
	}
	if (hv == 1 && !s->tarpit_pass) {
		/* Tarpit: the command itself waits, whatever its answer will be, so the delay
		 * says nothing about whether the address exists. */
		s->wait = SMTP_WAIT_TARPIT;
		s->wait_until = s->now + tarpit;
		s->line_held = true;
		return;
	}
	s->txn->nrcpt_seen++;
	/* RFC 5321 §4.5.3.1.10: 452 past the recipient buffer. */
	if (s->txn->nrcpt >= s->conf->max_rcpt) {
		smtp_decide_reply(s, POLICY_RULE_RCPT_LIMIT, POLICY_OUT_REJECT, raw,
			SMTP_R_TOO_MANY_RCPT);
		smtp_session_reply(s, SMTP_R_TOO_MANY_RCPT);
		return;
	}
	r = smtp_addr_parse(arg, n, false, &a, &end);
	if (r == -SMTP_ADDR_EROUTE) {
		smtp_decide_reply(s, POLICY_RULE_RELAY_BYPASS, POLICY_OUT_REJECT, raw,
			SMTP_R_RELAY_BYPASS);
		smtp_session_reply(s, SMTP_R_RELAY_BYPASS);
		return;
	}
	if (r < 0) {
		smtp_session_reply(s, SMTP_R_RCPT_SYNTAX);
		return;
	}
	/* From here on the record shows the path without its brackets. */
	memcpy(raw, arg + 1, end - 2);
	raw[end - 2] = '\0';
	if (end < n) {
		/* No RCPT extension is offered (no DSN): any parameter is refused. */
		smtp_session_reply(s, SMTP_R_RCPT_PARAM);
		return;
	}
	if (a.flags & SMTP_ADDR_POSTMASTER) {
		r = snprintf(norm, sizeof(norm), "postmaster");
	} else {
		r = smtp_addr_normalize(&a, p->local_case_sensitive, norm, sizeof(norm));
	}
	if (r < 0) {
		smtp_session_reply(s, SMTP_R_RCPT_SYNTAX);
		return;
	}
	ctx.peer = &s->peer;
	ctx.addr = &a;
	ctx.norm = norm;
	ctx.norm_len = (size_t) r;
	ctx.null_sender = s->txn->null_sender;
	ctx.nrcpt = s->txn->nrcpt;
	ctx.now = (uint64_t) ((int64_t) s->now + s->wall_offset_ms); /* policy wants Unix ms */
	oa.s = s;
	oa.rcpt = raw;
	if (s->out != NULL)
		rule = smtp_out_rcpt(s, &a, norm, (size_t) r, raw);
	else
		rule = policy_rcpt_eval(p, &ctx, smtp_observe, &oa);
	if (!policy_rule_accepts(rule)) {
		id = smtp_rule_reply(rule);
		if (s->out != NULL)
			id = smtp_out_reply(s, id);
		smtp_decide_reply(s, rule, POLICY_OUT_REJECT, raw, id);
		/* A bounce without a valid BATV tag guesses at our addresses as much as an
		 * unknown recipient does (forged bounces, harvest through the null sender). */
		if (rule == POLICY_RULE_UNKNOWN_USER || rule == POLICY_RULE_DIR_STALE ||
			rule == POLICY_RULE_BATV)
			policy_harvest_charge((struct policy_harvest *) &p->harvest, &s->peer,
				s->now);
		smtp_session_reply(s, id);
		return;
	}
	/* Accepted by policy: the path (no brackets) goes to the backend, which has the last word. */
	s->txn->rcpt_len = (uint16_t) (end - 2);
	memcpy(s->txn->rcpt, arg + 1, end - 2);
	s->txn->rcpt[end - 2] = '\0';
	/* Inbound: the backend knows its users, not their BATV tags (the record keeps it). */
	if (s->out == NULL && !(a.flags & SMTP_ADDR_QUOTED))
		s->txn->rcpt_skip = (uint8_t) smtp_addr_batv_strip(a.local, a.local_len);
	s->txn->rcpt_rule = (uint8_t) rule;
	if (!s->conf->proxy) {
		smtp_session_rcpt_done(s, 250, NULL, 0);
		return;
	}
	if (s->txn->backend_failed) {
		/* A new backend would miss the recipients already accepted. */
		smtp_decide_reply(s, rule, POLICY_OUT_REJECT, raw, SMTP_R_BACKEND_FAIL);
		smtp_session_reply(s, SMTP_R_BACKEND_FAIL);
		return;
	}
	if (smtp_relay_state(s) == SMTP_RL_IDLE || smtp_relay_state(s) == SMTP_RL_FAILED)
		smtp_stat_inc(s, SMTP_STAT_BACKEND_OPEN);
	r = smtp_relay_rcpt(s);
	if (r == -SMTP_ENOBLK) {
		/* No relay block: the recipient is refused for now, the session goes on. */
		smtp_decide_reply(s, (enum policy_rule) s->txn->rcpt_rule, POLICY_OUT_REJECT,
			s->txn->rcpt, SMTP_R_NO_MEM);
		smtp_session_reply(s, SMTP_R_NO_MEM);
		return;
	}
	if (r < 0) {
		smtp_stat_inc(s, SMTP_STAT_BACKEND_FAIL);
		smtp_decide_reply(s, (enum policy_rule) s->txn->rcpt_rule, POLICY_OUT_REJECT,
			s->txn->rcpt, SMTP_R_BACKEND_FAIL);
		smtp_session_reply(s, SMTP_R_BACKEND_FAIL);
		return;
	}
	s->wait = SMTP_WAIT_BACKEND;
}

/* Extract an RFC 3463 code ("2.1.5") from a reply text for the decision record. */
static void
smtp_enh_from_text(const char *text, size_t n, char *out, size_t outsz)
{
	size_t i = 4, o = 0;

	out[0] = '\0';
	if (n < 9 || (text[4] < '2' || text[4] > '5') || text[5] != '.')
		return;
	while (i < n && o + 1 < outsz && text[i] != ' ' && text[i] != '\r') {
		out[o++] = text[i++];
	}
	out[o] = '\0';
}

void
smtp_session_rcpt_done(struct smtp_session *s, uint16_t code, const char *text, size_t n)
{
	char enh[16];
	bool ok = code >= 200 && code < 300;

	smtp_session_resume(s);
	if (text == NULL) {
		smtp_decide_reply(s, (enum policy_rule) s->txn->rcpt_rule, POLICY_OUT_ACCEPT,
			s->txn->rcpt, SMTP_R_RCPT_OK);
		smtp_session_reply(s, SMTP_R_RCPT_OK);
	} else {
		smtp_enh_from_text(text, n, enh, sizeof(enh));
		smtp_decide(s, (enum policy_rule) s->txn->rcpt_rule,
			ok ? POLICY_OUT_ACCEPT : POLICY_OUT_REJECT, s->txn->rcpt, code, enh);
		if (!ok)
			smtp_stat_inc(s, SMTP_STAT_BACKEND_REFUSED);
		smtp_session_send(s, text, n);
	}
	if (ok) {
		s->txn->nrcpt++;
		if (s->state == SMTP_ST_MAIL)
			smtp_enter_state(s, SMTP_ST_RCPT);
	}
}

/* The backend failed while the current RCPT waited for it: record the 451 (<id>) it gets. */
void
smtp_session_rcpt_failed(struct smtp_session *s, enum smtp_reply_id id)
{
	smtp_stat_inc(s, SMTP_STAT_BACKEND_FAIL);
	smtp_decide_reply(s, (enum policy_rule) s->txn->rcpt_rule, POLICY_OUT_REJECT, s->txn->rcpt,
		id);
}

static void
smtp_session_data_out(void *arg, const char *p, size_t n)
{
	struct smtp_session *s = arg;

	s->ops->backend_send(s->arg, p, n);
}

void
smtp_session_data_go(struct smtp_session *s)
{
	s->wait = SMTP_WAIT_NONE;
	if (s->conf->proxy && s->ops->data_begin != NULL)
		s->ops->data_begin(s->arg);
	smtp_data_init(&s->txn->data, (enum smtp_bare_mode) s->conf->bare_mode, s->conf->max_size,
		s->conf->proxy ? smtp_session_data_out : NULL, s);
	smtp_enter_state(s, SMTP_ST_DATA);
	s->deadline = s->now + s->conf->timeout_data_ms;
	smtp_session_reply(s, SMTP_R_DATA_GO);
}

void
smtp_session_txn_done(struct smtp_session *s)
{
	s->wait = SMTP_WAIT_NONE;
	smtp_txn_reset(s);
	if (s->state != SMTP_ST_CLOSED)
		smtp_enter_state(s, SMTP_ST_HELO);
}

void
smtp_session_resume(struct smtp_session *s)
{
	s->wait = SMTP_WAIT_NONE;
	s->deadline = s->now + s->conf->timeout_cmd_ms;
}

static void
smtp_proceed_data(struct smtp_session *s, const char *arg, size_t n)
{
	(void) arg;
	(void) n;
	if (s->state == SMTP_ST_CONNECTED) {
		smtp_session_reply(s, SMTP_R_NEED_HELO);
		return;
	}
	if (s->state == SMTP_ST_HELO) {
		smtp_session_reply(s, SMTP_R_BAD_SEQ);
		return;
	}
	if (s->state == SMTP_ST_MAIL) {
		smtp_session_reply(s, SMTP_R_NO_RCPT);
		return;
	}
	if (!s->conf->proxy) {
		/* No backend to hand the message to: never accept what cannot be delivered. */
		smtp_session_reply(s, SMTP_R_BACKEND_FAIL);
		return;
	}
	if (s->txn->backend_failed || smtp_relay_data(s) < 0) {
		smtp_session_reply(s, SMTP_R_BACKEND_FAIL);
		return;
	}
	s->wait = SMTP_WAIT_BACKEND;
}

static void
smtp_session_data_end(struct smtp_session *s)
{
	uint8_t f = s->txn->data.flags;
	enum smtp_reply_id id = SMTP_R_NONE;

	if (f & SMTP_DATA_BARE) {
		smtp_stat_inc(s, SMTP_STAT_DATA_BARE);
		id = SMTP_R_DATA_BARE;
	} else if (f & SMTP_DATA_TOO_BIG) {
		smtp_stat_inc(s, SMTP_STAT_DATA_TOO_BIG);
		id = SMTP_R_SIZE_EXCEEDED;
	} else if (f & SMTP_DATA_LONG_LINE) {
		id = SMTP_R_DATA_LONG_LINE;
	} else if (s->txn->backend_failed) {
		id = SMTP_R_BACKEND_FAIL;
	}
	if (id != SMTP_R_NONE) {
		/* The backend transaction is aborted: closing without the final dot. */
		if (!s->txn->backend_failed)
			smtp_relay_abort(s);
		smtp_session_txn_done(s);
		smtp_session_reply(s, id);
		return;
	}
	smtp_stat_inc(s, SMTP_STAT_MESSAGES);
	smtp_relay_dot(s);
	s->wait = SMTP_WAIT_BACKEND;
}

static void
smtp_proceed_rset(struct smtp_session *s, const char *arg, size_t n)
{
	(void) arg;
	(void) n;
	if (s->state >= SMTP_ST_MAIL) {
		smtp_relay_rset(s);
		smtp_txn_reset(s);
		smtp_enter_state(s, SMTP_ST_HELO);
	}
	smtp_session_reply(s, SMTP_R_OK);
}

static void
smtp_proceed_noop(struct smtp_session *s, const char *arg, size_t n)
{
	(void) arg;
	(void) n;
	smtp_session_reply(s, SMTP_R_OK);
}

static void
smtp_proceed_quit(struct smtp_session *s, const char *arg, size_t n)
{
	(void) arg;
	(void) n;
	smtp_session_reply(s, SMTP_R_BYE);
}

static void
smtp_proceed_vrfy(struct smtp_session *s, const char *arg, size_t n)
{
	(void) arg;
	(void) n;
	smtp_session_reply(s, SMTP_R_VRFY);
}

static void
smtp_proceed_help(struct smtp_session *s, const char *arg, size_t n)
{
	(void) arg;
	(void) n;
	smtp_session_reply(s, SMTP_R_HELP);
}

static void
smtp_proceed_expn(struct smtp_session *s, const char *arg, size_t n)
{
	(void) arg;
	(void) n;
	smtp_session_reply(s, SMTP_R_NOT_IMPL); /* would disclose list members */
}

static void
smtp_proceed_starttls(struct smtp_session *s, const char *arg, size_t n)
{
	(void) arg;
	(void) n;
	if (!s->conf->starttls || s->ops->starttls == NULL) {
		smtp_session_reply(s, SMTP_R_STARTTLS);
		return;
	}
	if (s->tls) {
		smtp_session_reply(s, SMTP_R_TLS_ACTIVE);
		return;
	}
	/* RFC 3207 §4: after EHLO, and never inside a transaction. */
	if (s->state == SMTP_ST_CONNECTED) {
		smtp_session_reply(s, SMTP_R_NEED_HELO);
		return;
	}
	if (s->state != SMTP_ST_HELO) {
		smtp_session_reply(s, SMTP_R_BAD_SEQ);
		return;
	}
	if (s->ops->starttls(s->arg) != 0) {
		smtp_session_reply(s, SMTP_R_TLS_UNAVAIL);
		return;
	}
	smtp_session_reply(s, SMTP_R_TLS_GO);
	/* Nothing more is read as plaintext: feed stops here (CVE-2011-0411). */
	s->wait = SMTP_WAIT_TLS;
}

void
smtp_session_tls_done(struct smtp_session *s, uint64_t now)
{
	bool outer;

	s->now = now;
	if (s->state == SMTP_ST_CLOSED)
		return;
	outer = smtp_session_enter(s);
	s->tls = true;
	s->wait = SMTP_WAIT_NONE;
	s->esmtp = false;
	s->helo[0] = '\0';
	s->helo_len = 0;
	s->line_held = false;
	if (s->line != NULL)
		smtp_line_reset(s->line);
	smtp_txn_reset(s);
	smtp_enter_state(s, SMTP_ST_CONNECTED);
	s->deadline = now + s->conf->timeout_cmd_ms;
	smtp_session_leave(s, outer);
}

static void
smtp_proceed_auth(struct smtp_session *s, const char *arg, size_t n)
{
	(void) arg;
	(void) n;
	smtp_session_reply(s, SMTP_R_AUTH);
}

static void
smtp_proceed_bdat(struct smtp_session *s, const char *arg, size_t n)
{
	(void) arg;
	(void) n;
	smtp_session_reply(s, SMTP_R_BDAT);
}

#define SMTP_KEY(a, b, c, d)                                                                       \
	((uint32_t) (a) | (uint32_t) (b) << 8 | (uint32_t) (c) << 16 | (uint32_t) (d) << 24)
#define SMTP_CMD(n, a, b, c, d, f, fn)                                                             \
	{                                                                                          \
		n, SMTP_KEY(a, b, c, d), sizeof(n) - 1, f, fn                                      \
	}

/* The one command table (STYLE.md §9.2). */
static const struct smtp_cmd smtp_cmds[] = {
	SMTP_CMD("HELO", 'H', 'E', 'L', 'O', SMTP_CMDF_NEED_ARG, smtp_proceed_helo),
	SMTP_CMD("EHLO", 'E', 'H', 'L', 'O', SMTP_CMDF_NEED_ARG | SMTP_CMDF_LAST_IN_PIPE,
		smtp_proceed_ehlo),
	SMTP_CMD("MAIL", 'M', 'A', 'I', 'L', SMTP_CMDF_NEED_ARG, smtp_proceed_mail),
	SMTP_CMD("RCPT", 'R', 'C', 'P', 'T', SMTP_CMDF_NEED_ARG, smtp_proceed_rcpt),
	SMTP_CMD("DATA", 'D', 'A', 'T', 'A', SMTP_CMDF_NOARG | SMTP_CMDF_LAST_IN_PIPE,
		smtp_proceed_data),
	SMTP_CMD("RSET", 'R', 'S', 'E', 'T', SMTP_CMDF_NOARG, smtp_proceed_rset),
	SMTP_CMD("NOOP", 'N', 'O', 'O', 'P', 0, smtp_proceed_noop),
	SMTP_CMD("QUIT", 'Q', 'U', 'I', 'T', SMTP_CMDF_NOARG | SMTP_CMDF_LAST_IN_PIPE,
		smtp_proceed_quit),
	SMTP_CMD("VRFY", 'V', 'R', 'F', 'Y', SMTP_CMDF_NEED_ARG, smtp_proceed_vrfy),
	SMTP_CMD("EXPN", 'E', 'X', 'P', 'N', SMTP_CMDF_NEED_ARG, smtp_proceed_expn),
	SMTP_CMD("HELP", 'H', 'E', 'L', 'P', 0, smtp_proceed_help),
	SMTP_CMD("STARTTLS", 'S', 'T', 'A', 'R', SMTP_CMDF_NOARG | SMTP_CMDF_LAST_IN_PIPE,
		smtp_proceed_starttls),
	SMTP_CMD("AUTH", 'A', 'U', 'T', 'H', SMTP_CMDF_NEED_ARG | SMTP_CMDF_LAST_IN_PIPE,
		smtp_proceed_auth),
	SMTP_CMD("BDAT", 'B', 'D', 'A', 'T', SMTP_CMDF_NEED_ARG, smtp_proceed_bdat),
};

static void
smtp_session_line(struct smtp_session *s)
{
	const struct smtp_line *l = s->line;
	const struct smtp_cmd *c = NULL;
	const char *arg;
	size_t vl = 0, n;

	if (!s->tarpit_pass)
		smtp_stat_inc(s, SMTP_STAT_COMMANDS);
	if (l->flags & SMTP_LINE_TOO_LONG) {
		smtp_stat_inc(s, SMTP_STAT_LINE_TOO_LONG);
		smtp_session_reply(s, SMTP_R_LINE_TOO_LONG);
		return;
	}
	if ((l->flags & (SMTP_LINE_BARE_CR | SMTP_LINE_NUL)) ||
		((l->flags & SMTP_LINE_BARE_LF) && s->conf->bare_mode == SMTP_BARE_REJECT)) {
		smtp_stat_inc(s, SMTP_STAT_BARE_CMD);
		smtp_session_reply(s, SMTP_R_BARE_CMD);
		return;
	}
	while (vl < l->len && l->buf[vl] != ' ')
		vl++;
	if (vl >= 4) {
		uint32_t key = 0;

		for (int i = 3; i >= 0; i--) {
			char ch = l->buf[i];

			key = key << 8 | (uint8_t) ((ch >= 'a' && ch <= 'z') ? ch - 32 : ch);
		}
		for (size_t i = 0; i < NDG_ARRAY_SIZE(smtp_cmds); i++) {
			if (smtp_cmds[i].key == key && smtp_cmds[i].len == vl &&
				(vl == 4 || strncasecmp(smtp_cmds[i].name, l->buf, vl) == 0)) {
				c = &smtp_cmds[i];
				break;
			}
		}
	}
	if (c == NULL) {
		smtp_stat_inc(s, SMTP_STAT_UNKNOWN_CMD);
		smtp_session_reply(s, SMTP_R_SYNTAX);
		return;
	}
	arg = l->buf + vl;
	n = l->len - vl;
	if (n > 0) { /* the single SP after the verb */
		arg++;
		n--;
	}
	if ((c->flags & SMTP_CMDF_NOARG) && n > 0) {
		smtp_session_reply(s, SMTP_R_PARAM_SYNTAX);
		return;
	}
	if ((c->flags & SMTP_CMDF_NEED_ARG) && n == 0) {
		smtp_session_reply(s, SMTP_R_PARAM_SYNTAX);
		return;
	}
	c->proceed(s, arg, n);
}

size_t
smtp_session_feed(struct smtp_session *s, uint64_t now, const char *p, size_t n)
{
	size_t c = 0;
	bool outer, progress = false;

	s->now = now;
	if (s->state == SMTP_ST_CLOSED)
		return n;
	if (s->state == SMTP_ST_INIT) {
		if (n == 0)
			return 0;
		/* Early talker: bytes before the greeting delay ended (DESIGN.md §4). */
		if (s->pol->mode[POLICY_RULE_EARLY_TALKER] == POLICY_ENFORCE) {
			smtp_decide_reply(s, POLICY_RULE_EARLY_TALKER, POLICY_OUT_REJECT, NULL,
				SMTP_R_EARLY_TALKER);
			smtp_session_reply(s, SMTP_R_EARLY_TALKER);
			return n;
		}
		smtp_decide_reply(s, POLICY_RULE_EARLY_TALKER, POLICY_OUT_OBSERVE, NULL,
			SMTP_R_EARLY_TALKER);
		smtp_session_greet(s);
	}
	outer = smtp_session_enter(s);
	while (c < n && s->wait == SMTP_WAIT_NONE && s->state != SMTP_ST_CLOSED) {
		int r;

		if (s->state == SMTP_ST_DATA) {
			r = smtp_data_feed(&s->txn->data, p + c, n - c);
			if (r <= 0) {
				c = n;
				break;
			}
			c += (size_t) r;
			smtp_session_data_end(s);
			continue;
		}
		if (s->line == NULL) {
			s->line = smtp_session_blk_get(s, SMTP_BLK_LINE);
			if (s->line == NULL) {
				/* Commands cannot even be read: say so and close. */
				smtp_session_reply(s, SMTP_R_NO_MEM_CLOSE);
				c = n;
				break;
			}
			smtp_line_reset(s->line);
		}
		r = smtp_line_feed(s->line, p + c, n - c);
		if (r <= 0) {
			/* Part of a command line is no progress: a client sending a byte every
			 * few seconds must finish its line within the command timeout, not keep
			 * a session (and its line block) forever (slow loris). */
			c = n;
			break;
		}
		c += (size_t) r;
		progress = true;
		smtp_session_line(s);
		if (!s->line_held && s->line != NULL)
			smtp_line_reset(s->line);
	}
	smtp_session_leave(s, outer);
	if (s->state == SMTP_ST_CLOSED)
		return n;
	/* Message bytes always count as progress (RFC 5321 §4.5.3.2.5 times each block). */
	if (s->wait == SMTP_WAIT_NONE && (progress || s->state == SMTP_ST_DATA))
		s->deadline = now + (s->state == SMTP_ST_DATA ? s->conf->timeout_data_ms
							      : s->conf->timeout_cmd_ms);
	return c;
}

void
smtp_session_tick(struct smtp_session *s, uint64_t now)
{
	bool outer;

	s->now = now;
	if (s->state == SMTP_ST_CLOSED)
		return;
	if (s->state == SMTP_ST_INIT) {
		if (now >= s->deadline)
			smtp_session_greet(s);
		return;
	}
	outer = smtp_session_enter(s);
	if (s->wait == SMTP_WAIT_TARPIT && now >= s->wait_until) {
		s->wait = SMTP_WAIT_NONE;
		s->line_held = false;
		s->tarpit_pass = true;
		smtp_session_line(s);
		s->tarpit_pass = false;
		if (s->line != NULL)
			smtp_line_reset(s->line);
		if (s->state != SMTP_ST_CLOSED && s->wait == SMTP_WAIT_NONE)
			s->deadline = now + s->conf->timeout_cmd_ms;
		smtp_session_leave(s, outer);
		return;
	}
	if (s->relay != NULL && s->relay->deadline != 0 && now >= s->relay->deadline) {
		smtp_stat_inc(s, SMTP_STAT_BACKEND_TIMEOUT);
		smtp_relay_fail(s, true);
		smtp_session_leave(s, outer);
		return;
	}
	if (s->wait == SMTP_WAIT_NONE && now >= s->deadline) {
		smtp_stat_inc(s, SMTP_STAT_TIMEOUTS);
		if (s->state != SMTP_ST_DATA && s->line != NULL && s->line->total != 0)
			smtp_stat_inc(s, SMTP_STAT_LINE_TIMEOUT);
		smtp_session_reply(s, SMTP_R_TIMEOUT);
	}
	smtp_session_leave(s, outer);
}

uint64_t
smtp_session_next_deadline(const struct smtp_session *s)
{
	uint64_t d = UINT64_MAX;

	if (s->state == SMTP_ST_CLOSED)
		return UINT64_MAX;
	if (s->wait == SMTP_WAIT_TARPIT)
		d = s->wait_until;
	else if (s->wait == SMTP_WAIT_NONE)
		d = s->deadline;
	if (s->relay != NULL && s->relay->deadline != 0 && s->relay->deadline < d)
		d = s->relay->deadline;
	return d;
}

bool
smtp_session_is_waiting(const struct smtp_session *s)
{
	return s->wait != SMTP_WAIT_NONE;
}

size_t
smtp_session_backend_feed(struct smtp_session *s, uint64_t now, const char *p, size_t n)
{
	size_t c = 0;
	bool outer = smtp_session_enter(s);

	s->now = now;
	while (c < n) {
		int r;

		if (s->relay == NULL || s->relay->state == SMTP_RL_FAILED ||
			s->relay->state == SMTP_RL_IDLE) {
			c = n; /* nothing expected: late bytes of a closed backend */
			break;
		}
		if (s->relay->state == SMTP_RL_TLS)
			break; /* plaintext after the 220 to STARTTLS: the caller drops it */
		r = smtp_reply_parser_feed(&s->relay->rp, p + c, n - c);
		if (r <= 0) {
			c = n;
			break;
		}
		c += (size_t) r;
		smtp_relay_reply(s);
		if (s->relay != NULL)
			smtp_reply_parser_reset(&s->relay->rp);
	}
	smtp_session_leave(s, outer);
	return c;
}

void
smtp_session_backend_error(struct smtp_session *s, uint64_t now)
{
	bool outer;

	s->now = now;
	if (smtp_relay_state(s) == SMTP_RL_IDLE)
		return;
	outer = smtp_session_enter(s);
	smtp_stat_inc(s, SMTP_STAT_BACKEND_FAIL);
	smtp_relay_fail(s, false);
	smtp_session_leave(s, outer);
}
