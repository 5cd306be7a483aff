/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Bounce Address Tag Validation (draft-levine-smtp-batv-01, "prvs" scheme) with OpenSSL
 * libcrypto HMAC-SHA1. Pure functions of the key set and the time: safe from any thread.
 */
#include <errno.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "policy.h"
#include "ndg_common.h"

#define BATV_DAY_MS 86400000ULL

static const char batv_hex[] = "0123456789abcdef";

static char
batv_lower(char c)
{
	return (c >= 'A' && c <= 'Z') ? (char) (c - 'A' + 'a') : c;
}

/* HMAC-SHA1 over "KDDD" + lowercase(mailbox); writes the 6 hex digits to <sig>. */
static int
batv_hmac(const struct batv_key *key, const char kddd[4], const char *lp, size_t ll,
	const char *dom, size_t dl, char sig[6])
{
	unsigned char msg[4 + SMTP_ADDR_BUF];
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	size_t n = 0;

	if (ll + 1 + dl + 4 > sizeof(msg))
		return -ENOSPC;
	memcpy(msg, kddd, 4);
	n = 4;
	for (size_t i = 0; i < ll; i++)
		msg[n++] = (unsigned char) batv_lower(lp[i]);
	msg[n++] = '@';
	for (size_t i = 0; i < dl; i++)
		msg[n++] = (unsigned char) batv_lower(dom[i]);
	if (HMAC(EVP_sha1(), key->key, key->len, msg, n, md, &mdlen) == NULL || mdlen < 3)
		return -EIO;
	for (unsigned int i = 0; i < 3; i++) {
		sig[2 * i] = batv_hex[md[i] >> 4];
		sig[2 * i + 1] = batv_hex[md[i] & 15];
	}
	return 0;
}

int
batv_sign(const struct batv_keys *k, const char *addr, size_t n, uint64_t now_ms, char *out,
	size_t outsz)
{
	const struct batv_key *key;
	const char *at = memchr(addr, '@', n);
	unsigned int day = (unsigned int) ((now_ms / BATV_DAY_MS + BATV_DAYS) % 1000);
	char kddd[4];
	size_t ll;
	int r;

	if (k->sign_id >= BATV_KEYS_MAX || !k->k[k->sign_id].set || at == NULL)
		return -EINVAL;
	key = &k->k[k->sign_id];
	ll = (size_t) (at - addr);
	if (16 + n + 1 > outsz)
		return -ENOSPC;
	kddd[0] = (char) ('0' + k->sign_id);
	kddd[1] = (char) ('0' + day / 100);
	kddd[2] = (char) ('0' + day / 10 % 10);
	kddd[3] = (char) ('0' + day % 10);
	memcpy(out, "prvs=", 5);
	memcpy(out + 5, kddd, 4);
	r = batv_hmac(key, kddd, addr, ll, at + 1, n - ll - 1, out + 9);
	if (r < 0)
		return r;
	out[15] = '=';
	memcpy(out + 16, addr, n);
	out[16 + n] = '\0';
	return (int) (16 + n);
}

bool
batv_verify(const struct batv_keys *k, const char *local, size_t ll, const char *domain, size_t dl,
	uint64_t now_ms)
{
	unsigned int id, day, today, ahead;
	char sig[6], got[6];

	if (ll < 17 || strncasecmp(local, "prvs=", 5) != 0 || local[15] != '=')
		return false;
	for (size_t i = 5; i < 9; i++)
		if (local[i] < '0' || local[i] > '9')
			return false;
	for (size_t i = 0; i < 6; i++)
		got[i] = batv_lower(local[9 + i]);
	id = (unsigned int) (local[5] - '0');
	if (!k->k[id].set)
		return false;
	day = (unsigned int) ((local[6] - '0') * 100 + (local[7] - '0') * 10 + (local[8] - '0'));
	today = (unsigned int) ((now_ms / BATV_DAY_MS) % 1000);
	ahead = (day + 1000 - today) % 1000; /* days until expiry, modulo the 1000-day wrap */
	if (ahead > BATV_DAYS)
		return false;
	if (batv_hmac(&k->k[id], local + 5, local + 16, ll - 16, domain, dl, sig) < 0)
		return false;
	return CRYPTO_memcmp(sig, got, sizeof(sig)) == 0;
}
