/*
 * run.c - the supervisor of "run": sessions, signals, reconnection, switches.
 *
 * A session is one target connection (the applier), one replication
 * connection (the reader), and their two threads, joined by the ring. The
 * main thread starts a session from the committed progress, prints a lag line
 * every lag_interval (run_monitor.c), and waits for a signal or for a thread to end.
 * When either thread ends, the other is stopped at its next safe point, the
 * last durable position is confirmed to the slot, and the outcome decides
 * what comes next: stop (exit 0), replay carefully (a refused group), wait and
 * reconnect (a lost connection), or give up (exit 1).
 *
 * A lost link (the reader's or the applier's, or one a session cannot open)
 * is recorded as such (run_set_link): while it is down the metrics say
 * streaming 0 with a lag that keeps growing, the waits between attempts go on
 * sampling and printing lag lines, and the side that is still reachable is
 * told which link is down. A server process the lost session left behind,
 * which the server only ends once it notices, may still hold the slot or the
 * claim on the direction: the next session ends it (peer_end_backend).
 *
 * SIGINT and SIGTERM are blocked in every thread and read here through a
 * signalfd, so no code runs in a signal handler.
 */
#include "bridge/cmd/run.h"
#include "bridge/cmd/run_int.h"

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

#include "bridge/base/clock.h"
#include "bridge/base/lag.h"
#include "bridge/base/log.h"
#include "bridge/base/secret.h"
#include "bridge/pg/direction.h"
#include "bridge/pg/peer.h"
#include "bridge/pg/seqsync.h"
#include "bridge/streaming/apply.h"
#include "bridge/streaming/metrics.h"
#include "bridge/streaming/reader.h"
#include "bridge/streaming/ring.h"
#include "bridge/streaming/state.h"
#include "bridge/streaming/stream.h"

#define EXIT_USAGE 2

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

/* The first thread to lose its connection names its link. */
static void
lost(struct run_state *st, int link)
{
    int none = STATE_LINK_NONE;

    if (atomic_compare_exchange_strong(&st->lost, &none, link))
        atomic_store(&st->lost_us, clock_wall_us());
}

static void *
reader_thread(void *arg)
{
    struct reader_job *j = arg;

    j->out = reader_run(j->stream, &j->sv->ring, &j->sv->st, j->sv->conf);
    if (j->out == READER_TRANSIENT)
        lost(&j->sv->st, STATE_LINK_FROM);
    atomic_store(&j->done, true);
    signal_fd(j->sv->st.done_fd);
    return NULL;
}

static void *
apply_thread(void *arg)
{
    struct apply_job *j = arg;

    j->out = apply_run(j->apply);
    if (j->out == APPLY_TRANSIENT && apply_link_lost(j->apply))
        lost(&j->sv->st, STATE_LINK_TO);
    atomic_store(&j->done, true);
    signal_fd(j->sv->st.done_fd);
    return NULL;
}

void
run_request_stop(struct supervisor *sv)
{
    if (!atomic_exchange(&sv->st.stop, true))
        signal_fd(sv->st.stop_fd);
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
                               .busy_final = sv->busy_final,
                               .from_dsn = d->from_dsn};
    struct schema_stop stop;
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
    atomic_store(&sv->st.lost, STATE_LINK_NONE);
    atomic_store(&sv->st.lost_us, 0);
    ring_clear(sv->st.stop_fd);
    ring_clear(sv->st.done_fd);

    /* whether at all, and never across a gap; before anything is made */
    if (!run_check_sides(sv, filter, sizeof(filter), &out))
        return out;
    /* a stop the periodic check found is checked again at once */
    if (schema_stop_get(&sv->st.schema, &stop, NULL) && stop.key[0] != '\0')
        ao.stop_key = stop.key;
    a = apply_open(&ao, &sv->st, &sv->ring, &failure);
    if (a == NULL)
    {
        if (failure == PGCONN_TRANSIENT)
            run_set_link(sv, STATE_LINK_TO);
        return failure == PGCONN_TRANSIENT ? SESSION_TRANSIENT
               : failure == PGCONN_BUSY    ? SESSION_BUSY
                                           : SESSION_FATAL;
    }
    so.start = apply_start_lsn(a);
    so.filter_origins = filter;
    if (so.start == LSN_INVALID && run_ensure_monitor(sv, true))
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
        if (failure == PGCONN_TRANSIENT)
            run_set_link(sv, STATE_LINK_FROM);
        else if (failure == PGCONN_BUSY)
            sv->prev_pid[1] = 0; /* the new claim is ours: only the slot may be held */
        apply_close(a);
        return failure == PGCONN_TRANSIENT ? SESSION_TRANSIENT
               : failure == PGCONN_BUSY    ? SESSION_BUSY
                                           : SESSION_FATAL;
    }
    *started = true;
    sv->prev_pid[0] = PQbackendPID(stream.conn);
    sv->prev_pid[1] = apply_backend_pid(a);
    sv->prev_opened = clock_now_us();
    sv->prev_lost = false;
    atomic_store(&sv->st.contact_us, clock_now_us());
    atomic_fetch_add(&sv->st.sessions, 1);
    atomic_store(&sv->st.streaming, true);
    run_set_link(sv, STATE_LINK_NONE);
    /* (while a schema stop holds, every try says so: once is enough) */
    log_msg(schema_stop_get(&sv->st.schema, NULL, NULL) ? LOG_DEBUG : LOG_INFO,
            "streaming slot \"%s\" from the %s (%s) into the %s (%s) from " LSN_FMT "%s", d->slot,
            d->from_role, pgconn_describe(stream.conn, src, sizeof(src)), d->to_role,
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
        run_request_stop(sv);
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
            int64_t left = sv->last_line + c->lag_interval_ms * 1000 - clock_now_us();

            timeout = left > 0 ? (int) (left / 1000) + 1 : 0;
        }
        if (timeout < 0 || timeout > 1000)
            timeout = 1000; /* the sequences, now and then */
        if (poll(fds, 2, timeout) < 0 && errno != EINTR)
        {
            log_error("could not wait: %s", strerror(errno));
            run_request_stop(sv);
        }
        if ((fds[0].revents & POLLIN) && read_signals(sv))
        {
            sv->signalled = true;
            run_request_stop(sv);
        }
        if (fds[1].revents & POLLIN)
        {
            ring_clear(sv->st.done_fd);
            run_request_stop(sv); /* one thread ended: the other follows */
            if (atomic_load(&sv->st.lost) != STATE_LINK_NONE)
            {
                atomic_store(&sv->st.streaming, false);
                run_set_link(sv, atomic_load(&sv->st.lost));
            }
        }
        if (c->lag_interval_ms > 0 &&
            clock_now_us() - sv->last_line >= c->lag_interval_ms * 1000 &&
            !atomic_load(&sv->st.stop))
            run_lag_line(sv);
        if (!atomic_load(&sv->st.stop))
        {
            run_sync_sequences(sv, false);
            run_sample(sv);
            run_check_switch(sv);
            run_schema_watch(sv);
        }
    }
    pthread_join(rt, NULL);
    pthread_join(at, NULL);
    atomic_store(&sv->st.streaming, false);

    /* the last word to the slot: what is durable on the target */
    stream_close(&stream, atomic_load(&sv->st.durable));
    if (aj.out == APPLY_STOPPED || aj.out == APPLY_REACHED)
        run_sync_sequences(sv, true);
    if (aj.out == APPLY_SWITCH)
        snprintf(sv->switch_token, sizeof(sv->switch_token), "%s", apply_switch_token(a));
    if (aj.out == APPLY_SCHEMA)
    {
        apply_schema_stop(a, &stop);
        run_schema_stopped(sv, &stop);
    }
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
    else if (aj.out == APPLY_SCHEMA)
        out = SESSION_SCHEMA;
    else if (aj.out == APPLY_TRANSIENT || rj.out == READER_TRANSIENT)
        out = SESSION_TRANSIENT;
    else
        out = SESSION_STOPPED;
    if (sv->signalled && out != SESSION_FATAL)
        out = SESSION_STOPPED;
    if (out == SESSION_TRANSIENT && atomic_load(&sv->st.lost) != STATE_LINK_NONE)
    {
        run_set_link(sv, atomic_load(&sv->st.lost));
        sv->prev_lost = true;
    }
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

/* Wait DELAY_MS between sessions, sampling as a session does (lag lines, the
 * metrics' figures, the status row), or less when a stop signal comes.
 * Returns false on a signal. */
static bool
watch_sleep(struct supervisor *sv, int64_t delay_ms)
{
    int64_t end = clock_now_us() + delay_ms * 1000;

    for (;;)
    {
        int64_t left = end - clock_now_us();

        if (left <= 0)
            return true;
        if (!backoff_sleep(sv, left > 1000000 ? 1000 : (left + 999) / 1000))
            return false;
        if (sv->conf->lag_interval_ms > 0 &&
            clock_now_us() - sv->last_line >= sv->conf->lag_interval_ms * 1000)
            run_lag_line(sv);
        run_sample(sv);
    }
}

/* After a switch marker: wait for the cutover (or rollback) that wrote it to
 * finish, then stream whichever way memori_bridge.switch says. Returns false
 * on a stop signal or when the record cannot be read for too long. */
static bool
hand_over(struct supervisor *sv)
{
    int64_t start = clock_now_us(), last_note = start;
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
            run_drop_monitors(sv);
            direction_init(&sv->dir, sv->conf, reverse);
            if (reverse != was)
                log_info("the switch is done: streaming %s now, from the %s into the %s",
                         direction_name(&sv->dir), sv->dir.from_role, sv->dir.to_role);
            else
                log_info("the switch was called off: streaming %s again",
                         direction_name(&sv->dir));
            return true;
        }
        if (clock_now_us() - start > sv->conf->switch_timeout_ms * 1000)
        {
            /* whoever switched is gone: keep streaming the way we were */
            log_warning("no word from the switch for %.0f s; streaming %s again",
                        (double) sv->conf->switch_timeout_ms / 1000, direction_name(&sv->dir));
            if (target != NULL)
                PQfinish(target);
            return true;
        }
        if (clock_now_us() - last_note > 10000000)
        {
            log_info("still waiting for the switch to finish");
            last_note = clock_now_us();
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
        int64_t began = clock_now_us();
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
                if (run_end_lost_session(sv))
                    continue; /* it held it: try again at once */
                if (clock_now_us() - busy_since >= conf->busy_timeout_ms * 1000)
                    sv->busy_final = true;
                else if (!backoff_sleep(sv, 250))
                    return 0;
                continue;
            case SESSION_STOPPED:
                if (sv->follow && !sv->signalled)
                {
                    sv->follow = false;
                    run_drop_monitors(sv);
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
            case SESSION_SCHEMA:
                /* the applied side needs a fix first: a drain or --stop-at
                 * cannot get there; a running bridge holds and tries again,
                 * and goes on once it is done */
                if (sv->drain || sv->ro.stop_at != LSN_INVALID)
                    return 1;
                if (!run_schema_hold(sv))
                    return 0;
                sv->careful = false;
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
        if (clock_now_us() - began > conf->reconnect_max_ms * 1000)
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
            if (!watch_sleep(sv, wait))
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
    pthread_mutex_init(&sv->st.schema.lock, NULL);
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
    sv->last_line = clock_now_us();
    srandom((unsigned) (time(NULL) ^ getpid()));
    return true;
}

static void
supervisor_free(struct supervisor *sv)
{
    run_schema_watch(sv); /* the record of a stop outlives the process; its end does not */
    run_drop_monitors(sv);
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
