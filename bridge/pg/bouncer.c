/*
 * bouncer.c - the demo's PgBouncer: write its files, start it as the
 * clusters' user, wait until it answers, stop it by its pid file.
 */
#include "bridge/pg/bouncer.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <libpq-fe.h>

#include "bridge/base/log.h"

static const char *const programs[] = {"/usr/sbin/pgbouncer", "/usr/bin/pgbouncer",
                                       "/usr/local/bin/pgbouncer", NULL};

static void
nap_ms(long ms)
{
    struct timespec t = {ms / 1000, (ms % 1000) * 1000000L};

    nanosleep(&t, NULL);
}

/* The pid in DIR/pgbouncer.pid, or 0. */
static pid_t
pid_in(const char *dir)
{
    char path[PATH_MAX + 32], buf[32] = "";
    FILE *f;
    long pid;

    snprintf(path, sizeof(path), "%s/pgbouncer.pid", dir);
    f = fopen(path, "r");
    if (f == NULL)
        return 0;
    if (fgets(buf, sizeof(buf), f) == NULL)
        buf[0] = '\0';
    fclose(f);
    pid = strtol(buf, NULL, 10);
    return pid > 1 ? (pid_t) pid : 0;
}

static void
stop_dir(const char *dir)
{
    pid_t pid = pid_in(dir);
    int i;

    if (pid == 0 || kill(pid, SIGTERM) != 0)
        return;
    for (i = 0; i < 50 && kill(pid, 0) == 0; i++)
        nap_ms(100);
    if (kill(pid, 0) == 0)
        kill(pid, SIGKILL);
}

bool
bouncer_start(const struct cluster_env *env, struct bouncer *b, const struct cluster *front)
{
    const char *program = NULL;
    char text[4096], users[160];
    int i;

    memset(b, 0, sizeof(*b));
    b->env = env;
    for (i = 0; programs[i] != NULL && program == NULL; i++)
        if (access(programs[i], X_OK) == 0)
            program = programs[i];
    if (program == NULL)
    {
        log_error("pgbouncer is not installed; install it: apt-get install pgbouncer "
                  "(scripts/install-deps.sh does)");
        return false;
    }
    snprintf(b->dir, sizeof(b->dir), "%s/pgbouncer", env->base);
    snprintf(b->ini, sizeof(b->ini), "%s/pgbouncer.ini", b->dir);
    snprintf(b->entry, sizeof(b->entry), "%s/memori.ini", b->dir);
    snprintf(b->log, sizeof(b->log), "%s/pgbouncer.log", b->dir);
    if (mkdir(b->dir, 0700) != 0 || (env->drop && chown(b->dir, env->uid, env->gid) != 0))
    {
        log_error("could not make %s: %s", b->dir, strerror(errno));
        return false;
    }
    b->port = cluster_free_port();
    snprintf(text, sizeof(text), "\"postgres\" \"%s\"\n", env->password);
    snprintf(users, sizeof(users), "%s/userlist.txt", b->dir);
    if (!cluster_write_file(env, users, text, false))
        return false;
    snprintf(text, sizeof(text),
             "[databases]\nmemori = host=127.0.0.1 port=%d dbname=postgres user=postgres "
             "password=%s\n",
             front->port, env->password);
    if (!cluster_write_file(env, b->entry, text, false))
        return false;
    snprintf(text, sizeof(text),
             "[pgbouncer]\nlisten_addr = 127.0.0.1\nlisten_port = %d\nunix_socket_dir =\n"
             "pool_mode = transaction\nauth_type = scram-sha-256\nauth_file = %s\n"
             "admin_users = postgres\nmax_client_conn = 100\ndefault_pool_size = 8\n"
             "logfile = %s\npidfile = %s/pgbouncer.pid\n%%include %s\n",
             b->port, users, b->log, b->dir, b->entry);
    if (!cluster_write_file(env, b->ini, text, false))
        return false;
    {
        char *argv[] = {(char *) program, "-d", "-q", b->ini, NULL};

        if (cluster_exec(env, NULL, argv) != 0)
        {
            log_error("could not start PgBouncer (%s); its log: %s", b->ini, b->log);
            return false;
        }
    }
    b->running = true;
    snprintf(b->dsn, sizeof(b->dsn),
             "host=127.0.0.1 port=%d dbname=memori user=postgres password=%s", b->port,
             env->password);
    snprintf(b->admin_dsn, sizeof(b->admin_dsn),
             "host=127.0.0.1 port=%d dbname=pgbouncer user=postgres password=%s", b->port,
             env->password);
    for (i = 0; i < 100; i++)
    {
        if (PQping(b->dsn) == PQPING_OK)
            return true;
        nap_ms(50);
    }
    log_error("PgBouncer on port %d does not answer after 5 s; its log: %s", b->port, b->log);
    return false;
}

void
bouncer_stop(struct bouncer *b)
{
    if (!b->running)
        return;
    stop_dir(b->dir);
    b->running = false;
}

void
bouncer_kill(const struct cluster_env *env)
{
    char dir[128];

    snprintf(dir, sizeof(dir), "%s/pgbouncer", env->base);
    stop_dir(dir);
}
