/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The SMTP engine's borrowed blocks on the dataplane: one fixed-size rte_mempool per block
 * kind and lcore, sized at start from the session count and --smtp-busy; the element sizes
 * the pools really use, for the memory report. Lcore-local at run time.
 */
#ifndef NDG_DATAPLANE_PROXY_MEM_H
#define NDG_DATAPLANE_PROXY_MEM_H

#include <stddef.h>
#include <stdint.h>

#include "proxy-t.h"

/** Share (percent, 1..100) of sessions that may hold each kind of block at once. Main lcore,
 * before proxy_start(). */
void proxy_mem_set_busy(uint32_t pct);

/**
 * Create <pl>'s block pools for <n_sessions> sessions and log the element sizes.
 * @return 0, -ENOMEM. Main lcore, before launch.
 */
int proxy_mem_lcore_init(struct proxy_lcore *pl, unsigned int lcore_id, int socket,
	uint32_t n_sessions);

/** Free what proxy_mem_lcore_init() made. Main lcore, after the workers returned. */
void proxy_mem_lcore_fini(struct proxy_lcore *pl);

/** smtp_ops.blk_get of the proxy: a block from the lcore's pool, NULL when empty. Lcore. */
void *proxy_mem_get(void *arg, uint8_t kind);

/** smtp_ops.blk_put of the proxy. Lcore. */
void proxy_mem_put(void *arg, uint8_t kind, void *blk);

/**
 * Append the memory figures ("smtp_mem_*" gauges: bytes per element as the pools lay them
 * out, elements in use and capacity, for the sessions and each block kind) to <buf>.
 * @return bytes written. Any thread (relaxed reads).
 */
int proxy_mem_stats_text(struct proxy_lcore *const *lcores, unsigned int n, char *buf, size_t size);

#endif /* NDG_DATAPLANE_PROXY_MEM_H */
