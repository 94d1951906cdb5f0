/*
 * test_roundtrip.c - every decoded value equals the source's own text for it.
 *
 * A cluster gets the memori schema and golden.types (every type the bridge
 * must carry), a wal2json slot, and rows with values chosen to break naive
 * decoders: quotes, backslashes, control characters, emoji and CJK, empty
 * strings and NULLs, extreme numbers, arrays, time types, values over 1 MB.
 * The changes are read back through pg_logical_slot_get_changes() in the same
 * session (so wal2json formats with the same settings as the comparison
 * query), decoded, and each INSERT's values compared with "col::text" of the
 * row on the source (bytea_output = hex, so bytea compares as its hex text;
 * char(n) through its output function, since its cast to text drops padding).
 *
 * One difference is expected and pinned: wal2json 2.5 writes NaN and
 * +-Infinity in number columns as JSON null (DESIGN, terrain).
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "decoder/w2j.h"
#include "pgh.h"

static struct pgh_set set;
static PGconn *conn;

#define OPTIONS                                                                                    \
    "'format-version', '2', 'include-xids', '1', 'include-lsn', '1', 'include-timestamp', '1', "   \
    "'include-types', '1', 'include-type-oids', '1', 'add-tables', 'memori.*,golden.*'"

static void
exec_ok(const char *sql)
{
    cr_assert(pgh_exec(conn, sql), "statement failed: %s", sql);
}

static void
setup(void)
{
    char err[256];
    char path[512];

    cr_assert(pgh_start(&set, 1, err, sizeof(err)), "could not start a cluster: %s", err);
    snprintf(path, sizeof(path), "%s/sql/memori_schema.sql", MB_SOURCE_DIR);
    cr_assert(pgh_psql_file(&set.c[0], NULL, path));
    snprintf(path, sizeof(path), "%s/tests/golden/setup.sql", MB_SOURCE_DIR);
    cr_assert(pgh_psql_file(&set.c[0], NULL, path));
    conn = pgh_connect(&set.c[0], NULL);
    cr_assert_not_null(conn);
    /* the bridge's pinned session settings (DESIGN, terrain) */
    exec_ok("SET datestyle = ISO; SET intervalstyle = postgres; SET extra_float_digits = 3; "
            "SET bytea_output = hex; SET client_encoding = UTF8; SET timezone = 'UTC'");
    exec_ok("SELECT pg_create_logical_replication_slot('rt', 'wal2json')");
}

static void
teardown(void)
{
    if (conn != NULL)
        PQfinish(conn);
    conn = NULL;
    pgh_stop(&set);
}

TestSuite(roundtrip, .init = setup, .fini = teardown, .timeout = 240);

/* Rows for golden.types: ids 1..N, every column varied, deterministic. */
static const char *const types_rows =
    "INSERT INTO golden.types "
    "SELECT i,"
    "  CASE WHEN i % 7 = 0 THEN NULL ELSE ((i * 977) % 65536 - 32768)::smallint END,"
    "  CASE i % 4 WHEN 0 THEN 9223372036854775807 WHEN 1 THEN -9223372036854775808"
    "    ELSE i::bigint * 1000003 END,"
    "  CASE i % 9 WHEN 0 THEN 'NaN'::numeric WHEN 1 THEN 'Infinity' WHEN 2 THEN '-Infinity'"
    "    WHEN 3 THEN NULL ELSE (i * 1.0001)::numeric ^ 7 END,"
    "  (i * 3.14159)::numeric(12,4),"
    "  CASE i % 8 WHEN 0 THEN 'NaN'::float8 WHEN 1 THEN 'Infinity' WHEN 2 THEN '-Infinity'"
    "    WHEN 3 THEN 1e-300 * i WHEN 4 THEN -0.0 ELSE 1.0 / i END,"
    "  CASE i % 6 WHEN 0 THEN 'NaN'::float4 WHEN 1 THEN '-Infinity' ELSE (i / 7.0)::float4 END,"
    "  CASE i % 3 WHEN 0 THEN NULL ELSE i % 2 = 0 END,"
    "  CASE WHEN i % 5 = 0 THEN NULL ELSE decode(md5(i::text) || md5((i + 1)::text), 'hex') END,"
    "  ARRAY[i, -i, NULL],"
    "  ARRAY['q\"uote', 'back\\slash', 'sp ace', '', NULL, 'x' || chr(100 + i % 50)],"
    "  timestamptz '2024-01-01 00:00:00.123456+05' + i * interval '37 hours 11 seconds',"
    "  timestamp '1999-12-31 23:59:59.5' - i * interval '3 days',"
    "  date '2000-02-29' + i,"
    "  i * interval '1 mon 2 days 03:04:05.6' - interval '1 year',"
    "  jsonb_build_object('i', i, 's', 'v\"' || chr(8220) || '\\', 'a', jsonb_build_array(i, 'x',"
    "    NULL, 2.50)),"
    "  ('{\"raw\" :  [' || i || ',  \"' || repeat('\\\\', i % 3) || '\"]}')::json,"
    "  to_tsvector('english', 'The agent''s memory of ' || i || ' dark:' || i),"
    "  md5(i::text)::uuid,"
    "  CASE WHEN i % 4 = 0 THEN NULL ELSE chr(65 + i % 26) END,"
    "  left('label-' || i || '-' || repeat('z', i % 10), 10),"
    "  CASE i % 6"
    "    WHEN 0 THEN ''"
    "    WHEN 1 THEN NULL"
    "    WHEN 2 THEN 'ctl ' || chr(1) || chr(8) || chr(9) || chr(10) || chr(13) || chr(27) ||"
    "      chr(31) || ' end'"
    "    WHEN 3 THEN 'emoji ' || chr(128512 + i % 64) || ' cjk ' || chr(19968 + i * 37) ||"
    "      ' combining e' || chr(769)"
    "    WHEN 4 THEN E'quote '' dq \" bs \\\\ slash / unicode \\u00e9'"
    "    ELSE repeat('long ', 2000 + i) END,"
    "  CASE WHEN i % 25 = 1 THEN (SELECT string_agg(md5((i * 100000 + j)::text), '')"
    "    FROM generate_series(1, 36000) j) END "
    "FROM generate_series(1, 150) AS i";

/* Rows for the memori tables, through their defaults and trigger. */
static const char *const memori_rows =
    "INSERT INTO memori.entities (user_id, entity_type, entity_name, content, metadata) "
    "SELECT 'agent-' || i % 3, 'kind-' || i % 4, 'name ''' || i || '''', "
    "  CASE WHEN i % 2 = 0 THEN E'line\\nbreak ' || i END, jsonb_build_object('n', i) "
    "FROM generate_series(1, 40) i;"
    "INSERT INTO memori.relationships (user_id, source_entity_id, target_entity_id, "
    "  relationship_type, metadata) "
    "SELECT 'agent-1', i, 41 - i, 'rel-' || i, '{\"w\": 0.5}' FROM generate_series(1, 40) i;"
    "INSERT INTO memori.memories (user_id, content, category, metadata, source_type, confidence,"
    "  lineage, last_used_at, use_count, expires_at) "
    "SELECT 'agent-' || i % 5, 'Memory ' || i || ': the user''s \"agent\" prefers ' || "
    "  CASE WHEN i % 2 = 0 THEN 'dark' ELSE 'light' END || ' mode ' || chr(128512 + i), "
    "  CASE WHEN i % 3 = 0 THEN NULL ELSE 'preference' END, "
    "  jsonb_build_object('tags', jsonb_build_array('a', i), 'q', 'say \"hi\"'), "
    "  'conversation', i / 100.0, '[{\"from\": \"chat\"}]', "
    "  CASE WHEN i % 2 = 0 THEN timestamp '2025-01-01' + i * interval '1 hour' END, i, "
    "  timestamp '2030-01-01' - i * interval '1 day' "
    "FROM generate_series(1, 60) i;"
    "INSERT INTO memori.conversations (user_id, session_id, messages) "
    "SELECT 'agent-1', 'sess-' || i, jsonb_build_array(jsonb_build_object('role', 'user',"
    "  'content', 'hi ' || i)) FROM generate_series(1, 20) i";

/* Per-run tallies, for the asserts that the test exercised what it claims. */
struct tally
{
    unsigned long rows;      /* INSERT records compared */
    unsigned long columns;   /* columns in those records */
    unsigned long values;    /* values compared equal */
    unsigned long nulls;     /* of which SQL NULL on both sides */
    unsigned long special;   /* NaN/Infinity that arrived as null */
    unsigned long big;       /* values over 1 MB */
    unsigned long escaped;   /* values with a quote, backslash or control character */
    unsigned long multibyte; /* values with non-ASCII text */
};

static bool
is_special_number(const char *s)
{
    return strcmp(s, "NaN") == 0 || strcmp(s, "Infinity") == 0 || strcmp(s, "-Infinity") == 0;
}

/* Compare one decoded INSERT with the row on the source. */
static void
compare_insert(const struct w2j_record *r, struct tally *t)
{
    char sql[8192];
    size_t off;
    const char *id = NULL;
    const char *params[1];
    PGresult *res;
    uint32_t i;

    off = (size_t) snprintf(sql, sizeof(sql), "SELECT ");
    for (i = 0; i < r->ncolumns; i++)
    {
        char *ident = PQescapeIdentifier(conn, r->columns[i].name, r->columns[i].name_len);

        cr_assert_not_null(ident);
        /* char(n)::text drops the padding its output function keeps */
        if (r->columns[i].typeoid == 1042)
            off += (size_t) snprintf(sql + off, sizeof(sql) - off,
                                     "%sCASE WHEN %s IS NOT NULL THEN format('%%s', %s) END",
                                     i ? ", " : "", ident, ident);
        else
            off +=
                (size_t) snprintf(sql + off, sizeof(sql) - off, "%s%s::text", i ? ", " : "", ident);
        PQfreemem(ident);
        if (strcmp(r->columns[i].name, "id") == 0)
            id = r->columns[i].value.text;
    }
    cr_assert_not_null(id, "%s.%s: no id column", r->schema, r->table);
    snprintf(sql + off, sizeof(sql) - off, " FROM %s.%s WHERE id = $1", r->schema, r->table);
    params[0] = id;
    res = PQexecParams(conn, sql, 1, NULL, params, NULL, NULL, 0);
    cr_assert_eq(PQresultStatus(res), PGRES_TUPLES_OK, "%s: %s", sql, PQerrorMessage(conn));
    cr_assert_eq(PQntuples(res), 1, "%s.%s id=%s: %d rows on the source", r->schema, r->table, id,
                 PQntuples(res));

    for (i = 0; i < r->ncolumns; i++)
    {
        const struct w2j_column *c = &r->columns[i];
        bool src_null = PQgetisnull(res, 0, (int) i);
        const char *src = PQgetvalue(res, 0, (int) i);
        size_t src_len = (size_t) PQgetlength(res, 0, (int) i);

        t->columns++;
        if (c->value.text == NULL && !src_null && is_special_number(src) &&
            (c->typeoid == 700 || c->typeoid == 701 || c->typeoid == 1700))
        {
            t->special++; /* the pinned wal2json 2.5 loss */
            continue;
        }
        if (src_null)
        {
            cr_assert_null(c->value.text, "%s.%s id=%s column %s: source NULL, decoded \"%.80s\"",
                           r->schema, r->table, id, c->name, c->value.text);
            t->nulls++;
            t->values++;
            continue;
        }
        cr_assert_not_null(c->value.text, "%s.%s id=%s column %s: source \"%.80s\", decoded NULL",
                           r->schema, r->table, id, c->name, src);
        cr_assert_eq(c->value.len, src_len,
                     "%s.%s id=%s column %s (%s): length %zu decoded, %zu on the source\n"
                     "decoded: %.200s\nsource:  %.200s",
                     r->schema, r->table, id, c->name, c->type, c->value.len, src_len,
                     c->value.text, src);
        cr_assert(memcmp(c->value.text, src, src_len) == 0,
                  "%s.%s id=%s column %s (%s) differs\ndecoded: %.200s\nsource:  %.200s", r->schema,
                  r->table, id, c->name, c->type, c->value.text, src);
        t->values++;
        if (src_len > (1u << 20))
            t->big++;
        if (strpbrk(src, "'\"\\\n\t\r\x01") != NULL)
            t->escaped++;
        for (off = 0; off < src_len; off++)
            if ((unsigned char) src[off] >= 0x80)
            {
                t->multibyte++;
                break;
            }
    }
    PQclear(res);
}

/* Read the slot's changes and hand each decoded record to FN. */
static void
for_each_change(void (*fn)(const struct w2j_record *, void *), void *arg)
{
    struct w2j_parser parser;
    PGresult *res;
    int row;

    res =
        PQexec(conn, "SELECT data FROM pg_logical_slot_get_changes('rt', NULL, NULL, " OPTIONS ")");
    cr_assert_eq(PQresultStatus(res), PGRES_TUPLES_OK, "%s", PQerrorMessage(conn));
    w2j_parser_init(&parser, NULL, NULL);
    for (row = 0; row < PQntuples(res); row++)
    {
        struct w2j_record r;
        struct w2j_error err;
        const char *msg = PQgetvalue(res, row, 0);

        cr_assert(w2j_parse(&parser, msg, (size_t) PQgetlength(res, row, 0), &r, &err),
                  "message %d: byte %zu: %s\n%.300s", row, err.offset, err.message, msg);
        fn(&r, arg);
    }
    w2j_parser_free(&parser);
    PQclear(res);
}

/* What read_and_compare does with each record. */
struct compare_ctx
{
    struct tally *tally;
    void (*on_update)(const struct w2j_record *);
};

static void
compare_record(const struct w2j_record *r, void *arg)
{
    struct compare_ctx *ctx = arg;

    if (r->action == W2J_INSERT)
    {
        compare_insert(r, ctx->tally);
        ctx->tally->rows++;
    }
    else if (r->action == W2J_UPDATE && ctx->on_update != NULL)
        ctx->on_update(r);
}

/* Read the slot's changes and compare every INSERT; UPDATE records are
 * handed to ON_UPDATE when given. */
static void
read_and_compare(struct tally *t, void (*on_update)(const struct w2j_record *))
{
    struct compare_ctx ctx = {t, on_update};

    for_each_change(compare_record, &ctx);
}

Test(roundtrip, every_decoded_value_equals_the_source_text)
{
    struct tally t = {0};

    exec_ok(types_rows);
    exec_ok(memori_rows);
    read_and_compare(&t, NULL);

    cr_assert_eq(t.rows, 150ul + 40 + 40 + 60 + 20, "compared %lu rows", t.rows);
    /* the run exercised what it claims to */
    /* 150 x 23 columns of golden.types, 40 x 7 + 40 x 7 + 60 x 14 + 20 x 7 of memori */
    cr_assert_eq(t.columns, 150ul * 23 + 280 + 280 + 840 + 140, "%lu columns", t.columns);
    cr_assert_eq(t.values + t.special, t.columns, "%lu equal + %lu special of %lu", t.values,
                 t.special, t.columns);
    cr_assert_gt(t.nulls, 100ul, "only %lu NULLs", t.nulls);
    cr_assert_gt(t.special, 50ul, "only %lu NaN/Infinity values", t.special);
    cr_assert_geq(t.big, 6ul, "only %lu values over 1 MB", t.big);
    cr_assert_gt(t.escaped, 300ul, "only %lu values needing escapes", t.escaped);
    cr_assert_gt(t.multibyte, 100ul, "only %lu non-ASCII values", t.multibyte);
}

Test(roundtrip, special_numbers_arrive_as_null)
{
    struct tally t = {0};

    /* DESIGN, terrain: without numeric-data-types-as-string (absent from
     * wal2json 2.5), NaN and +-Infinity are JSON null, which reads as NULL */
    exec_ok("INSERT INTO golden.types (id, num, f8, f4) VALUES "
            "(1, 'NaN', 'Infinity', '-Infinity'), (2, 'Infinity', '-Infinity', 'NaN')");
    read_and_compare(&t, NULL);
    cr_assert_eq(t.rows, 2ul);
    cr_assert_eq(t.special, 6ul, "%lu of 6 special values arrived as null", t.special);
}

static unsigned long updates_seen;

static void
expect_huge_absent(const struct w2j_record *r)
{
    uint32_t i;
    bool saw_note = false;

    for (i = 0; i < r->ncolumns; i++)
    {
        cr_assert_str_neq(r->columns[i].name, "huge",
                          "the unchanged TOASTed column \"huge\" is in the UPDATE");
        if (strcmp(r->columns[i].name, "note") == 0)
        {
            cr_assert_str_eq(r->columns[i].value.text, "changed");
            saw_note = true;
        }
    }
    cr_assert(saw_note, "the changed column is missing from the UPDATE");
    cr_assert_eq(r->nidentity, 1u);
    updates_seen++;
}

Test(roundtrip, unchanged_toast_value_is_absent_from_update)
{
    struct tally t = {0};

    exec_ok("INSERT INTO golden.types (id, note, huge) "
            "SELECT 1, 'before', string_agg(md5(j::text), '') FROM generate_series(1, 40000) j");
    /* past the INSERT: what follows is the UPDATE alone */
    exec_ok("SELECT pg_replication_slot_advance('rt', pg_current_wal_lsn())");
    exec_ok("UPDATE golden.types SET note = 'changed' WHERE id = 1");
    updates_seen = 0;
    read_and_compare(&t, expect_huge_absent);
    cr_assert_eq(t.rows, 0ul);
    cr_assert_eq(updates_seen, 1ul, "saw %lu UPDATE records", updates_seen);
}

static void
expect_old_key(const struct w2j_record *r, void *arg)
{
    int *seen = arg;

    if (r->action != W2J_UPDATE)
        return;
    cr_assert_eq(r->nidentity, 1u);
    cr_assert_str_eq(r->identity[0].name, "id");
    cr_assert_str_eq(r->identity[0].value.text, "7");
    cr_assert_str_eq(r->columns[0].value.text, "70");
    (*seen)++;
}

Test(roundtrip, update_of_primary_key_carries_the_old_key)
{
    int seen = 0;

    exec_ok("INSERT INTO golden.types (id, note) VALUES (7, 'x')");
    exec_ok("UPDATE golden.types SET id = 70 WHERE id = 7");
    for_each_change(expect_old_key, &seen);
    cr_assert_eq(seen, 1, "saw %d UPDATE records", seen);
}
