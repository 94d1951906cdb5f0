/*
 * switch_check.c - step 6 of cutover and rollback: both sides hold the same
 * rows and sequences, checked inside the pause, so in one round trip each.
 */
#include "bridge/cmd/switch_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bridge/base/log.h"
#include "bridge/cmd/verify.h"
#include "bridge/pg/pgconn.h"
#include "bridge/pg/seqsync.h"

/* 6. Counts of every table, and the sequences, equal on both sides. */
bool
switch_check(struct sw *s)
{
    static const char tables_sql[] =
        "SELECT pg_catalog.format('%I.%I', n.nspname, c.relname) "
        "FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace "
        "WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition "
        "  AND n.nspname = ANY (pg_catalog.string_to_array(replace($1, ' ', ''), ',')) "
        "ORDER BY 1";
    const char *params[1] = {s->conf->schemas};
    PGresult *tables, *seqs;
    char detail[128];
    int r, n = 0, bad = 0;

    if (s->verify_full)
    {
        log_info("%s: a full verify, inside the pause (it lengthens the pause)", s->name);
        if (verify_compare(s->conf, false, true, 10000) != 0)
        {
            log_error("%s: verify did not find both sides equal", s->name);
            return false;
        }
        switch_step_done(s, "verify: equal");
        return true;
    }
    tables = pgconn_exec(s->a, "could not list the tables", tables_sql, 1, params, NULL);
    seqs = tables ? pgconn_exec(s->a, "could not list the sequences", seq_list_sql, 1, params, NULL)
                  : NULL;
    if (seqs == NULL)
    {
        PQclear(tables);
        return false;
    }
    /* one query for every count and sequence, sent to both sides at once:
     * this step is inside the pause */
    {
        char *sql = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&sql, &len);
        PGresult *x = NULL, *y = NULL;
        int nt = PQntuples(tables), total = nt + PQntuples(seqs);

        if (f == NULL)
            goto oom;
        /* the names are the server's own quoted identifiers */
        for (r = 0; r < total; r++)
        {
            bool is_table = r < nt;
            const char *name = is_table ? PQgetvalue(tables, r, 0) : PQgetvalue(seqs, r - nt, 0);

            fprintf(f, "%sSELECT %d, %s FROM %s", r ? " UNION ALL " : "", r,
                    is_table ? "count(*)::text" : "last_value || '/' || is_called", name);
        }
        fputs(total ? " ORDER BY 1" : "SELECT 0, '' WHERE false", f);
        if (fclose(f) != 0 || sql == NULL)
            goto oom;
        if (PQsendQuery(s->a, sql) && PQsendQuery(s->b, sql))
        {
            x = PQgetResult(s->a);
            while (PQgetResult(s->a) != NULL)
                ;
            y = PQgetResult(s->b);
            while (PQgetResult(s->b) != NULL)
                ;
        }
        free(sql);
        if (PQresultStatus(x) != PGRES_TUPLES_OK || PQresultStatus(y) != PGRES_TUPLES_OK ||
            PQntuples(x) != total || PQntuples(y) != total)
        {
            char ea[256], eb[256];

            log_error("%s: could not count the tables: the %s says %s; the %s says %s", s->name,
                      s->a_role, pgconn_error(s->a, x, ea, sizeof(ea)), s->b_role,
                      pgconn_error(s->b, y, eb, sizeof(eb)));
            bad++;
        }
        for (r = 0; bad == 0 && r < total; r++)
        {
            bool is_table = r < nt;
            const char *name = is_table ? PQgetvalue(tables, r, 0) : PQgetvalue(seqs, r - nt, 0);

            if (strcmp(PQgetvalue(x, r, 1), PQgetvalue(y, r, 1)) != 0)
            {
                log_error("%s: %s %s differs: %s on the %s, %s on the %s", s->name,
                          is_table ? "table" : "sequence", name, PQgetvalue(x, r, 1), s->a_role,
                          PQgetvalue(y, r, 1), s->b_role);
                bad++;
            }
            n++;
        }
        PQclear(x);
        PQclear(y);
    }
    PQclear(tables);
    PQclear(seqs);
    if (bad > 0)
        return false;
    snprintf(detail, sizeof(detail), "%d tables and sequences equal", n);
    switch_step_done(s, detail);
    return true;
oom:
    log_error("%s: out of memory", s->name);
    PQclear(tables);
    PQclear(seqs);
    return false;
}
