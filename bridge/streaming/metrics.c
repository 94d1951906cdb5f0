/*
 * metrics.c - the Prometheus endpoint of "run", on libmicrohttpd.
 *
 * libmicrohttpd runs its own thread and calls answer() for each request; a
 * scrape renders the figures at that moment from atomics (see metrics.h).
 */
#include "bridge/streaming/metrics.h"

#include <dirent.h>
#include <errno.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <microhttpd.h>

#include "bridge/base/clock.h"
#include "bridge/base/log.h"
#include "bridge/pg/direction.h"

#ifndef MB_VERSION
#define MB_VERSION "unknown"
#endif

#define CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

struct metrics
{
    struct MHD_Daemon *daemon; /* owned */
    const struct conf *conf;   /* borrowed from run */
    struct run_state *st;      /* borrowed from run */
    struct ring *ring;         /* borrowed from run */
    char last_error[256];      /* libmicrohttpd's last complaint, for the log line */
};

static const char *const action_names[STATE_NACTIONS] = {"insert", "update", "delete",
                                                         "truncate"};

bool
metrics_parse_addr(const char *addr, char *host, size_t host_len, char *port, size_t port_len)
{
    const char *h = addr, *colon;
    size_t hlen;
    char *end;
    long p;

    if (addr == NULL || addr[0] == '\0')
        return false;
    if (addr[0] == '[')
    {
        const char *close = strchr(addr, ']');

        if (close == NULL || close[1] != ':')
            return false;
        h = addr + 1;
        hlen = (size_t) (close - h);
        colon = close + 1;
    }
    else
    {
        colon = strrchr(addr, ':');
        if (colon == NULL || strchr(addr, ':') != colon)
            return false; /* none, or an IPv6 address without brackets */
        hlen = (size_t) (colon - addr);
    }
    if (hlen == 0 || hlen >= host_len || colon[1] == '\0')
        return false;
    errno = 0;
    p = strtol(colon + 1, &end, 10);
    if (errno != 0 || *end != '\0' || p < 0 || p > 65535 || colon[1] == '-' || colon[1] == '+')
        return false;
    memcpy(host, h, hlen);
    host[hlen] = '\0';
    snprintf(port, port_len, "%ld", p);
    return true;
}

/* ---- rendering -------------------------------------------------------- */

static void
family(FILE *f, const char *name, const char *type, const char *help)
{
    fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void
sample_u64(FILE *f, const char *name, const char *type, const char *help, uint64_t v)
{
    family(f, name, type, help);
    fprintf(f, "%s %llu\n", name, (unsigned long long) v);
}

static void
sample_double(FILE *f, const char *name, const char *type, const char *help, double v)
{
    family(f, name, type, help);
    fprintf(f, "%s %.6f\n", name, v);
}

/* A label value, escaped as the text format wants (\\, \", \n). */
static void
label_value(FILE *f, const char *s)
{
    for (; *s != '\0'; s++)
    {
        if (*s == '\\' || *s == '"')
            fputc('\\', f);
        if (*s == '\n')
        {
            fputs("\\n", f);
            continue;
        }
        fputc(*s, f);
    }
}

/* The process_* figures every Prometheus client library exports. */
static void
process_metrics(FILE *f)
{
    struct rusage ru;
    struct rlimit rl;
    char buf[1024];
    FILE *stat;
    DIR *dir;
    long tick = sysconf(_SC_CLK_TCK), page = sysconf(_SC_PAGESIZE);

    if (getrusage(RUSAGE_SELF, &ru) == 0)
        sample_double(f, "process_cpu_seconds_total", "counter",
                      "Total user and system CPU time spent in seconds.",
                      (double) ru.ru_utime.tv_sec + (double) ru.ru_utime.tv_usec / 1e6 +
                          (double) ru.ru_stime.tv_sec + (double) ru.ru_stime.tv_usec / 1e6);

    stat = fopen("/proc/self/stat", "r");
    if (stat != NULL)
    {
        size_t n = fread(buf, 1, sizeof(buf) - 1, stat);
        const char *p;
        unsigned long long field[64] = {0};
        int k = 0;

        fclose(stat);
        buf[n] = '\0';
        /* after "pid (comm) ", field 3 onwards; comm may hold anything but ')' last */
        p = strrchr(buf, ')');
        if (p != NULL && p[1] == ' ')
        {
            p += 2;
            while (*p != '\0' && k < 64)
            {
                char *end;

                field[k++] = strtoull(p, &end, 10);
                if (end == p)
                    end = (char *) strchr(p, ' ');
                if (end == NULL)
                    break;
                p = end + (*end == ' ');
            }
        }
        if (k > 22 && page > 0)
        {
            /* field N of proc(5) is field[N - 3] */
            sample_u64(f, "process_virtual_memory_bytes", "gauge",
                       "Virtual memory size in bytes.", field[23 - 3]);
            sample_u64(f, "process_resident_memory_bytes", "gauge",
                       "Resident memory size in bytes.", field[24 - 3] * (unsigned long long) page);
        }
        if (k > 20 && tick > 0)
        {
            FILE *ps = fopen("/proc/stat", "r");
            unsigned long long btime = 0;

            while (ps != NULL && fgets(buf, sizeof(buf), ps) != NULL)
                if (sscanf(buf, "btime %llu", &btime) == 1)
                    break;
            if (ps != NULL)
                fclose(ps);
            if (btime > 0)
                sample_double(f, "process_start_time_seconds", "gauge",
                              "Start time of the process since unix epoch in seconds.",
                              (double) btime + (double) field[22 - 3] / (double) tick);
        }
    }
    dir = opendir("/proc/self/fd");
    if (dir != NULL)
    {
        uint64_t fds = 0;
        struct dirent *e;

        while ((e = readdir(dir)) != NULL)
            if (e->d_name[0] != '.')
                fds++;
        closedir(dir);
        sample_u64(f, "process_open_fds", "gauge", "Number of open file descriptors.",
                   fds > 0 ? fds - 1 : 0); /* less the one reading the directory */
    }
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY)
        sample_u64(f, "process_max_fds", "gauge", "Maximum number of open file descriptors.",
                   (uint64_t) rl.rlim_cur);
}

char *
metrics_render(const struct conf *conf, struct run_state *st, struct ring *ring)
{
    char *out = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&out, &len);
    struct direction d;
    int ntables = atomic_load(&st->ntables), i, a;
    uint64_t v;
    int64_t s;

    if (f == NULL)
        return NULL;
    direction_init(&d, conf, atomic_load(&st->reverse));

    family(f, "memori_bridge_info", "gauge",
           "The bridge: its version, the slot it streams and which way (always 1).");
    fputs("memori_bridge_info{version=\"", f);
    label_value(f, MB_VERSION);
    fputs("\",slot=\"", f);
    label_value(f, d.slot);
    fputs("\",origin=\"", f);
    label_value(f, d.origin);
    fprintf(f, "\",direction=\"%s\",from=\"%s\",to=\"%s\"} 1\n", direction_name(&d), d.from_role,
            d.to_role);
    sample_u64(f, "memori_bridge_streaming", "gauge",
               "1 while a session streams the slot, 0 while connecting or waiting to retry.",
               atomic_load(&st->streaming));
    {
        int down = atomic_load(&st->link_down);

        family(f, "memori_bridge_link_up", "gauge",
               "0 while the link to that side is down (lost, or cannot be opened), else 1.");
        fprintf(f, "memori_bridge_link_up{side=\"%s\"} %d\n", d.from_role, down != STATE_LINK_FROM);
        fprintf(f, "memori_bridge_link_up{side=\"%s\"} %d\n", d.to_role, down != STATE_LINK_TO);
        if (down != STATE_LINK_NONE)
            sample_double(f, "memori_bridge_link_down_seconds", "gauge",
                          "How long the link that is down has been down.",
                          (double) (clock_wall_us() - atomic_load(&st->link_down_us)) / 1e6);
    }
    sample_u64(f, "memori_bridge_caught_up", "gauge",
               "1 when everything the streaming side had was applied, at the last sample.",
               atomic_load(&st->caught_up));

    sample_u64(f, "memori_bridge_applied_lsn", "gauge",
               "WAL position (in bytes) of the source up to which changes are committed on "
               "the applying side.",
               atomic_load(&st->applied));
    sample_u64(f, "memori_bridge_durable_lsn", "gauge",
               "WAL position (in bytes) up to which the applied changes are durable; the flush "
               "position confirmed to the slot.",
               atomic_load(&st->durable));
    if ((v = atomic_load(&st->received)) != 0)
        sample_u64(f, "memori_bridge_received_lsn", "gauge",
                   "WAL position (in bytes) of the last message received from the slot.", v);
    if ((v = atomic_load(&st->source_lsn)) != 0)
        sample_u64(f, "memori_bridge_source_lsn", "gauge",
                   "Current WAL position (in bytes) of the streaming side, at the last sample.",
                   v);
    if ((s = atomic_load(&st->lag_bytes)) >= 0)
        sample_u64(f, "memori_bridge_lag_bytes", "gauge",
                   "WAL bytes of the streaming side not yet applied, at the last sample.",
                   (uint64_t) s);
    /* while a session streams with its links up, the last sample's; else now,
     * so that it keeps growing whatever the supervisor is doing */
    s = atomic_load(&st->streaming) && atomic_load(&st->link_down) == STATE_LINK_NONE
            ? atomic_load(&st->lag_us)
            : state_lag_us(st, clock_wall_us());
    if (s >= 0)
        sample_double(f, "memori_bridge_lag_seconds", "gauge",
                      "Seconds since the oldest transaction not known to be applied was "
                      "committed on the source (0 when caught up); it grows while a link is "
                      "down.",
                      (double) s / 1e6);
    if ((s = atomic_load(&st->applied_commit_us)) > 0)
        sample_double(f, "memori_bridge_last_commit_timestamp_seconds", "gauge",
                      "Source commit time of the last transaction applied (of the one being "
                      "applied while a large one is under way), Unix seconds.",
                      (double) s / 1e6);
    if ((s = atomic_load(&st->last_apply_us)) > 0)
        sample_double(f, "memori_bridge_last_apply_timestamp_seconds", "gauge",
                      "When the bridge last committed on the applying side, Unix seconds.",
                      (double) s / 1e6);

    sample_u64(f, "memori_bridge_changes_applied_total", "counter",
               "Row changes committed on the applying side, all tables.",
               atomic_load(&st->changes));
    sample_u64(f, "memori_bridge_changes_written_total", "counter",
               "Row changes sent to the applying side, committed or not yet.",
               atomic_load(&st->written));
    sample_u64(f, "memori_bridge_transactions_applied_total", "counter",
               "Source transactions committed on the applying side.", atomic_load(&st->xacts));

    family(f, "memori_bridge_table_changes_applied_total", "counter",
           "Row changes committed on the applying side, per table and action (a truncate "
           "counts 1).");
    for (i = 0; i < ntables && i < STATE_MAX_TABLES; i++)
        for (a = 0; a < STATE_NACTIONS; a++)
        {
            fputs("memori_bridge_table_changes_applied_total{table=\"", f);
            label_value(f, st->tables[i].name);
            fprintf(f, "\",action=\"%s\"} %llu\n", action_names[a],
                    (unsigned long long) atomic_load(&st->tables[i].n[a]));
        }
    family(f, "memori_bridge_table_transactions_applied_total", "counter",
           "Source transactions committed on the applying side that changed the table.");
    for (i = 0; i < ntables && i < STATE_MAX_TABLES; i++)
    {
        fputs("memori_bridge_table_transactions_applied_total{table=\"", f);
        label_value(f, st->tables[i].name);
        fprintf(f, "\"} %llu\n", (unsigned long long) atomic_load(&st->tables[i].xacts));
    }

    {
        struct schema_stop stop;
        bool stopped = schema_stop_get(&st->schema, &stop, NULL);

        sample_u64(f, "memori_bridge_schema_stopped", "gauge",
                   "1 while a schema change the bridge does not follow by itself holds the "
                   "stream (memori_bridge_schema_stop_info says which), else 0.",
                   stopped);
        family(f, "memori_bridge_schema_stop_info", "gauge",
               "The schema stop in force: its table and the statement to run on the applying "
               "side (always 1; absent without a stop).");
        if (stopped)
        {
            fputs("memori_bridge_schema_stop_info{table=\"", f);
            label_value(f, stop.table);
            fputs("\",statement=\"", f);
            label_value(f, stop.statement);
            fputs("\"} 1\n", f);
        }
    }
    sample_u64(f, "memori_bridge_schema_statements_total", "counter",
               "Statements run on the applying side to follow the schema of the side streamed "
               "from (new columns and tables, widened types, indexes, constraints).",
               atomic_load(&st->ddl_statements));
    sample_u64(f, "memori_bridge_schema_left_out_total", "counter",
               "Columns and tables whose values the stream carried after they were dropped on "
               "the side streamed from, left out (each is also a warning line).",
               atomic_load(&st->ddl_left_out));
    sample_u64(f, "memori_bridge_ring_batches_queued", "gauge",
               "Batches of changes received and waiting for the applier.", ring_fill(ring));
    sample_u64(f, "memori_bridge_ring_batches_capacity", "gauge",
               "Batches in circulation between the reader and the applier.", ring->nbatches);
    sample_u64(f, "memori_bridge_sessions_total", "counter",
               "Sessions (replication connection and apply connection) that got streaming.",
               atomic_load(&st->sessions));
    sample_u64(f, "memori_bridge_reconnects_total", "counter",
               "Sessions started again after a lost connection.", atomic_load(&st->reconnects));
    sample_u64(f, "memori_bridge_errors_total", "counter", "Error lines logged.",
               log_count(LOG_ERROR));
    sample_u64(f, "memori_bridge_warnings_total", "counter", "Warning lines logged.",
               log_count(LOG_WARNING));
    process_metrics(f);
    if (fclose(f) != 0)
    {
        free(out);
        return NULL;
    }
    return out;
}

/* ---- serving ---------------------------------------------------------- */

static enum MHD_Result
reply(struct MHD_Connection *conn, unsigned int code, char *body, bool owned,
      const char *allow)
{
    struct MHD_Response *r =
        MHD_create_response_from_buffer(strlen(body), body,
                                        owned ? MHD_RESPMEM_MUST_FREE : MHD_RESPMEM_PERSISTENT);
    enum MHD_Result ok;

    if (r == NULL)
    {
        if (owned)
            free(body);
        return MHD_NO;
    }
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE,
                            code == MHD_HTTP_OK && owned ? CONTENT_TYPE
                                                         : "text/plain; charset=utf-8");
    if (allow != NULL)
        MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, allow);
    ok = MHD_queue_response(conn, code, r);
    MHD_destroy_response(r);
    return ok;
}

static enum MHD_Result
answer(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
       const char *version, const char *upload_data, size_t *upload_data_size, void **req_cls)
{
    struct metrics *m = cls;
    char *body;

    (void) version;
    (void) upload_data;
    (void) upload_data_size;
    (void) req_cls;
    if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 && strcmp(method, MHD_HTTP_METHOD_HEAD) != 0)
        return reply(conn, MHD_HTTP_METHOD_NOT_ALLOWED, "only GET and HEAD\n", false, "GET, HEAD");
    if (strcmp(url, "/") == 0)
        return reply(conn, MHD_HTTP_OK, "memori-bridge: the metrics are at /metrics\n", false,
                     NULL);
    if (strcmp(url, "/metrics") != 0)
        return reply(conn, MHD_HTTP_NOT_FOUND, "not found; the metrics are at /metrics\n", false,
                     NULL);
    body = metrics_render(m->conf, m->st, m->ring);
    if (body == NULL)
        return reply(conn, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory\n", false, NULL);
    return reply(conn, MHD_HTTP_OK, body, true, NULL);
}

/* libmicrohttpd's own messages: kept for the error line, and logged at debug. */
static void
mhd_logger(void *cls, const char *fmt, va_list ap)
{
    struct metrics *m = cls;
    size_t n;

    vsnprintf(m->last_error, sizeof(m->last_error), fmt, ap);
    n = strlen(m->last_error);
    while (n > 0 && (m->last_error[n - 1] == '\n' || m->last_error[n - 1] == '.'))
        m->last_error[--n] = '\0';
    log_debug("metrics endpoint: %s", m->last_error);
}

struct metrics *
metrics_start(const struct conf *conf, struct run_state *st, struct ring *ring)
{
    char host[256], port[8];
    struct addrinfo hints = {0}, *ai = NULL;
    struct metrics *m;
    const union MHD_DaemonInfo *info;
    unsigned int flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_AUTO | MHD_USE_ERROR_LOG;
    int rc;

    if (!metrics_parse_addr(conf->metrics_addr, host, sizeof(host), port, sizeof(port)))
    {
        log_error("metrics_addr \"%s\" is not HOST:PORT; write it as 127.0.0.1:9187 "
                  "(or [::1]:9187)",
                  conf->metrics_addr);
        return NULL;
    }
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICSERV;
    rc = getaddrinfo(host, port, &hints, &ai);
    if (rc != 0 || ai == NULL)
    {
        log_error("could not resolve \"%s\" of metrics_addr \"%s\": %s; give an address this "
                  "host has, such as 127.0.0.1",
                  host, conf->metrics_addr, gai_strerror(rc));
        if (ai != NULL)
            freeaddrinfo(ai);
        return NULL;
    }
    m = calloc(1, sizeof(*m));
    if (m == NULL)
    {
        freeaddrinfo(ai);
        log_error("out of memory");
        return NULL;
    }
    m->conf = conf;
    m->st = st;
    m->ring = ring;
    if (ai->ai_family == AF_INET6)
        flags |= MHD_USE_IPv6;
    m->daemon = MHD_start_daemon(flags, 0, NULL, NULL, answer, m, MHD_OPTION_SOCK_ADDR,
                                 ai->ai_addr, MHD_OPTION_EXTERNAL_LOGGER, mhd_logger, m,
                                 MHD_OPTION_CONNECTION_LIMIT, 16U, MHD_OPTION_CONNECTION_TIMEOUT,
                                 10U, MHD_OPTION_END);
    freeaddrinfo(ai);
    if (m->daemon == NULL)
    {
        /* "Failed to bind to port 0: Address already in use": the port it
         * names is the unused argument, so only the reason is kept */
        const char *why = strrchr(m->last_error, ':');

        why = why != NULL ? why + 1 : m->last_error;
        while (*why == ' ')
            why++;
        if (*why == '\0')
            why = "refused";
        log_error("could not serve metrics at %s: %s; choose a free port with --metrics-addr",
                  conf->metrics_addr, why);
        free(m);
        return NULL;
    }
    info = MHD_get_daemon_info(m->daemon, MHD_DAEMON_INFO_BIND_PORT);
    if (strchr(host, ':') != NULL)
        log_info("serving metrics at http://[%s]:%u/metrics", host,
                 info != NULL ? (unsigned) info->port : 0U);
    else
        log_info("serving metrics at http://%s:%u/metrics", host,
                 info != NULL ? (unsigned) info->port : 0U);
    return m;
}

void
metrics_stop(struct metrics *m)
{
    if (m == NULL)
        return;
    MHD_stop_daemon(m->daemon);
    free(m);
}
