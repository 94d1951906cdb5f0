/*
 * reader.c - the reader thread.
 *
 * Each message is decoded in place, in the buffer libpq handed over, and
 * copied into the current batch; a message too large for a batch is not
 * copied but kept, its buffer handed to a batch of its own (batch.h). With
 * libpq's own copy in its input buffer, a large value is then in memory
 * twice on this side of the ring, which is as little as libpq allows.
 */
#include "bridge/streaming/reader.h"

#include <poll.h>
#include <stdlib.h>
#include <string.h>

#include "bridge/base/clock.h"
#include "bridge/base/log.h"
#include "bridge/pg/peer.h"
#include "decoder/w2j.h"

/* Status goes out at most this often when only the durable position moved. */
#define STATUS_MIN_US 1000000

struct reader
{
    struct stream *s;
    struct ring *ring;
    struct run_state *st;
    const struct conf *conf;
    struct w2j_parser parser;
    struct batch *cur;  /* being filled; NULL when none */
    bool in_xact;       /* between a B and its C */
    lsn_t last_idle;    /* position of the last IDLE item */
    int64_t interval;   /* status interval, microseconds */
    int64_t peer;       /* peer_timeout, microseconds */
    int64_t contact;    /* monotonic us of the last sign of life: a message, a busy
                         * server process, or the end of a wait for a free batch
                         * (the socket is not read meanwhile) */
    int64_t last_ping;  /* monotonic us of the last status that asked for a reply */
};

/* Microseconds until the next status is due (at least 0). */
static int64_t
until_status(const struct reader *r)
{
    int64_t left = r->s->last_status + r->interval - clock_now_us();

    return left > 0 ? left : 0;
}

static bool
status_if_due(struct reader *r)
{
    int64_t since = clock_now_us() - r->s->last_status;
    lsn_t durable = atomic_load(&r->st->durable);

    if (since >= r->interval ||
        (durable > r->s->flushed_sent && since >= (r->interval < STATUS_MIN_US ? r->interval
                                                                               : STATUS_MIN_US)))
        return stream_send_status(r->s, durable, false);
    return true;
}

static void
push(struct reader *r)
{
    if (r->cur != NULL && r->cur->nitems > 0)
    {
        ring_push(r->ring, r->cur);
        r->cur = NULL;
    }
}

/* The last sign of life from the server. */
static int64_t
last_contact(const struct reader *r)
{
    return r->s->last_recv > r->contact ? r->s->last_recv : r->contact;
}

/*
 * The silence check, while waiting for the server: ask for a reply after a
 * quarter of peer_timeout, ask the server about the walsender after half of
 * it (within a quarter). Returns false when the link is dead (logged).
 */
static bool
check_silence(struct reader *r)
{
    int64_t now = clock_now_us(), silence = now - last_contact(r);
    enum peer_state state;
    char why[1400];

    if (silence >= r->peer / 4 && now - r->last_ping >= r->peer / 4)
    {
        r->last_ping = now;
        if (!stream_send_status(r->s, atomic_load(&r->st->durable), true))
            return false;
    }
    if (silence < r->peer / 2)
        return true;
    state = peer_probe(r->s->dsn, PQbackendPID(r->s->conn), r->peer / 4000, why, sizeof(why));
    if (state == PEER_BUSY)
    {
        log_debug("the %s has sent nothing for %.1f s, but %s", r->s->role, (double) silence / 1e6,
                  why);
        r->contact = clock_now_us();
        return true;
    }
    log_error("the link to the %s is down: nothing came on the replication connection for "
              "%.1f s, not even an answer to a keepalive, and %s (peer_timeout %.0f s); "
              "reconnecting",
              r->s->role, (double) (clock_now_us() - last_contact(r)) / 1e6, why,
              (double) r->peer / 1e6);
    r->s->copy_ended = true; /* no goodbye on a dead link */
    return false;
}

/* Microseconds until the silence check is due again. */
static int64_t
until_check(const struct reader *r)
{
    int64_t step = r->peer / 8, left = last_contact(r) + step - clock_now_us();

    return left > 0 && left < step ? left : step;
}

/* Get a free batch, waiting (and keeping the status going) while there is
 * none. Returns 1, 0 when stopped, -1 on failure. */
static int
get_batch(struct reader *r)
{
    bool waited = false;

    while ((r->cur = ring_take_free(r->ring)) == NULL)
    {
        struct pollfd fds[2] = {{r->ring->free_fd, POLLIN, 0}, {r->st->stop_fd, POLLIN, 0}};

        if (atomic_load(&r->st->stop))
            return 0;
        waited = true;
        if (poll(fds, 2, (int) (until_status(r) / 1000) + 1) > 0 && (fds[0].revents & POLLIN))
            ring_clear(r->ring->free_fd);
        if (!status_if_due(r))
            return -1;
    }
    if (waited)
        r->contact = clock_now_us(); /* the socket was not read meanwhile */
    return 1;
}

/* Add a record (REC non-NULL) or an IDLE item at POS. Returns 1, 0 when
 * stopped, -1 on failure. */
static int
add(struct reader *r, const struct w2j_record *rec, lsn_t pos, uint32_t bytes)
{
    int tries;

    for (tries = 0; tries < 2; tries++)
    {
        int g, added;

        if (r->cur == NULL && (g = get_batch(r)) <= 0)
            return g;
        added = rec ? batch_add_record(r->cur, rec, pos, bytes) : batch_add_idle(r->cur, pos);
        if (added != 0)
            return added;
        push(r); /* full: hand it on, and add to a fresh one */
    }
    return -1;
}

/* Add REC, decoded in place from the last message read and too large to
 * copy, to a fresh batch that keeps the message's buffer. Returns 1, 0 when
 * stopped, -1 on failure. */
static int
add_kept(struct reader *r, const struct w2j_record *rec, lsn_t pos, uint32_t bytes)
{
    void *msg;
    int g, added;

    push(r);
    if (r->cur == NULL && (g = get_batch(r)) <= 0)
        return g;
    msg = stream_keep_message(r->s);
    added = batch_hold_record(r->cur, rec, pos, bytes, msg, stream_free_message);
    if (added <= 0)
        stream_free_message(msg);
    return added == 1 ? 1 : -1;
}

enum reader_outcome
reader_run(struct stream *s, struct ring *ring, struct run_state *st, const struct conf *conf)
{
    struct reader r;
    enum reader_outcome out = READER_STOPPED;

    memset(&r, 0, sizeof(r));
    r.s = s;
    r.ring = ring;
    r.st = st;
    r.conf = conf;
    r.interval = conf->status_interval_ms * 1000;
    if (s->sender_timeout_ms > 0 && r.interval > s->sender_timeout_ms * 500)
    {
        /* the walsender gives up on a standby silent for wal_sender_timeout */
        r.interval = s->sender_timeout_ms * 500;
        log_debug("the %s's wal_sender_timeout is %.1f s: standby status every %.1f s", s->role,
                  (double) s->sender_timeout_ms / 1000, (double) r.interval / 1e6);
    }
    r.peer = conf->peer_timeout_ms * 1000;
    r.contact = r.last_ping = clock_now_us();
    w2j_parser_init(&r.parser, NULL, NULL);
    while (!atomic_load(&st->stop))
    {
        struct stream_msg msg;
        struct w2j_record rec;
        struct w2j_error err;
        enum pgconn_failure failure;
        int got, added;

        if (!status_if_due(&r))
        {
            out = READER_TRANSIENT;
            break;
        }
        {
            int64_t wait = until_status(&r) < until_check(&r) ? until_status(&r) : until_check(&r);

            got = stream_read(s, &msg,
                              r.cur != NULL && r.cur->nitems > 0 ? 0 : (int) (wait / 1000) + 1,
                              st->stop_fd, &failure);
        }
        if (got < 0)
        {
            out = failure == PGCONN_TRANSIENT ? READER_TRANSIENT : READER_FATAL;
            break;
        }
        if (got == 0)
        {
            push(&r); /* nothing more for now: let the applier have it */
            if (!atomic_load(&st->stop) && !check_silence(&r))
            {
                out = READER_TRANSIENT;
                break;
            }
            continue;
        }
        atomic_store(&st->contact_us, s->last_recv);
        if (msg.kind == STREAM_KEEPALIVE)
        {
            atomic_store(&st->server_end, msg.wal_end);
            if (msg.reply_requested &&
                !stream_send_status(s, atomic_load(&st->durable), false))
            {
                out = READER_TRANSIENT;
                break;
            }
            if (!r.in_xact)
            {
                if (msg.wal_end > s->received)
                    s->received = msg.wal_end;
                atomic_store(&st->reader_idle, true);
                if (msg.wal_end > r.last_idle)
                {
                    r.last_idle = msg.wal_end;
                    if ((added = add(&r, NULL, msg.wal_end, 0)) <= 0)
                    {
                        out = added == 0 ? READER_STOPPED : READER_FATAL;
                        break;
                    }
                }
            }
            continue;
        }
        atomic_store(&st->reader_idle, false);
        atomic_store(&st->received, msg.data_start);
        if (!w2j_parse_in_place(&r.parser, msg.data, msg.len, &rec, &err))
        {
            log_error("could not decode the message at " LSN_FMT " of slot \"%s\": byte %zu: %s",
                      LSN_ARGS(msg.data_start), s->slot, err.offset, err.message);
            out = READER_FATAL;
            break;
        }
        if (rec.action == W2J_BEGIN)
            r.in_xact = true;
        else if (rec.action == W2J_COMMIT)
            r.in_xact = false;
        if (batch_record_bytes(&rec) > (size_t) conf->ring_batch_bytes)
            added = add_kept(&r, &rec, msg.data_start, (uint32_t) msg.len);
        else
            added = add(&r, &rec, msg.data_start, (uint32_t) msg.len);
        if (added <= 0)
        {
            if (added < 0)
                log_error("out of memory queueing the message at " LSN_FMT,
                          LSN_ARGS(msg.data_start));
            out = added == 0 ? READER_STOPPED : READER_FATAL;
            break;
        }
    }
    if (out == READER_STOPPED)
        push(&r);
    w2j_parser_free(&r.parser);
    return out;
}
