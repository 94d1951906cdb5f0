#!/bin/bash
# demo: the README's first command. memori-bridge demo runs the whole life
# cycle and exits 0 with every verify equal and every acknowledged write on
# both sides; its agents write through a PgBouncer that cutover and rollback
# switch, and none of their writes is refused; it prints the summary, never a password, and leaves no cluster,
# process or directory behind: not when it passes, not on Ctrl-C (SIGINT),
# and not when it is killed outright (its watchdog cleans up).
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$here/lib.sh"

leftovers()
{
    {
        ls -d /tmp/memori-bridge-demo.* 2>/dev/null
        # (a postmaster just stopped may linger a moment as a zombie of init's)
        ps -u memori-demo -o pid=,stat=,args= 2>/dev/null | awk '$2 !~ /^Z/' 
    } | sort
}
before=$(leftovers)

# the whole life cycle
{ "$MB_BRIDGE" demo >"$MB_TMP/demo.out" 2>&1; } 2>/dev/null
status=$?
cat "$MB_TMP/demo.out" >>"$MB_OUT"
[ "$status" -eq 0 ] && mb_ok "demo: exit 0" || mb_fail "demo: exit $status: $(tail -20 "$MB_TMP/demo.out")"
for want in "== init: copy the source to the target" "== run: stream the changes" "memori-bridge: lag applied=" \
    "== verify while streaming" "verdict: equal" "== cutover" "cutover done: writes were paused for" \
    "== writes go on, on the target" "== rollback" "rollback done: writes were paused for" \
    "== verify after rollback" "memori-bridge demo: summary" "PgBouncer (transaction pooling)" "demo: passed: every verify equal, nothing lost" \
    "(Supabase's roles: postgres, no superuser)" "the bridge connects as postgres, not a superuser"; do
    grep -qF -- "$want" "$MB_TMP/demo.out" || mb_fail "the demo did not show \"$want\""
done
grep -Eq '^  verify after rollback +[0-9.]+ s +equal' "$MB_TMP/demo.out" || mb_fail "the summary lacks an equal verify after rollback"
grep -Eq '^  nothing lost +[0-9.]+ s +the [1-9][0-9]* memories the agents were told committed: on both sides' "$MB_TMP/demo.out" &&
    mb_ok "the summary: every acknowledged memory on both sides" || mb_fail "the summary lacks the agents' check"
grep -Eq '^  cutover +[0-9.]+ s +PgBouncer held writes [0-9.]+ ms \(fence [0-9.]+ ms\)' "$MB_TMP/demo.out" || mb_fail "the summary lacks the cutover's pause"
grep -Eq '^  agents +[1-9][0-9]* writes through PgBouncer, 0 refused' "$MB_TMP/demo.out" &&
    mb_ok "the summary: the agents wrote through PgBouncer, 0 refused" || mb_fail "the summary lacks the agents' 0 refused"
grep -Eq '^  writes go on, on the target +[0-9.]+ s +[1-9][0-9]* writes by [0-9]+ agents, through PgBouncer to the target' "$MB_TMP/demo.out" ||
    mb_fail "the summary does not show the agents writing to the target through PgBouncer"
if grep -E 'password=[^ *(]' "$MB_TMP/demo.out" | grep -v '(hidden)' | grep -q .; then
    mb_fail "a password in the demo's output: $(grep -E 'password=[^ *(]' "$MB_TMP/demo.out" | head -2)"
else
    mb_ok "no password in the output"
fi
grep -q 'MEMORI_DATABASE_URL stays as it is' "$MB_TMP/demo.out" || mb_fail "the demo does not say the URL stays"
[ "$(leftovers)" = "$before" ] && mb_ok "nothing left behind" || mb_fail "left behind: $(leftovers)"

# Ctrl-C in the middle: torn down, exit 1
"$MB_BRIDGE" demo --seconds 30 >"$MB_TMP/int.out" 2>&1 &
demo=$!
MB_BG_PIDS+=("$demo")
for _ in $(seq 1 600); do
    grep -q "== run: stream the changes" "$MB_TMP/int.out" && break
    sleep 0.1
done
kill -INT "$demo"
wait "$demo"
status=$?
cat "$MB_TMP/int.out" >>"$MB_OUT"
[ "$status" -eq 1 ] && grep -q "demo: interrupted; everything is torn down" "$MB_TMP/int.out" &&
    mb_ok "SIGINT: exit 1, torn down" || mb_fail "SIGINT: exit $status, $(tail -5 "$MB_TMP/int.out")"
[ "$(leftovers)" = "$before" ] && mb_ok "nothing left after SIGINT" || mb_fail "left after SIGINT: $(leftovers)"

# killed outright: the watchdog stops the clusters and removes the directory
"$MB_BRIDGE" demo --seconds 30 >"$MB_TMP/kill.out" 2>&1 &
demo=$!
MB_BG_PIDS+=("$demo")
for _ in $(seq 1 600); do
    grep -q "== init" "$MB_TMP/kill.out" && break
    sleep 0.1
done
kill -KILL "$demo"
wait "$demo" 2>/dev/null
for _ in $(seq 1 300); do
    [ "$(leftovers)" = "$before" ] && ! pgrep -f "$MB_BRIDGE (init|run)" >/dev/null && break
    sleep 0.1
done
[ "$(leftovers)" = "$before" ] && mb_ok "SIGKILL: the watchdog cleaned up" || mb_fail "left after SIGKILL: $(leftovers)"
pgrep -af "$MB_BRIDGE (init|run)" && mb_fail "the demo's commands outlived it"

mb_expect 1 '/nonexistent has no initdb; give --pg-bin the bin directory of a PostgreSQL server' demo --pg-bin /nonexistent &&
    mb_ok "no server programs: exit 1 with the fix"
mb_expect 2 'demo: --agents takes a number from 1 to 32' demo --agents 0 && mb_ok "--agents 0: exit 2"
mb_expect 2 'unknown option "--frob"' demo --frob && mb_ok "an unknown option: exit 2"
mb_finish
