/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The directory as the control daemon holds it: a sorted, de-duplicated set of normalised
 * addresses ("local@domain", "@domain" for a catch-all) read from flat files, kept on disk as
 * the last good snapshot, changed by `ndrctl dir add|del`, and pushed to the dataplane (which
 * keeps only keyed digests). Main thread only.
 */
#ifndef NDG_CONTROL_DIR_H
#define NDG_CONTROL_DIR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define DIR_LOCAL_MAX  64  /* RFC 5321 §4.5.3.1.1 */
#define DIR_DOMAIN_MAX 255 /* RFC 5321 §4.5.3.1.2 */
#define DIR_ADDR_MAX   256 /* RFC 5321 §4.5.3.1.3 */

struct dir_set {
	char **v; /* sorted, unique */
	size_t n;
	size_t cap;
	uint64_t gen; /* content digest, computed by dir_set_finish() */
};

enum dir_match {
	DIR_MATCH_NONE = 0,	  /* not found */
	DIR_MATCH_EXACT,	  /* the address itself */
	DIR_MATCH_CATCHALL,	  /* @domain */
	DIR_MATCH_POSTMASTER,	  /* postmaster@ an accepted domain, RFC 5321 §4.5.1 */
	DIR_MATCH_BAD_SYNTAX,	  /* not an address */
	DIR_MATCH_DOMAIN_UNKNOWN, /* the domain is not accepted: relaying */
	DIR_MATCH_MAX
};

/**
 * Normalise a directory entry or a looked-up address into <out> (size DIR_ADDR_MAX + 1):
 * strips <>, lowercases, and for lookups (<lookup> true) removes a BATV prvs= prefix and a
 * +tag subaddress. Accepts dot-atom local parts and "@domain".
 * @return 0, or -EINVAL with a reason in <why> (static string).
 */
int dir_addr_normalize(const char *in, bool lookup, char *out, const char **why);

/** Empty set. */
void dir_set_init(struct dir_set *s);
void dir_set_free(struct dir_set *s);

/** Add a normalised address (copied). @return 0 or -ENOMEM. Call dir_set_finish() after. */
int dir_set_add(struct dir_set *s, const char *addr);

/** Sort, de-duplicate and compute the digest. */
void dir_set_finish(struct dir_set *s);

/** True when the finished set holds <addr>. */
bool dir_set_has(const struct dir_set *s, const char *addr);

/** Remove <addr> from a finished set (stays finished). @return true when it was there. */
bool dir_set_del(struct dir_set *s, const char *addr);

/**
 * Read a flat file: one address per line, "@domain" catch-alls, '#' comments, blank lines.
 * Bad lines are reported to <errf> as "path:line: reason" and skipped, and counted in
 * *<bad>. @return 0, or -errno when the file cannot be read (the set is then unchanged
 * except for lines already added).
 */
int dir_file_read(const char *path, struct dir_set *s, FILE *errf, size_t *bad);

/**
 * Write <header>, then every entry of <a> prefixed with <pa> and of <b> (may be NULL)
 * prefixed with <pb>, one per line, to <path> atomically (temporary file, fsync, rename).
 * @return 0 or -errno.
 */
/* Replace <path> whole with <text> (<len> bytes): temporary file, fsync, rename. 0 or -errno. */
int dir_file_replace(const char *path, const char *text, size_t len);

int dir_write_lines(const char *path, const char *header, const struct dir_set *a, const char *pa,
	const struct dir_set *b, const char *pb);

/**
 * Write the finished set to <path> atomically (temporary file, fsync, rename).
 * @return 0 or -errno.
 */
int dir_snapshot_write(const struct dir_set *s, const char *path);

/**
 * Look <addr> up as the dataplane would: normalise, then exact, catch-all, postmaster.
 * <domain_ok> tells whether a domain is accepted. <matched> receives the entry that matched
 * (size DIR_ADDR_MAX + 1), <normalized> the normalised form.
 */
enum dir_match dir_lookup(const struct dir_set *s, const char *addr,
	bool (*domain_ok)(const char *domain, void *arg), void *arg, char *normalized,
	char *matched);

const char *dir_match_name(enum dir_match m);

#endif /* NDG_CONTROL_DIR_H */
