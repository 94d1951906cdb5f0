#!/bin/bash
# All or nothing. A failure injected after each step of cutover (and of
# rollback) puts everything back: the side writers were on takes writes
# again, the other is fenced, the stream goes on the old way, the new slot is
# gone; and a second cutover (rollback) then succeeds. A writer runs all along
# and ends with every acknowledged write on both sides.
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$here/lib.sh"
. "$here/switch_lib.sh"

mb_start 2
mb_switch_setup 1000
mb_start_run
bridge=$RUN_PID
mb_start_writers 0
sleep 1

# fail NAME STEP: the command fails at STEP and says it put everything back
fail_at()
{
    local cmd=$1 step=$2
    MEMORI_BRIDGE_FAILPOINT="$cmd-after-$step" mb_expect 1 "failpoint \"$cmd-after-$step\"" "$cmd"
    if grep -q "everything is back as it was" "$MB_TMP/err"; then
        mb_ok "$cmd failing after step $step: put back"
    else
        mb_fail "$cmd after step $step: $(grep error "$MB_TMP/err" | tail -3)"
    fi
}

for step in 1 2 3 4 5 6 7; do
    fail_at cutover "$step"
    mb_fenced "$SRC" && mb_fail "step $step: the source is fenced"
    mb_fenced "$DST" || mb_fail "step $step: the target is not fenced"
    [ "$(mb_val "$DST" "SELECT count(*) FROM pg_replication_slots WHERE slot_name = 'memori_bridge_reverse'")" = 0 ] ||
        mb_fail "step $step: the reverse slot is left"
    mb_expect 0 "cutover done" cutover || mb_die "the cutover after a failure at step $step failed"
    mb_ok "a second cutover after step $step went through"
    sleep 0.5
    fail_at rollback "$step"
    mb_fenced "$DST" && mb_fail "rollback step $step: the target is fenced"
    mb_fenced "$SRC" || mb_fail "rollback step $step: the source is not fenced"
    mb_expect 0 "rollback done" rollback || mb_die "the rollback after a failure at step $step failed"
    sleep 0.5
done
mb_stop_writers
end=$(mb_val "$SRC" "SELECT pg_current_wal_lsn()")
mb_wait_applied "$DST" memori_bridge "$end"
mb_check_dumps "$SRC" source 0
mb_check_dumps "$DST" target 0
kill -0 "$bridge" 2>/dev/null || mb_fail "the bridge stopped: $(grep error "$MB_OUT" | tail -3)"
kill -TERM "$bridge"
wait "$bridge"
mb_finish
