/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * 'xdp KEY VALUE' statements (ndrguard.conf(5), XDP section) and the IPv4/IPv6 prefix syntax
 * the XDP blocklist shares with 'ndrctl block'. Main thread, while a configuration is read.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>

#include "config.h"
#include "config_xdp.h"

void
conf_xdp_defaults(struct conf_xdp *x)
{
	memset(x, 0, sizeof(*x));
	snprintf(x->pin_path, sizeof(x->pin_path), "/sys/fs/bpf");
	x->verdict_ttl_ms = 10 * 60 * 1000;
}

int
conf_parse_net6(const char *s, uint8_t addr[16], unsigned int *plen128)
{
	char buf[INET6_ADDRSTRLEN + 8];
	const char *slash = strchr(s, '/');
	size_t n = slash ? (size_t) (slash - s) : strlen(s);
	unsigned long len;
	bool v6 = memchr(s, ':', n) != NULL;
	char *end;
	uint8_t a[16] = {0};

	if (n == 0 || n >= INET6_ADDRSTRLEN)
		return -EINVAL;
	memcpy(buf, s, n);
	buf[n] = '\0';
	if (v6) {
		if (inet_pton(AF_INET6, buf, a) != 1)
			return -EINVAL;
	} else {
		a[10] = a[11] = 0xff;
		if (inet_pton(AF_INET, buf, a + 12) != 1)
			return -EINVAL;
	}
	len = v6 ? 128 : 32;
	if (slash != NULL) {
		errno = 0;
		len = strtoul(slash + 1, &end, 10);
		if (errno != 0 || end == slash + 1 || *end != '\0' || len > (v6 ? 128u : 32u))
			return -EINVAL;
	}
	if (!v6)
		len += 96;
	for (unsigned int bit = (unsigned int) len; bit < 128; bit++)
		if (a[bit / 8] & (0x80 >> (bit % 8)))
			return -EINVAL; /* host bits set */
	memcpy(addr, a, 16);
	*plen128 = (unsigned int) len;
	return 0;
}

static int
conf_xdp_bool(const char *v, bool *out)
{
	if (strcmp(v, "yes") == 0 || strcmp(v, "on") == 0)
		*out = true;
	else if (strcmp(v, "no") == 0 || strcmp(v, "off") == 0)
		*out = false;
	else
		return -EINVAL;
	return 0;
}

static int
conf_xdp_u32(const char *v, uint32_t min, uint32_t max, uint32_t *out)
{
	unsigned long n;
	char *end;

	errno = 0;
	n = strtoul(v, &end, 10);
	if (errno != 0 || end == v || *end != '\0' || n < min || n > max)
		return -EINVAL;
	*out = (uint32_t) n;
	return 0;
}

int
conf_xdp_set(struct conf_xdp *x, const char *key, const char *v, char *err, size_t errsize)
{
	if (strcmp(key, "enable") == 0) {
		if (conf_xdp_bool(v, &x->on) == 0)
			return 0;
		snprintf(err, errsize, "xdp enable: '%s' is not yes or no", v);
	} else if (strcmp(key, "pin-path") == 0) {
		if (v[0] == '/' && strlen(v) < sizeof(x->pin_path)) {
			snprintf(x->pin_path, sizeof(x->pin_path), "%s", v);
			return 0;
		}
		snprintf(err, errsize, "xdp pin-path: '%s' is not an absolute path", v);
	} else if (strcmp(key, "interface") == 0) {
		if (strlen(v) < sizeof(x->interface) && strchr(v, '/') == NULL) {
			snprintf(x->interface, sizeof(x->interface), "%s", v);
			return 0;
		}
		snprintf(err, errsize, "xdp interface: '%s' is not an interface name", v);
	} else if (strcmp(key, "mode") == 0) {
		if (strcmp(v, "native") == 0 || strcmp(v, "generic") == 0) {
			x->generic = v[0] == 'g';
			return 0;
		}
		snprintf(err, errsize, "xdp mode: '%s' is not native or generic", v);
	} else if (strcmp(key, "block-match") == 0) {
		if (strcmp(v, "all") == 0 || strcmp(v, "syn") == 0) {
			x->block_syn_only = v[0] == 's';
			return 0;
		}
		snprintf(err, errsize, "xdp block-match: '%s' is not all or syn", v);
	} else if (strcmp(key, "syn-rate") == 0) {
		if (conf_xdp_u32(v, 0, 10000000, &x->syn_rate) == 0)
			return 0;
		snprintf(err, errsize, "xdp syn-rate: '%s' is not a number from 0 to 10000000", v);
	} else if (strcmp(key, "syn-burst") == 0) {
		if (conf_xdp_u32(v, 1, 10000000, &x->syn_burst) == 0)
			return 0;
		snprintf(err, errsize, "xdp syn-burst: '%s' is not a number from 1 to 10000000", v);
	} else if (strcmp(key, "steer") == 0) {
		if (conf_xdp_bool(v, &x->steer) == 0)
			return 0;
		snprintf(err, errsize, "xdp steer: '%s' is not yes or no", v);
	} else if (strcmp(key, "address") == 0) {
		unsigned int plen;

		if (x->n_addrs >= CONF_XDP_ADDR_MAX)
			snprintf(err, errsize, "xdp address: more than %d", CONF_XDP_ADDR_MAX);
		else if (strchr(v, '/') != NULL ||
			 conf_parse_net6(v, x->addrs[x->n_addrs], &plen) != 0)
			snprintf(err, errsize, "xdp address: '%s' is not an IPv4 or IPv6 address",
				v);
		else {
			x->n_addrs++;
			return 0;
		}
	} else if (strcmp(key, "verdict-ttl") == 0) {
		if (conf_parse_duration(v, &x->verdict_ttl_ms) == 0)
			return 0;
		snprintf(err, errsize, "xdp verdict-ttl: '%s' is not a duration", v);
	} else {
		snprintf(err, errsize,
			"xdp: unknown setting '%s' (enable, pin-path, interface, mode, "
			"block-match, syn-rate, syn-burst, steer, address, verdict-ttl)",
			key);
	}
	return -EINVAL;
}
