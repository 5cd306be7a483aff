/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Types of STARTTLS toward the backend (proxy_btls.c): the per-backend TLS policy the control
 * thread builds from the configuration, the TLS slot a backend connection holds while it runs
 * over TLS, and the per-lcore pool and counters. Slots belong to one lcore.
 */
#ifndef NDG_DATAPLANE_PROXY_BTLS_T_H
#define NDG_DATAPLANE_PROXY_BTLS_T_H

#include <stdbool.h>
#include <stdint.h>

#include "ctl_proto-t.h"
#include "smtp-t.h"
#include "tls-t.h"

struct rte_mempool;

#define PROXY_BTLS_SLOTS_DEFAULT 1024	      /* backend TLS connections per lcore */
#define PROXY_BTLS_OUT		 4096	      /* plaintext to the backend batched into a record */
#define PROXY_BTLS_OUT_MAX	 (256u << 10) /* ciphertext a backend leaves unread: reset */

/* TLS policy of one backend (ndrguard.conf(5) 'backend ... tls MODE ...'). */
struct dp_btls {
	struct tls_ctx *ctx;		/* client context (referenced); NULL for SMTP_BTLS_NONE */
	uint8_t mode;			/* enum smtp_btls_mode */
	bool verify;			/* chain checked against the CA, name against <name> */
	char name[CTL_CONFIG_NAME_MAX]; /* name the certificate must carry, SNI; "" none */
};

enum proxy_btls_state {
	PROXY_BTLS_HANDSHAKE = 0, /* ClientHello sent, waiting for the server */
	PROXY_BTLS_OPEN,	  /* application data both ways */
	PROXY_BTLS_MAX
};

/* One backend connection's TLS state: taken at the 220 to STARTTLS, returned at its end. */
struct proxy_btls {
	struct tls_conn t;
	uint8_t state;	  /* enum proxy_btls_state */
	bool peer_eof;	  /* close_notify received */
	bool broken;	  /* a record could not be written: dropped at the next flush */
	uint16_t out_len; /* plaintext waiting in out */
	uint64_t hs_tsc;  /* handshake start */
	char out[PROXY_BTLS_OUT];
};

/* Backend TLS of one lcore: the slot pool and the counters. */
struct proxy_btls_lcore {
	struct rte_mempool *pool; /* struct proxy_btls */
	uint32_t slots;
	uint64_t started;	       /* handshakes started (220 to STARTTLS) */
	uint64_t handshakes;	       /* completed */
	uint64_t tls12, tls13;	       /* completed, by version */
	uint64_t fail[TLS_FAIL_MAX];   /* handshakes failed, by reason */
	uint64_t ev[SMTP_BTLS_EV_MAX]; /* relay events: plaintext, not offered, refused, fallback */
	uint64_t active;	       /* slots in use */
	uint64_t hs_ns_sum;	       /* time from ClientHello to Finished */
	uint64_t record_errors;	       /* TLS sessions ended by a record error */
	uint64_t discarded;	       /* plaintext bytes after the 220, dropped */
};

#endif /* NDG_DATAPLANE_PROXY_BTLS_T_H */
