#!/bin/bash
# Replication benchmark: memori-bridge `run` next to pg_recvlogical (the
# wal2json decode ceiling) and PostgreSQL's native logical replication (text
# and binary), in the same run, on the same machine:
#   1. drain throughput: how fast each one empties the same backlog of memori
#      row changes that built up while nothing was reading; the bridge twice,
#      applying as a role that may use the replication origin functions and as
#      one that may not (progress in its table only, and each transaction
#      tagged: the path that applies into Supabase after a cutover);
#   2. steady-state lag: heartbeat lag p50/p99/max of the bridge and of native
#      replication (text) under a constant write rate.
#
#   bench/replication.sh [BUILD_DIR]          (default: build)
#
# Knobs (environment):
#   MB_BENCH_SOURCE_PROFILE  supabase (default) or superuser: the source made the way
#                         Supabase makes it, every consumer connecting as its
#                         non-superuser postgres role, or a plain cluster where
#                         postgres is the superuser
#   MB_BRIDGE             the binary (default BUILD_DIR/bridge/memori-bridge); when it
#                         is missing, or its `run` is not built yet, the bridge rows
#                         are skipped with a message
#   MB_BENCH_ROWS         backlog, in row changes, at least (default 200000)
#   MB_BENCH_ROUNDS       drains per consumer, of which the median is shown (default 3, max 4)
#   MB_BENCH_LAG_SECONDS  measured seconds per lag run, after 5 s of warm-up (default 40)
#   MB_BENCH_LAG_RATE     row changes per second during the lag runs (default 2000)
#   MB_BENCH_CLIENTS      pgbench -c of the agents (default 4); MB_BENCH_THREADS: -j (2)
# With the defaults it takes 6 to 10 minutes on the 2-core reference machine.
#
# How it measures
#
# Clusters: two throwaway PostgreSQL 15 clusters (tests/harness/pgh), the source
# and the target, on this machine; both get sql/memori_schema.sql and
# bench/replication_setup.sql. With the supabase profile (pgh start --supabase
# 1) the source's bootstrap superuser is supabase_admin and postgres is
# NOSUPERUSER REPLICATION, as on Supabase. Every consumer (pg_recvlogical, the
# subscriptions, the bridge), the workload and the checks connect to the
# source as postgres. Only the script's own set-up goes through the admin DSN
# (PGH_1_ADMIN_DSN), where postgres may not: CREATE PUBLICATION ... FOR TABLES
# IN SCHEMA (superuser only) and CHECKPOINT (superuser or pg_checkpoint).
# The target is a plain cluster, as the standalone container is. It has a
# second role, bench_applier: LOGIN, not superuser, owner of the memori tables
# and of memori_bridge there (it made them), allowed to SET
# session_replication_role (GRANT SET ON PARAMETER), and not allowed the
# pg_replication_origin_* functions, as postgres on Supabase. The
# bridge_noorigin drain applies as bench_applier.
#
# Drain. On the source, first the publication (FOR TABLES IN SCHEMA memori), then
# every slot of every run: ROUNDS x {pg_recvlogical: wal2json, native text:
# pgoutput, native binary: pgoutput, bridge: wal2json, bridge_noorigin:
# wal2json}. Only then the backlog:
# bench_gen.seed() and bench/agents.pgbench (remember, recall, entities and
# relationships, converse, forget; small transactions over several clients) until
# MB_BENCH_ROWS row changes. Nothing reads meanwhile, so every slot retains the
# same backlog. A last one-row "marker" transaction ends it; END is the source's
# WAL position after it. Row changes are counted on the source from
# pg_stat_user_tables (n_tup_ins + n_tup_upd + n_tup_del, deltas). That count
# includes aborted attempts, so the workload is built not to abort (see
# bench/agents.pgbench), pgbench must report no failed transaction, and count(*)
# must equal inserts minus deletes.
#
# Why one backlog and many slots: a slot can be drained once. Creating ROUNDS
# slots per consumer before one workload gives every run exactly the same WAL to
# decode, at the cost of one workload instead of ROUNDS. Round r runs the
# consumers in an order rotated by r, so that no consumer always goes first. The
# limit is max_replication_slots (20): 4 rounds of 5 slots.
#
# Each drain starts from an empty target (TRUNCATE; the bridge's origin and its
# progress row dropped) after a CHECKPOINT on both sides, and is timed as follows:
#   pg_recvlogical  the process, with memori-bridge's options and session
#                   settings, to /dev/null, until it exits at --endpos END;
#   native          CREATE SUBSCRIPTION (copy_data = false, create_slot = false,
#                   slot_name = its slot) until the subscription's replication
#                   origin on the target has applied the marker
#                   (bench.wait_origin, which looks every 10 ms on the server);
#   bridge          the process `memori-bridge run --stop-at END`, which exits
#                   once everything up to END is durably applied; the target
#                   role is postgres, a superuser: progress in
#                   memori_bridge.progress and the commits under a replication
#                   origin;
#   bridge_noorigin the same with the target role bench_applier: progress in
#                   memori_bridge.progress only, and each target transaction
#                   begins with the logical message "applied SLOT".
# After each target run the target must equal the source: per table, the row
# count and the md5 of the md5s of every row's text, in id order. A difference
# stops the benchmark. The table shows the median of the rounds in rows/s, and
# each consumer's rate as a ratio to the bridge's and to pg_recvlogical's.
#
# Lag. The target equals the source after the last drain. For each of native
# (text) and the bridge in turn: a fresh slot, the consumer started and
# streaming, then bench/agents.pgbench at a constant rate (--rate, from the
# drain workload's row changes per transaction) plus bench/heartbeat.pgbench,
# one heartbeat every 20 ms stamped sent_at = clock_timestamp() on the source.
# The target's bench.heartbeat fills arrived_at by its default when the applier
# inserts the row. Lag = arrived_at - sent_at (both clusters share the clock);
# "at commit" uses committed_at instead, stamped by a deferred trigger as the
# applier's transaction commits: it adds the time a batching applier holds a
# row before others can see it. (Not the commit timestamp: a transaction applied
# under a replication origin records the source's commit time.) Heartbeats of
# the first 5 s are left out. A last heartbeat closes the run; once it has
# arrived the consumer is stopped and the target compared with the source.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$here/lib.sh"
bench_build "${1:-}"
rows_wanted=${MB_BENCH_ROWS:-200000}
rounds=${MB_BENCH_ROUNDS:-3}
lag_seconds=${MB_BENCH_LAG_SECONDS:-40}
lag_rate=${MB_BENCH_LAG_RATE:-2000}
clients=${MB_BENCH_CLIENTS:-4}
threads=${MB_BENCH_THREADS:-2}
lag_warmup=5
heartbeat_rate=50

for v in rows_wanted rounds lag_seconds lag_rate clients threads; do
    [[ ${!v} =~ ^[0-9]+$ ]] && [ "${!v}" -gt 0 ] || die "$v must be a positive integer, not \"${!v}\""
done
[ "$rounds" -le 4 ] || die "MB_BENCH_ROUNDS is at most 4 (5 slots per round, max_replication_slots = 20)"
bench_profile

# The bridge rows run only when the binary is there and its `run` is built.
bench_bridge_built run || say "skipping the bridge rows: $bridge_skip"

bench_busy

bench_source_clusters 2
if [ "$profile" = supabase ]; then
    profile_what="made as Supabase makes it; consumers connect as its postgres (NOSUPERUSER REPLICATION)"
else
    profile_what="a plain cluster; consumers connect as its superuser postgres"
fi
# Connection strings without the password; libpq takes it from PGPASSWORD, so
# it is never on a command line, in a log or in this output. Every role of the
# run has the harness's password.
export PGPASSWORD=$PGH_PASSWORD
SRC=$(dsn "$PGH_1_PORT")
TGT=$(dsn "$PGH_2_PORT")
# The source's bootstrap superuser (supabase_admin, or postgres itself), for
# the set-up that postgres may not do on Supabase; never a consumer's.
admin_user=$(sed -n 's/.*user=\([^ ]*\).*/\1/p' <<<"$PGH_1_ADMIN_DSN")
SRC_ADMIN=$(dsn "$PGH_1_PORT" "$admin_user")
# The target as a role that may not use the replication origin functions.
TGT_NOORIGIN=$(dsn "$PGH_2_PORT" bench_applier)
# What the subscriptions connect with (stored in the target's catalog only);
# psql reads it from its environment (\getenv), not from its command line.
export MB_SUBCONN="$SRC password=$PGH_PASSWORD"

src() { q "$SRC" "$@"; }
srcadmin() { q "$SRC_ADMIN" "$@"; }
tgt() { q "$TGT" "$@"; }
srcq() { qv "$SRC" "$1"; }
tgtq() { qv "$TGT" "$1"; }

# The launcher of PostgreSQL 15 starts apply workers at most once per
# wal_retrieve_retry_interval (5 s) for the whole cluster: a subscription made
# less than 5 s after the previous one would wait for it.
tgt -c "ALTER SYSTEM SET wal_retrieve_retry_interval = '100ms'" -c "SELECT pg_reload_conf()" >/dev/null
for side in source target; do
    if [ "$side" = source ]; then run=src; else run=tgt; fi
    $run -f "$root/sql/memori_schema.sql"
    $run -v side=$side -f "$here/replication_setup.sql"
done

tables=(memories entities relationships conversations)
memori_tables="memori.relationships, memori.entities, memori.memories, memori.conversations"

# bench_applier on the target: it owns the memori tables and made the bridge's
# own objects (sql/memori_bridge.sql), so the superuser's bridge finds them
# made and leaves them its; no grant on the pg_replication_origin_* functions.
if [ "$have_bridge" = 1 ]; then
    tgt >/dev/null <<EOF
\getenv pw PGPASSWORD
CREATE ROLE bench_applier LOGIN NOSUPERUSER PASSWORD :'pw';
GRANT SET ON PARAMETER session_replication_role TO bench_applier;
GRANT CREATE ON DATABASE postgres TO bench_applier;
GRANT USAGE ON SCHEMA memori TO bench_applier;
$(for t in "${tables[@]}"; do echo "ALTER TABLE memori.$t OWNER TO bench_applier;"; done)
EOF
    q "$TGT_NOORIGIN" -f "$root/sql/memori_bridge.sql"
    [ "$(qv "$TGT_NOORIGIN" "SELECT has_function_privilege(
            'pg_replication_origin_xact_setup(pg_lsn, timestamptz)', 'EXECUTE')")" = f ] ||
        die "bench_applier may use the replication origin functions on the target"
fi

# Row changes on the source so far (memori, plus bench when asked), once the
# sessions of pgbench and psql have gone: a backend flushes its statistics as
# it exits. (Not every client: the bridge may hold a session of its own.)
row_changes()
{
    local schemas=${1:-"'memori'"}
    src -c "DO \$\$ BEGIN
                WHILE EXISTS (SELECT FROM pg_stat_activity WHERE backend_type = 'client backend'
                              AND application_name IN ('pgbench', 'psql') AND pid <> pg_backend_pid()) LOOP
                    PERFORM pg_sleep(0.05); PERFORM pg_stat_clear_snapshot();
                END LOOP; END \$\$"
    srcq "SELECT sum(n_tup_ins + n_tup_upd + n_tup_del) FROM pg_stat_user_tables
          WHERE schemaname IN ($schemas)"
}

# Per table: row count and md5 of the md5s of the rows' text, in id order.
checksum_sql="SELECT string_agg(t || ' ' || n || ' ' || h, E'\n' ORDER BY t) FROM ("
for t in "${tables[@]}"; do
    checksum_sql+="SELECT 'memori.$t' t, count(*) n, md5(string_agg(md5(x::text), '' ORDER BY id)) h
                   FROM memori.$t x UNION ALL "
done
checksum_sql+="SELECT 'bench.heartbeat', count(*), md5(string_agg(md5((id, sent_at)::text), '' ORDER BY id))
               FROM bench.heartbeat) s"

# The target must equal the source; WHAT names the run.
verify()
{
    local what=$1 s t
    s=$(srcq "$checksum_sql")
    t=$(tgtq "$checksum_sql")
    if [ "$s" != "$t" ]; then
        say "source and target differ after $what (table rows md5):"
        diff <(echo "$s") <(echo "$t") | sed 's/^/    /' >&2 || true
        die "the target is not a copy of the source after $what"
    fi
}

# Forget what a bridge applied through slot NAME on the target: its origin,
# if it made one, and its row in memori_bridge.progress.
drop_origin()
{
    tgt -c "SELECT pg_replication_origin_drop(roname) FROM pg_replication_origin WHERE roname = '$1'" \
        -c "DO \$\$ BEGIN
                IF to_regclass('memori_bridge.progress') IS NOT NULL THEN
                    DELETE FROM memori_bridge.progress WHERE slot = '$1';
                END IF; END \$\$" >/dev/null
}

# What init leaves on the target for slot NAME, made by hand for a target that
# is already a copy (pg/continuity.h: run streams only into a side made
# ready): init's record, and the progress at the slot's start.
mark_ready()
{
    local at
    at=$(srcq "SELECT confirmed_flush_lsn FROM pg_replication_slots WHERE slot_name = '$1'")
    [ -n "$at" ] || die "mark_ready: no slot $1"
    tgt -c "INSERT INTO memori_bridge.progress (slot, end_lsn) VALUES ('$1', '$at')
            ON CONFLICT (slot) DO UPDATE SET end_lsn = excluded.end_lsn" \
        -c "INSERT INTO memori_bridge.init_state (slot, phase, consistent_point, schemas, finished_at)
            VALUES ('$1', 'done', '$at', '$2', now())
            ON CONFLICT (slot) DO UPDATE SET phase = 'done', consistent_point = excluded.consistent_point,
                                             schemas = excluded.schemas" >/dev/null
}

# Subscribe the target to PUBLICATION through the existing SLOT, in text or
# binary mode (BINARY false or true), then run SQL, if given, in the same session.
subscribe()
{
    tgt >/dev/null <<EOF
\getenv conn MB_SUBCONN
CREATE SUBSCRIPTION $1 CONNECTION :'conn' PUBLICATION $2
    WITH (create_slot = false, copy_data = false, slot_name = '$3', binary = $4);
${5:-}
EOF
}

drop_subscription()
{
    tgt -c "ALTER SUBSCRIPTION $1 DISABLE" -c "ALTER SUBSCRIPTION $1 SET (slot_name = NONE)" \
        -c "DROP SUBSCRIPTION $1"
}

# Wait until slot NAME is streaming, or fail when PID (if given) has exited.
wait_slot_active()
{
    local slot=$1 pid=${2:-} i
    for ((i = 0; i < 300; i++)); do
        [ "$(srcq "SELECT active FROM pg_replication_slots WHERE slot_name = '$slot'")" = t ] && return 0
        if [ -n "$pid" ] && ! kill -0 "$pid" 2>/dev/null; then
            die "the consumer of slot $slot exited before it started streaming"
        fi
        sleep 0.1
    done
    die "nobody is streaming slot $slot after 30 s"
}

# Wait until heartbeat ID has arrived on the target; fail if PID (the bridge,
# if given) exits first, or after 300 s.
wait_heartbeat()
{
    local id=$1 pid=${2:-} i
    for ((i = 0; i < 3000; i++)); do
        [ "$(tgtq "SELECT count(*) FROM bench.heartbeat WHERE id = $id")" = 1 ] && return 0
        if [ -n "$pid" ] && ! kill -0 "$pid" 2>/dev/null; then
            sed 's/^/    /' "$work/bridge-lag.log" >&2
            die "memori-bridge run exited during the lag run (its output is above)"
        fi
        sleep 0.1
    done
    die "heartbeat $id did not arrive on the target within 300 s"
}

# pgbench must have run every transaction without a failure.
check_pgbench()
{
    local log=$1
    grep -q '^number of failed transactions: 0 ' "$log" ||
        { sed 's/^/    /' "$log" >&2; die "pgbench reported failed transactions (see above)"; }
}

w2j_opts=(-o format-version=2 -o include-xids=1 -o include-lsn=1 -o include-timestamp=1
          -o include-types=1 -o include-type-oids=1 -o 'add-tables=memori.*')
session_opts="-c datestyle=ISO -c intervalstyle=postgres -c extra_float_digits=3 -c bytea_output=hex"

say "cpu: $(cpu_cores); $("$bin/postgres" --version); source: $profile profile"

# ---------------------------------------------------------------------------
# 1. Drain throughput

consumers=(recvlogical native_text native_binary)
[ "$have_bridge" = 1 ] && consumers+=(bridge bridge_noorigin)
declare -A label=([recvlogical]="pg_recvlogical (wal2json, decode ceiling)"
                  [native_text]="native logical replication, text"
                  [native_binary]="native logical replication, binary"
                  [bridge]="memori-bridge run"
                  [bridge_noorigin]="memori-bridge run, no origin (progress table + tag)")

# FOR TABLES IN SCHEMA needs a superuser: the source's admin makes them.
srcadmin -c "CREATE PUBLICATION mb_drain FOR TABLES IN SCHEMA memori" \
    -c "CREATE PUBLICATION mb_lag FOR TABLES IN SCHEMA memori, bench"
for ((r = 1; r <= rounds; r++)); do
    for c in "${consumers[@]}"; do
        case $c in
            native_*) plugin=pgoutput ;;
            *) plugin=wal2json ;;
        esac
        srcq "SELECT pg_create_logical_replication_slot('mbd_${c}_$r', '$plugin')" >/dev/null
    done
done
say "created ${#consumers[@]} x $rounds slots; building the backlog (at least $rows_wanted row changes, nothing reading)"

start_lsn=$(srcq "SELECT pg_current_wal_lsn()")
rows0=$(row_changes)
src -c "CALL bench_gen.seed()"
rows_seeded=$(row_changes)
rows=$rows_seeded
txns=0
per_txn=2.4
pgbench_runs=()
while [ $((rows - rows0)) -lt "$rows_wanted" ]; do
    per_client=$(awk -v left=$((rows_wanted - rows + rows0)) -v p="$per_txn" -v c="$clients" \
        'BEGIN { n = int(left / p / c) + 1; print (n < 10 ? 10 : n) }')
    pgbench_runs+=("pgbench -n -M prepared -f bench/agents.pgbench -D nclients=$clients -c $clients -j $threads -t $per_client \"\$SOURCE_DSN\"")
    "$bin/pgbench" -n -M prepared -f "$here/agents.pgbench" -D nclients="$clients" -c "$clients" -j "$threads" \
        -t "$per_client" "$SRC" >"$work/pgbench.log" 2>&1 ||
        { sed 's/^/    /' "$work/pgbench.log" >&2; die "pgbench failed"; }
    check_pgbench "$work/pgbench.log"
    done_txns=$(awk '/^number of transactions actually processed:/ { split($6, n, "/"); print n[1] }' "$work/pgbench.log")
    txns=$((txns + done_txns))
    rows=$(row_changes)
    per_txn=$(awk -v r=$((rows - rows_seeded)) -v t=$txns 'BEGIN { printf "%.3f", r / t }')
    say "workload: $done_txns transactions, $((rows - rows0)) row changes so far ($per_txn per transaction)"
done

# The marker: the backlog's last transaction. PAST is the WAL insert position
# before it (every workload commit ends at or before PAST), END the position
# after it.
read -r past endpos < <(src -At -c "SELECT pg_current_wal_insert_lsn()" \
    -c "UPDATE memori.conversations SET updated_at = now() WHERE id = (SELECT min(id) FROM memori.conversations)" \
    -c "SELECT pg_current_wal_lsn()" | paste -sd' ')
backlog=$(( $(row_changes) - rows0 ))
count_sql=
for t in "${tables[@]}"; do
    count_sql+="${count_sql:+ UNION ALL }SELECT (SELECT count(*) FROM memori.$t) = n_tup_ins - n_tup_del AS ok
                FROM pg_stat_user_tables WHERE relid = 'memori.$t'::regclass"
done
counts_ok=$(srcq "SELECT bool_and(ok) FROM ($count_sql) s")
[ "$counts_ok" = t ] || die "count(*) differs from inserts - deletes on the source: the row change count is not exact"
wal_mb=$(srcq "SELECT round(pg_wal_lsn_diff('$endpos', '$start_lsn') / 1e6)")
# Nothing may run on the source during the drains: vacuum and analyze now
# (outside the backlog: after END), and checkpoint.
src -c "VACUUM ANALYZE $memori_tables"
srcadmin -c CHECKPOINT
say "backlog: $backlog row changes ($((rows_seeded - rows0)) seeded, $txns agent transactions), ${wal_mb} MB of WAL, ending at $endpos"

declare -A secs
drain()
{
    local c=$1 r=$2 slot=mbd_${1}_$2 t0 t1
    if [ "$c" != recvlogical ]; then
        tgt -c "TRUNCATE $memori_tables"
        drop_origin "$slot"
        tgt -c CHECKPOINT
    fi
    srcadmin -c CHECKPOINT
    t0=$(now)
    case $c in
        recvlogical)
            PGOPTIONS=$session_opts "$bin/pg_recvlogical" -d "$SRC" --slot "$slot" --start \
                --endpos "$endpos" --no-loop -f /dev/null "${w2j_opts[@]}"
            ;;
        native_text | native_binary)
            local binary=false
            [ "$c" = native_binary ] && binary=true
            subscribe mbd_sub mb_drain "$slot" $binary "SELECT bench.wait_origin('mbd_sub', '$past', 900);"
            ;;
        bridge | bridge_noorigin)
            local target=$TGT
            [ "$c" = bridge_noorigin ] && target=$TGT_NOORIGIN
            mark_ready "$slot" memori
            timeout 900 "$bridge" run --source "$SRC" --target "$target" --slot "$slot" --stop-at "$endpos" ||
                die "memori-bridge run exited with status $? on slot $slot"
            ;;
    esac
    t1=$(now)
    case $c in
        native_*) drop_subscription mbd_sub ;;
        bridge*) drop_origin "$slot" ;;
    esac
    drop_slot "$SRC" "$slot"
    [ "$c" = recvlogical ] || verify "draining $slot"
    secs[$c]+="$(secs "$t0" "$t1") "
    say "round $r: ${label[$c]}: $(awk -v a="$t0" -v b="$t1" -v n="$backlog" \
        'BEGIN { printf "%.2f s, %.0f row changes/s", b - a, n / (b - a) }')"
}

n=${#consumers[@]}
for ((r = 1; r <= rounds; r++)); do
    for ((i = 0; i < n; i++)); do
        drain "${consumers[(i + r - 1) % n]}" "$r"
    done
done

# ---------------------------------------------------------------------------
# 2. Steady-state lag

# Agent transactions per second that make LAG_RATE row changes per second,
# together with the heartbeats.
lag_tps=$(awk -v r="$lag_rate" -v h=$heartbeat_rate -v p="$per_txn" 'BEGIN { printf "%.0f", (r - h) / p }')
lag_total=$((lag_seconds + lag_warmup))
lag_agents_cmd="pgbench -n -M prepared -f bench/agents.pgbench -D nclients=$clients -c $clients -j $threads --rate $lag_tps -T $lag_total"
lag_hb_cmd="pgbench -n -M prepared -f bench/heartbeat.pgbench -c 1 --rate $heartbeat_rate -T $lag_total"
lag_consumers=(native_text)
[ "$have_bridge" = 1 ] && lag_consumers+=(bridge)
declare -A lag_result

lag_run()
{
    local c=$1 slot=mbl_$1 pid='' hb_lo hb_final rows_a rows_b t0 t1 agents_pid
    # Start settled: the drains left work for autovacuum on the target.
    tgt -c "VACUUM ANALYZE $memori_tables, bench.heartbeat" -c CHECKPOINT
    src -c "VACUUM ANALYZE $memori_tables, bench.heartbeat"
    srcadmin -c CHECKPOINT
    case $c in
        native_text)
            srcq "SELECT pg_create_logical_replication_slot('$slot', 'pgoutput')" >/dev/null
            subscribe mbl_sub mb_lag "$slot" false
            ;;
        bridge)
            srcq "SELECT pg_create_logical_replication_slot('$slot', 'wal2json')" >/dev/null
            drop_origin "$slot"
            mark_ready "$slot" memori,bench
            "$bridge" run --source "$SRC" --target "$TGT" --slot "$slot" --schemas memori,bench \
                >"$work/bridge-lag.log" 2>&1 &
            pid=$!
            bg_pids+=("$pid")
            ;;
    esac
    wait_slot_active "$slot" "$pid"
    hb_lo=$(srcq "SELECT coalesce(max(id), 0) FROM bench.heartbeat")
    rows_a=$(row_changes "'memori', 'bench'")
    say "lag: ${label[$c]}: ${lag_total} s at $lag_tps agent transactions/s + $heartbeat_rate heartbeats/s"
    t0=$(now)
    "$bin/pgbench" -n -M prepared -f "$here/agents.pgbench" -D nclients=$clients -c $clients -j $threads \
        --rate $lag_tps -T $lag_total "$SRC" >"$work/lag-agents.log" 2>&1 &
    agents_pid=$!
    bg_pids+=("$agents_pid")
    "$bin/pgbench" -n -M prepared -f "$here/heartbeat.pgbench" -c 1 --rate $heartbeat_rate -T $lag_total \
        "$SRC" >"$work/lag-heartbeat.log" 2>&1 || { cat "$work/lag-heartbeat.log" >&2; die "heartbeat pgbench failed"; }
    wait "$agents_pid" || { cat "$work/lag-agents.log" >&2; die "agents pgbench failed"; }
    reaped "$agents_pid"
    t1=$(now)
    check_pgbench "$work/lag-agents.log"
    check_pgbench "$work/lag-heartbeat.log"
    hb_final=$(srcq "INSERT INTO bench.heartbeat (sent_at) VALUES (clock_timestamp()) RETURNING id")
    rows_b=$(row_changes "'memori', 'bench'")
    wait_heartbeat "$hb_final" "$pid"
    case $c in
        native_text) drop_subscription mbl_sub ;;
        bridge)
            kill -TERM "$pid" 2>/dev/null || true
            timeout 30 tail --pid="$pid" -f /dev/null || { kill -KILL "$pid" 2>/dev/null || true; }
            wait "$pid" 2>/dev/null || true
            reaped "$pid"
            drop_origin "$slot"
            ;;
    esac
    drop_slot "$SRC" "$slot"
    verify "the lag run of ${label[$c]}"
    lag_result[$c]="$(awk -v a="$t0" -v b="$t1" -v n=$((rows_b - rows_a)) 'BEGIN { printf "%.0f", n / (b - a) }') $(tgtq "
        WITH hb AS (
            SELECT extract(epoch FROM arrived_at - sent_at) * 1000 AS ms,
                   extract(epoch FROM committed_at - sent_at) * 1000 AS commit_ms
            FROM bench.heartbeat
            WHERE id > $hb_lo AND id < $hb_final
              AND sent_at >= (SELECT min(sent_at) FROM bench.heartbeat WHERE id > $hb_lo) + interval '$lag_warmup s')
        SELECT format('%s %s %s %s %s %s', count(*),
                      round(percentile_cont(0.5) WITHIN GROUP (ORDER BY ms)::numeric, 1),
                      round(percentile_cont(0.99) WITHIN GROUP (ORDER BY ms)::numeric, 1),
                      round(max(ms)::numeric, 1),
                      round(percentile_cont(0.5) WITHIN GROUP (ORDER BY commit_ms)::numeric, 1),
                      round(percentile_cont(0.99) WITHIN GROUP (ORDER BY commit_ms)::numeric, 1))
        FROM hb")"
    say "lag: ${label[$c]}: $(echo "${lag_result[$c]}" | awk '{ printf "%s row changes/s, %s heartbeats, p50 %s ms, p99 %s ms, max %s ms", $1, $2, $3, $4, $5 }')"
}

for c in "${lag_consumers[@]}"; do
    lag_run "$c"
done

# ---------------------------------------------------------------------------
# Report

echo
echo "## memori replication benchmark"
echo
echo "cpu: $(cpu_cores); $(pg_version); wal2json $(wal2json_version)"
echo "machine: ${busy_before}% busy in the 2 s before the run; load average at the end: $(load3)"
echo "source: $profile profile: $profile_what"
echo "command: MB_BENCH_SOURCE_PROFILE=$profile ${MB_BRIDGE:+MB_BRIDGE=$MB_BRIDGE }MB_BENCH_ROWS=$rows_wanted MB_BENCH_ROUNDS=$rounds MB_BENCH_LAG_SECONDS=$lag_seconds MB_BENCH_LAG_RATE=$lag_rate bench/replication.sh $build_arg"
echo
echo "### Drain throughput"
echo
echo "backlog: $backlog row changes (${wal_mb} MB of WAL) over memori.{memories,entities,relationships,conversations},"
echo "$((rows_seeded - rows0)) from bench_gen.seed() and the rest from $txns agent transactions; median of $rounds drains each;"
echo "every target drain verified equal to the source"
echo
echo "| consumer | median s | rows/s | runs (s) | vs bridge | vs pg_recvlogical |"
echo "|---|---:|---:|---:|---:|---:|"
declare -A med
for c in recvlogical native_text native_binary bridge bridge_noorigin; do
    [ -n "${secs[$c]:-}" ] && med[$c]=$(echo "${secs[$c]}" | median)
done
for c in bridge bridge_noorigin recvlogical native_text native_binary; do
    if [ -z "${med[$c]:-}" ]; then
        echo "| ${label[$c]} | skipped: $bridge_skip | | | | |"
        continue
    fi
    awk -v name="${label[$c]}" -v s="${med[$c]}" -v n="$backlog" -v runs="${secs[$c]}" \
        -v b="${med[bridge]:-0}" -v d="${med[recvlogical]}" 'BEGIN {
            gsub(/ +$/, "", runs); gsub(/ /, ", ", runs)
            printf "| %s | %.2f | %.0f | %s | %s | %.2fx |\n", name, s, n / s, runs,
                   (b > 0 ? sprintf("%.2fx", b / s) : "n/a"), d / s }'
done
echo
echo "rows/s = backlog row changes / median seconds; the ratios are this consumer's rate over the bridge's, and over pg_recvlogical's"
echo "memori-bridge run applies as the target's superuser postgres (commits under a replication origin); no origin: as"
echo "bench_applier, which owns the memori tables but may not use the origin functions (progress table + tagged transactions)"
echo
echo "### Steady-state lag"
echo
echo "about $lag_rate row changes/s ($lag_tps agent transactions/s + $heartbeat_rate heartbeats/s), $lag_seconds s measured after ${lag_warmup} s of warm-up"
echo
echo "| consumer | row changes/s | heartbeats | p50 ms | p99 ms | max ms | p50 at commit ms | p99 at commit ms |"
echo "|---|---:|---:|---:|---:|---:|---:|---:|"
for c in bridge native_text; do
    if [ -z "${lag_result[$c]:-}" ]; then
        echo "| ${label[$c]} | skipped: $bridge_skip | | | | | | |"
        continue
    fi
    echo "${lag_result[$c]}" | awk -v name="${label[$c]}" '{ printf "| %s | %s | %s | %s | %s | %s | %s | %s |\n", name, $1, $2, $3, $4, $5, $6, $7 }'
done
echo
echo "lag = the target's arrived_at (clock_timestamp() when the applier inserted the heartbeat) - the source's sent_at;"
echo "at commit: committed_at (clock_timestamp() as the applier's transaction commits, from a deferred trigger) - sent_at"
echo
echo "### Commands"
echo
echo "SOURCE_DSN='$SRC', TARGET_DSN='$TGT', APPLIER_DSN='$TGT_NOORIGIN' (passwords from PGPASSWORD), END = $endpos"
echo "source set-up that needs a superuser (publications, CHECKPOINT): ADMIN_DSN='$SRC_ADMIN'"
echo
echo '```'
echo "# backlog (after bench_gen.seed()):"
printf '%s\n' "${pgbench_runs[@]}"
echo "# pg_recvlogical (one slot per run, created before the backlog):"
echo "PGOPTIONS='$session_opts' pg_recvlogical -d \"\$SOURCE_DSN\" --slot SLOT --start --endpos END --no-loop -f /dev/null ${w2j_opts[*]}"
echo "# native, text and binary (the publication and the pgoutput slots created before the backlog):"
echo "CREATE PUBLICATION mb_drain FOR TABLES IN SCHEMA memori;   -- on the source, as ADMIN_DSN"
echo "CREATE SUBSCRIPTION mbd_sub CONNECTION '\$SOURCE_DSN' PUBLICATION mb_drain"
echo "    WITH (create_slot = false, copy_data = false, slot_name = 'SLOT', binary = false|true);"
echo "SELECT bench.wait_origin('mbd_sub', 'PAST', 900);   -- on the target; PAST = $past, the WAL position before the marker"
echo "# bridge:"
echo "memori-bridge run --source \"\$SOURCE_DSN\" --target \"\$TARGET_DSN\" --slot SLOT --stop-at END"
echo "# bridge, no origin (bench_applier: owns memori.* and memori_bridge on the target, GRANT SET ON PARAMETER session_replication_role):"
echo "memori-bridge run --source \"\$SOURCE_DSN\" --target \"\$APPLIER_DSN\" --slot SLOT --stop-at END"
echo "# lag: native subscribes to mb_lag (FOR TABLES IN SCHEMA memori, bench); the bridge runs"
echo "memori-bridge run --source \"\$SOURCE_DSN\" --target \"\$TARGET_DSN\" --slot SLOT --schemas memori,bench"
echo "$lag_agents_cmd \"\$SOURCE_DSN\" &"
echo "$lag_hb_cmd \"\$SOURCE_DSN\""
echo '```'
