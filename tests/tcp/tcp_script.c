/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * TCP conformance runner: runs one tests/tcp/NAME.pkt script against the real stack (lcore,
 * net_*, tcp_*) in this process. One ethdev of the ring PMD stands between the script and
 * lcore_poll_once(): inbound segments are enqueued on its rx ring, what the stack transmits
 * is dequeued from its tx ring and compared with the script. Virtual time in 1 ms ticks
 * (tcp_stack.clock_manual); the runner answers ARP itself. Single-threaded, main lcore only.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <arpa/inet.h>

#include <rte_arp.h>
#include <rte_eal.h>
#include <rte_eth_ring.h>
#include <rte_ethdev.h>
#include <rte_ether.h>
#include <rte_icmp.h>
#include <rte_ip.h>
#include <rte_lcore.h>
#include <rte_malloc.h>
#include <rte_mbuf.h>
#include <rte_random.h>
#include <rte_ring.h>
#include <rte_tcp.h>

#include "lcore.h"
#include "port.h"
#include "stats.h"
#include "tcp.h"
#include "tcp_script.h"
#include "ndg_common.h"

#define TSC_OUR_ADDR   "198.18.1.2"
#define TSC_OUR_PLEN   24
#define TSC_GATEWAY    "198.18.1.1"
#define TSC_PEER_PORT  40000
#define TSC_LISTEN     25
#define TSC_MAX_FLOWS  16
#define TSC_MAX_PEND   256
#define TSC_MAX_EVENTS 32
#define TSC_TAIL_MS    100	   /* default quiet time after the last line */
#define TSC_PEER_ISN   1000000000u /* flow i starts at this + i * 100000000 */

static const struct rte_ether_addr tsc_our_mac = {{0x02, 0, 0, 0, 0, 0x02}};
static const struct rte_ether_addr tsc_peer_mac = {{0x02, 0, 0, 0, 0, 0x01}};

/* A peer endpoint the script talks as, and the sequence bases its numbers are relative to. */
struct tsc_flow {
	uint32_t raddr; /* network byte order */
	uint16_t rport; /* host order */
	uint16_t lport; /* host order; 0 until known */
	uint32_t peer_isn;
	uint32_t iss;
	bool iss_known;
};

struct tsc_pend {
	struct rte_mbuf *m;
	uint32_t t;
};

enum tsc_ev_type {
	TSC_EV_ACCEPTED = 0, /* accepted() */
	TSC_EV_CONNECTED,    /* connected(err) */
	TSC_EV_CLOSED,	     /* closed(err) */
	TSC_EV_MAX
};

static const char *const tsc_ev_names[TSC_EV_MAX] = {"accepted", "connected", "closed"};

struct tsc_ev {
	enum tsc_ev_type type;
	int err; /* positive errno */
	uint32_t t;
};

static struct {
	struct tsc_script sc;
	struct rte_mempool *mp;
	struct rte_ring *rx;
	struct rte_ring *tx;
	uint16_t port_id;
	struct net_if nif;
	struct lcore_ctx *ctx;
	struct tcp_stack *ts;
	uint32_t our_addr;
	uint32_t gateway;
	uint32_t now; /* virtual ms */
	const struct tsc_line *line;
	struct tsc_flow flows[TSC_MAX_FLOWS];
	unsigned int n_flows;
	struct tsc_flow *deflt; /* where lines without from/to go */
	struct tsc_pend pend[TSC_MAX_PEND];
	unsigned int pend_head, pend_n;
	struct tsc_ev ev[TSC_MAX_EVENTS];
	unsigned int ev_head, ev_n;
	struct tcp_conn *cur; /* the application's connection */
	bool refuse_next;
} g;

/* ---- failures ---- */

static void tsc_fail(const char *fmt, ...) __attribute__((noreturn, format(printf, 1, 2)));

static void
tsc_fail(const char *fmt, ...)
{
	va_list ap;

	if (g.line != NULL)
		fprintf(stderr, "FAIL %s:%d: ", g.sc.path, g.line->lineno);
	else
		fprintf(stderr, "FAIL %s: after the last line: ", g.sc.path);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n");
	if (g.line != NULL)
		fprintf(stderr, "  script line: %s\n", g.line->text);
	fprintf(stderr, "  virtual time: %u.%03u\n", g.now / 1000, g.now % 1000);
	exit(1);
}

/* ---- flows ---- */

static struct tsc_flow *
tsc_flow_get(uint32_t raddr, uint16_t rport)
{
	struct tsc_flow *f;

	for (unsigned int i = 0; i < g.n_flows; i++)
		if (g.flows[i].raddr == raddr && g.flows[i].rport == rport)
			return &g.flows[i];
	if (g.n_flows == TSC_MAX_FLOWS)
		tsc_fail("more than %u peer endpoints", TSC_MAX_FLOWS);
	f = &g.flows[g.n_flows];
	memset(f, 0, sizeof(*f));
	f->raddr = raddr;
	f->rport = rport;
	f->lport = g.sc.local_port ? g.sc.local_port : g.sc.listen_port;
	f->peer_isn = TSC_PEER_ISN + g.n_flows * 100000000u;
	g.n_flows++;
	return f;
}

static struct tsc_flow *
tsc_flow_of(const struct tsc_seg *s)
{
	if (!s->has_addr)
		return g.deflt;
	return tsc_flow_get(s->addr, s->port ? s->port : g.sc.peer_port);
}

/* ---- the application ---- */

static void
tsc_ev_push(enum tsc_ev_type type, int err)
{
	if (g.ev_n == TSC_MAX_EVENTS)
		tsc_fail("more than %u application events not checked", TSC_MAX_EVENTS);
	g.ev[(g.ev_head + g.ev_n++) % TSC_MAX_EVENTS] = (struct tsc_ev){type, err, g.now};
}

static int
tsc_app_accepted(struct tcp_conn *c)
{
	if (g.refuse_next) {
		g.refuse_next = false;
		return -1;
	}
	g.cur = c;
	tsc_ev_push(TSC_EV_ACCEPTED, 0);
	return 0;
}

static void
tsc_app_connected(struct tcp_conn *c, int err)
{
	g.cur = err == 0 ? c : NULL;
	tsc_ev_push(TSC_EV_CONNECTED, -err);
}

static void
tsc_app_readable(struct tcp_conn *c)
{
	(void) c; /* the script reads when it says so */
}

static void
tsc_app_writable(struct tcp_conn *c)
{
	(void) c;
}

static void
tsc_app_closed(struct tcp_conn *c, int err)
{
	if (g.cur == c)
		g.cur = NULL;
	tsc_ev_push(TSC_EV_CLOSED, -err);
}

static const struct tcp_app tsc_app = {
	.accepted = tsc_app_accepted,
	.connected = tsc_app_connected,
	.readable = tsc_app_readable,
	.writable = tsc_app_writable,
	.closed = tsc_app_closed,
};

/* ---- frames ---- */

static struct rte_mbuf *
tsc_frame_alloc(uint16_t len, struct rte_ether_hdr **eh, uint16_t ethertype)
{
	struct rte_mbuf *m = rte_pktmbuf_alloc(g.mp);
	char *p;

	if (m == NULL)
		tsc_fail("mbuf pool empty");
	/* Ethernet minimum frame: the stack must trim the padding. */
	p = rte_pktmbuf_append(m, (uint16_t) RTE_MAX(len, (uint16_t) RTE_ETHER_MIN_LEN - 4));
	if (p == NULL)
		tsc_fail("frame of %u bytes does not fit an mbuf", len);
	memset(p, 0, rte_pktmbuf_data_len(m));
	*eh = (struct rte_ether_hdr *) p;
	(*eh)->dst_addr = tsc_our_mac;
	(*eh)->src_addr = tsc_peer_mac;
	(*eh)->ether_type = rte_cpu_to_be_16(ethertype);
	return m;
}

static void
tsc_ip_fill(struct rte_ipv4_hdr *ip, uint32_t src, uint32_t dst, uint8_t proto, uint16_t l4len)
{
	ip->version_ihl = RTE_IPV4_VHL_DEF;
	ip->total_length = rte_cpu_to_be_16((uint16_t) (sizeof(*ip) + l4len));
	ip->fragment_offset = RTE_BE16(RTE_IPV4_HDR_DF_FLAG);
	ip->time_to_live = 64;
	ip->next_proto_id = proto;
	ip->src_addr = src;
	ip->dst_addr = dst;
	ip->hdr_checksum = 0;
	ip->hdr_checksum = rte_ipv4_cksum(ip);
}

/* Options of a script segment as wire bytes (EOL-padded to 4), SACK edges made absolute. */
static uint16_t
tsc_opts_encode(const struct tsc_seg *s, const struct tsc_flow *f, uint8_t *out)
{
	uint16_t n = 0;

	for (unsigned int i = 0; i < s->n_opts; i++) {
		const struct tsc_opt *o = &s->opts[i];
		uint32_t be;

		if (n + 2 + 4u * o->n > 40)
			tsc_fail("options longer than 40 bytes");
		switch (o->kind) {
		case 0:
		case 1:
			out[n++] = o->kind;
			break;
		case 2:
			out[n++] = 2;
			out[n++] = 4;
			out[n++] = (uint8_t) (o->v[0] >> 8);
			out[n++] = (uint8_t) o->v[0];
			break;
		case 3:
			out[n++] = 3;
			out[n++] = 3;
			out[n++] = (uint8_t) o->v[0];
			break;
		case 4:
			out[n++] = 4;
			out[n++] = 2;
			break;
		case 5:
		case 8:
			out[n++] = o->kind;
			out[n++] = (uint8_t) (2 + 4 * o->n);
			for (unsigned int k = 0; k < o->n; k++) {
				be = rte_cpu_to_be_32(o->kind == 5 ? f->iss + o->v[k] : o->v[k]);
				memcpy(&out[n], &be, 4);
				n += 4;
			}
			break;
		default:
			break;
		}
	}
	while (n % 4)
		out[n++] = 0;
	return n;
}

static void
tsc_inject(struct rte_mbuf *m)
{
	if (rte_ring_enqueue(g.rx, m) != 0)
		tsc_fail("rx ring full");
}

/*
 * Spread the <len> payload bytes at offset <off> of frame <m> over <n> buffers, as a PMD
 * with scattered receive would hand it over: the headers and the first part stay in <m>.
 */
static void
tsc_chain(struct rte_mbuf *m, uint32_t off, uint32_t len, uint32_t n)
{
	uint32_t per = len / n, at = off + per;
	struct rte_mbuf *last = m;

	for (uint32_t k = 1; k < n; k++) {
		uint32_t part = k + 1 < n ? per : off + len - at;
		struct rte_mbuf *seg = rte_pktmbuf_alloc(g.mp);

		if (seg == NULL)
			tsc_fail("out of mbufs");
		memcpy(rte_pktmbuf_append(seg, (uint16_t) part),
			rte_pktmbuf_mtod_offset(m, const uint8_t *, at), part);
		last->next = seg;
		last = seg;
		at += part;
	}
	m->data_len = (uint16_t) (off + per);
	m->nb_segs = (uint16_t) n;
	/* pkt_len stays: the whole frame */
}

static void
tsc_send_segment(const struct tsc_line *l)
{
	const struct tsc_seg *s = &l->seg;
	struct tsc_flow *f = tsc_flow_of(s);
	uint8_t opt[44];
	uint16_t optlen = tsc_opts_encode(s, f, opt);
	uint16_t l4len = (uint16_t) (sizeof(struct rte_tcp_hdr) + optlen + s->len);
	struct rte_ether_hdr *eh;
	struct rte_mbuf *m =
		tsc_frame_alloc((uint16_t) (sizeof(*eh) + 20 + l4len), &eh, RTE_ETHER_TYPE_IPV4);
	struct rte_ipv4_hdr *ip = (struct rte_ipv4_hdr *) (eh + 1);
	struct rte_tcp_hdr *th = (struct rte_tcp_hdr *) (ip + 1);
	uint8_t *pay = (uint8_t *) (th + 1) + optlen;

	if (f->lport == 0)
		tsc_fail("our port for this peer is not known yet (no SYN seen)");
	th->src_port = rte_cpu_to_be_16(f->rport);
	th->dst_port = rte_cpu_to_be_16(f->lport);
	th->sent_seq = rte_cpu_to_be_32(s->abs_seq ? s->seq : f->peer_isn + s->seq);
	th->recv_ack = rte_cpu_to_be_32(
		!s->has_ack ? 0 : (s->abs_ack || !f->iss_known ? s->ack : f->iss + s->ack));
	th->data_off = (uint8_t) (((sizeof(*th) + optlen) / 4) << 4);
	th->tcp_flags = s->flags;
	th->rx_win = rte_cpu_to_be_16((uint16_t) (s->has_win ? s->win : 65535));
	memcpy(th + 1, opt, optlen);
	for (uint32_t i = 0; i < s->len; i++)
		pay[i] = s->has_payload ? s->payload[i] : (uint8_t) ('a' + i % 26);
	tsc_ip_fill(ip, f->raddr, g.our_addr, IPPROTO_TCP, l4len);
	th->cksum = 0;
	th->cksum = rte_ipv4_udptcp_cksum(ip, th);
	if (s->chain > 1)
		tsc_chain(m, (uint32_t) (pay - rte_pktmbuf_mtod(m, uint8_t *)), s->len, s->chain);
	tsc_inject(m);
}

static void
tsc_send_icmp(const struct tsc_line *l)
{
	struct tsc_flow *f = g.deflt;
	uint16_t l4len = (uint16_t) (sizeof(struct rte_icmp_hdr) + 20 + 8);
	struct rte_ether_hdr *eh;
	struct rte_mbuf *m =
		tsc_frame_alloc((uint16_t) (sizeof(*eh) + 20 + l4len), &eh, RTE_ETHER_TYPE_IPV4);
	struct rte_ipv4_hdr *ip = (struct rte_ipv4_hdr *) (eh + 1);
	struct rte_icmp_hdr *ih = (struct rte_icmp_hdr *) (ip + 1);
	struct rte_ipv4_hdr *qip = (struct rte_ipv4_hdr *) (ih + 1);
	uint8_t *qtcp = (uint8_t *) (qip + 1);
	uint16_t sport = rte_cpu_to_be_16(f->lport), dport = rte_cpu_to_be_16(f->rport);
	uint32_t seq = rte_cpu_to_be_32(f->iss + l->seg.seq);

	ih->icmp_type = 3;
	ih->icmp_code = l->icmp_code;
	ih->icmp_seq_nb = rte_cpu_to_be_16(l->icmp_mtu);
	/* The quoted header of a segment we sent: from us to the peer. */
	tsc_ip_fill(qip, g.our_addr, f->raddr, IPPROTO_TCP, 1400);
	memcpy(qtcp, &sport, 2);
	memcpy(qtcp + 2, &dport, 2);
	memcpy(qtcp + 4, &seq, 4);
	ih->icmp_cksum = 0;
	ih->icmp_cksum = (uint16_t) ~rte_raw_cksum(ih, l4len);
	tsc_ip_fill(ip, l->seg.has_addr ? l->seg.addr : g.gateway, g.our_addr, IPPROTO_ICMP, l4len);
	tsc_inject(m);
}

/* The peer answers every ARP request of ours, whatever the address (it is the router too). */
static void
tsc_arp_answer(const struct rte_arp_hdr *req)
{
	struct rte_ether_hdr *eh;
	struct rte_mbuf *m =
		tsc_frame_alloc(sizeof(*eh) + sizeof(struct rte_arp_hdr), &eh, RTE_ETHER_TYPE_ARP);
	struct rte_arp_hdr *ah = (struct rte_arp_hdr *) (eh + 1);

	ah->arp_hardware = RTE_BE16(RTE_ARP_HRD_ETHER);
	ah->arp_protocol = RTE_BE16(RTE_ETHER_TYPE_IPV4);
	ah->arp_hlen = RTE_ETHER_ADDR_LEN;
	ah->arp_plen = 4;
	ah->arp_opcode = RTE_BE16(RTE_ARP_OP_REPLY);
	ah->arp_data.arp_sha = tsc_peer_mac;
	ah->arp_data.arp_sip = req->arp_data.arp_tip;
	ah->arp_data.arp_tha = tsc_our_mac;
	ah->arp_data.arp_tip = req->arp_data.arp_sip;
	tsc_inject(m);
}

/* Check a transmitted frame's headers; ARP requests are answered and dropped. @return true
 * when it is a TCP segment for the pending list. */
static bool
tsc_out_check(struct rte_mbuf *m, bool *arp)
{
	const struct rte_ether_hdr *eh = rte_pktmbuf_mtod(m, const struct rte_ether_hdr *);
	const struct rte_ipv4_hdr *ip = (const struct rte_ipv4_hdr *) (eh + 1);
	uint16_t l4len;

	if (m->nb_segs != 1)
		tsc_fail("transmitted a multi-segment frame");
	if (eh->ether_type == RTE_BE16(RTE_ETHER_TYPE_ARP)) {
		const struct rte_arp_hdr *ah = (const struct rte_arp_hdr *) (eh + 1);

		if (ah->arp_opcode == RTE_BE16(RTE_ARP_OP_REQUEST)) {
			tsc_arp_answer(ah);
			*arp = true;
		}
		return false;
	}
	if (eh->ether_type != RTE_BE16(RTE_ETHER_TYPE_IPV4) || ip->next_proto_id != IPPROTO_TCP)
		tsc_fail("transmitted a frame that is not IPv4/TCP (ethertype %#x)",
			rte_be_to_cpu_16(eh->ether_type));
	if (!rte_is_same_ether_addr(&eh->dst_addr, &tsc_peer_mac) ||
		!rte_is_same_ether_addr(&eh->src_addr, &tsc_our_mac))
		tsc_fail("transmitted a frame with wrong MAC addresses");
	if (rte_raw_cksum(ip, sizeof(*ip)) != 0xffff)
		tsc_fail("transmitted an IPv4 header with a bad checksum");
	l4len = (uint16_t) (rte_be_to_cpu_16(ip->total_length) - sizeof(*ip));
	if (rte_pktmbuf_data_len(m) != sizeof(*eh) + sizeof(*ip) + l4len)
		tsc_fail("transmitted frame length %u disagrees with the IP length",
			rte_pktmbuf_data_len(m));
	if (ip->src_addr != g.our_addr)
		tsc_fail("transmitted from an address that is not ours");
	if (rte_ipv4_udptcp_cksum_verify(ip, ip + 1) != 0)
		tsc_fail("transmitted a TCP segment with a bad checksum");
	return true;
}

/* One loop iteration at the current tick, then collect what was sent (ARP answered). */
static void
tsc_poll(void)
{
	for (unsigned int round = 0; round < 8; round++) {
		struct rte_mbuf *m;
		bool arp = false;

		lcore_poll_once(g.ctx);
		while (rte_ring_dequeue(g.tx, (void **) &m) == 0) {
			if (!tsc_out_check(m, &arp)) {
				rte_pktmbuf_free(m);
				continue;
			}
			if (g.pend_n == TSC_MAX_PEND)
				tsc_fail("more than %u segments sent and not expected",
					TSC_MAX_PEND);
			g.pend[(g.pend_head + g.pend_n++) % TSC_MAX_PEND] =
				(struct tsc_pend){m, g.now};
		}
		if (!arp)
			return;
	}
}

/* ---- segments back into script form ---- */

static void
tsc_seg_decode(const struct rte_mbuf *m, struct tsc_seg *s, struct tsc_flow **fp,
	const struct tsc_seg *want)
{
	const struct rte_ipv4_hdr *ip = rte_pktmbuf_mtod_offset(m, const struct rte_ipv4_hdr *,
		sizeof(struct rte_ether_hdr));
	const struct rte_tcp_hdr *th = (const struct rte_tcp_hdr *) (ip + 1);
	uint16_t doff = (uint16_t) ((th->data_off >> 4) * 4);
	const uint8_t *o = (const uint8_t *) (th + 1);
	uint32_t seq = rte_be_to_cpu_32(th->sent_seq), ack = rte_be_to_cpu_32(th->recv_ack);
	struct tsc_flow *f = tsc_flow_get(ip->dst_addr, rte_be_to_cpu_16(th->dst_port));

	memset(s, 0, sizeof(*s));
	if (f->lport == 0)
		f->lport = rte_be_to_cpu_16(th->src_port);
	if ((th->tcp_flags & RTE_TCP_SYN_FLAG) && !f->iss_known) {
		f->iss = seq;
		f->iss_known = true;
	}
	s->flags = th->tcp_flags;
	s->abs_seq = want->abs_seq || !f->iss_known;
	s->seq = s->abs_seq ? seq : seq - f->iss;
	s->len = (uint32_t) (rte_be_to_cpu_16(ip->total_length) - sizeof(*ip) - doff);
	s->has_ack = (th->tcp_flags & RTE_TCP_ACK_FLAG) || ack != 0;
	s->abs_ack = want->abs_ack;
	s->ack = s->abs_ack ? ack : ack - f->peer_isn;
	s->has_win = true;
	s->win = rte_be_to_cpu_16(th->rx_win);
	s->has_opts = doff > sizeof(*th) || want->has_opts;
	for (uint16_t i = 0; i < doff - sizeof(*th) && s->n_opts < TSC_MAX_OPTS;) {
		struct tsc_opt *x = &s->opts[s->n_opts++];
		uint8_t len = o[i] <= 1 ? 1 : o[i + 1];

		x->kind = o[i];
		if (len == 0)
			tsc_fail("transmitted an option of length 0");
		if (o[i] == 2)
			x->v[x->n++] = (uint32_t) (o[i + 2] << 8 | o[i + 3]);
		else if (o[i] == 3)
			x->v[x->n++] = o[i + 2];
		else if (o[i] == 5 || o[i] == 8)
			for (unsigned int k = 0; k + 4 <= len - 2u && x->n < 8; k += 4) {
				uint32_t v;

				memcpy(&v, &o[i + 2 + k], 4);
				v = rte_be_to_cpu_32(v);
				x->v[x->n++] = o[i] == 5 ? v - f->peer_isn : v;
			}
		i = (uint16_t) (i + len);
	}
	s->payload = (uint8_t *) (uintptr_t) ((const uint8_t *) th + doff);
	s->has_payload = want->has_payload;
	s->has_addr = want->has_addr || f != g.deflt;
	s->addr = f->raddr;
	s->port = f->rport;
	*fp = f;
}

static bool
tsc_seg_match(const struct tsc_seg *want, const struct tsc_flow *wf, const struct tsc_seg *got,
	const struct tsc_flow *gf)
{
	if (wf != gf || want->flags != got->flags || want->seq != got->seq || want->len != got->len)
		return false;
	if (want->has_ack && want->ack != got->ack)
		return false;
	if (want->has_win && want->win != got->win)
		return false;
	if (want->n_opts != got->n_opts)
		return false;
	for (unsigned int i = 0; i < want->n_opts; i++) {
		const struct tsc_opt *a = &want->opts[i], *b = &got->opts[i];

		if (a->kind != b->kind || a->n != b->n ||
			memcmp(a->v, b->v, sizeof(a->v[0]) * a->n) != 0)
			return false;
	}
	if (want->has_payload && memcmp(want->payload, got->payload, want->len) != 0)
		return false;
	return true;
}

/* ---- virtual time ---- */

static void
tsc_unexpected(void)
{
	struct tsc_pend *p = &g.pend[g.pend_head];
	struct tsc_seg s, none;
	struct tsc_flow *f;
	char buf[512];

	memset(&none, 0, sizeof(none));
	tsc_seg_decode(p->m, &s, &f, &none);
	tsc_fail("unexpected segment sent at %u.%03u:\n  actual: %s", p->t / 1000, p->t % 1000,
		tsc_seg_format(&s, '>', buf, sizeof(buf)));
}

/* Step the clock to <t> one tick at a time; nothing may be sent before <t>. */
static void
tsc_advance(uint32_t t)
{
	while (g.now < t) {
		if (g.pend_n != 0)
			tsc_unexpected();
		g.now++;
		g.ts->now = g.now + g.sc.clock_base_ms;
		tsc_poll();
	}
}

static void
tsc_expect_out(const struct tsc_line *l, uint32_t t)
{
	uint32_t lo = t > l->tol_ms ? t - l->tol_ms : 0, hi = t + l->tol_ms;
	struct tsc_flow *wf = tsc_flow_of(&l->seg), *gf;
	struct tsc_seg got;
	struct tsc_pend p;
	char a[512], b[512];

	while (g.pend_n == 0 && g.now < hi) {
		g.now++;
		g.ts->now = g.now + g.sc.clock_base_ms;
		tsc_poll();
	}
	if (g.pend_n == 0)
		tsc_fail("nothing sent by %u.%03u:\n  expected: %s", hi / 1000, hi % 1000,
			tsc_seg_format(&l->seg, '>', a, sizeof(a)));
	p = g.pend[g.pend_head];
	tsc_seg_decode(p.m, &got, &gf, &l->seg);
	got.has_win = l->seg.has_win;
	if (!tsc_seg_match(&l->seg, wf, &got, gf)) {
		struct tsc_seg want = l->seg;

		want.has_addr = want.has_addr || gf != g.deflt;
		if (!want.has_addr) {
			want.addr = wf->raddr;
			want.port = wf->rport;
		}
		tsc_fail("segment differs:\n  expected: %s\n  actual:   %s  (at %u.%03u)",
			tsc_seg_format(&want, '>', a, sizeof(a)),
			tsc_seg_format(&got, '>', b, sizeof(b)), p.t / 1000, p.t % 1000);
	}
	if (p.t < lo || p.t > hi)
		tsc_fail("segment sent at %u.%03u, expected at %u.%03u:\n  actual: %s", p.t / 1000,
			p.t % 1000, t / 1000, t % 1000, tsc_seg_format(&got, '>', b, sizeof(b)));
	rte_pktmbuf_free(p.m);
	g.pend_head = (g.pend_head + 1) % TSC_MAX_PEND;
	g.pend_n--;
}

static void
tsc_no_pending(void)
{
	if (g.pend_n != 0)
		tsc_unexpected();
}

/* ---- application lines ---- */

static struct tcp_conn *
tsc_cur(void)
{
	if (g.cur == NULL)
		tsc_fail("the application has no connection");
	return g.cur;
}

static void
tsc_app_event(const struct tsc_line *l, enum tsc_ev_type type)
{
	struct tsc_ev ev;

	if (g.ev_n == 0)
		tsc_fail("no application event, expected %s %s", tsc_ev_names[type],
			tsc_errname(l->err));
	ev = g.ev[g.ev_head];
	g.ev_head = (g.ev_head + 1) % TSC_MAX_EVENTS;
	g.ev_n--;
	if (ev.type != type || ev.err != l->err)
		tsc_fail("application event %s %s at %u.%03u, expected %s %s",
			tsc_ev_names[ev.type], tsc_errname(ev.err), ev.t / 1000, ev.t % 1000,
			tsc_ev_names[type], tsc_errname(l->err));
}

static void
tsc_app_read(const struct tsc_line *l)
{
	struct tcp_conn *c = tsc_cur();
	uint32_t avail, off = 0;
	struct rte_mbuf *m = tcp_conn_rx_peek(c, &avail);

	if (l->app == TSC_APP_AVAIL) {
		if (avail != l->n)
			tsc_fail("%u bytes readable, expected %u", avail, l->n);
		return;
	}
	if (l->app == TSC_APP_READ_EOF) {
		if (!tcp_conn_rx_eof(c))
			tsc_fail("no end of stream (%u bytes readable, peer FIN %s)", avail,
				(c->flags & TCP_F_RCVD_FIN) ? "seen" : "not seen");
		return;
	}
	if (avail < l->n)
		tsc_fail("%u bytes readable, expected at least %u", avail, l->n);
	for (; m != NULL && l->has_str && off < l->n; m = m->next) {
		uint32_t n = RTE_MIN((uint32_t) m->data_len, l->n - off);

		if (memcmp(rte_pktmbuf_mtod(m, const uint8_t *), l->str + off, n) != 0)
			tsc_fail("bytes read differ from the string");
		off += n;
	}
	tcp_conn_rx_consume(c, l->n);
	tcp_conn_flush(c);
}

static void
tsc_app_line(const struct tsc_line *l)
{
	struct tcp_conn *c;
	int ret;

	switch (l->app) {
	case TSC_APP_ACCEPT:
		tsc_app_event(l, TSC_EV_ACCEPTED);
		return;
	case TSC_APP_CONNECTED:
		tsc_app_event(l, TSC_EV_CONNECTED);
		return;
	case TSC_APP_CLOSED:
		tsc_app_event(l, TSC_EV_CLOSED);
		return;
	case TSC_APP_AVAIL:
	case TSC_APP_READ_EOF:
		tsc_app_read(l);
		return;
	default:
		break;
	}
	tsc_no_pending();
	switch (l->app) {
	case TSC_APP_CONNECT:
		g.deflt = tsc_flow_get(l->addr, l->port);
		g.deflt->lport = 0;
		ret = tcp_conn_connect(g.ts, g.port_id, l->addr, rte_cpu_to_be_16(l->port),
			&tsc_app, NULL, &c);
		if (ret != 0)
			tsc_fail("tcp_conn_connect: %s", strerror(-ret));
		g.cur = c;
		break;
	case TSC_APP_READ:
		tsc_app_read(l);
		break;
	case TSC_APP_WRITE: {
		uint8_t *buf = l->has_str ? l->str : malloc(l->n ? l->n : 1);
		uint32_t want = l->has_expect ? l->expect : l->n;

		if (buf == NULL)
			tsc_fail("out of memory");
		if (!l->has_str)
			for (uint32_t i = 0; i < l->n; i++)
				buf[i] = (uint8_t) ('A' + i % 26);
		ret = tcp_conn_write(tsc_cur(), buf, l->n);
		if (!l->has_str)
			free(buf);
		if (ret < 0)
			tsc_fail("tcp_conn_write: %s", strerror(-ret));
		if ((uint32_t) ret != want)
			tsc_fail("tcp_conn_write took %d bytes, expected %u", ret, want);
		tcp_conn_flush(g.cur);
		break;
	}
	case TSC_APP_SHUTDOWN:
		ret = tcp_conn_shutdown(tsc_cur());
		if (ret != 0)
			tsc_fail("tcp_conn_shutdown: %s", strerror(-ret));
		break;
	case TSC_APP_CLOSE:
		tcp_conn_close(tsc_cur());
		g.cur = NULL;
		break;
	case TSC_APP_ABORT:
		tcp_conn_abort(tsc_cur());
		g.cur = NULL;
		break;
	case TSC_APP_REFUSE:
		g.refuse_next = true;
		break;
	default:
		break;
	}
	tsc_poll();
}

/* ---- assertions ---- */

static struct tcp_conn *
tsc_flow_conn(const struct tsc_flow *f)
{
	if (f->lport == 0)
		return NULL;
	return tcp_tbl_lookup(g.ts, g.our_addr, f->raddr, rte_cpu_to_be_16(f->lport),
		rte_cpu_to_be_16(f->rport));
}

/* Buffers the receive side of <c> pins: its receive queue and out-of-order queue. */
static uint32_t
tsc_rcv_bufs(const struct tcp_conn *c)
{
	uint32_t n = 0;

	for (const struct rte_mbuf *m = c->rcvq.head; m != NULL; m = m->next)
		n++;
	for (const struct rte_mbuf *m = c->ooo; m != NULL; m = m->next)
		n++;
	return n;
}

static void
tsc_check_line(const struct tsc_line *l)
{
	struct tcp_conn *c = tsc_flow_conn(g.deflt);
	uint64_t got = 0;

	switch (l->check) {
	case TSC_CHECK_STATE: {
		const char *st = c != NULL ? tcp_strstate(c->state) : "CLOSED";

		if (strcmp(st, l->name) != 0)
			tsc_fail("state %s, expected %s", st, l->name);
		return;
	}
	case TSC_CHECK_STAT: {
		unsigned int id;

		for (id = 0; id < STATS_MAX; id++)
			if (strcmp(stats_name(id), l->name) == 0)
				break;
		if (id == STATS_MAX)
			tsc_fail("no counter named %s", l->name);
		got = g.ctx->stats.c[id];
		break;
	}
	case TSC_CHECK_CONNS:
		got = g.ts->n_active;
		break;
	case TSC_CHECK_CONN:
		if (c == NULL)
			tsc_fail("no connection for %%conn");
		if (strcmp(l->name, "mss") == 0)
			got = c->mss;
		else if (strcmp(l->name, "cwnd") == 0)
			got = c->cwnd;
		else if (strcmp(l->name, "ssthresh") == 0)
			got = c->ssthresh;
		else if (strcmp(l->name, "rto") == 0)
			got = c->rto;
		else if (strcmp(l->name, "snd_wnd") == 0)
			got = c->snd_wnd;
		else if (strcmp(l->name, "rcv_wnd") == 0)
			got = tcp_rcv_window(c);
		else if (strcmp(l->name, "snd_ws") == 0)
			got = c->snd_ws;
		else if (strcmp(l->name, "rcv_ws") == 0)
			got = c->rcv_ws;
		else if (strcmp(l->name, "sndq") == 0)
			got = c->sndq.bytes;
		else if (strcmp(l->name, "rcvq") == 0)
			got = c->rcvq.bytes;
		else if (strcmp(l->name, "ooo") == 0)
			got = c->n_ooo;
#ifdef TCP_F_ORPHAN_Q
		else if (strcmp(l->name, "rcv_mem") == 0)
			got = c->rcv_mem;
#endif
		else if (strcmp(l->name, "rcv_bufs") == 0)
			got = tsc_rcv_bufs(c);
		else
			tsc_fail("%%conn knows mss cwnd ssthresh rto snd_wnd rcv_wnd snd_ws rcv_ws "
				 "sndq rcvq ooo rcv_mem rcv_bufs");
		break;
	case TSC_CHECK_QUIET:
		tsc_no_pending();
		return;
	default:
		return;
	}
	if (got != l->value)
		tsc_fail("%s is %" PRIu64 ", expected %" PRIu64, l->name, got, l->value);
}

/* ---- setup ---- */

static void
tsc_setup(const char *prog)
{
	char prefix[64];
	char *argv[] = {
		(char *) prog,
		(char *) "--no-huge",
		(char *) "--no-shconf",
		(char *) "--no-pci",
		(char *) "--no-telemetry",
		(char *) "-l",
		(char *) "0",
		(char *) "-m",
		(char *) "32",
		(char *) "--log-level=*:error",
		prefix,
	};
	static struct tcp_stack *stacks[1];
	struct in_addr a;
	int socket, ret, port;

	snprintf(prefix, sizeof(prefix), "--file-prefix=ndgtcp%ld", (long) getpid());
	if (rte_eal_init((int) RTE_DIM(argv), argv) < 0)
		tsc_fail("EAL init failed");
	rte_srand(1);
	socket = (int) rte_socket_id();
	g.mp = rte_pktmbuf_pool_create("tsc_mbuf", 1023, 0, 0, RTE_MBUF_DEFAULT_BUF_SIZE, socket);
	g.rx = rte_ring_create("tsc_rx", 1024, socket, RING_F_SP_ENQ | RING_F_SC_DEQ);
	g.tx = rte_ring_create("tsc_tx", 1024, socket, RING_F_SP_ENQ | RING_F_SC_DEQ);
	if (g.mp == NULL || g.rx == NULL || g.tx == NULL)
		tsc_fail("pool and rings: %s", rte_strerror(rte_errno));
	port = rte_eth_from_rings("net_ring_tsc", &g.rx, 1, &g.tx, 1, socket);
	if (port < 0)
		tsc_fail("ring ethdev: %s", rte_strerror(rte_errno));
	g.port_id = (uint16_t) port;
	ret = port_init(g.port_id, 1, g.mp, &g.nif);
	if (ret != 0)
		tsc_fail("port_init: %s", strerror(-ret));
	g.nif.mac = tsc_our_mac;
	inet_pton(AF_INET, TSC_OUR_ADDR, &a);
	g.our_addr = a.s_addr;
	g.nif.addrs[0] = (struct net_addr){g.our_addr, TSC_OUR_PLEN};
	g.nif.n_addrs = 1;
	inet_pton(AF_INET, TSC_GATEWAY, &a);
	g.gateway = a.s_addr;
	g.nif.gateway = g.gateway;

	g.ctx = rte_zmalloc("tsc_lcore", sizeof(*g.ctx), RTE_CACHE_LINE_SIZE);
	if (g.ctx == NULL)
		tsc_fail("out of memory for the lcore context");
	g.ctx->lcore_id = rte_lcore_id();
	g.ctx->nif[g.port_id] = &g.nif;
	g.ctx->rxq[0] = (struct lcore_rxq){&g.nif, g.port_id, 0};
	g.ctx->n_rxq = 1;
	if (lcore_ctx_add_tx(g.ctx, g.port_id, 0, socket) != 0)
		tsc_fail("out of memory for the tx buffer");
	g.ts = tcp_stack_create(&g.sc.cfg, g.ctx, g.mp, 0, 1, socket);
	if (g.ts == NULL)
		tsc_fail("tcp_stack_create failed");
	g.ts->clock_manual = true;
	/* A script may start the stack's clock late (uptime-dependent behaviour). */
	g.ts->now = g.sc.clock_base_ms;
	g.ts->wheel.now = g.sc.clock_base_ms;
	g.ctx->tcp = g.ts;
	stacks[0] = g.ts;
	tcp_stack_link(stacks, 1);
	if (g.sc.listen_port != 0 && tcp_listen(g.ts, g.sc.listen_port, &tsc_app, NULL) != 0)
		tsc_fail("tcp_listen failed");
	g.deflt = tsc_flow_get(g.sc.peer_addr, g.sc.peer_port);
}

int
main(int argc, char **argv)
{
	struct tsc_script *sc = &g.sc;
	uint32_t last = 0;
	struct in_addr a;

	if (argc != 2) {
		fprintf(stderr, "usage: %s SCRIPT.pkt\n", argv[0]);
		return 2;
	}
	tcp_cfg_defaults(&sc->cfg);
	sc->cfg.max_conns = 256;
	for (unsigned int i = 0; i < sizeof(sc->cfg.secret); i++)
		sc->cfg.secret[i] = (uint8_t) (0x5a + i); /* fixed: the same ISNs every run */
	sc->listen_port = TSC_LISTEN;
	inet_pton(AF_INET, TSC_DEFAULT_PEER, &a);
	sc->peer_addr = a.s_addr;
	sc->peer_port = TSC_PEER_PORT;
	sc->tail_ms = TSC_TAIL_MS;
	if (tsc_parse_file(argv[1], sc) != 0)
		return 1;
	tsc_setup(argv[0]);
	for (unsigned int i = 0; i < sc->n_lines; i++) {
		const struct tsc_line *l = &sc->lines[i];
		int64_t t = l->rel ? (int64_t) last + l->t_ms : l->t_ms;

		g.line = l;
		if (t < g.now && l->kind != TSC_OUT)
			tsc_fail("time goes backwards");
		if (t > UINT32_MAX / 2)
			tsc_fail("time too far");
		switch (l->kind) {
		case TSC_OUT:
			tsc_expect_out(l, (uint32_t) t);
			last = g.now;
			continue;
		case TSC_IN:
		case TSC_ICMP:
			tsc_advance((uint32_t) t);
			tsc_no_pending();
			if (l->kind == TSC_IN)
				tsc_send_segment(l);
			else
				tsc_send_icmp(l);
			tsc_poll();
			break;
		case TSC_APP:
			tsc_advance((uint32_t) t);
			tsc_app_line(l);
			break;
		case TSC_CHECK:
			tsc_advance((uint32_t) t);
			tsc_check_line(l);
			break;
		default:
			break;
		}
		last = (uint32_t) t;
	}
	g.line = NULL;
	/* Nothing more may leave for a while: a missing expectation shows as unexpected. */
	tsc_advance(g.now + sc->tail_ms);
	tsc_no_pending();
	if (g.ev_n != 0)
		tsc_fail("application event %s %s not checked by the script",
			tsc_ev_names[g.ev[g.ev_head].type], tsc_errname(g.ev[g.ev_head].err));
	printf("ok %s (%u lines, %u.%03u s virtual)\n", sc->path, sc->n_lines, g.now / 1000,
		g.now % 1000);
	return 0;
}
