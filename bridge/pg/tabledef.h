/*
 * tabledef.h - the streamed tables as one side defines them now: columns
 * (with their types, defaults, NOT NULL, collations, generated and identity
 * clauses, and the value a column added with a default gave the rows that
 * existed then), constraints and indexes.
 *
 * Read in one read-only transaction with search_path = '', so that every
 * name the server prints (types, defaults, constraint and index definitions)
 * is schema-qualified the same way on both sides and the two can be compared
 * as text. What is read here is the catalog "now": the stream may still carry
 * changes written under an older definition.
 *
 * Every string points into the query results, which the set owns: valid
 * until tabledefs_free().
 */
#ifndef MB_TABLEDEF_H
#define MB_TABLEDEF_H

#include <stdbool.h>
#include <stdint.h>

#include <libpq-fe.h>

#include "bridge/pg/pgconn.h"
#include "decoder/lsn.h"

/* One live column. */
struct td_column
{
    int attnum; /* on that side */
    const char *name;
    const char *type; /* format_type(atttypid, atttypmod): "character varying(255)",
                       * a type outside pg_catalog qualified */
    uint32_t typeoid; /* on that side */
    bool varlena;     /* typlen -1: a value may be TOASTed (and left out of an UPDATE) */
    bool notnull;
    const char *def;       /* the default expression, NULL when none (or generated) */
    bool def_const;        /* the default is a constant: every side evaluates it alike */
    const char *missing;   /* a literal of what the rows that existed when the column
                            * was added got (atthasmissing), NULL when not known */
    const char *collation; /* "schema"."name" when not the type's default, else NULL */
    char generated;        /* attgenerated: 's' stored, '\0' not generated */
    const char *genexpr;   /* the generation expression, NULL when not generated */
    char identity;         /* attidentity: 'a' always, 'd' by default, '\0' none */
};

/* One constraint: check, primary key, unique, exclusion or foreign key. */
struct td_constraint
{
    const char *name;
    char type;       /* contype: c, p, u, x, f */
    const char *def; /* pg_get_constraintdef */
};

/* One index that no constraint owns. */
struct td_index
{
    const char *name;
    const char *def; /* pg_get_indexdef */
};

struct td_table
{
    uint32_t oid; /* on that side */
    const char *schema;
    const char *name;
    const char *qualified;  /* "schema"."name", always quoted */
    char replident;         /* relreplident: d, n, f, i */
    const char *replindex;  /* with 'i': the index's name */
    const char *pk;         /* the primary key's columns, quoted, ", "-separated;
                             * NULL without one */
    struct td_column *cols; /* owned by the set; in attnum order */
    int ncols;
    struct td_constraint *cons; /* owned by the set; by name */
    int ncons;
    struct td_index *idx; /* owned by the set; by name */
    int nidx;
};

struct tabledefs
{
    struct td_table *tables; /* owned; by schema and name */
    int ntables;
    lsn_t wal;                    /* the side's WAL position when read (want_wal) */
    PGresult *res[5];             /* owned: what the strings point into */
    struct td_column *colmem;     /* owned */
    struct td_constraint *conmem; /* owned */
    struct td_index *idxmem;      /* owned */
};

/* Read the tables of SCHEMAS (comma-separated) from CONN, which must not be
 * in a transaction (SIDE names it in messages). With WANT_WAL also the WAL
 * position at the read (after any change the read sees). Returns false after
 * logging why, with *FAILURE (when not NULL) set. */
bool tabledefs_read(struct tabledefs *d, PGconn *conn, const char *schemas, const char *side,
                    bool want_wal, enum pgconn_failure *failure);

void tabledefs_free(struct tabledefs *d);

/* The table SCHEMA.NAME, or NULL. */
const struct td_table *tabledefs_find(const struct tabledefs *d, const char *schema,
                                      const char *name);

/* The table with OID, or NULL. */
const struct td_table *tabledefs_find_oid(const struct tabledefs *d, uint32_t oid);

/* T's column NAME, or the one of attribute number ATTNUM; NULL when none. */
const struct td_column *td_column_named(const struct td_table *t, const char *name);
const struct td_column *td_column_attnum(const struct td_table *t, int attnum);

/* T's constraint or index NAME, or NULL. */
const struct td_constraint *td_constraint_named(const struct td_table *t, const char *name);
const struct td_index *td_index_named(const struct td_table *t, const char *name);

/* T's primary key constraint, or NULL. */
const struct td_constraint *td_primary_key(const struct td_table *t);

#endif
