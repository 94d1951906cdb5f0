/*
 * w2j.h - wal2json format-version 2 messages as typed records.
 *
 * wal2json (format-version 2) writes one JSON object per message: a
 * transaction's begin (B) and commit (C), each row change (I, U, D), one T
 * per truncated table, and logical messages (M). This module turns one such
 * message into a struct w2j_record without copying it into a tree.
 *
 * Every string of a record (names, types, values, timestamp, prefix,
 * content) is unescaped into the parser's arena and NUL-terminated, so it can
 * go straight to libpq as a text parameter. The arena is reused: a record is
 * valid until the next w2j_parse() on the same parser. After the parser has
 * seen its largest message, parsing allocates nothing. w2j_parse_in_place()
 * unescapes into the message itself instead, for a message too large to
 * hold twice.
 *
 * Values are given as PostgreSQL text, as the target's input functions take
 * them. wal2json writes int2/int4/int8/oid/float4/float8/numeric as bare JSON
 * numbers (their exact text is kept), bool as true/false, bytea as hex
 * without the leading "\x" (put back here, so the text is bytea's own hex
 * form; a bytea value that is not hex is an error, since it means the stream
 * ran with bytea_output = escape), and every other type as its output text in
 * a JSON string. NaN and
 * +-Infinity in number columns arrive as JSON null (wal2json 2.5 has no
 * numeric-data-types-as-string); the record cannot tell them from SQL NULL.
 *
 * An UPDATE leaves out a column whose large (TOASTed) value did not change.
 * Such a column is simply absent from columns[]; it is never reported as
 * NULL.
 *
 * Depends on libc alone, so that it can be fuzzed and benchmarked by itself.
 */
#ifndef MB_W2J_H
#define MB_W2J_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "decoder/lsn.h"

/* The "action" of a message; the value is wal2json's letter. */
enum w2j_action
{
    W2J_BEGIN = 'B',
    W2J_COMMIT = 'C',
    W2J_INSERT = 'I',
    W2J_UPDATE = 'U',
    W2J_DELETE = 'D',
    W2J_TRUNCATE = 'T',
    W2J_MESSAGE = 'M',
};

/* How wal2json wrote a value in JSON. */
enum w2j_kind
{
    W2J_KIND_NULL = 0, /* null: SQL NULL, or NaN/Infinity in a number column */
    W2J_KIND_STRING,   /* a JSON string: the type's output text */
    W2J_KIND_NUMBER,   /* a bare number, its exact text kept */
    W2J_KIND_BOOL,     /* true or false */
};

/* One column value. */
struct w2j_value
{
    const char *text;   /* PostgreSQL text, NUL-terminated; NULL for null.
                         * Borrowed from the parser's arena (or static for
                         * booleans). */
    size_t len;         /* strlen(text); 0 for null */
    enum w2j_kind kind; /* how it was written */
};

/* One column of "columns" or "identity". */
struct w2j_column
{
    const char *name;       /* column name, NUL-terminated; borrowed (arena) */
    size_t name_len;        /* strlen(name) */
    const char *type;       /* type name with typmod ("character varying(255)"),
                             * or NULL when the stream lacks include-types;
                             * borrowed (arena) */
    size_t type_len;        /* strlen(type), 0 when absent */
    uint32_t typeoid;       /* type OID, 0 when the stream lacks include-type-oids */
    struct w2j_value value; /* the value */
    uint16_t position;      /* the column's attnum on the source when the change was
                             * written (include-column-positions), 0 when absent;
                             * wal2json gives none for "identity" columns */
};

/* Bits of w2j_record.present: which optional fields the message carried. */
#define W2J_HAS_XID       (1u << 0) /* "xid" was a number (not null) */
#define W2J_HAS_LSN       (1u << 1) /* "lsn" */
#define W2J_HAS_NEXTLSN   (1u << 2) /* "nextlsn" */
#define W2J_HAS_TIMESTAMP (1u << 3) /* "timestamp" was a string (not null) */
#define W2J_HAS_COLUMNS   (1u << 4) /* "columns" */
#define W2J_HAS_IDENTITY  (1u << 5) /* "identity" */

/* One decoded message. Pointers borrow from the parser (see the top). */
struct w2j_record
{
    enum w2j_action action;            /* which message */
    uint32_t present;                  /* W2J_HAS_* bits */
    uint32_t xid;                      /* transaction id; valid with W2J_HAS_XID */
    lsn_t lsn;                         /* "lsn": for B and C the commit record, for a
                                        * change or M its own record; valid with W2J_HAS_LSN */
    lsn_t nextlsn;                     /* "nextlsn", B and C only: end of the commit
                                        * record, where streaming resumes after this
                                        * transaction; valid with W2J_HAS_NEXTLSN */
    const char *timestamp;             /* commit time as PostgreSQL text, or NULL */
    size_t timestamp_len;              /* strlen(timestamp), 0 when NULL */
    const char *schema;                /* I, U, D, T: schema name; NULL otherwise */
    size_t schema_len;                 /* strlen(schema) */
    const char *table;                 /* I, U, D, T: table name; NULL otherwise */
    size_t table_len;                  /* strlen(table) */
    const struct w2j_column *columns;  /* I, U: new row (U: without unchanged
                                        * TOAST columns); borrowed (parser) */
    uint32_t ncolumns;                 /* entries in columns */
    const struct w2j_column *identity; /* U, D: the old key (or the old row,
                                        * with REPLICA IDENTITY FULL); borrowed */
    uint32_t nidentity;                /* entries in identity */
    bool transactional;                /* M: part of a transaction (else xid and
                                        * timestamp are null and it stands alone) */
    const char *prefix;                /* M: message prefix; NULL otherwise */
    size_t prefix_len;                 /* strlen(prefix) */
    const char *content;               /* M: message content, NUL-terminated */
    size_t content_len;                /* strlen(content) */
};

/* Limits that bound what one message may hold. */
struct w2j_limits
{
    size_t max_message;   /* bytes in one message */
    uint32_t max_columns; /* entries in "columns" or in "identity" */
    uint32_t max_depth;   /* nesting of JSON skipped inside unknown fields */
};

/* PostgreSQL's own bounds: a StringInfo holds under 1 GB, a row has at most
 * 1664 (MaxTupleAttributeNumber) attributes. */
#define W2J_DEFAULT_MAX_MESSAGE ((size_t) 0x3fffffff)
#define W2J_DEFAULT_MAX_COLUMNS 1664u
#define W2J_DEFAULT_MAX_DEPTH   32u

/* Memory for the parser's reusable arena and column array. realloc_fn must
 * behave as realloc(3) (ptr may be NULL); free_fn may be given NULL. */
struct w2j_allocator
{
    void *(*realloc_fn)(void *ctx, void *ptr, size_t size);
    void (*free_fn)(void *ctx, void *ptr);
    void *ctx;
};

/* A parse error: the byte offset into the message and a one-line reason. */
struct w2j_error
{
    size_t offset;     /* byte offset where the problem was found */
    char message[160]; /* lowercase, no final period */
};

/* A parser: reusable state, one per thread. */
struct w2j_parser
{
    struct w2j_limits limits;   /* copied at init */
    struct w2j_allocator alloc; /* copied at init */
    char *arena;                /* owned: unescaped strings of the last record */
    size_t arena_cap;           /* bytes at arena */
    struct w2j_column *cols;    /* owned: columns, then identity, of the last record */
    uint32_t cols_cap;          /* entries at cols */
};

/* Set up P. LIMITS and ALLOC may be NULL for the defaults (the W2J_DEFAULT_*
 * limits; malloc). Allocates nothing yet. */
void w2j_parser_init(struct w2j_parser *p, const struct w2j_limits *limits,
                     const struct w2j_allocator *alloc);

/* Release what P owns. Records it produced become invalid. */
void w2j_parser_free(struct w2j_parser *p);

/*
 * Parse one wal2json format-version 2 message: the LEN bytes at BUF (not
 * necessarily NUL-terminated; never read past BUF + LEN). On success fills
 * *OUT, whose strings and arrays are borrowed from P until its next parse,
 * and returns true. On failure returns false and writes the byte offset and a
 * one-line reason into *ERR; *OUT is then unspecified. Malformed input never
 * crashes: truncated text, bad escapes, invalid UTF-8, lone surrogates, an
 * unknown action, missing, duplicated or misplaced fields, wrong JSON types,
 * trailing bytes, and anything past the limits are all errors.
 */
bool w2j_parse(struct w2j_parser *p, const char *buf, size_t len, struct w2j_record *out,
               struct w2j_error *err);

/*
 * w2j_parse, but unescaping the record's strings into BUF itself instead of
 * P's arena: a message of any size needs no memory of its own (P's column
 * array apart). The record's strings then borrow from BUF (valid while BUF
 * is and until it is parsed again), its column arrays from P (until P's
 * next parse). BUF's bytes are overwritten, on failure too: parse a copy to
 * keep them.
 */
bool w2j_parse_in_place(struct w2j_parser *p, char *buf, size_t len, struct w2j_record *out,
                        struct w2j_error *err);

/* "begin", "commit", "insert", "update", "delete", "truncate", "message". */
const char *w2j_action_name(enum w2j_action action);

#endif
