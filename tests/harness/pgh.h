/*
 * pgh.h: throwaway PostgreSQL clusters for tests, over the tests/harness/pgh script.
 *
 * pgh_start() runs "pgh start --count N --owner <this pid>" and fills a caller-owned
 * struct pgh_set with the clusters it started: each listens on 127.0.0.1 on a free
 * port, user "postgres" logs in over TCP with a password (scram-sha-256) and over
 * its unix socket without one. pgh_stop() stops the clusters and removes their
 * directory.
 *
 * A test that forgets pgh_stop(), fails, is interrupted or crashes leaves nothing
 * behind: pgh_start() registers an atexit handler and SIGINT/SIGTERM/SIGHUP
 * handlers that stop every set this process started, and the script's watchdog
 * stops a set once its owner process is gone (SIGSEGV, SIGKILL). Handlers act only
 * in the process that started the set, never in a forked child.
 *
 * The script is $MB_PGH, else the PGH_SCRIPT path compiled in. Clusters live under
 * $MB_HARNESS_BASE (see the script). Not thread-safe: call from one thread.
 */
#ifndef PGH_H
#define PGH_H

#include <stdbool.h>
#include <stddef.h>

#include <libpq-fe.h>

#define PGH_MAX_CLUSTERS 8

/* One running cluster. Plain data: copy it freely. */
struct pgh_cluster
{
    int port;          /* TCP port on 127.0.0.1 */
    char datadir[256]; /* data directory (owned by the cluster's system user) */
    char sockdir[256]; /* unix socket directory (local connections: trust) */
    char dsn[512];     /* key=value connection string, dbname=postgres, password included */
    char password[64]; /* password of user "postgres" over TCP */
    char bindir[256];  /* server binaries it runs (pgh_psql_file takes psql from here) */
};

/* A set of clusters started together. The caller owns the struct (stack or static);
 * the clusters it names belong to it until pgh_stop(). */
struct pgh_set
{
    char dir[256]; /* set directory under $MB_HARNESS_BASE; empty when stopped */
    int count;     /* number of clusters in c[] */
    struct pgh_cluster c[PGH_MAX_CLUSTERS]; /* c[0] .. c[count - 1] */
};

/* Start COUNT (1..PGH_MAX_CLUSTERS) clusters and fill *SET. On success returns true;
 * the clusters run until pgh_stop(SET) or the end of this process. On failure
 * returns false, leaves nothing running, and writes a one-line reason into ERR
 * (ERRLEN bytes); the script's own reason is on stderr. */
bool pgh_start(struct pgh_set *set, int count, char *err, size_t errlen);

/* Stop every cluster of SET and remove its directory. Idempotent: a stopped or
 * never-started set (dir empty) is left alone. Failures are printed on stderr. */
void pgh_stop(struct pgh_set *set);

/* Write into BUF (LEN bytes) the connection string of cluster C for database
 * DBNAME (NULL: "postgres"), password included. Returns BUF, or NULL when it does
 * not fit. */
char *pgh_dsn(const struct pgh_cluster *c, const char *dbname, char *buf, size_t len);

/* Connect over TCP to database DBNAME (NULL: "postgres") of cluster C. Returns the
 * connection, which the caller owns and must PQfinish(); on failure returns NULL
 * and prints the reason on stderr. */
PGconn *pgh_connect(const struct pgh_cluster *c, const char *dbname);

/* Run SQL (one or more statements) on CONN. Returns true when it completed
 * (command or tuples ok); otherwise prints the error and the statement on stderr
 * and returns false. */
bool pgh_exec(PGconn *conn, const char *sql);

/* Run SQL on CONN and copy the first column of the first row into BUF (LEN bytes);
 * an SQL NULL gives "". Returns BUF; returns NULL and prints why on stderr when the
 * query fails, returns no row or column, or the value does not fit. */
char *pgh_query_value(PGconn *conn, const char *sql, char *buf, size_t len);

/* Run the SQL file PATH on database DBNAME (NULL: "postgres") of cluster C with
 * psql -X -v ON_ERROR_STOP=1 -q -f, over TCP (the password travels in the
 * environment, not on the command line). psql's messages go to stderr. Returns
 * true when psql exits with status 0. */
bool pgh_psql_file(const struct pgh_cluster *c, const char *dbname, const char *path);

#endif /* PGH_H */
