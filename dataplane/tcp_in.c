/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * TCP input: header and checksum validation, option parsing, demultiplexing, passive open
 * (stateful or SYN cookie, RFC 4987), and segment arrival per RFC 9293 §3.10.7 with the
 * RFC 5961 mitigations, NewReno loss recovery (RFC 5681, RFC 6582), RTT estimation
 * (RFC 6298) and bounded out-of-order reassembly. Owner lcore of the stack only.
 */
#include <errno.h>
#include <string.h>

#include <rte_byteorder.h>
#include <rte_common.h>
#include <rte_ether.h>
#include <rte_ip.h>
#include <rte_mbuf.h>
#include <rte_ring.h>
#include <rte_tcp.h>

#include "lcore.h"
#include "stats.h"
#include "tcp.h"
#include "ndg_common.h"

#define TCP_DEFAULT_MSS	    536	  /* RFC 9293 §3.7.1: when the SYN has no MSS option */
#define TCP_RTO_FALLBACK_MS 3000u /* RFC 6298 (5.7): the RTO after a resent SYN */

struct tcp_seg {
	uint32_t seq;
	uint32_t ack;
	uint32_t len; /* payload bytes */
	uint32_t wnd; /* raw window field */
	uint8_t flags;
	struct tcp_opts opts;
};

static inline struct stats_lcore *
tcp_st(struct tcp_stack *ts)
{
	return &ts->ctx->stats;
}

int
tcp_opts_parse(const uint8_t *opt, unsigned int len, struct tcp_opts *out)
{
	unsigned int i = 0;

	memset(out, 0, sizeof(*out));
	while (i < len) {
		uint8_t kind = opt[i];
		uint8_t olen;

		if (kind == 0) /* end of option list */
			return 0;
		if (kind == 1) { /* NOP */
			i++;
			continue;
		}
		if (i + 1 >= len || (olen = opt[i + 1]) < 2 || i + olen > len) {
			out->malformed = true;
			return -EINVAL;
		}
		switch (kind) {
		case 2: /* MSS */
			if (olen == 4) {
				out->mss = (uint16_t) ((opt[i + 2] << 8) | opt[i + 3]);
			} else {
				out->malformed = true;
				return -EINVAL;
			}
			break;
		case 3: /* window scale */
			if (olen == 3) {
				out->has_ws = true;
				out->wscale = RTE_MIN(opt[i + 2], (uint8_t) 14);
			} else {
				out->malformed = true;
				return -EINVAL;
			}
			break;
		case 4: /* SACK permitted: we send SACK blocks, and ignore the peer's */
			out->sack_ok = olen == 2;
			break;
		case 8: /* timestamps: not echoed since we never offered them (RFC 7323 §3.2) */
			out->has_ts = true;
			break;
		default:
			break;
		}
		i += olen;
	}
	return 0;
}

static void
tcp_rtt_sample(struct tcp_conn *c, uint32_t r)
{
	const struct tcp_cfg *cfg = c->ts->cfg;
	uint32_t rto;

	if (r == 0)
		r = 1;
	if (c->srtt8 == 0) {
		/* RFC 6298 (2.2) */
		c->srtt8 = r << 3;
		c->rttvar4 = r << 1;
	} else {
		/* RFC 6298 (2.3), alpha 1/8, beta 1/4 */
		int32_t delta = (int32_t) r - (int32_t) (c->srtt8 >> 3);
		uint32_t adelta = (uint32_t) (delta < 0 ? -delta : delta);

		c->srtt8 = (uint32_t) ((int32_t) c->srtt8 + delta);
		c->rttvar4 = c->rttvar4 + adelta - (c->rttvar4 >> 2);
	}
	rto = (c->srtt8 >> 3) + RTE_MAX(1u, c->rttvar4);
	if (rto < cfg->rto_min_ms)
		rto = cfg->rto_min_ms;
	c->rto = RTE_MIN(rto, cfg->rto_max_ms);
}

/*
 * The handshake of <c> completed: its RTT is the first sample (RFC 6298 (2.2)) unless our SYN
 * or SYN-ACK was resent (Karn), in which case the RTO goes to 3 s for the data (RFC 6298
 * (5.7), a MUST: the path needed more than the initial 1 s). A cookie's handshake was not
 * timed at all: the initial RTO stays.
 */
static void
tcp_rtt_handshake(struct tcp_conn *c)
{
	if (c->flags & TCP_F_COOKIE)
		return;
	if (c->n_rxmt == 0)
		tcp_rtt_sample(c, c->ts->now - c->rtt_ts);
	else if (c->rto < TCP_RTO_FALLBACK_MS)
		c->rto = RTE_MIN(TCP_RTO_FALLBACK_MS, c->ts->cfg->rto_max_ms);
}

/* Retransmit the first unacknowledged segment (fast retransmit / partial ACK). */
static void
tcp_rexmit_head(struct tcp_conn *c)
{
	uint32_t save = c->snd_nxt;
	uint32_t cwnd = c->cwnd;

	/* Send exactly one segment from snd_una, then restore where new data continues. */
	c->snd_nxt = c->snd_una;
	c->cwnd = c->mss;
	c->flags &= ~TCP_F_RTT_TIMING;
	tcp_output(c);
	c->cwnd = cwnd;
	if (tcp_seq_gt(save, c->snd_nxt))
		c->snd_nxt = save;
	stats_inc(tcp_st(c->ts), STATS_TCP_FAST_RXMT);
}

/* Append <m> (payload only, maybe several segments) to <q>. */
static void
tcp_mq_append(struct tcp_mq *q, struct rte_mbuf *m, uint32_t len)
{
	struct rte_mbuf *last = rte_pktmbuf_lastseg(m);

	if (q->tail != NULL)
		q->tail->next = m;
	else
		q->head = m;
	q->tail = last;
	q->bytes += len;
}

static inline uint32_t
tcp_ooo_seq(const struct rte_mbuf *m)
{
	return m->hash.usr;
}

static inline uint32_t
tcp_ooo_end(const struct rte_mbuf *m)
{
	return m->hash.usr + m->data_len;
}

/* Free out-of-order segment <m> of <c> (already unlinked) and release its memory. */
static void
tcp_ooo_free(struct tcp_conn *c, struct rte_mbuf *m)
{
	tcp_rcv_mem_adjust(c, -(int32_t) tcp_truesize(m));
	m->next = NULL;
	m->nb_segs = 1;
	rte_pktmbuf_free_seg(m);
}

/*
 * Make room for <bytes> more out-of-order memory of <c> by dropping the queued segments
 * furthest from rcv_nxt, those beyond <seq> only (Linux tcp_prune_ofo_queue): what fills the
 * hole first is worth the most. @return true when it fits now.
 */
static bool
tcp_ooo_make_room(struct tcp_conn *c, uint32_t seq, uint32_t bytes)
{
	while (tcp_rcv_mem_check(c, bytes) == -ENOBUFS && c->ooo != NULL) {
		struct rte_mbuf *prev = NULL, *last = c->ooo;

		while (last->next != NULL) {
			prev = last;
			last = last->next;
		}
		if (!tcp_seq_gt(tcp_ooo_seq(last), seq))
			break;
		if (prev != NULL)
			prev->next = NULL;
		else
			c->ooo = NULL;
		tcp_ooo_free(c, last);
		c->n_ooo--;
		stats_inc(&c->ts->ctx->stats, STATS_TCP_OOO_PRUNED);
	}
	return tcp_rcv_mem_check(c, bytes) == 0;
}

/*
 * Keep out-of-order segment <m> (single segment, payload only) at <seq>. Overlaps with what
 * is queued are trimmed from <m>; segments <m> covers entirely are replaced.
 * @return true when <m> was kept.
 */
static bool
tcp_ooo_insert(struct tcp_conn *c, struct rte_mbuf *m, uint32_t seq, bool fin)
{
	struct rte_mbuf *prev = NULL, *cur = c->ooo;
	uint32_t end;

	if (m->nb_segs != 1 || c->n_ooo >= c->ts->cfg->ooo_max || c->ts->mem_level != TCP_MEM_OK)
		return false;
	if (!tcp_ooo_make_room(c, seq, tcp_truesize(m)))
		return false;
	prev = NULL;
	cur = c->ooo;
	while (cur != NULL && tcp_seq_lt(tcp_ooo_seq(cur), seq)) {
		prev = cur;
		cur = cur->next;
	}
	if (prev != NULL && tcp_seq_gt(tcp_ooo_end(prev), seq)) {
		uint32_t over = tcp_ooo_end(prev) - seq;

		if (over >= m->data_len)
			return false;
		rte_pktmbuf_adj(m, (uint16_t) over);
		seq += over;
	}
	end = seq + m->data_len;
	while (cur != NULL && tcp_seq_geq(end, tcp_ooo_end(cur))) {
		struct rte_mbuf *n = cur->next;

		tcp_ooo_free(c, cur);
		c->n_ooo--;
		cur = n;
	}
	if (cur != NULL && tcp_seq_gt(end, tcp_ooo_seq(cur))) {
		rte_pktmbuf_trim(m, (uint16_t) (end - tcp_ooo_seq(cur)));
		fin = false;
	}
	if (m->data_len == 0)
		return false;
	for (struct rte_mbuf *o = c->ooo; o != NULL; o = o->next)
		o->hash.fdir.hi &= ~TCP_OOO_LAST;
	m->hash.usr = seq;
	/* The arrival tick rides above the marks: the sweep drops queues left too long. */
	m->hash.fdir.hi = (c->ts->now << 2) | (fin ? TCP_OOO_FIN : 0) | TCP_OOO_LAST;
	m->next = cur;
	if (prev != NULL)
		prev->next = m;
	else
		c->ooo = m;
	c->n_ooo++;
	tcp_rcv_mem_adjust(c, (int32_t) tcp_truesize(m));
	tcp_ooo_listed(c);
	return true;
}

/*
 * SACK option (RFC 2018 §3) describing the out-of-order queue into <opt> (TCP_SACK_ROOM
 * bytes): the block holding the latest arrival first, then the others in sequence order,
 * at most four (no timestamps share the option space). @return the option length, 0 if
 * there is nothing to report.
 */
uint16_t
tcp_sack_fill(const struct tcp_conn *c, uint8_t *opt)
{
	uint32_t blk[4][2], first[2] = {0, 0};
	unsigned int n = 0;
	bool have_first = false;
	uint16_t len;

	if (!(c->flags & TCP_F_SACK_OK) || c->ooo == NULL)
		return 0;
	/* Pass 1: the block (run of contiguous segments) holding the latest arrival. */
	for (const struct rte_mbuf *o = c->ooo; o != NULL && !have_first;) {
		uint32_t l = tcp_ooo_seq(o), r = tcp_ooo_end(o);
		bool last = o->hash.fdir.hi & TCP_OOO_LAST;

		for (o = o->next; o != NULL && tcp_ooo_seq(o) == r; o = o->next) {
			r = tcp_ooo_end(o);
			last = last || (o->hash.fdir.hi & TCP_OOO_LAST);
		}
		if (last) {
			first[0] = l;
			first[1] = r;
			have_first = true;
		}
	}
	if (have_first) {
		blk[0][0] = first[0];
		blk[0][1] = first[1];
		n = 1;
	}
	/* Pass 2: the other blocks in order. */
	for (const struct rte_mbuf *o = c->ooo; o != NULL && n < 4;) {
		uint32_t l = tcp_ooo_seq(o), r = tcp_ooo_end(o);

		for (o = o->next; o != NULL && tcp_ooo_seq(o) == r; o = o->next)
			r = tcp_ooo_end(o);
		if (have_first && l == first[0])
			continue;
		blk[n][0] = l;
		blk[n][1] = r;
		n++;
	}
	opt[0] = 1; /* NOP, NOP: the blocks stay 4-byte aligned */
	opt[1] = 1;
	opt[2] = 5;
	opt[3] = (uint8_t) (2 + 8 * n);
	len = 4;
	for (unsigned int i = 0; i < n; i++) {
		uint32_t l = rte_cpu_to_be_32(blk[i][0]), r = rte_cpu_to_be_32(blk[i][1]);

		memcpy(&opt[len], &l, 4);
		memcpy(&opt[len + 4], &r, 4);
		len += 8;
	}
	return len;
}

/* The peer's FIN is next in sequence: consume it (RFC 9293 §3.10.7.4 eighth). */
static void
tcp_rcv_fin(struct tcp_conn *c)
{
	c->rcv_nxt++;
	c->flags |= TCP_F_RCVD_FIN | TCP_F_ACK_NOW;
	switch (c->state) {
	case TCP_ST_SYN_RCVD:
	case TCP_ST_ESTABLISHED:
		tcp_conn_set_state(c, TCP_ST_CLOSE_WAIT);
		break;
	case TCP_ST_FIN_WAIT_1:
		if ((c->flags & TCP_F_FIN_SENT) && c->snd_una == c->snd_max)
			tcp_conn_set_state(c, TCP_ST_TIME_WAIT);
		else
			tcp_conn_set_state(c, TCP_ST_CLOSING);
		break;
	case TCP_ST_FIN_WAIT_2:
		tcp_conn_set_state(c, TCP_ST_TIME_WAIT);
		break;
	default:
		break;
	}
}

/* Move what became in-order from the out-of-order queue to the receive queue. */
static void
tcp_ooo_drain(struct tcp_conn *c)
{
	while (c->ooo != NULL && tcp_seq_leq(tcp_ooo_seq(c->ooo), c->rcv_nxt)) {
		struct rte_mbuf *m = c->ooo;
		bool fin = m->hash.fdir.hi & TCP_OOO_FIN;

		c->ooo = m->next;
		m->next = NULL;
		c->n_ooo--;
		if (tcp_seq_leq(tcp_ooo_end(m), c->rcv_nxt)) {
			tcp_ooo_free(c, m);
			continue;
		}
		rte_pktmbuf_adj(m, (uint16_t) (c->rcv_nxt - tcp_ooo_seq(m)));
		c->rcv_nxt += m->data_len;
		stats_add(tcp_st(c->ts), STATS_TCP_BYTES_RX, m->data_len);
		tcp_mq_append(&c->rcvq, m, m->data_len);
		if (fin) {
			tcp_rcv_fin(c);
			break;
		}
	}
	/* Empty, or nothing can follow the FIN: off the list, whatever is left freed. */
	if (c->ooo == NULL || (c->flags & TCP_F_RCVD_FIN))
		(void) tcp_ooo_purge(c);
}

/* RFC 9293 §3.10.7.4 ACK processing for synchronised states. @return false: drop segment. */
static bool
tcp_in_ack(struct tcp_conn *c, const struct tcp_seg *sg)
{
	struct tcp_stack *ts = c->ts;
	uint32_t ack = sg->ack;

	if (tcp_seq_gt(ack, c->snd_max)) {
		/* Acknowledges something never sent. */
		stats_inc(tcp_st(ts), STATS_TCP_ACK_TOO_NEW);
		tcp_send_ack_now(c, sg->len ? TCP_ACK_DUE : TCP_ACK_INVALID);
		return false;
	}
	/* RFC 5961 §5.2: too old to be a plausible ACK. */
	if (tcp_seq_lt(ack, c->snd_una - RTE_MAX(c->max_sndwnd, (uint32_t) c->mss))) {
		stats_inc(tcp_st(ts), STATS_TCP_ACK_TOO_OLD);
		tcp_send_ack_now(c, TCP_ACK_CHALLENGE);
		return false;
	}
	if (tcp_seq_gt(ack, c->snd_una)) {
		uint32_t acked = ack - c->snd_una;
		bool fin_acked = (c->flags & TCP_F_FIN_SENT) && acked > c->sndq.bytes;

		if ((c->flags & TCP_F_RTT_TIMING) && tcp_seq_gt(ack, c->rtt_seq)) {
			c->flags &= ~TCP_F_RTT_TIMING;
			tcp_rtt_sample(c, ts->now - c->rtt_ts);
		}
		tcp_sndq_ack(c, acked - (fin_acked ? 1 : 0));
		c->snd_una = ack;
		if (tcp_seq_lt(c->snd_nxt, ack))
			c->snd_nxt = ack;
		if (c->flags & TCP_F_RECOVERY) {
			if (tcp_seq_geq(ack, c->recover)) {
				/* RFC 6582 §3.2 (3) full acknowledgment */
				uint32_t flight =
					RTE_MAX(c->snd_max - c->snd_una, (uint32_t) c->mss);

				c->cwnd = RTE_MIN(c->ssthresh, flight + c->mss);
				c->flags &= ~TCP_F_RECOVERY;
			} else {
				/* partial acknowledgment: resend the next hole, deflate */
				tcp_rexmit_head(c);
				c->cwnd = (c->cwnd > acked ? c->cwnd - acked : 0) + c->mss;
			}
		} else if (c->cwnd < c->ssthresh) {
			c->cwnd += RTE_MIN(acked, (uint32_t) c->mss); /* slow start */
		} else {
			c->cwnd += RTE_MAX(1u, (uint32_t) c->mss * c->mss / c->cwnd);
		}
		c->cwnd = RTE_MIN(c->cwnd, 1u << 30);
		c->dupacks = 0;
		c->n_rxmt = 0;
		c->flags &= ~TCP_F_PERSIST;
		/* An orphan still flushing lives orphan_ms from its last progress, not from its
		 * close: a slow peer behind loss is still taking the data (one that stops is
		 * ended by the retransmission limit). */
		if ((c->flags & TCP_F_ORPHAN) && (c->tmr_on & (1u << TCP_TMR_CONN)) &&
			c->state != TCP_ST_FIN_WAIT_2 && c->state != TCP_ST_TIME_WAIT)
			tcp_tmr_set(c, TCP_TMR_CONN, ts->cfg->orphan_ms);
		if (c->snd_una == c->snd_max)
			tcp_tmr_clear(c, TCP_TMR_RXMT);
		else
			tcp_tmr_set(c, TCP_TMR_RXMT, c->rto);
		if (fin_acked) {
			switch (c->state) {
			case TCP_ST_FIN_WAIT_1:
				tcp_conn_set_state(c, TCP_ST_FIN_WAIT_2);
				break;
			case TCP_ST_CLOSING:
				tcp_conn_set_state(c, TCP_ST_TIME_WAIT);
				break;
			case TCP_ST_LAST_ACK:
				tcp_conn_drop(c, 0);
				return false;
			default:
				break;
			}
		}
		if ((c->flags & TCP_F_WANT_SEND) && tcp_conn_tx_space(c) > 0 &&
			!(c->flags & TCP_F_ORPHAN) && c->app != NULL && c->app->writable != NULL) {
			c->flags &= ~TCP_F_WANT_SEND;
			c->app->writable(c);
			if (c->state == TCP_ST_CLOSED)
				return false;
		}
	} else if (ack == c->snd_una && sg->len == 0 && !(sg->flags & RTE_TCP_FIN_FLAG) &&
		   c->snd_max != c->snd_una && (sg->wnd << c->snd_ws) == c->snd_wnd) {
		/* RFC 5681 §2 duplicate ACK */
		stats_inc(tcp_st(ts), STATS_TCP_DUPACK_RX);
		if (c->dupacks < UINT8_MAX)
			c->dupacks++;
		/* Duplicate ACKs for the spurious resends of the last recovery (or of a
		 * duplicated segment) must not start one fast retransmit after another. */
		if (c->dupacks == 3 && !(c->flags & TCP_F_RECOVERY) && tcp_conn_may_fast_rxmt(c)) {
			uint32_t flight = c->snd_max - c->snd_una;

			c->ssthresh = RTE_MAX(flight / 2, 2u * c->mss);
			c->recover = c->snd_max;
			c->flags |= TCP_F_RECOVERY;
			tcp_rexmit_head(c);
			c->cwnd = c->ssthresh + 3u * c->mss;
		} else if (c->dupacks > 3 && (c->flags & TCP_F_RECOVERY)) {
			c->cwnd += c->mss; /* RFC 6582 §3.2 (4) inflation */
		}
	}
	/* RFC 9293 §3.10.7.4: window update from a newer segment. */
	if (tcp_seq_lt(c->snd_wl1, sg->seq) ||
		(c->snd_wl1 == sg->seq && tcp_seq_leq(c->snd_wl2, ack))) {
		uint32_t wnd = sg->wnd << c->snd_ws;

		if (wnd > 0 && c->snd_wnd == 0 && (c->flags & TCP_F_PERSIST)) {
			c->flags &= ~TCP_F_PERSIST;
			c->n_rxmt = 0;
			tcp_tmr_clear(c, TCP_TMR_RXMT);
		}
		c->snd_wnd = wnd;
		c->snd_wl1 = sg->seq;
		c->snd_wl2 = ack;
		if (wnd > c->max_sndwnd)
			c->max_sndwnd = wnd;
	}
	return true;
}

/*
 * The MSS we may send to a peer that announced <o>: 536 without the option (RFC 9293
 * §3.7.1), never above ours, never below TCP_MIN_SND_MSS: an announced MSS of a few bytes
 * would turn every byte we send into a segment (and leave no room once options are added).
 */
static uint16_t
tcp_peer_mss(struct tcp_stack *ts, const struct tcp_opts *o)
{
	uint16_t mss = o->mss ? o->mss : TCP_DEFAULT_MSS;

	if (mss < TCP_MIN_SND_MSS) {
		stats_inc(tcp_st(ts), STATS_TCP_MSS_CLAMPED);
		mss = TCP_MIN_SND_MSS;
	}
	return RTE_MIN(mss, ts->cfg->mss);
}

/*
 * Copy the receive queue of <c> into as few fresh buffers as its bytes need (Linux
 * tcp_collapse): a queue of part-filled buffers costs several times its payload.
 * Nothing changes when the pool cannot give the buffers or they would not save any.
 */
static void
tcp_rcv_collapse(struct tcp_conn *c)
{
	struct tcp_stack *ts = c->ts;
	struct tcp_mq *q = &c->rcvq;
	struct tcp_mq nq = {NULL, NULL, 0};
	uint32_t room, need, have = 0, fresh = 0, freed = 0;
	struct rte_mbuf *o;

	if (q->head == NULL || ts->mem_level == TCP_MEM_CRITICAL)
		return;
	room = rte_pktmbuf_data_room_size(ts->mp) - RTE_PKTMBUF_HEADROOM;
	need = (q->bytes + room - 1) / room;
	for (o = q->head; o != NULL; o = o->next)
		have++;
	if (need >= have)
		return;
	for (o = q->head; o != NULL; o = o->next) {
		uint32_t off = 0;

		while (off < o->data_len) {
			struct rte_mbuf *t = nq.tail;
			uint32_t n;

			if (t == NULL || rte_pktmbuf_tailroom(t) == 0) {
				t = rte_pktmbuf_alloc(ts->mp);
				if (t == NULL) {
					tcp_mq_purge(&nq);
					return;
				}
				tcp_mq_append(&nq, t, 0);
				fresh += tcp_truesize(t);
			}
			n = RTE_MIN((uint32_t) o->data_len - off,
				(uint32_t) rte_pktmbuf_tailroom(t));
			memcpy(rte_pktmbuf_mtod_offset(t, uint8_t *, t->data_len),
				rte_pktmbuf_mtod_offset(o, const uint8_t *, off), n);
			t->data_len = (uint16_t) (t->data_len + n);
			t->pkt_len += n;
			nq.bytes += n;
			off += n;
		}
	}
	for (o = q->head; o != NULL; o = o->next)
		freed += tcp_truesize(o);
	tcp_mq_purge(q);
	*q = nq;
	tcp_rcv_mem_adjust(c, (int32_t) fresh - (int32_t) freed);
	stats_inc(tcp_st(ts), STATS_TCP_RCV_COLLAPSED);
}

/*
 * Queue in-order payload <m> (<len> bytes, one buffer) on the receive queue of <c>. A small
 * segment is copied into the tailroom of the queue's last buffer (Linux tcp_try_coalesce),
 * so a peer trickling one-byte segments fills buffers instead of pinning one each. A buffer
 * that would take the connection past its receive memory first collapses the queue, then
 * drops out-of-order data; a source past its share of the pool gets nothing more queued.
 * @return 1 when <m> was queued, 0 when its bytes were copied (the caller frees <m>), <0
 * when they were not taken (-ENOBUFS, -EDQUOT).
 */
static int
tcp_rcv_queue(struct tcp_conn *c, struct rte_mbuf *m, uint32_t len)
{
	struct tcp_stack *ts = c->ts;
	struct rte_mbuf *t = c->rcvq.tail;
	uint32_t size = tcp_truesize(m);
	int ret;

	if (t != NULL && RTE_MBUF_DIRECT(t) && rte_mbuf_refcnt_read(t) == 1 &&
		len <= rte_pktmbuf_tailroom(t)) {
		memcpy(rte_pktmbuf_mtod_offset(t, uint8_t *, t->data_len),
			rte_pktmbuf_mtod(m, const uint8_t *), len);
		t->data_len = (uint16_t) (t->data_len + len);
		t->pkt_len += len;
		c->rcvq.bytes += len;
		stats_inc(tcp_st(ts), STATS_TCP_RCV_COALESCED);
		return 0;
	}
	ret = tcp_rcv_mem_check(c, size);
	if (ret == -ENOBUFS) {
		tcp_rcv_collapse(c);
		ret = tcp_rcv_mem_check(c, size);
	}
	if (ret == -ENOBUFS && c->ooo != NULL) {
		unsigned int n = tcp_ooo_purge(c);

		stats_add(tcp_st(ts), STATS_TCP_OOO_PRUNED, n);
		ret = tcp_rcv_mem_check(c, size);
	}
	if (ret != 0) {
		stats_inc(tcp_st(ts),
			ret == -EDQUOT ? STATS_TCP_SRC_MEM_DROP : STATS_TCP_RCV_PRUNED);
		return ret;
	}
	tcp_mq_append(&c->rcvq, m, len);
	tcp_rcv_mem_adjust(c, (int32_t) size);
	return 1;
}

/* Segment for a connection in SYN_SENT (RFC 9293 §3.10.7.3). */
static void
tcp_in_syn_sent(struct tcp_conn *c, const struct tcp_seg *sg, const struct rte_ether_addr *smac)
{
	struct tcp_stack *ts = c->ts;

	if (sg->flags & RTE_TCP_ACK_FLAG) {
		if (tcp_seq_leq(sg->ack, c->iss) || tcp_seq_gt(sg->ack, c->snd_max)) {
			if (!(sg->flags & RTE_TCP_RST_FLAG))
				tcp_send_rst_reply(ts, ts->ctx->nif[c->port_id], smac, c->laddr,
					c->raddr, c->lport, c->rport, sg->ack, 0, false);
			return;
		}
	}
	if (sg->flags & RTE_TCP_RST_FLAG) {
		if (sg->flags & RTE_TCP_ACK_FLAG) {
			stats_inc(tcp_st(ts), STATS_TCP_CONN_REFUSED);
			tcp_conn_drop(c, -ECONNREFUSED);
		}
		return;
	}
	if (!(sg->flags & RTE_TCP_SYN_FLAG))
		return;
	c->irs = sg->seq;
	c->rcv_nxt = sg->seq + 1;
	c->rcv_adv = c->rcv_nxt;
	c->mss = tcp_peer_mss(ts, &sg->opts);
	if (sg->opts.has_ws) {
		c->flags |= TCP_F_WS_OK;
		c->snd_ws = sg->opts.wscale;
	} else {
		c->rcv_ws = 0;
		c->snd_ws = 0;
	}
	if (!sg->opts.sack_ok)
		c->flags &= ~TCP_F_SACK_OK;
	c->rmac = *smac;
	c->flags |= TCP_F_ACK_NOW;
	if (sg->flags & RTE_TCP_ACK_FLAG) {
		c->snd_una = sg->ack;
		if (tcp_seq_lt(c->snd_nxt, c->snd_una))
			c->snd_nxt = c->snd_una;
		/* RFC 7323 §2.2: the window of a SYN is not scaled. */
		c->snd_wnd = sg->wnd;
		c->max_sndwnd = c->snd_wnd;
		c->snd_wl1 = sg->seq;
		c->snd_wl2 = sg->ack;
		tcp_rtt_handshake(c);
		c->n_rxmt = 0;
		tcp_tmr_clear(c, TCP_TMR_RXMT);
		tcp_tmr_clear(c, TCP_TMR_CONN);
		tcp_conn_set_state(c, TCP_ST_ESTABLISHED);
		/* Tell the application first: what it writes in connected() leaves with the ACK
		 * of the SYN-ACK. Sending before would strand data larger than the send buffer
		 * (no shutdown to flush it) until the peer spoke, and a server waits for us. */
		tcp_conn_notify_open(c);
		if (c->state != TCP_ST_CLOSED)
			tcp_output(c);
		return;
	}
	/* Simultaneous open. */
	tcp_conn_set_state(c, TCP_ST_SYN_RCVD);
	c->snd_wnd = sg->wnd;
	(void) tcp_send_ctl(c, RTE_TCP_SYN_FLAG | RTE_TCP_ACK_FLAG);
}

/*
 * RFC 9293 §3.10.7.4 first check: is the segment acceptable? As Linux does (tcp_sequence),
 * a segment may start at the right edge of the window: a peer that filled our window sends
 * its ACKs with exactly that sequence number, and refusing them would ignore its ACKs for
 * as long as our window stays full (a deadlock under loss).
 */
static bool
tcp_seq_acceptable(const struct tcp_conn *c, uint32_t seq, uint32_t seglen, uint32_t wnd)
{
	if (seglen == 0 && wnd == 0)
		return seq == c->rcv_nxt;
	return tcp_seq_geq(seq + seglen, c->rcv_nxt) && tcp_seq_leq(seq, c->rcv_nxt + wnd) &&
	       !(seglen == 0 && tcp_seq_lt(seq, c->rcv_nxt));
}

/*
 * Segment for an existing connection. <m> holds the payload only (sg->len bytes).
 * @return true when <m> was kept (queued), false when the caller frees it.
 */
static bool
tcp_conn_input(struct tcp_conn *c, struct rte_mbuf *m, struct tcp_seg *sg,
	const struct rte_ether_addr *smac)
{
	struct tcp_stack *ts = c->ts;
	uint32_t wnd, seglen;
	bool kept = false, readable = false;

	if (c->state == TCP_ST_SYN_SENT) {
		tcp_in_syn_sent(c, sg, smac);
		return false;
	}
	if (c->state == TCP_ST_SYN_RCVD &&
		(sg->flags & (RTE_TCP_SYN_FLAG | RTE_TCP_ACK_FLAG | RTE_TCP_RST_FLAG)) ==
			RTE_TCP_SYN_FLAG &&
		sg->seq == c->irs) {
		/* The peer's SYN again: our SYN-ACK was lost. It is in the window (it ends at
		 * rcv_nxt), and a challenge ACK would not do: a peer in SYN-SENT drops an ACK
		 * without SYN, and would wait for our next SYN-ACK timeout. */
		stats_inc(tcp_st(ts), STATS_TCP_SYN_RESENT);
		(void) tcp_send_ctl(c, RTE_TCP_SYN_FLAG | RTE_TCP_ACK_FLAG);
		return false;
	}
	wnd = tcp_rcv_window(c);
	seglen = sg->len + !!(sg->flags & RTE_TCP_SYN_FLAG) + !!(sg->flags & RTE_TCP_FIN_FLAG);
	if (!tcp_seq_acceptable(c, sg->seq, seglen, wnd)) {
		/* A zero window still takes the ACK of a segment at rcv_nxt (RFC 9293). */
		if (!(wnd == 0 && sg->seq == c->rcv_nxt)) {
			if (sg->flags & RTE_TCP_RST_FLAG) {
				stats_inc(tcp_st(ts), STATS_TCP_RST_OUT_OF_WINDOW);
				return false;
			}
			stats_inc(tcp_st(ts), STATS_TCP_SEG_OUT_OF_WINDOW);
			/* As Linux's tcp_oow_rate_limited: a SYN is a challenge, a pure ACK is
			 * answered once per interval, data (a resend whose ACK was lost) always. */
			tcp_send_ack_now(c, (sg->flags & RTE_TCP_SYN_FLAG) ? TCP_ACK_CHALLENGE
					    : sg->len			   ? TCP_ACK_DUE
									   : TCP_ACK_INVALID);
			return false;
		}
		sg->len = 0;
		sg->flags &= (uint8_t) ~RTE_TCP_FIN_FLAG;
	}
	if (sg->flags & RTE_TCP_RST_FLAG) {
		/* RFC 5961 §3.2: only an exact match resets; in-window gets a challenge. */
		if (sg->seq != c->rcv_nxt) {
			tcp_send_ack_now(c, TCP_ACK_CHALLENGE);
			return false;
		}
		stats_inc(tcp_st(ts), STATS_TCP_RST_RX);
		tcp_conn_drop(c, tcp_conn_rst_is_clean(c) ? 0 : -ECONNRESET);
		return false;
	}
	if (sg->flags & RTE_TCP_SYN_FLAG) {
		/* RFC 5961 §4.2: any SYN in a synchronised state gets a challenge ACK. */
		tcp_send_ack_now(c, TCP_ACK_CHALLENGE);
		return false;
	}
	if (!(sg->flags & RTE_TCP_ACK_FLAG))
		return false;
	if (sg->len > 0 && ts->mem_level == TCP_MEM_CRITICAL) {
		/* Keep taking ACKs but no payload: rx must not starve (the peer resends). */
		stats_inc(tcp_st(ts), STATS_TCP_MEM_DROP);
		sg->len = 0;
		sg->flags &= (uint8_t) ~RTE_TCP_FIN_FLAG;
	}

	if (c->state == TCP_ST_SYN_RCVD) {
		if (!tcp_seq_gt(sg->ack, c->snd_una) || tcp_seq_gt(sg->ack, c->snd_max)) {
			tcp_send_rst_reply(ts, ts->ctx->nif[c->port_id], smac, c->laddr, c->raddr,
				c->lport, c->rport, sg->ack, 0, false);
			return false;
		}
		c->snd_una = sg->ack;
		c->snd_wnd = sg->wnd << c->snd_ws;
		c->max_sndwnd = c->snd_wnd;
		c->snd_wl1 = sg->seq;
		c->snd_wl2 = sg->ack;
		tcp_rtt_handshake(c);
		c->n_rxmt = 0;
		tcp_tmr_clear(c, TCP_TMR_RXMT);
		tcp_conn_set_state(c, TCP_ST_ESTABLISHED);
		if (tcp_conn_notify_open(c) < 0 || c->state == TCP_ST_CLOSED)
			return false;
	} else if (!tcp_in_ack(c, sg)) {
		return false;
	}
	if (c->state == TCP_ST_CLOSED)
		return false;

	if (c->state == TCP_ST_TIME_WAIT) {
		/* A retransmitted FIN: our last ACK was lost; ACK again, restart the clock. */
		if (sg->flags & RTE_TCP_FIN_FLAG) {
			tcp_send_ack_now(c, TCP_ACK_DUE);
			tcp_tmr_set(c, TCP_TMR_CONN, ts->cfg->time_wait_ms);
		}
		return false;
	}

	if (sg->len > 0 || (sg->flags & RTE_TCP_FIN_FLAG)) {
		switch (c->state) {
		case TCP_ST_ESTABLISHED:
		case TCP_ST_FIN_WAIT_1:
		case TCP_ST_FIN_WAIT_2:
			break;
		default:
			/* CLOSE_WAIT, CLOSING, LAST_ACK: the peer's FIN came; this is a resend. */
			c->flags |= TCP_F_ACK_NOW;
			tcp_output(c);
			return false;
		}
	}

	if (sg->len > 0) {
		uint32_t seq = sg->seq;
		uint32_t len = sg->len;
		bool fin = sg->flags & RTE_TCP_FIN_FLAG;

		if (c->flags & TCP_F_ORPHAN) {
			/* Data for a closed application: reset, as Linux does. */
			tcp_send_ctl(c, RTE_TCP_RST_FLAG);
			tcp_conn_drop(c, -ECONNRESET);
			return false;
		}
		if (tcp_seq_lt(seq, c->rcv_nxt)) {
			uint32_t skip = c->rcv_nxt - seq;

			if (skip > len)
				fin = false; /* the FIN is old too */
			skip = RTE_MIN(skip, len);
			rte_pktmbuf_adj(m, (uint16_t) skip);
			seq += skip;
			len -= skip;
			stats_inc(tcp_st(ts), STATS_TCP_SEG_PARTIAL_DUP);
		}
		if (tcp_seq_gt(seq + len, c->rcv_nxt + wnd)) {
			uint32_t cut = seq + len - (c->rcv_nxt + wnd);

			rte_pktmbuf_trim(m, (uint16_t) cut);
			len -= cut;
			fin = false;
		}
		if (len > 0 && seq == c->rcv_nxt) {
			bool had_ooo = c->ooo != NULL;
			int q = tcp_rcv_queue(c, m, len);

			if (q < 0) {
				/* Not taken: the peer resends once the reader caught up. */
				c->flags |= TCP_F_ACK_NOW;
				tcp_output(c);
				return false;
			}
			kept = q > 0;
			c->rcv_nxt += len;
			readable = true;
			stats_add(tcp_st(ts), STATS_TCP_BYTES_RX, len);
			if (fin) {
				tcp_rcv_fin(c);
			} else if (had_ooo) {
				tcp_ooo_drain(c);
				c->flags |= TCP_F_ACK_NOW;
			}
			/* RFC 9293 §3.8.6.3: ACK at least every second full-sized segment. */
			if (c->rcv_nxt - c->last_ack >= 2u * ts->cfg->mss)
				c->flags |= TCP_F_ACK_NOW;
			else if (!(c->flags & TCP_F_ACK_NOW) &&
				 !(c->tmr_on & (1u << TCP_TMR_DELACK)))
				tcp_tmr_set(c, TCP_TMR_DELACK, ts->cfg->delack_ms);
		} else if (len > 0) {
			/* Out of order: keep it if there is room, and say where the hole is. */
			if (tcp_ooo_insert(c, m, seq, fin))
				kept = true;
			else
				stats_inc(tcp_st(ts), STATS_TCP_OOO_DROP);
			stats_inc(tcp_st(ts), STATS_TCP_OOO_RX);
			c->flags |= TCP_F_ACK_NOW;
		} else {
			/* Only old bytes: ACK them again; a FIN right after them is still news. */
			c->flags |= TCP_F_ACK_NOW;
			if (fin && seq == c->rcv_nxt) {
				tcp_rcv_fin(c);
				readable = true;
			}
		}
	} else if ((sg->flags & RTE_TCP_FIN_FLAG) && sg->seq == c->rcv_nxt) {
		tcp_rcv_fin(c);
		readable = true;
	}

	if (readable && !(c->flags & TCP_F_ORPHAN) && (c->flags & TCP_F_NOTIFIED) &&
		c->app != NULL && c->app->readable != NULL) {
		c->app->readable(c);
		if (c->state == TCP_ST_CLOSED)
			return kept;
	}
	tcp_output(c);
	return kept;
}

/* Passive open from a SYN on a listening port. */
static void
tcp_in_syn(struct tcp_stack *ts, const struct net_if *nif, const struct tcp_listener *l,
	const struct rte_ether_addr *smac, uint32_t laddr, uint32_t raddr, uint16_t lport,
	uint16_t rport, const struct tcp_seg *sg)
{
	const struct tcp_cfg *cfg = ts->cfg;
	uint16_t peer_mss = tcp_peer_mss(ts, &sg->opts);
	bool cookie = cfg->syncookies == TCP_SYNCOOKIE_ALWAYS;
	struct tcp_conn *c;

	stats_inc(tcp_st(ts), STATS_TCP_SYN_RX);
	if (cfg->max_per_src && tcp_src_count(ts, raddr) >= cfg->max_per_src) {
		stats_inc(tcp_st(ts), STATS_TCP_SRC_LIMIT);
		return;
	}
	if (ts->n_half_open >= cfg->synq_max || ts->n_active >= cfg->max_conns) {
		if (cfg->syncookies == TCP_SYNCOOKIE_NEVER) {
			stats_inc(tcp_st(ts), STATS_TCP_SYN_DROP);
			return;
		}
		cookie = true;
	}
	if (!cookie) {
		c = tcp_conn_alloc(ts, laddr, raddr, lport, rport);
		if (c == NULL) {
			if (cfg->syncookies == TCP_SYNCOOKIE_NEVER) {
				stats_inc(tcp_st(ts), STATS_TCP_SYN_DROP);
				return;
			}
			cookie = true;
		}
	}
	if (cookie) {
		uint32_t t = ts->now / 1000 / TCP_COOKIE_PERIOD;
		int ws = sg->opts.has_ws ? sg->opts.wscale : -1;
		uint32_t iss = tcp_syncookie_make(cfg->secret, laddr, raddr, lport, rport, sg->seq,
			peer_mss, ws, t);

		ts->cookies_used = true;
		ts->cookie_last = ts->now;
		tcp_send_synack_cookie(ts, nif, smac, laddr, raddr, lport, rport, iss, sg->seq + 1,
			cfg->mss, sg->opts.has_ws);
		return;
	}
	c->port_id = nif->port_id;
	c->rmac = *smac;
	c->app = l->app;
	c->udata = l->udata;
	c->flags |= TCP_F_PASSIVE;
	c->irs = sg->seq;
	c->rcv_nxt = sg->seq + 1;
	c->rcv_adv = c->rcv_nxt;
	c->mss = peer_mss;
	if (sg->opts.has_ws) {
		c->flags |= TCP_F_WS_OK;
		c->snd_ws = sg->opts.wscale;
		c->rcv_ws = tcp_rcv_wscale(cfg);
	}
	if (sg->opts.sack_ok && cfg->sack)
		c->flags |= TCP_F_SACK_OK;
	tcp_conn_init_seq(c,
		tcp_isn(cfg->secret, laddr, raddr, lport, rport, (uint64_t) ts->now * 1000));
	c->snd_wnd = sg->wnd;
	tcp_conn_set_state(c, TCP_ST_SYN_RCVD);
	c->rtt_ts = ts->now;
	(void) tcp_send_ctl(c, RTE_TCP_SYN_FLAG | RTE_TCP_ACK_FLAG);
	c->snd_nxt = c->iss + 1;
	c->snd_max = c->snd_nxt;
	tcp_tmr_set(c, TCP_TMR_RXMT, c->rto);
}

/* A handshake-completing ACK with no connection: a SYN cookie? @return the connection. */
static struct tcp_conn *
tcp_in_cookie(struct tcp_stack *ts, const struct net_if *nif, const struct tcp_listener *l,
	const struct rte_ether_addr *smac, uint32_t laddr, uint32_t raddr, uint16_t lport,
	uint16_t rport, const struct tcp_seg *sg)
{
	const struct tcp_cfg *cfg = ts->cfg;
	uint32_t t = ts->now / 1000 / TCP_COOKIE_PERIOD;
	struct tcp_conn *c;
	uint16_t mss;
	int ws;

	if (cfg->syncookies != TCP_SYNCOOKIE_ALWAYS && !ts->cookies_used)
		return NULL;
	if (tcp_syncookie_check(cfg->secret, laddr, raddr, lport, rport, sg->seq - 1, sg->ack - 1,
		    t, &mss, &ws) != 0) {
		stats_inc(tcp_st(ts), STATS_TCP_SYNCOOKIE_BAD);
		return NULL;
	}
	if (cfg->max_per_src && tcp_src_count(ts, raddr) >= cfg->max_per_src) {
		stats_inc(tcp_st(ts), STATS_TCP_SRC_LIMIT);
		return NULL;
	}
	c = tcp_conn_alloc(ts, laddr, raddr, lport, rport);
	if (c == NULL)
		return NULL;
	stats_inc(tcp_st(ts), STATS_TCP_SYNCOOKIE_OK);
	c->port_id = nif->port_id;
	c->rmac = *smac;
	c->app = l->app;
	c->udata = l->udata;
	c->flags |= TCP_F_PASSIVE;
	c->irs = sg->seq - 1;
	c->rcv_nxt = sg->seq;
	c->rcv_adv = c->rcv_nxt + RTE_MIN(cfg->rcvbuf, 65535u);
	c->mss = mss;
	if (ws >= 0) {
		c->flags |= TCP_F_WS_OK;
		c->snd_ws = (uint8_t) ws;
		c->rcv_ws = tcp_rcv_wscale(cfg);
	}
	tcp_conn_init_seq(c, sg->ack - 1);
	c->snd_nxt = c->snd_max = sg->ack;
	c->snd_una = c->iss;
	tcp_conn_set_state(c, TCP_ST_SYN_RCVD);
	c->flags |= TCP_F_COOKIE; /* no RTT sample from a handshake we did not time */
	return c;
}

enum net_verdict
tcp_input(struct tcp_stack *ts, const struct net_if *nif, struct rte_mbuf *m, uint16_t l2len,
	uint16_t l3len)
{
	struct stats_lcore *st = tcp_st(ts);
	const struct rte_ipv4_hdr *ip =
		rte_pktmbuf_mtod_offset(m, const struct rte_ipv4_hdr *, l2len);
	uint16_t l4len = rte_be_to_cpu_16(ip->total_length) - l3len;
	const struct rte_tcp_hdr *th;
	struct rte_ether_addr smac;
	struct tcp_seg sg;
	struct tcp_conn *c;
	uint32_t laddr, raddr, sum;
	uint16_t lport, rport, doff, raw;
	const struct tcp_listener *l = NULL;

	stats_inc(st, STATS_TCP_SEG_RX);
	/* The queues hold one buffer per segment and trim it by its data_len: a frame the PMD
	 * scattered over several buffers becomes one, or goes (never silently mis-trimmed). */
	if (unlikely(m->nb_segs > 1)) {
		if (rte_pktmbuf_linearize(m) != 0) {
			stats_inc(st, STATS_DROP_TCP_CHAINED);
			return NET_DROP;
		}
		ip = rte_pktmbuf_mtod_offset(m, const struct rte_ipv4_hdr *, l2len);
	}
	if (unlikely(
		    l4len < sizeof(*th) || rte_pktmbuf_data_len(m) < l2len + l3len + sizeof(*th))) {
		stats_inc(st, STATS_DROP_TCP_TRUNCATED);
		return NET_DROP;
	}
	th = rte_pktmbuf_mtod_offset(m, const struct rte_tcp_hdr *, l2len + l3len);
	doff = (uint16_t) ((th->data_off >> 4) * 4);
	if (unlikely(doff < sizeof(*th) || doff > l4len ||
		     rte_pktmbuf_data_len(m) < l2len + l3len + doff)) {
		stats_inc(st, STATS_DROP_TCP_BAD_OFF);
		return NET_DROP;
	}
	if (unlikely(rte_raw_cksum_mbuf(m, l2len + l3len, l4len, &raw) != 0)) {
		stats_inc(st, STATS_DROP_TCP_TRUNCATED);
		return NET_DROP;
	}
	sum = (uint32_t) raw + rte_ipv4_phdr_cksum(ip, 0);
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	if (unlikely(sum != 0xffff)) {
		stats_inc(st, STATS_DROP_TCP_BAD_CKSUM);
		return NET_DROP;
	}
	laddr = ip->dst_addr;
	raddr = ip->src_addr;
	lport = th->dst_port;
	rport = th->src_port;
	if (unlikely(lport == 0 || rport == 0)) {
		stats_inc(st, STATS_DROP_TCP_BAD_PORT);
		return NET_DROP;
	}

	/* No usable RSS: the PMD spreads flows its own way (af_packet fanout even rolls over to
	 * another queue when one is full), so the owner of a flow is a software Toeplitz hash
	 * of it, the one tcp_port_choose() aims at; others' frames go over the owner's ring. */
	if (ts->n_queues > 1 && !(nif->flags & NET_IF_F_RSS)) {
		uint16_t owner =
			(uint16_t) (tcp_rss_hash(nif->rss_key, raddr, laddr, rport, lport) %
				    ts->n_queues);

		if (owner != ts->queue_id) {
			if (rte_ring_enqueue(ts->peers[owner]->handoff, m) != 0) {
				stats_inc(st, STATS_TCP_HANDOFF_DROP);
				return NET_DROP;
			}
			stats_inc(st, STATS_TCP_HANDOFF);
			return NET_CONSUMED;
		}
	}

	sg.seq = rte_be_to_cpu_32(th->sent_seq);
	sg.ack = rte_be_to_cpu_32(th->recv_ack);
	sg.wnd = rte_be_to_cpu_16(th->rx_win);
	sg.flags = th->tcp_flags & (RTE_TCP_FIN_FLAG | RTE_TCP_SYN_FLAG | RTE_TCP_RST_FLAG |
					   RTE_TCP_PSH_FLAG | RTE_TCP_ACK_FLAG | RTE_TCP_URG_FLAG);
	sg.len = l4len - doff;
	memset(&sg.opts, 0, sizeof(sg.opts));
	if ((sg.flags & RTE_TCP_SYN_FLAG) && doff > sizeof(*th)) {
		if (tcp_opts_parse((const uint8_t *) (th + 1), doff - sizeof(*th), &sg.opts) != 0)
			stats_inc(st, STATS_TCP_BAD_OPTIONS);
	}
	smac = rte_pktmbuf_mtod(m, const struct rte_ether_hdr *)->src_addr;
	rte_pktmbuf_adj(m, (uint16_t) (l2len + l3len + doff));

	c = tcp_tbl_lookup(ts, laddr, raddr, lport, rport);
	if (c == NULL) {
		for (unsigned int i = 0; i < TCP_MAX_LISTENERS; i++)
			if (ts->listeners[i].port == lport) {
				l = &ts->listeners[i];
				break;
			}
		if (sg.flags & RTE_TCP_RST_FLAG) {
			stats_inc(st, STATS_TCP_RST_NO_CONN);
			return NET_DROP;
		}
		if (l != NULL && (sg.flags & (RTE_TCP_SYN_FLAG | RTE_TCP_ACK_FLAG |
						     RTE_TCP_FIN_FLAG)) == RTE_TCP_SYN_FLAG) {
			tcp_in_syn(ts, nif, l, &smac, laddr, raddr, lport, rport, &sg);
			return NET_DROP;
		}
		if (l != NULL &&
			(sg.flags & (RTE_TCP_SYN_FLAG | RTE_TCP_ACK_FLAG)) == RTE_TCP_ACK_FLAG)
			c = tcp_in_cookie(ts, nif, l, &smac, laddr, raddr, lport, rport, &sg);
		if (c == NULL) {
			/* RFC 9293 §3.10.7.1: a reset for anything else, never for a reset. */
			uint32_t seglen = sg.len + !!(sg.flags & RTE_TCP_SYN_FLAG) +
					  !!(sg.flags & RTE_TCP_FIN_FLAG);

			stats_inc(st, STATS_TCP_NO_CONN);
			if (sg.flags & RTE_TCP_ACK_FLAG)
				tcp_send_rst_reply(ts, nif, &smac, laddr, raddr, lport, rport,
					sg.ack, 0, false);
			else
				tcp_send_rst_reply(ts, nif, &smac, laddr, raddr, lport, rport, 0,
					sg.seq + seglen, true);
			return NET_DROP;
		}
	}
	return tcp_conn_input(c, m, &sg, &smac) ? NET_CONSUMED : NET_DROP;
}

void
tcp_icmp_unreach(struct tcp_stack *ts, const void *inner, uint8_t code, uint16_t mtu)
{
	const struct rte_ipv4_hdr *ip = inner;
	uint16_t ihl = (uint16_t) ((ip->version_ihl & RTE_IPV4_HDR_IHL_MASK) * 4);
	const uint8_t *l4 = (const uint8_t *) inner + ihl;
	uint16_t sport, dport;
	uint32_t seq;
	struct tcp_conn *c;

	if (ihl < sizeof(*ip) || ip->next_proto_id != IPPROTO_TCP)
		return;
	/* The quoted packet is one we sent: its source is us. */
	memcpy(&sport, l4, 2);
	memcpy(&dport, l4 + 2, 2);
	memcpy(&seq, l4 + 4, 4);
	seq = rte_be_to_cpu_32(seq);
	c = tcp_tbl_lookup(ts, ip->src_addr, ip->dst_addr, sport, dport);
	if (c == NULL)
		return;
	/* RFC 5927 §4.1: only a sequence number in flight makes the error believable. */
	if (!tcp_seq_in(seq, c->snd_una, c->snd_max + 1)) {
		stats_inc(tcp_st(ts), STATS_TCP_ICMP_IGNORED);
		return;
	}
	stats_inc(tcp_st(ts), STATS_TCP_ICMP);
	if (code == 4) {
		/* Fragmentation needed (RFC 1191): lower the MSS, resend what was too big. */
		uint16_t mss = mtu > 68 + 40 ? (uint16_t) (mtu - 40) : 536;

		if (mss < c->mss) {
			c->mss = RTE_MAX(mss, (uint16_t) 536);
			c->snd_nxt = c->snd_una;
			tcp_output(c);
		}
		return;
	}
	/* RFC 1122 §4.2.3.9 and RFC 5461: net, host, protocol and port unreachable and
	 * "administratively prohibited" abort a connection being opened (as Linux does); an
	 * established connection takes them as soft errors and goes on retransmitting. */
	if (c->state == TCP_ST_SYN_SENT && (code <= 3 || code == 13))
		tcp_conn_drop(c, code == 3 ? -ECONNREFUSED : -EHOSTUNREACH);
}
