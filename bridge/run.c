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
#include "bridge/lag.h"
#include "bridge/log.h"
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
    struct ring ring;
    struct run_state st;
    int sig_fd;               /* signalfd of SIGINT, SIGTERM, SIGHUP */
    bool signalled;           /* a stop signal came */
    bool careful;             /* the next session replays carefully */
    bool busy_final;          /* the next session reports a busy slot or origin */
    lsn_t careful_until;
    PGconn *monitor;          /* source connection for its current LSN (lag lines) */
    PGconn *tmonitor;         /* target connection for its sequences */
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

static lsn_t
source_lsn(struct supervisor *sv)
{
    PGresult *res;
    lsn_t lsn = LSN_INVALID;
    int64_t now = stream_now_us();

    if (sv->monitor == NULL)
    {
        if (now < sv->monitor_retry)
            return LSN_INVALID;
        sv->monitor = pgconn_open(sv->conf->source, "source", PGCONN_SQL,
                                  "memori-bridge monitor", sv->conf->connect_timeout_ms, NULL);
        if (sv->monitor == NULL)
        {
            sv->monitor_retry = now + 30 * INT64_C(1000000);
            return LSN_INVALID;
        }
    }
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

static void
lag_line(struct supervisor *sv)
{
    struct lag_sample s;
    struct timespec now;
    int64_t mono = stream_now_us(), commit_us;
    double dt = (double) (mono - sv->last_line) / 1e6;
    uint64_t changes = atomic_load(&sv->st.written), xacts = atomic_load(&sv->st.xacts);
    char text[512], json[768];

    memset(&s, 0, sizeof(s));
    s.applied = atomic_load(&sv->st.applied);
    s.durable = atomic_load(&sv->st.durable);
    s.source = source_lsn(sv);
    s.ring_fill = ring_fill(&sv->ring);
    s.ring_size = sv->ring.nbatches;
    /* caught up: nothing waiting on this side, and the server has sent up to
     * (nearly) the source's end of WAL; the slack covers the little the
     * server writes by itself between its keepalive and this query */
    s.caught_up = atomic_load(&sv->st.reader_idle) && atomic_load(&sv->st.applier_idle) &&
                  s.ring_fill == 0 &&
                  (s.source == LSN_INVALID ||
                   atomic_load(&sv->st.server_end) + CAUGHT_UP_SLACK >= s.source);
    if (s.source == LSN_INVALID)
        s.lag_bytes = -1;
    else
        s.lag_bytes = s.source > s.applied ? (int64_t) (s.source - s.applied) : 0;
    commit_us = atomic_load(&sv->st.applied_commit_us);
    clock_gettime(CLOCK_REALTIME, &now);
    if (s.caught_up)
        s.lag_seconds = 0;
    else if (commit_us != 0)
    {
        s.lag_seconds = ((double) now.tv_sec * 1e6 + (double) now.tv_nsec / 1e3 -
                         (double) commit_us) /
                        1e6;
        if (s.lag_seconds < 0)
            s.lag_seconds = 0;
    }
    else
        s.lag_seconds = -1;
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
    if (sv->monitor == NULL && source_lsn(sv) == LSN_INVALID)
        return;
    if (sv->tmonitor == NULL || PQstatus(sv->tmonitor) != CONNECTION_OK)
    {
        if (sv->tmonitor != NULL)
            PQfinish(sv->tmonitor);
        sv->tmonitor = pgconn_open(sv->conf->target, "target", PGCONN_SQL,
                                   "memori-bridge monitor", sv->conf->connect_timeout_ms, NULL);
        if (sv->tmonitor == NULL)
            return;
    }
    if (sv->monitor != NULL && seq_sync(sv->monitor, sv->tmonitor, sv->conf->schemas, true) < 0)
        log_warning("could not bring the target's sequences up to the source's; cutover will");
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
    struct apply_options ao = {c,         c->target,           c->slot,
                               c->schemas, sv->careful,         sv->careful_until,
                               sv->ro.stop_at, sv->busy_final};
    struct stream_options so = {c->source, "source", c->slot, c->schemas, NULL, 0,
                                c->connect_timeout_ms, sv->busy_final};
    struct stream stream;
    struct reader_job rj;
    struct apply_job aj;
    pthread_t rt, at;
    enum pgconn_failure failure;
    enum session_outcome out;
    struct apply *a;
    char src[256], dst[256];

    *started = false;
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
    if (!stream_open(&stream, &so, &failure))
    {
        apply_close(a);
        return failure == PGCONN_TRANSIENT ? SESSION_TRANSIENT
               : failure == PGCONN_BUSY    ? SESSION_BUSY
                                           : SESSION_FATAL;
    }
    *started = true;
    log_info("streaming slot \"%s\" from the source (%s) into the target (%s) from " LSN_FMT "%s",
             c->slot, pgconn_describe(stream.conn, src, sizeof(src)),
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
            sync_sequences(sv, false);
    }
    pthread_join(rt, NULL);
    pthread_join(at, NULL);

    /* the last word to the slot: what is durable on the target */
    stream_close(&stream, atomic_load(&sv->st.durable));
    if (aj.out == APPLY_STOPPED || aj.out == APPLY_REACHED)
        sync_sequences(sv, true);
    if (aj.out == APPLY_REFUSED)
        sv->careful_until = apply_refused_lsn(a);
    else if (sv->careful && atomic_load(&sv->st.applied) > sv->careful_until)
        sv->careful = false;
    apply_close(a);

    if (aj.out == APPLY_FATAL || rj.out == READER_FATAL)
        out = SESSION_FATAL;
    else if (aj.out == APPLY_REACHED)
        out = SESSION_REACHED;
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
    fputs("usage: memori-bridge run [--stop-at LSN] [options]\n"
          "\n"
          "Streams the slot from the source and applies every change of the schemas to\n"
          "the target, continuously, exactly once, in commit order. A lag line every\n"
          "--lag-interval. SIGINT or SIGTERM stops it cleanly (exit 0).\n"
          "\n"
          "  --stop-at LSN   exit 0 once everything up to LSN is durably applied\n"
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

int
cmd_run(int argc, char **argv, const struct conf *conf)
{
    struct supervisor sv;
    sigset_t sigs;
    int i, status = 1;
    int64_t delay;
    unsigned attempt = 0;
    bool ever_started = false;
    int64_t busy_since = 0;

    memset(&sv, 0, sizeof(sv));
    sv.conf = conf;
    sv.sig_fd = sv.st.stop_fd = sv.st.done_fd = -1;
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
            if (!lsn_parse(argv[i], strlen(argv[i]), &sv.ro.stop_at) ||
                sv.ro.stop_at == LSN_INVALID)
            {
                log_error("run: \"%s\" is not an LSN (write it as PostgreSQL does: 0/16B3748)",
                          argv[i]);
                return EXIT_USAGE;
            }
            continue;
        }
        if (strcmp(argv[i], "--reverse") == 0)
        {
            log_error("run: --reverse is not built yet in this version");
            return 1;
        }
        log_error("run: unknown option \"%s\"", argv[i]);
        run_usage(stderr);
        return EXIT_USAGE;
    }
    if (!conf_require_dsns(conf, "run"))
        return EXIT_USAGE;

    log_set_timestamps(true);
    log_set_json(conf->log_format == CONF_LOG_JSON);
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGHUP);
    if (pthread_sigmask(SIG_BLOCK, &sigs, NULL) != 0 ||
        (sv.sig_fd = signalfd(-1, &sigs, SFD_NONBLOCK | SFD_CLOEXEC)) < 0 ||
        (sv.st.stop_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) < 0 ||
        (sv.st.done_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) < 0)
    {
        log_error("could not set up signals and events: %s", strerror(errno));
        goto done;
    }
    if (!ring_init(&sv.ring, (uint32_t) conf->ring_batches, (size_t) conf->ring_batch_bytes))
        goto done;
    sv.last_line = stream_now_us();
    srandom((unsigned) (time(NULL) ^ getpid()));
    delay = conf->reconnect_min_ms;

    for (;;)
    {
        bool started;
        int64_t began = stream_now_us();
        enum session_outcome out = run_session(&sv, &started);

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
                    sv.busy_final = true;
                else if (!backoff_sleep(&sv, 250))
                {
                    status = 0;
                    goto done;
                }
                continue;
            case SESSION_STOPPED:
                log_info("stopped; the slot is confirmed up to " LSN_FMT,
                         LSN_ARGS(atomic_load(&sv.st.durable)));
                status = 0;
                goto done;
            case SESSION_REACHED:
                log_info("reached " LSN_FMT ": everything up to it is applied and durable",
                         LSN_ARGS(sv.ro.stop_at));
                status = 0;
                goto done;
            case SESSION_FATAL:
                status = 1;
                goto done;
            case SESSION_REFUSED:
                sv.careful = true;
                continue;
            case SESSION_TRANSIENT:
                break;
        }
        if (!ever_started)
        {
            /* never got going: a wrong address is not worth waiting for */
            status = 1;
            goto done;
        }
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
            if (!backoff_sleep(&sv, wait))
            {
                log_info("stopped while waiting to reconnect");
                status = 0;
                goto done;
            }
            delay = delay * 2 > conf->reconnect_max_ms ? conf->reconnect_max_ms : delay * 2;
        }
    }
done:
    if (sv.monitor != NULL)
        PQfinish(sv.monitor);
    if (sv.tmonitor != NULL)
        PQfinish(sv.tmonitor);
    ring_destroy(&sv.ring);
    if (sv.sig_fd >= 0)
        close(sv.sig_fd);
    if (sv.st.stop_fd >= 0)
        close(sv.st.stop_fd);
    if (sv.st.done_fd >= 0)
        close(sv.st.done_fd);
    return status;
}
