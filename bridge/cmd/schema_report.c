/*
 * schema_report.c - the schema, as status and verify report it.
 */
#include "bridge/cmd/schema_report.h"

#include <string.h>

#include "bridge/base/log.h"

int
schema_report_stops(PGconn *conn, const char *side, const char *const slots[2],
                    char (*lines)[SCHEMA_LINE], int max)
{
    PGresult *res;
    int r, n = 0;

    res = PQexecParams(conn,
                       "SELECT direction, to_char(since, 'YYYY-MM-DD HH24:MI:SS TZ'), message "
                       "FROM memori_bridge.schema_stop WHERE slot IN ($1, $2) ORDER BY since",
                       2, NULL, slots, NULL, NULL, 0);
    for (r = 0; PQresultStatus(res) == PGRES_TUPLES_OK && r < PQntuples(res) && n < max; r++)
        snprintf(lines[n++], SCHEMA_LINE, "%s: the %s stream holds since %s: %s", side,
                 PQgetvalue(res, r, 0), PQgetvalue(res, r, 1), PQgetvalue(res, r, 2));
    PQclear(res);
    return n;
}

bool
schema_report_read(PGconn *from, const char *from_role, PGconn *to, const char *to_role,
                   const char *schemas, struct tabledefs *fromdefs, struct tabledefs *todefs,
                   struct td_diffs *diffs)
{
    memset(diffs, 0, sizeof(*diffs));
    if (!tabledefs_read(fromdefs, from, schemas, from_role, false, NULL))
        return false;
    if (!tabledefs_read(todefs, to, schemas, to_role, false, NULL))
    {
        tabledefs_free(fromdefs);
        return false;
    }
    if (tablediff(fromdefs, todefs, from_role, to_role, diffs))
        return true;
    tabledefs_free(fromdefs);
    tabledefs_free(todefs);
    return false;
}
