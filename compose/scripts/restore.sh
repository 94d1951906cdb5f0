#!/bin/bash
# restore.sh FILE --yes - replace the memori database's objects with those of
# a backup.sh dump, in one transaction: on any error nothing changes.
# pg_restore runs inside the container (its version is the server's). Stop
# the applications (and memori-bridge) first: open transactions on these
# tables make it wait.
. "$(dirname "$0")/lib.sh"

file=
yes=false
for arg in "$@"; do
    case "$arg" in
        --yes) yes=true ;;
        -*) die "unknown option $arg; usage: restore.sh FILE --yes" ;;
        *) [ -z "$file" ] || die "usage: restore.sh FILE --yes"; file=$arg ;;
    esac
done
[ -n "$file" ] || die "usage: restore.sh FILE --yes (FILE from backup.sh)"
[ -f "$file" ] || die "$file does not exist"
$yes || die "this replaces what $(db_name) holds with $file; run again with --yes to go ahead"
if ! pg_tool pg_restore --list <"$file" >/dev/null 2>&1; then
    die "$file is not a backup.sh dump (pg_restore cannot read it)"
fi
if ! pg_tool pg_restore --clean --if-exists --single-transaction --exit-on-error --no-password \
    -d "$(db_name)" <"$file"; then
    die "pg_restore into $(db_name) failed (above); the database is as it was"
fi
say "restored $(db_name) from $file"
