#!/usr/bin/env bash
# teardown.sh PROBE: however a test ends, it leaves no cluster behind.
#
# Runs each test of the harness_probe binary PROBE (Criterion) on its own: a failed
# assertion, a crash (SIGSEGV), SIGTERM, SIGINT and SIGKILL, each with a cluster
# running. After each, the set directory must be gone and no process may still run
# in it or name it (postmaster, backends, the watchdog). Where the test process
# can clean up itself (failure: atexit; SIGTERM/SIGINT: signal handler) the set must
# be gone as soon as the probe has exited; where it cannot (SIGSEGV, SIGKILL) the
# pgh watchdog must remove it, which we wait for (up to 30 s, a bound, not a timing
# assertion). Finally `pgh stop-all` must remove a set started without an owner;
# that runs under a base of its own, so that it never stops clusters of tests
# running in parallel.
set -uo pipefail

[ $# -eq 1 ] || { echo "usage: teardown.sh HARNESS_PROBE" >&2; exit 2; }
probe=$1
pgh=${MB_PGH:-$(cd "$(dirname "$0")" && pwd)/pgh}
base=${MB_HARNESS_BASE:-/tmp/mbh-default}
orphan_base="${base}o"
work=$(mktemp -d /tmp/mbh-teardown.XXXXXX) || exit 1
failures=0

cleanup()
{
    rm -rf "$work"
    if [ -d "$orphan_base" ]; then
        MB_HARNESS_BASE=$orphan_base bash "$pgh" stop-all >/dev/null 2>&1
        rm -rf "$orphan_base"
    fi
}
trap cleanup EXIT

say() { printf 'teardown: %s\n' "$*" >&2; }
bad() { printf 'teardown: FAIL: %s\n' "$*" >&2; failures=$((failures + 1)); }

# Print the pids of processes that run in SET (cwd) or name it in their arguments.
procs_in()
{
    local set=$1 p cwd args
    for p in /proc/[0-9]*; do
        [ "${p#/proc/}" = "$$" ] && continue
        cwd=$(readlink "$p/cwd" 2>/dev/null) || cwd=
        args=$(tr '\0' ' ' 2>/dev/null <"$p/cmdline") || args=
        case "$cwd" in
            "$set" | "$set"/* | "$set (deleted)" | "$set"/*" (deleted)")
                printf '%s\n' "${p#/proc/}"; continue ;;
        esac
        case "$args" in
            *"$set"/* | *"$set "* | *"$set") printf '%s\n' "${p#/proc/}" ;;
        esac
    done
}

# True when SET is gone and nothing runs in it any more.
set_gone()
{
    [ ! -e "$1" ] && [ -z "$(procs_in "$1")" ]
}

describe_leftover()
{
    local set=$1 p
    [ -e "$set" ] && say "  set directory \"$set\" still exists"
    for p in $(procs_in "$set"); do
        say "  process $p: $(tr '\0' ' ' 2>/dev/null <"/proc/$p/cmdline")"
    done
}

# Wait up to SECONDS for SET to be gone.
wait_gone()
{
    local set=$1 seconds=$2 i
    for ((i = 0; i < seconds * 10; i++)); do
        set_gone "$set" && return 0
        sleep 0.1
    done
    set_gone "$set"
}

read_out()
{
    SET=$(sed -n 's/^SET=//p' "$1")
    PID=$(sed -n 's/^PID=//p' "$1")
    [ -n "$SET" ] && [[ $PID =~ ^[0-9]+$ ]]
}

# run_to_end NAME FILTER IMMEDIATE: the probe test ends by itself (fails or crashes).
run_to_end()
{
    local name=$1 filter=$2 immediate=$3 out="$work/$1.out" rc
    say "probe $name"
    PGH_PROBE_OUT=$out "$probe" --filter="$filter" -j1 --ascii >"$work/$name.log" 2>&1
    rc=$?
    if [ $rc -eq 0 ]; then
        bad "$name: the probe test passed, but it is meant to fail"
    fi
    if ! read_out "$out"; then
        bad "$name: the probe never reported its set (did the cluster start?)"
        sed 's/^/  | /' "$work/$name.log" >&2
        return
    fi
    check_gone "$name" "$immediate"
}

# run_killed NAME SIGNAL IMMEDIATE: the probe test waits; we send it SIGNAL.
run_killed()
{
    local name=$1 sig=$2 immediate=$3 out="$work/$1.out" probe_pid i rc
    say "probe $name (SIG$sig)"
    # Background jobs of a script start with SIGINT ignored; give the probe the
    # default dispositions an interactive run would have.
    PGH_PROBE_OUT=$out env --default-signal=INT,TERM,HUP \
        "$probe" --filter='probe/waits_to_be_killed' -j1 --ascii >"$work/$name.log" 2>&1 &
    probe_pid=$!
    for ((i = 0; i < 600; i++)); do
        [ -f "$out" ] && break
        kill -0 "$probe_pid" 2>/dev/null || break
        sleep 0.1
    done
    if ! read_out "$out"; then
        kill -KILL "$probe_pid" 2>/dev/null
        wait "$probe_pid" 2>/dev/null
        bad "$name: the probe never reported its set (did the cluster start?)"
        sed 's/^/  | /' "$work/$name.log" >&2
        return
    fi
    kill -"$sig" "$PID" || bad "$name: could not signal test process $PID"
    wait "$probe_pid"
    rc=$?
    [ $rc -ne 0 ] || bad "$name: the probe reported success after SIG$sig"
    check_gone "$name" "$immediate"
}

check_gone()
{
    local name=$1 immediate=$2
    if [ "$immediate" = yes ]; then
        # The test process cleaned up before it ended: its set and servers are gone
        # by now; only the watchdog may still be on its way out (0.5 s poll).
        if [ -e "$SET" ]; then
            bad "$name: set \"$SET\" still exists after the test process ended"
            describe_leftover "$SET"
            wait_gone "$SET" 30
            return
        fi
    fi
    if wait_gone "$SET" 30; then
        say "  ok: \"$SET\" removed, no process left"
    else
        bad "$name: leftovers of \"$SET\" after 30 s"
        describe_leftover "$SET"
        bash "$pgh" stop "$SET" >/dev/null 2>&1
    fi
}

[ -x "$probe" ] || { echo "teardown: probe \"$probe\" is not executable" >&2; exit 2; }

run_to_end fail 'probe/fails_after_start' yes
run_to_end crash 'probe/crashes_after_start' no
run_killed term TERM yes
run_killed int INT yes
run_killed kill KILL no

# An orphan: a set started without --owner has no watchdog; stop-all removes it.
say "orphaned set and stop-all (base \"$orphan_base\")"
if out=$(MB_HARNESS_BASE=$orphan_base bash "$pgh" start 2>"$work/orphan.log"); then
    SET=$(printf '%s\n' "$out" | sed -n "s/^PGH_SET='\\(.*\\)'\$/\\1/p")
    if [ -z "$SET" ] || [ ! -d "$SET" ] || [ -z "$(procs_in "$SET")" ]; then
        bad "orphan: pgh start reported set \"$SET\", but it does not run"
    elif ! MB_HARNESS_BASE=$orphan_base bash "$pgh" stop-all 2>>"$work/orphan.log"; then
        bad "orphan: pgh stop-all failed"
        sed 's/^/  | /' "$work/orphan.log" >&2
    elif ! set_gone "$SET"; then
        bad "orphan: leftovers of \"$SET\" after pgh stop-all"
        describe_leftover "$SET"
    elif ! MB_HARNESS_BASE=$orphan_base bash "$pgh" stop-all 2>>"$work/orphan.log"; then
        bad "orphan: a second pgh stop-all failed (it must be idempotent)"
    else
        say "  ok: stop-all removed \"$SET\""
    fi
else
    bad "orphan: pgh start failed"
    sed 's/^/  | /' "$work/orphan.log" >&2
fi

if [ $failures -ne 0 ]; then
    echo "teardown: $failures check(s) failed: a test end left clusters or set directories behind" >&2
    exit 1
fi
echo "teardown: all test endings cleaned up"
