/*
 * status.c - a one-shot report on both sides, with explicit warnings.
 *
 * Everything comes from the servers (the slots, the progress, the fences, the
 * switch record, and memori_bridge.stream_status, which a running bridge
 * refreshes every second), so status works whether or not a bridge runs, and
 * from any machine that can reach both sides.
 */
#include "bridge/cmd/status.h"
#include "bridge/cmd/schema_report.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bridge/base/log.h"
#include "bridge/pg/continuity.h"
#include "bridge/pg/direction.h"
#include "bridge/pg/fence.h"
#include "bridge/pg/pgbouncer.h"
#include "bridge/pg/pgconn.h"
#include "bridge/pg/preflight.h"
#include "bridge/pg/progress.h"
#include "bridge/pg/schemas.h"
#include "bridge/pg/seqsync.h"
#include "decoder/lsn.h"

#define EXIT_USAGE    2
#define EXIT_WARNINGS 3
#define MAX_SLOTS     8
#define MAX_WARNINGS  32
#define MAX_SEQS      64

struct slot_info
{
    char name[80];
    bool active;
    int pid;
    char confirmed[24], restart[24], wal_status[16], safe[32];
    long long retained; /* bytes of WAL kept for it */
};

struct side_info
{
    const char *role;
    PGconn *conn;
    char version[64], wal_level[16], allowlist[256], now_lsn[24];
    bool has_allowlist, allows;
    int tables, fenced;
    struct slot_info slots[MAX_SLOTS];
    int nslots;
    struct progress prog[2];             /* of the forward and the reverse direction here */
    char progress[2][LSN_BUFSZ];         /* the same as text, "" when none is recorded */
    /* the stream that applies to this side, as it last said */
    bool reporting;
    int stream_pid;
    char stream_dir[16];
    /* a hold for verify on this side (memori_bridge.verify_pause), the oldest */
    bool held;
    char hold_state[16];
    int hold_pid;         /* the verify's backend here, 0 unknown */
    bool hold_alive;      /* that backend still runs */
    double hold_age;      /* seconds since its last word */
    double stream_lag, stream_age;
    char stream_link[16];   /* the side it cannot reach ("" when none) */
    double stream_link_age; /* seconds since that link went down */
    /* bridges that say on this side which link of theirs is down (their
     * monitor's application_name, run_monitor.c) */
    struct
    {
        int pid;
        char link[16];
        double age;
    } notes[4];
    int nnotes;
};

struct report
{
    const struct conf *conf;
    struct direction fwd, rev;
    struct side_info src, dst;
    bool reverse;      /* memori flows target -> source (after a cutover) */
    char phase[16];    /* of the switch record, "" when none */
    long long lag_bytes[2];
    double lag_seconds[2];
    struct
    {
        char name[160], src[48], dst[48];
    } seqs[MAX_SEQS];
    int nseqs;
    struct continuity cont;   /* of the direction memori flows */
    /* the PgBouncer in front of memori (--pgbouncer), if any */
    bool pooled, pool_reached;
    struct pgbouncer_entry pool;
    char pool_console[160], pool_err[512];
    const char *pool_at; /* "source", "target" or NULL: neither */
    char warnings[MAX_WARNINGS][800];
    int nwarnings;
};

static void
warn(struct report *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void
warn(struct report *r, const char *fmt, ...)
{
    va_list ap;

    if (r->nwarnings == MAX_WARNINGS)
        return;
    va_start(ap, fmt);
    vsnprintf(r->warnings[r->nwarnings++], sizeof(r->warnings[0]), fmt, ap);
    va_end(ap);
}

static bool
read_side(struct report *r, struct side_info *s)
{
    const char *names[2] = {r->fwd.slot, r->rev.slot};
    const char *schemas[1] = {r->conf->schemas};
    PGresult *res;
    int i;

    res = pgconn_exec(s->conn, "could not read the server's state",
                      "SELECT current_setting('server_version'), current_setting('wal_level'), "
                      "(SELECT setting FROM pg_catalog.pg_settings "
                      " WHERE name = 'output_plugin_libraries'), "
                      "CASE WHEN pg_catalog.pg_is_in_recovery() THEN '' "
                      "     ELSE pg_catalog.pg_current_wal_lsn()::text END",
                      0, NULL, NULL);
    if (res == NULL)
        return false;
    snprintf(s->version, sizeof(s->version), "%s", PQgetvalue(res, 0, 0));
    snprintf(s->wal_level, sizeof(s->wal_level), "%s", PQgetvalue(res, 0, 1));
    s->has_allowlist = !PQgetisnull(res, 0, 2);
    snprintf(s->allowlist, sizeof(s->allowlist), "%s", PQgetvalue(res, 0, 2));
    snprintf(s->now_lsn, sizeof(s->now_lsn), "%s", PQgetvalue(res, 0, 3));
    PQclear(res);
    /* as the server reads the list: a quoted item is one item */
    s->allows = !s->has_allowlist || preflight_list_has(s->allowlist, "wal2json");

    res = pgconn_exec(s->conn, "could not read the slots",
                      "SELECT slot_name, active, coalesce(active_pid, 0), "
                      "       coalesce(confirmed_flush_lsn::text, ''), "
                      "       coalesce(restart_lsn::text, ''), "
                      "       coalesce(pg_catalog.pg_wal_lsn_diff(pg_catalog.pg_current_wal_lsn(), "
                      "                restart_lsn), 0)::bigint, "
                      "       coalesce(wal_status, ''), coalesce(safe_wal_size::text, '') "
                      "FROM pg_catalog.pg_replication_slots "
                      "WHERE slot_name IN ($1, $2) OR slot_name LIKE 'memori_bridge_verify_%' "
                      "ORDER BY 1",
                      2, names, NULL);
    if (res == NULL)
        return false;
    for (i = 0; i < PQntuples(res) && s->nslots < MAX_SLOTS; i++)
    {
        struct slot_info *sl = &s->slots[s->nslots++];

        snprintf(sl->name, sizeof(sl->name), "%s", PQgetvalue(res, i, 0));
        sl->active = PQgetvalue(res, i, 1)[0] == 't';
        sl->pid = (int) strtol(PQgetvalue(res, i, 2), NULL, 10);
        snprintf(sl->confirmed, sizeof(sl->confirmed), "%s", PQgetvalue(res, i, 3));
        snprintf(sl->restart, sizeof(sl->restart), "%s", PQgetvalue(res, i, 4));
        sl->retained = strtoll(PQgetvalue(res, i, 5), NULL, 10);
        snprintf(sl->wal_status, sizeof(sl->wal_status), "%s", PQgetvalue(res, i, 6));
        snprintf(sl->safe, sizeof(sl->safe), "%s", PQgetvalue(res, i, 7));
    }
    PQclear(res);

    for (i = 0; i < 2; i++)
    {
        if (!progress_read(s->conn, s->role, names[i], &s->prog[i]))
            return false;
        if (s->prog[i].recorded || s->prog[i].origin_readable)
            lsn_format(s->prog[i].lsn, s->progress[i]);
    }

    res = pgconn_exec(s->conn, "could not count the tables",
                      "SELECT count(*) FROM pg_catalog.pg_class c "
                      "JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace "
                      "WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition AND n.nspname = "
                      "ANY (pg_catalog.string_to_array(replace($1, ' ', ''), ','))",
                      1, schemas, NULL);
    if (res == NULL)
        return false;
    s->tables = (int) strtol(PQgetvalue(res, 0, 0), NULL, 10);
    PQclear(res);
    s->fenced = fence_count(s->conn, r->conf->schemas);

    /* (to_jsonb: the link columns may be missing in a table of an earlier version) */
    res = PQexecParams(s->conn,
                       "SELECT direction, pid, coalesce(lag_seconds, -1), "
                       "       extract(epoch FROM now() - updated_at), "
                       "       coalesce(to_jsonb(t)->>'link_down', ''), "
                       "       coalesce(extract(epoch FROM now() - "
                       "           (to_jsonb(t)->>'link_down_since')::timestamptz), 0) "
                       "FROM memori_bridge.stream_status t WHERE slot = $1 "
                       "ORDER BY updated_at DESC LIMIT 1",
                       1, NULL, s == &r->src ? &names[1] : &names[0], NULL, NULL, 0);
    if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1)
    {
        snprintf(s->stream_dir, sizeof(s->stream_dir), "%s", PQgetvalue(res, 0, 0));
        s->stream_pid = (int) strtol(PQgetvalue(res, 0, 1), NULL, 10);
        s->stream_lag = strtod(PQgetvalue(res, 0, 2), NULL);
        s->stream_age = strtod(PQgetvalue(res, 0, 3), NULL);
        snprintf(s->stream_link, sizeof(s->stream_link), "%s", PQgetvalue(res, 0, 4));
        s->stream_link_age = strtod(PQgetvalue(res, 0, 5), NULL);
        /* it reports every second, but a connection attempt (while a link is
         * down) can hold it for connect_timeout */
        s->reporting = s->stream_age < 10 + (double) r->conf->connect_timeout_ms / 1000;
    }
    PQclear(res);

    res = PQexec(s->conn,
                 "SELECT (pg_catalog.regexp_match(application_name, "
                 "         '^memori-bridge ([0-9]+): ([a-z]+) link down since ([0-9]+)$'))[1:3] "
                 "FROM pg_catalog.pg_stat_activity "
                 "WHERE application_name ~ '^memori-bridge [0-9]+: [a-z]+ link down since'");
    for (i = 0; PQresultStatus(res) == PGRES_TUPLES_OK && i < PQntuples(res) && i < 4; i++)
    {
        int pid = 0;
        char link[16] = "";
        long long since = 0;

        if (sscanf(PQgetvalue(res, i, 0), "{%d,%15[a-z],%lld}", &pid, link, &since) != 3)
            continue;
        s->notes[s->nnotes].pid = pid;
        snprintf(s->notes[s->nnotes].link, sizeof(s->notes[0].link), "%s", link);
        s->notes[s->nnotes].age = (double) time(NULL) - (double) since;
        s->nnotes++;
    }
    PQclear(res);

    res = PQexecParams(s->conn,
                       "SELECT state, coalesce(holder_pid, 0), holder_pid IS NULL OR EXISTS "
                       "       (SELECT 1 FROM pg_catalog.pg_stat_activity WHERE pid = holder_pid), "
                       "       extract(epoch FROM now() - updated_at) "
                       "FROM memori_bridge.verify_pause WHERE slot IN ($1, $2) "
                       "ORDER BY updated_at LIMIT 1",
                       2, NULL, names, NULL, NULL, 0);
    if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1)
    {
        s->held = true;
        snprintf(s->hold_state, sizeof(s->hold_state), "%s", PQgetvalue(res, 0, 0));
        s->hold_pid = (int) strtol(PQgetvalue(res, 0, 1), NULL, 10);
        s->hold_alive = PQgetvalue(res, 0, 2)[0] == 't';
        s->hold_age = strtod(PQgetvalue(res, 0, 3), NULL);
    }
    PQclear(res);
    return true;
}

static long long
lsn_diff(const char *a, const char *b)
{
    lsn_t x = 0, y = 0;

    if (!lsn_parse(a, strlen(a), &x) || !lsn_parse(b, strlen(b), &y))
        return -1;
    return x > y ? (long long) (x - y) : 0;
}

static const struct slot_info *
find_slot(const struct side_info *s, const char *name)
{
    int i;

    for (i = 0; i < s->nslots; i++)
        if (strcmp(s->slots[i].name, name) == 0)
            return &s->slots[i];
    return NULL;
}

/* Where the stream of PROG stands: its progress, or its slot's confirmed
 * position when that is later (progress.h), as text into BUF. */
static const char *
stream_at(const struct progress *prog, const struct slot_info *slot, char buf[LSN_BUFSZ])
{
    lsn_t c = LSN_INVALID;

    if (slot != NULL && slot->confirmed[0])
        lsn_parse(slot->confirmed, strlen(slot->confirmed), &c);
    return lsn_format(progress_position(prog, c), buf);
}

static void
read_sequences(struct report *r)
{
    const char *params[1] = {r->conf->schemas};
    PGresult *res = PQexecParams(r->src.conn, seq_list_sql, 1, NULL, params, NULL, NULL, 0);
    int i;

    for (i = 0; PQresultStatus(res) == PGRES_TUPLES_OK && i < PQntuples(res) && i < MAX_SEQS; i++)
    {
        char sql[300];
        PGresult *a, *b;

        snprintf(r->seqs[i].name, sizeof(r->seqs[i].name), "%s", PQgetvalue(res, i, 0));
        snprintf(sql, sizeof(sql), "SELECT last_value FROM %s", r->seqs[i].name);
        a = PQexec(r->src.conn, sql);
        b = PQexec(r->dst.conn, sql);
        snprintf(r->seqs[i].src, sizeof(r->seqs[i].src), "%s",
                 PQresultStatus(a) == PGRES_TUPLES_OK ? PQgetvalue(a, 0, 0) : "?");
        snprintf(r->seqs[i].dst, sizeof(r->seqs[i].dst), "%s",
                 PQresultStatus(b) == PGRES_TUPLES_OK ? PQgetvalue(b, 0, 0) : "missing");
        PQclear(a);
        PQclear(b);
        r->nseqs++;
    }
    PQclear(res);
}

/* A running bridge of the live direction that says one of its links is down:
 * in its status row on the side it applies to (OTHER), or, when it cannot
 * reach that side, in its monitor's name on the side it streams from (LIVE).
 * Warns and returns true when one does. */
static bool
link_down(struct report *r, struct side_info *live, struct side_info *other)
{
    const char *dir = r->reverse ? "reverse" : "forward";
    int i;

    if (other->reporting && other->stream_link[0] && strcmp(other->stream_dir, dir) == 0)
    {
        warn(r,
             "the bridge (PID %d) streaming %s cannot reach the %s: its link there is down "
             "for %.0f s; it reconnects by itself: check the network and the server there "
             "(it gives a link peer_timeout to answer)",
             other->stream_pid, dir, other->stream_link, other->stream_link_age);
        return true;
    }
    for (i = 0; i < live->nnotes; i++)
        if (strcmp(live->notes[i].link, other->role) == 0 &&
            (!other->reporting || other->stream_pid == live->notes[i].pid))
        {
            warn(r,
                 "the bridge (PID %d) streaming %s cannot reach the %s: its link there is down "
                 "for %.0f s (it says so on the %s); it reconnects by itself: check the network "
                 "and the server there (it gives a link peer_timeout to answer)",
                 live->notes[i].pid, dir, other->role, live->notes[i].age, live->role);
            return true;
        }
    return false;
}

/* Where PgBouncer's entry points, and whether it is held. */
static void
read_pool(struct report *r)
{
    r->pooled = pgbouncer_configured(r->conf);
    if (!r->pooled)
        return;
    r->pool_reached =
        pgbouncer_look(r->conf, r->conf->connect_timeout_ms, &r->pool, r->pool_console,
                       sizeof(r->pool_console), r->pool_err, sizeof(r->pool_err));
    r->pool_at = pgbouncer_points_at(&r->pool, r->src.conn)   ? "source"
                 : pgbouncer_points_at(&r->pool, r->dst.conn) ? "target"
                                                              : NULL;
}

static void
judge_pool(struct report *r, const struct side_info *live)
{
    const char *name = r->conf->pgbouncer_database;
    bool switching = strcmp(r->phase, "switching") == 0;

    if (!r->pool_reached)
        warn(r, "PgBouncer (%s): could not read its database \"%s\": %s; check --pgbouncer",
             r->pool_console, name, r->pool_err);
    else if (!r->pool.found)
        warn(r,
             "PgBouncer (%s) has no database \"%s\": writers through it are refused; "
             "%%include the file with its entry (--pgbouncer-ini) and RELOAD",
             r->pool_console, name);
    else if (switching)
        return; /* paused and pointing either way, for a moment */
    else if (r->pool_at == NULL || strcmp(r->pool_at, live->role) != 0)
        warn(r,
             "PgBouncer's database \"%s\" points at %s, but memori lives on the %s: writers "
             "through it are refused; memori-bridge cleanup --yes points it there",
             name, r->pool_at ? r->pool_at : "neither side", live->role);
    if (r->pool_reached && r->pool.found && !switching && (r->pool.paused || r->pool.disabled))
        warn(r,
             "PgBouncer's database \"%s\" is %s: writers through it wait (a cutover or "
             "rollback killed half way?); memori-bridge cleanup --yes resumes it, or RESUME "
             "it on its console",
             name, r->pool.paused ? "paused" : "disabled");
}

/* Everything worth a warning, each with what to do. */
static void
judge(struct report *r)
{
    struct side_info *sides[2] = {&r->src, &r->dst};
    struct side_info *live = r->reverse ? &r->dst : &r->src, *other = r->reverse ? &r->src : &r->dst;
    const struct direction *d = r->reverse ? &r->rev : &r->fwd;
    const struct slot_info *sl = find_slot(live, d->slot);
    const char *const names[2] = {r->fwd.slot, r->rev.slot};
    char stops[2][SCHEMA_LINE];
    int i, j;

    /* a stream held by a schema change: first, it is what to fix first */
    for (i = 0; i < 2; i++)
        for (j = schema_report_stops(sides[i]->conn, sides[i]->role, names, stops, 2); j > 0; j--)
            warn(r, "%s", stops[j - 1]);
    for (i = 0; i < 2; i++)
    {
        if (!sides[i]->allows)
            warn(r, "%s: output_plugin_libraries ('%s') does not allow wal2json: the next "
                    "START_REPLICATION will fail; fix: ALTER SYSTEM SET output_plugin_libraries = "
                    "'pgoutput', 'test_decoding', 'wal2json'; SELECT pg_reload_conf()",
                 sides[i]->role, sides[i]->allowlist);
        for (j = 0; j < sides[i]->nslots; j++)
        {
            const struct slot_info *x = &sides[i]->slots[j];

            if (x->retained > r->conf->max_retained_wal)
                warn(r, "%s: slot \"%s\" holds %lld MB of WAL (over --max-retained-wal %lld MB); "
                        "start the bridge that reads it, or drop it (memori-bridge cleanup)",
                     sides[i]->role, x->name, x->retained >> 20,
                     (long long) (r->conf->max_retained_wal >> 20));
            if (strcmp(x->wal_status, "unreserved") == 0)
                warn(r, "%s: slot \"%s\" is about to lose WAL it needs (wal_status unreserved); "
                        "let the bridge catch up now, or raise max_slot_wal_keep_size",
                     sides[i]->role, x->name);
            if (strcmp(x->wal_status, "lost") == 0)
                warn(r, "%s: slot \"%s\" has lost WAL it needed (wal_status lost): its stream "
                        "cannot go on; start over with memori-bridge init --force",
                     sides[i]->role, x->name);
        }
    }
    for (i = 0; i < 2; i++)
        if (sides[i]->held && !sides[i]->hold_alive)
            warn(r, "%s: a hold for verify (PID %d) is left by a verify that is gone; a running "
                    "bridge drops it at its next look, or: DELETE FROM memori_bridge.verify_pause",
                 sides[i]->role, sides[i]->hold_pid);
    if (r->cont.verdict != CONTINUITY_OK)
        warn(r, "%s", r->cont.why);
    else if (link_down(r, live, other))
        ; /* a bridge runs, and says why it does not stream */
    else if (sl != NULL && !sl->active)
        warn(r, "%s: no bridge streams slot \"%s\": start memori-bridge run", live->role,
             d->slot);
    if (live->fenced > 0 && strcmp(r->phase, "switching") != 0)
        warn(r, "%s: memori lives here, but %d of %d tables are fenced: writers are refused; a "
                "cutover or rollback was cut short? run it again",
             live->role, live->fenced, live->tables);
    if (other->fenced < other->tables)
        warn(r, "%s: only %d of %d tables are fenced: writers could write to both sides; "
                "memori-bridge init (or a switch) fences it",
             other->role, other->fenced, other->tables);
    if (r->pooled)
        judge_pool(r, live);
    for (i = 0; i < r->nseqs; i++)
    {
        long long a = strtoll(r->seqs[i].src, NULL, 10), b = strtoll(r->seqs[i].dst, NULL, 10);

        if ((r->reverse ? b < a : a < b) || strcmp(r->seqs[i].dst, "missing") == 0)
            warn(r, "sequence %s on the %s (%s) is behind the %s's (%s): new rows could take ids "
                    "that exist",
                 r->seqs[i].name, live->role, r->reverse ? r->seqs[i].dst : r->seqs[i].src,
                 other->role, r->reverse ? r->seqs[i].src : r->seqs[i].dst);
    }
}

static void
print_text(struct report *r)
{
    struct side_info *sides[2] = {&r->src, &r->dst};
    int i, j;

    printf("memori lives on the %s (streaming %s%s%s)\n", r->reverse ? "target" : "source",
           r->reverse ? "reverse: target -> source" : "forward: source -> target",
           r->phase[0] && strcmp(r->phase, "done") != 0 ? "; switch " : "",
           r->phase[0] && strcmp(r->phase, "done") != 0 ? r->phase : "");
    for (i = 0; i < 2; i++)
    {
        struct side_info *s = sides[i];

        printf("\n%s: PostgreSQL %s, wal_level %s, wal2json %s, %s (%d of %d tables)\n", s->role,
               s->version, s->wal_level, s->allows ? "allowed" : "NOT allowed",
               s->fenced == 0 ? "open" : s->fenced == s->tables ? "fenced" : "partly fenced",
               s->fenced, s->tables);
        for (j = 0; j < s->nslots; j++)
        {
            const struct slot_info *x = &s->slots[j];
            char who[32];

            if (x->active)
                snprintf(who, sizeof(who), "streamed by PID %d", x->pid);
            else
                snprintf(who, sizeof(who), "not streamed");
            printf("  slot %s: %s; confirmed %s, restart %s, retains %.1f MB, wal_status %s%s%s\n",
                   x->name, who, x->confirmed, x->restart, (double) x->retained / (1 << 20),
                   x->wal_status, x->safe[0] ? ", safe_wal_size " : "", x->safe);
        }
        for (j = 0; j < 2; j++)
            if (s->progress[j][0])
                printf("  progress of %s at %s\n", j ? r->rev.origin : r->fwd.origin,
                       s->progress[j]);
        if (s->reporting)
        {
            char down[96] = "";

            if (s->stream_link[0])
                snprintf(down, sizeof(down), "; its link to the %s is down (%.0f s)",
                         s->stream_link, s->stream_link_age);
            if (s->stream_lag >= 0)
                printf("  a bridge (PID %d) applies here, streaming %s, %.3f s behind%s\n",
                       s->stream_pid, s->stream_dir, s->stream_lag, down);
            else
                printf("  a bridge (PID %d) applies here, streaming %s%s\n", s->stream_pid,
                       s->stream_dir, down);
        }
        if (s->held)
            printf("  %s for verify (PID %d here%s), %.0f s\n",
                   strcmp(s->hold_state, "requested") == 0 ? "a hold is asked" : "held",
                   s->hold_pid, s->hold_alive ? "" : ", gone", s->hold_age);
    }
    printf("\nlag: forward %lld bytes%s", r->lag_bytes[0], r->lag_seconds[0] >= 0 ? ", " : "");
    if (r->lag_seconds[0] >= 0)
        printf("%.3f s", r->lag_seconds[0]);
    printf("; reverse ");
    if (r->lag_bytes[1] >= 0)
        printf("%lld bytes%s", r->lag_bytes[1], r->lag_seconds[1] >= 0 ? ", " : "");
    else
        printf("(no reverse stream)");
    if (r->lag_seconds[1] >= 0)
        printf("%.3f s", r->lag_seconds[1]);
    printf("\n");
    if (r->pooled && r->pool_reached && r->pool.found)
    {
        char where[512];

        printf("\npgbouncer (%s): database \"%s\" points at %s (%s), %s\n", r->pool_console,
               r->conf->pgbouncer_database, r->pool_at ? r->pool_at : "neither side",
               pgbouncer_where(&r->pool, where, sizeof(where)),
               r->pool.paused     ? "PAUSED"
               : r->pool.disabled ? "DISABLED"
                                  : "resumed");
    }
    else if (r->pooled)
        printf("\npgbouncer (%s): database \"%s\" %s\n", r->pool_console,
               r->conf->pgbouncer_database, r->pool_reached ? "missing" : "not reached");
    for (i = 0; i < r->nseqs; i++)
        printf("sequence %-40s source %s, target %s\n", r->seqs[i].name, r->seqs[i].src,
               r->seqs[i].dst);
    printf("\n");
    for (i = 0; i < r->nwarnings; i++)
        printf("WARNING: %s\n", r->warnings[i]);
    printf("%s\n", r->nwarnings ? "status: warnings" : "status: healthy");
}

static void
json_string(const char *s)
{
    char buf[1024];

    log_json_string(buf, 0, sizeof(buf), s);
    fputs(buf, stdout);
}

static void
print_json(struct report *r)
{
    struct side_info *sides[2] = {&r->src, &r->dst};
    int i, j;

    printf("{\"lives_on\":\"%s\",\"switch_phase\":", r->reverse ? "target" : "source");
    json_string(r->phase);
    printf(",\"healthy\":%s,\"lag\":{\"forward\":{\"bytes\":%lld,\"seconds\":",
           r->nwarnings ? "false" : "true", r->lag_bytes[0]);
    if (r->lag_seconds[0] >= 0)
        printf("%.3f", r->lag_seconds[0]);
    else
        printf("null");
    printf("},\"reverse\":{\"bytes\":");
    if (r->lag_bytes[1] >= 0)
        printf("%lld", r->lag_bytes[1]);
    else
        printf("null");
    printf(",\"seconds\":");
    if (r->lag_seconds[1] >= 0)
        printf("%.3f", r->lag_seconds[1]);
    else
        printf("null");
    printf("}}");
    for (i = 0; i < 2; i++)
    {
        struct side_info *s = sides[i];

        printf(",\"%s\":{\"version\":", s->role);
        json_string(s->version);
        printf(",\"wal_level\":");
        json_string(s->wal_level);
        printf(",\"wal2json_allowed\":%s,\"tables\":%d,\"fenced_tables\":%d,\"progress\":{",
               s->allows ? "true" : "false", s->tables, s->fenced);
        json_string(r->fwd.origin);
        printf(":");
        json_string(s->progress[0]);
        printf(",");
        json_string(r->rev.origin);
        printf(":");
        json_string(s->progress[1]);
        printf("},\"slots\":[");
        for (j = 0; j < s->nslots; j++)
        {
            const struct slot_info *x = &s->slots[j];

            printf("%s{\"name\":", j ? "," : "");
            json_string(x->name);
            printf(",\"active\":%s,\"pid\":%d,\"confirmed_flush_lsn\":\"%s\",\"restart_lsn\":"
                   "\"%s\",\"retained_wal_bytes\":%lld,\"wal_status\":\"%s\",\"safe_wal_size\":%s}",
                   x->active ? "true" : "false", x->pid, x->confirmed, x->restart, x->retained,
                   x->wal_status, x->safe[0] ? x->safe : "null");
        }
        printf("],\"bridge\":");
        if (s->reporting)
        {
            printf("{\"pid\":%d,\"direction\":\"%s\",\"lag_seconds\":", s->stream_pid,
                   s->stream_dir);
            if (s->stream_lag >= 0)
                printf("%.3f", s->stream_lag);
            else
                printf("null");
            if (s->stream_link[0])
                printf(",\"link_down\":\"%s\",\"link_down_seconds\":%.0f}", s->stream_link,
                       s->stream_link_age);
            else
                printf(",\"link_down\":null,\"link_down_seconds\":null}");
        }
        else
            printf("null");
        printf(",\"hold\":");
        if (s->held)
            printf("{\"state\":\"%s\",\"verify_pid\":%d,\"verify_alive\":%s,\"seconds\":%.0f}",
                   s->hold_state, s->hold_pid, s->hold_alive ? "true" : "false", s->hold_age);
        else
            printf("null");
        printf("}");
    }
    printf(",\"pgbouncer\":");
    if (!r->pooled)
        printf("null");
    else
    {
        printf("{\"console\":");
        json_string(r->pool_console);
        printf(",\"database\":");
        json_string(r->conf->pgbouncer_database);
        printf(",\"reached\":%s,\"found\":%s,\"host\":", r->pool_reached ? "true" : "false",
               r->pool.found ? "true" : "false");
        json_string(r->pool.host);
        printf(",\"port\":");
        json_string(r->pool.port);
        printf(",\"dbname\":");
        json_string(r->pool.database);
        printf(",\"points_at\":");
        if (r->pool_at)
            json_string(r->pool_at);
        else
            printf("null");
        printf(",\"paused\":%s}", r->pool.paused ? "true" : "false");
    }
    printf(",\"sequences\":[");
    for (i = 0; i < r->nseqs; i++)
    {
        printf("%s{\"name\":", i ? "," : "");
        json_string(r->seqs[i].name);
        printf(",\"source\":\"%s\",\"target\":\"%s\"}", r->seqs[i].src, r->seqs[i].dst);
    }
    printf("],\"warnings\":[");
    for (i = 0; i < r->nwarnings; i++)
    {
        if (i)
            putchar(',');
        json_string(r->warnings[i]);
    }
    printf("]}\n");
}

int
cmd_status(int argc, char **argv, const struct conf *conf)
{
    struct report *r = calloc(1, sizeof(struct report));
    bool json = false, exists = false;
    char at[LSN_BUFSZ];
    int i, status = 1;

    if (r == NULL)
    {
        log_error("out of memory");
        return 1;
    }
    for (i = 1; i < argc; i++)
    {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0)
        {
            fputs("usage: memori-bridge status [--json] [options]\n"
                  "\n"
                  "Reports both sides: the bridge's slots (active, PID, positions, retained\n"
                  "WAL, wal_status, safe_wal_size), origins, each direction's lag, fences, which\n"
                  "way memori flows, sequences, whether wal2json is still allowed, and (with\n"
                  "--pgbouncer) where PgBouncer's memori entry points and whether it is paused.\n"
                  "exit status: 0 healthy, 3 warnings, 1 cannot report\n",
                  stdout);
            free(r);
            return 0;
        }
        if (strcmp(argv[i], "--json") == 0)
            json = true;
        else
        {
            log_error("status: unknown option \"%s\"", argv[i]);
            free(r);
            return EXIT_USAGE;
        }
    }
    if (!conf_require_dsns(conf, "status"))
    {
        free(r);
        return EXIT_USAGE;
    }
    r->conf = conf;
    direction_init(&r->fwd, conf, false);
    direction_init(&r->rev, conf, true);
    r->src.role = "source";
    r->dst.role = "target";
    r->src.conn = pgconn_open(conf->source, "source", PGCONN_SQL, "memori-bridge status",
                              conf->connect_timeout_ms, NULL);
    r->dst.conn = r->src.conn ? pgconn_open(conf->target, "target", PGCONN_SQL,
                                            "memori-bridge status", conf->connect_timeout_ms, NULL)
                              : NULL;
    if (r->dst.conn == NULL || !read_side(r, &r->src) || !read_side(r, &r->dst) ||
        !direction_read_switch(r->dst.conn, conf->slot, &exists, &r->reverse, r->phase,
                               sizeof(r->phase)))
        goto done;
    if (!exists)
        r->reverse = false; /* mid-switch, the record still says the old way */
    read_sequences(r);
    read_pool(r);
    {
        const struct direction *d = r->reverse ? &r->rev : &r->fwd;

        if (!continuity_check(r->reverse ? r->dst.conn : r->src.conn,
                              r->reverse ? r->src.conn : r->dst.conn, conf, d, &r->cont))
            goto done;
        /* a schema a side lacks would report nothing; before init the side
         * applied to lacks them all, and the warning of it says so */
        if (r->cont.verdict == CONTINUITY_NO_INIT || r->cont.verdict == CONTINUITY_INIT_RUNNING
                ? schemas_missing(d->reverse ? r->dst.conn : r->src.conn, conf->schemas,
                                  d->reverse ? "target" : "source", NULL, NULL) != 0
                : !schemas_on_both(r->src.conn, "source", r->dst.conn, "target", conf->schemas,
                                   NULL))
            goto done;
    }
    r->lag_bytes[0] =
        lsn_diff(r->src.now_lsn, stream_at(&r->dst.prog[0], find_slot(&r->src, r->fwd.slot), at));
    r->lag_seconds[0] = r->dst.reporting && r->dst.stream_lag >= 0 ? r->dst.stream_lag : -1;
    r->lag_bytes[1] = find_slot(&r->dst, r->rev.slot) == NULL
                          ? -1
                          : lsn_diff(r->dst.now_lsn, stream_at(&r->src.prog[1],
                                                               find_slot(&r->dst, r->rev.slot), at));
    r->lag_seconds[1] = r->src.reporting && r->src.stream_lag >= 0 ? r->src.stream_lag : -1;
    judge(r);
    if (json)
        print_json(r);
    else
        print_text(r);
    status = r->nwarnings ? EXIT_WARNINGS : 0;
done:
    if (r->src.conn != NULL)
        PQfinish(r->src.conn);
    if (r->dst.conn != NULL)
        PQfinish(r->dst.conn);
    free(r);
    return status;
}
