/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * ndrguard-bench: benchmark driver. Each subcommand prints a readable summary and, as its
 * last line, one JSON object with the figures (for scripts and the closing notes).
 */
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"
#include "bench_smtp.h"
#include "ndg_common.h"

uint64_t
bench_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t) ts.tv_sec * 1000000000ULL + (uint64_t) ts.tv_nsec;
}

uint64_t
bench_cpu_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (uint64_t) ts.tv_sec * 1000000000ULL + (uint64_t) ts.tv_nsec;
}

uint64_t
bench_rss_bytes(void)
{
	unsigned long size = 0, resident = 0;
	FILE *f = fopen("/proc/self/statm", "r");

	if (f == NULL)
		return 0;
	if (fscanf(f, "%lu %lu", &size, &resident) != 2)
		resident = 0;
	fclose(f);
	return (uint64_t) resident * (uint64_t) sysconf(_SC_PAGESIZE);
}

int
bench_pin(int cpu)
{
	cpu_set_t set;

	if (cpu < 0)
		return 0;
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	return sched_setaffinity(0, sizeof(set), &set) == 0 ? 0 : -errno;
}

static void
usage(FILE *f)
{
	fprintf(f,
		"usage: ndrguard-bench lookup --addresses N [--queries N] [--seconds S] [--cpu C]\n"
		"       ndrguard-bench engine [--seconds S] [--directory N] [--pipelined] [--cpu "
		"C]\n"
		"       ndrguard-bench smtp --server IP[:PORT] --scenario FILE [options] (smtp "
		"--help)\n"
		"       ndrguard-bench sink --listen IP:PORT [--stats FILE] [--duration S]\n");
}

int
main(int argc, char **argv)
{
	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	if (strcmp(argv[1], "lookup") == 0)
		return bench_lookup_main(argc - 1, argv + 1);
	if (strcmp(argv[1], "engine") == 0)
		return bench_engine_main(argc - 1, argv + 1);
	if (strcmp(argv[1], "smtp") == 0)
		return bench_smtp_main(argc - 1, argv + 1);
	if (strcmp(argv[1], "sink") == 0)
		return bench_sink_main(argc - 1, argv + 1);
	if (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0) {
		usage(stdout);
		return 0;
	}
	usage(stderr);
	return 2;
}
