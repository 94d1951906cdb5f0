/*
 * fence.c - fences up and down.
 *
 * Up is CREATE TRIGGER (or ENABLE TRIGGER when it is there, disabled), down is
 * DISABLE TRIGGER: all three take SHARE ROW EXCLUSIVE, which waits for writers
 * and lets readers through. DROP TRIGGER would take ACCESS EXCLUSIVE and stop
 * readers too, so the trigger is never dropped here (cleanup does that).
 */
#include "bridge/pg/fence.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bridge/base/log.h"
#include "bridge/pg/pgconn.h"

extern const char bridge_objects_sql[];

static const char tables_sql[] =
    "SELECT pg_catalog.format('%I.%I', n.nspname, c.relname), "
    "       (SELECT t.tgenabled FROM pg_catalog.pg_trigger t "
    "        WHERE t.tgrelid = c.oid AND t.tgname = 'memori_bridge_fence') "
    "FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace "
    "WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition "
    "  AND n.nspname = ANY (pg_catalog.string_to_array(replace($1, ' ', ''), ',')) "
    "ORDER BY 1";

/* Backends other than this one (and the bridge's own) that hold a lock on a
 * table of the schemas: the writers a fence waits for. */
static const char writers_sql[] =
    "SELECT DISTINCT l.pid FROM pg_catalog.pg_locks l "
    "JOIN pg_catalog.pg_class c ON c.oid = l.relation "
    "JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace "
    "LEFT JOIN pg_catalog.pg_stat_activity a ON a.pid = l.pid "
    "WHERE n.nspname = ANY (pg_catalog.string_to_array(replace($1, ' ', ''), ',')) "
    "  AND l.granted AND l.mode IN ('RowExclusiveLock', 'ShareRowExclusiveLock', "
    "      'ExclusiveLock', 'AccessExclusiveLock') "
    "  AND l.pid <> pg_catalog.pg_backend_pid() "
    "  AND coalesce(a.application_name, '') NOT LIKE 'memori-bridge%' "
    "ORDER BY 1";

bool
fence_objects(PGconn *conn, const char *side)
{
    char what[128];

    snprintf(what, sizeof(what), "could not create the bridge's own objects on the %s", side);
    PQclear(PQexec(conn, "SET client_min_messages = warning"));
    return pgconn_script(conn, what, bridge_objects_sql);
}

bool
fence_objects_usable(PGconn *conn, const char *side, const char *table, bool *exists)
{
    const char *params[1] = {table};
    char what[160], u[160];
    PGresult *res;
    bool usable;

    *exists = false;
    snprintf(what, sizeof(what), "could not look for the bridge's objects on the %s", side);
    res = pgconn_exec(conn, what,
                      "SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_class c "
                      "  JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace "
                      "  WHERE n.nspname = 'memori_bridge' AND c.relname = $1), "
                      "coalesce((SELECT pg_catalog.has_schema_privilege(oid, 'USAGE') "
                      "          FROM pg_catalog.pg_namespace WHERE nspname = 'memori_bridge'), true), "
                      "(SELECT pg_catalog.pg_get_userbyid(nspowner) FROM pg_catalog.pg_namespace "
                      " WHERE nspname = 'memori_bridge')",
                      1, params, NULL);
    if (res == NULL)
        return false;
    *exists = PQgetvalue(res, 0, 0)[0] == 't';
    usable = PQgetvalue(res, 0, 1)[0] == 't';
    if (!usable && pgconn_quote_ident(PQuser(conn), u, sizeof(u)))
        log_error("role %s may not use schema memori_bridge on the %s (owned by \"%s\", who ran "
                  "init there); run the bridge as that role, or grant, as \"%s\": GRANT USAGE "
                  "ON SCHEMA memori_bridge TO %s; GRANT SELECT, INSERT, UPDATE, DELETE ON ALL "
                  "TABLES IN SCHEMA memori_bridge TO %s",
                  u, side, PQgetvalue(res, 0, 2), PQgetvalue(res, 0, 2), u, u);
    PQclear(res);
    return usable;
}

int
fence_count(PGconn *conn, const char *schemas)
{
    const char *params[1] = {schemas};
    PGresult *res = pgconn_exec(conn, "could not read the fences", tables_sql, 1, params, NULL);
    int r, n = 0;

    if (res == NULL)
        return -1;
    for (r = 0; r < PQntuples(res); r++)
        if (!PQgetisnull(res, r, 1) && PQgetvalue(res, r, 1)[0] != 'D')
            n++;
    PQclear(res);
    return n;
}

/* The PIDs still writing, as "123, 456", into BUF. Returns how many. */
static int
writers(PGconn *conn, const char *schemas, char *buf, size_t len)
{
    const char *params[1] = {schemas};
    PGresult *res = PQexecParams(conn, writers_sql, 1, NULL, params, NULL, NULL, 0);
    size_t n = 0;
    int r, count = 0;

    buf[0] = '\0';
    if (PQresultStatus(res) == PGRES_TUPLES_OK)
        for (r = 0; r < PQntuples(res) && n < len; r++, count++)
            n += (size_t) snprintf(buf + n, len - n, "%s%s", r ? ", " : "", PQgetvalue(res, r, 0));
    PQclear(res);
    return count;
}

/* One attempt: every trigger, in one transaction, within the lock timeout. */
static bool
try_fence(PGconn *conn, const struct fence_options *o, bool up, char *err, size_t errlen,
          bool *timed_out)
{
    const char *params[1] = {o->schemas};
    const char *state[1] = {o->moved_to};
    char sql[1024];
    PGresult *res = NULL;
    int r;

    *timed_out = false;
    snprintf(sql, sizeof(sql), "SET LOCAL lock_timeout = '%lldms'", (long long) o->timeout_ms);
    PQclear(PQexec(conn, "BEGIN"));
    PQclear(PQexec(conn, sql));
    if (up)
    {
        res = PQexecParams(conn,
                           "INSERT INTO memori_bridge.fence_state (moved_to) VALUES ($1) "
                           "ON CONFLICT (only_row) DO UPDATE SET moved_to = $1, fenced_at = now()",
                           1, NULL, state, NULL, NULL, 0);
        if (PQresultStatus(res) != PGRES_COMMAND_OK)
            goto failed;
        PQclear(res);
    }
    res = PQexecParams(conn, tables_sql, 1, NULL, params, NULL, NULL, 0);
    if (PQresultStatus(res) != PGRES_TUPLES_OK)
        goto failed;
    for (r = 0; r < PQntuples(res); r++)
    {
        const char *table = PQgetvalue(res, r, 0); /* the server's own quoted name */
        bool exists = !PQgetisnull(res, r, 1);
        PGresult *one;

        if (up && !exists)
            snprintf(sql, sizeof(sql),
                     "CREATE TRIGGER memori_bridge_fence BEFORE INSERT OR UPDATE OR DELETE OR "
                     "TRUNCATE ON %s FOR EACH STATEMENT EXECUTE FUNCTION memori_bridge.fence()",
                     table);
        else if (up && PQgetvalue(res, r, 1)[0] == 'D')
            snprintf(sql, sizeof(sql), "ALTER TABLE %s ENABLE TRIGGER memori_bridge_fence",
                     table);
        else if (!up && exists && PQgetvalue(res, r, 1)[0] != 'D')
            snprintf(sql, sizeof(sql), "ALTER TABLE %s DISABLE TRIGGER memori_bridge_fence",
                     table);
        else
            continue;
        one = PQexec(conn, sql);
        if (PQresultStatus(one) != PGRES_COMMAND_OK)
        {
            PQclear(res);
            res = one;
            goto failed;
        }
        PQclear(one);
    }
    PQclear(res);
    res = PQexec(conn, "COMMIT");
    if (PQresultStatus(res) != PGRES_COMMAND_OK)
        goto failed;
    PQclear(res);
    return true;
failed:
    *timed_out = strcmp(pgconn_sqlstate(res), "55P03") == 0;
    pgconn_error(conn, res, err, errlen);
    PQclear(res);
    PQclear(PQexec(conn, "ROLLBACK"));
    return false;
}

static bool
fence_change(PGconn *conn, const struct fence_options *o, bool up)
{
    char err[1024], pids[512];
    bool timed_out;
    int attempt;

    for (attempt = 0; attempt < 2; attempt++)
    {
        if (try_fence(conn, o, up, err, sizeof(err), &timed_out))
            return true;
        if (!timed_out)
        {
            log_error("could not %s the fence on the %s: %s%s", up ? "put up" : "take down",
                      o->side, err,
                      strstr(err, "must be owner") ? "; the bridge's role must own the tables "
                                                    "(ALTER TABLE ... OWNER TO it)"
                                                  : "");
            return false;
        }
        if (writers(conn, o->schemas, pids, sizeof(pids)) == 0)
            continue; /* they ended meanwhile */
        if (!o->terminate_writers || attempt > 0)
        {
            log_error("could not %s the fence on the %s within %.1f s: transactions still "
                      "writing (PID %s); let them end, end them (SELECT pg_terminate_backend(pid)), "
                      "or give --terminate-writers",
                      up ? "put up" : "take down", o->side, (double) o->timeout_ms / 1000, pids);
            return false;
        }
        {
            const char *params[1] = {o->schemas};
            char sql[sizeof(writers_sql) + 64];

            log_warning("ending the transactions still writing on the %s (PID %s)", o->side, pids);
            snprintf(sql, sizeof(sql), "SELECT pg_catalog.pg_terminate_backend(pid) FROM (%s) w",
                     writers_sql);
            PQclear(PQexecParams(conn, sql, 1, NULL, params, NULL, NULL, 0));
        }
    }
    return false;
}

bool
fence_up(PGconn *conn, const struct fence_options *o)
{
    return fence_objects(conn, o->side) && fence_change(conn, o, true);
}

bool
fence_down(PGconn *conn, const char *side, const char *schemas, int64_t timeout_ms)
{
    struct fence_options o = {side, schemas, "", timeout_ms, false};

    return fence_change(conn, &o, false);
}
