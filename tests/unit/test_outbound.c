/* SPDX-License-Identifier: BSD-3-Clause */
/* Unit tests of the outbound core: GCRA token buckets, BATV signing (round trip through the
 * inbound verification), exemptions and internal networks. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <arpa/inet.h>
#include <cmocka.h>

#include "outbound.h"
#include "policy.h"
#include "ndg_common.h"

#define DAY_MS 86400000ULL
#define T0     (20000ULL * DAY_MS + 3600000ULL) /* day 20000, 01:00 */

static struct out_buckets buckets;

static int
setup(void **state)
{
	(void) state;
	return out_buckets_init(&buckets, 10, 1, 2);
}

static int
teardown(void **state)
{
	(void) state;
	out_buckets_fini(&buckets);
	return 0;
}

/* How many takes succeed at <now> for <key>. */
static unsigned int
takes(enum out_bucket_kind k, const struct out_rate *r, const char *key, uint64_t now,
	unsigned int tries)
{
	unsigned int ok = 0;

	for (unsigned int i = 0; i < tries; i++)
		ok += out_bucket_take(&buckets, k, r, key, strlen(key), now);
	return ok;
}

static void
test_bucket_burst_and_refill(void **state)
{
	struct out_rate r;
	uint64_t t = 1000000;

	(void) state;
	/* 60 a minute, bursts of 10: 10 at once, then one a second. */
	assert_int_equal(out_rate_set(&r, 60, 60000, 10), 0);
	assert_int_equal(takes(OUT_B_SENDER_MSG, &r, "alice@example.com", t, 50), 10);
	assert_int_equal(takes(OUT_B_SENDER_MSG, &r, "alice@example.com", t + 999, 5), 0);
	assert_int_equal(takes(OUT_B_SENDER_MSG, &r, "alice@example.com", t + 1000, 5), 1);
	assert_int_equal(takes(OUT_B_SENDER_MSG, &r, "alice@example.com", t + 5000, 10), 4);
	/* An idle minute refills the burst, never more. */
	assert_int_equal(takes(OUT_B_SENDER_MSG, &r, "alice@example.com", t + 120000, 50), 10);
	/* Other keys and other kinds have their own cells. */
	assert_int_equal(takes(OUT_B_SENDER_MSG, &r, "bob@example.com", t, 50), 10);
	assert_int_equal(takes(OUT_B_SENDER_RCPT, &r, "alice@example.com", t + 5000, 50), 10);
	assert_int_equal(takes(OUT_B_HOST_MSG, &r, "alice@example.com", t + 5000, 50), 10);
}

static void
test_bucket_default_burst_and_off(void **state)
{
	struct out_rate r;

	(void) state;
	/* Burst 0 means the count itself: 5 per hour, 5 at once, then one per 12 minutes. */
	assert_int_equal(out_rate_set(&r, 5, 3600000, 0), 0);
	assert_int_equal(takes(OUT_B_NDR_TOTAL, &r, "", 7000000, 100), 5);
	assert_int_equal(takes(OUT_B_NDR_TOTAL, &r, "", 7000000 + 11 * 60000, 100), 0);
	assert_int_equal(takes(OUT_B_NDR_TOTAL, &r, "", 7000000 + 12 * 60000, 100), 1);
	/* Count 0: no limit at all. */
	assert_int_equal(out_rate_set(&r, 0, 0, 0), 0);
	assert_int_equal(takes(OUT_B_NDR_DOMAIN, &r, "a.test", 1, 1000), 1000);
	assert_int_equal(out_rate_set(&r, 5, 0, 0), -EINVAL);
}

static void
test_bucket_many_keys(void **state)
{
	struct out_rate r;
	char key[32];
	unsigned int ok = 0;

	(void) state;
	/* 500 senders sending half their burst each into 2 x 1024 cells: a key is refused only
	 * when its cells in both rows are full, so nearly everything passes (count-min). */
	assert_int_equal(out_rate_set(&r, 10, 60000, 10), 0);
	for (unsigned int i = 0; i < 500; i++) {
		snprintf(key, sizeof(key), "user%u@example.com", i);
		for (unsigned int m = 0; m < 5; m++)
			ok += out_bucket_take(&buckets, OUT_B_HOST_RCPT, &r, key, strlen(key),
				50000000);
	}
	print_message("%u of 2500 allowed\n", ok);
	assert_true(ok >= 2475);
	/* And a hot key among them still stops at its burst. */
	assert_int_equal(takes(OUT_B_HOST_RCPT, &r, "hot@example.com", 50000000, 100), 10);
}

static struct batv_keys
keys(void)
{
	struct policy p;

	policy_init(&p);
	assert_int_equal(policy_batv_key_set(&p, 3, "s3cret-key", 10), 0);
	assert_int_equal(policy_batv_key_set(&p, 4, "other-key!", 10), 0);
	p.batv.sign_id = 3;
	return p.batv;
}

static void
test_sign_verify_round_trip(void **state)
{
	struct batv_keys k = keys();
	struct out_conf c;
	char out[400];
	int n;

	(void) state;
	out_conf_init(&c);
	n = out_sender_sign(&c, &k, "Alice@Example.COM", 17, T0, out, sizeof(out));
	assert_int_equal(n, 16 + 17);
	assert_memory_equal(out, "prvs=3", 6);
	assert_string_equal(out + 15, "=Alice@Example.COM");
	/* The inbound check of a bounce to it: valid today and for 7 days, under any key. */
	assert_true(batv_verify(&k, out, 16 + 5, "example.com", 11, T0));
	assert_true(batv_verify(&k, out, 16 + 5, "EXAMPLE.com", 11, T0 + 7 * DAY_MS));
	assert_false(batv_verify(&k, out, 16 + 5, "example.com", 11, T0 + 8 * DAY_MS));
	assert_false(batv_verify(&k, out, 16 + 5, "example.org", 11, T0));
	out[12] = out[12] == 'a' ? 'b' : 'a'; /* tamper with the signature */
	assert_false(batv_verify(&k, out, 16 + 5, "example.com", 11, T0));
	/* A verifier that only has the other key refuses it. */
	k.k[3].set = false;
	n = out_sender_sign(&c, &k, "alice@example.com", 17, T0, out, sizeof(out));
	assert_int_equal(n, 0); /* the signing key is gone: unsigned */
	out_conf_fini(&c);
}

static void
test_sign_exemptions(void **state)
{
	struct batv_keys k = keys();
	struct out_conf c;
	char out[400];

	(void) state;
	out_conf_init(&c);
	assert_int_equal(out_conf_add_exempt(&c, "Lists@Example.com"), 0);
	assert_int_equal(out_conf_add_exempt(&c, "@announce.example.com"), 0);
	assert_int_equal(out_conf_add_exempt(&c, "nobody"), -EINVAL);
	assert_int_equal(out_sender_sign(&c, &k, "lists@EXAMPLE.com", 17, T0, out, 400), 0);
	assert_int_equal(out_sender_sign(&c, &k, "news@Announce.Example.com", 25, T0, out, 400), 0);
	assert_true(out_sender_sign(&c, &k, "list@example.com", 16, T0, out, 400) > 0);
	assert_true(out_sender_sign(&c, &k, "news@sub.announce.example.com", 29, T0, out, 400) > 0);
	/* Already tagged, null, no domain: left alone. */
	assert_int_equal(
		out_sender_sign(&c, &k, "prvs=1234abcdef=bob@example.com", 31, T0, out, 400), 0);
	assert_int_equal(out_sender_sign(&c, &k, "", 0, T0, out, 400), 0);
	assert_int_equal(out_sender_sign(&c, &k, "postmaster", 10, T0, out, 400), 0);
	/* No room. */
	assert_int_equal(out_sender_sign(&c, &k, "bob@example.com", 15, T0, out, 20), -ENOSPC);
	/* Signing off. */
	c.batv_sign = false;
	assert_int_equal(out_sender_sign(&c, &k, "bob@example.com", 15, T0, out, 400), 0);
	out_conf_fini(&c);
}

static void
test_internal_networks(void **state)
{
	struct out_conf c;
	struct policy_peer p = {4, {0}};

	(void) state;
	out_conf_init(&c);
	assert_int_equal(c.n_ports, 2);
	assert_int_equal(c.ports[0], 25);
	assert_int_equal(c.ports[1], 587);
	assert_int_equal(out_conf_add_net(&c, "198.18.2.0/25"), 0);
	assert_int_equal(out_conf_add_net(&c, "198.18.2.0/33"), -EINVAL);
	assert_int_equal(inet_pton(AF_INET, "198.18.2.100", p.addr), 1);
	assert_true(out_conf_is_internal(&c, &p));
	assert_int_equal(inet_pton(AF_INET, "198.18.2.200", p.addr), 1);
	assert_false(out_conf_is_internal(&c, &p));
	out_conf_fini(&c);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bucket_burst_and_refill),
		cmocka_unit_test(test_bucket_default_burst_and_off),
		cmocka_unit_test(test_bucket_many_keys),
		cmocka_unit_test(test_sign_verify_round_trip),
		cmocka_unit_test(test_sign_exemptions),
		cmocka_unit_test(test_internal_networks),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
