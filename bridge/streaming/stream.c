/*
 * stream.c - streaming a wal2json slot over the replication protocol.
 *
 * CopyBoth messages (PostgreSQL's protocol-replication docs):
 *   'w' XLogData: dataStart(8) walEnd(8) sendTime(8) data...
 *   'k' keepalive: walEnd(8) sendTime(8) replyRequested(1)
 *   'r' standby status (ours): write(8) flush(8) apply(8) sendTime(8) reply(1)
 * Integers are big-endian. The flush position sent is only ever what the
 * caller says is durable on the target (DESIGN invariant 2).
 */
#include "bridge/streaming/stream.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bridge/base/clock.h"
#include "bridge/base/conf.h"
#include "bridge/base/log.h"
#include "bridge/pg/peer.h"

/* Seconds between the Unix epoch and PostgreSQL's, 2000-01-01. */
#define PG_EPOCH_OFFSET_S INT64_C(946684800)

/* Microseconds since PostgreSQL's epoch (2000-01-01), for status messages. */
static int64_t
pg_now(void)
{
    return clock_wall_us() - PG_EPOCH_OFFSET_S * 1000000;
}

static uint64_t
get_u64(const char *p)
{
    uint64_t v = 0;
    int i;

    for (i = 0; i < 8; i++)
        v = (v << 8) | (unsigned char) p[i];
    return v;
}

static void
put_u64(char *p, uint64_t v)
{
    int i;

    for (i = 7; i >= 0; i--)
    {
        p[i] = (char) (v & 0xff);
        v >>= 8;
    }
}

/* Append S to BUF as the replication grammar's quoted identifier ("..."). */
static bool
append_ident(char *buf, size_t len, size_t *n, const char *s)
{
    if (*n + 2 >= len)
        return false;
    buf[(*n)++] = '"';
    for (; *s != '\0'; s++)
    {
        if (*n + 3 >= len)
            return false;
        if (*s == '"')
            buf[(*n)++] = '"';
        buf[(*n)++] = *s;
    }
    buf[(*n)++] = '"';
    buf[*n] = '\0';
    return true;
}

/* Append "name" 'value' (value quoted as a string constant). */
static bool
append_option(char *buf, size_t len, size_t *n, const char *name, const char *value)
{
    int w = snprintf(buf + *n, len - *n, "%s\"%s\" '", buf[*n - 1] == '(' ? "" : ", ", name);

    if (w < 0 || (size_t) w >= len - *n)
        return false;
    *n += (size_t) w;
    for (; *value != '\0'; value++)
    {
        if (*n + 4 >= len)
            return false;
        if (*value == '\'')
            buf[(*n)++] = '\'';
        buf[(*n)++] = *value;
    }
    if (*n + 2 >= len)
        return false;
    buf[(*n)++] = '\'';
    buf[*n] = '\0';
    return true;
}

/* wal2json's add-tables: "schema.*" per schema, with its special characters
 * (',', '.', '*', '\', space) escaped by a backslash. */
static bool
add_tables(const char *schemas, char *out, size_t len)
{
    size_t n = 0;
    const char *p = schemas;

    while (*p != '\0')
    {
        const char *end = p + strcspn(p, ",");
        const char *stop = end, *q;

        while (p < end && *p == ' ')
            p++;
        if (p == end)
        {
            p = *end ? end + 1 : end;
            continue;
        }
        while (stop > p && stop[-1] == ' ')
            stop--; /* trailing spaces of a list item (not those inside a name) */
        if (n > 0)
            out[n++] = ',';
        for (q = p; q < stop; q++)
        {
            if (n + 6 >= len)
                return false;
            if (*q == ',' || *q == '.' || *q == '*' || *q == '\\' || *q == ' ')
                out[n++] = '\\';
            out[n++] = *q;
        }
        memcpy(out + n, ".*", 2);
        n += 2;
        p = *end ? end + 1 : end;
    }
    out[n] = '\0';
    return n > 0;
}

bool
stream_command(const struct stream_options *opts, char *buf, size_t len)
{
    char tables[1024];
    size_t n;
    int w;

    if (!add_tables(opts->schemas, tables, sizeof(tables)))
    {
        log_error("no schema to stream in \"%s\"; give --schemas, for example memori",
                  opts->schemas);
        return false;
    }
    n = (size_t) snprintf(buf, len, "START_REPLICATION SLOT ");
    if (!append_ident(buf, len, &n, opts->slot))
        return false;
    w = snprintf(buf + n, len - n, " LOGICAL " LSN_FMT " (", LSN_ARGS(opts->start));
    if (w < 0 || (size_t) w >= len - n)
        return false;
    n += (size_t) w;
    if (!append_option(buf, len, &n, "format-version", "2") ||
        !append_option(buf, len, &n, "include-xids", "1") ||
        !append_option(buf, len, &n, "include-lsn", "1") ||
        !append_option(buf, len, &n, "include-timestamp", "1") ||
        !append_option(buf, len, &n, "include-types", "1") ||
        !append_option(buf, len, &n, "include-type-oids", "1") ||
        !append_option(buf, len, &n, "include-column-positions", "1") ||
        !append_option(buf, len, &n, "add-tables", tables))
        return false;
    if (opts->filter_origins != NULL && *opts->filter_origins != '\0' &&
        !append_option(buf, len, &n, "filter-origins", opts->filter_origins))
        return false;
    if (n + 2 >= len)
        return false;
    buf[n++] = ')';
    buf[n] = '\0';
    return true;
}

/* One line for a refused START_REPLICATION, with the fix. */
static void
log_start_failure(struct stream *s, const char *slot, PGresult *res, bool busy_final)
{
    const char *state = pgconn_sqlstate(res);
    char msg[1024];
    const char *pid;

    pgconn_error(s->conn, res, msg, sizeof(msg));
    if (strcmp(state, "55006") == 0 && (pid = strstr(msg, "active for PID ")) != NULL)
    {
        s->active_pid = (int) strtol(pid + 15, NULL, 10);
        if (!busy_final)
            log_debug("slot \"%s\" is in use by PID %d on the %s; waiting for it", slot,
                      s->active_pid, s->role);
        else
            log_error("another bridge is streaming slot \"%s\" (PID %d on the %s); stop it first, "
                  "or give this one another --slot",
                  slot, s->active_pid, s->role);
    }
    else if (strcmp(state, "42704") == 0)
        log_error("replication slot \"%s\" does not exist on the %s: it was dropped, or never "
                  "made; fix: memori-bridge init (--force when the target was copied before: a "
                  "slot made by hand would start later and skip the changes in between)",
                  slot, s->role);
    else if (strstr(msg, "may not be used as an output plugin") != NULL)
        log_error("the %s does not allow wal2json as an output plugin: %s; run ALTER SYSTEM SET "
                  "output_plugin_libraries = 'pgoutput', 'test_decoding', 'wal2json'; SELECT "
                  "pg_reload_conf()",
                  s->role, msg);
    else if (strstr(msg, "could not access file \"wal2json\"") != NULL)
        log_error("wal2json is not installed on the %s: %s; install it (Debian: "
                  "postgresql-<major>-wal2json)",
                  s->role, msg);
    else if (strcmp(state, "42501") == 0)
        log_error("could not stream slot \"%s\" from the %s: %s; grant it: ALTER ROLE \"%s\" "
                  "WITH REPLICATION",
                  slot, s->role, msg, PQuser(s->conn));
    else
        log_error("could not stream slot \"%s\" from the %s: %s", slot, s->role, msg);
}

bool
stream_open(struct stream *s, const struct stream_options *opts, enum pgconn_failure *failure)
{
    char cmd[4096];
    PGresult *res;

    memset(s, 0, sizeof(*s));
    snprintf(s->slot, sizeof(s->slot), "%s", opts->slot);
    snprintf(s->role, sizeof(s->role), "%s", opts->role);
    *failure = PGCONN_FATAL;
    if (!stream_command(opts, cmd, sizeof(cmd)))
    {
        log_error("could not build START_REPLICATION for slot \"%s\"", opts->slot);
        return false;
    }
    s->dsn = opts->dsn;
    s->conn = pgconn_open(opts->dsn, opts->role, PGCONN_REPLICATION, "memori-bridge",
                          opts->connect_timeout_ms, failure);
    if (s->conn == NULL)
        return false;
    peer_guard(s->conn, opts->connect_timeout_ms, NULL, NULL);
    /* how long the walsender waits for our status before it gives up on us
     * (the reader sends it more often than half of that) */
    res = PQexec(s->conn, "SHOW wal_sender_timeout");
    if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1 &&
        !conf_parse_duration(PQgetvalue(res, 0, 0), &s->sender_timeout_ms))
        s->sender_timeout_ms = 0;
    PQclear(res);
    res = PQexec(s->conn, cmd);
    if (peer_unguard(s->conn))
    {
        log_error("the %s did not answer START_REPLICATION of slot \"%s\" within %.0f s; the "
                  "link to it is down",
                  s->role, opts->slot, (double) opts->connect_timeout_ms / 1000);
        *failure = PGCONN_TRANSIENT;
        PQclear(res);
        peer_close(s->conn);
        s->conn = NULL;
        return false;
    }
    if (PQresultStatus(res) != PGRES_COPY_BOTH)
    {
        log_start_failure(s, opts->slot, res, opts->busy_final);
        *failure = pgconn_classify(s->conn, res);
        if (s->active_pid != 0 && !opts->busy_final)
            *failure = PGCONN_BUSY;
        PQclear(res);
        PQfinish(s->conn);
        s->conn = NULL;
        return false;
    }
    PQclear(res);
    s->received = opts->start;
    s->last_status = s->last_recv = clock_now_us();
    log_debug("streaming slot \"%s\" from the %s at " LSN_FMT, opts->slot, opts->role,
              LSN_ARGS(opts->start));
    return true;
}

/* Wait until the socket is readable, WAKE_FD fires, or TIMEOUT_MS passes.
 * Returns 1 readable, 0 otherwise, -1 on a poll failure. */
static int
wait_readable(PGconn *conn, int timeout_ms, int wake_fd)
{
    struct pollfd fds[2];
    int nfds = 1, r;

    fds[0].fd = PQsocket(conn);
    fds[0].events = POLLIN;
    fds[0].revents = 0;
    if (wake_fd >= 0)
    {
        fds[1].fd = wake_fd;
        fds[1].events = POLLIN;
        fds[1].revents = 0;
        nfds = 2;
    }
    r = poll(fds, (nfds_t) nfds, timeout_ms);
    if (r < 0)
        return errno == EINTR ? 0 : -1;
    return (fds[0].revents & (POLLIN | POLLERR | POLLHUP)) ? 1 : 0;
}

int
stream_read(struct stream *s, struct stream_msg *msg, int timeout_ms, int wake_fd,
            enum pgconn_failure *failure)
{
    int len;

    *failure = PGCONN_TRANSIENT;
    if (s->copybuf != NULL)
    {
        PQfreemem(s->copybuf);
        s->copybuf = NULL;
    }
    for (;;)
    {
        len = PQgetCopyData(s->conn, &s->copybuf, 1);
        if (len > 0)
            break;
        if (len == 0)
        {
            int r;

            if (timeout_ms == 0)
                return 0;
            r = wait_readable(s->conn, timeout_ms, wake_fd);
            if (r < 0)
            {
                log_error("could not wait for the %s: %s", s->role, strerror(errno));
                return -1;
            }
            if (r == 0)
                return 0;
            if (PQconsumeInput(s->conn) == 0)
            {
                char err[512];

                s->copy_ended = true;
                log_error("lost the replication connection to the %s: %s", s->role,
                          pgconn_error(s->conn, NULL, err, sizeof(err)));
                return -1;
            }
            /* bytes came, if not a whole message yet (a large one may take a
             * while): the server is there */
            s->last_recv = clock_now_us();
            timeout_ms = 0; /* data came: read what is there, then return */
            continue;
        }
        s->copy_ended = true;
        if (len == -1)
        {
            /* the server ended the copy: fetch its reason */
            PGresult *res = PQgetResult(s->conn);
            char err[1024];

            if (res != NULL && PQresultStatus(res) == PGRES_COMMAND_OK)
                log_warning("the %s ended the replication stream of slot \"%s\" (shutting "
                            "down?)",
                            s->role, s->slot);
            else
            {
                log_error("the %s ended the replication stream of slot \"%s\": %s", s->role,
                          s->slot, pgconn_error(s->conn, res, err, sizeof(err)));
                if (res != NULL && strstr(err, "may not be used as an output plugin") != NULL)
                    log_error("hint: on the %s run ALTER SYSTEM SET output_plugin_libraries = "
                              "'pgoutput', 'test_decoding', 'wal2json'; SELECT pg_reload_conf()",
                              s->role);
                *failure = pgconn_classify(s->conn, res);
                if (*failure == PGCONN_FATAL && res != NULL &&
                    strncmp(pgconn_sqlstate(res), "57", 2) == 0)
                    *failure = PGCONN_TRANSIENT;
            }
            PQclear(res);
            return -1;
        }
        {
            char err[512];

            log_error("lost the replication connection to the %s: %s", s->role,
                      pgconn_error(s->conn, NULL, err, sizeof(err)));
        }
        return -1;
    }

    memset(msg, 0, sizeof(*msg));
    s->last_recv = clock_now_us();
    if (s->copybuf[0] == 'w' && len >= 25)
    {
        msg->kind = STREAM_XLOGDATA;
        msg->data_start = get_u64(s->copybuf + 1);
        msg->wal_end = get_u64(s->copybuf + 9);
        msg->send_time = (int64_t) get_u64(s->copybuf + 17);
        msg->data = s->copybuf + 25;
        msg->len = (size_t) len - 25;
        if (msg->data_start > s->received)
            s->received = msg->data_start;
        return 1;
    }
    if (s->copybuf[0] == 'k' && len >= 18)
    {
        msg->kind = STREAM_KEEPALIVE;
        msg->wal_end = get_u64(s->copybuf + 1);
        msg->send_time = (int64_t) get_u64(s->copybuf + 9);
        msg->reply_requested = s->copybuf[17] != 0;
        if (msg->wal_end > s->server_end)
            s->server_end = msg->wal_end;
        return 1;
    }
    log_error("unexpected replication message of type %d and %d bytes from the %s",
              (unsigned char) s->copybuf[0], len, s->role);
    *failure = PGCONN_FATAL;
    return -1;
}

void *
stream_keep_message(struct stream *s)
{
    void *buf = s->copybuf;

    s->copybuf = NULL;
    return buf;
}

void
stream_free_message(void *buf)
{
    PQfreemem(buf);
}

bool
stream_send_status(struct stream *s, lsn_t flushed, bool reply)
{
    char buf[1 + 8 * 4 + 1];
    lsn_t written = s->received > flushed ? s->received : flushed;

    if (s->conn == NULL)
        return false;
    buf[0] = 'r';
    put_u64(buf + 1, written);
    put_u64(buf + 9, flushed);
    put_u64(buf + 17, flushed);
    put_u64(buf + 25, (uint64_t) pg_now());
    buf[33] = reply ? 1 : 0;
    if (PQputCopyData(s->conn, buf, sizeof(buf)) <= 0 || PQflush(s->conn) != 0)
    {
        char err[512];

        log_error("could not send standby status to the %s: %s", s->role,
                  pgconn_error(s->conn, NULL, err, sizeof(err)));
        return false;
    }
    s->flushed_sent = flushed;
    s->last_status = clock_now_us();
    return true;
}

void
stream_close(struct stream *s, lsn_t flushed)
{
    if (s->copybuf != NULL)
    {
        PQfreemem(s->copybuf);
        s->copybuf = NULL;
    }
    if (s->conn == NULL)
        return;
    if (PQstatus(s->conn) == CONNECTION_OK && !s->copy_ended && flushed != LSN_INVALID)
    {
        if (stream_send_status(s, flushed, false))
            log_debug("confirmed " LSN_FMT " to slot \"%s\" on the %s", LSN_ARGS(flushed),
                      s->slot, s->role);
        PQputCopyEnd(s->conn, NULL);
        PQflush(s->conn);
    }
    peer_close(s->conn);
    s->conn = NULL;
}
