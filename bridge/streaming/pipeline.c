/*
 * pipeline.c - sending and reading back in libpq's pipeline mode.
 *
 * libpq's rules (libpq docs, "Pipeline Mode"): each query's result is
 * followed by a NULL from PQgetResult; after an error every later query up to
 * the next sync gives PGRES_PIPELINE_ABORTED (and a NULL); the sync gives
 * PGRES_PIPELINE_SYNC with no NULL after it. The server holds results back
 * until a sync or a flush request, so before waiting for a result this sends
 * a flush request if queries went out since the last one.
 */
#include "bridge/streaming/pipeline.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "bridge/base/clock.h"
#include "bridge/base/log.h"
#include "bridge/pg/peer.h"
#include "bridge/pg/pgconn.h"

#define TEXTARRAYOID 1009

bool
pl_init(struct pipeline *p, PGconn *conn, unsigned cap)
{
    memset(p, 0, sizeof(*p));
    p->conn = conn;
    p->q = calloc(cap, sizeof(struct pl_entry));
    if (p->q == NULL)
    {
        log_error("out of memory");
        return false;
    }
    p->cap = cap;
    if (PQsetnonblocking(conn, 1) != 0 || PQenterPipelineMode(conn) != 1)
    {
        log_error("could not enter pipeline mode on the target: %s", PQerrorMessage(conn));
        return false;
    }
    return true;
}

void
pl_set_peer(struct pipeline *p, const char *dsn, const char *role, int64_t peer_timeout_ms)
{
    p->dsn = dsn;
    p->role = role;
    p->peer_us = peer_timeout_ms * 1000;
}

void
pl_free(struct pipeline *p)
{
    free(p->q);
    memset(p, 0, sizeof(*p));
}

void
pl_reset_failure(struct pipeline *p)
{
    p->failed = false;
    p->transient = false;
    p->mismatch = false;
    p->touched = 0;
    p->state[0] = '\0';
    p->message[0] = '\0';
}

static bool
lost(struct pipeline *p)
{
    if (!p->failed)
    {
        p->failed = true;
        p->transient = true;
        memset(&p->fail, 0, sizeof(p->fail));
        p->fail.kind = PL_OTHER;
        pgconn_error(p->conn, NULL, p->message, sizeof(p->message));
    }
    return false; /* the applier reports it */
}

static void
record(struct pipeline *p, const struct pl_entry *e, const PGresult *res)
{
    if (p->failed)
        return;
    p->failed = true;
    p->fail = *e;
    snprintf(p->state, sizeof(p->state), "%s", pgconn_sqlstate(res));
    pgconn_error(p->conn, res, p->message, sizeof(p->message));
    p->transient = pgconn_classify(p->conn, res) == PGCONN_TRANSIENT;
}

static void
on_result(struct pipeline *p, PGresult *res)
{
    ExecStatusType s = PQresultStatus(res);
    struct pl_entry *e;

    if (p->len == 0)
    {
        /* a result nobody asked for: keep the first as the failure */
        if (s == PGRES_FATAL_ERROR)
        {
            struct pl_entry none = {.kind = PL_OTHER};

            record(p, &none, res);
        }
        return;
    }
    e = &p->q[p->head];
    p->head = (p->head + 1) % p->cap;
    p->len--;
    if (s == PGRES_PIPELINE_SYNC)
        return; /* no NULL follows a sync */
    p->expect_null = true;
    if (s == PGRES_PIPELINE_ABORTED)
        return; /* after the recorded failure */
    if (s != PGRES_COMMAND_OK && s != PGRES_TUPLES_OK)
    {
        record(p, e, res);
        return;
    }
    if (e->kind == PL_ROWS && e->st->action != W2J_INSERT)
    {
        long touched = strtol(PQcmdTuples(res), NULL, 10);

        if (touched != (long) e->nrows && !p->failed)
        {
            p->failed = true;
            p->mismatch = true;
            p->touched = touched;
            p->fail = *e;
            p->state[0] = '\0';
            snprintf(p->message, sizeof(p->message), "%ld of %u rows found on the target",
                     touched, e->nrows);
        }
    }
}

/* The server said nothing for a while: is its process at work, or is the
 * link dead? Returns false (the failure recorded, the socket shut) when dead. */
static bool
still_alive(struct pipeline *p, int64_t silence)
{
    char why[1400];
    enum peer_state state =
        peer_probe(p->dsn, PQbackendPID(p->conn), p->peer_us / 4000, why, sizeof(why));

    if (state == PEER_BUSY)
    {
        log_debug("the %s has answered nothing for %.1f s, but %s", p->role, (double) silence / 1e6,
                  why);
        return true;
    }
    log_error("the link to the %s is down: no answer for %.1f s, and %s (peer_timeout %.0f s); "
              "reconnecting",
              p->role, (double) silence / 1e6, why, (double) p->peer_us / 1e6);
    if (!p->failed)
    {
        p->failed = true;
        p->transient = true;
        memset(&p->fail, 0, sizeof(p->fail));
        p->fail.kind = PL_OTHER;
        snprintf(p->message, sizeof(p->message), "the link to it is down");
    }
    /* libpq learns it too, so that nothing waits on this connection again */
    shutdown(PQsocket(p->conn), SHUT_RDWR);
    PQconsumeInput(p->conn);
    return false;
}

/* Wait for the socket: readable, and writable too when WRITE; bounded by the
 * peer timeout (still_alive). */
static bool
wait_socket(struct pipeline *p, bool write)
{
    struct pollfd fd = {PQsocket(p->conn), (short) (POLLIN | (write ? POLLOUT : 0)), 0};
    int64_t since = clock_now_us();

    for (;;)
    {
        int timeout = -1, r;

        if (p->peer_us > 0)
        {
            int64_t left = since + p->peer_us / 2 - clock_now_us();

            timeout = left > 0 ? (int) (left / 1000) + 1 : 0;
        }
        r = poll(&fd, 1, timeout);
        if (r > 0)
            return true;
        if (r < 0 && errno != EINTR)
        {
            log_error("could not wait for the %s: %s", p->role ? p->role : "target",
                      strerror(errno));
            return false;
        }
        if (r == 0 && p->peer_us > 0 && clock_now_us() - since >= p->peer_us / 2)
        {
            if (!still_alive(p, clock_now_us() - since))
                return false;
            since = clock_now_us();
        }
    }
}

/* Read every result that is there now. */
static bool
drain_ready(struct pipeline *p)
{
    while (p->len > 0 || p->expect_null)
    {
        PGresult *res;

        if (PQisBusy(p->conn))
            return true;
        res = PQgetResult(p->conn);
        if (res == NULL)
        {
            p->expect_null = false;
            if (PQstatus(p->conn) != CONNECTION_OK)
                return lost(p);
            continue;
        }
        on_result(p, res);
        PQclear(res);
    }
    return true;
}

bool
pl_poll(struct pipeline *p)
{
    if (PQconsumeInput(p->conn) == 0)
        return lost(p);
    return drain_ready(p);
}

/* Push the output buffer out, reading results while the server is busy. */
static bool
push_out(struct pipeline *p)
{
    for (;;)
    {
        int r = PQflush(p->conn);

        if (r == 0)
            return true;
        if (r < 0)
            return lost(p);
        if (!wait_socket(p, true) || !pl_poll(p))
            return false;
    }
}

/* Read results until at most KEEP are in flight. */
static bool
pump(struct pipeline *p, unsigned keep)
{
    while (p->len > keep || p->expect_null)
    {
        if (!drain_ready(p))
            return false;
        if (p->len <= keep && !p->expect_null)
            break;
        if (p->unflushed)
        {
            if (PQsendFlushRequest(p->conn) != 1)
                return lost(p);
            p->unflushed = false;
        }
        if (!push_out(p))
            return false;
        if (!PQisBusy(p->conn))
            continue;
        if (!wait_socket(p, false))
            return false;
        if (PQconsumeInput(p->conn) == 0)
            return lost(p);
    }
    return true;
}

static bool
queued(struct pipeline *p, const struct pl_entry *e)
{
    p->q[(p->head + p->len) % p->cap] = *e;
    p->len++;
    p->unflushed = true;
    if (!push_out(p) || !pl_poll(p))
        return false;
    /* bounded: past the limit, wait until half is back */
    if (p->len >= p->cap - 1)
        return pump(p, p->cap / 2);
    return true;
}

bool
pl_send(struct pipeline *p, const struct pl_entry *e, const char *sql, int nparams,
        const char *const *params)
{
    return pl_send_params(p, e, sql, nparams, params, NULL, NULL);
}

bool
pl_send_params(struct pipeline *p, const struct pl_entry *e, const char *sql, int nparams,
               const char *const *values, const int *lengths, const int *formats)
{
    if (PQsendQueryParams(p->conn, sql, nparams, NULL, values, lengths, formats, 0) != 1)
        return lost(p);
    return queued(p, e);
}

bool
pl_prepare(struct pipeline *p, struct stmt *st)
{
    Oid types[1664];
    struct pl_entry e = {.kind = PL_PREPARE, .st = st};
    int i;

    if (st->prepared)
        return true;
    for (i = 0; i < st->nparams && i < 1664; i++)
        types[i] = TEXTARRAYOID;
    if (PQsendPrepare(p->conn, st->name, st->sql, st->nparams, types) != 1)
        return lost(p);
    st->prepared = true;
    log_debug("prepared %s: %s", st->name, st->sql);
    return queued(p, &e);
}

bool
pl_send_prepared(struct pipeline *p, const struct pl_entry *e, int nparams,
                 const char *const *values, const int *lengths, const int *formats)
{
    if (PQsendQueryPrepared(p->conn, e->st->name, nparams, values, lengths, formats, 0) != 1)
        return lost(p);
    return queued(p, e);
}

bool
pl_sync(struct pipeline *p)
{
    struct pl_entry e = {.kind = PL_SYNC};

    if (PQpipelineSync(p->conn) != 1)
        return lost(p);
    p->unflushed = false;
    p->q[(p->head + p->len) % p->cap] = e;
    p->len++;
    return push_out(p) && pump(p, 0);
}

bool
pl_leave(struct pipeline *p)
{
    if (PQexitPipelineMode(p->conn) != 1 || PQsetnonblocking(p->conn, 0) != 0)
    {
        log_error("could not leave pipeline mode on the target: %s", PQerrorMessage(p->conn));
        return false;
    }
    return true;
}

bool
pl_enter(struct pipeline *p)
{
    if (PQsetnonblocking(p->conn, 1) != 0 || PQenterPipelineMode(p->conn) != 1)
    {
        log_error("could not enter pipeline mode on the target: %s", PQerrorMessage(p->conn));
        return false;
    }
    return true;
}
