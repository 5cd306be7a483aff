/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Project-wide helpers for the dataplane: branch hints and the banned-function poison
 * (shared/STYLE.md §4). Include it LAST in every .c file, after system, DPDK and project
 * headers, so the poison applies to our code and never to library headers.
 */
#ifndef NDG_DATAPLANE_NDG_COMMON_H
#define NDG_DATAPLANE_NDG_COMMON_H

#define NDG_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* Unbounded or non-reentrant libc calls have no place in code that parses hostile input. */
#pragma GCC poison strcpy strcat sprintf strtok atoi gets

#endif /* NDG_DATAPLANE_NDG_COMMON_H */
