#!/bin/bash
# Schema changes the bridge does not follow by itself stop the stream before
# anything is applied wrongly, under writers, each with one line naming the
# exact statement to run on the side applied to and what it does to the data:
#   - a renamed column (the same attnum: certain), with RENAME COLUMN;
#   - a dropped column, which a change no longer carries;
#   - a column dropped and added again under the same name;
#   - a changed primary key;
#   - a narrowed type, and a dropped table, which only the catalogs show.
# While it holds, the bridge keeps running: the metrics and status show the
# stop (its table and statement), and `run --stop-at` exits 1 with the line.
# Once the statement has run, the bridge goes on by itself; at the end the
# sides are equal and every writer transaction is there exactly once.
# MB_DIRECTION=reverse: the target's schema changes, and the fixes run on the
# Supabase source as its postgres role.
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$here/lib.sh"
. "$here/schema_lib.sh"

mb_schema_pair
mb_schema_run
mb_schema_writers
sleep 2

# the stop recorded on the side applied to: "" when none
stop_field()
{
    "${PSQL[@]}" -d "$TO" -Atc "SELECT $1 FROM memori_bridge.schema_stop WHERE slot = '$NAME'" 2>/dev/null
}
has_stop() { [ -n "$(stop_field statement)" ]; }
no_stop() { [ -z "$(stop_field statement)" ] && [ "$(mb_metric memori_bridge_schema_stopped)" = 0 ]; }

# stop_case NAME DDL REGEX: DDL on the side streamed from stops the stream
# with a line matching REGEX; then its statement, run on the side applied
# to, lets it go on
stop_case()
{
    local name=$1 ddl=$2 pattern=$3 statement message n
    mb_sql "$FROM" "$ddl"
    if ! mb_wait_for 60 has_stop; then
        mb_fail "$name: no stop: $(tail -3 "$BRIDGE_LOG")"
        return 1
    fi
    statement=$(stop_field statement)
    message=$(stop_field message)
    if [[ "$message" =~ $pattern ]]; then
        mb_ok "$name: stops with: $message"
    else
        mb_fail "$name: the stop says \"$message\", expected /$pattern/"
    fi
    sleep 2 # a few tries while it holds: the line is logged once
    n=$(grep -cF -- "error: $message" "$BRIDGE_LOG")
    [ "$n" = 1 ] && mb_ok "$name: logged once" || mb_fail "$name: logged $n times"
    kill -0 "$RUN_PID" 2>/dev/null && mb_ok "$name: the bridge holds, running" ||
        mb_fail "$name: the bridge exited: $(tail -3 "$BRIDGE_LOG")"
    # (the whole page first: grep -q would close the pipe on curl)
    metrics=$(curl -sS "$METRICS_URL/metrics")
    [ "$(mb_metric memori_bridge_schema_stopped)" = 1 ] &&
        grep -qF "memori_bridge_schema_stop_info{table=" <<<"$metrics" &&
        mb_ok "$name: the metrics carry it" || mb_fail "$name: metrics: $(curl -sS "$METRICS_URL/metrics" | grep schema_stop)"
    "$MB_BRIDGE" status --source "$SRC" --target "$DST" --schemas memori,crash >"$MB_TMP/status.out" 2>&1
    n=$?
    [ "$n" = 3 ] && grep -F "WARNING: $TO_ROLE: the" "$MB_TMP/status.out" | grep -qF -- "$statement" &&
        mb_ok "$name: status warns (exit 3) with the statement" ||
        mb_fail "$name: status exit $n: $(grep WARNING "$MB_TMP/status.out")"
    [ -n "${STOP_HOOK:-}" ] && "$STOP_HOOK" "$message"
    mb_sql "$TO" "$statement"
    mb_wait_for 60 no_stop && mb_ok "$name: goes on once the $TO_ROLE has \"$statement\"" ||
        mb_fail "$name: still stopped: $(stop_field message)"
}

# run --stop-at cannot get past a stop: exit 1 with its line
stop_at_exits()
{
    local end
    kill -TERM "$RUN_PID"
    wait "$RUN_PID" && mb_ok "the held bridge stops on SIGTERM with exit 0" || mb_fail "run exited $?"
    end=$(mb_val "$FROM" "SELECT pg_current_wal_lsn()")
    mb_refused "$(printf '%s' "$1" | sed 's/[][\\.^$*+?(){}|]/\\&/g')" run --source "$SRC" --target "$DST" \
        "${DIRECTION_ARGS[@]}" --schemas memori,crash --stop-at "$end" --lag-interval 0 &&
        mb_ok "run --stop-at exits 1 with the stop's line"
    mb_schema_run
}

q='"'
STOP_HOOK=stop_at_exits stop_case "renamed column" \
    "ALTER TABLE memori.entities RENAME COLUMN content TO body" \
    "column ${q}content${q} of memori.entities was renamed to ${q}body${q} \(the same attribute number, 5\).*; run on the $TO_ROLE: ALTER TABLE ${q}memori${q}.${q}entities${q} RENAME COLUMN ${q}content${q} TO ${q}body${q} \(the values stay\)"
stop_case "dropped column" \
    "ALTER TABLE memori.memories DROP COLUMN source_type" \
    "column ${q}source_type${q} of memori.memories was dropped \(this (insert|update) no longer carries it\).*; run on the $TO_ROLE: ALTER TABLE ${q}memori${q}.${q}memories${q} DROP COLUMN ${q}source_type${q} \(its values go"
stop_case "dropped and added again" \
    "ALTER TABLE memori.entities DROP COLUMN metadata; ALTER TABLE memori.entities ADD COLUMN metadata jsonb DEFAULT '{\"again\": true}'" \
    "column ${q}metadata${q} of memori.entities was dropped and added again \(attribute number 6, now [0-9]+\).*; run on the $TO_ROLE: ALTER TABLE ${q}memori${q}.${q}entities${q} DROP COLUMN ${q}metadata${q} \(its values go; the bridge then adds the new column"
stop_case "changed primary key" \
    "ALTER TABLE memori.memories DROP CONSTRAINT memories_pkey, ADD PRIMARY KEY (id, user_id)" \
    "primary key of memori.memories .*PRIMARY KEY \(id, user_id\).*; run on the $TO_ROLE: ALTER TABLE ${q}memori${q}.${q}memories${q} DROP CONSTRAINT ${q}memories_pkey${q}, ADD CONSTRAINT ${q}memories_pkey${q} PRIMARY KEY \(id, user_id\)"
stop_case "narrowed type" \
    "ALTER TABLE memori.entities ALTER COLUMN entity_type TYPE varchar(50)" \
    "column ${q}entity_type${q} of memori.entities is character varying\(50\) on the $FROM_ROLE, character varying\(100\) on the $TO_ROLE; run on the $TO_ROLE: ALTER TABLE ${q}memori${q}.${q}entities${q} ALTER COLUMN ${q}entity_type${q} TYPE character varying\(50\) USING"
stop_case "dropped table" \
    "DROP TABLE memori.relationships" \
    "table memori.relationships is on the $TO_ROLE only \(dropped on the $FROM_ROLE\); run on the $TO_ROLE: DROP TABLE ${q}memori${q}.${q}relationships${q} \(its rows go"

sleep 1
mb_schema_stop_writers
mb_caught_up
mb_schema_equal
mb_check_writers 0 1
[ "$(mb_val "$TO" "SELECT count(*) FROM memori.entities WHERE metadata = '{\"again\": true}'")" -gt 0 ] &&
    mb_ok "the column added again has the $FROM_ROLE's values" || mb_fail "metadata lost its values"
kill -TERM "$RUN_PID"
wait "$RUN_PID" || mb_fail "run exited $?"
mb_finish
