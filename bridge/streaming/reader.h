/*
 * reader.h - the reader thread: replication messages in, decoded batches out.
 *
 * It receives XLogData and keepalives from the stream, decodes each wal2json
 * message (decoder/w2j.h), copies it into the current batch, and hands full
 * batches (and partial ones, whenever the socket has nothing more for now) to
 * the applier through the ring. A keepalive outside any transaction becomes an
 * IDLE item, so that the applier can confirm positions the server skipped.
 *
 * It answers keepalives that ask for a reply at once, and sends standby status
 * at least every status interval, also while it waits for a free batch. The
 * flush position it sends is only ever the applier's durable progress
 * (run_state.durable).
 */
#ifndef MB_READER_H
#define MB_READER_H

#include "bridge/base/conf.h"
#include "bridge/streaming/ring.h"
#include "bridge/streaming/state.h"
#include "bridge/streaming/stream.h"

enum reader_outcome
{
    READER_STOPPED = 0, /* stop requested */
    READER_TRANSIENT,   /* the connection was lost: reconnect */
    READER_FATAL,       /* cannot go on (logged) */
};

/* The reader thread's body. S is an open stream; the reader uses it alone
 * until it returns. */
enum reader_outcome reader_run(struct stream *s, struct ring *ring, struct run_state *st,
                               const struct conf *conf);

#endif
