/*
 * apply_ddl_exec.c - running what the applier decided about the schema: DDL
 * on the applied side inside the open group (out of the pipeline, in
 * savepoints where a failure is expected), the values existing rows need
 * in a new column, a new table with everything that belongs to it, the
 * record of columns, and the line of a stop.
 *
 * Values of a new column for the rows that were there before it: the side
 * streamed from gave them the default evaluated once at ALTER TABLE time (its
 * catalog keeps that value as attmissingval) or, for a volatile default,
 * evaluated per row while it rewrote the table; neither reaches the stream.
 * The missing value is given the same way here (ADD COLUMN with it as the
 * default, then the real default); a volatile default's values are copied by
 * key from the side streamed from, read now: a later change of a row in the
 * stream writes the column again, so the rows end as they are there.
 */
#include "bridge/streaming/apply_ddl.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bridge/base/log.h"
#include "bridge/pg/peer.h"
#include "bridge/pg/tablediff.h"

#define QI_LEN 200

/* Sequences a column owns by its default (serial), as the side streamed from
 * makes them; identity sequences come with the identity clause. */
static const char owned_sequences_sql[] =
    "SELECT pg_catalog.format('CREATE SEQUENCE IF NOT EXISTS %I.%I AS %s INCREMENT BY %s "
    "           MINVALUE %s MAXVALUE %s START WITH %s CACHE %s%s', n.nspname, c.relname, "
    "           pg_catalog.format_type(s.seqtypid, NULL), s.seqincrement, s.seqmin, s.seqmax, "
    "           s.seqstart, s.seqcache, CASE WHEN s.seqcycle THEN ' CYCLE' ELSE ' NO CYCLE' END), "
    "       pg_catalog.format('ALTER SEQUENCE %I.%I OWNED BY %s.%I', n.nspname, c.relname, "
    "           $3::pg_catalog.text, a.attname) "
    "FROM pg_catalog.pg_depend d JOIN pg_catalog.pg_sequence s ON s.seqrelid = d.objid "
    "JOIN pg_catalog.pg_class c ON c.oid = d.objid "
    "JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace "
    "JOIN pg_catalog.pg_attribute a ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid "
    "WHERE d.classid = 'pg_class'::pg_catalog.regclass AND d.deptype = 'a' "
    "  AND d.refclassid = 'pg_class'::pg_catalog.regclass "
    "  AND d.refobjid = $1::pg_catalog.oid AND d.refobjsubid = $2::pg_catalog.int4";

static const char *
qi(const char *name, char *buf)
{
    if (!pgconn_quote_ident(name, buf, QI_LEN))
        snprintf(buf, QI_LEN, "\"?\"");
    return buf;
}

/* Record a failure that is not a stop (a lost connection, out of memory). */
static void fail(struct apply *a, bool transient, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
fail(struct apply *a, bool transient, const char *fmt, ...)
{
    va_list ap;

    if (a->pl.failed)
        return;
    a->pl.failed = true;
    a->pl.transient = transient;
    memset(&a->pl.fail, 0, sizeof(a->pl.fail));
    a->pl.fail.kind = PL_OTHER;
    a->pl.state[0] = '\0';
    va_start(ap, fmt);
    vsnprintf(a->pl.message, sizeof(a->pl.message), fmt, ap);
    va_end(ap);
    if (!transient)
        log_error("%s", a->pl.message);
}

PGconn *
ddl_from(struct apply *a)
{
    struct apply_ddl *x = a->ddl;
    enum pgconn_failure failure = PGCONN_FATAL;

    if (x->from != NULL && PQstatus(x->from) != CONNECTION_OK)
    {
        peer_close(x->from);
        x->from = NULL;
    }
    if (x->from == NULL)
        x->from = pgconn_open(a->o.from_dsn, a->o.from_role, PGCONN_SQL, "memori-bridge catalog",
                              a->o.conf->connect_timeout_ms, &failure);
    if (x->from == NULL)
        fail(a, failure == PGCONN_TRANSIENT, "could not read the %s's catalog", a->o.from_role);
    return x->from;
}

bool
ddl_read_from(struct apply *a, struct tabledefs *d)
{
    enum pgconn_failure failure = PGCONN_FATAL;
    PGconn *from;
    int attempt;

    /* the catalog functions (pg_get_indexdef, ...) read the catalog as it is
     * now, not as the snapshot had it: an object dropped while they run
     * fails the read ("cache lookup failed"), and reading again does not */
    for (attempt = 0; attempt < 3; attempt++)
    {
        bool ok, expired;

        if ((from = ddl_from(a)) == NULL)
            return false;
        /* a catalog read cannot legitimately take long: a dead link is one */
        peer_guard(from, a->o.conf->peer_timeout_ms, NULL, NULL);
        ok = tabledefs_read(d, from, a->o.schemas, a->o.from_role, true, &failure);
        expired = peer_unguard(from);
        if (ok && !expired)
            return true;
        if (ok)
            tabledefs_free(d);
        if (expired)
            failure = PGCONN_TRANSIENT;
        if (failure == PGCONN_TRANSIENT)
            break;
    }
    fail(a, failure == PGCONN_TRANSIENT, "could not read the %s's table definitions",
         a->o.from_role);
    return false;
}

bool
ddl_sync(struct apply *a)
{
    if (!apply_flush_all(a) || !pl_sync(&a->pl) || a->pl.failed || !pl_leave(&a->pl))
        return false;
    /* "already exists, skipping" and the like are no news */
    PQclear(PQexec(a->conn, "SET LOCAL client_min_messages = warning"));
    return true;
}

bool
ddl_resume(struct apply *a)
{
    return pl_enter(&a->pl) && apply_reload_catalog(a);
}

bool
ddl_stop(struct apply *a, const char *table, const char *statement, const char *data,
         const char *fmt, ...)
{
    struct apply_ddl *x = a->ddl;
    char what[1024], at[128] = "";
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(what, sizeof(what), fmt, ap);
    va_end(ap);
    if (a->in_xact)
        snprintf(at, sizeof(at), " (%s transaction %u, commit " LSN_FMT ")", a->o.from_role, a->xid,
                 LSN_ARGS(a->commit_lsn));
    memset(&x->stop, 0, sizeof(x->stop));
    snprintf(x->stop.table, sizeof(x->stop.table), "%s", table);
    snprintf(x->stop.statement, sizeof(x->stop.statement), "%s", statement);
    snprintf(x->stop.message, sizeof(x->stop.message),
             "schema change on the %s: %s%s; run on the %s: %s (%s); the bridge goes on by "
             "itself once it is done",
             a->o.from_role, what, at, a->o.role, statement, data);
    x->stop.commit_lsn = a->in_xact ? a->commit_lsn : LSN_INVALID;
    x->stopped = true;
    return false;
}

bool
ddl_exec(struct apply *a, const char *label, const char *sql, const char *tolerate, bool *tolerated)
{
    PGresult *res;
    const char *state;
    char msg[1024];

    if (tolerated != NULL)
        *tolerated = false;
    if (tolerate != NULL)
        PQclear(PQexec(a->conn, "SAVEPOINT mb_ddl"));
    res = PQexec(a->conn, sql);
    if (PQresultStatus(res) == PGRES_COMMAND_OK || PQresultStatus(res) == PGRES_TUPLES_OK)
    {
        PQclear(res);
        if (tolerate != NULL)
            PQclear(PQexec(a->conn, "RELEASE SAVEPOINT mb_ddl"));
        atomic_fetch_add(&a->st->ddl_statements, 1);
        log_info("%s: ran on the %s: %s", label, a->o.role, sql);
        return true;
    }
    state = pgconn_sqlstate(res);
    pgconn_error(a->conn, res, msg, sizeof(msg));
    if (pgconn_classify(a->conn, res) == PGCONN_TRANSIENT)
    {
        PQclear(res);
        fail(a, true, "the %s went away running DDL (%s)", a->o.role, msg);
        return false;
    }
    if (tolerate != NULL && state[0] != '\0' && strstr(tolerate, state) != NULL)
    {
        PQclear(res);
        PQclear(PQexec(a->conn, "ROLLBACK TO SAVEPOINT mb_ddl"));
        log_debug("%s: left for later (%s): %s", label, msg, sql);
        if (tolerated != NULL)
            *tolerated = true;
        return true;
    }
    PQclear(res);
    return ddl_stop(a, label, sql, "fix what it says first",
                    "the %s refused a statement that follows the %s's schema (%s)", a->o.role,
                    a->o.from_role, msg);
}

/* The primary key of T, quoted, as "a, b" (and "t.a = f.a AND ..." into
 * JOIN). False when T has none. */
static bool
key_lists(const struct cat_table *t, char *list, size_t len, char *join, size_t jlen)
{
    size_t n = 0, j = 0;
    int i;

    list[0] = join[0] = '\0';
    for (i = 0; i < t->ncols; i++)
    {
        char q[QI_LEN];

        if (!t->cols[i].pk)
            continue;
        qi(t->cols[i].name, q);
        n += (size_t) snprintf(list + n, n < len ? len - n : 0, "%s%s", n ? ", " : "", q);
        j += (size_t) snprintf(join + j, j < jlen ? jlen - j : 0, "%st.%s = f.%s", j ? " AND " : "",
                               q, q);
    }
    return n > 0 && n < len && j < jlen;
}

/* Copy column NAME of T's existing rows, by key, from column SRC_COL of SRC
 * on the side streamed from (read now). */
static bool
fill_copy(struct apply *a, const struct cat_table *t, const struct td_table *src,
          const struct td_column *src_col, const char *name)
{
    char keys[1024], join[2048], q[QI_LEN], sq[QI_LEN], sql[4096];
    PGconn *from = ddl_from(a);
    PGresult *res;
    char *buf;
    int n;
    long long rows = 0;

    if (from == NULL)
        return false;
    if (!key_lists(t, keys, sizeof(keys), join, sizeof(join)))
    {
        log_warning("the existing rows of %s.%s keep the %s's own default in new column \"%s\": "
                    "without a primary key they cannot be matched with the %s's (verify shows "
                    "whether they differ)",
                    t->schema, t->name, a->o.role, name, a->o.from_role);
        atomic_fetch_add(&a->st->ddl_left_out, 1);
        return true;
    }
    qi(name, q);
    qi(src_col->name, sq);
    snprintf(sql, sizeof(sql),
             "CREATE TEMPORARY TABLE mb_fill ON COMMIT DROP AS SELECT %s, %s FROM ONLY %s "
             "WITH NO DATA",
             keys, q, t->qualified);
    if (!ddl_exec(a, "new column", sql, NULL, NULL))
        return false;
    /* the lock first, the rows after, with a snapshot taken once it is held:
     * COPY takes its snapshot before it waits for the lock, and a table that
     * DDL rewrote meanwhile looks empty to a snapshot older than that */
    PQclear(PQexec(from, "BEGIN"));
    snprintf(sql, sizeof(sql), "LOCK TABLE %s IN ACCESS SHARE MODE", src->qualified);
    res = PQexec(from, sql);
    if (PQresultStatus(res) == PGRES_COMMAND_OK)
    {
        PQclear(res);
        snprintf(sql, sizeof(sql), "COPY (SELECT %s, %s FROM ONLY %s) TO STDOUT", keys, sq,
                 src->qualified);
        res = PQexec(from, sql);
    }
    if (PQresultStatus(res) != PGRES_COPY_OUT)
    {
        char msg[512];

        fail(a, pgconn_classify(from, res) == PGCONN_TRANSIENT,
             "could not read column \"%s\" of %s.%s on the %s: %s", src_col->name, src->schema,
             src->name, a->o.from_role, pgconn_error(from, res, msg, sizeof(msg)));
        PQclear(res);
        PQclear(PQexec(from, "ROLLBACK"));
        return false;
    }
    PQclear(res);
    res = PQexec(a->conn, "COPY pg_temp.mb_fill FROM STDIN");
    if (PQresultStatus(res) != PGRES_COPY_IN)
    {
        PQclear(res);
        while (PQgetCopyData(from, &buf, 0) > 0)
            PQfreemem(buf);
        PQclear(PQgetResult(from));
        PQclear(PQexec(from, "ROLLBACK"));
        fail(a, true, "could not copy into the %s: %s", a->o.role, PQerrorMessage(a->conn));
        return false;
    }
    PQclear(res);
    while ((n = PQgetCopyData(from, &buf, 0)) > 0)
    {
        rows++;
        if (PQputCopyData(a->conn, buf, n) != 1)
        {
            PQfreemem(buf);
            break;
        }
        PQfreemem(buf);
    }
    PQclear(PQgetResult(from));
    PQclear(PQexec(from, "COMMIT"));
    if (PQputCopyEnd(a->conn, n == -1 ? NULL : "source failed") != 1 ||
        PQresultStatus(res = PQgetResult(a->conn)) != PGRES_COMMAND_OK)
    {
        char msg[512];

        if (n == -1)
            pgconn_error(a->conn, res, msg, sizeof(msg));
        else
            snprintf(msg, sizeof(msg), "%s", PQerrorMessage(from));
        PQclear(res);
        while ((res = PQgetResult(a->conn)) != NULL)
            PQclear(res);
        fail(a, true, "could not copy column \"%s\" of %s.%s: %s", name, t->schema, t->name, msg);
        return false;
    }
    PQclear(res);
    while ((res = PQgetResult(a->conn)) != NULL)
        PQclear(res);
    snprintf(sql, sizeof(sql),
             "UPDATE ONLY %s AS t SET %s = f.%s FROM pg_temp.mb_fill AS f WHERE %s", t->qualified,
             q, q, join);
    if (!ddl_exec(a, "new column", sql, NULL, NULL) ||
        !ddl_exec(a, "new column", "DROP TABLE pg_temp.mb_fill", NULL, NULL))
        return false;
    log_info("new column \"%s\" of %s.%s: the values of %lld existing rows copied from the %s",
             name, t->schema, t->name, rows, a->o.from_role);
    return true;
}

/* The sequences column SRC_COL owns on the side streamed from: made before
 * the column (CREATE, true) or owned after it (OWNED BY, false). */
static bool
owned_sequences(struct apply *a, const struct cat_table *t, const struct td_table *src,
                const struct td_column *src_col, bool create)
{
    char oid[16], attnum[16];
    const char *params[3] = {oid, attnum, t->qualified};
    PGconn *from = ddl_from(a);
    PGresult *res;
    int r;
    bool ok = true;

    if (from == NULL)
        return false;
    snprintf(oid, sizeof(oid), "%u", src->oid);
    snprintf(attnum, sizeof(attnum), "%d", src_col->attnum);
    res = PQexecParams(from, owned_sequences_sql, 3, NULL, params, NULL, NULL, 0);
    if (PQresultStatus(res) != PGRES_TUPLES_OK)
    {
        fail(a, pgconn_classify(from, res) == PGCONN_TRANSIENT,
             "could not read the sequences of %s.%s on the %s: %s", src->schema, src->name,
             a->o.from_role, PQresultErrorMessage(res));
        PQclear(res);
        return false;
    }
    for (r = 0; ok && r < PQntuples(res); r++)
        ok = ddl_exec(a, "new column", PQgetvalue(res, r, create ? 0 : 1), NULL, NULL);
    PQclear(res);
    return ok;
}

bool
ddl_add_column(struct apply *a, const struct cat_table *t, const struct td_table *src,
               const struct td_column *src_col, const char *name, bool readd)
{
    struct td_column plain = *src_col;
    char clause[2048], sql[4096], q[QI_LEN];
    bool copy, late_notnull = false;

    qi(name, q);
    if (!owned_sequences(a, t, src, src_col, true))
        return false;
    if (src_col->generated == 's')
        copy = false; /* computed by the applied side alike */
    else if (src_col->identity != '\0' || readd ||
             (src_col->missing == NULL && src_col->def != NULL && !src_col->def_const))
    {
        /* copied: added without what would refuse the copy, which comes after */
        copy = true;
        plain.identity = '\0';
        late_notnull = plain.notnull;
        plain.notnull = false;
        if (src_col->identity != '\0')
            plain.def = NULL;
    }
    else
        copy = false;
    if (!tablediff_column_clause(&plain, name,
                                 !copy && src_col->missing != NULL ? src_col->missing : NULL,
                                 clause, sizeof(clause)))
        return ddl_stop(a, src->name, "", "", "column \"%s\" of %s.%s: definition too long", name,
                        src->schema, src->name);
    snprintf(sql, sizeof(sql), "ALTER TABLE %s ADD COLUMN %s", t->qualified, clause);
    if (!ddl_exec(a, "new column", sql, NULL, NULL))
        return false;
    if (!copy && src_col->missing != NULL)
    {
        /* the rows there before got the missing value; later rows the default */
        if (src_col->def != NULL)
            snprintf(sql, sizeof(sql), "ALTER TABLE %s ALTER COLUMN %s SET DEFAULT %s",
                     t->qualified, q, src_col->def);
        else
            snprintf(sql, sizeof(sql), "ALTER TABLE %s ALTER COLUMN %s DROP DEFAULT", t->qualified,
                     q);
        if (!ddl_exec(a, "new column", sql, NULL, NULL))
            return false;
    }
    if (copy && !fill_copy(a, t, src, src_col, name))
        return false;
    if (late_notnull)
    {
        snprintf(sql, sizeof(sql), "ALTER TABLE %s ALTER COLUMN %s SET NOT NULL", t->qualified, q);
        if (!ddl_exec(a, "new column", sql, NULL, NULL))
            return false;
    }
    if (src_col->identity != '\0')
    {
        snprintf(sql, sizeof(sql), "ALTER TABLE %s ALTER COLUMN %s ADD GENERATED %s AS IDENTITY",
                 t->qualified, q, src_col->identity == 'a' ? "ALWAYS" : "BY DEFAULT");
        if (!ddl_exec(a, "new column", sql, NULL, NULL))
            return false;
    }
    return owned_sequences(a, t, src, src_col, false);
}

bool
ddl_fence_table(struct apply *a, const char *qualified)
{
    const char *params[2] = {a->o.schemas, qualified};
    char sql[1024];
    PGresult *res;
    char state;

    res = PQexecParams(a->conn,
                       "SELECT t.tgenabled FROM pg_catalog.pg_trigger t "
                       "JOIN pg_catalog.pg_class c ON c.oid = t.tgrelid "
                       "JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace "
                       "WHERE t.tgname = 'memori_bridge_fence' AND c.oid <> $2::regclass "
                       "  AND n.nspname = ANY (pg_catalog.string_to_array("
                       "      pg_catalog.replace($1, ' ', ''), ',')) "
                       "ORDER BY t.tgenabled = 'D' LIMIT 1",
                       2, NULL, params, NULL, NULL, 0);
    if (PQresultStatus(res) != PGRES_TUPLES_OK)
    {
        fail(a, pgconn_classify(a->conn, res) == PGCONN_TRANSIENT,
             "could not read the fences on the %s: %s", a->o.role, PQresultErrorMessage(res));
        PQclear(res);
        return false;
    }
    if (PQntuples(res) == 0)
    {
        PQclear(res);
        return true; /* no fence on this side */
    }
    state = PQgetvalue(res, 0, 0)[0];
    PQclear(res);
    snprintf(sql, sizeof(sql),
             "CREATE TRIGGER memori_bridge_fence BEFORE INSERT OR UPDATE OR DELETE OR TRUNCATE "
             "ON %s FOR EACH STATEMENT EXECUTE FUNCTION memori_bridge.fence()",
             qualified);
    if (!ddl_exec(a, "new table", sql, NULL, NULL))
        return false;
    if (state != 'D')
        return true;
    snprintf(sql, sizeof(sql), "ALTER TABLE %s DISABLE TRIGGER memori_bridge_fence", qualified);
    return ddl_exec(a, "new table", sql, NULL, NULL);
}

/* Is ATTNUM one of ATTNUMS (NULL: all)? Its name then into *NAME: NAMES[i],
 * or DEFAULT_NAME when NAMES is NULL. */
static bool
wanted(const int *attnums, const char *const *names, int n, int attnum, const char *default_name,
       const char **name)
{
    int i;

    *name = default_name;
    if (attnums == NULL)
        return true;
    for (i = 0; i < n; i++)
        if (attnums[i] == attnum)
        {
            if (names != NULL)
                *name = names[i];
            return true;
        }
    return false;
}

/* Types, domains, collations and functions the table may need, that the
 * applied side lacks. */
static bool
pre_objects(struct apply *a, const struct ddl *d)
{
    int i;

    for (i = 0; i < d->nstmts; i++)
    {
        const struct ddl_stmt *s = &d->stmts[i];

        if (s->phase != DDL_PRE || s->table >= 0 || s->owner != 0)
            continue;
        if (strncmp(s->what, "function ", 9) == 0)
        {
            const char *params[1] = {s->what + 9};
            PGresult *res = PQexecParams(a->conn, "SELECT pg_catalog.to_regprocedure($1)", 1, NULL,
                                         params, NULL, NULL, 0);
            bool exists = PQresultStatus(res) == PGRES_TUPLES_OK && !PQgetisnull(res, 0, 0);

            PQclear(res);
            if (exists)
                continue;
        }
        else if (strncmp(s->what, "type ", 5) != 0 && strncmp(s->what, "domain ", 7) != 0 &&
                 strncmp(s->what, "collation ", 10) != 0 && strncmp(s->what, "extension ", 10) != 0)
            continue;
        if (!ddl_exec(a, "new table", s->sql, "42710 42P07 42723 42P06 42501", NULL))
            return false;
    }
    return true;
}

bool
ddl_create_table(struct apply *a, const struct td_table *src, const int *attnums,
                 const char *const *names, int n)
{
    struct ddl d;
    enum pgconn_failure failure = PGCONN_FATAL;
    char *sql = NULL, clause[2048];
    const char *name;
    size_t len = 0;
    FILE *f;
    int i, ti = -1, phase;
    bool ok = false, first = true, tolerated;
    PGconn *from = ddl_from(a);

    if (from == NULL)
        return false;
    if (!ddl_load(&d, from, a->o.schemas, &failure))
    {
        fail(a, failure == PGCONN_TRANSIENT, "could not read the %s's definitions", a->o.from_role);
        return false;
    }
    for (i = 0; i < d.ntables; i++)
        if (d.tables[i].oid == src->oid)
            ti = i;
    f = open_memstream(&sql, &len);
    if (f == NULL)
        goto done;
    fprintf(f, "CREATE TABLE %s (", src->qualified);
    for (i = 0; i < src->ncols; i++)
        if (wanted(attnums, names, n, src->cols[i].attnum, src->cols[i].name, &name))
        {
            tablediff_column_clause(&src->cols[i], name, NULL, clause, sizeof(clause));
            fprintf(f, "%s%s", first ? "" : ", ", clause);
            first = false;
        }
    fputc(')', f);
    if (fclose(f) != 0 || !pre_objects(a, &d))
        goto done;
    /* its sequences, the table, then what belongs to it in init's order; a
     * key or index on a column not made yet (the change did not carry it) is
     * left to the periodic check, which adds it with its column */
    for (i = 0; i < d.nstmts; i++)
        if (d.stmts[i].owner == src->oid && d.stmts[i].phase == DDL_PRE &&
            !ddl_exec(a, "new table", d.stmts[i].sql, NULL, NULL))
            goto done;
    if (!ddl_exec(a, "new table", sql, NULL, NULL))
        goto done;
    for (phase = DDL_PRE; phase < DDL_NPHASES; phase++)
        for (i = 0; i < d.nstmts; i++)
        {
            const struct ddl_stmt *s = &d.stmts[i];

            if ((int) s->phase != phase || !((ti >= 0 && s->table == ti) || s->owner == src->oid))
                continue;
            if ((s->phase == DDL_PRE && s->owner == src->oid) || strncmp(s->what, "table ", 6) == 0)
                continue;
            if (!ddl_exec(a, "new table", s->sql, "42703 42P01", &tolerated))
                goto done;
        }
    ok = ddl_fence_table(a, src->qualified);
done:
    free(sql);
    ddl_free(&d);
    return ok;
}

bool
ddl_write_layout(struct apply *a)
{
    struct apply_ddl *x = a->ddl;
    bool pipelined = PQpipelineStatus(a->conn) != PQ_PIPELINE_OFF;
    int i, j;

    if (!x->keep)
    {
        layout_clean(&x->layout);
        return true;
    }
    for (i = 0; i < x->layout.ntables; i++)
    {
        struct layout_table *t = &x->layout.tables[i];
        char attnum[16], relid[16];
        const char *params[7] = {a->o.origin, t->schema, t->name, attnum, NULL, "f", relid};

        snprintf(relid, sizeof(relid), "%u", t->relid);
        params[6] = t->relid ? relid : NULL;
        for (j = -1; j < t->ncols; j++)
        {
            struct pl_entry e = {.kind = PL_PROGRESS};

            if (j < 0 ? !t->relid_dirty : !t->cols[j].dirty)
                continue;
            snprintf(attnum, sizeof(attnum), "%d", j < 0 ? 0 : t->cols[j].attnum);
            params[4] = j < 0 ? NULL : t->cols[j].name;
            params[5] = j >= 0 && t->cols[j].gone ? "t" : "f";
            if (pipelined)
            {
                if (!pl_send(&a->pl, &e, layout_write_sql, 7, params))
                    return false;
            }
            else
            {
                PGresult *res =
                    PQexecParams(a->conn, layout_write_sql, 7, NULL, params, NULL, NULL, 0);

                if (PQresultStatus(res) != PGRES_COMMAND_OK)
                {
                    fail(a, pgconn_classify(a->conn, res) == PGCONN_TRANSIENT,
                         "could not write memori_bridge.layout on the %s: %s", a->o.role,
                         PQresultErrorMessage(res));
                    PQclear(res);
                    return false;
                }
                PQclear(res);
            }
        }
    }
    layout_clean(&x->layout);
    return true;
}
