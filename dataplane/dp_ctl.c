/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The control thread (one, non-EAL): accepts ndrguard-control on a Unix socket and serves
 * HELLO, CONFIG, DIR_BEGIN/ADD/COMMIT and STATS. It is the only writer of the configuration
 * pointer and the recipient table, registered with urcu-qsbr and offline whenever it waits.
 * When the daemon goes away the dataplane keeps what it has; a returning daemon learns the
 * generations in force from HELLO and pushes only what differs.
 */
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <linux/sockios.h>

#include <arpa/inet.h>

#include <rte_ethdev.h>
#include <rte_lcore.h>
#include <rte_log.h>

#include <urcu/urcu-qsbr.h>

#include "dp_ctl.h"
#include "net.h"
#include "outbound.h"
#include "policy.h"
#include "proxy.h"
#include "rcpt.h"
#include "smtp.h"
#include "stats.h"
#include "proxy_btls.h"
#include "tls.h"
#include "ndg_common.h"

RTE_LOG_REGISTER(ndg_logtype_ctl, user.ndg.ctl, INFO);
#define CTL_LOG(level, fmt, ...)                                                                   \
	rte_log(RTE_LOG_##level, ndg_logtype_ctl, "ctl: " fmt "\n", ##__VA_ARGS__)

#define DP_CTL_HARVEST_LOG2    16	   /* 2 x 65536 cells, 1 MiB */
#define DP_CTL_READ_TIMEOUT_MS 5000	   /* one frame, once its header arrived */
#define DP_CTL_STATS_MAX       (64 * 1024) /* STATS reply text */

struct dp_cfg *dp_cfg_cur;

static struct {
	struct rcpt_tbl *dir;
	struct policy_harvest harvest;	/* cells shared by every configuration */
	struct out_buckets out_buckets; /* outbound rate state, shared likewise */
	uint64_t dir_gen;		/* generation of the committed snapshot */
	uint64_t dir_count;
	uint64_t building_gen; /* DIR_BEGIN in progress, 0: none */
	int listen_fd;
	int conn_fd;	      /* requests from the control daemon */
	int log_fd;	      /* decision records to the control daemon (LOG subscription) */
	int pending_fd;	      /* accepted, first frame not read yet */
	uint64_t log_dropped; /* records the daemon could not take in time */
	struct ctl_log_rec *logbuf;
	char path[108];
	pthread_t tid;
	volatile bool quit;
	uint8_t *buf; /* one frame */
} dp_ctl = {.listen_fd = -1, .conn_fd = -1, .log_fd = -1, .pending_fd = -1};

#define DP_CTL_LOG_BATCH  64	     /* records per LOG frame */
#define DP_CTL_LOG_SNDBUF (4u << 20) /* room for bursts while the daemon is busy */

static uint64_t
dp_ctl_fnv(const void *p, size_t n)
{
	const unsigned char *b = p;
	uint64_t h = 0xcbf29ce484222325ull;

	for (size_t i = 0; i < n; i++)
		h = (h ^ b[i]) * 0x100000001b3ull;
	return h ? h : 1;
}

void
dp_cfg_free(struct dp_cfg *c)
{
	if (c == NULL)
		return;
	/* Not policy_fini(): the directory and the harvest cells are shared. */
	free(c->pol.domains);
	free(c->pol.relay_nets);
	free(c->pol.blocklist);
	free(c->pol.never_bounce);
	free(c->pol.batv_addr);
	out_conf_fini(&c->out);
	free(c->domains);
	tls_ctx_unref(c->tls.ctx); /* sessions in TLS hold their own references */
	proxy_btls_cfg_free(c);
	free(c);
}

void
dp_cfg_release(struct dp_cfg *c)
{
	if (c != NULL && __atomic_sub_fetch(&c->refs, 1, __ATOMIC_ACQ_REL) == 0)
		dp_cfg_free(c);
}

/* After a grace period nobody can acquire the retired configuration: drop the publisher's
 * reference; sessions still holding one free it when they end. */
static void
dp_cfg_free_rcu(struct rcu_head *h)
{
	dp_cfg_release(caa_container_of(h, struct dp_cfg, rcu));
}

/* ctl_rule (the wire) → policy_rule (the engine). */
static const uint8_t dp_ctl_rule_map[CTL_RULE_MAX] = {
	[CTL_RULE_BLOCKLIST] = POLICY_RULE_BLOCKLIST,
	[CTL_RULE_CONCURRENCY] = POLICY_RULE_CONN_LIMIT,
	[CTL_RULE_EARLY_TALKER] = POLICY_RULE_EARLY_TALKER,
	[CTL_RULE_RELAY] = POLICY_RULE_RELAY_DENIED,
	[CTL_RULE_RELAY_BYPASS] = POLICY_RULE_RELAY_BYPASS,
	[CTL_RULE_MULTI_BOUNCE] = POLICY_RULE_NULL_MULTI,
	[CTL_RULE_BATV] = POLICY_RULE_BATV,
	[CTL_RULE_NEVER_BOUNCE] = POLICY_RULE_NEVER_BOUNCE,
	[CTL_RULE_UNKNOWN_RCPT] = POLICY_RULE_UNKNOWN_USER,
	[CTL_RULE_HARVEST] = POLICY_RULE_HARVEST,
	[CTL_RULE_OUT_RELAY] = POLICY_RULE_OUT_RELAY_DENIED,
	[CTL_RULE_OUT_SENDER] = POLICY_RULE_OUT_SENDER,
	[CTL_RULE_OUT_SENDER_RATE] = POLICY_RULE_OUT_SENDER_RATE,
	[CTL_RULE_OUT_HOST_RATE] = POLICY_RULE_OUT_HOST_RATE,
	[CTL_RULE_OUT_NDR] = POLICY_RULE_OUT_NDR,
};

static bool
dp_ctl_str_ok(const char *s, size_t size)
{
	return memchr(s, '\0', size) != NULL && s[0] != '\0';
}

/* Add <n> struct ctl_config_net at *<p> to the relay networks or the blocklist of <pol>. */
static int
dp_ctl_add_nets(struct policy *pol, const uint8_t **p, uint32_t n, bool relay)
{
	for (uint32_t i = 0; i < n; i++, *p += sizeof(struct ctl_config_net)) {
		const struct ctl_config_net *net = (const void *) *p;
		char cidr[INET_ADDRSTRLEN + 4], ip[INET_ADDRSTRLEN];
		struct in_addr a = {.s_addr = net->ip};
		int ret;

		if (net->plen > 32 || inet_ntop(AF_INET, &a, ip, sizeof(ip)) == NULL)
			return -EINVAL;
		snprintf(cidr, sizeof(cidr), "%s/%u", ip, (uint8_t) net->plen);
		ret = policy_cidr_add(pol, cidr, relay);
		if (ret != 0)
			return ret;
	}
	return 0;
}

/* The outbound section of CONFIG (ctl_proto-t.h) at <p>[<len>] into <c>. @return 0, -EINVAL,
 * -ENOMEM. */
static int
dp_ctl_build_out(struct dp_cfg *c, const uint8_t *p, size_t len)
{
	/* The section follows certificate bytes of any length: it may start at any address,
	 * so it is read through copies, never through casts (UBSan: misaligned access). */
	struct ctl_config_out ob;
	const struct ctl_config_out *o = &ob;
	struct out_conf *oc = &c->out;
	int ret;

	if (len < sizeof(ob))
		return -EINVAL;
	memcpy(&ob, p, sizeof(ob));
	if (o->n_ports == 0 || o->n_ports > CTL_OUT_PORTS ||
		o->n_smarthosts > CTL_CONFIG_BACKENDS || o->n_nets > 65536 || o->n_exempt > 65536 ||
		o->ndr_mode >= OUT_NDR_MAX ||
		len != sizeof(*o) + (size_t) o->n_nets * sizeof(struct ctl_config_net) +
				(size_t) o->n_exempt * sizeof(struct ctl_config_addr))
		return -EINVAL;
	_Static_assert((int) CTL_OUT_RATE_MAX == (int) OUT_B_MAX, "rate lists differ");
	oc->enabled = o->enabled != 0 && o->n_smarthosts != 0;
	oc->n_ports = (uint8_t) o->n_ports;
	for (unsigned int i = 0; i < o->n_ports; i++) {
		if (o->ports[i] == 0)
			return -EINVAL;
		oc->ports[i] = o->ports[i];
	}
	oc->addr = o->addr;
	oc->batv_sign = o->batv_sign != 0;
	oc->ndr_mode = (uint8_t) o->ndr_mode;
	oc->ndr_tempfail = o->ndr_tempfail != 0;
	for (unsigned int i = 0; i < CTL_OUT_RATE_MAX; i++) {
		ret = out_rate_set(&oc->rate[i], o->rate[i].count, o->rate[i].per_ms,
			o->rate[i].burst);
		if (ret != 0)
			return ret;
	}
	c->smarthost.n = o->n_smarthosts;
	snprintf(c->smarthost.name, sizeof(c->smarthost.name), "smarthost");
	for (uint32_t i = 0; i < o->n_smarthosts; i++) {
		c->smarthost.b[i].ip = o->smarthosts[i].ip;
		c->smarthost.b[i].port = o->smarthosts[i].port;
	}
	p += sizeof(*o);
	for (uint32_t i = 0; i < o->n_nets; i++, p += sizeof(struct ctl_config_net)) {
		struct ctl_config_net nb;
		const struct ctl_config_net *net = &nb;
		struct in_addr a;
		char ip[INET_ADDRSTRLEN], cidr[INET_ADDRSTRLEN + 4];

		memcpy(&nb, p, sizeof(nb));
		a.s_addr = net->ip;
		if (net->plen > 32 || inet_ntop(AF_INET, &a, ip, sizeof(ip)) == NULL)
			return -EINVAL;
		snprintf(cidr, sizeof(cidr), "%s/%u", ip, (uint8_t) net->plen);
		ret = out_conf_add_net(oc, cidr);
		if (ret != 0)
			return ret;
	}
	for (uint32_t i = 0; i < o->n_exempt; i++, p += sizeof(struct ctl_config_addr)) {
		struct ctl_config_addr ab;
		const struct ctl_config_addr *a = &ab;

		memcpy(&ab, p, sizeof(ab));
		if (!dp_ctl_str_ok(a->addr, sizeof(a->addr)))
			return -EINVAL;
		ret = out_conf_add_exempt(oc, a->addr);
		if (ret != 0)
			return ret;
	}
	return 0;
}

/* The STARTTLS context from the certificates at *<pp> (within <end>); *<pp> moves past them,
 * to the optional outbound section. */
static int
dp_ctl_tls_build(struct dp_cfg *c, const struct ctl_config *h, const uint8_t **pp,
	const uint8_t *end)
{
	struct tls_server_conf tc = {.min_version = (uint16_t) h->tls_min_version};
	const uint8_t *p = *pp;
	char err[256];

	if (h->tls_n_certs == 0)
		return 0;
	if (h->tls_n_certs > CTL_TLS_CERTS_MAX || h->tls_n_certs > TLS_CERTS_MAX ||
		!memchr(h->tls_ciphers, '\0', sizeof(h->tls_ciphers)) ||
		!memchr(h->tls_ciphersuites, '\0', sizeof(h->tls_ciphersuites)) ||
		h->tls_handshake_timeout_ms == 0)
		return -EINVAL;
	for (uint32_t i = 0; i < h->tls_n_certs; i++) {
		struct ctl_config_tls_cert tcert;

		if ((size_t) (end - p) < sizeof(tcert))
			return -EINVAL;
		memcpy(&tcert, p, sizeof(tcert));
		p += sizeof(tcert);
		if (tcert.cert_len == 0 || tcert.key_len == 0 || tcert.cert_len > CTL_TLS_PEM_MAX ||
			tcert.key_len > CTL_TLS_PEM_MAX ||
			(size_t) (end - p) < (size_t) tcert.cert_len + tcert.key_len)
			return -EINVAL;
		tc.certs[i].cert = (const char *) p;
		tc.certs[i].cert_len = tcert.cert_len;
		tc.certs[i].key = (const char *) p + tcert.cert_len;
		tc.certs[i].key_len = tcert.key_len;
		p += tcert.cert_len + tcert.key_len;
	}
	*pp = p;
	tc.n_certs = h->tls_n_certs;
	memcpy(tc.ciphers, h->tls_ciphers, sizeof(tc.ciphers));
	memcpy(tc.ciphersuites, h->tls_ciphersuites, sizeof(tc.ciphersuites));
	c->tls.ctx = tls_ctx_server_new(&tc, err, sizeof(err));
	if (c->tls.ctx == NULL) {
		CTL_LOG(WARNING, "TLS: %s", err);
		return -EINVAL;
	}
	c->tls.handshake_timeout_ms = h->tls_handshake_timeout_ms;
	c->tls.rate = h->tls_rate;
	c->tls.burst = h->tls_burst;
	c->tls.src_rate = h->tls_src_rate;
	c->tls.src_burst = h->tls_src_burst;
	c->smtp.starttls = true;
	return 0;
}

struct dp_cfg *
dp_cfg_build(const void *payload, size_t len, int *err)
{
	const struct ctl_config *h = payload;
	const uint8_t *p;
	struct dp_cfg *c;
	size_t need;
	int ret = -EINVAL;

	if (dp_ctl.dir == NULL) {
		*err = -EINVAL;
		return NULL;
	}
	if (len < sizeof(*h) || h->n_domains > 65536 || h->n_relay_nets > 65536 ||
		h->n_never_bounce > 65536 || h->n_batv_keys > BATV_KEYS_MAX ||
		h->n_blocked > 65536) {
		*err = -EINVAL;
		return NULL;
	}
	need = sizeof(*h) + (size_t) h->n_domains * sizeof(struct ctl_config_domain) +
	       ((size_t) h->n_relay_nets + h->n_blocked) * sizeof(struct ctl_config_net) +
	       (size_t) h->n_never_bounce * sizeof(struct ctl_config_addr) +
	       (size_t) h->n_batv_keys * sizeof(struct ctl_config_batv_key);
	if (len < need || !dp_ctl_str_ok(h->hostname, sizeof(h->hostname)) || h->smtp_port == 0 ||
		h->smtp_port > 65535 || h->bare_newline > 1) {
		*err = -EINVAL;
		return NULL;
	}
	c = calloc(1, sizeof(*c));
	if (c == NULL) {
		*err = -ENOMEM;
		return NULL;
	}
	c->gen = dp_ctl_fnv(payload, len);
	c->refs = 1;
	c->smtp_port = (uint16_t) h->smtp_port;
	smtp_conf_init(&c->smtp, h->hostname);
	c->smtp.max_size = h->max_message_size;
	c->smtp.max_rcpt = h->max_recipients;
	c->smtp.max_errors = h->max_errors;
	c->smtp.greet_delay_ms = h->greeting_delay_ms;
	c->smtp.timeout_cmd_ms = h->timeout_command_ms;
	c->smtp.timeout_data_ms = h->timeout_data_ms;
	if (h->timeout_backend_ms != 0)
		c->smtp.timeout_backend_ms = h->timeout_backend_ms;
	c->smtp.bare_mode = h->bare_newline ? SMTP_BARE_NORMALIZE : SMTP_BARE_REJECT;
	c->smtp.proxy = true;

	policy_init(&c->pol);
	c->pol.dir = dp_ctl.dir;
	c->pol.harvest = dp_ctl.harvest;
	c->pol.harvest.budget_host = h->harvest_budget;
	c->pol.harvest.budget_net = h->harvest_budget * 5;
	c->pol.harvest.half_life_ms = h->harvest_window_ms;
	c->pol.harvest.tarpit_base_ms = h->harvest_tarpit_ms;
	c->pol.harvest.tarpit_max_ms = h->harvest_tarpit_ms * 16;
	c->pol.max_conn_per_ip = h->max_conn_per_ip;
	for (unsigned int r = 0; r < CTL_RULE_MAX; r++)
		c->pol.mode[dp_ctl_rule_map[r]] = h->modes[r] ? POLICY_OBSERVE : POLICY_ENFORCE;

	p = (const uint8_t *) (h + 1);
	c->n_domains = h->n_domains;
	c->domains = calloc(h->n_domains ? h->n_domains : 1, sizeof(*c->domains));
	if (c->domains == NULL) {
		ret = -ENOMEM;
		goto err;
	}
	for (uint32_t i = 0; i < h->n_domains; i++, p += sizeof(struct ctl_config_domain)) {
		const struct ctl_config_domain *d = (const void *) p;

		if (!dp_ctl_str_ok(d->name, sizeof(d->name)) || d->n_backends == 0 ||
			d->n_backends > CTL_CONFIG_BACKENDS)
			goto err;
		ret = policy_domain_add(&c->pol, d->name, false, d->batv != 0);
		if (ret != 0)
			goto err;
		memcpy(c->domains[i].name, d->name, sizeof(d->name));
		c->domains[i].n = d->n_backends;
		for (uint32_t b = 0; b < d->n_backends; b++) {
			c->domains[i].b[b].ip = d->backends[b].ip;
			c->domains[i].b[b].port = d->backends[b].port;
			c->domains[i].b[b].tls = d->backends[b].tls;
		}
	}
	ret = dp_ctl_add_nets(&c->pol, &p, h->n_relay_nets, true);
	if (ret == 0)
		ret = dp_ctl_add_nets(&c->pol, &p, h->n_blocked, false);
	if (ret != 0)
		goto err;
	for (uint32_t i = 0; i < h->n_never_bounce; i++, p += sizeof(struct ctl_config_addr)) {
		const struct ctl_config_addr *a = (const void *) p;

		if (!dp_ctl_str_ok(a->addr, sizeof(a->addr)))
			goto err;
		ret = policy_addr_add(&c->pol, a->addr, true);
		if (ret != 0)
			goto err;
	}
	for (uint32_t i = 0; i < h->n_batv_keys; i++, p += sizeof(struct ctl_config_batv_key)) {
		const struct ctl_config_batv_key *k = (const void *) p;

		if (k->len > sizeof(k->key))
			goto err;
		ret = policy_batv_key_set(&c->pol, k->id, k->key, k->len);
		if (ret != 0)
			goto err;
		if (i == 0)
			c->pol.batv.sign_id = (uint8_t) k->id;
	}
	/* Then the backend TLS policies, the certificates of STARTTLS and the optional outbound
	 * section. */
	ret = proxy_btls_cfg_build(c, h, &p, (const uint8_t *) payload + len);
	if (ret != 0)
		goto err;
	ret = dp_ctl_tls_build(c, h, &p, (const uint8_t *) payload + len);
	if (ret != 0)
		goto err;
	out_conf_init(&c->out);
	c->out.buckets = &dp_ctl.out_buckets;
	if (p < (const uint8_t *) payload + len) {
		ret = dp_ctl_build_out(c, p, (size_t) ((const uint8_t *) payload + len - p));
		if (ret != 0)
			goto err;
	}
	return c;
err:
	*err = ret ? ret : -EINVAL;
	dp_cfg_free(c);
	return NULL;
}

static void
dp_ctl_pfx_add(struct net_pfx *v, unsigned int *n, uint32_t ip, unsigned int plen)
{
	v[*n].mask = plen ? rte_cpu_to_be_32(~0u << (32 - plen)) : 0;
	v[*n].net = ip & v[*n].mask;
	(*n)++;
}

/*
 * The anti-spoofing table for configuration <c>, built from CONFIG <payload> (already
 * checked by dp_cfg_build()): backends and internal networks say which port is inside, and
 * an external port refuses them and the relay networks not marked external (DESIGN.md §3).
 * @return 0, -ENOMEM (the previous table stays). Control thread.
 */
static int
dp_ctl_spoof_update(const struct dp_cfg *c, const void *payload)
{
	const struct ctl_config *h = payload;
	const struct ctl_config_net *rn =
		(const void *) ((const uint8_t *) (h + 1) +
				(size_t) h->n_domains * sizeof(struct ctl_config_domain));
	unsigned int n_anchors = 0, n_inside = 0, n_backends = 0, overlap = 0;
	const struct net_spoof *sp;
	struct net_pfx *anchors, *inside;
	int ret;

	for (uint32_t d = 0; d < c->n_domains; d++)
		n_backends += c->domains[d].n;
	anchors = calloc((size_t) n_backends + c->out.n_nets + 1, sizeof(*anchors));
	inside = calloc((size_t) n_backends + c->out.n_nets + h->n_relay_nets + 1, sizeof(*inside));
	if (anchors == NULL || inside == NULL) {
		free(anchors);
		free(inside);
		return -ENOMEM;
	}
	for (uint32_t d = 0; d < c->n_domains; d++)
		for (uint32_t b = 0; b < c->domains[d].n; b++) {
			dp_ctl_pfx_add(anchors, &n_anchors, c->domains[d].b[b].ip, 32);
			dp_ctl_pfx_add(inside, &n_inside, c->domains[d].b[b].ip, 32);
		}
	for (uint32_t i = 0; i < c->out.n_nets; i++) {
		uint32_t ip;

		if (c->out.nets[i].family != 4)
			continue;
		memcpy(&ip, c->out.nets[i].addr, sizeof(ip));
		dp_ctl_pfx_add(anchors, &n_anchors, ip, c->out.nets[i].plen);
		dp_ctl_pfx_add(inside, &n_inside, ip, c->out.nets[i].plen);
	}
	for (uint32_t i = 0; i < h->n_relay_nets; i++)
		if (!(rn[i].flags & CTL_NET_F_EXTERNAL))
			dp_ctl_pfx_add(inside, &n_inside, rn[i].ip, rn[i].plen);
	ret = net_spoof_update(anchors, n_anchors, inside, n_inside, &overlap);
	free(anchors);
	free(inside);
	if (ret != 0)
		return ret;
	if (overlap != 0)
		CTL_LOG(WARNING,
			"%u inside network(s) (internal, relay or backend) overlap the subnet of "
			"an external port: their hosts there are dropped as spoofed; mark relay "
			"networks that reach us from outside 'external'",
			overlap);
	/* This thread is the only writer: what it just published cannot go away under it. */
	sp = net_spoof_get();
	for (uint16_t p = 0; sp != NULL && p < RTE_MAX_ETHPORTS; p++)
		if (sp->role[p] != NET_ROLE_NONE)
			CTL_LOG(INFO, "port %u: %s, %s", p, net_role_name(sp->role[p]),
				sp->role[p] == NET_ROLE_EXTERNAL
					? "refuses our own and inside addresses as sources"
					: "refuses our own addresses as sources");
	return 0;
}

/* Publish <c> and retire the previous configuration after a grace period. */
static void
dp_cfg_publish(struct dp_cfg *c)
{
	struct dp_cfg *old = rcu_xchg_pointer(&dp_cfg_cur, c);

	if (old != NULL)
		urcu_qsbr_call_rcu(&old->rcu, dp_cfg_free_rcu);
}

static int
dp_ctl_send_fd(int fd, uint16_t type, uint32_t seq, uint32_t flags, const void *p, size_t len,
	int sflags)
{
	struct ctl_msg_hdr h = {
		.version = CTL_PROTO_VERSION,
		.type = type,
		.len = (uint32_t) len,
		.seq = seq,
		.flags = flags,
	};
	struct iovec iov[2] = {{&h, sizeof(h)}, {(void *) p, len}};
	struct msghdr m = {.msg_iov = iov, .msg_iovlen = len ? 2 : 1};
	size_t total = sizeof(h) + len;

	while (total > 0) {
		ssize_t w = sendmsg(fd, &m, MSG_NOSIGNAL | sflags);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		total -= (size_t) w;
		while (w > 0 && m.msg_iovlen > 0) {
			size_t take =
				(size_t) w < m.msg_iov->iov_len ? (size_t) w : m.msg_iov->iov_len;

			m.msg_iov->iov_base = (char *) m.msg_iov->iov_base + take;
			m.msg_iov->iov_len -= take;
			w -= (ssize_t) take;
			if (m.msg_iov->iov_len == 0) {
				m.msg_iov++;
				m.msg_iovlen--;
			}
		}
	}
	return 0;
}

static int
dp_ctl_send(uint16_t type, uint32_t seq, uint32_t flags, const void *p, size_t len)
{
	return dp_ctl_send_fd(dp_ctl.conn_fd, type, seq, flags, p, len, 0);
}

/*
 * Ship queued decision records. Never blocks: the daemon's single thread may itself be
 * waiting on this thread; a batch that does not fit the socket buffer whole is counted as
 * dropped rather than cut (a cut frame would desynchronise the stream).
 */
static void
dp_ctl_log_flush(void)
{
	for (int frames = 0; dp_ctl.log_fd >= 0 && frames < 64; frames++) {
		unsigned int n = proxy_log_drain(dp_ctl.logbuf, DP_CTL_LOG_BATCH);
		size_t len = (size_t) n * sizeof(*dp_ctl.logbuf);
		int queued = 0;

		if (n == 0)
			return;
		if (ioctl(dp_ctl.log_fd, SIOCOUTQ, &queued) != 0 ||
			(size_t) queued + len + sizeof(struct ctl_msg_hdr) + 4096 >
				DP_CTL_LOG_SNDBUF) {
			dp_ctl.log_dropped += n;
			continue;
		}
		if (dp_ctl_send_fd(dp_ctl.log_fd, CTL_MSG_LOG, 0, 0, dp_ctl.logbuf, len,
			    MSG_DONTWAIT) != 0) {
			CTL_LOG(INFO, "decision log subscriber gone");
			proxy_log_enable(false);
			close(dp_ctl.log_fd);
			dp_ctl.log_fd = -1;
		}
	}
}

static int
dp_ctl_reply_status(const struct ctl_msg_hdr *req, int err)
{
	struct ctl_status st = {.err = err};

	return dp_ctl_send(req->type, req->seq, CTL_FLAG_REPLY, &st, sizeof(st));
}

static int
dp_ctl_read_full(int fd, void *buf, size_t len, int timeout_ms)
{
	size_t got = 0;

	while (got < len) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		ssize_t n;
		int r = poll(&p, 1, timeout_ms);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return r == 0 ? -ETIMEDOUT : -errno;
		n = read(fd, (char *) buf + got, len - got);
		if (n == 0)
			return -ECONNRESET;
		if (n < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			return -errno;
		}
		got += (size_t) n;
	}
	return 0;
}

static int
dp_ctl_stats_text(char *buf, size_t size)
{
	struct stats_lcore sum;
	const struct dp_cfg *c;
	size_t used = 0;
	uint16_t port;

	stats_sum(&sum);
	for (unsigned int i = 0; i < STATS_MAX; i++)
		(void) stats_appendf(buf, size, &used, "%s %" PRIu64 "\n", stats_name(i), sum.c[i]);
	RTE_ETH_FOREACH_DEV (port) {
		struct rte_eth_stats es;

		if (rte_eth_stats_get(port, &es) != 0)
			continue;
		(void) stats_appendf(buf, size, &used,
			"port%u_ipackets %" PRIu64 "\nport%u_opackets %" PRIu64
			"\nport%u_imissed %" PRIu64 "\n",
			port, es.ipackets, port, es.opackets, port, es.imissed);
	}
	urcu_qsbr_thread_online();
	c = dp_cfg_get();
	(void) stats_appendf(buf, size, &used, "smtp_listen_port %u\nsmtp_config_port %u\n",
		proxy_listen_port(), c != NULL ? c->smtp_port : 0);
	(void) stats_appendf(buf, size, &used,
		"config_loaded %d\ndirectory_loaded_addresses %" PRIu64
		"\ndecision_log_subscribed %d\ndecision_log_dropped %" PRIu64 "\n",
		c != NULL, dp_ctl.dir_count, dp_ctl.log_fd >= 0, dp_ctl.log_dropped);
	urcu_qsbr_thread_offline();
	used += (size_t) proxy_stats_text(buf + used, size - used);
	return (int) used;
}

/* Handle one frame; an error return closes the connection. */
static int
dp_ctl_handle(const struct ctl_msg_hdr *h, const uint8_t *p)
{
	int ret = 0;

	switch (h->type) {
	case CTL_MSG_HELLO: {
		struct ctl_hello me = {
			.role = CTL_ROLE_DATAPLANE,
			.pid = (uint32_t) getpid(),
			.dir_gen = dp_ctl.dir_gen,
			.dir_count = dp_ctl.dir_count,
		};
		const struct dp_cfg *c;

		if (h->len != sizeof(struct ctl_hello))
			return -EPROTO;
		urcu_qsbr_thread_online();
		c = dp_cfg_get();
		me.config_gen = c ? c->gen : 0;
		me.dir_stale = rcpt_tbl_is_stale(dp_ctl.dir);
		urcu_qsbr_thread_offline();
		snprintf(me.name, sizeof(me.name), "ndrguard-dataplane");
		return dp_ctl_send(CTL_MSG_HELLO, h->seq, CTL_FLAG_REPLY, &me, sizeof(me));
	}
	case CTL_MSG_CONFIG: {
		struct dp_cfg *c;

		urcu_qsbr_thread_online();
		c = dp_cfg_build(p, h->len, &ret);
		if (c != NULL) {
			if (dp_ctl_spoof_update(c, p) != 0)
				CTL_LOG(WARNING, "anti-spoofing table: out of memory, the "
						 "previous one stays");
			dp_cfg_publish(c);
			CTL_LOG(INFO, "configuration %016" PRIx64 " in force: %u domains", c->gen,
				c->n_domains);
			if (proxy_listen_port() != 0 && proxy_listen_port() != c->smtp_port)
				CTL_LOG(WARNING,
					"'listen port %u' in the configuration, but the SMTP "
					"listener "
					"is on port %u (--app smtp:PORT): restart the dataplane to "
					"move it",
					c->smtp_port, proxy_listen_port());
		} else {
			CTL_LOG(WARNING, "configuration refused: %s", strerror(-ret));
		}
		urcu_qsbr_thread_offline();
		return dp_ctl_reply_status(h, c ? 0 : ret);
	}
	case CTL_MSG_DIR_BEGIN: {
		const struct ctl_dir_begin *b = (const void *) p;

		if (h->len != sizeof(*b) || b->full != 1)
			return dp_ctl_reply_status(h, -EINVAL);
		urcu_qsbr_thread_online();
		if (dp_ctl.building_gen != 0)
			rcpt_tbl_snapshot_abort(dp_ctl.dir);
		ret = rcpt_tbl_snapshot_begin(dp_ctl.dir, b->count);
		urcu_qsbr_thread_offline();
		dp_ctl.building_gen = ret == 0 ? b->gen : 0;
		return dp_ctl_reply_status(h, ret);
	}
	case CTL_MSG_DIR_ADD: {
		size_t off = 0;

		if (dp_ctl.building_gen == 0)
			return dp_ctl_reply_status(h, -EINVAL);
		urcu_qsbr_thread_online();
		while (ret == 0 && off + sizeof(uint16_t) <= h->len) {
			struct rcpt_digest d;
			uint16_t l;

			memcpy(&l, p + off, sizeof(l));
			off += sizeof(l);
			if (l == 0 || l > CTL_DIR_ADDR_MAX || off + l > h->len) {
				ret = -EINVAL;
				break;
			}
			rcpt_digest_compute(&dp_ctl.dir->key, (const char *) p + off, l, &d);
			ret = rcpt_tbl_snapshot_add(dp_ctl.dir, &d);
			off += l;
		}
		if (ret == 0 && off != h->len)
			ret = -EINVAL;
		urcu_qsbr_thread_offline();
		return dp_ctl_reply_status(h, ret);
	}
	case CTL_MSG_DIR_COMMIT: {
		const struct ctl_dir_commit *cm = (const void *) p;

		if (h->len != sizeof(*cm) || dp_ctl.building_gen == 0 ||
			cm->gen != dp_ctl.building_gen)
			return dp_ctl_reply_status(h, -EINVAL);
		urcu_qsbr_thread_online();
		ret = rcpt_tbl_snapshot_commit(dp_ctl.dir);
		if (ret == 0) {
			dp_ctl.dir_gen = cm->gen;
			dp_ctl.dir_count = rcpt_tbl_count(dp_ctl.dir);
			CTL_LOG(INFO, "directory %016" PRIx64 " in force: %" PRIu64 " addresses",
				dp_ctl.dir_gen, dp_ctl.dir_count);
		}
		urcu_qsbr_thread_offline();
		dp_ctl.building_gen = 0;
		return dp_ctl_reply_status(h, ret);
	}
	case CTL_MSG_DIR_STATE: {
		const struct ctl_dir_state *st = (const void *) p;

		if (h->len != sizeof(*st))
			return dp_ctl_reply_status(h, -EINVAL);
		rcpt_tbl_set_stale(dp_ctl.dir, st->stale != 0);
		CTL_LOG(WARNING, "directory guard %s",
			st->stale ? "raised: 450 4.1.1 for unknown" : "cleared");
		return dp_ctl_reply_status(h, 0);
	}
	case CTL_MSG_STATS: {
		char *text = malloc(DP_CTL_STATS_MAX);
		int n;

		if (text == NULL)
			return dp_ctl_reply_status(h, -ENOMEM);
		n = dp_ctl_stats_text(text, DP_CTL_STATS_MAX);
		ret = dp_ctl_send(CTL_MSG_STATS, h->seq, CTL_FLAG_REPLY, text, (size_t) n);
		free(text);
		return ret;
	}
	default: {
		struct ctl_error e = {.err = -EOPNOTSUPP};

		return dp_ctl_send(CTL_MSG_ERROR, h->seq, CTL_FLAG_REPLY, &e, sizeof(e));
	}
	}
}

static void
dp_ctl_close_conn(void)
{
	if (dp_ctl.conn_fd < 0)
		return;
	close(dp_ctl.conn_fd);
	dp_ctl.conn_fd = -1;
	if (dp_ctl.building_gen != 0) {
		/* A snapshot cut off half way is dropped: the last complete one stays. */
		urcu_qsbr_thread_online();
		rcpt_tbl_snapshot_abort(dp_ctl.dir);
		urcu_qsbr_thread_offline();
		dp_ctl.building_gen = 0;
	}
	CTL_LOG(INFO, "control daemon gone; serving with what is in force");
}

/* Read one frame from <fd> into dp_ctl.buf. */
static int
dp_ctl_read_frame(int fd, struct ctl_msg_hdr *h)
{
	int ret = dp_ctl_read_full(fd, h, sizeof(*h), DP_CTL_READ_TIMEOUT_MS);

	if (ret == 0 &&
		(h->version != CTL_PROTO_VERSION || h->len > CTL_PROTO_MAX_FRAME - sizeof(*h)))
		ret = -EPROTO;
	if (ret == 0)
		ret = dp_ctl_read_full(fd, dp_ctl.buf, h->len, DP_CTL_READ_TIMEOUT_MS);
	return ret;
}

/* A new connection's first frame says what it is: a LOG subscription or the request link. */
static void
dp_ctl_adopt_pending(void)
{
	struct ctl_msg_hdr h;
	int fd = dp_ctl.pending_fd, ret;

	dp_ctl.pending_fd = -1;
	ret = dp_ctl_read_frame(fd, &h);
	if (ret != 0) {
		close(fd);
		return;
	}
	if (h.type == CTL_MSG_LOG && h.len == 0) {
		int sndbuf = DP_CTL_LOG_SNDBUF;
		struct ctl_status st = {0};

		if (dp_ctl.log_fd >= 0)
			close(dp_ctl.log_fd);
		(void) setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf));
		dp_ctl.log_fd = fd;
		if (dp_ctl_send_fd(fd, CTL_MSG_LOG, h.seq, CTL_FLAG_REPLY, &st, sizeof(st), 0) !=
			0) {
			close(fd);
			dp_ctl.log_fd = -1;
			return;
		}
		proxy_log_enable(true);
		CTL_LOG(INFO, "decision log subscriber connected");
		return;
	}
	/* The newest daemon wins: an old request link is a dead one. */
	dp_ctl_close_conn();
	dp_ctl.conn_fd = fd;
	CTL_LOG(INFO, "control daemon connected");
	if (dp_ctl_handle(&h, dp_ctl.buf) != 0)
		dp_ctl_close_conn();
}

static void *
dp_ctl_loop(__rte_unused void *arg)
{
	urcu_qsbr_register_thread();
	urcu_qsbr_thread_offline();
	while (!dp_ctl.quit) {
		struct pollfd p[4] = {
			{.fd = dp_ctl.listen_fd, .events = POLLIN},
			{.fd = dp_ctl.conn_fd, .events = POLLIN},
			{.fd = dp_ctl.log_fd, .events = POLLIN},
			{.fd = dp_ctl.pending_fd, .events = POLLIN},
		};
		int r = poll(p, 4, 100);

		if (r > 0 && (p[0].revents & POLLIN)) {
			int fd = accept4(dp_ctl.listen_fd, NULL, NULL, SOCK_CLOEXEC);

			if (fd >= 0) {
				if (dp_ctl.pending_fd >= 0)
					close(dp_ctl.pending_fd);
				dp_ctl.pending_fd = fd;
			}
		}
		if (r > 0 && dp_ctl.pending_fd >= 0 &&
			(p[3].revents & (POLLIN | POLLHUP | POLLERR)))
			dp_ctl_adopt_pending();
		if (r > 0 && dp_ctl.log_fd >= 0 && (p[2].revents & (POLLIN | POLLHUP | POLLERR))) {
			/* The subscriber sends nothing: readable means gone. */
			CTL_LOG(INFO, "decision log subscriber gone");
			proxy_log_enable(false);
			close(dp_ctl.log_fd);
			dp_ctl.log_fd = -1;
		}
		if (r > 0 && dp_ctl.conn_fd >= 0 && (p[1].revents & (POLLIN | POLLHUP | POLLERR))) {
			struct ctl_msg_hdr h;
			int ret = dp_ctl_read_frame(dp_ctl.conn_fd, &h);

			if (ret == 0)
				ret = dp_ctl_handle(&h, dp_ctl.buf);
			if (ret != 0) {
				if (ret != -ECONNRESET)
					CTL_LOG(WARNING, "control connection: %s", strerror(-ret));
				dp_ctl_close_conn();
			}
		}
		dp_ctl_log_flush();
	}
	dp_ctl_close_conn();
	if (dp_ctl.log_fd >= 0) {
		proxy_log_enable(false);
		close(dp_ctl.log_fd);
		dp_ctl.log_fd = -1;
	}
	if (dp_ctl.pending_fd >= 0) {
		close(dp_ctl.pending_fd);
		dp_ctl.pending_fd = -1;
	}
	urcu_qsbr_thread_online();
	urcu_qsbr_unregister_thread();
	return NULL;
}

int
dp_ctl_init(void)
{
	struct rcpt_key key;

	if (dp_ctl.dir != NULL)
		return 0;
	/* A per-boot secret: digests cannot be precomputed or compared across boxes. */
	if (getrandom(&key, sizeof(key), 0) != (ssize_t) sizeof(key))
		return -EIO;
	dp_ctl.dir = rcpt_tbl_create(&key);
	if (dp_ctl.dir == NULL)
		return -ENOMEM;
	if (policy_harvest_init(&dp_ctl.harvest, DP_CTL_HARVEST_LOG2,
		    key.k0 ^ 0x9e3779b97f4a7c15ull, key.k1 ^ 0xc2b2ae3d27d4eb4full) != 0) {
		rcpt_tbl_destroy(dp_ctl.dir);
		dp_ctl.dir = NULL;
		return -ENOMEM;
	}
	if (out_buckets_init(&dp_ctl.out_buckets, OUT_BUCKET_LOG2, key.k0 ^ 0x5851f42d4c957f2dull,
		    key.k1 ^ 0x14057b7ef767814full) != 0) {
		policy_harvest_fini(&dp_ctl.harvest);
		rcpt_tbl_destroy(dp_ctl.dir);
		dp_ctl.dir = NULL;
		return -ENOMEM;
	}
	return 0;
}

int
dp_ctl_start(const char *path)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int ret;

	if (strlen(path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	ret = dp_ctl_init();
	if (ret != 0)
		return ret;
	dp_ctl.buf = malloc(CTL_PROTO_MAX_FRAME);
	dp_ctl.logbuf = calloc(DP_CTL_LOG_BATCH, sizeof(*dp_ctl.logbuf));
	if (dp_ctl.buf == NULL || dp_ctl.logbuf == NULL)
		return -ENOMEM;
	memcpy(sa.sun_path, path, strlen(path) + 1);
	snprintf(dp_ctl.path, sizeof(dp_ctl.path), "%s", path);
	dp_ctl.listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (dp_ctl.listen_fd < 0)
		return -errno;
	(void) unlink(path);
	if (bind(dp_ctl.listen_fd, (struct sockaddr *) &sa, sizeof(sa)) != 0 ||
		chmod(path, 0660) != 0 || listen(dp_ctl.listen_fd, 4) != 0) {
		ret = -errno;
		close(dp_ctl.listen_fd);
		dp_ctl.listen_fd = -1;
		return ret;
	}
	ret = rte_ctrl_thread_create(&dp_ctl.tid, "ndg-ctl", NULL, dp_ctl_loop, NULL);
	if (ret != 0) {
		close(dp_ctl.listen_fd);
		dp_ctl.listen_fd = -1;
		return ret > 0 ? -ret : ret;
	}
	CTL_LOG(INFO, "control socket %s", path);
	return 0;
}

void
dp_ctl_stop(void)
{
	struct dp_cfg *c;

	if (dp_ctl.listen_fd >= 0) {
		dp_ctl.quit = true;
		pthread_join(dp_ctl.tid, NULL);
		close(dp_ctl.listen_fd);
		(void) unlink(dp_ctl.path);
		dp_ctl.listen_fd = -1;
	}
	/* Workers have returned: nobody reads any more. */
	c = rcu_xchg_pointer(&dp_cfg_cur, NULL);
	urcu_qsbr_barrier();
	dp_cfg_release(c);
	if (dp_ctl.dir != NULL) {
		rcpt_tbl_destroy(dp_ctl.dir);
		dp_ctl.dir = NULL;
	}
	policy_harvest_fini(&dp_ctl.harvest);
	out_buckets_fini(&dp_ctl.out_buckets);
	free(dp_ctl.buf);
	dp_ctl.buf = NULL;
	free(dp_ctl.logbuf);
	dp_ctl.logbuf = NULL;
}
