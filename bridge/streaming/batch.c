/*
 * batch.c - copying decoded records into a batch.
 */
#include "bridge/streaming/batch.h"

#include <stdlib.h>
#include <string.h>

#include "bridge/base/log.h"

#define ALIGN8(n) (((n) + 7) & ~(size_t) 7)

bool
batch_init(struct batch *b, size_t arena_bytes, uint32_t cap_items)
{
    memset(b, 0, sizeof(*b));
    b->items = calloc(cap_items, sizeof(struct item));
    b->arena = malloc(arena_bytes);
    if (b->items == NULL || b->arena == NULL)
    {
        batch_free(b);
        return false;
    }
    b->cap_items = cap_items;
    b->size = arena_bytes;
    b->base_size = arena_bytes;
    return true;
}

void
batch_free(struct batch *b)
{
    free(b->items);
    free(b->arena);
    memset(b, 0, sizeof(*b));
}

void
batch_reset(struct batch *b)
{
    b->nitems = 0;
    b->used = 0;
    if (b->size > b->base_size)
    {
        char *small = malloc(b->base_size);

        if (small != NULL)
        {
            free(b->arena);
            b->arena = small;
            b->size = b->base_size;
        }
    }
}

static size_t
column_strings(const struct w2j_column *c, uint32_t n)
{
    size_t total = 0;
    uint32_t i;

    for (i = 0; i < n; i++)
        total += c[i].name_len + 1 + (c[i].type ? c[i].type_len + 1 : 0) +
                 (c[i].value.text ? c[i].value.len + 1 : 0);
    return total;
}

/* Bytes REC needs in an arena. */
static size_t
record_size(const struct w2j_record *r)
{
    size_t n = ALIGN8(((size_t) r->ncolumns + r->nidentity) * sizeof(struct w2j_column));

    n += column_strings(r->columns, r->ncolumns) + column_strings(r->identity, r->nidentity);
    if (r->timestamp)
        n += r->timestamp_len + 1;
    if (r->schema)
        n += r->schema_len + 1;
    if (r->table)
        n += r->table_len + 1;
    if (r->prefix)
        n += r->prefix_len + 1;
    if (r->content)
        n += r->content_len + 1;
    return ALIGN8(n);
}

static const char *
copy_str(char **p, const char *s, size_t len)
{
    char *d = *p;

    if (s == NULL)
        return NULL;
    memcpy(d, s, len);
    d[len] = '\0';
    *p = d + len + 1;
    return d;
}

static void
copy_columns(struct w2j_column *dst, const struct w2j_column *src, uint32_t n, char **p)
{
    uint32_t i;

    for (i = 0; i < n; i++)
    {
        dst[i] = src[i];
        dst[i].name = copy_str(p, src[i].name, src[i].name_len);
        dst[i].type = copy_str(p, src[i].type, src[i].type_len);
        if (src[i].value.text != NULL)
            dst[i].value.text = copy_str(p, src[i].value.text, src[i].value.len);
    }
}

int
batch_add_record(struct batch *b, const struct w2j_record *rec, lsn_t pos, uint32_t bytes)
{
    size_t need = record_size(rec);
    struct item *it;
    struct w2j_column *cols;
    char *p;

    if (b->nitems == b->cap_items)
        return 0;
    if (b->used + need > b->size)
    {
        char *bigger;

        if (b->nitems > 0)
            return 0;
        /* one message larger than a batch: this batch carries it alone */
        bigger = malloc(need);
        if (bigger == NULL)
        {
            log_error("out of memory for a message of %zu bytes", need);
            return -1;
        }
        free(b->arena);
        b->arena = bigger;
        b->size = need;
    }
    it = &b->items[b->nitems++];
    it->kind = ITEM_RECORD;
    it->pos = pos;
    it->bytes = bytes;
    it->rec = *rec;
    cols = (struct w2j_column *) (b->arena + b->used);
    p = (char *) (cols + rec->ncolumns + rec->nidentity);
    copy_columns(cols, rec->columns, rec->ncolumns, &p);
    copy_columns(cols + rec->ncolumns, rec->identity, rec->nidentity, &p);
    it->rec.columns = rec->ncolumns ? cols : NULL;
    it->rec.identity = rec->nidentity ? cols + rec->ncolumns : NULL;
    it->rec.timestamp = copy_str(&p, rec->timestamp, rec->timestamp_len);
    it->rec.schema = copy_str(&p, rec->schema, rec->schema_len);
    it->rec.table = copy_str(&p, rec->table, rec->table_len);
    it->rec.prefix = copy_str(&p, rec->prefix, rec->prefix_len);
    it->rec.content = copy_str(&p, rec->content, rec->content_len);
    b->used += need;
    return 1;
}

int
batch_add_idle(struct batch *b, lsn_t pos)
{
    struct item *it;

    if (b->nitems == b->cap_items)
        return 0;
    it = &b->items[b->nitems++];
    memset(it, 0, sizeof(*it));
    it->kind = ITEM_IDLE;
    it->pos = pos;
    return 1;
}
