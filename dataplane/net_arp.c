/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * ARP (RFC 826) for our IPv4 addresses: requests answered in place. Resolution of next hops
 * arrives with the TCP stack's active open. Worker lcores only.
 */
#include <rte_arp.h>
#include <rte_byteorder.h>
#include <rte_ether.h>
#include <rte_mbuf.h>

#include "net.h"
#include "stats.h"
#include "ndg_common.h"

enum net_verdict
net_arp_input(const struct net_if *nif, struct stats_lcore *st, struct rte_mbuf *m, uint16_t l2len)
{
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
	if (ah->arp_opcode != RTE_BE16(RTE_ARP_OP_REQUEST)) {
		stats_inc(st, STATS_DROP_ARP_OTHER_OP);
		return NET_DROP;
	}
	tip = ah->arp_data.arp_tip;
	if (!net_if_has_addr(nif, tip)) {
		stats_inc(st, STATS_DROP_ARP_NOT_FOR_US);
		return NET_DROP;
	}
	stats_inc(st, STATS_ARP_REQUEST_RX);

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
