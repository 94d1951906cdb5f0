/*
 * continuity.c - may a direction stream now, and from where (see
 * continuity.h).
 */
#include "bridge/pg/continuity.h"

#include <stdio.h>
#include <string.h>

#include "bridge/pg/fence.h"
#include "bridge/pg/pgconn.h"
#include "bridge/pg/progress.h"

/* init's record of SLOT on the target: *PHASE "" when there is none. */
static bool
read_init(PGconn *target, const char *slot, char *phase, size_t plen, char *when, size_t wlen)
{
    const char *params[1] = {slot};
    PGresult *res;
    bool exists;

    phase[0] = when[0] = '\0';
    if (!fence_objects_usable(target, "target", "init_state", &exists))
        return false;
    if (!exists)
        return true;
    res = pgconn_exec(target, "could not read init's record on the target",
                      "SELECT phase, coalesce(finished_at, started_at)::text "
                      "FROM memori_bridge.init_state WHERE slot = $1",
                      1, params, NULL);
    if (res == NULL)
        return false;
    if (PQntuples(res) == 1)
    {
        snprintf(phase, plen, "%s", PQgetvalue(res, 0, 0));
        snprintf(when, wlen, "%s", PQgetvalue(res, 0, 1));
    }
    PQclear(res);
    return true;
}

/* The slot's confirmed position on FROM into *AT; *EXISTS. */
static bool
read_slot(PGconn *from, const struct direction *d, bool *exists, lsn_t *at)
{
    const char *params[1] = {d->slot};
    char what[160];
    PGresult *res;

    snprintf(what, sizeof(what), "could not read slot \"%s\" on the %s", d->slot, d->from_role);
    res = pgconn_exec(from, what,
                      "SELECT coalesce(confirmed_flush_lsn::text, '') "
                      "FROM pg_catalog.pg_replication_slots WHERE slot_name = $1",
                      1, params, NULL);
    *exists = false;
    *at = LSN_INVALID;
    if (res == NULL)
        return false;
    if (PQntuples(res) == 1)
    {
        *exists = true;
        lsn_parse(PQgetvalue(res, 0, 0), (size_t) PQgetlength(res, 0, 0), at);
    }
    PQclear(res);
    return true;
}

/* The fix when the changes after the progress are out of reach. */
static const char *
recopy_fix(const struct direction *d)
{
    return d->reverse ? "a rollback would lose them; keep memori on the target (memori-bridge "
                        "cleanup retires the bridge), or copy it back: memori-bridge init "
                        "--force with --source and --target swapped"
                      : "memori-bridge init --force (copies again; a slot made by hand would "
                        "start later and skip them too)";
}

bool
continuity_check(PGconn *from, PGconn *to, const struct conf *conf, const struct direction *d,
                 struct continuity *out)
{
    PGconn *target = d->reverse ? from : to;
    struct progress p;
    char phase[16], when[64], at[LSN_BUFSZ], slot_at[LSN_BUFSZ];
    bool ready, recorded, slot_exists;

    memset(out, 0, sizeof(*out));
    if (!progress_read(to, d->to_role, d->origin, &p))
        return false;
    recorded = p.recorded || p.origin_readable;
    out->progress = p.lsn;
    if (!d->reverse)
    {
        if (!read_init(target, conf->slot, phase, sizeof(phase), when, sizeof(when)))
            return false;
        if (strcmp(phase, "preparing") == 0 || strcmp(phase, "copying") == 0)
        {
            out->verdict = CONTINUITY_INIT_RUNNING;
            snprintf(out->why, sizeof(out->why),
                     "init of slot \"%s\" is under way on the target (phase %s, started %s), or "
                     "was interrupted; wait for it to finish, or run memori-bridge init again to "
                     "clean up after it and finish",
                     conf->slot, phase, when);
            return true;
        }
        ready = strcmp(phase, "done") == 0;
    }
    else
    {
        bool exists = false, reverse = false;
        char sphase[16];

        if (!direction_read_switch(target, conf->slot, &exists, &reverse, sphase, sizeof(sphase)))
            return false;
        ready = exists && reverse;
        snprintf(when, sizeof(when), "%s", sphase);
    }
    if (!recorded)
    {
        out->verdict = ready ? CONTINUITY_LOST : CONTINUITY_NO_INIT;
        if (ready && !d->reverse)
            snprintf(out->why, sizeof(out->why),
                     "the progress of \"%s\" is gone from the target, though init copied it "
                     "there (%s): the bridge cannot tell which changes the target has; fix: "
                     "memori-bridge init --force (copies again)",
                     d->origin, when);
        else if (ready)
            snprintf(out->why, sizeof(out->why),
                     "the progress of \"%s\" is gone from the source, though a cutover made it: "
                     "the bridge cannot tell which of the target's changes the source has; a "
                     "rollback could lose some; fix: keep memori on the target (memori-bridge "
                     "cleanup retires the bridge), or copy it back: memori-bridge init --force "
                     "with --source and --target swapped",
                     d->origin);
        else if (!d->reverse)
            snprintf(out->why, sizeof(out->why),
                     "nothing streams into the target yet: no init of slot \"%s\" is recorded "
                     "there; fix: memori-bridge init",
                     conf->slot);
        else
            snprintf(out->why, sizeof(out->why),
                     "nothing streams back into the source: no cutover made it ready (no "
                     "progress of \"%s\" there, and memori_bridge.switch on the target does not "
                     "say reverse); fix: memori-bridge cutover",
                     d->origin);
        return true;
    }
    if (!read_slot(from, d, &slot_exists, &out->slot_at))
        return false;
    lsn_format(out->progress, at);
    if (!slot_exists)
    {
        out->verdict = CONTINUITY_NO_SLOT;
        snprintf(out->why, sizeof(out->why),
                 "slot \"%s\" does not exist on the %s: it was dropped, and with it every change "
                 "the %s wrote after the %s's progress %s; fix: %s",
                 d->slot, d->from_role, d->from_role, d->to_role, at, recopy_fix(d));
        return true;
    }
    if (out->slot_at > out->progress)
    {
        out->verdict = CONTINUITY_GAP;
        snprintf(out->why, sizeof(out->why),
                 "slot \"%s\" on the %s starts at %s, past the %s's progress %s: the changes in "
                 "between are not in it (was it dropped and made again?); fix: %s",
                 d->slot, d->from_role, lsn_format(out->slot_at, slot_at), d->to_role, at,
                 recopy_fix(d));
        return true;
    }
    return true;
}
