/*
 * fuzz_w2j.c - libFuzzer target for the wal2json decoder.
 *
 * Each input is one message. It is parsed by a parser with default limits
 * and by one with tight limits (so that the limit paths run too); both are
 * reused across inputs, as the reader thread reuses its parser. On success
 * the record must be self-consistent and render (text and JSON) without
 * trouble; on failure the error must point inside the input, be one line, and
 * never be an "internal error" (the arena bound of w2j.c failing). Each input
 * is also parsed in place (w2j_parse_in_place, on an exactly sized copy, by a
 * parser with the same limits), which must give the same record or the same
 * error at the same byte. Any crash, read out of bounds, leak or undefined
 * behaviour is found by the sanitizers.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bridge/cmd/render.h"
#include "decoder/w2j.h"
#include "tests/unit/w2j_both.h"

static struct w2j_parser wide, tight, wide_place, tight_place;
static struct w2j_both wide2 = {.arena = &wide, .place = &wide_place};
static struct w2j_both tight2 = {.arena = &tight, .place = &tight_place};
static FILE *devnull;

static void
check_string(const char *s, size_t len)
{
    if (s != NULL && strlen(s) != len)
        abort(); /* a string's length disagrees with its NUL */
}

static void
check_columns(const struct w2j_column *cols, uint32_t n)
{
    uint32_t i;

    if (n > 0 && cols == NULL)
        abort();
    for (i = 0; i < n; i++)
    {
        check_string(cols[i].name, cols[i].name_len);
        check_string(cols[i].type, cols[i].type_len);
        check_string(cols[i].value.text, cols[i].value.len);
        if ((cols[i].value.text == NULL) != (cols[i].value.kind == W2J_KIND_NULL))
            abort();
        if (cols[i].typeoid == 17 && cols[i].value.kind == W2J_KIND_STRING &&
            strncmp(cols[i].value.text, "\\x", 2) != 0)
            abort(); /* bytea without its prefix */
    }
}

static void
one(struct w2j_both *b, const uint8_t *data, size_t size)
{
    const struct w2j_record *r = &b->arena_rec;
    const struct w2j_error *err = &b->arena_err;

    if (w2j_both(b, (const char *) data, size) != NULL)
        abort(); /* in place and in the arena differ */
    if (!b->arena_good)
    {
        if (err->offset > size || err->message[0] == '\0' ||
            strncmp(err->message, "internal error", 14) == 0 || strchr(err->message, '\n') != NULL)
            abort(); /* past the input, empty, the arena bound broken, or not one line */
        return;
    }
    if (strchr("BCIUDTM", (int) r->action) == NULL)
        abort();
    check_string(r->timestamp, r->timestamp_len);
    check_string(r->schema, r->schema_len);
    check_string(r->table, r->table_len);
    check_string(r->prefix, r->prefix_len);
    check_string(r->content, r->content_len);
    check_columns(r->columns, r->ncolumns);
    check_columns(r->identity, r->nidentity);
    render_text(devnull, r, RENDER_TYPES);
    render_json(devnull, r);
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    struct w2j_limits lim = {.max_message = 4096, .max_columns = 4, .max_depth = 3};

    (void) argc;
    (void) argv;
    w2j_parser_init(&wide, NULL, NULL);
    w2j_parser_init(&tight, &lim, NULL);
    w2j_parser_init(&wide_place, NULL, NULL);
    w2j_parser_init(&tight_place, &lim, NULL);
    devnull = fopen("/dev/null", "w");
    return devnull == NULL;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    one(&wide2, data, size);
    one(&tight2, data, size);
    return 0;
}
