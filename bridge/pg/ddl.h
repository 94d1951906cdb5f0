/*
 * ddl.h - the target's schema, built from the source's own catalog.
 *
 * Debian's pg_dump 15 refuses a PostgreSQL 17 server (DESIGN, terrain), so
 * the DDL comes from the source's catalog functions instead: format_type,
 * pg_get_expr, pg_get_constraintdef, pg_get_indexdef, pg_get_triggerdef,
 * pg_get_functiondef, pg_get_viewdef. The source formats every statement
 * itself (format('%I'), quote_literal) with search_path empty, so every name
 * comes out quoted and schema-qualified as that server spells it.
 *
 * The statements come in phases: what must exist before the data (schemas,
 * extensions, types, sequences, functions, tables with their defaults, NOT
 * NULL and CHECK constraints, views), and what is faster to build after it
 * (primary keys and unique constraints, secondary indexes, foreign keys,
 * triggers, replica identity, sequence ownership).
 */
#ifndef MB_DDL_H
#define MB_DDL_H

#include <stdbool.h>
#include <stdint.h>

#include <libpq-fe.h>

#include "bridge/pg/pgconn.h"

enum ddl_phase
{
    DDL_PRE = 0, /* before the data, in order (retried when an object needs a later one) */
    DDL_KEYS,    /* primary keys, unique and exclusion constraints: after the data */
    DDL_INDEXES, /* secondary indexes: after the data, in parallel */
    DDL_FKEYS,   /* foreign keys: after the keys they reference */
    DDL_LAST,    /* triggers, replica identity, sequence ownership */
    DDL_NPHASES,
};

/* One statement. */
struct ddl_stmt
{
    enum ddl_phase phase;
    int table;   /* index into ddl.tables, or -1 */
    uint32_t owner; /* a sequence's statements: the OID of the table that owns it, else 0 */
    char *what;  /* owned: "index memori.idx_memories_user_id", for messages */
    char *sql;   /* owned */
};

/* SQL: can a column of type T (a pg_type alias, as a string: "t") be copied in
 * COPY's binary format between two clusters of one major version? When T is
 * built in (OIDs below 16384 are the same in every cluster, and array and
 * record binary forms carry the OIDs of their element types), has binary send
 * and receive, and is an array only of such a type. */
#define DDL_BINARY_SAFE(t)                                                                         \
    "(" t ".oid < 16384 AND " t ".typsend <> 0 AND " t ".typreceive <> 0 AND (" t ".typelem "      \
    "= 0 OR " t ".typelem < 16384) AND " t ".typtype IN ('b', 'p'))"

/* One table to copy. */
struct ddl_table
{
    uint32_t oid;      /* on the source */
    char *schema;      /* owned */
    char *name;        /* owned */
    char *qualified;   /* owned: "schema"."name" */
    char *columns;     /* owned: the copied columns (not generated), quoted, comma-separated */
    int64_t pages;     /* relpages on the source: the size estimate for chunking */
    int64_t rows;      /* reltuples on the source (-1: never analyzed) */
    int64_t bytes;     /* pg_relation_size on the source */
    bool binary_ok;    /* every copied column's type is DDL_BINARY_SAFE: the copy may use
                        * COPY's binary format (when both servers are of one major version;
                        * init.h) */
};

struct ddl
{
    struct ddl_stmt *stmts;   /* owned, in execution order within each phase */
    int nstmts;
    struct ddl_table *tables; /* owned */
    int ntables;
    char **schemas;           /* owned: the configured schemas that exist on the source */
    int nschemas;
};

/* Read the definitions of SCHEMAS from the source CONN (a session this may set
 * search_path on). Returns false (logged, *FAILURE set) when it cannot. */
bool ddl_load(struct ddl *d, PGconn *conn, const char *schemas, enum pgconn_failure *failure);

void ddl_free(struct ddl *d);

#endif
