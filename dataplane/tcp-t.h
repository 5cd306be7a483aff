/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Types of the userspace TCP: the connection object, the per-lcore stack (pool, table,
 * timer wheel, listeners, ARP cache), the configuration shared read-only by all lcores and
 * the application interface the SMTP engine and the test applications plug into.
 * Every object here belongs to exactly one lcore; nothing is shared but tcp_cfg.
 */
#ifndef NDG_DATAPLANE_TCP_T_H
#define NDG_DATAPLANE_TCP_T_H

#include <stdbool.h>
#include <stdint.h>

#include <rte_ether.h>

#include "net-t.h"

#define TCP_NIL UINT32_MAX /* "no index" in pools, lists and tables */

/* Timer wheel: 1 ms ticks, 1024 slots (one turn a second); longer timers go round. */
#define TCP_WHEEL_SLOTS 1024u

#define TCP_MAX_LISTENERS 16   /* listening ports per stack */
#define TCP_ARP_SLOTS	  256  /* next hops cached per lcore (power of two) */
#define TCP_ARP_PENDING	  64   /* frames queued per unresolved next hop: a burst of SYNs */
#define TCP_SYN_RETRIES	  7    /* SYN resends of an active open before it fails */
#define TCP_SYN_LINEAR	  4    /* of which one RTO apart (no backoff) */
#define TCP_NOBUF_WAIT	  1024 /* writers waiting for packet buffers (power of two) */

#define TCP_MEM_OK	 0 /* more than a quarter of the pool free */
#define TCP_MEM_LOW	 1 /* under a quarter: no out-of-order queueing */
#define TCP_MEM_CRITICAL 2 /* under an eighth: no payload kept, no new send buffers */

/* RFC 9293 §3.3.2 states. */
enum tcp_state {
	TCP_ST_CLOSED = 0,  /* not in use, or torn down and waiting to be reaped */
	TCP_ST_LISTEN,	    /* unused for connections: listeners are separate objects */
	TCP_ST_SYN_SENT,    /* active open: SYN sent */
	TCP_ST_SYN_RCVD,    /* SYN received, SYN-ACK sent (stateful passive open) */
	TCP_ST_ESTABLISHED, /* data both ways */
	TCP_ST_FIN_WAIT_1,  /* our FIN sent, not acknowledged */
	TCP_ST_FIN_WAIT_2,  /* our FIN acknowledged, waiting for the peer's */
	TCP_ST_CLOSE_WAIT,  /* peer's FIN received, ours not sent */
	TCP_ST_CLOSING,	    /* both FINs sent, ours not acknowledged */
	TCP_ST_LAST_ACK,    /* peer closed first; our FIN sent, not acknowledged */
	TCP_ST_TIME_WAIT,   /* both closed; absorbing stray segments for the TIME-WAIT period */
	TCP_ST_MAX
};

/* Per-connection deadlines; the wheel holds one entry per connection at their minimum. */
enum tcp_tmr {
	TCP_TMR_RXMT = 0, /* retransmission, SYN/SYN-ACK retry, or zero-window probe */
	TCP_TMR_DELACK,	  /* delayed ACK (RFC 9293 §3.8.6.3) */
	TCP_TMR_CONN,	  /* TIME-WAIT, FIN-WAIT-2 and orphan lifetimes, connect timeout */
	TCP_TMR_APP,	  /* the application's own per-connection timer */
	TCP_TMR_MAX
};

#define TCP_F_WS_OK	  (1u << 0)  /* both sides sent window scale (RFC 7323 §2.2) */
#define TCP_F_PASSIVE	  (1u << 1)  /* opened by a listener */
#define TCP_F_ACK_NOW	  (1u << 2)  /* send an ACK before returning to the loop */
#define TCP_F_FIN_PENDING (1u << 3)  /* application shut down: FIN follows the queued data */
#define TCP_F_FIN_SENT	  (1u << 4)  /* our FIN has a sequence number (snd_max includes it) */
#define TCP_F_RCVD_FIN	  (1u << 5)  /* peer's FIN consumed: end of stream for the reader */
#define TCP_F_ORPHAN	  (1u << 6)  /* application closed: no more callbacks */
#define TCP_F_PERSIST	  (1u << 7)  /* RXMT timer is probing a zero window */
#define TCP_F_RECOVERY	  (1u << 8)  /* NewReno fast recovery (RFC 6582) */
#define TCP_F_RTT_TIMING  (1u << 9)  /* rtt_seq/rtt_ts time one segment (Karn) */
#define TCP_F_WANT_SEND	  (1u << 10) /* application wants a callback when space frees */
#define TCP_F_REAP	  (1u << 11) /* on the reap list */
#define TCP_F_IN_TBL	  (1u << 12) /* in the connection table */
#define TCP_F_SRC_COUNTED (1u << 13) /* counted in the per-source table */
#define TCP_F_HALF_OPEN	  (1u << 14) /* counted as half-open (SYN_RCVD) */
#define TCP_F_NOTIFIED	  (1u << 15) /* application was told it is open */
#define TCP_F_NOBUF_WAIT  (1u << 16) /* on the stack's list of writers waiting for mbufs */
#define TCP_F_SACK_OK	  (1u << 17) /* peer may receive SACK blocks (RFC 2018); offered in SYN_SENT */
#define TCP_F_OOO_LISTED  (1u << 18) /* on the stack's list of holders of out-of-order data */
#define TCP_F_ORPHAN_Q	  (1u << 19) /* on the stack's list of orphans (oldest reaped first) */
#define TCP_F_COOKIE	  (1u << 20) /* opened by a SYN cookie's ACK: handshake not timed */
#define TCP_F_ORPHAN_UNV  (1u << 21) /* an orphan whose peer never acknowledged our data */

struct rte_mbuf;
struct rte_mempool;
struct rte_ring;
struct lcore_ctx;
struct tcp_conn;

/*
 * Application callbacks. All run on the connection's lcore, from the stack's rx or timer
 * path. Inside a callback the application may call any tcp_conn_*() on that connection.
 */
struct tcp_app {
	/* Passive open completed. @return 0 to keep it, <0 to refuse (the stack resets it). */
	int (*accepted)(struct tcp_conn *c);
	/* Active open finished: <err> 0 (established) or -ECONNREFUSED/-ETIMEDOUT/-EHOSTUNREACH.
	 * On error the connection is gone when the callback returns. */
	void (*connected)(struct tcp_conn *c, int err);
	/* Bytes or end of stream became readable (tcp_conn_rx_peek, tcp_conn_rx_eof). */
	void (*readable)(struct tcp_conn *c);
	/* Send space was freed after tcp_conn_write() had come up short. */
	void (*writable)(struct tcp_conn *c);
	/* The connection is gone (<err>: 0 closed by both sides, -ECONNRESET, -ETIMEDOUT...).
	 * The application must drop every reference to <c>. Not called after tcp_conn_close(). */
	void (*closed)(struct tcp_conn *c, int err);
	/* The timer set with tcp_conn_timer_set() expired. */
	void (*timer)(struct tcp_conn *c);
};

/* A byte queue made of mbuf segments; head's data_off/data_len say what is left in it. */
struct tcp_mq {
	struct rte_mbuf *head;
	struct rte_mbuf *tail;
	uint32_t bytes;
};

/* Intrusive wheel link, by index so it costs 12 bytes and survives pool relocation. */
struct tcp_timer {
	uint32_t next;
	uint32_t prev;
	uint32_t expire; /* tick (ms) it fires at */
};

/*
 * One TCP connection. Kept small (measured by the bench): an idle established connection
 * holds no mbufs, only this structure and its two table entries.
 */
struct tcp_conn {
	/* lookup key, network byte order */
	uint32_t laddr;
	uint32_t raddr;
	uint16_t lport;
	uint16_t rport;
	uint32_t hash; /* table hash of the key */

	uint8_t state;	/* enum tcp_state */
	uint8_t snd_ws; /* peer's window shift */
	uint8_t rcv_ws; /* our window shift */
	uint8_t n_rxmt; /* consecutive retransmissions (backoff exponent) */
	uint16_t port_id;
	uint16_t app_flags; /* free for the application */
	uint32_t flags;	    /* TCP_F_* */
	uint16_t mss;	    /* payload bytes per segment we send (peer's MSS, ICMP-reduced) */
	uint8_t dupacks;
	uint8_t n_ooo;	       /* segments in ooo */
	uint32_t rcv_mem;      /* buffer bytes (truesize) pinned by rcvq and ooo */
	uint32_t last_oow_ack; /* tick of the last ACK to an invalid segment (rate limit) */
	uint32_t lnext;	       /* the orphan or out-of-order list it is on (one at most) */
	uint32_t lprev;
	struct rte_ether_addr rmac; /* next hop MAC (peer's, or the router's) */

	/* send sequence space (RFC 9293 §3.3.1) */
	uint32_t iss;
	uint32_t snd_una;
	uint32_t snd_nxt;
	uint32_t snd_max; /* highest sequence sent + 1 (snd_nxt goes back on timeout) */
	uint32_t snd_wnd; /* peer's window, unscaled to bytes */
	uint32_t snd_wl1;
	uint32_t snd_wl2;
	uint32_t max_sndwnd; /* largest window seen (RFC 5961 §5 ACK check) */
	uint32_t cwnd;
	uint32_t ssthresh;
	uint32_t recover; /* RFC 6582 */

	/* receive sequence space */
	uint32_t irs;
	uint32_t rcv_nxt;
	uint32_t rcv_adv;  /* right edge of the window we advertised */
	uint32_t last_ack; /* rcv_nxt in the last segment we sent */

	/* RFC 6298, in ms; srtt scaled by 8, rttvar by 4 (BSD) */
	uint32_t srtt8;
	uint32_t rttvar4;
	uint32_t rto;
	uint32_t rtt_seq;
	uint32_t rtt_ts;

	/* timers */
	struct tcp_timer tmr_link;
	uint32_t tmr[TCP_TMR_MAX]; /* deadlines (ms ticks), valid when bit set in tmr_on */
	uint8_t tmr_on;

	struct tcp_mq sndq;   /* unacknowledged + unsent bytes, starts at snd_una */
	struct tcp_mq rcvq;   /* in-order bytes the application has not consumed */
	struct rte_mbuf *ooo; /* out-of-order segments sorted by seq (hash.usr), linked by next */

	const struct tcp_app *app;
	void *udata;	      /* application's per-connection pointer */
	struct tcp_stack *ts; /* owning stack */
};

enum tcp_syncookie_mode {
	TCP_SYNCOOKIE_AUTO = 0, /* stateful until the half-open count reaches synq_max */
	TCP_SYNCOOKIE_ALWAYS,	/* never keep state before the handshake completes */
	TCP_SYNCOOKIE_NEVER,	/* refuse SYNs past synq_max instead */
	TCP_SYNCOOKIE_MAX
};

/* Stack configuration: set by main before launch, read-only afterwards, shared by lcores. */
struct tcp_cfg {
	uint32_t max_conns;    /* connection pool per lcore */
	uint32_t synq_max;     /* half-open connections per lcore before cookies/refusal */
	uint32_t max_per_src;  /* connections per source address per lcore (0: no limit) */
	uint32_t rcvbuf;       /* receive buffer per connection, bytes */
	uint32_t sndbuf;       /* send buffer per connection, bytes */
	uint32_t time_wait_ms; /* TIME-WAIT length (2*MSL in RFC 9293; short here, configurable) */
	uint32_t fin_wait2_ms; /* orphaned FIN-WAIT-2 lifetime */
	uint32_t orphan_ms;    /* lifetime of a closed connection still flushing data */
	uint32_t connect_ms;   /* active open gives up after this */
	uint32_t rto_min_ms;   /* RFC 6298 (2.4) allows below 1 s; Linux uses 200 ms */
	uint32_t rto_max_ms;   /* RFC 6298 (2.5) */
	uint32_t rto_init_ms;  /* RFC 6298 (2.1) */
	uint32_t delack_ms;    /* RFC 9293 §3.8.6.3: under 500 ms */
	uint32_t max_rxmt;     /* retransmissions before a connection is dropped */
	uint32_t synack_retries; /* SYN-ACK retransmissions in SYN_RCVD */
	uint32_t ooo_max;	 /* out-of-order segments kept per connection */
	uint32_t ooo_ms;      /* out-of-order data older than this is dropped (RFC 2018 reneging) */
	uint32_t max_orphans; /* orphaned connections per lcore before the oldest is reset */
	uint32_t max_orphans_per_src; /* orphans per source address per lcore (0: no limit) */
	uint32_t orphan_retries; /* retransmissions of an orphan before it is reset (Linux: 8) */
	uint32_t invalid_ratelimit_ms; /* ACKs to invalid segments: one per connection per this */
	uint32_t challenge_ack_limit; /* RFC 5961 §7 challenge ACKs per second per lcore (about) */
	bool sack;		      /* offer SACK-permitted and send SACK blocks (RFC 2018) */
	uint16_t mss;		      /* MSS we announce (MTU 1500 - 40) */
	uint16_t eph_lo;	      /* ephemeral port range for active opens */
	uint16_t eph_hi;
	uint8_t syncookies; /* enum tcp_syncookie_mode */
	uint8_t secret[16]; /* SipHash key: ISNs (RFC 6528) and SYN cookies */
};

struct tcp_listener {
	uint16_t port; /* network byte order; 0 = unused */
	const struct tcp_app *app;
	void *udata; /* copied into accepted connections */
};

/* Open-addressing table entry (linear probing, backward-shift deletion). */
struct tcp_tbl_ent {
	uint32_t hash;
	uint32_t idx; /* TCP_NIL: empty */
};

/* A list of connections linked by index through tcp_conn.lnext/lprev (oldest at head). */
struct tcp_clist {
	uint32_t head;
	uint32_t tail;
	uint32_t n;
};

struct tcp_src_ent {
	uint32_t addr;	  /* network byte order */
	uint32_t count;	  /* connections; 0: empty */
	uint32_t orphans; /* of which orphaned, their peer never acknowledged our data */
	uint32_t rcv_mem; /* receive buffer bytes (truesize) its connections pin */
};

struct tcp_wheel {
	uint32_t *slots; /* head index per slot */
	uint32_t mask;
	uint32_t now; /* last tick processed */
	void *base;   /* element i's link is at base + i * stride + off */
	uint32_t stride;
	uint32_t off;
};

enum tcp_arp_state {
	TCP_ARP_FREE = 0,   /* slot unused */
	TCP_ARP_INCOMPLETE, /* request sent, frames waiting */
	TCP_ARP_VALID,	    /* MAC known until expiry */
	TCP_ARP_MAX
};

struct tcp_arp_ent {
	uint32_t ip; /* network byte order */
	uint8_t state;
	uint8_t tries;
	uint16_t port_id;
	uint32_t expire; /* ms tick: retry (INCOMPLETE) or forget (VALID) */
	struct rte_ether_addr mac;
	uint8_t n_pending;
	struct rte_mbuf *pending[TCP_ARP_PENDING];
};

/* Per-lcore stack: everything a worker needs to run TCP, owned by that worker only. */
struct tcp_stack {
	const struct tcp_cfg *cfg;
	struct lcore_ctx *ctx; /* for tx and counters */
	struct rte_mempool *mp;
	uint16_t queue_id; /* rx/tx queue index this lcore owns on every port */
	uint16_t n_queues; /* lcores sharing the ports */
	uint32_t now;	   /* ms ticks */
	uint64_t tsc_per_ms;
	uint64_t tsc0;

	struct tcp_conn *conns; /* pool of cfg->max_conns */
	uint32_t free_head;	/* free list through tmr_link.next */
	uint32_t n_active;
	uint32_t n_half_open;
	uint32_t reap_head; /* CLOSED connections to free, through tmr_link.next */

	struct tcp_tbl_ent *tbl;
	uint32_t tbl_mask;
	struct tcp_src_ent *src;
	uint32_t src_mask;
	struct tcp_wheel wheel;

	struct tcp_listener listeners[TCP_MAX_LISTENERS];
	struct tcp_arp_ent arp[TCP_ARP_SLOTS];
	uint16_t eph_next;

	uint32_t chack_sec; /* RFC 5961 §7 challenge ACK limit: second and budget left */
	uint32_t chack_left;
	bool cookies_used;    /* SYN cookies went out within the last two counter steps */
	uint32_t cookie_last; /* tick of the last cookie sent (valid when cookies_used) */

	/* Receive memory: per-connection cap, per-source share (truesize bytes). */
	uint32_t rcv_mem_max;
	uint32_t src_mem_max;
	struct rte_mempool *mp_rsv; /* reserve for our headers and replies; NULL: none */

	/* Connections holding out-of-order data, pruned under pressure or when stale. */
	struct tcp_clist ooo_list;
	uint32_t ooo_sweep; /* tick of the last sweep */
	bool ooo_prune_all; /* the pool fell to a lower level: drop every out-of-order queue */

	/* Orphans in the order they were closed, oldest first. */
	struct tcp_clist orphan_q;
	uint32_t orphan_max; /* cfg->max_orphans, or a quarter of the pool */

	/* Packet-buffer pressure: the pool is shared by rx, the send queues and our headers,
	 * and rx must never starve or no ACK gets through. */
	uint8_t mem_level;   /* TCP_MEM_* */
	uint32_t mem_check;  /* tick of the last look at the pool */
	uint32_t nobuf_head; /* ring of connections whose write found no mbuf */
	uint32_t nobuf_tail;
	uint32_t nobuf[TCP_NOBUF_WAIT];

	struct rte_ring *handoff;	/* frames other lcores forward to this one */
	struct tcp_stack *const *peers; /* every stack, by queue id (handoff targets) */
	bool clock_manual; /* now is set by the owner (tests/tcp virtual time), not the TSC */
};

#endif /* NDG_DATAPLANE_TCP_T_H */
