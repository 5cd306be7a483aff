/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * What xdp_guard.bpf.c and its user space (ndrguard-control, the tests, the bench) share: map
 * names, keys, values and flags. Included by BPF C and by ordinary C; only <linux/types.h>.
 */
#ifndef NDG_BPF_XDP_GUARD_H
#define NDG_BPF_XDP_GUARD_H

#include <linux/types.h>

/* Pinned by name under the pin path (libbpf LIBBPF_PIN_BY_NAME): DPDK's net_af_xdp loads the
 * same object with xdp_prog= and libbpf reuses these maps, so both copies share them. */
#define XDPG_MAP_BLOCK "ndg_block"
#define XDPG_MAP_SYN   "ndg_syn"
#define XDPG_MAP_STEER "ndg_steer"
#define XDPG_MAP_CFG   "ndg_cfg"
#define XDPG_MAP_STATS "ndg_stats"
#define XDPG_MAP_XSKS  "xsks_map" /* DPDK 22.11 net_af_xdp xdp_prog= looks this name up */

#define XDPG_BLOCK_MAX 65536 /* blocklist prefixes */
#define XDPG_SYN_MAX   65536 /* sources with a SYN bucket (LRU) */
#define XDPG_STEER_MAX 64    /* appliance addresses */
#define XDPG_XSKS_MAX  64    /* AF_XDP sockets, one per rx queue */

/* Addresses are 16 bytes; IPv4 is stored v4-mapped (::ffff:a.b.c.d, RFC 4291 §2.5.5.2), so
 * an IPv4 /len is prefixlen 96 + len in the one trie. */
struct xdpg_lpm_key {
	__u32 prefixlen;
	__u8 addr[16];
};

enum xdpg_reason {
	XDPG_REASON_NONE = 0,	  /* unused */
	XDPG_REASON_CONFIG,	  /* 'block network' in ndrguard.conf */
	XDPG_REASON_ADMIN,	  /* ndrctl block add */
	XDPG_REASON_HARVEST,	  /* the dataplane's harvest budget verdict */
	XDPG_REASON_EARLY_TALKER, /* the dataplane's early-talker verdict */
	XDPG_REASON_CONN_LIMIT,	  /* the dataplane's connections-per-ip verdict */
	XDPG_REASON_MAX
};

struct xdpg_block_val {
	__u64 expires_ns; /* CLOCK_MONOTONIC (bpf_ktime_get_ns), 0: never */
	__u64 added;	  /* Unix time, s, for 'ndrctl block list' */
	__u64 packets;	  /* dropped by this entry */
	__u64 bytes;
	__u32 reason; /* enum xdpg_reason */
	__u32 pad;
};

/* One GCRA bucket (equivalent to a token bucket of <syn_burst> at <syn_rate>/s) per source
 * and per CPU: no atomics, the limit holds per receiving CPU. */
struct xdpg_syn_val {
	__u64 tat;     /* theoretical arrival time, ns */
	__u64 dropped; /* SYNs dropped on this CPU */
};

#define XDPG_F_ENABLED	 (1u << 0) /* 0: pass everything (maps not configured yet) */
#define XDPG_F_BLOCK_SYN (1u << 1) /* blocklist drops only SYNs (not all packets) */
#define XDPG_F_STEER	 (1u << 2) /* redirect SMTP for our addresses into xsks_map */

struct xdpg_cfg {
	__u32 flags;	 /* XDPG_F_* */
	__u32 syn_rate;	 /* SYNs per second per source and CPU, 0: no limiter */
	__u32 syn_burst; /* bucket depth */
	__u16 smtp_port; /* network byte order: steered destination port */
	__u16 pad;
};

enum xdpg_stat {
	XDPG_ST_RX = 0,	    /* packets seen */
	XDPG_ST_PASS,	    /* handed to the kernel */
	XDPG_ST_DROP_BLOCK, /* dropped by the blocklist */
	XDPG_ST_DROP_SYN,   /* dropped by the SYN limiter */
	XDPG_ST_STEER,	    /* redirected toward the dataplane's AF_XDP socket */
	XDPG_ST_STEER_MISS, /* would steer but no socket on this queue: passed */
	XDPG_ST_TRUNCATED,  /* a header runs past the frame: passed, never steered */
	XDPG_ST_FRAGMENT,   /* IPv4/IPv6 fragments: no L4 header read */
	XDPG_ST_VLAN,	    /* frames with 802.1Q/802.1ad tags */
	XDPG_ST_IPV6,	    /* IPv6 packets */
	XDPG_ST_NON_IP,	    /* ARP and the rest */
	XDPG_ST_MAX
};

#endif /* NDG_BPF_XDP_GUARD_H */
