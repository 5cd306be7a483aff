/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Per-lcore counters: one cache-aligned block per worker lcore, written only by its owner,
 * read (relaxed) by the main lcore for telemetry and the stats file.
 */
#ifndef NDG_DATAPLANE_STATS_T_H
#define NDG_DATAPLANE_STATS_T_H

#include <stdint.h>

enum stats_id {
	STATS_RX_PACKETS = 0,		 /* frames taken from rx bursts */
	STATS_RX_BYTES,			 /* bytes of those frames */
	STATS_TX_PACKETS,		 /* frames handed to the PMD */
	STATS_TX_DROPPED,		 /* frames the PMD refused (tx ring full) */
	STATS_LOOPS,			 /* run-to-completion iterations */
	STATS_DROP_ETH_TRUNCATED,	 /* shorter than an Ethernet header */
	STATS_DROP_ETH_NOT_FOR_US,	 /* destination MAC neither ours nor broadcast */
	STATS_DROP_ETH_UNKNOWN_TYPE,	 /* ethertype we do not handle (VLAN, IPv6 for now) */
	STATS_ARP_REQUEST_RX,		 /* ARP requests for one of our addresses */
	STATS_ARP_REPLY_TX,		 /* ARP replies sent */
	STATS_DROP_ARP_TRUNCATED,	 /* shorter than an Ethernet/IPv4 ARP packet */
	STATS_DROP_ARP_BAD,		 /* not Ethernet/IPv4 ARP (htype, ptype, hlen, plen) */
	STATS_DROP_ARP_NOT_FOR_US,	 /* request for an address that is not ours */
	STATS_DROP_ARP_OTHER_OP,	 /* opcodes other than request and reply */
	STATS_DROP_ARP_SPOOFED_SRC,	 /* sender ours, or inside on an external port */
	STATS_DROP_IP_TRUNCATED,	 /* frame shorter than the IPv4 header or total length */
	STATS_DROP_IP_BAD_VERSION,	 /* version field is not 4 */
	STATS_DROP_IP_BAD_IHL,		 /* header length below 20 bytes */
	STATS_DROP_IP_BAD_LEN,		 /* total length smaller than the header length */
	STATS_DROP_IP_BAD_CKSUM,	 /* header checksum wrong */
	STATS_DROP_IP_OPTIONS,		 /* header with options (never needed by SMTP peers) */
	STATS_DROP_IP_FRAGMENT,		 /* any fragment: we never reassemble */
	STATS_DROP_IP_BAD_SRC,		 /* martian source: 0/8, 127/8, multicast, broadcast */
	STATS_DROP_IP_SPOOFED_SRC,	 /* source ours, or inside on an external port (BCP 38) */
	STATS_DROP_IP_NOT_FOR_US,	 /* destination is not one of our addresses */
	STATS_DROP_IP_PROTO,		 /* protocol other than ICMP and TCP */
	STATS_ICMP_ECHO_RX,		 /* echo requests to us */
	STATS_ICMP_ECHO_REPLY_TX,	 /* echo replies sent */
	STATS_DROP_ICMP_TRUNCATED,	 /* shorter than an ICMP header */
	STATS_DROP_ICMP_BAD_CKSUM,	 /* ICMP checksum wrong */
	STATS_DROP_ICMP_TYPE,		 /* ICMP types other than echo request and unreachable */
	STATS_TCP_SEG_RX,		 /* TCP segments received (valid IPv4) */
	STATS_TCP_SEG_TX,		 /* TCP segments sent */
	STATS_TCP_BYTES_RX,		 /* in-order payload bytes received */
	STATS_TCP_BYTES_TX,		 /* payload bytes applications wrote */
	STATS_DROP_TCP_TRUNCATED,	 /* shorter than a TCP header */
	STATS_DROP_TCP_BAD_OFF,		 /* data offset below 20 or past the segment */
	STATS_DROP_TCP_BAD_CKSUM,	 /* TCP checksum wrong */
	STATS_DROP_TCP_BAD_PORT,	 /* port 0 */
	STATS_TCP_BAD_OPTIONS,		 /* truncated/invalid options (rest ignored) */
	STATS_TCP_NO_CONN,		 /* segment for no connection or listener (RST sent) */
	STATS_TCP_RST_NO_CONN,		 /* RST for no connection (ignored) */
	STATS_TCP_RST_RX,		 /* RST that reset a connection */
	STATS_TCP_RST_TX,		 /* connectionless RSTs sent */
	STATS_TCP_RST_OUT_OF_WINDOW,	 /* RST outside the window (ignored) */
	STATS_TCP_SEG_OUT_OF_WINDOW,	 /* unacceptable segment, ACK sent */
	STATS_TCP_SEG_PARTIAL_DUP,	 /* segment starting before rcv_nxt, trimmed */
	STATS_TCP_CHALLENGE_ACK,	 /* RFC 5961 challenge ACKs sent */
	STATS_TCP_CHALLENGE_ACK_LIMITED, /* challenge ACKs suppressed by the rate limit */
	STATS_TCP_ACK_TOO_NEW,		 /* ACK of unsent data */
	STATS_TCP_ACK_TOO_OLD,		 /* ACK below snd_una - max window (RFC 5961 §5) */
	STATS_TCP_SYN_RX,		 /* SYNs to a listener */
	STATS_TCP_SYN_DROP,		 /* SYNs refused (queue full, cookies off) */
	STATS_TCP_SYNCOOKIE_TX,		 /* SYN-ACKs carrying a cookie */
	STATS_TCP_SYNCOOKIE_OK,		 /* connections opened from a valid cookie */
	STATS_TCP_SYNCOOKIE_BAD,	 /* ACKs with an invalid or expired cookie */
	STATS_TCP_SRC_LIMIT,		 /* refused: per-source connection limit */
	STATS_TCP_CONN_POOL_EMPTY,	 /* connection pool exhausted */
	STATS_TCP_CONN_ACTIVE,		 /* gauge: connections in the table (incl. TIME-WAIT) */
	STATS_TCP_CONN_OPENED,		 /* connections allocated */
	STATS_TCP_CONN_CLOSED,		 /* connections ended normally */
	STATS_TCP_CONN_ABORTED,		 /* connections reset, timed out or aborted */
	STATS_TCP_CONN_REFUSED,		 /* active opens answered by RST */
	STATS_TCP_PASSIVE_OPEN,		 /* passive opens that reached ESTABLISHED */
	STATS_TCP_ACTIVE_OPEN,		 /* active opens that reached ESTABLISHED */
	STATS_TCP_TIME_WAIT,		 /* entries into TIME-WAIT */
	STATS_TCP_RTO,			 /* retransmission timeouts */
	STATS_TCP_RXMT_SEGS,		 /* segments sent again */
	STATS_TCP_FAST_RXMT,		 /* fast retransmits (3 dupacks, partial ACKs) */
	STATS_TCP_DUPACK_RX,		 /* duplicate ACKs received */
	STATS_TCP_OOO_RX,		 /* out-of-order segments received */
	STATS_TCP_OOO_DROP,	    /* out-of-order segments not kept (queue full, duplicate) */
	STATS_TCP_WINDOW_PROBE,	    /* zero-window probes sent */
	STATS_TCP_NOMBUF,	    /* mbuf allocation failures */
	STATS_TCP_ICMP,		    /* ICMP errors applied to a connection */
	STATS_TCP_ICMP_IGNORED,	    /* ICMP errors quoting a sequence not in flight */
	STATS_TCP_HANDOFF,	    /* frames passed to their owner lcore */
	STATS_TCP_HANDOFF_DROP,	    /* frames lost: owner's ring full */
	STATS_ARP_REQUEST_TX,	    /* ARP requests for next hops */
	STATS_ARP_REPLY_RX,	    /* ARP replies received */
	STATS_ARP_PENDING_DROP,	    /* frames dropped waiting for ARP */
	STATS_ICMP_UNREACH_RX,	    /* destination unreachable received */
	STATS_APP_ECHO_BYTES,	    /* bytes echoed by the echo application */
	STATS_APP_DISCARD_BYTES,    /* bytes swallowed by the discard application */
	STATS_APP_CLIENT_OK,	    /* client connections whose bytes all came back */
	STATS_APP_CLIENT_FAIL,	    /* client connections that failed or mismatched */
	STATS_TCP_MEM_PRESSURE,	    /* times the pool fell to a lower level */
	STATS_TCP_MEM_DROP,	    /* payloads dropped: pool critical */
	STATS_TCP_SYN_RESENT,	    /* SYN-ACKs resent for a repeated SYN (ours was lost) */
	STATS_TCP_SACK_TX,	    /* ACKs that carried SACK blocks (RFC 2018) */
	STATS_TCP_RCV_COALESCED,    /* in-order segments copied into the queue's last buffer */
	STATS_TCP_RCV_COLLAPSED,    /* receive queues compacted into full buffers */
	STATS_TCP_RCV_PRUNED,	    /* payloads dropped: connection over its receive memory */
	STATS_TCP_SRC_MEM_DROP,	    /* payloads dropped: source over its share of the pool */
	STATS_TCP_OOO_PRUNED,	    /* out-of-order segments dropped: pressure, age or memory */
	STATS_DROP_TCP_CHAINED,	    /* multi-buffer frames too long to linearise */
	STATS_TCP_MSS_CLAMPED,	    /* peer MSS below the minimum, raised (Linux tcp_min_snd_mss) */
	STATS_TCP_OOW_ACK_LIMITED,  /* ACKs to invalid segments suppressed per connection */
	STATS_TCP_ORPHANS,	    /* gauge: orphaned connections (closed by us, still flushing) */
	STATS_TCP_ORPHAN_REAPED,    /* oldest orphans reset: too many orphans */
	STATS_TCP_TIME_WAIT_REAPED, /* orphans in TIME-WAIT ended early: too many orphans */
	STATS_TCP_ORPHAN_SRC_LIMIT, /* orphans reset at once: their source holds too many */
	STATS_TCP_RSV_ALLOC,	    /* segments built from the reserve pool (main pool empty) */
	STATS_MAX
};

/* One per worker lcore; 64-byte aligned so two lcores never share a line. */
struct stats_lcore {
	uint64_t c[STATS_MAX];
} __attribute__((aligned(64)));

#endif /* NDG_DATAPLANE_STATS_T_H */
