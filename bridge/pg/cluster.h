/*
 * cluster.h - throwaway local PostgreSQL clusters, for the demo.
 *
 * Each cluster is initdb'd under a base directory, listens on a free port of
 * 127.0.0.1 only, takes passwords over TCP (scram-sha-256, a random password
 * per run), and runs with wal_level = logical and wal2json allowed (where the
 * server knows output_plugin_libraries). initdb and postgres refuse root: run
 * as root, the clusters belong to a system user (created when missing) and
 * every server program runs as that user. The servers run in sessions of
 * their own, so a Ctrl-C at the terminal reaches the demo, which stops them.
 *
 * A cluster of the Supabase profile is made the way Supabase's image makes
 * its own (sql/supabase_profile.sql): the bootstrap superuser is
 * supabase_admin, and "postgres", whom the DSN names, is not a superuser.
 */
#ifndef MB_CLUSTER_H
#define MB_CLUSTER_H

#include <limits.h>
#include <stdbool.h>
#include <sys/types.h>

#define CLUSTER_USER "memori-demo"

/* Where the server programs are, and who runs them. */
struct cluster_env
{
    char bindir[PATH_MAX];   /* initdb, pg_ctl, postgres */
    char base[64];           /* the base directory (made by cluster_env_init) */
    char password[40];       /* of the superuser "postgres" over TCP */
    char version[64];        /* "PostgreSQL 15.20" */
    bool allowlist;          /* the server knows output_plugin_libraries */
    bool drop;               /* run server programs as uid/gid (we are root) */
    uid_t uid;
    gid_t gid;
};

/* How a cluster's roles are made. */
enum cluster_profile
{
    CLUSTER_PLAIN = 0, /* postgres is the bootstrap superuser */
    CLUSTER_SUPABASE,  /* supabase_admin is; postgres is Supabase's, no superuser */
};

/* One cluster. */
struct cluster
{
    const struct cluster_env *env; /* borrowed */
    char name[32];                 /* "source", "target" */
    enum cluster_profile profile;
    char data[PATH_MAX];           /* data directory */
    char log[PATH_MAX];            /* server log */
    int port;
    char dsn[256];                 /* key=value as postgres, with the password */
    char admin_dsn[256];           /* the same as the bootstrap superuser */
    bool running;
};

/* Find the server programs (BINDIR when not NULL, else the newest
 * /usr/lib/postgresql/N/bin, else pg_config --bindir), check that wal2json is
 * installed for them, pick or create the user that runs them, and make a
 * base directory under /tmp. Returns false after logging the fix. */
bool cluster_env_init(struct cluster_env *env, const char *bindir);

/* Remove the base directory and everything in it (clusters stopped first). */
void cluster_env_free(struct cluster_env *env);

/* initdb a cluster NAME of PROFILE under the base and start it on a free
 * port. Returns false after logging why (the server log's last lines
 * included). */
bool cluster_start(const struct cluster_env *env, struct cluster *c, const char *name,
                   enum cluster_profile profile);

/* "superuser" or "supabase". */
const char *cluster_profile_name(enum cluster_profile profile);

/* Stop C (fast, then immediate). Safe on a cluster never started. */
void cluster_stop(struct cluster *c);

/* Run PROGRAM (a path) with ARGV as the clusters' user, in a session of its
 * own, with stdout and stderr appended to LOG (NULL: /dev/null). Returns the
 * exit status, or -1 when it could not run. */
int cluster_exec(const struct cluster_env *env, const char *log, char *const argv[]);

/* A port of 127.0.0.1 nobody listens on now, or -1. */
int cluster_free_port(void);

/* Write TEXT to PATH (mode 0600, owned by the clusters' user), or append it.
 * Returns false after logging why. */
bool cluster_write_file(const struct cluster_env *env, const char *path, const char *text,
                        bool append);

/* Fork a watchdog that stops the clusters in BASE's data directories and
 * removes BASE when process OWNER is gone (and a PgBouncer there: bouncer.h) (the demo killed by
 * SIGKILL). Returns its PID (kill it when done), or -1. */
pid_t cluster_watchdog(const struct cluster_env *env, pid_t owner);

#endif
