/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef NDG_DATAPLANE_LCORE_H
#define NDG_DATAPLANE_LCORE_H

#include <rte_ethdev.h>

#include "lcore-t.h"
#include "stats.h"

/**
 * Queue frame <m> for transmission on <port_id> from the lcore owning <ctx>; the loop
 * flushes every iteration. Owner lcore.
 */
static inline void
lcore_tx(struct lcore_ctx *ctx, uint16_t port_id, struct rte_mbuf *m)
{
	uint16_t n = rte_eth_tx_buffer(port_id, ctx->txq[port_id], ctx->txb[port_id], m);

	if (n != 0)
		stats_add(&ctx->stats, STATS_TX_PACKETS, n);
}

/**
 * Allocate the tx buffers of <ctx> for <port_id>, queue <queue_id>, on <socket>.
 * Main lcore, before launch. @return 0, or -ENOMEM.
 */
int lcore_ctx_add_tx(struct lcore_ctx *ctx, uint16_t port_id, uint16_t queue_id, int socket);

/**
 * Free what lcore_ctx_add_tx() allocated. Main lcore, after the worker returned.
 */
void lcore_ctx_fini(struct lcore_ctx *ctx);

/**
 * Process at most one burst from every rx queue of <ctx> and flush tx: one iteration of
 * the run-to-completion loop. Owner lcore. @return frames received.
 */
unsigned int lcore_poll_once(struct lcore_ctx *ctx);

/**
 * Worker entry point for rte_eal_remote_launch(): loops lcore_poll_once() until *quit,
 * registered as a urcu-qsbr reader with one quiescent state per iteration.
 * @param arg struct lcore_ctx *. @return 0.
 */
int lcore_main(void *arg);

#endif /* NDG_DATAPLANE_LCORE_H */
