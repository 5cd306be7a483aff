/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * STARTTLS toward the backends: the 'tls ...' clause of a 'backend' line in ndrguard.conf(5)
 * ('backend IP [port P] tls may|encrypt|none [verify] [ca FILE] [name NAME]
 * [min-version 1.2|1.3]'). Each distinct clause becomes one policy; the daemon reads and
 * checks the CA files when it loads the configuration and ships their PEM bytes to the
 * dataplane. Main thread only.
 */
#ifndef NDG_CONTROL_CONFIG_BTLS_H
#define NDG_CONTROL_CONFIG_BTLS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define CONF_BTLS_MAX	 64 /* distinct backend TLS policies */
#define CONF_BTLS_ARGS	 16 /* words after 'tls' on one backend line */
#define CONF_BTLS_CA_MAX (1024u * 1024u)

enum conf_btls_mode {
	CONF_BTLS_NONE = 0, /* never STARTTLS */
	CONF_BTLS_MAY,	    /* STARTTLS when offered (the default for every backend) */
	CONF_BTLS_ENCRYPT,  /* STARTTLS required: 451 4.7.x rather than plaintext */
	CONF_BTLS_MODE_MAX
};

struct conf_btls_policy {
	uint8_t mode;	      /* enum conf_btls_mode */
	bool verify;	      /* chain against ca (or the system store), certificate name */
	uint16_t min_version; /* 0x0303 or 0x0304 */
	char ca_path[4096];   /* "" with verify: the system store */
	char name[256];	      /* expected certificate name and SNI, "" none */
	int line;
	char *ca_pem; /* read by conf_btls_load() */
	size_t ca_len;
};

struct conf_btls {
	unsigned int n;
	struct conf_btls_policy p[CONF_BTLS_MAX];
	/* parser state: the words of the clause being read and the backend it belongs to */
	char *args[CONF_BTLS_ARGS];
	unsigned int nargs;
	bool overflow;
	uint16_t *target; /* conf_backend.tls of the backend just parsed, NULL after an error */
};

/** Collect one word of a backend's 'tls' clause (takes ownership of <v>). */
void conf_btls_arg(struct conf_btls *t, char *v);

/**
 * The clause collected so far ends: check it, find or add its policy and point the backend
 * at it. @return 0, or -EINVAL/-ENOSPC with <err> filled. The words are freed either way.
 */
int conf_btls_end(struct conf_btls *t, int line, char *err, size_t errsize);

/**
 * Read every CA file and check it holds PEM certificates. Problems go to <errf> as
 * "<path>:<line>: message". @return the number of errors.
 */
int conf_btls_load(struct conf_btls *t, const char *path, FILE *errf);

/** Free what conf_btls_load() read and any words left over. */
void conf_btls_free(struct conf_btls *t);

#endif /* NDG_CONTROL_CONFIG_BTLS_H */
