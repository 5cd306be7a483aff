/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef NDG_DATAPLANE_STATS_H
#define NDG_DATAPLANE_STATS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "stats-t.h"

/**
 * Count <n> events of <id> on the calling lcore's block.
 * Owner lcore only; the relaxed store lets other threads read without tearing.
 */
static inline void
stats_add(struct stats_lcore *st, enum stats_id id, uint64_t n)
{
	__atomic_store_n(&st->c[id], st->c[id] + n, __ATOMIC_RELAXED);
}

/**
 * Set gauge <id> of the calling lcore's block to <v>. Owner lcore only.
 */
static inline void
stats_set(struct stats_lcore *st, enum stats_id id, uint64_t v)
{
	__atomic_store_n(&st->c[id], v, __ATOMIC_RELAXED);
}

static inline void
stats_inc(struct stats_lcore *st, enum stats_id id)
{
	stats_add(st, id, 1);
}

/**
 * Name of counter <id> (stable: it is the key in telemetry and the stats file).
 * @return a static string, never NULL. Thread-safe.
 */
const char *stats_name(enum stats_id id);

/**
 * Register the per-lcore blocks that stats_sum() and the exporters read.
 * Call once from the main lcore before workers start.
 * @return 0, or -ENOSPC when more blocks than RTE_MAX_LCORE are given.
 */
int stats_register(struct stats_lcore *const *blocks, unsigned int n);

struct rte_mempool;

/**
 * Report the in-use count of packet pool <mp> in the JSON snapshot ("mbufs"), so tests see
 * that idle connections hold no buffers. Main lcore before workers start; NULL forgets it.
 */
void stats_register_mempool(const struct rte_mempool *mp);

/**
 * Sum every registered block into <out>. Safe from any thread while workers run.
 */
void stats_sum(struct stats_lcore *out);

/**
 * Write the summed counters and ethdev statistics of every port as one JSON object.
 * Main lcore or control thread. @return 0, or -EIO when the stream fails.
 */
int stats_write_json(FILE *f);

/**
 * Write the JSON snapshot to <path> atomically (temporary file + rename).
 * @return 0, or -errno of the failing call.
 */
int stats_write_file(const char *path);

/**
 * Append printf-formatted text at <buf> + *<used> (buffer of <size> bytes) and advance
 * *<used>. Text that does not fit is not written. Any thread.
 * @return true when it fitted.
 */
bool stats_appendf(char *buf, size_t size, size_t *used, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/**
 * Register the `/ndrguard/stats` telemetry command (dpdk-telemetry.py and the control
 * daemon read it). @return 0 or the negative value rte_telemetry_register_cmd gave.
 */
int stats_telemetry_init(void);

#endif /* NDG_DATAPLANE_STATS_H */
