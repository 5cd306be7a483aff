/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * IPv4 input, ICMP echo, and ICMP unreachable handed to TCP. Validation is strict because every byte is hostile: anything
 * we would have to guess about (options, fragments, lengths that disagree) is dropped and
 * counted. Worker lcores only, except net_addr_parse() (any thread).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>

#include <rte_byteorder.h>
#include <rte_ether.h>
#include <rte_icmp.h>
#include <rte_ip.h>
#include <rte_mbuf.h>

#include "net.h"
#include "stats.h"
#include "tcp.h"
#include "ndg_common.h"

#define NET_ICMP_UNREACH 3 /* RFC 792 destination unreachable */

/* Sources no real peer can have (RFC 1122 §3.2.1.3, RFC 5735). */
static inline bool
net_ipv4_is_martian_src(uint32_t ip_be)
{
	uint32_t ip = rte_be_to_cpu_32(ip_be);
	uint8_t top = ip >> 24;

	return top == 0 || top == 127 || top >= 224;
}

void
net_ipv4_tx_cksum(const struct net_if *nif, struct rte_mbuf *m, uint16_t l2len)
{
	struct rte_ipv4_hdr *ip = rte_pktmbuf_mtod_offset(m, struct rte_ipv4_hdr *, l2len);

	ip->hdr_checksum = 0;
	if (nif->flags & NET_IF_F_TX_IP_CKSUM) {
		m->l2_len = l2len;
		m->l3_len = rte_ipv4_hdr_len(ip);
		m->ol_flags |= RTE_MBUF_F_TX_IPV4 | RTE_MBUF_F_TX_IP_CKSUM;
	} else {
		ip->hdr_checksum = rte_ipv4_cksum(ip);
	}
}

static enum net_verdict
net_icmp_input(struct lcore_ctx *ctx, const struct net_if *nif, struct rte_mbuf *m, uint16_t l2len,
	uint16_t l3len)
{
	struct stats_lcore *st = &ctx->stats;
	struct rte_ether_hdr *eh = rte_pktmbuf_mtod(m, struct rte_ether_hdr *);
	struct rte_ipv4_hdr *ip = rte_pktmbuf_mtod_offset(m, struct rte_ipv4_hdr *, l2len);
	uint16_t icmp_len = rte_be_to_cpu_16(ip->total_length) - l3len;
	uint32_t off = l2len + l3len;
	struct rte_icmp_hdr *ih;
	uint32_t addr;
	uint16_t sum;

	if (unlikely(icmp_len < sizeof(*ih) || rte_pktmbuf_data_len(m) < off + sizeof(*ih))) {
		stats_inc(st, STATS_DROP_ICMP_TRUNCATED);
		return NET_DROP;
	}
	/* The one's complement sum over a message including its checksum is all ones. */
	if (unlikely(rte_raw_cksum_mbuf(m, off, icmp_len, &sum) != 0 || sum != 0xffff)) {
		stats_inc(st, STATS_DROP_ICMP_BAD_CKSUM);
		return NET_DROP;
	}
	ih = rte_pktmbuf_mtod_offset(m, struct rte_icmp_hdr *, off);
	if (ih->icmp_type == NET_ICMP_UNREACH) {
		/* RFC 792: the quoted IP header and at least 8 bytes of its payload follow. */
		const uint8_t *q = (const uint8_t *) (ih + 1);
		uint16_t mtu = rte_be_to_cpu_16(ih->icmp_seq_nb); /* RFC 1191 next-hop MTU */

		stats_inc(st, STATS_ICMP_UNREACH_RX);
		if (ctx->tcp != NULL && icmp_len >= sizeof(*ih) + 28 &&
			rte_pktmbuf_data_len(m) >= off + sizeof(*ih) + 28 && (q[0] >> 4) == 4 &&
			(q[0] & 0xf) == 5)
			tcp_icmp_unreach(ctx->tcp, q, ih->icmp_code, mtu);
		return NET_DROP;
	}
	if (ih->icmp_type != RTE_IP_ICMP_ECHO_REQUEST || ih->icmp_code != 0) {
		stats_inc(st, STATS_DROP_ICMP_TYPE);
		return NET_DROP;
	}
	stats_inc(st, STATS_ICMP_ECHO_RX);

	/* RFC 792: the reply carries identifier, sequence and data unchanged. */
	ih->icmp_type = RTE_IP_ICMP_ECHO_REPLY;
	ih->icmp_cksum = 0;
	if (rte_raw_cksum_mbuf(m, off, icmp_len, &sum) != 0) {
		stats_inc(st, STATS_DROP_ICMP_TRUNCATED);
		return NET_DROP;
	}
	ih->icmp_cksum = (sum == 0xffff) ? sum : (uint16_t) ~sum;

	addr = ip->src_addr;
	ip->src_addr = ip->dst_addr;
	ip->dst_addr = addr;
	ip->time_to_live = NET_IP_TTL;
	ip->fragment_offset = 0;
	net_ipv4_tx_cksum(nif, m, l2len);

	eh->dst_addr = eh->src_addr;
	eh->src_addr = nif->mac;
	stats_inc(st, STATS_ICMP_ECHO_REPLY_TX);
	return NET_TX;
}

enum net_verdict
net_ipv4_input(struct lcore_ctx *ctx, const struct net_if *nif, struct rte_mbuf *m, uint16_t l2len)
{
	struct stats_lcore *st = &ctx->stats;
	const struct rte_ipv4_hdr *ip;
	const struct net_spoof *sp;
	uint16_t l3len, tot;
	uint32_t frame_l3;

	if (unlikely(rte_pktmbuf_data_len(m) < l2len + sizeof(*ip))) {
		stats_inc(st, STATS_DROP_IP_TRUNCATED);
		return NET_DROP;
	}
	ip = rte_pktmbuf_mtod_offset(m, const struct rte_ipv4_hdr *, l2len);
	if (unlikely((ip->version_ihl >> 4) != 4)) {
		stats_inc(st, STATS_DROP_IP_BAD_VERSION);
		return NET_DROP;
	}
	l3len = (ip->version_ihl & RTE_IPV4_HDR_IHL_MASK) * RTE_IPV4_IHL_MULTIPLIER;
	if (unlikely(l3len < sizeof(*ip))) {
		stats_inc(st, STATS_DROP_IP_BAD_IHL);
		return NET_DROP;
	}
	tot = rte_be_to_cpu_16(ip->total_length);
	frame_l3 = rte_pktmbuf_pkt_len(m) - l2len;
	if (unlikely(tot < l3len)) {
		stats_inc(st, STATS_DROP_IP_BAD_LEN);
		return NET_DROP;
	}
	if (unlikely(tot > frame_l3 || rte_pktmbuf_data_len(m) < l2len + l3len)) {
		stats_inc(st, STATS_DROP_IP_TRUNCATED);
		return NET_DROP;
	}
	if (nif->flags & NET_IF_F_RX_IP_CKSUM) {
		if (unlikely((m->ol_flags & RTE_MBUF_F_RX_IP_CKSUM_MASK) ==
			     RTE_MBUF_F_RX_IP_CKSUM_BAD)) {
			stats_inc(st, STATS_DROP_IP_BAD_CKSUM);
			return NET_DROP;
		}
	}
	if (!(nif->flags & NET_IF_F_RX_IP_CKSUM) ||
		(m->ol_flags & RTE_MBUF_F_RX_IP_CKSUM_MASK) != RTE_MBUF_F_RX_IP_CKSUM_GOOD) {
		if (unlikely(rte_raw_cksum(ip, l3len) != 0xffff)) {
			stats_inc(st, STATS_DROP_IP_BAD_CKSUM);
			return NET_DROP;
		}
	}
	if (unlikely(l3len != sizeof(*ip))) {
		stats_inc(st, STATS_DROP_IP_OPTIONS);
		return NET_DROP;
	}
	/* MF set or a non-zero offset: a fragment (RFC 791). */
	if (unlikely((ip->fragment_offset &
			     RTE_BE16(RTE_IPV4_HDR_MF_FLAG | RTE_IPV4_HDR_OFFSET_MASK)) != 0)) {
		stats_inc(st, STATS_DROP_IP_FRAGMENT);
		return NET_DROP;
	}
	if (unlikely(net_ipv4_is_martian_src(ip->src_addr))) {
		stats_inc(st, STATS_DROP_IP_BAD_SRC);
		return NET_DROP;
	}
	if (unlikely(!net_if_has_addr(nif, ip->dst_addr))) {
		stats_inc(st, STATS_DROP_IP_NOT_FOR_US);
		return NET_DROP;
	}
	/* BCP 38: ours, or (external port) inside, is never a source from the wire. */
	sp = net_spoof_get();
	if (unlikely(sp != NULL && net_spoof_refuses(sp, nif->port_id, ip->src_addr))) {
		stats_inc(st, STATS_DROP_IP_SPOOFED_SRC);
		return NET_DROP;
	}
	/* Ethernet pads short frames to 60 bytes: the IP length is the truth. */
	if (frame_l3 > tot)
		rte_pktmbuf_trim(m, frame_l3 - tot);

	switch (ip->next_proto_id) {
	case IPPROTO_ICMP:
		return net_icmp_input(ctx, nif, m, l2len, l3len);
	case IPPROTO_TCP:
		if (ctx->tcp != NULL)
			return tcp_input(ctx->tcp, nif, m, l2len, l3len);
		stats_inc(st, STATS_DROP_IP_PROTO);
		return NET_DROP;
	default:
		stats_inc(st, STATS_DROP_IP_PROTO);
		return NET_DROP;
	}
}

int
net_addr_parse(const char *s, struct net_addr *out)
{
	char buf[INET_ADDRSTRLEN + 4];
	const char *slash = strchr(s, '/');
	size_t n = slash ? (size_t) (slash - s) : strlen(s);
	struct in_addr a;
	long plen = 32;

	if (n == 0 || n >= INET_ADDRSTRLEN)
		return -EINVAL;
	memcpy(buf, s, n);
	buf[n] = '\0';
	if (inet_pton(AF_INET, buf, &a) != 1)
		return -EINVAL;
	if (slash != NULL) {
		char *end;

		errno = 0;
		plen = strtol(slash + 1, &end, 10);
		if (errno != 0 || end == slash + 1 || *end != '\0' || plen < 0 || plen > 32)
			return -EINVAL;
	}
	out->ip = a.s_addr;
	out->plen = (uint8_t) plen;
	return 0;
}
