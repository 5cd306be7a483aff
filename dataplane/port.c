/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Port bring-up: whatever the PMD offers, the dataplane works with one queue and without
 * offloads (virtual PMDs have neither); it uses checksum offload and RSS when present.
 * Main lcore only.
 */
#include <errno.h>
#include <string.h>

#include <rte_ethdev.h>
#include <rte_log.h>

#include "port.h"
#include "ndg_common.h"

RTE_LOG_REGISTER(ndg_logtype_port, user.ndg.port, INFO);
#define PORT_LOG(level, fmt, ...)                                                                  \
	rte_log(RTE_LOG_##level, ndg_logtype_port, "port: " fmt "\n", ##__VA_ARGS__)

int
port_init(uint16_t port_id, uint16_t nb_queues, struct rte_mempool *mp, struct net_if *nif)
{
	struct rte_eth_conf conf;
	struct rte_eth_dev_info info;
	struct rte_eth_rxconf rxq_conf;
	struct rte_eth_txconf txq_conf;
	uint16_t nb_rxd = PORT_RX_DESC, nb_txd = PORT_TX_DESC;
	int socket = rte_eth_dev_socket_id(port_id);
	int ret;

	if (!rte_eth_dev_is_valid_port(port_id))
		return -EINVAL;
	ret = rte_eth_dev_info_get(port_id, &info);
	if (ret != 0)
		return ret;
	if (nb_queues > info.max_rx_queues || nb_queues > info.max_tx_queues) {
		PORT_LOG(ERR, "port %u (%s) has %u rx / %u tx queues, %u needed", port_id,
			info.driver_name, info.max_rx_queues, info.max_tx_queues, nb_queues);
		return -EINVAL;
	}
	if (socket < 0)
		socket = 0;

	memset(&conf, 0, sizeof(conf));
	nif->port_id = port_id;
	nif->flags = 0;
	if (nb_queues > 1 && info.flow_type_rss_offloads != 0) {
		conf.rxmode.mq_mode = RTE_ETH_MQ_RX_RSS;
		conf.rx_adv_conf.rss_conf.rss_hf =
			info.flow_type_rss_offloads & (RTE_ETH_RSS_IP | RTE_ETH_RSS_TCP);
	}
	if (info.rx_offload_capa & RTE_ETH_RX_OFFLOAD_IPV4_CKSUM) {
		conf.rxmode.offloads |= RTE_ETH_RX_OFFLOAD_IPV4_CKSUM;
		nif->flags |= NET_IF_F_RX_IP_CKSUM;
	}
	if (info.tx_offload_capa & RTE_ETH_TX_OFFLOAD_IPV4_CKSUM) {
		conf.txmode.offloads |= RTE_ETH_TX_OFFLOAD_IPV4_CKSUM;
		nif->flags |= NET_IF_F_TX_IP_CKSUM;
	}
	if (info.tx_offload_capa & RTE_ETH_TX_OFFLOAD_MULTI_SEGS)
		conf.txmode.offloads |= RTE_ETH_TX_OFFLOAD_MULTI_SEGS;

	ret = rte_eth_dev_configure(port_id, nb_queues, nb_queues, &conf);
	if (ret != 0)
		return ret;
	ret = rte_eth_dev_adjust_nb_rx_tx_desc(port_id, &nb_rxd, &nb_txd);
	if (ret != 0)
		return ret;

	rxq_conf = info.default_rxconf;
	rxq_conf.offloads = conf.rxmode.offloads;
	txq_conf = info.default_txconf;
	txq_conf.offloads = conf.txmode.offloads;
	for (uint16_t q = 0; q < nb_queues; q++) {
		ret = rte_eth_rx_queue_setup(port_id, q, nb_rxd, socket, &rxq_conf, mp);
		if (ret != 0)
			return ret;
		ret = rte_eth_tx_queue_setup(port_id, q, nb_txd, socket, &txq_conf);
		if (ret != 0)
			return ret;
	}
	ret = rte_eth_macaddr_get(port_id, &nif->mac);
	if (ret != 0)
		return ret;
	ret = rte_eth_dev_start(port_id);
	if (ret != 0)
		return ret;
	PORT_LOG(INFO, "port %u (%s) started: %u queue(s), %u/%u desc, rx csum %s, tx csum %s",
		port_id, info.driver_name, nb_queues, nb_rxd, nb_txd,
		(nif->flags & NET_IF_F_RX_IP_CKSUM) ? "hw" : "sw",
		(nif->flags & NET_IF_F_TX_IP_CKSUM) ? "hw" : "sw");
	return 0;
}

void
port_fini(uint16_t port_id)
{
	(void) rte_eth_dev_stop(port_id);
	(void) rte_eth_dev_close(port_id);
}
