/*
 * schemas.c - the configured schemas as a side has them (see schemas.h).
 */
#include "bridge/pg/schemas.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bridge/base/log.h"

static const char schemas_sql[] =
    "SELECT s.name, n.oid IS NOT NULL, "
    "       coalesce(pg_catalog.has_schema_privilege(n.oid, 'USAGE'), false), "
    "       (SELECT count(*) FROM pg_catalog.pg_class c "
    "        WHERE c.relnamespace = n.oid AND c.relkind IN ('r', 'p') "
    "          AND NOT c.relispartition), "
    "       coalesce(pg_catalog.pg_get_userbyid(n.nspowner), '') "
    "FROM unnest(pg_catalog.string_to_array(replace($1, ' ', ''), ',')) "
    "     WITH ORDINALITY AS s(name, i) "
    "LEFT JOIN pg_catalog.pg_namespace n ON n.nspname = s.name "
    "ORDER BY s.i";

struct schema_state *
schemas_read(PGconn *conn, const char *list, int *n, enum pgconn_failure *failure)
{
    const char *params[1] = {list};
    PGresult *res =
        pgconn_exec(conn, "could not read the schemas", schemas_sql, 1, params, failure);
    struct schema_state *out;
    int r;

    *n = 0;
    if (res == NULL)
        return NULL;
    out = calloc((size_t) PQntuples(res) + 1, sizeof(*out));
    if (out == NULL)
    {
        log_error("out of memory");
        if (failure != NULL)
            *failure = PGCONN_FATAL;
        PQclear(res);
        return NULL;
    }
    for (r = 0; r < PQntuples(res); r++)
    {
        struct schema_state *s = &out[r];

        snprintf(s->name, sizeof(s->name), "%s", PQgetvalue(res, r, 0));
        s->exists = PQgetvalue(res, r, 1)[0] == 't';
        s->usage = PQgetvalue(res, r, 2)[0] == 't';
        s->tables = strtol(PQgetvalue(res, r, 3), NULL, 10);
        snprintf(s->owner, sizeof(s->owner), "%s", PQgetvalue(res, r, 4));
    }
    *n = PQntuples(res);
    PQclear(res);
    return out;
}

const char *
schemas_missing_text(const char *name, char *buf, size_t len)
{
    snprintf(buf, len, "schema \"%s\" does not exist; check --schemas", name);
    return buf;
}

int
schemas_missing(PGconn *conn, const char *list, const char *side, const char *warn_why,
                enum pgconn_failure *failure)
{
    int n, i, missing = 0;
    struct schema_state *s = schemas_read(conn, list, &n, failure);
    char text[512];

    if (s == NULL)
        return -1;
    for (i = 0; i < n; i++)
    {
        if (s[i].exists)
            continue;
        missing++;
        schemas_missing_text(s[i].name, text, sizeof(text));
        if (warn_why != NULL)
            log_warning("%s: %s; %s", side, text, warn_why);
        else
            log_error("%s: %s", side, text);
    }
    free(s);
    return missing;
}

bool
schemas_on_both(PGconn *a, const char *a_side, PGconn *b, const char *b_side, const char *list,
                enum pgconn_failure *failure)
{
    enum pgconn_failure af = PGCONN_FATAL, bf = PGCONN_FATAL;
    int am = schemas_missing(a, list, a_side, NULL, &af);
    int bm = schemas_missing(b, list, b_side, NULL, &bf);

    if (failure != NULL)
        *failure = (am < 0 && af == PGCONN_TRANSIENT) || (bm < 0 && bf == PGCONN_TRANSIENT)
                       ? PGCONN_TRANSIENT
                       : PGCONN_FATAL;
    return am == 0 && bm == 0;
}
