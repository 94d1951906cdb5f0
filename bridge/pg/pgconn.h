/*
 * pgconn.h - connections to the source and the target, with the session
 * settings pinned, and the classification of their failures.
 *
 * wal2json writes values with the source session's output settings and the
 * target parses them with its own, so every connection the bridge opens sets
 * the same ones (DESIGN, terrain): datestyle ISO, intervalstyle postgres,
 * extra_float_digits 3, bytea_output hex, client_encoding UTF8, and timezone
 * UTC (which changes no value, only how timestamptz is spelled). They go in
 * the startup packet, after whatever the DSN or PGOPTIONS ask for, so they
 * win over both.
 */
#ifndef MB_PGCONN_H
#define MB_PGCONN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <libpq-fe.h>

/* The session settings every connection pins (the -c options). */
#define PGCONN_PINNED_OPTIONS                                                              \
    "-c datestyle=ISO -c intervalstyle=postgres -c extra_float_digits=3 "                  \
    "-c bytea_output=hex -c timezone=UTC"

enum pgconn_kind
{
    PGCONN_SQL = 0,     /* a normal session */
    PGCONN_REPLICATION, /* replication=database: replication commands and SQL */
};

/* How a failure should be handled. */
enum pgconn_failure
{
    PGCONN_FATAL = 0, /* retrying cannot help: stop and say why */
    PGCONN_TRANSIENT, /* the connection or the server went away: reconnect */
    PGCONN_BUSY,      /* the slot or origin is in use by another process: wait a
                       * little (a killed bridge's server process may still hold
                       * it for a moment), then give up */
};

/*
 * The peer timeout of every connection opened from now on (peer.h):
 * keepalives=1, keepalives_idle, keepalives_interval and keepalives_count that
 * find an idle dead link after MS, and tcp_user_timeout=MS, each unless the
 * DSN sets it. 0 (the default) sets none.
 */
void pgconn_set_peer_timeout(int64_t ms);

/*
 * Connect to DSN as the ROLE ("source" or "target", for messages) with the
 * pinned settings, application_name APPNAME, and CONNECT_TIMEOUT_MS unless
 * the DSN sets connect_timeout. On success returns the connection (the caller
 * owns it: PQfinish). On failure logs one line that names the side, the
 * server (host, port, database, user; never the password) and the fix, sets
 * *FAILURE (when not NULL), and returns NULL.
 */
PGconn *pgconn_open(const char *dsn, const char *role, enum pgconn_kind kind, const char *appname,
                    int64_t connect_timeout_ms, enum pgconn_failure *failure);

/* Connect as pgconn_open does, but quietly: on failure returns NULL with the
 * reason in ERR ("(host=... port=... dbname=... user=...): message; hint", or
 * what is wrong with DSN), for checks that report it their own way. */
PGconn *pgconn_try(const char *dsn, enum pgconn_kind kind, const char *appname,
                   int64_t connect_timeout_ms, char *err, size_t errlen);

/* Log the server notices of CONN as pgconn_open does, as the ROLE's. */
void pgconn_notices(PGconn *conn, const char *role);

/* Whether DSN parses as a connection string. If not, false with the reason
 * in ERR (no password in it): a setting that is not valid, found before any
 * command connects. */
bool pgconn_dsn_ok(const char *dsn, char *err, size_t errlen);

/* "host=127.0.0.1 port=5433 dbname=memori user=bridge" of CONN into BUF. */
char *pgconn_describe(PGconn *conn, char *buf, size_t len);

/* Classify a failed RESULT (may be NULL) on CONN: a lost connection, a server
 * shutting down or starting up, a deadlock or serialization failure are
 * transient; anything else is fatal. */
enum pgconn_failure pgconn_classify(PGconn *conn, const PGresult *result);

/* The SQLSTATE of RESULT, or "" when it has none. */
const char *pgconn_sqlstate(const PGresult *result);

/* The first line of the error of RESULT (or of CONN when RESULT is NULL),
 * without the "ERROR:  " prefix, and its DETAIL when there is one, as
 * "message (detail)", into BUF. Returns BUF. */
char *pgconn_error(PGconn *conn, const PGresult *result, char *buf, size_t len);

/* Run SQL with PARAMS (text, NPARAMS of them) on CONN and return the result
 * when it is COMMAND_OK or TUPLES_OK; otherwise log "WHAT: error" and return
 * NULL (setting *FAILURE when not NULL). The caller PQclears the result. */
PGresult *pgconn_exec(PGconn *conn, const char *what, const char *sql, int nparams,
                      const char *const *params, enum pgconn_failure *failure);

/* Run SQL, which may hold several statements (the simple protocol, no
 * parameters), on CONN. Returns true when it completed; otherwise logs
 * "WHAT: error" and returns false. */
bool pgconn_script(PGconn *conn, const char *what, const char *sql);

/* Quote NAME as an SQL identifier into BUF (LEN bytes), as quote_ident does
 * for names that need it. Returns false when it does not fit. */
bool pgconn_quote_ident(const char *name, char *buf, size_t len);

#endif
