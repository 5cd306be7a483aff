/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The SMTP proxy application: an SMTP engine session on each accepted TCP connection, and its
 * backend connection opened on the first accepted recipient. Per lcore, share-nothing:
 * sessions come from the lcore's own pool and never leave it.
 */
#ifndef NDG_DATAPLANE_PROXY_T_H
#define NDG_DATAPLANE_PROXY_T_H

#include <stdbool.h>
#include <stdint.h>

#include "smtp-t.h"

#define PROXY_SESSIONS_DEFAULT 4096   /* per lcore, --smtp-sessions */
#define PROXY_TIMER_MAX_MS     600000 /* re-check at least this often */
#define PROXY_QUIT_DRAIN_MS    10000  /* a backend gets this long to close after QUIT */
#define PROXY_LOG_RING	       1024   /* decision records queued per lcore */
#define PROXY_SRC_SLOTS	       8192   /* per-lcore table of live sessions per source */

struct rte_mempool;
struct rte_ring;
struct tcp_conn;
struct tcp_stack;
struct dp_cfg;

/* Live sessions of one source address (open addressing, backward-shift deletion). */
struct proxy_src {
	uint32_t addr; /* network byte order; 0: free slot */
	uint32_t n;
};

struct proxy_lcore {
	struct smtp_stats stats; /* first: cache-line aligned, owner-written */
	struct proxy_src src[PROXY_SRC_SLOTS];
	struct tcp_stack *ts;
	struct rte_mempool *pool; /* struct proxy_sess */
	uint64_t tsc_per_ms;
	uint64_t no_config;	   /* connections refused before the first CONFIG */
	uint64_t no_session;	   /* connections refused: pool empty */
	uint64_t reply_overflow;   /* replies the client's send queue would not take */
	uint64_t backend_overflow; /* data the backend's send queue would not take */
	uint64_t backend_failover; /* connects moved on to the next backend */
	uint64_t decisions;	   /* decision records made */
	uint64_t log_dropped;	   /* records lost: ring full (no reader keeping up) */
	int64_t wall_offset_ms;	   /* Unix time minus engine time, ms */
	struct rte_ring *log_ring; /* struct ctl_log_rec, lcore -> control thread */
} __attribute__((aligned(64)));

struct proxy_sess {
	struct smtp_session s;
	struct proxy_lcore *pl;
	struct tcp_conn *client;
	struct tcp_conn *backend;
	struct dp_cfg *cfg;	       /* referenced (dp_cfg_acquire) for the session's life */
	struct tcp_conn *backend_quit; /* backend sent QUIT: drain its reply, then close */
	uint32_t peer_addr;	       /* client address, network byte order */
	bool counted;		       /* counted in pl->src */
	uint16_t dom;		       /* index of the domain whose backends are used */
	uint8_t backend_try;	       /* backend being tried, failover order */
	bool close_pending;	       /* the engine asked to close after its replies */
	bool abort_pending;	       /* a send queue overflowed: reset */
	bool in_pump;		       /* re-entrancy guard */
};

#endif /* NDG_DATAPLANE_PROXY_T_H */
