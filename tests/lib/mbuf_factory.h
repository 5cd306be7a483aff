/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Test helpers: bring up a minimal EAL (no hugepages, no PCI, no shared config) and turn
 * byte arrays into mbufs. Unit tests only; single-threaded.
 */
#ifndef NDG_TESTS_LIB_MBUF_FACTORY_H
#define NDG_TESTS_LIB_MBUF_FACTORY_H

#include <stddef.h>
#include <stdint.h>

#include <rte_mbuf.h>
#include <rte_mempool.h>

/**
 * rte_eal_init() with `--no-huge --no-pci --no-shconf -l 0 -m 64`, a per-process file
 * prefix and logs at warning level, then a pktmbuf pool of 1023 mbufs.
 * @return the pool, or NULL when EAL or the pool could not be created.
 */
struct rte_mempool *mbuf_factory_init(const char *prog);

/**
 * A single-segment mbuf from <mp> holding a copy of <len> bytes at <data>.
 * @return the mbuf, or NULL when the pool is empty or <len> does not fit.
 */
struct rte_mbuf *mbuf_factory_from_bytes(struct rte_mempool *mp, const void *data, size_t len);

/** Tear down what mbuf_factory_init() made. */
void mbuf_factory_fini(struct rte_mempool *mp);

#endif /* NDG_TESTS_LIB_MBUF_FACTORY_H */
