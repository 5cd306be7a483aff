/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Borrowed blocks of the SMTP engine: their sizes and names, and a malloc-backed host for
 * code that has no mempools (unit and golden tests, fuzzers, the engine bench). The dataplane
 * lends from per-lcore rte_mempools (proxy_mem.c). Single-threaded: one host per thread.
 */
#include <stdlib.h>
#include <string.h>

#include "smtp.h"
#include "ndg_common.h"

static const size_t smtp_blk_sizes[SMTP_BLK_MAX] = {
	[SMTP_BLK_LINE] = sizeof(struct smtp_line),
	[SMTP_BLK_TXN] = sizeof(struct smtp_txn),
	[SMTP_BLK_RELAY] = sizeof(struct smtp_relay),
};

static const char *const smtp_blk_names[SMTP_BLK_MAX] = {
	[SMTP_BLK_LINE] = "line",
	[SMTP_BLK_TXN] = "txn",
	[SMTP_BLK_RELAY] = "relay",
};

size_t
smtp_blk_size(enum smtp_blk_kind kind)
{
	return (unsigned int) kind < SMTP_BLK_MAX ? smtp_blk_sizes[kind] : 0;
}

const char *
smtp_blk_name(enum smtp_blk_kind kind)
{
	return (unsigned int) kind < SMTP_BLK_MAX ? smtp_blk_names[kind] : "invalid";
}

void *
smtp_blk_heap_get(struct smtp_blk_heap *h, uint8_t kind)
{
	void *b;

	if (kind >= SMTP_BLK_MAX)
		return NULL;
	if (h->capped[kind] && h->in_use[kind] >= h->limit[kind]) {
		h->fails[kind]++;
		return NULL;
	}
	b = h->free[kind];
	if (b != NULL) {
		memcpy(&h->free[kind], b, sizeof(void *));
	} else {
		b = malloc(smtp_blk_sizes[kind]);
		if (b == NULL) {
			h->fails[kind]++;
			return NULL;
		}
	}
	/* Undefined content, as the contract says: the engine must initialise what it uses
	 * (poisoned where speed does not matter). */
	if (!h->recycle)
		memset(b, 0xa5, smtp_blk_sizes[kind]);
	h->lent[kind]++;
	if (++h->in_use[kind] > h->peak[kind])
		h->peak[kind] = h->in_use[kind];
	return b;
}

void
smtp_blk_heap_put(struct smtp_blk_heap *h, uint8_t kind, void *blk)
{
	if (blk == NULL || kind >= SMTP_BLK_MAX)
		return;
	h->in_use[kind]--;
	if (!h->recycle) {
		free(blk);
		return;
	}
	memcpy(blk, &h->free[kind], sizeof(void *));
	h->free[kind] = blk;
}

void
smtp_blk_heap_fini(struct smtp_blk_heap *h)
{
	for (unsigned int k = 0; k < SMTP_BLK_MAX; k++) {
		while (h->free[k] != NULL) {
			void *b = h->free[k];

			memcpy(&h->free[k], b, sizeof(void *));
			free(b);
		}
	}
}
