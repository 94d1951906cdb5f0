# lib.sh - what the bench scripts share. Source it right after `set -euo
# pipefail`, with bench_name set first when the messages' prefix is not the
# script's file name:
#
#   here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
#   . "$here/lib.sh"
#
# Sourcing it sets root (the repository), pgh (tests/harness/pgh, or $MB_PGH),
# exports MB_HARNESS_BASE (default /tmp/mbh-bench), makes the work directory
# $work (/tmp/mb-NAME.XXXXXX, NAME being $bench_name without .sh), and sets
# the traps: on EXIT, every process in bg_pids is killed, every set of clusters
# in sets is stopped and $work is removed; INT, TERM and HUP exit with status
# 130, which runs the EXIT trap. Then:
#
#   say MSG...                 "NAME: MSG" on stderr (NAME: $bench_name, by
#                              default the script's file name)
#   die MSG...                 say "FAILED: MSG", exit 1
#   bench_build [DIR]          build_arg (DIR, default root/build), build (its
#                              absolute path when it exists), bridge
#                              ($MB_BRIDGE or BUILD/bridge/memori-bridge)
#   bench_bridge_built CMD     have_bridge=1 when $bridge is there and its CMD
#                              is built; else have_bridge=0, bridge_skip says
#                              why, and it returns 1
#   bench_profile              profile, from MB_BENCH_SOURCE_PROFILE (supabase,
#                              the default, or superuser), and pgh_profile, the
#                              pgh start options that make the source so
#   bench_busy                 2 s of measuring how busy the machine is: sets
#                              busy_before (% of CPU time) and load_before (the
#                              load averages); warns above 10 %
#   bench_clusters N [OPT...]  start N clusters (pgh start OPTs), owned by this
#                              shell: sets pgh's PGH_* variables and bin (its
#                              PGH_BINDIR), and adds the set to sets
#   bench_source_clusters N    the same, the source (cluster 1) made as profile
#                              says (bench_profile first); dies if it is not
#   bench_stop SET             stop the clusters of SET now, drop it from sets
#   reaped PID                 drop PID, waited for, from bg_pids
#   dsn PORT [USER] [DB]       a connection string to 127.0.0.1, no password
#                              (user and database default to postgres)
#   q DSN ARG...               psql quietly, stopping at the first error
#   qv DSN SQL                 the values of SQL, unaligned, no header
#   drop_slot DSN SLOT         drop SLOT, if there is one, once its walsender
#                              has let go of it
#   now                        seconds since the epoch, with nanoseconds
#   secs T0 T1                 T1 - T0, in seconds to 3 decimals
#   load1                      the 1-minute load average
#   load3                      the 1-, 5- and 15-minute load averages
#   median [FORMAT]            the median of the numbers on stdin, printed by
#                              awk (FORMAT: a printf format for it)
#   cpu_model                  the model name of the first CPU
#   cpu_cores                  "MODEL, N cores"
#   pg_version                 "PostgreSQL 15.x ..." of $bin/postgres
#   wal2json_version           the installed package's version, or ?

bench_name=${bench_name:-${0##*/}}
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
pgh=${MB_PGH:-$root/tests/harness/pgh}
export MB_HARNESS_BASE=${MB_HARNESS_BASE:-/tmp/mbh-bench}

say() { printf '%s: %s\n' "$bench_name" "$*" >&2; }
die() { say "FAILED: $*"; exit 1; }

# ---------------------------------------------------------------------------
# Clusters, background processes and the work directory, and their cleanup
# whatever happens

work=$(mktemp -d "/tmp/mb-${bench_name%.sh}.XXXXXX")
sets=()
bg_pids=()
bench_cleanup()
{
    local p
    for p in "${bg_pids[@]}"; do
        kill "$p" 2>/dev/null || true
    done
    for p in "${sets[@]}"; do
        "$pgh" stop "$p" >/dev/null 2>&1
    done
    rm -rf "$work"
}
trap bench_cleanup EXIT
trap 'exit 130' INT TERM HUP

# Forget a background process once it has been waited for (its pid may be reused).
reaped()
{
    local keep=() p
    for p in "${bg_pids[@]}"; do [ "$p" = "$1" ] || keep+=("$p"); done
    bg_pids=("${keep[@]}")
}

bench_clusters()
{
    local out
    out=$("$pgh" start --count "$1" --owner $$ "${@:2}") || die "could not start the clusters"
    eval "$out"
    sets+=("$PGH_SET")
    bin=$PGH_BINDIR
}

bench_source_clusters()
{
    bench_clusters "$1" "${pgh_profile[@]}"
    [ "$PGH_1_PROFILE" = "$profile" ] || die "the source came up with the $PGH_1_PROFILE profile, not $profile"
}

bench_stop()
{
    local keep=() p
    "$pgh" stop "$1" >/dev/null 2>&1 || say "could not stop the clusters of $1"
    for p in "${sets[@]}"; do [ "$p" = "$1" ] || keep+=("$p"); done
    sets=("${keep[@]}")
}

# ---------------------------------------------------------------------------
# The knobs and checks that several scripts have

bench_build()
{
    build_arg=${1:-$root/build}
    build=$(cd "$build_arg" 2>/dev/null && pwd || printf '%s' "$build_arg")
    bridge=${MB_BRIDGE:-$build/bridge/memori-bridge}
}

bench_bridge_built()
{
    local help
    have_bridge=0
    if [ ! -x "$bridge" ]; then
        bridge_skip="$bridge not found (build it, or point MB_BRIDGE at it)"
    elif help=$("$bridge" --help 2>/dev/null) && printf '%s\n' "$help" | grep -E "^ +$1 " | grep -q 'not built yet'; then
        bridge_skip="\`$bridge $1\` is not built yet"
    else
        have_bridge=1
    fi
    [ "$have_bridge" = 1 ]
}

bench_profile()
{
    profile=${MB_BENCH_SOURCE_PROFILE:-supabase}
    case $profile in
        supabase) pgh_profile=(--supabase 1) ;;
        superuser) pgh_profile=() ;;
        *) die "MB_BENCH_SOURCE_PROFILE is \"$profile\"; use supabase or superuser" ;;
    esac
}

# The figures are only worth something on an otherwise idle machine: measure
# how busy it is for 2 s before starting.
cpu_jiffies() { awk '/^cpu / { print $2 + $3 + $4 + $7 + $8, $2 + $3 + $4 + $5 + $6 + $7 + $8 }' /proc/stat; }
bench_busy()
{
    local busy0 all0 busy1 all1
    read -r busy0 all0 < <(cpu_jiffies)
    sleep 2
    read -r busy1 all1 < <(cpu_jiffies)
    busy_before=$(( (busy1 - busy0) * 100 / (all1 - all0 > 0 ? all1 - all0 : 1) ))
    load_before=$(load3)
    [ "$busy_before" -le 10 ] ||
        say "WARNING: the machine was ${busy_before}% busy before the benchmark started: other work skews the figures"
}

# ---------------------------------------------------------------------------
# SQL

dsn() { printf 'host=127.0.0.1 port=%s user=%s dbname=%s' "$1" "${2:-postgres}" "${3:-postgres}"; }
q() { local d=$1; shift; "$bin/psql" -X -q -v ON_ERROR_STOP=1 -d "$d" "$@"; }
qv() { q "$1" -At -c "$2"; }

drop_slot()
{
    q "$1" -c "DO \$\$ DECLARE deadline timestamptz := clock_timestamp() + interval '30 s'; BEGIN
                WHILE EXISTS (SELECT FROM pg_replication_slots WHERE slot_name = '$2' AND active) LOOP
                    IF clock_timestamp() > deadline THEN RAISE EXCEPTION 'slot $2 still active'; END IF;
                    PERFORM pg_sleep(0.05);
                END LOOP;
                PERFORM pg_drop_replication_slot('$2')
                FROM pg_replication_slots WHERE slot_name = '$2';
            END \$\$"
}

# ---------------------------------------------------------------------------
# Time, figures and the machine

now() { date +%s.%N; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", b - a }'; }
load1() { cut -d' ' -f1 /proc/loadavg; }
load3() { cut -d' ' -f1-3 /proc/loadavg; }

median()
{
    tr ' ' '\n' | awk 'NF' | sort -g | awk -v f="${1:-}" '{ v[NR] = $1 } END {
        if (!NR) exit
        m = (NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2)
        if (f == "") print m; else printf f "\n", m }'
}

cpu_model() { grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'; }
cpu_cores() { printf '%s, %s cores' "$(cpu_model)" "$(nproc)"; }
pg_version() { "$bin/postgres" --version | sed 's/^postgres (PostgreSQL)/PostgreSQL/'; }
wal2json_version() { dpkg-query -W -f '${Version}' postgresql-15-wal2json 2>/dev/null || echo '?'; }
