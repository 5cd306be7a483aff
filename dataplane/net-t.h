/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * L2/L3 types: the per-port interface (our MAC, our IPv4 addresses, offload flags) and the
 * verdict of the input path. Interfaces are written once at start and read-only afterwards.
 */
#ifndef NDG_DATAPLANE_NET_T_H
#define NDG_DATAPLANE_NET_T_H

#include <stdint.h>

#include <rte_ether.h>

#define NET_IF_MAX_ADDRS 8  /* IPv4 addresses per port */
#define NET_IP_TTL	 64 /* RFC 1700 default TTL for what we originate */

/* An IPv4 address we own, host/prefix in network byte order. */
struct net_addr {
	uint32_t ip;  /* network byte order */
	uint8_t plen; /* prefix length of the connected subnet */
};

#define NET_IF_F_TX_IP_CKSUM (1u << 0) /* PMD computes the IPv4 header checksum on tx */
#define NET_IF_F_RX_IP_CKSUM (1u << 1) /* PMD verifies the IPv4 header checksum on rx */

struct net_if {
	struct rte_ether_addr mac; /* the port's own MAC */
	uint16_t port_id;	   /* ethdev port id */
	uint16_t n_addrs;	   /* used entries of addrs[] */
	uint32_t flags;		   /* NET_IF_F_* */
	struct net_addr addrs[NET_IF_MAX_ADDRS];
};

enum net_verdict {
	NET_DROP = 0, /* counted by reason; the caller frees the mbuf */
	NET_TX,	      /* rewritten in place as a reply: send it on the same port */
	NET_CONSUMED, /* ownership taken by an upper layer */
};

#endif /* NDG_DATAPLANE_NET_T_H */
