/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Counter names, aggregation across lcores and export (rte_telemetry and a JSON file).
 * Workers only bump their own block (stats.h); everything here runs on the main lcore
 * or the telemetry thread and only reads.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <rte_common.h>
#include <rte_ethdev.h>
#include <rte_mempool.h>
#include <rte_telemetry.h>

#include "stats.h"
#include "ndg_common.h"

static const char *const stats_names[STATS_MAX] = {
	[STATS_RX_PACKETS] = "rx_packets",
	[STATS_RX_BYTES] = "rx_bytes",
	[STATS_TX_PACKETS] = "tx_packets",
	[STATS_TX_DROPPED] = "tx_dropped",
	[STATS_LOOPS] = "loops",
	[STATS_DROP_ETH_TRUNCATED] = "drop_eth_truncated",
	[STATS_DROP_ETH_NOT_FOR_US] = "drop_eth_not_for_us",
	[STATS_DROP_ETH_UNKNOWN_TYPE] = "drop_eth_unknown_type",
	[STATS_ARP_REQUEST_RX] = "arp_request_rx",
	[STATS_ARP_REPLY_TX] = "arp_reply_tx",
	[STATS_DROP_ARP_TRUNCATED] = "drop_arp_truncated",
	[STATS_DROP_ARP_BAD] = "drop_arp_bad",
	[STATS_DROP_ARP_NOT_FOR_US] = "drop_arp_not_for_us",
	[STATS_DROP_ARP_OTHER_OP] = "drop_arp_other_op",
	[STATS_DROP_ARP_SPOOFED_SRC] = "drop_arp_spoofed_src",
	[STATS_DROP_IP_TRUNCATED] = "drop_ip_truncated",
	[STATS_DROP_IP_BAD_VERSION] = "drop_ip_bad_version",
	[STATS_DROP_IP_BAD_IHL] = "drop_ip_bad_ihl",
	[STATS_DROP_IP_BAD_LEN] = "drop_ip_bad_len",
	[STATS_DROP_IP_BAD_CKSUM] = "drop_ip_bad_cksum",
	[STATS_DROP_IP_OPTIONS] = "drop_ip_options",
	[STATS_DROP_IP_FRAGMENT] = "drop_ip_fragment",
	[STATS_DROP_IP_BAD_SRC] = "drop_ip_bad_src",
	[STATS_DROP_IP_SPOOFED_SRC] = "drop_ip_spoofed_src",
	[STATS_DROP_IP_NOT_FOR_US] = "drop_ip_not_for_us",
	[STATS_DROP_IP_PROTO] = "drop_ip_proto",
	[STATS_ICMP_ECHO_RX] = "icmp_echo_rx",
	[STATS_ICMP_ECHO_REPLY_TX] = "icmp_echo_reply_tx",
	[STATS_DROP_ICMP_TRUNCATED] = "drop_icmp_truncated",
	[STATS_DROP_ICMP_BAD_CKSUM] = "drop_icmp_bad_cksum",
	[STATS_DROP_ICMP_TYPE] = "drop_icmp_type",
	[STATS_TCP_SEG_RX] = "tcp_seg_rx",
	[STATS_TCP_SEG_TX] = "tcp_seg_tx",
	[STATS_TCP_BYTES_RX] = "tcp_bytes_rx",
	[STATS_TCP_BYTES_TX] = "tcp_bytes_tx",
	[STATS_DROP_TCP_TRUNCATED] = "drop_tcp_truncated",
	[STATS_DROP_TCP_BAD_OFF] = "drop_tcp_bad_off",
	[STATS_DROP_TCP_BAD_CKSUM] = "drop_tcp_bad_cksum",
	[STATS_DROP_TCP_BAD_PORT] = "drop_tcp_bad_port",
	[STATS_TCP_BAD_OPTIONS] = "tcp_bad_options",
	[STATS_TCP_NO_CONN] = "tcp_no_conn",
	[STATS_TCP_RST_NO_CONN] = "tcp_rst_no_conn",
	[STATS_TCP_RST_RX] = "tcp_rst_rx",
	[STATS_TCP_RST_TX] = "tcp_rst_tx",
	[STATS_TCP_RST_OUT_OF_WINDOW] = "tcp_rst_out_of_window",
	[STATS_TCP_SEG_OUT_OF_WINDOW] = "tcp_seg_out_of_window",
	[STATS_TCP_SEG_PARTIAL_DUP] = "tcp_seg_partial_dup",
	[STATS_TCP_CHALLENGE_ACK] = "tcp_challenge_ack",
	[STATS_TCP_CHALLENGE_ACK_LIMITED] = "tcp_challenge_ack_limited",
	[STATS_TCP_ACK_TOO_NEW] = "tcp_ack_too_new",
	[STATS_TCP_ACK_TOO_OLD] = "tcp_ack_too_old",
	[STATS_TCP_SYN_RX] = "tcp_syn_rx",
	[STATS_TCP_SYN_DROP] = "tcp_syn_drop",
	[STATS_TCP_SYNCOOKIE_TX] = "tcp_syncookie_tx",
	[STATS_TCP_SYNCOOKIE_OK] = "tcp_syncookie_ok",
	[STATS_TCP_SYNCOOKIE_BAD] = "tcp_syncookie_bad",
	[STATS_TCP_SRC_LIMIT] = "tcp_src_limit",
	[STATS_TCP_CONN_POOL_EMPTY] = "tcp_conn_pool_empty",
	[STATS_TCP_CONN_ACTIVE] = "tcp_conn_active",
	[STATS_TCP_CONN_OPENED] = "tcp_conn_opened",
	[STATS_TCP_CONN_CLOSED] = "tcp_conn_closed",
	[STATS_TCP_CONN_ABORTED] = "tcp_conn_aborted",
	[STATS_TCP_CONN_REFUSED] = "tcp_conn_refused",
	[STATS_TCP_PASSIVE_OPEN] = "tcp_passive_open",
	[STATS_TCP_ACTIVE_OPEN] = "tcp_active_open",
	[STATS_TCP_TIME_WAIT] = "tcp_time_wait",
	[STATS_TCP_RTO] = "tcp_rto",
	[STATS_TCP_RXMT_SEGS] = "tcp_rxmt_segs",
	[STATS_TCP_FAST_RXMT] = "tcp_fast_rxmt",
	[STATS_TCP_DUPACK_RX] = "tcp_dupack_rx",
	[STATS_TCP_OOO_RX] = "tcp_ooo_rx",
	[STATS_TCP_OOO_DROP] = "tcp_ooo_drop",
	[STATS_TCP_WINDOW_PROBE] = "tcp_window_probe",
	[STATS_TCP_NOMBUF] = "tcp_nombuf",
	[STATS_TCP_ICMP] = "tcp_icmp",
	[STATS_TCP_ICMP_IGNORED] = "tcp_icmp_ignored",
	[STATS_TCP_HANDOFF] = "tcp_handoff",
	[STATS_TCP_HANDOFF_DROP] = "tcp_handoff_drop",
	[STATS_ARP_REQUEST_TX] = "arp_request_tx",
	[STATS_ARP_REPLY_RX] = "arp_reply_rx",
	[STATS_ARP_PENDING_DROP] = "arp_pending_drop",
	[STATS_ICMP_UNREACH_RX] = "icmp_unreach_rx",
	[STATS_APP_ECHO_BYTES] = "app_echo_bytes",
	[STATS_APP_DISCARD_BYTES] = "app_discard_bytes",
	[STATS_APP_CLIENT_OK] = "app_client_ok",
	[STATS_APP_CLIENT_FAIL] = "app_client_fail",
	[STATS_TCP_MEM_PRESSURE] = "tcp_mem_pressure",
	[STATS_TCP_MEM_DROP] = "tcp_mem_drop",
	[STATS_TCP_SYN_RESENT] = "tcp_syn_resent",
	[STATS_TCP_SACK_TX] = "tcp_sack_tx",
	[STATS_TCP_RCV_COALESCED] = "tcp_rcv_coalesced",
	[STATS_TCP_RCV_COLLAPSED] = "tcp_rcv_collapsed",
	[STATS_TCP_RCV_PRUNED] = "tcp_rcv_pruned",
	[STATS_TCP_SRC_MEM_DROP] = "tcp_src_mem_drop",
	[STATS_TCP_OOO_PRUNED] = "tcp_ooo_pruned",
	[STATS_DROP_TCP_CHAINED] = "drop_tcp_chained",
	[STATS_TCP_MSS_CLAMPED] = "tcp_mss_clamped",
	[STATS_TCP_OOW_ACK_LIMITED] = "tcp_oow_ack_limited",
	[STATS_TCP_ORPHANS] = "tcp_orphans",
	[STATS_TCP_ORPHAN_REAPED] = "tcp_orphan_reaped",
	[STATS_TCP_TIME_WAIT_REAPED] = "tcp_time_wait_reaped",
	[STATS_TCP_ORPHAN_SRC_LIMIT] = "tcp_orphan_src_limit",
	[STATS_TCP_RSV_ALLOC] = "tcp_rsv_alloc",
};

static struct stats_lcore *const *stats_blocks;
static const struct rte_mempool *stats_mp;

void
stats_register_mempool(const struct rte_mempool *mp)
{
	stats_mp = mp;
}
static unsigned int stats_nblocks;

const char *
stats_name(enum stats_id id)
{
	if ((unsigned int) id >= STATS_MAX || stats_names[id] == NULL)
		return "unknown";
	return stats_names[id];
}

int
stats_register(struct stats_lcore *const *blocks, unsigned int n)
{
	if (n > RTE_MAX_LCORE)
		return -ENOSPC;
	stats_blocks = blocks;
	stats_nblocks = n;
	return 0;
}

void
stats_sum(struct stats_lcore *out)
{
	memset(out, 0, sizeof(*out));
	for (unsigned int b = 0; b < stats_nblocks; b++)
		for (unsigned int i = 0; i < STATS_MAX; i++)
			out->c[i] += __atomic_load_n(&stats_blocks[b]->c[i], __ATOMIC_RELAXED);
}

int
stats_write_json(FILE *f)
{
	struct stats_lcore sum;
	uint16_t port_id;
	bool first = true;

	stats_sum(&sum);
	fputs("{\"counters\":{", f);
	for (unsigned int i = 0; i < STATS_MAX; i++)
		fprintf(f, "%s\"%s\":%" PRIu64, i ? "," : "", stats_name(i), sum.c[i]);
	fputs("},\"ports\":[", f);
	RTE_ETH_FOREACH_DEV (port_id) {
		struct rte_eth_stats es;
		char name[RTE_ETH_NAME_MAX_LEN];

		if (rte_eth_stats_get(port_id, &es) != 0)
			continue;
		if (rte_eth_dev_get_name_by_port(port_id, name) != 0)
			name[0] = '\0';
		fprintf(f,
			"%s{\"port\":%u,\"name\":\"%s\",\"ipackets\":%" PRIu64
			",\"opackets\":%" PRIu64 ",\"imissed\":%" PRIu64 ",\"ierrors\":%" PRIu64
			",\"oerrors\":%" PRIu64 ",\"rx_nombuf\":%" PRIu64 "}",
			first ? "" : ",", port_id, name, es.ipackets, es.opackets, es.imissed,
			es.ierrors, es.oerrors, es.rx_nombuf);
		first = false;
	}
	fputs("]", f);
	if (stats_mp != NULL)
		fprintf(f, ",\"mbufs\":{\"size\":%u,\"in_use\":%u}", stats_mp->size,
			rte_mempool_in_use_count(stats_mp));
	fputs("}\n", f);
	return ferror(f) ? -EIO : 0;
}

int
stats_write_file(const char *path)
{
	char tmp[4096];
	FILE *f;
	int ret;

	if ((size_t) snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= sizeof(tmp))
		return -ENAMETOOLONG;
	f = fopen(tmp, "w");
	if (f == NULL)
		return -errno;
	ret = stats_write_json(f);
	if (fclose(f) != 0 && ret == 0)
		ret = -errno;
	if (ret == 0 && rename(tmp, path) != 0)
		ret = -errno;
	if (ret != 0)
		(void) unlink(tmp);
	return ret;
}

bool
stats_appendf(char *buf, size_t size, size_t *used, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (*used >= size)
		return false;
	va_start(ap, fmt);
	n = vsnprintf(buf + *used, size - *used, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t) n >= size - *used) {
		buf[*used] = '\0';
		return false;
	}
	*used += (size_t) n;
	return true;
}

static int
stats_telemetry_cb(const char *cmd __rte_unused, const char *params __rte_unused,
	struct rte_tel_data *d)
{
	struct stats_lcore sum;

	stats_sum(&sum);
	rte_tel_data_start_dict(d);
	for (unsigned int i = 0; i < STATS_MAX; i++)
		rte_tel_data_add_dict_u64(d, stats_name(i), sum.c[i]);
	return 0;
}

int
stats_telemetry_init(void)
{
	return rte_telemetry_register_cmd("/ndrguard/stats", stats_telemetry_cb,
		"Dataplane counters summed over lcores. Takes no parameters");
}
