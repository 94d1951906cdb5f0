#!/bin/bash
# compose/: the Compose file is valid (docker-compose config -q: no Docker
# engine runs here) and says what the decision record and the bridge need;
# the ops scripts, pointed at a throwaway cluster with the local client tools
# (MEMORI_LOCAL_BINDIR), report status, back up, and restore exactly what was
# backed up; their failures are one line and leave nothing half done.
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# the cluster stands in for the standalone container, whose postgres is its
# superuser, not for Supabase
MB_SOURCE_PROFILE=superuser
. "$here/lib.sh"

compose_dir=$MB_SOURCE_DIR/compose
scripts=$compose_dir/scripts

# ---- the Compose file ------------------------------------------------------
MEMORI_DB_PASSWORD=test-only docker-compose -f "$compose_dir/docker-compose.yml" config -q 2>"$MB_TMP/dc.err" &&
    mb_ok "docker-compose config -q: valid" || mb_fail "docker-compose config: $(cat "$MB_TMP/dc.err")"
MEMORI_DB_PASSWORD=test-only docker-compose -f "$compose_dir/docker-compose.yml" config >"$MB_TMP/dc.yml" 2>/dev/null
for want in "127.0.0.1:5433:5432" "memori_data:/var/lib/postgresql/data" "name: memori_persistent_data" \
    "wal_level=logical" "output_plugin_libraries=pgoutput,test_decoding,wal2json" "max_replication_slots=10" \
    "max_wal_senders=10" "/docker-entrypoint-initdb.d/01-memori-schema.sql:ro" "pg_isready" \
    "PG_IMAGE: postgres:17.12-alpine" "dockerfile: Dockerfile"; do
    grep -qF -- "$want" "$MB_TMP/dc.yml" || mb_fail "the Compose file lacks \"$want\""
done
mb_ok "port, volume, healthcheck, wal_level, output_plugin_libraries, slots, senders and schema are there"
schema_src=$(sed -n 's#.*- \(/[^:]*\):/docker-entrypoint-initdb.d/01-memori-schema.sql:ro#\1#p' "$MB_TMP/dc.yml")
cmp -s "$schema_src" "$MB_SOURCE_DIR/sql/memori_schema.sql" && mb_ok "the schema mounted is sql/memori_schema.sql" ||
    mb_fail "the schema mount points at '$schema_src'"
MEMORI_DB_PASSWORD= docker-compose -f "$compose_dir/docker-compose.yml" config -q 2>"$MB_TMP/dc.err" &&
    mb_fail "a missing password passed" || {
    grep -q "set MEMORI_DB_PASSWORD" "$MB_TMP/dc.err" && mb_ok "a missing password is refused by name" ||
        mb_fail "no password: $(cat "$MB_TMP/dc.err")"
}
# the PgBouncer of the runbook "Cutover with no failed writes", behind a profile
MEMORI_DB_PASSWORD=test-only docker-compose -f "$compose_dir/docker-compose.yml" --profile pgbouncer config >"$MB_TMP/pgb.yml" 2>"$MB_TMP/dc.err" ||
    mb_fail "docker-compose --profile pgbouncer config: $(cat "$MB_TMP/dc.err")"
for want in "network_mode: host" "/etc/pgbouncer/pgbouncer.ini:ro" ":/etc/pgbouncer/memori:rw" "dockerfile: pgbouncer.Dockerfile" \
    "- pgbouncer"; do
    grep -qF -- "$want" "$MB_TMP/pgb.yml" || mb_fail "the pgbouncer service lacks \"$want\""
done
ini=$(sed -n 's#.*- \(/[^:]*\):/etc/pgbouncer/pgbouncer.ini:ro#\1#p' "$MB_TMP/pgb.yml")
cmp -s "$ini" "$MB_SOURCE_DIR/config/pgbouncer.ini" && mb_ok "the pgbouncer service: host network, config/pgbouncer.ini, its entry's folder mounted" ||
    mb_fail "the pgbouncer service mounts '$ini'"
for want in "listen_addr = 127.0.0.1" "pool_mode = transaction" "%include /etc/pgbouncer/memori/memori.ini" "admin_users = pgbouncer"; do
    grep -qxF -- "$want" "$MB_SOURCE_DIR/config/pgbouncer.ini" || mb_fail "config/pgbouncer.ini lacks \"$want\""
done
# the shipped config, as it is, starts a real PgBouncer (its paths moved here)
mkdir -p "$MB_TMP/pgb/memori"
port=$(shuf -i 20000-31999 -n 1)
sed -e "s#/etc/pgbouncer/memori#$MB_TMP/pgb/memori#" -e "s#^listen_port = 6432#listen_port = $port#" \
    -e "s#^\\[pgbouncer\\]#[pgbouncer]\\nlogfile = $MB_TMP/pgb/log#" \
    "$MB_SOURCE_DIR/config/pgbouncer.ini" >"$MB_TMP/pgb/pgbouncer.ini"
cp "$compose_dir/pgbouncer/memori.ini.example" "$MB_TMP/pgb/memori/memori.ini"
cp "$compose_dir/pgbouncer/userlist.txt.example" "$MB_TMP/pgb/memori/userlist.txt"
chmod a+x "$MB_TMP" && chmod -R a+rwX "$MB_TMP/pgb"
if runuser -u nobody -- pgbouncer -v "$MB_TMP/pgb/pgbouncer.ini" >"$MB_TMP/pgb/out" 2>&1 &
    pid=$! && sleep 1 && kill -0 "$pid" 2>/dev/null; then
    mb_ok "config/pgbouncer.ini with the example entry and users: PgBouncer starts"
    kill -TERM "$pid"
    wait "$pid" 2>/dev/null
else
    mb_fail "PgBouncer does not start with config/pgbouncer.ini: $(tail -5 "$MB_TMP/pgb/out" "$MB_TMP/pgb/log" 2>/dev/null)"
fi

# the pinned minor knows output_plugin_libraries (17.11 and later)
minor=$(sed -n 's/^ARG PG_IMAGE=postgres:17\.\([0-9]*\)-alpine$/\1/p' "$compose_dir/Dockerfile")
[ -n "$minor" ] && [ "$minor" -ge 11 ] && mb_ok "the Dockerfile pins PostgreSQL 17.$minor" || mb_fail "the Dockerfile's image: minor '$minor'"
grep -q 'wal2json' "$compose_dir/Dockerfile" || mb_fail "the Dockerfile does not build wal2json"

# ---- the ops scripts, on a throwaway cluster ---------------------------------
mb_start 1
mb_sql_file "$SRC" "$MB_SOURCE_DIR/sql/memori_schema.sql"
mb_sql "$SRC" "INSERT INTO memori.entities (user_id, entity_name) SELECT 'u', 'e' || g FROM generate_series(1, 50) g;
               INSERT INTO memori.memories (user_id, content, metadata) SELECT 'u', 'memory ' || g || ' ''quoted'' é', jsonb_build_object('g', g)
               FROM generate_series(1, 2000) g;
               INSERT INTO memori.relationships (user_id, source_entity_id, target_entity_id, relationship_type)
               SELECT 'u', g, g + 1, 'next' FROM generate_series(1, 49) g;
               ANALYZE"
export MEMORI_LOCAL_BINDIR=$PGH_BINDIR PGHOST=127.0.0.1 PGPORT=$PGH_1_PORT PGUSER=postgres PGPASSWORD=$PGH_PASSWORD PGDATABASE=postgres
export MEMORI_BACKUP_DIR=$MB_TMP/backups
fingerprint()
{
    mb_val "$SRC" "SELECT string_agg(t || ':' || n || ':' || h, ' ' ORDER BY t) FROM (
        SELECT 'memories' t, count(*) n, sum(hashtext(x::text)) h FROM memori.memories x UNION ALL
        SELECT 'entities', count(*), sum(hashtext(x::text)) FROM memori.entities x UNION ALL
        SELECT 'relationships', count(*), sum(hashtext(x::text)) FROM memori.relationships x) s"
}

"$scripts/status.sh" >"$MB_TMP/status.out" 2>&1 && mb_ok "status.sh: exit 0" || mb_fail "status.sh: $(cat "$MB_TMP/status.out")"
for want in "server 15" "wal_level logical" "table memori.memories: 2000 rows" "memori-db status: up"; do
    grep -q "$want" "$MB_TMP/status.out" || mb_fail "status.sh lacks \"$want\": $(cat "$MB_TMP/status.out")"
done
grep -q "$PGH_PASSWORD" "$MB_TMP/status.out" && mb_fail "status.sh printed the password"

before=$(fingerprint)
"$scripts/backup.sh" >"$MB_TMP/backup.out" 2>&1 && mb_ok "backup.sh: exit 0" || mb_fail "backup.sh: $(cat "$MB_TMP/backup.out")"
dump=$(sed -n 's/^memori-db backup: saved postgres to \(.*\) ([^)]*)$/\1/p' "$MB_TMP/backup.out")
[ -s "$dump" ] && [[ "$dump" == "$MEMORI_BACKUP_DIR"/memori_*.dump ]] && mb_ok "the dump: $(basename "$dump")" || mb_fail "no dump named: $(cat "$MB_TMP/backup.out")"
"$PGH_BINDIR/pg_restore" --list "$dump" | grep -q "TABLE DATA memori memories" && mb_ok "the dump holds memori.memories' data" ||
    mb_fail "the dump lacks memori.memories"

# damage, then restore
mb_sql "$SRC" "DELETE FROM memori.relationships WHERE id > 10; UPDATE memori.memories SET content = 'changed' WHERE id % 7 = 0;
               DROP TABLE memori.conversations"
[ "$(fingerprint)" != "$before" ] || mb_die "the damage did not change anything"
"$scripts/restore.sh" "$dump" >"$MB_TMP/restore.out" 2>&1 && mb_fail "restore.sh without --yes went ahead" || {
    grep -q "run again with --yes" "$MB_TMP/restore.out" && mb_ok "restore.sh asks for --yes" || mb_fail "restore.sh: $(cat "$MB_TMP/restore.out")"
}
"$scripts/restore.sh" "$dump" --yes >"$MB_TMP/restore.out" 2>&1 && mb_ok "restore.sh --yes: exit 0" ||
    mb_fail "restore.sh: $(cat "$MB_TMP/restore.out")"
[ "$(fingerprint)" = "$before" ] && mb_ok "restored: every row as backed up" || mb_fail "after restore: $(fingerprint) vs $before"
[ "$(mb_val "$SRC" "SELECT count(*) FROM pg_trigger WHERE tgname = 'memories_tsv_update' OR tgrelid = 'memori.memories'::regclass AND NOT tgisinternal")" -ge 1 ] &&
    [ "$(mb_val "$SRC" "SELECT to_regclass('memori.conversations') IS NOT NULL")" = t ] &&
    mb_ok "the dropped table and the trigger are back" || mb_fail "objects missing after restore"
mb_sql "$SRC" "INSERT INTO memori.memories (user_id, content) VALUES ('u', 'after restore')"
[ "$(mb_val "$SRC" "SELECT id > 2000 FROM memori.memories WHERE content = 'after restore'")" = t ] &&
    mb_ok "the sequence was restored too" || mb_fail "a new row took an old id"

# a pipe instead of a file (as docker exec gives): the same dump restores
before=$(fingerprint)
"$PGH_BINDIR/pg_dump" --format=custom -d "$PGDATABASE" | cat >"$MB_TMP/piped.dump"
mb_sql "$SRC" "DELETE FROM memori.memories WHERE id < 100"
cat "$MB_TMP/piped.dump" | "$PGH_BINDIR/pg_restore" --clean --if-exists --single-transaction --exit-on-error -d "$PGDATABASE" &&
    [ "$(fingerprint)" = "$before" ] && mb_ok "a dump written to a pipe restores from a pipe" || mb_fail "piped restore: $(fingerprint)"

# failures: one line, nothing half done
"$scripts/restore.sh" "$MB_TMP/nothing.dump" --yes >"$MB_TMP/r.out" 2>&1 && mb_fail "restore of a missing file passed" ||
    { grep -q "does not exist" "$MB_TMP/r.out" && mb_ok "a missing file: named"; }
echo "not a dump" >"$MB_TMP/bogus.dump"
"$scripts/restore.sh" "$MB_TMP/bogus.dump" --yes >"$MB_TMP/r.out" 2>&1 && mb_fail "restore of a bogus file passed" ||
    { grep -q "is not a backup.sh dump" "$MB_TMP/r.out" && mb_ok "a bogus file: refused before anything changes" || mb_fail "bogus: $(cat "$MB_TMP/r.out")"; }
PGPORT=1 "$scripts/backup.sh" "$MB_TMP/fail.dump" >"$MB_TMP/b.out" 2>&1 && mb_fail "backup of an unreachable server passed" ||
    { grep -q "pg_dump of postgres failed" "$MB_TMP/b.out" && mb_ok "an unreachable server: backup.sh fails by name"; }
[ ! -e "$MB_TMP/fail.dump" ] && [ ! -e "$MB_TMP/fail.dump.partial" ] && mb_ok "a failed backup leaves no file" ||
    mb_fail "a failed backup left a file"
PGPORT=1 "$scripts/status.sh" >"$MB_TMP/s.out" 2>&1 && mb_fail "status of an unreachable server: exit 0" ||
    { grep -q "the database does not answer" "$MB_TMP/s.out" && mb_ok "status.sh of a server that is down: exit 1"; }
grep -q "$PGH_PASSWORD" "$MB_TMP"/*.out && mb_fail "a script printed the password"

# without the local tools and without a Docker engine: the fix, not a trace
unset MEMORI_LOCAL_BINDIR
PATH=/usr/bin:/bin MEMORI_DB_PASSWORD=x "$scripts/start.sh" >"$MB_TMP/st.out" 2>&1 && mb_fail "start.sh without an engine: exit 0" ||
    { grep -Eq "docker is not installed|the Docker engine is not running" "$MB_TMP/st.out" && mb_ok "start.sh without an engine: says so"; }
PATH=/usr/bin:/bin MEMORI_DB_PASSWORD= "$scripts/start.sh" >"$MB_TMP/st.out" 2>&1 ||
    { grep -q "MEMORI_DB_PASSWORD is not set" "$MB_TMP/st.out" && mb_ok "start.sh without a password: says where to set it"; }
mb_finish
