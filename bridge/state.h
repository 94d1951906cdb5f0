/*
 * state.h - what the threads of "run" tell each other, besides the ring.
 *
 * The reader and the applier never call into each other (DESIGN, module
 * boundaries); they share batches through the ring, and these positions and
 * counters, each written by one thread and read by the others.
 */
#ifndef MB_STATE_H
#define MB_STATE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

/* Shared between the supervisor (main thread), the reader and the applier. */
struct run_state
{
    /* written by the applier */
    _Atomic uint64_t durable;         /* origin progress durable on the target: the only
                                       * flush position ever sent to the source */
    _Atomic uint64_t applied;         /* origin progress committed on the target */
    _Atomic int64_t applied_commit_us; /* source commit time (Unix microseconds) of the
                                        * oldest transaction not yet applied while one
                                        * is being applied, else of the last applied
                                        * one; 0 when unknown. Lag in seconds is now
                                        * minus this. */
    _Atomic uint64_t changes;         /* row changes applied (committed) */
    _Atomic uint64_t written;         /* row changes sent to the target, committed or not
                                       * yet: the rate users watch during a large
                                       * transaction */
    _Atomic uint64_t xacts;           /* source transactions applied */
    _Atomic bool applier_idle;        /* nothing received is waiting to be applied */

    /* written by the reader */
    _Atomic uint64_t received;        /* WAL position of the last message received */
    _Atomic uint64_t server_end;      /* the server's end of WAL in its last keepalive */
    _Atomic bool reader_idle;         /* the last message was a keepalive, outside any
                                       * transaction: the server has nothing more now */

    /* written by the supervisor */
    _Atomic bool stop;                /* stop at the next safe point */
    int stop_fd;                      /* eventfd, signalled with stop */
    int done_fd;                      /* eventfd, signalled when a thread ends */
};

#endif
