/*
 * test_stmt.c - the applier's statements: one per record shape, their SQL,
 * and the binary text[] arrays of a multi-row batch.
 *
 * The target's tables are built by hand as catalog_load would fill them, and
 * the records as the decoder would; no server is involved.
 */
#include <criterion/criterion.h>
#include <criterion/new/assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bridge/pg/catalog.h"
#include "bridge/streaming/stmt.h"

#define expect_str(got, want) cr_assert(eq(str, (char *) (got), (char *) (want)))
#define NELEM(a)              (sizeof(a) / sizeof((a)[0]))

/* memori.memories: id integer primary key, content text, search tsvector
 * generated, note text */
static struct cat_column memories_cols[] = {
    {"id", "pg_catalog.int4", false, true, "integer", false},
    {"content", "pg_catalog.text", false, false, "text", true},
    {"search", "pg_catalog.tsvector", true, false, "tsvector", true},
    {"note", "pg_catalog.text", false, false, "text", true},
};
static struct cat_table memories = {
    .oid = 16401,
    .schema = "memori",
    .name = "memories",
    .qualified = "\"memori\".\"memories\"",
    .cols = memories_cols,
    .ncols = NELEM(memories_cols),
    .npk = 1,
};

/* memori.notes: a text, b integer, no primary key */
static struct cat_column notes_cols[] = {
    {"a", "pg_catalog.text", false, false, "text", true},
    {"b", "pg_catalog.int4", false, false, "integer", false},
};
static struct cat_table notes = {
    .oid = 16420,
    .schema = "memori",
    .name = "notes",
    .qualified = "\"memori\".\"notes\"",
    .cols = notes_cols,
    .ncols = NELEM(notes_cols),
    .npk = 0,
};

static struct stmt_cache cache;
static struct stmt_batch batch;

static void
setup(void)
{
    stmt_cache_init(&cache);
    stmt_batch_init(&batch);
}

static void
teardown(void)
{
    stmt_batch_free(&batch);
    stmt_cache_clear(&cache);
}

TestSuite(stmt, .init = setup, .fini = teardown);

/* A column as the decoder gives it; VALUE NULL is SQL NULL. */
static struct w2j_column
col(const char *name, const char *type, const char *value)
{
    struct w2j_column c = {
        .name = name,
        .name_len = strlen(name),
        .type = type,
        .type_len = type ? strlen(type) : 0,
        .value = {value, value ? strlen(value) : 0, value ? W2J_KIND_STRING : W2J_KIND_NULL},
    };

    return c;
}

static struct w2j_record
record(enum w2j_action action, const struct cat_table *t, const struct w2j_column *cols,
       uint32_t ncols, const struct w2j_column *ident, uint32_t nident)
{
    struct w2j_record r = {
        .action = action,
        .schema = t->schema,
        .schema_len = strlen(t->schema),
        .table = t->name,
        .table_len = strlen(t->name),
        .columns = cols,
        .ncolumns = ncols,
        .identity = ident,
        .nidentity = nident,
    };

    r.present = (ncols ? W2J_HAS_COLUMNS : 0) | (nident ? W2J_HAS_IDENTITY : 0);
    return r;
}

/* stmt_lookup that must succeed. */
static struct stmt *
lookup(struct cat_table *t, const struct w2j_record *rec)
{
    struct stmt_error err = {""};
    struct stmt *st = stmt_lookup(&cache, t, rec, 0, &err);

    cr_assert_not_null(st, "stmt_lookup failed: %s", err.message);
    return st;
}

/* INSERT of memories (id, content, search). */
static struct stmt *
insert_memory(const char *id, const char *content)
{
    struct w2j_column c[] = {col("id", "integer", id), col("content", "text", content),
                             col("search", "tsvector", "'x':1")};
    struct w2j_record r = record(W2J_INSERT, &memories, c, NELEM(c), NULL, 0);

    return lookup(&memories, &r);
}

Test(stmt, same_shape_gives_the_same_statement)
{
    struct stmt *a = insert_memory("1", "first");
    struct stmt *b = insert_memory("2", "second");

    cr_assert(eq(ptr, a, b));
    cr_assert(eq(u32, cache.count, 1));
}

Test(stmt, another_column_set_gives_another_statement)
{
    struct w2j_column c2[] = {col("id", "integer", "1"), col("content", "text", "x")};
    struct w2j_column c3[] = {col("id", "integer", "1"), col("note", "text", "x")};
    struct w2j_record r2 = record(W2J_INSERT, &memories, c2, NELEM(c2), NULL, 0);
    struct w2j_record r3 = record(W2J_INSERT, &memories, c3, NELEM(c3), NULL, 0);
    struct stmt *a = insert_memory("1", "first");
    struct stmt *b = lookup(&memories, &r2);
    struct stmt *c = lookup(&memories, &r3);

    cr_assert(ne(ptr, a, b));
    cr_assert(ne(ptr, b, c));
    cr_assert(ne(ptr, a, c));
    cr_assert(ne(str, a->name, b->name));
    cr_assert(eq(u32, cache.count, 3));
    cr_assert(eq(ptr, lookup(&memories, &r2), b));
}

Test(stmt, insert_casts_unnested_text_arrays)
{
    struct stmt *st = insert_memory("1", "first");

    expect_str(st->sql, "INSERT INTO \"memori\".\"memories\" AS t (\"id\", \"content\") "
                        "OVERRIDING SYSTEM VALUE SELECT u.p1::pg_catalog.int4, "
                        "u.p2::pg_catalog.text FROM unnest($1::text[], $2::text[]) AS u(p1, p2)");
    cr_assert(eq(int, st->action, W2J_INSERT));
    cr_assert_not(st->single);
}

Test(stmt, insert_never_writes_a_generated_column)
{
    struct stmt *st = insert_memory("1", "first");

    cr_assert(eq(int, st->nparams, 2));
    cr_assert(eq(int, st->col_param[0], 0));
    cr_assert(eq(int, st->col_param[1], 1));
    cr_assert(eq(int, st->col_param[2], -1), "the generated column got a parameter");
    cr_assert(zero(ptr, strstr(st->sql, "search")), "[%s]", st->sql);
}

/* UPDATE of memories: identity id OLD_ID, new id NEW_ID and content. */
static struct stmt *
update_memory(const char *old_id, const char *new_id, struct w2j_record *out,
              struct w2j_column cols[2], struct w2j_column ident[1])
{
    cols[0] = col("id", "integer", new_id);
    cols[1] = col("content", "text", "changed");
    ident[0] = col("id", "integer", old_id);
    *out = record(W2J_UPDATE, &memories, cols, 2, ident, 1);
    return lookup(&memories, out);
}

Test(stmt, update_finds_the_row_by_key_and_sets_the_rest)
{
    struct w2j_column c[2], id[1];
    struct w2j_record r;
    struct stmt *st = update_memory("5", "5", &r, c, id);

    /* a value equal to the stored one keeps the stored datum */
    expect_str(st->sql, "UPDATE ONLY \"memori\".\"memories\" AS t SET \"content\" = CASE WHEN "
                        "t.\"content\"::pg_catalog.text IS NOT DISTINCT FROM u.p2 THEN t.\"content\" "
                        "ELSE u.p2::pg_catalog.text END FROM unnest($1::text[], $2::text[]) AS "
                        "u(p1, p2) WHERE t.\"id\" = u.p1::pg_catalog.int4");
    cr_assert(eq(int, st->nkeys, 1));
    cr_assert(zero(ptr, strstr(st->sql, "SET \"id\"")), "the unchanged key is set: [%s]", st->sql);
    cr_assert_not(st->keychange);
    cr_assert_not(st->single);
    cr_assert_not(stmt_changes_key(st, &r));
}

Test(stmt, update_that_changes_the_key_goes_alone)
{
    struct w2j_column c[2], id[1];
    struct w2j_record same, changed;
    struct stmt *plain = update_memory("5", "5", &same, c, id);
    struct w2j_column c2[2], id2[1];
    struct stmt *st = update_memory("5", "6", &changed, c2, id2);

    cr_assert(stmt_changes_key(plain, &changed));
    cr_assert(ne(ptr, st, plain));
    cr_assert(st->keychange);
    cr_assert(st->single);
    expect_str(st->sql, "UPDATE ONLY \"memori\".\"memories\" AS t SET \"id\" = CASE WHEN "
                        "t.\"id\"::pg_catalog.text IS NOT DISTINCT FROM u.p2 THEN t.\"id\" ELSE "
                        "u.p2::pg_catalog.int4 END, \"content\" = CASE WHEN "
                        "t.\"content\"::pg_catalog.text IS NOT DISTINCT FROM u.p3 THEN t.\"content\" "
                        "ELSE u.p3::pg_catalog.text END FROM unnest($1::text[], $2::text[], "
                        "$3::text[]) AS u(p1, p2, p3) WHERE t.\"id\" = u.p1::pg_catalog.int4");
    /* the same change again finds the same statement */
    cr_assert(eq(ptr, update_memory("7", "8", &changed, c2, id2), st));
    cr_assert(eq(u32, cache.count, 2));
}

Test(stmt, update_from_or_to_a_null_key_changes_it)
{
    struct w2j_column c[2], id[1];
    struct w2j_record r;
    struct stmt *plain = update_memory("5", "5", &r, c, id);

    c[0].value = (struct w2j_value){NULL, 0, W2J_KIND_NULL};
    cr_assert(stmt_changes_key(plain, &r));
}

static struct stmt *
delete_memory(const char *id, struct w2j_record *out, struct w2j_column ident[1])
{
    ident[0] = col("id", "integer", id);
    *out = record(W2J_DELETE, &memories, NULL, 0, ident, 1);
    return lookup(&memories, out);
}

Test(stmt, delete_joins_on_the_key)
{
    struct w2j_column id[1];
    struct w2j_record r;
    struct stmt *st = delete_memory("5", &r, id);

    expect_str(st->sql, "DELETE FROM ONLY \"memori\".\"memories\" AS t USING "
                        "unnest($1::text[]) AS u(p1) WHERE t.\"id\" = u.p1::pg_catalog.int4");
    cr_assert(eq(int, st->nparams, 1));
    cr_assert(eq(int, st->nkeys, 1));
    cr_assert_not(st->single);
    cr_assert_not(st->by_text);
}

Test(stmt, table_without_primary_key_is_matched_by_text_one_row_at_a_time)
{
    struct w2j_column ident[] = {col("a", "text", "x"), col("b", "integer", "2")};
    struct w2j_column cols[] = {col("a", "text", "y"), col("b", "integer", "3")};
    struct w2j_record del = record(W2J_DELETE, &notes, NULL, 0, ident, NELEM(ident));
    struct w2j_record upd = record(W2J_UPDATE, &notes, cols, NELEM(cols), ident, NELEM(ident));
    struct stmt *d = lookup(&notes, &del);
    struct stmt *u = lookup(&notes, &upd);

    cr_assert(d->by_text);
    cr_assert(d->single);
    expect_str(d->sql,
               "WITH u AS (SELECT * FROM unnest($1::text[], $2::text[]) AS u(p1, p2)), "
               "hit AS (SELECT s.ctid AS tid FROM ONLY \"memori\".\"notes\" AS s, u WHERE "
               "s.\"a\"::text IS NOT DISTINCT FROM u.p1 AND s.\"b\"::text IS NOT DISTINCT FROM "
               "u.p2 LIMIT 1) DELETE FROM ONLY \"memori\".\"notes\" AS t USING hit "
               "WHERE t.ctid = hit.tid");
    cr_assert(u->by_text);
    cr_assert(u->single);
    cr_assert_not(stmt_changes_key(u, &upd));
    expect_str(u->sql,
               "WITH u AS (SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[]) "
               "AS u(p1, p2, p3, p4)), hit AS (SELECT s.ctid AS tid FROM ONLY "
               "\"memori\".\"notes\" AS s, u WHERE s.\"a\"::text IS NOT DISTINCT FROM u.p1 AND "
               "s.\"b\"::text IS NOT DISTINCT FROM u.p2 LIMIT 1) UPDATE ONLY "
               "\"memori\".\"notes\" AS t SET \"a\" = CASE WHEN t.\"a\"::pg_catalog.text IS "
               "NOT DISTINCT FROM u.p3 THEN t.\"a\" ELSE u.p3::pg_catalog.text END, \"b\" = "
               "CASE WHEN t.\"b\"::pg_catalog.text IS NOT DISTINCT FROM u.p4 THEN t.\"b\" ELSE "
               "u.p4::pg_catalog.int4 END FROM u, hit WHERE t.ctid = hit.tid");
}

Test(stmt, column_missing_on_the_target_is_refused_with_the_fix)
{
    struct w2j_column c[] = {col("id", "integer", "1"), col("mood", "text", "calm")};
    struct w2j_record r = record(W2J_INSERT, &memories, c, NELEM(c), NULL, 0);
    struct stmt_error err = {""};

    cr_assert(zero(ptr, stmt_lookup(&cache, &memories, &r, 0, &err)));
    cr_assert(not(zero(ptr, strstr(err.message, "column \"mood\""))), "[%s]", err.message);
    cr_assert(
        not(zero(ptr, strstr(err.message,
                             "ALTER TABLE \"memori\".\"memories\" ADD COLUMN \"mood\" text"))),
        "[%s]", err.message);
    cr_assert(eq(u32, cache.count, 0));
}

Test(stmt, a_column_gone_on_the_source_is_left_out)
{
    /* a column added and dropped again on the source before the bridge got
     * there: the changes still carry it, and the statement leaves it out */
    struct cat_table t = memories;
    struct w2j_column c[] = {col("id", "integer", "1"), col("gone", "text", "x"),
                             col("content", "text", "y")};
    struct w2j_record r = record(W2J_INSERT, &t, c, NELEM(c), NULL, 0);
    struct stmt *st;

    t.skip = NULL;
    cr_assert(catalog_skip(&t, "gone"));
    cr_assert(catalog_skipped(&t, "gone"));
    cr_assert(not(catalog_skipped(&t, "content")));
    st = lookup(&t, &r);
    cr_assert(eq(int, st->col_param[1], -1));
    cr_assert(eq(int, st->nparams, 2));
    cr_assert(zero(ptr, strstr(st->sql, "gone")), "%s", st->sql);
    free(t.skip);
}

Test(stmt, a_new_position_or_type_is_a_new_shape)
{
    /* a rename keeps the name set but not the positions; a widened type keeps
     * both: each is a shape of its own, which the applier looks at */
    struct w2j_column c1[] = {col("id", "integer", "1"), col("content", "text", "a")};
    struct w2j_column c2[] = {col("id", "integer", "1"), col("content", "text", "a")};
    struct w2j_column c3[] = {col("id", "bigint", "1"), col("content", "text", "a")};
    struct w2j_record r1 = record(W2J_INSERT, &memories, c1, NELEM(c1), NULL, 0);
    struct w2j_record r2 = record(W2J_INSERT, &memories, c2, NELEM(c2), NULL, 0);
    struct w2j_record r3 = record(W2J_INSERT, &memories, c3, NELEM(c3), NULL, 0);

    c1[1].position = 2;
    c2[1].position = 3;
    c3[1].position = 2;
    lookup(&memories, &r1);
    lookup(&memories, &r2);
    lookup(&memories, &r3);
    cr_assert(eq(u32, cache.count, 3));
    lookup(&memories, &r1);
    cr_assert(eq(u32, cache.count, 3));
}

Test(stmt, delete_without_identity_is_refused)
{
    struct w2j_record r = record(W2J_DELETE, &memories, NULL, 0, NULL, 0);
    struct stmt_error err = {""};

    cr_assert(zero(ptr, stmt_lookup(&cache, &memories, &r, 0, &err)));
    cr_assert(not(zero(ptr, strstr(err.message, "REPLICA IDENTITY FULL"))), "[%s]", err.message);
}

/* ---- binary text[] parameters ---- */

static uint32_t
be32(const unsigned char *p)
{
    return (uint32_t) p[0] << 24 | (uint32_t) p[1] << 16 | (uint32_t) p[2] << 8 | p[3];
}

/* Decode parameter P of the finished batch and check it is the array WANT (N
 * elements, NULL entries for NULLs), header and every byte. */
static void
expect_array(int p, const char *const *want, uint32_t n)
{
    const unsigned char *d = (const unsigned char *) batch.values[p];
    size_t len = (size_t) batch.lengths[p], off = 20;
    bool nulls = false;
    uint32_t i;

    for (i = 0; i < n; i++)
        nulls |= want[i] == NULL;
    cr_assert(eq(int, batch.formats[p], 1), "parameter %d is not binary", p);
    cr_assert(ge(sz, len, 20));
    cr_assert(eq(u32, be32(d), 1), "parameter %d: dimensions", p);
    cr_assert(eq(u32, be32(d + 4), nulls ? 1 : 0), "parameter %d: has-null flag", p);
    cr_assert(eq(u32, be32(d + 8), 25), "parameter %d: element type", p);
    cr_assert(eq(u32, be32(d + 12), n), "parameter %d: elements", p);
    cr_assert(eq(u32, be32(d + 16), 1), "parameter %d: lower bound", p);
    for (i = 0; i < n; i++)
    {
        int32_t elen;

        cr_assert(le(sz, off + 4, len), "parameter %d ends before element %u", p, i);
        elen = (int32_t) be32(d + off);
        off += 4;
        if (want[i] == NULL)
        {
            cr_assert(eq(i32, elen, -1), "parameter %d element %u should be NULL", p, i);
            continue;
        }
        cr_assert(eq(i32, elen, (int32_t) strlen(want[i])), "parameter %d element %u", p, i);
        cr_assert(le(sz, off + (size_t) elen, len));
        cr_assert(eq(int, memcmp(d + off, want[i], (size_t) elen), 0),
                  "parameter %d element %u: [%.*s], want [%s]", p, i, (int) elen, d + off, want[i]);
        off += (size_t) elen;
    }
    cr_assert(eq(sz, off, len), "parameter %d has bytes after its elements", p);
}

Test(stmt, batch_arrays_carry_every_value_nulls_and_empty_strings)
{
    static char big[3000];
    const char *ids[] = {"1", "2", "3", "4", "5", "6"};
    const char *contents[] = {"hello", NULL,
                              "",      "it's \"quoted\", {braced} \\ NULL",
                              big,     "caf\xc3\xa9 \xf0\x9f\x98\x80"};
    struct stmt *st = NULL;
    uint32_t i;

    memset(big, 'b', sizeof(big) - 1);
    for (i = 0; i < NELEM(ids); i++)
    {
        struct w2j_column c[] = {col("id", "integer", ids[i]), col("content", "text", contents[i]),
                                 col("search", "tsvector", "'x':1")};
        struct w2j_record r = record(W2J_INSERT, &memories, c, NELEM(c), NULL, 0);

        st = lookup(&memories, &r);
        cr_assert(stmt_batch_add(&batch, st, &r, 0, 0));
    }
    cr_assert(eq(u32, batch.nrows, 6));
    cr_assert(eq(ptr, batch.st, st));
    cr_assert(eq(int, stmt_batch_finish(&batch), 2));
    expect_array(0, ids, NELEM(ids));
    expect_array(1, contents, NELEM(contents));
}

Test(stmt, update_batch_puts_the_old_key_first)
{
    const char *keys[] = {"10", "11", "12"};
    const char *contents[] = {"a", "b", NULL};
    uint32_t i;

    for (i = 0; i < NELEM(keys); i++)
    {
        struct w2j_column c[] = {col("id", "integer", keys[i]),
                                 col("content", "text", contents[i])};
        struct w2j_column id[] = {col("id", "integer", keys[i])};
        struct w2j_record r = record(W2J_UPDATE, &memories, c, NELEM(c), id, NELEM(id));
        struct stmt *st = lookup(&memories, &r);

        cr_assert(stmt_batch_add(&batch, st, &r, stmt_key_hash(st, &r), 0));
    }
    cr_assert(eq(int, stmt_batch_finish(&batch), 2));
    expect_array(0, keys, NELEM(keys));
    expect_array(1, contents, NELEM(contents));
}

Test(stmt, key_changing_update_carries_old_and_new_key)
{
    struct w2j_column c[2], id[1];
    struct w2j_record r;
    struct stmt *st = update_memory("5", "6", &r, c, id);
    const char *old_key[] = {"5"}, *new_key[] = {"6"}, *content[] = {"changed"};

    cr_assert(stmt_batch_add(&batch, st, &r, stmt_key_hash(st, &r), 0));
    cr_assert(eq(int, stmt_batch_finish(&batch), 3));
    expect_array(0, old_key, 1);
    expect_array(1, new_key, 1);
    expect_array(2, content, 1);
}

Test(stmt, reset_batch_starts_afresh)
{
    const char *with_null[] = {NULL, "x"};
    const char *without[] = {"y"};
    const char *ids[] = {"1", "2"};
    uint32_t i;
    struct stmt *st = NULL;

    for (i = 0; i < 2; i++)
    {
        struct w2j_column c[] = {col("id", "integer", ids[i]), col("content", "text", with_null[i]),
                                 col("search", "tsvector", "'x':1")};
        struct w2j_record r = record(W2J_INSERT, &memories, c, NELEM(c), NULL, 0);

        st = lookup(&memories, &r);
        cr_assert(stmt_batch_add(&batch, st, &r, 0, 0));
    }
    stmt_batch_finish(&batch);
    expect_array(1, with_null, 2);

    /* limit 0: every buffer is given back, and must be rebuilt */
    stmt_batch_reset(&batch, 0);
    cr_assert(eq(u32, batch.nrows, 0));
    cr_assert(zero(ptr, batch.st));
    {
        struct w2j_column c[] = {col("id", "integer", "9"), col("content", "text", "y"),
                                 col("search", "tsvector", "'x':1")};
        struct w2j_record r = record(W2J_INSERT, &memories, c, NELEM(c), NULL, 0);
        const char *id9[] = {"9"};

        cr_assert(stmt_batch_add(&batch, st, &r, 0, 0));
        stmt_batch_finish(&batch);
        expect_array(0, id9, 1);
        expect_array(1, without, 1);
    }
}

Test(stmt, batch_finds_a_key_twice)
{
    struct w2j_column id5[1], id5b[1], id6[1];
    struct w2j_record r5, r5b, r6;
    struct stmt *st = delete_memory("5", &r5, id5);
    uint64_t k5, k6;

    delete_memory("5", &r5b, id5b);
    delete_memory("6", &r6, id6);
    k5 = stmt_key_hash(st, &r5);
    k6 = stmt_key_hash(st, &r6);
    cr_assert(eq(u64, stmt_key_hash(st, &r5b), k5));
    cr_assert(ne(u64, k5, k6));

    cr_assert_not(stmt_batch_has_key(&batch, k5));
    cr_assert(stmt_batch_add(&batch, st, &r5, k5, 0));
    cr_assert(stmt_batch_has_key(&batch, k5));
    cr_assert(stmt_batch_has_key(&batch, stmt_key_hash(st, &r5b)));
    cr_assert_not(stmt_batch_has_key(&batch, k6));

    stmt_batch_reset(&batch, 1 << 20);
    cr_assert_not(stmt_batch_has_key(&batch, k5), "a reset batch still holds the key");
}

Test(stmt, batch_finds_every_key_of_a_large_batch)
{
    uint64_t keys[500];
    struct stmt *st = NULL;
    uint32_t i;

    for (i = 0; i < NELEM(keys); i++)
    {
        char text[16];
        struct w2j_column id[1];
        struct w2j_record r;

        snprintf(text, sizeof(text), "%u", i * 7);
        st = delete_memory(text, &r, id);
        keys[i] = stmt_key_hash(st, &r);
        cr_assert_not(stmt_batch_has_key(&batch, keys[i]), "key %u found before it was added", i);
        cr_assert(stmt_batch_add(&batch, st, &r, keys[i], 0));
    }
    for (i = 0; i < NELEM(keys); i++)
        cr_assert(stmt_batch_has_key(&batch, keys[i]), "key %u lost", i);
    cr_assert(eq(u32, batch.nrows, NELEM(keys)));
}

Test(stmt, describes_a_key_for_messages)
{
    struct w2j_column id[1];
    struct w2j_record r;
    struct stmt *st = delete_memory("5", &r, id);
    char buf[128];

    expect_str(stmt_describe_key(st, &r, buf, sizeof(buf)), "(id)=(5)");

    st = insert_memory("7", "content");
    {
        struct w2j_column c[] = {col("id", "integer", "7"), col("content", "text", "x"),
                                 col("search", "tsvector", "'x':1")};
        struct w2j_record ins = record(W2J_INSERT, &memories, c, NELEM(c), NULL, 0);

        expect_str(stmt_describe_key(st, &ins, buf, sizeof(buf)), "(id)=(7)");
    }
}

Test(stmt, describes_a_key_without_primary_key_by_its_identity)
{
    struct w2j_column ident[] = {col("a", "text", "x"), col("b", "integer", NULL)};
    struct w2j_record r = record(W2J_DELETE, &notes, NULL, 0, ident, NELEM(ident));
    struct stmt *st = lookup(&notes, &r);
    char buf[128];

    expect_str(stmt_describe_key(st, &r, buf, sizeof(buf)), "(a, b)=(x, NULL)");
}

/* stmt_lookup, staging values longer than OVER, that must succeed. */
static struct stmt *
lookup_staging(struct cat_table *t, const struct w2j_record *rec, size_t over)
{
    struct stmt_error err = {""};
    struct stmt *st = stmt_lookup(&cache, t, rec, over, &err);

    cr_assert_not_null(st, "stmt_lookup failed: %s", err.message);
    return st;
}

Test(stmt, value_over_the_limit_is_read_from_its_staged_parts)
{
    static char big[3000];
    struct w2j_column c[] = {col("id", "integer", "7"), col("content", "text", big),
                             col("search", "tsvector", "'x':1")};
    struct w2j_record r = record(W2J_INSERT, &memories, c, NELEM(c), NULL, 0);
    struct stmt *whole, *staged;
    const char *ids[] = {"7", "7"}, *contents[] = {"42", "43"};

    memset(big, 'b', sizeof(big) - 1);
    c[1].value.len = sizeof(big) - 1;
    whole = lookup_staging(&memories, &r, 0);
    cr_assert(eq(u64, whole->staged, 0), "no limit, yet a value is staged");
    cr_assert(eq(ptr, lookup_staging(&memories, &r, sizeof(big) - 1), whole),
              "a value of the limit itself is staged");
    staged = lookup_staging(&memories, &r, 1000);
    cr_assert(ne(ptr, staged, whole));
    cr_assert(eq(u64, staged->staged, 2), "only the content ($2) is staged");
    cr_assert(eq(ptr, lookup_staging(&memories, &r, 1000), staged));
    expect_str(staged->sql,
               "INSERT INTO \"memori\".\"memories\" AS t (\"id\", \"content\") OVERRIDING SYSTEM "
               "VALUE SELECT u.p1::pg_catalog.int4, u.p2::pg_catalog.text FROM (SELECT u.p1, "
               "(SELECT pg_catalog.string_agg(s.part, '' ORDER BY s.n) FROM "
               "pg_temp.memori_bridge_staged s WHERE s.id = u.p2::pg_catalog.int8 AND s.p = 1) "
               "AS p2 FROM unnest($1::text[], $2::text[]) AS u(p1, p2) OFFSET 0) AS u");
    /* the arrays carry each row's staging id in the value's stead */
    cr_assert(stmt_batch_add(&batch, staged, &r, 0, 42));
    cr_assert(stmt_batch_add(&batch, staged, &r, 0, 43));
    cr_assert(eq(int, stmt_batch_finish(&batch), 2));
    expect_array(0, ids, NELEM(ids));
    expect_array(1, contents, NELEM(contents));
    cr_assert(stmt_param_value(staged, &r, 1) == &c[1].value, "$2 is not the content");
}

Test(stmt, large_identity_of_a_table_without_key_is_compared_once_put_together)
{
    static char big[2000];
    struct w2j_column ident[] = {col("a", "text", big), col("b", "integer", "2")};
    struct w2j_record del = record(W2J_DELETE, &notes, NULL, 0, ident, NELEM(ident));
    struct stmt *d;

    memset(big, 'a', sizeof(big) - 1);
    ident[0].value.len = sizeof(big) - 1;
    d = lookup_staging(&notes, &del, 1000);
    cr_assert(eq(u64, d->staged, 1));
    expect_str(d->sql,
               "WITH u AS (SELECT * FROM (SELECT (SELECT pg_catalog.string_agg(s.part, '' ORDER "
               "BY s.n) FROM pg_temp.memori_bridge_staged s WHERE s.id = u.p1::pg_catalog.int8 "
               "AND s.p = 0) AS p1, u.p2 FROM unnest($1::text[], $2::text[]) AS u(p1, p2) "
               "OFFSET 0) AS u), hit AS (SELECT s.ctid AS tid FROM ONLY \"memori\".\"notes\" AS "
               "s, u WHERE s.\"a\"::text IS NOT DISTINCT FROM u.p1 AND s.\"b\"::text IS NOT "
               "DISTINCT FROM u.p2 LIMIT 1) DELETE FROM ONLY \"memori\".\"notes\" AS t USING hit "
               "WHERE t.ctid = hit.tid");
}
