/*
 * verify_point.c - the one point verify compares source and target at.
 *
 * The point is the consistent point L of a temporary slot created with an
 * exported snapshot: the snapshot shows every transaction that committed
 * before L and none after. The side applied to must show the same ones:
 *   - a bridge streaming the slot is asked (memori_bridge.verify_pause, and a
 *     NOTIFY) to apply everything before L and hold still there; if it was
 *     already past L, a new temporary slot gives a new L;
 *   - with no bridge running, the slot itself must hold no change the side
 *     applied to lacks (peeked, not consumed); otherwise writers are at work
 *     and there is no one point to compare at: verify says so and exits 1.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bridge/base/clock.h"
#include "bridge/base/log.h"
#include "bridge/cmd/verify_int.h"
#include "bridge/pg/progress.h"

#define MAX_RETRIES 3

extern const char bridge_objects_sql[];

static bool
make_point(struct verify *v)
{
    static unsigned attempt; /* the server drops a closed connection's
                              * temporary slot a moment later: a new name
                              * for each point taken */
    char cmd[256];
    PGresult *res;

    verify_close(v->repl); /* a temporary slot goes with its connection */
    v->repl = verify_connect(v, v->dir.from_dsn, v->dir.from_role, PGCONN_REPLICATION);
    if (v->repl == NULL)
        return false;
    atomic_store(&v->step, "taking a snapshot (a temporary slot)");
    atomic_store(&v->table, NULL);
    snprintf(cmd, sizeof(cmd),
             "CREATE_REPLICATION_SLOT \"memori_bridge_verify_%d_%u\" TEMPORARY LOGICAL "
             "wal2json EXPORT_SNAPSHOT",
             (int) getpid(), attempt++);
    res = PQexec(v->repl, cmd);
    if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1)
    {
        char msg[1024];

        log_error("could not take a snapshot of the %s (a temporary slot): %s", v->dir.from_role,
                  pgconn_error(v->repl, res, msg, sizeof(msg)));
        PQclear(res);
        return false;
    }
    snprintf(v->point, sizeof(v->point), "%s", PQgetvalue(res, 0, 1));
    snprintf(v->snapshot, sizeof(v->snapshot), "%s", PQgetvalue(res, 0, 2));
    PQclear(res);
    return true;
}

/* Ask the bridge that streams the slot to hold at v->point. Sets *PAST when
 * it had gone beyond it already. */
static bool
pause_bridge(struct verify *v, bool *past)
{
    const char *params[3] = {v->token, v->dir.slot, v->point};
    int64_t start = clock_now_us(), last_note = start;
    int moves = 0;

    *past = false;
    snprintf(v->token, sizeof(v->token), "verify-%d-%lld", (int) getpid(), (long long) time(NULL));
    if (!pgconn_script(v->dst,
                       vmsg(v, "could not create the bridge's objects on the %s", v->dir.to_role),
                       bridge_objects_sql) ||
        !ok(v->dst, "could not ask the bridge to pause",
            "INSERT INTO memori_bridge.verify_pause (token, slot, pause_at, holder_pid) "
            "VALUES ($1, $2, $3::pg_lsn, pg_catalog.pg_backend_pid())",
            3, params) ||
        !ok(v->dst, "could not ask the bridge to pause",
            "SELECT pg_catalog.pg_notify('memori_bridge', $1)", 1, params))
        return false;
    log_info("asked the running bridge to pause at %s", v->point);
    atomic_store(&v->step, "waiting for the running bridge to pause");
    for (;;)
    {
        PGresult *res =
            q(v->dst, "could not read the bridge's answer",
              "SELECT state, coalesce(applied::text, '') FROM memori_bridge.verify_pause "
              "WHERE token = $1",
              1, params);
        int64_t now = clock_now_us();
        char state[16] = "";

        if (res == NULL || atomic_load(&v->expired))
        {
            PQclear(res);
            return false;
        }
        if (PQntuples(res) == 1)
            snprintf(state, sizeof(state), "%s", PQgetvalue(res, 0, 0));
        PQclear(res);
        if (strcmp(state, "paused") == 0)
            return true;
        if (strcmp(state, "past") == 0)
        {
            /* it had applied beyond our point before it saw the request, and
             * holds where it is: a point taken now is ahead of it */
            if (++moves > MAX_RETRIES)
            {
                *past = true;
                return true;
            }
            log_info("the bridge was already past %s and holds there; taking a later point",
                     v->point);
            if (!make_point(v) ||
                !ok(v->dst, "could not move the pause point",
                    "UPDATE memori_bridge.verify_pause SET pause_at = $3::pg_lsn, "
                    "state = 'requested', updated_at = now() WHERE token = $1 AND slot = $2",
                    3, params) ||
                !ok(v->dst, "could not move the pause point",
                    "SELECT pg_catalog.pg_notify('memori_bridge', $1)", 1, params))
                return false;
            log_info("asked the bridge to go on to %s and pause there", v->point);
            continue;
        }
        if (now - start > v->pause_timeout_ms * 1000)
        {
            log_error("the bridge streaming slot \"%s\" did not pause at %s within %.0f s; is it "
                      "far behind? (memori-bridge status shows its lag)",
                      v->dir.slot, v->point, (double) v->pause_timeout_ms / 1000);
            return false;
        }
        if (now - last_note > 5000000)
        {
            log_info("waiting for the bridge to apply everything before %s", v->point);
            last_note = now;
        }
        usleep(50000);
    }
}

bool
verify_hold_stood(struct verify *v)
{
    const char *params[1] = {v->token};
    PGresult *res;
    bool stood;

    if (v->token[0] == '\0' || !v->streaming)
        return true;
    res = q(v->dst, vmsg(v, "could not read the bridge's hold on the %s", v->dir.to_role),
            "SELECT state FROM memori_bridge.verify_pause WHERE token = $1", 1, params);
    if (res == NULL)
        return false;
    stood = PQntuples(res) == 1 && strcmp(PQgetvalue(res, 0, 0), "paused") == 0;
    PQclear(res);
    if (!stood)
        log_error("the running bridge stopped holding at %s before the comparison ended (its "
                  "--hold-timeout passed): the %s moved meanwhile; verify again, or give the "
                  "bridge a longer --hold-timeout",
                  v->point, v->dir.to_role);
    return stood;
}

void
verify_release_bridge(struct verify *v)
{
    const char *params[1] = {v->token};

    if (v->token[0] == '\0' || v->dst == NULL)
        return;
    PQclear(PQexecParams(v->dst, "DELETE FROM memori_bridge.verify_pause WHERE token = $1", 1, NULL,
                         params, NULL, NULL, 0));
    PQclear(PQexecParams(v->dst, "SELECT pg_catalog.pg_notify('memori_bridge', $1)", 1, NULL,
                         params, NULL, NULL, 0));
    v->token[0] = '\0';
}

/* With no bridge running: does the slot hold changes of transactions the
 * target has not applied (those ending after its progress), leaving out
 * those the other direction applied (tagged, progress.h)? */
static int
pending_changes(struct verify *v)
{
    static const char sql[] =
        "WITH p AS (SELECT xid, data::jsonb AS j FROM pg_catalog.pg_logical_slot_peek_changes("
        "    $1, $2::pg_lsn, NULL, 'format-version', '2', 'include-xids', '1', "
        "    'include-lsn', '1', 'add-tables', $3)) "
        "SELECT coalesce(sum(n), 0) FROM (SELECT "
        "    count(*) FILTER (WHERE j->>'action' IN ('I', 'U', 'D', 'T')) AS n, "
        "    bool_or(j->>'action' = 'C' AND (j->>'nextlsn')::pg_lsn > $4::pg_lsn) AS later, "
        "    bool_or(j->>'action' = 'M' AND j->>'prefix' = '" PROGRESS_MSG_PREFIX "' "
        "            AND j->>'content' = $5) AS looped "
        "  FROM p WHERE xid IS NOT NULL GROUP BY xid) x WHERE later AND NOT looped";
    char tables[1024], origin[LSN_BUFSZ] = "0/0", tag[128];
    const char *params[5] = {v->dir.slot, v->point, tables, origin, tag};
    struct progress prog;
    const char *p = v->conf->schemas;
    size_t n = 0;
    PGresult *res;
    int count;

    for (; *p != '\0' && n + 4 < sizeof(tables); p++)
    {
        if (*p == ' ')
            continue;
        if (*p == ',')
            n += (size_t) snprintf(tables + n, sizeof(tables) - n, ".*,");
        else
            tables[n++] = *p;
    }
    snprintf(tables + n, sizeof(tables) - n, ".*");
    if (!progress_read(v->dst, v->dir.to_role, v->dir.origin, &prog))
        return -1;
    if (!prog.recorded && !prog.origin_exists)
    {
        log_error("the %s has no progress of \"%s\": nothing streams slot \"%s\" into it, so "
                  "there is no point to compare at; fix: memori-bridge %s (or --slot NAME for "
                  "another slot)",
                  v->dir.to_role, v->dir.origin, v->dir.slot, v->dir.reverse ? "cutover" : "init");
        return -1;
    }
    lsn_format(prog.lsn, origin);
    snprintf(tag, sizeof(tag), PROGRESS_TAG "%s", v->dir.other_origin);
    res = q(v->src, "could not look into the slot", sql, 5, params);
    if (res == NULL)
        return -1;
    count = (int) strtol(PQgetvalue(res, 0, 0), NULL, 10);
    PQclear(res);
    return count;
}

bool
verify_establish_point(struct verify *v)
{
    const char *params[1] = {v->dir.slot};
    int attempt;

    for (attempt = 0; attempt < MAX_RETRIES; attempt++)
    {
        PGresult *res;
        bool slot_exists, past;

        if (!make_point(v))
            return false;
        res =
            q(v->src, vmsg(v, "could not read the %s's slots", v->dir.from_role),
              "SELECT active FROM pg_catalog.pg_replication_slots WHERE slot_name = $1", 1, params);
        if (res == NULL)
            return false;
        slot_exists = PQntuples(res) == 1;
        v->streaming = slot_exists && PQgetvalue(res, 0, 0)[0] == 't';
        PQclear(res);
        if (!v->streaming)
        {
            int pending = slot_exists ? pending_changes(v) : 0;

            if (pending < 0)
                return false;
            if (pending > 0)
            {
                log_error("cannot compare at one point: slot \"%s\" holds %d change%s the %s "
                          "does not have yet, and no bridge is streaming it; start memori-bridge "
                          "run%s (verify then pauses it at one point), or let it catch up with "
                          "the writers stopped",
                          v->dir.slot, pending, pending == 1 ? "" : "s", v->dir.to_role,
                          v->dir.reverse ? " --reverse" : "");
                return false;
            }
            log_info("comparing at %s (no bridge is streaming; the %s has everything before it)",
                     v->point, v->dir.to_role);
            return true;
        }
        if (!pause_bridge(v, &past))
            return false;
        if (!past)
        {
            log_info("comparing at %s (the running bridge holds there)", v->point);
            return true;
        }
        verify_release_bridge(v);
        log_info("the bridge was already past %s; taking a new point", v->point);
    }
    log_error("could not find one point to compare at: the bridge kept running past it");
    return false;
}
