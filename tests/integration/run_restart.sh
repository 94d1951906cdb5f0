#!/bin/bash
# run: the source and the target are each restarted, fast and immediate, in
# the middle of the stream while a writer writes. The bridge reconnects by
# itself (exponential backoff with jitter), resumes from its recorded
# progress, and ends equal, with nothing lost and nothing applied twice.
# MB_DIRECTION=reverse runs it the other way: the target streamed back into
# the Supabase source.
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$here/lib.sh"

mb_start 2
mb_setup_direction "$here/crash_setup.sql"

"$MB_BRIDGE" run --source "$SRC" --target "$DST" "${DIRECTION_ARGS[@]}" --schemas memori,crash \
    --lag-interval 1s --reconnect-min 100ms --reconnect-max 1s >>"$MB_OUT" 2>&1 &
bridge=$!
MB_BG_PIDS+=("$bridge")

# writer: loops of pgbench, so that a restarted source only costs it a round
writer()
{
    while :; do
        "$PGH_BINDIR/pgbench" -n -c 2 -T 2 -f "$here/crash_writer.pgbench" "$FROM" >/dev/null 2>&1
        sleep 0.2
    done
}
writer &
writer_pid=$!
MB_BG_PIDS+=("$writer_pid")

sleep 2
for step in "1 fast" "2 immediate" "1 immediate" "2 fast"; do
    read -r n mode <<<"$step"
    side=$([ "$n" = 1 ] && echo source || echo target)
    "$MB_PGH" restart "$MB_SET" "$n" "$mode" 2>>"$MB_OUT" || mb_die "could not restart the $side"
    mb_ok "restarted the $side ($mode)"
    sleep 2
    kill -0 "$bridge" 2>/dev/null || mb_die "the bridge exited after the $side restart: $(tail -5 "$MB_OUT")"
done
kill "$writer_pid"
wait "$writer_pid" 2>/dev/null
sleep 0.5  # the last pgbench round ends with its client
pkill -f "pgbench.*crash_writer" 2>/dev/null

# wait until the side applied to has caught up, then stop the bridge
end=$(mb_val "$FROM" "SELECT pg_current_wal_lsn()")
for _ in $(seq 1 600); do
    [ "$(mb_val "$TO" "SELECT '$(mb_progress "$TO" "$NAME")'::pg_lsn >= '$end'")" = t ] && break
    [ "$(mb_val "$SRC" "SELECT (SELECT sum(n) FROM crash.counter)")" = "$(mb_val "$DST" "SELECT (SELECT sum(n) FROM crash.counter)")" ] &&
        [ "$(mb_val "$SRC" "SELECT count(*) FROM memori.memories")" = "$(mb_val "$DST" "SELECT count(*) FROM memori.memories")" ] && break
    sleep 0.1
done
kill -TERM "$bridge"
wait "$bridge"
status=$?
[ "$status" -eq 0 ] && mb_ok "SIGTERM after the restarts: exit 0" || mb_fail "the bridge exited $status"
reconnects=$(grep -c "reconnecting in" "$MB_OUT")
[ "$reconnects" -ge 2 ] && mb_ok "$reconnects reconnections" || mb_fail "expected reconnections, saw $reconnects"

mb_compare_memori
mb_compare crash.counter
mb_compare crash.log
mb_finish
