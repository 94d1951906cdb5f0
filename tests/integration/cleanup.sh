#!/bin/bash
# cleanup: after a cutover both sides hold the bridge's slots, origins, fences
# and schema. cleanup lists them and changes nothing, exit 0, also while a
# bridge streams (and says so); --yes is refused while a bridge streams; once
# it stops, --yes drops everything on both sides and
# leaves memori's data alone; a second run finds nothing (exit 0). A shared
# memori_bridge schema keeps the other slot's rows; --keep-fences keeps the
# fences working; --side cleans one side when the other is gone.
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$here/lib.sh"
. "$here/switch_lib.sh"

mb_start 2
mb_switch_setup 200
mb_start_run
# (the cutover hands over to this bridge only once it streams)
mb_wait_streaming "$SRC" memori_bridge
mb_expect 0 "cutover done" cutover || mb_die "cutover failed"
mb_sql "$DST" "INSERT INTO memori.memories (user_id, content) VALUES ('after', 'cutover')"

# leftovers DSN: slots, origins, fence triggers, schema, one line
leftovers()
{
    mb_val "$1" "SELECT (SELECT count(*) FROM pg_replication_slots WHERE slot_name LIKE 'memori_bridge%') || ' slots, ' ||
                        (SELECT count(*) FROM pg_replication_origin WHERE roname LIKE 'memori_bridge%') || ' origins, ' ||
                        (SELECT count(*) FROM pg_trigger WHERE tgname = 'memori_bridge_fence') || ' fences, ' ||
                        (SELECT count(*) FROM pg_namespace WHERE nspname = 'memori_bridge') || ' schema'"
}
# (the cutover dropped the forward slot: memori flows back through the reverse
# one; Supabase's postgres may not make replication origins, so the source has
# none, and the reverse stream's progress is a row of memori_bridge.progress)
[ "$(leftovers "$SRC")" = "0 slots, 0 origins, 4 fences, 1 schema" ] || mb_fail "source before: $(leftovers "$SRC")"
[ "$(leftovers "$DST")" = "1 slots, 1 origins, 4 fences, 1 schema" ] || mb_fail "target before: $(leftovers "$DST")"

all_there="0 slots, 0 origins, 4 fences, 1 schema / 1 slots, 1 origins, 4 fences, 1 schema"
both() { echo "$(leftovers "$SRC") / $(leftovers "$DST")"; }
# list_has REGEX...: each line is in what cleanup printed
list_has()
{
    local line
    for line in "$@"; do
        grep -qE -- "$line" "$MB_TMP/out" || mb_fail "the list lacks /$line/: $(cat "$MB_TMP/out")"
    done
}

# a bridge streams: refused, nothing dropped
mb_wait_streaming "$DST" memori_bridge_reverse
mb_expect 1 'slot "memori_bridge_reverse" on the target is streamed by a bridge \(walsender PID [0-9]+\); stop that bridge first' \
    cleanup --yes && mb_ok "--yes while a bridge streams: exit 1, named"
[ "$(both)" = "$all_there" ] && mb_ok "nothing was dropped" || mb_fail "after the refusal: $(both)"
# the list, while a bridge streams: exit 0, it says so, nothing dropped
mb_expect 0 "" cleanup && mb_ok "cleanup without --yes while a bridge streams: exit 0"
list_has "  slot memori_bridge_reverse: streamed by a bridge" \
    'a bridge is streaming slot "memori_bridge_reverse" on the target \(walsender PID [0-9]+\): cleanup --yes refuses until that bridge stops' \
    "nothing dropped: stop the bridge, then run again with --yes"
[ "$(both)" = "$all_there" ] && mb_ok "the list changed nothing" || mb_fail "after the list: $(both)"
[ "$(mb_val "$DST" "SELECT active FROM pg_replication_slots WHERE slot_name = 'memori_bridge_reverse'")" = t ] &&
    mb_ok "the reverse slot is still streamed" || mb_fail "the reverse slot is not streamed any more"
kill -TERM "$RUN_PID"
wait "$RUN_PID"

# the list, without --yes
mb_expect 0 "" cleanup && mb_ok "cleanup without --yes: exit 0"
list_has "  fence trigger memori_bridge_fence on 4 tables \(up: writes are refused\)" \
    "  slot memori_bridge_reverse: not streamed" "  replication origin memori_bridge$" \
    "  fence trigger memori_bridge_fence on 4 tables \(down\)" "  schema memori_bridge \(the bridge" \
    "memori lives on the target \(cut over\); after cleanup the source takes writes again" \
    "nothing dropped: run again with --yes"
[ "$(both)" = "$all_there" ] && mb_ok "the list changed nothing" || mb_fail "after the list: $(both)"
grep -q "$PGH_PASSWORD" "$MB_TMP/out" && mb_fail "the password is in the list"

before_src=$(mb_val "$SRC" "SELECT count(*) || ' ' || sum(hashtext(content)) FROM memori.memories")
before_dst=$(mb_val "$DST" "SELECT count(*) || ' ' || sum(hashtext(content)) FROM memori.memories")
mb_expect 0 "" cleanup --yes && grep -q 'cleanup done: nothing of the bridge (slot "memori_bridge") is left on the source or the target' "$MB_TMP/out" &&
    mb_ok "cleanup --yes: done" || mb_fail "cleanup --yes: $(cat "$MB_TMP/out" "$MB_TMP/err")"
[ "$(leftovers "$SRC") / $(leftovers "$DST")" = "0 slots, 0 origins, 0 fences, 0 schema / 0 slots, 0 origins, 0 fences, 0 schema" ] &&
    mb_ok "both sides are clean" || mb_fail "after --yes: $(leftovers "$SRC") / $(leftovers "$DST")"
[ "$(mb_val "$SRC" "SELECT count(*) || ' ' || sum(hashtext(content)) FROM memori.memories")" = "$before_src" ] &&
    [ "$(mb_val "$DST" "SELECT count(*) || ' ' || sum(hashtext(content)) FROM memori.memories")" = "$before_dst" ] &&
    mb_ok "memori's data untouched on both sides" || mb_fail "memori's data changed"
mb_fenced "$SRC" && mb_fail "the source still refuses writes"
mb_sql "$SRC" "DELETE FROM memori.memories WHERE user_id = 'probe'"

mb_expect 0 "" cleanup --yes && grep -q 'nothing of the bridge (slot "memori_bridge") is left on the source or the target' "$MB_TMP/out" &&
    mb_ok "a second cleanup --yes: nothing left, exit 0" || mb_fail "a second cleanup: $(cat "$MB_TMP/out")"

# a second bridge (slot "other") shares the schema; --keep-fences; --side
mb_sql "$DST" "TRUNCATE memori.memories, memori.entities, memori.relationships, memori.conversations"
mb_expect 0 "fenced the target" init --force || mb_die "init again failed"
mb_sql "$DST" "INSERT INTO memori_bridge.switch (slot, direction, phase) VALUES ('other', 'forward', 'done')"
mb_expect 0 "" cleanup --yes --keep-fences --side target && mb_ok "--side target --keep-fences: exit 0"
grep -q "shared with slot(s) other; only this slot's rows go" "$MB_TMP/out" || mb_fail "no word of the shared schema: $(cat "$MB_TMP/out")"
[ "$(leftovers "$DST")" = "0 slots, 0 origins, 4 fences, 1 schema" ] && mb_ok "the target keeps its fences and schema" ||
    mb_fail "target after --keep-fences: $(leftovers "$DST")"
[ "$(mb_val "$DST" "SELECT string_agg(slot, ',') FROM memori_bridge.switch")" = other ] &&
    mb_ok "the other slot's row stays" || mb_fail "switch rows: $(mb_val "$DST" "SELECT string_agg(slot, ',') FROM memori_bridge.switch")"
[ "$(mb_val "$DST" "SELECT count(*) FROM memori_bridge.init_state WHERE slot = 'memori_bridge'")" = 0 ] ||
    mb_fail "this slot's init_state row stayed"
[ "$(mb_val "$DST" "SELECT count(*) FROM memori_bridge.progress WHERE slot = 'memori_bridge'")" = 0 ] ||
    mb_fail "this slot's progress row stayed"
mb_fenced "$DST" && mb_ok "the kept fence still refuses writes" || mb_fail "the kept fence does not work"
[ "$(leftovers "$SRC")" = "1 slots, 0 origins, 0 fences, 1 schema" ] && mb_ok "--side target left the source alone" ||
    mb_fail "source after --side target: $(leftovers "$SRC")"

mb_expect 1 "cleanup: the target cannot be reached; to clean up only the other side, give --side source" \
    cleanup --target "host=127.0.0.1 port=1 user=postgres password=$PGH_PASSWORD dbname=postgres connect_timeout=2" &&
    mb_ok "an unreachable side: exit 1 with the fix"
grep -q "$PGH_PASSWORD" "$MB_TMP/err" && mb_fail "the password is in the error"
mb_expect 0 "" cleanup --yes --side source && [ "$(leftovers "$SRC")" = "0 slots, 0 origins, 0 fences, 0 schema" ] &&
    mb_ok "--side source: the source is clean" || mb_fail "source: $(leftovers "$SRC")"
mb_expect 2 "--side takes source or target" cleanup --side both && mb_ok "--side both: exit 2"
mb_finish
