#!/bin/bash
# init's preflight: every problem of both sides is listed at once, each as one
# line naming the object and the statement that fixes it; nothing is made;
# and the printed fixes, run as printed, are enough. Also the terrain's
# allow-list trap: ALTER SYSTEM SET output_plugin_libraries with one quoted
# string allows nothing new (superusers are refused too), and wal_level.
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$here/lib.sh"

mb_start 2
mb_sql_file "$SRC" "$MB_SOURCE_DIR/sql/memori_schema.sql"
mb_sql "$SRC" "INSERT INTO memori.memories (user_id, content) VALUES ('u', 'm')"
mb_sql "$SRC" "CREATE ROLE reader LOGIN PASSWORD 'reader-pw-1'; GRANT USAGE ON SCHEMA memori TO reader"
mb_sql "$DST" "CREATE ROLE weak LOGIN PASSWORD 'weak-pw-1'"
reader="${SRC/user=postgres/user=reader}"
reader="${reader/password=* /password=reader-pw-1 }"
weak="${DST/user=postgres/user=weak}"
weak="${weak/password=* /password=weak-pw-1 }"

mb_expect 1 "problems to fix first; nothing was changed" init --source "$reader" --target "$weak"
for line in \
    'source: role "reader" may not stream \(no REPLICATION\); fix: ALTER ROLE "reader" WITH REPLICATION' \
    'source: role "reader" may not read table "memori"\."memories"; fix: GRANT SELECT ON ALL TABLES IN SCHEMA "memori" TO "reader"' \
    'source: role "reader" may not set session_replication_role \(needed to apply a rollback here\); fix: GRANT SET ON PARAMETER session_replication_role TO "reader"' \
    'source: role "reader" may not use the replication origin functions \(needed to apply a rollback here\); fix: GRANT EXECUTE ON FUNCTION pg_replication_origin_create\(text\), ' \
    'target: role "weak" may not create schemas in "postgres" \(the streamed ones and memori_bridge\); fix: GRANT CREATE ON DATABASE "postgres" TO "weak"' \
    'source: role "reader" may not create schemas in "postgres" \(the bridge.s own, memori_bridge\); fix: GRANT CREATE ON DATABASE "postgres" TO "reader"' \
    'source: role "reader" does not own table "memori"\."memories": the fence at cutover needs it; fix: ALTER TABLE "memori"\."memories" OWNER TO "reader"' \
    'target: role "weak" may not stream \(no REPLICATION\); fix: ALTER ROLE "weak" WITH REPLICATION' \
    'target: role "weak" may not set session_replication_role; fix: GRANT SET ON PARAMETER session_replication_role TO "weak"' \
    'target: role "weak" may not use the replication origin functions; fix: GRANT EXECUTE ON FUNCTION '; do
    grep -qE -- "$line" "$MB_TMP/err" || mb_fail "missing: $line"
done
[ "$MB_FAILURES" -eq 0 ] && mb_ok "all $(grep -c 'fix:' "$MB_TMP/err") problems listed with their fixes"
[ "$(mb_val "$SRC" "SELECT count(*) FROM pg_replication_slots")" = 0 ] || mb_fail "a refused init left a slot"

# run the fixes as printed, each on its side, as a superuser; then init passes
grep -oE '^memori-bridge: error: (source|target): .*; fix: .*' "$MB_TMP/err" | while IFS= read -r l; do
    side=$(sed -E 's/^memori-bridge: error: (source|target): .*/\1/' <<<"$l")
    fix=$(sed -E 's/^.*; fix: //' <<<"$l")
    dsn=$([ "$side" = source ] && echo "$SRC" || echo "$DST")
    "${PSQL[@]}" -d "$dsn" -c "$fix" >/dev/null || echo "FIX FAILED: $fix"
done >"$MB_TMP/fixes"
[ -s "$MB_TMP/fixes" ] && mb_fail "a printed fix failed: $(cat "$MB_TMP/fixes")"
if mb_expect 0 "" init --source "$reader" --target "$weak"; then
    mb_ok "the printed fixes were enough: init passed as the same roles"
fi
mb_compare memori.memories

# origins belong to the whole cluster: an init into another database of the
# target's cluster must not take over (or drop) the origin the first one uses
mb_sql "$DST" "CREATE DATABASE second_db"
progress=$(mb_val "$DST" "SELECT pg_replication_origin_progress('memori_bridge', false)")
mb_sql "$SRC" "SELECT pg_drop_replication_slot('memori_bridge')"
mb_expect 1 'target: replication origin "memori_bridge" already exists on the target.s cluster, and no init of it is recorded in this database \(another database.s bridge may use it\); fix: give another --slot, or --force' \
    init --source "$SRC" --target "${DST/dbname=postgres/dbname=second_db}" && mb_ok "another database's origin: refused, named"
[ "$(mb_val "$DST" "SELECT pg_replication_origin_progress('memori_bridge', false)")" = "$progress" ] &&
    mb_ok "the origin is untouched" || mb_fail "the origin moved or went"

# the allow-list, set the wrong way (one quoted string), on the target
mb_sql "$DST" "ALTER SYSTEM SET output_plugin_libraries = 'pgoutput, test_decoding, wal2json'"
mb_sql "$DST" "SELECT pg_reload_conf()"
sleep 0.3
mb_expect 1 "target: output_plugin_libraries \\('\"pgoutput, test_decoding, wal2json\"'\\) does not allow wal2json; fix: ALTER SYSTEM SET output_plugin_libraries = 'pgoutput', 'test_decoding', 'wal2json'; SELECT pg_reload_conf\\(\\)" \
    init --source "$SRC" --target "$DST" --slot second --force && mb_ok "the one-string allow-list is caught"
mb_sql "$DST" "ALTER SYSTEM SET output_plugin_libraries = 'pgoutput', 'test_decoding', 'wal2json'"
mb_sql "$DST" "SELECT pg_reload_conf()"
sleep 0.3
[ "$(mb_val "$DST" "SELECT count(*) FROM pg_create_logical_replication_slot('probe', 'wal2json', true)")" = 1 ] &&
    mb_ok "the printed allow-list fix works without a restart"

# wal_level on the target (needed for a rollback): named, with the fix
mb_sql "$DST" "ALTER SYSTEM SET wal_level = replica"
"$MB_PGH" restart "$MB_SET" 2 fast 2>>"$MB_OUT" || mb_die "could not restart the target"
mb_expect 1 "target: wal_level is replica, not logical \\(needed to stream back for a rollback\\); fix: ALTER SYSTEM SET wal_level = logical; then restart the server" \
    init --source "$SRC" --target "$DST" --slot second --force && mb_ok "wal_level named"
mb_finish
