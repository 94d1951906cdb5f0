/*
 * test_metrics.c - the metrics endpoint's pieces that need no server: the
 * address parser, the per-table tally (published at commit, discarded at
 * rollback), and the text rendering (escaping, unknown figures left out, a
 * link that is down, and a lag that keeps growing while it is).
 * tests/integration/run_metrics.sh scrapes a running bridge with curl and
 * promtool.
 */
#include <criterion/criterion.h>
#include <criterion/new/assert.h>
#include <stdlib.h>
#include <string.h>

#include "bridge/base/clock.h"
#include "bridge/streaming/metrics.h"
#include "bridge/streaming/tally.h"

static void
expect_addr(const char *addr, const char *host, const char *port)
{
    char h[64] = "", p[8] = "";

    cr_assert(metrics_parse_addr(addr, h, sizeof(h), p, sizeof(p)), "\"%s\" should parse", addr);
    cr_assert(eq(str, h, (char *) host), "host of \"%s\"", addr);
    cr_assert(eq(str, p, (char *) port), "port of \"%s\"", addr);
}

Test(metrics, parses_host_and_port)
{
    expect_addr("127.0.0.1:9187", "127.0.0.1", "9187");
    expect_addr("localhost:0", "localhost", "0");
    expect_addr("[::1]:9187", "::1", "9187");
    expect_addr("0.0.0.0:65535", "0.0.0.0", "65535");
}

Test(metrics, rejects_what_is_not_host_and_port)
{
    const char *bad[] = {"", "9187", "127.0.0.1", "127.0.0.1:", ":9187", "::1:9187",
                         "[::1]9187", "[::1]:", "127.0.0.1:65536", "127.0.0.1:-1",
                         "127.0.0.1:+80", "127.0.0.1:80x", "[]:80"};
    char h[64], p[8];
    size_t i;

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        cr_assert(not(metrics_parse_addr(bad[i], h, sizeof(h), p, sizeof(p))),
                  "\"%s\" should be refused", bad[i]);
    cr_assert(not(metrics_parse_addr(NULL, h, sizeof(h), p, sizeof(p))));
}

static struct run_state st;

Test(tally, counts_reach_the_state_only_at_publish)
{
    struct tally t = {0};
    int m, e;

    memset(&st, 0, sizeof(st));
    m = tally_table(&st, "memori", "memories");
    e = tally_table(&st, "memori", "entities");
    cr_assert(eq(int, m, 0));
    cr_assert(eq(int, e, 1));
    cr_assert(eq(int, tally_table(&st, "memori", "memories"), 0), "found again, not added");
    cr_assert(eq(str, st.tables[1].name, "memori.entities"));

    /* transaction 1: two inserts into memories, one into entities */
    tally_change(&t, m, STATE_INSERT);
    tally_change(&t, m, STATE_INSERT);
    tally_change(&t, e, STATE_INSERT);
    tally_xact_end(&t);
    /* transaction 2: an update and a delete of memories */
    tally_change(&t, m, STATE_UPDATE);
    tally_change(&t, m, STATE_DELETE);
    tally_xact_end(&t);
    cr_assert(eq(u64, atomic_load(&st.tables[0].n[STATE_INSERT]), 0), "nothing before commit");

    tally_publish(&t, &st);
    cr_assert(eq(u64, atomic_load(&st.tables[0].n[STATE_INSERT]), 2));
    cr_assert(eq(u64, atomic_load(&st.tables[0].n[STATE_UPDATE]), 1));
    cr_assert(eq(u64, atomic_load(&st.tables[0].n[STATE_DELETE]), 1));
    cr_assert(eq(u64, atomic_load(&st.tables[0].xacts), 2));
    cr_assert(eq(u64, atomic_load(&st.tables[1].n[STATE_INSERT]), 1));
    cr_assert(eq(u64, atomic_load(&st.tables[1].xacts), 1));

    /* published once: a second publish adds nothing */
    tally_publish(&t, &st);
    cr_assert(eq(u64, atomic_load(&st.tables[0].n[STATE_INSERT]), 2));
}

Test(tally, a_rollback_forgets_the_group)
{
    struct tally t = {0};
    int m;

    memset(&st, 0, sizeof(st));
    m = tally_table(&st, "memori", "memories");
    tally_change(&t, m, STATE_INSERT);
    tally_xact_end(&t);
    tally_discard(&t);
    /* the group replayed, committed this time */
    tally_change(&t, m, STATE_INSERT);
    tally_xact_end(&t);
    tally_publish(&t, &st);
    cr_assert(eq(u64, atomic_load(&st.tables[0].n[STATE_INSERT]), 1));
    cr_assert(eq(u64, atomic_load(&st.tables[0].xacts), 1));
}

Test(tally, tables_past_the_list_are_not_counted_per_table)
{
    struct tally t = {0};
    char name[16];
    int i;

    memset(&st, 0, sizeof(st));
    for (i = 0; i < STATE_MAX_TABLES; i++)
    {
        snprintf(name, sizeof(name), "t%d", i);
        cr_assert(eq(int, tally_table(&st, "s", name), i));
    }
    cr_assert(eq(int, tally_table(&st, "s", "one_more"), -1));
    tally_change(&t, -1, STATE_INSERT); /* ignored, no crash */
    tally_change(&t, STATE_MAX_TABLES - 1, STATE_TRUNCATE);
    tally_xact_end(&t);
    tally_publish(&t, &st);
    cr_assert(eq(u64, atomic_load(&st.tables[STATE_MAX_TABLES - 1].n[STATE_TRUNCATE]), 1));
    cr_assert(eq(u64, atomic_load(&st.tables[STATE_MAX_TABLES - 1].xacts), 1));
}

Test(metrics, renders_escaped_labels_and_leaves_out_unknown_figures)
{
    struct conf c = {0};
    struct ring r = {0};
    char *text;

    memset(&st, 0, sizeof(st));
    c.slot = "memori_bridge";
    atomic_store(&st.lag_bytes, -1);
    atomic_store(&st.lag_us, -1);
    atomic_store(&st.applied, UINT64_C(0x100000028));
    atomic_store(&st.reverse, true);
    tally_table(&st, "odd\"schema", "back\\slash");
    atomic_store(&st.tables[0].n[STATE_DELETE], 7);
    text = metrics_render(&c, &st, &r);
    cr_assert(text != NULL);
    cr_assert(strstr(text, "memori_bridge_applied_lsn 4294967336\n") != NULL, "%s", text);
    cr_assert(strstr(text, "memori_bridge_table_changes_applied_total{table=\"odd\\\"schema."
                           "back\\\\slash\",action=\"delete\"} 7\n") != NULL,
              "%s", text);
    cr_assert(strstr(text, "slot=\"memori_bridge_reverse\"") != NULL, "%s", text);
    cr_assert(strstr(text, "direction=\"reverse\",from=\"target\",to=\"source\"") != NULL, "%s",
              text);
    cr_assert(strstr(text, "memori_bridge_lag_bytes ") == NULL, "unknown lag left out");
    cr_assert(strstr(text, "memori_bridge_lag_seconds ") == NULL, "unknown lag left out");
    cr_assert(strstr(text, "memori_bridge_source_lsn ") == NULL, "unknown source left out");
    cr_assert(strstr(text, "# TYPE memori_bridge_reconnects_total counter\n") != NULL);
    cr_assert(strstr(text, "process_resident_memory_bytes ") != NULL);
    free(text);
}

Test(metrics, a_link_down_shows_and_its_lag_keeps_growing)
{
    struct conf c = {0};
    struct ring r = {0};
    int64_t now = clock_wall_us();
    double lag = 0;
    char *text, *at;

    memset(&st, 0, sizeof(st));
    c.slot = "memori_bridge";
    atomic_store(&st.lag_bytes, 0);
    atomic_store(&st.lag_us, 0); /* the last sample, before the link went down */
    atomic_store(&st.caught_up, true);
    atomic_store(&st.caught_up_us, now - 40 * INT64_C(1000000));
    atomic_store(&st.applied_commit_us, now - 90 * INT64_C(1000000));
    atomic_store(&st.streaming, false);
    atomic_store(&st.link_down, STATE_LINK_FROM);
    atomic_store(&st.link_down_us, now - 35 * INT64_C(1000000));
    text = metrics_render(&c, &st, &r);
    cr_assert(text != NULL);
    cr_assert(strstr(text, "memori_bridge_streaming 0\n") != NULL, "%s", text);
    cr_assert(strstr(text, "memori_bridge_link_up{side=\"source\"} 0\n") != NULL, "%s", text);
    cr_assert(strstr(text, "memori_bridge_link_up{side=\"target\"} 1\n") != NULL, "%s", text);
    cr_assert(strstr(text, "memori_bridge_link_down_seconds 3") != NULL, "%s", text);
    /* from the last moment everything was known applied, not the last sample */
    at = strstr(text, "\nmemori_bridge_lag_seconds ");
    cr_assert(at != NULL && sscanf(at, "\nmemori_bridge_lag_seconds %lf", &lag) == 1, "%s", text);
    cr_assert(ge(dbl, lag, 40.0), "lag %.3f s", lag);
    cr_assert(lt(dbl, lag, 60.0), "lag %.3f s", lag);
    free(text);
}
