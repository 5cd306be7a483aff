/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * `ndrctl top`: a live view of the appliance for a terminal (plain ANSI, fine over ssh):
 * connections, sessions, delivered messages, rejects by rule and the sources with the most
 * rejects, as rates over the last second and totals. Each second it asks ndrguard-control
 * for `stats` and `sources`; `q` quits. Single-threaded.
 */
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "ndrctl.h"

#define TOP_STATS_MAX (256 * 1024)
#define TOP_ROWS_MAX  512

struct top_val {
	char name[64];
	uint64_t v;
};

struct top_snap {
	struct top_val v[TOP_ROWS_MAX];
	size_t n;
};

static struct termios top_saved;
static bool top_raw;
static volatile sig_atomic_t top_quit;

static void
top_restore(void)
{
	if (top_raw)
		(void) tcsetattr(STDIN_FILENO, TCSANOW, &top_saved);
	top_raw = false;
	fputs("\033[?25h", stdout); /* cursor back */
	fflush(stdout);
}

static void
top_signal(int sig)
{
	(void) sig;
	top_quit = 1;
}

/* Run one daemon command into a NUL-terminated buffer. @return its status, 3 unreachable. */
static int
top_fetch(const char *sock, const char *const *words, int n, char **text)
{
	size_t len = 0;
	FILE *f = open_memstream(text, &len);
	int ret;

	if (f == NULL)
		return 1;
	ret = ndrctl_call(sock, n, (char **) words, f, false);
	fclose(f);
	return ret;
}

static void
top_parse(const char *text, struct top_snap *s)
{
	s->n = 0;
	for (const char *p = text; p != NULL && *p != '\0' && s->n < TOP_ROWS_MAX;) {
		char name[64];
		unsigned long long v;

		if (sscanf(p, "%63s %llu", name, &v) == 2) {
			snprintf(s->v[s->n].name, sizeof(s->v[s->n].name), "%s", name);
			s->v[s->n].v = v;
			s->n++;
		}
		p = strchr(p, '\n');
		if (p != NULL)
			p++;
	}
}

static uint64_t
top_get(const struct top_snap *s, const char *name)
{
	for (size_t i = 0; i < s->n; i++)
		if (strcmp(s->v[i].name, name) == 0)
			return s->v[i].v;
	return 0;
}

static uint64_t
top_delta(const struct top_snap *now, const struct top_snap *before, const char *name)
{
	uint64_t a = top_get(now, name), b = top_get(before, name);

	return a >= b ? a - b : 0;
}

/* The rules whose reject counters the dataplane exports (policy_<rule>_reject). */
static void
top_draw(const struct top_snap *now, const struct top_snap *before, const char *sources,
	double secs, unsigned int width)
{
	char ts[32];
	time_t t = time(NULL);
	struct tm tm;
	double r = secs > 0 ? secs : 1;
	unsigned int lines = 0;

	localtime_r(&t, &tm);
	strftime(ts, sizeof(ts), "%H:%M:%S", &tm);
	fputs("\033[H\033[2J", stdout);
	printf("\033[1mndrguard top\033[0m  %s  (q quits, refresh 1 s)\n\n", ts);
	printf("\033[1m%-28s %12s %14s\033[0m\n", "", "per second", "total");
	printf("%-28s %12.1f %14" PRIu64 "\n", "connections",
		(double) top_delta(now, before, "smtp_sessions") / r,
		top_get(now, "smtp_sessions"));
	printf("%-28s %12s %14" PRIu64 "\n", "sessions open", "", top_get(now, "sessions_active"));
	printf("%-28s %12.1f %14" PRIu64 "\n", "delivered messages",
		(double) top_delta(now, before, "smtp_delivered") / r,
		top_get(now, "smtp_delivered"));
	printf("%-28s %12.1f %14" PRIu64 "\n", "RCPT replies",
		(double) top_delta(now, before, "rcpt_reply_count") / r,
		top_get(now, "rcpt_reply_count"));
	if (top_get(now, "rcpt_reply_count") > top_get(before, "rcpt_reply_count"))
		printf("%-28s %12.1f\n", "RCPT reply latency (us)",
			(double) top_delta(now, before, "rcpt_reply_sum_ns") / 1000.0 /
				(double) top_delta(now, before, "rcpt_reply_count"));
	printf("\n\033[1m%-28s %12s %14s\033[0m\n", "rejects by rule", "per second", "total");
	for (size_t i = 0; i < now->n; i++) {
		const char *nm = now->v[i].name;
		size_t l = strlen(nm);
		char rule[64];

		if (strncmp(nm, "policy_", 7) != 0 || l < 14 ||
			strcmp(nm + l - 7, "_reject") != 0 || now->v[i].v == 0)
			continue;
		snprintf(rule, sizeof(rule), "%.*s", (int) (l - 14), nm + 7);
		printf("  %-26s %12.1f %14" PRIu64 "\n", rule,
			(double) top_delta(now, before, nm) / r, now->v[i].v);
	}
	printf("\n\033[1mtop offending sources\033[0m\n");
	for (const char *p = sources; p != NULL && *p != '\0' && lines < 11; lines++) {
		const char *nl = strchr(p, '\n');
		int len = nl ? (int) (nl - p) : (int) strlen(p);

		if (len > (int) width)
			len = (int) width;
		printf("  %.*s\n", len, p);
		p = nl ? nl + 1 : NULL;
	}
	fflush(stdout);
}

int
ndrctl_top(const char *sock, int argc, char **argv)
{
	static const char *const stats_cmd[] = {"stats"};
	static const char *const src_cmd[] = {"sources", "-n", "10"};
	struct top_snap *a = calloc(1, sizeof(*a)), *b = calloc(1, sizeof(*b)), *tmp;
	struct timespec t0, t1;
	unsigned long iterations = 0, max_iter = 0;
	int ret = 0;

	if (argc == 3 && strcmp(argv[1], "-n") == 0)
		max_iter = strtoul(argv[2], NULL, 10);
	else if (argc != 1) {
		fprintf(stderr, "usage: ndrctl top [-n ITERATIONS]\n");
		free(a);
		free(b);
		return 2;
	}
	if (a == NULL || b == NULL) {
		free(a);
		free(b);
		return 1;
	}
	if (isatty(STDIN_FILENO) && tcgetattr(STDIN_FILENO, &top_saved) == 0) {
		struct termios raw = top_saved;

		raw.c_lflag &= (tcflag_t) ~(ICANON | ECHO);
		raw.c_cc[VMIN] = 0;
		raw.c_cc[VTIME] = 0;
		if (tcsetattr(STDIN_FILENO, TCSANOW, &raw) == 0)
			top_raw = true;
	}
	signal(SIGINT, top_signal);
	signal(SIGTERM, top_signal);
	fputs("\033[?25l", stdout); /* no cursor flicker */
	clock_gettime(CLOCK_MONOTONIC, &t0);
	while (!top_quit) {
		char *stats = NULL, *src = NULL;
		struct winsize ws = {.ws_col = 80};
		struct pollfd p = {.fd = STDIN_FILENO, .events = POLLIN};
		double secs;

		ret = top_fetch(sock, stats_cmd, 1, &stats);
		if (ret == 0)
			ret = top_fetch(sock, src_cmd, 3, &src);
		if (ret != 0) {
			top_restore();
			fprintf(stderr, "ndrctl top: ndrguard-control does not answer at %s\n",
				sock);
			free(stats);
			free(src);
			ret = 3;
			break;
		}
		clock_gettime(CLOCK_MONOTONIC, &t1);
		secs = (double) (t1.tv_sec - t0.tv_sec) + (double) (t1.tv_nsec - t0.tv_nsec) / 1e9;
		t0 = t1;
		top_parse(stats, a);
		if (iterations == 0)
			*b = *a;
		(void) ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws);
		top_draw(a, b, src, iterations == 0 ? 0 : secs, ws.ws_col ? ws.ws_col - 2 : 78);
		free(stats);
		free(src);
		tmp = b;
		b = a;
		a = tmp;
		if (max_iter != 0 && ++iterations >= max_iter)
			break;
		if (max_iter == 0)
			iterations++;
		/* Wait a second, or less when a key comes. */
		if (poll(&p, 1, 1000) > 0) {
			char ch = 0;
			ssize_t n = read(STDIN_FILENO, &ch, 1);

			if (n == 1 && (ch == 'q' || ch == 'Q'))
				break;
			if (n <= 0 && errno != EINTR) {
				/* No terminal to read keys from: just pace the refresh. */
				struct timespec s = {.tv_sec = 1};

				(void) nanosleep(&s, NULL);
			}
		}
	}
	top_restore();
	free(a);
	free(b);
	return ret;
}
