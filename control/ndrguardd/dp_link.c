/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The link to ndrguard-dataplane's control socket: HELLO, then CONFIG and the directory only
 * when the dataplane's generations differ from ours (a restarted daemon with the same data
 * pushes nothing), and STATS on demand. The dataplane keeps serving with what it has whenever
 * this link is down. Main thread only.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ctl_io.h"
#include "log.h"
#include "ndrguardd.h"
#include "obs.h"
#include "xdp.h"

#define DP_TIMEOUT_MS 5000  /* any single answer from the dataplane */
#define DP_BATCH      60000 /* bytes of addresses per DIR_ADD frame */

/* Copy <src> into <dst> of <size> bytes, truncating; always NUL-terminated. */
static void
dp_copy_str(char *dst, size_t size, const char *src)
{
	size_t n = strnlen(src, size - 1);

	memcpy(dst, src, n);
	dst[n] = '\0';
}

void
ctld_dp_close(struct ctld *d)
{
	if (d->dp_log_fd >= 0) {
		close(d->dp_log_fd);
		d->dp_log_fd = -1;
	}
	if (d->dp_fd >= 0) {
		close(d->dp_fd);
		log_info("dataplane link closed; it keeps serving with what it has");
	}
	d->dp_fd = -1;
	d->dp_next_try = time(NULL) + 1;
}

static uint64_t
dp_fnv(const void *p, size_t n)
{
	const unsigned char *b = p;
	uint64_t h = 0xcbf29ce484222325ull;

	for (size_t i = 0; i < n; i++)
		h = (h ^ b[i]) * 0x100000001b3ull;
	return h ? h : 1;
}

/* Serialise the configuration in force as the CONFIG payload (ctl_proto-t.h). */
static void *
dp_config_payload(const struct ctld *d, size_t *len)
{
	const struct ndg_conf *c = d->conf;
	const struct conf_domain *dom;
	const struct conf_net *net;
	const struct conf_str *s;
	const struct conf_batv_key *k;
	struct ctl_config *h;
	size_t nd = 0, nn = 0, nb = 0, nk = 0, nblk = d->blocks.n, size;
	char *p;

	TAILQ_FOREACH (dom, &c->domains, entry)
		nd++;
	TAILQ_FOREACH (net, &c->relay_nets, entry)
		nn++;
	TAILQ_FOREACH (s, &c->never_bounce, entry)
		nb++;
	TAILQ_FOREACH (net, &c->blocked, entry)
		nblk++;
	TAILQ_FOREACH (k, &c->batv_keys, entry)
		nk++;
	size = sizeof(*h) + nd * sizeof(struct ctl_config_domain) +
	       (nn + nblk) * sizeof(struct ctl_config_net) + nb * sizeof(struct ctl_config_addr) +
	       nk * sizeof(struct ctl_config_batv_key) + conf_out_payload_size(&c->out);
	for (unsigned int i = 0; i < c->tls.n_certs; i++)
		size += sizeof(struct ctl_config_tls_cert) + c->tls.certs[i].cert_len +
			c->tls.certs[i].key_len;
	for (unsigned int i = 0; i < c->btls.n; i++)
		size += sizeof(struct ctl_config_backend_tls) + c->btls.p[i].ca_len;
	h = calloc(1, size);
	if (h == NULL)
		return NULL;
	h->smtp_port = c->smtp_port;
	h->max_recipients = c->max_recipients;
	h->max_message_size = c->max_message_size;
	h->max_errors = c->max_errors;
	h->greeting_delay_ms = c->greeting_delay_ms;
	h->timeout_command_ms = c->timeout_command_ms;
	h->timeout_data_ms = c->timeout_data_ms;
	h->timeout_backend_ms = c->timeout_backend_ms;
	h->max_conn_per_ip = c->max_conn_per_ip;
	h->harvest_budget = c->harvest_budget;
	h->harvest_window_ms = c->harvest_window_ms;
	h->harvest_tarpit_ms = c->harvest_tarpit_ms;
	h->bare_newline = c->bare_newline;
	h->n_domains = (uint32_t) nd;
	h->n_relay_nets = (uint32_t) nn;
	h->n_never_bounce = (uint32_t) nb;
	h->n_batv_keys = (uint32_t) nk;
	h->n_blocked = (uint32_t) nblk;
	_Static_assert((int) CONF_RULE_MAX == (int) CTL_RULE_MAX, "rule lists differ");
	_Static_assert(CTL_RULE_MAX <= CTL_CONFIG_RULES, "modes[] too small");
	for (int r = 0; r < CONF_RULE_MAX; r++)
		h->modes[r] = (uint8_t) c->modes[r];
	dp_copy_str(h->hostname, sizeof(h->hostname), c->hostname);
	_Static_assert(CONF_TLS_CERTS <= CTL_TLS_CERTS_MAX, "too many certificates");
	_Static_assert(CONF_TLS_PEM_MAX <= CTL_TLS_PEM_MAX, "PEM limit");
	h->tls_n_certs = c->tls.n_certs;
	h->tls_min_version = c->tls.min_version;
	h->tls_handshake_timeout_ms = c->tls.handshake_timeout_ms;
	h->tls_rate = c->tls.rate;
	h->tls_burst = c->tls.burst;
	h->tls_src_rate = c->tls.src_rate;
	h->tls_src_burst = c->tls.src_burst;
	dp_copy_str(h->tls_ciphers, sizeof(h->tls_ciphers), c->tls.ciphers);
	dp_copy_str(h->tls_ciphersuites, sizeof(h->tls_ciphersuites), c->tls.ciphersuites);
	_Static_assert(CONF_BTLS_MAX <= CTL_CONFIG_BACKEND_TLS_MAX,
		"too many backend TLS policies");
	_Static_assert((int) CONF_BTLS_ENCRYPT == 2 && (int) CONF_BTLS_NONE == 0, "TLS modes");
	h->n_backend_tls = c->btls.n;
	p = (char *) (h + 1);
	TAILQ_FOREACH (dom, &c->domains, entry) {
		struct ctl_config_domain *o = (struct ctl_config_domain *) p;

		dp_copy_str(o->name, sizeof(o->name), dom->name);
		o->batv = dom->batv;
		o->n_backends = dom->n_backends;
		for (unsigned int i = 0; i < dom->n_backends && i < CTL_CONFIG_BACKENDS; i++) {
			o->backends[i].ip = dom->backends[i].ip;
			o->backends[i].port = dom->backends[i].port;
			o->backends[i].tls = dom->backends[i].tls;
		}
		p += sizeof(*o);
	}
	TAILQ_FOREACH (net, &c->relay_nets, entry) {
		struct ctl_config_net *o = (struct ctl_config_net *) p;

		o->ip = net->ip;
		o->plen = net->plen;
		o->flags = net->external ? CTL_NET_F_EXTERNAL : 0;
		p += sizeof(*o);
	}
	TAILQ_FOREACH (net, &c->blocked, entry) {
		struct ctl_config_net *o = (struct ctl_config_net *) p;

		o->ip = net->ip;
		o->plen = net->plen;
		p += sizeof(*o);
	}
	for (size_t i = 0; i < d->blocks.n; i++) {
		struct ctl_config_net *o = (struct ctl_config_net *) p;
		uint32_t ip = 0;
		uint8_t plen = 32;

		(void) conf_parse_net(d->blocks.v[i], &ip, &plen); /* checked when added */
		o->ip = ip;
		o->plen = plen;
		p += sizeof(*o);
	}
	TAILQ_FOREACH (s, &c->never_bounce, entry) {
		struct ctl_config_addr *o = (struct ctl_config_addr *) p;
		const char *why;
		char norm[DIR_ADDR_MAX + 1];

		if (dir_addr_normalize(s->s, false, norm, &why) != 0)
			dp_copy_str(norm, sizeof(norm), s->s);
		dp_copy_str(o->addr, sizeof(o->addr), norm);
		p += sizeof(*o);
	}
	TAILQ_FOREACH (k, &c->batv_keys, entry) {
		struct ctl_config_batv_key *o = (struct ctl_config_batv_key *) p;

		o->id = k->id;
		memcpy(o->key, k->key, k->len);
		o->len = k->len;
		p += sizeof(*o);
	}
	/* Backend TLS policies, the certificates of STARTTLS, then the optional outbound
	 * section (the last). */
	for (unsigned int i = 0; i < c->btls.n; i++) {
		const struct conf_btls_policy *bp = &c->btls.p[i];
		struct ctl_config_backend_tls o = {
			.mode = bp->mode,
			.verify = bp->verify,
			.min_version = bp->min_version,
			.ca_len = (uint32_t) bp->ca_len,
		};

		dp_copy_str(o.name, sizeof(o.name), bp->name);
		memcpy(p, &o, sizeof(o));
		p += sizeof(o);
		if (bp->ca_len != 0)
			memcpy(p, bp->ca_pem, bp->ca_len);
		p += bp->ca_len;
	}
	for (unsigned int i = 0; i < c->tls.n_certs; i++) {
		const struct conf_tls_cert *tc = &c->tls.certs[i];
		struct ctl_config_tls_cert o = {
			.cert_len = (uint32_t) tc->cert_len,
			.key_len = (uint32_t) tc->key_len,
		};

		memcpy(p, &o, sizeof(o));
		p += sizeof(o);
		memcpy(p, tc->cert_pem, tc->cert_len);
		p += tc->cert_len;
		memcpy(p, tc->key_pem, tc->key_len);
		p += tc->key_len;
	}
	if (c->out.enabled)
		conf_out_payload(&c->out, p);
	*len = size;
	return h;
}

/* Send a request and wait for its REPLY; <out> gets the reply payload. */
static ssize_t
dp_request(struct ctld *d, uint16_t type, const void *payload, size_t len, void *out,
	size_t outsize)
{
	struct ctl_msg_hdr h;
	uint32_t seq = ++d->dp_seq;
	ssize_t n;
	int ret;

	ret = ctl_send(d->dp_fd, type, seq, 0, payload, len);
	if (ret != 0)
		return ret;
	n = ctl_recv(d->dp_fd, &h, out, outsize, DP_TIMEOUT_MS);
	if (n < 0)
		return n;
	if (h.seq != seq || !(h.flags & CTL_FLAG_REPLY))
		return -EPROTO;
	if (h.type == CTL_MSG_ERROR) {
		const struct ctl_error *e = out;

		return n >= (ssize_t) sizeof(*e) && e->err < 0 ? e->err : -EIO;
	}
	if (h.type != type)
		return -EPROTO;
	return n;
}

static int
dp_status_request(struct ctld *d, uint16_t type, const void *payload, size_t len)
{
	struct ctl_status st;
	ssize_t n = dp_request(d, type, payload, len, &st, sizeof(st));

	if (n < 0)
		return (int) n;
	if (n != (ssize_t) sizeof(st))
		return -EPROTO;
	return st.err;
}

static int
dp_push_config(struct ctld *d)
{
	size_t len;
	void *p = dp_config_payload(d, &len);
	int ret;

	if (p == NULL)
		return -ENOMEM;
	ret = dp_status_request(d, CTL_MSG_CONFIG, p, len);
	free(p);
	if (ret == 0) {
		d->dp_config_gen = d->conf_gen;
		log_info("configuration pushed to the dataplane");
	}
	return ret;
}

static int
dp_push_dir(struct ctld *d)
{
	struct ctl_dir_begin b = {.gen = d->dir.gen, .count = d->dir.n, .full = 1};
	struct ctl_dir_commit c = {.gen = d->dir.gen};
	char *batch;
	size_t used = 0;
	int ret;

	batch = malloc(DP_BATCH + sizeof(uint16_t) + CTL_DIR_ADDR_MAX);
	if (batch == NULL)
		return -ENOMEM;
	ret = dp_status_request(d, CTL_MSG_DIR_BEGIN, &b, sizeof(b));
	for (size_t i = 0; ret == 0 && i < d->dir.n; i++) {
		uint16_t l = (uint16_t) strlen(d->dir.v[i]);

		memcpy(batch + used, &l, sizeof(l));
		memcpy(batch + used + sizeof(l), d->dir.v[i], l);
		used += sizeof(l) + l;
		if (used >= DP_BATCH || i + 1 == d->dir.n) {
			ret = dp_status_request(d, CTL_MSG_DIR_ADD, batch, used);
			used = 0;
		}
	}
	free(batch);
	if (ret == 0)
		ret = dp_status_request(d, CTL_MSG_DIR_COMMIT, &c, sizeof(c));
	if (ret == 0) {
		d->dp_dir_gen = d->dir.gen;
		d->dp_dir_count = d->dir.n;
		log_info("directory pushed to the dataplane: %zu addresses", d->dir.n);
	}
	return ret;
}

static int
dp_connect(struct ctld *d)
{
	struct ctl_hello me = {
		.role = CTL_ROLE_CONTROL,
		.pid = (uint32_t) getpid(),
		.config_gen = d->conf_gen,
		.dir_gen = d->dir.gen,
		.dir_count = d->dir.n,
	};
	struct ctl_hello peer;
	ssize_t n;
	int fd;

	fd = ctl_connect(d->conf->dataplane_socket);
	if (fd < 0)
		return fd;
	d->dp_fd = fd;
	snprintf(me.name, sizeof(me.name), "ndrguard-control");
	n = dp_request(d, CTL_MSG_HELLO, &me, sizeof(me), &peer, sizeof(peer));
	if (n < 0 || n != (ssize_t) sizeof(peer) || peer.role != CTL_ROLE_DATAPLANE) {
		close(fd);
		d->dp_fd = -1;
		return n < 0 ? (int) n : -EPROTO;
	}
	d->dp_pid = peer.pid;
	d->dp_config_gen = peer.config_gen;
	d->dp_dir_gen = peer.dir_gen;
	d->dp_dir_count = peer.dir_count;
	d->dp_stale = peer.dir_stale != 0;
	log_info("dataplane %u connected (config %s, directory %s)", peer.pid,
		peer.config_gen == d->conf_gen ? "in sync" : "to push",
		peer.dir_gen == d->dir.gen ? "in sync" : "to push");
	return 0;
}

int
ctld_dp_sync(struct ctld *d)
{
	int ret = 0;

	if (d->dp_fd < 0) {
		ret = dp_connect(d);
		if (ret != 0) {
			d->dp_next_try = time(NULL) + 1;
			return ret;
		}
	}
	if (d->dp_config_gen != d->conf_gen)
		ret = dp_push_config(d);
	if (ret == 0 && d->dp_dir_gen != d->dir.gen && d->dir.gen != 0)
		ret = dp_push_dir(d);
	if (ret == 0 && ctld_dir_guard_alarm(d, time(NULL)) != d->dp_stale) {
		struct ctl_dir_state st = {.stale = !d->dp_stale};

		ret = dp_status_request(d, CTL_MSG_DIR_STATE, &st, sizeof(st));
		if (ret == 0) {
			d->dp_stale = st.stale != 0;
			log_warnx("directory guard %s: unknown recipients now get %s",
				d->dp_stale ? "raised" : "cleared",
				d->dp_stale ? "450 4.1.1" : "550 5.1.1");
		}
	}
	if (ret != 0) {
		log_error_errno(ret, "syncing the dataplane");
		ctld_dp_close(d);
		return ret;
	}
	if (d->dp_log_fd < 0 && ctld_dp_log_open(d) != 0)
		log_warnx("no decision log subscription yet; retrying");
	return 0;
}

int
ctld_dp_stats(struct ctld *d, char *buf, size_t size)
{
	ssize_t n;

	if (d->dp_fd < 0)
		return -ENOTCONN;
	n = dp_request(d, CTL_MSG_STATS, NULL, 0, buf, size - 1);
	if (n < 0) {
		ctld_dp_close(d);
		return (int) n;
	}
	buf[n] = '\0';
	return (int) n;
}

uint64_t
ctld_config_digest(const struct ctld *d)
{
	size_t len;
	void *p = dp_config_payload(d, &len);
	uint64_t h;

	if (p == NULL)
		return 0;
	h = dp_fnv(p, len);
	free(p);
	return h;
}

int
ctld_dp_log_open(struct ctld *d)
{
	struct ctl_msg_hdr h;
	struct ctl_status st;
	ssize_t n;
	int fd, ret;

	if (d->dp_log_fd >= 0)
		return 0;
	fd = ctl_connect(d->conf->dataplane_socket);
	if (fd < 0)
		return fd;
	ret = ctl_send(fd, CTL_MSG_LOG, 1, 0, NULL, 0);
	n = ret == 0 ? ctl_recv(fd, &h, &st, sizeof(st), DP_TIMEOUT_MS) : ret;
	if (n != (ssize_t) sizeof(st) || h.type != CTL_MSG_LOG || !(h.flags & CTL_FLAG_REPLY) ||
		st.err != 0) {
		close(fd);
		return n < 0 ? (int) n : -EPROTO;
	}
	d->dp_log_fd = fd;
	return 0;
}

/* JSON string body of <s>: quotes, backslashes, control and non-ASCII bytes escaped, so a
 * hostile HELO or address can never break a line or the format. */
static void
dp_json_str(FILE *f, const char *s, size_t max)
{
	fputc('"', f);
	for (size_t i = 0; i < max && s[i] != '\0'; i++) {
		unsigned char c = (unsigned char) s[i];

		if (c == '"' || c == '\\')
			fprintf(f, "\\%c", c);
		else if (c < 0x20 || c >= 0x7f)
			fprintf(f, "\\u%04x", c);
		else
			fputc(c, f);
	}
	fputc('"', f);
}

static const char *const dp_outcomes[] = {"accept", "reject", "observe"};

/* One record as its JSON line (DESIGN.md §4 fields), no newline, into <buf>. */
static void
dp_log_format(const struct ctl_log_rec *r, char *buf, size_t size)
{
	time_t secs = (time_t) (r->time_ms / 1000);
	struct in_addr a = {.s_addr = r->client_ip};
	char ts[32], ip[INET_ADDRSTRLEN];
	struct tm tm;
	FILE *f = fmemopen(buf, size, "w");

	buf[0] = '\0';
	if (f == NULL)
		return;
	gmtime_r(&secs, &tm);
	strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", &tm);
	inet_ntop(AF_INET, &a, ip, sizeof(ip));
	fprintf(f, "{\"time\":\"%s.%03uZ\",\"client\":\"%s\",\"helo\":", ts,
		(unsigned int) (r->time_ms % 1000), ip);
	dp_json_str(f, r->helo, sizeof(r->helo));
	fputs(",\"sender\":", f);
	dp_json_str(f, r->sender, sizeof(r->sender));
	fputs(",\"rcpt\":", f);
	dp_json_str(f, r->rcpt, sizeof(r->rcpt));
	fputs(",\"rule\":", f);
	dp_json_str(f, r->rule, sizeof(r->rule));
	fprintf(f, ",\"outcome\":\"%s\",\"reply\":\"%u%s",
		r->outcome < 3 ? dp_outcomes[r->outcome] : "?", r->code, r->enh[0] ? " " : "");
	fprintf(f, "%.*s\"", (int) strnlen(r->enh, sizeof(r->enh)), r->enh);
	/* Only sessions that run over TLS carry the two TLS keys. */
	if (r->tls_version[0] != '\0') {
		fputs(",\"tls\":", f);
		dp_json_str(f, r->tls_version, sizeof(r->tls_version));
		fputs(",\"tls_cipher\":", f);
		dp_json_str(f, r->tls_cipher, sizeof(r->tls_cipher));
	}
	/* Only transactions whose backend hop runs over TLS carry it. */
	if (r->backend_tls[0] != '\0') {
		fputs(",\"backend_tls\":", f);
		dp_json_str(f, r->backend_tls, sizeof(r->backend_tls));
	}
	fputc('}', f);
	fputc('\0', f);
	fclose(f);
	buf[size - 1] = '\0';
}

int
ctld_dp_log_read(struct ctld *d)
{
	static struct ctl_log_rec recs[CTL_PROTO_MAX_FRAME / sizeof(struct ctl_log_rec)];
	/* Escaping makes a byte at most 6: the strings of a record fit. */
	static char
		line[8 * (CTL_LOG_HELO_MAX + 2 * CTL_LOG_ADDR_MAX + CTL_LOG_RULE_MAX + 56) + 256];
	struct ctl_msg_hdr h;
	ssize_t n = ctl_recv(d->dp_log_fd, &h, recs, sizeof(recs), 2000);
	int ret = 0;

	if (n < 0 || h.type != CTL_MSG_LOG || n % sizeof(struct ctl_log_rec) != 0) {
		close(d->dp_log_fd);
		d->dp_log_fd = -1;
		return n < 0 ? (int) n : -EPROTO;
	}
	if (d->dlog == NULL) {
		d->dlog = fopen(d->conf->decision_log, "ae");
		if (d->dlog == NULL)
			ret = log_error_errno(-errno, "opening %s", d->conf->decision_log);
	}
	for (size_t i = 0; i < (size_t) n / sizeof(struct ctl_log_rec); i++) {
		dp_log_format(&recs[i], line, sizeof(line));
		if (d->dlog != NULL) {
			fputs(line, d->dlog);
			fputc('\n', d->dlog);
		}
		d->dlog_records++;
		obs_record(d, &recs[i], line);
		if (xdp_verdict(d->conf, recs[i].client_ip, recs[i].rule, recs[i].outcome,
			    recs[i].flags) == -EPERM)
			d->xdp_unverified++;
	}
	if (d->dlog != NULL)
		fflush(d->dlog);
	return ret;
}
