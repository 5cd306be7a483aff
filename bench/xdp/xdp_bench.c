/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * ndrguard-xdp-bench: figures for bpf/xdp_guard (printed, never asserted). Single-threaded.
 *   prog [--prefixes N] [--repeat N]
 *       BPF_PROG_TEST_RUN on one core with a blocklist of N prefixes: a SYN from a blocked
 *       source (XDP_DROP) and the same SYN from an allowed one (steering path): ns/packet and
 *       packets per second per core, as the kernel measures the program.
 *   flood IFACE DST_MAC SRC_IP DST_IP PORT SECONDS
 *       SYNs from SRC_IP (random source ports) over a packet socket with sendmmsg, for at most
 *       SECONDS: prints the packets sent. The lab's flood for bench/xdp-bench.sh.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <linux/ip.h>
#include <linux/tcp.h>
#include <net/if.h>
#include <sys/socket.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "xdp_guard.h"
#include "xdp_guard.skel.h"

#define FRAME_LEN 58 /* Ethernet 14 + IPv4 20 + TCP 20 + 4 bytes of MSS option */
#define BATCH	  64

static uint16_t
csum16(const void *p, size_t n, uint32_t sum)
{
	const uint8_t *b = p;

	for (size_t i = 0; i + 1 < n; i += 2)
		sum += (uint32_t) (b[i] << 8 | b[i + 1]);
	if (n & 1)
		sum += (uint32_t) (b[n - 1] << 8);
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t) ~sum;
}

/* A SYN with valid checksums: the dataplane must find it worth answering. */
static void
syn_frame(uint8_t *f, const uint8_t dmac[6], const uint8_t smac[6], uint32_t src, uint32_t dst,
	uint16_t sport, uint16_t dport, uint32_t seq)
{
	struct iphdr *ip = (struct iphdr *) (f + 14);
	struct tcphdr *th = (struct tcphdr *) (f + 34);
	uint8_t ph[12];
	uint32_t sum = 0;

	memset(f, 0, FRAME_LEN);
	memcpy(f, dmac, 6);
	memcpy(f + 6, smac, 6);
	f[12] = 0x08;
	ip->version = 4;
	ip->ihl = 5;
	ip->tot_len = htons(FRAME_LEN - 14);
	ip->frag_off = htons(0x4000);
	ip->ttl = 64;
	ip->protocol = IPPROTO_TCP;
	ip->saddr = src;
	ip->daddr = dst;
	ip->check = htons(csum16(ip, 20, 0));
	th->source = htons(sport);
	th->dest = htons(dport);
	th->seq = htonl(seq);
	th->doff = 6;
	th->syn = 1;
	th->window = htons(64240);
	f[54] = 2; /* MSS 1460 */
	f[55] = 4;
	f[56] = 0x05;
	f[57] = 0xb4;
	memcpy(ph, &src, 4);
	memcpy(ph + 4, &dst, 4);
	ph[8] = 0;
	ph[9] = IPPROTO_TCP;
	ph[10] = 0;
	ph[11] = 24;
	for (size_t i = 0; i < 12; i += 2)
		sum += (uint32_t) (ph[i] << 8 | ph[i + 1]);
	th->check = htons(csum16(th, 24, sum));
}

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}

static int
bench_prog(int argc, char **argv)
{
	static const uint8_t mac[6] = {2, 0, 0, 0, 0, 1};
	unsigned long prefixes = 10000, repeat = 5000000;
	struct xdp_guard *skel;
	struct bpf_map *m;
	uint8_t frame[FRAME_LEN];
	uint32_t zero = 0, one = 1, blocked, allowed, app;
	struct xdpg_cfg cfg = {.flags = XDPG_F_ENABLED | XDPG_F_STEER, .smtp_port = htons(25)};
	double drop_ns = 0, pass_ns = 0;

	for (int i = 0; i + 1 < argc; i += 2) {
		if (strcmp(argv[i], "--prefixes") == 0)
			prefixes = strtoul(argv[i + 1], NULL, 10);
		else if (strcmp(argv[i], "--repeat") == 0)
			repeat = strtoul(argv[i + 1], NULL, 10);
	}
	skel = xdp_guard__open();
	if (skel == NULL)
		return 1;
	bpf_object__for_each_map(m, skel->obj) bpf_map__set_pin_path(m, NULL);
	if (xdp_guard__load(skel) != 0) {
		fprintf(stderr, "load failed (root?)\n");
		xdp_guard__destroy(skel);
		return 1;
	}
	bpf_map_update_elem(bpf_map__fd(skel->maps.ndg_cfg), &zero, &cfg, 0);
	inet_pton(AF_INET, "198.18.1.2", &app);
	{
		uint8_t a[16] = {[10] = 0xff, [11] = 0xff};

		memcpy(a + 12, &app, 4);
		bpf_map_update_elem(bpf_map__fd(skel->maps.ndg_steer), a, &one, 0);
	}
	/* N /24s spread over 10.0.0.0/8 (the flood's one among them), and the source's. */
	for (unsigned long i = 0; i < prefixes; i++) {
		struct xdpg_lpm_key k = {.prefixlen = 96 + 24, .addr = {[10] = 0xff, [11] = 0xff}};
		struct xdpg_block_val v = {.reason = XDPG_REASON_ADMIN};

		k.addr[12] = 10;
		k.addr[13] = (uint8_t) (i >> 8);
		k.addr[14] = (uint8_t) i;
		bpf_map_update_elem(bpf_map__fd(skel->maps.ndg_block), &k, &v, 0);
	}
	inet_pton(AF_INET, "10.0.7.9", &blocked);
	inet_pton(AF_INET, "198.18.1.1", &allowed);
	for (int pass = 0; pass < 2; pass++) {
		LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = frame, .data_size_in = FRAME_LEN,
			.repeat = (int) repeat);

		syn_frame(frame, mac, mac, pass ? allowed : blocked, app, 40000, 25, 1);
		if (bpf_prog_test_run_opts(bpf_program__fd(skel->progs.xdp_guard), &o) != 0) {
			perror("BPF_PROG_TEST_RUN");
			xdp_guard__destroy(skel);
			return 1;
		}
		if (pass)
			pass_ns = o.duration;
		else
			drop_ns = o.duration;
		printf("%-44s retval %u, %u ns/packet, %.2f M packets/s per core\n",
			pass ? "allowed SYN (trie miss, steering lookup):"
			     : "blocked SYN (trie hit, counted, XDP_DROP):",
			o.retval, o.duration, o.duration ? 1e3 / o.duration : 0.0);
	}
	printf("{\"prefixes\":%lu,\"repeat\":%lu,\"drop_ns\":%.0f,\"drop_pps_per_core\":%.0f,"
	       "\"pass_ns\":%.0f}\n",
		prefixes, repeat, drop_ns, drop_ns > 0 ? 1e9 / drop_ns : 0.0, pass_ns);
	xdp_guard__destroy(skel);
	return 0;
}

static int
bench_flood(char **argv)
{
	static uint8_t frames[BATCH][FRAME_LEN];
	struct sockaddr_ll sll = {.sll_family = AF_PACKET, .sll_protocol = htons(ETH_P_ALL)};
	struct mmsghdr msgs[BATCH];
	struct iovec iov[BATCH];
	uint8_t dmac[6], smac[6];
	uint32_t src, dst;
	unsigned long sent = 0;
	double secs = strtod(argv[5], NULL), t0, t;
	int fd, one = 1;
	socklen_t sl = sizeof(sll);
	unsigned int port = (unsigned int) strtoul(argv[4], NULL, 10);

	if (sscanf(argv[1], "%hhx:%hhx:%hhx:%hhx:%hhx:%hhx", &dmac[0], &dmac[1], &dmac[2], &dmac[3],
		    &dmac[4], &dmac[5]) != 6 ||
		inet_pton(AF_INET, argv[2], &src) != 1 || inet_pton(AF_INET, argv[3], &dst) != 1 ||
		secs <= 0 || secs > 60 || port == 0 || port > 65535) {
		fprintf(stderr, "flood IFACE DST_MAC SRC_IP DST_IP PORT SECONDS(<=60)\n");
		return 2;
	}
	fd = socket(AF_PACKET, SOCK_RAW, 0);
	sll.sll_ifindex = (int) if_nametoindex(argv[0]);
	if (fd < 0 || sll.sll_ifindex == 0 ||
		bind(fd, (struct sockaddr *) &sll, sizeof(sll)) != 0 ||
		getsockname(fd, (struct sockaddr *) &sll, &sl) != 0) {
		perror("packet socket");
		return 1;
	}
	(void) setsockopt(fd, SOL_PACKET, PACKET_QDISC_BYPASS, &one, sizeof(one));
	memcpy(smac, sll.sll_addr, 6);
	memset(msgs, 0, sizeof(msgs));
	t0 = t = now_s();
	while (t - t0 < secs) {
		int n;

		for (int i = 0; i < BATCH; i++) {
			syn_frame(frames[i], dmac, smac, src, dst,
				(uint16_t) (1024 + (sent + (unsigned long) i) % 64000),
				(uint16_t) port, (uint32_t) (sent + (unsigned long) i));
			iov[i].iov_base = frames[i];
			iov[i].iov_len = FRAME_LEN;
			msgs[i].msg_hdr.msg_iov = &iov[i];
			msgs[i].msg_hdr.msg_iovlen = 1;
		}
		n = sendmmsg(fd, msgs, BATCH, 0);
		if (n > 0)
			sent += (unsigned long) n;
		else if (errno != ENOBUFS && errno != EAGAIN) {
			perror("sendmmsg");
			break;
		}
		t = now_s();
	}
	printf("%lu %.3f\n", sent, t - t0);
	close(fd);
	return 0;
}

int
main(int argc, char **argv)
{
	if (argc >= 2 && strcmp(argv[1], "prog") == 0)
		return bench_prog(argc - 2, argv + 2);
	if (argc == 8 && strcmp(argv[1], "flood") == 0)
		return bench_flood(argv + 2);
	fprintf(stderr,
		"usage: ndrguard-xdp-bench prog [--prefixes N] [--repeat N]\n"
		"       ndrguard-xdp-bench flood IFACE DST_MAC SRC_IP DST_IP PORT SECONDS\n");
	return 2;
}
