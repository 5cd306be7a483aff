/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * ndrguard-control's side of bpf/xdp_guard: loading and attaching the program, owning its
 * pinned maps (blocklist, SYN buckets, steering addresses, settings, counters), timed entries
 * from the dataplane's verdicts, and expiry. State is module-global: the daemon is
 * single-threaded and every function here runs on its main thread.
 */
#ifndef NDG_CONTROL_XDP_H
#define NDG_CONTROL_XDP_H

#include <stdint.h>
#include <stdio.h>

#include "config.h"
#include "xdp_guard.h"

/**
 * Open the skeleton, point its maps at <c>->xdp.pin_path (re-adopting maps a previous run
 * pinned, pinning new ones), load, write the settings, add 'block network' entries, and attach
 * to 'xdp interface' when set. Everything done so far is undone on failure.
 * @return 0 (also when 'xdp enable' is off: nothing to do), -EBUSY when a foreign XDP program
 *   holds the interface, -ENODEV for an unknown interface, or the libbpf/kernel -errno.
 */
int xdp_start(const struct ndg_conf *c);

/** Detach what xdp_start attached (only our own program) and close the maps; the pins stay
 * so that the next start re-adopts them and a dataplane-attached copy keeps working. */
void xdp_stop(void);

/** After a reload: write the new settings and steering addresses, and bring 'block network'
 * entries in line (removed networks lose their entry). @return 0 or -errno. */
int xdp_reconfigure(const struct ndg_conf *c);

/** Is the module running (enabled and loaded)? */
bool xdp_active(void);

/**
 * Block <prefix> ("A.B.C.D[/len]" or "IPv6[/len]") at XDP for <ttl_s> seconds (0: until
 * deleted), for <reason>. An existing entry keeps its counters; a permanent entry is never
 * shortened by a timed one. @return 0, -EINVAL for a bad prefix, -ENOTCONN when XDP is off,
 * or a map -errno.
 */
int xdp_block_add(const char *prefix, uint32_t ttl_s, enum xdpg_reason reason);

/** Remove <prefix>. @return 0, -ENOENT when it is not in the trie, -EINVAL, -ENOTCONN. */
int xdp_block_del(const char *prefix);

/** Write the trie, one entry a line: prefix, reason, expiry, packets and bytes dropped. */
void xdp_block_list(FILE *out);

/** Delete expired entries; call about once a second. @return how many were removed. */
int xdp_expire(void);

/**
 * A decision record of the dataplane: enforced rejections by harvest, early_talker or
 * conn_limit become timed entries for <client_ip> (IPv4, network order) for 'xdp
 * verdict-ttl', but only when <flags> (ctl_log_rec.flags) carry CTL_LOG_F_PEER_ACKED: a
 * client that never acknowledged our data may have forged its address.
 * @return 0 (blocked, or nothing to block: XDP off, observe mode, another rule), -EPERM when
 *   the verdict was refused for want of CTL_LOG_F_PEER_ACKED (the caller counts these), or the
 *   -errno of xdp_block_add() (logged here).
 */
int xdp_verdict(const struct ndg_conf *c, uint32_t client_ip, const char *rule,
	unsigned int outcome, uint32_t flags);

/** The program's counters as "xdp_<name> <value>" lines. */
void xdp_stats_print(FILE *out);

/** Names for messages: "ndrctl", "harvest", ... */
const char *xdp_reason_name(enum xdpg_reason r);

#endif /* NDG_CONTROL_XDP_H */
