/*
 * init.c - the initial load, and the hand-over to run.
 *
 * NOTES
 *
 * Order matters for "no gap, no overlap". The slot is created through the
 * replication protocol with EXPORT_SNAPSHOT: every transaction that commits
 * after its consistent point is in the slot, every one before it is in the
 * snapshot. The copy reads that snapshot only; then the forward direction's
 * progress on the target (memori_bridge.progress) is set to the consistent
 * point, so that run starts streaming exactly there.
 *
 * An init can be stopped at any moment (Ctrl-C, kill, a lost connection). A
 * row in memori_bridge.init_state on the target says how far it got
 * ("preparing" before the slot exists, "copying" after, "done"), so that the
 * next init knows what is its own to clean up: the half-made slot, the
 * progress, and the half-copied tables, which it drops with their schema and makes again.
 * Everything is checked before anything is made or dropped, and every problem
 * is listed at once.
 */
#include "bridge/cmd/init.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "bridge/base/clock.h"
#include "bridge/base/failpoint.h"
#include "bridge/base/log.h"
#include "bridge/base/secret.h"
#include "bridge/pg/copy.h"
#include "bridge/pg/ddl.h"
#include "bridge/pg/fence.h"
#include "bridge/pg/pgconn.h"
#include "bridge/pg/preflight.h"
#include "bridge/pg/progress.h"
#include "bridge/pg/seqsync.h"
#include "decoder/lsn.h"

#define EXIT_USAGE 2
#define MAX_PASSES 8 /* retries of the pre-data statements that need a later one */

extern const char bridge_objects_sql[]; /* sql/memori_bridge.sql, built in */

struct init
{
    const struct conf *conf;
    bool force;
    bool replica_identity_full;
    PGconn *src;       /* owned */
    PGconn *dst;       /* owned */
    PGconn *repl;      /* owned: holds the exported snapshot until the copy is done */
    int sig_fd;        /* signalfd: SIGINT, SIGTERM */
    struct preflight pf;

    /* what an earlier init left */
    bool marker;       /* a row for this slot in memori_bridge.init_state */
    char phase[16];    /* its phase */
    char started[64];  /* its start time */
    bool slot_exists;
    bool origin_exists;

    /* this init */
    char consistent[LSN_BUFSZ];
    char snapshot[128];
    bool binary;       /* the copy goes in COPY's binary format where the types allow */
    char why[256];     /* the COPY format, and why, for the log */
};

static void
init_usage(FILE *out)
{
    fputs("usage: memori-bridge init [--force] [--replica-identity-full] [options]\n"
          "\n"
          "Checks both sides, creates the slot with an exported snapshot, creates the\n"
          "target's tables from the source's own definitions, copies every table in\n"
          "that snapshot over --jobs connections, builds keys and indexes after the\n"
          "data, sets the sequences, and records the slot's consistent point as the\n"
          "target's progress: memori-bridge run then continues with no gap and no overlap.\n"
          "\n"
          "  --force                   replace non-empty target tables, and a slot or a\n"
          "                            finished init of the same name\n"
          "  --replica-identity-full   give source tables without a key REPLICA IDENTITY\n"
          "                            FULL (otherwise they are refused by name)\n"
          "\n"
          "Settings (see memori-bridge --help) may stand anywhere; --jobs N sets the\n"
          "parallel connections of the copy, --copy-format auto|text|binary its format.\n",
          out);
}

static bool
exec(PGconn *conn, const char *what, const char *sql, int n, const char *const *params)
{
    PGresult *res = pgconn_exec(conn, what, sql, n, params, NULL);

    PQclear(res);
    return res != NULL;
}

/* ---- what an earlier init left ---------------------------------------- */

static bool
read_leftovers(struct init *in)
{
    const char *params[1] = {in->conf->slot};
    PGresult *res;

    res = pgconn_exec(in->dst, "could not read the target's init state",
                      "SELECT pg_catalog.to_regclass('memori_bridge.init_state') IS NOT NULL", 0,
                      NULL, NULL);
    if (res == NULL)
        return false;
    if (PQgetvalue(res, 0, 0)[0] == 't')
    {
        PQclear(res);
        res = pgconn_exec(in->dst, "could not read the target's init state",
                          "SELECT phase, started_at::text FROM memori_bridge.init_state "
                          "WHERE slot = $1",
                          1, params, NULL);
        if (res == NULL)
            return false;
        if (PQntuples(res) == 1)
        {
            in->marker = true;
            snprintf(in->phase, sizeof(in->phase), "%s", PQgetvalue(res, 0, 0));
            snprintf(in->started, sizeof(in->started), "%s", PQgetvalue(res, 0, 1));
        }
    }
    PQclear(res);

    res = pgconn_exec(in->src, "could not read the source's slots",
                      "SELECT active, coalesce(active_pid, 0) FROM pg_catalog.pg_replication_slots "
                      "WHERE slot_name = $1",
                      1, params, NULL);
    if (res == NULL)
        return false;
    if (PQntuples(res) == 1)
    {
        in->slot_exists = true;
        if (PQgetvalue(res, 0, 0)[0] == 't')
            preflight_add(&in->pf, false, "source", NULL, "stop it first",
                          "slot \"%s\" is in use by PID %s: a bridge is streaming it",
                          in->conf->slot, PQgetvalue(res, 0, 1));
    }
    PQclear(res);

    res = pgconn_exec(in->dst, "could not read the target's origins",
                      "SELECT 1 FROM pg_catalog.pg_replication_origin WHERE roname = $1", 1,
                      params, NULL);
    if (res == NULL)
        return false;
    in->origin_exists = PQntuples(res) == 1;
    PQclear(res);
    return true;
}

/* Problems with what is already there: a finished init, a foreign slot,
 * non-empty tables, objects outside the schemas that depend on them. */
static bool
check_target(struct init *in)
{
    static const char tables_sql[] =
        "SELECT pg_catalog.format('%I.%I', n.nspname, c.relname) "
        "FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace "
        "WHERE c.relkind IN ('r', 'p') "
        "  AND n.nspname = ANY (pg_catalog.string_to_array(replace($1, ' ', ''), ',')) "
        "ORDER BY 1";
    /* objects outside a schema that depend on objects inside it */
    static const char deps_sql[] =
        "WITH ns AS (SELECT oid FROM pg_catalog.pg_namespace "
        "            WHERE nspname = ANY (pg_catalog.string_to_array(replace($1, ' ', ''), ','))) "
        "SELECT DISTINCT pg_catalog.pg_describe_object(d.classid, d.objid, d.objsubid) "
        "FROM pg_catalog.pg_depend d "
        "WHERE d.deptype IN ('n', 'a') AND ( "
        "   (d.refclassid = 'pg_class'::pg_catalog.regclass AND d.refobjid IN "
        "       (SELECT oid FROM pg_catalog.pg_class WHERE relnamespace IN (SELECT oid FROM ns))) "
        "OR (d.refclassid = 'pg_type'::pg_catalog.regclass AND d.refobjid IN "
        "       (SELECT oid FROM pg_catalog.pg_type WHERE typnamespace IN (SELECT oid FROM ns))) "
        "OR (d.refclassid = 'pg_proc'::pg_catalog.regclass AND d.refobjid IN "
        "       (SELECT oid FROM pg_catalog.pg_proc WHERE pronamespace IN (SELECT oid FROM ns)))) "
        "AND coalesce(CASE d.classid "
        "   WHEN 'pg_class'::pg_catalog.regclass THEN "
        "       (SELECT relnamespace FROM pg_catalog.pg_class WHERE oid = d.objid) "
        "   WHEN 'pg_proc'::pg_catalog.regclass THEN "
        "       (SELECT pronamespace FROM pg_catalog.pg_proc WHERE oid = d.objid) "
        "   WHEN 'pg_type'::pg_catalog.regclass THEN "
        "       (SELECT typnamespace FROM pg_catalog.pg_type WHERE oid = d.objid) "
        "   WHEN 'pg_constraint'::pg_catalog.regclass THEN "
        "       (SELECT coalesce(c.relnamespace, con.connamespace) "
        "        FROM pg_catalog.pg_constraint con "
        "        LEFT JOIN pg_catalog.pg_class c ON c.oid = con.conrelid WHERE con.oid = d.objid) "
        "   WHEN 'pg_rewrite'::pg_catalog.regclass THEN "
        "       (SELECT c.relnamespace FROM pg_catalog.pg_rewrite r "
        "        JOIN pg_catalog.pg_class c ON c.oid = r.ev_class WHERE r.oid = d.objid) "
        "   WHEN 'pg_trigger'::pg_catalog.regclass THEN "
        "       (SELECT c.relnamespace FROM pg_catalog.pg_trigger t "
        "        JOIN pg_catalog.pg_class c ON c.oid = t.tgrelid WHERE t.oid = d.objid) "
        "   WHEN 'pg_attrdef'::pg_catalog.regclass THEN "
        "       (SELECT c.relnamespace FROM pg_catalog.pg_attrdef a "
        "        JOIN pg_catalog.pg_class c ON c.oid = a.adrelid WHERE a.oid = d.objid) "
        "   END, 0) NOT IN (SELECT oid FROM ns) "
        "ORDER BY 1 LIMIT 10";
    const char *params[1] = {in->conf->schemas};
    bool ours = in->marker && strcmp(in->phase, "done") != 0; /* an interrupted init's */
    PGresult *res;
    int r, nonempty = 0;

    if (in->marker && strcmp(in->phase, "done") == 0 && !in->force)
        preflight_add(&in->pf, false, "target", NULL,
                      "use memori-bridge run to stream, or init --force to start over",
                      "init of slot \"%s\" already finished (started %s): the target is loaded "
                      "and its progress set",
                      in->conf->slot, in->started);
    else if (!in->marker && !in->force)
    {
        char fix[256];

        if (in->slot_exists)
        {
            snprintf(fix, sizeof(fix),
                     "SELECT pg_drop_replication_slot('%s'); or give another --slot, or --force",
                     in->conf->slot);
            preflight_add(&in->pf, false, "source", NULL, fix,
                          "slot \"%s\" already exists, and no init of it is recorded on the "
                          "target",
                          in->conf->slot);
        }
        /* origins belong to the whole cluster: another database's bridge may
         * stand on this one */
        if (in->origin_exists)
        {
            snprintf(fix, sizeof(fix),
                     "give another --slot, or --force (drops it), or as " PREFLIGHT_SUPERUSER
                     ": SELECT pg_replication_origin_drop('%s') if nothing uses it",
                     in->conf->slot);
            preflight_add(&in->pf, false, "target", NULL, fix,
                          "replication origin \"%s\" already exists on the target's cluster, and "
                          "no init of it is recorded in this database (another database's "
                          "bridge may use it)",
                          in->conf->slot);
        }
    }

    res = pgconn_exec(in->dst, "could not read the target's tables", tables_sql, 1, params,
                      NULL);
    if (res == NULL)
        return false;
    for (r = 0; r < PQntuples(res) && !ours && !in->force; r++)
    {
        char sql[1024];
        PGresult *rows;

        /* the name is the server's own quoted identifier */
        snprintf(sql, sizeof(sql), "SELECT EXISTS (SELECT 1 FROM %s)", PQgetvalue(res, r, 0));
        rows = pgconn_exec(in->dst, "could not read a target table", sql, 0, NULL, NULL);
        if (rows == NULL)
        {
            PQclear(res);
            return false;
        }
        if (PQgetvalue(rows, 0, 0)[0] == 't' &&
            !(in->marker && strcmp(in->phase, "done") == 0) && nonempty++ < 10)
            preflight_add(&in->pf, false, "target", NULL,
                          "empty it, or give init --force to replace it",
                          "table %s is not empty: init copies into empty tables only",
                          PQgetvalue(res, r, 0));
        PQclear(rows);
    }
    PQclear(res);

    res = pgconn_exec(in->dst, "could not read the target's dependencies", deps_sql, 1, params,
                      NULL);
    if (res == NULL)
        return false;
    for (r = 0; r < PQntuples(res); r++)
        preflight_add(&in->pf, false, "target", NULL,
                      "drop it, or move it into the schema, then run init again",
                      "%s depends on the schemas that init replaces", PQgetvalue(res, r, 0));
    PQclear(res);
    return true;
}

static bool
write_marker(struct init *in, const char *phase)
{
    const char *params[4] = {in->conf->slot, phase,
                             in->consistent[0] ? in->consistent : NULL, in->conf->schemas};

    return exec(in->dst, "could not record init's progress on the target",
                "INSERT INTO memori_bridge.init_state AS s (slot, phase, consistent_point, "
                "schemas) VALUES ($1, $2, $3::pg_lsn, $4) "
                "ON CONFLICT (slot) DO UPDATE SET phase = $2, "
                "  consistent_point = coalesce($3::pg_lsn, s.consistent_point), schemas = $4, "
                "  started_at = CASE WHEN $2 = 'preparing' THEN now() ELSE s.started_at END, "
                "  finished_at = CASE WHEN $2 = 'done' THEN now() END",
                4, params);
}

static bool
clean_up(struct init *in)
{
    const char *params[1] = {in->conf->slot};
    bool interrupted = in->marker && strcmp(in->phase, "done") != 0;

    if (interrupted)
        log_info("an earlier init of slot \"%s\" was interrupted (phase \"%s\", started %s): "
                 "cleaning up after it",
                 in->conf->slot, in->phase, in->started);
    if (in->slot_exists)
    {
        log_info("dropping the %s slot \"%s\" on the source",
                 interrupted ? "half-made" : "existing", in->conf->slot);
        if (!exec(in->src, "could not drop the slot on the source",
                  "SELECT pg_catalog.pg_drop_replication_slot($1)", 1, params))
            return false;
    }
    if (interrupted)
        log_info("replacing the half-copied tables of schema(s) %s on the target",
                 in->conf->schemas);
    if (in->origin_exists)
    {
        log_info("dropping replication origin \"%s\" on the target", in->conf->slot);
        if (!exec(in->dst, "could not drop the origin on the target",
                  "SELECT pg_catalog.pg_replication_origin_drop($1)", 1, params))
            return false;
    }
    return true;
}

/* ---- making things ---------------------------------------------------- */

static bool
create_slot(struct init *in)
{
    char cmd[512], ident[300];
    PGresult *res;

    if (!pgconn_quote_ident(in->conf->slot, ident, sizeof(ident)))
    {
        log_error("slot name \"%s\" is too long", in->conf->slot);
        return false;
    }
    snprintf(cmd, sizeof(cmd), "CREATE_REPLICATION_SLOT %s LOGICAL wal2json EXPORT_SNAPSHOT",
             ident);
    log_info("creating slot \"%s\" on the source (waits for running transactions to end)",
             in->conf->slot);
    res = PQexec(in->repl, cmd);
    if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1)
    {
        char msg[1024];

        log_error("could not create slot \"%s\" on the source: %s", in->conf->slot,
                  pgconn_error(in->repl, res, msg, sizeof(msg)));
        PQclear(res);
        return false;
    }
    snprintf(in->consistent, sizeof(in->consistent), "%s", PQgetvalue(res, 0, 1));
    snprintf(in->snapshot, sizeof(in->snapshot), "%s", PQgetvalue(res, 0, 2));
    PQclear(res);
    log_info("created slot \"%s\": consistent at %s, snapshot %s", in->conf->slot, in->consistent,
             in->snapshot);
    return true;
}

/* Replace the target's schemas with the source's definitions: drop, then run
 * the pre-data statements, retrying those that need a later one. */
static bool
create_schema(struct init *in, struct ddl *d)
{
    char **errors = calloc((size_t) d->nstmts + 1, sizeof(char *));
    bool *done = calloc((size_t) d->nstmts + 1, sizeof(bool));
    int i, pass, left = 0;
    bool ok = false;

    if (errors == NULL || done == NULL)
        goto out;
    if (!exec(in->dst, "could not start the schema transaction", "BEGIN", 0, NULL) ||
        !exec(in->dst, "could not set up the schema transaction",
              "SET LOCAL check_function_bodies = off", 0, NULL) ||
        !exec(in->dst, "could not set up the schema transaction", "SET LOCAL search_path = ''",
              0, NULL))
        goto out;
    for (i = 0; i < d->nschemas; i++)
    {
        char *id = PQescapeIdentifier(in->dst, d->schemas[i], strlen(d->schemas[i]));
        char sql[600];

        snprintf(sql, sizeof(sql), "DROP SCHEMA IF EXISTS %s CASCADE", id ? id : "");
        PQfreemem(id);
        PQclear(PQexec(in->dst, "SET LOCAL client_min_messages = warning"));
        if (!exec(in->dst, "could not drop the target's schema", sql, 0, NULL))
            goto out;
    }
    for (pass = 0; pass < MAX_PASSES; pass++)
    {
        int made = 0;

        left = 0;
        for (i = 0; i < d->nstmts; i++)
        {
            PGresult *res;

            if (d->stmts[i].phase != DDL_PRE || done[i])
                continue;
            PQclear(PQexec(in->dst, "SAVEPOINT ddl"));
            res = PQexec(in->dst, d->stmts[i].sql);
            if (PQresultStatus(res) == PGRES_COMMAND_OK || PQresultStatus(res) == PGRES_TUPLES_OK)
            {
                PQclear(PQexec(in->dst, "RELEASE SAVEPOINT ddl"));
                done[i] = true;
                made++;
                log_debug("created %s", d->stmts[i].what);
            }
            else
            {
                char msg[1024];

                free(errors[i]);
                errors[i] = strdup(pgconn_error(in->dst, res, msg, sizeof(msg)));
                PQclear(PQexec(in->dst, "ROLLBACK TO SAVEPOINT ddl"));
                left++;
            }
            PQclear(res);
        }
        if (left == 0 || made == 0)
            break;
    }
    if (left > 0)
    {
        for (i = 0; i < d->nstmts; i++)
            if (d->stmts[i].phase == DDL_PRE && !done[i])
                log_error("could not create %s on the target: %s", d->stmts[i].what,
                          errors[i] ? errors[i] : "unknown error");
        PQclear(PQexec(in->dst, "ROLLBACK"));
        goto out;
    }
    ok = exec(in->dst, "could not commit the target's schema", "COMMIT", 0, NULL);
out:
    if (!ok && PQtransactionStatus(in->dst) != PQTRANS_IDLE)
        PQclear(PQexec(in->dst, "ROLLBACK"));
    for (i = 0; errors != NULL && i < d->nstmts; i++)
        free(errors[i]);
    free(errors);
    free(done);
    return ok;
}

static bool
set_progress(struct init *in)
{
    lsn_t at = LSN_INVALID;

    lsn_parse(in->consistent, strlen(in->consistent), &at);
    return progress_set(in->dst, "target", in->conf->slot, at);
}

static bool
set_identity_full(struct init *in)
{
    int i;

    for (i = 0; i < in->pf.nkeyless; i++)
    {
        char sql[512];

        /* the name is the source server's own quoted identifier */
        snprintf(sql, sizeof(sql), "ALTER TABLE %s REPLICA IDENTITY FULL", in->pf.keyless[i]);
        if (!exec(in->src, "could not set REPLICA IDENTITY FULL on the source", sql, 0, NULL))
            return false;
        log_info("set REPLICA IDENTITY FULL on %s (it has no primary key)", in->pf.keyless[i]);
    }
    return true;
}

/* Nobody writes to both sides by mistake: the target refuses writes (but the
 * bridge's) until a cutover; the source gets the bridge's objects too, for
 * its own fence at cutover. */
static bool
fence_target(struct init *in)
{
    char moved[300], where[300];
    struct fence_options fo = {"target", in->conf->schemas, moved, in->conf->fence_timeout_ms,
                               false};

    snprintf(moved, sizeof(moved), "%s", pgconn_describe(in->src, where, sizeof(where)));
    /* no user in the message: host, port, database */
    {
        char *u = strstr(moved, " user=");

        if (u != NULL)
            *u = '\0';
    }
    if (!fence_objects(in->src, "source") || !fence_up(in->dst, &fo))
        return false;
    log_info("fenced the target: it refuses writes (but the bridge's) until a cutover");
    return true;
}

/* ---- the COPY format (init.h) ------------------------------------------ */

/* Choose the copy's format (copy_choose_format); --copy-format binary where
 * it is not safe is a problem for preflight, named with the fix. */
static bool
choose_copy_format(struct init *in)
{
    /* the source's columns whose types have no portable binary form */
    static const char unsafe_sql[] =
        "SELECT pg_catalog.format('%I.%I', n.nspname, c.relname), "
        "       pg_catalog.quote_ident(a.attname), "
        "       pg_catalog.format_type(a.atttypid, a.atttypmod) "
        "FROM pg_catalog.pg_class c "
        "JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace "
        "JOIN pg_catalog.pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 "
        "     AND NOT a.attisdropped AND a.attgenerated = '' "
        "JOIN pg_catalog.pg_type t ON t.oid = a.atttypid "
        "WHERE c.relkind = 'r' AND NOT c.relispartition "
        "  AND n.nspname = ANY (pg_catalog.string_to_array(replace($1, ' ', ''), ',')) "
        "  AND NOT " DDL_BINARY_SAFE("t") " "
        "ORDER BY 1, a.attnum LIMIT 10";
    const char *params[1] = {in->conf->schemas};
    PGresult *res;
    int r;

    if (!copy_choose_format(in->conf->copy_format, PQserverVersion(in->src) / 10000,
                            PQserverVersion(in->dst) / 10000, &in->binary, in->why,
                            sizeof(in->why)))
    {
        preflight_add(&in->pf, false, "target", NULL,
                      "give --copy-format text (or auto, which takes text here)", "%s", in->why);
        return true;
    }
    if (in->conf->copy_format != CONF_COPY_BINARY)
        return true;
    res = pgconn_exec(in->src, "could not read the source's column types", unsafe_sql, 1, params,
                      NULL);
    if (res == NULL)
        return false;
    for (r = 0; r < PQntuples(res); r++)
        preflight_add(&in->pf, false, "source", NULL,
                      "give --copy-format auto, which copies such tables in text",
                      "--copy-format binary: column %s of table %s is of type %s, which COPY's "
                      "binary format cannot carry to another cluster safely (only built-in base "
                      "types and their arrays can)",
                      PQgetvalue(res, r, 1), PQgetvalue(res, r, 0), PQgetvalue(res, r, 2));
    PQclear(res);
    return true;
}

/* ---- the command ------------------------------------------------------ */

static bool
preflight_all(struct init *in)
{
    /* the forward direction now; what a rollback would need, as warnings */
    struct preflight_side src = {.conn = in->src,
                                 .dsn = in->conf->source,
                                 .connect_timeout_ms = in->conf->connect_timeout_ms,
                                 .side = "source",
                                 .schemas = in->conf->schemas,
                                 .slot = in->conf->slot,
                                 .has_tables = true,
                                 .stream = PREFLIGHT_NOW,
                                 .apply = PREFLIGHT_LATER,
                                 .later = "to apply a rollback here",
                                 .numeric_probe = true};
    struct preflight_side dst = {.conn = in->dst,
                                 .dsn = in->conf->target,
                                 .connect_timeout_ms = in->conf->connect_timeout_ms,
                                 .side = "target",
                                 .schemas = in->conf->schemas,
                                 .slot = in->conf->slot,
                                 .has_tables = false,
                                 .stream = PREFLIGHT_LATER,
                                 .apply = PREFLIGHT_NOW,
                                 .later = "to stream back for a rollback"};
    int i;

    log_info("checking the source and the target");
    if (!preflight_check(&in->pf, &src) || !preflight_check(&in->pf, &dst) ||
        !read_leftovers(in) || !check_target(in) || !choose_copy_format(in))
        return false;
    if (!in->replica_identity_full)
        for (i = 0; i < in->pf.nkeyless; i++)
        {
            char fix[1024];

            snprintf(fix, sizeof(fix),
                     "ALTER TABLE %s ADD PRIMARY KEY (...), or ALTER TABLE %s REPLICA IDENTITY "
                     "FULL (init --replica-identity-full does that)",
                     in->pf.keyless[i], in->pf.keyless[i]);
            preflight_add(&in->pf, false, "source", NULL, fix,
                          "table %s has no primary key or replica identity: wal2json would drop "
                          "its UPDATEs and DELETEs",
                          in->pf.keyless[i]);
        }
    preflight_report(&in->pf);
    if (in->pf.errors > 0)
    {
        log_error("init: %d problem%s to fix first; nothing was changed", in->pf.errors,
                  in->pf.errors == 1 ? "" : "s");
        return false;
    }
    return true;
}

static bool
load(struct init *in, int64_t started)
{
    struct copy_options co = {in->conf->source, in->conf->target, in->snapshot,
                              (int) in->conf->jobs, in->conf->connect_timeout_ms,
                              PQserverVersion(in->src) >= 140000, in->sig_fd,
                              isatty(STDERR_FILENO) == 1, in->binary};
    static const enum ddl_phase after[] = {DDL_KEYS, DDL_INDEXES, DDL_FKEYS, DDL_LAST};
    struct ddl d;
    enum pgconn_failure failure;
    bool cancelled = false, ok = false;
    int64_t rows = 0, bytes = 0, copied;
    size_t i;
    int n;

    if (!ddl_load(&d, in->src, in->conf->schemas, &failure))
        return false;
    log_info("creating %d table(s) of schema(s) %s on the target from the source's definitions",
             d.ntables, in->conf->schemas);
    if (!create_schema(in, &d))
        goto out;
    log_info("COPY format: %s", in->why);
    if (!copy_tables(&co, &d, &cancelled, &rows, &bytes))
        goto out;
    copied = clock_now_us();
    /* MB as PostgreSQL's pg_size_pretty and the per-table lines count them: 2^20 */
    log_info("copied %lld rows, %.1f MB in %.1f s (%.1f MB/s)", (long long) rows,
             (double) bytes / 1048576.0, (double) (copied - started) / 1e6,
             (double) bytes / 1048576.0 / ((double) (copied - started) / 1e6 + 1e-9));
    for (i = 0; i < sizeof(after) / sizeof(after[0]); i++)
        if (!copy_run_phase(&co, &d, after[i], &cancelled))
            goto out;
    n = seq_sync(in->src, in->dst, in->conf->schemas, false);
    if (n < 0)
        goto out;
    log_info("set %d sequence(s) from the source", n);
    ok = true;
out:
    ddl_free(&d);
    return ok;
}

int
cmd_init(int argc, char **argv, const struct conf *conf)
{
    struct init in;
    sigset_t sigs;
    int i, status = 1;
    int64_t started = clock_now_us();

    memset(&in, 0, sizeof(in));
    in.conf = conf;
    in.sig_fd = -1;
    preflight_init(&in.pf);
    for (i = 1; i < argc; i++)
    {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0)
        {
            init_usage(stdout);
            return 0;
        }
        if (strcmp(argv[i], "--force") == 0)
            in.force = true;
        else if (strcmp(argv[i], "--replica-identity-full") == 0)
            in.replica_identity_full = true;
        else
        {
            log_error("init: unknown option \"%s\"", argv[i]);
            init_usage(stderr);
            return EXIT_USAGE;
        }
    }
    if (!conf_require_dsns(conf, "init"))
        return EXIT_USAGE;
    log_set_json(conf->log_format == CONF_LOG_JSON);

    /* Ctrl-C and kill are read through a signalfd: the copy stops cleanly */
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGTERM);
    if (pthread_sigmask(SIG_BLOCK, &sigs, NULL) != 0 ||
        (in.sig_fd = signalfd(-1, &sigs, SFD_NONBLOCK | SFD_CLOEXEC)) < 0)
    {
        log_error("could not set up signals: %s", strerror(errno));
        goto done;
    }

    in.src = pgconn_open(conf->source, "source", PGCONN_SQL, "memori-bridge init",
                         conf->connect_timeout_ms, NULL);
    in.dst = in.src ? pgconn_open(conf->target, "target", PGCONN_SQL, "memori-bridge init",
                                  conf->connect_timeout_ms, NULL)
                    : NULL;
    if (in.src == NULL || in.dst == NULL || !preflight_all(&in))
        goto done;
    /* the replication connection before anything is made: a connection pooler
     * (PgBouncer, Supavisor) may pass the checks above and refuse only this */
    in.repl = pgconn_open(conf->source, "source", PGCONN_REPLICATION, "memori-bridge init",
                          conf->connect_timeout_ms, NULL);
    if (in.repl == NULL)
        goto done;

    /* from here on things are made: each step is recorded so that an
     * interrupted init can be cleaned up by the next one */
    if (!pgconn_script(in.dst, "could not create the bridge's own objects on the target",
                       bridge_objects_sql) ||
        !clean_up(&in) || !write_marker(&in, "preparing") ||
        (in.replica_identity_full && !set_identity_full(&in)) || !create_slot(&in))
        goto done;
    failpoint("init-after-slot");
    if (!write_marker(&in, "copying") || !load(&in, started))
        goto done;
    failpoint("init-after-copy");
    if (!set_progress(&in) || !fence_target(&in) || !write_marker(&in, "done"))
        goto done;
    log_info("init done in %.1f s: the target holds the source as of %s, and the progress of "
             "\"%s\" is set there; stream from it with: memori-bridge run",
             (double) (clock_now_us() - started) / 1e6, in.consistent, conf->slot);
    status = 0;
done:
    if (in.repl != NULL)
        PQfinish(in.repl);
    if (in.src != NULL)
        PQfinish(in.src);
    if (in.dst != NULL)
        PQfinish(in.dst);
    if (in.sig_fd >= 0)
        close(in.sig_fd);
    preflight_free(&in.pf);
    return status;
}
