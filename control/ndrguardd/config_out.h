/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The `outbound { ... }` block of ndrguard.conf(5): the internal listener, the smarthost,
 * sender and host rates, NDR control and BATV signing of mail leaving the organisation.
 * Main thread only.
 */
#ifndef NDG_CONTROL_CONFIG_OUT_H
#define NDG_CONTROL_CONFIG_OUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/queue.h>

#define CONF_OUT_PORTS	    4
#define CONF_OUT_SMARTHOSTS 8
#define CONF_OUT_EXEMPT_MAX 256 /* ctl_config_addr */

/* Rates, in the order of enum ctl_out_rate (ctl_proto-t.h). */
enum conf_out_rate {
	CONF_OUT_SENDER_MSG = 0, /* sender rate */
	CONF_OUT_SENDER_RCPT,	 /* sender recipients */
	CONF_OUT_HOST_MSG,	 /* host rate */
	CONF_OUT_HOST_RCPT,	 /* host recipients */
	CONF_OUT_NDR_DOMAIN,	 /* ndr domain */
	CONF_OUT_NDR_TOTAL,	 /* ndr total */
	CONF_OUT_RATE_MAX
};

struct conf_out_rate_v {
	uint32_t count; /* 0: no limit */
	uint32_t per_ms;
	uint32_t burst; /* 0: count */
};

struct conf_out_net {
	TAILQ_ENTRY(conf_out_net) entry;
	uint32_t ip; /* network byte order */
	uint8_t plen;
};

struct conf_out_exempt {
	TAILQ_ENTRY(conf_out_exempt) entry;
	char addr[CONF_OUT_EXEMPT_MAX]; /* "user@domain" or "@domain", lowercase */
};

TAILQ_HEAD(conf_out_net_list, conf_out_net);
TAILQ_HEAD(conf_out_exempt_list, conf_out_exempt);

struct conf_out {
	bool enabled; /* an outbound block is present */
	int line;     /* where it starts */
	unsigned int n_ports;
	uint16_t ports[CONF_OUT_PORTS];
	uint32_t addr; /* listener address, network byte order; 0: the backend-facing port */
	unsigned int n_smarthosts;
	uint32_t smarthost_ip[CONF_OUT_SMARTHOSTS]; /* network byte order */
	uint16_t smarthost_port[CONF_OUT_SMARTHOSTS];
	bool batv_sign;
	bool ndr_refuse;   /* every null-sender recipient refused */
	bool ndr_tempfail; /* 451 4.7.1 over the NDR limit instead of 550 5.7.1 */
	struct conf_out_rate_v rate[CONF_OUT_RATE_MAX];
	struct conf_out_net_list nets;
	struct conf_out_exempt_list exempt;
};

/** Defaults: disabled, ports 25 and 587, BATV signing on, NDRs 30 per domain and 100 in total
 * per hour, sender 60 messages and 600 recipients per minute, host 120 and 1200. */
void conf_out_init(struct conf_out *o);

/** Free the lists of <o>. */
void conf_out_free(struct conf_out *o);

/**
 * One line of the block: <key> and its <nargs> <args>.
 * @return 0, or -EINVAL with the reason in <err>.
 */
int conf_out_item(struct conf_out *o, const char *key, char *const *args, int nargs, char *err,
	size_t errsz);

/**
 * Cross-field checks (a smarthost is set). Problems go to <errf> prefixed with <path>.
 * @return the number of errors.
 */
int conf_out_validate(const struct conf_out *o, const char *path, FILE *errf);

/** Bytes of the CONFIG section for <o> (0 when disabled). */
size_t conf_out_payload_size(const struct conf_out *o);

/** Write the CONFIG section for <o> at <p> (conf_out_payload_size() bytes, zeroed). */
void conf_out_payload(const struct conf_out *o, void *p);

#endif /* NDG_CONTROL_CONFIG_OUT_H */
