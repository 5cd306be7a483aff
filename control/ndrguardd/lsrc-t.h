/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Types of the LDAP / Active Directory directory sources ("directory ldap NAME { ... }" in
 * ndrguard.conf(5)): the configuration the grammar fills (main thread) and that each
 * source's sync thread copies at start.
 */
#ifndef NDG_CONTROL_LSRC_T_H
#define NDG_CONTROL_LSRC_T_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/queue.h>

#define LSRC_NAME_MAX	   32	      /* source name: [a-z0-9_-], a metrics label value */
#define LSRC_ATTRS_MAX	   8	      /* attributes read per source */
#define LSRC_ATTR_NAME_MAX 64	      /* RFC 4512 §1.4 descr, bounded */
#define LSRC_DN_MAX	   1024	      /* base and bind DN */
#define LSRC_FILTER_MAX	   2048	      /* RFC 4515 string filter */
#define LSRC_URI_MAX	   512	      /* ldap://host:port/ or ldapi://%2Fpath */
#define LSRC_PATH_MAX	   1024	      /* password file */
#define LSRC_VALUE_MAX	   1024	      /* longer attribute values are skipped, not truncated */
#define LSRC_VALUES_MAX	   1000	      /* values of one attribute taken from one entry */
#define LSRC_ENTRIES_DEF   5000000u   /* default 'max-entries' */
#define LSRC_MSG_MAX	   (4u << 20) /* largest BER message accepted from the server */

enum lsrc_flavour {
	LSRC_FLAVOUR_OPENLDAP = 0, /* mail, mailAlternateAddress; syncrepl when offered */
	LSRC_FLAVOUR_AD,	   /* mail, proxyAddresses smtp:; polled on highestCommittedUSN */
	LSRC_FLAVOUR_MAX
};

enum lsrc_bind {
	LSRC_BIND_ANONYMOUS = 0, /* no bind */
	LSRC_BIND_SIMPLE,	 /* bind DN + password read from a file only the daemon can read */
	LSRC_BIND_SASL_EXTERNAL, /* SASL EXTERNAL: the ldapi peer credentials (or a TLS cert) */
	LSRC_BIND_MAX
};

enum lsrc_mode {
	LSRC_MODE_AUTO = 0, /* syncrepl when the server lists the control, else poll */
	LSRC_MODE_SYNCREPL, /* RFC 4533 refreshAndPersist, required */
	LSRC_MODE_POLL,	    /* paged full re-read when the change marker moved */
	LSRC_MODE_MAX
};

/* How the values of one attribute become addresses. */
enum lsrc_attr_kind {
	LSRC_ATTR_PLAIN = 0, /* the value is an address (mail, mailAlternateAddress) */
	LSRC_ATTR_SMTP,	     /* typed "smtp:addr" values (AD proxyAddresses); others skipped */
	LSRC_ATTR_MAX
};

struct lsrc_attr {
	char name[LSRC_ATTR_NAME_MAX + 1];
	enum lsrc_attr_kind kind;
};

struct lsrc_conf {
	TAILQ_ENTRY(lsrc_conf) entry;
	char name[LSRC_NAME_MAX + 1];
	char uri[LSRC_URI_MAX + 1];
	char base[LSRC_DN_MAX + 1];
	char filter[LSRC_FILTER_MAX + 1]; /* "" → the flavour's default */
	enum lsrc_flavour flavour;
	enum lsrc_bind bind;
	char bind_dn[LSRC_DN_MAX + 1];
	char password_file[LSRC_PATH_MAX + 1];
	unsigned int n_attrs; /* 0 → the flavour's defaults */
	struct lsrc_attr attrs[LSRC_ATTRS_MAX];
	enum lsrc_mode mode;
	bool marker_set;		 /* 'change-marker' given; else the flavour's */
	char marker_dn[LSRC_DN_MAX + 1]; /* entry whose attribute moves on every change */
	char marker_attr[LSRC_ATTR_NAME_MAX + 1];
	uint32_t poll_interval_ms;
	uint32_t page_size;
	uint32_t max_entries;
	uint32_t timeout_ms; /* network and operation timeout */
	int line;
};

TAILQ_HEAD(lsrc_conf_list, lsrc_conf);

#endif /* NDG_CONTROL_LSRC_T_H */
