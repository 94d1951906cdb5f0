#!/bin/bash
# Secrets: no password reaches the output. This runs the bridge through the
# ways a password can travel (a URI, key=value, PGPASSWORD, a configuration
# file, a failed login, debug logging, a password equal to the user name),
# then greps everything the test suite has printed so far (every integration
# test's bridge output, and ctest's own log) for the harness password and the
# ones used here. ctest runs it after the other integration tests (DEPENDS).
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$here/lib.sh"

mb_start 2
mb_setup_pair
mb_sql "$SRC" "INSERT INTO memori.memories (user_id, content) VALUES ('s', 'secret test')"
password=$PGH_PASSWORD
uri_src="postgresql://postgres:$password@127.0.0.1:$PGH_1_PORT/postgres"

# a URI with the password, and debug logging (prepared statements and all)
end=$(mb_val "$SRC" "SELECT pg_current_wal_lsn()")
mb_bridge run --source "$uri_src" --target "$DST" --stop-at "$end" --log-level debug --lag-interval 0 ||
    mb_fail "run with a URI exited $?"
# PGPASSWORD, with a wrong password in it
PGPASSWORD=wrong-env-pw-9 mb_expect 1 "password authentication failed" run \
    --source "host=127.0.0.1 port=$PGH_1_PORT user=postgres dbname=postgres" --target "$DST" &&
    mb_ok "wrong PGPASSWORD refused"
# a configuration file holding both DSNs, one of them with a bad port
printf '[memori-bridge]\nsource = %s\ntarget = postgresql://postgres:%s@127.0.0.1:1/postgres?connect_timeout=2\n' \
    "$SRC" "$password" >"$MB_TMP/bridge.conf"
mb_expect 1 "could not connect to the target" --config "$MB_TMP/bridge.conf" run && mb_ok "config file"
# a configuration file that is wrong after the password
printf 'source = %s\nnonsense = 1\n' "$SRC" >"$MB_TMP/bad.conf"
mb_expect 2 "bad.conf:2: unknown key \"nonsense\"" --config "$MB_TMP/bad.conf" run && mb_ok "bad config key"
# a DSN libpq cannot parse
mb_expect 1 "" run --source "host=127.0.0.1 password=$password port=notaport" --target "$DST"
# ... and echoes: the whole URI, with the password in it (a short one with a
# quote, too), or a word that follows an unquoted password ("password=two
# words" reads as a password and a key, which libpq quotes)
mb_expect 2 'in URI: "postgresql://postgres:\*{8}@\[::1x/postgres"; fix --source \(or MEMORI_BRIDGE_SOURCE, or source in the configuration file\)$' \
    status --source "postgresql://postgres:$password@[::1x/postgres" --target "$DST" &&
    mb_ok "a URI libpq cannot parse: echoed with the password masked"
mb_expect 2 'in URI: "postgresql://postgres:\*{8}@\[::1x/postgres"; fix --source \(or MEMORI_BRIDGE_SOURCE, or source in the configuration file\)$' \
    status --source "postgresql://postgres:q'uo-pw-8@[::1x/postgres" --target "$DST" &&
    mb_ok "the same, with a quote in the password"
# (this test's own echo of these command lines, in its log, shows the words
# after the password: the bridge's output is searched for them here)
mb_expect 2 'not valid: missing "=" after "\*{8}" in connection info string; fix --source \(or MEMORI_BRIDGE_SOURCE, or source in the configuration file\)$' \
    status --source "host=127.0.0.1 port=$PGH_1_PORT user=postgres password=$password tail-pw-5" --target "$DST" &&
    ! grep -F tail-pw-5 "$MB_TMP/out" "$MB_TMP/err" &&
    mb_ok "an unquoted password with a space: the word libpq quotes is masked"
mb_expect 2 'not valid: missing "=" after "bogus" in connection info string; fix --source \(or MEMORI_BRIDGE_SOURCE, or source in the configuration file\)$' \
    status --source "host=127.0.0.1 user=postgres password='$password with spaces-pw-7' bogus" --target "$DST" &&
    ! grep -F spaces-pw-7 "$MB_TMP/out" "$MB_TMP/err" &&
    mb_ok "a quoted password with spaces: the key after it shows, the password not"

# The command line of a running bridge: the passwords of --source and
# --target=, URI and key=value, are blanked in place; host and user stay.
end=$(mb_val "$SRC" "SELECT pg_current_wal_lsn()")
"$MB_BRIDGE" run --source "$uri_src" --target="$DST" --lag-interval 0 >"$MB_TMP/bg.log" 2>&1 &
bg=$!
MB_BG_PIDS+=("$bg")
for _ in $(seq 1 100); do
    grep -q "streaming slot" "$MB_TMP/bg.log" && break
    sleep 0.1
done
cmdline=$(tr '\0' ' ' <"/proc/$bg/cmdline")
kill -TERM "$bg"
wait "$bg"
rc=$?
cat "$MB_TMP/bg.log" >>"$MB_OUT"
printf '+ /proc/PID/cmdline of run: %s\n' "$cmdline" | mb_hide >>"$MB_OUT"
if [[ $cmdline == *"$password"* ]]; then
    mb_fail "the password shows in /proc/PID/cmdline of a running bridge"
elif [[ $cmdline == *"--source postgresql://postgres:"*"@127.0.0.1:$PGH_1_PORT/postgres "* &&
    $cmdline == *"--target=host=127.0.0.1 port=$PGH_2_PORT user=postgres password="*" dbname=postgres "* ]]; then
    mb_ok "/proc/PID/cmdline of run: passwords blanked, host, port, user and database shown"
else
    mb_fail "/proc/PID/cmdline lost more than the passwords: $(printf '%s' "$cmdline" | mb_hide)"
fi
[ "$rc" -eq 0 ] || mb_fail "run stopped by SIGTERM exited $rc: $(tail -3 "$MB_TMP/bg.log")"

# A password equal to the user name (Supabase's local one is "postgres", like
# its user and database): the name shows, the password never does where it
# stands as a password (password=, the URI's user:password@, PGPASSWORD=).
# (Not "memori": that is the default schema's name, public anyway.)
mb_sql "$SRC_ADMIN" "CREATE ROLE mbagent LOGIN SUPERUSER PASSWORD 'mbagent'"
same="host=127.0.0.1 port=$PGH_1_PORT dbname=postgres user=mbagent"
same_uri="postgresql://mbagent:mbagent@127.0.0.1:$PGH_1_PORT/postgres"
: >"$MB_TMP/same.out"
# same_expect CODE REGEX ARGS: mb_expect, its output kept in same.out too
same_expect()
{
    local rc=0
    mb_expect "$@" || rc=1
    cat "$MB_TMP/out" "$MB_TMP/err" >>"$MB_TMP/same.out"
    return $rc
}
mb_sql "$SRC" "INSERT INTO memori.memories (user_id, content) VALUES ('mbagent', 'same password')"
end=$(mb_val "$SRC" "SELECT pg_current_wal_lsn()")
same_expect 0 'from the source \(host=127\.0\.0\.1 port=[0-9]+ dbname=postgres user=mbagent\)' \
    run --source "$same password=mbagent" --target "$DST" --stop-at "$end" --log-level debug --lag-interval 0 &&
    mb_ok "password = user name, key=value: the user shows"
PGPASSWORD=mbagent same_expect 0 'user=mbagent' run --source "$same" --target "$DST" --stop-at "$end" \
    --log-format json --lag-interval 0 && mb_ok "password = user name, in PGPASSWORD, JSON lines"
same_expect 0 'from the source \(host=127\.0\.0\.1 port=[0-9]+ dbname=postgres user=mbagent\)' \
    run --source "$same_uri" --target "$DST" --stop-at "$end" --lag-interval 0 &&
    mb_ok "password = user name, in a URI"
# libpq echoes a URI it cannot parse
same_expect 2 'not valid: unexpected character "x" at position [0-9]+ in URI \(expected ":" or "/"\): "postgresql://mbagent:\*{8}@\[::1\]x/postgres"' \
    status --source "postgresql://mbagent:mbagent@[::1]x/postgres" --target "$DST" &&
    mb_ok "libpq's echo of a bad URI: the user shows, the password is masked"
grep -q "user=mbagent" "$MB_TMP/same.out" || mb_fail "no user=mbagent in the output"
if grep -iE "password *= *'?mbagent|mbagent:mbagent@" "$MB_TMP/same.out"; then
    mb_fail "the password \"mbagent\" shows as a password (lines above)"
else
    mb_ok "searched $(wc -l <"$MB_TMP/same.out") lines: user=mbagent shows, the password never as a password"
fi

outputs=("$MB_OUTDIR"/*.log)
[ "${#outputs[@]}" -ge 2 ] || mb_fail "expected the outputs of the other tests in $MB_OUTDIR"
logs=$(ls "${MB_BINARY_DIR:-.}"/Testing/Temporary/LastTest*.log 2>/dev/null)
for secret in "$password" wrong-env-pw-9 "q'uo-pw-8" wrong-pw-4711 applier-pw-1 norepl-pw-1 reader-pw-1 weak-pw-1; do
    # shellcheck disable=SC2086
    hits=$(grep -lF -- "$secret" "${outputs[@]}" $logs 2>/dev/null)
    if [ -n "$hits" ]; then
        mb_fail "\"$secret\" printed in: $hits"
        grep -hF -- "$secret" $hits | head -3
    fi
done
[ "$MB_FAILURES" -eq 0 ] &&
    mb_ok "searched $(cat "${outputs[@]}" | wc -l) lines of bridge output and ctest's log: no password"
mb_finish
