/*
 * run_int.h - what the two files of "run" share: the supervisor's state.
 *
 *   run.c          sessions, signals, reconnection, following a switch
 *   run_monitor.c  watching both sides: lag lines, the status row, the
 *                  sequences, and the switch record
 */
#ifndef MB_RUN_INT_H
#define MB_RUN_INT_H

#include <stdbool.h>
#include <stdint.h>

#include <libpq-fe.h>

#include "bridge/base/conf.h"
#include "bridge/pg/direction.h"
#include "bridge/streaming/ring.h"
#include "bridge/streaming/state.h"
#include "decoder/lsn.h"

enum session_outcome
{
    SESSION_STOPPED = 0, /* signal: exit 0 */
    SESSION_REACHED,     /* --stop-at reached: exit 0 */
    SESSION_TRANSIENT,   /* reconnect after a delay */
    SESSION_BUSY,        /* the slot or origin is in use: try again shortly */
    SESSION_REFUSED,     /* replay carefully */
    SESSION_FATAL,       /* exit 1 */
    SESSION_SWITCH,      /* a switch marker was applied: hand over to the other direction */
    SESSION_SCHEMA,      /* a schema change the bridge does not follow: hold, retry */
};

/* Options of run itself (not settings). */
struct run_options
{
    lsn_t stop_at; /* 0: run until stopped */
};

/* Everything a session needs and what it leaves behind. */
struct supervisor
{
    const struct conf *conf;
    struct run_options ro;
    struct direction dir;     /* which way now */
    bool drain;               /* cutover's or rollback's own drain: stop at the switch */
    bool follow;              /* a finished switch was seen: stop, and stream the other way */
    int64_t last_switch_check;
    char switch_token[64];    /* the token of the last switch marker applied */
    struct ring ring;
    struct run_state st;
    int sig_fd;               /* signalfd of SIGINT, SIGTERM, SIGHUP */
    bool own_sig_fd;          /* made here (else borrowed from the command) */
    bool signalled;           /* a stop signal came */
    bool careful;             /* the next session replays carefully */
    bool busy_final;          /* the next session reports a busy slot or origin */
    lsn_t careful_until;
    PGconn *monitor;          /* the streaming side: its current LSN, its sequences */
    PGconn *tmonitor;         /* the applying side: its sequences, the status reports */
    bool status_table;        /* the applying side has memori_bridge.stream_status */
    int64_t last_status;      /* monotonic us of the last status report */
    int64_t monitor_retry[2]; /* when to try connecting monitor, tmonitor again */
    int64_t last_seq_sync;    /* monotonic us of the last sequence sync */
    char note[2][64];         /* application_name set on monitor, tmonitor ("" as opened) */

    /* the last session's server processes: ended if they still hold the slot
     * or the claim on the direction after that session lost its link */
    int prev_pid[2];     /* on the streaming side, on the applying side */
    int64_t prev_opened; /* monotonic us when both were connected */
    bool prev_lost;      /* the last session ended with a lost link */

    uint64_t schema_reported; /* 1 + the version of the schema stop last written, 0 none
                               * yet (run_schema.c) */
    char schema_logged[2048]; /* the last stop logged as an error, not repeated */

    /* lag-line rates */
    uint64_t last_changes, last_xacts;
    int64_t last_line;
};

/* Ask both threads to stop at their next safe point. */
void run_request_stop(struct supervisor *sv);

/* ---- run_monitor.c ----------------------------------------------------- */

/* The streaming side's monitoring connection, (re)opened when needed; FORCE
 * tries at once, rather than after the retry interval and not while that
 * side's link is known to be down. */
bool run_ensure_monitor(struct supervisor *sv, bool force);

/* The applying side's monitoring connection, the same way. */
bool run_ensure_tmonitor(struct supervisor *sv, bool force);

/* Before a session, on the monitors (opened within connect_timeout, then
 * guarded by peer_timeout): may a stream go on from where the side applied to
 * stands (continuity.h)? FILTER (LEN bytes) gets what wal2json leaves out
 * (the other direction's origin id). Returns false with *OUT: TRANSIENT when
 * a side cannot be reached (its link recorded as down), FATAL when the stream
 * may not go on (logged). */
bool run_check_sides(struct supervisor *sv, char *filter, size_t len, enum session_outcome *out);

/* A busy slot or claim right after a session lost its link: the server may
 * still run that session's process, which holds it until the server notices
 * the link is gone (its own keepalives: two hours by default). This bridge's
 * own process, and nobody else's (peer_end_backend): end it. Returns true
 * when one was ended. */
bool run_end_lost_session(struct supervisor *sv);

/* Which link is down now (enum state_link): for the metrics, the lag lines,
 * the status row, and a note on the other side (run_monitor.c). */
void run_set_link(struct supervisor *sv, int link);

/* A lag line, now. */
void run_lag_line(struct supervisor *sv);

/* Bring the target's sequences up to the source's (forward only); NOW: even
 * if the last time was recent. */
void run_sync_sequences(struct supervisor *sv, bool now);

/* Once a second: the lag figures for the metrics, and the status row. */
void run_sample(struct supervisor *sv);

/* Follow a switch that finished while this bridge did not wait for it. */
void run_check_switch(struct supervisor *sv);

/* Close the monitoring connections, taking this bridge's status row away. */
void run_drop_monitors(struct supervisor *sv);

/* ---- run_schema.c ------------------------------------------------------ */

/* A session ended on a schema change (STOP): log it (once), put it in force. */
void run_schema_stopped(struct supervisor *sv, const struct schema_stop *stop);

/* While streaming: a stop in force whose transaction is applied now is
 * over; and the applied side's record of it (memori_bridge.schema_stop)
 * follows the stop in force. */
void run_schema_watch(struct supervisor *sv);

/* Hold after a schema stop until the next try (the status interval), keeping
 * the lag figures and the status row. Returns false on a stop signal. */
bool run_schema_hold(struct supervisor *sv);

#endif
