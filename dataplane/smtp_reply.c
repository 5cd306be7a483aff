/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Every reply the engine composes itself, with its RFC 5321 code and RFC 3463 enhanced code,
 * in one table. Read-only: safe from any thread.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "smtp.h"
#include "ndg_common.h"

/* Each line is rendered at compile time: a reply costs one copy, never a printf. */
#define SMTP_RE(code, enh, text, close)                                                            \
	{                                                                                          \
		code, enh, text, close, #code " " enh " " text "\r\n",                             \
			sizeof(#code " " enh " " text "\r\n") - 1                                  \
	}
#define SMTP_RB(code, text, close)                                                                 \
	{                                                                                          \
		code, NULL, text, close, #code " " text "\r\n", sizeof(#code " " text "\r\n") - 1  \
	}

static const struct smtp_reply_def smtp_replies[SMTP_R_MAX] = {
	[SMTP_R_NONE] = {0, NULL, "", false, NULL, 0},
	[SMTP_R_GREETING] = {220, NULL, "ESMTP ndrguard", false, NULL, 0}, /* has the hostname */
	[SMTP_R_HELO] = {250, NULL, "", false, NULL, 0},		   /* has the hostname */
	[SMTP_R_OK] = SMTP_RE(250, "2.0.0", "OK", false),
	[SMTP_R_MAIL_OK] = SMTP_RE(250, "2.1.0", "Sender OK", false),
	[SMTP_R_RCPT_OK] = SMTP_RE(250, "2.1.5", "Recipient OK", false),
	[SMTP_R_DATA_GO] = SMTP_RB(354, "End data with <CR><LF>.<CR><LF>", false),
	[SMTP_R_BYE] = SMTP_RE(221, "2.0.0", "Bye", true),
	/* RFC 5321 §3.5.3: 252 when the server will not verify; never discloses. */
	[SMTP_R_VRFY] = SMTP_RE(252, "2.1.5", "Cannot VRFY user, but will accept message", false),
	[SMTP_R_HELP] = SMTP_RE(214, "2.0.0", "See RFC 5321", false),
	[SMTP_R_BLOCKED] = SMTP_RE(554, "5.7.1", "Access denied", true),
	[SMTP_R_TOO_MANY_CONN] = SMTP_RE(421, "4.7.0", "Too many connections, try later", true),
	[SMTP_R_EARLY_TALKER] =
		SMTP_RE(554, "5.5.1", "Protocol error: talked before the greeting", true),
	[SMTP_R_SYNTAX] = SMTP_RE(500, "5.5.2", "Command unrecognized", false),
	[SMTP_R_LINE_TOO_LONG] = SMTP_RE(500, "5.5.2", "Line too long", false),
	[SMTP_R_BARE_CMD] = SMTP_RE(500, "5.5.2", "Bare CR, LF or NUL in command", false),
	[SMTP_R_PARAM_SYNTAX] = SMTP_RE(501, "5.5.4", "Syntax error in parameters", false),
	[SMTP_R_NOT_IMPL] = SMTP_RE(502, "5.5.1", "Command not implemented", false),
	[SMTP_R_BAD_SEQ] = SMTP_RE(503, "5.5.1", "Bad sequence of commands", false),
	[SMTP_R_NEED_HELO] = SMTP_RE(503, "5.5.1", "Send HELO/EHLO first", false),
	[SMTP_R_NESTED_MAIL] = SMTP_RE(503, "5.5.1", "Nested MAIL command", false),
	[SMTP_R_NEED_MAIL] = SMTP_RE(503, "5.5.1", "Need MAIL before RCPT", false),
	[SMTP_R_MAIL_SYNTAX] = SMTP_RE(501, "5.1.7", "Bad sender address syntax", false),
	[SMTP_R_MAIL_PARAM] = SMTP_RE(555, "5.5.4", "Unsupported MAIL parameter", false),
	[SMTP_R_RCPT_PARAM] = SMTP_RE(555, "5.5.4", "Unsupported RCPT parameter", false),
	[SMTP_R_SIZE_EXCEEDED] = SMTP_RE(552, "5.3.4", "Message size exceeds fixed limit", false),
	[SMTP_R_RCPT_SYNTAX] = SMTP_RE(501, "5.1.3", "Bad recipient address syntax", false),
	[SMTP_R_RELAY_BYPASS] =
		SMTP_RE(550, "5.7.1", "Source routes, % and ! are not accepted", false),
	[SMTP_R_RELAY_DENIED] = SMTP_RE(554, "5.7.1", "Relay access denied", false),
	[SMTP_R_NULL_MULTI] = SMTP_RE(550, "5.7.1", "Multi-recipient bounce", false),
	[SMTP_R_BATV_INVALID] = SMTP_RE(550, "5.7.1", "Invalid bounce: no valid BATV tag", false),
	[SMTP_R_NEVER_BOUNCE] = SMTP_RE(550, "5.7.1", "This address accepts no bounces", false),
	[SMTP_R_UNKNOWN_USER] = SMTP_RE(550, "5.1.1", "User unknown", false),
	[SMTP_R_DIR_STALE] =
		SMTP_RE(450, "4.1.1", "Recipient verification unavailable, try later", false),
	[SMTP_R_TOO_MANY_RCPT] = SMTP_RE(452, "4.5.3", "Too many recipients", false),
	[SMTP_R_HARVEST] = SMTP_RE(421, "4.7.0", "Too many invalid recipients, closing", true),
	[SMTP_R_TOO_MANY_ERRORS] = SMTP_RE(421, "4.7.0", "Too many errors, closing", true),
	[SMTP_R_NO_RCPT] = SMTP_RE(554, "5.5.1", "No valid recipients", false),
	[SMTP_R_DATA_BARE] =
		SMTP_RE(550, "5.6.11", "Bare CR, LF or NUL in message not accepted", false),
	[SMTP_R_DATA_LONG_LINE] =
		SMTP_RE(550, "5.6.0", "Message line longer than 1000 octets", false),
	[SMTP_R_TIMEOUT] = SMTP_RE(421, "4.4.2", "Timeout, closing", true),
	[SMTP_R_BACKEND_FAIL] =
		SMTP_RE(451, "4.4.1", "Delivery service unavailable, try later", false),
	[SMTP_R_BACKEND_TIMEOUT] = SMTP_RE(421, "4.4.2", "Delivery service timeout, closing", true),
	[SMTP_R_STARTTLS] = SMTP_RE(502, "5.5.1", "STARTTLS not available", false),
	[SMTP_R_TLS_GO] = SMTP_RE(220, "2.0.0", "Ready to start TLS", false),
	/* RFC 3207 §4: 454 "TLS not available due to temporary reason". */
	[SMTP_R_TLS_UNAVAIL] = SMTP_RE(454, "4.7.0", "TLS not available", false),
	[SMTP_R_TLS_ACTIVE] = SMTP_RE(503, "5.5.1", "TLS already active", false),
	[SMTP_R_AUTH] = SMTP_RE(502, "5.5.1", "AUTH not available", false),
	[SMTP_R_BDAT] = SMTP_RE(502, "5.5.1", "BDAT not available (CHUNKING not offered)", false),
	[SMTP_R_OUT_SENDER] = SMTP_RE(550, "5.7.1", "Sender address not in our domains", false),
	[SMTP_R_OUT_NULL_SENDER] =
		SMTP_RE(550, "5.7.1", "Null sender accepted from the mail servers only", false),
	[SMTP_R_OUT_RATE] = SMTP_RE(451, "4.7.1", "Sending rate exceeded, try later", false),
	[SMTP_R_OUT_NDR] = SMTP_RE(550, "5.7.1", "Outgoing bounce refused (NDR limit)", false),
	[SMTP_R_OUT_NDR_TEMP] =
		SMTP_RE(451, "4.7.1", "Outgoing bounce deferred (NDR limit)", false),
	/* RFC 3463 X.7.4 "security features not supported", X.7.5 "cryptographic failure". */
	[SMTP_R_BTLS_NEEDED] =
		SMTP_RE(451, "4.7.4", "TLS to the delivery service unavailable, try later", false),
	[SMTP_R_BTLS_FAIL] =
		SMTP_RE(451, "4.7.5", "TLS with the delivery service failed, try later", false),
	/* RFC 3463 X.3.0 "other or undefined mail system status" (a local shortage, try again),
	 * X.3.2 "system not accepting network messages" (it cannot serve this session at all). */
	[SMTP_R_NO_MEM] = SMTP_RE(451, "4.3.0", "Insufficient system resources, try later", false),
	[SMTP_R_NO_MEM_CLOSE] =
		SMTP_RE(421, "4.3.2", "Insufficient system resources, closing", true),
	/* RFC 5321 §4.1.1.1: a domain or an address literal; Postfix's
	 * reject_invalid_helo_hostname answers the same. */
	[SMTP_R_HELO_SYNTAX] = SMTP_RE(501, "5.5.2", "Invalid HELO/EHLO hostname", false),
};

const struct smtp_reply_def *
smtp_reply_get(enum smtp_reply_id id)
{
	if ((unsigned int) id >= SMTP_R_MAX)
		id = SMTP_R_NONE;
	return &smtp_replies[id];
}

int
smtp_reply_format(enum smtp_reply_id id, const char *hostname, char *buf, size_t sz)
{
	const struct smtp_reply_def *r = smtp_reply_get(id);
	size_t hl, n;

	if (r->code == 0)
		return -EINVAL;
	if (r->line != NULL) {
		if (r->line_len >= sz)
			return -ENOSPC;
		memcpy(buf, r->line, r->line_len + 1);
		return (int) r->line_len;
	}
	/* "220 <host> ESMTP ndrguard" / "250 <host>" */
	hl = strnlen(hostname, SMTP_DOMAIN_MAX);
	n = 4 + hl + (id == SMTP_R_GREETING ? 1 + strlen(r->text) : 0) + 2;
	if (n >= sz)
		return -ENOSPC;
	memcpy(buf, id == SMTP_R_GREETING ? "220 " : "250 ", 4);
	memcpy(buf + 4, hostname, hl);
	n = 4 + hl;
	if (id == SMTP_R_GREETING) {
		buf[n++] = ' ';
		memcpy(buf + n, r->text, strlen(r->text));
		n += strlen(r->text);
	}
	memcpy(buf + n, "\r\n", 3);
	return (int) (n + 2);
}
