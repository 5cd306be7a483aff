/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * What an administrator watches and switches at run time: the decision stream (the last
 * records for `ndrctl log tail`, live followers, journald under systemd or stderr), the
 * sources with the most rejects (`ndrctl sources`, `ndrctl top`), rule modes (`ndrctl rule`)
 * and block expiry (`ndrctl block add --ttl`). What ndrctl sets is kept in files beside the
 * directory snapshot, like the runtime blocks. Main thread only.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <syslog.h>
#include <unistd.h>

#include <systemd/sd-journal.h>

#include "log.h"
#include "ndrguardd.h"
#include "obs.h"
#include "out_alarm.h"
#include "xdp.h"

#define OBS_RECENT	  10000 /* records kept for log tail */
#define OBS_FOLLOWERS	  16	/* concurrent log tail --follow */
#define OBS_SRC_SLOTS	  8192	/* open addressing, power of two */
#define OBS_SRC_MAX	  4096	/* past this many sources, counts halve and the smallest go */
#define OBS_REASON_MAX	  128
#define OBS_TAIL_DEFAULT  10
#define OBS_FOLLOW_SNDBUF (1 << 20)

struct obs_line {
	char *json;
	char rule[CTL_LOG_RULE_MAX];
};

struct obs_follower {
	int fd;
	char rule[CTL_LOG_RULE_MAX]; /* "" : every rule */
};

struct obs_source {
	uint32_t ip; /* network byte order, 0: free */
	uint64_t rejects;
	uint64_t observed;
	time_t last;
};

struct obs_block {
	char net[32];
	time_t expires; /* 0: until deleted */
	char reason[OBS_REASON_MAX];
};

struct ctld_obs {
	struct obs_line recent[OBS_RECENT];
	size_t head, n; /* ring: next slot, lines held */
	struct obs_follower fol[OBS_FOLLOWERS];
	size_t nfol;
	char pending_rule[CTL_LOG_RULE_MAX]; /* filter of the follower being set up */
	struct obs_source src[OBS_SRC_SLOTS];
	size_t nsrc;
	struct obs_block *blocks;
	size_t nblocks;
	int8_t rule_set[CONF_RULE_MAX]; /* -1: as configured; else enum conf_mode from ndrctl */
	enum conf_mode conf_modes[CONF_RULE_MAX]; /* what the file says */
	bool journal;				  /* journald reachable: run by systemd */
};

/* The dataplane's name of each rule (decision records, counters), by enum conf_rule. */
static const char *const obs_rule_dp[CONF_RULE_MAX] = {
	[CONF_RULE_BLOCKLIST] = "blocklist",
	[CONF_RULE_CONCURRENCY] = "conn_limit",
	[CONF_RULE_EARLY_TALKER] = "early_talker",
	[CONF_RULE_RELAY] = "relay_denied",
	[CONF_RULE_RELAY_BYPASS] = "relay_bypass",
	[CONF_RULE_MULTI_BOUNCE] = "null_multi_rcpt",
	[CONF_RULE_BATV] = "batv_invalid",
	[CONF_RULE_NEVER_BOUNCE] = "never_bounce",
	[CONF_RULE_UNKNOWN_RCPT] = "unknown_user",
	[CONF_RULE_HARVEST] = "harvest",
	[CONF_RULE_OUT_RELAY] = "out_relay_denied",
	[CONF_RULE_OUT_SENDER] = "out_foreign_sender",
	[CONF_RULE_OUT_SENDER_RATE] = "out_sender_rate",
	[CONF_RULE_OUT_HOST_RATE] = "out_host_rate",
	[CONF_RULE_OUT_NDR] = "out_ndr_limit",
};

static const char *const obs_outcomes[] = {"accept", "reject", "observe"};

/* A rule by its configuration name or its dataplane name. @return it, or -1. */
static int
obs_rule_find(const char *name)
{
	for (int i = 0; i < CONF_RULE_MAX; i++)
		if (strcmp(name, conf_rule_name((enum conf_rule) i)) == 0 ||
			strcmp(name, obs_rule_dp[i]) == 0)
			return i;
	return -1;
}

static void
obs_path(const struct ctld *d, const char *suffix, char *buf, size_t size)
{
	snprintf(buf, size, "%s%s", d->conf->snapshot_path, suffix);
}

/* Close the memstream <f> holding <*text> and replace the file beside the snapshot named by
 * <suffix> with it (dir_file_replace: temporary file, fsync, rename). Frees <*text>. */
static int
obs_save(const struct ctld *d, const char *suffix, FILE *f, char **text, size_t *len)
{
	char path[CONF_PATH_MAX + 16];
	int ret;

	if (fclose(f) != 0) {
		free(*text);
		return -ENOMEM;
	}
	obs_path(d, suffix, path, sizeof(path));
	ret = dir_file_replace(path, *text, *len);
	free(*text);
	return ret;
}

/* ---- rule modes ---- */

static int
obs_rules_write(const struct ctld *d)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	if (f == NULL)
		return -ENOMEM;
	fputs("# ndrctl rule: modes set at run time, over the configuration\n", f);
	for (int i = 0; i < CONF_RULE_MAX; i++)
		if (d->obs->rule_set[i] >= 0)
			fprintf(f, "%s %s\n", conf_rule_name((enum conf_rule) i),
				conf_mode_name((enum conf_mode) d->obs->rule_set[i]));
	return obs_save(d, ".rules", f, &text, &len);
}

static void
obs_rules_read(struct ctld *d)
{
	char path[CONF_PATH_MAX + 16], line[128], name[64], mode[16];
	FILE *f;

	obs_path(d, ".rules", path, sizeof(path));
	f = fopen(path, "r");
	if (f == NULL)
		return;
	while (fgets(line, sizeof(line), f) != NULL) {
		int r;

		if (line[0] == '#' || sscanf(line, "%63s %15s", name, mode) != 2)
			continue;
		r = obs_rule_find(name);
		if (r < 0)
			continue;
		if (strcmp(mode, "observe") == 0)
			d->obs->rule_set[r] = CONF_MODE_OBSERVE;
		else if (strcmp(mode, "enforce") == 0)
			d->obs->rule_set[r] = CONF_MODE_ENFORCE;
	}
	fclose(f);
}

void
obs_conf_loaded(struct ctld *d)
{
	if (d->obs == NULL)
		return;
	for (int i = 0; i < CONF_RULE_MAX; i++) {
		d->obs->conf_modes[i] = d->conf->modes[i];
		if (d->obs->rule_set[i] >= 0)
			d->conf->modes[i] = (enum conf_mode) d->obs->rule_set[i];
	}
}

/* "policy_<rule>_<outcome> N" from the dataplane's counters, 0 when absent. */
static uint64_t
obs_stat(const char *stats, const char *rule, const char *outcome)
{
	char key[80];
	const char *p;
	size_t kl;

	kl = (size_t) snprintf(key, sizeof(key), "policy_%s_%s ", rule, outcome);
	for (p = stats; p != NULL && *p != '\0'; p = strchr(p, '\n'), p = p ? p + 1 : NULL)
		if (strncmp(p, key, kl) == 0)
			return strtoull(p + kl, NULL, 10);
	return 0;
}

static int
obs_cmd_rule(struct ctld *d, int argc, char **argv, FILE *out)
{
	int r;

	if (argc == 2 && strcmp(argv[1], "list") == 0) {
		char *stats = malloc(256 * 1024);
		bool have = stats != NULL && ctld_dp_stats(d, stats, 256 * 1024) > 0;

		fprintf(out, "%-24s %-8s %-14s %10s %10s\n", "RULE", "MODE", "SET BY", "REJECTED",
			"OBSERVED");
		for (int i = 0; i < CONF_RULE_MAX; i++) {
			const char *set = d->obs->rule_set[i] >= 0 ? "ndrctl" : "configuration";

			fprintf(out, "%-24s %-8s %-14s %10" PRIu64 " %10" PRIu64 "%s\n",
				conf_rule_name((enum conf_rule) i),
				conf_mode_name(d->conf->modes[i]), set,
				have ? obs_stat(stats, obs_rule_dp[i], "reject") : 0,
				have ? obs_stat(stats, obs_rule_dp[i], "observe") : 0,
				i == CONF_RULE_RELAY_BYPASS ? "  (always enforced)" : "");
		}
		free(stats);
		return have ? 0 : 1;
	}
	if (argc != 3)
		return 2;
	r = obs_rule_find(argv[1]);
	if (r < 0) {
		fprintf(out, "%s: unknown rule; see ndrctl rule list\n", argv[1]);
		return 1;
	}
	{
		enum conf_mode before = d->conf->modes[r];
		int ret;

		if (strcmp(argv[2], "observe") == 0)
			d->obs->rule_set[r] = CONF_MODE_OBSERVE;
		else if (strcmp(argv[2], "enforce") == 0)
			d->obs->rule_set[r] = CONF_MODE_ENFORCE;
		else if (strcmp(argv[2], "default") == 0)
			d->obs->rule_set[r] = -1;
		else
			return 2;
		d->conf->modes[r] = d->obs->rule_set[r] >= 0 ? (enum conf_mode) d->obs->rule_set[r]
							     : d->obs->conf_modes[r];
		ret = obs_rules_write(d);
		if (ret != 0)
			fprintf(out, "warning: not saved: %s\n", strerror(-ret));
		d->conf_gen = ctld_config_digest(d);
		if (d->dp_fd >= 0)
			(void) ctld_dp_sync(d);
		log_info("rule %s: %s (was %s), set by ndrctl", conf_rule_name((enum conf_rule) r),
			conf_mode_name(d->conf->modes[r]), conf_mode_name(before));
		fprintf(out, "%s: %s (was %s)%s%s\n", conf_rule_name((enum conf_rule) r),
			conf_mode_name(d->conf->modes[r]), conf_mode_name(before),
			r == CONF_RULE_RELAY_BYPASS ? "; relay-bypass forms are always refused"
						    : "",
			d->dp_fd >= 0 && d->dp_config_gen == d->conf_gen
				? ""
				: " (dataplane not in sync yet)");
	}
	return 0;
}

/* ---- blocks with expiry ---- */

static struct obs_block *
obs_block_get(const struct ctld *d, const char *net)
{
	for (size_t i = 0; i < d->obs->nblocks; i++)
		if (strcmp(d->obs->blocks[i].net, net) == 0)
			return &d->obs->blocks[i];
	return NULL;
}

static int
obs_blocks_write(const struct ctld *d)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	if (f == NULL)
		return -ENOMEM;
	fputs("# ndrctl block add: NET EXPIRES(unix time, 0 never) REASON\n", f);
	for (size_t i = 0; i < d->obs->nblocks; i++)
		fprintf(f, "%s %lld %s\n", d->obs->blocks[i].net,
			(long long) d->obs->blocks[i].expires, d->obs->blocks[i].reason);
	return obs_save(d, ".blocks.meta", f, &text, &len);
}

static struct obs_block *
obs_block_new(struct ctld *d, const char *net)
{
	struct obs_block *b = obs_block_get(d, net), *v;

	if (b != NULL)
		return b;
	v = realloc(d->obs->blocks, (d->obs->nblocks + 1) * sizeof(*v));
	if (v == NULL)
		return NULL;
	d->obs->blocks = v;
	b = &v[d->obs->nblocks++];
	memset(b, 0, sizeof(*b));
	snprintf(b->net, sizeof(b->net), "%s", net);
	return b;
}

static void
obs_blocks_read(struct ctld *d)
{
	char path[CONF_PATH_MAX + 16], line[256];
	FILE *f;

	obs_path(d, ".blocks.meta", path, sizeof(path));
	f = fopen(path, "r");
	if (f == NULL)
		return;
	while (fgets(line, sizeof(line), f) != NULL) {
		char net[32];
		long long exp;
		int off = 0;
		struct obs_block *b;

		line[strcspn(line, "\r\n")] = '\0';
		if (line[0] == '#' || sscanf(line, "%31s %lld %n", net, &exp, &off) < 2)
			continue;
		/* Only blocks still in the runtime blocklist. */
		if (!dir_set_has(&d->blocks, net) || (b = obs_block_new(d, net)) == NULL)
			continue;
		b->expires = (time_t) exp;
		snprintf(b->reason, sizeof(b->reason), "%s", off > 0 ? line + off : "");
	}
	fclose(f);
}

int
obs_block_options(struct ctld *d, const char *net, int argc, char **argv, FILE *out)
{
	uint32_t ttl_ms = 0;
	const char *reason = NULL;
	struct obs_block *b;
	int ret;

	for (int i = 0; i < argc; i++) {
		if ((strcmp(argv[i], "--ttl") == 0 || strcmp(argv[i], "-t") == 0) && i + 1 < argc) {
			if (conf_parse_duration(argv[++i], &ttl_ms) != 0 || ttl_ms < 1000) {
				fprintf(out, "%s: not a duration of at least 1s (30s, 10m, 2h)\n",
					argv[i]);
				return 2;
			}
		} else if (strcmp(argv[i], "--reason") == 0 && i + 1 < argc) {
			reason = argv[++i];
		} else {
			fprintf(out, "%s: block add takes --ttl DURATION and --reason TEXT\n",
				argv[i]);
			return 2;
		}
	}
	b = obs_block_new(d, net);
	if (b == NULL)
		return 1;
	b->expires = ttl_ms ? time(NULL) + (time_t) ((ttl_ms + 999) / 1000) : 0;
	b->reason[0] = '\0';
	if (reason != NULL) {
		size_t o = 0;

		/* One line in the file and in the listing, whatever was typed. */
		for (size_t k = 0; reason[k] != '\0' && o + 1 < sizeof(b->reason); k++)
			b->reason[o++] = (unsigned char) reason[k] < 0x20 ? ' ' : reason[k];
		b->reason[o] = '\0';
	}
	ret = obs_blocks_write(d);
	if (ret != 0)
		fprintf(out, "warning: expiry not saved: %s\n", strerror(-ret));
	return 0;
}

void
obs_block_forget(struct ctld *d, const char *net)
{
	struct obs_block *b = obs_block_get(d, net);

	if (b == NULL)
		return;
	*b = d->obs->blocks[--d->obs->nblocks];
	(void) obs_blocks_write(d);
}

static void
obs_duration(long long s, char *buf, size_t size)
{
	if (s >= 86400)
		snprintf(buf, size, "%lldd%02lldh", s / 86400, s % 86400 / 3600);
	else if (s >= 3600)
		snprintf(buf, size, "%lldh%02lldm", s / 3600, s % 3600 / 60);
	else if (s >= 60)
		snprintf(buf, size, "%lldm%02llds", s / 60, s % 60);
	else
		snprintf(buf, size, "%llds", s);
}

uint32_t
obs_block_ttl(const struct ctld *d, const char *net, time_t now)
{
	const struct obs_block *b = d->obs ? obs_block_get(d, net) : NULL;

	if (b == NULL || b->expires == 0)
		return 0;
	return b->expires > now ? (uint32_t) (b->expires - now) : 1;
}

void
obs_block_describe(const struct ctld *d, const char *net, time_t now, char *buf, size_t size)
{
	const struct obs_block *b = d->obs ? obs_block_get(d, net) : NULL;
	char left[32];

	buf[0] = '\0';
	if (b == NULL)
		return;
	if (b->expires != 0) {
		obs_duration(b->expires > now ? (long long) (b->expires - now) : 0, left,
			sizeof(left));
		snprintf(buf, size, "  expires in %s%s%s", left, b->reason[0] ? "  reason: " : "",
			b->reason);
	} else if (b->reason[0] != '\0') {
		snprintf(buf, size, "  reason: %s", b->reason);
	}
}

void
obs_tick(struct ctld *d, time_t now)
{
	bool changed = false;

	if (d->obs == NULL)
		return;
	for (size_t i = 0; i < d->obs->nblocks;) {
		struct obs_block *b = &d->obs->blocks[i];

		if (b->expires == 0 || b->expires > now) {
			i++;
			continue;
		}
		log_info("block %s expired: lifted%s%s", b->net,
			b->reason[0] ? "; reason was: " : "", b->reason);
		(void) dir_set_del(&d->blocks, b->net);
		(void) xdp_block_del(b->net); /* its XDP entry has the same expiry: be exact */
		*b = d->obs->blocks[--d->obs->nblocks];
		changed = true;
	}
	if (!changed)
		return;
	(void) obs_blocks_write(d);
	(void) ctld_blocks_write(d);
	d->conf_gen = ctld_config_digest(d);
	if (d->dp_fd >= 0)
		(void) ctld_dp_sync(d);
}

/* ---- decision stream ---- */

static uint32_t
obs_src_slot(uint32_t ip)
{
	return (ip * 2654435761u) & (OBS_SRC_SLOTS - 1);
}

static struct obs_source *
obs_src_get(struct ctld_obs *o, uint32_t ip)
{
	uint32_t i = obs_src_slot(ip);

	for (;; i = (i + 1) & (OBS_SRC_SLOTS - 1)) {
		if (o->src[i].ip == ip)
			return &o->src[i];
		if (o->src[i].ip == 0)
			break;
	}
	if (o->nsrc >= OBS_SRC_MAX)
		return NULL;
	o->src[i].ip = ip;
	o->nsrc++;
	return &o->src[i];
}

/* Full: halve every count and forget the sources left at zero (old, small offenders). */
static void
obs_src_decay(struct ctld_obs *o)
{
	static struct obs_source keep[OBS_SRC_MAX];
	size_t n = 0;

	for (size_t i = 0; i < OBS_SRC_SLOTS; i++) {
		struct obs_source *s = &o->src[i];

		if (s->ip == 0)
			continue;
		s->rejects /= 2;
		s->observed /= 2;
		if (s->rejects + s->observed != 0 && n < OBS_SRC_MAX)
			keep[n++] = *s;
	}
	memset(o->src, 0, sizeof(o->src));
	o->nsrc = 0;
	for (size_t i = 0; i < n; i++) {
		struct obs_source *s = obs_src_get(o, keep[i].ip);

		if (s != NULL)
			*s = keep[i];
	}
}

static void
obs_follower_drop(struct ctld_obs *o, size_t i)
{
	close(o->fol[i].fd);
	o->fol[i] = o->fol[--o->nfol];
}

/* A journal field value: printable, one line. */
static void
obs_field(char *dst, size_t size, const char *src, size_t max)
{
	size_t o = 0;

	for (size_t i = 0; i < max && src[i] != '\0' && o + 1 < size; i++)
		dst[o++] = (unsigned char) src[i] < 0x20 || (unsigned char) src[i] == 0x7f ? '?'
											   : src[i];
	dst[o] = '\0';
}

static void
obs_journal(const struct ctl_log_rec *r, const char *json)
{
	char helo[CTL_LOG_HELO_MAX + 1], sender[CTL_LOG_ADDR_MAX + 1], rcpt[CTL_LOG_ADDR_MAX + 1];
	char rule[CTL_LOG_RULE_MAX + 1], ip[INET_ADDRSTRLEN], enh[9];
	char tls[sizeof(r->tls_version) + sizeof(r->tls_cipher) + 2];
	struct in_addr a = {.s_addr = r->client_ip};

	inet_ntop(AF_INET, &a, ip, sizeof(ip));
	obs_field(helo, sizeof(helo), r->helo, sizeof(r->helo));
	obs_field(sender, sizeof(sender), r->sender, sizeof(r->sender));
	obs_field(rcpt, sizeof(rcpt), r->rcpt, sizeof(r->rcpt));
	obs_field(rule, sizeof(rule), r->rule, sizeof(r->rule));
	obs_field(enh, sizeof(enh), r->enh, sizeof(r->enh));
	/* "TLSv1.3 TLS_AES_256_GCM_SHA384", or "" for a plaintext session. */
	(void) snprintf(tls, sizeof(tls), "%.*s%s%.*s",
		(int) strnlen(r->tls_version, sizeof(r->tls_version)), r->tls_version,
		r->tls_version[0] ? " " : "", (int) strnlen(r->tls_cipher, sizeof(r->tls_cipher)),
		r->tls_cipher);
	obs_field(tls, sizeof(tls), tls, sizeof(tls));
	(void) sd_journal_send("MESSAGE=%s", json, "PRIORITY=%d",
		r->outcome == 1 ? LOG_NOTICE : LOG_INFO, "SYSLOG_IDENTIFIER=ndrguard-control",
		"NDRGUARD_RULE=%s", rule, "NDRGUARD_OUTCOME=%s",
		r->outcome < 3 ? obs_outcomes[r->outcome] : "?", "NDRGUARD_CLIENT=%s", ip,
		"NDRGUARD_HELO=%s", helo, "NDRGUARD_SENDER=%s", sender, "NDRGUARD_RCPT=%s", rcpt,
		"NDRGUARD_REPLY=%u%s%s", r->code, enh[0] ? " " : "", enh,
		/* Only TLS sessions get the field: a NULL here ends the list. */
		tls[0] != '\0' ? "NDRGUARD_TLS=%s" : NULL, tls, NULL);
}

void
obs_record(struct ctld *d, const struct ctl_log_rec *r, const char *json)
{
	struct ctld_obs *o = d->obs;
	struct obs_line *l;
	size_t len = strlen(json);

	if (o == NULL)
		return;
	l = &o->recent[o->head];
	free(l->json);
	l->json = strdup(json);
	memcpy(l->rule, r->rule, sizeof(l->rule));
	l->rule[sizeof(l->rule) - 1] = '\0';
	o->head = (o->head + 1) % OBS_RECENT;
	if (o->n < OBS_RECENT)
		o->n++;
	(void) out_alarm_record(r, time(NULL));

	if (r->outcome != 0) {
		struct obs_source *s = obs_src_get(o, r->client_ip);

		if (s == NULL) {
			obs_src_decay(o);
			s = obs_src_get(o, r->client_ip);
		}
		if (s != NULL) {
			if (r->outcome == 1)
				s->rejects++;
			else
				s->observed++;
			s->last = time(NULL);
		}
	}

	for (size_t i = 0; i < o->nfol;) {
		struct {
			struct ctl_msg_hdr h;
			struct ctl_cmd_reply c;
		} head = {
			.h = {.version = CTL_PROTO_VERSION,
				.type = CTL_MSG_CMD_REPLY,
				.len = (uint32_t) (sizeof(struct ctl_cmd_reply) + len + 1),
				.flags = CTL_FLAG_REPLY},
		};
		struct iovec iov[3] = {{&head, sizeof(head)}, {(void *) json, len}, {"\n", 1}};
		struct msghdr m = {.msg_iov = iov, .msg_iovlen = 3};
		ssize_t w;

		if (o->fol[i].rule[0] != '\0' && strcmp(o->fol[i].rule, l->rule) != 0) {
			i++;
			continue;
		}
		/* Never block the daemon on a slow reader: it loses its follow instead. */
		w = sendmsg(o->fol[i].fd, &m, MSG_DONTWAIT | MSG_NOSIGNAL);
		if (w != (ssize_t) (sizeof(head) + len + 1)) {
			obs_follower_drop(o, i);
			continue;
		}
		i++;
	}

	if (d->conf->decision_journal) {
		if (o->journal)
			obs_journal(r, json);
		else
			fprintf(stderr, "decision %s\n", json);
	}
}

/* Map a --rule argument to the name in the records. */
static void
obs_rule_filter(const char *arg, char *out, size_t size)
{
	int r = obs_rule_find(arg);

	snprintf(out, size, "%s", r >= 0 ? obs_rule_dp[r] : arg);
}

static int
obs_cmd_log(struct ctld *d, int argc, char **argv, FILE *out, bool *keep_fd)
{
	struct ctld_obs *o = d->obs;
	char rule[CTL_LOG_RULE_MAX] = "";
	unsigned long want = OBS_TAIL_DEFAULT;
	bool follow = false;
	size_t shown = 0, start;

	if (argc < 2 || strcmp(argv[1], "tail") != 0)
		return 2;
	for (int i = 2; i < argc; i++) {
		char *end;

		if (strcmp(argv[i], "--follow") == 0 || strcmp(argv[i], "-f") == 0) {
			follow = true;
		} else if (strcmp(argv[i], "--rule") == 0 && i + 1 < argc) {
			obs_rule_filter(argv[++i], rule, sizeof(rule));
		} else if (strcmp(argv[i], "-n") == 0 && i + 1 < argc) {
			want = strtoul(argv[++i], &end, 10);
			if (*end != '\0' || want > OBS_RECENT)
				return 2;
		} else {
			return 2;
		}
	}
	/* The newest <want> matching records, oldest first. */
	start = o->n;
	for (size_t k = 0; k < o->n && shown < want; k++) {
		const struct obs_line *l = &o->recent[(o->head + OBS_RECENT - 1 - k) % OBS_RECENT];

		if (rule[0] == '\0' || strcmp(rule, l->rule) == 0) {
			shown++;
			start = k;
		}
	}
	for (size_t k = shown ? start + 1 : 0; k-- > 0;) {
		const struct obs_line *l = &o->recent[(o->head + OBS_RECENT - 1 - k) % OBS_RECENT];

		if (rule[0] == '\0' || strcmp(rule, l->rule) == 0)
			fprintf(out, "%s\n", l->json);
	}
	if (follow) {
		if (o->nfol == OBS_FOLLOWERS) {
			/* Make room by dropping followers that went away. */
			for (size_t i = 0; i < o->nfol;) {
				struct pollfd p = {.fd = o->fol[i].fd, .events = POLLIN};

				if (poll(&p, 1, 0) > 0)
					obs_follower_drop(o, i);
				else
					i++;
			}
		}
		if (o->nfol == OBS_FOLLOWERS) {
			fprintf(out, "too many followers (%d)\n", OBS_FOLLOWERS);
			return 1;
		}
		memcpy(o->pending_rule, rule, sizeof(rule));
		*keep_fd = true;
	}
	return 0;
}

void
obs_follow_start(struct ctld *d, int fd)
{
	struct ctld_obs *o = d->obs;
	int sndbuf = OBS_FOLLOW_SNDBUF;

	if (o == NULL || o->nfol == OBS_FOLLOWERS) {
		close(fd);
		return;
	}
	(void) setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf));
	o->fol[o->nfol].fd = fd;
	memcpy(o->fol[o->nfol].rule, o->pending_rule, sizeof(o->pending_rule));
	o->nfol++;
}

static int
obs_src_cmp(const void *a, const void *b)
{
	const struct obs_source *x = a, *y = b;
	uint64_t vx = x->rejects + x->observed, vy = y->rejects + y->observed;

	return (vx < vy) - (vx > vy);
}

static int
obs_cmd_sources(struct ctld *d, int argc, char **argv, FILE *out)
{
	struct ctld_obs *o = d->obs;
	struct obs_source *v;
	unsigned long want = 10;
	size_t n = 0;
	time_t now = time(NULL);

	if (argc == 3 && strcmp(argv[1], "-n") == 0) {
		char *end;

		want = strtoul(argv[2], &end, 10);
		if (*end != '\0')
			return 2;
	} else if (argc != 1) {
		return 2;
	}
	v = malloc(sizeof(*v) * (o->nsrc ? o->nsrc : 1));
	if (v == NULL)
		return 1;
	for (size_t i = 0; i < OBS_SRC_SLOTS; i++)
		if (o->src[i].ip != 0)
			v[n++] = o->src[i];
	qsort(v, n, sizeof(*v), obs_src_cmp);
	fprintf(out, "%-16s %10s %10s %s\n", "SOURCE", "REJECTED", "OBSERVED", "LAST");
	for (size_t i = 0; i < n && i < want; i++) {
		char ip[INET_ADDRSTRLEN], ago[32];
		struct in_addr a = {.s_addr = v[i].ip};

		inet_ntop(AF_INET, &a, ip, sizeof(ip));
		obs_duration(now > v[i].last ? (long long) (now - v[i].last) : 0, ago, sizeof(ago));
		fprintf(out, "%-16s %10" PRIu64 " %10" PRIu64 " %s ago\n", ip, v[i].rejects,
			v[i].observed, ago);
	}
	free(v);
	return 0;
}

int
obs_command(struct ctld *d, int fd, int argc, char **argv, FILE *out, bool *keep_fd)
{
	static const struct {
		const char *verb, *usage;
	} usages[] = {
		{"rule", "usage: ndrctl rule RULE enforce|observe|default, or ndrctl rule list"},
		{"log", "usage: ndrctl log tail [-n N] [--rule RULE] [--follow]"},
		{"sources", "usage: ndrctl sources [-n N]"},
	};
	int ret = -1;

	(void) fd;
	if (d->obs == NULL)
		return -1;
	if (strcmp(argv[0], "rule") == 0)
		ret = obs_cmd_rule(d, argc, argv, out);
	else if (strcmp(argv[0], "log") == 0)
		ret = obs_cmd_log(d, argc, argv, out, keep_fd);
	else if (strcmp(argv[0], "sources") == 0)
		ret = obs_cmd_sources(d, argc, argv, out);
	for (size_t i = 0; ret == 2 && i < sizeof(usages) / sizeof(usages[0]); i++)
		if (strcmp(argv[0], usages[i].verb) == 0)
			fprintf(out, "%s\n", usages[i].usage);
	return ret;
}

int
obs_init(struct ctld *d)
{
	const char *js = getenv("JOURNAL_STREAM"), *inv = getenv("INVOCATION_ID");

	d->obs = calloc(1, sizeof(*d->obs));
	if (d->obs == NULL)
		return -ENOMEM;
	for (int i = 0; i < CONF_RULE_MAX; i++)
		d->obs->rule_set[i] = -1;
	/* sd_journal_send() succeeds even with nobody listening: trust only a service
	 * manager's word plus a journal socket that is there. */
	d->obs->journal =
		(js != NULL || inv != NULL) && access("/run/systemd/journal/socket", W_OK) == 0;
	obs_rules_read(d);
	obs_conf_loaded(d);
	obs_blocks_read(d);
	log_info("decision stream: %s", !d->conf->decision_journal ? "file only"
					: d->obs->journal	   ? "file and the journal"
							  : "file and stderr (no journal)");
	return 0;
}

void
obs_fini(struct ctld *d)
{
	if (d->obs == NULL)
		return;
	while (d->obs->nfol > 0)
		obs_follower_drop(d->obs, 0);
	for (size_t i = 0; i < OBS_RECENT; i++)
		free(d->obs->recent[i].json);
	free(d->obs->blocks);
	free(d->obs);
	d->obs = NULL;
}
