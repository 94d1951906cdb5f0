/*
 * agent.c - the demo's agents (see agent.h).
 */
#include "bridge/cmd/agent.h"

#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bridge/base/log.h"
#include "bridge/pg/pgconn.h"

/* One memory an agent was told is committed. */
struct row
{
    long long id;
    int uses;
};

struct agent
{
    struct agents *pool; /* borrowed: the pool it belongs to */
    int index;
    pthread_t thread;
    bool started;
    char user[32];       /* its user_id: "agent-<index>" */
    PGconn *conn;        /* owned: to the side it writes to */
    _Atomic int side;    /* 0 source, 1 target */
    struct row *rows;    /* owned: its memories, as acknowledged */
    size_t nrows, cap;
    unsigned seed;
    unsigned long long seq; /* its writes so far, for the content */
    bool failed;
};

struct agents
{
    char *dsn[2];        /* owned: source, target */
    int n, rate;
    struct agent *a;     /* owned: n of them */
    _Atomic bool stop;
    _Atomic uint64_t writes, refused, moves;
    _Atomic int64_t max_wait_us;
};

enum outcome
{
    OP_OK,
    OP_FENCED, /* refused by a fence: memori lives on the other side */
    OP_RETRY,  /* a lock or serialization conflict: the same side again */
    OP_FAILED, /* logged */
};

static int64_t
now_us(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t) ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static void
sleep_us(int64_t us)
{
    struct timespec ts = {us / 1000000, (long) (us % 1000000) * 1000};

    if (us > 0)
        nanosleep(&ts, NULL);
}

static const char *const side_names[2] = {"source", "target"};

static bool
connect_side(struct agent *ag)
{
    int side = atomic_load(&ag->side);

    if (ag->conn != NULL)
        PQfinish(ag->conn);
    if (ag->pool->dsn[1] == NULL)
    {
        /* through PgBouncer, as a plain application: its own settings (the
         * pooler takes no options), and never another address */
        ag->conn = PQconnectdb(ag->pool->dsn[0]);
        if (PQstatus(ag->conn) == CONNECTION_OK)
            return true;
        log_error("agent %d could not connect through PgBouncer: %s", ag->index,
                  PQerrorMessage(ag->conn));
        return false;
    }
    ag->conn = pgconn_open(ag->pool->dsn[side], side_names[side], PGCONN_SQL, "memori-demo agent",
                           10000, NULL);
    return ag->conn != NULL;
}

/* Run SQL; on success *RES holds the result (caller PQclears). */
static enum outcome
run_sql(struct agent *ag, const char *sql, int n, const char *const *params, PGresult **res)
{
    const char *state;

    *res = PQexecParams(ag->conn, sql, n, NULL, params, NULL, NULL, 0);
    if (PQresultStatus(*res) == PGRES_TUPLES_OK || PQresultStatus(*res) == PGRES_COMMAND_OK)
        return OP_OK;
    state = pgconn_sqlstate(*res);
    if (strcmp(state, "25006") == 0)
    {
        PQclear(*res);
        *res = NULL;
        return OP_FENCED;
    }
    if (strcmp(state, "40001") == 0 || strcmp(state, "40P01") == 0 ||
        strcmp(state, "55P03") == 0)
    {
        PQclear(*res);
        *res = NULL;
        return OP_RETRY;
    }
    {
        char err[512];

        pgconn_error(ag->conn, *res, err, sizeof(err));
        log_error("agent %d on the %s: %s", ag->index, side_names[atomic_load(&ag->side)], err);
    }
    PQclear(*res);
    *res = NULL;
    return OP_FAILED;
}

static bool
remember(struct agent *ag, long long id)
{
    if (ag->nrows == ag->cap)
    {
        size_t cap = ag->cap ? ag->cap * 2 : 256;
        struct row *rows = realloc(ag->rows, cap * sizeof(*rows));

        if (rows == NULL)
        {
            log_error("agent %d: out of memory", ag->index);
            return false;
        }
        ag->rows = rows;
        ag->cap = cap;
    }
    ag->rows[ag->nrows++] = (struct row){id, 0};
    return true;
}

/* One write, chosen at random; *KIND says which, for retries. */
static enum outcome
write_once(struct agent *ag, int kind, size_t pick)
{
    char a[64], b[256], c[32];
    const char *params[4] = {ag->user, b, a, c};
    PGresult *res;
    enum outcome out;

    switch (kind)
    {
        case 0: /* a new memory */
            snprintf(b, sizeof(b), "agent %d remembers fact %llu: the user prefers %s", ag->index,
                     ag->seq, ag->seq % 3 == 0 ? "tea" : ag->seq % 3 == 1 ? "coffee" : "water");
            snprintf(a, sizeof(a), "{\"agent\": %d, \"n\": %llu}", ag->index, ag->seq);
            snprintf(c, sizeof(c), "%s", ag->seq % 2 ? "preference" : "fact");
            out = run_sql(ag,
                       "INSERT INTO memori.memories (user_id, content, metadata, category, "
                       "source_type) VALUES ($1, $2, $3::jsonb, $4, 'demo-agent') RETURNING id",
                       4, params, &res);
            if (out == OP_OK)
            {
                bool ok = remember(ag, strtoll(PQgetvalue(res, 0, 0), NULL, 10));

                PQclear(res);
                return ok ? OP_OK : OP_FAILED;
            }
            return out;
        case 1: /* a memory used */
        case 2: /* a memory forgotten */
        {
            struct row *r = &ag->rows[pick];
            const char *p1[1] = {a};

            snprintf(a, sizeof(a), "%lld", r->id);
            out = run_sql(ag,
                       kind == 1 ? "UPDATE memori.memories SET use_count = use_count + 1, "
                                   "last_used_at = now(), updated_at = now() WHERE id = $1 "
                                   "RETURNING use_count"
                                 : "DELETE FROM memori.memories WHERE id = $1 RETURNING use_count",
                       1, p1, &res);
            if (out != OP_OK)
                return out;
            if (PQntuples(res) != 1)
            {
                log_error("agent %d: memory %lld is missing on the %s: a write acknowledged "
                          "earlier was lost",
                          ag->index, r->id, side_names[atomic_load(&ag->side)]);
                PQclear(res);
                return OP_FAILED;
            }
            if (strtol(PQgetvalue(res, 0, 0), NULL, 10) != r->uses + (kind == 1))
            {
                log_error("agent %d: memory %lld has use_count %s on the %s, expected %d: a "
                          "change was lost or applied twice",
                          ag->index, r->id, PQgetvalue(res, 0, 0),
                          side_names[atomic_load(&ag->side)], r->uses + (kind == 1));
                PQclear(res);
                return OP_FAILED;
            }
            PQclear(res);
            if (kind == 1)
                r->uses++;
            else
                ag->rows[pick] = ag->rows[--ag->nrows];
            return OP_OK;
        }
        case 3: /* an entity, related to the first one */
            snprintf(b, sizeof(b), "topic %llu of agent %d", ag->seq, ag->index);
            out = run_sql(ag,
                       "WITH e AS (INSERT INTO memori.entities (user_id, entity_type, entity_name, "
                       "  content) VALUES ($1, 'topic', $2, 'seen by a demo agent') RETURNING id) "
                       "INSERT INTO memori.relationships (user_id, source_entity_id, "
                       "  target_entity_id, relationship_type) "
                       "SELECT $1, e.id, (SELECT min(id) FROM memori.entities), 'mentions' FROM e",
                       2, params, &res);
            if (out == OP_OK)
                PQclear(res);
            return out;
        default: /* a message appended to its conversation */
            snprintf(a, sizeof(a), "%d", ag->index);
            snprintf(b, sizeof(b), "%llu", ag->seq);
            {
                const char *p2[2] = {a, b};

                out = run_sql(ag,
                           "UPDATE memori.conversations SET messages = messages || "
                           "jsonb_build_array(jsonb_build_object('role', 'agent', 'agent', "
                           "$1::int, 'n', $2::bigint)), updated_at = now() "
                           "WHERE id = (SELECT min(id) FROM memori.conversations) + $1::int",
                           2, p2, &res);
            }
            if (out == OP_OK)
                PQclear(res);
            return out;
    }
}

static void
note_wait(struct agents *p, int64_t us)
{
    int64_t cur = atomic_load(&p->max_wait_us);

    while (us > cur && !atomic_compare_exchange_weak(&p->max_wait_us, &cur, us))
        ;
}

static void *
agent_main(void *arg)
{
    struct agent *ag = arg;
    struct agents *p = ag->pool;
    int64_t period = 1000000 / (p->rate > 0 ? p->rate : 1), next = now_us();

    if (!connect_side(ag))
    {
        ag->failed = true;
        return NULL;
    }
    while (!atomic_load(&p->stop))
    {
        int r = (int) (rand_r(&ag->seed) % 100), kind;
        size_t pick = ag->nrows ? (size_t) rand_r(&ag->seed) % ag->nrows : 0;
        int64_t began = now_us();
        enum outcome out;

        kind = r < 55 ? 0 : r < 75 ? 1 : r < 83 ? 2 : r < 93 ? 3 : 4;
        if ((kind == 1 || kind == 2) && ag->nrows < 20)
            kind = 0; /* keep a few memories around */
        ag->seq++;
        for (;;)
        {
            out = write_once(ag, kind, pick);
            if (out == OP_OK || out == OP_FAILED)
                break;
            if (out == OP_FENCED && p->dsn[1] == NULL)
            {
                /* a plain application gets the error: the write is lost */
                atomic_fetch_add(&p->refused, 1);
                break;
            }
            if (out == OP_FENCED)
            {
                /* memori has moved: follow it, as the application would */
                atomic_fetch_add(&p->refused, 1);
                atomic_store(&ag->side, 1 - atomic_load(&ag->side));
                atomic_fetch_add(&p->moves, 1);
                sleep_us(10000);
                if (!connect_side(ag))
                {
                    out = OP_FAILED;
                    break;
                }
            }
            else
                sleep_us(10000);
            if (now_us() - began > 60 * INT64_C(1000000))
            {
                log_error("agent %d: a write has waited 60 s for memori to be writable somewhere",
                          ag->index);
                out = OP_FAILED;
                break;
            }
        }
        if (out == OP_FAILED)
        {
            ag->failed = true;
            break;
        }
        atomic_fetch_add(&p->writes, out == OP_OK);
        note_wait(p, now_us() - began);
        next += period;
        if (next < now_us() - period)
            next = now_us(); /* fell behind (a switch): no burst to catch up */
        sleep_us(next - now_us());
    }
    return NULL;
}

struct agents *
agents_start(int n, const char *source_dsn, const char *target_dsn, int rate)
{
    struct agents *p = calloc(1, sizeof(*p));
    sigset_t all, old;
    int i;

    if (p == NULL || (p->a = calloc((size_t) n, sizeof(struct agent))) == NULL ||
        (p->dsn[0] = strdup(source_dsn)) == NULL ||
        (target_dsn != NULL && (p->dsn[1] = strdup(target_dsn)) == NULL))
    {
        log_error("out of memory");
        agents_free(p);
        return NULL;
    }
    p->n = n;
    p->rate = rate;
    /* signals are the demo's main thread's business */
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old);
    for (i = 0; i < n; i++)
    {
        struct agent *ag = &p->a[i];

        ag->pool = p;
        ag->index = i + 1;
        ag->seed = (unsigned) (i * 7919 + 17);
        snprintf(ag->user, sizeof(ag->user), "agent-%d", ag->index);
        if (pthread_create(&ag->thread, NULL, agent_main, ag) != 0)
        {
            log_error("could not start agent %d", ag->index);
            break;
        }
        ag->started = true;
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (i < n)
    {
        agents_stop(p);
        agents_free(p);
        return NULL;
    }
    return p;
}

void
agents_stats(struct agents *p, struct agent_stats *out)
{
    int i;

    memset(out, 0, sizeof(*out));
    out->writes = atomic_load(&p->writes);
    out->refused = atomic_load(&p->refused);
    out->moves = atomic_load(&p->moves);
    out->max_wait_ms = (double) atomic_load(&p->max_wait_us) / 1000;
    for (i = 0; i < p->n; i++)
    {
        if (atomic_load(&p->a[i].side) == 0)
            out->on_source++;
        else
            out->on_target++;
    }
}

bool
agents_stop(struct agents *p)
{
    bool ok = true;
    int i;

    if (p == NULL)
        return true;
    atomic_store(&p->stop, true);
    for (i = 0; i < p->n; i++)
        if (p->a[i].started)
        {
            pthread_join(p->a[i].thread, NULL);
            p->a[i].started = false;
            if (p->a[i].conn != NULL)
                PQfinish(p->a[i].conn);
            p->a[i].conn = NULL;
            ok &= !p->a[i].failed;
        }
    return ok;
}

static int
by_id(const void *x, const void *y)
{
    const struct row *a = x, *b = y;

    return (a->id > b->id) - (a->id < b->id);
}

bool
agents_check(struct agents *p, PGconn *conn, const char *side, uint64_t *rows)
{
    bool ok = true;
    int i;

    *rows = 0;
    for (i = 0; i < p->n; i++)
    {
        struct agent *ag = &p->a[i];
        const char *params[1] = {ag->user};
        PGresult *res = pgconn_exec(conn, "could not read the agents' memories",
                                    "SELECT id, use_count FROM memori.memories WHERE user_id = $1 "
                                    "ORDER BY id",
                                    1, params, NULL);
        size_t k, n;

        if (res == NULL)
            return false;
        qsort(ag->rows, ag->nrows, sizeof(struct row), by_id);
        n = (size_t) PQntuples(res);
        for (k = 0; k < n || k < ag->nrows; k++)
        {
            long long id = k < n ? strtoll(PQgetvalue(res, (int) k, 0), NULL, 10) : -1;
            int uses = k < n ? (int) strtol(PQgetvalue(res, (int) k, 1), NULL, 10) : -1;

            if (k >= ag->nrows || k >= n || id != ag->rows[k].id || uses != ag->rows[k].uses)
            {
                log_error("agent %d on the %s: row %zu is memory %lld used %d times, but the "
                          "agent was told memory %lld used %d times",
                          ag->index, side, k + 1, id, uses, k < ag->nrows ? ag->rows[k].id : -1,
                          k < ag->nrows ? ag->rows[k].uses : -1);
                ok = false;
                break;
            }
        }
        *rows += n;
        PQclear(res);
    }
    return ok;
}

void
agents_free(struct agents *p)
{
    int i;

    if (p == NULL)
        return;
    for (i = 0; p->a != NULL && i < p->n; i++)
        free(p->a[i].rows);
    free(p->a);
    free(p->dsn[0]);
    free(p->dsn[1]);
    free(p);
}
