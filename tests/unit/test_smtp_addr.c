/* SPDX-License-Identifier: BSD-3-Clause */
/* Unit tests of the RFC 5321 path parser and the lookup normalisation (table-driven). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "smtp.h"
#include "ndg_common.h"

struct addr_case {
	const char *in;
	bool allow_null;
	int want;	   /* return value */
	const char *local; /* unquoted local part when want == 0 */
	const char *domain;
	uint32_t flags;
	size_t end; /* offset after '>' */
};

static const struct addr_case addr_cases[] = {
	{"<alice@example.test>", false, 0, "alice", "example.test", 0, 20},
	{"<alice@example.test> SIZE=10", true, 0, "alice", "example.test", 0, 20},
	{"<>", true, 0, "", "", SMTP_ADDR_NULL, 2},
	{"<>", false, -EINVAL, NULL, NULL, 0, 0},
	{"<Postmaster>", false, 0, "Postmaster", "", SMTP_ADDR_POSTMASTER, 12},
	{"<postmaster2>", false, -EINVAL, NULL, NULL, 0, 0},
	{"<\"john doe\"@example.test>", false, 0, "john doe", "example.test", SMTP_ADDR_QUOTED, 25},
	{"<\"a\\\"b\"@example.test>", false, 0, "a\"b", "example.test", SMTP_ADDR_QUOTED, 21},
	{"<a.b-c+d@sub.example.test>", false, 0, "a.b-c+d", "sub.example.test", 0, 26},
	{"<a@[198.18.0.1]>", false, 0, "a", "[198.18.0.1]", SMTP_ADDR_LITERAL, 16},
	{"<a@[IPv6:2001:db8::1]>", false, 0, "a", "[IPv6:2001:db8::1]", SMTP_ADDR_LITERAL, 22},
	/* syntax errors */
	{"alice@example.test", false, -EINVAL, NULL, NULL, 0, 0},
	{"<alice@example.test", false, -EINVAL, NULL, NULL, 0, 0},
	{"<alice>", false, -EINVAL, NULL, NULL, 0, 0},
	{"<.alice@example.test>", false, -EINVAL, NULL, NULL, 0, 0},
	{"<alice.@example.test>", false, -EINVAL, NULL, NULL, 0, 0},
	{"<al..ice@example.test>", false, -EINVAL, NULL, NULL, 0, 0},
	{"<alice@-example.test>", false, -EINVAL, NULL, NULL, 0, 0},
	{"<alice@example-.test>", false, -EINVAL, NULL, NULL, 0, 0},
	{"<alice@example..test>", false, -EINVAL, NULL, NULL, 0, 0},
	{"<alice@>", false, -EINVAL, NULL, NULL, 0, 0},
	{"<al ice@example.test>", false, -EINVAL, NULL, NULL, 0, 0},
	{"<\"\"@example.test>", false, -EINVAL, NULL, NULL, 0, 0},
	{"<a@[1.2.3.4>", false, -EINVAL, NULL, NULL, 0, 0},
	{"<", false, -EINVAL, NULL, NULL, 0, 0},
	/* relay-bypass forms */
	{"<user%other.test@example.test>", false, -SMTP_ADDR_EROUTE, NULL, NULL, 0, 0},
	{"<other.test!user@example.test>", false, -SMTP_ADDR_EROUTE, NULL, NULL, 0, 0},
	{"<@relay.test:user@other.test>", false, -SMTP_ADDR_EROUTE, NULL, NULL, 0, 0},
	{"<@a.test,@b.test:u@c.test>", false, -SMTP_ADDR_EROUTE, NULL, NULL, 0, 0},
	{"<user@other.test@example.test>", false, -SMTP_ADDR_EROUTE, NULL, NULL, 0, 0},
	{"<\"user@other.test\"@example.test>", false, -SMTP_ADDR_EROUTE, NULL, NULL, 0, 0},
	{"<\"user%other\"@example.test>", false, -SMTP_ADDR_EROUTE, NULL, NULL, 0, 0},
	{"<user%other>", false, -SMTP_ADDR_EROUTE, NULL, NULL, 0, 0},
};

static void
test_addr_parse_table(void **state)
{
	(void) state;
	for (size_t i = 0; i < NDG_ARRAY_SIZE(addr_cases); i++) {
		const struct addr_case *c = &addr_cases[i];
		struct smtp_addr a;
		size_t end = 0;
		int r = smtp_addr_parse(c->in, strlen(c->in), c->allow_null, &a, &end);

		if (r != c->want)
			fail_msg("case %zu \"%s\": got %d want %d", i, c->in, r, c->want);
		if (r != 0)
			continue;
		assert_string_equal(a.local, c->local);
		assert_string_equal(a.domain, c->domain);
		assert_int_equal(a.local_len, strlen(c->local));
		assert_int_equal(a.flags, c->flags);
		assert_int_equal(end, c->end);
	}
}

static void
test_addr_limits(void **state)
{
	char buf[600], local[80], dom[300];
	struct smtp_addr a;
	size_t end;

	(void) state;
	/* local part: 64 accepted, 65 refused (RFC 5321 §4.5.3.1.1) */
	memset(local, 'a', 64);
	local[64] = '\0';
	snprintf(buf, sizeof(buf), "<%s@example.test>", local);
	assert_int_equal(smtp_addr_parse(buf, strlen(buf), false, &a, &end), 0);
	memset(local, 'a', 65);
	local[65] = '\0';
	snprintf(buf, sizeof(buf), "<%s@example.test>", local);
	assert_int_equal(smtp_addr_parse(buf, strlen(buf), false, &a, &end), -ENAMETOOLONG);
	/* domain over 255 octets */
	for (int i = 0; i < 260; i++)
		dom[i] = (i % 10 == 9) ? '.' : 'd';
	dom[260] = '\0';
	snprintf(buf, sizeof(buf), "<a@%s>", dom);
	assert_int_equal(smtp_addr_parse(buf, strlen(buf), false, &a, &end), -ENAMETOOLONG);
	/* whole path over 256: 64 + 1 + 195 + brackets */
	memset(local, 'b', 64);
	local[64] = '\0';
	for (int i = 0; i < 195; i++)
		dom[i] = (i % 10 == 9) ? '.' : 'd';
	dom[195] = '\0';
	snprintf(buf, sizeof(buf), "<%s@%s>", local, dom);
	assert_int_equal(smtp_addr_parse(buf, strlen(buf), false, &a, &end), -ENAMETOOLONG);
	/* label over 63 octets */
	memset(dom, 'e', 64);
	memcpy(dom + 64, ".test", 6);
	snprintf(buf, sizeof(buf), "<a@%s>", dom);
	assert_int_equal(smtp_addr_parse(buf, strlen(buf), false, &a, &end), -EINVAL);
}

struct norm_case {
	const char *in;
	bool case_sensitive;
	const char *want;
};

static const struct norm_case norm_cases[] = {
	{"<Alice@Example.TEST>", false, "alice@example.test"},
	{"<Alice@Example.TEST>", true, "Alice@example.test"},
	{"<alice+news@example.test>", false, "alice@example.test"},
	{"<alice+a+b@example.test>", false, "alice@example.test"},
	{"<+alice@example.test>", false, "+alice@example.test"},
	{"<prvs=1234abcdef=bob@example.test>", false, "bob@example.test"},
	{"<PRVS=1234ABCDEF=Bob+x@example.test>", false, "bob@example.test"},
	{"<prvs=12x4abcdef=bob@example.test>", false, "prvs=12x4abcdef=bob@example.test"},
	{"<prvs=1234abcdeg=bob@example.test>", false, "prvs=1234abcdeg=bob@example.test"},
	{"<\"John Doe\"@Example.test>", false, "john doe@example.test"},
};

static void
test_addr_normalize_table(void **state)
{
	(void) state;
	for (size_t i = 0; i < NDG_ARRAY_SIZE(norm_cases); i++) {
		struct smtp_addr a;
		size_t end;
		char out[SMTP_ADDR_BUF];
		int r;

		assert_int_equal(smtp_addr_parse(norm_cases[i].in, strlen(norm_cases[i].in), false,
					 &a, &end),
			0);
		r = smtp_addr_normalize(&a, norm_cases[i].case_sensitive, out, sizeof(out));
		assert_int_equal(r, (int) strlen(norm_cases[i].want));
		assert_string_equal(out, norm_cases[i].want);
	}
}

static void
test_addr_normalize_errors(void **state)
{
	struct smtp_addr a;
	size_t end;
	char small[8];

	(void) state;
	assert_int_equal(smtp_addr_parse("<>", 2, true, &a, &end), 0);
	assert_int_equal(smtp_addr_normalize(&a, false, small, sizeof(small)), -EINVAL);
	assert_int_equal(smtp_addr_parse("<alice@example.test>", 20, false, &a, &end), 0);
	assert_int_equal(smtp_addr_normalize(&a, false, small, sizeof(small)), -ENOSPC);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_addr_parse_table),
		cmocka_unit_test(test_addr_limits),
		cmocka_unit_test(test_addr_normalize_table),
		cmocka_unit_test(test_addr_normalize_errors),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
