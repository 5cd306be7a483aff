/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * ndrguard-dataplane: EAL init, ports, per-lcore contexts, worker launch, signal handling
 * and orderly shutdown. The main lcore writes statistics while workers run the packet loop;
 * with a single lcore it runs the loop itself and does the same work between bursts.
 * The only file that calls rte_exit().
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <rte_common.h>
#include <rte_cycles.h>
#include <rte_eal.h>
#include <rte_ethdev.h>
#include <rte_launch.h>
#include <rte_lcore.h>
#include <rte_log.h>
#include <rte_malloc.h>
#include <rte_mbuf.h>
#include <rte_mbuf_pool_ops.h>

#include "dp_ctl.h"
#include "app.h"
#include "lcore.h"
#include "net.h"
#include "port.h"
#include "proxy_btls-t.h"
#include "proxy_mem.h"
#include "proxy_tls.h"
#include "tls_mem.h"
#include "stats.h"
#include "tcp.h"
#include "ndg_common.h"

RTE_LOG_REGISTER(ndg_logtype_main, user.ndg.main, INFO);
#define MAIN_LOG(level, fmt, ...)                                                                  \
	rte_log(RTE_LOG_##level, ndg_logtype_main, "main: " fmt "\n", ##__VA_ARGS__)

#define MAIN_MBUF_CACHE 256   /* per-lcore mempool cache */
#define MAIN_MIN_MBUFS	8191  /* 2^n - 1 is the mempool's sweet spot */
#define MAIN_TCP_MBUFS	24576 /* per lcore: send/receive queues of busy connections */
#define MAIN_RSV_MBUFS	1023  /* per lcore: our headers and replies when the pool is short */

static volatile bool force_quit;
static volatile bool dump_conns; /* SIGUSR1: list live TCP connections in the log */
static struct lcore_ctx *all_ctxs[RTE_MAX_LCORE];
static unsigned int all_n_ctx;

static struct {
	const char *stats_file;
	const char *ctl_socket;
	unsigned int stats_interval_ms;
	unsigned int idle_sleep_us;
	unsigned int n_addrs;
	unsigned int n_mbufs;
	bool no_tcp;
	unsigned int n_apps;
	struct app_cfg apps[APP_MAX];
	long tls_mem_mib; /* OpenSSL memory per lcore, MiB; -1: from the TLS slots */
	uint32_t gateway[RTE_MAX_ETHPORTS];
	struct {
		uint16_t port_id;
		struct net_addr addr;
	} addrs[RTE_MAX_ETHPORTS * NET_IF_MAX_ADDRS];
} opts = {
	.stats_interval_ms = 500,
	.tls_mem_mib = -1,
};

static struct tcp_cfg tcp_cfg;

static struct net_if nifs[RTE_MAX_ETHPORTS];

static void
signal_handler(int sig)
{
	if (sig == SIGUSR1)
		dump_conns = true;
	else
		force_quit = true;
}

static void
usage(const char *prog)
{
	fprintf(stderr,
		"usage: %s [EAL options] -- [options]\n"
		"  -a, --addr [PORT:]A.B.C.D[/LEN]  IPv4 address of port PORT (default 0);\n"
		"                                   repeatable, up to %u per port\n"
		"  -s, --stats-file PATH            write counters as JSON to PATH periodically\n"
		"  -i, --stats-interval MS          period of --stats-file writes (default 500)\n"
		"  -c, --ctl-socket PATH            control socket for ndrguard-control\n"
		"      --idle-sleep-us US           sleep US after 1000 empty polls instead of\n"
		"                                   spinning (default 0: always poll)\n"
		"  -g, --gateway [PORT:]A.B.C.D     default next hop of port PORT (default 0)\n"
		"      --mbufs N                    packet buffers (default: sized from ports)\n"
		"      --app echo[:PORT] | discard[:PORT] | client:IP:PORT[:N[:PAR[:BYTES]]]\n"
		"                                   built-in test application (repeatable)\n"
		"      --no-tcp                     no TCP stack (TCP counted as drop_ip_proto)\n"
		"      --tcp-max-conns N            connections per lcore (default %u)\n"
		"      --tcp-syncookies MODE        auto | always | never (default auto)\n"
		"      --tcp-synq N                 half-open connections before cookies (%u)\n"
		"      --tcp-max-per-src N          connections per source address, 0 = any (%u)\n"
		"      --tcp-time-wait MS           TIME-WAIT length (default %u)\n"
		"      --tcp-rcvbuf BYTES           receive buffer per connection (default %u)\n"
		"      --tcp-sndbuf BYTES           send buffer per connection (default %u)\n"
		"      --tcp-rto-min MS             minimum retransmission timeout (default %u)\n"
		"      --tcp-rto-max MS             retransmission backoff cap (default %u)\n"
		"      --tcp-fin-wait2 MS           orphaned FIN-WAIT-2 lifetime (default %u)\n"
		"      --tcp-no-sack                neither offer SACK-permitted nor send SACK "
		"blocks\n"
		"      --tcp-max-orphans N          closed connections still flushing, per lcore,\n"
		"                                   before the oldest is reset (default 0: a\n"
		"                                   quarter of --tcp-max-conns)\n"
		"      --tcp-orphans-per-src N      of those per source address, 0 = any (%u)\n"
		"      --tcp-orphan-retries N       retransmissions of a closed connection (%u)\n"
		"      --tls-sessions N             STARTTLS sessions per lcore, 0 = none (default "
		"%u)\n"
		"      --tls-mem MIB                OpenSSL memory per lcore, reserved at start "
		"(default:\n"
		"                                   %u KiB per TLS slot, client and backend)\n"
		"      --smtp-busy PCT              SMTP sessions that may hold each kind of "
		"engine\n"
		"                                   block (command line, transaction, backend) at\n"
		"                                   once, percent of --app smtp sessions (default "
		"%u);\n"
		"                                   past it: 451 4.3.0 / 421 4.3.2, smtp_no_mem\n"
		"  -h, --help                       this text\n",
		prog, NET_IF_MAX_ADDRS, tcp_cfg.max_conns, tcp_cfg.synq_max, tcp_cfg.max_per_src,
		tcp_cfg.time_wait_ms, tcp_cfg.rcvbuf, tcp_cfg.sndbuf, tcp_cfg.rto_min_ms,
		tcp_cfg.rto_max_ms, tcp_cfg.fin_wait2_ms, tcp_cfg.max_orphans_per_src,
		tcp_cfg.orphan_retries, PROXY_TLS_SLOTS_DEFAULT, TLS_MEM_PER_SLOT / 1024,
		PROXY_BUSY_PCT_DEFAULT);
}

static int
parse_uint(const char *s, unsigned long max, unsigned long *out)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || v > max)
		return -EINVAL;
	*out = v;
	return 0;
}

static int
parse_addr_opt(const char *arg)
{
	const char *colon = strchr(arg, ':');
	unsigned long port = 0;
	struct net_addr a;

	if (opts.n_addrs >= RTE_DIM(opts.addrs))
		return -ENOSPC;
	if (colon != NULL) {
		char buf[8];
		size_t n = (size_t) (colon - arg);

		if (n == 0 || n >= sizeof(buf))
			return -EINVAL;
		memcpy(buf, arg, n);
		buf[n] = '\0';
		if (parse_uint(buf, RTE_MAX_ETHPORTS - 1, &port) != 0)
			return -EINVAL;
		arg = colon + 1;
	}
	if (net_addr_parse(arg, &a) != 0)
		return -EINVAL;
	opts.addrs[opts.n_addrs].port_id = (uint16_t) port;
	opts.addrs[opts.n_addrs].addr = a;
	opts.n_addrs++;
	return 0;
}

static int
parse_gateway_opt(const char *arg)
{
	const char *colon = strchr(arg, ':');
	unsigned long port = 0;
	struct net_addr a;

	if (colon != NULL) {
		char buf[8];
		size_t n = (size_t) (colon - arg);

		if (n == 0 || n >= sizeof(buf))
			return -EINVAL;
		memcpy(buf, arg, n);
		buf[n] = '\0';
		if (parse_uint(buf, RTE_MAX_ETHPORTS - 1, &port) != 0)
			return -EINVAL;
		arg = colon + 1;
	}
	if (net_addr_parse(arg, &a) != 0 || a.plen != 32)
		return -EINVAL;
	opts.gateway[port] = a.ip;
	return 0;
}

enum {
	OPT_MBUFS = 256,
	OPT_APP,
	OPT_NO_TCP,
	OPT_TCP_MAX_CONNS,
	OPT_TCP_SYNCOOKIES,
	OPT_TCP_SYNQ,
	OPT_TCP_MAX_PER_SRC,
	OPT_TCP_TIME_WAIT,
	OPT_TCP_RCVBUF,
	OPT_TCP_SNDBUF,
	OPT_TCP_RTO_MIN,
	OPT_TCP_FIN_WAIT2,
	OPT_TCP_RTO_MAX,
	OPT_TCP_NO_SACK,
	OPT_TCP_MAX_ORPHANS,
	OPT_TCP_ORPHANS_PER_SRC,
	OPT_TCP_ORPHAN_RETRIES,
	OPT_TLS_SESSIONS,
	OPT_SMTP_BUSY,
	OPT_TLS_MEM,
};

/* A numeric long option into <dst>; @return 0 or -EINVAL with a message. */
static int
parse_num_opt(const char *name, const char *arg, unsigned long min, unsigned long max,
	uint32_t *dst)
{
	unsigned long v;

	if (parse_uint(arg, max, &v) != 0 || v < min) {
		fprintf(stderr, "bad --%s '%s' (%lu..%lu)\n", name, arg, min, max);
		return -EINVAL;
	}
	*dst = (uint32_t) v;
	return 0;
}

static int
parse_args(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"addr", required_argument, NULL, 'a'},
		{"stats-file", required_argument, NULL, 's'},
		{"stats-interval", required_argument, NULL, 'i'},
		{"idle-sleep-us", required_argument, NULL, 'I'},
		{"ctl-socket", required_argument, NULL, 'c'},
		{"gateway", required_argument, NULL, 'g'},
		{"mbufs", required_argument, NULL, OPT_MBUFS},
		{"app", required_argument, NULL, OPT_APP},
		{"no-tcp", no_argument, NULL, OPT_NO_TCP},
		{"tcp-max-conns", required_argument, NULL, OPT_TCP_MAX_CONNS},
		{"tcp-syncookies", required_argument, NULL, OPT_TCP_SYNCOOKIES},
		{"tcp-synq", required_argument, NULL, OPT_TCP_SYNQ},
		{"tcp-max-per-src", required_argument, NULL, OPT_TCP_MAX_PER_SRC},
		{"tcp-time-wait", required_argument, NULL, OPT_TCP_TIME_WAIT},
		{"tcp-rcvbuf", required_argument, NULL, OPT_TCP_RCVBUF},
		{"tcp-sndbuf", required_argument, NULL, OPT_TCP_SNDBUF},
		{"tcp-rto-min", required_argument, NULL, OPT_TCP_RTO_MIN},
		{"tcp-fin-wait2", required_argument, NULL, OPT_TCP_FIN_WAIT2},
		{"tcp-rto-max", required_argument, NULL, OPT_TCP_RTO_MAX},
		{"tcp-no-sack", no_argument, NULL, OPT_TCP_NO_SACK},
		{"tcp-max-orphans", required_argument, NULL, OPT_TCP_MAX_ORPHANS},
		{"tcp-orphans-per-src", required_argument, NULL, OPT_TCP_ORPHANS_PER_SRC},
		{"tcp-orphan-retries", required_argument, NULL, OPT_TCP_ORPHAN_RETRIES},
		{"tls-sessions", required_argument, NULL, OPT_TLS_SESSIONS},
		{"smtp-busy", required_argument, NULL, OPT_SMTP_BUSY},
		{"tls-mem", required_argument, NULL, OPT_TLS_MEM},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	unsigned long v;
	uint32_t u;
	int c;

	optind = 1;
	while ((c = getopt_long(argc, argv, "a:c:s:i:g:h", longopts, NULL)) != -1) {
		switch (c) {
		case 'g':
			if (parse_gateway_opt(optarg) != 0) {
				fprintf(stderr, "bad --gateway '%s'\n", optarg);
				return -EINVAL;
			}
			break;
		case OPT_MBUFS:
			if (parse_num_opt("mbufs", optarg, 1023, 16777215, &u) != 0)
				return -EINVAL;
			opts.n_mbufs = u;
			break;
		case OPT_APP:
			if (opts.n_apps >= APP_MAX ||
				app_parse(optarg, &opts.apps[opts.n_apps]) != 0) {
				fprintf(stderr, "bad --app '%s'\n", optarg);
				return -EINVAL;
			}
			opts.n_apps++;
			break;
		case OPT_NO_TCP:
			opts.no_tcp = true;
			break;
		case OPT_TCP_MAX_CONNS:
			if (parse_num_opt("tcp-max-conns", optarg, 16, 1u << 24,
				    &tcp_cfg.max_conns) != 0)
				return -EINVAL;
			break;
		case OPT_TCP_SYNCOOKIES:
			if (strcmp(optarg, "auto") == 0)
				tcp_cfg.syncookies = TCP_SYNCOOKIE_AUTO;
			else if (strcmp(optarg, "always") == 0)
				tcp_cfg.syncookies = TCP_SYNCOOKIE_ALWAYS;
			else if (strcmp(optarg, "never") == 0)
				tcp_cfg.syncookies = TCP_SYNCOOKIE_NEVER;
			else {
				fprintf(stderr, "bad --tcp-syncookies '%s'\n", optarg);
				return -EINVAL;
			}
			break;
		case OPT_TCP_SYNQ:
			if (parse_num_opt("tcp-synq", optarg, 0, 1u << 24, &tcp_cfg.synq_max) != 0)
				return -EINVAL;
			break;
		case OPT_TCP_MAX_PER_SRC:
			if (parse_num_opt("tcp-max-per-src", optarg, 0, 1u << 24,
				    &tcp_cfg.max_per_src) != 0)
				return -EINVAL;
			break;
		case OPT_TCP_TIME_WAIT:
			if (parse_num_opt("tcp-time-wait", optarg, 1, 240000,
				    &tcp_cfg.time_wait_ms) != 0)
				return -EINVAL;
			break;
		case OPT_TCP_RCVBUF:
			if (parse_num_opt("tcp-rcvbuf", optarg, 4096, 1u << 26, &tcp_cfg.rcvbuf) !=
				0)
				return -EINVAL;
			break;
		case OPT_TCP_SNDBUF:
			if (parse_num_opt("tcp-sndbuf", optarg, 4096, 1u << 26, &tcp_cfg.sndbuf) !=
				0)
				return -EINVAL;
			break;
		case OPT_TCP_RTO_MIN:
			if (parse_num_opt("tcp-rto-min", optarg, 10, 1000, &tcp_cfg.rto_min_ms) !=
				0)
				return -EINVAL;
			break;
		case OPT_TCP_RTO_MAX:
			/* RFC 6298 §2.5 wants at least 60 s; lower caps are for labs and for
			 * matching peers that cap theirs (net.ipv4.tcp_rto_max_ms). */
			if (parse_num_opt("tcp-rto-max", optarg, 1000, 120000,
				    &tcp_cfg.rto_max_ms) != 0)
				return -EINVAL;
			break;
		case OPT_TCP_FIN_WAIT2:
			if (parse_num_opt("tcp-fin-wait2", optarg, 1000, 600000,
				    &tcp_cfg.fin_wait2_ms) != 0)
				return -EINVAL;
			break;
		case OPT_TCP_MAX_ORPHANS:
			if (parse_num_opt("tcp-max-orphans", optarg, 0, 1u << 24,
				    &tcp_cfg.max_orphans) != 0)
				return -EINVAL;
			break;
		case OPT_TCP_ORPHANS_PER_SRC:
			if (parse_num_opt("tcp-orphans-per-src", optarg, 0, 1u << 24,
				    &tcp_cfg.max_orphans_per_src) != 0)
				return -EINVAL;
			break;
		case OPT_TCP_ORPHAN_RETRIES:
			if (parse_num_opt("tcp-orphan-retries", optarg, 1, 30,
				    &tcp_cfg.orphan_retries) != 0)
				return -EINVAL;
			break;
		case OPT_TCP_NO_SACK:
			tcp_cfg.sack = false;
			break;
		case OPT_TLS_SESSIONS: {
			uint32_t n;

			if (parse_num_opt("tls-sessions", optarg, 0, 1u << 20, &n) != 0)
				return -EINVAL;
			proxy_tls_set_slots(n);
			break;
		}
		case OPT_TLS_MEM: {
			uint32_t n;

			if (parse_num_opt("tls-mem", optarg, 0, 1u << 16, &n) != 0)
				return -EINVAL;
			opts.tls_mem_mib = n;
			break;
		}
		case OPT_SMTP_BUSY: {
			uint32_t n;

			if (parse_num_opt("smtp-busy", optarg, 1, 100, &n) != 0)
				return -EINVAL;
			proxy_mem_set_busy(n);
			break;
		}
		case 'a':
			if (parse_addr_opt(optarg) != 0) {
				fprintf(stderr, "bad --addr '%s'\n", optarg);
				return -EINVAL;
			}
			break;
		case 's':
			opts.stats_file = optarg;
			break;
		case 'c':
			opts.ctl_socket = optarg;
			break;
		case 'i':
			if (parse_uint(optarg, 3600000, &v) != 0 || v == 0) {
				fprintf(stderr, "bad --stats-interval '%s'\n", optarg);
				return -EINVAL;
			}
			opts.stats_interval_ms = (unsigned int) v;
			break;
		case 'I':
			if (parse_uint(optarg, 100000, &v) != 0) {
				fprintf(stderr, "bad --idle-sleep-us '%s'\n", optarg);
				return -EINVAL;
			}
			opts.idle_sleep_us = (unsigned int) v;
			break;
		case 'h':
		default:
			usage(argv[0]);
			return -EINVAL;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "unexpected argument '%s'\n", argv[optind]);
		return -EINVAL;
	}
	return 0;
}

static void
write_stats(void)
{
	int ret;

	if (opts.stats_file == NULL)
		return;
	ret = stats_write_file(opts.stats_file);
	if (ret != 0)
		MAIN_LOG(WARNING, "writing %s: %s, ignoring", opts.stats_file, strerror(-ret));
}

static void
main_housekeeping(struct lcore_ctx *ctx)
{
	(void) ctx;
	write_stats();
	if (dump_conns) {
		/* Diagnostics only: reads worker state without synchronisation. */
		dump_conns = false;
		for (unsigned int i = 0; i < all_n_ctx; i++)
			if (all_ctxs[i]->tcp != NULL)
				tcp_stack_dump(all_ctxs[i]->tcp, stderr, 64);
		fflush(stderr);
	}
}

/*
 * Does a port need the packet pool packed end to end? net_af_xdp (22.11) registers the pool
 * as its UMEM from the first chunk's address for populated_size x object size bytes. A pool
 * that must be IOVA-contiguous per object is laid out so that no object crosses a page: with
 * 4 KiB pages (--no-huge) that is one 2.3 KiB mbuf per page, and every mbuf past the first
 * ~60 % of the pool lies outside the UMEM, so the kernel refuses it on the fill and tx rings
 * (rx misses and lost frames once the stack holds enough buffers: heavy echo stalled).
 */
static bool
main_need_packed_pool(void)
{
	uint16_t port_id;

	RTE_ETH_FOREACH_DEV (port_id) {
		struct rte_eth_dev_info info;

		if (rte_eth_dev_info_get(port_id, &info) == 0 && info.driver_name != NULL &&
			strcmp(info.driver_name, "net_af_xdp") == 0)
			return true;
	}
	return false;
}

/* rte_pktmbuf_pool_create(), with objects packed back to back when <packed> (no per-object
 * IOVA contiguity: virtual ports only, which never DMA). */
static struct rte_mempool *
main_pool_create(const char *name, unsigned int n, unsigned int cache, bool packed)
{
	struct rte_pktmbuf_pool_private priv = {
		.mbuf_data_room_size = RTE_MBUF_DEFAULT_BUF_SIZE,
		.mbuf_priv_size = 0,
	};
	struct rte_mempool *mp;

	if (!packed)
		return rte_pktmbuf_pool_create(name, n, cache, 0, RTE_MBUF_DEFAULT_BUF_SIZE,
			rte_socket_id());
	mp = rte_mempool_create_empty(name, n, sizeof(struct rte_mbuf) + RTE_MBUF_DEFAULT_BUF_SIZE,
		cache, sizeof(priv), rte_socket_id(), RTE_MEMPOOL_F_NO_IOVA_CONTIG);
	if (mp == NULL)
		return NULL;
	if (rte_mempool_set_ops_byname(mp, rte_mbuf_best_mempool_ops(), NULL) != 0)
		goto fail;
	rte_pktmbuf_pool_init(mp, &priv);
	if (rte_mempool_populate_default(mp) < 0)
		goto fail;
	(void) rte_mempool_obj_iter(mp, rte_pktmbuf_init, NULL);
	return mp;
fail:
	rte_mempool_free(mp);
	return NULL;
}

int
main(int argc, char **argv)
{
	static struct stats_lcore *stats_blocks[RTE_MAX_LCORE];
	struct lcore_ctx *ctxs[RTE_MAX_LCORE];
	static struct rte_mempool *rsv[RTE_MAX_LCORE];
	char rsv_name[RTE_MEMPOOL_NAMESIZE];
	struct rte_mempool *mp;
	unsigned int n_workers, n_ctx, w;
	uint16_t nb_ports, port_id;
	unsigned int n_mbufs;
	int ret;

	tcp_cfg_defaults(&tcp_cfg);
	/* Before anything touches OpenSSL: its allocations go through tls_mem. */
	if (tls_mem_hooks() != 0)
		fprintf(stderr, "ndrguard-dataplane: OpenSSL memory hooks not installed\n");
	ret = rte_eal_init(argc, argv);
	if (ret < 0)
		rte_exit(EXIT_FAILURE, "EAL initialisation failed: %s\n", rte_strerror(rte_errno));
	argc -= ret;
	argv += ret;
	argv[0] = (char *) "ndrguard-dataplane";
	if (parse_args(argc, argv) != 0)
		rte_exit(EXIT_FAILURE, "invalid arguments\n");

	signal(SIGINT, signal_handler);
	signal(SIGTERM, signal_handler);
	signal(SIGUSR1, signal_handler);

	nb_ports = rte_eth_dev_count_avail();
	if (nb_ports == 0)
		rte_exit(EXIT_FAILURE, "no ports: give one with --vdev or an allowed PCI device\n");
	for (unsigned int i = 0; i < opts.n_addrs; i++)
		if (!rte_eth_dev_is_valid_port(opts.addrs[i].port_id))
			rte_exit(EXIT_FAILURE, "--addr names port %u, which does not exist\n",
				opts.addrs[i].port_id);

	/* Workers poll; with one lcore the main lcore polls too. */
	n_workers = rte_lcore_count() - 1;
	n_ctx = n_workers ? n_workers : 1;

	n_mbufs = nb_ports * n_ctx * (PORT_RX_DESC + PORT_TX_DESC + LCORE_BURST) +
		  n_ctx * MAIN_MBUF_CACHE;
	if (!opts.no_tcp)
		n_mbufs += n_ctx * MAIN_TCP_MBUFS;
	if (n_mbufs < MAIN_MIN_MBUFS)
		n_mbufs = MAIN_MIN_MBUFS;
	if (opts.n_mbufs != 0)
		n_mbufs = opts.n_mbufs;
	if (opts.no_tcp && opts.n_apps != 0)
		rte_exit(EXIT_FAILURE, "--app needs the TCP stack\n");
	mp = main_pool_create("ndg_mbuf", n_mbufs, MAIN_MBUF_CACHE, main_need_packed_pool());
	if (mp == NULL)
		rte_exit(EXIT_FAILURE, "mbuf pool of %u: %s\n", n_mbufs, rte_strerror(rte_errno));

	RTE_ETH_FOREACH_DEV (port_id) {
		ret = port_init(port_id, (uint16_t) n_ctx, mp, &nifs[port_id]);
		if (ret != 0)
			rte_exit(EXIT_FAILURE, "port %u: %s\n", port_id, strerror(-ret));
	}
	for (unsigned int i = 0; i < opts.n_addrs; i++) {
		struct net_if *nif = &nifs[opts.addrs[i].port_id];

		if (nif->n_addrs >= NET_IF_MAX_ADDRS)
			rte_exit(EXIT_FAILURE, "more than %u addresses on port %u\n",
				NET_IF_MAX_ADDRS, nif->port_id);
		nif->addrs[nif->n_addrs++] = opts.addrs[i].addr;
	}
	RTE_ETH_FOREACH_DEV (port_id)
		nifs[port_id].gateway = opts.gateway[port_id];
	RTE_ETH_FOREACH_DEV (port_id)
		if (nifs[port_id].n_addrs == 0)
			MAIN_LOG(WARNING, "port %u has no address: it answers nothing", port_id);
	/* Our own addresses are never a source from the wire (BCP 38); the configuration adds
	 * the inside networks and the ports' roles (net_spoof_update()). */
	if (net_spoof_init(nifs, RTE_MAX_ETHPORTS) != 0)
		rte_exit(EXIT_FAILURE, "anti-spoofing table: out of memory\n");

	/* Context i polls queue i of every port and owns tx queue i on each. */
	w = 0;
	for (unsigned int lc = 0; lc < RTE_MAX_LCORE && w < n_ctx; lc++) {
		struct lcore_ctx *ctx;
		int socket;

		if (!rte_lcore_is_enabled(lc) || (n_workers && lc == rte_get_main_lcore()))
			continue;
		socket = (int) rte_lcore_to_socket_id(lc);
		ctx = rte_zmalloc_socket("ndg_lcore", sizeof(*ctx), RTE_CACHE_LINE_SIZE, socket);
		if (ctx == NULL)
			rte_exit(EXIT_FAILURE, "lcore %u context: out of memory\n", lc);
		ctx->lcore_id = lc;
		ctx->quit = &force_quit;
		ctx->idle_sleep_us = opts.idle_sleep_us;
		RTE_ETH_FOREACH_DEV (port_id)
			ctx->nif[port_id] = &nifs[port_id];
		if (!opts.no_tcp) {
			ctx->tcp = tcp_stack_create(&tcp_cfg, ctx, mp, (uint16_t) w,
				(uint16_t) n_ctx, socket);
			if (ctx->tcp == NULL)
				rte_exit(EXIT_FAILURE,
					"lcore %u TCP stack of %u connections: out of "
					"memory\n",
					lc, tcp_cfg.max_conns);
			/* Its own reserve: no receive queue ever holds these, so ACKs,
			 * resets and replies leave even when peers pinned the shared pool. */
			snprintf(rsv_name, sizeof(rsv_name), "ndg_rsv%u", lc);
			rsv[w] = main_pool_create(rsv_name, MAIN_RSV_MBUFS, 0,
				main_need_packed_pool());
			if (rsv[w] == NULL)
				rte_exit(EXIT_FAILURE, "lcore %u reserve of %u mbufs: %s\n", lc,
					MAIN_RSV_MBUFS, rte_strerror(rte_errno));
			ctx->tcp->mp_rsv = rsv[w];
			for (unsigned int a = 0; a < opts.n_apps; a++) {
				ret = app_start(ctx, &opts.apps[a]);
				if (ret != 0)
					rte_exit(EXIT_FAILURE, "--app %u: %s\n", a, strerror(-ret));
			}
		}
		RTE_ETH_FOREACH_DEV (port_id) {
			if (ctx->n_rxq >= LCORE_MAX_RXQ)
				rte_exit(EXIT_FAILURE, "more than %u rx queues per lcore\n",
					LCORE_MAX_RXQ);
			ctx->rxq[ctx->n_rxq].nif = &nifs[port_id];
			ctx->rxq[ctx->n_rxq].port_id = port_id;
			ctx->rxq[ctx->n_rxq].queue_id = (uint16_t) w;
			ctx->n_rxq++;
			if (lcore_ctx_add_tx(ctx, port_id, (uint16_t) w, socket) != 0)
				rte_exit(EXIT_FAILURE, "tx buffer: out of memory\n");
		}
		ctxs[w++] = ctx;
	}
	if (!opts.no_tcp) {
		static struct tcp_stack *stacks[RTE_MAX_LCORE];

		for (w = 0; w < n_ctx; w++)
			stacks[w] = ctxs[w]->tcp;
		tcp_stack_link(stacks, (uint16_t) n_ctx);
		MAIN_LOG(INFO, "TCP: %u connections per lcore, %zu bytes each + %zu of tables",
			tcp_cfg.max_conns, sizeof(struct tcp_conn),
			tcp_tbl_bytes_per_conn(ctxs[0]->tcp));
	}
	{
		unsigned int ids[RTE_MAX_LCORE];
		size_t budget =
			opts.tls_mem_mib >= 0
				? (size_t) opts.tls_mem_mib << 20
				: (size_t) (proxy_tls_get_slots() + PROXY_BTLS_SLOTS_DEFAULT) *
					  TLS_MEM_PER_SLOT;

		for (w = 0; w < n_ctx; w++)
			ids[w] = ctxs[w]->lcore_id;
		if (tls_mem_init(ids, n_ctx, budget) != 0)
			rte_exit(EXIT_FAILURE, "OpenSSL memory of %zu bytes per lcore: no arena\n",
				budget);
		MAIN_LOG(INFO, "TLS: OpenSSL memory %zu KiB per lcore, reserved", budget >> 10);
	}
	for (w = 0; w < n_ctx; w++) {
		stats_blocks[w] = &ctxs[w]->stats;
		all_ctxs[w] = ctxs[w];
	}
	all_n_ctx = n_ctx;
	stats_register_mempool(mp);
	if (stats_register(stats_blocks, n_ctx) != 0)
		rte_exit(EXIT_FAILURE, "too many lcores\n");
	ret = stats_telemetry_init();
	if (ret != 0)
		MAIN_LOG(WARNING, "telemetry command not registered (%d), ignoring", ret);

	if (opts.ctl_socket != NULL) {
		ret = dp_ctl_start(opts.ctl_socket);
		if (ret != 0)
			rte_exit(EXIT_FAILURE, "control socket %s: %s\n", opts.ctl_socket,
				strerror(-ret));
	}

	MAIN_LOG(INFO, "%u port(s), %u polling lcore(s), %u mbufs", nb_ports, n_ctx, n_mbufs);
	printf("ndrguard-dataplane: running\n");
	fflush(stdout);
	write_stats();

	if (n_workers) {
		for (w = 0; w < n_ctx; w++)
			rte_eal_remote_launch(lcore_main, ctxs[w], ctxs[w]->lcore_id);
		while (!force_quit) {
			rte_delay_us_sleep(100 * 1000 > opts.stats_interval_ms * 1000
						   ? opts.stats_interval_ms * 1000
						   : 100 * 1000);
			main_housekeeping(NULL);
		}
		rte_eal_mp_wait_lcore();
	} else {
		ctxs[0]->housekeeping = main_housekeeping;
		ctxs[0]->hk_period = rte_get_tsc_hz() / 1000 * opts.stats_interval_ms;
		lcore_main(ctxs[0]);
	}

	MAIN_LOG(INFO, "stopping");
	dp_ctl_stop();
	for (w = 0; w < n_ctx; w++)
		for (w = 0; w < n_ctx; w++) {
			if (ctxs[w]->tcp != NULL && ctxs[w]->tcp->n_active != 0) {
				MAIN_LOG(INFO, "lcore %u: %u TCP connections open at exit",
					ctxs[w]->lcore_id, ctxs[w]->tcp->n_active);
				tcp_stack_dump(ctxs[w]->tcp, stderr, 16);
			}
			tcp_stack_free(ctxs[w]->tcp);
			ctxs[w]->tcp = NULL;
			lcore_ctx_fini(ctxs[w]);
		}
	write_stats();
	stats_write_json(stdout);
	fflush(stdout);
	RTE_ETH_FOREACH_DEV (port_id)
		port_fini(port_id);
	stats_register(NULL, 0);
	stats_register_mempool(NULL);
	for (w = 0; w < n_ctx; w++) {
		rte_free(ctxs[w]);
		rte_mempool_free(rsv[w]);
	}
	rte_mempool_free(mp);
	rte_eal_cleanup();
	return 0;
}
