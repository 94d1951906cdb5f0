/*
 * lsn.h - PostgreSQL log sequence numbers as a type.
 *
 * An LSN is a 64-bit byte position in the write-ahead log, written by
 * PostgreSQL as two hexadecimal halves, "16/B374D848". 0 means invalid, as
 * InvalidXLogRecPtr does. Depends on libc alone.
 */
#ifndef MB_LSN_H
#define MB_LSN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef uint64_t lsn_t;

#define LSN_INVALID ((lsn_t) 0)

/* Room for the longest formatted LSN, "FFFFFFFF/FFFFFFFF", and its NUL. */
#define LSN_BUFSZ 18

/* printf helpers: printf("at " LSN_FMT, LSN_ARGS(lsn)). */
#define LSN_FMT       "%X/%X"
#define LSN_ARGS(lsn) ((unsigned) ((lsn) >> 32)), ((unsigned) (lsn))

/* Parse the LEN bytes at S, "X/X" with 1 to 8 hex digits on each side and
 * nothing else. On success stores the position in *OUT and returns true;
 * otherwise returns false and leaves *OUT alone. */
bool lsn_parse(const char *s, size_t len, lsn_t *out);

/* Format LSN as PostgreSQL does ("%X/%X") into BUF, which must hold
 * LSN_BUFSZ bytes. Returns BUF. */
char *lsn_format(lsn_t lsn, char buf[LSN_BUFSZ]);

#endif
