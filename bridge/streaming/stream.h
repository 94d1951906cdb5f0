/*
 * stream.h - the replication connection: START_REPLICATION of a wal2json
 * slot, XLogData and keepalives in, standby status out.
 *
 * The stream knows the protocol and the plugin options, nothing of what the
 * changes mean. Positions are kept apart, as DESIGN asks: what was received
 * (written), what the caller says is durable (flushed), and what the server
 * said its end is (server_end, from keepalives).
 *
 * Messages are read with PQgetCopyData, which hands over a buffer libpq
 * allocated; a message stays valid until the next stream_read, unless the
 * caller keeps its buffer (stream_keep_message). libpq itself keeps a copy
 * of the largest message in its input buffer for as long as the connection
 * lasts: it never shrinks that buffer.
 */
#ifndef MB_STREAM_H
#define MB_STREAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <libpq-fe.h>

#include "bridge/pg/pgconn.h"
#include "decoder/lsn.h"

/* What to stream. */
struct stream_options
{
    const char *dsn;            /* source connection string; borrowed */
    const char *role;           /* "source" or "target", for messages */
    const char *slot;           /* slot name; borrowed */
    const char *schemas;        /* comma-separated schemas (wal2json add-tables) */
    const char *filter_origins; /* comma-separated origin ids (roident), or NULL */
    lsn_t start;                /* START_REPLICATION position (0: the slot's own) */
    int64_t connect_timeout_ms; /* see pgconn_open */
    bool busy_final;            /* a slot in use is an error now, not PGCONN_BUSY */
};

enum stream_msg_kind
{
    STREAM_XLOGDATA = 'w', /* one wal2json message */
    STREAM_KEEPALIVE = 'k',
};

/* One message from the server. */
struct stream_msg
{
    enum stream_msg_kind kind;
    char *data;         /* XLogData: the wal2json message; borrowed until the next
                         * read, which may overwrite it (decoding in place) */
    size_t len;         /* bytes at data */
    lsn_t data_start;   /* XLogData: the WAL position of the message */
    lsn_t wal_end;      /* the server's end of WAL sent (keepalive), or the message's */
    int64_t send_time;  /* server clock, microseconds since 2000-01-01 */
    bool reply_requested; /* keepalive: the server asks for status now */
};

/* A replication connection. */
struct stream
{
    PGconn *conn;        /* owned */
    const char *dsn;     /* borrowed from the options: for a probe (peer.h) */
    char *copybuf;       /* owned by libpq: the last message read */
    char slot[128];      /* the slot streamed */
    char role[16];       /* "source" or "target" */
    lsn_t received;      /* end of the last XLogData received (written) */
    lsn_t server_end;    /* walEnd of the last keepalive */
    lsn_t flushed_sent;  /* flush position of the last status sent */
    int64_t last_status; /* monotonic microseconds of the last status sent */
    int64_t last_recv;   /* monotonic microseconds of the last bytes received */
    int64_t sender_timeout_ms; /* the server's wal_sender_timeout, read at the start
                                * (0: none, or unknown) */
    bool copy_ended;     /* the server ended the copy (or the connection died) */
    int active_pid;      /* when START_REPLICATION failed because the slot is
                          * active: the PID using it, else 0 */
};

/*
 * Connect in replication mode, read the server's wal_sender_timeout, and start
 * streaming OPTS->slot from OPTS->start with the wal2json options the bridge
 * relies on; the setting up must be done within OPTS->connect_timeout_ms (a
 * silent server fails it as a lost connection). On success
 * returns true and S owns the connection. On failure logs one line naming the
 * slot and the fix, sets *FAILURE, closes what it opened and returns false.
 */
bool stream_open(struct stream *s, const struct stream_options *opts,
                 enum pgconn_failure *failure);

/*
 * Read the next message into *MSG, waiting at most TIMEOUT_MS (0: do not
 * wait; -1: wait for ever) for it. WAKE_FD, when not -1, is watched too: it
 * ends the wait early. Returns 1 with a message, 0 when none came (timeout or
 * wake), and -1 on failure (logged; *FAILURE set): a lost connection, or the
 * server ending the stream.
 */
int stream_read(struct stream *s, struct stream_msg *msg, int timeout_ms, int wake_fd,
                enum pgconn_failure *failure);

/*
 * Hand the buffer of the last message read over to the caller, who frees it
 * with stream_free_message(), so that what was decoded from it in place
 * outlives the next stream_read. Returns NULL when there is none.
 */
void *stream_keep_message(struct stream *s);

/* Free a buffer from stream_keep_message(). */
void stream_free_message(void *buf);

/* Send standby status: written = S->received (at least FLUSHED), flushed and
 * applied = FLUSHED. REPLY asks the server to answer. Returns false on failure
 * (logged). */
bool stream_send_status(struct stream *s, lsn_t flushed, bool reply);

/* Send a last status with FLUSHED, end the copy, and close the connection.
 * Safe on a stream that was never opened or already closed. */
void stream_close(struct stream *s, lsn_t flushed);

/* Build the START_REPLICATION command for OPTS into BUF (LEN bytes). Returns
 * false when a name cannot be used (logged) or it does not fit. */
bool stream_command(const struct stream_options *opts, char *buf, size_t len);

#endif
