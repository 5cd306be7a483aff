/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * 'tls ...' statements of ndrguard.conf(5): inbound STARTTLS certificates, protocol and
 * cipher settings, handshake limits. The daemon reads and checks the certificate and key
 * files when it loads the configuration (chain parses, key matches, one certificate per key
 * type) and ships their PEM bytes to the dataplane. Main thread only.
 */
#ifndef NDG_CONTROL_CONFIG_TLS_H
#define NDG_CONTROL_CONFIG_TLS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define CONF_TLS_CERTS	     4
#define CONF_TLS_CIPHERS_MAX 256
#define CONF_TLS_PEM_MAX     (64u * 1024u)

struct conf_tls_cert {
	char cert_path[4096];
	char key_path[4096];
	int line;
	char *cert_pem; /* file contents, read by conf_tls_load() */
	size_t cert_len;
	char *key_pem;
	size_t key_len;
	char key_type[16]; /* "ECDSA", "RSA", ... */
};

struct conf_tls {
	unsigned int n_certs; /* 0: STARTTLS not offered */
	struct conf_tls_cert certs[CONF_TLS_CERTS];
	uint16_t min_version;			 /* 0x0303 (1.2) or 0x0304 (1.3) */
	char ciphers[CONF_TLS_CIPHERS_MAX];	 /* TLS 1.2 list, "": the dataplane's default */
	char ciphersuites[CONF_TLS_CIPHERS_MAX]; /* TLS 1.3 suites, "": default */
	uint32_t handshake_timeout_ms;
	uint32_t rate; /* handshakes/s per dataplane lcore, 0: no limit */
	uint32_t burst;
	uint32_t src_rate; /* per source address, 0: no limit */
	uint32_t src_burst;
};

/** Defaults: no certificate, TLS 1.2 minimum, 30 s handshake, 200/s burst 400 overall,
 * 5/s burst 20 per source. */
void conf_tls_defaults(struct conf_tls *t);

/** Apply one 'tls <key> <value>' statement. @return 0, or -EINVAL with <err> filled. */
int conf_tls_set(struct conf_tls *t, const char *key, const char *value, char *err, size_t errsize);

/** 'tls certificate <cert> key <key>'. @return 0, or -EINVAL/-ENOSPC with <err> filled. */
int conf_tls_add_cert(struct conf_tls *t, const char *cert, const char *key, int line, char *err,
	size_t errsize);

/**
 * Read every certificate and key file and check them with OpenSSL. Problems go to <errf>
 * as "<path>:<line>: message". @return the number of errors.
 */
int conf_tls_load(struct conf_tls *t, const char *path, FILE *errf);

/** Free the file contents conf_tls_load() read. */
void conf_tls_free(struct conf_tls *t);

#endif /* NDG_CONTROL_CONFIG_TLS_H */
