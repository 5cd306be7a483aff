/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Unit tests: software Toeplitz against the Microsoft RSS verification suite (IPv4 with
 * TCP ports), and the active-open port choice: every chosen port hashes, in the reply
 * direction, to the requested queue through the RETA. EAL-free.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <arpa/inet.h>

#include <cmocka.h>

#include "tcp.h"

static const uint8_t ms_key[NET_RSS_KEY_LEN] = {
	0x6d,
	0x5a,
	0x56,
	0xda,
	0x25,
	0x5b,
	0x0e,
	0xc2,
	0x41,
	0x67,
	0x25,
	0x3d,
	0x43,
	0xa3,
	0x8f,
	0xb0,
	0xd0,
	0xca,
	0x2b,
	0xcb,
	0xae,
	0x7b,
	0x30,
	0xb4,
	0x77,
	0xcb,
	0x2d,
	0xa3,
	0x80,
	0x30,
	0xf2,
	0x0c,
	0x6a,
	0x42,
	0xb7,
	0x3b,
	0xbe,
	0xac,
	0x01,
	0xfa,
};

static uint32_t
ip(const char *s)
{
	struct in_addr a;

	assert_int_equal(inet_pton(AF_INET, s, &a), 1);
	return a.s_addr;
}

static void
test_toeplitz_vectors(void **state)
{
	/* "Verifying the RSS Hash Calculation", Microsoft NDIS documentation. */
	static const struct {
		const char *dst, *src;
		uint16_t dport, sport;
		uint32_t hash;
	} tc[] = {
		{"161.142.100.80", "66.9.149.187", 1766, 2794, 0x51ccc178},
		{"65.69.140.83", "199.92.111.2", 4739, 14230, 0xc626b0ea},
		{"12.22.207.184", "24.19.198.95", 38024, 12898, 0x5c2b394a},
		{"209.142.163.6", "38.27.205.30", 2217, 48228, 0xafc7327f},
		{"202.188.127.2", "153.39.163.191", 1303, 44251, 0x10e828a2},
	};

	(void) state;
	for (size_t i = 0; i < sizeof(tc) / sizeof(tc[0]); i++)
		assert_int_equal(tcp_rss_hash(ms_key, ip(tc[i].src), ip(tc[i].dst),
					 htons(tc[i].sport), htons(tc[i].dport)),
			tc[i].hash);
}

static bool
all_free(void *arg, uint16_t port)
{
	(void) arg;
	(void) port;
	return true;
}

static bool
never_free(void *arg, uint16_t port)
{
	(void) arg;
	(void) port;
	return false;
}

static bool
not_first(void *arg, uint16_t port)
{
	uint16_t *first = arg;

	if (*first == 0) {
		*first = port;
		return false;
	}
	return port != *first;
}

static void
test_port_choice(void **state)
{
	struct net_if nif;
	uint32_t laddr = ip("198.18.2.2"), raddr = ip("198.18.2.1");
	uint16_t rport = htons(25);

	(void) state;
	memset(&nif, 0, sizeof(nif));
	memcpy(nif.rss_key, ms_key, sizeof(ms_key));
	nif.flags = NET_IF_F_RSS;
	nif.reta_size = 128;
	for (unsigned int i = 0; i < nif.reta_size; i++)
		nif.reta[i] = (uint16_t) (i % 4);
	for (uint16_t q = 0; q < 4; q++) {
		uint16_t cursor = 32768;

		for (int n = 0; n < 200; n++) {
			uint16_t p = tcp_port_choose(&nif, q, 4, laddr, raddr, rport, 32768, 60999,
				&cursor, all_free, NULL);
			uint32_t h;

			assert_int_not_equal(p, 0);
			assert_in_range(ntohs(p), 32768, 60999);
			h = tcp_rss_hash(ms_key, raddr, laddr, rport, p);
			assert_int_equal(nif.reta[h % nif.reta_size], q);
		}
	}
	/* A port the table says is taken is skipped. */
	{
		uint16_t cursor = 40000, first = 0, p;

		p = tcp_port_choose(&nif, 1, 4, laddr, raddr, rport, 32768, 60999, &cursor,
			not_first, &first);
		assert_int_not_equal(first, 0);
		assert_int_not_equal(p, first);
	}
	/* Without RSS the owner is the same hash modulo the lcore count. */
	nif.flags = 0;
	for (uint16_t q = 0; q < 3; q++) {
		uint16_t cursor = 50000;

		for (int n = 0; n < 50; n++) {
			uint16_t p = tcp_port_choose(&nif, q, 3, laddr, raddr, rport, 32768, 60999,
				&cursor, all_free, NULL);

			assert_int_equal(tcp_rss_hash(ms_key, raddr, laddr, rport, p) % 3, q);
		}
	}
	/* A range with no free port gives 0. */
	{
		uint16_t cursor = 1000;

		assert_int_equal(tcp_port_choose(&nif, 0, 1, laddr, raddr, rport, 1000, 1003,
					 &cursor, never_free, NULL),
			0);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_toeplitz_vectors),
		cmocka_unit_test(test_port_choice),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
