/*
 * seqsync.c - copying sequence positions from one side to the other.
 */
#include "bridge/pg/seqsync.h"

#include <stdio.h>
#include <string.h>

#include "bridge/base/log.h"
#include "bridge/pg/pgconn.h"

const char seq_list_sql[] =
    "SELECT pg_catalog.format('%I.%I', n.nspname, c.relname) "
    "FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace "
    "WHERE c.relkind = 'S' "
    "  AND n.nspname = ANY (pg_catalog.string_to_array(replace($1, ' ', ''), ',')) "
    "ORDER BY 1";

int
seq_sync(PGconn *src, PGconn *dst, const char *schemas, bool forward_only)
{
    const char *params[1] = {schemas};
    PGresult *list = pgconn_exec(src, "could not list the source's sequences", seq_list_sql, 1,
                                 params, NULL);
    int r, n = 0;

    if (list == NULL)
        return -1;
    for (r = 0; r < PQntuples(list); r++)
    {
        const char *name = PQgetvalue(list, r, 0);
        char sql[1024], what[1100];
        const char *set[3];
        PGresult *val, *res;

        /* NAME is the server's own quoted identifier, not a value */
        snprintf(sql, sizeof(sql), "SELECT last_value, is_called FROM %s", name);
        snprintf(what, sizeof(what), "could not read sequence %s on the source", name);
        val = pgconn_exec(src, what, sql, 0, NULL, NULL);
        if (val == NULL)
        {
            PQclear(list);
            return -1;
        }
        set[0] = name;
        set[1] = PQgetvalue(val, 0, 0);
        set[2] = PQgetvalue(val, 0, 1);
        snprintf(what, sizeof(what), "could not set sequence %s on the target", name);
        res = pgconn_exec(dst, what,
                          forward_only
                              ? "SELECT pg_catalog.setval($1::text::pg_catalog.regclass, "
                                "$2::bigint, $3::boolean) FROM pg_catalog.pg_sequences "
                                "WHERE pg_catalog.format('%I.%I', schemaname, sequencename) = "
                                "$1::text "
                                "  AND (last_value IS NULL "
                                "       OR (increment_by > 0 AND last_value < $2::bigint) "
                                "       OR (increment_by < 0 AND last_value > $2::bigint))"
                              : "SELECT pg_catalog.setval($1::pg_catalog.regclass, $2::bigint, "
                                "$3::boolean)",
                          3, set, NULL);
        PQclear(val);
        if (res == NULL)
        {
            PQclear(list);
            return -1;
        }
        PQclear(res);
        n++;
    }
    PQclear(list);
    return n;
}
