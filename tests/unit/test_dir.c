/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Unit tests of the control daemon's directory: address normalisation (entries and lookups),
 * the sorted set, flat-file reading with bad lines, and lookup explanations.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "dir.h"

static void
test_normalize(void **state)
{
	static const struct {
		const char *in;
		int lookup;
		const char *want; /* NULL: refused */
	} t[] = {
		{"alice@example.com", 0, "alice@example.com"},
		{"  <Alice@Example.COM>  ", 0, "alice@example.com"},
		{"@Example.org", 0, "@example.org"},
		{"alice+news@example.com", 1, "alice@example.com"},
		{"alice+news@example.com", 0, "alice+news@example.com"},
		{"prvs=1234abcdef=bob@example.com", 1, "bob@example.com"},
		{"prvs=1234abcdef=bob+x@example.com", 1, "bob@example.com"},
		{"+only@example.com", 1, "+only@example.com"},
		{"o'hara@example.com", 0, "o'hara@example.com"},
		{"first.last@sub.example.com", 0, "first.last@sub.example.com"},
		{"noat.example.com", 0, NULL},
		{"a@@example.com", 0, NULL},
		{"a@b@example.com", 0, NULL},
		{"\"q@x\"@example.com", 0, NULL},
		{".lead@example.com", 0, NULL},
		{"trail.@example.com", 0, NULL},
		{"dou..ble@example.com", 0, NULL},
		{"sp ace@example.com", 0, NULL},
		{"a@-example.com", 0, NULL},
		{"a@example-.com", 0, NULL},
		{"a@example..com", 0, NULL},
		{"a@example.com.", 0, NULL},
		{"a@exa_mple.com", 0, NULL},
		{"a%b@example.com", 0, "a%b@example.com"},
		{"", 0, NULL},
		{"@", 0, NULL},
	};
	char out[DIR_ADDR_MAX + 1], local[80], addr[400];
	const char *why;

	(void) state;
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		int ret = dir_addr_normalize(t[i].in, t[i].lookup, out, &why);

		if (t[i].want == NULL && ret == 0)
			fail_msg("'%s' accepted as '%s'", t[i].in, out);
		if (t[i].want != NULL && (ret != 0 || strcmp(out, t[i].want) != 0))
			fail_msg("'%s': got %s, want %s", t[i].in, ret ? why : out, t[i].want);
	}
	/* RFC 5321 limits: local part 64. */
	memset(local, 'a', 65);
	local[65] = '\0';
	snprintf(addr, sizeof(addr), "%s@example.com", local);
	assert_int_equal(dir_addr_normalize(addr, false, out, &why), -EINVAL);
	local[64] = '\0';
	snprintf(addr, sizeof(addr), "%s@example.com", local);
	assert_int_equal(dir_addr_normalize(addr, false, out, &why), 0);
}

static void
test_set(void **state)
{
	struct dir_set s;
	uint64_t gen;

	(void) state;
	dir_set_init(&s);
	assert_int_equal(dir_set_add(&s, "c@x.org"), 0);
	assert_int_equal(dir_set_add(&s, "a@x.org"), 0);
	assert_int_equal(dir_set_add(&s, "c@x.org"), 0);
	assert_int_equal(dir_set_add(&s, "b@x.org"), 0);
	dir_set_finish(&s);
	assert_int_equal(s.n, 3);
	assert_string_equal(s.v[0], "a@x.org");
	assert_true(dir_set_has(&s, "b@x.org"));
	assert_false(dir_set_has(&s, "d@x.org"));
	gen = s.gen;
	assert_true(dir_set_del(&s, "b@x.org"));
	assert_false(dir_set_del(&s, "b@x.org"));
	assert_int_equal(s.n, 2);
	assert_int_not_equal(s.gen, gen);
	/* The digest depends on content only, not on insertion order. */
	{
		struct dir_set t;

		dir_set_init(&t);
		assert_int_equal(dir_set_add(&t, "c@x.org"), 0);
		assert_int_equal(dir_set_add(&t, "a@x.org"), 0);
		dir_set_finish(&t);
		assert_int_equal(t.gen, s.gen);
		dir_set_free(&t);
	}
	dir_set_free(&s);
}

static bool
domain_ok(const char *domain, void *arg)
{
	(void) arg;
	return strcmp(domain, "example.com") == 0 || strcmp(domain, "all.example.com") == 0;
}

static void
test_file_and_lookup(void **state)
{
	char path[] = "/tmp/ndg-test-dir-XXXXXX";
	char norm[DIR_ADDR_MAX + 1], matched[DIR_ADDR_MAX + 1];
	struct dir_set s;
	size_t bad = 0;
	FILE *f, *errf;
	char *errs = NULL;
	size_t errs_len = 0;
	int fd = mkstemp(path);

	(void) state;
	assert_true(fd >= 0);
	f = fdopen(fd, "w");
	assert_non_null(f);
	fputs("# a comment\n\nAlice@Example.com   # trailing comment\n  bob@example.com\n"
	      "@all.example.com\nbroken@@example.com\nno-at-sign\n",
		f);
	fclose(f);
	dir_set_init(&s);
	errf = open_memstream(&errs, &errs_len);
	assert_int_equal(dir_file_read(path, &s, errf, &bad), 0);
	fclose(errf);
	dir_set_finish(&s);
	assert_int_equal(s.n, 3);
	assert_int_equal(bad, 2);
	assert_non_null(strstr(errs, ":6: 'broken@@example.com'"));
	assert_non_null(strstr(errs, ":7: 'no-at-sign'"));
	free(errs);

	assert_int_equal(dir_lookup(&s, "ALICE+x@example.com", domain_ok, NULL, norm, matched),
		DIR_MATCH_EXACT);
	assert_string_equal(matched, "alice@example.com");
	assert_int_equal(dir_lookup(&s, "who@all.example.com", domain_ok, NULL, norm, matched),
		DIR_MATCH_CATCHALL);
	assert_string_equal(matched, "@all.example.com");
	assert_int_equal(dir_lookup(&s, "carol@example.com", domain_ok, NULL, norm, matched),
		DIR_MATCH_NONE);
	assert_int_equal(dir_lookup(&s, "Postmaster@example.com", domain_ok, NULL, norm, matched),
		DIR_MATCH_POSTMASTER);
	assert_int_equal(dir_lookup(&s, "alice@example.net", domain_ok, NULL, norm, matched),
		DIR_MATCH_DOMAIN_UNKNOWN);
	assert_int_equal(dir_lookup(&s, "alice", domain_ok, NULL, norm, matched),
		DIR_MATCH_BAD_SYNTAX);
	assert_int_equal(dir_file_read("/nonexistent/ndg", &s, NULL, &bad), -ENOENT);
	dir_set_free(&s);
	unlink(path);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_normalize),
		cmocka_unit_test(test_set),
		cmocka_unit_test(test_file_and_lookup),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
