/*
 * switch_int.h - what the files of the cutover and rollback command share
 * (switch.c, switch_check.c); nothing else includes it.
 */
#ifndef MB_SWITCH_INT_H
#define MB_SWITCH_INT_H

#include <stdbool.h>
#include <stdint.h>

#include <libpq-fe.h>

#include "bridge/base/conf.h"
#include "bridge/pg/direction.h"
#include "bridge/pg/pgbouncer.h"
#include "decoder/lsn.h"

/* One cutover or rollback. Names: the side writers leave is A, the side they
 * move to is B (switch.c says more). */
struct sw
{
    const struct conf *conf;
    const char *name;         /* "cutover" or "rollback" */
    bool to_target;           /* cutover */
    struct direction old_dir; /* A -> B, streaming now */
    struct direction new_dir; /* B -> A, after the switch */
    const char *a_role, *b_role;
    const char *a_dsn, *b_dsn;
    PGconn *a, *b; /* owned */
    int sig_fd;
    bool terminate_writers;
    bool verify_full;
    const char *env_file;
    bool pooled;         /* a PgBouncer is switched too (--pgbouncer) */
    struct pgbouncer pb; /* that PgBouncer */

    /* what was done, for putting it back */
    bool made_slot, fenced_a, wrote_switch, unfenced_b;
    char token[64];
    lsn_t marker;
    int64_t t_fence, t_unfence, t_step;
    int step;
    const char *step_name;
};

/* Log that the current step is done, in how long, with DETAIL (may be NULL). */
void switch_step_done(struct sw *s, const char *detail);

/* Step 6: the counts of every table, and the sequences, equal on both sides
 * (or a full verify, with --verify full). Returns false after logging the
 * differences. */
bool switch_check(struct sw *s);

#endif
