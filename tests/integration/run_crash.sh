#!/bin/bash
# run: kill -9 of the bridge at 20 random moments while writers write. After
# the last restart the side applied to equals the side streamed from exactly,
# each writer's counter shows no duplicate and no gap, and at no moment was
# the slot's confirmed_flush_lsn past the durable progress on the side applied
# to (DESIGN invariants 1 and 2). MB_DIRECTION=reverse runs it the other way:
# the target streamed back into the Supabase source, whose postgres role may
# not use replication origins, so the progress there is memori_bridge.progress
# alone.
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$here/lib.sh"
kills=${MB_CRASH_KILLS:-20}

mb_start 2
mb_setup_direction "$here/crash_setup.sql"
# where the slot starts: confirmed before any bridge ran
initial=$(mb_val "$FROM" "SELECT confirmed_flush_lsn FROM pg_replication_slots WHERE slot_name = '$SLOT'")

"$PGH_BINDIR/pgbench" -n -c 2 -T 600 -f "$here/crash_writer.pgbench" "$FROM" >"$MB_TMP/pgbench.log" 2>&1 &
writer=$!
MB_BG_PIDS+=("$writer")

# The invariant, sampled all along: read the slot first, then the progress;
# the progress only moves forward, so a sample can only err on the safe side.
sampler()
{
    while :; do
        slot=$("${PSQL[@]}" -d "$FROM" -Atc "SELECT confirmed_flush_lsn FROM pg_replication_slots WHERE slot_name = '$SLOT'" 2>/dev/null) || continue
        progress=$("${PSQL[@]}" -d "$TO" -Atc "SELECT coalesce((SELECT end_lsn FROM memori_bridge.progress WHERE slot = '$NAME'), '0/0')" 2>/dev/null) ||
            progress=0/0
        [ -n "$slot" ] && [ -n "$progress" ] || continue
        if [ "$("${PSQL[@]}" -d "$FROM" -Atc "SELECT '$slot'::pg_lsn > greatest('$progress'::pg_lsn, '$initial'::pg_lsn)")" = t ]; then
            echo "slot confirmed $slot past the durable progress $progress"
        fi
        sleep 0.05
    done
}
sampler >"$MB_TMP/violations" 2>/dev/null &
MB_BG_PIDS+=("$!")

for i in $(seq 1 "$kills"); do
    "$MB_BRIDGE" run --source "$SRC" --target "$DST" "${DIRECTION_ARGS[@]}" --schemas memori,crash \
        --lag-interval 0 --status-interval 200ms --group-xacts $((1 + RANDOM % 50)) >>"$MB_OUT" 2>&1 &
    bridge=$!
    sleep "0.$((2 + RANDOM % 8))$((RANDOM % 10))"
    kill -9 "$bridge" 2>/dev/null || mb_fail "the bridge had exited before kill $i: $(tail -2 "$MB_OUT")"
    wait "$bridge" 2>/dev/null
done
mb_ok "killed the bridge $kills times"
kill -0 "$writer" 2>/dev/null || mb_fail "the writer stopped early: $(tail -3 "$MB_TMP/pgbench.log")"
kill "$writer"
wait "$writer" 2>/dev/null

end=$(mb_val "$FROM" "SELECT pg_current_wal_lsn()")
if mb_bridge run --source "$SRC" --target "$DST" "${DIRECTION_ARGS[@]}" --schemas memori,crash \
    --stop-at "$end" --lag-interval 0; then
    mb_ok "final run"
else
    mb_fail "final run exited $?"
fi
mb_compare_memori
mb_compare crash.counter
mb_compare crash.log
mb_check_writers 0 1
if [ -s "$MB_TMP/violations" ]; then
    mb_fail "invariant 2 broken: $(head -3 "$MB_TMP/violations")"
else
    mb_ok "the slot was never confirmed past the durable progress"
fi
[ "$(mb_progress "$TO" "$NAME")" != 0/0 ] && mb_ok "progress recorded in memori_bridge.progress: $(mb_progress "$TO" "$NAME")" ||
    mb_fail "no progress of $NAME recorded on the side applied to"
mb_finish
