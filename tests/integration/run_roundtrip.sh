#!/bin/bash
# run: every memori table, action and column type, and the decoder's hard
# values, streamed by "memori-bridge run" and compared row by row.
#
# Also: the session settings are pinned (both databases default to different
# datestyles, the bridge's environment asks for a third); an UPDATE that
# leaves a TOASTed value alone keeps the target's value; primary-key changes
# move rows; TRUNCATE ... CASCADE arrives as one statement; identity FULL
# tables without a key; generated and identity columns; a second run applies
# nothing twice.
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$here/lib.sh"

mb_start 2
mb_setup_pair "$MB_SOURCE_DIR/tests/golden/setup.sql" "$here/run_setup.sql"
# Terrain: with datestyle 'SQL, DMY' a date of 1 February reads back as
# 2 January on an MDY target, unless both sessions are pinned.
mb_sql "$SRC_ADMIN" "ALTER DATABASE postgres SET datestyle = 'SQL, DMY'"
mb_sql "$DST" "ALTER DATABASE postgres SET datestyle = 'SQL, MDY'"

mb_sql_file "$SRC" "$MB_SOURCE_DIR/tests/golden/workload.sql"
mb_sql_file "$SRC" "$here/run_workload.sql"

if PGOPTIONS='-c datestyle=SQL,DMY' mb_run_to_end --schemas memori,golden; then
    mb_ok "run applied the workload and stopped at the end"
else
    mb_fail "run exited $?"
fi

# Batching never made the target refuse anything (a refusal would show as a
# careful replay in the log).
if grep -q "replaying them one change at a time" "$MB_OUT"; then
    mb_fail "the target refused a batch: $(grep -m1 "replaying" "$MB_OUT")"
fi

# Comparisons read both sides with the same settings.
export PGOPTIONS="-c datestyle=ISO -c timezone=UTC -c extra_float_digits=3 -c bytea_output=hex"
mb_compare_memori
mb_compare golden.nopk
mb_compare golden.gen
mb_compare golden.pair
mb_compare golden.more_types
mb_compare golden.full_nopk "SELECT * FROM golden.full_nopk ORDER BY a, b, c::text, d"
# Terrain: wal2json 2.5 writes NaN and +-Infinity in number columns as null,
# so they arrive as NULL; every other value equal.
special="CASE WHEN %s::text IN ('NaN', 'Infinity', '-Infinity') THEN NULL ELSE %s END"
cols="id, small, big, $(printf "$special" num num), num_scaled, $(printf "$special" f8 f8),
      $(printf "$special" f4 f4), flag, bin, ints, texts, tstz, ts, day, span, doc, raw_json,
      words, uid, code, label, note, huge"
mb_compare golden.types "SELECT $cols FROM golden.types ORDER BY id"
nan=$(mb_val "$DST" "SELECT count(*) FROM golden.types WHERE id = 1 AND num IS NULL AND f8 IS NULL AND f4 IS NULL")
[ "$nan" = 1 ] && mb_ok "NaN and Infinity arrive as NULL (wal2json 2.5)" ||
    mb_fail "expected NaN/Infinity as NULL on the target, got $nan"

day=$(mb_val "$DST" "SELECT to_char(day, 'YYYY-MM-DD') FROM golden.types WHERE id = 1")
[ "$day" = 2024-02-01 ] && mb_ok "1 February stays 1 February" || mb_fail "day arrived as $day"

toast=$(mb_val "$DST" "SELECT session_id, length(messages::text) > 100000 FROM memori.conversations WHERE user_id = 'agent-toast'")
[ "$toast" = "toast-kept|t" ] && mb_ok "unchanged TOAST value kept" || mb_fail "TOAST row: $toast"

moved=$(mb_val "$DST" "SELECT count(*) FILTER (WHERE id = 100001) || '/' || count(*) FILTER (WHERE id = 12) FROM memori.memories")
[ "$moved" = "1/0" ] && mb_ok "primary-key update moved the row" || mb_fail "moved: $moved"

# The progress holds the end of the last transaction, and the slot is not past it.
progress=$(mb_progress "$DST" memori_bridge)
slot=$(mb_val "$SRC" "SELECT confirmed_flush_lsn FROM pg_replication_slots WHERE slot_name = 'memori_bridge'")
ahead=$(mb_val "$SRC" "SELECT '$slot'::pg_lsn > '$progress'::pg_lsn")
[ "$ahead" = f ] && mb_ok "slot confirmed $slot, progress at $progress" ||
    mb_fail "slot confirmed $slot past the durable progress $progress"

# Running again applies nothing twice: more writes, then equal again.
mb_sql "$SRC" "UPDATE memori.memories SET use_count = use_count + 1 WHERE id < 50"
mb_sql "$SRC" "INSERT INTO memori.entities (user_id, entity_name) VALUES ('second', 'run')"
if PGOPTIONS= mb_run_to_end --schemas memori,golden; then
    mb_ok "second run"
else
    mb_fail "second run exited $?"
fi
mb_compare_memori
mb_finish
