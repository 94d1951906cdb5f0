/*
 * layout.c - the stream's record of the streaming side's columns (layout.h),
 * in memory and in memori_bridge.layout.
 */
#include "bridge/pg/layout.h"

#include <stdlib.h>
#include <string.h>

#include "bridge/base/log.h"

static const char layout_table_sql[] =
    "CREATE TABLE IF NOT EXISTS memori_bridge.layout ("
    "  slot text NOT NULL, nspname text NOT NULL, relname text NOT NULL, "
    "  attnum smallint NOT NULL, attname text, gone boolean NOT NULL DEFAULT false, relid oid, "
    "  PRIMARY KEY (slot, nspname, relname, attnum))";

const char layout_write_sql[] =
    "INSERT INTO memori_bridge.layout (slot, nspname, relname, attnum, attname, gone, relid) "
    "VALUES ($1, $2, $3, $4::smallint, $5, $6::boolean, $7::oid) "
    "ON CONFLICT (slot, nspname, relname, attnum) "
    "DO UPDATE SET attname = excluded.attname, gone = excluded.gone, relid = excluded.relid";

void
layout_free(struct layout *l)
{
    int i, j;

    for (i = 0; i < l->ntables; i++)
    {
        for (j = 0; j < l->tables[i].ncols; j++)
            free(l->tables[i].cols[j].name);
        free(l->tables[i].cols);
        free(l->tables[i].schema);
        free(l->tables[i].name);
    }
    free(l->tables);
    memset(l, 0, sizeof(*l));
}

struct layout_table *
layout_table(struct layout *l, const char *schema, size_t schema_len, const char *name,
             size_t name_len, bool create)
{
    struct layout_table *t;
    int i;

    for (i = 0; i < l->ntables; i++)
    {
        t = &l->tables[i];
        if (strncmp(t->name, name, name_len) == 0 && t->name[name_len] == '\0' &&
            strncmp(t->schema, schema, schema_len) == 0 && t->schema[schema_len] == '\0')
            return t;
    }
    if (!create)
        return NULL;
    if (l->ntables == l->cap)
    {
        int cap = l->cap ? l->cap * 2 : 16;
        struct layout_table *grown = realloc(l->tables, (size_t) cap * sizeof(*grown));

        if (grown == NULL)
            return NULL;
        l->tables = grown;
        l->cap = cap;
    }
    t = &l->tables[l->ntables];
    memset(t, 0, sizeof(*t));
    t->schema = strndup(schema, schema_len);
    t->name = strndup(name, name_len);
    if (t->schema == NULL || t->name == NULL)
    {
        free(t->schema);
        free(t->name);
        return NULL;
    }
    l->ntables++;
    return t;
}

struct layout_table *
layout_by_relid(struct layout *l, uint32_t relid)
{
    int i;

    for (i = 0; relid != 0 && i < l->ntables; i++)
        if (l->tables[i].relid == relid)
            return &l->tables[i];
    return NULL;
}

struct layout_col *
layout_col(struct layout_table *t, int attnum)
{
    int i;

    for (i = 0; i < t->ncols; i++)
        if (t->cols[i].attnum == attnum)
            return &t->cols[i];
    return NULL;
}

struct layout_col *
layout_col_named(struct layout_table *t, const char *name, size_t len)
{
    int i;

    for (i = 0; i < t->ncols; i++)
        if (!t->cols[i].gone && strncmp(t->cols[i].name, name, len) == 0 &&
            t->cols[i].name[len] == '\0')
            return &t->cols[i];
    return NULL;
}

bool
layout_set(struct layout_table *t, int attnum, const char *name, bool gone)
{
    struct layout_col *c = layout_col(t, attnum);
    char *copy = strdup(name);

    if (copy == NULL)
        return false;
    if (c == NULL)
    {
        if (t->ncols == t->cap)
        {
            int cap = t->cap ? t->cap * 2 : 16;
            struct layout_col *grown = realloc(t->cols, (size_t) cap * sizeof(*grown));

            if (grown == NULL)
            {
                free(copy);
                return false;
            }
            t->cols = grown;
            t->cap = cap;
        }
        c = &t->cols[t->ncols++];
        c->attnum = attnum;
        c->name = NULL;
    }
    free(c->name);
    c->name = copy;
    c->gone = gone;
    c->dirty = true;
    return true;
}

bool
layout_dirty(const struct layout *l)
{
    int i, j;

    for (i = 0; i < l->ntables; i++)
    {
        if (l->tables[i].relid_dirty)
            return true;
        for (j = 0; j < l->tables[i].ncols; j++)
            if (l->tables[i].cols[j].dirty)
                return true;
    }
    return false;
}

void
layout_clean(struct layout *l)
{
    int i, j;

    for (i = 0; i < l->ntables; i++)
    {
        l->tables[i].relid_dirty = false;
        for (j = 0; j < l->tables[i].ncols; j++)
            l->tables[i].cols[j].dirty = false;
    }
}

bool
layout_load(struct layout *l, PGconn *conn, const char *slot, const char *side)
{
    const char *params[1] = {slot};
    PGresult *res;
    int r;

    memset(l, 0, sizeof(*l));
    res = PQexec(conn, "SELECT pg_catalog.to_regclass('memori_bridge.layout') IS NOT NULL");
    if (PQresultStatus(res) == PGRES_TUPLES_OK && PQgetvalue(res, 0, 0)[0] != 't')
    {
        PQclear(res);
        res = PQexec(conn, layout_table_sql);
        if (PQresultStatus(res) != PGRES_COMMAND_OK)
        {
            log_debug("could not make memori_bridge.layout on the %s (%s): the columns the "
                      "stream showed are kept in memory only",
                      side, PQresultErrorMessage(res));
            PQclear(res);
            return false;
        }
    }
    PQclear(res);
    res = PQexecParams(conn,
                       "SELECT nspname, relname, attnum, coalesce(attname, ''), gone, relid "
                       "FROM memori_bridge.layout WHERE slot = $1 ORDER BY 1, 2, 3",
                       1, NULL, params, NULL, NULL, 0);
    if (PQresultStatus(res) != PGRES_TUPLES_OK)
    {
        log_debug("could not read memori_bridge.layout on the %s: %s", side,
                  PQresultErrorMessage(res));
        PQclear(res);
        return false;
    }
    for (r = 0; r < PQntuples(res); r++)
    {
        const char *schema = PQgetvalue(res, r, 0), *name = PQgetvalue(res, r, 1);
        struct layout_table *t = layout_table(l, schema, strlen(schema), name, strlen(name), true);
        int attnum = (int) strtol(PQgetvalue(res, r, 2), NULL, 10);

        if (t == NULL)
            break;
        if (attnum == 0)
            t->relid =
                PQgetisnull(res, r, 5) ? 0 : (uint32_t) strtoul(PQgetvalue(res, r, 5), NULL, 10);
        else if (!layout_set(t, attnum, PQgetvalue(res, r, 3), PQgetvalue(res, r, 4)[0] == 't'))
            break;
    }
    PQclear(res);
    layout_clean(l);
    return true;
}
