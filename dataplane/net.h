/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * L2/L3 input path: Ethernet, ARP, IPv4, ICMP. Called by the owning worker lcore for each
 * received frame; every function here is lock-free and touches only the frame, the
 * read-only interface and the caller's counters.
 */
#ifndef NDG_DATAPLANE_NET_H
#define NDG_DATAPLANE_NET_H

#include <stdbool.h>

#include <rte_mbuf.h>

#include "lcore-t.h"
#include "net-t.h"
#include "stats-t.h"

/**
 * True when <ip> (network byte order) is one of <nif>'s addresses. Any lcore.
 */
static inline bool
net_if_has_addr(const struct net_if *nif, uint32_t ip)
{
	for (unsigned int i = 0; i < nif->n_addrs; i++)
		if (nif->addrs[i].ip == ip)
			return true;
	return false;
}

/**
 * Handle one received frame <m> on interface <nif>.
 * Accepts Ethernet II frames to our MAC or broadcast; everything malformed, foreign or
 * unsupported is counted in <st> under its reason and refused.
 * @return NET_TX when <m> was rewritten into a reply for the same port, NET_DROP when the
 *   caller must free it, NET_CONSUMED when an upper layer kept it.
 * Counters go to <ctx>'s block; TCP to <ctx>'s stack when it has one.
 * Thread safety: owner lcore of <ctx>; <nif> is read-only.
 */
enum net_verdict net_eth_input(struct lcore_ctx *ctx, const struct net_if *nif, struct rte_mbuf *m);

/**
 * Handle an ARP packet at <m>'s offset <l2len>; answers requests for our addresses in place
 * and hands replies (and requests from next hops we are resolving) to the TCP stack's cache.
 * @return NET_TX or NET_DROP, as net_eth_input(). Owner lcore.
 */
enum net_verdict net_arp_input(struct lcore_ctx *ctx, const struct net_if *nif, struct rte_mbuf *m,
	uint16_t l2len);

/**
 * Validate an IPv4 packet at offset <l2len> and dispatch it by protocol.
 * Drops truncated frames, bad version/IHL/length/checksum, options, fragments, martian
 * sources and packets not addressed to us. Trims Ethernet padding. TCP goes to the lcore's
 * stack; ICMP destination-unreachable quoting TCP is passed to it too.
 * @return NET_TX, NET_DROP or NET_CONSUMED, as net_eth_input(). Owner lcore.
 */
enum net_verdict net_ipv4_input(struct lcore_ctx *ctx, const struct net_if *nif, struct rte_mbuf *m,
	uint16_t l2len);

/**
 * Finish an outgoing IPv4 header at offset <l2len>: checksum by the PMD when <nif> has the
 * offload, in software otherwise. Owner lcore.
 */
void net_ipv4_tx_cksum(const struct net_if *nif, struct rte_mbuf *m, uint16_t l2len);

/**
 * Parse "A.B.C.D/LEN" (LEN optional, default 32) into <out>.
 * @return 0, or -EINVAL on any syntax error or out-of-range part. Any thread.
 */
int net_addr_parse(const char *s, struct net_addr *out);

#endif /* NDG_DATAPLANE_NET_H */
