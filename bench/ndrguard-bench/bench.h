/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * ndrguard-bench subcommands and their shared helpers. Single-threaded programs: each
 * subcommand runs on the calling thread (optionally pinned with --cpu).
 */
#ifndef NDG_BENCH_BENCH_H
#define NDG_BENCH_BENCH_H

#include <stdint.h>

/** `lookup --addresses N`: recipient directory lookups/s and bytes per address. */
int bench_lookup_main(int argc, char **argv);

/** `engine`: complete rejected backscatter sessions/s through the engine alone. */
int bench_engine_main(int argc, char **argv);

/** Monotonic time in nanoseconds. */
uint64_t bench_now_ns(void);

/** CPU time of the calling thread in nanoseconds: unlike wall time it does not count the
 * time another process had the core (a busy-polling DPDK process on a shared machine). */
uint64_t bench_cpu_ns(void);

/** Resident set size of this process in bytes (/proc/self/statm), 0 when unknown. */
uint64_t bench_rss_bytes(void);

/** Pin the calling thread to <cpu> (-1: leave it). @return 0 or -errno. */
int bench_pin(int cpu);

#endif /* NDG_BENCH_BENCH_H */
