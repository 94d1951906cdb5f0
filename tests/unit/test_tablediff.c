/*
 * test_tablediff.c - which type changes the bridge follows by itself (a
 * widening keeps every value as it is), and how two sides' definitions
 * differ, with the fix for each.
 */
#include <criterion/criterion.h>
#include <criterion/new/assert.h>
#include <string.h>

#include "bridge/pg/tablediff.h"

#define fits(a, b)   cr_assert(tablediff_type_fits(a, b), "%s should fit %s", a, b)
#define no_fit(a, b) cr_assert(not(tablediff_type_fits(a, b)), "%s should not fit %s", a, b)

Test(tablediff, widened_types_fit)
{
    fits("character varying(10)", "character varying(20)");
    fits("character varying(10)", "character varying");
    fits("character varying(10)", "text");
    fits("character varying", "text");
    fits("smallint", "integer");
    fits("integer", "bigint");
    fits("smallint", "bigint");
    fits("integer", "numeric");
    fits("numeric(10,2)", "numeric(12,2)");
    fits("numeric(10,2)", "numeric(12,4)");
    fits("numeric(10)", "numeric(12,2)");
    fits("numeric(10,2)", "numeric");
    fits("real", "double precision");
    fits("character varying(10)[]", "character varying(20)[]");
    fits("integer", "integer");
}

Test(tablediff, narrowed_or_other_types_do_not_fit)
{
    no_fit("character varying(20)", "character varying(10)");
    no_fit("text", "character varying(10)");
    no_fit("bigint", "integer");
    no_fit("integer", "numeric(10,2)");
    no_fit("numeric(12,2)", "numeric(10,2)");
    no_fit("numeric(10,4)", "numeric(10,2)");
    no_fit("numeric(10,2)", "numeric(10,4)"); /* two integer digits fewer */
    no_fit("numeric", "numeric(30,2)");
    no_fit("double precision", "real");
    no_fit("integer", "text");
    no_fit("character varying(10)", "character varying(20)[]");
    no_fit("timestamp without time zone", "timestamp with time zone");
}

Test(tablediff, a_qualification_is_not_a_difference)
{
    char buf[64];

    cr_assert(eq(str, (char *) tablediff_type_norm("memori.mood[]", buf, sizeof(buf)), "mood[]"));
    cr_assert(
        eq(str, (char *) tablediff_type_norm("\"a.b\".\"c.d\"", buf, sizeof(buf)), "\"c.d\""));
    cr_assert(
        eq(str, (char *) tablediff_type_norm("numeric(10,2)", buf, sizeof(buf)), "numeric(10,2)"));
    fits("memori.mood", "mood");
}

static struct td_column
column(int attnum, const char *name, const char *type)
{
    struct td_column c;

    memset(&c, 0, sizeof(c));
    c.attnum = attnum;
    c.name = name;
    c.type = type;
    return c;
}

static struct td_table
table(const char *name, struct td_column *cols, int ncols)
{
    struct td_table t;

    memset(&t, 0, sizeof(t));
    t.schema = "memori";
    t.name = name;
    t.qualified = strcmp(name, "notes") == 0 ? "memori.notes" : "memori.other";
    t.replident = 'd';
    t.cols = cols;
    t.ncols = ncols;
    return t;
}

static const struct td_diff *
find(const struct td_diffs *d, enum td_kind kind)
{
    int i;

    for (i = 0; i < d->n; i++)
        if (d->d[i].kind == kind)
            return &d->d[i];
    return NULL;
}

Test(tablediff, a_new_column_is_added_and_a_widened_type_followed)
{
    struct td_column fc[3] = {column(1, "id", "integer"), column(2, "body", "text"),
                              column(3, "score", "double precision")};
    struct td_column tc[2] = {column(1, "id", "integer"),
                              column(2, "body", "character varying(10)")};
    struct td_table ft = table("notes", fc, 3), tt = table("notes", tc, 2);
    struct tabledefs from = {.tables = &ft, .ntables = 1}, to = {.tables = &tt, .ntables = 1};
    struct td_diffs d;
    const struct td_diff *x;

    fc[2].def = "random()";
    cr_assert(tablediff(&from, &to, "source", "target", &d));
    cr_assert_eq(d.n, 2, "%d differences", d.n);
    x = find(&d, TD_COLUMN_MISSING);
    cr_assert_not_null(x);
    cr_assert(x->automatic);
    cr_assert(
        eq(str, x->fix,
           "ALTER TABLE memori.notes ADD COLUMN \"score\" double precision DEFAULT random()"));
    x = find(&d, TD_COLUMN_TYPE);
    cr_assert_not_null(x);
    cr_assert(x->automatic);
    cr_assert(eq(str, x->fix, "ALTER TABLE memori.notes ALTER COLUMN \"body\" TYPE text"));
    tablediff_free(&d);
}

Test(tablediff, a_column_on_the_target_only_names_drop_and_rename)
{
    struct td_column fc[2] = {column(1, "id", "integer"), column(3, "label", "text")};
    struct td_column tc[2] = {column(1, "id", "integer"), column(2, "title", "text")};
    struct td_table ft = table("notes", fc, 2), tt = table("notes", tc, 2);
    struct tabledefs from = {.tables = &ft, .ntables = 1}, to = {.tables = &tt, .ntables = 1};
    struct td_diffs d;
    const struct td_diff *x;

    cr_assert(tablediff(&from, &to, "source", "target", &d));
    x = find(&d, TD_COLUMN_EXTRA);
    cr_assert_not_null(x);
    cr_assert(not(x->automatic));
    cr_assert(strstr(x->fix, "ALTER TABLE memori.notes DROP COLUMN \"title\"") != NULL, "%s",
              x->fix);
    cr_assert(strstr(x->fix, "RENAME COLUMN \"title\" TO \"label\"") != NULL, "%s", x->fix);
    tablediff_free(&d);
}

Test(tablediff, a_narrowed_type_stops_with_the_conversion)
{
    struct td_column fc[1] = {column(1, "id", "integer")};
    struct td_column tc[1] = {column(1, "id", "bigint")};
    struct td_table ft = table("notes", fc, 1), tt = table("notes", tc, 1);
    struct tabledefs from = {.tables = &ft, .ntables = 1}, to = {.tables = &tt, .ntables = 1};
    struct td_diffs d;

    cr_assert(tablediff(&from, &to, "source", "target", &d));
    cr_assert_eq(d.n, 1);
    cr_assert(not(d.d[0].automatic));
    cr_assert(
        eq(str, d.d[0].fix,
           "ALTER TABLE memori.notes ALTER COLUMN \"id\" TYPE integer USING \"id\"::integer"));
    tablediff_free(&d);
}

Test(tablediff, a_table_dropped_or_renamed)
{
    struct td_column c[1] = {column(1, "id", "integer")};
    struct td_table ft = table("other", c, 1), tt = table("notes", c, 1);
    struct tabledefs from = {.tables = &ft, .ntables = 1}, to = {.tables = &tt, .ntables = 1};
    struct td_diffs d;
    const struct td_diff *x;

    cr_assert(tablediff(&from, &to, "source", "target", &d));
    x = find(&d, TD_TABLE_EXTRA);
    cr_assert_not_null(x);
    cr_assert(strstr(x->fix, "DROP TABLE memori.notes") != NULL, "%s", x->fix);
    cr_assert(strstr(x->fix, "ALTER TABLE memori.notes RENAME TO \"other\"") != NULL, "%s", x->fix);
    cr_assert(find(&d, TD_TABLE_MISSING)->automatic);
    tablediff_free(&d);
}
