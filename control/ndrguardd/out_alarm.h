/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Alarms of the outbound path: a sender address or a source host over its rate is the
 * signature of a compromised account or an infected machine. Main thread only.
 */
#ifndef NDG_CONTROL_OUT_ALARM_H
#define NDG_CONTROL_OUT_ALARM_H

#include <stdint.h>
#include <time.h>

#include "ctl_proto-t.h"

#define OUT_ALARM_QUIET_S 60 /* one log line per account or host and minute */

/**
 * Look at decision record <r> at <now>: an outbound rate refusal (or observation) logs a
 * warning naming the account or the host, at most once per OUT_ALARM_QUIET_S for each.
 * @return 1 when it raised an alarm (logged), 0 otherwise.
 */
int out_alarm_record(const struct ctl_log_rec *r, time_t now);

/** Alarms raised since start (logged or suppressed as repeats). */
uint64_t out_alarm_count(void);

#endif /* NDG_CONTROL_OUT_ALARM_H */
