/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * 'tls ...' statements (ndrguard.conf(5), TLS section) and the checks of the certificate and
 * key files. Main thread, while a configuration is read.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "config.h"
#include "config_tls.h"

void
conf_tls_defaults(struct conf_tls *t)
{
	memset(t, 0, sizeof(*t));
	t->min_version = 0x0303;
	t->handshake_timeout_ms = 30 * 1000;
	t->rate = 200;
	t->burst = 400;
	t->src_rate = 5;
	t->src_burst = 20;
}

static int
conf_tls_u32(const char *v, uint32_t max, uint32_t *out)
{
	char *end;
	unsigned long x;

	if (v[0] < '0' || v[0] > '9')
		return -EINVAL;
	errno = 0;
	x = strtoul(v, &end, 10);
	if (errno != 0 || *end != '\0' || x > max)
		return -EINVAL;
	*out = (uint32_t) x;
	return 0;
}

int
conf_tls_set(struct conf_tls *t, const char *key, const char *value, char *err, size_t errsize)
{
	uint32_t *u = NULL;

	if (strcmp(key, "min-version") == 0) {
		if (strcmp(value, "1.2") == 0 || strcmp(value, "TLSv1.2") == 0)
			t->min_version = 0x0303;
		else if (strcmp(value, "1.3") == 0 || strcmp(value, "TLSv1.3") == 0)
			t->min_version = 0x0304;
		else {
			snprintf(err, errsize, "tls min-version: '%s' is not 1.2 or 1.3", value);
			return -EINVAL;
		}
		return 0;
	}
	if (strcmp(key, "ciphers") == 0 || strcmp(key, "ciphersuites") == 0) {
		char *dst = key[6] == 's' ? t->ciphersuites : t->ciphers;

		if (strlen(value) >= CONF_TLS_CIPHERS_MAX) {
			snprintf(err, errsize, "tls %s: longer than %u characters", key,
				CONF_TLS_CIPHERS_MAX - 1);
			return -EINVAL;
		}
		snprintf(dst, CONF_TLS_CIPHERS_MAX, "%s", value);
		return 0;
	}
	if (strcmp(key, "handshake-timeout") == 0) {
		if (conf_parse_duration(value, &t->handshake_timeout_ms) != 0 ||
			t->handshake_timeout_ms == 0 || t->handshake_timeout_ms > 600000) {
			snprintf(err, errsize,
				"tls handshake-timeout: '%s' is not a duration "
				"between 1ms and 10m",
				value);
			return -EINVAL;
		}
		return 0;
	}
	if (strcmp(key, "handshake-rate") == 0)
		u = &t->rate;
	else if (strcmp(key, "handshake-burst") == 0)
		u = &t->burst;
	else if (strcmp(key, "source-rate") == 0)
		u = &t->src_rate;
	else if (strcmp(key, "source-burst") == 0)
		u = &t->src_burst;
	if (u == NULL) {
		snprintf(err, errsize, "tls: unknown setting '%s'", key);
		return -EINVAL;
	}
	if (conf_tls_u32(value, 1000000, u) != 0) {
		snprintf(err, errsize, "tls %s: '%s' is not a number up to 1000000", key, value);
		return -EINVAL;
	}
	return 0;
}

int
conf_tls_add_cert(struct conf_tls *t, const char *cert, const char *key, int line, char *err,
	size_t errsize)
{
	struct conf_tls_cert *c;

	if (t->n_certs == CONF_TLS_CERTS) {
		snprintf(err, errsize, "tls certificate: at most %u", CONF_TLS_CERTS);
		return -ENOSPC;
	}
	if (strlen(cert) >= sizeof(c->cert_path) || strlen(key) >= sizeof(c->key_path)) {
		snprintf(err, errsize, "tls certificate: path too long");
		return -EINVAL;
	}
	c = &t->certs[t->n_certs++];
	memset(c, 0, sizeof(*c));
	snprintf(c->cert_path, sizeof(c->cert_path), "%s", cert);
	snprintf(c->key_path, sizeof(c->key_path), "%s", key);
	c->line = line;
	return 0;
}

/* Read a whole (small) file. @return 0, -errno, -EFBIG. */
static int
conf_tls_read(const char *path, char **out, size_t *len)
{
	FILE *f = fopen(path, "r");
	char *buf;
	size_t n;

	if (f == NULL)
		return -errno;
	buf = malloc(CONF_TLS_PEM_MAX + 1);
	if (buf == NULL) {
		fclose(f);
		return -ENOMEM;
	}
	n = fread(buf, 1, CONF_TLS_PEM_MAX + 1, f);
	fclose(f);
	if (n > CONF_TLS_PEM_MAX || n == 0) {
		free(buf);
		return n == 0 ? -ENODATA : -EFBIG;
	}
	buf[n] = '\0';
	*out = buf;
	*len = n;
	return 0;
}

static int
conf_tls_no_pass(char *buf, int size, int rwflag, void *u)
{
	(void) buf;
	(void) size;
	(void) rwflag;
	(void) u;
	return 0;
}

static const char *
conf_tls_key_type(EVP_PKEY *k)
{
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

/* Check one pair: the chain parses, the key is unencrypted and matches the leaf. */
static int
conf_tls_check(struct conf_tls_cert *c, const char *path, FILE *errf)
{
	BIO *cb = BIO_new_mem_buf(c->cert_pem, (int) c->cert_len);
	BIO *kb = BIO_new_mem_buf(c->key_pem, (int) c->key_len);
	X509 *x = cb ? PEM_read_bio_X509(cb, NULL, conf_tls_no_pass, NULL) : NULL;
	EVP_PKEY *k = kb ? PEM_read_bio_PrivateKey(kb, NULL, conf_tls_no_pass, NULL) : NULL;
	int errors = 0;

	if (x == NULL) {
		fprintf(errf, "%s:%d: %s: no PEM certificate\n", path, c->line, c->cert_path);
		errors++;
	}
	if (k == NULL) {
		fprintf(errf, "%s:%d: %s: no unencrypted PEM private key\n", path, c->line,
			c->key_path);
		errors++;
	}
	if (x != NULL && k != NULL) {
		if (X509_check_private_key(x, k) != 1) {
			fprintf(errf, "%s:%d: %s does not belong to %s\n", path, c->line,
				c->key_path, c->cert_path);
			errors++;
		}
		snprintf(c->key_type, sizeof(c->key_type), "%s", conf_tls_key_type(k));
		if (X509_cmp_current_time(X509_get0_notAfter(x)) < 0)
			fprintf(errf, "%s:%d: warning: %s has expired\n", path, c->line,
				c->cert_path);
	}
	ERR_clear_error();
	X509_free(x);
	EVP_PKEY_free(k);
	BIO_free(cb);
	BIO_free(kb);
	return errors;
}

int
conf_tls_load(struct conf_tls *t, const char *path, FILE *errf)
{
	int errors = 0;

	if (errf == NULL)
		errf = stderr;
	for (unsigned int i = 0; i < t->n_certs; i++) {
		struct conf_tls_cert *c = &t->certs[i];
		int r = conf_tls_read(c->cert_path, &c->cert_pem, &c->cert_len);

		if (r != 0) {
			fprintf(errf, "%s:%d: %s: %s\n", path, c->line, c->cert_path, strerror(-r));
			errors++;
			continue;
		}
		r = conf_tls_read(c->key_path, &c->key_pem, &c->key_len);
		if (r != 0) {
			fprintf(errf, "%s:%d: %s: %s\n", path, c->line, c->key_path, strerror(-r));
			errors++;
			continue;
		}
		errors += conf_tls_check(c, path, errf);
		/* OpenSSL keeps one certificate per key type: a second would replace the first. */
		for (unsigned int j = 0; j < i && c->key_type[0]; j++)
			if (strcmp(t->certs[j].key_type, c->key_type) == 0) {
				fprintf(errf,
					"%s:%d: a second %s certificate (the first is at line %d): "
					"one per key type\n",
					path, c->line, c->key_type, t->certs[j].line);
				errors++;
			}
	}
	return errors;
}

void
conf_tls_free(struct conf_tls *t)
{
	for (unsigned int i = 0; i < t->n_certs; i++) {
		free(t->certs[i].cert_pem);
		free(t->certs[i].key_pem);
		t->certs[i].cert_pem = t->certs[i].key_pem = NULL;
	}
}
