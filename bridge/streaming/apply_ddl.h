/*
 * apply_ddl.h - the applier follows the schema of the side it streams from.
 * Private to the applier's files.
 *
 *   apply_ddl.c        each new shape of change against the applied side's
 *                      table: what it shows (a new column, a widened type, a
 *                      rename, a drop), and a new table
 *   apply_ddl_exec.c   running the DDL inside the open group, with the values
 *                      the rows need, and the one line of a stop
 *   apply_ddl_check.c  the periodic comparison of both sides' definitions
 *
 * What the stream shows is applied at its place in the stream: inside the
 * target transaction that holds the change needing it, before that change,
 * so it commits atomically with it and with the progress (exactly once
 * across a kill). What only the catalogs show (an index, a constraint, a
 * dropped table) is found by comparing them between groups. Anything the
 * bridge does not follow by itself stops the stream before the change is
 * applied (APPLY_SCHEMA), with the statement to run (schema_stop.h).
 */
#ifndef MB_APPLY_DDL_H
#define MB_APPLY_DDL_H

#include <stdbool.h>
#include <stdint.h>

#include "bridge/pg/ddl.h"
#include "bridge/pg/layout.h"
#include "bridge/pg/tabledef.h"
#include "bridge/streaming/apply_int.h"
#include "bridge/streaming/schema_stop.h"

#define DDL_KEY_LEN 320

enum ddl_result
{
    DDL_OK = 0, /* nothing to do: go on */
    DDL_DONE,   /* the applied side's table changed: read the catalog again, look again */
    DDL_SKIP,   /* leave the change out (its table is gone on the side streamed from) */
    DDL_FAIL,   /* stopped (apply_ddl_stopped), or failed (a->pl holds why) */
};

struct apply_ddl
{
    PGconn *from;         /* owned: the catalog of the side streamed from (never the
                           * replication connection); NULL until first needed */
    struct layout layout; /* the columns the stream showed (layout.h) */
    bool keep;            /* memori_bridge.layout is there: the record is written */
    bool stopped;         /* a stop is recorded in stop */
    struct schema_stop stop;
    char **gone; /* owned: tables left out (gone on the side streamed from),
                  * "schema.name", warned about once */
    int ngone;

    /* the periodic check (apply_ddl_check.c) */
    int64_t last_check;             /* monotonic us; 0 never */
    lsn_t prev_wal;                 /* the streamed side's WAL at the previous check */
    char (*prev_keys)[DDL_KEY_LEN]; /* owned: the differences found then */
    int nprev;
    char (*failed_keys)[DDL_KEY_LEN]; /* owned: fixes that failed, warned about once */
    int nfailed;
};

/* ---- apply_ddl.c ------------------------------------------------------- */

/* Set up A's schema following, after the catalog is read and before the
 * pipeline starts: the record of columns, and the skip lists from it. */
bool apply_ddl_open(struct apply *a, enum pgconn_failure *failure);
void apply_ddl_close(struct apply *a);

/* REC names a table the applied side lacks: create it (DDL_DONE), leave the
 * change out (DDL_SKIP), or stop. */
enum ddl_result apply_ddl_table(struct apply *a, const struct w2j_record *rec);

/* REC is the first change of its shape on T: does the shape fit T? Adds
 * columns and widens types as the change shows (DDL_DONE), or stops. */
enum ddl_result apply_ddl_check(struct apply *a, struct cat_table *t, const struct w2j_record *rec);

/* The catalog's skip lists, from the record (after reading the catalog). */
bool ddl_sync_skips(struct apply *a);

/* Has the applier stopped for a schema change? */
bool apply_ddl_stopped(const struct apply *a);

/* ---- apply_ddl_exec.c -------------------------------------------------- */

/* The catalog connection to the side streamed from, opened when needed.
 * NULL after logging why (a->pl records the failure). */
PGconn *ddl_from(struct apply *a);

/* Read the definitions of the side streamed from into *D. False after
 * recording the failure in a->pl. */
bool ddl_read_from(struct apply *a, struct tabledefs *d);

/* Leave the pipeline inside the open group (everything sent is done), and
 * come back with the catalog read again. */
bool ddl_sync(struct apply *a);
bool ddl_resume(struct apply *a);

/* Run SQL on the applied side, out of the pipeline. A failure whose
 * SQLSTATE is in TOLERATE (space-separated, NULL none) rolls back to a
 * savepoint and returns true with *TOLERATED set (when not NULL); any other
 * failure records a stop naming SQL and the server's message, and returns
 * false. */
bool ddl_exec(struct apply *a, const char *label, const char *sql, const char *tolerate,
              bool *tolerated);

/* Add SRC_COL of the streamed side's table SRC to T as column NAME, with the
 * values the existing rows have there: the missing value of a column added
 * with a default, a copy of the column by key for a volatile default, or
 * nothing where the target computes the same. READD: the rows had values
 * before (the column was dropped on the applied side only): always copied. */
bool ddl_add_column(struct apply *a, const struct cat_table *t, const struct td_table *src,
                    const struct td_column *src_col, const char *name, bool readd);

/* Create SRC on the applied side, with the columns of the N attribute
 * numbers in ATTNUMS named NAMES (as the change that needs them has them;
 * ATTNUMS NULL: all, as the catalog names them), its sequences, keys,
 * indexes, constraints and triggers, and the fence where the side is fenced.
 * What refers to a column not made is left to the periodic check. */
bool ddl_create_table(struct apply *a, const struct td_table *src, const int *attnums,
                      const char *const *names, int n);

/* Record a stop: TABLE ("schema.name"), what happened (FMT), the STATEMENT
 * to run on the applied side and what it does to the DATA. Returns false,
 * for the caller to pass on. */
bool ddl_stop(struct apply *a, const char *table, const char *statement, const char *data,
              const char *fmt, ...) __attribute__((format(printf, 5, 6)));

/* Queue the record's unwritten entries in the open group (pipeline). */
bool ddl_write_layout(struct apply *a);

/* The side's fence, copied onto a new table T (quoted), if the side has one. */
bool ddl_fence_table(struct apply *a, const char *qualified);

/* ---- apply_ddl_check.c ------------------------------------------------- */

/* Between groups, every status interval: compare both sides' definitions;
 * follow what the bridge follows, stop on the rest. False with *OUT set on
 * a stop or a failure. */
bool apply_ddl_periodic(struct apply *a, enum apply_outcome *out);

#endif
