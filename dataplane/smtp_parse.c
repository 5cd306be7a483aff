/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Resumable byte-segment parsers of the inbound side: the command-line collector (bounded by
 * RFC 5321 §4.5.3.1.4) and the DATA decoder that finds the only valid end of data (CRLF.CRLF)
 * and emits canonical CRLF text with dot-stuffing (§4.5.2) toward the backend.
 * Both keep all their state in their struct and accept any split of the input, down to one
 * byte per call. Called by the thread that owns the session.
 */
#include <stdint.h>
#include <string.h>

#include "smtp.h"
#include "ndg_common.h"

void
smtp_line_reset(struct smtp_line *l)
{
	l->len = 0;
	l->flags = 0;
	l->total = 0;
	l->cr = false;
	l->buf[0] = '\0';
}

/*
 * Lines end at CRLF; a bare LF also ends the line (flagged) so the session resynchronises on
 * it. A CR not followed by LF and a NUL are dropped and flagged. Content past 510 octets is
 * dropped and flagged (the 512 of the RFC count the CRLF).
 */
int
smtp_line_feed(struct smtp_line *l, const char *p, size_t n)
{
	size_t i = 0;

	while (i < n) {
		char c;

		if (!l->cr) {
			/* Fast path: a run of ordinary octets is copied in one go. */
			size_t j = i, k;

			while (j < n && p[j] != '\r' && p[j] != '\n' && p[j] != '\0')
				j++;
			k = j - i;
			if (k != 0) {
				size_t room = (size_t) (SMTP_CMD_LINE_MAX - 2) - l->len;

				if (k > room) {
					l->flags |= SMTP_LINE_TOO_LONG;
					k = room;
				}
				memcpy(l->buf + l->len, p + i, k);
				l->len = (uint16_t) (l->len + k);
				l->total += (uint32_t) (j - i);
				i = j;
				if (i == n)
					break;
			}
		}
		c = p[i++];
		l->total++;
		if (l->cr) {
			l->cr = false;
			if (c == '\n') {
				l->buf[l->len] = '\0';
				return (int) i;
			}
			l->flags |= SMTP_LINE_BARE_CR;
		}
		if (c == '\r') {
			l->cr = true;
		} else if (c == '\n') {
			l->flags |= SMTP_LINE_BARE_LF;
			l->buf[l->len] = '\0';
			return (int) i;
		} else if (c == '\0') {
			l->flags |= SMTP_LINE_NUL;
		} else if (l->len < SMTP_CMD_LINE_MAX - 2) {
			l->buf[l->len++] = c; /* the octet after a bare CR */
		} else {
			l->flags |= SMTP_LINE_TOO_LONG;
		}
	}
	return 0;
}

void
smtp_data_init(struct smtp_data *d, enum smtp_bare_mode mode, uint64_t max_size,
	smtp_data_out_fn *out, void *out_arg)
{
	memset(d, 0, sizeof(*d));
	d->state = SMTP_DS_BOL;
	d->bare_mode = (uint8_t) mode;
	d->out_bol = true;
	d->max_size = max_size;
	d->out = out;
	d->out_arg = out_arg;
}

static void
smtp_data_flag(struct smtp_data *d, uint8_t flag)
{
	d->flags |= flag;
	d->discard = true;
}

/* Message text (no CR, LF, NUL): counts toward the line and size limits. Only the bytes
 * within both limits are emitted, so what reaches the backend before an abort does not depend
 * on how the input was segmented. */
static void
smtp_data_text(struct smtp_data *d, const char *p, size_t n)
{
	size_t ok = n;
	uint32_t line_room =
		d->line_len < SMTP_TEXT_LINE_MAX - 2 ? SMTP_TEXT_LINE_MAX - 2 - d->line_len : 0;
	uint8_t flags = 0;

	if (ok > line_room) {
		ok = line_room;
		flags |= SMTP_DATA_LONG_LINE;
	}
	if (d->max_size != 0) {
		uint64_t room = d->size < d->max_size ? d->max_size - d->size : 0;

		if (ok > room) {
			ok = (size_t) room;
			flags |= SMTP_DATA_TOO_BIG;
		}
	}
	if (!d->discard && d->out != NULL && ok != 0)
		d->out(d->out_arg, p, ok);
	d->line_len += (uint32_t) n;
	d->size += n;
	if (flags != 0)
		smtp_data_flag(d, flags);
}

static void
smtp_data_crlf(struct smtp_data *d)
{
	d->line_len = 0;
	d->size += 2;
	d->out_bol = true;
	if (d->max_size != 0 && d->size > d->max_size)
		smtp_data_flag(d, SMTP_DATA_TOO_BIG);
	if (!d->discard && d->out != NULL)
		d->out(d->out_arg, "\r\n", 2);
}

/*
 * The "." that began this line was content, not transparency: a bare CR or LF ends the line
 * right after it (normalize mode). Emit it, dot-stuffed toward the backend, before that line
 * end; dropping it would turn a line holding a dot into an empty one.
 */
static void
smtp_data_lone_dot(struct smtp_data *d)
{
	if (d->bare_mode == SMTP_BARE_REJECT)
		return; /* the message is refused anyway */
	if (d->out_bol && !d->discard && d->out != NULL)
		d->out(d->out_arg, ".", 1);
	d->out_bol = false;
	smtp_data_text(d, ".", 1);
}

/* A CR or LF that is not part of CRLF: flagged in reject mode, a line end otherwise. */
static void
smtp_data_bare(struct smtp_data *d)
{
	if (d->bare_mode == SMTP_BARE_REJECT)
		smtp_data_flag(d, SMTP_DATA_BARE);
	else
		smtp_data_crlf(d);
}

int
smtp_data_feed(struct smtp_data *d, const char *p, size_t n)
{
	size_t i, rs = SIZE_MAX; /* start of the pending pass-through run */

#define SMTP_DATA_FLUSH()                                                                          \
	do {                                                                                       \
		if (rs != SIZE_MAX) {                                                              \
			smtp_data_text(d, p + rs, i - rs);                                         \
			rs = SIZE_MAX;                                                             \
		}                                                                                  \
	} while (0)

	if (d->state == SMTP_DS_END)
		return -1;
	for (i = 0; i < n; i++) {
		char c = p[i];

		switch (d->state) {
		case SMTP_DS_BOL:
			if (c == '.') {
				d->state = SMTP_DS_DOT;
				continue;
			}
			d->state = SMTP_DS_TEXT;
			break;
		case SMTP_DS_DOT:
			if (c == '\r') {
				d->state = SMTP_DS_DOT_CR;
				continue;
			}
			if (c == '\n')
				smtp_data_lone_dot(d);
			/* Transparency (RFC 5321 §4.5.2): the leading dot is removed. */
			d->state = SMTP_DS_TEXT;
			break;
		case SMTP_DS_DOT_CR:
			if (c == '\n') {
				d->state = SMTP_DS_END;
				return (int) (i + 1);
			}
			d->n_bare_cr++;
			smtp_data_lone_dot(d);
			smtp_data_bare(d);
			d->state = SMTP_DS_TEXT;
			break;
		case SMTP_DS_CR:
			if (c == '\n') {
				smtp_data_crlf(d);
				d->state = SMTP_DS_BOL;
				continue;
			}
			d->n_bare_cr++;
			smtp_data_bare(d);
			d->state = SMTP_DS_TEXT;
			break;
		default:
			break;
		}
		/* SMTP_DS_TEXT */
		if (c == '\r' || c == '\n' || c == '\0') {
			SMTP_DATA_FLUSH();
			if (c == '\r') {
				d->state = SMTP_DS_CR;
			} else if (c == '\n') {
				/* Never a line start for the terminator: only CRLF counts. */
				d->n_bare_lf++;
				smtp_data_bare(d);
			} else {
				d->n_nul++;
				if (d->bare_mode == SMTP_BARE_REJECT)
					smtp_data_flag(d, SMTP_DATA_BARE);
			}
			continue;
		}
		if (rs == SIZE_MAX) {
			if (d->out_bol && c == '.' && !d->discard && d->out != NULL)
				d->out(d->out_arg, ".", 1); /* stuff toward the backend */
			d->out_bol = false;
			rs = i;
		}
	}
	SMTP_DATA_FLUSH();
#undef SMTP_DATA_FLUSH
	return 0;
}
