/*
 * apply_ddl_check.c - the periodic comparison of both sides' table
 * definitions, between groups.
 *
 * Logical decoding carries no DDL: an index, a constraint, a default, a
 * dropped table, or a column added to a table no change touches since, show
 * only in the catalogs. Every status interval, with nothing open, the
 * applier reads both sides' definitions (tabledef.h) and their differences
 * (tablediff.h). The streamed side's catalog is read "now", ahead of the
 * stream: a difference is acted on only when the previous check found it
 * too and everything the streamed side had written by then (its WAL
 * position at that read) is applied. By then a change that showed it would
 * have been applied, with what it needed, so what is left is what the stream
 * cannot show. The bridge runs the fixes it follows by itself (tablediff.h),
 * each in a transaction of its own, and stops on the first other one. A fix
 * that fails (a unique index the target's rows do not satisfy yet, say) is
 * warned about once and tried again at the next check.
 */
#include "bridge/streaming/apply_ddl.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bridge/base/clock.h"
#include "bridge/base/log.h"
#include "bridge/pg/progress.h"
#include "bridge/pg/tablediff.h"

static bool
has_key(char (*keys)[DDL_KEY_LEN], int n, const char *key)
{
    int i;

    for (i = 0; i < n; i++)
        if (strcmp(keys[i], key) == 0)
            return true;
    return false;
}

/* Remember KEY among the failed fixes; false when it was there already. */
static bool
first_failure(struct apply_ddl *x, const char *key)
{
    char(*grown)[DDL_KEY_LEN];

    if (has_key(x->failed_keys, x->nfailed, key))
        return false;
    grown = realloc(x->failed_keys, (size_t) (x->nfailed + 1) * DDL_KEY_LEN);
    if (grown == NULL)
        return true;
    x->failed_keys = grown;
    snprintf(x->failed_keys[x->nfailed++], DDL_KEY_LEN, "%s", key);
    return true;
}

/* Run the fix of D in a transaction of its own. */
static bool
run_fix(struct apply *a, const struct td_diff *d)
{
    struct apply_ddl *x = a->ddl;
    struct layout_table *lt;
    const struct td_table *f = d->from;
    bool ok;
    int i;

    PQclear(PQexec(a->conn, "BEGIN"));
    PQclear(PQexec(a->conn, "SET LOCAL client_min_messages = warning"));
    {
        /* tagged like every transaction the bridge applies: the values it
         * copies must not come back through the other direction (DESIGN
         * invariant 5) */
        char tag[160];
        const char *params[2] = {PROGRESS_MSG_PREFIX, tag};

        snprintf(tag, sizeof(tag), PROGRESS_TAG "%s", a->o.origin);
        PQclear(PQexecParams(a->conn, "SELECT pg_catalog.pg_logical_emit_message(true, $1, $2)", 2,
                             NULL, params, NULL, NULL, 0));
    }
    lt = layout_table(&x->layout, f->schema, strlen(f->schema), f->name, strlen(f->name), true);
    if (lt == NULL)
        ok = false;
    else if (d->kind == TD_TABLE_MISSING)
    {
        ok = ddl_create_table(a, f, NULL, NULL, 0);
        lt->relid = f->oid;
        lt->relid_dirty = true;
        for (i = 0; ok && i < f->ncols; i++)
            ok = layout_set(lt, f->cols[i].attnum, f->cols[i].name, false);
    }
    else if (d->kind == TD_COLUMN_MISSING)
    {
        const struct cat_table *t =
            catalog_find(&a->cat, f->schema, strlen(f->schema), f->name, strlen(f->name));

        ok = t != NULL && ddl_add_column(a, t, f, d->col, d->col->name, false) &&
             layout_set(lt, d->col->attnum, d->col->name, false);
    }
    else
        ok = ddl_exec(a, d->label, d->fix, NULL, NULL);
    if (ok && (ok = ddl_write_layout(a)))
    {
        PGresult *res = PQexec(a->conn, "COMMIT");

        ok = PQresultStatus(res) == PGRES_COMMAND_OK;
        PQclear(res);
    }
    if (ok)
        return true;
    PQclear(PQexec(a->conn, "ROLLBACK"));
    if (a->pl.failed && a->pl.transient)
        return false;
    /* not a stop: warned once, tried again next time */
    if (first_failure(x, d->key))
        log_warning("could not follow the %s's schema on the %s (will try again): %s",
                    a->o.from_role, a->o.role, x->stopped ? x->stop.message : a->pl.message);
    x->stopped = false;
    a->pl.failed = false;
    return true;
}

/* Record the stop of D (found by the check, not in the stream). */
static void
stop_on(struct apply *a, const struct td_diff *d)
{
    struct apply_ddl *x = a->ddl;

    memset(&x->stop, 0, sizeof(x->stop));
    snprintf(x->stop.key, sizeof(x->stop.key), "%s", d->key);
    snprintf(x->stop.table, sizeof(x->stop.table), "%s", d->label);
    snprintf(x->stop.statement, sizeof(x->stop.statement), "%s", d->fix);
    snprintf(x->stop.message, sizeof(x->stop.message),
             "schema change on the %s: %s; run on the %s: %s (%s); the bridge goes on by itself "
             "once it is done",
             a->o.from_role, d->what, a->o.role, d->fix, d->data);
    x->stopped = true;
}

/* Compare, act, and remember what was found. False with *OUT on a stop or a
 * failure; *CHANGED when the applied side's tables changed. */
static bool
check(struct apply *a, enum apply_outcome *out, bool *changed)
{
    struct apply_ddl *x = a->ddl;
    struct tabledefs from, to;
    struct td_diffs diffs;
    enum pgconn_failure failure = PGCONN_FATAL;
    const char *stop_key = a->o.stop_key != NULL ? a->o.stop_key : "";
    bool stop_seen = false, ok = true;
    int i;

    if (!ddl_read_from(a, &from))
    {
        /* a lost connection is worth a new session; anything else (logged)
         * only this check */
        bool transient = a->pl.transient;

        a->pl.failed = false;
        *out = APPLY_TRANSIENT;
        return !transient;
    }
    if (!tabledefs_read(&to, a->conn, a->o.schemas, a->o.role, false, &failure))
    {
        tabledefs_free(&from);
        *out = APPLY_TRANSIENT;
        return failure != PGCONN_TRANSIENT;
    }
    if (!tablediff(&from, &to, a->o.from_role, a->o.role, &diffs))
    {
        tabledefs_free(&from);
        tabledefs_free(&to);
        *out = APPLY_FATAL;
        return false;
    }
    for (i = 0; i < diffs.n && ok; i++)
    {
        const struct td_diff *d = &diffs.d[i];
        bool again = strcmp(d->key, stop_key) == 0;
        bool settled = again || (has_key(x->prev_keys, x->nprev, d->key) &&
                                 a->committed >= x->prev_wal && x->prev_wal != LSN_INVALID);

        stop_seen |= again;
        if (!settled)
            continue;
        if (!d->automatic)
        {
            stop_on(a, d);
            *out = APPLY_SCHEMA;
            ok = false;
            break;
        }
        if (!run_fix(a, d))
        {
            *out = APPLY_TRANSIENT;
            ok = false;
            break;
        }
        *changed = true;
    }
    if (ok && stop_key[0] != '\0' && !stop_seen)
    {
        log_info("the %s's schema difference that stopped the stream is gone: going on",
                 a->o.from_role);
        schema_stop_set(&a->st->schema, NULL);
        a->o.stop_key = NULL;
    }
    /* what was found now is what the next check acts on */
    free(x->prev_keys);
    x->prev_keys = diffs.n > 0 ? calloc((size_t) diffs.n, DDL_KEY_LEN) : NULL;
    x->nprev = 0;
    for (i = 0; x->prev_keys != NULL && i < diffs.n; i++)
        snprintf(x->prev_keys[x->nprev++], DDL_KEY_LEN, "%s", diffs.d[i].key);
    x->prev_wal = from.wal;
    tablediff_free(&diffs);
    tabledefs_free(&from);
    tabledefs_free(&to);
    return ok;
}

bool
apply_ddl_periodic(struct apply *a, enum apply_outcome *out)
{
    struct apply_ddl *x = a->ddl;
    int64_t now = clock_now_us();
    bool changed = false, ok;

    if (x == NULL || a->in_xact || a->group_open ||
        (x->last_check != 0 && now - x->last_check < a->o.conf->status_interval_ms * 1000))
        return true;
    x->last_check = now;
    if (!pl_sync(&a->pl) || a->pl.failed || !pl_leave(&a->pl))
    {
        *out = a->pl.failed ? apply_failure_outcome(a) : APPLY_TRANSIENT;
        return false;
    }
    ok = check(a, out, &changed);
    if (!pl_enter(&a->pl))
    {
        *out = APPLY_TRANSIENT;
        return false;
    }
    if (changed && !apply_reload_catalog(a))
    {
        *out = a->pl.transient ? APPLY_TRANSIENT : APPLY_FATAL;
        return false;
    }
    return ok && (!changed || ddl_sync_skips(a));
}
