#!/bin/bash
# Golden tests of the decoder against real wal2json output.
#
#   golden.sh decode   decode the checked-in stream (expected/stream.jsonl) and
#                      compare with the checked-in decodings; needs no server
#   golden.sh live     start a cluster, run setup.sql and workload.sql, capture
#                      the stream with pg_recvlogical, normalize it, and compare
#                      stream and decodings with the checked-in ones, so that a
#                      change in wal2json or PostgreSQL shows up
#   golden.sh update   the same capture, written over the checked-in files
#
# Environment: MB_BRIDGE (the memori-bridge binary), MB_NORMALIZE (the
# w2j_normalize binary), MB_PGH (the harness script). ctest sets them.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
expected=$here/expected
mode=${1:-}
bridge=${MB_BRIDGE:?MB_BRIDGE names the memori-bridge binary}
pgh=${MB_PGH:-$root/tests/harness/pgh}

# The options the bridge streams with, and its pinned session settings.
w2j_options=(-o format-version=2 -o include-xids=1 -o include-lsn=1 -o include-timestamp=1
             -o include-types=1 -o include-type-oids=1 -o 'add-tables=memori.*,golden.*')
session="-c datestyle=ISO -c intervalstyle=postgres -c extra_float_digits=3 -c bytea_output=hex -c timezone=UTC"

tmp=$(mktemp -d)
set_dir=
cleanup() {
    [ -n "$set_dir" ] && "$pgh" stop "$set_dir" >/dev/null 2>&1
    rm -rf "$tmp"
}
trap cleanup EXIT

# decode_all DIR: the three decodings of DIR/stream.jsonl
decode_all() {
    "$bridge" decode "$1/stream.jsonl" >"$1/stream.txt" 2>"$1/stream.summary"
    "$bridge" decode --json "$1/stream.jsonl" >"$1/stream.norm.json" 2>/dev/null
}

# compare DIR: every golden file of DIR against the checked-in one
compare() {
    local f status=0
    for f in stream.jsonl stream.txt stream.norm.json stream.summary; do
        [ -f "$1/$f" ] || continue
        if ! diff -u "$expected/$f" "$1/$f" >"$tmp/diff"; then
            echo "golden: $f differs from tests/golden/expected/$f:"
            head -60 "$tmp/diff"
            status=1
        fi
    done
    return $status
}

capture() {
    local out=$1 psql dsn endpos
    eval "$("$pgh" start --count 1 --owner $$)"
    set_dir=$PGH_SET
    dsn=$PGH_1_DSN
    psql=("$PGH_BINDIR/psql" -X -q -v ON_ERROR_STOP=1 -d "$dsn")
    PGOPTIONS="-c client_min_messages=warning" "${psql[@]}" -f "$root/sql/memori_schema.sql"
    "${psql[@]}" -f "$here/setup.sql" >/dev/null
    "$PGH_BINDIR/pg_recvlogical" -d "$dsn" --slot golden --create-slot -P wal2json
    "${psql[@]}" -f "$here/workload.sql" >/dev/null
    endpos=$("${psql[@]}" -Atc "SELECT pg_current_wal_lsn()")
    PGOPTIONS=$session "$PGH_BINDIR/pg_recvlogical" -d "$dsn" --slot golden --start \
        --endpos "$endpos" --no-loop -f "$tmp/raw.jsonl" "${w2j_options[@]}" 2>"$tmp/recv.err"
    "$MB_NORMALIZE" <"$tmp/raw.jsonl" >"$out/stream.jsonl"
    "$pgh" stop "$set_dir" >/dev/null
    set_dir=

    # Terrain: wal2json drops UPDATE and DELETE on a table without a key,
    # saying so only in a server WARNING.
    local w
    for w in 'no tuple identifier for UPDATE in table "golden"."nopk"' \
             'no tuple identifier for DELETE in table "golden"."nopk"'; do
        if ! grep -qF "$w" "$tmp/recv.err"; then
            echo "golden: expected the server warning [$w]; pg_recvlogical said:"
            cat "$tmp/recv.err"
            return 1
        fi
    done
}

case $mode in
    decode)
        cp "$expected/stream.jsonl" "$tmp/stream.jsonl"
        decode_all "$tmp"
        compare "$tmp" || { echo "golden: the decoder's output changed; if that is intended, run tests/golden/golden.sh update"; exit 1; }
        echo "golden: decoding of $(wc -l <"$expected/stream.jsonl") messages matches"
        ;;
    live)
        : "${MB_NORMALIZE:?MB_NORMALIZE names the w2j_normalize binary}"
        capture "$tmp"
        decode_all "$tmp"
        compare "$tmp" || { echo "golden: the live stream differs (wal2json or PostgreSQL changed?); review, then run tests/golden/golden.sh update"; exit 1; }
        echo "golden: live stream of $(wc -l <"$tmp/stream.jsonl") messages matches"
        ;;
    update)
        : "${MB_NORMALIZE:?MB_NORMALIZE names the w2j_normalize binary}"
        mkdir -p "$expected"
        capture "$tmp"
        decode_all "$tmp"
        cp "$tmp"/stream.jsonl "$tmp"/stream.txt "$tmp"/stream.norm.json "$tmp"/stream.summary "$expected/"
        echo "golden: updated tests/golden/expected ($(wc -l <"$expected/stream.jsonl") messages)"
        ;;
    *)
        echo "usage: golden.sh decode|live|update" >&2
        exit 2
        ;;
esac
