/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Golden transcript driver: runs a tests/golden/<name>.in script through the SMTP engine and
 * compares the rendered client replies, backend byte stream and decision records with
 * <name>.ref. The client bytes (and the backend's replies) are fed whole, one byte at a time,
 * or cut at random points; every mode must give the same transcript.
 *
 * Usage: golden_run whole|byte|random:SEED IN REF [--update]
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <urcu/urcu-qsbr.h>

#include "smtp_fixture.h"
#include "ndg_common.h"

enum golden_mode {
	GOLDEN_WHOLE = 0, /* each burst of C lines in one segment */
	GOLDEN_BYTE,	  /* one byte per call */
	GOLDEN_RANDOM,	  /* random cut points, 1..48 bytes */
};

static enum golden_mode mode;
static uint64_t rng_state;

static uint64_t
golden_rand(void)
{
	/* xorshift64*: deterministic for a given seed. */
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 0x2545F4914F6CDD1DULL;
}

static size_t
golden_seg(size_t avail)
{
	size_t n;

	if (mode == GOLDEN_WHOLE)
		return avail;
	if (mode == GOLDEN_BYTE)
		return 1;
	n = 1 + (size_t) (golden_rand() % 48);
	return n < avail ? n : avail;
}

/* Feed what the fake backend said to the engine, split like the client side. */
static bool
golden_backend(struct fix *f)
{
	bool progress = false;

	while (f->to_engine.len != 0) {
		struct fix_buf chunk = {0};
		size_t n = golden_seg(f->to_engine.len);

		fix_buf_add(&chunk, f->to_engine.p, n);
		fix_buf_consume(&f->to_engine, n);
		(void) smtp_session_backend_feed(&f->s, f->now, chunk.p, chunk.len);
		free(chunk.p);
		progress = true;
	}
	if (f->be.dropped && f->be.open) {
		f->be.open = false;
		fix_buf_consume(&f->to_engine, f->to_engine.len);
		smtp_session_backend_error(&f->s, f->now);
		progress = true;
	}
	return progress;
}

static void
golden_pump(struct fix *f, struct fix_buf *pending)
{
	for (;;) {
		bool progress = false;

		while (pending->len != 0) {
			size_t n = golden_seg(pending->len), used;

			used = smtp_session_feed(&f->s, f->now, pending->p, n);
			fix_buf_consume(pending, used);
			if (used != 0)
				progress = true;
			if (used < n)
				break; /* waiting: backend reply or tarpit */
		}
		if (golden_backend(f))
			progress = true;
		if (!progress)
			break;
	}
}

static char *
golden_slurp(const char *path, size_t *ret_len)
{
	FILE *fp = fopen(path, "rb");
	char *p = NULL;
	long n;

	if (fp == NULL)
		return NULL;
	if (fseek(fp, 0, SEEK_END) == 0 && (n = ftell(fp)) >= 0 && fseek(fp, 0, SEEK_SET) == 0) {
		p = malloc((size_t) n + 1);
		if (p != NULL && fread(p, 1, (size_t) n, fp) == (size_t) n) {
			p[n] = '\0';
			*ret_len = (size_t) n;
		} else {
			free(p);
			p = NULL;
		}
	}
	fclose(fp);
	return p;
}

static int
golden_run(struct fix *f, char *script)
{
	struct fix_buf pending = {0};
	char *save = NULL;
	int lineno = 0;

	for (char *line = strtok_r(script, "\n", &save); line != NULL;
		line = strtok_r(NULL, "\n", &save)) {
		int r;

		lineno++;
		if (line[0] == '#' || line[0] == '\0')
			continue;
		r = fix_directive(f, line);
		if (r < 0) {
			fprintf(stderr, "line %d: bad directive: %s\n", lineno, line);
			return -EINVAL;
		}
		if (r == 0)
			continue;
		if (fix_start(f) < 0)
			return -ENOMEM;
		if (strncmp(line, "C ", 2) == 0) {
			if (fix_unescape(f, line + 2, &pending) < 0) {
				fprintf(stderr, "line %d: bad escape\n", lineno);
				return -EINVAL;
			}
		} else if (strncmp(line, "time ", 5) == 0) {
			golden_pump(f, &pending);
			f->now += strtoull(line + 5, NULL, 10);
			fix_buf_add(&f->client, "~", 1);
			fix_buf_add(&f->client, line, strlen(line));
			fix_buf_add(&f->client, "\n", 1);
			smtp_session_tick(&f->s, f->now);
			golden_pump(f, &pending);
		} else if (strcmp(line, "flush") == 0) {
			golden_pump(f, &pending);
		} else if (strcmp(line, "backend-lost") == 0) {
			/* The backend connection fails now, whatever the engine waits for (an
			 * idle timeout, a restart, a reset between commands). */
			golden_pump(f, &pending);
			fix_buf_add(&f->client, "~backend-lost\n", 14);
			f->be.dropped = true;
			golden_pump(f, &pending);
		} else if (strcmp(line, "start") != 0) {
			fprintf(stderr, "line %d: unknown: %s\n", lineno, line);
			return -EINVAL;
		}
	}
	if (fix_start(f) < 0)
		return -ENOMEM;
	golden_pump(f, &pending);
	if (pending.len != 0) {
		char buf[64];

		(void) snprintf(buf, sizeof(buf), "~unconsumed %zu\n", pending.len);
		fix_buf_add(&f->client, buf, strlen(buf));
	}
	free(pending.p);
	return 0;
}

int
main(int argc, char **argv)
{
	struct fix f;
	struct fix_buf out = {0};
	char *script, *ref;
	size_t len, rlen;
	bool update = argc > 4 && strcmp(argv[4], "--update") == 0;
	int ret = 1;

	if (argc < 4) {
		fprintf(stderr, "usage: %s whole|byte|random:SEED IN REF [--update]\n", argv[0]);
		return 2;
	}
	if (strcmp(argv[1], "whole") == 0) {
		mode = GOLDEN_WHOLE;
	} else if (strcmp(argv[1], "byte") == 0) {
		mode = GOLDEN_BYTE;
	} else if (strncmp(argv[1], "random:", 7) == 0) {
		mode = GOLDEN_RANDOM;
		rng_state = strtoull(argv[1] + 7, NULL, 10) * 2654435761ULL + 1;
	} else {
		return 2;
	}
	script = golden_slurp(argv[2], &len);
	if (script == NULL) {
		perror(argv[2]);
		return 2;
	}
	urcu_qsbr_register_thread();
	if (fix_init(&f, NULL) < 0 || golden_run(&f, script) < 0)
		goto out;
	fix_buf_add(&out, "== client\n", 10);
	fix_buf_add(&out, f.client.p ? f.client.p : "", f.client.len);
	fix_buf_add(&out, "== backend\n", 11);
	fix_buf_add(&out, f.backend.p ? f.backend.p : "", f.backend.len);
	fix_buf_add(&out, "== decisions\n", 13);
	fix_buf_add(&out, f.decisions.p ? f.decisions.p : "", f.decisions.len);
	if (update) {
		FILE *fp = fopen(argv[3], "wb");

		if (fp == NULL || fwrite(out.p, 1, out.len, fp) != out.len) {
			perror(argv[3]);
			goto out;
		}
		fclose(fp);
		ret = 0;
		goto out;
	}
	ref = golden_slurp(argv[3], &rlen);
	if (ref == NULL) {
		perror(argv[3]);
		goto out;
	}
	if (rlen == out.len && memcmp(ref, out.p, rlen) == 0) {
		ret = 0;
	} else {
		fprintf(stderr, "golden mismatch (%s, %s)\n--- expected\n%s--- got\n%s", argv[2],
			argv[1], ref, out.p);
	}
	free(ref);
out:
	fix_fini(&f);
	free(out.p);
	free(script);
	urcu_qsbr_unregister_thread();
	return ret;
}
