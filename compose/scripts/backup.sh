#!/bin/bash
# backup.sh [FILE] - dump the memori database (pg_dump, custom format) to
# FILE, by default compose/backups/memori_YYYYmmdd_HHMMSS.dump. pg_dump runs
# inside the container, so its version is the server's. A failed dump leaves
# no file behind.
. "$(dirname "$0")/lib.sh"

[ $# -le 1 ] || die "usage: backup.sh [FILE]"
mkdir -p "$MEMORI_BACKUP_DIR"
file=${1:-$MEMORI_BACKUP_DIR/memori_$(date +%Y%m%d_%H%M%S).dump}
tmp="$file.partial"
trap 'rm -f "$tmp"' EXIT
if ! pg_tool pg_dump --format=custom --no-password >"$tmp"; then
    die "pg_dump of $(db_name) failed (above); nothing was written"
fi
[ -s "$tmp" ] || die "pg_dump of $(db_name) wrote nothing; nothing was written"
mv "$tmp" "$file"
trap - EXIT
say "saved $(db_name) to $file ($(du -h "$file" | cut -f1))"
