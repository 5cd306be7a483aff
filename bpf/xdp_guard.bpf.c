/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * xdp_guard: the appliance's first look at every frame on the external port. In order: the
 * blocklist (LPM trie, IPv4 v4-mapped and IPv6, with expiry, counted per prefix), the SYN
 * limiter (GCRA per source and CPU in an LRU hash), then steering (SMTP to our addresses into
 * the dataplane's AF_XDP socket, everything else XDP_PASS). Runs in the kernel, per packet.
 * Every header is bounds-checked before it is read; a header cut short is never guessed at:
 * the blocklist still applies to a known source, the frame is never steered.
 */
#include <stdbool.h>

#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/tcp.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#include "xdp_guard.h"

#define VLAN_MAX_DEPTH 2 /* 802.1ad outer + 802.1Q inner */
#define IPV6_EXT_MAX   4 /* extension headers walked before giving up */
#define NSEC_PER_SEC   1000000000ull

struct vlan_hdr {
	__be16 tci;
	__be16 proto;
};

struct ipv6_opt {
	__u8 nexthdr;
	__u8 len; /* 8-octet units, not counting the first 8 (RFC 8200 §4.3) */
};

struct ipv6_frag {
	__u8 nexthdr;
	__u8 reserved;
	__be16 off; /* offset << 3 | M flag (RFC 8200 §4.5) */
	__be32 id;
};

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, XDPG_BLOCK_MAX);
	__type(key, struct xdpg_lpm_key);
	__type(value, struct xdpg_block_val);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} ndg_block SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_PERCPU_HASH);
	__uint(max_entries, XDPG_SYN_MAX);
	__type(key, __u8[16]);
	__type(value, struct xdpg_syn_val);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} ndg_syn SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, XDPG_STEER_MAX);
	__type(key, __u8[16]);
	__type(value, __u32);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} ndg_steer SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct xdpg_cfg);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} ndg_cfg SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, XDPG_ST_MAX);
	__type(key, __u32);
	__type(value, __u64);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} ndg_stats SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_XSKMAP);
	__uint(max_entries, XDPG_XSKS_MAX);
	__type(key, __u32);
	__type(value, __u32);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} xsks_map SEC(".maps");

/* What the parser learnt; fields beyond <have_*> are not valid. */
struct pkt {
	__u8 src[16];
	__u8 dst[16];
	__u16 dport; /* network byte order */
	__u8 have_ip : 1;
	__u8 have_tcp : 1;
	__u8 syn : 1;	   /* SYN without ACK: a connection attempt */
	__u8 fragment : 1; /* no L4 header in this packet */
	__u8 truncated : 1;
};

static __always_inline void
stat_inc(__u32 idx)
{
	__u64 *v = bpf_map_lookup_elem(&ndg_stats, &idx);

	if (v != NULL)
		*v += 1;
}

static __always_inline int
verdict(__u32 act)
{
	if (act == XDP_PASS)
		stat_inc(XDPG_ST_PASS);
	return (int) act;
}

static __always_inline void
v4_mapped(__u8 *dst, __be32 a)
{
	__builtin_memset(dst, 0, 10);
	dst[10] = 0xff;
	dst[11] = 0xff;
	__builtin_memcpy(dst + 12, &a, 4);
}

/* TCP at <l4>: ports and flags when the fixed header and its options fit. */
static __always_inline void
parse_tcp(struct pkt *p, void *l4, void *end)
{
	struct tcphdr *th = l4;

	if ((void *) (th + 1) > end || th->doff < 5 || l4 + th->doff * 4 > end) {
		p->truncated = 1;
		return;
	}
	p->have_tcp = 1;
	p->dport = th->dest;
	p->syn = th->syn && !th->ack;
}

static __always_inline void
parse_ipv4(struct pkt *p, void *l3, void *end)
{
	struct iphdr *ip = l3;

	if ((void *) (ip + 1) > end || ip->version != 4 || ip->ihl < 5 || l3 + ip->ihl * 4 > end) {
		p->truncated = 1;
		return;
	}
	p->have_ip = 1;
	v4_mapped(p->src, ip->saddr);
	v4_mapped(p->dst, ip->daddr);
	/* Offset or MF set: not a whole datagram (RFC 791); leave it to the kernel. */
	if (ip->frag_off & bpf_htons(0x3fff)) {
		p->fragment = 1;
		return;
	}
	if (ip->protocol == IPPROTO_TCP)
		parse_tcp(p, l3 + ip->ihl * 4, end);
}

static __always_inline void
parse_ipv6(struct pkt *p, void *l3, void *end)
{
	struct ipv6hdr *ip6 = l3;
	void *cur = ip6 + 1;
	__u8 nh;

	if (cur > end || ip6->version != 6) {
		p->truncated = 1;
		return;
	}
	stat_inc(XDPG_ST_IPV6);
	p->have_ip = 1;
	__builtin_memcpy(p->src, &ip6->saddr, 16);
	__builtin_memcpy(p->dst, &ip6->daddr, 16);
	nh = ip6->nexthdr;
#pragma unroll
	for (int i = 0; i < IPV6_EXT_MAX; i++) {
		if (nh == IPPROTO_HOPOPTS || nh == IPPROTO_ROUTING || nh == IPPROTO_DSTOPTS) {
			struct ipv6_opt *o = cur;

			if ((void *) (o + 1) > end) {
				p->truncated = 1;
				return;
			}
			nh = o->nexthdr;
			cur += (o->len + 1) * 8;
		} else if (nh == IPPROTO_FRAGMENT) {
			struct ipv6_frag *f = cur;

			if ((void *) (f + 1) > end) {
				p->truncated = 1;
				return;
			}
			if (f->off & bpf_htons(0xfff9)) { /* offset or M: a piece, not the whole */
				p->fragment = 1;
				return;
			}
			nh = f->nexthdr; /* atomic fragment (RFC 6946): read on */
			cur += sizeof(*f);
		} else {
			break;
		}
	}
	if (nh == IPPROTO_TCP)
		parse_tcp(p, cur, end);
}

/* The blocklist: an unexpired entry for the source drops it (all packets, or SYNs only). */
static __always_inline bool
block_match(const struct xdpg_cfg *cfg, const struct pkt *p, __u64 now, __u32 len)
{
	struct xdpg_lpm_key k = {.prefixlen = 128};
	struct xdpg_block_val *v;

	__builtin_memcpy(k.addr, p->src, 16);
	v = bpf_map_lookup_elem(&ndg_block, &k);
	if (v == NULL || (v->expires_ns != 0 && v->expires_ns <= now))
		return false; /* an expired entry is as good as gone; control sweeps it */
	if ((cfg->flags & XDPG_F_BLOCK_SYN) && !p->syn)
		return false;
	__sync_fetch_and_add(&v->packets, 1);
	__sync_fetch_and_add(&v->bytes, len);
	return true;
}

/* GCRA: allow while tat - now <= (burst - 1) * T; each SYN moves tat on by T = 1 s / rate. */
static __always_inline bool
syn_over_limit(const struct xdpg_cfg *cfg, const struct pkt *p, __u64 now)
{
	struct xdpg_syn_val *b, init = {0};
	__u64 t, tat;

	if (cfg->syn_rate == 0)
		return false;
	t = NSEC_PER_SEC / cfg->syn_rate;
	b = bpf_map_lookup_elem(&ndg_syn, p->src);
	if (b == NULL) {
		init.tat = now + t;
		(void) bpf_map_update_elem(&ndg_syn, p->src, &init, BPF_NOEXIST);
		return false;
	}
	tat = b->tat > now ? b->tat : now;
	if (tat - now > (__u64) (cfg->syn_burst ? cfg->syn_burst - 1 : 0) * t) {
		b->dropped++;
		return true;
	}
	b->tat = tat + t;
	return false;
}

SEC("xdp")
int
xdp_guard(struct xdp_md *ctx)
{
	void *data = (void *) (long) ctx->data;
	void *end = (void *) (long) ctx->data_end;
	struct ethhdr *eth = data;
	struct pkt p = {0};
	struct xdpg_cfg *cfg;
	__u32 zero = 0;
	void *l3;
	__u16 proto;
	__u64 now;

	stat_inc(XDPG_ST_RX);
	cfg = bpf_map_lookup_elem(&ndg_cfg, &zero);
	if (cfg == NULL || !(cfg->flags & XDPG_F_ENABLED))
		return verdict(XDP_PASS);
	if ((void *) (eth + 1) > end) {
		stat_inc(XDPG_ST_TRUNCATED);
		return verdict(XDP_PASS);
	}
	proto = eth->h_proto;
	l3 = eth + 1;
#pragma unroll
	for (int i = 0; i < VLAN_MAX_DEPTH; i++) {
		struct vlan_hdr *vh = l3;

		if (proto != bpf_htons(ETH_P_8021Q) && proto != bpf_htons(ETH_P_8021AD))
			break;
		if ((void *) (vh + 1) > end) {
			stat_inc(XDPG_ST_TRUNCATED);
			return verdict(XDP_PASS);
		}
		if (i == 0)
			stat_inc(XDPG_ST_VLAN);
		proto = vh->proto;
		l3 = vh + 1;
	}
	if (proto == bpf_htons(ETH_P_IP))
		parse_ipv4(&p, l3, end);
	else if (proto == bpf_htons(ETH_P_IPV6))
		parse_ipv6(&p, l3, end);
	else {
		stat_inc(XDPG_ST_NON_IP);
		return verdict(XDP_PASS);
	}
	if (p.truncated)
		stat_inc(XDPG_ST_TRUNCATED);
	if (p.fragment)
		stat_inc(XDPG_ST_FRAGMENT);
	if (!p.have_ip)
		return verdict(XDP_PASS);

	now = bpf_ktime_get_ns();
	if (block_match(cfg, &p, now, (__u32) (end - data))) {
		stat_inc(XDPG_ST_DROP_BLOCK);
		return XDP_DROP;
	}
	if (p.syn && syn_over_limit(cfg, &p, now)) {
		stat_inc(XDPG_ST_DROP_SYN);
		return XDP_DROP;
	}
	if ((cfg->flags & XDPG_F_STEER) && p.have_tcp && !p.truncated &&
		p.dport == cfg->smtp_port && bpf_map_lookup_elem(&ndg_steer, p.dst) != NULL) {
		int act = (int) bpf_redirect_map(&xsks_map, ctx->rx_queue_index, XDP_PASS);

		if (act == XDP_REDIRECT) {
			stat_inc(XDPG_ST_STEER);
			return act;
		}
		stat_inc(XDPG_ST_STEER_MISS);
	}
	return verdict(XDP_PASS);
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
