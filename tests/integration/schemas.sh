#!/bin/bash
# --schemas names schemas that must be there. A schema a side lacks is an
# error of every command that reads that side, never an empty stream or an
# "equal" verify: verify, run, status, cutover and rollback read both sides,
# init the source. Exit 1 (it takes a server to know), one line per schema
# and side naming both and the fix, and nothing changed. cleanup warns and
# goes on: it finds what the bridge made by its names, not in the schemas.
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$here/lib.sh"
. "$here/switch_lib.sh"

mb_start 2
mb_switch_setup 100
mb_sql "$SRC" "CREATE SCHEMA onlysrc"
end=$(mb_val "$SRC" "SELECT pg_current_wal_lsn()")

# line SIDE NAME: the regex of the line for schema NAME missing on SIDE
line() { printf 'error: %s: schema "%s" does not exist; check --schemas$' "$1" "$2"; }

# missing SIDES LIST CMD...: CMD --schemas LIST exits 1 with the line for
# each listed side (source, target or both) and no line for the other side
# nor for a schema that is there
missing()
{
    local sides=$1 list=$2 side name
    shift 2
    mb_expect 1 "" "$@" --schemas "$list" || return 1
    for side in source target; do
        for name in nosuch onlysrc; do
            [[ ,$list, == *,$name,* ]] || continue
            [ "$name" = onlysrc ] && [ "$side" = source ] && continue
            if [[ $sides == *$side* ]]; then
                grep -qE -- "$(line "$side" "$name")" "$MB_TMP/err" ||
                    { mb_fail "$1 --schemas $list: no line for $name on the $side: $(cat "$MB_TMP/err")"; return 1; }
            elif grep -q "$side: schema \"$name\"" "$MB_TMP/err"; then
                mb_fail "$1 --schemas $list: $name named on the $side: $(cat "$MB_TMP/err")"
                return 1
            fi
        done
    done
    if grep -qE 'schema "(memori|onlysrc)" does not exist' "$MB_TMP/err" &&
        ! grep -q 'target: schema "onlysrc"' "$MB_TMP/err"; then
        mb_fail "$1 --schemas $list: a schema that is there named missing: $(cat "$MB_TMP/err")"
        return 1
    fi
}

for list in nosuch memori,nosuch "memori, nosuch"; do
    missing "source target" "$list" verify && mb_ok "verify --schemas $list: exit 1, both sides named"
    missing "source target" "$list" status && mb_ok "status --schemas $list: exit 1, both sides named"
    missing "source target" "$list" run --stop-at "$end" --lag-interval 0 &&
        mb_ok "run --schemas $list: exit 1, both sides named"
done
for cmd in cutover rollback; do
    missing "source target" memori,nosuch "$cmd" && mb_ok "$cmd --schemas memori,nosuch: exit 1, both sides named"
done
grep -qE 'cutover refused: .*; 2 problems to fix first; nothing was changed' "$MB_TMP/err" ||
    grep -qE 'rollback refused: .*; [0-9]+ problems? to fix first; nothing was changed' "$MB_TMP/err" ||
    mb_fail "rollback: no 'nothing was changed': $(cat "$MB_TMP/err")"
# a schema on one side only: that side is fine, the other is named
missing target memori,onlysrc verify && mb_ok "verify: a schema only the source has: the target named"
missing target memori,onlysrc run --stop-at "$end" --lag-interval 0 &&
    mb_ok "run: a schema only the source has: the target named"
# init reads the source (it makes the target's schemas)
missing source memori,nosuch init && mb_ok "init --schemas memori,nosuch: the source named"

# refused before anything changed: no fence on the source, no reverse slot
[ "$(mb_val "$SRC" "SELECT count(*) FROM pg_trigger WHERE tgname = 'memori_bridge_fence' AND tgenabled <> 'D'")" = 0 ] ||
    mb_fail "the source got fenced"
[ "$(mb_val "$DST" "SELECT count(*) FROM pg_replication_slots WHERE slot_name = 'memori_bridge_reverse'")" = 0 ] ||
    mb_fail "a reverse slot was made"
[ "$(mb_progress "$DST" memori_bridge)" = "$(mb_val "$SRC" "SELECT confirmed_flush_lsn FROM pg_replication_slots WHERE slot_name = 'memori_bridge'")" ] ||
    mb_fail "the progress moved"

# cleanup: a warning for each side, and the list all the same (exit 0)
mb_expect 0 'warning: source: schema "nosuch" does not exist; check --schemas; cleanup goes on: it finds what the bridge made by its names$' \
    cleanup --schemas memori,nosuch &&
    grep -q 'warning: target: schema "nosuch" does not exist' "$MB_TMP/err" &&
    grep -q 'slot memori_bridge' "$MB_TMP/out" &&
    mb_ok "cleanup --schemas memori,nosuch: warned on both sides, listed, exit 0" ||
    mb_fail "cleanup: $(cat "$MB_TMP/out" "$MB_TMP/err")"

# and the schemas that are there still work
mb_expect 0 "" verify --schemas memori && grep -q "^verdict: equal" "$MB_TMP/out" &&
    mb_ok "verify --schemas memori: equal" || mb_fail "verify --schemas memori: $(cat "$MB_TMP/out")"
mb_finish
