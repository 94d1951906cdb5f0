#!/bin/bash
# After a cutover the running bridge streams back from the standalone target
# into the Supabase source, as its postgres role. The schema changes on the
# target while applications write there: a column with a volatile default, a
# table made and filled in one transaction (on the fenced source it gets the
# fence too), an index; then a rename stops the stream back, its fix runs on
# the source as postgres, and the stream goes on. A rollback then brings the
# writers back; at the end verify is equal and each writer's acknowledged
# rows are on both sides.
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$here/lib.sh"
. "$here/switch_lib.sh"
. "$here/schema_lib.sh"
MB_SCHEMAS=memori

mb_start 2
mb_switch_setup 2000
mb_start_run --status-interval 500ms
mb_start_writers 0 1
sleep 2
mb_expect 0 "cutover done" cutover || mb_die "cutover failed: $(tail -3 "$MB_TMP/err")"
mb_wait_streaming "$DST" memori_bridge_reverse
FROM=$DST TO=$SRC NAME=memori_bridge_reverse FROM_ROLE=target TO_ROLE=source
sleep 1

mb_sql "$DST" "ALTER TABLE memori.memories ADD COLUMN score double precision DEFAULT random()"
mb_sql "$DST" "BEGIN;
  CREATE TABLE memori.notes (id bigserial PRIMARY KEY, body text NOT NULL, created timestamptz DEFAULT now());
  INSERT INTO memori.notes (body) SELECT 'note ' || g FROM generate_series(1, 30) g;
  COMMIT"
mb_sql "$DST" "CREATE INDEX memories_score ON memori.memories (score)"
mb_caught_up
[ "$(mb_val "$SRC" "SELECT count(*) FROM memori.notes")" = 30 ] &&
    mb_ok "the new table reached the source whole" || mb_fail "notes on the source: $(mb_val "$SRC" "SELECT count(*) FROM memori.notes")"
out=$("${PSQL[@]}" -d "$SRC" -c "INSERT INTO memori.notes (body) VALUES ('on the fenced side')" 2>&1)
[[ "$out" == *"memori is read-only here"* ]] && mb_ok "the new table is fenced on the source" ||
    mb_fail "a write to the new table on the fenced source: $out"

# a rename on the target: the stream back stops, the fix runs as postgres
mb_sql "$DST" "ALTER TABLE memori.entities RENAME COLUMN content TO body"
mb_sql "$DST" "INSERT INTO memori.entities (user_id, entity_name, body) VALUES ('renamed', 'e', 'b')"
stop_statement()
{
    "${PSQL[@]}" -d "$SRC" -Atc "SELECT statement FROM memori_bridge.schema_stop WHERE slot = 'memori_bridge_reverse'" 2>/dev/null |
        grep -q .
}
if mb_wait_for 60 stop_statement; then
    statement=$(mb_val "$SRC" "SELECT statement FROM memori_bridge.schema_stop WHERE slot = 'memori_bridge_reverse'")
    [ "$statement" = 'ALTER TABLE "memori"."entities" RENAME COLUMN "content" TO "body"' ] &&
        mb_ok "the stream back stops with: $statement" || mb_fail "the stop says: $statement"
    mb_sql "$SRC" "$statement"
else
    mb_fail "no stop for the rename: $(tail -3 "$MB_OUT")"
fi
gone() { ! stop_statement; }
mb_wait_for 60 gone && mb_ok "the stream back goes on" || mb_fail "still stopped"
mb_caught_up

mb_expect 0 "rollback done" rollback || mb_fail "rollback failed: $(tail -3 "$MB_TMP/err")"
sleep 2
mb_stop_writers
mb_check_dumps "$SRC" source 0 1
FROM=$SRC TO=$DST NAME=memori_bridge FROM_ROLE=source TO_ROLE=target
mb_caught_up
mb_schema_equal
mb_check_dumps "$DST" target 0 1
kill -TERM "$RUN_PID"
wait "$RUN_PID" || mb_fail "run exited $?"
mb_finish
