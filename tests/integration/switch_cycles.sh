#!/bin/bash
# Cutover and rollback under load, with a running bridge that follows. Two
# applications write through the switch: each write carries its own id and is
# acknowledged; a write refused by the fence is retried on the other side.
# After the cutover the target holds exactly the acknowledged writes (each
# writer's own model), none lost and none twice; then ten cycles of rollback
# and cutover under load (MB_SWITCH_CYCLES) end with both sides equal to the
# writers' models, nothing comes round again (the source's WAL is quiet once
# the writers stop), and verify is equal (also while cut over, with writers,
# and inside the pause of a cutover and a rollback with --verify full). Each
# pause is reported. The source is Supabase's postgres role, which may not use
# replication origins: the reverse stream records its progress in
# memori_bridge.progress and tags what it applies.
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$here/lib.sh"
. "$here/switch_lib.sh"

mb_start 2
mb_switch_setup 2000
mb_start_run
bridge=$RUN_PID
# the app's own tables next to memori (the Supabase profile has them): written
# all along, never fenced, never streamed
app=false
if [ "$PGH_1_PROFILE" = supabase ]; then
    app=true
    app_before=$(mb_val "$SRC" "SELECT count(*) FROM context.notes")
    (
        n=0
        while :; do
            "${PSQL[@]}" -d "$SRC" -c "INSERT INTO context.notes (user_id, body) VALUES (1, 'app write');
                                      UPDATE public.app_users SET email = email WHERE id = 1" >/dev/null ||
                { echo "app write failed" >"$MB_TMP/app.failed"; exit 1; }
            n=$((n + 1))
            echo "$n" >"$MB_TMP/app.count"
            sleep 0.1
        done
    ) &
    app_pid=$!
    MB_BG_PIDS+=("$app_pid")
fi
mb_start_writers 0 1
sleep 2

mb_expect 0 "cutover done" cutover || mb_die "cutover failed"
mb_ok "cutover: $(grep -o 'writes were paused for [0-9.]* ms' "$MB_TMP/err")"
sleep 2
mb_stop_writers
mb_check_dumps "$DST" target 0 1
# the bridge turned around by itself: the source gets the target's writes
end=$(mb_val "$DST" "SELECT pg_current_wal_lsn()")
mb_wait_applied "$SRC" memori_bridge_reverse "$end"
mb_check_dumps "$SRC" source 0 1
kill -0 "$bridge" 2>/dev/null && grep -q "the switch is done: streaming reverse now" "$MB_OUT" &&
    mb_ok "the running bridge follows the cutover" || mb_fail "the bridge did not follow the cutover"

cycles=${MB_SWITCH_CYCLES:-10}
mb_start_writers 2 3
for cycle in $(seq 1 "$cycles"); do
    sleep 1.5
    # the last rollback checks with a full verify inside its pause
    mb_expect 0 "rollback done" rollback $([ "$cycle" = "$cycles" ] && echo --verify full) ||
        mb_die "rollback $cycle failed"
    mb_ok "rollback $cycle: $(grep -o 'writes were paused for [0-9.]* ms' "$MB_TMP/err")"
    sleep 1.5
    if [ "$cycle" -lt "$cycles" ]; then
        mb_expect 0 "cutover done" cutover $([ "$cycle" = 2 ] && echo --verify full) ||
            mb_die "cutover $cycle failed"
        mb_ok "cutover $((cycle + 1)): $(grep -o 'writes were paused for [0-9.]* ms' "$MB_TMP/err")"
    fi
    if [ "$cycle" = 1 ]; then
        # cut over, writers on the target, the bridge streaming back: verify
        # compares that way round, at one point, with no false difference
        sleep 1
        mb_expect 0 "comparing the target with the source" verify --json &&
            jq -e '.direction == "reverse" and .bridge_paused == true and .equal == true' "$MB_TMP/out" >/dev/null &&
            mb_ok "verify while cut over, with writers: equal, the reverse way" ||
            mb_fail "verify while cut over: $(head -c 600 "$MB_TMP/out")"
    fi
done
mb_stop_writers
if $app; then
    kill "$app_pid" 2>/dev/null
    wait "$app_pid" 2>/dev/null
    [ -e "$MB_TMP/app.failed" ] && mb_fail "an app write outside memori failed during the switches"
    [ "$(mb_val "$DST" "SELECT to_regclass('public.app_users') IS NULL AND to_regnamespace('context') IS NULL")" = t ] &&
        mb_ok "the app's $(($(mb_val "$SRC" "SELECT count(*) FROM context.notes") - app_before)) writes to public and context went on through every switch and never reached the target" ||
        mb_fail "the app's tables reached the target"
fi
mb_fenced "$DST" && ! mb_fenced "$SRC" && mb_ok "memori lives on the source again" ||
    mb_fail "fences after the last rollback"
end=$(mb_val "$SRC" "SELECT pg_current_wal_lsn()")
mb_wait_applied "$DST" memori_bridge "$end"
mb_check_dumps "$SRC" source 0 1 2 3
mb_check_dumps "$DST" target 0 1 2 3
# nothing goes round and round: with the writers stopped, the source's WAL is
# quiet but for the bridge's idle confirmations
before=$(mb_val "$SRC" "SELECT pg_current_wal_lsn()")
sleep 3
moved=$(mb_val "$SRC" "SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), '$before')")
[ "$moved" -lt 100000 ] && mb_ok "the source's WAL is quiet after $cycles cycles ($moved bytes in 3 s)" ||
    mb_fail "the source's WAL keeps growing: $moved bytes in 3 s"
kill -TERM "$bridge"
wait "$bridge" || mb_fail "the bridge exited $?"
if mb_expect 0 "comparing at" verify && grep -q "verdict: equal" "$MB_TMP/out"; then
    mb_ok "verify: equal after $cycles cycles"
else
    mb_fail "verify: $(cat "$MB_TMP/out")"
fi
mb_finish
