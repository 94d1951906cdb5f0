/*
 * ddl_guard.c - ACCESS SHARE on the source's tables while init copies them,
 * and no rewrite since the snapshot (ddl_guard.h).
 */
#include "bridge/pg/ddl_guard.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bridge/pg/pgconn.h"

/* The tables whose relfilenode in the snapshot's catalog is not the current
 * one (pg_relation_filenode reads the relation as it is now). */
static const char rewritten_sql[] =
    "SELECT pg_catalog.format('%I.%I', n.nspname, c.relname) "
    "FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace "
    "WHERE c.oid = ANY ($1::pg_catalog.oid[]) AND c.relfilenode <> 0 "
    "  AND c.relfilenode IS DISTINCT FROM pg_catalog.pg_relation_filenode(c.oid)";

bool
ddl_guard_hold(PGconn *src, const struct ddl *d, char *err, size_t errlen)
{
    char *lock = NULL, *oids = NULL;
    size_t llen = 0, olen = 0;
    FILE *lf = open_memstream(&lock, &llen), *of = open_memstream(&oids, &olen);
    const char *params[1];
    PGresult *res = NULL;
    bool ok = false;
    int i;

    if (lf == NULL || of == NULL)
    {
        if (lf != NULL)
            fclose(lf);
        if (of != NULL)
            fclose(of);
        free(lock);
        free(oids);
        snprintf(err, errlen, "out of memory");
        return false;
    }
    fputs("LOCK TABLE ", lf);
    fputc('{', of);
    for (i = 0; i < d->ntables; i++)
    {
        fprintf(lf, "%s%s", i ? ", " : "", d->tables[i].qualified);
        fprintf(of, "%s%u", i ? "," : "", d->tables[i].oid);
    }
    fputs(" IN ACCESS SHARE MODE", lf);
    fputc('}', of);
    if (fclose(lf) != 0 || fclose(of) != 0)
    {
        snprintf(err, errlen, "out of memory");
        goto done;
    }
    if (d->ntables == 0)
    {
        ok = true;
        goto done;
    }
    PQclear(PQexec(src, "SET LOCAL lock_timeout = '" GUARD_LOCK_TIMEOUT "'"));
    res = PQexec(src, lock);
    if (PQresultStatus(res) != PGRES_COMMAND_OK)
    {
        char msg[512];

        snprintf(err, errlen,
                 "could not hold the source's tables against DDL (%s): DDL was waiting for "
                 "them, or came while init took its snapshot; fix: memori-bridge init again, "
                 "with no DDL starting while it begins its copy",
                 pgconn_error(src, res, msg, sizeof(msg)));
        goto done;
    }
    PQclear(res);
    PQclear(PQexec(src, "SET LOCAL lock_timeout = 0"));
    params[0] = oids;
    res = PQexecParams(src, rewritten_sql, 1, NULL, params, NULL, NULL, 0);
    if (PQresultStatus(res) != PGRES_TUPLES_OK)
    {
        snprintf(err, errlen, "could not check the source's tables: %s", PQresultErrorMessage(res));
        goto done;
    }
    if (PQntuples(res) > 0)
    {
        snprintf(err, errlen,
                 "table %s was rewritten on the source (ALTER TABLE) while init took its "
                 "snapshot: the copy would see it without its rows; fix: memori-bridge init "
                 "again (DDL that comes once the copy holds the tables waits for it)",
                 PQgetvalue(res, 0, 0));
        goto done;
    }
    ok = true;
done:
    PQclear(res);
    free(lock);
    free(oids);
    return ok;
}
