/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * OpenSSL's allocations from per-lcore jemalloc arenas, reserved at start and capped
 * (tls_mem.c).
 */
#ifndef NDG_DATAPLANE_TLS_MEM_H
#define NDG_DATAPLANE_TLS_MEM_H

#include <stddef.h>

/* Bytes of OpenSSL memory reserved per TLS slot when no --tls-mem is given: a session holds
 * about 16 KiB once established (SSL_MODE_RELEASE_BUFFERS), more while it handshakes. */
#define TLS_MEM_PER_SLOT (40u * 1024u)

/**
 * Route OpenSSL's malloc/realloc/free through this module. Call before anything uses
 * OpenSSL. @return 0, or -1 when OpenSSL allocated already (then nothing is budgeted).
 */
int tls_mem_hooks(void);

/**
 * Give each of the <n> lcores in <lcore_ids> its own arena with <budget> bytes faulted in
 * now; OpenSSL on those lcores allocates there, refused past the budget. 0 = unbudgeted.
 * Main thread, before the lcores run. @return 0 or -1.
 */
int tls_mem_init(const unsigned int *lcore_ids, unsigned int n, size_t budget);

/** Append tls_mem_{budget,in_use,peak} (gauges, bytes) and tls_mem_refused. Any thread. */
int tls_mem_stats_text(char *buf, size_t size);

#endif /* NDG_DATAPLANE_TLS_MEM_H */
