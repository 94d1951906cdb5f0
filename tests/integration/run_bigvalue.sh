#!/bin/bash
# run: large values arrive whole, and one costs the bridge at most twice its
# size as sent plus what a run with no large value takes.
#
# Memory: one row whose content is MB_BIGVALUE_MB (default 40) MB of text,
# with a quote and a newline on each line (which wal2json escapes) and
# characters of two to four bytes. Its peak resident memory (VmHWM, from GNU
# time) may exceed the peak of a run with no large value by twice the value
# as wal2json sends it, plus 4 MiB: libpq's input buffer holds the message,
# and so does the copy PQgetCopyData hands over, which the bridge decodes in
# place and hands to the applier, which sends the value in parts. Sending it
# as one parameter (a third copy in libpq's send buffer), or copying it
# between the reader and the applier, breaks the bound.
#
# Whole: values over 1 MB are staged on the target in parts that must end on
# whole characters (the values are mostly 3- and 4-byte characters): text,
# bytea and jsonb, by INSERT, by UPDATE (a large value changed, and one
# unchanged that wal2json leaves out), and as the identity of a table
# without a key (REPLICA IDENTITY FULL), where UPDATE and DELETE find the
# row by comparing the large value itself. Normal build only: ASan's shadow
# memory would distort the figure.
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$here/lib.sh"
mb=${MB_BIGVALUE_MB:-40}
slack_kb=4096

mb_start 2
mb_setup_pair
for side in "$SRC" "$DST"; do
    mb_sql "$side" "CREATE TABLE memori.big_values (id int PRIMARY KEY, t text, b bytea, j jsonb, n int);
                    CREATE TABLE memori.big_nokey (t text, n int);
                    ALTER TABLE memori.big_nokey REPLICA IDENTITY FULL"
done

# run_measured NAME [ARG...]: run to the end under GNU time, its output in
# $MB_TMP/run.log too; prints the peak in kB.
run_measured()
{
    local end
    end=$(mb_val "$SRC" "SELECT pg_current_wal_lsn()")
    printf '+ memori-bridge run --stop-at %s %s (%s)\n' "$end" "${*:2}" "$1" >>"$MB_OUT"
    /usr/bin/time -f '%M' -o "$MB_TMP/maxrss" \
        "$MB_BRIDGE" run --source "$SRC" --target "$DST" --stop-at "$end" --lag-interval 0 \
        "${@:2}" >"$MB_TMP/run.log" 2>&1 || { cat "$MB_TMP/run.log" >>"$MB_OUT"; mb_die "run ($1) exited $?"; }
    cat "$MB_TMP/run.log" >>"$MB_OUT"
    tail -1 "$MB_TMP/maxrss"
}

# same_value TABLE COLUMN KEY: COLUMN of the row KEY (a WHERE clause) has the
# same length and md5 on both sides.
same_value()
{
    local q="SELECT octet_length($2::text) || ' ' || md5($2::text) FROM $1 WHERE $3" s t
    s=$(mb_val "$SRC" "$q")
    t=$(mb_val "$DST" "$q")
    if [ -n "$s" ] && [ "$s" = "$t" ]; then
        mb_ok "$1.$2 where $3: equal ($s)"
    else
        mb_fail "$1.$2 where $3: the target has \"$t\", the source \"$s\""
    fi
}

mb_sql "$SRC" "INSERT INTO memori.entities (user_id, entity_name, content) VALUES ('t', 'small', 'a short value')"
base_kb=$(run_measured "no large value")

# lines of 960 hex digits, four multi-byte characters, a quote and a newline
mb_sql "$SRC" "INSERT INTO memori.entities (user_id, entity_name, content)
               SELECT 't', 'big', left(string_agg(repeat(md5(g::text), 30) || 'é中😀\"' || E'\\n', ''),
                                       $mb * 1000000)
               FROM generate_series(1, $mb * 1100) g"
sent=$(mb_val "$SRC" "SELECT octet_length(to_json(content)::text) FROM memori.entities WHERE entity_name = 'big'")
peak_kb=$(run_measured "one value of $mb MB")
same_value memori.entities content "entity_name = 'big'"
# the whole message: the value as sent and the rest of the row (under 1 kB)
bound_kb=$((base_kb + 2 * (sent + 1024) / 1024 + slack_kb))
if [ "$peak_kb" -le "$bound_kb" ]; then
    mb_ok "peak $((peak_kb / 1024)) MiB for a value of $((sent / 1048576)) MiB as sent, within $((bound_kb / 1024)) MiB (no large value: $((base_kb / 1024)) MiB, + twice the value + 4 MiB)"
else
    mb_fail "peak $((peak_kb / 1024)) MiB for a value of $((sent / 1048576)) MiB as sent, over $((bound_kb / 1024)) MiB (no large value: $((base_kb / 1024)) MiB, + twice the value + 4 MiB)"
fi

# staged in parts, every which way: 3 MB of three- and four-byte characters
big="repeat('中😀ü', 300000)"
mb_sql "$SRC" "INSERT INTO memori.big_values VALUES
                   (1, $big, convert_to($big, 'UTF8'), jsonb_build_object('v', $big), 0),
                   (2, 'small', '\\x00ff', '{}', 0);
               INSERT INTO memori.big_nokey VALUES ($big, 1), ($big || 'x', 2)"
mb_sql "$SRC" "UPDATE memori.big_values SET t = t || 'more', n = 1 WHERE id = 1;
               UPDATE memori.big_values SET n = 2 WHERE id = 1;
               UPDATE memori.big_values SET b = convert_to($big, 'UTF8') || '\\x00'::bytea WHERE id = 2;
               UPDATE memori.big_nokey SET n = 10 WHERE n = 1;
               DELETE FROM memori.big_nokey WHERE n = 2"
run_measured "values staged in parts" --log-level debug >/dev/null
n=$(grep -c 'prepared mb[0-9]*: .*memori_bridge_staged' "$MB_TMP/run.log")
[ "$n" -ge 3 ] && mb_ok "$n statements read staged values" ||
    mb_fail "$n statements read staged values, expected 3 or more"
for c in t b j n; do
    same_value memori.big_values "$c" "id = 1"
    same_value memori.big_values "$c" "id = 2"
done
same_value memori.big_nokey "t || n" "n = 10"
n=$(mb_val "$DST" "SELECT count(*) FROM memori.big_nokey")
[ "$n" = 1 ] && mb_ok "memori.big_nokey: the row deleted by its large identity is gone" ||
    mb_fail "memori.big_nokey has $n rows on the target, expected 1"
mb_finish
