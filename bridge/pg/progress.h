/*
 * progress.h - where a direction stands on the side it applies to.
 *
 * The applier records the end LSN of the last source transaction it applied
 * (the C record's nextlsn, invariant 1) in memori_bridge.progress on the
 * applying side, in the same target transaction as the changes. Any role that
 * may create the bridge's schema can do that. The replication origin
 * functions, which PostgreSQL's own apply worker uses, belong to the bootstrap
 * superuser, and on Supabase nobody the user controls may call them; so the
 * table is the record, on every side, and every command reads it with plain
 * SELECT.
 *
 * Where the applying role may use the origin functions, the applier also sets
 * up a replication origin of the same name: its commits then carry the origin,
 * and the other direction's walsender leaves them out (wal2json
 * filter-origins). Where it may not, each applied transaction begins with a
 * transactional logical message, "applied NAME" under the prefix
 * memori_bridge, and the other direction's applier leaves out every
 * transaction that begins with it (invariant 5). Earlier versions recorded
 * progress in the origin only: where the table has no row yet, reading falls
 * back on the origin. Once it has one, the table wins, since an origin
 * belongs to the whole cluster and may be another database's.
 *
 * A commit recorded here is durable as soon as it is visible: the apply
 * session never runs with synchronous_commit = off (apply.c), and a commit is
 * visible to others only after its WAL is flushed when synchronous_commit is
 * anything else.
 */
#ifndef MB_PROGRESS_H
#define MB_PROGRESS_H

#include <stdbool.h>
#include <stddef.h>

#include <libpq-fe.h>

#include "decoder/lsn.h"

/* The prefix of the bridge's logical messages (switch markers, apply tags). */
#define PROGRESS_MSG_PREFIX "memori_bridge"

/* The content that tags a transaction applied by direction NAME. */
#define PROGRESS_TAG "applied "

/* What is known of NAME's progress on one side. */
struct progress
{
    lsn_t lsn;            /* the table's, else the origin's; 0 when neither */
    bool recorded;        /* the table has a row for NAME */
    bool origin_exists;   /* pg_replication_origin has NAME */
    bool origin_readable; /* ... and this role may read its progress */
};

/* May the role of CONN use the replication origin functions (create, set up
 * for a session and a transaction, read progress)? Sets *MAY. Returns false
 * after logging why it cannot tell. */
bool progress_may_use_origin(PGconn *conn, const char *side, bool *may);

/* Read NAME's progress on CONN (the side SIDE, for messages) into *OUT. A
 * missing table or row is no error: *OUT says so. Returns false after logging
 * why it could not read. */
bool progress_read(PGconn *conn, const char *side, const char *name, struct progress *out);

/* Where a stream of P's direction stands, given its slot's confirmed
 * position SLOT_AT (0 when unknown): the later of the two. WAL before the
 * slot's confirmed position will never be streamed; a slot made by a rollback
 * starts after everything the reverse stream wrote, while the progress still
 * stands where it stood before the cutover. */
lsn_t progress_position(const struct progress *p, lsn_t slot_at);

/* Record LSN as NAME's progress on CONN, outside any apply (init, at the
 * consistent point of its copy). The bridge's objects must exist. Returns
 * false after logging why. */
bool progress_set(PGconn *conn, const char *side, const char *name, lsn_t lsn);

/* The statement that records $1's progress as $2::pg_lsn inside a transaction
 * (the applier sends it before COMMIT). */
extern const char progress_update_sql[];

#endif
