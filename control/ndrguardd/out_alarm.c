/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Outbound alarms (DESIGN.md §4 "Outbound"): the decision records of the out_sender_rate and
 * out_host_rate rules become one warning per account or host and minute in the daemon's log,
 * naming it; repeats within the minute are only counted. Main thread only.
 */
#include <arpa/inet.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "log.h"
#include "out_alarm.h"

#define OUT_ALARM_SLOTS 256 /* recent keys remembered; the oldest is reused */

struct out_alarm_slot {
	char key[CTL_LOG_ADDR_MAX + 2]; /* "s:<sender>" or "h:<ip>" */
	time_t last;
};

static struct out_alarm_slot out_alarm_slots[OUT_ALARM_SLOTS];
static uint64_t out_alarms;

uint64_t
out_alarm_count(void)
{
	return out_alarms;
}

/* @return true when <key> alarmed less than OUT_ALARM_QUIET_S ago (and remember it now). */
static bool
out_alarm_quiet(const char *key, time_t now)
{
	struct out_alarm_slot *oldest = &out_alarm_slots[0];

	for (unsigned int i = 0; i < OUT_ALARM_SLOTS; i++) {
		struct out_alarm_slot *s = &out_alarm_slots[i];

		if (strcmp(s->key, key) == 0) {
			if (now - s->last < OUT_ALARM_QUIET_S)
				return true;
			s->last = now;
			return false;
		}
		if (s->last < oldest->last)
			oldest = s;
	}
	snprintf(oldest->key, sizeof(oldest->key), "%s", key);
	oldest->last = now;
	return false;
}

int
out_alarm_record(const struct ctl_log_rec *r, time_t now)
{
	char sender[CTL_LOG_ADDR_MAX], ip[INET_ADDRSTRLEN], key[CTL_LOG_ADDR_MAX + 2];
	struct in_addr a = {.s_addr = r->client_ip};
	bool host;

	if (r->outcome == 0)
		return 0;
	if (strncmp(r->rule, "out_sender_rate", sizeof(r->rule)) == 0)
		host = false;
	else if (strncmp(r->rule, "out_host_rate", sizeof(r->rule)) == 0)
		host = true;
	else
		return 0;
	out_alarms++;
	memcpy(sender, r->sender, sizeof(sender));
	sender[sizeof(sender) - 1] = '\0';
	inet_ntop(AF_INET, &a, ip, sizeof(ip));
	snprintf(key, sizeof(key), "%c:%s", host ? 'h' : 's', host ? ip : sender);
	if (out_alarm_quiet(key, now))
		return 0;
	if (host)
		log_warnx("alarm: outbound host %s over its sending rate (%s; sender <%s>): an "
			  "infected machine?",
			ip, r->outcome == 1 ? "refused 451 4.7.1" : "observed", sender);
	else
		log_warnx("alarm: outbound account <%s> over its sending rate (%s; from %s): a "
			  "compromised account?",
			sender, r->outcome == 1 ? "refused 451 4.7.1" : "observed", ip);
	return 1;
}
