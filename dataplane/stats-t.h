/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Per-lcore counters: one cache-aligned block per worker lcore, written only by its owner,
 * read (relaxed) by the main lcore for telemetry and the stats file.
 */
#ifndef NDG_DATAPLANE_STATS_T_H
#define NDG_DATAPLANE_STATS_T_H

#include <stdint.h>

enum stats_id {
	STATS_RX_PACKETS = 0,	     /* frames taken from rx bursts */
	STATS_RX_BYTES,		     /* bytes of those frames */
	STATS_TX_PACKETS,	     /* frames handed to the PMD */
	STATS_TX_DROPPED,	     /* frames the PMD refused (tx ring full) */
	STATS_LOOPS,		     /* run-to-completion iterations */
	STATS_DROP_ETH_TRUNCATED,    /* shorter than an Ethernet header */
	STATS_DROP_ETH_NOT_FOR_US,   /* destination MAC neither ours nor broadcast */
	STATS_DROP_ETH_UNKNOWN_TYPE, /* ethertype we do not handle (VLAN, IPv6 for now) */
	STATS_ARP_REQUEST_RX,	     /* ARP requests for one of our addresses */
	STATS_ARP_REPLY_TX,	     /* ARP replies sent */
	STATS_DROP_ARP_TRUNCATED,    /* shorter than an Ethernet/IPv4 ARP packet */
	STATS_DROP_ARP_BAD,	     /* not Ethernet/IPv4 ARP (htype, ptype, hlen, plen) */
	STATS_DROP_ARP_NOT_FOR_US,   /* request for an address that is not ours */
	STATS_DROP_ARP_OTHER_OP,     /* replies and other opcodes (no resolver yet) */
	STATS_DROP_IP_TRUNCATED,     /* frame shorter than the IPv4 header or total length */
	STATS_DROP_IP_BAD_VERSION,   /* version field is not 4 */
	STATS_DROP_IP_BAD_IHL,	     /* header length below 20 bytes */
	STATS_DROP_IP_BAD_LEN,	     /* total length smaller than the header length */
	STATS_DROP_IP_BAD_CKSUM,     /* header checksum wrong */
	STATS_DROP_IP_OPTIONS,	     /* header with options (never needed by SMTP peers) */
	STATS_DROP_IP_FRAGMENT,	     /* any fragment: we never reassemble */
	STATS_DROP_IP_BAD_SRC,	     /* martian source: 0/8, 127/8, multicast, broadcast */
	STATS_DROP_IP_NOT_FOR_US,    /* destination is not one of our addresses */
	STATS_DROP_IP_PROTO,	     /* protocol not handled (TCP lands with its issue) */
	STATS_ICMP_ECHO_RX,	     /* echo requests to us */
	STATS_ICMP_ECHO_REPLY_TX,    /* echo replies sent */
	STATS_DROP_ICMP_TRUNCATED,   /* shorter than an ICMP header */
	STATS_DROP_ICMP_BAD_CKSUM,   /* ICMP checksum wrong */
	STATS_DROP_ICMP_TYPE,	     /* ICMP types other than echo request */
	STATS_MAX
};

/* One per worker lcore; 64-byte aligned so two lcores never share a line. */
struct stats_lcore {
	uint64_t c[STATS_MAX];
} __attribute__((aligned(64)));

#endif /* NDG_DATAPLANE_STATS_T_H */
