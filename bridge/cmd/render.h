/*
 * render.h - decoded wal2json records as text for people and as normalized
 * JSON for programs. Used by "memori-bridge decode" and by error messages
 * that must show a key.
 *
 * The text form is one line per record, stable across releases:
 *
 *   BEGIN xid=727 lsn=0/1545100 nextlsn=0/1545130 time='2026-11-25 04:15:52.520718+00'
 *   INSERT memori.memories xid=727 lsn=0/1544F88 new(id=1, content='it''s', metadata=NULL)
 *   UPDATE memori.memories xid=729 lsn=0/15451F8 key(id=2) new(id=2, content='z')
 *   DELETE memori.memories xid=731 lsn=0/1545378 key(id=10)
 *   TRUNCATE memori.memories xid=735 lsn=0/15468D8
 *   MESSAGE transactional prefix='memori_bridge' content='marker' xid=736 lsn=0/1546B88
 *   MESSAGE non-transactional prefix='app' content='x' lsn=0/1546BF8
 *   COMMIT xid=727 lsn=0/1545100 nextlsn=0/1545130 time='2026-11-25 04:15:52.520718+00'
 *
 * Fields the stream did not carry (no include-xids, ...) are left out. Names
 * are double-quoted unless they are simple lowercase identifiers. Values are
 * SQL literals of their PostgreSQL text: NULL, numbers and booleans bare,
 * everything else in single quotes with '' for a quote, or as E'...' with
 * backslash escapes when the text holds a backslash or a control character.
 * With RENDER_TYPES each column shows its type: id::integer=1. A column that
 * an UPDATE left out (an unchanged TOASTed value) is not listed.
 *
 * The JSON form is one object per line with wal2json's field names in a fixed
 * order, every value as its PostgreSQL text in a JSON string (or null), and
 * bytea with its "\x".
 */
#ifndef MB_RENDER_H
#define MB_RENDER_H

#include <stdio.h>

#include "decoder/w2j.h"

#define RENDER_TYPES (1u << 0) /* text form: show each column's type */

/* Write R as one line of the text form, with its newline, to OUT. */
void render_text(FILE *out, const struct w2j_record *r, unsigned flags);

/* Write R as one line of normalized JSON, with its newline, to OUT. */
void render_json(FILE *out, const struct w2j_record *r);

/* Write S (LEN bytes) as an SQL literal ('...' or E'...') to OUT. */
void render_literal(FILE *out, const char *s, size_t len);

/* Write NAME (LEN bytes) as an identifier, double-quoted when needed. */
void render_ident(FILE *out, const char *name, size_t len);

#endif
