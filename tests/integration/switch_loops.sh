#!/bin/bash
# No loops: both directions stream at once, with no fences, and each side
# takes writes with disjoint explicit keys. Every write appears exactly once
# on the other side and never comes back. Into the target (a superuser) the
# bridge applies through a replication origin, and the reverse stream passes
# wal2json its numeric id (filter-origins); into the Supabase source, where
# postgres may not use origins, each applied transaction is tagged, and the
# forward stream leaves tagged transactions out.
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$here/lib.sh"
. "$here/switch_lib.sh"

mb_start 2
mb_switch_setup 100
mb_sql "$DST" "ALTER TABLE memori.memories DISABLE TRIGGER memori_bridge_fence"
mb_sql "$DST" "SELECT pg_create_logical_replication_slot('memori_bridge_reverse', 'wal2json')"
mb_mark_ready reverse
mb_start_run
forward=$RUN_PID
mb_start_run --direction reverse
reverse=$RUN_PID
sleep 1
for i in $(seq 0 9); do
    mb_sql "$SRC" "INSERT INTO memori.memories (id, user_id, content)
                   SELECT 100000000 + $i * 50 + g, 'from-source', 's' || g FROM generate_series(1, 50) g"
    mb_sql "$DST" "INSERT INTO memori.memories (id, user_id, content)
                   SELECT 200000000 + $i * 50 + g, 'from-target', 't' || g FROM generate_series(1, 50) g"
    mb_sql "$SRC" "UPDATE memori.memories SET content = content || '+' WHERE id = 100000000 + $i * 50 + 1"
    mb_sql "$DST" "UPDATE memori.memories SET content = content || '+' WHERE id = 200000000 + $i * 50 + 1"
done
count="SELECT count(*) FROM memori.memories WHERE user_id IN ('from-source', 'from-target')"
for _ in $(seq 1 300); do
    [ "$(mb_val "$SRC" "$count")" = 1000 ] && [ "$(mb_val "$DST" "$count")" = 1000 ] && break
    sleep 0.1
done
sleep 3 # time enough for anything to come back round
for side in SRC DST; do
    got=$(mb_val "${!side}" "$count")
    [ "$got" = 1000 ] && mb_ok "$side: each of the 1000 writes once" || mb_fail "$side: $got rows"
done
kill -0 "$forward" 2>/dev/null && kill -0 "$reverse" 2>/dev/null && mb_ok "both directions still stream" ||
    mb_fail "a direction stopped: $(grep error "$MB_OUT" | tail -3)"
mb_compare memori.memories
# the streams are quiet: nothing goes round and round
before=$(mb_val "$SRC" "SELECT pg_current_wal_lsn()")
sleep 2
moved=$(mb_val "$SRC" "SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), '$before')")
[ "$moved" -lt 200000 ] && mb_ok "the source's WAL is quiet ($moved bytes in 2 s)" ||
    mb_fail "the source's WAL keeps growing: $moved bytes in 2 s"
kill -TERM "$forward" "$reverse"
wait "$forward" "$reverse"
mb_finish
