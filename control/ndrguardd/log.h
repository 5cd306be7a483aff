/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Logging for the control daemon (OpenSMTPD log.h style): printf-checked, to stderr, with
 * sd-daemon priority prefixes when stderr is the journal. Any thread.
 */
#ifndef NDG_CONTROL_LOG_H
#define NDG_CONTROL_LOG_H

#include <stdarg.h>

/** Set verbosity (0 info, 1 debug) and the program name printed when not under journald. */
void log_init(const char *progname, int verbose);

void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));  /* appends %m */
void log_warnx(const char *fmt, ...) __attribute__((format(printf, 1, 2))); /* no errno */
void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void fatal(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
void fatalx(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

/**
 * Log "<fmt>: <strerror(-err)>" at warning level and return <err> (a negative errno), so a
 * caller that decides can `return log_error_errno(r, "binding %s", path);`.
 */
int log_error_errno(int err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif /* NDG_CONTROL_LOG_H */
