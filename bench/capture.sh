#!/bin/bash
# Capture the memori workload's wal2json stream for the benchmarks.
#
#   bench/capture.sh OUT_FILE
#
# Starts a throwaway cluster (tests/harness/pgh), applies sql/memori_schema.sql,
# creates a wal2json slot, runs bench/memori_workload.sql, and writes the stream
# as pg_recvlogical prints it, with the options and session settings the bridge
# uses, to OUT_FILE, and the rate at which wal2json emitted it to OUT_FILE.meta.
# The data is not kept in the repository: run this instead.
set -euo pipefail
out=${1:?usage: capture.sh OUT_FILE}
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
bench_name=capture
. "$here/lib.sh"

bench_clusters 1

q "$PGH_1_DSN" -f "$root/sql/memori_schema.sql"
"$bin/pg_recvlogical" -d "$PGH_1_DSN" --slot bench --create-slot -P wal2json
say "running bench/memori_workload.sql"
q "$PGH_1_DSN" -f "$here/memori_workload.sql"
endpos=$(qv "$PGH_1_DSN" "SELECT pg_current_wal_lsn()")
say "reading the slot up to $endpos"
t0=$(now)
PGOPTIONS="-c datestyle=ISO -c intervalstyle=postgres -c extra_float_digits=3 -c bytea_output=hex" \
    "$bin/pg_recvlogical" -d "$PGH_1_DSN" --slot bench --start --endpos "$endpos" --no-loop \
    -f "$out.tmp" -o format-version=2 -o include-xids=1 -o include-lsn=1 -o include-timestamp=1 \
    -o include-types=1 -o include-type-oids=1 -o 'add-tables=memori.*'
t1=$(now)
mv "$out.tmp" "$out"
bytes=$(stat -c %s "$out")
# How fast wal2json turned the WAL into this stream (walsender plus
# pg_recvlogical writing it): the rate the decoder must stay far above.
awk -v b="$bytes" -v t0="$t0" -v t1="$t1" 'BEGIN { printf "wal2json_mb_per_s %.1f\n", b / (t1 - t0) / 1e6 }' >"$out.meta"
say "$(wc -l <"$out") messages, $((bytes / 1000000)) MB in $out; $(cat "$out.meta")"
