/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Port bring-up: whatever the PMD offers, the dataplane works with one queue and without
 * offloads (virtual PMDs have neither); it uses checksum offload and RSS when present.
 * Main lcore only.
 */
#include <errno.h>
#include <string.h>

#include <rte_ethdev.h>
#include <rte_random.h>
#include <rte_log.h>

#include "port.h"
#include "ndg_common.h"

RTE_LOG_REGISTER(ndg_logtype_port, user.ndg.port, INFO);
#define PORT_LOG(level, fmt, ...)                                                                  \
	rte_log(RTE_LOG_##level, ndg_logtype_port, "port: " fmt "\n", ##__VA_ARGS__)

/*
 * Program an even RETA (entry i -> queue i % nb_queues) and mirror it in <nif>, so the TCP
 * stack knows which queue a flow lands on. Without a usable RETA the port stays marked
 * without RSS and the stack hands misdelivered frames between lcores instead.
 * @return 0, or the negative errno of the failing ethdev call.
 */
static int
port_rss_program(uint16_t port_id, const struct rte_eth_dev_info *info, uint16_t nb_queues,
	struct net_if *nif)
{
	struct rte_eth_rss_reta_entry64 reta[NET_RETA_MAX / RTE_ETH_RETA_GROUP_SIZE];
	uint16_t size = info->reta_size;
	int ret;

	if (size == 0 || size > NET_RETA_MAX || size % RTE_ETH_RETA_GROUP_SIZE != 0)
		return -ENOTSUP;
	memset(reta, 0, sizeof(reta));
	for (uint16_t i = 0; i < size; i++) {
		reta[i / RTE_ETH_RETA_GROUP_SIZE].mask |= 1ULL << (i % RTE_ETH_RETA_GROUP_SIZE);
		reta[i / RTE_ETH_RETA_GROUP_SIZE].reta[i % RTE_ETH_RETA_GROUP_SIZE] =
			(uint16_t) (i % nb_queues);
	}
	ret = rte_eth_dev_rss_reta_update(port_id, reta, size);
	if (ret != 0)
		return ret;
	ret = rte_eth_dev_rss_reta_query(port_id, reta, size);
	if (ret != 0)
		return ret;
	for (uint16_t i = 0; i < size; i++)
		nif->reta[i] = reta[i / RTE_ETH_RETA_GROUP_SIZE].reta[i % RTE_ETH_RETA_GROUP_SIZE];
	nif->reta_size = size;
	nif->flags |= NET_IF_F_RSS;
	return 0;
}

int
port_init(uint16_t port_id, uint16_t nb_queues, struct rte_mempool *mp, struct net_if *nif)
{
	struct rte_eth_conf conf;
	struct rte_eth_dev_info info;
	struct rte_eth_rxconf rxq_conf;
	struct rte_eth_txconf txq_conf;
	uint16_t nb_rxd = PORT_RX_DESC, nb_txd = PORT_TX_DESC;
	uint8_t key[64];
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
	nif->n_queues = nb_queues;
	nif->reta_size = 0;
	/* Our own key, random per start so no sender can aim at one queue. The TCP stack hashes
	 * with it (software Toeplitz): to pick source ports of active opens, and without
	 * hardware RSS to decide which lcore owns a flow. */
	for (unsigned int i = 0; i < sizeof(key); i++)
		key[i] = (uint8_t) rte_rand();
	memcpy(nif->rss_key, key, NET_RSS_KEY_LEN);
	if (nb_queues > 1 && info.flow_type_rss_offloads != 0 &&
		info.hash_key_size >= NET_RSS_KEY_LEN && info.hash_key_size <= sizeof(key)) {
		conf.rxmode.mq_mode = RTE_ETH_MQ_RX_RSS;
		conf.rx_adv_conf.rss_conf.rss_key = key;
		conf.rx_adv_conf.rss_conf.rss_key_len = info.hash_key_size;
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
	if (conf.rxmode.mq_mode == RTE_ETH_MQ_RX_RSS &&
		port_rss_program(port_id, &info, nb_queues, nif) == 0)
		memcpy(nif->rss_key, key, NET_RSS_KEY_LEN);
	PORT_LOG(INFO,
		"port %u (%s) started: %u queue(s), %u/%u desc, rx csum %s, tx csum %s, rss %s",
		port_id, info.driver_name, nb_queues, nb_rxd, nb_txd,
		(nif->flags & NET_IF_F_RX_IP_CKSUM) ? "hw" : "sw",
		(nif->flags & NET_IF_F_TX_IP_CKSUM) ? "hw" : "sw",
		(nif->flags & NET_IF_F_RSS) ? "toeplitz" : "none");
	return 0;
}

void
port_fini(uint16_t port_id)
{
	(void) rte_eth_dev_stop(port_id);
	(void) rte_eth_dev_close(port_id);
}
