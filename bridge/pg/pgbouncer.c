/*
 * pgbouncer.c - PAUSE, point, RESUME, through PgBouncer's admin console.
 *
 * NOTES
 *
 * A PAUSE that waits for a long transaction never returns by itself, and the
 * console answers nothing else meanwhile, not even a RESUME that another
 * connection sends (PgBouncer 1.18: the PAUSE stays unanswered for good). So
 * the PAUSE is sent without waiting, its answer is awaited up to a deadline,
 * and on timeout the spare connection, opened beforehand, RESUMEs; the
 * waiting one is then dropped and the spare takes its place.
 *
 * The file is read once, when opened: pointing the entry elsewhere rewrites
 * that content with the entry's line changed, and putting it back writes the
 * content as it was, whatever was pointed meanwhile.
 */
#include "bridge/pg/pgbouncer.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bridge/base/atomicfile.h"
#include "bridge/base/clock.h"
#include "bridge/base/failpoint.h"
#include "bridge/base/log.h"
#include "bridge/pg/pgconn.h"

#define ENTRY_KEYS_MAX 2048

bool
pgbouncer_configured(const struct conf *conf)
{
    return conf->pgbouncer != NULL && conf->pgbouncer[0] != '\0';
}

/* A connection to the console: no pinned settings (PgBouncer refuses the
 * options startup parameter), a connect timeout unless the DSN has one. */
static PGconn *
connect_console(const char *dsn, int64_t timeout_ms, char *err, size_t errlen)
{
    const char *keys[] = {"connect_timeout", "application_name", "dbname", NULL};
    char timeout[32];
    const char *vals[] = {timeout, "memori-bridge", dsn, NULL};
    PGconn *conn;

    snprintf(timeout, sizeof(timeout), "%lld", (long long) ((timeout_ms + 999) / 1000));
    conn = PQconnectdbParams(keys, vals, 1);
    if (PQstatus(conn) == CONNECTION_OK)
        return conn;
    pgconn_error(conn, NULL, err, errlen);
    PQfinish(conn);
    return NULL;
}

/* Run CMD on CONN; the result when it succeeded, else NULL after logging. */
static PGresult *
console(struct pgbouncer *pb, PGconn *conn, const char *cmd)
{
    PGresult *res = PQexec(conn, cmd);
    char err[512];

    if (PQresultStatus(res) == PGRES_COMMAND_OK || PQresultStatus(res) == PGRES_TUPLES_OK)
        return res;
    log_error("PgBouncer (%s) did not take \"%s\": %s", pb->console, cmd,
              pgconn_error(conn, res, err, sizeof(err)));
    PQclear(res);
    return NULL;
}

/* "CMD "name"" into BUF, the entry's name quoted as the console reads it. */
static bool
command(const struct pgbouncer *pb, const char *verb, char *buf, size_t len)
{
    char quoted[300];

    if (!pgconn_quote_ident(pb->name, quoted, sizeof(quoted)))
    {
        log_error("PgBouncer's entry name \"%s\" is too long", pb->name);
        return false;
    }
    snprintf(buf, len, "%s %s", verb, quoted);
    return true;
}

/* ---- the file ------------------------------------------------------- */

/* The line of the entry in CONTENT: *START, its length *LEN, and where its
 * value begins, *VALUE. Lines count from the start of the file, or from a
 * [databases] header, up to another section's header. */
static bool
find_line(const char *content, const char *name, size_t *start, size_t *len, size_t *value)
{
    const char *line, *next;
    bool in_databases = true;

    for (line = content; *line != '\0'; line = next)
    {
        size_t n = strcspn(line, "\n"), k;
        const char *p = line + strspn(line, " \t");

        next = line + n + (line[n] == '\n');
        if (*p == '[')
        {
            in_databases = strncmp(p, "[databases]", 11) == 0;
            continue;
        }
        if (!in_databases || *p == ';' || *p == '#')
            continue;
        k = strcspn(p, " \t=\n");
        if (k != strlen(name) || strncmp(p, name, k) != 0)
            continue;
        p += k;
        p += strspn(p, " \t");
        if (*p != '=')
            continue;
        p++;
        *start = (size_t) (line - content);
        *len = n;
        *value = (size_t) (p + strspn(p, " \t") - content);
        return true;
    }
    return false;
}

/* The value of KEY in PgBouncer's connection string S (LEN bytes), unquoted,
 * into BUF ("" when absent). Returns whether it was there. */
static bool
entry_value(const char *s, size_t len, const char *key, char *buf, size_t blen)
{
    const char *p = s, *end = s + len;

    buf[0] = '\0';
    while (p < end)
    {
        const char *k, *v;
        size_t kl, o = 0;

        while (p < end && (*p == ' ' || *p == '\t'))
            p++;
        k = p;
        while (p < end && *p != '=' && *p != ' ')
            p++;
        kl = (size_t) (p - k);
        if (p >= end || *p != '=')
            return false;
        v = ++p;
        if (p < end && *p == '\'')
        {
            for (p++; p < end; p++)
            {
                if (*p == '\'' && (p + 1 >= end || p[1] != '\''))
                    break;
                if (*p == '\'')
                    p++;
                if (o + 1 < blen && kl == strlen(key) && strncmp(k, key, kl) == 0)
                    buf[o++] = *p;
            }
            p++;
        }
        else
        {
            while (p < end && *p != ' ' && *p != '\t')
                p++;
            if (kl == strlen(key) && strncmp(k, key, kl) == 0)
                o = (size_t) snprintf(buf, blen, "%.*s", (int) (p - v), v);
        }
        if (kl == strlen(key) && strncmp(k, key, kl) == 0)
        {
            buf[o < blen ? o : blen - 1] = '\0';
            return true;
        }
    }
    return false;
}

/* The keys of connection string S (LEN bytes) other than where it connects
 * and as whom, as they are written, into BUF. */
static void
other_keys(const char *s, size_t len, char *buf, size_t blen)
{
    static const char *const dropped[] = {"host", "port", "dbname", "user", "password", NULL};
    const char *p = s, *end = s + len;
    size_t o = 0;

    buf[0] = '\0';
    while (p < end)
    {
        const char *k;
        size_t kl;
        bool drop = false;
        int i;

        while (p < end && (*p == ' ' || *p == '\t'))
            p++;
        if (p >= end)
            break;
        k = p;
        while (p < end && *p != '=')
            p++;
        kl = (size_t) (p - k);
        if (p < end && p[1] == '\'')
            for (p += 2; p < end && !(*p == '\'' && (p + 1 >= end || p[1] != '\'')); p++)
                p += *p == '\'';
        while (p < end && *p != ' ' && *p != '\t')
            p++;
        for (i = 0; dropped[i] != NULL; i++)
            drop |= kl == strlen(dropped[i]) && strncmp(k, dropped[i], kl) == 0;
        if (!drop && o < blen)
            o += (size_t) snprintf(buf + o, blen - o, " %.*s", (int) (p - k), k);
    }
}

/* " KEY=VALUE" into OUT, quoted as PgBouncer reads it when it must be. */
static void
put_pair(FILE *out, const char *key, const char *value)
{
    const char *c;

    if (value == NULL || *value == '\0')
        return;
    if (strpbrk(value, " \t'\\") == NULL)
    {
        fprintf(out, " %s=%s", key, value);
        return;
    }
    fprintf(out, " %s='", key);
    for (c = value; *c != '\0'; c++)
        fputs(*c == '\'' ? "''" : (char[2]){*c, '\0'}, out);
    fputc('\'', out);
}

/* The file with the entry's line pointing at SIDE, as a string the caller
 * frees; NULL when out of memory (logged). */
static char *
file_pointing_at(const struct pgbouncer *pb, PGconn *side)
{
    size_t start, len, value, size = 0;
    char keep[ENTRY_KEYS_MAX], *text = NULL;
    FILE *out;

    if (!find_line(pb->ini_before, pb->name, &start, &len, &value))
        return NULL; /* checked when opened */
    other_keys(pb->ini_before + value, start + len - value, keep, sizeof(keep));
    out = open_memstream(&text, &size);
    if (out == NULL)
    {
        log_error("out of memory");
        return NULL;
    }
    fprintf(out, "%.*s%s =", (int) start, pb->ini_before, pb->name);
    put_pair(out, "host", PQhost(side));
    put_pair(out, "port", PQport(side));
    put_pair(out, "dbname", PQdb(side));
    put_pair(out, "user", PQuser(side));
    put_pair(out, "password", PQpass(side));
    fprintf(out, "%s%s", keep, pb->ini_before + start + len);
    if (fclose(out) != 0)
    {
        free(text);
        log_error("out of memory");
        return NULL;
    }
    return text;
}

/* ---- the console ---------------------------------------------------- */

/* The settings into *PB, and the console's address for messages. */
static void
settings(struct pgbouncer *pb, const struct conf *conf)
{
    PQconninfoOption *opts, *o;
    const char *host = "", *port = "6432";

    memset(pb, 0, sizeof(*pb));
    pb->dsn = conf->pgbouncer;
    pb->ini = conf->pgbouncer_ini;
    pb->name = conf->pgbouncer_database;
    pb->timeout_ms = conf->fence_timeout_ms;
    opts = PQconninfoParse(pb->dsn, NULL);
    for (o = opts; o != NULL && o->keyword != NULL; o++)
        if (o->val != NULL && strcmp(o->keyword, "host") == 0)
            host = o->val;
        else if (o->val != NULL && strcmp(o->keyword, "port") == 0)
            port = o->val;
    snprintf(pb->console, sizeof(pb->console), "host=%s port=%s", *host ? host : "(default)", port);
    PQconninfoFree(opts);
}

bool
pgbouncer_look(const struct conf *conf, int64_t connect_timeout_ms, struct pgbouncer_entry *e,
               char *console, size_t clen, char *err, size_t errlen)
{
    struct pgbouncer pb;
    PGresult *res;
    bool ok;

    settings(&pb, conf);
    snprintf(console, clen, "%s", pb.console);
    memset(e, 0, sizeof(*e));
    pb.admin = connect_console(pb.dsn, connect_timeout_ms, err, errlen);
    if (pb.admin == NULL)
        return false;
    /* first quietly: the caller words a failure its own way */
    res = PQexec(pb.admin, "SHOW DATABASES");
    ok = PQresultStatus(res) == PGRES_TUPLES_OK;
    if (!ok)
        pgconn_error(pb.admin, res, err, errlen);
    PQclear(res);
    ok = ok && pgbouncer_show(&pb, e);
    pgbouncer_close(&pb);
    return ok;
}

bool
pgbouncer_open(struct pgbouncer *pb, const struct conf *conf, int64_t connect_timeout_ms)
{
    char err[600];
    size_t start, len, value;

    settings(pb, conf);
    if (pb->ini == NULL || pb->ini[0] == '\0')
    {
        log_error("--pgbouncer needs --pgbouncer-ini: the file PgBouncer includes with the "
                  "[databases] entry \"%s\" (%%include FILE in pgbouncer.ini), which the bridge "
                  "rewrites to point it at the other side",
                  pb->name);
        return false;
    }
    pb->admin = connect_console(pb->dsn, connect_timeout_ms, err, sizeof(err));
    pb->spare = pb->admin ? connect_console(pb->dsn, connect_timeout_ms, err, sizeof(err)) : NULL;
    if (pb->spare == NULL)
    {
        log_error("could not connect to PgBouncer's admin console (%s): %s; check --pgbouncer "
                  "(dbname=pgbouncer, a user of its admin_users)",
                  pb->console, err);
        return false;
    }
    pb->ini_before = atomicfile_read(pb->ini, "PgBouncer's ini file", false);
    if (pb->ini_before == NULL)
        return false;
    if (!find_line(pb->ini_before, pb->name, &start, &len, &value))
    {
        log_error("PgBouncer's ini file %s has no line for the entry \"%s\"; fix: put memori's "
                  "entry there (\"[databases]\" then \"%s = host=... port=... dbname=...\"), "
                  "%%include the file in pgbouncer.ini, and RELOAD",
                  pb->ini, pb->name, pb->name);
        return false;
    }
    return true;
}

void
pgbouncer_close(struct pgbouncer *pb)
{
    if (pb->admin != NULL)
        PQfinish(pb->admin);
    if (pb->spare != NULL)
        PQfinish(pb->spare);
    free(pb->ini_before);
    memset(pb, 0, sizeof(*pb));
}

static void
copy_field(const PGresult *res, int row, const char *column, char *buf, size_t len)
{
    int c = PQfnumber(res, column);

    snprintf(buf, len, "%s", c >= 0 && !PQgetisnull(res, row, c) ? PQgetvalue(res, row, c) : "");
}

bool
pgbouncer_show(struct pgbouncer *pb, struct pgbouncer_entry *e)
{
    PGresult *res = console(pb, pb->admin, "SHOW DATABASES");
    int r, name;
    char flag[8];

    memset(e, 0, sizeof(*e));
    if (res == NULL)
        return false;
    name = PQfnumber(res, "name");
    for (r = 0; name >= 0 && r < PQntuples(res); r++)
        if (strcmp(PQgetvalue(res, r, name), pb->name) == 0)
        {
            e->found = true;
            copy_field(res, r, "host", e->host, sizeof(e->host));
            copy_field(res, r, "port", e->port, sizeof(e->port));
            copy_field(res, r, "database", e->database, sizeof(e->database));
            copy_field(res, r, "force_user", e->user, sizeof(e->user));
            copy_field(res, r, "paused", flag, sizeof(flag));
            e->paused = strcmp(flag, "1") == 0;
            copy_field(res, r, "disabled", flag, sizeof(flag));
            e->disabled = strcmp(flag, "1") == 0;
        }
    PQclear(res);
    return true;
}

bool
pgbouncer_points_at(const struct pgbouncer_entry *e, PGconn *side)
{
    const char *host = PQhost(side);

    /* PQhost names the socket folder of a unix socket, PgBouncer nothing */
    if (host == NULL || host[0] == '/')
        host = "";
    return e->found && strcmp(e->host, host) == 0 && strcmp(e->port, PQport(side)) == 0 &&
           strcmp(e->database, PQdb(side)) == 0;
}

char *
pgbouncer_where(const struct pgbouncer_entry *e, char *buf, size_t len)
{
    snprintf(buf, len, "host=%s port=%s dbname=%s", e->host[0] ? e->host : "(unix socket)", e->port,
             e->database);
    return buf;
}

bool
pgbouncer_ready(struct pgbouncer *pb, PGconn *a, const char *a_role)
{
    struct pgbouncer_entry e;
    size_t start, len, value;
    char where[512], host[256], port[16], db[128], fix[200];
    bool ok = true;

    if (!pgbouncer_show(pb, &e))
        return false;
    snprintf(fix, sizeof(fix), "fix: point it at the %s (where memori lives) in %s, and RELOAD",
             a_role, pb->ini);
    if (!e.found)
    {
        log_error("PgBouncer (%s) has no database \"%s\"; %%include %s in its pgbouncer.ini and "
                  "RELOAD, or name the entry with --pgbouncer-database",
                  pb->console, pb->name, pb->ini);
        return false;
    }
    find_line(pb->ini_before, pb->name, &start, &len, &value);
    entry_value(pb->ini_before + value, start + len - value, "host", host, sizeof(host));
    if (!entry_value(pb->ini_before + value, start + len - value, "port", port, sizeof(port)))
        snprintf(port, sizeof(port), "5432");
    if (!entry_value(pb->ini_before + value, start + len - value, "dbname", db, sizeof(db)))
        snprintf(db, sizeof(db), "%s", pb->name);
    if (strcmp(host, e.host) != 0 || strcmp(port, e.port) != 0 || strcmp(db, e.database) != 0)
    {
        log_error("PgBouncer's database \"%s\" points at %s, but %s says host=%s port=%s "
                  "dbname=%s: it does not read that file (or was not reloaded); %%include it in "
                  "pgbouncer.ini and RELOAD",
                  pb->name, pgbouncer_where(&e, where, sizeof(where)), pb->ini, host, port, db);
        ok = false;
    }
    else if (!pgbouncer_points_at(&e, a))
    {
        char here[300];

        log_error("PgBouncer's database \"%s\" points at %s, not at the %s (%s), where memori "
                  "lives; %s",
                  pb->name, pgbouncer_where(&e, where, sizeof(where)), a_role,
                  pgconn_describe(a, here, sizeof(here)), fix);
        ok = false;
    }
    if (e.paused || e.disabled)
    {
        log_error("PgBouncer's database \"%s\" is %s: someone else is switching it; RESUME%s "
                  "it on the console (%s) first",
                  pb->name, e.paused ? "paused" : "disabled", e.paused ? "" : " and ENABLE",
                  pb->console);
        ok = false;
    }
    if (access(pb->ini, W_OK) != 0)
    {
        log_error("cannot write PgBouncer's ini file %s: %s; run the bridge as its owner or as "
                  "root",
                  pb->ini, strerror(errno));
        ok = false;
    }
    return ok;
}

/* ---- the switch ------------------------------------------------------- */

/* Server connections of the entry still in a transaction, from the spare. */
static int
busy_servers(struct pgbouncer *pb)
{
    PGresult *res = PQexec(pb->spare, "SHOW SERVERS");
    int r, n = 0, db = PQfnumber(res, "database"), state = PQfnumber(res, "state");

    if (PQresultStatus(res) == PGRES_TUPLES_OK && db >= 0 && state >= 0)
        for (r = 0; r < PQntuples(res); r++)
            n += strcmp(PQgetvalue(res, r, db), pb->name) == 0 &&
                 strcmp(PQgetvalue(res, r, state), "active") == 0;
    PQclear(res);
    return n;
}

bool
pgbouncer_pause(struct pgbouncer *pb)
{
    char cmd[320], err[512];
    int64_t deadline;
    PGresult *res, *last = NULL;
    int busy;

    if (!command(pb, "PAUSE", cmd, sizeof(cmd)))
        return false;
    pb->t_pause = clock_now_us();
    deadline = pb->t_pause + pb->timeout_ms * 1000;
    if (!PQsendQuery(pb->admin, cmd))
    {
        log_error("PgBouncer (%s) did not take \"%s\": %s", pb->console, cmd,
                  pgconn_error(pb->admin, NULL, err, sizeof(err)));
        return false;
    }
    pb->paused = true; /* from here on it may be: RESUME in any case */
    while (PQisBusy(pb->admin))
    {
        struct pollfd p = {PQsocket(pb->admin), POLLIN, 0};
        int64_t left = deadline - clock_now_us();

        if (left <= 0)
            goto timed_out;
        if (poll(&p, 1, (int) ((left + 999) / 1000)) < 0 || !PQconsumeInput(pb->admin))
            break;
    }
    while ((res = PQgetResult(pb->admin)) != NULL)
    {
        PQclear(last);
        last = res;
    }
    if (PQresultStatus(last) != PGRES_COMMAND_OK)
    {
        log_error("PgBouncer (%s) did not take \"%s\": %s", pb->console, cmd,
                  pgconn_error(pb->admin, last, err, sizeof(err)));
        PQclear(last);
        return false;
    }
    PQclear(last);
    return !failpoint_fail("pgbouncer-paused");
timed_out:
    busy = busy_servers(pb);
    /* the console waits on the PAUSE for good: RESUME from the spare, and
     * let the spare take its place */
    command(pb, "RESUME", cmd, sizeof(cmd));
    res = console(pb, pb->spare, cmd);
    if (res != NULL)
        pb->paused = false;
    PQclear(res);
    PQfinish(pb->admin);
    pb->admin = pb->spare;
    pb->spare = NULL;
    log_error("PgBouncer could not pause database \"%s\" within %.1f s: %d server connection%s "
              "still in a transaction; it is resumed; let long transactions end (SHOW SERVERS on "
              "its console names them), or raise --fence-timeout",
              pb->name, (double) pb->timeout_ms / 1000, busy, busy == 1 ? " is" : "s are");
    return false;
}

bool
pgbouncer_point(struct pgbouncer *pb, PGconn *side, const char *role)
{
    struct pgbouncer_entry e;
    char *text = file_pointing_at(pb, side), where[512], want[300];
    bool ok;
    PGresult *res;

    if (text == NULL)
        return false;
    ok = atomicfile_replace(pb->ini, "PgBouncer's ini file", text, strlen(text));
    free(text);
    if (!ok)
        return false;
    pb->moved = true;
    if (failpoint_fail("pgbouncer-written"))
        return false;
    res = console(pb, pb->admin, "RELOAD");
    if (res == NULL)
        return false;
    PQclear(res);
    if (!pgbouncer_show(pb, &e))
        return false;
    if (!pgbouncer_points_at(&e, side))
    {
        log_error("PgBouncer's database \"%s\" still points at %s after RELOAD, not at the %s "
                  "(%s); its log says why (a syntax error in %s?)",
                  pb->name, pgbouncer_where(&e, where, sizeof(where)), role,
                  pgconn_describe(side, want, sizeof(want)), pb->ini);
        return false;
    }
    return !failpoint_fail("pgbouncer-pointed");
}

bool
pgbouncer_resume(struct pgbouncer *pb)
{
    char cmd[320];
    PGresult *res;

    if (!command(pb, "RESUME", cmd, sizeof(cmd)))
        return false;
    res = console(pb, pb->admin, cmd);
    if (res == NULL)
        return false;
    PQclear(res);
    pb->paused = false;
    pb->t_resume = clock_now_us();
    return true;
}

bool
pgbouncer_put_back(struct pgbouncer *pb, PGconn *side, const char *role)
{
    struct pgbouncer_entry e;
    char where[512];
    bool ok = true;
    PGresult *res;

    if (pb->admin == NULL)
        return false;
    if (pb->moved)
    {
        ok = atomicfile_replace(pb->ini, "PgBouncer's ini file", pb->ini_before,
                                strlen(pb->ini_before));
        res = ok ? console(pb, pb->admin, "RELOAD") : NULL;
        ok = res != NULL;
        PQclear(res);
        if (ok)
            pb->moved = false;
    }
    if (pb->paused && !pgbouncer_resume(pb))
        ok = false;
    if (!pgbouncer_show(pb, &e))
        return false;
    if (!pgbouncer_points_at(&e, side) || e.paused)
    {
        log_error("PgBouncer's database \"%s\" is left %s at %s, not at the %s where memori "
                  "lives; fix: point it there in %s, RELOAD and RESUME on its console (%s)",
                  pb->name, e.paused ? "paused" : "pointing",
                  pgbouncer_where(&e, where, sizeof(where)), role, pb->ini, pb->console);
        return false;
    }
    return ok;
}
