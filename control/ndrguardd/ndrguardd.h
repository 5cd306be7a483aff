/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * ndrguard-control's state and the functions its modules share. Single-threaded: everything
 * runs from the main loop in main.c.
 */
#ifndef NDG_CONTROL_NDRGUARDD_H
#define NDG_CONTROL_NDRGUARDD_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>

#include "config.h"
#include "dir.h"

struct ctld {
	const char *conf_path;
	const char *control_socket; /* -s overrides the configuration */
	struct ndg_conf *conf;
	time_t conf_loaded;
	uint64_t conf_gen; /* digest of the CONFIG payload */

	struct dir_set dir;	  /* in force: sources + local adds - local dels */
	struct dir_set local_add; /* `ndrctl dir add`, persisted beside the snapshot */
	struct dir_set local_del; /* `ndrctl dir del` */
	struct dir_set
		blocks;	   /* `ndrctl block add`: "A.B.C.D/LEN", persisted beside the snapshot */
	time_t dir_synced; /* last successful sync */
	size_t dir_bad_lines;
	char dir_error[256]; /* last sync failure, "" when the last sync worked */
	struct dir_set held; /* a sync that would shrink past the guard, awaiting dir accept */
	bool held_valid;
	bool stale;    /* what the dataplane was last told (guard alarm) */
	bool dp_stale; /* what the dataplane reported or was told */
	time_t dir_next_sync;

	int listen_fd;
	int sig_fd;
	int dp_fd;     /* -1: not connected */
	int dp_log_fd; /* LOG subscription, -1: none */
	FILE *dlog;    /* the decision log file, NULL: not open */
	uint64_t dlog_records;
	uint64_t xdp_unverified; /* verdicts kept from XDP: client acknowledged no data of ours */
	uint32_t dp_seq;
	uint32_t dp_pid;
	uint64_t dp_config_gen;
	uint64_t dp_dir_gen;
	uint64_t dp_dir_count;
	time_t dp_next_try;
	time_t started;

	struct ctld_obs *obs; /* obs.c: decision stream, rule modes, block expiry */
	bool cmd_keep_fd;     /* the command being served keeps its connection (log --follow) */
};

/** Read every directory source, apply the local overlay, and push it when it changed.
 * A result that removes more than max-shrink of the addresses is held unless <force>.
 * Problems are written to <report> (may be NULL).
 * @return 0; -EAGAIN when the result is held; or a negative errno. */
int ctld_dir_sync_force(struct ctld *d, FILE *report, bool force);
int ctld_dir_sync(struct ctld *d, FILE *report);

/** Integrity guard: is the directory in force stale (no good sync within max-age) or is a
 * shrink held? Then unknown recipients get 450 4.1.1. Main thread. */
bool ctld_dir_guard_alarm(const struct ctld *d, time_t now);

/** Bring the dataplane in line with the configuration and directory in force.
 * @return 0, or a negative errno (the link is then closed and retried later). */
int ctld_dp_sync(struct ctld *d);

/** Ask the dataplane for its counters as "name value" lines into <buf>.
 * @return the length, or a negative errno (-ENOTCONN when not connected). */
int ctld_dp_stats(struct ctld *d, char *buf, size_t size);

/** Subscribe to the dataplane's decision records on a second connection. @return 0 or -errno. */
int ctld_dp_log_open(struct ctld *d);

/** Read one LOG frame and append its records to the decision log. @return 0 or -errno. */
int ctld_dp_log_read(struct ctld *d);

/** Close the dataplane link; it is retried from the main loop. */
void ctld_dp_close(struct ctld *d);

/** Re-read the configuration; on errors keep the old one. @return 0 or -EINVAL. */
int ctld_reload(struct ctld *d, FILE *report);

/** Run one ndrctl command (argv) and write its answer to <out>. @return the exit status. */
int ctld_command(struct ctld *d, int argc, char **argv, FILE *out);

/** Digest of the CONFIG payload the configuration and runtime blocks make (0 on ENOMEM). */
uint64_t ctld_config_digest(const struct ctld *d);

/** Persist the runtime blocklist beside the snapshot. @return 0 or -errno. */
int ctld_blocks_write(const struct ctld *d);

/** Persist the local overlay (adds and deletes) beside the snapshot. @return 0 or -errno. */
int ctld_overlay_write(const struct ctld *d);

#endif /* NDG_CONTROL_NDRGUARDD_H */
