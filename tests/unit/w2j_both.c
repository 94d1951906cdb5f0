/*
 * w2j_both.c - a message parsed both ways, and the outcomes compared.
 */
#include "tests/unit/w2j_both.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void
describe_string(FILE *f, const char *what, const char *s, size_t len)
{
    fprintf(f, "%s=", what);
    if (s == NULL)
        fprintf(f, "NULL(%zu) ", len);
    else
    {
        fprintf(f, "%zu:", len);
        fwrite(s, 1, len, f);
        fprintf(f, "|%d ", s[len]); /* its NUL */
    }
}

static void
describe_columns(FILE *f, const struct w2j_column *c, uint32_t n)
{
    uint32_t i;

    for (i = 0; i < n; i++)
    {
        describe_string(f, "name", c[i].name, c[i].name_len);
        describe_string(f, "type", c[i].type, c[i].type_len);
        fprintf(f, "oid=%u kind=%d ", c[i].typeoid, (int) c[i].value.kind);
        describe_string(f, "value", c[i].value.text, c[i].value.len);
    }
}

char *
w2j_describe(bool good, const struct w2j_record *r, const struct w2j_error *e)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);

    if (f == NULL)
        return NULL;
    if (!good)
        fprintf(f, "failed at %zu: %s", e->offset, e->message);
    else
    {
        fprintf(f, "%c present=%x xid=%u lsn=%llx next=%llx tx=%d ", (char) r->action, r->present,
                r->xid, (unsigned long long) r->lsn, (unsigned long long) r->nextlsn,
                (int) r->transactional);
        describe_string(f, "ts", r->timestamp, r->timestamp_len);
        describe_string(f, "schema", r->schema, r->schema_len);
        describe_string(f, "table", r->table, r->table_len);
        describe_string(f, "prefix", r->prefix, r->prefix_len);
        describe_string(f, "content", r->content, r->content_len);
        fprintf(f, "columns=%u ", r->ncolumns);
        describe_columns(f, r->columns, r->ncolumns);
        fprintf(f, "identity=%u ", r->nidentity);
        describe_columns(f, r->identity, r->nidentity);
    }
    if (fclose(f) != 0)
    {
        free(text);
        return NULL;
    }
    return text;
}

/* A copy of the LEN bytes at JSON, exactly sized, in *SLOT (freed first). */
static char *
exact_copy(char **slot, const char *json, size_t len)
{
    free(*slot);
    *slot = malloc(len ? len : 1);
    if (*slot == NULL)
        abort();
    memcpy(*slot, json, len);
    return *slot;
}

char *
w2j_both(struct w2j_both *b, const char *json, size_t len)
{
    char *place, *arena, *diff = NULL;

    memset(&b->place_err, 0, sizeof(b->place_err));
    memset(&b->arena_err, 0, sizeof(b->arena_err));
    b->place_good = w2j_parse_in_place(b->place, exact_copy(&b->place_buf, json, len), len,
                                       &b->place_rec, &b->place_err);
    place = w2j_describe(b->place_good, &b->place_rec, &b->place_err);
    b->arena_good = w2j_parse(b->arena, exact_copy(&b->arena_buf, json, len), len, &b->arena_rec,
                              &b->arena_err);
    arena = w2j_describe(b->arena_good, &b->arena_rec, &b->arena_err);
    if (place == NULL || arena == NULL)
        abort();
    if (strcmp(place, arena) != 0 &&
        asprintf(&diff, "in place: %s\nin the arena: %s", place, arena) < 0)
        abort();
    free(place);
    free(arena);
    return diff;
}

void
w2j_both_free(struct w2j_both *b)
{
    free(b->place_buf);
    free(b->arena_buf);
    b->place_buf = b->arena_buf = NULL;
}
