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

static const struct smtp_reply_def smtp_replies[SMTP_R_MAX] = {
	[SMTP_R_NONE] = {0, NULL, "", false},
	[SMTP_R_GREETING] = {220, NULL, "ESMTP ndrguard", false},
	[SMTP_R_HELO] = {250, NULL, "", false},
	[SMTP_R_OK] = {250, "2.0.0", "OK", false},
	[SMTP_R_MAIL_OK] = {250, "2.1.0", "Sender OK", false},
	[SMTP_R_RCPT_OK] = {250, "2.1.5", "Recipient OK", false},
	[SMTP_R_DATA_GO] = {354, NULL, "End data with <CR><LF>.<CR><LF>", false},
	[SMTP_R_BYE] = {221, "2.0.0", "Bye", true},
	/* RFC 5321 §3.5.3: 252 when the server will not verify; never discloses. */
	[SMTP_R_VRFY] = {252, "2.1.5", "Cannot VRFY user, but will accept message", false},
	[SMTP_R_HELP] = {214, "2.0.0", "See RFC 5321", false},
	[SMTP_R_BLOCKED] = {554, "5.7.1", "Access denied", true},
	[SMTP_R_TOO_MANY_CONN] = {421, "4.7.0", "Too many connections, try later", true},
	[SMTP_R_EARLY_TALKER] = {554, "5.5.1", "Protocol error: talked before the greeting", true},
	[SMTP_R_SYNTAX] = {500, "5.5.2", "Command unrecognized", false},
	[SMTP_R_LINE_TOO_LONG] = {500, "5.5.2", "Line too long", false},
	[SMTP_R_BARE_CMD] = {500, "5.5.2", "Bare CR, LF or NUL in command", false},
	[SMTP_R_PARAM_SYNTAX] = {501, "5.5.4", "Syntax error in parameters", false},
	[SMTP_R_NOT_IMPL] = {502, "5.5.1", "Command not implemented", false},
	[SMTP_R_BAD_SEQ] = {503, "5.5.1", "Bad sequence of commands", false},
	[SMTP_R_NEED_HELO] = {503, "5.5.1", "Send HELO/EHLO first", false},
	[SMTP_R_NESTED_MAIL] = {503, "5.5.1", "Nested MAIL command", false},
	[SMTP_R_NEED_MAIL] = {503, "5.5.1", "Need MAIL before RCPT", false},
	[SMTP_R_MAIL_SYNTAX] = {501, "5.1.7", "Bad sender address syntax", false},
	[SMTP_R_MAIL_PARAM] = {555, "5.5.4", "Unsupported MAIL parameter", false},
	[SMTP_R_RCPT_PARAM] = {555, "5.5.4", "Unsupported RCPT parameter", false},
	[SMTP_R_SIZE_EXCEEDED] = {552, "5.3.4", "Message size exceeds fixed limit", false},
	[SMTP_R_RCPT_SYNTAX] = {501, "5.1.3", "Bad recipient address syntax", false},
	[SMTP_R_RELAY_BYPASS] = {550, "5.7.1", "Source routes, % and ! are not accepted", false},
	[SMTP_R_RELAY_DENIED] = {554, "5.7.1", "Relay access denied", false},
	[SMTP_R_NULL_MULTI] = {550, "5.7.1", "Multi-recipient bounce", false},
	[SMTP_R_BATV_INVALID] = {550, "5.7.1", "Invalid bounce: no valid BATV tag", false},
	[SMTP_R_NEVER_BOUNCE] = {550, "5.7.1", "This address accepts no bounces", false},
	[SMTP_R_UNKNOWN_USER] = {550, "5.1.1", "User unknown", false},
	[SMTP_R_DIR_STALE] = {450, "4.1.1", "Recipient verification unavailable, try later", false},
	[SMTP_R_TOO_MANY_RCPT] = {452, "4.5.3", "Too many recipients", false},
	[SMTP_R_HARVEST] = {421, "4.7.0", "Too many invalid recipients, closing", true},
	[SMTP_R_TOO_MANY_ERRORS] = {421, "4.7.0", "Too many errors, closing", true},
	[SMTP_R_NO_RCPT] = {554, "5.5.1", "No valid recipients", false},
	[SMTP_R_DATA_BARE] = {550, "5.6.11", "Bare CR, LF or NUL in message not accepted", false},
	[SMTP_R_DATA_LONG_LINE] = {550, "5.6.0", "Message line longer than 1000 octets", false},
	[SMTP_R_TIMEOUT] = {421, "4.4.2", "Timeout, closing", true},
	[SMTP_R_BACKEND_FAIL] = {451, "4.4.1", "Delivery service unavailable, try later", false},
	[SMTP_R_BACKEND_TIMEOUT] = {421, "4.4.2", "Delivery service timeout, closing", true},
	[SMTP_R_STARTTLS] = {502, "5.5.1", "STARTTLS not available", false},
	[SMTP_R_AUTH] = {502, "5.5.1", "AUTH not available", false},
	[SMTP_R_BDAT] = {502, "5.5.1", "BDAT not available (CHUNKING not offered)", false},
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
	int n;

	if (r->code == 0)
		return -EINVAL;
	if (id == SMTP_R_GREETING)
		n = snprintf(buf, sz, "%u %s %s\r\n", r->code, hostname, r->text);
	else if (id == SMTP_R_HELO)
		n = snprintf(buf, sz, "%u %s\r\n", r->code, hostname);
	else if (r->enh == NULL)
		n = snprintf(buf, sz, "%u %s\r\n", r->code, r->text);
	else
		n = snprintf(buf, sz, "%u %s %s\r\n", r->code, r->enh, r->text);
	if (n < 0 || (size_t) n >= sz)
		return -ENOSPC;
	return n;
}
