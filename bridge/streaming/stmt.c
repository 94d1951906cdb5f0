/*
 * stmt.c - statement shapes and their SQL, prepared once per connection
 * (the statement cache); stmt_batch.c fills their parameters.
 *
 * A shape is (table, action, the message's column names in order, its
 * identity names in order, whether the key changes). wal2json writes columns
 * in attnum order and leaves out only unchanged TOASTed values, so a table has
 * few shapes and each is prepared once per connection.
 */
#include "bridge/streaming/stmt.h"
#include "bridge/streaming/stmt_int.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FNV_PRIME        UINT64_C(1099511628211)
#define KEYCHANGE_SALT   UINT64_C(0x9e3779b97f4a7c15)
#define STAGED_SALT      UINT64_C(0xc2b2ae3d27d4eb4f)
#define CACHE_BUCKETS    256

/* Staged parts live until the commit: ON COMMIT DELETE ROWS empties the
 * table (only when the transaction used it), and the key finds one value's
 * parts among the others of the transaction. Stored as they come: the row
 * compresses the whole value once, its parts need not be. */
const char stmt_stage_table_sql[] =
    "CREATE TEMPORARY TABLE memori_bridge_staged (id pg_catalog.int8, p pg_catalog.int4, "
    "n pg_catalog.int4, part pg_catalog.text, PRIMARY KEY (id, p, n)) ON COMMIT DELETE ROWS; "
    "ALTER TABLE pg_temp.memori_bridge_staged ALTER part SET STORAGE EXTERNAL";
const char stmt_stage_sql[] = "INSERT INTO pg_temp.memori_bridge_staged (id, p, n, part) "
                              "VALUES ($1, $2, $3, $4)";

uint64_t
stmt_fnv(uint64_t h, const void *p, size_t n)
{
    const unsigned char *s = p;
    size_t i;

    for (i = 0; i < n; i++)
        h = (h ^ s[i]) * FNV_PRIME;
    return h;
}

void
stmt_cache_init(struct stmt_cache *c)
{
    memset(c, 0, sizeof(*c));
}

static void
stmt_free(struct stmt *st)
{
    uint32_t i;

    for (i = 0; i < st->ncolumns + st->nidentity; i++)
        free(st->names[i]);
    for (i = 0; st->types != NULL && i < st->ncolumns; i++)
        free(st->types[i]);
    free(st->names);
    free(st->types);
    free(st->positions);
    free(st->col_param);
    free(st->id_param);
    free(st->pk_in_cols);
    free(st->key_src);
    free(st->sql);
    free(st);
}

void
stmt_cache_clear(struct stmt_cache *c)
{
    unsigned i;

    for (i = 0; i < c->nbuckets; i++)
    {
        struct stmt *st = c->buckets[i], *next;

        for (; st != NULL; st = next)
        {
            next = st->next;
            stmt_free(st);
        }
    }
    free(c->buckets);
    memset(c, 0, sizeof(*c));
}

static uint64_t
shape_hash(const struct cat_table *t, const struct w2j_record *rec)
{
    uint64_t h = stmt_fnv(FNV_OFFSET, &t->oid, sizeof(t->oid));
    char a = (char) rec->action;
    uint32_t i;

    h = stmt_fnv(h, &a, 1);
    /* the position and the type too: a rename, or a type changed on the
     * source, is a new shape, and the applier looks at each new shape once */
    for (i = 0; i < rec->ncolumns; i++)
    {
        h = stmt_fnv(h, rec->columns[i].name, rec->columns[i].name_len + 1);
        h = stmt_fnv(h, &rec->columns[i].position, sizeof(rec->columns[i].position));
        if (rec->columns[i].type != NULL)
            h = stmt_fnv(h, rec->columns[i].type, rec->columns[i].type_len);
    }
    h = stmt_fnv(h, "|", 1);
    for (i = 0; i < rec->nidentity; i++)
        h = stmt_fnv(h, rec->identity[i].name, rec->identity[i].name_len + 1);
    return h;
}

static bool
same_shape(const struct stmt *st, const struct cat_table *t, const struct w2j_record *rec,
           bool keychange, uint64_t staged)
{
    uint32_t i;

    if (st->table != t || st->action != rec->action || st->keychange != keychange ||
        st->staged != staged || st->ncolumns != rec->ncolumns || st->nidentity != rec->nidentity)
        return false;
    for (i = 0; i < rec->ncolumns; i++)
        if (strcmp(st->names[i], rec->columns[i].name) != 0 ||
            st->positions[i] != rec->columns[i].position ||
            (st->types[i] == NULL) != (rec->columns[i].type == NULL) ||
            (st->types[i] != NULL && strcmp(st->types[i], rec->columns[i].type) != 0))
            return false;
    for (i = 0; i < rec->nidentity; i++)
        if (strcmp(st->names[rec->ncolumns + i], rec->identity[i].name) != 0)
            return false;
    return true;
}

static void
put_ident(FILE *f, const char *name)
{
    fputc('"', f);
    for (; *name; name++)
    {
        if (*name == '"')
            fputc('"', f);
        fputc(*name, f);
    }
    fputc('"', f);
}

/* "unnest($1::text[], ..., $N::text[]) AS u(p1, ..., pN)", and around it,
 * when ST stages values, the subquery that puts their parts together (stmt.h;
 * OFFSET 0 keeps the planner from pulling it up, which would join the parts
 * again at each use of the value) */
static void
put_unnest(FILE *f, const struct stmt *st)
{
    int nparams = st->nparams, i;

    if (st->staged != 0)
    {
        fputs("(SELECT ", f);
        for (i = 1; i <= nparams; i++)
            if (st->staged & (UINT64_C(1) << (i - 1)))
                fprintf(f,
                        "%s(SELECT pg_catalog.string_agg(s.part, '' ORDER BY s.n) FROM "
                        "pg_temp.memori_bridge_staged s WHERE s.id = u.p%d::pg_catalog.int8 "
                        "AND s.p = %d) AS p%d",
                        i > 1 ? ", " : "", i, i - 1, i);
            else
                fprintf(f, "%su.p%d", i > 1 ? ", " : "", i);
        fputs(" FROM ", f);
    }
    fputs("unnest(", f);
    for (i = 1; i <= nparams; i++)
        fprintf(f, "%s$%d::text[]", i > 1 ? ", " : "", i);
    fputs(") AS u(", f);
    for (i = 1; i <= nparams; i++)
        fprintf(f, "%sp%d", i > 1 ? ", " : "", i);
    fputc(')', f);
    if (st->staged != 0)
        fputs(" OFFSET 0) AS u", f);
}

/* The statement's SQL. PTYPE[p] is the target type of parameter p, PCOL[p]
 * its target column name. */
static char *
build_sql(const struct stmt *st, const char *const *pcol, const char *const *ptype)
{
    const char *q = st->table->qualified;
    char *sql = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&sql, &len);
    int p;
    bool first = true;

    if (f == NULL)
        return NULL;
    switch (st->action)
    {
        case W2J_INSERT:
            fprintf(f, "INSERT INTO %s AS t (", q);
            for (p = 0; p < st->nparams; p++)
            {
                fputs(p ? ", " : "", f);
                put_ident(f, pcol[p]);
            }
            fputs(") OVERRIDING SYSTEM VALUE SELECT ", f);
            for (p = 0; p < st->nparams; p++)
                fprintf(f, "%su.p%d::%s", p ? ", " : "", p + 1, ptype[p]);
            fputs(" FROM ", f);
            put_unnest(f, st);
            break;
        case W2J_UPDATE:
        case W2J_DELETE:
            if (st->by_text)
            {
                fputs("WITH u AS (SELECT * FROM ", f);
                put_unnest(f, st);
                fprintf(f, "), hit AS (SELECT s.ctid AS tid FROM ONLY %s AS s, u WHERE ", q);
                for (p = 0; p < st->nkeys; p++)
                {
                    fputs(p ? " AND s." : "s.", f);
                    put_ident(f, pcol[p]);
                    fprintf(f, "::text IS NOT DISTINCT FROM u.p%d", p + 1);
                }
                fputs(" LIMIT 1) ", f);
            }
            if (st->action == W2J_DELETE)
                fprintf(f, "DELETE FROM ONLY %s AS t USING ", q);
            else
            {
                fprintf(f, "UPDATE ONLY %s AS t SET ", q);
                /* a value equal to the row's (most of them: wal2json sends the
                 * whole new row) keeps the stored datum, already compressed,
                 * instead of parsing and compressing it again */
                for (p = st->nkeys; p < st->nparams; p++)
                {
                    fputs(first ? "" : ", ", f);
                    first = false;
                    put_ident(f, pcol[p]);
                    fputs(" = CASE WHEN t.", f);
                    put_ident(f, pcol[p]);
                    fprintf(f, "::pg_catalog.text IS NOT DISTINCT FROM u.p%d THEN t.", p + 1);
                    put_ident(f, pcol[p]);
                    fprintf(f, " ELSE u.p%d::%s END", p + 1, ptype[p]);
                }
                if (first)
                {
                    /* nothing to set but the key, unchanged: the row must still exist */
                    put_ident(f, pcol[0]);
                    fputs(" = t.", f);
                    put_ident(f, pcol[0]);
                }
                fputs(" FROM ", f);
            }
            if (st->by_text)
                fputs(st->action == W2J_DELETE ? "hit WHERE t.ctid = hit.tid"
                                               : "u, hit WHERE t.ctid = hit.tid",
                      f);
            else
            {
                put_unnest(f, st);
                fputs(" WHERE ", f);
                for (p = 0; p < st->nkeys; p++)
                {
                    fputs(p ? " AND t." : "t.", f);
                    put_ident(f, pcol[p]);
                    fprintf(f, " = u.p%d::%s", p + 1, ptype[p]);
                }
            }
            break;
        default:
            break;
    }
    if (fclose(f) != 0)
    {
        free(sql);
        return NULL;
    }
    return sql;
}

static struct stmt *
create(struct stmt_cache *c, struct cat_table *t, const struct w2j_record *rec, bool keychange,
       uint64_t staged, uint64_t hash, struct stmt_error *err)
{
    uint32_t n = rec->ncolumns + rec->nidentity, i, j;
    struct stmt *st = calloc(1, sizeof(*st));
    const char **pcol = calloc(n + 1, sizeof(char *));
    const char **ptype = calloc(n + 1, sizeof(char *));
    int np = 0;

    if (st == NULL || pcol == NULL || ptype == NULL)
        goto oom;
    st->hash = hash;
    st->table = t;
    st->action = rec->action;
    st->keychange = keychange;
    st->staged = staged;
    st->ncolumns = rec->ncolumns;
    st->nidentity = rec->nidentity;
    st->names = calloc(n + 1, sizeof(char *));
    st->types = calloc(rec->ncolumns + 1, sizeof(char *));
    st->positions = calloc(rec->ncolumns + 1, sizeof(uint16_t));
    st->col_param = calloc(rec->ncolumns + 1, sizeof(int));
    st->id_param = calloc(rec->nidentity + 1, sizeof(int));
    st->pk_in_cols = calloc(rec->nidentity + 1, sizeof(int));
    if (st->names == NULL || st->col_param == NULL || st->id_param == NULL ||
        st->pk_in_cols == NULL || st->types == NULL || st->positions == NULL)
        goto oom;
    for (i = 0; i < rec->ncolumns; i++)
    {
        st->positions[i] = rec->columns[i].position;
        if (rec->columns[i].type != NULL && (st->types[i] = strdup(rec->columns[i].type)) == NULL)
            goto oom;
    }
    for (i = 0; i < n; i++)
    {
        const struct w2j_column *col =
            i < rec->ncolumns ? &rec->columns[i] : &rec->identity[i - rec->ncolumns];

        st->names[i] = strdup(col->name);
        if (st->names[i] == NULL)
            goto oom;
    }

    /* every column of the message must exist on the target */
    for (i = 0; i < n; i++)
    {
        const struct w2j_column *col =
            i < rec->ncolumns ? &rec->columns[i] : &rec->identity[i - rec->ncolumns];

        if (catalog_column(t, col->name, col->name_len) < 0 && !catalog_skipped(t, col->name))
        {
            snprintf(err->message, sizeof(err->message),
                     "column \"%s\" of %s.%s is missing on the target; add it there (ALTER TABLE "
                     "%s ADD COLUMN \"%s\" %s), then run again",
                     col->name, t->schema, t->name, t->qualified, col->name,
                     col->type ? col->type : "<type>");
            goto fail;
        }
    }

    /* key parameters first: how an UPDATE or DELETE finds its row */
    if (rec->action != W2J_INSERT)
    {
        int pk_found = 0;

        if (rec->nidentity == 0)
        {
            snprintf(err->message, sizeof(err->message),
                     "%s of %s.%s carries no identity to find the row by; give the source table a "
                     "primary key or REPLICA IDENTITY FULL",
                     w2j_action_name(rec->action), t->schema, t->name);
            goto fail;
        }
        for (j = 0; j < rec->nidentity; j++)
        {
            int ci = catalog_column(t, rec->identity[j].name, rec->identity[j].name_len);

            if (ci >= 0 && t->cols[ci].pk)
                pk_found++;
        }
        st->by_text = t->npk == 0 || pk_found < t->npk;
        for (j = 0; j < rec->nidentity; j++)
        {
            int ci = catalog_column(t, rec->identity[j].name, rec->identity[j].name_len);

            st->id_param[j] = -1;
            if (ci < 0)
                continue; /* gone on the source: left out */
            if (st->by_text || t->cols[ci].pk)
            {
                st->pk_in_cols[np] = -1;
                for (i = 0; i < rec->ncolumns; i++)
                    if (strcmp(rec->columns[i].name, rec->identity[j].name) == 0)
                        st->pk_in_cols[np] = (int) i;
                st->id_param[j] = np;
                pcol[np] = t->cols[ci].name;
                ptype[np++] = t->cols[ci].type;
            }
        }
        st->nkeys = np;
    }

    /* then the values written */
    for (i = 0; i < rec->ncolumns; i++)
    {
        int ci = catalog_column(t, rec->columns[i].name, rec->columns[i].name_len);

        st->col_param[i] = -1;
        if (ci < 0 || rec->action == W2J_DELETE || t->cols[ci].generated)
            continue; /* (ci < 0: gone on the source, left out) */
        if (rec->action == W2J_UPDATE && !keychange && !st->by_text && t->cols[ci].pk)
            continue; /* the key, unchanged: found by, not written */
        st->col_param[i] = np;
        pcol[np] = t->cols[ci].name;
        ptype[np++] = t->cols[ci].type;
    }
    st->nparams = np;
    if (np == 0)
    {
        snprintf(err->message, sizeof(err->message),
                 "%s of %s.%s has no column the target can take", w2j_action_name(rec->action),
                 t->schema, t->name);
        goto fail;
    }
    /* where each primary-key column's value is, for stmt_key_hash */
    if (t->npk > 0)
    {
        int col, k = 0;

        st->key_src = calloc((size_t) t->npk, sizeof(int));
        if (st->key_src == NULL)
            goto oom;
        for (col = 0; col < t->ncols; col++)
        {
            if (!t->cols[col].pk)
                continue;
            st->key_src[k] = INT32_MIN;
            if (rec->action == W2J_INSERT)
            {
                for (i = 0; i < rec->ncolumns; i++)
                    if (strcmp(rec->columns[i].name, t->cols[col].name) == 0)
                        st->key_src[k] = (int) i;
            }
            else
            {
                for (j = 0; j < rec->nidentity; j++)
                    if (strcmp(rec->identity[j].name, t->cols[col].name) == 0)
                        st->key_src[k] = -1 - (int) j;
            }
            if (st->key_src[k] == INT32_MIN)
            {
                free(st->key_src); /* the record lacks part of the key */
                st->key_src = NULL;
                break;
            }
            k++;
        }
        st->nkey_src = st->key_src ? k : 0;
    }
    st->single = keychange || st->by_text;
    snprintf(st->name, sizeof(st->name), "mb%u", ++c->serial);
    st->sql = build_sql(st, pcol, ptype);
    if (st->sql == NULL)
        goto oom;
    free(pcol);
    free(ptype);
    return st;
oom:
    snprintf(err->message, sizeof(err->message), "out of memory preparing a statement");
fail:
    if (st != NULL)
    {
        st->ncolumns = 0;
        st->nidentity = 0;
        for (i = 0; st->names != NULL && i < n; i++)
            free(st->names[i]);
        for (i = 0; st->types != NULL && i < rec->ncolumns; i++)
            free(st->types[i]);
        stmt_free(st);
    }
    free(pcol);
    free(ptype);
    return NULL;
}

static struct stmt *
find_or_create(struct stmt_cache *c, struct cat_table *t, const struct w2j_record *rec,
               bool keychange, uint64_t staged, uint64_t hash, struct stmt_error *err)
{
    struct stmt *st;
    unsigned b;

    if (c->buckets == NULL)
    {
        c->buckets = calloc(CACHE_BUCKETS, sizeof(struct stmt *));
        if (c->buckets == NULL)
        {
            snprintf(err->message, sizeof(err->message), "out of memory");
            return NULL;
        }
        c->nbuckets = CACHE_BUCKETS;
    }
    b = (unsigned) (hash & (c->nbuckets - 1));
    for (st = c->buckets[b]; st != NULL; st = st->next)
        if (st->hash == hash && same_shape(st, t, rec, keychange, staged))
            return st;
    st = create(c, t, rec, keychange, staged, hash, err);
    if (st == NULL)
        return NULL;
    st->next = c->buckets[b];
    c->buckets[b] = st;
    c->count++;
    return st;
}

static bool
same_value(const struct w2j_value *a, const struct w2j_value *b)
{
    if (a->text == NULL || b->text == NULL)
        return a->text == b->text;
    return a->len == b->len && memcmp(a->text, b->text, a->len) == 0;
}

bool
stmt_changes_key(const struct stmt *st, const struct w2j_record *rec)
{
    uint32_t j;

    if (st->action != W2J_UPDATE || st->by_text)
        return false;
    for (j = 0; j < rec->nidentity; j++)
    {
        int k = st->id_param[j];

        if (k >= 0 && st->pk_in_cols[k] >= 0 &&
            !same_value(&rec->identity[j].value, &rec->columns[st->pk_in_cols[k]].value))
            return true;
    }
    return false;
}

const struct w2j_value *
stmt_param_value(const struct stmt *st, const struct w2j_record *rec, int p)
{
    uint32_t i;

    for (i = 0; i < rec->ncolumns; i++)
        if (st->col_param[i] == p)
            return &rec->columns[i].value;
    for (i = 0; i < rec->nidentity; i++)
        if (st->id_param[i] == p)
            return &rec->identity[i].value;
    return NULL;
}

struct stmt *
stmt_lookup(struct stmt_cache *c, struct cat_table *t, const struct w2j_record *rec,
            size_t stage_over, struct stmt_error *err)
{
    uint64_t h = shape_hash(t, rec), staged = 0;
    struct stmt *st = find_or_create(c, t, rec, false, 0, h, err);
    int p;

    if (st != NULL && stmt_changes_key(st, rec))
    {
        h ^= KEYCHANGE_SALT;
        st = find_or_create(c, t, rec, true, 0, h, err);
    }
    if (st == NULL || stage_over == 0)
        return st;
    for (p = 0; p < st->nparams && p < 64; p++)
    {
        const struct w2j_value *v = stmt_param_value(st, rec, p);

        if (v != NULL && v->text != NULL && v->len > stage_over)
            staged |= UINT64_C(1) << p;
    }
    if (staged == 0)
        return st;
    return find_or_create(c, t, rec, st->keychange, staged, h ^ (STAGED_SALT * staged), err);
}
