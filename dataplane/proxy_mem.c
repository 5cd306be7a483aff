/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Borrowed blocks of the SMTP engine (smtp-t.h enum smtp_blk_kind) on the dataplane: one
 * fixed-size rte_mempool per kind and lcore, sized at start (sessions x --smtp-busy percent),
 * single producer and consumer since only the owning lcore takes and returns blocks. An idle
 * session holds none, so its cost is the session element alone. The element sizes logged and
 * reported are the pools' own (header + object + trailer), padding included. The pools are
 * made on the main lcore, used by their lcore, read by the control thread for the counts.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>

#include <rte_log.h>
#include <rte_mempool.h>

#include "proxy_mem.h"
#include "smtp.h"
#include "stats.h"
#include "ndg_common.h"

RTE_LOG_REGISTER(ndg_logtype_smtpmem, user.ndg.smtpmem, INFO);
#define SMTPMEM_LOG(level, fmt, ...)                                                               \
	rte_log(RTE_LOG_##level, ndg_logtype_smtpmem, "smtp: " fmt "\n", ##__VA_ARGS__)

static uint32_t proxy_mem_busy_pct = PROXY_BUSY_PCT_DEFAULT;

void
proxy_mem_set_busy(uint32_t pct)
{
	proxy_mem_busy_pct = pct;
}

static uint32_t
proxy_mem_elt_bytes(const struct rte_mempool *mp)
{
	return mp->header_size + mp->elt_size + mp->trailer_size;
}

int
proxy_mem_lcore_init(struct proxy_lcore *pl, unsigned int lcore_id, int socket, uint32_t n_sessions)
{
	struct proxy_mem *m = &pl->mem;
	char name[RTE_MEMPOOL_NAMESIZE];
	uint64_t n = (uint64_t) n_sessions * proxy_mem_busy_pct / 100;

	if (n < PROXY_BLK_MIN)
		n = PROXY_BLK_MIN;
	if (n > n_sessions)
		n = n_sessions;
	m->n_sessions = n_sessions;
	m->sess_elt_bytes = proxy_mem_elt_bytes(pl->pool);
	for (unsigned int k = 0; k < SMTP_BLK_MAX; k++) {
		snprintf(name, sizeof(name), "ndg_blk%u_%u", k, lcore_id);
		m->n[k] = (uint32_t) n;
		m->pool[k] = rte_mempool_create(name, m->n[k],
			(unsigned int) smtp_blk_size((enum smtp_blk_kind) k), 0, 0, NULL, NULL,
			NULL, NULL, socket, RTE_MEMPOOL_F_SP_PUT | RTE_MEMPOOL_F_SC_GET);
		if (m->pool[k] == NULL) {
			proxy_mem_lcore_fini(pl);
			return -ENOMEM;
		}
		m->elt_bytes[k] = proxy_mem_elt_bytes(m->pool[k]);
	}
	SMTPMEM_LOG(INFO,
		"lcore %u: %u sessions, %u bytes each (object %u + header %u + trailer %u; "
		"struct proxy_sess %zu, struct smtp_session %zu)",
		lcore_id, n_sessions, m->sess_elt_bytes, pl->pool->elt_size, pl->pool->header_size,
		pl->pool->trailer_size, sizeof(struct proxy_sess), sizeof(struct smtp_session));
	for (unsigned int k = 0; k < SMTP_BLK_MAX; k++)
		SMTPMEM_LOG(INFO,
			"lcore %u: %u %s blocks (%u%% of sessions), %u bytes each (object %u + "
			"header %u + trailer %u)",
			lcore_id, m->n[k], smtp_blk_name((enum smtp_blk_kind) k),
			proxy_mem_busy_pct, m->elt_bytes[k], m->pool[k]->elt_size,
			m->pool[k]->header_size, m->pool[k]->trailer_size);
	return 0;
}

void
proxy_mem_lcore_fini(struct proxy_lcore *pl)
{
	for (unsigned int k = 0; k < SMTP_BLK_MAX; k++) {
		rte_mempool_free(pl->mem.pool[k]);
		pl->mem.pool[k] = NULL;
	}
}

void *
proxy_mem_get(void *arg, uint8_t kind)
{
	struct proxy_sess *ps = arg;
	void *b;

	if (kind >= SMTP_BLK_MAX || rte_mempool_get(ps->pl->mem.pool[kind], &b) != 0)
		return NULL;
	return b;
}

void
proxy_mem_put(void *arg, uint8_t kind, void *blk)
{
	struct proxy_sess *ps = arg;

	rte_mempool_put(ps->pl->mem.pool[kind], blk);
}

int
proxy_mem_stats_text(struct proxy_lcore *const *lcores, unsigned int n, char *buf, size_t size)
{
	uint64_t sess_n = 0, sess_used = 0, blk_n[SMTP_BLK_MAX] = {0}, blk_used[SMTP_BLK_MAX] = {0};
	uint32_t sess_bytes = 0, blk_bytes[SMTP_BLK_MAX] = {0};
	size_t used = 0;

	for (unsigned int l = 0; l < n; l++) {
		const struct proxy_lcore *pl = lcores[l];

		if (pl == NULL || pl->mem.pool[0] == NULL)
			continue;
		sess_bytes = pl->mem.sess_elt_bytes;
		sess_n += pl->mem.n_sessions;
		sess_used += rte_mempool_in_use_count(pl->pool);
		for (unsigned int k = 0; k < SMTP_BLK_MAX; k++) {
			blk_bytes[k] = pl->mem.elt_bytes[k];
			blk_n[k] += pl->mem.n[k];
			blk_used[k] += rte_mempool_in_use_count(pl->mem.pool[k]);
		}
	}
	(void) stats_appendf(buf, size, &used,
		"smtp_mem_session_bytes %u\nsmtp_mem_session_in_use %" PRIu64
		"\nsmtp_mem_session_size %" PRIu64 "\n",
		sess_bytes, sess_used, sess_n);
	for (unsigned int k = 0; k < SMTP_BLK_MAX; k++) {
		const char *nm = smtp_blk_name((enum smtp_blk_kind) k);

		(void) stats_appendf(buf, size, &used,
			"smtp_mem_%s_bytes %u\nsmtp_mem_%s_in_use %" PRIu64
			"\nsmtp_mem_%s_size %" PRIu64 "\n",
			nm, blk_bytes[k], nm, blk_used[k], nm, blk_n[k]);
	}
	return (int) used;
}
