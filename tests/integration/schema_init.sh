#!/bin/bash
# DDL on the source during init's copy, under a writer: a column added with a
# volatile default (a rewrite of the table, which would show the copy's older
# snapshot an empty table), one with a constant default, and a new table made
# and filled. init holds the tables against DDL until it has copied them
# (DDL waits; writers do not), so the copy has every row; the stream then
# carries the DDL's effects, which run follows. The sides end equal, with
# every writer transaction exactly once.
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$here/lib.sh"
. "$here/schema_lib.sh"
rows=${MB_INIT_ROWS:-400000}

mb_start 2
mb_direction forward
FROM_ROLE=source TO_ROLE=target
mb_sql_file "$SRC" "$MB_SOURCE_DIR/sql/memori_schema.sql"
mb_sql_file "$SRC" "$here/crash_setup.sql"
mb_sql "$SRC" "INSERT INTO memori.entities (user_id, entity_type, entity_name, content)
               SELECT 'agent-' || g % 13, 'kind', 'entity ' || g, repeat('e', 100 + g % 50)
               FROM generate_series(1, $rows) g;
               INSERT INTO memori.memories (user_id, content)
               SELECT 'agent-' || g % 13, 'memory ' || g FROM generate_series(1, 2000) g;
               ANALYZE"
mb_schema_writers
sleep 1

"$MB_BRIDGE" init --source "$SRC" --target "$DST" --schemas memori,crash --jobs 1 >>"$BRIDGE_LOG" 2>&1 &
init=$!
MB_BG_PIDS+=("$init")
mb_wait_for 120 mb_log_has "holding the source's tables against DDL" ||
    mb_die "init did not get to its copy: $(tail -5 "$BRIDGE_LOG")"
# the DDL, while the copy runs (it waits for the copy to have read the tables)
"${PSQL[@]}" -d "$SRC" -c "ALTER TABLE memori.entities ADD COLUMN score double precision DEFAULT random()" \
    >"$MB_TMP/ddl1.log" 2>&1 &
ddl1=$!
"${PSQL[@]}" -d "$SRC" -c "ALTER TABLE memori.memories ADD COLUMN tier integer NOT NULL DEFAULT 3" \
    >"$MB_TMP/ddl2.log" 2>&1 &
ddl2=$!
mb_sql "$SRC" "BEGIN; CREATE TABLE memori.during (id integer PRIMARY KEY, v text);
               INSERT INTO memori.during SELECT g, 'v' || g FROM generate_series(1, 100) g; COMMIT"
if wait "$init"; then
    mb_ok "init copied while the DDL waited"
else
    mb_fail "init exited $?: $(grep error "$BRIDGE_LOG")"
fi
wait "$ddl1" && wait "$ddl2" && mb_ok "the DDL ran once the copy had read the tables" ||
    mb_fail "the DDL failed: $(cat "$MB_TMP"/ddl*.log)"
copied=$(mb_val "$DST" "SELECT count(*) FROM memori.entities")
[ "$copied" -ge "$rows" ] && mb_ok "the copy has all $copied entities" ||
    mb_fail "the copy has $copied entities of $rows and more"

mb_schema_run
sleep 3
mb_schema_stop_writers
mb_caught_up
mb_schema_equal
mb_check_writers 0 1
kill -TERM "$RUN_PID"
wait "$RUN_PID" || mb_fail "run exited $?"
mb_finish
