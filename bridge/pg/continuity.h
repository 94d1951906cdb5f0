/*
 * continuity.h - a stream goes on only from where the side it applies to
 * stands, never across a gap.
 *
 * The server streams a logical slot from the later of the position asked for
 * and the slot's confirmed_flush_lsn, without a word. So a slot dropped and
 * made again (by hand, say) starts after every change written in between,
 * and a stream asked to go on from the applying side's progress would skip
 * them silently. The slot never runs ahead of the progress (invariant 2), so
 * a slot confirmed past it, or gone, means exactly that gap.
 *
 * A direction may stream when:
 *   - its side applied to has been made ready for it: for the forward
 *     direction, init finished there (memori_bridge.init_state says "done");
 *     for the reverse one, a cutover recorded it (memori_bridge.switch);
 *   - that side's progress is recorded (progress.h): a row of
 *     memori_bridge.progress, or the origin of an earlier version;
 *   - the slot exists, and its confirmed position is not past the progress.
 * Otherwise the verdict says what is missing and the fix, in one line, and
 * never suggests making a slot by hand.
 */
#ifndef MB_CONTINUITY_H
#define MB_CONTINUITY_H

#include <stdbool.h>
#include <stddef.h>

#include <libpq-fe.h>

#include "bridge/base/conf.h"
#include "bridge/pg/direction.h"
#include "decoder/lsn.h"

enum continuity_verdict
{
    CONTINUITY_OK = 0,
    CONTINUITY_NO_INIT,      /* nothing made this side ready: run init (or cutover) */
    CONTINUITY_INIT_RUNNING, /* init is copying, or was interrupted */
    CONTINUITY_LOST,         /* ready once, but its progress is gone */
    CONTINUITY_NO_SLOT,      /* the slot is gone, and the changes since the progress */
    CONTINUITY_GAP,          /* the slot starts past the progress */
};

/* What was found. */
struct continuity
{
    enum continuity_verdict verdict;
    lsn_t progress;      /* the applying side's progress (0 when none) */
    lsn_t slot_at;       /* the slot's confirmed_flush_lsn (0 when none) */
    char why[768];       /* one line: what is missing and the fix ("" when OK) */
};

/* Judge whether direction D of CONF may stream from FROM (the side streamed
 * from) into TO (the side applied to), into *OUT. Returns false after logging
 * why it could not tell (a lost connection, say); a verdict other than OK is
 * no failure of the call. */
bool continuity_check(PGconn *from, PGconn *to, const struct conf *conf,
                      const struct direction *d, struct continuity *out);

#endif
