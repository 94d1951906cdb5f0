#!/bin/bash
# init: the target's schema made from the source's own definitions, every
# table copied in the slot's snapshot, sequences set, the progress set to the
# slot's consistent point, and run going on from there with no gap and no
# overlap. The schema's collations come along. Also: a table without a key
# is refused by name (and accepted with --replica-identity-full), a finished
# init is not run twice, non-empty target tables are refused (each named)
# unless --force, and nothing is changed when init refuses.
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$here/lib.sh"
. "$here/init_lib.sh"
export PGOPTIONS="-c datestyle=ISO -c timezone=UTC -c extra_float_digits=3 -c bytea_output=hex -c client_min_messages=warning"

mb_start 2
mb_source_objects 20000
# a collation of the schema (ICU, case-insensitive), used by a column
mb_sql "$SRC" "CREATE COLLATION golden.ci (provider = icu, locale = 'und-u-ks-level2', deterministic = false);
               ALTER TABLE golden.pair ADD COLUMN label text COLLATE golden.ci DEFAULT 'Same'"

# golden.nopk has no key: refused by name, and nothing made on either side
mb_expect 1 'source: table "golden"\."nopk" has no primary key or replica identity: wal2json would drop its UPDATEs and DELETEs; fix: ALTER TABLE "golden"\."nopk" ADD PRIMARY KEY \(\.\.\.\), or ALTER TABLE "golden"\."nopk" REPLICA IDENTITY FULL \(init --replica-identity-full does that\)' \
    init --source "$SRC" --target "$DST" --schemas memori,golden && mb_ok "a table without a key is refused by name"
grep -q "nothing was changed" "$MB_TMP/err" || mb_fail "init did not say that nothing was changed"
[ "$(mb_val "$SRC" "SELECT count(*) FROM pg_replication_slots")" = 0 ] || mb_fail "a refused init left a slot"
[ "$(mb_val "$DST" "SELECT count(*) FROM pg_namespace WHERE nspname IN ('memori', 'golden', 'memori_bridge')")" = 0 ] ||
    mb_fail "a refused init made schemas on the target"

if mb_expect 0 "" init --source "$SRC" --target "$DST" --schemas memori,golden --replica-identity-full; then
    mb_ok "init with --replica-identity-full"
fi
grep -q 'set REPLICA IDENTITY FULL on "golden"."nopk"' "$MB_TMP/err" || mb_fail "no word of REPLICA IDENTITY FULL"
[ "$(mb_val "$SRC" "SELECT relreplident FROM pg_class WHERE oid = 'golden.nopk'::regclass")" = f ] ||
    mb_fail "golden.nopk has no REPLICA IDENTITY FULL"
grep -qE "copied [0-9]+ rows" "$MB_TMP/err" || mb_fail "no copy summary: $(tail -3 "$MB_TMP/err")"
# one major version on both sides: auto takes binary COPY, but for the table
# whose columns include types made in the database (enum, composite, domain:
# their binary forms carry OIDs that differ between clusters), copied as text
grep -qE "COPY format: binary where the types are built in \(--copy-format auto\): both servers are of major version [0-9]+$" "$MB_TMP/err" &&
    mb_ok "auto takes binary between servers of one major version, and says why" ||
    mb_fail "no word of the format: $(grep -i format "$MB_TMP/err")"
grep -q "copying 10 table(s) in [0-9]* unit(s) over [0-9]* connection(s): 9 in COPY's binary format, 1 in text (types made in the database: golden.more_types)$" "$MB_TMP/err" &&
    mb_ok "9 of 10 tables in binary, the one with the database's own types in text" ||
    mb_fail "binary copy: $(grep copying "$MB_TMP/err")"
mb_compare_schema
mb_compare_all

# the hand-over: the target's progress is the slot's consistent point
slot=$(mb_val "$SRC" "SELECT confirmed_flush_lsn FROM pg_replication_slots WHERE slot_name = 'memori_bridge'")
progress=$(mb_val "$DST" "SELECT end_lsn FROM memori_bridge.progress WHERE slot = 'memori_bridge'")
[ "$slot" = "$progress" ] && mb_ok "progress at the slot's consistent point $slot" ||
    mb_fail "progress $progress, slot $slot"

# writes after init stream over, once
mb_sql "$SRC" "INSERT INTO memori.memories (user_id, content) SELECT 'after', 'after init ' || g FROM generate_series(1, 500) g"
mb_sql "$SRC" "UPDATE memori.memories SET use_count = 7 WHERE id % 100 = 0"
mb_sql "$SRC" "DELETE FROM memori.relationships WHERE id % 50 = 0; DELETE FROM memori.conversations WHERE id % 7 = 0"
mb_sql "$SRC" "UPDATE golden.nopk SET y = 'streamed' WHERE x = 1"
if mb_run_to_end --schemas memori,golden; then mb_ok "run after init"; else mb_fail "run after init exited $?"; fi
mb_compare_all rows

# a second init is refused; so is one with another slot, naming the tables;
# neither changes anything
mb_expect 1 'init of slot "memori_bridge" already finished' init --source "$SRC" --target "$DST" \
    --schemas memori,golden && mb_ok "a finished init is not run twice"
mb_expect 1 'target: table memori\.memories is not empty: init copies into empty tables only; fix: empty it, or give init --force' \
    init --source "$SRC" --target "$DST" --schemas memori,golden --slot other && mb_ok "non-empty tables refused"
[ "$(grep -c "is not empty" "$MB_TMP/err")" -ge 4 ] || mb_fail "expected each non-empty table named: $(cat "$MB_TMP/err")"
[ "$(mb_val "$SRC" "SELECT count(*) FROM pg_replication_slots WHERE slot_name = 'other'")" = 0 ] ||
    mb_fail "a refused init created its slot"

# --force starts over: the old slot and origin go, the tables are replaced
# (the target is fenced after init: only the replica role writes there)
mb_sql "$DST" "SET session_replication_role = replica;
               INSERT INTO memori.memories (id, user_id, content) VALUES (999999, 'only', 'on the target')"
if mb_expect 0 "" init --source "$SRC" --target "$DST" --schemas memori,golden --force; then
    mb_ok "init --force"
fi
grep -q 'dropping the existing slot "memori_bridge" on the source' "$MB_TMP/err" || mb_fail "no word of the dropped slot"
mb_compare_all
mb_finish
