/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Attribute values to addresses: the one place that turns untrusted LDAP values into
 * directory entries. Pure functions, any thread, no allocation.
 */
#include <ctype.h>
#include <errno.h>
#include <string.h>
#include <strings.h>

#include "lsrc.h"

int
lsrc_attr_value(enum lsrc_attr_kind kind, const char *val, size_t len, char *out, const char **why)
{
	char buf[DIR_ADDR_MAX + 1];
	size_t start = 0, end = len;

	if (len > LSRC_VALUE_MAX) {
		*why = "value longer than the limit";
		return -EINVAL;
	}
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char) val[i];

		/* RFC 4517 §3.3.6 IA5String at most; a NUL would cut the C string short. */
		if (c < 0x20 || c == 0x7f) {
			*why = "value holds a NUL or control character";
			return -EINVAL;
		}
	}
	if (kind == LSRC_ATTR_SMTP) {
		const char *colon = memchr(val, ':', len);

		/* proxyAddresses: "TYPE:address", the type case-insensitive; SMTP: marks the
		 * primary address, smtp: the others. Every other type is not mail routing. */
		if (colon == NULL) {
			*why = "typed value without a type prefix";
			return -EINVAL;
		}
		if ((size_t) (colon - val) != 4 || strncasecmp(val, "smtp", 4) != 0)
			return 0;
		start = 5;
	}
	while (start < end && (val[start] == ' ' || val[start] == '\t'))
		start++;
	while (end > start && (val[end - 1] == ' ' || val[end - 1] == '\t'))
		end--;
	if (end == start) {
		*why = "empty value";
		return -EINVAL;
	}
	if (end - start > DIR_ADDR_MAX) {
		*why = "address longer than 256";
		return -EINVAL;
	}
	memcpy(buf, val + start, end - start);
	buf[end - start] = '\0';
	if (dir_addr_normalize(buf, false, out, why) != 0)
		return -EINVAL;
	/* A catch-all ("@domain", also as "<@domain>") is a flat-file feature: from LDAP it would
	 * be one stray value that accepts a whole domain, so it is refused. */
	if (out[0] == '@') {
		*why = "a catch-all is not accepted from LDAP";
		return -EINVAL;
	}
	return 1;
}

int
lsrc_attr_parse(const char *spec, struct lsrc_attr *out)
{
	const char *colon = strchr(spec, ':');
	size_t n = colon ? (size_t) (colon - spec) : strlen(spec);

	/* RFC 4512 §1.4 descr: a letter, then letters, digits and '-'. */
	if (n == 0 || n > LSRC_ATTR_NAME_MAX || !isalpha((unsigned char) spec[0]))
		return -EINVAL;
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char) spec[i]) && spec[i] != '-')
			return -EINVAL;
	memcpy(out->name, spec, n);
	out->name[n] = '\0';
	out->kind = LSRC_ATTR_PLAIN;
	if (colon != NULL) {
		if (strcmp(colon + 1, "smtp") != 0)
			return -EINVAL;
		out->kind = LSRC_ATTR_SMTP;
	}
	if (strcasecmp(out->name, "proxyAddresses") == 0)
		out->kind = LSRC_ATTR_SMTP;
	return 0;
}
