/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * TLS over memory BIOs with OpenSSL 3 (interface and call sequence in tls.h). Contexts are
 * built by the control thread and shared; connections are driven by the thread that owns
 * them, which moves ciphertext between the BIOs and its own transport. Nothing here touches
 * a socket, blocks or knows about DPDK, so the unit tests drive both ends in memory.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "tls.h"
#include "ndg_common.h"

/* AEAD ciphers with forward secrecy only: no RC4, 3DES, CBC, static RSA or export suites. */
#define TLS_DEFAULT_CIPHERS                                                                        \
	"ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"                               \
	"ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305:"                               \
	"ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256"
#define TLS_DEFAULT_SUITES                                                                         \
	"TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256:TLS_AES_128_GCM_SHA256"
#define TLS_DEFAULT_GROUPS "X25519:P-256:P-384"

static const char *const tls_fail_names[TLS_FAIL_MAX] = {
	[TLS_FAIL_NONE] = "none",
	[TLS_FAIL_PROTOCOL] = "protocol",
	[TLS_FAIL_CIPHER] = "cipher",
	[TLS_FAIL_MALFORMED] = "malformed",
	[TLS_FAIL_CERT] = "certificate",
	[TLS_FAIL_PEER_CLOSED] = "peer_closed",
	[TLS_FAIL_TIMEOUT] = "timeout",
	[TLS_FAIL_RATE] = "rate_limited",
	[TLS_FAIL_NO_SLOT] = "no_slot",
	[TLS_FAIL_INTERNAL] = "internal",
};

const char *
tls_fail_name(enum tls_fail f)
{
	return (unsigned int) f < TLS_FAIL_MAX ? tls_fail_names[f] : "?";
}

/* The first OpenSSL error as text, and the queue emptied (it is per thread). */
static void
tls_err(char *err, size_t errsz, const char *what)
{
	unsigned long e = ERR_peek_last_error();
	char buf[256] = "";

	if (e != 0)
		ERR_error_string_n(e, buf, sizeof(buf));
	(void) snprintf(err, errsz, "%s%s%s", what, buf[0] ? ": " : "", buf);
	ERR_clear_error();
}

/* Never prompt for a passphrase: an encrypted key is refused. */
static int
tls_no_passphrase(char *buf, int size, int rwflag, void *u)
{
	(void) buf;
	(void) size;
	(void) rwflag;
	(void) u;
	return 0;
}

static int
tls_ctx_common(SSL_CTX *sc, uint16_t min_version, const char *ciphers, const char *suites,
	char *err, size_t errsz)
{
	uint64_t opts = SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_TICKET;

#ifdef SSL_OP_NO_CLIENT_RENEGOTIATION
	opts |= SSL_OP_NO_CLIENT_RENEGOTIATION;
#endif
	if (min_version != TLS_VERSION_TLS12 && min_version != TLS_VERSION_TLS13) {
		(void) snprintf(err, errsz, "minimum protocol must be TLS 1.2 or 1.3");
		return -EINVAL;
	}
	if (SSL_CTX_set_min_proto_version(sc, min_version) != 1 ||
		SSL_CTX_set_max_proto_version(sc, TLS1_3_VERSION) != 1) {
		tls_err(err, errsz, "protocol versions");
		return -EINVAL;
	}
	SSL_CTX_set_options(sc, opts);
	/* Small idle sessions: OpenSSL frees its record buffers whenever they are empty. */
	SSL_CTX_set_mode(sc, SSL_MODE_RELEASE_BUFFERS);
	if (SSL_CTX_set_cipher_list(sc, ciphers[0] ? ciphers : TLS_DEFAULT_CIPHERS) != 1) {
		tls_err(err, errsz, "TLS 1.2 cipher list");
		return -EINVAL;
	}
	if (SSL_CTX_set_ciphersuites(sc, suites[0] ? suites : TLS_DEFAULT_SUITES) != 1) {
		tls_err(err, errsz, "TLS 1.3 ciphersuites");
		return -EINVAL;
	}
	if (SSL_CTX_set1_groups_list(sc, TLS_DEFAULT_GROUPS) != 1) {
		tls_err(err, errsz, "groups");
		return -EINVAL;
	}
	return 0;
}

static struct tls_ctx *
tls_ctx_wrap(SSL_CTX *sc, enum tls_role role)
{
	struct tls_ctx *c = OPENSSL_zalloc(sizeof(*c));

	if (c == NULL)
		return NULL;
	c->ssl_ctx = sc;
	c->refs = 1;
	c->role = (uint8_t) role;
	return c;
}

/* Load one chain (leaf first) and its key into the slot of the key's type. */
static int
tls_ctx_add_cert(SSL_CTX *sc, const struct tls_cert_pem *p, unsigned int idx, char *err,
	size_t errsz)
{
	BIO *cb = BIO_new_mem_buf(p->cert, (int) p->cert_len);
	BIO *kb = BIO_new_mem_buf(p->key, (int) p->key_len);
	X509 *leaf = NULL, *x;
	EVP_PKEY *key = NULL;
	char what[64];
	int ret = -EINVAL;

	(void) snprintf(what, sizeof(what), "certificate %u", idx + 1);
	if (cb == NULL || kb == NULL) {
		tls_err(err, errsz, what);
		ret = -ENOMEM;
		goto out;
	}
	leaf = PEM_read_bio_X509(cb, NULL, tls_no_passphrase, NULL);
	if (leaf == NULL || SSL_CTX_use_certificate(sc, leaf) != 1) {
		tls_err(err, errsz, what);
		goto out;
	}
	/* The rest of the file is the chain toward the root (RFC 8446 §4.4.2 order). */
	while ((x = PEM_read_bio_X509(cb, NULL, tls_no_passphrase, NULL)) != NULL) {
		if (SSL_CTX_add0_chain_cert(sc, x) != 1) {
			X509_free(x);
			tls_err(err, errsz, what);
			goto out;
		}
	}
	ERR_clear_error(); /* the end of the PEM text */
	key = PEM_read_bio_PrivateKey(kb, NULL, tls_no_passphrase, NULL);
	if (key == NULL) {
		(void) snprintf(what, sizeof(what), "key %u (encrypted keys are refused)", idx + 1);
		tls_err(err, errsz, what);
		goto out;
	}
	if (SSL_CTX_use_PrivateKey(sc, key) != 1 || SSL_CTX_check_private_key(sc) != 1) {
		(void) snprintf(what, sizeof(what), "key %u does not match certificate %u", idx + 1,
			idx + 1);
		tls_err(err, errsz, what);
		goto out;
	}
	ret = 0;
out:
	EVP_PKEY_free(key);
	X509_free(leaf);
	BIO_free(cb);
	BIO_free(kb);
	return ret;
}

struct tls_ctx *
tls_ctx_server_new(const struct tls_server_conf *c, char *err, size_t errsz)
{
	SSL_CTX *sc;
	struct tls_ctx *t;

	if (c->n_certs == 0 || c->n_certs > TLS_CERTS_MAX) {
		(void) snprintf(err, errsz, "between 1 and %u certificates", TLS_CERTS_MAX);
		return NULL;
	}
	sc = SSL_CTX_new(TLS_server_method());
	if (sc == NULL) {
		tls_err(err, errsz, "SSL_CTX_new");
		return NULL;
	}
	if (tls_ctx_common(sc, c->min_version, c->ciphers, c->ciphersuites, err, errsz) != 0)
		goto err;
	SSL_CTX_set_options(sc, SSL_OP_CIPHER_SERVER_PREFERENCE);
	/* No cache: it is one locked table for every lcore, and SMTP sessions are long. */
	SSL_CTX_set_session_cache_mode(sc, SSL_SESS_CACHE_OFF);
	(void) SSL_CTX_set_num_tickets(sc, 0);
	for (unsigned int i = 0; i < c->n_certs; i++)
		if (tls_ctx_add_cert(sc, &c->certs[i], i, err, errsz) != 0)
			goto err;
	t = tls_ctx_wrap(sc, TLS_ROLE_SERVER);
	if (t == NULL) {
		(void) snprintf(err, errsz, "out of memory");
		goto err;
	}
	return t;
err:
	SSL_CTX_free(sc);
	return NULL;
}

struct tls_ctx *
tls_ctx_client_new(const struct tls_client_conf *c, char *err, size_t errsz)
{
	SSL_CTX *sc = SSL_CTX_new(TLS_client_method());
	struct tls_ctx *t;

	if (sc == NULL) {
		tls_err(err, errsz, "SSL_CTX_new");
		return NULL;
	}
	if (tls_ctx_common(sc, c->min_version, c->ciphers, c->ciphersuites, err, errsz) != 0)
		goto err;
	if (c->verify) {
		if (c->ca != NULL) {
			BIO *b = BIO_new_mem_buf(c->ca, (int) c->ca_len);
			X509_STORE *st = SSL_CTX_get_cert_store(sc);
			X509 *x;
			int n = 0;

			while (b != NULL &&
				(x = PEM_read_bio_X509(b, NULL, tls_no_passphrase, NULL)) != NULL) {
				n += X509_STORE_add_cert(st, x) == 1;
				X509_free(x);
			}
			BIO_free(b);
			ERR_clear_error();
			if (n == 0) {
				(void) snprintf(err, errsz, "no CA certificate in the CA file");
				goto err;
			}
		} else if (SSL_CTX_set_default_verify_paths(sc) != 1) {
			tls_err(err, errsz, "system CA store");
			goto err;
		}
		SSL_CTX_set_verify(sc, SSL_VERIFY_PEER, NULL);
	} else {
		SSL_CTX_set_verify(sc, SSL_VERIFY_NONE, NULL);
	}
	t = tls_ctx_wrap(sc, TLS_ROLE_CLIENT);
	if (t == NULL) {
		(void) snprintf(err, errsz, "out of memory");
		goto err;
	}
	return t;
err:
	SSL_CTX_free(sc);
	return NULL;
}

void
tls_ctx_ref(struct tls_ctx *ctx)
{
	__atomic_add_fetch(&ctx->refs, 1, __ATOMIC_RELAXED);
}

void
tls_ctx_unref(struct tls_ctx *ctx)
{
	if (ctx == NULL || __atomic_sub_fetch(&ctx->refs, 1, __ATOMIC_ACQ_REL) != 0)
		return;
	SSL_CTX_free(ctx->ssl_ctx);
	OPENSSL_free(ctx);
}

int
tls_conn_init(struct tls_conn *t, struct tls_ctx *ctx, const char *peer_name)
{
	memset(t, 0, sizeof(*t));
	t->ssl = SSL_new(ctx->ssl_ctx);
	t->rbio = BIO_new(BIO_s_mem());
	t->wbio = BIO_new(BIO_s_mem());
	if (t->ssl == NULL || t->rbio == NULL || t->wbio == NULL)
		goto err;
	/* An empty read BIO means "more to come", never end of stream. */
	BIO_set_mem_eof_return(t->rbio, -1);
	BIO_set_mem_eof_return(t->wbio, -1);
	SSL_set_bio(t->ssl, t->rbio, t->wbio); /* the SSL owns them from here */
	if (ctx->role == TLS_ROLE_CLIENT) {
		if (peer_name != NULL) {
			if (SSL_set_tlsext_host_name(t->ssl, peer_name) != 1 ||
				SSL_set1_host(t->ssl, peer_name) != 1)
				goto err_ssl;
		}
		SSL_set_connect_state(t->ssl);
	} else {
		SSL_set_accept_state(t->ssl);
	}
	tls_ctx_ref(ctx);
	t->ctx = ctx;
	t->state = TLS_CS_HANDSHAKE;
	return 0;
err:
	BIO_free(t->rbio);
	BIO_free(t->wbio);
	SSL_free(t->ssl);
	memset(t, 0, sizeof(*t));
	ERR_clear_error();
	return -ENOMEM;
err_ssl:
	SSL_free(t->ssl);
	memset(t, 0, sizeof(*t));
	ERR_clear_error();
	return -ENOMEM;
}

void
tls_conn_fini(struct tls_conn *t)
{
	if (t->ssl != NULL)
		SSL_free(t->ssl); /* and both BIOs */
	tls_ctx_unref(t->ctx);
	t->ssl = NULL;
	t->rbio = t->wbio = NULL;
	t->ctx = NULL;
	t->state = TLS_CS_NONE;
}

size_t
tls_conn_in_pending(const struct tls_conn *t)
{
	return t->rbio != NULL ? BIO_ctrl_pending(t->rbio) : 0;
}

size_t
tls_conn_in_room(const struct tls_conn *t)
{
	size_t p = tls_conn_in_pending(t);

	if (t->ssl == NULL || t->state == TLS_CS_FAILED)
		return 0;
	return p < TLS_IN_MAX ? TLS_IN_MAX - p : 0;
}

int
tls_conn_in(struct tls_conn *t, const void *p, size_t n)
{
	size_t room = tls_conn_in_room(t);
	int w;

	if (n > room)
		n = room;
	if (n == 0)
		return 0;
	w = BIO_write(t->rbio, p, (int) n);
	return w == (int) n ? w : -ENOMEM;
}

/* Map OpenSSL's reason for a failed handshake to a counter. */
static enum tls_fail
tls_classify(int sslerr)
{
	unsigned long e = ERR_peek_error();
	int r;

	if (sslerr == SSL_ERROR_ZERO_RETURN)
		return TLS_FAIL_PEER_CLOSED;
	if (e == 0)
		return sslerr == SSL_ERROR_SYSCALL ? TLS_FAIL_PEER_CLOSED : TLS_FAIL_INTERNAL;
	if (ERR_GET_LIB(e) != ERR_LIB_SSL)
		return ERR_GET_REASON(e) == ERR_R_MALLOC_FAILURE ? TLS_FAIL_INTERNAL
								 : TLS_FAIL_MALFORMED;
	r = ERR_GET_REASON(e);
	switch (r) {
	case SSL_R_UNSUPPORTED_PROTOCOL:
	case SSL_R_VERSION_TOO_LOW:
	case SSL_R_TLSV1_ALERT_PROTOCOL_VERSION:
		return TLS_FAIL_PROTOCOL;
	case SSL_R_NO_SHARED_CIPHER:
	case SSL_R_NO_SHARED_SIGNATURE_ALGORITHMS:
	case SSL_R_NO_SUITABLE_KEY_SHARE:
	case SSL_R_NO_SHARED_GROUPS:
	case SSL_R_NO_CIPHERS_AVAILABLE:
	case SSL_R_SSLV3_ALERT_HANDSHAKE_FAILURE:
		return TLS_FAIL_CIPHER;
	case SSL_R_CERTIFICATE_VERIFY_FAILED:
		return TLS_FAIL_CERT;
	default:
		break;
	}
	/* Alerts the peer sent (SSL_AD_REASON_OFFSET + alert): it gave up. */
	if (r >= SSL_AD_REASON_OFFSET)
		return TLS_FAIL_PEER_CLOSED;
	return TLS_FAIL_MALFORMED;
}

static int
tls_conn_failed(struct tls_conn *t, int sslerr)
{
	t->fail = (uint8_t) tls_classify(sslerr);
	t->state = TLS_CS_FAILED;
	ERR_clear_error();
	return -EPROTO;
}

int
tls_conn_handshake(struct tls_conn *t)
{
	int r, e;

	if (t->state == TLS_CS_OPEN)
		return 1;
	if (t->state != TLS_CS_HANDSHAKE)
		return -EPROTO;
	r = SSL_do_handshake(t->ssl);
	if (r == 1) {
		t->state = TLS_CS_OPEN;
		return 1;
	}
	e = SSL_get_error(t->ssl, r);
	if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
		return 0;
	return tls_conn_failed(t, e);
}

int
tls_conn_peek(struct tls_conn *t, void *buf, size_t n)
{
	int r, e;

	if (t->state != TLS_CS_OPEN)
		return -EPROTO;
	if (t->peer_closed)
		return -EPIPE;
	r = SSL_peek(t->ssl, buf, (int) (n > INT32_MAX ? INT32_MAX : n));
	if (r > 0)
		return r;
	e = SSL_get_error(t->ssl, r);
	if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
		return 0;
	if (e == SSL_ERROR_ZERO_RETURN) {
		t->peer_closed = true;
		return -EPIPE;
	}
	return tls_conn_failed(t, e);
}

int
tls_conn_consume(struct tls_conn *t, size_t n)
{
	char scratch[4096];

	while (n > 0) {
		size_t k = n < sizeof(scratch) ? n : sizeof(scratch);
		int r = SSL_read(t->ssl, scratch, (int) k);

		if (r <= 0)
			return tls_conn_failed(t, SSL_get_error(t->ssl, r));
		n -= (size_t) r;
	}
	return 0;
}

int
tls_conn_write(struct tls_conn *t, const void *p, size_t n)
{
	int r;

	if (t->state != TLS_CS_OPEN)
		return -EPROTO;
	if (n == 0)
		return 0;
	/* A memory BIO takes everything: one call writes it all. */
	r = SSL_write(t->ssl, p, (int) n);
	if (r != (int) n)
		return tls_conn_failed(t, SSL_get_error(t->ssl, r));
	return 0;
}

size_t
tls_conn_out_pending(const struct tls_conn *t)
{
	return t->wbio != NULL ? BIO_ctrl_pending(t->wbio) : 0;
}

size_t
tls_conn_out_read(struct tls_conn *t, void *buf, size_t n)
{
	int r;

	if (t->wbio == NULL || n == 0)
		return 0;
	r = BIO_read(t->wbio, buf, (int) (n > INT32_MAX ? INT32_MAX : n));
	return r > 0 ? (size_t) r : 0;
}

size_t
tls_conn_out_peek(const struct tls_conn *t, const void **p)
{
	char *data = NULL;
	long n;

	if (t->wbio == NULL)
		return 0;
	n = BIO_get_mem_data(t->wbio, &data);
	*p = data;
	return n > 0 ? (size_t) n : 0;
}

void
tls_conn_out_skip(struct tls_conn *t, size_t n)
{
	char scratch[4096];

	while (n > 0) {
		size_t k = tls_conn_out_read(t, scratch, n < sizeof(scratch) ? n : sizeof(scratch));

		if (k == 0)
			break;
		n -= k;
	}
}

void
tls_conn_shutdown(struct tls_conn *t)
{
	if (t->ssl == NULL || t->state != TLS_CS_OPEN)
		return;
	(void) SSL_shutdown(t->ssl);
	ERR_clear_error();
}

const char *
tls_conn_version(const struct tls_conn *t)
{
	return t->ssl != NULL ? SSL_get_version(t->ssl) : "";
}

uint16_t
tls_conn_version_num(const struct tls_conn *t)
{
	return t->ssl != NULL ? (uint16_t) SSL_version(t->ssl) : 0;
}

const char *
tls_conn_cipher(const struct tls_conn *t)
{
	const char *n = t->ssl != NULL ? SSL_get_cipher_name(t->ssl) : NULL;

	return n != NULL ? n : "";
}

int
tls_conn_cipher_bits(const struct tls_conn *t)
{
	return t->ssl != NULL ? SSL_get_cipher_bits(t->ssl, NULL) : 0;
}

const char *
tls_conn_cert_type(const struct tls_conn *t)
{
	X509 *x = t->ssl != NULL ? SSL_get_certificate(t->ssl) : NULL;
	EVP_PKEY *k = x != NULL ? X509_get0_pubkey(x) : NULL;

	if (k == NULL)
		return "";
	switch (EVP_PKEY_get_base_id(k)) {
	case EVP_PKEY_EC:
		return "ECDSA";
	case EVP_PKEY_RSA:
		return "RSA";
	case EVP_PKEY_ED25519:
		return "Ed25519";
	default:
		return "other";
	}
}

bool
tls_bucket_take(struct tls_bucket *b, uint64_t now_ms, uint32_t rate, uint32_t burst)
{
	uint64_t cap = (uint64_t) (burst != 0 ? burst : 1) * 1000;

	if (rate == 0)
		return true;
	if (b->last == 0 && b->milli == 0) {
		b->milli = cap; /* a new bucket starts full */
		b->last = now_ms;
	}
	if (now_ms > b->last) {
		/* rate tokens/s = rate milli-tokens/ms */
		uint64_t add = (now_ms - b->last) * rate;

		b->milli = b->milli + add > cap ? cap : b->milli + add;
		b->last = now_ms;
	}
	if (b->milli < 1000)
		return false;
	b->milli -= 1000;
	return true;
}
