#!/bin/bash
# Zero failed writes at cutover, for writers that know nothing of it. A real
# PgBouncer (Debian's 1.18, tests/harness/pgb --entry memori) in transaction
# mode stands in front of memori; plain writers (switch_writer with no second
# DSN) write through it on one connection each, never reconnect, never follow
# a fence, and count every write that fails. cutover and rollback are given
# --pgbouncer: they pause the entry, fence, drain, set the sequences, point
# the entry at the other side, unfence and resume.
#
#  1. PgBouncer 1.18, as it is: a session open through it before a switch
#     runs its next statement on the other side after it, on the same client
#     connection, and PgBouncer keeps no server connection to the old side
#     (PAUSE closes them; DESIGN.md, "PgBouncer").
#  2. A transaction left open through PgBouncer outlasts --fence-timeout: the
#     cutover fails, having changed nothing, PgBouncer resumed and pointing at
#     the source, and that transaction then commits there.
#  3. Ten cycles of cutover and rollback under the plain writers: 0 failed
#     writes, and each writer's acknowledged writes exactly once on the side
#     that is open (and, once the stream has carried them, on the other).
#  4. A failure injected after every step of cutover and of rollback, and
#     inside PgBouncer's own steps (paused, file written, pointed): each time
#     everything is put back, PgBouncer resumed and pointing where memori
#     lives; the writers still see no error; the next switch goes through.
#  5. status shows where PgBouncer points and whether it is paused, and warns
#     when it is paused or points away from memori; cleanup --yes points it
#     back and resumes it (even while a bridge streams and it drops nothing). --env-file with --pgbouncer is a usage error.
#  6. The control: a cutover without --pgbouncer makes the same plain writers
#     fail (SQLSTATE 25006), so the count of failed writes can fail this test.
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$here/lib.sh"
. "$here/switch_lib.sh"

mb_start 2
mb_switch_setup 2000
mb_start_pgbouncer 1 --entry memori
export MEMORI_BRIDGE_PGBOUNCER=$PGB_ADMIN_DSN MEMORI_BRIDGE_PGBOUNCER_INI=$PGB_ENTRY_INI
POOL=${PGB_DSN/dbname=postgres/dbname=memori}
mb_start_run
bridge=$RUN_PID
mb_wait_streaming "$SRC" memori_bridge

# entry: "PORT PAUSED" of PgBouncer's database memori
entry() { "${PSQL[@]}" -d "$PGB_ADMIN_DSN" -Atc "SHOW DATABASES" | awk -F '|' '$1 == "memori" { print $3, $12 }'; }
# pooled SIDE: PgBouncer points at SIDE (source or target) and is resumed
pooled()
{
    local port=$PGH_1_PORT
    [ "$1" = target ] && port=$PGH_2_PORT
    [ "$(entry)" = "$port 0" ]
}

# A psql session through PgBouncer that stays open (fed through a fifo).
mkfifo "$MB_TMP/session.in"
"${PSQL[@]}" -At -d "$POOL" <"$MB_TMP/session.in" >"$MB_TMP/session.out" 2>&1 &
MB_BG_PIDS+=("$!")
exec 7>"$MB_TMP/session.in"
# say SQL: run SQL in the session and wait for its answer line (the last line)
say()
{
    local n
    n=$(wc -l <"$MB_TMP/session.out")
    echo "$1" >&7
    for _ in $(seq 1 100); do
        [ "$(wc -l <"$MB_TMP/session.out")" -gt "$n" ] && break
        sleep 0.05
    done
    tail -n 1 "$MB_TMP/session.out"
}

# 1. the session follows, PgBouncer keeps nothing to the old side
[ "$(say "SELECT 'port ' || inet_server_port();")" = "port $PGH_1_PORT" ] ||
    mb_fail "the session through PgBouncer: $(cat "$MB_TMP/session.out")"
pooled source && mb_ok "PgBouncer's memori entry points at the source, resumed" || mb_fail "entry: $(entry)"
mb_expect 0 "PgBouncer held writes to \"memori\" for [0-9.]+ ms \(pause to resume\) and sends them to the target now" cutover &&
    mb_ok "cutover with --pgbouncer: $(grep -o 'PgBouncer held writes[^;]*' "$MB_TMP/err")"
[ -s "$MB_TMP/out" ] && mb_fail "cutover with --pgbouncer printed a new URL: $(cat "$MB_TMP/out")"
pooled target && mb_ok "the entry points at the target, resumed" || mb_fail "entry after the cutover: $(entry)"
got=$(say "SELECT 'port ' || inet_server_port();")
[ "$got" = "port $PGH_2_PORT" ] &&
    mb_ok "the session opened before the cutover runs on the target now, on the same client connection" ||
    mb_fail "the session after the cutover: $got"
stale=$("${PSQL[@]}" -d "$PGB_ADMIN_DSN" -Atc "SHOW SERVERS" | awk -F '|' -v p="$PGH_1_PORT" '$3 == "memori" && $6 == p' | wc -l)
[ "$stale" = 0 ] && mb_ok "PgBouncer holds no server connection to the source any more" ||
    mb_fail "PgBouncer still holds $stale server connections to the source"
mb_expect 0 "rollback done" rollback && pooled source && mb_ok "rollback: the entry points at the source again" ||
    mb_fail "rollback: entry $(entry)"

# 2. a transaction left open through PgBouncer: the cutover gives up, resumed
say "BEGIN; SELECT 'began';" >/dev/null
say "INSERT INTO memori.memories (id, user_id, content) VALUES (90000001, 'open', 'open') RETURNING 'inserted';" >/dev/null
if mb_expect 1 "PgBouncer could not pause database \"memori\" within 1\.0 s: 1 server connection is still in a transaction; it is resumed" \
    cutover --fence-timeout 1s && grep -q "everything is back as it was" "$MB_TMP/err"; then
    mb_ok "a transaction open through PgBouncer past --fence-timeout: the cutover gives up, puts everything back"
fi
pooled source && ! mb_fenced "$SRC" && mb_fenced "$DST" &&
    mb_ok "PgBouncer resumed at the source, which takes writes" || mb_fail "after the pause timed out: entry $(entry)"
[ "$(say "COMMIT; SELECT 'committed';")" = committed ] && [ "$(mb_val "$SRC" "SELECT count(*) FROM memori.memories WHERE id = 90000001")" = 1 ] &&
    mb_ok "the open transaction then commits on the source" || mb_fail "the open transaction: $(tail -3 "$MB_TMP/session.out")"
exec 7>&-

# 3. plain writers, ten cycles
# start_plain N...: plain switch_writers through PgBouncer with those indexes
start_plain()
{
    local i
    WRITER_PIDS=()
    for i in "$@"; do
        "$MB_WRITER" "$POOL" - "$MB_TMP/writer$i.dump" "$i" 3000 >"$MB_TMP/writer$i.out" 2>&1 &
        WRITER_PIDS+=("$!")
        MB_BG_PIDS+=("$!")
    done
}
# stop_plain N...: stop them; each must say it had 0 failed writes
stop_plain()
{
    local p i
    for p in "${WRITER_PIDS[@]}"; do kill -TERM "$p"; done
    for p in "${WRITER_PIDS[@]}"; do wait "$p" || mb_fail "a plain writer exited $?"; done
    for i in "$@"; do
        cat "$MB_TMP/writer$i.out" >>"$MB_OUT"
        if grep -q "; 0 failed$" "$MB_TMP/writer$i.out"; then
            mb_ok "plain writer $i: $(grep -o '[0-9]* writes' "$MB_TMP/writer$i.out"), 0 failed"
        else
            mb_fail "plain writer $i: $(cat "$MB_TMP/writer$i.out")"
        fi
    done
}

start_plain 0 1 2
sleep 1
cycles=${MB_SWITCH_CYCLES:-10}
for cycle in $(seq 1 "$cycles"); do
    mb_expect 0 "cutover done" cutover || mb_die "cutover $cycle failed"
    pooled target || mb_fail "cutover $cycle: entry $(entry)"
    held=$(grep -o 'held writes to "memori" for [0-9.]* ms' "$MB_TMP/err")
    sleep 0.7
    mb_expect 0 "rollback done" rollback || mb_die "rollback $cycle failed"
    pooled source || mb_fail "rollback $cycle: entry $(entry)"
    mb_ok "cycle $cycle: cutover ($held), rollback ($(grep -o 'held writes to "memori" for [0-9.]* ms' "$MB_TMP/err"))"
    sleep 0.7
done
stop_plain 0 1 2
mb_fenced "$DST" && ! mb_fenced "$SRC" && mb_ok "memori lives on the source after $cycles cycles" ||
    mb_fail "fences after the cycles"
mb_check_dumps "$SRC" source 0 1 2
end=$(mb_val "$SRC" "SELECT pg_current_wal_lsn()")
mb_wait_applied "$DST" memori_bridge "$end"
mb_check_dumps "$DST" target 0 1 2

# 4. a failure at every step, writers running
start_plain 3 4
sleep 1
# fail_at CMD FAILPOINT SIDE: CMD fails there, puts back, PgBouncer resumed at SIDE
fail_at()
{
    MEMORI_BRIDGE_FAILPOINT=$2 mb_expect 1 "failpoint \"$2\"" "$1" || return
    if grep -q "everything is back as it was: the $3 takes writes (PgBouncer points there, resumed)" "$MB_TMP/err" &&
        pooled "$3"; then
        mb_ok "$1 failing at $2: put back, PgBouncer resumed at the $3"
    else
        mb_fail "$1 at $2: entry $(entry): $(grep error "$MB_TMP/err" | tail -3)"
    fi
}
for fp in 1 2 3 pgbouncer-paused 4 5 6 pgbouncer-written pgbouncer-pointed 7; do
    case "$fp" in [0-9]) c=cutover-after-$fp r=rollback-after-$fp ;; *) c=$fp r=$fp ;; esac
    fail_at cutover "$c" source
    mb_fenced "$DST" && ! mb_fenced "$SRC" || mb_fail "after $c: the fences are not back"
    mb_expect 0 "cutover done" cutover && pooled target || mb_die "the cutover after $c failed"
    sleep 0.3
    fail_at rollback "$r" target
    mb_fenced "$SRC" && ! mb_fenced "$DST" || mb_fail "after $r: the fences are not back"
    mb_expect 0 "rollback done" rollback && pooled source || mb_die "the rollback after $r failed"
    sleep 0.3
done
stop_plain 3 4
mb_check_dumps "$SRC" source 3 4
end=$(mb_val "$SRC" "SELECT pg_current_wal_lsn()")
mb_wait_applied "$DST" memori_bridge "$end"
mb_check_dumps "$DST" target 3 4

# 5. status and cleanup
mb_expect 0 "" status && grep -q "^pgbouncer (host=127\.0\.0\.1 port=$PGB_PORT): database \"memori\" points at source (host=127\.0\.0\.1 port=$PGH_1_PORT dbname=postgres), resumed$" "$MB_TMP/out" &&
    mb_ok "status: where PgBouncer points, resumed" || mb_fail "status: $(grep -i pgbouncer "$MB_TMP/out")"
mb_sql "$PGB_ADMIN_DSN" "PAUSE memori"
mb_expect 3 "" status --json && jq -e '.pgbouncer.points_at == "source" and .pgbouncer.paused == true' "$MB_TMP/out" >/dev/null &&
    grep -q 'PgBouncer.s database \\"memori\\" is paused' "$MB_TMP/out" &&
    mb_ok "status --json: paused, with a warning (exit 3)" || mb_fail "status --json: $(cat "$MB_TMP/out")"
mb_expect 1 "PgBouncer's database \"memori\" is paused" cutover && mb_ok "cutover refuses a paused PgBouncer"
# points at the target by hand: status warns, cleanup --yes points it back
sed -i "s/port=$PGH_1_PORT /port=$PGH_2_PORT /" "$PGB_ENTRY_INI"
mb_sql "$PGB_ADMIN_DSN" "RELOAD"
mb_expect 3 "" status && grep -q "WARNING: PgBouncer's database \"memori\" points at target, but memori lives on the source" "$MB_TMP/out" &&
    mb_ok "status warns: PgBouncer points at the target, memori lives on the source" || mb_fail "status: $(grep WARN "$MB_TMP/out")"
mb_expect 0 "" cleanup && grep -q 'PAUSED; memori lives on the source: --yes points it there, resumed' "$MB_TMP/out" && [ "$(entry)" = "$PGH_2_PORT 1" ] &&
    mb_ok "cleanup lists it and changes nothing" || mb_fail "cleanup: $(cat "$MB_TMP/out")"
# (it drops nothing while the bridge streams, but PgBouncer goes right all the same)
mb_expect 1 "stop that bridge first" cleanup --yes && pooled source &&
    mb_ok "cleanup --yes: PgBouncer points at the source, resumed (and nothing is dropped while a bridge streams)" ||
    mb_fail "cleanup --yes: entry $(entry): $(cat "$MB_TMP/out")"
mb_expect 0 "" status && mb_ok "status: healthy again" || mb_fail "status: $(grep WARN "$MB_TMP/out")"
mb_expect 2 "--env-file with --pgbouncer: the app's MEMORI_DATABASE_URL points at PgBouncer and stays as it is" \
    cutover --env-file "$MB_TMP/app.env" && [ ! -e "$MB_TMP/app.env" ] && mb_ok "--env-file with --pgbouncer: usage error"

# 6. the control: without --pgbouncer the same writers fail
start_plain 5
sleep 1
MEMORI_BRIDGE_PGBOUNCER= mb_expect 0 "cutover done" cutover || mb_die "the cutover without --pgbouncer failed"
sleep 1
kill -TERM "${WRITER_PIDS[0]}"
wait "${WRITER_PIDS[0]}"
cat "$MB_TMP/writer5.out" >>"$MB_OUT"
grep -q "; [1-9][0-9]* failed$" "$MB_TMP/writer5.out" && grep -q "memori is read-only here" "$MB_TMP/writer5.out" &&
    mb_ok "control: without --pgbouncer a plain writer's writes fail ($(sed -n 's/.*; \([0-9]*\) failed$/\1/p' "$MB_TMP/writer5.out") of them, SQLSTATE 25006)" ||
    mb_fail "control: the plain writer did not fail: $(cat "$MB_TMP/writer5.out")"

kill -0 "$bridge" 2>/dev/null || mb_fail "the bridge stopped: $(grep error "$MB_OUT" | tail -3)"
kill -TERM "$bridge"
wait "$bridge"
mb_finish
