#!/bin/bash
# init with writers: a source of 1,000,000 memori rows over the four tables,
# and a writer inserting, updating and deleting all through init. Then run
# catches up while the writer goes on, the writer stops, and the target
# equals the source (chunk hashes of every table, computed in each database),
# with each writer's counter showing every number exactly once: nothing
# committed during the copy was lost or applied twice.
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$here/lib.sh"
export PGOPTIONS="-c datestyle=ISO -c timezone=UTC -c extra_float_digits=3 -c bytea_output=hex -c client_min_messages=warning"
rows=${MB_INIT_ROWS:-1000000}

mb_start 2
mb_sql_file "$SRC" "$MB_SOURCE_DIR/sql/memori_schema.sql"
mb_sql_file "$SRC" "$here/crash_setup.sql"
# 40 % memories, 30 % entities, 25 % relationships, 5 % conversations
mb_sql "$SRC" "
INSERT INTO memori.entities (user_id, entity_type, entity_name, content, metadata)
SELECT 'agent-' || g % 13, 'kind', 'entity ' || g, repeat('e', g % 60), jsonb_build_object('g', g)
FROM generate_series(1, $rows * 30 / 100) g;
INSERT INTO memori.relationships (user_id, source_entity_id, target_entity_id, relationship_type)
SELECT 'agent-' || g % 13, g, g + 1, 'knows' FROM generate_series(1, $rows * 25 / 100) g;
INSERT INTO memori.conversations (user_id, session_id, messages)
SELECT 'agent-' || g % 13, 's' || g, jsonb_build_array(jsonb_build_object('text', 'hello ' || g))
FROM generate_series(1, $rows * 5 / 100) g;
INSERT INTO memori.memories (user_id, content, metadata)
SELECT 'agent-' || g % 13, 'memory number ' || g || ' about the user', jsonb_build_object('n', g)
FROM generate_series(1, $rows * 40 / 100) g;
ANALYZE"
total=$(mb_val "$SRC" "SELECT (SELECT count(*) FROM memori.memories) + (SELECT count(*) FROM memori.entities)
                       + (SELECT count(*) FROM memori.relationships) + (SELECT count(*) FROM memori.conversations)")
mb_ok "source holds $total memori rows"

"$PGH_BINDIR/pgbench" -n -c 2 -T 900 -f "$here/crash_writer.pgbench" "$SRC" >"$MB_TMP/pgbench.log" 2>&1 &
writer=$!
MB_BG_PIDS+=("$writer")
sleep 1
before=$(mb_val "$SRC" "SELECT sum(n) FROM crash.counter")
if mb_expect 0 "" init --source "$SRC" --target "$DST" --schemas memori,crash --jobs 2; then
    mb_ok "init while the writer wrote"
fi
during=$(( $(mb_val "$SRC" "SELECT sum(n) FROM crash.counter") - before ))
[ "$during" -gt 0 ] && mb_ok "the writer committed $during transactions during init" ||
    mb_fail "the writer did not write during init"

"$MB_BRIDGE" run --source "$SRC" --target "$DST" --schemas memori,crash --lag-interval 0 >>"$MB_OUT" 2>&1 &
bridge=$!
MB_BG_PIDS+=("$bridge")
sleep 3
kill -0 "$writer" 2>/dev/null || mb_fail "the writer stopped early: $(tail -3 "$MB_TMP/pgbench.log")"
kill "$writer"
wait "$writer" 2>/dev/null
kill -TERM "$bridge"
wait "$bridge" || mb_fail "run exited $?"
if mb_run_to_end --schemas memori,crash; then mb_ok "run caught up"; else mb_fail "run exited $?"; fi

# verify agrees (it computes its own hashes inside each database) ...
if mb_expect 0 "comparing at" verify --source "$SRC" --target "$DST" --schemas memori,crash &&
    grep -q "verdict: equal" "$MB_TMP/out"; then
    mb_ok "verify: equal"
else
    mb_fail "verify: $(cat "$MB_TMP/out")"
fi
# ... and so does the test's own comparison
for t in memories entities relationships conversations; do
    mb_compare "memori.$t" "SELECT id / 20000, count(*), sum(hashtextextended(t::text, 0)) FROM memori.$t t GROUP BY 1 ORDER BY 1"
done
mb_compare crash.log
mb_check_writers 0 1
mb_finish
