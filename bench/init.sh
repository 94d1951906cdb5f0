#!/bin/bash
# Initial-copy benchmark: `memori-bridge init` next to pgcopydb and
# pg_dump | pg_restore, copying the same memori data (at least MB_INIT_GB GiB on
# the source, indexes and TOAST included) into an empty target database, in the
# same run, on the same machine; then `memori-bridge verify` on init's copy.
#
#   bench/init.sh [BUILD_DIR]          (default: build)
#
# Knobs (environment):
#   MB_BRIDGE      the binary (default BUILD_DIR/bridge/memori-bridge); when it is
#                  missing, or its `init` is not built yet, the init and verify rows
#                  are skipped with a message
#   MB_INIT_GB     source size to reach: pg_total_relation_size of the memori tables,
#                  in GiB (2^30 bytes), at least (default 1; 0.1 for a quick look)
#   MB_INIT_RUNS   runs per method, of which the table shows the median (default 3)
#   MB_INIT_JOBS1  1: also time memori-bridge init --jobs 1 (default 0)
# With the defaults it takes about 17 minutes on the 2-core reference machine
# when it is otherwise idle (more when other work runs; 4 more with MB_INIT_JOBS1=1).
#
# How it measures
#
# Clusters: two throwaway PostgreSQL 15 clusters (tests/harness/pgh), the source
# and the target, on this machine. The source gets a database "memori" with
# sql/memori_schema.sql and the data of bench/init_data.sql: batches of 10,000
# memories (200 B to 4 KB of text, tsvector, jsonb metadata), 1,000 entities,
# 1,500 relationships and 800 conversations, loaded by two sessions side by side
# until the memori tables with their indexes and TOAST reach MB_INIT_GB. Then
# the sequences are set, the generator's schema is dropped, and the source is
# vacuumed, analyzed and checkpointed: nothing runs on it during the copies. The
# target gets nothing: each run copies into a database created for it, which is
# dropped once the run is checked.
#
# Methods, each timed as the wall time of its command(s), after a CHECKPOINT on
# both sides:
#   memori-bridge init --jobs 2   creates the slot (exported snapshot), the tables
#                                 from the source catalog, COPYs over 2 connections
#                                 (--copy-format auto: binary, the clusters being of
#                                 one major version), builds keys and indexes, sets
#                                 sequences and origin; before each run the slot
#                                 "memori_bridge" is dropped on the source and the
#                                 origin on the target (origins are cluster-wide)
#   memori-bridge init --jobs 2 --copy-format text
#                                 the same in COPY's text format, as between servers
#                                 of two major versions (Supabase 15 into PostgreSQL 17)
#   memori-bridge init --jobs 1   with MB_INIT_JOBS1=1: the same over one connection
#                                 (how much the second connection buys on 2 cores)
#   pgcopydb clone                --table-jobs 2 --index-jobs 2, a fresh --dir, a filter
#                                 file naming the four memori tables (pgcopydb 0.10 has
#                                 no include-only-schema); PG_CONFIG points it at the
#                                 clusters' own pg_dump and pg_restore. It also runs
#                                 VACUUM ANALYZE on every table it copied: that is
#                                 part of its time
#   pg_dump | pg_restore          pg_dump -Fc -Z0 -n memori | pg_restore, one stream
#   pg_dump -Fd -j 2, pg_restore -j 2
#                                 the parallel form: dump to a directory, then restore
# pg_dump and pg_restore are the clusters' own (same major version). -Z0: over a
# pipe or to a local directory, compression only costs CPU (zlib at its default
# level more than doubles the time of the pipe on this machine).
# Round r runs the methods in an order rotated by r, so that none always goes
# first.
#
# After every run the target must equal the source: per table, count(*) and
# sum(hashtextextended(row::text, 0)), computed inside each database and
# compared here. A difference stops the benchmark. After every init --jobs 2
# run, `memori-bridge verify` on the fresh copy is timed too (it must exit 0).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$here/lib.sh"
bench_build "${1:-}"
gb=${MB_INIT_GB:-1}
runs=${MB_INIT_RUNS:-3}
jobs1=${MB_INIT_JOBS1:-0}
run_started=$(now)

[[ $gb =~ ^[0-9]+([.][0-9]+)?$ ]] && awk -v g="$gb" 'BEGIN { exit !(g > 0 && g <= 64) }' ||
    die "MB_INIT_GB must be a number of GiB above 0 (at most 64), not \"$gb\""
[[ $runs =~ ^[0-9]+$ ]] && [ "$runs" -ge 1 ] && [ "$runs" -le 9 ] ||
    die "MB_INIT_RUNS must be a whole number from 1 to 9, not \"$runs\""
[[ $jobs1 =~ ^[01]$ ]] || die "MB_INIT_JOBS1 must be 0 or 1, not \"$jobs1\""

# The init rows run only when the binary is there and its `init` is built.
bench_bridge_built init || say "skipping the memori-bridge rows: $bridge_skip"

have_pgcopydb=0
pgcopydb_skip=
if command -v pgcopydb >/dev/null 2>&1; then
    have_pgcopydb=1
    pgcopydb_version=$(pgcopydb --version 2>/dev/null | sed -n 's/^pgcopydb version //p' | head -n 1) || true
    pgcopydb_version=${pgcopydb_version:-?}
else
    pgcopydb_skip="pgcopydb is not installed (apt-get install pgcopydb; scripts/install-deps.sh installs it)"
    pgcopydb_version=none
    say "skipping the pgcopydb rows: $pgcopydb_skip"
fi

bench_busy

bench_clusters 2
# Connection strings without the password; libpq (and so memori-bridge,
# pgcopydb, pg_dump and pg_restore) takes it from PGPASSWORD, so it is never on
# a command line, in a log or in this output.
export PGPASSWORD=$PGH_PASSWORD
SRC=$(dsn "$PGH_1_PORT" postgres memori)
SRC_URI="postgres://postgres@127.0.0.1:$PGH_1_PORT/memori"
tgt_dsn() { dsn "$PGH_2_PORT" postgres "$1"; }
tgt_uri() { printf 'postgres://postgres@127.0.0.1:%s/%s' "$PGH_2_PORT" "$1"; }

# psql quietly: no NOTICE about cascades or missing databases.
psql_q() { PGOPTIONS="${PGOPTIONS:-} -c client_min_messages=warning" q "$@"; }
src() { psql_q "$SRC" "$@"; }
srcq() { src -At -c "$1"; }
# tgt DB ARGS...: psql on target database DB
tgt() { local db=$1; shift; psql_q "$(tgt_dsn "$db")" "$@"; }
tgtq() { tgt "$1" -At -c "$2"; }

say "cpu: $(cpu_cores); $(pg_version); pgcopydb $pgcopydb_version"

psql_q "$(dsn "$PGH_1_PORT")" -c "CREATE DATABASE memori"
src -f "$root/sql/memori_schema.sql"

tables=(memories entities relationships conversations)
memori_size_sql="SELECT sum(pg_total_relation_size(c.oid))::bigint FROM pg_class c
                 WHERE c.relnamespace = 'memori'::regnamespace AND c.relkind IN ('r', 'p')"

# ---------------------------------------------------------------------------
# The data

target_bytes=$(awk -v g="$gb" 'BEGIN { printf "%.0f", g * 1073741824 }')
# A batch adds about 42 MB (1 GiB is about 25.5 batches); start a little
# below and top up one batch at a time.
first_batches=$(awk -v g="$gb" 'BEGIN { n = int(g * 24); print (n < 1 ? 1 : n) }')
say "loading the source: batches 0 to $((first_batches - 1)) by two sessions, then one at a time up to $target_bytes bytes"
t_load0=$(now)
src -f "$here/init_data.sql"
gen_ready=$(now)
load_batches()
{
    PGOPTIONS="-c session_replication_role=replica" src -c "CALL bench_gen.load($1, $2, $3)"
}
if [ "$first_batches" -ge 2 ]; then
    load_batches 1 2 $((first_batches - 1)) &
    loader=$!
    bg_pids+=("$loader")
    load_batches 0 2 $((first_batches - 1)) || die "loading batches failed"
    wait "$loader" || die "loading batches failed"
    bg_pids=()
else
    load_batches 0 1 0
fi
batches=$first_batches
while [ "$(srcq "$memori_size_sql")" -lt "$target_bytes" ]; do
    load_batches $batches 1 $batches
    batches=$((batches + 1))
done
src -c "CALL bench_gen.finish()"
t_load1=$(now)
# The loader set content_tsv itself (see bench/init_data.sql): it must be what
# the trigger computes.
bad_tsv=$(srcq "SELECT count(*) FROM memori.memories WHERE id % 97 = 0
                AND content_tsv IS DISTINCT FROM to_tsvector('english', content)")
[ "$bad_tsv" = 0 ] || die "$bad_tsv sampled memories have a content_tsv that differs from to_tsvector('english', content)"
src -c "DROP SCHEMA bench_gen CASCADE"
t_vac0=$(now)
src -c "VACUUM ANALYZE" -c "CHECKPOINT"
t_vac1=$(now)
src_bytes=$(srcq "$memori_size_sql")
src_mb=$(awk -v b="$src_bytes" 'BEGIN { printf "%.1f", b / 1e6 }')
read -r n_mem n_ent n_rel n_conv < <(srcq "SELECT (SELECT count(*) FROM memori.memories), (SELECT count(*) FROM memori.entities),
                                             (SELECT count(*) FROM memori.relationships), (SELECT count(*) FROM memori.conversations)" |
                                      tr '|' ' ')
size_detail=$(srcq "SELECT string_agg(format('%s %s MB (heap %s, TOAST %s, indexes %s)', c.relname,
                        round(pg_total_relation_size(c.oid) / 1e6, 1), round(pg_relation_size(c.oid) / 1e6, 1),
                        round((pg_table_size(c.oid) - pg_relation_size(c.oid)) / 1e6, 1),
                        round(pg_indexes_size(c.oid) / 1e6, 1)), '; ' ORDER BY pg_total_relation_size(c.oid) DESC)
                    FROM pg_class c WHERE c.relnamespace = 'memori'::regnamespace AND c.relkind = 'r'")
load_secs=$(secs "$t_load0" "$t_load1")
gen_secs=$(secs "$t_load0" "$gen_ready")
vac_secs=$(secs "$t_vac0" "$t_vac1")
say "loaded $batches batches in $load_secs s ($gen_secs s of it the corpus and tsvectors), VACUUM ANALYZE $vac_secs s:" \
    "$src_bytes bytes ($src_mb MB) of memori: $size_detail"

# Per table: count(*) and the sum of the rows' hashes, computed in each database.
checksum_sql="SELECT string_agg(t || ' ' || n || ' ' || h, E'\n' ORDER BY t) FROM ("
for t in "${tables[@]}"; do
    checksum_sql+="SELECT 'memori.$t' t, count(*) n, coalesce(sum(hashtextextended(x::text, 0)::numeric), 0) h
                   FROM memori.$t x UNION ALL "
done
checksum_sql="${checksum_sql% UNION ALL }) s"
src_sum=$(srcq "$checksum_sql")

check_copy()
{
    local db=$1 what=$2 t
    t=$(tgtq "$db" "$checksum_sql")
    if [ "$t" != "$src_sum" ]; then
        say "source and target differ after $what (table rows sum-of-hashes):"
        diff <(echo "$src_sum") <(echo "$t") | sed 's/^/    /' >&2 || true
        die "the target is not a copy of the source after $what"
    fi
}

drop_origin()
{
    tgt postgres -c "SELECT pg_replication_origin_drop(roname) FROM pg_replication_origin WHERE roname = 'memori_bridge'" >/dev/null
}

printf '[include-only-table]\nmemori.memories\nmemori.entities\nmemori.relationships\nmemori.conversations\n' \
    >"$work/pgcopydb-filters.ini"
pgconfig=$bin/pg_config
[ -x "$pgconfig" ] || pgconfig=$(command -v pg_config || true)

# ---------------------------------------------------------------------------
# The runs

methods=()
[ "$have_bridge" = 1 ] && methods+=(init2 init2_text)
[ "$have_bridge" = 1 ] && [ "$jobs1" = 1 ] && methods+=(init1)
[ "$have_pgcopydb" = 1 ] && methods+=(pgcopydb)
methods+=(dump_pipe dump_dir)
declare -A label=([init2]="memori-bridge init --jobs 2 (binary COPY: auto)"
                  [init2_text]="memori-bridge init --jobs 2 --copy-format text"
                  [init1]="memori-bridge init --jobs 1"
                  [pgcopydb]="pgcopydb clone, 2 table + 2 index jobs"
                  [dump_pipe]="pg_dump -Fc -Z0 | pg_restore"
                  [dump_dir]="pg_dump -Fd -j 2 -Z0, pg_restore -j 2")
declare -A times
verify_times=
declare -a phase=()   # init --jobs 2's phases, one list per phase (see init_phases)
declare -a text_phase=() # the same of init --jobs 2 --copy-format text
loads=
copied_line=
init2_t0=

# Each line of stdin with the time it came ($EPOCHREALTIME: no fork per line).
stamp() { local line; while IFS= read -r line; do printf '%s %s\n' "$EPOCHREALTIME" "$line"; done; }

# init's phases from its stamped log, in seconds: checks and slot (to the
# "created slot" line), the target's tables (to "copying N table(s)"), the copy
# (to "copied N rows"), keys and indexes (to the last "created index" or
# "created constraint" line), and the rest: sequences, origin, exit (to T1).
init_phases()
{
    awk -v t0="$2" -v t1="$3" '
        / memori-bridge: created slot / { a = $1 }
        / memori-bridge: copying [0-9]+ table/ { b = $1 }
        / memori-bridge: copied [0-9]+ rows, / { c = $1 }
        / memori-bridge: created (index|constraint) / { d = $1 }
        END { if (!d) d = c; printf "%.1f %.1f %.1f %.1f %.1f\n", a - t0, b - a, c - b, d - c, t1 - d }' "$1"
}

run_one()
{
    local m=$1 r=$2 db=${1}_$2 t0 t1 rc=0 log=$work/${1}_$2.log v0 v1 l1
    tgt postgres -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" -c "CREATE DATABASE $db"
    case $m in
        init*) drop_slot "$SRC" memori_bridge; drop_origin ;;
        pgcopydb) rm -rf "$work/pgcopydb" ;;
        dump_dir) rm -rf "$work/dump" ;;
    esac
    src -c CHECKPOINT
    tgt postgres -c CHECKPOINT
    l1=$(load1)
    loads+="$l1 "
    t0=$(now)
    case $m in
        init2 | init1)
            { "$bridge" init --source "$SRC" --target "$(tgt_dsn "$db")" --jobs "${m#init}" 2>&1 | stamp >"$log"; } || rc=$?
            ;;
        init2_text)
            { "$bridge" init --source "$SRC" --target "$(tgt_dsn "$db")" --jobs 2 --copy-format text 2>&1 |
                  stamp >"$log"; } || rc=$?
            grep -q "COPY format: text" "$log" || die "init --copy-format text did not copy in text (round $r)"
            ;;
        pgcopydb)
            PG_CONFIG=$pgconfig PATH="$bin:$PATH" pgcopydb clone --source "$SRC_URI" --target "$(tgt_uri "$db")" \
                --table-jobs 2 --index-jobs 2 --dir "$work/pgcopydb" --filters "$work/pgcopydb-filters.ini" \
                >"$log" 2>&1 || rc=$?
            ;;
        dump_pipe)
            { "$bin/pg_dump" -Fc -Z0 -n memori -d "$SRC" |
                  "$bin/pg_restore" --exit-on-error -d "$(tgt_dsn "$db")"; } >"$log" 2>&1 || rc=$?
            ;;
        dump_dir)
            { "$bin/pg_dump" -Fd -j 2 -Z0 -n memori -f "$work/dump" -d "$SRC" &&
                  "$bin/pg_restore" -j 2 --exit-on-error -d "$(tgt_dsn "$db")" "$work/dump"; } >"$log" 2>&1 || rc=$?
            ;;
    esac
    t1=$(now)
    if [ "$rc" != 0 ]; then
        if [ "$m" = pgcopydb ]; then
            # pgcopydb is a comparison, not the subject: say why and go on without it.
            pgcopydb_skip="pgcopydb clone exited with status $rc: $(grep -E 'ERROR|FATAL' "$log" | head -n 3 |
                                                                   sed 's/^[0-9:]* [0-9]* //' | paste -sd' ' -)"
            say "skipping the pgcopydb rows: $pgcopydb_skip"
            sed 's/^/    /' "$log" | tail -n 20 >&2
            have_pgcopydb=0
            tgt postgres -c "DROP DATABASE $db WITH (FORCE)"
            return 0
        fi
        sed 's/^/    /' "$log" | tail -n 40 >&2
        die "${label[$m]} exited with status $rc (round $r; its output is above)"
    fi
    times[$m]+="$(secs "$t0" "$t1") "
    if [ "$m" = init2 ]; then
        # verify on the fresh copy, with no writers, as right after an init
        v0=$(now)
        "$bridge" verify --source "$SRC" --target "$(tgt_dsn "$db")" >"$work/verify_$r.out" 2>"$work/verify_$r.err" || {
            rc=$?
            sed 's/^/    /' "$work/verify_$r.out" "$work/verify_$r.err" >&2
            die "memori-bridge verify exited with status $rc after init (round $r; its output is above)"
        }
        v1=$(now)
        verify_times+="$(secs "$v0" "$v1") "
        read -r -a ph < <(init_phases "$log" "$t0" "$t1")
        for ((k = 0; k < 5; k++)); do phase[k]+="${ph[k]} "; done
        copied_line=$(grep -E ': copied [0-9]+ rows, ' "$log" | tail -n 1 | sed 's/^.*memori-bridge: //')
        cp "$log" "$work/init2_last.log"
        init2_t0=$t0
    fi
    if [ "$m" = init2_text ]; then
        read -r -a ph < <(init_phases "$log" "$t0" "$t1")
        for ((k = 0; k < 5; k++)); do text_phase[k]+="${ph[k]} "; done
    fi
    check_copy "$db" "${label[$m]} (round $r)"
    case $m in
        init*) drop_slot "$SRC" memori_bridge; drop_origin ;;
        pgcopydb) rm -rf "$work/pgcopydb" ;;
        dump_dir) rm -rf "$work/dump" ;;
    esac
    tgt postgres -c "DROP DATABASE $db WITH (FORCE)"
    say "round $r: ${label[$m]}: $(secs "$t0" "$t1") s, $(awk -v b="$src_bytes" -v a="$t0" -v c="$t1" \
        'BEGIN { printf "%.1f MB/s", b / 1e6 / (c - a) }')${v1:+; verify $(secs "$v0" "$v1") s}; target equal to the source (load average $l1 at the start)"
}

n=${#methods[@]}
for ((r = 1; r <= runs; r++)); do
    for ((i = 0; i < n; i++)); do
        m=${methods[(i + r - 1) % n]}
        [ "$m" = pgcopydb ] && [ "$have_pgcopydb" = 0 ] && continue
        run_one "$m" "$r"
    done
done

# ---------------------------------------------------------------------------
# Report

# Nothing that is printed may hold the password (no command was given it).
if grep -rqF -- "$PGH_PASSWORD" "$work"; then
    die "a log under $work holds the password; not printing the report"
fi

range() { tr ' ' '\n' | awk 'NF' | sort -g | awk 'NR == 1 { lo = $1 } { hi = $1 } END { printf "%s to %s", lo, hi }'; }
runs_list() { echo "$1" | awk '{ for (i = 1; i <= NF; i++) printf "%s%.1f", (i > 1 ? ", " : ""), $i; print "" }'; }
cell() { printf '%s' "${1//|/\\|}"; }   # a label in a table cell

declare -A med
for m in init2 init2_text init1 pgcopydb dump_pipe dump_dir; do
    [ -n "${times[$m]:-}" ] && med[$m]=$(echo "${times[$m]}" | median)
done
init_med=${med[init2]:-0}
total_secs=$(secs "$run_started" "$(now)")

echo
echo "## memori initial-copy benchmark"
echo
echo "cpu: $(cpu_cores); $(pg_version); pgcopydb $pgcopydb_version; memori-bridge $bridge"
echo "machine: ${busy_before}% busy in the 2 s before the run; 1-min load average at the start of the timed runs: $(echo "$loads" | range); at the end: $(load3)"
echo "command: ${MB_BRIDGE:+MB_BRIDGE=$MB_BRIDGE }MB_INIT_GB=$gb MB_INIT_RUNS=$runs MB_INIT_JOBS1=$jobs1 bench/init.sh $build_arg"
echo "whole run: $(awk -v s="$total_secs" 'BEGIN { printf "%d min %02d s", s / 60, s % 60 }')"
echo
echo "### Data"
echo
echo "source: $src_bytes bytes ($src_mb MB, $(awk -v b="$src_bytes" 'BEGIN { printf "%.3f", b / 1073741824 }') GiB) in the memori tables,"
echo "pg_total_relation_size (heap, TOAST, indexes); $size_detail"
echo "rows: $n_mem memories, $n_ent entities, $n_rel relationships, $n_conv conversations (batches 0 to $((batches - 1)) of bench/init_data.sql)"
echo "load: $load_secs s by two sessions ($gen_secs s of it the corpus and its tsvectors), then VACUUM ANALYZE and CHECKPOINT $vac_secs s"
[ -n "$copied_line" ] && echo "init's own count of the copy (round $runs): $copied_line (bytes of COPY data, text or binary)"
echo
echo "### Copy"
echo
echo "each run into an empty, freshly created target database; the median of $runs run(s) each; after every run the target's"
echo "memori tables were checked equal to the source's (per table: count(*) and sum(hashtextextended(row::text, 0)))"
echo
echo "| method | median s | MB/s | runs (s) | time vs init --jobs 2 |"
echo "|---|---:|---:|---:|---:|"
for m in init2 init2_text init1 pgcopydb dump_pipe dump_dir; do
    if [ -z "${med[$m]:-}" ]; then
        case $m in
            init1) [ "$jobs1" = 1 ] && [ "$have_bridge" = 0 ] && echo "| $(cell "${label[$m]}") | skipped: $(cell "$bridge_skip") | | | |" ;;
            init2 | init2_text) echo "| $(cell "${label[$m]}") | skipped: $(cell "$bridge_skip") | | | |" ;;
            pgcopydb) echo "| $(cell "${label[$m]}") | skipped: $(cell "$pgcopydb_skip") | | | |" ;;
        esac
        continue
    fi
    awk -v name="$(cell "${label[$m]}")" -v s="${med[$m]}" -v b="$src_bytes" -v runs="$(runs_list "${times[$m]}")" -v i="$init_med" \
        'BEGIN { printf "| %s | %.1f | %.1f | %s | %s |\n", name, s, b / 1e6 / s, runs, (i > 0 ? sprintf("%.2fx", s / i) : "n/a") }'
done
echo
echo "MB/s = the source's memori size ($src_mb MB) / median seconds; time vs init = median seconds / init --jobs 2's"
echo "(1.30x: took 1.3 times as long as init)"
if [ -n "$verify_times" ]; then
    for ((k = 0; k < 5; k++)); do ph_med[k]=$(echo "${phase[k]}" | median); done
    copy_med=${ph_med[2]}
    verify_med=$(echo "$verify_times" | median)
    echo
    echo "init --jobs 2's phases, median s of the runs (from its stderr lines, stamped as they came):"
    echo "checks and slot ${ph_med[0]}, the target's tables ${ph_med[1]}, copy ${ph_med[2]}, keys and indexes ${ph_med[3]},"
    echo "sequences, origin and exit ${ph_med[4]}"
    if [ -n "${text_phase[2]:-}" ]; then
        for ((k = 0; k < 5; k++)); do text_med[k]=$(echo "${text_phase[k]}" | median); done
        echo "init --jobs 2 --copy-format text's: checks and slot ${text_med[0]}, the target's tables ${text_med[1]}, copy ${text_med[2]},"
        echo "keys and indexes ${text_med[3]}, sequences, origin and exit ${text_med[4]}"
    fi
    echo
    echo "### Verify"
    echo
    echo "| command | median s | runs (s) | vs init's wall time | vs init's copy |"
    echo "|---|---:|---:|---:|---:|"
    awk -v s="$verify_med" -v runs="$(runs_list "$verify_times")" -v i="$init_med" -v c="$copy_med" \
        'BEGIN { printf "| memori-bridge verify, after init, no writers | %.1f | %s | %.2f | %.2f |\n", s, runs, s / i, s / c }'
    echo
    echo "vs init's wall time = verify median / init --jobs 2 median; vs init's copy = verify median / init's copy time"
    echo
    echo "### The project's goals"
    echo
    goal() { awk -v name="$1" -v v="$2" -v op="$3" -v g="$4" 'BEGIN {
        ok = (op == ">=" ? v >= g : v < g)
        printf "- %s: %.2f (goal %s %.2f): %s\n", name, v, op, g, (ok ? "met" : "NOT met") }'; }
    [ -n "${med[pgcopydb]:-}" ] &&
        goal "init at least as fast as pgcopydb (pgcopydb's time / init's)" "$(awk -v a="${med[pgcopydb]}" -v b="$init_med" 'BEGIN { print a / b }')" ">=" 1
    [ -z "${med[pgcopydb]:-}" ] && echo "- init at least as fast as pgcopydb: not measured ($pgcopydb_skip)"
    [ -n "${med[init2_text]:-}" ] &&
        goal "init in text within 1.3x of binary (text's time / binary's)" "$(awk -v a="${med[init2_text]}" -v b="$init_med" 'BEGIN { print a / b }')" "<" 1.3
    [ -n "${med[init2_text]:-}" ] && [ -n "${text_med[2]:-}" ] &&
        goal "init's copy phase in text within 1.3x of binary's (text's copy / binary's)" "$(awk -v a="${text_med[2]}" -v b="$copy_med" 'BEGIN { print a / b }')" "<" 1.3
    [ -n "${med[init2_text]:-}" ] && [ -n "${med[pgcopydb]:-}" ] &&
        goal "init in text at least as fast as pgcopydb (pgcopydb's time / text's)" "$(awk -v a="${med[pgcopydb]}" -v b="${med[init2_text]}" 'BEGIN { print a / b }')" ">=" 1
    goal "init at least 1.3x pg_dump -Fc -Z0 | pg_restore (its time / init's)" "$(awk -v a="${med[dump_pipe]}" -v b="$init_med" 'BEGIN { print a / b }')" ">=" 1.3
    goal "init at least 1.3x pg_dump -Fd -j 2 -Z0, pg_restore -j 2 (its time / init's)" "$(awk -v a="${med[dump_dir]}" -v b="$init_med" 'BEGIN { print a / b }')" ">=" 1.3
    goal "verify under a quarter of init's copy (verify / init's copy)" "$(awk -v a="$verify_med" -v b="$copy_med" 'BEGIN { print a / b }')" "<" 0.25
    goal "verify under a quarter of init's wall time (verify / init)" "$(awk -v a="$verify_med" -v b="$init_med" 'BEGIN { print a / b }')" "<" 0.25
fi
echo
echo "### Commands"
echo
echo "SOURCE_DSN='$SRC' (SOURCE_URI='$SRC_URI'),"
echo "TARGET_DSN='$(tgt_dsn DB)' (TARGET_URI='$(tgt_uri DB)'), DB a fresh database per run;"
echo "the password from PGPASSWORD"
echo
echo '```'
echo "# memori-bridge (before each run, on the source: SELECT pg_drop_replication_slot('memori_bridge');"
echo "#                on the target: SELECT pg_replication_origin_drop('memori_bridge'))"
echo "memori-bridge init --source \"\$SOURCE_DSN\" --target \"\$TARGET_DSN\" --jobs 2$([ "$jobs1" = 1 ] && echo "   # and --jobs 1")"
echo "memori-bridge init --source \"\$SOURCE_DSN\" --target \"\$TARGET_DSN\" --jobs 2 --copy-format text"
echo "memori-bridge verify --source \"\$SOURCE_DSN\" --target \"\$TARGET_DSN\"          # after init --jobs 2"
echo "# pgcopydb ($pgcopydb_version); FILTERS holds: [include-only-table] memori.memories memori.entities memori.relationships memori.conversations (one a line)"
echo "PG_CONFIG=$pgconfig pgcopydb clone --source \"\$SOURCE_URI\" --target \"\$TARGET_URI\" --table-jobs 2 --index-jobs 2 --dir DIR --filters FILTERS"
echo "# pg_dump and pg_restore of $bin"
echo "pg_dump -Fc -Z0 -n memori -d \"\$SOURCE_DSN\" | pg_restore --exit-on-error -d \"\$TARGET_DSN\""
echo "pg_dump -Fd -j 2 -Z0 -n memori -f DIR -d \"\$SOURCE_DSN\" && pg_restore -j 2 --exit-on-error -d \"\$TARGET_DSN\" DIR"
echo '```'
if [ -f "$work/init2_last.log" ]; then
    echo
    echo "init --jobs 2's log (round $runs; seconds since its start), without its per-object \"created\" lines"
    echo "but for the slowest:"
    echo
    echo '```'
    slowest=$(awk '/ memori-bridge: created (index|constraint) .*s\)$/ { v = $(NF - 1); sub(/^\(/, "", v); if (v + 0 >= m) { m = v + 0; l = NR } }
                   END { print l + 0 }' "$work/init2_last.log")
    awk -v t0="$init2_t0" -v keep="$slowest" '
        NR != keep && / memori-bridge: created (index|constraint|ownership|trigger) / { next }
        { printf "%6.1f  %s\n", $1 - t0, substr($0, index($0, " ") + 1) }' "$work/init2_last.log"
    echo '```'
fi
