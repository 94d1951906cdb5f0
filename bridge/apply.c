/*
 * apply.c - the applier thread: groups, statements, progress.
 *
 * NOTES
 *
 * A target transaction (a group) opens at the first change of a source
 * transaction that is not skipped, and commits at a source transaction
 * boundary when the group reaches group_xacts or group_bytes, when it is
 * older than group_delay, or when nothing more is waiting in the ring. Its
 * last statement before COMMIT records the last source transaction's nextlsn
 * in memori_bridge.progress (progress.h), so the progress moves with the data
 * (invariant 1); where the role may use replication origins,
 * pg_replication_origin_xact_setup() tags the commit with the origin too.
 * Before COMMIT the pipeline is synced and every result checked: an UPDATE or
 * DELETE that touched fewer rows than it was sent is refused like an error,
 * never committed.
 *
 * Without an origin, a group's first statement is a transactional logical
 * message "applied <origin>", and a source transaction that begins with the
 * other direction's tag is left out like an empty one (invariant 5).
 *
 * Skipped transactions (at or below the progress at start), empty ones (every
 * change filtered out) and the server's idle keepalives still move the
 * progress, so that the slot can be confirmed past them (invariant 2): inside
 * an open group they just move its end; otherwise a progress-only transaction
 * commits them at most once per status interval.
 *
 * The session never runs with synchronous_commit = off, so a commit that
 * returned is durable: the position published to the reader is the committed
 * one.
 */
#include "bridge/apply.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bridge/catalog.h"
#include "bridge/lag.h"
#include "bridge/log.h"
#include "bridge/fence.h"
#include "bridge/pipeline.h"
#include "bridge/progress.h"
#include "bridge/stmt.h"
#include "bridge/stream.h"
#include "bridge/tally.h"

#define INFLIGHT      512
#define TS_LEN        48
#define MAX_PENDING   32 /* batches being filled at once (one per statement) */

struct apply
{
    struct apply_options o;
    struct run_state *st;   /* borrowed */
    struct ring *ring;      /* borrowed */
    PGconn *conn;           /* owned */
    struct pipeline pl;
    struct catalog cat;
    struct stmt_cache cache;
    struct pending
    {
        struct stmt_batch b; /* rows waiting for one execution; b.st NULL: free */
        struct pl_entry e;   /* what they are, for messages */
        uint64_t seq;        /* creation order */
    } pend[MAX_PENDING];
    uint64_t pend_seq;      /* next creation number */
    size_t pend_bytes;      /* value bytes in all pending batches */
    char user[64];          /* the target role, for the hints */
    bool use_origin;        /* the role may use the replication origin functions */
    char tag[128];          /* "applied <origin>": this direction's tag (no origin) */
    char other_tag[128];    /* the other direction's tag, whose transactions are left out */

    /* consecutive TRUNCATE records of one LSN */
    struct cat_table *trunc[64];
    int ntrunc;
    lsn_t trunc_lsn;

    /* the source transaction being read */
    bool in_xact;
    bool skipping;   /* at or below the start position: already applied */
    bool looped;     /* tagged by the other direction: its own changes, coming back */
    bool has_changes;
    uint32_t xid;
    lsn_t commit_lsn;
    lsn_t nextlsn;
    char ts[TS_LEN];

    /* the group (target transaction) */
    struct tally tally;      /* its changes per table, for the metrics */
    bool group_open;
    uint32_t group_xacts;
    uint64_t group_bytes;
    uint64_t group_changes;
    int64_t group_start;
    lsn_t group_end;
    lsn_t group_last_commit; /* commit LSN of its last source transaction */
    char group_ts[TS_LEN];

    /* progress */
    lsn_t start;     /* committed progress when opened */
    lsn_t committed; /* committed progress */
    lsn_t durable;   /* durable progress */
    lsn_t confirm;   /* skipped/empty/idle position waiting for a progress-only commit */
    char confirm_ts[TS_LEN];
    int64_t last_progress_commit;
    lsn_t last_pos;  /* WAL position of the last item taken */
    bool careful;
    lsn_t refused;   /* APPLY_REFUSED: replay carefully up to here */
    lsn_t last_commit; /* commit LSN of the last source transaction applied */

    /* a switch marker (cutover, rollback) in the source transaction being read */
    bool switch_in_xact;
    char switch_token[64];

    /* verify's request to hold still (memori_bridge.verify_pause) */
    bool listening;  /* LISTEN memori_bridge worked (the bridge's objects exist) */
    lsn_t pause_at;  /* hold before the first transaction committing at or after it */
    char pause_token[64];
};

static const char origin_setup_sql[] =
    "SELECT pg_catalog.pg_replication_origin_xact_setup($1::pg_lsn, $2::timestamptz)";
static const char tag_sql[] = "SELECT pg_catalog.pg_logical_emit_message(true, $1, $2)";

/* ---- opening ---------------------------------------------------------- */

/* The bridge's own objects (memori_bridge.progress among them), made when
 * missing: a run without init may be the first to need them. */
static bool
ensure_objects(struct apply *a, enum pgconn_failure *failure)
{
    bool exists;

    if (!fence_objects_usable(a->conn, a->o.role, "progress", &exists))
    {
        *failure = pgconn_classify(a->conn, NULL);
        return false;
    }
    if (!exists && !fence_objects(a->conn, a->o.role))
    {
        *failure = pgconn_classify(a->conn, NULL);
        return false;
    }
    return true;
}

/* Set up the replication origin for this session, made on first use. */
static bool
setup_origin(struct apply *a, enum pgconn_failure *failure)
{
    const char *params[1] = {a->o.origin};
    PGresult *res = NULL;
    char what[256], msg[512];
    const char *pid;

    snprintf(what, sizeof(what), "could not look up the replication origin on the %s",
             a->o.role);
    res = pgconn_exec(a->conn, what, "SELECT pg_catalog.pg_replication_origin_oid($1)", 1,
                      params, failure);
    if (res == NULL)
        return false;
    if (PQgetisnull(res, 0, 0))
    {
        PQclear(res);
        res = PQexecParams(a->conn, "SELECT pg_catalog.pg_replication_origin_create($1)", 1,
                           NULL, params, NULL, NULL, 0);
        if (PQresultStatus(res) != PGRES_TUPLES_OK)
        {
            *failure = pgconn_classify(a->conn, res);
            log_error("could not create replication origin \"%s\" on the %s: %s",
                      a->o.origin, a->o.role, pgconn_error(a->conn, res, msg, sizeof(msg)));
            PQclear(res);
            return false;
        }
        log_info("created replication origin \"%s\" on the %s", a->o.origin, a->o.role);
    }
    PQclear(res);
    res = PQexecParams(a->conn, "SELECT pg_catalog.pg_replication_origin_session_setup($1)", 1,
                       NULL, params, NULL, NULL, 0);
    if (PQresultStatus(res) == PGRES_TUPLES_OK)
    {
        PQclear(res);
        return true;
    }
    *failure = pgconn_classify(a->conn, res);
    pgconn_error(a->conn, res, msg, sizeof(msg));
    if (strcmp(pgconn_sqlstate(res), "55006") == 0 && (pid = strstr(msg, "for PID ")) != NULL)
    {
        if (a->o.busy_final)
            log_error("another bridge is applying through replication origin \"%s\" (PID %ld "
                      "on the %s); stop it first, or give this one another --slot",
                      a->o.origin, strtol(pid + 8, NULL, 10), a->o.role);
        else
        {
            log_debug("replication origin \"%s\" is in use by PID %ld on the %s; waiting for it",
                      a->o.origin, strtol(pid + 8, NULL, 10), a->o.role);
            *failure = PGCONN_BUSY;
        }
    }
    else
        log_error("could not set up replication origin \"%s\" on the %s: %s", a->o.origin,
                  a->o.role, msg);
    PQclear(res);
    return false;
}

/* Make this session the only one applying this direction: the origin where
 * the role may use it, else an advisory lock on the progress row's name. */
static bool
claim(struct apply *a, enum pgconn_failure *failure)
{
    const char *params[1] = {a->o.origin};
    PGresult *res;
    long pid;

    if (!progress_may_use_origin(a->conn, a->o.role, &a->use_origin))
    {
        *failure = pgconn_classify(a->conn, NULL);
        return false;
    }
    if (a->use_origin)
        return setup_origin(a, failure);
    snprintf(a->tag, sizeof(a->tag), PROGRESS_TAG "%s", a->o.origin);
    log_debug("the %s role may not use replication origins: progress goes to "
              "memori_bridge.progress, and each applied transaction carries \"%s\"",
              a->o.role, a->tag);
    res = pgconn_exec(a->conn, "could not take the bridge's advisory lock",
                      "SELECT pg_catalog.pg_try_advisory_lock("
                      "pg_catalog.hashtext('memori_bridge.progress'), pg_catalog.hashtext($1)), "
                      "(SELECT l.pid FROM pg_catalog.pg_locks l WHERE l.locktype = 'advisory' "
                      "   AND l.granted AND l.objsubid = 2 AND l.pid <> pg_catalog.pg_backend_pid() "
                      "   AND l.classid = pg_catalog.hashtext('memori_bridge.progress')::oid "
                      "   AND l.objid = pg_catalog.hashtext($1)::oid LIMIT 1)",
                      1, params, failure);
    if (res == NULL)
        return false;
    if (PQgetvalue(res, 0, 0)[0] == 't')
    {
        PQclear(res);
        return true;
    }
    pid = strtol(PQgetvalue(res, 0, 1), NULL, 10);
    PQclear(res);
    if (a->o.busy_final)
    {
        log_error("another bridge is applying \"%s\" (PID %ld on the %s); stop it first, or "
                  "give this one another --slot",
                  a->o.origin, pid, a->o.role);
        *failure = PGCONN_FATAL;
    }
    else
    {
        log_debug("\"%s\" is being applied by PID %ld on the %s; waiting for it", a->o.origin,
                  pid, a->o.role);
        *failure = PGCONN_BUSY;
    }
    return false;
}

struct apply *
apply_open(const struct apply_options *opts, struct run_state *st, struct ring *ring,
           enum pgconn_failure *failure)
{
    struct apply *a = calloc(1, sizeof(*a));
    PGresult *res = NULL;

    *failure = PGCONN_FATAL;
    if (a == NULL)
    {
        log_error("out of memory");
        return NULL;
    }
    a->o = *opts;
    a->st = st;
    a->ring = ring;
    a->careful = opts->careful;
    snprintf(a->other_tag, sizeof(a->other_tag), PROGRESS_TAG "%s", opts->other_origin);
    stmt_cache_init(&a->cache);
    for (int i = 0; i < MAX_PENDING; i++)
        stmt_batch_init(&a->pend[i].b);
    a->conn = pgconn_open(opts->dsn, opts->role, PGCONN_SQL, "memori-bridge",
                          opts->conf->connect_timeout_ms, failure);
    if (a->conn == NULL)
        goto fail;
    snprintf(a->user, sizeof(a->user), "%s", PQuser(a->conn));

    /* generic plans: a custom plan sees the real array length (one row, say)
     * and always looks cheaper than the generic one, so the default "auto"
     * would plan every execution again; the generic plans of these statements
     * (a function scan, an index lookup per key) are the right ones anyway */
    res = PQexec(a->conn, "SET plan_cache_mode = force_generic_plan");
    PQclear(res);
    res = PQexec(a->conn, "SET session_replication_role = replica");
    if (PQresultStatus(res) != PGRES_COMMAND_OK)
    {
        char msg[512];

        *failure = pgconn_classify(a->conn, res);
        log_error("could not set session_replication_role on the %s: %s; fix, as a superuser "
                  "(on a local Supabase: supabase_admin): GRANT SET ON PARAMETER "
                  "session_replication_role TO \"%s\" (PostgreSQL 15 and later)",
                  opts->role, pgconn_error(a->conn, res, msg, sizeof(msg)), a->user);
        goto fail;
    }
    PQclear(res);
    res = NULL;

    /* a commit that returned must be durable: it is confirmed to the slot */
    res = PQexec(a->conn, "SELECT pg_catalog.set_config('synchronous_commit', 'local', false) "
                          "WHERE pg_catalog.current_setting('synchronous_commit') = 'off'");
    PQclear(res);
    res = NULL;
    if (!ensure_objects(a, failure) || !claim(a, failure))
        goto fail;
    {
        struct progress p;

        if (!progress_read(a->conn, opts->role, opts->origin, &p))
        {
            *failure = pgconn_classify(a->conn, NULL);
            goto fail;
        }
        a->start = a->durable = p.lsn;
    }
    a->committed = a->start;
    a->confirm = a->start;
    a->last_progress_commit = stream_now_us();
    atomic_store(&st->applied, a->committed);
    atomic_store(&st->durable, a->durable);

    if (!catalog_load(&a->cat, a->conn, opts->schemas, failure))
        goto fail;
    if (a->cat.ntables == 0)
    {
        log_error("the %s has no tables in schema(s) \"%s\"; create them first (memori-bridge "
                  "init does, or apply sql/memori_schema.sql)",
                  opts->role, opts->schemas);
        goto fail;
    }
    /* verify asks for a pause with a NOTIFY (see sql/memori_bridge.sql) */
    res = PQexec(a->conn, "LISTEN memori_bridge");
    a->listening = PQresultStatus(res) == PGRES_COMMAND_OK;
    PQclear(res);
    res = NULL;
    if (!pl_init(&a->pl, a->conn, INFLIGHT))
        goto fail;
    return a;
fail:
    PQclear(res);
    apply_close(a);
    return NULL;
}

lsn_t
apply_start_lsn(const struct apply *a)
{
    return a->start;
}

lsn_t
apply_refused_lsn(const struct apply *a)
{
    return a->refused;
}

const char *
apply_switch_token(const struct apply *a)
{
    return a->switch_token;
}

char *
apply_describe(struct apply *a, char *buf, size_t len)
{
    return pgconn_describe(a->conn, buf, len);
}

void
apply_close(struct apply *a)
{
    if (a == NULL)
        return;
    if (a->conn != NULL)
        PQfinish(a->conn);
    pl_free(&a->pl);
    catalog_free(&a->cat);
    stmt_cache_clear(&a->cache);
    for (int i = 0; i < MAX_PENDING; i++)
        stmt_batch_free(&a->pend[i].b);
    free(a);
}

/* ---- failures --------------------------------------------------------- */

static const char *
action_word(enum w2j_action action)
{
    return action == W2J_INSERT ? "insert" : action == W2J_UPDATE ? "update" : "delete";
}

/* The fix for a refusal, from its SQLSTATE. */
static const char *
hint_for(const struct pipeline *pl)
{
    if (pl->mismatch)
        return "the target has diverged from the source (a row is missing there); restore the "
               "row, or start over with memori-bridge init";
    if (strcmp(pl->state, "23505") == 0)
        return "a row with this key already exists on the target; delete or fix it there, then "
               "run again";
    if (strncmp(pl->state, "23", 2) == 0)
        return "the target's constraints refuse the row; fix the target's data or constraint, "
               "then run again";
    if (strcmp(pl->state, "42501") == 0)
        return "grant the target role the privilege (the bridge's role should own the tables), "
               "then run again";
    if (strcmp(pl->state, "42P01") == 0 || strcmp(pl->state, "42703") == 0)
        return "make the target's tables match the source's (memori-bridge init creates them), "
               "then run again";
    if (strncmp(pl->state, "22", 2) == 0 || strcmp(pl->state, "42804") == 0)
        return "the target column's type does not take the source's value; make the types "
               "match, then run again";
    return "fix the target, then run again";
}

/* Log the exact refusal of careful mode: one line, everything named. */
static void
log_refusal(struct apply *a)
{
    const struct pipeline *pl = &a->pl;
    const struct pl_entry *e = &pl->fail;
    char lsn[LSN_BUFSZ];

    lsn_format(e->commit_lsn, lsn);
    if (e->kind == PL_ROWS || e->kind == PL_PREPARE)
        log_error("the %s refused the %s of %s.%s %s in %s transaction %u (commit %s): "
                  "%s; %s; the slot keeps this change",
                  a->o.role, action_word(e->st->action), e->st->table->schema, e->st->table->name,
                  e->what[0] ? e->what : "", a->o.from_role, e->xid, lsn, pl->message,
                  hint_for(pl));
    else if (e->kind == PL_TRUNCATE)
        log_error("the %s refused TRUNCATE of %s in %s transaction %u (commit %s): %s; "
                  "%s; the slot keeps this change",
                  a->o.role, e->what, a->o.from_role, e->xid, lsn, pl->message, hint_for(pl));
    else if (e->kind == PL_OTHER && e->xid != 0)
        log_error("cannot apply the %s; the slot keeps this change", pl->message);
    else if (e->kind == PL_COMMIT && e->xid != 0)
        log_error("the %s refused the commit of %s transaction %u (commit %s): %s; %s; "
                  "the slot keeps this transaction",
                  a->o.role, a->o.from_role, e->xid, lsn, pl->message, hint_for(pl));
    else
        log_error("the %s refused the bridge's own statement: %s", a->o.role, pl->message);
}

/* A client-side refusal of REC (no such table or column): recorded like a
 * server's, so careful mode reports it the same way. */
static void
refuse_record(struct apply *a, const struct w2j_record *rec, const char *message)
{
    struct pipeline *pl = &a->pl;

    if (pl->failed)
        return;
    pl->failed = true;
    pl->transient = false;
    memset(&pl->fail, 0, sizeof(pl->fail));
    pl->fail.kind = PL_OTHER;
    pl->fail.xid = a->xid;
    pl->fail.commit_lsn = a->commit_lsn;
    snprintf(pl->state, sizeof(pl->state), "42P01");
    {
        char lsn[LSN_BUFSZ];

        snprintf(pl->message, sizeof(pl->message),
                 "%s of %.*s.%.*s in %s transaction %u (commit %s): %s",
                 w2j_action_name(rec->action), (int) rec->schema_len, rec->schema,
                 (int) rec->table_len, rec->table, a->o.from_role, a->xid,
                 lsn_format(a->commit_lsn, lsn),
                 message);
    }
}

/* ---- sending ---------------------------------------------------------- */

static bool
open_group(struct apply *a)
{
    struct pl_entry e = {.kind = PL_BEGIN};

    if (a->group_open)
        return true;
    a->group_open = true;
    a->group_xacts = 0;
    a->group_bytes = 0;
    a->group_changes = 0;
    a->group_start = stream_now_us();
    a->group_end = LSN_INVALID;
    a->group_ts[0] = '\0';
    if (!pl_send(&a->pl, &e, "BEGIN", 0, NULL))
        return false;
    if (!a->use_origin)
    {
        /* first, so that the other direction knows before any change */
        const char *params[2] = {PROGRESS_MSG_PREFIX, a->tag};
        struct pl_entry tag = {.kind = PL_PROGRESS};

        return pl_send(&a->pl, &tag, tag_sql, 2, params);
    }
    return true;
}

/* Send the rows of P as one execution of its statement. */
static bool
flush_one(struct apply *a, struct pending *p)
{
    struct stmt *st = p->b.st;
    int n;

    if (st == NULL)
        return true;
    if (!pl_prepare(&a->pl, st))
        return false;
    n = stmt_batch_finish(&p->b);
    p->e.kind = PL_ROWS;
    p->e.st = st;
    p->e.nrows = p->b.nrows;
    if (p->b.nrows > 1)
        p->e.what[0] = '\0';
    a->group_changes += p->b.nrows;
    a->pend_bytes -= p->b.bytes;
    atomic_fetch_add(&a->st->written, p->b.nrows);
    if (!pl_send_prepared(&a->pl, &p->e, n, p->b.values, p->b.lengths, p->b.formats))
        return false;
    stmt_batch_reset(&p->b, (size_t) a->o.conf->batch_bytes * 2);
    return true;
}

/* Send the pending batches of table T (every table when T is NULL) but the
 * one of statement EXCEPT, oldest first. */
static bool
flush_pending(struct apply *a, const struct cat_table *t, const struct stmt *except)
{
    for (;;)
    {
        struct pending *oldest = NULL;
        int i;

        for (i = 0; i < MAX_PENDING; i++)
        {
            struct pending *p = &a->pend[i];

            if (p->b.st != NULL && p->b.st != except && (t == NULL || p->b.st->table == t) &&
                (oldest == NULL || p->seq < oldest->seq))
                oldest = p;
        }
        if (oldest == NULL)
            return true;
        if (!flush_one(a, oldest))
            return false;
    }
}

static bool
flush_rows(struct apply *a)
{
    return flush_pending(a, NULL, NULL);
}

static void
reset_pending(struct apply *a, size_t limit)
{
    int i;

    for (i = 0; i < MAX_PENDING; i++)
        stmt_batch_reset(&a->pend[i].b, limit);
    a->pend_bytes = 0;
}

static bool
flush_truncate(struct apply *a)
{
    struct pl_entry e = {.kind = PL_TRUNCATE, .xid = a->xid, .commit_lsn = a->commit_lsn};
    char *sql = NULL;
    size_t len = 0, w = 0;
    FILE *f;
    int i;

    if (a->ntrunc == 0)
        return true;
    f = open_memstream(&sql, &len);
    if (f == NULL)
        return false;
    fputs("TRUNCATE ONLY ", f);
    for (i = 0; i < a->ntrunc; i++)
    {
        fprintf(f, "%s%s", i ? ", " : "", a->trunc[i]->qualified);
        w += (size_t) snprintf(e.what + w, w < sizeof(e.what) ? sizeof(e.what) - w : 0, "%s%s.%s",
                               i ? ", " : "", a->trunc[i]->schema, a->trunc[i]->name);
        if (w >= sizeof(e.what))
            w = sizeof(e.what) - 1;
    }
    fclose(f);
    a->group_changes += (uint64_t) a->ntrunc;
    atomic_fetch_add(&a->st->written, (uint64_t) a->ntrunc);
    a->ntrunc = 0;
    if (sql == NULL)
        return false;
    i = pl_send(&a->pl, &e, sql, 0, NULL);
    free(sql);
    return i;
}

static bool
flush_all(struct apply *a)
{
    return flush_rows(a) && flush_truncate(a);
}

/* Roll back what is open after a failure, leaving the connection usable. */
static void
rollback(struct apply *a)
{
    struct pl_entry e = {.kind = PL_ROLLBACK};
    bool failed = a->pl.failed;
    struct pipeline saved = a->pl;

    reset_pending(a, (size_t) a->o.conf->batch_bytes * 2);
    a->ntrunc = 0;
    tally_discard(&a->tally);
    if (!a->group_open)
        return;
    a->group_open = false;
    if (PQstatus(a->conn) != CONNECTION_OK)
        return;
    if (pl_send(&a->pl, &e, "ROLLBACK", 0, NULL))
        pl_sync(&a->pl);
    if (failed)
    {
        /* keep the first failure, not ROLLBACK's warning */
        a->pl.failed = saved.failed;
        a->pl.transient = saved.transient;
        a->pl.mismatch = saved.mismatch;
        a->pl.fail = saved.fail;
        memcpy(a->pl.state, saved.state, sizeof(saved.state));
        memcpy(a->pl.message, saved.message, sizeof(saved.message));
    }
}

/* What a failure recorded in the pipeline means now. */
static enum apply_outcome
failure_outcome(struct apply *a)
{
    if (a->pl.transient)
    {
        log_info("the %s failed (%s); will reconnect and resume from " LSN_FMT, a->o.role,
                 a->pl.message, LSN_ARGS(a->committed));
        return APPLY_TRANSIENT;
    }
    if (a->careful)
    {
        log_refusal(a);
        return APPLY_FATAL;
    }
    a->refused = a->last_pos;
    log_info("the %s refused a group of %s transactions (%s); replaying them one "
             "change at a time from " LSN_FMT " to find the change",
             a->o.role, a->o.from_role, a->pl.message, LSN_ARGS(a->committed));
    return APPLY_REFUSED;
}

/* A commit that returned is durable (the session's synchronous_commit is
 * never off): publish it as the position the slot may be confirmed up to. */
static void
publish_durable(struct apply *a)
{
    a->durable = a->committed;
    atomic_store(&a->st->durable, a->durable);
}

/* Send the progress of END (commit time TS, "" for now) and, with an origin,
 * its transaction set-up: the last statements before COMMIT. */
static bool
send_progress(struct apply *a, lsn_t end, const char *ts)
{
    char at[LSN_BUFSZ];
    const char *params[3] = {a->o.origin, lsn_format(end, at), ts[0] ? ts : "now"};
    struct pl_entry e = {.kind = PL_PROGRESS};

    if (a->use_origin && !pl_send(&a->pl, &e, origin_setup_sql, 2, params + 1))
        return false;
    return pl_send(&a->pl, &e, progress_update_sql, 3, params);
}

/* Microseconds since the Unix epoch. */
static int64_t
wall_us(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t) ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* Commit the open group at END with commit time TS. Returns false with the
 * outcome in *OUT on failure. */
static bool
commit_group(struct apply *a, enum apply_outcome *out)
{
    struct pl_entry commit = {.kind = PL_COMMIT};
    int64_t commit_us;

    commit.xid = a->xid;
    commit.commit_lsn = a->commit_lsn;
    if (!flush_all(a) || !send_progress(a, a->group_end, a->group_ts) || !pl_sync(&a->pl) ||
        a->pl.failed)
    {
        rollback(a);
        *out = failure_outcome(a);
        return false;
    }
    if (!pl_send(&a->pl, &commit, "COMMIT", 0, NULL) || !pl_sync(&a->pl) || a->pl.failed)
    {
        a->group_open = false;
        rollback(a);
        *out = failure_outcome(a);
        return false;
    }
    a->group_open = false;
    a->committed = a->group_end;
    a->last_commit = a->group_last_commit;
    if (a->confirm < a->committed)
        a->confirm = a->committed;
    publish_durable(a);
    atomic_store(&a->st->applied, a->committed);
    if (a->group_ts[0] && lag_parse_timestamp(a->group_ts, &commit_us))
        atomic_store(&a->st->applied_commit_us, commit_us);
    atomic_fetch_add(&a->st->changes, a->group_changes);
    atomic_fetch_add(&a->st->xacts, a->group_xacts);
    atomic_store(&a->st->last_apply_us, wall_us());
    tally_publish(&a->tally, a->st);
    if (a->careful && a->committed > a->o.careful_until)
    {
        a->careful = false;
        log_info("careful replay passed " LSN_FMT " without a refusal; back to batching "
                 "(the refusal came from batching: for example rows that swapped a unique "
                 "value)",
                 LSN_ARGS(a->o.careful_until));
    }
    return true;
}

/* Move the progress to a->confirm with a transaction that changes nothing
 * else. */
static bool
progress_commit(struct apply *a, enum apply_outcome *out)
{
    struct pl_entry begin = {.kind = PL_BEGIN}, commit = {.kind = PL_COMMIT};

    a->group_open = true; /* for rollback() */
    if (!pl_send(&a->pl, &begin, "BEGIN", 0, NULL) || !send_progress(a, a->confirm, a->confirm_ts) ||
        !pl_send(&a->pl, &commit, "COMMIT", 0, NULL) || !pl_sync(&a->pl) || a->pl.failed)
    {
        rollback(a);
        if (a->pl.transient)
            *out = APPLY_TRANSIENT;
        else
        {
            log_error("could not record the progress of \"%s\" on the %s: %s", a->o.origin,
                      a->o.role, a->pl.message);
            *out = APPLY_FATAL;
        }
        return false;
    }
    a->group_open = false;
    a->committed = a->confirm;
    a->last_progress_commit = stream_now_us();
    publish_durable(a);
    atomic_store(&a->st->applied, a->committed);
    log_debug("confirmed " LSN_FMT " with a progress-only transaction", LSN_ARGS(a->confirm));
    return true;
}

/* Reload the catalog in the middle of a group: sync, leave pipeline mode,
 * read, come back. */
static bool
reload_catalog(struct apply *a)
{
    enum pgconn_failure failure;
    PGresult *res;

    if (!flush_all(a) || !pl_sync(&a->pl) || a->pl.failed)
        return false;
    if (!pl_leave(&a->pl))
        return false;
    reset_pending(a, 0);
    stmt_cache_clear(&a->cache);
    res = PQexec(a->conn, "DEALLOCATE ALL");
    PQclear(res);
    if (!catalog_load(&a->cat, a->conn, a->o.schemas, &failure))
    {
        a->pl.failed = true;
        a->pl.transient = failure == PGCONN_TRANSIENT;
        snprintf(a->pl.message, sizeof(a->pl.message), "could not read the target's catalog");
        return false;
    }
    return pl_enter(&a->pl);
}

/* ---- holding still for verify ---------------------------------------- */

#define PAUSE_LIMIT_US (600 * INT64_C(1000000)) /* resume anyway after 10 minutes */

/* Tell verify where we hold: STATE 'paused' (at its point) or 'past' (we had
 * applied a transaction committed after its point before we saw the request:
 * verify picks a later point, which we can reach since we hold). */
static void
report_hold(struct apply *a, const char *state)
{
    const char *params[3] = {a->pause_token, NULL, state};
    char committed[LSN_BUFSZ];

    params[1] = lsn_format(a->committed, committed);
    PQclear(PQexecParams(a->conn,
                         "UPDATE memori_bridge.verify_pause SET state = $3, "
                         "applied = $2::pg_lsn, updated_at = now() WHERE token = $1",
                         3, NULL, params, NULL, NULL, 0));
}

/* Hold still at a transaction boundary (outside pipeline mode) until verify
 * releases us, or moves its point further (then go on to it: returns with
 * a->pause_at set). PAST: we are beyond the point asked for. */
static void
hold_here(struct apply *a, bool past)
{
    const char *params[1] = {a->pause_token};
    int64_t start = stream_now_us();

    report_hold(a, past ? "past" : "paused");
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

        if (stream_now_us() - start > PAUSE_LIMIT_US)
        {
            log_warning("verify held the bridge for 10 minutes without releasing it; going on");
            break;
        }
        if (poll(fds, 2, 1000) > 0 && (fds[0].revents & POLLIN) && PQconsumeInput(a->conn) == 0)
            break;
        while ((n = PQnotifies(a->conn)) != NULL)
            PQfreemem(n);
        res = PQexecParams(a->conn,
                           "SELECT state, pause_at FROM memori_bridge.verify_pause "
                           "WHERE token = $1",
                           1, NULL, params, NULL, NULL, 0);
        if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1)
        {
            snprintf(state, sizeof(state), "%s", PQgetvalue(res, 0, 0));
            lsn_parse(PQgetvalue(res, 0, 1), strlen(PQgetvalue(res, 0, 1)), &at);
        }
        PQclear(res);
        if (strcmp(state, "requested") == 0 && at != LSN_INVALID)
        {
            /* a later point: go on to it, unless we are past that one too */
            if (a->last_commit < at)
            {
                a->pause_at = at;
                log_info("verify moved its point to " LSN_FMT "; going on to it", LSN_ARGS(at));
                return;
            }
            report_hold(a, "past");
            continue;
        }
        if (strcmp(state, "paused") != 0 && strcmp(state, "past") != 0)
            break; /* released, or the request is gone */
    }
    log_info("verify released the bridge; going on");
    a->pause_token[0] = '\0';
}

/* A request of verify, read outside pipeline mode at a transaction boundary. */
static void
read_request(struct apply *a)
{
    const char *params[1] = {a->o.origin};
    PGresult *res;

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
    if (a->pause_at == LSN_INVALID || a->last_commit < a->pause_at)
        return;
    /* already applied a transaction committed after the point: hold here,
     * and let verify take a later one */
    hold_here(a, true);
}

/* Look for verify's NOTIFY; only between target transactions. */
static bool
check_requests(struct apply *a)
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
    if (!got || a->pause_at != LSN_INVALID)
        return true;
    if (!pl_sync(&a->pl) || !pl_leave(&a->pl))
        return false;
    read_request(a);
    return pl_enter(&a->pl);
}

/* Hold still at verify's point until verify releases us (or moves it). */
static bool
hold(struct apply *a)
{
    if (!pl_sync(&a->pl) || !pl_leave(&a->pl))
        return false;
    hold_here(a, false);
    return pl_enter(&a->pl);
}

/* ---- records ---------------------------------------------------------- */

static void
copy_ts(char dst[TS_LEN], const struct w2j_record *rec)
{
    if (rec->timestamp != NULL)
        snprintf(dst, TS_LEN, "%s", rec->timestamp);
    else
        dst[0] = '\0';
}

static struct cat_table *
find_table(struct apply *a, const struct w2j_record *rec, bool *ok)
{
    struct cat_table *t = catalog_find(&a->cat, rec->schema, rec->schema_len, rec->table,
                                       rec->table_len);

    *ok = true;
    if (t != NULL)
        return t;
    /* made on the target while the bridge ran? */
    if (!reload_catalog(a))
    {
        *ok = false;
        return NULL;
    }
    t = catalog_find(&a->cat, rec->schema, rec->schema_len, rec->table, rec->table_len);
    if (t == NULL)
    {
        char msg[512];

        snprintf(msg, sizeof(msg),
                 "table %.*s.%.*s does not exist on the %s; create it there (memori-bridge "
                 "init creates the tables of the schemas), then run again",
                 (int) rec->schema_len, rec->schema, (int) rec->table_len, rec->table, a->o.role);
        refuse_record(a, rec, msg);
        *ok = false;
    }
    return t;
}

/* T's entry in the metrics' table list. */
static int
table_tally(struct apply *a, struct cat_table *t)
{
    if (t->tally == 0)
    {
        int i = tally_table(a->st, t->schema, t->name);

        t->tally = i < 0 ? -1 : i + 1;
    }
    return t->tally > 0 ? t->tally - 1 : -1;
}

static bool
apply_truncate(struct apply *a, const struct item *it)
{
    bool ok;
    struct cat_table *t;
    int i;

    if (!flush_rows(a))
        return false;
    if (a->ntrunc > 0 && (it->rec.lsn != a->trunc_lsn || a->ntrunc == 64))
        if (!flush_truncate(a))
            return false;
    t = find_table(a, &it->rec, &ok);
    if (!ok)
        return false;
    for (i = 0; i < a->ntrunc; i++)
        if (a->trunc[i] == t)
            return true;
    a->trunc[a->ntrunc++] = t;
    tally_change(&a->tally, table_tally(a, t), STATE_TRUNCATE);
    a->trunc_lsn = it->rec.lsn;
    return true;
}

/*
 * Add REC to the pending batch of its statement. Batches of different
 * statements fill side by side, so that interleaved changes of several
 * tables still go as large multi-row statements; the apply session runs with
 * session_replication_role = replica, where foreign keys and ordinary
 * triggers do not fire, so the order between tables does not matter within
 * the target transaction. Within a table it does for one key: a change whose
 * key is pending in another batch of the table sends that batch first. A
 * table whose rows cannot be told apart by a key alone (no primary key,
 * another unique index) keeps its changes in order, and one with a trigger
 * that fires under the replica role keeps everything in order around it.
 */
static bool
batch_row(struct apply *a, struct stmt *st, const struct w2j_record *rec, uint64_t key)
{
    struct cat_table *t = st->table;
    struct pending *p = NULL, *free_slot = NULL;
    /* an UPDATE or DELETE of several rows joins them in no set order: fine
     * when only the key identifies a row, not when another unique index could
     * see two of its rows swap a value */
    bool single = st->single || a->careful || t->barrier ||
                  (t->ordered && st->action != W2J_INSERT);
    int i;

    if (t->barrier && !flush_rows(a))
        return false;
    if (single || t->ordered || key == 0)
    {
        if (!flush_pending(a, t, single ? NULL : st))
            return false;
    }
    else
        for (i = 0; i < MAX_PENDING; i++)
        {
            struct pending *q = &a->pend[i];

            if (q->b.st != NULL && q->b.st != st && q->b.st->table == t &&
                stmt_batch_has_key(&q->b, key) && !flush_one(a, q))
                return false;
        }
    for (i = 0; i < MAX_PENDING; i++)
    {
        if (a->pend[i].b.st == st)
            p = &a->pend[i];
        else if (a->pend[i].b.st == NULL && free_slot == NULL)
            free_slot = &a->pend[i];
    }
    if (p != NULL && (p->b.nrows >= (uint32_t) a->o.conf->batch_rows ||
                      p->b.bytes >= (size_t) a->o.conf->batch_bytes ||
                      (key != 0 && stmt_batch_has_key(&p->b, key))))
    {
        if (!flush_one(a, p))
            return false;
        free_slot = p;
        p = NULL;
    }
    if (p == NULL)
    {
        if (free_slot == NULL)
        {
            if (!flush_rows(a)) /* every slot busy: send them all */
                return false;
            free_slot = &a->pend[0];
        }
        p = free_slot;
        p->seq = a->pend_seq++;
        p->e.xid = a->xid;
        p->e.commit_lsn = a->commit_lsn;
        stmt_describe_key(st, rec, p->e.what, sizeof(p->e.what));
    }
    {
        size_t before = p->b.bytes;

        if (!stmt_batch_add(&p->b, st, rec, key))
        {
            log_error("out of memory batching rows of %s.%s", t->schema, t->name);
            return false;
        }
        a->pend_bytes += p->b.bytes - before;
    }
    if (single)
        return flush_one(a, p);
    if (a->pend_bytes >= (size_t) a->o.conf->batch_bytes * 2)
        return flush_rows(a);
    return true;
}

static bool
apply_row(struct apply *a, const struct item *it)
{
    const struct w2j_record *rec = &it->rec;
    struct stmt_error err;
    struct cat_table *t;
    struct stmt *st;
    uint64_t key = 0;
    bool ok;
    int attempt;

    if (!flush_truncate(a))
        return false;
    for (attempt = 0;; attempt++)
    {
        t = find_table(a, rec, &ok);
        if (!ok)
            return false;
        st = stmt_lookup(&a->cache, t, rec, &err);
        if (st != NULL)
            break;
        if (attempt == 1)
        {
            refuse_record(a, rec, err.message);
            return false;
        }
        /* a column added on the target since the catalog was read? */
        if (!reload_catalog(a))
            return false;
    }
    key = stmt_key_hash(st, rec);
    if (!batch_row(a, st, rec, key))
        return false;
    tally_change(&a->tally, table_tally(a, t),
                 rec->action == W2J_INSERT   ? STATE_INSERT
                 : rec->action == W2J_UPDATE ? STATE_UPDATE
                                             : STATE_DELETE);
    return true;
}

/*
 * The commit of the transaction that carried a switch marker (cutover or
 * rollback wrote it on the fenced side, after the fence): everything before it
 * is here now. Commit at once, whatever the group's limits, so that the switch
 * does not wait for the status interval, and report APPLY_SWITCH.
 */
static bool
apply_switch(struct apply *a, const struct w2j_record *rec, enum apply_outcome *out)
{
    a->switch_in_xact = false;
    if (a->has_changes)
    {
        tally_xact_end(&a->tally);
        a->group_xacts++;
        a->group_last_commit = a->commit_lsn;
    }
    if (a->group_open)
    {
        a->group_end = rec->nextlsn;
        copy_ts(a->group_ts, rec);
        if (!commit_group(a, out))
            return false;
    }
    else
    {
        a->confirm = rec->nextlsn;
        copy_ts(a->confirm_ts, rec);
        if (!progress_commit(a, out))
            return false;
    }
    log_info("applied the switch marker (%s transaction %u, ends at " LSN_FMT "): everything "
             "before it is on the %s",
             a->o.from_role, a->xid, LSN_ARGS(rec->nextlsn), a->o.role);
    *out = APPLY_SWITCH;
    return false;
}

/* Apply one item. Returns false on failure, with *OUT set. */
static bool
apply_item(struct apply *a, const struct item *it, enum apply_outcome *out)
{
    const struct w2j_record *rec = &it->rec;
    bool held = true;

    a->last_pos = it->pos > a->last_pos ? it->pos : a->last_pos;
    if (it->kind == ITEM_IDLE)
    {
        if (a->in_xact || it->pos <= a->committed)
            return true;
        if (a->group_open)
        {
            if (it->pos > a->group_end)
                a->group_end = it->pos;
        }
        else if (it->pos > a->confirm)
        {
            a->confirm = it->pos;
            snprintf(a->confirm_ts, sizeof(a->confirm_ts), "now");
        }
        return true;
    }
    switch (rec->action)
    {
        case W2J_BEGIN:
            /* the first transaction at or after verify's point: hold before it
             * (again, when verify moves its point but not past this one) */
            while (a->pause_at != LSN_INVALID && rec->lsn >= a->pause_at &&
                   !((rec->present & W2J_HAS_NEXTLSN) && rec->nextlsn <= a->start))
            {
                if (a->group_open && !commit_group(a, out))
                    return false;
                if (!hold(a))
                {
                    held = false;
                    break;
                }
            }
            if (!held)
                break;
            a->in_xact = true;
            a->has_changes = false;
            a->xid = rec->xid;
            a->commit_lsn = rec->lsn;
            a->nextlsn = rec->nextlsn;
            copy_ts(a->ts, rec);
            a->skipping = (rec->present & W2J_HAS_NEXTLSN) && rec->nextlsn <= a->start;
            a->looped = false;
            if (!a->group_open && !a->skipping && rec->timestamp != NULL)
            {
                /* the oldest transaction not yet applied: lag is counted from it */
                int64_t us;

                if (lag_parse_timestamp(rec->timestamp, &us))
                    atomic_store(&a->st->applied_commit_us, us);
            }
            if (a->skipping)
                log_debug("skipping source transaction %u (ends at " LSN_FMT
                          ", already applied)",
                          rec->xid, LSN_ARGS(rec->nextlsn));
            return true;
        case W2J_COMMIT:
            if (!a->in_xact)
                return true;
            a->in_xact = false;
            if (a->skipping)
            {
                a->skipping = false;
                a->switch_in_xact = false;
                return true;
            }
            if (!flush_truncate(a))
                break;
            if (a->switch_in_xact)
                return apply_switch(a, rec, out);
            a->looped = false;
            if (!a->has_changes)
            {
                /* empty after filtering: confirmed, never a round trip of its own */
                if (a->group_open)
                {
                    a->group_end = rec->nextlsn;
                    copy_ts(a->group_ts, rec);
                }
                else if (rec->nextlsn > a->confirm)
                {
                    a->confirm = rec->nextlsn;
                    copy_ts(a->confirm_ts, rec);
                }
                return true;
            }
            tally_xact_end(&a->tally);
            a->group_xacts++;
            a->group_end = rec->nextlsn;
            a->group_last_commit = a->commit_lsn;
            copy_ts(a->group_ts, rec);
            if (a->careful || a->group_xacts >= (uint64_t) a->o.conf->group_xacts ||
                a->group_bytes >= (uint64_t) a->o.conf->group_bytes)
                return commit_group(a, out);
            return true;
        case W2J_INSERT:
        case W2J_UPDATE:
        case W2J_DELETE:
        case W2J_TRUNCATE:
            if (!a->in_xact || a->skipping || a->looped)
                return true;
            if (!open_group(a))
                break;
            a->has_changes = true;
            a->group_bytes += it->bytes;
            if (rec->action == W2J_TRUNCATE ? apply_truncate(a, it) : apply_row(a, it))
                return true;
            break;
        case W2J_MESSAGE:
            log_debug("logical message with prefix \"%s\" at " LSN_FMT " (%s)", rec->prefix,
                      LSN_ARGS(it->pos), rec->transactional ? "transactional" : "standalone");
            if (!rec->transactional || !a->in_xact || a->skipping || rec->prefix == NULL ||
                strcmp(rec->prefix, PROGRESS_MSG_PREFIX) != 0 || rec->content == NULL)
                return true;
            if (strncmp(rec->content, "switch ", 7) == 0)
            {
                a->switch_in_xact = true;
                snprintf(a->switch_token, sizeof(a->switch_token), "%s", rec->content + 7);
                return true;
            }
            if (strcmp(rec->content, a->other_tag) != 0 || a->looped)
                return true;
            if (a->has_changes)
            {
                /* the tag is the first statement of every transaction the
                 * other direction applies: never after changes */
                log_error("%s transaction %u carries \"%s\" after changes of its own; cannot "
                          "tell which of them to leave out (is another program writing this "
                          "tag?)",
                          a->o.from_role, a->xid, rec->content);
                break;
            }
            log_debug("leaving out %s transaction %u: the other direction applied it",
                      a->o.from_role, a->xid);
            a->looped = true;
            return true;
    }
    if (!a->pl.failed)
    {
        /* not the target's doing (out of memory, say): already logged */
        rollback(a);
        *out = APPLY_FATAL;
        return false;
    }
    rollback(a);
    *out = failure_outcome(a);
    return false;
}

/* ---- the loop --------------------------------------------------------- */

/* Wait for a batch, a stop request, or TIMEOUT_MS. */
static void
wait_for_work(struct apply *a, int timeout_ms)
{
    /* the target's socket too: verify's NOTIFY comes that way */
    struct pollfd fds[3] = {{a->ring->full_fd, POLLIN, 0},
                            {a->st->stop_fd, POLLIN, 0},
                            {PQsocket(a->conn), POLLIN, 0}};

    atomic_store(&a->st->applier_idle, !a->in_xact && !a->group_open);
    if (poll(fds, a->listening && a->pl.len == 0 ? 3 : 2, timeout_ms) > 0 &&
        (fds[0].revents & POLLIN))
        ring_clear(a->ring->full_fd);
}

/* Work to do while no batch is waiting: commit the open group, confirm
 * skipped positions. */
static bool
idle_work(struct apply *a, enum apply_outcome *out, int *timeout_ms)
{
    int64_t now = stream_now_us();
    int64_t interval = a->o.conf->status_interval_ms * 1000;

    *timeout_ms = -1;
    if (a->group_open && !a->in_xact)
        return commit_group(a, out);
    if (a->in_xact || a->group_open)
        return true;
    if (!check_requests(a))
    {
        *out = a->pl.failed ? failure_outcome(a) : APPLY_TRANSIENT;
        return false;
    }
    /* verify's point reached with nothing left before it: hold there */
    if (a->pause_at != LSN_INVALID && atomic_load(&a->st->reader_idle) &&
        atomic_load(&a->st->server_end) >= a->pause_at && ring_fill(a->ring) == 0 &&
        !hold(a))
    {
        *out = a->pl.failed ? failure_outcome(a) : APPLY_TRANSIENT;
        return false;
    }
    if (a->pause_at != LSN_INVALID)
        *timeout_ms = 100; /* the server's keepalive will show the point is reached */
    if (a->confirm > a->committed)
    {
        bool due = now - a->last_progress_commit >= interval ||
                   (a->o.stop_at != LSN_INVALID && a->confirm >= a->o.stop_at);

        if (due)
            return progress_commit(a, out);
        *timeout_ms = (int) ((a->last_progress_commit + interval - now) / 1000) + 1;
    }
    return true;
}

enum apply_outcome
apply_run(struct apply *a)
{
    enum apply_outcome out = APPLY_STOPPED;
    int64_t delay = a->o.conf->group_delay_ms * 1000;

    for (;;)
    {
        struct batch *b;
        uint32_t i;
        int timeout;

        if (a->o.stop_at != LSN_INVALID && a->durable >= a->o.stop_at && !a->group_open)
            return APPLY_REACHED;
        if (atomic_load(&a->st->stop))
            break;
        b = ring_take_full(a->ring);
        if (b == NULL)
        {
            if (!idle_work(a, &out, &timeout))
                return out;
            if (a->o.stop_at != LSN_INVALID && a->durable >= a->o.stop_at && !a->group_open)
                return APPLY_REACHED;
            if (ring_fill(a->ring) == 0 && !atomic_load(&a->st->stop))
                wait_for_work(a, timeout);
            continue;
        }
        atomic_store(&a->st->applier_idle, false);
        for (i = 0; i < b->nitems; i++)
            if (!apply_item(a, &b->items[i], &out))
            {
                ring_give_back(a->ring, b);
                return out;
            }
        ring_give_back(a->ring, b);
        if (a->group_open && !a->in_xact &&
            (ring_fill(a->ring) == 0 || stream_now_us() - a->group_start >= delay) &&
            !commit_group(a, &out))
            return out;
        if (a->pl.len > 0 && !pl_poll(&a->pl))
        {
            rollback(a);
            return failure_outcome(a);
        }
        if (!check_requests(a))
            return a->pl.failed ? failure_outcome(a) : APPLY_TRANSIENT;
    }

    /* stop requested: keep what is complete, drop what is not */
    if (a->group_open && !a->in_xact)
    {
        if (!commit_group(a, &out))
            return out;
    }
    else if (a->group_open)
    {
        log_info("stopping in the middle of source transaction %u: rolled back, it will be "
                 "applied from the start next time",
                 a->xid);
        rollback(a);
    }
    return APPLY_STOPPED;
}
