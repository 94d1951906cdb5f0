/*
 * ddl_guard.h - keeping DDL off the source's tables while init copies them.
 *
 * A table rewritten after a snapshot was taken (ALTER TABLE ... ADD COLUMN
 * with a volatile default, a type change) looks empty to that snapshot, and
 * its rows are in no stream either: init's copy would lose them without a
 * word. So once the slot has exported its snapshot, init holds ACCESS SHARE
 * on every table of the schemas until the copy has read them, and checks
 * that none was rewritten in between (each table's relfilenode as the
 * snapshot has it against the current one). Writers never wait for this
 * lock; DDL on those tables waits until the copy is done, and then reaches
 * the target through the stream like any other.
 *
 * The lock is not taken before the slot is made: a transaction that wrote
 * and then waits for it would hold the slot's creation, which init waits
 * for while holding the lock.
 */
#ifndef MB_DDL_GUARD_H
#define MB_DDL_GUARD_H

#include <stdint.h>

#include <libpq-fe.h>

/* Open a session on DSN (the source), lock the tables of SCHEMAS as SNAPSHOT
 * (an exported snapshot) has them in ACCESS SHARE mode, in a transaction that
 * stays open, and check that none was rewritten or dropped since the
 * snapshot. Returns the session (the caller releases it with
 * ddl_guard_release), or NULL after logging why, with the fix. */
PGconn *ddl_guard_take(const char *dsn, const char *schemas, const char *snapshot,
                       int64_t connect_timeout_ms);

/* End the guard's transaction and session (*GUARD may be NULL); sets *GUARD
 * to NULL. */
void ddl_guard_release(PGconn **guard);

#endif
