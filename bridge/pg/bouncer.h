/*
 * bouncer.h - a throwaway PgBouncer in front of a throwaway cluster, for the
 * demo: transaction pooling on a free port of 127.0.0.1, its memori entry in
 * a file of its own that pgbouncer.ini includes, as --pgbouncer-ini wants it
 * (pgbouncer.h).
 *
 * It runs as the clusters' user, under the base directory (BASE/pgbouncer).
 * The auth file holds the password itself, not its SCRAM secret: PgBouncer
 * 1.18 would otherwise log the entry's user in with the client's SCRAM keys
 * (pass-through), and that fails on a cluster whose secret differs (DESIGN.md,
 * "PgBouncer").
 */
#ifndef MB_BOUNCER_H
#define MB_BOUNCER_H

#include <limits.h>
#include <stdbool.h>

#include "bridge/pg/cluster.h"

struct bouncer
{
    const struct cluster_env *env; /* borrowed */
    char dir[128];                 /* BASE/pgbouncer */
    char ini[160];                 /* pgbouncer.ini */
    char entry[160];               /* memori.ini, which it includes */
    char log[160];
    int port;
    char dsn[256];       /* to its database memori, as postgres, with the password */
    char admin_dsn[256]; /* to its admin console */
    bool running;
};

/* Start a PgBouncer whose database "memori" is FRONT's database postgres.
 * Returns false after logging why (its log's last lines, or the package to
 * install). */
bool bouncer_start(const struct cluster_env *env, struct bouncer *b, const struct cluster *front);

/* Stop it (SIGTERM, then SIGKILL after 5 s). Safe on one never started. */
void bouncer_stop(struct bouncer *b);

/* Stop the PgBouncer under ENV's base, if one runs (the watchdog's way). */
void bouncer_kill(const struct cluster_env *env);

#endif
