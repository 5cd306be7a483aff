/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Loading, attaching and owning bpf/xdp_guard (see xdp.h). The program is attached through
 * netlink, not a bpf_link, so that it keeps protecting the box while ndrguard-control restarts;
 * a restart re-adopts the pinned maps and replaces its own earlier program atomically. Main
 * thread only.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <linux/if_link.h>
#include <net/if.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "ctl_proto-t.h"
#include "log.h"
#include "xdp.h"
#include "xdp_guard.skel.h"

#define XDP_PROG_NAME "xdp_guard"

static struct {
	struct xdp_guard *skel;
	int ifindex;	   /* where we attached, 0: not attached by us */
	uint32_t flags;	   /* XDP_FLAGS_* used to attach */
	time_t next_sweep; /* expiry sweep */
} xdp;

static const char *const xdp_reason_names[XDPG_REASON_MAX] = {
	[XDPG_REASON_NONE] = "none",
	[XDPG_REASON_CONFIG] = "configuration",
	[XDPG_REASON_ADMIN] = "ndrctl",
	[XDPG_REASON_HARVEST] = "harvest",
	[XDPG_REASON_EARLY_TALKER] = "early_talker",
	[XDPG_REASON_CONN_LIMIT] = "conn_limit",
};

const char *
xdp_reason_name(enum xdpg_reason r)
{
	return (unsigned int) r < XDPG_REASON_MAX ? xdp_reason_names[r] : "?";
}

bool
xdp_active(void)
{
	return xdp.skel != NULL;
}

static uint64_t
xdp_mono_ns(void)
{
	struct timespec ts;

	/* bpf_ktime_get_ns() is CLOCK_MONOTONIC: expiry is compared against it in the kernel. */
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t) ts.tv_sec * 1000000000ull + (uint64_t) ts.tv_nsec;
}

static int
xdp_write_cfg(const struct ndg_conf *c)
{
	struct xdpg_cfg cfg = {
		.flags = XDPG_F_ENABLED,
		.syn_rate = c->xdp.syn_rate,
		.syn_burst = c->xdp.syn_burst,
		.smtp_port = htons(c->smtp_port),
	};
	int steer_fd = bpf_map__fd(xdp.skel->maps.ndg_steer);
	uint8_t key[16], next[16];
	uint32_t zero = 0, one = 1;
	bool first = true;

	if (c->xdp.block_syn_only)
		cfg.flags |= XDPG_F_BLOCK_SYN;
	if (c->xdp.steer)
		cfg.flags |= XDPG_F_STEER;
	/* Addresses first, the switch last: steering never sees a half-written set. Stale
	 * addresses are removed after the new ones are in. */
	for (unsigned int i = 0; i < c->xdp.n_addrs; i++)
		if (bpf_map_update_elem(steer_fd, c->xdp.addrs[i], &one, BPF_ANY) != 0)
			return -errno;
	while (bpf_map_get_next_key(steer_fd, first ? NULL : key, next) == 0) {
		bool keep = false;

		for (unsigned int i = 0; i < c->xdp.n_addrs; i++)
			keep |= memcmp(c->xdp.addrs[i], next, 16) == 0;
		if (!keep) {
			(void) bpf_map_delete_elem(steer_fd, next);
			first = true; /* the walk restarts after a delete */
			continue;
		}
		memcpy(key, next, 16);
		first = false;
	}
	if (bpf_map_update_elem(bpf_map__fd(xdp.skel->maps.ndg_cfg), &zero, &cfg, BPF_ANY) != 0)
		return -errno;
	return 0;
}

static void
xdp_key_str(const struct xdpg_lpm_key *k, char *buf, size_t size)
{
	static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
	char a[INET6_ADDRSTRLEN];

	if (k->prefixlen >= 96 && memcmp(k->addr, mapped, 12) == 0) {
		inet_ntop(AF_INET, k->addr + 12, a, sizeof(a));
		snprintf(buf, size, "%s/%u", a, k->prefixlen - 96);
	} else {
		inet_ntop(AF_INET6, k->addr, a, sizeof(a));
		snprintf(buf, size, "%s/%u", a, k->prefixlen);
	}
}

static int
xdp_key_parse(const char *prefix, struct xdpg_lpm_key *k)
{
	unsigned int plen;

	memset(k, 0, sizeof(*k));
	if (conf_parse_net6(prefix, k->addr, &plen) != 0)
		return -EINVAL;
	k->prefixlen = plen;
	return 0;
}

static int
xdp_put(const struct xdpg_lpm_key *k, uint64_t expires_ns, enum xdpg_reason reason)
{
	int fd = bpf_map__fd(xdp.skel->maps.ndg_block);
	struct xdpg_block_val v = {0};

	if (bpf_map_lookup_elem(fd, k, &v) == 0) {
		/* Keep the counters; a permanent block is never turned into a timed one. */
		if (v.expires_ns == 0 && expires_ns != 0)
			return 0;
		if (v.reason == XDPG_REASON_ADMIN && reason == XDPG_REASON_CONFIG)
			reason = XDPG_REASON_ADMIN;
	} else {
		v.added = (uint64_t) time(NULL);
	}
	v.expires_ns = expires_ns;
	v.reason = reason;
	if (bpf_map_update_elem(fd, k, &v, BPF_ANY) != 0)
		return -errno;
	return 0;
}

/* 'block network' entries: put the configured ones, drop configuration entries no longer
 * configured. ndrctl and verdict entries are left alone. */
static int
xdp_sync_config_blocks(const struct ndg_conf *c)
{
	int fd = bpf_map__fd(xdp.skel->maps.ndg_block);
	struct xdpg_lpm_key key, next;
	const struct conf_net *n;
	bool first = true;
	int ret;

	TAILQ_FOREACH (n, &c->blocked, entry) {
		struct xdpg_lpm_key k = {.prefixlen = 96u + n->plen};

		k.addr[10] = k.addr[11] = 0xff;
		memcpy(k.addr + 12, &n->ip, 4);
		ret = xdp_put(&k, 0, XDPG_REASON_CONFIG);
		if (ret != 0)
			return ret;
	}
	while (bpf_map_get_next_key(fd, first ? NULL : &key, &next) == 0) {
		struct xdpg_block_val v;
		bool keep = true;

		if (bpf_map_lookup_elem(fd, &next, &v) == 0 && v.reason == XDPG_REASON_CONFIG) {
			keep = false;
			TAILQ_FOREACH (n, &c->blocked, entry)
				keep |= next.prefixlen == 96u + n->plen &&
					memcmp(next.addr + 12, &n->ip, 4) == 0;
		}
		if (!keep) {
			(void) bpf_map_delete_elem(fd, &next);
			first = true;
			continue;
		}
		key = next;
		first = false;
	}
	return 0;
}

/* Attach <prog_fd> on <ifindex>: replace our own earlier program (a restart), never a foreign
 * one. */
static int
xdp_attach(int ifindex, int prog_fd, uint32_t mode)
{
	LIBBPF_OPTS(bpf_xdp_attach_opts, opts);
	uint32_t old_id = 0;
	int ret, old_fd = -1;

	ret = bpf_xdp_query_id(ifindex, (int) mode, &old_id);
	if (ret != 0)
		return ret;
	if (old_id != 0) {
		struct bpf_prog_info info = {0};
		uint32_t len = sizeof(info);

		old_fd = bpf_prog_get_fd_by_id(old_id);
		if (old_fd < 0)
			return -errno;
		if (bpf_obj_get_info_by_fd(old_fd, &info, &len) != 0 ||
			strcmp(info.name, XDP_PROG_NAME) != 0) {
			close(old_fd);
			return -EBUSY;
		}
		opts.old_prog_fd = old_fd;
		mode |= XDP_FLAGS_REPLACE;
	} else {
		mode |= XDP_FLAGS_UPDATE_IF_NOEXIST;
	}
	ret = bpf_xdp_attach(ifindex, prog_fd, mode, &opts);
	if (old_fd >= 0)
		close(old_fd);
	return ret;
}

int
xdp_start(const struct ndg_conf *c)
{
	LIBBPF_OPTS(bpf_object_open_opts, oo, .pin_root_path = c->xdp.pin_path);
	struct xdp_guard *skel;
	int ret, ifindex = 0;
	uint32_t mode = 0;

	if (!c->xdp.on || xdp.skel != NULL)
		return 0;
	if (c->xdp.interface[0] != '\0') {
		ifindex = (int) if_nametoindex(c->xdp.interface);
		if (ifindex == 0)
			return log_error_errno(-ENODEV, "xdp interface %s", c->xdp.interface);
		mode = c->xdp.generic ? XDP_FLAGS_SKB_MODE : XDP_FLAGS_DRV_MODE;
	}
	/* open → configure → load (re-adopts or pins the maps) → settings → attach */
	skel = xdp_guard__open_opts(&oo);
	if (skel == NULL)
		return log_error_errno(-errno, "opening the XDP skeleton");
	ret = xdp_guard__load(skel);
	if (ret != 0) {
		log_error_errno(ret, "loading the XDP program (maps pinned under %s)",
			c->xdp.pin_path);
		goto err_destroy;
	}
	xdp.skel = skel;
	ret = xdp_write_cfg(c);
	if (ret == 0)
		ret = xdp_sync_config_blocks(c);
	if (ret != 0) {
		log_error_errno(ret, "writing the XDP maps");
		goto err_unload;
	}
	if (ifindex != 0) {
		ret = xdp_attach(ifindex, bpf_program__fd(skel->progs.xdp_guard), mode);
		if (ret != 0) {
			log_error_errno(ret, "attaching XDP (%s mode) to %s",
				c->xdp.generic ? "generic" : "native", c->xdp.interface);
			goto err_unload;
		}
		xdp.ifindex = ifindex;
		xdp.flags = mode;
	}
	log_info("xdp: maps under %s, %s", c->xdp.pin_path,
		ifindex ? "attached by ndrguard-control" : "attach left to the dataplane");
	return 0;

err_unload:
	/* Settings written to maps a running copy shares stay: they are the configured ones. */
	xdp.skel = NULL;
err_destroy:
	xdp_guard__destroy(skel);
	return ret;
}

void
xdp_stop(void)
{
	if (xdp.skel == NULL)
		return;
	if (xdp.ifindex != 0) {
		LIBBPF_OPTS(bpf_xdp_attach_opts, opts,
			.old_prog_fd = bpf_program__fd(xdp.skel->progs.xdp_guard));
		int ret = bpf_xdp_detach(xdp.ifindex,
			(xdp.flags & ~XDP_FLAGS_UPDATE_IF_NOEXIST) | XDP_FLAGS_REPLACE, &opts);

		if (ret != 0)
			log_error_errno(ret, "detaching XDP, ignoring");
		xdp.ifindex = 0;
	}
	xdp_guard__destroy(xdp.skel);
	xdp.skel = NULL;
}

int
xdp_reconfigure(const struct ndg_conf *c)
{
	int ret;

	if (xdp.skel == NULL)
		return xdp_start(c);
	if (!c->xdp.on) {
		xdp_stop();
		return 0;
	}
	ret = xdp_write_cfg(c);
	if (ret == 0)
		ret = xdp_sync_config_blocks(c);
	return ret;
}

int
xdp_block_add(const char *prefix, uint32_t ttl_s, enum xdpg_reason reason)
{
	struct xdpg_lpm_key k;

	if (xdp.skel == NULL)
		return -ENOTCONN;
	if (xdp_key_parse(prefix, &k) != 0)
		return -EINVAL;
	return xdp_put(&k, ttl_s ? xdp_mono_ns() + (uint64_t) ttl_s * 1000000000ull : 0, reason);
}

int
xdp_block_del(const char *prefix)
{
	struct xdpg_lpm_key k;

	if (xdp.skel == NULL)
		return -ENOTCONN;
	if (xdp_key_parse(prefix, &k) != 0)
		return -EINVAL;
	if (bpf_map_delete_elem(bpf_map__fd(xdp.skel->maps.ndg_block), &k) != 0)
		return -errno;
	return 0;
}

void
xdp_block_list(FILE *out)
{
	struct xdpg_lpm_key key, next;
	uint64_t now = xdp_mono_ns();
	bool first = true;
	int fd;

	if (xdp.skel == NULL)
		return;
	fd = bpf_map__fd(xdp.skel->maps.ndg_block);
	while (bpf_map_get_next_key(fd, first ? NULL : &key, &next) == 0) {
		struct xdpg_block_val v;
		char p[INET6_ADDRSTRLEN + 8], exp[32];

		first = false;
		key = next;
		if (bpf_map_lookup_elem(fd, &next, &v) != 0)
			continue;
		xdp_key_str(&next, p, sizeof(p));
		if (v.expires_ns == 0)
			snprintf(exp, sizeof(exp), "never");
		else if (v.expires_ns <= now)
			snprintf(exp, sizeof(exp), "expired");
		else
			snprintf(exp, sizeof(exp), "%llus",
				(unsigned long long) ((v.expires_ns - now + 999999999ull) /
						      1000000000ull));
		fprintf(out, "xdp %s  reason %s  expires %s  dropped %llu packets %llu bytes\n", p,
			xdp_reason_name(v.reason), exp, (unsigned long long) v.packets,
			(unsigned long long) v.bytes);
	}
}

int
xdp_expire(void)
{
	struct xdpg_lpm_key key, next;
	uint64_t now;
	bool first = true;
	int fd, n = 0;

	if (xdp.skel == NULL || time(NULL) < xdp.next_sweep)
		return 0;
	xdp.next_sweep = time(NULL) + 1;
	now = xdp_mono_ns();
	fd = bpf_map__fd(xdp.skel->maps.ndg_block);
	while (bpf_map_get_next_key(fd, first ? NULL : &key, &next) == 0) {
		struct xdpg_block_val v;

		if (bpf_map_lookup_elem(fd, &next, &v) == 0 && v.expires_ns != 0 &&
			v.expires_ns <= now && bpf_map_delete_elem(fd, &next) == 0) {
			char p[INET6_ADDRSTRLEN + 8];

			xdp_key_str(&next, p, sizeof(p));
			log_info("xdp: %s (%s) expired after dropping %llu packets", p,
				xdp_reason_name(v.reason), (unsigned long long) v.packets);
			n++;
			first = true;
			continue;
		}
		key = next;
		first = false;
	}
	return n;
}

int
xdp_verdict(const struct ndg_conf *c, uint32_t client_ip, const char *rule, unsigned int outcome,
	uint32_t flags)
{
	enum xdpg_reason reason;
	char ip[INET_ADDRSTRLEN], p[INET_ADDRSTRLEN + 4];
	struct in_addr a = {.s_addr = client_ip};
	int ret;

	if (xdp.skel == NULL || outcome != 1 || c->xdp.verdict_ttl_ms == 0)
		return 0; /* only enforced rejections, never observe mode */
	if (strcmp(rule, "harvest") == 0)
		reason = XDPG_REASON_HARVEST;
	else if (strcmp(rule, "early_talker") == 0)
		reason = XDPG_REASON_EARLY_TALKER;
	else if (strcmp(rule, "conn_limit") == 0)
		reason = XDPG_REASON_CONN_LIMIT;
	else
		return 0;
	inet_ntop(AF_INET, &a, ip, sizeof(ip));
	snprintf(p, sizeof(p), "%s/32", ip);
	if (!(flags & CTL_LOG_F_PEER_ACKED)) {
		/* A client that never acknowledged our data may be a blind spoofer using someone
		 * else's address: blocking it would hand the spoofer a verdict against a third
		 * party (DESIGN.md §3). The caller counts it; no log: spoofers choose how often. */
		log_debug("xdp: %s not blocked (%s): it acknowledged no data of ours", p, rule);
		return -EPERM;
	}
	ret = xdp_block_add(p, (c->xdp.verdict_ttl_ms + 999) / 1000, reason);
	if (ret != 0)
		return log_error_errno(ret, "xdp: blocking %s (%s), ignoring", p, rule);
	log_info("xdp: %s blocked for %u s (%s)", p, (c->xdp.verdict_ttl_ms + 999) / 1000, rule);
	return 0;
}

void
xdp_stats_print(FILE *out)
{
	static const char *const names[XDPG_ST_MAX] = {
		[XDPG_ST_RX] = "rx",
		[XDPG_ST_PASS] = "pass",
		[XDPG_ST_DROP_BLOCK] = "drop_block",
		[XDPG_ST_DROP_SYN] = "drop_syn",
		[XDPG_ST_STEER] = "steer",
		[XDPG_ST_STEER_MISS] = "steer_miss",
		[XDPG_ST_TRUNCATED] = "truncated",
		[XDPG_ST_FRAGMENT] = "fragment",
		[XDPG_ST_VLAN] = "vlan",
		[XDPG_ST_IPV6] = "ipv6",
		[XDPG_ST_NON_IP] = "non_ip",
	};
	int ncpu = libbpf_num_possible_cpus();
	uint64_t *v;

	if (xdp.skel == NULL || ncpu <= 0 || (v = calloc((size_t) ncpu, sizeof(*v))) == NULL)
		return;
	for (uint32_t i = 0; i < XDPG_ST_MAX; i++) {
		uint64_t sum = 0;

		if (bpf_map_lookup_elem(bpf_map__fd(xdp.skel->maps.ndg_stats), &i, v) != 0)
			continue;
		for (int c = 0; c < ncpu; c++)
			sum += v[c];
		fprintf(out, "xdp_%s %" PRIu64 "\n", names[i], sum);
	}
	free(v);
}
