/*
 * copy.h - the initial copy: every table, inside one exported snapshot, over
 * several connections in parallel, with progress.
 *
 * A job is one source session (REPEATABLE READ, SET TRANSACTION SNAPSHOT) and
 * one target session (session_replication_role = replica, so triggers and
 * foreign keys stay quiet, and synchronous_commit off: the copy is checked by
 * the commit of the last unit). Jobs take units from a shared list: a table,
 * or a range of its pages (ctid >= '(a,0)' AND ctid < '(b,0)', a TID range
 * scan on PostgreSQL 14 and later) when the table is large, so that one big
 * table still keeps every job busy. Rows travel as COPY data, text or binary,
 * relayed message by message: nothing is held in memory.
 *
 * The same pool runs the statements that are faster after the data (keys,
 * indexes, foreign keys), in parallel.
 */
#ifndef MB_COPY_H
#define MB_COPY_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bridge/pg/ddl.h"

/* What to copy and how. */
struct copy_options
{
    const char *source;        /* source DSN; borrowed */
    const char *target;        /* target DSN; borrowed */
    const char *snapshot;      /* exported snapshot to copy in */
    int jobs;                  /* parallel connections, at least 1 */
    int64_t connect_timeout_ms;
    bool split_tables;         /* split large tables by page ranges (source 14+) */
    int cancel_fd;             /* readable when the user asks to stop (signalfd), or -1 */
    bool tty;                  /* progress in place on a terminal, else log lines */
    bool binary;               /* tables whose types allow it (ddl_table.binary_ok) are
                                * copied in COPY's binary format; init decides (init.h) */
};

/* The copy's format (init.h): from FORMAT (enum conf_copy_format) and the
 * servers' major versions, sets *BINARY (tables whose types allow it go in
 * binary) and writes the format and why, one phrase, into WHY (LEN bytes).
 * Returns false when FORMAT is binary and the majors differ; WHY then says
 * so. */
bool copy_choose_format(int format, int src_major, int dst_major, bool *binary, char *why,
                        size_t len);

/* Copy every table of D. Returns true when all were copied, with the totals in
 * *ROWS and *BYTES (COPY data); false after logging why (a failed unit, a lost
 * connection, or a stop request, which sets *CANCELLED). */
bool copy_tables(const struct copy_options *o, struct ddl *d, bool *cancelled, int64_t *rows,
                 int64_t *bytes);

/* Run the statements of D in PHASE on the target over o->jobs connections,
 * printing each with its duration. Returns false after logging the first
 * failure. */
bool copy_run_phase(const struct copy_options *o, struct ddl *d, enum ddl_phase phase,
                    bool *cancelled);

#endif
