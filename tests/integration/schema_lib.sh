# schema_lib.sh - helpers of the schema-change tests (after lib.sh).
#
#   mb_schema_pair             clusters, memori and the crash writers' schema on
#                              both, the slot of MB_DIRECTION (forward: the
#                              source into the target; reverse: the target
#                              back into the Supabase source) and FROM, TO, ...
#   mb_schema_run              the bridge in the background ($RUN_PID), its log
#                              in $BRIDGE_LOG, its metrics at $METRICS_URL
#   mb_schema_writers          pgbench crash writers on FROM ($WRITER_PID)
#   mb_schema_stop_writers     stop them
#   mb_wait_for SECONDS CMD... until CMD succeeds
#   mb_caught_up               until TO has everything FROM has written so far
#   mb_schema_equal            verify says equal (within a minute: the bridge
#                              follows quiet changes at its periodic check),
#                              and every table of both schemas is equal, row
#                              by row, column by column (by name)

BRIDGE_LOG=$MB_OUTDIR/$MB_TEST.bridge.log
: >"$BRIDGE_LOG"
# both sides read with the settings the bridge pins
export PGOPTIONS="-c datestyle=ISO -c timezone=UTC -c extra_float_digits=3 -c bytea_output=hex -c client_min_messages=warning"

mb_schema_pair()
{
    mb_start 2
    mb_setup_direction "$here/crash_setup.sql"
    FROM_ROLE=$([ "$FROM" = "$SRC" ] && echo source || echo target)
    TO_ROLE=$([ "$TO" = "$SRC" ] && echo source || echo target)
}

mb_schema_run()
{
    local _ seen
    seen=$(grep -c "serving metrics at" "$BRIDGE_LOG")
    "$MB_BRIDGE" run --source "$SRC" --target "$DST" "${DIRECTION_ARGS[@]}" --schemas memori,crash \
        --lag-interval 0 --status-interval 500ms --metrics-addr 127.0.0.1:0 "$@" >>"$BRIDGE_LOG" 2>&1 &
    RUN_PID=$!
    MB_BG_PIDS+=("$RUN_PID")
    METRICS_URL=
    for _ in $(seq 1 100); do
        if [ "$(grep -c "serving metrics at" "$BRIDGE_LOG")" -gt "$seen" ]; then
            METRICS_URL=$(sed -n 's#.*serving metrics at \(http://[^/]*\)/metrics.*#\1#p' "$BRIDGE_LOG" | tail -1)
            return 0
        fi
        sleep 0.1
    done
    mb_die "the bridge serves no metrics: $(tail -5 "$BRIDGE_LOG")"
}

mb_schema_writers()
{
    # (at a steady rate: a held stream's backlog stays small on two cores)
    "$PGH_BINDIR/pgbench" -n -c 2 -T 900 -R "${MB_WRITER_RATE:-50}" -f "$here/crash_writer.pgbench" "$FROM" \
        >"$MB_TMP/pgbench.log" 2>&1 &
    WRITER_PID=$!
    MB_BG_PIDS+=("$WRITER_PID")
}

mb_schema_stop_writers()
{
    kill -0 "$WRITER_PID" 2>/dev/null || mb_fail "the writers stopped early: $(tail -3 "$MB_TMP/pgbench.log")"
    kill "$WRITER_PID"
    wait "$WRITER_PID" 2>/dev/null
}

mb_wait_for()
{
    local seconds=$1 i
    shift
    for i in $(seq 1 $((seconds * 10))); do
        "$@" >/dev/null 2>&1 && return 0
        sleep 0.1
    done
    return 1
}

# mb_metric NAME: its value at the bridge's metrics endpoint now
mb_metric()
{
    curl -sS --max-time 5 "$METRICS_URL/metrics" | awk -v k="$1" '$1 == k { print $2 }'
}

mb_progress_past()
{
    [ "$(mb_val "$TO" "SELECT '$(mb_progress "$TO" "$NAME")'::pg_lsn >= '$1'")" = t ]
}

mb_caught_up()
{
    local end
    end=$(mb_val "$FROM" "SELECT pg_current_wal_lsn()")
    mb_wait_for 120 mb_progress_past "$end" || mb_fail "the $TO_ROLE did not catch up to $end"
}

# mb_log_has REGEX: the bridge's log has a line matching REGEX (extended)
mb_log_has()
{
    grep -qE -- "$1" "$BRIDGE_LOG"
}

mb_verify_equal()
{
    "$MB_BRIDGE" verify --source "$SRC" --target "$DST" --schemas "${MB_SCHEMAS:-memori,crash}" \
        >"$MB_TMP/verify.out" 2>&1
}

mb_schema_equal()
{
    local t cols key
    if mb_wait_for 60 mb_verify_equal; then
        mb_ok "verify: equal ($(grep -c 'equal' "$MB_TMP/verify.out") objects)"
    else
        mb_fail "verify: $(grep -vE ' equal( or ahead)?$' "$MB_TMP/verify.out" | head -20)"
    fi
    cat "$MB_TMP/verify.out" >>"$MB_OUT"
    for t in $(mb_val "$FROM" "SELECT format('%I.%I', n.nspname, c.relname) FROM pg_class c
                                JOIN pg_namespace n ON n.oid = c.relnamespace
                                WHERE c.relkind = 'r' AND n.nspname = ANY (string_to_array('${MB_SCHEMAS:-memori,crash}', ','))
                                ORDER BY 1"); do
        cols=$(mb_val "$FROM" "SELECT string_agg(quote_ident(attname), ', ' ORDER BY attname) FROM pg_attribute
                               WHERE attrelid = '$t'::regclass AND attnum > 0 AND NOT attisdropped")
        key=$(mb_val "$FROM" "SELECT coalesce(string_agg(quote_ident(a.attname), ', '), '1') FROM pg_index i
                              JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY (i.indkey)
                              WHERE i.indrelid = '$t'::regclass AND i.indisprimary")
        mb_compare "$t" "SELECT $cols FROM $t ORDER BY $key"
    done
}
