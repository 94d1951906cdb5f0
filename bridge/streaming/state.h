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

#include "bridge/streaming/schema_stop.h"

#define STATE_MAX_TABLES 64

/* The actions counted per table. */
enum state_action
{
    STATE_INSERT,
    STATE_UPDATE,
    STATE_DELETE,
    STATE_TRUNCATE,
    STATE_NACTIONS
};

/* A link of a session: to the side streamed from, or to the side applied to. */
enum state_link
{
    STATE_LINK_NONE = 0,
    STATE_LINK_FROM, /* the replication connection, and the monitor of that side */
    STATE_LINK_TO,   /* the apply connection, and the monitor of that side */
};

/* What was applied (committed) to one table, for the metrics. */
struct table_counts
{
    char name[128];                      /* "schema.table"; written before ntables counts
                                          * the entry, never after */
    _Atomic uint64_t n[STATE_NACTIONS];  /* rows per action (a truncate counts 1) */
    _Atomic uint64_t xacts;              /* source transactions that changed the table */
};

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
    _Atomic int64_t last_apply_us;    /* wall clock (Unix microseconds) of the last commit
                                       * on the applying side; 0 none yet */
    _Atomic bool applier_idle;        /* nothing received is waiting to be applied */
    _Atomic uint64_t ddl_statements;  /* statements run on the applying side to follow the
                                       * schema of the side streamed from (apply_ddl.h) */
    _Atomic uint64_t ddl_left_out;    /* columns and tables whose values the stream carried
                                       * but which are gone on the side streamed from */

    /* written by the reader */
    _Atomic uint64_t received;        /* WAL position of the last message received */
    _Atomic uint64_t server_end;      /* the server's end of WAL in its last keepalive */
    _Atomic int64_t contact_us;       /* monotonic us of the last message from the server */
    _Atomic bool reader_idle;         /* the last message was a keepalive, outside any
                                       * transaction: the server has nothing more now */

    /* written by the reader's or the applier's thread, whichever loses its
     * connection first (compare and exchange from STATE_LINK_NONE); cleared
     * at the start of each session */
    _Atomic int lost;        /* enum state_link */
    _Atomic int64_t lost_us; /* wall clock (Unix microseconds) when it was lost */

    struct table_counts tables[STATE_MAX_TABLES]; /* by the applier, at commit; the
                                                   * tables past STATE_MAX_TABLES are
                                                   * counted in the totals only */
    _Atomic int ntables;              /* entries of tables in use */

    /* written by the supervisor */
    _Atomic uint64_t source_lsn;      /* the streaming side's WAL position at the last
                                       * sample; 0 unknown */
    _Atomic int64_t lag_bytes;        /* of the last sample (every second), -1 unknown */
    _Atomic int64_t lag_us;           /* of the last sample, -1 unknown */
    _Atomic bool caught_up;           /* of the last sample */
    _Atomic int64_t caught_up_us;     /* wall clock (Unix microseconds) of the last sample
                                       * that found everything applied; 0 never */
    _Atomic int link_down;            /* enum state_link: the link that is down now (a
                                       * session lost it, or cannot open it), or none */
    _Atomic int64_t link_down_us;     /* wall clock (Unix microseconds) since when */
    _Atomic bool streaming;           /* a session is streaming now */
    _Atomic uint64_t sessions;        /* sessions that got streaming */
    _Atomic uint64_t reconnects;      /* sessions started again after a lost connection */
    _Atomic bool reverse;             /* streaming target -> source */
    _Atomic bool stop;                /* stop at the next safe point */
    struct schema_stop_shared schema; /* a stop caused by a schema change, in force (the
                                       * applier and the supervisor set it) */
    int stop_fd;                      /* eventfd, signalled with stop */
    int done_fd;                      /* eventfd, signalled when a thread ends */
};

/*
 * The lag in seconds, as microseconds, at wall-clock time NOW (Unix
 * microseconds); -1 when unknown. Lag counts from H, the latest time before
 * which every transaction the source committed is applied: the commit time of
 * the oldest transaction not applied yet while one is applied (or of the last
 * one applied, since they are applied in commit order), or, when later, the
 * last sample that found everything applied. So while a link is down the lag
 * keeps growing from the last moment the bridge knew it had everything, and
 * never freezes. 0 when the last sample found everything applied and the
 * session streams with its links up. The metrics call it at each scrape.
 */
static inline int64_t
state_lag_us(struct run_state *st, int64_t now)
{
    int64_t commit = atomic_load(&st->applied_commit_us), known = atomic_load(&st->caught_up_us);
    int64_t h = commit > known ? commit : known;

    if (atomic_load(&st->streaming) && atomic_load(&st->link_down) == STATE_LINK_NONE &&
        atomic_load(&st->caught_up))
        return 0;
    if (h == 0)
        return -1;
    return now > h ? now - h : 0;
}

#endif
