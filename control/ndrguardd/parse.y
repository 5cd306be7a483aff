/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Grammar of ndrguard.conf(5). Statements end at a newline; domains and limits take blocks.
 * Every value is checked where it is read and reported as "file:line: message"; parsing goes
 * on after an error so one run shows them all. Main thread only.
 */
%define api.pure full
%define api.prefix {conf_yy}
%define parse.error verbose
%locations
%param {void *scanner}
%parse-param {struct conf_parse_ctx *ctx}

%code requires {
#include "parse-t.h"
}

%code provides {
int conf_yylex(CONF_YYSTYPE *lval, CONF_YYLTYPE *lloc, void *scanner);
void conf_yyerror(CONF_YYLTYPE *lloc, void *scanner, struct conf_parse_ctx *ctx, const char *msg);
}

%code {
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "lsrc.h"

static void conf_set_str(struct conf_parse_ctx *ctx, int line, char *dst, size_t size, char *v,
	const char *what);
static void conf_set_u32(struct conf_parse_ctx *ctx, int line, uint32_t *dst, char *v,
	uint32_t min, uint32_t max, const char *what);
static void conf_set_ms(struct conf_parse_ctx *ctx, int line, uint32_t *dst, char *v,
	const char *what);
static void conf_domain_begin(struct conf_parse_ctx *ctx, int line, char *name);
static void conf_domain_backend(struct conf_parse_ctx *ctx, int line, char *ip, char *port);
static void conf_add_str(struct conf_parse_ctx *ctx, int line, struct conf_str_list *l, char *v,
	const char *what);
static void conf_add_net(struct conf_parse_ctx *ctx, int line, struct conf_net_list *l, char *v,
	const char *what);
static void conf_add_batv_key(struct conf_parse_ctx *ctx, int line, char *id, char *hex);
static void conf_set_rule(struct conf_parse_ctx *ctx, int line, char *rule, char *mode);
static void conf_ldap_begin(struct conf_parse_ctx *ctx, int line, char *name);
static void conf_ldap_end(struct conf_parse_ctx *ctx, int line);
static void conf_ldap_arg(struct conf_parse_ctx *ctx, int line, char *v);
static void conf_ldap_item(struct conf_parse_ctx *ctx, int line, char *key);
static void conf_out_arg(struct conf_parse_ctx *ctx, int line, char *v);
static void conf_out_line(struct conf_parse_ctx *ctx, int line, char *key);
}

%union {
	char *str;
}

%token HOSTNAME "hostname"
%token LISTEN "listen"
%token PORT "port"
%token DATAPLANE "dataplane"
%token CONTROL "control"
%token SOCKET "socket"
%token DIRECTORY "directory"
%token FILE_KW "file"
%token SNAPSHOT "snapshot"
%token DOMAIN "domain"
%token BACKEND "backend"
%token BATV "batv"
%token KEY "key"
%token RELAY "relay"
%token NETWORK "network"
%token NEVER_BOUNCE "never-bounce"
%token LIMITS "limits"
%token RECIPIENTS "recipients"
%token MESSAGE_SIZE "message-size"
%token ERRORS "errors"
%token GREETING_DELAY "greeting-delay"
%token TIMEOUT "timeout"
%token COMMAND "command"
%token DATA "data"
%token CONNECTIONS_PER_IP "connections-per-ip"
%token HARVEST "harvest"
%token BUDGET "budget"
%token PER "per"
%token TARPIT "tarpit"
%token BARE_NEWLINE "bare-newline"
%token RULE "rule"
%token DECISION "decision"
%token JOURNAL "journal"
%token BLOCK "block"
%token XDP "xdp"
%token TLS "tls"
%token METRICS "metrics"
%token MAX_AGE "max-age"
%token MAX_SHRINK "max-shrink"
%token SYNC_INTERVAL "sync-interval"
%token LOG "log"
%token LDAP "ldap"
%token OUTBOUND "outbound"
%token NL "end of line"
%token ERROR "invalid token"
%token <str> STRING "string"
%token <str> WORD "word"
%type <str> value optport rulename outword

%destructor { free($$); } <str>

%%

file		: /* empty */
		| file line
		;

line		: NL
		| stmt NL
		| error NL			{ yyerrok; }
		;

optnl		: /* empty */
		| optnl NL
		;

value		: STRING			{ $$ = $1; }
		| WORD				{ $$ = $1; }
		;

stmt		: HOSTNAME value {
			conf_set_str(ctx, @1.first_line, ctx->conf->hostname,
				sizeof(ctx->conf->hostname), $2, "hostname");
		}
		| LISTEN PORT value {
			uint32_t p = 0;

			conf_set_u32(ctx, @1.first_line, &p, $3, 1, 65535, "listen port");
			ctx->conf->smtp_port = (uint16_t) p;
		}
		| DATAPLANE SOCKET value {
			conf_set_str(ctx, @1.first_line, ctx->conf->dataplane_socket,
				sizeof(ctx->conf->dataplane_socket), $3, "dataplane socket");
		}
		| CONTROL SOCKET value {
			conf_set_str(ctx, @1.first_line, ctx->conf->control_socket,
				sizeof(ctx->conf->control_socket), $3, "control socket");
		}
		| DIRECTORY FILE_KW value {
			conf_add_str(ctx, @1.first_line, &ctx->conf->dir_files, $3, "directory file");
		}
		| METRICS LISTEN value {
			if (strcmp($3, "off") == 0) {
				ctx->conf->metrics_listen[0] = '\0';
				free($3);
			} else {
				conf_set_str(ctx, @1.first_line, ctx->conf->metrics_listen,
					sizeof(ctx->conf->metrics_listen), $3, "metrics listen");
			}
		}
		| DECISION LOG value {
			conf_set_str(ctx, @1.first_line, ctx->conf->decision_log,
				sizeof(ctx->conf->decision_log), $3, "decision log");
		}
		| DECISION JOURNAL value {
			if (strcmp($3, "yes") == 0 || strcmp($3, "on") == 0)
				ctx->conf->decision_journal = true;
			else if (strcmp($3, "no") == 0 || strcmp($3, "off") == 0)
				ctx->conf->decision_journal = false;
			else
				conf_parse_error(ctx, @1.first_line,
					"decision journal: '%s' is not yes or no", $3);
			free($3);
		}
		| DIRECTORY SYNC_INTERVAL value {
			conf_set_ms(ctx, @1.first_line, &ctx->conf->dir_sync_interval_ms, $3,
				"directory sync-interval");
		}
		| DIRECTORY MAX_AGE value {
			conf_set_ms(ctx, @1.first_line, &ctx->conf->dir_max_age_ms, $3,
				"directory max-age");
		}
		| DIRECTORY MAX_SHRINK value {
			size_t n = strlen($3);

			if (n > 0 && $3[n - 1] == '%')
				$3[n - 1] = '\0';
			conf_set_u32(ctx, @1.first_line, &ctx->conf->dir_max_shrink_pct, $3, 0, 100,
				"directory max-shrink (percent)");
		}
		| DIRECTORY SNAPSHOT value {
			conf_set_str(ctx, @1.first_line, ctx->conf->snapshot_path,
				sizeof(ctx->conf->snapshot_path), $3, "directory snapshot");
		}
		| DIRECTORY LDAP value { conf_ldap_begin(ctx, @1.first_line, $3); }
		  '{' optnl ldap_items '}'	{ conf_ldap_end(ctx, @1.first_line); }
		| DOMAIN value { conf_domain_begin(ctx, @1.first_line, $2); }
		  '{' optnl domain_items '}'	{ ctx->domain = NULL; }
		| RELAY NETWORK value		{ conf_add_net(ctx, @1.first_line, &ctx->conf->relay_nets, $3, "relay network"); }
		| RELAY NETWORK value value {
			/* 'external': the network's hosts reach us from the internet (a branch
			 * office, a partner): not refused as spoofed on the external port. */
			if (strcmp($4, "external") != 0) {
				conf_parse_error(ctx, @1.first_line,
					"relay network %s: '%s' is not external", $3, $4);
				free($3);
			} else {
				struct conf_net *last =
					TAILQ_LAST(&ctx->conf->relay_nets, conf_net_list);

				conf_add_net(ctx, @1.first_line, &ctx->conf->relay_nets, $3,
					"relay network");
				if (TAILQ_LAST(&ctx->conf->relay_nets, conf_net_list) != last)
					TAILQ_LAST(&ctx->conf->relay_nets, conf_net_list)->external = true;
			}
			free($4);
		}
		| BLOCK NETWORK value		{ conf_add_net(ctx, @1.first_line, &ctx->conf->blocked, $3, "block network"); }
		| NEVER_BOUNCE value {
			conf_add_str(ctx, @1.first_line, &ctx->conf->never_bounce, $2,
				"never-bounce address");
		}
		| BATV KEY value value		{ conf_add_batv_key(ctx, @1.first_line, $3, $4); }
		| LIMITS '{' optnl limit_items '}'
		| OUTBOUND {
			if (ctx->conf->out.enabled)
				conf_parse_error(ctx, @1.first_line, "outbound is defined twice");
			ctx->conf->out.enabled = true;
			ctx->conf->out.line = @1.first_line;
		  } '{' optnl out_items '}'
		| HARVEST BUDGET value PER value tarpit {
			conf_set_u32(ctx, @1.first_line, &ctx->conf->harvest_budget, $3, 1, 1000000,
				"harvest budget");
			conf_set_ms(ctx, @1.first_line, &ctx->conf->harvest_window_ms, $5,
				"harvest window");
		}
		| BARE_NEWLINE value {
			if (strcmp($2, "reject") == 0)
				ctx->conf->bare_newline = CONF_BARE_NL_REJECT;
			else if (strcmp($2, "normalize") == 0)
				ctx->conf->bare_newline = CONF_BARE_NL_NORMALIZE;
			else
				conf_parse_error(ctx, @1.first_line,
					"bare-newline: '%s' is not reject or normalize", $2);
			free($2);
		}
		| RULE rulename value		{ conf_set_rule(ctx, @1.first_line, $2, $3); }
		| TLS value value {
			char err[256];

			if (conf_tls_set(&ctx->conf->tls, $2, $3, err, sizeof(err)) != 0)
				conf_parse_error(ctx, @1.first_line, "%s", err);
			free($2);
			free($3);
		}
		| TLS value value KEY value {
			char err[256];

			if (strcmp($2, "certificate") != 0)
				conf_parse_error(ctx, @1.first_line,
					"tls %s ... key: did you mean 'tls certificate FILE key FILE'?",
					$2);
			else if (conf_tls_add_cert(&ctx->conf->tls, $3, $5, @1.first_line, err,
					 sizeof(err)) != 0)
				conf_parse_error(ctx, @1.first_line, "%s", err);
			free($2);
			free($3);
			free($5);
		}
		| XDP value value {
			char err[256];

			if (conf_xdp_set(&ctx->conf->xdp, $2, $3, err, sizeof(err)) != 0)
				conf_parse_error(ctx, @1.first_line, "%s", err);
			free($2);
			free($3);
		}
		;

tarpit		: /* empty */
		| TARPIT value {
			conf_set_ms(ctx, @1.first_line, &ctx->conf->harvest_tarpit_ms, $2,
				"harvest tarpit");
		}
		;

/* Block items are separated by newlines; the last may share the line of the '}'. */
domain_items	: /* empty */
		| domain_items_ne
		;

domain_items_ne	: domain_line
		| domain_items_ne NL
		| domain_items_ne NL domain_line
		;

optport		: /* empty */			{ $$ = NULL; }
		| PORT value			{ $$ = $2; }
		;

domain_line	: error				{ yyerrok; }
		| BACKEND value optport		{ conf_domain_backend(ctx, @1.first_line, $2, $3); }
		  backend_tls
		| BATV value {
			if (ctx->domain == NULL)
				;
			else if (strcmp($2, "require") == 0)
				ctx->domain->batv = CONF_BATV_REQUIRE;
			else if (strcmp($2, "off") == 0)
				ctx->domain->batv = CONF_BATV_OFF;
			else
				conf_parse_error(ctx, @1.first_line,
					"batv: '%s' is not require or off", $2);
			free($2);
		}
		;

/* 'tls MODE [setting value]...' after a backend: STARTTLS toward it (config_btls.c). */
backend_tls	: /* empty */
		| TLS btls_args {
			char err[256];

			if (conf_btls_end(&ctx->conf->btls, @1.first_line, err, sizeof(err)) != 0)
				conf_parse_error(ctx, @1.first_line, "%s", err);
		}
		;

btls_args	: /* empty */
		| btls_args value		{ conf_btls_arg(&ctx->conf->btls, $2); }
		;

/* directory ldap block: "key value..." lines, checked by lsrc_conf_item(). */
ldap_items	: /* empty */
		| ldap_items_ne
		;

ldap_items_ne	: ldap_line
		| ldap_items_ne NL
		| ldap_items_ne NL ldap_line
		;

ldap_line	: error				{ yyerrok; conf_ldap_item(ctx, @1.first_line, NULL); }
		| WORD ldap_args		{ conf_ldap_item(ctx, @1.first_line, $1); }
		;

ldap_args	: /* empty */
		| ldap_args value		{ conf_ldap_arg(ctx, @2.first_line, $2); }
		;

/* outbound block: "key value..." lines, checked by conf_out_item() (config_out.c). */
out_items	: /* empty */
		| out_items_ne
		;

out_items_ne	: out_line
		| out_items_ne NL
		| out_items_ne NL out_line
		;

out_line	: error				{ yyerrok; conf_out_line(ctx, @1.first_line, NULL); }
		| outword out_args		{ conf_out_line(ctx, @1.first_line, $1); }
		;

out_args	: /* empty */
		| out_args outword		{ conf_out_arg(ctx, @2.first_line, $2); }
		;

/* Keywords that are plain words inside the outbound block. */
outword		: value				{ $$ = $1; }
		| LISTEN			{ $$ = strdup("listen"); }
		| PORT				{ $$ = strdup("port"); }
		| NETWORK			{ $$ = strdup("network"); }
		| PER				{ $$ = strdup("per"); }
		| RECIPIENTS			{ $$ = strdup("recipients"); }
		| BATV				{ $$ = strdup("batv"); }
		| DOMAIN			{ $$ = strdup("domain"); }
		;

limit_items	: /* empty */
		| limit_items_ne
		;

limit_items_ne	: limit_line
		| limit_items_ne NL
		| limit_items_ne NL limit_line
		;

/* Rule names that are also keywords. */
rulename	: value				{ $$ = $1; }
		| RELAY				{ $$ = strdup("relay"); }
		| BATV				{ $$ = strdup("batv"); }
		| HARVEST			{ $$ = strdup("harvest"); }
		| NEVER_BOUNCE			{ $$ = strdup("never-bounce"); }
		;

limit_line	: error				{ yyerrok; }
		| RECIPIENTS value {
			conf_set_u32(ctx, @1.first_line, &ctx->conf->max_recipients, $2, 100, 100000,
				"recipients (RFC 5321 §4.5.3.1.8: at least 100)");
		}
		| MESSAGE_SIZE value {
			uint64_t v;

			if (conf_parse_size($2, &v) != 0 || v < 65536)
				conf_parse_error(ctx, @1.first_line,
					"message-size: '%s' is not a size of at least 64K", $2);
			else
				ctx->conf->max_message_size = v;
			free($2);
		}
		| ERRORS value {
			conf_set_u32(ctx, @1.first_line, &ctx->conf->max_errors, $2, 1, 1000, "errors");
		}
		| GREETING_DELAY value {
			conf_set_ms(ctx, @1.first_line, &ctx->conf->greeting_delay_ms, $2,
				"greeting-delay");
		}
		| TIMEOUT COMMAND value {
			conf_set_ms(ctx, @1.first_line, &ctx->conf->timeout_command_ms, $3,
				"timeout command");
		}
		| TIMEOUT BACKEND value {
			conf_set_ms(ctx, @1.first_line, &ctx->conf->timeout_backend_ms, $3,
				"timeout backend");
		}
		| TIMEOUT DATA value {
			conf_set_ms(ctx, @1.first_line, &ctx->conf->timeout_data_ms, $3, "timeout data");
		}
		| CONNECTIONS_PER_IP value {
			conf_set_u32(ctx, @1.first_line, &ctx->conf->max_conn_per_ip, $2, 1, 1000000,
				"connections-per-ip");
		}
		;

%%

void
conf_yyerror(CONF_YYLTYPE *lloc, void *scanner, struct conf_parse_ctx *ctx, const char *msg)
{
	(void) scanner;
	conf_parse_error(ctx, lloc->first_line, "%s", msg);
}

static void
conf_set_str(struct conf_parse_ctx *ctx, int line, char *dst, size_t size, char *v,
	const char *what)
{
	if (strlen(v) >= size || v[0] == '\0')
		conf_parse_error(ctx, line, "%s: empty or longer than %zu bytes", what, size - 1);
	else
		memcpy(dst, v, strlen(v) + 1);
	free(v);
}

static void
conf_set_u32(struct conf_parse_ctx *ctx, int line, uint32_t *dst, char *v, uint32_t min,
	uint32_t max, const char *what)
{
	char *end;
	unsigned long n;

	errno = 0;
	n = strtoul(v, &end, 10);
	if (errno != 0 || end == v || *end != '\0' || !isdigit((unsigned char) v[0]) || n < min ||
		n > max)
		conf_parse_error(ctx, line, "%s: '%s' is not a number from %u to %u", what, v, min,
			max);
	else
		*dst = (uint32_t) n;
	free(v);
}

static void
conf_set_ms(struct conf_parse_ctx *ctx, int line, uint32_t *dst, char *v, const char *what)
{
	if (conf_parse_duration(v, dst) != 0)
		conf_parse_error(ctx, line, "%s: '%s' is not a duration (e.g. 500ms, 2s, 5m, 1h)",
			what, v);
	free(v);
}

static void
conf_domain_begin(struct conf_parse_ctx *ctx, int line, char *name)
{
	struct conf_domain *d;
	size_t n = strlen(name);

	if (n > 0 && name[n - 1] == '.')
		name[--n] = '\0';
	if (n == 0 || n > CONF_NAME_MAX || strchr(name, '@') != NULL) {
		conf_parse_error(ctx, line, "domain: '%s' is not a domain name", name);
		free(name);
		return;
	}
	d = calloc(1, sizeof(*d));
	if (d == NULL) {
		conf_parse_error(ctx, line, "out of memory");
		free(name);
		return;
	}
	for (size_t i = 0; i <= n; i++)
		d->name[i] = (char) tolower((unsigned char) name[i]);
	d->line = line;
	TAILQ_INSERT_TAIL(&ctx->conf->domains, d, entry);
	ctx->domain = d;
	free(name);
}

static void
conf_domain_backend(struct conf_parse_ctx *ctx, int line, char *ip, char *port)
{
	struct conf_domain *d = ctx->domain;
	struct in_addr a;
	uint32_t p = 25;

	ctx->conf->btls.target = NULL; /* a 'tls' clause after an error belongs to nothing */
	if (port != NULL)
		conf_set_u32(ctx, line, &p, port, 1, 65535, "backend port");
	if (inet_pton(AF_INET, ip, &a) != 1)
		conf_parse_error(ctx, line, "backend: '%s' is not an IPv4 address", ip);
	else if (d != NULL && d->n_backends >= CONF_MAX_BACKENDS)
		conf_parse_error(ctx, line, "backend: more than %d for domain %s",
			CONF_MAX_BACKENDS, d->name);
	else if (d != NULL) {
		d->backends[d->n_backends].ip = a.s_addr;
		d->backends[d->n_backends].port = (uint16_t) p;
		d->backends[d->n_backends].tls = 0;
		ctx->conf->btls.target = &d->backends[d->n_backends].tls;
		d->n_backends++;
	}
	free(ip);
}

static void
conf_add_str(struct conf_parse_ctx *ctx, int line, struct conf_str_list *l, char *v,
	const char *what)
{
	struct conf_str *s;

	if (strlen(v) >= sizeof(s->s) || v[0] == '\0') {
		conf_parse_error(ctx, line, "%s: empty or too long", what);
		free(v);
		return;
	}
	s = calloc(1, sizeof(*s));
	if (s == NULL) {
		conf_parse_error(ctx, line, "out of memory");
		free(v);
		return;
	}
	memcpy(s->s, v, strlen(v) + 1);
	TAILQ_INSERT_TAIL(l, s, entry);
	free(v);
}

static void
conf_add_net(struct conf_parse_ctx *ctx, int line, struct conf_net_list *l, char *v,
	const char *what)
{
	struct conf_net *n = calloc(1, sizeof(*n));

	if (n == NULL || conf_parse_net(v, &n->ip, &n->plen) != 0) {
		conf_parse_error(ctx, line, "%s: '%s' is not A.B.C.D/LEN", what, v);
		free(n);
	} else {
		n->line = line;
		TAILQ_INSERT_TAIL(l, n, entry);
	}
	free(v);
}

static int
conf_hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = (char) tolower((unsigned char) c);
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

static void
conf_add_batv_key(struct conf_parse_ctx *ctx, int line, char *id, char *hex)
{
	struct conf_batv_key *k = calloc(1, sizeof(*k));
	size_t n = strlen(hex);

	if (k == NULL) {
		conf_parse_error(ctx, line, "out of memory");
		goto out;
	}
	/* draft-levine-smtp-batv: the key number is the single digit K of the tag. */
	if (strlen(id) != 1 || id[0] < '0' || id[0] > '9') {
		conf_parse_error(ctx, line, "batv key: '%s' is not a key number from 0 to 9", id);
		goto err;
	}
	for (struct conf_batv_key *o = TAILQ_FIRST(&ctx->conf->batv_keys); o != NULL;
		o = TAILQ_NEXT(o, entry)) {
		if (o->id == (unsigned int) (id[0] - '0')) {
			conf_parse_error(ctx, line, "batv key %s is defined twice", id);
			goto err;
		}
	}
	if (n < 32 || n > 2 * sizeof(k->key) || n % 2 != 0) {
		conf_parse_error(ctx, line, "batv key: secret must be 32 to %zu hex digits",
			2 * sizeof(k->key));
		goto err;
	}
	for (size_t i = 0; i < n; i += 2) {
		int hi = conf_hexval(hex[i]), lo = conf_hexval(hex[i + 1]);

		if (hi < 0 || lo < 0) {
			conf_parse_error(ctx, line, "batv key: secret is not hexadecimal");
			goto err;
		}
		k->key[i / 2] = (uint8_t) (hi << 4 | lo);
	}
	k->len = (unsigned int) (n / 2);
	k->id = (unsigned int) (id[0] - '0');
	TAILQ_INSERT_TAIL(&ctx->conf->batv_keys, k, entry);
	goto out;
err:
	free(k);
out:
	free(id);
	free(hex);
}

static void
conf_set_rule(struct conf_parse_ctx *ctx, int line, char *rule, char *mode)
{
	int r = -1, m = -1;

	if (rule == NULL) {
		conf_parse_error(ctx, line, "out of memory");
		free(mode);
		return;
	}
	for (int i = 0; i < CONF_RULE_MAX; i++)
		if (strcmp(rule, conf_rule_name((enum conf_rule) i)) == 0)
			r = i;
	for (int i = 0; i < CONF_MODE_MAX; i++)
		if (strcmp(mode, conf_mode_name((enum conf_mode) i)) == 0)
			m = i;
	if (r < 0)
		conf_parse_error(ctx, line, "rule: unknown rule '%s'", rule);
	else if (m < 0)
		conf_parse_error(ctx, line, "rule %s: mode '%s' is not enforce or observe", rule,
			mode);
	else
		ctx->conf->modes[r] = (enum conf_mode) m;
	free(rule);
	free(mode);
}

static void
conf_ldap_begin(struct conf_parse_ctx *ctx, int line, char *name)
{
	const char *why;

	ctx->ldap = lsrc_conf_new(name, line, &why);
	if (ctx->ldap == NULL)
		conf_parse_error(ctx, line, "directory ldap: '%s': %s", name, why);
	free(name);
}

static void
conf_ldap_end(struct conf_parse_ctx *ctx, int line)
{
	char err[512];

	if (ctx->ldap == NULL)
		return;
	if (lsrc_conf_check(ctx->ldap, err, sizeof(err)) != 0) {
		conf_parse_error(ctx, line, "%s", err);
		free(ctx->ldap);
	} else {
		TAILQ_INSERT_TAIL(&ctx->conf->ldap_sources, ctx->ldap, entry);
	}
	ctx->ldap = NULL;
}

static void
conf_ldap_arg(struct conf_parse_ctx *ctx, int line, char *v)
{
	if (ctx->ldap_nargs >= (int) (sizeof(ctx->ldap_args) / sizeof(ctx->ldap_args[0]))) {
		conf_parse_error(ctx, line, "directory ldap: too many values on one line");
		free(v);
		return;
	}
	ctx->ldap_args[ctx->ldap_nargs++] = v;
}

static void
conf_ldap_item(struct conf_parse_ctx *ctx, int line, char *key)
{
	char err[512];

	if (ctx->ldap != NULL && key != NULL &&
		lsrc_conf_item(ctx->ldap, key, ctx->ldap_args, ctx->ldap_nargs, err, sizeof(err)) != 0)
		conf_parse_error(ctx, line, "directory ldap %s: %s", ctx->ldap->name, err);
	for (int i = 0; i < ctx->ldap_nargs; i++)
		free(ctx->ldap_args[i]);
	ctx->ldap_nargs = 0;
	free(key);
}

static void
conf_out_arg(struct conf_parse_ctx *ctx, int line, char *v)
{
	if (v == NULL) {
		conf_parse_error(ctx, line, "out of memory");
		return;
	}
	if (ctx->ldap_nargs >= (int) (sizeof(ctx->ldap_args) / sizeof(ctx->ldap_args[0]))) {
		conf_parse_error(ctx, line, "outbound: too many values on one line");
		free(v);
		return;
	}
	ctx->ldap_args[ctx->ldap_nargs++] = v;
}

static void
conf_out_line(struct conf_parse_ctx *ctx, int line, char *key)
{
	char err[512];

	if (key != NULL && conf_out_item(&ctx->conf->out, key, ctx->ldap_args, ctx->ldap_nargs,
				   err, sizeof(err)) != 0)
		conf_parse_error(ctx, line, "outbound %s", err);
	for (int i = 0; i < ctx->ldap_nargs; i++)
		free(ctx->ldap_args[i]);
	ctx->ldap_nargs = 0;
	free(key);
}
