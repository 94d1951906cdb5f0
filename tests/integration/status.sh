#!/bin/bash
# status: a one-shot report on both sides, read from the servers. Healthy
# (exit 0) while a bridge streams; each problem its own warning (exit 3): no
# consumer on the slot, retained WAL over --max-retained-wal, a slot that lost
# its WAL, a missing slot, a live sequence behind the other side's, a live
# side left fenced. It follows a cutover (memori on the target, streaming
# reverse, the source fenced). An unreachable side is exit 1, one line.
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$here/lib.sh"
. "$here/switch_lib.sh"

mb_start 2
mb_switch_setup 300

# status_json [ARGS]: run status --json into $MB_TMP/st.json, exit code in $st
status_json()
{
    { "$MB_BRIDGE" status --json "$@" >"$MB_TMP/st.json" 2>"$MB_TMP/st.err"; } 2>/dev/null
    st=$?
    cat "$MB_TMP/st.json" "$MB_TMP/st.err" >>"$MB_OUT"
    jq -e . "$MB_TMP/st.json" >/dev/null 2>&1 || mb_fail "status --json is not JSON: $(head -c 300 "$MB_TMP/st.json")"
}
jqv() { jq -r "$1" "$MB_TMP/st.json"; }

# no bridge yet: the slot has no consumer
mb_expect 3 "" status && mb_ok "no bridge: exit 3"
grep -q "WARNING: source: no bridge streams slot \"memori_bridge\": start memori-bridge run$" "$MB_TMP/out" &&
    mb_ok "the warning names the slot and the fix" || mb_fail "status: $(cat "$MB_TMP/out")"
grep -q "^status: warnings$" "$MB_TMP/out" || mb_fail "no 'status: warnings' line"
grep -q "^target: PostgreSQL 15.*, fenced (4 of 4 tables)" "$MB_TMP/out" ||
    mb_fail "the target's fence is not reported: $(cat "$MB_TMP/out")"

mb_start_run
for _ in $(seq 1 200); do
    status_json
    [ "$st" = 0 ] && [ "$(jqv '.target.bridge.pid')" = "$RUN_PID" ] && break
    sleep 0.1
done
[ "$st" = 0 ] && mb_ok "a bridge streams: exit 0, healthy" || mb_fail "status with a bridge: exit $st, $(jqv '.warnings')"
[ "$(jqv '.healthy')" = true ] || mb_fail "healthy: $(jqv '.healthy')"
[ "$(jqv '.lives_on')" = source ] || mb_fail "lives_on: $(jqv '.lives_on')"
[ "$(jqv '.target.bridge.pid')" = "$RUN_PID" ] && mb_ok "the bridge's PID $RUN_PID" ||
    mb_fail "bridge: $(jqv '.target.bridge')"
[ "$(jqv '.target.bridge.direction')" = forward ] || mb_fail "direction: $(jqv '.target.bridge.direction')"
walsender=$(mb_val "$SRC" "SELECT active_pid FROM pg_replication_slots WHERE slot_name = 'memori_bridge'")
[ "$(jqv '.source.slots[] | select(.name == "memori_bridge") | "\(.active) \(.pid)"')" = "true $walsender" ] &&
    mb_ok "slot memori_bridge: active, walsender PID $walsender" || mb_fail "slot: $(jqv '.source.slots')"
for key in confirmed_flush_lsn restart_lsn retained_wal_bytes wal_status safe_wal_size; do
    jq -e ".source.slots[0] | has(\"$key\")" "$MB_TMP/st.json" >/dev/null || mb_fail "slot without $key"
done
[ "$(jqv '.source.slots[0].wal_status')" = reserved ] || mb_fail "wal_status: $(jqv '.source.slots[0].wal_status')"
[ "$(jqv '.source.wal2json_allowed')" = true ] && [ "$(jqv '.target.wal2json_allowed')" = true ] ||
    mb_fail "wal2json allowed: $(jqv '.source.wal2json_allowed') $(jqv '.target.wal2json_allowed')"
[ "$(jqv '.target.fenced_tables') of $(jqv '.target.tables')" = "4 of 4" ] || mb_fail "fences: $(jqv '.target')"
[ "$(jqv '.source.fenced_tables')" = 0 ] || mb_fail "source fenced: $(jqv '.source.fenced_tables')"
jq -e '.lag.forward.bytes >= 0 and .lag.forward.seconds >= 0 and .lag.reverse.bytes == null' "$MB_TMP/st.json" >/dev/null &&
    mb_ok "lag: forward in bytes and seconds, no reverse stream" || mb_fail "lag: $(jqv '.lag')"
[ "$(jqv '.sequences | length')" = 4 ] || mb_fail "sequences: $(jqv '.sequences')"
if grep -q "$PGH_PASSWORD" "$MB_TMP/st.json"; then mb_fail "the password is in status"; fi

# retained WAL over the threshold: its own warning
mb_expect 3 "" status --max-retained-wal 0 &&
    grep -q "WARNING: source: slot \"memori_bridge\" holds [0-9]* MB of WAL (over --max-retained-wal 0 MB)" "$MB_TMP/out" &&
    mb_ok "retained WAL over the threshold: warned" || mb_fail "retained: $(cat "$MB_TMP/out")"

# a live sequence behind the other side's
mb_sql "$DST" "SELECT setval('memori.entities_id_seq', 5000)"
mb_expect 3 "" status && grep -q 'WARNING: sequence memori.entities_id_seq on the source (.*) is behind the target.s (5000)' "$MB_TMP/out" &&
    mb_ok "a sequence behind: warned" || mb_fail "sequence: $(cat "$MB_TMP/out")"
mb_sql "$SRC" "SELECT setval('memori.entities_id_seq', 5000)"

# after a cutover: memori on the target, streaming reverse, the source fenced
mb_expect 0 "cutover done" cutover || mb_die "cutover failed"
for _ in $(seq 1 200); do
    status_json
    [ "$st" = 0 ] && [ "$(jqv '.source.bridge.direction')" = reverse ] && break
    sleep 0.1
done
[ "$st" = 0 ] && mb_ok "after the cutover: healthy" || mb_fail "after the cutover: exit $st, $(jqv '.warnings')"
[ "$(jqv '.lives_on')" = target ] && mb_ok "memori lives on the target" || mb_fail "lives_on: $(jqv '.lives_on')"
[ "$(jqv '.source.bridge.pid')" = "$RUN_PID" ] || mb_fail "reverse bridge: $(jqv '.source.bridge')"
[ "$(jqv '.source.fenced_tables')" = 4 ] && [ "$(jqv '.target.fenced_tables')" = 0 ] &&
    mb_ok "the source fenced, the target open" || mb_fail "fences: $(jqv '.source.fenced_tables') $(jqv '.target.fenced_tables')"
jq -e '.target.slots[] | select(.name == "memori_bridge_reverse") | .active' "$MB_TMP/st.json" >/dev/null ||
    mb_fail "the reverse slot: $(jqv '.target.slots')"
jq -e '.lag.reverse.bytes >= 0' "$MB_TMP/st.json" >/dev/null || mb_fail "reverse lag: $(jqv '.lag')"

# the bridge stops: no consumer on the reverse slot
kill -TERM "$RUN_PID"
wait "$RUN_PID"
mb_expect 3 "" status && grep -q 'WARNING: target: no bridge streams slot "memori_bridge_reverse": start memori-bridge run$' "$MB_TMP/out" &&
    mb_ok "no reverse consumer: warned with run (which follows the cutover)" || mb_fail "no consumer: $(cat "$MB_TMP/out")"

# a live side left fenced
mb_sql "$DST" "ALTER TABLE memori.memories ENABLE TRIGGER memori_bridge_fence"
mb_expect 3 "" status && grep -q "WARNING: target: memori lives here, but 1 of 4 tables are fenced" "$MB_TMP/out" &&
    mb_ok "a live side fenced: warned" || mb_fail "live fenced: $(cat "$MB_TMP/out")"
mb_sql "$DST" "ALTER TABLE memori.memories DISABLE TRIGGER memori_bridge_fence"

# a slot that lost its WAL: the target keeps at most 1 MB for slots
mb_sql "$DST" "ALTER SYSTEM SET max_slot_wal_keep_size = '1MB'"
mb_sql "$DST" "SELECT pg_reload_conf()"
for _ in 1 2 3 4; do
    mb_sql "$DST" "INSERT INTO memori.conversations (user_id) SELECT 'wal' FROM generate_series(1, 20000)"
    mb_sql "$DST" "SELECT pg_switch_wal()"
done
mb_sql "$DST" "CHECKPOINT"
mb_expect 3 "" status && grep -q 'WARNING: target: slot "memori_bridge_reverse" has lost WAL it needed (wal_status lost)' "$MB_TMP/out" &&
    mb_ok "a lost slot: warned" || mb_fail "lost slot: $(cat "$MB_TMP/out")"

# a missing slot: the changes after the source's progress are gone with it
mb_sql "$DST" "SELECT pg_drop_replication_slot('memori_bridge_reverse')"
mb_expect 3 "" status && grep -q 'WARNING: slot "memori_bridge_reverse" does not exist on the target: it was dropped, and with it every change the target wrote after the source.s progress [0-9A-F/]*; fix: a rollback would lose them' "$MB_TMP/out" &&
    mb_ok "a missing slot: warned, with what is lost" || mb_fail "missing slot: $(cat "$MB_TMP/out")"

# cannot report: one line, exit 1, no password
mb_expect 1 "could not connect to the target" status --target "host=127.0.0.1 port=1 user=postgres password=$PGH_PASSWORD dbname=postgres connect_timeout=2" &&
    mb_ok "an unreachable target: exit 1"
grep -q "$PGH_PASSWORD" "$MB_TMP/err" && mb_fail "the password is in the error"
[ "$(wc -l <"$MB_TMP/err")" -le 2 ] || mb_fail "more than a line or two: $(cat "$MB_TMP/err")"
mb_expect 2 "unknown option" status --bogus && mb_ok "an unknown option: exit 2"
mb_finish
