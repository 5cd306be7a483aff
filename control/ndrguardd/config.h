/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The configuration model of ndrguard.conf(5): what the grammar (parse.y) fills, what
 * validation checks and what the daemon pushes to the dataplane. Built and read by the main
 * thread only; a reload builds a new one aside and swaps it in when it is valid.
 */
#ifndef NDG_CONTROL_CONFIG_H
#define NDG_CONTROL_CONFIG_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/queue.h>

#include "config_out.h"
#include "config_btls.h"
#include "config_tls.h"
#include "config_xdp.h"
#include "lsrc-t.h"

#define CONF_NAME_MAX	  255 /* RFC 5321 §4.5.3.1.2 domain length */
#define CONF_ADDR_MAX	  256 /* RFC 5321 §4.5.3.1.3 path length */
#define CONF_MAX_BACKENDS 8   /* per domain, tried in order (failover) */
#define CONF_PATH_MAX	  4096

enum conf_mode {
	CONF_MODE_ENFORCE = 0, /* reject what the rule matches */
	CONF_MODE_OBSERVE,     /* only log and count what it would reject */
	CONF_MODE_MAX
};

/* Policy rules of shared/DESIGN.md §4 that can be switched between enforce and observe;
 * the same order as enum ctl_rule of the control protocol. */
enum conf_rule {
	CONF_RULE_BLOCKLIST = 0,   /* connect: source in blocklist */
	CONF_RULE_CONCURRENCY,	   /* connect: too many connections from one source */
	CONF_RULE_EARLY_TALKER,	   /* greeting: client spoke before the banner */
	CONF_RULE_RELAY,	   /* RCPT: domain not accepted, client may not relay */
	CONF_RULE_RELAY_BYPASS,	   /* RCPT: %, !, source routes, extra @ */
	CONF_RULE_MULTI_BOUNCE,	   /* RCPT: null sender with a second recipient */
	CONF_RULE_BATV,		   /* RCPT: bounce without a valid BATV tag */
	CONF_RULE_NEVER_BOUNCE,	   /* RCPT: bounce to a never-bounce address */
	CONF_RULE_UNKNOWN_RCPT,	   /* RCPT: address not in the directory */
	CONF_RULE_HARVEST,	   /* any: invalid-recipient budget exceeded */
	CONF_RULE_OUT_RELAY,	   /* outbound RCPT: source neither internal nor a backend */
	CONF_RULE_OUT_SENDER,	   /* outbound MAIL: sender not ours, <> not from a backend */
	CONF_RULE_OUT_SENDER_RATE, /* outbound: sender address over its rate */
	CONF_RULE_OUT_HOST_RATE,   /* outbound: source host over its rate */
	CONF_RULE_OUT_NDR,	   /* outbound RCPT: null sender over the NDR limit */
	CONF_RULE_MAX
};

enum conf_bare_nl {
	CONF_BARE_NL_REJECT = 0, /* bare CR/LF/NUL: 550 5.6.11 and abort */
	CONF_BARE_NL_NORMALIZE,	 /* re-encode as CRLF, drop NUL */
	CONF_BARE_NL_MAX
};

enum conf_batv {
	CONF_BATV_OFF = 0, /* bounces not checked */
	CONF_BATV_REQUIRE, /* bounces to this domain must carry a valid prvs= tag */
	CONF_BATV_MAX
};

struct conf_backend {
	uint32_t ip; /* IPv4, network byte order */
	uint16_t port;
	uint16_t tls; /* 0: opportunistic STARTTLS; i + 1: policy btls.p[i] */
};

struct conf_domain {
	TAILQ_ENTRY(conf_domain) entry;
	char name[CONF_NAME_MAX + 1]; /* lowercase, no trailing dot */
	unsigned int n_backends;
	struct conf_backend backends[CONF_MAX_BACKENDS];
	enum conf_batv batv;
	int line; /* where it was defined, for messages */
};

struct conf_net {
	TAILQ_ENTRY(conf_net) entry;
	uint32_t ip; /* network byte order, host bits zero */
	uint8_t plen;
	bool external; /* 'relay network ... external': its hosts reach us from outside */
	int line;      /* where it was defined, for messages */
};

struct conf_str {
	TAILQ_ENTRY(conf_str) entry;
	char s[CONF_PATH_MAX];
};

struct conf_batv_key {
	TAILQ_ENTRY(conf_batv_key) entry;
	unsigned int id; /* 0-9, the K digit of prvs=KDDDSSSSSS */
	uint8_t key[64];
	unsigned int len;
};

TAILQ_HEAD(conf_domain_list, conf_domain);
TAILQ_HEAD(conf_net_list, conf_net);
TAILQ_HEAD(conf_str_list, conf_str);
TAILQ_HEAD(conf_batv_key_list, conf_batv_key);

struct ndg_conf {
	char path[CONF_PATH_MAX]; /* the file it came from */
	char hostname[CONF_NAME_MAX + 1];
	uint16_t smtp_port;
	char control_socket[CONF_PATH_MAX];
	char dataplane_socket[CONF_PATH_MAX];
	char snapshot_path[CONF_PATH_MAX];
	char decision_log[CONF_PATH_MAX]; /* JSON lines, one per decision */
	char metrics_listen[64];	  /* "A.B.C.D:PORT" for /metrics, "" off */
	uint32_t dir_sync_interval_ms;	  /* re-read the sources this often */
	uint32_t dir_max_age_ms;	  /* older than this without a good sync: stale */
	uint32_t dir_max_shrink_pct;	  /* a sync removing more than this share is held */
	bool decision_journal; /* records also to journald under systemd, else to stderr */

	/* limits, RFC 5321 §4.5.3.1 minimums enforced by validation */
	uint32_t max_recipients;
	uint64_t max_message_size;
	uint32_t max_errors;
	uint32_t greeting_delay_ms;
	uint32_t timeout_command_ms;
	uint32_t timeout_data_ms;
	uint32_t timeout_backend_ms;
	uint32_t max_conn_per_ip;

	/* harvest defence */
	uint32_t harvest_budget;
	uint32_t harvest_window_ms;
	uint32_t harvest_tarpit_ms;

	enum conf_bare_nl bare_newline;
	enum conf_mode modes[CONF_RULE_MAX];

	struct conf_domain_list domains;
	struct conf_net_list relay_nets;
	struct conf_net_list blocked; /* 'block network': refused at connect */
	struct conf_str_list dir_files;
	struct lsrc_conf_list ldap_sources; /* directory ldap NAME { ... } */
	struct conf_str_list never_bounce;
	struct conf_batv_key_list batv_keys;
	struct conf_xdp xdp; /* 'xdp KEY VALUE' (config_xdp.c) */
	struct conf_out out; /* 'outbound { ... }' (config_out.c) */
	struct conf_tls tls; /* 'tls ...' (config_tls.c) */

	/* 'backend ... tls ...' policies (config_btls.c) */
	struct conf_btls btls;
};

/**
 * A configuration with every default set and empty lists. @return NULL on ENOMEM.
 */
struct ndg_conf *conf_new(void);

/** Free <c> and everything it holds; NULL is fine. */
void conf_free(struct ndg_conf *c);

/**
 * Parse the file <path> into a new configuration and validate it.
 * Errors are written to <errf> as "path:line: message" lines.
 * @return the configuration, or NULL when the file cannot be read or has errors.
 */
struct ndg_conf *conf_load(const char *path, FILE *errf);

/**
 * Cross-field checks after parsing (limits within RFC bounds, every domain has a backend,
 * no duplicate domains). Problems go to <errf>. @return the number of errors.
 */
int conf_validate(const struct ndg_conf *c, FILE *errf);

/** Find the accepted domain <name> (case-insensitive). @return it, or NULL. */
const struct conf_domain *conf_domain_find(const struct ndg_conf *c, const char *name);

/** Stable names, for messages and ndrctl: "enforce", "relay", ... */
const char *conf_mode_name(enum conf_mode m);
const char *conf_rule_name(enum conf_rule r);

/**
 * Parse "<n>[K|M|G]" into bytes, "<n>[ms|s|m|h]" into milliseconds (bare number: seconds),
 * "A.B.C.D[/len]" into a network. @return 0 or -EINVAL (-ERANGE when it overflows).
 */
int conf_parse_size(const char *s, uint64_t *out);
int conf_parse_duration(const char *s, uint32_t *out_ms);
int conf_parse_net(const char *s, uint32_t *ip, uint8_t *plen);

#endif /* NDG_CONTROL_CONFIG_H */
