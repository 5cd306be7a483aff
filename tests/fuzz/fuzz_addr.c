/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * libFuzzer harness: RFC 5321 path parser, normalisation and BATV verification. A parsed
 * path respects the RFC limits and never carries a relay-bypass form; its normal form is
 * bounded, lowercase in the domain and carries no subaddress.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "policy.h"
#include "smtp.h"
#include "ndg_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *s = (const char *) data;
	struct smtp_addr a;
	struct batv_keys k;
	char out[SMTP_ADDR_BUF];
	size_t end = 0;
	int r;

	for (int allow_null = 0; allow_null <= 1; allow_null++) {
		r = smtp_addr_parse(s, size, allow_null, &a, &end);
		if (r != 0)
			continue;
		if (end > size || end > SMTP_PATH_MAX || s[end - 1] != '>')
			abort();
		if (a.local_len > SMTP_LOCAL_MAX || a.domain_len > SMTP_DOMAIN_MAX ||
			strlen(a.local) != a.local_len || strlen(a.domain) != a.domain_len)
			abort();
		if (memchr(a.domain, '@', a.domain_len) != NULL)
			abort();
		if (!(a.flags & SMTP_ADDR_QUOTED) &&
			(memchr(a.local, '%', a.local_len) || memchr(a.local, '!', a.local_len) ||
				memchr(a.local, '@', a.local_len)))
			abort();
		if (a.flags & (SMTP_ADDR_NULL | SMTP_ADDR_POSTMASTER))
			continue;
		r = smtp_addr_normalize(&a, false, out, sizeof(out));
		if (r < 0 || (size_t) r != strlen(out))
			abort();
		for (const char *d = strrchr(out, '@') + 1; *d; d++)
			if (*d >= 'A' && *d <= 'Z')
				abort();
		if (strchr(out, '+') != NULL && strchr(out, '+') != out &&
			strchr(out, '+') < strrchr(out, '@'))
			abort();
		memset(&k, 0, sizeof(k));
		k.k[1].set = true;
		k.k[1].len = 4;
		memcpy(k.k[1].key, "fuzz", 4);
		(void) batv_verify(&k, a.local, a.local_len, a.domain, a.domain_len,
			1700000000000ULL);
	}
	return 0;
}
