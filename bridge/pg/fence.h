/*
 * fence.h - making one side refuse writes to the streamed tables, from
 * everyone but the bridge.
 *
 * A fence is a statement-level BEFORE INSERT/UPDATE/DELETE/TRUNCATE trigger,
 * memori_bridge_fence, on every table of the schemas, calling
 * memori_bridge.fence() (sql/memori_bridge.sql), which raises SQLSTATE 25006
 * and says where memori lives now. Putting it up takes each table's
 * SHARE ROW EXCLUSIVE lock in one transaction: transactions already writing
 * are waited for (up to a timeout), writers that come after block until the
 * fence is up and then get its error, and readers never wait. The bridge's
 * apply runs with session_replication_role = replica, where the trigger does
 * not fire. Putting it up and taking it down need table ownership.
 */
#ifndef MB_FENCE_H
#define MB_FENCE_H

#include <stdbool.h>
#include <stdint.h>

#include <libpq-fe.h>

/* How to put a fence up. */
struct fence_options
{
    const char *side;        /* "source" or "target", for messages */
    const char *schemas;     /* comma-separated */
    const char *moved_to;    /* "host=... port=... dbname=..." of the other side, no password */
    int64_t timeout_ms;      /* wait this long for transactions in flight */
    bool terminate_writers;  /* end them instead of giving up */
};

/* Make sure the bridge's own objects exist on CONN (sql/memori_bridge.sql). */
bool fence_objects(PGconn *conn, const char *side);

/* Does the bridge's table memori_bridge.TABLE exist on CONN (the side SIDE)?
 * Sets *EXISTS. Returns false after logging why when it cannot tell, or when
 * the schema is there but this role may not use it (another role ran init):
 * then the message names the grants its owner can give. */
bool fence_objects_usable(PGconn *conn, const char *side, const char *table, bool *exists);

/* Put the fence up on CONN. Returns false after logging why (in-flight
 * transactions outlasting the timeout are named by PID, with the fix). */
bool fence_up(PGconn *conn, const struct fence_options *o);

/* Take the fence down on CONN (the side named SIDE). Returns false after
 * logging why. */
bool fence_down(PGconn *conn, const char *side, const char *schemas, int64_t timeout_ms);

/* Tables of SCHEMAS fenced on CONN, or -1 when it cannot tell (logged). */
int fence_count(PGconn *conn, const char *schemas);

#endif
