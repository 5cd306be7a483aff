/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * ndrctl status, the systemd part: the state of the appliance's units as systemd sees them,
 * read with `systemctl show`, so a dataplane that systemd restarted or a control daemon that
 * failed shows up next to what the daemon itself reports. Called from ndrctl's main thread.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "units.h"

static const char *const ndrctl_units[] = {
	"ndrguard-dataplane.service",
	"ndrguard-control.service",
	"ndrguard-hugepages.service",
};

/* One `KEY=VALUE` line of systemctl's output into <val> (size <n>); "" when absent. */
static void
ndrctl_units_field(const char *out, const char *key, char *val, size_t n)
{
	size_t kl = strlen(key);
	const char *p = out;

	val[0] = '\0';
	while (p != NULL && *p != '\0') {
		if (strncmp(p, key, kl) == 0 && p[kl] == '=') {
			size_t l = strcspn(p + kl + 1, "\n");

			if (l >= n)
				l = n - 1;
			memcpy(val, p + kl + 1, l);
			val[l] = '\0';
			return;
		}
		p = strchr(p, '\n');
		if (p != NULL)
			p++;
	}
}

void
ndrctl_units_print(FILE *f)
{
	const char *rundir = getenv("NDRCTL_SYSTEMD_RUNDIR");
	const char *systemctl = getenv("NDRCTL_SYSTEMCTL");

	if (rundir == NULL)
		rundir = "/run/systemd/system";
	if (systemctl == NULL)
		systemctl = "systemctl";
	if (access(rundir, F_OK) != 0) {
		fprintf(f, "units: systemd is not running here (daemons started by hand)\n");
		return;
	}
	for (size_t i = 0; i < sizeof(ndrctl_units) / sizeof(ndrctl_units[0]); i++) {
		char cmd[512], out[2048], active[32], sub[32], since[64], restarts[16], result[32];
		size_t len = 0, r;
		FILE *p;

		/* Fixed unit names and a program path from the environment of the admin's own
		 * shell: nothing here comes from the network. */
		snprintf(cmd, sizeof(cmd),
			"'%s' show --property=ActiveState,SubState,Result,NRestarts,"
			"ActiveEnterTimestamp '%s' 2>/dev/null",
			systemctl, ndrctl_units[i]);
		p = popen(cmd, "r");
		if (p == NULL) {
			fprintf(f, "unit %s: cannot run %s\n", ndrctl_units[i], systemctl);
			continue;
		}
		while (len < sizeof(out) - 1 &&
			(r = fread(out + len, 1, sizeof(out) - 1 - len, p)) > 0)
			len += r;
		out[len] = '\0';
		pclose(p);
		ndrctl_units_field(out, "ActiveState", active, sizeof(active));
		ndrctl_units_field(out, "SubState", sub, sizeof(sub));
		ndrctl_units_field(out, "Result", result, sizeof(result));
		ndrctl_units_field(out, "NRestarts", restarts, sizeof(restarts));
		ndrctl_units_field(out, "ActiveEnterTimestamp", since, sizeof(since));
		if (active[0] == '\0') {
			fprintf(f, "unit %-28s unknown to systemd\n", ndrctl_units[i]);
			continue;
		}
		fprintf(f, "unit %-28s %s (%s)", ndrctl_units[i], active, sub);
		if (since[0] != '\0' && strcmp(active, "active") == 0)
			fprintf(f, " since %s", since);
		if (result[0] != '\0' && strcmp(result, "success") != 0)
			fprintf(f, ", last result %s", result);
		if (restarts[0] != '\0' && strcmp(restarts, "0") != 0)
			fprintf(f, ", restarted %s times", restarts);
		fputc('\n', f);
	}
}
