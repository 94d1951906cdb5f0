/*
 * secret.h - passwords never reach the output.
 *
 * Two layers. Connection strings are shown only through secret_mask_dsn,
 * which masks the password of a key=value string or a postgresql:// URI.
 * And every password the program learns (from a DSN, from PGPASSWORD) is
 * registered here; log.c scrubs each registered secret from every line before
 * it is written, whatever produced the line (a libpq or server message that
 * quotes a connection string, say).
 *
 * Registration happens while the program starts, before any thread; after
 * that the list is only read, so it needs no lock.
 */
#ifndef MB_SECRET_H
#define MB_SECRET_H

#include <stdbool.h>
#include <stddef.h>

/* What a masked password reads as. */
#define SECRET_MASK "********"

/* Register S (copied) as a secret. Empty strings are ignored. */
void secret_add(const char *s);

/* Register the password of connection string DSN, if it has one. */
void secret_add_dsn(const char *dsn);

/* Forget every registered secret (tests). */
void secret_clear(void);

/*
 * Copy DSN into BUF (LEN bytes) with its password replaced by SECRET_MASK:
 * "password=..." of a key=value string (quoted or not), and the password of a
 * URI, before '@' or as a "password" query parameter. Returns BUF; a DSN that
 * does not fit is cut short, never with the password showing.
 */
char *secret_mask_dsn(const char *dsn, char *buf, size_t len);

/*
 * Replace every registered secret in the NUL-terminated LINE (buffer of CAP
 * bytes) by SECRET_MASK, in place. A line that would grow past CAP is cut.
 * Returns the new length.
 */
size_t secret_scrub(char *line, size_t cap);

#endif
