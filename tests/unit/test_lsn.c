/*
 * test_lsn.c - LSN parsing and formatting.
 */
#include <criterion/criterion.h>
#include <string.h>

#include "decoder/lsn.h"

static lsn_t
parse_ok(const char *s)
{
    lsn_t v = 12345;

    cr_assert(lsn_parse(s, strlen(s), &v), "\"%s\" should parse", s);
    return v;
}

Test(lsn, parses_both_halves_as_hex)
{
    cr_assert_eq(parse_ok("0/0"), 0ull);
    cr_assert_eq(parse_ok("0/1545100"), 0x1545100ull);
    cr_assert_eq(parse_ok("16/B374D848"), 0x16B374D848ull);
    cr_assert_eq(parse_ok("ffffffff/FFFFFFFF"), 0xFFFFFFFFFFFFFFFFull);
}

Test(lsn, rejects_anything_else_and_keeps_the_output)
{
    static const char *const bad[] = {"",      "/",    "0/",  "/0",          "0",
                                      "0/0/0", "g/0",  "0/x", "123456789/0", "0/123456789",
                                      " 0/0",  "0/0 ", "-1/0"};
    size_t i;

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
    {
        lsn_t v = 777;

        cr_assert_not(lsn_parse(bad[i], strlen(bad[i]), &v), "\"%s\" should not parse", bad[i]);
        cr_assert_eq(v, 777ull, "\"%s\" changed the output", bad[i]);
    }
}

Test(lsn, parses_only_the_given_length)
{
    lsn_t v;

    cr_assert(lsn_parse("1/2FFFF", 3, &v));
    cr_assert_eq(v, 0x100000002ull);
}

Test(lsn, formats_as_postgresql_does)
{
    char buf[LSN_BUFSZ];

    cr_assert_str_eq(lsn_format(0x16B374D848ull, buf), "16/B374D848");
    cr_assert_str_eq(lsn_format(0, buf), "0/0");
    cr_assert_str_eq(lsn_format(0xFFFFFFFFFFFFFFFFull, buf), "FFFFFFFF/FFFFFFFF");
}

Test(lsn, round_trips)
{
    static const lsn_t values[] = {1, 0x1545130, 0x100000000ull, 0xDEADBEEFCAFEull};
    size_t i;

    for (i = 0; i < sizeof(values) / sizeof(values[0]); i++)
    {
        char buf[LSN_BUFSZ];
        lsn_t back;

        lsn_format(values[i], buf);
        cr_assert(lsn_parse(buf, strlen(buf), &back));
        cr_assert_eq(back, values[i], "%s", buf);
    }
}
