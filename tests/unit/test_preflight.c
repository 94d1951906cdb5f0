/*
 * test_preflight.c - reading output_plugin_libraries as the server does
 * (init's preflight and status both judge it this way).
 */
#include <criterion/criterion.h>
#include <criterion/new/assert.h>

#include "bridge/pg/preflight.h"

Test(preflight, finds_an_item_of_the_list)
{
    cr_assert(preflight_list_has("pgoutput, test_decoding, wal2json", "wal2json"));
    cr_assert(preflight_list_has("wal2json", "wal2json"));
    cr_assert(preflight_list_has("wal2json,pgoutput", "wal2json"));
    cr_assert(preflight_list_has("pgoutput,  wal2json  ", "wal2json"));
    cr_assert(preflight_list_has("pgoutput, \"wal2json\"", "wal2json"), "a quoted item");
}

Test(preflight, a_quoted_list_is_one_item)
{
    /* ALTER SYSTEM SET output_plugin_libraries = 'pgoutput, wal2json' stores one
     * library of that name: the server allows neither */
    cr_assert(not(preflight_list_has("\"pgoutput, wal2json\"", "wal2json")));
}

Test(preflight, a_prefix_or_an_empty_list_is_not_the_item)
{
    cr_assert(not(preflight_list_has("", "wal2json")));
    cr_assert(not(preflight_list_has("pgoutput", "wal2json")));
    cr_assert(not(preflight_list_has("wal2json_old, pgoutput", "wal2json")));
    cr_assert(not(preflight_list_has("my_wal2json", "wal2json")));
}
