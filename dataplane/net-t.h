/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * L2/L3 types: the per-port interface (our MAC, our IPv4 addresses, offload flags) and the
 * verdict of the input path. Interfaces are written once at start and read-only afterwards.
 */
#ifndef NDG_DATAPLANE_NET_T_H
#define NDG_DATAPLANE_NET_T_H

#include <stdint.h>

#include <rte_config.h>
#include <rte_ether.h>
#include <urcu/urcu-qsbr.h>

#define NET_IF_MAX_ADDRS 8  /* IPv4 addresses per port */
#define NET_IP_TTL	 64 /* RFC 1700 default TTL for what we originate */

/* An IPv4 address we own, host/prefix in network byte order. */
struct net_addr {
	uint32_t ip;  /* network byte order */
	uint8_t plen; /* prefix length of the connected subnet */
};

#define NET_IF_F_TX_IP_CKSUM (1u << 0) /* PMD computes the IPv4 header checksum on tx */
#define NET_IF_F_RX_IP_CKSUM (1u << 1) /* PMD verifies the IPv4 header checksum on rx */
#define NET_IF_F_RSS	     (1u << 2) /* RSS on: rss_key/reta decide the rx queue of a flow */

#define NET_RSS_KEY_LEN 40  /* Toeplitz key bytes (IPv4/TCP needs 12 + 4) */
#define NET_RETA_MAX	512 /* redirection table entries we mirror */

struct net_if {
	struct rte_ether_addr mac; /* the port's own MAC */
	uint16_t port_id;	   /* ethdev port id */
	uint16_t n_addrs;	   /* used entries of addrs[] */
	uint32_t flags;		   /* NET_IF_F_* */
	struct net_addr addrs[NET_IF_MAX_ADDRS];
	uint32_t gateway;   /* default next hop, network byte order; 0: connected only */
	uint16_t n_queues;  /* rx/tx queue pairs */
	uint16_t reta_size; /* used entries of reta[] when NET_IF_F_RSS */
	uint8_t rss_key[NET_RSS_KEY_LEN];
	uint16_t reta[NET_RETA_MAX]; /* rx queue per Toeplitz hash % reta_size */
};

/*
 * Ingress anti-spoofing (BCP 38, RFC 2827; DESIGN.md §3 "Hostile peers"). Each port gets a
 * role from the configuration in force (net_spoof_update()): the side the backends and the
 * internal networks are reached through is internal, a port with the default gateway or
 * without either is external, a port that is both (or the only port) is one-armed.
 */
enum net_port_role {
	NET_ROLE_NONE = 0,  /* no address or no configuration yet: our own addresses only */
	NET_ROLE_EXTERNAL,  /* the internet only: inside sources are refused too */
	NET_ROLE_INTERNAL,  /* backends and internal networks: our own addresses only */
	NET_ROLE_ONE_ARMED, /* both on one port: cannot tell inside from outside by port */
	NET_ROLE_MAX
};

/* An IPv4 prefix, network byte order; <mask> has the prefix length's leading ones. */
struct net_pfx {
	uint32_t net;
	uint32_t mask;
};

/* A range of host-order addresses, first and last included. */
struct net_range {
	uint32_t lo;
	uint32_t hi;
};

#define NET_SPOOF_OWN_MAX (RTE_MAX_ETHPORTS * NET_IF_MAX_ADDRS)

/*
 * What a port refuses as a source: our own addresses on every port, plus on external ports
 * the inside ranges (internal networks, inside relay networks, backends, the subnets of
 * internal ports), sorted and merged for a binary search. Immutable once published; replaced
 * by pointer swap under urcu-qsbr.
 */
struct net_spoof {
	uint32_t n_own;
	uint32_t n_inside;
	uint8_t role[RTE_MAX_ETHPORTS];	 /* enum net_port_role, by port id */
	uint32_t own[NET_SPOOF_OWN_MAX]; /* network byte order */
	struct rcu_head rcu;
	struct net_range inside[]; /* n_inside, ascending, disjoint */
};

enum net_verdict {
	NET_DROP = 0, /* counted by reason; the caller frees the mbuf */
	NET_TX,	      /* rewritten in place as a reply: send it on the same port */
	NET_CONSUMED, /* ownership taken by an upper layer */
};

#endif /* NDG_DATAPLANE_NET_T_H */
