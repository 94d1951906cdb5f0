/*
 * stmt.h - the applier's statements: one per table, action and column set,
 * prepared once, and the multi-row batch that feeds one execution.
 *
 * Every statement takes its rows as text[] parameters, one array per column,
 * and turns them back into rows with unnest(), casting each value from its
 * PostgreSQL text with the target column's type:
 *
 *   INSERT INTO s.t AS t (a, b) OVERRIDING SYSTEM VALUE
 *       SELECT u.p1::integer, u.p2::text FROM unnest($1::text[], $2::text[]) AS u(p1, p2)
 *   UPDATE ONLY s.t AS t SET b = u.p2::text
 *       FROM unnest($1::text[], $2::text[]) AS u(p1, p2) WHERE t.a = u.p1::integer
 *   DELETE FROM ONLY s.t AS t USING unnest($1::text[]) AS u(p1) WHERE t.a = u.p1::integer
 *
 * so that the target does one executor start per batch instead of one per
 * row, and no value is ever spliced into SQL (DESIGN invariant 7). The arrays
 * travel in binary (text elements need no escaping and no parsing).
 *
 * A value too large to send in one piece (stmt_lookup's STAGE_OVER) is
 * staged: sent before its row, in parts, into the session's temporary table
 * memori_bridge_staged (stmt_stage_sql), and the statement's arrays carry its
 * row's staging id instead; the statement joins the parts back together
 * where it reads the arrays, before anything else uses the value:
 *
 *   ... FROM (SELECT u.p1, (SELECT string_agg(s.part, '' ORDER BY s.n) FROM
 *       pg_temp.memori_bridge_staged s WHERE s.id = u.p2::int8 AND s.p = 2) AS p2
 *       FROM unnest($1::text[], $2::text[]) AS u(p1, p2) OFFSET 0) AS u
 *
 * libpq copies a statement's parameters whole into its send buffer, which it
 * never shrinks; in parts, that buffer stays the size of one part.
 *
 * A batch keeps the order of its rows: unnest() yields them in array order
 * and INSERT writes them in that order. An UPDATE or DELETE batch never holds
 * one key twice (the caller flushes first), so the order of a join cannot
 * matter. An UPDATE that changes the key, and any row of a table without a
 * primary key, go one row per statement.
 */
#ifndef MB_STMT_H
#define MB_STMT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bridge/pg/catalog.h"
#include "decoder/w2j.h"

/* Why a record cannot be turned into a statement. */
struct stmt_error
{
    char message[512]; /* one line: what is wrong and the fix */
};

/* A prepared statement for one record shape. */
struct stmt
{
    struct stmt *next;       /* hash chain; owned by the cache */
    uint64_t hash;           /* of the shape */
    struct cat_table *table; /* borrowed from the catalog */
    enum w2j_action action;  /* I, U or D */
    bool keychange;          /* U: the row's primary key changes (one row per statement) */
    bool by_text;            /* U, D: no primary key to find the row by; every identity
                              * column's text is compared (one row per statement) */
    uint32_t ncolumns;       /* message columns of the shape */
    uint32_t nidentity;      /* message identity columns of the shape */
    char **names;            /* owned: ncolumns + nidentity names, the shape */
    char **types;            /* owned: per message column, its type as streamed (or NULL) */
    uint16_t *positions;     /* owned: per message column, its attnum as streamed (or 0) */
    int *col_param;          /* owned: per message column, its parameter or -1 */
    int *id_param;           /* owned: per identity column, its parameter or -1 */
    int *pk_in_cols;         /* owned, U: per key parameter, the message column that
                              * holds its new value, or -1 */
    int nkeys;               /* leading parameters that are key values (U, D) */
    int *key_src;            /* owned: per primary-key column of the table, in column
                              * order, where a record of this shape holds its value:
                              * message column i as i, identity column j as -1 - j;
                              * NULL when a record does not carry the whole key */
    int nkey_src;            /* entries in key_src (the table's key columns) */
    int nparams;             /* parameters */
    bool single;             /* one row per statement */
    uint64_t staged;         /* bit p: parameter p's values are staged, its array
                              * elements staging ids (p < 64) */
    char name[24];           /* prepared statement name */
    bool prepared;           /* sent to the server on this connection */
    char *sql;               /* owned */
};

/* The statements of one connection. */
struct stmt_cache
{
    struct stmt **buckets; /* owned */
    unsigned nbuckets;     /* a power of two */
    unsigned count;        /* statements */
    unsigned serial;       /* for names */
};

void stmt_cache_init(struct stmt_cache *c);

/* Drop every statement (after a reconnect or a catalog reload; the server
 * side is gone or about to be deallocated by the caller). */
void stmt_cache_clear(struct stmt_cache *c);

/*
 * The statement for REC (I, U or D) on table T, created when new, in which
 * the values of REC longer than STAGE_OVER bytes are staged (0: none is).
 * Returns NULL and fills *ERR when the record does not fit the table (a
 * column the target lacks, a key that cannot be found) or when out of memory.
 */
struct stmt *stmt_lookup(struct stmt_cache *c, struct cat_table *t, const struct w2j_record *rec,
                         size_t stage_over, struct stmt_error *err);

/* The value of REC that parameter P of ST carries. */
const struct w2j_value *stmt_param_value(const struct stmt *st, const struct w2j_record *rec,
                                         int p);

/* The SQL that stages one part of a value: parameters $1 the staging id
 * (int8), $2 the parameter (int4), $3 the part's number (int4), $4 the part
 * (text). The table is made by stmt_stage_table_sql. */
extern const char stmt_stage_sql[];
extern const char stmt_stage_table_sql[];

/* Does the UPDATE REC change the primary key, under statement ST? */
bool stmt_changes_key(const struct stmt *st, const struct w2j_record *rec);

/* One growable parameter: a binary text[] being built. */
struct stmt_param
{
    char *data; /* owned: 20 bytes of header, then elements */
    size_t len; /* bytes used */
    size_t cap; /* bytes allocated */
};

/* The rows waiting for one execution of one statement. */
struct stmt_batch
{
    struct stmt *st;            /* the statement, NULL while empty; borrowed */
    uint32_t nrows;             /* rows added */
    size_t bytes;               /* value bytes added */
    struct stmt_param *params;  /* owned: cap_params of them */
    int cap_params;             /* allocated */
    bool *hasnull;              /* owned: per parameter */
    const char **values;        /* owned: for PQsendQueryPrepared */
    int *lengths;               /* owned */
    int *formats;               /* owned: all 1 (binary) */
    uint64_t *keys;             /* owned: open-addressing set of key hashes (U, D) */
    uint32_t keys_cap;          /* a power of two */
};

void stmt_batch_init(struct stmt_batch *b);
void stmt_batch_free(struct stmt_batch *b);

/* Empty B (keeping its memory, shrinking buffers that grew past LIMIT bytes). */
void stmt_batch_reset(struct stmt_batch *b, size_t limit);

/* The hash of REC's primary key under ST (the new row's for I, the old row's
 * for U and D; by_text: every identity value), so that one key can be found in
 * any batch of the table whatever its action. 0 when the record does not
 * carry the whole key. */
uint64_t stmt_key_hash(const struct stmt *st, const struct w2j_record *rec);

/* Is KEY already in B? */
bool stmt_batch_has_key(const struct stmt_batch *b, uint64_t key);

/* Add REC to B, which must be empty or hold rows of ST. KEY is its
 * stmt_key_hash (0: none, not remembered). STAGE_ID is the staging id of its
 * staged values (when ST stages any). Returns false when out of memory. */
bool stmt_batch_add(struct stmt_batch *b, struct stmt *st, const struct w2j_record *rec,
                    uint64_t key, uint64_t stage_id);

/* Finish the arrays of B for sending: fills b->values, lengths and formats.
 * Returns the number of parameters. */
int stmt_batch_finish(struct stmt_batch *b);

/* Describe REC's key under ST as "(id)=(5)" (or the identity columns) into
 * BUF, for messages. Returns BUF. */
char *stmt_describe_key(const struct stmt *st, const struct w2j_record *rec, char *buf,
                        size_t len);

#endif
