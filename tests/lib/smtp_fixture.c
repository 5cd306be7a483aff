/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Fixture implementation: capture callbacks, fake backend MTA (answers every complete command
 * line at once, like a pipelining server), directive parser. Single-threaded test code; the
 * caller registers the thread with urcu-qsbr.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <urcu/urcu-qsbr.h>

#include "smtp_fixture.h"
#include "ndg_common.h"

void
fix_buf_add(struct fix_buf *b, const void *p, size_t n)
{
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 256;

		while (cap < b->len + n + 1)
			cap *= 2;
		b->p = realloc(b->p, cap);
		if (b->p == NULL)
			abort();
		b->cap = cap;
	}
	if (n != 0)
		memcpy(b->p + b->len, p, n);
	b->len += n;
	b->p[b->len] = '\0';
}

static void
fix_buf_str(struct fix_buf *b, const char *s)
{
	fix_buf_add(b, s, strlen(s));
}

void
fix_buf_consume(struct fix_buf *b, size_t n)
{
	if (n >= b->len) {
		b->len = 0;
	} else {
		memmove(b->p, b->p + n, b->len - n);
		b->len -= n;
	}
	if (b->p != NULL)
		b->p[b->len] = '\0';
}

void
fix_render(struct fix_buf *out, const char *p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char) p[i];
		char e[8];

		if (c == '\r' && i + 1 < n && p[i + 1] == '\n') {
			fix_buf_add(out, "\n", 1);
			i++;
		} else if (c == '\r') {
			fix_buf_str(out, "\\r");
		} else if (c == '\n') {
			fix_buf_str(out, "\\n");
		} else if (c == '\0') {
			fix_buf_str(out, "\\0");
		} else if (c == '\\') {
			fix_buf_str(out, "\\\\");
		} else if (c < 32 || c > 126) {
			(void) snprintf(e, sizeof(e), "\\x%02x", c);
			fix_buf_str(out, e);
		} else {
			fix_buf_add(out, &p[i], 1);
		}
	}
}

/* ---- fake backend ---- */

static void
fix_be_reply(struct fix *f, const char *s)
{
	fix_buf_add(&f->to_engine, s, strlen(s));
}

static bool
fix_be_verb(const char *line, const char *verb)
{
	return strncasecmp(line, verb, strlen(verb)) == 0;
}

static void
fix_be_line(struct fix *f, const char *line)
{
	struct fix_backend *b = &f->be;
	char buf[SMTP_ADDR_BUF + 128];

	if (b->in_data) {
		if (strcmp(line, ".") == 0) {
			b->in_data = false;
			if (b->drop[0] == '.') {
				b->dropped = true;
				return;
			}
			if (b->silent[0] == '.')
				return;
			fix_be_reply(f, b->final);
		}
		return;
	}
	if (b->drop[0] != '\0' && fix_be_verb(line, b->drop)) {
		b->dropped = true;
		return;
	}
	if (b->silent[0] != '\0' && fix_be_verb(line, b->silent))
		return;
	if (fix_be_verb(line, "EHLO")) {
		if (b->no_ehlo)
			fix_be_reply(f, "502 5.5.1 EHLO not supported\r\n");
		else if (b->no_pipelining)
			fix_be_reply(f,
				"250-backend.test\r\n250-SIZE 10000000\r\n250 8BITMIME\r\n");
		else
			fix_be_reply(f,
				"250-backend.test\r\n250-PIPELINING\r\n250-SIZE 10000000\r\n"
				"250-8BITMIME\r\n250 ENHANCEDSTATUSCODES\r\n");
	} else if (fix_be_verb(line, "HELO")) {
		fix_be_reply(f, "250 backend.test\r\n");
	} else if (fix_be_verb(line, "MAIL")) {
		fix_be_reply(f, b->reject_mail ? "553 5.7.1 Sender rejected by backend\r\n"
					       : "250 2.1.0 Ok\r\n");
	} else if (fix_be_verb(line, "RCPT")) {
		for (unsigned int i = 0; i < b->n_reject_rcpt; i++) {
			if (strstr(line, b->reject_rcpt[i]) != NULL) {
				(void) snprintf(buf, sizeof(buf),
					"550-5.1.1 <%s>: Recipient address rejected:\r\n"
					"550 5.1.1 backend says no\r\n",
					b->reject_rcpt[i]);
				fix_be_reply(f, buf);
				return;
			}
		}
		fix_be_reply(f, b->reject_mail ? "503 5.5.1 Need MAIL\r\n" : "250 2.1.5 Ok\r\n");
	} else if (fix_be_verb(line, "DATA")) {
		fix_be_reply(f, "354 End data with <CR><LF>.<CR><LF>\r\n");
		b->in_data = true;
	} else if (fix_be_verb(line, "RSET")) {
		fix_be_reply(f, "250 2.0.0 Ok\r\n");
	} else if (fix_be_verb(line, "QUIT")) {
		fix_be_reply(f, "221 2.0.0 Bye\r\n");
	} else {
		fix_be_reply(f, "502 5.5.2 Error: command not recognized\r\n");
	}
}

static void
fix_ops_backend_send(void *arg, const char *p, size_t n)
{
	struct fix *f = arg;
	struct fix_backend *b = &f->be;

	fix_render(&f->backend, p, n);
	if (f->keep_raw)
		fix_buf_add(&f->backend_raw, p, n);
	if (!b->open || b->dropped)
		return;
	for (size_t i = 0; i < n; i++) {
		fix_buf_add(&b->line, &p[i], 1);
		if (b->line.len >= 2 && b->line.p[b->line.len - 2] == '\r' &&
			b->line.p[b->line.len - 1] == '\n') {
			b->line.p[b->line.len - 2] = '\0';
			fix_be_line(f, b->line.p);
			fix_buf_consume(&b->line, b->line.len);
		}
	}
}

static void *
fix_ops_blk_get(void *arg, uint8_t kind)
{
	struct fix *f = arg;

	return smtp_blk_heap_get(&f->heap, kind);
}

static void
fix_ops_blk_put(void *arg, uint8_t kind, void *blk)
{
	struct fix *f = arg;

	smtp_blk_heap_put(&f->heap, kind, blk);
}

static int
fix_ops_backend_open(void *arg)
{
	struct fix *f = arg;
	char g[64];

	fix_buf_str(&f->client, "~backend-open\n");
	if (f->be.down)
		return -ECONNREFUSED;
	f->be.open = true;
	f->be.in_data = false;
	f->be.dropped = false;
	fix_buf_consume(&f->be.line, f->be.line.len);
	(void) snprintf(g, sizeof(g), "%u backend.test ESMTP\r\n", f->be.greeting);
	fix_be_reply(f, g);
	return 0;
}

size_t
fix_backend_feed(struct fix *f, size_t *offered)
{
	struct fix_buf b = {0};
	size_t used;

	fix_buf_add(&b, f->to_engine.p, f->to_engine.len);
	fix_buf_consume(&f->to_engine, f->to_engine.len);
	used = smtp_session_backend_feed(&f->s, f->now, b.p, b.len);
	if (offered != NULL)
		*offered = b.len;
	free(b.p);
	return used;
}

static void
fix_ops_backend_close(void *arg)
{
	struct fix *f = arg;

	fix_buf_str(&f->client, "~backend-close\n");
	fix_buf_str(&f->backend, "~close\n");
	f->be.open = false;
	fix_buf_consume(&f->to_engine, f->to_engine.len);
}

static void
fix_ops_reply(void *arg, const char *p, size_t n)
{
	struct fix *f = arg;

	fix_render(&f->client, p, n);
}

static void
fix_ops_close(void *arg)
{
	struct fix *f = arg;

	fix_buf_str(&f->client, "~close\n");
	f->closed = true;
}

static void
fix_ops_decision(void *arg, const struct policy_decision *d)
{
	static const char *const out[] = {"accept", "reject", "observe"};
	struct fix *f = arg;
	char buf[1024];

	(void) snprintf(buf, sizeof(buf), "%s %s %u %s from=<%s> rcpt=%s helo=%s\n",
		policy_rule_name((enum policy_rule) d->rule), out[d->outcome], d->code, d->enh,
		d->sender, d->rcpt[0] ? d->rcpt : "-", d->helo[0] ? d->helo : "-");
	fix_render(&f->decisions, buf, strlen(buf) - 1);
	fix_buf_add(&f->decisions, "\n", 1);
}

int
fix_init(struct fix *f, struct rcpt_tbl *shared_dir)
{
	struct rcpt_key key = {0x0706050403020100ULL, 0x0f0e0d0c0b0a0908ULL};
	static const char *const users[] = {
		"alice@example.test",
		"bob@example.test",
		"carol@example.test",
		"noreply@example.test",
		"@catchall.test",
	};

	memset(f, 0, sizeof(*f));
	smtp_conf_init(&f->conf, "mx.example.test");
	f->conf.max_size = 10000000;
	policy_init(&f->pol);
	f->dir_shared = shared_dir != NULL;
	f->dir = shared_dir != NULL ? shared_dir : rcpt_tbl_create(&key);
	if (f->dir == NULL)
		return -ENOMEM;
	f->pol.dir = f->dir;
	if (policy_domain_add(&f->pol, "example.test", false, false) < 0 ||
		policy_domain_add(&f->pol, "catchall.test", false, false) < 0 ||
		policy_domain_add(&f->pol, "wild.test", true, false) < 0)
		return -ENOMEM;
	for (size_t i = 0; i < NDG_ARRAY_SIZE(users); i++)
		fix_buf_add(&f->dir_add, users[i], strlen(users[i]) + 1);
	f->ops.reply = fix_ops_reply;
	f->ops.close = fix_ops_close;
	f->ops.backend_open = fix_ops_backend_open;
	f->ops.backend_send = fix_ops_backend_send;
	f->ops.backend_close = fix_ops_backend_close;
	f->ops.decision = fix_ops_decision;
	f->ops.blk_get = fix_ops_blk_get;
	f->ops.blk_put = fix_ops_blk_put;
	f->peer.family = 4;
	inet_pton(AF_INET, "198.18.1.1", f->peer.addr);
	f->peer_conns = 1;
	f->now = FIX_EPOCH_MS;
	f->be.greeting = 220;
	(void) snprintf(f->be.final, sizeof(f->be.final), "250 2.0.0 Ok: queued as 4F2A\r\n");
	return 0;
}

void
fix_fini(struct fix *f)
{
	if (f->started)
		smtp_session_fini(&f->s);
	smtp_blk_heap_fini(&f->heap);
	policy_fini(&f->pol);
	if (f->out_on) {
		out_conf_fini(&f->out);
		out_buckets_fini(&f->out_b);
	}
	if (!f->dir_shared) {
		/* Snapshots replaced during the test are freed by call_rcu: wait for them. */
		urcu_qsbr_barrier();
		rcpt_tbl_destroy(f->dir);
	}
	free(f->client.p);
	free(f->backend.p);
	free(f->backend_raw.p);
	free(f->decisions.p);
	free(f->to_engine.p);
	free(f->dir_add.p);
	free(f->be.line.p);
}

int
fix_start(struct fix *f)
{
	if (f->started)
		return 0;
	f->started = true;
	if (f->dir_shared)
		goto session;
	if (rcpt_tbl_snapshot_begin(f->dir, 16) < 0)
		return -ENOMEM;
	for (size_t off = 0; off < f->dir_add.len;) {
		const char *a = f->dir_add.p + off;
		size_t n = strlen(a);
		struct rcpt_digest d;

		rcpt_digest_compute(&f->dir->key, a, n, &d);
		if (rcpt_tbl_snapshot_add(f->dir, &d) < 0)
			return -ENOMEM;
		off += n + 1;
	}
	if (rcpt_tbl_snapshot_commit(f->dir) < 0)
		return -EINVAL;
	rcpt_tbl_set_stale(f->dir, f->dir_stale);
session:
	smtp_session_init(&f->s, &f->conf, &f->ops, f, &f->pol, &f->stats, &f->peer);
	if (f->out_on)
		smtp_out_session_set(&f->s, &f->out, f->out_backend);
	smtp_session_start(&f->s, f->now, f->peer_conns);
	return 0;
}

static int
fix_rule_by_name(const char *name)
{
	for (int r = 0; r < POLICY_RULE_MAX; r++)
		if (strcmp(policy_rule_name((enum policy_rule) r), name) == 0)
			return r;
	return -1;
}

static int
fix_u64(const char *s, uint64_t *out)
{
	char *end;

	errno = 0;
	*out = strtoull(s, &end, 10);
	return (errno != 0 || end == s || *end != '\0') ? -EINVAL : 0;
}

int
fix_directive(struct fix *f, const char *line)
{
	char a[256] = "", b[256] = "", c[256] = "", d[256] = "";
	uint64_t v = 0;
	int n = sscanf(line, "%255s %255s %255s %255s", a, b, c, d);

	if (n < 1)
		return 1;
	if (strcmp(a, "set") == 0 && n >= 3) {
		if (strcmp(b, "bare_mode") == 0) {
			f->conf.bare_mode = strcmp(c, "normalize") == 0 ? SMTP_BARE_NORMALIZE
									: SMTP_BARE_REJECT;
			return 0;
		}
		if (fix_u64(c, &v) < 0)
			return -EINVAL;
		if (strcmp(b, "greet_delay_ms") == 0)
			f->conf.greet_delay_ms = (uint32_t) v;
		else if (strcmp(b, "max_size") == 0)
			f->conf.max_size = v;
		else if (strcmp(b, "max_rcpt") == 0)
			f->conf.max_rcpt = (uint32_t) v;
		else if (strcmp(b, "max_errors") == 0)
			f->conf.max_errors = (uint32_t) v;
		else if (strcmp(b, "max_junk") == 0)
			f->conf.max_junk = (uint32_t) v;
		else if (strcmp(b, "proxy") == 0)
			f->conf.proxy = v != 0;
		else if (strcmp(b, "timeout_cmd_ms") == 0)
			f->conf.timeout_cmd_ms = (uint32_t) v;
		else if (strcmp(b, "timeout_backend_ms") == 0)
			f->conf.timeout_backend_ms = (uint32_t) v;
		else
			return -EINVAL;
		return 0;
	}
	if (strcmp(a, "blocks") == 0 && n >= 3) {
		for (int k = 0; k < SMTP_BLK_MAX; k++) {
			if (strcmp(b, smtp_blk_name((enum smtp_blk_kind) k)) == 0) {
				if (fix_u64(c, &v) < 0)
					return -EINVAL;
				f->heap.limit[k] = (uint32_t) v;
				f->heap.capped[k] = true;
				return 0;
			}
		}
		return -EINVAL;
	}
	if (strcmp(a, "peer") == 0 && n >= 2) {
		return inet_pton(AF_INET, b, f->peer.addr) == 1 ? 0 : -EINVAL;
	}
	if (strcmp(a, "conns") == 0 && n >= 2) {
		if (fix_u64(b, &v) < 0)
			return -EINVAL;
		f->peer_conns = (uint32_t) v;
		return 0;
	}
	if (strcmp(a, "policy") == 0 && n >= 3) {
		if (strcmp(b, "domain") == 0)
			return policy_domain_add(&f->pol, c, strcmp(d, "catch_all") == 0,
				strcmp(d, "batv") == 0);
		if (strcmp(b, "relay") == 0)
			return policy_cidr_add(&f->pol, c, true);
		if (strcmp(b, "block") == 0)
			return policy_cidr_add(&f->pol, c, false);
		if (strcmp(b, "dir") == 0) {
			fix_buf_add(&f->dir_add, c, strlen(c) + 1);
			return 0;
		}
		if (strcmp(b, "never_bounce") == 0)
			return policy_addr_add(&f->pol, c, true);
		if (strcmp(b, "batv_addr") == 0)
			return policy_addr_add(&f->pol, c, false);
		if (strcmp(b, "batv_key") == 0 && n >= 4) {
			if (fix_u64(c, &v) < 0)
				return -EINVAL;
			f->pol.batv.sign_id = (uint8_t) v;
			return policy_batv_key_set(&f->pol, (unsigned int) v, d, strlen(d));
		}
		if (strcmp(b, "batv_all") == 0) {
			f->pol.batv_all = strcmp(c, "1") == 0;
			return 0;
		}
		if (strcmp(b, "max_conn") == 0) {
			if (fix_u64(c, &v) < 0)
				return -EINVAL;
			f->pol.max_conn_per_ip = (uint32_t) v;
			return 0;
		}
		if (strcmp(b, "stale") == 0) {
			f->dir_stale = strcmp(c, "1") == 0;
			return 0;
		}
		if (strcmp(b, "mode") == 0 && n >= 4) {
			int r = fix_rule_by_name(c);

			if (r < 0)
				return -EINVAL;
			f->pol.mode[r] =
				strcmp(d, "observe") == 0 ? POLICY_OBSERVE : POLICY_ENFORCE;
			return 0;
		}
		if (strcmp(b, "harvest") == 0 && n >= 4) {
			uint64_t nb;

			if (fix_u64(c, &v) < 0 || fix_u64(d, &nb) < 0)
				return -EINVAL;
			f->pol.harvest.budget_host = (uint32_t) v;
			f->pol.harvest.budget_net = (uint32_t) nb;
			return policy_harvest_init(&f->pol.harvest, 10, 11, 22);
		}
		return -EINVAL;
	}
	if (strcmp(a, "out") == 0 && n >= 2) {
		static const char *const kinds[OUT_B_MAX] = {"sender_msg", "sender_rcpt",
			"host_msg", "host_rcpt", "ndr_domain", "ndr_total"};

		if (!f->out_on) {
			out_conf_init(&f->out);
			if (out_buckets_init(&f->out_b, 8, 33, 44) != 0)
				return -ENOMEM;
			f->out.buckets = &f->out_b;
			f->out.enabled = true;
			f->out_on = true;
		}
		if (strcmp(b, "on") == 0)
			return 0;
		if (strcmp(b, "backend") == 0) {
			f->out_backend = true;
			return 0;
		}
		if (strcmp(b, "net") == 0 && n >= 3)
			return out_conf_add_net(&f->out, c);
		if (strcmp(b, "exempt") == 0 && n >= 3)
			return out_conf_add_exempt(&f->out, c);
		if (strcmp(b, "sign") == 0 && n >= 3) {
			f->out.batv_sign = strcmp(c, "1") == 0;
			return 0;
		}
		if (strcmp(b, "ndr") == 0 && n >= 3) {
			if (strcmp(c, "refuse") == 0)
				f->out.ndr_mode = OUT_NDR_REFUSE;
			else if (strcmp(c, "tempfail") == 0)
				f->out.ndr_tempfail = true;
			else
				return -EINVAL;
			return 0;
		}
		if (strcmp(b, "rate") == 0 && n >= 3) {
			unsigned int cnt, per, burst;

			if (sscanf(line, "%*s %*s %*s %u %u %u", &cnt, &per, &burst) != 3)
				return -EINVAL;
			for (int k = 0; k < OUT_B_MAX; k++)
				if (strcmp(c, kinds[k]) == 0)
					return out_rate_set(&f->out.rate[k], cnt, per, burst);
		}
		return -EINVAL;
	}
	if (strcmp(a, "backend") == 0 && n >= 2) {
		if (strcmp(b, "down") == 0)
			f->be.down = true;
		else if (strcmp(b, "no_pipelining") == 0)
			f->be.no_pipelining = true;
		else if (strcmp(b, "no_ehlo") == 0)
			f->be.no_ehlo = true;
		else if (strcmp(b, "reject_mail") == 0)
			f->be.reject_mail = true;
		else if (strcmp(b, "greeting") == 0 && fix_u64(c, &v) == 0)
			f->be.greeting = (uint16_t) v;
		else if (strcmp(b, "reject_rcpt") == 0 && n >= 3 && f->be.n_reject_rcpt < 8)
			(void) snprintf(f->be.reject_rcpt[f->be.n_reject_rcpt++], SMTP_ADDR_BUF,
				"%s", c);
		else if (strcmp(b, "silent") == 0 && n >= 3)
			(void) snprintf(f->be.silent, sizeof(f->be.silent), "%s", c);
		else if (strcmp(b, "drop") == 0 && n >= 3)
			(void) snprintf(f->be.drop, sizeof(f->be.drop), "%s", c);
		else if (strcmp(b, "final") == 0 && n >= 3)
			(void) snprintf(f->be.final, sizeof(f->be.final), "%s\r\n",
				line + (strstr(line, "final") - line) + 6);
		else
			return -EINVAL;
		return 0;
	}
	return 1;
}

static int
fix_hex(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int
fix_unescape(struct fix *f, const char *s, struct fix_buf *out)
{
	for (size_t i = 0; s[i] != '\0'; i++) {
		char c = s[i];

		if (c == '$' && strncmp(s + i, "${batv:", 7) == 0) {
			const char *e = strchr(s + i, '}');
			char tag[SMTP_ADDR_BUF + 32];
			int r;

			if (e == NULL)
				return -EINVAL;
			r = batv_sign(&f->pol.batv, s + i + 7, (size_t) (e - s - i - 7), f->now,
				tag, sizeof(tag));
			if (r < 0)
				return -EINVAL;
			fix_buf_add(out, tag, (size_t) r);
			i = (size_t) (e - s);
			continue;
		}
		if (c != '\\') {
			fix_buf_add(out, &c, 1);
			continue;
		}
		c = s[++i];
		switch (c) {
		case 'r':
			fix_buf_add(out, "\r", 1);
			break;
		case 'n':
			fix_buf_add(out, "\n", 1);
			break;
		case 't':
			fix_buf_add(out, "\t", 1);
			break;
		case '0':
			fix_buf_add(out, "", 1);
			break;
		case '\\':
			fix_buf_add(out, "\\", 1);
			break;
		case 'x': {
			int h = fix_hex(s[i + 1]), l = h >= 0 ? fix_hex(s[i + 2]) : -1;
			char x;

			if (h < 0 || l < 0)
				return -EINVAL;
			x = (char) (h * 16 + l);
			fix_buf_add(out, &x, 1);
			i += 2;
			break;
		}
		default:
			return -EINVAL;
		}
	}
	return 0;
}
