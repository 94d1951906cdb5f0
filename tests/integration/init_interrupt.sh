#!/bin/bash
# init interrupted: killed right after the slot was made, in the middle of the
# copy, and after the copy (MEMORI_BRIDGE_FAILPOINT kills it with SIGKILL
# there), and stopped with Ctrl-C (SIGINT) during the copy. Each time the next
# init says what it cleans up (the half-made slot, the half-copied tables),
# starts over, and ends equal.
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$here/lib.sh"
. "$here/init_lib.sh"
export PGOPTIONS="-c datestyle=ISO -c timezone=UTC -c extra_float_digits=3 -c bytea_output=hex -c client_min_messages=warning"

mb_start 2
mb_source_objects 60000
mb_sql "$SRC" "ALTER TABLE golden.nopk REPLICA IDENTITY FULL"
init=(init --source "$SRC" --target "$DST" --schemas memori,golden --jobs 2)

for point in init-after-slot init-during-copy init-after-copy; do
    MEMORI_BRIDGE_FAILPOINT=$point mb_expect 137 "failpoint \"$point\"" "${init[@]}"
    [ "$(mb_val "$SRC" "SELECT count(*) FROM pg_replication_slots WHERE slot_name = 'memori_bridge'")" = 1 ] ||
        mb_fail "$point: no half-made slot was left to clean up"
    if mb_expect 0 "an earlier init of slot \"memori_bridge\" was interrupted \\(phase \"(preparing|copying)\"" "${init[@]}"; then
        mb_ok "$point: the retry cleaned up and finished"
    fi
    grep -q 'dropping the half-made slot "memori_bridge" on the source' "$MB_TMP/err" ||
        mb_fail "$point: the retry did not say it drops the half-made slot"
    grep -q 'replacing the half-copied tables' "$MB_TMP/err" ||
        mb_fail "$point: the retry did not say it replaces the half-copied tables"
    mb_compare_all
    # start the next round from nothing
    mb_sql "$SRC" "SELECT pg_drop_replication_slot('memori_bridge')"
    mb_sql "$DST" "DROP SCHEMA memori CASCADE; DROP SCHEMA golden CASCADE; DROP SCHEMA memori_bridge CASCADE;
                   SELECT pg_replication_origin_drop(roname) FROM pg_replication_origin
                   WHERE roname = 'memori_bridge'"
done

# Ctrl-C in the middle of the copy
"$MB_BRIDGE" "${init[@]}" --jobs 1 >"$MB_TMP/sigint.log" 2>&1 &
pid=$!
MB_BG_PIDS+=("$pid")
for _ in $(seq 1 300); do
    grep -q "copying" "$MB_TMP/sigint.log" && break
    sleep 0.05
done
kill -INT "$pid"
wait "$pid"
status=$?
cat "$MB_TMP/sigint.log" >>"$MB_OUT"
[ "$status" -eq 1 ] && grep -q "init was stopped; run it again" "$MB_TMP/sigint.log" &&
    mb_ok "Ctrl-C stops init with exit 1 and says how to go on" ||
    mb_fail "Ctrl-C: exit $status: $(tail -2 "$MB_TMP/sigint.log")"
if mb_expect 0 "was interrupted" "${init[@]}"; then mb_ok "the retry after Ctrl-C"; fi
mb_compare_all
mb_finish
