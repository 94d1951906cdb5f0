/*
 * apply_session.c - the applier's target session: opening it with the pinned
 * settings and the replica role, claiming the direction (the origin, or an
 * advisory lock), and reading where it stands.
 */
#include "bridge/streaming/apply_int.h"
#include "bridge/streaming/apply_ddl.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bridge/base/clock.h"
#include "bridge/base/log.h"
#include "bridge/pg/fence.h"
#include "bridge/pg/peer.h"
#include "bridge/pg/progress.h"

/* ---- guards ----------------------------------------------------------- */

void
apply_guard(struct apply *a)
{
    peer_guard(a->conn, a->o.conf->peer_timeout_ms, NULL, NULL);
}

bool
apply_unguard(struct apply *a, const char *while_doing)
{
    if (!peer_unguard(a->conn))
        return true;
    log_error("the link to the %s is down: no answer within %.0f s while %s (peer_timeout); "
              "reconnecting",
              a->o.role, (double) a->o.conf->peer_timeout_ms / 1000, while_doing);
    PQconsumeInput(a->conn); /* libpq learns it from the shut socket */
    if (!a->pl.failed)
    {
        a->pl.failed = true;
        a->pl.transient = true;
        memset(&a->pl.fail, 0, sizeof(a->pl.fail));
        a->pl.fail.kind = PL_OTHER;
        snprintf(a->pl.message, sizeof(a->pl.message), "the link to it is down");
    }
    return false;
}

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
    apply_guard(a); /* the session's set-up, as a whole */

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
    a->last_progress_commit = clock_now_us();
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
    /* the record of the streamed side's columns (apply_ddl.h) */
    if (!apply_ddl_open(a, failure))
        goto fail;
    /* verify asks for a pause with a NOTIFY (see sql/memori_bridge.sql) */
    res = PQexec(a->conn, "LISTEN memori_bridge");
    a->listening = PQresultStatus(res) == PGRES_COMMAND_OK;
    a->unread = a->listening;
    PQclear(res);
    res = NULL;
    apply_stage_open(a);
    if (!apply_unguard(a, "opening the session"))
    {
        *failure = PGCONN_TRANSIENT;
        goto fail;
    }
    if (!pl_init(&a->pl, a->conn, INFLIGHT))
        goto fail;
    pl_set_peer(&a->pl, opts->dsn, opts->role, opts->conf->peer_timeout_ms);
    return a;
fail:
    PQclear(res);
    if (a->conn != NULL && peer_unguard(a->conn))
    {
        log_error("the link to the %s is down: no answer within %.0f s while opening the "
                  "session (peer_timeout); reconnecting",
                  opts->role, (double) opts->conf->peer_timeout_ms / 1000);
        *failure = PGCONN_TRANSIENT;
    }
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

int
apply_backend_pid(const struct apply *a)
{
    return a->conn != NULL ? PQbackendPID(a->conn) : 0;
}

bool
apply_link_lost(const struct apply *a)
{
    return a->conn == NULL || PQstatus(a->conn) != CONNECTION_OK;
}

void
apply_close(struct apply *a)
{
    if (a == NULL)
        return;
    peer_close(a->conn);
    pl_free(&a->pl);
    apply_ddl_close(a);
    catalog_free(&a->cat);
    stmt_cache_clear(&a->cache);
    for (int i = 0; i < MAX_PENDING; i++)
        stmt_batch_free(&a->pend[i].b);
    free(a);
}
