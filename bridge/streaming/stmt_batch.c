/*
 * stmt_batch.c - the binary text[] parameters of a multi-row batch: one array
 * per column, each element a value's text as wal2json gave it (or NULL), and
 * the keys already in the batch, so that two changes of one row never share
 * an execution.
 */
#include "bridge/streaming/stmt.h"
#include "bridge/streaming/stmt_int.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TEXTOID      25
#define ARRAY_HEADER 20 /* ndim, flags, element type, dim, lower bound */

void
stmt_batch_init(struct stmt_batch *b)
{
    memset(b, 0, sizeof(*b));
}

void
stmt_batch_free(struct stmt_batch *b)
{
    int i;

    for (i = 0; i < b->cap_params; i++)
        free(b->params[i].data);
    free(b->params);
    free(b->hasnull);
    free(b->values);
    free(b->lengths);
    free(b->formats);
    free(b->keys);
    memset(b, 0, sizeof(*b));
}

void
stmt_batch_reset(struct stmt_batch *b, size_t limit)
{
    int i;

    for (i = 0; i < b->cap_params; i++)
    {
        if (b->params[i].cap > limit)
        {
            free(b->params[i].data);
            b->params[i].data = NULL;
            b->params[i].cap = 0;
        }
        b->params[i].len = 0;
    }
    if (b->keys != NULL && b->nrows > 0)
        memset(b->keys, 0, b->keys_cap * sizeof(uint64_t));
    b->st = NULL;
    b->nrows = 0;
    b->bytes = 0;
}

static bool
reserve_params(struct stmt_batch *b, int n)
{
    struct stmt_param *p;
    bool *hn;
    const char **v;
    int *l, *f, i;

    if (n <= b->cap_params)
        return true;
    p = realloc(b->params, (size_t) n * sizeof(*p));
    if (p == NULL)
        return false;
    b->params = p;
    for (i = b->cap_params; i < n; i++)
        memset(&p[i], 0, sizeof(p[i]));
    hn = realloc(b->hasnull, (size_t) n * sizeof(*hn));
    v = realloc(b->values, (size_t) n * sizeof(*v));
    if (hn != NULL)
        b->hasnull = hn;
    if (v != NULL)
        b->values = v;
    l = realloc(b->lengths, (size_t) n * sizeof(*l));
    if (l != NULL)
        b->lengths = l;
    f = realloc(b->formats, (size_t) n * sizeof(*f));
    if (f != NULL)
        b->formats = f;
    if (hn == NULL || v == NULL || l == NULL || f == NULL)
        return false;
    b->cap_params = n;
    return true;
}

static void
put_be32(char *p, uint32_t v)
{
    p[0] = (char) (v >> 24);
    p[1] = (char) (v >> 16);
    p[2] = (char) (v >> 8);
    p[3] = (char) v;
}

static bool
append_element(struct stmt_param *p, const struct w2j_value *v)
{
    size_t need = 4 + (v->text ? v->len : 0);

    if (p->len == 0)
        p->len = ARRAY_HEADER;
    if (p->len + need > p->cap)
    {
        size_t cap = p->cap ? p->cap : 256;
        char *d;

        while (cap < p->len + need)
            cap *= 2;
        d = realloc(p->data, cap);
        if (d == NULL)
            return false;
        p->data = d;
        p->cap = cap;
    }
    if (v->text == NULL)
        put_be32(p->data + p->len, UINT32_MAX); /* -1: NULL */
    else
    {
        put_be32(p->data + p->len, (uint32_t) v->len);
        memcpy(p->data + p->len + 4, v->text, v->len);
    }
    p->len += need;
    return true;
}

static uint64_t
hash_value(uint64_t h, const struct w2j_value *v)
{
    if (v->text == NULL)
        return stmt_fnv(h, "\0N", 2);
    return stmt_fnv(h, v->text, v->len + 1);
}

uint64_t
stmt_key_hash(const struct stmt *st, const struct w2j_record *rec)
{
    uint64_t h = FNV_OFFSET;
    int k;

    if (st->key_src != NULL)
    {
        for (k = 0; k < st->nkey_src; k++)
        {
            int src = st->key_src[k];

            h = hash_value(h, src >= 0 ? &rec->columns[src].value
                                       : &rec->identity[-1 - src].value);
        }
        return h ? h : 1;
    }
    if (st->by_text)
    {
        uint32_t j;

        for (j = 0; j < rec->nidentity; j++)
            h = hash_value(h, &rec->identity[j].value);
        return h ? h : 1;
    }
    return 0;
}

bool
stmt_batch_has_key(const struct stmt_batch *b, uint64_t key)
{
    uint32_t i;

    if (b->keys == NULL || b->nrows == 0)
        return false;
    for (i = (uint32_t) key & (b->keys_cap - 1); b->keys[i] != 0; i = (i + 1) & (b->keys_cap - 1))
        if (b->keys[i] == key)
            return true;
    return false;
}

static void
insert_key(uint64_t *keys, uint32_t cap, uint64_t key)
{
    uint32_t i;

    for (i = (uint32_t) key & (cap - 1); keys[i] != 0 && keys[i] != key; i = (i + 1) & (cap - 1))
        ;
    keys[i] = key;
}

static bool
add_key(struct stmt_batch *b, uint64_t key)
{
    if ((b->nrows + 1) * 2 > b->keys_cap)
    {
        uint32_t cap = b->keys_cap ? b->keys_cap * 2 : 64, i;
        uint64_t *keys = calloc(cap, sizeof(uint64_t));

        if (keys == NULL)
            return false;
        for (i = 0; i < b->keys_cap; i++)
            if (b->keys[i] != 0)
                insert_key(keys, cap, b->keys[i]);
        free(b->keys);
        b->keys = keys;
        b->keys_cap = cap;
    }
    insert_key(b->keys, b->keys_cap, key);
    return true;
}

/* Append V, the value of parameter P of ST, to B's array P; STAGE_ID in its
 * stead when P is staged. */
static bool
add_value(struct stmt_batch *b, const struct stmt *st, int p, const struct w2j_value *v,
          uint64_t stage_id)
{
    char id[24];
    struct w2j_value staged = {.kind = W2J_KIND_NUMBER, .text = id};

    if (p < 64 && (st->staged & (UINT64_C(1) << p)))
    {
        staged.len = (size_t) snprintf(id, sizeof(id), "%llu", (unsigned long long) stage_id);
        v = &staged;
    }
    if (!append_element(&b->params[p], v))
        return false;
    b->hasnull[p] |= v->text == NULL;
    b->bytes += v->len;
    return true;
}

bool
stmt_batch_add(struct stmt_batch *b, struct stmt *st, const struct w2j_record *rec, uint64_t key,
               uint64_t stage_id)
{
    uint32_t i;

    if (!reserve_params(b, st->nparams))
        return false;
    if (b->nrows == 0)
    {
        int p;

        for (p = 0; p < st->nparams; p++)
        {
            b->params[p].len = 0;
            b->hasnull[p] = false;
        }
    }
    b->st = st;
    for (i = 0; i < rec->nidentity; i++)
    {
        int p = st->id_param[i];

        if (p >= 0 && !add_value(b, st, p, &rec->identity[i].value, stage_id))
            return false;
    }
    for (i = 0; i < rec->ncolumns; i++)
    {
        int p = st->col_param[i];

        if (p >= 0 && !add_value(b, st, p, &rec->columns[i].value, stage_id))
            return false;
    }
    if (key != 0 && !add_key(b, key))
        return false;
    b->nrows++;
    return true;
}

int
stmt_batch_finish(struct stmt_batch *b)
{
    int p;

    for (p = 0; p < b->st->nparams; p++)
    {
        char *h = b->params[p].data;

        put_be32(h, 1);                        /* dimensions */
        put_be32(h + 4, b->hasnull[p] ? 1 : 0); /* flags */
        put_be32(h + 8, TEXTOID);               /* element type */
        put_be32(h + 12, b->nrows);             /* elements */
        put_be32(h + 16, 1);                    /* lower bound */
        b->values[p] = h;
        b->lengths[p] = (int) b->params[p].len;
        b->formats[p] = 1;
    }
    return b->st->nparams;
}

static void
describe_value(FILE *f, const struct w2j_value *v)
{
    size_t n = v->text ? v->len : 0;

    if (v->text == NULL)
        fputs("NULL", f);
    else if (n > 64)
        fprintf(f, "%.60s...", v->text);
    else
        fwrite(v->text, 1, n, f);
}

char *
stmt_describe_key(const struct stmt *st, const struct w2j_record *rec, char *buf, size_t len)
{
    char *text = NULL;
    size_t tlen = 0;
    FILE *f = open_memstream(&text, &tlen);
    uint32_t i;
    int n = 0;

    if (f == NULL)
    {
        snprintf(buf, len, "(unknown)");
        return buf;
    }
    if (rec->action == W2J_INSERT)
    {
        /* the new row's primary key, or its first column */
        fputc('(', f);
        for (i = 0; i < rec->ncolumns; i++)
        {
            int ci = catalog_column(st->table, rec->columns[i].name, rec->columns[i].name_len);

            if (ci >= 0 && (st->table->cols[ci].pk || (st->table->npk == 0 && i == 0)))
                fprintf(f, "%s%s", n++ ? ", " : "", rec->columns[i].name);
        }
        fputs(")=(", f);
        n = 0;
        for (i = 0; i < rec->ncolumns; i++)
        {
            int ci = catalog_column(st->table, rec->columns[i].name, rec->columns[i].name_len);

            if (ci >= 0 && (st->table->cols[ci].pk || (st->table->npk == 0 && i == 0)))
            {
                fputs(n++ ? ", " : "", f);
                describe_value(f, &rec->columns[i].value);
            }
        }
        fputc(')', f);
    }
    else
    {
        fputc('(', f);
        for (i = 0; i < rec->nidentity; i++)
            if (st->id_param[i] >= 0)
                fprintf(f, "%s%s", n++ ? ", " : "", rec->identity[i].name);
        fputs(")=(", f);
        n = 0;
        for (i = 0; i < rec->nidentity; i++)
            if (st->id_param[i] >= 0)
            {
                fputs(n++ ? ", " : "", f);
                describe_value(f, &rec->identity[i].value);
            }
        fputc(')', f);
    }
    fclose(f);
    snprintf(buf, len, "%s", text ? text : "");
    free(text);
    return buf;
}
