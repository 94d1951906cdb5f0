/*
 * tally.h - changes and transactions applied per table, for the metrics.
 *
 * The applier counts each change it sends into a tally, and each source
 * transaction that changed a table when the transaction ends. The counts
 * reach run_state (and so the metrics) only when the target transaction
 * holding them commits; a rollback discards them, so that a group replayed
 * after a refusal or a lost connection is not counted twice.
 */
#ifndef MB_TALLY_H
#define MB_TALLY_H

#include <stdint.h>

#include "bridge/streaming/state.h"

struct tally
{
    uint64_t n[STATE_MAX_TABLES][STATE_NACTIONS]; /* changes not yet published */
    uint64_t xacts[STATE_MAX_TABLES];             /* transactions not yet published */
    uint64_t xact_mask;  /* entries changed by the source transaction being read */
    uint64_t group_mask; /* entries with counts not yet published */
};

/* The entry of ST's table list for SCHEMA.NAME, added when new; -1 when the
 * list is full (such a table is counted in the totals only). Called by the
 * applier alone. */
int tally_table(struct run_state *st, const char *schema, const char *name);

/* One change of ACTION to entry TABLE (ignored when TABLE < 0). */
void tally_change(struct tally *t, int table, enum state_action action);

/* The source transaction being read ended: one transaction for each table
 * it changed. */
void tally_xact_end(struct tally *t);

/* The target transaction committed: add the counts to ST and start over. */
void tally_publish(struct tally *t, struct run_state *st);

/* The target transaction rolled back: forget the counts. */
void tally_discard(struct tally *t);

#endif
