#!/bin/bash
# The command-line contract: exit codes and one-line errors (DESIGN.md,
# "Command line"). Runs the built binary; needs no server.
set -u
bridge=${MB_BRIDGE:?MB_BRIDGE names the memori-bridge binary}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
failures=0

# expect CODE PATTERN CMD...: CMD exits with CODE and its stderr matches PATTERN
expect() {
    local code=$1 pattern=$2
    shift 2
    "$@" >"$tmp/out" 2>"$tmp/err"
    local got=$?
    if [ "$got" -ne "$code" ]; then
        echo "FAIL: '$*' exited $got, expected $code; stderr: $(cat "$tmp/err")"
        failures=$((failures + 1))
    elif [ -n "$pattern" ] && ! grep -qE -- "$pattern" "$tmp/err"; then
        echo "FAIL: '$*' stderr does not match /$pattern/: $(cat "$tmp/err")"
        failures=$((failures + 1))
    else
        echo "ok: $*"
    fi
}

expect 0 "" "$bridge" --help
grep -q "^usage: memori-bridge" "$tmp/out" || { echo "FAIL: --help prints no usage"; failures=$((failures + 1)); }
expect 0 "" "$bridge" --version
grep -qE "^memori-bridge [0-9]+\.[0-9]+\.[0-9]+$" "$tmp/out" || { echo "FAIL: --version: $(cat "$tmp/out")"; failures=$((failures + 1)); }
expect 2 "no command given" "$bridge"
expect 2 'unknown command "frobnicate"' "$bridge" frobnicate
expect 2 'unknown option "--frob"' "$bridge" --frob decode
expect 2 'option "--source" needs a value' "$bridge" decode --source
expect 2 'decode: unknown option "--frob"' "$bridge" decode --frob
expect 2 'more than one file' "$bridge" decode a b
expect 0 "" "$bridge" decode --help

# shared options may stand before or after the command
printf '{"action":"B","xid":1}\n' >"$tmp/one.json"
expect 0 "decoded 1 message: 1 begin" "$bridge" --slot s decode "$tmp/one.json"
expect 0 "decoded 1 message: 1 begin" "$bridge" decode "$tmp/one.json" --schemas=memori --slot x
expect 0 "decoded 1 message" "$bridge" decode - <"$tmp/one.json"
expect 0 "decoded 1 message" "$bridge" decode <"$tmp/one.json"

# bad input: line and byte, non-zero exit, what came before is printed
printf '{"action":"B","xid":1}\n\n{"action":"C","xid":1}\n{"action":"I","xid":2,"schema":"s"\n' >"$tmp/bad.json"
expect 1 '^memori-bridge: error: decode: .*bad.json: line 4, byte 35: expected .,. or .\}., found end of input$' \
    "$bridge" decode "$tmp/bad.json"
[ "$(wc -l <"$tmp/out")" -eq 2 ] || { echo "FAIL: expected the 2 good lines before the error: $(cat "$tmp/out")"; failures=$((failures + 1)); }
printf '{"action":"Q"}\n' >"$tmp/q.json"
expect 1 'line 1, byte 2: unknown action "Q"' "$bridge" decode "$tmp/q.json"
expect 1 'could not open ".*/missing.json": No such file or directory' "$bridge" decode "$tmp/missing.json"

# a last line without a newline still counts; CRLF line ends are accepted
printf '{"action":"B","xid":1}\r\n{"action":"C","xid":1}' >"$tmp/crlf.json"
expect 0 "decoded 2 messages: 1 begin, 1 commit" "$bridge" decode "$tmp/crlf.json"

# --json is one object per line, and it decodes again to the same text
printf '{"action":"I","xid":3,"schema":"memori","table":"memories","columns":[{"name":"id","type":"integer","typeoid":23,"value":1},{"name":"b","type":"bytea","typeoid":17,"value":"00ff"}]}\n' >"$tmp/i.json"
"$bridge" decode --json "$tmp/i.json" >"$tmp/norm.json" 2>/dev/null
"$bridge" decode "$tmp/i.json" >"$tmp/a.txt" 2>/dev/null
"$bridge" decode "$tmp/norm.json" >"$tmp/b.txt" 2>/dev/null
# numbers come back as strings from --json, so compare the values' text only
if ! grep -q "\"value\":\"\\\\\\\\x00ff\"" "$tmp/norm.json"; then
    echo "FAIL: bytea in --json: $(cat "$tmp/norm.json")"; failures=$((failures + 1))
fi
if [ "$(sed "s/'//g" "$tmp/a.txt")" != "$(sed "s/'//g" "$tmp/b.txt")" ]; then
    echo "FAIL: --json does not decode back: $(cat "$tmp/a.txt") vs $(cat "$tmp/b.txt")"; failures=$((failures + 1))
fi

# --config must name a file: a directory or a device is a usage error that
# names the path
expect 2 "configuration file \"$tmp\" is a directory, not a file; give --config the path of a file" \
    "$bridge" --config "$tmp" status
expect 2 'configuration file "/dev/null" is a device or socket, not a file' "$bridge" --config /dev/null status
expect 2 "could not open configuration file \"$tmp/missing.conf\": No such file or directory" \
    "$bridge" --config "$tmp/missing.conf" status
# (a pipe is a file's text too: --config <(...))
expect 2 "status: no target connection string" "$bridge" --config <(printf 'source = host=h\n') status

# A garbage configuration file is told by its line number, never by its
# bytes; a key is named only when it is printable and short. Exactly one
# error line, for the first bad line.
# garbage CODE PATTERN CONTENT: a file holding CONTENT (printf format) is refused so
garbage() {
    printf "$3" >"$tmp/garbage.conf"
    expect "$1" "$2" "$bridge" --config "$tmp/garbage.conf" status
    if LC_ALL=C grep -q '[^ -~]' "$tmp/err"; then
        echo "FAIL: raw bytes echoed: $(od -c "$tmp/err" | head -5)"
        failures=$((failures + 1))
    fi
    if [ "$(grep -c 'error: ' "$tmp/err")" -ne 1 ]; then
        echo "FAIL: expected one error line: $(cat -v "$tmp/err")"
        failures=$((failures + 1))
    fi
}
garbage 2 'garbage.conf:2: not text \(a control character or bytes that are not UTF-8\)' 'slot = s\n\001\002\377\376 = 1\n'
garbage 2 'garbage.conf:2: not text' 'slot = s\nschemas = mem\377ri\n'
garbage 2 'garbage.conf:3: not text \(a NUL byte\)' '# c\nslot = s\n\000\001ELF\n'
garbage 2 'garbage.conf:1: not text' '[\001\377]\nslot = s\n'
garbage 2 'garbage.conf:2: not a setting \(write key = value\)$' 'slot = s\njust some words\n'
garbage 2 'garbage.conf:2: unknown key "nonsense"; memori-bridge --print-config lists the keys$' 'slot = s\nnonsense = 1\n'
garbage 2 'garbage.conf:1: unknown key \(a name not shown\)' "$(printf 'k%.0s' {1..60}) = 1\\n"
garbage 2 'garbage.conf:2: unknown section \(a name not shown\)' "[$(printf 's%.0s' {1..60})]\\nslot = s\\n"
garbage 2 'garbage.conf:1: "many" is not a whole number for jobs$' 'jobs = many\nslot = s\n'
# the first bad line is the one told, whatever kind the later ones are
garbage 2 'garbage.conf:1: not a setting' 'words\nnonsense = 1\n'
garbage 2 'garbage.conf:2: unknown key "nonsense"' 'slot = s\nnonsense = 1\nwords\nother = 2\n'
# a line inih would cut in two is refused whole, by number
garbage 2 'garbage.conf:2: the line is longer than 199 bytes.*MEMORI_BRIDGE_SOURCE' \
    "slot = s\\nsource = host=h password=$(printf 'p%.0s' {1..200})\\n"
expect 2 'option --jobs: the value is not a whole number for jobs$' "$bridge" --jobs $'\001x' status

# settings that contradict each other are refused, both named
expect 2 'error: --reconnect-min 60s is more than --reconnect-max 1s: .*; lower --reconnect-min or raise --reconnect-max \(reconnect_min and reconnect_max in the configuration file\)$' \
    "$bridge" --reconnect-min 60s --reconnect-max 1s status
printf 'reconnect_max = 2s\n' >"$tmp/recon.conf"
expect 2 'error: --reconnect-min 5s is more than --reconnect-max 2s' "$bridge" --config "$tmp/recon.conf" --reconnect-min 5s status
expect 2 'status: no source connection string' "$bridge" --reconnect-min 2s --reconnect-max 2s status
expect 2 '--schemas "memori,,app" lists an empty schema name' "$bridge" --schemas memori,,app status
expect 2 '--schemas "memori, " lists an empty schema name' "$bridge" --schemas 'memori, ' status

# the example configuration is --print-config, and names the settings --help names
"$bridge" --print-config >"$tmp/example" 2>&1
if ! diff -u "${MB_SOURCE_DIR:?}/config/memori-bridge.conf.example" "$tmp/example" >"$tmp/diff"; then
    echo "FAIL: config/memori-bridge.conf.example is out of date; regenerate it with memori-bridge --print-config"
    head -20 "$tmp/diff"
    failures=$((failures + 1))
fi
"$bridge" --help >"$tmp/help"
help_flags=$(sed -n '/^settings/,/^  --help/p' "$tmp/help" | grep -oE '^  --[a-z-]+' | sed 's/^ *//' | grep -v -e '--config' -e '--help' | sort)
example_flags=$(grep -oE '^# flag: --[a-z-]+' "$tmp/example" | sed 's/^# flag: //' | sort)
example_keys=$(grep -oE '^#? ?[a-z_]+ =' "$tmp/example" | grep -oE '[a-z_]+' | tr _ - | sed 's/^/--/' | sort)
if [ -z "$help_flags" ] || [ "$help_flags" != "$example_flags" ] || [ "$help_flags" != "$example_keys" ]; then
    echo "FAIL: --help and the example name different settings:"
    diff <(echo "$help_flags") <(echo "$example_flags")
    diff <(echo "$help_flags") <(echo "$example_keys")
    failures=$((failures + 1))
else
    echo "ok: --help and the example name the same $(echo "$help_flags" | wc -l) settings"
fi

if [ "$failures" -ne 0 ]; then
    echo "$failures failure(s)"
    exit 1
fi
echo "all passed"
