/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Per-lcore context of a worker: its rx queues, its tx buffers, its counters.
 * Created by the main lcore before launch, then owned by exactly one worker.
 */
#ifndef NDG_DATAPLANE_LCORE_T_H
#define NDG_DATAPLANE_LCORE_T_H

#include <stdbool.h>
#include <stdint.h>

#include <rte_config.h>

#include "net-t.h"
#include "stats-t.h"

#define LCORE_MAX_RXQ	 16   /* rx queues one worker polls */
#define LCORE_BURST	 32   /* rx burst and tx buffer size */
#define LCORE_IDLE_LOOPS 1000 /* empty polls before an idle sleep (--idle-sleep-us) */

struct rte_eth_dev_tx_buffer;
struct lcore_ctx;
struct tcp_stack;

/* Work the main lcore does when it also runs the packet loop (single-lcore mode). */
typedef void lcore_housekeeping_fn(struct lcore_ctx *ctx);
/* Work an application does on its lcore once per loop iteration. */
typedef void lcore_tick_fn(struct lcore_ctx *ctx, void *arg);

struct lcore_rxq {
	const struct net_if *nif; /* read-only after start */
	uint16_t port_id;
	uint16_t queue_id;
};

struct lcore_ctx {
	struct stats_lcore stats; /* first: owner-written, cache-line aligned */
	unsigned int lcore_id;
	uint16_t n_rxq;
	struct lcore_rxq rxq[LCORE_MAX_RXQ];
	uint16_t txq[RTE_MAX_ETHPORTS]; /* tx queue this lcore owns on each port */
	struct rte_eth_dev_tx_buffer *txb[RTE_MAX_ETHPORTS]; /* NULL: port unused */
	const volatile bool *quit;			     /* set by the signal handler */
	lcore_housekeeping_fn *housekeeping;		     /* NULL on dedicated workers */
	uint64_t hk_period;    /* TSC cycles between housekeeping calls */
	uint64_t hk_next;      /* TSC of the next call */
	struct tcp_stack *tcp; /* this lcore's TCP stack; NULL: no TCP (ICMP/ARP only) */
	lcore_tick_fn *tick;   /* NULL: none */
	void *tick_arg;
	const struct net_if *nif[RTE_MAX_ETHPORTS]; /* every port's interface, by port id */
	uint32_t idle_sleep_us; /* 0: poll always; else sleep this long when idle */
	uint32_t idle_loops;	/* consecutive empty polls */
} __attribute__((aligned(64)));

#endif /* NDG_DATAPLANE_LCORE_T_H */
