/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * OpenSSL's memory on the fast path: every allocation OpenSSL makes on a worker lcore comes
 * from that lcore's own jemalloc arena, reserved (faulted in) at start and capped at a byte
 * budget. A handshake on the fast path then takes no page fault and no syscall, lcores share
 * no allocator lock, and a flood of sessions cannot grow the heap: past the budget OpenSSL
 * gets NULL and fails that session cleanly (counted as tls_mem_refused).
 *
 * The hooks (CRYPTO_set_mem_functions) must be installed before OpenSSL allocates anything,
 * so tls_mem_hooks() runs first thing in main; tls_mem_init() then creates and fills the
 * arenas once the lcores are known. Threads that are not worker lcores (control thread,
 * main) allocate from jemalloc's usual arenas without a budget. Each block carries a 16-byte
 * header naming the lcore that paid for it, so a free on another thread (the last reference
 * to an SSL_CTX dropped by an lcore, say) is still credited to the right budget.
 */
#include <inttypes.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <jemalloc/jemalloc.h>
#include <openssl/crypto.h>
#include <rte_common.h>
#include <rte_lcore.h>
#include <rte_log.h>

#include "stats.h"
#include "tls_mem.h"
#include "ndg_common.h"

#define TLS_MEM_HDR	 16u	       /* keeps OpenSSL's 16-byte alignment */
#define TLS_MEM_SHARED	 RTE_MAX_LCORE /* header index of unbudgeted blocks */
#define TLS_MEM_PREFAULT (64u * 1024u) /* chunk size used to fault an arena in */

struct tls_mem_lcore {
	unsigned int arena; /* jemalloc arena index, valid when on */
	bool on;
	size_t budget;		  /* bytes this lcore's OpenSSL may hold */
	_Atomic size_t used;	  /* bytes held (usable sizes, headers included) */
	_Atomic uint64_t refused; /* allocations refused: budget spent */
	_Atomic uint64_t peak;	  /* highest <used> seen */
} __rte_cache_aligned;

struct tls_mem_hdr {
	uint32_t lcore; /* budget charged, or TLS_MEM_SHARED */
	uint32_t pad;
	size_t size; /* usable size charged */
};

static struct tls_mem_lcore tls_mem[RTE_MAX_LCORE];
static bool tls_mem_hooked;

static void *
tls_mem_malloc(size_t n, const char *file, int line)
{
	unsigned int id = rte_lcore_id();
	struct tls_mem_lcore *l = id < RTE_MAX_LCORE && tls_mem[id].on ? &tls_mem[id] : NULL;
	struct tls_mem_hdr *h;
	size_t real;

	(void) file;
	(void) line;
	if (n > SIZE_MAX - TLS_MEM_HDR)
		return NULL;
	if (l == NULL) {
		h = mallocx(n + TLS_MEM_HDR, 0);
		if (h == NULL)
			return NULL;
		h->lcore = TLS_MEM_SHARED;
		h->size = 0;
		return (uint8_t *) h + TLS_MEM_HDR;
	}
	real = nallocx(n + TLS_MEM_HDR, MALLOCX_ARENA(l->arena) | MALLOCX_TCACHE_NONE);
	if (real == 0 || atomic_load_explicit(&l->used, memory_order_relaxed) + real > l->budget) {
		atomic_fetch_add_explicit(&l->refused, 1, memory_order_relaxed);
		return NULL;
	}
	h = mallocx(n + TLS_MEM_HDR, MALLOCX_ARENA(l->arena) | MALLOCX_TCACHE_NONE);
	if (h == NULL) {
		atomic_fetch_add_explicit(&l->refused, 1, memory_order_relaxed);
		return NULL;
	}
	h->lcore = id;
	h->size = real;
	real += atomic_fetch_add_explicit(&l->used, real, memory_order_relaxed);
	if (real > atomic_load_explicit(&l->peak, memory_order_relaxed))
		atomic_store_explicit(&l->peak, real, memory_order_relaxed);
	return (uint8_t *) h + TLS_MEM_HDR;
}

static void
tls_mem_free(void *p, const char *file, int line)
{
	struct tls_mem_hdr *h;

	(void) file;
	(void) line;
	if (p == NULL)
		return;
	h = (struct tls_mem_hdr *) ((uint8_t *) p - TLS_MEM_HDR);
	if (h->lcore < RTE_MAX_LCORE) {
		atomic_fetch_sub_explicit(&tls_mem[h->lcore].used, h->size, memory_order_relaxed);
		dallocx(h, MALLOCX_TCACHE_NONE);
		return;
	}
	dallocx(h, 0);
}

static void *
tls_mem_realloc(void *p, size_t n, const char *file, int line)
{
	const struct tls_mem_hdr *h;
	size_t old;
	void *q;

	if (p == NULL)
		return tls_mem_malloc(n, file, line);
	if (n == 0) {
		tls_mem_free(p, file, line);
		return NULL;
	}
	/* A new block on the calling lcore's budget; the old one returns to its own. */
	h = (const struct tls_mem_hdr *) ((const uint8_t *) p - TLS_MEM_HDR);
	old = sallocx(h, 0) - TLS_MEM_HDR;
	q = tls_mem_malloc(n, file, line);
	if (q == NULL)
		return NULL;
	memcpy(q, p, RTE_MIN(old, n));
	tls_mem_free(p, file, line);
	return q;
}

int
tls_mem_hooks(void)
{
	if (!CRYPTO_set_mem_functions(tls_mem_malloc, tls_mem_realloc, tls_mem_free))
		return -1; /* OpenSSL allocated already: too late */
	tls_mem_hooked = true;
	return 0;
}

int
tls_mem_init(const unsigned int *lcore_ids, unsigned int n, size_t budget)
{
	if (!tls_mem_hooked || budget == 0)
		return 0;
	for (unsigned int i = 0; i < n; i++) {
		struct tls_mem_lcore *l = &tls_mem[lcore_ids[i]];
		ssize_t never = -1;
		unsigned int a;
		size_t sz = sizeof(a);
		char name[64];
		void **chunks;
		size_t n_chunks = budget / TLS_MEM_PREFAULT + 1;

		if (mallctl("arenas.create", &a, &sz, NULL, 0) != 0)
			return -1;
		/* Freed pages stay with the arena: what was reserved at start is not given back
		 * to the kernel (and faulted in again) between handshakes. */
		(void) snprintf(name, sizeof(name), "arena.%u.dirty_decay_ms", a);
		(void) mallctl(name, NULL, NULL, &never, sizeof(never));
		(void) snprintf(name, sizeof(name), "arena.%u.muzzy_decay_ms", a);
		(void) mallctl(name, NULL, NULL, &never, sizeof(never));
		/* Reserve: fault the whole budget in, then hand it back to the arena. */
		chunks = mallocx(n_chunks * sizeof(*chunks), 0);
		if (chunks == NULL)
			return -1;
		for (size_t k = 0; k < n_chunks; k++) {
			chunks[k] =
				mallocx(TLS_MEM_PREFAULT, MALLOCX_ARENA(a) | MALLOCX_TCACHE_NONE);
			if (chunks[k] != NULL)
				memset(chunks[k], 0, TLS_MEM_PREFAULT);
		}
		for (size_t k = 0; k < n_chunks; k++)
			if (chunks[k] != NULL)
				dallocx(chunks[k], MALLOCX_TCACHE_NONE);
		dallocx(chunks, 0);
		l->arena = a;
		l->budget = budget;
		l->on = true;
	}
	return 0;
}

int
tls_mem_stats_text(char *buf, size_t size)
{
	uint64_t refused = 0;
	size_t used = 0, budget = 0, peak = 0, out = 0;

	for (unsigned int i = 0; i < RTE_MAX_LCORE; i++) {
		const struct tls_mem_lcore *l = &tls_mem[i];

		if (!l->on)
			continue;
		budget += l->budget;
		used += atomic_load_explicit(&l->used, memory_order_relaxed);
		peak += atomic_load_explicit(&l->peak, memory_order_relaxed);
		refused += atomic_load_explicit(&l->refused, memory_order_relaxed);
	}
	(void) stats_appendf(buf, size, &out,
		"tls_mem_budget %zu\ntls_mem_in_use %zu\ntls_mem_peak %zu\ntls_mem_refused %" PRIu64
		"\n",
		budget, used, peak, refused);
	return (int) out;
}
