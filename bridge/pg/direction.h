/*
 * direction.h - which way the bridge streams, and what each side is called.
 *
 * Forward streams the source's slot (--slot) into the target through the
 * target's origin of the same name. Reverse, after a cutover, streams the
 * target's slot "<slot>_reverse" into the source through the source's origin
 * "<slot>_reverse". Each direction tells wal2json to leave out the changes
 * the other one applied (filter-origins, with the other origin's numeric id
 * on the streaming side: wal2json takes a name without complaint and then
 * filters nothing), so that nothing comes back.
 *
 * memori_bridge.switch on the target records which way memori flows: cutover
 * and rollback write it, a running bridge follows it.
 */
#ifndef MB_DIRECTION_H
#define MB_DIRECTION_H

#include <stdbool.h>
#include <stddef.h>

#include <libpq-fe.h>

#include "bridge/base/conf.h"

#define DIRECTION_NAME_MAX 80

struct direction
{
    bool reverse;
    const char *from_dsn;  /* the side streamed from; borrowed from the settings */
    const char *to_dsn;    /* the side applied to; borrowed */
    const char *from_role; /* "source" or "target" */
    const char *to_role;
    char slot[DIRECTION_NAME_MAX];         /* on the streaming side */
    char origin[DIRECTION_NAME_MAX];       /* on the applying side */
    char other_origin[DIRECTION_NAME_MAX]; /* the other direction's, on the streaming side */
};

/* Set D up for CONF's slot, forward or REVERSE. */
void direction_init(struct direction *d, const struct conf *conf, bool reverse);

/* "forward" or "reverse". */
const char *direction_name(const struct direction *d);

/* The numeric id (roident) of D's other origin on the streaming side FROM,
 * made there when missing, as text into BUF, for filter-origins; "" when it
 * does not exist and this role may not make it (then nothing of it has ever
 * been applied there). Returns false after logging why it cannot tell. */
bool direction_filter(const struct direction *d, PGconn *from, char *buf, size_t len);

/* The switch record of SLOT on the target: *EXISTS, and when it does, its
 * direction and phase ("switching", "done", "aborted"). Returns false after
 * logging why (a missing table is not an error: *EXISTS false). */
bool direction_read_switch(PGconn *target, const char *slot, bool *exists, bool *reverse,
                           char *phase, size_t phase_len);

/* Write the switch record of SLOT on the target. */
bool direction_write_switch(PGconn *target, const char *slot, bool reverse, const char *phase,
                            const char *token);

#endif
