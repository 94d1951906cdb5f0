/*
 * ddl.c - reading the source's definitions as statements.
 *
 * Every query runs with search_path = '' so that the server qualifies every
 * name it prints; every statement is assembled by the server with format()
 * and quote_literal(), never by splicing names here. Objects that belong to
 * an extension are left to CREATE EXTENSION.
 */
#include "bridge/pg/ddl.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bridge/base/log.h"

/* The configured schemas, and objects that are not extension members. */
#define NS_CTE                                                                                  \
    "WITH ns AS (SELECT oid, nspname FROM pg_catalog.pg_namespace "                             \
    "            WHERE nspname = ANY (pg_catalog.string_to_array(replace($1, ' ', ''), ','))) "
#define NOT_EXT(classname, oidexpr)                                                             \
    "NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend x WHERE x.classid = '" classname            \
    "'::pg_catalog.regclass AND x.objid = " oidexpr " AND x.deptype = 'e')"

static const char schemas_sql[] =
    NS_CTE "SELECT nspname, pg_catalog.format('CREATE SCHEMA IF NOT EXISTS %I', nspname), "
           "       'schema ' || nspname "
           "FROM ns ORDER BY nspname";

static const char extensions_sql[] =
    NS_CTE
    "SELECT DISTINCT pg_catalog.format('CREATE EXTENSION IF NOT EXISTS %I%s', e.extname, "
    "           CASE WHEN e.extnamespace IN (SELECT oid FROM ns) "
    "                THEN pg_catalog.format(' SCHEMA %I', en.nspname) ELSE '' END), "
    "       'extension ' || e.extname "
    "FROM pg_catalog.pg_extension e JOIN pg_catalog.pg_namespace en ON en.oid = e.extnamespace "
    "WHERE e.extnamespace IN (SELECT oid FROM ns) "
    "   OR e.oid IN (SELECT de.refobjid FROM pg_catalog.pg_depend d "
    "                JOIN pg_catalog.pg_depend de ON de.classid = d.refclassid "
    "                     AND de.objid = d.refobjid AND de.deptype = 'e' "
    "                WHERE d.deptype <> 'e' AND ("
    "   (d.classid = 'pg_class'::pg_catalog.regclass AND d.objid IN "
    "       (SELECT oid FROM pg_catalog.pg_class WHERE relnamespace IN (SELECT oid FROM ns))) "
    "OR (d.classid = 'pg_proc'::pg_catalog.regclass AND d.objid IN "
    "       (SELECT oid FROM pg_catalog.pg_proc WHERE pronamespace IN (SELECT oid FROM ns))) "
    "OR (d.classid = 'pg_type'::pg_catalog.regclass AND d.objid IN "
    "       (SELECT oid FROM pg_catalog.pg_type WHERE typnamespace IN (SELECT oid FROM ns))) "
    "OR (d.classid IN ('pg_attrdef'::pg_catalog.regclass, 'pg_constraint'::pg_catalog.regclass, "
    "                  'pg_trigger'::pg_catalog.regclass)))) "
    "ORDER BY 1";

/* Collations, read through to_jsonb() so that one query fits every version
 * (the ICU locale is colliculocale in 15 and 16, colllocale from 17; rules
 * came in 16). */
static const char collations_sql[] =
    NS_CTE
    "SELECT pg_catalog.format('CREATE COLLATION %I.%I (provider = %s, %s, deterministic = %s%s)', "
    "           n.nspname, c.collname, "
    "           CASE c.collprovider WHEN 'i' THEN 'icu' WHEN 'b' THEN 'builtin' ELSE 'libc' END, "
    "           CASE WHEN c.collprovider = 'c' AND j->>'collcollate' IS DISTINCT FROM j->>'collctype' "
    "                THEN pg_catalog.format('lc_collate = %L, lc_ctype = %L', j->>'collcollate', "
    "                                       j->>'collctype') "
    "                ELSE pg_catalog.format('locale = %L', coalesce(j->>'colllocale', "
    "                                       j->>'colliculocale', j->>'collcollate')) END, "
    "           CASE WHEN c.collisdeterministic THEN 'true' ELSE 'false' END, "
    "           CASE WHEN j->>'collicurules' IS NOT NULL "
    "                THEN pg_catalog.format(', rules = %L', j->>'collicurules') ELSE '' END), "
    "       pg_catalog.format('collation %s.%s', n.nspname, c.collname) "
    "FROM pg_catalog.pg_collation c JOIN ns n ON n.oid = c.collnamespace "
    "CROSS JOIN LATERAL pg_catalog.to_jsonb(c) j "
    "WHERE c.collprovider <> 'd' AND " NOT_EXT("pg_collation", "c.oid") " "
    "ORDER BY 2";

static const char types_sql[] =
    NS_CTE
    "SELECT 1, pg_catalog.format('CREATE TYPE %I.%I AS ENUM (%s)', n.nspname, t.typname, "
    "          (SELECT pg_catalog.string_agg(pg_catalog.quote_literal(e.enumlabel), ', ' "
    "                                        ORDER BY e.enumsortorder) "
    "           FROM pg_catalog.pg_enum e WHERE e.enumtypid = t.oid)), "
    "       pg_catalog.format('type %s.%s', n.nspname, t.typname) "
    "FROM pg_catalog.pg_type t JOIN ns n ON n.oid = t.typnamespace "
    "WHERE t.typtype = 'e' AND " NOT_EXT("pg_type", "t.oid") " "
    "UNION ALL "
    "SELECT 2, pg_catalog.format('CREATE TYPE %I.%I AS (%s)', n.nspname, t.typname, "
    "          (SELECT pg_catalog.string_agg(pg_catalog.format('%I %s', a.attname, "
    "                  pg_catalog.format_type(a.atttypid, a.atttypmod)), ', ' ORDER BY a.attnum) "
    "           FROM pg_catalog.pg_attribute a "
    "           WHERE a.attrelid = t.typrelid AND a.attnum > 0 AND NOT a.attisdropped)), "
    "       pg_catalog.format('type %s.%s', n.nspname, t.typname) "
    "FROM pg_catalog.pg_type t JOIN ns n ON n.oid = t.typnamespace "
    "JOIN pg_catalog.pg_class c ON c.oid = t.typrelid AND c.relkind = 'c' "
    "WHERE t.typtype = 'c' AND " NOT_EXT("pg_type", "t.oid") " "
    "UNION ALL "
    "SELECT 3, pg_catalog.format('CREATE DOMAIN %I.%I AS %s%s%s%s', n.nspname, t.typname, "
    "          pg_catalog.format_type(t.typbasetype, t.typtypmod), "
    "          CASE WHEN t.typdefault IS NOT NULL THEN ' DEFAULT ' || t.typdefault END, "
    "          CASE WHEN t.typnotnull THEN ' NOT NULL' END, "
    "          (SELECT pg_catalog.string_agg(pg_catalog.format(' CONSTRAINT %I %s', con.conname, "
    "                  pg_catalog.pg_get_constraintdef(con.oid)), '' ORDER BY con.conname) "
    "           FROM pg_catalog.pg_constraint con "
    "           WHERE con.contypid = t.oid AND con.contype = 'c')), "
    "       pg_catalog.format('domain %s.%s', n.nspname, t.typname) "
    "FROM pg_catalog.pg_type t JOIN ns n ON n.oid = t.typnamespace "
    "WHERE t.typtype = 'd' AND " NOT_EXT("pg_type", "t.oid") " "
    "ORDER BY 1, 2";

static const char sequences_sql[] = NS_CTE
    "SELECT pg_catalog.format('CREATE SEQUENCE IF NOT EXISTS %I.%I AS %s INCREMENT BY %s "
    "           MINVALUE %s MAXVALUE %s START WITH %s CACHE %s%s', n.nspname, c.relname, "
    "           pg_catalog.format_type(s.seqtypid, NULL), s.seqincrement, s.seqmin, s.seqmax, "
    "           s.seqstart, s.seqcache, CASE WHEN s.seqcycle THEN ' CYCLE' ELSE ' NO CYCLE' END), "
    "       pg_catalog.format('sequence %s.%s', n.nspname, c.relname), "
    "       (SELECT pg_catalog.format('ALTER SEQUENCE %I.%I OWNED BY %I.%I.%I', n.nspname, "
    "               c.relname, tn.nspname, tc.relname, a.attname) "
    "        FROM pg_catalog.pg_depend d JOIN pg_catalog.pg_class tc ON tc.oid = d.refobjid "
    "        JOIN pg_catalog.pg_namespace tn ON tn.oid = tc.relnamespace "
    "        JOIN pg_catalog.pg_attribute a ON a.attrelid = tc.oid AND a.attnum = d.refobjsubid "
    "        WHERE d.classid = 'pg_class'::pg_catalog.regclass AND d.objid = c.oid "
    "          AND d.refclassid = 'pg_class'::pg_catalog.regclass AND d.deptype = 'a' "
    "        LIMIT 1), "
    "       (SELECT d.refobjid FROM pg_catalog.pg_depend d "
    "        WHERE d.classid = 'pg_class'::pg_catalog.regclass AND d.objid = c.oid "
    "          AND d.refclassid = 'pg_class'::pg_catalog.regclass AND d.deptype = 'a' "
    "        LIMIT 1) "
    "FROM pg_catalog.pg_sequence s JOIN pg_catalog.pg_class c ON c.oid = s.seqrelid "
    "JOIN ns n ON n.oid = c.relnamespace "
    "WHERE NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend x "
    "                  WHERE x.classid = 'pg_class'::pg_catalog.regclass AND x.objid = c.oid "
    "                    AND x.deptype IN ('i', 'e')) "
    "ORDER BY 1";

static const char functions_sql[] =
    NS_CTE "SELECT pg_catalog.pg_get_functiondef(p.oid), "
           "       'function ' || p.oid::pg_catalog.regprocedure::text "
           "FROM pg_catalog.pg_proc p JOIN ns n ON n.oid = p.pronamespace "
           "WHERE p.prokind IN ('f', 'p') AND " NOT_EXT("pg_proc", "p.oid") " "
           "ORDER BY p.proname, p.oid";

static const char tables_sql[] =
    NS_CTE
    "SELECT c.oid, n.nspname, c.relname, c.relpages, c.reltuples::bigint, "
    "       pg_catalog.pg_relation_size(c.oid), "
    "       pg_catalog.format('CREATE TABLE %I.%I (%s)', n.nspname, c.relname, "
    "           pg_catalog.string_agg(pg_catalog.format('%I %s%s%s%s%s', a.attname, "
    "               pg_catalog.format_type(a.atttypid, a.atttypmod), "
    "               CASE WHEN a.attcollation <> 0 AND a.attcollation <> t.typcollation THEN "
    "                    (SELECT pg_catalog.format(' COLLATE %I.%I', cn.nspname, co.collname) "
    "                     FROM pg_catalog.pg_collation co "
    "                     JOIN pg_catalog.pg_namespace cn ON cn.oid = co.collnamespace "
    "                     WHERE co.oid = a.attcollation) END, "
    "               CASE WHEN a.attgenerated = 's' THEN pg_catalog.format("
    "                        ' GENERATED ALWAYS AS (%s) STORED', "
    "                        pg_catalog.pg_get_expr(ad.adbin, ad.adrelid)) "
    "                    WHEN ad.adbin IS NOT NULL THEN ' DEFAULT ' || "
    "                        pg_catalog.pg_get_expr(ad.adbin, ad.adrelid) END, "
    "               CASE a.attidentity WHEN 'a' THEN ' GENERATED ALWAYS AS IDENTITY' "
    "                                  WHEN 'd' THEN ' GENERATED BY DEFAULT AS IDENTITY' END, "
    "               CASE WHEN a.attnotnull THEN ' NOT NULL' END), ', ' ORDER BY a.attnum)), "
    "       pg_catalog.string_agg(pg_catalog.quote_ident(a.attname), ', ' ORDER BY a.attnum) "
    "           FILTER (WHERE a.attgenerated = ''), "
    "       CASE c.relreplident "
    "           WHEN 'f' THEN pg_catalog.format('ALTER TABLE %I.%I REPLICA IDENTITY FULL', "
    "                                           n.nspname, c.relname) "
    "           WHEN 'n' THEN pg_catalog.format('ALTER TABLE %I.%I REPLICA IDENTITY NOTHING', "
    "                                           n.nspname, c.relname) "
    "           WHEN 'i' THEN (SELECT pg_catalog.format("
    "                              'ALTER TABLE %I.%I REPLICA IDENTITY USING INDEX %I', "
    "                              n.nspname, c.relname, ic.relname) "
    "                          FROM pg_catalog.pg_index i "
    "                          JOIN pg_catalog.pg_class ic ON ic.oid = i.indexrelid "
    "                          WHERE i.indrelid = c.oid AND i.indisreplident) END, "
    /* binary COPY is safe when every copied column's type is (ddl.h) */
    "       coalesce(pg_catalog.bool_and(" DDL_BINARY_SAFE("t") ") "
    "           FILTER (WHERE a.attgenerated = ''), true) "
    "FROM pg_catalog.pg_class c JOIN ns n ON n.oid = c.relnamespace "
    "JOIN pg_catalog.pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 "
    "     AND NOT a.attisdropped "
    "JOIN pg_catalog.pg_type t ON t.oid = a.atttypid "
    "LEFT JOIN pg_catalog.pg_attrdef ad ON ad.adrelid = a.attrelid AND ad.adnum = a.attnum "
    "WHERE c.relkind = 'r' AND NOT c.relispartition AND " NOT_EXT("pg_class", "c.oid") " "
    "GROUP BY c.oid, n.nspname, c.relname "
    "ORDER BY n.nspname, c.relname";

/* contype order: CHECK before the data, keys after it, foreign keys last */
static const char constraints_sql[] =
    NS_CTE
    "SELECT con.conrelid, con.contype, "
    "       pg_catalog.format('ALTER TABLE %I.%I ADD CONSTRAINT %I %s', n.nspname, c.relname, "
    "           con.conname, pg_catalog.pg_get_constraintdef(con.oid)), "
    "       pg_catalog.format('constraint %s on %s.%s', con.conname, n.nspname, c.relname) "
    "FROM pg_catalog.pg_constraint con JOIN pg_catalog.pg_class c ON c.oid = con.conrelid "
    "JOIN ns n ON n.oid = c.relnamespace "
    "WHERE c.relkind = 'r' AND con.contype IN ('c', 'p', 'u', 'x', 'f') AND con.conislocal "
    "  AND " NOT_EXT("pg_class", "c.oid") " "
    "ORDER BY n.nspname, c.relname, con.conname";

static const char indexes_sql[] =
    NS_CTE
    "SELECT i.indrelid, pg_catalog.pg_get_indexdef(i.indexrelid), "
    "       pg_catalog.format('index %s.%s', n.nspname, ic.relname) "
    "FROM pg_catalog.pg_index i JOIN pg_catalog.pg_class ic ON ic.oid = i.indexrelid "
    "JOIN pg_catalog.pg_class c ON c.oid = i.indrelid JOIN ns n ON n.oid = c.relnamespace "
    "WHERE c.relkind = 'r' AND " NOT_EXT("pg_class", "c.oid") " "
    "  AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_constraint con "
    "                  WHERE con.conindid = i.indexrelid AND con.conrelid = c.oid "
    "                    AND con.contype IN ('p', 'u', 'x')) "
    "ORDER BY n.nspname, c.relname, ic.relname";

static const char triggers_sql[] =
    NS_CTE
    "SELECT t.tgrelid, pg_catalog.pg_get_triggerdef(t.oid, false), "
    "       pg_catalog.format('trigger %s on %s.%s', t.tgname, n.nspname, c.relname), "
    "       CASE t.tgenabled "
    "           WHEN 'D' THEN pg_catalog.format('ALTER TABLE %I.%I DISABLE TRIGGER %I', "
    "                                           n.nspname, c.relname, t.tgname) "
    "           WHEN 'R' THEN pg_catalog.format('ALTER TABLE %I.%I ENABLE REPLICA TRIGGER %I', "
    "                                           n.nspname, c.relname, t.tgname) "
    "           WHEN 'A' THEN pg_catalog.format('ALTER TABLE %I.%I ENABLE ALWAYS TRIGGER %I', "
    "                                           n.nspname, c.relname, t.tgname) END "
    "FROM pg_catalog.pg_trigger t JOIN pg_catalog.pg_class c ON c.oid = t.tgrelid "
    "JOIN ns n ON n.oid = c.relnamespace "
    "WHERE NOT t.tgisinternal AND c.relkind = 'r' AND " NOT_EXT("pg_class", "c.oid") " "
    "  AND t.tgname <> 'memori_bridge_fence' " /* the bridge's own fence, not the schema's */
    "ORDER BY n.nspname, c.relname, t.tgname";

static const char views_sql[] =
    NS_CTE "SELECT pg_catalog.format('CREATE OR REPLACE VIEW %I.%I AS %s', n.nspname, c.relname, "
           "           pg_catalog.pg_get_viewdef(c.oid)), "
           "       pg_catalog.format('view %s.%s', n.nspname, c.relname) "
           "FROM pg_catalog.pg_class c JOIN ns n ON n.oid = c.relnamespace "
           "WHERE c.relkind = 'v' AND " NOT_EXT("pg_class", "c.oid") " "
           "ORDER BY n.nspname, c.relname";

void
ddl_free(struct ddl *d)
{
    int i;

    for (i = 0; i < d->nstmts; i++)
    {
        free(d->stmts[i].what);
        free(d->stmts[i].sql);
    }
    free(d->stmts);
    for (i = 0; i < d->ntables; i++)
    {
        free(d->tables[i].schema);
        free(d->tables[i].name);
        free(d->tables[i].qualified);
        free(d->tables[i].columns);
    }
    free(d->tables);
    for (i = 0; i < d->nschemas; i++)
        free(d->schemas[i]);
    free(d->schemas);
    memset(d, 0, sizeof(*d));
}

static bool
add_stmt(struct ddl *d, enum ddl_phase phase, int table, const char *what, const char *sql)
{
    struct ddl_stmt *s = realloc(d->stmts, (size_t) (d->nstmts + 1) * sizeof(*s));

    if (s == NULL)
        return false;
    d->stmts = s;
    s = &d->stmts[d->nstmts];
    s->phase = phase;
    s->table = table;
    s->owner = 0;
    s->what = strdup(what);
    s->sql = strdup(sql);
    if (s->what == NULL || s->sql == NULL)
    {
        free(s->what);
        free(s->sql);
        return false;
    }
    d->nstmts++;
    return true;
}

static int
table_index(const struct ddl *d, const char *oid)
{
    uint32_t o = (uint32_t) strtoul(oid, NULL, 10);
    int i;

    for (i = 0; i < d->ntables; i++)
        if (d->tables[i].oid == o)
            return i;
    return -1;
}

static PGresult *
query(PGconn *conn, const char *what, const char *sql, const char *schemas,
      enum pgconn_failure *failure)
{
    const char *params[1] = {schemas};

    return pgconn_exec(conn, what, sql, 1, params, failure);
}

/* Statements of a two-column (sql, what) result, all in PHASE. */
static bool
add_simple(struct ddl *d, PGconn *conn, const char *sql, const char *schemas, enum ddl_phase phase,
           int sql_col, int what_col, enum pgconn_failure *failure)
{
    PGresult *res = query(conn, "could not read the source's definitions", sql, schemas, failure);
    int r;
    bool ok = res != NULL;

    for (r = 0; ok && r < PQntuples(res); r++)
        ok = add_stmt(d, phase, -1, PQgetvalue(res, r, what_col), PQgetvalue(res, r, sql_col));
    PQclear(res);
    return ok;
}

static bool
load_tables(struct ddl *d, PGconn *conn, const char *schemas, enum pgconn_failure *failure)
{
    PGresult *res = query(conn, "could not read the source's tables", tables_sql, schemas, failure);
    int r, n;

    if (res == NULL)
        return false;
    n = PQntuples(res);
    d->tables = calloc((size_t) n + 1, sizeof(struct ddl_table));
    if (d->tables == NULL)
        goto oom;
    for (r = 0; r < n; r++)
    {
        struct ddl_table *t = &d->tables[d->ntables];
        char what[300];

        t->oid = (uint32_t) strtoul(PQgetvalue(res, r, 0), NULL, 10);
        t->schema = strdup(PQgetvalue(res, r, 1));
        t->name = strdup(PQgetvalue(res, r, 2));
        t->pages = strtoll(PQgetvalue(res, r, 3), NULL, 10);
        t->rows = strtoll(PQgetvalue(res, r, 4), NULL, 10);
        t->bytes = strtoll(PQgetvalue(res, r, 5), NULL, 10);
        t->columns = strdup(PQgetvalue(res, r, 7));
        t->binary_ok = PQgetvalue(res, r, 9)[0] == 't';
        d->ntables++;
        if (t->schema == NULL || t->name == NULL || t->columns == NULL)
            goto oom;
        {
            size_t qlen = 2 * (strlen(t->schema) + strlen(t->name)) + 8;
            char *qs = malloc(qlen), *qn = malloc(qlen);

            t->qualified = malloc(qlen);
            if (qs == NULL || qn == NULL || t->qualified == NULL ||
                !pgconn_quote_ident(t->schema, qs, qlen) || !pgconn_quote_ident(t->name, qn, qlen))
            {
                free(qs);
                free(qn);
                goto oom;
            }
            snprintf(t->qualified, qlen, "%s.%s", qs, qn);
            free(qs);
            free(qn);
        }
        snprintf(what, sizeof(what), "table %s.%s", t->schema, t->name);
        if (!add_stmt(d, DDL_PRE, r, what, PQgetvalue(res, r, 6)))
            goto oom;
        if (!PQgetisnull(res, r, 8))
        {
            snprintf(what, sizeof(what), "replica identity of %s.%s", t->schema, t->name);
            if (!add_stmt(d, DDL_LAST, r, what, PQgetvalue(res, r, 8)))
                goto oom;
        }
    }
    PQclear(res);
    return true;
oom:
    log_error("out of memory reading the source's tables");
    PQclear(res);
    return false;
}

static bool
load_after(struct ddl *d, PGconn *conn, const char *schemas, enum pgconn_failure *failure)
{
    PGresult *res;
    int r;

    res = query(conn, "could not read the source's constraints", constraints_sql, schemas,
                failure);
    if (res == NULL)
        return false;
    for (r = 0; r < PQntuples(res); r++)
    {
        char type = PQgetvalue(res, r, 1)[0];
        enum ddl_phase phase = type == 'c' ? DDL_PRE : type == 'f' ? DDL_FKEYS : DDL_KEYS;

        if (!add_stmt(d, phase, table_index(d, PQgetvalue(res, r, 0)), PQgetvalue(res, r, 3),
                      PQgetvalue(res, r, 2)))
            goto oom;
    }
    PQclear(res);

    res = query(conn, "could not read the source's indexes", indexes_sql, schemas, failure);
    if (res == NULL)
        return false;
    for (r = 0; r < PQntuples(res); r++)
        if (!add_stmt(d, DDL_INDEXES, table_index(d, PQgetvalue(res, r, 0)),
                      PQgetvalue(res, r, 2), PQgetvalue(res, r, 1)))
            goto oom;
    PQclear(res);

    res = query(conn, "could not read the source's triggers", triggers_sql, schemas, failure);
    if (res == NULL)
        return false;
    for (r = 0; r < PQntuples(res); r++)
    {
        int t = table_index(d, PQgetvalue(res, r, 0));

        if (!add_stmt(d, DDL_LAST, t, PQgetvalue(res, r, 2), PQgetvalue(res, r, 1)) ||
            (!PQgetisnull(res, r, 3) &&
             !add_stmt(d, DDL_LAST, t, PQgetvalue(res, r, 2), PQgetvalue(res, r, 3))))
            goto oom;
    }
    PQclear(res);
    return true;
oom:
    log_error("out of memory reading the source's definitions");
    PQclear(res);
    return false;
}

static bool
load_sequences(struct ddl *d, PGconn *conn, const char *schemas, enum pgconn_failure *failure)
{
    PGresult *res = query(conn, "could not read the source's sequences", sequences_sql, schemas,
                          failure);
    int r;
    bool ok = res != NULL;

    for (r = 0; ok && r < PQntuples(res); r++)
    {
        uint32_t owner =
            PQgetisnull(res, r, 3) ? 0 : (uint32_t) strtoul(PQgetvalue(res, r, 3), NULL, 10);

        ok = add_stmt(d, DDL_PRE, -1, PQgetvalue(res, r, 1), PQgetvalue(res, r, 0));
        if (ok)
            d->stmts[d->nstmts - 1].owner = owner;
        if (ok && !PQgetisnull(res, r, 2))
        {
            char what[300];

            snprintf(what, sizeof(what), "ownership of %s", PQgetvalue(res, r, 1));
            ok = add_stmt(d, DDL_LAST, -1, what, PQgetvalue(res, r, 2));
            if (ok)
                d->stmts[d->nstmts - 1].owner = owner;
        }
    }
    PQclear(res);
    return ok;
}

bool
ddl_load(struct ddl *d, PGconn *conn, const char *schemas, enum pgconn_failure *failure)
{
    PGresult *res;
    int r;

    memset(d, 0, sizeof(*d));
    *failure = PGCONN_FATAL;
    res = PQexec(conn, "SET search_path = ''");
    PQclear(res);

    res = query(conn, "could not read the source's schemas", schemas_sql, schemas, failure);
    if (res == NULL)
        return false;
    d->schemas = calloc((size_t) PQntuples(res) + 1, sizeof(char *));
    for (r = 0; d->schemas != NULL && r < PQntuples(res); r++)
    {
        d->schemas[d->nschemas] = strdup(PQgetvalue(res, r, 0));
        if (d->schemas[d->nschemas] == NULL ||
            !add_stmt(d, DDL_PRE, -1, PQgetvalue(res, r, 2), PQgetvalue(res, r, 1)))
        {
            PQclear(res);
            goto fail;
        }
        d->nschemas++;
    }
    PQclear(res);
    if (d->schemas == NULL)
        goto fail;

    /* before the data, in dependency order (init retries what still fails) */
    if (!add_simple(d, conn, extensions_sql, schemas, DDL_PRE, 0, 1, failure) ||
        !add_simple(d, conn, collations_sql, schemas, DDL_PRE, 0, 1, failure) ||
        !add_simple(d, conn, types_sql, schemas, DDL_PRE, 1, 2, failure) ||
        !load_sequences(d, conn, schemas, failure) ||
        !add_simple(d, conn, functions_sql, schemas, DDL_PRE, 0, 1, failure) ||
        !load_tables(d, conn, schemas, failure) ||
        !load_after(d, conn, schemas, failure) ||
        !add_simple(d, conn, views_sql, schemas, DDL_PRE, 0, 1, failure))
        goto fail;
    PQclear(PQexec(conn, "RESET search_path"));
    return true;
fail:
    PQclear(PQexec(conn, "RESET search_path"));
    ddl_free(d);
    return false;
}
