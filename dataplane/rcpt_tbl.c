/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Recipient directory: immutable open-addressing snapshots of 128-bit digests (published by
 * pointer swap, reclaimed with call_rcu) plus a cds_lfht of deltas tagged with the generation
 * of the snapshot they amend. Readers: lcores under urcu-qsbr. Writer: the control thread.
 * Snapshot arrays are mmap'd (one large mapping, returned to the kernel on free); small
 * control-side objects come from malloc, which is jemalloc in the linked programs.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include <urcu/urcu-qsbr.h>
#include <urcu/rculfhash.h>

#include "rcpt.h"
#include "ndg_common.h"

/* SipHash-2-4, 128-bit output variant (reference implementation by Aumasson & Bernstein). */
#define RCPT_ROTL(x, b) (uint64_t)(((x) << (b)) | ((x) >> (64 - (b))))
#define RCPT_SIPROUND                                                                              \
	do {                                                                                       \
		v0 += v1;                                                                          \
		v1 = RCPT_ROTL(v1, 13);                                                            \
		v1 ^= v0;                                                                          \
		v0 = RCPT_ROTL(v0, 32);                                                            \
		v2 += v3;                                                                          \
		v3 = RCPT_ROTL(v3, 16);                                                            \
		v3 ^= v2;                                                                          \
		v0 += v3;                                                                          \
		v3 = RCPT_ROTL(v3, 21);                                                            \
		v3 ^= v0;                                                                          \
		v2 += v1;                                                                          \
		v1 = RCPT_ROTL(v1, 17);                                                            \
		v1 ^= v2;                                                                          \
		v2 = RCPT_ROTL(v2, 32);                                                            \
	} while (0)

void
rcpt_digest_compute(const struct rcpt_key *key, const char *s, size_t n, struct rcpt_digest *out)
{
	uint64_t v0 = 0x736f6d6570736575ULL ^ key->k0;
	uint64_t v1 = 0x646f72616e646f6dULL ^ key->k1;
	uint64_t v2 = 0x6c7967656e657261ULL ^ key->k0;
	uint64_t v3 = 0x7465646279746573ULL ^ key->k1;
	const unsigned char *p = (const unsigned char *) s;
	size_t left = n & 7, end = n - left;
	uint64_t b = ((uint64_t) n) << 56, m;

	v1 ^= 0xee;
	for (size_t i = 0; i < end; i += 8) {
		memcpy(&m, p + i, 8); /* little-endian host (x86-64) */
		v3 ^= m;
		RCPT_SIPROUND;
		RCPT_SIPROUND;
		v0 ^= m;
	}
	for (size_t i = 0; i < left; i++)
		b |= ((uint64_t) p[end + i]) << (8 * i);
	v3 ^= b;
	RCPT_SIPROUND;
	RCPT_SIPROUND;
	v0 ^= b;
	v2 ^= 0xee;
	RCPT_SIPROUND;
	RCPT_SIPROUND;
	RCPT_SIPROUND;
	RCPT_SIPROUND;
	out->lo = (v0 ^ v1 ^ v2 ^ v3) | 1; /* never all-zero: 0 marks an empty slot */
	v1 ^= 0xdd;
	RCPT_SIPROUND;
	RCPT_SIPROUND;
	RCPT_SIPROUND;
	RCPT_SIPROUND;
	out->hi = v0 ^ v1 ^ v2 ^ v3;
}

#define RCPT_HUGE_SZ  (2u << 20) /* x86-64 transparent huge page */
#define RCPT_HUGE_MIN (8u << 20) /* below this, 4 KiB pages waste less than they cost */

/*
 * Map <len> bytes for a snapshot. Large snapshots are 2 MiB aligned and advised for
 * transparent huge pages: a lookup is one random access, and without huge pages it is also
 * one TLB miss (a page walk that costs as much as the cache miss itself).
 */
static void *
rcpt_snap_map(size_t len)
{
	uint8_t *m, *base;
	size_t head, tail;

	if (len < RCPT_HUGE_MIN) {
		m = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		return m == MAP_FAILED ? NULL : m;
	}
	m = mmap(NULL, len + RCPT_HUGE_SZ, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1,
		0);
	if (m == MAP_FAILED)
		return NULL;
	base = (uint8_t *) (((uintptr_t) m + RCPT_HUGE_SZ - 1) & ~(uintptr_t) (RCPT_HUGE_SZ - 1));
	head = (size_t) (base - m);
	tail = RCPT_HUGE_SZ - head;
	if (head != 0)
		(void) munmap(m, head);
	if (tail != 0)
		(void) munmap(base + len, tail);
	/* Best effort: without THP the table still works, only slower. */
	(void) madvise(base, len, MADV_HUGEPAGE);
	return base;
}

static struct rcpt_snap *
rcpt_snap_alloc(uint64_t gen, uint64_t expected)
{
	struct rcpt_snap *s;
	uint64_t slots = expected * 100 / RCPT_LOAD_PCT + 1;
	void *m;

	s = calloc(1, sizeof(*s));
	if (s == NULL)
		return NULL;
	s->gen = gen;
	s->nbuckets = (slots + RCPT_BUCKET_SLOTS - 1) / RCPT_BUCKET_SLOTS;
	if (s->nbuckets < 2)
		s->nbuckets = 2;
	s->map_len = s->nbuckets * sizeof(struct rcpt_bucket);
	if (s->map_len >= RCPT_HUGE_MIN)
		s->map_len = (s->map_len + RCPT_HUGE_SZ - 1) & ~(size_t) (RCPT_HUGE_SZ - 1);
	m = rcpt_snap_map(s->map_len);
	if (m == NULL) {
		free(s);
		return NULL;
	}
	s->b = m;
	return s;
}

static void
rcpt_snap_free(struct rcpt_snap *s)
{
	if (s == NULL)
		return;
	(void) munmap(s->b, s->map_len);
	free(s);
}

static void
rcpt_snap_free_rcu(struct rcu_head *h)
{
	rcpt_snap_free(caa_container_of(h, struct rcpt_snap, rcu));
}

static bool
rcpt_bucket_put(struct rcpt_bucket *b, const struct rcpt_digest *d)
{
	for (unsigned int j = 0; j < RCPT_BUCKET_SLOTS; j++) {
		if (b->d[j].lo == 0) {
			b->d[j] = *d;
			return true;
		}
	}
	return false;
}

/*
 * Cuckoo insertion: into either candidate bucket when one has room, otherwise evict a
 * pseudo-random resident to its other bucket, up to RCPT_KICKS times.
 * @return 1 inserted, 0 already present, -ENOSPC when the snapshot must grow (the digest
 * left homeless by the last eviction is in *<d>, so the caller re-inserts it after growing).
 */
#define RCPT_KICKS 512

static int
rcpt_snap_insert(struct rcpt_snap *s, struct rcpt_digest *d)
{
	uint64_t i1 = rcpt_snap_index1(s, d), i2 = rcpt_snap_index2(s, d, i1), at;
	uint64_t rng = d->lo ^ s->count;

	if (rcpt_bucket_has(&s->b[i1], d) || rcpt_bucket_has(&s->b[i2], d))
		return 0;
	if (rcpt_bucket_put(&s->b[i1], d) || rcpt_bucket_put(&s->b[i2], d)) {
		s->count++;
		return 1;
	}
	at = i1;
	for (int k = 0; k < RCPT_KICKS; k++) {
		struct rcpt_digest victim;
		unsigned int j;
		uint64_t v1;

		rng ^= rng << 13;
		rng ^= rng >> 7;
		rng ^= rng << 17;
		j = (unsigned int) (rng % RCPT_BUCKET_SLOTS);
		victim = s->b[at].d[j];
		s->b[at].d[j] = *d;
		*d = victim;
		v1 = rcpt_snap_index1(s, d);
		at = at == v1 ? rcpt_snap_index2(s, d, v1) : v1;
		if (rcpt_bucket_put(&s->b[at], d)) {
			s->count++;
			return 1;
		}
	}
	s->count++; /* the original digest is in; *d is the one left over */
	return -ENOSPC;
}

static int
rcpt_delta_match(struct cds_lfht_node *node, const void *key)
{
	const struct rcpt_delta *e = caa_container_of(node, struct rcpt_delta, node);
	const struct rcpt_digest *d = key;

	return e->d.lo == d->lo && e->d.hi == d->hi;
}

static void
rcpt_delta_free_rcu(struct rcu_head *h)
{
	free(caa_container_of(h, struct rcpt_delta, rcu));
}

struct rcpt_tbl *
rcpt_tbl_create(const struct rcpt_key *key)
{
	struct rcpt_tbl *t;

	t = calloc(1, sizeof(*t));
	if (t == NULL)
		return NULL;
	t->key = *key;
	t->snap = rcpt_snap_alloc(0, 0);
	if (t->snap == NULL)
		goto err_tbl;
	t->delta = cds_lfht_new_flavor(64, 64, 0, CDS_LFHT_AUTO_RESIZE | CDS_LFHT_ACCOUNTING,
		&urcu_qsbr_flavor, NULL);
	if (t->delta == NULL)
		goto err_snap;
	return t;
err_snap:
	rcpt_snap_free(t->snap);
err_tbl:
	free(t);
	return NULL;
}

void
rcpt_tbl_destroy(struct rcpt_tbl *t)
{
	struct cds_lfht_iter it;
	struct cds_lfht_node *node;

	if (t == NULL)
		return;
	/* Explicit iteration: cds_lfht_for_each_entry() applies container_of to NULL at the end. */
	cds_lfht_first(t->delta, &it);
	while ((node = cds_lfht_iter_get_node(&it)) != NULL) {
		cds_lfht_next(t->delta, &it);
		(void) cds_lfht_del(t->delta, node);
		free(caa_container_of(node, struct rcpt_delta, node));
	}
	(void) cds_lfht_destroy(t->delta, NULL);
	rcpt_snap_free(t->build);
	rcpt_snap_free(t->snap);
	free(t);
}

int
rcpt_tbl_snapshot_begin(struct rcpt_tbl *t, uint64_t expected)
{
	if (t->build != NULL)
		return -EBUSY;
	t->build = rcpt_snap_alloc(t->gen + 1, expected);
	return t->build == NULL ? -ENOMEM : 0;
}

static int
rcpt_tbl_build_grow(struct rcpt_tbl *t)
{
	struct rcpt_snap *o = t->build, *n;

	n = rcpt_snap_alloc(o->gen, o->count * 2 + 64);
	if (n == NULL)
		return -ENOMEM;
	for (uint64_t i = 0; i < o->nbuckets; i++) {
		for (unsigned int j = 0; j < RCPT_BUCKET_SLOTS; j++) {
			struct rcpt_digest d = o->b[i].d[j];

			/* Twice the room: a failed cuckoo walk here is practically impossible,
			 * and then the grown table is simply grown again by the caller. */
			if (d.lo != 0 && rcpt_snap_insert(n, &d) < 0) {
				rcpt_snap_free(n);
				return -ENOSPC;
			}
		}
	}
	rcpt_snap_free(o);
	t->build = n;
	return 0;
}

int
rcpt_tbl_snapshot_add(struct rcpt_tbl *t, const struct rcpt_digest *d)
{
	struct rcpt_digest x = *d;
	int r;

	if (t->build == NULL)
		return -EINVAL;
	r = rcpt_snap_insert(t->build, &x);
	/* Full: grow, then place the digest the last eviction left over. */
	for (int tries = 0; r == -ENOSPC && tries < 4; tries++) {
		t->build->count--;
		r = rcpt_tbl_build_grow(t);
		if (r < 0)
			return r == -ENOSPC ? -ENOMEM : r;
		r = rcpt_snap_insert(t->build, &x);
	}
	return r < 0 ? -ENOMEM : 0;
}

int
rcpt_tbl_snapshot_commit(struct rcpt_tbl *t)
{
	struct rcpt_snap *old;
	struct cds_lfht_iter it;
	struct cds_lfht_node *node;

	if (t->build == NULL)
		return -EINVAL;
	old = rcu_xchg_pointer(&t->snap, t->build);
	t->gen = t->build->gen;
	t->build = NULL;
	uatomic_set(&t->n_delta, 0);
	/* Deltas of older generations are already ignored by readers; unlink and reclaim. */
	urcu_qsbr_read_lock();
	cds_lfht_first(t->delta, &it);
	while ((node = cds_lfht_iter_get_node(&it)) != NULL) {
		struct rcpt_delta *e = caa_container_of(node, struct rcpt_delta, node);

		cds_lfht_next(t->delta, &it);
		if (e->gen != t->gen && cds_lfht_del(t->delta, node) == 0)
			urcu_qsbr_call_rcu(&e->rcu, rcpt_delta_free_rcu);
	}
	urcu_qsbr_read_unlock();
	urcu_qsbr_call_rcu(&old->rcu, rcpt_snap_free_rcu);
	return 0;
}

void
rcpt_tbl_snapshot_abort(struct rcpt_tbl *t)
{
	rcpt_snap_free(t->build);
	t->build = NULL;
}

int
rcpt_tbl_delta(struct rcpt_tbl *t, const struct rcpt_digest *d, bool present)
{
	struct rcpt_delta *e;
	struct cds_lfht_node *old;

	e = calloc(1, sizeof(*e));
	if (e == NULL)
		return -ENOMEM;
	e->d = *d;
	e->gen = t->gen;
	e->present = present;
	cds_lfht_node_init(&e->node);
	urcu_qsbr_read_lock();
	old = cds_lfht_add_replace(t->delta, (unsigned long) d->lo, rcpt_delta_match, d, &e->node);
	if (old != NULL) {
		struct rcpt_delta *oe = caa_container_of(old, struct rcpt_delta, node);

		if (oe->gen != t->gen)
			uatomic_inc(&t->n_delta);
		urcu_qsbr_call_rcu(&oe->rcu, rcpt_delta_free_rcu);
	} else {
		uatomic_inc(&t->n_delta);
	}
	urcu_qsbr_read_unlock();
	return 0;
}

int
rcpt_tbl_delta_lookup(const struct rcpt_tbl *t, const struct rcpt_snap *s,
	const struct rcpt_digest *d)
{
	struct cds_lfht_iter it;
	struct cds_lfht_node *node;
	const struct rcpt_delta *e;

	cds_lfht_lookup(t->delta, (unsigned long) d->lo, rcpt_delta_match, d, &it);
	node = cds_lfht_iter_get_node(&it);
	if (node == NULL)
		return -ENOENT;
	e = caa_container_of(node, struct rcpt_delta, node);
	if (e->gen != s->gen)
		return -ENOENT;
	return e->present ? 1 : 0;
}

void
rcpt_tbl_lookup_burst(const struct rcpt_tbl *t, const struct rcpt_digest *d, unsigned int n,
	bool *hit)
{
	const struct rcpt_snap *s = rcu_dereference(t->snap);
	uint64_t i1[RCPT_PREFETCH_RING], i2[RCPT_PREFETCH_RING];
	bool deltas = uatomic_read(&t->n_delta) != 0;

	_Static_assert(RCPT_PREFETCH_RING > RCPT_PREFETCH_AHEAD &&
			       (RCPT_PREFETCH_RING & (RCPT_PREFETCH_RING - 1)) == 0,
		"the prefetch ring must hold every digest between prefetch and probe");
	/* Software pipeline: the buckets of digest i + RCPT_PREFETCH_AHEAD are requested while
	 * digest i is probed, so a steady number of cache misses is always in flight. */
	for (unsigned int i = 0; i < n + RCPT_PREFETCH_AHEAD; i++) {
		if (i < n) {
			unsigned int r = i % RCPT_PREFETCH_RING;

			i1[r] = rcpt_snap_index1(s, &d[i]);
			i2[r] = rcpt_snap_index2(s, &d[i], i1[r]);
			__builtin_prefetch(&s->b[i1[r]], 0, 0);
			__builtin_prefetch(&s->b[i2[r]], 0, 0);
		}
		if (i >= RCPT_PREFETCH_AHEAD) {
			unsigned int j = i - RCPT_PREFETCH_AHEAD, r = j % RCPT_PREFETCH_RING;

			if (deltas) {
				int x = rcpt_tbl_delta_lookup(t, s, &d[j]);

				if (x >= 0) {
					hit[j] = x == 1;
					continue;
				}
			}
			hit[j] = rcpt_snap_probe(s, i1[r], i2[r], &d[j]);
		}
	}
}

uint64_t
rcpt_tbl_count(const struct rcpt_tbl *t)
{
	return rcu_dereference(t->snap)->count;
}
