/*
 * catalog.c - the target's tables, from its own catalog.
 *
 * The cast type is the type's own name, schema-qualified, without a
 * modifier: an explicit cast to varchar(10) would cut a longer value short
 * without a word, while assigning the uncut value to the column applies the
 * column's own modifier, which refuses it. Not format_type(): its "character"
 * and "bit" mean char(1) and bit(1) in a cast, and would cut "ab" to "a".
 */
#include "bridge/pg/catalog.h"

#include <stdlib.h>
#include <string.h>

#include "bridge/base/log.h"

static const char catalog_sql[] =
    "SELECT c.oid, n.nspname, c.relname, a.attname, "
    "       pg_catalog.quote_ident(tn.nspname) || '.' || pg_catalog.quote_ident(ty.typname), "
    "       a.attgenerated <> '', "
    "       coalesce(a.attnum = ANY (i.indkey::int2[]), false), "
    "       EXISTS (SELECT 1 FROM pg_catalog.pg_index u WHERE u.indrelid = c.oid "
    "               AND (u.indisunique OR u.indisexclusion) AND NOT u.indisprimary), "
    "       EXISTS (SELECT 1 FROM pg_catalog.pg_trigger t WHERE t.tgrelid = c.oid "
    "               AND NOT t.tgisinternal AND t.tgenabled IN ('R', 'A')), "
    "       pg_catalog.format_type(a.atttypid, a.atttypmod), ty.typlen = -1, "
    "       (SELECT p.conname FROM pg_catalog.pg_constraint p "
    "        WHERE p.conrelid = c.oid AND p.contype = 'p') "
    "FROM pg_catalog.pg_class c "
    "JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace "
    "JOIN pg_catalog.pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 "
    "     AND NOT a.attisdropped "
    "JOIN pg_catalog.pg_type ty ON ty.oid = a.atttypid "
    "JOIN pg_catalog.pg_namespace tn ON tn.oid = ty.typnamespace "
    "LEFT JOIN pg_catalog.pg_index i ON i.indrelid = c.oid AND i.indisprimary "
    "WHERE n.nspname = ANY (pg_catalog.string_to_array($1, ',')) "
    "  AND c.relkind IN ('r', 'p') "
    "ORDER BY n.nspname, c.relname, a.attnum";

static void
free_table(struct cat_table *t)
{
    int i;

    for (i = 0; i < t->ncols; i++)
    {
        free(t->cols[i].name);
        free(t->cols[i].type);
        free(t->cols[i].fulltype);
    }
    free(t->skip);
    free(t->cols);
    free(t->schema);
    free(t->name);
    free(t->qualified);
    free(t->pkname);
}

void
catalog_free(struct catalog *cat)
{
    int i;

    for (i = 0; i < cat->ntables; i++)
        free_table(&cat->tables[i]);
    free(cat->tables);
    memset(cat, 0, sizeof(*cat));
}

/* "a, b ,c" -> "a,b,c" */
static char *
normalize_schemas(const char *schemas)
{
    char *out = malloc(strlen(schemas) + 1), *o = out;
    const char *p;

    if (out == NULL)
        return NULL;
    for (p = schemas; *p != '\0'; p++)
        if (*p != ' ')
            *o++ = *p;
    *o = '\0';
    return out;
}

static char *
quote_qualified(const char *schema, const char *name)
{
    size_t len = 2 * (strlen(schema) + strlen(name)) + 8;
    char *buf = malloc(len);
    size_t n;

    if (buf == NULL)
        return NULL;
    if (!pgconn_quote_ident(schema, buf, len))
    {
        free(buf);
        return NULL;
    }
    n = strlen(buf);
    buf[n++] = '.';
    if (!pgconn_quote_ident(name, buf + n, len - n))
    {
        free(buf);
        return NULL;
    }
    return buf;
}

bool
catalog_load(struct catalog *cat, PGconn *conn, const char *schemas,
             enum pgconn_failure *failure)
{
    struct catalog fresh = {NULL, 0, 0};
    char *list = normalize_schemas(schemas);
    const char *params[1] = {list};
    PGresult *res = NULL;
    int rows, r, ntables = 0;
    bool ok = false;

    *failure = PGCONN_FATAL;
    if (list == NULL)
    {
        log_error("out of memory");
        return false;
    }
    res = pgconn_exec(conn, "could not read the target's catalog", catalog_sql, 1, params,
                      failure);
    if (res == NULL)
        goto done;
    rows = PQntuples(res);
    for (r = 0; r < rows; r++)
        if (r == 0 || strcmp(PQgetvalue(res, r, 0), PQgetvalue(res, r - 1, 0)) != 0)
            ntables++;
    fresh.tables = calloc((size_t) ntables + 1, sizeof(struct cat_table));
    if (fresh.tables == NULL)
        goto oom;
    for (r = 0; r < rows; r++)
    {
        struct cat_table *t;
        struct cat_column *c;

        if (r == 0 || strcmp(PQgetvalue(res, r, 0), PQgetvalue(res, r - 1, 0)) != 0)
        {
            int n = r + 1;

            t = &fresh.tables[fresh.ntables++];
            t->oid = (uint32_t) strtoul(PQgetvalue(res, r, 0), NULL, 10);
            t->schema = strdup(PQgetvalue(res, r, 1));
            t->name = strdup(PQgetvalue(res, r, 2));
            if (t->schema == NULL || t->name == NULL)
                goto oom;
            t->qualified = quote_qualified(t->schema, t->name);
            while (n < rows && strcmp(PQgetvalue(res, n, 0), PQgetvalue(res, r, 0)) == 0)
                n++;
            t->cols = calloc((size_t) (n - r), sizeof(struct cat_column));
            t->ordered = PQgetvalue(res, r, 7)[0] == 't';
            t->pkname = PQgetisnull(res, r, 11) ? NULL : strdup(PQgetvalue(res, r, 11));
            t->barrier = PQgetvalue(res, r, 8)[0] == 't';
            if (t->qualified == NULL || t->cols == NULL)
                goto oom;
        }
        t = &fresh.tables[fresh.ntables - 1];
        c = &t->cols[t->ncols++];
        c->name = strdup(PQgetvalue(res, r, 3));
        c->type = strdup(PQgetvalue(res, r, 4));
        c->fulltype = strdup(PQgetvalue(res, r, 9));
        if (c->name == NULL || c->type == NULL || c->fulltype == NULL)
            goto oom;
        c->varlena = PQgetvalue(res, r, 10)[0] == 't';
        c->generated = PQgetvalue(res, r, 5)[0] == 't';
        c->pk = PQgetvalue(res, r, 6)[0] == 't';
        if (c->pk)
            t->npk++;
    }
    for (r = 0; r < fresh.ntables; r++)
        if (fresh.tables[r].npk == 0)
            fresh.tables[r].ordered = true;
    /* keep the counters of tables already known */
    for (r = 0; r < fresh.ntables; r++)
    {
        struct cat_table *old = catalog_find(cat, fresh.tables[r].schema,
                                             strlen(fresh.tables[r].schema),
                                             fresh.tables[r].name, strlen(fresh.tables[r].name));

        if (old != NULL)
        {
            fresh.tables[r].tally = old->tally;
            fresh.tables[r].skip = old->skip;
            old->skip = NULL;
        }
    }
    catalog_free(cat);
    *cat = fresh;
    fresh.tables = NULL;
    ok = true;
    goto done;
oom:
    log_error("out of memory reading the target's catalog");
done:
    if (fresh.tables != NULL)
        catalog_free(&fresh); /* what was filled before the failure */
    PQclear(res);
    free(list);
    return ok;
}

struct cat_table *
catalog_find(struct catalog *cat, const char *schema, size_t schema_len, const char *name,
             size_t name_len)
{
    int i;

    if (cat->ntables == 0)
        return NULL;
    for (i = 0; i < cat->ntables; i++)
    {
        int k = (cat->last + i) % cat->ntables;
        struct cat_table *t = &cat->tables[k];

        if (strncmp(t->name, name, name_len) == 0 && t->name[name_len] == '\0' &&
            strncmp(t->schema, schema, schema_len) == 0 && t->schema[schema_len] == '\0')
        {
            cat->last = k;
            return t;
        }
    }
    return NULL;
}

int
catalog_column(const struct cat_table *t, const char *name, size_t len)
{
    int i;

    for (i = 0; i < t->ncols; i++)
        if (strncmp(t->cols[i].name, name, len) == 0 && t->cols[i].name[len] == '\0')
            return i;
    return -1;
}

bool
catalog_skipped(const struct cat_table *t, const char *name)
{
    const char *p;

    for (p = t->skip; p != NULL && *p != '\0'; p += strlen(p) + 1)
        if (strcmp(p, name) == 0)
            return true;
    return false;
}

bool
catalog_skip(struct cat_table *t, const char *name)
{
    size_t used = 0, add = strlen(name) + 1;
    const char *p;
    char *grown;

    if (catalog_skipped(t, name))
        return true;
    for (p = t->skip; p != NULL && *p != '\0'; p += strlen(p) + 1)
        used += strlen(p) + 1;
    grown = realloc(t->skip, used + add + 1);
    if (grown == NULL)
        return false;
    memcpy(grown + used, name, add);
    grown[used + add] = '\0';
    t->skip = grown;
    return true;
}
