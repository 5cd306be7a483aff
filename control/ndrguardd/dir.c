/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Directory set, flat-file reader, snapshot writer and lookup explanation. Main thread only.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dir.h"

static bool
dir_atext(int c)
{
	/* RFC 5322 §3.2.3 atext, plus '.' for dot-atom (checked separately). */
	return isalnum(c) || strchr("!#$%&'*+-/=?^_`{|}~", c) != NULL;
}

static int
dir_domain_check(const char *d, size_t n, const char **why)
{
	size_t label = 0;

	if (n == 0 || n > DIR_DOMAIN_MAX) {
		*why = "domain empty or longer than 255";
		return -EINVAL;
	}
	for (size_t i = 0; i < n; i++) {
		int c = (unsigned char) d[i];

		if (c == '.') {
			if (label == 0 || d[i - 1] == '-') {
				*why = "empty domain label or label ending in '-'";
				return -EINVAL;
			}
			label = 0;
			continue;
		}
		if (!isalnum(c) && c != '-') {
			*why = "domain has a character other than letters, digits, '-' and '.'";
			return -EINVAL;
		}
		if (c == '-' && label == 0) {
			*why = "domain label starts with '-'";
			return -EINVAL;
		}
		if (++label > 63) {
			*why = "domain label longer than 63";
			return -EINVAL;
		}
	}
	if (label == 0) {
		*why = "domain ends with '.'";
		return -EINVAL;
	}
	return 0;
}

int
dir_addr_normalize(const char *in, bool lookup, char *out, const char **why)
{
	char buf[DIR_ADDR_MAX + 3];
	const char *at, *local, *dom;
	size_t n, llen, dlen;

	while (*in == ' ' || *in == '\t')
		in++;
	n = strlen(in);
	while (n > 0 && (in[n - 1] == ' ' || in[n - 1] == '\t' || in[n - 1] == '\r'))
		n--;
	if (n >= 2 && in[0] == '<' && in[n - 1] == '>') {
		in++;
		n -= 2;
	}
	if (n == 0 || n > DIR_ADDR_MAX) {
		*why = "empty or longer than 256";
		return -EINVAL;
	}
	memcpy(buf, in, n);
	buf[n] = '\0';
	for (size_t i = 0; i < n; i++)
		buf[i] = (char) tolower((unsigned char) buf[i]);
	at = strrchr(buf, '@');
	if (at == NULL) {
		*why = "no '@'";
		return -EINVAL;
	}
	local = buf;
	llen = (size_t) (at - buf);
	dom = at + 1;
	dlen = n - llen - 1;
	if (memchr(local, '@', llen) != NULL || memchr(local, '"', llen) != NULL) {
		*why = "more than one '@' or a quoted local part";
		return -EINVAL;
	}
	if (dir_domain_check(dom, dlen, why) != 0)
		return -EINVAL;
	if (lookup && llen > 5 && strncmp(local, "prvs=", 5) == 0) {
		/* draft-levine-smtp-batv: prvs=KDDDSSSSSS=user */
		const char *eq = memchr(local + 5, '=', llen - 5);

		if (eq != NULL) {
			llen -= (size_t) (eq + 1 - local);
			local = eq + 1;
		}
	}
	if (lookup) {
		const char *plus = memchr(local, '+', llen);

		if (plus != NULL && plus != local)
			llen = (size_t) (plus - local);
	}
	if (llen > DIR_LOCAL_MAX) {
		*why = "local part longer than 64";
		return -EINVAL;
	}
	for (size_t i = 0; i < llen; i++) {
		int c = (unsigned char) local[i];

		if (c == '.' ? (i == 0 || i + 1 == llen || local[i - 1] == '.') : !dir_atext(c)) {
			*why = "local part is not a dot-atom";
			return -EINVAL;
		}
	}
	memcpy(out, local, llen);
	out[llen] = '@';
	memcpy(out + llen + 1, dom, dlen);
	out[llen + 1 + dlen] = '\0';
	return 0;
}

void
dir_set_init(struct dir_set *s)
{
	memset(s, 0, sizeof(*s));
}

void
dir_set_free(struct dir_set *s)
{
	for (size_t i = 0; i < s->n; i++)
		free(s->v[i]);
	free(s->v);
	dir_set_init(s);
}

int
dir_set_add(struct dir_set *s, const char *addr)
{
	char *copy;

	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 1024;
		char **v = realloc(s->v, cap * sizeof(*v));

		if (v == NULL)
			return -ENOMEM;
		s->v = v;
		s->cap = cap;
	}
	copy = strdup(addr);
	if (copy == NULL)
		return -ENOMEM;
	s->v[s->n++] = copy;
	return 0;
}

static int
dir_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *) a, *(char *const *) b);
}

static void
dir_set_digest(struct dir_set *s)
{
	uint64_t h = 0xcbf29ce484222325ull; /* FNV-1a 64 over the sorted set */

	for (size_t i = 0; i < s->n; i++) {
		for (const unsigned char *p = (const unsigned char *) s->v[i]; *p; p++)
			h = (h ^ *p) * 0x100000001b3ull;
		h = (h ^ '\n') * 0x100000001b3ull;
	}
	s->gen = h ? h : 1;
}

void
dir_set_finish(struct dir_set *s)
{
	size_t w = 0;

	if (s->n > 1)
		qsort(s->v, s->n, sizeof(*s->v), dir_cmp);
	for (size_t r = 0; r < s->n; r++) {
		if (w > 0 && strcmp(s->v[w - 1], s->v[r]) == 0) {
			free(s->v[r]);
			continue;
		}
		s->v[w++] = s->v[r];
	}
	s->n = w;
	dir_set_digest(s);
}

static ssize_t
dir_set_index(const struct dir_set *s, const char *addr)
{
	size_t lo = 0, hi = s->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(s->v[mid], addr);

		if (c == 0)
			return (ssize_t) mid;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return -1;
}

bool
dir_set_has(const struct dir_set *s, const char *addr)
{
	return dir_set_index(s, addr) >= 0;
}

bool
dir_set_del(struct dir_set *s, const char *addr)
{
	ssize_t i = dir_set_index(s, addr);

	if (i < 0)
		return false;
	free(s->v[i]);
	memmove(&s->v[i], &s->v[i + 1], (s->n - (size_t) i - 1) * sizeof(*s->v));
	s->n--;
	dir_set_digest(s);
	return true;
}

int
dir_file_read(const char *path, struct dir_set *s, FILE *errf, size_t *bad)
{
	char line[1024], norm[DIR_ADDR_MAX + 1];
	const char *why;
	unsigned long lineno = 0;
	int ret = 0;
	FILE *f = fopen(path, "r");

	if (f == NULL)
		return -errno;
	while (fgets(line, sizeof(line), f) != NULL) {
		size_t n = strlen(line);
		char *p = line, *hash;

		lineno++;
		if (n == sizeof(line) - 1 && line[n - 1] != '\n') {
			int c;

			while ((c = fgetc(f)) != EOF && c != '\n')
				;
			if (errf != NULL)
				fprintf(errf, "%s:%lu: line too long, skipped\n", path, lineno);
			(*bad)++;
			continue;
		}
		hash = strchr(p, '#');
		if (hash != NULL)
			*hash = '\0';
		n = strlen(p);
		while (n > 0 && isspace((unsigned char) p[n - 1]))
			p[--n] = '\0';
		while (isspace((unsigned char) *p))
			p++;
		if (*p == '\0')
			continue;
		if (dir_addr_normalize(p, false, norm, &why) != 0) {
			if (errf != NULL)
				fprintf(errf, "%s:%lu: '%s': %s, skipped\n", path, lineno, p, why);
			(*bad)++;
			continue;
		}
		ret = dir_set_add(s, norm);
		if (ret != 0)
			break;
	}
	if (ret == 0 && ferror(f))
		ret = -EIO;
	fclose(f);
	return ret;
}

/* Files replaced whole: written to PATH.tmp, synced, renamed over PATH (a crash leaves the
 * old file or the new one, never half of one). dir_file_begin() opens the temporary file
 * (NULL and <*ret> set on failure); dir_file_commit() finishes it, <ret> being the writer's
 * verdict so far. */
static FILE *
dir_file_begin(const char *path, char *tmp, size_t size, int *ret)
{
	FILE *f;

	if ((size_t) snprintf(tmp, size, "%s.tmp", path) >= size) {
		*ret = -ENAMETOOLONG;
		return NULL;
	}
	f = fopen(tmp, "w");
	*ret = f == NULL ? -errno : 0;
	return f;
}

static int
dir_file_commit(FILE *f, const char *tmp, const char *path, int ret)
{
	if (ret == 0 && (ferror(f) || fflush(f) != 0 || fsync(fileno(f)) != 0))
		ret = errno != 0 ? -errno : -EIO;
	if (fclose(f) != 0 && ret == 0)
		ret = -errno;
	if (ret == 0 && rename(tmp, path) != 0)
		ret = -errno;
	if (ret != 0)
		(void) unlink(tmp);
	return ret;
}

int
dir_file_replace(const char *path, const char *text, size_t len)
{
	char tmp[4096];
	int ret;
	FILE *f = dir_file_begin(path, tmp, sizeof(tmp), &ret);

	if (f == NULL)
		return ret;
	return dir_file_commit(f, tmp, path, fwrite(text, 1, len, f) == len ? 0 : -EIO);
}

int
dir_write_lines(const char *path, const char *header, const struct dir_set *a, const char *pa,
	const struct dir_set *b, const char *pb)
{
	char tmp[4096];
	int ret;
	FILE *f = dir_file_begin(path, tmp, sizeof(tmp), &ret);

	if (f == NULL)
		return ret;
	fputs(header, f);
	for (size_t i = 0; a != NULL && i < a->n; i++)
		fprintf(f, "%s%s\n", pa, a->v[i]);
	for (size_t i = 0; b != NULL && i < b->n; i++)
		fprintf(f, "%s%s\n", pb, b->v[i]);
	return dir_file_commit(f, tmp, path, 0);
}

int
dir_snapshot_write(const struct dir_set *s, const char *path)
{
	char header[128];

	snprintf(header, sizeof(header),
		"# ndrguard directory snapshot: %zu addresses, digest %016llx\n", s->n,
		(unsigned long long) s->gen);
	return dir_write_lines(path, header, s, "", NULL, NULL);
}

static const char *const dir_match_names[DIR_MATCH_MAX] = {
	[DIR_MATCH_NONE] = "not found",
	[DIR_MATCH_EXACT] = "address",
	[DIR_MATCH_CATCHALL] = "catch-all",
	[DIR_MATCH_POSTMASTER] = "postmaster",
	[DIR_MATCH_BAD_SYNTAX] = "bad syntax",
	[DIR_MATCH_DOMAIN_UNKNOWN] = "domain not accepted",
};

const char *
dir_match_name(enum dir_match m)
{
	return (unsigned int) m < DIR_MATCH_MAX ? dir_match_names[m] : "?";
}

enum dir_match
dir_lookup(const struct dir_set *s, const char *addr,
	bool (*domain_ok)(const char *domain, void *arg), void *arg, char *normalized,
	char *matched)
{
	const char *why, *dom;

	matched[0] = '\0';
	if (dir_addr_normalize(addr, true, normalized, &why) != 0) {
		snprintf(normalized, DIR_ADDR_MAX + 1, "%s", why);
		return DIR_MATCH_BAD_SYNTAX;
	}
	dom = strrchr(normalized, '@');
	if (!domain_ok(dom + 1, arg))
		return DIR_MATCH_DOMAIN_UNKNOWN;
	if (normalized[0] != '@' && dir_set_has(s, normalized)) {
		snprintf(matched, DIR_ADDR_MAX + 1, "%s", normalized);
		return DIR_MATCH_EXACT;
	}
	if (dir_set_has(s, dom)) {
		snprintf(matched, DIR_ADDR_MAX + 1, "%s", dom);
		return DIR_MATCH_CATCHALL;
	}
	if (strncmp(normalized, "postmaster@", 11) == 0) {
		snprintf(matched, DIR_ADDR_MAX + 1, "postmaster (RFC 5321 §4.5.1)");
		return DIR_MATCH_POSTMASTER;
	}
	return DIR_MATCH_NONE;
}
