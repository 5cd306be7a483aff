/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * L2/L3 input path: Ethernet, ARP, IPv4, ICMP. Called by the owning worker lcore for each
 * received frame; every function here is lock-free and touches only the frame, the
 * read-only interface and the caller's counters.
 */
#ifndef NDG_DATAPLANE_NET_H
#define NDG_DATAPLANE_NET_H

#include <stdbool.h>

#include <rte_byteorder.h>
#include <rte_mbuf.h>
#include <urcu/urcu-qsbr.h>

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

/* The anti-spoofing table in force (net_ip.c); NULL before net_spoof_init(). */
extern struct net_spoof *net_spoof_cur;

/**
 * The anti-spoofing table in force, or NULL. Safe from any lcore registered with urcu-qsbr
 * and online; the table stays valid until the caller's next quiescent state. Lock-free.
 */
static inline const struct net_spoof *
net_spoof_get(void)
{
	return rcu_dereference(net_spoof_cur);
}

/**
 * Is <src> (network byte order), arriving on port <port_id>, a forged source under <sp>?
 * True for our own addresses on any port, and on an external port for an address inside
 * the internal networks, inside relay networks, backends or internal subnets. Any thread;
 * reads <sp> only: a few compares and a binary search over the merged ranges.
 */
static inline bool
net_spoof_refuses(const struct net_spoof *sp, uint16_t port_id, uint32_t src)
{
	uint32_t lo = 0, hi, h;

	for (uint32_t i = 0; i < sp->n_own; i++)
		if (sp->own[i] == src)
			return true;
	if (port_id >= RTE_MAX_ETHPORTS || sp->role[port_id] != NET_ROLE_EXTERNAL)
		return false;
	h = rte_be_to_cpu_32(src);
	hi = sp->n_inside;
	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;

		if (h < sp->inside[mid].lo)
			hi = mid;
		else if (h > sp->inside[mid].hi)
			lo = mid + 1;
		else
			return true;
	}
	return false;
}

/**
 * Build an anti-spoofing table for the <n_ports> interfaces at <nifs> (indexed by port id;
 * entries without addresses are ignored). <anchors>[<n_anchors>] are what the internal side
 * leads to (backends, internal networks): a port whose connected subnet overlaps one is
 * internal, and one reached through no subnet makes the port with the gateway internal, as
 * the proxy would route to it. A port is external when it is not internal or carries the
 * gateway; both make it one-armed, and so does being the only port with an address.
 * <inside>[<n_inside>] are the prefixes an external port refuses, to which the subnets of
 * internal ports are added. *<overlap> (when not NULL): how many inside prefixes overlap an
 * external port's own subnet (a configuration that refuses legitimate neighbours).
 * @return the table (malloc'd; free() it, or hand it to net_spoof_publish()), NULL when out
 *   of memory. Any thread.
 */
struct net_spoof *net_spoof_build(const struct net_if *nifs, uint16_t n_ports,
	const struct net_pfx *anchors, unsigned int n_anchors, const struct net_pfx *inside,
	unsigned int n_inside, unsigned int *overlap);

/**
 * Publish <sp> (from net_spoof_build(), or NULL) and free the previous table after a grace
 * period. Control thread (or main before launch), registered with urcu-qsbr.
 */
void net_spoof_publish(struct net_spoof *sp);

/**
 * Remember the ports at <nifs>[<n_ports>] (read-only for the process's life) and publish a
 * first table: our own addresses refused everywhere, no roles. Main, before launch.
 * @return 0, or -ENOMEM.
 */
int net_spoof_init(const struct net_if *nifs, uint16_t n_ports);

/**
 * Rebuild the table for a new configuration over the ports given to net_spoof_init() and
 * publish it; arguments as net_spoof_build(). Does nothing before net_spoof_init().
 * @return 0, -ENOMEM (the previous table stays). Control thread.
 */
int net_spoof_update(const struct net_pfx *anchors, unsigned int n_anchors,
	const struct net_pfx *inside, unsigned int n_inside, unsigned int *overlap);

/** "external", "internal", "one-armed" or "none". Any thread. */
const char *net_role_name(enum net_port_role r);

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
 * sources, forged sources (net_spoof_refuses()) and packets not addressed to us. Trims Ethernet padding. TCP goes to the lcore's
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
