/*
 * run_monitor.c - what a running bridge watches besides its two threads: the
 * streaming side's WAL position for the lag lines and the metrics, the status
 * row it keeps on the side it applies to (memori_bridge.stream_status), the
 * sequences it brings up now and then, and the switch record it follows.
 *
 * Each of these is a short query on a monitoring connection of its own, bounded
 * by MONITOR_LIMIT_MS (peer.h's guard): a link that dies never holds the
 * supervisor, which goes on sampling, printing lag lines and reporting while a
 * session reconnects. While a link is down, its side's monitor is not tried
 * again between sessions (the next session tries it); the other side's status
 * row, and the application_name of this bridge's monitor there, say which link
 * is down and since when, for status.
 */
#include "bridge/cmd/run_int.h"

#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bridge/base/clock.h"
#include "bridge/base/lag.h"
#include "bridge/base/log.h"
#include "bridge/pg/continuity.h"
#include "bridge/pg/peer.h"
#include "bridge/pg/pgconn.h"
#include "bridge/pg/schemas.h"
#include "bridge/pg/seqsync.h"

/* Caught up: the server has sent up to this close to its end of WAL (what it
 * writes by itself between its keepalive and the query). */
#define CAUGHT_UP_SLACK (64 * 1024)

/* A monitor query takes at most this long (and at most peer_timeout). */
#define MONITOR_LIMIT_MS 5000

static int64_t
monitor_limit(const struct supervisor *sv)
{
    return sv->conf->peer_timeout_ms < MONITOR_LIMIT_MS ? sv->conf->peer_timeout_ms
                                                        : MONITOR_LIMIT_MS;
}

/* Guard CONN's next calls (see the top). */
static void
guard(struct supervisor *sv, PGconn *conn)
{
    peer_guard(conn, monitor_limit(sv), NULL, NULL);
}

/* The role of the side of LINK. */
static const char *
link_role(const struct supervisor *sv, int link)
{
    return link == STATE_LINK_FROM ? sv->dir.from_role : sv->dir.to_role;
}

/* ---- lag lines -------------------------------------------------------- */

/* The monitoring connection of a side: FROM, the one streamed from. */
static PGconn **
mon(struct supervisor *sv, bool from)
{
    return from ? &sv->monitor : &sv->tmonitor;
}

static void
drop(struct supervisor *sv, bool from)
{
    peer_close(*mon(sv, from));
    *mon(sv, from) = NULL;
    sv->note[from ? 0 : 1][0] = '\0';
    if (!from)
        sv->status_table = false;
}

/* A side's monitoring connection, (re)opened when needed (one whose server
 * went away, a restart, is dropped and opened again). A new session, which
 * cannot start without them, tries at once (FORCE), within connect_timeout.
 * Otherwise one that failed is tried again only after a while (the lag lines
 * every 30 s, the status row every 5 s), never while the session found that
 * link down, and within the monitor limit: a dead link does not hold the
 * supervisor. */
static bool
ensure(struct supervisor *sv, bool from, bool force)
{
    int64_t now = clock_now_us(), *retry = &sv->monitor_retry[from ? 0 : 1];
    int64_t timeout = sv->conf->connect_timeout_ms;
    PGconn **conn = mon(sv, from);

    if (*conn != NULL && PQstatus(*conn) == CONNECTION_OK)
        return true;
    drop(sv, from);
    if (!force && (now < *retry ||
                   atomic_load(&sv->st.link_down) == (from ? STATE_LINK_FROM : STATE_LINK_TO)))
        return false;
    if (!force && timeout > monitor_limit(sv))
        timeout = monitor_limit(sv);
    *conn = pgconn_open(from ? sv->dir.from_dsn : sv->dir.to_dsn,
                        from ? sv->dir.from_role : sv->dir.to_role, PGCONN_SQL,
                        "memori-bridge monitor", timeout, NULL);
    if (*conn == NULL)
        *retry = now + (from ? 30 : 5) * INT64_C(1000000);
    return *conn != NULL;
}

bool
run_ensure_monitor(struct supervisor *sv, bool force)
{
    return ensure(sv, true, force);
}

bool
run_ensure_tmonitor(struct supervisor *sv, bool force)
{
    return ensure(sv, false, force);
}

/* End the guard of a side's monitor. One that expired (its link is down, or
 * its server stuck) is closed, and tried again only after a while. */
static void
settle(struct supervisor *sv, bool from)
{
    if (*mon(sv, from) != NULL && peer_unguard(*mon(sv, from)))
    {
        drop(sv, from);
        sv->monitor_retry[from ? 0 : 1] = clock_now_us() + 5 * INT64_C(1000000);
    }
}

static lsn_t
source_lsn(struct supervisor *sv)
{
    PGresult *res;
    lsn_t lsn = LSN_INVALID;

    if (!run_ensure_monitor(sv, false))
        return LSN_INVALID;
    guard(sv, sv->monitor);
    res = PQexec(sv->monitor, "SELECT CASE WHEN pg_catalog.pg_is_in_recovery() "
                              "THEN pg_catalog.pg_last_wal_receive_lsn() "
                              "ELSE pg_catalog.pg_current_wal_lsn() END");
    if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1 && !PQgetisnull(res, 0, 0))
        lsn_parse(PQgetvalue(res, 0, 0), (size_t) PQgetlength(res, 0, 0), &lsn);
    PQclear(res);
    settle(sv, true);
    if (lsn == LSN_INVALID)
        drop(sv, true);
    return lsn;
}

/* The lag figures now (the rates are left to the caller). */
static void
lag_sample(struct supervisor *sv, struct lag_sample *s)
{
    int link = atomic_load(&sv->st.link_down);
    bool heard;
    int64_t lag;

    memset(s, 0, sizeof(*s));
    s->applied = atomic_load(&sv->st.applied);
    s->durable = atomic_load(&sv->st.durable);
    s->source = source_lsn(sv);
    s->ring_fill = ring_fill(&sv->ring);
    s->ring_size = sv->ring.nbatches;
    s->link_down = link != STATE_LINK_NONE ? link_role(sv, link) : NULL;
    /* the stream answers within a quarter of peer_timeout when healthy (the
     * reader asks for a reply): older news cannot say everything is applied */
    heard = clock_now_us() - atomic_load(&sv->st.contact_us) < sv->conf->peer_timeout_ms * 500;
    /* caught up: streaming with both links up and heard from lately, nothing
     * waiting on this side, and the server has sent up to (nearly) the
     * source's end of WAL; the slack covers the little the server writes by
     * itself between its keepalive and this query */
    s->caught_up = atomic_load(&sv->st.streaming) && link == STATE_LINK_NONE && heard &&
                   atomic_load(&sv->st.reader_idle) && atomic_load(&sv->st.applier_idle) &&
                   s->ring_fill == 0 &&
                   (s->source == LSN_INVALID ||
                    atomic_load(&sv->st.server_end) + CAUGHT_UP_SLACK >= s->source);
    if (s->source == LSN_INVALID)
        s->lag_bytes = -1;
    else
        s->lag_bytes = s->source > s->applied ? (int64_t) (s->source - s->applied) : 0;
    if (s->caught_up)
    {
        atomic_store(&sv->st.caught_up_us, clock_wall_us());
        s->lag_seconds = 0;
    }
    else
    {
        /* state.h: from the last time everything committed was known applied */
        atomic_store(&sv->st.caught_up, false);
        lag = state_lag_us(&sv->st, clock_wall_us());
        s->lag_seconds = lag < 0 ? -1 : (double) lag / 1e6;
    }
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

/* ---- around a session ------------------------------------------------ */

bool
run_check_sides(struct supervisor *sv, char *filter, size_t len, enum session_outcome *out)
{
    enum pgconn_failure failure = PGCONN_FATAL;
    struct continuity cont;
    bool checked, ok;

    *out = SESSION_TRANSIENT;
    if (!ensure(sv, true, true))
    {
        run_set_link(sv, STATE_LINK_FROM);
        return false;
    }
    if (!ensure(sv, false, true))
    {
        run_set_link(sv, STATE_LINK_TO);
        return false;
    }
    peer_guard(sv->monitor, sv->conf->peer_timeout_ms, NULL, NULL);
    peer_guard(sv->tmonitor, sv->conf->peer_timeout_ms, NULL, NULL);
    checked = continuity_check(sv->monitor, sv->tmonitor, sv->conf, &sv->dir, &cont);
    /* a schema a side lacks would stream nothing, silently (before init the
     * target lacks them all: the verdict says so); then what to leave out:
     * the other direction's origin there */
    ok = checked && cont.verdict == CONTINUITY_OK &&
         schemas_on_both(sv->monitor, sv->dir.from_role, sv->tmonitor, sv->dir.to_role,
                         sv->conf->schemas, &failure);
    if (ok && !direction_filter(&sv->dir, sv->monitor, filter, len))
    {
        ok = false;
        failure = PGCONN_TRANSIENT;
    }
    settle(sv, true);
    settle(sv, false);
    if (sv->monitor == NULL || PQstatus(sv->monitor) != CONNECTION_OK)
        run_set_link(sv, STATE_LINK_FROM);
    else if (sv->tmonitor == NULL || PQstatus(sv->tmonitor) != CONNECTION_OK)
        run_set_link(sv, STATE_LINK_TO);
    else if (!ok)
    {
        if (checked && cont.verdict != CONTINUITY_OK)
            log_error("%s", cont.why);
        *out = failure == PGCONN_TRANSIENT ? SESSION_TRANSIENT : SESSION_FATAL;
    }
    return ok;
}

bool
run_end_lost_session(struct supervisor *sv)
{
    int64_t ago = (clock_now_us() - sv->prev_opened) / 1000;
    bool ended = false;
    int i;

    if (!sv->prev_lost)
        return false;
    sv->prev_lost = false;
    for (i = 0; i < 2; i++)
    {
        PGconn *conn;

        if (sv->prev_pid[i] == 0 || !ensure(sv, i == 0, true))
            continue;
        conn = *mon(sv, i == 0);
        if (peer_end_backend(conn, sv->prev_pid[i], ago))
        {
            log_info("ended the server process (PID %d) that the lost session left on the %s",
                     sv->prev_pid[i], i == 0 ? sv->dir.from_role : sv->dir.to_role);
            ended = true;
        }
    }
    return ended;
}

/* ---- sequences -------------------------------------------------------- */

#define SEQ_SYNC_EVERY_US (10 * INT64_C(1000000))

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
    if (!run_ensure_monitor(sv, false) || !run_ensure_tmonitor(sv, false))
        return;
    guard(sv, sv->monitor);
    guard(sv, sv->tmonitor);
    if (seq_sync(sv->monitor, sv->tmonitor, sv->conf->schemas, true) < 0)
        log_warning("could not bring the target's sequences up to the source's (the line above "
                    "says which and why); cutover sets them exactly while writers are paused, "
                    "and the streamed rows do not depend on them");
    settle(sv, true);
    settle(sv, false);
}

/* Is there a stream_status table of this version (with its link_down
 * column) on the applying side? (An earlier version's gets it from the next
 * init, verify or cutover, which run sql/memori_bridge.sql.) */
static bool
find_status_table(struct supervisor *sv)
{
    PGresult *res = PQexec(sv->tmonitor, "SELECT EXISTS (SELECT FROM pg_catalog.pg_attribute "
                                         "WHERE attrelid = pg_catalog.to_regclass("
                                         "'memori_bridge.stream_status') "
                                         "AND attname = 'link_down' AND NOT attisdropped)");
    bool found = PQresultStatus(res) == PGRES_TUPLES_OK && PQgetvalue(res, 0, 0)[0] == 't';

    PQclear(res);
    return found;
}

/* What this bridge is doing, on the side it applies to, every second, for
 * status and cutover (memori_bridge.stream_status). Best effort. */
static void
report_status(struct supervisor *sv, const struct lag_sample *ls)
{
    char applied[LSN_BUFSZ], durable[LSN_BUFSZ], pid[16], changes[24], lag[32], since[32];
    const char *params[9];
    int link = atomic_load(&sv->st.link_down);
    PGresult *res;

    if (!run_ensure_tmonitor(sv, false))
        return;
    guard(sv, sv->tmonitor);
    if (!sv->status_table)
        sv->status_table = find_status_table(sv);
    if (!sv->status_table)
    {
        settle(sv, false);
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
    /* which link is down, and since when */
    snprintf(since, sizeof(since), "%.6f", (double) atomic_load(&sv->st.link_down_us) / 1e6);
    params[7] = link != STATE_LINK_NONE ? link_role(sv, link) : NULL;
    params[8] = link != STATE_LINK_NONE ? since : NULL;
    res = PQexecParams(sv->tmonitor,
                       "INSERT INTO memori_bridge.stream_status AS s (slot, direction, pid, "
                       "  applied_lsn, durable_lsn, lag_seconds, changes, link_down, "
                       "  link_down_since) "
                       "VALUES ($1, $2, $3::int, $4::pg_lsn, $5::pg_lsn, $6::float8, "
                       "  $7::bigint, $8, pg_catalog.to_timestamp($9::float8)) "
                       "ON CONFLICT (slot, direction) DO UPDATE SET pid = $3::int, "
                       "  applied_lsn = $4::pg_lsn, durable_lsn = $5::pg_lsn, "
                       "  lag_seconds = $6::float8, changes = $7::bigint, updated_at = now(), "
                       "  link_down = $8, link_down_since = pg_catalog.to_timestamp($9::float8), "
                       "  started_at = CASE WHEN s.pid = $3::int THEN s.started_at ELSE now() END",
                       9, NULL, params, NULL, NULL, 0);
    PQclear(res);
    settle(sv, false);
}

/* While a link is down, this bridge's monitor on the other side says so in
 * its application_name ("memori-bridge PID: target link down since UNIX"):
 * with the target's link down, the status row there cannot say it, and status
 * reads this instead. The name goes back to "memori-bridge monitor" once the
 * link is back. Best effort. */
static void
note_link(struct supervisor *sv)
{
    int link = atomic_load(&sv->st.link_down), i;
    char want[64];

    if (link != STATE_LINK_NONE)
        snprintf(want, sizeof(want), "memori-bridge %d: %s link down since %lld", (int) getpid(),
                 link_role(sv, link), (long long) (atomic_load(&sv->st.link_down_us) / 1000000));
    for (i = 0; i < 2; i++)
    {
        const char *name = link != STATE_LINK_NONE ? want : "memori-bridge monitor";
        const char *params[1] = {name};
        PGconn *conn = *mon(sv, i == 0);

        if (conn == NULL || PQstatus(conn) != CONNECTION_OK ||
            strcmp(sv->note[i][0] ? sv->note[i] : "memori-bridge monitor", name) == 0)
            continue;
        guard(sv, conn);
        PQclear(PQexecParams(conn, "SELECT pg_catalog.set_config('application_name', $1, false)", 1,
                             NULL, params, NULL, NULL, 0));
        snprintf(sv->note[i], sizeof(sv->note[i]), "%s", name);
        settle(sv, i == 0);
    }
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
    note_link(sv);
}

void
run_set_link(struct supervisor *sv, int link)
{
    int was = atomic_load(&sv->st.link_down);

    if (was == link)
        return;
    if (link == STATE_LINK_NONE)
        log_info("the link to the %s is back after %.1f s", link_role(sv, was),
                 (double) (clock_wall_us() - atomic_load(&sv->st.link_down_us)) / 1e6);
    else
    {
        /* since a thread lost it, or now */
        int64_t since = link == atomic_load(&sv->st.lost) ? atomic_load(&sv->st.lost_us) : 0;

        atomic_store(&sv->st.link_down_us, since > 0 ? since : clock_wall_us());
    }
    atomic_store(&sv->st.link_down, link);
    if (link == STATE_LINK_NONE)
        return;
    /* its monitor goes the same dead way; the other side is told at once,
     * before a reconnection holds the supervisor for connect_timeout */
    drop(sv, link == STATE_LINK_FROM);
    sv->last_status = 0;
    run_sample(sv);
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
    bool read;

    if (sv->drain || target == NULL || now - sv->last_switch_check < 1000000)
        return;
    sv->last_switch_check = now;
    guard(sv, target);
    read = direction_read_switch(target, sv->conf->slot, &exists, &reverse, phase, sizeof(phase));
    settle(sv, sv->dir.reverse);
    if (!read)
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
        guard(sv, sv->tmonitor);
        PQclear(PQexecParams(sv->tmonitor,
                             "DELETE FROM memori_bridge.stream_status "
                             "WHERE slot = $1 AND direction = $2 AND pid = $3::int",
                             3, NULL, params, NULL, NULL, 0));
    }
    drop(sv, true);
    drop(sv, false);
}
