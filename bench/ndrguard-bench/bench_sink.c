/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * `ndrguard-bench sink`: a fast SMTP server for the backend side. It accepts every command,
 * pipelining included, and checks each message against the digest the load generator put in
 * its "X-Bench-Digest:" header, so lost or corrupted mail is counted. One thread, epoll.
 * Counters go to a "key value" file (--stats) every 200 ms and at exit.
 */
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <arpa/inet.h>
#include <unistd.h>

#include "bench.h"
#include "bench_smtp.h"
#include "ndg_common.h"

#define SINK_IN_MAX (64 * 1024)

enum sink_mode {
	SINK_CMD = 0, /* commands */
	SINK_HEADER,  /* message header section */
	SINK_BODY,    /* message body */
};

struct sink_conn {
	int fd;
	enum sink_mode mode;
	bool quit;
	bool mid_line;	  /* the previous data chunk ended inside a line */
	bool have_digest; /* the message carried X-Bench-Digest */
	uint64_t want_digest, want_len;
	uint64_t digest, len;
	uint32_t in_len;
	char in[SINK_IN_MAX];
	char *out;
	size_t olen, ocap;
};

struct sink_stats {
	uint64_t sessions, messages_ok, messages_corrupt, messages_plain, bytes;
};

static volatile sig_atomic_t sink_stop;

static void
sink_on_signal(int sig)
{
	(void) sig;
	sink_stop = 1;
}

static void
sink_put(struct sink_conn *c, const char *s)
{
	size_t n = strlen(s);

	if (c->olen + n > c->ocap) {
		size_t cap = c->ocap ? c->ocap * 2 : 1024;
		char *p;

		while (cap < c->olen + n)
			cap *= 2;
		p = realloc(c->out, cap);
		if (p == NULL)
			return;
		c->out = p;
		c->ocap = cap;
	}
	memcpy(c->out + c->olen, s, n);
	c->olen += n;
}

static void
sink_command(struct sink_conn *c, const char *line, size_t n)
{
	if (n >= 4 && (strncasecmp(line, "EHLO", 4) == 0)) {
		sink_put(c, "250-sink.ndrguard-bench.test\r\n250-PIPELINING\r\n250-8BITMIME\r\n"
			    "250 SIZE 104857600\r\n");
	} else if (n >= 4 && strncasecmp(line, "DATA", 4) == 0) {
		sink_put(c, "354 go ahead\r\n");
		c->mode = SINK_HEADER;
		c->have_digest = false;
		c->digest = BENCH_DIGEST_INIT;
		c->len = 0;
		c->mid_line = false;
	} else if (n >= 4 && strncasecmp(line, "QUIT", 4) == 0) {
		sink_put(c, "221 2.0.0 bye\r\n");
		c->quit = true;
	} else {
		sink_put(c, "250 2.0.0 ok\r\n"); /* HELO, MAIL, RCPT, RSET, NOOP, anything */
	}
}

static void
sink_message_end(struct sink_conn *c, struct sink_stats *st)
{
	if (!c->have_digest)
		st->messages_plain++;
	else if (c->digest == c->want_digest && c->len == c->want_len)
		st->messages_ok++;
	else
		st->messages_corrupt++;
	st->bytes += c->len;
	sink_put(c, "250 2.0.0 queued\r\n");
	c->mode = SINK_CMD;
}

/* One chunk of message data: a whole line (with its LF) or, when <partial>, part of one. */
static void
sink_data(struct sink_conn *c, struct sink_stats *st, const char *p, size_t n, bool partial)
{
	bool start = !c->mid_line;

	c->mid_line = partial;
	if (start && !partial &&
		((n == 3 && memcmp(p, ".\r\n", 3) == 0) || (n == 2 && memcmp(p, ".\n", 2) == 0))) {
		sink_message_end(c, st);
		return;
	}
	if (start && n > 0 && p[0] == '.') { /* RFC 5321 §4.5.2 transparency */
		p++;
		n--;
	}
	if (c->mode == SINK_HEADER) {
		if (start && !partial && (n == 2 || n == 1)) { /* the empty line */
			c->mode = SINK_BODY;
			return;
		}
		size_t hl = sizeof(BENCH_DIGEST_HEADER) - 1;
		if (start && n > hl && strncasecmp(p, BENCH_DIGEST_HEADER, hl) == 0) {
			unsigned long long d, l;

			if (sscanf(p + hl, "%16llx %llu", &d, &l) == 2) {
				c->have_digest = true;
				c->want_digest = d;
				c->want_len = l;
			}
		}
		return;
	}
	c->digest = bench_digest_update(c->digest, p, n);
	c->len += n;
}

/* Consume complete lines of <c>'s input. */
static void
sink_input(struct sink_conn *c, struct sink_stats *st)
{
	size_t start = 0;

	for (;;) {
		char *nl = memchr(c->in + start, '\n', c->in_len - start);

		if (nl == NULL)
			break;
		size_t n = (size_t) (nl - (c->in + start)) + 1;
		if (c->mode == SINK_CMD)
			sink_command(c, c->in + start, n);
		else
			sink_data(c, st, c->in + start, n, false);
		start += n;
		if (c->quit)
			break;
	}
	if (start == 0 && c->in_len == sizeof(c->in)) {
		/* a line longer than the buffer: data goes on, a command is refused */
		if (c->mode == SINK_CMD)
			sink_put(c, "500 5.5.2 line too long\r\n");
		else
			sink_data(c, st, c->in, c->in_len, true);
		start = c->in_len;
	}
	memmove(c->in, c->in + start, c->in_len - start);
	c->in_len -= (uint32_t) start;
}

static int
sink_flush(struct sink_conn *c)
{
	size_t off = 0;

	while (off < c->olen) {
		ssize_t w = write(c->fd, c->out + off, c->olen - off);

		if (w < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				break;
			if (errno == EINTR)
				continue;
			return -1;
		}
		off += (size_t) w;
	}
	memmove(c->out, c->out + off, c->olen - off);
	c->olen -= off;
	return 0;
}

static void
sink_write_stats(const char *path, const struct sink_stats *st)
{
	char tmp[512];
	FILE *f;

	if (path == NULL)
		return;
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	f = fopen(tmp, "w");
	if (f == NULL)
		return;
	fprintf(f,
		"sessions %llu\nmessages_ok %llu\nmessages_corrupt %llu\nmessages_plain %llu\n"
		"bytes %llu\n",
		(unsigned long long) st->sessions, (unsigned long long) st->messages_ok,
		(unsigned long long) st->messages_corrupt, (unsigned long long) st->messages_plain,
		(unsigned long long) st->bytes);
	if (fclose(f) == 0)
		(void) rename(tmp, path);
}

static void
sink_close(int epfd, struct sink_conn *c)
{
	(void) epoll_ctl(epfd, EPOLL_CTL_DEL, c->fd, NULL);
	close(c->fd);
	free(c->out);
	free(c);
}

int
bench_sink_main(int argc, char **argv)
{
	static const struct option opts[] = {
		{"listen", required_argument, NULL, 'l'},
		{"stats", required_argument, NULL, 's'},
		{"duration", required_argument, NULL, 'd'},
		{"cpu", required_argument, NULL, 'c'},
		{NULL, 0, NULL, 0},
	};
	struct sockaddr_in sa = {.sin_family = AF_INET};
	struct sink_stats st = {0}, written = {0};
	struct epoll_event ev, evs[256];
	const char *stats = NULL;
	char *listen_at = NULL;
	double duration = 0;
	uint64_t t_end = UINT64_MAX, next_stats = 0;
	int opt, cpu = -1, lfd, epfd, one = 1;

	optind = 1;
	while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (opt) {
		case 'l':
			listen_at = optarg;
			break;
		case 's':
			stats = optarg;
			break;
		case 'd':
			duration = strtod(optarg, NULL);
			break;
		case 'c':
			cpu = (int) strtol(optarg, NULL, 10);
			break;
		default:
			fprintf(stderr,
				"usage: ndrguard-bench sink --listen IP:PORT [--stats FILE] "
				"[--duration S] [--cpu C]\n");
			return 2;
		}
	}
	if (listen_at == NULL || strrchr(listen_at, ':') == NULL) {
		fprintf(stderr, "sink: --listen IP:PORT is required\n");
		return 2;
	}
	*strrchr(listen_at, ':') = '\0';
	sa.sin_port = htons((uint16_t) strtoul(listen_at + strlen(listen_at) + 1, NULL, 10));
	if (inet_pton(AF_INET, listen_at, &sa.sin_addr) != 1) {
		fprintf(stderr, "sink: bad address %s\n", listen_at);
		return 2;
	}
	(void) bench_pin(cpu);
	lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (lfd < 0 || setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
		bind(lfd, (struct sockaddr *) &sa, sizeof(sa)) < 0 || listen(lfd, 4096) < 0) {
		fprintf(stderr, "sink: cannot listen: %s\n", strerror(errno));
		return 1;
	}
	epfd = epoll_create1(EPOLL_CLOEXEC);
	ev = (struct epoll_event){.events = EPOLLIN, .data.ptr = NULL};
	if (epfd < 0 || epoll_ctl(epfd, EPOLL_CTL_ADD, lfd, &ev) < 0)
		return 1;
	signal(SIGINT, sink_on_signal);
	signal(SIGTERM, sink_on_signal);
	signal(SIGPIPE, SIG_IGN);
	if (duration > 0)
		t_end = bench_now_ns() + (uint64_t) (duration * 1e9);
	sink_write_stats(stats, &st);
	while (!sink_stop && bench_now_ns() < t_end) {
		int n = epoll_wait(epfd, evs, 256, 200);
		uint64_t now = bench_now_ns();

		for (int i = 0; i < n; i++) {
			struct sink_conn *c = evs[i].data.ptr;

			if (c == NULL) {
				int fd;

				while ((fd = accept4(lfd, NULL, NULL,
						SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0) {
					c = calloc(1, sizeof(*c));
					if (c == NULL) {
						close(fd);
						continue;
					}
					c->fd = fd;
					(void) setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one,
						sizeof(one));
					ev = (struct epoll_event){.events = EPOLLIN, .data.ptr = c};
					if (epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
						close(fd);
						free(c);
						continue;
					}
					st.sessions++;
					sink_put(c, "220 sink.ndrguard-bench.test ESMTP\r\n");
					if (sink_flush(c) < 0)
						sink_close(epfd, c);
				}
				continue;
			}
			bool dead = false;
			if (evs[i].events & EPOLLOUT)
				dead = sink_flush(c) < 0;
			if (!dead && (evs[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR))) {
				ssize_t r =
					read(c->fd, c->in + c->in_len, sizeof(c->in) - c->in_len);

				if (r == 0 || (r < 0 && errno != EAGAIN && errno != EINTR)) {
					dead = true;
				} else if (r > 0) {
					c->in_len += (uint32_t) r;
					sink_input(c, &st);
					dead = sink_flush(c) < 0;
				}
			}
			if (!dead && c->quit && c->olen == 0)
				dead = true;
			if (dead) {
				sink_close(epfd, c);
				continue;
			}
			ev = (struct epoll_event){
				.events = EPOLLIN | (c->olen > 0 ? EPOLLOUT : 0u),
				.data.ptr = c,
			};
			(void) epoll_ctl(epfd, EPOLL_CTL_MOD, c->fd, &ev);
		}
		if (now >= next_stats && memcmp(&st, &written, sizeof(st)) != 0) {
			sink_write_stats(stats, &st);
			written = st;
			next_stats = now + 200000000ULL;
		}
	}
	sink_write_stats(stats, &st);
	printf("{\"sessions\":%llu,\"messages_ok\":%llu,\"messages_corrupt\":%llu,"
	       "\"messages_plain\":%llu,\"bytes\":%llu}\n",
		(unsigned long long) st.sessions, (unsigned long long) st.messages_ok,
		(unsigned long long) st.messages_corrupt, (unsigned long long) st.messages_plain,
		(unsigned long long) st.bytes);
	close(epfd);
	close(lfd);
	return 0;
}
