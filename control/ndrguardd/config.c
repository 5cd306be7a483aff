/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Configuration: defaults, loading through the grammar, validation and value parsers.
 * Main thread only.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "config.h"
#include "parse-t.h"
#include "parse.h"

typedef void *yyscan_t;
int conf_yylex_init_extra(struct conf_parse_ctx *extra, yyscan_t *scanner);
int conf_yylex_destroy(yyscan_t scanner);
void conf_yyset_in(FILE *in, yyscan_t scanner);

static const char *const conf_mode_names[CONF_MODE_MAX] = {
	[CONF_MODE_ENFORCE] = "enforce",
	[CONF_MODE_OBSERVE] = "observe",
};

static const char *const conf_rule_names[CONF_RULE_MAX] = {
	[CONF_RULE_BLOCKLIST] = "blocklist",
	[CONF_RULE_CONCURRENCY] = "concurrency",
	[CONF_RULE_EARLY_TALKER] = "early-talker",
	[CONF_RULE_RELAY] = "relay",
	[CONF_RULE_RELAY_BYPASS] = "relay-bypass",
	[CONF_RULE_MULTI_BOUNCE] = "multi-recipient-bounce",
	[CONF_RULE_BATV] = "batv",
	[CONF_RULE_NEVER_BOUNCE] = "never-bounce",
	[CONF_RULE_UNKNOWN_RCPT] = "unknown-recipient",
	[CONF_RULE_HARVEST] = "harvest",
	[CONF_RULE_OUT_RELAY] = "out-relay",
	[CONF_RULE_OUT_SENDER] = "out-sender",
	[CONF_RULE_OUT_SENDER_RATE] = "out-sender-rate",
	[CONF_RULE_OUT_HOST_RATE] = "out-host-rate",
	[CONF_RULE_OUT_NDR] = "out-ndr",
};

const char *
conf_mode_name(enum conf_mode m)
{
	return (unsigned int) m < CONF_MODE_MAX ? conf_mode_names[m] : "?";
}

const char *
conf_rule_name(enum conf_rule r)
{
	return (unsigned int) r < CONF_RULE_MAX ? conf_rule_names[r] : "?";
}

void
conf_parse_error(struct conf_parse_ctx *ctx, int line, const char *fmt, ...)
{
	va_list ap;

	ctx->errors++;
	if (ctx->errf == NULL)
		return;
	fprintf(ctx->errf, "%s:%d: ", ctx->path, line);
	va_start(ap, fmt);
	vfprintf(ctx->errf, fmt, ap);
	va_end(ap);
	fputc('\n', ctx->errf);
}

struct ndg_conf *
conf_new(void)
{
	struct ndg_conf *c = calloc(1, sizeof(*c));

	if (c == NULL)
		return NULL;
	if (gethostname(c->hostname, sizeof(c->hostname) - 1) != 0 || c->hostname[0] == '\0')
		snprintf(c->hostname, sizeof(c->hostname), "localhost");
	c->smtp_port = 25;
	snprintf(c->control_socket, sizeof(c->control_socket), "/run/ndrguard/control.sock");
	snprintf(c->dataplane_socket, sizeof(c->dataplane_socket), "/run/ndrguard/dataplane.sock");
	snprintf(c->snapshot_path, sizeof(c->snapshot_path),
		"/var/lib/ndrguard/directory.snapshot");
	snprintf(c->decision_log, sizeof(c->decision_log), "/var/log/ndrguard/decisions.log");
	snprintf(c->metrics_listen, sizeof(c->metrics_listen), "127.0.0.1:9433");
	c->decision_journal = true;
	c->dir_sync_interval_ms = 5 * 60 * 1000;
	c->dir_max_age_ms = 60 * 60 * 1000;
	c->dir_max_shrink_pct = 10;
	c->max_recipients = 100; /* RFC 5321 §4.5.3.1.8 minimum */
	c->max_message_size = 50ull << 20;
	c->max_errors = 10;
	c->greeting_delay_ms = 0;
	c->timeout_command_ms = 5 * 60 * 1000; /* RFC 5321 §4.5.3.2.7 */
	c->timeout_data_ms = 10 * 60 * 1000;   /* RFC 5321 §4.5.3.2.6 */
	c->timeout_backend_ms = 30 * 1000;
	c->max_conn_per_ip = 20;
	c->harvest_budget = 20;
	c->harvest_window_ms = 10 * 60 * 1000;
	c->harvest_tarpit_ms = 2000;
	c->bare_newline = CONF_BARE_NL_REJECT;
	TAILQ_INIT(&c->domains);
	TAILQ_INIT(&c->relay_nets);
	TAILQ_INIT(&c->blocked);
	TAILQ_INIT(&c->dir_files);
	TAILQ_INIT(&c->ldap_sources);
	TAILQ_INIT(&c->never_bounce);
	TAILQ_INIT(&c->batv_keys);
	conf_xdp_defaults(&c->xdp);
	conf_out_init(&c->out);
	conf_tls_defaults(&c->tls);
	return c;
}

#define CONF_LIST_FREE(head, type)                                                                 \
	do {                                                                                       \
		struct type *e_;                                                                   \
		while ((e_ = TAILQ_FIRST(head)) != NULL) {                                         \
			TAILQ_REMOVE(head, e_, entry);                                             \
			free(e_);                                                                  \
		}                                                                                  \
	} while (0)

void
conf_free(struct ndg_conf *c)
{
	if (c == NULL)
		return;
	CONF_LIST_FREE(&c->domains, conf_domain);
	CONF_LIST_FREE(&c->relay_nets, conf_net);
	CONF_LIST_FREE(&c->blocked, conf_net);
	CONF_LIST_FREE(&c->dir_files, conf_str);
	CONF_LIST_FREE(&c->ldap_sources, lsrc_conf);
	CONF_LIST_FREE(&c->never_bounce, conf_str);
	CONF_LIST_FREE(&c->batv_keys, conf_batv_key);
	conf_out_free(&c->out);
	conf_tls_free(&c->tls);
	conf_btls_free(&c->btls);
	free(c);
}

const struct conf_domain *
conf_domain_find(const struct ndg_conf *c, const char *name)
{
	const struct conf_domain *d;

	TAILQ_FOREACH (d, &c->domains, entry)
		if (strcasecmp(d->name, name) == 0)
			return d;
	return NULL;
}

/* Do A.B.C.D/<pa> at <a> and <b>/<pb> share an address? Addresses in network byte order. */
static bool
conf_net_overlap(uint32_t a, uint8_t pa, uint32_t b, uint8_t pb)
{
	uint8_t p = pa < pb ? pa : pb;
	uint32_t mask = p ? htonl(~0u << (32 - p)) : 0;

	return ((a ^ b) & mask) == 0;
}

/* <ip> (network byte order) as text, in one of two rotating static buffers. */
static const char *
conf_ip_str(uint32_t ip)
{
	static char buf[2][INET_ADDRSTRLEN];
	static unsigned int k;
	struct in_addr a = {.s_addr = ip};

	k ^= 1;
	return inet_ntop(AF_INET, &a, buf[k], sizeof(buf[k]));
}

int
conf_validate(const struct ndg_conf *c, FILE *errf)
{
	const struct conf_domain *d, *e;
	const struct conf_net *n;
	int errors = 0;

#define CONF_VERR(line, ...)                                                                       \
	do {                                                                                       \
		if (errf != NULL) {                                                                \
			if (line > 0)                                                              \
				fprintf(errf, "%s:%d: ", c->path, line);                           \
			else                                                                       \
				fprintf(errf, "%s: ", c->path);                                    \
			fprintf(errf, __VA_ARGS__);                                                \
			fputc('\n', errf);                                                         \
		}                                                                                  \
		errors++;                                                                          \
	} while (0)

	if (TAILQ_EMPTY(&c->domains))
		CONF_VERR(0, "no domain: ndrguard would refuse every recipient as relaying");
	TAILQ_FOREACH (d, &c->domains, entry) {
		if (d->n_backends == 0)
			CONF_VERR(d->line, "domain %s has no backend", d->name);
		if (d->batv == CONF_BATV_REQUIRE && TAILQ_EMPTY(&c->batv_keys))
			CONF_VERR(d->line, "domain %s requires BATV but no 'batv key' is set",
				d->name);
		for (e = TAILQ_NEXT(d, entry); e != NULL; e = TAILQ_NEXT(e, entry))
			if (strcmp(d->name, e->name) == 0)
				CONF_VERR(e->line, "domain %s is defined twice (first at line %d)",
					e->name, d->line);
	}
	if (TAILQ_EMPTY(&c->dir_files) && TAILQ_EMPTY(&c->ldap_sources))
		CONF_VERR(0, "no 'directory file' or 'directory ldap': every recipient would be "
			     "unknown");
	for (const struct lsrc_conf *l = TAILQ_FIRST(&c->ldap_sources); l != NULL;
		l = TAILQ_NEXT(l, entry))
		for (const struct lsrc_conf *m = TAILQ_NEXT(l, entry); m != NULL;
			m = TAILQ_NEXT(m, entry))
			if (strcmp(l->name, m->name) == 0)
				CONF_VERR(m->line, "directory ldap %s is defined twice", m->name);
	/* The external port refuses backends and internal networks as sources whatever the
	 * relay networks say (BCP 38): an 'external' relay network cannot hold them. */
	TAILQ_FOREACH (n, &c->relay_nets, entry) {
		const struct conf_out_net *o;
		char net[INET_ADDRSTRLEN];
		struct in_addr a = {.s_addr = n->ip};

		if (!n->external)
			continue;
		inet_ntop(AF_INET, &a, net, sizeof(net));
		TAILQ_FOREACH (d, &c->domains, entry)
			for (unsigned int i = 0; i < d->n_backends; i++)
				if (conf_net_overlap(n->ip, n->plen, d->backends[i].ip, 32))
					CONF_VERR(n->line,
						"relay network %s/%u external holds backend %s of "
						"domain %s: a backend never reaches us from "
						"outside",
						net, n->plen, conf_ip_str(d->backends[i].ip),
						d->name);
		TAILQ_FOREACH (o, &c->out.nets, entry)
			if (conf_net_overlap(n->ip, n->plen, o->ip, o->plen))
				CONF_VERR(n->line,
					"relay network %s/%u external overlaps internal network "
					"%s/%u",
					net, n->plen, conf_ip_str(o->ip), o->plen);
	}
	if (c->harvest_window_ms == 0)
		CONF_VERR(0, "harvest window must be longer than 0");
	if (c->xdp.steer && c->xdp.n_addrs == 0)
		CONF_VERR(0, "xdp steer: no 'xdp address' to steer SMTP for");
	if (c->xdp.syn_rate > 0 && c->xdp.syn_burst == 0)
		CONF_VERR(0, "xdp syn-rate needs an xdp syn-burst");
#undef CONF_VERR
	return errors + conf_out_validate(&c->out, c->path, errf);
}

struct ndg_conf *
conf_load(const char *path, FILE *errf)
{
	struct conf_parse_ctx ctx = {0};
	yyscan_t scanner;
	FILE *f;
	int ret;

	ctx.conf = conf_new();
	if (ctx.conf == NULL) {
		if (errf != NULL)
			fprintf(errf, "%s: out of memory\n", path);
		return NULL;
	}
	snprintf(ctx.conf->path, sizeof(ctx.conf->path), "%s", path);
	ctx.path = ctx.conf->path;
	ctx.errf = errf;
	f = fopen(path, "r");
	if (f == NULL) {
		if (errf != NULL)
			fprintf(errf, "%s: %s\n", path, strerror(errno));
		conf_free(ctx.conf);
		return NULL;
	}
	if (conf_yylex_init_extra(&ctx, &scanner) != 0) {
		fclose(f);
		conf_free(ctx.conf);
		return NULL;
	}
	conf_yyset_in(f, scanner);
	ret = conf_yyparse(scanner, &ctx);
	conf_yylex_destroy(scanner);
	fclose(f);
	if (ret != 0 && ctx.errors == 0)
		conf_parse_error(&ctx, 0, "cannot parse");
	if (ctx.errors == 0)
		ctx.errors += conf_validate(ctx.conf, errf);
	if (ctx.errors == 0)
		ctx.errors += conf_tls_load(&ctx.conf->tls, ctx.conf->path, errf);
	if (ctx.errors == 0)
		ctx.errors += conf_btls_load(&ctx.conf->btls, ctx.conf->path, errf);
	if (ctx.errors != 0) {
		conf_free(ctx.conf);
		return NULL;
	}
	return ctx.conf;
}

int
conf_parse_size(const char *s, uint64_t *out)
{
	char *end;
	unsigned long long v;
	uint64_t mul = 1;

	if (s[0] < '0' || s[0] > '9')
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno != 0)
		return -ERANGE;
	if (strcasecmp(end, "K") == 0)
		mul = 1ull << 10;
	else if (strcasecmp(end, "M") == 0)
		mul = 1ull << 20;
	else if (strcasecmp(end, "G") == 0)
		mul = 1ull << 30;
	else if (*end != '\0')
		return -EINVAL;
	if (v > UINT64_MAX / mul)
		return -ERANGE;
	*out = v * mul;
	return 0;
}

int
conf_parse_duration(const char *s, uint32_t *out_ms)
{
	char *end;
	unsigned long long v;
	uint64_t mul;

	if (s[0] < '0' || s[0] > '9')
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno != 0)
		return -ERANGE;
	if (strcmp(end, "ms") == 0)
		mul = 1;
	else if (strcmp(end, "s") == 0 || *end == '\0')
		mul = 1000;
	else if (strcmp(end, "m") == 0)
		mul = 60 * 1000;
	else if (strcmp(end, "h") == 0)
		mul = 3600 * 1000;
	else
		return -EINVAL;
	if (v > UINT32_MAX / mul)
		return -ERANGE;
	*out_ms = (uint32_t) (v * mul);
	return 0;
}

int
conf_parse_net(const char *s, uint32_t *ip, uint8_t *plen)
{
	char buf[INET_ADDRSTRLEN];
	const char *slash = strchr(s, '/');
	size_t n = slash ? (size_t) (slash - s) : strlen(s);
	struct in_addr a;
	unsigned long len = 32;
	uint32_t mask;

	if (n == 0 || n >= sizeof(buf))
		return -EINVAL;
	memcpy(buf, s, n);
	buf[n] = '\0';
	if (inet_pton(AF_INET, buf, &a) != 1)
		return -EINVAL;
	if (slash != NULL) {
		char *end;

		if (slash[1] < '0' || slash[1] > '9')
			return -EINVAL;
		errno = 0;
		len = strtoul(slash + 1, &end, 10);
		if (errno != 0 || *end != '\0' || len > 32)
			return -EINVAL;
	}
	mask = len == 0 ? 0 : htonl(~0u << (32 - len));
	if ((a.s_addr & ~mask) != 0)
		return -EINVAL; /* host bits set: almost always a typo */
	*ip = a.s_addr;
	*plen = (uint8_t) len;
	return 0;
}
