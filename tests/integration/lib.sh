# lib.sh - shared helpers of the shell integration tests. Source it, then:
#
#   mb_start 2 [--ssl]         start clusters (SRC = cluster 1, made the way
#                              Supabase makes it, DST = cluster 2);
#                              --ssl: TLS only, DSNs with sslmode=verify-full
#   mb_start_pgbouncer N [OPT] a PgBouncer in front of cluster N (PGB_DSN, ...)
#   mb_start_link N VAR        a link proxy in front of cluster N (tests/harness/pgl):
#                              VAR_DSN (through it), VAR_DIR (for mb_link)
#   mb_link VAR MODE [ARGS]    switch it: pass, reset, blackhole, slow [DELAY_MS], strand
#   mb_setup_pair [SQL...]     memori schema (and SQL files) on both, slot on SRC,
#                              the target marked ready (mb_mark_ready)
#   mb_metrics_url LOG         the metrics URL a bridge logging to LOG serves
#   mb_setup_direction [SQL...] the same, for the direction of MB_DIRECTION
#   mb_sql DSN SQL             run SQL; mb_val DSN SQL prints one value
#   mb_progress DSN NAME       the progress of a direction recorded on a side
#   mb_bridge ARGS...          run memori-bridge; all its output is kept
#   mb_expect CODE REGEX ARGS  run memori-bridge, check exit code and stderr
#   mb_refused REGEX ARGS      memori-bridge exits 1 with one error line, REGEX
#   mb_compare TABLE [SELECT]  full-row comparison of SRC and DST
#   mb_finish                  summary; exit status
#
# Everything the bridge prints goes to $MB_OUT (and is kept under
# $MB_BINARY_DIR/test-output/, where the secrets test greps it for the
# harness password). Clusters are stopped on exit, whatever happens; the
# harness watchdog stops them if this shell is killed.
set -uo pipefail

: "${MB_BRIDGE:?MB_BRIDGE names the memori-bridge binary}"
: "${MB_PGH:?MB_PGH names the harness script}"
MB_TEST=${MB_TEST:-$(basename "$0" .sh)}
MB_TMP=$(mktemp -d)
MB_OUTDIR=${MB_BINARY_DIR:-$MB_TMP}/test-output
mkdir -p "$MB_OUTDIR"
MB_OUT=$MB_OUTDIR/$MB_TEST.log
: >"$MB_OUT"
MB_FAILURES=0
MB_SET=
MB_BG_PIDS=()

mb_cleanup()
{
    local p
    for p in "${MB_BG_PIDS[@]}"; do
        kill -9 "$p" 2>/dev/null
        wait "$p" 2>/dev/null
    done
    [ -n "$MB_SET" ] && "$MB_PGH" stop "$MB_SET" >/dev/null 2>&1
    rm -rf "$MB_TMP"
}
trap mb_cleanup EXIT
trap 'exit 130' INT TERM

mb_log() { printf '%s\n' "$*" | tee -a "$MB_OUT"; }
mb_ok() { mb_log "ok: $*"; }
mb_fail()
{
    mb_log "FAIL: $*"
    MB_FAILURES=$((MB_FAILURES + 1))
}
mb_die()
{
    mb_log "FAIL: $*"
    exit 1
}

# mb_start [N] [--ssl]: N clusters (default 2). The source, cluster 1, is made the way
# Supabase makes its own (tests/harness/pgh): SRC connects as its non-superuser
# "postgres", SRC_ADMIN as its bootstrap superuser "supabase_admin". With
# MB_SOURCE_PROFILE=superuser it is a plain cluster, and SRC connects as the
# superuser. DST (cluster 2) is a plain cluster, as the standalone container is.
mb_start()
{
    local env profile=()
    case "${MB_SOURCE_PROFILE:-supabase}" in
        supabase) profile=(--supabase 1) ;;
        superuser) ;;
        *) mb_die "MB_SOURCE_PROFILE is \"$MB_SOURCE_PROFILE\"; use supabase or superuser" ;;
    esac
    env=$("$MB_PGH" start --count "${1:-2}" --owner $$ "${profile[@]}" "${@:2}") || mb_die "could not start clusters"
    eval "$env"
    MB_SET=$PGH_SET
    SRC=$PGH_1_DSN
    SRC_ADMIN=$PGH_1_ADMIN_DSN
    DST=${PGH_2_DSN:-}
    DST_ADMIN=${PGH_2_ADMIN_DSN:-}
    mb_log "source: ${PGH_1_PROFILE} profile"
    PSQL=("$PGH_BINDIR/psql" -X -q -v ON_ERROR_STOP=1)
}

# mb_start_pgbouncer N [OPTION...]: a PgBouncer (tests/harness/pgb) in front of
# cluster N, stopped with the set; sets PGB_DSN, PGB_ADMIN_DSN, PGB_PORT, ...
mb_start_pgbouncer()
{
    local env
    env=$(bash "${MB_PGH%/*}/pgb" start "$MB_SET" "$@") || mb_die "could not start PgBouncer"
    eval "$env"
}

# mb_start_link N VAR: a link proxy (tests/harness/pgl) in front of cluster
# N, stopped with the set; sets VAR_DSN (the cluster's DSN through the proxy)
# and VAR_DIR.
mb_start_link()
{
    local env port
    env=$(bash "${MB_PGH%/*}/pgl" start "$MB_SET" "$1") || mb_die "could not start a link proxy"
    eval "$env"
    port=PGH_${1}_PORT
    eval "dsn=\$PGH_${1}_DSN"
    # shellcheck disable=SC2154
    printf -v "${2}_DSN" '%s' "${dsn/port=${!port}/port=$PGL_PORT}"
    printf -v "${2}_DIR" '%s' "$PGL_DIR"
}

# mb_link VAR MODE [ARGS]: switch the proxy of mb_start_link VAR (pgl mode).
mb_link()
{
    local dir=${1}_DIR
    bash "${MB_PGH%/*}/pgl" mode "${!dir}" "${@:2}" || mb_die "could not switch link $1 to $2"
    mb_log "link $1: $2${3:+ $3}"
}

# mb_metrics_url LOG: the URL (http://HOST:PORT) of the metrics endpoint of
# the bridge that logs to LOG, from its log line (10 s); "" when none.
mb_metrics_url()
{
    local url=
    for _ in $(seq 1 100); do
        url=$(sed -n 's#.*serving metrics at \(http://[^/]*\)/metrics.*#\1#p' "$1" | head -1)
        [ -n "$url" ] && break
        sleep 0.1
    done
    printf '%s\n' "$url"
}

# mb_sql DSN SQL: run SQL, quietly; fail the test when it fails.
mb_sql()
{
    "${PSQL[@]}" -d "$1" -c "$2" >/dev/null || mb_die "SQL failed: $2"
}

# mb_val DSN SQL: one value.
mb_val()
{
    "${PSQL[@]}" -d "$1" -Atc "$2" || mb_die "SQL failed: $2"
}

# mb_progress DSN NAME: the progress of direction NAME recorded on that side
# (memori_bridge.progress), 0/0 when none.
mb_progress()
{
    mb_val "$1" "SELECT coalesce((SELECT end_lsn FROM memori_bridge.progress WHERE slot = '$2'), '0/0')"
}

mb_sql_file()
{
    PGOPTIONS="-c client_min_messages=warning" "${PSQL[@]}" -d "$1" -f "$2" >/dev/null ||
        mb_die "SQL file failed: $2"
}

# mb_setup_pair [FILE...]: the memori schema and FILEs on both, a wal2json
# slot "memori_bridge" on the source, and the target marked ready for it.
mb_setup_pair()
{
    local f
    for f in "$MB_SOURCE_DIR/sql/memori_schema.sql" "$@"; do
        mb_sql_file "$SRC" "$f"
        mb_sql_file "$DST" "$f"
    done
    mb_sql "$SRC" "SELECT pg_create_logical_replication_slot('memori_bridge', 'wal2json')"
    mb_mark_ready forward
}

# mb_setup_direction [FILE...]: mb_setup_pair, then the direction of
# MB_DIRECTION (default forward; mb_direction), its slot made and the side
# applied to marked ready
mb_setup_direction()
{
    mb_setup_pair "$@"
    mb_direction "${MB_DIRECTION:-forward}"
    if [ "$SLOT" != memori_bridge ]; then
        mb_sql "$FROM" "SELECT pg_create_logical_replication_slot('$SLOT', 'wal2json')"
        mb_mark_ready reverse
    fi
    mb_log "direction: ${MB_DIRECTION:-forward}, slot $SLOT"
}

# mb_mark_ready forward|reverse: for a pair made by hand (equal tables, a slot
# made when they were), what init (forward) or a cutover (reverse) leaves on
# the side applied to: the bridge's objects, the direction's progress at the
# slot's start, and, forward, init's record. run refuses to stream without
# them (pg/continuity.h). The reverse slot must exist on the target.
mb_mark_ready()
{
    local from=$SRC to=$DST slot=memori_bridge at
    if [ "${1:-forward}" = reverse ]; then
        from=$DST to=$SRC slot=memori_bridge_reverse
    fi
    at=$(mb_val "$from" "SELECT confirmed_flush_lsn FROM pg_replication_slots WHERE slot_name = '$slot'")
    [ -n "$at" ] || mb_die "mb_mark_ready: no slot $slot"
    mb_sql_file "$to" "$MB_SOURCE_DIR/sql/memori_bridge.sql"
    mb_sql "$to" "INSERT INTO memori_bridge.progress (slot, end_lsn) VALUES ('$slot', '$at')
                  ON CONFLICT (slot) DO UPDATE SET end_lsn = excluded.end_lsn"
    [ "${1:-forward}" = reverse ] && return 0
    mb_sql "$to" "INSERT INTO memori_bridge.init_state (slot, phase, consistent_point, schemas, finished_at)
                  VALUES ('memori_bridge', 'done', '$at', 'memori', now())
                  ON CONFLICT (slot) DO UPDATE SET phase = 'done', consistent_point = excluded.consistent_point"
}

# The test's own echo of a command line: passwords hidden, as the bridge does.
mb_hide()
{
    sed -e 's/password=[^ &]*/password=(hidden)/g' -e 's#\(//[^:/@]*\):[^@/]*@#\1:(hidden)@#g'
}

mb_bridge()
{
    printf '+ memori-bridge' >>"$MB_OUT"
    printf ' %q' "$@" | mb_hide >>"$MB_OUT"
    printf '\n' >>"$MB_OUT"
    "$MB_BRIDGE" "$@" >>"$MB_OUT" 2>&1
}

# mb_run_to_end [ARGS]: run until everything written so far is applied.
mb_run_to_end()
{
    local end
    end=$(mb_val "$SRC" "SELECT pg_current_wal_lsn()")
    mb_bridge run --source "$SRC" --target "$DST" --stop-at "$end" --lag-interval 0 "$@"
}

# mb_direction forward|reverse: FROM and TO (the side streamed from and the
# one applied to), SLOT (streamed on FROM), NAME (its progress on TO) and
# DIRECTION_ARGS (for run) of that direction. Reverse streams the target back
# into the source, as after a cutover.
mb_direction()
{
    case "$1" in
        forward) FROM=$SRC TO=$DST SLOT=memori_bridge DIRECTION_ARGS=(--direction forward) ;;
        reverse) FROM=$DST TO=$SRC SLOT=memori_bridge_reverse DIRECTION_ARGS=(--direction reverse) ;;
        *) mb_die "mb_direction: forward or reverse, not \"$1\"" ;;
    esac
    NAME=$SLOT
}

# mb_expect CODE REGEX ARGS...: the bridge exits with CODE and its stderr
# matches REGEX (extended). Leaves stderr in $MB_TMP/err.
mb_expect()
{
    local code=$1 pattern=$2 got
    shift 2
    printf '+ memori-bridge' >>"$MB_OUT"
    printf ' %q' "$@" | mb_hide >>"$MB_OUT"
    printf '\n' >>"$MB_OUT"
    # (the braces keep the shell's own "Killed" notice out of the output)
    { "$MB_BRIDGE" "$@" >"$MB_TMP/out" 2>"$MB_TMP/err"; } 2>/dev/null
    got=$?
    cat "$MB_TMP/out" "$MB_TMP/err" >>"$MB_OUT"
    if [ "$got" -ne "$code" ]; then
        mb_fail "exit $got, expected $code: $(tail -3 "$MB_TMP/err")"
        return 1
    fi
    if [ -n "$pattern" ] && ! grep -qE -- "$pattern" "$MB_TMP/err"; then
        mb_fail "stderr does not match /$pattern/: $(cat "$MB_TMP/err")"
        return 1
    fi
    return 0
}

# mb_refused REGEX ARGS...: the bridge exits 1, and its stderr holds one error
# line, which matches REGEX (extended), and log lines only (no continuation
# lines of a libpq message).
mb_refused()
{
    local pattern=$1 n
    shift
    mb_expect 1 "" "$@" || return 1
    n=$(grep -c 'error: ' "$MB_TMP/err")
    if [ "$n" -ne 1 ]; then
        mb_fail "$n error lines, expected 1: $(cat "$MB_TMP/err")"
        return 1
    fi
    if grep -qvE '^([0-9-]+ [0-9:.]+ )?memori-bridge: ' "$MB_TMP/err"; then
        mb_fail "stderr has lines that are not log lines: $(cat "$MB_TMP/err")"
        return 1
    fi
    if ! grep -qE -- "$pattern" "$MB_TMP/err"; then
        mb_fail "stderr does not match /$pattern/: $(cat "$MB_TMP/err")"
        return 1
    fi
}

# mb_compare TABLE [SELECT]: every row of TABLE (or of SELECT) equal on both
# sides, in primary-key order, compared as COPY text.
mb_compare()
{
    local table=$1 query=${2:-"SELECT * FROM $1 ORDER BY 1"}
    "${PSQL[@]}" -d "$SRC" -c "COPY ($query) TO STDOUT" >"$MB_TMP/src.copy" ||
        mb_die "could not read $table on the source"
    "${PSQL[@]}" -d "$DST" -c "COPY ($query) TO STDOUT" >"$MB_TMP/dst.copy" ||
        mb_die "could not read $table on the target"
    if cmp -s "$MB_TMP/src.copy" "$MB_TMP/dst.copy"; then
        mb_ok "$table: $(wc -l <"$MB_TMP/src.copy") rows equal"
        return 0
    fi
    mb_fail "$table differs (source < > target):"
    # the first differing rows, field by field
    paste -d '\n' "$MB_TMP/src.copy" "$MB_TMP/dst.copy" | awk -F '\t' '
        NR % 2 == 1 { n = split($0, s, "\t"); next }
        { m = split($0, d, "\t"); if ($0 == prev) next
          for (i = 1; i <= (n > m ? n : m); i++)
              if (s[i] != d[i]) { printf "  row %d, field %d: source %.120s | target %.120s\n", NR / 2, i, s[i], d[i]; if (++shown == 10) exit } }' |
        tee -a "$MB_OUT"
    return 1
}

mb_compare_memori()
{
    local t
    for t in memories entities relationships conversations; do
        mb_compare "memori.$t"
    done
}

# mb_check_writers W...: on TO (the target), each crash writer's log holds every
# number from 1 to its counter exactly once (tests/integration/crash_setup.sql).
mb_check_writers()
{
    local w got count distinct max counter
    for w in "$@"; do
        got=$(mb_val "${TO:-$DST}" "SELECT count(*) || ' ' || count(DISTINCT seq) || ' ' || coalesce(max(seq), 0) || ' ' ||
                             (SELECT n FROM crash.counter WHERE writer = $w) FROM crash.log WHERE writer = $w")
        read -r count distinct max counter <<<"$got"
        if [ "$count" = "$max" ] && [ "$distinct" = "$max" ] && [ "$max" = "$counter" ] && [ "$max" -gt 0 ]; then
            mb_ok "writer $w: 1..$max, each once"
        else
            mb_fail "writer $w: $count rows, $distinct distinct, max $max, counter $counter"
        fi
    done
}

mb_finish()
{
    if [ "$MB_FAILURES" -ne 0 ]; then
        mb_log "$MB_TEST: $MB_FAILURES failure(s); the bridge's output: $MB_OUT"
        exit 1
    fi
    mb_log "$MB_TEST: all passed"
    exit 0
}
