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

static void
release_held(struct batch *b)
{
    if (b->held != NULL)
        b->held_free(b->held);
    b->held = NULL;
    b->held_free = NULL;
}

void
batch_free(struct batch *b)
{
    release_held(b);
    free(b->items);
    free(b->arena);
    memset(b, 0, sizeof(*b));
}

void
batch_reset(struct batch *b)
{
    b->nitems = 0;
    b->used = 0;
    release_held(b);
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

/* Bytes of REC's column array. */
static size_t
columns_size(const struct w2j_record *r)
{
    return ALIGN8(((size_t) r->ncolumns + r->nidentity) * sizeof(struct w2j_column));
}

size_t
batch_record_bytes(const struct w2j_record *r)
{
    size_t n = columns_size(r);

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

/* Room for NEED more bytes in B's arena, which only an empty batch grows to
 * (it then carries one record alone). Returns 1, 0 when B is full, -1 when
 * out of memory (logged). */
static int
make_room(struct batch *b, size_t need)
{
    char *bigger;

    if (b->nitems == b->cap_items)
        return 0;
    if (b->used + need <= b->size)
        return 1;
    if (b->nitems > 0)
        return 0;
    bigger = malloc(need);
    if (bigger == NULL)
    {
        log_error("out of memory for a message of %zu bytes", need);
        return -1;
    }
    free(b->arena);
    b->arena = bigger;
    b->size = need;
    return 1;
}

/* A new item for REC at POS, its columns copied into the arena: their
 * strings too when COPY_STRINGS, else they keep pointing where REC's do.
 * Returns where the record's other strings may be copied to. */
static char *
new_item(struct batch *b, const struct w2j_record *rec, lsn_t pos, uint32_t bytes,
         bool copy_strings)
{
    struct item *it = &b->items[b->nitems++];
    struct w2j_column *cols = (struct w2j_column *) (b->arena + b->used);
    char *p = (char *) cols + columns_size(rec);

    it->kind = ITEM_RECORD;
    it->pos = pos;
    it->bytes = bytes;
    it->rec = *rec;
    if (copy_strings)
    {
        copy_columns(cols, rec->columns, rec->ncolumns, &p);
        copy_columns(cols + rec->ncolumns, rec->identity, rec->nidentity, &p);
    }
    else
    {
        if (rec->ncolumns > 0)
            memcpy(cols, rec->columns, rec->ncolumns * sizeof(*cols));
        if (rec->nidentity > 0)
            memcpy(cols + rec->ncolumns, rec->identity, rec->nidentity * sizeof(*cols));
    }
    it->rec.columns = rec->ncolumns ? cols : NULL;
    it->rec.identity = rec->nidentity ? cols + rec->ncolumns : NULL;
    return p;
}

int
batch_hold_record(struct batch *b, const struct w2j_record *rec, lsn_t pos, uint32_t bytes,
                  void *msg, void (*free_fn)(void *))
{
    size_t need = columns_size(rec);
    int room;

    if (b->nitems > 0)
        return 0;
    if ((room = make_room(b, need)) <= 0)
        return room;
    new_item(b, rec, pos, bytes, false);
    b->used += need;
    b->held = msg;
    b->held_free = free_fn;
    return 1;
}

int
batch_add_record(struct batch *b, const struct w2j_record *rec, lsn_t pos, uint32_t bytes)
{
    size_t need = batch_record_bytes(rec);
    struct item *it;
    char *p;
    int room;

    if ((room = make_room(b, need)) <= 0)
        return room;
    p = new_item(b, rec, pos, bytes, true);
    it = &b->items[b->nitems - 1];
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
