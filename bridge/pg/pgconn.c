/*
 * pgconn.c - connecting with pinned settings, and naming what went wrong.
 */
#include "bridge/pg/pgconn.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bridge/base/log.h"
#include "bridge/base/secret.h"

/* The peer timeout of new connections (pgconn_set_peer_timeout), 0: none. */
static int64_t peer_timeout_ms;

void
pgconn_set_peer_timeout(int64_t ms)
{
    peer_timeout_ms = ms;
}

/* The fix when a connection pooler answers instead of PostgreSQL. */
#define DIRECT_CONNECTION                                                                          \
    "use the direct connection to PostgreSQL (hosted Supabase: db.<project>.supabase.co "          \
    "port 5432, not the pooler on port 6543)"

/* The value of KEYWORD in the parsed DSN, or NULL. */
static const char *
option_value(PQconninfoOption *opts, const char *keyword)
{
    for (; opts != NULL && opts->keyword != NULL; opts++)
        if (strcmp(opts->keyword, keyword) == 0)
            return opts->val;
    return NULL;
}

/* "\"PATH\"" of connection option KEYWORD of CONN into BUF, or "not set". */
static const char *
conn_option(PGconn *conn, const char *keyword, char *buf, size_t len)
{
    PQconninfoOption *opts = PQconninfo(conn);
    const char *v = option_value(opts, keyword);

    if (v != NULL && *v != '\0')
        snprintf(buf, len, "\"%s\"", v);
    else
        snprintf(buf, len, "not set");
    PQconninfoFree(opts);
    return buf;
}

char *
pgconn_describe(PGconn *conn, char *buf, size_t len)
{
    const char *host = PQhost(conn), *port = PQport(conn), *db = PQdb(conn),
               *user = PQuser(conn);

    snprintf(buf, len, "host=%s port=%s dbname=%s user=%s", host && *host ? host : "(default)",
             port && *port ? port : "5432", db ? db : "", user ? user : "");
    return buf;
}

/* One line of a libpq connection error, with a hint for the usual causes,
 * into BUF: "message; hint". */
static void
connect_failure(PGconn *conn, char *buf, size_t len, enum pgconn_failure *failure)
{
    char msg[1024], fix[640], rootcert[300];
    const char *hint = NULL;
    enum pgconn_failure f = PGCONN_FATAL;

    /* libpq 15 may report several attempts, each with indented hint lines
     * and DETAIL lines: keep the last line that is the message itself. An
     * attempt's own line starts "connection to server"; the lines after it
     * add libpq's advice ("Either provide the file or change sslmode ..."),
     * which the hints below replace */
    {
        const char *all = PQerrorMessage(conn), *line = all, *best = all;
        size_t best_len = strcspn(all, "\n");
        bool attempt = false;

        while (*line != '\0')
        {
            size_t n = strcspn(line, "\n");
            bool is_attempt = strncmp(line, "connection to server ", 21) == 0;

            if (n > 0 && line[0] != '\t' && strncmp(line, "DETAIL:", 7) != 0 &&
                strncmp(line, "HINT:", 5) != 0 && (is_attempt || !attempt))
            {
                best = line;
                best_len = n;
                attempt = attempt || is_attempt;
            }
            line += n + (line[n] == '\n');
        }
        snprintf(msg, sizeof(msg), "%.*s", (int) best_len, best);
    }
    if (strncmp(msg, "connection to server at ", 24) == 0 && strstr(msg, "failed: ") != NULL)
        memmove(msg, strstr(msg, "failed: ") + 8, strlen(strstr(msg, "failed: ") + 8) + 1);
    if (strncmp(msg, "FATAL:  ", 8) == 0)
        memmove(msg, msg + 8, strlen(msg + 8) + 1);
    /* the message proper is one line; its DETAIL (recovery state, say) adds nothing */
    if (strstr(msg, "password authentication failed") != NULL ||
        strstr(msg, "no password supplied") != NULL)
        hint = "check the password in the connection string, PGPASSWORD or ~/.pgpass";
    else if (strstr(msg, "Connection refused") != NULL ||
             strstr(msg, "could not translate host name") != NULL ||
             strstr(msg, "timeout expired") != NULL || strstr(msg, "No route to host") != NULL ||
             strstr(msg, "Network is unreachable") != NULL ||
             strstr(msg, "Connection reset by peer") != NULL ||
             strstr(msg, "Connection timed out") != NULL ||
             strstr(msg, "server closed the connection unexpectedly") != NULL)
    {
        /* nobody answers, or the link broke while logging in: both may pass */
        hint = "is the server running there and accepting TCP connections? check host and port";
        f = PGCONN_TRANSIENT;
    }
    else if (strstr(msg, "the database system is") != NULL)
    {
        hint = "the server is starting up or shutting down; try again shortly";
        f = PGCONN_TRANSIENT;
    }
    else if ((strstr(msg, "no pg_hba.conf entry") != NULL ||
              strstr(msg, "pg_hba.conf rejects connection") != NULL) &&
             strstr(msg, "no encryption") != NULL)
        hint = "the server takes connections from here only over TLS: set sslmode=verify-full "
               "and sslrootcert (or at least sslmode=require) in the connection string";
    else if (strstr(msg, "no pg_hba.conf entry") != NULL)
        hint = "allow this client in the server's pg_hba.conf, then reload it";
    else if (strstr(msg, "pg_hba.conf rejects connection") != NULL)
        hint = "the server's pg_hba.conf refuses this client: allow it there, above the line "
               "that rejects it, then reload it";
    else if (strstr(msg, "certificate verify failed") != NULL)
    {
        snprintf(fix, sizeof(fix),
                 "check sslrootcert (%s): it must hold the CA that signed the server's "
                 "certificate (hosted Supabase: the CA certificate of the project's database "
                 "settings), and that certificate must not have expired",
                 conn_option(conn, "sslrootcert", rootcert, sizeof(rootcert)));
        hint = fix;
    }
    else if (strstr(msg, "does not match host name") != NULL)
        hint = "connect with a host name that the server's certificate lists, or give the server "
               "a certificate for this name";
    else if (strstr(msg, "root certificate file") != NULL)
        hint = "set sslrootcert to the file of the CA that signed the server's certificate "
               "(hosted Supabase: download it from the project's database settings)";
    else if (strstr(msg, "server does not support SSL") != NULL)
        hint = "turn TLS on at the server (ssl = on, with ssl_cert_file and ssl_key_file), or "
               "check that host and port reach PostgreSQL itself";
    /* PgBouncer refuses what it cannot pool: replication=database, or the
     * options that pin the session settings */
    else if (strstr(msg, "unsupported startup parameter: replication") != NULL)
        hint = "a connection pooler answers there (PgBouncer, Supavisor), and a pooler cannot "
               "carry replication: " DIRECT_CONNECTION;
    else if (strstr(msg, "unsupported startup parameter") != NULL)
        hint = "a connection pooler answers there (PgBouncer, Supavisor), and the bridge needs "
               "sessions of its own: " DIRECT_CONNECTION;
    else if (strstr(msg, "does not exist") != NULL)
        hint = "check the database and user names in the connection string";
    else if (strstr(msg, "must be superuser or replication role") != NULL ||
             strstr(msg, "permission denied to start WAL sender") != NULL ||
             strstr(msg, "must have the REPLICATION attribute") != NULL)
    {
        snprintf(fix, sizeof(fix),
                 "fix, as a superuser (on a local Supabase: supabase_admin): ALTER ROLE \"%s\" "
                 "WITH REPLICATION",
                 PQuser(conn) ? PQuser(conn) : "");
        hint = fix;
    }
    if (hint != NULL)
        snprintf(buf, len, "%s; %s", msg, hint);
    else
        snprintf(buf, len, "%s", msg);
    if (failure != NULL)
        *failure = f;
}

/* Server notices (a WARNING at shutdown, say) go through the log like any
 * other line: one line, prefixed with the side, secrets masked. */
static void
notice_to_log(void *arg, const char *message)
{
    char line[1024];
    size_t n;

    if (strncmp(message, "WARNING:  ", 10) == 0)
        message += 10;
    else if (strncmp(message, "NOTICE:  ", 9) == 0)
        message += 9;
    snprintf(line, sizeof(line), "%s", message);
    n = strlen(line);
    while (n > 0 && line[n - 1] == '\n')
        line[--n] = '\0';
    log_warning("the %s says: %s", (const char *) arg, line);
}

/* Connect to DSN; on failure NULL, with the reason in ERR ("(where): message;
 * hint"). */
/* Parse DSN as libpq would. NULL when it does not parse, with the reason in
 * ERR (no password in it) and the URI hint where it applies. */
static PQconninfoOption *
parse_dsn(const char *dsn, char *err, size_t errlen)
{
    PQconninfoOption *opts;
    char *errmsg = NULL;
    char *nl;

    opts = PQconninfoParse(dsn, &errmsg);
    if (opts != NULL)
        return opts;
    /* libpq's reason names the syntax problem, and may quote a piece of
     * the string that holds the password, or all of it */
    snprintf(err, errlen, "connection string is not valid: %s", errmsg ? errmsg : "out of memory");
    if ((nl = strchr(err, '\n')) != NULL)
        *nl = '\0';
    secret_mask_echo(dsn, err, errlen);
    /* the decision record's ?options=-c search_path=memori,public */
    if (errmsg != NULL && strstr(errmsg, "extra key/value separator") != NULL)
        snprintf(err + strlen(err), errlen - strlen(err),
                 "; percent-encode the value in a URI: "
                 "?options=-c%%20search_path%%3Dmemori%%2Cpublic");
    PQfreemem(errmsg);
    return NULL;
}

bool
pgconn_dsn_ok(const char *dsn, char *err, size_t errlen)
{
    PQconninfoOption *opts = parse_dsn(dsn, err, errlen);

    if (opts == NULL)
        return false;
    PQconninfoFree(opts);
    return true;
}

static PGconn *
connect_dsn(const char *dsn, enum pgconn_kind kind, const char *appname,
            int64_t connect_timeout_ms, char *err, size_t errlen, enum pgconn_failure *failure)
{
    const char *keywords[16], *values[16];
    PQconninfoOption *opts;
    char options[1024], timeout[32], where[512], why[1800], peer[4][24];
    const char *user_options;
    PGconn *conn;
    int n = 0;

    if (failure != NULL)
        *failure = PGCONN_FATAL;
    opts = parse_dsn(dsn, err, errlen);
    if (opts == NULL)
        return NULL;
    /* the DSN's own options (or PGOPTIONS), then ours, which win */
    user_options = option_value(opts, "options");
    if (user_options == NULL || *user_options == '\0')
        user_options = getenv("PGOPTIONS");
    snprintf(options, sizeof(options), "%s%s%s", user_options ? user_options : "",
             user_options && *user_options ? " " : "", PGCONN_PINNED_OPTIONS);

    keywords[n] = "dbname";
    values[n++] = dsn;
    keywords[n] = "options";
    values[n++] = options;
    keywords[n] = "client_encoding";
    values[n++] = "UTF8";
    keywords[n] = "fallback_application_name";
    values[n++] = appname;
    if (option_value(opts, "connect_timeout") == NULL && getenv("PGCONNECT_TIMEOUT") == NULL)
    {
        snprintf(timeout, sizeof(timeout), "%lld",
                 (long long) ((connect_timeout_ms + 999) / 1000));
        keywords[n] = "connect_timeout";
        values[n++] = timeout;
    }
    if (peer_timeout_ms > 0)
    {
        /* keepalives find an idle dead link after the peer timeout (idle T/2,
         * then 3 probes T/6 apart); tcp_user_timeout ends a connection whose
         * data stays unacknowledged that long (peer.h) */
        int64_t t = peer_timeout_ms;
        long long idle = (long long) (t / 2000), interval = (long long) (t / 6000);
        static const char *const names[4] = {"keepalives_idle", "keepalives_interval",
                                             "keepalives_count", "tcp_user_timeout"};
        int k;

        snprintf(peer[0], sizeof(peer[0]), "%lld", idle > 0 ? idle : 1);
        snprintf(peer[1], sizeof(peer[1]), "%lld", interval > 0 ? interval : 1);
        snprintf(peer[2], sizeof(peer[2]), "3");
        snprintf(peer[3], sizeof(peer[3]), "%lld", (long long) t);
        if (option_value(opts, "keepalives") == NULL)
        {
            keywords[n] = "keepalives";
            values[n++] = "1";
        }
        for (k = 0; k < 4; k++)
            if (option_value(opts, names[k]) == NULL)
            {
                keywords[n] = names[k];
                values[n++] = peer[k];
            }
    }
    if (kind == PGCONN_REPLICATION)
    {
        keywords[n] = "replication";
        values[n++] = "database";
    }
    keywords[n] = NULL;
    values[n] = NULL;
    PQconninfoFree(opts);

    conn = PQconnectdbParams(keywords, values, 1);
    if (conn == NULL)
    {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    if (PQstatus(conn) != CONNECTION_OK)
    {
        connect_failure(conn, why, sizeof(why), failure);
        snprintf(err, errlen, "(%s): %s", pgconn_describe(conn, where, sizeof(where)), why);
        PQfinish(conn);
        return NULL;
    }
    return conn;
}

PGconn *
pgconn_open(const char *dsn, const char *role, enum pgconn_kind kind, const char *appname,
            int64_t connect_timeout_ms, enum pgconn_failure *failure)
{
    char err[2600];
    PGconn *conn = connect_dsn(dsn, kind, appname, connect_timeout_ms, err, sizeof(err), failure);

    if (conn == NULL)
    {
        if (err[0] == '(')
            log_error("could not connect to the %s %s", role, err);
        else
            log_error("the %s %s", role, err);
        return NULL;
    }
    pgconn_notices(conn, role);
    return conn;
}

void
pgconn_notices(PGconn *conn, const char *role)
{
    PQsetNoticeProcessor(conn, notice_to_log,
                         (void *) (strcmp(role, "source") == 0 ? "source" : "target"));
}

PGconn *
pgconn_try(const char *dsn, enum pgconn_kind kind, const char *appname,
           int64_t connect_timeout_ms, char *err, size_t errlen)
{
    return connect_dsn(dsn, kind, appname, connect_timeout_ms, err, errlen, NULL);
}

const char *
pgconn_sqlstate(const PGresult *result)
{
    const char *s = result ? PQresultErrorField(result, PG_DIAG_SQLSTATE) : NULL;

    return s ? s : "";
}

enum pgconn_failure
pgconn_classify(PGconn *conn, const PGresult *result)
{
    const char *state = pgconn_sqlstate(result);

    if (conn == NULL || PQstatus(conn) != CONNECTION_OK)
        return PGCONN_TRANSIENT;
    if (strncmp(state, "08", 2) == 0 ||      /* connection exception */
        strcmp(state, "57P01") == 0 ||       /* admin shutdown */
        strcmp(state, "57P02") == 0 ||       /* crash shutdown */
        strcmp(state, "57P03") == 0 ||       /* cannot connect now */
        strcmp(state, "40001") == 0 ||       /* serialization failure */
        strcmp(state, "40P01") == 0 ||       /* deadlock detected */
        strcmp(state, "55P03") == 0 ||       /* lock not available */
        strcmp(state, "53300") == 0)         /* too many connections */
        return PGCONN_TRANSIENT;
    return PGCONN_FATAL;
}

char *
pgconn_error(PGconn *conn, const PGresult *result, char *buf, size_t len)
{
    const char *primary = result ? PQresultErrorField(result, PG_DIAG_MESSAGE_PRIMARY) : NULL;
    const char *detail = result ? PQresultErrorField(result, PG_DIAG_MESSAGE_DETAIL) : NULL;
    char *nl;

    if (primary == NULL)
    {
        const char *m = result ? PQresultErrorMessage(result) : "";

        if (m == NULL || *m == '\0')
            m = conn ? PQerrorMessage(conn) : "unknown error";
        if (strncmp(m, "ERROR:  ", 8) == 0 || strncmp(m, "FATAL:  ", 8) == 0)
            m += 8;
        snprintf(buf, len, "%s", m);
    }
    else if (detail != NULL)
        snprintf(buf, len, "%s (%s)", primary, detail);
    else
        snprintf(buf, len, "%s", primary);
    /* one line: libpq's "\n\t" continuations become one space */
    for (nl = buf; *nl != '\0'; nl++)
        if (*nl == '\n' || *nl == '\t')
            *nl = ' ';
    {
        char *r = buf, *w = buf;

        for (; *r != '\0'; r++)
            if (!(*r == ' ' && (w == buf || w[-1] == ' ')))
                *w++ = *r;
        while (w > buf && w[-1] == ' ')
            w--;
        *w = '\0';
    }
    if (buf[0] == '\0')
        snprintf(buf, len, "%s", "the connection was lost");
    return buf;
}

PGresult *
pgconn_exec(PGconn *conn, const char *what, const char *sql, int nparams,
            const char *const *params, enum pgconn_failure *failure)
{
    PGresult *res = PQexecParams(conn, sql, nparams, NULL, params, NULL, NULL, 0);
    ExecStatusType st = res ? PQresultStatus(res) : PGRES_FATAL_ERROR;
    char msg[1024];

    if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK)
        return res;
    log_error("%s: %s", what, pgconn_error(conn, res, msg, sizeof(msg)));
    if (failure != NULL)
        *failure = pgconn_classify(conn, res);
    PQclear(res);
    return NULL;
}

bool
pgconn_script(PGconn *conn, const char *what, const char *sql)
{
    PGresult *res = PQexec(conn, sql);
    ExecStatusType st = PQresultStatus(res);
    char msg[1024];

    if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK)
    {
        PQclear(res);
        return true;
    }
    log_error("%s: %s", what, pgconn_error(conn, res, msg, sizeof(msg)));
    PQclear(res);
    return false;
}

bool
pgconn_quote_ident(const char *name, char *buf, size_t len)
{
    size_t n = 0;
    const char *p;

    if (len < 3)
        return false;
    buf[n++] = '"';
    for (p = name; *p != '\0'; p++)
    {
        if (n + 3 > len)
            return false;
        if (*p == '"')
            buf[n++] = '"';
        buf[n++] = *p;
    }
    if (n + 2 > len)
        return false;
    buf[n++] = '"';
    buf[n] = '\0';
    return true;
}
