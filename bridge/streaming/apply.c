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
 *
 * A target link that dies while nothing is applied must be found too: while
 * idle, a Sync goes to the server every quarter of peer_timeout, and its
 * answer is waited for as any result is (pipeline.h: a silent server is
 * asked about on a new connection).
 */
#include "bridge/streaming/apply_int.h"
#include "bridge/streaming/apply_ddl.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bridge/base/clock.h"
#include "bridge/base/lag.h"
#include "bridge/base/log.h"
#include "bridge/pg/catalog.h"
#include "bridge/pg/fence.h"
#include "bridge/pg/progress.h"
#include "bridge/streaming/pipeline.h"
#include "bridge/streaming/stmt.h"
#include "bridge/streaming/tally.h"

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
    if (!apply_reload_catalog(a))
    {
        *ok = false;
        return NULL;
    }
    t = catalog_find(&a->cat, rec->schema, rec->schema_len, rec->table, rec->table_len);
    if (t != NULL)
        return t;
    /* made on the source since: made here too, at its place (apply_ddl.h);
     * NULL with *ok: its changes are left out */
    switch (apply_ddl_table(a, rec))
    {
        case DDL_DONE:
            t = catalog_find(&a->cat, rec->schema, rec->schema_len, rec->table, rec->table_len);
            break;
        case DDL_SKIP:
            break;
        default:
            *ok = false;
            break;
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

    if (!apply_flush_rows(a))
        return false;
    if (a->ntrunc > 0 && (it->rec.lsn != a->trunc_lsn || a->ntrunc == 64))
        if (!apply_flush_truncate(a))
            return false;
    t = find_table(a, &it->rec, &ok);
    if (!ok || t == NULL)
        return ok;
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
batch_row(struct apply *a, struct stmt *st, const struct w2j_record *rec, uint64_t key,
          uint64_t stage_id)
{
    struct cat_table *t = st->table;
    struct pending *p = NULL, *free_slot = NULL;
    /* an UPDATE or DELETE of several rows joins them in no set order: fine
     * when only the key identifies a row, not when another unique index could
     * see two of its rows swap a value */
    bool single = st->single || a->careful || t->barrier ||
                  (t->ordered && st->action != W2J_INSERT);
    int i;

    if (t->barrier && !apply_flush_rows(a))
        return false;
    if (single || t->ordered || key == 0)
    {
        if (!apply_flush_pending(a, t, single ? NULL : st))
            return false;
    }
    else
        for (i = 0; i < MAX_PENDING; i++)
        {
            struct pending *q = &a->pend[i];

            if (q->b.st != NULL && q->b.st != st && q->b.st->table == t &&
                stmt_batch_has_key(&q->b, key) && !apply_flush_one(a, q))
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
        if (!apply_flush_one(a, p))
            return false;
        free_slot = p;
        p = NULL;
    }
    if (p == NULL)
    {
        if (free_slot == NULL)
        {
            if (!apply_flush_rows(a)) /* every slot busy: send them all */
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

        if (!stmt_batch_add(&p->b, st, rec, key, stage_id))
        {
            log_error("out of memory batching rows of %s.%s", t->schema, t->name);
            return false;
        }
        a->pend_bytes += p->b.bytes - before;
    }
    if (single)
        return apply_flush_one(a, p);
    if (a->pend_bytes >= (size_t) a->o.conf->batch_bytes * 2)
        return apply_flush_rows(a);
    return true;
}

static bool
apply_row(struct apply *a, const struct item *it)
{
    const struct w2j_record *rec = &it->rec;
    struct stmt_error err;
    struct cat_table *t;
    struct stmt *st;
    uint64_t key = 0, stage_id;
    bool ok;
    int attempt;

    if (!apply_flush_truncate(a))
        return false;
    for (attempt = 0;; attempt++)
    {
        unsigned shapes;
        enum ddl_result r;

        t = find_table(a, rec, &ok);
        if (!ok || t == NULL)
            return ok;
        shapes = a->cache.count;
        st = stmt_lookup(&a->cache, t, rec, apply_stage_over(a), &err);
        if (st != NULL && a->cache.count == shapes)
            break; /* a shape seen before */
        if (attempt == 3)
        {
            apply_refuse_record(a, rec, err.message);
            return false;
        }
        /* a new shape: does it still fit the target's table? */
        r = apply_ddl_check(a, t, rec);
        if (r == DDL_FAIL)
            return false;
        if (r == DDL_OK && st != NULL)
            break;
        if (r == DDL_OK && !apply_reload_catalog(a))
            return false; /* (a column added on the target by hand since?) */
    }
    key = stmt_key_hash(st, rec);
    if (!apply_stage(a, st, rec, &stage_id) || !batch_row(a, st, rec, key, stage_id))
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
        if (!apply_commit_group(a, out))
            return false;
    }
    else
    {
        a->confirm = rec->nextlsn;
        copy_ts(a->confirm_ts, rec);
        if (!apply_progress_commit(a, out))
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
                if (a->group_open && !apply_commit_group(a, out))
                    return false;
                if (!apply_hold(a))
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
            if (!apply_flush_truncate(a))
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
                return apply_commit_group(a, out);
            return true;
        case W2J_INSERT:
        case W2J_UPDATE:
        case W2J_DELETE:
        case W2J_TRUNCATE:
            if (!a->in_xact || a->skipping || a->looped)
                return true;
            if (!apply_open_group(a))
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
    if (apply_ddl_stopped(a))
    {
        /* the schema changed in a way the bridge does not follow: nothing of
         * this group stays. The transactions before this one go first, one
         * at a time (the fix is right only after them); then the supervisor
         * holds until the target is fixed */
        a->pl.failed = false;
        apply_rollback(a);
        if (!a->careful && a->group_xacts > 0)
        {
            a->refused = a->last_pos;
            log_info("a schema change stops the stream at %s transaction %u; applying the "
                     "transactions before it first, one at a time",
                     a->o.from_role, a->xid);
            *out = APPLY_REFUSED;
            return false;
        }
        *out = APPLY_SCHEMA;
        return false;
    }
    if (!a->pl.failed)
    {
        /* not the target's doing (out of memory, say): already logged */
        apply_rollback(a);
        *out = APPLY_FATAL;
        return false;
    }
    apply_rollback(a);
    *out = apply_failure_outcome(a);
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
    int64_t now = clock_now_us();
    int64_t interval = a->o.conf->status_interval_ms * 1000;
    int64_t ping = a->o.conf->peer_timeout_ms * 250;

    *timeout_ms = -1;
    if (a->group_open && !a->in_xact)
        return apply_commit_group(a, out);
    if (a->in_xact || a->group_open)
        return true;
    if (!apply_check_requests(a))
    {
        *out = a->pl.failed ? apply_failure_outcome(a) : APPLY_TRANSIENT;
        return false;
    }
    /* the catalogs of both sides, now and then (apply_ddl_check.c) */
    if (!apply_ddl_periodic(a, out))
        return false;
    /* verify's point reached with nothing left before it: hold there */
    if (a->pause_at != LSN_INVALID && atomic_load(&a->st->reader_idle) &&
        atomic_load(&a->st->server_end) >= a->pause_at && ring_fill(a->ring) == 0 &&
        !apply_hold(a))
    {
        *out = a->pl.failed ? apply_failure_outcome(a) : APPLY_TRANSIENT;
        return false;
    }
    if (a->pause_at != LSN_INVALID)
        *timeout_ms = 100; /* the server's keepalive will show the point is reached */
    else
        *timeout_ms = (int) (interval / 1000) + 1; /* the next comparison of the catalogs */
    if (a->confirm > a->committed)
    {
        bool due = now - a->last_progress_commit >= interval ||
                   (a->o.stop_at != LSN_INVALID && a->confirm >= a->o.stop_at);

        if (due)
            return apply_progress_commit(a, out);
        *timeout_ms = (int) ((a->last_progress_commit + interval - now) / 1000) + 1;
    }
    if (ping > 0 && a->pl.len == 0)
    {
        if (now - a->last_ping >= ping)
        {
            a->last_ping = now;
            if (!pl_sync(&a->pl))
            {
                *out = apply_failure_outcome(a);
                return false;
            }
        }
        else if (*timeout_ms < 0 || *timeout_ms > (a->last_ping + ping - now) / 1000 + 1)
            *timeout_ms = (int) ((a->last_ping + ping - now) / 1000) + 1;
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
            (ring_fill(a->ring) == 0 || clock_now_us() - a->group_start >= delay) &&
            !apply_commit_group(a, &out))
            return out;
        if (a->pl.len > 0 && !pl_poll(&a->pl))
        {
            apply_rollback(a);
            return apply_failure_outcome(a);
        }
        if (!apply_check_requests(a))
            return a->pl.failed ? apply_failure_outcome(a) : APPLY_TRANSIENT;
    }

    /* stop requested: keep what is complete, drop what is not */
    if (a->group_open && !a->in_xact)
    {
        if (!apply_commit_group(a, &out))
            return out;
    }
    else if (a->group_open)
    {
        log_info("stopping in the middle of source transaction %u: rolled back, it will be "
                 "applied from the start next time",
                 a->xid);
        apply_rollback(a);
    }
    return APPLY_STOPPED;
}
