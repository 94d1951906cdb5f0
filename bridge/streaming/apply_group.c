/*
 * apply_group.c - a group, the target transaction: its statements, its
 * commit with the progress (and the tag or the origin), a progress-only commit,
 * a rollback, and the one line that names a refusal.
 */
#include "bridge/streaming/apply_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bridge/base/clock.h"
#include "bridge/base/lag.h"
#include "bridge/base/log.h"
#include "bridge/pg/progress.h"

static const char origin_setup_sql[] =
    "SELECT pg_catalog.pg_replication_origin_xact_setup($1::pg_lsn, $2::timestamptz)";
static const char tag_sql[] = "SELECT pg_catalog.pg_logical_emit_message(true, $1, $2)";

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
    if (e->kind == PL_ROWS || e->kind == PL_PREPARE || e->kind == PL_STAGE)
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
void
apply_refuse_record(struct apply *a, const struct w2j_record *rec, const char *message)
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

bool
apply_open_group(struct apply *a)
{
    struct pl_entry e = {.kind = PL_BEGIN};

    if (a->group_open)
        return true;
    a->group_open = true;
    a->group_xacts = 0;
    a->group_bytes = 0;
    a->group_changes = 0;
    a->group_start = clock_now_us();
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
bool
apply_flush_one(struct apply *a, struct pending *p)
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
bool
apply_flush_pending(struct apply *a, const struct cat_table *t, const struct stmt *except)
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
        if (!apply_flush_one(a, oldest))
            return false;
    }
}

bool
apply_flush_rows(struct apply *a)
{
    return apply_flush_pending(a, NULL, NULL);
}

void
apply_reset_pending(struct apply *a, size_t limit)
{
    int i;

    for (i = 0; i < MAX_PENDING; i++)
        stmt_batch_reset(&a->pend[i].b, limit);
    a->pend_bytes = 0;
}

bool
apply_flush_truncate(struct apply *a)
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

bool
apply_flush_all(struct apply *a)
{
    return apply_flush_rows(a) && apply_flush_truncate(a);
}

/* Roll back what is open after a failure, leaving the connection usable. */
void
apply_rollback(struct apply *a)
{
    struct pl_entry e = {.kind = PL_ROLLBACK};
    bool failed = a->pl.failed;
    struct pipeline saved = a->pl;

    apply_reset_pending(a, (size_t) a->o.conf->batch_bytes * 2);
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
enum apply_outcome
apply_failure_outcome(struct apply *a)
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

/* Commit the open group at END with commit time TS. Returns false with the
 * outcome in *OUT on failure. */
bool
apply_commit_group(struct apply *a, enum apply_outcome *out)
{
    struct pl_entry commit = {.kind = PL_COMMIT};
    int64_t commit_us;

    commit.xid = a->xid;
    commit.commit_lsn = a->commit_lsn;
    if (!apply_flush_all(a) || !send_progress(a, a->group_end, a->group_ts) || !pl_sync(&a->pl) ||
        a->pl.failed)
    {
        apply_rollback(a);
        *out = apply_failure_outcome(a);
        return false;
    }
    if (!pl_send(&a->pl, &commit, "COMMIT", 0, NULL) || !pl_sync(&a->pl) || a->pl.failed)
    {
        a->group_open = false;
        apply_rollback(a);
        *out = apply_failure_outcome(a);
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
    atomic_store(&a->st->last_apply_us, clock_wall_us());
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
bool
apply_progress_commit(struct apply *a, enum apply_outcome *out)
{
    struct pl_entry begin = {.kind = PL_BEGIN}, commit = {.kind = PL_COMMIT};

    a->group_open = true; /* for apply_rollback() */
    if (!pl_send(&a->pl, &begin, "BEGIN", 0, NULL) || !send_progress(a, a->confirm, a->confirm_ts) ||
        !pl_send(&a->pl, &commit, "COMMIT", 0, NULL) || !pl_sync(&a->pl) || a->pl.failed)
    {
        apply_rollback(a);
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
    a->last_progress_commit = clock_now_us();
    publish_durable(a);
    atomic_store(&a->st->applied, a->committed);
    log_debug("confirmed " LSN_FMT " with a progress-only transaction", LSN_ARGS(a->confirm));
    return true;
}

/* Reload the catalog in the middle of a group: sync, leave pipeline mode,
 * read, come back. */
bool
apply_reload_catalog(struct apply *a)
{
    enum pgconn_failure failure;
    PGresult *res;

    if (!apply_flush_all(a) || !pl_sync(&a->pl) || a->pl.failed)
        return false;
    if (!pl_leave(&a->pl))
        return false;
    apply_reset_pending(a, 0);
    stmt_cache_clear(&a->cache);
    apply_guard(a);
    res = PQexec(a->conn, "DEALLOCATE ALL");
    PQclear(res);
    if (!catalog_load(&a->cat, a->conn, a->o.schemas, &failure))
    {
        if (!apply_unguard(a, "reading the catalog"))
            return false;
        a->pl.failed = true;
        a->pl.transient = failure == PGCONN_TRANSIENT;
        snprintf(a->pl.message, sizeof(a->pl.message), "could not read the target's catalog");
        return false;
    }
    if (!apply_unguard(a, "reading the catalog"))
        return false;
    return pl_enter(&a->pl);
}
