/*
 * demo.c - "memori-bridge demo" (see demo.h).
 */
#include "bridge/cmd/demo.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bridge/base/log.h"
#include "bridge/base/secret.h"
#include "bridge/cmd/agent.h"
#include "bridge/pg/bouncer.h"
#include "bridge/pg/cluster.h"
#include "bridge/pg/pgbouncer.h"
#include "bridge/pg/pgconn.h"
#include "bridge/pg/progress.h"
#include "decoder/lsn.h"

#define EXIT_USAGE 2
#define MAX_ROWS   16
#define OUT_MAX    (1 << 20)

extern const char memori_schema_sql[]; /* sql/memori_schema.sql, built in */

static volatile sig_atomic_t interrupted;
static pthread_mutex_t print_lock = PTHREAD_MUTEX_INITIALIZER;

struct options
{
    int agents;          /* writing agents */
    int rate;            /* transactions per second of each */
    int rows;            /* sample memories */
    int seconds;         /* of each streaming phase */
    const char *pg_bin;  /* server programs, or NULL: find them */
    enum cluster_profile source_profile; /* how the source's roles are made */
};

/* One line of the summary. */
struct result
{
    char step[32];
    char what[200];
    double seconds; /* < 0: no time */
    bool ok;
};

struct demo
{
    struct options o;
    char self[PATH_MAX]; /* this program */
    struct cluster_env env;
    struct cluster src, dst;
    struct bouncer pool; /* in front of memori: the agents write through it */
    pid_t watchdog;
    struct agents *agents;
    pid_t run_pid;
    int run_fd;
    pthread_t run_reader;
    bool run_reading;
    struct result rows[MAX_ROWS];
    int nrows;
    bool failed;
    double started;
};

static void
on_signal(int sig)
{
    (void) sig;
    interrupted = 1;
}

static double
now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}

/* A line on stdout, whole, never in the middle of a child's line. */
static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void
say(const char *fmt, ...)
{
    char line[1024];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    secret_scrub(line, sizeof(line));
    pthread_mutex_lock(&print_lock);
    fputs(line, stdout);
    fputc('\n', stdout);
    fflush(stdout);
    pthread_mutex_unlock(&print_lock);
}

static struct result *
record(struct demo *d, const char *step, bool ok, double seconds, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

static struct result *
record(struct demo *d, const char *step, bool ok, double seconds, const char *fmt, ...)
{
    struct result *r = &d->rows[d->nrows < MAX_ROWS ? d->nrows++ : MAX_ROWS - 1];
    va_list ap;

    snprintf(r->step, sizeof(r->step), "%s", step);
    va_start(ap, fmt);
    vsnprintf(r->what, sizeof(r->what), fmt, ap);
    va_end(ap);
    r->seconds = seconds;
    r->ok = ok;
    if (!ok)
        d->failed = true;
    return r;
}

/* ---- child processes: the real commands -------------------------------- */

/* Start this program with ARGV (ARGV[0] is replaced) in a process group of
 * its own, stdout and stderr into a pipe (*FD). Returns the PID or -1. */
static pid_t
spawn(struct demo *d, char *argv[], int *fd)
{
    int p[2];
    pid_t pid;

    if (pipe2(p, O_CLOEXEC) != 0)
    {
        log_error("could not make a pipe: %s", strerror(errno));
        return -1;
    }
    argv[0] = d->self;
    pid = fork();
    if (pid < 0)
    {
        log_error("could not start %s: %s", argv[1], strerror(errno));
        close(p[0]);
        close(p[1]);
        return -1;
    }
    if (pid == 0)
    {
        int in = open("/dev/null", O_RDONLY);

        setpgid(0, 0); /* a Ctrl-C is the demo's to pass on */
        prctl(PR_SET_PDEATHSIG, SIGTERM); /* and a demo killed outright takes it along */
        if (in < 0 || dup2(in, 0) < 0 || dup2(p[1], 1) < 0 || dup2(p[1], 2) < 0)
            _exit(127);
        execv(d->self, argv);
        _exit(127);
    }
    close(p[1]);
    *fd = p[0];
    return pid;
}

/* Read FD to its end, each line printed with PREFIX; the text kept in *OUT
 * (up to OUT_MAX) when OUT is not NULL. On a signal, PID gets SIGTERM. */
static void
pump(int fd, const char *prefix, char **out, pid_t pid)
{
    char buf[8192], line[4096];
    size_t used = 0, cap = 0, n_line = 0;
    bool passed_on = false;

    for (;;)
    {
        ssize_t n = read(fd, buf, sizeof(buf));
        ssize_t i;

        if (n < 0 && errno == EINTR)
        {
            if (interrupted && !passed_on && pid > 0)
            {
                kill(pid, SIGTERM);
                passed_on = true;
            }
            continue;
        }
        if (n <= 0)
            break;
        for (i = 0; i < n; i++)
        {
            if (buf[i] != '\n' && n_line < sizeof(line) - 1)
            {
                line[n_line++] = buf[i];
                continue;
            }
            if (buf[i] != '\n')
                continue; /* a very long line: the rest is dropped */
            line[n_line] = '\0';
            say("  %-8s| %s", prefix, line);
            if (out != NULL && used + n_line + 2 < OUT_MAX)
            {
                if (used + n_line + 2 > cap)
                {
                    size_t ncap = (used + n_line + 2) * 2;
                    char *g = realloc(*out, ncap);

                    if (g != NULL)
                    {
                        *out = g;
                        cap = ncap;
                    }
                }
                if (used + n_line + 2 <= cap)
                {
                    memcpy(*out + used, line, n_line);
                    used += n_line;
                    (*out)[used++] = '\n';
                    (*out)[used] = '\0';
                }
            }
            n_line = 0;
        }
    }
    close(fd);
}

/* Run this program's command ARGV to its end; its output shown and kept in
 * *OUT (caller frees). Returns its exit status, or -1. */
static int
run_command(struct demo *d, char *argv[], char **out)
{
    int fd, status;
    pid_t pid;

    *out = NULL;
    pid = spawn(d, argv, &fd);
    if (pid < 0)
        return -1;
    pump(fd, argv[1], out, pid);
    while (waitpid(pid, &status, 0) < 0)
    {
        if (errno != EINTR)
            return -1;
        if (interrupted)
            kill(pid, SIGTERM);
    }
    if (*out == NULL)
        *out = strdup("");
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static void *
run_reader(void *arg)
{
    struct demo *d = arg;

    pump(d->run_fd, "run", NULL, -1);
    return NULL;
}

/* ---- the steps ---------------------------------------------------------- */

/* Wait SECONDS, or less on Ctrl-C. Returns false when interrupted. */
static bool
pause_for(double seconds)
{
    double end = now_s() + seconds;

    while (!interrupted && now_s() < end)
    {
        struct timespec t = {0, 100000000L};

        nanosleep(&t, NULL);
    }
    return !interrupted;
}

static bool
step(const char *title)
{
    if (interrupted)
        return false;
    say("%s", "");
    say("== %s", title);
    return true;
}

static bool
sample_data(struct demo *d)
{
    PGconn *conn = pgconn_open(d->src.dsn, "source", PGCONN_SQL, "memori-bridge demo", 10000, NULL);
    char rows[16];
    const char *params[1] = {rows};
    PGresult *res;
    double t0 = now_s();
    bool ok = false;

    if (conn == NULL)
        return false;
    snprintf(rows, sizeof(rows), "%d", d->o.rows);
    if (!pgconn_script(conn, "could not create the memori schema on the source", memori_schema_sql) ||
        !pgconn_script(
            conn, "could not write the sample data",
            "INSERT INTO memori.entities (user_id, entity_type, entity_name, content, metadata) "
            "SELECT 'user-' || g % 50, (ARRAY['person', 'project', 'tool', 'place'])[1 + g % 4], "
            "       'entity ' || g, 'what is known of entity ' || g, jsonb_build_object('rank', g) "
            "FROM generate_series(1, 2000) g;"
            "INSERT INTO memori.relationships (user_id, source_entity_id, target_entity_id, "
            "  relationship_type) "
            "SELECT 'user-' || g % 50, 1 + g % 2000, 1 + (g * 7) % 2000, "
            "       (ARRAY['knows', 'uses', 'works_on'])[1 + g % 3] FROM generate_series(1, 4000) g;"
            "INSERT INTO memori.conversations (user_id, session_id, messages) "
            "SELECT 'user-' || g % 50, 'session-' || g, jsonb_build_array(jsonb_build_object("
            "  'role', 'user', 'content', 'hello, agent ' || g)) FROM generate_series(1, 200) g;"))
        goto done;
    res = pgconn_exec(
        conn, "could not write the sample memories",
        "INSERT INTO memori.memories (user_id, content, category, metadata, source_type, "
        "  confidence, use_count, expires_at) "
        "SELECT 'user-' || g % 50, 'memory ' || g || ': ' || md5(g::text) || ' (café, naïve, 東京)', "
        "       (ARRAY['context', 'preference', 'fact', 'skill'])[1 + g % 4], "
        "       jsonb_build_object('seq', g, 'tags', jsonb_build_array('t' || g % 7)), 'seed', "
        "       (g % 100) / 100.0, g % 5, CASE WHEN g % 20 = 0 THEN now() - interval '1 day' END "
        "FROM generate_series(1, $1::int) g",
        1, params, NULL);
    if (res == NULL)
        goto done;
    PQclear(res);
    ok = pgconn_script(conn, "could not analyze the sample data",
                       "ANALYZE memori.memories, memori.entities, memori.relationships, "
                       "memori.conversations");
done:
    PQfinish(conn);
    record(d, "sample data", ok, now_s() - t0,
           "source: %d memories, 2000 entities, 4000 relationships, 200 conversations",
           d->o.rows);
    return ok;
}

/* "... KEY 12.3 ..." -> 12.3: the first KEY followed by a number; -1 none. */
static double
number_after(const char *text, const char *key)
{
    const char *p = text;

    while (p != NULL && (p = strstr(p, key)) != NULL)
    {
        p += strlen(key);
        if (*p >= '0' && *p <= '9')
            return strtod(p, NULL);
    }
    return -1;
}

static bool
verify_step(struct demo *d, const char *label)
{
    char *argv[] = {NULL, "verify", NULL};
    char *out = NULL;
    double t0 = now_s();
    int status;

    if (!step(label))
        return false;
    status = run_command(d, argv, &out);
    record(d, label, status == 0, now_s() - t0, "%s",
           status == 0   ? "equal: every table, row by row hash, and the sequences"
           : status == 3 ? "DIFFERENT (see above)"
                         : "failed (see above)");
    free(out);
    return status == 0;
}

static bool
switch_step(struct demo *d, const char *command)
{
    char *argv[] = {NULL, (char *) command, NULL};
    char *out = NULL;
    double t0 = now_s(), pause;
    int status;

    if (!step(command))
        return false;
    status = run_command(d, argv, &out);
    pause = number_after(out, "writes were paused for ");
    if (status == 0)
        record(d, command, true, now_s() - t0, "PgBouncer held writes %.1f ms (fence %.1f ms)",
               number_after(out, "PgBouncer held writes to \"memori\" for "), pause);
    else
        record(d, command, false, now_s() - t0, "failed with exit status %d (see above)", status);
    free(out);
    return status == 0;
}

/* Let the agents write for the phase, then say where they write. */
static bool
phase(struct demo *d, const char *label, int want_side)
{
    struct agent_stats before, after;
    double t0 = now_s();

    if (!step(label))
        return false;
    agents_stats(d->agents, &before);
    if (!pause_for(d->o.seconds))
        return false;
    agents_stats(d->agents, &after);
    {
        /* where PgBouncer sends them, as its console says */
        struct conf c = {.pgbouncer = d->pool.admin_dsn, .pgbouncer_database = "memori"};
        struct pgbouncer_entry e;
        char console[160], err[256], want[16];
        bool there;

        snprintf(want, sizeof(want), "%d", want_side == 0 ? d->src.port : d->dst.port);
        there = pgbouncer_look(&c, 10000, &e, console, sizeof(console), err, sizeof(err)) &&
                strcmp(e.port, want) == 0;

        record(d, label, there && after.writes > before.writes && after.refused == 0, now_s() - t0,
               "%llu writes by %d agents, through PgBouncer to the %s",
               (unsigned long long) (after.writes - before.writes), d->o.agents,
               there ? (want_side == 0 ? "source" : "target") : "WRONG side");
    }
    say("demo: %llu writes in %.1f s through PgBouncer; refused: %llu",
        (unsigned long long) (after.writes - before.writes), now_s() - t0,
        (unsigned long long) after.refused);
    return !d->failed;
}

/* After the agents stop: wait until the target has everything, then compare
 * every agent's acknowledged memories with both sides. */
static bool
nothing_lost(struct demo *d)
{
    PGconn *s = pgconn_open(d->src.dsn, "source", PGCONN_SQL, "memori-bridge demo", 10000, NULL);
    PGconn *t = pgconn_open(d->dst.dsn, "target", PGCONN_SQL, "memori-bridge demo", 10000, NULL);
    PGresult *res;
    char end[32] = "";
    uint64_t rows_s = 0, rows_t = 0;
    bool ok = false, caught = false;
    double t0 = now_s();
    int i;

    if (s == NULL || t == NULL)
        goto done;
    res = pgconn_exec(s, "could not read the source's WAL position",
                      "SELECT pg_catalog.pg_current_wal_lsn()", 0, NULL, NULL);
    if (res == NULL)
        goto done;
    snprintf(end, sizeof(end), "%s", PQgetvalue(res, 0, 0));
    PQclear(res);
    for (i = 0; i < 600 && !interrupted && !caught; i++)
    {
        struct progress p;
        lsn_t want = LSN_INVALID;

        lsn_parse(end, strlen(end), &want);
        caught = progress_read(t, "target", "memori_bridge", &p) && p.lsn >= want;
        if (!caught)
            pause_for(0.1);
    }
    if (!caught)
    {
        log_error("the target did not reach the source's %s within 60 s", end);
        goto done;
    }
    ok = agents_check(d->agents, s, "source", &rows_s) &&
         agents_check(d->agents, t, "target", &rows_t) && rows_s == rows_t;
done:
    record(d, "nothing lost", ok, now_s() - t0,
           ok ? "the %llu memories the agents were told committed: on both sides, use counts "
                "and all"
              : "a difference (see above) in %llu memories",
           (unsigned long long) rows_s);
    if (s != NULL)
        PQfinish(s);
    if (t != NULL)
        PQfinish(t);
    return ok;
}

static void
stop_run(struct demo *d)
{
    int status;

    if (d->run_pid <= 0)
        return;
    kill(d->run_pid, SIGTERM);
    while (waitpid(d->run_pid, &status, 0) < 0 && errno == EINTR)
        ;
    if (d->run_reading)
        pthread_join(d->run_reader, NULL);
    d->run_reading = false;
    d->run_pid = 0;
}

static void
summary(struct demo *d)
{
    int i;

    say("%s", "");
    say("memori-bridge demo: summary");
    say("  %-30s %-8s %s", "step", "time", "result");
    for (i = 0; i < d->nrows; i++)
    {
        char t[16] = "";

        if (d->rows[i].seconds >= 0)
            snprintf(t, sizeof(t), "%.1f s", d->rows[i].seconds);
        say("  %-30s %-8s %s%s", d->rows[i].step, t, d->rows[i].ok ? "" : "FAILED: ",
            d->rows[i].what);
    }
}

static void
demo_usage(FILE *out)
{
    fputs("usage: memori-bridge demo [--agents N] [--rows N] [--seconds N] [--pg-bin DIR]\n"
          "                          [--source-profile supabase|superuser]\n"
          "\n"
          "The whole life cycle on two throwaway local PostgreSQL clusters (127.0.0.1 only,\n"
          "under /tmp, removed at the end): the source with the memori schema and sample\n"
          "data, the target empty, and a PgBouncer in front of memori. Agents write through\n"
          "it throughout, and never learn of a switch. init, run (lag lines),\n"
          "verify, cutover (the pause), writes on the target, rollback, verify; then a\n"
          "check that no write was refused, every acknowledged write is on both sides,\n"
          "and a summary.\n"
          "As root the clusters run as system user " CLUSTER_USER " (created when missing).\n"
          "\n"
          "  --agents N     writing agents (default 4)\n"
          "  --rows N       sample memories on the source (default 20000)\n"
          "  --seconds N    how long each phase streams (default 6)\n"
          "  --pg-bin DIR   the PostgreSQL server programs (default: the newest installed)\n"
          "  --source-profile supabase|superuser\n"
          "                 supabase (default): the source's roles are made as Supabase\n"
          "                 makes them, and the bridge connects as its postgres role, which\n"
          "                 is not a superuser; superuser: postgres is the superuser\n"
          "\n"
          "exit status: 0 every verify equal and nothing lost, 1 otherwise\n",
          out);
}

static bool
int_option(const char *name, const char *value, int lo, int hi, int *out)
{
    char *end;
    long v;

    errno = 0;
    v = value != NULL ? strtol(value, &end, 10) : 0;
    if (value == NULL || errno != 0 || *end != '\0' || v < lo || v > hi)
    {
        log_error("demo: %s takes a number from %d to %d", name, lo, hi);
        return false;
    }
    *out = (int) v;
    return true;
}

static bool
life_cycle(struct demo *d)
{
    char *init_argv[] = {NULL, "init", NULL};
    char *run_argv[] = {NULL, "run", "--lag-interval", "2s", NULL};
    char *out = NULL;
    double t0;
    int status;

    if (!step("two local clusters"))
        return false;
    t0 = now_s();
    say("demo: %s, in %s%s", d->env.version, d->env.base,
        d->env.drop ? " (as system user " CLUSTER_USER ")" : "");
    if (!cluster_start(&d->env, &d->src, "source", d->o.source_profile) ||
        !cluster_start(&d->env, &d->dst, "target", CLUSTER_PLAIN))
    {
        record(d, "clusters", false, now_s() - t0, "could not start them (see above)");
        return false;
    }
    say("demo: source (plays Supabase)   host=127.0.0.1 port=%d, %s", d->src.port,
        d->src.profile == CLUSTER_SUPABASE
            ? "made as Supabase makes it: the bridge connects as postgres, not a superuser"
            : "the bridge connects as postgres, its superuser");
    say("demo: target (the standalone)  host=127.0.0.1 port=%d", d->dst.port);
    record(d, "clusters", true, now_s() - t0, "%s: source on port %d (%s), target on port %d",
           d->env.version, d->src.port,
           d->src.profile == CLUSTER_SUPABASE ? "Supabase's roles: postgres, no superuser"
                                              : "postgres is its superuser",
           d->dst.port);
    setenv("MEMORI_BRIDGE_SOURCE", d->src.dsn, 1);
    setenv("MEMORI_BRIDGE_TARGET", d->dst.dsn, 1);
    t0 = now_s();
    if (!bouncer_start(&d->env, &d->pool, &d->src))
    {
        record(d, "pgbouncer", false, now_s() - t0, "could not start it (see above)");
        return false;
    }
    setenv("MEMORI_BRIDGE_PGBOUNCER", d->pool.admin_dsn, 1);
    setenv("MEMORI_BRIDGE_PGBOUNCER_INI", d->pool.entry, 1);
    say("demo: PgBouncer (transaction pooling) host=127.0.0.1 port=%d, database memori -> the "
        "source; cutover and rollback switch it (--pgbouncer)",
        d->pool.port);
    record(d, "pgbouncer", true, now_s() - t0,
           "port %d, transaction pooling: the agents' "
           "MEMORI_DATABASE_URL, which never changes",
           d->pool.port);

    if (!step("memori on the source, and agents writing to it") || !sample_data(d))
        return false;
    d->agents = agents_start(d->o.agents, d->pool.dsn, NULL, d->o.rate);
    if (d->agents == NULL)
        return false;
    say("demo: %d agents write memories, entities and conversations, %d transactions/s each",
        d->o.agents, d->o.rate);

    if (!step("init: copy the source to the target while the agents write"))
        return false;
    t0 = now_s();
    status = run_command(d, init_argv, &out);
    if (status == 0)
        record(d, "init", true, now_s() - t0, "copied %.0f rows in one snapshot; the slot "
               "continues from it", number_after(out, "copied "));
    else
        record(d, "init", false, now_s() - t0, "failed with exit status %d (see above)", status);
    free(out);
    if (status != 0)
        return false;

    if (!step("run: stream the changes (a lag line every 2 s)"))
        return false;
    d->run_pid = spawn(d, run_argv, &d->run_fd);
    if (d->run_pid < 0)
        return false;
    d->run_reading = pthread_create(&d->run_reader, NULL, run_reader, d) == 0;
    if (!pause_for(d->o.seconds))
        return false;
    record(d, "run", true, -1, "streaming source -> target (lag lines above)");

    if (!verify_step(d, "verify while streaming") || !switch_step(d, "cutover") ||
        !phase(d, "writes go on, on the target", 1) || !switch_step(d, "rollback") ||
        !phase(d, "writes go on, on the source", 0) || !verify_step(d, "verify after rollback"))
        return false;

    if (!step("the agents stop; is every acknowledged write on both sides?"))
        return false;
    if (!agents_stop(d->agents))
    {
        record(d, "agents", false, -1, "an agent failed (see above)");
        return false;
    }
    {
        struct agent_stats a;

        agents_stats(d->agents, &a);
        record(d, "agents", a.refused == 0, -1,
               "%llu writes through PgBouncer, %llu refused; the longest write took %.0f ms",
               (unsigned long long) a.writes, (unsigned long long) a.refused, a.max_wait_ms);
        if (a.refused > 0)
            return false;
    }
    return nothing_lost(d);
}

int
cmd_demo(int argc, char **argv, const struct conf *conf)
{
    struct demo d;
    struct sigaction sa;
    ssize_t n;
    int i;

    (void) conf;
    memset(&d, 0, sizeof(d));
    d.o = (struct options){4, 25, 20000, 6, NULL, CLUSTER_SUPABASE};
    for (i = 1; i < argc; i++)
    {
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;

        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0)
        {
            demo_usage(stdout);
            return 0;
        }
        if (strcmp(argv[i], "--agents") == 0 && int_option("--agents", v, 1, 32, &d.o.agents))
            i++;
        else if (strcmp(argv[i], "--rows") == 0 && int_option("--rows", v, 0, 10000000, &d.o.rows))
            i++;
        else if (strcmp(argv[i], "--seconds") == 0 &&
                 int_option("--seconds", v, 1, 3600, &d.o.seconds))
            i++;
        else if (strcmp(argv[i], "--pg-bin") == 0 && v != NULL)
            d.o.pg_bin = argv[++i];
        else if (strcmp(argv[i], "--source-profile") == 0 && v != NULL &&
                 (strcmp(v, "supabase") == 0 || strcmp(v, "superuser") == 0))
            d.o.source_profile = strcmp(argv[++i], "supabase") == 0 ? CLUSTER_SUPABASE
                                                                   : CLUSTER_PLAIN;
        else
        {
            if (strcmp(argv[i], "--source-profile") == 0)
                log_error("demo: --source-profile takes supabase or superuser");
            else if (strcmp(argv[i], "--agents") != 0 && strcmp(argv[i], "--rows") != 0 &&
                     strcmp(argv[i], "--seconds") != 0)
                log_error("demo: unknown option \"%s\"", argv[i]);
            demo_usage(stderr);
            return EXIT_USAGE;
        }
    }
    n = readlink("/proc/self/exe", d.self, sizeof(d.self) - 1);
    if (n <= 0)
    {
        log_error("could not find this program (/proc/self/exe): %s", strerror(errno));
        return 1;
    }
    d.self[n] = '\0';
    setvbuf(stdout, NULL, _IOLBF, 0);
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    d.started = now_s();

    say("memori-bridge demo: the whole life cycle on two local PostgreSQL clusters");
    if (!cluster_env_init(&d.env, d.o.pg_bin))
    {
        cluster_env_free(&d.env);
        return 1;
    }
    d.watchdog = cluster_watchdog(&d.env, getpid());
    if (!life_cycle(&d))
        d.failed = true;

    /* teardown, whatever happened */
    if (d.agents != NULL)
    {
        agents_stop(d.agents);
        agents_free(d.agents);
    }
    stop_run(&d);
    bouncer_stop(&d.pool);
    say("%s", "");
    say("== teardown: stopping the clusters and removing %s", d.env.base);
    cluster_stop(&d.src);
    cluster_stop(&d.dst);
    if (d.watchdog > 0)
    {
        kill(d.watchdog, SIGKILL);
        waitpid(d.watchdog, NULL, 0);
    }
    cluster_env_free(&d.env);
    summary(&d);
    if (interrupted)
    {
        say("demo: interrupted; everything is torn down");
        return 1;
    }
    say("demo: %s in %.1f s", d.failed ? "FAILED" : "passed: every verify equal, nothing lost",
        now_s() - d.started);
    return d.failed ? 1 : 0;
}
