/* SPDX-License-Identifier: BSD-3-Clause */
/* Unit tests of the policy helpers: CIDR matching, domains, BATV, harvest decay and limits. */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <arpa/inet.h>
#include <cmocka.h>

#include "policy.h"
#include "ndg_common.h"

#define DAY_MS 86400000ULL
#define T0     (20000ULL * DAY_MS + 3600000ULL) /* day 20000, 01:00 */

static struct policy_peer
peer4(const char *s)
{
	struct policy_peer p = {4, {0}};

	assert_int_equal(inet_pton(AF_INET, s, p.addr), 1);
	return p;
}

struct cidr_case {
	const char *cidr;
	const char *addr;
	bool want;
};

static const struct cidr_case cidr_cases[] = {
	{"198.18.0.0/15", "198.19.255.255", true},
	{"198.18.0.0/15", "198.20.0.0", false},
	{"198.18.1.0/24", "198.18.1.77", true},
	{"198.18.1.0/24", "198.18.2.1", false},
	{"198.18.1.7/32", "198.18.1.7", true},
	{"198.18.1.7", "198.18.1.8", false},
	{"0.0.0.0/0", "203.0.113.5", true},
	{"198.18.1.128/25", "198.18.1.127", false},
	{"2001:db8::/32", "198.18.1.1", false},
};

static void
test_cidr_table(void **state)
{
	struct policy_cidr c;

	(void) state;
	for (size_t i = 0; i < NDG_ARRAY_SIZE(cidr_cases); i++) {
		struct policy_peer p = peer4(cidr_cases[i].addr);

		assert_int_equal(policy_cidr_parse(cidr_cases[i].cidr, &c), 0);
		assert_int_equal(policy_cidr_match(&c, 1, &p), cidr_cases[i].want);
	}
	assert_int_equal(policy_cidr_parse("198.18.0.0/33", &c), -EINVAL);
	assert_int_equal(policy_cidr_parse("198.18.0/8", &c), -EINVAL);
	assert_int_equal(policy_cidr_parse("/8", &c), -EINVAL);
	assert_int_equal(policy_cidr_parse("1.2.3.4/", &c), -EINVAL);
	assert_int_equal(policy_cidr_parse("2001:db8::/129", &c), -EINVAL);
	assert_int_equal(policy_cidr_parse("2001:db8::/48", &c), 0);
	assert_int_equal(c.family, 6);
	{
		struct policy_peer in6 = {6, {0}}, out6 = {6, {0}};

		assert_int_equal(inet_pton(AF_INET6, "2001:db8:0:ffff::1", in6.addr), 1);
		assert_int_equal(inet_pton(AF_INET6, "2001:db8:1::1", out6.addr), 1);
		assert_true(policy_cidr_match(&c, 1, &in6));
		assert_false(policy_cidr_match(&c, 1, &out6));
	}
}

static void
test_domains(void **state)
{
	struct policy p;

	(void) state;
	policy_init(&p);
	assert_int_equal(policy_domain_add(&p, "Example.TEST", false, false), 0);
	assert_int_equal(policy_domain_add(&p, "b.test", true, false), 0);
	assert_int_equal(policy_domain_add(&p, "a.test", false, true), 0);
	assert_int_equal(policy_domain_add(&p, "", false, false), -EINVAL);
	assert_non_null(policy_domain_find(&p, "example.test", 12));
	assert_true(policy_domain_find(&p, "b.test", 6)->catch_all);
	assert_true(policy_domain_find(&p, "a.test", 6)->batv);
	assert_null(policy_domain_find(&p, "example.tes", 11));
	assert_null(policy_domain_find(&p, "example.test.evil", 17));
	assert_null(policy_domain_find(&p, "c.test", 6));
	policy_fini(&p);
}

static void
test_batv(void **state)
{
	struct batv_keys k;
	char out[128];
	int n;

	(void) state;
	memset(&k, 0, sizeof(k));
	assert_int_equal(batv_sign(&k, "user@example.test", 17, T0, out, sizeof(out)), -EINVAL);
	k.sign_id = 2;
	k.k[2].set = true;
	k.k[2].len = 6;
	memcpy(k.k[2].key, "secret", 6);
	k.k[5].set = true;
	k.k[5].len = 3;
	memcpy(k.k[5].key, "old", 3);
	n = batv_sign(&k, "user@example.test", 17, T0, out, sizeof(out));
	assert_int_equal(n, 33);
	/* prvs=K DDD SSSSSS= : key 2, expiry day (20000 + 7) % 1000 = 007 */
	assert_memory_equal(out, "prvs=2007", 9);
	assert_int_equal(out[15], '=');
	assert_string_equal(out + 16, "user@example.test");
	/* valid today and until the expiry day, under any configured key */
	assert_true(batv_verify(&k, out, 33 - 13, "example.test", 12, T0));
	assert_true(batv_verify(&k, out, 20, "EXAMPLE.test", 12, T0 + 7 * DAY_MS));
	assert_false(batv_verify(&k, out, 20, "example.test", 12, T0 + 8 * DAY_MS));
	assert_false(batv_verify(&k, out, 20, "example.test", 12, T0 - 1 * DAY_MS));
	assert_false(batv_verify(&k, out, 20, "other.test", 10, T0));
	/* tampered signature, unknown key number */
	out[14] = out[14] == '0' ? '1' : '0';
	assert_false(batv_verify(&k, out, 20, "example.test", 12, T0));
	k.sign_id = 5;
	n = batv_sign(&k, "user@example.test", 17, T0, out, sizeof(out));
	assert_int_equal(n, 33);
	assert_true(batv_verify(&k, out, 20, "example.test", 12, T0));
	k.k[5].set = false;
	assert_false(batv_verify(&k, out, 20, "example.test", 12, T0));
	assert_false(batv_verify(&k, "user", 4, "example.test", 12, T0));
	assert_int_equal(batv_sign(&k, "user@example.test", 17, T0, out, 20), -EINVAL);
	k.k[5].set = true;
	assert_int_equal(batv_sign(&k, "user@example.test", 17, T0, out, 20), -ENOSPC);
}

static void
test_harvest(void **state)
{
	struct policy_harvest h;
	struct policy_peer a = peer4("198.18.5.1"), b = peer4("198.18.5.2"),
			   c = peer4("198.18.6.1");
	uint32_t delay = 0;

	(void) state;
	memset(&h, 0, sizeof(h));
	h.budget_host = 3;
	h.budget_net = 5;
	h.half_life_ms = 60000;
	assert_int_equal(policy_harvest_init(&h, 2, 1, 2), -EINVAL);
	assert_int_equal(policy_harvest_init(&h, 12, 1, 2), 0);
	assert_int_equal(policy_harvest_check(&h, &a, T0, &delay), 0);
	for (int i = 0; i < 3; i++)
		policy_harvest_charge(&h, &a, T0);
	/* host at budget: tarpit with the base delay */
	assert_int_equal(policy_harvest_check(&h, &a, T0, &delay), 1);
	assert_int_equal(delay, 1000);
	policy_harvest_charge(&h, &a, T0);
	assert_int_equal(policy_harvest_check(&h, &a, T0, &delay), 1);
	assert_int_equal(delay, 2000);
	/* the neighbour in the same /24 shares the network budget (4 of 5 so far) */
	assert_int_equal(policy_harvest_check(&h, &b, T0, &delay), 0);
	policy_harvest_charge(&h, &b, T0);
	assert_int_equal(policy_harvest_check(&h, &b, T0, &delay), 1);
	/* another /24 is untouched */
	assert_int_equal(policy_harvest_check(&h, &c, T0, &delay), 0);
	/* twice the host budget: close */
	policy_harvest_charge(&h, &a, T0);
	policy_harvest_charge(&h, &a, T0);
	assert_int_equal(policy_harvest_check(&h, &a, T0, &delay), 2);
	/* decay: after 4 half-lives 6 → 0.375, the whole /24 is back within budget */
	assert_int_equal(policy_harvest_check(&h, &a, T0 + 240000, &delay), 0);
	assert_int_equal(policy_harvest_check(&h, &b, T0 + 240000, &delay), 0);
	/* IPv6: the host is the /64, the network the /48 */
	{
		struct policy_peer v1 = {6, {0}}, v2 = {6, {0}}, v3 = {6, {0}};

		assert_int_equal(inet_pton(AF_INET6, "2001:db8:1:2::1", v1.addr), 1);
		assert_int_equal(inet_pton(AF_INET6, "2001:db8:1:2::ffff", v2.addr), 1);
		assert_int_equal(inet_pton(AF_INET6, "2001:db8:1:3::1", v3.addr), 1);
		for (int i = 0; i < 3; i++)
			policy_harvest_charge(&h, &v1, T0);
		assert_int_equal(policy_harvest_check(&h, &v2, T0, &delay), 1); /* same /64 */
		assert_int_equal(policy_harvest_check(&h, &v3, T0, &delay), 0); /* other /64 */
	}
	policy_harvest_fini(&h);
	assert_int_equal(policy_harvest_check(&h, &a, T0, &delay), 0); /* off: no state */
}

struct charge_arg {
	struct policy_harvest *h;
	struct policy_peer peer;
};

static void *
charge_thread(void *p)
{
	struct charge_arg *a = p;

	for (int i = 0; i < 9999; i++)
		policy_harvest_charge(a->h, &a->peer, T0);
	return NULL;
}

/* Two threads charging the same source at once: the CAS loop must lose no update. */
static void
test_harvest_concurrent(void **state)
{
	struct policy_harvest h;
	struct charge_arg a;
	pthread_t t1, t2;
	uint32_t delay = 0;

	(void) state;
	memset(&h, 0, sizeof(h));
	h.budget_host = 10000;
	h.budget_net = 1000000;
	assert_int_equal(policy_harvest_init(&h, 8, 3, 4), 0);
	a.h = &h;
	a.peer = peer4("198.18.7.7");
	assert_int_equal(pthread_create(&t1, NULL, charge_thread, &a), 0);
	assert_int_equal(pthread_create(&t2, NULL, charge_thread, &a), 0);
	pthread_join(t1, NULL);
	pthread_join(t2, NULL);
	/* 19998 < 2 x budget: tarpit, not close */
	assert_int_equal(policy_harvest_check(&h, &a.peer, T0, &delay), 1);
	policy_harvest_charge(&h, &a.peer, T0);
	policy_harvest_charge(&h, &a.peer, T0);
	/* exactly 20000 = 2 x budget: close */
	assert_int_equal(policy_harvest_check(&h, &a.peer, T0, &delay), 2);
	policy_harvest_fini(&h);
}

static void
test_rule_names(void **state)
{
	(void) state;
	for (int r = 0; r < POLICY_RULE_MAX; r++) {
		const char *n = policy_rule_name((enum policy_rule) r);

		assert_non_null(n);
		assert_string_not_equal(n, "invalid");
		for (int q = 0; q < r; q++)
			assert_string_not_equal(n, policy_rule_name((enum policy_rule) q));
	}
	assert_string_equal(policy_rule_name(POLICY_RULE_MAX), "invalid");
	assert_true(policy_rule_accepts(POLICY_RULE_DIRECTORY));
	assert_false(policy_rule_accepts(POLICY_RULE_UNKNOWN_USER));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cidr_table),
		cmocka_unit_test(test_domains),
		cmocka_unit_test(test_batv),
		cmocka_unit_test(test_harvest),
		cmocka_unit_test(test_harvest_concurrent),
		cmocka_unit_test(test_rule_names),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
