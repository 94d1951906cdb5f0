/*
 * test_w2j_place.c - decoding in place (w2j_parse_in_place): the strings are
 * unescaped into the message itself, the output running behind the input.
 *
 * Each input is parsed both ways, in place and into a parser's arena, and the
 * two outcomes must be the same (the record, or the error at its byte). Each
 * buffer is exactly as long as its input, so that AddressSanitizer catches a
 * read or a write past the message. The inputs aim at the places where the
 * output could catch up with input not yet read: an escape or a stop of the
 * 16-byte scan close to where the output is, \u escapes that shrink six or
 * twelve bytes to one to four, and strings that end at the last byte.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "decoder/w2j.h"
#include "tests/unit/w2j_both.h"

static struct w2j_parser place, arena;
/* the last message, parsed both ways: two.place_rec is the record parsed in
 * place, whose strings are in two.place_buf, and two.place_err its failure */
static struct w2j_both two = {.arena = &arena, .place = &place};

static void
setup(void)
{
    w2j_parser_init(&place, NULL, NULL);
    w2j_parser_init(&arena, NULL, NULL);
}

static void
teardown(void)
{
    w2j_parser_free(&place);
    w2j_parser_free(&arena);
    w2j_both_free(&two);
}

TestSuite(w2j_place, .init = setup, .fini = teardown);

/* Parse the LEN bytes at JSON in place and into the arena; the two must
 * agree. Returns whether the message parsed. */
static bool
both(const char *json, size_t len)
{
    char *diff = w2j_both(&two, json, len);

    cr_assert_null(diff, "in place and in the arena differ for %.*s:\n%s",
                   (int) (len < 300 ? len : 300), json, diff);
    return two.place_good;
}

/* A transactional M message: FIRST (fields, each with its comma) first,
 * then the prefix PREFIX and the content CONTENT (both JSON-escaped). */
static char *
message(const char *first, const char *prefix, const char *content)
{
    char *m = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&m, &len);

    cr_assert_not_null(f);
    fprintf(f,
            "{%s\"action\":\"M\",\"xid\":1,\"transactional\":true,\"prefix\":\"%s\","
            "\"content\":\"%s\"}",
            first, prefix, content);
    fclose(f);
    return m;
}

/* The escapes, each with what it unescapes to. */
static const struct
{
    const char *json, *text;
} escapes[] = {
    {"\\\"", "\""},
    {"\\\\", "\\"},
    {"\\/", "/"},
    {"\\n", "\n"},
    {"\\t", "\t"},
    {"\\u0041", "A"},
    {"\\u00e9", "\xc3\xa9"},
    {"\\u4e2d", "\xe4\xb8\xad"},
    {"\\ud83d\\ude00", "\xf0\x9f\x98\x80"},
    {"\xc3\xa9", "\xc3\xa9"},
};
#define NESCAPES (sizeof(escapes) / sizeof(escapes[0]))

/* S at DST, ended by a NUL; returns where that NUL is. */
static char *
put(char *dst, const char *s)
{
    size_t n = strlen(s);

    memcpy(dst, s, n + 1);
    return dst + n;
}

/* N letters, then ESC, then M more letters: the JSON and its text. */
static void
around(char *json, char *text, size_t n, size_t e, size_t m)
{
    size_t i;

    for (i = 0; i < n; i++)
        *json++ = *text++ = (char) ('a' + i % 26);
    json = put(json, escapes[e].json);
    text = put(text, escapes[e].text);
    for (i = 0; i < m; i++)
        *json++ = *text++ = (char) ('A' + i % 26);
    *json = *text = '\0';
}

Test(w2j_place, keeps_unread_input_when_the_first_string_stops_near_the_output)
{
    /* The first strings of a message start one byte behind their input: an
     * escape or a non-ASCII byte at any offset of the first 16-byte block
     * stops the scan where a whole 16-byte store would overwrite the bytes
     * after the stop, which are still to be read. */
    char json[128], text[128], first[160];
    size_t n, e;

    for (e = 0; e < NESCAPES; e++)
        for (n = 0; n < 40; n++)
        {
            char *m;

            around(json, text, n, e, 20);
            snprintf(first, sizeof(first), "\"%s\":1,", json);
            m = message(first, json, json);
            cr_assert(both(m, strlen(m)), "%s: %s", m, two.place_err.message);
            cr_assert_str_eq(two.place_rec.prefix, text, "escape %zu after %zu letters", e, n);
            cr_assert_str_eq(two.place_rec.content, text);
            free(m);
        }
}

Test(w2j_place, unescapes_into_the_message_itself)
{
    char *m = message("", "p", "a\\\"b\\u00e9c\\ud83d\\ude00");

    cr_assert(both(m, strlen(m)), "%s", two.place_err.message);
    cr_assert(two.place_rec.content >= two.place_buf &&
                  two.place_rec.content + two.place_rec.content_len < two.place_buf + strlen(m),
              "content is not inside the message");
    cr_assert(two.place_rec.prefix >= two.place_buf &&
              two.place_rec.prefix < two.place_rec.content);
    cr_assert_str_eq(two.place_rec.content, "a\"b\u00e9c\U0001F600");
    free(m);
}

Test(w2j_place, joins_surrogate_pairs_at_either_end_of_a_string)
{
    static const char *const cases[][2] = {
        {"\\ud83d\\ude00", "\xf0\x9f\x98\x80"},
        {"x\\ud83d\\ude00", "x\xf0\x9f\x98\x80"},
        {"\\ud83d\\ude00x", "\xf0\x9f\x98\x80x"},
        {"\\ud83d\\ude00\\ud83d\\ude00", "\xf0\x9f\x98\x80\xf0\x9f\x98\x80"},
        {"\\udbff\\udfff", "\xf4\x8f\xbf\xbf"},
        {"\\ud800\\udc00", "\xf0\x90\x80\x80"},
    };
    size_t i;

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
    {
        char *m = message("", cases[i][0], cases[i][0]);

        cr_assert(both(m, strlen(m)), "%s: %s", m, two.place_err.message);
        cr_assert_str_eq(two.place_rec.prefix, cases[i][1], "case %zu", i);
        cr_assert_str_eq(two.place_rec.content, cases[i][1], "case %zu", i);
        free(m);
    }
}

Test(w2j_place, shrinks_runs_of_escapes_longer_than_a_block)
{
    /* 40 of each escape in a row: the output falls further behind the input
     * with each one, across several 16-byte blocks */
    char json[600], text[200];
    size_t e, i;

    for (e = 0; e < NESCAPES; e++)
    {
        char *j = json, *t = text, *m;

        for (i = 0; i < 40; i++)
        {
            j = put(j, escapes[e].json);
            t = put(t, escapes[e].text);
        }
        m = message("", json, json);
        cr_assert(both(m, strlen(m)), "%s: %s", m, two.place_err.message);
        cr_assert_str_eq(two.place_rec.prefix, text, "escape %zu", e);
        cr_assert_str_eq(two.place_rec.content, text, "escape %zu", e);
        free(m);
    }
}

Test(w2j_place, rejects_every_truncation_of_a_message_full_of_escapes)
{
    /* every cut: inside an escape, right after a backslash, between the two
     * halves of a surrogate pair, right after a string's closing quote */
    const char *full = "{\"action\":\"I\",\"schema\":\"s\\\"q\",\"table\":\"t\\u00e9\","
                       "\"columns\":[{\"name\":\"c\\n\",\"type\":\"text\",\"value\":"
                       "\"a\\ud83d\\ude00b\\\\\\\"\\u4e2d\"},{\"name\":\"d\",\"type\":\"bytea\","
                       "\"value\":\"00ff\"}]}";
    size_t len, n = strlen(full);

    cr_assert(both(full, n), "%s", two.place_err.message);
    for (len = 0; len < n; len++)
    {
        cr_assert_not(both(full, len), "truncated to %zu bytes, it parsed", len);
        cr_assert_leq(two.place_err.offset, len, "offset %zu past the %zu bytes",
                      two.place_err.offset, len);
    }
}

Test(w2j_place, reports_a_string_that_ends_at_the_last_byte)
{
    static const struct
    {
        const char *json, *what;
    } cases[] = {
        {"{\"action\":\"M\",\"prefix\":\"p\"", "expected ',' or '}', found end of input"},
        {"{\"action\":\"M\",\"prefix\":\"p", "unterminated string"},
        {"{\"action\":\"M\",\"prefix\":\"p\\", "unterminated string"},
        {"{\"action\":\"M\",\"prefix\":\"p\\u00", "truncated \\u escape"},
        {"{\"action\":\"M\",\"prefix\":\"p\\ud83d", "lone high surrogate"},
        {"{\"action\":\"M\",\"prefix\":\"p\\ud83d\\u", "lone high surrogate"},
        {"{\"action\":\"M\",\"prefix\":\"p\\ud83d\\ude0", "lone high surrogate"},
        {"{\"action\":\"M\",\"prefix\":\"p\xc3", "invalid UTF-8 byte 0xC3"},
    };
    size_t i;

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
    {
        cr_assert_not(both(cases[i].json, strlen(cases[i].json)), "case %zu parsed", i);
        cr_assert(strstr(two.place_err.message, cases[i].what) != NULL,
                  "case %zu: expected \"%s\" in \"%s\"", i, cases[i].what, two.place_err.message);
    }
}

Test(w2j_place, decodes_megabytes_with_escapes_every_so_often)
{
    size_t big = 3u << 20, i, j = 0, t = 0;
    char *json = malloc(big * 2), *text = malloc(big), *m;
    size_t len;

    cr_assert(json != NULL && text != NULL);
    for (i = 0; t < big - 8; i++)
    {
        if (i % 997 == 996)
        {
            memcpy(json + j, "\\\"\\n", 4);
            memcpy(text + t, "\"\n", 2);
            j += 4;
            t += 2;
        }
        else if (i % 4093 == 4092)
        {
            memcpy(json + j, "\\ud83d\\ude00", 12);
            memcpy(text + t, "\xf0\x9f\x98\x80", 4);
            j += 12;
            t += 4;
        }
        else
            json[j++] = text[t++] = (char) ('a' + i % 26);
    }
    json[j] = text[t] = '\0';
    m = message("", "p", json);
    len = strlen(m);
    cr_assert(both(m, len), "%s", two.place_err.message);
    cr_assert_eq(two.place_rec.content_len, t);
    cr_assert_eq(memcmp(two.place_rec.content, text, t), 0, "the content differs from its text");
    cr_assert_eq(two.place_rec.content[t], '\0');
    free(m);
    free(json);
    free(text);
}
