#!/bin/bash
# TLS: every connection the bridge opens honours sslmode, the replication ones
# included. Both clusters take TCP only over TLS (pgh start --ssl: hostssl, and
# hostnossl rejected), and the DSNs ask for sslmode=verify-full with the test
# CA. The whole life cycle runs over them: init, run (its walsender's
# connection is TLS, seen from the server), verify, status, cutover, the
# reverse stream, rollback, cleanup, rows compared on both sides; the servers'
# connection logs show each command's connections, replication ones included,
# with SSL. Then the ways TLS goes wrong, each one line that names the side,
# the server and the fix: a wrong CA, a host name the certificate does not
# list, a missing root certificate file, sslmode=disable against a TLS-only
# server, and a server with TLS turned off.
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$here/lib.sh"
. "$here/switch_lib.sh"

mb_start 2 --ssl
[ -f "${PGH_CA:-}" ] && [ -f "${PGH_WRONG_CA:-}" ] || mb_die "pgh start --ssl printed no PGH_CA and PGH_WRONG_CA"
case "$SRC $DST" in
    *"sslmode=verify-full sslrootcert=$PGH_CA"*"sslmode=verify-full sslrootcert=$PGH_CA") ;;
    *) mb_die "the DSNs of an --ssl set do not ask for verify-full with the CA" ;;
esac

# the harness itself: TLS, and no way around it
[ "$(mb_val "$SRC" "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()")" = t ] &&
    mb_ok "the harness connects over TLS" || mb_fail "the harness's own connection is not TLS"
out=$("${PSQL[@]}" -d "$SRC sslmode=disable" -c "SELECT 1" 2>&1) &&
    mb_fail "a connection without TLS got in" ||
    { grep -q "pg_hba.conf rejects connection .*no encryption" <<<"$out" &&
        mb_ok "a connection without TLS is rejected by pg_hba.conf" || mb_fail "without TLS: $out"; }

# every connection of a bridge command is logged, with its TLS state
for dsn in "$SRC_ADMIN" "$DST_ADMIN"; do
    mb_sql "$dsn" "ALTER SYSTEM SET log_connections = on"
    mb_sql "$dsn" "SELECT pg_reload_conf()"
done

# walsender_tls DSN SLOT: "t" when the walsender streaming SLOT there is on TLS
walsender_tls()
{
    mb_val "$1" "SELECT coalesce(bool_and(s.ssl), false) || ' ' || count(*)
                 FROM pg_stat_replication r JOIN pg_stat_ssl s USING (pid)
                 JOIN pg_replication_slots l ON l.active_pid = r.pid WHERE l.slot_name = '$2'"
}

# the life cycle, over verify-full
mb_switch_setup 300
mb_compare_memori

src_server="host=127\\.0\\.0\\.1 port=$PGH_1_PORT dbname=postgres user=postgres"
dst_server="host=127\\.0\\.0\\.1 port=$PGH_2_PORT dbname=postgres user=postgres"
mb_refused "error: could not connect to the source \\($src_server\\): SSL error: certificate verify failed; check sslrootcert \\(\"$PGH_WRONG_CA\"\\): it must hold the CA that signed the server's certificate" \
    run --source "$SRC sslrootcert=$PGH_WRONG_CA" &&
    mb_ok "run, the source's certificate checked against the wrong CA: exit 1, one line"
mb_refused "error: could not connect to the target \\($dst_server\\): SSL error: certificate verify failed; check sslrootcert" \
    run --target "$DST sslrootcert=$PGH_WRONG_CA" &&
    mb_ok "run, the target's certificate checked against the wrong CA: exit 1, one line"
mb_refused "error: could not connect to the source \\($src_server\\): pg_hba.conf rejects connection for host \"127.0.0.1\", user \"postgres\", database \"postgres\", no encryption; the server takes connections from here only over TLS: set sslmode=verify-full and sslrootcert" \
    run --source "$SRC sslmode=disable" &&
    mb_ok "run with sslmode=disable against a TLS-only source: exit 1, one line"
mb_refused "error: could not connect to the source \\(host=memori\\.invalid port=$PGH_1_PORT .*\\): server certificate for \"127\\.0\\.0\\.1\" \\(and 1 other name\\) does not match host name \"memori\\.invalid\"; connect with a host name that the server's certificate lists" \
    status --source "$SRC host=memori.invalid hostaddr=127.0.0.1" &&
    mb_ok "status, a host name the certificate does not list: exit 1, one line"
mb_refused "error: could not connect to the target \\($dst_server\\): root certificate file \"$MB_TMP/no-such-ca.crt\" does not exist; set sslrootcert to the file of the CA" \
    verify --target "$DST sslrootcert=$MB_TMP/no-such-ca.crt" &&
    mb_ok "verify, a root certificate file that does not exist: exit 1, one line"
[ "$(mb_val "$SRC" "SELECT count(*) FROM pg_replication_slots WHERE active")" = 0 ] ||
    mb_fail "a refused run left a walsender streaming"

mb_start_run
mb_wait_streaming "$SRC" memori_bridge
[ "$(walsender_tls "$SRC" memori_bridge)" = "true 1" ] &&
    mb_ok "run: the source's walsender streams over TLS (pg_stat_ssl)" ||
    mb_fail "run's walsender on the source: $(walsender_tls "$SRC" memori_bridge)"
mb_sql "$SRC" "INSERT INTO memori.memories (user_id, content) SELECT 'tls', 'over tls ' || g FROM generate_series(1, 200) g;
               UPDATE memori.memories SET use_count = use_count + 1 WHERE id % 7 = 0;
               DELETE FROM memori.memories WHERE id % 11 = 0"
mb_wait_applied "$DST" memori_bridge "$(mb_val "$SRC" "SELECT pg_current_wal_lsn()")"
mb_compare_memori
mb_expect 0 "" verify && grep -q "verdict: equal" "$MB_TMP/out" && mb_ok "verify: equal" ||
    mb_fail "verify: $(cat "$MB_TMP/out" "$MB_TMP/err")"
mb_expect 0 "" status && grep -q "status: healthy" "$MB_TMP/out" && mb_ok "status: healthy" ||
    mb_fail "status: $(cat "$MB_TMP/out" "$MB_TMP/err")"

mb_expect 0 "cutover done" cutover && mb_ok "cutover"
mb_wait_streaming "$DST" memori_bridge_reverse
[ "$(walsender_tls "$DST" memori_bridge_reverse)" = "true 1" ] &&
    mb_ok "run, turned around: the target's walsender streams over TLS" ||
    mb_fail "the reverse walsender on the target: $(walsender_tls "$DST" memori_bridge_reverse)"
mb_sql "$DST" "INSERT INTO memori.memories (user_id, content) SELECT 'tls', 'on the target ' || g FROM generate_series(1, 100) g"
mb_wait_applied "$SRC" memori_bridge_reverse "$(mb_val "$DST" "SELECT pg_current_wal_lsn()")"
mb_compare_memori

mb_expect 0 "rollback done" rollback && mb_ok "rollback"
mb_wait_streaming "$SRC" memori_bridge
mb_sql "$SRC" "INSERT INTO memori.memories (user_id, content) VALUES ('tls', 'after the rollback')"
mb_wait_applied "$DST" memori_bridge "$(mb_val "$SRC" "SELECT pg_current_wal_lsn()")"
mb_compare_memori
mb_expect 0 "" verify && grep -q "verdict: equal" "$MB_TMP/out" && mb_ok "verify after the rollback: equal" ||
    mb_fail "verify after the rollback: $(cat "$MB_TMP/out" "$MB_TMP/err")"
kill -TERM "$RUN_PID"
wait "$RUN_PID" || mb_fail "run exited $? on SIGTERM"
mb_expect 0 "" cleanup --yes && grep -q "cleanup done" "$MB_TMP/out" && mb_ok "cleanup --yes" ||
    mb_fail "cleanup: $(cat "$MB_TMP/out" "$MB_TMP/err")"

# the servers' view: each command's connections, every one of them with SSL
for i in 1 2; do
    log="$MB_SET/c$i.log"
    conns=$(grep -E 'connection authorized: .*application_name=memori-bridge' "$log")
    plain=$(grep -vc 'SSL enabled' <<<"$conns")
    [ "$plain" = 0 ] && mb_ok "cluster $i: all $(wc -l <<<"$conns") bridge connections used TLS" ||
        mb_fail "cluster $i: $plain bridge connections without TLS: $(grep -v 'SSL enabled' <<<"$conns" | head -3)"
done
for want in "1 replication connection authorized: .*application_name=memori-bridge init SSL enabled" \
    "1 replication connection authorized: .*application_name=memori-bridge SSL enabled" \
    "1 replication connection authorized: .*application_name=memori-bridge verify SSL enabled" \
    "2 replication connection authorized: .*application_name=memori-bridge SSL enabled" \
    "2 connection authorized: .*application_name=memori-bridge SSL enabled" \
    "1 connection authorized: .*application_name=memori-bridge monitor SSL enabled" \
    "1 connection authorized: .*application_name=memori-bridge status SSL enabled" \
    "2 connection authorized: .*application_name=memori-bridge switch SSL enabled" \
    "1 connection authorized: .*application_name=memori-bridge cleanup SSL enabled" \
    "2 connection authorized: .*application_name=memori-bridge cleanup SSL enabled"; do
    grep -qE -- "${want#* }" "$MB_SET/c${want%% *}.log" || mb_fail "cluster ${want%% *} logged no \"${want#* }\""
done
[ "$MB_FAILURES" -eq 0 ] && mb_ok "init, run both ways, verify, status, cutover, rollback and cleanup connected with SSL"

# TLS turned off at the server (a reload; over the unix socket, TCP needs TLS)
admin=$([ "$PGH_1_PROFILE" = supabase ] && echo supabase_admin || echo postgres)
"$PGH_BINDIR/psql" -X -q -h "$PGH_1_SOCKDIR" -p "$PGH_1_PORT" -d postgres -U "$admin" \
    -c "ALTER SYSTEM SET ssl = off" -c "SELECT pg_reload_conf()" >/dev/null || mb_die "could not turn ssl off"
for _ in $(seq 1 100); do
    "$PGH_BINDIR/psql" -X -h "$PGH_1_SOCKDIR" -p "$PGH_1_PORT" -U "$admin" -d postgres -Atc "SHOW ssl" | grep -qx off && break
    sleep 0.1
done
mb_refused "error: could not connect to the source \\($src_server\\): server does not support SSL, but SSL was required; turn TLS on at the server \\(ssl = on, with ssl_cert_file and ssl_key_file\\)" \
    status &&
    mb_ok "status against a server with TLS off: exit 1, one line"
grep -q "$PGH_PASSWORD" "$MB_OUT" && mb_fail "the password is in the output"
mb_finish
