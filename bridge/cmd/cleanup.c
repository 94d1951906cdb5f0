/*
 * cleanup.c - list, and with --yes drop, what the bridge created on both
 * sides (see cleanup.h).
 */
#include "bridge/cmd/cleanup.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bridge/base/log.h"
#include "bridge/pg/direction.h"
#include "bridge/pg/pgbouncer.h"
#include "bridge/pg/pgconn.h"
#include "bridge/pg/schemas.h"

#define EXIT_USAGE  2
#define MAX_FENCES  256
#define BRIDGE_TABLES                                                                              \
    "init_state", "verify_pause", "switch", "stream_status", "progress", "layout", "schema_stop",  \
        "fence_state"

/* What the bridge left on one side. */
struct leftovers
{
    const char *role;  /* "source" or "target" */
    const char *dsn;   /* borrowed from the settings */
    PGconn *conn;      /* owned */
    char where[256];   /* host, port, database, user */
    struct
    {
        char name[80];
        bool active;
        int pid;
        long long retained;
    } slots[2];
    int nslots;
    char origins[2][80];
    int norigins;
    char fences[MAX_FENCES][200]; /* "schema"."table", quoted */
    bool fence_on[MAX_FENCES];    /* enabled (the side refuses writes) */
    int nfences;
    bool schema;          /* memori_bridge exists */
    char others[256];     /* other slots whose rows the schema holds ("" none) */
};

struct cleanup
{
    const struct conf *conf;
    struct direction fwd, rev;
    bool yes, keep_fences;
    struct leftovers sides[2];
    int nsides;
};

static bool
find(struct cleanup *c, struct leftovers *s)
{
    const char *names[2] = {c->fwd.slot, c->rev.slot};
    PGresult *res;
    int i;

    res = pgconn_exec(s->conn, "could not read the replication slots",
                      "SELECT slot_name, active, coalesce(active_pid, 0), "
                      "       coalesce(pg_catalog.pg_wal_lsn_diff(CASE WHEN "
                      "       pg_catalog.pg_is_in_recovery() THEN NULL ELSE "
                      "       pg_catalog.pg_current_wal_lsn() END, restart_lsn), 0)::bigint "
                      "FROM pg_catalog.pg_replication_slots WHERE slot_name IN ($1, $2) ORDER BY 1",
                      2, names, NULL);
    if (res == NULL)
        return false;
    for (i = 0; i < PQntuples(res) && i < 2; i++)
    {
        snprintf(s->slots[i].name, sizeof(s->slots[i].name), "%s", PQgetvalue(res, i, 0));
        s->slots[i].active = PQgetvalue(res, i, 1)[0] == 't';
        s->slots[i].pid = (int) strtol(PQgetvalue(res, i, 2), NULL, 10);
        s->slots[i].retained = strtoll(PQgetvalue(res, i, 3), NULL, 10);
        s->nslots++;
    }
    PQclear(res);

    res = pgconn_exec(s->conn, "could not read the replication origins",
                      "SELECT roname FROM pg_catalog.pg_replication_origin "
                      "WHERE roname IN ($1, $2) ORDER BY 1",
                      2, names, NULL);
    if (res == NULL)
        return false;
    for (i = 0; i < PQntuples(res) && i < 2; i++)
        snprintf(s->origins[s->norigins++], sizeof(s->origins[0]), "%s", PQgetvalue(res, i, 0));
    PQclear(res);

    /* the fence trigger's name is the bridge's own: every table that has it */
    res = pgconn_exec(s->conn, "could not read the fences",
                      "SELECT pg_catalog.format('%I.%I', n.nspname, c.relname), t.tgenabled <> 'D' "
                      "FROM pg_catalog.pg_trigger t "
                      "JOIN pg_catalog.pg_class c ON c.oid = t.tgrelid "
                      "JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace "
                      "WHERE t.tgname = 'memori_bridge_fence' ORDER BY 1",
                      0, NULL, NULL);
    if (res == NULL)
        return false;
    for (i = 0; i < PQntuples(res) && s->nfences < MAX_FENCES; i++)
    {
        snprintf(s->fences[s->nfences], sizeof(s->fences[0]), "%s", PQgetvalue(res, i, 0));
        s->fence_on[s->nfences++] = PQgetvalue(res, i, 1)[0] == 't';
    }
    PQclear(res);

    res = pgconn_exec(s->conn, "could not look for the schema memori_bridge",
                      "SELECT pg_catalog.to_regnamespace('memori_bridge') IS NOT NULL", 0, NULL,
                      NULL);
    if (res == NULL)
        return false;
    s->schema = PQgetvalue(res, 0, 0)[0] == 't';
    PQclear(res);
    if (s->schema)
    {
        /* another slot's bridge keeps its state here too? */
        res = PQexecParams(
            s->conn,
            "SELECT coalesce(string_agg(DISTINCT slot, ', ' ORDER BY slot), '') FROM ("
            "  SELECT slot FROM memori_bridge.init_state UNION ALL "
            "  SELECT slot FROM memori_bridge.switch UNION ALL "
            "  SELECT slot FROM memori_bridge.progress UNION ALL "
            "  SELECT slot FROM memori_bridge.stream_status) s "
            "WHERE slot NOT IN ($1, $2)",
            2, NULL, names, NULL, NULL, 0);
        if (PQresultStatus(res) == PGRES_TUPLES_OK)
            snprintf(s->others, sizeof(s->others), "%s", PQgetvalue(res, 0, 0));
        PQclear(res);
    }
    return true;
}

static bool
empty(const struct leftovers *s)
{
    return s->nslots == 0 && s->norigins == 0 && s->nfences == 0 && !s->schema;
}

static void
list(const struct cleanup *c)
{
    int k, i;

    for (k = 0; k < c->nsides; k++)
    {
        const struct leftovers *s = &c->sides[k];
        int on = 0;

        printf("%s (%s):\n", s->role, s->where);
        if (empty(s))
            printf("  nothing of the bridge\n");
        for (i = 0; i < s->nslots; i++)
            printf("  slot %s: %s, retains %.1f MB of WAL\n", s->slots[i].name,
                   s->slots[i].active ? "streamed by a bridge" : "not streamed",
                   (double) s->slots[i].retained / (1 << 20));
        for (i = 0; i < s->norigins; i++)
            printf("  replication origin %s\n", s->origins[i]);
        for (i = 0; i < s->nfences; i++)
            on += s->fence_on[i];
        if (s->nfences > 0)
            printf("  fence trigger memori_bridge_fence on %d table%s (%s)%s\n", s->nfences,
                   s->nfences == 1 ? "" : "s",
                   on == 0 ? "down" : on == s->nfences ? "up: writes are refused" : "partly up",
                   c->keep_fences ? "; kept (--keep-fences)" : "");
        if (s->schema && s->others[0])
            printf("  schema memori_bridge: shared with slot(s) %s; only this slot's rows go\n",
                   s->others);
        else if (s->schema && c->keep_fences && s->nfences > 0)
            printf("  schema memori_bridge: its state tables (the fence function and where "
                   "memori moved to are kept)\n");
        else if (s->schema)
            printf("  schema memori_bridge (the bridge's state tables and fence function)\n");
    }
}

/* Run SQL with PARAMS on S; log (with what and the fix) on failure. */
static bool
drop_exec(struct leftovers *s, const char *what, const char *fix, const char *sql, int n,
          const char *const *params)
{
    PGresult *res = PQexecParams(s->conn, sql, n, NULL, params, NULL, NULL, 0);
    char err[512];

    if (PQresultStatus(res) == PGRES_COMMAND_OK || PQresultStatus(res) == PGRES_TUPLES_OK)
    {
        PQclear(res);
        log_info("dropped %s on the %s", what, s->role);
        return true;
    }
    pgconn_error(s->conn, res, err, sizeof(err));
    log_error("could not drop %s on the %s: %s; %s", what, s->role, err, fix);
    PQclear(res);
    return false;
}

static bool
drop_fences(struct cleanup *c, struct leftovers *s)
{
    char sql[600], what[300], timeout[64];
    int i;

    if (c->keep_fences || s->nfences == 0)
        return true;
    /* DROP TRIGGER takes ACCESS EXCLUSIVE: do not queue behind a long reader
     * for ever (and block everyone behind us) */
    snprintf(timeout, sizeof(timeout), "SET lock_timeout = '%lldms'",
             (long long) c->conf->fence_timeout_ms);
    PQclear(PQexec(s->conn, timeout));
    for (i = 0; i < s->nfences; i++)
    {
        snprintf(sql, sizeof(sql), "DROP TRIGGER IF EXISTS memori_bridge_fence ON %s",
                 s->fences[i]);
        snprintf(what, sizeof(what), "the fence on %s", s->fences[i]);
        if (!drop_exec(s, what,
                       "the table's owner may drop it (or a lock waited too long: run "
                       "cleanup again when the table is quiet)",
                       sql, 0, NULL))
            return false;
    }
    PQclear(PQexec(s->conn, "RESET lock_timeout"));
    return true;
}

static bool
drop_slots_and_origins(struct leftovers *s)
{
    char what[160];
    int i;

    for (i = 0; i < s->nslots; i++)
    {
        const char *params[1] = {s->slots[i].name};

        snprintf(what, sizeof(what), "slot \"%s\"", s->slots[i].name);
        if (!drop_exec(s, what,
                       "connect as a role with REPLICATION (or a superuser), or stop the "
                       "bridge that streams it",
                       "SELECT pg_catalog.pg_drop_replication_slot(slot_name) "
                       "FROM pg_catalog.pg_replication_slots WHERE slot_name = $1",
                       1, params))
            return false;
    }
    for (i = 0; i < s->norigins; i++)
    {
        const char *params[1] = {s->origins[i]};

        snprintf(what, sizeof(what), "replication origin \"%s\"", s->origins[i]);
        if (!drop_exec(s, what,
                       "connect as a superuser (or GRANT EXECUTE ON FUNCTION "
                       "pg_replication_origin_drop(text) to this role), or stop the bridge that "
                       "applies through it",
                       "SELECT pg_catalog.pg_replication_origin_drop(roname) "
                       "FROM pg_catalog.pg_replication_origin WHERE roname = $1",
                       1, params))
            return false;
    }
    return true;
}

static bool
drop_schema(struct cleanup *c, struct leftovers *s)
{
    static const char *const tables[] = {BRIDGE_TABLES};
    const char *fix = "the schema's owner may drop it";
    char sql[300], what[200];
    size_t i;

    if (!s->schema)
        return true;
    if (s->others[0])
    {
        /* another bridge's state lives here: only this slot's rows go */
        const char *params[2] = {c->fwd.slot, c->rev.slot};

        for (i = 0; i < sizeof(tables) / sizeof(tables[0]); i++)
        {
            PGresult *res;
            bool exists;

            if (strcmp(tables[i], "fence_state") == 0)
                continue; /* one row for the whole side, not per slot */
            /* (layout and schema_stop came later: made when first needed) */
            snprintf(sql, sizeof(sql),
                     "SELECT pg_catalog.to_regclass('memori_bridge.%s') IS NOT NULL", tables[i]);
            res = PQexec(s->conn, sql);
            exists = PQresultStatus(res) != PGRES_TUPLES_OK || PQgetvalue(res, 0, 0)[0] == 't';
            PQclear(res);
            if (!exists)
                continue;
            snprintf(sql, sizeof(sql), "DELETE FROM memori_bridge.%s WHERE slot IN ($1, $2)",
                     tables[i]);
            snprintf(what, sizeof(what), "the rows of slot \"%s\" in memori_bridge.%s",
                     c->conf->slot, tables[i]);
            if (!drop_exec(s, what, fix, sql, 2, params))
                return false;
        }
        return true;
    }
    if (c->keep_fences && s->nfences > 0)
    {
        /* the fences call memori_bridge.fence(), which reads fence_state */
        for (i = 0; i < sizeof(tables) / sizeof(tables[0]); i++)
        {
            if (strcmp(tables[i], "fence_state") == 0)
                continue;
            snprintf(sql, sizeof(sql), "DROP TABLE IF EXISTS memori_bridge.%s", tables[i]);
            snprintf(what, sizeof(what), "memori_bridge.%s", tables[i]);
            if (!drop_exec(s, what, fix, sql, 0, NULL))
                return false;
        }
        return true;
    }
    return drop_exec(s, "schema memori_bridge", fix, "DROP SCHEMA IF EXISTS memori_bridge CASCADE",
                     0, NULL);
}

/* PgBouncer (--pgbouncer): say where its entry points; with FIX, point it
 * at LIVE (the side memori lives on, named ROLE) and resume it. Returns
 * false after logging when it could not. */
static bool
cleanup_pool(const struct conf *conf, PGconn *live, const char *role, bool fix)
{
    struct pgbouncer_entry e;
    struct pgbouncer pb;
    char console[160], err[512], where[512];
    bool right, ok;

    if (!pgbouncer_look(conf, conf->connect_timeout_ms, &e, console, sizeof(console), err,
                        sizeof(err)))
    {
        log_error("cleanup: could not read PgBouncer's database \"%s\" (%s): %s; check "
                  "--pgbouncer",
                  conf->pgbouncer_database, console, err);
        return false;
    }
    right = e.found && pgbouncer_points_at(&e, live) && !e.paused;
    printf("\npgbouncer (%s): database \"%s\" %s%s%s, %s; memori lives on the %s%s\n", console,
           conf->pgbouncer_database, e.found ? "points at " : "is missing",
           e.found ? pgbouncer_where(&e, where, sizeof(where)) : "",
           e.found && pgbouncer_points_at(&e, live) ? " (there)" : "",
           e.paused ? "PAUSED" : "resumed", role,
           right ? ": nothing to do"
           : fix ? ": pointing it there, resumed"
                 : ": --yes points it there, resumed");
    if (right || !fix)
        return true;
    ok = pgbouncer_open(&pb, conf, conf->connect_timeout_ms) &&
         (pgbouncer_points_at(&e, live) || pgbouncer_point(&pb, live, role)) &&
         (!e.paused || pgbouncer_resume(&pb));
    pgbouncer_close(&pb);
    return ok;
}

static void
cleanup_usage(FILE *out)
{
    fputs("usage: memori-bridge cleanup [--yes] [--keep-fences] [--side source|target] "
          "[options]\n"
          "\n"
          "Lists what the bridge created on both sides: the slots <slot> and\n"
          "<slot>_reverse (which keep WAL on their server while they exist), the\n"
          "replication origins of the same names, the fence trigger memori_bridge_fence,\n"
          "and the schema memori_bridge. Drops them only with --yes; safe to run again.\n"
          "With --pgbouncer, PgBouncer's memori entry is left pointing where memori lives,\n"
          "resumed.\n"
          "\n"
          "  --yes            drop them (refused while a bridge streams one of the slots)\n"
          "  --keep-fences    keep the fences (and what they need): the side memori left\n"
          "                   goes on refusing writes\n"
          "  --side SIDE      only the source or only the target (the other may be gone)\n",
          out);
}

int
cmd_cleanup(int argc, char **argv, const struct conf *conf)
{
    struct cleanup c = {0};
    const char *only = NULL;
    bool exists = false, reverse = false, busy = false, nothing = true;
    char phase[16] = "";
    int i, status = 1;

    for (i = 1; i < argc; i++)
    {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0)
        {
            cleanup_usage(stdout);
            return 0;
        }
        if (strcmp(argv[i], "--yes") == 0)
            c.yes = true;
        else if (strcmp(argv[i], "--keep-fences") == 0)
            c.keep_fences = true;
        else if (strcmp(argv[i], "--side") == 0 && i + 1 < argc &&
                 (strcmp(argv[i + 1], "source") == 0 || strcmp(argv[i + 1], "target") == 0))
            only = argv[++i];
        else
        {
            log_error("cleanup: unknown option \"%s\"%s", argv[i],
                      strcmp(argv[i], "--side") == 0 ? " (--side takes source or target)" : "");
            cleanup_usage(stderr);
            return EXIT_USAGE;
        }
    }
    if (only == NULL && !conf_require_dsns(conf, "cleanup"))
        return EXIT_USAGE;
    if (only != NULL && (strcmp(only, "source") == 0 ? conf->source : conf->target) == NULL)
    {
        log_error("cleanup: no %s connection string; give --%s DSN", only, only);
        return EXIT_USAGE;
    }
    c.conf = conf;
    direction_init(&c.fwd, conf, false);
    direction_init(&c.rev, conf, true);
    if (only == NULL || strcmp(only, "source") == 0)
        c.sides[c.nsides++] = (struct leftovers){.role = "source", .dsn = conf->source};
    if (only == NULL || strcmp(only, "target") == 0)
        c.sides[c.nsides++] = (struct leftovers){.role = "target", .dsn = conf->target};

    for (i = 0; i < c.nsides; i++)
    {
        struct leftovers *s = &c.sides[i];

        s->conn = pgconn_open(s->dsn, s->role, PGCONN_SQL, "memori-bridge cleanup",
                              conf->connect_timeout_ms, NULL);
        if (s->conn == NULL)
        {
            log_error("cleanup: the %s cannot be reached; to clean up only the other side, "
                      "give --side %s",
                      s->role, strcmp(s->role, "source") == 0 ? "target" : "source");
            goto done;
        }
        pgconn_describe(s->conn, s->where, sizeof(s->where));
        /* cleanup finds what the bridge made by its names, not in the
         * schemas: a schema that is gone (a reset source) changes nothing */
        if (schemas_missing(s->conn, conf->schemas, s->role,
                            "cleanup goes on: it finds what the bridge made by its names",
                            NULL) < 0 ||
            !find(&c, s))
            goto done;
        nothing &= empty(s);
        if (strcmp(s->role, "target") == 0 &&
            !direction_read_switch(s->conn, conf->slot, &exists, &reverse, phase, sizeof(phase)))
            goto done;
    }
    /* PgBouncer goes where memori lives, whatever else is left */
    if (pgbouncer_configured(conf))
    {
        bool cut = exists && strcmp(phase, "done") == 0 && reverse;
        struct leftovers *live = NULL;

        for (i = 0; i < c.nsides; i++)
            if (strcmp(c.sides[i].role, cut ? "target" : "source") == 0)
                live = &c.sides[i];
        if (live == NULL)
            printf("\npgbouncer: left as it is (cleanup of the %s only; memori lives on the "
                   "%s)\n",
                   c.sides[0].role, cut ? "target" : "source");
        else if (!cleanup_pool(conf, live->conn, live->role, c.yes))
            goto done;
    }
    if (nothing)
    {
        printf("nothing of the bridge (slot \"%s\") is left on the %s\n", conf->slot,
               c.nsides == 2 ? "source or the target" : c.sides[0].role);
        status = 0;
        goto done;
    }
    list(&c);
    if (exists && strcmp(phase, "done") == 0)
        printf("\nmemori lives on the %s (%s); after cleanup the %s %s\n",
               reverse ? "target" : "source", reverse ? "cut over" : "rolled back",
               reverse ? "source" : "target",
               c.keep_fences ? "stays fenced" : "takes writes again: point nothing at it");
    /* a streamed slot: --yes refuses; the list alone is still the answer */
    for (i = 0; i < c.nsides; i++)
        for (int j = 0; j < c.sides[i].nslots; j++)
            if (c.sides[i].slots[j].active)
            {
                if (c.yes)
                    log_error("cleanup: slot \"%s\" on the %s is streamed by a bridge (walsender "
                              "PID %d); stop that bridge first (SIGTERM), then run cleanup again",
                              c.sides[i].slots[j].name, c.sides[i].role, c.sides[i].slots[j].pid);
                else
                    printf("%sa bridge is streaming slot \"%s\" on the %s (walsender PID %d): "
                           "cleanup --yes refuses until that bridge stops (SIGTERM)\n",
                           busy ? "" : "\n", c.sides[i].slots[j].name, c.sides[i].role,
                           c.sides[i].slots[j].pid);
                busy = true;
            }
    if (!c.yes)
    {
        printf("\nnothing dropped: %srun again with --yes to drop the above\n",
               busy ? "stop the bridge, then " : "");
        status = 0;
        goto done;
    }
    if (busy)
        goto done;
    printf("\n");
    fflush(stdout);
    for (i = 0; i < c.nsides; i++)
        if (!drop_fences(&c, &c.sides[i]) || !drop_slots_and_origins(&c.sides[i]) ||
            !drop_schema(&c, &c.sides[i]))
        {
            log_error("cleanup stopped; what is dropped stays dropped, and running it again "
                      "finishes the job");
            goto done;
        }
    printf("cleanup done: nothing of the bridge (slot \"%s\") is left on the %s%s\n", conf->slot,
           c.nsides == 2 ? "source or the target" : c.sides[0].role,
           c.keep_fences ? " but the fences" : "");
    status = 0;
done:
    for (i = 0; i < c.nsides; i++)
        if (c.sides[i].conn != NULL)
            PQfinish(c.sides[i].conn);
    return status;
}
