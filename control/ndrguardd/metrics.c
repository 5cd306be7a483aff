/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * /metrics: names under ndrguard_, base units, _total on counters, no unbounded labels
 * (never an address or an IP as a label value).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <microhttpd.h>

#include "ctl_proto-t.h"
#include "lsrc.h"
#include "metrics.h"
#include "ndrguardd.h"
#include "out_alarm.h"

static struct {
	struct MHD_Daemon *mhd;
	pthread_mutex_t lock;
	char *page;
	size_t len;
} metrics = {.lock = PTHREAD_MUTEX_INITIALIZER};

static enum MHD_Result
metrics_answer(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
	const char *version, const char *upload, size_t *upload_size, void **req_cls)
{
	struct MHD_Response *r;
	enum MHD_Result ret;
	unsigned int status = MHD_HTTP_OK;

	(void) cls;
	(void) version;
	(void) upload;
	(void) upload_size;
	(void) req_cls;
	if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0)
		return MHD_NO;
	pthread_mutex_lock(&metrics.lock);
	if (strcmp(url, "/metrics") == 0 && metrics.page != NULL) {
		r = MHD_create_response_from_buffer(metrics.len, metrics.page,
			MHD_RESPMEM_MUST_COPY);
	} else {
		static const char nf[] = "not found: try /metrics\n";

		status = MHD_HTTP_NOT_FOUND;
		r = MHD_create_response_from_buffer(sizeof(nf) - 1, (void *) nf,
			MHD_RESPMEM_PERSISTENT);
	}
	pthread_mutex_unlock(&metrics.lock);
	if (r == NULL)
		return MHD_NO;
	MHD_add_response_header(r, "Content-Type", "text/plain; version=0.0.4; charset=utf-8");
	ret = MHD_queue_response(conn, status, r);
	MHD_destroy_response(r);
	return ret;
}

int
metrics_start(const char *listen)
{
	struct sockaddr_in sa = {.sin_family = AF_INET};
	char host[INET_ADDRSTRLEN];
	const char *colon = strrchr(listen, ':');
	char *end;
	unsigned long port;

	if (colon == NULL || (size_t) (colon - listen) >= sizeof(host))
		return -EINVAL;
	memcpy(host, listen, (size_t) (colon - listen));
	host[colon - listen] = '\0';
	port = strtoul(colon + 1, &end, 10);
	if (*end != '\0' || port == 0 || port > 65535 ||
		inet_pton(AF_INET, host, &sa.sin_addr) != 1)
		return -EINVAL;
	sa.sin_port = htons((uint16_t) port);
	metrics.mhd = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG,
		(uint16_t) port, NULL, NULL, metrics_answer, NULL, MHD_OPTION_SOCK_ADDR, &sa,
		MHD_OPTION_CONNECTION_LIMIT, 16u, MHD_OPTION_CONNECTION_TIMEOUT, 10u,
		MHD_OPTION_END);
	return metrics.mhd != NULL ? 0 : -EADDRINUSE;
}

void
metrics_stop(void)
{
	if (metrics.mhd != NULL)
		MHD_stop_daemon(metrics.mhd);
	metrics.mhd = NULL;
	free(metrics.page);
	metrics.page = NULL;
}

void
metrics_publish(const char *page, size_t len)
{
	char *copy = malloc(len + 1);

	if (copy == NULL)
		return;
	memcpy(copy, page, len);
	copy[len] = '\0';
	pthread_mutex_lock(&metrics.lock);
	free(metrics.page);
	metrics.page = copy;
	metrics.len = len;
	pthread_mutex_unlock(&metrics.lock);
}

/* Dataplane values that are levels, not counts. */
static bool
metrics_is_gauge(const char *name)
{
	static const char *const gauges[] = {"tcp_conn_active", "tcp_orphans", "config_loaded",
		"directory_loaded_addresses", "decision_log_subscribed", "smtp_listen_port",
		"smtp_config_port", "sessions_active", "tls_sessions_active", "tls_slots",
		"tls_slots_free", "backend_tls_sessions_active", "backend_tls_slots",
		"backend_tls_slots_free", "tls_mem_budget", "tls_mem_in_use", "tls_mem_peak"};

	for (size_t i = 0; i < sizeof(gauges) / sizeof(gauges[0]); i++)
		if (strcmp(name, gauges[i]) == 0)
			return true;
	/* The SMTP engine's pools: element sizes, elements in use and capacity. */
	return strncmp(name, "smtp_mem_", 9) == 0;
}

/* One sample: its family (the name without labels) and its whole line. */
struct metrics_sample {
	char family[96];
	char line[224];
	bool counter;
	unsigned int order;
};

static void
metrics_dp_sample(struct metrics_sample *m, char *name, const char *value)
{
	static const char *const outcomes[] = {"_accept", "_reject", "_observe"};
	size_t n = strlen(name);
	char *us;

	m->counter = true;
	if (strncmp(name, "policy_", 7) == 0) {
		for (size_t i = 0; i < 3; i++) {
			size_t ol = strlen(outcomes[i]);

			if (n > 7 + ol && strcmp(name + n - ol, outcomes[i]) == 0) {
				snprintf(m->family, sizeof(m->family),
					"ndrguard_policy_decisions_total");
				snprintf(m->line, sizeof(m->line),
					"%s{rule=\"%.*s\",outcome=\"%s\"} %s", m->family,
					(int) (n - 7 - ol), name + 7, outcomes[i] + 1, value);
				return;
			}
		}
	}
	if (strncmp(name, "port", 4) == 0 && name[4] >= '0' && name[4] <= '9' &&
		(us = strchr(name, '_')) != NULL) {
		snprintf(m->family, sizeof(m->family), "ndrguard_port_%.60s_total", us + 1);
		snprintf(m->line, sizeof(m->line), "%s{port=\"%.*s\"} %s", m->family,
			(int) (us - name - 4), name + 4, value);
		return;
	}
	if (strncmp(name, "reply_code_", 11) == 0) {
		snprintf(m->family, sizeof(m->family), "ndrguard_smtp_replies_total");
		snprintf(m->line, sizeof(m->line), "%s{code=\"%.3s\"} %s", m->family, name + 11,
			value);
		return;
	}
	/* Backends are few and come from the configuration: a bounded label. */
	if (strncmp(name, "backend_", 8) == 0) {
		static const struct {
			const char *prefix, *family, *result;
		} be[] = {
			{"backend_up_", "ndrguard_backend_up", NULL},
			{"backend_connects_ok_", "ndrguard_backend_connects_total", "ok"},
			{"backend_connects_failed_", "ndrguard_backend_connects_total", "failed"},
		};

		for (size_t i = 0; i < sizeof(be) / sizeof(be[0]); i++) {
			size_t pl = strlen(be[i].prefix);

			if (strncmp(name, be[i].prefix, pl) != 0)
				continue;
			m->counter = be[i].result != NULL;
			snprintf(m->family, sizeof(m->family), "%s", be[i].family);
			if (be[i].result != NULL)
				snprintf(m->line, sizeof(m->line),
					"%s{backend=\"%.40s\",result=\"%s\"} %s", m->family,
					name + pl, be[i].result, value);
			else
				snprintf(m->line, sizeof(m->line), "%s{backend=\"%.40s\"} %s",
					m->family, name + pl, value);
			return;
		}
	}
	/* Backend STARTTLS: failure reasons and versions are fixed sets, bounded labels. */
	if (strncmp(name, "backend_tls_handshake_failures_", 31) == 0) {
		snprintf(m->family, sizeof(m->family),
			"ndrguard_backend_tls_handshake_failures_total");
		snprintf(m->line, sizeof(m->line), "%s{reason=\"%.24s\"} %s", m->family, name + 31,
			value);
		return;
	}
	if (strncmp(name, "backend_tls_handshakes_tls", 26) == 0) {
		snprintf(m->family, sizeof(m->family),
			"ndrguard_backend_tls_handshakes_by_version_total");
		snprintf(m->line, sizeof(m->line), "%s{version=\"TLSv%c.%c\"} %s", m->family,
			name[26], name[27] == '_' ? name[28] : '?', value);
		return;
	}
	/* TLS: failure reasons and versions are fixed sets, bounded labels. */
	if (strncmp(name, "tls_handshake_failures_", 23) == 0) {
		snprintf(m->family, sizeof(m->family), "ndrguard_tls_handshake_failures_total");
		snprintf(m->line, sizeof(m->line), "%s{reason=\"%.24s\"} %s", m->family, name + 23,
			value);
		return;
	}
	if (strncmp(name, "tls_cipher_", 11) == 0) {
		snprintf(m->family, sizeof(m->family), "ndrguard_tls_handshakes_by_cipher_total");
		snprintf(m->line, sizeof(m->line), "%s{cipher=\"%.48s\"} %s", m->family, name + 11,
			value);
		return;
	}
	if (strncmp(name, "tls_handshakes_tls", 18) == 0) {
		snprintf(m->family, sizeof(m->family), "ndrguard_tls_handshakes_by_version_total");
		snprintf(m->line, sizeof(m->line), "%s{version=\"TLSv%c.%c\"} %s", m->family,
			name[18], name[19] == '_' ? name[20] : '?', value);
		return;
	}
	m->counter = !metrics_is_gauge(name);
	snprintf(m->family, sizeof(m->family), "ndrguard_dataplane_%.60s%s", name,
		m->counter ? "_total" : "");
	snprintf(m->line, sizeof(m->line), "%s %s", m->family, value);
}

static int
metrics_sample_cmp(const void *a, const void *b)
{
	const struct metrics_sample *x = a, *y = b;
	int c = strcmp(x->family, y->family);

	return c != 0 ? c : (x->order > y->order) - (x->order < y->order);
}

/* Upper bound of histogram bucket <i>, in seconds (layout in ctl_proto-t.h). */
static double
metrics_hist_le(unsigned int i)
{
	unsigned int e;

	if (i == 0)
		return (double) (1ull << CTL_HIST_MIN_LOG2) / 1e9;
	e = CTL_HIST_MIN_LOG2 + (i - 1) / 2;
	return ((double) (1ull << e) + (double) ((i - 1) % 2 + 1) * (double) (1ull << (e - 1))) /
	       1e9;
}

/* ndrguard_rcpt_reply_seconds: the dataplane's RCPT reply latency histogram. */
static void
metrics_hist_render(const uint64_t *hist, uint64_t count, uint64_t sum_ns, FILE *f)
{
	uint64_t cum = 0;

	fputs("# HELP ndrguard_rcpt_reply_seconds Time from a RCPT command's arrival to its "
	      "reply.\n# TYPE ndrguard_rcpt_reply_seconds histogram\n",
		f);
	for (unsigned int i = 0; i < CTL_HIST_BUCKETS; i++) {
		cum += hist[i];
		fprintf(f, "ndrguard_rcpt_reply_seconds_bucket{le=\"%.9g\"} %" PRIu64 "\n",
			metrics_hist_le(i), cum);
	}
	fprintf(f, "ndrguard_rcpt_reply_seconds_bucket{le=\"+Inf\"} %" PRIu64 "\n", count);
	fprintf(f, "ndrguard_rcpt_reply_seconds_sum %.9f\n", (double) sum_ns / 1e9);
	fprintf(f, "ndrguard_rcpt_reply_seconds_count %" PRIu64 "\n", count);
}

/* The text format wants every family's samples together, after its TYPE line. */
static void
metrics_dp_render(const char *dp_stats, FILE *f)
{
	uint64_t hist[CTL_HIST_BUCKETS] = {0}, hcount = 0, hsum = 0;
	struct metrics_sample *m;
	size_t n = 0, cap = 1;

	for (const char *p = dp_stats; *p != '\0'; p++)
		cap += *p == '\n';
	m = calloc(cap, sizeof(*m));
	if (m == NULL)
		return;
	for (const char *p = dp_stats; *p != '\0' && n < cap;) {
		const char *nl = strchr(p, '\n');
		size_t len = nl ? (size_t) (nl - p) : strlen(p);
		char line[160], *sp;

		if (len > 0 && len < sizeof(line)) {
			memcpy(line, p, len);
			line[len] = '\0';
			sp = strchr(line, ' ');
			if (sp != NULL && strncmp(line, "rcpt_reply_", 11) == 0) {
				uint64_t v = strtoull(sp + 1, NULL, 10);
				unsigned long b;

				*sp = '\0';
				if (strcmp(line, "rcpt_reply_count") == 0)
					hcount = v;
				else if (strcmp(line, "rcpt_reply_sum_ns") == 0)
					hsum = v;
				else if (strncmp(line, "rcpt_reply_bucket_", 18) == 0 &&
					 (b = strtoul(line + 18, NULL, 10)) < CTL_HIST_BUCKETS)
					hist[b] = v;
			} else if (sp != NULL) {
				*sp = '\0';
				metrics_dp_sample(&m[n], line, sp + 1);
				m[n].order = (unsigned int) n;
				n++;
			}
		}
		p += len + (nl != NULL);
	}
	qsort(m, n, sizeof(*m), metrics_sample_cmp);
	for (size_t i = 0; i < n; i++) {
		/* Classic text format: TYPE names the samples exactly, _total included. */
		if (i == 0 || strcmp(m[i].family, m[i - 1].family) != 0)
			fprintf(f, "# TYPE %s %s\n", m[i].family,
				m[i].counter ? "counter" : "gauge");
		fprintf(f, "%s\n", m[i].line);
	}
	free(m);
	metrics_hist_render(hist, hcount, hsum, f);
}

void
metrics_render(const struct ctld *d, const char *dp_stats, FILE *f)
{
	time_t now = time(NULL);

	fputs("# HELP ndrguard_info Build information.\n# TYPE ndrguard_info gauge\n"
	      "ndrguard_info{version=\"0.1.0\"} 1\n",
		f);
	fputs("# TYPE ndrguard_dataplane_connected gauge\n", f);
	fprintf(f, "ndrguard_dataplane_connected %d\n", d->dp_fd >= 0);
	fputs("# TYPE ndrguard_directory_addresses gauge\n", f);
	fprintf(f, "ndrguard_directory_addresses %zu\n", d->dir.n);
	fputs("# TYPE ndrguard_directory_last_sync_timestamp_seconds gauge\n", f);
	fprintf(f, "ndrguard_directory_last_sync_timestamp_seconds %lld\n",
		(long long) d->dir_synced);
	fputs("# TYPE ndrguard_directory_age_seconds gauge\n", f);
	fprintf(f, "ndrguard_directory_age_seconds %lld\n",
		d->dir_synced ? (long long) (now - d->dir_synced) : -1LL);
	fputs("# HELP ndrguard_directory_guard_alarm 1 while unknown recipients get 450 4.1.1.\n"
	      "# TYPE ndrguard_directory_guard_alarm gauge\n",
		f);
	fprintf(f, "ndrguard_directory_guard_alarm %d\n", ctld_dir_guard_alarm(d, now));
	fputs("# TYPE ndrguard_directory_sync_failed gauge\n", f);
	fprintf(f, "ndrguard_directory_sync_failed %d\n", d->dir_error[0] != '\0');
	fputs("# TYPE ndrguard_decision_log_records_total counter\n", f);
	fprintf(f, "ndrguard_decision_log_records_total %" PRIu64 "\n", d->dlog_records);
	fputs("# HELP ndrguard_xdp_verdicts_unverified_total Verdicts not sent to XDP: the client "
	      "never acknowledged our data, so its address may be forged.\n"
	      "# TYPE ndrguard_xdp_verdicts_unverified_total counter\n",
		f);
	fprintf(f, "ndrguard_xdp_verdicts_unverified_total %" PRIu64 "\n", d->xdp_unverified);
	fputs("# HELP ndrguard_outbound_alarms_total Accounts or hosts over their outbound rate.\n"
	      "# TYPE ndrguard_outbound_alarms_total counter\n",
		f);
	fprintf(f, "ndrguard_outbound_alarms_total %" PRIu64 "\n", out_alarm_count());
	lsrc_metrics(f);
	if (dp_stats != NULL)
		metrics_dp_render(dp_stats, f);
}
