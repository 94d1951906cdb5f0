#!/bin/bash
# Cutover benchmark: how long writers are paused when memori moves from the
# source to the target, with memori-bridge's cutover and rollback next to
# pg_easy_replicate's switchover recipe done with plain SQL over PostgreSQL's
# native logical replication, in the same run, on the same machine, under the
# same constant write load.
#
#   bench/cutover.sh [BUILD_DIR]          (default: build)
#
# Knobs (environment):
#   MB_BENCH_SOURCE_PROFILE  supabase (default) or superuser: memori-bridge's source
#                          made the way Supabase makes it, the bridge and the
#                          writers connecting as its non-superuser postgres role,
#                          or a plain cluster where postgres is the superuser
#   MB_BRIDGE              the binary (default BUILD_DIR/bridge/memori-bridge)
#   MB_WRITER              the writer (default BUILD_DIR/tests/integration/switch_writer)
#   MB_CUTOVER_ROUNDS      switches of the bridge, and rounds of the recipe (default 5)
#   MB_CUTOVER_RATE        row changes per second to aim at, all writers together (default 2000)
#   MB_CUTOVER_WRITERS     switch_writer processes (default 4)
#   MB_CUTOVER_DELAY_US    switch_writer's DELAY_US; unset: calibrated at the start
#                          so that the writers reach MB_CUTOVER_RATE
# With the defaults it takes about 2 minutes on the 2-core reference machine.
#
# 1b (after 1, in the same run, with the same bridge): ROUNDS more switches
# with --pgbouncer, plain writers through a PgBouncer in front of memori
# (see the comment at 1b below).
#
# How it measures
#
# Load. MB_CUTOVER_WRITERS switch_writer processes (tests/integration/
# switch_writer.c), each one statement per transaction and DELAY_US apart: 60 %
# INSERT, 25 % UPDATE and 15 % DELETE of its own rows of memori.memories, so
# each write is one row change. DELAY_US is calibrated once: the writers run
# 3 s with a first guess, the time a write itself takes is worked out from
# their rate, and DELAY_US is set so that they reach MB_CUTOVER_RATE together.
# The rate shown is the one achieved: the writers' own counts of acknowledged
# writes over the time they ran (bridge), or the source's pg_stat_user_tables
# deltas over the time before the switch (recipe, where the writers die).
#
# 1. memori-bridge. Two throwaway PostgreSQL 15 clusters (tests/harness/pgh).
# With the supabase profile the source is made as Supabase makes it (pgh start
# --supabase 1: bootstrap superuser supabase_admin, postgres NOSUPERUSER
# REPLICATION), and everything connects to it as postgres: the schema and seed
# rows, the bridge, the writers and the checks. Nothing of this part needs its
# superuser. After a cutover the bridge applies into that source as postgres,
# which may not use the replication origin functions: there it records
# progress in memori_bridge.progress only and tags each transaction (docs/
# DESIGN.md, invariants 1 and 5). The target is a plain cluster, as the
# standalone container is.
# The source gets sql/memori_schema.sql and seed rows; `memori-bridge init`;
# `memori-bridge run` in the background, for the whole run (it follows every
# switch by itself). Then ROUNDS switches, alternately cutover and rollback
# (cutover, rollback, cutover, rollback, cutover): all of them are counted, a
# rollback being the same 8 steps the other way. For each: fresh writers start
# on the side memori lives on (new indexes, so new ids), 3 s of load, the
# switch, 2 s of load, then SIGTERM: each writer dumps its model of its rows and
# prints its longest wait (first attempt to acknowledgement of one write). The
# pause is the bridge's own figure (`writes were paused for X ms (fence to
# unfence)`), and each step's time comes from its `cutover step N/8` line. The
# writers' longest wait is per switch (max over that switch's writers), since
# the writers are restarted for each. At the end, once the stream has carried
# everything to the other side, every writer's dump must equal its rows on
# both sides, and `memori-bridge verify` must find both sides equal. Warning
# and error lines in the bridge's logs (run, and each switch) are printed.
#
# 2. pg_easy_replicate's recipe, one psql per step, on two fresh plain clusters
# whatever MB_BENCH_SOURCE_PROFILE says: the recipe runs as their superuser
# postgres, since CREATE PUBLICATION ... FOR TABLES IN SCHEMA and CREATE
# SUBSCRIPTION need one on PostgreSQL 15. Each
# round gets fresh databases: the source gets the memori schema and the same
# seed rows, the target the schema; a publication FOR TABLES IN SCHEMA memori,
# and a subscription (copy_data = true) that is waited for until the initial
# sync is done and the slot has confirmed the source's WAL position. The
# writers are a role "app" (LOGIN, not superuser) that may write memori on the
# source and only read it on the target. After 3 s of the same load:
#   a. REVOKE INSERT, UPDATE, DELETE on the memori tables FROM app, and
#      pg_terminate_backend() of app's sessions (waiting for them to go);
#   b. wait for lag 0: until the slot's confirmed_flush_lsn has passed the
#      source's pg_current_wal_lsn() taken at the start of the step (checked
#      on the server every 10 ms);
#   c. setval of every memori sequence on the target from the source's
#      last_value and is_called (a psql on the source piped into one on the
#      target);
#   d. DROP SUBSCRIPTION (which drops the slot on the source);
#   e. GRANT INSERT, UPDATE, DELETE on the memori tables (and the sequences) TO
#      app on the target.
# The pause runs from the start of a (writes refused on the source) to the end
# of e (writes accepted on the target), from the script's own timestamps: the
# writers cannot follow (switch_writer follows only SQLSTATE 25006; here they
# get 42501 and lost connections, and exit). What they said is reported. Each
# psql connects anew, as a script of this recipe does: the time one psql
# takes to start, connect and run SELECT 1 is shown next to the figures. After
# each round, an app write must work on the target, and the target must equal
# the source (per table: count and md5 of the md5s of the rows, in id order;
# and every sequence).
# Why fresh databases rather than subscribing back the other way: each round
# then repeats exactly the same setup, and no round inherits a slot, an origin
# or a catalog from the previous one.
set -euo pipefail
export LC_ALL=C

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$here/lib.sh"
bench_build "${1:-}"
writer=${MB_WRITER:-$build/tests/integration/switch_writer}
rounds=${MB_CUTOVER_ROUNDS:-5}
rate=${MB_CUTOVER_RATE:-2000}
nwriters=${MB_CUTOVER_WRITERS:-4}
delay_fixed=${MB_CUTOVER_DELAY_US:-}
before_s=3   # seconds of load before each switch
after_s=2    # and after it (bridge)
calib_s=3
seed_memories=2000

for v in rounds rate nwriters; do
    [[ ${!v} =~ ^[0-9]+$ ]] && [ "${!v}" -gt 0 ] || die "$v must be a positive integer, not \"${!v}\""
done
[ -z "$delay_fixed" ] || [[ $delay_fixed =~ ^[0-9]+$ ]] || die "MB_CUTOVER_DELAY_US must be a number of microseconds"
bench_profile
[ "$nwriters" -le 9 ] || die "MB_CUTOVER_WRITERS is at most 9 (switch k's writers take the indexes 10k to 10k + 9)"
bench_bridge_built cutover || die "$bridge_skip"
[ -x "$writer" ] || die "$writer not found (build the tests, or point MB_WRITER at it)"

bench_busy

# Passwords never go on a command line or into this output: libpq reads them
# from a password file (postgres: the harness's; app: made up here).
unset PGPASSWORD
app_pw=$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')
pgpass_line() { printf '127.0.0.1:*:*:%s:%s\n' "$1" "$(printf '%s' "$2" | sed 's/[\\:]/\\&/g')"; }
export PGPASSFILE=$work/pgpass
export MB_APP_PW=$app_pw

bench_source_clusters 2
(umask 077 && { pgpass_line postgres "$PGH_PASSWORD"; pgpass_line app "$app_pw"; } >"$PGPASSFILE")
say "source of memori-bridge: $profile profile"
if [ "$profile" = supabase ]; then
    profile_what="made as Supabase makes it; the bridge and the writers connect as its postgres (NOSUPERUSER REPLICATION)"
else
    profile_what="a plain cluster; the bridge and the writers connect as its superuser postgres"
fi
say "cpu: $(cpu_cores); $("$bin/postgres" --version)"

ms() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", (b - a) * 1000 }'; }
maxof() { tr ' ' '\n' | awk 'NF' | sort -g | tail -n 1; }

schema_and_seed()
{
    q "$1" -f "$root/sql/memori_schema.sql"
    q "$1" -c "INSERT INTO memori.memories (user_id, content)
               SELECT 'seed', 'seed memory ' || g FROM generate_series(1, $seed_memories) g" \
        -c "INSERT INTO memori.entities (user_id, entity_name) SELECT 'seed', 'entity ' || g FROM generate_series(1, 200) g" \
        -c "INSERT INTO memori.relationships (user_id, source_entity_id, target_entity_id, relationship_type)
            SELECT 'seed', g, g % 200 + 1, 'knows' FROM generate_series(1, 200) g" \
        -c "INSERT INTO memori.conversations (user_id, session_id) SELECT 'seed', 's' || g FROM generate_series(1, 100) g" \
        >/dev/null
}

# Writers: start NWRITERS switch_writers, indexes FIRST.., on LIVE (and OTHER
# to follow to). Their pids in WPIDS, indexes in WIDX, start time W_T0.
start_writers()
{
    local live=$1 other=$2 first=$3 i j
    WPIDS=()
    WIDX=()
    W_T0=$EPOCHREALTIME
    for ((j = 0; j < nwriters; j++)); do
        i=$((first + j))
        "$writer" "$live" "$other" "$work/writer$i.dump" "$i" "$delay" >"$work/writer$i.out" 2>&1 &
        WPIDS+=("$!")
        WIDX+=("$i")
        bg_pids+=("$!")
    done
}
# SIGTERM, and their figures: W_WRITES (sum), W_LONGEST (max), W_SWITCHES
# (sum), W_RATE (writes/s over the time they ran).
stop_writers()
{
    local p i t1 figures
    for p in "${WPIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
    for p in "${WPIDS[@]}"; do
        if ! wait "$p"; then
            for i in "${WIDX[@]}"; do sed "s/^/    writer $i: /" "$work/writer$i.out" >&2; done
            die "a writer failed (see its lines above)"
        fi
        reaped "$p"
    done
    t1=$EPOCHREALTIME
    figures=$(for i in "${WIDX[@]}"; do cat "$work/writer$i.out"; done |
        awk -v a="$W_T0" -v b="$t1" '
            /^writer [0-9]+: / { n += $3; s += $7; w = $11 + 0; if (w > m) m = w }
            END { printf "%d %.1f %d %.0f", n, m, s, n / (b - a) }')
    read -r W_WRITES W_LONGEST W_SWITCHES W_RATE <<<"$figures"
}

# ---------------------------------------------------------------------------
# 1. memori-bridge

S1=$(dsn "$PGH_1_PORT")
T1=$(dsn "$PGH_2_PORT")
schema_and_seed "$S1"
export MEMORI_BRIDGE_SOURCE=$S1 MEMORI_BRIDGE_TARGET=$T1
"$bridge" init >"$work/init.log" 2>&1 || { sed 's/^/    /' "$work/init.log" >&2; die "memori-bridge init failed"; }
"$bridge" run --lag-interval 2s >"$work/run.log" 2>&1 &
run_pid=$!
bg_pids+=("$run_pid")
for ((i = 0; i < 100; i++)); do
    grep -qs 'memori-bridge: streaming slot' "$work/run.log" && break
    kill -0 "$run_pid" 2>/dev/null || { sed 's/^/    /' "$work/run.log" >&2; die "memori-bridge run exited"; }
    sleep 0.1
done
grep -q 'memori-bridge: streaming slot' "$work/run.log" || die "memori-bridge run is not streaming after 10 s"
say "bridge: init done, run streaming"

# Calibrate DELAY_US: the time of one write is the writers' period minus the
# delay; the delay is what is left of the period that gives the rate.
if [ -n "$delay_fixed" ]; then
    delay=$delay_fixed
    calibration="MB_CUTOVER_DELAY_US=$delay (fixed)"
else
    delay=$((nwriters * 1000000 / rate))
    delay=$((delay * 3 / 4))
    start_writers "$S1" "$T1" 0
    sleep "$calib_s"
    stop_writers
    first_rate=$W_RATE
    delay=$(awk -v n="$nwriters" -v r="$W_RATE" -v d="$delay" -v want="$rate" \
        'BEGIN { w = n * 1e6 / r - d; x = n * 1e6 / want - w; printf "%d", (x < 0 ? 0 : x) }')
    [ "$delay" -gt 0 ] || say "WARNING: $nwriters writers cannot reach $rate writes/s here even with no delay"
    calibration="calibrated: $first_rate writes/s with a first guess, so DELAY_US=$delay"
fi
say "writers: $nwriters, DELAY_US=$delay ($calibration)"

side=source
bridge_pauses=() bridge_s37=() bridge_longest=() bridge_rates=() bridge_cmds=() bridge_reconnects=() bridge_loads=()
declare -A stepms stepname
for ((k = 1; k <= rounds; k++)); do
    if [ "$side" = source ]; then cmd=cutover live=$S1 other=$T1 next=target
    else cmd=rollback live=$T1 other=$S1 next=source; fi
    start_writers "$live" "$other" $((k * 10))
    sleep "$before_s"
    bridge_loads+=("$(load1)")
    rc=0
    "$bridge" "$cmd" >"$work/switch$k.out" 2>"$work/switch$k.err" || rc=$?
    if [ "$rc" != 0 ]; then
        sed 's/^/    /' "$work/switch$k.err" >&2
        say "the running bridge's last lines:"
        tail -n 15 "$work/run.log" | sed 's/^/    /' >&2
        die "memori-bridge $cmd ($k of $rounds) exited with status $rc"
    fi
    sleep "$after_s"
    stop_writers
    kill -0 "$run_pid" 2>/dev/null || { tail -n 20 "$work/run.log" | sed 's/^/    /' >&2; die "memori-bridge run exited after $cmd $k"; }
    pause=$(sed -n 's/.* done: writes were paused for \([0-9.]*\) ms (fence to unfence).*/\1/p' "$work/switch$k.err")
    [ -n "$pause" ] || { sed 's/^/    /' "$work/switch$k.err" >&2; die "no pause line in the output of $cmd $k"; }
    s37=0
    while IFS='|' read -r n name t; do
        stepname[$n]=$name
        stepms[$n]+="$t "
        [ "$n" -ge 3 ] && [ "$n" -le 7 ] && s37=$(awk -v a="$s37" -v b="$t" 'BEGIN { printf "%.1f", a + b }')
    done < <(sed -n 's/^memori-bridge: [a-z]* step \([0-9]*\)\/8, \([^:]*\): done in \([0-9.]*\) ms.*/\1|\2|\3/p' "$work/switch$k.err")
    bridge_pauses+=("$pause")
    bridge_s37+=("$s37")
    bridge_longest+=("$W_LONGEST")
    bridge_rates+=("$W_RATE")
    bridge_cmds+=("$cmd")
    bridge_reconnects+=("$W_SWITCHES")
    say "bridge: $cmd ($k of $rounds): paused $pause ms; writers: longest wait $W_LONGEST ms, $W_WRITES writes at $W_RATE/s, $W_SWITCHES reconnects"
    side=$next
done

# 1b. The same bridge, the same run: ROUNDS more switches with writers that
# know nothing of the switch. A PgBouncer (tests/harness/pgb, transaction
# pooling) stands in front of memori, its entry "memori" in a file of its own;
# the switches get --pgbouncer and --pgbouncer-ini; fresh plain switch_writers
# (no second DSN) write through it on one connection each, never reconnect,
# and count every write that fails. Their longest wait is the longest time one
# write took, held by PgBouncer's pause included.
[ "$side" = source ] && pgb_n=1 || pgb_n=2
eval "$(bash "$root/tests/harness/pgb" start "$PGH_SET" "$pgb_n" --entry memori)" || die "could not start PgBouncer"
pool=$(dsn "$PGB_PORT" postgres memori)
pooled_pauses=() pooled_held=() pooled_longest=() pooled_failed=() pooled_rates=() pooled_cmds=()
for ((k = rounds + 1; k <= 2 * rounds; k++)); do
    if [ "$side" = source ]; then cmd=cutover next=target; else cmd=rollback next=source; fi
    start_writers "$pool" - $((k * 10))
    sleep "$before_s"
    rc=0
    MEMORI_BRIDGE_PGBOUNCER=$(dsn "$PGB_PORT" postgres pgbouncer) MEMORI_BRIDGE_PGBOUNCER_INI=$PGB_ENTRY_INI \
        "$bridge" "$cmd" >"$work/switch$k.out" 2>"$work/switch$k.err" || rc=$?
    [ "$rc" = 0 ] || { sed 's/^/    /' "$work/switch$k.err" >&2; die "memori-bridge $cmd --pgbouncer ($k) exited with status $rc"; }
    sleep "$after_s"
    stop_writers
    failed=$(for i in "${WIDX[@]}"; do sed -n 's/.*; \([0-9]*\) failed$/\1/p' "$work/writer$i.out"; done | awk '{ n += $1 } END { print n + 0 }')
    pause=$(sed -n 's/.* done: writes were paused for \([0-9.]*\) ms (fence to unfence).*/\1/p' "$work/switch$k.err")
    held=$(sed -n 's/.*PgBouncer held writes to "memori" for \([0-9.]*\) ms.*/\1/p' "$work/switch$k.err")
    [ -n "$pause" ] && [ -n "$held" ] || die "no pause lines in the output of $cmd --pgbouncer ($k)"
    pooled_pauses+=("$pause") pooled_held+=("$held") pooled_longest+=("$W_LONGEST")
    pooled_failed+=("$failed") pooled_rates+=("$W_RATE") pooled_cmds+=("$cmd")
    say "bridge + PgBouncer: $cmd ($((k - rounds)) of $rounds): fence $pause ms, PgBouncer held $held ms; plain writers: longest wait $W_LONGEST ms, $W_WRITES writes at $W_RATE/s, $failed failed"
    side=$next
done

# Everything on the other side too, then the writers' models on both sides.
# The progress is read from the bridge's table (the row is named after the
# direction): postgres on Supabase may not read a replication origin.
if [ "$side" = target ]; then live=$T1 other=$S1 direction=memori_bridge_reverse
else live=$S1 other=$T1 direction=memori_bridge; fi
end=$(qv "$live" "SELECT pg_current_wal_lsn()")
q "$other" -c "DO \$\$ DECLARE deadline timestamptz := clock_timestamp() + interval '60 s'; BEGIN
        WHILE NOT coalesce((SELECT end_lsn >= '$end' FROM memori_bridge.progress WHERE slot = '$direction'), false) LOOP
            IF clock_timestamp() > deadline THEN RAISE EXCEPTION 'the progress of $direction did not reach $end in 60 s'; END IF;
            PERFORM pg_sleep(0.01);
        END LOOP; END \$\$" || die "the stream did not carry the last writes to the other side"
all_idx=()
[ -z "$delay_fixed" ] && for ((j = 0; j < nwriters; j++)); do all_idx+=("$j"); done
for ((k = 1; k <= 2 * rounds; k++)); do
    for ((j = 0; j < nwriters; j++)); do all_idx+=($((k * 10 + j))); done
done
dump_rows=0
for i in "${all_idx[@]}"; do
    for name in source target; do
        if [ "$name" = source ]; then d=$S1; else d=$T1; fi
        qv "$d" "SELECT id || E'\t' || content FROM memori.memories
                 WHERE user_id = 'switch-writer-$i' ORDER BY id" >"$work/db$i"
        if ! cmp -s "$work/writer$i.dump" "$work/db$i"; then
            diff "$work/writer$i.dump" "$work/db$i" | head -n 10 | sed 's/^/    /' >&2
            die "writer $i: its rows on the $name differ from its acknowledged writes (lines above: < its model, > the $name)"
        fi
    done
    dump_rows=$((dump_rows + $(wc -l <"$work/writer$i.dump")))
done
kill -TERM "$run_pid"
rc=0
wait "$run_pid" || rc=$?
reaped "$run_pid"
[ "$rc" = 0 ] || { tail -n 20 "$work/run.log" | sed 's/^/    /' >&2; die "memori-bridge run exited with status $rc on SIGTERM"; }
rc=0
"$bridge" verify >"$work/verify.out" 2>"$work/verify.err" || rc=$?
if [ "$rc" != 0 ] || ! grep -q '^verdict: equal' "$work/verify.out"; then
    cat "$work/verify.out" "$work/verify.err" | sed 's/^/    /' >&2
    die "memori-bridge verify: exit status $rc, not equal"
fi
bridge_check="${#all_idx[@]} writers' dumps ($dump_rows rows) equal their rows on both sides; memori-bridge verify: equal"
# Anything the bridge warned about on the way (run, and every switch).
cat "$work/run.log" "$work"/switch*.err | grep -E 'memori-bridge: (warning|error): ' >"$work/warnings" || true
if [ -s "$work/warnings" ]; then
    say "memori-bridge warned or failed on the way:"
    sed 's/^/    /' "$work/warnings" >&2
    bridge_check+="; $(wc -l <"$work/warnings") warning or error lines in the bridge's logs (printed above the report)"
else
    bridge_check+="; no warning or error in the bridge's logs"
fi
say "bridge: $bridge_check"
bench_stop "$PGH_SET"

# ---------------------------------------------------------------------------
# 2. pg_easy_replicate's recipe over native logical replication

bench_clusters 2
(umask 077 && { pgpass_line postgres "$PGH_PASSWORD"; pgpass_line app "$app_pw"; } >"$PGPASSFILE")
S0=$(dsn "$PGH_1_PORT")
T0=$(dsn "$PGH_2_PORT")
# PostgreSQL 15 starts apply workers at most once per wal_retrieve_retry_interval
# (5 s) for the whole cluster: every round's subscription would wait for it.
q "$T0" -c "ALTER SYSTEM SET wal_retrieve_retry_interval = '100ms'" -c "SELECT pg_reload_conf()" >/dev/null
for d in "$S0" "$T0"; do
    q "$d" >/dev/null <<'EOF'
\getenv pw MB_APP_PW
CREATE ROLE app LOGIN PASSWORD :'pw';
EOF
done

# What a psql of a step costs by itself: start, connect (SCRAM), SELECT 1.
psql_ms=()
for ((i = 0; i < 5; i++)); do
    t0=$EPOCHREALTIME
    qv "$S0" "SELECT 1" >/dev/null
    psql_ms+=("$(ms "$t0" "$EPOCHREALTIME")")
done
psql_med=$(echo "${psql_ms[*]}" | median %.1f)

checksum_sql="SELECT string_agg(t || ' ' || n || ' ' || h, E'\n' ORDER BY t) FROM ("
for t in memories entities relationships conversations; do
    checksum_sql+="SELECT 'memori.$t' t, count(*) n, md5(string_agg(md5(x::text), '' ORDER BY id)) h
                   FROM memori.$t x UNION ALL "
done
checksum_sql+="SELECT 'sequence ' || sequencename, last_value, '' FROM pg_sequences WHERE schemaname = 'memori') s"
changes_sql="SELECT sum(n_tup_ins + n_tup_upd + n_tup_del) FROM pg_stat_user_tables WHERE schemaname = 'memori'"
# Wait, on the source, until SLOT has confirmed the WAL position of now.
lag0_sql()
{
    printf '%s' "DO \$\$ DECLARE want pg_lsn := pg_current_wal_lsn();
                                 deadline timestamptz := clock_timestamp() + interval '60 s'; BEGIN
        WHILE coalesce((SELECT confirmed_flush_lsn < want FROM pg_replication_slots WHERE slot_name = '$1'), true) LOOP
            IF clock_timestamp() > deadline THEN RAISE EXCEPTION 'slot $1 did not reach % in 60 s', want; END IF;
            PERFORM pg_sleep(0.01);
        END LOOP; END \$\$"
}

# Terminate app's sessions and wait until they are gone, looking every 1 ms
# (pg_terminate_backend(pid, timeout) would look every 100 ms). A session that
# has left pg_stat_activity has rolled back: it can commit nothing any more.
# A writer that died of the REVOKE may be gone before it is terminated: no
# warning for that.
terminate_sql="SET client_min_messages = error;
    DO \$\$ DECLARE deadline timestamptz := clock_timestamp() + interval '10 s'; BEGIN
        PERFORM pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = 'app';
        LOOP
            PERFORM pg_stat_clear_snapshot();
            EXIT WHEN NOT EXISTS (SELECT FROM pg_stat_activity WHERE usename = 'app');
            IF clock_timestamp() > deadline THEN RAISE EXCEPTION 'the sessions of app are still there after 10 s'; END IF;
            PERFORM pg_sleep(0.001);
        END LOOP; END \$\$"

recipe_pauses=() recipe_rates=() recipe_loads=() recipe_fates=() all_fates=()
declare -A rstep
rstep_names=(a b c d e)
declare -A rstep_label=([a]="a. revoke writes on the source, terminate app's sessions"
                        [b]="b. wait for lag 0 (slot's confirmed_flush_lsn)"
                        [c]="c. setval every sequence on the target from the source"
                        [d]="d. DROP SUBSCRIPTION"
                        [e]="e. grant writes on the target")
for ((r = 1; r <= rounds; r++)); do
    db=rr$r
    q "$S0" -c "CREATE DATABASE $db"
    q "$T0" -c "CREATE DATABASE $db"
    S=$(dsn "$PGH_1_PORT" postgres "$db")
    T=$(dsn "$PGH_2_PORT" postgres "$db")
    AS=$(dsn "$PGH_1_PORT" app "$db")
    AT=$(dsn "$PGH_2_PORT" app "$db")
    schema_and_seed "$S"
    q "$S" -c "GRANT USAGE ON SCHEMA memori TO app" \
        -c "GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA memori TO app" \
        -c "GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA memori TO app" \
        -c "CREATE PUBLICATION rr_pub FOR TABLES IN SCHEMA memori"
    q "$T" -f "$root/sql/memori_schema.sql"
    q "$T" -c "GRANT USAGE ON SCHEMA memori TO app" -c "GRANT SELECT ON ALL TABLES IN SCHEMA memori TO app"
    # The subscription's connection string holds the password: it goes from the
    # environment to the target's catalog, through psql's \getenv.
    export MB_SUBCONN="$S password='$(printf '%s' "$PGH_PASSWORD" | sed "s/[\\\\']/\\\\&/g")'"
    q "$T" >/dev/null <<EOF
\getenv conn MB_SUBCONN
SET client_min_messages = warning;
CREATE SUBSCRIPTION rr_sub CONNECTION :'conn' PUBLICATION rr_pub WITH (copy_data = true, slot_name = '$db');
EOF
    unset MB_SUBCONN
    q "$T" -c "DO \$\$ DECLARE deadline timestamptz := clock_timestamp() + interval '60 s'; BEGIN
        WHILE (SELECT count(*) FILTER (WHERE srsubstate = 'r') < 4 OR count(*) <> 4 FROM pg_subscription_rel) LOOP
            IF clock_timestamp() > deadline THEN RAISE EXCEPTION 'the initial sync is not done after 60 s'; END IF;
            PERFORM pg_sleep(0.05);
        END LOOP; END \$\$" || die "round $r: the subscription's initial sync did not finish"
    q "$S" -c "$(lag0_sql "$db")" || die "round $r: the subscription did not catch up"

    n0=$(qv "$S" "$changes_sql")
    start_writers "$AS" "$AT" 0
    sleep "$before_s"
    recipe_loads+=("$(load1)")
    # The recipe, one psql per step, timed by this script.
    t_a=$EPOCHREALTIME
    q "$S" -c "REVOKE INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA memori FROM app" \
        -c "$terminate_sql" || die "round $r: step a failed"
    t_b=$EPOCHREALTIME
    q "$S" -c "$(lag0_sql "$db")" || die "round $r: step b failed"
    t_c=$EPOCHREALTIME
    qv "$S" "SELECT format('SELECT setval(%L, %s, %L);', format('%I.%I', schemaname, sequencename),
                           coalesce(last_value, start_value), last_value IS NOT NULL)
             FROM pg_sequences WHERE schemaname = 'memori'" | q "$T" -f - >/dev/null ||
        die "round $r: step c failed"
    t_d=$EPOCHREALTIME
    q "$T" -c "DROP SUBSCRIPTION rr_sub" 2>"$work/drop.err" || { cat "$work/drop.err" >&2; die "round $r: step d failed"; }
    t_e=$EPOCHREALTIME
    q "$T" -c "GRANT INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA memori TO app" \
        -c "GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA memori TO app" || die "round $r: step e failed"
    t_end=$EPOCHREALTIME

    # The writers: what became of them.
    fates=()
    for ((j = 0; j < nwriters; j++)); do
        p=${WPIDS[j]}
        for ((i = 0; i < 50; i++)); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
        kill -0 "$p" 2>/dev/null && kill -TERM "$p"
        rc=0
        wait "$p" || rc=$?
        reaped "$p"
        fates+=("exit $rc: $(sed -n 's/^switch_writer: .* failed: //p; s/^writer [0-9]*: /still writing: /p' "$work/writer$j.out" | head -n 1)")
    done
    n1=$(qv "$S" "$changes_sql")
    recipe_rates+=("$(awk -v n=$((n1 - n0)) -v a="$W_T0" -v b="$t_a" 'BEGIN { printf "%.0f", n / (b - a) }')")
    all_fates+=("${fates[@]}")
    recipe_fates+=("$(printf '%s\n' "${fates[@]}" | sort | uniq -c | sed 's/^ *\([0-9]*\) /\1 x /' | paste -sd ';' | sed 's/;/; /g')")
    rstep[a]+="$(ms "$t_a" "$t_b") "
    rstep[b]+="$(ms "$t_b" "$t_c") "
    rstep[c]+="$(ms "$t_c" "$t_d") "
    rstep[d]+="$(ms "$t_d" "$t_e") "
    rstep[e]+="$(ms "$t_e" "$t_end") "
    pause=$(ms "$t_a" "$t_end")
    recipe_pauses+=("$pause")

    # Writes go to the target now, and nothing was lost.
    q "$AT" -c "INSERT INTO memori.memories (id, user_id, content) VALUES (99999999, 'probe', 'probe')" \
        -c "DELETE FROM memori.memories WHERE id = 99999999" >/dev/null ||
        die "round $r: app cannot write on the target after the recipe"
    s_sum=$(qv "$S" "$checksum_sql")
    t_sum=$(qv "$T" "$checksum_sql")
    if [ "$s_sum" != "$t_sum" ]; then
        diff <(echo "$s_sum") <(echo "$t_sum") | sed 's/^/    /' >&2 || true
        die "round $r: the target differs from the source after the recipe"
    fi
    say "recipe: round $r of $rounds: paused $pause ms (a $(ms "$t_a" "$t_b"), b $(ms "$t_b" "$t_c"), c $(ms "$t_c" "$t_d"), d $(ms "$t_d" "$t_e"), e $(ms "$t_e" "$t_end")); writers: ${recipe_fates[-1]}"
    q "$T0" -c "DROP DATABASE $db"
    q "$S0" -c "DROP DATABASE $db WITH (FORCE)"
done
bench_stop "$PGH_SET"

# ---------------------------------------------------------------------------
# Report

b_med=$(echo "${bridge_pauses[*]}" | median %.1f)
b_max=$(echo "${bridge_pauses[*]}" | maxof)
r_med=$(echo "${recipe_pauses[*]}" | median %.1f)
r_max=$(echo "${recipe_pauses[*]}" | maxof)
bw_med=$(echo "${bridge_longest[*]}" | median %.1f)
bw_max=$(echo "${bridge_longest[*]}" | maxof)
b_rate=$(echo "${bridge_rates[*]}" | median %.1f)
r_rate=$(echo "${recipe_rates[*]}" | median %.1f)
list() { local IFS=,; echo "$*" | sed 's/,/, /g'; }
verdict() { awk -v v="$1" -v g="$2" 'BEGIN { print (v + 0 < g + 0 ? "met" : "NOT met") }'; }

echo
echo "## memori cutover benchmark"
echo
echo "cpu: $(cpu_cores); $(pg_version); wal2json $(wal2json_version)"
echo "machine: ${busy_before}% busy in the 2 s before the run; load average before: $load_before, at the end: $(load3)"
echo "source of memori-bridge: $profile profile: $profile_what; the recipe: plain clusters, as their superuser"
echo "command: MB_BENCH_SOURCE_PROFILE=$profile ${MB_BRIDGE:+MB_BRIDGE=$MB_BRIDGE }${MB_WRITER:+MB_WRITER=$MB_WRITER }MB_CUTOVER_ROUNDS=$rounds MB_CUTOVER_RATE=$rate MB_CUTOVER_WRITERS=$nwriters${delay_fixed:+ MB_CUTOVER_DELAY_US=$delay_fixed} bench/cutover.sh $build_arg"
echo
echo "load: $nwriters switch_writer processes, DELAY_US=$delay ($calibration), one row change per write;"
echo "achieved: $b_rate writes/s during the bridge's switches, $r_rate row changes/s during the recipe's rounds (medians of the $rounds windows)"
echo
echo "### Pause"
echo
echo "| method | pause median ms | pause worst ms | median vs bridge | worst vs bridge | pauses (ms, in order) | writers' longest wait ms, median / worst | the writers |"
echo "|---|---:|---:|---:|---:|---|---:|---|"
echo "| memori-bridge (cutover, rollback, ...) | $b_med | $b_max | 1.00x | 1.00x | $(list "${bridge_pauses[@]}") | $bw_med / $bw_max | followed every switch (SQLSTATE 25006, reconnect, retry) |"
p_med=$(echo "${pooled_pauses[*]}" | median %.1f)
p_max=$(echo "${pooled_pauses[*]}" | maxof)
pw_med=$(echo "${pooled_longest[*]}" | median %.1f)
pw_max=$(echo "${pooled_longest[*]}" | maxof)
p_failed=$(echo "${pooled_failed[*]}" | tr ' ' '\n' | awk '{ n += $1 } END { print n + 0 }')
awk -v m="$p_med" -v x="$p_max" -v bm="$b_med" -v bx="$b_max" -v runs="$(list "${pooled_pauses[@]}")" -v wm="$pw_med" -v wx="$pw_max" -v f="$p_failed" -v n="$((rounds * nwriters))" 'BEGIN {
    printf "| memori-bridge --pgbouncer (plain writers through PgBouncer) | %s | %s | %.1fx | %.1fx | %s | %s / %s | %s failed writes over %d writers that never reconnect |\n", m, x, m / bm, x / bx, runs, wm, wx, f, n }'
fates_sum=$(printf '%s\n' "${all_fates[@]}" | sort | uniq -c | sed 's/^ *\([0-9]*\) /\1 x /' | paste -sd ';' | sed 's/;/; /g')
awk -v rm="$r_med" -v rx="$r_max" -v bm="$b_med" -v bx="$b_max" -v runs="$(list "${recipe_pauses[@]}")" -v fate="$fates_sum" 'BEGIN {
    printf "| native logical replication, pg_easy_replicate'"'"'s recipe (psql per step) | %s | %s | %.1fx | %.1fx | %s | n/a: they died | all rounds: %s |\n",
           rm, rx, rm / bm, rx / bx, runs, fate }'
echo
echo "pause: memori-bridge's own figure (fence up on the old side to fence down on the new one), over all $rounds switches"
echo "($(list "${bridge_cmds[@]}")); the recipe's: from the start of step a (writes refused on the source) to the end"
echo "of step e (writes accepted on the target), by this script's clock, $rounds rounds on fresh databases."
echo "vs bridge: the method's pause over the bridge's (10.0x: ten times as long)."
echo "writers' longest wait: per switch, the longest time one write took from its first attempt to its acknowledgement,"
echo "over that switch's $nwriters writers (fresh writers for each switch, 3 s before it to 2 s after it)."
echo "goal: median under 100 ms: $(verdict "$b_med" 100) ($b_med ms); worst under 250 ms: $(verdict "$b_max" 250) ($b_max ms)"
echo
echo "### Writers through PgBouncer"
echo
echo "| switch | command | fence to unfence ms | PgBouncer held ms (pause to resume) | plain writers' longest write ms | failed writes | writes/s |"
echo "|---:|---|---:|---:|---:|---:|---:|"
for ((k = 0; k < rounds; k++)); do
    echo "| $((rounds + k + 1)) | ${pooled_cmds[k]} --pgbouncer | ${pooled_pauses[k]} | ${pooled_held[k]} | ${pooled_longest[k]} | ${pooled_failed[k]} | ${pooled_rates[k]} |"
done
echo "| median | | $p_med | $(echo "${pooled_held[*]}" | median %.1f) | $pw_med | | $(echo "${pooled_rates[*]}" | median %.1f) |"
echo
echo "$nwriters plain switch_writer processes per switch (no second DSN: they never reconnect or follow a fence), through"
echo "a PgBouncer 1.18 in transaction mode in front of memori; the switches ran with --pgbouncer, in the same run as the rows above."
echo "goal (writers through PgBouncer): longest write, median under 100 ms: $(verdict "$pw_med" 100) ($pw_med ms); worst under 250 ms: $(verdict "$pw_max" 250) ($pw_max ms); failed writes 0: $([ "$p_failed" = 0 ] && echo met || echo "NOT met") ($p_failed)"
echo
echo "### memori-bridge, step by step"
echo
echo "| step | median ms | worst ms | per switch (ms) |"
echo "|---|---:|---:|---|"
for n in 1 2 3 4 5 6 7 8; do
    [ -n "${stepms[$n]:-}" ] || continue
    echo "| $n. ${stepname[$n]} | $(echo "${stepms[$n]}" | median %.1f) | $(echo "${stepms[$n]}" | maxof) | $(echo "${stepms[$n]}" | sed 's/ $//; s/ /, /g') |"
done
echo "| pause (fence to unfence: steps 3 to 7, by the bridge's clock) | $b_med | $b_max | $(list "${bridge_pauses[@]}") |"
echo "| steps 3 to 7 (the sum of the step times) | $(echo "${bridge_s37[*]}" | median %.1f) | $(echo "${bridge_s37[*]}" | maxof) | $(list "${bridge_s37[@]}") |"
echo
echo "The bridge's clock starts as the fence asks for its locks (start of step 3: new writes queue behind the"
echo "fence's ALTER TABLE ... ENABLE TRIGGER from then on) and stops when the unfence has committed (end of step 7)."
echo "The sum of the step times should match it (it leaves out the few instructions between two steps)."
echo
echo "| switch | command | pause ms | steps 3 to 7 ms | writers' longest wait ms | writers' reconnects | writes/s | load avg (1 min) |"
echo "|---:|---|---:|---:|---:|---:|---:|---:|"
for ((k = 0; k < rounds; k++)); do
    echo "| $((k + 1)) | ${bridge_cmds[k]} | ${bridge_pauses[k]} | ${bridge_s37[k]} | ${bridge_longest[k]} | ${bridge_reconnects[k]} | ${bridge_rates[k]} | ${bridge_loads[k]} |"
done
echo
echo "check: $bridge_check"
echo
echo "### The recipe, step by step"
echo
echo "| step | median ms | worst ms | per round (ms) |"
echo "|---|---:|---:|---|"
for s in "${rstep_names[@]}"; do
    echo "| ${rstep_label[$s]} | $(echo "${rstep[$s]}" | median %.1f) | $(echo "${rstep[$s]}" | maxof) | $(echo "${rstep[$s]}" | sed 's/ $//; s/ /, /g') |"
done
echo "| pause (a to e) | $r_med | $r_max | $(list "${recipe_pauses[@]}") |"
echo
echo "one psql by itself (start, connect with SCRAM, SELECT 1): median $psql_med ms of $(list "${psql_ms[@]}"); the recipe runs 6 (c is two, piped)"
echo "the writers in each round (row changes/s before step a; load average): "
for ((r = 0; r < rounds; r++)); do
    echo "- round $((r + 1)): ${recipe_rates[r]}/s, load ${recipe_loads[r]}: ${recipe_fates[r]}"
done
echo "check: after each round an app write works on the target, and the target equals the source (rows and sequences)"
echo
echo "### Commands"
echo
echo "bridge: SOURCE_DSN='$S1', TARGET_DSN='$T1'; recipe: SOURCE_DSN='$(dsn "$PGH_1_PORT" postgres rrN)',"
echo "TARGET_DSN='$(dsn "$PGH_2_PORT" postgres rrN)' (N = the round); passwords from a password file (PGPASSFILE), never printed"
echo
echo '```'
echo "# memori-bridge: the source with sql/memori_schema.sql and seed rows, then"
echo "export MEMORI_BRIDGE_SOURCE=\"\$SOURCE_DSN\" MEMORI_BRIDGE_TARGET=\"\$TARGET_DSN\""
echo "memori-bridge init"
echo "memori-bridge run --lag-interval 2s &"
echo "switch_writer \"\$LIVE_DSN\" \"\$OTHER_DSN\" DUMP INDEX $delay &   # x $nwriters, fresh for each switch"
echo "memori-bridge cutover; memori-bridge rollback; memori-bridge cutover; ...   # $rounds switches"
echo "memori-bridge verify   # at the end, after the writers' dumps are checked on both sides"
echo "# the recipe, per round (fresh databases; app: LOGIN, not superuser):"
echo "CREATE PUBLICATION rr_pub FOR TABLES IN SCHEMA memori;                  -- source"
echo "CREATE SUBSCRIPTION rr_sub CONNECTION '\$SOURCE_DSN' PUBLICATION rr_pub WITH (copy_data = true);   -- target; wait for sync and lag 0"
echo "switch_writer \"\$APP_SOURCE_DSN\" \"\$APP_TARGET_DSN\" DUMP INDEX $delay &   # x $nwriters, user=app"
echo "psql \"\$SOURCE_DSN\" -c 'REVOKE INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA memori FROM app' \\"
echo "    -c \"DO ... pg_terminate_backend(pid) of usename = 'app', then until none is left in pg_stat_activity, every 1 ms\"   # a"
echo "psql \"\$SOURCE_DSN\" -c 'DO ... until confirmed_flush_lsn of the slot >= pg_current_wal_lsn() at the start, every 10 ms'   # b"
echo "psql \"\$SOURCE_DSN\" -Atc \"SELECT format('SELECT setval(%L, %s, %s);', ...) FROM pg_sequences WHERE schemaname = 'memori'\" | psql \"\$TARGET_DSN\" -f -   # c"
echo "psql \"\$TARGET_DSN\" -c 'DROP SUBSCRIPTION rr_sub'   # d"
echo "psql \"\$TARGET_DSN\" -c 'GRANT INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA memori TO app' \\"
echo "    -c 'GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA memori TO app'   # e"
echo '```'
