#!/bin/bash
# Decode benchmark: memori-bridge's wal2json decoder against jansson and
# json-c, on the same real memori stream, in the same run.
#
#   bench/decode.sh [BUILD_DIR] [RUNS]      (defaults: build, 5)
#
# Captures the stream with bench/capture.sh when BUILD_DIR has none (or the
# workload changed), then runs each decoder RUNS times over every message and
# prints the medians as a table, with the ratios against the alternatives and
# against the rate at which wal2json emitted the stream.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$here/lib.sh"
build=$(cd "${1:-$here/../build}" && pwd)
runs=${2:-5}
stream=$build/bench/memori-stream.jsonl

for b in w2j jansson jsonc; do
    [ -x "$build/bench/decode_bench_$b" ] ||
        { say "$build/bench/decode_bench_$b missing; build first (cmake --build $build)"; exit 1; }
done
if [ ! -s "$stream" ] || [ "$here/memori_workload.sql" -nt "$stream" ]; then
    bash "$here/capture.sh" "$stream"
fi

results=$work/results
for b in w2j jansson jsonc; do
    say "running $b ($runs runs)"
    "$build/bench/decode_bench_$b" "$stream" "$runs" >>"$results"
done

emit=$(awk '/wal2json_mb_per_s/ { print $2 }' "$stream.meta" 2>/dev/null || echo 0)
awk -v runs="$runs" -v emit="$emit" -v cpu="$(cpu_model)" '
    { name[NR] = $1; sec[NR] = $2; bytes = $3; msgs = $4; changes = $5; cols[NR] = $6 }
    END {
        printf "stream: %d messages, %d row changes, %.1f MB (bench/memori_workload.sql)\n", msgs, changes, bytes / 1e6
        printf "cpu: %s; one thread; median of %d runs\n\n", cpu, runs
        printf "| decoder | MB/s | messages/s | row changes/s | vs jansson | vs json-c |\n"
        printf "|---|---:|---:|---:|---:|---:|\n"
        for (i = 1; i <= NR; i++)
            printf "| %s | %.0f | %.0f | %.0f | %.2fx | %.2fx |\n", name[i], bytes / sec[i] / 1e6,
                   msgs / sec[i], changes / sec[i], sec[2] / sec[i], sec[3] / sec[i]
        if (emit > 0)
            printf "\nwal2json emitted this stream at %.1f MB/s: the decoder runs at %.1fx that rate\n", emit, bytes / sec[1] / 1e6 / emit
        for (i = 2; i <= NR; i++)
            if (cols[i] != cols[1]) { printf "MISMATCH: %s read %d columns, %s %d\n", name[i], cols[i], name[1], cols[1]; exit 1 }
        printf "all decoders read the same %d columns\n", cols[1]
    }' "$results"
