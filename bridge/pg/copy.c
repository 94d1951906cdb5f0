/*
 * copy.c - parallel COPY in one snapshot, and parallel index builds.
 *
 * Each job thread owns its two connections; the units and the progress
 * counters are shared (atomics), the first error is kept under a mutex. The
 * main thread prints progress and watches for a stop request.
 */
#include "bridge/pg/copy.h"
#include "bridge/pg/ddl_guard.h"

#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "bridge/base/clock.h"
#include "bridge/base/conf.h"
#include "bridge/base/failpoint.h"
#include "bridge/base/log.h"
#include "bridge/pg/pgconn.h"

#define PAGE_BYTES      8192
#define MIN_CHUNK_PAGES 4096 /* 32 MB: smaller tables are one unit */
#define UNITS_PER_JOB   4
#define COUNT_EVERY     512  /* rows between updates of the shared counters */
#define LOG_EVERY_US    (10 * INT64_C(1000000))

/* A piece of work: a table, or a range of its pages. */
struct unit
{
    int table;       /* index into ddl.tables */
    int64_t first;   /* first page, or -1 for the whole table */
    int64_t last;    /* page after the range, or -1 for "to the end" */
};

struct table_progress
{
    _Atomic int64_t rows;
    _Atomic int64_t bytes;
    _Atomic int units_done;
    int units;
    _Atomic int64_t started;  /* monotonic us of its first unit, 0 before */
    _Atomic int64_t finished; /* monotonic us of its last unit, 0 before */
    bool reported;            /* its completion line is printed */
};

struct pool
{
    const struct copy_options *o;
    struct ddl *d;
    struct unit *units;     /* owned */
    int nunits;
    _Atomic int next;       /* next unit (or statement) to take */
    struct table_progress *tp; /* owned: one per table */
    int *stmt_list;         /* owned: copy_run_phase's statements */
    int nstmts;
    _Atomic bool failed;
    _Atomic bool stop;      /* a stop request */
    _Atomic int running;    /* jobs still working */
    int njobs;              /* jobs started */
    _Atomic int holding;    /* copy jobs that hold the tables against DDL (ddl_guard.h) */
    int done_fd;            /* eventfd: a job ended */
    pthread_mutex_t lock;   /* guards error */
    char error[1024];       /* the first failure */
};

static void
fail(struct pool *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void
fail(struct pool *p, const char *fmt, ...)
{
    va_list ap;

    pthread_mutex_lock(&p->lock);
    if (!atomic_load(&p->failed))
    {
        va_start(ap, fmt);
        vsnprintf(p->error, sizeof(p->error), fmt, ap);
        va_end(ap);
        atomic_store(&p->failed, true);
    }
    pthread_mutex_unlock(&p->lock);
}

static void
job_done(struct pool *p)
{
    uint64_t one = 1;

    atomic_fetch_sub(&p->running, 1);
    if (write(p->done_fd, &one, sizeof(one)) < 0)
        return;
}

static bool
exec_ok(PGconn *conn, const char *sql, char *err, size_t errlen)
{
    PGresult *res = PQexec(conn, sql);
    bool ok = PQresultStatus(res) == PGRES_COMMAND_OK || PQresultStatus(res) == PGRES_TUPLES_OK;

    if (!ok)
        pgconn_error(conn, res, err, errlen);
    PQclear(res);
    return ok;
}

static PGconn *
open_target(struct pool *p)
{
    char err[512];
    PGconn *dst = pgconn_open(p->o->target, "target", PGCONN_SQL, "memori-bridge init",
                              p->o->connect_timeout_ms, NULL);

    if (dst == NULL)
    {
        fail(p, "could not connect to the target");
        return NULL;
    }
    if (!exec_ok(dst, "SET session_replication_role = replica", err, sizeof(err)) ||
        !exec_ok(dst, "SET synchronous_commit = off", err, sizeof(err)) ||
        !exec_ok(dst, "SET maintenance_work_mem = '128MB'", err, sizeof(err)))
    {
        fail(p, "could not set up the target session: %s", err);
        PQfinish(dst);
        return NULL;
    }
    return dst;
}

/* Relay one unit from SRC to DST. */
static bool
copy_unit(struct pool *p, PGconn *src, PGconn *dst, const struct unit *u)
{
    const struct ddl_table *t = &p->d->tables[u->table];
    struct table_progress *tp = &p->tp[u->table];
    char out[2048], in[2048], err[1024];
    PGresult *res;
    int64_t rows = 0, bytes = 0, messages = 0, zero = 0, now = clock_now_us();
    char *buf;
    int n;
    /* the binary format skips the text output and input of every value (a
     * tsvector's is costly): when the types allow it and both servers are of
     * one major version, whose binary forms are the same */
    bool binary = t->binary_ok && p->o->binary;
    const char *format = binary ? " (FORMAT binary)" : "";

    atomic_compare_exchange_strong(&tp->started, &zero, now);
    if (u->first < 0)
        snprintf(out, sizeof(out), "COPY %s (%s) TO STDOUT%s", t->qualified, t->columns, format);
    else if (u->last < 0)
        snprintf(out, sizeof(out),
                 "COPY (SELECT %s FROM ONLY %s WHERE ctid >= '(%lld,0)'::pg_catalog.tid) "
                 "TO STDOUT%s",
                 t->columns, t->qualified, (long long) u->first, format);
    else
        snprintf(out, sizeof(out),
                 "COPY (SELECT %s FROM ONLY %s WHERE ctid >= '(%lld,0)'::pg_catalog.tid "
                 "AND ctid < '(%lld,0)'::pg_catalog.tid) TO STDOUT%s",
                 t->columns, t->qualified, (long long) u->first, (long long) u->last, format);
    snprintf(in, sizeof(in), "COPY %s (%s) FROM STDIN%s", t->qualified, t->columns, format);

    res = PQexec(dst, in);
    if (PQresultStatus(res) != PGRES_COPY_IN)
    {
        fail(p, "could not copy into %s.%s on the target: %s", t->schema, t->name,
             pgconn_error(dst, res, err, sizeof(err)));
        PQclear(res);
        return false;
    }
    PQclear(res);
    res = PQexec(src, out);
    if (PQresultStatus(res) != PGRES_COPY_OUT)
    {
        fail(p, "could not copy %s.%s from the source: %s", t->schema, t->name,
             pgconn_error(src, res, err, sizeof(err)));
        PQclear(res);
        PQputCopyEnd(dst, "the source failed");
        PQclear(PQgetResult(dst));
        return false;
    }
    PQclear(res);
    while ((n = PQgetCopyData(src, &buf, 0)) > 0)
    {
        if (PQputCopyData(dst, buf, n) != 1)
        {
            PQfreemem(buf);
            fail(p, "could not copy into %s.%s on the target: %s", t->schema, t->name,
                 pgconn_error(dst, NULL, err, sizeof(err)));
            return false;
        }
        PQfreemem(buf);
        rows++;
        messages++;
        bytes += n;
        if (rows % COUNT_EVERY == 0)
        {
            atomic_fetch_add(&tp->rows, rows);
            atomic_fetch_add(&tp->bytes, bytes);
            rows = bytes = 0;
            failpoint("init-during-copy");
            if (atomic_load(&p->stop) || atomic_load(&p->failed))
            {
                PQputCopyEnd(dst, "init was stopped");
                PQclear(PQgetResult(dst));
                return false;
            }
        }
    }
    /* a binary copy's last message is its trailer, not a row (its header
     * travels with the first row) */
    atomic_fetch_add(&tp->rows, rows);
    if (binary && messages > 0)
        atomic_fetch_sub(&tp->rows, 1);
    atomic_fetch_add(&tp->bytes, bytes);
    res = PQgetResult(src);
    if (n != -1 || PQresultStatus(res) != PGRES_COMMAND_OK)
    {
        fail(p, "could not copy %s.%s from the source: %s", t->schema, t->name,
             pgconn_error(src, res, err, sizeof(err)));
        PQclear(res);
        PQputCopyEnd(dst, "the source failed");
        PQclear(PQgetResult(dst));
        return false;
    }
    PQclear(res);
    if (PQputCopyEnd(dst, NULL) != 1)
    {
        fail(p, "could not finish copying into %s.%s: %s", t->schema, t->name,
             pgconn_error(dst, NULL, err, sizeof(err)));
        return false;
    }
    res = PQgetResult(dst);
    if (PQresultStatus(res) != PGRES_COMMAND_OK)
    {
        fail(p, "the target refused the copy of %s.%s: %s", t->schema, t->name,
             pgconn_error(dst, res, err, sizeof(err)));
        PQclear(res);
        return false;
    }
    PQclear(res);
    while ((res = PQgetResult(src)) != NULL)
        PQclear(res);
    if (atomic_fetch_add(&tp->units_done, 1) + 1 == tp->units)
        atomic_store(&tp->finished, clock_now_us());
    return true;
}

static void *
copy_job(void *arg)
{
    struct pool *p = arg;
    PGconn *src = NULL, *dst = NULL;
    char *lit = NULL, sql[512], err[512];

    src = pgconn_open(p->o->source, "source", PGCONN_SQL, "memori-bridge init",
                      p->o->connect_timeout_ms, NULL);
    if (src == NULL)
    {
        fail(p, "could not connect to the source");
        goto done;
    }
    lit = PQescapeLiteral(src, p->o->snapshot, strlen(p->o->snapshot));
    snprintf(sql, sizeof(sql), "SET TRANSACTION SNAPSHOT %s", lit ? lit : "''");
    if (!exec_ok(src, "BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY", err, sizeof(err)) ||
        !exec_ok(src, sql, err, sizeof(err)))
    {
        fail(p, "could not import the snapshot %s on the source: %s", p->o->snapshot, err);
        goto done;
    }
    /* before anything reads a table: DDL waits for the copy from here on */
    if (!ddl_guard_hold(src, p->d, err, sizeof(err)))
    {
        fail(p, "%s", err);
        goto done;
    }
    if (atomic_fetch_add(&p->holding, 1) + 1 == p->njobs)
        log_info("holding the source's tables against DDL until they are copied (DDL waits, "
                 "writers do not)");
    dst = open_target(p);
    if (dst == NULL)
        goto done;
    for (;;)
    {
        int i = atomic_fetch_add(&p->next, 1);

        if (i >= p->nunits || atomic_load(&p->failed) || atomic_load(&p->stop))
            break;
        if (!copy_unit(p, src, dst, &p->units[i]))
            break;
    }
    exec_ok(src, "COMMIT", err, sizeof(err));
done:
    PQfreemem(lit);
    if (src != NULL)
        PQfinish(src);
    if (dst != NULL)
        PQfinish(dst);
    job_done(p);
    return NULL;
}

/* ---- progress --------------------------------------------------------- */

static void
human_bytes(int64_t b, char *buf, size_t len)
{
    if (b >= (INT64_C(1) << 30))
        snprintf(buf, len, "%.2f GB", (double) b / (double) (INT64_C(1) << 30));
    else if (b >= (1 << 20))
        snprintf(buf, len, "%.1f MB", (double) b / (1 << 20));
    else
        snprintf(buf, len, "%.1f kB", (double) b / 1024);
}

static void
human_duration(double s, char *buf, size_t len)
{
    long t = (long) (s + 0.5);

    if (t >= 3600)
        snprintf(buf, len, "%ld:%02ld:%02ld", t / 3600, (t / 60) % 60, t % 60);
    else
        snprintf(buf, len, "%ld:%02ld", t / 60, t % 60);
}

/* One table's progress as a line. */
static void
table_line(struct pool *p, int i, int64_t now, char *buf, size_t len)
{
    const struct ddl_table *t = &p->d->tables[i];
    struct table_progress *tp = &p->tp[i];
    int64_t rows = atomic_load(&tp->rows), bytes = atomic_load(&tp->bytes);
    int64_t started = atomic_load(&tp->started), finished = atomic_load(&tp->finished);
    double secs = started ? (double) ((finished ? finished : now) - started) / 1e6 : 0;
    double frac;
    char b[32], rate[32], eta[32];

    human_bytes(bytes, b, sizeof(b));
    human_bytes(secs > 0 ? (int64_t) ((double) bytes / secs) : 0, rate, sizeof(rate));
    if (finished)
    {
        snprintf(buf, len, "%s.%s: %lld rows, %s in %.1f s (%s/s), done", t->schema, t->name,
                 (long long) rows, b, secs, rate);
        return;
    }
    if (!started)
    {
        snprintf(buf, len, "%s.%s: waiting", t->schema, t->name);
        return;
    }
    /* rows against the planner's estimate when the table was analyzed; else
     * COPY bytes against the relation's size, which they track roughly */
    if (t->rows > 0)
        frac = (double) rows / (double) t->rows;
    else if (t->bytes > 0)
        frac = (double) bytes / (double) t->bytes;
    else
        frac = (double) atomic_load(&tp->units_done) / tp->units;
    if (frac > 0.99)
        frac = 0.99;
    if (frac > 0.01)
        human_duration(secs * (1 - frac) / frac, eta, sizeof(eta));
    else
        snprintf(eta, sizeof(eta), "?");
    snprintf(buf, len, "%s.%s: %lld rows, %s, %s/s, %.0f%%, ETA %s", t->schema, t->name,
             (long long) rows, b, rate, frac * 100, eta);
}

/* Print progress: in place on a terminal, else a line per active table every
 * LOG_EVERY_US and a line when a table is done. */
static void
show_progress(struct pool *p, bool final, int *drawn, int64_t *last_log)
{
    int64_t now = clock_now_us();
    char line[512];
    int i;

    if (p->o->tty)
    {
        char out[16384];
        size_t n = 0;

        if (*drawn > 0)
            n += (size_t) snprintf(out + n, sizeof(out) - n, "\033[%dA", *drawn);
        for (i = 0; i < p->d->ntables && n < sizeof(out) - 600; i++)
        {
            table_line(p, i, now, line, sizeof(line));
            n += (size_t) snprintf(out + n, sizeof(out) - n, "\033[2K  %s\n", line);
        }
        *drawn = i;
        if (write(STDERR_FILENO, out, n) < 0)
            return;
        return;
    }
    for (i = 0; i < p->d->ntables; i++)
    {
        struct table_progress *tp = &p->tp[i];

        if (atomic_load(&tp->finished) && !tp->reported)
        {
            tp->reported = true;
            table_line(p, i, now, line, sizeof(line));
            log_info("copied %s", line);
        }
        else if (!atomic_load(&tp->finished) && atomic_load(&tp->started) &&
                 (final || now - *last_log >= LOG_EVERY_US))
        {
            table_line(p, i, now, line, sizeof(line));
            log_info("copying %s", line);
        }
    }
    if (now - *last_log >= LOG_EVERY_US)
        *last_log = now;
}

/* Start N threads of BODY on P, wait for them (printing progress when
 * PROGRESS), and stop them on a cancel request. */
static bool
run_pool(struct pool *p, int n, void *(*body)(void *), bool progress, bool *cancelled)
{
    pthread_t *threads = calloc((size_t) n, sizeof(pthread_t));
    int started = 0, i, drawn = 0;
    int64_t last_log = clock_now_us();

    *cancelled = false;
    if (threads == NULL)
    {
        log_error("out of memory");
        return false;
    }
    atomic_store(&p->running, n);
    p->njobs = n;
    for (i = 0; i < n; i++)
    {
        if (pthread_create(&threads[i], NULL, body, p) != 0)
        {
            fail(p, "could not start a copy thread: %s", strerror(errno));
            atomic_fetch_sub(&p->running, n - i);
            break;
        }
        started++;
    }
    while (atomic_load(&p->running) > 0)
    {
        struct pollfd fds[2] = {{p->done_fd, POLLIN, 0}, {p->o->cancel_fd, POLLIN, 0}};

        if (poll(fds, p->o->cancel_fd >= 0 ? 2 : 1, progress ? 1000 : 500) > 0)
        {
            uint64_t v;

            if ((fds[0].revents & POLLIN) && read(p->done_fd, &v, sizeof(v)) < 0)
                v = 0;
            if (p->o->cancel_fd >= 0 && (fds[1].revents & POLLIN))
            {
                *cancelled = true;
                atomic_store(&p->stop, true);
            }
        }
        if (progress)
            show_progress(p, false, &drawn, &last_log);
    }
    for (i = 0; i < started; i++)
        pthread_join(threads[i], NULL);
    free(threads);
    if (progress)
        show_progress(p, true, &drawn, &last_log);
    if (*cancelled)
    {
        log_error("init was stopped; run it again to start over (it cleans up what this one "
                  "left)");
        return false;
    }
    if (atomic_load(&p->failed))
    {
        log_error("%s", p->error);
        return false;
    }
    return true;
}

static bool
pool_init(struct pool *p, const struct copy_options *o, struct ddl *d)
{
    memset(p, 0, sizeof(*p));
    p->o = o;
    p->d = d;
    pthread_mutex_init(&p->lock, NULL);
    p->done_fd = eventfd(0, EFD_CLOEXEC);
    if (p->done_fd < 0)
    {
        log_error("could not create an eventfd: %s", strerror(errno));
        return false;
    }
    return true;
}

static void
pool_free(struct pool *p)
{
    free(p->units);
    free(p->tp);
    free(p->stmt_list);
    if (p->done_fd >= 0)
        close(p->done_fd);
    pthread_mutex_destroy(&p->lock);
}

bool
copy_choose_format(int format, int src_major, int dst_major, bool *binary, char *why, size_t len)
{
    *binary = format != CONF_COPY_TEXT && src_major == dst_major;
    if (format == CONF_COPY_TEXT)
        snprintf(why, len, "text, as --copy-format text asks");
    else if (src_major != dst_major)
        snprintf(why, len,
                 "%s: the source is of major version %d and the target of %d, and COPY's "
                 "binary format is not portable between major versions",
                 format == CONF_COPY_AUTO ? "text (--copy-format auto)" : "--copy-format binary",
                 src_major, dst_major);
    else if (format == CONF_COPY_AUTO)
        snprintf(why, len,
                 "binary where the types are built in (--copy-format auto): both servers are of "
                 "major version %d",
                 src_major);
    else
        snprintf(why, len,
                 "binary, as --copy-format binary asks: both servers are of major version %d",
                 src_major);
    return format != CONF_COPY_BINARY || src_major == dst_major;
}

bool
copy_tables(const struct copy_options *o, struct ddl *d, bool *cancelled, int64_t *rows,
            int64_t *bytes)
{
    struct pool p;
    int i, cap = 0;
    bool ok;

    *cancelled = false;
    if (!pool_init(&p, o, d))
        return false;
    p.tp = calloc((size_t) d->ntables + 1, sizeof(struct table_progress));
    if (p.tp == NULL)
        goto oom;
    for (i = 0; i < d->ntables; i++)
    {
        int64_t pages = d->tables[i].bytes / PAGE_BYTES;
        int64_t chunk = pages / (o->jobs * UNITS_PER_JOB);
        int64_t first;

        if (chunk < MIN_CHUNK_PAGES)
            chunk = MIN_CHUNK_PAGES;
        for (first = 0; first == 0 || (o->split_tables && first < pages); first += chunk)
        {
            struct unit *u;

            if (p.nunits == cap)
            {
                cap = cap ? cap * 2 : 64;
                u = realloc(p.units, (size_t) cap * sizeof(*u));
                if (u == NULL)
                    goto oom;
                p.units = u;
            }
            u = &p.units[p.nunits++];
            u->table = i;
            if (!o->split_tables || pages <= chunk)
            {
                u->first = u->last = -1;
                p.tp[i].units = 1;
                break;
            }
            u->first = first;
            u->last = first + chunk >= pages ? -1 : first + chunk; /* the last is open-ended */
            p.tp[i].units++;
        }
    }
    {
        /* which tables go in text although binary was chosen: say so, by name */
        char text_tables[512] = "";
        size_t n = 0;
        int nbinary = 0;

        for (i = 0; i < d->ntables; i++)
            if (o->binary && d->tables[i].binary_ok)
                nbinary++;
            else if (o->binary && n < sizeof(text_tables))
                n += (size_t) snprintf(text_tables + n, sizeof(text_tables) - n, "%s%s.%s",
                                       n ? ", " : " (types made in the database: ",
                                       d->tables[i].schema, d->tables[i].name);
        if (n > 0 && n < sizeof(text_tables))
            snprintf(text_tables + n, sizeof(text_tables) - n, ")");
        log_info("copying %d table(s) in %d unit(s) over %d connection(s): %d in COPY's binary "
                 "format, %d in text%s",
                 d->ntables, p.nunits, o->jobs, nbinary, d->ntables - nbinary, text_tables);
    }
    ok = run_pool(&p, o->jobs < p.nunits ? o->jobs : (p.nunits > 0 ? p.nunits : 1), copy_job,
                  true, cancelled);
    *rows = *bytes = 0;
    for (i = 0; i < d->ntables; i++)
    {
        *rows += atomic_load(&p.tp[i].rows);
        *bytes += atomic_load(&p.tp[i].bytes);
    }
    pool_free(&p);
    return ok;
oom:
    log_error("out of memory planning the copy");
    pool_free(&p);
    return false;
}

static void *
stmt_job(void *arg)
{
    struct pool *p = arg;
    PGconn *dst = open_target(p);
    char err[1024];

    while (dst != NULL)
    {
        int i = atomic_fetch_add(&p->next, 1);
        const struct ddl_stmt *s;
        int64_t t0;

        if (i >= p->nstmts || atomic_load(&p->failed) || atomic_load(&p->stop))
            break;
        s = &p->d->stmts[p->stmt_list[i]];
        t0 = clock_now_us();
        if (!exec_ok(dst, s->sql, err, sizeof(err)))
        {
            fail(p, "could not create %s on the target: %s", s->what, err);
            break;
        }
        log_info("created %s (%.1f s)", s->what, (double) (clock_now_us() - t0) / 1e6);
    }
    if (dst != NULL)
        PQfinish(dst);
    job_done(p);
    return NULL;
}

bool
copy_run_phase(const struct copy_options *o, struct ddl *d, enum ddl_phase phase,
               bool *cancelled)
{
    struct pool p;
    int i, jobs;
    bool ok;

    *cancelled = false;
    if (!pool_init(&p, o, d))
        return false;
    p.stmt_list = calloc((size_t) d->nstmts + 1, sizeof(int));
    if (p.stmt_list == NULL)
    {
        pool_free(&p);
        log_error("out of memory");
        return false;
    }
    for (i = 0; i < d->nstmts; i++)
        if (d->stmts[i].phase == phase)
            p.stmt_list[p.nstmts++] = i;
    if (p.nstmts == 0)
    {
        pool_free(&p);
        return true;
    }
    /* foreign keys lock both tables, and triggers before their enable state:
     * one at a time; keys and indexes touch one table each: in parallel */
    jobs = phase == DDL_KEYS || phase == DDL_INDEXES ? o->jobs : 1;
    ok = run_pool(&p, jobs < p.nstmts ? jobs : p.nstmts, stmt_job, false, cancelled);
    pool_free(&p);
    return ok;
}
