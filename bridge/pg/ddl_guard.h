/*
 * ddl_guard.h - keeping DDL off the source's tables while init copies them.
 *
 * A table rewritten after a snapshot was taken (ALTER TABLE ... ADD COLUMN
 * with a volatile default, a type change) looks empty to that snapshot, and
 * its rows are in no stream either: init's copy would lose them without a
 * word. So each copy session, as soon as it has imported the snapshot, takes
 * ACCESS SHARE on every table it may copy, and checks that none was
 * rewritten since the snapshot (the relfilenode the snapshot's catalog names
 * against the current one). Writers never wait for these locks; DDL on those
 * tables waits until the copy is done, and then reaches the target through
 * the stream like any other.
 *
 * Every copy session must hold its locks before DDL queues for one: a lock
 * request waits behind a waiting ACCESS EXCLUSIVE one, and the DDL waits for
 * the sessions already holding theirs. A session that cannot get them within
 * GUARD_LOCK_TIMEOUT gives up, and init with it (run it again).
 */
#ifndef MB_DDL_GUARD_H
#define MB_DDL_GUARD_H

#include <stdbool.h>
#include <stddef.h>

#include <libpq-fe.h>

#include "bridge/pg/ddl.h"

#define GUARD_LOCK_TIMEOUT "10s"

/* On SRC, in a transaction that has imported init's snapshot: lock the
 * tables of D in ACCESS SHARE mode, and check none was rewritten or dropped
 * since the snapshot. Returns false with the reason and the fix in ERR. */
bool ddl_guard_hold(PGconn *src, const struct ddl *d, char *err, size_t errlen);

#endif
