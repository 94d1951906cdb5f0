/*
 * tally.c - changes and transactions applied per table, for the metrics.
 */
#include "bridge/streaming/tally.h"

#include <stdio.h>
#include <string.h>

int
tally_table(struct run_state *st, const char *schema, const char *name)
{
    char full[sizeof(st->tables[0].name)];
    int n = atomic_load(&st->ntables), i;

    snprintf(full, sizeof(full), "%s.%s", schema, name);
    for (i = 0; i < n; i++)
        if (strcmp(st->tables[i].name, full) == 0)
            return i;
    if (n >= STATE_MAX_TABLES)
        return -1;
    memcpy(st->tables[n].name, full, sizeof(full));
    atomic_store(&st->ntables, n + 1); /* the name is there before the entry counts */
    return n;
}

void
tally_change(struct tally *t, int table, enum state_action action)
{
    if (table < 0 || table >= STATE_MAX_TABLES)
        return;
    t->n[table][action]++;
    t->xact_mask |= UINT64_C(1) << table;
    t->group_mask |= UINT64_C(1) << table;
}

void
tally_xact_end(struct tally *t)
{
    uint64_t m = t->xact_mask;

    while (m != 0)
    {
        t->xacts[__builtin_ctzll(m)]++;
        m &= m - 1;
    }
    t->xact_mask = 0;
}

void
tally_publish(struct tally *t, struct run_state *st)
{
    uint64_t m = t->group_mask;

    while (m != 0)
    {
        int i = __builtin_ctzll(m), a;

        for (a = 0; a < STATE_NACTIONS; a++)
            if (t->n[i][a] != 0)
                atomic_fetch_add(&st->tables[i].n[a], t->n[i][a]);
        if (t->xacts[i] != 0)
            atomic_fetch_add(&st->tables[i].xacts, t->xacts[i]);
        memset(t->n[i], 0, sizeof(t->n[i]));
        t->xacts[i] = 0;
        m &= m - 1;
    }
    t->group_mask = 0;
}

void
tally_discard(struct tally *t)
{
    memset(t, 0, sizeof(*t));
}
