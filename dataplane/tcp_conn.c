/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Connection lifecycle and the application interface: the per-lcore stack (pools, tables,
 * wheel, listeners), allocation and reaping of connections, state changes, active open,
 * read/write/close/timers for applications, and the keyed functions behind ISNs (RFC 6528)
 * and SYN cookies (RFC 4987). Owner lcore of the stack, except tcp_cfg_defaults, the pure
 * hash functions (any thread) and create/free (main lcore, workers stopped).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>

#include <rte_byteorder.h>
#include <rte_common.h>
#include <rte_cycles.h>
#include <rte_ethdev.h>
#include <rte_malloc.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>
#include <rte_ring.h>
#include <rte_tcp.h>

#include "lcore.h"
#include "stats.h"
#include "tcp.h"
#include "ndg_common.h"

#define TCP_HANDOFF_RING 1024 /* frames queued from other lcores */

static const char *const tcp_state_names[TCP_ST_MAX] = {
	[TCP_ST_CLOSED] = "CLOSED",
	[TCP_ST_LISTEN] = "LISTEN",
	[TCP_ST_SYN_SENT] = "SYN_SENT",
	[TCP_ST_SYN_RCVD] = "SYN_RCVD",
	[TCP_ST_ESTABLISHED] = "ESTABLISHED",
	[TCP_ST_FIN_WAIT_1] = "FIN_WAIT_1",
	[TCP_ST_FIN_WAIT_2] = "FIN_WAIT_2",
	[TCP_ST_CLOSE_WAIT] = "CLOSE_WAIT",
	[TCP_ST_CLOSING] = "CLOSING",
	[TCP_ST_LAST_ACK] = "LAST_ACK",
	[TCP_ST_TIME_WAIT] = "TIME_WAIT",
};

const char *
tcp_strstate(enum tcp_state st)
{
	if ((unsigned int) st >= TCP_ST_MAX)
		return "?";
	return tcp_state_names[st];
}

/* ---- SipHash-2-4 (Aumasson, Bernstein), for ISNs and cookies ---- */

#define TCP_ROTL(x, b) (uint64_t)(((x) << (b)) | ((x) >> (64 - (b))))
#define TCP_SIPROUND                                                                               \
	do {                                                                                       \
		v0 += v1;                                                                          \
		v1 = TCP_ROTL(v1, 13);                                                             \
		v1 ^= v0;                                                                          \
		v0 = TCP_ROTL(v0, 32);                                                             \
		v2 += v3;                                                                          \
		v3 = TCP_ROTL(v3, 16);                                                             \
		v3 ^= v2;                                                                          \
		v0 += v3;                                                                          \
		v3 = TCP_ROTL(v3, 21);                                                             \
		v3 ^= v0;                                                                          \
		v2 += v1;                                                                          \
		v1 = TCP_ROTL(v1, 17);                                                             \
		v1 ^= v2;                                                                          \
		v2 = TCP_ROTL(v2, 32);                                                             \
	} while (0)

static inline uint64_t
tcp_le64(const uint8_t *p)
{
	uint64_t v = 0;

	for (int i = 7; i >= 0; i--)
		v = (v << 8) | p[i];
	return v;
}

uint64_t
tcp_siphash(const uint8_t key[16], const void *data, size_t len)
{
	const uint8_t *in = data;
	uint64_t k0 = tcp_le64(key), k1 = tcp_le64(key + 8);
	uint64_t v0 = 0x736f6d6570736575ULL ^ k0;
	uint64_t v1 = 0x646f72616e646f6dULL ^ k1;
	uint64_t v2 = 0x6c7967656e657261ULL ^ k0;
	uint64_t v3 = 0x7465646279746573ULL ^ k1;
	uint64_t b = (uint64_t) len << 56;
	size_t left = len & 7;
	const uint8_t *end = in + len - left;

	for (; in != end; in += 8) {
		uint64_t m = tcp_le64(in);

		v3 ^= m;
		TCP_SIPROUND;
		TCP_SIPROUND;
		v0 ^= m;
	}
	for (size_t i = 0; i < left; i++)
		b |= (uint64_t) in[i] << (8 * i);
	v3 ^= b;
	TCP_SIPROUND;
	TCP_SIPROUND;
	v0 ^= b;
	v2 ^= 0xff;
	TCP_SIPROUND;
	TCP_SIPROUND;
	TCP_SIPROUND;
	TCP_SIPROUND;
	return v0 ^ v1 ^ v2 ^ v3;
}

struct tcp_hash_in {
	uint32_t laddr;
	uint32_t raddr;
	uint16_t lport;
	uint16_t rport;
	uint32_t seq;
	uint32_t t;
	uint32_t tag; /* domain separation: ISN vs cookie, and the cookie's MSS/WS bits */
};

uint32_t
tcp_isn(const uint8_t key[16], uint32_t laddr, uint32_t raddr, uint16_t lport, uint16_t rport,
	uint64_t usec)
{
	struct tcp_hash_in in = {laddr, raddr, lport, rport, 0, 0, 0x49534e00};

	/* RFC 6528 §3: ISN = M + F(localip, localport, remoteip, remoteport, secretkey). */
	return (uint32_t) (usec / 4) + (uint32_t) tcp_siphash(key, &in, sizeof(in));
}

/* MSS values a cookie can carry (2 bits, as Linux's msstab); the largest not above the
 * peer's is chosen: 1220 is IPv6's minimum MTU less 60, 1440/1460 common Ethernet paths. */
static const uint16_t tcp_cookie_mss[4] = {536, 1220, 1440, 1460};

#define TCP_COOKIE_HASH_BITS 25
#define TCP_COOKIE_HASH_MASK ((1u << TCP_COOKIE_HASH_BITS) - 1)

static uint32_t
tcp_cookie_hash(const uint8_t key[16], uint32_t laddr, uint32_t raddr, uint16_t lport,
	uint16_t rport, uint32_t seq, uint32_t t, uint32_t bits)
{
	struct tcp_hash_in in = {laddr, raddr, lport, rport, seq, t, 0x434b0000 | bits};

	return (uint32_t) tcp_siphash(key, &in, sizeof(in)) & TCP_COOKIE_HASH_MASK;
}

/*
 * Cookie layout: t mod 2 (1 bit) | MSS index (2) | window shift + 1, 0 = none (4) | keyed
 * hash of the 4-tuple, the SYN's sequence number, the full counter t and those bits (25).
 * Every value of the 7 clear bits is one a checker accepts, so a blind guess passes with
 * probability 2^-25 whatever the guesser picks there (the old layout let the sender choose
 * 12 bits and left a 20-bit MAC: one forged ACK in a million opened a connection).
 */
uint32_t
tcp_syncookie_make(const uint8_t key[16], uint32_t laddr, uint32_t raddr, uint16_t lport,
	uint16_t rport, uint32_t seq, uint16_t mss, int ws, uint32_t t)
{
	uint32_t mi = 0, wv = ws < 0 ? 0 : (uint32_t) RTE_MIN(ws, 14) + 1, bits;

	for (uint32_t i = 0; i < RTE_DIM(tcp_cookie_mss); i++)
		if (tcp_cookie_mss[i] <= mss)
			mi = i;
	bits = ((t & 1) << 6) | (mi << 4) | wv;
	return (bits << TCP_COOKIE_HASH_BITS) |
	       tcp_cookie_hash(key, laddr, raddr, lport, rport, seq, t, bits);
}

int
tcp_syncookie_check(const uint8_t key[16], uint32_t laddr, uint32_t raddr, uint16_t lport,
	uint16_t rport, uint32_t seq, uint32_t cookie, uint32_t t, uint16_t *mss, int *ws)
{
	uint32_t bits = cookie >> TCP_COOKIE_HASH_BITS;
	uint32_t mi = (bits >> 4) & 3, wv = bits & 15;
	/* Valid for the current and the previous counter step (64 to 128 s): the parity bit
	 * says which. */
	uint32_t tt = ((bits >> 6) & 1) == (t & 1) ? t : t - 1;

	if (tcp_cookie_hash(key, laddr, raddr, lport, rport, seq, tt, bits) !=
		(cookie & TCP_COOKIE_HASH_MASK))
		return -EINVAL;
	*mss = tcp_cookie_mss[mi];
	*ws = wv ? (int) wv - 1 : -1;
	return 0;
}

/* ---- configuration and stack lifecycle ---- */

void
tcp_cfg_defaults(struct tcp_cfg *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->max_conns = 65536;
	cfg->synq_max = 1024;
	/* Per lcore: a source gets a quarter of the SMTP sessions (4096), not the table. */
	cfg->max_per_src = 1024;
	cfg->rcvbuf = 65536;
	cfg->sndbuf = 65536;
	cfg->time_wait_ms = 2000;
	cfg->fin_wait2_ms = 30000;
	cfg->orphan_ms = 60000;
	cfg->connect_ms = 20000;
	cfg->rto_min_ms = 200;
	cfg->rto_max_ms = 60000;
	cfg->rto_init_ms = 1000;
	cfg->delack_ms = 40;
	cfg->max_rxmt = 12;
	cfg->synack_retries = 4;
	cfg->ooo_max = 64;
	cfg->ooo_ms = 20000;
	cfg->max_orphans = 0; /* a quarter of max_conns */
	cfg->max_orphans_per_src = 64;
	cfg->orphan_retries = 8;
	cfg->invalid_ratelimit_ms = 500;
	cfg->challenge_ack_limit = 1000;
	cfg->sack = true;
	cfg->mss = 1460;
	cfg->eph_lo = 32768;
	cfg->eph_hi = 60999;
	cfg->syncookies = TCP_SYNCOOKIE_AUTO;
	if (getrandom(cfg->secret, sizeof(cfg->secret), 0) != (ssize_t) sizeof(cfg->secret)) {
		/* No entropy source: fall back to the EAL's generator (seeded from the TSC). */
		for (unsigned int i = 0; i < sizeof(cfg->secret); i++)
			cfg->secret[i] = (uint8_t) rte_rand();
	}
}

uint8_t
tcp_rcv_wscale(const struct tcp_cfg *cfg)
{
	uint8_t ws = 0;

	while (ws < 14 && (65535u << ws) < cfg->rcvbuf)
		ws++;
	return ws;
}

/* ---- receive memory, and the orphan and out-of-order lists ---- */

/*
 * Receive memory limits from the configuration and the pool: a connection may pin twice its
 * receive buffer (a full window of full-sized segments fits; small segments are coalesced or
 * collapsed), one source a quarter of this lcore's share of the pool (so three others always
 * find room), and never less than one connection's cap.
 */
static void
tcp_stack_mem_limits(struct tcp_stack *ts)
{
	uint64_t share = 0;

	ts->rcv_mem_max = 2 * ts->cfg->rcvbuf;
	if (ts->mp != NULL) {
		uint64_t elt = sizeof(struct rte_mbuf) + rte_pktmbuf_priv_size(ts->mp) +
			       rte_pktmbuf_data_room_size(ts->mp);

		share = (uint64_t) ts->mp->size / RTE_MAX(ts->n_queues, (uint16_t) 1) / 4 * elt;
	}
	share = RTE_MIN(share, (uint64_t) UINT32_MAX);
	ts->src_mem_max = RTE_MAX((uint32_t) share, ts->rcv_mem_max);
}

static void
tcp_clist_add(struct tcp_stack *ts, struct tcp_clist *l, struct tcp_conn *c)
{
	uint32_t idx = (uint32_t) (c - ts->conns);

	c->lnext = TCP_NIL;
	c->lprev = l->tail;
	if (l->tail != TCP_NIL)
		ts->conns[l->tail].lnext = idx;
	else
		l->head = idx;
	l->tail = idx;
	l->n++;
}

static void
tcp_clist_del(struct tcp_stack *ts, struct tcp_clist *l, struct tcp_conn *c)
{
	if (c->lprev != TCP_NIL)
		ts->conns[c->lprev].lnext = c->lnext;
	else
		l->head = c->lnext;
	if (c->lnext != TCP_NIL)
		ts->conns[c->lnext].lprev = c->lprev;
	else
		l->tail = c->lprev;
	c->lnext = c->lprev = TCP_NIL;
	l->n--;
}

void
tcp_rcv_mem_adjust(struct tcp_conn *c, int32_t delta)
{
	struct tcp_src_ent *e;

	c->rcv_mem = (uint32_t) ((int32_t) c->rcv_mem + delta);
	if (!(c->flags & TCP_F_SRC_COUNTED))
		return;
	e = tcp_src_find(c->ts, c->raddr);
	if (e != NULL)
		e->rcv_mem = (uint32_t) ((int32_t) e->rcv_mem + delta);
}

int
tcp_rcv_mem_check(const struct tcp_conn *c, uint32_t bytes)
{
	struct tcp_stack *ts = c->ts;
	const struct tcp_src_ent *e;

	if (c->rcv_mem + bytes > ts->rcv_mem_max)
		return -ENOBUFS;
	if (!(c->flags & TCP_F_SRC_COUNTED))
		return 0;
	e = tcp_src_find(ts, c->raddr);
	if (e != NULL && e->rcv_mem + bytes > ts->src_mem_max)
		return -EDQUOT;
	return 0;
}

void
tcp_ooo_listed(struct tcp_conn *c)
{
	if (c->flags & (TCP_F_OOO_LISTED | TCP_F_ORPHAN_Q))
		return;
	c->flags |= TCP_F_OOO_LISTED;
	tcp_clist_add(c->ts, &c->ts->ooo_list, c);
}

unsigned int
tcp_ooo_purge(struct tcp_conn *c)
{
	unsigned int n = 0;

	while (c->ooo != NULL) {
		struct rte_mbuf *next = c->ooo->next;

		tcp_rcv_mem_adjust(c, -(int32_t) tcp_truesize(c->ooo));
		c->ooo->next = NULL;
		c->ooo->nb_segs = 1;
		rte_pktmbuf_free_seg(c->ooo);
		c->ooo = next;
		n++;
	}
	c->n_ooo = 0;
	if (c->flags & TCP_F_OOO_LISTED) {
		c->flags &= ~TCP_F_OOO_LISTED;
		tcp_clist_del(c->ts, &c->ts->ooo_list, c);
	}
	return n;
}

/* Tick of the oldest out-of-order segment of <c> (within the 30 bits kept in the mbuf). */
static uint32_t
tcp_ooo_age(const struct tcp_conn *c, uint32_t now)
{
	uint32_t age = 0;

	for (const struct rte_mbuf *o = c->ooo; o != NULL; o = o->next) {
		uint32_t a = (now - TCP_OOO_TICK(o)) & TCP_OOO_TICK_MASK;

		age = RTE_MAX(age, a);
	}
	return age;
}

/*
 * Out-of-order data is a favour to the sender, not a promise (RFC 2018 §8 lets a receiver
 * renege): every queue goes when the pool runs low, and a queue whose hole stayed open for
 * ooo_ms goes too, so no peer pins buffers by never filling a hole.
 */
static void
tcp_ooo_sweep(struct tcp_stack *ts)
{
	uint32_t idx = ts->ooo_list.head;
	bool all = ts->ooo_prune_all;

	ts->ooo_prune_all = false;
	ts->ooo_sweep = ts->now;
	while (idx != TCP_NIL) {
		struct tcp_conn *c = &ts->conns[idx];

		idx = c->lnext;
		if (c->ooo == NULL || all || tcp_ooo_age(c, ts->now) >= ts->cfg->ooo_ms) {
			unsigned int n = tcp_ooo_purge(c);

			if (n != 0)
				stats_add(&ts->ctx->stats, STATS_TCP_OOO_PRUNED, n);
		}
	}
}

/* Reset orphan <c> now: too many orphans, or too many of its source's. */
static void
tcp_orphan_kill(struct tcp_conn *c, enum stats_id why)
{
	if (c->state == TCP_ST_TIME_WAIT) {
		/* Nothing left in flight: ending it early costs nobody anything. */
		stats_inc(&c->ts->ctx->stats, STATS_TCP_TIME_WAIT_REAPED);
		tcp_conn_drop(c, 0);
		return;
	}
	stats_inc(&c->ts->ctx->stats, why);
	(void) tcp_send_ctl(c, RTE_TCP_RST_FLAG);
	tcp_conn_drop(c, -ECONNABORTED);
}

/*
 * Orphan <c> entered TIME-WAIT: it holds no buffer and goes within time_wait_ms, so it no
 * longer counts against its source (a busy sender closes thousands a second) but stays in
 * the FIFO, where the cap on orphans drops the oldest early (Linux bounds TIME-WAIT sockets
 * with tcp_max_tw_buckets the same way).
 */
static void
tcp_orphan_tw(struct tcp_conn *c)
{
	struct tcp_stack *ts = c->ts;
	struct tcp_src_ent *e;

	if (!(c->flags & TCP_F_SRC_COUNTED) || c->rcv_mem != 0)
		return;
	e = tcp_src_find(ts, c->raddr);
	if (e != NULL && e->orphans > 0 && (c->flags & TCP_F_ORPHAN_UNV))
		e->orphans--;
	c->flags &= ~(TCP_F_SRC_COUNTED | TCP_F_ORPHAN_UNV);
	tcp_src_dec(ts, c->raddr);
}

/*
 * <c> was just orphaned. A peer that never acknowledges keeps an orphan retransmitting, so
 * orphans are capped per source (the newest of a source over its cap is reset at once) and
 * in all (the oldest is reset to make room), as Linux's tcp_max_orphans bounds them.
 */
static void
tcp_orphan_add(struct tcp_conn *c)
{
	struct tcp_stack *ts = c->ts;
	struct tcp_src_ent *e = (c->flags & TCP_F_SRC_COUNTED) ? tcp_src_find(ts, c->raddr) : NULL;

	if (c->flags & TCP_F_OOO_LISTED)
		(void) tcp_ooo_purge(c); /* nobody will read it */
	c->flags |= TCP_F_ORPHAN_Q;
	tcp_clist_add(ts, &ts->orphan_q, c);
	if (e != NULL && (c->flags & TCP_F_PASSIVE) && !tcp_conn_peer_acked_data(c)) {
		c->flags |= TCP_F_ORPHAN_UNV;
		e->orphans++;
	}
	if (c->state == TCP_ST_TIME_WAIT)
		tcp_orphan_tw(c);
	while (ts->orphan_q.n > ts->orphan_max && ts->orphan_q.head != TCP_NIL)
		tcp_orphan_kill(&ts->conns[ts->orphan_q.head], STATS_TCP_ORPHAN_REAPED);
	stats_set(&ts->ctx->stats, STATS_TCP_ORPHANS, ts->orphan_q.n);
}

/*
 * Would closing <c> give its source more orphans than it may hold? Only peers that connected
 * to us and never acknowledged a byte we sent count (DESIGN §3: state made by an unverified
 * peer is the one to bound): a peer that refuses our ACKs keeps every orphan retransmitting,
 * while one that takes our data is flushing normally however many it has. Our own opens
 * (backends, the smarthost) are not an attacker's to multiply either.
 */
static bool
tcp_orphan_src_full(struct tcp_conn *c)
{
	const struct tcp_cfg *cfg = c->ts->cfg;
	const struct tcp_src_ent *e;

	if (cfg->max_orphans_per_src == 0 || !(c->flags & TCP_F_PASSIVE) ||
		!(c->flags & TCP_F_SRC_COUNTED) || tcp_conn_peer_acked_data(c))
		return false;
	e = tcp_src_find(c->ts, c->raddr);
	return e != NULL && e->orphans >= cfg->max_orphans_per_src;
}

/* <c> is going away: off whichever list holds it. */
static void
tcp_conn_unlist(struct tcp_conn *c)
{
	struct tcp_stack *ts = c->ts;

	if (c->flags & TCP_F_ORPHAN_Q) { /* counted by its source unless in TIME-WAIT */
		struct tcp_src_ent *e =
			(c->flags & TCP_F_SRC_COUNTED) ? tcp_src_find(ts, c->raddr) : NULL;

		if (e != NULL && e->orphans > 0 && (c->flags & TCP_F_ORPHAN_UNV))
			e->orphans--;
		tcp_clist_del(ts, &ts->orphan_q, c);
		c->flags &= ~(TCP_F_ORPHAN_Q | TCP_F_ORPHAN_UNV);
		stats_set(&ts->ctx->stats, STATS_TCP_ORPHANS, ts->orphan_q.n);
	}
	(void) tcp_ooo_purge(c);
	if (c->rcv_mem != 0) /* rcvq is purged by the caller: release what it held */
		tcp_rcv_mem_adjust(c, -(int32_t) c->rcv_mem);
}

struct tcp_stack *
tcp_stack_create(const struct tcp_cfg *cfg, struct lcore_ctx *ctx, struct rte_mempool *mp,
	uint16_t queue_id, uint16_t n_queues, int socket)
{
	struct tcp_stack *ts;
	uint32_t tbl_n = rte_align32pow2(cfg->max_conns * 2);
	uint32_t *slots;
	char name[RTE_RING_NAMESIZE];

	if (cfg->max_conns == 0 || cfg->max_conns >= TCP_NIL / 4)
		return NULL;
	ts = rte_zmalloc_socket("ndg_tcp", sizeof(*ts), RTE_CACHE_LINE_SIZE, socket);
	if (ts == NULL)
		return NULL;
	ts->cfg = cfg;
	ts->ctx = ctx;
	ts->mp = mp;
	ts->queue_id = queue_id;
	ts->n_queues = n_queues;
	ts->tsc_per_ms = rte_get_tsc_hz() / 1000;
	ts->tsc0 = rte_rdtsc();
	ts->now = 0;
	ts->eph_next =
		(uint16_t) (cfg->eph_lo + rte_rand_max((uint64_t) cfg->eph_hi - cfg->eph_lo + 1));
	ts->conns = rte_zmalloc_socket("ndg_tcp_conns", sizeof(*ts->conns) * cfg->max_conns,
		RTE_CACHE_LINE_SIZE, socket);
	ts->tbl = rte_malloc_socket("ndg_tcp_tbl", sizeof(*ts->tbl) * tbl_n, RTE_CACHE_LINE_SIZE,
		socket);
	ts->src = rte_zmalloc_socket("ndg_tcp_src", sizeof(*ts->src) * tbl_n, RTE_CACHE_LINE_SIZE,
		socket);
	slots = rte_malloc_socket("ndg_tcp_wheel", sizeof(*slots) * TCP_WHEEL_SLOTS,
		RTE_CACHE_LINE_SIZE, socket);
	snprintf(name, sizeof(name), "ndg_tcp_ho%u", ctx->lcore_id);
	ts->handoff = rte_ring_create(name, TCP_HANDOFF_RING, socket, RING_F_SC_DEQ);
	if (ts->conns == NULL || ts->tbl == NULL || ts->src == NULL || slots == NULL ||
		ts->handoff == NULL) {
		rte_free(slots);
		ts->wheel.slots = NULL;
		tcp_stack_free(ts);
		return NULL;
	}
	ts->tbl_mask = tbl_n - 1;
	ts->src_mask = tbl_n - 1;
	for (uint32_t i = 0; i < tbl_n; i++) {
		ts->tbl[i].idx = TCP_NIL;
		ts->tbl[i].hash = 0;
	}
	tcp_wheel_init(&ts->wheel, slots, TCP_WHEEL_SLOTS, ts->conns, sizeof(struct tcp_conn),
		offsetof(struct tcp_conn, tmr_link), 0);
	for (uint32_t i = 0; i < cfg->max_conns; i++) {
		tcp_wheel_elem_init(&ts->conns[i].tmr_link, i);
		ts->conns[i].tmr_link.next = i + 1 < cfg->max_conns ? i + 1 : TCP_NIL;
		ts->conns[i].ts = ts;
	}
	ts->free_head = 0;
	ts->reap_head = TCP_NIL;
	ts->ooo_list = (struct tcp_clist){TCP_NIL, TCP_NIL, 0};
	ts->orphan_q = (struct tcp_clist){TCP_NIL, TCP_NIL, 0};
	ts->chack_sec = UINT32_MAX;
	ts->orphan_max = cfg->max_orphans ? RTE_MIN(cfg->max_orphans, cfg->max_conns)
					  : RTE_MAX(cfg->max_conns / 4, 1u);
	tcp_stack_mem_limits(ts);
	return ts;
}

void
tcp_stack_link(struct tcp_stack *const *stacks, uint16_t n)
{
	for (uint16_t i = 0; i < n; i++)
		stacks[i]->peers = stacks;
}

void
tcp_stack_free(struct tcp_stack *ts)
{
	struct rte_mbuf *m;

	if (ts == NULL)
		return;
	if (ts->conns != NULL) {
		for (uint32_t i = 0; i < ts->cfg->max_conns; i++) {
			struct tcp_conn *c = &ts->conns[i];

			tcp_mq_purge(&c->sndq);
			tcp_mq_purge(&c->rcvq);
			while (c->ooo != NULL) {
				struct rte_mbuf *n = c->ooo->next;

				c->ooo->next = NULL;
				rte_pktmbuf_free_seg(c->ooo);
				c->ooo = n;
			}
		}
	}
	for (unsigned int i = 0; i < TCP_ARP_SLOTS; i++)
		for (unsigned int k = 0; k < ts->arp[i].n_pending; k++)
			rte_pktmbuf_free(ts->arp[i].pending[k]);
	if (ts->handoff != NULL) {
		while (rte_ring_dequeue(ts->handoff, (void **) &m) == 0)
			rte_pktmbuf_free(m);
		rte_ring_free(ts->handoff);
	}
	rte_free(ts->wheel.slots);
	rte_free(ts->src);
	rte_free(ts->tbl);
	rte_free(ts->conns);
	rte_free(ts);
}

void
tcp_stack_dump(const struct tcp_stack *ts, FILE *f, unsigned int max)
{
	unsigned int n = 0;

	for (uint32_t i = 0; i < ts->cfg->max_conns && n < max; i++) {
		const struct tcp_conn *c = &ts->conns[i];

		if (c->state == TCP_ST_CLOSED)
			continue;
		n++;
		fprintf(f,
			"tcp conn %u %u->%u %s flags %#x una %u nxt %u max %u sndq %u wnd %u cwnd "
			"%u "
			"ssthr %u rto %u nrx %u rcv_nxt %u adv %u rcvq %u ooo %u tmr %#x [%u %u %u "
			"%u] now %u armed %d\n",
			i, rte_be_to_cpu_16(c->rport), rte_be_to_cpu_16(c->lport),
			tcp_strstate(c->state), c->flags, c->snd_una - c->iss, c->snd_nxt - c->iss,
			c->snd_max - c->iss, c->sndq.bytes, c->snd_wnd, c->cwnd, c->ssthresh,
			c->rto, c->n_rxmt, c->rcv_nxt - c->irs, c->rcv_adv - c->irs, c->rcvq.bytes,
			c->n_ooo, c->tmr_on, c->tmr[0], c->tmr[1], c->tmr[2], c->tmr[3], ts->now,
			tcp_wheel_armed(&ts->wheel, i));
	}
}

static void
tcp_stack_reap(struct tcp_stack *ts)
{
	while (ts->reap_head != TCP_NIL) {
		uint32_t idx = ts->reap_head;
		struct tcp_conn *c = &ts->conns[idx];

		ts->reap_head = c->tmr_link.next;
		memset(c, 0, offsetof(struct tcp_conn, ts));
		tcp_wheel_elem_init(&c->tmr_link, idx);
		c->tmr_link.next = ts->free_head;
		ts->free_head = idx;
	}
}

/* Look at the pool once a millisecond: rte_mempool_avail_count() walks every lcore cache. */
static void
tcp_stack_mem_check(struct tcp_stack *ts)
{
	unsigned int size = ts->mp->size;
	unsigned int avail = rte_mempool_avail_count(ts->mp);
	uint8_t level =
		avail < size / 8 ? TCP_MEM_CRITICAL : (avail < size / 4 ? TCP_MEM_LOW : TCP_MEM_OK);

	if (level > ts->mem_level) {
		stats_inc(&ts->ctx->stats, STATS_TCP_MEM_PRESSURE);
		ts->ooo_prune_all = true; /* out-of-order data goes first */
	}
	ts->mem_level = level;
	ts->mem_check = ts->now;
}

void
tcp_nobuf_wait(struct tcp_conn *c)
{
	struct tcp_stack *ts = c->ts;

	if ((c->flags & TCP_F_NOBUF_WAIT) || ts->nobuf_tail - ts->nobuf_head >= TCP_NOBUF_WAIT)
		return;
	c->flags |= TCP_F_NOBUF_WAIT;
	ts->nobuf[ts->nobuf_tail++ & (TCP_NOBUF_WAIT - 1)] = (uint32_t) (c - ts->conns);
}

/* Writers that found no buffer get writable() again once the pool recovered. */
static void
tcp_stack_nobuf_wake(struct tcp_stack *ts)
{
	for (unsigned int n = 0; n < 64 && ts->nobuf_head != ts->nobuf_tail; n++) {
		struct tcp_conn *c = &ts->conns[ts->nobuf[ts->nobuf_head++ & (TCP_NOBUF_WAIT - 1)]];

		if (!(c->flags & TCP_F_NOBUF_WAIT))
			continue;
		c->flags &= ~TCP_F_NOBUF_WAIT;
		if (c->state == TCP_ST_CLOSED || (c->flags & TCP_F_ORPHAN) || c->app == NULL ||
			c->app->writable == NULL)
			continue;
		c->flags &= ~TCP_F_WANT_SEND;
		c->app->writable(c);
		if (c->state != TCP_ST_CLOSED)
			tcp_output(c);
	}
}

unsigned int
tcp_stack_poll(struct tcp_stack *ts)
{
	uint32_t before = ts->now;

	tcp_timers_run(ts);
	if (ts->now != ts->mem_check)
		tcp_stack_mem_check(ts);
	if (ts->nobuf_head != ts->nobuf_tail && ts->mem_level < TCP_MEM_CRITICAL)
		tcp_stack_nobuf_wake(ts);
	if (ts->now / 100 != before / 100)
		tcp_arp_timers(ts);
	if (ts->ooo_list.head != TCP_NIL && (ts->ooo_prune_all || ts->now - ts->ooo_sweep >= 1000))
		tcp_ooo_sweep(ts);
	/* Cookies are checked only while some may be outstanding: an explicit state, since a
	 * millisecond clock compared with a deadline wraps every 49.7 days. */
	if (ts->cookies_used && ts->now - ts->cookie_last > TCP_COOKIE_LIFE_MS)
		ts->cookies_used = false;
	tcp_stack_reap(ts);
	return 0;
}

int
tcp_listen(struct tcp_stack *ts, uint16_t port, const struct tcp_app *app, void *udata)
{
	uint16_t pbe = rte_cpu_to_be_16(port);
	struct tcp_listener *free = NULL;

	if (port == 0)
		return -EINVAL;
	for (unsigned int i = 0; i < TCP_MAX_LISTENERS; i++) {
		if (ts->listeners[i].port == pbe)
			return -EADDRINUSE;
		if (free == NULL && ts->listeners[i].port == 0)
			free = &ts->listeners[i];
	}
	if (free == NULL)
		return -ENOSPC;
	free->app = app;
	free->udata = udata;
	free->port = pbe;
	return 0;
}

/* ---- connection lifecycle ---- */

struct tcp_conn *
tcp_conn_alloc(struct tcp_stack *ts, uint32_t laddr, uint32_t raddr, uint16_t lport, uint16_t rport)
{
	struct tcp_conn *c;

	if (ts->free_head == TCP_NIL) {
		stats_inc(&ts->ctx->stats, STATS_TCP_CONN_POOL_EMPTY);
		return NULL;
	}
	c = &ts->conns[ts->free_head];
	c->laddr = laddr;
	c->raddr = raddr;
	c->lport = lport;
	c->rport = rport;
	if (tcp_tbl_insert(ts, c) != 0)
		return NULL;
	ts->free_head = c->tmr_link.next;
	c->tmr_link.next = TCP_NIL;
	if (tcp_src_inc(ts, raddr) == 0)
		c->flags |= TCP_F_SRC_COUNTED;
	ts->n_active++;
	stats_set(&ts->ctx->stats, STATS_TCP_CONN_ACTIVE, ts->n_active);
	stats_inc(&ts->ctx->stats, STATS_TCP_CONN_OPENED);
	return c;
}

void
tcp_conn_init_seq(struct tcp_conn *c, uint32_t iss)
{
	const struct tcp_cfg *cfg = c->ts->cfg;

	c->iss = iss;
	c->snd_una = iss;
	c->snd_nxt = iss;
	c->snd_max = iss;
	c->recover = iss; /* RFC 6582 §3.2 (1): nothing sent yet to recover */
	c->snd_wl1 = 0;
	c->snd_wl2 = iss;
	c->rto = cfg->rto_init_ms;
	/* RFC 6928 initial window of ten segments; ssthresh "arbitrarily high" (RFC 5681). */
	c->cwnd = 10u * c->mss;
	c->ssthresh = UINT32_MAX / 2;
}

void
tcp_conn_set_state(struct tcp_conn *c, enum tcp_state st)
{
	struct tcp_stack *ts = c->ts;

	RTE_LOG_DP(DEBUG, USER1, "tcp: %u %s -> %s\n", (unsigned int) (c - ts->conns),
		tcp_strstate(c->state), tcp_strstate(st));
	if (st == TCP_ST_SYN_RCVD && !(c->flags & TCP_F_HALF_OPEN)) {
		c->flags |= TCP_F_HALF_OPEN;
		ts->n_half_open++;
	} else if (st != TCP_ST_SYN_RCVD && (c->flags & TCP_F_HALF_OPEN)) {
		c->flags &= ~TCP_F_HALF_OPEN;
		ts->n_half_open--;
	}
	if (st == TCP_ST_ESTABLISHED && c->state != TCP_ST_ESTABLISHED)
		stats_inc(&ts->ctx->stats, (c->flags & TCP_F_PASSIVE) ? STATS_TCP_PASSIVE_OPEN
								      : STATS_TCP_ACTIVE_OPEN);
	c->state = st;
	switch (st) {
	case TCP_ST_TIME_WAIT:
		/* Nothing more to send or receive: keep only the tuple for a short while. */
		tcp_mq_purge(&c->sndq);
		tcp_tmr_clear(c, TCP_TMR_RXMT);
		tcp_tmr_clear(c, TCP_TMR_DELACK);
		tcp_tmr_set(c, TCP_TMR_CONN, ts->cfg->time_wait_ms);
		stats_inc(&ts->ctx->stats, STATS_TCP_TIME_WAIT);
		if (c->flags & TCP_F_ORPHAN_Q)
			tcp_orphan_tw(c);
		break;
	case TCP_ST_FIN_WAIT_2:
		if (c->flags & TCP_F_ORPHAN)
			tcp_tmr_set(c, TCP_TMR_CONN, ts->cfg->fin_wait2_ms);
		break;
	default:
		break;
	}
}

void
tcp_conn_drop(struct tcp_conn *c, int err)
{
	struct tcp_stack *ts = c->ts;
	const struct tcp_app *app = c->app;
	bool tell = !(c->flags & TCP_F_ORPHAN) && app != NULL;
	bool was_connecting = c->state == TCP_ST_SYN_SENT;
	bool notified = c->flags & TCP_F_NOTIFIED;
	uint32_t idx = (uint32_t) (c - ts->conns);

	if (c->state == TCP_ST_CLOSED)
		return;
	tcp_conn_set_state(c, TCP_ST_CLOSED);
	c->tmr_on = 0;
	tcp_wheel_cancel(&ts->wheel, idx);
	tcp_tbl_remove(ts, c);
	tcp_conn_unlist(c); /* before the source entry can go */
	if (c->flags & TCP_F_SRC_COUNTED)
		tcp_src_dec(ts, c->raddr);
	tcp_mq_purge(&c->sndq);
	tcp_mq_purge(&c->rcvq);
	ts->n_active--;
	stats_set(&ts->ctx->stats, STATS_TCP_CONN_ACTIVE, ts->n_active);
	stats_inc(&ts->ctx->stats, err == 0 ? STATS_TCP_CONN_CLOSED : STATS_TCP_CONN_ABORTED);
	c->flags = (c->flags & TCP_F_PASSIVE) | TCP_F_REAP | TCP_F_ORPHAN;
	/* The memory stays valid until the loop reaps it: callers up the stack may look. */
	c->tmr_link.next = ts->reap_head;
	ts->reap_head = idx;
	if (tell) {
		if (was_connecting && app->connected != NULL)
			app->connected(c, err ? err : -ECONNABORTED);
		else if (notified && app->closed != NULL)
			app->closed(c, err);
	}
}

int
tcp_conn_notify_open(struct tcp_conn *c)
{
	const struct tcp_app *app = c->app;
	int ret = 0;

	c->flags |= TCP_F_NOTIFIED;
	if (app == NULL)
		return 0;
	if (c->flags & TCP_F_PASSIVE) {
		if (app->accepted != NULL)
			ret = app->accepted(c);
		if (ret < 0 && c->state != TCP_ST_CLOSED) {
			c->flags |= TCP_F_ORPHAN;
			tcp_send_ctl(c, RTE_TCP_RST_FLAG);
			tcp_conn_drop(c, -ECONNREFUSED);
		}
	} else if (app->connected != NULL) {
		app->connected(c, 0);
	}
	return ret;
}

void
tcp_conn_timeout(struct tcp_conn *c, enum tcp_tmr k)
{
	switch (k) {
	case TCP_TMR_RXMT:
		tcp_rxmt_timeout(c);
		break;
	case TCP_TMR_DELACK:
		c->flags |= TCP_F_ACK_NOW;
		tcp_output(c);
		break;
	case TCP_TMR_CONN:
		if (c->state == TCP_ST_TIME_WAIT) {
			tcp_conn_drop(c, 0);
		} else if (c->state == TCP_ST_FIN_WAIT_2) {
			tcp_conn_drop(c, 0);
		} else if (c->state == TCP_ST_SYN_SENT) {
			tcp_conn_drop(c, -ETIMEDOUT);
		} else if ((c->tmr_on & (1u << TCP_TMR_RXMT)) && !(c->flags & TCP_F_PERSIST) &&
			   c->n_rxmt < tcp_rxmt_limit(c)) {
			/* An orphan in loss recovery: the retransmission limit decides whether
			 * the peer is gone (backoff can leave minutes between attempts behind
			 * heavy loss); the lifetime bounds only peers that keep the window shut. */
			tcp_tmr_set(c, TCP_TMR_CONN, c->ts->cfg->orphan_ms);
		} else {
			/* An orphan that could not flush in time. */
			tcp_send_ctl(c, RTE_TCP_RST_FLAG);
			tcp_conn_drop(c, -ETIMEDOUT);
		}
		break;
	case TCP_TMR_APP:
		if (!(c->flags & TCP_F_ORPHAN) && c->app != NULL && c->app->timer != NULL) {
			c->app->timer(c);
			if (c->state != TCP_ST_CLOSED)
				tcp_output(c);
		}
		break;
	default:
		break;
	}
}

/* ---- application interface ---- */

struct tcp_port_probe {
	struct tcp_stack *ts;
	uint32_t laddr;
	uint32_t raddr;
	uint16_t rport;
};

static bool
tcp_port_is_free(void *arg, uint16_t port_be)
{
	struct tcp_port_probe *p = arg;

	return tcp_tbl_lookup(p->ts, p->laddr, p->raddr, port_be, p->rport) == NULL;
}

int
tcp_conn_connect(struct tcp_stack *ts, uint16_t port_id, uint32_t raddr, uint16_t rport,
	const struct tcp_app *app, void *udata, struct tcp_conn **out)
{
	const struct net_if *nif = port_id < RTE_MAX_ETHPORTS ? ts->ctx->nif[port_id] : NULL;
	const struct tcp_cfg *cfg = ts->cfg;
	struct tcp_port_probe probe;
	struct tcp_conn *c;
	uint16_t lport;
	uint32_t laddr = 0;

	if (nif == NULL || nif->n_addrs == 0)
		return -ENETUNREACH;
	/* The source address on the destination's subnet, else the port's first. */
	laddr = nif->addrs[0].ip;
	for (unsigned int i = 0; i < nif->n_addrs; i++) {
		uint32_t mask =
			nif->addrs[i].plen ? rte_cpu_to_be_32(~0u << (32 - nif->addrs[i].plen)) : 0;

		if (((nif->addrs[i].ip ^ raddr) & mask) == 0) {
			laddr = nif->addrs[i].ip;
			break;
		}
		if (i + 1 == nif->n_addrs && nif->gateway == 0)
			return -ENETUNREACH;
	}
	if (ts->free_head == TCP_NIL)
		return -ENOMEM;
	probe.ts = ts;
	probe.laddr = laddr;
	probe.raddr = raddr;
	probe.rport = rport;
	lport = tcp_port_choose(nif, ts->queue_id, ts->n_queues, laddr, raddr, rport, cfg->eph_lo,
		cfg->eph_hi, &ts->eph_next, tcp_port_is_free, &probe);
	if (lport == 0)
		return -EADDRNOTAVAIL;
	c = tcp_conn_alloc(ts, laddr, raddr, lport, rport);
	if (c == NULL)
		return -ENOMEM;
	c->port_id = port_id;
	c->app = app;
	c->udata = udata;
	c->mss = cfg->mss;
	c->rcv_ws = tcp_rcv_wscale(cfg);
	c->flags |= TCP_F_WS_OK; /* provisional: cleared when the SYN-ACK has no option */
	if (cfg->sack)
		c->flags |= TCP_F_SACK_OK; /* the same */
	tcp_conn_init_seq(c,
		tcp_isn(cfg->secret, laddr, raddr, lport, rport, (uint64_t) ts->now * 1000));
	c->state = TCP_ST_SYN_SENT;
	c->rtt_ts = ts->now;
	if (tcp_send_ctl(c, RTE_TCP_SYN_FLAG) != 0) {
		c->flags |= TCP_F_ORPHAN;
		tcp_conn_drop(c, -ENOBUFS);
		return -ENOBUFS;
	}
	c->snd_nxt = c->iss + 1;
	c->snd_max = c->snd_nxt;
	tcp_tmr_set(c, TCP_TMR_RXMT, c->rto);
	tcp_tmr_set(c, TCP_TMR_CONN, cfg->connect_ms);
	*out = c;
	return 0;
}

void
tcp_conn_rx_consume(struct tcp_conn *c, uint32_t n)
{
	struct tcp_mq *q = &c->rcvq;
	uint32_t before = c->rcv_adv - c->rcv_nxt;
	uint32_t now_wnd, freed = 0;

	n = RTE_MIN(n, q->bytes);
	q->bytes -= n;
	while (q->head != NULL && (n > 0 || q->head->data_len == 0)) {
		struct rte_mbuf *m = q->head;

		if (m->data_len > n) {
			rte_pktmbuf_adj(m, (uint16_t) n);
			break;
		}
		n -= m->data_len;
		q->head = m->next;
		m->next = NULL;
		m->nb_segs = 1;
		freed += tcp_truesize(m);
		rte_pktmbuf_free_seg(m);
	}
	if (q->head == NULL)
		q->tail = NULL;
	if (freed != 0)
		tcp_rcv_mem_adjust(c, -(int32_t) freed);
	/* Window update when it grew by two segments or half the buffer (RFC 9293 §3.8.6.2.2). */
	now_wnd = tcp_rcv_window(c);
	if (now_wnd > before &&
		now_wnd - before >= RTE_MIN(2u * c->ts->cfg->mss, c->ts->cfg->rcvbuf / 2))
		c->flags |= TCP_F_ACK_NOW;
}

uint32_t
tcp_conn_tx_space(const struct tcp_conn *c)
{
	uint32_t buf = c->ts->cfg->sndbuf;

	return c->sndq.bytes < buf ? buf - c->sndq.bytes : 0;
}

int
tcp_conn_write(struct tcp_conn *c, const void *buf, uint32_t len)
{
	struct tcp_mq *q = &c->sndq;
	const uint8_t *p = buf;
	uint32_t take, done = 0;

	switch (c->state) {
	case TCP_ST_ESTABLISHED:
	case TCP_ST_CLOSE_WAIT:
		break;
	case TCP_ST_SYN_SENT:
	case TCP_ST_SYN_RCVD:
		return -ENOTCONN;
	default:
		return -EPIPE;
	}
	if (c->flags & (TCP_F_FIN_PENDING | TCP_F_ORPHAN))
		return -EPIPE;
	take = RTE_MIN(len, tcp_conn_tx_space(c));
	while (done < take) {
		struct rte_mbuf *t = q->tail;
		uint32_t room = t != NULL ? rte_pktmbuf_tailroom(t) : 0;
		uint32_t n;

		if (room == 0) {
			/* The last eighth of the pool is for rx and headers (tcp_stack_mem_check). */
			t = c->ts->mem_level < TCP_MEM_CRITICAL ? rte_pktmbuf_alloc(c->ts->mp)
								: NULL;
			if (t == NULL && q->head == NULL && c->ts->mp_rsv != NULL) {
				/* A quiet connection's reply (a 421, a 250) still goes: one
				 * reserve buffer each, back when the peer acknowledges it. */
				t = rte_pktmbuf_alloc(c->ts->mp_rsv);
				if (t != NULL)
					stats_inc(&c->ts->ctx->stats, STATS_TCP_RSV_ALLOC);
			}
			if (t == NULL) {
				stats_inc(&c->ts->ctx->stats, STATS_TCP_NOMBUF);
				tcp_nobuf_wait(c);
				break;
			}
			if (q->tail != NULL)
				q->tail->next = t;
			else
				q->head = t;
			q->tail = t;
			room = rte_pktmbuf_tailroom(t);
		}
		n = RTE_MIN(room, take - done);
		memcpy(rte_pktmbuf_append(t, (uint16_t) n), p + done, n);
		done += n;
		q->bytes += n;
	}
	if (done < len)
		c->flags |= TCP_F_WANT_SEND;
	stats_add(&c->ts->ctx->stats, STATS_TCP_BYTES_TX, done);
	if (done == 0 && len > 0 && take > 0)
		return (c->flags & TCP_F_NOBUF_WAIT) ? 0 : -ENOBUFS;
	return (int) done;
}

void
tcp_conn_want_writable(struct tcp_conn *c)
{
	c->flags |= TCP_F_WANT_SEND;
}

int
tcp_conn_flush(struct tcp_conn *c)
{
	tcp_output(c);
	return 0;
}

int
tcp_conn_shutdown(struct tcp_conn *c)
{
	switch (c->state) {
	case TCP_ST_ESTABLISHED:
		tcp_conn_set_state(c, TCP_ST_FIN_WAIT_1);
		break;
	case TCP_ST_CLOSE_WAIT:
		tcp_conn_set_state(c, TCP_ST_LAST_ACK);
		break;
	case TCP_ST_SYN_SENT:
	case TCP_ST_SYN_RCVD:
		return -ENOTCONN;
	default:
		return 0; /* already shut down */
	}
	c->flags |= TCP_F_FIN_PENDING;
	tcp_output(c);
	return 0;
}

void
tcp_conn_close(struct tcp_conn *c)
{
	if (c->state == TCP_ST_CLOSED)
		return;
	if (c->rcvq.bytes > 0 || c->state == TCP_ST_SYN_SENT || c->state == TCP_ST_SYN_RCVD) {
		/* RFC 9293 §3.10.4 / RFC 2525 §2.17: unread data means the peer must know. */
		tcp_conn_abort(c);
		return;
	}
	if (tcp_orphan_src_full(c)) {
		/* Its source already holds its share of orphans: reset, keep nothing. */
		stats_inc(&c->ts->ctx->stats, STATS_TCP_ORPHAN_SRC_LIMIT);
		tcp_conn_abort(c);
		return;
	}
	c->flags |= TCP_F_ORPHAN;
	c->app = NULL;
	tcp_tmr_clear(c, TCP_TMR_APP);
	(void) tcp_conn_shutdown(c);
	if (c->state == TCP_ST_CLOSED)
		return;
	if (c->state != TCP_ST_TIME_WAIT && !(c->tmr_on & (1u << TCP_TMR_CONN)))
		tcp_tmr_set(c, TCP_TMR_CONN, c->ts->cfg->orphan_ms);
	tcp_orphan_add(c);
}

void
tcp_conn_abort(struct tcp_conn *c)
{
	if (c->state == TCP_ST_CLOSED)
		return;
	c->flags |= TCP_F_ORPHAN;
	if (c->state != TCP_ST_SYN_SENT && c->state != TCP_ST_TIME_WAIT)
		(void) tcp_send_ctl(c, RTE_TCP_RST_FLAG);
	tcp_conn_drop(c, -ECONNABORTED);
}

void
tcp_conn_timer_set(struct tcp_conn *c, uint32_t ms)
{
	if (ms == 0)
		tcp_tmr_clear(c, TCP_TMR_APP);
	else
		tcp_tmr_set(c, TCP_TMR_APP, ms);
}

struct tcp_stack *
tcp_conn_stack(const struct tcp_conn *c)
{
	return c->ts;
}
