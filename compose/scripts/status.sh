#!/bin/bash
# status.sh - is the memori database up, and what does it hold: the container
# and its health, the server's version, wal_level and output plugin
# allow-list (what the reverse stream needs), replication slots, and the rows
# of each memori table. Exit 0 when the database answers, 1 when it does not.
. "$(dirname "$0")/lib.sh"

if ! local_tools; then
    need_engine
    state=$(docker inspect -f '{{.State.Status}}{{if .State.Health}} ({{.State.Health.Status}}){{end}}' "$MEMORI_CONTAINER" 2>/dev/null) ||
        die "container $MEMORI_CONTAINER does not exist; start it with compose/scripts/start.sh"
    say "container $MEMORI_CONTAINER: $state"
fi
report=$(pg_tool psql -X -A -t -v ON_ERROR_STOP=1 -F ' ' -c "
    SELECT 'server', current_setting('server_version')
    UNION ALL SELECT 'database', current_database() || ' (' || pg_size_pretty(pg_database_size(current_database())) || ')'
    UNION ALL SELECT 'wal_level', current_setting('wal_level')
    UNION ALL SELECT 'output_plugin_libraries', coalesce((SELECT setting FROM pg_settings WHERE name = 'output_plugin_libraries'), '(not known to this server: every plugin allowed)')
    UNION ALL SELECT 'slot', slot_name || ' (' || CASE WHEN active THEN 'active' ELSE 'inactive' END || ', retains ' ||
                     pg_size_pretty(coalesce(pg_wal_lsn_diff(pg_current_wal_lsn(), restart_lsn), 0)) || ')'
              FROM pg_replication_slots
    UNION ALL SELECT 'table', format('%I.%I', schemaname, relname) || ': ' || n_live_tup || ' rows (estimate)'
              FROM pg_stat_user_tables WHERE schemaname = 'memori'" 2>&1) ||
    die "the database does not answer: $(echo "$report" | tail -1)"
echo "$report" | sed 's/^/  /'
echo "$report" | grep -q '^table memori\.' || say "warning: no memori tables here (was the schema applied?)"
say "up"
