/*
 * switch.c - cutover and rollback.
 *
 * NOTES
 *
 * Names: the side writers leave is A, the side they move to is B. For a
 * cutover A is the source and B the target, the old stream is forward and the
 * new one reverse; a rollback is the mirror image.
 *
 * Nothing is lost because of the order. The new slot exists on B before B is
 * unfenced, so B's first write is in it. A is fenced before the marker is
 * written, and the marker is transactional: when B's origin has passed it,
 * every write A accepted is on B. A running bridge sees the marker, commits
 * it at once, and waits on memori_bridge.switch (on the target) for the word
 * to stream the other way, or the old way when the switch is called off.
 *
 * The pause writers see runs from the fence on A to the unfence on B. Every
 * step on the way uses connections opened beforehand, and the drain watches
 * the origin every 10 ms, so the pause is a few round trips.
 */
#include "bridge/cmd/switch.h"
#include "bridge/cmd/switch_int.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>

#include "bridge/base/clock.h"
#include "bridge/base/failpoint.h"
#include "bridge/base/log.h"
#include "bridge/base/secret.h"
#include "bridge/cmd/address.h"
#include "bridge/cmd/run.h"
#include "bridge/cmd/verify.h"
#include "bridge/pg/direction.h"
#include "bridge/pg/fence.h"
#include "bridge/pg/pgconn.h"
#include "bridge/pg/preflight.h"
#include "bridge/pg/progress.h"
#include "bridge/pg/seqsync.h"

#define EXIT_USAGE     2
#define EXIT_REFUSED   3
#define DRAIN_POLL_US  10000

static void
sw_usage(FILE *out, const char *name)
{
    fprintf(out,
            "usage: memori-bridge %s [--verify full] [--terminate-writers] [--env-file FILE] "
            "[options]\n"
            "\n"
            "Moves the writers %s with a short pause and loses nothing: checks the\n"
            "lag, makes the other direction's slot, fences the side writers leave, drains the\n"
            "stream to a marker, sets the sequences, checks, unfences the side they move to\n"
            "and turns a running bridge around. Any failure puts everything back.\n"
            "\n"
            "  --verify full        a full verify during the pause (longer pause)\n"
            "  --terminate-writers  end transactions still writing when the fence goes up\n"
            "  --env-file FILE      write the new MEMORI_DATABASE_URL into FILE (not with\n"
            "                       --pgbouncer: the app's URL points at PgBouncer and stays)\n"
            "\n"
            "Settings: --max-lag-bytes, --max-lag, --fence-timeout, --drain-timeout.\n"
            "exit status: 0 done, 1 failed (everything put back), 2 usage, 3 refused (lag)\n",
            name,
            strcmp(name, "cutover") == 0 ? "from the source to the target"
                                         : "back from the target to the source");
}

/* ---- steps ------------------------------------------------------------ */

/* Drop SLOT on CONN once no process holds it (a stream that just ended may
 * hold it for a moment), waiting up to 5 s. Returns false when it could not. */
static bool
drop_slot(PGconn *conn, const char *slot)
{
    const char *params[1] = {slot};
    int i;

    for (i = 0; i < 250; i++)
    {
        PGresult *res = PQexecParams(conn,
                                     "SELECT pg_catalog.pg_drop_replication_slot(slot_name), "
                                     "       true FROM pg_catalog.pg_replication_slots "
                                     "WHERE slot_name = $1 AND NOT active "
                                     "UNION ALL SELECT NULL, NOT EXISTS (SELECT 1 FROM "
                                     "  pg_catalog.pg_replication_slots WHERE slot_name = $1)",
                                     1, NULL, params, NULL, NULL, 0);
        bool gone = PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) >= 1 &&
                    PQgetvalue(res, 0, 1)[0] == 't';

        PQclear(res);
        if (gone)
            return true;
        usleep(20000);
    }
    return false;
}

static void
step_begin(struct sw *s, int n, const char *name)
{
    s->step = n;
    s->step_name = name;
    s->t_step = clock_now_us();
}

void
switch_step_done(struct sw *s, const char *detail)
{
    log_info("%s step %d/8, %s: done in %.1f ms%s%s", s->name, s->step, s->step_name,
             (double) (clock_now_us() - s->t_step) / 1000, detail && *detail ? ": " : "",
             detail ? detail : "");
}

/* A failure injected after step N, or a signal: both put everything back. */
static bool
interrupted(struct sw *s)
{
    char fp[64];
    struct signalfd_siginfo si;

    snprintf(fp, sizeof(fp), "%s-after-%d", s->name, s->step);
    if (failpoint_fail(fp))
        return true;
    if (s->sig_fd >= 0 && read(s->sig_fd, &si, sizeof(si)) == (ssize_t) sizeof(si))
    {
        log_error("%s was interrupted (%s) at step %d", s->name,
                  si.ssi_signo == SIGINT ? "SIGINT" : "SIGTERM", s->step);
        return true;
    }
    return false;
}

static bool
lsn_value(PGconn *conn, const char *what, const char *sql, int n, const char *const *params,
          lsn_t *out)
{
    PGresult *res = pgconn_exec(conn, what, sql, n, params, NULL);

    *out = LSN_INVALID;
    if (res == NULL)
        return false;
    if (PQntuples(res) == 1 && !PQgetisnull(res, 0, 0))
        lsn_parse(PQgetvalue(res, 0, 0), strlen(PQgetvalue(res, 0, 0)), out);
    PQclear(res);
    return true;
}

/* A switch marker: a transactional logical message on CONN, in a transaction
 * of its own, that a stream of that side sees after everything before it. */
static bool
emit_marker(PGconn *conn, const char *token, const char *suffix, lsn_t *at)
{
    char content[128];
    const char *msg[1] = {content};

    snprintf(content, sizeof(content), "switch %s%s", token, suffix);
    return lsn_value(conn, "could not write the switch marker",
                     "SELECT pg_catalog.pg_logical_emit_message(true, 'memori_bridge', $1)", 1, msg,
                     at);
}

/* Before anything changes: can the new direction stream from B and apply
 * to A? A switch that succeeded and then left no way to stream is worse than
 * one refused. */
static bool
check_way(struct sw *s)
{
    struct preflight pf;
    struct preflight_side b = {.conn = s->b,
                               .dsn = s->b_dsn,
                               .connect_timeout_ms = s->conf->connect_timeout_ms,
                               .side = s->b_role,
                               .schemas = s->conf->schemas,
                               .slot = s->new_dir.slot,
                               .has_tables = true,
                               .stream = PREFLIGHT_NOW,
                               .apply = PREFLIGHT_NO};
    struct preflight_side a = {.conn = s->a,
                               .side = s->a_role,
                               .schemas = s->conf->schemas,
                               .slot = s->old_dir.slot,
                               .has_tables = true,
                               .stream = PREFLIGHT_NO,
                               .apply = PREFLIGHT_NOW};
    bool ok;

    preflight_init(&pf);
    ok = preflight_check(&pf, &b) && preflight_check(&pf, &a);
    if (ok)
        preflight_report(&pf);
    if (ok && pf.errors > 0)
    {
        log_error("%s refused: the %s stream that follows it (from the %s into the %s) could not "
                  "run; %d problem%s to fix first; nothing was changed",
                  s->name, direction_name(&s->new_dir), s->b_role, s->a_role, pf.errors,
                  pf.errors == 1 ? "" : "s");
        ok = false;
    }
    preflight_free(&pf);
    return ok;
}

/* 1. How far behind is the old stream? */
static int
check_lag(struct sw *s, bool *streaming)
{
    const char *slot[1] = {s->old_dir.slot};
    struct progress prog;
    lsn_t a_now, applied, slot_at = LSN_INVALID;
    double seconds = -1;
    int64_t bytes;
    PGresult *res;

    res = pgconn_exec(s->a, "could not read the slots",
                      "SELECT active, coalesce(confirmed_flush_lsn::text, '') "
                      "FROM pg_catalog.pg_replication_slots WHERE slot_name = $1",
                      1, slot, NULL);
    if (res == NULL)
        return 1;
    if (PQntuples(res) == 0)
    {
        PQclear(res);
        log_error("%s: slot \"%s\" does not exist on the %s: nothing streams %s now; %s", s->name,
                  s->old_dir.slot, s->a_role, direction_name(&s->old_dir),
                  s->to_target ? "run memori-bridge init first"
                               : "was there a cutover? (memori-bridge status shows the direction)");
        return 1;
    }
    *streaming = PQgetvalue(res, 0, 0)[0] == 't';
    if (PQgetlength(res, 0, 1) > 0)
        lsn_parse(PQgetvalue(res, 0, 1), (size_t) PQgetlength(res, 0, 1), &slot_at);
    PQclear(res);
    if (!lsn_value(s->a, "could not read the WAL position",
                   "SELECT pg_catalog.pg_current_wal_lsn()", 0, NULL, &a_now) ||
        !progress_read(s->b, s->b_role, s->old_dir.origin, &prog))
        return 1;
    applied = progress_position(&prog, slot_at);
    bytes = a_now > applied ? (int64_t) (a_now - applied) : 0;
    if (*streaming)
    {
        const char *p[2] = {s->old_dir.slot, direction_name(&s->old_dir)};

        res = PQexecParams(s->b,
                           "SELECT lag_seconds FROM memori_bridge.stream_status "
                           "WHERE slot = $1 AND direction = $2 AND lag_seconds IS NOT NULL "
                           "  AND updated_at > now() - interval '15 seconds'",
                           2, NULL, p, NULL, NULL, 0);
        if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1)
            seconds = strtod(PQgetvalue(res, 0, 0), NULL);
        PQclear(res);
    }
    if (bytes > s->conf->max_lag_bytes ||
        (seconds > 0 && seconds * 1000 > (double) s->conf->max_lag_ms))
    {
        log_error("%s refused: the %s stream is %lld bytes%s behind (limits %lld bytes, %.0f s); "
                  "let it catch up (watch its lag lines, or memori-bridge status), or raise "
                  "--max-lag-bytes / --max-lag",
                  s->name, direction_name(&s->old_dir), (long long) bytes,
                  seconds >= 0 ? " and that many seconds" : "",
                  (long long) s->conf->max_lag_bytes, (double) s->conf->max_lag_ms / 1000);
        return EXIT_REFUSED;
    }
    {
        char detail[200];

        snprintf(detail, sizeof(detail), "%lld bytes behind%s%s", (long long) bytes,
                 *streaming ? ", a bridge is streaming " : ", no bridge is running",
                 *streaming ? direction_name(&s->old_dir) : "");
        switch_step_done(s, detail);
    }
    return 0;
}

/* 2. The new direction's slot on B, and its origin on A. */
static bool
make_slot(struct sw *s)
{
    const char *slot[1] = {s->new_dir.slot};
    PGresult *res;
    char filter[32];

    res = pgconn_exec(s->b, "could not read the slots",
                      "SELECT active FROM pg_catalog.pg_replication_slots WHERE slot_name = $1", 1,
                      slot, NULL);
    if (res == NULL)
        return false;
    if (PQntuples(res) == 1)
    {
        bool active = PQgetvalue(res, 0, 0)[0] == 't';

        PQclear(res);
        if (active)
        {
            log_error("%s: slot \"%s\" on the %s is in use: is a bridge streaming %s already?",
                      s->name, s->new_dir.slot, s->b_role, direction_name(&s->new_dir));
            return false;
        }
        /* left by an earlier attempt: its position is stale, make it again */
        res = pgconn_exec(s->b, "could not drop the stale slot",
                          "SELECT pg_catalog.pg_drop_replication_slot($1)", 1, slot, NULL);
        if (res == NULL)
            return false;
    }
    PQclear(res);
    res = pgconn_exec(s->b, "could not create the slot for the other direction",
                      "SELECT lsn FROM pg_catalog.pg_create_logical_replication_slot($1, 'wal2json')",
                      1, slot, NULL);
    if (res == NULL)
        return false;
    s->made_slot = true;
    {
        char detail[200];
        lsn_t at = LSN_INVALID;

        snprintf(detail, sizeof(detail), "slot \"%s\" on the %s, at %s", s->new_dir.slot,
                 s->b_role, PQgetvalue(res, 0, 0));
        lsn_parse(PQgetvalue(res, 0, 0), (size_t) PQgetlength(res, 0, 0), &at);
        PQclear(res);
        /* the new direction goes on from the slot's start: everything B
         * wrote before it is on A already (A was where memori lived), and
         * what comes after, B's writers and the old direction's applied
         * changes, is in the slot (continuity.h) */
        if (!progress_set(s->a, s->a_role, s->new_dir.origin, at))
            return false;
        /* the new direction filters out the old one's applied changes: make
         * sure that origin exists on B (the new stream's source) */
        if (!direction_filter(&s->new_dir, s->b, filter, sizeof(filter)))
            return false;
        switch_step_done(s, detail);
    }
    return true;
}

/* 3. A refuses writes. */
static bool
fence_a(struct sw *s)
{
    char moved[300];
    struct fence_options fo = {s->a_role, s->conf->schemas,
                               address_describe(s->b_dsn, moved, sizeof(moved)),
                               s->conf->fence_timeout_ms, s->terminate_writers};

    /* writers through PgBouncer are held first, so that none of them ever
     * meets the fence: PgBouncer lets their transactions end, then holds
     * the next ones until it resumes, pointing at B */
    if (s->pooled && !pgbouncer_pause(&s->pb))
        return false;
    /* the pause starts as the fence asks for its locks: from then on, new
     * writes queue behind it */
    s->t_fence = clock_now_us();
    if (!fence_up(s->a, &fo))
        return false;
    s->fenced_a = true;
    switch_step_done(s, "writers there now get SQLSTATE 25006 and where to go");
    return true;
}

/* 4. Everything A accepted reaches B: the marker, applied. */
static bool
drain(struct sw *s, bool streaming)
{
    char lsn[LSN_BUFSZ];
    int64_t start = clock_now_us();
    PGconn *target = s->to_target ? s->b : s->a;

    if (!direction_write_switch(target, s->conf->slot, s->old_dir.reverse, "switching", s->token))
        return false;
    s->wrote_switch = true;
    if (!emit_marker(s->a, s->token, "", &s->marker))
        return false;
    if (!streaming)
    {
        log_info("%s: no bridge is streaming; applying up to the marker at " LSN_FMT " here",
                 s->name, LSN_ARGS(s->marker));
        if (run_drain(s->conf, s->old_dir.reverse, s->marker + 1, s->sig_fd) != 0)
        {
            log_error("%s: could not drain the %s stream to the marker", s->name,
                      direction_name(&s->old_dir));
            return false;
        }
    }
    else
        for (;;)
        {
            struct progress p;
            lsn_t durable;

            if (!progress_read(s->b, s->b_role, s->old_dir.origin, &p))
                return false;
            durable = p.lsn;
            if (durable > s->marker)
                break;
            if (clock_now_us() - start > s->conf->drain_timeout_ms * 1000)
            {
                log_error("%s: the running bridge did not apply the marker at " LSN_FMT
                          " within %.0f s (its progress is at " LSN_FMT ")",
                          s->name, LSN_ARGS(s->marker),
                          (double) s->conf->drain_timeout_ms / 1000, LSN_ARGS(durable));
                return false;
            }
            if (interrupted(s))
                return false;
            usleep(DRAIN_POLL_US);
        }
    switch_step_done(s, lsn_format(s->marker, lsn));
    return true;
}

/* 7. B takes writes. */
static bool
open_b(struct sw *s)
{
    /* PgBouncer, still paused, points at B before B opens: what it holds
     * goes there when it resumes */
    if (s->pooled && !pgbouncer_point(&s->pb, s->b, s->b_role))
        return false;
    if (!fence_down(s->b, s->b_role, s->conf->schemas, s->conf->fence_timeout_ms))
        return false;
    s->unfenced_b = true;
    s->t_unfence = clock_now_us();
    if (s->pooled && !pgbouncer_resume(&s->pb))
        return false;
    switch_step_done(s, s->pooled ? "writes go to the new side now, PgBouncer's too"
                                  : "writes go to the new side now");
    return true;
}

/* 8. The switch is final: a running bridge turns around, the old slot goes. */
static bool
hand_over(struct sw *s)
{
    PGconn *target = s->to_target ? s->b : s->a;

    if (!direction_write_switch(target, s->conf->slot, s->new_dir.reverse, "done", s->token))
        return false;
    s->wrote_switch = false; /* final: nothing to call off any more */
    /* retire the old slot once the bridge has let go of it */
    if (!drop_slot(s->a, s->old_dir.slot))
        log_warning("%s: slot \"%s\" on the %s is still in use; drop it once the bridge lets go "
                    "(memori-bridge cleanup)",
                    s->name, s->old_dir.slot, s->a_role);
    return true;
}

/* ---- putting it back -------------------------------------------------- */

static void
put_back(struct sw *s)
{
    char moved[300];
    bool ok = true;

    log_error("%s failed at step %d (%s): putting everything back", s->name, s->step,
              s->step_name);
    /* writers through PgBouncer already on B are held again before B's
     * fence goes up, and go back to A with it */
    if (s->pooled && s->pb.moved && !s->pb.paused)
        (void) pgbouncer_pause(&s->pb);
    if (s->unfenced_b)
    {
        /* B may have taken writes since it was unfenced: fence it again, and
         * bring them over to A through the new slot, which has them all */
        struct fence_options fo = {s->b_role, s->conf->schemas,
                                   address_describe(s->a_dsn, moved, sizeof(moved)),
                                   s->conf->fence_timeout_ms, true};
        lsn_t back;

        if (!fence_up(s->b, &fo) || !emit_marker(s->b, s->token, "-back", &back) ||
            run_drain(s->conf, s->new_dir.reverse, back + 1, s->sig_fd) != 0)
        {
            log_error("%s: could not bring the writes the %s took after step 7 back to the %s; "
                      "the %s stays fenced, and slot \"%s\" keeps them: run %s again to "
                      "finish the switch",
                      s->name, s->b_role, s->a_role, s->b_role, s->new_dir.slot, s->name);
            /* never held for good: through PgBouncer too, B answers */
            if (s->pooled && s->pb.paused)
                (void) pgbouncer_resume(&s->pb);
            return;
        }
        log_info("%s: brought the writes the %s took back to the %s", s->name, s->b_role,
                 s->a_role);
    }
    if (s->wrote_switch)
        ok &= direction_write_switch(s->to_target ? s->b : s->a, s->conf->slot,
                                     s->old_dir.reverse, "aborted", s->token);
    if (s->fenced_a)
        ok &= fence_down(s->a, s->a_role, s->conf->schemas, s->conf->fence_timeout_ms);
    if (s->pooled && (s->pb.moved || s->pb.paused))
        ok &= pgbouncer_put_back(&s->pb, s->a, s->a_role);
    if (s->made_slot && !drop_slot(s->b, s->new_dir.slot))
    {
        log_error("%s: could not drop slot \"%s\" on the %s: it is still in use", s->name,
                  s->new_dir.slot, s->b_role);
        ok = false;
    }
    if (ok)
        log_error("%s: everything is back as it was: the %s takes writes%s, the %s is fenced, "
                  "the %s stream goes on, and slot \"%s\" is dropped",
                  s->name, s->a_role, s->pooled ? " (PgBouncer points there, resumed)" : "",
                  s->b_role, direction_name(&s->old_dir), s->new_dir.slot);
    else
        log_error("%s: could not put everything back (see above); memori-bridge status shows "
                  "the state, and running %s again finishes or calls off the switch",
                  s->name, s->name);
}

/* ---- the command ------------------------------------------------------ */

static int
switch_over(int argc, char **argv, const struct conf *conf, bool to_target)
{
    struct sw s;
    sigset_t sigs;
    bool streaming = false;
    int i, status = 1, lag;
    char url[2048], full[2048];

    memset(&s, 0, sizeof(s));
    s.conf = conf;
    s.name = to_target ? "cutover" : "rollback";
    s.to_target = to_target;
    s.sig_fd = -1;
    for (i = 1; i < argc; i++)
    {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0)
        {
            sw_usage(stdout, s.name);
            return 0;
        }
        if (strcmp(argv[i], "--terminate-writers") == 0)
            s.terminate_writers = true;
        else if (strcmp(argv[i], "--verify") == 0 && i + 1 < argc &&
                 strcmp(argv[i + 1], "full") == 0)
        {
            s.verify_full = true;
            i++;
        }
        else if (strcmp(argv[i], "--env-file") == 0 && i + 1 < argc)
            s.env_file = argv[++i];
        else
        {
            log_error("%s: unknown option \"%s\"", s.name, argv[i]);
            sw_usage(stderr, s.name);
            return EXIT_USAGE;
        }
    }
    if (!conf_require_dsns(conf, s.name))
        return EXIT_USAGE;
    if (s.env_file != NULL && pgbouncer_configured(conf))
    {
        log_error("%s: --env-file with --pgbouncer: the app's MEMORI_DATABASE_URL points at "
                  "PgBouncer and stays as it is; drop --env-file",
                  s.name);
        return EXIT_USAGE;
    }
    log_set_json(conf->log_format == CONF_LOG_JSON);
    direction_init(&s.old_dir, conf, !to_target);
    direction_init(&s.new_dir, conf, to_target);
    s.a_role = s.old_dir.from_role;
    s.b_role = s.old_dir.to_role;
    s.a_dsn = s.old_dir.from_dsn;
    s.b_dsn = s.old_dir.to_dsn;
    snprintf(s.token, sizeof(s.token), "%s-%d-%lld", s.name, (int) getpid(),
             (long long) time(NULL));

    sigemptyset(&sigs);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGTERM);
    if (pthread_sigmask(SIG_BLOCK, &sigs, NULL) != 0 ||
        (s.sig_fd = signalfd(-1, &sigs, SFD_NONBLOCK | SFD_CLOEXEC)) < 0)
    {
        log_error("could not set up signals: %s", strerror(errno));
        return 1;
    }
    /* every connection of the pause is open before it starts */
    s.a = pgconn_open(s.a_dsn, s.a_role, PGCONN_SQL, "memori-bridge switch",
                      conf->connect_timeout_ms, NULL);
    s.b = s.a ? pgconn_open(s.b_dsn, s.b_role, PGCONN_SQL, "memori-bridge switch",
                            conf->connect_timeout_ms, NULL)
              : NULL;
    if (s.b == NULL || !check_way(&s) || !fence_objects(s.a, s.a_role) ||
        !fence_objects(s.b, s.b_role))
        goto done;
    {
        bool exists = false, reverse = false;
        char phase[16] = "";

        if (!direction_read_switch(s.to_target ? s.b : s.a, conf->slot, &exists, &reverse, phase,
                                   sizeof(phase)))
            goto done;
        if (exists && strcmp(phase, "done") == 0 && reverse == s.new_dir.reverse)
        {
            log_error("%s: already done: memori lives on the %s (memori_bridge.switch says so)",
                      s.name, s.b_role);
            goto done;
        }
    }
    s.pooled = pgbouncer_configured(conf);
    if (s.pooled && (!pgbouncer_open(&s.pb, conf, conf->connect_timeout_ms) ||
                     !pgbouncer_ready(&s.pb, s.a, s.a_role)))
    {
        log_error("%s refused: PgBouncer is not ready to switch (above); nothing was changed",
                  s.name);
        goto done;
    }

    step_begin(&s, 1, "lag");
    lag = check_lag(&s, &streaming);
    if (lag != 0)
    {
        status = lag;
        goto done;
    }
    if (interrupted(&s))
        goto fail;
    step_begin(&s, 2, "slot for the other direction");
    if (!make_slot(&s) || interrupted(&s))
        goto fail;
    step_begin(&s, 3, "fence");
    if (!fence_a(&s) || interrupted(&s))
        goto fail;
    step_begin(&s, 4, "drain to the marker");
    if (!drain(&s, streaming) || interrupted(&s))
        goto fail;
    step_begin(&s, 5, "sequences");
    i = seq_sync(s.a, s.b, conf->schemas, false);
    if (i < 0)
        goto fail;
    {
        char detail[64];

        snprintf(detail, sizeof(detail), "%d set from the %s", i, s.a_role);
        switch_step_done(&s, detail);
    }
    if (interrupted(&s))
        goto fail;
    step_begin(&s, 6, "check");
    if (!switch_check(&s) || interrupted(&s))
        goto fail;
    step_begin(&s, 7, "open the new side");
    if (!open_b(&s) || interrupted(&s))
        goto fail;

    /* the point of no return: from here on the switch stands */
    step_begin(&s, 8, "hand over");
    if (!hand_over(&s))
        goto fail;
    if (s.env_file != NULL)
    {
        if (!address_write_env_file(s.env_file, s.b_dsn, url, sizeof(url)))
            log_warning("%s: set it by hand: MEMORI_DATABASE_URL=%s", s.name, url);
        else
            log_info("%s: wrote MEMORI_DATABASE_URL into %s", s.name, s.env_file);
    }
    else
        address_url(s.b_dsn, NULL, url, sizeof(url), full, sizeof(full));
    switch_step_done(&s, s.env_file ? "MEMORI_DATABASE_URL written" : NULL);
    log_info("%s done: writes were paused for %.1f ms (fence to unfence); memori lives on the %s "
             "now",
             s.name, (double) (s.t_unfence - s.t_fence) / 1000, s.b_role);
    if (s.pooled)
        log_info("%s: PgBouncer held writes to \"%s\" for %.1f ms (pause to resume) and sends "
                 "them to the %s now; MEMORI_DATABASE_URL stays as it is",
                 s.name, s.pb.name, (double) (s.pb.t_resume - s.pb.t_pause) / 1000, s.b_role);
    else
        printf("MEMORI_DATABASE_URL=%s\n", url);
    if (!streaming)
        log_info("%s: no bridge was running; start the %s stream with: memori-bridge run",
                 s.name, direction_name(&s.new_dir));
    status = 0;
    goto done;
fail:
    put_back(&s);
done:
    if (s.pooled)
        pgbouncer_close(&s.pb);
    if (s.a != NULL)
        PQfinish(s.a);
    if (s.b != NULL)
        PQfinish(s.b);
    if (s.sig_fd >= 0)
        close(s.sig_fd);
    return status;
}

int
cmd_cutover(int argc, char **argv, const struct conf *conf)
{
    return switch_over(argc, argv, conf, true);
}

int
cmd_rollback(int argc, char **argv, const struct conf *conf)
{
    return switch_over(argc, argv, conf, false);
}
