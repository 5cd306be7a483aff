/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The 'xdp KEY VALUE' statements of ndrguard.conf(5): what ndrguard-control does with the XDP
 * program and its maps. Parsed by the main thread with the rest of the configuration.
 */
#ifndef NDG_CONTROL_CONFIG_XDP_H
#define NDG_CONTROL_CONFIG_XDP_H

#include <stdbool.h>
#include <stdint.h>
#include <net/if.h>

#define CONF_XDP_ADDR_MAX 16 /* steered appliance addresses */

struct conf_xdp {
	bool on;		     /* 'xdp enable yes': load, configure and own the maps */
	char pin_path[4096];	     /* bpffs directory of the pinned maps */
	char interface[IF_NAMESIZE]; /* control attaches here; "": the dataplane attaches */
	bool generic;		     /* skb mode instead of native (driver) mode */
	bool block_syn_only;	     /* the blocklist drops only SYNs */
	uint32_t syn_rate;	     /* SYN/s per source (and CPU), 0: no limiter */
	uint32_t syn_burst;
	bool steer; /* SMTP for 'xdp address' into the dataplane's AF_XDP sockets */
	unsigned int n_addrs;
	uint8_t addrs[CONF_XDP_ADDR_MAX][16]; /* IPv4 v4-mapped, or IPv6 */
	uint32_t verdict_ttl_ms;	      /* dataplane verdicts → XDP entries; 0: never */
};

/** Defaults: off, maps under /sys/fs/bpf, native mode, all packets, no limiter, no steering,
 * verdict entries for 10 minutes. */
void conf_xdp_defaults(struct conf_xdp *x);

/** Apply one 'xdp <key> <value>' statement. @return 0, or -EINVAL with <err> filled. */
int conf_xdp_set(struct conf_xdp *x, const char *key, const char *value, char *err, size_t errsize);

/** Parse an IPv4 or IPv6 address with an optional /len into 16 bytes (IPv4 v4-mapped) and a
 * prefix length over 128. Host bits must be zero. @return 0 or -EINVAL. */
int conf_parse_net6(const char *s, uint8_t addr[16], unsigned int *plen128);

#endif /* NDG_CONTROL_CONFIG_XDP_H */
