/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Unit tests: SipHash-2-4 reference vector, RFC 6528 ISNs, and SYN cookies (RFC 4987):
 * round trip of MSS and window scale, expiry after two counter steps, rejection of
 * another tuple, another SYN sequence number, another key or a flipped bit. EAL-free.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "tcp.h"

static const uint8_t key[16] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15};

static void
test_siphash_vector(void **state)
{
	uint8_t in[15];

	(void) state;
	for (unsigned int i = 0; i < sizeof(in); i++)
		in[i] = (uint8_t) i;
	/* Aumasson & Bernstein, SipHash paper appendix A. */
	assert_true(tcp_siphash(key, in, 15) == 0xa129ca6149be45e5ULL);
	assert_true(tcp_siphash(key, in, 0) == 0x726fdb47dd0e0e31ULL);
}

static void
test_isn(void **state)
{
	uint32_t a, b, c;

	(void) state;
	a = tcp_isn(key, 1, 2, 3, 4, 0);
	b = tcp_isn(key, 1, 2, 3, 4, 4000);
	c = tcp_isn(key, 1, 2, 3, 5, 0);
	assert_int_equal(b - a, 1000); /* the 4 µs clock (RFC 6528 §3) */
	assert_int_not_equal(a, c);    /* another tuple, another offset */
}

static void
test_cookie_roundtrip(void **state)
{
	static const struct {
		uint16_t mss;
		int ws;
		uint16_t want_mss;
	} tc[] = {
		{1460, 7, 1460},
		{1460, -1, 1460},
		{1400, 0, 1220},
		{536, 14, 536},
		{9000, 2, 1460},
		{100, -1, 536},
		{1452, 9, 1440},
		{1220, 14, 1220},
	};

	(void) state;
	for (size_t i = 0; i < sizeof(tc) / sizeof(tc[0]); i++) {
		uint32_t t = 1000 + (uint32_t) i;
		uint32_t ck =
			tcp_syncookie_make(key, 11, 22, 33, 44, 0xdeadbeef, tc[i].mss, tc[i].ws, t);
		uint16_t mss = 0;
		int ws = 99;

		assert_int_equal(
			tcp_syncookie_check(key, 11, 22, 33, 44, 0xdeadbeef, ck, t, &mss, &ws), 0);
		assert_int_equal(mss, tc[i].want_mss);
		assert_int_equal(ws, tc[i].ws);
		/* still valid one step later, not two */
		assert_int_equal(
			tcp_syncookie_check(key, 11, 22, 33, 44, 0xdeadbeef, ck, t + 1, &mss, &ws),
			0);
		assert_int_equal(
			tcp_syncookie_check(key, 11, 22, 33, 44, 0xdeadbeef, ck, t + 2, &mss, &ws),
			-EINVAL);
	}
}

static void
test_cookie_forgery(void **state)
{
	uint8_t other[16];
	uint32_t t = 77;
	uint32_t ck = tcp_syncookie_make(key, 11, 22, 33, 44, 5, 1460, 7, t);
	uint16_t mss;
	int ws, accepted = 0;

	(void) state;
	memcpy(other, key, sizeof(other));
	other[3] ^= 1;
	assert_int_equal(tcp_syncookie_check(key, 12, 22, 33, 44, 5, ck, t, &mss, &ws), -EINVAL);
	assert_int_equal(tcp_syncookie_check(key, 11, 22, 33, 45, 5, ck, t, &mss, &ws), -EINVAL);
	assert_int_equal(tcp_syncookie_check(key, 11, 22, 33, 44, 6, ck, t, &mss, &ws), -EINVAL);
	assert_int_equal(tcp_syncookie_check(other, 11, 22, 33, 44, 5, ck, t, &mss, &ws), -EINVAL);
	for (unsigned int bit = 0; bit < 32; bit++)
		if (tcp_syncookie_check(key, 11, 22, 33, 44, 5, ck ^ (1u << bit), t, &mss, &ws) ==
			0)
			accepted++;
	assert_int_equal(accepted, 0);
	/* Guessing: about 2^-25 of random values pass; 100000 tries should find almost none. */
	accepted = 0;
	for (uint32_t g = 0; g < 100000; g++)
		if (tcp_syncookie_check(key, 11, 22, 33, 44, 5, g * 2654435761u, t, &mss, &ws) == 0)
			accepted++;
	assert_in_range(accepted, 0, 3);
}

/*
 * A blind attacker forging the ACK of a cookie picks every bit it can: the clear bits (counter,
 * MSS index, window shift) are chosen valid and only the MAC is guessed. The MAC must hold
 * at least 24 bits (Linux): 2^24 such guesses at one tuple find about one cookie or none,
 * where the old 20-bit MAC let about 16 through.
 */
static void
test_cookie_forgery_rate(void **state)
{
	const uint32_t t = 1234, tries = 1u << 24;
	uint32_t valid = tcp_syncookie_make(key, 11, 22, 33, 44, 5, 1460, 7, t);
	uint32_t mac_bits = 0, accepted = 0;
	uint16_t mss;
	int ws;

	(void) state;
	/* The MAC is the low bits that change when only the 4-tuple changes. */
	for (uint32_t p = 1; p < 200; p++)
		mac_bits |= valid ^
			    tcp_syncookie_make(key, 11, 22, 33, (uint16_t) (44 + p), 5, 1460, 7, t);
	assert_true(__builtin_popcount(mac_bits) >= 24);
	for (uint32_t g = 0; g < tries; g++) {
		uint32_t guess = (valid & ~mac_bits) | ((g * 2654435761u) & mac_bits);

		if (guess != valid &&
			tcp_syncookie_check(key, 11, 22, 33, 44, 5, guess, t, &mss, &ws) == 0)
			accepted++;
	}
	print_message("forged cookies accepted: %u of %u\n", accepted, tries);
	assert_in_range(accepted, 0, 4);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_siphash_vector),
		cmocka_unit_test(test_isn),
		cmocka_unit_test(test_cookie_roundtrip),
		cmocka_unit_test(test_cookie_forgery),
		cmocka_unit_test(test_cookie_forgery_rate),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
