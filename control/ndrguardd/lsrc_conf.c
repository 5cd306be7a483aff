/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The `directory ldap NAME { ... }` block of ndrguard.conf(5): defaults per flavour, one
 * item at a time from the grammar, and the whole-block checks. Main thread only.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "lsrc.h"

static const char *const lsrc_flavour_names[LSRC_FLAVOUR_MAX] = {
	[LSRC_FLAVOUR_OPENLDAP] = "openldap",
	[LSRC_FLAVOUR_AD] = "ad",
};

static const char *const lsrc_mode_names[LSRC_MODE_MAX] = {
	[LSRC_MODE_AUTO] = "auto",
	[LSRC_MODE_SYNCREPL] = "syncrepl",
	[LSRC_MODE_POLL] = "poll",
};

static const char *const lsrc_bind_names[LSRC_BIND_MAX] = {
	[LSRC_BIND_ANONYMOUS] = "anonymous",
	[LSRC_BIND_SIMPLE] = "simple",
	[LSRC_BIND_SASL_EXTERNAL] = "sasl-external",
};

/* Defaults: OpenLDAP's misc.schema mail attributes; AD's mail plus the smtp: values of
 * proxyAddresses, on users, groups, contacts and mail-enabled public folders. */
static const struct lsrc_attr lsrc_attrs_openldap[] = {
	{"mail", LSRC_ATTR_PLAIN},
	{"mailAlternateAddress", LSRC_ATTR_PLAIN},
};
static const struct lsrc_attr lsrc_attrs_ad[] = {
	{"mail", LSRC_ATTR_PLAIN},
	{"proxyAddresses", LSRC_ATTR_SMTP},
};
static const char lsrc_filter_openldap[] = "(|(mail=*)(mailAlternateAddress=*))";
static const char lsrc_filter_ad[] =
	"(&(|(objectClass=user)(objectClass=group)(objectClass=contact)"
	"(objectClass=publicFolder)(objectClass=msExchDynamicDistributionList))"
	"(|(mail=*)(proxyAddresses=*)))";

const char *
lsrc_flavour_name(enum lsrc_flavour f)
{
	return (unsigned int) f < LSRC_FLAVOUR_MAX ? lsrc_flavour_names[f] : "?";
}

const char *
lsrc_mode_name(enum lsrc_mode m)
{
	return (unsigned int) m < LSRC_MODE_MAX ? lsrc_mode_names[m] : "?";
}

const char *
lsrc_bind_name(enum lsrc_bind b)
{
	return (unsigned int) b < LSRC_BIND_MAX ? lsrc_bind_names[b] : "?";
}

const char *
lsrc_conf_filter(const struct lsrc_conf *c)
{
	if (c->filter[0] != '\0')
		return c->filter;
	return c->flavour == LSRC_FLAVOUR_AD ? lsrc_filter_ad : lsrc_filter_openldap;
}

unsigned int
lsrc_conf_attrs(const struct lsrc_conf *c, const struct lsrc_attr **out)
{
	if (c->n_attrs > 0) {
		*out = c->attrs;
		return c->n_attrs;
	}
	if (c->flavour == LSRC_FLAVOUR_AD) {
		*out = lsrc_attrs_ad;
		return 2;
	}
	*out = lsrc_attrs_openldap;
	return 2;
}

struct lsrc_conf *
lsrc_conf_new(const char *name, int line, const char **why)
{
	struct lsrc_conf *c;
	size_t n = strlen(name);

	if (n == 0 || n > LSRC_NAME_MAX) {
		*why = "the name must be 1 to 32 characters";
		return NULL;
	}
	for (size_t i = 0; i < n; i++) {
		/* It becomes a metrics label value and a file name: keep it plain. */
		if (!islower((unsigned char) name[i]) && !isdigit((unsigned char) name[i]) &&
			name[i] != '-' && name[i] != '_') {
			*why = "the name may hold only a-z, 0-9, '-' and '_'";
			return NULL;
		}
	}
	c = calloc(1, sizeof(*c));
	if (c == NULL) {
		*why = "out of memory";
		return NULL;
	}
	memcpy(c->name, name, n + 1);
	c->flavour = LSRC_FLAVOUR_OPENLDAP;
	c->bind = LSRC_BIND_ANONYMOUS;
	c->mode = LSRC_MODE_AUTO;
	c->poll_interval_ms = 60 * 1000;
	c->page_size = 500; /* below AD's MaxPageSize of 1000 */
	c->max_entries = LSRC_ENTRIES_DEF;
	c->timeout_ms = 10 * 1000;
	c->line = line;
	return c;
}

static int lsrc_conf_err(char *err, size_t size, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int
lsrc_conf_err(char *err, size_t size, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, size, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

static int
lsrc_conf_str(char *dst, size_t size, const char *v, const char *key, char *err, size_t errsize)
{
	size_t n = strlen(v);

	if (n == 0 || n >= size)
		return lsrc_conf_err(err, errsize, "%s: empty or longer than %zu bytes", key,
			size - 1);
	memcpy(dst, v, n + 1);
	return 0;
}

static int
lsrc_conf_enum(const char *const *names, int max, const char *v, int *out)
{
	for (int i = 0; i < max; i++) {
		if (strcmp(names[i], v) == 0) {
			*out = i;
			return 0;
		}
	}
	return -EINVAL;
}

static int
lsrc_conf_u32(const char *v, uint32_t min, uint32_t max, uint32_t *out)
{
	char *end;
	unsigned long n;

	if (!isdigit((unsigned char) v[0]))
		return -EINVAL;
	errno = 0;
	n = strtoul(v, &end, 10);
	if (errno != 0 || *end != '\0' || n < min || n > max)
		return -EINVAL;
	*out = (uint32_t) n;
	return 0;
}

int
lsrc_conf_item(struct lsrc_conf *c, const char *key, char *const *args, int nargs, char *err,
	size_t errsize)
{
	int e;

	if (strcmp(key, "attributes") == 0) {
		if (nargs < 1 || nargs > LSRC_ATTRS_MAX)
			return lsrc_conf_err(err, errsize, "attributes: 1 to %d names",
				LSRC_ATTRS_MAX);
		for (int i = 0; i < nargs; i++)
			if (lsrc_attr_parse(args[i], &c->attrs[i]) != 0)
				return lsrc_conf_err(err, errsize,
					"attributes: '%s' is not an attribute name "
					"(optionally with ':smtp')",
					args[i]);
		c->n_attrs = (unsigned int) nargs;
		return 0;
	}
	if (strcmp(key, "bind") == 0) {
		if (nargs < 1 || lsrc_conf_enum(lsrc_bind_names, LSRC_BIND_MAX, args[0], &e) != 0)
			return lsrc_conf_err(err, errsize,
				"bind: anonymous, simple DN, or sasl-external");
		if ((e == LSRC_BIND_SIMPLE) != (nargs == 2))
			return lsrc_conf_err(err, errsize,
				"bind: 'simple' takes the bind DN, the others nothing");
		c->bind = (enum lsrc_bind) e;
		if (e == LSRC_BIND_SIMPLE)
			return lsrc_conf_str(c->bind_dn, sizeof(c->bind_dn), args[1], "bind", err,
				errsize);
		return 0;
	}
	if (strcmp(key, "change-marker") == 0) {
		struct lsrc_attr a;

		if (nargs != 2 || lsrc_attr_parse(args[1], &a) != 0 || a.kind != LSRC_ATTR_PLAIN)
			return lsrc_conf_err(err, errsize,
				"change-marker: an entry DN (\"\" for the root DSE) and an "
				"attribute name");
		c->marker_set = true;
		snprintf(c->marker_attr, sizeof(c->marker_attr), "%s", a.name);
		if (args[0][0] == '\0') {
			c->marker_dn[0] = '\0';
			return 0;
		}
		return lsrc_conf_str(c->marker_dn, sizeof(c->marker_dn), args[0], key, err,
			errsize);
	}
	if (nargs != 1)
		return lsrc_conf_err(err, errsize, "%s: takes one value", key);
	if (strcmp(key, "uri") == 0) {
		if (strncmp(args[0], "ldap://", 7) != 0 && strncmp(args[0], "ldaps://", 8) != 0 &&
			strncmp(args[0], "ldapi://", 8) != 0)
			return lsrc_conf_err(err, errsize,
				"uri: '%s' is not ldap://, ldaps:// or ldapi://", args[0]);
		return lsrc_conf_str(c->uri, sizeof(c->uri), args[0], key, err, errsize);
	}
	if (strcmp(key, "base") == 0)
		return lsrc_conf_str(c->base, sizeof(c->base), args[0], key, err, errsize);
	if (strcmp(key, "filter") == 0) {
		if (args[0][0] != '(')
			return lsrc_conf_err(err, errsize, "filter: '%s' does not start with '('",
				args[0]);
		return lsrc_conf_str(c->filter, sizeof(c->filter), args[0], key, err, errsize);
	}
	if (strcmp(key, "password-file") == 0)
		return lsrc_conf_str(c->password_file, sizeof(c->password_file), args[0], key, err,
			errsize);
	if (strcmp(key, "flavour") == 0 || strcmp(key, "flavor") == 0) {
		if (lsrc_conf_enum(lsrc_flavour_names, LSRC_FLAVOUR_MAX, args[0], &e) != 0)
			return lsrc_conf_err(err, errsize, "flavour: '%s' is not openldap or ad",
				args[0]);
		c->flavour = (enum lsrc_flavour) e;
		return 0;
	}
	if (strcmp(key, "sync") == 0) {
		if (lsrc_conf_enum(lsrc_mode_names, LSRC_MODE_MAX, args[0], &e) != 0)
			return lsrc_conf_err(err, errsize,
				"sync: '%s' is not auto, syncrepl or poll", args[0]);
		c->mode = (enum lsrc_mode) e;
		return 0;
	}
	if (strcmp(key, "poll-interval") == 0 || strcmp(key, "network-timeout") == 0) {
		uint32_t *dst = key[0] == 'p' ? &c->poll_interval_ms : &c->timeout_ms;

		if (conf_parse_duration(args[0], dst) != 0 || *dst < 100)
			return lsrc_conf_err(err, errsize,
				"%s: '%s' is not a duration of 100ms or more", key, args[0]);
		return 0;
	}
	if (strcmp(key, "page-size") == 0) {
		if (lsrc_conf_u32(args[0], 1, 100000, &c->page_size) != 0)
			return lsrc_conf_err(err, errsize, "page-size: '%s' is not 1 to 100000",
				args[0]);
		return 0;
	}
	if (strcmp(key, "max-entries") == 0) {
		if (lsrc_conf_u32(args[0], 1, 100000000, &c->max_entries) != 0)
			return lsrc_conf_err(err, errsize,
				"max-entries: '%s' is not 1 to 100000000", args[0]);
		return 0;
	}
	return lsrc_conf_err(err, errsize, "unknown item '%s' in a directory ldap block", key);
}

int
lsrc_conf_check(const struct lsrc_conf *c, char *err, size_t errsize)
{
	struct stat st;
	int fd;

	if (c->uri[0] == '\0')
		return lsrc_conf_err(err, errsize, "directory ldap %s: no uri", c->name);
	if (c->base[0] == '\0')
		return lsrc_conf_err(err, errsize, "directory ldap %s: no base", c->name);
	if (c->bind != LSRC_BIND_SIMPLE)
		return 0;
	if (c->password_file[0] == '\0')
		return lsrc_conf_err(err, errsize,
			"directory ldap %s: bind simple needs a password-file", c->name);
	/* The password never sits in the configuration or on a command line: a file that only
	 * the daemon's user can read, checked here and again at every bind. */
	fd = open(c->password_file, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return lsrc_conf_err(err, errsize, "directory ldap %s: password-file %s: %s",
			c->name, c->password_file, strerror(errno));
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || (st.st_mode & 077) != 0 ||
		st.st_uid != geteuid()) {
		close(fd);
		return lsrc_conf_err(err, errsize,
			"directory ldap %s: password-file %s must be a regular file owned by the "
			"daemon's user and not readable by group or others (chmod 600)",
			c->name, c->password_file);
	}
	close(fd);
	return 0;
}
