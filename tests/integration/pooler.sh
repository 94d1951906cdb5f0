#!/bin/bash
# A connection pooler cannot carry the bridge. Hosted Supabase's port 6543 is a
# pooler in transaction mode (Supavisor); here a real PgBouncer (Debian's 1.18,
# tests/harness/pgb) in transaction mode stands in front of the source. Plain
# SQL goes through it fine, but the bridge's sessions do not: PgBouncer refuses
# the options that pin the session settings, and, where it is told to ignore
# those, the replication=database of the replication connection. init and run
# then exit 1 with one line that names the direct connection as the fix (init
# lists it among its checks' problems, and sums them up), and init has made
# nothing on either side. The same commands pass on the direct
# connection. Stopping the set stops its PgBouncers.
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$here/lib.sh"

mb_start 2
mb_sql_file "$SRC" "$MB_SOURCE_DIR/sql/memori_schema.sql"
mb_sql "$SRC" "INSERT INTO memori.memories (user_id, content) SELECT 'pool', 'row ' || g FROM generate_series(1, 100) g"

mb_start_pgbouncer 1
POOL=$PGB_DSN POOL_PORT=$PGB_PORT POOL_ADMIN=$PGB_ADMIN_DSN POOL_PID=$PGB_PID
mb_start_pgbouncer 1 --ignore-startup-parameters options
LAX=$PGB_DSN LAX_PORT=$PGB_PORT LAX_LOG=$PGB_LOG LAX_PID=$PGB_PID

# the poolers themselves work: SQL reaches the source through each
for dsn in "$POOL" "$LAX"; do
    got=$(mb_val "$dsn" "SELECT inet_server_port() || ' ' || count(*) FROM memori.memories")
    [ "$got" = "$PGH_1_PORT 100" ] || mb_fail "SELECT through PgBouncer: \"$got\", expected \"$PGH_1_PORT 100\""
done
[ "$MB_FAILURES" -eq 0 ] && mb_ok "plain SQL reaches the source through both PgBouncers"
mode=$(mb_val "$POOL_ADMIN" "SHOW CONFIG" | awk -F '|' '$1 == "pool_mode" { print $2 }')
[ "$mode" = transaction ] && mb_ok "the admin console answers: pool_mode = transaction" ||
    mb_fail "pool_mode from the admin console: \"$mode\""

# made: "SLOTS SCHEMAS", the slots on the source and the memori schemas on the target
made()
{
    printf '%s %s\n' "$(mb_val "$SRC" "SELECT count(*) FROM pg_replication_slots")" \
        "$(mb_val "$DST" "SELECT count(*) FROM pg_namespace WHERE nspname IN ('memori', 'memori_bridge')")"
}

fix="use the direct connection to PostgreSQL \\(hosted Supabase: db\\.<project>\\.supabase\\.co port 5432, not the pooler on port 6543\\)"
sessions="unsupported startup parameter: options; a connection pooler answers there \\(PgBouncer, Supavisor\\), and the bridge needs sessions of its own: $fix"
replication="unsupported startup parameter: replication; a connection pooler answers there \\(PgBouncer, Supavisor\\), and a pooler cannot carry replication: $fix"
# at PORT: the start of the error line for the source at PORT
at() { printf 'error: could not connect to the source \\(host=127\\.0\\.0\\.1 port=%s dbname=postgres user=postgres\\)' "$1"; }

# refused COMMAND: COMMAND with the source behind each PgBouncer
refused()
{
    mb_refused "$(at "$POOL_PORT"): $sessions" "$1" --source "$POOL" --target "$DST" &&
        mb_ok "$1 through the pooler: exit 1, one line, the direct connection named"
    mb_refused "$(at "$LAX_PORT"): $replication" "$1" --source "$LAX" --target "$DST" &&
        mb_ok "$1 through a pooler that lets the settings pass: refused at replication, one line"
}

mb_refused "$(at "$POOL_PORT"): $sessions" init --source "$POOL" --target "$DST" &&
    mb_ok "init through the pooler: exit 1, one line, the direct connection named"
# init's checks open a replication connection: a problem of the source, listed
if mb_expect 1 "error: source: could not open a replication connection \(host=127\.0\.0\.1 port=$LAX_PORT dbname=postgres user=postgres\): $replication" \
    init --source "$LAX" --target "$DST" &&
    [ "$(grep -c 'error: ' "$MB_TMP/err")" = 2 ] && grep -q "error: init: 1 problem to fix first; nothing was changed" "$MB_TMP/err"; then
    mb_ok "init through a pooler that lets the settings pass: its checks name the replication connection"
else
    mb_fail "init through the lax pooler: $(cat "$MB_TMP/err")"
fi
grep -q "unsupported startup parameter: replication" "$LAX_LOG" &&
    mb_ok "PgBouncer's own log: unsupported startup parameter: replication" ||
    mb_fail "PgBouncer's log has no refused replication parameter"
[ "$(made)" = "0 0" ] && mb_ok "init made nothing on either side" || mb_fail "init left: $(made) (slots, schemas)"

mb_expect 0 "init done" init --source "$SRC" --target "$DST" && mb_ok "init on the direct connection"
refused run
mb_sql "$SRC" "UPDATE memori.memories SET use_count = 2 WHERE id <= 10"
mb_run_to_end && mb_ok "run on the direct connection" || mb_fail "run on the direct connection exited $?"
mb_compare memori.memories

# the PgBouncers go with the set
"$MB_PGH" stop "$MB_SET" 2>>"$MB_OUT" || mb_fail "pgh stop failed"
for pid in "$POOL_PID" "$LAX_PID"; do
    [ -d "/proc/$pid" ] && mb_fail "PgBouncer $pid still runs after pgh stop"
done
[ -e "$MB_SET" ] && mb_fail "the set \"$MB_SET\" is still there"
[ "$MB_FAILURES" -eq 0 ] && mb_ok "pgh stop stopped both PgBouncers and removed the set"
MB_SET=
mb_finish
