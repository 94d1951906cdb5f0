#!/bin/bash
# A hold for verify is a lease. The running bridge holds still at verify's
# point only while the verify that asked is alive (its session on the side
# applied to) and at most --hold-timeout: a verify killed with SIGKILL, which
# releases nothing, no longer leaves the bridge paused for ever, nor a request
# behind that would hold the next one. status shows a held bridge and who
# holds it, and warns about a request its verify left. verify itself still
# works, writers and all.
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$here/lib.sh"
. "$here/switch_lib.sh"

mb_start 2
mb_switch_setup 2000

# hold REQUEST_TOKEN: a verify stand-in on the target that asks the bridge to
# hold at the source's current position and then waits for more to do, as a
# verify between its queries does: psql reading a FIFO kept open on fd 7
# ($HOLDER: the psql process; the first line of $MB_TMP/holder.out: its
# backend's PID, the holder the bridge watches)
hold()
{
    local at
    at=$(mb_val "$SRC" "SELECT pg_current_wal_lsn()")
    rm -f "$MB_TMP/holder.fifo"
    mkfifo "$MB_TMP/holder.fifo"
    "${PSQL[@]}" -d "$DST" -At <"$MB_TMP/holder.fifo" >"$MB_TMP/holder.out" 2>&1 &
    HOLDER=$!
    MB_BG_PIDS+=("$HOLDER")
    exec 7>"$MB_TMP/holder.fifo"
    cat >&7 <<EOF
INSERT INTO memori_bridge.verify_pause (token, slot, pause_at, holder_pid)
VALUES ('$1', 'memori_bridge', '$at', pg_backend_pid());
SELECT pg_backend_pid();
SELECT pg_notify('memori_bridge', '$1');
EOF
}

# unhold: kill the stand-in outright (SIGKILL, as a killed verify), and close
# its FIFO
unhold()
{
    kill -9 "$HOLDER"
    wait "$HOLDER" 2>/dev/null
    exec 7>&-
}

# wait_state TOKEN STATE: until the request TOKEN is in STATE ('' : gone), 30 s
wait_state()
{
    local i got
    for i in $(seq 1 300); do
        got=$(mb_val "$DST" "SELECT coalesce((SELECT state FROM memori_bridge.verify_pause WHERE token = '$1'), '')")
        [ "$got" = "$2" ] && return 0
        sleep 0.1
    done
    mb_fail "request $1 is \"$got\", not \"$2\", after 30 s"
    return 1
}

# applied: rows of the writer's table on the target
applied() { mb_val "$DST" "SELECT count(*) FROM memori.memories WHERE user_id = 'hold-writer'"; }
write() { mb_sql "$SRC" "INSERT INTO memori.memories (user_id, content) VALUES ('hold-writer', '$1')"; }

mb_start_run --hold-timeout 8s --status-interval 500ms
mb_wait_streaming "$SRC" memori_bridge

# ---- a verify killed while the bridge holds for it ----------------------------
write one
hold killed
wait_state killed paused || mb_die "the bridge never held"
holder_pid=$(sed -n 1p "$MB_TMP/holder.out")
mb_expect 0 "" status && grep -q "held for verify (PID $holder_pid here), [0-9]* s" "$MB_TMP/out" &&
    mb_ok "status: held for verify, and by whom (PID $holder_pid)" || mb_fail "status while held: $(cat "$MB_TMP/out")"
write two
sleep 1
[ "$(applied)" = 1 ] && mb_ok "while held, nothing after the point is applied" || mb_fail "applied while held: $(applied)"
unhold
wait_state killed "" && mb_ok "the dead verify's request is gone"
for _ in $(seq 1 100); do [ "$(applied)" = 2 ] && break; sleep 0.1; done
[ "$(applied)" = 2 ] && grep -q "the verify that asked for this hold (PID $holder_pid on the target) is gone without releasing it; going on" "$MB_OUT" &&
    mb_ok "a verify killed with SIGKILL: the bridge went on at once, and said why" ||
    mb_fail "after the killed verify: applied $(applied), log: $(grep -i hold "$MB_OUT" | tail -3)"
mb_expect 0 "" status && ! grep -q "for verify" "$MB_TMP/out" && mb_ok "status: no hold left" ||
    mb_fail "status after the kill: $(cat "$MB_TMP/out")"

# ---- a holder that never lets go: --hold-timeout -------------------------------
hold stuck
wait_state stuck paused || mb_die "the bridge never held"
write three
wait_state stuck "" && mb_ok "the hold ended with --hold-timeout (8 s), the holder still alive"
for _ in $(seq 1 100); do [ "$(applied)" = 3 ] && break; sleep 0.1; done
[ "$(applied)" = 3 ] && grep -q "verify held the bridge for 8 s without releasing it (--hold-timeout); going on" "$MB_OUT" &&
    mb_ok "after --hold-timeout the bridge went on, and said why" || mb_fail "after the timeout: applied $(applied)"
unhold

# ---- a request left by a dead verify while no bridge runs -----------------------
kill -TERM "$RUN_PID"
wait "$RUN_PID"
at=$(mb_val "$SRC" "SELECT pg_current_wal_lsn()")
mb_sql "$DST" "INSERT INTO memori_bridge.verify_pause (token, slot, pause_at, holder_pid)
               VALUES ('orphan', 'memori_bridge', '$at', 2147483600)"
mb_expect 3 "" status && grep -q 'WARNING: target: a hold for verify (PID 2147483600) is left by a verify that is gone' "$MB_TMP/out" &&
    mb_ok "status warns about a request its verify left" || mb_fail "status with an orphan request: $(cat "$MB_TMP/out")"
write four
end=$(mb_val "$SRC" "SELECT pg_current_wal_lsn()")
mb_expect 0 "" run --stop-at "$end" --lag-interval 0 && [ "$(applied)" = 4 ] &&
    [ "$(mb_val "$DST" "SELECT count(*) FROM memori_bridge.verify_pause")" = 0 ] &&
    mb_ok "the next run dropped the orphan request and did not hold for it" ||
    mb_fail "run with an orphan request: applied $(applied), requests $(mb_val "$DST" "SELECT count(*) FROM memori_bridge.verify_pause")"

# ---- verify still works, with writers and a running bridge -----------------------
mb_start_run --hold-timeout 8s
mb_wait_streaming "$SRC" memori_bridge
mb_start_writers 0 1
sleep 1
mb_expect 0 "comparing at .* \\(the running bridge holds there\\)" verify &&
    grep -q "verdict: equal" "$MB_TMP/out" && mb_ok "verify with writers: equal, the bridge held and went on" ||
    mb_fail "verify: $(cat "$MB_TMP/out" "$MB_TMP/err" | tail -5)"
mb_stop_writers
end=$(mb_val "$SRC" "SELECT pg_current_wal_lsn()")
mb_wait_applied "$DST" memori_bridge "$end"
mb_check_dumps "$DST" target 0 1
mb_finish
