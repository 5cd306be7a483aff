/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * ARP (RFC 826) for our IPv4 addresses: requests answered in place; replies and requests
 * from hosts we are resolving feed the TCP stack's next-hop cache (tcp_arp_learn).
 * Worker lcores only.
 */
#include <rte_arp.h>
#include <rte_byteorder.h>
#include <rte_ether.h>
#include <rte_mbuf.h>
#include <rte_ring.h>

#include "net.h"
#include "stats.h"
#include "tcp.h"
#include "ndg_common.h"

/*
 * Learn sender <ah> on this lcore, and on the others when they are resolving too: ARP has
 * no RSS, so the answer reaches one queue while every lcore may be waiting for it. The
 * other stacks' caches are touched only through their hand-off rings, as a copy of the
 * frame marked so it is not forwarded again.
 */
#define NET_ARP_HANDOFF_MARK 0x4e444741u /* hash.fdir.hi of a copy from another lcore */

static void
net_arp_learn_all(struct lcore_ctx *ctx, const struct net_if *nif, struct rte_mbuf *m,
	const struct rte_arp_hdr *ah)
{
	struct tcp_stack *ts = ctx->tcp;

	tcp_arp_learn(ts, nif->port_id, ah->arp_data.arp_sip, &ah->arp_data.arp_sha);
	if (ts->n_queues < 2 || ts->peers == NULL)
		return;
	for (uint16_t q = 0; q < ts->n_queues; q++) {
		struct rte_mbuf *copy;

		if (q == ts->queue_id)
			continue;
		copy = rte_pktmbuf_copy(m, ts->mp, 0, UINT32_MAX);
		if (copy == NULL)
			continue;
		copy->port = nif->port_id;
		copy->hash.fdir.hi = NET_ARP_HANDOFF_MARK;
		if (rte_ring_enqueue(ts->peers[q]->handoff, copy) != 0) {
			copy->hash.fdir.hi = 0;
			rte_pktmbuf_free(copy);
		}
	}
}

enum net_verdict
net_arp_input(struct lcore_ctx *ctx, const struct net_if *nif, struct rte_mbuf *m, uint16_t l2len)
{
	struct stats_lcore *st = &ctx->stats;
	const struct net_spoof *sp;
	struct rte_ether_hdr *eh;
	struct rte_arp_hdr *ah;
	uint32_t tip;

	if (unlikely(rte_pktmbuf_data_len(m) < l2len + sizeof(*ah))) {
		stats_inc(st, STATS_DROP_ARP_TRUNCATED);
		return NET_DROP;
	}
	eh = rte_pktmbuf_mtod(m, struct rte_ether_hdr *);
	ah = rte_pktmbuf_mtod_offset(m, struct rte_arp_hdr *, l2len);
	if (unlikely(ah->arp_hardware != RTE_BE16(RTE_ARP_HRD_ETHER) ||
		     ah->arp_protocol != RTE_BE16(RTE_ETHER_TYPE_IPV4) ||
		     ah->arp_hlen != RTE_ETHER_ADDR_LEN || ah->arp_plen != sizeof(uint32_t))) {
		stats_inc(st, STATS_DROP_ARP_BAD);
		return NET_DROP;
	}
	tip = ah->arp_data.arp_tip;
	if (m->hash.fdir.hi == NET_ARP_HANDOFF_MARK && ctx->tcp != NULL) {
		/* Another lcore's copy: learn, never answer or forward again. The mark goes
		 * before the mbuf returns to the pool, where a PMD would reuse it. */
		m->hash.fdir.hi = 0;
		tcp_arp_learn(ctx->tcp, nif->port_id, ah->arp_data.arp_sip, &ah->arp_data.arp_sha);
		return NET_DROP;
	}
	/* A sender claiming one of our addresses, or (external port) an inside one, would
	 * redirect our traffic for it: the cache learns only what is solicited, but an entry
	 * for a backend being resolved would take the forger's MAC and port. */
	sp = net_spoof_get();
	if (unlikely(sp != NULL && ah->arp_data.arp_sip != 0 &&
		     net_spoof_refuses(sp, nif->port_id, ah->arp_data.arp_sip))) {
		stats_inc(st, STATS_DROP_ARP_SPOOFED_SRC);
		return NET_DROP;
	}
	if (ah->arp_opcode == RTE_BE16(RTE_ARP_OP_REPLY)) {
		stats_inc(st, STATS_ARP_REPLY_RX);
		if (ctx->tcp != NULL && net_if_has_addr(nif, tip))
			net_arp_learn_all(ctx, nif, m, ah);
		return NET_DROP;
	}
	if (ah->arp_opcode != RTE_BE16(RTE_ARP_OP_REQUEST)) {
		stats_inc(st, STATS_DROP_ARP_OTHER_OP);
		return NET_DROP;
	}
	if (!net_if_has_addr(nif, tip)) {
		stats_inc(st, STATS_DROP_ARP_NOT_FOR_US);
		return NET_DROP;
	}
	stats_inc(st, STATS_ARP_REQUEST_RX);
	/* The asker is likely a next hop we want too (RFC 826 merge: update only). */
	if (ctx->tcp != NULL)
		net_arp_learn_all(ctx, nif, m, ah);

	/* Turn the request into the reply: target becomes the asker, sender becomes us. */
	ah->arp_opcode = RTE_BE16(RTE_ARP_OP_REPLY);
	ah->arp_data.arp_tha = ah->arp_data.arp_sha;
	ah->arp_data.arp_tip = ah->arp_data.arp_sip;
	ah->arp_data.arp_sha = nif->mac;
	ah->arp_data.arp_sip = tip;
	eh->dst_addr = ah->arp_data.arp_tha;
	eh->src_addr = nif->mac;
	stats_inc(st, STATS_ARP_REPLY_TX);
	return NET_TX;
}
