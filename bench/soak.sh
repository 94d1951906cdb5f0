#!/bin/bash
# Soak: memori-bridge run for a long while under writers, with a fault on one
# of its two links now and then; at the end, every acknowledged write is on
# the target exactly once.
#
#   bench/soak.sh [BUILD_DIR]          (default: build)
#
# Knobs (environment):
#   MB_SOAK_SECONDS         how long the writers write and the faults come (600)
#   MB_SOAK_EVERY           seconds between the end of one fault and the next (20)
#   MB_SOAK_PEER_TIMEOUT    the bridge's --peer-timeout, in seconds (10s)
#   MB_SOAK_SEED            the faults' random seed (random; printed)
#   MB_BENCH_SOURCE_PROFILE supabase (default) or superuser, as bench/lib.sh says
#   MB_BRIDGE, MB_WRITER    the binaries (BUILD_DIR/bridge/memori-bridge,
#                           BUILD_DIR/tests/integration/switch_writer)
#
# Two throwaway clusters (tests/harness/pgh); memori and the crash tests'
# counter tables (tests/integration/crash_setup.sql) on the source, copied by
# `memori-bridge init`; then `memori-bridge run` reaches each side through a
# link proxy (tests/harness/pgl), while the writers and the checks reach them
# directly:
#   - 2 switch_writer processes (inserts, updates and deletes of their own
#     rows, one per transaction; each keeps a model of what was acknowledged);
#   - pgbench with tests/integration/crash_writer.pgbench, 2 clients at 20
#     transactions/s each: each transaction moves its writer's counter by one
#     and logs that number, with memori rows alongside and now and then 3,000
#     entities in one transaction.
# Every MB_SOAK_EVERY seconds one fault, picked at random, on one link:
#   blackhole  nothing passes for 5 to 45 s, every socket kept open
#   strand     the open connections die for good, new ones pass (a NAT that
#              forgot them: their server processes hold the slot or the claim)
#   reset      every connection reset, and new ones for 2 s
#   slow       every chunk 300 ms late for 15 s
# The metrics are scraped every second. At the end: the links pass, the writers
# stop, the bridge catches up, and
#   - each switch_writer's model equals its rows on the target;
#   - each crash writer's log on the target holds every number from 1 to its
#     counter exactly once;
#   - every table of memori and crash is equal on both sides, row by row
#     (COPY, in key order), and `memori-bridge verify` says equal.
# It prints the figures and exits 0 when all of that holds, 1 otherwise.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$here/lib.sh"

bench_build "${1:-}"
bench_bridge_built run || die "$bridge_skip"
writer=${MB_WRITER:-$build/tests/integration/switch_writer}
[ -x "$writer" ] || die "no switch_writer at $writer (build the tests, or set MB_WRITER)"
export MB_LINKPROXY=${MB_LINKPROXY:-$build/tests/harness/linkproxy}
[ -x "$MB_LINKPROXY" ] || die "no linkproxy at $MB_LINKPROXY (build the tests)"
pgl=$root/tests/harness/pgl
seconds=${MB_SOAK_SECONDS:-600}
every=${MB_SOAK_EVERY:-20}
peer=${MB_SOAK_PEER_TIMEOUT:-10s}
[[ $peer =~ ^[0-9]+s$ ]] || die "MB_SOAK_PEER_TIMEOUT is \"$peer\"; give seconds, as 10s"
seed=${MB_SOAK_SEED:-$RANDOM}
RANDOM=$seed
schemas=memori,crash

bench_profile
bench_busy
bench_source_clusters 2
src=$PGH_1_DSN
dst=$PGH_2_DSN
say "$(cpu_cores); $(pg_version); source profile $profile; ${seconds} s, a fault every ${every} s, peer_timeout $peer, seed $seed"

# ---- memori, the counters, init --------------------------------------------
q "$src" -f "$root/sql/memori_schema.sql" >/dev/null
q "$src" -f "$root/tests/integration/crash_setup.sql" >/dev/null
q "$src" -c "INSERT INTO memori.memories (user_id, content) SELECT 'seed', 'seed ' || g FROM generate_series(1, 5000) g"
"$bridge" init --source "$src" --target "$dst" --schemas "$schemas" >"$work/init.log" 2>&1 ||
    die "init failed: $(tail -3 "$work/init.log")"

# ---- the links ---------------------------------------------------------------
# link N VAR: a proxy in front of cluster N; VAR_dsn through it, VAR_dir
link()
{
    local out port dsn
    out=$(bash "$pgl" start "$PGH_SET" "$1") || die "could not start a link proxy"
    eval "$out"
    port=PGH_${1}_PORT
    dsn=PGH_${1}_DSN
    printf -v "${2}_dsn" '%s' "${!dsn/port=${!port}/port=$PGL_PORT}"
    printf -v "${2}_dir" '%s' "$PGL_DIR"
}
link 1 sl
link 2 tl
# mode VAR MODE [DELAY]
mode()
{
    local dir=${1}_dir
    bash "$pgl" mode "${!dir}" "${@:2}" >/dev/null || die "could not switch link $1 to $2"
}

# ---- the bridge, the writers, the scraper ----------------------------------
"$bridge" run --source "$sl_dsn" --target "$tl_dsn" --schemas "$schemas" --peer-timeout "$peer" \
    --metrics-addr 127.0.0.1:0 --lag-interval 10s --reconnect-max 5s >"$work/run.log" 2>&1 &
run_pid=$!
bg_pids+=("$run_pid")
url=
for _ in $(seq 1 100); do
    url=$(sed -n 's#.*serving metrics at \(http://[^/]*\)/metrics.*#\1#p' "$work/run.log" | head -1)
    [ -n "$url" ] && break
    sleep 0.1
done
[ -n "$url" ] || die "the bridge serves no metrics: $(tail -3 "$work/run.log")"
metric() { awk -v k="$1" '$1 == k { print $2 }' "$2"; }
scrape()
{
    local f=$work/scrape t
    t=$(now)
    curl -sS --max-time 2 -o "$f" "$url/metrics" 2>/dev/null || return 0
    printf '%s %s %s %s %s\n' "$t" "$(metric memori_bridge_streaming "$f")" \
        "$(metric memori_bridge_lag_seconds "$f")" "$(metric memori_bridge_reconnects_total "$f")" \
        "$(metric memori_bridge_sessions_total "$f")" >>"$work/metrics"
}
( while :; do scrape; sleep 1; done ) &
bg_pids+=("$!")
scraper=$!

for i in 0 1; do
    "$writer" "$src" "$dst" "$work/writer$i.dump" "$i" 4000 >"$work/writer$i.out" 2>&1 &
    bg_pids+=("$!")
    writers+=("$!")
done
"$bin/pgbench" -n -c 2 -R 40 -T "$seconds" -f "$root/tests/integration/crash_writer.pgbench" "$src" \
    >"$work/pgbench.log" 2>&1 &
pgbench=$!
bg_pids+=("$pgbench")

# ---- the faults ----------------------------------------------------------------
# faults: "START END KIND SIDE HOLD" lines (START, END: epoch seconds)
kinds=(blackhole blackhole strand reset slow)
t_start=$(now)
elapsed() { awk -v a="$t_start" -v b="$(now)" 'BEGIN { printf "%d", b - a }'; }
sleep "$every"
while [ "$(elapsed)" -lt "$((seconds - 10))" ]; do
    kind=${kinds[RANDOM % ${#kinds[@]}]}
    if [ $((RANDOM % 2)) = 0 ]; then side=source var=sl; else side=target var=tl; fi
    case $kind in
        blackhole) hold=$((5 + RANDOM % 41)) ;;
        strand) hold=0 ;;
        reset) hold=2 ;;
        slow) hold=15 ;;
    esac
    t0=$(now)
    case $kind in
        slow) mode "$var" slow 300 ;;
        *) mode "$var" "$kind" ;;
    esac
    sleep "$hold"
    mode "$var" pass
    t1=$(now)
    say "$(elapsed) s: $kind $side link, ${hold} s"
    printf '%s %s %s %s %s\n' "$t0" "$t1" "$kind" "$side" "$hold" >>"$work/faults"
    sleep "$every"
done

# ---- the end: writers stop, the bridge catches up ----------------------------
for p in "${writers[@]}"; do kill -TERM "$p"; done
ok=1
for p in "${writers[@]}"; do wait "$p" || { say "a writer failed: $(cat "$work"/writer*.out)"; ok=0; }; reaped "$p"; done
wait "$pgbench" || say "pgbench: $(tail -3 "$work/pgbench.log")"
reaped "$pgbench"
t_writers=$(now)
end=$(qv "$src" "SELECT pg_current_wal_lsn()")
caught=0
for _ in $(seq 1 1200); do
    if [ "$(qv "$dst" "SELECT coalesce((SELECT end_lsn >= '$end' FROM memori_bridge.progress WHERE slot = 'memori_bridge'), false)")" = t ]; then
        caught=1
        break
    fi
    sleep 0.5
done
t_caught=$(now)
[ "$caught" = 1 ] || { say "the bridge did not catch up with $end in 10 min"; ok=0; }
scrape
kill "$scraper" 2>/dev/null || true
wait "$scraper" 2>/dev/null || true
reaped "$scraper"
rss_kb=$(awk '/^VmHWM/ { print $2 }' "/proc/$run_pid/status" 2>/dev/null || echo 0)
kill -TERM "$run_pid"
wait "$run_pid" || { say "run exited non-zero: $(tail -3 "$work/run.log")"; ok=0; }
reaped "$run_pid"

# ---- the checks ------------------------------------------------------------------
acked=0 lost=0 extra=0
for i in 0 1; do
    qv "$dst" "SELECT id || E'\t' || content FROM memori.memories WHERE user_id = 'switch-writer-$i' ORDER BY id" >"$work/db$i"
    n=$(wc -l <"$work/writer$i.dump")
    acked=$((acked + $(sed -n 's/^writer [0-9]*: \([0-9]*\) writes.*/\1/p' "$work/writer$i.out")))
    lost=$((lost + $(comm -23 <(sort "$work/writer$i.dump") <(sort "$work/db$i") | wc -l)))
    extra=$((extra + $(comm -13 <(sort "$work/writer$i.dump") <(sort "$work/db$i") | wc -l)))
    say "switch_writer $i: $(cat "$work/writer$i.out"); $n rows in its model"
done
counted=$(qv "$src" "SELECT sum(n) FROM crash.counter")
read -r xacts distinct < <(qv "$dst" "SELECT count(*), count(DISTINCT (writer, seq)) FROM crash.log" | tr '|' ' ')
missing=$((counted - distinct))
tables=0 equal=0
for t in $(qv "$src" "SELECT n.nspname || '.' || c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                       WHERE n.nspname IN ('memori', 'crash') AND c.relkind = 'r' ORDER BY 1"); do
    tables=$((tables + 1))
    q "$src" -c "COPY (SELECT * FROM $t ORDER BY 1, 2) TO STDOUT" >"$work/src.copy"
    q "$dst" -c "COPY (SELECT * FROM $t ORDER BY 1, 2) TO STDOUT" >"$work/dst.copy"
    if cmp -s "$work/src.copy" "$work/dst.copy"; then equal=$((equal + 1)); else say "$t differs"; fi
done
"$bridge" verify --source "$src" --target "$dst" --schemas "$schemas" >"$work/verify.out" 2>&1 && verdict=equal ||
    verdict="NOT equal: $(tail -2 "$work/verify.out")"

# ---- the figures -------------------------------------------------------------------
# detection: from the start of a blackhole or strand to the bridge's line
# naming that link (its log's wall clock), when one came while the link was
# dead (a blackhole shorter than the peer timeout may pass unnoticed)
awk '/the link to the (source|target) is down/ {
        split($2, t, ":"); cmd = "date -d \"" $1 " " t[1] ":00:00\" +%s"; cmd | getline h; close(cmd)
        side = ($0 ~ /link to the source/) ? "source" : "target"
        printf "%.3f %s\n", h + t[2] * 60 + t[3], side }' "$work/run.log" >"$work/downs"
detect=$(awk -v p="${peer%s}" 'NR == FNR { d[NR] = $1; s[NR] = $2; n = NR; next }
              $3 == "blackhole" || $3 == "strand" {
                  last = $3 == "strand" ? $1 + 3 * p : $2
                  for (i = 1; i <= n; i++)
                      if (s[i] == $4 && d[i] >= $1 - 0.5 && d[i] <= last + 0.5) { printf "%.3f\n", d[i] - $1; break } }' \
         "$work/downs" "$work/faults" | sort -g)
recover=$(awk 'NR == FNR { t[NR] = $1; st[NR] = $2; n = NR; next }
               $3 == "blackhole" || $3 == "strand" {
                   for (i = 1; i <= n; i++) if (t[i] >= $2 && st[i] == 1) { printf "%.3f\n", t[i] - $2; break } }' \
          "$work/metrics" "$work/faults" | sort -g)
maxlag=$(awk '$3 != "" && $3 > m { m = $3 } END { printf "%.1f", m }' "$work/metrics")
down_s=$(awk '$2 == 0 { n++ } END { print n + 0 }' "$work/metrics")
last=$(tail -1 "$work/metrics")
nfaults=$(wc -l <"$work/faults")
summary=$(awk '{ k[$3 " " $4]++ } END { for (x in k) printf "%s%s %d", (n++ ? ", " : ""), x, k[x] }' "$work/faults")
med() { [ -n "$1" ] && printf '%s' "$1" | median "%.1f" || printf '-'; }
maxof() { [ -n "$1" ] && printf '%s\n' "$1" | tail -1 | awk '{ printf "%.1f", $1 }' || printf '-'; }

say "---- figures"
say "duration: $(secs "$t_start" "$t_writers") s of writes and faults; caught up $(secs "$t_writers" "$t_caught") s after the writers stopped"
say "faults: $nfaults ($summary)"
say "writes acknowledged: $acked by switch_writer, $counted crash-writer transactions ($xacts logged on the target)"
say "lost: $((lost + missing)) (switch_writer $lost, crash log $missing); duplicated: $((extra + xacts - distinct)) (switch_writer $extra, crash log $((xacts - distinct)))"
say "tables equal row by row: $equal of $tables; verify: $verdict"
say "reconnects: $(echo "$last" | cut -d' ' -f4), sessions: $(echo "$last" | cut -d' ' -f5), seconds not streaming: $down_s"
say "dead link found after (blackhole, strand): median $(med "$detect") s, max $(maxof "$detect") s; streaming again after the link came back: median $(med "$recover") s, max $(maxof "$recover") s"
say "max lag: $maxlag s; the bridge's peak RSS: $((rss_kb / 1024)) MB; errors logged: $(grep -c ': error: ' "$work/run.log"), warnings: $(grep -c ': warning: ' "$work/run.log")"
grep -E ': (error|warning): ' "$work/run.log" | sed -E 's/^[0-9-]+ [0-9:.]+ memori-bridge: //; s/[0-9]+(\.[0-9]+)? s\b/N s/g; s/PID [0-9]+/PID N/g; s/[0-9A-F]+\/[0-9A-F]+/LSN/g' |
    cut -c1-160 | sort | uniq -c | sort -rn | head -12 >&2
if [ "$ok" = 1 ] && [ "$lost" = 0 ] && [ "$extra" = 0 ] && [ "$missing" = 0 ] && [ "$xacts" = "$distinct" ] &&
    [ "$equal" = "$tables" ] && [ "$verdict" = equal ]; then
    say "PASSED: everything acknowledged is on the target exactly once"
else
    say "FAILED"
    exit 1
fi
