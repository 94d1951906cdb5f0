#!/bin/bash
# run --metrics-addr: a real HTTP client (curl) reads /metrics while the
# bridge streams a known workload; promtool checks the format; the counts per
# table and action, the transactions, the LSNs, reconnects and the process
# figures are what the workload and the target say. A bad address is a usage
# error (exit 2), a port in use a one-line error (exit 1), and the port is
# released when the bridge stops.
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$here/lib.sh"

mb_start 2
mb_setup_pair

# metric NAME[{labels}]: its value in the last scrape
metric()
{
    awk -v k="$1" '$1 == k { print $2; found = 1 } END { exit !found }' "$MB_TMP/scrape"
}
scrape()
{
    curl -sS --max-time 5 -o "$MB_TMP/scrape" -D "$MB_TMP/headers" "$url/metrics"
}
lsn_bytes()
{
    mb_val "$DST" "SELECT '$1'::pg_lsn - '0/0'"
}

"$MB_BRIDGE" run --source "$SRC" --target "$DST" --lag-interval 1s --metrics-addr 127.0.0.1:0 \
    --reconnect-min 100ms --reconnect-max 1s >>"$MB_TMP/bridge.log" 2>&1 &
bridge=$!
MB_BG_PIDS+=("$bridge")
url=$(mb_metrics_url "$MB_TMP/bridge.log")
[ -n "$url" ] && mb_ok "port 0 took a free port: $url" || mb_die "no metrics line: $(cat "$MB_TMP/bridge.log")"
grep -q "serving metrics at http://127.0.0.1:[1-9][0-9]*/metrics" "$MB_TMP/bridge.log" ||
    mb_fail "the log line does not name the bound port"

# the known workload: 5 source transactions
mb_sql "$SRC" "BEGIN;
  INSERT INTO memori.memories (user_id, content) SELECT 'agent', 'memory ' || g FROM generate_series(1, 100) g;
  INSERT INTO memori.entities (user_id, entity_type, entity_name) SELECT 'agent', 'kind', 'e' || g FROM generate_series(1, 10) g;
  COMMIT;"
mb_sql "$SRC" "UPDATE memori.memories SET use_count = use_count + 1 WHERE id <= 30"
mb_sql "$SRC" "DELETE FROM memori.memories WHERE id > 95"
mb_sql "$SRC" "INSERT INTO memori.conversations (user_id, session_id, messages)
               SELECT 'agent', 's' || g, '[{\"role\": \"user\"}]' FROM generate_series(1, 3) g"
mb_sql "$SRC" "TRUNCATE memori.conversations"

for _ in $(seq 1 300); do
    scrape 2>/dev/null && [ "$(metric memori_bridge_transactions_applied_total)" = 5 ] &&
        [ "$(metric memori_bridge_caught_up)" = 1 ] && break
    sleep 0.1
done
[ "$(metric memori_bridge_transactions_applied_total)" = 5 ] &&
    mb_ok "5 transactions applied" || mb_die "transactions: $(metric memori_bridge_transactions_applied_total); $(cat "$MB_TMP/scrape")"
cat "$MB_TMP/scrape" >>"$MB_OUT"

# the format, by Prometheus' own checker (lint included)
if promtool check metrics <"$MB_TMP/scrape" >"$MB_TMP/promtool" 2>&1; then
    mb_ok "promtool check metrics: clean"
else
    mb_fail "promtool check metrics: $(cat "$MB_TMP/promtool")"
fi
grep -qi '^content-type: text/plain; version=0.0.4' "$MB_TMP/headers" &&
    mb_ok "content type of the text format" || mb_fail "headers: $(cat "$MB_TMP/headers")"

expect()
{
    local got
    got=$(metric "$1")
    [ "$got" = "$2" ] && mb_ok "$1 = $2" || mb_fail "$1 is '$got', expected $2"
}
expect 'memori_bridge_table_changes_applied_total{table="memori.memories",action="insert"}' 100
expect 'memori_bridge_table_changes_applied_total{table="memori.memories",action="update"}' 30
expect 'memori_bridge_table_changes_applied_total{table="memori.memories",action="delete"}' 5
expect 'memori_bridge_table_changes_applied_total{table="memori.entities",action="insert"}' 10
expect 'memori_bridge_table_changes_applied_total{table="memori.conversations",action="insert"}' 3
expect 'memori_bridge_table_changes_applied_total{table="memori.conversations",action="truncate"}' 1
expect 'memori_bridge_table_transactions_applied_total{table="memori.memories"}' 3
expect 'memori_bridge_table_transactions_applied_total{table="memori.entities"}' 1
expect 'memori_bridge_table_transactions_applied_total{table="memori.conversations"}' 2
expect memori_bridge_changes_applied_total 149
expect memori_bridge_streaming 1
lag=$(metric memori_bridge_lag_bytes)
[ -n "$lag" ] && [ "$lag" -lt 1048576 ] && mb_ok "lag_bytes $lag, caught up" || mb_fail "lag_bytes '$lag'"
expect memori_bridge_lag_seconds 0.000000
expect memori_bridge_ring_batches_queued 0
expect 'memori_bridge_info{version="'"$("$MB_BRIDGE" --version | awk '{print $2}')"'",slot="memori_bridge",origin="memori_bridge",direction="forward",from="source",to="target"}' 1

# the LSNs against the servers: applied is the target's origin progress, and
# no further than the source's WAL
applied=$(metric memori_bridge_applied_lsn)
origin=$(lsn_bytes "$(mb_val "$DST" "SELECT pg_replication_origin_progress('memori_bridge', false)")")
source_now=$(lsn_bytes "$(mb_val "$SRC" "SELECT pg_current_wal_lsn()")")
[ "$applied" -le "$origin" ] && [ "$applied" -gt 0 ] && [ "$origin" -le "$source_now" ] &&
    mb_ok "applied LSN $applied within the origin's progress $origin and the source's WAL $source_now" ||
    mb_fail "applied $applied, origin $origin, source $source_now"
durable=$(metric memori_bridge_durable_lsn)
[ "$durable" -le "$applied" ] && mb_ok "durable $durable <= applied" || mb_fail "durable $durable > applied $applied"
commit=$(metric memori_bridge_last_commit_timestamp_seconds)
src_commit=$(mb_val "$SRC" "SELECT extract(epoch FROM now())")
awk -v a="$commit" -v b="$src_commit" 'BEGIN { exit !(a > b - 600 && a <= b) }' &&
    mb_ok "last commit time $commit is the source's recent past" || mb_fail "last commit $commit, now $src_commit"
rss=$(metric process_resident_memory_bytes)
[ "${rss:-0}" -gt 1000000 ] && mb_ok "process_resident_memory_bytes $rss" || mb_fail "rss '$rss'"
start=$(metric process_start_time_seconds)
awk -v a="$start" -v b="$src_commit" 'BEGIN { exit !(a > b - 600 && a <= b + 1) }' &&
    mb_ok "process_start_time_seconds $start" || mb_fail "process start $start, now $src_commit"
if grep -q "pgh-secret" "$MB_TMP/scrape"; then mb_fail "the password is in the metrics"; else mb_ok "no password in the metrics"; fi

# other paths and methods
code=$(curl -s -o /dev/null -w '%{http_code}' "$url/nowhere")
[ "$code" = 404 ] && mb_ok "/nowhere: 404" || mb_fail "/nowhere: $code"
code=$(curl -s -o /dev/null -w '%{http_code}' -X POST "$url/metrics")
[ "$code" = 405 ] && mb_ok "POST: 405" || mb_fail "POST: $code"

# a lost target: reconnects counted, streaming again, the counts go on
before=$(metric memori_bridge_reconnects_total)
"$MB_PGH" restart "$MB_SET" 2 immediate 2>>"$MB_OUT" || mb_die "could not restart the target"
mb_sql "$SRC" "INSERT INTO memori.memories (user_id, content) VALUES ('agent', 'after the restart')"
for _ in $(seq 1 300); do
    scrape 2>/dev/null && [ "$(metric memori_bridge_transactions_applied_total)" = 6 ] &&
        [ "$(metric memori_bridge_streaming)" = 1 ] && break
    sleep 0.1
done
after=$(metric memori_bridge_reconnects_total)
[ "$after" -gt "$before" ] && mb_ok "reconnects $before -> $after" || mb_fail "reconnects $before -> $after"
expect memori_bridge_transactions_applied_total 6
expect 'memori_bridge_table_changes_applied_total{table="memori.memories",action="insert"}' 101
expect memori_bridge_streaming 1

# the same port again, while it is taken: one line, exit 1, nothing streamed
port=${url##*:}
mb_expect 1 "could not serve metrics at 127.0.0.1:$port: .*(in use|bind).*--metrics-addr" \
    run --source "$SRC" --target "$DST" --metrics-addr "127.0.0.1:$port" &&
    mb_ok "a port in use: exit 1, named"
for bad in "nonsense" "127.0.0.1:99999" "::1:9187" "127.0.0.1:"; do
    mb_expect 2 "metrics_addr \"$bad\" is not HOST:PORT" \
        run --source "$SRC" --target "$DST" --metrics-addr "$bad" && mb_ok "\"$bad\": exit 2"
done

kill -TERM "$bridge"
wait "$bridge"
status=$?
cat "$MB_TMP/bridge.log" >>"$MB_OUT"
[ "$status" -eq 0 ] && mb_ok "SIGTERM: exit 0" || mb_fail "the bridge exited $status"
if curl -s -o /dev/null --max-time 2 "$url/metrics"; then
    mb_fail "the endpoint still answers after the bridge stopped"
else
    mb_ok "the port is released"
fi
mb_compare_memori
mb_finish
