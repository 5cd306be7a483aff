/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Built-in test applications on the TCP stack (echo, discard, verifying client), so the
 * stack is exercised on its own before SMTP sits on it.
 */
#ifndef NDG_DATAPLANE_APP_H
#define NDG_DATAPLANE_APP_H

#include "app-t.h"
#include "lcore-t.h"

/**
 * Parse "echo[:PORT]", "discard[:PORT]", "smtp[:PORT[:SESSIONS]]" or "client:A.B.C.D:PORT:N[:PAR[:BYTES]]" into <out>.
 * @return 0, or -EINVAL. Any thread.
 */
int app_parse(const char *s, struct app_cfg *out);

/**
 * Start application <cfg> on the lcore owning <ctx> (listeners for echo/discard; the client
 * opens its connections from the loop). Main lcore before launch.
 * @return 0, or the negative errno tcp_listen() gave.
 */
int app_start(struct lcore_ctx *ctx, const struct app_cfg *cfg);

#endif /* NDG_DATAPLANE_APP_H */
