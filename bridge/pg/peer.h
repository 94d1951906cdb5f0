/*
 * peer.h - telling a dead peer from a busy one.
 *
 * A link can die without a word: a firewall starts dropping packets, a NAT
 * forgets the connection, a host freezes. TCP then tells nobody (its
 * retransmissions give up after about 15 minutes, its keepalives are off by
 * default) and a libpq call waits for ever. One setting, peer_timeout
 * (default 30 s), drives three defences:
 *
 *   - the kernel checks every connection (pgconn.c): TCP keepalives
 *     (keepalives_idle T/2, keepalives_interval T/6, keepalives_count 3, so an
 *     idle dead link is found after T) and tcp_user_timeout T (data sent and
 *     not acknowledged for T ends the connection);
 *   - a wait on a peer that may legitimately be slow (the replication stream,
 *     the pipeline's results), silent for half of T (the stream asks for a
 *     reply after a quarter of it, the applier sends a Sync every quarter
 *     while idle), asks the server, on a connection of its own, what the
 *     process behind the silent connection is doing (peer_probe). A
 *     server process that works (on the CPU, on a lock, on I/O) explains the
 *     silence; one that waits for this side while this side waits for it
 *     means the link between them is dead, whatever TCP says: a proxy or a
 *     middlebox can keep both TCP connections alive and still pass nothing;
 *   - a call that cannot legitimately take long (a monitor query, a catalog
 *     read) is guarded (peer_guard): past its time its socket is shut down,
 *     and the call returns as if the connection were lost.
 *
 * After a link died, the server may keep the process of the dead connection
 * for a long while (it learns only from its own keepalives, hours by
 * default), holding the slot or the claim on the direction: peer_end_backend
 * ends it, once the bridge knows it is its own.
 */
#ifndef MB_PEER_H
#define MB_PEER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <libpq-fe.h>

/*
 * Guard the next libpq calls on CONN: when WITHIN_MS pass before
 * peer_unguard(CONN), CONN's socket is shut down, so that a call still
 * waiting returns as if the connection were lost (and every later one fails
 * at once). ON_EXPIRE, when not NULL, is called just before, once, from the
 * guard's own thread with ARG: it may only log and set flags. A connection
 * has one guard at a time; guarding it again moves the deadline. Unguard
 * CONN before PQfinish (or close it with peer_close).
 */
void peer_guard(PGconn *conn, int64_t within_ms, void (*on_expire)(void *), void *arg);

/* End CONN's guard. Returns true when it had expired (the socket is shut). */
bool peer_unguard(PGconn *conn);

/* Close CONN without waiting on a dead peer: end its guard, and let the
 * goodbye message go only if the socket takes it at once. NULL is fine. */
void peer_close(PGconn *conn);

/* What the server process behind a silent connection is doing. */
enum peer_state
{
    PEER_BUSY = 0,    /* working (CPU, a lock, I/O): the silence is explained */
    PEER_WAITING,     /* waiting for the client, or idle: the link is dead */
    PEER_GONE,        /* no such process any more: the connection is dead */
    PEER_UNREACHABLE, /* no answer from the server on a new connection either */
};

/*
 * Ask the server of DSN, on a new connection, what its process PID is doing,
 * within about WITHIN_MS. Writes a few words on it ("it waits for this side
 * (ClientRead)", "no answer: timeout expired") into WHY (LEN bytes). Logs
 * nothing.
 */
enum peer_state peer_probe(const char *dsn, int pid, int64_t within_ms, char *why, size_t len);

/*
 * On CONN's server, end process PID when it is one of the connected role's
 * and started at least STARTED_AGO_MS ago (so that a PID reused since cannot
 * match), and wait (up to 5 s, signalling it again each second) until it is
 * gone. Returns true when it ended one.
 */
bool peer_end_backend(PGconn *conn, int pid, int64_t started_ago_ms);

#endif
