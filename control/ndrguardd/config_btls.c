/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The 'tls' clause of 'backend' lines (ndrguard.conf(5), STARTTLS toward backends) and the
 * checks of the CA files it names. Main thread, while a configuration is read.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "config_btls.h"

void
conf_btls_arg(struct conf_btls *t, char *v)
{
	if (t->nargs == CONF_BTLS_ARGS) {
		t->overflow = true;
		free(v);
		return;
	}
	t->args[t->nargs++] = v;
}

static void
conf_btls_args_free(struct conf_btls *t)
{
	for (unsigned int i = 0; i < t->nargs; i++)
		free(t->args[i]);
	t->nargs = 0;
	t->overflow = false;
}

/* Parse the collected words into <p>. @return 0 or -EINVAL with <err> filled. */
static int
conf_btls_parse(struct conf_btls *t, struct conf_btls_policy *p, char *err, size_t errsize)
{
	unsigned int i = 0;

	memset(p, 0, sizeof(*p));
	p->min_version = 0x0303;
	if (t->overflow || t->nargs == 0) {
		snprintf(err, errsize, "backend tls: %s",
			t->overflow ? "too many words" : "expected may, encrypt or none");
		return -EINVAL;
	}
	if (strcmp(t->args[0], "may") == 0)
		p->mode = CONF_BTLS_MAY;
	else if (strcmp(t->args[0], "encrypt") == 0)
		p->mode = CONF_BTLS_ENCRYPT;
	else if (strcmp(t->args[0], "none") == 0)
		p->mode = CONF_BTLS_NONE;
	else {
		snprintf(err, errsize, "backend tls: '%s' is not may, encrypt or none", t->args[0]);
		return -EINVAL;
	}
	for (i = 1; i < t->nargs; i++) {
		const char *k = t->args[i], *v = i + 1 < t->nargs ? t->args[i + 1] : NULL;

		if (strcmp(k, "verify") == 0) {
			p->verify = true;
			continue;
		}
		if (strcmp(k, "no-verify") == 0) {
			p->verify = false;
			continue;
		}
		if (v == NULL) {
			snprintf(err, errsize, "backend tls: '%s' needs a value, or is unknown", k);
			return -EINVAL;
		}
		i++;
		if (strcmp(k, "ca") == 0) {
			if (strlen(v) >= sizeof(p->ca_path) || v[0] == '\0') {
				snprintf(err, errsize, "backend tls ca: bad path");
				return -EINVAL;
			}
			snprintf(p->ca_path, sizeof(p->ca_path), "%s", v);
		} else if (strcmp(k, "name") == 0) {
			if (strlen(v) >= sizeof(p->name) || v[0] == '\0') {
				snprintf(err, errsize, "backend tls name: empty or too long");
				return -EINVAL;
			}
			snprintf(p->name, sizeof(p->name), "%s", v);
		} else if (strcmp(k, "min-version") == 0) {
			if (strcmp(v, "1.2") == 0 || strcmp(v, "TLSv1.2") == 0)
				p->min_version = 0x0303;
			else if (strcmp(v, "1.3") == 0 || strcmp(v, "TLSv1.3") == 0)
				p->min_version = 0x0304;
			else {
				snprintf(err, errsize,
					"backend tls min-version: '%s' is not 1.2 or 1.3", v);
				return -EINVAL;
			}
		} else {
			snprintf(err, errsize, "backend tls: unknown setting '%s'", k);
			return -EINVAL;
		}
	}
	if (p->mode == CONF_BTLS_NONE && (p->verify || p->ca_path[0] || p->name[0])) {
		snprintf(err, errsize, "backend tls none: takes no other setting");
		return -EINVAL;
	}
	/* Opportunistic TLS falls back to plaintext (RFC 7435): checking the certificate there
	 * would protect nothing. Authentication needs 'encrypt'. */
	if (p->verify && p->mode != CONF_BTLS_ENCRYPT) {
		snprintf(err, errsize, "backend tls verify: needs 'tls encrypt'");
		return -EINVAL;
	}
	if (p->verify && p->name[0] == '\0') {
		snprintf(err, errsize, "backend tls verify: needs 'name' (the certificate's name)");
		return -EINVAL;
	}
	if (p->ca_path[0] && !p->verify) {
		snprintf(err, errsize, "backend tls ca: only with 'verify'");
		return -EINVAL;
	}
	return 0;
}

int
conf_btls_end(struct conf_btls *t, int line, char *err, size_t errsize)
{
	struct conf_btls_policy p;
	unsigned int i;
	int ret;

	ret = conf_btls_parse(t, &p, err, errsize);
	conf_btls_args_free(t);
	if (ret != 0 || t->target == NULL)
		return ret;
	p.line = line;
	for (i = 0; i < t->n; i++) {
		const struct conf_btls_policy *q = &t->p[i];

		if (q->mode == p.mode && q->verify == p.verify && q->min_version == p.min_version &&
			strcmp(q->ca_path, p.ca_path) == 0 && strcmp(q->name, p.name) == 0)
			break;
	}
	if (i == t->n) {
		if (t->n == CONF_BTLS_MAX) {
			snprintf(err, errsize, "backend tls: more than %d different settings",
				CONF_BTLS_MAX);
			return -ENOSPC;
		}
		t->p[t->n++] = p;
	}
	*t->target = (uint16_t) (i + 1);
	t->target = NULL;
	return 0;
}

int
conf_btls_load(struct conf_btls *t, const char *path, FILE *errf)
{
	int errors = 0;

	if (errf == NULL)
		errf = stderr;
	for (unsigned int i = 0; i < t->n; i++) {
		struct conf_btls_policy *p = &t->p[i];
		FILE *f;
		BIO *b;
		X509 *x;
		int n = 0;

		if (p->ca_path[0] == '\0')
			continue;
		f = fopen(p->ca_path, "r");
		if (f == NULL) {
			fprintf(errf, "%s:%d: %s: %s\n", path, p->line, p->ca_path,
				strerror(errno));
			errors++;
			continue;
		}
		p->ca_pem = malloc(CONF_BTLS_CA_MAX + 1);
		if (p->ca_pem == NULL) {
			fclose(f);
			fprintf(errf, "%s:%d: out of memory\n", path, p->line);
			errors++;
			continue;
		}
		p->ca_len = fread(p->ca_pem, 1, CONF_BTLS_CA_MAX + 1, f);
		fclose(f);
		if (p->ca_len > CONF_BTLS_CA_MAX) {
			fprintf(errf, "%s:%d: %s: larger than %u bytes\n", path, p->line,
				p->ca_path, CONF_BTLS_CA_MAX);
			errors++;
			continue;
		}
		b = BIO_new_mem_buf(p->ca_pem, (int) p->ca_len);
		while (b != NULL && (x = PEM_read_bio_X509(b, NULL, NULL, NULL)) != NULL) {
			n++;
			X509_free(x);
		}
		BIO_free(b);
		ERR_clear_error();
		if (n == 0) {
			fprintf(errf, "%s:%d: %s: no PEM certificate\n", path, p->line, p->ca_path);
			errors++;
		}
	}
	return errors;
}

void
conf_btls_free(struct conf_btls *t)
{
	conf_btls_args_free(t);
	for (unsigned int i = 0; i < t->n; i++) {
		free(t->p[i].ca_pem);
		t->p[i].ca_pem = NULL;
		t->p[i].ca_len = 0;
	}
}
