#!/bin/bash
# init --copy-format: text copies every table in COPY's text format, and the
# target ends up equal to the source (rows compared, and verify), with
# tsvector, jsonb, arrays, bytea, timestamptz, numeric and NULLs; binary is
# refused before anything is made when a column's type has no portable binary
# form, naming the column and the fix. (auto on one major version: init_basic.
# Between major versions: tests/unit/test_copy.c, the clusters here are all of
# one version.)
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$here/lib.sh"
. "$here/init_lib.sh"
export PGOPTIONS="-c datestyle=ISO -c timezone=UTC -c extra_float_digits=3 -c bytea_output=hex -c client_min_messages=warning"

mb_start 2
mb_source_objects 5000
# every type of golden.types again, and a row of NULLs
mb_sql "$SRC" "INSERT INTO golden.types (id, small, big, num, num_scaled, f8, f4, flag, bin, ints, texts, tstz,
                                         ts, day, span, doc, raw_json, words, uid, code, label, note, huge)
               SELECT g, g, g * 1000000000::bigint, 1.5 * g + 0.000001, g / 7.0, g / 3.0, g / 9.0, g % 2 = 0,
                      decode(repeat('00ff1b', g), 'hex'), ARRAY[g, NULL, -g], ARRAY['a\"b', NULL, E'tab\\there'],
                      '2024-02-01 12:00+02'::timestamptz + g * interval '1 hour 1 second', '2024-02-29 23:59:59.5',
                      '2024-02-01'::date + g, g * interval '1 day 2 ms', jsonb_build_object('k', g, 'q', 'it''s'),
                      '{\"a\": [1, 2]}', to_tsvector('english', 'the agents remembered ' || g || ' dark modes'),
                      md5(g::text)::uuid, 'c' || g % 10, 'label' || g % 10, repeat('n', g), repeat('h', 3000 * g)
               FROM generate_series(2, 40) g;
               INSERT INTO golden.types (id) VALUES (41);
               UPDATE memori.memories SET category = NULL, metadata = NULL, content_tsv = NULL WHERE id % 11 = 0"

# binary is refused for the table whose types are made in the database
mb_expect 1 'source: --copy-format binary: column comp of table golden\.more_types is of type golden\.[a-z_]+, which COPY.s binary format cannot carry to another cluster safely.*; fix: give --copy-format auto' \
    init --source "$SRC" --target "$DST" --schemas memori,golden --replica-identity-full --copy-format binary &&
    mb_ok "--copy-format binary: a column of a type made in the database is refused by name"
grep -q "nothing was changed" "$MB_TMP/err" || mb_fail "init did not say that nothing was changed"
[ "$(mb_val "$SRC" "SELECT count(*) FROM pg_replication_slots")" = 0 ] || mb_fail "a refused init left a slot"

if mb_expect 0 "" init --source "$SRC" --target "$DST" --schemas memori,golden --replica-identity-full \
    --copy-format text; then
    mb_ok "init --copy-format text"
fi
grep -q "COPY format: text, as --copy-format text asks$" "$MB_TMP/err" && mb_ok "init says text, and why" ||
    mb_fail "no word of the format: $(grep -i format "$MB_TMP/err")"
grep -qE "copying 10 table\(s\) in [0-9]+ unit\(s\) over [0-9]+ connection\(s\): 0 in COPY's binary format, 10 in text$" "$MB_TMP/err" &&
    mb_ok "every table in text" || mb_fail "the copy line: $(grep copying "$MB_TMP/err")"
mb_compare_schema
mb_compare_all
mb_expect 0 "" verify --source "$SRC" --target "$DST" --schemas memori,golden &&
    grep -q "verdict: equal" "$MB_TMP/out" && mb_ok "verify: equal after a text copy" ||
    mb_fail "verify after a text copy: $(cat "$MB_TMP/out" "$MB_TMP/err")"

# and the stream goes on from it
mb_sql "$SRC" "INSERT INTO golden.types (id, num, words) VALUES (42, 'NaN', 'late:1')"
mb_sql "$SRC" "UPDATE memori.memories SET use_count = use_count + 1 WHERE id % 13 = 0"
if mb_run_to_end --schemas memori,golden; then mb_ok "run after a text init"; else mb_fail "run after a text init exited $?"; fi
mb_compare golden.types "SELECT id, words, doc, ints, bin FROM golden.types ORDER BY id"
mb_compare memori.memories
mb_finish
