/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Prometheus text exposition over HTTP (libmicrohttpd, its own thread). The main thread
 * renders the page from the dataplane's counters and its own state once a second and hands
 * it over; the HTTP thread only copies the last page out under a mutex.
 */
#ifndef NDG_CONTROL_METRICS_H
#define NDG_CONTROL_METRICS_H

#include <stddef.h>
#include <stdio.h>

struct ctld;

/**
 * Serve /metrics on <listen> ("A.B.C.D:PORT"). Main thread.
 * @return 0, -EINVAL for a bad address, -EADDRINUSE (or another -errno) when it cannot bind.
 */
int metrics_start(const char *listen);

/** Stop serving (main thread). */
void metrics_stop(void);

/**
 * Render the exposition of <d> (its state, and <dp_stats>, the dataplane's "name value"
 * lines, or NULL when unreachable) into <f>. Main thread; exported for tests.
 */
void metrics_render(const struct ctld *d, const char *dp_stats, FILE *f);

/** Replace the page served. Main thread. */
void metrics_publish(const char *page, size_t len);

#endif /* NDG_CONTROL_METRICS_H */
