#!/bin/bash
# run: one source transaction of 1,000,000 rows is applied with the bridge's
# peak resident memory (VmHWM, measured by GNU time) under 200 MB: memory is
# bounded by the ring and one batch, never by the transaction's size
# (DESIGN invariant 4). Normal build only: ASan's shadow memory would
# distort the figure.
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$here/lib.sh"
rows=${MB_BIGXACT_ROWS:-1000000}
limit_kb=$((200 * 1024))

mb_start 2
mb_setup_pair
mb_sql "$SRC" "INSERT INTO memori.entities (user_id, entity_type, entity_name, content, metadata)
               SELECT 'agent-' || g % 97, 'kind', 'entity-' || g, repeat('c', g % 120),
                      jsonb_build_object('g', g, 'note', 'one transaction')
               FROM generate_series(1, $rows) g"
end=$(mb_val "$SRC" "SELECT pg_current_wal_lsn()")
/usr/bin/time -f '%M' -o "$MB_TMP/maxrss" \
    "$MB_BRIDGE" run --source "$SRC" --target "$DST" --stop-at "$end" --lag-interval 5s >>"$MB_OUT" 2>&1
status=$?
[ "$status" -eq 0 ] && mb_ok "applied one transaction of $rows rows" || mb_fail "run exited $status"
kb=$(tail -1 "$MB_TMP/maxrss")
if [ "$kb" -lt "$limit_kb" ]; then
    mb_ok "peak RSS $((kb / 1024)) MB (limit 200 MB)"
else
    mb_fail "peak RSS $((kb / 1024)) MB, over the 200 MB limit"
fi
# compare in chunks of 10,000 keys, hashed inside each database
mb_compare memori.entities "SELECT id / 10000, count(*), md5(string_agg(e::text, ',' ORDER BY id)) FROM memori.entities e GROUP BY 1 ORDER BY 1"
mb_finish
