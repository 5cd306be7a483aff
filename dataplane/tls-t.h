/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Types of the TLS glue (tls.c): a refcounted context (OpenSSL SSL_CTX) built from PEM bytes,
 * the per-connection state over two memory BIOs, failure reasons and the token bucket that
 * rate-limits handshakes. No DPDK type and no OpenSSL header here: OpenSSL objects are
 * named by their struct tags. One tls_conn belongs to one thread; a tls_ctx is shared.
 */
#ifndef NDG_DATAPLANE_TLS_T_H
#define NDG_DATAPLANE_TLS_T_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TLS_CERTS_MAX	  4	      /* certificate/key pairs per context (ECDSA, RSA, ...) */
#define TLS_CIPHERS_MAX	  256	      /* cipher list strings, NUL included */
#define TLS_IN_MAX	  (18u << 10) /* ciphertext held in the read BIO: one full record */
#define TLS_VERSION_TLS12 0x0303      /* RFC 5246 */
#define TLS_VERSION_TLS13 0x0304      /* RFC 8446 */

struct ssl_st;
struct ssl_ctx_st;
struct bio_st;

/* Why a handshake or a TLS session failed: counters and decision records. */
enum tls_fail {
	TLS_FAIL_NONE = 0,    /* no failure */
	TLS_FAIL_PROTOCOL,    /* no common protocol version (e.g. a TLS 1.1 client) */
	TLS_FAIL_CIPHER,      /* no shared cipher, group or signature algorithm */
	TLS_FAIL_MALFORMED,   /* not TLS, or a malformed/truncated handshake message */
	TLS_FAIL_CERT,	      /* peer certificate refused (client role) */
	TLS_FAIL_PEER_CLOSED, /* the peer closed or alerted during the handshake */
	TLS_FAIL_TIMEOUT,     /* handshake not finished in time (set by the caller) */
	TLS_FAIL_RATE,	      /* refused by the handshake rate limits (set by the caller) */
	TLS_FAIL_NO_SLOT,     /* refused: TLS slot pool empty (set by the caller) */
	TLS_FAIL_INTERNAL,    /* out of memory or library error */
	TLS_FAIL_MAX
};

enum tls_role {
	TLS_ROLE_SERVER = 0, /* SSL_accept side (inbound STARTTLS) */
	TLS_ROLE_CLIENT,     /* SSL_connect side (STARTTLS toward a backend) */
	TLS_ROLE_MAX
};

/* One certificate chain and its key, PEM text (leaf first, then intermediates). */
struct tls_cert_pem {
	const char *cert;
	size_t cert_len;
	const char *key;
	size_t key_len;
};

/* Server context settings; strings empty: the safe defaults of tls.c. */
struct tls_server_conf {
	uint16_t min_version;		    /* TLS_VERSION_TLS12 or TLS_VERSION_TLS13 */
	char ciphers[TLS_CIPHERS_MAX];	    /* TLS 1.2 cipher list (OpenSSL syntax) */
	char ciphersuites[TLS_CIPHERS_MAX]; /* TLS 1.3 ciphersuites */
	unsigned int n_certs;
	struct tls_cert_pem certs[TLS_CERTS_MAX];
};

/* Client context settings (backend side). */
struct tls_client_conf {
	uint16_t min_version;
	bool verify;	/* check the peer's chain against ca (and the name given at init) */
	const char *ca; /* PEM CA certificates, NULL: the system store when verify */
	size_t ca_len;
	char ciphers[TLS_CIPHERS_MAX];
	char ciphersuites[TLS_CIPHERS_MAX];
};

/* A context shared by every connection of every thread that holds a reference. */
struct tls_ctx {
	struct ssl_ctx_st *ssl_ctx;
	uint32_t refs; /* atomic */
	uint8_t role;  /* enum tls_role */
};

enum tls_conn_state {
	TLS_CS_NONE = 0,  /* not initialised, or finished */
	TLS_CS_HANDSHAKE, /* handshake in progress */
	TLS_CS_OPEN,	  /* application data both ways */
	TLS_CS_FAILED,	  /* fatal error: only the pending output (an alert) remains */
	TLS_CS_MAX
};

/* One connection's TLS state: exists only while the connection is in TLS. */
struct tls_conn {
	struct ssl_st *ssl;
	struct bio_st *rbio; /* ciphertext received, not yet processed */
	struct bio_st *wbio; /* ciphertext produced, not yet sent */
	struct tls_ctx *ctx; /* referenced */
	uint8_t state;	     /* enum tls_conn_state */
	uint8_t fail;	     /* enum tls_fail */
	bool peer_closed;    /* close_notify received */
};

/* Token bucket, in thousandths of a token so slow rates stay exact. */
struct tls_bucket {
	uint64_t milli; /* tokens x 1000 */
	uint64_t last;	/* ms of the last refill */
};

#endif /* NDG_DATAPLANE_TLS_T_H */
