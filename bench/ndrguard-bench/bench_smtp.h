/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Shared by the SMTP client engine and the sink: the digest carried in each generated
 * message ("X-Bench-Digest: <16 hex> <body length>"), FNV-1a 64 over the body as sent, CRLFs
 * included, the terminating "." excluded. Pure functions: any thread.
 */
#ifndef NDG_BENCH_BENCH_SMTP_H
#define NDG_BENCH_BENCH_SMTP_H

#include <stddef.h>
#include <stdint.h>

#define BENCH_DIGEST_INIT   0xcbf29ce484222325ULL
#define BENCH_DIGEST_HEADER "X-Bench-Digest: "

/** Fold <n> bytes at <p> into digest <h>. @return the new digest. */
static inline uint64_t
bench_digest_update(uint64_t h, const void *p, size_t n)
{
	const unsigned char *s = p;

	for (size_t i = 0; i < n; i++) {
		h ^= s[i];
		h *= 0x100000001b3ULL;
	}
	return h;
}

/** `smtp`: the kernel-socket SMTP load generator. */
int bench_smtp_main(int argc, char **argv);

/** `sink`: the SMTP sink that checks message digests. */
int bench_sink_main(int argc, char **argv);

#endif /* NDG_BENCH_BENCH_SMTP_H */
