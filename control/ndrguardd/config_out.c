/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The `outbound { ... }` block of ndrguard.conf(5) (shared/DESIGN.md §4 "Outbound"): items
 * checked one line at a time, the cross-field checks and the CONFIG section the dataplane
 * reads (ctl_proto-t.h struct ctl_config_out). Main thread only.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "config_out.h"
#include "ctl_proto-t.h"

void
conf_out_init(struct conf_out *o)
{
	memset(o, 0, sizeof(*o));
	o->n_ports = 2;
	o->ports[0] = 25;
	o->ports[1] = 587; /* RFC 6409 submission */
	o->batv_sign = true;
	o->rate[CONF_OUT_SENDER_MSG] = (struct conf_out_rate_v){60, 60000, 0};
	o->rate[CONF_OUT_SENDER_RCPT] = (struct conf_out_rate_v){600, 60000, 0};
	o->rate[CONF_OUT_HOST_MSG] = (struct conf_out_rate_v){120, 60000, 0};
	o->rate[CONF_OUT_HOST_RCPT] = (struct conf_out_rate_v){1200, 60000, 0};
	o->rate[CONF_OUT_NDR_DOMAIN] = (struct conf_out_rate_v){30, 3600000, 0};
	o->rate[CONF_OUT_NDR_TOTAL] = (struct conf_out_rate_v){100, 3600000, 0};
	TAILQ_INIT(&o->nets);
	TAILQ_INIT(&o->exempt);
}

void
conf_out_free(struct conf_out *o)
{
	struct conf_out_net *n;
	struct conf_out_exempt *e;

	while ((n = TAILQ_FIRST(&o->nets)) != NULL) {
		TAILQ_REMOVE(&o->nets, n, entry);
		free(n);
	}
	while ((e = TAILQ_FIRST(&o->exempt)) != NULL) {
		TAILQ_REMOVE(&o->exempt, e, entry);
		free(e);
	}
}

#define OUT_ERR(...)                                                                               \
	do {                                                                                       \
		snprintf(err, errsz, __VA_ARGS__);                                                 \
		return -EINVAL;                                                                    \
	} while (0)

static int
conf_out_u32(const char *s, uint32_t min, uint32_t max, uint32_t *out)
{
	char *end;
	unsigned long v;

	if (!isdigit((unsigned char) s[0]))
		return -EINVAL;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno != 0 || *end != '\0' || v < min || v > max)
		return -EINVAL;
	*out = (uint32_t) v;
	return 0;
}

/* "N per PERIOD [burst B]" or "off"; PERIOD a duration or second|minute|hour. */
static int
conf_out_rate(struct conf_out_rate_v *r, const char *what, char *const *a, int n, char *err,
	size_t errsz)
{
	struct conf_out_rate_v v = {0, 0, 0};

	if (n == 1 && strcmp(a[0], "off") == 0) {
		*r = v;
		return 0;
	}
	if ((n != 3 && n != 5) || strcmp(a[1], "per") != 0 ||
		(n == 5 && strcmp(a[3], "burst") != 0))
		OUT_ERR("%s: expected 'N per PERIOD [burst B]' or 'off'", what);
	if (conf_out_u32(a[0], 1, 100000000, &v.count) != 0)
		OUT_ERR("%s: '%s' is not a number from 1 to 100000000", what, a[0]);
	if (strcmp(a[2], "second") == 0)
		v.per_ms = 1000;
	else if (strcmp(a[2], "minute") == 0)
		v.per_ms = 60000;
	else if (strcmp(a[2], "hour") == 0)
		v.per_ms = 3600000;
	else if (conf_parse_duration(a[2], &v.per_ms) != 0 || v.per_ms == 0)
		OUT_ERR("%s: '%s' is not a period (second, minute, hour or a duration)", what,
			a[2]);
	if (n == 5 && conf_out_u32(a[4], 1, 100000000, &v.burst) != 0)
		OUT_ERR("%s: burst '%s' is not a number from 1 to 100000000", what, a[4]);
	*r = v;
	return 0;
}

static int
conf_out_ip(const char *s, uint32_t *ip)
{
	struct in_addr a;

	if (inet_pton(AF_INET, s, &a) != 1 || a.s_addr == 0)
		return -EINVAL;
	*ip = a.s_addr;
	return 0;
}

int
conf_out_item(struct conf_out *o, const char *key, char *const *a, int n, char *err, size_t errsz)
{
	if (strcmp(key, "listen") == 0) {
		if (n < 2 || strcmp(a[0], "port") != 0 || n - 1 > CONF_OUT_PORTS)
			OUT_ERR("listen: expected 'listen port P [P...]' (at most %d ports)",
				CONF_OUT_PORTS);
		for (int i = 1; i < n; i++) {
			uint32_t p;

			if (conf_out_u32(a[i], 1, 65535, &p) != 0)
				OUT_ERR("listen port: '%s' is not a port", a[i]);
			o->ports[i - 1] = (uint16_t) p;
		}
		o->n_ports = (unsigned int) (n - 1);
		return 0;
	}
	if (strcmp(key, "address") == 0) {
		if (n != 1 || conf_out_ip(a[0], &o->addr) != 0)
			OUT_ERR("address: expected an IPv4 address");
		return 0;
	}
	if (strcmp(key, "internal") == 0) {
		struct conf_out_net *net;

		if (n != 2 || strcmp(a[0], "network") != 0)
			OUT_ERR("internal: expected 'internal network A.B.C.D/LEN'");
		net = calloc(1, sizeof(*net));
		if (net == NULL)
			OUT_ERR("out of memory");
		if (conf_parse_net(a[1], &net->ip, &net->plen) != 0) {
			free(net);
			OUT_ERR("internal network: '%s' is not A.B.C.D/LEN", a[1]);
		}
		TAILQ_INSERT_TAIL(&o->nets, net, entry);
		return 0;
	}
	if (strcmp(key, "smarthost") == 0) {
		uint32_t ip, port = 25;

		if ((n != 1 && n != 3) || (n == 3 && strcmp(a[1], "port") != 0))
			OUT_ERR("smarthost: expected 'smarthost A.B.C.D [port P]'");
		if (conf_out_ip(a[0], &ip) != 0)
			OUT_ERR("smarthost: '%s' is not an IPv4 address", a[0]);
		if (n == 3 && conf_out_u32(a[2], 1, 65535, &port) != 0)
			OUT_ERR("smarthost port: '%s' is not a port", a[2]);
		if (o->n_smarthosts >= CONF_OUT_SMARTHOSTS)
			OUT_ERR("smarthost: more than %d", CONF_OUT_SMARTHOSTS);
		o->smarthost_ip[o->n_smarthosts] = ip;
		o->smarthost_port[o->n_smarthosts] = (uint16_t) port;
		o->n_smarthosts++;
		return 0;
	}
	if (strcmp(key, "sender") == 0 || strcmp(key, "host") == 0) {
		bool sender = key[0] == 's';

		if (n >= 1 && strcmp(a[0], "rate") == 0)
			return conf_out_rate(
				&o->rate[sender ? CONF_OUT_SENDER_MSG : CONF_OUT_HOST_MSG],
				sender ? "sender rate" : "host rate", a + 1, n - 1, err, errsz);
		if (n >= 1 && strcmp(a[0], "recipients") == 0)
			return conf_out_rate(
				&o->rate[sender ? CONF_OUT_SENDER_RCPT : CONF_OUT_HOST_RCPT],
				sender ? "sender recipients" : "host recipients", a + 1, n - 1, err,
				errsz);
		OUT_ERR("%s: expected 'rate' or 'recipients'", key);
	}
	if (strcmp(key, "ndr") == 0) {
		if (n == 1 && strcmp(a[0], "refuse") == 0) {
			o->ndr_refuse = true;
			return 0;
		}
		if (n == 1 && strcmp(a[0], "limit") == 0) {
			o->ndr_refuse = false;
			return 0;
		}
		if (n == 2 && strcmp(a[0], "reply") == 0) {
			if (strcmp(a[1], "5xx") == 0)
				o->ndr_tempfail = false;
			else if (strcmp(a[1], "4xx") == 0)
				o->ndr_tempfail = true;
			else
				OUT_ERR("ndr reply: '%s' is not 5xx or 4xx", a[1]);
			return 0;
		}
		if (n >= 1 && strcmp(a[0], "domain") == 0)
			return conf_out_rate(&o->rate[CONF_OUT_NDR_DOMAIN], "ndr domain", a + 1,
				n - 1, err, errsz);
		if (n >= 1 && strcmp(a[0], "total") == 0)
			return conf_out_rate(&o->rate[CONF_OUT_NDR_TOTAL], "ndr total", a + 1,
				n - 1, err, errsz);
		OUT_ERR("ndr: expected 'domain', 'total', 'refuse', 'limit' or 'reply'");
	}
	if (strcmp(key, "batv") == 0) {
		if (n == 2 && strcmp(a[0], "sign") == 0) {
			if (strcmp(a[1], "yes") == 0 || strcmp(a[1], "on") == 0)
				o->batv_sign = true;
			else if (strcmp(a[1], "no") == 0 || strcmp(a[1], "off") == 0)
				o->batv_sign = false;
			else
				OUT_ERR("batv sign: '%s' is not yes or no", a[1]);
			return 0;
		}
		if (n == 2 && strcmp(a[0], "exempt") == 0) {
			struct conf_out_exempt *e;
			size_t l = strlen(a[1]);
			const char *at = strchr(a[1], '@');

			if (at == NULL || l < 2 || l >= sizeof(e->addr) || at[1] == '\0' ||
				strchr(at + 1, '@') != NULL)
				OUT_ERR("batv exempt: '%s' is not user@domain or @domain", a[1]);
			e = calloc(1, sizeof(*e));
			if (e == NULL)
				OUT_ERR("out of memory");
			for (size_t i = 0; i <= l; i++)
				e->addr[i] = (char) tolower((unsigned char) a[1][i]);
			TAILQ_INSERT_TAIL(&o->exempt, e, entry);
			return 0;
		}
		OUT_ERR("batv: expected 'sign yes|no' or 'exempt ADDRESS'");
	}
	OUT_ERR("unknown item '%s'", key);
}

int
conf_out_validate(const struct conf_out *o, const char *path, FILE *errf)
{
	int errors = 0;

	if (!o->enabled)
		return 0;
	if (o->n_smarthosts == 0) {
		if (errf != NULL)
			fprintf(errf,
				"%s:%d: outbound has no smarthost (direct delivery is not "
				"offered)\n",
				path, o->line);
		errors++;
	}
	for (unsigned int i = 0; i < o->n_ports; i++)
		for (unsigned int j = i + 1; j < o->n_ports; j++)
			if (o->ports[i] == o->ports[j]) {
				if (errf != NULL)
					fprintf(errf,
						"%s:%d: outbound listen port %u given twice\n",
						path, o->line, o->ports[i]);
				errors++;
			}
	return errors;
}

size_t
conf_out_payload_size(const struct conf_out *o)
{
	const struct conf_out_net *n;
	const struct conf_out_exempt *e;
	size_t nn = 0, ne = 0;

	if (!o->enabled)
		return 0;
	TAILQ_FOREACH (n, &o->nets, entry)
		nn++;
	TAILQ_FOREACH (e, &o->exempt, entry)
		ne++;
	return sizeof(struct ctl_config_out) + nn * sizeof(struct ctl_config_net) +
	       ne * sizeof(struct ctl_config_addr);
}

void
conf_out_payload(const struct conf_out *o, void *p)
{
	struct ctl_config_out *h = p;
	const struct conf_out_net *n;
	const struct conf_out_exempt *e;
	char *q = (char *) (h + 1);

	_Static_assert((int) CONF_OUT_RATE_MAX == (int) CTL_OUT_RATE_MAX, "rate lists differ");
	_Static_assert(CONF_OUT_PORTS <= CTL_OUT_PORTS, "ports");
	_Static_assert(CONF_OUT_SMARTHOSTS <= CTL_CONFIG_BACKENDS, "smarthosts");
	h->enabled = 1;
	h->n_ports = o->n_ports;
	for (unsigned int i = 0; i < o->n_ports; i++)
		h->ports[i] = o->ports[i];
	h->addr = o->addr;
	h->n_smarthosts = o->n_smarthosts;
	for (unsigned int i = 0; i < o->n_smarthosts; i++) {
		h->smarthosts[i].ip = o->smarthost_ip[i];
		h->smarthosts[i].port = o->smarthost_port[i];
	}
	h->batv_sign = o->batv_sign;
	h->ndr_mode = o->ndr_refuse ? 1 : 0;
	h->ndr_tempfail = o->ndr_tempfail;
	for (unsigned int i = 0; i < CONF_OUT_RATE_MAX; i++) {
		h->rate[i].count = o->rate[i].count;
		h->rate[i].per_ms = o->rate[i].per_ms;
		h->rate[i].burst = o->rate[i].burst;
	}
	TAILQ_FOREACH (n, &o->nets, entry) {
		struct ctl_config_net *x = (struct ctl_config_net *) q;

		x->ip = n->ip;
		x->plen = n->plen;
		h->n_nets++;
		q += sizeof(*x);
	}
	TAILQ_FOREACH (e, &o->exempt, entry) {
		struct ctl_config_addr *x = (struct ctl_config_addr *) q;

		memcpy(x->addr, e->addr, strlen(e->addr) + 1);
		h->n_exempt++;
		q += sizeof(*x);
	}
}
