#!/bin/bash
# run: kill -9 of the bridge at 20 random moments while writers write. After
# the last restart the target equals the source exactly, each writer's counter
# shows no duplicate and no gap, and at no moment was the slot's
# confirmed_flush_lsn past the target's durable origin progress (DESIGN
# invariants 1 and 2).
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$here/lib.sh"
kills=${MB_CRASH_KILLS:-20}

mb_start 2
mb_setup_pair "$here/crash_setup.sql"
# where the slot starts: confirmed before any bridge ran
initial=$(mb_val "$SRC" "SELECT confirmed_flush_lsn FROM pg_replication_slots WHERE slot_name = 'memori_bridge'")

"$PGH_BINDIR/pgbench" -n -c 2 -T 600 -f "$here/crash_writer.pgbench" "$SRC" >"$MB_TMP/pgbench.log" 2>&1 &
writer=$!
MB_BG_PIDS+=("$writer")

# The invariant, sampled all along: read the slot first, then the origin;
# the origin only moves forward, so a sample can only err on the safe side.
sampler()
{
    while :; do
        slot=$("${PSQL[@]}" -d "$SRC" -Atc "SELECT confirmed_flush_lsn FROM pg_replication_slots WHERE slot_name = 'memori_bridge'" 2>/dev/null) || continue
        origin=$("${PSQL[@]}" -d "$DST" -Atc "SELECT coalesce(pg_replication_origin_progress('memori_bridge', true), '0/0')" 2>/dev/null) || continue
        [ -n "$slot" ] && [ -n "$origin" ] || continue
        if [ "$("${PSQL[@]}" -d "$SRC" -Atc "SELECT '$slot'::pg_lsn > greatest('$origin'::pg_lsn, '$initial'::pg_lsn)")" = t ]; then
            echo "slot confirmed $slot past the origin's durable $origin"
        fi
        sleep 0.05
    done
}
sampler >"$MB_TMP/violations" 2>/dev/null &
MB_BG_PIDS+=("$!")

for i in $(seq 1 "$kills"); do
    "$MB_BRIDGE" run --source "$SRC" --target "$DST" --schemas memori,crash --lag-interval 0 \
        --status-interval 200ms --group-xacts $((1 + RANDOM % 50)) >>"$MB_OUT" 2>&1 &
    bridge=$!
    sleep "0.$((2 + RANDOM % 8))$((RANDOM % 10))"
    kill -9 "$bridge" 2>/dev/null || mb_fail "the bridge had exited before kill $i: $(tail -2 "$MB_OUT")"
    wait "$bridge" 2>/dev/null
done
mb_ok "killed the bridge $kills times"
kill -0 "$writer" 2>/dev/null || mb_fail "the writer stopped early: $(tail -3 "$MB_TMP/pgbench.log")"
kill "$writer"
wait "$writer" 2>/dev/null

if mb_run_to_end --schemas memori,crash; then mb_ok "final run"; else mb_fail "final run exited $?"; fi
mb_compare_memori
mb_compare crash.counter
mb_compare crash.log
mb_check_writers 0 1
if [ -s "$MB_TMP/violations" ]; then
    mb_fail "invariant 2 broken: $(head -3 "$MB_TMP/violations")"
else
    mb_ok "the slot was never confirmed past the target's durable progress"
fi
mb_finish
