/*
 * test_copy.c - init's COPY format: binary only between servers of one major
 * version, and the reason said in words (init.h). The clusters of the
 * integration tests are all of one version; the other cases are here.
 */
#include <criterion/criterion.h>
#include <criterion/new/assert.h>
#include <string.h>

#include "bridge/base/conf.h"
#include "bridge/pg/copy.h"

/* Choose for FORMAT between majors SRC and DST; check the outcome, the
 * format chosen, and that the reason matches WANT. */
static void
expect_choice(int format, int src, int dst, bool ok, bool binary, const char *want)
{
    char why[256];
    bool got_binary = !binary;
    bool got = copy_choose_format(format, src, dst, &got_binary, why, sizeof(why));

    cr_assert(eq(int, got, ok), "format %d, %d -> %d: returned %d [%s]", format, src, dst, got,
              why);
    cr_assert(eq(int, got_binary, binary), "format %d, %d -> %d: binary %d [%s]", format, src, dst,
              got_binary, why);
    cr_assert(eq(str, why, (char *) want));
}

Test(copy, auto_takes_binary_between_servers_of_one_major_version)
{
    expect_choice(CONF_COPY_AUTO, 15, 15, true, true,
                  "binary where the types are built in (--copy-format auto): both servers are of "
                  "major version 15");
}

/* The decision record's pair: Supabase 15 into postgres:17-alpine. */
Test(copy, auto_takes_text_between_major_versions)
{
    expect_choice(CONF_COPY_AUTO, 15, 17, true, false,
                  "text (--copy-format auto): the source is of major version 15 and the target "
                  "of 17, and COPY's binary format is not portable between major versions");
}

Test(copy, text_is_text_whatever_the_versions)
{
    expect_choice(CONF_COPY_TEXT, 17, 17, true, false, "text, as --copy-format text asks");
    expect_choice(CONF_COPY_TEXT, 15, 17, true, false, "text, as --copy-format text asks");
}

Test(copy, binary_between_major_versions_is_refused)
{
    expect_choice(CONF_COPY_BINARY, 17, 15, false, false,
                  "--copy-format binary: the source is of major version 17 and the target of "
                  "15, and COPY's binary format is not portable between major versions");
}

Test(copy, binary_between_servers_of_one_major_version)
{
    expect_choice(CONF_COPY_BINARY, 17, 17, true, true,
                  "binary, as --copy-format binary asks: both servers are of major version 17");
}
