/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * ndrguard-tls-bench: the server-side cost of the TLS glue (dataplane/tls.c) on one core, no
 * network: full handshakes per second for TLS 1.3 and 1.2 with the ECDSA P-256 and the RSA
 * 2048 certificate, and decryption of SMTP messages (DATA in 16 KiB records, peek/consume as
 * the proxy does) in messages/s and MB/s. Only the time spent in the server's calls is
 * counted; the in-memory client's work is not. Prints figures, asserts nothing.
 *   usage: ndrguard-tls-bench [SECONDS_PER_FIGURE] [MESSAGE_KIB]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "tls.h"

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}

static char *
pem_of(BIO *b, size_t *len)
{
	char *data, *copy;
	long n = BIO_get_mem_data(b, &data);

	copy = malloc((size_t) n);
	if (copy == NULL)
		exit(1);
	memcpy(copy, data, (size_t) n);
	*len = (size_t) n;
	return copy;
}

static struct tls_ctx *
server_ctx(bool ec)
{
	EVP_PKEY *k = ec ? EVP_EC_gen("P-256") : EVP_RSA_gen(2048);
	X509 *x = X509_new();
	BIO *cb = BIO_new(BIO_s_mem()), *kb = BIO_new(BIO_s_mem());
	struct tls_server_conf c = {.min_version = TLS_VERSION_TLS12, .n_certs = 1};
	struct tls_ctx *ctx;
	char err[256];

	X509_set_version(x, 2);
	X509_gmtime_adj(X509_getm_notBefore(x), 0);
	X509_gmtime_adj(X509_getm_notAfter(x), 86400);
	X509_set_pubkey(x, k);
	X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN", MBSTRING_ASC,
		(const unsigned char *) "mx.example.com", -1, -1, 0);
	X509_set_issuer_name(x, X509_get_subject_name(x));
	X509_sign(x, k, EVP_sha256());
	PEM_write_bio_X509(cb, x);
	PEM_write_bio_PrivateKey(kb, k, NULL, NULL, 0, NULL, NULL);
	c.certs[0].cert = pem_of(cb, &c.certs[0].cert_len);
	c.certs[0].key = pem_of(kb, &c.certs[0].key_len);
	ctx = tls_ctx_server_new(&c, err, sizeof(err));
	if (ctx == NULL) {
		fprintf(stderr, "server context: %s\n", err);
		exit(1);
	}
	free((void *) c.certs[0].cert);
	free((void *) c.certs[0].key);
	BIO_free(cb);
	BIO_free(kb);
	X509_free(x);
	EVP_PKEY_free(k);
	return ctx;
}

/* Move <from>'s pending output into <to>. */
static void
move(struct tls_conn *from, struct tls_conn *to)
{
	char buf[32768];
	size_t n;

	while ((n = tls_conn_out_read(from, buf, sizeof(buf))) != 0)
		for (size_t off = 0; off < n;) {
			int w = tls_conn_in(to, buf + off, n - off);

			if (w <= 0)
				exit(1);
			off += (size_t) w;
		}
}

/* One handshake; @return the seconds spent in the server's calls. */
static double
handshake(struct tls_ctx *sctx, struct tls_ctx *cctx, bool tls12)
{
	struct tls_conn srv, cli;
	double t_srv = 0, t0;
	int rs = 0, rc = 0;

	t0 = now_s();
	if (tls_conn_init(&srv, sctx, NULL) != 0)
		exit(1);
	t_srv += now_s() - t0;
	if (tls_conn_init(&cli, cctx, NULL) != 0)
		exit(1);
	if (tls12)
		SSL_set_max_proto_version(cli.ssl, TLS1_2_VERSION);
	for (int round = 0; round < 10 && !(rs == 1 && rc == 1); round++) {
		rc = tls_conn_handshake(&cli);
		move(&cli, &srv);
		t0 = now_s();
		rs = tls_conn_handshake(&srv);
		t_srv += now_s() - t0;
		move(&srv, &cli);
		if (rs < 0 || rc < 0)
			exit(1);
	}
	t0 = now_s();
	tls_conn_fini(&srv);
	t_srv += now_s() - t0;
	tls_conn_fini(&cli);
	return t_srv;
}

static void
bench_handshakes(const char *name, struct tls_ctx *sctx, struct tls_ctx *cctx, bool tls12,
	double secs)
{
	double spent = 0, start = now_s();
	unsigned long n = 0;

	while (now_s() - start < secs) {
		spent += handshake(sctx, cctx, tls12);
		n++;
	}
	printf("handshakes_per_sec_%s %.0f\n", name, (double) n / spent);
}

static void
bench_records(struct tls_ctx *sctx, struct tls_ctx *cctx, size_t kib, double secs)
{
	struct tls_conn srv, cli;
	size_t size = kib * 1024;
	char *msg = malloc(size), buf[4096];
	double spent = 0, start, t0;
	unsigned long n = 0;
	int rs = 0, rc = 0;

	if (msg == NULL || tls_conn_init(&srv, sctx, NULL) != 0 ||
		tls_conn_init(&cli, cctx, NULL) != 0)
		exit(1);
	memset(msg, 'x', size);
	while (!(rs == 1 && rc == 1)) {
		rc = tls_conn_handshake(&cli);
		move(&cli, &srv);
		rs = tls_conn_handshake(&srv);
		move(&srv, &cli);
	}
	start = now_s();
	while (now_s() - start < secs) {
		size_t got = 0;

		/* The client side writes the message in records of at most 16 KiB. */
		for (size_t off = 0; off < size;) {
			size_t k = size - off < 16384 ? size - off : 16384;

			if (tls_conn_write(&cli, msg + off, k) != 0)
				exit(1);
			off += k;
			t0 = now_s();
			move(&cli, &srv);
			/* The proxy's read side: peek a chunk, hand it on, consume it. */
			for (;;) {
				int r = tls_conn_peek(&srv, buf, sizeof(buf));

				if (r <= 0)
					break;
				got += (size_t) r;
				if (tls_conn_consume(&srv, (size_t) r) != 0)
					exit(1);
			}
			spent += now_s() - t0;
		}
		if (got != size)
			exit(1);
		n++;
	}
	printf("messages_per_sec_%zukib %.0f\nmbytes_per_sec_decrypt %.1f\n", kib,
		(double) n / spent, (double) n * (double) size / spent / 1e6);
	printf("cipher %s\n", tls_conn_cipher(&srv));
	tls_conn_fini(&srv);
	tls_conn_fini(&cli);
	free(msg);
}

int
main(int argc, char **argv)
{
	double secs = argc > 1 ? strtod(argv[1], NULL) : 2.0;
	size_t kib = argc > 2 ? (size_t) strtoul(argv[2], NULL, 10) : 10;
	struct tls_client_conf cc = {.min_version = TLS_VERSION_TLS12};
	struct tls_ctx *ec = server_ctx(true), *rsa = server_ctx(false), *cctx;
	char err[256];

	cctx = tls_ctx_client_new(&cc, err, sizeof(err));
	if (cctx == NULL || secs <= 0 || kib == 0) {
		fprintf(stderr, "usage: %s [SECONDS_PER_FIGURE] [MESSAGE_KIB]\n", argv[0]);
		return 2;
	}
	bench_handshakes("tls13_ecdsa", ec, cctx, false, secs);
	bench_handshakes("tls12_ecdsa", ec, cctx, true, secs);
	bench_handshakes("tls13_rsa", rsa, cctx, false, secs);
	bench_handshakes("tls12_rsa", rsa, cctx, true, secs);
	bench_records(ec, cctx, kib, secs);
	tls_ctx_unref(ec);
	tls_ctx_unref(rsa);
	tls_ctx_unref(cctx);
	return 0;
}
