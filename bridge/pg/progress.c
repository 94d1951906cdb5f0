/*
 * progress.c - reading and writing memori_bridge.progress, and the origin of
 * the same name where the role may use it.
 *
 * A function's EXECUTE privilege is checked when a statement that calls it is
 * started, not when the call is reached, so a CASE cannot guard a call to an
 * origin function: the privilege is asked first, and the call made only when
 * it is granted.
 */
#include "bridge/pg/progress.h"

#include <stdio.h>
#include <string.h>

#include "bridge/pg/pgconn.h"

const char progress_update_sql[] =
    "INSERT INTO memori_bridge.progress AS p (slot, end_lsn, commit_time) "
    "VALUES ($1, $2::pg_lsn, $3::timestamptz) "
    "ON CONFLICT (slot) DO UPDATE SET end_lsn = excluded.end_lsn, "
    "commit_time = excluded.commit_time, updated_at = now()";

bool
progress_may_use_origin(PGconn *conn, const char *side, bool *may)
{
    char what[128];
    PGresult *res;

    snprintf(what, sizeof(what), "could not check privileges on the %s", side);
    res = pgconn_exec(
        conn, what,
        "SELECT bool_and(pg_catalog.has_function_privilege(f, 'EXECUTE')) FROM unnest(ARRAY["
        "'pg_catalog.pg_replication_origin_create(text)', "
        "'pg_catalog.pg_replication_origin_oid(text)', "
        "'pg_catalog.pg_replication_origin_session_setup(text)', "
        "'pg_catalog.pg_replication_origin_xact_setup(pg_lsn, timestamptz)', "
        "'pg_catalog.pg_replication_origin_progress(text, boolean)']) AS f",
        0, NULL, NULL);
    if (res == NULL)
        return false;
    *may = PQgetvalue(res, 0, 0)[0] == 't';
    PQclear(res);
    return true;
}

bool
progress_read(PGconn *conn, const char *side, const char *name, struct progress *out)
{
    const char *params[1] = {name};
    char what[160];
    bool table;
    PGresult *res;

    memset(out, 0, sizeof(*out));
    snprintf(what, sizeof(what), "could not read the progress of \"%s\" on the %s", name, side);
    res = pgconn_exec(conn, what,
                      "SELECT pg_catalog.to_regclass('memori_bridge.progress') IS NOT NULL, "
                      "       EXISTS (SELECT 1 FROM pg_catalog.pg_replication_origin "
                      "               WHERE roname = $1), "
                      "       pg_catalog.has_function_privilege("
                      "         'pg_catalog.pg_replication_origin_progress(text, boolean)', "
                      "         'EXECUTE')",
                      1, params, NULL);
    if (res == NULL)
        return false;
    table = PQgetvalue(res, 0, 0)[0] == 't';
    out->origin_exists = PQgetvalue(res, 0, 1)[0] == 't';
    out->origin_readable = out->origin_exists && PQgetvalue(res, 0, 2)[0] == 't';
    PQclear(res);
    if (table)
    {
        res = pgconn_exec(conn, what,
                          "SELECT end_lsn FROM memori_bridge.progress WHERE slot = $1", 1, params,
                          NULL);
        if (res == NULL)
            return false;
        if (PQntuples(res) == 1)
        {
            out->recorded = true;
            lsn_parse(PQgetvalue(res, 0, 0), (size_t) PQgetlength(res, 0, 0), &out->lsn);
        }
        PQclear(res);
    }
    /* the table, once it has a row, is the record: an origin may be another
     * database's (origins belong to the whole cluster) */
    if (out->origin_readable && !out->recorded)
    {
        lsn_t origin = LSN_INVALID;

        res = pgconn_exec(conn, what, "SELECT pg_catalog.pg_replication_origin_progress($1, true)",
                          1, params, NULL);
        if (res == NULL)
            return false;
        if (!PQgetisnull(res, 0, 0))
            lsn_parse(PQgetvalue(res, 0, 0), (size_t) PQgetlength(res, 0, 0), &origin);
        PQclear(res);
        out->lsn = origin;
    }
    return true;
}

lsn_t
progress_position(const struct progress *p, lsn_t slot_at)
{
    return slot_at > p->lsn ? slot_at : p->lsn;
}

bool
progress_set(PGconn *conn, const char *side, const char *name, lsn_t lsn)
{
    char at[LSN_BUFSZ], what[160];
    const char *params[3] = {name, lsn_format(lsn, at), NULL};
    PGresult *res;

    snprintf(what, sizeof(what), "could not record the progress of \"%s\" on the %s", name, side);
    res = pgconn_exec(conn, what, progress_update_sql, 3, params, NULL);
    PQclear(res);
    return res != NULL;
}
