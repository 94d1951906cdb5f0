#!/bin/bash
# No silent gap (pg/continuity.h). A slot dropped under a running bridge stops
# it, and the message does not tell anyone to make a slot by hand; a slot made
# by hand afterwards starts past the target's progress, and run refuses it
# (and status warns) instead of streaming on without the rows written in
# between. A dropped replication origin changes nothing (the progress is a
# row of memori_bridge.progress); a deleted progress row is refused, never
# taken for 0/0 (with the origin of a superuser's target gone too: where it
# is kept, it still knows, and run goes on from it). And run changes nothing before init has finished: not before
# it, and not while it copies.
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$here/lib.sh"
. "$here/switch_lib.sh"

mb_start 2
export MEMORI_BRIDGE_SOURCE=$SRC MEMORI_BRIDGE_TARGET=$DST
mb_sql_file "$SRC" "$MB_SOURCE_DIR/sql/memori_schema.sql"
mb_sql "$SRC" "INSERT INTO memori.memories (user_id, content) SELECT 'seed', 'seed ' || g
               FROM generate_series(1, 200000) g"

# made: what a run or an init left on the target (schemas, origins)
made()
{
    mb_val "$DST" "SELECT (SELECT count(*) FROM pg_namespace WHERE nspname IN ('memori', 'memori_bridge')) || ' ' ||
                          (SELECT count(*) FROM pg_replication_origin)"
}

# ---- run before init, and during it ----------------------------------------
mb_sql "$SRC" "SELECT pg_create_logical_replication_slot('memori_bridge', 'wal2json')"
mb_expect 1 'nothing streams into the target yet: no init of slot "memori_bridge" is recorded there; fix: memori-bridge init' \
    run --stop-at "$(mb_val "$SRC" "SELECT pg_current_wal_lsn()")" --lag-interval 0 && mb_ok "run before init: refused, with the fix"
[ "$(made)" = "0 0" ] && mb_ok "run before init made nothing on the target" || mb_fail "run before init made: $(made)"
mb_expect 3 "" status && grep -q 'WARNING: nothing streams into the target yet: no init of slot' "$MB_TMP/out" &&
    mb_ok "status before init: exit 3, says so" || mb_fail "status before init: $(cat "$MB_TMP/out")"
mb_sql "$SRC" "SELECT pg_drop_replication_slot('memori_bridge')"

"$MB_BRIDGE" init --jobs 1 >"$MB_TMP/init.log" 2>&1 &
init_pid=$!
MB_BG_PIDS+=("$init_pid")
for _ in $(seq 1 600); do
    [ "$("${PSQL[@]}" -d "$DST" -Atc "SELECT phase FROM memori_bridge.init_state WHERE slot = 'memori_bridge'" 2>/dev/null)" = copying ] && break
    sleep 0.05
done
mb_expect 1 'init of slot "memori_bridge" is under way on the target \(phase copying, started [^)]*\), or was interrupted; wait for it to finish' \
    run --stop-at "$(mb_val "$SRC" "SELECT pg_current_wal_lsn()")" --lag-interval 0 && mb_ok "run while init copies: refused, with the fix"
wait "$init_pid"
status=$?
cat "$MB_TMP/init.log" >>"$MB_OUT"
[ "$status" = 0 ] && mb_ok "init finished undisturbed" || mb_fail "init exited $status: $(tail -3 "$MB_TMP/init.log")"
[ "$(mb_val "$DST" "SELECT count(*) FROM pg_replication_origin")" = 0 ] ||
    mb_fail "the refused run made an origin"

# ---- a slot dropped under a running bridge, and one made again by hand ----
mb_start_run
mb_wait_streaming "$SRC" memori_bridge
mb_sql "$SRC" "INSERT INTO memori.memories (user_id, content) VALUES ('before', 'the drop')"
end=$(mb_val "$SRC" "SELECT pg_current_wal_lsn()")
mb_wait_applied "$DST" memori_bridge "$end"
progress=$(mb_progress "$DST" memori_bridge)
mb_sql "$SRC" "SELECT pg_terminate_backend(active_pid) FROM pg_replication_slots WHERE slot_name = 'memori_bridge';
               SELECT pg_sleep(0.2);
               SELECT pg_drop_replication_slot('memori_bridge')"
for _ in $(seq 1 200); do kill -0 "$RUN_PID" 2>/dev/null || break; sleep 0.1; done
if kill -0 "$RUN_PID" 2>/dev/null; then
    mb_fail "the bridge streams on without its slot"
    kill -TERM "$RUN_PID"
fi
wait "$RUN_PID"
status=$?
[ "$status" = 1 ] && grep -q 'slot "memori_bridge" does not exist on the source: it was dropped, and with it every change the source wrote after the target.s progress .*; fix: memori-bridge init --force' "$MB_OUT" &&
    mb_ok "the slot dropped: the bridge stopped, exit 1, naming init --force" ||
    mb_fail "the slot dropped: exit $status, $(tail -3 "$MB_OUT")"
grep -qi "pg_create_logical_replication_slot" "$MB_OUT" && mb_fail "a message tells to make a slot by hand"

# rows written while there is no slot; then the slot made by hand
mb_sql "$SRC" "INSERT INTO memori.memories (user_id, content) SELECT 'gap', 'lost ' || g FROM generate_series(1, 100) g"
mb_sql "$SRC" "SELECT pg_create_logical_replication_slot('memori_bridge', 'wal2json')"
mb_sql "$SRC" "INSERT INTO memori.memories (user_id, content) VALUES ('after', 'the new slot')"
mb_expect 1 "slot \"memori_bridge\" on the source starts at [0-9A-F/]+, past the target.s progress $progress: the changes in between are not in it \\(was it dropped and made again\\?\\); fix: memori-bridge init --force" \
    run --stop-at "$(mb_val "$SRC" "SELECT pg_current_wal_lsn()")" --lag-interval 0 && mb_ok "a slot made by hand: refused, the gap named"
[ "$(mb_val "$DST" "SELECT count(*) FROM memori.memories WHERE user_id IN ('gap', 'after')")" = 0 ] &&
    mb_ok "nothing after the gap was applied" || mb_fail "rows after the gap reached the target"
mb_expect 3 "" status && grep -q "WARNING: slot \"memori_bridge\" on the source starts at .*, past the target.s progress $progress" "$MB_TMP/out" &&
    mb_ok "status: the gap is a warning, exit 3" || mb_fail "status with a gap: $(cat "$MB_TMP/out" "$MB_TMP/err")"
mb_expect 0 "init done" init --force && mb_run_to_end && mb_compare memori.memories &&
    mb_ok "init --force: the gap is closed, the 100 rows are there"

# ---- origins and progress -----------------------------------------------------
mb_sql "$SRC" "INSERT INTO memori.memories (user_id, content) SELECT 'two', 'x' || g FROM generate_series(1, 50) g"
mb_run_to_end || mb_fail "run after init --force"
[ "$(mb_val "$DST" "SELECT count(*) FROM pg_replication_origin WHERE roname = 'memori_bridge'")" = 1 ] ||
    mb_fail "a superuser target has no origin after a run"
mb_sql "$DST" "SELECT pg_replication_origin_drop('memori_bridge')"
mb_sql "$SRC" "UPDATE memori.memories SET use_count = use_count + 1 WHERE user_id = 'two'"
mb_sql "$SRC" "INSERT INTO memori.memories (user_id, content) VALUES ('three', 'after the origin went')"
mb_run_to_end && mb_ok "a dropped origin: run goes on from memori_bridge.progress" || mb_fail "run without the origin"
mb_compare memori.memories

# the row alone: the origin (a superuser's target has one) still knows
mb_sql "$DST" "DELETE FROM memori_bridge.progress WHERE slot = 'memori_bridge'"
mb_sql "$SRC" "INSERT INTO memori.memories (user_id, content) VALUES ('three', 'after the row went')"
mb_run_to_end && mb_ok "a deleted progress row, the origin kept: run goes on from the origin" ||
    mb_fail "run from the origin"
mb_compare memori.memories
# both gone: refused
mb_sql "$DST" "DELETE FROM memori_bridge.progress WHERE slot = 'memori_bridge';
               SELECT pg_replication_origin_drop('memori_bridge')"
mb_sql "$SRC" "INSERT INTO memori.memories (user_id, content) VALUES ('four', 'after the progress went')"
mb_expect 1 'the progress of "memori_bridge" is gone from the target, though init copied it there \([^)]*\): the bridge cannot tell which changes the target has; fix: memori-bridge init --force' \
    run --stop-at "$(mb_val "$SRC" "SELECT pg_current_wal_lsn()")" --lag-interval 0 && mb_ok "a deleted progress row: refused, never 0/0"
[ "$(mb_val "$DST" "SELECT count(*) FROM memori.memories WHERE user_id = 'four'")" = 0 ] ||
    mb_fail "a change was applied without a known progress"
[ "$(mb_val "$DST" "SELECT count(*) FROM memori_bridge.progress")" = 0 ] || mb_fail "the refused run recorded a progress"
mb_expect 3 "" status && grep -q 'WARNING: the progress of "memori_bridge" is gone from the target' "$MB_TMP/out" &&
    mb_ok "status: the lost progress is a warning" || mb_fail "status, progress lost: $(cat "$MB_TMP/out")"
mb_finish
