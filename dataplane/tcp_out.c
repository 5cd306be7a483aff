/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * TCP output: segment construction (headers, options, software checksums), what to send
 * when (windows, congestion window, FIN, delayed and immediate ACKs, zero-window probes),
 * retransmission on timeout (RFC 6298 with backoff, RFC 5681 loss window), connectionless
 * RST and SYN-cookie SYN-ACK, and next-hop ARP resolution with a pending queue.
 * Owner lcore of the stack only.
 */
#include <errno.h>
#include <string.h>

#include <rte_arp.h>
#include <rte_byteorder.h>
#include <rte_common.h>
#include <rte_ethdev.h>
#include <rte_ether.h>
#include <rte_ip.h>
#include <rte_mbuf.h>
#include <rte_random.h>
#include <rte_tcp.h>

#include "lcore.h"
#include "net.h"
#include "stats.h"
#include "tcp.h"
#include "ndg_common.h"

#define TCP_HDRS_LEN	 (sizeof(struct rte_ether_hdr) + sizeof(struct rte_ipv4_hdr))
#define TCP_SYN_OPT_LEN	 8 /* MSS (4) + NOP + window scale (3) */
#define TCP_ARP_TTL_MS	 300000
#define TCP_ARP_RETRY_MS 1000
#define TCP_ARP_TRIES	 3

static inline struct stats_lcore *
tcp_st(struct tcp_stack *ts)
{
	return &ts->ctx->stats;
}

void
tcp_xmit(struct tcp_stack *ts, uint16_t port_id, struct rte_mbuf *m)
{
	lcore_tx(ts->ctx, port_id, m);
}

void
tcp_mq_purge(struct tcp_mq *q)
{
	struct rte_mbuf *m = q->head;

	while (m != NULL) {
		struct rte_mbuf *n = m->next;

		m->next = NULL;
		m->nb_segs = 1;
		rte_pktmbuf_free_seg(m);
		m = n;
	}
	q->head = q->tail = NULL;
	q->bytes = 0;
}

void
tcp_sndq_ack(struct tcp_conn *c, uint32_t acked)
{
	struct tcp_mq *q = &c->sndq;

	RTE_VERIFY(acked <= q->bytes);
	q->bytes -= acked;
	while (acked > 0) {
		struct rte_mbuf *m = q->head;

		if (m->data_len > acked) {
			rte_pktmbuf_adj(m, (uint16_t) acked);
			break;
		}
		acked -= m->data_len;
		q->head = m->next;
		m->next = NULL;
		m->nb_segs = 1;
		rte_pktmbuf_free_seg(m);
	}
	if (q->head == NULL)
		q->tail = NULL;
	/* A tail emptied by adj stays: writes append to its tailroom. */
}

uint32_t
tcp_rcv_window(const struct tcp_conn *c)
{
	const struct tcp_stack *ts = c->ts;
	const struct tcp_cfg *cfg = ts->cfg;
	uint32_t space = c->rcvq.bytes < cfg->rcvbuf ? cfg->rcvbuf - c->rcvq.bytes : 0;
	uint32_t mem = c->rcv_mem < ts->rcv_mem_max ? (ts->rcv_mem_max - c->rcv_mem) / 2 : 0;
	uint32_t adv = tcp_seq_gt(c->rcv_adv, c->rcv_nxt) ? c->rcv_adv - c->rcv_nxt : 0;
	uint32_t max = (uint32_t) 65535 << c->rcv_ws;

	/* The window follows the buffers the queue pins (truesize), not only its bytes: half of
	 * the memory left, so even segments that waste half their buffer cannot overrun the
	 * cap. Short of buffers, windows stop growing past four segments (Linux clamps
	 * rcv_ssthresh under memory pressure the same way). */
	space = RTE_MIN(space, mem);
	if (ts->mem_level != TCP_MEM_OK)
		space = RTE_MIN(space, 4u * cfg->mss);

	/* Receiver-side silly window avoidance (RFC 9293 §3.8.6.2.2). */
	if (space < cfg->rcvbuf / 4 && space < cfg->mss)
		space = 0;
	space &= ~((1u << c->rcv_ws) - 1);
	/* Never move the right edge left (RFC 9293 §3.8.6.2.2, shrinking the window), not
	 * even by the rounding of the scaled field. */
	if (space < adv)
		space = RTE_ALIGN_CEIL(adv, 1u << c->rcv_ws);
	return space > max ? max : space;
}

/* Headers for a segment of <optlen> option and <paylen> payload bytes; NULL: no mbuf. */
static struct rte_mbuf *
tcp_pkt_build(struct tcp_stack *ts, const struct net_if *nif, const struct rte_ether_addr *dmac,
	uint32_t laddr, uint32_t raddr, uint16_t lport, uint16_t rport, uint32_t seq, uint32_t ack,
	uint8_t flags, uint16_t wnd, const uint8_t *opt, uint16_t optlen, uint32_t paylen,
	struct rte_tcp_hdr **thp)
{
	struct rte_mbuf *m = ts->mem_level < TCP_MEM_CRITICAL ? rte_pktmbuf_alloc(ts->mp) : NULL;
	uint16_t l4len = (uint16_t) (sizeof(struct rte_tcp_hdr) + optlen);
	struct rte_ether_hdr *eh;
	struct rte_ipv4_hdr *ip;
	struct rte_tcp_hdr *th;
	char *p;

	if (unlikely(m == NULL) && ts->mp_rsv != NULL) {
		/* The pool's last eighth went to rx: our headers and replies still go out, from
		 * a reserve nobody's receive queue can hold (the PMD frees it once sent). */
		m = rte_pktmbuf_alloc(ts->mp_rsv);
		if (m != NULL)
			stats_inc(tcp_st(ts), STATS_TCP_RSV_ALLOC);
	}
	if (unlikely(m == NULL)) {
		stats_inc(tcp_st(ts), STATS_TCP_NOMBUF);
		return NULL;
	}
	p = rte_pktmbuf_append(m, (uint16_t) (TCP_HDRS_LEN + l4len + paylen));
	if (unlikely(p == NULL)) {
		rte_pktmbuf_free(m);
		stats_inc(tcp_st(ts), STATS_TCP_NOMBUF);
		return NULL;
	}
	eh = (struct rte_ether_hdr *) p;
	eh->dst_addr = *dmac;
	eh->src_addr = nif->mac;
	eh->ether_type = RTE_BE16(RTE_ETHER_TYPE_IPV4);
	ip = (struct rte_ipv4_hdr *) (eh + 1);
	ip->version_ihl = RTE_IPV4_VHL_DEF;
	ip->type_of_service = 0;
	ip->total_length = rte_cpu_to_be_16((uint16_t) (sizeof(*ip) + l4len + paylen));
	ip->packet_id = 0;
	/* DF: path MTU discovery (RFC 1191); frag-needed comes back as ICMP. */
	ip->fragment_offset = RTE_BE16(RTE_IPV4_HDR_DF_FLAG);
	ip->time_to_live = NET_IP_TTL;
	ip->next_proto_id = IPPROTO_TCP;
	ip->src_addr = laddr;
	ip->dst_addr = raddr;
	th = (struct rte_tcp_hdr *) (ip + 1);
	th->src_port = lport;
	th->dst_port = rport;
	th->sent_seq = rte_cpu_to_be_32(seq);
	th->recv_ack = rte_cpu_to_be_32(ack);
	th->data_off = (uint8_t) ((l4len / 4) << 4);
	th->tcp_flags = flags;
	th->rx_win = rte_cpu_to_be_16(wnd);
	th->cksum = 0;
	th->tcp_urp = 0;
	if (optlen)
		memcpy(th + 1, opt, optlen);
	*thp = th;
	return m;
}

/* Checksums of a built segment, then out it goes (through ARP when <dmac> is unknown). */
static void
tcp_pkt_send(struct tcp_stack *ts, const struct net_if *nif, struct rte_mbuf *m, uint32_t nexthop)
{
	struct rte_ipv4_hdr *ip =
		rte_pktmbuf_mtod_offset(m, struct rte_ipv4_hdr *, sizeof(struct rte_ether_hdr));
	struct rte_tcp_hdr *th = (struct rte_tcp_hdr *) (ip + 1);

	th->cksum = rte_ipv4_udptcp_cksum(ip, th);
	net_ipv4_tx_cksum(nif, m, sizeof(struct rte_ether_hdr));
	stats_inc(tcp_st(ts), STATS_TCP_SEG_TX);
	if (nexthop != 0)
		tcp_arp_xmit(ts, nif->port_id, nexthop, m);
	else
		tcp_xmit(ts, nif->port_id, m);
}

static inline const struct net_if *
tcp_conn_nif(const struct tcp_conn *c)
{
	return c->ts->ctx->nif[c->port_id];
}

/* Next hop of <raddr> on <nif>: itself when on a connected subnet, else the gateway. */
static uint32_t
tcp_nexthop(const struct net_if *nif, uint32_t raddr)
{
	for (unsigned int i = 0; i < nif->n_addrs; i++) {
		uint32_t mask =
			nif->addrs[i].plen ? rte_cpu_to_be_32(~0u << (32 - nif->addrs[i].plen)) : 0;

		if (((nif->addrs[i].ip ^ raddr) & mask) == 0)
			return raddr;
	}
	return nif->gateway;
}

/* Copy <len> bytes at offset <off> of the send queue to <dst>. */
static void
tcp_sndq_copy(const struct tcp_mq *q, uint32_t off, uint32_t len, uint8_t *dst)
{
	const struct rte_mbuf *m = q->head;

	while (m != NULL && off >= m->data_len) {
		off -= m->data_len;
		m = m->next;
	}
	while (len > 0 && m != NULL) {
		uint32_t n = RTE_MIN(len, (uint32_t) m->data_len - off);

		memcpy(dst, rte_pktmbuf_mtod_offset(m, const uint8_t *, off), n);
		dst += n;
		len -= n;
		off = 0;
		m = m->next;
	}
}

/*
 * Send one segment of <c>: <len> bytes from sequence <seq> (which must be in the send queue)
 * and <flags>; ACK is added in every synchronised state.
 */
static int
tcp_send_seg(struct tcp_conn *c, uint32_t seq, uint32_t len, uint8_t flags)
{
	struct tcp_stack *ts = c->ts;
	const struct net_if *nif = tcp_conn_nif(c);
	uint8_t opt[40];
	uint16_t optlen = 0;
	struct rte_tcp_hdr *th;
	struct rte_mbuf *m;
	uint32_t wnd;
	uint16_t wfield;
	uint32_t nexthop = 0;

	if (flags & RTE_TCP_SYN_FLAG) {
		uint16_t mss = rte_cpu_to_be_16(ts->cfg->mss);

		opt[0] = 2; /* MSS, RFC 9293 §3.2 */
		opt[1] = 4;
		memcpy(&opt[2], &mss, 2);
		opt[4] = 1; /* NOP */
		opt[5] = 3; /* window scale, RFC 7323 §2.2 */
		opt[6] = 3;
		opt[7] = c->rcv_ws;
		optlen = 8;
		/* A SYN-ACK offers scaling only when the SYN did. */
		if ((flags & RTE_TCP_ACK_FLAG) && !(c->flags & TCP_F_WS_OK))
			optlen = 4;
		if (c->flags & TCP_F_SACK_OK) { /* NOP, NOP, SACK-permitted (RFC 2018 §2) */
			opt[optlen] = 1;
			opt[optlen + 1] = 1;
			opt[optlen + 2] = 4;
			opt[optlen + 3] = 2;
			optlen += 4;
		}
	} else if (!(flags & RTE_TCP_RST_FLAG) && c->state != TCP_ST_SYN_SENT) {
		optlen = tcp_sack_fill(c, opt);
		if (optlen)
			stats_inc(tcp_st(ts), STATS_TCP_SACK_TX);
	}
	if (c->state != TCP_ST_SYN_SENT)
		flags |= RTE_TCP_ACK_FLAG;
	wnd = tcp_rcv_window(c);
	/* RFC 7323 §2.2: the window in a SYN or SYN-ACK is never scaled. */
	if (flags & RTE_TCP_SYN_FLAG)
		wfield = (uint16_t) RTE_MIN(wnd, 65535u);
	else
		wfield = (uint16_t) (wnd >> c->rcv_ws);
	if (rte_is_zero_ether_addr(&c->rmac))
		nexthop = tcp_nexthop(nif, c->raddr);
	m = tcp_pkt_build(ts, nif, &c->rmac, c->laddr, c->raddr, c->lport, c->rport, seq,
		(flags & RTE_TCP_ACK_FLAG) ? c->rcv_nxt : 0, flags, wfield, opt, optlen, len, &th);
	if (m == NULL)
		return -ENOBUFS;
	if (len)
		tcp_sndq_copy(&c->sndq, seq - c->snd_una, len,
			(uint8_t *) th + sizeof(*th) + optlen);
	if (flags & RTE_TCP_ACK_FLAG) {
		c->last_ack = c->rcv_nxt;
		if (!(flags & RTE_TCP_SYN_FLAG))
			c->rcv_adv = c->rcv_nxt + ((uint32_t) wfield << c->rcv_ws);
		else
			c->rcv_adv = c->rcv_nxt + wfield;
		c->flags &= ~TCP_F_ACK_NOW;
		if (c->tmr_on & (1u << TCP_TMR_DELACK))
			tcp_tmr_clear(c, TCP_TMR_DELACK);
	}
	tcp_pkt_send(ts, nif, m, nexthop);
	return 0;
}

int
tcp_send_ctl(struct tcp_conn *c, uint8_t flags)
{
	uint32_t seq = c->snd_nxt;

	if (flags & RTE_TCP_SYN_FLAG)
		seq = c->iss;
	else if (flags & RTE_TCP_RST_FLAG)
		seq = c->snd_max;
	return tcp_send_seg(c, seq, 0, flags);
}

/*
 * One ACK to an invalid segment per connection per invalid_ratelimit_ms (Linux's
 * tcp_invalid_ratelimit): a peer, or a spoofer, cannot turn us into a 1:1 reflector, and two
 * stacks cannot ACK each other's out-of-window ACKs forever (an ACK storm).
 * @return true when this one may go.
 */
static bool
tcp_oow_ack_may(struct tcp_conn *c)
{
	struct tcp_stack *ts = c->ts;

	if (c->last_oow_ack != 0 && ts->now - c->last_oow_ack < ts->cfg->invalid_ratelimit_ms) {
		stats_inc(tcp_st(ts), STATS_TCP_OOW_ACK_LIMITED);
		return false;
	}
	c->last_oow_ack = ts->now ? ts->now : 1;
	return true;
}

/*
 * RFC 5961 §7 budget of challenge ACKs per second and lcore, drawn at random each second
 * between half and one and a half times the limit: a fixed budget shared by every
 * connection is a side channel (CVE-2016-5696: an off-path attacker counts the challenge
 * ACKs left to learn whether a guessed connection exists). @return true: send it.
 */
static bool
tcp_challenge_may(struct tcp_stack *ts)
{
	uint32_t sec = ts->now / 1000;
	uint32_t limit = ts->cfg->challenge_ack_limit;

	if (sec != ts->chack_sec) {
		ts->chack_sec = sec;
		ts->chack_left = limit / 2 + (uint32_t) rte_rand_max((uint64_t) limit + 1);
	}
	if (ts->chack_left == 0) {
		stats_inc(tcp_st(ts), STATS_TCP_CHALLENGE_ACK_LIMITED);
		return false;
	}
	ts->chack_left--;
	return true;
}

void
tcp_send_ack_now(struct tcp_conn *c, enum tcp_ack_kind kind)
{
	struct tcp_stack *ts = c->ts;

	switch (kind) {
	case TCP_ACK_CHALLENGE:
		if (!tcp_oow_ack_may(c) || !tcp_challenge_may(ts))
			return;
		stats_inc(tcp_st(ts), STATS_TCP_CHALLENGE_ACK);
		break;
	case TCP_ACK_INVALID:
		if (!tcp_oow_ack_may(c))
			return;
		break;
	case TCP_ACK_DUE:
	default:
		break;
	}
	(void) tcp_send_seg(c, c->snd_nxt, 0, RTE_TCP_ACK_FLAG);
}

static inline uint32_t
tcp_rxmt_interval(const struct tcp_conn *c)
{
	uint64_t t = (uint64_t) c->rto << RTE_MIN(c->n_rxmt, 16);

	return (uint32_t) RTE_MIN(t, (uint64_t) c->ts->cfg->rto_max_ms);
}

/*
 * SYN retransmission interval: the first TCP_SYN_LINEAR resends one initial RTO apart, then
 * exponential backoff, as Linux does with net.ipv4.tcp_syn_linear_timeouts (SYNs at 0, 1, 2,
 * 3, 4, 6, 10, 18 s with a 1 s RTO). A lost SYN or SYN-ACK costs a second, not the doubling
 * that would push a handshake behind a lossy path past the connect limit.
 */
static inline uint32_t
tcp_syn_interval(const struct tcp_conn *c)
{
	/* After the <n_rxmt>th resend: the fourth is the last one RTO apart. */
	uint32_t shift = c->n_rxmt >= TCP_SYN_LINEAR ? c->n_rxmt - TCP_SYN_LINEAR + 1 : 0;
	uint64_t t = (uint64_t) c->rto << RTE_MIN(shift, 16u);

	return (uint32_t) RTE_MIN(t, (uint64_t) c->ts->cfg->rto_max_ms);
}

void
tcp_output(struct tcp_conn *c)
{
	struct tcp_stack *ts = c->ts;
	bool sent_any = false;

	switch (c->state) {
	case TCP_ST_ESTABLISHED:
	case TCP_ST_CLOSE_WAIT:
	case TCP_ST_FIN_WAIT_1:
	case TCP_ST_CLOSING:
	case TCP_ST_LAST_ACK:
		break;
	default:
		if (c->flags & TCP_F_ACK_NOW)
			tcp_send_ack_now(c, TCP_ACK_DUE);
		return;
	}
	for (;;) {
		uint32_t off = c->snd_nxt - c->snd_una;
		uint32_t avail = off < c->sndq.bytes ? c->sndq.bytes - off : 0;
		uint32_t wnd = RTE_MIN(c->snd_wnd, c->cwnd);
		uint32_t len = RTE_MIN(avail, tcp_seg_room(c));
		uint8_t flags = 0;

		if (off > c->sndq.bytes)
			break; /* FIN already sent at snd_nxt - 1 */
		if (off + len > wnd)
			len = wnd > off ? wnd - off : 0;
		if (len == 0 && avail != 0) {
			/* Window closed with data waiting: probe it once nothing is in flight. */
			if (c->snd_wnd == 0 && c->snd_max == c->snd_una &&
				!(c->tmr_on & (1u << TCP_TMR_RXMT))) {
				c->flags |= TCP_F_PERSIST;
				tcp_tmr_set(c, TCP_TMR_RXMT, tcp_rxmt_interval(c));
			}
			break;
		}
		if ((c->flags & TCP_F_FIN_PENDING) && off + len == c->sndq.bytes)
			flags |= RTE_TCP_FIN_FLAG;
		if (len == 0 && !(flags & RTE_TCP_FIN_FLAG))
			break;
		if (len && off + len == c->sndq.bytes)
			flags |= RTE_TCP_PSH_FLAG;
		if (tcp_send_seg(c, c->snd_nxt, len, flags) != 0)
			break;
		sent_any = true;
		if (len && c->snd_nxt == c->snd_max && !(c->flags & TCP_F_RTT_TIMING)) {
			c->flags |= TCP_F_RTT_TIMING;
			c->rtt_seq = c->snd_nxt;
			c->rtt_ts = ts->now;
		}
		if (tcp_seq_lt(c->snd_nxt, c->snd_max))
			stats_inc(tcp_st(ts), STATS_TCP_RXMT_SEGS);
		c->snd_nxt += len;
		if (flags & RTE_TCP_FIN_FLAG) {
			c->snd_nxt++;
			c->flags |= TCP_F_FIN_SENT;
		}
		if (tcp_seq_gt(c->snd_nxt, c->snd_max))
			c->snd_max = c->snd_nxt;
		if (!(c->tmr_on & (1u << TCP_TMR_RXMT)) || (c->flags & TCP_F_PERSIST)) {
			c->flags &= ~TCP_F_PERSIST;
			tcp_tmr_set(c, TCP_TMR_RXMT, tcp_rxmt_interval(c));
		}
		if (flags & RTE_TCP_FIN_FLAG)
			break;
	}
	if (!sent_any && (c->flags & TCP_F_ACK_NOW))
		tcp_send_ack_now(c, TCP_ACK_DUE);
}

void
tcp_rxmt_timeout(struct tcp_conn *c)
{
	struct tcp_stack *ts = c->ts;
	const struct tcp_cfg *cfg = ts->cfg;
	uint32_t flight;

	if (c->flags & TCP_F_PERSIST) {
		/* Zero-window probe: an old sequence number makes the peer answer with its
		 * window (RFC 9293 §3.8.6.1); backoff as for retransmissions, no give-up while
		 * the peer answers, except for orphans. */
		stats_inc(tcp_st(ts), STATS_TCP_WINDOW_PROBE);
		if ((c->flags & TCP_F_ORPHAN) && c->n_rxmt >= tcp_rxmt_limit(c)) {
			tcp_send_ctl(c, RTE_TCP_RST_FLAG);
			tcp_conn_drop(c, -ETIMEDOUT);
			return;
		}
		(void) tcp_send_seg(c, c->snd_una - 1, 0, RTE_TCP_ACK_FLAG);
		if (c->n_rxmt < 16)
			c->n_rxmt++;
		tcp_tmr_set(c, TCP_TMR_RXMT, tcp_rxmt_interval(c));
		return;
	}
	c->n_rxmt++;
	stats_inc(tcp_st(ts), STATS_TCP_RTO);
	switch (c->state) {
	case TCP_ST_SYN_SENT:
		if (c->n_rxmt > RTE_MIN(cfg->max_rxmt, (uint32_t) TCP_SYN_RETRIES)) {
			tcp_conn_drop(c, -ETIMEDOUT);
			return;
		}
		/* The MAC may have been wrong: take the next hop's from the ARP cache again
		 * (a resend waiting for ARP replaces its queued copy, tcp_arp_xmit). */
		memset(&c->rmac, 0, sizeof(c->rmac));
		(void) tcp_send_ctl(c, RTE_TCP_SYN_FLAG);
		tcp_tmr_set(c, TCP_TMR_RXMT, tcp_syn_interval(c));
		return;
	case TCP_ST_SYN_RCVD:
		if (c->n_rxmt > cfg->synack_retries) {
			tcp_conn_drop(c, -ETIMEDOUT);
			return;
		}
		(void) tcp_send_ctl(c, RTE_TCP_SYN_FLAG | RTE_TCP_ACK_FLAG);
		tcp_tmr_set(c, TCP_TMR_RXMT, tcp_rxmt_interval(c));
		return;
	default:
		break;
	}
	if (c->n_rxmt > tcp_rxmt_limit(c)) {
		tcp_send_ctl(c, RTE_TCP_RST_FLAG);
		tcp_conn_drop(c, -ETIMEDOUT);
		return;
	}
	/* RFC 5681 §3.1 (4): ssthresh once per loss event; loss window of one segment. */
	flight = c->snd_max - c->snd_una;
	if (c->n_rxmt == 1)
		c->ssthresh = RTE_MAX(flight / 2, 2u * c->mss);
	c->cwnd = c->mss;
	c->recover = c->snd_max; /* RFC 6582 §4: no fast retransmit for what this resends */
	c->flags &= ~(TCP_F_RECOVERY | TCP_F_RTT_TIMING); /* Karn: no sample from a resend */
	c->dupacks = 0;
	c->snd_nxt = c->snd_una;
	tcp_tmr_clear(c, TCP_TMR_RXMT);
	tcp_output(c);
	if (!(c->tmr_on & (1u << TCP_TMR_RXMT)) && c->snd_max != c->snd_una)
		tcp_tmr_set(c, TCP_TMR_RXMT, tcp_rxmt_interval(c));
}

/* ---- connectionless replies ---- */

void
tcp_send_rst_reply(struct tcp_stack *ts, const struct net_if *nif,
	const struct rte_ether_addr *dmac, uint32_t laddr, uint32_t raddr, uint16_t lport,
	uint16_t rport, uint32_t seq, uint32_t ack, bool with_ack)
{
	struct rte_tcp_hdr *th;
	struct rte_mbuf *m;

	m = tcp_pkt_build(ts, nif, dmac, laddr, raddr, lport, rport, seq, with_ack ? ack : 0,
		RTE_TCP_RST_FLAG | (with_ack ? RTE_TCP_ACK_FLAG : 0), 0, NULL, 0, 0, &th);
	if (m == NULL)
		return;
	stats_inc(tcp_st(ts), STATS_TCP_RST_TX);
	tcp_pkt_send(ts, nif, m, 0);
}

void
tcp_send_synack_cookie(struct tcp_stack *ts, const struct net_if *nif,
	const struct rte_ether_addr *dmac, uint32_t laddr, uint32_t raddr, uint16_t lport,
	uint16_t rport, uint32_t iss, uint32_t ack, uint16_t mss, bool ws)
{
	uint16_t mss_be = rte_cpu_to_be_16(mss);
	uint8_t opt[TCP_SYN_OPT_LEN] = {2, 4, 0, 0, 1, 3, 3, tcp_rcv_wscale(ts->cfg)};
	struct rte_tcp_hdr *th;
	struct rte_mbuf *m;

	memcpy(&opt[2], &mss_be, 2);
	m = tcp_pkt_build(ts, nif, dmac, laddr, raddr, lport, rport, iss, ack,
		RTE_TCP_SYN_FLAG | RTE_TCP_ACK_FLAG, (uint16_t) RTE_MIN(ts->cfg->rcvbuf, 65535u),
		opt, ws ? 8 : 4, 0, &th);
	if (m == NULL)
		return;
	stats_inc(tcp_st(ts), STATS_TCP_SYNCOOKIE_TX);
	tcp_pkt_send(ts, nif, m, 0);
}

/* ---- ARP resolution of next hops ---- */

static struct tcp_arp_ent *
tcp_arp_find(struct tcp_stack *ts, uint32_t ip, bool create)
{
	uint32_t h = rte_be_to_cpu_32(ip) * 2654435761u;
	struct tcp_arp_ent *victim = NULL;

	for (unsigned int n = 0; n < 8; n++) {
		struct tcp_arp_ent *e = &ts->arp[(h + n) & (TCP_ARP_SLOTS - 1)];

		if (e->state != TCP_ARP_FREE && e->ip == ip)
			return e;
		if (victim == NULL && e->state == TCP_ARP_FREE)
			victim = e;
	}
	if (!create)
		return NULL;
	if (victim == NULL) {
		/* All eight probes used: evict the home slot (its frames are dropped). */
		victim = &ts->arp[h & (TCP_ARP_SLOTS - 1)];
		for (unsigned int i = 0; i < victim->n_pending; i++)
			rte_pktmbuf_free(victim->pending[i]);
	}
	memset(victim, 0, sizeof(*victim));
	victim->ip = ip;
	return victim;
}

static void
tcp_arp_request(struct tcp_stack *ts, const struct net_if *nif, uint32_t ip)
{
	struct rte_mbuf *m = rte_pktmbuf_alloc(ts->mp);
	struct rte_ether_hdr *eh;
	struct rte_arp_hdr *ah;
	uint32_t sip = nif->n_addrs ? nif->addrs[0].ip : 0;

	if (m == NULL) {
		stats_inc(tcp_st(ts), STATS_TCP_NOMBUF);
		return;
	}
	eh = (struct rte_ether_hdr *) rte_pktmbuf_append(m, sizeof(*eh) + sizeof(*ah));
	if (eh == NULL) {
		rte_pktmbuf_free(m);
		return;
	}
	for (unsigned int i = 0; i < nif->n_addrs; i++) {
		uint32_t mask =
			nif->addrs[i].plen ? rte_cpu_to_be_32(~0u << (32 - nif->addrs[i].plen)) : 0;

		if (((nif->addrs[i].ip ^ ip) & mask) == 0) {
			sip = nif->addrs[i].ip;
			break;
		}
	}
	memset(&eh->dst_addr, 0xff, sizeof(eh->dst_addr));
	eh->src_addr = nif->mac;
	eh->ether_type = RTE_BE16(RTE_ETHER_TYPE_ARP);
	ah = (struct rte_arp_hdr *) (eh + 1);
	ah->arp_hardware = RTE_BE16(RTE_ARP_HRD_ETHER);
	ah->arp_protocol = RTE_BE16(RTE_ETHER_TYPE_IPV4);
	ah->arp_hlen = RTE_ETHER_ADDR_LEN;
	ah->arp_plen = sizeof(uint32_t);
	ah->arp_opcode = RTE_BE16(RTE_ARP_OP_REQUEST);
	ah->arp_data.arp_sha = nif->mac;
	ah->arp_data.arp_sip = sip;
	memset(&ah->arp_data.arp_tha, 0, sizeof(ah->arp_data.arp_tha));
	ah->arp_data.arp_tip = ip;
	stats_inc(tcp_st(ts), STATS_ARP_REQUEST_TX);
	tcp_xmit(ts, nif->port_id, m);
}

/* Same connection, sequence number and flags: <b> is a retransmission of <a>. Our own
 * frames only: Ethernet, IPv4 without options, TCP. */
static bool
tcp_same_segment(const struct rte_mbuf *a, const struct rte_mbuf *b)
{
	const size_t off = sizeof(struct rte_ether_hdr);
	const struct rte_ipv4_hdr *ia =
		rte_pktmbuf_mtod_offset(a, const struct rte_ipv4_hdr *, off);
	const struct rte_ipv4_hdr *ib =
		rte_pktmbuf_mtod_offset(b, const struct rte_ipv4_hdr *, off);
	const struct rte_tcp_hdr *ta = (const struct rte_tcp_hdr *) (ia + 1);
	const struct rte_tcp_hdr *tb = (const struct rte_tcp_hdr *) (ib + 1);

	return ia->src_addr == ib->src_addr && ia->dst_addr == ib->dst_addr &&
	       ta->src_port == tb->src_port && ta->dst_port == tb->dst_port &&
	       ta->sent_seq == tb->sent_seq && ta->tcp_flags == tb->tcp_flags &&
	       ia->total_length == ib->total_length;
}

void
tcp_arp_xmit(struct tcp_stack *ts, uint16_t port_id, uint32_t nexthop, struct rte_mbuf *m)
{
	struct tcp_arp_ent *e = tcp_arp_find(ts, nexthop, true);
	struct rte_ether_hdr *eh = rte_pktmbuf_mtod(m, struct rte_ether_hdr *);

	if (e->state == TCP_ARP_VALID) {
		eh->dst_addr = e->mac;
		tcp_xmit(ts, port_id, m);
		return;
	}
	if (e->state == TCP_ARP_FREE) {
		e->state = TCP_ARP_INCOMPLETE;
		e->port_id = port_id;
		e->tries = 1;
		e->expire = ts->now + TCP_ARP_RETRY_MS;
		tcp_arp_request(ts, ts->ctx->nif[port_id], nexthop);
	}
	for (unsigned int i = 0; i < e->n_pending; i++) {
		if (tcp_same_segment(e->pending[i], m)) {
			/* A resend of a waiting segment (SYN retransmissions while ARP retries):
			 * the newer copy takes its place, so retries cannot crowd out other
			 * connections' first SYNs. */
			rte_pktmbuf_free(e->pending[i]);
			e->pending[i] = m;
			return;
		}
	}
	if (e->n_pending < TCP_ARP_PENDING) {
		e->pending[e->n_pending++] = m;
	} else {
		stats_inc(tcp_st(ts), STATS_ARP_PENDING_DROP);
		rte_pktmbuf_free(m);
	}
}

void
tcp_arp_learn(struct tcp_stack *ts, uint16_t port_id, uint32_t ip, const struct rte_ether_addr *mac)
{
	struct tcp_arp_ent *e = tcp_arp_find(ts, ip, false);

	/* Only next hops we asked for: unsolicited ARP does not fill the cache (RFC 826 merge). */
	if (e == NULL)
		return;
	e->mac = *mac;
	e->port_id = port_id;
	e->state = TCP_ARP_VALID;
	e->expire = ts->now + TCP_ARP_TTL_MS;
	for (unsigned int i = 0; i < e->n_pending; i++) {
		struct rte_ether_hdr *eh = rte_pktmbuf_mtod(e->pending[i], struct rte_ether_hdr *);

		eh->dst_addr = *mac;
		tcp_xmit(ts, port_id, e->pending[i]);
	}
	e->n_pending = 0;
}

void
tcp_arp_timers(struct tcp_stack *ts)
{
	for (unsigned int i = 0; i < TCP_ARP_SLOTS; i++) {
		struct tcp_arp_ent *e = &ts->arp[i];

		if (e->state == TCP_ARP_FREE || tcp_seq_gt(e->expire, ts->now))
			continue;
		if (e->state == TCP_ARP_INCOMPLETE && e->tries < TCP_ARP_TRIES) {
			e->tries++;
			e->expire = ts->now + TCP_ARP_RETRY_MS;
			tcp_arp_request(ts, ts->ctx->nif[e->port_id], e->ip);
			continue;
		}
		if (e->state == TCP_ARP_INCOMPLETE)
			stats_add(tcp_st(ts), STATS_ARP_PENDING_DROP, e->n_pending);
		for (unsigned int k = 0; k < e->n_pending; k++)
			rte_pktmbuf_free(e->pending[k]);
		e->n_pending = 0;
		e->state = TCP_ARP_FREE;
	}
}
