/*
 * apply_hold.c - holding still at verify's point (memori_bridge.verify_pause):
 * at a transaction boundary, outside pipeline mode, until verify releases it.
 *
 * A hold is a lease. It ends when verify releases it, when the session of the
 * verify that asked for it (holder_pid, on this side) is gone (a verify killed
 * with SIGKILL releases nothing), or after hold_timeout; in the last two
 * cases the bridge deletes the request itself, so that nothing is left to
 * hold it again.
 */
#include "bridge/streaming/apply_int.h"

#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bridge/base/clock.h"
#include "bridge/base/log.h"

/* ---- holding still for verify ---------------------------------------- */

/* Is the holder of a request alive? (SQL, of a row of verify_pause) */
#define HOLDER_ALIVE                                                                      \
    "(holder_pid IS NULL OR EXISTS (SELECT 1 FROM pg_catalog.pg_stat_activity "          \
    "WHERE pid = holder_pid))"

/* Forget the request TOKEN: its holder is gone, or it outlived hold_timeout. */
static void
drop_request(struct apply *a, const char *token)
{
    const char *params[1] = {token};

    apply_guard(a);
    PQclear(PQexecParams(a->conn, "DELETE FROM memori_bridge.verify_pause WHERE token = $1", 1,
                         NULL, params, NULL, NULL, 0));
    apply_unguard(a, "dropping verify's request");
}

/* Tell verify where we hold: STATE 'paused' (at its point) or 'past' (we had
 * applied a transaction committed after its point before we saw the request:
 * verify picks a later point, which we can reach since we hold). */
static bool
report_hold(struct apply *a, const char *state)
{
    const char *params[3] = {a->pause_token, NULL, state};
    char committed[LSN_BUFSZ];

    params[1] = lsn_format(a->committed, committed);
    apply_guard(a);
    PQclear(PQexecParams(a->conn,
                         "UPDATE memori_bridge.verify_pause SET state = $3, "
                         "applied = $2::pg_lsn, updated_at = now() WHERE token = $1",
                         3, NULL, params, NULL, NULL, 0));
    return apply_unguard(a, "telling verify where it holds");
}

/* Hold still at a transaction boundary (outside pipeline mode) until verify
 * releases us, or moves its point further (then go on to it: returns with
 * a->pause_at set). PAST: we are beyond the point asked for. Returns false
 * when the link is down (logged, recorded). */
static bool
hold_here(struct apply *a, bool past)
{
    const char *params[1] = {a->pause_token};
    int64_t start = clock_now_us();

    if (!report_hold(a, past ? "past" : "paused"))
        return false;
    if (past)
        log_info("verify asked for a pause at " LSN_FMT ", already applied past it; holding at "
                 LSN_FMT " until it takes a later point",
                 LSN_ARGS(a->pause_at), LSN_ARGS(a->committed));
    else
        log_info("holding at " LSN_FMT " for verify", LSN_ARGS(a->committed));
    a->pause_at = LSN_INVALID;
    while (!atomic_load(&a->st->stop))
    {
        struct pollfd fds[2] = {{PQsocket(a->conn), POLLIN, 0}, {a->st->stop_fd, POLLIN, 0}};
        PGresult *res;
        PGnotify *n;
        char state[16] = "";
        lsn_t at = LSN_INVALID;
        bool alive = true;
        int holder = 0;

        if (clock_now_us() - start > a->o.conf->hold_timeout_ms * 1000)
        {
            log_warning("verify held the bridge for %.0f s without releasing it (--hold-timeout); "
                        "going on",
                        (double) a->o.conf->hold_timeout_ms / 1000);
            drop_request(a, a->pause_token);
            break;
        }
        if (poll(fds, 2, 1000) > 0 && (fds[0].revents & POLLIN) && PQconsumeInput(a->conn) == 0)
            break;
        while ((n = PQnotifies(a->conn)) != NULL)
            PQfreemem(n);
        apply_guard(a);
        res = PQexecParams(a->conn,
                           "SELECT state, pause_at, " HOLDER_ALIVE ", coalesce(holder_pid, 0) "
                           "FROM memori_bridge.verify_pause WHERE token = $1",
                           1, NULL, params, NULL, NULL, 0);
        if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1)
        {
            snprintf(state, sizeof(state), "%s", PQgetvalue(res, 0, 0));
            lsn_parse(PQgetvalue(res, 0, 1), strlen(PQgetvalue(res, 0, 1)), &at);
            alive = PQgetvalue(res, 0, 2)[0] == 't';
            holder = (int) strtol(PQgetvalue(res, 0, 3), NULL, 10);
        }
        PQclear(res);
        if (!apply_unguard(a, "holding still for verify"))
            return false;
        if (!alive)
        {
            log_warning("the verify that asked for this hold (PID %d on the %s) is gone without "
                        "releasing it; going on",
                        holder, a->o.role);
            drop_request(a, a->pause_token);
            break;
        }
        if (strcmp(state, "requested") == 0 && at != LSN_INVALID)
        {
            /* a later point: go on to it, unless we are past that one too */
            if (a->last_commit < at)
            {
                a->pause_at = at;
                log_info("verify moved its point to " LSN_FMT "; going on to it", LSN_ARGS(at));
                return true;
            }
            if (!report_hold(a, "past"))
                return false;
            continue;
        }
        if (strcmp(state, "paused") != 0 && strcmp(state, "past") != 0)
        {
            log_info("verify released the bridge; going on");
            break; /* released, or the request is gone */
        }
    }
    a->pause_token[0] = '\0';
    return PQstatus(a->conn) == CONNECTION_OK;
}

/* A request of verify, read outside pipeline mode at a transaction boundary.
 * Returns false when the link is down. */
static bool
read_request(struct apply *a)
{
    const char *params[1] = {a->o.origin};
    PGresult *res;

    apply_guard(a);
    /* requests of verifies that are gone: nobody will release them */
    PQclear(PQexecParams(a->conn,
                         "DELETE FROM memori_bridge.verify_pause WHERE slot = $1 AND NOT "
                         HOLDER_ALIVE,
                         1, NULL, params, NULL, NULL, 0));
    res = PQexecParams(a->conn,
                       "SELECT token, pause_at FROM memori_bridge.verify_pause "
                       "WHERE slot = $1 AND state = 'requested' ORDER BY updated_at LIMIT 1",
                       1, NULL, params, NULL, NULL, 0);
    if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1)
    {
        snprintf(a->pause_token, sizeof(a->pause_token), "%s", PQgetvalue(res, 0, 0));
        lsn_parse(PQgetvalue(res, 0, 1), strlen(PQgetvalue(res, 0, 1)), &a->pause_at);
    }
    PQclear(res);
    if (!apply_unguard(a, "reading verify's request"))
        return false;
    if (a->pause_at == LSN_INVALID || a->last_commit < a->pause_at)
        return true;
    /* already applied a transaction committed after the point: hold here,
     * and let verify take a later one */
    return hold_here(a, true);
}

/* Look for verify's NOTIFY; only between target transactions. */
bool
apply_check_requests(struct apply *a)
{
    PGnotify *n;
    bool got = false;

    if (!a->listening || a->group_open || a->in_xact)
        return true;
    if (PQconsumeInput(a->conn) == 0)
        return pl_poll(&a->pl);
    while ((n = PQnotifies(a->conn)) != NULL)
    {
        got = true;
        PQfreemem(n);
    }
    /* a verify may have asked while no bridge ran, or have died since */
    got |= a->unread;
    a->unread = false;
    if (!got || a->pause_at != LSN_INVALID)
        return true;
    if (!pl_sync(&a->pl) || !pl_leave(&a->pl) || !read_request(a))
        return false;
    return pl_enter(&a->pl);
}

/* Hold still at verify's point until verify releases us (or moves it). */
bool
apply_hold(struct apply *a)
{
    if (!pl_sync(&a->pl) || !pl_leave(&a->pl) || !hold_here(a, false))
        return false;
    return pl_enter(&a->pl);
}
