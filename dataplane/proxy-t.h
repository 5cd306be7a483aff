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

#include "ctl_proto-t.h"
#include "smtp-t.h"
#include "tls-t.h"

#define PROXY_SESSIONS_DEFAULT 4096   /* per lcore, --smtp-sessions */
#define PROXY_TIMER_MAX_MS     600000 /* re-check at least this often */
#define PROXY_QUIT_DRAIN_MS    10000  /* a backend gets this long to close after QUIT */
#define PROXY_LOG_RING	       1024   /* decision records queued per lcore */
#define PROXY_SRC_SLOTS_MIN                                                                        \
	1024			/* per-lcore table of live sessions per source: at least
					* this, and twice the sessions (it never fills) */
#define PROXY_BACKEND_SLOTS 32	/* backends whose health an lcore tracks */
#define PROXY_REPLY_CODES   600 /* reply codes counted one by one (0: out of range) */

#define PROXY_BUSY_PCT_DEFAULT 25 /* --smtp-busy: sessions holding each block kind at once */
#define PROXY_BLK_MIN	       64 /* blocks of each kind per lcore at least */

#define PROXY_TLS_SLOTS_DEFAULT 1024 /* TLS sessions per lcore, --tls-sessions */
#define PROXY_TLS_OUT		2048 /* plaintext replies batched into one record */
#define PROXY_TLS_SRC_SLOTS	4096 /* per-lcore handshake buckets by source address */
#define PROXY_TLS_CIPHERS	16   /* ciphers counted by name (a configuration has few) */

struct rte_mempool;
struct rte_ring;
struct tcp_conn;
struct tcp_stack;
struct dp_cfg;
struct proxy_btls;
struct proxy_btls_lcore;

/* Connect outcomes toward one backend, as one lcore saw them. */
struct proxy_backend_health {
	uint32_t ip; /* network byte order; 0: free slot */
	uint16_t port;
	uint8_t up; /* last connect: 1 succeeded, 0 failed */
	uint8_t reserved;
	uint64_t ok;	  /* connects that succeeded */
	uint64_t fail;	  /* connects that failed or were refused */
	uint64_t last_ms; /* engine time of the last outcome */
};

/* Observability of one lcore, written by it alone, read relaxed by the control thread. */
struct proxy_obs {
	uint64_t sess_open;		      /* sessions started */
	uint64_t sess_closed;		      /* sessions freed */
	uint64_t rcpt_hist[CTL_HIST_BUCKETS]; /* RCPT reply latency, ctl_proto-t.h */
	uint64_t rcpt_count;		      /* RCPT replies measured */
	uint64_t rcpt_sum_ns;		      /* their total latency */
	uint64_t codes[PROXY_REPLY_CODES];    /* decisions by reply code sent */
	struct proxy_backend_health backends[PROXY_BACKEND_SLOTS];
};

/* Live sessions of one source address (open addressing, backward-shift deletion). */
struct proxy_src {
	uint32_t addr; /* network byte order; 0: free slot */
	uint32_t n;
};

enum proxy_tls_state {
	PROXY_TLS_PENDING = 0, /* STARTTLS accepted, its 220 not yet sent (plaintext) */
	PROXY_TLS_HANDSHAKE,   /* 220 sent: every byte from now on is TLS */
	PROXY_TLS_OPEN,	       /* handshake done: the engine reads and writes through TLS */
	PROXY_TLS_FAILED,      /* handshake or record error: the alert goes out, then close */
	PROXY_TLS_MAX
};

/* One TLS slot: taken from the lcore's pool at STARTTLS, returned when the session ends. */
struct proxy_tls {
	struct tls_conn t;
	uint8_t state;	      /* enum proxy_tls_state */
	bool peer_eof;	      /* close_notify or FIN seen */
	bool counted;	      /* counted as a completed handshake */
	uint16_t out_len;     /* plaintext waiting in out */
	uint64_t hs_deadline; /* ms: the handshake must finish by then */
	uint64_t hs_tsc;      /* handshake start */
	char out[PROXY_TLS_OUT];
};

/* Handshake rate bucket of one source address. */
struct proxy_tls_src {
	uint32_t addr;
	struct tls_bucket b;
};

/* TLS state of one lcore: the slot pool, the rate limits and the counters. */
struct proxy_tls_lcore {
	struct rte_mempool *pool; /* struct proxy_tls */
	uint32_t slots;
	struct tls_bucket all;
	uint64_t started;	       /* STARTTLS accepted */
	uint64_t handshakes;	       /* completed */
	uint64_t fail[TLS_FAIL_MAX];   /* handshakes failed or refused, by reason */
	uint64_t tls12, tls13;	       /* completed, by version */
	uint64_t cert_ecdsa, cert_rsa; /* completed, by certificate served */
	uint64_t discarded;	       /* plaintext bytes after STARTTLS, dropped */
	uint64_t active;	       /* slots in use */
	uint64_t hs_ns_sum;	       /* time from 220 to Finished, completed handshakes */
	uint64_t record_errors;	       /* established sessions ended by a record error */
	/* completed handshakes by cipher; names are OpenSSL static strings, set once */
	const char *cipher_name[PROXY_TLS_CIPHERS];
	uint64_t cipher_count[PROXY_TLS_CIPHERS];
	struct proxy_tls_src src[PROXY_TLS_SRC_SLOTS];
};

/* Borrowed SMTP engine blocks of one lcore (proxy_mem.c). */
struct proxy_mem {
	struct rte_mempool *pool[SMTP_BLK_MAX]; /* enum smtp_blk_kind */
	uint32_t n[SMTP_BLK_MAX];		/* elements of each pool */
	uint32_t elt_bytes[SMTP_BLK_MAX];	/* header + object + trailer, as laid out */
	uint32_t sess_elt_bytes;		/* the same for the session pool */
	uint32_t n_sessions;
};

struct proxy_lcore {
	struct smtp_stats stats; /* first: cache-line aligned, owner-written */
	struct proxy_src *src;	 /* live sessions per source, src_mask + 1 slots */
	uint32_t src_mask;
	uint32_t src_seed; /* keys the slot hash: a sender cannot aim at one probe chain */
	struct tcp_stack *ts;
	struct rte_mempool *pool; /* struct proxy_sess */
	struct proxy_mem mem;	  /* the engine's borrowed blocks */
	uint64_t tsc_per_ms;
	uint64_t no_config;	   /* connections refused before the first CONFIG */
	uint64_t no_session;	   /* connections refused: pool empty */
	uint64_t reply_overflow;   /* replies the client's send queue would not take */
	uint64_t backend_overflow; /* data the backend's send queue would not take */
	uint64_t backend_failover; /* connects moved on to the next backend */
	uint64_t decisions;	   /* decision records made */
	uint64_t log_dropped;	   /* records lost: ring full (no reader keeping up) */
	int64_t wall_offset_ms;	   /* Unix time minus engine time, ms */
	uint64_t listen_gen;	   /* configuration whose outbound ports are listened on */
	uint64_t out_refused;	   /* connections to an outbound port at a foreign address */
	struct rte_ring *log_ring; /* struct ctl_log_rec, lcore -> control thread */
	uint64_t tsc_hz;
	struct proxy_obs obs;
	struct proxy_tls_lcore *tls; /* NULL with --tls-sessions 0 */

	/* Backend STARTTLS slot pool and counters (proxy_btls.c). */
	struct proxy_btls_lcore *btls;
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
	uint64_t rx_tsc;	       /* client bytes arrived while the engine was free */
	struct proxy_tls *tls;	       /* TLS slot while the client is in TLS, else NULL */
	struct proxy_btls *btls;       /* TLS slot while the backend hop is in TLS, else NULL */
};

#endif /* NDG_DATAPLANE_PROXY_T_H */
