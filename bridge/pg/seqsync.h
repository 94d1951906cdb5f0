/*
 * seqsync.h - sequences are not streamed (DESIGN, terrain): set the target's
 * from the source's last_value and is_called, never from max(id).
 */
#ifndef MB_SEQSYNC_H
#define MB_SEQSYNC_H

#include <stdbool.h>

#include <libpq-fe.h>

/* The sequences of the schemas in $1 (comma-separated), as quoted qualified
 * names, one per row, in order. */
extern const char seq_list_sql[];

/* Set every sequence of SCHEMAS (comma-separated) on DST to what it is on SRC
 * (last_value and is_called). With FORWARD_ONLY, a sequence of DST that is
 * already at or past SRC's is left alone (run keeps the target's sequences
 * near the source's this way; init and cutover set them exactly). Returns the
 * number set, or -1 after logging the sequence and the reason. */
int seq_sync(PGconn *src, PGconn *dst, const char *schemas, bool forward_only);

#endif
