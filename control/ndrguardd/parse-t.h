/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * State shared by the grammar (parse.y) and the scanner (scan.l) while one file is read.
 * Main thread only.
 */
#ifndef NDG_CONTROL_PARSE_T_H
#define NDG_CONTROL_PARSE_T_H

#include <stdbool.h>
#include <stdio.h>

#include "config.h"
#include "lsrc-t.h"

#define CONF_TOKEN_MAX 4096 /* longest word or string the scanner accepts */

struct conf_parse_ctx {
	struct ndg_conf *conf;
	const char *path;
	FILE *errf;
	int errors;
	struct conf_domain *domain;	     /* the domain block being read, or NULL */
	struct lsrc_conf *ldap;		     /* the directory ldap block being read, or NULL */
	char *ldap_args[LSRC_ATTRS_MAX + 1]; /* values of the ldap item being read */
	int ldap_nargs;
	bool outbound; /* inside the outbound block (its items reuse ldap_args) */
};

/** Report "<path>:<line>: <message>" and count the error. */
void conf_parse_error(struct conf_parse_ctx *ctx, int line, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#endif /* NDG_CONTROL_PARSE_T_H */
