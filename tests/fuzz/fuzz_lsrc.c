/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * libFuzzer harness: LDAP attribute values (untrusted, length-delimited, not NUL-terminated)
 * to directory addresses, as plain and as typed (proxyAddresses) values, and attribute specs.
 * An accepted value is a bounded address the directory itself accepts unchanged, never a
 * catch-all, never typed; a plain value is never "skipped".
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lsrc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char out[DIR_ADDR_MAX + 1], norm[DIR_ADDR_MAX + 1], spec[128];
	const char *why;
	struct lsrc_attr a;

	for (int kind = 0; kind < LSRC_ATTR_MAX; kind++) {
		int r = lsrc_attr_value((enum lsrc_attr_kind) kind, (const char *) data, size, out,
			&why);

		if (r != 1 && r != 0 && r != -EINVAL)
			abort();
		if (r == 0 && kind == LSRC_ATTR_PLAIN)
			abort();
		if (r != 1)
			continue;
		if (strlen(out) > DIR_ADDR_MAX || out[0] == '@' || strchr(out, ':') != NULL ||
			size > LSRC_VALUE_MAX)
			abort();
		if (dir_addr_normalize(out, false, norm, &why) != 0 || strcmp(norm, out) != 0)
			abort();
	}
	if (size < sizeof(spec)) {
		memcpy(spec, data, size);
		spec[size] = '\0';
		if (lsrc_attr_parse(spec, &a) == 0 &&
			(strlen(a.name) == 0 || strlen(a.name) > LSRC_ATTR_NAME_MAX))
			abort();
	}
	return 0;
}
