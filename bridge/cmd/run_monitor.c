/*
 * run_monitor.c - what a running bridge watches besides its two threads: the
 * streaming side's WAL position for the lag lines and the metrics, the status
 * row it keeps on the side it applies to (memori_bridge.stream_status), the
 * sequences it brings up now and then, and the switch record it follows.
 */
#include "bridge/cmd/run_int.h"

#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bridge/base/clock.h"
#include "bridge/base/lag.h"
#include "bridge/base/log.h"
#include "bridge/pg/pgconn.h"
#include "bridge/pg/seqsync.h"

/* Caught up: the server has sent up to this close to its end of WAL (what it
 * writes by itself between its keepalive and the query). */
#define CAUGHT_UP_SLACK (64 * 1024)

/* ---- lag lines -------------------------------------------------------- */

/* The streaming side's monitoring connection. One whose server went away
 * (a restart) is dropped and opened again. The lag lines try again only
 * every 30 s after a failure; a new session, which cannot start without it,
 * tries at once (force). */
bool
run_ensure_monitor(struct supervisor *sv, bool force)
{
    int64_t now = clock_now_us();

    if (sv->monitor != NULL && PQstatus(sv->monitor) == CONNECTION_OK)
        return true;
    if (sv->monitor != NULL)
        PQfinish(sv->monitor);
    sv->monitor = NULL;
    if (!force && now < sv->monitor_retry)
        return false;
    sv->monitor = pgconn_open(sv->dir.from_dsn, sv->dir.from_role, PGCONN_SQL,
                              "memori-bridge monitor", sv->conf->connect_timeout_ms, NULL);
    if (sv->monitor == NULL)
        sv->monitor_retry = now + 30 * INT64_C(1000000);
    return sv->monitor != NULL;
}

static lsn_t
source_lsn(struct supervisor *sv)
{
    PGresult *res;
    lsn_t lsn = LSN_INVALID;

    if (!run_ensure_monitor(sv, false))
        return LSN_INVALID;
    res = PQexec(sv->monitor, "SELECT CASE WHEN pg_catalog.pg_is_in_recovery() "
                              "THEN pg_catalog.pg_last_wal_receive_lsn() "
                              "ELSE pg_catalog.pg_current_wal_lsn() END");
    if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1 && !PQgetisnull(res, 0, 0))
        lsn_parse(PQgetvalue(res, 0, 0), (size_t) PQgetlength(res, 0, 0), &lsn);
    else
    {
        PQfinish(sv->monitor);
        sv->monitor = NULL;
    }
    PQclear(res);
    return lsn;
}

/* The lag figures now (the rates are left to the caller). */
static void
lag_sample(struct supervisor *sv, struct lag_sample *s)
{
    struct timespec now;
    int64_t commit_us;

    memset(s, 0, sizeof(*s));
    s->applied = atomic_load(&sv->st.applied);
    s->durable = atomic_load(&sv->st.durable);
    s->source = source_lsn(sv);
    s->ring_fill = ring_fill(&sv->ring);
    s->ring_size = sv->ring.nbatches;
    /* caught up: nothing waiting on this side, and the server has sent up to
     * (nearly) the source's end of WAL; the slack covers the little the
     * server writes by itself between its keepalive and this query */
    s->caught_up = atomic_load(&sv->st.reader_idle) && atomic_load(&sv->st.applier_idle) &&
                   s->ring_fill == 0 &&
                   (s->source == LSN_INVALID ||
                    atomic_load(&sv->st.server_end) + CAUGHT_UP_SLACK >= s->source);
    if (s->source == LSN_INVALID)
        s->lag_bytes = -1;
    else
        s->lag_bytes = s->source > s->applied ? (int64_t) (s->source - s->applied) : 0;
    commit_us = atomic_load(&sv->st.applied_commit_us);
    clock_gettime(CLOCK_REALTIME, &now);
    if (s->caught_up)
        s->lag_seconds = 0;
    else if (commit_us != 0)
    {
        s->lag_seconds = ((double) now.tv_sec * 1e6 + (double) now.tv_nsec / 1e3 -
                          (double) commit_us) /
                         1e6;
        if (s->lag_seconds < 0)
            s->lag_seconds = 0;
    }
    else
        s->lag_seconds = -1;
}

void
run_lag_line(struct supervisor *sv)
{
    struct lag_sample s;
    int64_t mono = clock_now_us();
    double dt = (double) (mono - sv->last_line) / 1e6;
    uint64_t changes = atomic_load(&sv->st.written), xacts = atomic_load(&sv->st.xacts);
    char text[512], json[768];

    lag_sample(sv, &s);
    s.changes_per_s = dt > 0 ? (double) (changes - sv->last_changes) / dt : 0;
    s.xacts_per_s = dt > 0 ? (double) (xacts - sv->last_xacts) / dt : 0;
    sv->last_changes = changes;
    sv->last_xacts = xacts;
    sv->last_line = mono;
    log_event("lag", lag_format_json(&s, json, sizeof(json)),
              lag_format_text(&s, text, sizeof(text)));
}

/* ---- sequences -------------------------------------------------------- */

#define SEQ_SYNC_EVERY_US (10 * INT64_C(1000000))

/* The applying side's monitoring connection, opened when needed. */
bool
run_ensure_tmonitor(struct supervisor *sv)
{
    if (sv->tmonitor != NULL && PQstatus(sv->tmonitor) == CONNECTION_OK)
        return true;
    if (sv->tmonitor != NULL)
        PQfinish(sv->tmonitor);
    sv->status_table = false;
    sv->tmonitor = pgconn_open(sv->dir.to_dsn, sv->dir.to_role, PGCONN_SQL,
                               "memori-bridge monitor", sv->conf->connect_timeout_ms, NULL);
    return sv->tmonitor != NULL;
}

/* Sequences are not streamed: bring the target's up to the source's now and
 * then (forward only), so that they are near when the cutover sets them
 * exactly, and equal after a run that stopped with the source quiet. A
 * failure here is only a warning: the data does not depend on it. */
void
run_sync_sequences(struct supervisor *sv, bool now)
{
    int64_t t = clock_now_us();

    if (!now && t - sv->last_seq_sync < SEQ_SYNC_EVERY_US)
        return;
    sv->last_seq_sync = t;
    if (!run_ensure_monitor(sv, false) || !run_ensure_tmonitor(sv))
        return;
    if (seq_sync(sv->monitor, sv->tmonitor, sv->conf->schemas, true) < 0)
        log_warning("could not bring the target's sequences up to the source's (the line above "
                    "says which and why); cutover sets them exactly while writers are paused, "
                    "and the streamed rows do not depend on them");
}

/* What this bridge is doing, on the side it applies to, every second, for
 * status and cutover (memori_bridge.stream_status). Best effort. */
static void
report_status(struct supervisor *sv, const struct lag_sample *ls)
{
    char applied[LSN_BUFSZ], durable[LSN_BUFSZ], pid[16], changes[24], lag[32];
    const char *params[7];
    PGresult *res;

    if (!run_ensure_tmonitor(sv))
        return;
    if (!sv->status_table)
    {
        res = PQexec(sv->tmonitor,
                     "SELECT pg_catalog.to_regclass('memori_bridge.stream_status') IS NOT NULL");
        sv->status_table = PQresultStatus(res) == PGRES_TUPLES_OK && PQgetvalue(res, 0, 0)[0] == 't';
        PQclear(res);
        if (!sv->status_table)
            return;
    }
    snprintf(pid, sizeof(pid), "%d", (int) getpid());
    snprintf(changes, sizeof(changes), "%llu",
             (unsigned long long) atomic_load(&sv->st.changes));
    params[0] = sv->dir.slot;
    params[1] = direction_name(&sv->dir);
    params[2] = pid;
    params[3] = lsn_format(atomic_load(&sv->st.applied), applied);
    params[4] = lsn_format(atomic_load(&sv->st.durable), durable);
    snprintf(lag, sizeof(lag), "%.3f", ls->lag_seconds);
    params[5] = ls->lag_seconds >= 0 ? lag : NULL;
    params[6] = changes;
    res = PQexecParams(sv->tmonitor,
                       "INSERT INTO memori_bridge.stream_status AS s (slot, direction, pid, "
                       "  applied_lsn, durable_lsn, lag_seconds, changes) "
                       "VALUES ($1, $2, $3::int, $4::pg_lsn, $5::pg_lsn, $6::float8, $7::bigint) "
                       "ON CONFLICT (slot, direction) DO UPDATE SET pid = $3::int, "
                       "  applied_lsn = $4::pg_lsn, durable_lsn = $5::pg_lsn, "
                       "  lag_seconds = $6::float8, changes = $7::bigint, updated_at = now(), "
                       "  started_at = CASE WHEN s.pid = $3::int THEN s.started_at ELSE now() END",
                       7, NULL, params, NULL, NULL, 0);
    PQclear(res);
}

/* Once a second: the lag figures for the metrics, and the status report. */
void
run_sample(struct supervisor *sv)
{
    int64_t now = clock_now_us();
    struct lag_sample ls;

    if (now - sv->last_status < 1000000)
        return;
    sv->last_status = now;
    lag_sample(sv, &ls);
    atomic_store(&sv->st.source_lsn, ls.source);
    atomic_store(&sv->st.lag_bytes, ls.lag_bytes);
    atomic_store(&sv->st.lag_us, ls.lag_seconds < 0 ? -1 : (int64_t) (ls.lag_seconds * 1e6));
    atomic_store(&sv->st.caught_up, ls.caught_up);
    report_status(sv, &ls);
}

/* A switch may finish while this bridge does not wait for it (it was
 * restarting, or gave up waiting): look at the record now and then, and
 * follow it. */
void
run_check_switch(struct supervisor *sv)
{
    PGconn *target = sv->dir.reverse ? sv->monitor : sv->tmonitor;
    bool exists = false, reverse = false;
    char phase[16] = "";
    int64_t now = clock_now_us();

    if (sv->drain || target == NULL || now - sv->last_switch_check < 1000000)
        return;
    sv->last_switch_check = now;
    if (!direction_read_switch(target, sv->conf->slot, &exists, &reverse, phase, sizeof(phase)))
        return;
    if (exists && strcmp(phase, "done") == 0 && reverse != sv->dir.reverse)
    {
        log_info("the switch to streaming %s is done; following it",
                 reverse ? "reverse" : "forward");
        sv->follow = true;
        run_request_stop(sv);
    }
}

void
run_drop_monitors(struct supervisor *sv)
{
    /* this bridge no longer applies this way: its status row goes */
    if (sv->tmonitor != NULL && sv->status_table)
    {
        char pid[16];
        const char *params[3] = {sv->dir.slot, direction_name(&sv->dir), pid};

        snprintf(pid, sizeof(pid), "%d", (int) getpid());
        PQclear(PQexecParams(sv->tmonitor,
                             "DELETE FROM memori_bridge.stream_status "
                             "WHERE slot = $1 AND direction = $2 AND pid = $3::int",
                             3, NULL, params, NULL, NULL, 0));
    }
    if (sv->monitor != NULL)
        PQfinish(sv->monitor);
    if (sv->tmonitor != NULL)
        PQfinish(sv->tmonitor);
    sv->monitor = sv->tmonitor = NULL;
    sv->status_table = false;
}
