#!/bin/bash
# Fences, and cutover without a running bridge. After init the target refuses
# writes with SQLSTATE 25006 and says where memori lives (host, port, database;
# never the password), reads go on, and the bridge's replica role passes. A
# cutover that meets a transaction still writing on the source waits for it up
# to --fence-timeout, then puts everything back; --terminate-writers ends it.
# With no bridge running, cutover drains the stream itself and says how to
# start the reverse one; it rewrites MEMORI_DATABASE_URL in --env-file, which
# keeps its mode and owner (a new one is 0600). After a rollback, the forward
# lag counts from the new forward slot. On the Supabase source, a postgres role
# that may not set session_replication_role (the supautils setting, here a
# GRANT) could not take the way back: cutover refuses before it changes
# anything, and names who runs the fix.
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$here/lib.sh"
. "$here/switch_lib.sh"

mb_start 2
mb_switch_setup 500
src_addr="host=127.0.0.1 port=$PGH_1_PORT dbname=postgres"
dst_addr="host=127.0.0.1 port=$PGH_2_PORT dbname=postgres"

if [ "$PGH_1_PROFILE" = supabase ]; then
    mb_sql "$SRC_ADMIN" "REVOKE SET ON PARAMETER session_replication_role FROM postgres"
    mb_expect 1 'cutover refused: the reverse stream that follows it \(from the target into the source\) could not run; 1 problem to fix first; nothing was changed' \
        cutover && mb_ok "no way back: cutover refused"
    grep -qE 'error: source: role "postgres" may not set session_replication_role \(permission denied to set parameter "session_replication_role"\); fix, as a superuser \(on a local Supabase: supabase_admin\): GRANT SET ON PARAMETER session_replication_role TO "postgres"' "$MB_TMP/err" &&
        mb_ok "the refusal names the fix and who runs it" || mb_fail "the refusal: $(cat "$MB_TMP/err")"
    mb_fenced "$SRC" && mb_fail "the refused cutover fenced the source"
    [ "$(mb_val "$DST" "SELECT count(*) FROM pg_replication_slots")" = 0 ] || mb_fail "the refused cutover made a slot"
    mb_sql "$SRC_ADMIN" "GRANT SET ON PARAMETER session_replication_role TO postgres"
fi

out=$("${PSQL[@]}" -d "$DST" -c "INSERT INTO memori.memories (user_id, content) VALUES ('app', 'x')" 2>&1)
if grep -q "ERROR:  memori is read-only here: it has moved to $src_addr" <<<"$out" &&
    grep -q "HINT:  Connect to where memori lives now" <<<"$out"; then
    mb_ok "the target refuses writes and names the source"
else
    mb_fail "the target's fence: $out"
fi
grep -q "$PGH_PASSWORD" <<<"$out" && mb_fail "the fence's message shows the password"
state=$("${PSQL[@]}" -d "$DST" -c "\\set VERBOSITY verbose" -c "UPDATE memori.memories SET content = 'y' WHERE id = 1" 2>&1 | grep -o "25006")
[ "$state" = 25006 ] && mb_ok "its SQLSTATE is 25006" || mb_fail "SQLSTATE: $state"
[ "$(mb_val "$DST" "SELECT count(*) FROM memori.memories")" = 500 ] && mb_ok "reads go on" || mb_fail "reads"
mb_sql "$DST" "SET session_replication_role = replica; UPDATE memori.memories SET content = content WHERE id = 1" &&
    mb_ok "the replica role passes the fence"

# a transaction still writing on the source when the fence goes up
"${PSQL[@]}" -d "$SRC" -c "BEGIN" -c "INSERT INTO memori.memories (user_id, content) VALUES ('slow', 'writer')" \
    -c "SELECT pg_sleep(30)" -c "COMMIT" >"$MB_TMP/slow.out" 2>&1 &
slow=$!
MB_BG_PIDS+=("$slow")
for _ in $(seq 1 100); do
    [ "$(mb_val "$SRC" "SELECT count(*) FROM pg_stat_activity WHERE query LIKE 'SELECT pg_sleep%'")" = 1 ] && break
    sleep 0.05
done
slow_pid=$(mb_val "$SRC" "SELECT pid FROM pg_stat_activity WHERE query LIKE 'SELECT pg_sleep%'")
mb_expect 1 "could not put up the fence on the source within 0\\.5 s: transactions still writing \\(PID $slow_pid\\); let them end" \
    cutover --fence-timeout 500ms && mb_ok "a writer in flight outlasts the fence timeout: refused"
grep -q "everything is back as it was: the source takes writes, the target is fenced" "$MB_TMP/err" ||
    mb_fail "cutover did not say it put everything back: $(cat "$MB_TMP/err")"
mb_fenced "$SRC" && mb_fail "the source is still fenced"
mb_fenced "$DST" || mb_fail "the target is not fenced any more"
[ "$(mb_val "$DST" "SELECT count(*) FROM pg_replication_slots WHERE slot_name = 'memori_bridge_reverse'")" = 0 ] ||
    mb_fail "the reverse slot was left behind"

# again, ending the writer; no bridge runs: cutover drains itself
printf 'OTHER=kept\nMEMORI_DATABASE_URL="postgresql://old@example:5432/memori?options=-c%%20search_path%%3Dmemori"\nLAST=kept too\n' >"$MB_TMP/app.env"
# the application reads it as another user: its mode and owner stay (as root,
# owner mbtest, the harness's cluster user; otherwise the mode only)
chmod 0640 "$MB_TMP/app.env"
env_owner=$(id -un):$(id -gn)
if [ "$(id -u)" = 0 ]; then
    env_owner=mbtest:$(id -gn mbtest)
    chown "$env_owner" "$MB_TMP/app.env" || mb_die "could not chown the env file to $env_owner"
fi
if mb_expect 0 "cutover done: writes were paused for" cutover --fence-timeout 500ms --terminate-writers \
    --env-file "$MB_TMP/app.env"; then
    mb_ok "cutover ended the writer in flight and went through"
fi
grep -q "ending the transactions still writing on the source (PID $slow_pid)" "$MB_TMP/err" || mb_fail "no word of ending PID $slow_pid"
grep -q "no bridge is streaming; applying up to the marker" "$MB_TMP/err" || mb_fail "no in-process drain"
grep -q "start the reverse stream with: memori-bridge run$" "$MB_TMP/err" || mb_fail "no word of run"
wait "$slow" 2>/dev/null
grep -q "terminating connection" "$MB_TMP/slow.out" || mb_fail "the slow writer was not ended: $(cat "$MB_TMP/slow.out")"
grep -q "^MEMORI_DATABASE_URL=postgresql://postgres:\*\*\*\*\*\*\*\*@127.0.0.1:$PGH_2_PORT/postgres?options=-c%20search_path%3Dmemori$" "$MB_TMP/out" ||
    mb_fail "the URL printed: $(cat "$MB_TMP/out")"
if [ "$(sed -n 1p "$MB_TMP/app.env")" = OTHER=kept ] && [ "$(sed -n 3p "$MB_TMP/app.env")" = "LAST=kept too" ] &&
    [ "$(sed -n 2p "$MB_TMP/app.env")" = "MEMORI_DATABASE_URL=\"postgresql://postgres:$PGH_PASSWORD@127.0.0.1:$PGH_2_PORT/postgres?options=-c%20search_path%3Dmemori\"" ]; then
    mb_ok "the env file's URL line was rewritten, the rest kept"
else
    mb_fail "env file: $(sed "s/$PGH_PASSWORD/(password)/" "$MB_TMP/app.env")"
fi
[ "$(stat -c '%a %U:%G' "$MB_TMP/app.env")" = "640 $env_owner" ] &&
    mb_ok "the env file kept its mode 0640 and owner $env_owner" ||
    mb_fail "the env file's mode and owner: $(stat -c '%a %U:%G' "$MB_TMP/app.env"), expected 640 $env_owner"

mb_fenced "$SRC" && mb_ok "the source is fenced now" || mb_fail "the source is not fenced"
out=$("${PSQL[@]}" -d "$SRC" -c "DELETE FROM memori.memories WHERE id = 2" 2>&1)
grep -q "it has moved to $dst_addr" <<<"$out" || mb_fail "the source's fence: $out"
mb_sql "$DST" "INSERT INTO memori.memories (user_id, content) VALUES ('after', 'cutover')" &&
    mb_ok "the target takes writes"

# a plain run follows the switch record: it streams back now (a supervisor
# that restarts "memori-bridge run" never loops on exit 1)
end=$(mb_val "$DST" "SELECT pg_current_wal_lsn()")
mb_expect 0 "memori lives on the target since a cutover .*streaming back" run --stop-at "$end" --lag-interval 0 &&
    mb_ok "run after the cutover streams back by itself"
mb_compare memori.memories
mb_sql "$DST" "UPDATE memori.memories SET content = 'streamed back by run --reverse' WHERE user_id = 'after'"
end=$(mb_val "$DST" "SELECT pg_current_wal_lsn()")
mb_expect 0 "" run --reverse --stop-at "$end" --lag-interval 0 && mb_ok "run --reverse, the explicit form"
mb_compare memori.memories

# a row the stream never carried (written on the fenced source as the replica
# role, which the bridge's role may set): the rollback's check sees the counts
# differ, refuses inside the pause, and puts everything back
mb_sql "$SRC" "SET session_replication_role = replica; INSERT INTO memori.entities (user_id, entity_name) VALUES ('stray', 'not streamed')"
mb_expect 1 'rollback: table memori.entities differs: [0-9]+ on the target, [0-9]+ on the source' rollback &&
    mb_ok "counts that differ: the rollback refuses and names the table"
grep -q "everything is back as it was" "$MB_TMP/err" || mb_fail "the rollback did not put everything back: $(cat "$MB_TMP/err")"
mb_fenced "$SRC" || mb_fail "the source is not fenced after the refused rollback"
mb_fenced "$DST" && mb_fail "the target is fenced after the refused rollback"

# a bulk write on the target, streamed back (WAL on the source), then a
# rollback with no bridge running: the forward slot it makes starts after
# that WAL, so the forward lag counts from the slot, not from where the
# forward origin stood before the cutover
mb_sql "$SRC" "SET session_replication_role = replica; DELETE FROM memori.entities WHERE user_id = 'stray'"
mb_sql "$DST" "INSERT INTO memori.memories (user_id, content) SELECT 'bulk', repeat('bulk ', 200) || g
               FROM generate_series(1, 20000) g"
end=$(mb_val "$DST" "SELECT pg_current_wal_lsn()")
mb_expect 0 "" run --reverse --stop-at "$end" --lag-interval 0 || mb_fail "run --reverse after the bulk write"
mb_expect 0 "rollback done" rollback && mb_ok "rollback with no bridge running"
old=$(mb_val "$SRC" "SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), '$(mb_val "$DST" "SELECT end_lsn FROM memori_bridge.progress WHERE slot = 'memori_bridge'")')")
# (exit 3: no bridge streams the forward slot, a warning)
"$MB_BRIDGE" status --json >"$MB_TMP/out" 2>>"$MB_OUT"
lag=$(jq -r '.lag.forward.bytes' "$MB_TMP/out")
[ "$lag" -lt 1048576 ] 2>/dev/null && mb_ok "status: forward lag $lag bytes, from the new slot ($old since the old progress)" ||
    mb_fail "status: forward lag $lag bytes after a rollback ($old since the old progress)"
mb_expect 0 "cutover done" cutover --max-lag-bytes 1MB --env-file "$MB_TMP/new.env" &&
    mb_ok "cutover after it, under --max-lag-bytes 1MB"
[ "$(stat -c '%a' "$MB_TMP/new.env")" = 600 ] && mb_ok "an env file made anew is 0600 (it holds a password)" ||
    mb_fail "a new env file's mode: $(stat -c '%a' "$MB_TMP/new.env")"
mb_finish
