/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * ndrctl: the administrator's command line to ndrguard-control. Verb-first subcommands; exit
 * 0 ok, 1 negative answer or failure, 2 usage, 3 daemon unreachable (as postconf and the
 * HAProxy runtime API users expect).
 */
#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ctl_io.h"
#include "ndrctl.h"
#include "units.h"

#define NDRCTL_DEFAULT_SOCKET "/run/ndrguard/control.sock"
#define NDRCTL_REPLY_MAX      (512 * 1024)
#define NDRCTL_TIMEOUT_MS     30000

static const struct {
	const char *verb;
	const char *sub;
	int min_args, max_args; /* after verb (and sub) */
	const char *help;
} ndrctl_cmds[] = {
	{"status", NULL, 0, 0, "daemon, dataplane and directory state"},
	{"stats", NULL, 0, 0, "dataplane counters (table, or JSON with -j)"},
	{"domains", NULL, 0, 0, "accepted domains and their backends"},
	{"reload", NULL, 0, 0, "re-read the configuration and the directory"},
	{"dir", "lookup", 1, 1, "ADDR: would ADDR be accepted, and by which entry"},
	{"dir", "add", 1, 1, "ADDR: add ADDR (kept over later syncs)"},
	{"dir", "del", 1, 1, "ADDR: remove ADDR (kept over later syncs)"},
	{"dir", "sync", 0, 0, "re-read the directory sources now"},
	{"dir", "accept", 0, 0, "apply a sync the integrity guard held back"},
	{"block", "add", 1, 5, "NET [--ttl T] [--reason TEXT]: refuse clients in NET at connect"},
	{"block", "del", 1, 1, "NET: lift a block made with block add"},
	{"block", "list", 0, 0, "blocked networks, where each comes from, expiry and reason"},
	{"xdp", NULL, 0, 0, "the XDP program's counters (drops, steering, malformed)"},
	{"rule", "list", 0, 0, "every rule's mode (enforce/observe) and its counters"},
	{"rule", NULL, 2, 2, "RULE enforce|observe|default: switch a rule at run time"},
	{"log", "tail", 0, 5, "[-n N] [--rule R] [--follow]: the latest decision records"},
	{"sources", NULL, 0, 2, "[-n N]: client addresses with the most rejects"},
	{"top", NULL, 0, 2, "live view: connections, rejects by rule, delivered, sources"},
	{"relay-test", NULL, 1, 9, "HOST [--port N] [--domain D]: open-relay test of HOST"},
};

static void
usage(FILE *f)
{
	fprintf(f, "usage: ndrctl [-s SOCKET] [-j] COMMAND [ARGS]\n"
		   "  -s SOCKET  control socket (default " NDRCTL_DEFAULT_SOCKET ")\n"
		   "  -j, --json machine-readable output where offered\n"
		   "commands:\n");
	for (size_t i = 0; i < sizeof(ndrctl_cmds) / sizeof(ndrctl_cmds[0]); i++) {
		char name[32];

		snprintf(name, sizeof(name), "%s%s%s", ndrctl_cmds[i].verb,
			ndrctl_cmds[i].sub ? " " : "",
			ndrctl_cmds[i].sub ? ndrctl_cmds[i].sub : "");
		fprintf(f, "  %-12s %s\n", name, ndrctl_cmds[i].help);
	}
	fprintf(f, "exit status: 0 ok, 1 negative answer or failure, 2 usage, 3 daemon "
		   "unreachable\n");
}

static bool
ndrctl_known(int argc, char **argv)
{
	for (size_t i = 0; i < sizeof(ndrctl_cmds) / sizeof(ndrctl_cmds[0]); i++) {
		int skip = ndrctl_cmds[i].sub ? 2 : 1;

		if (strcmp(argv[0], ndrctl_cmds[i].verb) != 0)
			continue;
		if (ndrctl_cmds[i].sub && (argc < 2 || strcmp(argv[1], ndrctl_cmds[i].sub) != 0))
			continue;
		return argc - skip >= ndrctl_cmds[i].min_args &&
		       argc - skip <= ndrctl_cmds[i].max_args;
	}
	return false;
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"json", no_argument, NULL, 'j'},
		{"socket", required_argument, NULL, 's'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	const char *sock = getenv("NDRCTL_SOCKET");
	bool json = false, follow;
	int c, ret;

	if (sock == NULL)
		sock = NDRCTL_DEFAULT_SOCKET;
	while ((c = getopt_long(argc, argv, "+js:h", longopts, NULL)) != -1) {
		switch (c) {
		case 'j':
			json = true;
			break;
		case 's':
			sock = optarg;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	argc -= optind;
	argv += optind;
	/* Accept -j/--json after the command too: `ndrctl stats -j`. */
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "-j") == 0 || strcmp(argv[i], "--json") == 0) {
			json = true;
			memmove(&argv[i], &argv[i + 1], (size_t) (argc - i) * sizeof(*argv));
			argc--;
			i--;
		}
	}
	if (argc == 0 || !ndrctl_known(argc, argv)) {
		if (argc > 0)
			fprintf(stderr, "ndrctl: unknown command or wrong arguments: %s\n",
				argv[0]);
		usage(stderr);
		return 2;
	}

	if (strcmp(argv[0], "relay-test") == 0)
		return ndrctl_relay_test(argc, argv, json);
	if (strcmp(argv[0], "top") == 0)
		return ndrctl_top(sock, argc, argv);
	if (json && strcmp(argv[0], "stats") == 0) {
		/* -j travels as a trailing --json for the commands that take it. */
		static char jarg[] = "--json";
		char **v = calloc((size_t) argc + 1, sizeof(*v));

		if (v == NULL)
			return 1;
		memcpy(v, argv, (size_t) argc * sizeof(*v));
		v[argc] = jarg;
		ret = ndrctl_call(sock, argc + 1, v, stdout, false);
		free(v);
		return ret;
	}
	follow = strcmp(argv[0], "log") == 0;
	for (int i = 1; follow && i < argc; i++)
		if (strcmp(argv[i], "--follow") == 0 || strcmp(argv[i], "-f") == 0)
			goto call;
	follow = false;
call:
	ret = ndrctl_call(sock, argc, argv, stdout, follow);
	/* status: systemd's view of the units too, also (above all) when the daemon is down. */
	if (strcmp(argv[0], "status") == 0)
		ndrctl_units_print(stdout);
	return ret;
}

int
ndrctl_call(const char *sock, int argc, char **argv, FILE *out, bool follow)
{
	struct ctl_msg_hdr h;
	struct ctl_cmd_reply *head;
	char *req, *reply;
	size_t len = 0;
	ssize_t n;
	int fd, ret;

	/* Arguments NUL-separated. */
	req = calloc(1, 64 * 1024);
	reply = malloc(NDRCTL_REPLY_MAX + 1);
	if (req == NULL || reply == NULL) {
		free(req);
		free(reply);
		return 1;
	}
	for (int i = 0; i < argc; i++) {
		size_t l = strlen(argv[i]) + 1;

		if (len + l + 8 > 64 * 1024) {
			fprintf(stderr, "ndrctl: arguments too long\n");
			free(req);
			free(reply);
			return 2;
		}
		memcpy(req + len, argv[i], l);
		len += l;
	}

	fd = ctl_connect(sock);
	if (fd < 0) {
		fprintf(stderr, "ndrctl: cannot reach ndrguard-control at %s: %s\n", sock,
			strerror(-fd));
		free(req);
		free(reply);
		return 3;
	}
	ret = ctl_send(fd, CTL_MSG_CMD, 1, 0, req, len);
	free(req);
	n = ret == 0 ? ctl_recv(fd, &h, reply, NDRCTL_REPLY_MAX, NDRCTL_TIMEOUT_MS) : ret;
	if (n < (ssize_t) sizeof(*head) || h.type != CTL_MSG_CMD_REPLY) {
		close(fd);
		fprintf(stderr, "ndrctl: no answer from ndrguard-control at %s: %s\n", sock,
			n < 0 ? strerror((int) -n) : "malformed reply");
		free(reply);
		return 3;
	}
	head = (struct ctl_cmd_reply *) reply;
	fwrite(reply + sizeof(*head), 1, (size_t) n - sizeof(*head), out);
	ret = head->status;
	/* log tail --follow: records keep coming, one frame each, until the daemon goes. */
	while (follow && ret == 0) {
		fflush(out);
		n = ctl_recv(fd, &h, reply, NDRCTL_REPLY_MAX, -1);
		if (n < (ssize_t) sizeof(*head) || h.type != CTL_MSG_CMD_REPLY)
			break;
		fwrite(reply + sizeof(*head), 1, (size_t) n - sizeof(*head), out);
	}
	close(fd);
	free(reply);
	return ret >= 0 && ret <= 2 ? ret : 1;
}
