/*
 * run_schema.c - the supervisor's side of a stop caused by a schema change.
 *
 * The bridge does not exit on one: the fix is a statement on the applied
 * side, which the operator runs while the process waits, and exiting would
 * take the metrics and the status row away with it. It holds instead: the
 * log says the stop once, the metrics (memori_bridge_schema_stopped) and
 * memori_bridge.schema_stop on the applied side (which status reads) say
 * it for as long as it lasts, and every status interval a new session tries
 * again from the durable progress. Once the target has been fixed the
 * session goes past the transaction it stopped at (or the periodic check no
 * longer finds the difference), the stop is over, and its record goes.
 * `run --stop-at` and the drain of a cutover or rollback cannot get past
 * one, and exit 1 instead.
 */
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "bridge/base/clock.h"
#include "bridge/base/log.h"
#include "bridge/cmd/run_int.h"

static const char stop_table_sql[] =
    "CREATE TABLE IF NOT EXISTS memori_bridge.schema_stop ("
    "  slot text NOT NULL, direction text NOT NULL, table_name text NOT NULL, "
    "  statement text NOT NULL, message text NOT NULL, commit_lsn pg_lsn, "
    "  pid integer, since timestamptz NOT NULL DEFAULT now(), PRIMARY KEY (slot, direction))";

void
run_schema_stopped(struct supervisor *sv, const struct schema_stop *stop)
{
    if (strcmp(sv->schema_logged, stop->message) != 0)
    {
        log_error("%s", stop->message);
        snprintf(sv->schema_logged, sizeof(sv->schema_logged), "%s", stop->message);
    }
    else
        log_debug("still: %s", stop->message);
    schema_stop_set(&sv->st.schema, stop);
}

/* Write the stop in force (or its end) on the applied side, when it moved. */
static void
report(struct supervisor *sv)
{
    struct schema_stop s;
    uint64_t version;
    bool active = schema_stop_get(&sv->st.schema, &s, &version);
    char lsn[LSN_BUFSZ], pid[16];
    const char *params[8] = {
        sv->dir.slot, direction_name(&sv->dir), s.table, s.statement, s.message, NULL, pid, NULL};
    PGresult *res;

    /* (schema_reported is the version written plus one: 0 never, so that the
     * first report clears what a bridge before this one left) */
    if (version + 1 == sv->schema_reported || !run_ensure_tmonitor(sv, false))
        return;
    if (active)
    {
        PQclear(PQexec(sv->tmonitor, "SET client_min_messages = warning"));
        PQclear(PQexec(sv->tmonitor, stop_table_sql));
        snprintf(pid, sizeof(pid), "%d", (int) getpid());
        params[5] = s.commit_lsn != LSN_INVALID ? lsn_format(s.commit_lsn, lsn) : NULL;
        res =
            PQexecParams(sv->tmonitor,
                         "INSERT INTO memori_bridge.schema_stop (slot, direction, table_name, "
                         "  statement, message, commit_lsn, pid) "
                         "VALUES ($1, $2, $3, $4, $5, $6::pg_lsn, $7::int) "
                         "ON CONFLICT (slot, direction) DO UPDATE SET table_name = $3, "
                         "  statement = $4, message = $5, commit_lsn = $6::pg_lsn, pid = $7::int, "
                         "  since = CASE WHEN memori_bridge.schema_stop.message = $5 "
                         "               THEN memori_bridge.schema_stop.since ELSE now() END",
                         7, NULL, params, NULL, NULL, 0);
    }
    else
        res =
            PQexecParams(sv->tmonitor,
                         "DELETE FROM memori_bridge.schema_stop WHERE slot = $1 AND direction = $2 "
                         "  AND pg_catalog.to_regclass('memori_bridge.schema_stop') IS NOT NULL",
                         2, NULL, params, NULL, NULL, 0);
    /* (the end of a stop never recorded there is recorded enough) */
    if (PQresultStatus(res) == PGRES_COMMAND_OK || !active)
        sv->schema_reported = version + 1;
    else
        log_debug("could not record the schema stop on the %s: %s", sv->dir.to_role,
                  PQresultErrorMessage(res));
    PQclear(res);
}

void
run_schema_watch(struct supervisor *sv)
{
    struct schema_stop s;

    if (schema_stop_get(&sv->st.schema, &s, NULL) && s.commit_lsn != LSN_INVALID &&
        atomic_load(&sv->st.applied) > s.commit_lsn)
    {
        log_info("the %s has what the schema change needed: the transaction the stream stopped "
                 "at is applied, going on",
                 sv->dir.to_role);
        schema_stop_set(&sv->st.schema, NULL);
        sv->schema_logged[0] = '\0';
    }
    report(sv);
}

bool
run_schema_hold(struct supervisor *sv)
{
    int64_t until = clock_now_us() + sv->conf->status_interval_ms * 1000;

    atomic_store(&sv->st.streaming, false);
    while (clock_now_us() < until)
    {
        struct pollfd fd = {sv->sig_fd, POLLIN, 0};
        struct signalfd_siginfo si;

        if (poll(&fd, 1, 250) > 0 && read(sv->sig_fd, &si, sizeof(si)) == (ssize_t) sizeof(si))
        {
            log_info("received a stop signal while holding for a schema change: stopping");
            sv->signalled = true;
            return false;
        }
        run_sample(sv);
        report(sv);
    }
    return true;
}
