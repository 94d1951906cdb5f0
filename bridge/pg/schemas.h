/*
 * schemas.h - the configured schemas (--schemas) as a side has them.
 *
 * Every command that takes --schemas reads them on the side or sides it
 * works on, and a schema a side lacks is an error there, never an empty
 * stream, an "equal" verify or a report of nothing: a typo in --schemas
 * would otherwise pass for a schema without changes. One query answers
 * whether each exists, whether the connected role may use it, how many
 * tables it has and who owns it; preflight (init, cutover, rollback) reads
 * its answers from here too, so the line for a missing schema is the same
 * whichever command finds it:
 *
 *     target: schema "nosuch" does not exist; check --schemas
 */
#ifndef MB_SCHEMAS_H
#define MB_SCHEMAS_H

#include <stdbool.h>
#include <stddef.h>

#include <libpq-fe.h>

#include "bridge/pg/pgconn.h"

/* One schema of the list, on one side. */
struct schema_state
{
    char name[256];  /* as listed, spaces taken out */
    bool exists;     /* the side has it */
    bool usage;      /* the connected role may use it */
    long tables;     /* its tables (partitioned ones counted once) */
    char owner[128]; /* its owner's name; "" when it does not exist */
};

/* Read each schema of LIST (comma-separated, spaces ignored) on CONN, in the
 * order listed. Returns a new array of *N entries (the caller frees it), or
 * NULL after logging why, with *FAILURE (when not NULL) set. */
struct schema_state *schemas_read(PGconn *conn, const char *list, int *n,
                                  enum pgconn_failure *failure);

/* The text of the problem "schema NAME does not exist; check --schemas" into
 * BUF (LEN bytes); returns BUF. */
const char *schemas_missing_text(const char *name, char *buf, size_t len);

/*
 * Does every schema of LIST exist on CONN, the SIDE ("source" or "target")?
 * Logs one line for each that does not, "SIDE: <schemas_missing_text>": an
 * error, or, when WARN_WHY is not NULL, a warning that ends with "; WARN_WHY".
 * Returns how many are missing, or -1 when it could not ask (logged, with
 * *FAILURE set when not NULL).
 */
int schemas_missing(PGconn *conn, const char *list, const char *side, const char *warn_why,
                    enum pgconn_failure *failure);

/* schemas_missing, as errors, on A (named A_SIDE) and on B (B_SIDE), both
 * asked whatever the first says. Returns true when neither lacks one; false
 * otherwise, with *FAILURE (when not NULL) PGCONN_TRANSIENT when a connection
 * went, else PGCONN_FATAL. */
bool schemas_on_both(PGconn *a, const char *a_side, PGconn *b, const char *b_side, const char *list,
                     enum pgconn_failure *failure);

#endif
