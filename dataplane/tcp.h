/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The userspace TCP: per-lcore stack lifecycle, the input hook called by IPv4, the
 * application interface (listen, connect, read, write, close, timers) and the pure helpers
 * the unit tests reach (sequence arithmetic, options, cookies, Toeplitz, timer wheel).
 * Unless said otherwise a function runs on the lcore owning the stack or connection.
 */
#ifndef NDG_DATAPLANE_TCP_H
#define NDG_DATAPLANE_TCP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <rte_mbuf.h>

#include "net-t.h"
#include "tcp-t.h"

/* RFC 9293 §3.4 sequence comparisons, modulo 2^32. */
static inline bool
tcp_seq_lt(uint32_t a, uint32_t b)
{
	return (int32_t) (a - b) < 0;
}

static inline bool
tcp_seq_leq(uint32_t a, uint32_t b)
{
	return (int32_t) (a - b) <= 0;
}

static inline bool
tcp_seq_gt(uint32_t a, uint32_t b)
{
	return (int32_t) (a - b) > 0;
}

static inline bool
tcp_seq_geq(uint32_t a, uint32_t b)
{
	return (int32_t) (a - b) >= 0;
}

/* True when lo <= x < hi in sequence space. */
static inline bool
tcp_seq_in(uint32_t x, uint32_t lo, uint32_t hi)
{
	return x - lo < hi - lo;
}

static inline uint32_t
tcp_seq_max(uint32_t a, uint32_t b)
{
	return tcp_seq_gt(a, b) ? a : b;
}

/* Options of a received segment (RFC 9293 §3.1, RFC 7323). */
struct tcp_opts {
	uint16_t mss;	/* 0: absent */
	uint8_t wscale; /* valid when has_ws */
	bool has_ws;
	bool sack_ok;	/* SACK-permitted (RFC 2018 §2) */
	bool has_ts;	/* seen and ignored: we never send timestamps */
	bool malformed; /* parsing stopped at a truncated or bad option */
};

/**
 * Parse TCP options <opt>/<len> into <out>. Unknown options are skipped by their length,
 * a truncated or zero-length option stops parsing (what was parsed stays valid) and sets
 * <out>->malformed; a window shift above 14 is clamped to 14 (RFC 7323 §2.3).
 * @return 0, or -EINVAL when parsing stopped early. Any thread.
 */
int tcp_opts_parse(const uint8_t *opt, unsigned int len, struct tcp_opts *out);

/**
 * SipHash-2-4 of <len> bytes at <data> with the 16-byte <key>. Any thread.
 */
uint64_t tcp_siphash(const uint8_t key[16], const void *data, size_t len);

/**
 * RFC 6528 initial sequence number for the connection (addresses and ports in network
 * byte order) at <usec>: 4-microsecond clock plus a keyed hash of the 4-tuple. Any thread.
 */
uint32_t tcp_isn(const uint8_t key[16], uint32_t laddr, uint32_t raddr, uint16_t lport,
	uint16_t rport, uint64_t usec);

/**
 * RFC 4987 SYN cookie for a SYN from raddr:rport to laddr:lport with sequence <seq>,
 * peer MSS <mss> and window shift <ws> (-1: none), at minute-ish counter <t> (64 s units).
 * @return the ISN to send. Any thread.
 */
uint32_t tcp_syncookie_make(const uint8_t key[16], uint32_t laddr, uint32_t raddr, uint16_t lport,
	uint16_t rport, uint32_t seq, uint16_t mss, int ws, uint32_t t);

/**
 * Check the cookie <cookie> (the ACK's ack number minus one) of a handshake-completing ACK
 * whose seq minus one is <seq>, at counter <t>; cookies of the current and previous counter
 * are valid. On success writes the MSS and window shift (-1: none) the SYN had.
 * @return 0, or -EINVAL when the cookie is not ours or too old. Any thread.
 */
int tcp_syncookie_check(const uint8_t key[16], uint32_t laddr, uint32_t raddr, uint16_t lport,
	uint16_t rport, uint32_t seq, uint32_t cookie, uint32_t t, uint16_t *mss, int *ws);

/**
 * Toeplitz hash (RSS) of the IPv4/TCP tuple as a NIC computes it on receive: source and
 * destination as seen in the packet, all in network byte order, with the 40-byte <key>.
 * Any thread.
 */
uint32_t tcp_rss_hash(const uint8_t key[NET_RSS_KEY_LEN], uint32_t saddr, uint32_t daddr,
	uint16_t sport, uint16_t dport);

/**
 * Choose a local port in [<lo>, <hi>] starting the search at <*cursor> such that the reply
 * from raddr:rport to laddr:port lands on rx queue <queue> of <nif> (through its RETA), and
 * <is_free>(arg, port) agrees. Without RSS on <nif>, the same hash modulo <n_queues> must
 * give <queue> (the software ownership tcp_input() applies). Advances <*cursor>.
 * @return the port in network byte order, or 0 when none is free. Any thread.
 */
uint16_t tcp_port_choose(const struct net_if *nif, uint16_t queue, uint16_t n_queues,
	uint32_t laddr, uint32_t raddr, uint16_t rport, uint16_t lo, uint16_t hi, uint16_t *cursor,
	bool (*is_free)(void *arg, uint16_t port_be), void *arg);

/**
 * Initialise <w> over <nslots> (power of two) heads at <slots>, for elements whose
 * struct tcp_timer sits at <base> + i * <stride> + <off>; the current tick becomes <now>.
 * Any thread, before use.
 */
void tcp_wheel_init(struct tcp_wheel *w, uint32_t *slots, uint32_t nslots, void *base,
	uint32_t stride, uint32_t off, uint32_t now);

/**
 * Mark element <idx> as not armed; every element must start so. Any thread, before use.
 */
static inline void
tcp_wheel_elem_init(struct tcp_timer *t, uint32_t idx)
{
	t->next = TCP_NIL;
	t->prev = idx;
	t->expire = 0;
}

/**
 * (Re)arm element <idx> to fire at tick <expire> (a tick already past fires on the next
 * advance). O(1). Owner of the wheel.
 */
void tcp_wheel_arm(struct tcp_wheel *w, uint32_t idx, uint32_t expire);

/**
 * Disarm element <idx>; harmless when not armed. O(1). Owner of the wheel.
 */
void tcp_wheel_cancel(struct tcp_wheel *w, uint32_t idx);

/**
 * True when element <idx> is armed. Owner of the wheel.
 */
bool tcp_wheel_armed(const struct tcp_wheel *w, uint32_t idx);

/**
 * Advance to tick <now>, calling <fire>(arg, idx) once for every element due, after
 * disarming it (the callback may re-arm it). @return elements fired. Owner of the wheel.
 */
unsigned int tcp_wheel_advance(struct tcp_wheel *w, uint32_t now,
	void (*fire)(void *arg, uint32_t idx), void *arg);

/**
 * Fill <cfg> with the defaults (and a random secret). Main lcore, before tcp_stack_create.
 */
void tcp_cfg_defaults(struct tcp_cfg *cfg);

/**
 * Create the stack of the lcore owning <ctx>, polling queue <queue_id> of <n_queues>, with
 * its pools from <socket>, sending from <mp>. Main lcore, before launch.
 * @return the stack, or NULL when memory ran out.
 */
struct tcp_stack *tcp_stack_create(const struct tcp_cfg *cfg, struct lcore_ctx *ctx,
	struct rte_mempool *mp, uint16_t queue_id, uint16_t n_queues, int socket);

/**
 * Tell every stack about all of them (ring hand-off targets). Main lcore, before launch.
 */
void tcp_stack_link(struct tcp_stack *const *stacks, uint16_t n);

/**
 * Release a stack: every connection is freed without sending anything. Main lcore, after
 * the worker stopped.
 */
void tcp_stack_free(struct tcp_stack *ts);

/**
 * Print up to <max> live connections of <ts> to <f>, one line each (diagnostics).
 * Main lcore after the worker stopped, or the owner lcore.
 */
void tcp_stack_dump(const struct tcp_stack *ts, FILE *f, unsigned int max);

/**
 * Run timers due and reap closed connections; drains the hand-off ring. Called once per
 * loop iteration by the owner lcore. @return frames taken from the hand-off ring.
 */
unsigned int tcp_stack_poll(struct tcp_stack *ts);

/**
 * Listen on TCP port <port> (host byte order) of every address of the stack, delivering
 * new connections to <app> with <udata> as their initial tcp_conn_udata().
 * @return 0, -EADDRINUSE when already listening, -ENOSPC when the listener table is full.
 * Main lcore before launch, or the owner lcore.
 */
int tcp_listen(struct tcp_stack *ts, uint16_t port, const struct tcp_app *app, void *udata);

/**
 * Segment input: <m> holds an IPv4 packet for us with protocol TCP at <l2len>, IP header
 * <l3len> bytes, length already validated and padding trimmed.
 * @return NET_CONSUMED (the stack owns <m>) or NET_DROP (the caller frees it). Owner lcore.
 */
enum net_verdict tcp_input(struct tcp_stack *ts, const struct net_if *nif, struct rte_mbuf *m,
	uint16_t l2len, uint16_t l3len);

/**
 * ICMP destination-unreachable for a TCP segment we sent: <inner> points at the quoted IP
 * header (at least 28 bytes present, checked by the caller). <code> is the ICMP code and
 * <mtu> the next-hop MTU of code 4 (frag needed). Port/protocol/host unreachable abort a
 * connection still in SYN_SENT; frag-needed lowers the MSS (RFC 5927 checks the quoted
 * sequence number is in flight). Owner lcore.
 */
void tcp_icmp_unreach(struct tcp_stack *ts, const void *inner, uint8_t code, uint16_t mtu);

/**
 * ARP answer or request from <ip> at <mac> on <port_id>: update the next-hop cache and send
 * the frames waiting for it. Owner lcore.
 */
void tcp_arp_learn(struct tcp_stack *ts, uint16_t port_id, uint32_t ip,
	const struct rte_ether_addr *mac);

/**
 * Active open to <raddr>:<rport> (network byte order) from the first address of port
 * <port_id>, reporting to <app>->connected. The source port hashes back to this lcore.
 * @return 0 and the connection in <*out>; -ENETUNREACH (no route), -EADDRNOTAVAIL (no
 *   free port), -ENOMEM (pool full), -ENOBUFS (no mbuf for the SYN).
 */
int tcp_conn_connect(struct tcp_stack *ts, uint16_t port_id, uint32_t raddr, uint16_t rport,
	const struct tcp_app *app, void *udata, struct tcp_conn **out);

/**
 * First segment of the readable bytes of <c> (follow ->next; each holds data_len bytes)
 * and their total in <*bytes>. @return NULL when nothing is readable.
 */
static inline struct rte_mbuf *
tcp_conn_rx_peek(const struct tcp_conn *c, uint32_t *bytes)
{
	*bytes = c->rcvq.bytes;
	return c->rcvq.head;
}

/**
 * RFC 6582 §3.2 (2): may a third duplicate ACK start fast retransmit? Only when the
 * cumulative ACK is past <recover> (the highest sequence sent when the last recovery or
 * RTO began), so the echoes of that recovery's own resends do not start another.
 */
static inline bool
tcp_conn_may_fast_rxmt(const struct tcp_conn *c)
{
	return tcp_seq_gt(c->snd_una, c->recover);
}

/**
 * Does a reset closing <c> lose nothing? In TIME-WAIT, or in LAST-ACK/CLOSING once the peer
 * acknowledged every byte and only our FIN is outstanding (a peer that closed and forgot
 * the connection answers our retransmitted FIN with a reset). RFC 9293 §3.10.7.4 closes
 * those states on a reset with nothing to report.
 */
static inline bool
tcp_conn_rst_is_clean(const struct tcp_conn *c)
{
	if (c->state == TCP_ST_TIME_WAIT)
		return true;
	return (c->state == TCP_ST_LAST_ACK || c->state == TCP_ST_CLOSING) &&
	       (c->flags & TCP_F_FIN_SENT) && c->sndq.bytes == 0 && c->snd_una + 1 == c->snd_max;
}

/**
 * Retransmissions of <c> before it is given up: orphans get fewer (Linux's
 * tcp_orphan_retries), since nobody waits for them and a peer that never acknowledges would
 * otherwise hold each for minutes of backoff.
 */
static inline uint32_t
tcp_rxmt_limit(const struct tcp_conn *c)
{
	const struct tcp_cfg *cfg = c->ts->cfg;

	if ((c->flags & TCP_F_ORPHAN) && cfg->orphan_retries < cfg->max_rxmt)
		return cfg->orphan_retries;
	return cfg->max_rxmt;
}

/**
 * True when the peer closed its side and every byte before its FIN was read.
 */
static inline bool
tcp_conn_rx_eof(const struct tcp_conn *c)
{
	return (c->flags & TCP_F_RCVD_FIN) && c->rcvq.bytes == 0;
}

/**
 * Consume <n> readable bytes (at most what tcp_conn_rx_peek() reported), freeing their
 * mbufs and reopening the window (a window update goes out when it grew enough).
 */
void tcp_conn_rx_consume(struct tcp_conn *c, uint32_t n);

/**
 * Bytes tcp_conn_write() would take now.
 */
uint32_t tcp_conn_tx_space(const struct tcp_conn *c);

/**
 * Copy up to <len> bytes from <buf> into the send queue; they go out on tcp_conn_flush() or
 * when the stack returns to the loop. When not everything fits, the application gets
 * writable() once space frees.
 * @return bytes taken (maybe 0), -EPIPE after shutdown/close, -ENOTCONN before the
 *   connection is established, -ENOBUFS when no mbuf was free and nothing was taken.
 */
int tcp_conn_write(struct tcp_conn *c, const void *buf, uint32_t len);

/**
 * Ask for one writable() call when send space frees, for an application that holds back
 * input until it has room for what it will produce (a proxy's backpressure).
 */
void tcp_conn_want_writable(struct tcp_conn *c);

/**
 * Send what the windows allow now (Nagle is off: request/response traffic). @return 0.
 */
int tcp_conn_flush(struct tcp_conn *c);

/**
 * Half-close: FIN after the queued bytes; reading goes on. @return 0, or -ENOTCONN.
 */
int tcp_conn_shutdown(struct tcp_conn *c);

/**
 * Close: FIN after the queued bytes, and the application is done with <c> (no more
 * callbacks; the stack finishes the teardown). Unread bytes make it an abort (RFC 9293
 * §3.10.4 as Linux does: RST rather than FIN).
 */
void tcp_conn_close(struct tcp_conn *c);

/**
 * Abort: RST to the peer, free the connection; no more callbacks.
 */
void tcp_conn_abort(struct tcp_conn *c);

/**
 * Arm the application timer of <c> <ms> from now (replacing an armed one); 0 disarms.
 */
void tcp_conn_timer_set(struct tcp_conn *c, uint32_t ms);

/** The stack <c> belongs to. */
struct tcp_stack *tcp_conn_stack(const struct tcp_conn *c);

/** Human-readable name of state <st>. Any thread. */
const char *tcp_strstate(enum tcp_state st);

/*
 * Stack internals shared by tcp_*.c; applications never call these. Owner lcore only.
 */

/** Connection with this 4-tuple (network byte order), or NULL. */
struct tcp_conn *tcp_tbl_lookup(struct tcp_stack *ts, uint32_t laddr, uint32_t raddr,
	uint16_t lport, uint16_t rport);
/** Insert <c> (key set). @return 0, -EEXIST (same 4-tuple present). */
int tcp_tbl_insert(struct tcp_stack *ts, struct tcp_conn *c);
/** Remove <c> from the table; harmless when absent. */
void tcp_tbl_remove(struct tcp_stack *ts, struct tcp_conn *c);
/** Connections from <addr> on this lcore. */
uint32_t tcp_src_count(const struct tcp_stack *ts, uint32_t addr);
/** Count one more connection from <addr>. @return 0, -ENOSPC (table full). */
int tcp_src_inc(struct tcp_stack *ts, uint32_t addr);
/* The per-source entry of <addr>, NULL when it holds no connection. Owner lcore. */
struct tcp_src_ent *tcp_src_find(struct tcp_stack *ts, uint32_t addr);
/** Count one connection from <addr> less. */
void tcp_src_dec(struct tcp_stack *ts, uint32_t addr);
/** Bytes of table memory per pooled connection (both tables). */
size_t tcp_tbl_bytes_per_conn(const struct tcp_stack *ts);

/** Set deadline <k> <ms> from now. */
void tcp_tmr_set(struct tcp_conn *c, enum tcp_tmr k, uint32_t ms);
/** Clear deadline <k>. */
void tcp_tmr_clear(struct tcp_conn *c, enum tcp_tmr k);
/** Put the wheel entry of <c> at its earliest deadline. */
void tcp_tmr_sync(struct tcp_conn *c);
/** Update the clock and fire what is due. */
void tcp_timers_run(struct tcp_stack *ts);
/** Deadline <k> of <c> expired (tcp_conn.c dispatches). */
void tcp_conn_timeout(struct tcp_conn *c, enum tcp_tmr k);

/** Take a connection from the pool, key set, in the table. NULL: pool full or -EEXIST. */
struct tcp_conn *tcp_conn_alloc(struct tcp_stack *ts, uint32_t laddr, uint32_t raddr,
	uint16_t lport, uint16_t rport);
/** Tear <c> down now (no segment sent): app told <err> unless orphaned, then reaped. */
void tcp_conn_drop(struct tcp_conn *c, int err);
/** Move <c> to <st>, keeping the counters and TIME-WAIT/FIN-WAIT-2 timers right. */
void tcp_conn_set_state(struct tcp_conn *c, enum tcp_state st);
/** Tell the application <c> is open (accepted/connected). @return <0 when refused. */
int tcp_conn_notify_open(struct tcp_conn *c);
/** Initialise the send variables and windows of a new connection. */
void tcp_conn_init_seq(struct tcp_conn *c, uint32_t iss);
/** Window shift we announce for cfg->rcvbuf. */
uint8_t tcp_rcv_wscale(const struct tcp_cfg *cfg);

#define TCP_COOKIE_PERIOD  64				   /* seconds per SYN cookie counter step */
#define TCP_COOKIE_LIFE_MS (2u * TCP_COOKIE_PERIOD * 1000) /* cookies valid this long */

/* Marks in hash.fdir.hi of an out-of-order mbuf (its sequence number is in hash.usr). */
#define TCP_OOO_FIN  1u /* a FIN follows its data */
#define TCP_OOO_LAST 2u /* the latest arrival: first SACK block (RFC 2018 §4) */

/*
 * What a queued buffer costs the pool, whatever payload it carries (Linux's truesize): the
 * mbuf header and its whole data room. Receive memory is charged by this, never by payload
 * bytes, so a peer sending one-byte segments pays for the 2 KiB buffers it pins.
 */
static inline uint32_t
tcp_truesize(const struct rte_mbuf *m)
{
	return (uint32_t) sizeof(struct rte_mbuf) + m->priv_size + m->buf_len;
}

/* Out-of-order mbufs carry their arrival tick beside the marks in hash.fdir.hi. */
#define TCP_OOO_MARKS	  3u
#define TCP_OOO_TICK(m)	  ((m)->hash.fdir.hi >> 2)
#define TCP_OOO_TICK_MASK (UINT32_MAX >> 2)
#define TCP_MIN_SND_MSS	  48u /* payload bytes per segment at least (Linux tcp_min_snd_mss) */

/**
 * Charge (<delta> > 0) or release receive memory of <c> and of its source. Owner lcore.
 */
void tcp_rcv_mem_adjust(struct tcp_conn *c, int32_t delta);

/**
 * May <c> pin <bytes> more receive memory? @return 0, -ENOBUFS when the connection is at
 * its cap, -EDQUOT when its source holds its share of the pool. Owner lcore.
 */
int tcp_rcv_mem_check(const struct tcp_conn *c, uint32_t bytes);

/** Put <c> on the list of connections holding out-of-order data (once). Owner lcore. */
void tcp_ooo_listed(struct tcp_conn *c);

/** Drop every out-of-order segment of <c>. @return how many. Owner lcore. */
unsigned int tcp_ooo_purge(struct tcp_conn *c);

/* Bytes a SACK option may take in a segment of <c> (payload room is reduced by as much). */
#define TCP_SACK_ROOM 36
static inline uint16_t
tcp_sack_room(const struct tcp_conn *c)
{
	return (c->flags & TCP_F_SACK_OK) && c->ooo != NULL ? TCP_SACK_ROOM : 0;
}

/*
 * Payload bytes per segment of <c>: the MSS less the SACK option, computed signed and never
 * below TCP_MIN_SND_MSS (a peer announcing a tiny MSS cannot make the room wrap or vanish).
 */
static inline uint32_t
tcp_seg_room(const struct tcp_conn *c)
{
	int32_t room = (int32_t) c->mss - (int32_t) tcp_sack_room(c);

	return room < (int32_t) TCP_MIN_SND_MSS ? TCP_MIN_SND_MSS : (uint32_t) room;
}
uint16_t tcp_sack_fill(const struct tcp_conn *c, uint8_t *opt);

/** Put <c> on the list of writers to wake when packet buffers are back. */
void tcp_nobuf_wait(struct tcp_conn *c);
/** Send new data/FIN as the windows allow, then an ACK if one is due. */
void tcp_output(struct tcp_conn *c);
/** Send a segment without payload with <flags> (SYN carries the options). @return 0, -ENOBUFS. */
int tcp_send_ctl(struct tcp_conn *c, uint8_t flags);
/** Send the ACK that answers an unacceptable segment (RFC 5961 §7 rate limit when <chal>). */
/* Why an ACK goes out now: what rate limits apply to it. */
enum tcp_ack_kind {
	TCP_ACK_DUE = 0,   /* the stream needs it (delayed ACK, window update, FIN) */
	TCP_ACK_INVALID,   /* answers a segment without data outside the window: per connection */
	TCP_ACK_CHALLENGE, /* RFC 5961 challenge: per connection and per lcore */
	TCP_ACK_MAX
};
void tcp_send_ack_now(struct tcp_conn *c, enum tcp_ack_kind kind);
/** RST for a segment that matches no connection (RFC 9293 §3.10.7.1). */
void tcp_send_rst_reply(struct tcp_stack *ts, const struct net_if *nif,
	const struct rte_ether_addr *dmac, uint32_t laddr, uint32_t raddr, uint16_t lport,
	uint16_t rport, uint32_t seq, uint32_t ack, bool with_ack);
/** SYN-ACK without a connection (SYN cookie). */
void tcp_send_synack_cookie(struct tcp_stack *ts, const struct net_if *nif,
	const struct rte_ether_addr *dmac, uint32_t laddr, uint32_t raddr, uint16_t lport,
	uint16_t rport, uint32_t iss, uint32_t ack, uint16_t mss, bool ws);
/** Retransmission timer expired. */
void tcp_rxmt_timeout(struct tcp_conn *c);
/** Window we may announce now, in bytes. */
uint32_t tcp_rcv_window(const struct tcp_conn *c);
/** Free the acknowledged head of the send queue up to snd_una. */
void tcp_sndq_ack(struct tcp_conn *c, uint32_t acked);
/** Free every mbuf of <q>. */
void tcp_mq_purge(struct tcp_mq *q);
/** Send frame <m> (Ethernet header present, dst MAC set) on <port_id>. */
void tcp_xmit(struct tcp_stack *ts, uint16_t port_id, struct rte_mbuf *m);
/** Resolve <nexthop> on <port_id> and send <m> when known (queued or dropped otherwise). */
void tcp_arp_xmit(struct tcp_stack *ts, uint16_t port_id, uint32_t nexthop, struct rte_mbuf *m);
/** Age ARP entries and retry requests. */
void tcp_arp_timers(struct tcp_stack *ts);

/**
 * Has the peer of <c> acknowledged data we sent, beyond our SYN? A blind spoofer can answer a
 * SYN-ACK (a SYN cookie's ACK) but cannot acknowledge bytes it never received, so only this
 * proves the peer owns its address (DESIGN.md §3 "Hostile peers"). Owner lcore.
 */
static inline bool
tcp_conn_peer_acked_data(const struct tcp_conn *c)
{
	return tcp_seq_gt(c->snd_una, c->iss + 1);
}

#endif /* NDG_DATAPLANE_TCP_H */
