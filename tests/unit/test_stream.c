/*
 * test_stream.c - the START_REPLICATION command: the slot as a quoted
 * identifier, the wal2json options as string constants, and the schemas in
 * wal2json's add-tables syntax.
 */
#include <criterion/criterion.h>
#include <criterion/new/assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bridge/streaming/stream.h"

#define expect_str(got, want) cr_assert(eq(str, (char *) (got), (char *) (want)))

/* The options every command carries, before add-tables. */
#define FIXED_OPTIONS                                                                              \
    "(\"format-version\" '2', \"include-xids\" '1', \"include-lsn\" '1', "                         \
    "\"include-timestamp\" '1', \"include-types\" '1', \"include-type-oids\" '1', "                \
    "\"include-column-positions\" '1', "

static struct stream_options
options(const char *slot, const char *schemas)
{
    struct stream_options o = {.slot = slot, .schemas = schemas, .role = "source"};

    return o;
}

/* The command for O, which must build. */
static const char *
command(const struct stream_options *o)
{
    static char buf[2048];

    cr_assert(stream_command(o, buf, sizeof(buf)), "slot [%s] schemas [%s] refused", o->slot,
              o->schemas);
    return buf;
}

/* The add-tables value of the command for SCHEMAS: what stands between
 * "add-tables" ' and the closing '). */
static void
expect_add_tables(const char *schemas, const char *want)
{
    struct stream_options o = options("s", schemas);
    const char *cmd = command(&o);
    const char *start = strstr(cmd, "\"add-tables\" '");
    char got[512];
    size_t len;

    cr_assert_not_null(start, "[%s]", cmd);
    start += strlen("\"add-tables\" '");
    len = strlen(start);
    cr_assert(ge(sz, len, 2), "[%s]", cmd);
    cr_assert(eq(str, (char *) start + len - 2, "')"), "add-tables is not last: [%s]", cmd);
    snprintf(got, sizeof(got), "%.*s", (int) (len - 2), start);
    expect_str(got, want);
}

Test(stream, command_for_a_plain_slot)
{
    struct stream_options o = options("memori_bridge", "memori");

    expect_str(command(&o), "START_REPLICATION SLOT \"memori_bridge\" LOGICAL 0/0 " FIXED_OPTIONS
                            "\"add-tables\" 'memori.*')");
}

Test(stream, command_starts_at_the_given_position)
{
    struct stream_options o = options("memori_bridge", "memori");

    o.start = 0x16B374D848ull;
    expect_str(command(&o),
               "START_REPLICATION SLOT \"memori_bridge\" LOGICAL 16/B374D848 " FIXED_OPTIONS
               "\"add-tables\" 'memori.*')");
}

Test(stream, quotes_a_slot_name_holding_a_double_quote)
{
    struct stream_options o = options("a\"b", "memori");

    expect_str(command(&o), "START_REPLICATION SLOT \"a\"\"b\" LOGICAL 0/0 " FIXED_OPTIONS
                            "\"add-tables\" 'memori.*')");
}

Test(stream, streams_every_listed_schema)
{
    expect_add_tables("memori, bench", "memori.*,bench.*");
    expect_add_tables("memori,bench,x", "memori.*,bench.*,x.*");
    expect_add_tables(" memori ,, bench ", "memori.*,bench.*");
}

Test(stream, escapes_wal2json_special_characters_with_a_backslash)
{
    expect_add_tables("my schema", "my\\ schema.*");
    expect_add_tables("a.b", "a\\.b.*");
    expect_add_tables("st*r", "st\\*r.*");
    expect_add_tables("back\\slash", "back\\\\slash.*");
}

/* A comma cannot reach add_tables inside a name: it separates the list. */

Test(stream, keeps_every_space_inside_a_schema_name)
{
    expect_add_tables("two  spaces", "two\\ \\ spaces.*");
    expect_add_tables(" lead and trail  ", "lead\\ and\\ trail.*");
}

Test(stream, doubles_a_single_quote_in_a_value)
{
    struct stream_options o = options("s", "o'brien");

    expect_add_tables("o'brien", "o''brien.*");
    o.filter_origins = "1'2";
    cr_assert(not(zero(ptr, strstr(command(&o), "\"filter-origins\" '1''2')"))), "[%s]",
              command(&o));
}

Test(stream, filters_origins_only_when_given)
{
    struct stream_options o = options("s", "memori");

    cr_assert(zero(ptr, strstr(command(&o), "filter-origins")), "[%s]", command(&o));
    o.filter_origins = "";
    cr_assert(zero(ptr, strstr(command(&o), "filter-origins")), "[%s]", command(&o));
    o.filter_origins = "1,2";
    expect_str(command(&o), "START_REPLICATION SLOT \"s\" LOGICAL 0/0 " FIXED_OPTIONS
                            "\"add-tables\" 'memori.*', \"filter-origins\" '1,2')");
}

Test(stream, refuses_an_empty_schema_list)
{
    static const char *const empty[] = {"", " ", ",", " , ,"};
    size_t i;

    for (i = 0; i < sizeof(empty) / sizeof(empty[0]); i++)
    {
        struct stream_options o = options("s", empty[i]);
        char buf[1024];

        cr_assert_not(stream_command(&o, buf, sizeof(buf)), "schemas [%s] accepted: [%s]", empty[i],
                      buf);
    }
}

/* Never a partial command, never a byte past the buffer. (It asks for a
 * little more room than the command takes: an exact fit is refused.) */
Test(stream, refuses_a_buffer_too_small_without_overrunning_it)
{
    struct stream_options o = options("memori_bridge", "memori, bench");
    char full[1024];
    size_t need, len;

    o.filter_origins = "1";
    cr_assert(stream_command(&o, full, sizeof(full)));
    need = strlen(full) + 1;
    for (len = 1; len <= need + 8; len++)
    {
        char *buf = malloc(len); /* exactly LEN bytes: an overrun is caught by ASan */

        cr_assert_not_null(buf);
        if (stream_command(&o, buf, len))
        {
            cr_assert(ge(sz, len, need), "a command of %zu bytes in %zu", need, len);
            expect_str(buf, full);
        }
        else
            cr_assert(lt(sz, len, need + 4), "refused with %zu bytes for %zu", len, need);
        free(buf);
    }
}
