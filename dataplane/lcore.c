/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The worker's run-to-completion loop: rx burst → L2/L3 → tx flush, then a QSBR quiescent
 * state. Share-nothing: a worker touches only its own context, its queues and read-only
 * tables. Each function runs on the lcore that owns <ctx>, except setup/teardown (main).
 */
#include <errno.h>

#include <rte_cycles.h>
#include <rte_ethdev.h>
#include <rte_malloc.h>
#include <rte_mbuf.h>
#include <rte_prefetch.h>
#include <rte_ring.h>

#include <urcu/urcu-qsbr.h>

#include "lcore.h"
#include "net.h"
#include "stats.h"
#include "tcp.h"
#include "ndg_common.h"

static void
lcore_tx_error_cb(struct rte_mbuf **unsent, uint16_t count, void *userdata)
{
	struct lcore_ctx *ctx = userdata;

	rte_pktmbuf_free_bulk(unsent, count);
	stats_add(&ctx->stats, STATS_TX_DROPPED, count);
}

int
lcore_ctx_add_tx(struct lcore_ctx *ctx, uint16_t port_id, uint16_t queue_id, int socket)
{
	struct rte_eth_dev_tx_buffer *b;

	b = rte_zmalloc_socket("ndg_txb", RTE_ETH_TX_BUFFER_SIZE(LCORE_BURST), 0, socket);
	if (b == NULL)
		return -ENOMEM;
	rte_eth_tx_buffer_init(b, LCORE_BURST);
	rte_eth_tx_buffer_set_err_callback(b, lcore_tx_error_cb, ctx);
	ctx->txb[port_id] = b;
	ctx->txq[port_id] = queue_id;
	return 0;
}

void
lcore_ctx_fini(struct lcore_ctx *ctx)
{
	for (unsigned int p = 0; p < RTE_MAX_ETHPORTS; p++) {
		if (ctx->txb[p] == NULL)
			continue;
		rte_eth_tx_buffer_flush(p, ctx->txq[p], ctx->txb[p]);
		rte_free(ctx->txb[p]);
		ctx->txb[p] = NULL;
	}
}

/* One received frame through L2/L3/L4; <nif> is the port it came in on. */
static inline void
lcore_input(struct lcore_ctx *ctx, const struct net_if *nif, struct rte_mbuf *m)
{
	switch (net_eth_input(ctx, nif, m)) {
	case NET_TX:
		lcore_tx(ctx, nif->port_id, m);
		break;
	case NET_CONSUMED:
		break;
	case NET_DROP:
	default:
		rte_pktmbuf_free(m);
		break;
	}
}

/* Frames other lcores passed to this one (no RSS: replies to our active opens). */
static unsigned int
lcore_handoff_drain(struct lcore_ctx *ctx)
{
	struct rte_mbuf *pkts[LCORE_BURST];
	unsigned int n;

	n = rte_ring_dequeue_burst(ctx->tcp->handoff, (void **) pkts, LCORE_BURST, NULL);
	for (unsigned int i = 0; i < n; i++) {
		const struct net_if *nif =
			pkts[i]->port < RTE_MAX_ETHPORTS ? ctx->nif[pkts[i]->port] : NULL;

		if (nif == NULL)
			rte_pktmbuf_free(pkts[i]);
		else
			lcore_input(ctx, nif, pkts[i]);
	}
	return n;
}

unsigned int
lcore_poll_once(struct lcore_ctx *ctx)
{
	struct stats_lcore *st = &ctx->stats;
	struct rte_mbuf *pkts[LCORE_BURST];
	unsigned int total = 0;
	uint64_t sent = 0;

	for (uint16_t q = 0; q < ctx->n_rxq; q++) {
		const struct lcore_rxq *rxq = &ctx->rxq[q];
		uint16_t n = rte_eth_rx_burst(rxq->port_id, rxq->queue_id, pkts, LCORE_BURST);
		uint64_t bytes = 0;

		for (uint16_t i = 0; i < n; i++) {
			struct rte_mbuf *m = pkts[i];

			if (i + 1 < n)
				rte_prefetch0(rte_pktmbuf_mtod(pkts[i + 1], void *));
			bytes += rte_pktmbuf_pkt_len(m);
			lcore_input(ctx, rxq->nif, m);
		}
		if (n != 0) {
			stats_add(st, STATS_RX_PACKETS, n);
			stats_add(st, STATS_RX_BYTES, bytes);
			total += n;
		}
	}
	if (ctx->tcp != NULL) {
		if (!rte_ring_empty(ctx->tcp->handoff))
			total += lcore_handoff_drain(ctx);
		tcp_stack_poll(ctx->tcp);
	}
	if (ctx->tick != NULL)
		ctx->tick(ctx, ctx->tick_arg);
	for (uint16_t q = 0; q < ctx->n_rxq; q++) {
		uint16_t port = ctx->rxq[q].port_id;

		sent += rte_eth_tx_buffer_flush(port, ctx->txq[port], ctx->txb[port]);
	}
	if (sent != 0)
		stats_add(st, STATS_TX_PACKETS, sent);
	stats_inc(st, STATS_LOOPS);
	return total;
}

int
lcore_main(void *arg)
{
	struct lcore_ctx *ctx = arg;

	urcu_qsbr_register_thread();
	while (!*ctx->quit) {
		if (lcore_poll_once(ctx) != 0)
			ctx->idle_loops = 0;
		else if (ctx->idle_sleep_us != 0 && ++ctx->idle_loops >= LCORE_IDLE_LOOPS) {
			/* Lab and shared boxes: give the core back while nothing arrives. */
			urcu_qsbr_thread_offline();
			rte_delay_us_sleep(ctx->idle_sleep_us);
			urcu_qsbr_thread_online();
		}
		/* Readers of RCU-published tables hold no reference across iterations. */
		urcu_qsbr_quiescent_state();
		if (ctx->housekeeping != NULL) {
			uint64_t now = rte_rdtsc();

			if (now >= ctx->hk_next) {
				ctx->hk_next = now + ctx->hk_period;
				urcu_qsbr_thread_offline();
				ctx->housekeeping(ctx);
				urcu_qsbr_thread_online();
			}
		}
	}
	urcu_qsbr_unregister_thread();
	return 0;
}
