/*
 * peer.c - guards on libpq calls, probes of a silent connection's server
 * process, and ending the bridge's own stale server processes.
 *
 * The guards share one thread, started on first use, which sleeps until the
 * earliest deadline. It shuts a socket down while it holds the table's lock,
 * and a guard is removed under that lock before its connection is closed, so
 * that it can never shut a descriptor that has been closed and reused since.
 */
#include "bridge/pg/peer.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "bridge/base/clock.h"
#include "bridge/base/log.h"
#include "bridge/pg/pgconn.h"

#define MAX_GUARDS 64

struct guard
{
    PGconn *conn;              /* borrowed; NULL: a free entry */
    int fd;                    /* its socket when guarded */
    int64_t deadline;          /* monotonic microseconds */
    void (*on_expire)(void *); /* may be NULL */
    void *arg;
    bool expired;
};

static struct
{
    pthread_once_t once;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool running; /* the thread started */
    struct guard g[MAX_GUARDS];
} guards = {.once = PTHREAD_ONCE_INIT, .mu = PTHREAD_MUTEX_INITIALIZER};

static void *
watch(void *unused)
{
    (void) unused;
    pthread_mutex_lock(&guards.mu);
    for (;;)
    {
        int64_t now = clock_now_us(), next = 0;
        int i;

        for (i = 0; i < MAX_GUARDS; i++)
        {
            struct guard *g = &guards.g[i];

            if (g->conn == NULL || g->expired)
                continue;
            if (g->deadline <= now)
            {
                if (g->on_expire != NULL)
                    g->on_expire(g->arg);
                shutdown(g->fd, SHUT_RDWR);
                g->expired = true;
            }
            else if (next == 0 || g->deadline < next)
                next = g->deadline;
        }
        if (next == 0)
            pthread_cond_wait(&guards.cv, &guards.mu);
        else
        {
            struct timespec ts = {(time_t) (next / 1000000), (long) (next % 1000000) * 1000};

            pthread_cond_timedwait(&guards.cv, &guards.mu, &ts);
        }
    }
    return NULL;
}

static void
start_watch(void)
{
    pthread_condattr_t attr;
    pthread_attr_t tattr;
    pthread_t t;

    /* deadlines are monotonic (clock_now_us): the wait must be too */
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&guards.cv, &attr);
    pthread_condattr_destroy(&attr);
    pthread_attr_init(&tattr);
    pthread_attr_setdetachstate(&tattr, PTHREAD_CREATE_DETACHED);
    guards.running = pthread_create(&t, &tattr, watch, NULL) == 0;
    pthread_attr_destroy(&tattr);
    if (!guards.running)
        log_warning("could not start the connection guard: %s; a silent peer may hold a call "
                    "until TCP gives up",
                    strerror(errno));
}

void
peer_guard(PGconn *conn, int64_t within_ms, void (*on_expire)(void *), void *arg)
{
    struct guard *free_g = NULL;
    int i;

    if (conn == NULL || PQsocket(conn) < 0)
        return;
    pthread_once(&guards.once, start_watch);
    if (!guards.running)
        return;
    pthread_mutex_lock(&guards.mu);
    for (i = 0; i < MAX_GUARDS; i++)
    {
        if (guards.g[i].conn == conn)
        {
            free_g = &guards.g[i];
            break;
        }
        if (guards.g[i].conn == NULL && free_g == NULL)
            free_g = &guards.g[i];
    }
    if (free_g != NULL)
    {
        *free_g = (struct guard){conn, PQsocket(conn), clock_now_us() + within_ms * 1000, on_expire,
                                 arg,  false};
        pthread_cond_signal(&guards.cv);
    }
    pthread_mutex_unlock(&guards.mu);
}

bool
peer_unguard(PGconn *conn)
{
    bool expired = false;
    int i;

    if (conn == NULL || !guards.running)
        return false;
    pthread_mutex_lock(&guards.mu);
    for (i = 0; i < MAX_GUARDS; i++)
        if (guards.g[i].conn == conn)
        {
            expired = guards.g[i].expired;
            memset(&guards.g[i], 0, sizeof(guards.g[i]));
        }
    pthread_mutex_unlock(&guards.mu);
    return expired;
}

void
peer_close(PGconn *conn)
{
    if (conn == NULL)
        return;
    peer_unguard(conn);
    /* PQfinish sends a goodbye; non-blocking, a full socket drops it */
    PQsetnonblocking(conn, 1);
    PQfinish(conn);
}

enum peer_state
peer_probe(const char *dsn, int pid, int64_t within_ms, char *why, size_t len)
{
    int64_t start = clock_now_us(), left;
    char err[1024], pidtext[16];
    const char *params[1] = {pidtext};
    enum peer_state state = PEER_UNREACHABLE;
    PGconn *conn;
    PGresult *res;

    conn = pgconn_try(dsn, PGCONN_SQL, "memori-bridge probe", within_ms, err, sizeof(err));
    if (conn == NULL)
    {
        snprintf(why, len, "no answer from its server on a new connection either: %s", err);
        return PEER_UNREACHABLE;
    }
    left = within_ms - (clock_now_us() - start) / 1000;
    peer_guard(conn, left > 1000 ? left : 1000, NULL, NULL);
    snprintf(pidtext, sizeof(pidtext), "%d", pid);
    res = PQexecParams(conn,
                       "SELECT state, coalesce(wait_event_type, ''), coalesce(wait_event, '') "
                       "FROM pg_catalog.pg_stat_activity WHERE pid = $1::int",
                       1, NULL, params, NULL, NULL, 0);
    if (PQresultStatus(res) != PGRES_TUPLES_OK)
        snprintf(why, len, "no answer from its server on a new connection either: %s",
                 pgconn_error(conn, res, err, sizeof(err)));
    else if (PQntuples(res) == 0)
    {
        snprintf(why, len, "its server process (PID %d) is gone", pid);
        state = PEER_GONE;
    }
    else
    {
        const char *st = PQgetvalue(res, 0, 0), *type = PQgetvalue(res, 0, 1),
                   *event = PQgetvalue(res, 0, 2);

        /* waiting on the client (Client: ClientRead, ClientWrite,
         * WalSenderWaitForWAL, WalSenderWriteData) or idle (Activity, a state
         * other than active) is waiting on this side */
        if (strcmp(st, "active") == 0 && strcmp(type, "Client") != 0 &&
            strcmp(type, "Activity") != 0)
        {
            snprintf(why, len, "its server process (PID %d) is working (%s%s%s)", pid,
                     *type ? type : "on the CPU", *event ? ": " : "", event);
            state = PEER_BUSY;
        }
        else
        {
            snprintf(why, len, "its server process (PID %d) waits for this side (%s)", pid,
                     *event ? event : st);
            state = PEER_WAITING;
        }
    }
    PQclear(res);
    peer_close(conn);
    return state;
}

bool
peer_end_backend(PGconn *conn, int pid, int64_t started_ago_ms)
{
    char pidtext[16], ago[24];
    const char *params[2] = {pidtext, ago};
    bool gone = false;
    int i;

    snprintf(pidtext, sizeof(pidtext), "%d", pid);
    snprintf(ago, sizeof(ago), "%lld", (long long) started_ago_ms);
    peer_guard(conn, 10000, NULL, NULL);
    /* a process that is blocked sending to the dead link when told to end
     * blocks again sending its goodbye: the second signal ends that */
    for (i = 0; i < 50 && !gone; i++)
    {
        PGresult *res;
        struct timespec ts = {0, 100000000};

        if (i % 10 == 0)
        {
            res = PQexecParams(conn,
                               "SELECT pg_catalog.pg_terminate_backend(a.pid) "
                               "FROM pg_catalog.pg_stat_activity a WHERE a.pid = $1::int "
                               "AND a.usename = current_user AND a.backend_start <= "
                               "pg_catalog.now() - $2::bigint * interval '1 ms'",
                               2, NULL, params, NULL, NULL, 0);
            if (PQresultStatus(res) != PGRES_TUPLES_OK ||
                (i == 0 && (PQntuples(res) != 1 || PQgetvalue(res, 0, 0)[0] != 't')))
            {
                PQclear(res);
                break; /* not one of ours, or gone already */
            }
            PQclear(res);
        }
        nanosleep(&ts, NULL);
        res = PQexecParams(conn,
                           "SELECT NOT EXISTS (SELECT FROM pg_catalog.pg_stat_activity a "
                           "WHERE a.pid = $1::int AND a.backend_start <= pg_catalog.now() - "
                           "$2::bigint * interval '1 ms')",
                           2, NULL, params, NULL, NULL, 0);
        gone = PQresultStatus(res) == PGRES_TUPLES_OK && PQgetvalue(res, 0, 0)[0] == 't';
        PQclear(res);
    }
    peer_unguard(conn);
    return gone;
}
