/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * LDAP / Active Directory directory sources. Each source runs its own sync thread (libldap:
 * bind, RFC 4533 refreshAndPersist or a paged RFC 2696 re-read) that parses the untrusted
 * replies with bounded sizes and no capabilities, keeps its last good state on disk beside the
 * snapshot, and publishes complete address sets; the main thread takes them (lsrc_take) and
 * unions them with the flat files (lsrc_union). A source that is down keeps contributing its
 * last good set. Unless a function says otherwise it is for the main thread only.
 */
#ifndef NDG_CONTROL_LSRC_H
#define NDG_CONTROL_LSRC_H

#include <stddef.h>
#include <stdio.h>
#include <time.h>

#include "dir.h"
#include "lsrc-t.h"

/**
 * Turn one attribute value (<len> bytes, not NUL-terminated, untrusted) into a normalised
 * address in <out> (size DIR_ADDR_MAX + 1). LSRC_ATTR_SMTP values must carry the "smtp:"
 * type prefix, in any case (AD: "SMTP:" primary, "smtp:" secondary); X500:, X400:, SIP: and
 * other types are not addresses. Values longer than LSRC_VALUE_MAX or holding NUL or control
 * characters are refused. Any thread; no allocation.
 * @return 1 with the address in <out>; 0 when the value is of another type (skipped quietly);
 *   -EINVAL with a reason in <why> (static string).
 */
int lsrc_attr_value(enum lsrc_attr_kind kind, const char *val, size_t len, char *out,
	const char **why);

/**
 * Parse an attribute spec "name" or "name:smtp" (typed values); "proxyAddresses" is typed
 * whatever the suffix. @return 0 or -EINVAL (bad name, too long, unknown suffix).
 */
int lsrc_attr_parse(const char *spec, struct lsrc_attr *out);

/** A source with every default, named <name> (checked: 1-32 of [a-z0-9_-]). NULL on error
 * with the reason in <why>. */
struct lsrc_conf *lsrc_conf_new(const char *name, int line, const char **why);

/**
 * Apply one "KEY ARGS..." line of a `directory ldap` block. Errors are written to <err>.
 * @return 0 or -EINVAL.
 */
int lsrc_conf_item(struct lsrc_conf *c, const char *key, char *const *args, int nargs, char *err,
	size_t errsize);

/**
 * Whole-block checks (uri and base given, a simple bind has a DN and a password file that
 * only its owner can read). @return 0 or -EINVAL with the reason in <err>.
 */
int lsrc_conf_check(const struct lsrc_conf *c, char *err, size_t errsize);

/** The filter in force: the configured one or the flavour's default. */
const char *lsrc_conf_filter(const struct lsrc_conf *c);

/** The attributes in force (configured or the flavour's defaults). @return their number. */
unsigned int lsrc_conf_attrs(const struct lsrc_conf *c, const struct lsrc_attr **out);

const char *lsrc_flavour_name(enum lsrc_flavour f);
const char *lsrc_mode_name(enum lsrc_mode m);
const char *lsrc_bind_name(enum lsrc_bind b);

/**
 * Make the running sources match <list>: sources whose configuration is unchanged keep
 * running, others are stopped, new ones start from their on-disk state
 * (<snapshot_path>.ldap.NAME) so they contribute at once. The threads write to <notify_fd>
 * (an eventfd) when they publish. @return 0 or -errno (a source that cannot start is logged
 * and skipped).
 */
int lsrc_apply(const struct lsrc_conf_list *list, const char *snapshot_path, int notify_fd);

/** Stop every source thread and free everything. */
void lsrc_stop_all(void);

/** Take the sets the threads published since the last call. @return true when any changed. */
bool lsrc_take(void);

/** Add the last good addresses of every source to <s> (unfinished). @return 0 or -ENOMEM. */
int lsrc_union(struct dir_set *s);

/**
 * The oldest "last good" time among the sources (a live persist session counts as now),
 * 0 when there are no sources; a source that never had data counts as 1 (stale).
 */
time_t lsrc_oldest_good(void);

/** Number of configured sources. */
size_t lsrc_count(void);

/** One "ldap NAME: ..." line per source for ndrctl status. @return the number of sources
 * that are down (no connection or last error set). */
int lsrc_status(FILE *out);

/** ndrguard_directory_source_* gauges and counters, labelled by source name. */
void lsrc_metrics(FILE *out);

#endif /* NDG_CONTROL_LSRC_H */
