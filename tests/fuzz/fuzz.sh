#!/bin/bash
# Run the decoder's libFuzzer target for SECONDS (default 30), seeded with
# every message of the golden stream. The corpus it grows is kept in CORPUS
# (default: fuzz-corpus next to the binary) for the next run. Exits non-zero
# when libFuzzer finds a crash, leak, timeout or sanitizer report; the
# reproducer is left in ARTIFACTS (default: the binary's directory).
#
#   fuzz.sh FUZZ_BINARY [SECONDS] [CORPUS]
set -euo pipefail
bin=${1:?usage: fuzz.sh FUZZ_BINARY [SECONDS] [CORPUS]}
seconds=${2:-30}
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
corpus=${3:-$(dirname "$bin")/fuzz-corpus}
artifacts=$(dirname "$bin")/
seeds=$(mktemp -d)
trap 'rm -rf "$seeds"' EXIT

mkdir -p "$corpus"
# one seed per golden message
n=0
while IFS= read -r line; do
    n=$((n + 1))
    printf '%s' "$line" >"$seeds/golden-$n"
done <"$here/../golden/expected/stream.jsonl"

echo "fuzz: $bin for ${seconds}s, $n seeds, corpus $corpus"
"$bin" -max_total_time="$seconds" -max_len=65536 -timeout=10 -rss_limit_mb=2048 \
    -dict="$here/w2j.dict" -artifact_prefix="$artifacts" -print_final_stats=1 \
    "$corpus" "$seeds" 2>&1 | tail -25
status=${PIPESTATUS[0]}
if [ "$status" -ne 0 ]; then
    echo "fuzz: libFuzzer found a problem (exit $status); reproducer in $artifacts"
    exit 1
fi
echo "fuzz: no finding in ${seconds}s"
