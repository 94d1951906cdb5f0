#!/bin/bash
# layers.sh [--self-test] [ROOT] - the module rules of docs/DESIGN.md ("Module
# map") that linking cannot check by itself. Each layer of bridge/ is a
# library that links only the layers below it (bridge/CMakeLists.txt), so a
# call upwards fails to link; this checks the headers and the exits:
#   1. a file includes headers of its own layer and the layers below only:
#      decoder < base < pg < streaming < cmd < main.c;
#   2. decoder/ includes system headers and its own, nothing of bridge/, and
#      links no library;
#   3. the reader and the applier meet only at the ring: the reader's side
#      (stream, reader) includes nothing of the applier's (apply*, pipeline,
#      stmt*), nor the reverse;
#   4. only bridge/main.c calls exit(); a forked child that cannot return ends
#      with _exit(), which is allowed;
#   5. a module's private header (NAME_int.h) is included by its own files
#      (NAME.c, NAME_*.c) only.
# Every breach is one line naming the file, the line and the rule; exit 1.
# --self-test copies the tree, makes one breach of each rule in turn, and
# checks that each is caught and named (a check that cannot fail is no check).
set -uo pipefail

rank()
{
    case "$1" in
        decoder) echo 0 ;;
        base) echo 1 ;;
        pg) echo 2 ;;
        streaming) echo 3 ;;
        cmd) echo 4 ;;
        main) echo 5 ;;
        *) echo -1 ;;
    esac
}

# check ROOT: prints breaches, returns 1 when there is one
check()
{
    local root=$1 bad=0 f layer own inc n
    for f in "$root"/bridge/*/*.[ch] "$root"/bridge/main.c; do
        [ -e "$f" ] || continue
        case "$f" in
            "$root"/bridge/main.c) layer=main ;;
            *) layer=$(basename "$(dirname "$f")") ;;
        esac
        own=$(rank "$layer")
        if [ "$own" -lt 0 ]; then
            echo "${f#"$root"/}: not in a layer folder (base, pg, streaming, cmd)"
            bad=1
            continue
        fi
        while IFS=: read -r n inc; do
            inc=${inc#*\"}
            inc=${inc%%\"*}
            case "$inc" in
                decoder/*) continue ;;
                bridge/*/*) ;;
                *) echo "${f#"$root"/}:$n: includes \"$inc\", which is in no layer"; bad=1; continue ;;
            esac
            local l=${inc#bridge/}
            l=${l%%/*}
            if [ "$(rank "$l")" -lt 0 ] || [ "$(rank "$l")" -gt "$own" ]; then
                echo "${f#"$root"/}:$n: the $layer layer includes \"$inc\" of the $l layer above it"
                bad=1
            fi
            # a module's private header: for its own files only
            if [[ $inc == *_int.h ]]; then
                local mod=${inc##*/}
                mod=${mod%_int.h}
                case "$(basename "$f")" in
                    "$mod".* | "$mod"_*) ;;
                    *) echo "${f#"$root"/}:$n: includes \"$inc\", the private header of $mod"; bad=1 ;;
                esac
            fi
        done < <(grep -n '^#include "' "$f")
        if [ "$layer" != main ] && grep -nE '(^|[^_[:alnum:]])(exit|quick_exit)[[:space:]]*\(' "$f" >/dev/null; then
            grep -nE '(^|[^_[:alnum:]])(exit|quick_exit)[[:space:]]*\(' "$f" | while IFS=: read -r n _; do
                echo "${f#"$root"/}:$n: calls exit(); only main exits (return the failure upwards)"
            done
            bad=1
        fi
    done
    for f in "$root"/decoder/*.[ch]; do
        [ -e "$f" ] || continue
        while IFS=: read -r n inc; do
            inc=${inc#*\"}
            inc=${inc%%\"*}
            case "$inc" in
                decoder/*) ;;
                *) echo "${f#"$root"/}:$n: the decoder includes \"$inc\"; it depends on libc alone"; bad=1 ;;
            esac
        done < <(grep -n '^#include "' "$f")
    done
    if grep -n 'target_link_libraries' "$root/decoder/CMakeLists.txt" >/dev/null 2>&1; then
        echo "decoder/CMakeLists.txt:$(grep -n 'target_link_libraries' "$root/decoder/CMakeLists.txt" | cut -d: -f1 | head -1): the decoder links a library; it depends on libc alone"
        bad=1
    fi
    # the reader's side and the applier's side of the ring
    local reader='stream|reader' applier='apply|apply_int|pipeline|stmt|stmt_int'
    for f in "$root"/bridge/streaming/*.[ch]; do
        [ -e "$f" ] || continue
        local base side other
        base=$(basename "$f")
        base=${base%.*}
        if [[ $base =~ ^($reader)$ ]]; then
            side=reader other=$applier
        elif [[ $base =~ ^(apply|apply_.*|pipeline|stmt|stmt_.*)$ ]]; then
            side=applier other=$reader
        else
            continue
        fi
        while IFS=: read -r n inc; do
            inc=${inc#*\"}
            inc=${inc%%\"*}
            if [[ $inc =~ ^bridge/streaming/($other)\.h$ ]]; then
                echo "${f#"$root"/}:$n: the $side includes \"$inc\" of the other side; the reader and the applier meet only at the ring"
                bad=1
            fi
        done < <(grep -n '^#include "' "$f")
    done
    return $bad
}

self_test()
{
    local src=$1 tmp failures=0
    tmp=$(mktemp -d)
    trap 'rm -rf "$tmp"' RETURN
    # breach FILE LINE WANT: add LINE to FILE, expect WANT in the report
    breach()
    {
        local file=$1 line=$2 want=$3 out
        rm -rf "$tmp/t"
        mkdir -p "$tmp/t"
        cp -r "$src/bridge" "$src/decoder" "$tmp/t/"
        printf '%s\n' "$line" >>"$tmp/t/$file"
        if out=$(check "$tmp/t"); then
            echo "FAIL: $file + '$line' was not caught"
            failures=$((failures + 1))
        elif ! grep -qF -- "$want" <<<"$out"; then
            echo "FAIL: $file + '$line': the report does not say \"$want\": $out"
            failures=$((failures + 1))
        else
            echo "ok: caught: $(grep -F -- "$want" <<<"$out" | head -1)"
        fi
    }
    if ! out=$(check "$src"); then
        echo "FAIL: the tree itself breaks a rule: $out"
        return 1
    fi
    breach bridge/base/log.c '#include "bridge/cmd/run.h"' 'the base layer includes "bridge/cmd/run.h" of the cmd layer above it'
    breach bridge/pg/fence.c '#include "bridge/streaming/apply.h"' 'the pg layer includes "bridge/streaming/apply.h"'
    breach bridge/streaming/reader.c '#include "bridge/streaming/apply.h"' 'the reader includes "bridge/streaming/apply.h" of the other side'
    breach bridge/streaming/apply.c '#include "bridge/streaming/reader.h"' 'the applier includes "bridge/streaming/reader.h" of the other side'
    breach bridge/streaming/apply_group.c '#include "bridge/streaming/stream.h"' 'the applier includes "bridge/streaming/stream.h"'
    breach bridge/pg/copy.c 'static void die(void) { exit(1); }' 'calls exit(); only main exits'
    breach bridge/cmd/init.c 'static void die(void) { exit (2); }' 'calls exit(); only main exits'
    breach decoder/w2j.c '#include "bridge/base/log.h"' 'the decoder includes "bridge/base/log.h"'
    breach bridge/cmd/status.c '#include "bridge/streaming/apply_int.h"' 'the private header of apply'
    breach decoder/CMakeLists.txt 'target_link_libraries(w2j PUBLIC m)' 'the decoder links a library'
    [ "$failures" -eq 0 ] && echo "layers self-test: every breach caught"
    return $((failures > 0))
}

self=0
if [ "${1:-}" = --self-test ]; then
    self=1
    shift
fi
root=${1:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
if [ "$self" = 1 ]; then
    self_test "$root"
    exit $?
fi
if out=$(check "$root"); then
    echo "layers: every file keeps to its layer; only main exits"
    exit 0
fi
printf '%s\n' "$out"
echo "layers: $(printf '%s\n' "$out" | wc -l) breach(es) of the module rules (docs/DESIGN.md, \"Module map\")"
exit 1
