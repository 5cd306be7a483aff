/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * xdp_guard under BPF_PROG_TEST_RUN: crafted frames (blocked, allowed, SYN over the limit,
 * truncated headers, VLAN, IPv6, fragments) through the program the kernel verifier accepted,
 * checking the verdict and the counters it moved. Needs root (CAP_BPF); no network.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/tcp.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <cmocka.h>

#include "xdp_guard.h"
#include "xdp_guard.skel.h"

static struct xdp_guard *skel;
static int nr_cpus;

#define APPLIANCE  "198.18.1.2"
#define CLIENT	   "198.18.1.1"
#define BLOCKED	   "198.18.9.7"	     /* inside 198.18.9.0/24 */
#define BLOCKED6   "2001:db8:bad::7" /* inside 2001:db8:bad::/48 */
#define APPLIANCE6 "2001:db8::2"
#define CLIENT6	   "2001:db8::1"

/* Frame builder: Ethernet, optional VLAN tags, then what the case appends. */
struct frame {
	uint8_t b[256];
	size_t len;
};

static void
put(struct frame *f, const void *p, size_t n)
{
	assert_true(f->len + n <= sizeof(f->b));
	memcpy(f->b + f->len, p, n);
	f->len += n;
}

static void
eth(struct frame *f, int vlans, uint16_t type)
{
	static const uint8_t macs[12] = {2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1};
	uint16_t t;

	f->len = 0;
	put(f, macs, sizeof(macs));
	for (int i = 0; i < vlans; i++) {
		uint16_t tag[2] = {htons(i == 0 && vlans == 2 ? ETH_P_8021AD : ETH_P_8021Q),
			htons((uint16_t) (100 + i))};

		put(f, &tag[0], 2);
		put(f, &tag[1], 2);
	}
	t = htons(type);
	put(f, &t, 2);
}

static void
tcp(struct frame *f, uint16_t dport, bool syn, bool ack)
{
	struct tcphdr th = {.source = htons(40000), .dest = htons(dport), .doff = 5};

	th.syn = syn;
	th.ack = ack;
	put(f, &th, sizeof(th));
}

/* IPv4 + TCP; <frag_off> host order (flags and offset), <ihl> in words. */
static void
ip4(struct frame *f, int vlans, const char *src, const char *dst, uint16_t frag_off, int ihl)
{
	struct iphdr ip = {.version = 4,
		.ihl = (unsigned int) ihl,
		.ttl = 64,
		.protocol = IPPROTO_TCP,
		.frag_off = htons(frag_off)};
	uint8_t opts[40] = {0};

	eth(f, vlans, ETH_P_IP);
	inet_pton(AF_INET, src, &ip.saddr);
	inet_pton(AF_INET, dst, &ip.daddr);
	ip.tot_len = htons((uint16_t) (ihl * 4 + 20));
	put(f, &ip, sizeof(ip));
	put(f, opts, (size_t) (ihl - 5) * 4);
}

static void
syn4(struct frame *f, int vlans, const char *src, const char *dst, uint16_t dport)
{
	ip4(f, vlans, src, dst, 0, 5);
	tcp(f, dport, true, false);
}

/* IPv6 with <ext> (NO_EXT, IPPROTO_HOPOPTS, or IPPROTO_FRAGMENT with offset <frag>). */
#define NO_EXT (-1)
static void
ip6(struct frame *f, const char *src, const char *dst, int ext, uint16_t frag)
{
	struct ipv6hdr ip = {.version = 6, .hop_limit = 64};

	eth(f, 0, ETH_P_IPV6);
	inet_pton(AF_INET6, src, &ip.saddr);
	inet_pton(AF_INET6, dst, &ip.daddr);
	ip.nexthdr = ext != NO_EXT ? (uint8_t) ext : IPPROTO_TCP;
	ip.payload_len = htons(20 + (ext != NO_EXT ? 8 : 0));
	put(f, &ip, sizeof(ip));
	if (ext == IPPROTO_HOPOPTS) {
		uint8_t h[8] = {IPPROTO_TCP, 0, 1, 4, 0, 0, 0, 0}; /* PadN */

		put(f, h, sizeof(h));
	} else if (ext == IPPROTO_FRAGMENT) {
		uint8_t h[8] = {IPPROTO_TCP, 0, (uint8_t) (frag >> 8), (uint8_t) frag, 0, 0, 0, 1};

		put(f, h, sizeof(h));
	}
}

static uint64_t
stat(enum xdpg_stat s)
{
	uint64_t v[256] = {0}, sum = 0;
	uint32_t k = s;

	assert_int_equal(bpf_map_lookup_elem(bpf_map__fd(skel->maps.ndg_stats), &k, v), 0);
	for (int i = 0; i < nr_cpus; i++)
		sum += v[i];
	return sum;
}

static int
run(const struct frame *f)
{
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = f->b, .data_size_in = (uint32_t) f->len,
		.repeat = 1);

	assert_int_equal(bpf_prog_test_run_opts(bpf_program__fd(skel->progs.xdp_guard), &o), 0);
	return (int) o.retval;
}

static void
set_cfg(uint32_t flags, uint32_t rate, uint32_t burst)
{
	struct xdpg_cfg c = {.flags = flags,
		.syn_rate = rate,
		.syn_burst = burst,
		.smtp_port = htons(25)};
	uint32_t k = 0;

	assert_int_equal(bpf_map_update_elem(bpf_map__fd(skel->maps.ndg_cfg), &k, &c, 0), 0);
}

static void
addr16(const char *s, uint8_t out[16])
{
	memset(out, 0, 16);
	if (strchr(s, ':') != NULL) {
		assert_int_equal(inet_pton(AF_INET6, s, out), 1);
	} else {
		out[10] = out[11] = 0xff;
		assert_int_equal(inet_pton(AF_INET, s, out + 12), 1);
	}
}

static void
block(const char *net, unsigned int plen, uint64_t expires_ns)
{
	struct xdpg_lpm_key k = {0};
	struct xdpg_block_val v = {.expires_ns = expires_ns, .reason = XDPG_REASON_ADMIN};

	addr16(net, k.addr);
	k.prefixlen = strchr(net, ':') ? plen : 96 + plen;
	assert_int_equal(bpf_map_update_elem(bpf_map__fd(skel->maps.ndg_block), &k, &v, 0), 0);
}

static uint64_t
block_packets(const char *net, unsigned int plen)
{
	struct xdpg_lpm_key k = {0};
	struct xdpg_block_val v;

	addr16(net, k.addr);
	k.prefixlen = strchr(net, ':') ? plen : 96 + plen;
	assert_int_equal(bpf_map_lookup_elem(bpf_map__fd(skel->maps.ndg_block), &k, &v), 0);
	return v.packets;
}

static int
setup(void **state)
{
	uint8_t a[16];
	uint32_t one = 1;
	struct bpf_map *m;

	(void) state;
	nr_cpus = libbpf_num_possible_cpus();
	skel = xdp_guard__open();
	assert_non_null(skel);
	/* Private maps: nothing pinned from a test. */
	bpf_object__for_each_map(m, skel->obj) assert_int_equal(bpf_map__set_pin_path(m, NULL), 0);
	assert_int_equal(xdp_guard__load(skel), 0); /* the verifier accepted every path */
	set_cfg(XDPG_F_ENABLED | XDPG_F_STEER, 0, 0);
	addr16(APPLIANCE, a);
	assert_int_equal(bpf_map_update_elem(bpf_map__fd(skel->maps.ndg_steer), a, &one, 0), 0);
	addr16(APPLIANCE6, a);
	assert_int_equal(bpf_map_update_elem(bpf_map__fd(skel->maps.ndg_steer), a, &one, 0), 0);
	block("198.18.9.0", 24, 0);
	block("2001:db8:bad::", 48, 0);
	return 0;
}

static int
teardown(void **state)
{
	(void) state;
	xdp_guard__destroy(skel);
	return 0;
}

static void
test_blocked_v4(void **state)
{
	struct frame f;
	uint64_t d = stat(XDPG_ST_DROP_BLOCK), p = block_packets("198.18.9.0", 24);

	(void) state;
	syn4(&f, 0, BLOCKED, APPLIANCE, 25);
	assert_int_equal(run(&f), XDP_DROP);
	ip4(&f, 0, BLOCKED, APPLIANCE, 0, 5);
	tcp(&f, 22, false, true); /* not only SYNs: every packet of the source */
	assert_int_equal(run(&f), XDP_DROP);
	assert_int_equal(stat(XDPG_ST_DROP_BLOCK), d + 2);
	assert_int_equal(block_packets("198.18.9.0", 24), p + 2);
}

static void
test_blocked_syn_only(void **state)
{
	struct frame f;

	(void) state;
	set_cfg(XDPG_F_ENABLED | XDPG_F_STEER | XDPG_F_BLOCK_SYN, 0, 0);
	ip4(&f, 0, BLOCKED, APPLIANCE, 0, 5);
	tcp(&f, 25, false, true);
	assert_int_equal(run(&f), XDP_PASS); /* an established flow's ACK passes */
	syn4(&f, 0, BLOCKED, APPLIANCE, 25);
	assert_int_equal(run(&f), XDP_DROP);
	set_cfg(XDPG_F_ENABLED | XDPG_F_STEER, 0, 0);
}

static void
test_allowed_steer(void **state)
{
	struct frame f;
	uint64_t miss = stat(XDPG_ST_STEER_MISS), pass = stat(XDPG_ST_PASS);

	(void) state;
	/* SMTP to our address: steered; with no AF_XDP socket on queue 0 it falls back to PASS. */
	syn4(&f, 0, CLIENT, APPLIANCE, 25);
	assert_int_equal(run(&f), XDP_PASS);
	assert_int_equal(stat(XDPG_ST_STEER_MISS), miss + 1);
	/* ssh to the box, SMTP to another address, non-IP: the kernel's, never steered. */
	syn4(&f, 0, CLIENT, APPLIANCE, 22);
	assert_int_equal(run(&f), XDP_PASS);
	syn4(&f, 0, CLIENT, "198.18.1.99", 25);
	assert_int_equal(run(&f), XDP_PASS);
	eth(&f, 0, ETH_P_ARP);
	put(&f, (uint8_t[28]){0}, 28);
	assert_int_equal(run(&f), XDP_PASS);
	assert_int_equal(stat(XDPG_ST_STEER_MISS), miss + 1);
	assert_int_equal(stat(XDPG_ST_PASS), pass + 4);
	/* Steering off: not even tried. */
	set_cfg(XDPG_F_ENABLED, 0, 0);
	syn4(&f, 0, CLIENT, APPLIANCE, 25);
	assert_int_equal(run(&f), XDP_PASS);
	assert_int_equal(stat(XDPG_ST_STEER_MISS), miss + 1);
	/* Disabled (control has not configured the maps yet): everything passes. */
	set_cfg(0, 0, 0);
	syn4(&f, 0, BLOCKED, APPLIANCE, 25);
	assert_int_equal(run(&f), XDP_PASS);
	set_cfg(XDPG_F_ENABLED | XDPG_F_STEER, 0, 0);
}

static void
test_syn_limit(void **state)
{
	struct frame f;
	uint64_t d = stat(XDPG_ST_DROP_SYN);
	struct timespec ts = {0, 150 * 1000 * 1000};

	(void) state;
	set_cfg(XDPG_F_ENABLED | XDPG_F_STEER, 10, 3); /* 10/s, burst 3: T = 100 ms */
	syn4(&f, 0, "198.18.1.5", APPLIANCE, 25);
	for (int i = 0; i < 3; i++)
		assert_int_equal(run(&f), XDP_PASS);
	assert_int_equal(run(&f), XDP_DROP);
	assert_int_equal(run(&f), XDP_DROP);
	assert_int_equal(stat(XDPG_ST_DROP_SYN), d + 2);
	/* Another source has its own bucket; non-SYN segments are never limited. */
	syn4(&f, 0, "198.18.1.6", APPLIANCE, 25);
	assert_int_equal(run(&f), XDP_PASS);
	ip4(&f, 0, "198.18.1.5", APPLIANCE, 0, 5);
	tcp(&f, 25, false, true);
	assert_int_equal(run(&f), XDP_PASS);
	/* After at least one interval T the bucket holds a token again. */
	nanosleep(&ts, NULL);
	syn4(&f, 0, "198.18.1.5", APPLIANCE, 25);
	assert_int_equal(run(&f), XDP_PASS);
	set_cfg(XDPG_F_ENABLED | XDPG_F_STEER, 0, 0);
}

static void
test_vlan(void **state)
{
	struct frame f;
	uint64_t v = stat(XDPG_ST_VLAN), miss = stat(XDPG_ST_STEER_MISS);

	(void) state;
	syn4(&f, 1, BLOCKED, APPLIANCE, 25);
	assert_int_equal(run(&f), XDP_DROP);
	syn4(&f, 2, BLOCKED, APPLIANCE, 25); /* QinQ */
	assert_int_equal(run(&f), XDP_DROP);
	syn4(&f, 2, CLIENT, APPLIANCE, 25);
	assert_int_equal(run(&f), XDP_PASS);
	assert_int_equal(stat(XDPG_ST_STEER_MISS), miss + 1);
	assert_int_equal(stat(XDPG_ST_VLAN), v + 3);
	/* A tag cut short: passed, not read. */
	eth(&f, 0, ETH_P_8021Q);
	put(&f, (uint8_t[2]){0, 100}, 2);
	assert_int_equal(run(&f), XDP_PASS);
}

static void
test_ipv6(void **state)
{
	struct frame f;
	uint64_t miss = stat(XDPG_ST_STEER_MISS), v6 = stat(XDPG_ST_IPV6);

	(void) state;
	ip6(&f, BLOCKED6, APPLIANCE6, NO_EXT, 0);
	tcp(&f, 25, true, false);
	assert_int_equal(run(&f), XDP_DROP);
	ip6(&f, BLOCKED6, APPLIANCE6, IPPROTO_HOPOPTS, 0);
	tcp(&f, 25, true, false);
	assert_int_equal(run(&f), XDP_DROP);
	ip6(&f, CLIENT6, APPLIANCE6, IPPROTO_HOPOPTS, 0); /* TCP read behind the option */
	tcp(&f, 25, true, false);
	assert_int_equal(run(&f), XDP_PASS);
	assert_int_equal(stat(XDPG_ST_STEER_MISS), miss + 1);
	ip6(&f, CLIENT6, APPLIANCE6, NO_EXT, 0);
	tcp(&f, 22, true, false);
	assert_int_equal(run(&f), XDP_PASS);
	assert_int_equal(stat(XDPG_ST_STEER_MISS), miss + 1);
	/* An IPv4 /24 does not match the v6 address with the same low bytes. */
	ip6(&f, "::c612:907", APPLIANCE6, NO_EXT, 0);
	tcp(&f, 25, false, true);
	assert_int_equal(run(&f), XDP_PASS);
	assert_int_equal(stat(XDPG_ST_IPV6), v6 + 5);
}

static void
test_fragments(void **state)
{
	struct frame f;
	uint64_t fr = stat(XDPG_ST_FRAGMENT), miss = stat(XDPG_ST_STEER_MISS);

	(void) state;
	/* A later fragment of a blocked source: the source is known, so it is dropped. */
	ip4(&f, 0, BLOCKED, APPLIANCE, 185, 5);
	put(&f, (uint8_t[20]){0}, 20);
	assert_int_equal(run(&f), XDP_DROP);
	/* A first fragment (MF) to port 25 and a later one: the kernel's, never steered. */
	ip4(&f, 0, CLIENT, APPLIANCE, 0x2000, 5);
	tcp(&f, 25, true, false);
	assert_int_equal(run(&f), XDP_PASS);
	ip4(&f, 0, CLIENT, APPLIANCE, 185, 5);
	tcp(&f, 25, true, false); /* bytes that look like a SYN are payload here */
	assert_int_equal(run(&f), XDP_PASS);
	/* IPv6: a fragment header with an offset; and an atomic fragment (RFC 6946), read on. */
	ip6(&f, CLIENT6, APPLIANCE6, IPPROTO_FRAGMENT, 185 << 3);
	tcp(&f, 25, true, false);
	assert_int_equal(run(&f), XDP_PASS);
	assert_int_equal(stat(XDPG_ST_STEER_MISS), miss);
	assert_int_equal(stat(XDPG_ST_FRAGMENT), fr + 4);
	ip6(&f, CLIENT6, APPLIANCE6, IPPROTO_FRAGMENT, 0);
	tcp(&f, 25, true, false);
	assert_int_equal(run(&f), XDP_PASS);
	assert_int_equal(stat(XDPG_ST_STEER_MISS), miss + 1);
	ip6(&f, BLOCKED6, APPLIANCE6, IPPROTO_FRAGMENT, 185 << 3);
	put(&f, (uint8_t[8]){0}, 8);
	assert_int_equal(run(&f), XDP_DROP);
}

static void
test_truncated(void **state)
{
	struct frame f;
	uint64_t tr = stat(XDPG_ST_TRUNCATED), miss = stat(XDPG_ST_STEER_MISS);

	(void) state;
	/* Ethernet says IPv4, nothing follows (the kernel refuses test frames under 14 bytes). */
	eth(&f, 0, ETH_P_IP);
	assert_int_equal(run(&f), XDP_PASS);
	/* IPv4 header cut at 12 bytes: no source known, passed. */
	syn4(&f, 0, BLOCKED, APPLIANCE, 25);
	f.len = 14 + 12;
	assert_int_equal(run(&f), XDP_PASS);
	/* IHL announces options past the end. */
	ip4(&f, 0, BLOCKED, APPLIANCE, 0, 15);
	f.len = 14 + 24;
	assert_int_equal(run(&f), XDP_PASS);
	/* IHL below 5 is malformed. */
	syn4(&f, 0, CLIENT, APPLIANCE, 25);
	f.b[14] = 0x44;
	assert_int_equal(run(&f), XDP_PASS);
	/* TCP cut short: a blocked source is still dropped; an allowed one is never steered. */
	syn4(&f, 0, BLOCKED, APPLIANCE, 25);
	f.len -= 8;
	assert_int_equal(run(&f), XDP_DROP);
	syn4(&f, 0, CLIENT, APPLIANCE, 25);
	f.len -= 8;
	assert_int_equal(run(&f), XDP_PASS);
	/* Data offset past the end (options announced, not present). */
	syn4(&f, 0, CLIENT, APPLIANCE, 25);
	f.b[14 + 20 + 12] = 0xf0;
	assert_int_equal(run(&f), XDP_PASS);
	/* IPv6 header cut, and an extension header cut. */
	ip6(&f, CLIENT6, APPLIANCE6, NO_EXT, 0);
	f.len = 14 + 30;
	assert_int_equal(run(&f), XDP_PASS);
	ip6(&f, CLIENT6, APPLIANCE6, IPPROTO_HOPOPTS, 0);
	f.len = 14 + 40 + 1;
	assert_int_equal(run(&f), XDP_PASS);
	assert_int_equal(stat(XDPG_ST_STEER_MISS), miss);
	assert_int_equal(stat(XDPG_ST_TRUNCATED), tr + 9);
}

static void
test_expiry(void **state)
{
	struct timespec now;
	struct frame f;
	uint64_t ns;

	(void) state;
	clock_gettime(CLOCK_MONOTONIC, &now);
	ns = (uint64_t) now.tv_sec * 1000000000ull + (uint64_t) now.tv_nsec;
	block("198.18.7.7", 32, ns - 1); /* expired: as good as gone */
	syn4(&f, 0, "198.18.7.7", APPLIANCE, 25);
	assert_int_equal(run(&f), XDP_PASS);
	block("198.18.7.7", 32, ns + 3600ull * 1000000000ull);
	assert_int_equal(run(&f), XDP_DROP);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_blocked_v4),
		cmocka_unit_test(test_blocked_syn_only),
		cmocka_unit_test(test_allowed_steer),
		cmocka_unit_test(test_syn_limit),
		cmocka_unit_test(test_vlan),
		cmocka_unit_test(test_ipv6),
		cmocka_unit_test(test_fragments),
		cmocka_unit_test(test_truncated),
		cmocka_unit_test(test_expiry),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
