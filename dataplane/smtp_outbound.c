/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The outbound side of the SMTP engine (shared/DESIGN.md §4 "Outbound"): sessions of the
 * internal listener, where the backend MTAs and internal hosts hand over mail for the
 * internet. MAIL: our domains only, the null sender from a backend only, message rates per
 * sender address and per source host, BATV signing of the sender. RCPT: relay permission,
 * NDR control (null-sender recipients per destination domain and in total), recipient rates.
 * Every function runs on the thread that owns the session.
 */
#include <string.h>

#include "outbound.h"
#include "policy.h"
#include "smtp.h"
#include "ndg_common.h"

static void
smtp_out_stat_inc(struct smtp_session *s, enum smtp_stat_id id)
{
	if (s->stats != NULL)
		__atomic_store_n(&s->stats->c[id], s->stats->c[id] + 1, __ATOMIC_RELAXED);
}

void
smtp_out_session_set(struct smtp_session *s, const struct out_conf *out, bool from_backend)
{
	s->out = out;
	s->out_backend = from_backend;
}

/*
 * Rule <rule> matched with reply <id>. Enforced: record the refusal when <record> (MAIL; at
 * RCPT the session records it) and return true. Observed: record it and return false.
 */
static bool
smtp_out_hit(struct smtp_session *s, enum policy_rule rule, const char *rcpt, enum smtp_reply_id id,
	bool record)
{
	if (s->pol->mode[rule] == POLICY_ENFORCE) {
		if (record)
			smtp_decide_reply(s, rule, POLICY_OUT_REJECT, rcpt, id);
		return true;
	}
	smtp_decide_reply(s, rule, POLICY_OUT_OBSERVE, rcpt, smtp_out_reply(s, id));
	return false;
}

/* Lowercase copy of <p>[<n>] into <out> (NUL-terminated). @return its length. */
static size_t
smtp_out_lower(const char *p, size_t n, char *out, size_t outsz)
{
	if (n >= outsz)
		n = outsz - 1;
	for (size_t i = 0; i < n; i++)
		out[i] = (p[i] >= 'A' && p[i] <= 'Z') ? (char) (p[i] + 32) : p[i];
	out[n] = '\0';
	return n;
}

static bool
smtp_out_may_relay(const struct smtp_session *s)
{
	return s->out_backend || out_conf_is_internal(s->out, &s->peer);
}

static bool
smtp_out_take(struct smtp_session *s, enum out_bucket_kind k, const void *key, size_t n)
{
	return out_bucket_take(s->out->buckets, k, &s->out->rate[k], key, n, s->now);
}

enum smtp_reply_id
smtp_out_mail(struct smtp_session *s, const struct smtp_addr *a)
{
	const struct out_conf *o = s->out;
	char key[SMTP_ADDR_BUF];
	size_t kl;
	int r;

	if (a->flags & SMTP_ADDR_NULL) {
		/* Bounces come from the mail servers; a workstation has no business sending
		 * them (and the NDR control at RCPT counts what the backends send). */
		if (!s->out_backend &&
			smtp_out_hit(s, POLICY_RULE_OUT_SENDER, NULL, SMTP_R_OUT_NULL_SENDER, true))
			return SMTP_R_OUT_NULL_SENDER;
		return SMTP_R_NONE;
	}
	kl = smtp_out_lower(a->domain, a->domain_len, key, sizeof(key));
	if (policy_domain_find(s->pol, key, kl) == NULL &&
		smtp_out_hit(s, POLICY_RULE_OUT_SENDER, NULL, SMTP_R_OUT_SENDER, true))
		return SMTP_R_OUT_SENDER;
	if (!smtp_out_may_relay(s))
		return SMTP_R_NONE; /* refused at RCPT: nothing to count or sign */
	kl = smtp_out_lower(s->txn->sender, s->txn->sender_len, key, sizeof(key));
	if (!smtp_out_take(s, OUT_B_SENDER_MSG, key, kl) &&
		smtp_out_hit(s, POLICY_RULE_OUT_SENDER_RATE, NULL, SMTP_R_OUT_RATE, true))
		return SMTP_R_OUT_RATE;
	if (!s->out_backend && !smtp_out_take(s, OUT_B_HOST_MSG, s->peer.addr, 16) &&
		smtp_out_hit(s, POLICY_RULE_OUT_HOST_RATE, NULL, SMTP_R_OUT_RATE, true))
		return SMTP_R_OUT_RATE;
	r = out_sender_sign(o, &s->pol->batv, s->txn->sender, s->txn->sender_len,
		(uint64_t) ((int64_t) s->now + s->wall_offset_ms), s->txn->sender_out,
		sizeof(s->txn->sender_out));
	if (r > 0) {
		s->txn->sender_out_len = (uint16_t) r;
		smtp_out_stat_inc(s, SMTP_STAT_OUT_BATV_SIGNED);
	}
	return SMTP_R_NONE;
}

enum policy_rule
smtp_out_rcpt(struct smtp_session *s, const struct smtp_addr *a, const char *norm, size_t norm_len,
	const char *raw)
{
	const struct out_conf *o = s->out;
	const char *at = memrchr(norm, '@', norm_len);
	char key[SMTP_ADDR_BUF];
	size_t kl;

	(void) a;
	if (!smtp_out_may_relay(s) &&
		smtp_out_hit(s, POLICY_RULE_OUT_RELAY_DENIED, raw, SMTP_R_RELAY_DENIED, false))
		return POLICY_RULE_OUT_RELAY_DENIED;
	if (s->txn->null_sender) {
		/* NDR control: the appliance's SuppressNDROptions (DESIGN.md §4 "Outbound"). */
		bool over;

		if (o->ndr_mode == OUT_NDR_REFUSE)
			over = true;
		else
			over = (at != NULL && !smtp_out_take(s, OUT_B_NDR_DOMAIN, at + 1,
						      norm_len - (size_t) (at + 1 - norm))) ||
			       !smtp_out_take(s, OUT_B_NDR_TOTAL, "", 0);
		if (over && smtp_out_hit(s, POLICY_RULE_OUT_NDR, raw, SMTP_R_OUT_NDR, false))
			return POLICY_RULE_OUT_NDR;
		smtp_out_stat_inc(s, SMTP_STAT_OUT_NDR_PASSED);
		return POLICY_RULE_OUT_RELAY;
	}
	kl = smtp_out_lower(s->txn->sender, s->txn->sender_len, key, sizeof(key));
	if (!smtp_out_take(s, OUT_B_SENDER_RCPT, key, kl) &&
		smtp_out_hit(s, POLICY_RULE_OUT_SENDER_RATE, raw, SMTP_R_OUT_RATE, false))
		return POLICY_RULE_OUT_SENDER_RATE;
	if (!s->out_backend && !smtp_out_take(s, OUT_B_HOST_RCPT, s->peer.addr, 16) &&
		smtp_out_hit(s, POLICY_RULE_OUT_HOST_RATE, raw, SMTP_R_OUT_RATE, false))
		return POLICY_RULE_OUT_HOST_RATE;
	return POLICY_RULE_OUT_RELAY;
}

enum smtp_reply_id
smtp_out_reply(const struct smtp_session *s, enum smtp_reply_id id)
{
	if (id == SMTP_R_OUT_NDR && s->out != NULL && s->out->ndr_tempfail)
		return SMTP_R_OUT_NDR_TEMP;
	return id;
}
