/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The administrator's views of ndrguard-control: the decision stream (recent records,
 * `ndrctl log tail [--follow]` followers, the journal or stderr), offending sources for
 * `ndrctl top`, runtime rule modes (`ndrctl rule`) and expiring blocks (`ndrctl block add
 * --ttl`). Main thread only.
 */
#ifndef NDG_CONTROL_OBS_H
#define NDG_CONTROL_OBS_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>

#include "ctl_proto-t.h"

struct ctld;

/**
 * Create the state and apply what ndrctl set before a restart (rule modes, block expiries,
 * read from files beside the snapshot) to the configuration in force. Call after the
 * configuration and the runtime blocks are loaded. @return 0 or -ENOMEM.
 */
int obs_init(struct ctld *d);

/** Free everything obs_init() made and drop the followers. */
void obs_fini(struct ctld *d);

/** A configuration was (re)loaded: re-apply the runtime rule modes over it. */
void obs_conf_loaded(struct ctld *d);

/**
 * One decision record, already formatted as a JSON line <json> (no newline): keep it for
 * `log tail`, send it to the followers, the journal (under systemd) or stderr, and count
 * the client's rejects.
 */
void obs_record(struct ctld *d, const struct ctl_log_rec *r, const char *json);

/**
 * Run the commands of this module (rule, log, sources). <fd> is the ndrctl connection:
 * `log tail --follow` keeps it (then *<keep_fd> is set) once the reply is sent.
 * @return the exit status, or -1 when <argv> is not one of them.
 */
int obs_command(struct ctld *d, int fd, int argc, char **argv, FILE *out, bool *keep_fd);

/** Register the connection kept by obs_command() once its first reply went out. */
void obs_follow_start(struct ctld *d, int fd);

/**
 * `block add NET [--ttl T] [--reason TEXT]` options in argv[0..argc): remember them for <net>
 * (an "A.B.C.D/LEN" already in the runtime blocklist). @return 0, or 2 on bad options
 * (explained on <out>).
 */
int obs_block_options(struct ctld *d, const char *net, int argc, char **argv, FILE *out);

/** Seconds left of <net>'s --ttl at <now> (at least 1), 0 for a block without one. */
uint32_t obs_block_ttl(const struct ctld *d, const char *net, time_t now);

/** Forget what obs_block_options() remembered for <net>. */
void obs_block_forget(struct ctld *d, const char *net);

/** Describe <net>'s expiry and reason (", expires in 4m59s, reason: ..."), "" when none. */
void obs_block_describe(const struct ctld *d, const char *net, time_t now, char *buf, size_t size);

/** Lift the blocks whose time is up (and push the change). Call about once a second. */
void obs_tick(struct ctld *d, time_t now);

#endif /* NDG_CONTROL_OBS_H */
