/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Ethdev setup for any PMD (PCI NIC, net_af_packet, net_af_xdp, net_tap, net_memif):
 * queues, offloads that exist, start and stop. Main lcore only, before and after workers run.
 */
#ifndef NDG_DATAPLANE_PORT_H
#define NDG_DATAPLANE_PORT_H

#include <stdint.h>

#include <rte_mempool.h>

#include "net-t.h"

#define PORT_RX_DESC 1024 /* rx ring size asked for; the PMD may adjust it */
#define PORT_TX_DESC 1024 /* tx ring size asked for; the PMD may adjust it */

/**
 * Configure <port_id> with <nb_queues> rx/tx queue pairs fed from <mp>, enable the checksum
 * offloads the PMD has (RSS when more than one queue), start it, and fill <nif>'s MAC and
 * offload flags. Addresses in <nif> are left as they are.
 * @return 0; -EINVAL when the port cannot have <nb_queues> queues; or the negative errno
 *   of the failing ethdev call.
 */
int port_init(uint16_t port_id, uint16_t nb_queues, struct rte_mempool *mp, struct net_if *nif);

/**
 * Stop and close <port_id>; errors are ignored (shutdown path).
 */
void port_fini(uint16_t port_id);

#endif /* NDG_DATAPLANE_PORT_H */
