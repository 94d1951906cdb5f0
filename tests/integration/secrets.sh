#!/bin/bash
# Secrets: no password reaches the output. This runs the bridge through the
# ways a password can travel (a URI, key=value, PGPASSWORD, a configuration
# file, a failed login, debug logging), then greps everything the test suite
# has printed so far (every integration test's bridge output, and ctest's own
# log) for the harness password and the ones used here. ctest runs it after
# the other integration tests (DEPENDS).
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

outputs=("$MB_OUTDIR"/*.log)
[ "${#outputs[@]}" -ge 2 ] || mb_fail "expected the outputs of the other tests in $MB_OUTDIR"
logs=$(ls "${MB_BINARY_DIR:-.}"/Testing/Temporary/LastTest*.log 2>/dev/null)
for secret in "$password" wrong-env-pw-9 wrong-pw-4711 applier-pw-1 norepl-pw-1 reader-pw-1 weak-pw-1; do
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
