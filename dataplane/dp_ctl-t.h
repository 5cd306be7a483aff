/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * What the control thread publishes to the lcores: one immutable configuration (SMTP limits,
 * policy, backends per domain) swapped by pointer under urcu-qsbr. The recipient directory
 * and the harvest cells live longer than any one configuration and are shared by them.
 */
#ifndef NDG_DATAPLANE_DP_CTL_T_H
#define NDG_DATAPLANE_DP_CTL_T_H

#include <stdint.h>

#include <urcu/urcu-qsbr.h>

#include "ctl_proto-t.h"
#include "outbound-t.h"
#include "policy-t.h"
#include "smtp-t.h"
#include "tls-t.h"

struct dp_backend {
	uint32_t ip; /* network byte order */
	uint16_t port;
	uint16_t tls; /* index of its STARTTLS policy in dp_cfg.btls */
};

struct dp_btls;

/* Backends of one accepted domain, tried in order (failover). */
struct dp_domain_backends {
	char name[CTL_CONFIG_NAME_MAX];
	uint32_t n;
	struct dp_backend b[CTL_CONFIG_BACKENDS];
};

/* Inbound STARTTLS (RFC 3207): the context and the handshake limits. */
struct dp_tls {
	struct tls_ctx *ctx;	       /* NULL: STARTTLS not offered */
	uint32_t handshake_timeout_ms; /* ClientHello to Finished */
	uint32_t rate;		       /* handshakes started per second per lcore, 0: no limit */
	uint32_t burst;
	uint32_t src_rate; /* per source address and lcore, 0: no limit */
	uint32_t src_burst;
};

struct dp_cfg {
	uint64_t gen;	    /* digest of the CONFIG payload it was built from */
	uint32_t refs;	    /* sessions using it, +1 while it is the one published */
	uint16_t smtp_port; /* external listener */
	struct smtp_conf smtp;
	struct policy pol; /* pol.dir and pol.harvest.cells are shared, not owned */
	uint32_t n_domains;
	struct dp_domain_backends *domains;  /* same order as the CONFIG payload */
	struct out_conf out;		     /* outbound path; out.buckets shared, not owned */
	struct dp_domain_backends smarthost; /* upstream of the outbound path, in order */
	struct dp_tls tls;		     /* owns one context reference */
	uint32_t n_btls;		     /* backend TLS policies, entry 0 the default */
	struct dp_btls *btls;		     /* proxy_btls-t.h; each owns a context reference */
	struct rcu_head rcu;
};

#endif /* NDG_DATAPLANE_DP_CTL_T_H */
