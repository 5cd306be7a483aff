/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Outbound path core: internal networks, BATV exemptions and signing of envelope senders,
 * and the shared rate buckets (GCRA: one 64-bit theoretical arrival time per cell, updated
 * with CAS from any lcore). Setters run on the control thread before a configuration is
 * published; everything else is called from any lcore and never blocks.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "outbound.h"
#include "policy.h"
#include "rcpt.h"
#include "smtp.h"
#include "ndg_common.h"

int
out_buckets_init(struct out_buckets *b, unsigned int log2_cells, uint64_t seed0, uint64_t seed1)
{
	size_t n;

	if (log2_cells < 4 || log2_cells > 24)
		return -EINVAL;
	memset(b, 0, sizeof(*b));
	b->ncells = 1u << log2_cells;
	n = (size_t) OUT_B_MAX * OUT_BUCKET_ROWS * b->ncells;
	b->cells = calloc(n, sizeof(*b->cells));
	if (b->cells == NULL)
		return -ENOMEM;
	b->seed[0] = seed0;
	b->seed[1] = seed1;
	return 0;
}

void
out_buckets_fini(struct out_buckets *b)
{
	free(b->cells);
	b->cells = NULL;
	b->ncells = 0;
}

int
out_rate_set(struct out_rate *r, uint32_t count, uint32_t per_ms, uint32_t burst)
{
	if (count == 0) {
		r->interval_us = r->tau_us = 0;
		return 0;
	}
	if (per_ms == 0)
		return -EINVAL;
	if (burst == 0)
		burst = count;
	r->interval_us = (uint64_t) per_ms * 1000 / count;
	if (r->interval_us == 0)
		r->interval_us = 1;
	r->tau_us = (uint64_t) (burst - 1) * r->interval_us;
	return 0;
}

/* The cell of <key> in each row of <kind>. */
static void
out_bucket_index(const struct out_buckets *b, enum out_bucket_kind kind, const void *key, size_t n,
	uint64_t *cells[OUT_BUCKET_ROWS])
{
	struct rcpt_key k = {b->seed[0] ^ (uint64_t) kind * 0x9e3779b97f4a7c15ull, b->seed[1]};
	struct rcpt_digest d;
	uint64_t *base = b->cells + (size_t) kind * OUT_BUCKET_ROWS * b->ncells;

	rcpt_digest_compute(&k, key, n, &d);
	cells[0] = base + (d.lo & (b->ncells - 1));
	cells[1] = base + b->ncells + (d.hi & (b->ncells - 1));
}

bool
out_bucket_take(struct out_buckets *b, enum out_bucket_kind kind, const struct out_rate *r,
	const void *key, size_t n, uint64_t now_ms)
{
	uint64_t *cells[OUT_BUCKET_ROWS];
	uint64_t now = now_ms * 1000;

	if (r->interval_us == 0 || b == NULL || b->cells == NULL)
		return true;
	out_bucket_index(b, kind, key, n, cells);
	/* GCRA: conforming while the theoretical arrival time is at most tau ahead of now.
	 * Each cell over-estimates its keys' use (collisions add), so, as in a count-min
	 * sketch, the least loaded cell is the estimate: over the limit only when all are. */
	{
		bool ok = false;

		for (unsigned int i = 0; i < OUT_BUCKET_ROWS; i++) {
			uint64_t tat = __atomic_load_n(cells[i], __ATOMIC_RELAXED);

			ok |= tat <= now || tat - now <= r->tau_us;
		}
		if (!ok)
			return false;
	}
	for (unsigned int i = 0; i < OUT_BUCKET_ROWS; i++) {
		uint64_t old = __atomic_load_n(cells[i], __ATOMIC_RELAXED), nv;

		if (i == 1 && cells[1] == cells[0])
			break;
		do {
			nv = (old > now ? old : now) + r->interval_us;
		} while (!__atomic_compare_exchange_n(cells[i], &old, nv, true, __ATOMIC_RELAXED,
			__ATOMIC_RELAXED));
	}
	return true;
}

void
out_conf_init(struct out_conf *c)
{
	memset(c, 0, sizeof(*c));
	c->n_ports = 2;
	c->ports[0] = 25;
	c->ports[1] = 587; /* RFC 6409 message submission */
	c->batv_sign = true;
	c->ndr_mode = OUT_NDR_LIMIT;
}

void
out_conf_fini(struct out_conf *c)
{
	free(c->nets);
	free(c->exempt);
	c->nets = NULL;
	c->exempt = NULL;
	c->n_nets = c->n_exempt = 0;
}

int
out_conf_add_net(struct out_conf *c, const char *cidr)
{
	struct policy_cidr x, *nl;
	int r = policy_cidr_parse(cidr, &x);

	if (r < 0)
		return r;
	nl = realloc(c->nets, (c->n_nets + 1) * sizeof(*nl));
	if (nl == NULL)
		return -ENOMEM;
	nl[c->n_nets++] = x;
	c->nets = nl;
	return 0;
}

static char
out_lower(char ch)
{
	return (ch >= 'A' && ch <= 'Z') ? (char) (ch + 32) : ch;
}

int
out_conf_add_exempt(struct out_conf *c, const char *addr)
{
	size_t n = strlen(addr);
	char(*nl)[OUT_EXEMPT_MAX];

	if (n < 2 || n >= OUT_EXEMPT_MAX || strchr(addr, '@') == NULL)
		return -EINVAL;
	nl = realloc(c->exempt, (c->n_exempt + 1) * sizeof(*nl));
	if (nl == NULL)
		return -ENOMEM;
	for (size_t i = 0; i <= n; i++)
		nl[c->n_exempt][i] = out_lower(addr[i]);
	c->n_exempt++;
	c->exempt = nl;
	return 0;
}

static bool
out_eq_nocase(const char *a, size_t n, const char *lower)
{
	for (size_t i = 0; i < n; i++)
		if (out_lower(a[i]) != lower[i])
			return false;
	return lower[n] == '\0';
}

bool
out_conf_is_exempt(const struct out_conf *c, const char *addr, size_t n)
{
	const char *at = memrchr(addr, '@', n);

	for (uint32_t i = 0; i < c->n_exempt; i++) {
		const char *e = c->exempt[i];

		if (e[0] == '@') {
			if (at != NULL && out_eq_nocase(at, n - (size_t) (at - addr), e))
				return true;
		} else if (out_eq_nocase(addr, n, e)) {
			return true;
		}
	}
	return false;
}

bool
out_conf_is_internal(const struct out_conf *c, const struct policy_peer *peer)
{
	return policy_cidr_match(c->nets, c->n_nets, peer);
}

int
out_sender_sign(const struct out_conf *c, const struct batv_keys *k, const char *sender, size_t n,
	uint64_t unix_ms, char *out, size_t outsz)
{
	const char *at = memrchr(sender, '@', n);
	int r;

	if (!c->batv_sign || n == 0 || at == NULL || at == sender)
		return 0;
	if (k->sign_id >= BATV_KEYS_MAX || !k->k[k->sign_id].set)
		return 0;
	/* Already tagged (a relayed bounce address, or signed by the backend itself). */
	if (smtp_addr_batv_strip(sender, (size_t) (at - sender)) != 0)
		return 0;
	if (out_conf_is_exempt(c, sender, n))
		return 0;
	r = batv_sign(k, sender, n, unix_ms, out, outsz);
	if (r == -EINVAL)
		return 0;
	return r;
}
