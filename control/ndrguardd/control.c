/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * ndrctl's commands as the daemon answers them. Each returns the exit status ndrctl uses:
 * 0 ok, 1 a negative answer or a failure, 2 usage. Main thread only.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <arpa/inet.h>
#include <unistd.h>

#include "log.h"
#include "ndrguardd.h"
#include "obs.h"
#include "xdp.h"

#define CMD_STATS_MAX (256 * 1024)

static void
cmd_time(time_t t, char *buf, size_t size)
{
	struct tm tm;

	if (t == 0 || gmtime_r(&t, &tm) == NULL)
		snprintf(buf, size, "never");
	else
		strftime(buf, size, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static int
cmd_status(struct ctld *d, FILE *out)
{
	char t1[32], t2[32];

	cmd_time(d->conf_loaded, t1, sizeof(t1));
	cmd_time(d->dir_synced, t2, sizeof(t2));
	fprintf(out, "control:    running, pid %ld, configuration %s (loaded %s)\n",
		(long) getpid(), d->conf->path, t1);
	if (d->dp_fd >= 0)
		fprintf(out,
			"dataplane:  connected, pid %u, configuration %s, directory %s (%" PRIu64
			" addresses)\n",
			d->dp_pid, d->dp_config_gen == d->conf_gen ? "in sync" : "NOT in sync",
			d->dp_dir_gen == d->dir.gen ? "in sync" : "NOT in sync", d->dp_dir_count);
	else
		fprintf(out, "dataplane:  not connected (%s)\n", d->conf->dataplane_socket);
	fprintf(out,
		"directory:  %zu addresses, digest %016" PRIx64
		", last sync %s, %zu bad lines%s%s\n",
		d->dir.n, d->dir.gen, t2, d->dir_bad_lines,
		d->dir_error[0] ? ", LAST SYNC FAILED: " : "", d->dir_error);
	fprintf(out, "local:      %zu added, %zu deleted by ndrctl\n", d->local_add.n,
		d->local_del.n);
	if (d->dp_fd >= 0) {
		char buf[8192];
		const char *lp;
		unsigned long port;

		/* The listener moves only with a dataplane restart: say so when they differ. */
		if (ctld_dp_stats(d, buf, sizeof(buf)) > 0 &&
			(lp = strstr(buf, "smtp_listen_port ")) != NULL &&
			(port = strtoul(lp + 17, NULL, 10)) != 0 && port != d->conf->smtp_port)
			fprintf(out,
				"listener:   WARNING: the dataplane listens on port %lu, the "
				"configuration says %u: restart the dataplane (--app smtp:%u)\n",
				port, d->conf->smtp_port, d->conf->smtp_port);
	}
	if (d->held_valid)
		fprintf(out,
			"guard:      ALARM: a sync would shrink the directory to %zu addresses; "
			"held (unknown recipients get 450 4.1.1) until 'ndrctl dir accept'\n",
			d->held.n);
	else if (ctld_dir_guard_alarm(d, time(NULL)))
		fprintf(out,
			"guard:      ALARM: no good sync for longer than %u s: stale "
			"(unknown recipients get 450 4.1.1)\n",
			d->conf->dir_max_age_ms / 1000);
	else
		fprintf(out, "guard:      ok\n");
	fprintf(out, "decisions:  %s, %" PRIu64 " records written to %s\n",
		d->dp_log_fd >= 0 ? "subscribed" : "NOT subscribed", d->dlog_records,
		d->conf->decision_log);
	return d->dp_fd >= 0 && d->dir_error[0] == '\0' ? 0 : 1;
}

static int
cmd_domains(struct ctld *d, FILE *out)
{
	const struct conf_domain *dom;

	TAILQ_FOREACH (dom, &d->conf->domains, entry) {
		fprintf(out, "%s", dom->name);
		for (unsigned int i = 0; i < dom->n_backends; i++) {
			char ip[INET_ADDRSTRLEN];
			struct in_addr a = {.s_addr = dom->backends[i].ip};

			inet_ntop(AF_INET, &a, ip, sizeof(ip));
			fprintf(out, "%s%s:%u", i ? ", " : "  backends ", ip,
				dom->backends[i].port);
		}
		fprintf(out, "%s\n", dom->batv == CONF_BATV_REQUIRE ? "  batv require" : "");
	}
	return 0;
}

static bool
cmd_domain_ok(const char *domain, void *arg)
{
	return conf_domain_find(arg, domain) != NULL;
}

static int
cmd_lookup(struct ctld *d, const char *addr, FILE *out)
{
	char norm[DIR_ADDR_MAX + 1], matched[DIR_ADDR_MAX + 1];
	enum dir_match m = dir_lookup(&d->dir, addr, cmd_domain_ok, d->conf, norm, matched);

	switch (m) {
	case DIR_MATCH_EXACT:
	case DIR_MATCH_CATCHALL:
	case DIR_MATCH_POSTMASTER:
		fprintf(out, "%s: accepted (%s: %s)\n", norm, dir_match_name(m), matched);
		return 0;
	case DIR_MATCH_BAD_SYNTAX:
		fprintf(out, "%s: rejected, bad syntax (%s): 501 5.1.3\n", addr, norm);
		return 1;
	case DIR_MATCH_DOMAIN_UNKNOWN:
		fprintf(out, "%s: rejected, domain not accepted: 554 5.7.1 Relay access denied\n",
			norm);
		return 1;
	default:
		fprintf(out, "%s: rejected, not in the directory: 550 5.1.1 User unknown\n", norm);
		return 1;
	}
}

static int
cmd_dir_change(struct ctld *d, bool add, const char *addr, FILE *out)
{
	char norm[DIR_ADDR_MAX + 1];
	const char *why;
	struct dir_set *to = add ? &d->local_add : &d->local_del;
	struct dir_set *from = add ? &d->local_del : &d->local_add;
	int ret;

	if (dir_addr_normalize(addr, false, norm, &why) != 0) {
		fprintf(out, "%s: %s\n", addr, why);
		return 1;
	}
	(void) dir_set_del(from, norm);
	if (!dir_set_has(to, norm)) {
		if (dir_set_add(to, norm) != 0) {
			fprintf(out, "out of memory\n");
			return 1;
		}
		dir_set_finish(to);
	}
	ret = ctld_overlay_write(d);
	if (ret != 0)
		fprintf(out, "warning: the change is not saved: %s\n", strerror(-ret));
	/* An admin's own change is never held by the guard. */
	ret = ctld_dir_sync_force(d, out, true);
	if (ret != 0) {
		fprintf(out, "%s: not applied: %s\n", norm, strerror(-ret));
		return 1;
	}
	fprintf(out, "%s: %s (%zu addresses in force)\n", norm, add ? "added" : "deleted",
		d->dir.n);
	return 0;
}

static int
cmd_stats(struct ctld *d, bool json, FILE *out)
{
	char *buf = malloc(CMD_STATS_MAX);
	int n, first = 1;
	char *line, *save = NULL;

	if (buf == NULL)
		return 1;
	n = ctld_dp_stats(d, buf, CMD_STATS_MAX);
	if (n < 0) {
		fprintf(out, "dataplane unreachable: %s\n", strerror(-n));
		free(buf);
		return 1;
	}
	if (json)
		fprintf(out, "{\"directory_addresses\":%zu", d->dir.n);
	else
		fprintf(out, "%-32s %zu\n", "directory_addresses", d->dir.n);
	if (json)
		first = 0;
	for (line = strtok_r(buf, "\n", &save); line != NULL; line = strtok_r(NULL, "\n", &save)) {
		char *sp = strchr(line, ' ');

		if (sp == NULL)
			continue;
		*sp = '\0';
		if (json)
			fprintf(out, "%s\"%s\":%s", first ? "" : ",", line, sp + 1);
		else
			fprintf(out, "%-32s %s\n", line, sp + 1);
		first = 0;
	}
	if (json)
		fputs("}\n", out);
	free(buf);
	return 0;
}

/* The XDP side of 'ndrctl block add|del' for <net>: the trie, when XDP is in force, with the
 * block's remaining --ttl (0: until lifted). */
static void
cmd_block_xdp(struct ctld *d, bool add, const char *net, FILE *out)
{
	int ret;

	if (!xdp_active())
		return;
	ret = add ? xdp_block_add(net, obs_block_ttl(d, net, time(NULL)), XDPG_REASON_ADMIN)
		  : xdp_block_del(net);
	if (ret == 0)
		fprintf(out, "%s: %s at XDP\n", net, add ? "dropped" : "no longer dropped");
	else if (ret != -ENOENT)
		fprintf(out, "%s: XDP not updated: %s\n", net, strerror(-ret));
}

/* Runtime blocklist: pushed with the configuration, kept beside the snapshot. */
static int
cmd_block(struct ctld *d, int argc, char **argv, FILE *out)
{
	char net[32];
	uint32_t ip;
	uint8_t plen;
	int ret;

	if (argc == 2 && strcmp(argv[1], "list") == 0) {
		const struct conf_net *n;

		TAILQ_FOREACH (n, &d->conf->blocked, entry) {
			char a[INET_ADDRSTRLEN];
			struct in_addr in = {.s_addr = n->ip};

			inet_ntop(AF_INET, &in, a, sizeof(a));
			fprintf(out, "%s/%u  configuration\n", a, n->plen);
		}
		for (size_t i = 0; i < d->blocks.n; i++) {
			char more[256];

			obs_block_describe(d, d->blocks.v[i], time(NULL), more, sizeof(more));
			fprintf(out, "%s  ndrctl%s\n", d->blocks.v[i], more);
		}
		xdp_block_list(out);
		return 0;
	}
	if (argc < 3 || (strcmp(argv[1], "add") != 0 && strcmp(argv[1], "del") != 0) ||
		(argc > 3 && strcmp(argv[1], "add") != 0))
		return -1;
	if (conf_parse_net(argv[2], &ip, &plen) != 0 && xdp_active() && strchr(argv[2], ':')) {
		/* IPv6: the dataplane speaks IPv4 only, the XDP trie takes both. */
		uint8_t a6[16];
		unsigned int l6;

		if (conf_parse_net6(argv[2], a6, &l6) != 0) {
			fprintf(out, "%s: not an IPv6 prefix with the host bits zero\n", argv[2]);
			return 1;
		}
		cmd_block_xdp(d, argv[1][0] == 'a', argv[2], out);
		return 0;
	}
	if (conf_parse_net(argv[2], &ip, &plen) != 0) {
		fprintf(out, "%s: not A.B.C.D[/LEN] with the host bits zero\n", argv[2]);
		return 1;
	}
	{
		char a[INET_ADDRSTRLEN];
		struct in_addr in = {.s_addr = ip};

		inet_ntop(AF_INET, &in, a, sizeof(a));
		snprintf(net, sizeof(net), "%s/%u", a, plen);
	}
	if (strcmp(argv[1], "add") == 0) {
		bool had = dir_set_has(&d->blocks, net);

		if (!had && dir_set_add(&d->blocks, net) != 0)
			return 1;
		dir_set_finish(&d->blocks);
		/* --ttl and --reason: a block added again takes the new ones. */
		ret = obs_block_options(d, net, argc - 3, argv + 3, out);
		if (ret != 0) {
			if (!had)
				(void) dir_set_del(&d->blocks, net);
			return ret;
		}
		if (had) {
			char more[256];

			obs_block_describe(d, net, time(NULL), more, sizeof(more));
			fprintf(out, "%s: already blocked%s\n", net, more);
			return 0;
		}
	} else if (!dir_set_del(&d->blocks, net)) {
		fprintf(out, "%s: not blocked by ndrctl\n", net);
		return 1;
	} else {
		obs_block_forget(d, net);
	}
	cmd_block_xdp(d, argv[1][0] == 'a', net, out);
	ret = ctld_blocks_write(d);
	if (ret != 0)
		fprintf(out, "warning: not saved: %s\n", strerror(-ret));
	d->conf_gen = ctld_config_digest(d);
	if (d->dp_fd >= 0)
		(void) ctld_dp_sync(d);
	{
		char more[256];

		obs_block_describe(d, net, time(NULL), more, sizeof(more));
		fprintf(out, "%s: %s%s%s\n", net, argv[1][0] == 'a' ? "blocked" : "unblocked", more,
			d->dp_fd >= 0 && d->dp_config_gen == d->conf_gen
				? ""
				: " (dataplane not in sync yet)");
	}
	return 0;
}

int
ctld_command(struct ctld *d, int argc, char **argv, FILE *out)
{
	if (argc == 1 && strcmp(argv[0], "status") == 0)
		return cmd_status(d, out);
	if (argc >= 1 && strcmp(argv[0], "stats") == 0) {
		bool json =
			argc == 2 && (strcmp(argv[1], "--json") == 0 || strcmp(argv[1], "-j") == 0);

		if (argc > 2 || (argc == 2 && !json))
			goto usage;
		return cmd_stats(d, json, out);
	}
	if (argc == 1 && strcmp(argv[0], "domains") == 0)
		return cmd_domains(d, out);
	if (argc == 1 && strcmp(argv[0], "xdp") == 0) {
		if (!xdp_active()) {
			fprintf(out, "xdp: not in force (see 'xdp enable' in ndrguard.conf(5))\n");
			return 1;
		}
		xdp_stats_print(out);
		return 0;
	}
	if (argc == 1 && strcmp(argv[0], "reload") == 0) {
		if (ctld_reload(d, out) != 0) {
			fprintf(out, "reload failed: the previous configuration stays in force\n");
			return 1;
		}
		fprintf(out, "reloaded %s\n", d->conf->path);
		return 0;
	}
	if (argc >= 2 && strcmp(argv[0], "block") == 0) {
		int ret = cmd_block(d, argc, argv, out);

		if (ret >= 0)
			return ret;
	}
	if (argc >= 2 && strcmp(argv[0], "dir") == 0) {
		if (argc == 3 && strcmp(argv[1], "lookup") == 0)
			return cmd_lookup(d, argv[2], out);
		if (argc == 3 && strcmp(argv[1], "add") == 0)
			return cmd_dir_change(d, true, argv[2], out);
		if (argc == 3 && strcmp(argv[1], "del") == 0)
			return cmd_dir_change(d, false, argv[2], out);
		if (argc == 2 && strcmp(argv[1], "accept") == 0) {
			int ret = ctld_dir_sync_force(d, out, true);

			fprintf(out, "%s: %zu addresses in force\n",
				ret == 0 ? "accepted" : "accept FAILED", d->dir.n);
			if (ret == 0 && d->dp_fd >= 0)
				(void) ctld_dp_sync(d);
			return ret == 0 ? 0 : 1;
		}
		if (argc == 2 && strcmp(argv[1], "sync") == 0) {
			int ret = ctld_dir_sync(d, out);

			fprintf(out, "%s: %zu addresses, %zu bad lines\n",
				ret == 0 ? "synced" : "sync FAILED, previous directory kept",
				d->dir.n, d->dir_bad_lines);
			return ret == 0 ? 0 : 1;
		}
	}
usage:
	fprintf(out, "unknown command; see ndrctl --help\n");
	return 2;
}
