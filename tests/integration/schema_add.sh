#!/bin/bash
# Additive schema changes on the side streamed from, under writers, need no
# operator: the running bridge applies each at its place in the stream and
# the sides end equal (verify, and every table row by row), with each writer
# transaction applied exactly once and no schema stop:
#   - ADD COLUMN with volatile defaults (random(), clock_timestamp()): the
#     rows that were there get the values the streamed side gave them, not
#     their own evaluation; with a stable one (now()) and a constant, NOT NULL;
#   - ADD COLUMN inside the transaction whose inserts and updates use it;
#   - a new table made and filled in one transaction, with its sequence,
#     index and a foreign key;
#   - 50 ADD COLUMN / CREATE TABLE changes interleaved with the writers;
#   - a widened type (varchar(100) to varchar(300)) and a value only the
#     wider one takes;
#   - what only the catalogs show: a new index, a CHECK constraint, a new
#     default, and a column added to a table no change touches since.
# MB_DIRECTION=reverse runs it the other way: the target's schema changes,
# and the bridge applies it into the Supabase source as its postgres role.
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$here/lib.sh"
. "$here/schema_lib.sh"

mb_schema_pair
mb_schema_run
mb_schema_writers
sleep 2

# volatile, stable and constant defaults, on tables the writers change
mb_sql "$FROM" "ALTER TABLE memori.memories ADD COLUMN score double precision DEFAULT random()"
mb_sql "$FROM" "ALTER TABLE memori.entities ADD COLUMN seen_at timestamptz DEFAULT clock_timestamp()"
mb_sql "$FROM" "ALTER TABLE memori.entities ADD COLUMN first_seen timestamptz DEFAULT now()"
mb_sql "$FROM" "ALTER TABLE memori.memories ADD COLUMN tier integer NOT NULL DEFAULT 2"
sleep 1
# a column and the rows that use it, in one transaction
mb_sql "$FROM" "BEGIN;
  ALTER TABLE memori.entities ADD COLUMN label text;
  INSERT INTO memori.entities (user_id, entity_name, label)
      SELECT 'labelled', 'e' || g, 'label ' || g FROM generate_series(1, 20) g;
  UPDATE memori.entities SET label = 'old ' || id WHERE id % 7 = 0;
  COMMIT"
# a table made and filled in one transaction
mb_sql "$FROM" "BEGIN;
  CREATE TABLE memori.notes (id bigserial PRIMARY KEY, entity_id integer REFERENCES memori.entities (id),
                             body text NOT NULL, tags text[] DEFAULT '{}', created timestamptz DEFAULT now());
  CREATE INDEX notes_entity ON memori.notes (entity_id);
  INSERT INTO memori.notes (entity_id, body, tags)
      SELECT id, 'note on ' || entity_name, ARRAY['a', 'b'] FROM memori.entities WHERE id <= 50;
  COMMIT"
# 50 changes interleaved with the writers
for i in $(seq 1 25); do
    if [ $((i % 5)) = 0 ]; then
        mb_sql "$FROM" "ALTER TABLE memori.entities ADD COLUMN extra_$i integer DEFAULT (random() * 1000)::integer"
    else
        mb_sql "$FROM" "ALTER TABLE memori.entities ADD COLUMN extra_$i integer DEFAULT $i"
    fi
    mb_sql "$FROM" "CREATE TABLE memori.t_$i (id integer PRIMARY KEY, v text);
                    INSERT INTO memori.t_$i SELECT g, md5(g::text) FROM generate_series(1, $i) g"
    sleep 0.1
done
# a widened type, and a value only the wider type takes
mb_sql "$FROM" "ALTER TABLE memori.entities ALTER COLUMN entity_type TYPE varchar(300)"
mb_sql "$FROM" "INSERT INTO memori.entities (user_id, entity_name, entity_type) VALUES ('wide', 'wide', repeat('t', 250))"
# only the catalogs show these
mb_sql "$FROM" "CREATE INDEX memories_score ON memori.memories (score)"
mb_sql "$FROM" "ALTER TABLE memori.memories ADD CONSTRAINT memories_tier_positive CHECK (tier > 0)"
mb_sql "$FROM" "ALTER TABLE memori.entities ALTER COLUMN label SET DEFAULT 'none'"
mb_sql "$FROM" "ALTER TABLE memori.conversations ADD COLUMN archived boolean DEFAULT false"
sleep 2
mb_schema_stop_writers
mb_caught_up
kill -0 "$RUN_PID" 2>/dev/null && mb_ok "the bridge streamed through every change" ||
    mb_fail "the bridge exited: $(tail -3 "$BRIDGE_LOG")"

mb_schema_equal
mb_check_writers 0 1
if mb_log_has "schema change on the"; then
    mb_fail "a schema stop: $(grep -m1 'schema change on the' "$BRIDGE_LOG")"
else
    mb_ok "no schema stop"
fi
mb_log_has 'new column "score" of memori.memories: the values of [1-9][0-9]* existing rows copied' &&
    mb_ok "the rows there before score got the $FROM_ROLE's random() values" ||
    mb_fail "score's values were not copied: $(grep -m3 'score' "$BRIDGE_LOG")"
n=$(mb_metric memori_bridge_schema_statements_total)
[ "${n:-0}" -ge 50 ] && mb_ok "$n schema statements applied" || mb_fail "schema statements: ${n:-none}"
[ "$(mb_metric memori_bridge_schema_stopped)" = 0 ] && mb_ok "metrics: not stopped" ||
    mb_fail "metrics: memori_bridge_schema_stopped $(mb_metric memori_bridge_schema_stopped)"
kill -TERM "$RUN_PID"
wait "$RUN_PID" || mb_fail "run exited $?"
mb_finish
