/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * `ndrctl relay-test HOST`: the telnet session admins use to check for an open relay,
 * automated, plus the bypass forms relay filters have missed over the years (RFC 1123
 * §5.2.6 source routes and the `%` hack, UUCP `!` paths, quoted local parts, extra `@`,
 * trailing dots, IP literals). For each case: MAIL FROM, RCPT TO, then RSET; the reply to
 * RCPT is the verdict. DATA is never sent, so nothing can be delivered. Single-threaded.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <netdb.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "ndrctl.h"

#define RT_LINE_MAX  1000 /* RFC 5321 §4.5.3.1.5 reply line */
#define RT_REPLY_MAX 4096 /* a whole multi-line reply, cut past this */
#define RT_FOREIGN   "example.net"
#define RT_USER	     "relaytest"

enum rt_result {
	RT_RELAYED = 0, /* RCPT accepted: the server would relay */
	RT_REFUSED,	/* 5xx at MAIL or RCPT */
	RT_DEFERRED,	/* 4xx: inconclusive */
	RT_DROPPED,	/* the connection ended before an answer */
	RT_RESULT_MAX
};

static const char *const rt_result_names[RT_RESULT_MAX] = {
	[RT_RELAYED] = "RELAYED",
	[RT_REFUSED] = "refused",
	[RT_DEFERRED] = "deferred",
	[RT_DROPPED] = "dropped",
};

struct rt_conn {
	int fd;
	int timeout_ms;
	char buf[RT_REPLY_MAX];
	size_t len;	    /* bytes buffered, not consumed yet */
	char greeting[256]; /* the name the server gives in its 220 */
};

struct rt_case {
	const char *name;
	char mail[300];
	char rcpt[800];
	enum rt_result result;
	char reply[RT_LINE_MAX + 1]; /* the deciding reply's first line */
};

static int
rt_connect(const char *host, const char *port, int timeout_ms)
{
	struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM}, *res, *ai;
	int fd = -1;

	if (getaddrinfo(host, port, &hints, &res) != 0)
		return -EHOSTUNREACH;
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		struct timeval tv = {.tv_sec = timeout_ms / 1000};

		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
		if (fd < 0)
			continue;
		(void) setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
			break;
		close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	return fd >= 0 ? fd : -ECONNREFUSED;
}

/*
 * Read one reply (all its lines) into <first> (its first line, CRLF removed).
 * @return the code, or -1 when the connection ended or timed out.
 */
static int
rt_reply(struct rt_conn *c, char *first, size_t size)
{
	bool have_first = false;

	for (;;) {
		char *nl = memchr(c->buf, '\n', c->len);

		if (nl != NULL) {
			size_t l = (size_t) (nl - c->buf) + 1;
			size_t t = l;
			bool last;
			int code;

			while (t > 0 && (c->buf[t - 1] == '\n' || c->buf[t - 1] == '\r'))
				t--;
			if (!have_first) {
				size_t k = t < size - 1 ? t : size - 1;

				memcpy(first, c->buf, k);
				first[k] = '\0';
				have_first = true;
			}
			last = t < 4 || c->buf[3] != '-';
			code = t >= 3 ? (c->buf[0] - '0') * 100 + (c->buf[1] - '0') * 10 +
						(c->buf[2] - '0')
				      : 0;
			memmove(c->buf, c->buf + l, c->len - l);
			c->len -= l;
			if (last)
				return code >= 200 && code <= 599 ? code : 0;
			continue;
		}
		if (c->len == sizeof(c->buf))
			c->len = 0; /* an endless line: drop it, keep reading */
		{
			struct pollfd p = {.fd = c->fd, .events = POLLIN};
			ssize_t n;

			if (poll(&p, 1, c->timeout_ms) <= 0)
				return -1;
			n = read(c->fd, c->buf + c->len, sizeof(c->buf) - c->len);
			if (n <= 0)
				return -1;
			c->len += (size_t) n;
		}
	}
}

static int
rt_cmd(struct rt_conn *c, const char *line, char *first, size_t size)
{
	char out[RT_LINE_MAX];
	int n = snprintf(out, sizeof(out), "%s\r\n", line);

	if (n < 0 || (size_t) n >= sizeof(out) ||
		send(c->fd, out, (size_t) n, MSG_NOSIGNAL) != (ssize_t) n) {
		snprintf(first, size, "(connection lost)");
		return -1;
	}
	return rt_reply(c, first, size);
}

/* Connect and greet. @return 0, or -1 with <why> set. */
static int
rt_open(struct rt_conn *c, const char *host, const char *port, const char *helo, char *why,
	size_t size)
{
	char line[RT_LINE_MAX + 1], cmd[300];
	int code;

	c->len = 0;
	c->fd = rt_connect(host, port, c->timeout_ms);
	if (c->fd < 0) {
		snprintf(why, size, "cannot connect to %s port %s: %s", host, port,
			strerror(-c->fd));
		return -1;
	}
	code = rt_reply(c, line, sizeof(line));
	if (code != 220) {
		snprintf(why, size, "no 220 greeting: %s", code < 0 ? "(nothing)" : line);
		goto err;
	}
	if (sscanf(line + 3, " %255[A-Za-z0-9.-]", c->greeting) != 1)
		c->greeting[0] = '\0';
	snprintf(cmd, sizeof(cmd), "EHLO %s", helo);
	code = rt_cmd(c, cmd, line, sizeof(line));
	if (code >= 500 && code < 600) {
		snprintf(cmd, sizeof(cmd), "HELO %s", helo);
		code = rt_cmd(c, cmd, line, sizeof(line));
	}
	if (code < 200 || code >= 300) {
		snprintf(why, size, "EHLO/HELO refused: %s", code < 0 ? "(connection lost)" : line);
		goto err;
	}
	return 0;
err:
	close(c->fd);
	c->fd = -1;
	return -1;
}

static void
rt_close(struct rt_conn *c)
{
	char line[RT_LINE_MAX + 1];

	if (c->fd < 0)
		return;
	(void) rt_cmd(c, "QUIT", line, sizeof(line));
	close(c->fd);
	c->fd = -1;
}

/* Run one case on the open connection; the connection is closed when it was lost. */
static void
rt_run_case(struct rt_conn *c, struct rt_case *k)
{
	char cmd[RT_LINE_MAX], line[RT_LINE_MAX + 1];
	int code;

	snprintf(cmd, sizeof(cmd), "MAIL FROM:%s", k->mail);
	code = rt_cmd(c, cmd, line, sizeof(line));
	if (code < 200 || code >= 300) {
		snprintf(k->reply, sizeof(k->reply), "MAIL: %.990s",
			code < 0 ? "(connection lost)" : line);
		k->result = code < 0 ? RT_DROPPED : code >= 500 ? RT_REFUSED : RT_DEFERRED;
		goto out;
	}
	snprintf(cmd, sizeof(cmd), "RCPT TO:%s", k->rcpt);
	code = rt_cmd(c, cmd, line, sizeof(line));
	snprintf(k->reply, sizeof(k->reply), "%s", code < 0 ? "(connection lost)" : line);
	if (code < 0)
		k->result = RT_DROPPED;
	else if (code >= 200 && code < 300)
		k->result = RT_RELAYED;
	else if (code >= 500)
		k->result = RT_REFUSED;
	else
		k->result = RT_DEFERRED;
out:
	/* Whatever happened, nothing goes further: the transaction is abandoned. A 421 (too
	 * many errors, shutting down) means the server closes: the next case reconnects. */
	if (code >= 0 && code != 421 && c->fd >= 0) {
		code = rt_cmd(c, "RSET", line, sizeof(line));
		if (code == 421)
			code = -1;
	}
	if ((code < 0 || code == 421) && c->fd >= 0) {
		close(c->fd);
		c->fd = -1;
	}
}

/* The test cases for a server that accepts mail for <dom> at <lit> ("[a.b.c.d]"). */
static size_t
rt_cases(struct rt_case *v, size_t max, const char *dom, const char *lit)
{
	const char *F = RT_FOREIGN, *U = RT_USER;
	size_t n = 0;

#define RT_CASE(nm, ...)                                                                           \
	do {                                                                                       \
		if (n < max) {                                                                     \
			v[n].name = nm;                                                            \
			snprintf(v[n].mail, sizeof(v[n].mail), "<%s@example.org>", U);             \
			snprintf(v[n].rcpt, sizeof(v[n].rcpt), __VA_ARGS__);                       \
			n++;                                                                       \
		}                                                                                  \
	} while (0)

	RT_CASE("plain: foreign sender to foreign recipient", "<%s@%s>", U, F);
	RT_CASE("unknown domain", "<%s@nonexistent.invalid>", U);
	RT_CASE("foreign domain in capitals", "<%s@EXAMPLE.NET>", U);
	RT_CASE("trailing dot on the foreign domain", "<%s@%s.>", U, F);
	RT_CASE("foreign IP-literal domain", "<%s@[192.0.2.1]>", U);
	RT_CASE("unbracketed foreign recipient", "%s@%s", U, F);
	RT_CASE("% hack through our domain", "<%s%%%s@%s>", U, F, dom);
	RT_CASE("% hack through our domain, trailing dot", "<%s%%%s@%s.>", U, F, dom);
	RT_CASE("% hack through our IP literal", "<%s%%%s@%s>", U, F, lit);
	RT_CASE("% hack, no domain", "<%s%%%s>", U, F);
	RT_CASE("! path through our domain", "<%s!%s@%s>", F, U, dom);
	RT_CASE("! path, no domain", "<%s!%s>", F, U);
	RT_CASE("! path through our IP literal", "<%s!%s@%s>", F, U, lit);
	RT_CASE("source route through our domain", "<@%s:%s@%s>", dom, U, F);
	RT_CASE("source route through our IP literal", "<@%s:%s@%s>", lit, U, F);
	RT_CASE("source route with two hops", "<@%s,@%s:%s@%s>", dom, lit, U, F);
	RT_CASE("quoted @ in the local part", "<\"%s@%s\">", U, F);
	RT_CASE("quoted @ in the local part at our domain", "<\"%s@%s\"@%s>", U, F, dom);
	RT_CASE("quoted % in the local part at our domain", "<\"%s%%%s\"@%s>", U, F, dom);
	RT_CASE("extra @: foreign then our domain", "<%s@%s@%s>", U, F, dom);
	RT_CASE("extra @: foreign then our IP literal", "<%s@%s@%s>", U, F, lit);
#undef RT_CASE
	/* Sender variations on the plain case. */
	if (n + 3 <= max) {
		v[n].name = "null sender to foreign recipient";
		snprintf(v[n].mail, sizeof(v[n].mail), "<>");
		snprintf(v[n].rcpt, sizeof(v[n].rcpt), "<%s@%s>", U, F);
		n++;
		v[n].name = "our own domain as sender";
		snprintf(v[n].mail, sizeof(v[n].mail), "<postmaster@%s>", dom);
		snprintf(v[n].rcpt, sizeof(v[n].rcpt), "<%s@%s>", U, F);
		n++;
		v[n].name = "sender at the recipient's domain";
		snprintf(v[n].mail, sizeof(v[n].mail), "<%s@%s>", U, F);
		snprintf(v[n].rcpt, sizeof(v[n].rcpt), "<%s@%s>", U, F);
		n++;
	}
	return n;
}

static void
rt_json_str(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s; s++) {
		unsigned char ch = (unsigned char) *s;

		if (ch == '"' || ch == '\\')
			fprintf(f, "\\%c", ch);
		else if (ch < 0x20 || ch >= 0x7f)
			fprintf(f, "\\u%04x", ch);
		else
			fputc(ch, f);
	}
	fputc('"', f);
}

static void
rt_usage(void)
{
	fprintf(stderr, "usage: ndrctl relay-test HOST [--port N] [--domain DOMAIN] [--helo NAME] "
			"[--timeout SECONDS] [--json]\n");
}

int
ndrctl_relay_test(int argc, char **argv, bool json)
{
	static const struct option longopts[] = {
		{"port", required_argument, NULL, 'p'},
		{"domain", required_argument, NULL, 'd'},
		{"helo", required_argument, NULL, 'H'},
		{"timeout", required_argument, NULL, 't'},
		{NULL, 0, NULL, 0},
	};
	struct rt_case cases[32];
	struct rt_conn c = {.fd = -1, .timeout_ms = 30000};
	const char *host, *port = "25", *domain = NULL, *helo = "relay-test.ndrctl.invalid";
	char dom[256], lit[64], why[RT_LINE_MAX + 64];
	unsigned int counts[RT_RESULT_MAX] = {0};
	size_t n;
	int opt;

	optind = 0; /* glibc: a full re-initialisation, main() used getopt already */
	while ((opt = getopt_long(argc, argv, "p:d:H:t:", longopts, NULL)) != -1) {
		char *end;
		unsigned long v;

		switch (opt) {
		case 'p':
			v = strtoul(optarg, &end, 10);
			if (*end != '\0' || v == 0 || v > 65535) {
				rt_usage();
				return 2;
			}
			port = optarg;
			break;
		case 'd':
			domain = optarg;
			break;
		case 'H':
			helo = optarg;
			break;
		case 't':
			v = strtoul(optarg, &end, 10);
			if (*end != '\0' || v == 0 || v > 3600) {
				rt_usage();
				return 2;
			}
			c.timeout_ms = (int) v * 1000;
			break;
		default:
			rt_usage();
			return 2;
		}
	}
	if (optind + 1 != argc) {
		rt_usage();
		return 2;
	}
	host = argv[optind];

	if (rt_open(&c, host, port, helo, why, sizeof(why)) != 0) {
		fprintf(stderr, "ndrctl relay-test: %s\n", why);
		return 2;
	}
	/* Our domain: given, or the greeting host's parent domain (mx.example.com). */
	{
		struct sockaddr_storage ss;
		socklen_t sl = sizeof(ss);
		char a[INET6_ADDRSTRLEN] = "127.0.0.1";

		if (getpeername(c.fd, (struct sockaddr *) &ss, &sl) == 0) {
			if (ss.ss_family == AF_INET)
				inet_ntop(AF_INET, &((struct sockaddr_in *) &ss)->sin_addr, a,
					sizeof(a));
			else
				inet_ntop(AF_INET6, &((struct sockaddr_in6 *) &ss)->sin6_addr, a,
					sizeof(a));
		}
		snprintf(lit, sizeof(lit), ss.ss_family == AF_INET6 ? "[IPv6:%s]" : "[%s]", a);
	}
	/* The server's mail domain: given, or the parent of the name in its greeting. */
	if (domain == NULL) {
		const char *dot = strchr(c.greeting, '.');
		struct in_addr ia;

		if (dot != NULL && strchr(dot + 1, '.') != NULL &&
			inet_pton(AF_INET, c.greeting, &ia) != 1)
			domain = dot + 1;
		else if (dot != NULL)
			domain = c.greeting;
		else
			domain = host;
	}
	snprintf(dom, sizeof(dom), "%s", domain);
	n = rt_cases(cases, sizeof(cases) / sizeof(cases[0]), dom, lit);

	for (size_t i = 0; i < n; i++) {
		if (c.fd < 0 && rt_open(&c, host, port, helo, why, sizeof(why)) != 0) {
			cases[i].result = RT_DROPPED;
			snprintf(cases[i].reply, sizeof(cases[i].reply), "%.*s", RT_LINE_MAX, why);
		} else {
			rt_run_case(&c, &cases[i]);
			/* The server hung up on an earlier case's account: once more, afresh. */
			if ((cases[i].result == RT_DROPPED ||
				    strncmp(cases[i].reply, "MAIL: 421", 9) == 0 ||
				    strncmp(cases[i].reply, "421", 3) == 0) &&
				c.fd < 0 && rt_open(&c, host, port, helo, why, sizeof(why)) == 0)
				rt_run_case(&c, &cases[i]);
		}
		counts[cases[i].result]++;
		if (!json)
			printf("%-8s  %-44s RCPT TO:%s  MAIL FROM:%s\n          -> %s\n",
				rt_result_names[cases[i].result], cases[i].name, cases[i].rcpt,
				cases[i].mail, cases[i].reply);
	}
	rt_close(&c);

	{
		const char *verdict = counts[RT_RELAYED]	? "open"
				      : counts[RT_REFUSED] == n ? "closed"
				      : counts[RT_REFUSED] > 0	? "closed"
								: "error";
		int ret = counts[RT_RELAYED] ? 1 : counts[RT_REFUSED] > 0 ? 0 : 2;

		if (json) {
			printf("{\"host\":");
			rt_json_str(stdout, host);
			printf(",\"port\":%s,\"domain\":", port);
			rt_json_str(stdout, dom);
			printf(",\"verdict\":\"%s\",\"relayed\":%u,\"refused\":%u,\"deferred\":%u,"
			       "\"dropped\":%u,\"cases\":[",
				verdict, counts[RT_RELAYED], counts[RT_REFUSED],
				counts[RT_DEFERRED], counts[RT_DROPPED]);
			for (size_t i = 0; i < n; i++) {
				printf("%s{\"case\":", i ? "," : "");
				rt_json_str(stdout, cases[i].name);
				printf(",\"mail\":");
				rt_json_str(stdout, cases[i].mail);
				printf(",\"rcpt\":");
				rt_json_str(stdout, cases[i].rcpt);
				printf(",\"result\":\"%s\",\"reply\":",
					cases[i].result == RT_RELAYED
						? "relayed"
						: rt_result_names[cases[i].result]);
				rt_json_str(stdout, cases[i].reply);
				printf("}");
			}
			printf("]}\n");
		} else {
			printf("%s port %s: %s (%u relayed, %u refused, %u deferred, %u dropped, "
			       "of "
			       "%zu cases)\n",
				host, port,
				ret == 1   ? "OPEN RELAY"
				: ret == 0 ? "closed"
					   : "could not be tested",
				counts[RT_RELAYED], counts[RT_REFUSED], counts[RT_DEFERRED],
				counts[RT_DROPPED], n);
		}
		return ret;
	}
}
