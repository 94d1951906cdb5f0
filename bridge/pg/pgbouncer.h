/*
 * pgbouncer.h - a PgBouncer in front of memori, switched with it: its entry
 * paused, pointed at the other side, resumed, so that writers that go through
 * it see a pause and never an error.
 *
 * The admin console speaks the simple query protocol only: every command is
 * plain text (PQexec), and the entry's name goes in as a quoted identifier.
 * The entry is pointed elsewhere by rewriting its line in the file PgBouncer
 * includes (atomically: base/atomicfile.h) and RELOAD; PgBouncer has no
 * command that changes an entry. What SHOW DATABASES says afterwards is the
 * proof that it took (DESIGN.md, "PgBouncer").
 *
 * The entry is written from the side's open connection (PQhost, PQport,
 * PQdb, PQuser, PQpass): where the bridge connects, PgBouncer connects, with
 * the same role and password; the entry's other keys (pool_size, ...) stay.
 */
#ifndef MB_PGBOUNCER_H
#define MB_PGBOUNCER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <libpq-fe.h>

#include "bridge/base/conf.h"

/* What PgBouncer says of the entry (SHOW DATABASES). */
struct pgbouncer_entry
{
    bool found;     /* PgBouncer has an entry of that name */
    char host[256]; /* "" for its unix socket */
    char port[16];
    char database[128];
    char user[128]; /* force_user, "" when none */
    bool paused;
    bool disabled;
};

/* A PgBouncer to switch. Open it with pgbouncer_open, close it with
 * pgbouncer_close in every case. */
struct pgbouncer
{
    const char *dsn;    /* admin console; borrowed from the settings */
    const char *ini;    /* the included file with the entry; borrowed */
    const char *name;   /* the entry's name; borrowed */
    int64_t timeout_ms; /* PAUSE waits this long for transactions in flight */
    PGconn *admin;      /* owned: every command */
    PGconn *spare;      /* owned: RESUME while admin still waits on a PAUSE */
    char console[160];  /* "host=... port=..." of the console, for messages */
    char *ini_before;   /* owned: the file as it was, to put back */
    bool paused;        /* this process paused the entry */
    bool moved;         /* this process rewrote the file */
    int64_t t_pause;    /* when PAUSE was sent (clock_now_us) */
    int64_t t_resume;   /* when RESUME was answered */
};

/* Is a PgBouncer configured (--pgbouncer)? */
bool pgbouncer_configured(const struct conf *conf);

/* Connect to the admin console of CONF's PgBouncer (twice: see spare), read
 * the included file and find the entry's line in it. Returns false after
 * logging one line with the fix (a missing --pgbouncer-ini, an unreachable
 * console, a file without the entry). */
bool pgbouncer_open(struct pgbouncer *pb, const struct conf *conf, int64_t connect_timeout_ms);

void pgbouncer_close(struct pgbouncer *pb);

/* For a look only (status, cleanup's list): connect once to CONF's console
 * and read the entry into *E, the console's "host=... port=..." into
 * CONSOLE. Returns false with the reason in ERR (nothing logged). */
bool pgbouncer_look(const struct conf *conf, int64_t connect_timeout_ms, struct pgbouncer_entry *e,
                    char *console, size_t clen, char *err, size_t errlen);

/* What PgBouncer says of the entry, into *E. Returns false after logging why
 * when the console does not answer. */
bool pgbouncer_show(struct pgbouncer *pb, struct pgbouncer_entry *e);

/* Does E point where SIDE (an open connection) connects: host, port and
 * database? */
bool pgbouncer_points_at(const struct pgbouncer_entry *e, PGconn *side);

/* "host=H port=P dbname=D" of E into BUF. Returns BUF. */
char *pgbouncer_where(const struct pgbouncer_entry *e, char *buf, size_t len);

/* Before a switch from A to B: the entry exists, PgBouncer reads it from the
 * file (the file's line and SHOW DATABASES agree), it points at A, it is not
 * paused or disabled, and the file can be rewritten. Returns false after
 * logging each problem with its fix; nothing is changed. */
bool pgbouncer_ready(struct pgbouncer *pb, PGconn *a, const char *a_role);

/* PAUSE the entry: PgBouncer lets the transactions in flight end, closes its
 * server connections, and holds every new one. Waits up to timeout_ms; on
 * timeout RESUMEs (on the spare connection) and returns false after logging
 * how many server connections were still in a transaction and the fix. */
bool pgbouncer_pause(struct pgbouncer *pb);

/* Point the entry at SIDE (ROLE, for messages): rewrite its line, RELOAD,
 * and check that SHOW DATABASES says so. Returns false after logging why;
 * the file may then be rewritten already (pgbouncer_put_back undoes it). */
bool pgbouncer_point(struct pgbouncer *pb, PGconn *side, const char *role);

/* RESUME the entry. Returns false after logging why. */
bool pgbouncer_resume(struct pgbouncer *pb);

/* All or nothing: leave the entry pointing at SIDE (where memori lives) and
 * resumed, whatever this process did to it. Returns false after logging what
 * it could not do and the fix. */
bool pgbouncer_put_back(struct pgbouncer *pb, PGconn *side, const char *role);

#endif
