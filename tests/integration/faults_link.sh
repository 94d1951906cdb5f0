#!/bin/bash
# A dead peer is detected, on either link, and the bridge comes back from it
# with nothing lost and nothing applied twice. The bridge reaches each side
# through a link proxy (tests/harness/pgl); writers, status and the checks
# reach them directly. A blackholed link keeps every socket open and answers
# nothing, the way a dead NAT or a frozen host does: TCP says nothing, so the
# bridge's own checks (--peer-timeout) must find it.
#   - every connection of the bridge has TCP keepalives from --peer-timeout;
#   - the source link, then the target link, blackholed under writers: the
#     bridge says which link is down, the metrics say streaming 0 with a lag
#     that grows, status names the link and exits 3; once the link passes
#     again, the bridge streams on and says so;
#   - the open connections of each link stranded (blackholed for good, new
#     ones pass): the server processes the dead sessions left, which hold the
#     slot or the claim, are ended, and the bridge goes on;
#   - the source link blackholed with nothing to stream (an idle, silent link);
#   - a slow link (every chunk 300 ms late) is slow, not dead, and so are a
#     narrow one that takes seconds to carry one large value and a walsender
#     that sends nothing while it decodes a large transaction;
#   - verify through a blackholed link gives up with one line after
#     --verify-timeout, at connect and in the middle of a query;
#   - at the end, every writer's acknowledged rows are on the target exactly
#     once, and every table is equal row by row.
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$here/lib.sh"
. "$here/switch_lib.sh"

mb_start 2
mb_switch_setup 2000
mb_start_link 1 SL
mb_start_link 2 TL

# metric NAME: its value in the last scrape
metric()
{
    awk -v k="$1" '$1 == k { print $2; found = 1 } END { exit !found }' "$MB_TMP/scrape"
}
scrape() { curl -sS --max-time 5 -o "$MB_TMP/scrape" "$url/metrics"; }

# logged REGEX: the bridge's log holds a line matching REGEX (since mark)
mark() { mark=$(wc -l <"$MB_TMP/bridge.log"); }
logged() { tail -n +"$((mark + 1))" "$MB_TMP/bridge.log" | grep -qE -- "$1"; }

# until SECONDS CMD...: poll CMD every 0.2 s, at most SECONDS
until_ok()
{
    local n=$(($1 * 5)) i
    shift
    for ((i = 0; i < n; i++)); do
        "$@" && return 0
        sleep 0.2
    done
    return 1
}

streaming_is() { scrape 2>/dev/null && [ "$(metric memori_bridge_streaming)" = "$1" ]; }
# status_names SIDE: status exits 3 and names the link to SIDE
status_names()
{
    "$MB_BRIDGE" status >"$MB_TMP/out" 2>&1
    local code=$?
    cat "$MB_TMP/out" >>"$MB_OUT"
    [ "$code" = 3 ] && grep -q "cannot reach the $1" "$MB_TMP/out"
}

"$MB_BRIDGE" run --source "$SL_DSN" --target "$TL_DSN" --peer-timeout 6s --verify-timeout 10s \
    --metrics-addr 127.0.0.1:0 --lag-interval 1s --reconnect-min 200ms --reconnect-max 2s \
    >>"$MB_TMP/bridge.log" 2>&1 &
RUN_PID=$!
MB_BG_PIDS+=("$RUN_PID")
url=$(mb_metrics_url "$MB_TMP/bridge.log")
[ -n "$url" ] || mb_die "no metrics line: $(cat "$MB_TMP/bridge.log")"
mb_wait_streaming "$SRC" memori_bridge
until_ok 30 streaming_is 1 || mb_die "the bridge does not stream: $(tail -5 "$MB_TMP/bridge.log")"

# the kernel watches each of the bridge's connections too: TCP keepalives
# from --peer-timeout (a first probe after 3 s of quiet), not the system's two
# hours (a dead link that drops packets ends them; this proxy keeps TCP alive)
keepalives_set()
{
    ss -tnopH state established 2>/dev/null | grep "pid=$RUN_PID," >"$MB_TMP/ss"
    [ "$(grep -c 'timer:(keepalive,' "$MB_TMP/ss")" -ge 2 ] && ! grep -q 'timer:(keepalive,[0-9.]*min' "$MB_TMP/ss"
}
if until_ok 10 keepalives_set; then
    mb_ok "the bridge's $(grep -c 'timer:(keepalive,' "$MB_TMP/ss") connections have TCP keepalives from --peer-timeout, not the system's"
else
    mb_fail "the bridge's connections' keepalives: $(cat "$MB_TMP/ss")"
fi
mb_start_writers 0 1

# blackhole SIDE VAR: the link of SIDE (source, target) dies under writers;
# the bridge, the metrics and status say so; then it comes back
blackhole()
{
    local side=$1 var=$2 lag1 lag2
    sleep 2
    mark
    mb_link "$var" blackhole
    until_ok 60 logged "the link to the $side is down" &&
        mb_ok "$side link blackholed: the bridge says the link to the $side is down" ||
        mb_fail "$side link blackholed: no line naming the link: $(tail -5 "$MB_TMP/bridge.log")"
    until_ok 30 streaming_is 0 && mb_ok "$side link down: memori_bridge_streaming 0" ||
        mb_fail "$side link down: streaming $(metric memori_bridge_streaming)"
    lag1=$(metric memori_bridge_lag_seconds)
    sleep 2
    scrape
    lag2=$(metric memori_bridge_lag_seconds)
    awk -v a="$lag1" -v b="$lag2" 'BEGIN { exit !(a > 0 && b > a) }' &&
        mb_ok "$side link down: the lag grows ($lag1 s, then $lag2 s)" ||
        mb_fail "$side link down: the lag does not grow: $lag1, then $lag2"
    if until_ok 30 status_names "$side"; then
        mb_ok "$side link down: status exits 3 and names the $side: $(grep -o "cannot reach the ${side}[^;]*" "$MB_TMP/out")"
    else
        mb_fail "$side link down: status: $(cat "$MB_TMP/out" "$MB_TMP/err")"
    fi
    mark
    mb_link "$var" pass
    until_ok 90 logged "the link to the $side is back" && until_ok 30 streaming_is 1 &&
        mb_ok "$side link back: the bridge says so, and streams again" ||
        mb_fail "$side link back: $(tail -5 "$MB_TMP/bridge.log")"
}

blackhole source SL
blackhole target TL

# strand SIDE VAR: the open connections of the link die for good while new
# ones pass, as when a NAT forgets them: the server keeps the dead sessions'
# processes (for hours, till its own keepalives give up), and they hold the
# slot or the claim on the target; the bridge ends its own, and goes on
strand()
{
    sleep 2
    mark
    mb_link "$2" strand
    until_ok 90 logged "ended the server process \\(PID [0-9]+\\) that the lost session left on the $1" &&
        until_ok 30 streaming_is 1 &&
        mb_ok "$1 link stranded: the bridge ended the server process its dead session left, and streams again" ||
        mb_fail "$1 link stranded: $(tail -5 "$MB_TMP/bridge.log")"
    mb_link "$2" pass
}
strand source SL
strand target TL

# a slow link is not a dead one: 300 ms per chunk, both ways
mark
mb_link SL slow 300
sleep 15
logged "link to the source is down" && mb_fail "a slow link was called dead: $(grep 'is down' "$MB_TMP/bridge.log" | tail -1)" ||
    mb_ok "a slow source link (300 ms a chunk): not called dead"
# nor a narrow one that takes longer than half of --peer-timeout to carry one
# large message: bytes keep coming (1 MB/s, a value of 8 MB)
mark
mb_link SL slow 0 1000000
mb_sql "$SRC" "INSERT INTO memori.entities (user_id, entity_name, content)
               VALUES ('large', 'large', repeat(md5('x'), 250000))"
end=$(mb_val "$SRC" "SELECT pg_current_wal_lsn()")
mb_wait_applied "$DST" memori_bridge "$end" &&
    [ "$(mb_val "$DST" "SELECT length(content) FROM memori.entities WHERE user_id = 'large'")" = 8000000 ] &&
    ! logged "link to the source is down" &&
    mb_ok "a narrow source link (1 MB/s) carrying an 8 MB value: not called dead, and the value arrived" ||
    mb_fail "a narrow link and a large value: $(grep 'is down' "$MB_TMP/bridge.log" | tail -1)"
mb_link SL pass

mb_stop_writers

# an idle link that goes silent: nothing to stream, nothing sent
end=$(mb_val "$SRC" "SELECT pg_current_wal_lsn()")
mb_wait_applied "$DST" memori_bridge "$end"
mark
mb_link SL blackhole
until_ok 60 logged "the link to the source is down" &&
    mb_ok "an idle source link gone silent: found dead" || mb_fail "an idle silent link: not found"
mark
mb_link SL pass
until_ok 90 logged "the link to the source is back" || mb_fail "the idle link did not come back"

# everything ends equal: each acknowledged write once, every row the same
mb_sql "$SRC" "INSERT INTO memori.memories (user_id, content) VALUES ('last', 'after the faults')"
end=$(mb_val "$SRC" "SELECT pg_current_wal_lsn()")
mb_wait_applied "$DST" memori_bridge "$end"
mb_check_dumps "$DST" target 0 1
mb_compare_memori
reconnects=$(scrape && metric memori_bridge_reconnects_total)
mb_log "reconnects: $reconnects"

# verify through a dead link: one line after --verify-timeout, exit 1
mb_link TL blackhole
mb_refused "verify gave up after 4 s \\(verify_timeout\\) while connecting to the target" \
    verify --source "$SL_DSN" --target "$TL_DSN" --verify-timeout 4s &&
    mb_ok "verify, the target link dead at connect: $(grep -o 'verify gave up.*' "$MB_TMP/err")"
mb_link TL pass
kill -TERM "$RUN_PID"
wait "$RUN_PID"
# in the middle of a query: verify waits on a lock on the target, the link
# dies, the lock goes; the answer is lost in the link
mkfifo "$MB_TMP/lock.fifo"
PGAPPNAME=locker "${PSQL[@]}" -d "$DST" <"$MB_TMP/lock.fifo" >/dev/null 2>&1 &
locker=$!
MB_BG_PIDS+=("$locker")
exec 7>"$MB_TMP/lock.fifo"
echo "BEGIN; LOCK memori.memories; SELECT pg_sleep(3600);" >&7
locked()
{
    [ "$(mb_val "$DST" "SELECT count(*) FROM pg_locks WHERE relation = 'memori.memories'::regclass AND mode = 'AccessExclusiveLock' AND granted")" = 1 ]
}
until_ok 30 locked || mb_die "no lock"
# (whichever of verify's queries meets the lock first: reading the tables'
# definitions, or hashing them)
{ timeout 120 "$MB_BRIDGE" verify --source "$SL_DSN" --target "$TL_DSN" --verify-timeout 15s \
    >"$MB_TMP/vout" 2>"$MB_TMP/verr"; echo $? >"$MB_TMP/vcode"; } &
verifier=$!
waiting()
{
    [ "$(mb_val "$DST" "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'memori-bridge verify' AND wait_event_type = 'Lock'")" -ge 1 ]
}
until_ok 30 waiting || mb_fail "verify never waited on the lock: $(cat "$MB_TMP/verr")"
mb_link TL blackhole
mb_sql "$DST" "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'locker'"
exec 7>&-
wait "$verifier"
cat "$MB_TMP/vout" "$MB_TMP/verr" >>"$MB_OUT"
code=$(cat "$MB_TMP/vcode")
errors=$(grep -c 'error: ' "$MB_TMP/verr")
if [ "$code" = 1 ] && [ "$errors" = 1 ] && grep -q "verify gave up after 15 s (verify_timeout) while [a-z]" "$MB_TMP/verr"; then
    mb_ok "verify, the target link dead mid-query: exit 1, one line: $(grep -o 'verify gave up.*' "$MB_TMP/verr")"
else
    mb_fail "verify mid-query: exit $code, $errors error lines: $(cat "$MB_TMP/verr")"
fi
mb_link TL pass

# a busy server is not a dead link: the walsender decodes a large transaction
# the bridge does not stream (public.app_users) and sends nothing meanwhile
# (wal2json before PostgreSQL 16); asked about, it is at work, and the bridge
# waits for it
cat "$MB_TMP/bridge.log" >>"$MB_OUT"
: >"$MB_TMP/bridge.log"
mark
"$MB_BRIDGE" run --source "$SL_DSN" --target "$TL_DSN" --peer-timeout 2s --lag-interval 1s \
    --log-level debug >>"$MB_TMP/bridge.log" 2>&1 &
RUN_PID=$!
MB_BG_PIDS+=("$RUN_PID")
mb_wait_streaming "$SRC" memori_bridge
mb_sql "$SRC" "INSERT INTO public.app_users (email) SELECT 'busy-' || g FROM generate_series(1, 3000000) g"
mb_sql "$SRC" "INSERT INTO memori.memories (user_id, content) VALUES ('last', 'after a large transaction')"
end=$(mb_val "$SRC" "SELECT pg_current_wal_lsn()")
mb_wait_applied "$DST" memori_bridge "$end"
if logged "link to the source is down"; then
    mb_fail "a busy walsender was called a dead link: $(grep 'is down' "$MB_TMP/bridge.log" | tail -1)"
else
    mb_ok "a walsender silent while it decodes a large transaction: not called dead"
fi
grep -E "has sent nothing for .* but its server process .* is working" "$MB_TMP/bridge.log" | tail -1 | tee -a "$MB_OUT"
mb_compare_memori
kill -TERM "$RUN_PID"
wait "$RUN_PID"
grep -v ': debug: ' "$MB_TMP/bridge.log" >>"$MB_OUT"
mb_finish
