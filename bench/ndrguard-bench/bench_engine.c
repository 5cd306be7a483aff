/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * `ndrguard-bench engine`: the engine's ceiling on one core, no network. Each iteration is a
 * complete backscatter attack session as a spam bot sends it: connect, EHLO, MAIL FROM:<>
 * (a forged bounce), RCPT TO a random nonexistent user at our domain (550 5.1.1, so the
 * backend is never opened), QUIT. Replies and decision records go to counting callbacks.
 */
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <urcu/urcu-qsbr.h>

#include "bench.h"
#include "policy.h"
#include "rcpt.h"
#include "smtp.h"
#include "ndg_common.h"

#define BENCH_SCRIPTS 1024

struct bench_sink {
	uint64_t reply_bytes;
	uint64_t closes;
	uint64_t decisions;
	uint64_t rejects_550;
	uint64_t backend_opens;
	struct smtp_blk_heap heap; /* borrowed blocks, recycled: the lcore's mempool stand-in */
};

static void
bench_reply(void *arg, const char *p, size_t n)
{
	struct bench_sink *k = arg;

	k->reply_bytes += n;
	if (n >= 4 && memcmp(p, "550 ", 4) == 0)
		k->rejects_550++;
}

static void
bench_close(void *arg)
{
	((struct bench_sink *) arg)->closes++;
}

static int
bench_backend_open(void *arg)
{
	((struct bench_sink *) arg)->backend_opens++;
	return -1;
}

static void
bench_backend_send(void *arg, const char *p, size_t n)
{
	(void) arg;
	(void) p;
	(void) n;
}

static void
bench_backend_close(void *arg)
{
	(void) arg;
}

static void
bench_decision(void *arg, const struct policy_decision *d)
{
	(void) d;
	((struct bench_sink *) arg)->decisions++;
}

static void *
bench_blk_get(void *arg, uint8_t kind)
{
	return smtp_blk_heap_get(&((struct bench_sink *) arg)->heap, kind);
}

static void
bench_blk_put(void *arg, uint8_t kind, void *blk)
{
	smtp_blk_heap_put(&((struct bench_sink *) arg)->heap, kind, blk);
}

struct bench_script {
	char cmd[4][96];
	size_t len[4];
	char all[400];
	size_t all_len;
};

int
bench_engine_main(int argc, char **argv)
{
	static const struct option opts[] = {
		{"seconds", required_argument, NULL, 's'},
		{"directory", required_argument, NULL, 'd'},
		{"pipelined", no_argument, NULL, 'p'},
		{"cpu", required_argument, NULL, 'c'},
		{NULL, 0, NULL, 0},
	};
	static const struct smtp_ops ops = {
		.reply = bench_reply,
		.close = bench_close,
		.backend_open = bench_backend_open,
		.backend_send = bench_backend_send,
		.backend_close = bench_backend_close,
		.decision = bench_decision,
		.blk_get = bench_blk_get,
		.blk_put = bench_blk_put,
	};
	struct rcpt_key key = {0x452821e638d01377ULL, 0xbe5466cf34e90c6cULL};
	struct bench_script *sc;
	struct smtp_conf conf;
	struct smtp_stats *stats;
	struct smtp_session *s;
	struct bench_sink sink = {.heap = {.recycle = true}};
	struct policy pol;
	struct policy_peer peer = {4, {198, 18, 0, 0}};
	uint64_t ndir = 100000, sessions = 0, t0, t1;
	double secs = 2.0, rate, cpu_rate;
	uint64_t c0;
	bool pipelined = false;
	int cpu = -1, opt;
	char addr[64];

	optind = 1;
	while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (opt) {
		case 's':
			secs = strtod(optarg, NULL);
			break;
		case 'd':
			ndir = strtoull(optarg, NULL, 10);
			break;
		case 'p':
			pipelined = true;
			break;
		case 'c':
			cpu = (int) strtol(optarg, NULL, 10);
			break;
		default:
			return 2;
		}
	}
	if (secs <= 0) {
		fprintf(stderr, "engine: --seconds must be positive\n");
		return 2;
	}
	if (bench_pin(cpu) < 0)
		fprintf(stderr, "engine: cannot pin to cpu %d, running unpinned\n", cpu);
	urcu_qsbr_register_thread();

	smtp_conf_init(&conf, "mx.example.test");
	policy_init(&pol);
	pol.dir = rcpt_tbl_create(&key);
	if (pol.dir == NULL || policy_domain_add(&pol, "example.test", false, false) < 0 ||
		rcpt_tbl_snapshot_begin(pol.dir, ndir) < 0)
		return 1;
	for (uint64_t i = 0; i < ndir; i++) {
		struct rcpt_digest d;
		int l = snprintf(addr, sizeof(addr), "user%llu@example.test",
			(unsigned long long) i);

		rcpt_digest_compute(&key, addr, (size_t) l, &d);
		(void) rcpt_tbl_snapshot_add(pol.dir, &d);
	}
	if (rcpt_tbl_snapshot_commit(pol.dir) < 0)
		return 1;
	stats = aligned_alloc(64, sizeof(*stats));
	s = malloc(sizeof(*s));
	sc = calloc(BENCH_SCRIPTS, sizeof(*sc));
	if (stats == NULL || s == NULL || sc == NULL)
		return 1;
	memset(stats, 0, sizeof(*stats));
	for (unsigned int i = 0; i < BENCH_SCRIPTS; i++) {
		struct bench_script *b = &sc[i];
		int n;

		n = snprintf(b->cmd[0], sizeof(b->cmd[0]), "EHLO bot%u.example.net\r\n", i);
		b->len[0] = (size_t) n;
		n = snprintf(b->cmd[1], sizeof(b->cmd[1]), "MAIL FROM:<>\r\n");
		b->len[1] = (size_t) n;
		n = snprintf(b->cmd[2], sizeof(b->cmd[2]), "RCPT TO:<x%08x%u@example.test>\r\n",
			i * 2654435761u, i);
		b->len[2] = (size_t) n;
		n = snprintf(b->cmd[3], sizeof(b->cmd[3]), "QUIT\r\n");
		b->len[3] = (size_t) n;
		b->all_len = 0;
		for (int c = 0; c < 4; c++) {
			memcpy(b->all + b->all_len, b->cmd[c], b->len[c]);
			b->all_len += b->len[c];
		}
	}

	c0 = bench_cpu_ns();
	t0 = bench_now_ns();
	do {
		for (unsigned int i = 0; i < BENCH_SCRIPTS; i++) {
			const struct bench_script *b = &sc[i];
			uint64_t now = 1700000000000ULL + sessions;

			peer.addr[2] = (uint8_t) (i >> 8);
			peer.addr[3] = (uint8_t) i;
			smtp_session_init(s, &conf, &ops, &sink, &pol, stats, &peer);
			smtp_session_start(s, now, 1);
			if (pipelined) {
				(void) smtp_session_feed(s, now, b->all, b->all_len);
			} else {
				for (int c = 0; c < 4; c++)
					(void) smtp_session_feed(s, now, b->cmd[c], b->len[c]);
			}
			smtp_session_fini(s);
			sessions++;
		}
		urcu_qsbr_quiescent_state();
		t1 = bench_now_ns();
	} while ((double) (t1 - t0) < secs * 1e9);
	rate = (double) sessions / ((double) (t1 - t0) / 1e9);
	cpu_rate = (double) sessions / ((double) (bench_cpu_ns() - c0) / 1e9);

	printf("engine: %llu rejected backscatter sessions in %.2f s on one core (%s)\n",
		(unsigned long long) sessions, (double) (t1 - t0) / 1e9,
		pipelined ? "pipelined, one segment per session" : "one segment per command");
	printf("engine: %.2f M sessions/s, %.0f ns/session; directory %llu addresses\n", rate / 1e6,
		1e9 / rate, (unsigned long long) ndir);
	printf("check:  550 replies %llu, closes %llu, decision records %llu, backend opens %llu\n",
		(unsigned long long) sink.rejects_550, (unsigned long long) sink.closes,
		(unsigned long long) sink.decisions, (unsigned long long) sink.backend_opens);
	if (sink.rejects_550 != sessions || sink.closes != sessions || sink.backend_opens != 0) {
		fprintf(stderr, "engine: sessions did not end as rejected backscatter\n");
		return 1;
	}
	printf("{\"bench\":\"engine\",\"sessions_per_sec\":%.0f,\"sessions_per_cpu_sec\":%.0f,"
	       "\"ns_per_session\":%.1f,"
	       "\"pipelined\":%s,\"directory_addresses\":%llu}\n",
		rate, cpu_rate, 1e9 / rate, pipelined ? "true" : "false",
		(unsigned long long) ndir);
	smtp_blk_heap_fini(&sink.heap);
	free(sc);
	free(s);
	free(stats);
	policy_fini(&pol);
	urcu_qsbr_barrier();
	rcpt_tbl_destroy(pol.dir);
	urcu_qsbr_unregister_thread();
	return 0;
}
