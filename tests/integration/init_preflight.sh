#!/bin/bash
# Preflight, per command and per direction: init lists every problem of the
# forward direction at once as an error, and what a later rollback would lack
# as a warning, each one line naming the object, the statement that fixes it
# and who can run it; nothing is made; the printed fixes, run as printed, are
# enough. cutover refuses before changing anything when the way back would
# not work. Also the terrain's allow-list trap: ALTER SYSTEM SET
# output_plugin_libraries with one quoted string allows nothing new
# (superusers are refused too), and wal_level.
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$here/lib.sh"
. "$here/switch_lib.sh"

su='as a superuser \(on a local Supabase: supabase_admin\)'
mb_start 2
mb_sql_file "$SRC" "$MB_SOURCE_DIR/sql/memori_schema.sql"
mb_sql "$SRC" "INSERT INTO memori.memories (user_id, content) VALUES ('u', 'm')"
mb_sql "$SRC" "CREATE ROLE reader LOGIN PASSWORD 'reader-pw-1'; GRANT USAGE ON SCHEMA memori TO reader"
mb_sql "$DST" "CREATE ROLE weak LOGIN PASSWORD 'weak-pw-1'"
reader="${SRC/user=postgres/user=reader}"
reader="${reader/password=* /password=reader-pw-1 }"
weak="${DST/user=postgres/user=weak}"
weak="${weak/password=* /password=weak-pw-1 }"
db_owner=$([ "$PGH_1_PROFILE" = supabase ] && echo supabase_admin || echo postgres)

mb_expect 1 "problems to fix first; nothing was changed" init --source "$reader" --target "$weak"
for line in \
    "error: source: role \"reader\" may not stream \\(no REPLICATION\\); fix, $su: ALTER ROLE \"reader\" WITH REPLICATION" \
    'error: source: role "reader" may not read table "memori"\."memories"; fix, as its owner "postgres" or a superuser: GRANT SELECT ON ALL TABLES IN SCHEMA "memori" TO "reader"' \
    "warning: source: role \"reader\" may not set session_replication_role \\(permission denied to set parameter \"session_replication_role\"\\) \\(needed to apply a rollback here\\); fix, $su: GRANT SET ON PARAMETER session_replication_role TO \"reader\"" \
    'error: target: role "weak" may not create schemas in "postgres" \(the streamed ones and memori_bridge\); fix, as its owner "postgres" or a superuser: GRANT CREATE ON DATABASE "postgres" TO "weak"' \
    "error: source: role \"reader\" may not create schemas in \"postgres\" \\(the bridge.s own, memori_bridge\\); fix, as its owner \"$db_owner\" or a superuser: GRANT CREATE ON DATABASE \"postgres\" TO \"reader\"" \
    'error: source: role "reader" does not own table "memori"\."memories": the fence at cutover needs it; fix, as its owner "postgres" or a superuser: ALTER TABLE "memori"\."memories" OWNER TO "reader"' \
    "warning: target: role \"weak\" may not stream \\(no REPLICATION\\) \\(needed to stream back for a rollback\\); fix, $su: ALTER ROLE \"weak\" WITH REPLICATION" \
    "error: target: role \"weak\" may not set session_replication_role \\(permission denied to set parameter \"session_replication_role\"\\); fix, $su: GRANT SET ON PARAMETER session_replication_role TO \"weak\""; do
    grep -qE -- "$line" "$MB_TMP/err" || mb_fail "missing: $line"
done
grep -q "replication origin" "$MB_TMP/err" && mb_fail "the origin functions were asked for: $(grep "replication origin" "$MB_TMP/err")"
[ "$MB_FAILURES" -eq 0 ] && mb_ok "all $(grep -c 'fix' "$MB_TMP/err") problems listed with their fixes and who runs them; no origin functions asked for"
[ "$(mb_val "$SRC" "SELECT count(*) FROM pg_replication_slots")" = 0 ] || mb_fail "a refused init left a slot"
[ "$(mb_val "$DST" "SELECT count(*) FROM pg_namespace WHERE nspname IN ('memori', 'memori_bridge')")" = 0 ] ||
    mb_fail "a refused init made a schema on the target"

# run the fixes as printed, each on its side, as a superuser (a fix that needs
# an owner works for a superuser too); then init passes
grep -oE '^memori-bridge: (error|warning): (source|target): .*; fix.*' "$MB_TMP/err" | while IFS= read -r l; do
    side=$(sed -E 's/^memori-bridge: [a-z]+: (source|target): .*/\1/' <<<"$l")
    fix=$(sed -E 's/^.*; fix(, as (a superuser \(on a local Supabase: supabase_admin\)|[^:]*))?: //' <<<"$l")
    grep -qE '^(ALTER|GRANT) ' <<<"$fix" || continue
    dsn=$([ "$side" = source ] && echo "$SRC_ADMIN" || echo "$DST_ADMIN")
    "${PSQL[@]}" -d "$dsn" -c "$fix" >/dev/null || echo "FIX FAILED: $fix"
done >"$MB_TMP/fixes"
[ -s "$MB_TMP/fixes" ] && mb_fail "a printed fix failed: $(cat "$MB_TMP/fixes")"
if mb_expect 0 "" init --source "$reader" --target "$weak"; then
    mb_ok "the printed fixes were enough: init passed as the same roles"
fi
grep -q "warning: .*(source|target):" "$MB_TMP/err" && mb_fail "warnings left after the fixes: $(grep warning "$MB_TMP/err")"
mb_compare memori.memories

# origins belong to the whole cluster: once a bridge applied through one, an
# init into another database of the target's cluster must not take over (or
# drop) the origin the first one uses
mb_run_to_end
mb_sql "$DST" "CREATE DATABASE second_db"
origins=$(mb_val "$DST" "SELECT count(*) FROM pg_replication_origin WHERE roname = 'memori_bridge'")
[ "$origins" = 1 ] || mb_fail "no origin after a run into a superuser's target"
mb_sql "$SRC" "SELECT pg_drop_replication_slot('memori_bridge')"
mb_expect 1 'target: replication origin "memori_bridge" already exists on the target.s cluster, and no init of it is recorded in this database \(another database.s bridge may use it\); fix: give another --slot, or --force' \
    init --source "$SRC" --target "${DST/dbname=postgres/dbname=second_db}" && mb_ok "another database's origin: refused, named"
[ "$(mb_val "$DST" "SELECT count(*) FROM pg_replication_origin WHERE roname = 'memori_bridge'")" = 1 ] &&
    mb_ok "the origin is untouched" || mb_fail "the origin went"

# wal_level on the target (needed for a rollback): init warns, and cutover
# refuses before it changes anything (reader owns the source's tables now)
export MEMORI_BRIDGE_SOURCE=$reader MEMORI_BRIDGE_TARGET=$DST
mb_sql "$DST" "ALTER SYSTEM SET wal_level = replica"
"$MB_PGH" restart "$MB_SET" 2 fast 2>>"$MB_OUT" || mb_die "could not restart the target"
mb_expect 0 "warning: target: wal_level is replica, not logical \\(needed to stream back for a rollback\\); fix, $su: ALTER SYSTEM SET wal_level = logical; then restart the server" \
    init --slot second --force && mb_ok "init: wal_level on the target named as a warning"
mb_expect 1 "cutover refused: the reverse stream that follows it \\(from the target into the source\\) could not run; 1 problem to fix first; nothing was changed" \
    cutover --slot second && mb_ok "cutover refused: no way back"
grep -qE "error: target: wal_level is replica, not logical; fix, $su" "$MB_TMP/err" || mb_fail "cutover did not name wal_level: $(cat "$MB_TMP/err")"
mb_fenced "$SRC" && mb_fail "the refused cutover fenced the source"
[ "$(mb_val "$DST" "SELECT count(*) FROM pg_replication_slots")" = 0 ] || mb_fail "the refused cutover made a slot"
mb_sql "$DST" "ALTER SYSTEM SET wal_level = logical"
"$MB_PGH" restart "$MB_SET" 2 fast 2>>"$MB_OUT" || mb_die "could not restart the target"

# the allow-list, set the wrong way (one quoted string), on the target
mb_sql "$DST" "ALTER SYSTEM SET output_plugin_libraries = 'pgoutput, test_decoding, wal2json'"
mb_sql "$DST" "SELECT pg_reload_conf()"
sleep 0.3
mb_expect 1 "error: target: output_plugin_libraries \\('\"pgoutput, test_decoding, wal2json\"'\\) does not allow wal2json; fix, $su: ALTER SYSTEM SET output_plugin_libraries = 'pgoutput', 'test_decoding', 'wal2json'; SELECT pg_reload_conf\\(\\)" \
    cutover --slot second && mb_ok "the one-string allow-list is caught, before anything changed"
mb_fenced "$SRC" && mb_fail "the refused cutover fenced the source"
mb_sql "$DST" "ALTER SYSTEM SET output_plugin_libraries = 'pgoutput', 'test_decoding', 'wal2json'"
mb_sql "$DST" "SELECT pg_reload_conf()"
sleep 0.3
[ "$(mb_val "$DST" "SELECT count(*) FROM pg_create_logical_replication_slot('probe', 'wal2json', true)")" = 1 ] &&
    mb_ok "the printed allow-list fix works without a restart"
mb_expect 0 "cutover done" cutover --slot second && mb_ok "with the way back possible, the cutover goes through"
mb_finish
