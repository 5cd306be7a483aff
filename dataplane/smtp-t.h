/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Types of the SMTP engine: the inbound session (smtp_session → smtp_txn), its resumable
 * command-line and DATA parsers, the reply table ids and the backend client (smtp_relay).
 * Transport-agnostic: no DPDK type appears here. One session is owned by one thread (lcore).
 */
#ifndef NDG_DATAPLANE_SMTP_T_H
#define NDG_DATAPLANE_SMTP_T_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "policy-t.h"

struct out_conf;

/* RFC 5321 §4.5.3.1: size limits, in octets, including CRLF where the RFC counts it. */
#define SMTP_CMD_LINE_MAX   512	 /* §4.5.3.1.4 command line incl. CRLF */
#define SMTP_TEXT_LINE_MAX  1000 /* §4.5.3.1.6 text line incl. CRLF */
#define SMTP_LOCAL_MAX	    64	 /* §4.5.3.1.1 local part */
#define SMTP_DOMAIN_MAX	    255	 /* §4.5.3.1.2 domain */
#define SMTP_PATH_MAX	    256	 /* §4.5.3.1.3 reverse/forward path incl. punctuation */
#define SMTP_RCPT_MIN	    100	 /* §4.5.3.1.8 recipients a server must accept at least */
#define SMTP_ADDR_BUF	    (SMTP_LOCAL_MAX + 1 + SMTP_DOMAIN_MAX + 1) /* local@domain + NUL */
#define SMTP_RELAY_TEXT_MAX 1024 /* backend reply kept for passthrough (bounded) */
#define SMTP_RELAY_PIPE	    16	 /* commands in flight toward the backend */

/* Session states; changed only by smtp_enter_state() (smtp_session.c). */
enum smtp_state {
	SMTP_ST_INIT = 0,  /* created, greeting not sent (greeting delay running) */
	SMTP_ST_CONNECTED, /* greeting sent, waiting for HELO/EHLO */
	SMTP_ST_HELO,	   /* HELO/EHLO done, no transaction */
	SMTP_ST_MAIL,	   /* MAIL accepted, no recipient yet */
	SMTP_ST_RCPT,	   /* at least one recipient accepted */
	SMTP_ST_DATA,	   /* 354 sent, reading the message */
	SMTP_ST_CLOSED,	   /* 221/421 sent or connection refused: no more input */
	SMTP_ST_MAX
};

/* Why the session is not consuming input right now. */
enum smtp_wait {
	SMTP_WAIT_NONE = 0, /* consuming */
	SMTP_WAIT_BACKEND,  /* the reply to the current command comes from the backend */
	SMTP_WAIT_TARPIT,   /* harvest tarpit: the command is processed at wait_until */
	SMTP_WAIT_TLS,	    /* 220 to STARTTLS sent: the transport runs the handshake */
	SMTP_WAIT_MAX
};

/* What to do with bare CR, bare LF and NUL (RFC 5321 §2.3.8; CVE-2023-51764 family). */
enum smtp_bare_mode {
	SMTP_BARE_REJECT = 0, /* DATA: 550 5.6.11 at end of data; commands: 500 5.5.2 */
	SMTP_BARE_NORMALIZE,  /* bare CR/LF become CRLF toward the backend, NUL is dropped */
	SMTP_BARE_MAX
};

/* Result of feeding the command-line parser. */
enum smtp_line_flags {
	SMTP_LINE_TOO_LONG = 1u << 0, /* longer than SMTP_CMD_LINE_MAX: content discarded */
	SMTP_LINE_BARE_LF = 1u << 1,  /* ended by LF without CR */
	SMTP_LINE_BARE_CR = 1u << 2,  /* contained a CR not followed by LF */
	SMTP_LINE_NUL = 1u << 3,      /* contained a NUL */
};

/* Resumable command-line parser: collects one line into a fixed buffer, never more. */
struct smtp_line {
	uint16_t len;	/* bytes stored in buf (excluding CRLF) */
	uint16_t flags; /* enum smtp_line_flags */
	uint32_t total; /* bytes seen on this line, including discarded ones */
	bool cr;	/* previous byte was CR */
	char buf[SMTP_CMD_LINE_MAX + 1];
};

/* DATA stream decoder states (see smtp_parse.c for the automaton). */
enum smtp_data_state {
	SMTP_DS_BOL = 0, /* at the start of a line after a real CRLF (or after 354) */
	SMTP_DS_DOT,	 /* "." seen at a real line start */
	SMTP_DS_DOT_CR,	 /* "." CR seen at a real line start */
	SMTP_DS_TEXT,	 /* inside a line */
	SMTP_DS_CR,	 /* CR seen inside a line */
	SMTP_DS_END,	 /* CRLF.CRLF seen: message complete */
	SMTP_DS_MAX
};

/* Flags the DATA decoder raises; any of them makes the message rejected at its end. */
enum smtp_data_flags {
	SMTP_DATA_BARE = 1u << 0,      /* bare CR, bare LF or NUL met in reject mode */
	SMTP_DATA_TOO_BIG = 1u << 1,   /* over the SIZE limit (RFC 1870 §6) */
	SMTP_DATA_LONG_LINE = 1u << 2, /* text line over 1000 octets (RFC 5321 §4.5.3.1.6) */
};

/* Output of the DATA decoder: canonical CRLF text, dot-stuffed (RFC 5321 §4.5.2). */
typedef void smtp_data_out_fn(void *arg, const char *p, size_t n);

struct smtp_data {
	uint8_t state;	    /* enum smtp_data_state */
	uint8_t flags;	    /* enum smtp_data_flags */
	uint8_t bare_mode;  /* enum smtp_bare_mode */
	bool out_bol;	    /* the emitted stream is at a line start (a '.' there needs stuffing) */
	bool discard;	    /* stop emitting (message rejected); keep looking for the end */
	uint32_t line_len;  /* octets of the current emitted line */
	uint64_t size;	    /* octets emitted (canonical form) */
	uint64_t max_size;  /* 0: unlimited */
	uint32_t n_bare_cr; /* counters for the decision record and stats */
	uint32_t n_bare_lf;
	uint32_t n_nul;
	smtp_data_out_fn *out; /* NULL: count and check only */
	void *out_arg;
};

/* Parsed RFC 5321 path (Reverse-path / Forward-path). */
enum smtp_addr_flags {
	SMTP_ADDR_NULL = 1u << 0,	/* "<>" */
	SMTP_ADDR_QUOTED = 1u << 1,	/* the local part was a Quoted-string */
	SMTP_ADDR_POSTMASTER = 1u << 2, /* "<Postmaster>" without domain (RFC 5321 §4.1.1.3) */
	SMTP_ADDR_LITERAL = 1u << 3,	/* domain is an address literal "[...]" */
};

struct smtp_addr {
	uint32_t flags;	    /* enum smtp_addr_flags */
	uint16_t local_len; /* unquoted local part length */
	uint16_t domain_len;
	char local[SMTP_LOCAL_MAX + 1];	  /* unquoted, NUL-terminated */
	char domain[SMTP_DOMAIN_MAX + 1]; /* as sent, NUL-terminated */
};

/* Errors of smtp_addr_parse() beyond plain syntax: the reply differs (DESIGN.md §4). */
#define SMTP_ADDR_EROUTE 1000 /* relay-bypass form: %, !, source route, extra or quoted @ */
/* smtp_relay_rcpt(): the host lent no relay block (ops->blk_get); 451 4.3.0, not 4.4.1. */
#define SMTP_ENOBLK 1001

/* Reply ids: text, code and RFC 3463 enhanced code live in one table (smtp_reply.c). */
enum smtp_reply_id {
	SMTP_R_NONE = 0,	/* no reply */
	SMTP_R_GREETING,	/* 220 */
	SMTP_R_HELO,		/* 250 hostname */
	SMTP_R_OK,		/* 250 2.0.0 */
	SMTP_R_MAIL_OK,		/* 250 2.1.0 */
	SMTP_R_RCPT_OK,		/* 250 2.1.5 (policy-only mode, no backend) */
	SMTP_R_DATA_GO,		/* 354 */
	SMTP_R_BYE,		/* 221 2.0.0 */
	SMTP_R_VRFY,		/* 252 2.1.5: never discloses */
	SMTP_R_HELP,		/* 214 2.0.0 */
	SMTP_R_BLOCKED,		/* 554 5.7.1 connect from blocklisted source */
	SMTP_R_TOO_MANY_CONN,	/* 421 4.7.0 concurrency per source */
	SMTP_R_EARLY_TALKER,	/* 554 5.5.1 talked before the greeting */
	SMTP_R_SYNTAX,		/* 500 5.5.2 unrecognised command */
	SMTP_R_LINE_TOO_LONG,	/* 500 5.5.2 line too long */
	SMTP_R_BARE_CMD,	/* 500 5.5.2 bare CR/LF/NUL in a command */
	SMTP_R_PARAM_SYNTAX,	/* 501 5.5.4 argument syntax */
	SMTP_R_NOT_IMPL,	/* 502 5.5.1 command not implemented */
	SMTP_R_BAD_SEQ,		/* 503 5.5.1 bad sequence */
	SMTP_R_NEED_HELO,	/* 503 5.5.1 send HELO/EHLO first */
	SMTP_R_NESTED_MAIL,	/* 503 5.5.1 nested MAIL */
	SMTP_R_NEED_MAIL,	/* 503 5.5.1 need MAIL before RCPT */
	SMTP_R_MAIL_SYNTAX,	/* 501 5.1.7 bad sender address syntax */
	SMTP_R_MAIL_PARAM,	/* 555 5.5.4 unsupported MAIL parameter */
	SMTP_R_RCPT_PARAM,	/* 555 5.5.4 unsupported RCPT parameter */
	SMTP_R_SIZE_EXCEEDED,	/* 552 5.3.4 message size exceeds limit */
	SMTP_R_RCPT_SYNTAX,	/* 501 5.1.3 bad recipient address syntax */
	SMTP_R_RELAY_BYPASS,	/* 550 5.7.1 source routes and %/! not accepted */
	SMTP_R_RELAY_DENIED,	/* 554 5.7.1 relay access denied */
	SMTP_R_NULL_MULTI,	/* 550 5.7.1 multi-recipient bounce */
	SMTP_R_BATV_INVALID,	/* 550 5.7.1 invalid bounce (no valid BATV tag) */
	SMTP_R_NEVER_BOUNCE,	/* 550 5.7.1 address accepts no bounces */
	SMTP_R_UNKNOWN_USER,	/* 550 5.1.1 user unknown */
	SMTP_R_DIR_STALE,	/* 450 4.1.1 directory unavailable */
	SMTP_R_TOO_MANY_RCPT,	/* 452 4.5.3 too many recipients */
	SMTP_R_HARVEST,		/* 421 4.7.0 too many invalid recipients, closing */
	SMTP_R_TOO_MANY_ERRORS, /* 421 4.7.0 too many errors, closing */
	SMTP_R_NO_RCPT,		/* 554 5.5.1 no valid recipients */
	SMTP_R_DATA_BARE,	/* 550 5.6.11 bare CR/LF/NUL in message */
	SMTP_R_DATA_LONG_LINE,	/* 550 5.6.0 text line too long */
	SMTP_R_TIMEOUT,		/* 421 4.4.2 idle timeout, closing */
	SMTP_R_BACKEND_FAIL,	/* 451 4.4.1 backend unavailable */
	SMTP_R_BACKEND_TIMEOUT, /* 421 4.4.2 backend timeout, closing */
	SMTP_R_STARTTLS,	/* 502 5.5.1 STARTTLS not offered */
	SMTP_R_TLS_GO,		/* 220 2.0.0 ready to start TLS (RFC 3207 §4) */
	SMTP_R_TLS_UNAVAIL,	/* 454 4.7.0 TLS not available (slots, rate limit) */
	SMTP_R_TLS_ACTIVE,	/* 503 5.5.1 TLS already active */
	SMTP_R_AUTH,		/* 502 5.5.1 AUTH not offered */
	SMTP_R_BDAT,		/* 502 5.5.1 BDAT/CHUNKING not offered */
	SMTP_R_OUT_SENDER,	/* 550 5.7.1 outbound sender not in our domains */
	SMTP_R_OUT_NULL_SENDER, /* 550 5.7.1 outbound null sender from a non-backend */
	SMTP_R_OUT_RATE,	/* 451 4.7.1 outbound rate limit exceeded */
	SMTP_R_OUT_NDR,		/* 550 5.7.1 outbound bounce refused (NDR limit) */
	SMTP_R_OUT_NDR_TEMP,	/* 451 4.7.1 outbound bounce deferred (NDR limit, 4xx option) */
	SMTP_R_BTLS_NEEDED,	/* 451 4.7.4 TLS required, backend offers none */
	SMTP_R_BTLS_FAIL,	/* 451 4.7.5 TLS handshake with the backend failed */
	SMTP_R_NO_MEM,		/* 451 4.3.0 no session memory for a transaction, try later */
	SMTP_R_NO_MEM_CLOSE,	/* 421 4.3.2 no session memory to read commands, closing */
	SMTP_R_HELO_SYNTAX,	/* 501 5.5.2 HELO/EHLO argument not a hostname or literal */
	SMTP_R_MAX
};

struct smtp_reply_def {
	uint16_t code;	 /* RFC 5321 §4.2 reply code */
	const char *enh; /* RFC 3463 enhanced status code, NULL for 220/221-style banners */
	const char *text;
	bool close;	  /* the session closes after sending it */
	const char *line; /* the whole reply line with CRLF; NULL when it carries the hostname */
	uint16_t line_len;
};

/* Engine counters, owner-written (one block per lcore), read relaxed by exporters. */
enum smtp_stat_id {
	SMTP_STAT_SESSIONS = 0,	   /* sessions started */
	SMTP_STAT_COMMANDS,	   /* command lines parsed */
	SMTP_STAT_LINE_TOO_LONG,   /* command lines over 512 */
	SMTP_STAT_BARE_CMD,	   /* command lines with bare CR/LF/NUL */
	SMTP_STAT_UNKNOWN_CMD,	   /* unrecognised commands */
	SMTP_STAT_ERRORS_CLOSE,	   /* sessions closed for too many errors */
	SMTP_STAT_TIMEOUTS,	   /* idle timeouts */
	SMTP_STAT_MESSAGES,	   /* messages relayed to the end of data */
	SMTP_STAT_DATA_BARE,	   /* messages with bare CR/LF/NUL */
	SMTP_STAT_DATA_TOO_BIG,	   /* messages over SIZE */
	SMTP_STAT_BACKEND_OPEN,	   /* backend connections requested */
	SMTP_STAT_BACKEND_FAIL,	   /* backend failures mapped to 451 4.4.1 */
	SMTP_STAT_BACKEND_TIMEOUT, /* backend timeouts mapped to 421 4.4.2 */
	SMTP_STAT_BACKEND_REFUSED, /* recipients accepted by policy, refused by backend */
	SMTP_STAT_DELIVERED,	   /* messages the backend accepted at the end of data */
	SMTP_STAT_OUT_SESSIONS,	   /* sessions on the internal (outbound) listener */
	SMTP_STAT_OUT_BATV_SIGNED, /* outbound envelope senders BATV-signed */
	SMTP_STAT_OUT_NDR_PASSED,  /* outbound null-sender recipients let through */
	SMTP_STAT_NO_MEM,	   /* borrowed blocks refused by the host (451 4.3.0, 421 4.3.2) */
	SMTP_STAT_LINE_TIMEOUT,	  /* of the timeouts: a command line left unfinished (slow loris) */
	SMTP_STAT_SRC_TABLE_FULL, /* sessions refused: the host could not count their source */
	SMTP_STAT_MAX
};

struct smtp_stats {
	uint64_t c[SMTP_STAT_MAX];
	uint64_t rule[POLICY_RULE_MAX][POLICY_OUTCOME_MAX]; /* policy decisions */
} __attribute__((aligned(64)));

/* Engine configuration; read-only while sessions use it. */
struct smtp_conf {
	char hostname[SMTP_DOMAIN_MAX + 1]; /* our name in greeting and EHLO */
	uint64_t max_size;		    /* SIZE (RFC 1870); 0: no limit, not advertised */
	uint32_t max_rcpt;		    /* accepted recipients per transaction (>= 100) */
	uint32_t max_errors;		    /* error replies before 421 4.7.0 */
	uint32_t max_junk;		    /* unknown commands before 421 4.7.0 */
	uint32_t greet_delay_ms;	    /* early-talker window; 0: greet at once */
	uint32_t timeout_cmd_ms;	    /* RFC 5321 §4.5.3.2.7: 5 min between commands */
	uint32_t timeout_data_ms;	    /* §4.5.3.2.5: 3 min between data blocks */
	uint32_t timeout_backend_ms;	    /* one backend command round trip */
	uint32_t timeout_backend_dot_ms;    /* §4.5.3.2.6: 10 min for the final reply */
	uint8_t bare_mode;		    /* enum smtp_bare_mode */
	bool proxy;			    /* relay accepted transactions to a backend */
	bool starttls;			    /* offer STARTTLS (RFC 3207): ops->starttls set */
};

/* Backend client. */
enum smtp_relay_state {
	SMTP_RL_IDLE = 0,   /* no backend connection */
	SMTP_RL_CONNECTING, /* backend_open asked, waiting for connected/greeting */
	SMTP_RL_READY,	    /* greeted and EHLO done, no transaction */
	SMTP_RL_TXN,	    /* MAIL sent */
	SMTP_RL_DATA,	    /* 354 received: streaming */
	SMTP_RL_FAILED,	    /* closed after a failure */
	SMTP_RL_TLS,	    /* 220 to STARTTLS: the transport runs the TLS handshake */
	SMTP_RL_MAX
};

/* Commands in flight toward the backend, answered in order (RFC 2920 §3.1). */
enum smtp_relay_cmd {
	SMTP_RC_GREETING = 0, /* the 220 banner */
	SMTP_RC_EHLO,
	SMTP_RC_HELO, /* fallback when EHLO is refused */
	SMTP_RC_MAIL,
	SMTP_RC_RCPT,
	SMTP_RC_DATA,
	SMTP_RC_DOT, /* end of data */
	SMTP_RC_RSET,
	SMTP_RC_QUIT,
	SMTP_RC_STARTTLS, /* RFC 3207 toward the backend */
	SMTP_RC_MAX
};

enum smtp_relay_caps {
	SMTP_RCAP_PIPELINING = 1u << 0, /* RFC 2920 */
	SMTP_RCAP_SIZE = 1u << 1,	/* RFC 1870 */
	SMTP_RCAP_8BITMIME = 1u << 2,	/* RFC 6152 */
	SMTP_RCAP_STARTTLS = 1u << 3,	/* RFC 3207 */
};

/* STARTTLS policy toward a backend (ndrguard.conf(5) 'backend ... tls MODE'). */
enum smtp_btls_mode {
	SMTP_BTLS_NONE = 0, /* never: plaintext even when offered */
	SMTP_BTLS_MAY,	    /* opportunistic (RFC 7435): TLS when offered, else plaintext */
	SMTP_BTLS_ENCRYPT,  /* required: no STARTTLS or no handshake, no delivery (451 4.7.x) */
	SMTP_BTLS_MODE_MAX
};

/* What the relay does after an EHLO on a plaintext backend connection. */
enum smtp_btls_act {
	SMTP_BTLS_ACT_PLAIN = 0, /* go on in plaintext */
	SMTP_BTLS_ACT_STARTTLS,	 /* send STARTTLS */
	SMTP_BTLS_ACT_FAIL,	 /* TLS required and not offered: 451 4.7.4 */
	SMTP_BTLS_ACT_MAX
};

/* Backend TLS events the relay reports through ops->backend_tls(). */
enum smtp_btls_ev {
	SMTP_BTLS_EV_GO = 0,	  /* 220 to STARTTLS: switch the connection to TLS now */
	SMTP_BTLS_EV_PLAIN,	  /* the connection goes on in plaintext (none, or not offered) */
	SMTP_BTLS_EV_NOT_OFFERED, /* TLS required, STARTTLS not offered: transaction refused */
	SMTP_BTLS_EV_REFUSED,	  /* STARTTLS answered with something else than 220 */
	SMTP_BTLS_EV_FALLBACK,	  /* handshake failed under 'may': reconnecting in plaintext */
	SMTP_BTLS_EV_MAX
};

/* Resumable parser of backend replies, single- and multi-line (RFC 5321 §4.2.1). */
struct smtp_reply_parser {
	uint16_t code;	   /* code of the first line; 0 before it */
	uint16_t text_len; /* bytes in text */
	uint16_t line_len; /* bytes of the current line seen so far */
	uint8_t nlines;
	bool cr;
	bool bad;			/* malformed: codes differ, short line, junk */
	bool last;			/* current line is "ddd " (final) */
	char line_head[4];		/* first 4 bytes of the current line */
	char text[SMTP_RELAY_TEXT_MAX]; /* whole reply, CRLF-separated lines */
};

struct smtp_relay {
	uint8_t state; /* enum smtp_relay_state */
	uint8_t caps;  /* enum smtp_relay_caps */
	uint8_t head;  /* ring of commands in flight */
	uint8_t count;
	uint8_t pipe[SMTP_RELAY_PIPE];
	bool rcpt_pending; /* RCPT to send once MAIL is accepted (backend without PIPELINING) */
	bool tls;	   /* the backend connection runs over TLS */
	bool tls_off;	   /* this connection is a plaintext retry after a failed handshake */
	uint8_t tls_mode;  /* enum smtp_btls_mode of the connection, from ops->backend_tls_mode */
	uint64_t deadline; /* 0: nothing outstanding */
	struct smtp_reply_parser rp;
};

/* Per-transaction state (MAIL .. end of data/RSET). */
struct smtp_txn {
	uint32_t nrcpt;	     /* recipients accepted (by policy and backend) */
	uint32_t nrcpt_seen; /* RCPT commands in this transaction */
	uint64_t size_decl;  /* MAIL SIZE= (RFC 1870) */
	bool null_sender;
	bool body_8bit;
	bool backend_failed; /* backend lost while streaming: 451 at the end of data */
	uint8_t rcpt_rule;   /* enum policy_rule that accepted txn.rcpt */
	uint16_t sender_len;
	char sender[SMTP_ADDR_BUF]; /* raw sender address (for the record and the backend) */
	uint16_t sender_out_len;    /* 0: the backend gets <sender> */
	char sender_out[SMTP_ADDR_BUF + 16]; /* outbound: BATV-signed sender for the smarthost */
	uint16_t rcpt_len;
	uint8_t rcpt_skip;	  /* leading bytes of <rcpt> not sent (a BATV tag) */
	char rcpt[SMTP_ADDR_BUF]; /* recipient waiting for a backend reply */
	struct smtp_data data;	  /* DATA decoder (354 .. end of data) */
};

/*
 * Borrowed blocks: the big parts of a session live in fixed-size blocks the host lends
 * (ops->blk_get/blk_put) only while they are needed, so an idle session (greeted, between
 * commands, no transaction, no backend) holds none. The engine returns them at the end of
 * every entry point that leaves them unused (smtp_session.c smtp_session_settle()).
 */
enum smtp_blk_kind {
	SMTP_BLK_LINE = 0, /* struct smtp_line: a command line being read, or held (tarpit) */
	SMTP_BLK_TXN,	   /* struct smtp_txn: MAIL .. end of data, RSET or a new HELO */
	SMTP_BLK_RELAY,	   /* struct smtp_relay: a backend connection is open */
	SMTP_BLK_MAX
};

/* Transport callbacks. Replies must be batched by the transport until feed returns
 * (RFC 2920 §3.1: the server flushes when it has no more input to process). */
struct smtp_ops {
	void (*reply)(void *arg, const char *p, size_t n);	      /* bytes to the client */
	void (*close)(void *arg);				      /* close after replies */
	int (*backend_open)(void *arg);				      /* 0 or -Exxx */
	void (*backend_send)(void *arg, const char *p, size_t n);     /* bytes to the backend */
	void (*backend_close)(void *arg);			      /* abort/close backend */
	void (*decision)(void *arg, const struct policy_decision *d); /* may be NULL */
	/* STARTTLS accepted by the engine: reserve TLS state. 0, or -Exxx for 454 4.7.0. The
	 * 220 follows through reply(); the transport switches after feed returns and drops
	 * the client's bytes that came after the command (RFC 3207 §4.2). May be NULL. */
	int (*starttls)(void *arg);
	/* The backend said 354: trace header lines may go to backend_send now. May be NULL. */
	void (*data_begin)(void *arg);
	/* STARTTLS policy (enum smtp_btls_mode) for the backend connection being set up, asked
	 * after each EHLO on a plaintext connection. May be NULL: never TLS. */
	uint8_t (*backend_tls_mode)(void *arg);
	/* Backend TLS event (enum smtp_btls_ev). On SMTP_BTLS_EV_GO the transport switches the
	 * backend connection to TLS and reports the handshake's end through
	 * smtp_session_backend_tls(); it returns 0, or -Exxx when it cannot (taken as a failed
	 * handshake). Other events are for counters. NULL with backend_tls_mode set: no TLS. */
	int (*backend_tls)(void *arg, uint8_t ev);
	/* Lend a block of kind <kind> (enum smtp_blk_kind), smtp_blk_size(kind) bytes, aligned
	 * for any member; its content is undefined. NULL when none is free: the engine answers
	 * 451 4.3.0 (transaction, backend) or 421 4.3.2 (command line) and counts it. */
	void *(*blk_get)(void *arg, uint8_t kind);
	/* Take back a block blk_get lent. */
	void (*blk_put)(void *arg, uint8_t kind, void *blk);
};

/* Per-connection state: small, resident for the connection's life. */
struct smtp_session {
	uint8_t state;	   /* enum smtp_state, via smtp_enter_state() */
	uint8_t wait;	   /* enum smtp_wait */
	bool esmtp;	   /* EHLO rather than HELO */
	bool line_held;	   /* tarpit: the current command waits in <line> until wait_until */
	bool tarpit_pass;  /* re-dispatching a held command: do not hold it again */
	bool tls;	   /* the session runs over TLS (STARTTLS completed) */
	bool relay_failed; /* no relay block: the last backend connection failed */
	bool out_backend;  /* outbound: the source is one of the backend MTAs */
	bool busy;	   /* inside an entry point: blocks are returned when it ends */
	uint16_t errors;   /* error replies */
	uint16_t junk;	   /* unknown commands */
	uint16_t helo_len;
	uint64_t now;		/* time of the last input, ms */
	int64_t wall_offset_ms; /* Unix time minus <now>: BATV tags count calendar days */
	uint64_t deadline;	/* idle timeout or greeting end, ms */
	uint64_t wait_until;	/* tarpit release, ms */
	const struct smtp_conf *conf;
	const struct smtp_ops *ops;
	void *arg;
	struct policy *pol;
	const struct out_conf *out; /* outbound (internal listener) session; NULL: inbound */
	struct smtp_stats *stats;
	struct smtp_line *line;	  /* borrowed while a command line is read or held */
	struct smtp_txn *txn;	  /* borrowed from MAIL to the end of the transaction */
	struct smtp_relay *relay; /* borrowed while a backend connection is open */
	struct policy_peer peer;
	char helo[SMTP_DOMAIN_MAX + 1];
};

/* A malloc-backed host for the borrowed blocks (smtp_mem.c): tests, fuzzers and tools. The
 * dataplane lends from per-lcore mempools instead (proxy_mem.c). */
struct smtp_blk_heap {
	uint32_t limit[SMTP_BLK_MAX];  /* blocks of each kind lent at once at most ... */
	bool capped[SMTP_BLK_MAX];     /* ... when set */
	uint32_t in_use[SMTP_BLK_MAX]; /* lent now */
	uint32_t peak[SMTP_BLK_MAX];   /* most lent at once */
	uint64_t lent[SMTP_BLK_MAX];   /* blocks lent */
	uint64_t fails[SMTP_BLK_MAX];  /* requests refused at the limit */
	bool recycle;		       /* keep returned blocks on a free list (else free()) */
	void *free[SMTP_BLK_MAX];      /* free lists, linked through each block's first word */
};

#endif /* NDG_DATAPLANE_SMTP_T_H */
