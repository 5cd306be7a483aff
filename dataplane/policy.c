/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Policy configuration and the RCPT rule chain of DESIGN.md §4. Setters run on the control
 * thread before a struct policy is handed to lcores; policy_rcpt_eval() runs on any lcore and
 * only reads (the directory under urcu-qsbr).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "policy.h"
#include "rcpt.h"
#include "smtp.h"
#include "ndg_common.h"

static const char *const policy_rule_names[POLICY_RULE_MAX] = {
	[POLICY_RULE_NONE] = "none",
	[POLICY_RULE_BLOCKLIST] = "blocklist",
	[POLICY_RULE_CONN_LIMIT] = "conn_limit",
	[POLICY_RULE_EARLY_TALKER] = "early_talker",
	[POLICY_RULE_RELAY_BYPASS] = "relay_bypass",
	[POLICY_RULE_RELAY_DENIED] = "relay_denied",
	[POLICY_RULE_RELAY_NET] = "relay_net",
	[POLICY_RULE_POSTMASTER] = "postmaster",
	[POLICY_RULE_NULL_MULTI] = "null_multi_rcpt",
	[POLICY_RULE_BATV] = "batv_invalid",
	[POLICY_RULE_NEVER_BOUNCE] = "never_bounce",
	[POLICY_RULE_UNKNOWN_USER] = "unknown_user",
	[POLICY_RULE_DIR_STALE] = "directory_stale",
	[POLICY_RULE_CATCH_ALL] = "catch_all",
	[POLICY_RULE_DIRECTORY] = "directory",
	[POLICY_RULE_RCPT_LIMIT] = "rcpt_limit",
	[POLICY_RULE_HARVEST] = "harvest",
	[POLICY_RULE_OUT_RELAY_DENIED] = "out_relay_denied",
	[POLICY_RULE_OUT_SENDER] = "out_foreign_sender",
	[POLICY_RULE_OUT_SENDER_RATE] = "out_sender_rate",
	[POLICY_RULE_OUT_HOST_RATE] = "out_host_rate",
	[POLICY_RULE_OUT_NDR] = "out_ndr_limit",
	[POLICY_RULE_OUT_RELAY] = "out_relay",
};

const char *
policy_rule_name(enum policy_rule rule)
{
	if ((unsigned int) rule >= POLICY_RULE_MAX)
		return "invalid";
	return policy_rule_names[rule];
}

bool
policy_rule_accepts(enum policy_rule rule)
{
	return rule == POLICY_RULE_NONE || rule == POLICY_RULE_RELAY_NET ||
	       rule == POLICY_RULE_POSTMASTER || rule == POLICY_RULE_CATCH_ALL ||
	       rule == POLICY_RULE_DIRECTORY || rule == POLICY_RULE_OUT_RELAY;
}

void
policy_init(struct policy *p)
{
	memset(p, 0, sizeof(*p));
	for (unsigned int i = 0; i < POLICY_RULE_MAX; i++)
		p->mode[i] = POLICY_ENFORCE;
}

void
policy_fini(struct policy *p)
{
	free(p->domains);
	free(p->relay_nets);
	free(p->blocklist);
	free(p->never_bounce);
	free(p->batv_addr);
	policy_harvest_fini(&p->harvest);
	p->domains = NULL;
	p->relay_nets = NULL;
	p->blocklist = NULL;
	p->never_bounce = NULL;
	p->batv_addr = NULL;
	p->n_domains = p->n_relay = p->n_block = p->n_never_bounce = p->n_batv_addr = 0;
}

static int
policy_domain_cmp(const void *a, const void *b)
{
	return strcmp(((const struct policy_domain *) a)->name,
		((const struct policy_domain *) b)->name);
}

int
policy_domain_add(struct policy *p, const char *name, bool catch_all, bool batv)
{
	struct policy_domain *d;
	size_t n = strlen(name);

	if (n == 0 || n > SMTP_DOMAIN_MAX)
		return -EINVAL;
	d = realloc(p->domains, (p->n_domains + 1) * sizeof(*d));
	if (d == NULL)
		return -ENOMEM;
	p->domains = d;
	d = &p->domains[p->n_domains++];
	memset(d, 0, sizeof(*d));
	for (size_t i = 0; i < n; i++)
		d->name[i] = (name[i] >= 'A' && name[i] <= 'Z') ? (char) (name[i] + 32) : name[i];
	d->catch_all = catch_all;
	d->batv = batv;
	qsort(p->domains, p->n_domains, sizeof(*d), policy_domain_cmp);
	return 0;
}

const struct policy_domain *
policy_domain_find(const struct policy *p, const char *name, size_t n)
{
	size_t lo = 0, hi = p->n_domains;

	if (n > SMTP_DOMAIN_MAX)
		return NULL;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		const char *m = p->domains[mid].name;
		int c = strncmp(m, name, n);

		if (c == 0)
			c = m[n] == '\0' ? 0 : 1;
		if (c == 0)
			return &p->domains[mid];
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

int
policy_cidr_parse(const char *s, struct policy_cidr *out)
{
	char buf[64];
	const char *slash = strchr(s, '/');
	size_t n = slash ? (size_t) (slash - s) : strlen(s);
	struct policy_cidr c;
	unsigned long plen;
	char *end;

	if (n == 0 || n >= sizeof(buf))
		return -EINVAL;
	memcpy(buf, s, n);
	buf[n] = '\0';
	memset(&c, 0, sizeof(c));
	if (inet_pton(AF_INET, buf, c.addr) == 1)
		c.family = 4;
	else if (inet_pton(AF_INET6, buf, c.addr) == 1)
		c.family = 6;
	else
		return -EINVAL;
	plen = c.family == 4 ? 32 : 128;
	if (slash != NULL) {
		unsigned long max = plen;

		errno = 0;
		plen = strtoul(slash + 1, &end, 10);
		if (errno != 0 || *end != '\0' || end == slash + 1 || plen > max)
			return -EINVAL;
	}
	c.plen = (uint8_t) plen;
	*out = c;
	return 0;
}

int
policy_cidr_add(struct policy *p, const char *cidr, bool relay)
{
	struct policy_cidr c, **list = relay ? &p->relay_nets : &p->blocklist, *nl;
	uint32_t *n = relay ? &p->n_relay : &p->n_block;
	int r = policy_cidr_parse(cidr, &c);

	if (r < 0)
		return r;
	nl = realloc(*list, (*n + 1) * sizeof(*nl));
	if (nl == NULL)
		return -ENOMEM;
	nl[(*n)++] = c;
	*list = nl;
	return 0;
}

bool
policy_cidr_match(const struct policy_cidr *list, uint32_t n, const struct policy_peer *peer)
{
	for (uint32_t i = 0; i < n; i++) {
		const struct policy_cidr *c = &list[i];
		unsigned int full = c->plen / 8, rem = c->plen % 8;

		if (c->family != peer->family)
			continue;
		if (memcmp(c->addr, peer->addr, full) != 0)
			continue;
		if (rem != 0) {
			uint8_t mask = (uint8_t) (0xff << (8 - rem));

			if ((c->addr[full] & mask) != (peer->addr[full] & mask))
				continue;
		}
		return true;
	}
	return false;
}

static int
policy_digest_cmp(const void *a, const void *b)
{
	const struct rcpt_digest *x = a, *y = b;

	if (x->hi != y->hi)
		return x->hi < y->hi ? -1 : 1;
	if (x->lo != y->lo)
		return x->lo < y->lo ? -1 : 1;
	return 0;
}

int
policy_addr_add(struct policy *p, const char *norm, bool never_bounce)
{
	struct rcpt_digest **list = never_bounce ? &p->never_bounce : &p->batv_addr, *nl;
	uint32_t *n = never_bounce ? &p->n_never_bounce : &p->n_batv_addr;

	if (p->dir == NULL)
		return -EINVAL;
	nl = realloc(*list, (*n + 1) * sizeof(*nl));
	if (nl == NULL)
		return -ENOMEM;
	rcpt_digest_compute(&p->dir->key, norm, strlen(norm), &nl[(*n)++]);
	qsort(nl, *n, sizeof(*nl), policy_digest_cmp);
	*list = nl;
	return 0;
}

int
policy_batv_key_set(struct policy *p, unsigned int id, const void *key, size_t len)
{
	if (id >= BATV_KEYS_MAX || len == 0 || len > BATV_KEY_LEN)
		return -EINVAL;
	memcpy(p->batv.k[id].key, key, len);
	p->batv.k[id].len = (uint8_t) len;
	p->batv.k[id].set = true;
	return 0;
}

static bool
policy_digest_in(const struct rcpt_digest *list, uint32_t n, const struct rcpt_digest *d)
{
	return n != 0 && bsearch(d, list, n, sizeof(*d), policy_digest_cmp) != NULL;
}

/*
 * Apply <rule>'s mode: enforced → it decides; observed → record it and go on.
 * @return true when the rule decides.
 */
static bool
policy_rcpt_hit(const struct policy *p, enum policy_rule rule, policy_observe_cb *observe,
	void *arg)
{
	if (p->mode[rule] == POLICY_ENFORCE)
		return true;
	if (observe != NULL)
		observe(arg, rule);
	return false;
}

enum policy_rule
policy_rcpt_eval(const struct policy *p, const struct policy_rcpt_ctx *ctx,
	policy_observe_cb *observe, void *arg)
{
	const struct smtp_addr *a = ctx->addr;
	const struct policy_domain *dom = NULL;
	struct rcpt_digest dg;
	bool postmaster, ours;
	char catch_all[SMTP_DOMAIN_MAX + 2];

	postmaster = (a->flags & SMTP_ADDR_POSTMASTER) ||
		     (a->local_len == 10 && strncasecmp(a->local, "postmaster", 10) == 0);
	if (!(a->flags & SMTP_ADDR_POSTMASTER)) {
		const char *at = memchr(ctx->norm, '@', ctx->norm_len);
		size_t dl = at ? ctx->norm_len - (size_t) (at - ctx->norm) - 1 : 0;

		dom = at ? policy_domain_find(p, at + 1, dl) : NULL;
	}
	ours = dom != NULL || (a->flags & SMTP_ADDR_POSTMASTER);
	if (!ours) {
		if (policy_cidr_match(p->relay_nets, p->n_relay, ctx->peer))
			return POLICY_RULE_RELAY_NET;
		if (policy_rcpt_hit(p, POLICY_RULE_RELAY_DENIED, observe, arg))
			return POLICY_RULE_RELAY_DENIED;
		return POLICY_RULE_NONE; /* observe mode: nothing more can be checked */
	}
	/* RFC 5321 §4.5.1: postmaster must be accepted, bounces included. */
	if (postmaster)
		return POLICY_RULE_POSTMASTER;
	rcpt_digest_compute(&p->dir->key, ctx->norm, ctx->norm_len, &dg);
	if (ctx->null_sender) {
		if (ctx->nrcpt >= 1 && policy_rcpt_hit(p, POLICY_RULE_NULL_MULTI, observe, arg))
			return POLICY_RULE_NULL_MULTI;
		if ((p->batv_all || dom->batv ||
			    policy_digest_in(p->batv_addr, p->n_batv_addr, &dg)) &&
			!batv_verify(&p->batv, a->local, a->local_len, a->domain, a->domain_len,
				ctx->now) &&
			policy_rcpt_hit(p, POLICY_RULE_BATV, observe, arg))
			return POLICY_RULE_BATV;
		if (policy_digest_in(p->never_bounce, p->n_never_bounce, &dg) &&
			policy_rcpt_hit(p, POLICY_RULE_NEVER_BOUNCE, observe, arg))
			return POLICY_RULE_NEVER_BOUNCE;
	}
	if (rcpt_tbl_lookup(p->dir, &dg))
		return POLICY_RULE_DIRECTORY;
	if (dom->catch_all)
		return POLICY_RULE_CATCH_ALL;
	/* Catch-all entries from the directory source are stored as "@domain". */
	{
		const char *at = memchr(ctx->norm, '@', ctx->norm_len);
		size_t dl = ctx->norm_len - (size_t) (at - ctx->norm);

		memcpy(catch_all, at, dl);
		rcpt_digest_compute(&p->dir->key, catch_all, dl, &dg);
		if (rcpt_tbl_lookup(p->dir, &dg))
			return POLICY_RULE_CATCH_ALL;
	}
	if (rcpt_tbl_is_stale(p->dir) && policy_rcpt_hit(p, POLICY_RULE_DIR_STALE, observe, arg))
		return POLICY_RULE_DIR_STALE;
	if (policy_rcpt_hit(p, POLICY_RULE_UNKNOWN_USER, observe, arg))
		return POLICY_RULE_UNKNOWN_USER;
	return POLICY_RULE_NONE;
}
