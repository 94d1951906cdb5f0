/*
 * tabledef.c - reading the streamed tables' definitions from one side.
 *
 * Five queries in one read-only transaction (one snapshot of the catalog):
 * tables, columns, constraints, indexes, and the WAL position. Results are
 * kept, and the structs point into them.
 */
#include "bridge/pg/tabledef.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bridge/base/log.h"

#define TABLES_CTE                                                                                 \
    "WITH tb AS (SELECT c.oid FROM pg_catalog.pg_class c "                                         \
    "            JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace "                        \
    "            WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition AND n.nspname = ANY "      \
    "                  (pg_catalog.string_to_array(pg_catalog.replace($1, ' ', ''), ','))) "

static const char tables_sql[] = TABLES_CTE
    "SELECT c.oid, n.nspname, c.relname, "
    "       '\"' || pg_catalog.replace(n.nspname, '\"', '\"\"') || '\".\"' || "
    "       pg_catalog.replace(c.relname, '\"', '\"\"') || '\"', "
    "       c.relreplident, "
    "       (SELECT ic.relname FROM pg_catalog.pg_index i "
    "        JOIN pg_catalog.pg_class ic ON ic.oid = i.indexrelid "
    "        WHERE i.indrelid = c.oid AND i.indisreplident), "
    "       (SELECT pg_catalog.string_agg(pg_catalog.quote_ident(a.attname), ', ' ORDER BY k.o) "
    "        FROM pg_catalog.pg_constraint p, "
    "             unnest(p.conkey) WITH ORDINALITY AS k(n, o) "
    "        JOIN pg_catalog.pg_attribute a ON a.attnum = k.n "
    "        WHERE p.conrelid = c.oid AND p.contype = 'p' AND a.attrelid = c.oid) "
    "FROM tb JOIN pg_catalog.pg_class c ON c.oid = tb.oid "
    "JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace "
    "ORDER BY n.nspname, c.relname";

/* The literal of attmissingval's one element (an array of the column's type)
 * is read only for types that are not arrays themselves. */
static const char columns_sql[] = TABLES_CTE
    "SELECT a.attrelid, a.attnum, a.attname, pg_catalog.format_type(a.atttypid, a.atttypmod), "
    "       a.atttypid, t.typlen = -1, a.attnotnull, "
    "       CASE WHEN a.attgenerated = '' THEN pg_catalog.pg_get_expr(ad.adbin, ad.adrelid) END, "
    "       coalesce(ad.adbin::pg_catalog.text LIKE '{CONST %', false), "
    "       CASE WHEN a.atthasmissing AND t.typcategory <> 'A' THEN pg_catalog.quote_literal("
    "            (a.attmissingval::pg_catalog.text::pg_catalog.text[])[1]) END, "
    "       CASE WHEN a.attcollation <> 0 AND a.attcollation <> t.typcollation THEN "
    "            (SELECT pg_catalog.format('%I.%I', cn.nspname, co.collname) "
    "             FROM pg_catalog.pg_collation co "
    "             JOIN pg_catalog.pg_namespace cn ON cn.oid = co.collnamespace "
    "             WHERE co.oid = a.attcollation) END, "
    "       a.attgenerated, "
    "       CASE WHEN a.attgenerated <> '' THEN pg_catalog.pg_get_expr(ad.adbin, ad.adrelid) END, "
    "       a.attidentity "
    "FROM tb JOIN pg_catalog.pg_attribute a ON a.attrelid = tb.oid "
    "JOIN pg_catalog.pg_type t ON t.oid = a.atttypid "
    "LEFT JOIN pg_catalog.pg_attrdef ad ON ad.adrelid = a.attrelid AND ad.adnum = a.attnum "
    "WHERE a.attnum > 0 AND NOT a.attisdropped "
    "ORDER BY a.attrelid, a.attnum";

static const char constraints_sql[] = TABLES_CTE
    "SELECT con.conrelid, con.conname, con.contype, pg_catalog.pg_get_constraintdef(con.oid) "
    "FROM tb JOIN pg_catalog.pg_constraint con ON con.conrelid = tb.oid "
    "WHERE con.contype IN ('c', 'p', 'u', 'x', 'f') "
    "ORDER BY con.conrelid, con.conname";

static const char indexes_sql[] =
    TABLES_CTE "SELECT i.indrelid, ic.relname, pg_catalog.pg_get_indexdef(i.indexrelid) "
               "FROM tb JOIN pg_catalog.pg_index i ON i.indrelid = tb.oid "
               "JOIN pg_catalog.pg_class ic ON ic.oid = i.indexrelid "
               "WHERE NOT EXISTS (SELECT 1 FROM pg_catalog.pg_constraint con "
               "                  WHERE con.conindid = i.indexrelid AND con.conrelid = i.indrelid "
               "                    AND con.contype IN ('p', 'u', 'x')) "
               "ORDER BY i.indrelid, ic.relname";

void
tabledefs_free(struct tabledefs *d)
{
    int i;

    for (i = 0; i < 5; i++)
        PQclear(d->res[i]);
    free(d->tables);
    free(d->colmem);
    free(d->conmem);
    free(d->idxmem);
    memset(d, 0, sizeof(*d));
}

static const char *
val(const PGresult *res, int r, int c)
{
    return PQgetisnull(res, r, c) ? NULL : PQgetvalue(res, r, c);
}

static uint32_t
oid_at(const PGresult *res, int r, int c)
{
    return (uint32_t) strtoul(PQgetvalue(res, r, c), NULL, 10);
}

/* The index of the table with OID (tables are few: a scan does). */
static int
table_at(const struct tabledefs *d, uint32_t oid)
{
    int i;

    for (i = 0; i < d->ntables; i++)
        if (d->tables[i].oid == oid)
            return i;
    return -1;
}

static void
fill_columns(struct tabledefs *d, const PGresult *res)
{
    int r, n = PQntuples(res);

    for (r = 0; r < n; r++)
    {
        int t = table_at(d, oid_at(res, r, 0));
        struct td_column *c = &d->colmem[r];

        c->attnum = (int) strtol(PQgetvalue(res, r, 1), NULL, 10);
        c->name = PQgetvalue(res, r, 2);
        c->type = PQgetvalue(res, r, 3);
        c->typeoid = oid_at(res, r, 4);
        c->varlena = PQgetvalue(res, r, 5)[0] == 't';
        c->notnull = PQgetvalue(res, r, 6)[0] == 't';
        c->def = val(res, r, 7);
        c->def_const = PQgetvalue(res, r, 8)[0] == 't';
        c->missing = val(res, r, 9);
        c->collation = val(res, r, 10);
        c->generated = PQgetvalue(res, r, 11)[0];
        c->genexpr = val(res, r, 12);
        c->identity = PQgetvalue(res, r, 13)[0];
        if (t < 0)
            continue;
        if (d->tables[t].cols == NULL)
            d->tables[t].cols = c;
        d->tables[t].ncols++;
    }
}

static void
fill_constraints(struct tabledefs *d, const PGresult *res)
{
    int r, n = PQntuples(res);

    for (r = 0; r < n; r++)
    {
        int t = table_at(d, oid_at(res, r, 0));
        struct td_constraint *c = &d->conmem[r];

        c->name = PQgetvalue(res, r, 1);
        c->type = PQgetvalue(res, r, 2)[0];
        c->def = PQgetvalue(res, r, 3);
        if (t < 0)
            continue;
        if (d->tables[t].cons == NULL)
            d->tables[t].cons = c;
        d->tables[t].ncons++;
    }
}

static void
fill_indexes(struct tabledefs *d, const PGresult *res)
{
    int r, n = PQntuples(res);

    for (r = 0; r < n; r++)
    {
        int t = table_at(d, oid_at(res, r, 0));
        struct td_index *x = &d->idxmem[r];

        x->name = PQgetvalue(res, r, 1);
        x->def = PQgetvalue(res, r, 2);
        if (t < 0)
            continue;
        if (d->tables[t].idx == NULL)
            d->tables[t].idx = x;
        d->tables[t].nidx++;
    }
}

bool
tabledefs_read(struct tabledefs *d, PGconn *conn, const char *schemas, const char *side,
               bool want_wal, enum pgconn_failure *failure)
{
    const char *params[1] = {schemas};
    static const char *const sqls[4] = {tables_sql, columns_sql, constraints_sql, indexes_sql};
    char what[128];
    PGresult *res;
    int i;

    memset(d, 0, sizeof(*d));
    snprintf(what, sizeof(what), "could not read the %s's table definitions", side);
    res = pgconn_exec(conn, what, "BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY", 0, NULL,
                      failure);
    if (res == NULL)
        return false;
    PQclear(res);
    res = pgconn_exec(conn, what, "SET LOCAL search_path = ''", 0, NULL, failure);
    if (res == NULL)
        goto fail;
    PQclear(res);
    for (i = 0; i < 4; i++)
        if ((d->res[i] = pgconn_exec(conn, what, sqls[i], 1, params, failure)) == NULL)
            goto fail;
    if (want_wal)
    {
        d->res[4] =
            pgconn_exec(conn, what, "SELECT pg_catalog.pg_current_wal_lsn()", 0, NULL, failure);
        if (d->res[4] == NULL)
            goto fail;
        lsn_parse(PQgetvalue(d->res[4], 0, 0), (size_t) PQgetlength(d->res[4], 0, 0), &d->wal);
    }
    PQclear(PQexec(conn, "COMMIT"));

    d->ntables = PQntuples(d->res[0]);
    d->tables = calloc((size_t) d->ntables + 1, sizeof(struct td_table));
    d->colmem = calloc((size_t) PQntuples(d->res[1]) + 1, sizeof(struct td_column));
    d->conmem = calloc((size_t) PQntuples(d->res[2]) + 1, sizeof(struct td_constraint));
    d->idxmem = calloc((size_t) PQntuples(d->res[3]) + 1, sizeof(struct td_index));
    if (d->tables == NULL || d->colmem == NULL || d->conmem == NULL || d->idxmem == NULL)
    {
        log_error("out of memory reading the %s's table definitions", side);
        tabledefs_free(d);
        return false;
    }
    for (i = 0; i < d->ntables; i++)
    {
        struct td_table *t = &d->tables[i];

        t->oid = oid_at(d->res[0], i, 0);
        t->schema = PQgetvalue(d->res[0], i, 1);
        t->name = PQgetvalue(d->res[0], i, 2);
        t->qualified = PQgetvalue(d->res[0], i, 3);
        t->replident = PQgetvalue(d->res[0], i, 4)[0];
        t->replindex = val(d->res[0], i, 5);
        t->pk = val(d->res[0], i, 6);
    }
    fill_columns(d, d->res[1]);
    fill_constraints(d, d->res[2]);
    fill_indexes(d, d->res[3]);
    return true;
fail:
    if (PQstatus(conn) == CONNECTION_OK)
        PQclear(PQexec(conn, "ROLLBACK"));
    tabledefs_free(d);
    return false;
}

const struct td_table *
tabledefs_find(const struct tabledefs *d, const char *schema, const char *name)
{
    int i;

    for (i = 0; i < d->ntables; i++)
        if (strcmp(d->tables[i].name, name) == 0 && strcmp(d->tables[i].schema, schema) == 0)
            return &d->tables[i];
    return NULL;
}

const struct td_table *
tabledefs_find_oid(const struct tabledefs *d, uint32_t oid)
{
    int i = table_at(d, oid);

    return i < 0 ? NULL : &d->tables[i];
}

const struct td_column *
td_column_named(const struct td_table *t, const char *name)
{
    int i;

    for (i = 0; i < t->ncols; i++)
        if (strcmp(t->cols[i].name, name) == 0)
            return &t->cols[i];
    return NULL;
}

const struct td_column *
td_column_attnum(const struct td_table *t, int attnum)
{
    int i;

    for (i = 0; i < t->ncols; i++)
        if (t->cols[i].attnum == attnum)
            return &t->cols[i];
    return NULL;
}

const struct td_constraint *
td_constraint_named(const struct td_table *t, const char *name)
{
    int i;

    for (i = 0; i < t->ncons; i++)
        if (strcmp(t->cons[i].name, name) == 0)
            return &t->cons[i];
    return NULL;
}

const struct td_index *
td_index_named(const struct td_table *t, const char *name)
{
    int i;

    for (i = 0; i < t->nidx; i++)
        if (strcmp(t->idx[i].name, name) == 0)
            return &t->idx[i];
    return NULL;
}

const struct td_constraint *
td_primary_key(const struct td_table *t)
{
    int i;

    for (i = 0; i < t->ncons; i++)
        if (t->cons[i].type == 'p')
            return &t->cons[i];
    return NULL;
}
