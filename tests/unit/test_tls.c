/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Unit tests of the TLS glue (dataplane/tls.c): a client and the server glue, both over memory
 * BIOs, talk through byte shuttles of every split size; ECDSA and RSA certificates chosen by
 * the client's signature algorithms; TLS 1.1 refused; garbage and truncated ClientHellos;
 * peek/consume with partial consumption; a context dropped while a session uses it; the
 * token bucket. Certificates are made here with OpenSSL, nothing is read from disk.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "tls.h"
#include "ndg_common.h"

struct pem {
	char *cert;
	size_t cert_len;
	char *key;
	size_t key_len;
};

static struct pem pem_ec, pem_rsa;

static char *
bio_to_str(BIO *b, size_t *len)
{
	char *data, *copy;
	long n = BIO_get_mem_data(b, &data);

	copy = malloc((size_t) n + 1);
	assert_non_null(copy);
	memcpy(copy, data, (size_t) n);
	copy[n] = '\0';
	*len = (size_t) n;
	return copy;
}

/* A self-signed certificate for mx.example.com with a fresh key of the given type. */
static void
make_cert(struct pem *out, bool ec)
{
	EVP_PKEY *k = ec ? EVP_EC_gen("P-256") : EVP_RSA_gen(2048);
	X509 *x = X509_new();
	X509_NAME *name;
	BIO *cb = BIO_new(BIO_s_mem()), *kb = BIO_new(BIO_s_mem());

	assert_non_null(k);
	X509_set_version(x, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(x), ec ? 1 : 2);
	X509_gmtime_adj(X509_getm_notBefore(x), -60);
	X509_gmtime_adj(X509_getm_notAfter(x), 3600);
	X509_set_pubkey(x, k);
	name = X509_get_subject_name(x);
	X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
		(const unsigned char *) "mx.example.com", -1, -1, 0);
	X509_set_issuer_name(x, name);
	assert_true(X509_sign(x, k, EVP_sha256()) > 0);
	PEM_write_bio_X509(cb, x);
	PEM_write_bio_PrivateKey(kb, k, NULL, NULL, 0, NULL, NULL);
	out->cert = bio_to_str(cb, &out->cert_len);
	out->key = bio_to_str(kb, &out->key_len);
	BIO_free(cb);
	BIO_free(kb);
	X509_free(x);
	EVP_PKEY_free(k);
}

static int
setup(void **state)
{
	(void) state;
	make_cert(&pem_ec, true);
	make_cert(&pem_rsa, false);
	return 0;
}

static int
teardown(void **state)
{
	(void) state;
	free(pem_ec.cert);
	free(pem_ec.key);
	free(pem_rsa.cert);
	free(pem_rsa.key);
	return 0;
}

static struct tls_ctx *
server_ctx(bool ec, bool rsa, uint16_t min)
{
	struct tls_server_conf c = {.min_version = min};
	char err[256];
	struct tls_ctx *ctx;

	if (ec)
		c.certs[c.n_certs++] = (struct tls_cert_pem){pem_ec.cert, pem_ec.cert_len,
			pem_ec.key, pem_ec.key_len};
	if (rsa)
		c.certs[c.n_certs++] = (struct tls_cert_pem){pem_rsa.cert, pem_rsa.cert_len,
			pem_rsa.key, pem_rsa.key_len};
	ctx = tls_ctx_server_new(&c, err, sizeof(err));
	if (ctx == NULL)
		fail_msg("server context: %s", err);
	return ctx;
}

/* Move all pending output of <from> into <to> in pieces of <step> bytes. */
static void
shuttle(struct tls_conn *from, struct tls_conn *to, size_t step)
{
	char buf[65536];

	for (;;) {
		size_t n = tls_conn_out_read(from, buf, step);

		if (n == 0)
			break;
		for (size_t off = 0; off < n;) {
			int w = tls_conn_in(to, buf + off, n - off);

			assert_true(w > 0);
			off += (size_t) w;
		}
	}
}

/* Run a handshake between <cli> and <srv>; @return the server's result. */
static int
handshake(struct tls_conn *cli, struct tls_conn *srv, size_t step)
{
	int rs = 0, rc = 0;

	for (int round = 0; round < 50; round++) {
		rc = tls_conn_handshake(cli);
		shuttle(cli, srv, step);
		rs = tls_conn_handshake(srv);
		shuttle(srv, cli, step);
		if ((rs == 1 && rc == 1) || rs < 0 || rc < 0)
			break;
	}
	return rs;
}

static struct tls_ctx *
client_ctx(uint16_t min)
{
	struct tls_client_conf c = {.min_version = min, .verify = false};
	char err[256];
	struct tls_ctx *ctx = tls_ctx_client_new(&c, err, sizeof(err));

	if (ctx == NULL)
		fail_msg("client context: %s", err);
	return ctx;
}

static void
test_handshake_and_data(void **state)
{
	static const size_t steps[] = {1, 7, 100, 1500, 65536};

	(void) state;
	for (size_t i = 0; i < NDG_ARRAY_SIZE(steps); i++) {
		struct tls_ctx *sctx = server_ctx(true, true, TLS_VERSION_TLS12);
		struct tls_ctx *cctx = client_ctx(TLS_VERSION_TLS12);
		struct tls_conn srv, cli;
		char buf[4096];
		int n;

		assert_int_equal(tls_conn_init(&srv, sctx, NULL), 0);
		assert_int_equal(tls_conn_init(&cli, cctx, "mx.example.com"), 0);
		/* The context outlives its creator's reference while a connection holds one. */
		tls_ctx_unref(sctx);
		tls_ctx_unref(cctx);
		assert_int_equal(handshake(&cli, &srv, steps[i]), 1);
		assert_string_equal(tls_conn_version(&srv), "TLSv1.3");
		assert_int_equal(tls_conn_version_num(&srv), TLS_VERSION_TLS13);
		assert_true(tls_conn_cipher_bits(&srv) >= 128);
		assert_true(strncmp(tls_conn_cipher(&srv), "TLS_", 4) == 0);

		/* Client -> server: peek, consume part, the rest stays. */
		assert_int_equal(tls_conn_write(&cli, "EHLO a\r\nMAIL FROM:<>\r\n", 22), 0);
		shuttle(&cli, &srv, steps[i]);
		n = tls_conn_peek(&srv, buf, sizeof(buf));
		assert_int_equal(n, 22);
		assert_memory_equal(buf, "EHLO a\r\n", 8);
		assert_int_equal(tls_conn_consume(&srv, 8), 0);
		n = tls_conn_peek(&srv, buf, sizeof(buf));
		assert_int_equal(n, 14);
		assert_memory_equal(buf, "MAIL FROM:<>\r\n", 14);
		assert_int_equal(tls_conn_consume(&srv, 14), 0);
		assert_int_equal(tls_conn_peek(&srv, buf, sizeof(buf)), 0);

		/* Server -> client. */
		assert_int_equal(tls_conn_write(&srv, "250 ok\r\n", 8), 0);
		shuttle(&srv, &cli, steps[i]);
		assert_int_equal(tls_conn_peek(&cli, buf, sizeof(buf)), 8);

		/* close_notify ends the stream for the reader. */
		tls_conn_shutdown(&cli);
		shuttle(&cli, &srv, steps[i]);
		assert_int_equal(tls_conn_peek(&srv, buf, sizeof(buf)), -EPIPE);
		tls_conn_fini(&srv);
		tls_conn_fini(&cli);
		tls_conn_fini(&cli); /* safe twice */
	}
}

/* The certificate served follows the client's signature algorithms (and TLS 1.2 cipher). */
static void
test_cert_choice(void **state)
{
	static const struct {
		const char *sigalgs;
		const char *want;
	} cases[] = {
		{"ECDSA+SHA256", "ECDSA"},
		{"RSA-PSS+SHA256:RSA+SHA256", "RSA"},
	};

	(void) state;
	for (int v = 0; v < 2; v++) {
		for (size_t i = 0; i < NDG_ARRAY_SIZE(cases); i++) {
			struct tls_ctx *sctx = server_ctx(true, true, TLS_VERSION_TLS12);
			struct tls_ctx *cctx = client_ctx(TLS_VERSION_TLS12);
			struct tls_conn srv, cli;

			assert_int_equal(tls_conn_init(&srv, sctx, NULL), 0);
			assert_int_equal(tls_conn_init(&cli, cctx, NULL), 0);
			assert_int_equal(SSL_set1_sigalgs_list(cli.ssl, cases[i].sigalgs), 1);
			if (v == 0)
				SSL_set_max_proto_version(cli.ssl, TLS1_2_VERSION);
			assert_int_equal(handshake(&cli, &srv, 4096), 1);
			assert_string_equal(tls_conn_cert_type(&srv), cases[i].want);
			assert_string_equal(tls_conn_version(&srv), v == 0 ? "TLSv1.2" : "TLSv1.3");
			tls_conn_fini(&srv);
			tls_conn_fini(&cli);
			tls_ctx_unref(sctx);
			tls_ctx_unref(cctx);
		}
	}
}

static void
test_old_protocol_refused(void **state)
{
	struct tls_ctx *sctx = server_ctx(true, false, TLS_VERSION_TLS12);
	SSL_CTX *old = SSL_CTX_new(TLS_client_method());
	struct tls_ctx cctx = {.ssl_ctx = old, .refs = 2, .role = TLS_ROLE_CLIENT};
	struct tls_conn srv, cli;

	(void) state;
	SSL_CTX_set_security_level(old, 0);
	SSL_CTX_set_min_proto_version(old, TLS1_VERSION);
	SSL_CTX_set_max_proto_version(old, TLS1_1_VERSION);
	assert_int_equal(tls_conn_init(&srv, sctx, NULL), 0);
	assert_int_equal(tls_conn_init(&cli, &cctx, NULL), 0);
	assert_true(handshake(&cli, &srv, 4096) < 0);
	assert_int_equal(srv.fail, TLS_FAIL_PROTOCOL);
	assert_string_equal(tls_fail_name(srv.fail), "protocol");
	/* The client got the protocol_version alert (the shuttle delivered it). */
	assert_true(tls_conn_handshake(&cli) < 0);
	assert_int_equal(tls_conn_in_room(&srv), 0);
	tls_conn_fini(&srv);
	tls_conn_fini(&cli);
	SSL_CTX_free(old);
	tls_ctx_unref(sctx);
}

/* Plain SMTP where a ClientHello should be (the CVE-2011-0411 pipelined bytes), random junk,
 * and a ClientHello cut short. */
static void
test_garbage_and_truncated(void **state)
{
	struct tls_ctx *sctx = server_ctx(true, true, TLS_VERSION_TLS12);
	struct tls_ctx *cctx = client_ctx(TLS_VERSION_TLS12);
	struct tls_conn srv, cli;
	char hello[4096];
	size_t n;

	(void) state;
	assert_int_equal(tls_conn_init(&srv, sctx, NULL), 0);
	assert_int_equal(tls_conn_in(&srv, "RSET\r\nQUIT\r\n", 12), 12);
	assert_true(tls_conn_handshake(&srv) < 0);
	assert_int_equal(srv.fail, TLS_FAIL_MALFORMED);
	tls_conn_fini(&srv);

	/* A record header announcing a handshake of absurd length, then junk. */
	assert_int_equal(tls_conn_init(&srv, sctx, NULL), 0);
	assert_int_equal(
		tls_conn_in(&srv, "\x16\x03\x01\x00\x10\x01\xff\xff\xff\x03\x03zzzzzzz", 21), 21);
	assert_true(tls_conn_handshake(&srv) < 0);
	tls_conn_fini(&srv);

	/* Every prefix of a real ClientHello: never an error, never done. */
	assert_int_equal(tls_conn_init(&cli, cctx, NULL), 0);
	assert_int_equal(tls_conn_handshake(&cli), 0);
	n = tls_conn_out_read(&cli, hello, sizeof(hello));
	assert_true(n > 100);
	for (size_t cut = 1; cut < n; cut += 13) {
		assert_int_equal(tls_conn_init(&srv, sctx, NULL), 0);
		assert_int_equal(tls_conn_in(&srv, hello, cut), (int) cut);
		assert_int_equal(tls_conn_handshake(&srv), 0);
		tls_conn_fini(&srv);
	}
	/* Flipped bytes inside it: an error or a wait, never a crash. */
	for (size_t at = 5; at < n; at += 7) {
		char copy[4096];

		memcpy(copy, hello, n);
		copy[at] ^= 0x5a;
		assert_int_equal(tls_conn_init(&srv, sctx, NULL), 0);
		assert_int_equal(tls_conn_in(&srv, copy, n), (int) n);
		assert_true(tls_conn_handshake(&srv) <= 0);
		tls_conn_fini(&srv);
	}
	tls_conn_fini(&cli);
	tls_ctx_unref(sctx);
	tls_ctx_unref(cctx);
}

/* The read BIO never holds more than TLS_IN_MAX: the transport keeps the rest. */
static void
test_input_bounded(void **state)
{
	struct tls_ctx *sctx = server_ctx(true, false, TLS_VERSION_TLS12);
	struct tls_conn srv;
	static char junk[TLS_IN_MAX + 1000];

	(void) state;
	assert_int_equal(tls_conn_init(&srv, sctx, NULL), 0);
	assert_int_equal(tls_conn_in(&srv, junk, sizeof(junk)), TLS_IN_MAX);
	assert_int_equal(tls_conn_in_room(&srv), 0);
	assert_int_equal(tls_conn_in(&srv, junk, 10), 0);
	tls_conn_fini(&srv);
	tls_ctx_unref(sctx);
}

static void
test_bad_config(void **state)
{
	struct tls_server_conf c = {.min_version = TLS_VERSION_TLS12};
	char err[256];

	(void) state;
	assert_null(tls_ctx_server_new(&c, err, sizeof(err)));
	/* A key that is not the certificate's. */
	c.n_certs = 1;
	c.certs[0] =
		(struct tls_cert_pem){pem_ec.cert, pem_ec.cert_len, pem_rsa.key, pem_rsa.key_len};
	assert_null(tls_ctx_server_new(&c, err, sizeof(err)));
	assert_non_null(strstr(err, "does not match"));
	/* TLS 1.1 as a minimum. */
	c.certs[0] =
		(struct tls_cert_pem){pem_ec.cert, pem_ec.cert_len, pem_ec.key, pem_ec.key_len};
	c.min_version = 0x0302;
	assert_null(tls_ctx_server_new(&c, err, sizeof(err)));
	c.min_version = TLS_VERSION_TLS12;
	snprintf(c.ciphers, sizeof(c.ciphers), "NO-SUCH-CIPHER");
	assert_null(tls_ctx_server_new(&c, err, sizeof(err)));
}

static void
test_bucket(void **state)
{
	struct tls_bucket b = {0};
	int got = 0;

	(void) state;
	/* Burst 5, then 10/s: 5 at once, 1 more per 100 ms. */
	for (int i = 0; i < 20; i++)
		got += tls_bucket_take(&b, 1000, 10, 5);
	assert_int_equal(got, 5);
	assert_false(tls_bucket_take(&b, 1050, 10, 5));
	assert_true(tls_bucket_take(&b, 1100, 10, 5));
	assert_false(tls_bucket_take(&b, 1100, 10, 5));
	/* Never more than the burst after a long pause. */
	got = 0;
	for (int i = 0; i < 20; i++)
		got += tls_bucket_take(&b, 100000, 10, 5);
	assert_int_equal(got, 5);
	/* Rate 0: unlimited. */
	for (int i = 0; i < 100; i++)
		assert_true(tls_bucket_take(&b, 100000, 0, 0));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_handshake_and_data),
		cmocka_unit_test(test_cert_choice),
		cmocka_unit_test(test_old_protocol_refused),
		cmocka_unit_test(test_garbage_and_truncated),
		cmocka_unit_test(test_input_bounded),
		cmocka_unit_test(test_bad_config),
		cmocka_unit_test(test_bucket),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
