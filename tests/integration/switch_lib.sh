# switch_lib.sh - helpers of the cutover and rollback tests (after lib.sh).

MB_WRITER=${MB_BINARY_DIR:?}/tests/integration/switch_writer

# mb_switch_setup [ROWS]: memori on the source with data, init (which fences
# the target), and SRC_ENV/DST_ENV exported for the bridge.
mb_switch_setup()
{
    mb_sql_file "$SRC" "$MB_SOURCE_DIR/sql/memori_schema.sql"
    mb_sql "$SRC" "INSERT INTO memori.memories (user_id, content) SELECT 'seed', 'seed ' || g
                   FROM generate_series(1, ${1:-2000}) g"
    export MEMORI_BRIDGE_SOURCE=$SRC MEMORI_BRIDGE_TARGET=$DST
    mb_expect 0 "fenced the target" init || mb_die "init failed"
}

# mb_start_run [ARGS]: a long-running bridge in the background ($RUN_PID).
mb_start_run()
{
    "$MB_BRIDGE" run --lag-interval 2s "$@" >>"$MB_OUT" 2>&1 &
    RUN_PID=$!
    MB_BG_PIDS+=("$RUN_PID")
}

# mb_start_writers N...: switch_writer processes with those indexes.
mb_start_writers()
{
    local i
    WRITER_PIDS=()
    for i in "$@"; do
        "$MB_WRITER" "$SRC" "$DST" "$MB_TMP/writer$i.dump" "$i" 3000 >"$MB_TMP/writer$i.out" 2>&1 &
        WRITER_PIDS+=("$!")
        MB_BG_PIDS+=("$!")
    done
}

# mb_stop_writers: they dump their models and say their figures.
mb_stop_writers()
{
    local p
    for p in "${WRITER_PIDS[@]}"; do
        kill -TERM "$p"
    done
    for p in "${WRITER_PIDS[@]}"; do
        wait "$p" || mb_fail "a writer failed: $(cat "$MB_TMP"/writer*.out)"
    done
    cat "$MB_TMP"/writer*.out | tee -a "$MB_OUT"
}

# mb_check_dumps DSN SIDE N...: the rows of writers N... on that side are
# exactly their acknowledged writes.
mb_check_dumps()
{
    local dsn=$1 side=$2 i
    shift 2
    for i in "$@"; do
        "${PSQL[@]}" -d "$dsn" -Atc "SELECT id || E'\t' || content FROM memori.memories
                                    WHERE user_id = 'switch-writer-$i' ORDER BY id" >"$MB_TMP/db$i" ||
            mb_die "could not read writer $i's rows on the $side"
        if cmp -s "$MB_TMP/writer$i.dump" "$MB_TMP/db$i"; then
            mb_ok "writer $i: the $side holds exactly its $(wc -l <"$MB_TMP/db$i") acknowledged rows"
        else
            mb_fail "writer $i: the $side differs from its acknowledged writes: $(diff "$MB_TMP/writer$i.dump" "$MB_TMP/db$i" | head -5)"
        fi
    done
}

# mb_wait_applied DSN NAME LSN: until the progress of direction NAME on DSN
# has passed LSN (60 s).
mb_wait_applied()
{
    local i
    for i in $(seq 1 600); do
        [ "$(mb_val "$1" "SELECT '$(mb_progress "$1" "$2")'::pg_lsn >= '$3'")" = t ] && return 0
        sleep 0.1
    done
    mb_fail "the progress of $2 did not reach $3"
    return 1
}

# mb_wait_streaming DSN SLOT: until a walsender streams SLOT on DSN (60 s);
# after a cutover the running bridge turns around by itself, a moment later.
mb_wait_streaming()
{
    local i
    for i in $(seq 1 600); do
        [ "$(mb_val "$1" "SELECT coalesce((SELECT active FROM pg_replication_slots WHERE slot_name = '$2'), false)")" = t ] &&
            return 0
        sleep 0.1
    done
    mb_fail "no bridge streams slot $2"
    return 1
}

# mb_fenced DSN: does a write there get the fence's error?
mb_fenced()
{
    local out
    out=$("${PSQL[@]}" -d "$1" -c "INSERT INTO memori.memories (user_id, content) VALUES ('probe', 'fence probe')" 2>&1)
    case "$out" in
        *"memori is read-only here"*) return 0 ;;
        *) "${PSQL[@]}" -d "$1" -c "DELETE FROM memori.memories WHERE user_id = 'probe'" >/dev/null 2>&1; return 1 ;;
    esac
}
