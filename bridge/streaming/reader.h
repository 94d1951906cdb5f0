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
 * at least every status interval (and more often than half the server's
 * wal_sender_timeout), also while it waits for a free batch. The flush
 * position it sends is only ever the applier's durable progress
 * (run_state.durable).
 *
 * A dead link: when nothing at all has come for a quarter of peer_timeout, the
 * status it sends asks the server for a reply, which a walsender sends at
 * once; when still nothing has come at half of it, it asks the server on a new
 * connection what the walsender does (peer_probe). A walsender that decodes a
 * large transaction is busy and stays silent (wal2json on PostgreSQL 15 and
 * older says nothing until the transaction is decoded): the reader goes on
 * waiting. One that waits for this side, one that is gone, or a server that
 * cannot be reached means the link is dead: the reader says so and ends with
 * READER_TRANSIENT, within about peer_timeout.
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
