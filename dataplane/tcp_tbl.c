/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The per-lcore connection table (open addressing, linear probing, backward-shift deletion,
 * keyed hash so a remote party cannot aim at one chain), the per-source connection counts,
 * and the choice of source ports whose replies RSS brings back to the owning lcore
 * (software Toeplitz with the port's own key and RETA). Owner lcore, except the pure
 * hash/port helpers (any thread).
 */
#include <errno.h>
#include <string.h>

#include <rte_byteorder.h>
#include <rte_common.h>
#include <rte_jhash.h>
#include <rte_thash.h>

#include "tcp.h"
#include "ndg_common.h"

static inline uint32_t
tcp_tbl_hash(const struct tcp_stack *ts, uint32_t laddr, uint32_t raddr, uint16_t lport,
	uint16_t rport)
{
	uint32_t seed;

	memcpy(&seed, ts->cfg->secret, sizeof(seed));
	return rte_jhash_3words(laddr, raddr, ((uint32_t) lport << 16) | rport, seed);
}

struct tcp_conn *
tcp_tbl_lookup(struct tcp_stack *ts, uint32_t laddr, uint32_t raddr, uint16_t lport, uint16_t rport)
{
	uint32_t h = tcp_tbl_hash(ts, laddr, raddr, lport, rport);

	for (uint32_t i = h & ts->tbl_mask;; i = (i + 1) & ts->tbl_mask) {
		const struct tcp_tbl_ent *e = &ts->tbl[i];
		struct tcp_conn *c;

		if (e->idx == TCP_NIL)
			return NULL;
		if (e->hash != h)
			continue;
		c = &ts->conns[e->idx];
		if (c->raddr == raddr && c->rport == rport && c->lport == lport &&
			c->laddr == laddr)
			return c;
	}
}

int
tcp_tbl_insert(struct tcp_stack *ts, struct tcp_conn *c)
{
	uint32_t h = tcp_tbl_hash(ts, c->laddr, c->raddr, c->lport, c->rport);
	uint32_t i;

	if (tcp_tbl_lookup(ts, c->laddr, c->raddr, c->lport, c->rport) != NULL)
		return -EEXIST;
	/* The table has twice the pool's entries: there is always an empty slot. */
	for (i = h & ts->tbl_mask; ts->tbl[i].idx != TCP_NIL; i = (i + 1) & ts->tbl_mask)
		;
	ts->tbl[i].hash = h;
	ts->tbl[i].idx = (uint32_t) (c - ts->conns);
	c->hash = h;
	c->flags |= TCP_F_IN_TBL;
	return 0;
}

void
tcp_tbl_remove(struct tcp_stack *ts, struct tcp_conn *c)
{
	uint32_t idx = (uint32_t) (c - ts->conns);
	uint32_t i, j;

	if (!(c->flags & TCP_F_IN_TBL))
		return;
	c->flags &= ~TCP_F_IN_TBL;
	for (i = c->hash & ts->tbl_mask; ts->tbl[i].idx != idx; i = (i + 1) & ts->tbl_mask)
		RTE_VERIFY(ts->tbl[i].idx != TCP_NIL);
	/* Backward shift: pull later entries of the run into the hole when their home allows. */
	for (j = (i + 1) & ts->tbl_mask; ts->tbl[j].idx != TCP_NIL; j = (j + 1) & ts->tbl_mask) {
		uint32_t home = ts->tbl[j].hash & ts->tbl_mask;

		/* Entry j may move to i when its home is not in (i, j] cyclically. */
		if (((j - home) & ts->tbl_mask) >= ((j - i) & ts->tbl_mask)) {
			ts->tbl[i] = ts->tbl[j];
			i = j;
		}
	}
	ts->tbl[i].idx = TCP_NIL;
	ts->tbl[i].hash = 0;
}

static inline uint32_t
tcp_src_hash(const struct tcp_stack *ts, uint32_t addr)
{
	uint32_t seed;

	memcpy(&seed, ts->cfg->secret + 4, sizeof(seed));
	return rte_jhash_1word(addr, seed);
}

uint32_t
tcp_src_count(const struct tcp_stack *ts, uint32_t addr)
{
	for (uint32_t i = tcp_src_hash(ts, addr) & ts->src_mask;; i = (i + 1) & ts->src_mask) {
		if (ts->src[i].count == 0)
			return 0;
		if (ts->src[i].addr == addr)
			return ts->src[i].count;
	}
}

struct tcp_src_ent *
tcp_src_find(struct tcp_stack *ts, uint32_t addr)
{
	for (uint32_t i = tcp_src_hash(ts, addr) & ts->src_mask;; i = (i + 1) & ts->src_mask) {
		if (ts->src[i].count == 0)
			return NULL;
		if (ts->src[i].addr == addr)
			return &ts->src[i];
	}
}

int
tcp_src_inc(struct tcp_stack *ts, uint32_t addr)
{
	for (uint32_t i = tcp_src_hash(ts, addr) & ts->src_mask;; i = (i + 1) & ts->src_mask) {
		if (ts->src[i].count == 0) {
			ts->src[i] = (struct tcp_src_ent){.addr = addr, .count = 1};
			return 0;
		}
		if (ts->src[i].addr == addr) {
			ts->src[i].count++;
			return 0;
		}
	}
}

void
tcp_src_dec(struct tcp_stack *ts, uint32_t addr)
{
	uint32_t i, j;

	for (i = tcp_src_hash(ts, addr) & ts->src_mask;; i = (i + 1) & ts->src_mask) {
		if (ts->src[i].count == 0)
			return;
		if (ts->src[i].addr == addr)
			break;
	}
	if (--ts->src[i].count != 0)
		return;
	for (j = (i + 1) & ts->src_mask; ts->src[j].count != 0; j = (j + 1) & ts->src_mask) {
		uint32_t home = tcp_src_hash(ts, ts->src[j].addr) & ts->src_mask;

		if (((j - home) & ts->src_mask) >= ((j - i) & ts->src_mask)) {
			ts->src[i] = ts->src[j];
			i = j;
		}
	}
	memset(&ts->src[i], 0, sizeof(ts->src[i]));
}

size_t
tcp_tbl_bytes_per_conn(const struct tcp_stack *ts)
{
	size_t tbl = (size_t) (ts->tbl_mask + 1) * sizeof(*ts->tbl);
	size_t src = (size_t) (ts->src_mask + 1) * sizeof(*ts->src);

	return (tbl + src) / ts->cfg->max_conns;
}

uint32_t
tcp_rss_hash(const uint8_t key[NET_RSS_KEY_LEN], uint32_t saddr, uint32_t daddr, uint16_t sport,
	uint16_t dport)
{
	uint32_t tuple[3];

	/* rte_softrss() takes the tuple in host order, the key as the NIC has it. */
	tuple[0] = rte_be_to_cpu_32(saddr);
	tuple[1] = rte_be_to_cpu_32(daddr);
	tuple[2] = ((uint32_t) rte_be_to_cpu_16(sport) << 16) | rte_be_to_cpu_16(dport);
	return rte_softrss(tuple, RTE_DIM(tuple), key);
}

uint16_t
tcp_port_choose(const struct net_if *nif, uint16_t queue, uint16_t n_queues, uint32_t laddr,
	uint32_t raddr, uint16_t rport, uint16_t lo, uint16_t hi, uint16_t *cursor,
	bool (*is_free)(void *arg, uint16_t port_be), void *arg)
{
	uint32_t span = (uint32_t) hi - lo + 1;

	if (lo == 0 || hi < lo)
		return 0;
	for (uint32_t n = 0; n < span; n++) {
		uint16_t p = *cursor;
		uint16_t pbe = rte_cpu_to_be_16(p);

		*cursor = (p >= hi || p < lo) ? lo : (uint16_t) (p + 1);
		if (p < lo || p > hi)
			continue;
		if (nif->flags & NET_IF_F_RSS) {
			/* The reply travels raddr:rport -> laddr:p; that is what the NIC hashes. */
			uint32_t h = tcp_rss_hash(nif->rss_key, raddr, laddr, rport, pbe);

			if (nif->reta[h % nif->reta_size] != queue)
				continue;
		} else if (n_queues > 1 &&
			   tcp_rss_hash(nif->rss_key, raddr, laddr, rport, pbe) % n_queues !=
				   queue) {
			/* No RSS: ownership is the same software hash tcp_input() uses. */
			continue;
		}
		if (is_free == NULL || is_free(arg, pbe))
			return pbe;
	}
	return 0;
}
