#!/bin/bash
# One large value: the peak resident memory of `memori-bridge run` while it
# streams a single row whose text value is MB_BIGVALUE_MB MB, next to the
# same for a 30 MB value and for a run with no large value at all (what the
# bridge holds whatever the data: libraries, the ring, the statement cache).
#
#   bench/bigvalue.sh [BUILD_DIR]          (default: build)
#
# Knobs (environment):
#   MB_BIGVALUE_MB   the large value, in MB (10^6 bytes; default 300)
#   MB_BRIDGE        the binary (default BUILD_DIR/bridge/memori-bridge)
#   MB_BENCH_SOURCE_PROFILE  supabase (default) or superuser, as for replication.sh
#
# How it measures. Two throwaway clusters (tests/harness/pgh), the memori
# schema on both, a wal2json slot on the source and the target made ready for
# it as init would leave it. For each value: one INSERT into
# memori.entities whose content is that many bytes of text (md5 hex in lines
# of 1,000 characters, each with a quote and a newline, which wal2json
# escapes), then `memori-bridge run --stop-at END` under GNU time, whose
# maximum resident set size is the process's peak (VmHWM). Each value gets a
# run of its own, so each peak is that value's. The row on the target must
# have the source's length and md5. The goal (issue 12): the peak stays
# within 2x the value plus a constant; the constant is the first row's peak.
# The table also sets the peak against the value as wal2json sends it (JSON-
# escaped: here 0.2 % longer): libpq holds each message twice when it hands
# it over (its input buffer, which it never shrinks, and the copy it returns),
# so 2x that plus the constant is the floor (docs/DESIGN.md, "Memory").
# Takes under a minute for 300 MB on the 2-core reference machine.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$here/lib.sh"
bench_build "${1:-}"
big_mb=${MB_BIGVALUE_MB:-300}
[[ $big_mb =~ ^[0-9]+$ ]] && [ "$big_mb" -gt 0 ] && [ "$big_mb" -le 900 ] ||
    die "MB_BIGVALUE_MB must be a whole number of MB from 1 to 900, not \"$big_mb\""
bench_bridge_built run || die "$bridge_skip"
[ -x /usr/bin/time ] || die "GNU time (/usr/bin/time) is needed to measure the peak; scripts/install-deps.sh installs it"
bench_profile
bench_busy

bench_source_clusters 2
export PGPASSWORD=$PGH_PASSWORD
SRC=$(dsn "$PGH_1_PORT")
TGT=$(dsn "$PGH_2_PORT")
q "$SRC" -f "$root/sql/memori_schema.sql" >/dev/null
q "$TGT" -f "$root/sql/memori_schema.sql" >/dev/null
q "$TGT" -f "$root/sql/memori_bridge.sql" >/dev/null
start=$(qv "$SRC" "SELECT lsn FROM pg_create_logical_replication_slot('memori_bridge', 'wal2json')")
q "$TGT" -c "INSERT INTO memori_bridge.progress (slot, end_lsn) VALUES ('memori_bridge', '$start')" \
    -c "INSERT INTO memori_bridge.init_state (slot, phase, consistent_point, schemas, finished_at)
        VALUES ('memori_bridge', 'done', '$start', 'memori', now())" >/dev/null

# A value of MB*10^6 bytes: lines of 999 characters of md5 hex with one quote,
# and a newline.
value_sql()
{
    printf "SELECT left(string_agg(left(repeat(md5(g::text), 32), 998) || '\"' || E'\\\\n', ''), %s)
            FROM generate_series(1, %s) g" "$(($1 * 1000000))" "$(($1 * 1000 + 1))"
}

# Insert one row with a value of MB MB (0: a short one), stream it with the
# bridge, and print "MB peak_kb".
measure()
{
    local mb=$1 id end kb s t
    if [ "$mb" -gt 0 ]; then
        id=$(qv "$SRC" "INSERT INTO memori.entities (user_id, entity_name, content)
                        SELECT 'bench', 'big-$mb', v FROM ($(value_sql "$mb")) s(v) RETURNING id")
    else
        id=$(qv "$SRC" "INSERT INTO memori.entities (user_id, entity_name, content)
                        VALUES ('bench', 'small', 'a short value') RETURNING id")
    fi
    end=$(qv "$SRC" "SELECT pg_current_wal_lsn()")
    /usr/bin/time -f '%M' -o "$work/maxrss" \
        "$bridge" run --source "$SRC" --target "$TGT" --stop-at "$end" >"$work/run-$mb.log" 2>&1 ||
        { sed 's/^/    /' "$work/run-$mb.log" >&2; die "memori-bridge run exited with status $? (its output is above)"; }
    kb=$(tail -1 "$work/maxrss")
    s=$(qv "$SRC" "SELECT octet_length(content) || ' ' || md5(content) FROM memori.entities WHERE id = $id")
    t=$(qv "$TGT" "SELECT octet_length(content) || ' ' || md5(content) FROM memori.entities WHERE id = $id")
    [ "$s" = "$t" ] || die "row $id differs on the target: $t, the source has $s"
    sent=$(qv "$SRC" "SELECT octet_length(to_json(content)::text) FROM memori.entities WHERE id = $id")
    echo "$mb $kb ${s%% *} $sent"
}

say "cpu: $(cpu_cores); $(pg_version); wal2json $(wal2json_version); source: $profile profile"
read -r _ base_kb < <(measure 0)
say "no large value: peak $((base_kb / 1024)) MiB"
results=()
for mb in 30 "$big_mb"; do
    read -r _ kb len sent < <(measure "$mb")
    results+=("$mb $kb $len $sent")
    say "$mb MB value: peak $((kb / 1024)) MiB"
done

echo
echo "## One large value: memori-bridge run's peak memory"
echo
echo "cpu: $(cpu_cores); $(pg_version); wal2json $(wal2json_version)"
echo "machine: ${busy_before}% busy in the 2 s before the run; load average at the end: $(load3)"
echo "command: MB_BENCH_SOURCE_PROFILE=$profile ${MB_BRIDGE:+MB_BRIDGE=$MB_BRIDGE }MB_BIGVALUE_MB=$big_mb bench/bigvalue.sh $build_arg"
echo
echo "One INSERT into memori.entities whose content is the value (text; every target row"
echo "checked: length and md5 equal to the source's). Peak: the run's maximum resident set"
echo "size (GNU time). Constant: the peak with no large value ($((base_kb / 1024)) MiB). Sent: the"
echo "value as wal2json sends it, JSON-escaped. The goal: peak within 2x the value plus the"
echo "constant; the floor: 2x the message, which libpq holds twice as it hands it over."
echo
echo "| value | sent | peak | (peak - constant) / value | (peak - constant) / sent | within 2x value + constant | within 2x sent + 1 MB + constant |"
echo "|---:|---:|---:|---:|---:|---|---|"
for r in "${results[@]}"; do
    read -r mb kb len sent <<<"$r"
    awk -v len="$len" -v sent="$sent" -v kb="$kb" -v base="$base_kb" 'BEGIN {
        peak = kb * 1024; b = base * 1024
        printf "| %.1f MB | %.1f MB | %.1f MB | %.3f | %.3f | %s (%+.1f MB) | %s |\n", len / 1e6,
               sent / 1e6, peak / 1e6, (peak - b) / len, (peak - b) / sent,
               (peak <= 2 * len + b ? "yes" : "no"), (peak - 2 * len - b) / 1e6,
               (peak <= 2 * sent + 1e6 + b ? "yes" : "no") }'
done
