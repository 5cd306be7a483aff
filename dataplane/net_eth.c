/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Ethernet input: destination filter and ethertype dispatch. Worker lcores only.
 */
#include <rte_byteorder.h>
#include <rte_ether.h>
#include <rte_mbuf.h>

#include "net.h"
#include "stats.h"
#include "ndg_common.h"

enum net_verdict
net_eth_input(struct lcore_ctx *ctx, const struct net_if *nif, struct rte_mbuf *m)
{
	struct stats_lcore *st = &ctx->stats;
	const struct rte_ether_hdr *eh;
	const uint16_t l2len = sizeof(*eh);

	/* Headers must sit in the first segment; PMDs always place them there. */
	if (unlikely(rte_pktmbuf_data_len(m) < l2len)) {
		stats_inc(st, STATS_DROP_ETH_TRUNCATED);
		return NET_DROP;
	}
	eh = rte_pktmbuf_mtod(m, const struct rte_ether_hdr *);
	if (unlikely(!rte_is_same_ether_addr(&eh->dst_addr, &nif->mac) &&
		     !rte_is_broadcast_ether_addr(&eh->dst_addr))) {
		stats_inc(st, STATS_DROP_ETH_NOT_FOR_US);
		return NET_DROP;
	}
	switch (eh->ether_type) {
	case RTE_BE16(RTE_ETHER_TYPE_IPV4):
		return net_ipv4_input(ctx, nif, m, l2len);
	case RTE_BE16(RTE_ETHER_TYPE_ARP):
		return net_arp_input(ctx, nif, m, l2len);
	default:
		stats_inc(st, STATS_DROP_ETH_UNKNOWN_TYPE);
		return NET_DROP;
	}
}
