/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * LDAP / Active Directory sources: one sync thread per `directory ldap` block. The thread
 * drops every capability, connects and binds (anonymous, simple with a password file, SASL
 * EXTERNAL), then follows the directory with RFC 4533 refreshAndPersist, or polls a change
 * marker (contextCSN, AD highestCommittedUSN) and re-reads with RFC 2696 paged searches when it
 * moved. It keeps entry -> addresses in a hash map, persists map and cookie beside the snapshot
 * after complete refreshes, and hands complete address sets to the main thread. Reconnects
 * with exponential backoff. The registry functions (lsrc_apply ... lsrc_metrics) are for the
 * main thread; the rest runs in the source's thread.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/capability.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <lber.h>
#include <ldap.h>

#include "config.h"
#include "log.h"
#include "lsrc.h"

#define LSRC_BACKOFF_MIN_MS 1000
#define LSRC_BACKOFF_MAX_MS 60000
#define LSRC_TICK_MS	    200 /* ldap_result() slice: stop flag, publish, persist */
#define LSRC_PASSWORD_MAX   1024
#define LSRC_LINE_MAX	    (1u << 20) /* one line of the state file */

enum lsrc_ent_state {
	LSRC_ENT_EMPTY = 0, /* never used */
	LSRC_ENT_USED,	    /* holds an entry */
	LSRC_ENT_GONE,	    /* deleted: probing goes on past it */
	LSRC_ENT_MAX
};

/* One directory entry that yields addresses, keyed by its entryUUID (syncrepl) or a digest of
 * its DN (paged re-read). */
struct lsrc_ent {
	uint8_t key[16];
	uint8_t state;
	uint16_t n;    /* addresses */
	uint32_t seen; /* refresh generation that last reported it */
	uint32_t len;  /* bytes of addrs */
	char *addrs;   /* n NUL-terminated addresses back to back */
};

struct lsrc_map {
	struct lsrc_ent *v;
	size_t cap; /* power of two */
	size_t used;
	size_t gone;
	size_t addrs;
};

struct lsrc {
	TAILQ_ENTRY(lsrc) entry;
	struct lsrc_conf conf; /* copied: the thread never sees a reloaded configuration */
	char state_path[CONF_PATH_MAX + 64];
	int notify_fd;
	pthread_t thr;
	bool started;

	pthread_mutex_t lock; /* guards what follows, up to 'thread only' */
	pthread_cond_t cond;
	bool stop;
	int fd; /* the live connection's socket, -1: none */
	struct dir_set pub;
	bool pub_new;
	char phase[48];
	char error[256];
	bool live; /* connected and up to date (persisting, or polled fine) */
	time_t last_good;
	size_t entries, addrs;
	uint64_t reconnects, skipped, refreshes, changes;
	uint64_t refresh_full;	/* entries sent whole in the last refresh (not just "present") */
	uint64_t refresh_count; /* the same, counting, for the refresh under way */
	const char *how;	/* "syncrepl" or "poll", once known */

	/* thread only */
	struct lsrc_map map;
	char *cookie;
	size_t cookie_len;
	uint32_t gen;
	bool in_sync; /* map and cookie describe one complete state (not mid-refresh) */
	bool dirty, disk_dirty;
	uint64_t last_pub_ms, pub_cost_ms, last_write_ms, write_cost_ms;

	/* main thread only */
	struct dir_set cur;
	bool have_data;
};

TAILQ_HEAD(lsrc_list, lsrc);
static struct lsrc_list lsrc_all = TAILQ_HEAD_INITIALIZER(lsrc_all);

static uint64_t
lsrc_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t) ts.tv_sec * 1000 + (uint64_t) ts.tv_nsec / 1000000;
}

/* ---- entry map ------------------------------------------------------------------------- */

static size_t
lsrc_map_hash(const uint8_t *key)
{
	uint64_t h = 0xcbf29ce484222325ull;

	for (int i = 0; i < 16; i++)
		h = (h ^ key[i]) * 0x100000001b3ull;
	return (size_t) (h ^ (h >> 29));
}

static void
lsrc_map_free(struct lsrc_map *m)
{
	for (size_t i = 0; i < m->cap; i++)
		if (m->v[i].state == LSRC_ENT_USED)
			free(m->v[i].addrs);
	free(m->v);
	memset(m, 0, sizeof(*m));
}

static struct lsrc_ent *
lsrc_map_find(const struct lsrc_map *m, const uint8_t *key)
{
	if (m->cap == 0)
		return NULL;
	for (size_t i = lsrc_map_hash(key) & (m->cap - 1);; i = (i + 1) & (m->cap - 1)) {
		struct lsrc_ent *e = &m->v[i];

		if (e->state == LSRC_ENT_EMPTY)
			return NULL;
		if (e->state == LSRC_ENT_USED && memcmp(e->key, key, 16) == 0)
			return e;
	}
}

static int
lsrc_map_grow(struct lsrc_map *m)
{
	struct lsrc_map n = {0};

	n.cap = m->cap ? m->cap : 1024;
	while ((m->used + 1) * 2 > n.cap)
		n.cap *= 2;
	n.v = calloc(n.cap, sizeof(*n.v));
	if (n.v == NULL)
		return -ENOMEM;
	for (size_t i = 0; i < m->cap; i++) {
		struct lsrc_ent *e = &m->v[i];
		size_t j;

		if (e->state != LSRC_ENT_USED)
			continue;
		for (j = lsrc_map_hash(e->key) & (n.cap - 1); n.v[j].state != LSRC_ENT_EMPTY;
			j = (j + 1) & (n.cap - 1))
			;
		n.v[j] = *e;
	}
	n.used = m->used;
	n.addrs = m->addrs;
	free(m->v);
	*m = n;
	return 0;
}

static void
lsrc_map_del(struct lsrc_map *m, const uint8_t *key)
{
	struct lsrc_ent *e = lsrc_map_find(m, key);

	if (e == NULL)
		return;
	m->addrs -= e->n;
	free(e->addrs);
	e->addrs = NULL;
	e->state = LSRC_ENT_GONE;
	m->used--;
	m->gone++;
}

/* Store <addrs> (taken over) for <key>; n == 0 removes the entry. @return 0 or -ENOMEM. */
static int
lsrc_map_put(struct lsrc_map *m, const uint8_t *key, char *addrs, uint32_t len, uint16_t n,
	uint32_t gen)
{
	struct lsrc_ent *e = lsrc_map_find(m, key);
	size_t i;

	if (n == 0) {
		free(addrs);
		lsrc_map_del(m, key);
		return 0;
	}
	if (e != NULL) {
		m->addrs = m->addrs - e->n + n;
		free(e->addrs);
		e->addrs = addrs;
		e->len = len;
		e->n = n;
		e->seen = gen;
		return 0;
	}
	if ((m->used + m->gone + 1) * 2 > m->cap && lsrc_map_grow(m) != 0) {
		free(addrs);
		return -ENOMEM;
	}
	for (i = lsrc_map_hash(key) & (m->cap - 1); m->v[i].state == LSRC_ENT_USED;
		i = (i + 1) & (m->cap - 1))
		;
	if (m->v[i].state == LSRC_ENT_GONE)
		m->gone--;
	e = &m->v[i];
	memcpy(e->key, key, 16);
	e->state = LSRC_ENT_USED;
	e->addrs = addrs;
	e->len = len;
	e->n = n;
	e->seen = gen;
	m->used++;
	m->addrs += n;
	return 0;
}

/* ---- locked status helpers ------------------------------------------------------------- */

static void
lsrc_set_phase(struct lsrc *s, const char *phase, bool live)
{
	pthread_mutex_lock(&s->lock);
	snprintf(s->phase, sizeof(s->phase), "%s", phase);
	s->live = live;
	if (live) {
		s->last_good = time(NULL);
		s->error[0] = '\0';
	}
	pthread_mutex_unlock(&s->lock);
}

/* Server texts are untrusted: bounded, printable only. */
static void
lsrc_set_error(struct lsrc *s, const char *what, int rc, const char *diag)
{
	char clean[160];
	size_t n = 0;

	for (const char *p = diag ? diag : ""; *p != '\0' && n < sizeof(clean) - 1; p++)
		clean[n++] = (*p >= 0x20 && *p < 0x7f) ? *p : '?';
	clean[n] = '\0';
	pthread_mutex_lock(&s->lock);
	snprintf(s->error, sizeof(s->error), "%s: %s%s%s", what, ldap_err2string(rc), n ? ": " : "",
		clean);
	s->live = false;
	pthread_mutex_unlock(&s->lock);
}

static bool
lsrc_stopping(struct lsrc *s)
{
	bool stop;

	pthread_mutex_lock(&s->lock);
	stop = s->stop;
	pthread_mutex_unlock(&s->lock);
	return stop;
}

/* Sleep up to <ms>; @return true when told to stop. */
static bool
lsrc_wait(struct lsrc *s, uint64_t ms)
{
	struct timespec ts;
	bool stop;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += (time_t) (ms / 1000);
	ts.tv_nsec += (long) (ms % 1000) * 1000000;
	if (ts.tv_nsec >= 1000000000) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000;
	}
	pthread_mutex_lock(&s->lock);
	while (!s->stop && pthread_cond_timedwait(&s->cond, &s->lock, &ts) == 0)
		;
	stop = s->stop;
	pthread_mutex_unlock(&s->lock);
	return stop;
}

/* ---- state file: "<snapshot>.ldap.NAME" ------------------------------------------------- */

static void
lsrc_hex(const uint8_t *b, size_t n, char *out)
{
	static const char hx[] = "0123456789abcdef";

	for (size_t i = 0; i < n; i++) {
		out[2 * i] = hx[b[i] >> 4];
		out[2 * i + 1] = hx[b[i] & 15];
	}
	out[2 * n] = '\0';
}

static int
lsrc_unhex(const char *s, size_t n, uint8_t *out)
{
	for (size_t i = 0; i < n; i++) {
		int v = 0;

		for (int k = 0; k < 2; k++) {
			char c = s[2 * i + (size_t) k];
			int d = c >= '0' && c <= '9'   ? c - '0'
				: c >= 'a' && c <= 'f' ? c - 'a' + 10
						       : -1;

			if (d < 0)
				return -EINVAL;
			v = v * 16 + d;
		}
		out[i] = (uint8_t) v;
	}
	return 0;
}

/* Map and cookie together, atomically, so a restart resumes exactly where they agree. */
static int
lsrc_state_write(struct lsrc *s)
{
	char tmp[sizeof(s->state_path) + 8], hex[33];
	FILE *f;
	int ret = 0;

	snprintf(tmp, sizeof(tmp), "%s.tmp", s->state_path);
	f = fopen(tmp, "w");
	if (f == NULL)
		return -errno;
	fprintf(f, "# ndrguard LDAP source %s: %zu entries, %zu addresses\ncookie ", s->conf.name,
		s->map.used, s->map.addrs);
	if (s->cookie_len == 0) {
		fputc('-', f);
	} else {
		for (size_t i = 0; i < s->cookie_len; i++)
			fprintf(f, "%02x", (unsigned char) s->cookie[i]);
	}
	fputc('\n', f);
	for (size_t i = 0; i < s->map.cap; i++) {
		const struct lsrc_ent *e = &s->map.v[i];
		const char *a;

		if (e->state != LSRC_ENT_USED)
			continue;
		lsrc_hex(e->key, 16, hex);
		fputs(hex, f);
		a = e->addrs;
		for (uint16_t k = 0; k < e->n; k++) {
			fputc(' ', f);
			fputs(a, f);
			a += strlen(a) + 1;
		}
		fputc('\n', f);
	}
	if (fflush(f) != 0 || fsync(fileno(f)) != 0)
		ret = -errno;
	if (fclose(f) != 0 && ret == 0)
		ret = -errno;
	if (ret == 0 && rename(tmp, s->state_path) != 0)
		ret = -errno;
	if (ret != 0)
		(void) unlink(tmp);
	return ret;
}

/* Read the state file back (the daemon wrote it, but it is still checked and bounded). */
static int
lsrc_state_read(struct lsrc *s)
{
	FILE *f = fopen(s->state_path, "r");
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;
	int ret = 0;

	if (f == NULL)
		return -errno;
	while ((n = getline(&line, &cap, f)) > 0) {
		char *p, *sp, *addrs = NULL, norm[DIR_ADDR_MAX + 1];
		size_t len = 0, acap = 0;
		uint16_t cnt = 0;
		uint8_t key[16];
		const char *why;

		if ((size_t) n > LSRC_LINE_MAX) {
			ret = -E2BIG;
			break;
		}
		line[strcspn(line, "\n")] = '\0';
		if (line[0] == '#' || line[0] == '\0')
			continue;
		if (strncmp(line, "cookie ", 7) == 0) {
			size_t h = strlen(line + 7);

			free(s->cookie);
			s->cookie = NULL;
			s->cookie_len = 0;
			if (strcmp(line + 7, "-") == 0 || h % 2 != 0 || h == 0)
				continue;
			s->cookie = malloc(h / 2 + 1);
			if (s->cookie == NULL ||
				lsrc_unhex(line + 7, h / 2, (uint8_t *) s->cookie) != 0) {
				free(s->cookie);
				s->cookie = NULL;
				continue;
			}
			s->cookie_len = h / 2;
			continue;
		}
		if (strlen(line) < 33 || line[32] != ' ' || lsrc_unhex(line, 16, key) != 0)
			continue;
		for (p = line + 33; p != NULL && *p != '\0'; p = sp) {
			size_t al;

			sp = strchr(p, ' ');
			if (sp != NULL)
				*sp++ = '\0';
			if (dir_addr_normalize(p, false, norm, &why) != 0 || cnt == UINT16_MAX)
				continue;
			al = strlen(norm) + 1;
			if (len + al > acap) {
				char *g = realloc(addrs, acap = (len + al) * 2);

				if (g == NULL) {
					ret = -ENOMEM;
					break;
				}
				addrs = g;
			}
			memcpy(addrs + len, norm, al);
			len += al;
			cnt++;
		}
		if (ret != 0 || lsrc_map_put(&s->map, key, addrs, (uint32_t) len, cnt, 0) != 0) {
			ret = ret ? ret : -ENOMEM;
			break;
		}
	}
	free(line);
	fclose(f);
	return ret;
}

/* ---- publishing ------------------------------------------------------------------------ */

static int
lsrc_build_set(const struct lsrc_map *m, struct dir_set *out)
{
	dir_set_init(out);
	for (size_t i = 0; i < m->cap; i++) {
		const struct lsrc_ent *e = &m->v[i];
		const char *a = e->addrs;

		if (e->state != LSRC_ENT_USED)
			continue;
		for (uint16_t k = 0; k < e->n; k++, a += strlen(a) + 1) {
			if (dir_set_add(out, a) != 0) {
				dir_set_free(out);
				return -ENOMEM;
			}
		}
	}
	dir_set_finish(out);
	return 0;
}

/* Hand the complete current set to the main thread and wake it. */
static void
lsrc_publish(struct lsrc *s)
{
	struct dir_set set;
	uint64_t t0 = lsrc_now_ms(), one = 1;

	if (lsrc_build_set(&s->map, &set) != 0) {
		log_warnx("directory ldap %s: out of memory building the set, keeping the last",
			s->conf.name);
		return;
	}
	pthread_mutex_lock(&s->lock);
	dir_set_free(&s->pub);
	s->pub = set;
	s->pub_new = true;
	s->last_good = time(NULL); /* a published set is complete by construction */
	s->entries = s->map.used;
	s->addrs = set.n;
	s->changes++;
	pthread_mutex_unlock(&s->lock);
	if (write(s->notify_fd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		log_warn("directory ldap %s: waking the main thread, ignoring", s->conf.name);
	s->dirty = false;
	s->disk_dirty = true;
	s->last_pub_ms = lsrc_now_ms();
	s->pub_cost_ms = s->last_pub_ms - t0;
}

static void
lsrc_persist(struct lsrc *s)
{
	uint64_t t0 = lsrc_now_ms();
	int ret;

	/* Mid-refresh the map is partial: a restart from it with its cookie would never learn
	 * the entries the refresh had not reached yet. */
	if (!s->in_sync)
		return;
	ret = lsrc_state_write(s);

	if (ret != 0)
		log_error_errno(ret, "directory ldap %s: writing %s, ignoring", s->conf.name,
			s->state_path);
	s->disk_dirty = false;
	s->last_write_ms = lsrc_now_ms();
	s->write_cost_ms = s->last_write_ms - t0;
}

/* Publish and persist, each at most as often as its own cost allows. <idle>: nothing is
 * pending on the wire, so anything dirty goes out now. */
static void
lsrc_flush(struct lsrc *s, bool idle)
{
	uint64_t now = lsrc_now_ms();
	uint64_t pub_gap = s->pub_cost_ms * 3 > 50 ? s->pub_cost_ms * 3 : 50;
	uint64_t write_gap = s->write_cost_ms * 3 > 1000 ? s->write_cost_ms * 3 : 1000;

	if (s->dirty && (idle || now - s->last_pub_ms >= pub_gap))
		lsrc_publish(s);
	if (s->disk_dirty && !s->dirty && now - s->last_write_ms >= write_gap)
		lsrc_persist(s);
}

/* ---- reading entries ------------------------------------------------------------------- */

/* The addresses of entry <e>, deduplicated, as NUL-separated strings. @return the count. */
static int
lsrc_entry_addrs(struct lsrc *s, LDAP *ld, LDAPMessage *e, char **out, uint32_t *out_len)
{
	const struct lsrc_attr *attrs;
	unsigned int na = lsrc_conf_attrs(&s->conf, &attrs);
	char *buf = NULL, norm[DIR_ADDR_MAX + 1];
	size_t len = 0, cap = 0;
	int n = 0;
	uint64_t skipped = 0;

	for (unsigned int a = 0; a < na; a++) {
		struct berval **vals = ldap_get_values_len(ld, e, attrs[a].name);
		int nv = vals ? ldap_count_values_len(vals) : 0;

		for (int i = 0; i < nv && i < LSRC_VALUES_MAX; i++) {
			const char *why;
			size_t al;
			bool dup = false;

			if (lsrc_attr_value(attrs[a].kind, vals[i]->bv_val, vals[i]->bv_len, norm,
				    &why) != 1) {
				skipped++;
				continue;
			}
			al = strlen(norm) + 1;
			for (size_t off = 0; off < len && !dup; off += strlen(buf + off) + 1)
				dup = strcmp(buf + off, norm) == 0;
			if (dup || n == UINT16_MAX)
				continue;
			if (len + al > cap) {
				char *g = realloc(buf, cap = (len + al) * 2);

				if (g == NULL) {
					ldap_value_free_len(vals);
					free(buf);
					return -ENOMEM;
				}
				buf = g;
			}
			memcpy(buf + len, norm, al);
			len += al;
			n++;
		}
		if (nv > LSRC_VALUES_MAX)
			skipped += (uint64_t) (nv - LSRC_VALUES_MAX);
		if (vals != NULL)
			ldap_value_free_len(vals);
	}
	if (skipped != 0) {
		pthread_mutex_lock(&s->lock);
		s->skipped += skipped;
		pthread_mutex_unlock(&s->lock);
	}
	*out = buf;
	*out_len = (uint32_t) len;
	return n;
}

/* 128 bits of two FNV-1a variants over the normalised DN: the key of a polled entry. */
static void
lsrc_dn_key(const char *dn, uint8_t *key)
{
	uint64_t h1 = 0xcbf29ce484222325ull, h2 = 0x84222325cbf29ce4ull;

	for (const unsigned char *p = (const unsigned char *) dn; *p; p++) {
		int c = *p >= 'A' && *p <= 'Z' ? *p + 32 : *p;

		h1 = (h1 ^ (uint64_t) c) * 0x100000001b3ull;
		h2 = (h2 ^ (uint64_t) c) * 0x100000001b3ull;
		h2 ^= h2 >> 31;
	}
	memcpy(key, &h1, 8);
	memcpy(key + 8, &h2, 8);
}

/* ---- connection ------------------------------------------------------------------------ */

static int
lsrc_read_password(const char *path, char *buf, size_t size)
{
	struct stat st;
	ssize_t n;
	int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);

	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || (st.st_mode & 077) != 0 ||
		st.st_uid != geteuid()) {
		close(fd);
		return -EPERM;
	}
	n = read(fd, buf, size - 1);
	close(fd);
	if (n < 0)
		return -errno;
	buf[n] = '\0';
	buf[strcspn(buf, "\r\n")] = '\0';
	return 0;
}

static void
lsrc_diag(LDAP *ld, char *buf, size_t size)
{
	char *msg = NULL;

	buf[0] = '\0';
	if (ldap_get_option(ld, LDAP_OPT_DIAGNOSTIC_MESSAGE, &msg) == LDAP_OPT_SUCCESS &&
		msg != NULL) {
		snprintf(buf, size, "%s", msg);
		ldap_memfree(msg);
	}
}

static LDAP *
lsrc_connect(struct lsrc *s)
{
	struct timeval tv = {.tv_sec = s->conf.timeout_ms / 1000,
		.tv_usec = (suseconds_t) (s->conf.timeout_ms % 1000) * 1000};
	int v3 = LDAP_VERSION3, rc, idle = 30, probes = 3, intvl = 10;
	ber_len_t max_in = LSRC_MSG_MAX;
	Sockbuf *sb = NULL;
	char diag[256];
	LDAP *ld = NULL;

	rc = ldap_initialize(&ld, s->conf.uri);
	if (rc != LDAP_SUCCESS) {
		lsrc_set_error(s, "initialize", rc, s->conf.uri);
		return NULL;
	}
	if (ldap_set_option(ld, LDAP_OPT_PROTOCOL_VERSION, &v3) != LDAP_OPT_SUCCESS ||
		ldap_set_option(ld, LDAP_OPT_REFERRALS, LDAP_OPT_OFF) != LDAP_OPT_SUCCESS ||
		ldap_set_option(ld, LDAP_OPT_NETWORK_TIMEOUT, &tv) != LDAP_OPT_SUCCESS ||
		ldap_set_option(ld, LDAP_OPT_TIMEOUT, &tv) != LDAP_OPT_SUCCESS ||
		ldap_get_option(ld, LDAP_OPT_SOCKBUF, &sb) != LDAP_OPT_SUCCESS || sb == NULL ||
		ber_sockbuf_ctrl(sb, LBER_SB_OPT_SET_MAX_INCOMING, &max_in) != 1) {
		lsrc_set_error(s, "setting options", LDAP_OTHER, NULL);
		ldap_unbind_ext_s(ld, NULL, NULL);
		return NULL;
	}
	/* A persist session can sit idle for days: let TCP notice a dead peer. */
	(void) ldap_set_option(ld, LDAP_OPT_X_KEEPALIVE_IDLE, &idle);
	(void) ldap_set_option(ld, LDAP_OPT_X_KEEPALIVE_PROBES, &probes);
	(void) ldap_set_option(ld, LDAP_OPT_X_KEEPALIVE_INTERVAL, &intvl);

	switch (s->conf.bind) {
	case LSRC_BIND_SIMPLE: {
		char pw[LSRC_PASSWORD_MAX];
		struct berval cred;
		int ret = lsrc_read_password(s->conf.password_file, pw, sizeof(pw));

		if (ret != 0) {
			lsrc_set_error(s, "password-file", LDAP_OTHER, strerror(-ret));
			ldap_unbind_ext_s(ld, NULL, NULL);
			return NULL;
		}
		cred.bv_val = pw;
		cred.bv_len = strlen(pw);
		rc = ldap_sasl_bind_s(ld, s->conf.bind_dn, LDAP_SASL_SIMPLE, &cred, NULL, NULL,
			NULL);
		explicit_bzero(pw, sizeof(pw));
		break;
	}
	case LSRC_BIND_SASL_EXTERNAL: {
		/* RFC 4422 Appendix A: empty credentials, the identity is the one the transport
		 * proved (ldapi peer credentials, or a TLS client certificate). */
		struct berval empty = {.bv_len = 0, .bv_val = ""};

		rc = ldap_sasl_bind_s(ld, NULL, "EXTERNAL", &empty, NULL, NULL, NULL);
		break;
	}
	default:
		rc = LDAP_SUCCESS;
		break;
	}
	if (rc != LDAP_SUCCESS) {
		lsrc_diag(ld, diag, sizeof(diag));
		lsrc_set_error(s, "bind", rc, diag);
		ldap_unbind_ext_s(ld, NULL, NULL);
		return NULL;
	}
	return ld;
}

/* Remember the socket so lsrc_apply can cut a blocked call short on stop. */
static void
lsrc_track_fd(struct lsrc *s, LDAP *ld)
{
	int fd = -1;

	if (ld != NULL)
		(void) ldap_get_option(ld, LDAP_OPT_DESC, &fd);
	pthread_mutex_lock(&s->lock);
	s->fd = fd;
	pthread_mutex_unlock(&s->lock);
}

/* One base-scope read of <attr> on <dn> into <out> ("" when absent). @return an LDAP code. */
static int
lsrc_read_attr(struct lsrc *s, LDAP *ld, const char *dn, const char *attr, char *out, size_t size,
	bool want_sync)
{
	char *attrs[] = {(char *) attr, want_sync ? "supportedControl" : NULL, NULL};
	struct timeval tv = {.tv_sec = s->conf.timeout_ms / 1000 + 1};
	LDAPMessage *res = NULL, *e;
	int rc;

	out[0] = '\0';
	rc = ldap_search_ext_s(ld, dn, LDAP_SCOPE_BASE, "(objectClass=*)", attrs, 0, NULL, NULL,
		&tv, 1, &res);
	if (rc != LDAP_SUCCESS) {
		ldap_msgfree(res);
		/* The marker's entry may not be readable: poll without it. */
		return rc == LDAP_NO_SUCH_OBJECT || rc == LDAP_INSUFFICIENT_ACCESS ? LDAP_SUCCESS
										   : rc;
	}
	e = ldap_first_entry(ld, res);
	if (e != NULL) {
		struct berval **v = ldap_get_values_len(ld, e, attr);
		size_t n = 0;

		for (int i = 0; v != NULL && v[i] != NULL && n + 1 < size; i++) {
			size_t k = v[i]->bv_len < size - n - 2 ? v[i]->bv_len : size - n - 2;

			memcpy(out + n, v[i]->bv_val, k);
			n += k;
			out[n++] = ';';
		}
		out[n] = '\0';
		if (v != NULL)
			ldap_value_free_len(v);
		if (want_sync) {
			v = ldap_get_values_len(ld, e, "supportedControl");
			for (int i = 0; v != NULL && v[i] != NULL; i++)
				if (v[i]->bv_len == strlen(LDAP_CONTROL_SYNC) &&
					memcmp(v[i]->bv_val, LDAP_CONTROL_SYNC, v[i]->bv_len) == 0)
					snprintf(out, size, "sync");
			if (v != NULL)
				ldap_value_free_len(v);
		}
	}
	ldap_msgfree(res);
	return LDAP_SUCCESS;
}

static char **
lsrc_attr_list(const struct lsrc *s, char **buf)
{
	const struct lsrc_attr *attrs;
	unsigned int n = lsrc_conf_attrs(&s->conf, &attrs);

	for (unsigned int i = 0; i < n; i++)
		buf[i] = (char *) attrs[i].name;
	buf[n] = NULL;
	return buf;
}

/* ---- poll: change marker + paged full read (RFC 2696) ----------------------------------- */

static int
lsrc_paged_read(struct lsrc *s, LDAP *ld, struct lsrc_map *out)
{
	char *attrbuf[LSRC_ATTRS_MAX + 1], **attrs = lsrc_attr_list(s, attrbuf);
	struct berval *cookie = NULL;
	struct timeval tv = {.tv_sec = s->conf.timeout_ms / 1000 + 1};
	size_t entries = 0;
	int rc;

	do {
		LDAPControl *page = NULL, *ctrls[2] = {NULL, NULL}, **rctrls = NULL, *resp;
		LDAPMessage *res = NULL;
		ber_int_t total = 0;
		int err = LDAP_OTHER;
		char diag[256];

		if (lsrc_stopping(s)) {
			rc = LDAP_USER_CANCELLED;
			break;
		}
		rc = ldap_create_page_control(ld, (ber_int_t) s->conf.page_size, cookie, 0, &page);
		if (rc != LDAP_SUCCESS)
			break;
		ctrls[0] = page;
		rc = ldap_search_ext_s(ld, s->conf.base, LDAP_SCOPE_SUBTREE,
			lsrc_conf_filter(&s->conf), attrs, 0, ctrls, NULL, &tv, LDAP_NO_LIMIT,
			&res);
		ldap_control_free(page);
		if (rc != LDAP_SUCCESS) {
			lsrc_diag(ld, diag, sizeof(diag));
			lsrc_set_error(s, "paged search", rc, diag);
			ldap_msgfree(res);
			break;
		}
		for (LDAPMessage *e = ldap_first_entry(ld, res); e != NULL;
			e = ldap_next_entry(ld, e)) {
			char *dn = ldap_get_dn(ld, e), *addrs = NULL;
			uint8_t key[16];
			uint32_t len = 0;
			int n;

			if (dn == NULL)
				continue;
			if (++entries > s->conf.max_entries) {
				ldap_memfree(dn);
				rc = LDAP_SIZELIMIT_EXCEEDED;
				break;
			}
			lsrc_dn_key(dn, key);
			ldap_memfree(dn);
			n = lsrc_entry_addrs(s, ld, e, &addrs, &len);
			if (n < 0 || lsrc_map_put(out, key, addrs, len, (uint16_t) n, 0) != 0) {
				rc = LDAP_NO_MEMORY;
				break;
			}
		}
		if (rc != LDAP_SUCCESS) {
			lsrc_set_error(s, "paged search", rc,
				rc == LDAP_SIZELIMIT_EXCEEDED ? "more entries than max-entries"
							      : NULL);
			ldap_msgfree(res);
			break;
		}
		rc = ldap_parse_result(ld, res, &err, NULL, NULL, NULL, &rctrls, 1);
		if (rc == LDAP_SUCCESS)
			rc = err;
		if (cookie != NULL)
			ber_bvfree(cookie);
		cookie = NULL;
		resp = rctrls ? ldap_control_find(LDAP_CONTROL_PAGEDRESULTS, rctrls, NULL) : NULL;
		if (rc == LDAP_SUCCESS && resp != NULL) {
			cookie = ber_memcalloc(1, sizeof(*cookie));
			if (cookie == NULL || ldap_parse_pageresponse_control(ld, resp, &total,
						      cookie) != LDAP_SUCCESS) {
				ber_bvfree(cookie);
				cookie = NULL;
				rc = LDAP_DECODING_ERROR;
			}
		}
		ldap_controls_free(rctrls);
		if (rc != LDAP_SUCCESS)
			lsrc_set_error(s, "paged search result", rc, NULL);
	} while (rc == LDAP_SUCCESS && cookie != NULL && cookie->bv_len > 0);
	if (cookie != NULL)
		ber_bvfree(cookie);
	return rc;
}

static int
lsrc_run_poll(struct lsrc *s, LDAP *ld)
{
	char marker[256], last[256] = "";
	bool have = false;
	/* AD moves highestCommittedUSN (root DSE) on every change, deletions included; OpenLDAP
	 * with syncprov moves contextCSN on the suffix entry. */
	const char *mdn = s->conf.marker_set		       ? s->conf.marker_dn
			  : s->conf.flavour == LSRC_FLAVOUR_AD ? ""
							       : s->conf.base;
	const char *mattr = s->conf.marker_set			 ? s->conf.marker_attr
			    : s->conf.flavour == LSRC_FLAVOUR_AD ? "highestCommittedUSN"
								 : "contextCSN";

	for (;;) {
		int rc = lsrc_read_attr(s, ld, mdn, mattr, marker, sizeof(marker), false);

		if (rc != LDAP_SUCCESS) {
			lsrc_set_error(s, "reading the change marker", rc, NULL);
			return rc;
		}
		/* No marker (not readable, or no syncprov): re-read every time. */
		if (!have || marker[0] == '\0' || strcmp(marker, last) != 0) {
			struct lsrc_map next = {0};

			lsrc_set_phase(s, "re-reading (paged)", false);
			rc = lsrc_paged_read(s, ld, &next);
			if (rc != LDAP_SUCCESS) {
				lsrc_map_free(&next);
				return rc;
			}
			lsrc_map_free(&s->map);
			s->map = next;
			s->in_sync = true;
			free(s->cookie);
			s->cookie = NULL;
			s->cookie_len = 0;
			pthread_mutex_lock(&s->lock);
			s->refreshes++;
			s->refresh_full = s->map.used;
			pthread_mutex_unlock(&s->lock);
			s->dirty = true;
			lsrc_publish(s);
			lsrc_persist(s);
			snprintf(last, sizeof(last), "%s", marker);
			have = true;
		}
		lsrc_set_phase(s, "up to date", true);
		if (lsrc_wait(s, s->conf.poll_interval_ms))
			return LDAP_SUCCESS;
	}
}

/* ---- syncrepl: RFC 4533 refreshAndPersist ----------------------------------------------- */

static void
lsrc_set_cookie(struct lsrc *s, const struct berval *c)
{
	char *v;

	if (c == NULL || c->bv_val == NULL || c->bv_len == 0 || c->bv_len > 4096)
		return;
	v = malloc(c->bv_len);
	if (v == NULL)
		return;
	memcpy(v, c->bv_val, c->bv_len);
	free(s->cookie);
	s->cookie = v;
	s->cookie_len = c->bv_len;
}

/* RFC 4533 §3.4: at the end of a present phase, whatever was not reported is gone. */
static void
lsrc_purge_unseen(struct lsrc *s)
{
	for (size_t i = 0; i < s->map.cap; i++) {
		struct lsrc_ent *e = &s->map.v[i];

		if (e->state == LSRC_ENT_USED && e->seen != s->gen)
			lsrc_map_del(&s->map, e->key);
	}
	s->dirty = true;
}

/* A search entry with its Sync State control (RFC 4533 §2.3). @return an LDAP code. */
static int
lsrc_sync_entry(struct lsrc *s, LDAP *ld, LDAPMessage *msg)
{
	LDAPControl **ctrls = NULL, *st;
	BerElement *ber = NULL;
	struct berval uuid = {0}, cookie = {0};
	ber_int_t state = -1;
	ber_len_t len;
	int rc = LDAP_PROTOCOL_ERROR;

	if (ldap_get_entry_controls(ld, msg, &ctrls) != LDAP_SUCCESS || ctrls == NULL)
		goto out;
	st = ldap_control_find(LDAP_CONTROL_SYNC_STATE, ctrls, NULL);
	if (st == NULL || (ber = ber_init(&st->ldctl_value)) == NULL)
		goto out;
	if (ber_scanf(ber, "{em", &state, &uuid) == LBER_ERROR || uuid.bv_len != 16)
		goto out;
	if (ber_peek_tag(ber, &len) == LDAP_TAG_SYNC_COOKIE) {
		if (ber_scanf(ber, "m", &cookie) == LBER_ERROR)
			goto out;
	}
	switch (state) {
	case LDAP_SYNC_PRESENT: {
		struct lsrc_ent *e = lsrc_map_find(&s->map, (const uint8_t *) uuid.bv_val);

		if (e != NULL)
			e->seen = s->gen;
		break;
	}
	case LDAP_SYNC_ADD:
	case LDAP_SYNC_MODIFY: {
		char *addrs = NULL;
		uint32_t alen = 0;
		int n = lsrc_entry_addrs(s, ld, msg, &addrs, &alen);

		s->refresh_count++;

		if (n < 0 || lsrc_map_put(&s->map, (const uint8_t *) uuid.bv_val, addrs, alen,
				     (uint16_t) n, s->gen) != 0) {
			rc = LDAP_NO_MEMORY;
			goto out;
		}
		if (s->map.used > s->conf.max_entries) {
			rc = LDAP_SIZELIMIT_EXCEEDED;
			goto out;
		}
		s->dirty = true;
		break;
	}
	case LDAP_SYNC_DELETE:
		lsrc_map_del(&s->map, (const uint8_t *) uuid.bv_val);
		s->dirty = true;
		break;
	default:
		goto out;
	}
	lsrc_set_cookie(s, &cookie);
	rc = LDAP_SUCCESS;
out:
	if (ber != NULL)
		ber_free(ber, 1);
	ldap_controls_free(ctrls);
	return rc;
}

/* A Sync Info message (RFC 4533 §2.5). Sets *<done> at the end of the refresh. */
static int
lsrc_sync_info(struct lsrc *s, LDAP *ld, LDAPMessage *msg, bool *done)
{
	char *oid = NULL;
	struct berval *data = NULL, cookie = {0};
	BerElement *ber = NULL;
	ber_tag_t tag;
	ber_len_t len;
	ber_int_t flag;
	BerVarray uuids = NULL;
	int rc = LDAP_PROTOCOL_ERROR;

	if (ldap_parse_intermediate(ld, msg, &oid, &data, NULL, 0) != LDAP_SUCCESS)
		goto out;
	if (oid == NULL || strcmp(oid, LDAP_SYNC_INFO) != 0 || data == NULL ||
		(ber = ber_init(data)) == NULL)
		goto out;
	tag = ber_peek_tag(ber, &len);
	switch (tag) {
	case LDAP_TAG_SYNC_NEW_COOKIE:
		if (ber_scanf(ber, "m", &cookie) == LBER_ERROR)
			goto out;
		break;
	case LDAP_TAG_SYNC_REFRESH_DELETE:
	case LDAP_TAG_SYNC_REFRESH_PRESENT:
		flag = 1; /* refreshDone DEFAULT TRUE */
		if (ber_scanf(ber, "{") == LBER_ERROR)
			goto out;
		if (ber_peek_tag(ber, &len) == LDAP_TAG_SYNC_COOKIE &&
			ber_scanf(ber, "m", &cookie) == LBER_ERROR)
			goto out;
		if (ber_peek_tag(ber, &len) == LDAP_TAG_REFRESHDONE &&
			ber_scanf(ber, "b", &flag) == LBER_ERROR)
			goto out;
		if (tag == LDAP_TAG_SYNC_REFRESH_PRESENT)
			lsrc_purge_unseen(s);
		if (flag)
			*done = true;
		break;
	case LDAP_TAG_SYNC_ID_SET:
		flag = 0; /* refreshDeletes DEFAULT FALSE */
		if (ber_scanf(ber, "{") == LBER_ERROR)
			goto out;
		if (ber_peek_tag(ber, &len) == LDAP_TAG_SYNC_COOKIE &&
			ber_scanf(ber, "m", &cookie) == LBER_ERROR)
			goto out;
		if (ber_peek_tag(ber, &len) == LDAP_TAG_REFRESHDELETES &&
			ber_scanf(ber, "b", &flag) == LBER_ERROR)
			goto out;
		if (ber_scanf(ber, "[W]}", &uuids) == LBER_ERROR)
			goto out;
		for (int i = 0; uuids != NULL && uuids[i].bv_val != NULL; i++) {
			if (uuids[i].bv_len != 16)
				continue;
			if (flag) {
				lsrc_map_del(&s->map, (const uint8_t *) uuids[i].bv_val);
			} else {
				struct lsrc_ent *e =
					lsrc_map_find(&s->map, (const uint8_t *) uuids[i].bv_val);

				if (e != NULL)
					e->seen = s->gen;
			}
		}
		if (flag)
			s->dirty = true;
		break;
	default:
		goto out;
	}
	lsrc_set_cookie(s, &cookie);
	rc = LDAP_SUCCESS;
out:
	if (uuids != NULL)
		ber_bvarray_free(uuids);
	if (ber != NULL)
		ber_free(ber, 1);
	ldap_memfree(oid);
	if (data != NULL)
		ber_bvfree(data);
	return rc;
}

/* The refreshAndPersist session, driven here rather than through libldap's ldap_sync_*()
 * helpers: those block through the whole refresh with no way to stop them, and hand the entry
 * callback the head of a chain of messages rather than each one. One message at a time with a
 * short timeout keeps the stop flag, publishing and persisting in our hands. */
static int
lsrc_run_syncrepl(struct lsrc *s, LDAP *ld)
{
	char *attrbuf[LSRC_ATTRS_MAX + 1], **attrs = lsrc_attr_list(s, attrbuf);
	LDAPControl ctrl = {0}, *ctrls[2] = {&ctrl, NULL};
	struct berval cookie = {.bv_len = s->cookie_len, .bv_val = s->cookie};
	BerElement *ber = ber_alloc_t(LBER_USE_DER);
	bool done = false;
	int rc, msgid = -1;

	if (ber == NULL)
		return LDAP_NO_MEMORY;
	/* RFC 4533 §2.2 Sync Request: mode, cookie (when resuming), reloadHint FALSE. */
	if (s->cookie_len > 0)
		rc = ber_printf(ber, "{eOb}", (ber_int_t) LDAP_SYNC_REFRESH_AND_PERSIST, &cookie,
			0);
	else
		rc = ber_printf(ber, "{eb}", (ber_int_t) LDAP_SYNC_REFRESH_AND_PERSIST, 0);
	if (rc < 0 || ber_flatten2(ber, &ctrl.ldctl_value, 0) < 0) {
		ber_free(ber, 1);
		return LDAP_ENCODING_ERROR;
	}
	ctrl.ldctl_oid = LDAP_CONTROL_SYNC;
	ctrl.ldctl_iscritical = 1;
	/* Without a cookie the server sends everything: start from nothing, so no entry of an
	 * older state survives. The set in force stays until this refresh completes. */
	if (s->cookie_len == 0)
		lsrc_map_free(&s->map);
	s->in_sync = false;
	s->refresh_count = 0;
	s->gen++;
	rc = ldap_search_ext(ld, s->conf.base, LDAP_SCOPE_SUBTREE, lsrc_conf_filter(&s->conf),
		attrs, 0, ctrls, NULL, NULL, LDAP_NO_LIMIT, &msgid);
	ber_free(ber, 1);
	if (rc != LDAP_SUCCESS) {
		lsrc_set_error(s, "syncrepl search", rc, NULL);
		return rc;
	}
	lsrc_set_phase(s, "refreshing", false);
	while (!lsrc_stopping(s)) {
		struct timeval tv = {.tv_sec = 0, .tv_usec = LSRC_TICK_MS * 1000};
		LDAPMessage *msg = NULL;
		bool was_done = done;

		rc = ldap_result(ld, msgid, LDAP_MSG_ONE, &tv, &msg);
		if (rc == 0) {
			if (done) {
				lsrc_set_phase(s, "persist", true);
				lsrc_flush(s, true);
			}
			continue;
		}
		if (rc < 0) {
			(void) ldap_get_option(ld, LDAP_OPT_RESULT_CODE, &rc);
			lsrc_set_error(s, "syncrepl", rc, NULL);
			return rc ? rc : LDAP_SERVER_DOWN;
		}
		switch (ldap_msgtype(msg)) {
		case LDAP_RES_SEARCH_ENTRY:
			rc = lsrc_sync_entry(s, ld, msg);
			break;
		case LDAP_RES_INTERMEDIATE:
			rc = lsrc_sync_info(s, ld, msg, &done);
			break;
		case LDAP_RES_SEARCH_REFERENCE:
			rc = LDAP_SUCCESS; /* referrals are not chased */
			break;
		case LDAP_RES_SEARCH_RESULT: {
			int err = LDAP_OTHER;
			char *text = NULL;

			/* In refreshAndPersist the search only ends on an error: e-syncRefreshRequired
			 * (RFC 4533 §3.3.2: restart without a cookie), or the server giving up. */
			rc = ldap_parse_result(ld, msg, &err, NULL, &text, NULL, NULL, 0);
			if (rc == LDAP_SUCCESS)
				rc = err == LDAP_SUCCESS ? LDAP_SERVER_DOWN : err;
			lsrc_set_error(s, "syncrepl ended", rc, text);
			ldap_memfree(text);
			ldap_msgfree(msg);
			if (rc == LDAP_SYNC_REFRESH_REQUIRED) {
				free(s->cookie);
				s->cookie = NULL;
				s->cookie_len = 0;
			}
			return rc;
		}
		default:
			rc = LDAP_PROTOCOL_ERROR;
			break;
		}
		ldap_msgfree(msg);
		if (rc != LDAP_SUCCESS) {
			lsrc_set_error(s, "syncrepl message", rc,
				rc == LDAP_SIZELIMIT_EXCEEDED ? "more entries than max-entries"
							      : NULL);
			return rc;
		}
		if (done && !was_done) {
			s->in_sync = true;
			pthread_mutex_lock(&s->lock);
			s->refreshes++;
			s->refresh_full = s->refresh_count;
			pthread_mutex_unlock(&s->lock);
			lsrc_set_phase(s, "persist", true);
			s->dirty = true;
			lsrc_publish(s);
			lsrc_persist(s);
		} else if (done) {
			lsrc_flush(s, false);
		}
	}
	return LDAP_SUCCESS;
}

/* ---- the thread ------------------------------------------------------------------------ */

/* Linux capabilities are per thread: the one that parses the directory's replies keeps none. */
static void
lsrc_drop_privileges(struct lsrc *s)
{
	struct __user_cap_header_struct h = {.version = _LINUX_CAPABILITY_VERSION_3, .pid = 0};
	struct __user_cap_data_struct d[2];

	/* Under the systemd unit the daemon has none already, and capset may be filtered. */
	if (syscall(SYS_capget, &h, d) == 0 &&
		(d[0].effective | d[0].permitted | d[1].effective | d[1].permitted) == 0)
		return;
	h.version = _LINUX_CAPABILITY_VERSION_3;
	h.pid = 0;
	memset(d, 0, sizeof(d));
	if (syscall(SYS_capset, &h, d) != 0)
		log_warn("directory ldap %s: dropping capabilities, ignoring", s->conf.name);
}

static void *
lsrc_thread(void *arg)
{
	struct lsrc *s = arg;
	uint64_t backoff = LSRC_BACKOFF_MIN_MS;

	lsrc_drop_privileges(s);
	while (!lsrc_stopping(s)) {
		LDAP *ld;
		int rc;
		bool sync = false;
		char probe[256];

		lsrc_set_phase(s, "connecting", false);
		ld = lsrc_connect(s);
		if (ld != NULL) {
			rc = lsrc_read_attr(s, ld, "",
				s->conf.flavour == LSRC_FLAVOUR_AD ? "highestCommittedUSN"
								   : "vendorName",
				probe, sizeof(probe), true);
			lsrc_track_fd(s, ld);
			if (rc != LDAP_SUCCESS) {
				lsrc_set_error(s, "reading the root DSE", rc, NULL);
			} else {
				sync = strcmp(probe, "sync") == 0;
				if (s->conf.mode == LSRC_MODE_SYNCREPL && !sync) {
					lsrc_set_error(s, "sync syncrepl",
						LDAP_UNAVAILABLE_CRITICAL_EXTENSION,
						"the server does not offer RFC 4533 syncrepl");
				} else {
					if (s->conf.mode == LSRC_MODE_POLL)
						sync = false;
					pthread_mutex_lock(&s->lock);
					s->how = sync ? "syncrepl" : "poll";
					pthread_mutex_unlock(&s->lock);
					backoff = LSRC_BACKOFF_MIN_MS;
					rc = sync ? lsrc_run_syncrepl(s, ld) : lsrc_run_poll(s, ld);
					if (rc == LDAP_SYNC_REFRESH_REQUIRED)
						backoff = 0;
				}
			}
			lsrc_track_fd(s, NULL);
			ldap_unbind_ext_s(ld, NULL, NULL);
		}
		if (s->disk_dirty && !s->dirty)
			lsrc_persist(s);
		if (lsrc_stopping(s))
			break;
		pthread_mutex_lock(&s->lock);
		s->live = false;
		s->reconnects++;
		snprintf(s->phase, sizeof(s->phase), "down, retrying");
		pthread_mutex_unlock(&s->lock);
		if (backoff > 0 && lsrc_wait(s, backoff))
			break;
		backoff = backoff == 0 ? LSRC_BACKOFF_MIN_MS
				       : (backoff * 2 > LSRC_BACKOFF_MAX_MS ? LSRC_BACKOFF_MAX_MS
									    : backoff * 2);
	}
	if (s->dirty || s->disk_dirty) {
		/* Stopped with changes not yet on disk: keep them (only a complete state is). */
		lsrc_persist(s);
	}
	return NULL;
}

/* ---- registry (main thread) ------------------------------------------------------------ */

static void
lsrc_free(struct lsrc *s)
{
	lsrc_map_free(&s->map);
	free(s->cookie);
	dir_set_free(&s->pub);
	dir_set_free(&s->cur);
	pthread_mutex_destroy(&s->lock);
	pthread_cond_destroy(&s->cond);
	free(s);
}

static void
lsrc_stop(struct lsrc *s)
{
	pthread_mutex_lock(&s->lock);
	s->stop = true;
	/* Wakes a thread blocked in a search or a bind at once. */
	if (s->fd >= 0)
		(void) shutdown(s->fd, SHUT_RDWR);
	pthread_cond_broadcast(&s->cond);
	pthread_mutex_unlock(&s->lock);
	if (s->started)
		pthread_join(s->thr, NULL);
}

static bool
lsrc_conf_same(const struct lsrc_conf *a, const struct lsrc_conf *b)
{
	struct lsrc_conf x = *a, y = *b;

	memset(&x.entry, 0, sizeof(x.entry));
	memset(&y.entry, 0, sizeof(y.entry));
	x.line = y.line = 0;
	return memcmp(&x, &y, sizeof(x)) == 0;
}

static struct lsrc *
lsrc_start(const struct lsrc_conf *c, const char *snapshot_path, int notify_fd)
{
	struct lsrc *s = calloc(1, sizeof(*s));
	int ret;

	if (s == NULL)
		return NULL;
	s->conf = *c;
	s->notify_fd = notify_fd;
	s->fd = -1;
	snprintf(s->state_path, sizeof(s->state_path), "%s.ldap.%s", snapshot_path, c->name);
	snprintf(s->phase, sizeof(s->phase), "starting");
	pthread_mutex_init(&s->lock, NULL);
	pthread_cond_init(&s->cond, NULL);
	dir_set_init(&s->pub);
	dir_set_init(&s->cur);
	/* The last good state from disk is in force before the thread has even connected. */
	ret = lsrc_state_read(s);
	if (ret == 0) {
		struct stat st;

		if (lsrc_build_set(&s->map, &s->cur) == 0) {
			s->have_data = true;
			s->entries = s->map.used;
			s->addrs = s->cur.n;
			if (stat(s->state_path, &st) == 0)
				s->last_good = st.st_mtime;
			log_info("directory ldap %s: %zu addresses from %s", c->name, s->cur.n,
				s->state_path);
		}
	} else if (ret != -ENOENT) {
		log_error_errno(ret, "directory ldap %s: reading %s, starting empty", c->name,
			s->state_path);
		lsrc_map_free(&s->map);
		free(s->cookie);
		s->cookie = NULL;
		s->cookie_len = 0;
	}
	if (pthread_create(&s->thr, NULL, lsrc_thread, s) != 0) {
		log_warn("directory ldap %s: starting its thread", c->name);
		lsrc_free(s);
		return NULL;
	}
	s->started = true;
	{
		char tname[16];

		/* Seen in /proc/PID/task/TID/comm: which thread holds no capabilities. */
		snprintf(tname, sizeof(tname), "ldap:%.10s", c->name);
		(void) pthread_setname_np(s->thr, tname);
	}
	return s;
}

int
lsrc_apply(const struct lsrc_conf_list *list, const char *snapshot_path, int notify_fd)
{
	struct lsrc_list next = TAILQ_HEAD_INITIALIZER(next);
	const struct lsrc_conf *c;
	struct lsrc *s;
	static bool once;

	if (!once) {
		/* Library-wide defaults before any thread uses libldap. */
		int v3 = LDAP_VERSION3;

		(void) ldap_set_option(NULL, LDAP_OPT_PROTOCOL_VERSION, &v3);
		once = true;
	}
	TAILQ_FOREACH (c, list, entry) {
		char path[CONF_PATH_MAX + 64];

		snprintf(path, sizeof(path), "%s.ldap.%s", snapshot_path, c->name);
		TAILQ_FOREACH (s, &lsrc_all, entry)
			if (lsrc_conf_same(&s->conf, c) && strcmp(s->state_path, path) == 0)
				break;
		if (s != NULL) {
			TAILQ_REMOVE(&lsrc_all, s, entry);
		} else {
			/* Changed: the old thread must be gone before the new one reads its file. */
			TAILQ_FOREACH (s, &lsrc_all, entry)
				if (strcmp(s->conf.name, c->name) == 0)
					break;
			if (s != NULL) {
				TAILQ_REMOVE(&lsrc_all, s, entry);
				lsrc_stop(s);
				lsrc_free(s);
			}
			s = lsrc_start(c, snapshot_path, notify_fd);
			if (s == NULL)
				continue;
			log_info("directory ldap %s: %s, base %s, %s bind, sync %s", c->name,
				c->uri, c->base, lsrc_bind_name(c->bind), lsrc_mode_name(c->mode));
		}
		TAILQ_INSERT_TAIL(&next, s, entry);
	}
	while ((s = TAILQ_FIRST(&lsrc_all)) != NULL) {
		TAILQ_REMOVE(&lsrc_all, s, entry);
		log_info("directory ldap %s: removed from the configuration", s->conf.name);
		lsrc_stop(s);
		lsrc_free(s);
	}
	TAILQ_CONCAT(&lsrc_all, &next, entry);
	return 0;
}

void
lsrc_stop_all(void)
{
	struct lsrc *s;

	TAILQ_FOREACH (s, &lsrc_all, entry) {
		pthread_mutex_lock(&s->lock);
		s->stop = true;
		if (s->fd >= 0)
			(void) shutdown(s->fd, SHUT_RDWR);
		pthread_cond_broadcast(&s->cond);
		pthread_mutex_unlock(&s->lock);
	}
	while ((s = TAILQ_FIRST(&lsrc_all)) != NULL) {
		TAILQ_REMOVE(&lsrc_all, s, entry);
		lsrc_stop(s);
		lsrc_free(s);
	}
}

bool
lsrc_take(void)
{
	struct lsrc *s;
	bool changed = false;

	TAILQ_FOREACH (s, &lsrc_all, entry) {
		pthread_mutex_lock(&s->lock);
		if (s->pub_new) {
			dir_set_free(&s->cur);
			s->cur = s->pub;
			dir_set_init(&s->pub);
			s->pub_new = false;
			s->have_data = true;
			changed = true;
		}
		pthread_mutex_unlock(&s->lock);
	}
	return changed;
}

int
lsrc_union(struct dir_set *set)
{
	const struct lsrc *s;

	TAILQ_FOREACH (s, &lsrc_all, entry)
		for (size_t i = 0; i < s->cur.n; i++)
			if (dir_set_add(set, s->cur.v[i]) != 0)
				return -ENOMEM;
	return 0;
}

time_t
lsrc_oldest_good(void)
{
	struct lsrc *s;
	time_t now = time(NULL), oldest = 0;

	TAILQ_FOREACH (s, &lsrc_all, entry) {
		time_t t;

		pthread_mutex_lock(&s->lock);
		t = s->live ? now : s->last_good;
		pthread_mutex_unlock(&s->lock);
		if (!s->have_data || t == 0)
			t = 1;
		if (oldest == 0 || t < oldest)
			oldest = t;
	}
	return oldest;
}

size_t
lsrc_count(void)
{
	const struct lsrc *s;
	size_t n = 0;

	TAILQ_FOREACH (s, &lsrc_all, entry)
		n++;
	return n;
}

int
lsrc_status(FILE *out)
{
	struct lsrc *s;
	int down = 0;

	TAILQ_FOREACH (s, &lsrc_all, entry) {
		char t[32] = "never";
		struct tm tm;

		pthread_mutex_lock(&s->lock);
		if (s->last_good != 0 && gmtime_r(&s->last_good, &tm) != NULL)
			strftime(t, sizeof(t), "%Y-%m-%dT%H:%M:%SZ", &tm);
		fprintf(out,
			"ldap %s: %s%s%s, %s, %zu entries, %zu addresses in force, last good %s, "
			"%" PRIu64 " refreshes (last: %" PRIu64 " entries sent whole), %" PRIu64
			" reconnects, %" PRIu64 " values skipped%s%s\n",
			s->conf.name, s->phase, s->how ? " via " : "", s->how ? s->how : "",
			s->conf.uri, s->entries, s->cur.n, t, s->refreshes, s->refresh_full,
			s->reconnects, s->skipped, s->error[0] ? ", LAST ERROR: " : "", s->error);
		down += !s->live;
		pthread_mutex_unlock(&s->lock);
	}
	return down;
}

void
lsrc_metrics(FILE *f)
{
	static const char *const fams[][2] = {
		{"ndrguard_directory_source_up", "gauge"},
		{"ndrguard_directory_source_addresses", "gauge"},
		{"ndrguard_directory_source_entries", "gauge"},
		{"ndrguard_directory_source_last_sync_timestamp_seconds", "gauge"},
		{"ndrguard_directory_source_refreshes_total", "counter"},
		{"ndrguard_directory_source_reconnects_total", "counter"},
		{"ndrguard_directory_source_skipped_values_total", "counter"},
	};
	struct lsrc *s;

	if (TAILQ_EMPTY(&lsrc_all))
		return;
	for (size_t k = 0; k < sizeof(fams) / sizeof(fams[0]); k++) {
		fprintf(f, "# TYPE %s %s\n", fams[k][0], fams[k][1]);
		TAILQ_FOREACH (s, &lsrc_all, entry) {
			uint64_t v;
			time_t now = time(NULL);

			pthread_mutex_lock(&s->lock);
			switch (k) {
			case 0:
				v = s->live;
				break;
			case 1:
				v = s->cur.n;
				break;
			case 2:
				v = s->entries;
				break;
			case 3:
				v = (uint64_t) (s->live ? now : s->last_good);
				break;
			case 4:
				v = s->refreshes;
				break;
			case 5:
				v = s->reconnects;
				break;
			default:
				v = s->skipped;
				break;
			}
			pthread_mutex_unlock(&s->lock);
			fprintf(f, "%s{source=\"%s\"} %" PRIu64 "\n", fams[k][0], s->conf.name, v);
		}
	}
}
