/*
 * test_render.c - the text and JSON forms that "decode" prints.
 */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "bridge/cmd/render.h"

/* Capture what FN writes into a string (owned by the caller). */
#define CAPTURE(out, call)                                                                         \
    do                                                                                             \
    {                                                                                              \
        size_t cap_len_;                                                                           \
        FILE *f = open_memstream(&(out), &cap_len_);                                               \
        cr_assert_not_null(f);                                                                     \
        call;                                                                                      \
        fclose(f);                                                                                 \
    } while (0)

static char *
literal(const char *s)
{
    char *out = NULL;

    CAPTURE(out, render_literal(f, s, strlen(s)));
    return out;
}

static char *
ident(const char *s)
{
    char *out = NULL;

    CAPTURE(out, render_ident(f, s, strlen(s)));
    return out;
}

static void
expect(char *got, const char *want)
{
    cr_assert_str_eq(got, want, "expected [%s], got [%s]", want, got);
    free(got);
}

Test(render, literal_doubles_single_quotes)
{
    expect(literal("it's"), "'it''s'");
    expect(literal(""), "''");
    expect(literal("'agent':24 'dark':3"), "'''agent'':24 ''dark'':3'");
}

Test(render, literal_uses_e_string_for_backslash_and_control_characters)
{
    expect(literal("a\\b"), "E'a\\\\b'");
    expect(literal("line1\nline2\t\r"), "E'line1\\nline2\\t\\r'");
    expect(literal("x\x01'"), "E'x\\x01'''");
}

Test(render, literal_keeps_utf8)
{
    expect(literal("\xc3\xa9 \xf0\x9f\x98\x80"), "'\xc3\xa9 \xf0\x9f\x98\x80'");
}

Test(render, ident_quotes_only_when_needed)
{
    expect(ident("memories"), "memories");
    expect(ident("user_id2"), "user_id2");
    expect(ident("Mixed"), "\"Mixed\"");
    expect(ident("has space"), "\"has space\"");
    expect(ident("1st"), "\"1st\"");
    expect(ident("q\"uote"), "\"q\"\"uote\"");
}

static struct w2j_column cols[2];
static struct w2j_record rec;

static void
make_update(void)
{
    memset(&rec, 0, sizeof(rec));
    memset(cols, 0, sizeof(cols));
    cols[0].name = "id";
    cols[0].name_len = 2;
    cols[0].type = "integer";
    cols[0].type_len = 7;
    cols[0].typeoid = 23;
    cols[0].value = (struct w2j_value){"10", 2, W2J_KIND_NUMBER};
    cols[1].name = "content";
    cols[1].name_len = 7;
    cols[1].type = "text";
    cols[1].type_len = 4;
    cols[1].typeoid = 25;
    cols[1].value = (struct w2j_value){"it's\n", 5, W2J_KIND_STRING};
    rec.action = W2J_UPDATE;
    rec.present =
        W2J_HAS_XID | W2J_HAS_LSN | W2J_HAS_COLUMNS | W2J_HAS_IDENTITY | W2J_HAS_TIMESTAMP;
    rec.xid = 730;
    rec.lsn = 0x1545290;
    rec.timestamp = "2026-11-25 04:15:52+00";
    rec.timestamp_len = strlen(rec.timestamp);
    rec.schema = "memori";
    rec.schema_len = 6;
    rec.table = "memories";
    rec.table_len = 8;
    rec.columns = cols;
    rec.ncolumns = 2;
    rec.identity = cols;
    rec.nidentity = 1;
}

Test(render, text_form_of_an_update)
{
    char *out = NULL;

    make_update();
    CAPTURE(out, render_text(f, &rec, 0));
    expect(out, "UPDATE memori.memories xid=730 lsn=0/1545290 key(id=10) "
                "new(id=10, content=E'it''s\\n')\n");
}

Test(render, text_form_with_types)
{
    char *out = NULL;

    make_update();
    CAPTURE(out, render_text(f, &rec, RENDER_TYPES));
    expect(out, "UPDATE memori.memories xid=730 lsn=0/1545290 key(id::integer=10) "
                "new(id::integer=10, content::text=E'it''s\\n')\n");
}

Test(render, text_form_of_null_and_commit)
{
    char *out = NULL;

    make_update();
    cols[1].value = (struct w2j_value){NULL, 0, W2J_KIND_NULL};
    rec.action = W2J_INSERT;
    rec.present &= ~W2J_HAS_IDENTITY;
    CAPTURE(out, render_text(f, &rec, 0));
    expect(out, "INSERT memori.memories xid=730 lsn=0/1545290 new(id=10, content=NULL)\n");

    memset(&rec, 0, sizeof(rec));
    rec.action = W2J_COMMIT;
    rec.present = W2J_HAS_XID | W2J_HAS_LSN | W2J_HAS_NEXTLSN | W2J_HAS_TIMESTAMP;
    rec.xid = 9;
    rec.lsn = 0x10;
    rec.nextlsn = 0x1000000020ull;
    rec.timestamp = "2026-11-25 04:15:52+00";
    rec.timestamp_len = strlen(rec.timestamp);
    CAPTURE(out, render_text(f, &rec, 0));
    expect(out, "COMMIT xid=9 lsn=0/10 nextlsn=10/20 time='2026-11-25 04:15:52+00'\n");
}

Test(render, json_form_gives_every_value_as_text)
{
    char *out = NULL;

    make_update();
    CAPTURE(out, render_json(f, &rec));
    expect(out, "{\"action\":\"U\",\"xid\":730,\"lsn\":\"0/1545290\","
                "\"timestamp\":\"2026-11-25 04:15:52+00\",\"schema\":\"memori\","
                "\"table\":\"memories\",\"columns\":[{\"name\":\"id\",\"type\":\"integer\","
                "\"typeoid\":23,\"value\":\"10\"},{\"name\":\"content\",\"type\":\"text\","
                "\"typeoid\":25,\"value\":\"it's\\n\"}],\"identity\":[{\"name\":\"id\","
                "\"type\":\"integer\",\"typeoid\":23,\"value\":\"10\"}]}\n");
}

Test(render, json_form_of_a_non_transactional_message)
{
    char *out = NULL;

    memset(&rec, 0, sizeof(rec));
    rec.action = W2J_MESSAGE;
    rec.present = W2J_HAS_LSN;
    rec.lsn = 0x20;
    rec.prefix = "p";
    rec.prefix_len = 1;
    rec.content = "c\"\x01";
    rec.content_len = 3;
    CAPTURE(out, render_json(f, &rec));
    expect(out, "{\"action\":\"M\",\"xid\":null,\"lsn\":\"0/20\",\"timestamp\":null,"
                "\"transactional\":false,\"prefix\":\"p\",\"content\":\"c\\\"\\u0001\"}\n");
}
