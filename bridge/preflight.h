/*
 * preflight.h - what each side needs before init creates anything.
 *
 * Both sides are checked for both roles, because the bridge streams one way
 * for the migration and the other way for a rollback: a side must be able to
 * be streamed from (wal_level, wal2json installed and allowed, a free slot and
 * WAL sender, REPLICATION, SELECT on the tables) and applied to (setting
 * session_replication_role, the pg_replication_origin_* functions). Each
 * problem is one line that names the object and the fix, as the statement to
 * run. All problems are collected, not just the first.
 */
#ifndef MB_PREFLIGHT_H
#define MB_PREFLIGHT_H

#include <stdbool.h>
#include <stddef.h>

#include <libpq-fe.h>

#define PREFLIGHT_MAX 64

/* One problem found. */
struct preflight_problem
{
    bool warning;       /* a warning does not stop init */
    char side[8];       /* "source" or "target" */
    char text[512];     /* what is wrong, naming the object */
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

/* What to check on one side. */
struct preflight_side
{
    PGconn *conn;        /* a normal session; borrowed */
    const char *side;    /* "source" or "target" */
    const char *schemas; /* the configured schemas (comma-separated) */
    const char *slot;    /* the slot this side will hold (its own name counts
                          * as free when it exists) */
    bool is_source;      /* the tables are here now (checks keys and SELECT) */
};

void preflight_init(struct preflight *pf);
void preflight_free(struct preflight *pf);

/* Check SIDE, adding its problems to PF. Returns false only when the checks
 * themselves could not run (logged); problems found are not failures. */
bool preflight_check(struct preflight *pf, const struct preflight_side *side);

/* Print every problem, one line each, errors first. */
void preflight_report(const struct preflight *pf);

/* Does the GUC list LIST (as SHOW prints it) hold ITEM? Items are separated
 * by commas; a double-quoted item is taken whole, commas and spaces and all,
 * as the server reads it: "pgoutput, test_decoding, wal2json" in quotes is one
 * library of that odd name (terrain: ALTER SYSTEM with one quoted string). */
bool preflight_list_has(const char *list, const char *item);

/* Add a problem (printf-style TEXT; FIX may be NULL). */
void preflight_add(struct preflight *pf, bool warning, const char *side, const char *fix,
                   const char *fmt, ...) __attribute__((format(printf, 5, 6)));

#endif
