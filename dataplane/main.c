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

#include "dp_ctl.h"
#include "lcore.h"
#include "net.h"
#include "port.h"
#include "stats.h"
#include "ndg_common.h"

RTE_LOG_REGISTER(ndg_logtype_main, user.ndg.main, INFO);
#define MAIN_LOG(level, fmt, ...)                                                                  \
	rte_log(RTE_LOG_##level, ndg_logtype_main, "main: " fmt "\n", ##__VA_ARGS__)

#define MAIN_MBUF_CACHE 256  /* per-lcore mempool cache */
#define MAIN_MIN_MBUFS	8191 /* 2^n - 1 is the mempool's sweet spot */

static volatile bool force_quit;

static struct {
	const char *stats_file;
	const char *ctl_socket;
	unsigned int stats_interval_ms;
	unsigned int idle_sleep_us;
	unsigned int n_addrs;
	struct {
		uint16_t port_id;
		struct net_addr addr;
	} addrs[RTE_MAX_ETHPORTS * NET_IF_MAX_ADDRS];
} opts = {
	.stats_interval_ms = 500,
};

static struct net_if nifs[RTE_MAX_ETHPORTS];

static void
signal_handler(int sig)
{
	(void) sig;
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
		"  -h, --help                       this text\n",
		prog, NET_IF_MAX_ADDRS);
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
parse_args(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"addr", required_argument, NULL, 'a'},
		{"stats-file", required_argument, NULL, 's'},
		{"stats-interval", required_argument, NULL, 'i'},
		{"idle-sleep-us", required_argument, NULL, 'I'},
		{"ctl-socket", required_argument, NULL, 'c'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	unsigned long v;
	int c;

	optind = 1;
	while ((c = getopt_long(argc, argv, "a:c:s:i:h", longopts, NULL)) != -1) {
		switch (c) {
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
}

int
main(int argc, char **argv)
{
	static struct stats_lcore *stats_blocks[RTE_MAX_LCORE];
	struct lcore_ctx *ctxs[RTE_MAX_LCORE];
	struct rte_mempool *mp;
	unsigned int n_workers, n_ctx, w;
	uint16_t nb_ports, port_id;
	unsigned int n_mbufs;
	int ret;

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
	if (n_mbufs < MAIN_MIN_MBUFS)
		n_mbufs = MAIN_MIN_MBUFS;
	mp = rte_pktmbuf_pool_create("ndg_mbuf", n_mbufs, MAIN_MBUF_CACHE, 0,
		RTE_MBUF_DEFAULT_BUF_SIZE, rte_socket_id());
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
		if (nifs[port_id].n_addrs == 0)
			MAIN_LOG(WARNING, "port %u has no address: it answers nothing", port_id);

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
	for (w = 0; w < n_ctx; w++)
		stats_blocks[w] = &ctxs[w]->stats;
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
		lcore_ctx_fini(ctxs[w]);
	write_stats();
	stats_write_json(stdout);
	fflush(stdout);
	RTE_ETH_FOREACH_DEV (port_id)
		port_fini(port_id);
	stats_register(NULL, 0);
	for (w = 0; w < n_ctx; w++)
		rte_free(ctxs[w]);
	rte_mempool_free(mp);
	rte_eal_cleanup();
	return 0;
}
