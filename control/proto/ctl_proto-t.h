/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Control protocol between ndrguard-control and ndrguard-dataplane (shared/DESIGN.md §5):
 * a Unix stream socket carrying length-prefixed frames, each with this versioned header.
 * The only control header the dataplane includes. Types only; both sides own their codecs.
 */
#ifndef NDG_CONTROL_PROTO_CTL_PROTO_T_H
#define NDG_CONTROL_PROTO_CTL_PROTO_T_H

#include <stdint.h>

/* Bumped on any incompatible change; a peer with another version is refused at HELLO. */
#define CTL_PROTO_VERSION 3

/* Largest frame, header included: bounds every read on both sides. */
#define CTL_PROTO_MAX_FRAME (1024u * 1024u)

/* ctl_msg_hdr.flags */
#define CTL_FLAG_REPLY (1u << 0) /* answer to the request with the same seq */

enum ctl_msg_type {
	CTL_MSG_NONE = 0,   /* never sent: catches zeroed frames */
	CTL_MSG_HELLO,	    /* version handshake, first frame each way */
	CTL_MSG_CONFIG,	    /* full configuration push */
	CTL_MSG_DIR_BEGIN,  /* start of a directory snapshot */
	CTL_MSG_DIR_ADD,    /* batch of address digests to add */
	CTL_MSG_DIR_DEL,    /* batch of address digests to remove */
	CTL_MSG_DIR_COMMIT, /* publish the snapshot or deltas (RCU swap) */
	CTL_MSG_BLOCK_ADD,  /* blocklist prefix with expiry */
	CTL_MSG_BLOCK_DEL,  /* blocklist prefix removal */
	CTL_MSG_STATS,	    /* counters request / reply */
	CTL_MSG_LOG,	    /* decision-record subscription and records */
	CTL_MSG_ERROR,	    /* request refused: errno-style code + text */
	CTL_MSG_CMD,	    /* ndrctl -> daemon: argv, NUL-separated */
	CTL_MSG_CMD_REPLY,  /* daemon -> ndrctl: struct ctl_cmd_reply + text */
	CTL_MSG_DIR_STATE,  /* directory trust: struct ctl_dir_state (integrity guard) */
	CTL_MSG_MAX
};

/* Wire header, little-endian, packed by construction (no padding). */
struct ctl_msg_hdr {
	uint16_t version; /* CTL_PROTO_VERSION */
	uint16_t type;	  /* enum ctl_msg_type */
	uint32_t len;	  /* payload bytes after this header */
	uint32_t seq;	  /* request id, echoed in the reply */
	uint32_t flags;	  /* per-type flags, 0 when unused */
};

/* Who speaks: carried in HELLO. */
enum ctl_role {
	CTL_ROLE_NONE = 0,  /* invalid */
	CTL_ROLE_CONTROL,   /* ndrguard-control */
	CTL_ROLE_DATAPLANE, /* ndrguard-dataplane */
	CTL_ROLE_CLI,	    /* ndrctl */
	CTL_ROLE_MAX
};

/*
 * HELLO payload. The generations are content digests, so a restarted control daemon with
 * the same configuration and directory sees that the dataplane needs no resync.
 */
struct ctl_hello {
	uint32_t role; /* enum ctl_role */
	uint32_t pid;
	uint64_t config_gen; /* digest of the CONFIG payload in force, 0: none */
	uint64_t dir_gen;    /* digest of the directory in force, 0: none */
	uint64_t dir_count;  /* addresses in force */
	uint32_t dir_stale;  /* 1: unknown recipients get 450 4.1.1 (integrity guard) */
	uint32_t reserved;
	char name[32]; /* program name, NUL-terminated */
};

/* DIR_BEGIN payload: a full snapshot of <count> addresses follows in DIR_ADD batches. */
struct ctl_dir_begin {
	uint64_t gen; /* digest the snapshot will have */
	uint64_t count;
	uint32_t full; /* 1: replaces everything; 0: deltas on the current set */
	uint32_t reserved;
};

/*
 * DIR_ADD / DIR_DEL payload: records of { uint16_t len; char addr[len]; } back to back,
 * each a normalised address ("local@domain", or "@domain" for a catch-all), no NUL.
 */
#define CTL_DIR_ADDR_MAX 256 /* RFC 5321 path limit */

/* DIR_STATE payload: whether the directory in force can be trusted to say "unknown". */
struct ctl_dir_state {
	uint32_t stale; /* 1: stale or a held shrink: 450 4.1.1 instead of 550 5.1.1 */
	uint32_t reserved;
};

/* DIR_COMMIT payload. */
struct ctl_dir_commit {
	uint64_t gen;
};

/* CMD_REPLY payload head; human-readable text (or JSON) follows. */
struct ctl_cmd_reply {
	int32_t status; /* ndrctl exit code: 0 ok, 1 negative answer or failure, 2 usage */
	uint32_t reserved;
};

/* ERROR payload head; text follows. */
struct ctl_error {
	int32_t err; /* negative errno */
	uint32_t reserved;
};

/* Status payload of a REPLY to CONFIG, DIR_COMMIT, BLOCK_*: 0 or a negative errno. */
struct ctl_status {
	int32_t err;
	uint32_t reserved;
};

/* Rules that can run in enforce or observe mode: index of ctl_config.modes[]. */
enum ctl_rule {
	CTL_RULE_BLOCKLIST = 0,	  /* connect: source in blocklist */
	CTL_RULE_CONCURRENCY,	  /* connect: too many connections from one source */
	CTL_RULE_EARLY_TALKER,	  /* greeting: client spoke before the banner */
	CTL_RULE_RELAY,		  /* RCPT: domain not accepted, client may not relay */
	CTL_RULE_RELAY_BYPASS,	  /* RCPT: %, !, source routes, extra @ */
	CTL_RULE_MULTI_BOUNCE,	  /* RCPT: null sender with a second recipient */
	CTL_RULE_BATV,		  /* RCPT: bounce without a valid BATV tag */
	CTL_RULE_NEVER_BOUNCE,	  /* RCPT: bounce to a never-bounce address */
	CTL_RULE_UNKNOWN_RCPT,	  /* RCPT: address not in the directory */
	CTL_RULE_HARVEST,	  /* any: invalid-recipient budget exceeded */
	CTL_RULE_OUT_RELAY,	  /* outbound RCPT: source neither internal nor a backend */
	CTL_RULE_OUT_SENDER,	  /* outbound MAIL: sender not ours, <> not from a backend */
	CTL_RULE_OUT_SENDER_RATE, /* outbound: sender address over its rate */
	CTL_RULE_OUT_HOST_RATE,	  /* outbound: source host over its rate */
	CTL_RULE_OUT_NDR,	  /* outbound RCPT: null sender over the NDR limit */
	CTL_RULE_MAX
};

/*
 * CONFIG payload: struct ctl_config, then n_domains struct ctl_config_domain, n_relay_nets
 * struct ctl_config_net, n_blocked struct ctl_config_net, n_never_bounce struct ctl_config_addr, n_batv_keys
 * struct ctl_config_batv_key, n_backend_tls struct ctl_config_backend_tls each followed by its
 * CA bytes, tls_n_certs struct ctl_config_tls_cert each followed by its
 * PEM bytes (certificate chain, then key). Enumerations carry the values of ndrguard.conf(5).
 * The PEM bytes travel in the payload, so a renewed certificate changes the configuration's
 * digest and a reload pushes it; the dataplane needs no access to the files.
 */
#define CTL_CONFIG_RULES    16
#define CTL_CONFIG_BACKENDS 8
#define CTL_CONFIG_NAME_MAX 256
#define CTL_TLS_CIPHERS_MAX 256
#define CTL_TLS_CERTS_MAX   4
#define CTL_TLS_PEM_MAX	    (64u * 1024u) /* one certificate chain or key */

struct ctl_config {
	uint32_t smtp_port;
	uint32_t max_recipients;
	uint64_t max_message_size;
	uint32_t max_errors;
	uint32_t greeting_delay_ms;
	uint32_t timeout_command_ms;
	uint32_t timeout_data_ms;
	uint32_t timeout_backend_ms; /* one backend command round trip */
	uint32_t max_conn_per_ip;
	uint32_t harvest_budget;
	uint32_t harvest_window_ms;
	uint32_t harvest_tarpit_ms;
	uint32_t bare_newline; /* 0 reject, 1 normalize */
	uint32_t n_domains;
	uint32_t n_relay_nets;
	uint32_t n_never_bounce;
	uint32_t n_batv_keys;
	uint32_t n_blocked;		 /* blocklisted networks, after the relay networks */
	uint8_t modes[CTL_CONFIG_RULES]; /* per rule: 0 enforce, 1 observe */
	char hostname[CTL_CONFIG_NAME_MAX];
	uint32_t tls_n_certs;		   /* 0: STARTTLS not offered */
	uint32_t tls_min_version;	   /* 0x0303 TLS 1.2, 0x0304 TLS 1.3 */
	uint32_t tls_handshake_timeout_ms; /* ClientHello to Finished */
	uint32_t tls_rate;		   /* handshakes/s per lcore, 0: no limit */
	uint32_t tls_burst;
	uint32_t tls_src_rate; /* handshakes/s per source address and lcore, 0: no limit */
	uint32_t tls_src_burst;
	uint32_t tls_reserved;
	char tls_ciphers[CTL_TLS_CIPHERS_MAX];	    /* TLS 1.2, OpenSSL syntax, "": default */
	char tls_ciphersuites[CTL_TLS_CIPHERS_MAX]; /* TLS 1.3, "": default */
	uint32_t n_backend_tls; /* struct ctl_config_backend_tls after the BATV keys */
	uint32_t backend_tls_reserved;
};

struct ctl_config_tls_cert {
	uint32_t cert_len; /* PEM certificate chain bytes that follow, leaf first */
	uint32_t key_len;  /* PEM private key bytes after them */
};

struct ctl_config_backend {
	uint32_t ip; /* network byte order */
	uint16_t port;
	uint16_t tls; /* 0: opportunistic STARTTLS, unauthenticated; i + 1: backend TLS policy i */
};

/*
 * Backend TLS policy (ndrguard.conf(5) 'backend ... tls MODE ...'), n_backend_tls of them after
 * the BATV keys, each followed by ca_len bytes of PEM CA certificates (0: the system store
 * when verify is set). The dataplane needs no access to the CA file.
 */
#define CTL_CONFIG_BACKEND_TLS_MAX 64

struct ctl_config_backend_tls {
	uint32_t mode;			/* 0 none, 1 may, 2 encrypt */
	uint32_t verify;		/* 1: chain against the CA, certificate name against name */
	uint32_t min_version;		/* 0x0303 TLS 1.2, 0x0304 TLS 1.3, 0: 1.2 */
	uint32_t ca_len;		/* PEM bytes that follow */
	char name[CTL_CONFIG_NAME_MAX]; /* expected name (and SNI), "" none */
};

struct ctl_config_domain {
	char name[CTL_CONFIG_NAME_MAX]; /* lowercase, NUL-terminated */
	uint32_t batv;			/* 0 off, 1 require */
	uint32_t n_backends;
	struct ctl_config_backend backends[CTL_CONFIG_BACKENDS];
};

/* ctl_config_net.flags */
#define CTL_NET_F_EXTERNAL (1u << 0) /* relay network reachable from outside: not anti-spoofed */

struct ctl_config_net {
	uint32_t ip; /* network byte order */
	uint16_t plen;
	uint16_t flags; /* CTL_NET_F_*, relay networks only; 0 elsewhere */
};

struct ctl_config_addr {
	char addr[CTL_CONFIG_NAME_MAX]; /* normalised, NUL-terminated */
};

struct ctl_config_batv_key {
	uint32_t id; /* 0-9: the K digit of prvs=KDDDSSSSSS */
	uint32_t len;
	uint8_t key[64];
};

/*
 * Optional last section of CONFIG, after the BATV keys: the outbound path (DESIGN.md §4
 * "Outbound"): struct ctl_config_out, then n_nets struct ctl_config_net (internal networks)
 * and n_exempt struct ctl_config_addr (BATV exemptions: "user@domain" or "@domain").
 * A payload that ends after the BATV keys has no outbound path.
 */
#define CTL_OUT_PORTS 4

/* Rates of ctl_config_out.rate[], in this order. */
enum ctl_out_rate {
	CTL_OUT_RATE_SENDER_MSG = 0, /* messages per sender address */
	CTL_OUT_RATE_SENDER_RCPT,    /* recipients per sender address */
	CTL_OUT_RATE_HOST_MSG,	     /* messages per source host */
	CTL_OUT_RATE_HOST_RCPT,	     /* recipients per source host */
	CTL_OUT_RATE_NDR_DOMAIN,     /* null-sender recipients per destination domain */
	CTL_OUT_RATE_NDR_TOTAL,	     /* null-sender recipients in total */
	CTL_OUT_RATE_MAX
};

struct ctl_config_rate {
	uint32_t count;	 /* units per period; 0: no limit */
	uint32_t per_ms; /* the period */
	uint32_t burst;	 /* units at once; 0: count */
};

struct ctl_config_out {
	uint32_t enabled;
	uint32_t n_ports;
	uint16_t ports[CTL_OUT_PORTS]; /* internal listener ports */
	uint32_t addr;		       /* listener address, network byte order; 0: backend side */
	uint32_t n_smarthosts;
	struct ctl_config_backend smarthosts[CTL_CONFIG_BACKENDS];
	uint32_t batv_sign;    /* 1: sign envelope senders with the first BATV key */
	uint32_t ndr_mode;     /* 0: limit, 1: refuse every null-sender recipient */
	uint32_t ndr_tempfail; /* 1: 451 4.7.1 over the limit instead of 550 5.7.1 */
	uint32_t n_nets;
	uint32_t n_exempt;
	uint32_t reserved;
	struct ctl_config_rate rate[CTL_OUT_RATE_MAX];
};

/*
 * LOG: a request with an empty payload subscribes the connection it arrives on (answered
 * with a REPLY ctl_status); from then on the dataplane sends LOG frames (flags 0) whose
 * payload is struct ctl_log_rec records back to back. Strings are NUL-terminated, cut to fit.
 */
#define CTL_LOG_HELO_MAX 64
#define CTL_LOG_ADDR_MAX 256
#define CTL_LOG_RULE_MAX 24

/*
 * ctl_log_rec.flags. PEER_ACKED: when the decision was made, the client had acknowledged data
 * we sent (more than our SYN), so its address is not forged; a verdict against the address
 * (an XDP block) is taken only from such records (DESIGN.md §3 "Hostile peers").
 */
#define CTL_LOG_F_PEER_ACKED (1u << 0)

struct ctl_log_rec {
	uint64_t time_ms;	     /* Unix time, ms */
	uint32_t client_ip;	     /* IPv4, network byte order */
	uint8_t outcome;	     /* 0 accept, 1 reject, 2 observe (would have rejected) */
	uint8_t flags;		     /* CTL_LOG_F_* */
	uint16_t code;		     /* reply code sent */
	char enh[8];		     /* enhanced status code sent, "" when none */
	char rule[CTL_LOG_RULE_MAX]; /* rule that decided */
	char helo[CTL_LOG_HELO_MAX];
	char sender[CTL_LOG_ADDR_MAX]; /* "" for the null sender */
	char rcpt[CTL_LOG_ADDR_MAX];   /* "" for session-level decisions */
	char tls_version[8];	       /* "TLSv1.3" when the session runs over TLS, else "" */
	char tls_cipher[40];	       /* "TLS_AES_256_GCM_SHA384", "" without TLS */
	char backend_tls[8];	       /* "TLSv1.3" when the backend hop runs over TLS */
};

/*
 * RCPT reply latency histogram, as the dataplane exports it in its STATS text: log-linear
 * buckets over nanoseconds, two per power of two. Bucket 0 holds values below
 * 2^CTL_HIST_MIN_LOG2 ns; bucket i >= 1 holds [2^e + s * 2^(e-1), 2^e + (s + 1) * 2^(e-1))
 * with e = CTL_HIST_MIN_LOG2 + (i - 1) / 2 and s = (i - 1) % 2. Values past the last bucket
 * are only in the count and the sum. STATS lines: "rcpt_reply_bucket_<i> <n>" (non-empty
 * buckets only), "rcpt_reply_count <n>", "rcpt_reply_sum_ns <n>".
 */
#define CTL_HIST_MIN_LOG2 7  /* 128 ns */
#define CTL_HIST_BUCKETS  57 /* up to 2^35 ns, 34 s */

#endif /* NDG_CONTROL_PROTO_CTL_PROTO_T_H */
