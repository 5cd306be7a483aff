/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef NDG_DATAPLANE_PROXY_H
#define NDG_DATAPLANE_PROXY_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "lcore-t.h"
#include "proxy-t.h"

/**
 * Start the SMTP proxy on the lcore owning <ctx>: a pool of <n_sessions> sessions and a
 * listener on TCP <port>. Connections are refused until the control daemon has pushed a
 * configuration. Main lcore, before launch.
 * @return 0; -ENOMEM; -EINVAL without a TCP stack; the negative errno of tcp_listen().
 */
int proxy_start(struct lcore_ctx *ctx, uint16_t port, uint32_t n_sessions);

/**
 * Write the proxy's counters summed over lcores as "name value" lines (SMTP engine
 * counters, policy decisions by rule and outcome, proxy events, live sessions, the RCPT reply
 * latency histogram, decisions by reply code, backend health). Any thread; relaxed reads.
 * @return bytes written (output is cut at <size>).
 */
int proxy_stats_text(char *buf, size_t size);

struct ctl_log_rec;

/** The port the SMTP listener was started on, 0 when the proxy is not running. Any thread. */
uint16_t proxy_listen_port(void);

/**
 * Start or stop queueing decision records for the control thread (while nobody listens,
 * lcores only count). Any thread.
 */
void proxy_log_enable(bool on);

/**
 * Move up to <max> queued decision records of every lcore into <out>.
 * Control thread only (single consumer). @return records moved.
 */
unsigned int proxy_log_drain(struct ctl_log_rec *out, unsigned int max);

/** Free what proxy_start() made. Main lcore, after the workers returned. */
void proxy_stop(void);

#endif /* NDG_DATAPLANE_PROXY_H */
