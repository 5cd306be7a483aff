/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Directory-harvest budget per source host (/32, IPv6 /64) and network (/24, IPv6 /48),
 * shared by every lcore without locks: a count-min sketch of 2 rows whose 64-bit cells pack
 * a decaying score and its last update time, changed by compare-and-swap.
 * Memory is fixed at init (2 rows x 2^n x 8 bytes) whatever the number of sources, so no
 * eviction is needed; the stated error is count-min's: a score is never under-estimated and
 * is over-estimated only when both rows collide with busier sources (probability about
 * (active sources / cells)^2 per lookup).
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "policy.h"
#include "rcpt.h"
#include "ndg_common.h"

#define HARVEST_TICK_SHIFT 6   /* 64 ms time ticks in the high half of a cell */
#define HARVEST_ONE	   256 /* score fixed point: 24.8 */

int
policy_harvest_init(struct policy_harvest *h, unsigned int log2_cells, uint64_t seed0,
	uint64_t seed1)
{
	if (log2_cells < 4 || log2_cells > 28)
		return -EINVAL;
	h->ncells = 1u << log2_cells;
	h->cells = calloc((size_t) h->ncells * POLICY_HARVEST_ROWS, sizeof(uint64_t));
	if (h->cells == NULL)
		return -ENOMEM;
	h->seed[0] = seed0;
	h->seed[1] = seed1;
	if (h->budget_host == 0)
		h->budget_host = 10;
	if (h->budget_net == 0)
		h->budget_net = 50;
	if (h->half_life_ms == 0)
		h->half_life_ms = 600000;
	if (h->tarpit_base_ms == 0)
		h->tarpit_base_ms = 1000;
	if (h->tarpit_max_ms == 0)
		h->tarpit_max_ms = 30000;
	return 0;
}

void
policy_harvest_fini(struct policy_harvest *h)
{
	free(h->cells);
	h->cells = NULL;
	h->ncells = 0;
}

/* Cell indexes of the host (<net> false) or network key of <peer>, one per row. */
static void
policy_harvest_index(const struct policy_harvest *h, const struct policy_peer *peer, bool net,
	uint32_t idx[POLICY_HARVEST_ROWS])
{
	struct rcpt_key k = {h->seed[0], h->seed[1]};
	struct rcpt_digest d;
	char key[10];
	size_t len;

	key[0] = (char) peer->family;
	key[1] = net ? 'n' : 'h';
	if (peer->family == 4)
		len = net ? 3 : 4;
	else
		len = net ? 6 : 8;
	memcpy(key + 2, peer->addr, len);
	rcpt_digest_compute(&k, key, len + 2, &d);
	idx[0] = (uint32_t) (d.lo >> 1) & (h->ncells - 1);
	idx[1] = h->ncells + ((uint32_t) d.hi & (h->ncells - 1));
}

static uint32_t
policy_harvest_decay(const struct policy_harvest *h, uint64_t cell, uint32_t tick_now)
{
	uint32_t score = (uint32_t) cell, tick = (uint32_t) (cell >> 32);
	uint32_t dt_ms = (tick_now - tick) << HARVEST_TICK_SHIFT;

	if (score == 0 || tick_now == tick)
		return score;
	if (tick_now - tick > (UINT32_MAX >> HARVEST_TICK_SHIFT))
		return 0;
	return (uint32_t) ((double) score * exp2(-(double) dt_ms / h->half_life_ms));
}

static void
policy_harvest_add(struct policy_harvest *h, uint32_t idx, uint32_t tick_now)
{
	uint64_t *cell = &h->cells[idx];
	uint64_t old = __atomic_load_n(cell, __ATOMIC_RELAXED), nv;

	do {
		uint64_t s = (uint64_t) policy_harvest_decay(h, old, tick_now) + HARVEST_ONE;

		if (s > UINT32_MAX)
			s = UINT32_MAX;
		nv = ((uint64_t) tick_now << 32) | s;
	} while (!__atomic_compare_exchange_n(cell, &old, nv, true, __ATOMIC_RELAXED,
		__ATOMIC_RELAXED));
}

static uint32_t
policy_harvest_estimate(const struct policy_harvest *h, const uint32_t idx[POLICY_HARVEST_ROWS],
	uint32_t tick_now)
{
	uint32_t best = UINT32_MAX;

	for (unsigned int r = 0; r < POLICY_HARVEST_ROWS; r++) {
		uint64_t c = __atomic_load_n(&h->cells[idx[r]], __ATOMIC_RELAXED);
		uint32_t s = policy_harvest_decay(h, c, tick_now);

		if (s < best)
			best = s;
	}
	return best;
}

void
policy_harvest_charge(struct policy_harvest *h, const struct policy_peer *peer, uint64_t now)
{
	uint32_t idx[POLICY_HARVEST_ROWS], tick = (uint32_t) (now >> HARVEST_TICK_SHIFT);

	if (h->cells == NULL)
		return;
	for (int net = 0; net <= 1; net++) {
		policy_harvest_index(h, peer, net, idx);
		for (unsigned int r = 0; r < POLICY_HARVEST_ROWS; r++)
			policy_harvest_add(h, idx[r], tick);
	}
}

int
policy_harvest_check(struct policy_harvest *h, const struct policy_peer *peer, uint64_t now,
	uint32_t *ret_delay_ms)
{
	uint32_t idx[POLICY_HARVEST_ROWS], tick = (uint32_t) (now >> HARVEST_TICK_SHIFT);
	uint64_t host, net, over;
	uint64_t bh, bn, delay;

	if (h->cells == NULL)
		return 0;
	policy_harvest_index(h, peer, false, idx);
	host = policy_harvest_estimate(h, idx, tick);
	policy_harvest_index(h, peer, true, idx);
	net = policy_harvest_estimate(h, idx, tick);
	bh = (uint64_t) h->budget_host * HARVEST_ONE;
	bn = (uint64_t) h->budget_net * HARVEST_ONE;
	if (host >= 2 * bh || net >= 2 * bn)
		return 2;
	if (host < bh && net < bn)
		return 0;
	/* Escalate: the delay doubles with every invalid recipient over the budget. */
	/* Recipients over the budget, rounded: decay must not hide a whole step. */
	over = host >= bh ? (host - bh + HARVEST_ONE / 2) / HARVEST_ONE : 0;
	if (net >= bn && (net - bn + HARVEST_ONE / 2) / HARVEST_ONE > over)
		over = (net - bn + HARVEST_ONE / 2) / HARVEST_ONE;
	delay = (uint64_t) h->tarpit_base_ms << (over > 16 ? 16 : over);
	if (delay > h->tarpit_max_ms)
		delay = h->tarpit_max_ms;
	*ret_delay_ms = (uint32_t) delay;
	return 1;
}
