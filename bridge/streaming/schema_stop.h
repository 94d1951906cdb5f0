/*
 * schema_stop.h - a stop caused by a schema change on the side streamed
 * from: what it is, for the log, the status row and the metrics.
 *
 * The applier finds it (a change that does not fit the applied side's table,
 * or a difference the periodic check found) and hands it to the supervisor,
 * which holds the stream, retries now and then, and goes on by itself once
 * the applied side has been fixed. The metrics thread reads it at any time:
 * the copy here is behind a mutex.
 */
#ifndef MB_SCHEMA_STOP_H
#define MB_SCHEMA_STOP_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "decoder/lsn.h"

struct schema_stop
{
    char key[320];        /* the periodic check's key of the difference (tablediff.h);
                           * "" for a change in the stream */
    char table[260];      /* "schema.table" */
    char statement[1024]; /* the statement(s) to run on the applied side */
    char message[2048];   /* the one line that says all of it */
    lsn_t commit_lsn;     /* commit LSN of the source transaction stopped before; 0
                           * when the periodic check found it */
};

/* The stop in force, shared between threads. Zeroed memory is a valid,
 * empty one. */
struct schema_stop_shared
{
    pthread_mutex_t lock;
    bool active;
    uint64_t version; /* moves at every set and clear */
    struct schema_stop s;
};

/* Put S in force (S NULL: clear). */
void schema_stop_set(struct schema_stop_shared *sh, const struct schema_stop *s);

/* Copy the stop in force into *OUT (when not NULL) and its version into
 * *VERSION (when not NULL). Returns whether one is in force. */
bool schema_stop_get(struct schema_stop_shared *sh, struct schema_stop *out, uint64_t *version);

#endif
