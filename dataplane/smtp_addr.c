/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * RFC 5321 §4.1.2 path parser (Reverse-path, Forward-path) and the lookup normalisation of
 * DESIGN.md §4. Pure functions over a bounded input: safe from any thread.
 * Relay-bypass forms (%, !, source routes, extra or quoted @) are told apart from plain syntax
 * errors because they get a different reply (550 5.7.1 instead of 501).
 */
#include <errno.h>
#include <stdbool.h>
#include <string.h>

#include "smtp.h"
#include "ndg_common.h"

/* RFC 5322 atext: ALPHA / DIGIT / "!#$%&'*+-/=?^_`{|}~" (table: on every RCPT) */
static const bool smtp_addr_atext[256] = {
	['a' ... 'z'] = true,
	['A' ... 'Z'] = true,
	['0' ... '9'] = true,
	['!'] = true,
	['#'] = true,
	['$'] = true,
	['%'] = true,
	['&'] = true,
	['\''] = true,
	['*'] = true,
	['+'] = true,
	['-'] = true,
	['/'] = true,
	['='] = true,
	['?'] = true,
	['^'] = true,
	['_'] = true,
	['`'] = true,
	['{'] = true,
	['|'] = true,
	['}'] = true,
	['~'] = true,
};

static bool
smtp_addr_is_atext(unsigned char c)
{
	return smtp_addr_atext[c];
}

static bool
smtp_addr_is_letdig(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

static char
smtp_addr_lower(char c)
{
	return (c >= 'A' && c <= 'Z') ? (char) (c - 'A' + 'a') : c;
}

/* Domain = sub-domain *("." sub-domain); sub-domain = Let-dig [Ldh-str] (RFC 5321 §4.1.2). */
static bool
smtp_addr_domain_ok(const char *d, size_t n)
{
	size_t lab = 0;

	if (n == 0)
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char) d[i];

		if (c == '.') {
			if (lab == 0 || d[i - 1] == '-')
				return false;
			lab = 0;
			continue;
		}
		if (smtp_addr_is_letdig(c) || (c == '-' && lab > 0)) {
			if (++lab > 63) /* RFC 1035 §2.3.4 label length */
				return false;
			continue;
		}
		return false;
	}
	return lab > 0 && d[n - 1] != '-';
}

/* address-literal = "[" ( IPv4 / IPv6 / General ) "]"; dcontent = %d33-90 / %d94-126 */
static bool
smtp_addr_literal_ok(const char *d, size_t n)
{
	if (n < 3 || d[0] != '[' || d[n - 1] != ']')
		return false;
	for (size_t i = 1; i + 1 < n; i++) {
		unsigned char c = (unsigned char) d[i];

		if (c < 33 || c > 126 || c == '[' || c == '\\' || c == ']')
			return false;
	}
	return true;
}

int
smtp_addr_parse(const char *s, size_t n, bool allow_null, struct smtp_addr *out, size_t *ret_end)
{
	struct smtp_addr a;
	bool route = false;
	size_t i = 1, ll = 0, dstart, dend;

	/* Only the scalars are cleared: the strings are NUL-terminated as they are filled. */
	a.flags = 0;
	a.local_len = 0;
	a.domain_len = 0;
	a.local[0] = '\0';
	a.domain[0] = '\0';
	if (n < 2 || s[0] != '<')
		return -EINVAL;
	if (s[1] == '>') {
		if (!allow_null)
			return -EINVAL;
		a.flags = SMTP_ADDR_NULL;
		i = 2;
		goto done;
	}
	/* A-d-l source route "@a,@b:" (RFC 5321 §4.1.2, Appendix C): a relay request. */
	if (s[1] == '@')
		return -SMTP_ADDR_EROUTE;

	if (s[i] == '"') {
		/* Quoted-string = DQUOTE *QcontentSMTP DQUOTE */
		a.flags |= SMTP_ADDR_QUOTED;
		for (i++;; i++) {
			unsigned char c;

			if (i >= n)
				return route ? -SMTP_ADDR_EROUTE : -EINVAL;
			c = (unsigned char) s[i];
			if (c == '"')
				break;
			if (c == '\\') {
				if (++i >= n)
					return -EINVAL;
				c = (unsigned char) s[i];
				if (c < 32 || c > 126)
					return -EINVAL;
			} else if (c < 32 || c > 126) {
				return -EINVAL;
			}
			if (c == '@' || c == '%' || c == '!')
				route = true;
			if (ll >= SMTP_LOCAL_MAX)
				return route ? -SMTP_ADDR_EROUTE : -ENAMETOOLONG;
			a.local[ll++] = (char) c;
		}
		i++; /* closing quote */
		if (ll == 0)
			return -EINVAL;
	} else {
		/* Dot-string = Atom *("." Atom) */
		bool dot_ok = false;

		for (; i < n; i++) {
			unsigned char c = (unsigned char) s[i];

			if (c == '@' || c == '>')
				break;
			if (c == '.') {
				if (!dot_ok)
					return route ? -SMTP_ADDR_EROUTE : -EINVAL;
				dot_ok = false;
			} else if (smtp_addr_is_atext(c)) {
				dot_ok = true;
				if (c == '%' || c == '!')
					route = true;
			} else {
				return route ? -SMTP_ADDR_EROUTE : -EINVAL;
			}
			if (ll >= SMTP_LOCAL_MAX)
				return route ? -SMTP_ADDR_EROUTE : -ENAMETOOLONG;
			a.local[ll++] = (char) c;
		}
		if (ll == 0 || !dot_ok)
			return route ? -SMTP_ADDR_EROUTE : -EINVAL;
	}
	a.local_len = (uint16_t) ll;
	a.local[ll] = '\0';
	if (i >= n)
		return route ? -SMTP_ADDR_EROUTE : -EINVAL;
	if (s[i] == '>') {
		/* "<Postmaster>" is the only path allowed without a domain (RFC 5321 §4.1.1.3). */
		if (route || (a.flags & SMTP_ADDR_QUOTED) || ll != 10 ||
			strncasecmp(a.local, "postmaster", 10) != 0)
			return route ? -SMTP_ADDR_EROUTE : -EINVAL;
		a.flags |= SMTP_ADDR_POSTMASTER;
		i++;
		goto done;
	}
	/* s[i] == '@' */
	dstart = ++i;
	for (; i < n && s[i] != '>'; i++) {
		/* "a@b@c", "a@b,@c:d": a second hop in the path (':' is fine in "[IPv6:...]") */
		if (s[i] == '@' || ((s[i] == ':' || s[i] == ',') && s[dstart] != '['))
			route = true;
	}
	if (route)
		return -SMTP_ADDR_EROUTE;
	if (i >= n)
		return -EINVAL;
	dend = i++;
	if (dend - dstart > SMTP_DOMAIN_MAX)
		return -ENAMETOOLONG;
	if (s[dstart] == '[') {
		if (!smtp_addr_literal_ok(s + dstart, dend - dstart))
			return -EINVAL;
		a.flags |= SMTP_ADDR_LITERAL;
	} else if (!smtp_addr_domain_ok(s + dstart, dend - dstart)) {
		return -EINVAL;
	}
	memcpy(a.domain, s + dstart, dend - dstart);
	a.domain_len = (uint16_t) (dend - dstart);
	a.domain[a.domain_len] = '\0';
done:
	if (i > SMTP_PATH_MAX)
		return -ENAMETOOLONG;
	out->flags = a.flags;
	out->local_len = a.local_len;
	out->domain_len = a.domain_len;
	memcpy(out->local, a.local, (size_t) a.local_len + 1);
	memcpy(out->domain, a.domain, (size_t) a.domain_len + 1);
	*ret_end = i;
	return 0;
}

size_t
smtp_addr_batv_strip(const char *local, size_t n)
{
	/* prvs=KDDDSSSSSS=local (draft-levine-smtp-batv §4.1): K and DDD decimal, SSSSSS hex */
	if (n < 17 || strncasecmp(local, "prvs=", 5) != 0 || local[15] != '=')
		return 0;
	for (size_t i = 5; i < 15; i++) {
		char c = smtp_addr_lower(local[i]);
		bool dig = c >= '0' && c <= '9';

		if (i < 9 ? !dig : !(dig || (c >= 'a' && c <= 'f')))
			return 0;
	}
	return 16;
}

int
smtp_addr_normalize(const struct smtp_addr *a, bool case_sensitive, char *out, size_t outsz)
{
	const char *l = a->local;
	size_t ll = a->local_len, skip, o = 0;

	if (a->flags & SMTP_ADDR_NULL)
		return -EINVAL;
	skip = smtp_addr_batv_strip(l, ll);
	l += skip;
	ll -= skip;
	/* Subaddress: "user+tag" → "user" (RFC 5233); a leading '+' is part of the name. */
	for (size_t i = 1; i < ll; i++) {
		if (l[i] == '+') {
			ll = i;
			break;
		}
	}
	if (ll + 1 + a->domain_len + 1 > outsz)
		return -ENOSPC;
	for (size_t i = 0; i < ll; i++)
		out[o++] = case_sensitive ? l[i] : smtp_addr_lower(l[i]);
	out[o++] = '@';
	for (size_t i = 0; i < a->domain_len; i++)
		out[o++] = smtp_addr_lower(a->domain[i]);
	out[o] = '\0';
	return (int) o;
}
