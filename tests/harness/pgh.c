/*
 * pgh.c: C side of the test-cluster harness (see pgh.h and the pgh script).
 *
 * The script does the work; this file runs it and parses its output. The one piece
 * of state is the registry of started sets, read by the atexit and signal
 * handlers. It is fixed-size static storage, so the handlers never allocate: a
 * handler only forks, execs "bash pgh stop DIR" and waits, which are
 * async-signal-safe. Entries are changed with the handled signals blocked, and a
 * handler acts only in the process that started the set (owner_pid), so a forked
 * child that exits never stops its parent's clusters.
 */
#include "pgh.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef PGH_SCRIPT
#define PGH_SCRIPT "tests/harness/pgh"
#endif

#define PGH_MAX_SETS 16

/* Sets this process started and has not stopped yet. */
struct registry_entry
{
    volatile sig_atomic_t used; /* 1 while dir names a running set */
    pid_t owner_pid;            /* process that started the set */
    char dir[256];              /* set directory */
};

static struct registry_entry registry[PGH_MAX_SETS];
static char script_path[PATH_MAX]; /* fixed at the first pgh_start() */
static bool handlers_installed;

static const int handled_signals[] = {SIGINT, SIGTERM, SIGHUP};
#define N_HANDLED ((int) (sizeof(handled_signals) / sizeof(handled_signals[0])))
static struct sigaction previous_actions[N_HANDLED];

/* Run "bash SCRIPT stop DIR" and wait for it. Async-signal-safe (no allocation,
 * no stdio). Returns true when the script exited with status 0. */
static bool
run_stop(const char *dir)
{
    char *argv[] = {"bash", script_path, "stop", (char *) dir, NULL};
    pid_t pid;
    int status;

    pid = fork();
    if (pid < 0)
        return false;
    if (pid == 0)
    {
        execv("/bin/bash", argv);
        _exit(127);
    }
    while (waitpid(pid, &status, 0) < 0)
    {
        if (errno != EINTR)
            return false;
    }
    return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

/* Stop every registered set of this process. Async-signal-safe. */
static void
stop_registered(void)
{
    pid_t self = getpid();

    for (int i = 0; i < PGH_MAX_SETS; i++)
    {
        if (registry[i].used && registry[i].owner_pid == self)
        {
            run_stop(registry[i].dir);
            registry[i].used = 0;
        }
    }
}

static void
on_exit_stop(void)
{
    stop_registered();
}

static void
on_signal_stop(int sig)
{
    int saved_errno = errno;

    stop_registered();
    /* Hand the signal to whoever had it before (by default: terminate). It is
     * blocked while this handler runs and is delivered when it returns. */
    for (int i = 0; i < N_HANDLED; i++)
    {
        if (handled_signals[i] == sig)
            sigaction(sig, &previous_actions[i], NULL);
    }
    raise(sig);
    errno = saved_errno;
}

static void
block_handled(sigset_t *old)
{
    sigset_t set;

    sigemptyset(&set);
    for (int i = 0; i < N_HANDLED; i++)
        sigaddset(&set, handled_signals[i]);
    sigprocmask(SIG_BLOCK, &set, old);
}

static void
install_handlers(void)
{
    struct sigaction sa;

    if (handlers_installed)
        return;
    handlers_installed = true;
    atexit(on_exit_stop);

    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal_stop;
    sigemptyset(&sa.sa_mask);
    for (int i = 0; i < N_HANDLED; i++)
        sigaddset(&sa.sa_mask, handled_signals[i]);
    for (int i = 0; i < N_HANDLED; i++)
    {
        struct sigaction old;

        sigaction(handled_signals[i], NULL, &old);
        previous_actions[i] = old;
        /* A signal the caller ignores (nohup, background job) stays ignored. */
        if (old.sa_handler == SIG_IGN)
            continue;
        sigaction(handled_signals[i], &sa, NULL);
    }
}

static bool
register_set(const char *dir)
{
    sigset_t old;
    bool done = false;

    block_handled(&old);
    for (int i = 0; i < PGH_MAX_SETS && !done; i++)
    {
        if (!registry[i].used)
        {
            snprintf(registry[i].dir, sizeof(registry[i].dir), "%s", dir);
            registry[i].owner_pid = getpid();
            registry[i].used = 1;
            done = true;
        }
    }
    sigprocmask(SIG_SETMASK, &old, NULL);
    return done;
}

static void
unregister_set(const char *dir)
{
    sigset_t old;

    block_handled(&old);
    for (int i = 0; i < PGH_MAX_SETS; i++)
    {
        if (registry[i].used && strcmp(registry[i].dir, dir) == 0)
            registry[i].used = 0;
    }
    sigprocmask(SIG_SETMASK, &old, NULL);
}

static void
set_script_path(void)
{
    const char *env = getenv("MB_PGH");

    snprintf(script_path, sizeof(script_path), "%s", env && *env ? env : PGH_SCRIPT);
}

/* Undo the shell quoting of the script's output ('...' with '\'' for a quote, or
 * bare words) from SRC into DST (LEN bytes). Returns false when it does not fit
 * or a quote is unterminated. */
static bool
shell_unquote(const char *src, char *dst, size_t len)
{
    size_t n = 0;

    for (const char *p = src; *p; p++)
    {
        if (*p == '\'')
        {
            for (p++; *p && *p != '\''; p++)
            {
                if (n + 1 >= len)
                    return false;
                dst[n++] = *p;
            }
            if (*p != '\'')
                return false;
            continue;
        }
        if (*p == '\\' && p[1])
            p++;
        if (n + 1 >= len)
            return false;
        dst[n++] = *p;
    }
    if (len == 0)
        return false;
    dst[n] = '\0';
    return true;
}

/* Copy the string VALUE into DST (LEN bytes). Returns false, copying nothing, when
 * it does not fit. */
static bool
copy_field(char *dst, size_t len, const char *value)
{
    size_t n = strlen(value);

    if (n >= len)
        return false;
    memcpy(dst, value, n + 1);
    return true;
}

static bool
parse_int(const char *s, long min, long max, long *out)
{
    char *end;
    long v;

    errno = 0;
    v = strtol(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0' || v < min || v > max)
        return false;
    *out = v;
    return true;
}

/* Store one KEY=VALUE line of "pgh start" into SET. Unknown keys are skipped.
 * Returns false with ERR filled on a malformed line. */
static bool
parse_line(struct pgh_set *set, char *line, char *err, size_t errlen)
{
    char *eq = strchr(line, '=');
    char value[512];
    char *key = line;
    long num;
    bool fits = true;

    if (!eq || strncmp(line, "PGH_", 4) != 0)
    {
        snprintf(err, errlen, "unexpected output line from \"pgh start\": \"%.80s\"", line);
        return false;
    }
    *eq = '\0';
    if (!shell_unquote(eq + 1, value, sizeof(value)))
    {
        snprintf(err, errlen, "malformed value of %s in the output of \"pgh start\"", key);
        return false;
    }
    key += 4;

    if (strcmp(key, "SET") == 0)
        fits = copy_field(set->dir, sizeof(set->dir), value);
    else if (strcmp(key, "BINDIR") == 0)
    {
        for (int i = 0; i < PGH_MAX_CLUSTERS; i++)
            fits = fits && copy_field(set->c[i].bindir, sizeof(set->c[i].bindir), value);
    }
    else if (strcmp(key, "COUNT") == 0)
    {
        if (!parse_int(value, 1, PGH_MAX_CLUSTERS, &num))
        {
            snprintf(err, errlen, "invalid PGH_COUNT \"%s\" from \"pgh start\"", value);
            return false;
        }
        set->count = (int) num;
    }
    else if (strcmp(key, "PASSWORD") == 0)
    {
        for (int i = 0; i < PGH_MAX_CLUSTERS; i++)
            fits = fits && copy_field(set->c[i].password, sizeof(set->c[i].password), value);
    }
    else if (key[0] >= '1' && key[0] <= '9')
    {
        char *end;
        long idx;
        struct pgh_cluster *c;

        errno = 0;
        idx = strtol(key, &end, 10);
        if (errno != 0 || *end != '_' || idx < 1 || idx > PGH_MAX_CLUSTERS)
        {
            snprintf(err, errlen, "unexpected key PGH_%s from \"pgh start\"", key);
            return false;
        }
        c = &set->c[idx - 1];
        end++;
        if (strcmp(end, "PORT") == 0)
        {
            if (!parse_int(value, 1, 65535, &num))
            {
                snprintf(err, errlen, "invalid port \"%s\" from \"pgh start\"", value);
                return false;
            }
            c->port = (int) num;
        }
        else if (strcmp(end, "DATA") == 0)
            fits = copy_field(c->datadir, sizeof(c->datadir), value);
        else if (strcmp(end, "SOCKDIR") == 0)
            fits = copy_field(c->sockdir, sizeof(c->sockdir), value);
        else if (strcmp(end, "DSN") == 0)
            fits = copy_field(c->dsn, sizeof(c->dsn), value);
    }
    if (!fits)
    {
        snprintf(err, errlen, "value of PGH_%s from \"pgh start\" is too long", key);
        return false;
    }
    return true;
}

/* Every cluster of SET has what the tests need. */
static bool
set_complete(const struct pgh_set *set, int count, char *err, size_t errlen)
{
    if (set->dir[0] == '\0' || set->count != count)
    {
        snprintf(err, errlen, "\"pgh start\" reported %d cluster(s) in \"%s\", expected %d",
                 set->count, set->dir, count);
        return false;
    }
    for (int i = 0; i < count; i++)
    {
        const struct pgh_cluster *c = &set->c[i];

        if (c->port == 0 || !c->datadir[0] || !c->sockdir[0] || !c->dsn[0] || !c->password[0] ||
            !c->bindir[0])
        {
            snprintf(err, errlen, "\"pgh start\" left out details of cluster %d", i + 1);
            return false;
        }
    }
    return true;
}

bool
pgh_start(struct pgh_set *set, int count, char *err, size_t errlen)
{
    char count_arg[16];
    char owner_arg[32];
    int fds[2];
    pid_t pid;
    int status = 0;
    FILE *out = NULL;
    char *line = NULL;
    size_t linecap = 0;
    bool ok = false;

    memset(set, 0, sizeof(*set));
    if (count < 1 || count > PGH_MAX_CLUSTERS)
    {
        snprintf(err, errlen, "invalid cluster count %d; give 1 to %d", count, PGH_MAX_CLUSTERS);
        return false;
    }
    if (!handlers_installed)
        set_script_path();
    install_handlers();

    snprintf(count_arg, sizeof(count_arg), "%d", count);
    snprintf(owner_arg, sizeof(owner_arg), "%ld", (long) getpid());
    if (pipe2(fds, O_CLOEXEC) != 0)
    {
        snprintf(err, errlen, "could not create a pipe for \"pgh start\": %s", strerror(errno));
        return false;
    }
    fflush(NULL);
    pid = fork();
    if (pid < 0)
    {
        snprintf(err, errlen, "could not fork \"pgh start\": %s", strerror(errno));
        close(fds[0]);
        close(fds[1]);
        return false;
    }
    if (pid == 0)
    {
        char *argv[] = {"bash",    script_path, "start",   "--count",
                        count_arg, "--owner",   owner_arg, NULL};

        /* stdout is the pipe; every other inherited descriptor (test framework
         * sockets, say) is closed so no server started below can hold it open. */
        if (dup2(fds[1], STDOUT_FILENO) < 0)
            _exit(127);
        close_range(3, ~0U, 0);
        execv("/bin/bash", argv);
        _exit(127);
    }
    close(fds[1]);

    out = fdopen(fds[0], "r");
    if (!out)
    {
        snprintf(err, errlen, "could not read from \"pgh start\": %s", strerror(errno));
        close(fds[0]);
        goto done;
    }
    err[0] = '\0';
    while (getline(&line, &linecap, out) > 0)
    {
        line[strcspn(line, "\n")] = '\0';
        if (err[0] == '\0')
            parse_line(set, line, err, errlen);
    }

done:
    if (out)
        fclose(out);
    free(line);
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
    {
        snprintf(err, errlen, "\"%s start --count %d\" failed (%s %d); its reason is on stderr",
                 script_path, count, WIFEXITED(status) ? "exit status" : "signal",
                 WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
    }
    else if (err[0] == '\0' && set_complete(set, count, err, errlen))
        ok = true;

    if (ok && !register_set(set->dir))
    {
        snprintf(err, errlen, "more than %d sets started at once; stop some first", PGH_MAX_SETS);
        ok = false;
    }
    if (!ok)
    {
        if (set->dir[0])
            run_stop(set->dir);
        memset(set, 0, sizeof(*set));
    }
    return ok;
}

void
pgh_stop(struct pgh_set *set)
{
    if (!set || set->dir[0] == '\0')
        return;
    if (!handlers_installed)
        set_script_path();
    if (!run_stop(set->dir))
        fprintf(stderr, "pgh: could not stop set \"%s\"; run \"%s stop %s\"\n", set->dir,
                script_path, set->dir);
    unregister_set(set->dir);
    set->dir[0] = '\0';
}

/* Append " KEY=VALUE" to BUF, quoting VALUE as libpq expects. */
static bool
dsn_append(char *buf, size_t len, size_t *pos, const char *key, const char *value)
{
    bool quote = value[0] == '\0' || strpbrk(value, " \t\n\r\f\v'\\") != NULL;
    int n;

    n = snprintf(buf + *pos, len - *pos, "%s%s=%s", *pos ? " " : "", key, quote ? "'" : "");
    if (n < 0 || (size_t) n >= len - *pos)
        return false;
    *pos += (size_t) n;
    for (const char *p = value; *p; p++)
    {
        if (*p == '\'' || *p == '\\')
        {
            if (*pos + 1 >= len)
                return false;
            buf[(*pos)++] = '\\';
        }
        if (*pos + 1 >= len)
            return false;
        buf[(*pos)++] = *p;
    }
    if (quote)
    {
        if (*pos + 1 >= len)
            return false;
        buf[(*pos)++] = '\'';
    }
    buf[*pos] = '\0';
    return true;
}

static char *
build_dsn(const struct pgh_cluster *c, const char *dbname, bool with_password, char *buf,
          size_t len)
{
    char port[16];
    size_t pos = 0;

    if (len == 0)
        return NULL;
    buf[0] = '\0';
    snprintf(port, sizeof(port), "%d", c->port);
    if (!dsn_append(buf, len, &pos, "host", "127.0.0.1") ||
        !dsn_append(buf, len, &pos, "port", port) ||
        !dsn_append(buf, len, &pos, "user", "postgres") ||
        (with_password && !dsn_append(buf, len, &pos, "password", c->password)) ||
        !dsn_append(buf, len, &pos, "dbname", dbname ? dbname : "postgres"))
        return NULL;
    return buf;
}

char *
pgh_dsn(const struct pgh_cluster *c, const char *dbname, char *buf, size_t len)
{
    return build_dsn(c, dbname, true, buf, len);
}

PGconn *
pgh_connect(const struct pgh_cluster *c, const char *dbname)
{
    char dsn[1024];
    PGconn *conn;

    if (!pgh_dsn(c, dbname, dsn, sizeof(dsn)))
    {
        fprintf(stderr, "pgh: connection string for database \"%s\" is too long\n",
                dbname ? dbname : "postgres");
        return NULL;
    }
    conn = PQconnectdb(dsn);
    if (PQstatus(conn) != CONNECTION_OK)
    {
        fprintf(stderr, "pgh: could not connect to database \"%s\" on 127.0.0.1 port %d: %s",
                dbname ? dbname : "postgres", c->port, PQerrorMessage(conn));
        PQfinish(conn);
        return NULL;
    }
    return conn;
}

bool
pgh_exec(PGconn *conn, const char *sql)
{
    PGresult *res = PQexec(conn, sql);
    ExecStatusType st = PQresultStatus(res);
    bool ok = st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK;

    if (!ok)
        fprintf(stderr, "pgh: statement failed: %s  statement: %s\n", PQerrorMessage(conn), sql);
    PQclear(res);
    return ok;
}

char *
pgh_query_value(PGconn *conn, const char *sql, char *buf, size_t len)
{
    PGresult *res = PQexec(conn, sql);
    char *ret = NULL;

    if (PQresultStatus(res) != PGRES_TUPLES_OK)
        fprintf(stderr, "pgh: query failed: %s  query: %s\n", PQerrorMessage(conn), sql);
    else if (PQntuples(res) < 1 || PQnfields(res) < 1)
        fprintf(stderr, "pgh: query returned no value: %s\n", sql);
    else if ((size_t) PQgetlength(res, 0, 0) >= len)
        fprintf(stderr, "pgh: value of %d bytes does not fit %zu bytes: %s\n",
                PQgetlength(res, 0, 0), len, sql);
    else
    {
        memcpy(buf, PQgetvalue(res, 0, 0), (size_t) PQgetlength(res, 0, 0) + 1);
        ret = buf;
    }
    PQclear(res);
    return ret;
}

bool
pgh_psql_file(const struct pgh_cluster *c, const char *dbname, const char *path)
{
    char dsn[1024];
    char psql[PATH_MAX];
    char password_env[128];
    pid_t pid;
    int status;

    if (!build_dsn(c, dbname, false, dsn, sizeof(dsn)))
    {
        fprintf(stderr, "pgh: connection string for database \"%s\" is too long\n",
                dbname ? dbname : "postgres");
        return false;
    }
    /* psql of the server's own bin directory: client and server versions match. */
    snprintf(psql, sizeof(psql), "%s/psql", c->bindir);
    snprintf(password_env, sizeof(password_env), "PGPASSWORD=%s", c->password);

    fflush(NULL);
    pid = fork();
    if (pid < 0)
    {
        fprintf(stderr, "pgh: could not fork psql: %s\n", strerror(errno));
        return false;
    }
    if (pid == 0)
    {
        /* A minimal environment: no sanitizer options or PG* variables of the test. */
        char *envp[] = {"PATH=/usr/local/bin:/usr/bin:/bin", "LC_ALL=C", password_env, NULL};
        char *argv[] = {"psql", "-X", "-v", "ON_ERROR_STOP=1", "-q",
                        "-d",   dsn,  "-f", (char *) path,     NULL};
        static const char msg[] = "pgh: could not run psql of the cluster's bin directory\n";

        close_range(3, ~0U, 0);
        execve(psql, argv, envp);
        if (write(STDERR_FILENO, msg, sizeof(msg) - 1) < 0)
            _exit(127);
        _exit(127);
    }
    while (waitpid(pid, &status, 0) < 0)
    {
        if (errno != EINTR)
        {
            fprintf(stderr, "pgh: could not wait for psql: %s\n", strerror(errno));
            return false;
        }
    }
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
    {
        fprintf(stderr, "pgh: psql -f \"%s\" on port %d failed (status %d)\n", path, c->port,
                WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
        return false;
    }
    return true;
}
