/*
 * run.c - the supervisor of "run": sessions, signals, reconnection, lag lines.
 *
 * A session is one target connection (the applier), one replication
 * connection (the reader), and their two threads, joined by the ring. The
 * main thread starts a session from the origin's committed progress, prints a
 * lag line every lag_interval, and waits for a signal or for a thread to end.
 * When either thread ends, the other is stopped at its next safe point, the
 * last durable position is confirmed to the slot, and the outcome decides
 * what comes next: stop (exit 0), replay carefully (a refused group), wait and
 * reconnect (a lost connection), or give up (exit 1).
 *
 * SIGINT and SIGTERM are blocked in every thread and read here through a
 * signalfd, so no code runs in a signal handler.
 */
#include "bridge/run.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>

#include "bridge/apply.h"
#include "bridge/direction.h"
#include "bridge/lag.h"
#include "bridge/log.h"
#include "bridge/metrics.h"
#include "bridge/reader.h"
#include "bridge/ring.h"
#include "bridge/secret.h"
#include "bridge/seqsync.h"
#include "bridge/state.h"
#include "bridge/stream.h"

#define EXIT_USAGE      2
#define CAUGHT_UP_SLACK (64 * 1024)

enum session_outcome
{
    SESSION_STOPPED = 0, /* signal: exit 0 */
    SESSION_REACHED,     /* --stop-at reached: exit 0 */
    SESSION_TRANSIENT,   /* reconnect after a delay */
    SESSION_BUSY,        /* the slot or origin is in use: try again shortly */
    SESSION_REFUSED,     /* replay carefully */
    SESSION_FATAL,       /* exit 1 */
    SESSION_SWITCH,      /* a switch marker was applied: hand over to the other direction */
};

/* Options of run itself (not settings). */
struct run_options
{
    lsn_t stop_at; /* 0: run until stopped */
};

/* Everything a session needs and what it leaves behind. */
struct supervisor
{
    const struct conf *conf;
    struct run_options ro;
    struct direction dir;     /* which way now */
    bool drain;               /* cutover's or rollback's own drain: stop at the switch */
    bool follow;              /* a finished switch was seen: stop, and stream the other way */
    int64_t last_switch_check;
    char switch_token[64];    /* the token of the last switch marker applied */
    struct ring ring;
    struct run_state st;
    int sig_fd;               /* signalfd of SIGINT, SIGTERM, SIGHUP */
    bool own_sig_fd;          /* made here (else borrowed from the command) */
    bool signalled;           /* a stop signal came */
    bool careful;             /* the next session replays carefully */
    bool busy_final;          /* the next session reports a busy slot or origin */
    lsn_t careful_until;
    PGconn *monitor;          /* the streaming side: its current LSN, its sequences */
    PGconn *tmonitor;         /* the applying side: its sequences, the status reports */
    bool status_table;        /* the applying side has memori_bridge.stream_status */
    int64_t last_status;      /* monotonic us of the last status report */
    int64_t monitor_retry;    /* when to try connecting them again */
    int64_t last_seq_sync;    /* monotonic us of the last sequence sync */

    /* lag-line rates */
    uint64_t last_changes, last_xacts;
    int64_t last_line;
};

/* Thread bodies and their outcomes. */
struct reader_job
{
    struct stream *stream;
    struct supervisor *sv;
    enum reader_outcome out;
    _Atomic bool done;
};

struct apply_job
{
    struct apply *apply;
    struct supervisor *sv;
    enum apply_outcome out;
    _Atomic bool done;
};

static void
signal_fd(int fd)
{
    uint64_t one = 1;

    if (write(fd, &one, sizeof(one)) < 0)
        return;
}

static void *
reader_thread(void *arg)
{
    struct reader_job *j = arg;

    j->out = reader_run(j->stream, &j->sv->ring, &j->sv->st, j->sv->conf);
    atomic_store(&j->done, true);
    signal_fd(j->sv->st.done_fd);
    return NULL;
}

static void *
apply_thread(void *arg)
{
    struct apply_job *j = arg;

    j->out = apply_run(j->apply);
    atomic_store(&j->done, true);
    signal_fd(j->sv->st.done_fd);
    return NULL;
}

static void
request_stop(struct supervisor *sv)
{
    if (!atomic_exchange(&sv->st.stop, true))
        signal_fd(sv->st.stop_fd);
}

/* ---- lag lines -------------------------------------------------------- */

/* The streaming side's monitoring connection. One whose server went away
 * (a restart) is dropped and opened again. The lag lines try again only
 * every 30 s after a failure; a new session, which cannot start without it,
 * tries at once (force). */
static bool
ensure_monitor(struct supervisor *sv, bool force)
{
    int64_t now = stream_now_us();

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

    if (!ensure_monitor(sv, false))
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

static void
lag_line(struct supervisor *sv)
{
    struct lag_sample s;
    int64_t mono = stream_now_us();
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
static bool
ensure_tmonitor(struct supervisor *sv)
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
static void
sync_sequences(struct supervisor *sv, bool now)
{
    int64_t t = stream_now_us();

    if (!now && t - sv->last_seq_sync < SEQ_SYNC_EVERY_US)
        return;
    sv->last_seq_sync = t;
    if (!ensure_monitor(sv, false) || !ensure_tmonitor(sv))
        return;
    if (seq_sync(sv->monitor, sv->tmonitor, sv->conf->schemas, true) < 0)
        log_warning("could not bring the target's sequences up to the source's; cutover will");
}

/* What this bridge is doing, on the side it applies to, every second, for
 * status and cutover (memori_bridge.stream_status). Best effort. */
static void
report_status(struct supervisor *sv, const struct lag_sample *ls)
{
    char applied[LSN_BUFSZ], durable[LSN_BUFSZ], pid[16], changes[24], lag[32];
    const char *params[7];
    PGresult *res;

    if (!ensure_tmonitor(sv))
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
static void
sample(struct supervisor *sv)
{
    int64_t now = stream_now_us();
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
static void
check_switch(struct supervisor *sv)
{
    PGconn *target = sv->dir.reverse ? sv->monitor : sv->tmonitor;
    bool exists = false, reverse = false;
    char phase[16] = "";
    int64_t now = stream_now_us();

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
        request_stop(sv);
    }
}

/* ---- one session ------------------------------------------------------ */

/* Read pending signals; returns true when one asks to stop. */
static bool
read_signals(struct supervisor *sv)
{
    struct signalfd_siginfo si;
    bool stop = false;

    while (read(sv->sig_fd, &si, sizeof(si)) == (ssize_t) sizeof(si))
    {
        log_info("received %s: stopping at the next transaction boundary",
                 si.ssi_signo == SIGINT ? "SIGINT" : si.ssi_signo == SIGTERM ? "SIGTERM"
                                                                              : "SIGHUP");
        stop = true;
    }
    return stop;
}

static enum session_outcome
run_session(struct supervisor *sv, bool *started)
{
    const struct conf *c = sv->conf;
    const struct direction *d = &sv->dir;
    struct apply_options ao = {.conf = c,
                               .dsn = d->to_dsn,
                               .role = d->to_role,
                               .from_role = d->from_role,
                               .origin = d->origin,
                               .other_origin = d->other_origin,
                               .schemas = c->schemas,
                               .careful = sv->careful,
                               .careful_until = sv->careful_until,
                               .stop_at = sv->ro.stop_at,
                               .busy_final = sv->busy_final};
    struct stream_options so = {d->from_dsn, d->from_role, d->slot, c->schemas, NULL, 0,
                                c->connect_timeout_ms, sv->busy_final};
    char filter[32];
    struct stream stream;
    struct reader_job rj;
    struct apply_job aj;
    pthread_t rt, at;
    enum pgconn_failure failure;
    enum session_outcome out;
    struct apply *a;
    char src[256], dst[256];

    *started = false;
    atomic_store(&sv->st.reverse, d->reverse);
    ring_reset(&sv->ring);
    atomic_store(&sv->st.stop, false);
    atomic_store(&sv->st.reader_idle, false);
    atomic_store(&sv->st.applier_idle, false);
    ring_clear(sv->st.stop_fd);
    ring_clear(sv->st.done_fd);

    a = apply_open(&ao, &sv->st, &sv->ring, &failure);
    if (a == NULL)
        return failure == PGCONN_TRANSIENT ? SESSION_TRANSIENT
               : failure == PGCONN_BUSY    ? SESSION_BUSY
                                           : SESSION_FATAL;
    so.start = apply_start_lsn(a);
    /* leave out what the other direction applied: its origin's id there */
    if (!ensure_monitor(sv, true) || !direction_filter(d, sv->monitor, filter, sizeof(filter)))
    {
        apply_close(a);
        return SESSION_TRANSIENT;
    }
    so.filter_origins = filter;
    if (so.start == LSN_INVALID)
    {
        /* a new origin: the slot's own position is where this stream stands,
         * and the lag lines count from there */
        const char *params[1] = {d->slot};
        PGresult *res = PQexecParams(sv->monitor,
                                     "SELECT confirmed_flush_lsn FROM pg_catalog.pg_replication_slots "
                                     "WHERE slot_name = $1",
                                     1, NULL, params, NULL, NULL, 0);
        lsn_t slot_at = LSN_INVALID;

        if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1 &&
            !PQgetisnull(res, 0, 0))
            lsn_parse(PQgetvalue(res, 0, 0), (size_t) PQgetlength(res, 0, 0), &slot_at);
        PQclear(res);
        if (atomic_load(&sv->st.applied) < slot_at)
            atomic_store(&sv->st.applied, slot_at);
    }
    if (!stream_open(&stream, &so, &failure))
    {
        apply_close(a);
        return failure == PGCONN_TRANSIENT ? SESSION_TRANSIENT
               : failure == PGCONN_BUSY    ? SESSION_BUSY
                                           : SESSION_FATAL;
    }
    *started = true;
    atomic_fetch_add(&sv->st.sessions, 1);
    atomic_store(&sv->st.streaming, true);
    log_info("streaming slot \"%s\" from the %s (%s) into the %s (%s) from " LSN_FMT "%s",
             d->slot, d->from_role, pgconn_describe(stream.conn, src, sizeof(src)), d->to_role,
             apply_describe(a, dst, sizeof(dst)), LSN_ARGS(so.start),
             sv->careful ? ", one change at a time" : "");

    rj = (struct reader_job){&stream, sv, READER_STOPPED, false};
    aj = (struct apply_job){a, sv, APPLY_STOPPED, false};
    if (pthread_create(&at, NULL, apply_thread, &aj) != 0)
    {
        log_error("could not start the applier thread: %s", strerror(errno));
        stream_close(&stream, LSN_INVALID);
        apply_close(a);
        return SESSION_FATAL;
    }
    if (pthread_create(&rt, NULL, reader_thread, &rj) != 0)
    {
        log_error("could not start the reader thread: %s", strerror(errno));
        request_stop(sv);
        pthread_join(at, NULL);
        stream_close(&stream, atomic_load(&sv->st.durable));
        apply_close(a);
        return SESSION_FATAL;
    }

    while (!(atomic_load(&rj.done) && atomic_load(&aj.done)))
    {
        struct pollfd fds[2] = {{sv->sig_fd, POLLIN, 0}, {sv->st.done_fd, POLLIN, 0}};
        int timeout = -1;

        if (c->lag_interval_ms > 0)
        {
            int64_t left = sv->last_line + c->lag_interval_ms * 1000 - stream_now_us();

            timeout = left > 0 ? (int) (left / 1000) + 1 : 0;
        }
        if (timeout < 0 || timeout > 1000)
            timeout = 1000; /* the sequences, now and then */
        if (poll(fds, 2, timeout) < 0 && errno != EINTR)
        {
            log_error("could not wait: %s", strerror(errno));
            request_stop(sv);
        }
        if ((fds[0].revents & POLLIN) && read_signals(sv))
        {
            sv->signalled = true;
            request_stop(sv);
        }
        if (fds[1].revents & POLLIN)
        {
            ring_clear(sv->st.done_fd);
            request_stop(sv); /* one thread ended: the other follows */
        }
        if (c->lag_interval_ms > 0 &&
            stream_now_us() - sv->last_line >= c->lag_interval_ms * 1000 &&
            !atomic_load(&sv->st.stop))
            lag_line(sv);
        if (!atomic_load(&sv->st.stop))
        {
            sync_sequences(sv, false);
            sample(sv);
            check_switch(sv);
        }
    }
    pthread_join(rt, NULL);
    pthread_join(at, NULL);
    atomic_store(&sv->st.streaming, false);

    /* the last word to the slot: what is durable on the target */
    stream_close(&stream, atomic_load(&sv->st.durable));
    if (aj.out == APPLY_STOPPED || aj.out == APPLY_REACHED)
        sync_sequences(sv, true);
    if (aj.out == APPLY_SWITCH)
        snprintf(sv->switch_token, sizeof(sv->switch_token), "%s", apply_switch_token(a));
    if (aj.out == APPLY_REFUSED)
        sv->careful_until = apply_refused_lsn(a);
    else if (sv->careful && atomic_load(&sv->st.applied) > sv->careful_until)
        sv->careful = false;
    apply_close(a);

    if (aj.out == APPLY_FATAL || rj.out == READER_FATAL)
        out = SESSION_FATAL;
    else if (aj.out == APPLY_REACHED)
        out = SESSION_REACHED;
    else if (aj.out == APPLY_SWITCH)
        out = SESSION_SWITCH;
    else if (aj.out == APPLY_REFUSED)
        out = SESSION_REFUSED;
    else if (aj.out == APPLY_TRANSIENT || rj.out == READER_TRANSIENT)
        out = SESSION_TRANSIENT;
    else
        out = SESSION_STOPPED;
    if (sv->signalled && out != SESSION_FATAL)
        out = SESSION_STOPPED;
    return out;
}

/* ---- the command ------------------------------------------------------ */

static void
run_usage(FILE *out)
{
    fputs("usage: memori-bridge run [--reverse | --direction forward|reverse] [--stop-at LSN]\n"
          "                         [options]\n"
          "\n"
          "Streams the slot from the source and applies every change of the schemas to\n"
          "the target, continuously, exactly once, in commit order. A lag line every\n"
          "--lag-interval. SIGINT or SIGTERM stops it cleanly (exit 0). When a cutover\n"
          "(or a rollback) switches the direction, it follows: after the switch marker it\n"
          "streams the other way, in the same process.\n"
          "\n"
          "  --reverse       check that memori lives on the target (after a cutover), and\n"
          "                  stream back: the target's slot <slot>_reverse into the source.\n"
          "                  Without it, run streams whichever way the last cutover or\n"
          "                  rollback set\n"
          "  --direction forward|reverse\n"
          "                  stream this way whatever the switch record says (recovery,\n"
          "                  two-way tests); a switch made later still turns it around\n"
          "  --stop-at LSN   exit 0 once everything up to LSN is durably applied\n"
          "  --metrics-addr HOST:PORT  serve Prometheus metrics at http://HOST:PORT/metrics\n"
          "\n"
          "The target's tables must exist (memori-bridge init creates them) and the\n"
          "slot too. Settings (see memori-bridge --help) may stand anywhere.\n",
          out);
}

/* Sleep DELAY_MS, or less when a stop signal comes. Returns false on a signal. */
static bool
backoff_sleep(struct supervisor *sv, int64_t delay_ms)
{
    struct pollfd fd = {sv->sig_fd, POLLIN, 0};

    if (poll(&fd, 1, (int) delay_ms) > 0 && read_signals(sv))
    {
        sv->signalled = true;
        return false;
    }
    return true;
}

static void
drop_monitors(struct supervisor *sv)
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

/* After a switch marker: wait for the cutover (or rollback) that wrote it to
 * finish, then stream whichever way memori_bridge.switch says. Returns false
 * on a stop signal or when the record cannot be read for too long. */
static bool
hand_over(struct supervisor *sv)
{
    int64_t start = stream_now_us(), last_note = start;
    PGconn *target = NULL;

    log_info("waiting for the switch to finish (the %s is fenced and drained)",
             sv->dir.from_role);
    for (;;)
    {
        bool exists = false, reverse = false;
        char phase[16] = "";

        if (target == NULL)
            target = pgconn_open(sv->conf->target, "target", PGCONN_SQL, "memori-bridge monitor",
                                 sv->conf->connect_timeout_ms, NULL);
        if (target != NULL && !direction_read_switch(target, sv->conf->slot, &exists, &reverse,
                                                     phase, sizeof(phase)))
        {
            PQfinish(target);
            target = NULL;
        }
        if (exists && strcmp(phase, "switching") != 0)
        {
            bool was = sv->dir.reverse;

            if (target != NULL)
                PQfinish(target);
            drop_monitors(sv);
            direction_init(&sv->dir, sv->conf, reverse);
            if (reverse != was)
                log_info("the switch is done: streaming %s now, from the %s into the %s",
                         direction_name(&sv->dir), sv->dir.from_role, sv->dir.to_role);
            else
                log_info("the switch was called off: streaming %s again",
                         direction_name(&sv->dir));
            return true;
        }
        if (stream_now_us() - start > sv->conf->switch_timeout_ms * 1000)
        {
            /* whoever switched is gone: keep streaming the way we were */
            log_warning("no word from the switch for %.0f s; streaming %s again",
                        (double) sv->conf->switch_timeout_ms / 1000, direction_name(&sv->dir));
            if (target != NULL)
                PQfinish(target);
            return true;
        }
        if (stream_now_us() - last_note > 10000000)
        {
            log_info("still waiting for the switch to finish");
            last_note = stream_now_us();
        }
        if (!backoff_sleep(sv, 50))
        {
            if (target != NULL)
                PQfinish(target);
            return false;
        }
    }
}

/* The session loop: start, restart after failures with backoff, follow
 * switches. Returns the exit status. */
static int
supervise(struct supervisor *sv)
{
    const struct conf *conf = sv->conf;
    int64_t delay = conf->reconnect_min_ms, busy_since = 0;
    unsigned attempt = 0;
    bool ever_started = false;

    for (;;)
    {
        bool started;
        int64_t began = stream_now_us();
        enum session_outcome out = run_session(sv, &started);

        ever_started |= started;
        if (out != SESSION_BUSY)
            busy_since = 0;
        switch (out)
        {
            case SESSION_BUSY:
                /* a bridge killed a moment ago may still hold it: wait a little */
                if (busy_since == 0)
                {
                    busy_since = began;
                    log_info("the slot or origin is in use; waiting up to %.1f s for it",
                             (double) conf->busy_timeout_ms / 1000);
                }
                if (stream_now_us() - busy_since >= conf->busy_timeout_ms * 1000)
                    sv->busy_final = true;
                else if (!backoff_sleep(sv, 250))
                    return 0;
                continue;
            case SESSION_STOPPED:
                if (sv->follow && !sv->signalled)
                {
                    sv->follow = false;
                    drop_monitors(sv);
                    direction_init(&sv->dir, conf, !sv->dir.reverse);
                    sv->careful = false;
                    continue;
                }
                log_info("stopped; slot \"%s\" is confirmed up to " LSN_FMT, sv->dir.slot,
                         LSN_ARGS(atomic_load(&sv->st.durable)));
                return 0;
            case SESSION_REACHED:
                log_info("reached " LSN_FMT ": everything up to it is applied and durable",
                         LSN_ARGS(sv->ro.stop_at));
                return 0;
            case SESSION_FATAL:
                return 1;
            case SESSION_REFUSED:
                sv->careful = true;
                continue;
            case SESSION_SWITCH:
                if (sv->drain)
                    return 0;
                if (!hand_over(sv))
                    return 0;
                sv->careful = false;
                delay = conf->reconnect_min_ms;
                attempt = 0;
                continue;
            case SESSION_TRANSIENT:
                break;
        }
        if (!ever_started)
            return 1; /* never got going: a wrong address is not worth waiting for */
        atomic_fetch_add(&sv->st.reconnects, 1);
        if (stream_now_us() - began > conf->reconnect_max_ms * 1000)
        {
            delay = conf->reconnect_min_ms; /* it ran for a while: start over */
            attempt = 0;
        }
        attempt++;
        {
            /* exponential, with up to 25 % jitter either way */
            int64_t jitter = delay / 4;
            int64_t wait = delay - jitter + (jitter > 0 ? random() % (2 * jitter + 1) : 0);

            log_info("reconnecting in %.1f s (attempt %u)", (double) wait / 1000, attempt);
            if (!backoff_sleep(sv, wait))
            {
                log_info("stopped while waiting to reconnect");
                return 0;
            }
            delay = delay * 2 > conf->reconnect_max_ms ? conf->reconnect_max_ms : delay * 2;
        }
    }
}

/* Set up the supervisor's fds and ring. SIG_FD: an existing signalfd, or -1
 * to make one for SIGINT, SIGTERM and SIGHUP. */
static bool
supervisor_init(struct supervisor *sv, const struct conf *conf, bool reverse, int sig_fd)
{
    sigset_t sigs;

    memset(sv, 0, sizeof(*sv));
    sv->conf = conf;
    sv->sig_fd = sv->st.stop_fd = sv->st.done_fd = -1;
    direction_init(&sv->dir, conf, reverse);
    if (sig_fd < 0)
    {
        sigemptyset(&sigs);
        sigaddset(&sigs, SIGINT);
        sigaddset(&sigs, SIGTERM);
        sigaddset(&sigs, SIGHUP);
        if (pthread_sigmask(SIG_BLOCK, &sigs, NULL) != 0 ||
            (sig_fd = signalfd(-1, &sigs, SFD_NONBLOCK | SFD_CLOEXEC)) < 0)
        {
            log_error("could not set up signals: %s", strerror(errno));
            return false;
        }
        sv->own_sig_fd = true;
    }
    sv->sig_fd = sig_fd;
    if ((sv->st.stop_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) < 0 ||
        (sv->st.done_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) < 0)
    {
        log_error("could not create an eventfd: %s", strerror(errno));
        return false;
    }
    if (!ring_init(&sv->ring, (uint32_t) conf->ring_batches, (size_t) conf->ring_batch_bytes))
        return false;
    atomic_store(&sv->st.lag_bytes, -1);
    atomic_store(&sv->st.lag_us, -1);
    sv->last_line = stream_now_us();
    srandom((unsigned) (time(NULL) ^ getpid()));
    return true;
}

static void
supervisor_free(struct supervisor *sv)
{
    drop_monitors(sv);
    ring_destroy(&sv->ring);
    if (sv->own_sig_fd && sv->sig_fd >= 0)
        close(sv->sig_fd);
    if (sv->st.stop_fd >= 0)
        close(sv->st.stop_fd);
    if (sv->st.done_fd >= 0)
        close(sv->st.done_fd);
}

int
run_drain(const struct conf *conf, bool reverse, lsn_t stop_at, int sig_fd)
{
    struct supervisor sv;
    int status = 1;

    if (supervisor_init(&sv, conf, reverse, sig_fd))
    {
        sv.drain = true;
        sv.ro.stop_at = stop_at;
        status = supervise(&sv);
        if (sv.signalled)
            status = 2;
    }
    supervisor_free(&sv);
    return status;
}

int
cmd_run(int argc, char **argv, const struct conf *conf)
{
    struct supervisor sv;
    bool reverse = false, forced = false;
    lsn_t stop_at = LSN_INVALID;
    int i, status = 1;

    for (i = 1; i < argc; i++)
    {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0)
        {
            run_usage(stdout);
            return 0;
        }
        if (strcmp(argv[i], "--stop-at") == 0 && i + 1 < argc)
        {
            i++;
            if (!lsn_parse(argv[i], strlen(argv[i]), &stop_at) || stop_at == LSN_INVALID)
            {
                log_error("run: \"%s\" is not an LSN (write it as PostgreSQL does: 0/16B3748)",
                          argv[i]);
                return EXIT_USAGE;
            }
            continue;
        }
        if (strcmp(argv[i], "--reverse") == 0)
        {
            reverse = true;
            continue;
        }
        if (strcmp(argv[i], "--direction") == 0 && i + 1 < argc &&
            (strcmp(argv[i + 1], "forward") == 0 || strcmp(argv[i + 1], "reverse") == 0))
        {
            reverse = strcmp(argv[++i], "reverse") == 0;
            forced = true;
            continue;
        }
        if (strcmp(argv[i], "--direction") == 0)
        {
            log_error("run: --direction takes forward or reverse");
            run_usage(stderr);
            return EXIT_USAGE;
        }
        log_error("run: unknown option \"%s\"", argv[i]);
        run_usage(stderr);
        return EXIT_USAGE;
    }
    if (!conf_require_dsns(conf, "run"))
        return EXIT_USAGE;
    if (conf->metrics_addr != NULL && conf->metrics_addr[0] != '\0')
    {
        char host[256], port[8];

        if (!metrics_parse_addr(conf->metrics_addr, host, sizeof(host), port, sizeof(port)))
        {
            log_error("run: metrics_addr \"%s\" is not HOST:PORT; write it as 127.0.0.1:9187 "
                      "(or [::1]:9187)",
                      conf->metrics_addr);
            return EXIT_USAGE;
        }
    }

    log_set_timestamps(true);
    log_set_json(conf->log_format == CONF_LOG_JSON);

    /* the way memori flows now: the switch record of the last cutover or
     * rollback (or of the one under way, which still names the old way) */
    if (!forced)
    {
        PGconn *target = pgconn_open(conf->target, "target", PGCONN_SQL, "memori-bridge monitor",
                                     conf->connect_timeout_ms, NULL);
        bool exists = false, switched = false;
        char phase[16] = "";

        if (target == NULL)
            return 1;
        if (!direction_read_switch(target, conf->slot, &exists, &switched, phase, sizeof(phase)))
        {
            PQfinish(target);
            return 1;
        }
        PQfinish(target);
        if (reverse && !(exists && switched))
        {
            log_error("run --reverse: memori lives on the source (no cutover is recorded on the "
                      "target), so nothing streams back; run without --reverse streams it "
                      "forward");
            return 1;
        }
        if (exists && switched && !reverse)
            log_info("memori lives on the target since a cutover (memori_bridge.switch): streaming "
                     "back, from the target into the source");
        reverse = exists && switched;
    }

    if (supervisor_init(&sv, conf, reverse, -1))
    {
        struct metrics *m = NULL;

        sv.ro.stop_at = stop_at;
        atomic_store(&sv.st.reverse, reverse);
        if (conf->metrics_addr == NULL || conf->metrics_addr[0] == '\0' ||
            (m = metrics_start(conf, &sv.st, &sv.ring)) != NULL)
            status = supervise(&sv);
        metrics_stop(m);
    }
    supervisor_free(&sv);
    return status;
}
