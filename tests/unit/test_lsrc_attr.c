/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Unit tests of the LDAP source's attribute-value parsing (untrusted input): plain mail values,
 * AD proxyAddresses types (smtp:/SMTP: in, X500:/X400:/SIP:/EUM: out), bounds (value length,
 * address length, embedded NUL and control bytes, catch-alls), attribute specs, the
 * `directory ldap` items, and a seeded random run that checks every accepted value comes out
 * as an address the directory itself accepts.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "lsrc.h"

static int
attr(enum lsrc_attr_kind kind, const char *v, char *out)
{
	const char *why = NULL;
	int r = lsrc_attr_value(kind, v, strlen(v), out, &why);

	if (r < 0)
		assert_non_null(why);
	return r;
}

static void
test_values(void **state)
{
	static const struct {
		enum lsrc_attr_kind kind;
		const char *in;
		int want_r;
		const char *want; /* the address when want_r == 1 */
	} t[] = {
		{LSRC_ATTR_PLAIN, "alice@example.com", 1, "alice@example.com"},
		{LSRC_ATTR_PLAIN, " Alice@Example.COM ", 1, "alice@example.com"},
		{LSRC_ATTR_PLAIN, "first.last+tag@sub.example.com", 1,
			"first.last+tag@sub.example.com"},
		{LSRC_ATTR_PLAIN, "no-at-sign", -EINVAL, NULL},
		{LSRC_ATTR_PLAIN, "", -EINVAL, NULL},
		{LSRC_ATTR_PLAIN, "   ", -EINVAL, NULL},
		{LSRC_ATTR_PLAIN, "@example.com", -EINVAL, NULL},   /* no catch-all from LDAP */
		{LSRC_ATTR_PLAIN, "<@example.com>", -EINVAL, NULL}, /* found by fuzz_lsrc */
		{LSRC_ATTR_SMTP, "smtp:<@example.com>", -EINVAL, NULL},
		{LSRC_ATTR_PLAIN, "<bob@example.com>", 1, "bob@example.com"},
		{LSRC_ATTR_PLAIN, "a@b@example.com", -EINVAL, NULL},
		{LSRC_ATTR_PLAIN, "\"quoted\"@example.com", -EINVAL, NULL},
		{LSRC_ATTR_PLAIN, "bad\tuser@example.com", -EINVAL, NULL},
		{LSRC_ATTR_PLAIN, "bad\nuser@example.com", -EINVAL, NULL},
		{LSRC_ATTR_PLAIN, "smtp:alice@example.com", -EINVAL, NULL}, /* not typed here */
		{LSRC_ATTR_SMTP, "SMTP:Primary@Example.com", 1, "primary@example.com"},
		{LSRC_ATTR_SMTP, "smtp:alias@example.com", 1, "alias@example.com"},
		{LSRC_ATTR_SMTP, "Smtp:mixed@example.com", 1, "mixed@example.com"},
		{LSRC_ATTR_SMTP, "smtp: spaced@example.com ", 1, "spaced@example.com"},
		{LSRC_ATTR_SMTP, "X500:/o=Org/ou=Exchange/cn=Recipients/cn=alice", 0, NULL},
		{LSRC_ATTR_SMTP, "x500:/o=Org/cn=bob@example.com", 0, NULL},
		{LSRC_ATTR_SMTP, "X400:c=US;a= ;p=Org;o=Exchange;s=Alice;", 0, NULL},
		{LSRC_ATTR_SMTP, "SIP:alice@example.com", 0, NULL},
		{LSRC_ATTR_SMTP, "EUM:1234;phone-context=dialplan", 0, NULL},
		{LSRC_ATTR_SMTP, "smtps:alice@example.com", 0, NULL},
		{LSRC_ATTR_SMTP, "smt:alice@example.com", 0, NULL},
		{LSRC_ATTR_SMTP, "alice@example.com", -EINVAL, NULL}, /* no type */
		{LSRC_ATTR_SMTP, "smtp:", -EINVAL, NULL},
		{LSRC_ATTR_SMTP, "SMTP:@example.com", -EINVAL, NULL},
		{LSRC_ATTR_SMTP, "smtp:not an address", -EINVAL, NULL},
		{LSRC_ATTR_SMTP, ":alice@example.com", 0, NULL},
	};
	char out[DIR_ADDR_MAX + 1];

	(void) state;
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		int r = attr(t[i].kind, t[i].in, out);

		if (r != t[i].want_r)
			fail_msg("'%s': got %d, want %d", t[i].in, r, t[i].want_r);
		if (r == 1)
			assert_string_equal(out, t[i].want);
	}
}

static void
test_bounds(void **state)
{
	char big[LSRC_VALUE_MAX + 64], out[DIR_ADDR_MAX + 1];
	const char *why;

	(void) state;
	/* A local part of 64 is the RFC 5321 maximum; 65 is refused. */
	memset(big, 'a', 64);
	snprintf(big + 64, sizeof(big) - 64, "@example.com");
	assert_int_equal(attr(LSRC_ATTR_PLAIN, big, out), 1);
	memset(big, 'a', 65);
	snprintf(big + 65, sizeof(big) - 65, "@example.com");
	assert_int_equal(attr(LSRC_ATTR_PLAIN, big, out), -EINVAL);
	/* Longer than 256 as an address, and longer than the value limit. */
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	big[10] = '@';
	assert_int_equal(lsrc_attr_value(LSRC_ATTR_PLAIN, big, 300, out, &why), -EINVAL);
	assert_int_equal(lsrc_attr_value(LSRC_ATTR_SMTP, big, LSRC_VALUE_MAX + 1, out, &why),
		-EINVAL);
	/* A NUL inside the value (BER strings carry lengths, not terminators). */
	assert_int_equal(lsrc_attr_value(LSRC_ATTR_PLAIN, "evil@example.com\0x", 18, out, &why),
		-EINVAL);
	/* The length is honoured: only the first bytes count. */
	assert_int_equal(lsrc_attr_value(LSRC_ATTR_PLAIN, "bob@example.comXYZ", 15, out, &why), 1);
	assert_string_equal(out, "bob@example.com");
	assert_int_equal(lsrc_attr_value(LSRC_ATTR_SMTP, "smtp", 4, out, &why), -EINVAL);
}

static void
test_specs(void **state)
{
	struct lsrc_attr a;

	(void) state;
	assert_int_equal(lsrc_attr_parse("mail", &a), 0);
	assert_string_equal(a.name, "mail");
	assert_int_equal(a.kind, LSRC_ATTR_PLAIN);
	assert_int_equal(lsrc_attr_parse("proxyAddresses", &a), 0);
	assert_int_equal(a.kind, LSRC_ATTR_SMTP);
	assert_int_equal(lsrc_attr_parse("otherMailbox:smtp", &a), 0);
	assert_string_equal(a.name, "otherMailbox");
	assert_int_equal(a.kind, LSRC_ATTR_SMTP);
	assert_int_equal(lsrc_attr_parse("mail:x500", &a), -EINVAL);
	assert_int_equal(lsrc_attr_parse("1mail", &a), -EINVAL);
	assert_int_equal(lsrc_attr_parse("ma il", &a), -EINVAL);
	assert_int_equal(lsrc_attr_parse("", &a), -EINVAL);
}

static void
test_conf_items(void **state)
{
	const char *why;
	char err[256];
	struct lsrc_conf *c = lsrc_conf_new("corp-ad", 1, &why);
	char *one[] = {"ad"}, *two[] = {"mail", "proxyAddresses"}, *bad[] = {"x400"};
	char *bind[] = {"sasl-external"}, *bind_bad[] = {"simple"};
	const struct lsrc_attr *attrs;

	(void) state;
	assert_non_null(c);
	assert_null(lsrc_conf_new("Bad Name", 1, &why));
	assert_null(lsrc_conf_new("this-name-is-much-longer-than-thirty-two", 1, &why));
	/* Defaults per flavour. */
	assert_int_equal(lsrc_conf_attrs(c, &attrs), 2);
	assert_string_equal(attrs[1].name, "mailAlternateAddress");
	assert_int_equal(lsrc_conf_item(c, "flavour", one, 1, err, sizeof(err)), 0);
	assert_int_equal(lsrc_conf_attrs(c, &attrs), 2);
	assert_string_equal(attrs[1].name, "proxyAddresses");
	assert_int_equal(attrs[1].kind, LSRC_ATTR_SMTP);
	assert_non_null(strstr(lsrc_conf_filter(c), "objectClass=group"));
	assert_non_null(strstr(lsrc_conf_filter(c), "objectClass=publicFolder"));
	assert_int_equal(lsrc_conf_item(c, "attributes", two, 2, err, sizeof(err)), 0);
	assert_int_equal(lsrc_conf_item(c, "flavour", bad, 1, err, sizeof(err)), -EINVAL);
	assert_int_equal(lsrc_conf_item(c, "bind", bind, 1, err, sizeof(err)), 0);
	assert_int_equal(lsrc_conf_item(c, "bind", bind_bad, 1, err, sizeof(err)), -EINVAL);
	assert_int_equal(lsrc_conf_item(c, "no-such-item", one, 1, err, sizeof(err)), -EINVAL);
	/* uri and base are required. */
	assert_int_equal(lsrc_conf_check(c, err, sizeof(err)), -EINVAL);
	free(c);
}

/* Seeded random values built from pieces that matter (types, '@', dots, odd bytes): the
 * parser never crashes, never writes past its buffer (ASan in the fuzz build, the canary here)
 * and whatever it accepts the directory accepts too. */
static uint64_t
rnd(uint64_t *x)
{
	*x ^= *x << 13;
	*x ^= *x >> 7;
	*x ^= *x << 17;
	return *x;
}

static void
put(char *v, size_t *len, size_t cap, const char *p)
{
	size_t pl = strlen(p);

	if (*len + pl < cap) {
		memcpy(v + *len, p, pl);
		*len += pl;
	}
}

static void
test_random(void **state)
{
	static const char *const types[] = {"", "smtp:", "SMTP:", "X500:", "x400:", "sip:", ":"};
	static const char *const local[] = {"a", "Z", "9", "-", "+", ".", "..", "o'h", "\"", " ",
		"prvs=", "\x01", "\xff", "<", "@"};
	static const char *const dom[] = {"example", "com", "-", ".", "x", "\t", "@", "", ">"};
	uint64_t x = 0x9e3779b97f4a7c15ull;
	unsigned int accepted = 0, refused = 0;

	(void) state;
	for (int n = 0; n < 200000; n++) {
		char v[LSRC_VALUE_MAX + 600], out[DIR_ADDR_MAX + 1 + 8], norm[DIR_ADDR_MAX + 1];
		size_t len = 0;
		const char *why;
		int r;

		put(v, &len, sizeof(v), types[rnd(&x) % 7]);
		for (int i = (int) (rnd(&x) % 5); i >= 0; i--)
			put(v, &len, sizeof(v), local[rnd(&x) % (rnd(&x) % 3 ? 3 : 15)]);
		if (rnd(&x) % 10)
			put(v, &len, sizeof(v), "@");
		for (int i = (int) (rnd(&x) % 4); i >= 0; i--) {
			put(v, &len, sizeof(v), dom[rnd(&x) % (rnd(&x) % 3 ? 2 : 9)]);
			if (i > 0)
				put(v, &len, sizeof(v), ".");
		}
		if (rnd(&x) % 50 == 0) /* now and then far too long */
			for (int i = 0; i < 80; i++)
				put(v, &len, sizeof(v), "abcdefgh");
		memset(out, 0x5a, sizeof(out));
		r = lsrc_attr_value(n & 1 ? LSRC_ATTR_SMTP : LSRC_ATTR_PLAIN, v, len, out, &why);
		for (size_t i = DIR_ADDR_MAX + 1; i < sizeof(out); i++)
			assert_int_equal((unsigned char) out[i], 0x5a);
		assert_true(r >= -EINVAL && r <= 1);
		if (r == 1) {
			accepted++;
			assert_true(strlen(out) <= DIR_ADDR_MAX);
			assert_int_equal(dir_addr_normalize(out, false, norm, &why), 0);
			assert_string_equal(norm, out);
			assert_null(strchr(out, ':'));
		} else if (r < 0) {
			refused++;
		}
	}
	/* The generator must reach both the accepting and the refusing paths. */
	assert_true(accepted > 1000);
	assert_true(refused > 1000);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_values),
		cmocka_unit_test(test_bounds),
		cmocka_unit_test(test_specs),
		cmocka_unit_test(test_conf_items),
		cmocka_unit_test(test_random),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
