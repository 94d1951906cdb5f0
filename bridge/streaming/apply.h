/*
 * apply.h - the applier: decoded changes into the target, exactly once, in
 * source commit order.
 *
 * One target connection in pipeline mode, with session_replication_role =
 * replica, and the bridge's replication origin set up for the session where
 * the role may use it. Consecutive changes of one table and action go as one
 * multi-row statement (stmt.h); several source transactions go as one target
 * transaction, which records the last one's end (the C record's nextlsn,
 * DESIGN invariant 1) in memori_bridge.progress (progress.h). A group ends at
 * its limits (count, bytes, age) or as soon as nothing more is waiting, so a
 * quiet stream is never held back.
 *
 * When the target refuses a group, the applier rolls it back and reports
 * APPLY_REFUSED; the supervisor then replays from the origin in careful mode
 * (one source transaction per target transaction, one row per statement),
 * which either applies everything (the refusal came from batching, for
 * example two rows swapping a unique value) or fails on the exact change and
 * names it: table, action, key, source commit LSN and xid, the server's
 * message (DESIGN invariant 3).
 */
#ifndef MB_APPLY_H
#define MB_APPLY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bridge/base/conf.h"
#include "bridge/pg/pgconn.h"
#include "bridge/streaming/ring.h"
#include "bridge/streaming/state.h"
#include "decoder/lsn.h"

enum apply_outcome
{
    APPLY_STOPPED = 0, /* stopped on request, nothing open */
    APPLY_REACHED,     /* durable progress reached the stop position */
    APPLY_TRANSIENT,   /* the target went away, or a deadlock: reconnect and retry */
    APPLY_REFUSED,     /* the target refused a group: replay it carefully */
    APPLY_FATAL,       /* cannot go on (logged) */
    APPLY_SWITCH,      /* a switch marker (cutover, rollback) is applied and durable */
    APPLY_SCHEMA,      /* a schema change the bridge does not follow by itself: the
                        * applied side needs a fix first (apply_schema_stop) */
};

/* What the applier is asked to do. */
struct apply_options
{
    const struct conf *conf;  /* borrowed */
    const char *dsn;          /* connection string of the side applied to; borrowed */
    const char *role;         /* that side: "target", or "source" when streaming back */
    const char *from_role;    /* the side streamed from, for messages */
    const char *origin;       /* this direction's name: its progress row and origin */
    const char *other_origin; /* the other direction's: its tagged transactions are left out */
    const char *schemas;      /* schemas of the catalog */
    bool careful;             /* one transaction and one row at a time */
    lsn_t careful_until;      /* careful mode ends once past this position */
    lsn_t stop_at;            /* APPLY_REACHED once durable progress reaches it (0: never) */
    bool busy_final;          /* an origin in use is an error now, not PGCONN_BUSY */
    const char *from_dsn;     /* connection string of the side streamed from, for its
                               * catalog (never the replication connection); borrowed */
    const char *stop_key;     /* the periodic check's key of a schema stop in force, "" or
                               * NULL none: checked again at once */
};

struct apply; /* opaque: apply.c */

/*
 * Connect to the target, set the session up (replica role, origin, pinned
 * settings) and read the catalog and the origin's progress. Returns the
 * applier, or NULL after logging why, with *FAILURE set.
 */
struct apply *apply_open(const struct apply_options *opts, struct run_state *st,
                         struct ring *ring, enum pgconn_failure *failure);

/* The committed progress on the target when it was opened: where streaming
 * starts. */
lsn_t apply_start_lsn(const struct apply *a);

/* The applier thread's body: apply batches from the ring until stopped or
 * failed. Commits or rolls back what is open before it returns. */
enum apply_outcome apply_run(struct apply *a);

/* The position to replay up to carefully after APPLY_REFUSED. */
lsn_t apply_refused_lsn(const struct apply *a);

/* After APPLY_SCHEMA: the stop, into *OUT. */
void apply_schema_stop(const struct apply *a, struct schema_stop *out);

/* After APPLY_SWITCH: the marker's token. */
const char *apply_switch_token(const struct apply *a);

/* "host=... port=... dbname=... user=..." of the target connection. */
char *apply_describe(struct apply *a, char *buf, size_t len);

/* The server process of the target connection (PQbackendPID). */
int apply_backend_pid(const struct apply *a);

/* After APPLY_TRANSIENT: was it the connection (rather than, say, a
 * deadlock)? */
bool apply_link_lost(const struct apply *a);

/* Close the connection and free A. */
void apply_close(struct apply *a);

#endif
