/*
 * apply_int.h - what the applier's files share: the applier's state, and the
 * functions one part calls in another. Not for the rest of the program
 * (apply.h is).
 *
 *   apply.c          the records of a source transaction, and the loop
 *   apply_group.c    a group (target transaction): its statements, its commit
 *                    with the progress, a rollback, and what a refusal says
 *   apply_hold.c     holding still at verify's point
 *   apply_session.c  the target session: opening it, claiming the direction
 *   apply_stage.c    values too large to send in one piece, staged in parts
 */
#ifndef MB_APPLY_INT_H
#define MB_APPLY_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bridge/pg/catalog.h"
#include "bridge/streaming/apply.h"
#include "bridge/streaming/pipeline.h"
#include "bridge/streaming/stmt.h"
#include "bridge/streaming/tally.h"
#include "decoder/w2j.h"

#define INFLIGHT      512
#define TS_LEN        48
#define MAX_PENDING   32 /* batches being filled at once (one per statement) */

struct apply
{
    struct apply_options o;
    struct run_state *st;   /* borrowed */
    struct ring *ring;      /* borrowed */
    PGconn *conn;           /* owned */
    struct pipeline pl;
    struct catalog cat;
    struct stmt_cache cache;
    struct pending
    {
        struct stmt_batch b; /* rows waiting for one execution; b.st NULL: free */
        struct pl_entry e;   /* what they are, for messages */
        uint64_t seq;        /* creation order */
    } pend[MAX_PENDING];
    uint64_t pend_seq;      /* next creation number */
    size_t pend_bytes;      /* value bytes in all pending batches */
    char user[64];          /* the target role, for the hints */
    bool use_origin;        /* the role may use the replication origin functions */
    char tag[128];          /* "applied <origin>": this direction's tag (no origin) */
    char other_tag[128];    /* the other direction's tag, whose transactions are left out */
    bool stage;             /* large values are staged (apply_stage.c) */
    uint64_t stage_serial;  /* the last staging id */

    /* consecutive TRUNCATE records of one LSN */
    struct cat_table *trunc[64];
    int ntrunc;
    lsn_t trunc_lsn;

    /* the source transaction being read */
    bool in_xact;
    bool skipping;   /* at or below the start position: already applied */
    bool looped;     /* tagged by the other direction: its own changes, coming back */
    bool has_changes;
    uint32_t xid;
    lsn_t commit_lsn;
    lsn_t nextlsn;
    char ts[TS_LEN];

    /* the group (target transaction) */
    struct tally tally;      /* its changes per table, for the metrics */
    bool group_open;
    uint32_t group_xacts;
    uint64_t group_bytes;
    uint64_t group_changes;
    int64_t group_start;
    lsn_t group_end;
    lsn_t group_last_commit; /* commit LSN of its last source transaction */
    char group_ts[TS_LEN];

    /* progress */
    lsn_t start;     /* committed progress when opened */
    lsn_t committed; /* committed progress */
    lsn_t durable;   /* durable progress */
    lsn_t confirm;   /* skipped/empty/idle position waiting for a progress-only commit */
    char confirm_ts[TS_LEN];
    int64_t last_progress_commit;
    int64_t last_ping; /* monotonic us of the last idle round trip (peer.h) */
    lsn_t last_pos;  /* WAL position of the last item taken */
    bool careful;
    lsn_t refused;   /* APPLY_REFUSED: replay carefully up to here */
    lsn_t last_commit; /* commit LSN of the last source transaction applied */

    /* a switch marker (cutover, rollback) in the source transaction being read */
    bool switch_in_xact;
    char switch_token[64];

    /* verify's request to hold still (memori_bridge.verify_pause) */
    bool listening;  /* LISTEN memori_bridge worked (the bridge's objects exist) */
    bool unread;     /* requests made before this session: read them once */
    lsn_t pause_at;  /* hold before the first transaction committing at or after it */
    char pause_token[64];

    struct apply_ddl *ddl; /* owned: following the schema of the side streamed from
                            * (apply_ddl.h) */
};

/* ---- apply_stage.c ----------------------------------------------------- */

/* Make the session's staging table; without it (logged) values go whole. */
void apply_stage_open(struct apply *a);

/* Values longer than this are staged (stmt_lookup); 0: none is. */
size_t apply_stage_over(const struct apply *a);

/* Send the values of REC that ST stages, in parts, under a new staging id in
 * *ID (0 when ST stages none). Returns false when the connection is gone. */
bool apply_stage(struct apply *a, struct stmt *st, const struct w2j_record *rec, uint64_t *id);

/* ---- apply_group.c ----------------------------------------------------- */

/* Open a group (BEGIN, and the tag where there is no origin) unless open. */
bool apply_open_group(struct apply *a);

/* Send the rows of P as one execution of its statement. */
bool apply_flush_one(struct apply *a, struct pending *p);

/* Send the pending batches of table T (every table when T is NULL) but the
 * one of statement EXCEPT, oldest first. */
bool apply_flush_pending(struct apply *a, const struct cat_table *t, const struct stmt *except);

/* Send every pending batch; then also the TRUNCATE waiting (flush_all). */
bool apply_flush_rows(struct apply *a);
bool apply_flush_truncate(struct apply *a);
bool apply_flush_all(struct apply *a);

/* Empty the pending batches, keeping at most LIMIT bytes of their buffers. */
void apply_reset_pending(struct apply *a, size_t limit);

/* Roll back what is open after a failure, leaving the connection usable. */
void apply_rollback(struct apply *a);

/* What a failure recorded in the pipeline means now (logged). */
enum apply_outcome apply_failure_outcome(struct apply *a);

/* Commit the open group; move the progress with a transaction of its own.
 * Both return false with the outcome in *OUT on failure. */
bool apply_commit_group(struct apply *a, enum apply_outcome *out);
bool apply_progress_commit(struct apply *a, enum apply_outcome *out);

/* Read the catalog again in the middle of a group. */
bool apply_reload_catalog(struct apply *a);

/* Record a client-side refusal of REC (no such table or column). */
void apply_refuse_record(struct apply *a, const struct w2j_record *rec, const char *message);

/* ---- apply_session.c --------------------------------------------------- */

/* Guard the blocking calls that follow on the connection, outside pipeline
 * mode, by peer_timeout (peer.h). */
void apply_guard(struct apply *a);

/* End that guard. Returns false when it expired, WHILE doing what: the link
 * is down (logged; recorded in the pipeline as a transient failure). */
bool apply_unguard(struct apply *a, const char *while_doing);

/* ---- apply_hold.c ------------------------------------------------------ */

/* Look for verify's NOTIFY and read its request; only between groups. */
bool apply_check_requests(struct apply *a);

/* Hold still at verify's point until verify releases it (or moves it). */
bool apply_hold(struct apply *a);

#endif
