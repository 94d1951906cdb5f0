#!/bin/bash
# verify: equal when equal, and each kind of difference found, named, and
# narrowed to keys: a changed row, a missing row, an extra row, a sequence
# behind, a column type mismatch, a float NaN that arrived as NULL (wal2json
# 2.5), values that compare equal but are not the same (1.5 and 1.50). With writers and a running bridge, no false difference (the bridge
# holds at verify's point); with writers and no bridge, verify says it cannot
# compare at one point and exits 1.
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$here/lib.sh"
. "$here/init_lib.sh"
export PGOPTIONS="-c datestyle=ISO -c timezone=UTC -c extra_float_digits=3 -c bytea_output=hex -c client_min_messages=warning"
schemas=memori,golden,crash

mb_start 2
mb_source_objects 30000
mb_sql_file "$SRC" "$here/crash_setup.sql"
mb_expect 0 "" init --source "$SRC" --target "$DST" --schemas "$schemas" --replica-identity-full ||
    mb_die "init failed"
v=(verify --source "$SRC" --target "$DST" --schemas "$schemas")

# verify_case NAME BREAK_SQL REGEX FIX_SQL: break the target, expect exit 3
# and REGEX in the report (with --show-keys), fix it, expect equal again
verify_case()
{
    local name=$1 break_sql=$2 pattern=$3 fix_sql=$4
    # the target is fenced after init: tamper with it as the bridge would write
    mb_sql "$DST" "SET session_replication_role = replica; $break_sql"
    "$MB_BRIDGE" "${v[@]}" --show-keys >"$MB_TMP/report" 2>>"$MB_OUT"
    status=$?
    cat "$MB_TMP/report" >>"$MB_OUT"
    # the report's lines, joined, so that a pattern can span the range and its keys
    if [ "$status" -eq 3 ] && tr '\n' ' ' <"$MB_TMP/report" | grep -qE -- "$pattern" &&
        grep -q "verdict: DIFFERENT" "$MB_TMP/report"; then
        mb_ok "$name: found ($(tr '\n' ' ' <"$MB_TMP/report" | grep -oE -- "$pattern" | sed 's/  */ /g' | cut -c1-140))"
    else
        mb_fail "$name: exit $status, report: $(cat "$MB_TMP/report")"
    fi
    mb_sql "$DST" "SET session_replication_role = replica; $fix_sql"
}

mb_expect 0 "" "${v[@]}" && grep -q "verdict: equal" "$MB_TMP/out" && mb_ok "equal after init" ||
    mb_fail "not equal after init: $(cat "$MB_TMP/out")"

content=$(mb_val "$DST" "SELECT content FROM memori.memories WHERE id = 12345")
verify_case "a changed row" "UPDATE memori.memories SET content = 'tampered' WHERE id = 12345" \
    'memori.memories \(rows\) +29999 +29999 +DIFFERS in 1 chunk of keys: \[10000, 20000\).*keys: changed 12345' \
    "UPDATE memori.memories SET content = \$m\$$content\$m\$ WHERE id = 12345"
# only the tsvector differs (it is hashed in its binary form)
tsv=$(mb_val "$DST" "SELECT content_tsv FROM memori.memories WHERE id = 23456")
verify_case "a changed tsvector" "UPDATE memori.memories SET content_tsv = content_tsv || 'tampered:1'::tsvector WHERE id = 23456" \
    'memori.memories \(rows\) +29999 +29999 +DIFFERS in 1 chunk of keys: \[20000, 30000\).*keys: changed 23456' \
    "UPDATE memori.memories SET content_tsv = \$m\$$tsv\$m\$::tsvector WHERE id = 23456"
"${PSQL[@]}" -d "$DST" -c "COPY (SELECT * FROM memori.entities WHERE id = 777) TO STDOUT" >"$MB_TMP/row"
verify_case "a missing row" "DELETE FROM memori.entities WHERE id = 777" \
    'memori.entities \(rows\) +3000 +2999 +DIFFERS.*keys: missing 777' \
    "SELECT 1"  # put back below, from the saved copy
PGOPTIONS="$PGOPTIONS -c session_replication_role=replica" "${PSQL[@]}" -d "$DST" -c "COPY memori.entities FROM STDIN" <"$MB_TMP/row" ||
    mb_fail "could not put the row back"
verify_case "an extra row" "INSERT INTO memori.conversations (id, user_id) VALUES (424242, 'stray')" \
    'memori.conversations \(rows\) +1500 +1501 +DIFFERS.*\[420000, 430000\).*keys: extra 424242' \
    "DELETE FROM memori.conversations WHERE id = 424242"
seq=$(mb_val "$SRC" "SELECT last_value FROM memori.memories_id_seq")
verify_case "a sequence behind" "SELECT setval('memori.memories_id_seq', 100)" \
    'sequence memori.memories_id_seq +[0-9]+/true +100/true +BEHIND' \
    "SELECT setval('memori.memories_id_seq', $seq)"
verify_case "a column type mismatch" "ALTER TABLE golden.more_types ALTER COLUMN money2 TYPE numeric(7,2)" \
    'golden.more_types \(columns\) +DIFFERS: source \(.*money2 numeric\(5,2\).*\), target \(.*money2 numeric\(7,2\)' \
    "ALTER TABLE golden.more_types ALTER COLUMN money2 TYPE numeric(5,2)"
# values equal to PostgreSQL's comparison but not the same: 1.5 vs 1.50,
# '1 day' vs '24 hours' (the hash must see what the row holds, not its worth)
verify_case "a numeric's scale" "UPDATE golden.types SET num = 1.50 WHERE id = 1" \
    'golden.types \(rows\) +1 +1 +DIFFERS.*keys: changed 1' \
    "UPDATE golden.types SET num = 1.5 WHERE id = 1"
verify_case "an interval written otherwise" "UPDATE golden.types SET span = '24 hours' WHERE id = 1" \
    'golden.types \(rows\) +1 +1 +DIFFERS.*keys: changed 1' \
    "UPDATE golden.types SET span = '1 day' WHERE id = 1"
verify_case "a text array's case" "UPDATE golden.types SET texts = '{\"A b\",NULL}' WHERE id = 1" \
    'golden.types \(rows\) +1 +1 +DIFFERS.*keys: changed 1' \
    "UPDATE golden.types SET texts = '{\"a b\",NULL}' WHERE id = 1"
mb_expect 0 "" "${v[@]}" && mb_ok "equal again after the repairs" || mb_fail "not equal after the repairs: $(cat "$MB_TMP/out")"

# a float NaN on the source arrives as NULL (wal2json 2.5): verify catches it
mb_sql "$SRC" "INSERT INTO golden.types (id, f8, num) VALUES (5, 'NaN', 'Infinity')"
mb_run_to_end --schemas "$schemas" || mb_fail "run exited $?"
"$MB_BRIDGE" "${v[@]}" --show-keys >"$MB_TMP/report" 2>>"$MB_OUT"
status=$?
if [ "$status" -eq 3 ] && grep -q "golden.types (rows).*DIFFERS" "$MB_TMP/report" &&
    grep -q "1 source row hold NaN or +-Infinity in a number column: wal2json 2.5 sends those as NULL" "$MB_TMP/report" &&
    grep -q "changed 5" "$MB_TMP/report"; then
    mb_ok "NaN that arrived as NULL: found and explained"
else
    mb_fail "NaN: exit $status, report: $(cat "$MB_TMP/report")"
fi
mb_sql "$SRC" "DELETE FROM golden.types WHERE id = 5"
mb_run_to_end --schemas "$schemas" || mb_fail "run exited $?"

# writers and a running bridge: the bridge holds at verify's point
"$MB_BRIDGE" run --source "$SRC" --target "$DST" --schemas "$schemas" --lag-interval 0 >>"$MB_OUT" 2>&1 &
bridge=$!
MB_BG_PIDS+=("$bridge")
"$PGH_BINDIR/pgbench" -n -c 2 -T 600 -f "$here/crash_writer.pgbench" "$SRC" >"$MB_TMP/pgbench.log" 2>&1 &
writer=$!
MB_BG_PIDS+=("$writer")
sleep 2
for i in 1 2 3; do
    "$MB_BRIDGE" "${v[@]}" --json >"$MB_TMP/report.json" 2>>"$MB_OUT"
    status=$?
    cat "$MB_TMP/report.json" >>"$MB_OUT"
    if [ "$status" -eq 0 ] && jq -e '.equal == true and .bridge_paused == true' "$MB_TMP/report.json" >/dev/null; then
        mb_ok "run $i with writers and a running bridge: equal (JSON)"
    else
        mb_fail "run $i with writers: exit $status: $(head -c 600 "$MB_TMP/report.json")"
    fi
    sleep 1
done
grep -q "holding at" "$MB_OUT" || mb_fail "the bridge never said it held for verify"
kill -0 "$bridge" 2>/dev/null || mb_fail "the bridge did not go on after verify"

# writers and no bridge: no one point
kill -TERM "$bridge"
wait "$bridge"
sleep 1
mb_expect 1 'cannot compare at one point: slot "memori_bridge" holds [0-9]+ changes? the target does not have yet, and no bridge is streaming it' \
    "${v[@]}" && mb_ok "writers without a bridge: cannot compare, exit 1"
kill "$writer"
wait "$writer" 2>/dev/null
mb_finish
