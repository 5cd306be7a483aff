/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * ndrguard-impair: the lab's impairment bridge (issue 5). It runs in a router namespace between
 * two veth pairs and forwards every Ethernet frame between interface A and interface B over raw
 * AF_PACKET sockets (promiscuous, PACKET_IGNORE_OUTGOING, recvmmsg/sendmmsg batches), applying
 * per direction: loss, bit corruption, duplication, rate limit (token bucket shaper), delay with
 * jitter (a min-heap ordered by departure time) and reordering (hold a frame back until N later
 * frames of its direction have left). The kernel has no sch_netem, and a drop rule on the
 * dataplane's own veth acts after the PMD has seen the frame, hence this program.
 *
 * Single-threaded: one ppoll() loop owns both sockets, the queues and the counters; signals are
 * blocked outside ppoll() so handlers only ever interrupt the wait.
 *
 * Usage (see --help):
 *   ndrguard-impair -a IF_A -b IF_B [--seed N] [--stats FILE] [--config FILE]
 *                   [--dir ab|ba|both] [--loss PCT] [--dup PCT] [--corrupt PCT]
 *                   [--reorder PCT] [--reorder-gap N] [--reorder-timeout MS]
 *                   [--delay MS] [--jitter MS] [--ordered]
 *                   [--rate BITS] [--burst BYTES] [--rate-queue MS]
 *   Impairment options apply to the directions chosen by the last --dir (default both):
 *   "ab" is A→B, "ba" is B→A. SIGUSR1 prints the counters as one JSON line on stdout and
 *   rewrites --stats; SIGHUP re-reads --config (impairment options only, same syntax, any
 *   whitespace between words, '#' starts a comment) and replaces the impairments; SIGINT and
 *   SIGTERM flush the counters and exit 0.
 *
 * Replay: every random decision comes from a xoshiro256** stream per (direction, impairment),
 * seeded from --seed, and draws a fixed number of values per frame. The same frames in the same
 * order on a direction therefore meet the same fate whatever the other direction does, which is
 * what makes a failing run replayable. Timing-dependent outcomes (rate drops, queue-full drops,
 * reorder-hold timeouts) are the exception and are counted separately.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <linux/if_packet.h>
#include <math.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/* Unbounded or non-reentrant libc calls are banned project-wide (shared/STYLE.md §4). */
#pragma GCC poison strcpy strcat sprintf strtok atoi gets

#define IMPAIR_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

#define IMPAIR_FRAME_MAX	   2048 /* veth MTU 1500 + Ethernet header, offloads off */
#define IMPAIR_ETH_HLEN		   14	/* corruption starts after the Ethernet header */
#define IMPAIR_BURST		   64	/* frames per recvmmsg/sendmmsg */
#define IMPAIR_RX_ROUNDS	   4	/* rx bursts per direction per loop: fairness vs. tx */
#define IMPAIR_HOLD_MAX		   256	/* frames held back for reordering, per direction */
#define IMPAIR_QUEUE_LIMIT_DEF	   4096 /* frames queued per direction */
#define IMPAIR_QUEUE_LIMIT_MAX	   1000000
#define IMPAIR_SOCK_BUF		   (8 * 1024 * 1024)
#define IMPAIR_NS_PER_MS	   1000000ull
#define IMPAIR_NS_PER_S		   1000000000ull
#define IMPAIR_REORDER_GAP_DEF	   3
#define IMPAIR_REORDER_TIMEOUT_DEF (20 * IMPAIR_NS_PER_MS)
#define IMPAIR_RATE_QUEUE_DEF	   (100 * IMPAIR_NS_PER_MS)
#define IMPAIR_BURST_DEF	   (16 * 1024)
#define IMPAIR_CONFIG_MAX	   65536 /* bytes of --config read on SIGHUP */
#define IMPAIR_CONFIG_WORDS	   256

enum impair_dir {
	IMPAIR_DIR_AB = 0, /* received on A, sent on B */
	IMPAIR_DIR_BA,	   /* received on B, sent on A */
	IMPAIR_DIR_MAX
};

enum impair_rng {
	IMPAIR_RNG_LOSS = 0, /* one draw per received frame when loss is on */
	IMPAIR_RNG_CORRUPT,  /* one draw per surviving frame, two more when it corrupts */
	IMPAIR_RNG_DUP,	     /* one draw per surviving frame */
	IMPAIR_RNG_JITTER,   /* one draw per queued copy when jitter is on */
	IMPAIR_RNG_REORDER,  /* one draw per departing copy when reordering is on */
	IMPAIR_RNG_MAX
};

enum impair_ctr {
	IMPAIR_CTR_RX = 0,	    /* frames received */
	IMPAIR_CTR_RX_BYTES,	    /* their bytes */
	IMPAIR_CTR_FORWARDED,	    /* frames sent, duplicates included */
	IMPAIR_CTR_FORWARDED_BYTES, /* their bytes */
	IMPAIR_CTR_DROPPED,	    /* dropped by --loss */
	IMPAIR_CTR_DUPLICATED,	    /* extra copies made by --dup */
	IMPAIR_CTR_REORDERED,	    /* frames held back by --reorder */
	IMPAIR_CTR_REORDER_TIMEOUT, /* held frames released by timeout, not by the gap */
	IMPAIR_CTR_DELAYED,	    /* copies that waited for --delay/--jitter */
	IMPAIR_CTR_CORRUPTED,	    /* frames with one bit flipped by --corrupt */
	IMPAIR_CTR_RATE_DROPPED,    /* shaper backlog above --rate-queue */
	IMPAIR_CTR_QUEUE_DROPPED,   /* --queue-limit reached */
	IMPAIR_CTR_TRUNCATED,	    /* frames longer than IMPAIR_FRAME_MAX, dropped */
	IMPAIR_CTR_TX_ERRORS,	    /* sendmmsg refused the frame */
	IMPAIR_CTR_MAX
};

static const char *const impair_ctr_names[IMPAIR_CTR_MAX] = {
	[IMPAIR_CTR_RX] = "rx",
	[IMPAIR_CTR_RX_BYTES] = "rx_bytes",
	[IMPAIR_CTR_FORWARDED] = "forwarded",
	[IMPAIR_CTR_FORWARDED_BYTES] = "forwarded_bytes",
	[IMPAIR_CTR_DROPPED] = "dropped",
	[IMPAIR_CTR_DUPLICATED] = "duplicated",
	[IMPAIR_CTR_REORDERED] = "reordered",
	[IMPAIR_CTR_REORDER_TIMEOUT] = "reorder_timeout",
	[IMPAIR_CTR_DELAYED] = "delayed",
	[IMPAIR_CTR_CORRUPTED] = "corrupted",
	[IMPAIR_CTR_RATE_DROPPED] = "rate_dropped",
	[IMPAIR_CTR_QUEUE_DROPPED] = "queue_dropped",
	[IMPAIR_CTR_TRUNCATED] = "truncated",
	[IMPAIR_CTR_TX_ERRORS] = "tx_errors",
};

static const char *const impair_dir_names[IMPAIR_DIR_MAX] = {
	[IMPAIR_DIR_AB] = "ab",
	[IMPAIR_DIR_BA] = "ba",
};

/* What one direction does to its frames. Probabilities are thresholds on a 32-bit draw. */
struct impair_cfg {
	uint64_t loss_thr;
	uint64_t dup_thr;
	uint64_t corrupt_thr;
	uint64_t reorder_thr;
	uint32_t reorder_gap;	     /* frames that overtake a held one */
	uint64_t reorder_timeout_ns; /* a held frame leaves at the latest after this */
	uint64_t delay_ns;
	uint64_t jitter_ns; /* uniform in [-jitter, +jitter], never before the delay-less time */
	bool ordered;	    /* jitter never lets a frame overtake an earlier one */
	uint64_t rate_bps;  /* 0: unlimited */
	uint64_t burst_bytes;
	uint64_t rate_queue_ns; /* shaper backlog limit, as time to drain */
	double pct[4];		/* loss, dup, corrupt, reorder as given, for the report */
};

struct impair_frame {
	struct impair_frame *next; /* free list */
	uint64_t t_dep;		   /* departure time, CLOCK_MONOTONIC ns */
	uint64_t seq;		   /* tie-break: equal departure times leave in arrival order */
	uint64_t hold_deadline;
	uint32_t hold_left;
	uint16_t len;
	uint8_t dir;
	uint8_t data[IMPAIR_FRAME_MAX];
};

struct impair_rng_state {
	uint64_t s[4];
};

struct impair_dir_state {
	struct impair_cfg cfg;
	struct impair_rng_state rng[IMPAIR_RNG_MAX];
	uint64_t ctr[IMPAIR_CTR_MAX];
	uint64_t rate_next; /* virtual time at which the shaped link is free again */
	uint64_t last_dep;  /* departure time of the last queued copy, for --ordered */
	uint32_t queued;    /* frames in the heap, the hold list or the tx batch */
	uint32_t nhold;
	struct impair_frame *hold[IMPAIR_HOLD_MAX];
	uint32_t ntx;
	struct impair_frame *tx[IMPAIR_BURST];
};

struct impair_ctx {
	const char *ifname[IMPAIR_DIR_MAX]; /* indexed by the receiving side: A, B */
	int fd[IMPAIR_DIR_MAX];
	uint64_t seed;
	const char *stats_path;
	const char *config_path;
	uint32_t queue_limit;
	uint64_t generation;	/* bumped by every successful --config reload */
	uint64_t reload_failed; /* reloads refused: lab_impair_set stops waiting on a change */
	uint64_t t_start;
	uint64_t seq;
	struct impair_dir_state dir[IMPAIR_DIR_MAX];
	struct impair_frame *pool;
	struct impair_frame *free_list;
	struct impair_frame **heap;
	uint32_t heap_len;
	uint32_t heap_cap;
	uint8_t rxbuf[IMPAIR_BURST][IMPAIR_FRAME_MAX];
};

static volatile sig_atomic_t impair_sig_quit;
static volatile sig_atomic_t impair_sig_dump;
static volatile sig_atomic_t impair_sig_reload;

/* ---- time and randomness ---- */

static uint64_t
impair_now(void)
{
	struct timespec ts;

	(void) clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t) ts.tv_sec * IMPAIR_NS_PER_S + (uint64_t) ts.tv_nsec;
}

static uint64_t
impair_splitmix64(uint64_t *x)
{
	uint64_t z = (*x += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static void
impair_rng_seed(struct impair_rng_state *r, uint64_t seed, unsigned int stream)
{
	uint64_t x = seed ^ (0xd1b54a32d192ed03ull * (stream + 1));

	for (unsigned int i = 0; i < 4; i++)
		r->s[i] = impair_splitmix64(&x);
}

static inline uint64_t
impair_rotl(uint64_t x, int k)
{
	return (x << k) | (x >> (64 - k));
}

/* xoshiro256** (Blackman and Vigna): fast, 2^256 period, good enough for fault injection. */
static uint64_t
impair_rng_next(struct impair_rng_state *r)
{
	uint64_t *s = r->s;
	uint64_t res = impair_rotl(s[1] * 5, 7) * 9;
	uint64_t t = s[1] << 17;

	s[2] ^= s[0];
	s[3] ^= s[1];
	s[1] ^= s[2];
	s[0] ^= s[3];
	s[2] ^= t;
	s[3] = impair_rotl(s[3], 45);
	return res;
}

static inline uint32_t
impair_rng_u32(struct impair_rng_state *r)
{
	return (uint32_t) (impair_rng_next(r) >> 32);
}

/* Uniform in [0, n) (Lemire's multiply-shift on a 64-bit draw; bias at most n / 2^64). */
static inline uint64_t
impair_rng_below(struct impair_rng_state *r, uint64_t n)
{
	return (uint64_t) (((unsigned __int128) impair_rng_next(r) * n) >> 64);
}

static inline bool
impair_rng_hit(struct impair_rng_state *r, uint64_t thr)
{
	return (uint64_t) impair_rng_u32(r) < thr;
}

/* ---- frame pool and departure heap ---- */

static struct impair_frame *
impair_frame_get(struct impair_ctx *ctx)
{
	struct impair_frame *f = ctx->free_list;

	if (f != NULL)
		ctx->free_list = f->next;
	return f;
}

static void
impair_frame_put(struct impair_ctx *ctx, struct impair_frame *f)
{
	f->next = ctx->free_list;
	ctx->free_list = f;
}

static inline bool
impair_heap_less(const struct impair_frame *x, const struct impair_frame *y)
{
	return x->t_dep < y->t_dep || (x->t_dep == y->t_dep && x->seq < y->seq);
}

static void
impair_heap_push(struct impair_ctx *ctx, struct impair_frame *f)
{
	struct impair_frame **h = ctx->heap;
	uint32_t i = ctx->heap_len++;

	while (i > 0) {
		uint32_t p = (i - 1) / 2;

		if (!impair_heap_less(f, h[p]))
			break;
		h[i] = h[p];
		i = p;
	}
	h[i] = f;
}

static struct impair_frame *
impair_heap_pop(struct impair_ctx *ctx)
{
	struct impair_frame **h = ctx->heap;
	struct impair_frame *top = h[0];
	struct impair_frame *last = h[--ctx->heap_len];
	uint32_t n = ctx->heap_len;
	uint32_t i = 0;

	for (;;) {
		uint32_t c = 2 * i + 1;

		if (c >= n)
			break;
		if (c + 1 < n && impair_heap_less(h[c + 1], h[c]))
			c++;
		if (!impair_heap_less(h[c], last))
			break;
		h[i] = h[c];
		i = c;
	}
	if (n > 0)
		h[i] = last;
	return top;
}

/* ---- transmit side ---- */

static void
impair_tx_flush(struct impair_ctx *ctx, enum impair_dir d)
{
	struct impair_dir_state *ds = &ctx->dir[d];
	int fd = ctx->fd[d == IMPAIR_DIR_AB ? IMPAIR_DIR_BA : IMPAIR_DIR_AB];
	struct mmsghdr msg[IMPAIR_BURST];
	struct iovec iov[IMPAIR_BURST];
	uint32_t done = 0;

	if (ds->ntx == 0)
		return;
	memset(msg, 0, sizeof(msg[0]) * ds->ntx);
	for (uint32_t i = 0; i < ds->ntx; i++) {
		iov[i].iov_base = ds->tx[i]->data;
		iov[i].iov_len = ds->tx[i]->len;
		msg[i].msg_hdr.msg_iov = &iov[i];
		msg[i].msg_hdr.msg_iovlen = 1;
	}
	while (done < ds->ntx) {
		int n = sendmmsg(fd, msg + done, ds->ntx - done, 0);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			/* The frame at <done> is refused (ENOBUFS, link down): count it, go on. */
			ds->ctr[IMPAIR_CTR_TX_ERRORS]++;
			done++;
			continue;
		}
		for (int i = 0; i < n; i++) {
			ds->ctr[IMPAIR_CTR_FORWARDED]++;
			ds->ctr[IMPAIR_CTR_FORWARDED_BYTES] += ds->tx[done + i]->len;
		}
		done += n;
	}
	for (uint32_t i = 0; i < ds->ntx; i++)
		impair_frame_put(ctx, ds->tx[i]);
	ds->queued -= ds->ntx;
	ds->ntx = 0;
}

static void
impair_tx_add(struct impair_ctx *ctx, struct impair_frame *f)
{
	struct impair_dir_state *ds = &ctx->dir[f->dir];

	if (ds->ntx == IMPAIR_BURST)
		impair_tx_flush(ctx, f->dir);
	ds->tx[ds->ntx++] = f;
}

static void
impair_hold_release(struct impair_dir_state *ds, uint32_t i)
{
	ds->hold[i] = ds->hold[--ds->nhold];
}

/*
 * A frame leaves the departure heap: hold it back with --reorder probability, otherwise send it
 * and let each held frame of its direction count it; a held frame goes out right after the
 * <reorder_gap>-th frame that overtook it.
 */
static void
impair_depart(struct impair_ctx *ctx, struct impair_frame *f, uint64_t now)
{
	struct impair_dir_state *ds = &ctx->dir[f->dir];
	struct impair_cfg *cfg = &ds->cfg;

	if (cfg->reorder_thr != 0 &&
		impair_rng_hit(&ds->rng[IMPAIR_RNG_REORDER], cfg->reorder_thr) &&
		ds->nhold < IMPAIR_HOLD_MAX && cfg->reorder_gap > 0) {
		f->hold_left = cfg->reorder_gap;
		f->hold_deadline = now + cfg->reorder_timeout_ns;
		ds->hold[ds->nhold++] = f;
		ds->ctr[IMPAIR_CTR_REORDERED]++;
		return;
	}
	impair_tx_add(ctx, f);
	for (uint32_t i = 0; i < ds->nhold;) {
		struct impair_frame *h = ds->hold[i];

		if (--h->hold_left == 0) {
			impair_hold_release(ds, i);
			impair_tx_add(ctx, h);
			continue;
		}
		i++;
	}
}

/* Send everything due at <now>; returns the next time something is due, or UINT64_MAX. */
static uint64_t
impair_run_due(struct impair_ctx *ctx, uint64_t now)
{
	uint64_t next = UINT64_MAX;

	while (ctx->heap_len > 0 && ctx->heap[0]->t_dep <= now)
		impair_depart(ctx, impair_heap_pop(ctx), now);
	for (unsigned int d = 0; d < IMPAIR_DIR_MAX; d++) {
		struct impair_dir_state *ds = &ctx->dir[d];

		for (uint32_t i = 0; i < ds->nhold;) {
			struct impair_frame *h = ds->hold[i];

			if (h->hold_deadline <= now) {
				impair_hold_release(ds, i);
				ds->ctr[IMPAIR_CTR_REORDER_TIMEOUT]++;
				impair_tx_add(ctx, h);
				continue;
			}
			if (h->hold_deadline < next)
				next = h->hold_deadline;
			i++;
		}
		impair_tx_flush(ctx, d);
	}
	if (ctx->heap_len > 0 && ctx->heap[0]->t_dep < next)
		next = ctx->heap[0]->t_dep;
	return next;
}

/* ---- receive side ---- */

/* Queue one copy of a frame: shaper, then delay and jitter; the heap orders the departures. */
static void
impair_enqueue(struct impair_ctx *ctx, enum impair_dir d, const uint8_t *data, uint16_t len,
	uint64_t now)
{
	struct impair_dir_state *ds = &ctx->dir[d];
	struct impair_cfg *cfg = &ds->cfg;
	struct impair_frame *f;
	uint64_t t = now;

	/* A full queue refuses the copy before it can take the shaper's tokens. */
	if (ds->queued >= ctx->queue_limit || (f = impair_frame_get(ctx)) == NULL) {
		ds->ctr[IMPAIR_CTR_QUEUE_DROPPED]++;
		return;
	}
	if (cfg->rate_bps != 0) {
		uint64_t tx_ns = (uint64_t) len * 8 * IMPAIR_NS_PER_S / cfg->rate_bps;
		uint64_t burst_ns = cfg->burst_bytes * 8 * IMPAIR_NS_PER_S / cfg->rate_bps;
		uint64_t credit_from = now > burst_ns ? now - burst_ns : 0;
		uint64_t start = ds->rate_next;

		/* Token bucket: an idle link banks at most <burst> bytes of credit. */
		if (start < credit_from)
			start = credit_from;
		if (start + tx_ns > now + cfg->rate_queue_ns) {
			ds->ctr[IMPAIR_CTR_RATE_DROPPED]++;
			impair_frame_put(ctx, f);
			return;
		}
		ds->rate_next = start + tx_ns;
		if (ds->rate_next > t)
			t = ds->rate_next;
	}
	if (cfg->delay_ns != 0 || cfg->jitter_ns != 0) {
		uint64_t dly = cfg->delay_ns;

		if (cfg->jitter_ns != 0) {
			uint64_t j = impair_rng_below(&ds->rng[IMPAIR_RNG_JITTER],
				2 * cfg->jitter_ns + 1);

			dly = dly + j > cfg->jitter_ns ? dly + j - cfg->jitter_ns : 0;
		}
		t += dly;
		ds->ctr[IMPAIR_CTR_DELAYED]++;
	}
	/* The heap's sequence tie-break keeps equal departure times in arrival order. */
	if (cfg->ordered && t < ds->last_dep)
		t = ds->last_dep;
	ds->last_dep = t;
	memcpy(f->data, data, len);
	f->len = len;
	f->dir = (uint8_t) d;
	f->t_dep = t;
	f->seq = ctx->seq++;
	ds->queued++;
	impair_heap_push(ctx, f);
}

static void
impair_frame_in(struct impair_ctx *ctx, enum impair_dir d, uint8_t *data, uint16_t len,
	uint64_t now)
{
	struct impair_dir_state *ds = &ctx->dir[d];
	struct impair_cfg *cfg = &ds->cfg;
	bool dup = false;

	ds->ctr[IMPAIR_CTR_RX]++;
	ds->ctr[IMPAIR_CTR_RX_BYTES] += len;
	if (cfg->loss_thr != 0 && impair_rng_hit(&ds->rng[IMPAIR_RNG_LOSS], cfg->loss_thr)) {
		ds->ctr[IMPAIR_CTR_DROPPED]++;
		return;
	}
	if (cfg->corrupt_thr != 0 &&
		impair_rng_hit(&ds->rng[IMPAIR_RNG_CORRUPT], cfg->corrupt_thr)) {
		struct impair_rng_state *r = &ds->rng[IMPAIR_RNG_CORRUPT];
		uint64_t pos =
			impair_rng_below(r, len > IMPAIR_ETH_HLEN ? len - IMPAIR_ETH_HLEN : 1);
		uint64_t bit = impair_rng_below(r, 8);

		/* Only past the Ethernet header, so the frame still reaches its peer and the
		 * IPv4 header or L4 checksum is what catches the damage. */
		if (len > IMPAIR_ETH_HLEN) {
			data[IMPAIR_ETH_HLEN + pos] ^= (uint8_t) (1u << bit);
			ds->ctr[IMPAIR_CTR_CORRUPTED]++;
		}
	}
	if (cfg->dup_thr != 0 && impair_rng_hit(&ds->rng[IMPAIR_RNG_DUP], cfg->dup_thr))
		dup = true;
	impair_enqueue(ctx, d, data, len, now);
	if (dup) {
		ds->ctr[IMPAIR_CTR_DUPLICATED]++;
		impair_enqueue(ctx, d, data, len, now);
	}
}

/* Drain up to IMPAIR_RX_ROUNDS bursts from the socket of side <d>. Returns 0 or -errno. */
static int
impair_rx(struct impair_ctx *ctx, enum impair_dir d)
{
	struct mmsghdr msg[IMPAIR_BURST];
	struct iovec iov[IMPAIR_BURST];
	struct sockaddr_ll sll[IMPAIR_BURST];

	for (unsigned int round = 0; round < IMPAIR_RX_ROUNDS; round++) {
		uint64_t now;
		int n;

		memset(msg, 0, sizeof(msg));
		for (unsigned int i = 0; i < IMPAIR_BURST; i++) {
			iov[i].iov_base = ctx->rxbuf[i];
			iov[i].iov_len = IMPAIR_FRAME_MAX;
			msg[i].msg_hdr.msg_iov = &iov[i];
			msg[i].msg_hdr.msg_iovlen = 1;
			msg[i].msg_hdr.msg_name = &sll[i];
			msg[i].msg_hdr.msg_namelen = sizeof(sll[i]);
		}
		n = recvmmsg(ctx->fd[d], msg, IMPAIR_BURST, MSG_DONTWAIT | MSG_TRUNC, NULL);
		if (n < 0) {
			if (errno == EAGAIN || errno == EINTR)
				return 0;
			return -errno;
		}
		now = impair_now();
		for (int i = 0; i < n; i++) {
			struct impair_dir_state *ds = &ctx->dir[d];
			unsigned int len = msg[i].msg_len;

			/* PACKET_IGNORE_OUTGOING already hides our own sends; belt and braces. */
			if (sll[i].sll_pkttype == PACKET_OUTGOING)
				continue;
			if (len > IMPAIR_FRAME_MAX || (msg[i].msg_hdr.msg_flags & MSG_TRUNC)) {
				ds->ctr[IMPAIR_CTR_RX]++;
				ds->ctr[IMPAIR_CTR_TRUNCATED]++;
				continue;
			}
			impair_frame_in(ctx, d, ctx->rxbuf[i], (uint16_t) len, now);
		}
		/* Anything already due (no delay configured) leaves with this burst. */
		(void) impair_run_due(ctx, now);
		if (n < IMPAIR_BURST)
			break;
	}
	return 0;
}

/* ---- sockets ---- */

static int
impair_sock_open(const char *ifname, int *ret_fd)
{
	struct packet_mreq mr = {0};
	struct sockaddr_ll sll = {0};
	unsigned int ifindex;
	int one = 1, buf = IMPAIR_SOCK_BUF;
	int fd, r;

	ifindex = if_nametoindex(ifname);
	if (ifindex == 0)
		return -errno;
	/* Protocol 0 until bind: no frame from another interface can slip in before it. */
	fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (setsockopt(fd, SOL_PACKET, PACKET_IGNORE_OUTGOING, &one, sizeof(one)) < 0)
		goto err_errno;
	mr.mr_ifindex = (int) ifindex;
	mr.mr_type = PACKET_MR_PROMISC;
	if (setsockopt(fd, SOL_PACKET, PACKET_ADD_MEMBERSHIP, &mr, sizeof(mr)) < 0)
		goto err_errno;
	/* Deep buffers: a burst the bridge is slow to read is loss we did not ask for. */
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &buf, sizeof(buf)) < 0)
		(void) setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &buf, sizeof(buf));
	if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &buf, sizeof(buf)) < 0)
		(void) setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &buf, sizeof(buf));
	/* Straight to the veth: no qdisc to add drops or delays of its own. */
	(void) setsockopt(fd, SOL_PACKET, PACKET_QDISC_BYPASS, &one, sizeof(one));
	sll.sll_family = AF_PACKET;
	sll.sll_protocol = htons(ETH_P_ALL);
	sll.sll_ifindex = (int) ifindex;
	if (bind(fd, (struct sockaddr *) &sll, sizeof(sll)) < 0)
		goto err_errno;
	*ret_fd = fd;
	return 0;

err_errno:
	r = -errno;
	(void) close(fd);
	return r;
}

/* ---- statistics ---- */

static void
impair_stats_print(const struct impair_ctx *ctx, FILE *out)
{
	uint64_t now = impair_now();

	fprintf(out,
		"{\"seed\":%" PRIu64 ",\"generation\":%" PRIu64 ",\"reload_failed\":%" PRIu64
		",\"uptime_s\":%.3f",
		ctx->seed, ctx->generation, ctx->reload_failed,
		(double) (now - ctx->t_start) / IMPAIR_NS_PER_S);
	fprintf(out, ",\"if_a\":\"%s\",\"if_b\":\"%s\",\"queue_limit\":%" PRIu32,
		ctx->ifname[IMPAIR_DIR_AB], ctx->ifname[IMPAIR_DIR_BA], ctx->queue_limit);
	for (unsigned int d = 0; d < IMPAIR_DIR_MAX; d++) {
		const struct impair_dir_state *ds = &ctx->dir[d];
		const struct impair_cfg *c = &ds->cfg;

		fprintf(out, ",\"%s\":{", impair_dir_names[d]);
		for (unsigned int i = 0; i < IMPAIR_CTR_MAX; i++)
			fprintf(out, "%s\"%s\":%" PRIu64, i ? "," : "", impair_ctr_names[i],
				ds->ctr[i]);
		fprintf(out, ",\"queued\":%" PRIu32, ds->queued);
		fprintf(out,
			",\"config\":{\"loss\":%g,\"dup\":%g,\"corrupt\":%g,\"reorder\":%g,"
			"\"reorder_gap\":%" PRIu32 ",\"reorder_timeout_ms\":%g,\"delay_ms\":%g,"
			"\"jitter_ms\":%g,\"ordered\":%s,\"rate_bps\":%" PRIu64
			",\"burst_bytes\":%" PRIu64 ",\"rate_queue_ms\":%g}}",
			c->pct[0], c->pct[1], c->pct[2], c->pct[3], c->reorder_gap,
			(double) c->reorder_timeout_ns / IMPAIR_NS_PER_MS,
			(double) c->delay_ns / IMPAIR_NS_PER_MS,
			(double) c->jitter_ns / IMPAIR_NS_PER_MS, c->ordered ? "true" : "false",
			c->rate_bps, c->burst_bytes, (double) c->rate_queue_ns / IMPAIR_NS_PER_MS);
	}
	fprintf(out, "}\n");
}

/* Write the counters to --stats atomically (temp file + rename). Returns 0 or -errno. */
static int
impair_stats_write(const struct impair_ctx *ctx)
{
	char tmp[4096];
	FILE *f;
	int n, r = 0;

	if (ctx->stats_path == NULL)
		return 0;
	n = snprintf(tmp, sizeof(tmp), "%s.tmp", ctx->stats_path);
	if (n < 0 || (size_t) n >= sizeof(tmp))
		return -ENAMETOOLONG;
	f = fopen(tmp, "w");
	if (f == NULL)
		return -errno;
	impair_stats_print(ctx, f);
	if (fflush(f) != 0 || ferror(f))
		r = -EIO;
	if (fclose(f) != 0 && r == 0)
		r = -errno;
	if (r == 0 && rename(tmp, ctx->stats_path) < 0)
		r = -errno;
	if (r < 0)
		(void) unlink(tmp);
	return r;
}

static void
impair_stats_emit(const struct impair_ctx *ctx)
{
	int r;

	impair_stats_print(ctx, stdout);
	(void) fflush(stdout);
	r = impair_stats_write(ctx);
	if (r < 0)
		fprintf(stderr, "ndrguard-impair: writing %s: %s, ignoring\n", ctx->stats_path,
			strerror(-r));
}

/* ---- options ---- */

static void
impair_usage(FILE *out)
{
	fputs("Usage: ndrguard-impair -a IF_A -b IF_B [options]\n"
	      "Forward Ethernet frames between IF_A and IF_B (raw AF_PACKET, promiscuous) and\n"
	      "impair them. Run it in a namespace that holds both interfaces.\n"
	      "\n"
	      "  -a, --if-a IF            first interface (side A)\n"
	      "  -b, --if-b IF            second interface (side B)\n"
	      "  -s, --seed N             PRNG seed (default 1); same seed + same frames = same "
	      "fate\n"
	      "  -S, --stats FILE         write the counters (JSON) here at start, on SIGUSR1, at "
	      "exit\n"
	      "  -c, --config FILE        on SIGHUP, replace all impairments with the options in "
	      "FILE\n"
	      "  -q, --queue-limit N      frames queued per direction (default 4096); more are\n"
	      "                           dropped and counted as queue_dropped\n"
	      "\n"
	      "Impairments apply to the directions selected by the last --dir (default both):\n"
	      "  -d, --dir ab|ba|both     ab: A to B, ba: B to A\n"
	      "  -l, --loss PCT           drop frames\n"
	      "  -C, --corrupt PCT        flip one random bit past the Ethernet header\n"
	      "  -D, --dup PCT            send a second copy\n"
	      "  -r, --reorder PCT        hold a frame back until --reorder-gap later frames left\n"
	      "  -g, --reorder-gap N      frames that overtake a held one (default 3)\n"
	      "  -T, --reorder-timeout MS a held frame leaves after MS anyway (default 20)\n"
	      "  -L, --delay MS           one-way delay\n"
	      "  -j, --jitter MS          add a uniform offset in [-MS, +MS] per frame (frames\n"
	      "                           may overtake each other, as with netem)\n"
	      "  -O, --ordered            with --jitter: no frame leaves before an earlier one\n"
	      "  -R, --rate BITS          shape to BITS/s (suffix k, M, G; 0 = unlimited)\n"
	      "  -B, --burst BYTES        token bucket depth (default 16384)\n"
	      "  -Q, --rate-queue MS      shaper backlog limit as drain time (default 100);\n"
	      "                           more is dropped and counted as rate_dropped\n"
	      "  -h, --help\n"
	      "\n"
	      "Order per frame: loss, corrupt, dup, rate, delay+jitter, reorder.\n"
	      "Signals: SIGUSR1 prints the counters as JSON on stdout and rewrites --stats;\n"
	      "SIGHUP re-reads --config; SIGINT/SIGTERM print and write the counters and exit 0.\n"
	      "Exit status: 0 ok, 1 runtime failure, 2 usage.\n",
		out);
}

static const struct option impair_longopts[] = {
	{"if-a", required_argument, NULL, 'a'},
	{"if-b", required_argument, NULL, 'b'},
	{"seed", required_argument, NULL, 's'},
	{"stats", required_argument, NULL, 'S'},
	{"config", required_argument, NULL, 'c'},
	{"queue-limit", required_argument, NULL, 'q'},
	{"dir", required_argument, NULL, 'd'},
	{"loss", required_argument, NULL, 'l'},
	{"corrupt", required_argument, NULL, 'C'},
	{"dup", required_argument, NULL, 'D'},
	{"reorder", required_argument, NULL, 'r'},
	{"reorder-gap", required_argument, NULL, 'g'},
	{"reorder-timeout", required_argument, NULL, 'T'},
	{"delay", required_argument, NULL, 'L'},
	{"jitter", required_argument, NULL, 'j'},
	{"ordered", no_argument, NULL, 'O'},
	{"rate", required_argument, NULL, 'R'},
	{"burst", required_argument, NULL, 'B'},
	{"rate-queue", required_argument, NULL, 'Q'},
	{"help", no_argument, NULL, 'h'},
	{NULL, 0, NULL, 0},
};

static const char impair_shortopts[] = "+a:b:s:S:c:q:d:l:C:D:r:g:T:L:j:OR:B:Q:h";

static int
impair_parse_double(const char *s, double min, double max, double *ret)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (errno != 0 || end == s || *end != '\0' || !(v >= min && v <= max))
		return -EINVAL;
	*ret = v;
	return 0;
}

static int
impair_parse_u64(const char *s, uint64_t max, uint64_t *ret)
{
	char *end;
	unsigned long long v;

	if (*s == '-')
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 0);
	if (errno != 0 || end == s || *end != '\0' || v > max)
		return -EINVAL;
	*ret = v;
	return 0;
}

/* "10M", "1.5G", "800k", "64000", with an optional "bit" or "bps" after the unit. */
static int
impair_parse_rate(const char *s, uint64_t *ret)
{
	char *end;
	double v, mul = 1;

	errno = 0;
	v = strtod(s, &end);
	if (errno != 0 || end == s || !(v >= 0))
		return -EINVAL;
	switch (*end) {
	case 'k':
	case 'K':
		mul = 1e3;
		end++;
		break;
	case 'm':
	case 'M':
		mul = 1e6;
		end++;
		break;
	case 'g':
	case 'G':
		mul = 1e9;
		end++;
		break;
	default:
		break;
	}
	if (*end != '\0' && strcmp(end, "bit") != 0 && strcmp(end, "bps") != 0)
		return -EINVAL;
	v *= mul;
	if (v > 1e12)
		return -ERANGE;
	*ret = (uint64_t) v;
	return 0;
}

static void
impair_cfg_defaults(struct impair_cfg *c)
{
	memset(c, 0, sizeof(*c));
	c->reorder_gap = IMPAIR_REORDER_GAP_DEF;
	c->reorder_timeout_ns = IMPAIR_REORDER_TIMEOUT_DEF;
	c->burst_bytes = IMPAIR_BURST_DEF;
	c->rate_queue_ns = IMPAIR_RATE_QUEUE_DEF;
}

static uint64_t
impair_pct_thr(double pct)
{
	return (uint64_t) llround(pct / 100.0 * 4294967296.0);
}

/*
 * Parse <argv> into <cfg> (both directions) and, unless <live>, into <ctx>'s global settings.
 * A live reload (SIGHUP) accepts impairment options only. Returns 0, or -EINVAL with a message
 * on stderr; <cfg> is then partly written and must be thrown away.
 */
static int
impair_opts_parse(struct impair_ctx *ctx, int argc, char **argv, bool live,
	struct impair_cfg cfg[IMPAIR_DIR_MAX])
{
	bool sel[IMPAIR_DIR_MAX] = {true, true};
	int opt;

	optind = 0; /* glibc: full re-initialisation, so a reload can parse again */
	opterr = 1;
	while ((opt = getopt_long(argc, argv, impair_shortopts, impair_longopts, NULL)) != -1) {
		double v = 0;
		uint64_t u = 0;
		int r = 0;

		if (live && strchr("absScqh", opt) != NULL) {
			fprintf(stderr, "ndrguard-impair: option -%c not allowed in --config\n",
				opt);
			return -EINVAL;
		}
		switch (opt) {
		case 'a':
			ctx->ifname[IMPAIR_DIR_AB] = optarg;
			break;
		case 'b':
			ctx->ifname[IMPAIR_DIR_BA] = optarg;
			break;
		case 's':
			r = impair_parse_u64(optarg, UINT64_MAX, &ctx->seed);
			break;
		case 'S':
			ctx->stats_path = optarg;
			break;
		case 'c':
			ctx->config_path = optarg;
			break;
		case 'q':
			r = impair_parse_u64(optarg, IMPAIR_QUEUE_LIMIT_MAX, &u);
			if (r == 0 && u == 0)
				r = -EINVAL;
			ctx->queue_limit = (uint32_t) u;
			break;
		case 'd':
			if (strcmp(optarg, "ab") == 0) {
				sel[IMPAIR_DIR_AB] = true;
				sel[IMPAIR_DIR_BA] = false;
			} else if (strcmp(optarg, "ba") == 0) {
				sel[IMPAIR_DIR_AB] = false;
				sel[IMPAIR_DIR_BA] = true;
			} else if (strcmp(optarg, "both") == 0) {
				sel[IMPAIR_DIR_AB] = true;
				sel[IMPAIR_DIR_BA] = true;
			} else {
				r = -EINVAL;
			}
			break;
		case 'l':
		case 'C':
		case 'D':
		case 'r':
			r = impair_parse_double(optarg, 0, 100, &v);
			break;
		case 'T':
		case 'L':
		case 'j':
		case 'Q':
			/* Milliseconds, fractions allowed, at most an hour. */
			r = impair_parse_double(optarg, 0, 3600e3, &v);
			break;
		case 'g':
			r = impair_parse_u64(optarg, 1000, &u);
			break;
		case 'R':
			r = impair_parse_rate(optarg, &u);
			break;
		case 'B':
			r = impair_parse_u64(optarg, 1u << 30, &u);
			break;
		case 'O':
			break;
		case 'h':
			impair_usage(stdout);
			exit(0);
		default:
			return -EINVAL;
		}
		if (r < 0) {
			fprintf(stderr, "ndrguard-impair: bad value for -%c: '%s'\n", opt, optarg);
			return -EINVAL;
		}
		for (unsigned int d = 0; d < IMPAIR_DIR_MAX; d++) {
			struct impair_cfg *c = &cfg[d];

			if (!sel[d])
				continue;
			switch (opt) {
			case 'l':
				c->pct[0] = v;
				c->loss_thr = impair_pct_thr(v);
				break;
			case 'D':
				c->pct[1] = v;
				c->dup_thr = impair_pct_thr(v);
				break;
			case 'C':
				c->pct[2] = v;
				c->corrupt_thr = impair_pct_thr(v);
				break;
			case 'r':
				c->pct[3] = v;
				c->reorder_thr = impair_pct_thr(v);
				break;
			case 'g':
				c->reorder_gap = (uint32_t) u;
				break;
			case 'T':
				c->reorder_timeout_ns = (uint64_t) (v * IMPAIR_NS_PER_MS);
				break;
			case 'L':
				c->delay_ns = (uint64_t) (v * IMPAIR_NS_PER_MS);
				break;
			case 'j':
				c->jitter_ns = (uint64_t) (v * IMPAIR_NS_PER_MS);
				break;
			case 'O':
				c->ordered = true;
				break;
			case 'Q':
				c->rate_queue_ns = (uint64_t) (v * IMPAIR_NS_PER_MS);
				break;
			case 'R':
				c->rate_bps = u;
				break;
			case 'B':
				c->burst_bytes = u;
				break;
			default:
				break;
			}
		}
	}
	if (optind != argc) {
		fprintf(stderr, "ndrguard-impair: unexpected argument '%s'\n", argv[optind]);
		return -EINVAL;
	}
	return 0;
}

/* SIGHUP: read --config, parse it as impairment options and swap them in. Returns 0/-errno. */
static int
impair_config_reload(struct impair_ctx *ctx)
{
	struct impair_cfg cfg[IMPAIR_DIR_MAX];
	char *words[IMPAIR_CONFIG_WORDS + 1];
	char *buf, *p;
	int argc = 0, r = 0;
	size_t n;
	FILE *f;

	if (ctx->config_path == NULL)
		return -ENOENT;
	f = fopen(ctx->config_path, "r");
	if (f == NULL)
		return -errno;
	buf = malloc(IMPAIR_CONFIG_MAX + 1);
	if (buf == NULL) {
		r = -ENOMEM;
		goto out_close;
	}
	n = fread(buf, 1, IMPAIR_CONFIG_MAX + 1, f);
	if (ferror(f) || n > IMPAIR_CONFIG_MAX) {
		r = ferror(f) ? -EIO : -EFBIG;
		goto out_free;
	}
	buf[n] = '\0';
	words[argc++] = (char *) "ndrguard-impair";
	for (p = buf; *p != '\0';) {
		if (*p == '#') {
			while (*p != '\0' && *p != '\n')
				p++;
			continue;
		}
		if (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r') {
			p++;
			continue;
		}
		if (argc == IMPAIR_CONFIG_WORDS) {
			r = -E2BIG;
			goto out_free;
		}
		words[argc++] = p;
		while (*p != '\0' && *p != ' ' && *p != '\t' && *p != '\n' && *p != '\r')
			p++;
		if (*p != '\0')
			*p++ = '\0';
	}
	words[argc] = NULL;
	for (unsigned int d = 0; d < IMPAIR_DIR_MAX; d++)
		impair_cfg_defaults(&cfg[d]);
	r = impair_opts_parse(ctx, argc, words, true, cfg);
	if (r < 0)
		goto out_free;
	for (unsigned int d = 0; d < IMPAIR_DIR_MAX; d++)
		ctx->dir[d].cfg = cfg[d];
	ctx->generation++;
out_free:
	free(buf);
out_close:
	(void) fclose(f);
	return r;
}

/* ---- main loop ---- */

static void
impair_on_signal(int sig)
{
	if (sig == SIGUSR1)
		impair_sig_dump = 1;
	else if (sig == SIGHUP)
		impair_sig_reload = 1;
	else
		impair_sig_quit = 1;
}

static int
impair_signals_setup(sigset_t *ret_waitmask)
{
	static const int sigs[] = {SIGINT, SIGTERM, SIGUSR1, SIGHUP};
	struct sigaction sa = {0};
	sigset_t block;

	sigemptyset(&block);
	for (unsigned int i = 0; i < IMPAIR_ARRAY_SIZE(sigs); i++)
		sigaddset(&block, sigs[i]);
	/* Blocked everywhere but inside ppoll(): no handler ever interrupts a half-done burst. */
	if (sigprocmask(SIG_BLOCK, &block, ret_waitmask) < 0)
		return -errno;
	for (unsigned int i = 0; i < IMPAIR_ARRAY_SIZE(sigs); i++)
		sigdelset(ret_waitmask, sigs[i]);
	sa.sa_handler = impair_on_signal;
	sigemptyset(&sa.sa_mask);
	for (unsigned int i = 0; i < IMPAIR_ARRAY_SIZE(sigs); i++)
		if (sigaction(sigs[i], &sa, NULL) < 0)
			return -errno;
	return 0;
}

static int
impair_loop(struct impair_ctx *ctx, const sigset_t *waitmask)
{
	struct pollfd pfd[IMPAIR_DIR_MAX];

	for (unsigned int d = 0; d < IMPAIR_DIR_MAX; d++) {
		pfd[d].fd = ctx->fd[d];
		pfd[d].events = POLLIN;
	}
	while (!impair_sig_quit) {
		uint64_t now = impair_now();
		uint64_t next = impair_run_due(ctx, now);
		struct timespec ts, *tsp = NULL;
		int n;

		if (next != UINT64_MAX) {
			uint64_t wait = next > now ? next - now : 0;

			ts.tv_sec = (time_t) (wait / IMPAIR_NS_PER_S);
			ts.tv_nsec = (long) (wait % IMPAIR_NS_PER_S);
			tsp = &ts;
		}
		n = ppoll(pfd, IMPAIR_DIR_MAX, tsp, waitmask);
		if (n < 0 && errno != EINTR)
			return -errno;
		if (impair_sig_dump) {
			impair_sig_dump = 0;
			impair_stats_emit(ctx);
		}
		if (impair_sig_reload) {
			int r;

			impair_sig_reload = 0;
			r = impair_config_reload(ctx);
			if (r < 0) {
				ctx->reload_failed++;
				fprintf(stderr,
					"ndrguard-impair: reloading %s: %s, keeping the old "
					"impairments\n",
					ctx->config_path ? ctx->config_path : "(no --config)",
					strerror(-r));
			}
			impair_stats_emit(ctx);
		}
		if (n <= 0)
			continue;
		for (unsigned int d = 0; d < IMPAIR_DIR_MAX; d++) {
			if (pfd[d].revents & (POLLERR | POLLNVAL | POLLHUP)) {
				int err = 0;
				socklen_t len = sizeof(err);

				/* The interface went away (namespace deleted) or went down. */
				(void) getsockopt(ctx->fd[d], SOL_SOCKET, SO_ERROR, &err, &len);
				if (pfd[d].revents & POLLNVAL || err == ENODEV || err == ENXIO)
					return -ENODEV;
			}
			if (pfd[d].revents & POLLIN) {
				int r = impair_rx(ctx, (enum impair_dir) d);

				/* ENETDOWN is transient: the socket rebinds when the link comes
				 * back up. A vanished device (ENODEV) ends the bridge. */
				if (r == -ENODEV || r == -ENXIO)
					return r;
			}
		}
	}
	return 0;
}

static int
impair_ctx_alloc(struct impair_ctx *ctx)
{
	uint32_t n;

	/* Every queued copy holds a slot: both directions' queue limits, the held frames and
	 * the tx batches are all bounded, so the pool never runs dry before a limit trips. */
	n = 2 * ctx->queue_limit + 2 * (IMPAIR_HOLD_MAX + IMPAIR_BURST) + 2;
	ctx->pool = calloc(n, sizeof(*ctx->pool));
	ctx->heap = calloc(n, sizeof(*ctx->heap));
	if (ctx->pool == NULL || ctx->heap == NULL)
		return -ENOMEM;
	ctx->heap_cap = n;
	for (uint32_t i = 0; i < n; i++)
		impair_frame_put(ctx, &ctx->pool[i]);
	return 0;
}

int
main(int argc, char **argv)
{
	static struct impair_ctx ctx;
	struct impair_cfg cfg[IMPAIR_DIR_MAX];
	sigset_t waitmask;
	int r, rc = 1;

	ctx.seed = 1;
	ctx.queue_limit = IMPAIR_QUEUE_LIMIT_DEF;
	ctx.fd[0] = ctx.fd[1] = -1;
	for (unsigned int d = 0; d < IMPAIR_DIR_MAX; d++)
		impair_cfg_defaults(&cfg[d]);
	if (impair_opts_parse(&ctx, argc, argv, false, cfg) < 0) {
		impair_usage(stderr);
		return 2;
	}
	if (ctx.ifname[0] == NULL || ctx.ifname[1] == NULL) {
		fprintf(stderr, "ndrguard-impair: both -a and -b are required\n");
		impair_usage(stderr);
		return 2;
	}
	if (strcmp(ctx.ifname[0], ctx.ifname[1]) == 0) {
		fprintf(stderr, "ndrguard-impair: -a and -b must differ\n");
		return 2;
	}
	for (unsigned int d = 0; d < IMPAIR_DIR_MAX; d++) {
		ctx.dir[d].cfg = cfg[d];
		for (unsigned int k = 0; k < IMPAIR_RNG_MAX; k++)
			impair_rng_seed(&ctx.dir[d].rng[k], ctx.seed, d * IMPAIR_RNG_MAX + k);
	}
	r = impair_ctx_alloc(&ctx);
	if (r < 0) {
		fprintf(stderr, "ndrguard-impair: %s\n", strerror(-r));
		goto out;
	}
	r = impair_signals_setup(&waitmask);
	if (r < 0) {
		fprintf(stderr, "ndrguard-impair: signals: %s\n", strerror(-r));
		goto out;
	}
	for (unsigned int d = 0; d < IMPAIR_DIR_MAX; d++) {
		r = impair_sock_open(ctx.ifname[d], &ctx.fd[d]);
		if (r < 0) {
			fprintf(stderr, "ndrguard-impair: %s: %s\n", ctx.ifname[d], strerror(-r));
			goto out;
		}
	}
	/* Delays are in milliseconds, but a 50 µs default timer slack is still noise we can avoid. */
	(void) prctl(PR_SET_TIMERSLACK, 1UL, 0UL, 0UL, 0UL);
	ctx.t_start = impair_now();
	/* The first stats file says "sockets bound, forwarding": lab.sh waits for it. */
	r = impair_stats_write(&ctx);
	if (r < 0) {
		fprintf(stderr, "ndrguard-impair: writing %s: %s\n", ctx.stats_path, strerror(-r));
		goto out;
	}
	r = impair_loop(&ctx, &waitmask);
	if (r < 0)
		fprintf(stderr, "ndrguard-impair: stopping: %s\n", strerror(-r));
	else
		rc = 0;
	impair_stats_emit(&ctx);
out:
	for (unsigned int d = 0; d < IMPAIR_DIR_MAX; d++)
		if (ctx.fd[d] >= 0)
			(void) close(ctx.fd[d]);
	free(ctx.pool);
	free(ctx.heap);
	return rc;
}
