/*
 * ring.h - batches between the reader thread and the applier thread.
 *
 * Two libck SPSC rings: "full" carries filled batches from the reader to the
 * applier, "free" carries them back for reuse. A fixed set of batches
 * circulates, so the reader can be at most that many batches ahead: memory is
 * bounded, and a slow target holds the reader back (and, through it, the
 * walsender), never the other way round.
 *
 * Neither side spins. Each ring has an eventfd that the producer signals after
 * every enqueue; a side with nothing to take polls that descriptor (together
 * with whatever else it waits for) and then calls ring_clear() before taking
 * again. Because the producer signals after enqueueing and the consumer clears
 * before re-checking, no wakeup is lost.
 */
#ifndef MB_RING_H
#define MB_RING_H

#include <ck_ring.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bridge/streaming/batch.h"

struct ring
{
    ck_ring_t full;               /* reader -> applier */
    ck_ring_t free;               /* applier -> reader */
    ck_ring_buffer_t *full_slots; /* owned */
    ck_ring_buffer_t *free_slots; /* owned */
    unsigned slots;               /* ck_ring size (a power of two > nbatches) */
    int full_fd;                  /* eventfd: a batch was put on "full" */
    int free_fd;                  /* eventfd: a batch was put on "free" */
    struct batch *batches;        /* owned: nbatches of them */
    uint32_t nbatches;            /* batches in circulation */
};

/* Set up R with NBATCHES batches of BATCH_BYTES each, all on the free ring.
 * Returns false (logged) when out of memory or out of descriptors. */
bool ring_init(struct ring *r, uint32_t nbatches, size_t batch_bytes);

void ring_destroy(struct ring *r);

/* Put every batch back on the free ring, emptied. Only while neither thread
 * uses R. */
void ring_reset(struct ring *r);

/* Reader: a free batch (emptied), or NULL when none is free now. */
struct batch *ring_take_free(struct ring *r);

/* Reader: hand B to the applier. */
void ring_push(struct ring *r, struct batch *b);

/* Applier: the next filled batch, or NULL when none is waiting. */
struct batch *ring_take_full(struct ring *r);

/* Applier: give B back for reuse, emptied (the message it held is freed). */
void ring_give_back(struct ring *r, struct batch *b);

/* Reset the eventfd FD after a poll said it was readable. */
void ring_clear(int fd);

/* Filled batches waiting for the applier. */
unsigned ring_fill(const struct ring *r);

#endif
