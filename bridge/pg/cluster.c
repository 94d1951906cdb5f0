/*
 * cluster.c - throwaway local PostgreSQL clusters, for the demo (see
 * cluster.h).
 */
#include "bridge/pg/cluster.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <grp.h>
#include <netinet/in.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bridge/base/log.h"
#include "bridge/pg/bouncer.h"
#include "bridge/base/secret.h"
#include "bridge/pg/pgconn.h"

extern const char supabase_profile_sql[]; /* sql/supabase_profile.sql, built in */

static bool
is_file(const char *path)
{
    struct stat st;

    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

int
cluster_exec(const struct cluster_env *env, const char *log, char *const argv[])
{
    char home[PATH_MAX + 8];
    char *envp[] = {"PATH=/usr/bin:/bin", "LC_ALL=C", home, NULL};
    pid_t pid;
    int status;

    snprintf(home, sizeof(home), "HOME=%s", env->base);
    pid = fork();
    if (pid < 0)
    {
        log_error("could not start %s: %s", argv[0], strerror(errno));
        return -1;
    }
    if (pid == 0)
    {
        int in = open("/dev/null", O_RDONLY);
        int out = log != NULL ? open(log, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600)
                              : open("/dev/null", O_WRONLY);

        setsid(); /* a Ctrl-C at the terminal is the demo's to handle */
        if (in < 0 || out < 0 || dup2(in, 0) < 0 || dup2(out, 1) < 0 || dup2(out, 2) < 0)
            _exit(127);
        if (log != NULL && env->drop && fchown(out, env->uid, env->gid) != 0)
            _exit(127);
        if (chdir(env->base) != 0)
            _exit(127);
        if (env->drop &&
            (setgroups(0, NULL) != 0 || setgid(env->gid) != 0 || setuid(env->uid) != 0))
            _exit(126);
        execve(argv[0], argv, envp);
        _exit(127);
    }
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR)
            return -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* The last lines of FILE, logged as errors. */
static void
log_tail(const char *file, int lines)
{
    char buf[8192];
    FILE *f = fopen(file, "r");
    size_t n;
    long at;
    char *p, *start;
    int seen = 0;

    if (f == NULL)
        return;
    fseek(f, 0, SEEK_END);
    at = ftell(f);
    fseek(f, at > (long) sizeof(buf) - 1 ? at - (long) sizeof(buf) + 1 : 0, SEEK_SET);
    n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    while (n > 0 && buf[n - 1] == '\n')
        buf[--n] = '\0';
    start = buf;
    for (p = buf + n; p > buf; p--)
        if (p[-1] == '\n' && ++seen == lines)
        {
            start = p;
            break;
        }
    for (p = strtok(start, "\n"); p != NULL; p = strtok(NULL, "\n"))
        log_error("  %s: %s", file, p);
}

/* The newest /usr/lib/postgresql/N/bin that has initdb, into BUF. */
static bool
newest_bindir(char *buf, size_t len)
{
    DIR *d = opendir("/usr/lib/postgresql");
    struct dirent *e;
    long best = -1;

    if (d == NULL)
        return false;
    while ((e = readdir(d)) != NULL)
    {
        char path[PATH_MAX], *end;
        long v = strtol(e->d_name, &end, 10);

        if (end == e->d_name || *end != '\0')
            continue;
        snprintf(path, sizeof(path), "/usr/lib/postgresql/%s/bin/initdb", e->d_name);
        if (v > best && is_file(path))
        {
            best = v;
            snprintf(buf, len, "/usr/lib/postgresql/%s/bin", e->d_name);
        }
    }
    closedir(d);
    return best >= 0;
}

/* The first line PROGRAM ARG prints (run as the current user), into BUF. */
static bool
first_line(const char *program, const char *arg, char *buf, size_t len)
{
    char cmd[PATH_MAX + 64];
    FILE *p;
    bool ok;

    snprintf(cmd, sizeof(cmd), "'%s' %s 2>/dev/null", program, arg);
    p = popen(cmd, "r");
    if (p == NULL)
        return false;
    ok = fgets(buf, (int) len, p) != NULL;
    pclose(p);
    if (ok)
        buf[strcspn(buf, "\n")] = '\0';
    return ok && buf[0] != '\0';
}

static bool
ensure_user(struct cluster_env *env)
{
    struct passwd *pw;

    if (geteuid() != 0)
    {
        env->drop = false;
        return true;
    }
    pw = getpwnam(CLUSTER_USER);
    if (pw == NULL)
    {
        char *argv[] = {"/usr/sbin/useradd", "--system",  "--no-create-home", "--home-dir",
                        "/nonexistent",      "--shell",   "/usr/sbin/nologin", CLUSTER_USER,
                        NULL};
        struct cluster_env root = *env;

        log_info("creating system user \"%s\" to own the demo's clusters (PostgreSQL refuses "
                 "to run as root)",
                 CLUSTER_USER);
        root.drop = false;
        snprintf(root.base, sizeof(root.base), "/");
        cluster_exec(&root, NULL, argv);
        pw = getpwnam(CLUSTER_USER);
        if (pw == NULL)
        {
            log_error("could not create system user \"%s\"; create it with: useradd --system "
                      "%s",
                      CLUSTER_USER, CLUSTER_USER);
            return false;
        }
    }
    env->drop = true;
    env->uid = pw->pw_uid;
    env->gid = pw->pw_gid;
    return true;
}

bool
cluster_env_init(struct cluster_env *env, const char *bindir)
{
    char path[PATH_MAX + 32], libdir[PATH_MAX], described[PATH_MAX + 32];
    unsigned char rnd[16];
    FILE *f;
    int i;

    memset(env, 0, sizeof(*env));
    if (bindir != NULL)
        snprintf(env->bindir, sizeof(env->bindir), "%s", bindir);
    else if (!newest_bindir(env->bindir, sizeof(env->bindir)) &&
             !first_line("pg_config", "--bindir", env->bindir, sizeof(env->bindir)))
    {
        log_error("no PostgreSQL server found; install one (apt-get install postgresql-15 "
                  "postgresql-15-wal2json) or give --pg-bin DIR");
        return false;
    }
    snprintf(path, sizeof(path), "%s/initdb", env->bindir);
    if (!is_file(path))
    {
        log_error("%s has no initdb; give --pg-bin the bin directory of a PostgreSQL server",
                  env->bindir);
        return false;
    }
    snprintf(path, sizeof(path), "%s/postgres", env->bindir);
    if (!first_line(path, "--version", env->version, sizeof(env->version)))
        snprintf(env->version, sizeof(env->version), "PostgreSQL (unknown version)");
    else if (strncmp(env->version, "postgres (PostgreSQL) ", 22) == 0)
    {
        char v[sizeof(env->version)];

        snprintf(v, sizeof(v), "%s", env->version + 22);
        snprintf(env->version, sizeof(env->version), "PostgreSQL %.40s", v);
    }
    snprintf(path, sizeof(path), "%s/pg_config", env->bindir);
    if (first_line(path, "--pkglibdir", libdir, sizeof(libdir)))
    {
        snprintf(path, sizeof(path), "%s/wal2json.so", libdir);
        if (!is_file(path))
        {
            log_error("wal2json is not installed for %s (no %s); install it: apt-get install "
                      "postgresql-<major>-wal2json",
                      env->version, path);
            return false;
        }
    }
    if (!ensure_user(env))
        return false;
    snprintf(env->base, sizeof(env->base), "/tmp/memori-bridge-demo.XXXXXX");
    if (mkdtemp(env->base) == NULL)
    {
        log_error("could not create a directory under /tmp: %s", strerror(errno));
        env->base[0] = '\0';
        return false;
    }
    if (chmod(env->base, 0700) != 0 || (env->drop && chown(env->base, env->uid, env->gid) != 0))
    {
        log_error("could not hand %s to user \"%s\": %s", env->base, CLUSTER_USER,
                  strerror(errno));
        return false;
    }
    if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t) sizeof(rnd))
    {
        log_error("could not read random bytes for the demo's password: %s", strerror(errno));
        return false;
    }
    for (i = 0; i < (int) sizeof(rnd); i++)
        snprintf(env->password + 2 * i, 3, "%02x", rnd[i]);
    secret_add(env->password);

    /* output_plugin_libraries: set only where the server knows it (older
     * minors refuse to start with it) */
    snprintf(described, sizeof(described), "%s/describe-config.txt", env->base);
    {
        char prog[PATH_MAX + 16];
        char *argv[] = {prog, "--describe-config", NULL};

        snprintf(prog, sizeof(prog), "%s/postgres", env->bindir);
        if (cluster_exec(env, described, argv) == 0 && (f = fopen(described, "r")) != NULL)
        {
            char line[1024];

            while (fgets(line, sizeof(line), f) != NULL)
                if (strncmp(line, "output_plugin_libraries\t", 24) == 0)
                    env->allowlist = true;
            fclose(f);
        }
        unlink(described);
    }
    return true;
}

static int
remove_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void) st;
    (void) flag;
    (void) ftw;
    remove(path);
    return 0;
}

void
cluster_env_free(struct cluster_env *env)
{
    if (env->base[0] != '\0' && strncmp(env->base, "/tmp/memori-bridge-demo.", 24) == 0)
        nftw(env->base, remove_one, 16, FTW_DEPTH | FTW_PHYS);
    env->base[0] = '\0';
}

int
cluster_free_port(void)
{
    struct sockaddr_in a = {.sin_family = AF_INET};
    socklen_t len = sizeof(a);
    int fd = socket(AF_INET, SOCK_STREAM, 0), port = -1;

    if (fd < 0)
        return -1;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(fd, (struct sockaddr *) &a, sizeof(a)) == 0 &&
        getsockname(fd, (struct sockaddr *) &a, &len) == 0)
        port = ntohs(a.sin_port);
    close(fd);
    return port;
}

bool
cluster_write_file(const struct cluster_env *env, const char *path, const char *text, bool append)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC | (append ? O_APPEND : O_TRUNC), 0600);
    size_t len = strlen(text);
    bool ok;

    if (fd < 0)
    {
        log_error("could not write %s: %s", path, strerror(errno));
        return false;
    }
    ok = write(fd, text, len) == (ssize_t) len;
    if (env->drop && fchown(fd, env->uid, env->gid) != 0)
        ok = false;
    if (close(fd) != 0 || !ok)
    {
        log_error("could not write %s: %s", path, strerror(errno));
        return false;
    }
    return true;
}

const char *
cluster_profile_name(enum cluster_profile profile)
{
    return profile == CLUSTER_SUPABASE ? "supabase" : "superuser";
}

/* The Supabase profile's roles and grants, and postgres' password. */
static bool
make_supabase(struct cluster *c)
{
    PGconn *conn = pgconn_open(c->admin_dsn, c->name, PGCONN_SQL, "memori-bridge demo", 10000,
                               NULL);
    char *pw, sql[256];
    bool ok;

    if (conn == NULL)
        return false;
    pw = PQescapeLiteral(conn, c->env->password, strlen(c->env->password));
    snprintf(sql, sizeof(sql), "ALTER ROLE postgres PASSWORD %s", pw ? pw : "NULL");
    PQfreemem(pw);
    PQclear(PQexec(conn, "SET client_min_messages = warning"));
    ok = pgconn_script(conn, "could not make the Supabase roles", supabase_profile_sql) &&
         pgconn_script(conn, "could not set the password of postgres", sql);
    PQfinish(conn);
    return ok;
}

bool
cluster_start(const struct cluster_env *env, struct cluster *c, const char *name,
              enum cluster_profile profile)
{
    const char *superuser = profile == CLUSTER_SUPABASE ? "supabase_admin" : "postgres";
    char initdb[PATH_MAX + 16], pg_ctl[PATH_MAX + 16], pwfile[PATH_MAX + 16],
        pwopt[PATH_MAX + 32], initlog[PATH_MAX + 16], path[PATH_MAX + 32], conf[1024];
    int attempt;

    memset(c, 0, sizeof(*c));
    c->env = env;
    c->profile = profile;
    snprintf(c->name, sizeof(c->name), "%s", name);
    snprintf(c->data, sizeof(c->data), "%s/%s", env->base, name);
    snprintf(c->log, sizeof(c->log), "%s/%s.log", env->base, name);
    snprintf(initdb, sizeof(initdb), "%s/initdb", env->bindir);
    snprintf(pg_ctl, sizeof(pg_ctl), "%s/pg_ctl", env->bindir);
    snprintf(pwfile, sizeof(pwfile), "%s/%s.pw", env->base, name);
    snprintf(pwopt, sizeof(pwopt), "--pwfile=%s", pwfile);
    snprintf(initlog, sizeof(initlog), "%s/%s.initdb.log", env->base, name);

    snprintf(conf, sizeof(conf), "%s\n", env->password);
    if (!cluster_write_file(env, pwfile, conf, false))
        return false;
    {
        char *argv[] = {initdb, "-D", c->data, "-U", (char *) superuser, "-E", "UTF8", "--locale=C",
                        pwopt, "--auth-local=trust", "--auth-host=scram-sha-256", "--no-sync",
                        "--no-instructions", NULL};

        if (cluster_exec(env, initlog, argv) != 0)
        {
            log_error("initdb of the %s cluster failed:", name);
            log_tail(initlog, 5);
            unlink(pwfile);
            return false;
        }
    }
    unlink(pwfile);
    snprintf(conf, sizeof(conf),
             "\n# memori-bridge demo\n"
             "listen_addresses = '127.0.0.1'\n"
             "unix_socket_directories = '%s'\n"
             "wal_level = logical\n"
             "max_replication_slots = 10\n"
             "max_wal_senders = 10\n"
             "shared_buffers = 64MB\n"
             "logging_collector = off\n"
             "%s"
             "include_if_exists = 'demo_port.conf'\n",
             env->base,
             env->allowlist ? "output_plugin_libraries = 'pgoutput, test_decoding, wal2json'\n"
                            : "");
    snprintf(path, sizeof(path), "%s/postgresql.conf", c->data);
    if (!cluster_write_file(env, path, conf, true))
        return false;
    snprintf(path, sizeof(path), "%s/pg_hba.conf", c->data);
    if (!cluster_write_file(env, path,
                            "local all         all              trust\n"
                            "host  all         all 127.0.0.1/32 scram-sha-256\n"
                            "host  replication all 127.0.0.1/32 scram-sha-256\n",
                            false))
        return false;

    for (attempt = 0; attempt < 5; attempt++)
    {
        char *argv[] = {pg_ctl, "-D", c->data, "-l", c->log, "-w", "-t", "60", "start", NULL};

        c->port = cluster_free_port();
        if (c->port <= 0)
        {
            log_error("could not find a free port on 127.0.0.1");
            return false;
        }
        snprintf(conf, sizeof(conf), "port = %d\n", c->port);
        snprintf(path, sizeof(path), "%s/demo_port.conf", c->data);
        if (!cluster_write_file(env, path, conf, false))
            return false;
        if (cluster_exec(env, NULL, argv) == 0)
        {
            c->running = true;
            snprintf(c->dsn, sizeof(c->dsn),
                     "host=127.0.0.1 port=%d user=postgres password=%s dbname=postgres", c->port,
                     env->password);
            snprintf(c->admin_dsn, sizeof(c->admin_dsn),
                     "host=127.0.0.1 port=%d user=%s password=%s dbname=postgres", c->port,
                     superuser, env->password);
            return profile != CLUSTER_SUPABASE || make_supabase(c);
        }
        /* someone took the port in between? another one then */
    }
    log_error("could not start the %s cluster; its log says:", name);
    log_tail(c->log, 5);
    return false;
}

void
cluster_stop(struct cluster *c)
{
    char pg_ctl[PATH_MAX + 16];

    if (c->env == NULL || !c->running)
        return;
    snprintf(pg_ctl, sizeof(pg_ctl), "%s/pg_ctl", c->env->bindir);
    {
        char *fast[] = {pg_ctl, "-D", c->data, "-m", "fast", "-w", "-t", "30", "stop", NULL};
        char *now[] = {pg_ctl, "-D", c->data, "-m", "immediate", "-w", "-t", "30", "stop", NULL};

        if (cluster_exec(c->env, NULL, fast) != 0)
            cluster_exec(c->env, NULL, now);
    }
    c->running = false;
}

pid_t
cluster_watchdog(const struct cluster_env *env, pid_t owner)
{
    pid_t pid = fork();

    if (pid != 0)
        return pid;
    setsid();
    signal(SIGINT, SIG_IGN);
    for (;;)
    {
        struct timespec half = {0, 500000000L};

        nanosleep(&half, NULL);
        if (kill(owner, 0) == 0 || errno != ESRCH)
            continue;
        /* the demo is gone without cleaning up: stop what it left */
        bouncer_kill(env);
        {
            const char *names[] = {"source", "target"};
            char pg_ctl[PATH_MAX + 16], data[PATH_MAX + 16];
            struct cluster_env copy = *env;
            int i;

            snprintf(pg_ctl, sizeof(pg_ctl), "%s/pg_ctl", env->bindir);
            for (i = 0; i < 2; i++)
            {
                char *argv[] = {pg_ctl, "-D", data, "-m", "immediate", "-w", "stop", NULL};

                snprintf(data, sizeof(data), "%s/%s", env->base, names[i]);
                cluster_exec(env, NULL, argv);
            }
            cluster_env_free(&copy);
        }
        _exit(0);
    }
}
