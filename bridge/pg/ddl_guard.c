/*
 * ddl_guard.c - ACCESS SHARE on the source's tables while init copies them,
 * and no rewrite since the snapshot (ddl_guard.h).
 */
#include "bridge/pg/ddl_guard.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bridge/base/log.h"
#include "bridge/pg/pgconn.h"

/* The tables of the schemas, as the session's snapshot has them. */
static const char tables_sql[] =
    "SELECT c.oid, c.relfilenode, pg_catalog.format('%I.%I', n.nspname, c.relname) "
    "FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace "
    "WHERE c.relkind = 'r' AND n.nspname = ANY "
    "      (pg_catalog.string_to_array(pg_catalog.replace($1, ' ', ''), ',')) "
    "ORDER BY c.oid";

static PGresult *
exec(PGconn *conn, const char *sql, int n, const char *const *params)
{
    return pgconn_exec(conn, "could not hold the source's tables against DDL", sql, n, params,
                       NULL);
}

/* The tables as SNAPSHOT has them, read on a session of their own. */
static PGresult *
snapshot_tables(const char *dsn, const char *schemas, const char *snapshot, int64_t timeout)
{
    const char *params[1] = {schemas};
    PGconn *c = pgconn_open(dsn, "source", PGCONN_SQL, "memori-bridge init", timeout, NULL);
    PGresult *res = NULL;
    char sql[256], *lit;

    if (c == NULL)
        return NULL;
    lit = PQescapeLiteral(c, snapshot, strlen(snapshot));
    snprintf(sql, sizeof(sql), "SET TRANSACTION SNAPSHOT %s", lit ? lit : "''");
    PQfreemem(lit);
    if ((res = exec(c, "BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY", 0, NULL)) != NULL)
    {
        PQclear(res);
        if ((res = exec(c, sql, 0, NULL)) != NULL)
        {
            PQclear(res);
            res = exec(c, tables_sql, 1, params);
        }
    }
    PQfinish(c);
    return res;
}

PGconn *
ddl_guard_take(const char *dsn, const char *schemas, const char *snapshot,
               int64_t connect_timeout_ms)
{
    const char *params[1] = {schemas};
    PGresult *then = snapshot_tables(dsn, schemas, snapshot, connect_timeout_ms), *now = NULL;
    PGconn *guard = NULL;
    char *sql = NULL;
    size_t len = 0;
    FILE *f;
    int r;

    if (then == NULL)
        return NULL;
    guard = pgconn_open(dsn, "source", PGCONN_SQL, "memori-bridge init", connect_timeout_ms, NULL);
    if (guard == NULL || (now = exec(guard, "BEGIN", 0, NULL)) == NULL)
        goto fail;
    PQclear(now);
    now = NULL;
    if (PQntuples(then) > 0)
    {
        if ((f = open_memstream(&sql, &len)) == NULL)
            goto fail;
        fputs("LOCK TABLE ", f);
        for (r = 0; r < PQntuples(then); r++)
            fprintf(f, "%s%s", r ? ", " : "", PQgetvalue(then, r, 2));
        fputs(" IN ACCESS SHARE MODE", f);
        if (fclose(f) != 0 || (now = exec(guard, sql, 0, NULL)) == NULL)
            goto fail;
        PQclear(now);
    }
    /* the lock holds them now: were they rewritten before it? */
    if ((now = exec(guard, tables_sql, 1, params)) == NULL)
        goto fail;
    for (r = 0; r < PQntuples(then); r++)
    {
        int k;

        for (k = 0; k < PQntuples(now); k++)
            if (strcmp(PQgetvalue(now, k, 0), PQgetvalue(then, r, 0)) == 0)
                break;
        if (k < PQntuples(now) && strcmp(PQgetvalue(now, k, 1), PQgetvalue(then, r, 1)) == 0)
            continue;
        log_error("table %s was %s on the source while init took its snapshot: the copy would "
                  "see it without its rows; fix: memori-bridge init --force (DDL that comes "
                  "later waits for the copy)",
                  PQgetvalue(then, r, 2), k < PQntuples(now) ? "rewritten" : "dropped");
        goto fail;
    }
    PQclear(now);
    PQclear(then);
    free(sql);
    log_info("holding the source's tables against DDL until they are copied (DDL waits, "
             "writers do not)");
    return guard;
fail:
    PQclear(now);
    PQclear(then);
    free(sql);
    if (guard != NULL)
        PQfinish(guard);
    return NULL;
}

void
ddl_guard_release(PGconn **guard)
{
    if (*guard != NULL)
        PQfinish(*guard);
    *guard = NULL;
}
