#!/bin/bash
# run: what the target refuses, and what cannot even start. Each refusal
# stops the bridge with exit 1 and one line that names the table, action,
# key, source transaction and commit LSN, and the server's message; the slot
# keeps the change, and after the fix a second run applies it once.
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$here/lib.sh"

mb_start 2
mb_setup_pair
lsn_re='[0-9A-F]+/[0-9A-F]+'

# refuse EXPECTED_REGEX FIX_SQL: run, expect the refusal, fix, run again, compare
refuse()
{
    local pattern=$1 fix=$2 end slot
    end=$(mb_val "$SRC" "SELECT pg_current_wal_lsn()")
    if mb_expect 1 "$pattern" run --source "$SRC" --target "$DST" --stop-at "$end" --lag-interval 0; then
        mb_ok "refused: $(grep -E 'error: ' "$MB_TMP/err" | tail -1 | cut -c1-160)..."
    fi
    [ "$(grep -c 'error: ' "$MB_TMP/err")" -eq 1 ] || mb_fail "expected one error line, got: $(cat "$MB_TMP/err")"
    slot=$(mb_val "$SRC" "SELECT confirmed_flush_lsn < '$end' FROM pg_replication_slots WHERE slot_name = 'memori_bridge'")
    [ "$slot" = t ] || mb_fail "the slot was confirmed past the refused change"
    mb_sql "$DST" "$fix"
    if mb_run_to_end; then mb_ok "applied after the fix"; else mb_fail "run after the fix exited $?"; fi
}

# a row already on the target: duplicate key
mb_sql "$SRC" "INSERT INTO memori.memories (user_id, content) SELECT 'u', 'm' || g FROM generate_series(1, 20) g"
mb_sql "$DST" "INSERT INTO memori.memories (id, user_id, content) VALUES (7, 'squatter', 'in the way')"
refuse "error: the target refused the insert of memori\\.memories \\(id\\)=\\(7\\) in source transaction [0-9]+ \\(commit $lsn_re\\): duplicate key value violates unique constraint \"memories_pkey\" \\(Key \\(id\\)=\\(7\\) already exists\\.\\); a row with this key already exists on the target" \
    "DELETE FROM memori.memories WHERE user_id = 'squatter'"
mb_compare memori.memories

# a row missing on the target: the UPDATE finds nothing
mb_sql "$DST" "DELETE FROM memori.memories WHERE id = 5"
mb_sql "$SRC" "UPDATE memori.memories SET use_count = 9 WHERE id = 5"
refuse "error: the target refused the update of memori\\.memories \\(id\\)=\\(5\\) in source transaction [0-9]+ \\(commit $lsn_re\\): 0 of 1 rows found on the target; the target has diverged" \
    "INSERT INTO memori.memories (id, user_id, content, content_tsv, created_at, updated_at)
     SELECT 5, 'u', 'm5', to_tsvector('english', 'm5'), created_at, updated_at FROM memori.memories WHERE id = 4"
mb_compare memori.memories "SELECT id, user_id, content, use_count FROM memori.memories ORDER BY id"

# a table missing on the target (renamed there): the bridge cannot tell a
# rename from a new table, and names both
mb_sql "$DST" "ALTER TABLE memori.conversations RENAME TO conversations_away"
mb_sql "$SRC" "INSERT INTO memori.conversations (user_id) VALUES ('c1')"
refuse "error: schema change on the source: table memori\\.conversations is new on the source, and memori\\.conversations_away is on the target only: the bridge cannot tell a rename from a drop and a new table \\(source transaction [0-9]+, commit $lsn_re\\); run on the target: ALTER TABLE \"memori\"\\.\"conversations_away\" RENAME TO \"conversations\" \\(if it was renamed; the rows stay\\), or DROP TABLE" \
    "ALTER TABLE memori.conversations_away RENAME TO conversations"
mb_compare memori.conversations

# a column dropped on the target only: the bridge adds it again, with the
# source's values
mb_sql "$DST" "ALTER TABLE memori.entities DROP COLUMN content"
mb_sql "$SRC" "INSERT INTO memori.entities (user_id, entity_name, content) VALUES ('e', 'n', 'c')"
if mb_run_to_end; then mb_ok "a column dropped on the target only is added again"; else mb_fail "run exited $?"; fi
mb_compare memori.entities "SELECT id, user_id, entity_type, entity_name, content, metadata, created_at FROM memori.entities ORDER BY id"

# a type the source's values do not fit: a stop with the conversion
mb_sql "$DST" "ALTER TABLE memori.relationships ALTER COLUMN relationship_type TYPE integer USING NULL"
mb_sql "$SRC" "INSERT INTO memori.relationships (user_id, source_entity_id, relationship_type) VALUES ('r', 1, 'knows')"
refuse "error: schema change on the source: column \"relationship_type\" of memori\\.relationships is character varying\\(100\\) in the changes, integer on the target: not a widening the bridge follows by itself \\(source transaction [0-9]+, commit $lsn_re\\); run on the target: ALTER TABLE \"memori\"\\.\"relationships\" ALTER COLUMN \"relationship_type\" TYPE character varying\\(100\\) USING" \
    "ALTER TABLE memori.relationships ALTER COLUMN relationship_type TYPE varchar(100)"
mb_compare memori.relationships

# a privilege the applying role lacks (it may set the replica role and
# record its progress, but not update; no replication origin for it)
mb_sql "$DST" "CREATE ROLE applier LOGIN PASSWORD 'applier-pw-1'"
applier="${DST/user=postgres/user=applier}"
applier="${applier/password=* /password=applier-pw-1 }"
mb_expect 1 "role \"applier\" may not use schema memori_bridge on the target \\(owned by \"postgres\", who ran init there\\); run the bridge as that role, or grant, as \"postgres\": GRANT USAGE ON SCHEMA memori_bridge TO \"applier\"; GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA memori_bridge TO \"applier\"" \
    run --source "$SRC" --target "$applier" --lag-interval 0 && mb_ok "no access to the bridge's own schema: named, with the grants"
mb_sql "$DST" "GRANT USAGE ON SCHEMA memori_bridge TO applier;
    GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA memori_bridge TO applier"
if mb_expect 1 "could not set session_replication_role on the target: permission denied to set parameter \"session_replication_role\"; fix, as a superuser \(on a local Supabase: supabase_admin\): GRANT SET ON PARAMETER session_replication_role TO \"applier\"" \
    run --source "$SRC" --target "$applier" --lag-interval 0; then
    mb_ok "missing GRANT SET named"
fi
mb_sql "$DST" "GRANT SET ON PARAMETER session_replication_role TO applier;
    GRANT USAGE ON SCHEMA memori TO applier;
    GRANT SELECT, INSERT, DELETE ON ALL TABLES IN SCHEMA memori TO applier"
mb_sql "$SRC" "UPDATE memori.memories SET category = 'perm' WHERE id = 1"
end=$(mb_val "$SRC" "SELECT pg_current_wal_lsn()")
if mb_expect 1 "error: the target refused the update of memori\\.memories \\(id\\)=\\(1\\) in source transaction [0-9]+ \\(commit $lsn_re\\): permission denied for table memories; grant the target role the privilege" \
    run --source "$SRC" --target "$applier" --stop-at "$end" --lag-interval 0; then
    mb_ok "missing UPDATE privilege named"
fi
if mb_run_to_end; then mb_ok "applied as the owner"; else mb_fail "run as owner exited $?"; fi
mb_compare memori.memories
mb_compare memori.relationships

# cannot start: each a one-line error, exit 1, no password shown
wrong="${SRC/password=* /password=wrong-pw-4711 }"
mb_expect 1 "could not connect to the source \\(host=127\\.0\\.0\\.1 port=[0-9]+ dbname=postgres user=postgres\\): password authentication failed for user \"postgres\"; check the password" \
    run --source "$wrong" --target "$DST" && mb_ok "wrong password named"
grep -q "wrong-pw-4711" "$MB_TMP/err" "$MB_TMP/out" && mb_fail "the wrong password was printed"

port=$(( (PGH_1_PORT % 1000) + 1 ))  # nothing listens on ports below 1024 here
mb_expect 1 "could not connect to the target \\(host=127\\.0\\.0\\.1 port=$port .*Connection refused.*is the server running there" \
    run --source "$SRC" --target "postgresql://postgres:pgh-secret@127.0.0.1:$port/postgres" && mb_ok "unreachable target named"

# the decision record's MEMORI_DATABASE_URL, used as it stands: named, with the fix
mb_expect 2 'the source connection string is not valid: extra key/value separator "=" in URI query parameter: "options"; percent-encode the value in a URI: \?options=-c%20search_path%3Dmemori%2Cpublic' \
    run --source "postgresql://postgres:$PGH_PASSWORD@127.0.0.1:$PGH_1_PORT/postgres?options=-c search_path=memori,public" \
    --target "$DST" && mb_ok "an unencoded options= in a URI: named, with the encoded form"

mb_sql "$SRC" "CREATE ROLE norepl LOGIN PASSWORD 'norepl-pw-1'"
norepl="${SRC/user=postgres/user=norepl}"
norepl="${norepl/password=* /password=norepl-pw-1 }"
mb_expect 1 "(must be superuser or replication role|permission denied to start WAL sender).*ALTER ROLE \"norepl\" WITH REPLICATION" \
    run --source "$norepl" --target "$DST" && mb_ok "missing REPLICATION named"

mb_expect 1 "error: nothing streams into the target yet: no init of slot \"nosuch\" is recorded there; fix: memori-bridge init" \
    run --source "$SRC" --target "$DST" --slot nosuch && mb_ok "a run before init: refused, named"

# a second bridge on the same slot and origin
"$MB_BRIDGE" run --source "$SRC" --target "$DST" --lag-interval 0 >>"$MB_OUT" 2>&1 &
first=$!
MB_BG_PIDS+=("$first")
for _ in $(seq 1 100); do
    [ "$(mb_val "$SRC" "SELECT active FROM pg_replication_slots WHERE slot_name = 'memori_bridge'")" = t ] && break
    sleep 0.1
done
mb_expect 1 "another bridge is (streaming slot|applying through replication origin|applying) \"memori_bridge\" \\(PID [0-9]+ on the (source|target)\\); stop it first" \
    run --source "$SRC" --target "$DST" && mb_ok "second bridge refused"
kill -TERM "$first"
wait "$first"
status=$?
[ "$status" -eq 0 ] && mb_ok "SIGTERM: exit 0" || mb_fail "SIGTERM: exit $status"

# a sequence the target will not take (its MAXVALUE is below the source's
# position): run warns, with the whole sentence, and goes on to the end
mb_sql "$DST" "ALTER SEQUENCE memori.entities_id_seq MAXVALUE 2"
mb_sql "$SRC" "INSERT INTO memori.entities (user_id, entity_name) SELECT 'u', 'e' || g FROM generate_series(1, 5) g"
end=$(mb_val "$SRC" "SELECT pg_current_wal_lsn()")
mb_expect 0 "warning: could not bring the target's sequences up to the source's \\(the line above says which and why\\); cutover sets them exactly while writers are paused, and the streamed rows do not depend on them\$" \
    run --source "$SRC" --target "$DST" --stop-at "$end" --lag-interval 0 &&
    mb_ok "sequences the target refuses: a whole warning, and the run goes on"
grep -q 'could not set sequence memori.entities_id_seq on the target: setval: value 6 is out of bounds' "$MB_TMP/err" ||
    mb_fail "the line before the warning does not name the sequence: $(cat "$MB_TMP/err")"
mb_sql "$DST" "ALTER SEQUENCE memori.entities_id_seq NO MAXVALUE"
mb_compare memori.entities "SELECT id, user_id, entity_name FROM memori.entities ORDER BY 1"

# usage
mb_expect 2 "run: no target connection string; give --target DSN, set MEMORI_BRIDGE_TARGET" \
    run --source "$SRC" && mb_ok "missing target is a usage error"
mb_expect 2 'run: "zz" is not an LSN' run --source "$SRC" --target "$DST" --stop-at zz && mb_ok "bad LSN"
mb_expect 2 'option --group-delay: "soon" is not a duration' run --group-delay soon && mb_ok "bad duration"
mb_finish
