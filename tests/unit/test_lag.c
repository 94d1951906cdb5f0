/*
 * test_lag.c - the commit timestamp parser and the lag line's text and JSON
 * forms.
 *
 * Expected instants were computed independently (Python's calendar.timegm).
 */
#include <criterion/criterion.h>
#include <criterion/new/assert.h>
#include <string.h>

#include "bridge/base/lag.h"

#define expect_str(got, want) cr_assert(eq(str, (char *) (got), (char *) (want)))
#define NELEM(a)              (sizeof(a) / sizeof((a)[0]))

/* 2026-11-25 04:15:52.520718 UTC in microseconds since the Unix epoch. */
#define NOV25_US INT64_C(1795580152520718)

static int64_t
parse_ok(const char *s)
{
    int64_t us = -1;

    cr_assert(lag_parse_timestamp(s, &us), "\"%s\" should parse", s);
    return us;
}

Test(lag, parses_postgresql_timestamptz_to_the_microsecond)
{
    cr_assert(eq(i64, parse_ok("2026-11-25 04:15:52.520718+00"), NOV25_US));
}

Test(lag, applies_hour_and_minute_offsets)
{
    cr_assert(eq(i64, parse_ok("2026-11-25 09:45:52.520718+05:30"), NOV25_US));
    cr_assert(eq(i64, parse_ok("2026-11-24 20:15:52.520718-08"), NOV25_US));
    cr_assert(eq(i64, parse_ok("2026-11-25 04:15:52.520718-00:00"), NOV25_US));
}

Test(lag, parses_without_a_fraction)
{
    cr_assert(eq(i64, parse_ok("2026-11-25 04:15:52+00"), NOV25_US - 520718));
}

Test(lag, scales_a_short_fraction)
{
    cr_assert(eq(i64, parse_ok("2026-11-25 04:15:52.5+00"), NOV25_US - 520718 + 500000));
    cr_assert(eq(i64, parse_ok("2026-11-25 04:15:52.05+00"), NOV25_US - 520718 + 50000));
}

Test(lag, takes_a_t_separator)
{
    cr_assert(eq(i64, parse_ok("2026-11-25T04:15:52.520718+00"), NOV25_US));
}

Test(lag, counts_from_the_unix_epoch_on_both_sides)
{
    cr_assert(eq(i64, parse_ok("1970-01-01 00:00:00+00"), 0));
    cr_assert(eq(i64, parse_ok("1970-01-01 01:00:00+01"), 0));
    cr_assert(eq(i64, parse_ok("1969-12-31 23:59:59.5+00"), -500000));
    cr_assert(eq(i64, parse_ok("2024-02-29 12:00:00+00"), INT64_C(1709208000000000)));
}

Test(lag, rejects_anything_else_and_keeps_the_output)
{
    static const char *const bad[] = {
        "",
        "garbage",
        "2026-11-25",
        "2026-11-25 04:15:52.520718+00 trailing",
        "2026-11-25 04:15:52+00x",
        "2026-13-25 04:15:52+00",
        "2026-00-25 04:15:52+00",
        "2026-11-32 04:15:52+00",
        "2026-11-25 04:61:52+00",
        "2026-11-25_04:15:52+00",
        "2026-11-25 04:15:52.+00",
        "2026-11-25 04:15:52+5",
        "2026/11/25 04:15:52+00",
        "26-11-25 04:15:52+00",
    };
    size_t i;

    for (i = 0; i < NELEM(bad); i++)
    {
        int64_t us = 777;

        cr_assert_not(lag_parse_timestamp(bad[i], &us), "\"%s\" should not parse", bad[i]);
        cr_assert(eq(i64, us, 777), "\"%s\" changed the output", bad[i]);
    }
}

static struct lag_sample
behind(void)
{
    struct lag_sample s = {
        .applied = 0x3000148,
        .durable = 0x3000100,
        .source = 0x3000180,
        .lag_bytes = 56,
        .lag_seconds = 1.25,
        .changes_per_s = 1234.5,
        .xacts_per_s = 10,
        .ring_fill = 3,
        .ring_size = 16,
        .caught_up = false,
    };

    return s;
}

static struct lag_sample
unknown_source(void)
{
    struct lag_sample s = behind();

    s.source = LSN_INVALID;
    s.lag_bytes = -1;
    s.lag_seconds = -1;
    return s;
}

Test(lag, text_line_gives_every_figure)
{
    struct lag_sample s = behind();
    char buf[256];

    expect_str(lag_format_text(&s, buf, sizeof(buf)),
               "lag applied=0/3000148 source=0/3000180 bytes=56 seconds=1.250 changes/s=1234.5 "
               "xacts/s=10.0 ring=3/16");
}

Test(lag, text_line_says_unknown_for_an_unknown_source)
{
    struct lag_sample s = unknown_source();
    char buf[256];

    expect_str(lag_format_text(&s, buf, sizeof(buf)),
               "lag applied=0/3000148 source=unknown bytes=unknown seconds=unknown "
               "changes/s=1234.5 xacts/s=10.0 ring=3/16");
}

Test(lag, text_line_marks_caught_up)
{
    struct lag_sample s = behind();
    char buf[256];

    s.source = s.applied;
    s.lag_bytes = 0;
    s.lag_seconds = 0;
    s.caught_up = true;
    expect_str(lag_format_text(&s, buf, sizeof(buf)),
               "lag applied=0/3000148 source=0/3000148 bytes=0 seconds=0.000 changes/s=1234.5 "
               "xacts/s=10.0 ring=3/16 caught-up");
}

Test(lag, text_and_json_name_the_link_that_is_down)
{
    struct lag_sample s = unknown_source();
    char buf[512];

    s.link_down = "source";
    expect_str(lag_format_text(&s, buf, sizeof(buf)),
               "lag applied=0/3000148 source=unknown bytes=unknown seconds=unknown "
               "changes/s=1234.5 xacts/s=10.0 ring=3/16 source-link-down");
    s.link_down = "target";
    lag_format_json(&s, buf, sizeof(buf));
    cr_assert(not(zero(ptr, strstr(buf, ",\"link_down\":\"target\",\"caught_up\":false"))),
              "[%s]", buf);
}

Test(lag, json_members_give_every_figure)
{
    struct lag_sample s = behind();
    char buf[512];

    expect_str(lag_format_json(&s, buf, sizeof(buf)),
               "\"applied_lsn\":\"0/3000148\",\"durable_lsn\":\"0/3000100\","
               "\"source_lsn\":\"0/3000180\",\"lag_bytes\":56,\"lag_seconds\":1.250,"
               "\"changes_per_s\":1234.5,\"xacts_per_s\":10.0,\"ring_fill\":3,\"ring_size\":16,"
               "\"caught_up\":false");
}

Test(lag, json_members_are_null_for_an_unknown_source)
{
    struct lag_sample s = unknown_source();
    char buf[512];

    expect_str(lag_format_json(&s, buf, sizeof(buf)),
               "\"applied_lsn\":\"0/3000148\",\"durable_lsn\":\"0/3000100\",\"source_lsn\":null,"
               "\"lag_bytes\":null,\"lag_seconds\":null,\"changes_per_s\":1234.5,"
               "\"xacts_per_s\":10.0,\"ring_fill\":3,\"ring_size\":16,\"caught_up\":false");
}

Test(lag, json_members_mark_caught_up)
{
    struct lag_sample s = behind();
    char buf[512];

    s.caught_up = true;
    lag_format_json(&s, buf, sizeof(buf));
    cr_assert(not(zero(ptr, strstr(buf, ",\"caught_up\":true"))), "[%s]", buf);
    cr_assert(eq(sz, strlen(strstr(buf, ",\"caught_up\":true")), strlen(",\"caught_up\":true")),
              "caught_up is not the last member: [%s]", buf);
}

Test(lag, cuts_a_line_that_does_not_fit)
{
    struct lag_sample s = behind();
    char buf[16];

    memset(buf, 'x', sizeof(buf));
    lag_format_text(&s, buf, sizeof(buf));
    expect_str(buf, "lag applied=0/3");
    lag_format_json(&s, buf, sizeof(buf));
    expect_str(buf, "\"applied_lsn\":\"");
}
