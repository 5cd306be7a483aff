/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * ndrguard-control's XDP module (control/ndrguardd/xdp.c) against the kernel: maps pinned in
 * a private bpffs, the dataplane's verdicts turned into timed entries (and observe mode or
 * other rules not), IPv4 and IPv6 prefixes, expiry, and re-adoption by a second start.
 * Needs root (bpffs mount, CAP_BPF); no network, nothing attached.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <sys/mount.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "config.h"
#include "ctl_proto-t.h"
#include "xdp.h"

static char pin_dir[] = "/tmp/ndg-xdp-ctl-XXXXXX";
static struct ndg_conf *conf;

static char *
list(void)
{
	static char buf[8192];
	FILE *f = fmemopen(buf, sizeof(buf), "w");

	assert_non_null(f);
	xdp_block_list(f);
	fclose(f);
	return buf;
}

static uint32_t
ip4(const char *s)
{
	uint32_t a;

	assert_int_equal(inet_pton(AF_INET, s, &a), 1);
	return a;
}

static int
setup(void **state)
{
	(void) state;
	assert_non_null(mkdtemp(pin_dir));
	assert_int_equal(mount("bpf", pin_dir, "bpf", 0, NULL), 0);
	conf = conf_new();
	assert_non_null(conf);
	conf->xdp.on = true;
	snprintf(conf->xdp.pin_path, sizeof(conf->xdp.pin_path), "%s", pin_dir);
	conf->xdp.verdict_ttl_ms = 1000;
	return 0;
}

static int
teardown(void **state)
{
	(void) state;
	xdp_stop();
	conf_free(conf);
	(void) umount(pin_dir);
	(void) rmdir(pin_dir);
	return 0;
}

static void
test_start_pins(void **state)
{
	char p[4200];
	struct stat st;

	(void) state;
	assert_false(xdp_active());
	assert_int_equal(xdp_block_add("198.18.9.0/24", 0, XDPG_REASON_ADMIN), -ENOTCONN);
	assert_int_equal(xdp_start(conf), 0);
	assert_true(xdp_active());
	snprintf(p, sizeof(p), "%s/ndg_block", pin_dir);
	assert_int_equal(stat(p, &st), 0);
	snprintf(p, sizeof(p), "%s/xsks_map", pin_dir);
	assert_int_equal(stat(p, &st), 0);
}

static void
test_prefixes(void **state)
{
	(void) state;
	assert_int_equal(xdp_block_add("198.18.9.0/24", 0, XDPG_REASON_ADMIN), 0);
	assert_int_equal(xdp_block_add("2001:db8:bad::/48", 0, XDPG_REASON_ADMIN), 0);
	assert_int_equal(xdp_block_add("198.18.9.1/24", 0, XDPG_REASON_ADMIN), -EINVAL);
	assert_int_equal(xdp_block_add("2001:db8::/129", 0, XDPG_REASON_ADMIN), -EINVAL);
	assert_int_equal(xdp_block_add("not-an-address", 0, XDPG_REASON_ADMIN), -EINVAL);
	assert_non_null(strstr(list(), "xdp 198.18.9.0/24  reason ndrctl  expires never"));
	assert_non_null(strstr(list(), "xdp 2001:db8:bad::/48  reason ndrctl  expires never"));
	/* A timed entry never shortens a permanent one. */
	assert_int_equal(xdp_block_add("198.18.9.0/24", 60, XDPG_REASON_HARVEST), 0);
	assert_non_null(strstr(list(), "xdp 198.18.9.0/24  reason ndrctl  expires never"));
	assert_int_equal(xdp_block_del("2001:db8:bad::/48"), 0);
	assert_int_equal(xdp_block_del("2001:db8:bad::/48"), -ENOENT);
	assert_null(strstr(list(), "2001:db8:bad::/48"));
}

static void
test_verdicts(void **state)
{
	const uint32_t ok = CTL_LOG_F_PEER_ACKED;

	(void) state;
	assert_int_equal(xdp_verdict(conf, ip4("198.18.1.3"), "harvest", 1, ok), 0);
	assert_int_equal(xdp_verdict(conf, ip4("198.18.1.4"), "early_talker", 1, ok), 0);
	assert_int_equal(xdp_verdict(conf, ip4("198.18.1.5"), "conn_limit", 1, ok), 0);
	/* observe mode, not a source verdict: no entry, nothing refused */
	assert_int_equal(xdp_verdict(conf, ip4("198.18.1.6"), "harvest", 2, ok), 0);
	assert_int_equal(xdp_verdict(conf, ip4("198.18.1.7"), "unknown_user", 1, ok), 0);
	assert_non_null(strstr(list(), "xdp 198.18.1.3/32  reason harvest  expires 1s"));
	assert_non_null(strstr(list(), "xdp 198.18.1.4/32  reason early_talker  expires 1s"));
	assert_non_null(strstr(list(), "xdp 198.18.1.5/32  reason conn_limit  expires 1s"));
	assert_null(strstr(list(), "198.18.1.6/32"));
	assert_null(strstr(list(), "198.18.1.7/32"));
	conf->xdp.verdict_ttl_ms = 0; /* off */
	assert_int_equal(xdp_verdict(conf, ip4("198.18.1.8"), "harvest", 1, ok), 0);
	assert_null(strstr(list(), "198.18.1.8/32"));
	conf->xdp.verdict_ttl_ms = 1000;
}

/* A client that acknowledged none of our data may be anyone (DESIGN.md §3): its verdicts
 * are refused (-EPERM, counted by the caller) and never reach the trie. */
static void
test_verdicts_unverified(void **state)
{
	static const struct {
		const char *ip, *rule;
		unsigned int outcome;
		int want;
	} cases[] = {
		{"198.18.1.20", "early_talker", 1, -EPERM},
		{"198.18.1.21", "conn_limit", 1, -EPERM}, {"198.18.1.22", "harvest", 1, -EPERM},
		{"198.18.1.23", "harvest", 2, 0},      /* observe: never a verdict anyway */
		{"198.18.1.24", "unknown_user", 1, 0}, /* not a source verdict */
	};

	(void) state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char want[32];

		assert_int_equal(
			xdp_verdict(conf, ip4(cases[i].ip), cases[i].rule, cases[i].outcome, 0),
			cases[i].want);
		snprintf(want, sizeof(want), "%s/32", cases[i].ip);
		assert_null(strstr(list(), want));
	}
}

static void
test_restart_readopts(void **state)
{
	(void) state;
	xdp_stop();
	assert_false(xdp_active());
	assert_int_equal(xdp_start(conf), 0);
	assert_non_null(strstr(list(), "xdp 198.18.9.0/24  reason ndrctl"));
	assert_non_null(strstr(list(), "xdp 198.18.1.3/32  reason harvest"));
}

static void
test_expiry(void **state)
{
	struct timespec ts = {1, 300 * 1000 * 1000};
	int n;

	(void) state;
	nanosleep(&ts, NULL); /* past the verdicts' 1 s */
	n = xdp_expire();
	assert_int_equal(n, 3);
	assert_null(strstr(list(), "198.18.1.3/32"));
	assert_non_null(strstr(list(), "xdp 198.18.9.0/24"));
}

static void
test_config_blocks(void **state)
{
	struct conf_net *n = calloc(1, sizeof(*n));

	(void) state;
	assert_non_null(n);
	n->ip = ip4("198.18.44.0");
	n->plen = 24;
	TAILQ_INSERT_TAIL(&conf->blocked, n, entry);
	assert_int_equal(xdp_reconfigure(conf), 0);
	assert_non_null(strstr(list(), "xdp 198.18.44.0/24  reason configuration"));
	/* Removed from the configuration: removed from the trie; ndrctl entries stay. */
	TAILQ_REMOVE(&conf->blocked, n, entry);
	free(n);
	assert_int_equal(xdp_reconfigure(conf), 0);
	assert_null(strstr(list(), "198.18.44.0/24"));
	assert_non_null(strstr(list(), "xdp 198.18.9.0/24  reason ndrctl"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_start_pins),
		cmocka_unit_test(test_prefixes),
		cmocka_unit_test(test_verdicts),
		cmocka_unit_test(test_verdicts_unverified),
		cmocka_unit_test(test_restart_readopts),
		cmocka_unit_test(test_expiry),
		cmocka_unit_test(test_config_blocks),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
