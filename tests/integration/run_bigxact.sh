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
    "$MB_BRIDGE" run --source "$SRC" --target "$DST" --stop-at "$end" --lag-interval 2s \
    --log-format json >"$MB_TMP/run.json" 2>&1
status=$?
cat "$MB_TMP/run.json" >>"$MB_OUT"
[ "$status" -eq 0 ] && mb_ok "applied one transaction of $rows rows" || mb_fail "run exited $status"
kb=$(tail -1 "$MB_TMP/maxrss")
if [ "$kb" -lt "$limit_kb" ]; then
    mb_ok "peak RSS $((kb / 1024)) MB (limit 200 MB)"
else
    mb_fail "peak RSS $((kb / 1024)) MB, over the 200 MB limit"
fi
# --log-format json: every line an object; lag lines carry the figures, and
# show progress inside the one large transaction
if jq -e . "$MB_TMP/run.json" >/dev/null 2>&1; then
    mb_ok "every output line is JSON ($(wc -l <"$MB_TMP/run.json") lines)"
else
    mb_fail "not JSON: $(head -3 "$MB_TMP/run.json")"
fi
lag=$(jq -c 'select(.event == "lag")' "$MB_TMP/run.json" | head -1)
for key in applied_lsn durable_lsn source_lsn lag_bytes lag_seconds changes_per_s xacts_per_s ring_fill ring_size caught_up; do
    echo "$lag" | jq -e "has(\"$key\")" >/dev/null || mb_fail "lag line without $key: $lag"
done
moving=$(jq -r 'select(.event == "lag") | .changes_per_s' "$MB_TMP/run.json" | awk '$1 > 0' | wc -l)
[ "$moving" -ge 1 ] && mb_ok "lag lines show changes/s inside the transaction" ||
    mb_fail "no lag line showed progress: $(jq -c 'select(.event == "lag")' "$MB_TMP/run.json" | head -3)"

# compare in chunks of 10,000 keys, hashed inside each database
mb_compare memori.entities "SELECT id / 10000, count(*), md5(string_agg(e::text, ',' ORDER BY id)) FROM memori.entities e GROUP BY 1 ORDER BY 1"
mb_finish
