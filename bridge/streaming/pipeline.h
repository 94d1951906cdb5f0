/*
 * pipeline.h - the applier's libpq pipeline: statements sent without waiting,
 * results read back in order, and the first failure kept with what it was.
 *
 * Every statement sent is also queued here with what the applier needs to
 * name it should it fail (table, action, key, source transaction). Results are
 * read whenever they are there, and blocking only when too many are in flight
 * or at a sync point, so the target works while the bridge sends and memory
 * stays bounded. The connection is non-blocking: a send never waits for the
 * server to read, and while the bridge waits to write it also reads, so the
 * two sides can never block each other.
 *
 * A server error does not return false: it is recorded (the first one only,
 * since the rest of the pipeline is aborted after it) and the caller checks
 * pl->failed at its next sync point. false means the connection is gone.
 *
 * No wait is unbounded (pl_set_peer): after half of peer_timeout with nothing
 * from the server, the pipeline asks the server, on a new connection, what its
 * process does (peer_probe). A process that works (a long statement, a lock
 * wait) is waited for; one that waits for the bridge while the bridge waits
 * for it means the link is dead: the socket is shut, the failure recorded as
 * transient, and false returned.
 */
#ifndef MB_PIPELINE_H
#define MB_PIPELINE_H

#include <stdbool.h>
#include <stdint.h>

#include <libpq-fe.h>

#include "bridge/streaming/stmt.h"
#include "decoder/lsn.h"

enum pl_kind
{
    PL_PREPARE = 0, /* a statement prepared */
    PL_BEGIN,       /* BEGIN of a target transaction */
    PL_ROWS,        /* one execution of a statement: rows of one table and action */
    PL_STAGE,       /* one part of a large value, staged for its row's statement */
    PL_TRUNCATE,    /* TRUNCATE of one or more tables */
    PL_PROGRESS,    /* the bridge's bookkeeping: the progress row, the origin's
                     * transaction set-up, the tag of an applied transaction */
    PL_COMMIT,      /* COMMIT */
    PL_ROLLBACK,    /* ROLLBACK */
    PL_OTHER,       /* anything else */
    PL_SYNC,        /* a sync point */
};

/* One statement in flight, and what to say should it fail. */
struct pl_entry
{
    enum pl_kind kind;
    struct stmt *st;   /* PL_PREPARE, PL_ROWS, PL_STAGE: borrowed from the statement cache */
    uint32_t nrows;    /* PL_ROWS: rows sent; an UPDATE or DELETE must touch as many */
    uint32_t xid;      /* source transaction of the (first) row */
    lsn_t commit_lsn;  /* its commit LSN */
    char what[256];    /* PL_ROWS with one row, PL_STAGE: its key; PL_TRUNCATE: the tables */
};

struct pipeline
{
    PGconn *conn;              /* borrowed */
    const char *dsn;           /* borrowed: the server's, for a probe (pl_set_peer) */
    const char *role;          /* "target" or "source", for messages */
    int64_t peer_us;           /* peer_timeout; 0: wait for ever */
    struct pl_entry *q;        /* owned: ring of cap entries */
    unsigned head, len, cap;   /* oldest entry, entries in flight, size */
    bool expect_null;          /* a query's result was read; its NULL follows */
    bool unflushed;            /* queries sent since the last sync or flush request */

    /* the first failure since pl_reset_failure */
    bool failed;
    bool transient;            /* the connection or a deadlock: retrying may work */
    bool mismatch;             /* an UPDATE/DELETE touched fewer rows than sent */
    long touched;              /* with mismatch: rows it touched */
    struct pl_entry fail;      /* the entry that failed */
    char state[6];             /* its SQLSTATE, "" when none */
    char message[1024];        /* the server's message and detail */
};

/* Set P up on CONN (which this switches to pipeline and non-blocking mode).
 * Returns false (logged) when out of memory or libpq refuses. */
bool pl_init(struct pipeline *p, PGconn *conn, unsigned cap);

/* Bound P's waits by PEER_TIMEOUT_MS (see above); DSN and ROLE are borrowed
 * and must outlive P. */
void pl_set_peer(struct pipeline *p, const char *dsn, const char *role, int64_t peer_timeout_ms);

void pl_free(struct pipeline *p);

/* Forget the recorded failure. */
void pl_reset_failure(struct pipeline *p);

/* Send SQL with NPARAMS text PARAMS; E says what it is. */
bool pl_send(struct pipeline *p, const struct pl_entry *e, const char *sql, int nparams,
             const char *const *params);

/* pl_send with parameters in text or binary format (FORMATS as for
 * PQsendQueryParams; LENGTHS for the binary ones). */
bool pl_send_params(struct pipeline *p, const struct pl_entry *e, const char *sql, int nparams,
                    const char *const *values, const int *lengths, const int *formats);

/* Prepare ST (all parameters text[]) unless done on this connection. */
bool pl_prepare(struct pipeline *p, struct stmt *st);

/* Execute the prepared statement of E->st with binary parameters. */
bool pl_send_prepared(struct pipeline *p, const struct pl_entry *e, int nparams,
                      const char *const *values, const int *lengths, const int *formats);

/* Establish a sync point and read every result up to it. */
bool pl_sync(struct pipeline *p);

/* Read the results already there, without waiting. */
bool pl_poll(struct pipeline *p);

/* Leave pipeline mode (after pl_sync) for synchronous calls, and come back. */
bool pl_leave(struct pipeline *p);
bool pl_enter(struct pipeline *p);

#endif
