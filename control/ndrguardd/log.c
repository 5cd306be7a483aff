/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Control-daemon logging: one line per message on stderr. Under a service manager with a
 * journal socket, one journal entry per message with structured fields (PRIORITY,
 * SYSLOG_IDENTIFIER, NDRGUARD_COMPONENT, ERRNO), so `journalctl NDRGUARD_COMPONENT=control
 * PRIORITY=4` finds the warnings; with JOURNAL_STREAM but no socket, stderr lines carry an
 * sd-daemon "<N>" priority. Called from the daemon's main thread only.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include <systemd/sd-journal.h>

#include "log.h"

static const char *log_prog = "ndrguard-control";
static int log_verbose;
static int log_journal; /* 1: "<N>" prefixes on stderr, 2: sd_journal_send() */

void
log_init(const char *progname, int verbose)
{
	log_prog = progname;
	log_verbose = verbose;
	log_journal = getenv("JOURNAL_STREAM") != NULL;
	/* sd_journal_send() succeeds with nobody listening: trust a service manager's word
	 * plus a journal socket that is there (as obs.c does for the decision stream). */
	if ((log_journal || getenv("INVOCATION_ID") != NULL) &&
		access("/run/systemd/journal/socket", W_OK) == 0)
		log_journal = 2;
}

static void
log_vline(int pri, const char *fmt, va_list ap, const char *suffix)
{
	char buf[1024];
	int saved = errno;

	vsnprintf(buf, sizeof(buf), fmt, ap);
	if (log_journal == 2) {
		if (suffix != NULL && saved != 0)
			(void) sd_journal_send("MESSAGE=%s: %s", buf, suffix, "PRIORITY=%d", pri,
				"SYSLOG_IDENTIFIER=%s", log_prog, "NDRGUARD_COMPONENT=control",
				"ERRNO=%d", saved, NULL);
		else
			(void) sd_journal_send("MESSAGE=%s%s%s", buf, suffix ? ": " : "",
				suffix ? suffix : "", "PRIORITY=%d", pri, "SYSLOG_IDENTIFIER=%s",
				log_prog, "NDRGUARD_COMPONENT=control", NULL);
	} else if (log_journal)
		fprintf(stderr, "<%d>%s%s%s\n", pri, buf, suffix ? ": " : "", suffix ? suffix : "");
	else
		fprintf(stderr, "%s: %s%s%s\n", log_prog, buf, suffix ? ": " : "",
			suffix ? suffix : "");
}

void
log_warn(const char *fmt, ...)
{
	int saved = errno;
	va_list ap;

	va_start(ap, fmt);
	log_vline(LOG_WARNING, fmt, ap, strerror(saved));
	va_end(ap);
	errno = saved;
}

void
log_warnx(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vline(LOG_WARNING, fmt, ap, NULL);
	va_end(ap);
}

void
log_info(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vline(LOG_INFO, fmt, ap, NULL);
	va_end(ap);
}

void
log_debug(const char *fmt, ...)
{
	va_list ap;

	if (!log_verbose)
		return;
	va_start(ap, fmt);
	log_vline(LOG_DEBUG, fmt, ap, NULL);
	va_end(ap);
}

void
fatal(const char *fmt, ...)
{
	int saved = errno;
	va_list ap;

	va_start(ap, fmt);
	log_vline(LOG_CRIT, fmt, ap, strerror(saved));
	va_end(ap);
	exit(1);
}

void
fatalx(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vline(LOG_CRIT, fmt, ap, NULL);
	va_end(ap);
	exit(1);
}

int
log_error_errno(int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vline(LOG_WARNING, fmt, ap, strerror(err < 0 ? -err : err));
	va_end(ap);
	return err;
}
