/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Types of the built-in test applications on the TCP stack: echo (RFC 862), discard
 * (RFC 863) and a verifying client for active opens. Configured by main before launch,
 * read-only afterwards.
 */
#ifndef NDG_DATAPLANE_APP_T_H
#define NDG_DATAPLANE_APP_T_H

#include <stdint.h>

#define APP_ECHO_PORT	 7  /* RFC 862 */
#define APP_DISCARD_PORT 9  /* RFC 863 */
#define APP_SMTP_PORT	 25 /* RFC 5321 */
#define APP_MAX		 4  /* --app options */

enum app_kind {
	APP_NONE = 0, /* slot unused */
	APP_ECHO,     /* send back every byte received, close after the peer closes */
	APP_DISCARD,  /* read and drop everything */
	APP_CLIENT,   /* open connections to an echo server and check the bytes come back */
	APP_SMTP,     /* the SMTP proxy (proxy.c): n_conns is the session pool per lcore */
	APP_KIND_MAX
};

struct app_cfg {
	uint8_t kind;	   /* enum app_kind */
	uint16_t port;	   /* listening port (echo, discard) or server port (client) */
	uint32_t server;   /* client: server address, network byte order */
	uint32_t n_conns;  /* client: connections to make in total */
	uint32_t parallel; /* client: connections open at once */
	uint32_t bytes;	   /* client: bytes to send and get back on each */
};

#endif /* NDG_DATAPLANE_APP_T_H */
