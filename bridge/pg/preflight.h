/*
 * preflight.h - what a side needs before a command changes anything.
 *
 * Each command asks of each side what its direction needs, now or later. A
 * side streamed from needs wal_level = logical, wal2json installed and
 * allowed, a free slot and WAL sender, REPLICATION and a replication
 * connection the server accepts; a side applied to needs to set
 * session_replication_role and to create the bridge's own schema; the side
 * that holds the tables needs SELECT on them and, for the fences, to own
 * them. init asks what the forward direction needs now and warns about what a
 * later rollback would lack; cutover and rollback ask what the direction they
 * switch to needs now, before they change anything. No command needs the
 * replication origin functions (progress.h).
 *
 * Each problem is one line that names the object and the fix, and the fix
 * names who can run it: the connected role itself, the object's owner, or a
 * superuser (on a local Supabase: supabase_admin). All problems are
 * collected, not just the first.
 */
#ifndef MB_PREFLIGHT_H
#define MB_PREFLIGHT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <libpq-fe.h>

#define PREFLIGHT_MAX 64

/* Who runs a fix that needs a superuser. */
#define PREFLIGHT_SUPERUSER "a superuser (on a local Supabase: supabase_admin)"

/* One problem found. */
struct preflight_problem
{
    bool warning;       /* a warning does not stop the command */
    char side[8];       /* "source" or "target" */
    char text[512];     /* what is wrong, naming the object */
    char who[200];      /* who can run the fix; "" for a step anyone takes */
    char fix[512];      /* the statement (or step) that fixes it; "" when none */
};

/* The problems of both sides, and what was learnt on the way. */
struct preflight
{
    struct preflight_problem p[PREFLIGHT_MAX]; /* problems found */
    int n;                                     /* entries in p */
    int errors;                                /* non-warnings among them */
    bool numeric_as_string;                    /* the source's wal2json knows
                                                * numeric-data-types-as-string */
    char **keyless;                            /* owned: "schema.table" of the
                                                * source's tables without a key */
    int nkeyless;                              /* entries in keyless */
};

/* Whether a side must be streamed from or applied to. */
enum preflight_need
{
    PREFLIGHT_NO = 0, /* not asked */
    PREFLIGHT_NOW,    /* this command's direction: a problem is an error */
    PREFLIGHT_LATER,  /* a later one (a rollback): a problem is a warning */
};

/* What to check on one side. */
struct preflight_side
{
    PGconn *conn;                  /* a normal session; borrowed */
    const char *dsn;               /* its connection string, for the replication
                                    * connection a stream opens; borrowed */
    int64_t connect_timeout_ms;
    const char *side;              /* "source" or "target" */
    const char *schemas;           /* the configured schemas (comma-separated) */
    const char *slot;              /* the slot this side will hold (its own name
                                    * counts as free when it exists) */
    bool has_tables;               /* the tables are here now (checks keys, SELECT
                                    * and ownership) */
    enum preflight_need stream;    /* streamed from */
    enum preflight_need apply;     /* applied to */
    const char *later;             /* what a PREFLIGHT_LATER need is for, as in
                                    * "needed <later>" */
    bool numeric_probe;            /* learn (and warn) whether its wal2json knows
                                    * numeric-data-types-as-string */
};

void preflight_init(struct preflight *pf);
void preflight_free(struct preflight *pf);

/* Check SIDE, adding its problems to PF. Returns false only when the checks
 * themselves could not run (logged); problems found are not failures. Opens
 * (and closes) a replication connection when SIDE is streamed from. */
bool preflight_check(struct preflight *pf, const struct preflight_side *side);

/* Print every problem, one line each, errors first. */
void preflight_report(const struct preflight *pf);

/* Does the GUC list LIST (as SHOW prints it) hold ITEM? Items are separated
 * by commas; a double-quoted item is taken whole, commas and spaces and all,
 * as the server reads it: "pgoutput, test_decoding, wal2json" in quotes is one
 * library of that odd name (terrain: ALTER SYSTEM with one quoted string). */
bool preflight_list_has(const char *list, const char *item);

/* Add a problem (printf-style TEXT). FIX may be NULL; WHO, who can run it,
 * may be NULL for a step anyone takes (PREFLIGHT_SUPERUSER, say, or a role
 * named by preflight_who). */
void preflight_add(struct preflight *pf, bool warning, const char *side, const char *who,
                   const char *fix, const char *fmt, ...) __attribute__((format(printf, 6, 7)));

/* Who can run a fix that OWNER's privilege allows, for the role USER
 * (SUPERUSER: USER is one), into BUF: USER itself, or OWNER or a superuser. */
const char *preflight_who(const char *owner, const char *user, bool superuser, char *buf,
                          size_t len);

#endif
