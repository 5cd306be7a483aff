/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * libFuzzer harness of the TLS glue (dataplane/tls.c), server side: the input is what a client
 * sends after "220 Ready to start TLS", cut into segments at sizes taken from its first byte.
 * The glue must never crash and, with LeakSanitizer on, never leak a connection's state,
 * whatever the handshake bytes (truncated, malformed, alerts, records after a failure).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "tls.h"

static struct tls_ctx *fz_ctx;

static char *
fz_pem(BIO *b, size_t *len)
{
	char *data;
	long n = BIO_get_mem_data(b, &data);
	char *copy = malloc((size_t) n);

	if (copy == NULL)
		abort();
	memcpy(copy, data, (size_t) n);
	*len = (size_t) n;
	return copy;
}

/* One self-signed ECDSA certificate for the whole run. */
static void
fz_init(void)
{
	EVP_PKEY *k = EVP_EC_gen("P-256");
	X509 *x = X509_new();
	BIO *cb = BIO_new(BIO_s_mem()), *kb = BIO_new(BIO_s_mem());
	struct tls_server_conf c = {.min_version = TLS_VERSION_TLS12, .n_certs = 1};
	char err[256];

	X509_set_version(x, 2);
	X509_gmtime_adj(X509_getm_notBefore(x), 0);
	X509_gmtime_adj(X509_getm_notAfter(x), 86400);
	X509_set_pubkey(x, k);
	X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN", MBSTRING_ASC,
		(const unsigned char *) "fuzz", -1, -1, 0);
	X509_set_issuer_name(x, X509_get_subject_name(x));
	X509_sign(x, k, EVP_sha256());
	PEM_write_bio_X509(cb, x);
	PEM_write_bio_PrivateKey(kb, k, NULL, NULL, 0, NULL, NULL);
	c.certs[0].cert = fz_pem(cb, &c.certs[0].cert_len);
	c.certs[0].key = fz_pem(kb, &c.certs[0].key_len);
	fz_ctx = tls_ctx_server_new(&c, err, sizeof(err));
	if (fz_ctx == NULL)
		abort();
	free((void *) c.certs[0].cert);
	free((void *) c.certs[0].key);
	BIO_free(cb);
	BIO_free(kb);
	X509_free(x);
	EVP_PKEY_free(k);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct tls_conn t;
	char buf[4096];
	size_t off = 1, step;

	if (fz_ctx == NULL)
		fz_init();
	if (size < 1)
		return 0;
	step = (size_t) (data[0] % 64) + 1;
	if (tls_conn_init(&t, fz_ctx, NULL) != 0)
		return 0;
	while (off < size) {
		size_t n = size - off < step ? size - off : step;
		int w = tls_conn_in(&t, data + off, n);

		if (w <= 0)
			break;
		off += (size_t) w;
		if (t.state == TLS_CS_HANDSHAKE && tls_conn_handshake(&t) < 0)
			break;
		if (t.state == TLS_CS_OPEN) {
			int r = tls_conn_peek(&t, buf, sizeof(buf));

			if (r > 0)
				(void) tls_conn_consume(&t, (size_t) r / 2 + 1);
		}
		while (tls_conn_out_pending(&t) > 0)
			(void) tls_conn_out_read(&t, buf, sizeof(buf));
	}
	tls_conn_fini(&t);
	return 0;
}
