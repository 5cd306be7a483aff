/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The TCP conformance runner (tests/tcp): a script is a list of timed lines (segments in,
 * segments expected out, application calls, assertions); tcp_script_parse.c turns the text
 * into struct tsc_line and formats segments back in the same syntax, tcp_script.c runs them
 * against the real stack. Single-threaded test program.
 */
#ifndef NDG_TESTS_TCP_TCP_SCRIPT_H
#define NDG_TESTS_TCP_TCP_SCRIPT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tcp-t.h"

#define TSC_MAX_OPTS	 12 /* option items in one segment line */
#define TSC_MAX_LINE	 1024
#define TSC_MAX_PAYLOAD	 1500
#define TSC_NAME_MAX	 64
#define TSC_DEFAULT_PEER "198.18.1.1"

/* One TCP option as written: kind (RFC numbers; 0 eol, 1 nop) and its values. */
struct tsc_opt {
	uint8_t kind;
	uint8_t n;     /* values used in v[] */
	uint32_t v[8]; /* mss/wscale value; sack edges (pairs); TS val, ecr */
};

/* A segment as written on a `<` or `>` line. */
struct tsc_seg {
	uint8_t flags; /* RTE_TCP_*_FLAG */
	bool abs_seq;  /* '=' before the sequence: not relative */
	uint32_t seq;
	uint32_t len;
	bool has_ack;
	bool abs_ack;
	uint32_t ack;
	bool has_win;
	uint32_t win;
	bool has_opts; /* <...> written (maybe empty) */
	uint8_t n_opts;
	struct tsc_opt opts[TSC_MAX_OPTS];
	bool has_payload; /* quoted bytes written */
	uint8_t *payload; /* len bytes when has_payload */
	bool has_addr;	  /* from/to written */
	uint32_t addr;	  /* network byte order */
	uint16_t port;	  /* host order; 0: default peer port */
	uint8_t chain;	  /* inbound: payload spread over this many mbufs (0, 1: one) */
};

enum tsc_kind {
	TSC_IN = 0, /* segment from the peer */
	TSC_OUT,    /* segment the stack must send */
	TSC_ICMP,   /* ICMP destination unreachable from the path */
	TSC_APP,    /* application call or event */
	TSC_CHECK,  /* % assertion */
	TSC_KIND_MAX
};

enum tsc_app_op {
	TSC_APP_ACCEPT = 0, /* expect event: accepted */
	TSC_APP_CONNECT,    /* active open to addr:port */
	TSC_APP_CONNECTED,  /* expect event: connected (err) */
	TSC_APP_READ,	    /* consume n bytes (checked when str) */
	TSC_APP_READ_EOF,   /* nothing left and the peer closed */
	TSC_APP_AVAIL,	    /* exactly n bytes readable */
	TSC_APP_WRITE,	    /* write n bytes (or str), expect n taken (or expect) */
	TSC_APP_SHUTDOWN,   /* tcp_conn_shutdown */
	TSC_APP_CLOSE,	    /* tcp_conn_close */
	TSC_APP_ABORT,	    /* tcp_conn_abort */
	TSC_APP_CLOSED,	    /* expect event: closed (err) */
	TSC_APP_REFUSE,	    /* the next accepted() returns -1 */
	TSC_APP_OP_MAX
};

enum tsc_check_op {
	TSC_CHECK_STATE = 0, /* %state NAME: the current flow's connection */
	TSC_CHECK_STAT,	     /* %stat name == N */
	TSC_CHECK_CONNS,     /* %conns N: connections in the table */
	TSC_CHECK_CONN,	     /* %conn field == N */
	TSC_CHECK_QUIET,     /* %quiet: nothing sent so far (time advance alone) */
	TSC_CHECK_OP_MAX
};

struct tsc_line {
	int lineno;
	enum tsc_kind kind;
	bool rel;	 /* +T */
	int64_t t_ms;	 /* time as written */
	uint32_t tol_ms; /* ~T: allowed distance of an outbound segment */
	char text[TSC_MAX_LINE];
	struct tsc_seg seg; /* IN, OUT; ICMP: seq and addr */
	/* ICMP */
	uint8_t icmp_code;
	uint16_t icmp_mtu;
	/* APP */
	enum tsc_app_op app;
	uint32_t n;
	bool has_str;
	uint8_t *str;
	bool has_expect;
	uint32_t expect;
	int err; /* expected errno of an event, positive; 0: none */
	/* CHECK */
	enum tsc_check_op check;
	char name[TSC_NAME_MAX];
	uint64_t value;
	/* APP connect / from-to */
	uint32_t addr;
	uint16_t port;
};

struct tsc_script {
	const char *path;
	struct tcp_cfg cfg;
	uint16_t listen_port; /* 0: no listener */
	uint16_t local_port;  /* our port of the default peer's flow (default: listen_port) */
	uint32_t peer_addr;   /* default peer, network byte order */
	uint16_t peer_port;
	uint32_t tail_ms;	/* quiet time checked after the last line */
	uint32_t clock_base_ms; /* the stack's clock reads this at script time 0 */
	unsigned int n_lines;
	struct tsc_line *lines;
};

/**
 * Read and parse script <path> into <sc>, options applied over <sc>->cfg (the caller fills
 * the defaults first). On error prints "path:line: reason" to stderr.
 * @return 0, -EINVAL (syntax), -ENOENT/-errno (file), -ENOMEM.
 */
int tsc_parse_file(const char *path, struct tsc_script *sc);

/**
 * Write segment <s> as a script would, with <dir> ('<' or '>') and numbers as stored, into
 * <buf> of <size>. Window and options only when has_win/has_opts. @return <buf>.
 */
char *tsc_seg_format(const struct tsc_seg *s, char dir, char *buf, size_t size);

/**
 * Name of errno value <err> (positive) as scripts write it ("ECONNRESET"), or "0".
 */
const char *tsc_errname(int err);

#endif /* NDG_TESTS_TCP_TCP_SCRIPT_H */
