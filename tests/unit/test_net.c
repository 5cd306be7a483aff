/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Unit tests of the L2/L3 input path (net_eth.c, net_arp.c, net_ip.c): every drop reason,
 * the ARP and ICMP echo replies byte by byte, padding and multi-segment frames, and the
 * address parser. Table-driven; a minimal EAL provides mbufs.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <rte_arp.h>
#include <rte_byteorder.h>
#include <rte_ether.h>
#include <rte_icmp.h>
#include <rte_ip.h>
#include <rte_mbuf.h>

#include "lcore-t.h"
#include "mbuf_factory.h"
#include "net.h"
#include "stats.h"

#define OUR_IP	  RTE_IPV4(198, 18, 1, 2)
#define PEER_IP	  RTE_IPV4(198, 18, 1, 1)
#define FRAME_MAX 1600

static struct rte_mempool *mp;
static const struct rte_ether_addr our_mac = {{0x02, 0x00, 0x00, 0x00, 0x00, 0x02}};
static const struct rte_ether_addr peer_mac = {{0x02, 0x00, 0x00, 0x00, 0x00, 0x01}};
static struct net_if nif;
static struct lcore_ctx tctx; /* no TCP stack: the L2/L3 path alone */

/* Run the input path with <st> as the lcore's counters. */
static enum net_verdict
eth_input(struct stats_lcore *st, struct rte_mbuf *m)
{
	enum net_verdict v;

	tctx.stats = *st;
	v = net_eth_input(&tctx, &nif, m);
	*st = tctx.stats;
	return v;
}

struct frame {
	uint8_t b[FRAME_MAX];
	size_t len;
};

static struct rte_ether_hdr *
eth_of(struct frame *f)
{
	return (struct rte_ether_hdr *) f->b;
}

static struct rte_ipv4_hdr *
ip_of(struct frame *f)
{
	return (struct rte_ipv4_hdr *) (f->b + sizeof(struct rte_ether_hdr));
}

static struct rte_icmp_hdr *
icmp_of(struct frame *f)
{
	return (struct rte_icmp_hdr *) (f->b + sizeof(struct rte_ether_hdr) +
					rte_ipv4_hdr_len(ip_of(f)));
}

static uint16_t
cksum_of(const void *p, size_t len)
{
	return (uint16_t) ~rte_raw_cksum(p, len);
}

static void
ip_fix_cksum(struct frame *f)
{
	struct rte_ipv4_hdr *ip = ip_of(f);

	ip->hdr_checksum = 0;
	ip->hdr_checksum = cksum_of(ip, rte_ipv4_hdr_len(ip));
}

/* An echo request from the peer to us with <payload> bytes of data, checksums right. */
static void
build_echo(struct frame *f, size_t payload)
{
	struct rte_ether_hdr *eh = eth_of(f);
	struct rte_ipv4_hdr *ip = ip_of(f);
	struct rte_icmp_hdr *ih = (struct rte_icmp_hdr *) (ip + 1);
	uint8_t *data = (uint8_t *) (ih + 1);

	memset(f, 0, sizeof(*f));
	eh->dst_addr = our_mac;
	eh->src_addr = peer_mac;
	eh->ether_type = RTE_BE16(RTE_ETHER_TYPE_IPV4);
	ip->version_ihl = RTE_IPV4_VHL_DEF;
	ip->total_length = rte_cpu_to_be_16((uint16_t) (sizeof(*ip) + sizeof(*ih) + payload));
	ip->packet_id = RTE_BE16(0x1234);
	ip->time_to_live = 61;
	ip->next_proto_id = IPPROTO_ICMP;
	ip->src_addr = rte_cpu_to_be_32(PEER_IP);
	ip->dst_addr = rte_cpu_to_be_32(OUR_IP);
	ih->icmp_type = RTE_IP_ICMP_ECHO_REQUEST;
	ih->icmp_ident = RTE_BE16(0x77);
	ih->icmp_seq_nb = RTE_BE16(5);
	for (size_t i = 0; i < payload; i++)
		data[i] = (uint8_t) (i * 7 + 1);
	ih->icmp_cksum = cksum_of(ih, sizeof(*ih) + payload);
	ip_fix_cksum(f);
	f->len = sizeof(*eh) + sizeof(*ip) + sizeof(*ih) + payload;
}

static void
build_arp(struct frame *f, uint32_t target)
{
	struct rte_ether_hdr *eh = eth_of(f);
	struct rte_arp_hdr *ah = (struct rte_arp_hdr *) (eh + 1);

	memset(f, 0, sizeof(*f));
	memset(&eh->dst_addr, 0xff, sizeof(eh->dst_addr));
	eh->src_addr = peer_mac;
	eh->ether_type = RTE_BE16(RTE_ETHER_TYPE_ARP);
	ah->arp_hardware = RTE_BE16(RTE_ARP_HRD_ETHER);
	ah->arp_protocol = RTE_BE16(RTE_ETHER_TYPE_IPV4);
	ah->arp_hlen = RTE_ETHER_ADDR_LEN;
	ah->arp_plen = 4;
	ah->arp_opcode = RTE_BE16(RTE_ARP_OP_REQUEST);
	ah->arp_data.arp_sha = peer_mac;
	ah->arp_data.arp_sip = rte_cpu_to_be_32(PEER_IP);
	ah->arp_data.arp_tip = rte_cpu_to_be_32(target);
	f->len = 60; /* padded like a real Ethernet frame */
}

/* Mutators: each turns a valid frame into one case. */
static void
m_none(struct frame *f)
{
	(void) f;
}
static void
m_eth_trunc(struct frame *f)
{
	f->len = 10;
}
static void
m_mac_other(struct frame *f)
{
	eth_of(f)->dst_addr.addr_bytes[5] = 0x99;
}
static void
m_mac_bcast(struct frame *f)
{
	memset(&eth_of(f)->dst_addr, 0xff, 6);
}
static void
m_type_v6(struct frame *f)
{
	eth_of(f)->ether_type = RTE_BE16(RTE_ETHER_TYPE_IPV6);
}
static void
m_ip_trunc(struct frame *f)
{
	f->len = sizeof(struct rte_ether_hdr) + 12;
}
static void
m_ip_ver(struct frame *f)
{
	ip_of(f)->version_ihl = 0x65;
	ip_fix_cksum(f);
}
static void
m_ip_ihl(struct frame *f)
{
	ip_of(f)->version_ihl = 0x43;
}
static void
m_ip_totlen_small(struct frame *f)
{
	ip_of(f)->total_length = RTE_BE16(12);
	ip_fix_cksum(f);
}
static void
m_ip_totlen_big(struct frame *f)
{
	ip_of(f)->total_length = RTE_BE16(400);
	ip_fix_cksum(f);
}
static void
m_ip_cksum(struct frame *f)
{
	ip_of(f)->hdr_checksum ^= RTE_BE16(0x0101);
}
static void
m_ip_frag_mf(struct frame *f)
{
	ip_of(f)->fragment_offset = RTE_BE16(RTE_IPV4_HDR_MF_FLAG);
	ip_fix_cksum(f);
}
static void
m_ip_frag_off(struct frame *f)
{
	ip_of(f)->fragment_offset = RTE_BE16(8);
	ip_fix_cksum(f);
}
static void
m_ip_df(struct frame *f)
{
	ip_of(f)->fragment_offset = RTE_BE16(RTE_IPV4_HDR_DF_FLAG);
	ip_fix_cksum(f);
}
static void
m_src_loop(struct frame *f)
{
	ip_of(f)->src_addr = rte_cpu_to_be_32(RTE_IPV4(127, 0, 0, 1));
	ip_fix_cksum(f);
}
static void
m_src_zero(struct frame *f)
{
	ip_of(f)->src_addr = 0;
	ip_fix_cksum(f);
}
static void
m_src_mcast(struct frame *f)
{
	ip_of(f)->src_addr = rte_cpu_to_be_32(RTE_IPV4(224, 0, 0, 5));
	ip_fix_cksum(f);
}
static void
m_dst_other(struct frame *f)
{
	ip_of(f)->dst_addr = rte_cpu_to_be_32(RTE_IPV4(198, 18, 1, 77));
	ip_fix_cksum(f);
}
static void
m_proto(struct frame *f)
{
	ip_of(f)->next_proto_id = 253;
	ip_fix_cksum(f);
}
static void
m_icmp_cksum(struct frame *f)
{
	icmp_of(f)->icmp_cksum ^= RTE_BE16(0x00ff);
}
static void
m_icmp_type(struct frame *f)
{
	struct rte_icmp_hdr *ih = icmp_of(f);

	ih->icmp_type = 13;
	ih->icmp_cksum = 0;
	ih->icmp_cksum = cksum_of(ih, rte_be_to_cpu_16(ip_of(f)->total_length) - 20);
}
static void
m_icmp_trunc(struct frame *f)
{
	ip_of(f)->total_length = RTE_BE16(20 + 4);
	ip_fix_cksum(f);
	f->len = sizeof(struct rte_ether_hdr) + 24;
}
static void
m_options(struct frame *f)
{
	/* Shift the ICMP message by 4 bytes and insert four NOP options. */
	struct rte_ipv4_hdr *ip = ip_of(f);
	uint8_t *opt = (uint8_t *) (ip + 1);
	size_t icmp_len = rte_be_to_cpu_16(ip->total_length) - sizeof(*ip);

	memmove(opt + 4, opt, icmp_len);
	memset(opt, 1, 4);
	ip->version_ihl = 0x46;
	ip->total_length = rte_cpu_to_be_16((uint16_t) (24 + icmp_len));
	ip_fix_cksum(f);
	f->len += 4;
}
static void
m_arp_trunc(struct frame *f)
{
	f->len = sizeof(struct rte_ether_hdr) + 10;
}
static void
m_arp_hlen(struct frame *f)
{
	((struct rte_arp_hdr *) (eth_of(f) + 1))->arp_hlen = 8;
}
static void
m_arp_other(struct frame *f)
{
	((struct rte_arp_hdr *) (eth_of(f) + 1))->arp_data.arp_tip =
		rte_cpu_to_be_32(RTE_IPV4(198, 18, 1, 9));
}
static void
m_arp_reply(struct frame *f)
{
	((struct rte_arp_hdr *) (eth_of(f) + 1))->arp_opcode = RTE_BE16(RTE_ARP_OP_REPLY);
}

struct net_case {
	const char *name;
	bool arp; /* base frame: ARP request (else echo request) */
	void (*mutate)(struct frame *f);
	enum net_verdict want;
	enum stats_id counter; /* must go from 0 to 1 */
};

static const struct net_case cases[] = {
	{"echo", false, m_none, NET_TX, STATS_ICMP_ECHO_REPLY_TX},
	{"echo to broadcast MAC", false, m_mac_bcast, NET_TX, STATS_ICMP_ECHO_REPLY_TX},
	{"echo with DF", false, m_ip_df, NET_TX, STATS_ICMP_ECHO_REPLY_TX},
	{"eth truncated", false, m_eth_trunc, NET_DROP, STATS_DROP_ETH_TRUNCATED},
	{"eth other MAC", false, m_mac_other, NET_DROP, STATS_DROP_ETH_NOT_FOR_US},
	{"eth IPv6", false, m_type_v6, NET_DROP, STATS_DROP_ETH_UNKNOWN_TYPE},
	{"ip truncated header", false, m_ip_trunc, NET_DROP, STATS_DROP_IP_TRUNCATED},
	{"ip total length past frame", false, m_ip_totlen_big, NET_DROP, STATS_DROP_IP_TRUNCATED},
	{"ip version 6", false, m_ip_ver, NET_DROP, STATS_DROP_IP_BAD_VERSION},
	{"ip IHL 3", false, m_ip_ihl, NET_DROP, STATS_DROP_IP_BAD_IHL},
	{"ip total length < IHL", false, m_ip_totlen_small, NET_DROP, STATS_DROP_IP_BAD_LEN},
	{"ip bad checksum", false, m_ip_cksum, NET_DROP, STATS_DROP_IP_BAD_CKSUM},
	{"ip options", false, m_options, NET_DROP, STATS_DROP_IP_OPTIONS},
	{"ip fragment MF", false, m_ip_frag_mf, NET_DROP, STATS_DROP_IP_FRAGMENT},
	{"ip fragment offset", false, m_ip_frag_off, NET_DROP, STATS_DROP_IP_FRAGMENT},
	{"ip source 127/8", false, m_src_loop, NET_DROP, STATS_DROP_IP_BAD_SRC},
	{"ip source 0/8", false, m_src_zero, NET_DROP, STATS_DROP_IP_BAD_SRC},
	{"ip source multicast", false, m_src_mcast, NET_DROP, STATS_DROP_IP_BAD_SRC},
	{"ip not for us", false, m_dst_other, NET_DROP, STATS_DROP_IP_NOT_FOR_US},
	{"ip protocol 253", false, m_proto, NET_DROP, STATS_DROP_IP_PROTO},
	{"icmp truncated", false, m_icmp_trunc, NET_DROP, STATS_DROP_ICMP_TRUNCATED},
	{"icmp bad checksum", false, m_icmp_cksum, NET_DROP, STATS_DROP_ICMP_BAD_CKSUM},
	{"icmp timestamp", false, m_icmp_type, NET_DROP, STATS_DROP_ICMP_TYPE},
	{"arp request", true, m_none, NET_TX, STATS_ARP_REPLY_TX},
	{"arp truncated", true, m_arp_trunc, NET_DROP, STATS_DROP_ARP_TRUNCATED},
	{"arp hlen 8", true, m_arp_hlen, NET_DROP, STATS_DROP_ARP_BAD},
	{"arp for another host", true, m_arp_other, NET_DROP, STATS_DROP_ARP_NOT_FOR_US},
	{"arp reply", true, m_arp_reply, NET_DROP, STATS_ARP_REPLY_RX},
};

static void
test_net_cases(void **state)
{
	(void) state;
	for (size_t i = 0; i < RTE_DIM(cases); i++) {
		const struct net_case *c = &cases[i];
		struct stats_lcore st;
		struct frame f;
		struct rte_mbuf *m;
		enum net_verdict got;

		memset(&st, 0, sizeof(st));
		if (c->arp)
			build_arp(&f, OUR_IP);
		else
			build_echo(&f, 32);
		c->mutate(&f);
		m = mbuf_factory_from_bytes(mp, f.b, f.len);
		assert_non_null(m);
		got = eth_input(&st, m);
		if (got != c->want || st.c[c->counter] != 1)
			fail_msg("case '%s': verdict %d (want %d), %s = %" PRIu64, c->name, got,
				c->want, stats_name(c->counter), st.c[c->counter]);
		/* Exactly one drop reason per dropped frame. */
		if (got == NET_DROP) {
			uint64_t drops = 0;

			for (unsigned int k = 0; k < STATS_MAX; k++)
				if (strncmp(stats_name(k), "drop_", 5) == 0)
					drops += st.c[k];
			/* ARP replies are taken in (learned), not dropped as faulty. */
			drops += st.c[STATS_ARP_REPLY_RX];
			if (drops != 1)
				fail_msg("case '%s': %" PRIu64 " drop reasons", c->name, drops);
		}
		rte_pktmbuf_free(m);
	}
}

/* The reply carries id, sequence and data unchanged, with both checksums right. */
static void
check_echo_reply(struct rte_mbuf *m, const struct frame *req, size_t payload)
{
	uint8_t out[FRAME_MAX];
	const uint8_t *p = rte_pktmbuf_read(m, 0, rte_pktmbuf_pkt_len(m), out);
	const struct rte_ether_hdr *eh = (const struct rte_ether_hdr *) p;
	const struct rte_ipv4_hdr *ip = (const struct rte_ipv4_hdr *) (eh + 1);
	const struct rte_icmp_hdr *ih = (const struct rte_icmp_hdr *) (ip + 1);
	const struct rte_icmp_hdr *rq = (const struct rte_icmp_hdr *) (req->b + 34);

	assert_non_null(p);
	assert_int_equal(rte_pktmbuf_pkt_len(m), 14 + 20 + 8 + payload);
	assert_memory_equal(&eh->dst_addr, &peer_mac, 6);
	assert_memory_equal(&eh->src_addr, &our_mac, 6);
	assert_int_equal(ip->src_addr, rte_cpu_to_be_32(OUR_IP));
	assert_int_equal(ip->dst_addr, rte_cpu_to_be_32(PEER_IP));
	assert_int_equal(ip->time_to_live, NET_IP_TTL);
	assert_int_equal(rte_raw_cksum(ip, 20), 0xffff);
	assert_int_equal(ih->icmp_type, RTE_IP_ICMP_ECHO_REPLY);
	assert_int_equal(ih->icmp_code, 0);
	assert_int_equal(ih->icmp_ident, rq->icmp_ident);
	assert_int_equal(ih->icmp_seq_nb, rq->icmp_seq_nb);
	assert_memory_equal(ih + 1, rq + 1, payload);
	assert_int_equal(rte_raw_cksum(ih, 8 + payload), 0xffff);
}

static void
test_echo_reply_bytes(void **state)
{
	static const size_t sizes[] = {0, 1, 31, 56, 1472};

	(void) state;
	for (size_t i = 0; i < RTE_DIM(sizes); i++) {
		struct stats_lcore st;
		struct frame f;
		struct rte_mbuf *m;

		memset(&st, 0, sizeof(st));
		build_echo(&f, sizes[i]);
		/* Short frames arrive padded to 60 bytes; the reply must not carry the pad. */
		if (f.len < 60)
			f.len = 60;
		m = mbuf_factory_from_bytes(mp, f.b, f.len);
		assert_non_null(m);
		assert_int_equal(eth_input(&st, m), NET_TX);
		check_echo_reply(m, &f, sizes[i]);
		rte_pktmbuf_free(m);
	}
}

static void
test_echo_multiseg(void **state)
{
	struct stats_lcore st;
	struct frame f;
	struct rte_mbuf *head, *tail;
	const size_t payload = 1000, split = 14 + 20 + 8 + 100;

	(void) state;
	memset(&st, 0, sizeof(st));
	build_echo(&f, payload);
	head = mbuf_factory_from_bytes(mp, f.b, split);
	tail = mbuf_factory_from_bytes(mp, f.b + split, f.len - split);
	assert_non_null(head);
	assert_non_null(tail);
	assert_int_equal(rte_pktmbuf_chain(head, tail), 0);
	assert_int_equal(eth_input(&st, head), NET_TX);
	check_echo_reply(head, &f, payload);
	rte_pktmbuf_free(head);
}

static void
test_arp_reply_bytes(void **state)
{
	struct stats_lcore st;
	struct frame f;
	struct rte_mbuf *m;
	const struct rte_ether_hdr *eh;
	const struct rte_arp_hdr *ah;

	(void) state;
	memset(&st, 0, sizeof(st));
	build_arp(&f, OUR_IP);
	m = mbuf_factory_from_bytes(mp, f.b, f.len);
	assert_non_null(m);
	assert_int_equal(eth_input(&st, m), NET_TX);
	eh = rte_pktmbuf_mtod(m, const struct rte_ether_hdr *);
	ah = (const struct rte_arp_hdr *) (eh + 1);
	assert_memory_equal(&eh->dst_addr, &peer_mac, 6);
	assert_memory_equal(&eh->src_addr, &our_mac, 6);
	assert_int_equal(ah->arp_opcode, RTE_BE16(RTE_ARP_OP_REPLY));
	assert_memory_equal(&ah->arp_data.arp_sha, &our_mac, 6);
	assert_memory_equal(&ah->arp_data.arp_tha, &peer_mac, 6);
	assert_int_equal(ah->arp_data.arp_sip, rte_cpu_to_be_32(OUR_IP));
	assert_int_equal(ah->arp_data.arp_tip, rte_cpu_to_be_32(PEER_IP));
	rte_pktmbuf_free(m);
}

static void
test_addr_parse(void **state)
{
	static const struct {
		const char *in;
		int ret;
		uint32_t ip;
		uint8_t plen;
	} t[] = {
		{"198.18.1.2/24", 0, RTE_IPV4(198, 18, 1, 2), 24},
		{"198.18.1.2", 0, RTE_IPV4(198, 18, 1, 2), 32},
		{"10.0.0.1/0", 0, RTE_IPV4(10, 0, 0, 1), 0},
		{"198.18.1.2/33", -EINVAL, 0, 0},
		{"198.18.1.2/", -EINVAL, 0, 0},
		{"198.18.1.2/2x", -EINVAL, 0, 0},
		{"198.18.1/24", -EINVAL, 0, 0},
		{"", -EINVAL, 0, 0},
		{"/24", -EINVAL, 0, 0},
		{"256.1.1.1", -EINVAL, 0, 0},
		{"198.18.1.2/-1", -EINVAL, 0, 0},
	};

	(void) state;
	for (size_t i = 0; i < RTE_DIM(t); i++) {
		struct net_addr a = {0};
		int ret = net_addr_parse(t[i].in, &a);

		if (ret != t[i].ret)
			fail_msg("'%s': %d, want %d", t[i].in, ret, t[i].ret);
		if (ret == 0 && (a.ip != rte_cpu_to_be_32(t[i].ip) || a.plen != t[i].plen))
			fail_msg("'%s': wrong address or prefix", t[i].in);
	}
}

/* ---- anti-spoofing (net_spoof.c): roles, refused sources, and the input path ---- */

#define IP4(a, b, c, d) RTE_BE32(RTE_IPV4(a, b, c, d))

static struct net_pfx
pfx(uint32_t net_be, unsigned int plen)
{
	struct net_pfx p = {.mask = plen ? rte_cpu_to_be_32(~0u << (32 - plen)) : 0};

	p.net = net_be & p.mask;
	return p;
}

/* The lab: port 0 external 198.18.1.2/24, port 1 internal 198.18.2.2/24 (backend .1). */
static void
lab_ports(struct net_if *ifs, uint32_t gw0, uint32_t gw1)
{
	memset(ifs, 0, 2 * sizeof(*ifs));
	ifs[0].port_id = 0;
	ifs[0].n_addrs = 1;
	ifs[0].addrs[0] = (struct net_addr){.ip = IP4(198, 18, 1, 2), .plen = 24};
	ifs[0].gateway = gw0;
	ifs[1].port_id = 1;
	ifs[1].n_addrs = 1;
	ifs[1].addrs[0] = (struct net_addr){.ip = IP4(198, 18, 2, 2), .plen = 24};
	ifs[1].gateway = gw1;
}

static void
test_spoof_roles(void **state)
{
	struct net_if ifs[2];
	struct net_pfx backend = pfx(IP4(198, 18, 2, 1), 32);
	struct net_pfx routed = pfx(IP4(10, 9, 0, 0), 16); /* on no connected subnet */
	static const struct {
		const char *name;
		uint16_t n_ports;
		uint32_t gw0, gw1;
		int anchor; /* 0 none, 1 backend on port 1's subnet, 2 a routed network */
		uint8_t want0, want1;
	} t[] = {
		{"two ports, backend on port 1", 2, 0, 0, 1, NET_ROLE_EXTERNAL, NET_ROLE_INTERNAL},
		{"two ports, gateway on port 0", 2, IP4(198, 18, 1, 1), 0, 1, NET_ROLE_EXTERNAL,
			NET_ROLE_INTERNAL},
		{"gateway on the backend side", 2, 0, IP4(198, 18, 2, 254), 1, NET_ROLE_EXTERNAL,
			NET_ROLE_ONE_ARMED},
		{"inside routed through the gateway", 2, IP4(198, 18, 1, 1), 0, 2,
			NET_ROLE_ONE_ARMED, NET_ROLE_EXTERNAL},
		{"no anchors: nothing is inside", 2, 0, 0, 0, NET_ROLE_EXTERNAL, NET_ROLE_EXTERNAL},
		{"one port: one-armed", 1, 0, 0, 1, NET_ROLE_ONE_ARMED, NET_ROLE_NONE},
		{"one port, backend routed", 1, IP4(198, 18, 1, 1), 0, 2, NET_ROLE_ONE_ARMED,
			NET_ROLE_NONE},
	};

	(void) state;
	for (size_t i = 0; i < RTE_DIM(t); i++) {
		struct net_spoof *sp;

		lab_ports(ifs, t[i].gw0, t[i].gw1);
		sp = net_spoof_build(ifs, t[i].n_ports, t[i].anchor == 1 ? &backend : &routed,
			t[i].anchor != 0, NULL, 0, NULL);
		assert_non_null(sp);
		if (sp->role[0] != t[i].want0 || sp->role[1] != t[i].want1)
			fail_msg("'%s': roles %s/%s, want %s/%s", t[i].name,
				net_role_name(sp->role[0]), net_role_name(sp->role[1]),
				net_role_name(t[i].want0), net_role_name(t[i].want1));
		free(sp);
	}
}

static void
test_spoof_refuses(void **state)
{
	struct net_if ifs[2];
	const struct net_pfx anchors[] = {
		pfx(IP4(198, 18, 2, 1), 32), /* backend */
		pfx(IP4(198, 18, 8, 1), 32), /* backend on no subnet (no gateway: no role) */
		pfx(IP4(198, 18, 2, 0), 25), /* internal network */
	};
	const struct net_pfx inside[] = {
		pfx(IP4(198, 18, 2, 1), 32), pfx(IP4(198, 18, 8, 1), 32),
		pfx(IP4(198, 18, 2, 0), 25), pfx(IP4(198, 18, 6, 0), 24), /* relay */
		pfx(IP4(198, 18, 6, 128), 25),				  /* merged into it */
		pfx(IP4(203, 0, 113, 0), 24),				  /* relay */
	};
	static const struct {
		const char *name;
		uint16_t port;
		uint32_t src;
		bool want;
	} t[] = {
		{"client on the external port", 0, IP4(198, 18, 1, 1), false},
		{"our external address", 0, IP4(198, 18, 1, 2), true},
		{"our internal address", 0, IP4(198, 18, 2, 2), true},
		{"our address, internal port", 1, IP4(198, 18, 1, 2), true},
		{"backend on the external port", 0, IP4(198, 18, 2, 1), true},
		{"backend on its own port", 1, IP4(198, 18, 2, 1), false},
		{"routed backend", 0, IP4(198, 18, 8, 1), true},
		{"next to the routed backend", 0, IP4(198, 18, 8, 2), false},
		{"internal host", 0, IP4(198, 18, 2, 10), true},
		{"internal port's subnet", 0, IP4(198, 18, 2, 200), true},
		{"relay network", 0, IP4(198, 18, 6, 5), true},
		{"relay network, merged half", 0, IP4(198, 18, 6, 255), true},
		{"just past a relay network", 0, IP4(198, 18, 7, 0), false},
		{"relay network, first address", 0, IP4(203, 0, 113, 0), true},
		{"relay network, last address", 0, IP4(203, 0, 113, 255), true},
		{"just below a relay network", 0, IP4(203, 0, 112, 255), false},
		{"internet host", 0, IP4(192, 0, 2, 7), false},
		{"internet host, internal port", 1, IP4(192, 0, 2, 7), false},
		{"port out of range", RTE_MAX_ETHPORTS, IP4(198, 18, 2, 1), false},
	};
	struct net_spoof *sp;
	unsigned int overlap = 99;

	(void) state;
	lab_ports(ifs, 0, 0);
	sp = net_spoof_build(ifs, 2, anchors, RTE_DIM(anchors), inside, RTE_DIM(inside), &overlap);
	assert_non_null(sp);
	assert_int_equal(overlap, 0);
	assert_int_equal(sp->n_own, 2);
	for (size_t i = 0; i < RTE_DIM(t); i++)
		if (net_spoof_refuses(sp, t[i].port, t[i].src) != t[i].want)
			fail_msg("'%s': refused %d, want %d", t[i].name, !t[i].want, t[i].want);
	free(sp);

	/* A relay network over the external port's own subnet is reported. */
	lab_ports(ifs, 0, 0);
	{
		const struct net_pfx bad = pfx(IP4(198, 18, 0, 0), 16);

		sp = net_spoof_build(ifs, 2, anchors, 1, &bad, 1, &overlap);
		assert_non_null(sp);
		assert_int_equal(overlap, 1);
		free(sp);
	}
	/* One-armed: only our own addresses, whatever the inside list says. */
	sp = net_spoof_build(ifs, 1, anchors, RTE_DIM(anchors), inside, RTE_DIM(inside), NULL);
	assert_non_null(sp);
	assert_int_equal(sp->role[0], NET_ROLE_ONE_ARMED);
	assert_true(net_spoof_refuses(sp, 0, IP4(198, 18, 1, 2)));
	assert_false(net_spoof_refuses(sp, 0, IP4(198, 18, 6, 5)));
	free(sp);
}

/* Through net_eth_input with a published table: IPv4 and ARP from forged sources are dropped
 * and counted; the same frames from a client pass. */
static void
test_spoof_input(void **state)
{
	static struct net_if ifs[2];
	const struct net_pfx backend = pfx(IP4(198, 18, 2, 1), 32);
	static const struct {
		const char *name;
		bool arp;
		uint32_t src;
		enum net_verdict want;
		enum stats_id counter;
	} t[] = {
		{"echo from a client", false, IP4(198, 18, 1, 1), NET_TX, STATS_ICMP_ECHO_REPLY_TX},
		{"echo from the backend", false, IP4(198, 18, 2, 1), NET_DROP,
			STATS_DROP_IP_SPOOFED_SRC},
		{"echo from ourselves", false, IP4(198, 18, 1, 2), NET_DROP,
			STATS_DROP_IP_SPOOFED_SRC},
		{"echo from the internal subnet", false, IP4(198, 18, 2, 77), NET_DROP,
			STATS_DROP_IP_SPOOFED_SRC},
		{"arp from a client", true, IP4(198, 18, 1, 1), NET_TX, STATS_ARP_REPLY_TX},
		{"arp claiming the backend", true, IP4(198, 18, 2, 1), NET_DROP,
			STATS_DROP_ARP_SPOOFED_SRC},
		{"arp claiming our address", true, IP4(198, 18, 1, 2), NET_DROP,
			STATS_DROP_ARP_SPOOFED_SRC},
		{"arp probe (sender 0)", true, 0, NET_TX, STATS_ARP_REPLY_TX},
	};

	(void) state;
	lab_ports(ifs, 0, 0);
	ifs[0].mac = our_mac;
	assert_int_equal(net_spoof_init(ifs, 2), 0);
	/* Before any configuration: our own addresses only, on every port. */
	assert_true(net_spoof_refuses(net_spoof_get(), 0, IP4(198, 18, 2, 2)));
	assert_false(net_spoof_refuses(net_spoof_get(), 0, IP4(198, 18, 2, 1)));
	assert_int_equal(net_spoof_update(&backend, 1, &backend, 1, NULL), 0);
	for (size_t i = 0; i < RTE_DIM(t); i++) {
		struct stats_lcore st;
		struct frame f;
		struct rte_mbuf *m;
		enum net_verdict got;

		memset(&st, 0, sizeof(st));
		if (t[i].arp) {
			build_arp(&f, OUR_IP);
			((struct rte_arp_hdr *) (eth_of(&f) + 1))->arp_data.arp_sip = t[i].src;
		} else {
			build_echo(&f, 8);
			ip_of(&f)->src_addr = t[i].src;
			ip_fix_cksum(&f);
		}
		m = mbuf_factory_from_bytes(mp, f.b, f.len);
		assert_non_null(m);
		got = eth_input(&st, m);
		if (got != t[i].want || st.c[t[i].counter] != 1)
			fail_msg("'%s': verdict %d (want %d), %s = %" PRIu64, t[i].name, got,
				t[i].want, stats_name(t[i].counter), st.c[t[i].counter]);
		rte_pktmbuf_free(m);
	}
	net_spoof_publish(NULL);
}

int
main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_net_cases),
		cmocka_unit_test(test_echo_reply_bytes),
		cmocka_unit_test(test_echo_multiseg),
		cmocka_unit_test(test_arp_reply_bytes),
		cmocka_unit_test(test_addr_parse),
		cmocka_unit_test(test_spoof_roles),
		cmocka_unit_test(test_spoof_refuses),
		cmocka_unit_test(test_spoof_input),
	};
	int ret;

	(void) argc;
	mp = mbuf_factory_init(argv[0]);
	if (mp == NULL) {
		fprintf(stderr, "EAL or mempool setup failed\n");
		return 1;
	}
	nif.mac = our_mac;
	nif.n_addrs = 1;
	nif.addrs[0].ip = rte_cpu_to_be_32(OUR_IP);
	nif.addrs[0].plen = 24;
	ret = cmocka_run_group_tests(tests, NULL, NULL);
	mbuf_factory_fini(mp);
	return ret;
}
