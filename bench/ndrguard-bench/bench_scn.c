/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Scenario file parser. Line based: '#' comments, tokens split on blanks, "..." quotes a token
 * with blanks. Called once by the engine's thread before the run.
 */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "bench_scn.h"

#define SCN_TOKENS_MAX 16

static const char *const scn_verb_names[SCN_VERB_MAX] = {
	[SCN_VERB_CONNECT] = "connect",
	[SCN_VERB_EHLO] = "ehlo",
	[SCN_VERB_MAIL] = "mail",
	[SCN_VERB_RCPT] = "rcpt",
	[SCN_VERB_DATA] = "data",
	[SCN_VERB_DOT] = "dot",
	[SCN_VERB_QUIT] = "quit",
	[SCN_VERB_OTHER] = "other",
	[SCN_VERB_STARTTLS] = "starttls",
	[SCN_VERB_TLS] = "tls",
	[SCN_VERB_SESSION] = "session",
};

const char *
scn_verb_name(enum scn_verb v)
{
	return v < SCN_VERB_MAX ? scn_verb_names[v] : "?";
}

static int
scn_err(char *err, size_t sz, const char *path, unsigned int line, const char *fmt, ...)
{
	va_list ap;
	int n = snprintf(err, sz, "%s:%u: ", path, line);

	va_start(ap, fmt);
	if (n >= 0 && (size_t) n < sz)
		vsnprintf(err + n, sz - (size_t) n, fmt, ap);
	va_end(ap);
	return -1;
}

/* Split <line> in place into at most SCN_TOKENS_MAX tokens. @return the count or -1. */
static int
scn_tokens(char *line, char **tok)
{
	int n = 0;
	char *p = line;

	for (;;) {
		while (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n')
			p++;
		if (*p == '\0' || *p == '#')
			return n;
		if (n == SCN_TOKENS_MAX)
			return -1;
		if (*p == '"') {
			char *q = strchr(p + 1, '"');

			if (q == NULL)
				return -1;
			tok[n++] = p + 1;
			*q = '\0';
			p = q + 1;
			continue;
		}
		tok[n++] = p;
		while (*p != '\0' && *p != ' ' && *p != '\t' && *p != '\r' && *p != '\n')
			p++;
		if (*p != '\0')
			*p++ = '\0';
	}
}

/* "550", "2xx" or "550,421,4xx" into <st>'s phase <ph>. */
static int
scn_parse_expect(struct scn_step *st, unsigned int ph, const char *s)
{
	st->n_exp[ph] = 0;
	while (*s != '\0') {
		struct scn_expect e = {0, false};

		if (st->n_exp[ph] == SCN_EXPECT_MAX || !isdigit((unsigned char) s[0]))
			return -1;
		if ((s[1] == 'x' || s[1] == 'X') && (s[2] == 'x' || s[2] == 'X')) {
			e.code = (uint16_t) (s[0] - '0');
			e.class = true;
		} else if (isdigit((unsigned char) s[1]) && isdigit((unsigned char) s[2])) {
			e.code = (uint16_t) ((s[0] - '0') * 100 + (s[1] - '0') * 10 + (s[2] - '0'));
		} else {
			return -1;
		}
		st->exp[ph][st->n_exp[ph]++] = e;
		s += 3;
		if (*s == ',')
			s++;
		else if (*s != '\0')
			return -1;
	}
	return st->n_exp[ph] > 0 ? 0 : -1;
}

bool
scn_expect_match(const struct scn_step *st, unsigned int phase, unsigned int code)
{
	for (unsigned int i = 0; i < st->n_exp[phase]; i++) {
		const struct scn_expect *e = &st->exp[phase][i];

		if (e->class ? code / 100 == e->code : code == e->code)
			return true;
	}
	return false;
}

void
scn_expect_str(const struct scn_step *st, unsigned int phase, char *buf, size_t sz)
{
	size_t n = 0;

	buf[0] = '\0';
	for (unsigned int i = 0; i < st->n_exp[phase] && n + 5 < sz; i++) {
		const struct scn_expect *e = &st->exp[phase][i];
		int w = snprintf(buf + n, sz - n, "%s%u%s", i ? "," : "", e->code,
			e->class ? "xx" : "");

		n += w > 0 ? (size_t) w : 0;
	}
}

/* "1024", "64K", "1M" → bytes. */
static int
scn_parse_size(const char *s, uint32_t *ret)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno != 0 || end == s)
		return -1;
	if (*end == 'K' || *end == 'k')
		v *= 1024, end++;
	else if (*end == 'M' || *end == 'm')
		v *= 1024 * 1024, end++;
	if (*end != '\0' || v > 64UL * 1024 * 1024)
		return -1;
	*ret = (uint32_t) v;
	return 0;
}

static enum scn_verb
scn_verb_of(const char *text)
{
	static const struct {
		const char *w;
		enum scn_verb v;
	} t[] = {
		{"EHLO", SCN_VERB_EHLO},
		{"HELO", SCN_VERB_EHLO},
		{"MAIL", SCN_VERB_MAIL},
		{"RCPT", SCN_VERB_RCPT},
		{"DATA", SCN_VERB_DATA},
		{"QUIT", SCN_VERB_QUIT},
	};

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		if (strncasecmp(text, t[i].w, 4) == 0 && (text[4] == '\0' || text[4] == ' '))
			return t[i].v;
	return SCN_VERB_OTHER;
}

static int
scn_hex(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = (char) tolower((unsigned char) c);
	return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* Steps of one kind: connect, send, data, starttls, each optionally behind "repeat N". */
static int
scn_parse_step(struct scn_kind *k, char **tok, int nt, const char *path, unsigned int ln, char *err,
	size_t errsz)
{
	unsigned long rep = 1;
	struct scn_step st;

	memset(&st, 0, sizeof(st));
	if (nt >= 3 && strcmp(tok[0], "repeat") == 0) {
		char *end;

		rep = strtoul(tok[1], &end, 10);
		if (*end != '\0' || rep == 0 || rep > SCN_STEPS_MAX)
			return scn_err(err, errsz, path, ln, "repeat: bad count '%s'", tok[1]);
		tok += 2;
		nt -= 2;
	}
	if (strcmp(tok[0], "connect") == 0 && nt == 2) {
		if (k->n_steps != 0 || rep != 1)
			return scn_err(err, errsz, path, ln,
				"connect must be the first step, once");
		st.type = SCN_STEP_CONNECT;
		st.verb = SCN_VERB_CONNECT;
		if (scn_parse_expect(&st, 0, tok[1]) < 0)
			return scn_err(err, errsz, path, ln, "bad reply codes '%s'", tok[1]);
	} else if (strcmp(tok[0], "send") == 0 && nt == 3) {
		st.type = SCN_STEP_SEND;
		st.verb = scn_verb_of(tok[1]);
		if (st.verb == SCN_VERB_DATA)
			return scn_err(err, errsz, path, ln, "use the data step for DATA");
		if (scn_parse_expect(&st, 0, tok[2]) < 0)
			return scn_err(err, errsz, path, ln, "bad reply codes '%s'", tok[2]);
		st.text = strdup(tok[1]);
		if (st.text == NULL)
			return scn_err(err, errsz, path, ln, "out of memory");
	} else if (strcmp(tok[0], "starttls") == 0 && nt == 2) {
		st.type = SCN_STEP_STARTTLS;
		st.verb = SCN_VERB_STARTTLS;
		if (scn_parse_expect(&st, 0, tok[1]) < 0)
			return scn_err(err, errsz, path, ln, "bad reply codes '%s'", tok[1]);
		st.text = strdup("STARTTLS");
		if (st.text == NULL)
			return scn_err(err, errsz, path, ln, "out of memory");
	} else if (strcmp(tok[0], "data") == 0 && nt == 5) {
		st.type = SCN_STEP_DATA;
		st.verb = SCN_VERB_DATA;
		if (scn_parse_size(tok[1], &st.size_min) < 0 ||
			scn_parse_size(tok[2], &st.size_max) < 0 || st.size_min > st.size_max)
			return scn_err(err, errsz, path, ln, "data: bad size range");
		if (scn_parse_expect(&st, 0, tok[3]) < 0 || scn_parse_expect(&st, 1, tok[4]) < 0)
			return scn_err(err, errsz, path, ln, "data: bad reply codes");
	} else {
		return scn_err(err, errsz, path, ln, "unknown step '%s'", tok[0]);
	}
	if (st.type != SCN_STEP_CONNECT && k->n_steps == 0)
		return scn_err(err, errsz, path, ln, "the first step must be connect");
	for (unsigned long i = 0; i < rep; i++) {
		if (k->n_steps == SCN_STEPS_MAX)
			return scn_err(err, errsz, path, ln, "more than %d steps", SCN_STEPS_MAX);
		k->steps[k->n_steps] = st;
		if (i > 0 && st.text != NULL) {
			k->steps[k->n_steps].text = strdup(st.text);
			if (k->steps[k->n_steps].text == NULL)
				return scn_err(err, errsz, path, ln, "out of memory");
		}
		k->n_steps++;
	}
	return 0;
}

int
scn_load(struct scn *s, const char *path, char *err, size_t errsz)
{
	char line[1024], *tok[SCN_TOKENS_MAX];
	struct scn_kind *k = NULL;
	unsigned int ln = 0;
	FILE *f;
	int nt, rc = -1;

	memset(s, 0, sizeof(*s));
	f = fopen(path, "r");
	if (f == NULL)
		return scn_err(err, errsz, path, 0, "%s", strerror(errno));
	while (fgets(line, sizeof(line), f) != NULL) {
		ln++;
		nt = scn_tokens(line, tok);
		if (nt < 0) {
			scn_err(err, errsz, path, ln, "unbalanced quote or too many tokens");
			goto out;
		}
		if (nt == 0)
			continue;
		if (k != NULL) {
			if (strcmp(tok[0], "end") == 0 && nt == 1) {
				if (k->n_steps < 2) {
					scn_err(err, errsz, path, ln, "kind %s has no steps",
						k->name);
					goto out;
				}
				k = NULL;
				continue;
			}
			if (scn_parse_step(k, tok, nt, path, ln, err, errsz) < 0)
				goto out;
			continue;
		}
		if (strcmp(tok[0], "kind") == 0 && nt >= 4 && strcmp(tok[2], "weight") == 0) {
			char *end;
			unsigned long w = strtoul(tok[3], &end, 10);

			if (s->n_kinds == SCN_KINDS_MAX || *end != '\0' || w > 1000000 ||
				strlen(tok[1]) >= SCN_NAME_MAX) {
				scn_err(err, errsz, path, ln,
					"kind: bad name, weight or too many kinds");
				goto out;
			}
			k = &s->kinds[s->n_kinds++];
			memcpy(k->name, tok[1], strlen(tok[1]) + 1);
			k->weight = (uint32_t) w;
			s->weight_total += (uint32_t) w;
			for (int i = 4; i < nt; i++) {
				if (strcmp(tok[i], "pipelined") == 0)
					k->flags |= SCN_KIND_PIPELINED;
				else if (strcmp(tok[i], "one-source") == 0)
					k->flags |= SCN_KIND_ONE_SOURCE;
				else if (strcmp(tok[i], "legit") == 0)
					k->flags |= SCN_KIND_LEGIT;
				else {
					scn_err(err, errsz, path, ln, "kind: unknown flag '%s'",
						tok[i]);
					goto out;
				}
			}
		} else if (strcmp(tok[0], "valid") == 0 && nt >= 2) {
			for (int i = 1; i < nt; i++) {
				if (s->n_valid == SCN_VALID_MAX) {
					scn_err(err, errsz, path, ln, "too many valid addresses");
					goto out;
				}
				s->valid[s->n_valid] = strdup(tok[i]);
				if (s->valid[s->n_valid++] == NULL)
					goto out;
			}
		} else if (strcmp(tok[0], "batv-key") == 0 && nt == 3) {
			size_t hl = strlen(tok[2]);
			unsigned int id = (unsigned int) (tok[1][0] - '0');

			if (tok[1][1] != '\0' || id >= BATV_KEYS_MAX || hl % 2 || hl < 32 ||
				hl / 2 > BATV_KEY_LEN) {
				scn_err(err, errsz, path, ln,
					"batv-key: ID (0-9) and 32+ hex digits");
				goto out;
			}
			for (size_t i = 0; i < hl / 2; i++) {
				int hi = scn_hex(tok[2][2 * i]), lo = scn_hex(tok[2][2 * i + 1]);

				if (hi < 0 || lo < 0) {
					scn_err(err, errsz, path, ln, "batv-key: not hexadecimal");
					goto out;
				}
				s->batv.k[id].key[i] = (uint8_t) (hi * 16 + lo);
			}
			s->batv.k[id].len = (uint8_t) (hl / 2);
			s->batv.k[id].set = true;
			s->batv.sign_id = (uint8_t) id;
			s->batv_set = true;
		} else {
			scn_err(err, errsz, path, ln, "unknown directive '%s'", tok[0]);
			goto out;
		}
	}
	if (k != NULL) {
		scn_err(err, errsz, path, ln, "kind %s: missing 'end'", k->name);
		goto out;
	}
	if (s->n_kinds == 0 || s->weight_total == 0) {
		scn_err(err, errsz, path, ln, "no kind with a weight");
		goto out;
	}
	rc = 0;
out:
	fclose(f);
	if (rc < 0)
		scn_free(s);
	return rc;
}

void
scn_free(struct scn *s)
{
	for (unsigned int i = 0; i < s->n_kinds; i++)
		for (unsigned int j = 0; j < s->kinds[i].n_steps; j++)
			free(s->kinds[i].steps[j].text);
	for (unsigned int i = 0; i < s->n_valid; i++)
		free(s->valid[i]);
	s->n_kinds = 0;
	s->n_valid = 0;
}
