/*
 * apply_ddl.c - what a change shows about the schema of the side streamed
 * from, against the applied side's table.
 *
 * NOTES
 *
 * The applier looks at each new shape of change once (a shape is the table,
 * the action, and each column's name, attribute number and type: stmt.h).
 * wal2json writes an INSERT with every live column of the row, an UPDATE
 * without the unchanged TOASTed ones, and each column with its attnum as
 * the source's catalog had it when the change was written
 * (include-column-positions). Against the record of what earlier changes
 * showed (layout.h) and the applied side's table:
 *
 *   a name under a known attnum with another name:  a rename, certain;
 *   a name under an attnum never seen, the target lacking it:  a new
 *     column, added from the streamed side's catalog, read now; if that
 *     catalog has no live column of that attnum any more (added and dropped
 *     again before the bridge got there), its values are left out;
 *   a name the target has under another attnum:  dropped and added again;
 *   a type the target's column does not take unchanged:  widened when the
 *     new type takes every old value, else a stop;
 *   a target column an INSERT does not carry (or an UPDATE, when it cannot
 *     be a TOASTed value left out):  dropped on the source, or, when the
 *     record never saw it and a new name appears with it, a rename the
 *     bridge cannot tell from a drop and an add: a stop naming both;
 *   an UPDATE or DELETE identified by other columns than the target's
 *     primary key, where the source identifies rows by its key:  the key
 *     changed.
 *
 * Everything this adds runs in the open group before the change that needs
 * it (apply_ddl_exec.c).
 */
#include "bridge/streaming/apply_ddl.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bridge/base/log.h"
#include "bridge/pg/peer.h"
#include "bridge/pg/tablediff.h"

#define QI_LEN 200

static const char *
qi(const char *name, char *buf)
{
    if (!pgconn_quote_ident(name, buf, QI_LEN))
        snprintf(buf, QI_LEN, "\"?\"");
    return buf;
}

/* ---- setting up ---------------------------------------------------------- */

/* The skip list of every table of the catalog, from the record. */
bool
ddl_sync_skips(struct apply *a)
{
    struct layout *l = &a->ddl->layout;
    int i, j;

    for (i = 0; i < l->ntables; i++)
    {
        struct layout_table *lt = &l->tables[i];
        struct cat_table *t =
            catalog_find(&a->cat, lt->schema, strlen(lt->schema), lt->name, strlen(lt->name));

        for (j = 0; t != NULL && j < lt->ncols; j++)
            if (lt->cols[j].gone &&
                catalog_column(t, lt->cols[j].name, strlen(lt->cols[j].name)) < 0 &&
                !catalog_skip(t, lt->cols[j].name))
                return false;
    }
    return true;
}

/*
 * A direction's first session (nothing recorded yet: just after init or a
 * first cutover, or a bridge from before the record) starts the record from
 * the catalogs: for each table whose columns have the same names and types
 * on both sides, the streamed side's attnums. The sides were just made equal,
 * so that is what the stream will show; a table that differs is left to its
 * changes, and a rename there names both statements. Best effort.
 */
static void
seed_layout(struct apply *a)
{
    struct apply_ddl *x = a->ddl;
    struct tabledefs from;
    char q1[128], q2[128];
    int i, j;

    if (!ddl_read_from(a, &from))
    {
        a->pl.failed = false;
        return;
    }
    for (i = 0; i < from.ntables; i++)
    {
        const struct td_table *f = &from.tables[i];
        const struct cat_table *t =
            catalog_find(&a->cat, f->schema, strlen(f->schema), f->name, strlen(f->name));
        struct layout_table *lt;
        bool same = t != NULL && t->ncols == f->ncols;

        for (j = 0; same && j < f->ncols; j++)
        {
            int k = catalog_column(t, f->cols[j].name, strlen(f->cols[j].name));

            same = k >= 0 && strcmp(tablediff_type_norm(f->cols[j].type, q1, sizeof(q1)),
                                    tablediff_type_norm(t->cols[k].fulltype, q2, sizeof(q2))) == 0;
        }
        if (!same || (lt = layout_table(&x->layout, f->schema, strlen(f->schema), f->name,
                                        strlen(f->name), true)) == NULL)
            continue;
        lt->relid = f->oid;
        lt->relid_dirty = true;
        for (j = 0; j < f->ncols; j++)
            if (!layout_set(lt, f->cols[j].attnum, f->cols[j].name, false))
                break;
    }
    tabledefs_free(&from);
    if (!ddl_write_layout(a))
        a->pl.failed = false;
}

bool
apply_ddl_open(struct apply *a, enum pgconn_failure *failure)
{
    a->ddl = calloc(1, sizeof(*a->ddl));
    if (a->ddl == NULL)
    {
        log_error("out of memory");
        *failure = PGCONN_FATAL;
        return false;
    }
    a->ddl->keep = layout_load(&a->ddl->layout, a->conn, a->o.origin, a->o.role);
    if (a->ddl->keep && a->ddl->layout.ntables == 0)
        seed_layout(a);
    if (!ddl_sync_skips(a))
    {
        log_error("out of memory");
        *failure = PGCONN_FATAL;
        return false;
    }
    return true;
}

void
apply_ddl_close(struct apply *a)
{
    struct apply_ddl *x = a->ddl;
    int i;

    if (x == NULL)
        return;
    peer_close(x->from);
    layout_free(&x->layout);
    for (i = 0; i < x->ngone; i++)
        free(x->gone[i]);
    free(x->gone);
    free(x->prev_keys);
    free(x->failed_keys);
    free(x);
    a->ddl = NULL;
}

bool
apply_ddl_stopped(const struct apply *a)
{
    return a->ddl != NULL && a->ddl->stopped;
}

void
apply_schema_stop(const struct apply *a, struct schema_stop *out)
{
    if (a->ddl != NULL)
        *out = a->ddl->stop;
    else
        memset(out, 0, sizeof(*out));
}

/* ---- a new table --------------------------------------------------------- */

/* Warn once that the changes of LABEL are left out. */
static void
left_out_table(struct apply *a, const char *label)
{
    struct apply_ddl *x = a->ddl;
    char **grown;
    int i;

    atomic_fetch_add(&a->st->ddl_left_out, 1);
    for (i = 0; i < x->ngone; i++)
        if (strcmp(x->gone[i], label) == 0)
            return;
    log_warning("changes of %s are left out: the table is on neither the %s nor the %s any more "
                "(made and dropped again on the %s before the bridge got there)",
                label, a->o.from_role, a->o.role, a->o.from_role);
    grown = realloc(x->gone, (size_t) (x->ngone + 1) * sizeof(char *));
    if (grown == NULL)
        return;
    x->gone = grown;
    if ((x->gone[x->ngone] = strdup(label)) != NULL)
        x->ngone++;
}

/* A table of the applied side the streamed side lacks now, or NULL. */
static const struct cat_table *
orphan_table(const struct apply *a, const struct tabledefs *from)
{
    int i;

    for (i = 0; i < a->cat.ntables; i++)
        if (tabledefs_find(from, a->cat.tables[i].schema, a->cat.tables[i].name) == NULL)
            return &a->cat.tables[i];
    return NULL;
}

enum ddl_result
apply_ddl_table(struct apply *a, const struct w2j_record *rec)
{
    struct apply_ddl *x = a->ddl;
    struct tabledefs from;
    const struct td_table *src;
    const struct cat_table *orphan;
    struct layout_table *lt, *was;
    char label[300], q[QI_LEN], q2[QI_LEN], q3[QI_LEN], fix[1024];
    int *attnums = NULL, n = 0;
    const char **names = NULL;
    uint32_t i;
    enum ddl_result r = DDL_FAIL;

    snprintf(label, sizeof(label), "%.*s.%.*s", (int) rec->schema_len, rec->schema,
             (int) rec->table_len, rec->table);
    if (rec->action == W2J_TRUNCATE)
    {
        log_debug("TRUNCATE of %s left out: the %s has no such table yet (it is made at its "
                  "first row)",
                  label, a->o.role);
        return DDL_SKIP;
    }
    if (!ddl_read_from(a, &from))
        return DDL_FAIL;
    src = tabledefs_find(&from, rec->schema, rec->table);
    if (src == NULL)
    {
        tabledefs_free(&from);
        left_out_table(a, label);
        return DDL_SKIP;
    }
    was = layout_by_relid(&x->layout, src->oid);
    if (was != NULL && catalog_find(&a->cat, was->schema, strlen(was->schema), was->name,
                                    strlen(was->name)) != NULL)
    {
        qi(was->schema, q);
        qi(was->name, q2);
        qi(src->name, q3);
        snprintf(fix, sizeof(fix), "ALTER TABLE %s.%s RENAME TO %s", q, q2, q3);
        snprintf(label, sizeof(label), "%s.%s", src->schema, src->name);
        ddl_stop(a, label, fix, "the rows stay",
                 "table %s.%s was renamed to %s on the %s (the same OID, %u)", was->schema,
                 was->name, src->name, a->o.from_role, src->oid);
        goto done;
    }
    orphan = orphan_table(a, &from);
    if (orphan != NULL && strcmp(orphan->schema, src->schema) == 0)
    {
        snprintf(fix, sizeof(fix),
                 "ALTER TABLE %s RENAME TO %s (if it was renamed; the rows stay), or DROP TABLE "
                 "%s (if it was dropped; its rows go, as they did there)",
                 orphan->qualified, qi(src->name, q), orphan->qualified);
        ddl_stop(a, label, fix, "the bridge then makes what is still missing",
                 "table %s is new on the %s, and %s.%s is on the %s only: the bridge cannot tell "
                 "a rename from a drop and a new table",
                 label, a->o.from_role, orphan->schema, orphan->name, a->o.role);
        goto done;
    }
    if (rec->action != W2J_INSERT)
    {
        ddl_stop(a, label, "memori-bridge init --force", "copies everything again",
                 "table %s is not on the %s, and this %s needs rows the %s never got", label,
                 a->o.role, w2j_action_name(rec->action), a->o.role);
        goto done;
    }
    /* the columns the change carries: those that existed when it was
     * written; later ones come with their own changes, and their values */
    attnums = calloc(rec->ncolumns + 1, sizeof(int));
    names = calloc(rec->ncolumns + 1, sizeof(char *));
    if (attnums == NULL || names == NULL)
        goto done;
    lt = layout_table(&x->layout, rec->schema, rec->schema_len, rec->table, rec->table_len, true);
    if (lt == NULL)
        goto done;
    for (i = 0; i < rec->ncolumns; i++)
    {
        const struct w2j_column *c = &rec->columns[i];
        const struct td_column *sc =
            c->position ? td_column_attnum(src, c->position) : td_column_named(src, c->name);

        if (sc != NULL)
        {
            names[n] = c->name; /* a later rename comes with its own changes */
            attnums[n++] = sc->attnum;
        }
        if (c->position && !layout_set(lt, c->position, c->name, sc == NULL))
            goto done;
    }
    lt->relid = src->oid;
    lt->relid_dirty = true;
    if (!ddl_sync(a))
        goto done;
    if (!ddl_create_table(a, src, attnums, names, n))
    {
        pl_enter(&a->pl);
        goto done;
    }
    if (!ddl_write_layout(a) || !ddl_resume(a))
        goto done;
    r = ddl_sync_skips(a) ? DDL_DONE : DDL_FAIL;
done:
    free(attnums);
    free(names);
    tabledefs_free(&from);
    return r;
}

/* ---- a new shape --------------------------------------------------------- */

/* What one record shows against the target's table. */
struct plan
{
    const struct w2j_column **add; /* columns the target lacks */
    bool *readd;                   /* ... that the record knew (dropped on the target) */
    int nadd, nnew;
    const struct w2j_column **widen; /* columns whose streamed type is wider */
    int nwiden;
    int *toast, ntoast;           /* target columns an UPDATE left out: maybe TOAST */
    int *dropped, ndropped;       /* target columns the record knew, not carried */
    int *unacc, nunacc;           /* target columns neither carried nor known */
    const struct w2j_column *key; /* an identity column the target lacks */
    bool pk_differs;
};

static bool
carried(const struct w2j_record *rec, const char *name)
{
    uint32_t i;

    for (i = 0; i < rec->ncolumns; i++)
        if (strcmp(rec->columns[i].name, name) == 0)
            return true;
    return false;
}

/* Does REC identify its row by exactly T's primary key, or by the whole row
 * (REPLICA IDENTITY FULL)? */
static bool
identity_is_key(const struct cat_table *t, const struct w2j_record *rec)
{
    int i, pk_in = 0;
    uint32_t j;

    for (j = 0; j < rec->nidentity; j++)
    {
        int ci = catalog_column(t, rec->identity[j].name, rec->identity[j].name_len);

        if (ci >= 0 && t->cols[ci].pk)
            pk_in++;
    }
    if (pk_in == t->npk && rec->nidentity == (uint32_t) t->npk)
        return true;
    for (i = 0; i < t->ncols; i++)
        if (!t->cols[i].generated && !t->cols[i].varlena && !t->cols[i].pk)
        {
            for (j = 0; j < rec->nidentity; j++)
                if (strcmp(rec->identity[j].name, t->cols[i].name) == 0)
                    break;
            if (j == rec->nidentity)
                return false; /* not the whole row either */
        }
    return pk_in == t->npk;
}

/* The streamed type of C against target column K of T. */
static bool
check_type(struct apply *a, const struct cat_table *t, int k, const struct w2j_column *c,
           struct plan *p)
{
    const char *tt = t->cols[k].fulltype;
    char label[300], fix[1024], q[QI_LEN];

    if (c->type == NULL || tablediff_type_fits(c->type, tt))
        return true; /* the same, or the target takes it as it is */
    if (tablediff_type_fits(tt, c->type))
    {
        p->widen[p->nwiden++] = c;
        return true;
    }
    snprintf(label, sizeof(label), "%s.%s", t->schema, t->name);
    qi(c->name, q);
    snprintf(fix, sizeof(fix), "ALTER TABLE %s ALTER COLUMN %s TYPE %s USING %s::%s", t->qualified,
             q, c->type, q, c->type);
    return ddl_stop(a, label, fix,
                    "existing values are converted; one that does not convert makes it fail",
                    "column %s of %s is %s in the changes, %s on the %s: not a widening the "
                    "bridge follows by itself",
                    q, label, c->type, tt, a->o.role);
}

/* Pass 1: the columns the change carries. */
static bool
carried_columns(struct apply *a, struct cat_table *t, struct layout_table *lt,
                const struct w2j_record *rec, struct plan *p)
{
    char label[300], fix[1024], q[QI_LEN], q2[QI_LEN];
    uint32_t i;

    snprintf(label, sizeof(label), "%s.%s", t->schema, t->name);
    for (i = 0; i < rec->ncolumns; i++)
    {
        const struct w2j_column *c = &rec->columns[i];
        int k = catalog_column(t, c->name, c->name_len);
        struct layout_col *e = c->position ? layout_col(lt, c->position) : NULL, *owner;

        if (k < 0 && catalog_skipped(t, c->name))
            continue; /* gone on the source: left out */
        if (e != NULL && e->gone)
        {
            if (!catalog_skip(t, c->name))
                return false;
            continue;
        }
        if (e != NULL && strcmp(e->name, c->name) == 0)
        {
            if (k >= 0)
            {
                if (!check_type(a, t, k, c, p))
                    return false;
                continue;
            }
            p->readd[p->nadd] = true; /* the target lacks a column the stream knew */
            p->add[p->nadd++] = c;
            continue;
        }
        if (e != NULL)
        {
            /* the same attnum, another name: renamed */
            owner = layout_col_named(lt, c->name, c->name_len);
            if (k >= 0 && catalog_column(t, e->name, strlen(e->name)) < 0 &&
                (owner == NULL || owner == e))
            {
                /* and the target has been renamed too */
                if (!layout_set(lt, c->position, c->name, false) || !check_type(a, t, k, c, p))
                    return false;
                continue;
            }
            qi(e->name, q);
            qi(c->name, q2);
            snprintf(fix, sizeof(fix), "ALTER TABLE %s RENAME COLUMN %s TO %s", t->qualified, q,
                     q2);
            return ddl_stop(a, label, fix, "the values stay",
                            "column %s of %s was renamed to %s (the same attribute number, %d)", q,
                            label, q2, c->position);
        }
        owner = c->position ? layout_col_named(lt, c->name, c->name_len) : NULL;
        if (owner != NULL && k < 0)
        {
            /* the applied side dropped the old one, as the stop said: the
             * new one is added like any other */
            if (!layout_set(lt, owner->attnum, owner->name, true))
                return false;
            owner = NULL;
        }
        if (owner != NULL)
        {
            qi(c->name, q);
            snprintf(fix, sizeof(fix), "ALTER TABLE %s DROP COLUMN %s", t->qualified, q);
            return ddl_stop(a, label, fix,
                            "its values go; the bridge then adds the new column with the values "
                            "the rows have there",
                            "column %s of %s was dropped and added again (attribute number %d, "
                            "now %d): the %s's values are the old column's",
                            q, label, owner->attnum, c->position, a->o.role);
        }
        if (k >= 0)
        {
            if ((c->position && !layout_set(lt, c->position, c->name, false)) ||
                !check_type(a, t, k, c, p))
                return false;
            continue;
        }
        p->readd[p->nadd] = false;
        p->add[p->nadd++] = c;
        p->nnew++;
    }
    return true;
}

/* Pass 2: the target's columns the change does not carry. */
static void
missing_columns(struct cat_table *t, struct layout_table *lt, const struct w2j_record *rec,
                struct plan *p)
{
    int k;

    if (rec->action != W2J_INSERT && rec->action != W2J_UPDATE)
        return;
    for (k = 0; k < t->ncols; k++)
    {
        const char *name = t->cols[k].name;

        if (t->cols[k].generated || carried(rec, name))
            continue;
        if (rec->action == W2J_UPDATE && t->cols[k].varlena)
            p->toast[p->ntoast++] = k;
        else if (layout_col_named(lt, name, strlen(name)) != NULL)
            p->dropped[p->ndropped++] = k;
        else
            p->unacc[p->nunacc++] = k;
    }
}

/* Resolve what needs the streamed side's catalog (SRC, the table there, or
 * NULL): a TOASTed value left out, or a column gone. Then stop on what the
 * bridge does not follow. */
static bool
judge(struct apply *a, struct cat_table *t, struct layout_table *lt, const struct w2j_record *rec,
      const struct td_table *src, struct plan *p)
{
    char label[300], fix[1536], q[QI_LEN], q2[QI_LEN];
    int i;

    snprintf(label, sizeof(label), "%s.%s", t->schema, t->name);
    for (i = 0; i < p->ntoast; i++)
    {
        const char *name = t->cols[p->toast[i]].name;
        struct layout_col *e = layout_col_named(lt, name, strlen(name));
        const struct td_column *sc = src == NULL ? NULL
                                     : e != NULL ? td_column_attnum(src, e->attnum)
                                                 : td_column_named(src, name);

        if (sc != NULL)
            continue; /* still there: its unchanged TOASTed value was left out */
        if (e != NULL)
            p->dropped[p->ndropped++] = p->toast[i];
        else
            p->unacc[p->nunacc++] = p->toast[i];
    }
    if (p->nunacc > 0 && p->nnew > 0)
    {
        const struct w2j_column *c = NULL;

        for (i = 0; i < p->nadd && c == NULL; i++)
            if (!p->readd[i])
                c = p->add[i];
        qi(t->cols[p->unacc[0]].name, q);
        qi(c->name, q2);
        snprintf(fix, sizeof(fix),
                 "ALTER TABLE %s RENAME COLUMN %s TO %s (if it was renamed; the values stay), or "
                 "ALTER TABLE %s DROP COLUMN %s (if it was dropped; its values go, and the bridge "
                 "adds %s with the values the rows have there)",
                 t->qualified, q, q2, t->qualified, q, q2);
        return ddl_stop(a, label, fix, "one of the two",
                        "column %s of %s is no longer in the %s's changes and %s is new there: "
                        "the bridge has not seen the attribute number of %s, so it cannot tell "
                        "a rename from a drop and an add",
                        q, label, a->o.from_role, q2, q);
    }
    if (p->nunacc > 0 || p->ndropped > 0)
    {
        int k = p->ndropped > 0 ? p->dropped[0] : p->unacc[0];

        qi(t->cols[k].name, q);
        snprintf(fix, sizeof(fix), "ALTER TABLE %s DROP COLUMN %s", t->qualified, q);
        return ddl_stop(a, label, fix, "its values go, as they did there",
                        p->ndropped > 0 ? "column %s of %s was dropped (this %s no longer carries "
                                          "it)"
                                        : "column %s of %s is no longer in the changes (this %s "
                                          "does not carry it): dropped there, or made on the "
                                          "target only",
                        q, label, w2j_action_name(rec->action));
    }
    if (p->key != NULL)
    {
        const struct td_column *sc = src ? td_column_named(src, p->key->name) : NULL;
        struct layout_col *e = sc ? layout_col(lt, sc->attnum) : NULL;

        qi(p->key->name, q2);
        if (e != NULL && !e->gone && catalog_column(t, e->name, strlen(e->name)) >= 0)
        {
            qi(e->name, q);
            snprintf(fix, sizeof(fix), "ALTER TABLE %s RENAME COLUMN %s TO %s", t->qualified, q,
                     q2);
            return ddl_stop(a, label, fix, "the values stay",
                            "key column %s of %s was renamed to %s (the same attribute number, "
                            "%d)",
                            q, label, q2, sc->attnum);
        }
        return ddl_stop(a, label, "memori-bridge verify (it names each difference and its fix)",
                        "no data changes",
                        "the %s identifies rows of %s by column %s, which the %s lacks",
                        a->o.from_role, label, q2, a->o.role);
    }
    if (p->pk_differs && src != NULL && src->replident == 'd')
    {
        const struct td_constraint *pk = td_primary_key(src);

        if (pk != NULL)
        {
            qi(pk->name, q);
            qi(t->pkname ? t->pkname : pk->name, q2);
            snprintf(fix, sizeof(fix), "ALTER TABLE %s DROP CONSTRAINT %s, ADD CONSTRAINT %s %s",
                     t->qualified, q2, q, pk->def);
            return ddl_stop(a, label, fix, "no data changes", "the primary key of %s changed to %s",
                            label, pk->def);
        }
    }
    return true;
}

/* Add, skip or widen as the plan says; record what the change showed. */
static enum ddl_result
act(struct apply *a, struct cat_table *t, struct layout_table *lt, const struct td_table *src,
    struct plan *p)
{
    char sql[2048], q[QI_LEN];
    int i;
    bool changed = false;

    if (p->nadd == 0 && p->nwiden == 0)
        return DDL_OK;
    if (!ddl_sync(a))
        return DDL_FAIL;
    for (i = 0; i < p->nadd; i++)
    {
        const struct w2j_column *c = p->add[i];
        const struct td_column *sc = src == NULL        ? NULL
                                     : c->position != 0 ? td_column_attnum(src, c->position)
                                                        : td_column_named(src, c->name);

        if (sc == NULL)
        {
            /* added and dropped again (or the table with it) before the
             * bridge got here: gone there, so its values go too */
            log_warning("values of column \"%s\" of %s.%s are left out: the %s has dropped it "
                        "since",
                        c->name, t->schema, t->name, a->o.from_role);
            atomic_fetch_add(&a->st->ddl_left_out, 1);
            if ((c->position && !layout_set(lt, c->position, c->name, true)) ||
                !catalog_skip(t, c->name))
                goto failed;
            continue;
        }
        if (!ddl_add_column(a, t, src, sc, c->name, p->readd[i]))
            goto failed;
        if (c->position && !layout_set(lt, c->position, c->name, false))
            goto failed;
        changed = true;
    }
    for (i = 0; i < p->nwiden; i++)
    {
        snprintf(sql, sizeof(sql), "ALTER TABLE %s ALTER COLUMN %s TYPE %s", t->qualified,
                 qi(p->widen[i]->name, q), p->widen[i]->type);
        if (!ddl_exec(a, "widened type", sql, NULL, NULL))
            goto failed;
        changed = true;
    }
    if (!ddl_write_layout(a))
        goto failed;
    if (!changed)
        return pl_enter(&a->pl) ? DDL_DONE : DDL_FAIL;
    return ddl_resume(a) && ddl_sync_skips(a) ? DDL_DONE : DDL_FAIL;
failed:
    pl_enter(&a->pl);
    return DDL_FAIL;
}

enum ddl_result
apply_ddl_check(struct apply *a, struct cat_table *t, const struct w2j_record *rec)
{
    struct apply_ddl *x = a->ddl;
    struct layout_table *lt;
    struct plan p;
    struct tabledefs from;
    const struct td_table *src = NULL;
    bool have_from = false;
    size_t n = (size_t) rec->ncolumns + rec->nidentity + (size_t) t->ncols + 1;
    enum ddl_result r = DDL_FAIL;
    uint32_t j;

    memset(&p, 0, sizeof(p));
    lt = layout_table(&x->layout, t->schema, strlen(t->schema), t->name, strlen(t->name), true);
    p.add = calloc(n, sizeof(*p.add));
    p.readd = calloc(n, sizeof(*p.readd));
    p.widen = calloc(n, sizeof(*p.widen));
    p.toast = calloc(n, sizeof(int));
    p.dropped = calloc(n, sizeof(int));
    p.unacc = calloc(n, sizeof(int));
    if (lt == NULL || !p.add || !p.readd || !p.widen || !p.toast || !p.dropped || !p.unacc)
    {
        log_error("out of memory checking a change of %s.%s", t->schema, t->name);
        goto done;
    }
    if (!carried_columns(a, t, lt, rec, &p))
        goto done;
    missing_columns(t, lt, rec, &p);
    for (j = 0; j < rec->nidentity && p.key == NULL; j++)
        if (catalog_column(t, rec->identity[j].name, rec->identity[j].name_len) < 0 &&
            !catalog_skipped(t, rec->identity[j].name))
            p.key = &rec->identity[j];
    if (rec->action != W2J_INSERT && t->npk > 0 && p.key == NULL)
        p.pk_differs = !identity_is_key(t, rec);
    if (p.nadd > 0 || p.ntoast > 0 || p.ndropped > 0 || p.nunacc > 0 || p.key != NULL ||
        p.pk_differs)
    {
        if (!ddl_read_from(a, &from))
            goto done;
        have_from = true;
        src = tabledefs_find(&from, t->schema, t->name);
        if (lt->relid == 0 && src != NULL)
        {
            lt->relid = src->oid;
            lt->relid_dirty = true;
        }
    }
    if (!judge(a, t, lt, rec, src, &p))
        goto done;
    r = act(a, t, lt, src, &p);
    if (r == DDL_OK && layout_dirty(&x->layout) && !ddl_write_layout(a))
        r = DDL_FAIL;
done:
    if (have_from)
        tabledefs_free(&from);
    free(p.add);
    free(p.readd);
    free(p.widen);
    free(p.toast);
    free(p.dropped);
    free(p.unacc);
    return r;
}
