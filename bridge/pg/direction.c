/*
 * direction.c - the two directions, their names, and the switch record.
 */
#include "bridge/pg/direction.h"

#include <stdio.h>
#include <string.h>

#include "bridge/base/log.h"
#include "bridge/pg/fence.h"
#include "bridge/pg/pgconn.h"

void
direction_init(struct direction *d, const struct conf *conf, bool reverse)
{
    memset(d, 0, sizeof(*d));
    d->reverse = reverse;
    d->from_dsn = reverse ? conf->target : conf->source;
    d->to_dsn = reverse ? conf->source : conf->target;
    d->from_role = reverse ? "target" : "source";
    d->to_role = reverse ? "source" : "target";
    if (reverse)
    {
        snprintf(d->slot, sizeof(d->slot), "%s_reverse", conf->slot);
        snprintf(d->origin, sizeof(d->origin), "%s_reverse", conf->slot);
        snprintf(d->other_origin, sizeof(d->other_origin), "%s", conf->slot);
    }
    else
    {
        snprintf(d->slot, sizeof(d->slot), "%s", conf->slot);
        snprintf(d->origin, sizeof(d->origin), "%s", conf->slot);
        snprintf(d->other_origin, sizeof(d->other_origin), "%s_reverse", conf->slot);
    }
}

const char *
direction_name(const struct direction *d)
{
    return d->reverse ? "reverse" : "forward";
}

bool
direction_filter(const struct direction *d, PGconn *from, char *buf, size_t len)
{
    const char *params[1] = {d->other_origin};
    char what[200];
    PGresult *res;

    /* the catalog needs no privilege; making the origin does */
    snprintf(what, sizeof(what), "could not look up replication origin \"%s\" on the %s",
             d->other_origin, d->from_role);
    res = pgconn_exec(from, what,
                      "SELECT roident FROM pg_catalog.pg_replication_origin WHERE roname = $1", 1,
                      params, NULL);
    if (res == NULL)
        return false;
    if (PQntuples(res) == 0)
    {
        PQclear(res);
        res = PQexecParams(from, "SELECT pg_catalog.pg_replication_origin_create($1)", 1, NULL,
                           params, NULL, NULL, 0);
        if (PQresultStatus(res) != PGRES_TUPLES_OK)
        {
            /* never applied here, so there is nothing of it to leave out yet */
            log_debug("could not create replication origin \"%s\" on the %s: %s", d->other_origin,
                      d->from_role, PQerrorMessage(from));
            PQclear(res);
            buf[0] = '\0';
            return true;
        }
    }
    snprintf(buf, len, "%s", PQgetvalue(res, 0, 0));
    PQclear(res);
    return true;
}

bool
direction_read_switch(PGconn *target, const char *slot, bool *exists, bool *reverse, char *phase,
                      size_t phase_len)
{
    const char *params[1] = {slot};
    PGresult *res;

    bool table;

    *exists = false;
    if (!fence_objects_usable(target, "target", "switch", &table))
        return false;
    if (!table)
        return true;
    res = pgconn_exec(target, "could not read the switch record on the target",
                      "SELECT direction, phase FROM memori_bridge.switch WHERE slot = $1", 1,
                      params, NULL);
    if (res == NULL)
        return false;
    if (PQntuples(res) == 1)
    {
        *exists = true;
        *reverse = strcmp(PQgetvalue(res, 0, 0), "reverse") == 0;
        snprintf(phase, phase_len, "%s", PQgetvalue(res, 0, 1));
    }
    PQclear(res);
    return true;
}

bool
direction_write_switch(PGconn *target, const char *slot, bool reverse, const char *phase,
                       const char *token)
{
    const char *params[4] = {slot, reverse ? "reverse" : "forward", phase, token};
    PGresult *res = pgconn_exec(target, "could not write the switch record on the target",
                                "INSERT INTO memori_bridge.switch AS s (slot, direction, phase, token) "
                                "VALUES ($1, $2, $3, $4) ON CONFLICT (slot) DO UPDATE SET "
                                "direction = $2, phase = $3, token = $4, updated_at = now()",
                                4, params, NULL);

    PQclear(res);
    return res != NULL;
}
