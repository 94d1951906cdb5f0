/*
 * test_w2j.c - the wal2json format-version 2 decoder, message by message.
 *
 * Every input is copied into a heap buffer of exactly its length, so that
 * AddressSanitizer (the sanitized build runs these tests too) catches any read
 * past the message. Every input is also parsed in place (w2j_parse_in_place,
 * on another copy) first: it must give the same record, or fail with the same
 * error at the same byte, as w2j_parse does, which every test then checks.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "decoder/w2j.h"
#include "tests/unit/w2j_both.h"

static struct w2j_parser parser;
static struct w2j_both both = {.arena = &parser, .place = &parser};
static struct w2j_record rec; /* the last record, from the arena */
static struct w2j_error err;  /* the last failure, from the arena */

static void
setup(void)
{
    w2j_parser_init(&parser, NULL, NULL);
}

static void
teardown(void)
{
    w2j_parser_free(&parser);
    w2j_both_free(&both);
}

TestSuite(w2j, .init = setup, .fini = teardown);

static bool
parse_len(const char *json, size_t len)
{
    char *diff = w2j_both(&both, json, len);

    cr_assert_null(diff, "in place and in the arena differ for %.*s:\n%s",
                   (int) (len < 300 ? len : 300), json, diff);
    rec = both.arena_rec;
    err = both.arena_err;
    return both.arena_good;
}

static bool
parse(const char *json)
{
    return parse_len(json, strlen(json));
}

/* Parse JSON, which must succeed. */
static void
ok(const char *json)
{
    bool good = parse(json);

    cr_assert(good, "expected success for %s\nbut got: byte %zu: %s", json, err.offset,
              err.message);
}

/* Parse JSON, which must fail with a message containing WHAT at byte AT. */
static void
bad(const char *json, const char *what, size_t at)
{
    bool good = parse(json);

    cr_assert(!good, "expected failure \"%s\" for %s", what, json);
    cr_assert(strstr(err.message, what) != NULL, "expected \"%s\" in \"%s\"", what, err.message);
    cr_assert_eq(err.offset, at, "offset: expected %zu, got %zu (%s)", at, err.offset, err.message);
}

/* Offset of the first MARKER in JSON (plus K): where an error should point. */
static size_t
at(const char *json, const char *marker, size_t k)
{
    const char *m = strstr(json, marker);

    cr_assert_not_null(m, "marker [%s] not in %s", marker, json);
    return (size_t) (m - json) + k;
}

/* Offset of the last byte (the closing brace, where missing fields are reported). */
static size_t
last(const char *json)
{
    return strlen(json) - 1;
}

static const struct w2j_column *
column(const struct w2j_column *cols, uint32_t n, const char *name)
{
    uint32_t i;

    for (i = 0; i < n; i++)
        if (strcmp(cols[i].name, name) == 0)
            return &cols[i];
    return NULL;
}

static void
expect_value(const struct w2j_column *col, const char *text, enum w2j_kind kind)
{
    cr_assert_not_null(col);
    cr_assert_eq(col->value.kind, kind, "column %s: kind %d, expected %d", col->name,
                 col->value.kind, kind);
    if (text == NULL)
    {
        cr_assert_null(col->value.text, "column %s: expected NULL, got \"%s\"", col->name,
                       col->value.text);
        return;
    }
    cr_assert_not_null(col->value.text, "column %s: expected \"%s\", got NULL", col->name, text);
    cr_assert_str_eq(col->value.text, text, "column %s: expected \"%s\", got \"%s\"", col->name,
                     text, col->value.text);
    cr_assert_eq(col->value.len, strlen(text), "column %s: len %zu, expected %zu", col->name,
                 col->value.len, strlen(text));
}

/* Real wal2json 2.5 output (PostgreSQL 15), one message per action. */
#define BEGIN_MSG                                                                                  \
    "{\"action\":\"B\",\"xid\":727,\"timestamp\":\"2026-11-25 04:15:52.520718+00\","               \
    "\"lsn\":\"0/1545100\",\"nextlsn\":\"0/1545130\"}"
#define COMMIT_MSG                                                                                 \
    "{\"action\":\"C\",\"xid\":727,\"timestamp\":\"2026-11-25 04:15:52.520718+00\","               \
    "\"lsn\":\"0/1545100\",\"nextlsn\":\"0/1545130\"}"
#define INSERT_MSG                                                                                 \
    "{\"action\":\"I\",\"xid\":727,\"timestamp\":\"2026-11-25 04:15:52.520718+00\","               \
    "\"lsn\":\"0/1544F88\",\"schema\":\"m\",\"table\":\"t\",\"columns\":["                         \
    "{\"name\":\"id\",\"type\":\"integer\",\"typeoid\":23,\"value\":1},"                           \
    "{\"name\":\"b\",\"type\":\"bytea\",\"typeoid\":17,\"value\":\"0102ff\"},"                     \
    "{\"name\":\"n\",\"type\":\"numeric\",\"typeoid\":1700,\"value\":null},"                       \
    "{\"name\":\"f\",\"type\":\"double precision\",\"typeoid\":701,\"value\":1.50},"               \
    "{\"name\":\"a\",\"type\":\"integer[]\",\"typeoid\":1007,\"value\":\"{1,2,NULL}\"},"           \
    "{\"name\":\"j\",\"type\":\"jsonb\",\"typeoid\":3802,\"value\":\"{\\\"a\\\": "                 \
    "\\\"q\\\\\\\"x\\\"}\"},"                                                                      \
    "{\"name\":\"bo\",\"type\":\"boolean\",\"typeoid\":16,\"value\":true},"                        \
    "{\"name\":\"tx\",\"type\":\"text\",\"typeoid\":25,\"value\":\"q'\\\"\\\\ \\n \xc3\xa9 "       \
    "\xf0\x9f\x98\x80 \xe4\xb8\xad\"},"                                                            \
    "{\"name\":\"tv\",\"type\":\"tsvector\",\"typeoid\":3614,\"value\":\"'agent':24 'dark':3\"},"  \
    "{\"name\":\"e\",\"type\":\"text\",\"typeoid\":25,\"value\":\"\"}]}"
#define UPDATE_MSG                                                                                 \
    "{\"action\":\"U\",\"xid\":730,\"timestamp\":\"2026-11-25 04:15:52.522797+00\","               \
    "\"lsn\":\"0/1545290\",\"schema\":\"m\",\"table\":\"t\",\"columns\":["                         \
    "{\"name\":\"id\",\"type\":\"integer\",\"typeoid\":23,\"value\":10},"                          \
    "{\"name\":\"tx\",\"type\":\"text\",\"typeoid\":25,\"value\":\"z\"}],"                         \
    "\"identity\":[{\"name\":\"id\",\"type\":\"integer\",\"typeoid\":23,\"value\":2}]}"
#define DELETE_MSG                                                                                 \
    "{\"action\":\"D\",\"xid\":731,\"timestamp\":\"2026-11-25 04:15:52.523237+00\","               \
    "\"lsn\":\"0/1545378\",\"schema\":\"m\",\"table\":\"t\","                                      \
    "\"identity\":[{\"name\":\"id\",\"type\":\"integer\",\"typeoid\":23,\"value\":10}]}"
#define TRUNCATE_MSG                                                                               \
    "{\"action\":\"T\",\"xid\":735,\"timestamp\":\"2026-11-25 04:15:52.527869+00\","               \
    "\"lsn\":\"0/15468D8\",\"schema\":\"m\",\"table\":\"nopk\"}"
#define MESSAGE_TX                                                                                 \
    "{\"action\":\"M\",\"xid\":736,\"timestamp\":\"2026-11-25 04:15:52.530435+00\","               \
    "\"lsn\":\"0/1546B88\",\"transactional\":true,\"prefix\":\"pfx\","                             \
    "\"content\":\"hello \\\"x\\\"\"}"
#define MESSAGE_NONTX                                                                              \
    "{\"action\":\"M\",\"xid\":null,\"timestamp\":null,\"lsn\":\"0/1546BF8\","                     \
    "\"transactional\":false,\"prefix\":\"pfx2\",\"content\":\"nontx\"}"

Test(w2j, decodes_begin_with_xid_lsns_and_time)
{
    ok(BEGIN_MSG);
    cr_assert_eq(rec.action, W2J_BEGIN);
    cr_assert_eq(rec.present & (W2J_HAS_XID | W2J_HAS_LSN | W2J_HAS_NEXTLSN | W2J_HAS_TIMESTAMP),
                 W2J_HAS_XID | W2J_HAS_LSN | W2J_HAS_NEXTLSN | W2J_HAS_TIMESTAMP);
    cr_assert_eq(rec.xid, 727u, "xid %u", rec.xid);
    cr_assert_eq(rec.lsn, 0x1545100ull, "lsn %llx", (unsigned long long) rec.lsn);
    cr_assert_eq(rec.nextlsn, 0x1545130ull, "nextlsn %llx", (unsigned long long) rec.nextlsn);
    cr_assert_str_eq(rec.timestamp, "2026-11-25 04:15:52.520718+00");
    cr_assert_null(rec.schema);
    cr_assert_eq(rec.ncolumns, 0u);
}

Test(w2j, decodes_commit_with_nextlsn_for_progress)
{
    ok(COMMIT_MSG);
    cr_assert_eq(rec.action, W2J_COMMIT);
    cr_assert_eq(rec.nextlsn, 0x1545130ull);
    cr_assert_eq(rec.lsn, 0x1545100ull);
}

Test(w2j, decodes_insert_values_as_postgresql_text)
{
    ok(INSERT_MSG);
    cr_assert_eq(rec.action, W2J_INSERT);
    cr_assert_str_eq(rec.schema, "m");
    cr_assert_str_eq(rec.table, "t");
    cr_assert_eq(rec.schema_len, 1u);
    cr_assert_eq(rec.ncolumns, 10u, "ncolumns %u", rec.ncolumns);
    cr_assert_eq(rec.present & W2J_HAS_IDENTITY, 0u);
    cr_assert_null(rec.identity);
    expect_value(column(rec.columns, rec.ncolumns, "id"), "1", W2J_KIND_NUMBER);
    expect_value(column(rec.columns, rec.ncolumns, "b"), "\\x0102ff", W2J_KIND_STRING);
    expect_value(column(rec.columns, rec.ncolumns, "n"), NULL, W2J_KIND_NULL);
    expect_value(column(rec.columns, rec.ncolumns, "f"), "1.50", W2J_KIND_NUMBER);
    expect_value(column(rec.columns, rec.ncolumns, "a"), "{1,2,NULL}", W2J_KIND_STRING);
    expect_value(column(rec.columns, rec.ncolumns, "j"), "{\"a\": \"q\\\"x\"}", W2J_KIND_STRING);
    expect_value(column(rec.columns, rec.ncolumns, "bo"), "true", W2J_KIND_BOOL);
    expect_value(column(rec.columns, rec.ncolumns, "tx"),
                 "q'\"\\ \n \xc3\xa9 \xf0\x9f\x98\x80 \xe4\xb8\xad", W2J_KIND_STRING);
    expect_value(column(rec.columns, rec.ncolumns, "tv"), "'agent':24 'dark':3", W2J_KIND_STRING);
    expect_value(column(rec.columns, rec.ncolumns, "e"), "", W2J_KIND_STRING);
    cr_assert_str_eq(rec.columns[0].type, "integer");
    cr_assert_eq(rec.columns[0].typeoid, 23u);
    cr_assert_str_eq(rec.columns[3].type, "double precision");
}

Test(w2j, decodes_column_positions_as_attnums)
{
    /* include-column-positions: each column's attnum when the change was
     * written; a dropped column leaves a hole, and identity has none */
    ok("{\"action\":\"U\",\"xid\":7,\"schema\":\"m\",\"table\":\"t\",\"columns\":["
       "{\"name\":\"id\",\"type\":\"integer\",\"typeoid\":23,\"value\":1,\"position\":1},"
       "{\"name\":\"b\",\"type\":\"text\",\"typeoid\":25,\"value\":\"x\",\"position\":3}],"
       "\"identity\":[{\"name\":\"id\",\"type\":\"integer\",\"typeoid\":23,\"value\":1}]}");
    cr_assert_eq(rec.columns[0].position, 1u, "position %u", rec.columns[0].position);
    cr_assert_eq(rec.columns[1].position, 3u, "position %u", rec.columns[1].position);
    cr_assert_eq(rec.identity[0].position, 0u, "position %u", rec.identity[0].position);
}

Test(w2j, rejects_a_position_that_is_no_attnum)
{
    const char *zero = "{\"action\":\"I\",\"xid\":7,\"schema\":\"m\",\"table\":\"t\","
                       "\"columns\":[{\"name\":\"id\",\"value\":1,\"position\":0}]}";
    const char *twice = "{\"action\":\"I\",\"xid\":7,\"schema\":\"m\",\"table\":\"t\","
                        "\"columns\":[{\"name\":\"id\",\"value\":1,\"position\":1,"
                        "\"position\":1}]}";

    bad(zero, "not an attribute number", at(zero, "\"position\"", 0));
    bad(twice, "duplicate field \"position\"", at(twice, "\"position\":1}", 0));
}

Test(w2j, empty_string_is_not_null)
{
    ok(INSERT_MSG);
    const struct w2j_column *e = column(rec.columns, rec.ncolumns, "e");
    const struct w2j_column *n = column(rec.columns, rec.ncolumns, "n");

    cr_assert_not_null(e->value.text);
    cr_assert_eq(e->value.len, 0u);
    cr_assert_null(n->value.text);
}

Test(w2j, decodes_update_with_old_key_in_identity)
{
    ok(UPDATE_MSG);
    cr_assert_eq(rec.action, W2J_UPDATE);
    cr_assert_eq(rec.ncolumns, 2u);
    cr_assert_eq(rec.nidentity, 1u);
    expect_value(&rec.columns[0], "10", W2J_KIND_NUMBER);
    expect_value(&rec.identity[0], "2", W2J_KIND_NUMBER);
    cr_assert_str_eq(rec.identity[0].name, "id");
}

Test(w2j, update_without_unchanged_toast_column_reports_it_absent)
{
    /* wal2json leaves out a TOASTed column that did not change */
    ok(UPDATE_MSG);
    cr_assert_null(column(rec.columns, rec.ncolumns, "content"));
    cr_assert_not_null(column(rec.columns, rec.ncolumns, "tx"));
}

Test(w2j, decodes_delete_by_identity)
{
    ok(DELETE_MSG);
    cr_assert_eq(rec.action, W2J_DELETE);
    cr_assert_eq(rec.present & W2J_HAS_COLUMNS, 0u);
    cr_assert_eq(rec.nidentity, 1u);
    expect_value(&rec.identity[0], "10", W2J_KIND_NUMBER);
}

Test(w2j, decodes_truncate)
{
    ok(TRUNCATE_MSG);
    cr_assert_eq(rec.action, W2J_TRUNCATE);
    cr_assert_str_eq(rec.table, "nopk");
    cr_assert_eq(rec.lsn, 0x15468D8ull);
}

Test(w2j, decodes_transactional_message)
{
    ok(MESSAGE_TX);
    cr_assert_eq(rec.action, W2J_MESSAGE);
    cr_assert(rec.transactional);
    cr_assert_eq(rec.xid, 736u);
    cr_assert_str_eq(rec.prefix, "pfx");
    cr_assert_str_eq(rec.content, "hello \"x\"");
    cr_assert_eq(rec.content_len, 9u);
}

Test(w2j, non_transactional_message_has_null_xid_and_time)
{
    ok(MESSAGE_NONTX);
    cr_assert_eq(rec.action, W2J_MESSAGE);
    cr_assert_not(rec.transactional);
    cr_assert_eq(rec.present & (W2J_HAS_XID | W2J_HAS_TIMESTAMP), 0u);
    cr_assert_null(rec.timestamp);
    cr_assert_eq(rec.lsn, 0x1546BF8ull);
    cr_assert_str_eq(rec.prefix, "pfx2");
}

Test(w2j, numbers_keep_their_exact_text)
{
    static const char *const numbers[] = {
        "0",      "-0",      "1.50", "12345678901234567890.000001",           "1e-7",
        "1E+300", "-2.5e10", "0.1",  "99999999999999999999999999999999999999"};
    size_t i;

    for (i = 0; i < sizeof(numbers) / sizeof(numbers[0]); i++)
    {
        char msg[512];

        snprintf(msg, sizeof(msg),
                 "{\"action\":\"I\",\"schema\":\"s\",\"table\":\"t\",\"columns\":"
                 "[{\"name\":\"n\",\"type\":\"numeric\",\"value\":%s}]}",
                 numbers[i]);
        ok(msg);
        expect_value(&rec.columns[0], numbers[i], W2J_KIND_NUMBER);
    }
}

Test(w2j, bytea_gets_its_hex_prefix_back_by_oid_or_type_name)
{
    ok("{\"action\":\"I\",\"schema\":\"s\",\"table\":\"t\",\"columns\":["
       "{\"name\":\"a\",\"type\":\"bytea\",\"value\":\"00ff\"},"
       "{\"name\":\"b\",\"typeoid\":17,\"value\":\"\"},"
       "{\"name\":\"c\",\"type\":\"bytea[]\",\"typeoid\":1001,\"value\":\"{\\\"\\\\\\\\x01\\\"}\"},"
       "{\"name\":\"d\",\"type\":\"text\",\"typeoid\":25,\"value\":\"00ff\"}]}");
    expect_value(&rec.columns[0], "\\x00ff", W2J_KIND_STRING);
    expect_value(&rec.columns[1], "\\x", W2J_KIND_STRING);
    expect_value(&rec.columns[2], "{\"\\\\x01\"}", W2J_KIND_STRING);
    expect_value(&rec.columns[3], "00ff", W2J_KIND_STRING);
}

Test(w2j, bytea_already_prefixed_is_kept)
{
    /* what "decode --json" writes decodes to the same text again */
    ok("{\"action\":\"I\",\"schema\":\"s\",\"table\":\"t\",\"columns\":["
       "{\"name\":\"a\",\"type\":\"bytea\",\"typeoid\":17,\"value\":\"\\\\x00ff\"}]}");
    expect_value(&rec.columns[0], "\\x00ff", W2J_KIND_STRING);
}

Test(w2j, rejects_bytea_that_is_not_hex)
{
    /* bytea_output = escape on the walsender: wal2json cuts two bytes off
     * the escape form, which must not reach the target */
    const char *m1 = "{\"action\":\"I\",\"schema\":\"s\",\"table\":\"t\",\"columns\":["
                     "{\"name\":\"a\",\"type\":\"bytea\",\"typeoid\":17,\"value\":\"c\\\\000\"}]}";
    const char *m2 = "{\"action\":\"I\",\"schema\":\"s\",\"table\":\"t\",\"columns\":["
                     "{\"name\":\"a\",\"typeoid\":17,\"value\":\"abc\"}]}";

    bad(m1, "bytea column \"a\" is not hex: the stream needs bytea_output = hex", at(m1, "[{", 1));
    bad(m2, "bytea column \"a\" is not hex", at(m2, "[{", 1));
}

Test(w2j, unescapes_every_json_escape)
{
    ok("{\"action\":\"M\",\"xid\":1,\"transactional\":true,\"prefix\":\"p\","
       "\"content\":\"\\\"\\\\\\/\\b\\f\\n\\r\\t\\u0041\\u00e9\\u4e2d\"}");
    cr_assert_str_eq(rec.content, "\"\\/\b\f\n\r\tA\xc3\xa9\xe4\xb8\xad");
}

Test(w2j, joins_surrogate_pairs_into_utf8)
{
    ok("{\"action\":\"M\",\"xid\":1,\"transactional\":true,\"prefix\":\"p\","
       "\"content\":\"x\\ud83d\\ude00y\\uD834\\uDD1E\"}");
    cr_assert_str_eq(rec.content, "x\xf0\x9f\x98\x80y\xf0\x9d\x84\x9e");
    cr_assert_eq(rec.content_len, 10u);
}

/* A transactional message whose content is CONTENT (JSON-escaped text) must
 * fail with WHAT at the content's K-th byte. */
static void
bad_content(const char *content, const char *what, size_t k)
{
    char msg[256];

    snprintf(msg, sizeof(msg),
             "{\"action\":\"M\",\"xid\":1,\"transactional\":true,\"prefix\":\"p\","
             "\"content\":\"%s\"}",
             content);
    bad(msg, what, at(msg, "\"content\":\"", 11 + k));
}

Test(w2j, rejects_lone_high_surrogate)
{
    bad_content("ab\\ud83dx", "lone high surrogate \\uD83D", 2);
    bad_content("\\ud83d", "lone high surrogate", 0);
}

Test(w2j, rejects_lone_low_surrogate)
{
    bad_content("\\ude00", "lone low surrogate \\uDE00", 0);
}

Test(w2j, rejects_high_surrogate_followed_by_non_low)
{
    bad_content("\\ud83d\\u0041", "not followed by a low one", 0);
}

Test(w2j, rejects_nul_escape)
{
    bad_content("a\\u0000", "cannot hold NUL", 1);
}

Test(w2j, rejects_invalid_utf8)
{
    /* stray continuation, overlong, encoded surrogate, past U+10FFFF,
     * truncated sequence, and 0xF5 */
    bad_content("a\x80", "invalid UTF-8 byte 0x80", 1);
    bad_content("\xc0\xaf", "invalid UTF-8 byte 0xC0", 0);
    bad_content("\xe0\x80\xaf", "invalid UTF-8 byte 0xE0", 0);
    bad_content("\xed\xa0\x80", "invalid UTF-8 byte 0xED", 0);
    bad_content("\xf4\x90\x80\x80", "invalid UTF-8 byte 0xF4", 0);
    bad_content("\xe4\xb8", "invalid UTF-8 byte 0xE4", 0);
    bad_content("\xf5\x80\x80\x80", "invalid UTF-8 byte 0xF5", 0);
}

Test(w2j, rejects_bad_escape)
{
    bad_content("ab\\q", "invalid escape in string: \\ followed by 'q'", 2);
    bad_content("\\u12G4", "expected 4 hex digits", 0);
}

Test(w2j, rejects_raw_control_character)
{
    bad_content("a\tb", "unescaped control character 0x09", 1);
}

Test(w2j, rejects_every_truncation_of_a_valid_message)
{
    const char *const msgs[] = {BEGIN_MSG, INSERT_MSG, UPDATE_MSG, DELETE_MSG, MESSAGE_NONTX};
    size_t m, len;

    for (m = 0; m < sizeof(msgs) / sizeof(msgs[0]); m++)
    {
        size_t full = strlen(msgs[m]);

        for (len = 0; len < full; len++)
        {
            cr_assert_not(parse_len(msgs[m], len), "message %zu truncated to %zu bytes parsed", m,
                          len);
            cr_assert_leq(err.offset, len, "offset %zu past the %zu bytes", err.offset, len);
            cr_assert_gt(strlen(err.message), 0u);
        }
    }
}

Test(w2j, truncation_names_what_was_expected)
{
    bad("{\"action\":\"B\",\"xid\":1", "expected ',' or '}', found end of input", 21);
    bad("{\"action\":\"B\",\"xid", "unterminated string", 18);
    bad("", "expected '{' to open a message, found end of input", 0);
}

Test(w2j, error_messages_stay_on_one_line)
{
    bad("{\"action\":\"\\n\"}", "unknown action \"?\"", 1);
    bad("{\"action\":\"B\",\"lsn\":\"0/1\\nx\\\"\xc3\xa9\"}", "is not an LSN (X/X): \"0/1?x???\"",
        20);
}

Test(w2j, rejects_unknown_action)
{
    bad("{\"action\":\"X\"}", "unknown action \"X\"", 1);
    bad("{\"action\":\"BB\"}", "unknown action \"BB\"", 1);
}

Test(w2j, rejects_missing_required_field)
{
    const char *m1 = "{\"action\":\"I\",\"schema\":\"s\",\"columns\":[]}";
    const char *m2 = "{\"action\":\"D\",\"schema\":\"s\",\"table\":\"t\"}";
    const char *m3 = "{\"action\":\"U\",\"schema\":\"s\",\"table\":\"t\",\"columns\":[]}";
    const char *m4 = "{\"xid\":1}";
    const char *m5 = "{\"action\":\"M\",\"transactional\":true,\"prefix\":\"p\"}";
    const char *m6 =
        "{\"action\":\"I\",\"schema\":\"s\",\"table\":\"t\",\"columns\":[{\"value\":1}]}";
    const char *m7 =
        "{\"action\":\"I\",\"schema\":\"s\",\"table\":\"t\",\"columns\":[{\"name\":\"x\"}]}";

    /* a missing field is reported at the object's closing brace */
    bad(m1, "missing required field \"table\" for action I", last(m1));
    bad(m2, "missing required field \"identity\" for action D", last(m2));
    bad(m3, "missing required field \"identity\" for action U", last(m3));
    bad(m4, "missing required field \"action\"", last(m4));
    bad(m5, "missing required field \"content\" for action M", last(m5));
    /* a column's, at the column's opening brace */
    bad(m6, "column without a \"name\"", at(m6, "[{", 1));
    bad(m7, "column \"x\" without a \"value\"", at(m7, "[{", 1));
}

Test(w2j, rejects_duplicated_field)
{
    const char *m1 = "{\"action\":\"B\",\"xid\":1,\"xid\":2}";
    const char *m2 = "{\"action\":\"I\",\"schema\":\"s\",\"table\":\"t\",\"columns\":"
                     "[{\"name\":\"x\",\"value\":1,\"value\":2}]}";

    bad(m1, "duplicate field \"xid\"", at(m1, "\"xid\":2", 0));
    bad(m2, "duplicate field \"value\" in a column", at(m2, "\"value\":2", 0));
}

Test(w2j, rejects_field_that_does_not_belong_to_the_action)
{
    const char *m1 = "{\"action\":\"B\",\"columns\":[]}";
    const char *m2 = "{\"action\":\"I\",\"schema\":\"s\",\"table\":\"t\",\"columns\":[],"
                     "\"prefix\":\"p\"}";

    bad(m1, "field \"columns\" does not belong in action B", last(m1));
    bad(m2, "field \"prefix\" does not belong in action I", last(m2));
}

Test(w2j, rejects_wrong_json_type)
{
    static const struct
    {
        const char *json;
        const char *what;
        const char *marker; /* the error points at its first byte */
    } cases[] = {
        {"{\"action\":\"B\",\"xid\":\"1\"}",
         "field \"xid\" must be an unsigned integer, found a string", "\"1\""},
        {"{\"action\":\"B\",\"lsn\":1}", "field \"lsn\" must be a string, found a number", "1}"},
        {"{\"action\":\"B\",\"lsn\":\"zz\"}", "field \"lsn\" is not an LSN (X/X): \"zz\"", "\"zz"},
        {"{\"action\":\"I\",\"schema\":\"s\",\"table\":\"t\",\"columns\":{}}",
         "field \"columns\" must be an array, found an object", "{}"},
        {"{\"action\":\"I\",\"schema\":\"s\",\"table\":\"t\",\"columns\":"
         "[{\"name\":\"x\",\"value\":[1]}]}",
         "must be a string, number, boolean or null, found an array", "[1]"},
        {"{\"action\":\"M\",\"transactional\":1}", "field \"transactional\" must be a boolean",
         "1}"},
        {"{\"action\":\"B\",\"xid\":4294967296}", "out of range for a 32-bit unsigned integer",
         "4294967296"},
        {"{\"action\":\"I\",\"schema\":7}", "field \"schema\" must be a string, found a number",
         "7}"},
    };
    size_t i;

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        bad(cases[i].json, cases[i].what, at(cases[i].json, cases[i].marker, 0));
}

Test(w2j, rejects_null_xid_except_outside_transactions)
{
    const char *m1 = "{\"action\":\"B\",\"xid\":null}";
    const char *m2 = "{\"action\":\"C\",\"timestamp\":null}";
    const char *m3 = "{\"action\":\"M\",\"xid\":5,\"transactional\":false,\"prefix\":\"p\","
                     "\"content\":\"c\"}";
    const char *m4 = "{\"action\":\"M\",\"xid\":null,\"transactional\":true,\"prefix\":\"p\","
                     "\"content\":\"c\"}";

    bad(m1, "field \"xid\" is null in action B", last(m1));
    bad(m2, "field \"timestamp\" is null in action C", last(m2));
    bad(m3, "non-transactional message with an xid", last(m3));
    bad(m4, "field \"xid\" is null in action M", last(m4));
}

Test(w2j, rejects_invalid_numbers)
{
    bad("{\"action\":\"I\",\"schema\":\"s\",\"table\":\"t\",\"columns\":[{\"name\":\"x\",\"value\":"
        "01}]}",
        "expected ',' or '}' in a column", 71);
    bad("{\"action\":\"I\",\"schema\":\"s\",\"table\":\"t\",\"columns\":[{\"name\":\"x\",\"value\":"
        "1.}]}",
        "expected a digit after '.'", 72);
    bad("{\"action\":\"I\",\"schema\":\"s\",\"table\":\"t\",\"columns\":[{\"name\":\"x\",\"value\":"
        "-}]}",
        "expected a digit", 71);
    bad("{\"action\":\"I\",\"schema\":\"s\",\"table\":\"t\",\"columns\":[{\"name\":\"x\",\"value\":"
        "1e}]}",
        "expected a digit in the exponent", 72);
}

Test(w2j, rejects_trailing_bytes)
{
    bad(BEGIN_MSG "x", "trailing bytes after the message", strlen(BEGIN_MSG));
    bad(BEGIN_MSG "{}", "trailing bytes after the message", strlen(BEGIN_MSG));
    ok(BEGIN_MSG " \r\n");
}

Test(w2j, skips_unknown_fields_of_any_shape)
{
    ok("{\"action\":\"B\",\"origin\":{\"a\":[1,2,{\"b\":null}],\"c\":\"\\u00e9\"},\"xid\":3,"
       "\"future\":[true,false,-1.5e3]}");
    cr_assert_eq(rec.xid, 3u);
    ok("{\"action\":\"I\",\"schema\":\"s\",\"table\":\"t\",\"columns\":[{\"name\":\"x\","
       "\"position\":1,\"optional\":true,\"default\":\"nextval('s')\",\"value\":7}]}");
    expect_value(&rec.columns[0], "7", W2J_KIND_NUMBER);
}

Test(w2j, rejects_nesting_beyond_the_limit)
{
    char msg[256];
    int depth;

    for (depth = 31; depth <= 33; depth++)
    {
        int n = snprintf(msg, sizeof(msg), "{\"action\":\"B\",\"x\":");

        memset(msg + n, '[', (size_t) depth);
        memset(msg + n + depth, ']', (size_t) depth);
        msg[n + 2 * depth] = '}';
        msg[n + 2 * depth + 1] = '\0';
        if (depth <= 32)
            ok(msg);
        else
            bad(msg, "nesting deeper than 32 levels", (size_t) n + 32);
    }
}

Test(w2j, rejects_more_columns_than_the_limit)
{
    struct w2j_limits lim = {.max_message = 1 << 20, .max_columns = 3, .max_depth = 8};
    const char *msg = "{\"action\":\"I\",\"schema\":\"s\",\"table\":\"t\",\"columns\":["
                      "{\"name\":\"a\",\"value\":1},{\"name\":\"b\",\"value\":2},"
                      "{\"name\":\"c\",\"value\":3},{\"name\":\"d\",\"value\":4}]}";

    w2j_parser_free(&parser);
    w2j_parser_init(&parser, &lim, NULL);
    bad(msg, "more than 3 entries in \"columns\"", at(msg, "{\"name\":\"d\"", 0));
}

Test(w2j, rejects_message_over_the_size_limit)
{
    struct w2j_limits lim = {.max_message = 64, .max_columns = 10, .max_depth = 8};

    w2j_parser_free(&parser);
    w2j_parser_init(&parser, &lim, NULL);
    bad(BEGIN_MSG, "exceeds the limit of 64 bytes", 0);
    ok("{\"action\":\"B\"}");
}

Test(w2j, parses_a_value_over_one_megabyte)
{
    size_t big = (1 << 20) + 12345, i;
    const char *head = "{\"action\":\"I\",\"schema\":\"s\",\"table\":\"t\",\"columns\":"
                       "[{\"name\":\"big\",\"type\":\"text\",\"value\":\"";
    const char *tail = "\"}]}";
    size_t len = strlen(head) + big + strlen(tail);
    char *msg = malloc(len + 1);

    cr_assert_not_null(msg);
    memcpy(msg, head, strlen(head));
    for (i = 0; i < big; i++)
        msg[strlen(head) + i] = (char) ('a' + i % 26);
    memcpy(msg + strlen(head) + big, tail, strlen(tail) + 1);
    cr_assert(parse_len(msg, len), "%s", err.message);
    cr_assert_eq(rec.columns[0].value.len, big);
    cr_assert_eq(memcmp(rec.columns[0].value.text, msg + strlen(head), big), 0);
    cr_assert_eq(rec.columns[0].value.text[big], '\0');
    free(msg);
}

Test(w2j, strings_are_nul_terminated_with_their_lengths)
{
    uint32_t i;

    ok(INSERT_MSG);
    for (i = 0; i < rec.ncolumns; i++)
    {
        const struct w2j_column *c = &rec.columns[i];

        cr_assert_eq(strlen(c->name), c->name_len);
        cr_assert_eq(strlen(c->type), c->type_len);
        if (c->value.text != NULL)
            cr_assert_eq(strlen(c->value.text), c->value.len, "column %s", c->name);
    }
    cr_assert_eq(strlen(rec.timestamp), rec.timestamp_len);
}

/* An allocator that counts its calls. */
static unsigned long nallocs;

static void *
counting_realloc(void *ctx, void *ptr, size_t size)
{
    (void) ctx;
    nallocs++;
    return realloc(ptr, size);
}

static void
counting_free(void *ctx, void *ptr)
{
    (void) ctx;
    free(ptr);
}

Test(w2j, allocates_nothing_per_message_after_warm_up)
{
    const struct w2j_allocator counting = {counting_realloc, counting_free, NULL};
    const char *const stream[] = {BEGIN_MSG,    INSERT_MSG, UPDATE_MSG,    DELETE_MSG,
                                  TRUNCATE_MSG, MESSAGE_TX, MESSAGE_NONTX, COMMIT_MSG};
    size_t n = sizeof(stream) / sizeof(stream[0]), i;
    int round;

    w2j_parser_free(&parser);
    w2j_parser_init(&parser, NULL, &counting);
    for (i = 0; i < n; i++)
        ok(stream[i]); /* warm-up: grows to the largest message */
    cr_assert_gt(nallocs, 0ul, "the warm-up allocated nothing, so the count proves nothing");
    nallocs = 0;
    for (round = 0; round < 100; round++)
        for (i = 0; i < n; i++)
            ok(stream[i]);
    cr_assert_eq(nallocs, 0ul, "%lu allocations after warm-up", nallocs);
}

Test(w2j, records_stay_valid_until_the_next_parse)
{
    ok(INSERT_MSG);
    /* the record borrows from the parser, not from the input buffer */
    memset(both.arena_buf, 'x', strlen(INSERT_MSG));
    expect_value(column(rec.columns, rec.ncolumns, "tv"), "'agent':24 'dark':3", W2J_KIND_STRING);
    cr_assert_str_eq(rec.table, "t");
}

Test(w2j, accepts_whitespace_between_tokens)
{
    ok(" { \"action\" : \"D\" , \"schema\" : \"s\" , \"table\" : \"t\" , \"identity\" : [ { "
       "\"name\" : \"id\" , \"value\" : 5 } ] } ");
    expect_value(&rec.identity[0], "5", W2J_KIND_NUMBER);
}

Test(w2j, names_every_action)
{
    cr_assert_str_eq(w2j_action_name(W2J_BEGIN), "begin");
    cr_assert_str_eq(w2j_action_name(W2J_TRUNCATE), "truncate");
    cr_assert_str_eq(w2j_action_name(W2J_MESSAGE), "message");
}
