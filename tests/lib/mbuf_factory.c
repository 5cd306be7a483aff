/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Minimal EAL and mbuf construction for unit tests (single thread).
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <rte_eal.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>

#include "mbuf_factory.h"

struct rte_mempool *
mbuf_factory_init(const char *prog)
{
	char prefix[64];
	char *argv[] = {
		(char *) prog,
		(char *) "--no-huge",
		(char *) "--no-pci",
		(char *) "--no-shconf",
		(char *) "--no-telemetry",
		(char *) "-l",
		(char *) "0",
		(char *) "-m",
		(char *) "64",
		(char *) "--log-level=lib.*:warning",
		prefix,
	};

	snprintf(prefix, sizeof(prefix), "--file-prefix=ndgut%ld", (long) getpid());
	if (rte_eal_init((int) RTE_DIM(argv), argv) < 0)
		return NULL;
	return rte_pktmbuf_pool_create("ut_mbuf", 1023, 0, 0, RTE_MBUF_DEFAULT_BUF_SIZE,
		(int) rte_socket_id());
}

struct rte_mbuf *
mbuf_factory_from_bytes(struct rte_mempool *mp, const void *data, size_t len)
{
	struct rte_mbuf *m = rte_pktmbuf_alloc(mp);
	char *p;

	if (m == NULL)
		return NULL;
	p = rte_pktmbuf_append(m, (uint16_t) len);
	if (len > UINT16_MAX || p == NULL) {
		rte_pktmbuf_free(m);
		return NULL;
	}
	memcpy(p, data, len);
	return m;
}

void
mbuf_factory_fini(struct rte_mempool *mp)
{
	rte_mempool_free(mp);
	rte_eal_cleanup();
}
