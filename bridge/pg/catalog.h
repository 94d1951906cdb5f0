/*
 * catalog.h - what the applier needs to know of the target's tables: their
 * columns, the type to cast each value to, which columns are generated, and
 * the primary key that finds a row.
 *
 * Loaded with one query for all the configured schemas, and again when the
 * stream names a table or column the loaded catalog lacks (the target may
 * have been changed while the bridge ran).
 */
#ifndef MB_CATALOG_H
#define MB_CATALOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <libpq-fe.h>

#include "bridge/pg/pgconn.h"

/* One column of a target table. */
struct cat_column
{
    char *name;     /* owned: the column name */
    char *type;     /* owned: the type's schema-qualified name without a modifier,
                     * quoted as needed (pg_catalog.bpchar, pg_catalog._int4) */
    bool generated; /* a generated column: computed by the target, never written */
    bool pk;        /* part of the primary key */
    char *fulltype; /* owned: format_type with the modifier ("character varying(255)"),
                     * to compare with the type a change carries */
    bool varlena;   /* typlen -1: an UPDATE may leave out its unchanged TOASTed value */
};

/* One target table. */
struct cat_table
{
    uint32_t oid;            /* pg_class oid on the target */
    char *schema;            /* owned */
    char *name;              /* owned */
    char *qualified;         /* owned: "schema"."name", quoted */
    struct cat_column *cols; /* owned: in attnum order */
    int ncols;               /* entries in cols */
    int npk;                 /* primary-key columns (0: no primary key) */
    char *pkname;            /* owned: the primary key constraint's name, or NULL */
    bool ordered;            /* its changes must stay in order among themselves: no
                              * primary key, or another unique or exclusion index
                              * (reordering rows could trip it) */
    bool barrier;            /* a trigger fires here even under the replica role
                              * (ENABLE REPLICA or ALWAYS): nothing is reordered
                              * around its changes */
    int tally;               /* 1 + its entry in the metrics' table list (tally.h);
                             * 0 not looked up yet */
    char *skip;              /* owned: names of columns gone on the side streamed from,
                              * whose values changes still carry and statements leave out,
                              * each NUL-terminated, an empty name last; NULL none. Kept
                              * across reloads */
};

/* The tables of the configured schemas. */
struct catalog
{
    struct cat_table *tables; /* owned */
    int ntables;              /* entries in tables */
    int last;                 /* index of the last table found (consecutive rows
                               * of one table find it at once) */
};

/* Load the tables of SCHEMAS (comma-separated) from CONN into *CAT (replacing
 * what it held). CONN must not be in pipeline mode. Returns false after
 * logging why, with *FAILURE set. */
bool catalog_load(struct catalog *cat, PGconn *conn, const char *schemas,
                  enum pgconn_failure *failure);

/* The table SCHEMA.NAME (lengths given), or NULL. */
struct cat_table *catalog_find(struct catalog *cat, const char *schema, size_t schema_len,
                               const char *name, size_t name_len);

/* The index of column NAME of T, or -1. */
int catalog_column(const struct cat_table *t, const char *name, size_t len);

/* Is NAME one of T's columns gone on the side streamed from (t->skip)? */
bool catalog_skipped(const struct cat_table *t, const char *name);

/* Add NAME to T's skip list. Returns false when out of memory. */
bool catalog_skip(struct cat_table *t, const char *name);

void catalog_free(struct catalog *cat);

#endif
